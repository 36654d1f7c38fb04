//! The RIB thread: the only writer of routes. It owns the validated topology, the routes of
//! every logical router (connected, static, SPF-computed) and the neighbour table; it takes
//! [`RibCommand`]s over a channel, batches them, recompiles what changed and publishes a new
//! FIB snapshot. [`RibHandle`] is the blocking client the shell and tests use.
//!
//! CONTRACT: the public API below is what the shell and the binary call. Bodies marked
//! `unimplemented!` are filled in by the RIB work.

pub mod compile;
pub mod spf;

pub use compile::compile_snapshot;

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
        let _ = topology;
        unimplemented!("RIB thread")
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

    pub fn add_route(&self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        let _ = (tenant, prefix, next_hop);
        unimplemented!()
    }
    pub fn remove_route(&self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        let _ = (tenant, prefix, next_hop);
        unimplemented!()
    }
    pub fn set_port_enabled(&self, port: &str, enabled: bool) -> Result<(), RibError> {
        let _ = (port, enabled);
        unimplemented!()
    }
    pub fn routes(&self, tenant: &str) -> Result<Vec<RouteView>, RibError> {
        let _ = tenant;
        unimplemented!()
    }
    pub fn neighbours(&self, tenant: &str) -> Result<Vec<NeighbourView>, RibError> {
        let _ = tenant;
        unimplemented!()
    }
    pub fn running_config(&self) -> Result<TopologyFile, RibError> {
        unimplemented!()
    }
    /// Stops the thread (workers keep the last snapshot).
    pub fn shutdown(&self) {
        let _ = self.tx.send(RibCommand::Shutdown);
    }
}

#[cfg(test)]
mod compile_tests;
