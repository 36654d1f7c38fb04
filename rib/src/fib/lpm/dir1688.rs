//! The previous FIB LPM, kept as a baseline: a leaf-pushed DIR-16-8-8 multibit trie (as VPP's
//! ip4_mtrie) split into 256 /8 segments, each held by an `Arc`, so a route change rebuilds only
//! the segments it touches. It is no longer used by the FIB ([`super::Lpm`] replaced it); benches
//! and tests measure and compare against it. Same API as [`super::Lpm`] / [`super::LpmTable`].
//!
//! Layout of one segment (the /8 `s`): a slice of 256-entry plies. Ply 0 is all-empty (so an
//! empty entry can be followed like a pointer), ply 1 is the segment root indexed by address
//! bits 16..24, further plies are indexed by bits 8..16 or 0..8. An entry is either a leaf
//! `(value << 1) | 1` or a ply reference `index << 1` (0 = the empty ply = no route).

use crate::types::Ipv4Prefix;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

/// Entries per ply (8 address bits).
const PLY_ENTRIES: usize = 256;
/// One ply of the trie: 256 entries.
type Ply = [u32; PLY_ENTRIES];
/// One /8 segment: its plies (0 = empty ply, 1 = root).
type Segment = Arc<[Ply]>;
/// Number of /8 segments.
const SEGMENTS: usize = 256;
/// Index of the always-empty ply in every segment.
const EMPTY_PLY: usize = 0;
/// Index of the root ply (address bits 16..24) in every segment.
const ROOT_PLY: usize = 1;
/// The entry meaning "no route".
const NO_ROUTE: u32 = 0;

use super::MAX_VALUE;

#[inline(always)]
fn leaf_entry(value: u32) -> u32 {
    (value << 1) | 1
}

#[inline(always)]
fn ply_entry(index: usize) -> u32 {
    (index as u32) << 1
}

#[inline(always)]
fn is_leaf(entry: u32) -> bool {
    entry & 1 != 0
}

#[inline(always)]
fn decode_final(entry: u32) -> Option<u32> {
    if is_leaf(entry) {
        Some(entry >> 1)
    } else {
        None
    }
}

/// The segment with no route at all (shared by every empty /8 of every table).
fn empty_segment() -> &'static Segment {
    static EMPTY: OnceLock<Segment> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from(vec![[NO_ROUTE; PLY_ENTRIES]; 2]))
}

/// The segment array of an empty table (shared by every `Dir1688::default()`).
fn empty_segments() -> &'static Arc<[Segment; SEGMENTS]> {
    static EMPTY: OnceLock<Arc<[Segment; SEGMENTS]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(std::array::from_fn(|_| empty_segment().clone())))
}

/// Compiled, immutable LPM table; leaf values are adjacency indices. `Clone` is one `Arc`
/// increment; unchanged segments are shared between successive compilations.
#[derive(Clone)]
pub struct Dir1688 {
    segments: Arc<[Segment; SEGMENTS]>,
}

impl Default for Dir1688 {
    /// An empty table: every lookup misses.
    fn default() -> Self {
        Dir1688 { segments: empty_segments().clone() }
    }
}

impl std::fmt::Debug for Dir1688 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plies: usize = self.segments.iter().map(|s| s.len()).sum();
        f.debug_struct("Dir1688").field("plies", &plies).field("memory_bytes", &self.memory_bytes()).finish()
    }
}

/// How many addresses ahead [`Dir1688::lookup_batch`] prefetches for the next trie level: a
/// quarter of the batch, within these bounds (longer distances keep more misses in flight).
const PREFETCH_DISTANCE_MIN: usize = 4;
const PREFETCH_DISTANCE_MAX: usize = 32;
/// Batches shorter than this are looked up one address at a time (no pipeline to fill).
const SHORT_BATCH: usize = 4;
/// Ring of in-flight entries in [`Dir1688::lookup_batch`] (power of two > 3 * max distance).
const PIPELINE_SLOTS: usize = 128;

/// The ply to read next for `entry`: its child, or the (cached) empty ply for a leaf.
#[inline(always)]
fn ply_of(entry: u32) -> usize {
    if is_leaf(entry) {
        EMPTY_PLY
    } else {
        (entry >> 1) as usize
    }
}

