//! Validation: turns a syntactically valid [`TopologyFile`] into a [`Topology`] with resolved
//! indices, or the first inconsistency as (dotted field path, message). The caller maps the
//! field path to a line with [`super::locate::SourceMap`].

use super::schema::{PortConfig, PortRole, StaticRouteConfig, TopologyFile, UserRole};
use super::{
    Host, Interface, Link, Port, PortBinding, RemoteHost, Router, StaticRoute, Substrate, SubstrateLink,
    SubstrateNode, Tenant, Topology,
};
use crate::types::{Ipv4Prefix, NodeId, PortId, RouterId, TenantId};
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
/// Substrate MTU bounds of an uplink (IPv4 minimum datagram size, common jumbo frame).
const MTU_MIN: u16 = 576;
const MTU_MAX: u16 = 9216;
/// Most (logical) ports: the data plane sizes its per-port counter tables from the topology
/// at start, up to this many. Equals `switch::stats::MAX_PORTS` (a test checks).
pub const MAX_PORTS: usize = 4096;
/// Most tenants: the per-tenant counter tables are sized from the topology, up to this many
/// (`switch::stats::MAX_TENANTS`); tenant ids are u16.
pub const MAX_TENANTS: usize = 4096;
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

/// Port `pi` uses the device port `first` already uses: allowed only as a trunk, where every
/// port on the device is an access port with its own VLAN (802.1Q demultiplexes them).
fn check_trunk_member<'a>(
    file: &'a TopologyFile,
    first: usize,
    pi: usize,
    vlans: &mut HashMap<(&'a str, u16), usize>,
) -> Result<(), Invalid> {
    let pf = |s: &str| format!("ports[{pi}].{s}");
    let (pc, fc) = (&file.ports[pi], &file.ports[first]);
    let access_vlan = |p: &PortConfig| match p.role {
        PortRole::Access { vlan, .. } => Some(vlan),
        PortRole::Uplink { .. } => None,
    };
    match (access_vlan(fc), access_vlan(pc)) {
        (None, _) | (_, None) => err(
            pf("device"),
            format!(
                "device '{}' is already used by port '{}' (only access ports with distinct VLANs may share a device)",
                pc.device, fc.name
            ),
        ),
        (Some(None), Some(_)) => err(
            pf("device"),
            format!(
                "device '{}' is already used by untagged port '{}': ports sharing a device (a trunk) each need a vlan",
                pc.device, fc.name
            ),
        ),
        (Some(Some(_)), Some(None)) => err(
            pf("role"),
            format!("device '{}' is a trunk (shared with port '{}'): this port needs a vlan", pc.device, fc.name),
        ),
        (Some(Some(_)), Some(Some(v))) => match vlans.insert((pc.device.as_str(), v), pi) {
            Some(other) => err(
                pf("role.vlan"),
                format!("VLAN {v} on device '{}' is already used by port '{}'", pc.device, file.ports[other].name),
            ),
            None => Ok(()),
        },
    }
}

