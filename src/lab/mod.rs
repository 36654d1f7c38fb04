//! The namespace lab: for each tenant host of a topology that names a `netns`, a network
//! namespace holding one end of a veth pair (named `eth0`, with the host's MAC, address and
//! default route via its logical router) whose other end is the appliance port's device.
//! Only objects named by the topology are created or removed; the root namespace gets no
//! address (the appliance-side veth even has IPv6 link-local generation turned off).
//! Substrate nodes that name a `netns` are built too (transit routers, Linux VTEPs and the
//! hosts behind them): see [`substrate`]. Hosts behind a trunk (ports sharing one device, a
//! VLAN each) get one namespace each behind a VLAN tagger: see [`trunk`].

pub mod substrate;
pub mod trunk;

use anyhow::{bail, Context, Result};
use rib::topology::{PortBinding, Topology};
use rib::MacAddr;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// Name of the host side of every lab veth, inside its namespace.
pub const HOST_IF: &str = "eth0";

/// One lab host: its namespace and the veth joining it to an appliance port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabHost {
    pub name: String,
    pub netns: String,
    /// Appliance-side device (the port's `device`), left in the root namespace.
    pub device: String,
    pub mac: MacAddr,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// The router interface on the host's subnet.
    pub gateway: Ipv4Addr,
}

/// What the lab builds for one topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabPlan {
    pub hosts: Vec<LabHost>,
    /// Queues per veth end (one per worker).
    pub queues: usize,
    /// The Linux side of the substrate (empty when no substrate node names a namespace).
    pub substrate: substrate::SubstratePlan,
    /// Trunk devices and the hosts behind them (one per VLAN).
    pub trunks: Vec<trunk::LabTrunk>,
}

impl LabPlan {
    /// The hosts of `topo` that name a namespace and sit on an access port; the first host of
    /// each port gets the port's veth (a port is one veth, so one namespace per port).
    pub fn from_topology(topo: &Topology, queues: usize) -> Result<LabPlan> {
        let mut hosts: Vec<LabHost> = Vec::new();
        let mut trunks: Vec<trunk::LabTrunk> = Vec::new();
        let mut trunk_ports: std::collections::HashSet<usize> = std::collections::HashSet::new();
        let substrate = substrate::SubstratePlan::from_file(&topo.file)?;
        for h in &topo.hosts {
            let Some(netns) = &h.netns else { continue };
            if substrate.hosts.iter().any(|r| &r.netns == netns) {
                continue;
            }
            let Some(port) = topo.ports.get(h.port.index()) else { continue };
            let PortBinding::Access { subnet, router, interface, .. } = &port.binding else {
                continue;
            };
            let on_trunk = topo.ports_on_device(&port.device).len() > 1;
            if (on_trunk && !trunk_ports.insert(port.id.index()))
                || (!on_trunk && hosts.iter().any(|x| x.device == port.device))
            {
                eprintln!(
                    "lab: host {} shares port {} with another host; only one namespace per port is built",
                    h.name, port.name
                );
                continue;
            }
            if hosts
                .iter()
                .chain(trunks.iter().flat_map(|t| t.hosts.iter().map(|(h, _)| h)))
                .any(|x| &x.netns == netns)
            {
                bail!("lab: namespace {netns} is named by two hosts");
            }
            let gateway = topo
                .routers
                .get(router.index())
                .and_then(|r| r.interfaces.get(*interface))
                .map(|i| i.address)
                .with_context(|| format!("lab: no gateway for port {}", port.name))?;
            check_name(netns, "netns")?;
            check_name(&port.device, "device")?;
            let host = LabHost {
                name: h.name.clone(),
                netns: netns.clone(),
                device: port.device.clone(),
                mac: h.mac,
                address: h.address,
                prefix_len: subnet.len(),
                gateway,
            };
            match (on_trunk, port.vlan()) {
                (false, _) => hosts.push(host),
                (true, Some(vid)) => {
                    let i = match trunks.iter().position(|t| t.device == port.device) {
                        Some(i) => i,
                        None => {
                            trunks.push(trunk::LabTrunk::new(&port.device)?);
                            trunks.len() - 1
                        }
                    };
                    trunks[i].hosts.push((host, vid));
                }
                (true, None) => bail!("lab: port {} shares device {} without a VLAN", port.name, port.device),
            }
        }
        Ok(LabPlan { hosts, queues: queues.max(1), substrate, trunks })
    }

