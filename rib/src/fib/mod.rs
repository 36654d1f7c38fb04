//! The compiled forwarding information base: per logical router, an IPv4 longest-prefix-match
//! table (a DIR-16-8-8 multibit structure, split into /8 segments so one change rebuilds one
//! segment) whose leaves index an adjacency array. Built by the RIB thread, read by workers.
//!
//! CONTRACT (shared by the pipeline and the shell): the public types and methods below.

use crate::types::{
    Ipv4Prefix, MacAddr, NodeId, Plane, PortId, RouterId, ServiceLevel, TableId, TenantId, TunnelId,
};
use std::net::Ipv4Addr;
use std::sync::Arc;

pub mod lpm;
pub use lpm::Lpm;

/// Most logical routers a frame may cross inside one virtual network.
pub const MAX_HOPS: usize = 8;

/// The logical routers a frame crosses, in order. `addrs[i]` is the address of the interface
/// on which router `i` receives the frame: the source of ICMP time-exceeded when the TTL runs
/// out at that router (what traceroute shows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HopPath {
    pub len: u8,
    pub addrs: [Ipv4Addr; MAX_HOPS],
    pub routers: [RouterId; MAX_HOPS],
}

impl HopPath {
    pub const EMPTY: HopPath =
        HopPath { len: 0, addrs: [Ipv4Addr::UNSPECIFIED; MAX_HOPS], routers: [RouterId(0); MAX_HOPS] };

    /// Appends a hop; returns false when the path is full.
    pub fn push(&mut self, router: RouterId, addr: Ipv4Addr) -> bool {
        let i = self.len as usize;
        if i >= MAX_HOPS {
            return false;
        }
        self.addrs[i] = addr;
        self.routers[i] = router;
        self.len += 1;
        true
    }

    /// The hop addresses in order.
    pub fn hop_addrs(&self) -> &[Ipv4Addr] {
        &self.addrs[..self.len as usize]
    }
}

/// What to do with a frame whose destination matched a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adjacency {
    /// Deliver to a host on a local access port after crossing `path` (TTL minus `path.len`).
    /// `src_mac` is the MAC of the last router's interface, `dst_mac` the host's MAC.
    Deliver { port: PortId, vlan: Option<u16>, src_mac: MacAddr, dst_mac: MacAddr, path: HopPath },
    /// The destination is an address of logical router `router`; the pipeline answers
    /// (ICMP echo). `path` holds the routers crossed before reaching it (not `router` itself).
    Local { router: RouterId, path: HopPath },
    /// Send to a host on another substrate node over VXLAN, after crossing `path`. How the
    /// frame crosses the substrate (uplink, plane, outer addresses and MACs, MTU) is the
    /// tunnel's: `FibSnapshot::tunnels[tunnel]`, so a path change rewrites only that table.
    /// `inner_src_mac` is the MAC of the last router's interface, `inner_dst_mac` the host's.
    Encap { tunnel: TunnelId, vni: u32, inner_src_mac: MacAddr, inner_dst_mac: MacAddr, path: HopPath },
    /// Route exists but leads nowhere usable (next hop unresolved, port down): drop, send
    /// ICMP host unreachable from the ingress router.
    Unreachable,
    /// Explicit discard (`ip route P Null0`).
    Blackhole,
}

/// How a frame arriving on a port is classified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortEntry {
    pub name: String,
    /// Administrative and link state: frames to or from a down port are dropped.
    pub up: bool,
    pub kind: PortKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// Tenant access port.
    Access {
        tenant: TenantId,
        /// Required 802.1Q tag (None: untagged).
        vlan: Option<u16>,
        /// The table of the router that owns the port's subnet (first hop of every frame).
        table: TableId,
        router: RouterId,
        /// The router's interface on the port's subnet: ARP target and ICMP error source.
        gateway_ip: Ipv4Addr,
        gateway_mac: MacAddr,
        subnet: Ipv4Prefix,
    },
    /// Substrate uplink (VXLAN); decapsulated frames are classified by VNI. The pipeline
    /// answers ARP for `address` (this appliance's VTEP address on the uplink's plane) and
    /// hands ARP from the uplink's neighbours to the control plane, which resolves the next hop
    /// (`gateway`: a Linux router, or the remote VTEP itself when on-link).
    Uplink {
        address: Ipv4Addr,
        mac: MacAddr,
        /// Substrate next hop on this uplink; None: remote VTEPs are on-link (two appliances
        /// back to back) and each is resolved itself.
        gateway: Option<Ipv4Addr>,
        /// Plane this uplink's substrate link belongs to.
        plane: Plane,
        /// Substrate MTU (largest outer IPv4 packet); the tenant MTU is this minus 50.
        mtu: u16,
    },
}

