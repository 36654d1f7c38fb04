//! Pipeline tests on the hand-built default FIB: frames as bytes in, frames as bytes out,
//! compared whole. Expected frames are built with etherparse, not with the code under test.

use super::*;
use crate::port::{FrameBuf, MemPorts, Ports};
use crate::punt::{ProbeKind, Prober, PuntQueues};
use crate::testkit::*;
use etherparse::{IcmpEchoHeader, Icmpv4Type, Ipv4Header};
use std::sync::Arc;

/// Runs `frames` received on `port` through one pipeline batch; returns the ports (to read
/// tx) and the counters.
struct Harness {
    ports: MemPorts,
    pl: Pipeline,
    counters: WorkerCounters,
    fib: FibSnapshot,
    punt: Arc<PuntQueues>,
}

impl Harness {
    fn new(fib: FibSnapshot) -> Self {
        Harness {
            ports: MemPorts::new(4, 512),
            pl: Pipeline::new(),
            counters: WorkerCounters::default(),
            fib,
            punt: PuntQueues::new(64),
        }
    }

    fn rx(&mut self, port: PortId, frames: &[Vec<u8>]) {
        for chunk in frames.chunks(BATCH) {
            for f in chunk {
                self.ports.inject(port, f).unwrap();
            }
            let mut batch = Batch::new(Ingress::Port(port));
            let n = self.ports.rx_burst(port, &mut batch.desc);
            batch.reset(Ingress::Port(port), n);
            self.pl.run(
                &mut self.ports,
                &mut batch,
                &self.fib,
                Some(&self.punt),
                &mut self.counters,
                Instant::now(),
            );
        }
    }

    fn inject_probe(&mut self, router: RouterId, frame: &[u8]) {
        let mut batch = Batch::new(Ingress::Router(router));
        let mut d = self.ports.alloc().unwrap();
        assert!(self.ports.set_len(&mut d, frame.len()));
        self.ports.data_mut(&d).copy_from_slice(frame);
        batch.desc[0] = d;
        batch.reset(Ingress::Router(router), 1);
        self.pl.run(
            &mut self.ports,
            &mut batch,
            &self.fib,
            Some(&self.punt),
            &mut self.counters,
            Instant::now(),
        );
    }

    fn tx(&mut self, port: PortId) -> Vec<Vec<u8>> {
        self.ports.take_tx(port)
    }

    fn assert_quiet(&mut self, ports: &[PortId]) {
        for p in ports {
            assert!(self.tx(*p).is_empty(), "unexpected frame on port {p:?}");
        }
    }
}

/// The RFC 792 quote of a frame: IP header + 8 bytes.
fn quote(frame: &[u8], l3: usize) -> Vec<u8> {
    frame[l3..l3 + 28].to_vec()
}

fn a_to(dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
    echo_request(MAC_A, MAC_J0, None, IP_A, dst, ttl, 0x1234, 1, 56)
}

#[test]
fn arp_request_for_gateway_gets_reply_with_j_mac() {
    let mut h = Harness::new(default_fib());
    h.rx(PORT_A, &[arp_request(MAC_A, IP_A, IP_J0)]);
    let out = h.tx(PORT_A);
    let expected: Vec<u8> = [
        &MAC_A.0[..],
        &MAC_J0.0,
        &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02],
        &[0x00, 0x01, 0x42, 0x09, 0x88, 0x73],
        &[10, 0, 0, 1],
        &MAC_A.0,
        &[10, 0, 0, 10],
    ]
    .concat();
    assert_eq!(out, vec![expected]);
    assert_eq!(h.counters.arp_replies, 1);
    h.assert_quiet(&[PORT_H, PORT_B]);
}

#[test]
fn arp_for_other_addresses_and_replies_are_dropped_and_counted() {
    let mut h = Harness::new(default_fib());
    let mut reply = arp_request(MAC_A, IP_A, IP_J0);
    reply[21] = 2;
    h.rx(PORT_A, &[arp_request(MAC_A, IP_A, Ipv4Addr::new(10, 0, 0, 77)), reply]);
    h.assert_quiet(&[PORT_A, PORT_H, PORT_B]);
    assert_eq!(h.counters.drop_count(DropReason::ArpNotForUs), 1);
    assert_eq!(h.counters.drop_count(DropReason::ArpIgnored), 1);
    assert_eq!(h.ports.free_frames(), 512);
}

#[test]
fn a_to_h_leaves_port_h_with_ttl_62_and_macs_l_to_h() {
    let mut h = Harness::new(default_fib());
    h.rx(PORT_A, &[a_to(IP_H, 64)]);
    let expected = echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 62, 0x1234, 1, 56);
    let out = h.tx(PORT_H);
    assert_eq!(out, vec![expected.clone()]);
    let (ip, _) = Ipv4Header::from_slice(&out[0][14..]).unwrap();
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    assert_eq!(ip.time_to_live, 62);
    h.assert_quiet(&[PORT_A, PORT_B]);
    assert_eq!(h.counters.tenants[0].rx_packets, 1);
    assert_eq!(h.counters.tenants[0].tx_packets, 1);
    assert_eq!(h.counters.ports[PORT_H.index()].tx_bytes, expected.len() as u64);
    assert_eq!(h.counters.total_drops(), 0);
}

#[test]
fn h_to_a_crosses_l_then_j() {
    let mut h = Harness::new(default_fib());
    h.rx(PORT_H, &[echo_request(MAC_H, MAC_L0, None, IP_H, IP_A, 10, 7, 9, 8)]);
    assert_eq!(h.tx(PORT_A), vec![echo_request(MAC_J0, MAC_A, None, IP_H, IP_A, 8, 7, 9, 8)]);
}

