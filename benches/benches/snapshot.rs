//! Criterion bench: snapshot (placeholder until implemented).
fn main() {}
