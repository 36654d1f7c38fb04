#![allow(clippy::unwrap_used)]
//! Passive commands: `monitor capture` (define, start, buffer, stop, export to pcap; tenant
//! scope, refusals and the per-tenant export directory), `show ip flow top-talkers`,
//! `show vrf counters`, and `| json` on them. Frames are offered to the capture point and
//! flow tables directly, as the workers would.

use rib::topology::schema::{CliStyle, UserConfig, UserRole};
use rib::topology::Topology;
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::{hash_password, ShellContext, StatsSource, TenantCounters};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use switch::capture::{Capture, Direction};
use switch::flows::FlowReader;
use switch::pipeline::{Meta, BATCH};
use switch::testkit::*;

fn topology() -> Topology {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let mut t = rib::topology::load(&path).expect("default topology loads");
    t.file.users.retain(|u| u.name != "y-ops");
    t.file.users.push(UserConfig {
        name: "y-ops".into(),
        password_hash: hash_password("yy"),
        role: UserRole::Tenant,
        tenants: vec!["y".into()],
        privilege: 15,
        cli_style: CliStyle::Ios,
        aliases: BTreeMap::new(),
    });
    let p = t.path.clone();
    let mut t = Topology::from_file(t.file).expect("valid");
    t.path = p;
    t
}

struct FakeStats;

impl StatsSource for FakeStats {
    fn workers(&self) -> Vec<shell::WorkerStats> {
        Vec::new()
    }
    fn ports(&self) -> Vec<shell::PortCounters> {
        Vec::new()
    }
    fn clear(&self) {}
    fn tenants(&self) -> Vec<TenantCounters> {
        vec![
            TenantCounters { name: "z".into(), rx_packets: 10, rx_bytes: 980, tx_packets: 9, tx_bytes: 882 },
            TenantCounters { name: "y".into(), rx_packets: 3, rx_bytes: 294, tx_packets: 0, tx_bytes: 0 },
        ]
    }
}

struct Lab {
    ctx: Arc<ShellContext>,
    capture: Arc<Capture>,
    dir: tempfile::TempDir,
    flows: switch::flows::FlowPublisher,
}

fn lab() -> Lab {
    let rib = RibHandle::spawn(topology()).expect("rib starts");
    let capture = Arc::new(Capture::new(16));
    let dir = tempfile::tempdir().unwrap();
    let (flows, consumer) = switch::flows::channel(0);
    let ctx = Arc::new(
        ShellContext::new(rib)
            .with_stats(Arc::new(FakeStats))
            .with_capture(capture.clone())
            .with_capture_dir(dir.path().join("captures"))
            .with_flows(Arc::new(FlowReader::new(vec![consumer]))),
    );
    Lab { ctx, capture, dir, flows }
}

fn login(ctx: &Arc<ShellContext>, name: &str, pass: &str) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login(name, pass), LoginResult::Ok, "login {name}");
    s
}

fn run(s: &mut Session, line: &str) -> String {
    s.execute(line).text
}

fn request() -> Vec<u8> {
    echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 7, 1, 8)
}

fn reply() -> Vec<u8> {
    // What A receives from H: two logical hops, TTL 62.
    let mut f = echo_request(MAC_J0, MAC_A, None, IP_H, IP_A, 62, 7, 1, 8);
    f[34] = 0; // echo reply (the checksum is not checked by the shell)
    f
}

fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(file).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.unwrap().data.to_vec());
    }
    out
}

