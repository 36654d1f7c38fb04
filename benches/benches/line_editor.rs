//! Criterion bench: line_editor (placeholder until implemented).
fn main() {}
