//! Criterion bench: pipeline (placeholder until implemented).
fn main() {}
