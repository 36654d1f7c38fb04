//! Frame-in / queue-out tests of the in-band management punt and inject paths through a
//! whole worker round over in-memory ports.

use super::*;
use crate::pipeline::{DropReason, TokenBucket};
use crate::port::MemPorts;
use crate::punt::PuntQueues;
use crate::stats::channel;
use crate::testkit::*;
use crate::worker::{Worker, WorkerConfig};
use rib::{FibCell, MacAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

const Z: TenantId = TenantId(0);
const Y: TenantId = TenantId(1);

fn worker(slots: usize) -> (Worker<MemPorts>, Arc<PuntQueues>) {
    let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
    let (publisher, _consumer) = channel(0, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let queues = PuntQueues::with_mgmt(8, MgmtQueues::new(2, slots, 16));
    let w =
        Worker::new(WorkerConfig::new(0), MemPorts::new(3, 256), fib, publisher, Some(queues.clone()), stop);
    (w, queues)
}

fn mgmt(q: &PuntQueues) -> &MgmtQueues {
    q.mgmt.as_ref().expect("mgmt queues")
}

fn drain(q: &PuntQueues, t: TenantId) -> Vec<Vec<u8>> {
    let pool = mgmt(q).tenant(t).expect("tenant queue");
    std::iter::from_fn(|| pool.pop().map(|e| e.as_slice().to_vec())).collect()
}

#[test]
fn telnet_ssh_and_snmp_to_a_router_address_are_punted_as_the_bare_ip_packet() {
    let (mut w, q) = worker(8);
    // A SYN is 54 bytes: padded to the 60-byte minimum on the wire, padding not punted.
    let mut syn = tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40000, 23, 7);
    let ip23 = syn[14..].to_vec();
    syn.resize(60, 0);
    let ssh = tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J1, 64, 40001, 22, 8);
    let snmp = udp_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40002, 161, b"\x30\x03\x02\x01\x01");
    for f in [&syn, &ssh, &snmp] {
        w.ports_mut().inject(PORT_A, f).unwrap();
    }
    assert_eq!(w.poll_once(Instant::now()), 3);
    assert_eq!(drain(&q, Z), vec![ip23, ssh[14..].to_vec(), snmp[14..].to_vec()]);
    assert!(drain(&q, Y).is_empty());
    assert!(w.ports_mut().take_tx(PORT_A).is_empty(), "nothing answered by the data plane");
    let c = w.counters();
    assert_eq!((c.mgmt_punted, c.total_drops()), (3, 0));
    assert_eq!(w.ports().free_frames(), 256);
}

#[test]
fn other_ports_and_transit_traffic_behave_as_before() {
    let (mut w, q) = worker(8);
    // TCP to port 80 of the router: dropped as before.
    w.ports_mut().inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40000, 80, 1)).unwrap();
    // UDP to another port: port unreachable as before.
    w.ports_mut().inject(PORT_A, &udp_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40000, 53, b"x")).unwrap();
    // Telnet to a host behind the router is forwarded, not punted.
    w.ports_mut().inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40000, 23, 1)).unwrap();
    w.poll_once(Instant::now());
    assert!(drain(&q, Z).is_empty());
    assert_eq!(
        w.ports_mut().take_tx(PORT_H),
        vec![tcp_syn_frame(MAC_L0, MAC_H, IP_A, IP_H, 62, 40000, 23, 1)]
    );
    let back = w.ports_mut().take_tx(PORT_A);
    assert_eq!(back.len(), 1, "ICMP port unreachable for UDP 53");
    assert_eq!(back[0][14 + 20], 3, "ICMP destination unreachable");
    let c = w.counters();
    assert_eq!(c.drop_count(DropReason::LocalUnsupported), 2);
    assert_eq!(c.mgmt_punted, 0);
}

#[test]
fn a_tenant_flooding_its_queue_leaves_the_other_tenants_queue_usable() {
    let (mut w, q) = worker(4);
    for i in 0..10u32 {
        w.ports_mut()
            .inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 1000 + i as u16, 23, i))
            .unwrap();
    }
    let y_syn = tcp_syn_frame(MAC_B, MAC_Y0, IP_B, IP_Y0, 64, 5555, 23, 99);
    w.ports_mut().inject(PORT_B, &y_syn).unwrap();
    w.poll_once(Instant::now());
    let c = w.counters();
    assert_eq!(c.mgmt_punted, 5);
    assert_eq!(c.drop_count(DropReason::MgmtQueueFull), 6);
    assert_eq!(drain(&q, Y), vec![y_syn[14..].to_vec()], "tenant y's SYN is queued for y");
    let z = drain(&q, Z);
    assert_eq!(z.len(), 4);
    assert_eq!(&z[0][20..22], &1000u16.to_be_bytes(), "the first SYNs are kept, in order");
    // Once z's stack took its packets, z's queue takes new ones again.
    w.ports_mut().inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 2000, 23, 1)).unwrap();
    w.poll_once(Instant::now());
    assert_eq!(drain(&q, Z).len(), 1);
    assert_eq!(w.ports().free_frames(), 256);
}

