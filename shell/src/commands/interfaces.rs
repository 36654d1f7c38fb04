//! Ports as interfaces: `show interfaces [NAME|counters|terse]`, `show ip interface brief`,
//! and `interface NAME` with `shutdown`/`no shutdown` (sent to the RIB, which republishes the
//! FIB with the port's new state). Tenant users see only their tenants' access ports.
//! A trunk (ports sharing one device, a VLAN each) is shown to administrators once, as its
//! device with its VLANs, ahead of its logical ports; a tenant user sees only its own
//! logical port of it (`Encapsulation 802.1Q`), never the device.

use super::{port_gateway, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::providers::PortCounters;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::topology::{Port, PortBinding};

const EXEC: &[Mode] = &[Mode::Exec];
const INTERFACES: (&str, &str) = ("interfaces", "Interface status and configuration");

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef { modes: EXEC, path: &[SHOW, INTERFACES], privilege: 1, handler: show_interfaces },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, INTERFACES, ("iface:IFACE", "Interface name")],
            privilege: 1,
            handler: show_interfaces,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, INTERFACES, ("counters", "Show interface counters")],
            privilege: 1,
            handler: show_counters,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, INTERFACES, ("terse", "Brief interface list (Junos style)")],
            privilege: 1,
            handler: show_terse,
        },
        CommandDef {
            modes: EXEC,
            path: &[
                SHOW,
                ("ip", "IP information"),
                ("interface", "IP interface status and configuration"),
                ("brief", "Brief summary of IP status and configuration"),
            ],
            privilege: 1,
            handler: show_ip_interface_brief,
        },
        CommandDef {
            modes: &[Mode::Config, Mode::ConfigIf, Mode::ConfigVrf],
            path: &[("interface", "Select an interface to configure"), ("iface:IFACE", "Interface name")],
            privilege: 15,
            handler: interface,
        },
        CommandDef {
            modes: &[Mode::ConfigIf],
            path: &[("shutdown", "Shutdown the selected interface")],
            privilege: 15,
            handler: shutdown,
        },
        CommandDef {
            modes: &[Mode::ConfigIf],
            path: &[
                ("no", "Negate a command or set its defaults"),
                ("shutdown", "Shutdown the selected interface"),
            ],
            privilege: 15,
            handler: shutdown,
        },
    ]
}

fn visible_ports(ex: &Exec<'_>) -> Vec<Port> {
    ex.topo.ports.iter().filter(|p| ex.s.can_see_port(&ex.topo, &p.name)).cloned().collect()
}

/// Every port's counters, read once per command (a trunk has a thousand ports: reading the
/// statistics once per port would be quadratic).
struct AllCounters(std::collections::HashMap<String, PortCounters>);

impl AllCounters {
    fn read(ex: &Exec<'_>) -> AllCounters {
        let all = ex.ctx.stats.as_ref().map(|s| s.ports()).unwrap_or_default();
        AllCounters(all.into_iter().map(|c| (c.name.clone(), c)).collect())
    }

    fn of(&self, name: &str) -> PortCounters {
        self.0
            .get(name)
            .cloned()
            .unwrap_or_else(|| PortCounters { name: name.to_string(), ..PortCounters::default() })
    }
}

/// VLAN ids as IOS lists them: `1-3,7,9-12`.
pub(crate) fn vlan_ranges(vlans: &[u16]) -> String {
    let mut v = vlans.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if i == j { v[i].to_string() } else { format!("{}-{}", v[i], v[j]) });
        i = j + 1;
    }
    out.join(",")
}