/// Bytes VXLAN adds in front of an inner IPv4 packet that the outer IPv4 MTU must also carry:
/// outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const VXLAN_OVERHEAD: u16 = 50;

/// How one tenant reaches one remote substrate node: chosen by the route manager by service
/// level, quota, quarantine and link state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub tenant: TenantId,
    pub node: NodeId,
    /// None: no usable substrate path (every link down, or quarantine excludes them all);
    /// frames are dropped as `substrate_no_path`.
    pub path: Option<TunnelPath>,
}

/// The substrate side of a tunnel: everything encapsulation writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelPath {
    /// Uplink the frame leaves on (the chosen path's first link).
    pub port: PortId,
    /// The chosen path's plane (selects `remote_ip` among the node's per-plane addresses).
    pub plane: Plane,
    /// Outer source: this appliance's VTEP address on `port`.
    pub local_ip: Ipv4Addr,
    /// Outer destination: the remote node's VTEP address on `plane`.
    pub remote_ip: Ipv4Addr,
    /// Outer source MAC (the uplink's).
    pub src_mac: MacAddr,
    /// Outer destination MAC: the uplink gateway's, None until ARP resolved it (frames are
    /// dropped as `substrate_unresolved` meanwhile).
    pub dst_mac: Option<MacAddr>,
    /// Largest inner IPv4 packet (uplink MTU - [`VXLAN_OVERHEAD`]); a larger DF packet gets
    /// ICMP fragmentation-needed from the logical router, a larger non-DF one is dropped too
    /// (never fragmented).
    pub inner_mtu: u16,
}

/// A tenant host that lives on a remote substrate node (decapsulation checks the inner
/// source against it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteHost {
    pub tenant: TenantId,
    pub ip: Ipv4Addr,
    pub mac: MacAddr,
    pub node: NodeId,
    /// The router owning the host's subnet: a frame from the host enters the virtual network
    /// there (its table, and its interface as gateway: inner destination MAC, ARP target,
    /// source of ICMP errors at the first hop), exactly as on a local access port.
    pub router: RouterId,
    pub table: TableId,
    pub gateway_ip: Ipv4Addr,
    pub gateway_mac: MacAddr,
}

/// Per-tenant data the pipeline needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantEntry {
    pub name: String,
    pub vni: u32,
    pub service_level: ServiceLevel,
}

/// Smallest shaper burst: one full Ethernet frame with a VLAN tag.
pub const MIN_SHAPE_BURST: u32 = 1518;

/// Parameters of a token-bucket shaper (per egress port, per tenant): `rate_bps` bits per
/// second of L2 bytes, at most `burst_bytes` saved (never under one frame; not added to the
/// rate: a full bucket lets `burst_bytes` pass at once, then the rate holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub rate_bps: u64,
    pub burst_bytes: u32,
}

impl Shape {
    /// A shaper of `rate_bps`; `burst` None takes 100 ms at the rate (at least 16 KiB): a
    /// tenant shaper drops what is over the rate at once (no queue) and TCP needs that much
    /// room to come near the rate through it; a port shaper also queues a few frames. A burst
    /// under one frame is raised to [`MIN_SHAPE_BURST`].
    pub fn new(rate_bps: u64, burst: Option<u32>) -> Shape {
        let default = (rate_bps / 8 / 10).clamp(16 * 1024, u32::MAX as u64) as u32;
        Shape { rate_bps, burst_bytes: burst.unwrap_or(default).max(MIN_SHAPE_BURST) }
    }
}

/// A destination redirect of one tenant (`ip redirect`): frames to `from` go to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub tenant: TenantId,
    pub from: Ipv4Addr,
    pub to: Ipv4Addr,
}

/// The table of one logical router.
#[derive(Debug)]
pub struct RouterTable {
    pub tenant: TenantId,
    pub router: RouterId,
    pub lpm: Lpm,
    /// Leaf values of `lpm` index this array.
    pub adjacencies: Arc<[Adjacency]>,
}

impl RouterTable {
    /// Longest-prefix match.
    #[inline]
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Adjacency> {
        let v = self.lpm.lookup(u32::from(dst))?;
        self.adjacencies.get(v as usize)
    }
}

