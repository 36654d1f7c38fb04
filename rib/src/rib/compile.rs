//! Route computation and FIB compilation (pure, no thread): for every tenant, which routers
//! originate which prefixes (router addresses, hosts, connected subnets, static routes), SPF
//! between routers, and for every logical router's table a hop-by-hop walk from that router to
//! the action for each prefix. The result per table is an [`LpmTable`] over an adjacency array,
//! kept between compiles so one changed route rebuilds one /8 segment.

use super::spf::{Spf, UNREACHABLE};
use super::substrate::SubstrateState;
use super::RibError;
use crate::fib::lpm::LpmTable;
use crate::fib::{
    Adjacency, FibSnapshot, HopPath, PortEntry, PortKind, Redirect, RemoteHost, RouterTable, Shape,
    TenantEntry, MAX_HOPS,
};
use crate::topology::{PortBinding, StaticRoute, Tenant, Topology};
use crate::types::{Ipv4Prefix, RouterId, TableId, TenantId};
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// A small fast hasher for the RIB's integer-like keys (fx-style mixing, murmur finaliser).
#[derive(Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Who puts a prefix into the tenant's routing, at which router (local index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Origin {
    /// A router interface's own address (/32): answered by the router.
    Local { router: u16, iface: u16 },
    /// A known host (/32) behind the router owning its port's subnet.
    Host { router: u16, host: u32 },
    /// A host on a remote substrate node (/32, index into `Topology::remote_hosts`) behind
    /// the router owning its subnet: reached over the tenant's tunnel to that node.
    RemoteHost { router: u16, host: u32 },
    /// A router interface's subnet.
    Connected { router: u16, iface: u16 },
    /// A static route held by the router.
    Static { router: u16, next_hop: Ipv4Addr },
}

impl Origin {
    pub(crate) fn router(self) -> usize {
        match self {
            Origin::Local { router, .. }
            | Origin::Host { router, .. }
            | Origin::RemoteHost { router, .. }
            | Origin::Connected { router, .. }
            | Origin::Static { router, .. } => router as usize,
        }
    }

    /// Preference among origins at the same router (lower wins).
    fn rank(self) -> u8 {
        match self {
            Origin::Local { .. } => 0,
            Origin::Host { .. } | Origin::RemoteHost { .. } => 1,
            Origin::Connected { .. } => 2,
            Origin::Static { .. } => 3,
        }
    }
}

/// The origins of one prefix; almost always exactly one, stored inline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origins {
    One(Origin),
    Many(Vec<Origin>),
}

impl Origins {
    pub(crate) fn as_slice(&self) -> &[Origin] {
        match self {
            Origins::One(o) => std::slice::from_ref(o),
            Origins::Many(v) => v,
        }
    }

    fn add(&mut self, o: Origin) {
        match self {
            Origins::One(first) => {
                if *first != o {
                    *self = Origins::Many(vec![*first, o]);
                }
            }
            Origins::Many(v) => {
                if !v.contains(&o) {
                    v.push(o)
                }
            }
        }
    }

    /// Removes `o`; returns true when nothing is left.
    fn remove(&mut self, o: Origin) -> bool {
        match self {
            Origins::One(first) => *first == o,
            Origins::Many(v) => {
                v.retain(|x| *x != o);
                let empty = v.is_empty();
                if let [only] = v.as_slice() {
                    let only = *only;
                    *self = Origins::One(only);
                }
                empty
            }
        }
    }
}

/// Everything about one tenant the walks need, indexed by local router number.
#[derive(Debug, Clone)]
pub(crate) struct TenantCtx {
    pub tenant: TenantId,
    /// Local index -> global router id.
    pub routers: Vec<RouterId>,
    pub spf: Spf,
    /// Host address -> index into `Topology::hosts`.
    pub host_by_addr: FastMap<Ipv4Addr, u32>,
    /// Remote host address -> index into `Topology::remote_hosts`.
    pub remote_by_addr: FastMap<Ipv4Addr, u32>,
    /// Remote node -> the tenant's tunnel to it.
    pub tunnel_of: FastMap<crate::types::NodeId, crate::types::TunnelId>,
    /// Router interface address -> (local router, interface index).
    pub router_by_addr: FastMap<Ipv4Addr, (u16, u16)>,
    /// Prefix -> origins, in prefix order (bulk-built from a sorted list; walks produce
    /// routes in order, which the LPM builder takes in linear time).
    pub origins: BTreeMap<Ipv4Prefix, Origins>,
}

