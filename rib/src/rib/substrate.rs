//! The route manager's substrate half (runs in the RIB thread): the substrate graph with its
//! link state, a cost function per service level, and per tenant a shortest path from this
//! appliance's node to every remote node that holds a host of the tenant. Each path becomes the
//! [`TunnelPath`] of the tenant's tunnel to that node (uplink, plane, outer addresses and MACs,
//! inner MTU), so a path change rewrites only `FibSnapshot::tunnels`, never a router table.
//!
//! Cost functions, over one link, multiplied by the tenant's cost factor of the link:
//! - platinum, [`CostFunction::Latency`]: latency, then inverse bandwidth, then money
//!   (compared in that order along the whole path);
//! - gold, [`CostFunction::Balanced`]: latency / largest latency + money / largest money +
//!   100 x loss probability (1 - reliability), then latency;
//! - silver, [`CostFunction::Money`]: money, then latency.
//!
//! A tenant whose level has no fast path (`service_levels[].fast_path`) or that is over its
//! fast-path quota may not use fast links; quarantine confines a tenant to its links; a link
//! is usable when it is up (`substrate link X up|down`) and, when it leaves the local node,
//! when an enabled uplink port is its local end. Pure functions over the topology plus the
//! runtime state below: tests drive them without a thread.

use crate::fib::{PortEntry, PortKind, Tunnel, TunnelPath, VXLAN_OVERHEAD};
use crate::topology::{PortBinding, SubstrateLink, Topology};
use crate::types::{Ipv4Prefix, MacAddr, NodeId, Plane, PortId, ServiceLevel, TenantId, TunnelId};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Penalty per unit of loss probability in the balanced (gold) cost: a 1% lossy link costs as
/// much as the slowest (or the most expensive) link of the substrate.
const LOSS_PENALTY: f64 = 100.0;

/// How a service level weighs a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CostFunction {
    /// Platinum: latency first, then bandwidth, then money.
    Latency,
    /// Gold: normalised latency + normalised money + a reliability penalty.
    Balanced,
    /// Silver: money first, then latency.
    Money,
}

impl CostFunction {
    /// The cost function of a service level.
    pub fn of(level: ServiceLevel) -> CostFunction {
        match level {
            ServiceLevel::Platinum => CostFunction::Latency,
            ServiceLevel::Gold => CostFunction::Balanced,
            ServiceLevel::Silver => CostFunction::Money,
        }
    }

    /// What `show substrate paths` says about it.
    pub fn describe(self) -> &'static str {
        match self {
            CostFunction::Latency => "latency, then bandwidth, then cost",
            CostFunction::Balanced => "balanced latency + cost + reliability penalty",
            CostFunction::Money => "cost, then latency",
        }
    }
}

/// A path cost compared lexicographically (each component summed along the path).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Cost(pub [f64; 3]);

impl Cost {
    fn add(self, o: Cost) -> Cost {
        Cost([self.0[0] + o.0[0], self.0[1] + o.0[1], self.0[2] + o.0[2]])
    }
    fn cmp(&self, o: &Cost) -> Ordering {
        for i in 0..3 {
            match self.0[i].total_cmp(&o.0[i]) {
                Ordering::Equal => continue,
                other => return other,
            }
        }
        Ordering::Equal
    }
}

/// Scale of the balanced cost: the largest latency and money over every link of the substrate
/// (up or down, so one link going down does not reweigh the others).
#[derive(Clone, Copy, Debug)]
pub struct Norm {
    max_latency: f64,
    max_money: f64,
}

impl Norm {
    pub fn of(links: &[SubstrateLink]) -> Norm {
        let max_latency = links.iter().map(|l| l.latency_us).max().unwrap_or(1).max(1) as f64;
        let max_money = links.iter().map(|l| l.cost).max().unwrap_or(1).max(1) as f64;
        Norm { max_latency, max_money }
    }
}

