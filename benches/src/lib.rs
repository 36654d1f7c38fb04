//! Shared code of the vnswitch benchmarks. [`pktgen`] is the AF_XDP traffic generator behind the
//! `pktgen` binary and `scripts/bench` (frames, flows, rate control, receive statistics, sockets);
//! the criterion benches in `benches/` use the workspace crates directly.

pub mod pktgen;
