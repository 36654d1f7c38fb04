//! The substrate lab: the Linux side of a topology's substrate, built in network namespaces so
//! an overlay can be tried against real peers. Substrate nodes that name a `netns` become
//! ordinary Linux routers (transit) or Linux VTEPs (a `vxlan` device per VNI, `nolearning`,
//! static FDB, bridged to the remote hosts' namespaces); the appliance's uplinks are veth pairs
//! into them. Each address of a node is routed over its plane only (the patent's IP aliasing):
//! a fast address over fast links, a slow address over slow links. Link latency becomes a
//! `tc netem` delay at every namespace end of the link.

use super::{check_name, device_exists, netns_exists, run, run_ok, HOST_IF};
use anyhow::{bail, Context, Result};
use rib::topology::schema::{PortRole, TopologyFile};
use rib::{MacAddr, Plane};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

/// Delays `ifname`'s egress in `ns` by `delay_us` with `tc netem`, or warns (once) that this
/// kernel cannot: some kernels are built without `sch_netem`, and then the lab has no delay.
fn add_delay(ns: &str, ifname: &str, delay_us: u32) -> Result<()> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "tc", "qdisc", "add", "dev", ifname, "root", "netem", "delay"])
        .arg(format!("{delay_us}us"))
        .args(["limit", "10000"])
        .output()
        .context("cannot run tc (iproute2)")?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("unknown") {
        use std::sync::atomic::{AtomicBool, Ordering};
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            eprintln!(
                "lab: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): substrate link latency is not emulated"
            );
        }
        return Ok(());
    }
    bail!("tc netem on {ns}:{ifname} failed: {}", err.trim())
}

/// One end of a lab link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkEnd {
    /// None: the root namespace (an appliance uplink device, configured by the appliance).
    pub netns: Option<String>,
    pub ifname: String,
    /// Address and prefix length (None on the appliance side).
    pub addr: Option<(Ipv4Addr, u8)>,
}

/// A veth pair realising one substrate link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabLink {
    pub name: String,
    pub plane: Plane,
    pub a: LinkEnd,
    pub b: LinkEnd,
    /// One-way delay added at each namespace end's egress (`tc netem`).
    pub delay_us: u32,
}

/// A Linux substrate node: a router, and a VTEP when it holds hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabNode {
    pub name: String,
    pub netns: String,
    /// Node addresses not on any link (loopback /32s: the per-plane VTEP addresses).
    pub loopback: Vec<Ipv4Addr>,
    /// Static routes: destination prefix, next hop.
    pub routes: Vec<((Ipv4Addr, u8), Ipv4Addr)>,
}

/// A `vxlan` device (and its bridge) in a VTEP node, for one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabVtep {
    pub netns: String,
    pub vni: u32,
    /// Outer source: the node's address on the tenant's plane.
    pub local: Ipv4Addr,
    /// Default FDB destination: the appliance's VTEP address on the tenant's plane.
    pub remote: Ipv4Addr,
}

impl LabVtep {
    pub fn vxlan_dev(&self) -> String {
        format!("vx{}", self.vni)
    }
    pub fn bridge_dev(&self) -> String {
        format!("br{}", self.vni)
    }
}

/// A tenant host behind a Linux VTEP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabRemoteHost {
    pub name: String,
    pub netns: String,
    /// The VTEP node's namespace and the host's port name in it.
    pub node_netns: String,
    pub port_ifname: String,
    pub vni: u32,
    pub mac: MacAddr,
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    pub gateway_mac: MacAddr,
    /// Inner MTU (substrate MTU - 50).
    pub mtu: u16,
}

/// Everything the substrate lab builds for one topology.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubstratePlan {
    pub nodes: Vec<LabNode>,
    pub links: Vec<LabLink>,
    pub vteps: Vec<LabVtep>,
    pub hosts: Vec<LabRemoteHost>,
}

/// Per-plane addresses of a substrate node.
fn node_addrs(n: &rib::topology::schema::SubstrateNodeConfig) -> (Ipv4Addr, Ipv4Addr) {
    (n.fast_address.unwrap_or(n.address), n.slow_address.unwrap_or(n.address))
}

