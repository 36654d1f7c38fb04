//! IPv4 longest-prefix match for the FIB: a poptrie-class compressed multibit trie (after Asai &
//! Ohara, "Poptrie", SIGCOMM 2015) split into 256 /8 segments, each held by an `Arc`, so a route
//! change rebuilds only the segments it touches and shares the rest with the previous [`Lpm`].
//! Built by the RIB thread ([`LpmTable::compile`]), read lock-free by workers ([`Lpm::lookup`],
//! [`Lpm::lookup_batch`]).
//!
//! Layout of one segment (the /8 `s`, address bits 24..32):
//! - `top`: 256 direct-pointing entries indexed by address bits 16..24. An entry is a leaf code
//!   (`value << 1 | 1`, or 0 = no route) when no route longer than /16 lies under it, else a
//!   node reference `line << 1` (never 0: line 0 is a dummy).
//! - `lines`: 64-byte cache lines. A node has 256 slots (an 8-bit stride: address bits 8..16
//!   under a top entry, bits 0..8 under a /24 slot) and takes four lines, one per quarter of its
//!   slots, picked directly by the top two bits of the stride. A quarter line is a poptrie node
//!   of 64 slots: bit `v` of its `children` bitmap marks slot `v` as pointing to a child node
//!   (the `popcnt` of the bits up to `v` indexes the children, four lines each, from
//!   `child_base`); bit `v` of its `leaves` bitmap marks the start of a run of leaf slots with
//!   one value (the `popcnt` up to `v` indexes the leaf codes from `leaf_base`). Up to 10 leaf
//!   codes (20 in a segment whose codes all fit 16 bits, i.e. values < 2^15) are stored in the
//!   quarter line itself, so the usual lookup finds its leaf code in the line it already read;
//!   a quarter with more runs keeps its codes after the node.
//!
//! So a lookup reads: segment pointer (2 KiB array, always cached) -> top entry (256 KiB in all,
//! mostly cached) -> one quarter line (usually the only cache miss) [-> a quarter line of a
//! child node] -> leaf code. The structure takes about 13 bytes per route on 1M random prefixes
//! (the DIR-16-8-8 trie it replaced, kept as [`dir1688`] for comparison, took 46); a table with
//! a few routes holds a few KiB.

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
/// 32-bit words per line.
const LINE_U32: usize = 16;
/// The leaf code meaning "no route".
const NO_ROUTE: u32 = 0;
/// The dummy node (all bitmaps empty): lookups that ended higher up read it in the batch
/// pipeline. As an inner node its leaf index is 15, the dummy line's last word (0 = no route).
const DUMMY_LINE: u32 = 0;

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

/// One cache line of a segment: a node or 16 leaf codes.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
struct Line([u32; LINE_U32]);

/// Layout of a quarter line (32-bit words): the `children` bitmap, the `leaves` bitmap, the
/// first child's line, the first leaf code's index, then inline leaf codes.
const CHILDREN: usize = 0;
const LEAVES: usize = 2;
const CHILD_BASE: usize = 4;
const LEAF_BASE: usize = 5;
const INLINE_LEAVES: usize = 6;
/// 32-bit leaf codes a quarter line holds inline (more go after the node's lines); twice as
/// many 16-bit codes in a narrow segment.
const INLINE_CAPACITY: usize = LINE_U32 - INLINE_LEAVES;
/// Lines of a node (one per quarter of its 256 slots).
const NODE_LINES: u32 = 4;

impl Line {
    /// The 64-bit bitmap at word `i` (`CHILDREN` or `LEAVES`).
    #[inline(always)]
    fn bits(&self, i: usize) -> u64 {
        u64::from(self.0[i % LINE_U32]) | (u64::from(self.0[(i + 1) % LINE_U32]) << 32)
    }

    fn set_bits(&mut self, i: usize, bits: u64) {
        self.0[i] = bits as u32;
        self.0[i + 1] = (bits >> 32) as u32;
    }

    /// True when slot `v` (0..64) of this quarter points to a child node.
    #[inline(always)]
    fn has_child(&self, v: u32) -> bool {
        (self.bits(CHILDREN) >> v) & 1 != 0
    }