#[test]
fn ttl_1_expires_at_j_and_ttl_2_at_l() {
    let mut h = Harness::new(default_fib());
    let f1 = a_to(IP_H, 1);
    h.rx(PORT_A, &[f1.clone()]);
    let te = Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit);
    let expected = icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 1, te.clone(), &quote(&f1, 14));
    assert_eq!(h.tx(PORT_A), vec![expected]);

    let f2 = a_to(IP_H, 2);
    h.rx(PORT_A, &[f2.clone()]);
    let expected = icmp_frame(MAC_A, MAC_J0, None, IP_L1, IP_A, 2, te, &quote(&f2, 14));
    assert_eq!(h.tx(PORT_A), vec![expected]);
    h.assert_quiet(&[PORT_H, PORT_B]);
    assert_eq!(h.counters.drop_count(DropReason::TtlExceeded), 2);
    assert_eq!(h.counters.icmp_errors, 2);

    // TTL 3 reaches H with TTL 1.
    h.rx(PORT_A, &[a_to(IP_H, 3)]);
    assert_eq!(h.tx(PORT_H), vec![echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 1, 0x1234, 1, 56)]);
}

#[test]
fn echo_to_gateway_and_to_far_router_address_are_answered() {
    let mut h = Harness::new(default_fib());
    h.rx(PORT_A, &[a_to(IP_J0, 64), a_to(IP_L1, 64)]);
    let data: Vec<u8> = (0..56u8).collect();
    let reply = |from| {
        icmp_frame(
            MAC_A,
            MAC_J0,
            None,
            from,
            IP_A,
            0,
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: 0x1234, seq: 1 }),
            &data,
        )
    };
    let mut r1 = reply(IP_J0);
    let mut r2 = reply(IP_L1);
    // idents 1 and 2 from the pipeline's counter
    r1[18..20].copy_from_slice(&1u16.to_be_bytes());
    fix_ipv4_checksum(&mut r1, 14);
    r2[18..20].copy_from_slice(&2u16.to_be_bytes());
    fix_ipv4_checksum(&mut r2, 14);
    assert_eq!(h.tx(PORT_A), vec![r1, r2]);
    assert_eq!(h.counters.echo_replies, 2);
    // TTL 1 to L's address expires at J.
    let f = a_to(IP_L1, 1);
    h.rx(PORT_A, &[f.clone()]);
    let te = Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit);
    assert_eq!(h.tx(PORT_A), vec![icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 3, te, &quote(&f, 14))]);
}

#[test]
fn unknown_destination_gets_net_unreachable_and_unknown_host_host_unreachable() {
    let mut h = Harness::new(default_fib());
    let f = a_to(Ipv4Addr::new(8, 8, 8, 8), 64);
    let g = a_to(Ipv4Addr::new(10, 1, 5, 99), 64);
    h.rx(PORT_A, &[f.clone(), g.clone()]);
    let net = Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Network);
    let host = Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Host);
    assert_eq!(
        h.tx(PORT_A),
        vec![
            icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 1, net, &quote(&f, 14)),
            icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 2, host, &quote(&g, 14)),
        ]
    );
    assert_eq!(h.counters.drop_count(DropReason::NoRoute), 1);
    assert_eq!(h.counters.drop_count(DropReason::HostUnreachable), 1);
}

#[test]
fn udp_to_router_gets_port_unreachable() {
    let mut h = Harness::new(default_fib());
    let f = udp_frame(MAC_A, MAC_J0, IP_A, IP_L0, 64, 40000, 33434, b"traceroute");
    h.rx(PORT_A, &[f.clone()]);
    let port = Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::Port);
    assert_eq!(h.tx(PORT_A), vec![icmp_frame(MAC_A, MAC_J0, None, IP_L0, IP_A, 1, port, &quote(&f, 14))]);
}

#[test]
fn tenant_y_never_reaches_tenant_z() {
    let mut h = Harness::new(default_fib());
    // B (10.0.0.10 in tenant y) to H's address: y has no such route.
    let to_h = echo_request(MAC_B, MAC_Y0, None, IP_B, IP_H, 64, 1, 1, 8);
    // B to its own gateway: answered by Y, from port b.
    let to_gw = echo_request(MAC_B, MAC_Y0, None, IP_B, IP_Y0, 64, 1, 2, 8);
    // B using J's MAC (tenant z's router) is not addressed to b's gateway.
    let spoof = echo_request(MAC_B, MAC_J0, None, IP_B, IP_H, 64, 1, 3, 8);
    h.rx(PORT_B, &[to_h, to_gw, spoof]);
    h.assert_quiet(&[PORT_A, PORT_H]);
    let out = h.tx(PORT_B);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|f| f[0..6] == MAC_B.0 && f[6..12] == MAC_Y0.0));
    assert_eq!(h.counters.drop_count(DropReason::NoRoute), 1);
    assert_eq!(h.counters.drop_count(DropReason::NotOurMac), 1);
    assert_eq!(h.counters.tenants[0], Default::default(), "tenant z saw nothing");
    // And A's traffic to 10.0.0.10 (A itself, same address as B) stays in z.
    h.rx(PORT_H, &[echo_request(MAC_H, MAC_L0, None, IP_H, IP_A, 64, 1, 1, 8)]);
    assert_eq!(h.tx(PORT_A).len(), 1);
    h.assert_quiet(&[PORT_B]);
}

#[test]
fn spoofed_source_bad_checksum_and_wrong_vlan_are_dropped() {
    let mut h = Harness::new(default_fib());
    let spoof = echo_request(MAC_A, MAC_J0, None, Ipv4Addr::new(10, 9, 9, 9), IP_H, 64, 1, 1, 8);
    let mut bad = a_to(IP_H, 64);
    bad[24] ^= 0xff;
    let tagged = echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_H, 64, 1, 1, 8);
    h.rx(PORT_A, &[spoof, bad, tagged]);
    h.assert_quiet(&[PORT_A, PORT_H, PORT_B]);
    assert_eq!(h.counters.drop_count(DropReason::SrcNotInSubnet), 1);
    assert_eq!(h.counters.drop_count(DropReason::Ipv4BadChecksum), 1);
    assert_eq!(h.counters.drop_count(DropReason::VlanMismatch), 1);
}

