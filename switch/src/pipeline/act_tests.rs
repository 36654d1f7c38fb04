//! Tests of the operator's active commands in the data plane: shaping (port and tenant
//! shapers and their queues), egress priority under congestion (the per-port class queues
//! across batches), and destination redirect — frames as bytes in and out of in-memory
//! ports, the clock driven by the test.

use super::*;
use crate::port::{MemPorts, Ports};
use crate::stats::{class_index, CLASSES};
use crate::testkit::*;
use rib::fib::TenantEntry;
use rib::{Redirect, ServiceLevel, Shape};
use std::time::Duration;

/// A UDP frame from A to H (through J then L) with `payload_len` bytes of payload.
fn a_to_h(payload_len: usize) -> Vec<u8> {
    udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40000, 5201, &vec![0x5a; payload_len])
}

/// Runs `frames` received on port a as batches at time `now`; returns frames sent on h.
fn run_at(
    ports: &mut MemPorts,
    pl: &mut Pipeline,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    frames: &[Vec<u8>],
    now: Instant,
) -> Vec<Vec<u8>> {
    for chunk in frames.chunks(BATCH) {
        for f in chunk {
            ports.inject(PORT_A, f).expect("inject");
        }
        let mut batch = Batch::new(Ingress::Port(PORT_A));
        let n = ports.rx_burst(PORT_A, &mut batch.desc);
        batch.reset(Ingress::Port(PORT_A), n);
        pl.run(ports, &mut batch, fib, None, counters, now);
    }
    ports.take_tx(PORT_H)
}

#[test]
fn port_shaper_sends_the_burst_queues_the_rest_and_drains_it_at_the_rate() {
    let mut fib = default_fib();
    // 8 Mbit/s (1 byte/µs), burst 3 frames of 1042 bytes (1000 payload + 42 headers).
    let frame = a_to_h(1000);
    assert_eq!(frame.len(), 1042);
    fib.port_shapes = vec![None, Some(Shape { rate_bps: 8_000_000, burst_bytes: 3 * 1042 }), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let t0 = Instant::now();
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![frame.clone(); 10], t0);
    assert_eq!(out.len(), 3, "the burst only");
    // What passes is the routed frame: TTL 62 toward H from L's MAC.
    assert_eq!(&out[0][0..6], &MAC_H.0);
    assert_eq!(out[0][14 + 8], 62);
    assert_eq!(c.drop_count(DropReason::Shaped), 0, "7 frames wait in the queue");
    let sc = c.port_shape[PORT_H.index()];
    assert_eq!((sc.conform_packets, sc.conform_bytes), (3, 3 * 1042));
    assert_eq!((sc.exceed_packets, sc.exceed_bytes), (7, 7 * 1042));
    assert_eq!(sc.drop_packets, 0);
    assert_eq!(ports.free_frames(), 512 - 7);
    // Nothing more at the same instant; 2084 µs later two frames' worth of tokens: the
    // worker's drain sends two queued frames (no new traffic needed).
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, t0), 0);
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, t0 + Duration::from_micros(2084)), 2);
    let out = ports.take_tx(PORT_H);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0][14 + 8], 62);
    // New frames queue behind the 5 still waiting (never overtake them).
    let out =
        run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(10); 2], t0 + Duration::from_micros(2084));
    assert!(out.is_empty());
    // The shaper removed: everything queued leaves at once, in order (5 big, then 2 small).
    fib.port_shapes = vec![None, None, None];
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, t0 + Duration::from_micros(2085)), 7);
    let lens: Vec<usize> = ports.take_tx(PORT_H).iter().map(Vec::len).collect();
    assert_eq!(lens, vec![1042, 1042, 1042, 1042, 1042, 52, 52]);
    assert_eq!(c.port_shape[PORT_A.index()], crate::stats::ShapeCounters::ZERO, "a is not shaped");
    assert_eq!(ports.free_frames(), 512, "every frame came back");
    assert_eq!(c.ports[PORT_H.index()].tx_packets, 12);
    assert_eq!(c.tenants[0].tx_packets, 12);
}

