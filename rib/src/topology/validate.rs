//! Validation: turns a syntactically valid [`TopologyFile`] into a [`Topology`] with resolved
//! indices, or the first inconsistency as (dotted field path, message). The caller maps the
//! field path to a line with [`super::locate::SourceMap`].

use super::schema::{PortRole, StaticRouteConfig, TopologyFile, UserRole};
use super::{Host, Interface, Link, Port, PortBinding, Router, StaticRoute, Tenant, Topology};
use crate::types::{Ipv4Prefix, PortId, RouterId, TenantId};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A validation failure before it is given a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub field: String,
    pub message: String,
}

fn err<T>(field: impl Into<String>, message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid { field: field.into(), message: message.into() })
}

/// Linux interface names are at most 15 bytes.
const IFNAMSIZ_MAX: usize = 15;
/// Largest VXLAN network identifier (24 bits).
const VNI_MAX: u32 = (1 << 24) - 1;
/// Most ports: the data plane's per-port counter tables hold this many (a port beyond would be
/// counted together with the last one). Equals `switch::stats::MAX_PORTS` (a test checks).
pub const MAX_PORTS: usize = 64;
/// Most tenants: the per-tenant counter tables hold this many (`switch::stats::MAX_TENANTS`),
/// and tenant ids are u16.
pub const MAX_TENANTS: usize = 256;
/// Most logical routers over all tenants, and interfaces per router: ids are u16.
pub const MAX_ROUTERS: usize = u16::MAX as usize;
pub const MAX_INTERFACES: usize = u16::MAX as usize;

/// Checks that names are unique; `field(i)` names element i's name field.
fn unique_names<'a>(
    names: impl Iterator<Item = &'a str>,
    what: &str,
    field: impl Fn(usize) -> String,
) -> Result<(), Invalid> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, n) in names.enumerate() {
        if n.is_empty() {
            return err(field(i), format!("{what} name is empty"));
        }
        if let Some(first) = seen.insert(n, i) {
            return err(field(i), format!("duplicate {what} name '{n}' (first defined at index {first})"));
        }
    }
    Ok(())
}

/// True when `addr` is the network or broadcast address of `subnet` (for lengths up to /30).
fn is_network_or_broadcast(addr: Ipv4Addr, subnet: Ipv4Prefix) -> bool {
    if subnet.len() >= 31 {
        return false;
    }
    let a = u32::from(addr);
    a == subnet.addr_u32() || a == subnet.addr_u32() | !subnet.mask()
}

