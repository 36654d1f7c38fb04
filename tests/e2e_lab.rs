//! End-to-end: the real `vnswitch` binary on AF_XDP ports against a namespace lab built from
//! the default topology (hosts A and H of tenant z behind logical routers J and L, host B of
//! tenant y reusing A's address). Real ping, traceroute, tcpdump, nc and raw sockets in the
//! namespaces are the peers. Needs root: marked `#[ignore]`, so without root they count as skipped;
//! `sudo scripts/test` runs them with `--include-ignored`.

mod common;

use common::*;
use std::time::Duration;

const J_MAC: &str = "00:01:42:09:88:73";

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn ping_a_to_h_crosses_two_logical_routers() {
    require_root("ping_a_to_h_crosses_two_logical_routers");
    let app = Appliance::start("pg", &[]);
    let n = app.names.clone();
    let cap = Capture::start(&n.ns_h, true, "icmp");
    let out = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    let lines = cap.finish();
    let ping = text(&out);
    assert!(out.status.success(), "ping A -> H failed:\n{ping}\n--- appliance log:\n{}", app.log_text());
    assert!(ping.contains("3 received"), "{ping}");
    // Replies crossed L then J too: 64 - 2.
    assert!(ping.contains("ttl=62"), "reply TTL is not 62:\n{ping}");
    // What H received: echo requests from A with TTL 64 - 2 = 62.
    let requests: Vec<&String> =
        lines.iter().filter(|l| l.contains("ttl 62") && l.contains("proto ICMP")).collect();
    assert!(requests.len() >= 3, "H did not see 3 requests with TTL 62:\n{}", lines.join("\n"));
    assert!(
        !lines.iter().any(|l| l.contains("proto ICMP") && l.contains("ttl 64")),
        "H saw an undecremented TTL:\n{}",
        lines.join("\n")
    );
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn traceroute_shows_j_then_l_then_h() {
    require_root("traceroute_shows_j_then_l_then_h");
    let app = Appliance::start("tr", &[]);
    let n = app.names.clone();
    let out = app.exec(&n.ns_a, &["traceroute", "-n", "-q", "1", "-w", "2", "-m", "6", "10.1.5.7"], 40);
    let t = text(&out);
    let hops: Vec<(u32, String)> = t
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let hop = w.next()?.parse().ok()?;
            Some((hop, w.next()?.to_string()))
        })
        .collect();
    assert!(
        hops.len() >= 3
            && hops[0] == (1, "10.0.0.1".to_string())
            && hops[1] == (2, "192.168.100.2".to_string())
            && hops[2] == (3, "10.1.5.7".to_string()),
        "traceroute did not show J, L, H:\n{t}\n--- appliance log:\n{}",
        app.log_text()
    );
    assert_eq!(hops.len(), 3, "traceroute went past H:\n{t}");
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn gateway_answers_ping_and_arp_with_j_mac() {
    require_root("gateway_answers_ping_and_arp_with_j_mac");
    let app = Appliance::start("gw", &[]);
    let n = app.names.clone();
    let out = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.0.0.1"], 20);
    let t = text(&out);
    assert!(out.status.success() && t.contains("3 received"), "ping J failed:\n{t}\n{}", app.log_text());
    assert!(t.contains("from 10.0.0.1"), "{t}");
    let neigh = text(&app.exec(&n.ns_a, &["ip", "neigh", "show", "10.0.0.1"], 5));
    assert!(neigh.contains(J_MAC), "ip neigh in A does not show J's MAC {J_MAC}:\n{neigh}");
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn tenant_y_never_reaches_h() {
    require_root("tenant_y_never_reaches_h");
    let app = Appliance::start("is", &[]);
    let n = app.names.clone();
    // Everything that enters H during B's attempts (A stays silent meanwhile).
    let cap = Capture::start(&n.ns_h, true, "");
    let ping = app.exec(&n.ns_b, &["ping", "-c", "3", "-i", "0.3", "-W", "1", "10.1.5.7"], 15);
    // B's own gateway (router Y) does answer: tenant y works, it just has no way to H.
    let own = app.exec(&n.ns_b, &["ping", "-c", "2", "-i", "0.3", "-W", "2", "10.0.0.1"], 15);
    // A hostile frame: B addresses L's MAC and H's IP directly.
    let script = format!(
        "import socket,struct\n\
         s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
         s.bind(('eth0',0))\n\
         dst=bytes.fromhex('000142cd1101'); src=bytes.fromhex('0005020b27bb')\n\
         ip=bytearray(struct.pack('!BBHHHBBH4s4s',0x45,0,28,1,0,64,1,0,socket.inet_aton('10.0.0.10'),socket.inet_aton('10.1.5.7')))\n\
         c=sum(struct.unpack('!10H',ip)); c=(c&0xffff)+(c>>16); c=(c&0xffff)+(c>>16)\n\
         ip[10:12]=struct.pack('!H',(~c)&0xffff)\n\
         icmp=bytes([8,0,0xf7,0xff,0,0,0,0])\n\
         for i in range(5): s.send(dst+src+b'\\x08\\x00'+bytes(ip)+icmp)\n"
    );
    let raw = app.exec(&n.ns_b, &["python3", "-c", &script], 10);
    let seen = cap.finish();
    assert!(!ping.status.success(), "B reached H:\n{}", text(&ping));
    assert!(raw.status.success(), "raw injection failed: {}", text(&raw));
    assert!(own.status.success(), "B cannot even reach its own gateway:\n{}\n{}", text(&own), app.log_text());
    let frames: Vec<&String> = seen.iter().filter(|l| !l.trim().is_empty() && !l.starts_with(' ')).collect();
    assert!(frames.is_empty(), "H received frames while only tenant y was sending:\n{}", seen.join("\n"));
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn tcp_transfer_a_to_h_delivers_exact_bytes() {
    require_root("tcp_transfer_a_to_h_delivers_exact_bytes");
    let app = Appliance::start("tc", &[]);
    let n = app.names.clone();
    let src = app.dir.path().join("payload.bin");
    let dst = app.dir.path().join("received.bin");
    // 4 MiB of incompressible bytes.
    let mut data = vec![0u8; 4 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    std::fs::write(&src, &data).expect("write payload");
    let dst_s = dst.to_string_lossy().to_string();
    let mut server = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &n.ns_h,
            "timeout",
            "60",
            "sh",
            "-c",
            &format!("nc -l -p 5001 > {dst_s} || nc -l 5001 > {dst_s}"),
        ])
        .spawn()
        .expect("nc server");
    std::thread::sleep(Duration::from_millis(500));
    let src_s = src.to_string_lossy().to_string();
    let client = app.exec(&n.ns_a, &["sh", "-c", &format!("nc -N -w 10 10.1.5.7 5001 < {src_s}")], 60);
    let _ = server.wait();
    let got = std::fs::read(&dst).unwrap_or_default();
    assert!(client.status.success(), "nc client failed: {}\n{}", text(&client), app.log_text());
    assert_eq!(got.len(), data.len(), "received {} of {} bytes", got.len(), data.len());
    assert!(got == data, "received bytes differ from what A sent");
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn malformed_frames_are_counted_and_forwarding_goes_on() {
    require_root("malformed_frames_are_counted_and_forwarding_goes_on");
    let app = Appliance::start("mf", &[]);
    let n = app.names.clone();
    // Warm up (ARP for J) and let a stats snapshot land.
    let warm = app.exec(&n.ns_a, &["ping", "-c", "1", "-W", "2", "10.1.5.7"], 10);
    assert!(warm.status.success(), "{}\n{}", text(&warm), app.log_text());
    std::thread::sleep(Duration::from_millis(600));
    let before = app.counter("drops_total");
    let script = "import socket,struct\n\
         s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
         s.bind(('eth0',0))\n\
         eth=bytes.fromhex('000142098873')+bytes.fromhex('0005020b2744')+b'\\x08\\x00'\n\
         def ip(vihl=0x45,tot=28,body=b''):\n\
         \x20   h=struct.pack('!BBHHHBBH4s4s',vihl,0,tot,1,0,64,1,0,socket.inet_aton('10.0.0.10'),socket.inet_aton('10.1.5.7'))\n\
         \x20   return h+body\n\
         frames=[\n\
         \x20 eth+ip()[:10],\n\
         \x20 eth+ip(vihl=0x44,body=bytes(8)),\n\
         \x20 eth+ip(vihl=0x4f,body=bytes(8)),\n\
         \x20 eth+ip(tot=1400,body=bytes(8)),\n\
         \x20 eth+ip(tot=12,body=bytes(8)),\n\
         \x20 eth+ip(vihl=0x65,body=bytes(8)),\n\
         \x20 eth[:10],\n\
         ]\n\
         sent=0\n\
         for f in frames:\n\
         \x20   try: s.send(f); sent+=1\n\
         \x20   except OSError: pass\n\
         assert sent>=6, sent\n";
    let raw = app.exec(&n.ns_a, &["python3", "-c", script], 10);
    assert!(raw.status.success(), "raw injection failed: {}", text(&raw));
    std::thread::sleep(Duration::from_millis(800));
    let after = app.counter("drops_total");
    // Six malformed IPv4 packets (the 10-byte runt may already be refused by the kernel).
    assert!(
        after >= before + 6,
        "6+ malformed frames, drops went {before} -> {after}\n{}\n--- log:\n{}",
        app.stats(),
        app.log_text()
    );
    let ping = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    assert!(ping.status.success(), "forwarding stopped after malformed frames:\n{}", text(&ping));
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn sigterm_stops_cleanly_and_removes_the_lab() {
    require_root("sigterm_stops_cleanly_and_removes_the_lab");
    let mut app = Appliance::start("st", &[]);
    let n = app.names.clone();
    assert!(std::path::Path::new("/sys/class/net").join(&n.dev_a).exists());
    let log = app.stop();
    assert!(log.contains("vnswitch: stopped"), "no clean stop:\n{log}");
    for dev in [&n.dev_a, &n.dev_h, &n.dev_b] {
        assert!(!std::path::Path::new("/sys/class/net").join(dev).exists(), "{dev} left behind");
    }
    for ns in [&n.ns_a, &n.ns_h, &n.ns_b] {
        assert!(!std::path::Path::new("/run/netns").join(ns).exists(), "netns {ns} left behind");
    }
}
