//! The compiled forwarding information base: per logical router, an IPv4 longest-prefix-match
//! table (a DIR-16-8-8 multibit structure, split into /8 segments so one change rebuilds one
//! segment) whose leaves index an adjacency array. Built by the RIB thread, read by workers.
//!
//! CONTRACT (shared by the pipeline and the shell): the public types and methods below.

use crate::types::{Ipv4Prefix, MacAddr, PortId, RouterId, ServiceLevel, TableId, TenantId};
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
    /// Send to another substrate node over VXLAN (uplink `port`), after crossing `path`.
    Encap {
        port: PortId,
        vni: u32,
        local_ip: Ipv4Addr,
        remote_ip: Ipv4Addr,
        outer_src_mac: MacAddr,
        outer_dst_mac: MacAddr,
        inner_src_mac: MacAddr,
        inner_dst_mac: MacAddr,
        path: HopPath,
    },
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
    /// Substrate uplink (VXLAN); decapsulated frames are classified by VNI.
    Uplink { address: Ipv4Addr, mac: MacAddr },
}

/// Per-tenant data the pipeline needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantEntry {
    pub name: String,
    pub vni: u32,
    pub service_level: ServiceLevel,
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
        }
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