impl TenantCtx {
    pub(crate) fn build(topo: &Topology, tenant: &Tenant) -> TenantCtx {
        let routers = tenant.routers.clone();
        let base = routers.first().map(|r| r.index()).unwrap_or(0);
        let local = |r: RouterId| r.index().wrapping_sub(base);
        let spf = Spf::compute(routers.len(), &tenant.links, local);
        let mut host_by_addr = FastMap::default();
        let mut router_by_addr = FastMap::default();
        let mut pairs: Vec<(Ipv4Prefix, Origin)> =
            Vec::with_capacity(tenant.static_routes.len() + tenant.hosts.len() + 4 * routers.len());
        for (li, r) in routers.iter().enumerate() {
            for (ii, i) in topo.routers[r.index()].interfaces.iter().enumerate() {
                router_by_addr.insert(i.address, (li as u16, ii as u16));
                pairs.push((
                    Ipv4Prefix::new(i.address, 32),
                    Origin::Local { router: li as u16, iface: ii as u16 },
                ));
                pairs.push((i.subnet, Origin::Connected { router: li as u16, iface: ii as u16 }));
            }
        }
        for &hi in &tenant.hosts {
            let h = &topo.hosts[hi];
            host_by_addr.insert(h.address, hi as u32);
            if let Some(PortBinding::Access { router, .. }) =
                topo.ports.get(h.port.index()).map(|p| &p.binding)
            {
                let o = Origin::Host { router: local(*router) as u16, host: hi as u32 };
                pairs.push((Ipv4Prefix::new(h.address, 32), o));
            }
        }
        let mut remote_by_addr = FastMap::default();
        let mut tunnel_of = FastMap::default();
        if !tenant.remote_hosts.is_empty() {
            let keys = super::substrate::tunnel_keys(topo);
            for &hi in &tenant.remote_hosts {
                let Some(h) = topo.remote_hosts.get(hi) else { continue };
                remote_by_addr.insert(h.address, hi as u32);
                if let Some(id) = super::substrate::tunnel_id(&keys, tenant.id, h.node) {
                    tunnel_of.insert(h.node, id);
                }
                let o = Origin::RemoteHost { router: local(h.router) as u16, host: hi as u32 };
                pairs.push((Ipv4Prefix::new(h.address, 32), o));
            }
        }
        for s in &tenant.static_routes {
            pairs.push((s.prefix, Self::static_origin(base, s)));
        }
        // Prefix order as `Ipv4Prefix`'s Ord (address, then length), packed in one integer.
        pairs.sort_unstable_by_key(|(p, o)| ((p.addr_u32() as u64) << 8 | p.len() as u64, *o));
        let mut grouped: Vec<(Ipv4Prefix, Origins)> = Vec::with_capacity(pairs.len());
        for (p, o) in pairs {
            match grouped.last_mut() {
                Some((lp, list)) if *lp == p => list.add(o),
                _ => grouped.push((p, Origins::One(o))),
            }
        }
        let origins: BTreeMap<Ipv4Prefix, Origins> = grouped.into_iter().collect();
        TenantCtx {
            tenant: tenant.id,
            routers,
            spf,
            host_by_addr,
            remote_by_addr,
            tunnel_of,
            router_by_addr,
            origins,
        }
    }

    fn static_origin(base: usize, s: &StaticRoute) -> Origin {
        Origin::Static { router: s.router.index().wrapping_sub(base) as u16, next_hop: s.next_hop }
    }

    /// Adds a static route's origin.
    pub(crate) fn add_static(&mut self, s: &StaticRoute) {
        let o = Self::static_origin(self.routers.first().map(|r| r.index()).unwrap_or(0), s);
        match self.origins.get_mut(&s.prefix) {
            Some(list) => list.add(o),
            None => {
                self.origins.insert(s.prefix, Origins::One(o));
            }
        }
    }

    /// True when this static route is already known.
    pub(crate) fn has_static(&self, s: &StaticRoute) -> bool {
        let o = Self::static_origin(self.routers.first().map(|r| r.index()).unwrap_or(0), s);
        self.origins.get(&s.prefix).is_some_and(|list| list.as_slice().contains(&o))
    }

