//! IPv4 longest-prefix match for the FIB: a poptrie-class compressed multibit trie (after Asai &
//! Ohara, "Poptrie", SIGCOMM 2015) split into 256 /8 segments, each held by an `Arc`, so a route
//! change rebuilds only the segments it touches and shares the rest with the previous [`Lpm`].
//! Built by the RIB thread ([`LpmTable::compile`]), read lock-free by workers ([`Lpm::lookup`],
//! [`Lpm::lookup_batch`]).
//!
//! Layout of one segment (the /8 `s`, address bits 24..32):
//! - `top`: 256 direct-pointing entries indexed by address bits 16..24. An entry is a leaf code
//!   (`value << 1 | 1`, or 0 = no route) when no route longer than /16 lies under it, else a
//!   node reference `first_word << 1` (never 0: words 0..4 are a dummy node).
//! - `words`: nodes of 256 slots (an 8-bit stride: bits 8..16 for a node under `top`, bits 0..8
//!   for a node under a /24 slot), stored as 4 consecutive 64-slot bitmap words. The top two bits
//!   of the stride pick the word directly; each word is a poptrie node: bit `v` of `children`
//!   marks slot `v` as pointing to a child node (the `popcnt` of the lower bits indexes the
//!   children, 4 words each, from `child_base`); bit `v` of `leaves` marks the start of a run of
//!   leaf slots with one value (the `popcnt` up to `v` indexes `leaves` from `leaf_base`).
//! - `leaves`: leaf codes, one per run (runs never cross a word).
//!
//! A lookup is: segment pointer (2 KiB array, always cached) -> top entry -> word -> [word ->]
//! leaf: at most four dependent loads, into a structure of a few bytes per route (about 13 MiB
//! for 1M random prefixes, against 44 MiB for the DIR-16-8-8 trie it replaced, kept as
//! [`dir1688`] for comparison). A table with a few routes holds a few KiB.

use crate::types::Ipv4Prefix;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

pub mod dir1688;
#[cfg(test)]
mod tests;

/// Largest leaf value an [`LpmTable`] accepts (values are adjacency indices, < 2^31).
pub const MAX_VALUE: u32 = (1 << 31) - 1;

/// Number of /8 segments.
const SEGMENTS: usize = 256;
/// Entries of a segment's direct-pointing top level (address bits 16..24).
const TOP_ENTRIES: usize = 256;
/// Bitmap words per node (a node has 4 * 64 = 256 slots).
const WORDS_PER_NODE: usize = 4;
/// The leaf code meaning "no route".
const NO_ROUTE: u32 = 0;
/// Index of the dummy node's first word (all-zero bitmaps; its leaf index is 0).
const DUMMY_WORD: u32 = 0;
/// Index of the dummy leaf ([`NO_ROUTE`]) read by lookups resolved above the leaf level.
const DUMMY_LEAF: u32 = 0;

#[inline(always)]
fn leaf_code(value: u32) -> u32 {
    (value << 1) | 1
}

#[inline(always)]
fn decode(code: u32) -> Option<u32> {
    if code & 1 != 0 {
        Some(code >> 1)
    } else {
        None
    }
}

/// True when a top entry refers to a node (not a leaf code, not "no route").
#[inline(always)]
fn is_node(entry: u32) -> bool {
    entry & 1 == 0 && entry != NO_ROUTE
}

/// Bits `0..=v` of a bitmap word.
#[inline(always)]
fn upto(v: u32) -> u64 {
    u64::MAX >> (63 - v)
}

/// One 64-slot quarter of a node: a poptrie node of its own.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[repr(C)]
struct Word {
    /// Bit `v`: slot `v` points to a child node.
    children: u64,
    /// Bit `v`: slot `v` is a leaf slot whose value differs from the previous leaf slot's.
    leaves: u64,
    /// Index in `words` of the first word of this word's first child.
    child_base: u32,
    /// Index in `leaves` of this word's first leaf run.
    leaf_base: u32,
}

