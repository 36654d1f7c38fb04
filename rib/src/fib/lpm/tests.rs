//! Tests of the LPM trie: randomised comparison with a naive reference LPM, boundary cases,
//! and equality of incremental and from-scratch compilation.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Naive reference: one hash map per prefix length, searched from /32 down to /0.
#[derive(Default)]
struct ReferenceLpm {
    by_len: Vec<HashMap<u32, u32>>,
}

impl ReferenceLpm {
    fn new() -> Self {
        ReferenceLpm { by_len: vec![HashMap::new(); 33] }
    }
    fn insert(&mut self, p: Ipv4Prefix, v: u32) -> Option<u32> {
        self.by_len[p.len() as usize].insert(p.addr_u32(), v)
    }
    fn remove(&mut self, p: &Ipv4Prefix) -> Option<u32> {
        self.by_len[p.len() as usize].remove(&p.addr_u32())
    }
    fn lookup(&self, addr: u32) -> Option<u32> {
        (0..=32u8)
            .rev()
            .find_map(|len| self.by_len[len as usize].get(&(addr & Ipv4Prefix::mask_of(len))).copied())
    }
}

fn pfx(s: &str) -> Ipv4Prefix {
    s.parse().expect("test prefix")
}

fn ip(s: &str) -> u32 {
    u32::from(s.parse::<Ipv4Addr>().expect("test address"))
}

/// First and last address of a prefix.
fn bounds(p: Ipv4Prefix) -> (u32, u32) {
    (p.addr_u32(), p.addr_u32() | !p.mask())
}

/// Addresses worth probing around a prefix: both ends and one outside each end.
fn probes(p: Ipv4Prefix) -> [u32; 4] {
    let (first, last) = bounds(p);
    [first, last, first.wrapping_sub(1), last.wrapping_add(1)]
}

/// Checks `lpm` against `reference` on `addrs`, one by one and in batches.
fn assert_same(lpm: &Lpm, reference: &ReferenceLpm, addrs: &[u32]) {
    for &a in addrs {
        assert_eq!(lpm.lookup(a), reference.lookup(a), "lookup of {}", Ipv4Addr::from(a));
    }
    // Odd length: exercises full groups and the remainder.
    let n = addrs.len().min(16 * 37 + 5);
    let mut out = vec![Some(u32::MAX); n];
    lpm.lookup_batch(&addrs[..n], &mut out);
    for (a, o) in addrs[..n].iter().zip(&out) {
        assert_eq!(*o, reference.lookup(*a), "batch lookup of {}", Ipv4Addr::from(*a));
    }
}

/// A random prefix concentrated in a few /8s (so that prefixes nest and overlap), with
/// lengths covering every level boundary and, rarely, lengths below /8.
fn random_prefix(rng: &mut StdRng) -> Ipv4Prefix {
    const HOT_SLASH8: [u32; 4] = [10, 11, 192, 255];
    let top = HOT_SLASH8[rng.random_range(0..HOT_SLASH8.len())];
    // Few distinct /16s and /24s so nesting is frequent.
    let addr = (top << 24)
        | (rng.random_range(0..4u32) << 16)
        | (rng.random_range(0..8u32) << 8)
        | rng.random::<u8>() as u32;
    let len = match rng.random_range(0..100) {
        0..=1 => rng.random_range(0..8),
        2..=9 => 8,
        10..=19 => rng.random_range(9..16),
        20..=29 => 16,
        30..=44 => rng.random_range(17..24),
        45..=69 => 24,
        70..=89 => rng.random_range(25..32),
        _ => 32,
    };
    Ipv4Prefix::new(Ipv4Addr::from(addr), len)
}

fn random_addrs(rng: &mut StdRng, prefixes: &[Ipv4Prefix], n: usize) -> Vec<u32> {
    let mut addrs: Vec<u32> = prefixes.iter().flat_map(|p| probes(*p)).collect();
    for _ in 0..n {
        let a = match rng.random_range(0..3) {
            0 => rng.random::<u32>(),
            _ => {
                let p = prefixes[rng.random_range(0..prefixes.len())];
                p.addr_u32() | (rng.random::<u32>() & !p.mask())
            }
        };
        addrs.push(a);
    }
    addrs.extend([0, u32::MAX, ip("10.0.0.0"), ip("9.255.255.255"), ip("11.0.0.0")]);
    addrs
}