#[test]
fn a_full_shaper_queue_drops_as_shaped() {
    let mut fib = default_fib();
    fib.port_shapes = vec![None, Some(Shape { rate_bps: 8_000, burst_bytes: 3 * 1042 }), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let q = schedule::CLASS_QUEUE_FRAMES;
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 3 + q + 10], Instant::now());
    assert_eq!(out.len(), 3);
    let sc = c.port_shape[PORT_H.index()];
    assert_eq!((sc.exceed_packets, sc.drop_packets), (q as u64 + 10, 10));
    assert_eq!(c.drop_count(DropReason::Shaped), 10);
    assert_eq!(c.drop_count(DropReason::ClassQueueFull), 0, "a shaped port's drops are `shaped`");
    assert_eq!(ports.free_frames(), 512 - q);
    // Tenant z is gold: its class queue filled up.
    let gold = c.classes[class_index(ServiceLevel::Gold)];
    assert_eq!((gold.enqueued, gold.queue_dropped, gold.queue_high_water), (q as u64, 10, q as u64));
}

#[test]
fn shaped_throughput_over_a_second_is_the_rate() {
    let mut fib = default_fib();
    fib.port_shapes = vec![None, Some(Shape::new(10_000_000, None)), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let t0 = Instant::now();
    let frame = a_to_h(1458); // 1500-byte frames
    let mut sent = 0usize;
    // 100 Mbit/s offered (8 frames every ms) for one second.
    for ms in 0..1000u64 {
        let out = run_at(
            &mut ports,
            &mut pl,
            &fib,
            &mut c,
            &vec![frame.clone(); 8],
            t0 + Duration::from_millis(ms),
        );
        sent += out.iter().map(Vec::len).sum::<usize>();
    }
    let burst = Shape::new(10_000_000, None).burst_bytes as usize;
    // 1 s at 10 Mbit/s is 1_250_000 bytes; the burst is not added to the rate over time.
    assert!(sent <= 1_250_000 + burst, "{sent}");
    assert!(sent >= 1_250_000 - 1500, "{sent}");
}

#[test]
fn tenant_shaper_applies_to_every_port_of_the_tenant_only() {
    let mut fib = default_fib();
    fib.tenant_shapes = vec![Some(Shape { rate_bps: 8_000, burst_bytes: 2 * 1042 }), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 4], Instant::now());
    assert_eq!(out.len(), 2);
    let tc = c.tenant_shape[0];
    assert_eq!((tc.conform_packets, tc.exceed_packets, tc.drop_packets), (2, 2, 0));
    assert_eq!(c.tenant_shape[1], crate::stats::ShapeCounters::ZERO);
    assert_eq!(ports.free_frames(), 512 - 2, "two frames wait in the tenant's queue");
}

/// A routed-to-H frame (what A sends, as H receives it) whose first payload byte is `k`.
fn numbered(k: u8, routed: bool) -> Vec<u8> {
    let mut p = vec![0x5a; 1000];
    p[0] = k;
    if routed {
        udp_frame(MAC_L0, MAC_H, IP_A, IP_H, 62, 40000, 5201, &p)
    } else {
        udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40000, 5201, &p)
    }
}