impl Word {
    /// Index of the first word of the child under slot `v` (meaningful when it has one).
    #[inline(always)]
    fn child(&self, v: u32) -> u32 {
        let k = (self.children & upto(v)).count_ones();
        self.child_base.wrapping_add(WORDS_PER_NODE as u32 * k).wrapping_sub(WORDS_PER_NODE as u32)
    }

    /// Index of the leaf of slot `v` (meaningful when it has no child).
    #[inline(always)]
    fn leaf(&self, v: u32) -> u32 {
        self.leaf_base.wrapping_add((self.leaves & upto(v)).count_ones()).wrapping_sub(1)
    }

    #[inline(always)]
    fn has_child(&self, v: u32) -> bool {
        (self.children >> v) & 1 != 0
    }
}

/// The dummy node: all bitmaps empty, `leaf_base` 1 so that [`Word::leaf`] gives [`DUMMY_LEAF`].
const DUMMY_NODE: [Word; WORDS_PER_NODE] =
    [Word { children: 0, leaves: 0, child_base: 0, leaf_base: DUMMY_LEAF + 1 }; WORDS_PER_NODE];

/// The compiled trie of one /8.
#[derive(Debug, PartialEq, Eq)]
struct SegmentData {
    top: [u32; TOP_ENTRIES],
    words: Box<[Word]>,
    leaves: Box<[u32]>,
}

impl SegmentData {
    fn uniform(code: u32) -> Self {
        SegmentData { top: [code; TOP_ENTRIES], words: Box::new(DUMMY_NODE), leaves: Box::new([NO_ROUTE]) }
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + std::mem::size_of_val(&*self.words)
            + std::mem::size_of_val(&*self.leaves)
    }

    /// The single leaf code of a segment whose every address resolves to it.
    fn uniform_code(&self) -> Option<u32> {
        let first = self.top[0];
        (self.words.len() == WORDS_PER_NODE && self.top.iter().all(|e| *e == first)).then_some(first)
    }

    /// Longest-prefix match of `addr`, which lies in this segment.
    #[inline(always)]
    fn lookup(&self, addr: u32) -> Option<u32> {
        let e = self.top[(addr >> 16) as u8 as usize];
        if !is_node(e) {
            return decode(e);
        }
        let w = &self.words[(e >> 1) as usize + ((addr >> 14) & 3) as usize];
        let v = (addr >> 8) & 63;
        let leaf = if w.has_child(v) {
            let w = &self.words[w.child(v) as usize + ((addr >> 6) & 3) as usize];
            w.leaf(addr & 63)
        } else {
            w.leaf(v)
        };
        decode(self.leaves[leaf as usize])
    }
}

/// One /8 segment.
type Segment = Arc<SegmentData>;

/// The segment with no route at all (shared by every empty /8 of every table).
fn empty_segment() -> &'static Segment {
    static EMPTY: OnceLock<Segment> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(SegmentData::uniform(NO_ROUTE)))
}

/// The segment array of an empty table (shared by every `Lpm::default()`).
fn empty_segments() -> &'static Arc<[Segment; SEGMENTS]> {
    static EMPTY: OnceLock<Arc<[Segment; SEGMENTS]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::new(std::array::from_fn(|_| empty_segment().clone())))
}

/// Compiled, immutable LPM table; leaf values are adjacency indices. `Clone` is one `Arc`
/// increment; unchanged segments are shared between successive compilations.
#[derive(Clone)]
pub struct Lpm {
    segments: Arc<[Segment; SEGMENTS]>,
}

impl Default for Lpm {
    /// An empty table: every lookup misses.
    fn default() -> Self {
        Lpm { segments: empty_segments().clone() }
    }
}

impl std::fmt::Debug for Lpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let words: usize = self.segments.iter().map(|s| s.words.len()).sum();
        let leaves: usize = self.segments.iter().map(|s| s.leaves.len()).sum();
        f.debug_struct("Lpm")
            .field("words", &words)
            .field("leaves", &leaves)
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

