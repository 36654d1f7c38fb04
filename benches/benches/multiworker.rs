//! Multi-worker scaling of the in-memory pipeline: 1 worker against 2 workers on 2 cores, RSS
//! style. 256 UDP flows A -> H (source ports 1024..1280) are spread over the workers by a
//! Toeplitz hash of their 4-tuple with the common 40-byte RSS key, as a NIC's RSS indirection
//! table would; each worker owns its ports (one queue per worker, as vnswitch's one AF_XDP
//! socket per queue) and its pipeline, and all share one FIB snapshot (one `Arc`, read-only).
//! A worker round = inject 64 frames of its flows (copy), one rx burst, the pipeline (classify,
//! two logical hops, TTL 64 -> 62, MAC rewrite), egress to port h, completion.
//!
//! Criterion measures one round per worker (`multiworker/1_worker`, `multiworker/2_workers`;
//! throughput = frames of all workers). Then a timed comparison: 9 interleaved trials of 1 s
//! each for 1 and 2 workers (threads pinned to cores 0 and 1), medians of the aggregate rate,
//! and the ratio 2 workers / 1 worker (ideal 2.0), plus each worker's thread CPU time per frame
//! (if that stays flat while the ratio drops, the other core was busy with something else).
//! Run: `cargo bench -p vnswitch-benches --bench multiworker -- --measurement-time 3`.

use criterion::{Criterion, Throughput};
use rib::fib::FibSnapshot;
use rib::PortId;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use switch::pipeline::{Batch, Ingress, Pipeline, BATCH};
use switch::port::{MemPorts, Ports};
use switch::stats::WorkerCounters;
use switch::testkit::*;

const FLOWS: u16 = 256;
/// Worker rounds (of 64 frames) per criterion iteration.
const ROUNDS_PER_ITER: u64 = 1024;

/// The usual 40-byte RSS key (Microsoft's RSS verification suite; many NICs' default).
const RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0,
    0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42,
    0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// Toeplitz hash of `input` under `key` (as NICs compute RSS).
fn toeplitz(key: &[u8; 40], input: &[u8]) -> u32 {
    let mut result = 0u32;
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    for (next, &byte) in (4..).zip(input) {
        for bit in (0..8).rev() {
            if byte & (1 << bit) != 0 {
                result ^= window;
            }
            let key_bit = key.get(next).map_or(0, |k| (k >> bit) & 1);
            window = (window << 1) | u32::from(key_bit);
        }
    }
    result
}

/// RSS queue of a UDP flow: hash of src ip, dst ip, src port, dst port; 128-entry indirection
/// table filled round robin over `queues`.
fn rss_queue(
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    sport: u16,
    dport: u16,
    queues: usize,
) -> usize {
    let mut input = [0u8; 12];
    input[..4].copy_from_slice(&src.octets());
    input[4..8].copy_from_slice(&dst.octets());
    input[8..10].copy_from_slice(&sport.to_be_bytes());
    input[10..].copy_from_slice(&dport.to_be_bytes());
    (toeplitz(&RSS_KEY, &input) as usize % 128) % queues
}

/// The frames of the flows that land on queue `queue` of `queues`.
fn frames_for(queue: usize, queues: usize) -> Vec<Vec<u8>> {
    (0..FLOWS)
        .map(|i| 1024 + i)
        .filter(|&sport| rss_queue(IP_A, IP_H, sport, 9, queues) == queue)
        .map(|sport| udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, sport, 9, &[0u8; 18]))
        .collect()
}

/// One worker's state: its own ports and pipeline.
struct Worker {
    ports: MemPorts,
    pipeline: Pipeline,
    counters: WorkerCounters,
    batch: Batch<switch::port::MemDesc>,
    frames: Vec<Vec<u8>>,
    next: usize,
}

impl Worker {
    fn new(frames: Vec<Vec<u8>>) -> Self {
        assert!(!frames.is_empty(), "RSS gave this worker no flow");
        Worker {
            ports: MemPorts::new(4, 1024),
            pipeline: Pipeline::new(),
            counters: WorkerCounters::default(),
            batch: Batch::new(Ingress::Port(PORT_A)),
            frames,
            next: 0,
        }
    }

    #[inline(never)]
    fn round(&mut self, fib: &FibSnapshot) {
        for _ in 0..BATCH {
            let _ = self.ports.inject(PORT_A, &self.frames[self.next]);
            self.next = (self.next + 1) % self.frames.len();
        }
        let rx: PortId = PORT_A;
        let n = self.ports.rx_burst(rx, &mut self.batch.desc);
        self.batch.reset(Ingress::Port(rx), n);
        self.pipeline.run(&mut self.ports, &mut self.batch, fib, None, &mut self.counters, Instant::now());
        let sent = self.ports.discard_tx(PORT_H);
        assert_eq!(sent, BATCH, "every frame forwarded");
    }
}

