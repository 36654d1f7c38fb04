//! The lock-free publication point of the FIB: the RIB thread stores a new immutable
//! [`FibSnapshot`] with one atomic pointer swap; workers load it once per batch without
//! blocking. An old snapshot is freed when the last worker guard on it is dropped.

use crate::fib::FibSnapshot;
use arc_swap::{ArcSwap, Guard};
use std::sync::Arc;

/// Shared cell holding the current FIB snapshot.
#[derive(Debug)]
pub struct FibCell {
    current: ArcSwap<FibSnapshot>,
}

impl FibCell {
    pub fn new(initial: Arc<FibSnapshot>) -> Self {
        FibCell { current: ArcSwap::new(initial) }
    }

    /// Cheap, wait-free load for the hot path: hold the guard for one batch only.
    #[inline]
    pub fn load(&self) -> Guard<Arc<FibSnapshot>> {
        self.current.load()
    }

    /// A counted reference, for holders that keep it for long (the shell, tests).
    pub fn load_full(&self) -> Arc<FibSnapshot> {
        self.current.load_full()
    }

    /// Publishes a new snapshot (RIB thread only).
    pub fn store(&self, snap: Arc<FibSnapshot>) {
        self.current.store(snap);
    }
}
