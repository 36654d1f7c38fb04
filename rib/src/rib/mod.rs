//! The RIB thread: the only writer of routes. It owns the validated topology, the routes of
//! every logical router (connected, static, SPF-computed), the neighbour table and the route
//! manager's substrate state ([`substrate`]: link states, quota flags, learned substrate
//! neighbours, each tenant's tunnel paths); it takes
//! [`RibCommand`]s over a channel, batches them, recompiles what changed and publishes a new
//! FIB snapshot. [`RibHandle`] is the blocking client the shell and tests use.
//!
//! CONTRACT: the public API below is what the shell and the binary call. Bodies marked
//! `unimplemented!` are filled in by the RIB work.

pub mod compile;
pub mod spf;
pub mod substrate;
mod thread;
mod views;

pub use compile::compile_snapshot;

/// The routes of every router of `tenant` as `show ip route` lists them, computed directly
/// from a topology (no RIB thread): for tools and tests.
pub fn route_views(topology: &Topology, tenant: crate::types::TenantId) -> Vec<RouteView> {
    match topology.tenants.get(tenant.index()) {
        Some(t) => views::route_views(topology, &compile::TenantCtx::build(topology, t)),
        None => Vec::new(),
    }
}

/// The neighbour entries of every router of `tenant`, computed directly from a topology.
pub fn neighbour_views(topology: &Topology, tenant: crate::types::TenantId) -> Vec<NeighbourView> {
    match topology.tenants.get(tenant.index()) {
        Some(t) => views::neighbour_views(topology, &compile::TenantCtx::build(topology, t)),
        None => Vec::new(),
    }
}

use crate::fib::FibSnapshot;
use crate::snapshot::FibCell;
use crate::topology::{schema::TopologyFile, Topology};
use crate::types::{Ipv4Prefix, MacAddr};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Errors the RIB answers to a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("no tenant named '{0}'")]
    NoSuchTenant(String),
    #[error("no port named '{0}'")]
    NoSuchPort(String),
    #[error("no router named '{0}'")]
    NoSuchRouter(String),
    #[error("next hop {0} is not on a connected subnet of the tenant")]
    NextHopUnreachable(Ipv4Addr),
    #[error("no such route {0} via {1}")]
    NoSuchRoute(Ipv4Prefix, Ipv4Addr),
    #[error("no substrate link named '{0}'")]
    NoSuchLink(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("the RIB thread has stopped")]
    Stopped,
}

/// Where a route came from (the route code in `show ip route`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteSource {
    /// `C`: a subnet of one of the router's interfaces.
    Connected,
    /// `L`: the router interface's own address (/32).
    Local,
    /// `S`: static.
    Static,
    /// `O`: learned across the logical topology by SPF.
    Spf,
}

/// One route as the shell shows it, from one logical router's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteView {
    pub router: String,
    pub prefix: Ipv4Prefix,
    pub source: RouteSource,
    /// Administrative distance / metric as a router prints `[AD/metric]`.
    pub distance: u8,
    pub metric: u32,
    /// Next hop address (None for connected).
    pub next_hop: Option<Ipv4Addr>,
    /// Outgoing logical interface name (e.g. `Gi0/1`).
    pub interface: String,
    /// Whether the route is installed in the FIB.
    pub active: bool,
}

/// One neighbour (ARP) entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourView {
    pub router: String,
    pub address: Ipv4Addr,
    pub mac: MacAddr,
    pub interface: String,
    /// True for the router's own interface addresses (`-` age in `show arp`).
    pub local: bool,
}

/// A substrate node as `show substrate` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubstrateNodeView {
    pub name: String,
    /// This appliance's own node.
    pub local: bool,
    pub address: Ipv4Addr,
    pub fast_address: Ipv4Addr,
    pub slow_address: Ipv4Addr,
}