/// How many addresses apart the steps of [`Lpm::lookup_batch`] run: a quarter of the batch,
/// within these bounds (longer distances keep more misses in flight).
const PREFETCH_DISTANCE_MIN: usize = 2;
const PREFETCH_DISTANCE_MAX: usize = 16;
/// Batches shorter than this are looked up one address at a time (no pipeline to fill).
const SHORT_BATCH: usize = 4;
/// Ring of in-flight lookups in [`Lpm::lookup_batch`] (power of two > 4 * max distance).
const PIPELINE_SLOTS: usize = 128;

/// Hints the CPU to fetch the cache line holding `*p`.
#[inline(always)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no visible effect; the
    // pointer comes from a valid reference and `sse` is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>((p as *const T).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The state of one lookup in flight in [`Lpm::lookup_batch`].
#[derive(Clone, Copy, Default)]
struct Lane {
    /// The top entry (a leaf code when the lookup ended there).
    top: u32,
    /// The word to read next ([`DUMMY_WORD`] when there is none).
    word: u32,
    /// The leaf to read ([`DUMMY_LEAF`] when the lookup ended at the top level).
    leaf: u32,
    /// The lookup ends at the word read in step 2 (no child).
    ended: bool,
}

impl Lpm {
    /// Longest-prefix match of `addr` (host order); the leaf value of the best route.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        self.segments[(addr >> 24) as usize].lookup(addr)
    }

    /// Longest-prefix match of an [`Ipv4Addr`].
    #[inline]
    pub fn lookup_addr(&self, addr: Ipv4Addr) -> Option<u32> {
        self.lookup(u32::from(addr))
    }

    /// Looks up `addrs[i]` into `out[i]` for every `i < min(addrs.len(), out.len())`.
    ///
    /// A software pipeline (as VPP's quad loops and DPDK's lookup_bulk do): each address goes
    /// through five steps `d` addresses apart (`d` a quarter of the batch, 2 to 16), each
    /// reading what the previous step prefetched and prefetching what the next step reads: the
    /// top entry; the first-level word; the second-level word; the leaf; decode. The cache
    /// misses of many addresses thus overlap instead of following one another. The steps do
    /// not branch on the depth: a lookup resolved higher up reads the segment's (cached) dummy
    /// word and leaf and keeps its result.
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
        let mut lanes = [Lane::default(); PIPELINE_SLOTS];
        for j in 0..n + 4 * d {
            if j < n {
                let a = addrs[j];
                prefetch(&segs[(a >> 24) as usize].top[(a >> 16) as u8 as usize]);
            }
            if j >= d && j - d < n {
                let i = j - d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let top = seg.top[(a >> 16) as u8 as usize];
                let word = if is_node(top) { (top >> 1) + ((a >> 14) & 3) } else { DUMMY_WORD };
                lanes[i % PIPELINE_SLOTS] = Lane { top, word, leaf: DUMMY_LEAF, ended: false };
                prefetch(&seg.words[word as usize]);
            }
            if j >= 2 * d && j - 2 * d < n {
                let i = j - 2 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &mut lanes[i % PIPELINE_SLOTS];
                let w = &seg.words[lane.word as usize];
                let v = (a >> 8) & 63;
                let child = w.has_child(v);
                lane.leaf = w.leaf(v);
                lane.ended = !child;
                lane.word = if child { w.child(v) + ((a >> 6) & 3) } else { DUMMY_WORD };
                prefetch(&seg.words[lane.word as usize]);
            }
            if j >= 3 * d && j - 3 * d < n {
                let i = j - 3 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &mut lanes[i % PIPELINE_SLOTS];
                let deep = seg.words[lane.word as usize].leaf(a & 63);
                lane.leaf = if lane.ended { lane.leaf } else { deep };
                prefetch(&seg.leaves[lane.leaf as usize]);
            }
            if j >= 4 * d {
                let i = j - 4 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &lanes[i % PIPELINE_SLOTS];
                let leaf = seg.leaves[lane.leaf as usize];
                out[i] = decode(if is_node(lane.top) { leaf } else { lane.top });
            }
        }
    }

    /// Memory held by this table (segments shared with other tables are counted too).
    pub fn memory_bytes(&self) -> usize {
        let mut distinct: Vec<&Segment> = self.segments.iter().collect();
        distinct.sort_unstable_by_key(|s| Arc::as_ptr(s));
        distinct.dedup_by_key(|s| Arc::as_ptr(s));
        std::mem::size_of::<[Segment; SEGMENTS]>() + distinct.iter().map(|s| s.memory_bytes()).sum::<usize>()
    }

    /// True when both tables share segment `s` (same allocation): used by tests to check that
    /// an incremental compile rebuilt only what it had to.
    #[cfg(test)]
    fn shares_segment(&self, other: &Lpm, s: usize) -> bool {
        Arc::ptr_eq(&self.segments[s], &other.segments[s])
    }
}