#[test]
fn vlan_tag_is_pushed_toward_and_popped_from_a_tagged_port() {
    let mut h = Harness::new(default_fib_opts(Some(10), |_, _| {}));
    h.rx(PORT_A, &[echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_H, 64, 5, 6, 20)]);
    assert_eq!(h.tx(PORT_H), vec![echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 62, 5, 6, 20)]);
    h.rx(PORT_H, &[echo_request(MAC_H, MAC_L0, None, IP_H, IP_A, 64, 5, 6, 20)]);
    assert_eq!(h.tx(PORT_A), vec![echo_request(MAC_J0, MAC_A, Some(10), IP_H, IP_A, 62, 5, 6, 20)]);
    // ARP and ICMP errors on the tagged port are tagged too.
    let mut arp = arp_request(MAC_A, IP_A, IP_J0);
    arp.splice(12..12, [0x81, 0x00, 0x00, 0x0a]);
    let ttl1 = echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_H, 1, 5, 6, 20);
    h.rx(PORT_A, &[arp, ttl1.clone()]);
    let out = h.tx(PORT_A);
    assert_eq!(out.len(), 2);
    assert_eq!(&out[0][12..18], &[0x81, 0x00, 0x00, 0x0a, 0x08, 0x06]);
    let te = Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit);
    assert_eq!(out[1], icmp_frame(MAC_A, MAC_J0, Some(10), IP_J0, IP_A, 1, te, &quote(&ttl1, 18)));
}

#[test]
fn no_icmp_error_about_icmp_errors_and_rate_limit_holds() {
    let mut h = Harness::new(default_fib());
    // An ICMP time-exceeded from A toward an unknown network: no error about an error.
    let te = icmp_frame(
        MAC_J0,
        MAC_A,
        None,
        IP_A,
        Ipv4Addr::new(8, 8, 8, 8),
        0,
        Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit),
        &[0u8; 28],
    );
    h.rx(PORT_A, &[te]);
    h.assert_quiet(&[PORT_A]);
    assert_eq!(h.counters.drop_count(DropReason::NoRoute), 1);
    assert_eq!(h.counters.icmp_errors, 0);
    h.pl.set_icmp_limit(TokenBucket::new(1, 3));
    let frames: Vec<Vec<u8>> = (0..10).map(|_| a_to(Ipv4Addr::new(8, 8, 8, 8), 64)).collect();
    h.rx(PORT_A, &frames);
    assert_eq!(h.tx(PORT_A).len(), 3);
    assert_eq!(h.counters.icmp_rate_limited, 7);
    assert_eq!(h.counters.drop_count(DropReason::NoRoute), 11);
}

/// Issue 11: one worker's ICMP error budget was shared by every tenant, so a host of tenant
/// `y` drawing errors starved tenant `z`'s traceroutes. Each tenant has its own budget.
#[test]
fn one_tenant_exhausting_icmp_errors_does_not_starve_another() {
    let mut h = Harness::new(default_fib());
    h.pl.set_icmp_limit(TokenBucket::new(1, 3));
    let b_to = |ttl| echo_request(MAC_B, MAC_Y0, None, IP_B, Ipv4Addr::new(8, 8, 8, 8), ttl, 0x99, 1, 56);
    let flood: Vec<Vec<u8>> = (0..50).map(|_| b_to(64)).collect();
    h.rx(PORT_B, &flood);
    assert_eq!(h.tx(PORT_B).len(), 3, "tenant y gets its own burst");
    assert_eq!(h.counters.icmp_rate_limited, 47);
    // Tenant z still gets its errors (TTL 1: time exceeded from J).
    h.rx(PORT_A, &[a_to(IP_H, 1), a_to(Ipv4Addr::new(8, 8, 8, 8), 64)]);
    let out = h.tx(PORT_A);
    assert_eq!(out.len(), 2, "tenant z is not starved by tenant y");
    assert_eq!(out[0][34], 11);
    assert_eq!(out[1][34], 3);
    assert_eq!(h.counters.icmp_rate_limited, 47);
}

#[test]
fn down_ports_drop() {
    let mut fib = default_fib();
    fib.ports[PORT_H.index()].up = false;
    let mut h = Harness::new(fib);
    h.rx(PORT_A, &[a_to(IP_H, 64)]);
    h.rx(PORT_H, &[echo_request(MAC_H, MAC_L0, None, IP_H, IP_A, 64, 1, 1, 8)]);
    h.rx(PortId(3), &[a_to(IP_H, 64)]);
    h.assert_quiet(&[PORT_A, PORT_H, PORT_B]);
    assert_eq!(h.counters.drop_count(DropReason::EgressDown), 1);
    assert_eq!(h.counters.drop_count(DropReason::IngressDown), 1);
    assert_eq!(h.counters.drop_count(DropReason::UnknownPort), 1);
    assert_eq!(h.ports.free_frames(), 512);
}

/// The probe `start` just queued, injected as the worker would.
fn inject_queued(h: &mut Harness) -> Vec<u8> {
    let probe = h.punt.inject.pop().expect("probe queued");
    let bytes = probe.frame.as_slice().to_vec();
    h.inject_probe(probe.router, &bytes);
    bytes
}

const TENANT_Z: TenantId = TenantId(0);

