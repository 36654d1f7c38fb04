//! pktgen: the AF_XDP traffic generator of the vnswitch benchmarks. `frame` builds and parses
//! stamped UDP frames, `flows` says what to send, `rate` paces it, `stats` accounts for what came
//! back, `xsk` holds the sockets, `counter` the XDP counting receiver (`xdp_count.c`), `sys` the
//! namespace/MAC helpers and `run` the generator loop.

pub mod counter;
pub mod flows;
pub mod frame;
pub mod rate;
pub mod run;
pub mod stats;
pub mod sys;
pub mod xsk;

use std::net::Ipv4Addr;

/// Everything that can stop pktgen.
#[derive(Debug, thiserror::Error)]
pub enum PktgenError {
    /// A command-line value that does not parse or is out of range.
    #[error("bad {what}: '{value}'")]
    BadArgument { what: &'static str, value: String },
    /// The flow ranges multiply to more flows than the stamp's 32-bit flow id can name.
    #[error("{0} flows: at most 4294967295")]
    TooManyFlows(u64),
    /// A network namespace could not be opened or entered.
    #[error("network namespace {name}: {source}")]
    Netns { name: String, source: std::io::Error },
    /// A device query (MAC, neighbour table) failed.
    #[error("device {dev}: {source}")]
    Device { dev: String, source: std::io::Error },
    /// The gateway did not answer ARP.
    #[error("no ARP answer from {ip} on {dev}: give --dst-mac")]
    ArpUnresolved { ip: Ipv4Addr, dev: String },
    /// An AF_XDP socket or UMEM could not be set up.
    #[error("AF_XDP on {dev}: {msg}")]
    Xsk { dev: String, msg: String },
    /// The XDP counting receiver could not be attached, found or read.
    #[error("XDP counter on {dev}: {msg}")]
    Counter { dev: String, msg: String },
    /// Writing the report or another I/O error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
