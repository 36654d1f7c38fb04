//! In-memory integration tests of the data plane: a worker thread forwarding on in-memory
//! ports while the FIB changes underneath it, with every frame counted; frames in and out as
//! bytes, compared whole.

use rib::FibCell;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::pipeline::TokenBucket;
use switch::port::WirePorts;
use switch::stats::{channel, StatsCollector};
use switch::testkit::*;
use switch::worker::{Worker, WorkerConfig};

const N: u16 = 20_000;

fn seq_of_delivered(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[40], f[41]])
}

/// The sequence number of the echo request quoted by an ICMP error (quote starts at 42).
fn seq_of_quoted(f: &[u8]) -> u16 {
    u16::from_be_bytes([f[42 + 26], f[42 + 27]])
}

#[test]
fn route_change_while_forwarding_loses_and_misroutes_nothing() {
    let dst = Ipv4Addr::new(10, 2, 0, 9);
    let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
    let (ports, wires) = WirePorts::new(3, 2048, N as usize + 16);
    let (publisher, consumer) = channel(0, 64);
    let (mut collector, reader) = StatsCollector::new(vec![consumer]);
    let stop = Arc::new(AtomicBool::new(false));
    let mut worker = Worker::new(WorkerConfig::new(0), ports, fib.clone(), publisher, None, stop.clone());
    worker.pipeline_mut().set_icmp_limit(TokenBucket::new(u32::MAX, u32::MAX));
    let handle = worker.spawn().expect("worker thread");

    let frame = |seq: u16| echo_request(MAC_A, MAC_J0, None, IP_A, dst, 64, 0x77, seq, 16);
    let mut unreachable = Vec::new();
    let mut delivered = Vec::new();
    let drain = |unreachable: &mut Vec<Vec<u8>>, delivered: &mut Vec<Vec<u8>>| {
        while let Some(f) = wires.recv(PORT_A) {
            unreachable.push(f);
        }
        while let Some(f) = wires.recv(PORT_H) {
            delivered.push(f);
        }
        assert!(wires.recv(PORT_B).is_none(), "nothing may leave on tenant y's port");
    };
    let mut changed_at = None;
    for seq in 0..N {
        let mut f = frame(seq);
        while let Err(back) = wires.send(PORT_A, f) {
            f = back;
            std::thread::yield_now();
        }
        // Publish the new route once the worker has answered some frames with unreachable.
        if changed_at.is_none() && seq > N / 3 {
            drain(&mut unreachable, &mut delivered);
            if !unreachable.is_empty() {
                fib.store(Arc::new(default_fib_with(|t, b| {
                    if t == 0 {
                        let mut p = rib::fib::HopPath::EMPTY;
                        p.push(ROUTER_J, IP_J0);
                        p.push(ROUTER_L, IP_L1);
                        b.route(
                            "10.2.0.0/16".parse().expect("prefix"),
                            rib::Adjacency::Deliver {
                                port: PORT_H,
                                vlan: None,
                                src_mac: MAC_L0,
                                dst_mac: MAC_H,
                                path: p,
                            },
                        );
                    }
                })));
                changed_at = Some(seq);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while unreachable.len() + delivered.len() < N as usize && Instant::now() < deadline {
        drain(&mut unreachable, &mut delivered);
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    let ports = handle.join().expect("worker exits");
    drain(&mut unreachable, &mut delivered);
    assert!(changed_at.is_some(), "route was changed mid-stream");

    // No frame lost: every sequence number came back exactly once, on one of the two ports.
    assert_eq!(unreachable.len() + delivered.len(), N as usize);
    let before: Vec<u16> = unreachable.iter().map(|f| seq_of_quoted(f)).collect();
    let after: Vec<u16> = delivered.iter().map(|f| seq_of_delivered(f)).collect();
    let all: BTreeSet<u16> = before.iter().chain(after.iter()).copied().collect();
    assert_eq!(all.len(), N as usize, "duplicates or gaps");
    // The switch is clean: every frame before the change took the old route, every one after
    // the new one (one worker keeps order), and both groups are non-empty.
    assert!(!before.is_empty() && !after.is_empty());
    let last_old = before.iter().max().copied().unwrap_or(0);
    let first_new = after.iter().min().copied().unwrap_or(u16::MAX);
    assert_eq!(last_old + 1, first_new, "old route for [0, {last_old}], new route from {first_new}");
    // Not misrouted: byte-exact on both sides.
    for f in &delivered {
        let seq = seq_of_delivered(f);
        assert_eq!(f, &echo_request(MAC_L0, MAC_H, None, IP_A, dst, 62, 0x77, seq, 16));
    }
    for f in &unreachable {
        assert_eq!((&f[0..6], &f[6..12], f[34], f[35]), (&MAC_A.0[..], &MAC_J0.0[..], 3, 0));
    }
    assert_eq!(ports.mem().free_frames(), 2048, "every frame buffer returned");

    collector.poll();
    let totals = reader.totals();
    assert_eq!(totals.ports[PORT_A.index()].rx_packets, N as u64);
    assert_eq!(totals.ports[PORT_H.index()].tx_packets, after.len() as u64);
    assert_eq!(totals.ports[PORT_A.index()].tx_packets, before.len() as u64);
    assert_eq!(totals.drop_count(switch::pipeline::DropReason::NoRoute), before.len() as u64);
    assert_eq!(reader.drops(), vec![("no_route", before.len() as u64)]);
}

#[test]
fn probes_from_the_shell_travel_through_a_worker_thread() {
    use switch::punt::{ProbeKind, Prober, PuntQueues};
    let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
    let (ports, wires) = WirePorts::new(3, 256, 64);
    let (publisher, _consumer) = channel(0, 64);
    let queues = PuntQueues::new(64);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = Worker::new(WorkerConfig::new(0), ports, fib, publisher, Some(queues.clone()), stop.clone())
        .spawn()
        .expect("worker thread");
    let prober = Prober::new(queues);
    let z = rib::TenantId(0);
    // traceroute J -> H: hop 1 is L.
    let (r, _rtt) =
        prober.probe(z, ROUTER_J, IP_J0, IP_H, 1, Duration::from_secs(5)).expect("queued").expect("answered");
    assert_eq!((r.kind, r.from), (ProbeKind::TimeExceeded, IP_L1));
    // ping J -> L's far address.
    let (r, _) = prober
        .probe(z, ROUTER_J, IP_J0, IP_L0, 64, Duration::from_secs(5))
        .expect("queued")
        .expect("answered");
    assert_eq!((r.kind, r.from), (ProbeKind::EchoReply, IP_L0));
    // A probe to H leaves on port h.
    let _pending = prober.start(z, ROUTER_J, IP_J0, IP_H, 64).expect("queued");
    let deadline = Instant::now() + Duration::from_secs(5);
    let f = loop {
        if let Some(f) = wires.recv(PORT_H) {
            break f;
        }
        assert!(Instant::now() < deadline, "probe not forwarded");
        std::thread::sleep(Duration::from_millis(1));
    };
    assert_eq!((&f[0..6], &f[6..12], f[22]), (&MAC_H.0[..], &MAC_L0.0[..], 63));
    stop.store(true, Ordering::Relaxed);
    handle.join().expect("worker exits");
}