/// A substrate link as `show substrate` lists it.
#[derive(Clone, Debug, PartialEq)]
pub struct SubstrateLinkView {
    pub name: String,
    pub a: String,
    pub b: String,
    pub latency_us: u32,
    pub bandwidth_mbps: u32,
    pub cost: u32,
    pub reliability: f64,
    pub fast: bool,
    /// Usable by the route manager (up, and its local uplink enabled).
    pub up: bool,
    /// Why not, when not (`link X down`, `uplink upf shut down`).
    pub down_reason: Option<String>,
}

/// The substrate as the route manager sees it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SubstrateView {
    pub nodes: Vec<SubstrateNodeView>,
    pub links: Vec<SubstrateLinkView>,
}

/// One tenant's path to one remote node (`show substrate paths`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubstratePathView {
    pub tenant: String,
    pub node: String,
    pub tunnel: crate::types::TunnelId,
    /// Link names from the local node on (empty: no path).
    pub links: Vec<String>,
    pub plane: Option<crate::types::Plane>,
    /// Uplink port name.
    pub uplink: Option<String>,
    pub local_vtep: Option<Ipv4Addr>,
    pub remote_vtep: Option<Ipv4Addr>,
    /// The uplink's next hop (gateway or the remote VTEP) and its MAC once ARP resolved it.
    pub next_hop: Option<Ipv4Addr>,
    pub next_hop_mac: Option<MacAddr>,
    pub inner_mtu: Option<u16>,
    /// Service level, cost function, quota, quarantine, links down.
    pub reason: String,
}