#[test]
fn lpm_is_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Lpm>();
    assert_send_sync::<LpmTable>();
}

#[test]
fn empty_table_misses_everywhere() {
    let empty = Lpm::default();
    let compiled = LpmTable::new().compile();
    for a in [0, 1, ip("10.0.0.1"), ip("192.168.255.255"), u32::MAX] {
        assert_eq!(empty.lookup(a), None);
        assert_eq!(compiled.lookup(a), None);
    }
    let mut out = [Some(7); 40];
    empty.lookup_batch(&[ip("10.1.2.3"); 40], &mut out);
    assert!(out.iter().all(|o| o.is_none()));
    // All segments of an empty table share one allocation.
    assert!(empty.memory_bytes() < 4096 + 4 * 1024);
    assert!(LpmTable::new().is_empty());
}

#[test]
fn boundaries_of_every_level() {
    let routes = [
        ("0.0.0.0/0", 1),
        ("10.0.0.0/8", 2),
        ("10.1.0.0/16", 3),
        ("10.1.2.0/24", 4),
        ("10.1.2.3/32", 5),
        ("10.1.2.128/25", 6),
        ("10.255.255.255/32", 7),
        ("11.0.0.0/8", 8),
        ("255.255.255.255/32", 9),
        ("12.0.0.0/6", 10),
        ("20.0.0.0/15", 11),
        ("30.0.0.0/23", 12),
        ("40.0.0.0/31", 13),
    ];
    let mut table = LpmTable::new();
    for (p, v) in routes {
        assert_eq!(table.insert(pfx(p), v), None);
    }
    let lpm = table.compile();
    let expect = [
        ("0.0.0.0", 1),
        ("9.255.255.255", 1),
        ("10.0.0.0", 2),
        ("10.0.255.255", 2),
        ("10.1.0.0", 3),
        ("10.1.1.255", 3),
        ("10.1.2.0", 4),
        ("10.1.2.2", 4),
        ("10.1.2.3", 5),
        ("10.1.2.4", 4),
        ("10.1.2.127", 4),
        ("10.1.2.128", 6),
        ("10.1.2.255", 6),
        ("10.1.3.0", 3),
        ("10.1.255.255", 3),
        ("10.2.0.0", 2),
        ("10.255.255.254", 2),
        ("10.255.255.255", 7),
        ("11.0.0.0", 8),
        ("11.255.255.255", 8),
        ("12.0.0.0", 10),
        ("15.255.255.255", 10),
        ("16.0.0.0", 1),
        ("20.1.255.255", 11),
        ("20.2.0.0", 1),
        ("30.0.1.255", 12),
        ("30.0.2.0", 1),
        ("40.0.0.1", 13),
        ("40.0.0.2", 1),
        ("255.255.255.254", 1),
        ("255.255.255.255", 9),
    ];
    for (a, v) in expect {
        assert_eq!(lpm.lookup(ip(a)), Some(v), "{a}");
    }
    // Deleting exposes the shorter prefixes underneath.
    assert_eq!(table.remove(&pfx("10.1.2.0/24")), Some(4));
    assert_eq!(table.remove(&pfx("0.0.0.0/0")), Some(1));
    assert_eq!(table.remove(&pfx("0.0.0.0/0")), None);
    let lpm2 = table.compile();
    assert_eq!(lpm2.lookup(ip("10.1.2.2")), Some(3));
    assert_eq!(lpm2.lookup(ip("10.1.2.3")), Some(5));
    assert_eq!(lpm2.lookup(ip("10.1.2.200")), Some(6));
    assert_eq!(lpm2.lookup(ip("16.0.0.0")), None);
    assert_eq!(lpm2.lookup(ip("255.255.255.254")), None);
    assert_eq!(lpm2.lookup(ip("255.255.255.255")), Some(9));
    // The previous snapshot is unchanged.
    assert_eq!(lpm.lookup(ip("10.1.2.2")), Some(4));
    assert_eq!(lpm.lookup(ip("16.0.0.0")), Some(1));
}