/// The mutable master of one table, owned by the RIB thread: the prefix set, the /8 segments
/// changed since the last compilation, and the last compiled [`Lpm`].
#[derive(Clone)]
pub struct LpmTable {
    routes: BTreeMap<Ipv4Prefix, u32>,
    /// Bit `s` set: segment `s` changed since the last compile.
    dirty: [u64; SEGMENTS / 64],
    compiled: Lpm,
    /// Segments whose 2^24 addresses all resolve to one leaf code, by code (shared, not rebuilt).
    uniform: HashMap<u32, Segment>,
}

impl Default for LpmTable {
    fn default() -> Self {
        LpmTable {
            routes: BTreeMap::new(),
            dirty: [0; SEGMENTS / 64],
            compiled: Lpm::default(),
            uniform: HashMap::new(),
        }
    }
}

impl std::fmt::Debug for LpmTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LpmTable")
            .field("routes", &self.routes.len())
            .field("dirty_segments", &self.dirty.iter().map(|w| w.count_ones()).sum::<u32>())
            .finish()
    }
}

impl LpmTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bulk build from routes; when a prefix appears twice the later value wins. Nothing is
    /// compiled until [`LpmTable::compile`].
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
        LpmTable { routes, dirty: [u64::MAX; SEGMENTS / 64], ..Default::default() }
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

    /// True when routes changed since the last [`LpmTable::compile`].
    pub fn is_dirty(&self) -> bool {
        self.dirty.iter().any(|w| *w != 0)
    }

    /// The last compiled table (may be stale when [`LpmTable::is_dirty`]).
    pub fn last_compiled(&self) -> &Lpm {
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
    pub fn compile(&mut self) -> Lpm {
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
        self.compiled = Lpm { segments: Arc::new(segments) };
        self.compiled.clone()
    }

    /// The value of the longest route shorter than /8 covering segment `s`.
    fn covering_value(&self, s: u32) -> Option<u32> {
        (0..8u8)
            .rev()
            .find_map(|len| self.routes.get(&Ipv4Prefix::new(Ipv4Addr::from(s << 24), len)).copied())
    }

    fn build_segment(&mut self, s: u32, builder: &mut SegmentBuilder) -> Segment {
        let base = self.covering_value(s).map_or(NO_ROUTE, leaf_code);
        let start = Ipv4Prefix::new(Ipv4Addr::from(s << 24), 8);
        builder.routes.clear();
        builder.routes.extend(
            self.routes.range(start..).take_while(|(p, _)| p.addr_u32() >> 24 == s).map(|(p, v)| Route {
                addr: p.addr_u32(),
                len: p.len(),
                code: leaf_code(*v),
            }),
        );
        let data = builder.build(base);
        if let Some(code) = data.uniform_code() {
            if code == NO_ROUTE {
                return empty_segment().clone();
            }
            return self.uniform.entry(code).or_insert_with(|| Arc::new(data)).clone();
        }
        Arc::new(data)
    }
}

/// A route of one segment, as the builder reads it.
#[derive(Clone, Copy)]
struct Route {
    addr: u32,
    len: u8,
    code: u32,
}

/// Scratch space to build one segment (reused between segments of one compile).
#[derive(Default)]
struct SegmentBuilder {
    /// The segment's routes of length >= 8, in (address, length) order.
    routes: Vec<Route>,
}