/// The trunk block of `show interfaces` (administrators): the device once, with its VLANs.
fn trunk_header(ex: &mut Exec<'_>, device: &str, all: &AllCounters) {
    let members: Vec<Port> = ex.topo.ports.iter().filter(|p| p.device == device).cloned().collect();
    let vlans: Vec<u16> = members.iter().filter_map(|p| p.vlan()).collect();
    let down = members.iter().find_map(|p| all.of(&p.name).link_down);
    let state = if down.is_none() { "up, line protocol is up" } else { "down, line protocol is down" };
    ex.line(format!("{device} is {state} (trunk)"));
    if let Some(why) = down {
        ex.line(format!("  Link down: device {device} {why}"));
    }
    ex.line(format!("  Hardware is vnswitch AF_XDP trunk ({device}), {} logical ports", members.len()));
    ex.line(format!("  Encapsulation 802.1Q Virtual LAN, Vlans {}", vlan_ranges(&vlans)));
    let (rx, tx) = members
        .iter()
        .map(|p| all.of(&p.name))
        .fold((0, 0), |(r, t), c| (r + c.rx_packets, t + c.tx_packets));
    ex.line(format!("     {rx} packets input, {tx} packets output (all Vlans)"));
}

/// Whether the FIB has the port up (falls back to the configured state).
fn port_up(ex: &Exec<'_>, port: &Port) -> bool {
    let snap = ex.ctx.rib.snapshot();
    snap.port(port.id).map_or(port.enabled, |p| p.up)
}

fn show_interfaces(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let ports = match args.get("iface") {
        Some(name) => {
            ex.check_port(name, &format!("show interfaces {name}"))?;
            visible_ports(ex).into_iter().filter(|p| p.name == name).collect()
        }
        None => visible_ports(ex),
    };
    if ex.json {
        let all = AllCounters::read(ex);
        let view: Vec<InterfaceJson> = ports.iter().map(|p| interface_json(ex, p, &all)).collect();
        return ex.render(&view, |_, _| {});
    }
    let cleared = ex.ctx.counters_cleared();
    let all = AllCounters::read(ex);
    // Ports per device (a trunk has more than one), counted once.
    let mut on_device: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for p in &ex.topo.ports {
        *on_device.entry(p.device.as_str()).or_default() += 1;
    }
    let trunks: std::collections::HashSet<String> =
        on_device.into_iter().filter(|(_, n)| *n > 1).map(|(d, _)| d.to_string()).collect();
    let mut trunks_shown: std::collections::HashSet<String> = std::collections::HashSet::new();
    let whole_list = args.get("iface").is_none();
    for p in ports {
        if ex.s.user.admin
            && whole_list
            && trunks.contains(&p.device)
            && trunks_shown.insert(p.device.clone())
        {
            trunk_header(ex, &p.device, &all);
        }
        let c = all.of(&p.name);
        let up = port_up(ex, &p) && c.link_down.is_none();
        let state = if !p.enabled {
            "administratively down, line protocol is down"
        } else if up {
            "up, line protocol is up"
        } else {
            "down, line protocol is down"
        };
        ex.line(format!("{} is {state} ", p.name));
        if let Some(why) = &c.link_down {
            // The Linux device is the substrate's: tenants see only that the link is down.
            if ex.s.user.admin {
                ex.line(format!("  Link down: device {} {why}", p.device));
            } else {
                ex.line("  Link down: the port's attachment is not available");
            }
        }
        let gw = port_gateway(&ex.topo, &p);
        let mac = match (&gw, &p.binding) {
            (Some(g), _) => g.mac,
            (None, PortBinding::Uplink { mac, .. }) => *mac,
            _ => rib::MacAddr::ZERO,
        };
        let m = super::ios_mac(mac);
        if ex.s.user.admin {
            ex.line(format!("  Hardware is vnswitch AF_XDP port ({}), address is {m} (bia {m})", p.device));
        } else {
            ex.line(format!("  Hardware is vnswitch virtual port, address is {m} (bia {m})"));
        }
        match (&gw, &p.binding) {
            (Some(g), _) => {
                ex.line(format!(
                    "  Description: tenant {} access, logical router {} {}",
                    g.tenant, g.router, g.interface
                ));
                ex.line(format!("  Internet address is {}/{}", g.address, g.subnet.len()));
            }
            (None, PortBinding::Uplink { address, prefix_len, gateway, link, .. }) => {
                let link = link.as_deref().unwrap_or("-");
                let hop = gateway.map(|g| format!("next hop {g}")).unwrap_or_else(|| "VTEPs on-link".into());
                ex.line(format!("  Description: substrate uplink, link {link}, {hop}"));
                ex.line(format!("  Internet address is {address}/{prefix_len}"));
            }
            _ => {}
        }
        let mtu = match &p.binding {
            PortBinding::Uplink { mtu, .. } => *mtu,
            _ => 1500,
        };
        ex.line(format!("  MTU {mtu} bytes, BW 10000000 Kbit/sec, DLY 10 usec, "));
        ex.line("     reliability 255/255, txload 1/255, rxload 1/255");
        match &p.binding {
            PortBinding::Access { vlan: Some(v), .. } => {
                ex.line(format!("  Encapsulation 802.1Q Virtual LAN, Vlan ID  {v}., loopback not set"))
            }
            PortBinding::Uplink { .. } => ex.line("  Encapsulation VXLAN, loopback not set"),
            _ => ex.line("  Encapsulation ARPA, loopback not set"),
        }
        ex.line("  ARP type: ARPA, ARP Timeout 04:00:00");
        ex.line(format!("  Last clearing of \"show interface\" counters {cleared}"));
        ex.line(format!("  Input queue: 0/75/0/0 (size/max/drops/flushes); Total output drops: {}", c.drops));
        ex.line("  Queueing strategy: fifo");
        ex.line(format!("     {} packets input, {} bytes, 0 no buffer", c.rx_packets, c.rx_bytes));
        ex.line(format!("     Received {} broadcasts (0 IP multicasts)", c.rx_broadcast));
        ex.line(format!("     0 input errors, {} dropped", c.drops));
        ex.line(format!("     {} packets output, {} bytes, 0 underruns", c.tx_packets, c.tx_bytes));
        ex.line("     0 output errors, 0 collisions, 0 interface resets");
        if matches!(p.binding, PortBinding::Uplink { .. }) {
            ex.line(format!(
                "     {} packets encapsulated (VXLAN), {} packets decapsulated",
                c.encap_packets, c.decap_packets
            ));
        }
    }
    Ok(())
}