/// The cost of one link under `f`, times the tenant's `factor` for the link.
pub fn link_cost(f: CostFunction, link: &SubstrateLink, norm: Norm, factor: f64) -> Cost {
    let latency = link.latency_us as f64;
    let money = link.cost as f64;
    let c = match f {
        // Inverse bandwidth in microseconds per 10 kbit: small and only a tie-break.
        CostFunction::Latency => [latency, 10_000.0 / link.bandwidth_mbps.max(1) as f64, money],
        CostFunction::Balanced => [
            latency / norm.max_latency
                + money / norm.max_money
                + LOSS_PENALTY * (1.0 - link.reliability.clamp(0.0, 1.0)),
            latency,
            0.0,
        ],
        CostFunction::Money => [money, latency, 0.0],
    };
    Cost(c.map(|x| x * factor))
}

/// What a tenant's path search may use.
#[derive(Clone, Debug)]
pub struct Constraints {
    pub function: CostFunction,
    /// Fast links allowed (the level has a fast path and the tenant is within its quota).
    pub allow_fast: bool,
    /// Quarantine: only these links (indices); empty: any.
    pub quarantine: Vec<usize>,
    /// Per link: the tenant's cost factor (1.0 when not given).
    pub factors: Vec<f64>,
}

/// A shortest path: its links (indices, from the local node on) and total cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    pub links: Vec<usize>,
    pub cost: Cost,
}

/// Dijkstra from `from` over the links `usable` allows; returns per node the best path (None:
/// unreachable). Ties keep the first path found (node and link order), so results are stable.
pub fn shortest_paths(
    nodes: usize,
    links: &[SubstrateLink],
    from: NodeId,
    c: &Constraints,
    usable: impl Fn(usize) -> bool,
) -> Vec<Option<Path>> {
    let norm = Norm::of(links);
    let mut dist: Vec<Option<Cost>> = vec![None; nodes];
    let mut prev: Vec<Option<(usize, usize)>> = vec![None; nodes];
    let mut done = vec![false; nodes];
    if from.index() >= nodes {
        return vec![None; nodes];
    }
    dist[from.index()] = Some(Cost::default());
    loop {
        let mut best: Option<(usize, Cost)> = None;
        for (n, d) in dist.iter().enumerate() {
            if let (false, Some(d)) = (done[n], d) {
                if best.is_none_or(|(_, b)| d.cmp(&b) == Ordering::Less) {
                    best = Some((n, *d));
                }
            }
        }
        let Some((u, du)) = best else { break };
        done[u] = true;
        for (li, l) in links.iter().enumerate() {
            let v = if l.a.index() == u {
                l.b.index()
            } else if l.b.index() == u {
                l.a.index()
            } else {
                continue;
            };
            if v >= nodes || done[v] || !usable(li) {
                continue;
            }
            if !c.allow_fast && l.fast {
                continue;
            }
            if !c.quarantine.is_empty() && !c.quarantine.contains(&li) {
                continue;
            }
            let factor = c.factors.get(li).copied().unwrap_or(1.0);
            let nd = du.add(link_cost(c.function, l, norm, factor));
            if dist[v].is_none_or(|old| nd.cmp(&old) == Ordering::Less) {
                dist[v] = Some(nd);
                prev[v] = Some((u, li));
            }
        }
    }
    (0..nodes)
        .map(|n| {
            let cost = dist[n]?;
            let mut path = Vec::new();
            let mut at = n;
            while let Some((p, li)) = prev[at] {
                path.push(li);
                at = p;
                if path.len() > links.len() {
                    return None; // cannot happen with non-negative costs; never loop
                }
            }
            path.reverse();
            Some(Path { links: path, cost })
        })
        .collect()
}

