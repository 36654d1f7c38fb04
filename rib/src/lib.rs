//! vnswitch control plane. The RIB thread is the only writer of routes: it loads the topology,
//! computes per-logical-router tables (connected, static, SPF), compiles them into an immutable
//! [`fib::FibSnapshot`] and publishes it through a lock-free [`snapshot::FibCell`].

pub mod fib;
pub mod rib;
pub mod snapshot;
pub mod topology;
pub mod types;

pub use fib::{Adjacency, FibSnapshot, HopPath, PortEntry, Redirect, RemoteHost, Shape, Tunnel, TunnelPath};
pub use rib::{
    compile_snapshot, NeighbourView, RibCommand, RibError, RibHandle, RouteSource, RouteView,
    SubstrateLinkView, SubstrateNodeView, SubstratePathView, SubstrateView,
};
pub use snapshot::FibCell;
pub use topology::{Topology, TopologyError};
pub use types::*;
