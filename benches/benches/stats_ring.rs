//! Criterion bench: stats_ring (placeholder until implemented).
fn main() {}