pub(crate) fn validate(file: TopologyFile, path: Option<PathBuf>) -> Result<Topology, Invalid> {
    check_globals(&file)?;

    // Tenants and their routers.
    unique_names(file.tenants.iter().map(|t| t.name.as_str()), "tenant", |i| format!("tenants[{i}].name"))?;
    let mut vnis: HashMap<u32, usize> = HashMap::new();
    if file.tenants.len() > MAX_TENANTS {
        return err(
            format!("tenants[{MAX_TENANTS}]"),
            format!("{} tenants: at most {MAX_TENANTS} fit the per-tenant counters", file.tenants.len()),
        );
    }
    if file.ports.len() > MAX_PORTS {
        return err(
            format!("ports[{MAX_PORTS}]"),
            format!("{} ports: at most {MAX_PORTS} fit the per-port counters", file.ports.len()),
        );
    }
    let mut tenants: Vec<Tenant> = Vec::with_capacity(file.tenants.len());
    let mut routers: Vec<Router> = Vec::new();
    for (ti, tc) in file.tenants.iter().enumerate() {
        let tf = |s: &str| format!("tenants[{ti}].{s}");
        if tc.vni == 0 || tc.vni > VNI_MAX {
            return err(tf("vni"), format!("VNI {} outside 1..={VNI_MAX}", tc.vni));
        }
        if let Some(first) = vnis.insert(tc.vni, ti) {
            return err(
                tf("vni"),
                format!("VNI {} already used by tenant '{}'", tc.vni, file.tenants[first].name),
            );
        }
        for (si, s) in tc.subnets.iter().enumerate() {
            for (sj, o) in tc.subnets.iter().enumerate().take(si) {
                if s.overlaps(o) {
                    return err(
                        tf(&format!("subnets[{si}]")),
                        format!("subnet {s} overlaps subnet {o} (subnets[{sj}]) of tenant '{}'", tc.name),
                    );
                }
            }
        }
        for (ql, q) in tc.quarantine_links.iter().enumerate() {
            if !file.substrate.links.iter().any(|l| &l.name == q) {
                return err(tf(&format!("quarantine_links[{ql}]")), format!("unknown substrate link '{q}'"));
            }
        }
        unique_names(tc.routers.iter().map(|r| r.name.as_str()), "router", |i| {
            tf(&format!("routers[{i}].name"))
        })?;
        let tenant_id = TenantId(ti as u16);
        let mut router_ids = Vec::new();
        let mut addresses: HashMap<Ipv4Addr, String> = HashMap::new();
        for (ri, rc) in tc.routers.iter().enumerate() {
            let rf = |s: &str| tf(&format!("routers[{ri}].{s}"));
            if routers.len() >= MAX_ROUTERS {
                return err(
                    rf("name"),
                    format!("too many logical routers: at most {MAX_ROUTERS} in all (u16 ids)"),
                );
            }
            if rc.interfaces.len() > MAX_INTERFACES {
                return err(
                    rf(&format!("interfaces[{MAX_INTERFACES}]")),
                    format!(
                        "{} interfaces: at most {MAX_INTERFACES} per router (u16 ids)",
                        rc.interfaces.len()
                    ),
                );
            }
            unique_names(rc.interfaces.iter().map(|i| i.name.as_str()), "interface", |i| {
                rf(&format!("interfaces[{i}].name"))
            })?;
            let mut interfaces = Vec::new();
            for (ii, ic) in rc.interfaces.iter().enumerate() {
                let iff = |s: &str| rf(&format!("interfaces[{ii}].{s}"));
                if !tc.subnets.iter().any(|s| s.len() <= ic.subnet.len() && s.contains(ic.subnet.addr())) {
                    return err(
                        iff("subnet"),
                        format!("subnet {} is not inside any subnet of tenant '{}'", ic.subnet, tc.name),
                    );
                }
                if !ic.subnet.contains(ic.address) {
                    return err(
                        iff("address"),
                        format!("address {} is outside its subnet {}", ic.address, ic.subnet),
                    );
                }
                if is_network_or_broadcast(ic.address, ic.subnet) {
                    return err(
                        iff("address"),
                        format!(
                            "address {} is the network or broadcast address of {}",
                            ic.address, ic.subnet
                        ),
                    );
                }
                if rc.interfaces[..ii].iter().any(|o| o.subnet.overlaps(&ic.subnet)) {
                    return err(
                        iff("subnet"),
                        format!("router '{}' already has an interface on {}", rc.name, ic.subnet),
                    );
                }
                let who = format!("router '{}' {}", rc.name, ic.name);
                if let Some(other) = addresses.insert(ic.address, who) {
                    return err(iff("address"), format!("address {} is already used by {other}", ic.address));
                }
                if ic.mac.0[0] & 1 != 0 {
                    return err(iff("mac"), format!("MAC {} is a multicast address", ic.mac));
                }
                interfaces.push(Interface {
                    name: ic.name.clone(),
                    address: ic.address,
                    subnet: ic.subnet,
                    mac: ic.mac,
                });
            }
            let id = RouterId(routers.len() as u16);
            router_ids.push(id);
            routers.push(Router { id, tenant: tenant_id, name: rc.name.clone(), interfaces });
        }
        let by_name = |name: &str| router_ids.iter().copied().find(|r| routers[r.index()].name == name);
        let mut links = Vec::new();
        for (li, lc) in tc.links.iter().enumerate() {
            let lf = |s: &str| tf(&format!("links[{li}].{s}"));
            let a = by_name(&lc.a).ok_or_else(|| Invalid {
                field: lf("a"),
                message: format!("unknown router '{}' in tenant '{}'", lc.a, tc.name),
            })?;
            let b = by_name(&lc.b).ok_or_else(|| Invalid {
                field: lf("b"),
                message: format!("unknown router '{}' in tenant '{}'", lc.b, tc.name),
            })?;
            if a == b {
                return err(lf("b"), format!("link joins router '{}' to itself", lc.a));
            }
            if lc.cost == 0 {
                return err(lf("cost"), "cost must be at least 1");
            }
            let iface =
                |r: RouterId| routers[r.index()].interfaces.iter().position(|i| i.subnet == lc.subnet);
            let Some(a_interface) = iface(a) else {
                return err(lf("subnet"), format!("router '{}' has no interface on {}", lc.a, lc.subnet));
            };
            let Some(b_interface) = iface(b) else {
                return err(lf("subnet"), format!("router '{}' has no interface on {}", lc.b, lc.subnet));
            };
            links.push(Link { a, a_interface, b, b_interface, subnet: lc.subnet, cost: lc.cost });
        }
        tenants.push(Tenant {
            id: tenant_id,
            name: tc.name.clone(),
            vni: tc.vni,
            service_level: tc.service_level,
            subnets: tc.subnets.clone(),
            routers: router_ids,
            links,
            hosts: Vec::new(),
            static_routes: Vec::new(),
        });
    }

    // Ports.
    unique_names(file.ports.iter().map(|p| p.name.as_str()), "port", |i| format!("ports[{i}].name"))?;
    let mut devices: HashMap<&str, usize> = HashMap::new();
    let mut ports = Vec::with_capacity(file.ports.len());
    for (pi, pc) in file.ports.iter().enumerate() {
        let pf = |s: &str| format!("ports[{pi}].{s}");
        if pc.device.is_empty() || pc.device.len() > IFNAMSIZ_MAX || pc.device.contains(['/', ' ']) {
            return err(
                pf("device"),
                format!("device name '{}' must be 1..={IFNAMSIZ_MAX} bytes without '/' or spaces", pc.device),
            );
        }
        if let Some(first) = devices.insert(&pc.device, pi) {
            return err(
                pf("device"),
                format!("device '{}' is already used by port '{}'", pc.device, file.ports[first].name),
            );
        }
        let binding = match &pc.role {
            PortRole::Access { tenant, subnet, vlan } => {
                let Some(t) = tenants.iter().find(|t| &t.name == tenant) else {
                    return err(pf("role.tenant"), format!("unknown tenant '{tenant}'"));
                };
                if let Some(v) = vlan {
                    if *v == 0 || *v > 4094 {
                        return err(pf("role.vlan"), format!("VLAN {v} outside 1..=4094"));
                    }
                }
                let owner = t.routers.iter().find_map(|r| {
                    routers[r.index()].interfaces.iter().position(|i| i.subnet == *subnet).map(|i| (*r, i))
                });
                let Some((router, interface)) = owner else {
                    return err(
                        pf("role.subnet"),
                        format!("no router of tenant '{tenant}' has an interface on subnet {subnet}"),
                    );
                };
                PortBinding::Access { tenant: t.id, subnet: *subnet, vlan: *vlan, router, interface }
            }
            PortRole::Uplink { address, mac, prefix_len, gateway, link, mtu } => PortBinding::Uplink {
                address: *address,
                prefix_len: *prefix_len,
                mac: *mac,
                gateway: *gateway,
                link: link.clone(),
                mtu: *mtu,
            },
        };
        ports.push(Port {
            id: PortId(pi as u16),
            name: pc.name.clone(),
            device: pc.device.clone(),
            enabled: pc.enabled,
            binding,
        });
    }

    // Hosts.
    let mut hosts: Vec<Host> = Vec::new();
    let mut netns_seen: HashMap<&str, String> = HashMap::new();
    for (ti, tc) in file.tenants.iter().enumerate() {
        let tenant = &tenants[ti];
        unique_names(tc.hosts.iter().map(|h| h.name.as_str()), "host", |i| {
            format!("tenants[{ti}].hosts[{i}].name")
        })?;
        let mut host_addrs: HashMap<Ipv4Addr, &str> = HashMap::new();
        let mut host_indices = Vec::new();
        for (hi, hc) in tc.hosts.iter().enumerate() {
            let hf = |s: &str| format!("tenants[{ti}].hosts[{hi}].{s}");
            if !tenant.subnets.iter().any(|s| s.contains(hc.address)) {
                return err(
                    hf("address"),
                    format!("address {} is outside every subnet of tenant '{}'", hc.address, tc.name),
                );
            }
            if let Some(r) = tenant
                .routers
                .iter()
                .map(|r| &routers[r.index()])
                .find(|r| r.interfaces.iter().any(|i| i.address == hc.address))
            {
                return err(hf("address"), format!("address {} belongs to router '{}'", hc.address, r.name));
            }
            if let Some(other) = host_addrs.insert(hc.address, &hc.name) {
                return err(
                    hf("address"),
                    format!("address {} is already used by host '{other}'", hc.address),
                );
            }
            if hc.mac.0[0] & 1 != 0 {
                return err(hf("mac"), format!("MAC {} is a multicast address", hc.mac));
            }
            let Some(port) = ports.iter().find(|p| p.name == hc.port) else {
                return err(hf("port"), format!("unknown port '{}'", hc.port));
            };
            match &port.binding {
                PortBinding::Access { tenant: pt, subnet, .. } => {
                    if *pt != tenant.id {
                        return err(
                            hf("port"),
                            format!(
                                "port '{}' belongs to tenant '{}', not '{}'",
                                port.name,
                                tenants[pt.index()].name,
                                tc.name
                            ),
                        );
                    }
                    if !subnet.contains(hc.address) {
                        return err(
                            hf("port"),
                            format!(
                                "port '{}' carries subnet {subnet}, which does not contain {}",
                                port.name, hc.address
                            ),
                        );
                    }
                    if is_network_or_broadcast(hc.address, *subnet) {
                        return err(
                            hf("address"),
                            format!("address {} is the network or broadcast address of {subnet}", hc.address),
                        );
                    }
                }
                PortBinding::Uplink { .. } => {
                    return err(
                        hf("port"),
                        format!("port '{}' is a substrate uplink, not an access port", port.name),
                    );
                }
            }
            if let Some(ns) = &hc.netns {
                if ns.is_empty() || ns.contains(['/', ' ']) {
                    return err(hf("netns"), format!("invalid namespace name '{ns}'"));
                }
                if let Some(other) = netns_seen.insert(ns, hc.name.clone()) {
                    return err(hf("netns"), format!("namespace '{ns}' is already used by host '{other}'"));
                }
            }
            host_indices.push(hosts.len());
            hosts.push(Host {
                tenant: tenant.id,
                name: hc.name.clone(),
                address: hc.address,
                mac: hc.mac,
                port: port.id,
                netns: hc.netns.clone(),
            });
        }
        tenants[ti].hosts = host_indices;
    }

    // Static routes.
    for (ti, tc) in file.tenants.iter().enumerate() {
        let mut seen: HashSet<StaticRoute> = HashSet::with_capacity(tc.static_routes.len());
        let mut resolved = Vec::with_capacity(tc.static_routes.len());
        for (si, sc) in tc.static_routes.iter().enumerate() {
            let sf = |s: &str| format!("tenants[{ti}].static_routes[{si}].{s}");
            let r = resolve_static_route(&tenants[ti], &routers, sc)
                .map_err(|(f, m)| Invalid { field: sf(f), message: m })?;
            if !seen.insert(r) {
                return err(
                    sf("prefix"),
                    format!("duplicate static route {} via {}", sc.prefix, sc.next_hop),
                );
            }
            resolved.push(r);
        }
        tenants[ti].static_routes = resolved;
    }

    Ok(Topology { path, file, ports, tenants, routers, hosts })
}