#[test]
fn tenant_shaper_queues_a_burst_and_sends_it_in_order_as_tokens_come_back() {
    let mut fib = default_fib();
    // 8 Mbit/s = 1 byte/µs; burst 2 frames of 1042 bytes.
    fib.tenant_shapes = vec![Some(Shape { rate_bps: 8_000_000, burst_bytes: 2 * 1042 }), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let t0 = Instant::now();
    let frames: Vec<Vec<u8>> = (0..10u8).map(|k| numbered(k, false)).collect();
    let mut got = run_at(&mut ports, &mut pl, &fib, &mut c, &frames, t0);
    assert_eq!(got.len(), 2, "the burst only");
    // One frame's worth of tokens every 1042 µs: the worker's drain sends the rest.
    for k in 1..=8u64 {
        pl.drain_queues(&mut ports, &fib, &mut c, t0 + Duration::from_micros(1042 * k));
        let out = ports.take_tx(PORT_H);
        assert_eq!(out.len(), 1, "round {k}");
        got.extend(out);
    }
    // None lost, none reordered, each one routed (TTL 62, to H's MAC).
    let expected: Vec<Vec<u8>> = (0..10u8).map(|k| numbered(k, true)).collect();
    assert_eq!(got, expected);
    let tc = c.tenant_shape[0];
    assert_eq!((tc.conform_packets, tc.exceed_packets, tc.drop_packets), (10, 8, 0));
    assert_eq!(c.drop_count(DropReason::Shaped), 0);
    assert_eq!(c.tenants[0].tx_packets, 10);
    assert_eq!(ports.free_frames(), 512);
}

#[test]
fn tenant_shaped_throughput_over_a_second_is_the_rate() {
    let mut fib = default_fib();
    fib.tenant_shapes = vec![Some(Shape::new(10_000_000, None)), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let t0 = Instant::now();
    let frame = a_to_h(1458); // 1500-byte frames
    let mut sent = 0u64;
    // 12 Mbit/s offered (one frame per ms) for one second, the drain every 100 µs.
    for ms in 0..1000u64 {
        let now = t0 + Duration::from_millis(ms);
        sent += run_at(&mut ports, &mut pl, &fib, &mut c, std::slice::from_ref(&frame), now).len() as u64;
        for k in 1..10 {
            pl.drain_queues(&mut ports, &fib, &mut c, now + Duration::from_micros(100 * k));
            sent += ports.take_tx(PORT_H).len() as u64;
        }
    }
    let burst = Shape::new(10_000_000, None).burst_bytes as u64;
    assert!(sent * 1500 <= 1_250_000 + burst, "{sent}");
    assert!(sent * 1500 >= 1_250_000 - 1500, "{sent}");
    // Every frame was sent, dropped as over the rate with a full queue, or still waits.
    let tc = c.tenant_shape[0];
    let waiting = 512 - ports.free_frames() as u64;
    assert_eq!(sent + tc.drop_packets + waiting, 1000);
    assert!(waiting > 0 && waiting <= schedule::TENANT_QUEUE_FRAMES as u64, "{waiting}");
    assert!(tc.drop_packets > 0 && tc.exceed_packets > tc.drop_packets, "{tc:?}");
}

#[test]
fn a_frame_waits_for_its_tenants_tokens_then_for_its_ports() {
    let mut fib = default_fib();
    // Port: room for 3 frames; tenant: room for 1.
    fib.port_shapes = vec![None, Some(Shape { rate_bps: 8_000, burst_bytes: 3 * 1042 }), None];
    fib.tenant_shapes = vec![Some(Shape { rate_bps: 8_000, burst_bytes: 1042 + 100 }), None];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let t0 = Instant::now();
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 3], t0);
    assert_eq!(out.len(), 1);
    assert_eq!(c.tenant_shape[0].exceed_packets, 2);
    // The port bucket lost only the sent frame's tokens: lift the tenant limit and the two
    // frames waiting for the tenant pass the port at the same instant; the next three wait
    // for the port.
    fib.tenant_shapes = vec![None, None];
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 3], t0);
    assert_eq!(out.len(), 2);
    let pc = c.port_shape[PORT_H.index()];
    assert_eq!((pc.conform_packets, pc.exceed_packets, pc.drop_packets), (3, 3, 0));
    assert_eq!(ports.free_frames(), 512 - 3);
}

#[test]
fn no_shaper_configured_changes_nothing() {
    let fib = default_fib();
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 64], Instant::now());
    assert_eq!(out.len(), 64);
    assert_eq!(c.drop_count(DropReason::Shaped), 0);
    assert_eq!(c.port_shape[PORT_H.index()], crate::stats::ShapeCounters::ZERO);
}

