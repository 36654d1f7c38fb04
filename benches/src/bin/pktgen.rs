//! pktgen: AF_XDP traffic generator (placeholder).
fn main() {}
