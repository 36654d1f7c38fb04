//! Tests of the operator's active commands in the data plane: shaping (port and tenant
//! shapers), egress priority under congestion, and destination redirect — frames as bytes in
//! and out of in-memory ports, the clock driven by the test.

use super::*;
use crate::port::{MemPorts, Ports};
use crate::stats::class_index;
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
    assert_eq!(pl.drain_shaped(&mut ports, &fib, &mut c, t0), 0);
    assert_eq!(pl.drain_shaped(&mut ports, &fib, &mut c, t0 + Duration::from_micros(2084)), 2);
    let out = ports.take_tx(PORT_H);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0][14 + 8], 62);
    // New frames queue behind the 5 still waiting (never overtake them).
    let out =
        run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(10); 2], t0 + Duration::from_micros(2084));
    assert!(out.is_empty());
    // The shaper removed: everything queued leaves at once, in order (5 big, then 2 small).
    fib.port_shapes = vec![None, None, None];
    assert_eq!(pl.drain_shaped(&mut ports, &fib, &mut c, t0 + Duration::from_micros(2085)), 7);
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
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 100], Instant::now());
    assert_eq!(out.len(), 3);
    let sc = c.port_shape[PORT_H.index()];
    assert_eq!((sc.exceed_packets, sc.drop_packets), (97, 97 - schedule::QUEUE_FRAMES as u64));
    assert_eq!(c.drop_count(DropReason::Shaped), 97 - schedule::QUEUE_FRAMES as u64);
    assert_eq!(ports.free_frames(), 512 - schedule::QUEUE_FRAMES);
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
    assert_eq!((tc.conform_packets, tc.exceed_packets), (2, 2));
    assert_eq!(c.tenant_shape[1], crate::stats::ShapeCounters::ZERO);
}

#[test]
fn a_frame_must_conform_to_both_shapers_and_takes_tokens_from_neither_when_dropped() {
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
    // The port bucket lost only the conforming frame's tokens: lift the tenant limit and
    // two more frames pass the port at the same instant.
    fib.tenant_shapes = vec![None, None];
    let out = run_at(&mut ports, &mut pl, &fib, &mut c, &vec![a_to_h(1000); 3], t0);
    assert_eq!(out.len(), 2);
    assert_eq!(c.port_shape[PORT_H.index()].conform_packets, 3);
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

/// Egress on a port whose tx ring holds `ring` frames: `classes[i]` is the service level of
/// frame i's tenant (tenants 0 = platinum, 1 = gold, 2 = silver). Returns the first byte of
/// every frame the ring took, in ring order, and the counters.
fn congest(ring: usize, classes: &[usize]) -> (Vec<u8>, WorkerCounters) {
    let mut fib = default_fib();
    fib.tenants = vec![
        TenantEntry { name: "p".into(), vni: 1, service_level: ServiceLevel::Platinum },
        TenantEntry { name: "g".into(), vni: 2, service_level: ServiceLevel::Gold },
        TenantEntry { name: "s".into(), vni: 3, service_level: ServiceLevel::Silver },
    ];
    let mut ports = MemPorts::with_sizes(2, 256, 2048, ring);
    let mut batch = Batch::new(Ingress::Port(PortId(0)));
    for (i, &class) in classes.iter().enumerate() {
        let mut d = ports.alloc().expect("frame");
        assert!(ports.set_len(&mut d, 60));
        ports.data_mut(&d).fill(0);
        ports.data_mut(&d)[0] = i as u8;
        batch.desc[i] = d;
        batch.meta[i] =
            Meta { verdict: Verdict::Tx(PortId(1)), tenant: TenantId(class as u16), ..Meta::EMPTY };
    }
    batch.len = classes.len();
    let mut c = WorkerCounters::default();
    egress::run(&mut ports, &mut batch, &fib, None, &mut c, Instant::now());
    let sent = ports.take_tx(PortId(1)).iter().map(|f| f[0]).collect();
    assert_eq!(ports.free_frames(), 256, "refused frames are recycled");
    (sent, c)
}

#[test]
fn full_ring_serves_platinum_before_gold_before_silver() {
    // 4 silver, then 4 gold, then 4 platinum arrive; the ring takes 4.
    let classes = [2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0];
    let (sent, c) = congest(4, &classes);
    // Slots 0-2 strict priority (platinum 8, 9, 10), slot 3 is gold's (every 4th).
    assert_eq!(sent, vec![8, 9, 10, 4]);
    let [p, g, s] = c.classes;
    assert_eq!((p.tx_packets, p.tx_dropped), (3, 1));
    assert_eq!((g.tx_packets, g.tx_dropped), (1, 3));
    assert_eq!((s.tx_packets, s.tx_dropped), (0, 4));
    assert_eq!(c.drop_count(DropReason::TxRingFull), 8);
    assert_eq!(p.tx_bytes, 3 * 60);
}

#[test]
fn silver_is_never_starved_to_zero_by_platinum() {
    // 40 platinum frames and 8 silver; the ring takes 16: silver gets every 8th slot.
    let mut classes = vec![0usize; 40];
    classes.extend([2; 8]);
    let (sent, c) = congest(16, &classes);
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
    let (sent, c) = congest(64, &classes);
    assert_eq!(sent.len(), 5);
    assert_eq!(c.drop_count(DropReason::TxRingFull), 0);
    let (sent, _) = congest(3, &[1, 1, 1, 1, 1]);
    assert_eq!(sent, vec![0, 1, 2]);
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
