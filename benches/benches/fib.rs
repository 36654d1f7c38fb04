//! Criterion bench of the FIB's IPv4 longest-prefix match (`rib::fib::lpm`, poptrie-class) on a
//! 1M-prefix table with an Internet-like length distribution, side by side with the DIR-16-8-8 trie
//! it replaced (`rib::fib::lpm::dir1688`) and the `prefix-trie` crate; plus bulk compilation of 1M
//! prefixes, a batch of 100k route changes compiled, and recompilation after one route change.
//!
//! After criterion's run, `main` times each lookup variant again (median of several rounds) and
//! prints ns/lookup and the speed-up over `prefix-trie`.
//! Run: `cargo bench -p vnswitch-benches --bench fib -- --measurement-time 3`.

use criterion::{BatchSize, Criterion, Throughput};
use prefix_trie::{Prefix, PrefixMap};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rib::fib::lpm::dir1688::{Dir1688, Dir1688Table};
use rib::fib::lpm::{Lpm, LpmTable};
use rib::types::Ipv4Prefix;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

/// Routes in the table.
const ROUTES: usize = 1_000_000;
/// Distinct random lookup addresses (cycled through; 16 MiB, larger than the caches' share).
const ADDRS: usize = 1 << 22;
/// Lookups per criterion iteration.
const CHUNK: usize = 1024;

/// A prefix key for `prefix-trie` (address bits, length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TriePrefix(u32, u8);

impl Prefix for TriePrefix {
    type R = u32;
    fn repr(&self) -> u32 {
        self.0
    }
    fn prefix_len(&self) -> u8 {
        self.1
    }
    fn from_repr_len(repr: u32, len: u8) -> Self {
        TriePrefix(repr, len)
    }
}

/// Prefix length drawn from a distribution close to today's Internet table: ~60% /24, most of
/// the rest /16–/23, about 1% shorter than /16 and about 1.5% longer than /24.
fn random_len(rng: &mut StdRng) -> u8 {
    match rng.random_range(0..1000) {
        0..=9 => rng.random_range(8..16),
        10..=24 => 16,
        25..=34 => 17,
        35..=49 => 18,
        50..=79 => 19,
        80..=124 => 20,
        125..=174 => 21,
        175..=274 => 22,
        275..=364 => 23,
        365..=984 => 24,
        _ => rng.random_range(25..=32),
    }
}

/// `ROUTES` distinct prefixes, clustered like allocations are: most fall in one of 40,000
/// randomly chosen /16 blocks of unicast space (1.0.0.0–223.255.255.255).
fn generate_routes(seed: u64) -> Vec<(Ipv4Prefix, u32)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let blocks: Vec<u32> = (0..40_000).map(|_| rng.random_range(0x0100..0xe000u32) << 16).collect();
    let mut seen = std::collections::HashSet::with_capacity(ROUTES);
    let mut routes = Vec::with_capacity(ROUTES);
    while routes.len() < ROUTES {
        let len = random_len(&mut rng);
        let addr = if len < 16 {
            rng.random_range(0x0100_0000..0xe000_0000u32)
        } else {
            blocks[rng.random_range(0..blocks.len())] | (rng.random::<u32>() & 0xffff)
        };
        let p = Ipv4Prefix::new(Ipv4Addr::from(addr), len);
        if seen.insert(p) {
            routes.push((p, rng.random_range(0..4096)));
        }
    }
    routes
}

/// Lookup addresses: 90% inside a random route, 10% uniformly random (mostly misses).
fn generate_addrs(routes: &[(Ipv4Prefix, u32)], seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..ADDRS)
        .map(|_| {
            if rng.random_range(0..10) == 0 {
                rng.random()
            } else {
                let (p, _) = routes[rng.random_range(0..routes.len())];
                p.addr_u32() | (rng.random::<u32>() & !p.mask())
            }
        })
        .collect()
}

struct Fixture {
    routes: Vec<(Ipv4Prefix, u32)>,
    addrs: Vec<u32>,
    table: LpmTable,
    lpm: Lpm,
    dir: Dir1688,
    trie: PrefixMap<TriePrefix, u32>,
    /// `BULK_CHANGES` route changes: half withdraw existing routes, half add /24s.
    changes: Vec<(Ipv4Prefix, Option<u32>)>,
}

/// Route changes in the bulk-update measurement.
const BULK_CHANGES: usize = 100_000;

fn generate_changes(routes: &[(Ipv4Prefix, u32)]) -> Vec<(Ipv4Prefix, Option<u32>)> {
    let step = routes.len() / (BULK_CHANGES / 2);
    let mut changes = Vec::with_capacity(BULK_CHANGES);
    for (i, (p, _)) in routes.iter().step_by(step).take(BULK_CHANGES / 2).enumerate() {
        changes.push((*p, None));
        let add = Ipv4Prefix::new(Ipv4Addr::from(p.addr_u32() ^ 0x100), 24);
        changes.push((add, Some(i as u32 % 4096)));
    }
    changes
}

