//! Shared helpers for vnswitch benchmarks.