    /// Builds every namespace and veth (removing same-named leftovers of an earlier run
    /// first). On error, whatever was built is removed again.
    pub fn up(&self) -> Result<Lab> {
        if !is_root() {
            bail!("the lab needs root (network namespaces, veth pairs): run with sudo");
        }
        let mut lab = Lab { plan: self.clone(), armed: true, taggers: Vec::new() };
        let t0 = std::time::Instant::now();
        self.down_quiet();
        if !self.trunks.is_empty() {
            eprintln!("lab: leftovers checked in {} ms", t0.elapsed().as_millis());
        }
        for h in &self.hosts {
            build_host(h, self.queues)
                .with_context(|| format!("lab: building host {} ({})", h.name, h.netns))?;
        }
        for t in &self.trunks {
            t.build(self.queues).with_context(|| format!("lab: building trunk {}", t.device))?;
            lab.taggers.push(t.start_tagger().with_context(|| format!("lab: trunk {}", t.device))?);
        }
        self.substrate.up(self.queues).context("lab: building the substrate")?;
        Ok(lab)
    }

    /// Removes every namespace and device of the plan that exists; idempotent.
    pub fn down(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for h in &self.hosts {
            if device_exists(&h.device) && run_ok(&["ip", "link", "del", "dev", &h.device]) {
                removed.push(h.device.clone());
            }
            if netns_exists(&h.netns) && run_ok(&["ip", "netns", "del", &h.netns]) {
                removed.push(format!("netns {}", h.netns));
            }
        }
        for t in &self.trunks {
            removed.extend(t.down());
        }
        removed.extend(self.substrate.down());
        removed
    }

    /// Host namespaces of the plan (access ports and trunks).
    pub fn host_count(&self) -> usize {
        self.hosts.len() + self.trunks.iter().map(|t| t.hosts.len()).sum::<usize>()
    }

    fn down_quiet(&self) {
        let removed = self.down();
        if !removed.is_empty() {
            eprintln!("lab: removed leftovers of an earlier run: {}", removed.join(", "));
        }
    }

    /// One line per host, for `vnswitch lab up`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for h in &self.hosts {
            s.push_str(&format!(
                "host {:<6} netns {:<12} {}/{} mac {} gw {}  <-> {}\n",
                h.name, h.netns, h.address, h.prefix_len, h.mac, h.gateway, h.device
            ));
        }
        for t in &self.trunks {
            let (first, last) = (t.hosts.first(), t.hosts.last());
            s.push_str(&format!(
                "trunk {} ({} hosts, VLANs {}..{}): namespaces {} .. {}, tagger in {}\n",
                t.device,
                t.hosts.len(),
                first.map_or(0, |(_, v)| *v),
                last.map_or(0, |(_, v)| *v),
                first.map_or("", |(h, _)| h.netns.as_str()),
                last.map_or("", |(h, _)| h.netns.as_str()),
                t.netns
            ));
        }
        s.push_str(&self.substrate.describe());
        s
    }
}

/// A built lab; dropping it removes the lab (unless [`Lab::keep`] was called).
#[derive(Debug)]
pub struct Lab {
    plan: LabPlan,
    armed: bool,
    /// The trunks' VLAN taggers (stopped before the lab is removed).
    taggers: Vec<trunk::Tagger>,
}

impl Lab {
    /// Leaves the lab in place when dropped (`vnswitch lab up`).
    pub fn keep(mut self) {
        self.armed = false;
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.taggers.clear();
        if self.armed {
            self.plan.down();
        }
    }
}