/// Applies `changes` to `table` and compiles it.
fn apply_and_compile(mut table: LpmTable, changes: &[(Ipv4Prefix, Option<u32>)]) -> Lpm {
    for (p, v) in changes {
        match v {
            Some(v) => {
                table.insert(*p, *v);
            }
            None => {
                table.remove(p);
            }
        }
    }
    table.compile()
}

fn fixture() -> Fixture {
    let t = Instant::now();
    let routes = generate_routes(0x05ee_df1b);
    let addrs = generate_addrs(&routes, 0xadd7);
    let mut table = LpmTable::from_routes(routes.iter().copied());
    let lpm = table.compile();
    let dir = Dir1688Table::from_routes(routes.iter().copied()).compile();
    let mut trie = PrefixMap::new();
    for (p, v) in &routes {
        trie.insert(TriePrefix(p.addr_u32(), p.len()), *v);
    }
    // The two structures must agree before their speed is compared.
    for a in addrs.iter().step_by(97) {
        let want = trie.get_lpm(&TriePrefix(*a, 32)).map(|(_, v)| *v);
        assert_eq!(lpm.lookup(*a), want, "lookup of {}", Ipv4Addr::from(*a));
        assert_eq!(dir.lookup(*a), want, "dir1688 lookup of {}", Ipv4Addr::from(*a));
    }
    let changes = generate_changes(&routes);
    eprintln!(
        "fixture: {} routes, {} lookup addresses, poptrie {:.1} MiB, dir1688 {:.1} MiB, built in {:.2?}",
        table.len(),
        addrs.len(),
        lpm.memory_bytes() as f64 / (1 << 20) as f64,
        dir.memory_bytes() as f64 / (1 << 20) as f64,
        t.elapsed()
    );
    Fixture { routes, addrs, table, lpm, dir, trie, changes }
}

/// The lookup variants compared, each doing `CHUNK` lookups from `addrs[start..]`.
#[derive(Clone, Copy)]
enum Variant {
    LpmSingle,
    LpmBatch,
    DirSingle,
    DirBatch,
    TrieSingle,
    TrieBatch,
}

impl Variant {
    const ALL: [Variant; 6] = [
        Variant::LpmSingle,
        Variant::LpmBatch,
        Variant::DirSingle,
        Variant::DirBatch,
        Variant::TrieSingle,
        Variant::TrieBatch,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::LpmSingle => "poptrie/single",
            Variant::LpmBatch => "poptrie/batch",
            Variant::DirSingle => "dir1688/single",
            Variant::DirBatch => "dir1688/batch",
            Variant::TrieSingle => "prefix_trie/single",
            Variant::TrieBatch => "prefix_trie/batch",
        }
    }

    #[inline(always)]
    fn run(self, f: &Fixture, addrs: &[u32], out: &mut [Option<u32>]) {
        match self {
            Variant::LpmSingle => {
                let mut acc = 0u32;
                for a in addrs {
                    acc = acc.wrapping_add(f.lpm.lookup(black_box(*a)).unwrap_or(0));
                }
                black_box(acc);
            }
            Variant::LpmBatch => {
                f.lpm.lookup_batch(addrs, out);
                black_box(&*out);
            }
            Variant::DirSingle => {
                let mut acc = 0u32;
                for a in addrs {
                    acc = acc.wrapping_add(f.dir.lookup(black_box(*a)).unwrap_or(0));
                }
                black_box(acc);
            }
            Variant::DirBatch => {
                f.dir.lookup_batch(addrs, out);
                black_box(&*out);
            }
            Variant::TrieSingle => {
                let mut acc = 0u32;
                for a in addrs {
                    acc = acc
                        .wrapping_add(f.trie.get_lpm(&TriePrefix(black_box(*a), 32)).map_or(0, |(_, v)| *v));
                }
                black_box(acc);
            }
            Variant::TrieBatch => {
                for (a, o) in addrs.iter().zip(out.iter_mut()) {
                    *o = f.trie.get_lpm(&TriePrefix(*a, 32)).map(|(_, v)| *v);
                }
                black_box(&*out);
            }
        }
    }
}

fn bench_lookup(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("lpm_lookup_1M");
    group.throughput(Throughput::Elements(CHUNK as u64));
    for variant in Variant::ALL {
        let mut start = 0;
        let mut out = vec![None; CHUNK];
        group.bench_function(variant.name(), |b| {
            b.iter(|| {
                variant.run(f, &f.addrs[start..start + CHUNK], &mut out);
                start = (start + CHUNK) % f.addrs.len();
            })
        });
    }
    group.finish();
}