    /// First line of the child node under slot `v` (meaningful when it has one).
    #[inline(always)]
    fn child(&self, v: u32) -> u32 {
        let k = (self.bits(CHILDREN) & upto(v)).count_ones();
        self.0[CHILD_BASE].wrapping_add(NODE_LINES * k).wrapping_sub(NODE_LINES)
    }

    /// Index of the leaf code of slot `v` (meaningful when it has no child).
    #[inline(always)]
    fn leaf(&self, v: u32) -> u32 {
        self.0[LEAF_BASE].wrapping_add((self.bits(LEAVES) & upto(v)).count_ones()).wrapping_sub(1)
    }
}

/// The compiled trie of one /8.
#[derive(Debug, PartialEq, Eq)]
struct SegmentData {
    top: [u32; TOP_ENTRIES],
    lines: Box<[Line]>,
    /// Leaf codes are 16-bit (every code of the segment fits): twice as many fit inline.
    narrow: bool,
}

impl SegmentData {
    fn uniform(code: u32) -> Self {
        SegmentData { top: [code; TOP_ENTRIES], lines: Box::new([DUMMY]), narrow: false }
    }

    fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + std::mem::size_of_val(&*self.lines)
    }

    /// The single leaf code of a segment whose every address resolves to it.
    fn uniform_code(&self) -> Option<u32> {
        let first = self.top[0];
        (self.lines.len() == 1 && self.top.iter().all(|e| *e == first)).then_some(first)
    }

    /// The line `i` (the dummy line when out of range, which a built segment never is).
    #[inline(always)]
    fn line(&self, i: u32) -> &Line {
        self.lines.get(i as usize).unwrap_or(&DUMMY)
    }

    /// The line holding the leaf code at `index`.
    #[inline(always)]
    fn code_line(&self, index: u32) -> u32 {
        if self.narrow {
            index / (2 * LINE_U32 as u32)
        } else {
            index / LINE_U32 as u32
        }
    }

    /// The leaf code at `index` (counted in codes from the first line: 16-bit codes when the
    /// segment is narrow, else 32-bit).
    #[inline(always)]
    fn code(&self, index: u32) -> u32 {
        let word = if self.narrow { index / 2 } else { index };
        let w = self
            .lines
            .get((word / LINE_U32 as u32) as usize)
            .map_or(NO_ROUTE, |l| l.0[word as usize % LINE_U32]);
        if self.narrow {
            (w >> (16 * (index & 1))) & 0xffff
        } else {
            w
        }
    }

    /// Longest-prefix match of `addr`, which lies in this segment.
    #[inline(always)]
    fn lookup(&self, addr: u32) -> Option<u32> {
        let e = self.top[(addr >> 16) as u8 as usize];
        if !is_node(e) {
            return decode(e);
        }
        let quarter = self.line((e >> 1) + ((addr >> 14) & 3));
        let v = (addr >> 8) & 63;
        let leaf = if quarter.has_child(v) {
            self.line(quarter.child(v) + ((addr >> 6) & 3)).leaf(addr & 63)
        } else {
            quarter.leaf(v)
        };
        decode(self.code(leaf))
    }
}

/// The dummy line: no child, no leaf run, `leaf_base` 1 so that its leaf index is 0 (its own
/// first word: 0 = no route). Line 0 of every segment; the batch pipeline reads it for lookups
/// that ended higher up.
static DUMMY: Line = {
    let mut words = [0; LINE_U32];
    words[LEAF_BASE] = 1;
    Line(words)
};

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
        let lines: usize = self.segments.iter().map(|s| s.lines.len()).sum();
        f.debug_struct("Lpm").field("lines", &lines).field("memory_bytes", &self.memory_bytes()).finish()
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
    /// The quarter line to read next ([`DUMMY_LINE`] when there is none).
    line: u32,
    /// The index of the leaf code to read.
    leaf: u32,
    /// The lookup ended at the first node (no child under its slot).
    ended: bool,
}