/// Three tenants: 0 platinum, 1 gold, 2 silver.
fn class_fib() -> FibSnapshot {
    let mut fib = default_fib();
    fib.tenants = vec![
        TenantEntry { name: "p".into(), vni: 1, service_level: ServiceLevel::Platinum },
        TenantEntry { name: "g".into(), vni: 2, service_level: ServiceLevel::Gold },
        TenantEntry { name: "s".into(), vni: 3, service_level: ServiceLevel::Silver },
    ];
    fib
}

/// Puts frames bound for port 1 in a batch: `frames[i]` = (tenant, bytes); tenants 0 =
/// platinum, 1 = gold, 2 = silver (see [`class_fib`]).
fn tx_batch<P: Ports>(ports: &mut P, frames: &[(u16, Vec<u8>)]) -> Batch<P::Desc> {
    let mut batch = Batch::new(Ingress::Port(PortId(0)));
    for (i, (tenant, bytes)) in frames.iter().enumerate() {
        let mut d = ports.alloc().expect("frame");
        assert!(ports.set_len(&mut d, bytes.len()));
        ports.data_mut(&d).copy_from_slice(bytes);
        batch.desc[i] = d;
        batch.meta[i] = Meta { verdict: Verdict::Tx(PortId(1)), tenant: TenantId(*tenant), ..Meta::EMPTY };
    }
    batch.len = frames.len();
    batch
}

/// A 60-byte frame whose first byte is `id`.
fn tagged(id: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0] = id;
    f
}

/// Egress of one batch on a port whose tx ring holds `ring` frames: `classes[i]` is the
/// tenant (= class) of frame i, whose first byte is i. Returns the first byte of every frame
/// the ring took, in ring order, the counters, and the ports and pipeline (with what waits).
fn congest(ring: usize, classes: &[usize]) -> (Vec<u8>, WorkerCounters, MemPorts, Pipeline) {
    let fib = class_fib();
    let mut ports = MemPorts::with_sizes(2, 256, 2048, ring);
    let mut pl = Pipeline::new();
    pl.prepare(&ports);
    let frames: Vec<(u16, Vec<u8>)> =
        classes.iter().enumerate().map(|(i, &c)| (c as u16, tagged(i as u8))).collect();
    let mut batch = tx_batch(&mut ports, &frames);
    let mut c = WorkerCounters::default();
    egress::run(&mut pl.shapers, &mut pl.queues, &mut ports, &mut batch, &fib, None, &mut c, Instant::now());
    let sent = ports.take_tx(PortId(1)).iter().map(|f| f[0]).collect();
    (sent, c, ports, pl)
}

#[test]
fn full_ring_serves_platinum_before_gold_before_silver_and_keeps_the_rest_queued() {
    // 4 silver, then 4 gold, then 4 platinum arrive; the ring takes 4.
    let classes = [2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0];
    let (sent, mut c, mut ports, mut pl) = congest(4, &classes);
    // Slot 1 is gold's (every 4th), the others strict priority (platinum 8, 9, 10).
    assert_eq!(sent, vec![8, 4, 9, 10]);
    let [p, g, s] = c.classes;
    assert_eq!((p.tx_packets, p.enqueued, p.queue_high_water), (3, 4, 4));
    assert_eq!((g.tx_packets, s.tx_packets), (1, 0));
    assert_eq!(c.total_drops(), 0, "nothing is dropped: 8 frames wait");
    assert_eq!(ports.free_frames(), 256 - 8);
    assert_eq!(p.tx_bytes, 3 * 60);
    // The ring empties: the next rounds continue the slot pattern where it stopped (slot 4
    // platinum, 5 gold's, 6 gold as platinum is done, 7 silver's; then gold, silver).
    let fib = class_fib();
    let now = Instant::now();
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, now), 4);
    let sent: Vec<u8> = ports.take_tx(PortId(1)).iter().map(|f| f[0]).collect();
    assert_eq!(sent, vec![11, 5, 6, 0]);
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, now), 4);
    let sent: Vec<u8> = ports.take_tx(PortId(1)).iter().map(|f| f[0]).collect();
    assert_eq!(sent, vec![7, 1, 2, 3]);
    assert_eq!(pl.drain_queues(&mut ports, &fib, &mut c, now), 0);
    assert_eq!(ports.free_frames(), 256);
    assert_eq!(c.classes.iter().map(|k| k.tx_packets).sum::<u64>(), 12);
}