fn bench_compile(c: &mut Criterion, f: &Fixture) {
    let mut group = c.benchmark_group("lpm_compile_1M");
    group.sample_size(10);
    let uncompiled = LpmTable::from_routes(f.routes.iter().copied());
    group.bench_function("compile_all", |b| {
        b.iter_batched(|| uncompiled.clone(), |mut t| t.compile(), BatchSize::PerIteration)
    });
    group.bench_function("from_routes_and_compile", |b| {
        b.iter_batched(
            || f.routes.clone(),
            |routes| LpmTable::from_routes(routes).compile(),
            BatchSize::PerIteration,
        )
    });
    let uncompiled_dir = Dir1688Table::from_routes(f.routes.iter().copied());
    group.bench_function("dir1688_compile_all", |b| {
        b.iter_batched(|| uncompiled_dir.clone(), |mut t| t.compile(), BatchSize::PerIteration)
    });
    group.bench_function("bulk_100k_changes", |b| {
        b.iter_batched(|| f.table.clone(), |t| apply_and_compile(t, &f.changes), BatchSize::PerIteration)
    });
    group.finish();

    let mut group = c.benchmark_group("lpm_recompile_1M");
    let mut table = f.table.clone();
    let mut rng = StdRng::seed_from_u64(42);
    // Alternately add and withdraw a /24 inside a populated /8 and publish a new table.
    group.bench_function("one_change", |b| {
        b.iter(|| {
            let (p, _) = f.routes[rng.random_range(0..f.routes.len())];
            let probe = Ipv4Prefix::new(Ipv4Addr::from(p.addr_u32() ^ 0x100), 24);
            if table.remove(&probe).is_none() {
                table.insert(probe, 7);
            }
            table.compile()
        })
    });
    group.finish();
}

/// Addresses per timed round of the summary.
const SUMMARY_ADDRS: usize = 1 << 20;

/// Median ns/lookup of `variant` over several timed rounds of `SUMMARY_ADDRS` lookups.
fn median_ns_per_lookup(f: &Fixture, variant: Variant) -> f64 {
    const ROUNDS: usize = 15;
    let mut out = vec![None; CHUNK];
    let mut samples: Vec<f64> = (0..ROUNDS)
        .map(|round| {
            let start = round * SUMMARY_ADDRS % f.addrs.len();
            let addrs = &f.addrs[start..start + SUMMARY_ADDRS];
            let t = Instant::now();
            for chunk in addrs.chunks_exact(CHUNK) {
                variant.run(f, chunk, &mut out);
            }
            t.elapsed().as_nanos() as f64 / SUMMARY_ADDRS as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[ROUNDS / 2]
}

fn summary(f: &Fixture) {
    let ns: Vec<f64> = Variant::ALL.iter().map(|v| median_ns_per_lookup(f, *v)).collect();
    println!(
        "\nLPM lookup, 1M prefixes, random addresses (median of 15 rounds of {} lookups):",
        SUMMARY_ADDRS
    );
    for (v, n) in Variant::ALL.iter().zip(&ns) {
        println!("  {:<22} {:>8.2} ns/lookup", v.name(), n);
    }
    println!(
        "  speed-up single: {:.1}x   batch: {:.1}x (prefix_trie / poptrie); over dir1688: {:.1}x, {:.1}x",
        ns[4] / ns[0],
        ns[5] / ns[1],
        ns[2] / ns[0],
        ns[3] / ns[1]
    );
    let mut bulk_rounds: Vec<f64> = (0..5)
        .map(|_| {
            let table = f.table.clone();
            let t = Instant::now();
            black_box(apply_and_compile(table, &f.changes));
            t.elapsed().as_secs_f64()
        })
        .collect();
    bulk_rounds.sort_by(f64::total_cmp);
    println!(
        "  {} changes applied + compiled: median {:.1} ms = {:.2} M updates/s",
        BULK_CHANGES,
        bulk_rounds[2] * 1e3,
        BULK_CHANGES as f64 / bulk_rounds[2] / 1e6
    );
    let mut table = f.table.clone();
    let t = Instant::now();
    let _ = LpmTable::from_routes(f.routes.iter().copied()).compile();
    let bulk = t.elapsed();
    let mut rounds: Vec<f64> = (0..101u32)
        .map(|i| {
            let p = Ipv4Prefix::new(Ipv4Addr::from(f.routes[i as usize * 977].0.addr_u32() ^ 0x100), 24);
            let t = Instant::now();
            if table.remove(&p).is_none() {
                table.insert(p, 7);
            }
            black_box(table.compile());
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("  bulk from_routes+compile 1M: {bulk:.2?}; one-change recompile median {:.1} µs", rounds[50]);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--test" || a == "--list");
    let f = fixture();
    let mut c = Criterion::default().configure_from_args();
    bench_lookup(&mut c, &f);
    bench_compile(&mut c, &f);
    c.final_summary();
    if !quick {
        summary(&f);
    }
}