/// The route manager's runtime state (what the topology file does not hold).
#[derive(Clone, Debug, Default)]
pub struct SubstrateState {
    /// Per link (topology order): up unless `substrate link X down`.
    pub link_up: Vec<bool>,
    /// Per tenant: over its fast-path quota (told by the application from worker counters).
    pub over_quota: Vec<bool>,
    /// Substrate neighbours learned by ARP on uplinks: (uplink, address) -> MAC.
    pub neighbours: BTreeMap<(PortId, Ipv4Addr), MacAddr>,
    /// Tunnel id -> (tenant, remote node), in id order; stable while hosts do not change.
    pub keys: Vec<(TenantId, NodeId)>,
    /// Per tunnel, the last route computed (for the shell and the FIB).
    pub routes: Vec<TunnelRoute>,
}

/// One tunnel's route and why it was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct TunnelRoute {
    pub tunnel: Tunnel,
    /// Link indices of the chosen path (empty: none).
    pub links: Vec<usize>,
    /// The uplink's next hop toward the remote VTEP (gateway, or the VTEP itself).
    pub next_hop: Option<Ipv4Addr>,
    /// Why this path (or none).
    pub reason: String,
}

/// Every (tenant, remote node) pair that needs a tunnel, sorted: the index is the TunnelId.
pub(crate) fn tunnel_keys(topo: &Topology) -> Vec<(TenantId, NodeId)> {
    let mut keys: Vec<(TenantId, NodeId)> = topo.remote_hosts.iter().map(|h| (h.tenant, h.node)).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The TunnelId of (tenant, node) in `keys`.
pub(crate) fn tunnel_id(keys: &[(TenantId, NodeId)], tenant: TenantId, node: NodeId) -> Option<TunnelId> {
    keys.binary_search(&(tenant, node)).ok().map(|i| TunnelId(i as u16))
}

/// Whether a service level may use fast links (`service_levels[].fast_path`; without an entry:
/// platinum and gold yes, silver no).
pub fn level_has_fast_path(topo: &Topology, level: ServiceLevel) -> bool {
    match topo.file.service_levels.iter().find(|s| s.level == level) {
        Some(s) => s.fast_path,
        None => level != ServiceLevel::Silver,
    }
}

/// The enabled uplink ports whose substrate link is `link` (port order).
fn uplinks_of<'a>(topo: &'a Topology, link: &'a str) -> impl Iterator<Item = &'a crate::topology::Port> + 'a {
    topo.ports
        .iter()
        .filter(move |p| matches!(&p.binding, PortBinding::Uplink { link: Some(l), .. } if l == link))
}

impl SubstrateState {
    /// Fresh state for `topo`: every link up, nobody over quota, no neighbours.
    pub fn new(topo: &Topology) -> SubstrateState {
        let mut s = SubstrateState {
            link_up: vec![true; topo.substrate.links.len()],
            over_quota: vec![false; topo.tenants.len()],
            ..SubstrateState::default()
        };
        s.recompute(topo);
        s
    }

    /// Keeps link states, quota flags and neighbours of `old` (after a rebuild on the same
    /// substrate) and recomputes the tunnels.
    pub fn carry_over(&mut self, old: SubstrateState, topo: &Topology) {
        if old.link_up.len() == self.link_up.len() {
            self.link_up = old.link_up;
        }
        if old.over_quota.len() == self.over_quota.len() {
            self.over_quota = old.over_quota;
        }
        self.neighbours = old.neighbours;
        self.recompute(topo);
    }

    /// Whether link `li` is usable: up, and when it leaves the local node, at least one of the
    /// uplink ports naming it is enabled.
    pub fn link_usable(&self, topo: &Topology, li: usize) -> bool {
        let Some(l) = topo.substrate.links.get(li) else { return false };
        if !self.link_up.get(li).copied().unwrap_or(false) {
            return false;
        }
        match topo.substrate.local {
            Some(local) if l.a == local || l.b == local => uplinks_of(topo, &l.name).any(|p| p.enabled),
            _ => true,
        }
    }