/// Transit link subnets: 10.253.K.0/30 for the K-th link between two lab namespaces.
fn transit_subnet(k: usize) -> Result<(Ipv4Addr, Ipv4Addr)> {
    let k = u8::try_from(k).context("lab: more than 256 transit links")?;
    Ok((Ipv4Addr::new(10, 253, k, 1), Ipv4Addr::new(10, 253, k, 2)))
}

impl SubstratePlan {
    /// The substrate lab of a topology file: empty when no substrate node names a `netns`.
    pub fn from_file(file: &TopologyFile) -> Result<SubstratePlan> {
        let sub = &file.substrate;
        let local = sub.local_node.clone().unwrap_or_default();
        let lab_nodes: BTreeMap<&str, &str> =
            sub.nodes.iter().filter_map(|n| n.netns.as_deref().map(|ns| (n.name.as_str(), ns))).collect();
        if lab_nodes.is_empty() {
            return Ok(SubstratePlan::default());
        }
        for ns in lab_nodes.values() {
            check_name(ns, "netns")?;
        }
        let node_of = |name: &str| sub.nodes.iter().find(|n| n.name == name);
        let mut plan = SubstratePlan::default();
        // Interface addresses per namespace (to know which node addresses need a loopback).
        let mut if_addrs: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        // Graph edges for routing: (node a, node b, plane, latency, address of a, address of b).
        struct Edge {
            a: String,
            b: String,
            plane: Plane,
            latency: u32,
            a_addr: Option<Ipv4Addr>,
            b_addr: Option<Ipv4Addr>,
        }
        let mut edges: Vec<Edge> = Vec::new();
        // Subnets of the appliance's uplinks: routed toward the local node per plane.
        let mut local_prefixes: Vec<((Ipv4Addr, u8), Plane)> = Vec::new();
        let mut transit = 0usize;
        for l in &sub.links {
            let plane = if l.fast { Plane::Fast } else { Plane::Slow };
            let (a_ns, b_ns) = (lab_nodes.get(l.a.as_str()), lab_nodes.get(l.b.as_str()));
            let ifname = |peer: &str| {
                let mut s = format!("to-{peer}");
                s.truncate(15);
                s
            };
            if l.a == local || l.b == local {
                // An appliance uplink: the port whose `link` is this one.
                let other = if l.a == local { &l.b } else { &l.a };
                let Some(other_ns) = lab_nodes.get(other.as_str()) else { continue };
                let Some((device, address, prefix_len, gateway)) =
                    file.ports.iter().find_map(|p| match &p.role {
                        PortRole::Uplink { address, prefix_len, gateway, link: Some(link), .. }
                            if *link == l.name =>
                        {
                            Some((p.device.clone(), *address, *prefix_len, *gateway))
                        }
                        _ => None,
                    })
                else {
                    continue;
                };
                let Some(gw) = gateway else {
                    bail!(
                        "lab: uplink on link {} has no gateway: the lab's router {other} needs an address",
                        l.name
                    );
                };
                check_name(&device, "device")?;
                plan.links.push(LabLink {
                    name: l.name.clone(),
                    plane,
                    a: LinkEnd { netns: None, ifname: device, addr: None },
                    b: LinkEnd {
                        netns: Some(other_ns.to_string()),
                        ifname: ifname(&local),
                        addr: Some((gw, prefix_len)),
                    },
                    delay_us: l.latency_us,
                });
                if_addrs.entry(other_ns.to_string()).or_default().insert(gw);
                local_prefixes.push(((rib::Ipv4Prefix::new(address, prefix_len).addr(), prefix_len), plane));
                edges.push(Edge {
                    a: local.clone(),
                    b: other.clone(),
                    plane,
                    latency: l.latency_us,
                    a_addr: Some(address),
                    b_addr: Some(gw),
                });
                continue;
            }
            let (Some(a_ns), Some(b_ns)) = (a_ns, b_ns) else { continue };
            let (ia, ib) = transit_subnet(transit)?;
            transit += 1;
            plan.links.push(LabLink {
                name: l.name.clone(),
                plane,
                a: LinkEnd { netns: Some(a_ns.to_string()), ifname: ifname(&l.b), addr: Some((ia, 30)) },
                b: LinkEnd { netns: Some(b_ns.to_string()), ifname: ifname(&l.a), addr: Some((ib, 30)) },
                delay_us: l.latency_us,
            });
            if_addrs.entry(a_ns.to_string()).or_default().insert(ia);
            if_addrs.entry(b_ns.to_string()).or_default().insert(ib);
            edges.push(Edge {
                a: l.a.clone(),
                b: l.b.clone(),
                plane,
                latency: l.latency_us,
                a_addr: Some(ia),
                b_addr: Some(ib),
            });
        }
        // Destinations: each lab node's per-plane addresses, and the appliance's uplink subnets.
        let mut dests: Vec<((Ipv4Addr, u8), Plane, String)> = Vec::new();
        for n in &sub.nodes {
            if !lab_nodes.contains_key(n.name.as_str()) {
                continue;
            }
            let (fast, slow) = node_addrs(n);
            dests.push(((fast, 32), Plane::Fast, n.name.clone()));
            dests.push(((slow, 32), Plane::Slow, n.name.clone()));
        }
        for (p, plane) in &local_prefixes {
            dests.push((*p, *plane, local.clone()));
        }
        // Shortest path by latency within the destination's plane; the appliance is no transit.
        let next_hop = |from: &str, to: &str, plane: Plane| -> Option<Ipv4Addr> {
            let mut dist: BTreeMap<String, (u64, Option<Ipv4Addr>)> = BTreeMap::new();
            dist.insert(from.to_string(), (0, None));
            let mut done: BTreeSet<String> = BTreeSet::new();
            loop {
                let cur = dist
                    .iter()
                    .filter(|(k, _)| !done.contains(*k))
                    .min_by_key(|(_, v)| v.0)
                    .map(|(k, v)| (k.clone(), *v))?;
                let (node, (d, first)) = cur;
                if node == to {
                    return first;
                }
                done.insert(node.clone());
                if node == local && node != from {
                    continue;
                }
                for e in edges.iter().filter(|e| e.plane == plane) {
                    let (peer, peer_addr) = if e.a == node {
                        (&e.b, e.b_addr)
                    } else if e.b == node {
                        (&e.a, e.a_addr)
                    } else {
                        continue;
                    };
                    let nd = d + u64::from(e.latency);
                    let hop = first.or(peer_addr);
                    let better = dist.get(peer).map(|x| nd < x.0).unwrap_or(true);
                    if better && !done.contains(peer) {
                        dist.insert(peer.clone(), (nd, hop));
                    }
                }
            }
        };
        for n in &sub.nodes {
            let Some(ns) = lab_nodes.get(n.name.as_str()) else { continue };
            let addrs = if_addrs.get(*ns).cloned().unwrap_or_default();
            let (fast, slow) = node_addrs(n);
            let mut loopback: Vec<Ipv4Addr> =
                [n.address, fast, slow].into_iter().filter(|a| !addrs.contains(a)).collect();
            loopback.sort_unstable();
            loopback.dedup();
            let mut routes = Vec::new();
            for (prefix, plane, owner) in &dests {
                if *owner == n.name {
                    continue;
                }
                // A subnet this node is attached to needs no route.
                let on_link = addrs.iter().any(|a| {
                    let m = rib::Ipv4Prefix::new(prefix.0, prefix.1);
                    prefix.1 < 32 && m.contains(*a)
                });
                if on_link {
                    continue;
                }
                if let Some(hop) = next_hop(&n.name, owner, *plane) {
                    routes.push((*prefix, hop));
                }
            }
            plan.nodes.push(LabNode { name: n.name.clone(), netns: ns.to_string(), loopback, routes });
        }
        // VTEPs and remote hosts.
        let local_node = node_of(&local);
        for t in &file.tenants {
            let fast_ok = file
                .service_levels
                .iter()
                .find(|s| s.level == t.service_level)
                .map(|s| s.fast_path)
                .unwrap_or(false);
            let plane = if fast_ok { Plane::Fast } else { Plane::Slow };
            for h in &t.hosts {
                let Some(node_name) = h.node.as_deref() else { continue };
                let (Some(node), Some(node_ns)) = (node_of(node_name), lab_nodes.get(node_name)) else {
                    continue;
                };
                let Some(host_ns) = &h.netns else { continue };
                check_name(host_ns, "netns")?;
                let (nf, nsl) = node_addrs(node);
                let Some(ln) = local_node else { bail!("lab: remote host {} but no local_node", h.name) };
                let (lf, lsl) = node_addrs(ln);
                let (vtep_local, vtep_remote) = match plane {
                    Plane::Fast => (nf, lf),
                    Plane::Slow => (nsl, lsl),
                };
                if !plan.vteps.iter().any(|v| v.netns == *node_ns && v.vni == t.vni) {
                    plan.vteps.push(LabVtep {
                        netns: node_ns.to_string(),
                        vni: t.vni,
                        local: vtep_local,
                        remote: vtep_remote,
                    });
                }
                // The host's gateway: the tenant router interface on a subnet holding the host.
                let Some(gw) =
                    t.routers.iter().flat_map(|r| &r.interfaces).find(|i| i.subnet.contains(h.address))
                else {
                    bail!("lab: no router interface of tenant {} on the subnet of host {}", t.name, h.name);
                };
                let mtu = file
                    .ports
                    .iter()
                    .filter_map(|p| match &p.role {
                        PortRole::Uplink { mtu, .. } => Some(*mtu),
                        _ => None,
                    })
                    .min()
                    .unwrap_or(1500)
                    .saturating_sub(rib::fib::VXLAN_OVERHEAD);
                let mut port_ifname = format!("h-{}", h.name);
                port_ifname.truncate(15);
                plan.hosts.push(LabRemoteHost {
                    name: h.name.clone(),
                    netns: host_ns.clone(),
                    node_netns: node_ns.to_string(),
                    port_ifname,
                    vni: t.vni,
                    mac: h.mac,
                    address: h.address,
                    prefix_len: gw.subnet.len(),
                    gateway: gw.address,
                    gateway_mac: gw.mac,
                    mtu,
                });
            }
        }
        Ok(plan)
    }