#[test]
fn admin_captures_between_two_hosts_shows_the_buffer_and_exports_pcap() {
    let l = lab();
    let mut s = login(&l.ctx, "admin", "vnswitch");
    assert_eq!(run(&mut s, "monitor capture CAP interface a match ip 10.0.0.10 10.1.5.7 limit 3"), "");
    assert_eq!(run(&mut s, "monitor capture CAP start"), "Started capture point : CAP\n");
    assert!(l.capture.active());
    assert!(run(&mut s, "monitor capture CAP start").contains("% Capture point CAP is already active"));
    l.capture.offer(PORT_A, Direction::Rx, &request());
    l.capture.offer(PORT_H, Direction::Tx, &request()); // another port: not captured
    l.capture.offer(PORT_A, Direction::Rx, &echo_request(MAC_A, MAC_J0, None, IP_A, IP_J0, 64, 7, 2, 8));
    l.capture.offer(PORT_A, Direction::Tx, &reply());
    let buf = run(&mut s, "show monitor capture CAP buffer");
    let lines: Vec<&str> = buf.lines().skip(3).collect();
    assert_eq!(lines.len(), 2, "{buf}");
    assert!(lines[0].starts_with("    0  0.000000"), "{buf}");
    assert!(
        lines[0].ends_with("in   50    10.0.0.10        10.1.5.7         ICMP    64  echo request, seq 1"),
        "{buf}"
    );
    assert!(
        lines[1].ends_with("out  50    10.1.5.7         10.0.0.10        ICMP    62  echo reply, seq 1"),
        "{buf}"
    );
    let list = run(&mut s, "show monitor capture");
    assert!(list.contains("Status Information for Capture CAP\n"), "{list}");
    assert!(list.contains("   Interface: a, Direction: BOTH\n"));
    assert!(list.contains("    IPv4 10.0.0.10 <-> 10.1.5.7\n"));
    assert!(list.contains("  Status : Active\n"));
    assert_eq!(
        run(&mut s, "monitor capture CAP stop"),
        "Stopped capture point : CAP\nCaptured 2 frames, 0 dropped (buffer full)\n"
    );
    assert!(!l.capture.active());
    let path = l.dir.path().join("admin.pcap");
    let out = run(&mut s, &format!("monitor capture CAP export {}", path.display()));
    assert_eq!(out, format!("Exported 2 frames to {}\n", path.display()));
    assert_eq!(read_pcap(&path), vec![request(), reply()]);
    // The limit stops the capture by itself.
    run(&mut s, "monitor capture CAP start");
    for _ in 0..5 {
        l.capture.offer(PORT_A, Direction::Rx, &request());
    }
    assert!(run(&mut s, "show monitor capture").contains("Frames: 3, dropped: 0\n"));
    assert!(run(&mut s, "show monitor capture").contains("  Status : Inactive\n"));
    assert_eq!(run(&mut s, "no monitor capture CAP"), "");
    assert_eq!(run(&mut s, "show monitor capture CAP buffer"), "% Capture point CAP does not exist\n");
    assert!(run(&mut s, "monitor capture X interface a limit 17")
        .contains("% Limit must be between 1 and 16 frames"));
}

#[test]
fn tenant_user_captures_only_its_ports_and_exports_under_its_directory() {
    let l = lab();
    let mut z = login(&l.ctx, "z-ops", "z-ops");
    let refused = run(&mut z, "monitor capture Y interface b");
    assert_eq!(refused, "% Access denied: interface b is not in your scope.\n");
    let audit = l.ctx.audit.entries();
    let last = audit.last().unwrap();
    assert_eq!(last.user, "z-ops");
    assert!(last.message.contains("monitor capture Y interface b"), "{}", last.message);
    // An admin's capture on tenant y's port is invisible and untouchable for z-ops.
    let mut admin = login(&l.ctx, "admin", "vnswitch");
    run(&mut admin, "monitor capture YCAP interface b");
    assert_eq!(run(&mut z, "show monitor capture"), "");
    assert!(run(&mut z, "monitor capture YCAP start").starts_with("% Access denied: interface b"));
    assert!(run(&mut z, "show monitor capture YCAP buffer").starts_with("% Access denied: interface b"));
    // Its own port works; exports are plain names under <dir>/z/.
    run(&mut z, "monitor capture ZCAP interface a limit 2");
    run(&mut z, "monitor capture ZCAP start");
    l.capture.offer(PORT_A, Direction::Rx, &request());
    run(&mut z, "monitor capture ZCAP stop");
    for bad in ["../x.pcap", "/tmp/x.pcap", "sub/x.pcap", ".hidden"] {
        let out = run(&mut z, &format!("monitor capture ZCAP export {bad}"));
        assert!(out.starts_with("% Access denied: export to a plain file name"), "{bad}: {out}");
    }
    assert!(l.ctx.audit.entries().last().unwrap().message.contains("plain file name"));
    let out = run(&mut z, "monitor capture ZCAP export z.pcap");
    let path = l.dir.path().join("captures").join("z").join("z.pcap");
    assert_eq!(out, format!("Exported 1 frames to {}\n", path.display()));
    assert_eq!(read_pcap(&path), vec![request()]);
}