    /// Why link `li` is not usable, if it is not.
    pub fn link_down_reason(&self, topo: &Topology, li: usize) -> Option<String> {
        let l = topo.substrate.links.get(li)?;
        if !self.link_up.get(li).copied().unwrap_or(false) {
            return Some(format!("link {} down", l.name));
        }
        if self.link_usable(topo, li) {
            return None;
        }
        let ports: Vec<&str> = uplinks_of(topo, &l.name).map(|p| p.name.as_str()).collect();
        Some(if ports.is_empty() {
            format!("link {} has no uplink port", l.name)
        } else {
            format!("link {} down (uplink {} shut down)", l.name, ports.join(", "))
        })
    }

    /// The constraints of tenant `t`'s path search.
    pub fn constraints(&self, topo: &Topology, t: TenantId) -> Constraints {
        let Some(tenant) = topo.tenants.get(t.index()) else {
            return Constraints {
                function: CostFunction::Money,
                allow_fast: false,
                quarantine: Vec::new(),
                factors: Vec::new(),
            };
        };
        let over = self.over_quota.get(t.index()).copied().unwrap_or(false);
        let factors = match topo.file.tenants.get(t.index()) {
            Some(tc) => topo
                .substrate
                .links
                .iter()
                .map(|l| tc.substrate_cost_factors.get(&l.name).copied().unwrap_or(1.0))
                .collect(),
            None => Vec::new(),
        };
        Constraints {
            function: CostFunction::of(tenant.service_level),
            allow_fast: level_has_fast_path(topo, tenant.service_level) && !over,
            quarantine: tenant.quarantine_links.clone(),
            factors,
        }
    }

    /// Recomputes every tunnel's path (tunnel ids from the topology's remote hosts).
    pub fn recompute(&mut self, topo: &Topology) {
        self.keys = tunnel_keys(topo);
        self.link_up.resize(topo.substrate.links.len(), true);
        self.over_quota.resize(topo.tenants.len(), false);
        let mut routes = Vec::with_capacity(self.keys.len());
        let mut i = 0;
        while i < self.keys.len() {
            let tenant = self.keys[i].0;
            let end = self.keys[i..].iter().position(|k| k.0 != tenant).map_or(self.keys.len(), |n| i + n);
            routes.extend(self.tenant_routes(topo, tenant, &self.keys[i..end]));
            i = end;
        }
        self.routes = routes;
    }

    /// The routes of one tenant's tunnels (`keys`: that tenant's, in node order).
    fn tenant_routes(
        &self,
        topo: &Topology,
        tenant: TenantId,
        keys: &[(TenantId, NodeId)],
    ) -> Vec<TunnelRoute> {
        let sub = &topo.substrate;
        let c = self.constraints(topo, tenant);
        let no_path = |node: NodeId, reason: String| TunnelRoute {
            tunnel: Tunnel { tenant, node, path: None },
            links: Vec::new(),
            next_hop: None,
            reason,
        };
        let Some(local) = sub.local else {
            return keys.iter().map(|k| no_path(k.1, "no local substrate node".into())).collect();
        };
        let actual = shortest_paths(sub.nodes.len(), &sub.links, local, &c, |li| self.link_usable(topo, li));
        // The same search with every link up: names the down links that changed the pick.
        let ideal = shortest_paths(sub.nodes.len(), &sub.links, local, &c, |li| match sub.links.get(li) {
            Some(l) if sub.local.is_some_and(|lo| l.a == lo || l.b == lo) => {
                uplinks_of(topo, &l.name).next().is_some()
            }
            Some(_) => true,
            None => false,
        });
        let level = topo.tenants.get(tenant.index()).map(|t| t.service_level).unwrap_or_default();
        let mut why = vec![format!("{}: {}", level_name(level), c.function.describe())];
        if !level_has_fast_path(topo, level) {
            why.push(format!("{} has no fast path: slow links only", level_name(level)));
        } else if self.over_quota.get(tenant.index()).copied().unwrap_or(false) {
            why.push("over fast-path quota: slow links only".into());
        }
        if !c.quarantine.is_empty() {
            let names: Vec<&str> =
                c.quarantine.iter().filter_map(|&li| sub.links.get(li)).map(|l| l.name.as_str()).collect();
            why.push(format!("quarantine: links {}", names.join(", ")));
        }
        keys.iter()
            .map(|&(_, node)| {
                let mut why = why.clone();
                let got = actual.get(node.index()).cloned().flatten();
                let best = ideal.get(node.index()).cloned().flatten();
                if let Some(b) = &best {
                    if got.as_ref().map(|g| &g.links) != Some(&b.links) {
                        why.extend(b.links.iter().filter_map(|&li| self.link_down_reason(topo, li)));
                    }
                }
                let Some(path) = got else {
                    why.push("no usable path".into());
                    return no_path(node, why.join("; "));
                };
                match self.tunnel_path(topo, node, &path.links) {
                    Some((tp, nh)) => TunnelRoute {
                        tunnel: Tunnel { tenant, node, path: Some(tp) },
                        links: path.links,
                        next_hop: Some(nh),
                        reason: why.join("; "),
                    },
                    None => {
                        why.push("no enabled uplink on the first link".into());
                        no_path(node, why.join("; "))
                    }
                }
            })
            .collect()
    }