/// One interface of `show interfaces | json`.
#[derive(serde::Serialize)]
struct InterfaceJson {
    name: String,
    /// The Linux device (administrators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<String>,
    /// `up`, `down` or `administratively down`.
    status: &'static str,
    mac: String,
    /// `access` (tenant, router, interface set) or `uplink`.
    role: &'static str,
    tenant: Option<String>,
    router: Option<String>,
    router_interface: Option<String>,
    address: Option<String>,
    vlan: Option<u16>,
    mtu: u16,
    rx_packets: u64,
    rx_bytes: u64,
    rx_broadcast: u64,
    tx_packets: u64,
    tx_bytes: u64,
    drops: u64,
    encap_packets: u64,
    decap_packets: u64,
}

fn interface_json(ex: &Exec<'_>, p: &Port, all: &AllCounters) -> InterfaceJson {
    let c = all.of(&p.name);
    let status = if !p.enabled {
        "administratively down"
    } else if port_up(ex, p) {
        "up"
    } else {
        "down"
    };
    let gw = port_gateway(&ex.topo, p);
    let (role, mac, address, vlan, mtu) = match (&gw, &p.binding) {
        (Some(g), PortBinding::Access { vlan, .. }) => {
            ("access", g.mac, Some(format!("{}/{}", g.address, g.subnet.len())), *vlan, 1500)
        }
        (_, PortBinding::Uplink { mac, address, prefix_len, mtu, .. }) => {
            ("uplink", *mac, Some(format!("{address}/{prefix_len}")), None, *mtu)
        }
        _ => ("access", rib::MacAddr::ZERO, None, None, 1500),
    };
    InterfaceJson {
        name: p.name.clone(),
        device: ex.s.user.admin.then(|| p.device.clone()),
        status,
        mac: super::ios_mac(mac),
        role,
        tenant: gw.as_ref().map(|g| g.tenant.clone()),
        router: gw.as_ref().map(|g| g.router.clone()),
        router_interface: gw.as_ref().map(|g| g.interface.clone()),
        address,
        vlan,
        mtu,
        rx_packets: c.rx_packets,
        rx_bytes: c.rx_bytes,
        rx_broadcast: c.rx_broadcast,
        tx_packets: c.tx_packets,
        tx_bytes: c.tx_bytes,
        drops: c.drops,
        encap_packets: c.encap_packets,
        decap_packets: c.decap_packets,
    }
}