#[test]
fn silver_is_never_starved_to_zero_by_platinum() {
    // 40 platinum frames and 8 silver; the ring takes 16: silver gets every 8th slot.
    let mut classes = vec![0usize; 40];
    classes.extend([2; 8]);
    let (sent, c, _, _) = congest(16, &classes);
    assert_eq!(sent.len(), 16);
    assert_eq!(c.classes[class_index(ServiceLevel::Silver)].tx_packets, 2);
    assert_eq!(c.classes[class_index(ServiceLevel::Platinum)].tx_packets, 14);
    // Silver in slots 7 and 15, in arrival order (frames 40 and 41).
    assert_eq!((sent[7], sent[15]), (40, 41));
    // Platinum keeps its arrival order.
    assert_eq!(&sent[..7], &[0, 1, 2, 3, 4, 5, 6]);
}

#[test]
fn uncongested_port_sends_everything_and_one_class_keeps_arrival_order() {
    let classes = [2, 0, 1, 2, 0];
    let (sent, c, _, _) = congest(64, &classes);
    assert_eq!(sent.len(), 5);
    assert_eq!(c.total_drops(), 0);
    assert_eq!(c.classes.iter().map(|k| k.enqueued).sum::<u64>(), 0, "nothing waited");
    let (sent, _, _, _) = congest(3, &[1, 1, 1, 1, 1]);
    assert_eq!(sent, vec![0, 1, 2]);
}

/// Frame of the congestion runs: class, then a 32-bit sequence number, then bytes derived
/// from both.
fn seq_frame(class: u8, seq: u32) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[0] = class;
    f[1..5].copy_from_slice(&seq.to_be_bytes());
    for (i, b) in f[5..].iter_mut().enumerate() {
        *b = (seq as usize + i + class as usize * 7) as u8;
    }
    f
}

