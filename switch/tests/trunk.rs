//! Trunks in memory: the default topology with ports `a` (tenant z) and `b` (tenant y) on ONE
//! device as VLANs 10 and 20 — both tenants use 10.0.0.0/24 with host 10.0.0.10 and gateway
//! 10.0.0.1. One burst received on the trunk is demultiplexed by VLAN to the two logical
//! ports; what each tenant gets back is tagged with its own VLAN and comes from its own
//! router; untagged and unknown-VLAN frames are dropped and counted. Frames compared as bytes.

use rib::{FibCell, MacAddr};
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;
use switch::pipeline::DropReason;
use switch::port::MemPorts;
use switch::stats::channel;
use switch::testkit::*;
use switch::trunk::RxPlan;
use switch::worker::{Worker, WorkerConfig};

const A_LINE: &str = r#"(name: "a", device: "vns-a-sw", role: Access(tenant: "z", subnet: "10.0.0.0/24")),"#;
const B_LINE: &str = r#"(name: "b", device: "vns-b-sw", role: Access(tenant: "y", subnet: "10.0.0.0/24")),"#;

fn trunk_topology() -> rib::topology::Topology {
    let text = std::fs::read_to_string("../topologies/default.ron").expect("default.ron");
    assert!(text.contains(A_LINE) && text.contains(B_LINE));
    let text = text
        .replacen(A_LINE, &A_LINE.replace("vns-a-sw", "vns-tr").replace("\")),", "\", vlan: 10)),"), 1)
        .replacen(B_LINE, &B_LINE.replace("vns-b-sw", "vns-tr").replace("\")),", "\", vlan: 20)),"), 1);
    rib::topology::parse(&text, Path::new("trunk.ron")).expect("trunk topology loads")
}

/// `frame` with an 802.1Q tag for `vid` inserted after the MACs.
fn tagged(frame: &[u8], vid: u16) -> Vec<u8> {
    let mut f = frame[..12].to_vec();
    f.extend_from_slice(&[0x81, 0x00]);
    f.extend_from_slice(&vid.to_be_bytes());
    f.extend_from_slice(&frame[12..]);
    f
}

fn worker(topo: &rib::topology::Topology) -> Worker<MemPorts> {
    worker_n(topo, 2)
}

/// A worker over `topo` on in-memory ports, receiving from `devices` devices (one a trunk).
fn worker_n(topo: &rib::topology::Topology, devices: usize) -> Worker<MemPorts> {
    let fib = rib::rib::compile_snapshot(topo).expect("compiles");
    let plan =
        RxPlan::from_devices(&topo.ports.iter().map(|p| (p.device.clone(), p.vlan())).collect::<Vec<_>>());
    assert_eq!(plan.trunks(), 1);
    assert_eq!(plan.sources.len(), devices);
    let (publisher, _consumer) = channel(0, 4);
    let stop = Arc::new(AtomicBool::new(false));
    Worker::new(
        WorkerConfig::new(0),
        MemPorts::new(topo.ports.len(), 256),
        Arc::new(FibCell::new(Arc::new(fib))),
        publisher,
        None,
        stop,
    )
    .with_rx_plan(plan)
}

