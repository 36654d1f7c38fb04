//! End-to-end: `monitor capture` in the real `vnswitch` binary on AF_XDP ports against the
//! default topology's namespace lab, driven over telnet. A capture on port `a` of A's ping
//! to H, exported to pcap and read by `tcpdump -r -v`, holds A's echo requests (TTL 64, as A
//! sent them) and the replies (TTL 62, as delivered to A); tenant z's user cannot capture
//! tenant y's port `b`; the flow table and VRF counters saw the ping. Needs root: marked
//! `#[ignore]`, so without root it counts as skipped.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A minimal telnet client: refuses nothing, answers nothing, strips IAC sequences.
struct Vty {
    stream: TcpStream,
    seen: String,
}

impl Vty {
    fn connect(addr: &str) -> Vty {
        let stream = TcpStream::connect(addr).expect("connect to the telnet port");
        stream.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
        Vty { stream, seen: String::new() }
    }

    /// Reads until the text seen since the last call ends with `want` (10 s at most).
    fn until(&mut self, want: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while !self.seen.trim_end_matches(' ').ends_with(want.trim_end_matches(' ')) {
            assert!(Instant::now() < deadline, "no '{want}' from the shell; saw:\n{}", self.seen);
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("telnet closed; saw:\n{}", self.seen),
                Ok(n) => self.seen.push_str(&strip_iac(&buf[..n])),
                Err(_) => continue,
            }
        }
        std::mem::take(&mut self.seen).replace("\r\n", "\n")
    }

    fn send(&mut self, line: &str) {
        self.stream.write_all(format!("{line}\r\n").as_bytes()).expect("write to the telnet port");
    }

    /// Sends a command and returns what it printed up to the next prompt.
    fn cmd(&mut self, line: &str, prompt: &str) -> String {
        self.send(line);
        self.until(prompt)
    }

    fn login(addr: &str, user: &str, pass: &str) -> Vty {
        let mut v = Vty::connect(addr);
        v.until("Username:");
        v.send(user);
        v.until("Password:");
        v.send(pass);
        v.until("#");
        v.cmd("terminal length 0", "#");
        v
    }
}

fn strip_iac(b: &[u8]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == 255 {
            match b.get(i + 1) {
                Some(250) => {
                    // Subnegotiation up to IAC SE.
                    while i + 1 < b.len() && !(b[i] == 255 && b[i + 1] == 240) {
                        i += 1;
                    }
                    i += 2;
                }
                Some(251..=254) => i += 3,
                _ => i += 2,
            }
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

fn telnet_addr(app: &Appliance) -> String {
    let log = app.log_text();
    log.lines()
        .find_map(|l| l.strip_prefix("telnet: listening on ").map(str::to_string))
        .unwrap_or_else(|| panic!("no telnet address in the log:\n{log}"))
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn capture_of_a_ping_on_port_a_reads_back_with_tcpdump() {
    require_root("capture_of_a_ping_on_port_a_reads_back_with_tcpdump");
    let app = Appliance::start("cp", &[]);
    let n = app.names.clone();
    let addr = telnet_addr(&app);
    // Warm up (ARP, XDP attach settling) so the capture holds exactly the measured ping.
    let warm =
        (0..5).any(|_| app.exec(&n.ns_a, &["ping", "-c", "1", "-W", "1", "10.1.5.7"], 5).status.success());
    assert!(warm, "A never reached H:\n{}", app.log_text());
    let mut admin = Vty::login(&addr, "admin", "vnswitch");
    let p = "vnswitch#";
    admin.cmd("monitor capture CAP interface a match ip 10.0.0.10 10.1.5.7 limit 100", p);
    let started = admin.cmd("monitor capture CAP start", p);
    assert!(started.contains("Started capture point : CAP"), "{started}");
    let out = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    assert!(out.status.success(), "ping A -> H failed:\n{}\n{}", text(&out), app.log_text());
    let stopped = admin.cmd("monitor capture CAP stop", p);
    assert!(stopped.contains("Captured 6 frames, 0 dropped"), "{stopped}");
    let buffer = admin.cmd("show monitor capture CAP buffer", p);
    assert!(buffer.contains("echo request") && buffer.contains("echo reply"), "{buffer}");
    let pcap = app.dir.path().join("cap.pcap");
    let exported = admin.cmd(&format!("monitor capture CAP export {}", pcap.display()), p);
    assert!(exported.contains("Exported 6 frames"), "{exported}");

    let read = std::process::Command::new("tcpdump")
        .args(["-r", &pcap.to_string_lossy(), "-n", "-v"])
        .output()
        .expect("tcpdump -r");
    let t = text(&read);
    assert!(read.status.success(), "tcpdump -r failed:\n{t}");
    let lines: Vec<&str> = t.lines().collect();
    // tcpdump -v prints the IP header on one line and the ICMP line after it.
    let pairs: Vec<(&str, &str)> = lines.windows(2).map(|w| (w[0], w[1])).collect();
    let requests = pairs
        .iter()
        .filter(|(ip, icmp)| {
            ip.contains("ttl 64") && icmp.contains("10.0.0.10 > 10.1.5.7: ICMP echo request")
        })
        .count();
    let replies = pairs
        .iter()
        .filter(|(ip, icmp)| ip.contains("ttl 62") && icmp.contains("10.1.5.7 > 10.0.0.10: ICMP echo reply"))
        .count();
    assert_eq!((requests, replies), (3, 3), "tcpdump -r -v of the capture:\n{t}");

    // The flow table and the VRF counters saw the ping.
    std::thread::sleep(Duration::from_millis(700));
    let top = admin.cmd("show ip flow top-talkers vrf z", p);
    assert!(top.contains("z            10.0.0.10       10.1.5.7        01 0800"), "{top}");
    let json = admin.cmd("show vrf counters vrf z | json", p);
    let body = &json[json.find('[').unwrap_or(0)..json.rfind(']').map_or(json.len(), |i| i + 1)];
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert!(v[0]["rx_packets"].as_u64().unwrap_or(0) >= 6, "{json}");

    // Tenant z's operator may not capture tenant y's port.
    let mut z = Vty::login(&addr, "z-ops", "z-ops");
    let refused = z.cmd("monitor capture Y interface b", "#");
    assert!(refused.contains("% Access denied: interface b is not in your scope."), "{refused}");
    let log = admin.cmd("show logging", p);
    assert!(log.contains("z-ops") && log.contains("monitor capture Y interface b"), "{log}");
}