/// Offers `offer[c]` frames of class c every poll round for `rounds` rounds to a port that
/// transmits `per_poll` frames per round, as the worker does it (queues drained, the batches
/// through egress, queues drained again, then housekeeping). Checks every received frame
/// byte by byte and the per-class order; returns the frames received per class and the
/// counters.
fn congestion_run(per_poll: usize, offer: [usize; CLASSES], rounds: u32) -> ([u64; CLASSES], WorkerCounters) {
    let fib = class_fib();
    let mut ports = LimitedTx::new(MemPorts::with_sizes(2, 4096, 2048, 1024), per_poll);
    let mut pl = Pipeline::new();
    pl.prepare(&ports);
    let mut c = WorkerCounters::default();
    let mut next = [0u32; CLASSES];
    let mut expect = [0u32; CLASSES];
    let mut got = [0u64; CLASSES];
    let t0 = Instant::now();
    for round in 0..rounds {
        let now = t0 + Duration::from_micros(round as u64 * 10);
        pl.drain_queues(&mut ports, &fib, &mut c, now);
        // This round's frames, classes interleaved as they would arrive.
        let mut frames = Vec::new();
        for k in 0..offer.iter().copied().max().unwrap_or(0) {
            for cl in 0..CLASSES {
                if k < offer[cl] {
                    frames.push((cl as u16, seq_frame(cl as u8, next[cl])));
                    next[cl] += 1;
                }
            }
        }
        for chunk in frames.chunks(BATCH) {
            let mut batch = tx_batch(&mut ports, chunk);
            egress::run(&mut pl.shapers, &mut pl.queues, &mut ports, &mut batch, &fib, None, &mut c, now);
        }
        pl.drain_queues(&mut ports, &fib, &mut c, now);
        ports.service();
        let out = ports.mem.take_tx(PortId(1));
        assert!(out.len() <= per_poll, "round {round}: {} frames past a port of {per_poll}", out.len());
        for f in out {
            let cl = f[0] as usize;
            assert!(cl < CLASSES, "round {round}: {f:?}");
            let seq = u32::from_be_bytes([f[1], f[2], f[3], f[4]]);
            // Within a class, frames leave in arrival order (dropped ones leave gaps).
            assert!(seq >= expect[cl], "class {cl}: seq {seq} after {}", expect[cl]);
            assert_eq!(f, seq_frame(cl as u8, seq), "class {cl} seq {seq} changed");
            expect[cl] = seq + 1;
            got[cl] += 1;
        }
    }
    // Every frame is accounted for: sent, dropped, or still waiting.
    let offered: u64 = next.iter().map(|&n| n as u64).sum();
    let sent: u64 = got.iter().sum();
    let waiting = (ports.mem.frame_count() - ports.mem.free_frames()) as u64;
    assert_eq!(offered, sent + c.drop_count(DropReason::ClassQueueFull) + waiting);
    assert_eq!(c.drop_count(DropReason::TxRingFull), 0, "the scheduler never overfills the ring");
    (got, c)
}

#[test]
fn platinum_keeps_its_rate_and_silver_is_not_starved_at_three_times_capacity() {
    // The port sends 16 frames per round; platinum offers 12 (75%), silver 36: 3x capacity.
    let rounds = 500;
    let (got, c) = congestion_run(16, [12, 0, 36], rounds);
    let offered_p = 12 * rounds as u64;
    assert!(got[0] * 100 >= offered_p * 95, "platinum {} of {offered_p}", got[0]);
    assert!(got[2] > 0, "silver starved");
    // Work conserving: the port is full every round.
    assert_eq!(got[0] + got[2], 16 * rounds as u64, "{got:?}");
    let [p, _, s] = c.classes;
    assert_eq!((p.tx_packets, s.tx_packets), (got[0], got[2]));
    assert_eq!(p.queue_dropped, 0, "platinum never overflowed its queue");
    assert!(s.queue_dropped > 0, "{s:?}");
    assert_eq!(s.queue_high_water, schedule::CLASS_QUEUE_FRAMES as u64);
    assert_eq!(c.drop_count(DropReason::ClassQueueFull), s.queue_dropped);
}

#[test]
fn under_full_congestion_of_all_three_classes_the_minimum_shares_hold() {
    // Each class offers the whole port (3x capacity in all): platinum gets 5/8, gold 2/8,
    // silver 1/8 of the slots.
    let (got, _) = congestion_run(16, [16, 16, 16], 400);
    let total: u64 = got.iter().sum();
    assert_eq!(total, 16 * 400, "{got:?}");
    // Exact shares but for the first rounds (before the queues build up, a class that ran
    // out left its slots to the others).
    for (cl, share) in [(0, 5), (1, 2), (2, 1)] {
        assert!(got[cl].abs_diff(total * share / 8) <= 8, "class {cl}: {got:?}");
    }
}

#[test]
fn a_port_taking_fewer_than_eight_frames_a_round_still_serves_silver() {
    // The slot counter survives rounds: with 3 frames per round silver still gets 1 in 8.
    let (got, _) = congestion_run(3, [8, 0, 8], 800);
    let total: u64 = got.iter().sum();
    assert_eq!(total, 3 * 800);
    assert_eq!(got[2], total / 8, "{got:?}");
}