    /// The static route `prefix` via `next_hop` held by any router, if known.
    pub(crate) fn find_static(&self, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Option<StaticRoute> {
        self.origins.get(&prefix)?.as_slice().iter().find_map(|o| match *o {
            Origin::Static { router, next_hop: nh } if nh == next_hop => {
                Some(StaticRoute { prefix, next_hop, router: *self.routers.get(router as usize)? })
            }
            _ => None,
        })
    }

    /// Removes a static route's origin.
    pub(crate) fn remove_static(&mut self, s: &StaticRoute) {
        let o = Self::static_origin(self.routers.first().map(|r| r.index()).unwrap_or(0), s);
        if let Some(list) = self.origins.get_mut(&s.prefix) {
            if list.remove(o) {
                self.origins.remove(&s.prefix);
            }
        }
    }

    /// What router `r` does with a prefix with `origins`.
    fn decide(&self, r: usize, origins: &[Origin]) -> Decision {
        if let Some(o) = origins.iter().filter(|o| o.router() == r).min_by_key(|o| o.rank()) {
            return Decision::Terminal(*o);
        }
        let best = origins
            .iter()
            .map(|o| (self.spf.dist(r, o.router()), o.router()))
            .filter(|(d, _)| *d != UNREACHABLE)
            .min();
        match best.and_then(|(_, to)| self.spf.first_hop(r, to)) {
            Some(h) => Decision::Spf { neighbour: h.neighbour, link: h.link },
            None => Decision::NoRoute,
        }
    }

    /// The adjacency of a prefix with `origins` in the table of local router `table`; None when
    /// the table has no route for it.
    pub(crate) fn walk(&self, topo: &Topology, table: usize, origins: &[Origin]) -> Option<Adjacency> {
        let tenant = &topo.tenants[self.tenant.index()];
        let router_of = |l: usize| &topo.routers[self.routers[l].index()];
        let mut path = HopPath::EMPTY;
        let mut r = table;
        let mut in_addr = router_of(r).interfaces.first().map(|i| i.address).unwrap_or(Ipv4Addr::UNSPECIFIED);
        loop {
            if !path.push(self.routers[r], in_addr) {
                return Some(Adjacency::Unreachable);
            }
            match self.decide(r, origins) {
                Decision::NoRoute => return (path.len > 1).then_some(Adjacency::Unreachable),
                Decision::Spf { neighbour, link } => {
                    let l = &tenant.links[link];
                    let iface = if self.routers[neighbour] == l.a { l.a_interface } else { l.b_interface };
                    in_addr =
                        router_of(neighbour).interfaces.get(iface).map(|i| i.address).unwrap_or(in_addr);
                    r = neighbour;
                }
                Decision::Terminal(Origin::Local { .. }) => {
                    let mut before = HopPath::EMPTY;
                    for i in 0..path.len as usize - 1 {
                        before.push(path.routers[i], path.addrs[i]);
                    }
                    return Some(Adjacency::Local { router: self.routers[r], path: before });
                }
                Decision::Terminal(Origin::Host { host, .. }) => {
                    return Some(self.deliver(topo, r, host, path))
                }
                Decision::Terminal(Origin::RemoteHost { host, .. }) => {
                    return Some(self.encap(topo, r, host, path))
                }
                Decision::Terminal(Origin::Connected { .. }) => return Some(Adjacency::Unreachable),
                Decision::Terminal(Origin::Static { next_hop, .. }) => {
                    if let Some(&host) = self.host_by_addr.get(&next_hop) {
                        return Some(self.deliver(topo, r, host, path));
                    }
                    if let Some(&host) = self.remote_by_addr.get(&next_hop) {
                        return Some(self.encap(topo, r, host, path));
                    }
                    match self.router_by_addr.get(&next_hop) {
                        Some(&(r2, _)) if r2 as usize != r => {
                            r = r2 as usize;
                            in_addr = next_hop;
                        }
                        _ => return Some(Adjacency::Unreachable),
                    }
                }
            }
        }
    }

    /// Delivery of a frame by local router `r` to host `host` (Unreachable when its port is down).
    fn deliver(&self, topo: &Topology, r: usize, host: u32, path: HopPath) -> Adjacency {
        let Some(h) = topo.hosts.get(host as usize) else { return Adjacency::Unreachable };
        let Some(port) = topo.ports.get(h.port.index()) else { return Adjacency::Unreachable };
        let PortBinding::Access { vlan, .. } = port.binding else { return Adjacency::Unreachable };
        if !port.enabled {
            return Adjacency::Unreachable;
        }
        let router = &topo.routers[self.routers[r].index()];
        let Some(iface) = router.interfaces.iter().find(|i| i.subnet.contains(h.address)) else {
            return Adjacency::Unreachable;
        };
        Adjacency::Deliver { port: h.port, vlan, src_mac: iface.mac, dst_mac: h.mac, path }
    }
}

impl TenantCtx {
    /// Sending by local router `r` to remote host `host` over the tenant's tunnel to the
    /// host's node: the same logical hops as a local delivery, then VXLAN. Whether the
    /// substrate has a path is the tunnel's business (it changes without touching this).
    fn encap(&self, topo: &Topology, r: usize, host: u32, path: HopPath) -> Adjacency {
        let Some(h) = topo.remote_hosts.get(host as usize) else { return Adjacency::Unreachable };
        let Some(&tunnel) = self.tunnel_of.get(&h.node) else { return Adjacency::Unreachable };
        let Some(t) = topo.tenants.get(self.tenant.index()) else { return Adjacency::Unreachable };
        let router = &topo.routers[self.routers[r].index()];
        let Some(iface) = router.interfaces.iter().find(|i| i.subnet.contains(h.address)) else {
            return Adjacency::Unreachable;
        };
        Adjacency::Encap { tunnel, vni: t.vni, inner_src_mac: iface.mac, inner_dst_mac: h.mac, path }
    }
}

#[derive(Debug, Clone, Copy)]
enum Decision {
    Terminal(Origin),
    Spf { neighbour: usize, link: usize },
    NoRoute,
}

/// Hash/Eq wrapper so adjacencies can be interned (the FIB type does not derive Hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AdjKey(Adjacency);

fn hash_path<H: Hasher>(p: &HopPath, h: &mut H) {
    p.len.hash(h);
    p.hop_addrs().hash(h);
    p.routers[..(p.len as usize).min(MAX_HOPS)].hash(h);
}

impl Hash for AdjKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match &self.0 {
            Adjacency::Deliver { port, vlan, src_mac, dst_mac, path } => {
                0u8.hash(h);
                (port, vlan, src_mac, dst_mac).hash(h);
                hash_path(path, h);
            }
            Adjacency::Local { router, path } => {
                1u8.hash(h);
                router.hash(h);
                hash_path(path, h);
            }
            Adjacency::Encap { tunnel, vni, inner_src_mac, inner_dst_mac, path } => {
                2u8.hash(h);
                (tunnel, vni, inner_src_mac, inner_dst_mac).hash(h);
                hash_path(path, h);
            }
            Adjacency::Unreachable => 3u8.hash(h),
            Adjacency::Blackhole => 4u8.hash(h),
        }
    }
}