/// Resolves a static route of `tenant`: the holding router (named, or the router with an
/// interface on the next hop's subnet) and a next hop on one of its connected subnets.
/// Errors name the offending field (`router` or `next_hop`) and say why.
pub fn resolve_static_route(
    tenant: &Tenant,
    routers: &[Router],
    sc: &StaticRouteConfig,
) -> Result<StaticRoute, (&'static str, String)> {
    let tenant_routers = || tenant.routers.iter().map(|r| &routers[r.index()]);
    let on_subnet =
        |r: &Router| r.interfaces.iter().any(|i| i.subnet.contains(sc.next_hop) && i.address != sc.next_hop);
    let router = match &sc.router {
        Some(name) => {
            let Some(r) = tenant_routers().find(|r| &r.name == name) else {
                return Err(("router", format!("unknown router '{name}' in tenant '{}'", tenant.name)));
            };
            if r.interfaces.iter().any(|i| i.address == sc.next_hop) {
                return Err((
                    "next_hop",
                    format!("next hop {} is router '{name}''s own address", sc.next_hop),
                ));
            }
            if !on_subnet(r) {
                return Err((
                    "next_hop",
                    format!("next hop {} is on no connected subnet of router '{name}'", sc.next_hop),
                ));
            }
            r.id
        }
        None => match tenant_routers().find(|r| on_subnet(r)) {
            Some(r) => r.id,
            None => {
                return Err((
                    "next_hop",
                    format!("next hop {} is on no connected subnet of tenant '{}'", sc.next_hop, tenant.name),
                ))
            }
        },
    };
    Ok(StaticRoute { prefix: sc.prefix, next_hop: sc.next_hop, router })
}