#[test]
fn the_punt_rate_limit_is_per_tenant() {
    let (mut w, q) = worker(64);
    w.pipeline_mut().set_mgmt_limit(TokenBucket::new(1, 3));
    let t0 = Instant::now();
    for i in 0..10u16 {
        w.ports_mut()
            .inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 1000 + i, 23, 1))
            .unwrap();
    }
    w.ports_mut().inject(PORT_B, &tcp_syn_frame(MAC_B, MAC_Y0, IP_B, IP_Y0, 64, 5555, 22, 1)).unwrap();
    w.poll_once(t0);
    assert_eq!(w.counters().drop_count(DropReason::MgmtRateLimited), 7);
    assert_eq!((drain(&q, Z).len(), drain(&q, Y).len()), (3, 1));
}

#[test]
fn injected_packets_are_routed_in_their_routers_table() {
    let (mut w, q) = worker(4);
    // The stack of tenant z answers A's SYN from J's address (a SYN-ACK, built as a SYN here).
    let reply = tcp_syn_frame(MacAddr::ZERO, MacAddr::ZERO, IP_J0, IP_A, 64, 23, 40000, 5);
    mgmt(&q).send(ROUTER_J, &reply[14..]).unwrap();
    // And one to H through L: J does not count as a hop, L does.
    let to_h = tcp_syn_frame(MacAddr::ZERO, MacAddr::ZERO, IP_J0, IP_H, 64, 23, 40001, 6);
    mgmt(&q).send(ROUTER_J, &to_h[14..]).unwrap();
    assert_eq!(w.poll_once(Instant::now()), 2);
    assert_eq!(
        w.ports_mut().take_tx(PORT_A),
        vec![tcp_syn_frame(MAC_J0, MAC_A, IP_J0, IP_A, 64, 23, 40000, 5)]
    );
    assert_eq!(
        w.ports_mut().take_tx(PORT_H),
        vec![tcp_syn_frame(MAC_L0, MAC_H, IP_J0, IP_H, 63, 23, 40001, 6)]
    );
    assert_eq!(w.counters().mgmt_injected, 2);
    assert_eq!(mgmt(&q).counters.sent.load(Ordering::Relaxed), 2);
    // An injected packet to a router's own management port is not punted back (no loop).
    let own = tcp_syn_frame(MacAddr::ZERO, MacAddr::ZERO, IP_J0, IP_L0, 64, 1, 23, 1);
    mgmt(&q).send(ROUTER_J, &own[14..]).unwrap();
    w.poll_once(Instant::now());
    assert!(drain(&q, Z).is_empty());
    assert_eq!(w.ports().free_frames(), 256);
}

#[test]
fn a_remote_hosts_telnet_over_vxlan_is_punted_and_the_answer_goes_back_encapsulated() {
    let fib = Arc::new(FibCell::new(Arc::new(substrate_fib(None))));
    let (publisher, _consumer) = channel(0, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let q = PuntQueues::with_mgmt(8, MgmtQueues::new(2, 8, 16));
    let mut w =
        Worker::new(WorkerConfig::new(0), MemPorts::new(4, 256), fib, publisher, Some(q.clone()), stop);
    // R (10.9.1.1, on the peer node) opens telnet to its gateway J2 (10.9.1.254).
    let inner = tcp_syn_frame(MAC_R, MAC_J2, IP_R, IP_J2, 64, 40000, 23, 1);
    let outer = vxlan_frame(MAC_PEER, MAC_UP, IP_PEER, IP_VTEP, 7, 50000, 4789, 5001, &inner);
    w.ports_mut().inject(PORT_UP, &outer).unwrap();
    w.poll_once(Instant::now());
    assert_eq!(drain(&q, Z), vec![inner[14..].to_vec()]);
    assert_eq!(w.counters().mgmt_punted, 1);
    // J's stack answers from J2: encapsulated on the tunnel to the peer node, inner frame
    // from J2's MAC to R's with the packet as sent (J does not count as a hop).
    let answer = tcp_syn_frame(MacAddr::ZERO, MacAddr::ZERO, IP_J2, IP_R, 64, 23, 40000, 9);
    mgmt(&q).send(ROUTER_J, &answer[14..]).unwrap();
    w.poll_once(Instant::now());
    let sent = w.ports_mut().take_tx(PORT_UP);
    assert_eq!(sent.len(), 1);
    let expected_inner = tcp_syn_frame(MAC_J2, MAC_R, IP_J2, IP_R, 64, 23, 40000, 9);
    assert_eq!(&sent[0][14 + 20 + 8 + 8..], &expected_inner[..], "inner frame after Ethernet/IP/UDP/VXLAN");
    assert_eq!(&sent[0][30..34], &IP_PEER.octets(), "outer destination: the peer VTEP");
}

#[test]
fn without_management_queues_management_ports_behave_as_before() {
    let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
    let (publisher, _consumer) = channel(0, 8);
    let stop = Arc::new(AtomicBool::new(false));
    let q = PuntQueues::new(8);
    let mut w = Worker::new(WorkerConfig::new(0), MemPorts::new(3, 256), fib, publisher, Some(q), stop);
    w.ports_mut().inject(PORT_A, &tcp_syn_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40000, 23, 1)).unwrap();
    w.ports_mut().inject(PORT_A, &udp_frame(MAC_A, MAC_J0, IP_A, IP_J0, 64, 40000, 161, b"x")).unwrap();
    w.poll_once(Instant::now());
    let c = w.counters();
    assert_eq!((c.mgmt_punted, c.drop_count(DropReason::LocalUnsupported)), (0, 2));
    assert_eq!(c.drop_count(DropReason::MgmtQueueFull), 0);
    assert_eq!(w.ports_mut().take_tx(PORT_A).len(), 1, "UDP 161 gets port unreachable as before");
}