fn pin(core: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it; sched_setaffinity
    // reads it for the calling thread (0). A failure only leaves the thread unpinned.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(core, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
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

/// What `workers` pinned threads did: per worker (frames, thread CPU ns), and the wall time
/// from the common start to the last worker's end.
struct Trial {
    frames: Vec<u64>,
    cpu_ns: Vec<u64>,
    wall: Duration,
}

/// Runs `workers` threads (worker w on core w % cores), each doing `rounds` rounds, or rounds
/// until `duration` if `rounds` is None.
fn trial(fib: &Arc<FibSnapshot>, workers: usize, rounds: Option<u64>, duration: Duration) -> Trial {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let barrier = Barrier::new(workers + 1);
    let mut start = Instant::now();
    let results: Vec<(u64, u64, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (fib, barrier) = (Arc::clone(fib), &barrier);
                s.spawn(move || {
                    pin(w % cores);
                    let mut worker = Worker::new(frames_for(w, workers));
                    worker.round(&fib); // warm
                    barrier.wait();
                    let (start, cpu) = (Instant::now(), thread_cpu_ns());
                    let mut done = 0u64;
                    loop {
                        for _ in 0..16 {
                            worker.round(black_box(&fib));
                        }
                        done += 16;
                        match rounds {
                            Some(r) if done >= r => break,
                            None if start.elapsed() >= duration => break,
                            _ => {}
                        }
                    }
                    (done * BATCH as u64, thread_cpu_ns().saturating_sub(cpu), Instant::now())
                })
            })
            .collect();
        barrier.wait();
        start = Instant::now();
        handles.into_iter().map(|h| h.join().expect("worker thread")).collect()
    });
    let end = results.iter().map(|r| r.2).max().unwrap_or(start);
    Trial {
        frames: results.iter().map(|r| r.0).collect(),
        cpu_ns: results.iter().map(|r| r.1).collect(),
        wall: end.saturating_duration_since(start),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

fn bench(c: &mut Criterion) {
    // Self-check of the hash against the RSS verification suite's first IPv4 vector
    // (66.9.149.187:2794 -> 161.142.100.80:1766 hashes to 0x51ccc178).
    let mut vector = [66, 9, 149, 187, 161, 142, 100, 80, 0, 0, 0, 0];
    vector[8..10].copy_from_slice(&2794u16.to_be_bytes());
    vector[10..].copy_from_slice(&1766u16.to_be_bytes());
    assert_eq!(toeplitz(&RSS_KEY, &vector), 0x51cc_c178, "Toeplitz hash self-check");

    let fib = Arc::new(default_fib());
    // The RSS spread of the 256 flows over 2 queues.
    let spread: Vec<usize> = (0..2).map(|q| frames_for(q, 2).len()).collect();
    eprintln!("RSS spread of {FLOWS} flows over 2 workers: {spread:?}");

    let mut g = c.benchmark_group("multiworker");
    for workers in [1usize, 2] {
        // One criterion iteration = ROUNDS_PER_ITER rounds per worker, so starting the threads
        // (tens of microseconds) is < 1% of it.
        g.throughput(Throughput::Elements((ROUNDS_PER_ITER as usize * BATCH * workers) as u64));
        let name = if workers == 1 { "1_worker".to_string() } else { format!("{workers}_workers") };
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let t = Instant::now();
                trial(&fib, workers, Some(iters * ROUNDS_PER_ITER), Duration::ZERO);
                t.elapsed()
            })
        });
    }
    g.finish();

    // Timed comparison: 9 interleaved 1 s trials of each.
    let secs = Duration::from_secs(1);
    let (mut one, mut two, mut cpu1, mut cpu2) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..9 {
        for workers in [1usize, 2] {
            let t = trial(&fib, workers, None, secs);
            let total: u64 = t.frames.iter().sum();
            let mpps = total as f64 / t.wall.as_secs_f64().max(1e-9) / 1e6;
            let ns: Vec<f64> =
                t.frames.iter().zip(&t.cpu_ns).map(|(&f, &c)| c as f64 / f.max(1) as f64).collect();
            if workers == 1 {
                one.push(mpps);
                cpu1.extend(ns);
            } else {
                two.push(mpps);
                cpu2.extend(ns);
            }
        }
    }
    let (m1, m2) = (median(one.clone()), median(two.clone()));
    let (ns1, ns2) = (median(cpu1), median(cpu2));
    println!(
        "multiworker: 1 worker {m1:.2} Mpps, 2 workers {m2:.2} Mpps (medians of 9 interleaved 1 s trials, wall \
         clock); ratio 2/1 = {:.2} (ideal 2.0)",
        m2 / m1.max(1e-9)
    );
    println!(
        "multiworker: thread CPU time per frame: 1 worker {ns1:.1} ns, 2 workers {ns2:.1} ns each; \
         ratio if each worker had its core to itself = 2 x {ns1:.1} / {ns2:.1} = {:.2}",
        2.0 * ns1 / ns2.max(1e-9)
    );
    println!("multiworker trials (Mpps): 1 worker {one:.2?}; 2 workers {two:.2?}");
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