/// One table's compile state, kept by the RIB between compiles.
#[derive(Debug)]
pub(crate) struct TableState {
    pub router: RouterId,
    pub tenant: TenantId,
    pub lpm: LpmTable,
    /// Interned adjacencies; leaf values index this (append-only between full rebuilds).
    adjs: Vec<Adjacency>,
    adj_index: FastMap<AdjKey, u32>,
    /// Single-origin prefix results: the walk depends only on the origin.
    memo: FastMap<Origin, Option<u32>>,
    /// The adjacency array last published (rebuilt only when `adjs` grew).
    published_adjs: Arc<[Adjacency]>,
    /// The last compiled table, reused while nothing changed.
    pub compiled: Option<Arc<RouterTable>>,
    /// Routes changed since `compiled`.
    pub dirty: bool,
}

impl TableState {
    fn new(router: RouterId, tenant: TenantId) -> TableState {
        TableState {
            router,
            tenant,
            lpm: LpmTable::new(),
            adjs: Vec::new(),
            adj_index: FastMap::default(),
            memo: FastMap::default(),
            published_adjs: Arc::from(Vec::new()),
            compiled: None,
            dirty: true,
        }
    }

    fn intern(&mut self, a: Adjacency) -> u32 {
        if let Some(&i) = self.adj_index.get(&AdjKey(a)) {
            return i;
        }
        let i = self.adjs.len() as u32;
        self.adjs.push(a);
        self.adj_index.insert(AdjKey(a), i);
        i
    }