#[test]
fn router_probes_are_routed_and_answers_punted() {
    let mut h = Harness::new(default_fib());
    let punt = h.punt.clone();
    let prober = Prober::new(punt);
    // traceroute from J to H: TTL 1 expires at L (J does not count itself).
    let p1 = prober.start(TENANT_Z, ROUTER_J, IP_J0, IP_H, 1).unwrap();
    inject_queued(&mut h);
    let r = p1.try_recv().expect("time exceeded punted");
    assert_eq!((r.kind, r.from, r.to), (ProbeKind::TimeExceeded, IP_L1, IP_J0));
    // TTL 2 reaches H with TTL 1, MACs L -> H.
    let p2 = prober.start(TENANT_Z, ROUTER_J, IP_J0, IP_H, 2).unwrap();
    let probe2 = inject_queued(&mut h);
    let out = h.tx(PORT_H);
    assert_eq!(out.len(), 1);
    let mut expected = probe2.clone();
    expected[0..6].copy_from_slice(&MAC_H.0);
    expected[6..12].copy_from_slice(&MAC_L0.0);
    expected[22] = 1;
    fix_ipv4_checksum(&mut expected, 14);
    assert_eq!(out[0], expected);
    // H answers to 10.0.0.1: arrives on port h, is punted as the echo reply.
    let mut reply = out[0].clone();
    reply[0..6].copy_from_slice(&MAC_L0.0);
    reply[6..12].copy_from_slice(&MAC_H.0);
    reply[22] = 64;
    reply[26..30].copy_from_slice(&IP_H.octets());
    reply[30..34].copy_from_slice(&IP_J0.octets());
    fix_ipv4_checksum(&mut reply, 14);
    reply[34] = 0;
    let c = crate::wire::checksum::update16(u16::from_be_bytes([reply[36], reply[37]]), 0x0800, 0x0000);
    reply[36..38].copy_from_slice(&c.to_be_bytes());
    h.rx(PORT_H, &[reply.clone()]);
    let r = p2.try_recv().expect("echo reply punted");
    assert_eq!((r.kind, r.from, r.ttl), (ProbeKind::EchoReply, IP_H, 63));
    // A ping from the router to its own far address and to nowhere.
    let p3 = prober.start(TENANT_Z, ROUTER_J, IP_J0, IP_L1, 64).unwrap();
    inject_queued(&mut h);
    let r = p3.try_recv().expect("router answers the probe");
    assert_eq!((r.kind, r.from), (ProbeKind::EchoReply, IP_L1));
    let p4 = prober.start(TENANT_Z, ROUTER_J, IP_J0, Ipv4Addr::new(8, 8, 8, 8), 64).unwrap();
    inject_queued(&mut h);
    let r = p4.try_recv().expect("unreachable punted");
    assert_eq!((r.kind, r.from), (ProbeKind::Unreachable(0), IP_J0));
    // A host's own echo reply to a router address is not a probe answer.
    h.rx(
        PORT_A,
        &[icmp_frame(
            MAC_J0,
            MAC_A,
            None,
            IP_A,
            IP_J0,
            0,
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: 1, seq: 1 }),
            &[0; 8],
        )],
    );
    assert_eq!(h.counters.drop_count(DropReason::PuntNotProbe), 1);
    // Nor is H's genuine answer once its probe is over (late answers are not punted).
    drop(p2);
    h.rx(PORT_H, &[reply]);
    assert_eq!(h.counters.drop_count(DropReason::PuntNotProbe), 2);
    assert_eq!(h.counters.punted, 4);
    assert_eq!(h.ports.free_frames(), 512);
}

/// Issue 11: answers were matched on a guessable (ident, seq) in one queue shared by every
/// tenant. Tenant y's host B (same addresses as tenant z's A) answering with z's exact
/// identifier and sequence, to the same router address, is not punted to z's probe.
#[test]
fn another_tenants_host_cannot_answer_a_probe() {
    let mut h = Harness::new(default_fib());
    let prober = Prober::new(h.punt.clone());
    // z's J pings A (10.0.0.10); y's B has the same address and gateway 10.0.0.1.
    let p = prober.start(TENANT_Z, ROUTER_J, IP_J0, IP_A, 64).unwrap();
    let probe = inject_queued(&mut h);
    assert_eq!(h.tx(PORT_A).len(), 1);
    let (ident, seq) = p.ident_seq();
    let data = &probe[42..];
    let forged = icmp_frame(
        MAC_Y0,
        MAC_B,
        None,
        IP_B,
        IP_Y0,
        64,
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: ident, seq }),
        data,
    );
    h.rx(PORT_B, &[forged]);
    assert_eq!(h.counters.drop_count(DropReason::PuntNotProbe), 1);
    assert_eq!(p.try_recv(), None);
    // The genuine answer from A still gets through.
    let genuine = icmp_frame(
        MAC_J0,
        MAC_A,
        None,
        IP_A,
        IP_J0,
        64,
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: ident, seq }),
        data,
    );
    h.rx(PORT_A, &[genuine]);
    assert_eq!(p.try_recv().map(|r| (r.kind, r.from)), Some((ProbeKind::EchoReply, IP_A)));
}

/// Tunnel 0's encapsulation of `inner` as the pipeline must write it: outer ident `ident`,
/// source port from the inner flow.
fn to_peer(ident: u16, inner: &[u8]) -> Vec<u8> {
    let sport = encap::source_port(inner);
    assert!(sport >= 49152);
    vxlan_frame(MAC_UP, MAC_PEER, IP_VTEP, IP_PEER, ident, sport, 4789, 5001, inner)
}

/// What node 1 sends us: `inner` from R's node to our VTEP.
fn from_peer(inner: &[u8]) -> Vec<u8> {
    vxlan_frame(MAC_PEER, MAC_UP, IP_PEER, IP_VTEP, 7, 50000, 4789, 5001, inner)
}

fn te() -> Icmpv4Type {
    Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit)
}

