//! Criterion bench of FIB publication: compiling and publishing a 1M-route snapshot from
//! scratch, and the latency from `add_route` on a 1M-route RIB to a reader thread (standing in
//! for a worker) seeing the new generation. Targets: <= 300 ms and <= 1 ms.
//!
//!     cargo bench -p vnswitch-benches --bench snapshot

use criterion::{criterion_group, criterion_main, Criterion};
use rib::topology::schema::{
    HostConfig, PortConfig, PortRole, RouterConfig, RouterInterfaceConfig, StaticRouteConfig, TenantConfig,
    TopologyFile,
};
use rib::topology::Topology;
use rib::{compile_snapshot, FibCell, FibSnapshot, Ipv4Prefix, RibHandle};
use std::collections::HashSet;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUTES: usize = 1_000_000;
const HOSTS: u8 = 8;

/// One tenant, one router (so every route lands in one table), 8 hosts and `n` distinct
/// static routes (mostly /24, some /16../32) via those hosts.
fn big_topology(n: usize) -> Topology {
    let parse =
        |s: &str| -> Ipv4Prefix { s.parse().unwrap_or_else(|_| Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 0)) };
    let mac = |b: u8| rib::MacAddr([0x02, 0, 0, 0, 0x10, b]);
    let hosts: Vec<HostConfig> = (0..HOSTS)
        .map(|i| HostConfig {
            name: format!("h{i}"),
            address: Ipv4Addr::new(10, 0, 0, 10 + i),
            mac: mac(i),
            port: Some("p0".into()),
            node: None,
            netns: None,
        })
        .collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let lengths = [16u8, 20, 22, 24, 24, 24, 24, 24, 24, 24, 28, 32];
    let mut seen = HashSet::with_capacity(n);
    let mut static_routes = Vec::with_capacity(n);
    while static_routes.len() < n {
        let r = next();
        let first = 11 + (r % 212) as u32;
        if first == 127 {
            continue;
        }
        let len = lengths[((r >> 8) % lengths.len() as u64) as usize];
        let p = Ipv4Prefix::new(Ipv4Addr::from((first << 24) | ((r >> 16) as u32 & 0x00ff_ffff)), len);
        if !seen.insert(p) {
            continue;
        }
        let nh = Ipv4Addr::new(10, 0, 0, 10 + ((r >> 40) % HOSTS as u64) as u8);
        static_routes.push(StaticRouteConfig { prefix: p, next_hop: nh, router: None });
    }
    let file = TopologyFile {
        hostname: "big".into(),
        workers: Default::default(),
        shell: Default::default(),
        ports: vec![PortConfig {
            name: "p0".into(),
            device: "vns-big0".into(),
            role: PortRole::Access { tenant: "big".into(), subnet: parse("10.0.0.0/24"), vlan: None },
            enabled: true,
            shape: None,
        }],
        tenants: vec![TenantConfig {
            name: "big".into(),
            vni: 9001,
            service_level: rib::ServiceLevel::Gold,
            fast_path_quota_bytes: None,
            quarantine_links: vec![],
            substrate_cost_factors: Default::default(),
            subnets: vec![parse("10.0.0.0/24")],
            routers: vec![RouterConfig {
                name: "B1".into(),
                interfaces: vec![RouterInterfaceConfig {
                    name: "Gi0/0".into(),
                    address: Ipv4Addr::new(10, 0, 0, 1),
                    subnet: parse("10.0.0.0/24"),
                    mac: mac(0xff),
                }],
            }],
            links: vec![],
            hosts,
            static_routes,
            redirects: vec![],
            snmp_community: None,
        }],
        substrate: Default::default(),
        service_levels: vec![],
        users: vec![],
        snmp: Default::default(),
    };
    match Topology::from_file(file) {
        Ok(t) => t,
        Err(e) => panic!("generated topology is invalid: {e}"),
    }
}

fn compile_and_publish(c: &mut Criterion) {
    let topo = big_topology(ROUTES);
    let cell = FibCell::new(Arc::new(FibSnapshot::empty()));
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(1));
    g.bench_function("compile_publish_1m_routes", |b| {
        b.iter(|| {
            let snap = compile_snapshot(&topo).unwrap_or_else(|e| panic!("{e}"));
            cell.store(Arc::new(snap));
        })
    });
    g.finish();
    // When the bench ran (not filtered out), the published table answers.
    let snap = cell.load_full();
    if snap.generation > 0 {
        assert!(snap.lookup(rib::TableId(0), Ipv4Addr::new(10, 0, 0, 10)).is_some());
    }
}

fn single_change_visible(c: &mut Criterion) {
    let rib = RibHandle::spawn(big_topology(ROUTES)).unwrap_or_else(|e| panic!("{e}"));
    let fib = rib.fib();
    let base = Instant::now();
    let seen_gen = Arc::new(AtomicU64::new(0));
    let seen_at = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (seen_gen, seen_at, stop) = (seen_gen.clone(), seen_at.clone(), stop.clone());
        std::thread::spawn(move || {
            // A worker's view: load the snapshot once per "batch" and note when it changes.
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let g = fib.load().generation;
                if g != last {
                    last = g;
                    seen_at.store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    seen_gen.store(g, Ordering::Release);
                }
                // Let other threads of equal priority run (this box has 2 cores).
                std::thread::yield_now();
            }
        })
    };
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(20).measurement_time(Duration::from_secs(10)).warm_up_time(Duration::from_secs(1));
    let mut i: u32 = 0;
    // Every individual latency, for an exact median (criterion reports per-sample means, which
    // one scheduling outlier on a busy 2-core box can dominate).
    let mut each: Vec<Duration> = Vec::new();
    g.bench_function("single_change_visible_1m_routes", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Alternate adding and removing a /24 in 5.0.0.0/8 (not among the generated ones).
                let p = Ipv4Prefix::new(Ipv4Addr::from(0x0500_0000 + ((i / 2) << 8)), 24);
                let nh = Ipv4Addr::new(10, 0, 0, 10);
                let want = rib.snapshot().generation + 1;
                let t0 = base.elapsed();
                let r = if i % 2 == 0 { rib.add_route("big", p, nh) } else { rib.remove_route("big", p, nh) };
                r.unwrap_or_else(|e| panic!("{e}"));
                while seen_gen.load(Ordering::Acquire) < want {
                    std::hint::spin_loop();
                }
                let seen = Duration::from_nanos(seen_at.load(Ordering::Relaxed));
                total += seen.saturating_sub(t0);
                each.push(seen.saturating_sub(t0));
                i += 1;
            }
            total
        })
    });
    g.finish();
    if !each.is_empty() {
        each.sort_unstable();
        let pct = |q: f64| each[((each.len() - 1) as f64 * q).round() as usize];
        println!(
            "single change visible over {} changes: median {:?}, p90 {:?}, p99 {:?}, max {:?}",
            each.len(),
            pct(0.5),
            pct(0.9),
            pct(0.99),
            pct(1.0)
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = reader.join();
    black_box(rib.snapshot().generation);
    rib.shutdown();
}

criterion_group!(benches, compile_and_publish, single_change_visible);
criterion_main!(benches);