/// Users, workers, substrate and service levels: checks that need no tenant resolution
/// (except user tenant scopes, which only need names).
fn check_globals(file: &TopologyFile) -> Result<(), Invalid> {
    let mut cores = HashSet::new();
    for (i, c) in file.workers.cores.iter().enumerate() {
        if !cores.insert(*c) {
            return err(format!("workers.cores[{i}]"), format!("core {c} listed twice"));
        }
    }
    if file.hostname.is_empty() || file.hostname.contains(char::is_whitespace) {
        return err("hostname", "hostname must be a non-empty word");
    }
    if file.shell.telnet.parse::<std::net::SocketAddr>().is_err() {
        return err("shell.telnet", format!("'{}' is not an address:port", file.shell.telnet));
    }

    unique_names(file.users.iter().map(|u| u.name.as_str()), "user", |i| format!("users[{i}].name"))?;
    for (ui, u) in file.users.iter().enumerate() {
        let uf = |s: &str| format!("users[{ui}].{s}");
        if u.name.contains(char::is_whitespace) {
            return err(uf("name"), format!("user name '{}' contains whitespace", u.name));
        }
        if let Err(m) = super::password::parse_password_hash(&u.password_hash) {
            return err(uf("password_hash"), format!("bad password hash: {m}"));
        }
        if u.privilege > 15 {
            return err(uf("privilege"), format!("privilege {} outside 0..=15", u.privilege));
        }
        for (j, t) in u.tenants.iter().enumerate() {
            if !file.tenants.iter().any(|tc| &tc.name == t) {
                return err(uf(&format!("tenants[{j}]")), format!("unknown tenant '{t}'"));
            }
        }
        if u.role == UserRole::Tenant && u.tenants.is_empty() {
            return err(uf("tenants"), "a tenant user needs at least one tenant");
        }
        for alias in u.aliases.keys() {
            if alias.is_empty() || alias.contains(char::is_whitespace) {
                return err(uf(&format!("aliases.{alias}")), format!("alias '{alias}' must be one word"));
            }
        }
    }

    let sub = &file.substrate;
    unique_names(sub.nodes.iter().map(|n| n.name.as_str()), "substrate node", |i| {
        format!("substrate.nodes[{i}].name")
    })?;
    unique_names(sub.links.iter().map(|n| n.name.as_str()), "substrate link", |i| {
        format!("substrate.links[{i}].name")
    })?;
    if let Some(local) = &sub.local_node {
        if !sub.nodes.iter().any(|n| &n.name == local) {
            return err("substrate.local_node", format!("unknown substrate node '{local}'"));
        }
    }
    for (li, l) in sub.links.iter().enumerate() {
        let lf = |s: &str| format!("substrate.links[{li}].{s}");
        for (end, name) in [("a", &l.a), ("b", &l.b)] {
            if !sub.nodes.iter().any(|n| &n.name == name) {
                return err(lf(end), format!("unknown substrate node '{name}'"));
            }
        }
        if l.a == l.b {
            return err(lf("b"), format!("link joins node '{}' to itself", l.a));
        }
        if !(0.0..=1.0).contains(&l.reliability) {
            return err(lf("reliability"), format!("reliability {} outside 0.0..=1.0", l.reliability));
        }
        if l.bandwidth_mbps == 0 {
            return err(lf("bandwidth_mbps"), "bandwidth must be positive");
        }
    }
    let mut levels = HashSet::new();
    for (i, s) in file.service_levels.iter().enumerate() {
        if !levels.insert(s.level) {
            return err(
                format!("service_levels[{i}].level"),
                format!("service level {:?} defined twice", s.level),
            );
        }
    }
    Ok(())
}
