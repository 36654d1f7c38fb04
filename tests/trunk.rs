//! End-to-end: 1000 tenants on ONE trunk device. `scripts/gen-topology --tenants 1000 --trunk`
//! writes the topology (tenant t<i> on VLAN i, every tenant with host 10.0.0.10 and gateway
//! 10.0.0.1), the real `vnswitch run --lab` builds 1000 host namespaces behind the trunk and
//! serves them through one AF_XDP socket. Real ping and tcpdump in the namespaces prove that
//! tenants 1, 500 and 1000, with the SAME address, each reach their own gateway over their own
//! VLAN and never see each other's traffic; a frame with an unknown VLAN and an untagged one
//! are dropped and counted. Prints the appliance's start-up time and RSS. Needs root.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TENANTS: usize = 1000;

/// The lab objects of this test, removed by name on drop (also when the test fails).
struct TrunkLab {
    prefix: String,
}

impl TrunkLab {
    fn cleanup(&self) {
        remove_lab(&[], &[self.prefix.as_str()]);
        let mut batch = String::new();
        for ns in (1..=TENANTS).map(|i| format!("{}-{i}", self.prefix)).chain([format!("{}-br", self.prefix)])
        {
            if std::path::Path::new("/run/netns").join(&ns).exists() {
                batch.push_str(&format!("netns del {ns}\n"));
            }
        }
        if !batch.is_empty() {
            let mut c = Command::new("ip")
                .args(["-force", "-batch", "-"])
                .stdin(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("ip -batch");
            if let Some(mut stdin) = c.stdin.take() {
                use std::io::Write;
                let _ = stdin.write_all(batch.as_bytes());
            }
            let _ = c.wait();
        }
    }

    fn leftovers(&self) -> usize {
        let p = format!("{}-", self.prefix);
        std::fs::read_dir("/run/netns")
            .map(|d| {
                d.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with(&p)).count()
            })
            .unwrap_or(0)
            + usize::from(std::path::Path::new("/sys/class/net").join(&self.prefix).exists())
    }
}

impl Drop for TrunkLab {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// The appliance process; dropping it stops it (SIGTERM, then SIGKILL).
struct Running {
    child: Option<Child>,
}

impl Running {
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of our own child.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .unwrap_or(0)
}

/// Sends one raw frame on `ifname` inside namespace `ns` (Python's AF_PACKET).
fn send_raw(ns: &str, ifname: &str, frame: &[u8]) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let py = format!(
        "import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('{ifname}', 0)); \
         s.send(bytes.fromhex('{hex}'))"
    );
    let out = ns_exec(ns, &["python3", "-c", &py], 10);
    assert!(out.status.success(), "raw send in {ns}: {}", text(&out));
}

/// An ICMP echo request 10.0.0.10 -> 10.0.0.1 to tenant t1's gateway MAC, tagged `vid` (or
/// untagged).
fn echo_frame(vid: Option<u16>) -> Vec<u8> {
    let mut f = vec![0x02, 0x01, 0x00, 0x00, 0x01, 0x01, 0x02, 0x02, 0x00, 0x00, 0x01, 0x10];
    if let Some(v) = vid {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0, 10, 0, 0, 10, 10, 0, 0, 1];
    // Header checksum: one fold of the carries suffices for 20 bytes.
    let folded = {
        let s = ip.chunks(2).fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
        !(((s & 0xffff) + (s >> 16)) as u16)
    };
    ip[10..12].copy_from_slice(&folded.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[8, 0, 0xf7, 0xfe, 0, 1, 0, 0]); // echo request, id 1, seq 0
    f
}

fn ping(ns: &str) -> String {
    let out = ns_exec(ns, &["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.0.0.1"], 15);
    text(&out)
}