#[test]
fn frame_to_remote_host_leaves_the_uplink_encapsulated_in_the_headroom() {
    let mut h = Harness::new(substrate_fib(Some(Some(MAC_PEER))));
    h.rx(PORT_A, &[a_to(IP_R, 64)]);
    let inner = echo_request(MAC_J2, MAC_R, None, IP_A, IP_R, 63, 0x1234, 1, 56);
    assert_eq!(h.tx(PORT_UP), vec![to_peer(1, &inner)]);
    h.assert_quiet(&[PORT_A, PORT_H, PORT_B]);
    let c = &h.counters;
    assert_eq!((c.encapsulated, c.ports[PORT_UP.index()].encap_packets), (1, 1));
    assert_eq!(c.tenants[0].fast_tx_bytes, (inner.len() + 50) as u64);
    assert_eq!(c.tenants[0].tx_bytes, (inner.len() + 50) as u64);
    assert_eq!(c.total_drops(), 0);

    // The outer headers went into the headroom: same frame, start 50 bytes earlier.
    h.ports.inject(PORT_A, &a_to(IP_R, 64)).unwrap();
    let mut batch = Batch::new(Ingress::Port(PORT_A));
    let n = h.ports.rx_burst(PORT_A, &mut batch.desc);
    batch.reset(Ingress::Port(PORT_A), n);
    let before = batch.desc[0];
    h.pl.process(&mut h.ports, &mut batch, &h.fib, &mut h.counters, Instant::now());
    assert_eq!(batch.meta[0].verdict, Verdict::Tx(PORT_UP));
    assert_eq!(batch.desc[0].frame, before.frame);
    assert_eq!(batch.desc[0].off, before.off - 50);
    assert_eq!(batch.desc[0].len, before.len + 50);
    h.ports.recycle(&batch.desc[..1]);
}

#[test]
fn tagged_frame_to_remote_host_loses_its_tag_inside_the_tunnel() {
    let mut fib = substrate_fib(Some(Some(MAC_PEER)));
    if let rib::fib::PortKind::Access { vlan, .. } = &mut fib.ports[PORT_A.index()].kind {
        *vlan = Some(10);
    }
    let mut h = Harness::new(fib);
    h.rx(PORT_A, &[echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_R, 64, 5, 6, 20)]);
    let inner = echo_request(MAC_J2, MAC_R, None, IP_A, IP_R, 63, 5, 6, 20);
    assert_eq!(h.tx(PORT_UP), vec![to_peer(1, &inner)]);
}

#[test]
fn unresolved_or_missing_substrate_path_drops_with_its_reason() {
    for (state, reason) in
        [(Some(None), DropReason::SubstrateUnresolved), (None, DropReason::SubstrateNoPath)]
    {
        let mut h = Harness::new(substrate_fib(state));
        h.rx(PORT_A, &[a_to(IP_S, 64)]);
        h.assert_quiet(&[PORT_A, PORT_UP]);
        assert_eq!(h.counters.drop_count(reason), 1, "{reason:?}");
        assert_eq!(h.counters.total_drops(), 1);
        assert_eq!(h.ports.free_frames(), 512);
    }
    let mut fib = substrate_fib(None);
    fib.ports[PORT_UP.index()].up = false;
    let mut h = Harness::new(fib);
    h.rx(PORT_A, &[a_to(IP_R, 64)]);
    assert_eq!(h.counters.drop_count(DropReason::EgressDown), 1);
}

#[test]
fn too_big_for_the_tunnel_gets_frag_needed_with_df_and_is_dropped_without() {
    let mut h = Harness::new(substrate_fib(None));
    // 20 + 8 + 1423 = 1451 bytes of IPv4: one more than the inner MTU (etherparse sets DF).
    let big = echo_request(MAC_A, MAC_J0, None, IP_A, IP_R, 64, 9, 9, 1423);
    assert_eq!(Ipv4Header::from_slice(&big[14..]).unwrap().0.dont_fragment, true);
    let fits = echo_request(MAC_A, MAC_J0, None, IP_A, IP_R, 64, 9, 10, 1422);
    let mut no_df = big.clone();
    no_df[20] &= !0x40;
    fix_ipv4_checksum(&mut no_df, 14);
    h.rx(PORT_A, &[big.clone(), fits, no_df]);
    let frag =
        Icmpv4Type::DestinationUnreachable(etherparse::icmpv4::DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: INNER_MTU,
        });
    assert_eq!(h.tx(PORT_A), vec![icmp_frame(MAC_A, MAC_J0, None, IP_J0, IP_A, 1, frag, &quote(&big, 14))]);
    let out = h.tx(PORT_UP);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].len(), 50 + 14 + 1450);
    assert_eq!(h.counters.drop_count(DropReason::FragNeeded), 1);
    assert_eq!(h.counters.drop_count(DropReason::TooBig), 1);
    assert_eq!(h.counters.icmp_errors, 1);
}

#[test]
fn frame_from_remote_host_is_decapsulated_in_place_and_routed_from_its_gateway() {
    let mut h = Harness::new(substrate_fib(None));
    let inner = echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 30, 3, 4, 10);
    let outer = from_peer(&inner);
    // Ethernet padding after a short outer packet is not part of the inner frame.
    let mut padded = from_peer(&echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 30, 3, 5, 10));
    padded.extend_from_slice(&[0; 6]);
    h.rx(PORT_UP, &[outer.clone(), padded]);
    // Enters at J (table J): J then L, TTL 28.
    assert_eq!(
        h.tx(PORT_H),
        vec![
            echo_request(MAC_L0, MAC_H, None, IP_R, IP_H, 28, 3, 4, 10),
            echo_request(MAC_L0, MAC_H, None, IP_R, IP_H, 28, 3, 5, 10)
        ]
    );
    let c = &h.counters;
    assert_eq!((c.decapsulated, c.ports[PORT_UP.index()].decap_packets), (2, 2));
    assert_eq!(c.tenants[0].rx_packets, 2);
    assert_eq!(c.tenants[0].rx_bytes, 2 * inner.len() as u64);
    assert_eq!(c.total_drops(), 0);

    // Only the start moved: past the 50 outer bytes of the same frame.
    h.ports.inject(PORT_UP, &outer).unwrap();
    let mut batch = Batch::new(Ingress::Port(PORT_UP));
    let n = h.ports.rx_burst(PORT_UP, &mut batch.desc);
    batch.reset(Ingress::Port(PORT_UP), n);
    let before = batch.desc[0];
    h.pl.process(&mut h.ports, &mut batch, &h.fib, &mut h.counters, Instant::now());
    assert_eq!(batch.meta[0].verdict, Verdict::Tx(PORT_H));
    assert_eq!((batch.desc[0].frame, batch.desc[0].off), (before.frame, before.off + 50));
    h.ports.recycle(&batch.desc[..1]);
}