#[test]
fn largest_value_and_replacement() {
    let mut table = LpmTable::new();
    assert_eq!(table.insert(pfx("1.2.3.0/24"), MAX_VALUE), None);
    assert_eq!(table.insert(pfx("1.2.3.4/32"), 0), None);
    let lpm = table.compile();
    assert_eq!(lpm.lookup(ip("1.2.3.5")), Some(MAX_VALUE));
    assert_eq!(lpm.lookup(ip("1.2.3.4")), Some(0));
    assert_eq!(table.insert(pfx("1.2.3.0/24"), 17), Some(MAX_VALUE));
    assert_eq!(table.get(&pfx("1.2.3.0/24")), Some(17));
    assert_eq!(table.compile().lookup(ip("1.2.3.5")), Some(17));
}

#[test]
#[should_panic(expected = "exceeds")]
fn value_above_max_is_refused() {
    LpmTable::new().insert(pfx("1.0.0.0/8"), MAX_VALUE + 1);
}

#[test]
fn from_routes_keeps_the_last_duplicate() {
    let table =
        LpmTable::from_routes([(pfx("10.0.0.0/8"), 1), (pfx("10.0.0.0/8"), 2), (pfx("10.1.0.0/16"), 3)]);
    assert_eq!(table.len(), 2);
    assert_eq!(table.get(&pfx("10.0.0.0/8")), Some(2));
    let got: Vec<_> = table.iter().collect();
    assert_eq!(got, vec![(pfx("10.0.0.0/8"), 2), (pfx("10.1.0.0/16"), 3)]);
}

#[test]
fn randomised_against_reference() {
    let mut rng = StdRng::seed_from_u64(0x1b5_2024);
    for round in 0..4 {
        let n = [50, 500, 5_000, 30_000][round];
        let mut reference = ReferenceLpm::new();
        let mut routes = Vec::new();
        for _ in 0..n {
            let p = random_prefix(&mut rng);
            // Odd rounds: small values (16-bit leaf codes); even rounds: any value.
            let v = if round % 2 == 1 { rng.random_range(0..1000) } else { rng.random_range(0..=MAX_VALUE) };
            reference.insert(p, v);
            routes.push((p, v));
        }
        let mut table = LpmTable::from_routes(routes.iter().copied());
        let lpm = table.compile();
        let prefixes: Vec<Ipv4Prefix> = routes.iter().map(|(p, _)| *p).collect();
        let addrs = random_addrs(&mut rng, &prefixes, 20_000);
        assert_same(&lpm, &reference, &addrs);

        // Delete a third of the routes (exposing shorter ones) and compare again.
        for p in prefixes.iter().step_by(3) {
            assert_eq!(table.remove(p), reference.remove(p));
        }
        let lpm = table.compile();
        assert_same(&lpm, &reference, &addrs);
    }
}

/// Compiles `table` from scratch (all segments rebuilt).
fn from_scratch(table: &LpmTable) -> Lpm {
    LpmTable::from_routes(table.iter()).compile()
}

fn assert_identical(a: &Lpm, b: &Lpm) {
    for s in 0..SEGMENTS {
        assert!(*a.segments[s] == *b.segments[s], "segment {s} differs");
    }
}

#[test]
fn incremental_compile_equals_from_scratch() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut table = LpmTable::new();
    let mut reference = ReferenceLpm::new();
    let mut present: Vec<Ipv4Prefix> = Vec::new();
    let mut previous = table.compile();
    for step in 0..300 {
        let changes = rng.random_range(1..20);
        let mut touched = [false; SEGMENTS];
        for _ in 0..changes {
            if !present.is_empty() && rng.random_bool(0.4) {
                let p = present.swap_remove(rng.random_range(0..present.len()));
                assert_eq!(table.remove(&p), reference.remove(&p));
                mark(&mut touched, p);
            } else {
                let p = random_prefix(&mut rng);
                let v = rng.random_range(0..1000);
                if table.insert(p, v).is_none() {
                    present.push(p);
                }
                reference.insert(p, v);
                mark(&mut touched, p);
            }
        }
        let lpm = table.compile();
        assert_identical(&lpm, &from_scratch(&table));
        for (s, was_touched) in touched.iter().enumerate() {
            if !was_touched {
                assert!(lpm.shares_segment(&previous, s), "step {step}: untouched segment {s} rebuilt");
            }
        }
        if step % 30 == 0 && !present.is_empty() {
            let addrs = random_addrs(&mut rng, &present, 2_000);
            assert_same(&lpm, &reference, &addrs);
        }
        previous = lpm;
    }
    assert_eq!(table.len(), present.len());
    // Compiling with nothing changed returns the same segments.
    let again = table.compile();
    assert!((0..SEGMENTS).all(|s| again.shares_segment(&previous, s)));
}