#[test]
fn without_a_capture_point_start_says_so() {
    let rib = RibHandle::spawn(topology()).expect("rib starts");
    let ctx = Arc::new(ShellContext::new(rib));
    let mut s = login(&ctx, "admin", "vnswitch");
    run(&mut s, "monitor capture C interface a");
    assert_eq!(run(&mut s, "monitor capture C start"), "% Packet capture is not available (no workers)\n");
    assert_eq!(run(&mut s, "show ip flow top-talkers"), "Flow statistics are not available (no workers).\n");
}

fn count_flows(flows: &mut switch::flows::FlowPublisher, frames: &[(u16, Vec<u8>)]) {
    let mut ports = switch::port::MemPorts::new(1, 64);
    let mut descs = Vec::new();
    let mut meta = [Meta::EMPTY; BATCH];
    for (i, (tenant, f)) in frames.iter().enumerate() {
        ports.inject(rib::PortId(0), f).unwrap();
        meta[i].tenant = rib::TenantId(*tenant);
    }
    let mut d = [Default::default(); BATCH];
    use switch::port::Ports;
    let n = ports.rx_burst(rib::PortId(0), &mut d);
    descs.extend_from_slice(&d[..n]);
    flows.sample_batch(&ports, &descs);
    flows.count_batch(&meta, n);
    flows.maybe_publish(std::time::Instant::now(), true);
}

#[test]
fn top_talkers_and_vrf_counters_per_tenant_with_json() {
    let mut l = lab();
    let big = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 4000, 53, &[0; 100]);
    let y = udp_frame(MAC_B, MAC_Y0, IP_B, std::net::Ipv4Addr::new(10, 0, 0, 99), 64, 1, 2, &[]);
    count_flows(&mut l.flows, &[(0, big.clone()), (0, request()), (0, big.clone()), (1, y.clone())]);
    let mut admin = login(&l.ctx, "admin", "vnswitch");
    let top = run(&mut admin, "show ip flow top-talkers");
    assert_eq!(
        top,
        "\nVRF          SrcIPaddress    DstIPaddress    Pr SrcP DstP      Pkts      Bytes\n\
         z            10.0.0.10       10.1.5.7        11 0FA0 0035         2        284\n\
         z            10.0.0.10       10.1.5.7        01 0800 0000         1         50\n\
         y            10.0.0.10       10.0.0.99       11 0001 0002         1         42\n\
         3 of 10 top talkers shown. 3 flows processed.\n"
    );
    let mut z = login(&l.ctx, "z-ops", "z-ops");
    let zt = run(&mut z, "show ip flow top-talkers");
    assert!(!zt.contains("\ny "), "tenant z sees only its own flows: {zt}");
    assert!(zt.contains("2 of 10 top talkers shown. 2 flows processed."));
    assert!(run(&mut z, "show ip flow top-talkers vrf y")
        .starts_with("% Access denied: vrf y is not in your scope."));
    let j: serde_json::Value = serde_json::from_str(&run(&mut z, "show ip flow top-talkers | json")).unwrap();
    assert_eq!(j["flows_processed"], 2);
    assert_eq!(j["flows"][0]["src"], "10.0.0.10");
    assert_eq!(j["flows"][0]["dst_port"], 53);
    assert_eq!(j["flows"][0]["bytes"], 284);
    assert_eq!(j["flows"][1]["protocol"], 1);

    let c = run(&mut admin, "show vrf counters");
    assert_eq!(
        c,
        "VRF                               Rx packets       Rx bytes   Tx packets       Tx bytes\n\
         z                                         10            980            9            882\n\
         y                                          3            294            0              0\n"
    );
    let zc = run(&mut z, "show vrf counters");
    assert_eq!(zc.lines().count(), 2, "{zc}");
    let j: serde_json::Value = serde_json::from_str(&run(&mut z, "show vrf counters | json")).unwrap();
    assert_eq!(
        j,
        serde_json::json!([{"vrf": "z", "rx_packets": 10, "rx_bytes": 980, "tx_packets": 9, "tx_bytes": 882}])
    );
}