/// One immutable, complete forwarding state. Workers read it; only the RIB builds it.
#[derive(Debug)]
pub struct FibSnapshot {
    /// Increases with every publication.
    pub generation: u64,
    /// Indexed by `PortId`.
    pub ports: Vec<PortEntry>,
    /// Indexed by `TenantId`.
    pub tenants: Vec<TenantEntry>,
    /// Indexed by `TableId`; shared between snapshots when unchanged.
    pub tables: Vec<Arc<RouterTable>>,
    /// VNI -> (tenant, table used for frames arriving from the substrate). Small, sorted by VNI.
    pub vni_map: Vec<(u32, TenantId, TableId)>,
    /// Indexed by `TunnelId`: one per (tenant, remote node that holds a host of the tenant).
    pub tunnels: Vec<Tunnel>,
    /// Every VTEP address of every remote substrate node (all planes) -> node, sorted by
    /// address: a decapsulated frame's outer source must be one of them.
    pub vteps: Vec<(Ipv4Addr, NodeId)>,
    /// Hosts on remote nodes, sorted by (tenant, ip): a decapsulated frame's inner source must
    /// be one of them, held by the node its outer source belongs to.
    pub remote_hosts: Vec<RemoteHost>,
    /// Egress shaper per port, indexed by `PortId` (shorter or None: unshaped).
    pub port_shapes: Vec<Option<Shape>>,
    /// Shaper of each tenant's traffic (its service level's rate), indexed by `TenantId`.
    pub tenant_shapes: Vec<Option<Shape>>,
    /// Destination redirects, sorted by (tenant, from); few per tenant.
    pub redirects: Vec<Redirect>,
}

impl FibSnapshot {
    /// An empty FIB (no ports, no tenants).
    pub fn empty() -> Self {
        FibSnapshot {
            generation: 0,
            ports: Vec::new(),
            tenants: Vec::new(),
            tables: Vec::new(),
            vni_map: Vec::new(),
            tunnels: Vec::new(),
            vteps: Vec::new(),
            remote_hosts: Vec::new(),
            port_shapes: Vec::new(),
            tenant_shapes: Vec::new(),
            redirects: Vec::new(),
        }
    }

    /// Where frames of `tenant` to `dst` go instead, if redirected.
    #[inline]
    pub fn redirect(&self, tenant: TenantId, dst: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.redirects.is_empty() {
            return None;
        }
        self.redirects
            .binary_search_by_key(&(tenant, dst), |r| (r.tenant, r.from))
            .ok()
            .map(|i| self.redirects[i].to)
    }

    /// The egress shaper of `port`.
    #[inline]
    pub fn port_shape(&self, port: PortId) -> Option<Shape> {
        self.port_shapes.get(port.index()).copied().flatten()
    }

    /// The shaper of `tenant`'s traffic.
    #[inline]
    pub fn tenant_shape(&self, tenant: TenantId) -> Option<Shape> {
        self.tenant_shapes.get(tenant.index()).copied().flatten()
    }

    /// The tunnel of an `Encap` adjacency.
    #[inline]
    pub fn tunnel(&self, id: TunnelId) -> Option<&Tunnel> {
        self.tunnels.get(id.index())
    }

    /// The remote node owning VTEP address `ip`.
    #[inline]
    pub fn vtep_node(&self, ip: Ipv4Addr) -> Option<NodeId> {
        self.vteps.binary_search_by_key(&ip, |e| e.0).ok().map(|i| self.vteps[i].1)
    }

    /// The remote host of `tenant` with address `ip`.
    #[inline]
    pub fn remote_host(&self, tenant: TenantId, ip: Ipv4Addr) -> Option<&RemoteHost> {
        self.remote_hosts
            .binary_search_by_key(&(tenant, ip), |h| (h.tenant, h.ip))
            .ok()
            .map(|i| &self.remote_hosts[i])
    }

    #[inline]
    pub fn port(&self, port: PortId) -> Option<&PortEntry> {
        self.ports.get(port.index())
    }

    #[inline]
    pub fn table(&self, table: TableId) -> Option<&RouterTable> {
        self.tables.get(table.index()).map(|t| &**t)
    }

    /// Longest-prefix match of `dst` in `table`.
    #[inline]
    pub fn lookup(&self, table: TableId, dst: Ipv4Addr) -> Option<&Adjacency> {
        self.table(table)?.lookup(dst)
    }
}
