//! IPv4 longest-prefix match: DIR-16-8-8 (as VPP's ip4_mtrie) split into 256 /8 segments held
//! by `Arc`, so a route change rebuilds one segment and shares the rest.
//!
//! CONTRACT: `Lpm::lookup(u32) -> Option<u32>` (leaf value), `Lpm::lookup_batch`, `LpmTable`.
//! (Temporary simple implementation: per-length hash maps; the multibit version replaces it.)

use crate::types::Ipv4Prefix;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Compiled LPM table; leaf values are adjacency indices.
#[derive(Debug, Clone, Default)]
pub struct Lpm {
    by_len: Arc<Vec<HashMap<u32, u32>>>,
}

impl Lpm {
    /// Longest-prefix match of `addr` (host order); the leaf value of the best route.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        for len in (0..self.by_len.len()).rev() {
            let m = Ipv4Prefix::mask_of(len as u8);
            if let Some(v) = self.by_len[len].get(&(addr & m)) {
                return Some(*v);
            }
        }
        None
    }

    /// Looks up every address of `addrs` into `out` (same index). Only `min(len)` entries.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        for (a, o) in addrs.iter().zip(out.iter_mut()) {
            *o = self.lookup(*a);
        }
    }

    /// Approximate heap memory of the compiled table.
    pub fn memory_bytes(&self) -> usize {
        self.by_len.iter().map(|m| m.capacity() * 12).sum()
    }
}

/// The mutable master of one table (owned by the RIB thread): the prefix set and the last
/// compiled [`Lpm`].
#[derive(Debug, Clone, Default)]
pub struct LpmTable {
    routes: BTreeMap<Ipv4Prefix, u32>,
}

impl LpmTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bulk build from routes (a later duplicate prefix overrides an earlier one).
    pub fn from_routes<I: IntoIterator<Item = (Ipv4Prefix, u32)>>(routes: I) -> Self {
        LpmTable { routes: routes.into_iter().collect() }
    }

    /// Adds or replaces a route; returns the previous value.
    pub fn insert(&mut self, prefix: Ipv4Prefix, value: u32) -> Option<u32> {
        self.routes.insert(prefix, value)
    }

    /// Removes a route; returns its value.
    pub fn remove(&mut self, prefix: &Ipv4Prefix) -> Option<u32> {
        self.routes.remove(prefix)
    }

    pub fn get(&self, prefix: &Ipv4Prefix) -> Option<u32> {
        self.routes.get(prefix).copied()
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Prefix, u32)> + '_ {
        self.routes.iter().map(|(p, v)| (*p, *v))
    }

    /// Compiles the current prefix set.
    pub fn compile(&mut self) -> Lpm {
        let mut by_len = vec![HashMap::new(); 33];
        for (p, v) in &self.routes {
            by_len[p.len() as usize].insert(p.addr_u32(), *v);
        }
        Lpm { by_len: Arc::new(by_len) }
    }
}