/// `entry` itself when it is a leaf, else `next` (the entry read from its ply).
#[inline(always)]
fn descend(entry: u32, next: u32) -> u32 {
    if is_leaf(entry) {
        entry
    } else {
        next
    }
}

/// Hints the CPU to fetch the cache line holding `entry`.
#[inline(always)]
fn prefetch(entry: &u32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no visible effect; the
    // pointer comes from a valid reference and `sse` is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (entry as *const u32).cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = entry;
}

impl Dir1688 {
    /// Longest-prefix match of `addr` (host order); the leaf value of the best route.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        let seg: &[Ply] = &self.segments[(addr >> 24) as usize];
        let e = seg[ROOT_PLY][(addr >> 16) as u8 as usize];
        if is_leaf(e) {
            return Some(e >> 1);
        }
        let e = seg[(e >> 1) as usize][(addr >> 8) as u8 as usize];
        if is_leaf(e) {
            return Some(e >> 1);
        }
        decode_final(seg[(e >> 1) as usize][addr as u8 as usize])
    }

    /// Longest-prefix match of an [`Ipv4Addr`].
    #[inline]
    pub fn lookup_addr(&self, addr: Ipv4Addr) -> Option<u32> {
        self.lookup(u32::from(addr))
    }

    /// Looks up `addrs[i]` into `out[i]` for every `i < min(addrs.len(), out.len())`.
    ///
    /// A software pipeline (as VPP's quad loops and DPDK's lookup_bulk do): while address `i`
    /// reads its root entry, the cache lines address `i + distance` needs are being
    /// prefetched, so the cache and TLB misses of many addresses overlap instead of following
    /// one another. Each address goes through four steps `distance` addresses apart (a
    /// quarter of the batch, 4 to 32): prefetch its root entry; read it and prefetch the
    /// level-2 entry; read that and prefetch the level-3 entry; read that and decode. The
    /// steps are branch-free: an address resolved at an upper level keeps its leaf and touches
    /// the (cached) empty ply.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        let n = addrs.len().min(out.len());
        if n < SHORT_BATCH {
            for (a, o) in addrs[..n].iter().zip(&mut out[..n]) {
                *o = self.lookup(*a);
            }
            return;
        }
        let d = (n / 4).clamp(PREFETCH_DISTANCE_MIN, PREFETCH_DISTANCE_MAX);
        let segs = &*self.segments;
        let mut pending = [NO_ROUTE; PIPELINE_SLOTS];
        for j in 0..n + 3 * d {
            if j < n {
                let a = addrs[j];
                prefetch(&segs[(a >> 24) as usize][ROOT_PLY][(a >> 16) as u8 as usize]);
            }
            if j >= d && j - d < n {
                let i = j - d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let e = seg[ROOT_PLY][(a >> 16) as u8 as usize];
                pending[i % PIPELINE_SLOTS] = e;
                prefetch(&seg[ply_of(e)][(a >> 8) as u8 as usize]);
            }
            if j >= 2 * d && j - 2 * d < n {
                let i = j - 2 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let e = pending[i % PIPELINE_SLOTS];
                let e = descend(e, seg[ply_of(e)][(a >> 8) as u8 as usize]);
                pending[i % PIPELINE_SLOTS] = e;
                prefetch(&seg[ply_of(e)][a as u8 as usize]);
            }
            if j >= 3 * d {
                let i = j - 3 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let e = pending[i % PIPELINE_SLOTS];
                out[i] = decode_final(descend(e, seg[ply_of(e)][a as u8 as usize]));
            }
        }
    }

    /// Memory held by this table's trie (segments shared with other tables are counted too).
    pub fn memory_bytes(&self) -> usize {
        let mut distinct: Vec<&Segment> = self.segments.iter().collect();
        distinct.sort_unstable_by_key(|s| s.as_ptr());
        distinct.dedup_by_key(|s| s.as_ptr());
        let distinct_plies: usize = distinct.iter().map(|s| s.len()).sum();
        std::mem::size_of::<[Segment; SEGMENTS]>() + distinct_plies * std::mem::size_of::<Ply>()
    }
}