    /// The substrate side of a path: uplink of its first link, plane, outer addresses, MACs.
    fn tunnel_path(&self, topo: &Topology, node: NodeId, links: &[usize]) -> Option<(TunnelPath, Ipv4Addr)> {
        let first = topo.substrate.links.get(*links.first()?)?;
        let port = uplinks_of(topo, &first.name).find(|p| p.enabled)?;
        let PortBinding::Uplink { address, mac, gateway, mtu, .. } = &port.binding else { return None };
        let fast = links.iter().all(|&li| topo.substrate.links.get(li).is_some_and(|l| l.fast));
        let plane = if fast { Plane::Fast } else { Plane::Slow };
        let remote_ip = topo.substrate.nodes.get(node.index())?.address_on(plane);
        let next_hop = gateway.unwrap_or(remote_ip);
        Some((
            TunnelPath {
                port: port.id,
                plane,
                local_ip: *address,
                remote_ip,
                src_mac: *mac,
                dst_mac: self.neighbours.get(&(port.id, next_hop)).copied(),
                inner_mtu: mtu.saturating_sub(VXLAN_OVERHEAD),
            },
            next_hop,
        ))
    }

    /// The tunnels of the FIB, indexed by TunnelId.
    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.routes.iter().map(|r| r.tunnel).collect()
    }

    /// Whether `ip` is an address worth learning on uplink `port`: its gateway, or, on an
    /// on-link uplink, a VTEP address of a substrate node (bounds the neighbour table).
    pub fn wants_neighbour(topo: &Topology, port: PortId, ip: Ipv4Addr) -> bool {
        match topo.ports.get(port.index()).map(|p| &p.binding) {
            Some(PortBinding::Uplink { gateway: Some(g), .. }) => *g == ip,
            Some(PortBinding::Uplink { gateway: None, address, prefix_len, .. }) => {
                Ipv4Prefix::new(*address, *prefix_len).contains(ip)
                    && topo
                        .substrate
                        .nodes
                        .iter()
                        .any(|n| n.fast_address == ip || n.slow_address == ip || n.address == ip)
            }
            _ => false,
        }
    }
}

