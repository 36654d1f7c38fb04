//! What the shell shows of a tenant's routing: per logical router, the routes as
//! `show ip route` lists them (C, L, S, O with distance/metric, next hop, interface) and the
//! neighbour (ARP) entries. Pure functions over the topology and a tenant's route context.

use super::compile::{Origin, TenantCtx};
use super::spf::UNREACHABLE;
use super::{NeighbourView, RouteSource, RouteView};
use crate::topology::{Router, Topology};

/// Administrative distances as IOS prints them.
const AD_CONNECTED: u8 = 0;
const AD_STATIC: u8 = 1;
const AD_SPF: u8 = 110;

/// Routes of every router of the tenant, router by router (tenant order), each sorted by
/// prefix address then length.
pub(crate) fn route_views(topo: &Topology, ctx: &TenantCtx) -> Vec<RouteView> {
    let mut out = Vec::new();
    for (li, rid) in ctx.routers.iter().enumerate() {
        let router = &topo.routers[rid.index()];
        let start = out.len();
        for (prefix, origins) in &ctx.origins {
            let origins = origins.as_slice();
            let here: Vec<Origin> = origins.iter().copied().filter(|o| o.router() == li).collect();
            let connected_here = here.iter().any(|o| matches!(o, Origin::Connected { .. }));
            for o in &here {
                match *o {
                    Origin::Connected { iface, .. } => out.push(RouteView {
                        router: router.name.clone(),
                        prefix: *prefix,
                        source: RouteSource::Connected,
                        distance: AD_CONNECTED,
                        metric: 0,
                        next_hop: None,
                        interface: iface_name(router, iface as usize),
                        active: true,
                    }),
                    Origin::Local { iface, .. } => out.push(RouteView {
                        router: router.name.clone(),
                        prefix: *prefix,
                        source: RouteSource::Local,
                        distance: AD_CONNECTED,
                        metric: 0,
                        next_hop: None,
                        interface: iface_name(router, iface as usize),
                        active: true,
                    }),
                    Origin::Static { next_hop, .. } => out.push(RouteView {
                        router: router.name.clone(),
                        prefix: *prefix,
                        source: RouteSource::Static,
                        distance: AD_STATIC,
                        metric: 0,
                        next_hop: Some(next_hop),
                        interface: router
                            .interfaces
                            .iter()
                            .find(|i| i.subnet.contains(next_hop))
                            .map(|i| i.name.clone())
                            .unwrap_or_default(),
                        active: !connected_here,
                    }),
                    Origin::Host { .. } | Origin::RemoteHost { .. } => {}
                }
            }
            if !here.is_empty() {
                continue;
            }
            // Learned by SPF: prefixes other routers originate as subnets or static routes.
            let best = origins
                .iter()
                .filter(|o| matches!(o, Origin::Connected { .. } | Origin::Static { .. }))
                .map(|o| (ctx.spf.dist(li, o.router()), o.router()))
                .filter(|(d, _)| *d != UNREACHABLE)
                .min();
            let Some((metric, to)) = best else { continue };
            let Some(hop) = ctx.spf.first_hop(li, to) else { continue };
            let Some(link) = topo.tenants[ctx.tenant.index()].links.get(hop.link) else { continue };
            let (own_if, peer_if) = if link.a == *rid {
                (link.a_interface, (link.b, link.b_interface))
            } else {
                (link.b_interface, (link.a, link.a_interface))
            };
            out.push(RouteView {
                router: router.name.clone(),
                prefix: *prefix,
                source: RouteSource::Spf,
                distance: AD_SPF,
                metric,
                next_hop: topo.routers[peer_if.0.index()].interfaces.get(peer_if.1).map(|i| i.address),
                interface: iface_name(router, own_if),
                active: true,
            });
        }
        out[start..].sort_by_key(|r| (r.prefix.addr_u32(), r.prefix.len(), r.source));
    }
    out
}

fn iface_name(r: &Router, i: usize) -> String {
    r.interfaces.get(i).map(|i| i.name.clone()).unwrap_or_default()
}

/// Neighbour entries of every router of the tenant: its own addresses (local), the hosts
/// and other routers' interfaces on its connected subnets. Sorted by router, then address.
pub(crate) fn neighbour_views(topo: &Topology, ctx: &TenantCtx) -> Vec<NeighbourView> {
    let tenant = &topo.tenants[ctx.tenant.index()];
    let mut out = Vec::new();
    for rid in &ctx.routers {
        let router = &topo.routers[rid.index()];
        let start = out.len();
        for i in &router.interfaces {
            let entry = |address, mac, local| NeighbourView {
                router: router.name.clone(),
                address,
                mac,
                interface: i.name.clone(),
                local,
            };
            out.push(entry(i.address, i.mac, true));
            for &hi in &tenant.hosts {
                let h = &topo.hosts[hi];
                if i.subnet.contains(h.address) {
                    out.push(entry(h.address, h.mac, false));
                }
            }
            for h in tenant.remote_hosts.iter().filter_map(|&hi| topo.remote_hosts.get(hi)) {
                if i.subnet.contains(h.address) {
                    out.push(entry(h.address, h.mac, false));
                }
            }
            for other in tenant.routers.iter().filter(|o| *o != rid) {
                for oi in &topo.routers[other.index()].interfaces {
                    if i.subnet.contains(oi.address) {
                        out.push(entry(oi.address, oi.mac, false));
                    }
                }
            }
        }
        out[start..].sort_by_key(|n| u32::from(n.address));
    }
    out
}
