//! Criterion bench: fib (placeholder until implemented).
fn main() {}