#[test]
fn frame_routed_by_a_peer_appliance_is_delivered_as_it_is() {
    let mut h = Harness::new(substrate_fib(None));
    // The peer appliance already crossed J and L: L's MAC to H's, TTL 28.
    let routed = echo_request(MAC_L0, MAC_H, None, IP_R, IP_H, 28, 3, 4, 10);
    h.rx(PORT_UP, &[from_peer(&routed)]);
    assert_eq!(h.tx(PORT_H), vec![routed]);
    assert_eq!(h.counters.total_drops(), 0);
    // The same with another router MAC, or to a host that is not local, is forged.
    let wrong_router = echo_request(MAC_J0, MAC_H, None, IP_R, IP_H, 28, 3, 4, 10);
    let not_local = echo_request(MAC_L0, MAC_H, None, IP_R, Ipv4Addr::new(10, 9, 9, 9), 28, 3, 4, 10);
    h.rx(PORT_UP, &[from_peer(&wrong_router), from_peer(&not_local)]);
    assert!(h.tx(PORT_H).is_empty());
    assert_eq!(h.counters.drop_count(DropReason::VxlanForgedSource), 2);
}

#[test]
fn hostile_vxlan_is_dropped_under_named_reasons() {
    let mut h = Harness::new(substrate_fib(None));
    let good_inner = echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 30, 3, 4, 10);
    let good = from_peer(&good_inner);
    let mut cases: Vec<(Vec<u8>, DropReason)> = Vec::new();
    let mut vni = good.clone();
    vni[46] = 0x77;
    cases.push((vni, DropReason::UnknownVni));
    cases.push((
        vxlan_frame(
            MAC_PEER,
            MAC_UP,
            Ipv4Addr::new(172, 16, 9, 9),
            IP_VTEP,
            7,
            50000,
            4789,
            5001,
            &good_inner,
        ),
        DropReason::VxlanUnknownVtep,
    ));
    // Inner source not a remote host; right IP with the wrong MAC; S's address from R's node.
    let forged = [
        echo_request(MAC_R, MAC_J2, None, Ipv4Addr::new(10, 9, 1, 2), IP_H, 30, 3, 4, 10),
        echo_request(MAC_S, MAC_J2, None, IP_R, IP_H, 30, 3, 4, 10),
        echo_request(MAC_S, MAC_J2, None, IP_S, IP_H, 30, 3, 4, 10),
    ];
    for f in forged {
        cases.push((from_peer(&f), DropReason::VxlanForgedSource));
    }
    // Not to its gateway: taken as routed by a peer appliance, but it is not the delivery
    // this appliance would make (wrong router MAC), so it is forged.
    cases.push((
        from_peer(&echo_request(MAC_R, MAC_J0, None, IP_R, IP_H, 30, 3, 4, 10)),
        DropReason::VxlanForgedSource,
    ));
    let mut wrong_mac = good.clone();
    wrong_mac[0..6].copy_from_slice(&MAC_J0.0);
    cases.push((wrong_mac, DropReason::NotOurMac));
    cases.push((
        vxlan_frame(
            MAC_PEER,
            MAC_UP,
            IP_PEER,
            Ipv4Addr::new(172, 16, 0, 99),
            7,
            50000,
            4789,
            5001,
            &good_inner,
        ),
        DropReason::VxlanMalformed,
    ));
    cases.push((
        vxlan_frame(MAC_PEER, MAC_UP, IP_PEER, IP_VTEP, 7, 50000, 4790, 5001, &good_inner),
        DropReason::VxlanMalformed,
    ));
    let mut no_i_flag = good.clone();
    no_i_flag[42] = 0;
    cases.push((no_i_flag, DropReason::VxlanMalformed));
    let mut fragment = good.clone();
    fragment[20] |= 0x20; // MF
    fix_ipv4_checksum(&mut fragment, 14);
    cases.push((fragment, DropReason::VxlanMalformed));
    let mut udp_too_long = good.clone();
    udp_too_long[38..40].copy_from_slice(&2000u16.to_be_bytes());
    cases.push((udp_too_long, DropReason::VxlanMalformed));
    let mut short_inner = good.clone();
    short_inner.truncate(50 + 10);
    short_inner[16..18].copy_from_slice(&46u16.to_be_bytes());
    short_inner[38..40].copy_from_slice(&26u16.to_be_bytes());
    fix_ipv4_checksum(&mut short_inner, 14);
    cases.push((short_inner, DropReason::VxlanMalformed));
    let mut bad_inner_sum = good.clone();
    bad_inner_sum[50 + 24] ^= 0xff;
    cases.push((bad_inner_sum, DropReason::Ipv4BadChecksum));
    let tagged_inner = echo_request(MAC_R, MAC_J2, Some(5), IP_R, IP_H, 30, 3, 4, 10);
    cases.push((from_peer(&tagged_inner), DropReason::VlanMismatch));
    for (frame, reason) in &cases {
        let before = h.counters.drop_count(*reason);
        h.rx(PORT_UP, std::slice::from_ref(frame));
        assert_eq!(h.counters.drop_count(*reason), before + 1, "{reason:?}");
    }
    assert_eq!(h.counters.total_drops(), cases.len() as u64);
    // Only the "routed by a peer" candidate passed decapsulation (forward then refused it).
    assert_eq!(h.counters.decapsulated, 1);
    assert_eq!(h.counters.tenants[0].rx_packets, 1);
    h.assert_quiet(&[PORT_A, PORT_H, PORT_B, PORT_UP]);
    // Every truncation of a good frame is dropped, never a panic.
    for n in 0..good.len() {
        h.rx(PORT_UP, &[good[..n].to_vec()]);
    }
    h.assert_quiet(&[PORT_H, PORT_UP]);
    assert_eq!(h.ports.free_frames(), 512);
}

