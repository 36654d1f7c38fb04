//! vnswitch data plane. Zero-copy [`wire`] views over frame bytes, one module per pipeline
//! stage in [`pipeline`], the [`port`] boundary (in-memory and AF_XDP backends), poll-mode
//! [`worker`] threads, per-worker statistics leaving through SPSC rings ([`stats`]), and the
//! [`punt`] queues for router-originated probes and the [`mgmt`] queues of in-band management. Depends on the FIB types from `rib`, never
//! on the shell.

pub mod capture;
pub mod flows;
pub mod mgmt;
pub mod pipeline;
pub mod port;
pub mod punt;
pub mod stats;
pub mod testkit;
pub mod trunk;
pub mod wire;
pub mod worker;
#[cfg(feature = "xdp")]
pub mod xsk;