/// The node arrays of the segment being built.
struct Arrays {
    words: Vec<Word>,
    leaves: Vec<u32>,
}

impl SegmentBuilder {
    /// Builds the segment from `self.routes`, under `base` (the leaf code of the longest route
    /// shorter than /8 covering it).
    fn build(&self, base: u32) -> SegmentData {
        let mut top = [base; TOP_ENTRIES];
        let mut arrays = Arrays { words: DUMMY_NODE.to_vec(), leaves: vec![NO_ROUTE] };
        let routes = &self.routes[..];
        // In (address, length) order every route comes after all routes containing it, so
        // painting in this order lets longer prefixes overwrite the shorter ones they refine.
        // The routes longer than /16 under one top entry are contiguous, after every route of
        // length <= 16 covering that entry.
        let mut i = 0;
        while let Some(r) = routes.get(i) {
            let slot = (r.addr >> 16) as u8 as usize;
            if r.len <= 16 {
                let count = 1usize << (16 - r.len.max(8));
                top[slot..slot + count].fill(r.code);
                i += 1;
                continue;
            }
            let end = i + routes[i..].iter().take_while(|q| (q.addr >> 16) as u8 as usize == slot).count();
            let at = arrays.words.len();
            arrays.words.extend_from_slice(&[Word::default(); WORDS_PER_NODE]);
            fill_node(&mut arrays, at, 16, top[slot], &routes[i..end]);
            top[slot] = (at as u32) << 1;
            i = end;
        }
        SegmentData { top, words: arrays.words.into_boxed_slice(), leaves: arrays.leaves.into_boxed_slice() }
    }
}

/// Fills the node whose words were reserved at `arrays.words[at..at + 4]`: it covers the
/// prefix of length `offset` (16 or 24) holding `routes` (those not longer than `offset` are
/// already in `default`, the leaf code of the longest of them). Reserves its children's words
/// after the current end, appends its leaves, then fills the children.
fn fill_node(arrays: &mut Arrays, at: usize, offset: u8, default: u32, routes: &[Route]) {
    let shift = 24 - offset as u32;
    let mut slots = [default; 256];
    let mut children = [0u64; WORDS_PER_NODE];
    // Per child slot, in slot order: (slot, first route, end of routes).
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    for (k, r) in routes.iter().enumerate() {
        if r.len <= offset {
            continue;
        }
        let slot = ((r.addr >> shift) & 0xff) as usize;
        if r.len <= offset + 8 {
            slots[slot..slot + (1usize << (offset + 8 - r.len))].fill(r.code);
        } else {
            children[slot / 64] |= 1 << (slot % 64);
            match spans.last_mut() {
                Some(span) if span.0 == slot => span.2 = k + 1,
                _ => spans.push((slot, k, k + 1)),
            }
        }
    }
    let child_block = arrays.words.len();
    let child_count: usize = children.iter().map(|c| c.count_ones() as usize).sum();
    arrays.words.resize(child_block + WORDS_PER_NODE * child_count, Word::default());
    let mut children_before = 0;
    for (q, &child_bits) in children.iter().enumerate() {
        let leaf_base = arrays.leaves.len();
        let mut leaf_bits = 0u64;
        let mut previous: Option<u32> = None;
        for v in 0..64 {
            if child_bits & (1 << v) != 0 {
                continue;
            }
            let code = slots[q * 64 + v];
            if previous != Some(code) {
                leaf_bits |= 1 << v;
                arrays.leaves.push(code);
                previous = Some(code);
            }
        }
        arrays.words[at + q] = Word {
            children: child_bits,
            leaves: leaf_bits,
            child_base: (child_block + WORDS_PER_NODE * children_before) as u32,
            leaf_base: leaf_base as u32,
        };
        children_before += child_bits.count_ones() as usize;
    }
    for (k, (slot, first, end)) in spans.into_iter().enumerate() {
        fill_node(arrays, child_block + WORDS_PER_NODE * k, offset + 8, slots[slot], &routes[first..end]);
    }
}