    /// The leaf value of a prefix with `origins`, or None when this table has no route.
    fn resolve(&mut self, ctx: &TenantCtx, topo: &Topology, table: usize, origins: &Origins) -> Option<u32> {
        match origins {
            Origins::One(o) => {
                if let Some(v) = self.memo.get(o) {
                    return *v;
                }
                let v = ctx.walk(topo, table, std::slice::from_ref(o)).map(|a| self.intern(a));
                self.memo.insert(*o, v);
                v
            }
            Origins::Many(list) => ctx.walk(topo, table, list).map(|a| self.intern(a)),
        }
    }

    /// The compiled table, compiling the LPM again when routes changed.
    pub(crate) fn table(&mut self) -> Arc<RouterTable> {
        if let (false, Some(t)) = (self.dirty, &self.compiled) {
            return t.clone();
        }
        if self.published_adjs.len() != self.adjs.len() {
            self.published_adjs = Arc::from(self.adjs.as_slice());
        }
        let t = Arc::new(RouterTable {
            tenant: self.tenant,
            router: self.router,
            lpm: self.lpm.compile(),
            adjacencies: self.published_adjs.clone(),
        });
        self.compiled = Some(t.clone());
        self.dirty = false;
        t
    }
}

/// One tenant's routing state: the context and a table per router (local index order).
#[derive(Debug)]
pub(crate) struct TenantRib {
    pub ctx: TenantCtx,
    pub tables: Vec<TableState>,
}

impl TenantRib {
    /// Computes every table of `tenant` from scratch.
    pub(crate) fn build(topo: &Topology, tenant: &Tenant) -> TenantRib {
        let ctx = TenantCtx::build(topo, tenant);
        let mut tables = Vec::with_capacity(ctx.routers.len());
        for (li, &r) in ctx.routers.iter().enumerate() {
            let mut st = TableState::new(r, tenant.id);
            let mut routes = Vec::with_capacity(ctx.origins.len());
            for (p, o) in &ctx.origins {
                if let Some(v) = st.resolve(&ctx, topo, li, o) {
                    routes.push((*p, v));
                }
            }
            st.lpm = LpmTable::from_routes(routes);
            tables.push(st);
        }
        TenantRib { ctx, tables }
    }

    /// Recomputes `prefix` in every table after its origins changed (static route added or
    /// removed); marks the tables whose entry changed.
    pub(crate) fn update_prefix(&mut self, topo: &Topology, prefix: Ipv4Prefix) {
        let origins = self.ctx.origins.get(&prefix);
        for (li, st) in self.tables.iter_mut().enumerate() {
            let new = origins.and_then(|o| st.resolve(&self.ctx, topo, li, o));
            let old = st.lpm.get(&prefix);
            if new != old {
                match new {
                    Some(v) => {
                        st.lpm.insert(prefix, v);
                    }
                    None => {
                        st.lpm.remove(&prefix);
                    }
                }
                st.dirty = true;
            }
        }
    }
}

/// The whole RIB: one [`TenantRib`] per tenant (tenant order).
#[derive(Debug)]
pub(crate) struct RibState {
    pub tenants: Vec<TenantRib>,
    /// The route manager's substrate state: link states, quotas, neighbours, tunnel paths.
    pub substrate: SubstrateState,
}

impl RibState {
    pub(crate) fn build(topo: &Topology) -> RibState {
        RibState {
            tenants: topo.tenants.iter().map(|t| TenantRib::build(topo, t)).collect(),
            substrate: SubstrateState::new(topo),
        }
    }