/// The mutable master of one table, owned by the RIB thread: the prefix set, the /8 segments
/// changed since the last compilation, and the last compiled [`Dir1688`].
#[derive(Clone)]
pub struct Dir1688Table {
    routes: BTreeMap<Ipv4Prefix, u32>,
    /// Bit `s` set: segment `s` changed since the last compile.
    dirty: [u64; SEGMENTS / 64],
    compiled: Dir1688,
    /// Segments whose 2^24 addresses all resolve to one entry, by entry (shared, not rebuilt).
    uniform: HashMap<u32, Segment>,
}

impl Default for Dir1688Table {
    fn default() -> Self {
        Dir1688Table {
            routes: BTreeMap::new(),
            dirty: [0; SEGMENTS / 64],
            compiled: Dir1688::default(),
            uniform: HashMap::new(),
        }
    }
}

impl std::fmt::Debug for Dir1688Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dir1688Table")
            .field("routes", &self.routes.len())
            .field("dirty_segments", &self.dirty.iter().map(|w| w.count_ones()).sum::<u32>())
            .finish()
    }
}

impl Dir1688Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bulk build from routes; when a prefix appears twice the later value wins. Nothing is
    /// compiled until [`Dir1688Table::compile`].
    ///
    /// # Panics
    /// When a value exceeds [`MAX_VALUE`] (values are adjacency indices).
    pub fn from_routes<I: IntoIterator<Item = (Ipv4Prefix, u32)>>(routes: I) -> Self {
        let mut v: Vec<(Ipv4Prefix, u32)> = routes.into_iter().collect();
        for (_, value) in &v {
            assert!(*value <= MAX_VALUE, "LPM value {value} exceeds {MAX_VALUE}");
        }
        // Stable sort keeps duplicates in input order; keep the last of each run.
        v.sort_by_key(|(p, _)| *p);
        let mut deduped: Vec<(Ipv4Prefix, u32)> = Vec::with_capacity(v.len());
        for (p, value) in v {
            match deduped.last_mut() {
                Some(last) if last.0 == p => last.1 = value,
                _ => deduped.push((p, value)),
            }
        }
        let routes = BTreeMap::from_iter(deduped);
        Dir1688Table { routes, dirty: [u64::MAX; SEGMENTS / 64], ..Default::default() }
    }

    /// Adds or replaces a route; returns the previous value.
    ///
    /// # Panics
    /// When `value` exceeds [`MAX_VALUE`] (values are adjacency indices).
    pub fn insert(&mut self, prefix: Ipv4Prefix, value: u32) -> Option<u32> {
        assert!(value <= MAX_VALUE, "LPM value {value} exceeds {MAX_VALUE}");
        let old = self.routes.insert(prefix, value);
        if old != Some(value) {
            self.mark_dirty(prefix);
        }
        old
    }

    /// Removes a route; returns its value.
    pub fn remove(&mut self, prefix: &Ipv4Prefix) -> Option<u32> {
        let old = self.routes.remove(prefix);
        if old.is_some() {
            self.mark_dirty(*prefix);
        }
        old
    }

    /// Removes every route.
    pub fn clear(&mut self) {
        self.routes.clear();
        self.dirty = [u64::MAX; SEGMENTS / 64];
    }

    /// The value of exactly `prefix`.
    pub fn get(&self, prefix: &Ipv4Prefix) -> Option<u32> {
        self.routes.get(prefix).copied()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Routes in prefix order (address, then length).
    pub fn iter(&self) -> impl Iterator<Item = (Ipv4Prefix, u32)> + '_ {
        self.routes.iter().map(|(p, v)| (*p, *v))
    }

    /// True when routes changed since the last [`Dir1688Table::compile`].
    pub fn is_dirty(&self) -> bool {
        self.dirty.iter().any(|w| *w != 0)
    }

    /// The last compiled table (may be stale when [`Dir1688Table::is_dirty`]).
    pub fn last_compiled(&self) -> &Dir1688 {
        &self.compiled
    }

    fn mark_dirty(&mut self, prefix: Ipv4Prefix) {
        let first = (prefix.addr_u32() >> 24) as usize;
        let count = if prefix.len() >= 8 { 1 } else { 1usize << (8 - prefix.len()) };
        for s in first..first + count {
            self.dirty[s / 64] |= 1 << (s % 64);
        }
    }

    /// Compiles the prefix set: rebuilds only the segments changed since the last call and
    /// shares the others with the previous result.
    pub fn compile(&mut self) -> Dir1688 {
        if !self.is_dirty() {
            return self.compiled.clone();
        }
        let mut segments: [Segment; SEGMENTS] = (*self.compiled.segments).clone();
        let mut builder = SegmentBuilder::default();
        for (s, slot) in segments.iter_mut().enumerate() {
            if self.dirty[s / 64] & (1 << (s % 64)) != 0 {
                *slot = self.build_segment(s as u32, &mut builder);
            }
        }
        self.dirty = [0; SEGMENTS / 64];
        self.compiled = Dir1688 { segments: Arc::new(segments) };
        self.compiled.clone()
    }

    /// The value of the longest route shorter than /8 covering segment `s`.
    fn covering_value(&self, s: u32) -> Option<u32> {
        (0..8u8)
            .rev()
            .find_map(|len| self.routes.get(&Ipv4Prefix::new(Ipv4Addr::from(s << 24), len)).copied())
    }

    fn build_segment(&mut self, s: u32, builder: &mut SegmentBuilder) -> Segment {
        let base = self.covering_value(s).map_or(NO_ROUTE, leaf_entry);
        builder.reset(base);
        // In (address, length) order every route comes after all routes containing it, so
        // painting in this order lets longer prefixes overwrite the shorter ones they refine.
        let start = Ipv4Prefix::new(Ipv4Addr::from(s << 24), 8);
        for (p, v) in self.routes.range(start..).take_while(|(p, _)| p.addr_u32() >> 24 == s) {
            builder.paint(p.addr_u32(), p.len(), leaf_entry(*v));
        }
        if let Some(entry) = builder.uniform_entry() {
            if entry == NO_ROUTE {
                return empty_segment().clone();
            }
            return self.uniform.entry(entry).or_insert_with(|| Arc::from(builder.plies.as_slice())).clone();
        }
        Arc::from(builder.plies.as_slice())
    }
}