#[test]
fn one_burst_on_a_trunk_reaches_each_tenant_on_its_vlan_only() {
    let topo = trunk_topology();
    let (pa, pb) = (id(&topo, "a"), id(&topo, "b"));
    let ph = id(&topo, "h");
    let mut w = worker(&topo);
    let gw = Ipv4Addr::new(10, 0, 0, 1);
    // One burst, interleaved: z's ARP, y's ARP, z's echo to H, y's echo to its gateway,
    // untagged, VLAN 30, z's echo to its gateway. All arrive on the trunk's socket (port a).
    let arp_z = tagged(&arp_request(MAC_A, IP_A, gw), 10);
    let arp_y = tagged(&arp_request(MAC_B, IP_B, gw), 20);
    let z_to_h = echo_request(MAC_A, MAC_J0, Some(10), IP_A, IP_H, 64, 0x1111, 1, 8);
    let y_to_gw = echo_request(MAC_B, MAC_Y0, Some(20), IP_B, gw, 64, 0x2222, 2, 8);
    let untagged = echo_request(MAC_A, MAC_J0, None, IP_A, gw, 64, 0x3333, 3, 8);
    let vlan30 = echo_request(MAC_A, MAC_J0, Some(30), IP_A, gw, 64, 0x4444, 4, 8);
    let z_to_gw = echo_request(MAC_A, MAC_J0, Some(10), IP_A, gw, 64, 0x5555, 5, 8);
    for f in [&arp_z, &arp_y, &z_to_h, &y_to_gw, &untagged, &vlan30, &z_to_gw] {
        w.ports_mut().inject(pa, f).expect("inject");
    }
    let got = w.poll_once(Instant::now());
    assert_eq!(got, 7);

    // Tenant z (VLAN 10): J's ARP reply and J's echo reply, both tagged 10.
    let out_a = w.ports_mut().take_tx(pa);
    assert_eq!(out_a.len(), 2, "{out_a:02x?}");
    let arp_reply_z: Vec<u8> = [
        &MAC_A.0[..],
        &MAC_J0.0,
        &[0x81, 0x00, 0x00, 10],
        &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02],
        &MAC_J0.0,
        &[10, 0, 0, 1],
        &MAC_A.0,
        &[10, 0, 0, 10],
    ]
    .concat();
    assert_eq!(out_a[0], arp_reply_z);
    let echo_reply_z = &out_a[1];
    assert_eq!(&echo_reply_z[..16], &[&MAC_A.0[..], &MAC_J0.0, &[0x81, 0x00, 0x00, 10]].concat()[..]);
    assert_eq!(echo_reply_z[18 + 20], 0, "ICMP echo reply");
    assert_eq!(&echo_reply_z[18 + 24..18 + 26], &[0x55, 0x55], "the reply to z's own echo");

    // Tenant y (VLAN 20): its router's ARP reply and echo reply, tagged 20, never z's.
    let out_b = w.ports_mut().take_tx(pb);
    assert_eq!(out_b.len(), 2, "{out_b:02x?}");
    let y_mac = MacAddr(out_b[0][6..12].try_into().expect("6 bytes"));
    assert_eq!(y_mac, MAC_Y0);
    assert_ne!(y_mac, MAC_J0);
    assert_eq!(&out_b[0][12..16], &[0x81, 0x00, 0x00, 20]);
    assert_eq!(&out_b[0][16..18], &[0x08, 0x06]);
    assert_eq!(&out_b[1][..16], &[&MAC_B.0[..], &MAC_Y0.0, &[0x81, 0x00, 0x00, 20]].concat()[..]);
    assert_eq!(&out_b[1][18 + 24..18 + 26], &[0x22, 0x22], "the reply to y's own echo");

    // z's echo to H left untagged on h, TTL 62 after two logical routers.
    let out_h = w.ports_mut().take_tx(ph);
    assert_eq!(out_h.len(), 1);
    assert_eq!(&out_h[0][12..14], &[0x08, 0x00]);
    assert_eq!(out_h[0][14 + 8], 62);

    let c = w.counters();
    assert_eq!(c.drop_count(DropReason::TrunkUntagged), 1);
    assert_eq!(c.drop_count(DropReason::TrunkUnknownVlan), 1);
    assert_eq!(c.total_drops(), 2, "{:?}", c.drops_named());
    // Per logical port: a got z's 3 frames, b got y's 2; the dropped 2 are no port's.
    assert_eq!((c.port(pa.index()).rx_packets, c.port(pb.index()).rx_packets), (3, 2));
    assert_eq!(c.tenant(0).rx_packets, 3, "tenant z");
    assert_eq!(c.tenant(1).rx_packets, 2, "tenant y");
    assert_eq!(w.ports().free_frames(), w.ports().frame_count(), "every frame back in the pool");
}

/// A frame for y's VLAN carrying z's gateway MAC or a spoofed tag never reaches z.
#[test]
fn a_tenant_cannot_reach_another_through_the_trunk() {
    let topo = trunk_topology();
    let (pa, pb) = (id(&topo, "a"), id(&topo, "b"));
    let ph = id(&topo, "h");
    let mut w = worker(&topo);
    // y's host sends toward H (tenant z's host) on its own VLAN: y has no route there.
    let y_to_h = echo_request(MAC_B, MAC_Y0, Some(20), IP_B, IP_H, 64, 0x6666, 6, 8);
    // y's host addresses z's gateway MAC on y's VLAN: not y's gateway, dropped.
    let y_to_j = echo_request(MAC_B, MAC_J0, Some(20), IP_B, IP_H, 64, 0x7777, 7, 8);
    for f in [&y_to_h, &y_to_j] {
        w.ports_mut().inject(pa, f).expect("inject");
    }
    w.poll_once(Instant::now());
    assert!(w.ports_mut().take_tx(ph).is_empty(), "nothing reaches tenant z's host H");
    assert!(w.ports_mut().take_tx(pa).is_empty(), "nothing on z's VLAN");
    let to_y = w.ports_mut().take_tx(pb);
    // At most an ICMP unreachable back to y, on y's VLAN.
    for f in &to_y {
        assert_eq!(&f[12..16], &[0x81, 0x00, 0x00, 20], "{f:02x?}");
    }
    assert_eq!(w.counters().drop_count(DropReason::NotOurMac), 1);
}