fn mark(touched: &mut [bool; SEGMENTS], p: Ipv4Prefix) {
    let first = (p.addr_u32() >> 24) as usize;
    let count = if p.len() >= 8 { 1 } else { 1 << (8 - p.len()) };
    touched[first..first + count].iter_mut().for_each(|t| *t = true);
}

#[test]
fn short_prefixes_span_segments_and_uniform_segments_are_shared() {
    let mut table = LpmTable::new();
    table.insert(pfx("0.0.0.0/0"), 1);
    table.insert(pfx("64.0.0.0/2"), 2);
    table.insert(pfx("100.64.0.0/10"), 3);
    let lpm = table.compile();
    assert_eq!(lpm.lookup(ip("63.255.255.255")), Some(1));
    assert_eq!(lpm.lookup(ip("64.0.0.0")), Some(2));
    assert_eq!(lpm.lookup(ip("100.63.255.255")), Some(2));
    assert_eq!(lpm.lookup(ip("100.64.0.0")), Some(3));
    assert_eq!(lpm.lookup(ip("100.127.255.255")), Some(3));
    assert_eq!(lpm.lookup(ip("127.255.255.255")), Some(2));
    assert_eq!(lpm.lookup(ip("128.0.0.0")), Some(1));
    // 255 segments are uniform (two distinct values): two shared segments plus one real one.
    assert!(lpm.memory_bytes() <= 4096 + 3 * 2 * 1024, "{}", lpm.memory_bytes());
    // Removing the /2 rebuilds its 64 segments and exposes the default route.
    let before = lpm.clone();
    table.remove(&pfx("64.0.0.0/2"));
    let lpm = table.compile();
    assert_eq!(lpm.lookup(ip("64.0.0.0")), Some(1));
    assert_eq!(lpm.lookup(ip("100.64.0.1")), Some(3));
    assert!(lpm.shares_segment(&before, 63) && lpm.shares_segment(&before, 128));
    assert!(!lpm.shares_segment(&before, 64));
    assert_identical(&lpm, &from_scratch(&table));
    assert_eq!(before.lookup(ip("64.0.0.0")), Some(2));
}

#[test]
fn batch_of_every_length_matches_single_lookups() {
    let mut rng = StdRng::seed_from_u64(99);
    let routes: Vec<(Ipv4Prefix, u32)> = (0..2_000).map(|i| (random_prefix(&mut rng), i)).collect();
    let lpm = LpmTable::from_routes(routes.iter().copied()).compile();
    let prefixes: Vec<Ipv4Prefix> = routes.iter().map(|(p, _)| *p).collect();
    let addrs = random_addrs(&mut rng, &prefixes, 100);
    let addrs = &addrs[addrs.len() - 100..];
    for n in 0..=60 {
        // `out` longer than `addrs`: the extra slots must stay untouched.
        let mut out = vec![Some(u32::MAX); n + 3];
        lpm.lookup_batch(&addrs[..n], &mut out);
        for i in 0..n {
            assert_eq!(out[i], lpm.lookup(addrs[i]), "batch of {n}, address {i}");
        }
        assert!(out[n..].iter().all(|o| *o == Some(u32::MAX)));
        // `out` shorter than `addrs`: only `out.len()` lookups.
        let mut short = vec![None; n / 2];
        lpm.lookup_batch(&addrs[..n], &mut short);
        for (i, o) in short.iter().enumerate() {
            assert_eq!(*o, lpm.lookup(addrs[i]));
        }
    }
}