    /// Assembles a snapshot: compiles dirty tables, reuses the others; the route manager
    /// recomputes the tunnels' substrate paths (small graphs: cheap) every time.
    pub(crate) fn snapshot(&mut self, topo: &Topology, generation: u64) -> Result<FibSnapshot, RibError> {
        self.substrate.recompute(topo);
        let mut tables: Vec<Option<Arc<RouterTable>>> = vec![None; topo.routers.len()];
        for t in &mut self.tenants {
            for st in &mut t.tables {
                let slot = tables
                    .get_mut(st.router.index())
                    .ok_or_else(|| RibError::Invalid(format!("router id {} out of range", st.router.0)))?;
                *slot = Some(st.table());
            }
        }
        let tables = tables
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.ok_or_else(|| RibError::Invalid(format!("router {i} has no table"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FibSnapshot {
            generation,
            ports: port_entries(topo),
            tenants: topo
                .tenants
                .iter()
                .map(|t| TenantEntry { name: t.name.clone(), vni: t.vni, service_level: t.service_level })
                .collect(),
            tables,
            vni_map: vni_map(topo),
            tunnels: self.substrate.tunnels(),
            vteps: super::substrate::vteps(topo),
            remote_hosts: remote_host_entries(topo),
            port_shapes: topo
                .file
                .ports
                .iter()
                .map(|p| p.shape.map(|c| Shape::new(c.rate_bps, c.burst_bytes)))
                .collect(),
            tenant_shapes: topo.tenants.iter().map(|t| tenant_shape(topo, t.service_level)).collect(),
            redirects: redirect_entries(topo),
        })
    }
}

/// The shaper of a tenant of `level`: its service level's `rate_mbps`, if any.
fn tenant_shape(topo: &Topology, level: crate::types::ServiceLevel) -> Option<Shape> {
    let sl = topo.file.service_levels.iter().find(|s| s.level == level)?;
    sl.rate_mbps.map(|m| Shape::new(u64::from(m) * 1_000_000, None))
}

/// The FIB's redirects, sorted by (tenant, from); tenants in file order.
fn redirect_entries(topo: &Topology) -> Vec<Redirect> {
    let mut v: Vec<Redirect> = topo
        .file
        .tenants
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            t.redirects.iter().map(move |r| Redirect { tenant: TenantId(i as u16), from: r.from, to: r.to })
        })
        .collect();
    v.sort_unstable_by_key(|r| (r.tenant, r.from));
    v.dedup_by_key(|r| (r.tenant, r.from));
    v
}

/// The FIB's remote hosts, sorted by (tenant, ip).
fn remote_host_entries(topo: &Topology) -> Vec<RemoteHost> {
    let mut v: Vec<RemoteHost> = topo
        .remote_hosts
        .iter()
        .filter_map(|h| {
            let i = topo.routers.get(h.router.index())?.interfaces.get(h.interface)?;
            Some(RemoteHost {
                tenant: h.tenant,
                ip: h.address,
                mac: h.mac,
                node: h.node,
                router: h.router,
                table: TableId(h.router.0),
                gateway_ip: i.address,
                gateway_mac: i.mac,
            })
        })
        .collect();
    v.sort_unstable_by_key(|h| (h.tenant, h.ip));
    v
}

fn port_entries(topo: &Topology) -> Vec<PortEntry> {
    topo.ports
        .iter()
        .map(|p| PortEntry {
            name: p.name.clone(),
            up: p.enabled,
            kind: match p.binding {
                PortBinding::Access { tenant, subnet, vlan, router, interface } => {
                    let i = &topo.routers[router.index()].interfaces[interface];
                    PortKind::Access {
                        tenant,
                        vlan,
                        table: TableId(router.0),
                        router,
                        gateway_ip: i.address,
                        gateway_mac: i.mac,
                        subnet,
                    }
                }
                PortBinding::Uplink { address, mac, gateway, mtu, ref link, .. } => {
                    // The plane of the uplink's substrate link (slow when it names none).
                    let plane = link
                        .as_deref()
                        .and_then(|l| topo.substrate.links.iter().find(|sl| sl.name == l))
                        .map_or(crate::types::Plane::Slow, |l| l.plane());
                    PortKind::Uplink { address, mac, gateway, plane, mtu }
                }
            },
        })
        .collect()
}

fn vni_map(topo: &Topology) -> Vec<(u32, TenantId, TableId)> {
    let mut m: Vec<_> =
        topo.tenants.iter().filter_map(|t| t.routers.first().map(|r| (t.vni, t.id, TableId(r.0)))).collect();
    m.sort_unstable_by_key(|e| e.0);
    m
}

/// Computes every route of `topology` and compiles a complete FIB snapshot (generation 1).
pub fn compile_snapshot(topology: &Topology) -> Result<FibSnapshot, RibError> {
    RibState::build(topology).snapshot(topology, 1)
}