fn build_host(h: &LabHost, queues: usize) -> Result<()> {
    let q = queues.to_string();
    let mac = h.mac.to_string();
    let addr = format!("{}/{}", h.address, h.prefix_len);
    let gw = h.gateway.to_string();
    let ns = h.netns.as_str();
    run(&["ip", "netns", "add", ns])?;
    run(&[
        "ip",
        "link",
        "add",
        &h.device,
        "numtxqueues",
        &q,
        "numrxqueues",
        &q,
        "type",
        "veth",
        "peer",
        "name",
        HOST_IF,
        "numtxqueues",
        &q,
        "numrxqueues",
        &q,
        "netns",
        ns,
    ])?;
    // No IPv6 link-local on the appliance side: the root namespace gets no address at all.
    run(&["ip", "link", "set", "dev", &h.device, "addrgenmode", "none"])?;
    run(&["ip", "link", "set", "dev", &h.device, "up"])?;
    // The host: quiet (no IPv6 chatter), its own MAC and address, default route via its router.
    run(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])?;
    run(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])?;
    run(&["ip", "-n", ns, "link", "set", "dev", HOST_IF, "address", &mac])?;
    run(&["ip", "-n", ns, "link", "set", "dev", "lo", "up"])?;
    run(&["ip", "-n", ns, "link", "set", "dev", HOST_IF, "up"])?;
    run(&["ip", "-n", ns, "addr", "add", &addr, "dev", HOST_IF])?;
    run(&["ip", "-n", ns, "route", "add", "default", "via", &gw, "dev", HOST_IF])?;
    // Without this the kernel sends UDP/TCP with unfinished (offloaded) checksums, which
    // AF_XDP passes on verbatim and the receiver drops.
    run(&["ip", "netns", "exec", ns, "ethtool", "-K", HOST_IF, "tx", "off"])?;
    Ok(())
}

fn check_name(name: &str, what: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!(
            "lab: {what} name '{name}' is not a valid interface/namespace name (<= 15 chars, [A-Za-z0-9._-])"
        );
    }
    Ok(())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn device_exists(dev: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(dev).exists()
}

fn netns_exists(ns: &str) -> bool {
    std::path::Path::new("/run/netns").join(ns).exists()
}

fn run(args: &[&str]) -> Result<()> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {} (is it installed? try scripts/setup)", args[0]))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Runs `args` with `input` on its stdin (e.g. `ip -batch -`).
fn run_stdin(args: &[&str], input: &str) -> Result<()> {
    use std::io::Write;
    let mut child = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {}", args[0]))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).with_context(|| format!("writing to {}", args.join(" ")))?;
    }
    let out = child.wait_with_output().with_context(|| format!("waiting for {}", args.join(" ")))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

fn run_ok(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_of_default_topology_has_gateways_and_prefixes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/default.ron");
        let topo = rib::topology::load(&path).expect("default topology loads");
        let plan = LabPlan::from_topology(&topo, 2).expect("plan");
        assert_eq!(plan.queues, 2);
        let a = plan.hosts.iter().find(|h| h.netns == "vns-a").expect("host A");
        assert_eq!(a.device, "vns-a-sw");
        assert_eq!(a.address, Ipv4Addr::new(10, 0, 0, 10));
        assert_eq!(a.prefix_len, 24);
        assert_eq!(a.gateway, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a.mac.to_string(), "00:05:02:0b:27:44");
        let h = plan.hosts.iter().find(|h| h.netns == "vns-h").expect("host H");
        assert_eq!(h.gateway, Ipv4Addr::new(10, 1, 5, 1));
        let b = plan.hosts.iter().find(|h| h.netns == "vns-b").expect("host B");
        assert_eq!((b.device.as_str(), b.gateway), ("vns-b-sw", Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(plan.hosts.len(), 3);
    }

    #[test]
    fn bad_names_are_refused() {
        assert!(check_name("vns-a", "netns").is_ok());
        assert!(check_name("a/b", "netns").is_err());
        assert!(check_name("0123456789abcdef", "device").is_err());
        assert!(check_name("", "device").is_err());
    }
}