/// Reference by linear scan: the longest prefix of `routes` containing `addr`.
fn linear_lookup(routes: &BTreeMap<Ipv4Prefix, u32>, addr: u32) -> Option<u32> {
    routes
        .iter()
        .filter(|(p, _)| addr & p.mask() == p.addr_u32())
        .max_by_key(|(p, _)| p.len())
        .map(|(_, v)| *v)
}

/// A prefix for a small random set: the default route, host routes, prefixes nested inside
/// one already in `set`, or a prefix from [`random_prefix`].
fn small_set_prefix(rng: &mut StdRng, set: &BTreeMap<Ipv4Prefix, u32>) -> Ipv4Prefix {
    match rng.random_range(0..10) {
        0 => pfx("0.0.0.0/0"),
        1 => Ipv4Prefix::new(Ipv4Addr::from(rng.random::<u32>()), 32),
        2..=5 if !set.is_empty() => {
            let parent = *set.keys().nth(rng.random_range(0..set.len())).expect("index below len");
            let len = rng.random_range(parent.len()..=32);
            Ipv4Prefix::new(Ipv4Addr::from(parent.addr_u32() | (rng.random::<u32>() & !parent.mask())), len)
        }
        _ => random_prefix(rng),
    }
}

/// Compares `lpm` (single and batch lookups) with a linear scan of `routes` on `addrs`.
fn assert_same_as_scan(lpm: &Lpm, routes: &BTreeMap<Ipv4Prefix, u32>, addrs: &[u32], what: &str) {
    let mut out = vec![Some(u32::MAX); addrs.len()];
    lpm.lookup_batch(addrs, &mut out);
    for (a, o) in addrs.iter().zip(&out) {
        let want = linear_lookup(routes, *a);
        assert_eq!(lpm.lookup(*a), want, "{what}: lookup of {} in {routes:?}", Ipv4Addr::from(*a));
        assert_eq!(*o, want, "{what}: batch lookup of {} in {routes:?}", Ipv4Addr::from(*a));
    }
}

#[test]
fn many_small_random_sets_against_linear_scan_with_deletions() {
    let mut rng = StdRng::seed_from_u64(0x5ca1_ab1e);
    for round in 0..150 {
        let n = rng.random_range(1..40);
        let mut set = BTreeMap::new();
        let mut table = LpmTable::new();
        for _ in 0..n {
            let p = small_set_prefix(&mut rng, &set);
            // Odd rounds: small values (16-bit leaf codes); even rounds: any value.
            let v = if round % 2 == 1 { rng.random_range(0..100) } else { rng.random_range(0..=MAX_VALUE) };
            assert_eq!(table.insert(p, v), set.insert(p, v));
        }
        let prefixes: Vec<Ipv4Prefix> = set.keys().copied().collect();
        let addrs = random_addrs(&mut rng, &prefixes, 60);
        assert_same_as_scan(&table.compile(), &set, &addrs, &format!("round {round}"));
        // Withdraw the routes one by one in random order, recompiling after each.
        let mut order = prefixes.clone();
        while !order.is_empty() {
            let p = order.swap_remove(rng.random_range(0..order.len()));
            assert_eq!(table.remove(&p), set.remove(&p));
            let lpm = table.compile();
            assert_same_as_scan(&lpm, &set, &addrs, &format!("round {round}, {p:?} withdrawn"));
        }
        assert!(table.is_empty());
        assert_eq!(table.compile().memory_bytes(), Lpm::default().memory_bytes());
    }
}

