//! Root-only tests of the AF_XDP backend on real veth pairs inside namespaces this test
//! creates (unique names, removed by a Drop guard): error reporting, and a two-port L2 relay
//! sharing one UMEM that must carry real pings between two namespaces.

use super::*;
use crate::port::{FrameBuf, Ports};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn must(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("spawn");
    assert!(out.status.success(), "{:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
}

/// One namespace with a veth whose outer end (`outer`) stays in the root namespace without
/// addresses. Removed on drop.
struct NsVeth {
    ns: String,
    outer: String,
}

impl NsVeth {
    fn new(ns: &str, outer: &str, addr: &str, queues: u32) -> NsVeth {
        let guard = NsVeth { ns: ns.to_string(), outer: outer.to_string() };
        guard.cleanup();
        let q = queues.to_string();
        must(&["ip", "netns", "add", ns]);
        must(&[
            "ip",
            "link",
            "add",
            outer,
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "numtxqueues",
            &q,
            "numrxqueues",
            &q,
            "netns",
            ns,
        ]);
        must(&["ip", "link", "set", "dev", outer, "addrgenmode", "none"]);
        must(&["ip", "link", "set", "dev", outer, "up"]);
        must(&["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        must(&["ip", "-n", ns, "addr", "add", addr, "dev", "eth0"]);
        must(&["ip", "-n", ns, "link", "set", "eth0", "up"]);
        must(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        must(&["ip", "netns", "exec", ns, "ethtool", "-K", "eth0", "tx", "off"]);
        guard
    }
    fn cleanup(&self) {
        sh(&["ip", "link", "del", &self.outer]);
        sh(&["ip", "netns", "del", &self.ns]);
    }
}

impl Drop for NsVeth {
    fn drop(&mut self) {
        self.cleanup();
    }
}

fn unique(tag: &str) -> String {
    // <= 15 chars: "x" + tag(2) + pid (<= 7 digits) + suffix (<= 2)
    format!("x{tag}{}", std::process::id() % 10_000_000)
}

#[test]
fn a_bad_device_name_is_a_clear_error_naming_the_port() {
    let err = XskPorts::open(&[("uplink".into(), "bad/name".into())], 0, &XskConfig::default())
        .expect_err("must fail");
    let msg = err.to_string();
    assert!(matches!(err, XskError::BadName { .. }), "{msg}");
    assert!(msg.contains("uplink") && msg.contains("bad/name"), "{msg}");
}

#[test]
fn umem_is_sized_by_need() {
    let cfg = XskConfig::default();
    // Few ports: full rings (2 x 4096 frames per port).
    assert_eq!(UmemSizes::for_ports(2, &cfg), UmemSizes { ring_size: 4096, frames: 16384 });
    // Many ports (a trunk of 1000 tenants' VLANs is one port, but 1000 access ports are
    // not): rings shrink, the UMEM stays within the budget instead of 16 MiB per port.
    let many = UmemSizes::for_ports(100, &cfg);
    assert!(many.frames <= UMEM_BUDGET_FRAMES && many.ring_size >= MIN_RING, "{many:?}");
    assert_eq!(many.ring_size, 128);
    let huge = UmemSizes::for_ports(1000, &cfg);
    assert_eq!(huge.ring_size, MIN_RING);
}

#[test]
#[ignore = "needs root: network namespaces and veth queues"]
fn missing_queue_leaves_the_port_down_with_the_reason() {
    assert!(is_root(), "needs root (AF_XDP, network namespaces): run sudo scripts/test");
    quiet_libxdp();
    let base = unique("q");
    let _lab = NsVeth::new(&format!("{base}n"), &format!("{base}o"), "10.99.9.1/24", 1);
    let set = XskPorts::open(&[("p".into(), format!("{base}o"))], 3, &XskConfig::default())
        .expect("a port that cannot attach does not fail the set");
    assert_eq!(set.link_down(0), Some(LinkDown::QueueMissing { available: 1 }));
    assert!(!set.link_up(PortId(0)));
}

/// A trunk: two logical ports on one device share ONE socket; link state goes to both, and
/// a frame sent on either port leaves through that socket.
#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn ports_of_a_trunk_share_their_device_socket() {
    assert!(is_root(), "needs root (AF_XDP, network namespaces): run sudo scripts/test");
    quiet_libxdp();
    let base = unique("k");
    let outer = format!("{base}o");
    // Before the device exists: one slot, both ports down for the same reason.
    let ports = [
        ("t10".to_string(), outer.clone()),
        ("t20".to_string(), outer.clone()),
        ("x".into(), format!("{base}m")),
    ];
    let set = XskPorts::open(&ports, 0, &XskConfig::default()).expect("open");
    assert_eq!((set.port_count(), set.device_count()), (3, 2));
    assert_eq!(set.link_down(0), Some(LinkDown::DeviceMissing));
    assert_eq!(set.link_down(1), Some(LinkDown::DeviceMissing));
    drop(set);

    let _lab = NsVeth::new(&format!("{base}n"), &outer, "10.99.8.1/24", 1);
    let mut set = XskPorts::open(&ports, 0, &XskConfig::default()).expect("open");
    let board = crate::port::LinkBoard::new(3);
    set.set_link_board(board.clone());
    assert!(set.link_up(PortId(0)) && set.link_up(PortId(1)));
    assert_eq!((board.get(0), board.get(1)), (None, None), "both ports of the trunk are up");
    assert_eq!(board.get(2), Some(LinkDown::DeviceMissing));
    assert_eq!(set.mode(0), set.mode(1));
    assert_eq!(set.port_name(1), Some(("t20", outer.as_str())));
    // Both logical ports see the shared ring's room (the egress scheduler asks per port).
    assert_eq!(set.tx_room(PortId(0), 8), 8);
    assert_eq!(set.tx_room(PortId(1), 8), 8, "the second VLAN of a trunk has the device's ring");
    // A tagged broadcast ARP sent on port t20 leaves through the shared socket.
    let mut d = set.alloc().expect("free frame");
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x20, 0x81, 0x00, 0x00, 20, 0x08, 0x06]);
    frame.extend_from_slice(&[
        0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x20, 10, 99, 8, 2, 0, 0, 0, 0, 0, 0, 10, 99, 8, 1,
    ]);
    assert!(set.set_len(&mut d, frame.len()));
    set.data_mut(&d).copy_from_slice(&frame);
    assert_eq!(set.tx_burst(PortId(1), &[d]), 1);
    let deadline = Instant::now() + Duration::from_secs(2);
    while set.counters(0).tx_frames == 0 && Instant::now() < deadline {
        set.service();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(set.counters(0).tx_frames, 1, "counted on the device both ports share");
    assert_eq!(set.counters(1), set.counters(0));
    // The frame comes back to the free pool through the shared completion ring.
    let before = set.free_frames();
    let deadline = Instant::now() + Duration::from_secs(2);
    while set.free_frames() == before && Instant::now() < deadline {
        set.service();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(set.free_frames() > before, "completion returned the frame");
}

/// Issue 11 item 2: a missing device used to fail `open` (and `vnswitch run` with it). Now
/// the port starts down, attaches when its device appears, and goes down again (its frames
/// taken back) when the device is removed, while the other ports keep forwarding.
#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn ports_come_and_go_with_their_devices_and_the_others_keep_forwarding() {
    quiet_libxdp();
    assert!(is_root(), "needs root (AF_XDP, network namespaces): run sudo scripts/test");
    let base = unique("d");
    let (d1, d2, d3) = (format!("{base}A"), format!("{base}B"), format!("{base}C"));
    let l1 = NsVeth::new(&format!("{base}a"), &d1, "10.99.0.1/24", 1);
    let l2 = NsVeth::new(&format!("{base}b"), &d2, "10.99.0.2/24", 1);
    let cfg = XskConfig { mode: XdpMode::Generic, ring_size: 512, frame_size: 2048 };
    let ports = [("a".to_string(), d1.clone()), ("b".to_string(), d2.clone()), ("c".to_string(), d3.clone())];
    let mut set = XskPorts::open(&ports, 0, &cfg).expect("starts without device c");
    let board = LinkBoard::new(3);
    set.set_link_board(board.clone());
    assert_eq!((set.link_down(0), set.link_down(1)), (None, None));
    assert_eq!(board.get(2), Some(LinkDown::DeviceMissing));
    let l3 = NsVeth::new(&format!("{base}c"), &d3, "10.99.0.3/24", 1);
    set.maintain();
    assert_eq!(board.get(2), None, "attached once the device appeared");
    assert!(set.link_up(PortId(2)));
    let capacity = set.frame_capacity();
    assert_eq!(set.free_frames() + 3 * 512, capacity);

    let stop = Arc::new(AtomicBool::new(false));
    let relay = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut batch = vec![XskDesc::default(); 64];
            let mut last = Instant::now();
            while !stop.load(Ordering::Relaxed) {
                for port in 0..3u16 {
                    let n = set.rx_burst(PortId(port), &mut batch);
                    match port {
                        0 | 1 => {
                            set.tx_burst(PortId(1 - port), &batch[..n]);
                        }
                        _ => set.recycle(&batch[..n]),
                    }
                }
                set.service();
                if last.elapsed() > Duration::from_millis(100) {
                    last = Instant::now();
                    set.maintain();
                }
                set.idle_wait(Duration::from_millis(1));
            }
            std::thread::sleep(Duration::from_millis(20));
            set.service();
            set
        })
    };
    let ping = |n: &str| {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &format!("{base}a"),
                "ping",
                "-c",
                n,
                "-i",
                "0.2",
                "-W",
                "2",
                "10.99.0.2",
            ])
            .output()
            .expect("ping");
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let before = ping("3");
    drop(l3); // device c goes away while the relay runs
    std::thread::sleep(Duration::from_millis(400));
    let down = board.get(2);
    let after = ping("3");
    stop.store(true, Ordering::Relaxed);
    let set = relay.join().expect("relay thread");
    drop((l1, l2));
    assert!(before.contains("3 received"), "{before}");
    assert_eq!(down, Some(LinkDown::DeviceRemoved));
    assert!(after.contains("3 received"), "forwarding on the other ports goes on: {after}");
    assert!(!set.link_up(PortId(2)));
    // Port c's frames came back: only ports a and b's fill rings (and a few in flight) are out.
    assert!(set.free_frames() + 2 * 512 >= capacity - 64, "free {} of {capacity}", set.free_frames());
}

