//! The data plane on the real default topology: `topologies/default.ron` loaded and compiled
//! by the RIB (`compile_snapshot`), frames in and out as bytes, compared whole; and a worker
//! thread forwarding while the RIB thread adds a route.

mod common;

use common::*;
use etherparse::{IcmpEchoHeader, Icmpv4Type};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::pipeline::{DropReason, TokenBucket};
use switch::port::WirePorts;
use switch::stats::channel;
use switch::testkit::*;
use switch::worker::{Worker, WorkerConfig};

fn topology() -> rib::topology::Topology {
    rib::topology::load(Path::new("../topologies/default.ron")).expect("default topology loads")
}

fn harness() -> Harness {
    Harness::new(rib::rib::compile_snapshot(&topology()).expect("default topology compiles"))
}

fn a_to(dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
    echo_request(MAC_A, MAC_J0, None, IP_A, dst, ttl, 0x4242, 7, 56)
}

#[test]
fn arp_for_gateway_is_answered_with_js_mac() {
    let mut h = harness();
    h.rx(PORT_A, &[arp_request(MAC_A, IP_A, Ipv4Addr::new(10, 0, 0, 1))]);
    let expected: Vec<u8> = [
        &[0x00, 0x05, 0x02, 0x0b, 0x27, 0x44][..],
        &[0x00, 0x01, 0x42, 0x09, 0x88, 0x73],
        &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02],
        &[0x00, 0x01, 0x42, 0x09, 0x88, 0x73],
        &[10, 0, 0, 1],
        &[0x00, 0x05, 0x02, 0x0b, 0x27, 0x44],
        &[10, 0, 0, 10],
    ]
    .concat();
    assert_eq!(h.tx(PORT_A), vec![expected]);
}

#[test]
fn a_to_h_leaves_port_h_with_ttl_62_macs_l_to_h() {
    let mut h = harness();
    h.rx(PORT_A, &[a_to(IP_H, 64)]);
    let out = h.tx(PORT_H);
    let expected = echo_request(
        rib::MacAddr([0x00, 0x01, 0x42, 0xcd, 0x11, 0x01]),
        rib::MacAddr([0x00, 0x00, 0x7d, 0xa2, 0x34, 0x11]),
        None,
        IP_A,
        IP_H,
        62,
        0x4242,
        7,
        56,
    );
    assert_eq!(out, vec![expected]);
    let (ip, _) = etherparse::Ipv4Header::from_slice(&out[0][14..]).expect("ipv4");
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    assert!(h.tx(PORT_A).is_empty() && h.tx(PORT_B).is_empty());
}

#[test]
fn ttl_1_and_2_expire_at_j_and_l() {
    let mut h = harness();
    let (f1, f2) = (a_to(IP_H, 1), a_to(IP_H, 2));
    h.rx(PORT_A, &[f1.clone(), f2.clone()]);
    assert_eq!(
        h.tx(PORT_A),
        vec![
            icmp_frame(
                MAC_A,
                MAC_J0,
                None,
                Ipv4Addr::new(10, 0, 0, 1),
                IP_A,
                1,
                time_exceeded(),
                &quote(&f1)
            ),
            icmp_frame(
                MAC_A,
                MAC_J0,
                None,
                Ipv4Addr::new(192, 168, 100, 2),
                IP_A,
                2,
                time_exceeded(),
                &quote(&f2)
            ),
        ]
    );
    assert!(h.tx(PORT_H).is_empty());
}

#[test]
fn echo_to_gateway_is_answered() {
    let mut h = harness();
    h.rx(PORT_A, &[a_to(IP_J0, 64)]);
    let data: Vec<u8> = (0..56u8).collect();
    let expected = icmp_frame(
        MAC_A,
        MAC_J0,
        None,
        IP_J0,
        IP_A,
        1,
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 0x4242, seq: 7 }),
        &data,
    );
    assert_eq!(h.tx(PORT_A), vec![expected]);
}

#[test]
fn unknown_destination_gets_net_unreachable() {
    let mut h = harness();
    let f = a_to(Ipv4Addr::new(203, 0, 113, 5), 64);
    h.rx(PORT_A, &[f.clone()]);
    let net = Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Network);
    assert_eq!(h.tx(PORT_A), vec![icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 1, net, &quote(&f))]);
    assert_eq!(h.counters.drop_count(DropReason::NoRoute), 1);
}