/// Scratch space to build one segment (reused between segments of one compile).
#[derive(Default)]
struct SegmentBuilder {
    plies: Vec<Ply>,
}

impl SegmentBuilder {
    fn reset(&mut self, base: u32) {
        self.plies.clear();
        self.plies.push([NO_ROUTE; PLY_ENTRIES]);
        self.plies.push([base; PLY_ENTRIES]);
    }

    /// The ply under `parent[slot]`, created (filled with the leaf it replaces) if needed.
    fn child(&mut self, parent: usize, slot: usize) -> usize {
        let e = self.plies[parent][slot];
        if !is_leaf(e) && e != NO_ROUTE {
            return (e >> 1) as usize;
        }
        let index = self.plies.len();
        self.plies.push([e; PLY_ENTRIES]);
        self.plies[parent][slot] = ply_entry(index);
        index
    }

    /// Writes `entry` over the addresses of `addr/len` (len >= 8, inside this segment).
    fn paint(&mut self, addr: u32, len: u8, entry: u32) {
        let b2 = (addr >> 16) as u8 as usize;
        let b3 = (addr >> 8) as u8 as usize;
        let b4 = addr as u8 as usize;
        let (ply, first, count) = match len {
            0..=16 => (ROOT_PLY, b2, 1usize << (16 - len.max(8))),
            17..=24 => (self.child(ROOT_PLY, b2), b3, 1usize << (24 - len)),
            _ => {
                let mid = self.child(ROOT_PLY, b2);
                (self.child(mid, b3), b4, 1usize << (32 - len.min(32)))
            }
        };
        self.plies[ply][first..first + count].fill(entry);
    }

    /// The single entry of a segment that has no ply below its root and a constant root.
    fn uniform_entry(&self) -> Option<u32> {
        if self.plies.len() != 2 {
            return None;
        }
        let root = &self.plies[ROOT_PLY];
        root.iter().all(|e| *e == root[0]).then_some(root[0])
    }
}