fn show_counters(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    let ports = visible_ports(ex);
    let all = AllCounters::read(ex);
    let rows: Vec<PortCounters> = ports.iter().map(|p| all.of(&p.name)).collect();
    ex.line("");
    ex.line("Port            InOctets    InUcastPkts    InMcastPkts    InBcastPkts ");
    for c in &rows {
        let ucast = c.rx_packets.saturating_sub(c.rx_broadcast);
        ex.line(format!("{:<10}{:>14}{:>15}{:>15}{:>15} ", c.name, c.rx_bytes, ucast, 0, c.rx_broadcast));
    }
    ex.line("");
    ex.line("Port           OutOctets   OutUcastPkts   OutMcastPkts   OutBcastPkts ");
    for c in &rows {
        ex.line(format!("{:<10}{:>14}{:>15}{:>15}{:>15} ", c.name, c.tx_bytes, c.tx_packets, 0, 0));
    }
    Ok(())
}

fn show_ip_interface_brief(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line("Interface                  IP-Address      OK? Method Status                Protocol");
    let all = AllCounters::read(ex);
    for p in visible_ports(ex) {
        let addr = match (port_gateway(&ex.topo, &p), &p.binding) {
            (Some(g), _) => g.address.to_string(),
            (None, PortBinding::Uplink { address, .. }) => address.to_string(),
            _ => "unassigned".into(),
        };
        let up = port_up(ex, &p) && all.of(&p.name).link_down.is_none();
        let (status, proto) = if !p.enabled {
            ("administratively down", "down")
        } else if up {
            ("up", "up")
        } else {
            ("down", "down")
        };
        ex.line(format!("{:<27}{addr:<16}YES NVRAM  {status:<22}{proto}", p.name));
    }
    Ok(())
}

fn show_terse(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line("Interface               Admin Link Proto    Local                 Remote");
    let all = AllCounters::read(ex);
    for p in visible_ports(ex) {
        let admin = if p.enabled { "up" } else { "down" };
        let link_ok = all.of(&p.name).link_down.is_none();
        let link = if p.enabled && port_up(ex, &p) && link_ok { "up" } else { "down" };
        ex.line(format!("{:<24}{admin:<6}{link}", p.name));
        let local = match (port_gateway(&ex.topo, &p), &p.binding) {
            (Some(g), _) => format!("{}/{}", g.address, g.subnet.len()),
            (None, PortBinding::Uplink { address, .. }) => format!("{address}/32"),
            _ => String::new(),
        };
        ex.line(format!("{:<24}{admin:<6}{link:<5}inet     {local}", format!("{}.0", p.name)));
    }
    Ok(())
}

fn interface(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("iface").unwrap_or("");
    ex.check_port(name, &format!("interface {name}"))?;
    ex.s.interface = Some(name.to_string());
    ex.s.vrf_context = None;
    ex.s.mode = Mode::ConfigIf;
    Ok(())
}

fn shutdown(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let Some(name) = ex.s.interface.clone() else {
        return Err(super::CmdError::Message("% No interface selected".into()));
    };
    let enabled = args.negated;
    ex.ctx.rib.set_port_enabled(&name, enabled).map_err(Exec::rib_err)?;
    let state = if enabled { "up" } else { "administratively down" };
    ex.ctx.audit.log(
        "LINK",
        crate::audit::Severity::Notice,
        "CHANGED",
        &ex.s.user.name,
        &ex.s.source,
        format!("Interface {name}, changed state to {state}"),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn vlan_lists_are_ranges() {
        assert_eq!(super::vlan_ranges(&[3, 1, 2, 7, 9, 10, 11, 12, 7]), "1-3,7,9-12");
        assert_eq!(super::vlan_ranges(&(1..=1000).collect::<Vec<u16>>()), "1-1000");
        assert_eq!(super::vlan_ranges(&[4094]), "4094");
        assert_eq!(super::vlan_ranges(&[]), "");
    }
}
