//! IPv4 longest-prefix match: DIR-16-8-8 (as VPP's ip4_mtrie) split into 256 /8 segments held
//! by `Arc`, so a route change rebuilds one segment and shares the rest.
//!
//! CONTRACT: `Lpm::lookup(u32) -> Option<u32>` (leaf value), `Lpm::lookup_batch`.

/// Compiled LPM table; leaf values are adjacency indices.
#[derive(Debug, Clone, Default)]
pub struct Lpm {}

impl Lpm {
    /// Longest-prefix match of `addr` (host order); the leaf value of the best route.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        let _ = addr;
        None
    }
}
