//! Per-worker counters (plain, non-atomic, owned by the worker) and their transport: each
//! worker pushes a `Copy` snapshot through an `rtrb` SPSC ring; the collector (shell side)
//! pops and aggregates. A worker never locks.