    /// Every namespace of the plan (nodes first, then remote hosts).
    pub fn namespaces(&self) -> Vec<String> {
        let mut v: Vec<String> = self.nodes.iter().map(|n| n.netns.clone()).collect();
        v.extend(self.hosts.iter().map(|h| h.netns.clone()));
        v
    }

    /// Root-namespace devices of the plan (appliance uplinks).
    pub fn root_devices(&self) -> Vec<String> {
        self.links.iter().filter(|l| l.a.netns.is_none()).map(|l| l.a.ifname.clone()).collect()
    }

    /// Builds everything. The caller removes leftovers first and everything on error.
    pub fn up(&self, queues: usize) -> Result<()> {
        let q = queues.max(1).to_string();
        for ns in self.namespaces() {
            run(&["ip", "netns", "add", &ns])?;
            for (k, v) in [
                ("net.ipv6.conf.all.disable_ipv6", "1"),
                ("net.ipv6.conf.default.disable_ipv6", "1"),
                ("net.ipv4.conf.all.rp_filter", "0"),
                ("net.ipv4.conf.default.rp_filter", "0"),
                ("net.ipv4.ip_forward", "1"),
            ] {
                run(&["ip", "netns", "exec", &ns, "sysctl", "-qw", &format!("{k}={v}")])?;
            }
            run(&["ip", "-n", &ns, "link", "set", "dev", "lo", "up"])?;
        }
        for n in &self.nodes {
            for a in &n.loopback {
                run(&["ip", "-n", &n.netns, "addr", "add", &format!("{a}/32"), "dev", "lo"])?;
            }
        }
        for l in &self.links {
            self.build_link(l, &q).with_context(|| format!("lab: substrate link {}", l.name))?;
        }
        for n in &self.nodes {
            for ((addr, len), via) in &n.routes {
                run(&[
                    "ip",
                    "-n",
                    &n.netns,
                    "route",
                    "add",
                    &format!("{addr}/{len}"),
                    "via",
                    &via.to_string(),
                ])?;
            }
        }
        for v in &self.vteps {
            let (vx, br) = (v.vxlan_dev(), v.bridge_dev());
            let ns = v.netns.as_str();
            run(&[
                "ip",
                "-n",
                ns,
                "link",
                "add",
                &vx,
                "type",
                "vxlan",
                "id",
                &v.vni.to_string(),
                "dstport",
                "4789",
                "local",
                &v.local.to_string(),
                "nolearning",
            ])?;
            run(&["ip", "-n", ns, "link", "add", &br, "type", "bridge"])?;
            run(&["ip", "-n", ns, "link", "set", "dev", &vx, "master", &br])?;
            run(&["ip", "-n", ns, "link", "set", "dev", &vx, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "dev", &br, "up"])?;
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "bridge",
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                &vx,
                "dst",
                &v.remote.to_string(),
            ])?;
        }
        for h in &self.hosts {
            let ns = h.netns.as_str();
            let v = self
                .vteps
                .iter()
                .find(|v| v.netns == h.node_netns && v.vni == h.vni)
                .context("lab: host without VTEP")?;
            run(&[
                "ip",
                "-n",
                &h.node_netns,
                "link",
                "add",
                &h.port_ifname,
                "type",
                "veth",
                "peer",
                "name",
                HOST_IF,
                "netns",
                ns,
            ])?;
            run(&[
                "ip",
                "-n",
                &h.node_netns,
                "link",
                "set",
                "dev",
                &h.port_ifname,
                "master",
                &v.bridge_dev(),
            ])?;
            run(&["ip", "-n", &h.node_netns, "link", "set", "dev", &h.port_ifname, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "dev", HOST_IF, "address", &h.mac.to_string()])?;
            run(&["ip", "-n", ns, "link", "set", "dev", HOST_IF, "mtu", &h.mtu.to_string()])?;
            run(&["ip", "-n", ns, "link", "set", "dev", HOST_IF, "up"])?;
            run(&[
                "ip",
                "-n",
                ns,
                "addr",
                "add",
                &format!("{}/{}", h.address, h.prefix_len),
                "dev",
                HOST_IF,
            ])?;
            run(&["ip", "-n", ns, "route", "add", "default", "via", &h.gateway.to_string(), "dev", HOST_IF])?;
            // The gateway's MAC is static: the logical router answers ARP only on access ports.
            run(&[
                "ip",
                "-n",
                ns,
                "neigh",
                "replace",
                &h.gateway.to_string(),
                "lladdr",
                &h.gateway_mac.to_string(),
                "dev",
                HOST_IF,
                "nud",
                "permanent",
            ])?;
            run(&["ip", "netns", "exec", ns, "ethtool", "-K", HOST_IF, "tx", "off"])?;
        }
        Ok(())
    }

    fn build_link(&self, l: &LabLink, queues: &str) -> Result<()> {
        let (a, b) = (&l.a, &l.b);
        let mut args: Vec<&str> = vec!["ip", "link", "add", &a.ifname];
        let ans;
        if let Some(ns) = &a.netns {
            ans = ns.clone();
            args.extend(["netns", ans.as_str()]);
        }
        args.extend([
            "numtxqueues",
            queues,
            "numrxqueues",
            queues,
            "type",
            "veth",
            "peer",
            "name",
            &b.ifname,
        ]);
        let bns;
        if let Some(ns) = &b.netns {
            bns = ns.clone();
            args.extend(["netns", bns.as_str()]);
        }
        args.extend(["numtxqueues", queues, "numrxqueues", queues]);
        run(&args)?;
        for end in [a, b] {
            match &end.netns {
                None => {
                    run(&["ip", "link", "set", "dev", &end.ifname, "addrgenmode", "none"])?;
                    run(&["ip", "link", "set", "dev", &end.ifname, "up"])?;
                }
                Some(ns) => {
                    if let Some((addr, len)) = end.addr {
                        run(&["ip", "-n", ns, "addr", "add", &format!("{addr}/{len}"), "dev", &end.ifname])?;
                    }
                    run(&["ip", "-n", ns, "link", "set", "dev", &end.ifname, "up"])?;
                    // UDP (VXLAN) from a namespace must carry finished checksums for AF_XDP.
                    run(&["ip", "netns", "exec", ns, "ethtool", "-K", &end.ifname, "tx", "off"])?;
                    if l.delay_us > 0 {
                        add_delay(ns, &end.ifname, l.delay_us)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes every namespace and root-namespace device of the plan that exists.
    pub fn down(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for dev in self.root_devices() {
            if device_exists(&dev) && run_ok(&["ip", "link", "del", "dev", &dev]) {
                removed.push(dev);
            }
        }
        for ns in self.namespaces() {
            if netns_exists(&ns) && run_ok(&["ip", "netns", "del", &ns]) {
                removed.push(format!("netns {ns}"));
            }
        }
        removed
    }

    /// One line per object, for `vnswitch lab up`.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            let lo: Vec<String> = n.loopback.iter().map(|a| a.to_string()).collect();
            s.push_str(&format!(
                "substrate node {:<8} netns {:<12} vtep/lo {}\n",
                n.name,
                n.netns,
                lo.join(" ")
            ));
        }
        for l in &self.links {
            s.push_str(&format!(
                "substrate link {:<12} {} {}:{} <-> {}:{}  delay {} us\n",
                l.name,
                l.plane.name(),
                l.a.netns.as_deref().unwrap_or("appliance"),
                l.a.ifname,
                l.b.netns.as_deref().unwrap_or("appliance"),
                l.b.ifname,
                l.delay_us
            ));
        }
        for v in &self.vteps {
            s.push_str(&format!(
                "vtep {} in {}: vni {} local {} -> {}\n",
                v.vxlan_dev(),
                v.netns,
                v.vni,
                v.local,
                v.remote
            ));
        }
        for h in &self.hosts {
            s.push_str(&format!(
                "remote host {:<6} netns {:<12} {}/{} mac {} gw {} behind {} (vni {})\n",
                h.name, h.netns, h.address, h.prefix_len, h.mac, h.gateway, h.node_netns, h.vni
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlay() -> TopologyFile {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies/overlay.ron");
        let text = std::fs::read_to_string(path).expect("read overlay.ron");
        ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
            .from_str(&text)
            .expect("overlay.ron parses")
    }

    #[test]
    fn overlay_plan_routes_each_plane_address_over_its_plane() {
        let plan = SubstratePlan::from_file(&overlay()).expect("plan");
        let ns: Vec<&str> = plan.nodes.iter().map(|n| n.netns.as_str()).collect();
        assert_eq!(ns, ["vns-fast", "vns-slow", "vns-remote"]);
        let remote = &plan.nodes[2];
        assert_eq!(remote.loopback, [Ipv4Addr::new(10, 254, 0, 2), Ipv4Addr::new(10, 254, 1, 2)]);
        // The remote VTEP reaches sw1's fast uplink subnet over the fast router, the slow one over
        // the slow router (transit links are numbered in file order: fast-remote 0, slow-remote 1).
        let via = |n: &LabNode, dst: [u8; 4], len: u8| {
            n.routes.iter().find(|(p, _)| *p == (Ipv4Addr::from(dst), len)).map(|(_, v)| *v)
        };
        assert_eq!(via(remote, [10, 255, 1, 0], 24), Some(Ipv4Addr::new(10, 253, 0, 1)));
        assert_eq!(via(remote, [10, 255, 2, 0], 24), Some(Ipv4Addr::new(10, 253, 1, 1)));
        let fast = &plan.nodes[0];
        assert_eq!(via(fast, [10, 254, 0, 2], 32), Some(Ipv4Addr::new(10, 253, 0, 2)));
        // The fast router never carries the remote's slow address (no slow link reaches it).
        assert_eq!(via(fast, [10, 254, 1, 2], 32), None);
        let slow = &plan.nodes[1];
        assert_eq!(via(slow, [10, 254, 1, 2], 32), Some(Ipv4Addr::new(10, 253, 1, 2)));
        // Uplinks: appliance device in the root namespace, the router's gateway address on the
        // far end; latency becomes netem delay.
        let up = plan.links.iter().find(|l| l.name == "sw1-fast").expect("sw1-fast");
        assert_eq!((up.a.netns.as_deref(), up.a.ifname.as_str()), (None, "vns-upf"));
        assert_eq!(up.b.addr, Some((Ipv4Addr::new(10, 255, 1, 254), 24)));
        assert_eq!((up.delay_us, up.plane), (1000, Plane::Fast));
        assert_eq!(plan.root_devices(), ["vns-upf", "vns-ups"]);
    }

    #[test]
    fn overlay_plan_has_a_vtep_per_vni_on_the_tenant_plane() {
        let plan = SubstratePlan::from_file(&overlay()).expect("plan");
        let v: Vec<(u32, Ipv4Addr, Ipv4Addr)> =
            plan.vteps.iter().map(|v| (v.vni, v.local, v.remote)).collect();
        assert_eq!(
            v,
            [
                (6001, Ipv4Addr::new(10, 254, 0, 2), Ipv4Addr::new(10, 255, 1, 1)),
                (6002, Ipv4Addr::new(10, 254, 1, 2), Ipv4Addr::new(10, 255, 2, 1)),
            ]
        );
        let rp = plan.hosts.iter().find(|h| h.netns == "vns-ov-rp").expect("RP");
        assert_eq!(
            (rp.vni, rp.gateway, rp.prefix_len, rp.mtu),
            (6001, Ipv4Addr::new(10, 10, 2, 1), 24, 1450)
        );
        assert_eq!(rp.gateway_mac.to_string(), "00:01:42:10:02:01");
        assert_eq!(rp.node_netns, "vns-remote");
        assert_eq!(plan.namespaces(), ["vns-fast", "vns-slow", "vns-remote", "vns-ov-rp", "vns-ov-rs"]);
    }

    /// Builds the overlay's Linux substrate for real (no appliance): the routers route each
    /// plane's addresses, the VTEPs exist, and everything is removed by name afterwards.
    #[test]
    #[ignore = "needs root: network namespaces (sudo scripts/test runs it)"]
    fn overlay_substrate_builds_routes_and_is_removed() {
        assert!(super::super::is_root(), "needs root (network namespaces): run sudo scripts/test");
        let plan = SubstratePlan::from_file(&overlay()).expect("plan");
        plan.down();
        struct Down<'a>(&'a SubstratePlan);
        impl Drop for Down<'_> {
            fn drop(&mut self) {
                self.0.down();
            }
        }
        let _guard = Down(&plan);
        plan.up(1).expect("substrate up");
        let out = |ns: &str, args: &[&str]| {
            let o = std::process::Command::new("ip")
                .args(["netns", "exec", ns])
                .args(args)
                .output()
                .expect("run in netns");
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
        };
        // Each of sw1's plane addresses is reached over its own plane from the remote VTEP.
        assert!(out("vns-remote", &["ip", "route", "get", "10.255.1.1"]).contains("via 10.253.0.1"));
        assert!(out("vns-remote", &["ip", "route", "get", "10.255.2.1"]).contains("via 10.253.1.1"));
        // The transit routers answer across their links (netem adds the configured delay).
        assert!(out("vns-remote", &["ping", "-c", "1", "-W", "2", "10.255.1.254"]).contains("1 received"));
        assert!(out("vns-remote", &["ping", "-c", "1", "-W", "2", "-I", "10.254.1.2", "10.255.2.254"])
            .contains("1 received"));
        let vx = out("vns-remote", &["ip", "-d", "link", "show", "vx6001"]);
        assert!(
            vx.contains("vxlan id 6001") && vx.contains("dstport 4789") && vx.contains("nolearning"),
            "{vx}"
        );
        let fdb = out("vns-remote", &["bridge", "fdb", "show", "dev", "vx6002"]);
        assert!(fdb.contains("00:00:00:00:00:00 dst 10.255.2.1"), "{fdb}");
        assert!(out("vns-ov-rp", &["ip", "neigh", "show"])
            .contains("10.10.2.1 dev eth0 lladdr 00:01:42:10:02:01"));
        drop(_guard);
        for ns in plan.namespaces() {
            assert!(!std::path::Path::new("/run/netns").join(&ns).exists(), "{ns} left behind");
        }
        for dev in plan.root_devices() {
            assert!(!std::path::Path::new("/sys/class/net").join(&dev).exists(), "{dev} left behind");
        }
    }
}