#[test]
fn queues_hold_no_more_than_the_frame_budget() {
    // 96 frames: the queues may hold 48 of them; the rest are dropped, the free list keeps
    // the other half for receiving.
    let fib = class_fib();
    let mut ports = LimitedTx::new(MemPorts::with_sizes(2, 96, 2048, 1024), 0);
    let mut pl = Pipeline::new();
    pl.prepare(&ports);
    let mut c = WorkerCounters::default();
    let frames: Vec<(u16, Vec<u8>)> = (0..64).map(|i| ((i % 3) as u16, tagged(i as u8))).collect();
    let mut batch = tx_batch(&mut ports, &frames);
    egress::run(&mut pl.shapers, &mut pl.queues, &mut ports, &mut batch, &fib, None, &mut c, Instant::now());
    assert_eq!(c.classes.iter().map(|k| k.enqueued).sum::<u64>(), 48);
    assert_eq!(c.drop_count(DropReason::ClassQueueFull), 16);
    assert_eq!(ports.mem.free_frames(), 96 - 48);
    assert_eq!(c.ports[1].tx_dropped, 16);
}

#[test]
fn frames_waiting_for_a_port_that_goes_down_are_dropped_as_egress_down() {
    let (_, mut c, mut ports, mut pl) = congest(4, &[0; 12]);
    assert_eq!(ports.free_frames(), 256 - 8);
    ports.set_link(PortId(1), Some(crate::port::LinkDown::DeviceRemoved));
    assert_eq!(pl.drain_queues(&mut ports, &class_fib(), &mut c, Instant::now()), 8);
    assert_eq!(c.drop_count(DropReason::EgressDown), 8);
    assert_eq!(ports.free_frames(), 256);
}

#[test]
fn redirect_rewrites_the_destination_before_lookup_with_valid_checksums() {
    // Traffic of tenant z to 10.1.5.99 (no host) goes to H (10.1.5.7).
    let mut fib = default_fib();
    fib.redirects = vec![Redirect { tenant: TenantId(0), from: Ipv4Addr::new(10, 1, 5, 99), to: IP_H }];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let sent = udp_frame(MAC_A, MAC_J0, IP_A, Ipv4Addr::new(10, 1, 5, 99), 64, 40000, 5201, b"redirected!");
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &[sent], Instant::now());
    // Expected: what A would have sent to H, routed across J and L (TTL 62).
    let expected = udp_frame(MAC_L0, MAC_H, IP_A, IP_H, 62, 40000, 5201, b"redirected!");
    assert_eq!(out, vec![expected]);
    assert_eq!(c.redirected, 1);

    // Another tenant's traffic to the same address is not redirected.
    let mut c2 = WorkerCounters::default();
    let y = udp_frame(MAC_B, MAC_Y0, IP_B, Ipv4Addr::new(10, 1, 5, 99), 64, 1, 2, b"x");
    ports.inject(PORT_B, &y).expect("inject");
    let mut batch = Batch::new(Ingress::Port(PORT_B));
    let n = ports.rx_burst(PORT_B, &mut batch.desc);
    batch.reset(Ingress::Port(PORT_B), n);
    pl.run(&mut ports, &mut batch, &fib, None, &mut c2, Instant::now());
    assert_eq!(c2.redirected, 0);
    assert_eq!(ports.tx_pending(PORT_H), 0);
}

#[test]
fn redirected_echo_request_reaches_the_new_host() {
    let mut fib = default_fib();
    fib.redirects = vec![Redirect { tenant: TenantId(0), from: Ipv4Addr::new(10, 1, 5, 99), to: IP_H }];
    let mut ports = MemPorts::new(3, 512);
    let mut pl = Pipeline::new();
    let mut c = WorkerCounters::default();
    let req = echo_request(MAC_A, MAC_J0, None, IP_A, Ipv4Addr::new(10, 1, 5, 99), 64, 7, 1, 32);
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &[req], Instant::now());
    let expected = echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 62, 7, 1, 32);
    assert_eq!(out, vec![expected]);
}
