//! Criterion bench of the whole pipeline on in-memory ports: ns per packet for tenant z's
//! A -> H path (classify, two logical hops J and L, TTL 64 -> 62, MAC rewrite, incremental
//! checksum) in batches of 64, with 1M extra routes in J's table. One iteration = inject 64
//! frames into port a (copy), one rx burst, the pipeline, egress to port h, completion.
//! The same rig on the substrate FIB (`testkit::substrate_fib`) measures the overlay next to
//! the plain path: `encap_a_to_r` (A -> remote host R: one hop, VXLAN written into the
//! headroom, out of the uplink) and `decap_r_to_h` (VXLAN from R's node on the uplink: every
//! decap check, start moved past the outer headers, J and L, out of port h).
//! Shaping on vs off (`a_to_h_shaped`), flow statistics on vs off (`a_to_h_flows`: the
//! worker's per-batch flow sampling and counting around the pipeline), and the egress
//! scheduler congested (`a_to_h_congested`: port h takes only 48 of every 64 frames per
//! round, so frames wait in their class queue, the queue stays full and 16 per round are
//! dropped as `class_queue_full`).
//! Run: `cargo bench -p vnswitch-benches --bench pipeline -- --measurement-time 3`.

use criterion::{Criterion, Throughput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rib::fib::FibSnapshot;
use rib::PortId;
use rib::{Adjacency, Ipv4Prefix};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;
use switch::flows::FlowPublisher;
use switch::pipeline::encap;
use switch::pipeline::{Batch, Ingress, Pipeline, BATCH};
use switch::port::{MemPorts, Ports};
use switch::stats::WorkerCounters;
use switch::testkit::*;

const EXTRA_ROUTES: usize = 1_000_000;

/// The default FIB with `extra` random prefixes (lengths 16..=32, mostly /24) in J's table,
/// all leading to one shared "unreachable" adjacency; none covers 10.0.0.0/8.
fn fib_with_routes(extra: usize) -> FibSnapshot {
    let mut rng = StdRng::seed_from_u64(42);
    default_fib_with(|t, b| {
        if t != 0 || extra == 0 {
            return;
        }
        let adj = b.adjacency(Adjacency::Unreachable);
        let mut added = 0;
        while added < extra {
            let addr: u32 = rng.random();
            if addr >> 24 == 10 {
                continue;
            }
            let len = match rng.random_range(0..10) {
                0..=5 => 24,
                6 => 16 + rng.random_range(0..8),
                7 => 32,
                _ => 25 + rng.random_range(0..7),
            };
            b.route_to(Ipv4Prefix::new(Ipv4Addr::from(addr), len), adj);
            added += 1;
        }
    })
}

struct Rig {
    ports: LimitedTx,
    pipeline: Pipeline,
    /// Flow statistics as the worker keeps them (None: off).
    flows: Option<FlowPublisher>,
    /// Frames port `tx` must send per round.
    expect: usize,
    counters: WorkerCounters,
    batch: Batch<switch::port::MemDesc>,
    frame: Vec<u8>,
    rx: PortId,
    tx: PortId,
}

impl Rig {
    /// A -> H (plain two logical hops).
    fn new() -> Self {
        Self::path(PORT_A, PORT_H, echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 0x1234, 1, 56))
    }

    /// `frame` received on `rx`, every copy expected out of `tx`.
    fn path(rx: PortId, tx: PortId, frame: Vec<u8>) -> Self {
        Rig {
            ports: LimitedTx::new(MemPorts::new(4, 1024), usize::MAX),
            pipeline: Pipeline::new(),
            flows: None,
            expect: BATCH,
            counters: WorkerCounters::default(),
            batch: Batch::new(Ingress::Port(rx)),
            frame,
            rx,
            tx,
        }
    }

    /// A -> H with the worker's flow statistics on.
    fn with_flows() -> Self {
        let mut rig = Self::new();
        rig.flows = Some(switch::flows::channel(0).0);
        rig
    }

    /// A -> H through a port that sends 48 frames per round: the class queue fills, and
    /// every round 48 leave from it and 16 are dropped.
    fn congested() -> Self {
        let mut rig = Self::new();
        rig.ports = LimitedTx::new(MemPorts::new(4, 1024), 48);
        rig.expect = 48;
        rig
    }

    /// A -> remote host R: encapsulated onto the uplink (substrate FIB).
    fn encap() -> Self {
        Self::path(PORT_A, PORT_UP, echo_request(MAC_A, MAC_J0, None, IP_A, IP_R, 64, 0x1234, 1, 56))
    }

    /// VXLAN from R's node to H: decapsulated on the uplink (substrate FIB).
    fn decap() -> Self {
        let inner = echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 64, 0x1234, 1, 56);
        let sport = encap::source_port(&inner);
        let outer = vxlan_frame(MAC_PEER, MAC_UP, IP_PEER, IP_VTEP, 1, sport, 4789, 5001, &inner);
        Self::path(PORT_UP, PORT_H, outer)
    }

    /// One batch: inject, rx, pipeline + egress, complete. Never inlined (one call per 64
    /// frames), so profilers can attribute exactly one round's work to it.
    #[inline(never)]
    fn round(&mut self, fib: &FibSnapshot) {
        for _ in 0..BATCH {
            let _ = self.ports.mem.inject(self.rx, &self.frame);
        }
        let n = self.ports.rx_burst(self.rx, &mut self.batch.desc);
        if let Some(f) = &mut self.flows {
            f.sample_batch(&self.ports, &self.batch.desc[..n]);
        }
        self.batch.reset(Ingress::Port(self.rx), n);
        let now = Instant::now();
        self.pipeline.run(&mut self.ports, &mut self.batch, fib, None, &mut self.counters, now);
        if let Some(f) = &mut self.flows {
            f.count_batch(&self.batch.meta, n);
            f.maybe_publish(now, false);
        }
        // The worker's end of round: what waits goes out, then housekeeping.
        self.pipeline.drain_queues(&mut self.ports, fib, &mut self.counters, now);
        self.ports.service();
        let sent = self.ports.mem.discard_tx(self.tx);
        assert_eq!(sent, self.expect, "frames forwarded per round");
    }
}