pub(crate) fn validate(file: TopologyFile, path: Option<PathBuf>) -> Result<Topology, Invalid> {
    check_globals(&file)?;
    check_policies(&file)?;
    let substrate = resolve_substrate(&file)?;

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
        let mut quarantine_links = Vec::with_capacity(tc.quarantine_links.len());
        for (ql, q) in tc.quarantine_links.iter().enumerate() {
            match substrate.link_index(q) {
                Some(i) => quarantine_links.push(i),
                None => {
                    return err(
                        tf(&format!("quarantine_links[{ql}]")),
                        format!("unknown substrate link '{q}'"),
                    )
                }
            }
        }
        for (link, factor) in &tc.substrate_cost_factors {
            let ff = || tf(&format!("substrate_cost_factors.{link}"));
            if substrate.link_index(link).is_none() {
                return err(ff(), format!("unknown substrate link '{link}'"));
            }
            if !(factor.is_finite() && *factor > 0.0) {
                return err(ff(), format!("cost factor {factor} must be a finite number above 0"));
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
            remote_hosts: Vec::new(),
            static_routes: Vec::new(),
            fast_path_quota_bytes: tc.fast_path_quota_bytes,
            quarantine_links,
        });
    }

    // Ports.
    unique_names(file.ports.iter().map(|p| p.name.as_str()), "port", |i| format!("ports[{i}].name"))?;
    let mut devices: HashMap<&str, usize> = HashMap::new();
    // (device, VLAN) -> first port: the VLANs of a trunk are distinct.
    let mut trunk_vlans: HashMap<(&str, u16), usize> = HashMap::new();
    let mut ports = Vec::with_capacity(file.ports.len());
    for (pi, pc) in file.ports.iter().enumerate() {
        let pf = |s: &str| format!("ports[{pi}].{s}");
        if pc.device.is_empty() || pc.device.len() > IFNAMSIZ_MAX || pc.device.contains(['/', ' ']) {
            return err(
                pf("device"),
                format!("device name '{}' must be 1..={IFNAMSIZ_MAX} bytes without '/' or spaces", pc.device),
            );
        }
        if let Some(&first) = devices.get(pc.device.as_str()) {
            check_trunk_member(&file, first, pi, &mut trunk_vlans)?;
        } else {
            devices.insert(&pc.device, pi);
            if let PortRole::Access { vlan: Some(v), .. } = pc.role {
                trunk_vlans.insert((&pc.device, v), pi);
            }
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
            PortRole::Uplink { address, mac, prefix_len, gateway, link, mtu } => {
                if !(1..=32).contains(prefix_len) {
                    return err(pf("role.prefix_len"), format!("prefix length {prefix_len} outside 1..=32"));
                }
                if !(MTU_MIN..=MTU_MAX).contains(mtu) {
                    return err(pf("role.mtu"), format!("MTU {mtu} outside {MTU_MIN}..={MTU_MAX}"));
                }
                if mac.0[0] & 1 != 0 {
                    return err(pf("role.mac"), format!("MAC {mac} is a multicast address"));
                }
                let Some(local) = substrate.local else {
                    return err(
                        "substrate.local_node",
                        format!("port '{}' is a substrate uplink: name this appliance's node", pc.name),
                    );
                };
                if let Some(l) = link {
                    let Some(li) = substrate.link_index(l) else {
                        return err(pf("role.link"), format!("unknown substrate link '{l}'"));
                    };
                    let sl = &substrate.links[li];
                    if sl.a != local && sl.b != local {
                        return err(
                            pf("role.link"),
                            format!(
                                "substrate link '{l}' does not start at the local node '{}'",
                                substrate.nodes[local.index()].name
                            ),
                        );
                    }
                }
                PortBinding::Uplink {
                    address: *address,
                    prefix_len: *prefix_len,
                    mac: *mac,
                    gateway: *gateway,
                    link: link.clone(),
                    mtu: *mtu,
                }
            }
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
    let mut remote_hosts: Vec<RemoteHost> = Vec::new();
    let mut netns_seen: HashMap<&str, String> = HashMap::new();
    for (ti, tc) in file.tenants.iter().enumerate() {
        let tenant = &tenants[ti];
        unique_names(tc.hosts.iter().map(|h| h.name.as_str()), "host", |i| {
            format!("tenants[{ti}].hosts[{i}].name")
        })?;
        let mut host_addrs: HashMap<Ipv4Addr, &str> = HashMap::new();
        let mut host_indices = Vec::new();
        let mut remote_indices = Vec::new();
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
            let port_name = match (&hc.port, &hc.node) {
                (Some(p), None) => p,
                (None, Some(node)) => {
                    let (node, router, interface) =
                        remote_host_place(&substrate, &routers, tenant, &hc.address, node)
                            .map_err(|(f, m)| Invalid { field: hf(f), message: m })?;
                    check_netns(&hc.netns, &hc.name, &mut netns_seen)
                        .map_err(|m| Invalid { field: hf("netns"), message: m })?;
                    remote_indices.push(remote_hosts.len());
                    remote_hosts.push(RemoteHost {
                        tenant: tenant.id,
                        name: hc.name.clone(),
                        address: hc.address,
                        mac: hc.mac,
                        node,
                        router,
                        interface,
                        netns: hc.netns.clone(),
                    });
                    continue;
                }
                (Some(_), Some(_)) => {
                    return err(
                        hf("node"),
                        "a host lives either on a local port or on a substrate node, not both",
                    )
                }
                (None, None) => return err(hf("port"), "a host needs a local port or a substrate node"),
            };
            let Some(port) = ports.iter().find(|p| &p.name == port_name) else {
                return err(hf("port"), format!("unknown port '{}'", port_name));
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
            check_netns(&hc.netns, &hc.name, &mut netns_seen)
                .map_err(|m| Invalid { field: hf("netns"), message: m })?;
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
        tenants[ti].remote_hosts = remote_indices;
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
    // After the tenant checks (names, count), which the communities refer to.
    check_snmp(&file)?;

    Ok(Topology { path, file, ports, tenants, routers, hosts, remote_hosts, substrate })
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
/// Shapers (`ports[i].shape`) and redirects (`tenants[i].redirects`): a rate of at least
/// 8000 bit/s, a burst of at least one frame, redirects to a host of the tenant, each
/// address redirected once.
fn check_policies(file: &TopologyFile) -> Result<(), Invalid> {
    for (pi, pc) in file.ports.iter().enumerate() {
        if let Some(sh) = pc.shape {
            if sh.rate_bps < 8000 {
                return err(
                    format!("ports[{pi}].shape.rate_bps"),
                    format!("rate {} bit/s is under 8000", sh.rate_bps),
                );
            }
            if sh.burst_bytes.is_some_and(|b| b < crate::fib::MIN_SHAPE_BURST) {
                return err(
                    format!("ports[{pi}].shape.burst_bytes"),
                    format!("burst under one frame ({} bytes)", crate::fib::MIN_SHAPE_BURST),
                );
            }
        }
    }
    for (ti, tc) in file.tenants.iter().enumerate() {
        for (ri, r) in tc.redirects.iter().enumerate() {
            let rf = |s: &str| format!("tenants[{ti}].redirects[{ri}].{s}");
            if !tc.hosts.iter().any(|h| h.address == r.to) {
                return err(rf("to"), format!("{} is not a host of tenant '{}'", r.to, tc.name));
            }
            if r.from == r.to {
                return err(rf("to"), format!("{} is redirected to itself", r.from));
            }
            if tc.redirects[..ri].iter().any(|o| o.from == r.from) {
                return err(rf("from"), format!("{} is already redirected", r.from));
            }
        }
    }
    Ok(())
}

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

/// Longest SNMP community accepted (RFC 3584 `snmpCommunityName` is at most 255; a
/// shorter bound keeps every answer well under one datagram).
pub const SNMP_COMMUNITY_MAX: usize = 64;

/// A community must be printable ASCII without spaces, 1..=[`SNMP_COMMUNITY_MAX`] bytes.
fn check_community(field: String, c: &str) -> Result<(), Invalid> {
    if c.is_empty() || c.len() > SNMP_COMMUNITY_MAX {
        return err(field, format!("community must be 1..={SNMP_COMMUNITY_MAX} characters"));
    }
    if !c.chars().all(|ch| ch.is_ascii_graphic()) {
        return err(field, "community must be printable ASCII without spaces");
    }
    Ok(())
}

/// The SNMP agent: a listen address or `off`, and communities that name one view each (the
/// administrator's and one per tenant, all different).
fn check_snmp(file: &TopologyFile) -> Result<(), Invalid> {
    let snmp = &file.snmp;
    if snmp.listen != "off" && snmp.listen.parse::<std::net::SocketAddr>().is_err() {
        return err("snmp.listen", format!("'{}' is neither an address:port nor off", snmp.listen));
    }
    if !snmp.community.is_empty() {
        check_community("snmp.community".into(), &snmp.community)?;
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (ti, t) in file.tenants.iter().enumerate() {
        let Some(c) = &t.snmp_community else { continue };
        let field = format!("tenants[{ti}].snmp_community");
        check_community(field.clone(), c)?;
        if *c == snmp.community {
            return err(field, "the administrator's community (snmp.community) cannot be a tenant's");
        }
        if let Some(first) = seen.insert(c.as_str(), ti) {
            return err(field, format!("community already used by tenant '{}'", file.tenants[first].name));
        }
    }
    Ok(())
}

/// Checks a host's namespace name and that no other host uses it.
fn check_netns<'a>(
    netns: &'a Option<String>,
    host: &str,
    seen: &mut HashMap<&'a str, String>,
) -> Result<(), String> {
    if let Some(ns) = netns {
        if ns.is_empty() || ns.contains(['/', ' ']) {
            return Err(format!("invalid namespace name '{ns}'"));
        }
        if let Some(other) = seen.insert(ns, host.to_string()) {
            return Err(format!("namespace '{ns}' is already used by host '{other}'"));
        }
    }
    Ok(())
}

/// Where a remote host of `tenant` lives: its node (known, not the local one) and the router
/// interface owning its subnet. Errors as (field, message).
fn remote_host_place(
    substrate: &Substrate,
    routers: &[Router],
    tenant: &Tenant,
    address: &Ipv4Addr,
    node: &str,
) -> Result<(NodeId, RouterId, usize), (&'static str, String)> {
    let Some(n) = substrate.node_by_name(node) else {
        return Err(("node", format!("unknown substrate node '{node}'")));
    };
    let Some(local) = substrate.local else {
        return Err(("node", "a remote host needs substrate.local_node (this appliance's node)".into()));
    };
    if n.id == local {
        return Err((
            "node",
            format!("'{node}' is this appliance's own node: a local host names its access port instead"),
        ));
    }
    let owner = tenant.routers.iter().find_map(|r| {
        routers[r.index()].interfaces.iter().position(|i| i.subnet.contains(*address)).map(|i| (*r, i))
    });
    let Some((router, interface)) = owner else {
        return Err((
            "address",
            format!(
                "no router of tenant '{}' has an interface on a subnet containing {address}",
                tenant.name
            ),
        ));
    };
    let subnet = routers[router.index()].interfaces[interface].subnet;
    if is_network_or_broadcast(*address, subnet) {
        return Err((
            "address",
            format!("address {address} is the network or broadcast address of {subnet}"),
        ));
    }
    Ok((n.id, router, interface))
}

/// The substrate graph: unique names, known link ends, sane characteristics, one VTEP
/// address per node and plane that no other node uses.
fn resolve_substrate(file: &TopologyFile) -> Result<Substrate, Invalid> {
    let sub = &file.substrate;
    unique_names(sub.nodes.iter().map(|n| n.name.as_str()), "substrate node", |i| {
        format!("substrate.nodes[{i}].name")
    })?;
    unique_names(sub.links.iter().map(|n| n.name.as_str()), "substrate link", |i| {
        format!("substrate.links[{i}].name")
    })?;
    if sub.nodes.len() > u16::MAX as usize {
        return err("substrate.nodes", "too many substrate nodes");
    }
    let mut nodes = Vec::with_capacity(sub.nodes.len());
    let mut owners: HashMap<Ipv4Addr, usize> = HashMap::new();
    for (ni, n) in sub.nodes.iter().enumerate() {
        let node = SubstrateNode {
            id: NodeId(ni as u16),
            name: n.name.clone(),
            address: n.address,
            fast_address: n.fast_address.unwrap_or(n.address),
            slow_address: n.slow_address.unwrap_or(n.address),
        };
        for (field, a) in [
            ("address", node.address),
            ("fast_address", node.fast_address),
            ("slow_address", node.slow_address),
        ] {
            if let Some(&other) = owners.get(&a) {
                if other != ni {
                    return err(
                        format!("substrate.nodes[{ni}].{field}"),
                        format!("address {a} is already a VTEP address of node '{}'", sub.nodes[other].name),
                    );
                }
            }
            owners.insert(a, ni);
        }
        nodes.push(node);
    }
    let id_of = |name: &str| nodes.iter().find(|n| n.name == name).map(|n| n.id);
    let local = match &sub.local_node {
        Some(l) => match id_of(l) {
            Some(id) => Some(id),
            None => return err("substrate.local_node", format!("unknown substrate node '{l}'")),
        },
        None => None,
    };
    let mut links = Vec::with_capacity(sub.links.len());
    for (li, l) in sub.links.iter().enumerate() {
        let lf = |s: &str| format!("substrate.links[{li}].{s}");
        let Some(a) = id_of(&l.a) else { return err(lf("a"), format!("unknown substrate node '{}'", l.a)) };
        let Some(b) = id_of(&l.b) else { return err(lf("b"), format!("unknown substrate node '{}'", l.b)) };
        if a == b {
            return err(lf("b"), format!("link joins node '{}' to itself", l.a));
        }
        if !(0.0..=1.0).contains(&l.reliability) {
            return err(lf("reliability"), format!("reliability {} outside 0.0..=1.0", l.reliability));
        }
        if l.bandwidth_mbps == 0 {
            return err(lf("bandwidth_mbps"), "bandwidth must be positive");
        }
        links.push(SubstrateLink {
            name: l.name.clone(),
            a,
            b,
            latency_us: l.latency_us,
            bandwidth_mbps: l.bandwidth_mbps,
            cost: l.cost,
            reliability: l.reliability,
            fast: l.fast,
        });
    }
    Ok(Substrate { local, nodes, links })
}