#[test]
#[ignore = "needs root: 1000 network namespaces, AF_XDP on a trunk (sudo scripts/test runs it)"]
fn thousand_tenants_on_one_trunk_share_addresses_and_never_cross() {
    require_root("thousand_tenants_on_one_trunk_share_addresses_and_never_cross");
    let _serial = serial();
    let prefix = format!("vt{}", std::process::id() % 10_000);
    let lab = TrunkLab { prefix: prefix.clone() };
    lab.cleanup();
    let dir = tempfile::tempdir().expect("tempdir");
    let topo = dir.path().join("trunk.ron");
    let gen = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/gen-topology");
    let out = Command::new(&gen)
        .args(["--tenants", &TENANTS.to_string(), "--trunk", "--prefix", &prefix, "-o"])
        .arg(&topo)
        .output()
        .expect("run scripts/gen-topology");
    assert!(out.status.success(), "gen-topology: {}", text(&out));
    let stats_file = dir.path().join("stats.txt");

    let t0 = Instant::now();
    let (child, log) = spawn_logged(Command::new(env!("CARGO_BIN_EXE_vnswitch")).args([
        "run",
        &topo.to_string_lossy(),
        "--lab",
        "--no-console",
        "--telnet",
        "127.0.0.1:0",
        "--metrics",
        "off",
        "--worker-sched",
        "normal",
        "--stats-file",
        &stats_file.to_string_lossy(),
    ]));
    let pid = child.id();
    let mut app = Running { child: Some(child) };
    let log_text = || log.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !log_text().contains("vnswitch: start-up") {
        if let Some(c) = app.child.as_mut() {
            if let Ok(Some(status)) = c.try_wait() {
                panic!("vnswitch exited early ({status}):\n{}", log_text());
            }
        }
        assert!(Instant::now() < deadline, "vnswitch did not start within 120 s:\n{}", log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let wall = t0.elapsed();
    let startup = log_text().lines().find(|l| l.contains("vnswitch: start-up")).unwrap_or("").to_string();
    let rss_start = rss_kb(pid);
    assert!(
        log_text().contains(&format!("trunk {prefix} ({TENANTS} ports): AF_XDP on {prefix}")),
        "{}",
        log_text()
    );

    let ns = |i: usize| format!("{prefix}-{i}");
    // Tenants 1 and 1000 ping their gateways while tenant 500 listens: it hears nothing.
    let cap500 = Capture::start(&ns(500), false, "icmp or arp");
    let t_ping = Instant::now();
    let p1 = ping(&ns(1));
    let p1000 = ping(&ns(1000));
    let heard500: Vec<String> =
        cap500.finish().into_iter().filter(|l| l.contains("ICMP") || l.contains("ARP")).collect();
    assert!(p1.contains("3 received"), "tenant 1:\n{p1}\n--- log:\n{}", log_text());
    assert!(p1000.contains("3 received"), "tenant 1000:\n{p1000}\n--- log:\n{}", log_text());
    assert!(heard500.is_empty(), "tenant 500 saw other tenants' traffic:\n{}", heard500.join("\n"));
    // Tenant 500 pings while tenant 1 listens.
    let cap1 = Capture::start(&ns(1), false, "icmp or arp");
    let p500 = ping(&ns(500));
    eprintln!("pings and captures: {} ms", t_ping.elapsed().as_millis());
    let heard1: Vec<String> =
        cap1.finish().into_iter().filter(|l| l.contains("ICMP") || l.contains("ARP")).collect();
    assert!(p500.contains("3 received"), "tenant 500:\n{p500}");
    assert!(heard1.is_empty(), "tenant 1 saw other tenants' traffic:\n{}", heard1.join("\n"));
    // Same address, three different gateways: each tenant's own router answered its ARP.
    for (i, mac) in [(1, "02:01:00:00:01:01"), (500, "02:01:00:01:f4:01"), (1000, "02:01:00:03:e8:01")] {
        let neigh = text(&ns_exec(&ns(i), &["ip", "neigh", "show", "10.0.0.1"], 5));
        assert!(neigh.contains(mac), "tenant {i}'s gateway is not its own router ({mac}): {neigh}");
    }

    // A frame on a VLAN no tenant uses, and an untagged one, sent on the trunk's far end.
    let br = format!("{prefix}-br");
    send_raw(&br, "trunk", &echo_frame(Some(3000)));
    send_raw(&br, "trunk", &echo_frame(None));
    let deadline = Instant::now() + Duration::from_secs(5);
    let (mut unknown, mut untagged) = (0, 0);
    while Instant::now() < deadline && (unknown == 0 || untagged == 0) {
        std::thread::sleep(Duration::from_millis(200));
        let stats = std::fs::read_to_string(&stats_file).unwrap_or_default();
        unknown = stat_value(&stats, "drop trunk_unknown_vlan ");
        untagged = stat_value(&stats, "drop trunk_untagged ");
    }
    assert_eq!((unknown, untagged), (1, 1), "{}", std::fs::read_to_string(&stats_file).unwrap_or_default());
    let rss_end = rss_kb(pid);

    let phases: Vec<String> =
        log_text().lines().filter(|l| l.starts_with("lab: trunk")).map(String::from).collect();
    println!(
        "TRUNK {TENANTS} tenants: {startup}; ready after {} ms (wall, incl. lab); RSS {rss_start} kB at start, \
         {rss_end} kB after traffic; {}",
        wall.as_millis(),
        phases.join("; ")
    );
    app.stop();
    let log = log_text();
    assert!(log.contains("vnswitch: stopped"), "{log}");
    assert_eq!(lab.leftovers(), 0, "the lab was not removed");
}