/// `show substrate`: nodes and links with their state.
pub(crate) fn substrate_view(topo: &Topology, st: &SubstrateState) -> crate::rib::SubstrateView {
    let sub = &topo.substrate;
    let name = |n: NodeId| sub.nodes.get(n.index()).map(|n| n.name.clone()).unwrap_or_default();
    crate::rib::SubstrateView {
        nodes: sub
            .nodes
            .iter()
            .map(|n| crate::rib::SubstrateNodeView {
                name: n.name.clone(),
                local: Some(n.id) == sub.local,
                address: n.address,
                fast_address: n.fast_address,
                slow_address: n.slow_address,
            })
            .collect(),
        links: sub
            .links
            .iter()
            .enumerate()
            .map(|(li, l)| crate::rib::SubstrateLinkView {
                name: l.name.clone(),
                a: name(l.a),
                b: name(l.b),
                latency_us: l.latency_us,
                bandwidth_mbps: l.bandwidth_mbps,
                cost: l.cost,
                reliability: l.reliability,
                fast: l.fast,
                up: st.link_usable(topo, li),
                down_reason: st.link_down_reason(topo, li),
            })
            .collect(),
    }
}

/// `show substrate paths`: the tunnels of `tenant` (None: all), tenant then node order.
pub(crate) fn path_views(
    topo: &Topology,
    st: &SubstrateState,
    tenant: Option<TenantId>,
) -> Vec<crate::rib::SubstratePathView> {
    st.routes
        .iter()
        .enumerate()
        .filter(|(_, r)| tenant.is_none_or(|t| r.tunnel.tenant == t))
        .map(|(i, r)| {
            let path = r.tunnel.path.as_ref();
            crate::rib::SubstratePathView {
                tenant: topo.tenants.get(r.tunnel.tenant.index()).map(|t| t.name.clone()).unwrap_or_default(),
                node: topo
                    .substrate
                    .nodes
                    .get(r.tunnel.node.index())
                    .map(|n| n.name.clone())
                    .unwrap_or_default(),
                tunnel: TunnelId(i as u16),
                links: r
                    .links
                    .iter()
                    .filter_map(|&li| topo.substrate.links.get(li))
                    .map(|l| l.name.clone())
                    .collect(),
                plane: path.map(|p| p.plane),
                uplink: path.and_then(|p| topo.ports.get(p.port.index())).map(|p| p.name.clone()),
                local_vtep: path.map(|p| p.local_ip),
                remote_vtep: path.map(|p| p.remote_ip),
                next_hop: r.next_hop,
                next_hop_mac: path.and_then(|p| p.dst_mac),
                inner_mtu: path.map(|p| p.inner_mtu),
                reason: r.reason.clone(),
            }
        })
        .collect()
}

fn level_name(l: ServiceLevel) -> &'static str {
    match l {
        ServiceLevel::Platinum => "platinum",
        ServiceLevel::Gold => "gold",
        ServiceLevel::Silver => "silver",
    }
}

/// Every VTEP address (all planes) of every remote node that holds a host, sorted by address.
pub(crate) fn vteps(topo: &Topology) -> Vec<(Ipv4Addr, NodeId)> {
    let mut v: Vec<(Ipv4Addr, NodeId)> = Vec::new();
    for n in &topo.substrate.nodes {
        if Some(n.id) == topo.substrate.local || !topo.remote_hosts.iter().any(|h| h.node == n.id) {
            continue;
        }
        v.extend([(n.address, n.id), (n.fast_address, n.id), (n.slow_address, n.id)]);
    }
    v.sort_unstable();
    v.dedup();
    v
}

/// The (uplink, next-hop address) pairs the application should resolve by ARP: the gateway of
/// every enabled uplink, and the next hop of every tunnel path (the remote VTEP itself on an
/// on-link uplink). Sorted, no duplicates.
pub fn arp_targets(ports: &[PortEntry], tunnels: &[Tunnel]) -> Vec<(PortId, Ipv4Addr)> {
    let mut v: Vec<(PortId, Ipv4Addr)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        if let (true, PortKind::Uplink { gateway: Some(g), .. }) = (p.up, &p.kind) {
            v.push((PortId(i as u16), *g));
        }
    }
    for t in tunnels {
        let Some(path) = &t.path else { continue };
        if let Some(PortKind::Uplink { gateway, .. }) = ports.get(path.port.index()).map(|p| &p.kind) {
            v.push((path.port, gateway.unwrap_or(path.remote_ip)));
        }
    }
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests;