#[test]
fn remote_host_gets_time_exceeded_and_echo_replies_encapsulated_back() {
    let mut h = Harness::new(substrate_fib(None));
    let ttl1 = echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 1, 3, 1, 10);
    let ttl2 = echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 2, 3, 2, 10);
    let ping_gw = echo_request(MAC_R, MAC_J2, None, IP_R, IP_J2, 64, 3, 3, 10);
    h.rx(PORT_UP, &[from_peer(&ttl1), from_peer(&ttl2), from_peer(&ping_gw)]);
    // TTL 1 expires at J (R's gateway address), TTL 2 at L; the echo reply comes from J2.
    let te1 = icmp_frame(MAC_R, MAC_J2, None, IP_J2, IP_R, 1, te(), &quote(&ttl1, 14));
    let te2 = icmp_frame(MAC_R, MAC_J2, None, IP_L1, IP_R, 3, te(), &quote(&ttl2, 14));
    let data: Vec<u8> = (0..10u8).collect();
    let mut reply = icmp_frame(
        MAC_R,
        MAC_J2,
        None,
        IP_J2,
        IP_R,
        5,
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 3, seq: 3 }),
        &data,
    );
    fix_ipv4_checksum(&mut reply, 14);
    assert_eq!(h.tx(PORT_UP), vec![to_peer(2, &te1), to_peer(4, &te2), to_peer(6, &reply)]);
    h.assert_quiet(&[PORT_A, PORT_H]);
    assert_eq!(h.counters.drop_count(DropReason::TtlExceeded), 2);
    assert_eq!((h.counters.icmp_errors, h.counters.echo_replies), (2, 1));
    assert_eq!(h.counters.ports[PORT_UP.index()].encap_packets, 3);
}

#[test]
fn substrate_arp_is_answered_for_our_vtep_and_the_rest_goes_to_the_control_plane() {
    let mut h = Harness::new(substrate_fib(None));
    let req = arp_request(MAC_PEER, IP_PEER, IP_VTEP);
    let other = arp_request(MAC_PEER, IP_PEER, Ipv4Addr::new(172, 16, 0, 200));
    let mut reply_to_us = arp_request(MAC_PEER, IP_PEER, IP_VTEP);
    reply_to_us[0..6].copy_from_slice(&MAC_UP.0);
    reply_to_us[21] = 2;
    h.rx(PORT_UP, &[req, other.clone(), reply_to_us.clone()]);
    let expected: Vec<u8> = [
        &MAC_PEER.0[..],
        &MAC_UP.0,
        &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02],
        &MAC_UP.0,
        &IP_VTEP.octets(),
        &MAC_PEER.0,
        &IP_PEER.octets(),
    ]
    .concat();
    assert_eq!(h.tx(PORT_UP), vec![expected]);
    let got: Vec<(PortId, Vec<u8>)> =
        std::iter::from_fn(|| h.punt.recv_arp()).map(|e| (e.port, e.frame.as_slice().to_vec())).collect();
    assert_eq!(got, vec![(PORT_UP, other), (PORT_UP, reply_to_us)]);
    assert_eq!((h.counters.arp_replies, h.counters.arp_punted), (1, 2));
    assert_eq!(h.counters.total_drops(), 0);
    assert_eq!(h.counters.tenants[0], Default::default(), "substrate ARP is no tenant's traffic");
    assert_eq!(h.counters.ports[PORT_UP.index()].tx_packets, 1);
    // A full queue never blocks: the frame is counted and dropped.
    let small = PuntQueues::new(1);
    let mut h2 = Harness::new(substrate_fib(None));
    h2.punt = small;
    h2.rx(PORT_UP, &[arp_request(MAC_PEER, IP_PEER, IP_R), arp_request(MAC_PEER, IP_PEER, IP_S)]);
    assert_eq!(h2.counters.drop_count(DropReason::ArpQueueFull), 1);
    assert_eq!(h2.ports.free_frames(), 512);
}

#[test]
fn remote_hosts_arp_for_its_gateway_is_answered_encapsulated() {
    let mut h = Harness::new(substrate_fib(None));
    let req = arp_request(MAC_R, IP_R, IP_J2);
    let not_gw = arp_request(MAC_R, IP_R, Ipv4Addr::new(10, 9, 1, 77));
    let forged = arp_request(MAC_S, IP_R, IP_J2);
    h.rx(PORT_UP, &[from_peer(&req), from_peer(&not_gw), from_peer(&forged)]);
    let reply: Vec<u8> = [
        &MAC_R.0[..],
        &MAC_J2.0,
        &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02],
        &MAC_J2.0,
        &IP_J2.octets(),
        &MAC_R.0,
        &IP_R.octets(),
    ]
    .concat();
    assert_eq!(h.tx(PORT_UP), vec![to_peer(1, &reply)]);
    assert_eq!(h.counters.arp_replies, 1);
    assert_eq!(h.counters.drop_count(DropReason::ArpNotForUs), 1);
    assert_eq!(h.counters.drop_count(DropReason::VxlanForgedSource), 1);
    assert!(h.punt.recv_arp().is_none(), "tenant ARP never reaches the control plane");
}