/// Requests to the RIB thread; each carries its reply channel.
pub enum RibCommand {
    AddRoute {
        tenant: String,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    RemoveRoute {
        tenant: String,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    /// A route change from a feed ([`RibHandle::submit_route`]): applied like `AddRoute` /
    /// `RemoveRoute`, but a batch of only feed changes publishes the running configuration
    /// at most every 100 ms (the FIB at every batch).
    FeedRoute {
        add: bool,
        tenant: String,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    SetPortEnabled {
        port: String,
        enabled: bool,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    AddHost {
        tenant: String,
        host: crate::topology::schema::HostConfig,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    Routes {
        tenant: String,
        reply: crossbeam_channel::Sender<Result<Vec<RouteView>, RibError>>,
    },
    Neighbours {
        tenant: String,
        reply: crossbeam_channel::Sender<Result<Vec<NeighbourView>, RibError>>,
    },
    /// `substrate link NAME up|down`.
    SubstrateLink {
        name: String,
        up: bool,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    /// The tenant passed (or fell back under) its fast-path quota: platinum and gold tenants
    /// over quota use slow links only. No reply (sent by the application's counter loop).
    SetOverQuota {
        tenant: crate::types::TenantId,
        over: bool,
    },
    /// A substrate neighbour's MAC learned from ARP on an uplink (sent by the application from
    /// the frames workers hand over). Kept only for addresses the tunnels may need (the
    /// uplink's gateway, or a VTEP address on an on-link uplink). No reply.
    NeighbourLearned {
        port: crate::types::PortId,
        ip: Ipv4Addr,
        mac: MacAddr,
    },
    /// Substrate nodes and links with their state (`show substrate`).
    Substrate {
        reply: crossbeam_channel::Sender<SubstrateView>,
    },
    /// Tunnel paths of one tenant or of all (`show substrate paths [tenant T]`).
    SubstratePaths {
        tenant: Option<String>,
        reply: crossbeam_channel::Sender<Result<Vec<SubstratePathView>, RibError>>,
    },
    /// `traffic-shape rate BPS [burst BYTES]` on a port (None: `no traffic-shape`).
    SetPortShape {
        port: String,
        shape: Option<crate::topology::schema::ShapeConfig>,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    /// `ip redirect vrf T FROM TO` (`to` None: `no ip redirect vrf T FROM`).
    SetRedirect {
        tenant: String,
        from: Ipv4Addr,
        to: Option<Ipv4Addr>,
        reply: crossbeam_channel::Sender<Result<(), RibError>>,
    },
    /// The running configuration in file form (for `show running-config`, `write memory`).
    RunningConfig {
        reply: crossbeam_channel::Sender<TopologyFile>,
    },
    Shutdown,
}

/// Blocking client of the RIB thread. Cheap to clone; one per shell session is fine.
#[derive(Clone)]
pub struct RibHandle {
    pub(crate) tx: crossbeam_channel::Sender<RibCommand>,
    pub(crate) fib: Arc<FibCell>,
    pub(crate) topology: Arc<arc_swap::ArcSwap<Topology>>,
}

impl RibHandle {
    /// Starts the RIB thread on a validated topology; the first snapshot is published before
    /// this returns.
    pub fn spawn(topology: Topology) -> Result<RibHandle, RibError> {
        let state = thread::RibThread::new(topology)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let handle = RibHandle { tx, fib: state.fib(), topology: state.shared_topology() };
        std::thread::Builder::new()
            .name("rib".into())
            .spawn(move || state.run(rx))
            .map_err(|e| RibError::Invalid(format!("cannot start the RIB thread: {e}")))?;
        Ok(handle)
    }

    /// The FIB cell the workers read.
    pub fn fib(&self) -> Arc<FibCell> {
        self.fib.clone()
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<FibSnapshot> {
        self.fib.load_full()
    }

    /// The current validated topology (updated with every accepted change).
    pub fn topology(&self) -> Arc<Topology> {
        self.topology.load_full()
    }

    /// Sends a command built around a fresh reply channel and waits for the answer.
    fn request<T>(
        &self,
        make: impl FnOnce(crossbeam_channel::Sender<T>) -> RibCommand,
    ) -> Result<T, RibError> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.tx.send(make(reply)).map_err(|_| RibError::Stopped)?;
        answer.recv().map_err(|_| RibError::Stopped)
    }

    /// Adds a static route (`ip route`); when this returns Ok the new snapshot is published.
    pub fn add_route(&self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        self.request(|reply| RibCommand::AddRoute { tenant: tenant.to_string(), prefix, next_hop, reply })?
    }
    /// Queues a static route change (add, or remove with `add == false`) without waiting:
    /// the answer arrives on the returned channel once the change is published. For route
    /// feeds that keep many changes in flight (the RIB batches them into one publication).
    pub fn submit_route(
        &self,
        add: bool,
        tenant: &str,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
    ) -> Result<crossbeam_channel::Receiver<Result<(), RibError>>, RibError> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        let cmd = RibCommand::FeedRoute { add, tenant: tenant.to_string(), prefix, next_hop, reply };
        self.tx.send(cmd).map_err(|_| RibError::Stopped)?;
        Ok(answer)
    }

    /// Removes a static route (`no ip route`).
    pub fn remove_route(&self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        self.request(|reply| RibCommand::RemoveRoute { tenant: tenant.to_string(), prefix, next_hop, reply })?
    }
    /// `shutdown` / `no shutdown` of a port.
    pub fn set_port_enabled(&self, port: &str, enabled: bool) -> Result<(), RibError> {
        self.request(|reply| RibCommand::SetPortEnabled { port: port.to_string(), enabled, reply })?
    }
    /// `traffic-shape rate …` (Some) or `no traffic-shape` (None) on a port; published when
    /// this returns Ok.
    pub fn set_port_shape(
        &self,
        port: &str,
        shape: Option<crate::topology::schema::ShapeConfig>,
    ) -> Result<(), RibError> {
        self.request(|reply| RibCommand::SetPortShape { port: port.to_string(), shape, reply })?
    }
    /// `ip redirect vrf T FROM TO` (Some) or its `no` form (None); published when this
    /// returns Ok. `to` must be a host of the tenant.
    pub fn set_redirect(&self, tenant: &str, from: Ipv4Addr, to: Option<Ipv4Addr>) -> Result<(), RibError> {
        self.request(|reply| RibCommand::SetRedirect { tenant: tenant.to_string(), from, to, reply })?
    }
    /// Adds a host to a tenant (validated like the file).
    pub fn add_host(&self, tenant: &str, host: crate::topology::schema::HostConfig) -> Result<(), RibError> {
        self.request(|reply| RibCommand::AddHost { tenant: tenant.to_string(), host, reply })?
    }
    /// Routes of every router of the tenant (router by router, sorted by prefix), computed
    /// on the caller's thread from the published running configuration: a `show` never
    /// waits behind the RIB thread's batch and compile (under a route feed it may be up to
    /// one publication interval, 100 ms, behind; interactive changes are published at once).
    pub fn routes(&self, tenant: &str) -> Result<Vec<RouteView>, RibError> {
        let topo = self.topology();
        let t = topo.tenant_by_name(tenant).ok_or_else(|| RibError::NoSuchTenant(tenant.to_string()))?;
        Ok(route_views(&topo, t.id))
    }
    /// Neighbour (ARP) entries of every router of the tenant (like [`routes`](Self::routes),
    /// on the caller's thread).
    pub fn neighbours(&self, tenant: &str) -> Result<Vec<NeighbourView>, RibError> {
        let topo = self.topology();
        let t = topo.tenant_by_name(tenant).ok_or_else(|| RibError::NoSuchTenant(tenant.to_string()))?;
        Ok(neighbour_views(&topo, t.id))
    }
    /// `substrate link NAME up|down`; when this returns Ok the new tunnels are published.
    pub fn set_substrate_link(&self, name: &str, up: bool) -> Result<(), RibError> {
        self.request(|reply| RibCommand::SubstrateLink { name: name.to_string(), up, reply })?
    }
    /// Marks a tenant over (or back under) its fast-path quota; does not wait.
    pub fn set_over_quota(&self, tenant: crate::types::TenantId, over: bool) -> Result<(), RibError> {
        self.tx.send(RibCommand::SetOverQuota { tenant, over }).map_err(|_| RibError::Stopped)
    }
    /// Reports a substrate neighbour learned by ARP on uplink `port`; does not wait.
    pub fn neighbour_learned(
        &self,
        port: crate::types::PortId,
        ip: Ipv4Addr,
        mac: MacAddr,
    ) -> Result<(), RibError> {
        self.tx.send(RibCommand::NeighbourLearned { port, ip, mac }).map_err(|_| RibError::Stopped)
    }
    /// Substrate nodes and links with their state.
    pub fn substrate(&self) -> Result<SubstrateView, RibError> {
        self.request(|reply| RibCommand::Substrate { reply })
    }
    /// Tunnel paths of `tenant` (None: every tenant), tenant then node order.
    pub fn substrate_paths(&self, tenant: Option<&str>) -> Result<Vec<SubstratePathView>, RibError> {
        self.request(|reply| RibCommand::SubstratePaths { tenant: tenant.map(str::to_string), reply })?
    }
    /// The (uplink, next-hop address) pairs to resolve by ARP now (from the current snapshot):
    /// every enabled uplink's gateway and every tunnel's next hop.
    pub fn arp_targets(&self) -> Vec<(crate::types::PortId, Ipv4Addr)> {
        let snap = self.snapshot();
        substrate::arp_targets(&snap.ports, &snap.tunnels)
    }
    /// Per tenant with a fast-path quota: (tenant, quota in bytes), tenant order.
    pub fn fast_path_quotas(&self) -> Vec<(crate::types::TenantId, u64)> {
        self.topology().tenants.iter().filter_map(|t| t.fast_path_quota_bytes.map(|q| (t.id, q))).collect()
    }
    /// The running configuration (file form).
    pub fn running_config(&self) -> Result<TopologyFile, RibError> {
        self.request(|reply| RibCommand::RunningConfig { reply })
    }
    /// Stops the thread (workers keep the last snapshot).
    pub fn shutdown(&self) {
        let _ = self.tx.send(RibCommand::Shutdown);
    }
}

#[cfg(test)]
mod compile_tests;

#[cfg(test)]
mod thread_tests;