#[test]
fn same_results_as_dir1688() {
    let mut rng = StdRng::seed_from_u64(0xd1_1688);
    // Values below 2^15 (16-bit leaf codes) except in 10.0.0.0/8 and 255.0.0.0/8.
    let routes: Vec<(Ipv4Prefix, u32)> = (0..20_000)
        .map(|_| {
            let p = random_prefix(&mut rng);
            let wide = matches!(p.addr_u32() >> 24, 10 | 255);
            (p, if wide { rng.random_range(0..=MAX_VALUE) } else { rng.random_range(0..32_768) })
        })
        .collect();
    let lpm = LpmTable::from_routes(routes.iter().copied()).compile();
    let dir = dir1688::Dir1688Table::from_routes(routes.iter().copied()).compile();
    let prefixes: Vec<Ipv4Prefix> = routes.iter().map(|(p, _)| *p).collect();
    let addrs = random_addrs(&mut rng, &prefixes, 50_000);
    let mut out = vec![None; addrs.len()];
    lpm.lookup_batch(&addrs, &mut out);
    for (a, o) in addrs.iter().zip(&out) {
        assert_eq!(lpm.lookup(*a), dir.lookup(*a), "lookup of {}", Ipv4Addr::from(*a));
        assert_eq!(*o, dir.lookup(*a), "batch lookup of {}", Ipv4Addr::from(*a));
    }
    // The compressed trie is smaller than the DIR-16-8-8 one.
    assert!(lpm.memory_bytes() < dir.memory_bytes(), "{} vs {}", lpm.memory_bytes(), dir.memory_bytes());
}

#[test]
fn memory_follows_the_routes() {
    // Three routes: the segment array, three small segments and the shared empty one.
    let mut table = LpmTable::new();
    table.insert(pfx("10.0.0.0/24"), 1);
    table.insert(pfx("10.1.2.0/24"), 2);
    table.insert(pfx("192.168.1.0/24"), 3);
    let three = table.compile();
    assert!(three.memory_bytes() < 8 * 1024, "{}", three.memory_bytes());
    assert_eq!(three.lookup(ip("10.1.2.9")), Some(2));
    assert_eq!(three.lookup(ip("192.168.1.255")), Some(3));
    assert_eq!(three.lookup(ip("192.168.2.0")), None);
    // 10k distinct /24s and /28s in one /8: under 100 bytes per route (a /28 costs a node of
    // four lines), less than half what the DIR-16-8-8 trie takes.
    let mut rng = StdRng::seed_from_u64(3);
    let mut big = LpmTable::new();
    while big.len() < 10_000 {
        let len = if rng.random_bool(0.8) { 24 } else { 28 };
        big.insert(Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 | (rng.random::<u32>() & 0xff_ffff)), len), 7);
    }
    let lpm = big.compile();
    assert!(lpm.memory_bytes() < 10_000 * 100, "{}", lpm.memory_bytes());
    let dir = dir1688::Dir1688Table::from_routes(big.iter()).compile();
    assert!(lpm.memory_bytes() * 2 < dir.memory_bytes(), "{} vs {}", lpm.memory_bytes(), dir.memory_bytes());
}

#[test]
fn quarters_with_more_runs_than_fit_inline() {
    // Every other /32 of a /24 and every other /24 of a /16 differ from their neighbours: 64
    // runs per quarter, more than a quarter line holds, with 16-bit codes (10.x, 12.x) and
    // 32-bit codes (11.x, 13.x).
    let mut table = LpmTable::new();
    let mut expect = Vec::new();
    for (first, big) in [(10u32, 0u32), (11, 1 << 20), (12, 0), (13, 1 << 20)] {
        let host_level = first == 10 || first == 11;
        let base = first << 24;
        table.insert(Ipv4Prefix::new(Ipv4Addr::from(base), 8), big + 1);
        for x in 0..256u32 {
            let (addr, len) = if host_level { (base | x, 32) } else { (base | (x << 8), 24) };
            if x % 2 == 0 {
                table.insert(Ipv4Prefix::new(Ipv4Addr::from(addr), len), big + 2 + x);
                expect.push((addr, Some(big + 2 + x)));
            } else {
                expect.push((addr, Some(big + 1)));
            }
        }
    }
    let lpm = table.compile();
    let addrs: Vec<u32> = expect.iter().map(|(a, _)| *a).collect();
    let mut out = vec![None; addrs.len()];
    lpm.lookup_batch(&addrs, &mut out);
    for ((a, want), got) in expect.iter().zip(&out) {
        assert_eq!(lpm.lookup(*a), *want, "lookup of {}", Ipv4Addr::from(*a));
        assert_eq!(*got, *want, "batch lookup of {}", Ipv4Addr::from(*a));
    }
    assert!(lpm.segments[10].narrow && lpm.segments[12].narrow);
    assert!(!lpm.segments[11].narrow && !lpm.segments[13].narrow);
}