#[test]
fn tenant_y_host_b_never_reaches_tenant_z() {
    let mut h = harness();
    let frames: Vec<Vec<u8>> =
        [IP_H, IP_J0, IP_L0, IP_L1, Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 1, 5, 1)]
            .iter()
            .map(|dst| echo_request(MAC_B, MAC_Y0, None, IP_B, *dst, 64, 1, 1, 8))
            .collect();
    h.rx(PORT_B, &frames);
    assert!(h.tx(PORT_A).is_empty(), "nothing of tenant y on A's port");
    assert!(h.tx(PORT_H).is_empty(), "nothing of tenant y on H's port");
    for f in h.tx(PORT_B) {
        assert_eq!((&f[0..6], &f[6..12]), (&MAC_B.0[..], &MAC_Y0.0[..]), "answers only from Y to B");
    }
    assert_eq!(h.counters.tenants[0], Default::default(), "tenant z counted nothing");
}

#[test]
fn worker_follows_a_rib_route_change_without_losing_a_frame() {
    const N: u16 = 10_000;
    let rib = rib::RibHandle::spawn(topology()).expect("RIB thread");
    let dst = Ipv4Addr::new(10, 2, 0, 9);
    let (ports, wires) = WirePorts::new(3, 2048, N as usize + 16);
    let (publisher, _consumer) = channel(0, 64);
    let stop = Arc::new(AtomicBool::new(false));
    let mut worker = Worker::new(WorkerConfig::new(0), ports, rib.fib(), publisher, None, stop.clone());
    worker.pipeline_mut().set_icmp_limit(TokenBucket::new(u32::MAX, u32::MAX));
    let handle = worker.spawn().expect("worker thread");
    let mut back_a = Vec::new();
    let mut back_h = Vec::new();
    let drain = |a: &mut Vec<Vec<u8>>, hh: &mut Vec<Vec<u8>>| {
        while let Some(f) = wires.recv(PORT_A) {
            a.push(f);
        }
        while let Some(f) = wires.recv(PORT_H) {
            hh.push(f);
        }
        assert!(wires.recv(PORT_B).is_none());
    };
    let mut changed = false;
    for seq in 0..N {
        let mut f = a_to(dst, 64);
        f[40..42].copy_from_slice(&seq.to_be_bytes());
        let c = switch::wire::checksum::checksum(&{
            let mut m = f[34..].to_vec();
            m[2..4].copy_from_slice(&[0, 0]);
            m
        });
        f[36..38].copy_from_slice(&c.to_be_bytes());
        while let Err(back) = wires.send(PORT_A, f) {
            f = back;
            std::thread::yield_now();
        }
        if !changed && seq > N / 3 {
            drain(&mut back_a, &mut back_h);
            if !back_a.is_empty() {
                rib.add_route("z", "10.2.0.0/16".parse().expect("prefix"), IP_H).expect("route added");
                changed = true;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while back_a.len() + back_h.len() < N as usize && Instant::now() < deadline {
        drain(&mut back_a, &mut back_h);
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Ordering::Relaxed);
    handle.join().expect("worker exits");
    drain(&mut back_a, &mut back_h);
    rib.shutdown();
    assert!(changed);
    assert_eq!(back_a.len() + back_h.len(), N as usize, "no frame lost");
    let before: Vec<u16> = back_a.iter().map(|f| u16::from_be_bytes([f[42 + 26], f[42 + 27]])).collect();
    let after: Vec<u16> = back_h.iter().map(|f| u16::from_be_bytes([f[40], f[41]])).collect();
    let all: BTreeSet<u16> = before.iter().chain(&after).copied().collect();
    assert_eq!(all.len(), N as usize);
    assert!(!after.is_empty(), "the new route was used");
    assert_eq!(before.iter().max().map(|m| m + 1), after.iter().min().copied(), "clean switch-over");
    for f in &back_h {
        assert_eq!((&f[0..6], &f[6..12]), (&MAC_H.0[..], &MAC_L0.0[..]));
        let (ip, _) = etherparse::Ipv4Header::from_slice(&f[14..]).expect("ipv4");
        assert_eq!((ip.time_to_live, ip.header_checksum), (62, ip.calc_header_checksum()));
    }
}