fn id(topo: &rib::topology::Topology, name: &str) -> rib::PortId {
    topo.port_by_name(name).map(|p| p.id).expect("port")
}

/// The topology `scripts/gen-topology --tenants N --trunk` writes (tenant t<i> on VLAN i,
/// router MAC 02:01:00:HH:LL:01, host 10.0.0.10), built here without Python.
fn generated_trunk(n: u16) -> rib::topology::Topology {
    let mut ports = String::new();
    let mut tenants = String::new();
    for i in 1..=n {
        let (hi, lo) = (i >> 8, i & 255);
        ports.push_str(&format!(
            "(name: \"t{i}\", device: \"vns-tk\", role: Access(tenant: \"t{i}\", subnet: \"10.0.0.0/24\", vlan: {i})),\n"
        ));
        tenants.push_str(&format!(
            "(name: \"t{i}\", vni: {}, subnets: [\"10.0.0.0/24\"], routers: [(name: \"R{i}\", interfaces: \
             [(name: \"Gi0/0\", address: \"10.0.0.1\", subnet: \"10.0.0.0/24\", mac: \"02:01:00:{hi:02x}:{lo:02x}:01\")])], \
             hosts: [(name: \"h{i}\", address: \"10.0.0.10\", mac: \"02:02:00:{hi:02x}:{lo:02x}:10\", port: \"t{i}\")]),\n",
            100_000 + u32::from(i)
        ));
    }
    let text = format!("(hostname: \"trunk\", ports: [\n{ports}], tenants: [\n{tenants}])\n");
    rib::topology::parse(&text, Path::new("trunk-gen.ron")).expect("generated trunk topology loads")
}

/// 1000 tenants on one trunk, all with the same addresses: one burst with an ARP request from
/// tenants 1, 500 and 1000 gets each its own router's answer on its own VLAN, counted in its
/// own tenant's and port's slots (the counter tables hold all 1000).
#[test]
fn a_thousand_tenants_with_one_address_each_get_their_own_router() {
    let topo = generated_trunk(1000);
    assert_eq!((topo.tenants.len(), topo.ports.len()), (1000, 1000));
    let mut w = worker_n(&topo, 1);
    let gw = Ipv4Addr::new(10, 0, 0, 1);
    let host_mac = |i: u16| MacAddr([0x02, 0x02, 0x00, (i >> 8) as u8, (i & 255) as u8, 0x10]);
    let router_mac = |i: u16| MacAddr([0x02, 0x01, 0x00, (i >> 8) as u8, (i & 255) as u8, 0x01]);
    let via = id(&topo, "t1");
    for i in [1u16, 500, 1000] {
        w.ports_mut().inject(via, &tagged(&arp_request(host_mac(i), IP_A, gw), i)).expect("inject");
    }
    assert_eq!(w.poll_once(Instant::now()), 3);
    for i in [1u16, 500, 1000] {
        let port = id(&topo, &format!("t{i}"));
        let out = w.ports_mut().take_tx(port);
        assert_eq!(out.len(), 1, "tenant {i}: {out:02x?}");
        let f = &out[0];
        assert_eq!(&f[..6], &host_mac(i).0, "to tenant {i}'s host");
        assert_eq!(&f[6..12], &router_mac(i).0, "from tenant {i}'s own router");
        assert_eq!(&f[12..16], &[0x81, 0x00, (i >> 8) as u8, (i & 255) as u8], "on VLAN {i}");
        assert_eq!(&f[18 + 14..18 + 18], &[10, 0, 0, 1], "the sender is the gateway");
        let c = w.counters();
        assert_eq!(c.tenant(usize::from(i) - 1).rx_packets, 1, "tenant t{i}'s own slot");
        assert_eq!(c.port(port.index()).tx_packets, 1);
    }
    assert!(w.counters().tenants.len() >= 1000 && w.counters().ports.len() >= 1000);
    assert_eq!(w.counters().total_drops(), 0, "{:?}", w.counters().drops_named());
}