/// Receives datagrams on 10.99.0.2:9000 until 1.5 s of silence after the first one (which may
/// take up to 15 s on a loaded machine); prints "COUNT INTACT".
const UDP_RECEIVER: &str = r#"
import socket
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,8<<20)
s.bind(('10.99.0.2',9000)); s.settimeout(15)
n=ok=0
try:
    while True:
        d=s.recv(2048); n+=1; s.settimeout(1.5)
        i=int(d[:8]); ok+= d==b'%08d'%i+bytes([i%251])*200
except socket.timeout: pass
print(n,ok)
"#;

/// Sends 3000 numbered datagrams in bursts of 100.
const UDP_SENDER: &str = r#"
import socket,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
for i in range(3000):
    s.sendto(b'%08d'%i+bytes([i%251])*200,('10.99.0.2',9000))
    if i%100==99: time.sleep(0.003)
"#;

/// libbpf/libxdp are chatty on stderr without bpffs; the binary sets the same in `main`.
fn quiet_libxdp() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("LIBBPF_LOG_LEVEL", "warn");
        std::env::set_var("LIBXDP_SKIP_DISPATCHER", "1");
    });
}

/// `shift`: the relay moves every packet `shift` bytes back into the headroom before sending
/// it (same bytes, descriptor address `shift` bytes before where it was received), so the
/// peer only sees intact frames if TX honours descriptors at any address in a frame.
fn relay_ping(mode: XdpMode, tag: &str, shift: usize) {
    quiet_libxdp();
    assert!(is_root(), "needs root (AF_XDP, network namespaces): run sudo scripts/test");
    let base = unique(tag);
    let (ns1, ns2) = (format!("{base}a"), format!("{base}b"));
    let (d1, d2) = (format!("{base}A"), format!("{base}B"));
    let l1 = NsVeth::new(&ns1, &d1, "10.99.0.1/24", 2);
    let l2 = NsVeth::new(&ns2, &d2, "10.99.0.2/24", 2);
    let cfg = XskConfig { mode, ring_size: 512, frame_size: 2048 };
    // Queue 0 and queue 1: two workers, each with its own UMEM over both ports.
    let mut sets = Vec::new();
    for q in 0..2 {
        let set = XskPorts::open(&[("a".into(), d1.clone()), ("b".into(), d2.clone())], q, &cfg)
            .unwrap_or_else(|e| panic!("open queue {q}: {e}"));
        if mode != XdpMode::Auto {
            assert_eq!(set.mode(0), Some(mode));
        }
        assert_eq!(set.free_frames() + 2 * 512, set.frame_capacity());
        sets.push(set);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = sets
        .into_iter()
        .map(|mut set| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut batch = vec![XskDesc::default(); 64];
                let mut forwarded = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut got = 0;
                    for port in 0..2u16 {
                        let n = set.rx_burst(PortId(port), &mut batch);
                        got += n;
                        for d in &mut batch[..n] {
                            if shift == 0 {
                                break;
                            }
                            let len = set.len(d);
                            assert!(set.headroom(d) >= 256, "received packets keep the XDP headroom");
                            assert!(set.adjust_head(d, -(shift as isize)));
                            set.data_mut(d).copy_within(shift..shift + len, 0);
                            assert!(set.set_len(d, len));
                        }
                        // Frames move to the other port untouched: same UMEM, no copy.
                        let sent = set.tx_burst(PortId(1 - port), &batch[..n]);
                        forwarded += sent as u64;
                    }
                    set.service();
                    if got == 0 {
                        set.idle_wait(Duration::from_millis(1));
                    }
                }
                let total = set.frame_capacity();
                std::thread::sleep(Duration::from_millis(20));
                set.service();
                (forwarded, set.free_frames(), total, set.counters(0), set.counters(1))
            })
        })
        .collect();

    let start = Instant::now();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns1, "ping", "-c", "5", "-i", "0.2", "-W", "2", "10.99.0.2"])
        .output()
        .expect("ping");
    let ok = out.status.success();
    // A burst of UDP datagrams (bursts of 100, more than one kernel tx batch of 32): every
    // one must arrive intact, so leftovers in a tx ring are never stranded.
    let rx = Command::new("ip")
        .args(["netns", "exec", &ns2, "timeout", "40", "python3", "-c", UDP_RECEIVER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("receiver");
    std::thread::sleep(Duration::from_millis(400));
    let tx = Command::new("ip")
        .args(["netns", "exec", &ns1, "timeout", "20", "python3", "-c", UDP_SENDER])
        .output()
        .expect("sender");
    let rx = rx.wait_with_output().expect("receiver output");
    let received = String::from_utf8_lossy(&rx.stdout).trim().to_string();
    stop.store(true, Ordering::Relaxed);
    let mut forwarded = 0;
    for h in handles {
        let (f, free, total, c0, c1) = h.join().expect("relay thread");
        forwarded += f;
        // Every frame is accounted for: in the fill rings or free (nothing leaked).
        assert!(free + 2 * 512 >= total - 64, "frames leaked: free {free} of {total}, {c0:?} {c1:?}");
    }
    // Every socket is closed: the redirect program must be gone from both devices.
    for dev in [&d1, &d2] {
        let out = Command::new("ip").args(["-d", "link", "show", "dev", dev]).output().expect("ip link");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(!text.contains("prog/xdp"), "XDP program still attached to {dev}: {text}");
    }
    drop((l1, l2));
    assert!(
        ok,
        "ping through the AF_XDP relay failed after {:?}:\n{}",
        start.elapsed(),
        String::from_utf8_lossy(&out.stdout)
    );
    // ARP request + reply and 5 echo request/reply pairs at least.
    assert!(forwarded >= 12, "forwarded only {forwarded} frames");
    assert!(String::from_utf8_lossy(&out.stdout).contains("5 received"));
    assert!(tx.status.success(), "sender: {}", String::from_utf8_lossy(&tx.stderr));
    assert_eq!(received, "3000 3000", "datagrams received / intact of 3000");
}

#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn relay_between_two_ports_generic_mode() {
    relay_ping(XdpMode::Generic, "g", 0);
}