#[test]
fn json_of_the_capture_buffer_and_commands_without_json() {
    let l = lab();
    let mut s = login(&l.ctx, "admin", "vnswitch");
    run(&mut s, "monitor capture C interface a");
    run(&mut s, "monitor capture C start");
    l.capture.offer(PORT_A, Direction::Rx, &request());
    l.capture.offer(PORT_A, Direction::Rx, &arp_request(MAC_A, IP_A, IP_J0));
    let j: serde_json::Value =
        serde_json::from_str(&run(&mut s, "show monitor capture C buffer | json")).unwrap();
    assert_eq!(j[0]["direction"], "in");
    assert_eq!(j[0]["ttl"], 64);
    assert_eq!(j[0]["info"], "echo request, seq 1");
    assert_eq!(j[1]["protocol"], "ARP");
    assert_eq!(j[1]["info"], "who-has 10.0.0.1 tell 10.0.0.10");
    let list: serde_json::Value = serde_json::from_str(&run(&mut s, "show monitor capture | json")).unwrap();
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["frames"], 2);
    assert_eq!(run(&mut s, "show version | json"), "% Command does not support JSON output\n");
    assert!(run(&mut s, "show vrf counters | json x").contains("% Invalid input detected at '^' marker."));
}

#[test]
fn json_of_interfaces_routes_and_vrfs_parses_back() {
    let l = lab();
    let mut z = login(&l.ctx, "z-ops", "z-ops");
    let v: serde_json::Value = serde_json::from_str(&run(&mut z, "show vrf | json")).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"name": "z", "default_rd": "65000:5001", "protocols": ["ipv4"], "interfaces": ["a", "h"]}])
    );
    let i: serde_json::Value = serde_json::from_str(&run(&mut z, "show interfaces | json")).unwrap();
    let names: Vec<&str> = i.as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["a", "h"], "tenant z sees only its ports");
    assert_eq!(i[0]["mac"], "0001.4209.8873");
    assert_eq!(i[0]["address"], "10.0.0.1/24");
    assert_eq!(
        (&i[0]["tenant"], &i[0]["router"], &i[0]["router_interface"]),
        (&"z".into(), &"J".into(), &"Gi0/0".into())
    );
    let one: serde_json::Value = serde_json::from_str(&run(&mut z, "show interfaces h | json")).unwrap();
    assert_eq!(one.as_array().map(Vec::len), Some(1));
    assert!(run(&mut z, "show interfaces b | json").starts_with("% Access denied"));
    let r: serde_json::Value = serde_json::from_str(&run(&mut z, "show ip route | json")).unwrap();
    let routes = r.as_array().unwrap();
    let j_connected = routes
        .iter()
        .find(|x| x["router"] == "J" && x["prefix"] == "10.0.0.0/24")
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(j_connected["code"], "C");
    assert_eq!(j_connected["interface"], "Gi0/0");
    assert_eq!(j_connected["next_hop"], serde_json::Value::Null);
    let via: serde_json::Value =
        serde_json::from_str(&run(&mut z, "show ip route vrf z 10.1.5.7 | json")).unwrap();
    let ospf = via.as_array().unwrap().iter().find(|x| x["router"] == "J").unwrap_or_else(|| panic!("{via}"));
    assert_eq!(
        (&ospf["code"], &ospf["next_hop"], &ospf["distance"]),
        (&"O".into(), &"192.168.100.2".into(), &110.into())
    );
    assert!(routes.iter().all(|x| x["vrf"] == "z"));
    let mut admin = login(&l.ctx, "admin", "vnswitch");
    let all: serde_json::Value = serde_json::from_str(&run(&mut admin, "show vrf | json")).unwrap();
    assert_eq!(all.as_array().map(Vec::len), Some(2));
}