/// True when the CPU counts bits in one instruction (checked once, then cached by std).
#[inline(always)]
fn has_popcnt() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("popcnt")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl Lpm {
    /// Longest-prefix match of `addr` (host order); the leaf value of the best route.
    #[inline]
    pub fn lookup(&self, addr: u32) -> Option<u32> {
        #[cfg(target_arch = "x86_64")]
        if has_popcnt() {
            // SAFETY: the CPU has `popcnt` (checked just above).
            return unsafe { self.lookup_popcnt(addr) };
        }
        self.segments[(addr >> 24) as usize].lookup(addr)
    }

    /// [`Lpm::lookup`] compiled with the `popcnt` instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn lookup_popcnt(&self, addr: u32) -> Option<u32> {
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
    /// top entry; the inner node; the bottom node; the leaf code; decode. The cache misses of
    /// many addresses thus overlap instead of following one another. The steps do not branch on
    /// the depth: a lookup that ended higher up reads the segment's (cached) dummy line and
    /// keeps its result.
    pub fn lookup_batch(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        #[cfg(target_arch = "x86_64")]
        if has_popcnt() {
            // SAFETY: the CPU has `popcnt` (checked just above).
            return unsafe { self.lookup_batch_popcnt(addrs, out) };
        }
        self.lookup_batch_impl(addrs, out)
    }

    /// [`Lpm::lookup_batch`] compiled with the `popcnt` instruction.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "popcnt")]
    unsafe fn lookup_batch_popcnt(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        self.lookup_batch_impl(addrs, out)
    }

    #[inline(always)]
    fn lookup_batch_impl(&self, addrs: &[u32], out: &mut [Option<u32>]) {
        let n = addrs.len().min(out.len());
        if n < SHORT_BATCH {
            for (a, o) in addrs[..n].iter().zip(&mut out[..n]) {
                *o = self.segments[(*a >> 24) as usize].lookup(*a);
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
                let line = if is_node(top) { (top >> 1) + ((a >> 14) & 3) } else { DUMMY_LINE };
                lanes[i % PIPELINE_SLOTS] = Lane { top, line, leaf: 0, ended: false };
                prefetch(seg.line(line));
            }
            if j >= 2 * d && j - 2 * d < n {
                let i = j - 2 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &mut lanes[i % PIPELINE_SLOTS];
                let quarter = seg.line(lane.line);
                let v = (a >> 8) & 63;
                let child = quarter.has_child(v);
                lane.leaf = quarter.leaf(v);
                lane.ended = !child;
                lane.line = if child { quarter.child(v) + ((a >> 6) & 3) } else { DUMMY_LINE };
                // When the lookup ends here its leaf code is usually in the line just read.
                prefetch(seg.line(if child { lane.line } else { seg.code_line(lane.leaf) }));
            }
            if j >= 3 * d && j - 3 * d < n {
                let i = j - 3 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &mut lanes[i % PIPELINE_SLOTS];
                let deep = seg.line(lane.line).leaf(a & 63);
                lane.leaf = if lane.ended { lane.leaf } else { deep };
                prefetch(seg.line(seg.code_line(lane.leaf)));
            }
            if j >= 4 * d {
                let i = j - 4 * d;
                let a = addrs[i];
                let seg = &segs[(a >> 24) as usize];
                let lane = &lanes[i % PIPELINE_SLOTS];
                let leaf = seg.code(lane.leaf);
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

/// The lines of the segment being built, as 32-bit words.
struct Memory {
    words: Vec<u32>,
}

impl Memory {
    /// Appends `count` zeroed lines from the next line boundary; returns the first one.
    fn reserve_lines(&mut self, count: usize) -> u32 {
        let first = self.words.len().div_ceil(LINE_U32);
        self.words.resize((first + count) * LINE_U32, 0);
        first as u32
    }

    fn set_line(&mut self, line: u32, value: &Line) {
        let at = line as usize * LINE_U32;
        self.words[at..at + LINE_U32].copy_from_slice(&value.0);
    }
}

/// The routes under one child slot: `(slot, first route, end of routes)`.
type ChildSpan = (usize, usize, usize);

/// Paints the routes of a node covering the prefix of length `offset` (16 or 24) into its 256
/// slots, starting from `default`; returns the slots, the child bitmaps and, per child slot in
/// slot order, `(slot, first route, end of routes)` of the routes longer than `offset + 8`.
fn paint(offset: u8, default: u32, routes: &[Route]) -> ([u32; 256], [u64; 4], Vec<ChildSpan>) {
    let shift = 24 - offset as u32;
    let mut slots = [default; 256];
    let mut children = [0u64; 4];
    let mut spans: Vec<ChildSpan> = Vec::new();
    // In (address, length) order every route comes after all routes containing it, so painting
    // in this order lets longer prefixes overwrite the shorter ones they refine, and a child
    // slot's routes are contiguous and come after every shorter route covering the slot.
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
    (slots, children, spans)
}

impl SegmentBuilder {
    /// Builds the segment from `self.routes`, under `base` (the leaf code of the longest route
    /// shorter than /8 covering it).
    fn build(&self, base: u32) -> SegmentData {
        let mut top = [base; TOP_ENTRIES];
        let mut mem = Memory { words: DUMMY.0.to_vec() };
        let routes = &self.routes[..];
        let narrow = base <= u32::from(u16::MAX) && routes.iter().all(|r| r.code <= u32::from(u16::MAX));
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
            let line = mem.reserve_lines(NODE_LINES as usize);
            fill_node(&mut mem, line, 16, top[slot], &routes[i..end], narrow);
            top[slot] = line << 1;
            i = end;
        }
        let lines = mem
            .words
            .chunks(LINE_U32)
            .map(|c| {
                let mut line = Line::default();
                line.0[..c.len()].copy_from_slice(c);
                line
            })
            .collect();
        SegmentData { top, lines, narrow }
    }
}

/// Fills the node whose four quarter lines were reserved at `line`: it covers the prefix of
/// length `offset` (16 or 24) holding `routes` (those not longer than `offset` are already in
/// `default`, the leaf code of the longest of them). A quarter's leaf codes go inline in its
/// line when they fit, else after the current end; then come the child nodes (four lines each,
/// in slot order), filled in turn.
fn fill_node(mem: &mut Memory, line: u32, offset: u8, default: u32, routes: &[Route], narrow: bool) {
    let (slots, children, spans) = paint(offset, default, routes);
    let mut quarters = [Line::default(); NODE_LINES as usize];
    let mut codes: Vec<u32> = Vec::with_capacity(64);
    for (q, quarter) in quarters.iter_mut().enumerate() {
        let mut leaf_bits = 0u64;
        codes.clear();
        for v in 0..64 {
            if children[q] & (1 << v) != 0 {
                continue;
            }
            let code = slots[q * 64 + v];
            if codes.last() != Some(&code) {
                leaf_bits |= 1 << v;
                codes.push(code);
            }
        }
        quarter.set_bits(CHILDREN, children[q]);
        quarter.set_bits(LEAVES, leaf_bits);
        let inline_at = (line + q as u32) * LINE_U32 as u32 + INLINE_LEAVES as u32;
        if narrow {
            let packed = codes.chunks(2).map(|c| c[0] | (c.get(1).copied().unwrap_or(NO_ROUTE) << 16));
            if codes.len() <= 2 * INLINE_CAPACITY {
                quarter.0[LEAF_BASE] = 2 * inline_at;
                for (slot, pair) in quarter.0[INLINE_LEAVES..].iter_mut().zip(packed) {
                    *slot = pair;
                }
            } else {
                quarter.0[LEAF_BASE] = 2 * mem.words.len() as u32;
                mem.words.extend(packed);
            }
        } else if codes.len() <= INLINE_CAPACITY {
            quarter.0[LEAF_BASE] = inline_at;
            quarter.0[INLINE_LEAVES..INLINE_LEAVES + codes.len()].copy_from_slice(&codes);
        } else {
            quarter.0[LEAF_BASE] = mem.words.len() as u32;
            mem.words.extend_from_slice(&codes);
        }
    }
    let first_child = if spans.is_empty() { 0 } else { mem.reserve_lines(NODE_LINES as usize * spans.len()) };
    let mut children_before = 0;
    for (q, quarter) in quarters.iter_mut().enumerate() {
        quarter.0[CHILD_BASE] = first_child + NODE_LINES * children_before;
        children_before += children[q].count_ones();
        mem.set_line(line + q as u32, quarter);
    }
    for (k, (slot, first, end)) in spans.into_iter().enumerate() {
        fill_node(
            mem,
            first_child + NODE_LINES * k as u32,
            offset + 8,
            slots[slot],
            &routes[first..end],
            narrow,
        );
    }
}