#[test]
fn random_and_mutated_frames_never_panic_and_are_all_accounted() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let mut h = Harness::new(default_fib_opts(Some(10), |_, _| {}));
    let seeds = [
        a_to(IP_H, 64),
        a_to(IP_J0, 64),
        a_to(IP_H, 1),
        arp_request(MAC_A, IP_A, IP_J0),
        udp_frame(MAC_A, MAC_J0, IP_A, IP_L0, 64, 1, 2, b"x"),
        echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_H, 2, 1, 1, 30),
        echo_request(MAC_H, MAC_L0, None, IP_H, IP_A, 64, 1, 1, 8),
    ];
    let mut total = 0u64;
    for round in 0..300 {
        let mut frames = Vec::new();
        for _ in 0..BATCH {
            let f = if round % 3 == 0 {
                let n = rng.random_range(0..200);
                (0..n).map(|_| rng.random::<u8>()).collect::<Vec<u8>>()
            } else {
                let mut f = seeds[rng.random_range(0..seeds.len())].clone();
                for _ in 0..rng.random_range(1..4) {
                    let i = rng.random_range(0..f.len());
                    f[i] = rng.random();
                }
                if rng.random_bool(0.2) {
                    let cut = rng.random_range(0..f.len());
                    f.truncate(cut);
                }
                f
            };
            frames.push(f);
        }
        total += frames.len() as u64;
        let port = [PORT_A, PORT_H, PORT_B][round % 3];
        h.rx(port, &frames);
        for p in [PORT_A, PORT_H, PORT_B] {
            h.ports.discard_tx(p);
        }
    }
    let c = &h.counters;
    let forwarded_or_answered = c.tx_packets();
    let consumed = c.arp_replies + c.echo_replies + c.punted;
    // Every frame: dropped (one reason) or transmitted (forwarded, reply, or ICMP error in its place).
    let icmp_in_place = c.icmp_errors;
    assert_eq!(c.total_drops() + forwarded_or_answered - icmp_in_place, total, "{c:?}");
    assert_eq!(c.drop_count(DropReason::Unhandled), 0);
    assert!(consumed <= forwarded_or_answered);
    assert!(c.total_drops() > 0);
    assert_eq!(h.ports.free_frames(), 512);
}

/// Mutated and truncated VXLAN frames (data, ARP inside, substrate ARP) on the uplink never
/// panic, and each is dropped under one reason, punted, or transmitted.
#[test]
fn mutated_vxlan_frames_never_panic_and_are_all_accounted() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0e7a);
    let mut h = Harness::new(substrate_fib(Some(Some(MAC_PEER))));
    let seeds = [
        from_peer(&echo_request(MAC_R, MAC_J2, None, IP_R, IP_H, 30, 3, 4, 10)),
        from_peer(&echo_request(MAC_R, MAC_J2, None, IP_R, IP_S, 1, 3, 4, 10)),
        from_peer(&echo_request(MAC_R, MAC_J2, None, IP_R, IP_J2, 64, 3, 4, 10)),
        from_peer(&arp_request(MAC_R, IP_R, IP_J2)),
        arp_request(MAC_PEER, IP_PEER, IP_VTEP),
    ];
    let mut total = 0u64;
    for _ in 0..300 {
        let mut frames = Vec::new();
        for _ in 0..BATCH {
            let mut f = seeds[rng.random_range(0..seeds.len())].clone();
            for _ in 0..rng.random_range(0..3) {
                let i = rng.random_range(0..f.len());
                f[i] = rng.random();
            }
            if rng.random_bool(0.2) {
                let cut = rng.random_range(0..f.len());
                f.truncate(cut);
            }
            frames.push(f);
        }
        total += frames.len() as u64;
        h.rx(PORT_UP, &frames);
        for p in [PORT_A, PORT_H, PORT_B, PORT_UP] {
            h.ports.discard_tx(p);
        }
        while h.punt.recv_arp().is_some() {}
    }
    let c = &h.counters;
    assert_eq!(c.total_drops() + c.tx_packets() - c.icmp_errors + c.arp_punted, total, "{c:?}");
    assert_eq!(c.drop_count(DropReason::Unhandled), 0);
    assert!(c.decapsulated > 1000 && c.total_drops() > 1000, "both paths exercised: {c:?}");
    assert_eq!(h.ports.free_frames(), 512);
}

#[test]
fn ttl_rule_matches_design() {
    let mut path = rib::fib::HopPath::EMPTY;
    path.push(ROUTER_J, IP_J0);
    path.push(ROUTER_L, IP_L1);
    let access = IngressCtx::Access {
        port: PORT_A,
        tenant: TenantId(0),
        table: TableId(0),
        router: ROUTER_J,
        vlan: None,
        gateway_ip: Ipv4Addr::new(10, 0, 0, 1),
        gateway_mac: MAC_J0,
        subnet: "10.0.0.0/24".parse().unwrap(),
    };
    assert_eq!(forward::ttl_check(&access, 0, &path), Err(IP_J0));
    assert_eq!(forward::ttl_check(&access, 1, &path), Err(IP_J0));
    assert_eq!(forward::ttl_check(&access, 2, &path), Err(IP_L1));
    assert_eq!(forward::ttl_check(&access, 3, &path), Ok(1));
    let probe = IngressCtx::Router { router: ROUTER_J, table: TableId(0), tenant: TenantId(0) };
    assert_eq!(forward::ttl_check(&probe, 1, &path), Err(IP_L1));
    assert_eq!(forward::ttl_check(&probe, 2, &path), Ok(1));
    assert_eq!(forward::ttl_check(&access, 0, &rib::fib::HopPath::EMPTY), Ok(0));
}

/// One batch mixing TTLs (some expire at J or L, some repeat the previous frame's TTL and
/// some do not) leaves exactly the frames, bytes and counters of the same frames sent one
/// batch each: the per-batch rewrite cache of `forward` changes nothing.
#[test]
fn mixed_ttl_batch_matches_frames_sent_one_by_one() {
    let ttls = [64u8, 64, 2, 64, 1, 3, 3, 64, 2, 2, 255, 255, 64];
    let frames: Vec<Vec<u8>> = ttls
        .iter()
        .enumerate()
        .map(|(i, t)| echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, *t, 0x1234, i as u16, 56))
        .collect();
    let mut batched = Harness::new(default_fib());
    batched.rx(PORT_A, &frames);
    let mut single = Harness::new(default_fib());
    for f in &frames {
        single.rx(PORT_A, std::slice::from_ref(f));
    }
    let to_h = batched.tx(PORT_H);
    assert_eq!(to_h.len(), 9, "TTL > 2 crosses J and L");
    assert_eq!(to_h, single.tx(PORT_H));
    let to_a = batched.tx(PORT_A);
    assert_eq!(to_a.len(), 4, "TTL 1 and 2 expire: time exceeded back to A");
    assert_eq!(to_a, single.tx(PORT_A));
    assert_eq!(batched.counters.tenants[0], single.counters.tenants[0]);
    assert_eq!(batched.counters.drops, single.counters.drops);
}