/// Median ns/packet (wall, thread CPU) of 31 runs of `rounds` rounds.
fn median_ns(rig: &mut Rig, fib: &FibSnapshot, rounds: usize) -> (f64, f64) {
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    for _ in 0..31 {
        let (t, c) = (Instant::now(), thread_cpu_ns());
        for _ in 0..rounds {
            rig.round(fib);
        }
        wall.push(t.elapsed().as_nanos() as f64 / (rounds * BATCH) as f64);
        cpu.push(thread_cpu_ns().saturating_sub(c) as f64 / (rounds * BATCH) as f64);
    }
    wall.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    (wall[wall.len() / 2], cpu[cpu.len() / 2])
}

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let big = fib_with_routes(EXTRA_ROUTES);
    eprintln!("built FIB with {EXTRA_ROUTES} extra routes in {:?}", t.elapsed());
    let small = fib_with_routes(0);
    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, fib) in [("a_to_h_1m_routes", &big), ("a_to_h_default_fib", &small)] {
        let mut rig = Rig::new();
        rig.round(fib);
        g.bench_function(name, |b| b.iter(|| rig.round(black_box(fib))));
    }
    // Shaping on (port h's traffic-shape and tenant z's service-level rate, both far above
    // what the bench offers, so every frame conforms) vs off, on the default FIB.
    let mut shaped = fib_with_routes(0);
    shaped.port_shapes = vec![None, Some(rib::Shape::new(400_000_000_000, Some(1 << 30)))];
    shaped.tenant_shapes = vec![Some(rib::Shape::new(400_000_000_000, Some(1 << 30)))];
    {
        let mut rig = Rig::new();
        rig.round(&shaped);
        g.bench_function("a_to_h_shaped", |b| b.iter(|| rig.round(black_box(&shaped))));
    }
    {
        let mut rig = Rig::with_flows();
        rig.round(&small);
        g.bench_function("a_to_h_flows", |b| b.iter(|| rig.round(black_box(&small))));
    }
    {
        let mut rig = Rig::congested();
        for _ in 0..16 {
            rig.round(&small); // fill the class queue
        }
        g.bench_function("a_to_h_congested", |b| b.iter(|| rig.round(black_box(&small))));
    }
    let substrate = substrate_fib(Some(Some(MAC_PEER)));
    let overlay: [(&str, fn() -> Rig); 3] =
        [("a_to_h_substrate_fib", Rig::new), ("encap_a_to_r", Rig::encap), ("decap_r_to_h", Rig::decap)];
    for (name, make) in overlay {
        let mut rig = make();
        rig.round(&substrate);
        g.bench_function(name, |b| b.iter(|| rig.round(black_box(&substrate))));
    }
    g.finish();
    for (name, make) in overlay {
        let (wall, cpu) = median_ns(&mut make(), &substrate, 2000);
        println!("pipeline {name}: median {wall:.1} ns/packet wall, {cpu:.1} ns/packet thread CPU time");
    }

    let cases: [(&str, fn() -> Rig, &FibSnapshot); 5] = [
        ("A->H shaping off", Rig::new, &small),
        ("A->H shaping on (port + tenant)", Rig::new, &shaped),
        ("A->H flow stats off", Rig::new, &small),
        ("A->H flow stats on", Rig::with_flows, &small),
        ("A->H scheduler congested (48 of 64 sent, per offered frame)", Rig::congested, &small),
    ];
    for (name, make, fib) in cases {
        let mut rig = make();
        for _ in 0..16 {
            rig.round(fib);
        }
        let (wall, cpu) = median_ns(&mut rig, fib, 2000);
        println!("pipeline {name}: median {wall:.1} ns/packet wall, {cpu:.1} ns/packet thread CPU time");
    }

    // Print ns/packet (median of rounds) for the report: wall time, and this thread's CPU
    // time (not counting time the scheduler gave to other processes on a busy machine).
    let (wall, cpu) = median_ns(&mut Rig::new(), &big, 2000);
    println!(
        "pipeline A->H with 1M routes: median {wall:.1} ns/packet wall, {cpu:.1} ns/packet thread CPU time (target <= 40)"
    );
}

/// CPU time consumed by the calling thread, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID needs nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
