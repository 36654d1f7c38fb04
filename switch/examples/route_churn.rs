//! Route churn under traffic (issue 11, reliability): a feed of static route changes
//! (`--rate` per second for `--secs` seconds; default 100 000/s for 60 s) goes through the RIB
//! thread of the default topology while a worker forwards a stable flow A -> H (10.1.5.7)
//! over in-memory ports. Every frame leaving the worker is checked byte by byte; the report
//! gives frames sent / delivered / lost / misrouted, the route changes achieved per second,
//! FIB publications, and the worst gap between two of the worker's poll rounds.
//!
//! `scripts/route-churn [SECS] [RATE]` runs it in release mode. Exits non-zero when a
//! stable frame was lost or misrouted or a route change failed.

use rib::{Ipv4Prefix, RibHandle};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::port::MemPorts;
use switch::stats::channel;
use switch::testkit::*;
use switch::worker::{Worker, WorkerConfig};

/// Frames of the stable flow injected per poll round.
const FLOW_PER_ROUND: usize = 16;
/// Routes live at once: change i adds prefix i and removes prefix i - WINDOW.
const WINDOW: u64 = 5000;
/// Most changes waiting for their answer before the feed waits (backpressure).
const MAX_IN_FLIGHT: usize = 400_000;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The i-th churned /32: 10.200.0.0 .. 10.249.255.255, never the stable 10.1.5.0/24.
fn churn_prefix(i: u64) -> Ipv4Prefix {
    let n = i % (50 << 16);
    Ipv4Prefix::new(Ipv4Addr::new(10, 200 + (n >> 16) as u8, (n >> 8) as u8, n as u8), 32)
}

/// The answer to one route change.
type Answer = crossbeam_channel::Receiver<Result<(), rib::RibError>>;

struct FeedReport {
    submitted: u64,
    answered: u64,
    failed: u64,
    elapsed: Duration,
    worst_answer: Duration,
}

fn feed(rib: RibHandle, rate: u64, secs: u64, stop: Arc<AtomicBool>) -> FeedReport {
    let hop = Ipv4Addr::new(10, 1, 5, 7);
    let start = Instant::now();
    let end = start + Duration::from_secs(secs);
    let mut in_flight: VecDeque<(Instant, Answer)> = VecDeque::new();
    let (mut submitted, mut answered, mut failed) = (0u64, 0u64, 0u64);
    let mut worst_answer = Duration::ZERO;
    let mut send_failed = 0u64;
    let mut i = 0u64;
    let mut settle = |q: &mut VecDeque<(Instant, Answer)>, block: bool| {
        while let Some((at, rx)) = q.front() {
            let r: Option<Result<(), rib::RibError>> =
                if block { rx.recv().ok() } else { rx.try_recv().ok() };
            let Some(r) = r else { break };
            worst_answer = worst_answer.max(at.elapsed());
            answered += 1;
            if r.is_err() {
                failed += 1;
            }
            q.pop_front();
        }
    };
    while Instant::now() < end {
        // Changes due by now at `rate` per second.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while submitted < due {
            // Even changes add prefix i, odd ones remove the prefix added WINDOW changes ago.
            let (add, prefix) = if submitted % 2 == 0 || i < WINDOW {
                (true, churn_prefix(i))
            } else {
                (false, churn_prefix(i - WINDOW))
            };
            if add {
                i += 1;
            }
            match rib.submit_route(add, "z", prefix, hop) {
                Ok(rx) => in_flight.push_back((Instant::now(), rx)),
                Err(_) => send_failed += 1,
            }
            submitted += 1;
            if in_flight.len() >= MAX_IN_FLIGHT {
                settle(&mut in_flight, true);
            }
        }
        settle(&mut in_flight, false);
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = start.elapsed();
    while !in_flight.is_empty() {
        settle(&mut in_flight, true);
    }
    stop.store(true, Ordering::Relaxed);
    FeedReport { submitted, answered, failed: failed + send_failed, elapsed, worst_answer }
}

fn main() -> std::process::ExitCode {
    let secs = arg("--secs", 60);
    let rate = arg("--rate", 100_000);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let topo = match rib::topology::load(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("route_churn: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let rib = match RibHandle::spawn(topo) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("route_churn: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let fib = rib.fib();
    let gen0 = rib.snapshot().generation;
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let (rib, stop) = (rib.clone(), stop.clone());
        std::thread::Builder::new().name("churn-feed".into()).spawn(move || feed(rib, rate, secs, stop))
    };
    let Ok(feeder) = feeder else {
        eprintln!("route_churn: cannot start the feed thread");
        return std::process::ExitCode::FAILURE;
    };

    // The worker, polled round by round on this thread, with the stable flow always queued.
    let (publisher, _consumer) = channel(0, 64);
    let mut w = Worker::new(WorkerConfig::new(0), MemPorts::new(3, 4096), fib, publisher, None, stop.clone());
    let frame = echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 0x77, 1, 56);
    let expected = echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 62, 0x77, 1, 56);
    let (mut sent, mut delivered, mut misrouted, mut wrong_bytes) = (0u64, 0u64, 0u64, 0u64);
    let mut worst_gap = Duration::ZERO;
    let mut gaps_over_1ms = 0u64;
    let mut rounds = 0u64;
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..FLOW_PER_ROUND {
            if w.ports_mut().inject(PORT_A, &frame).is_ok() {
                sent += 1;
            }
        }
        let now = Instant::now();
        let gap = now - last;
        last = now;
        if gap > worst_gap {
            worst_gap = gap;
        }
        if gap > Duration::from_millis(1) {
            gaps_over_1ms += 1;
        }
        w.poll_once(now);
        rounds += 1;
        let ports = w.ports_mut();
        ports.drain_tx_with(PORT_H, |f| {
            if f == &expected[..] {
                delivered += 1;
            } else {
                wrong_bytes += 1;
            }
        });
        misrouted += ports.discard_tx(PORT_A) as u64 + ports.discard_tx(PORT_B) as u64;
    }
    let Ok(report) = feeder.join() else {
        eprintln!("route_churn: the feed thread panicked");
        return std::process::ExitCode::FAILURE;
    };
    let drops = w.counters().total_drops();
    let generations = rib.snapshot().generation - gen0;
    let lost = sent - delivered - wrong_bytes - misrouted;
    println!(
        "route churn: {} changes in {:.1} s = {:.0}/s (target {rate}/s), {} answered, {} failed, worst answer {:.1} ms, {generations} FIB publications",
        report.submitted,
        report.elapsed.as_secs_f64(),
        report.submitted as f64 / report.elapsed.as_secs_f64(),
        report.answered,
        report.failed,
        report.worst_answer.as_secs_f64() * 1e3,
    );
    println!(
        "stable flow A -> H: {sent} sent, {delivered} delivered intact, {lost} lost, {misrouted} misrouted, {wrong_bytes} altered, {drops} pipeline drops"
    );
    println!(
        "worker: {rounds} rounds, worst gap between rounds {:.3} ms, {gaps_over_1ms} gaps over 1 ms",
        worst_gap.as_secs_f64() * 1e3
    );
    rib.shutdown();
    if lost == 0 && misrouted == 0 && wrong_bytes == 0 && drops == 0 && report.failed == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