#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn relay_sends_packets_from_inside_the_headroom() {
    relay_ping(XdpMode::Generic, "s", 50);
}

#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn relay_between_two_ports_native_mode() {
    relay_ping(XdpMode::Native, "n", 0);
}

/// MAC of a device, from sysfs or `ip -n NS`.
fn mac_of(ns: Option<&str>, dev: &str) -> rib::MacAddr {
    let text = match ns {
        None => std::fs::read_to_string(format!("/sys/class/net/{dev}/address")).expect("sysfs address"),
        Some(ns) => {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "cat", &format!("/sys/class/net/{dev}/address")])
                .output()
                .expect("ip netns exec");
            String::from_utf8_lossy(&out.stdout).to_string()
        }
    };
    let b: Vec<u8> = text.trim().split(':').map(|x| u8::from_str_radix(x, 16).expect("hex")).collect();
    rib::MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// Runs `cmd` in namespace `ns`; returns (success, stdout).
fn in_ns(ns: &str, cmd: &[&str]) -> (bool, String) {
    let out = Command::new("ip").args(["netns", "exec", ns]).args(cmd).output().expect("ip netns exec");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string())
}

/// Interop with a Linux VXLAN device: a namespace plays a remote substrate node (VTEP
/// 172.31.250.2 on its veth) holding tenant host R (10.9.1.1 on `vxlan0`, VNI 5001, UDP
/// 4789); another namespace is local host A (10.0.0.10) on an access port. One worker serves
/// both veths (the uplink is our VTEP 172.31.250.1). R's ping to its gateway 10.9.1.254
/// (router J) needs our answer to the node's substrate ARP for our VTEP, decapsulation of
/// R's ARP for its gateway and our encapsulated reply, then the echo exchange. A's ping to R
/// crosses J (TTL - 1) encapsulated and comes back decapsulated; R's TTL-1 ping to A gets
/// time exceeded from its gateway, encapsulated. The Linux VXLAN device must accept all of
/// our frames and we all of its.
#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn linux_vxlan_host_talks_to_local_host_and_gateway_through_the_overlay() {
    use crate::stats::channel;
    use crate::testkit::{TableBuilder, MAC_J0, MAC_J2, MAC_R};
    use crate::worker::{Worker, WorkerConfig};
    use rib::fib::{PortKind, TenantEntry};
    use rib::{
        Adjacency, FibCell, FibSnapshot, HopPath, NodeId, Plane, PortEntry, RemoteHost, RouterId,
        ServiceLevel, TableId, TenantId, Tunnel, TunnelId, TunnelPath,
    };
    use std::net::Ipv4Addr;
    quiet_libxdp();
    assert!(is_root(), "needs root (AF_XDP, network namespaces): run sudo scripts/test");
    let base = unique("v");
    let (ns, dev) = (format!("{base}n"), format!("{base}u"));
    let (ns_a, dev_a) = (format!("{base}a"), format!("{base}A"));
    let lab = NsVeth::new(&ns, &dev, "172.31.250.2/24", 1);
    let lab_a = NsVeth::new(&ns_a, &dev_a, "10.0.0.10/24", 1);
    must(&["ip", "-n", &ns_a, "route", "add", "default", "via", "10.0.0.1"]);
    must(&[
        "ip",
        "-n",
        &ns,
        "link",
        "add",
        "vxlan0",
        "address",
        "00:16:3e:00:09:01",
        "type",
        "vxlan",
        "id",
        "5001",
        "local",
        "172.31.250.2",
        "remote",
        "172.31.250.1",
        "dstport",
        "4789",
        "dev",
        "eth0",
    ]);
    must(&["ip", "-n", &ns, "addr", "add", "10.9.1.1/24", "dev", "vxlan0"]);
    must(&["ip", "-n", &ns, "link", "set", "vxlan0", "up"]);
    must(&["ip", "-n", &ns, "route", "add", "10.0.0.0/24", "via", "10.9.1.254"]);
    let up_mac = mac_of(None, &dev);
    let peer_mac = mac_of(Some(&ns), "eth0");
    let a_mac = mac_of(Some(&ns_a), "eth0");
    assert_eq!(mac_of(Some(&ns), "vxlan0"), MAC_R);

    let (local, remote) = (Ipv4Addr::new(172, 31, 250, 1), Ipv4Addr::new(172, 31, 250, 2));
    let (r_ip, gw) = (Ipv4Addr::new(10, 9, 1, 1), Ipv4Addr::new(10, 9, 1, 254));
    let j_a = Ipv4Addr::new(10, 0, 0, 1);
    let (up, port_a) = (PortId(0), PortId(1));
    let one_hop = |addr| {
        let mut p = HopPath::EMPTY;
        p.push(RouterId(0), addr);
        p
    };
    let local_j = Adjacency::Local { router: RouterId(0), path: HopPath::EMPTY };
    let mut j = TableBuilder::default();
    j.route("10.9.1.254/32".parse().expect("prefix"), local_j);
    j.route("10.0.0.1/32".parse().expect("prefix"), local_j);
    j.route(
        "10.9.1.1/32".parse().expect("prefix"),
        Adjacency::Encap {
            tunnel: TunnelId(0),
            vni: 5001,
            inner_src_mac: MAC_J2,
            inner_dst_mac: MAC_R,
            path: one_hop(j_a),
        },
    );
    j.route(
        "10.0.0.10/32".parse().expect("prefix"),
        Adjacency::Deliver { port: port_a, vlan: None, src_mac: MAC_J0, dst_mac: a_mac, path: one_hop(gw) },
    );
    let fib = FibSnapshot {
        generation: 1,
        ports: vec![
            PortEntry {
                name: "up".into(),
                up: true,
                kind: PortKind::Uplink {
                    address: local,
                    mac: up_mac,
                    gateway: None,
                    plane: Plane::Fast,
                    mtu: 1500,
                },
            },
            PortEntry {
                name: "a".into(),
                up: true,
                kind: PortKind::Access {
                    tenant: TenantId(0),
                    vlan: None,
                    table: TableId(0),
                    router: RouterId(0),
                    gateway_ip: j_a,
                    gateway_mac: MAC_J0,
                    subnet: "10.0.0.0/24".parse().expect("prefix"),
                },
            },
        ],
        tenants: vec![TenantEntry { name: "z".into(), vni: 5001, service_level: ServiceLevel::Gold }],
        tables: vec![Arc::new(j.build(TenantId(0), RouterId(0)))],
        vni_map: vec![(5001, TenantId(0), TableId(0))],
        tunnels: vec![Tunnel {
            tenant: TenantId(0),
            node: NodeId(1),
            path: Some(TunnelPath {
                port: up,
                plane: Plane::Fast,
                local_ip: local,
                remote_ip: remote,
                src_mac: up_mac,
                dst_mac: Some(peer_mac),
                inner_mtu: 1450,
            }),
        }],
        vteps: vec![(remote, NodeId(1))],
        remote_hosts: vec![RemoteHost {
            tenant: TenantId(0),
            ip: r_ip,
            mac: MAC_R,
            node: NodeId(1),
            router: RouterId(0),
            table: TableId(0),
            gateway_ip: gw,
            gateway_mac: MAC_J2,
        }],
        port_shapes: Vec::new(),
        tenant_shapes: Vec::new(),
        redirects: Vec::new(),
    };
    let cfg = XskConfig { mode: XdpMode::Generic, ring_size: 512, frame_size: 2048 };
    let set = XskPorts::open(&[("up".into(), dev.clone()), ("a".into(), dev_a.clone())], 0, &cfg)
        .expect("open ports");
    let (publisher, _consumer) = channel(0, 64);
    let stop = Arc::new(AtomicBool::new(false));
    let fib = Arc::new(FibCell::new(Arc::new(fib)));
    let worker = Worker::new(WorkerConfig::new(0), set, fib, publisher, None, stop.clone());
    let handle = worker.spawn().expect("spawn worker");
    let ping = |ns: &str, args: &[&str]| {
        let mut cmd = vec!["ping", "-c", "3", "-i", "0.2", "-W", "2"];
        cmd.extend_from_slice(args);
        in_ns(ns, &cmd)
    };
    let to_gw = ping(&ns, &["10.9.1.254"]);
    let a_to_r = ping(&ns_a, &["10.9.1.1"]);
    let r_to_a = ping(&ns, &["10.0.0.10"]);
    let expired = in_ns(&ns, &["ping", "-c", "1", "-t", "1", "-W", "2", "10.0.0.10"]);
    let neigh = in_ns(&ns, &["ip", "neigh", "show"]).1.to_lowercase();
    stop.store(true, Ordering::Relaxed);
    let set = handle.join().expect("worker");
    drop(set);
    drop((lab, lab_a));
    println!("{}{}{}{}", to_gw.1, a_to_r.1, r_to_a.1, expired.1);
    assert!(neigh.contains("172.31.250.1") && neigh.contains(&up_mac.to_string().to_lowercase()), "{neigh}");
    assert!(neigh.contains("10.9.1.254") && neigh.contains("00:01:42:09:88:75"), "{neigh}");
    assert!(to_gw.0 && to_gw.1.contains("3 received"), "R -> gateway:\n{}", to_gw.1);
    // A's echo crosses J (TTL 64 -> 63) to R; R's replies cross J back to A (64 -> 63).
    assert!(
        a_to_r.0 && a_to_r.1.contains("3 received") && a_to_r.1.contains("ttl=63"),
        "A -> R:\n{}",
        a_to_r.1
    );
    assert!(
        r_to_a.0 && r_to_a.1.contains("3 received") && r_to_a.1.contains("ttl=63"),
        "R -> A:\n{}",
        r_to_a.1
    );
    assert!(
        expired.1.contains("From 10.9.1.254") && expired.1.contains("Time to live exceeded"),
        "{}",
        expired.1
    );
}
