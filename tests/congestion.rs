//! End-to-end: priority under congestion of one egress port. The real `vnswitch` binary runs
//! `topologies/overlay.ron` with `--lab`, renamed to this test's own prefix (`vqc-`), with
//! silver allowed on the fast plane and the slow plane made the dearer one, so that both
//! tenants — `p` (platinum) and `s` (silver) — leave through the one uplink `upf`, and `upf` made the bottleneck by its `traffic-shape`
//! (a 2 Mbit/s port shaper in the topology file). `pktgen` sends UDP from P (platinum, below
//! the port's rate) and from S (silver, far above it; about 3x the port together) toward
//! their remote hosts behind the Linux VTEP; what arrives is counted on the remote hosts'
//! interfaces. Platinum must keep >= 95% of what it offered, silver more than nothing.
//! Needs root: `#[ignore]`d without it. Every namespace and device is removed by name,
//! also on failure.

mod common;

use common::{ns_exec, remove_lab, require_root, spawn_logged, stat_value, text};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every lab object's name starts with this test's prefix.
const NAMESPACES: [&str; 7] =
    ["vqc-ov-p", "vqc-ov-s", "vqc-fast", "vqc-slow", "vqc-remote", "vqc-ov-rp", "vqc-ov-rs"];
const DEVICES: [&str; 4] = ["vqc-ovp-sw", "vqc-ovs-sw", "vqc-upf", "vqc-ups"];

/// The uplink's shaping rate (bit/s of L2 bytes): a 64-byte pktgen frame is 110 bytes on the
/// uplink once VXLAN-encapsulated, so the port passes about 2270 frames/s.
const RATE_BPS: u64 = 2_000_000;
/// Offered frames per second: platinum well below the port, silver far above it.
const PLATINUM_PPS: u64 = 1000;
const SILVER_PPS: u64 = 6000;
/// Seconds of traffic.
const SECONDS: u64 = 6;

fn cleanup() {
    remove_lab(&NAMESPACES, &DEVICES);
}

/// overlay.ron with this test's names, silver on the fast plane (allowed, and cheaper than
/// the slow one), and `upf` shaped.
fn topology() -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/overlay.ron");
    let text = std::fs::read_to_string(src).expect("read overlay.ron");
    let silver = "(level: silver, fast_path: false)";
    let upf = "link: \"sw1-fast\", mtu: 1500)),";
    let slow_cost = "bandwidth_mbps: 1000, cost: 5,";
    assert!(
        text.contains(silver) && text.contains(upf) && text.matches(slow_cost).count() == 2,
        "overlay.ron changed shape"
    );
    let t = text
        .replace("\"vns-", "\"vqc-")
        .replace(slow_cost, "bandwidth_mbps: 1000, cost: 500,")
        .replace(silver, "(level: silver, fast_path: true)")
        .replace(upf, &format!("link: \"sw1-fast\", mtu: 1500), shape: Some((rate_bps: {RATE_BPS}))),"));
    assert!(!t.contains("\"vns-"), "a lab name kept the shared prefix");
    t
}

/// The appliance with its lab; stopped and the lab removed on drop.
struct Lab {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    stats_file: PathBuf,
    _dir: tempfile::TempDir,
    _serial: std::sync::MutexGuard<'static, ()>,
}

impl Lab {
    fn start() -> Lab {
        let serial = common::serial();
        cleanup();
        let dir = tempfile::tempdir().expect("tempdir");
        let topo = dir.path().join("congestion.ron");
        std::fs::write(&topo, topology()).expect("write topology");
        let stats_file = dir.path().join("stats.txt");
        let (child, log) = spawn_logged(
            Command::new(env!("CARGO_BIN_EXE_vnswitch"))
                .arg("run")
                .arg(&topo)
                .args(["--lab", "--no-console", "--telnet", "127.0.0.1:0", "--metrics", "off"])
                .args(["--worker-sched", "normal", "--stats-file"])
                .arg(&stats_file),
        );
        let mut lab = Lab { child: Some(child), log, stats_file, _dir: dir, _serial: serial };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lab.log_text().contains("vnswitch: running") {
            if let Some(Ok(Some(status))) = lab.child.as_mut().map(|c| c.try_wait()) {
                std::thread::sleep(Duration::from_millis(100));
                panic!("vnswitch exited early ({status}):\n{}", lab.log_text());
            }
            assert!(Instant::now() < deadline, "vnswitch did not start within 30 s:\n{}", lab.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        lab
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    fn stats(&self) -> String {
        std::fs::read_to_string(&self.stats_file).unwrap_or_default()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        common::stop_child(self.child.take());
        cleanup();
    }
}

/// The pktgen binary of this workspace (built on demand: it lives in the benches crate).
fn pktgen() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "-p", "vnswitch-benches", "--bin", "pktgen"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo build for pktgen");
    assert!(out.status.success(), "building pktgen failed:\n{}", text(&out));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let bin = target.join("debug/pktgen");
    assert!(bin.exists(), "no pktgen at {}", bin.display());
    bin
}

/// Frames received on `eth0` of namespace `ns` so far.
fn rx_packets(ns: &str) -> u64 {
    let out = ns_exec(ns, &["cat", "/sys/class/net/eth0/statistics/rx_packets"], 5);
    text(&out).trim().parse().unwrap_or_else(|_| panic!("rx_packets of {ns}: {}", text(&out)))
}

/// Waits until a ping from `ns` reaches the remote host (substrate ARP resolved).
fn wait_for_path(lab: &Lab, ns: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if ns_exec(ns, &["ping", "-c", "1", "-W", "1", "10.10.2.20"], 5).status.success() {
            return;
        }
    }
    panic!("{ns}: no answer from 10.10.2.20 within 15 s:\n{}", lab.log_text());
}

/// `pktgen tx` from host namespace `ns` (whose gateway J has MAC `gw_mac`) to the remote
/// host: `pps` frames a second for [`SECONDS`].
fn send(pktgen: &PathBuf, ns: &str, gw_mac: &str, pps: u64) -> Child {
    let (rate, count) = (pps.to_string(), (pps * SECONDS).to_string());
    Command::new(pktgen)
        .args(["tx", "--netns", ns, "--dev", "eth0", "--rate", &rate, "--count", &count, "--quiet"])
        .args(["--size", "64", "--src-ip", "10.10.1.10", "--dst-ip", "10.10.2.20", "--dst-mac", gw_mac])
        .args(["--src-port", "40000", "--dst-port", "9"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn pktgen")
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn platinum_keeps_its_rate_through_a_congested_uplink_and_silver_is_not_starved() {
    require_root("platinum_keeps_its_rate_through_a_congested_uplink_and_silver_is_not_starved");
    let pktgen = pktgen();
    let lab = Lab::start();
    wait_for_path(&lab, "vqc-ov-p");
    wait_for_path(&lab, "vqc-ov-s");
    let (p0, s0) = (rx_packets("vqc-ov-rp"), rx_packets("vqc-ov-rs"));
    // J's Gi0/0 of each tenant.
    let p = send(&pktgen, "vqc-ov-p", "00:01:42:10:01:01", PLATINUM_PPS);
    let s = send(&pktgen, "vqc-ov-s", "00:01:42:20:01:01", SILVER_PPS);
    let (p, s) = (p.wait_with_output().expect("pktgen p"), s.wait_with_output().expect("pktgen s"));
    assert!(p.status.success() && s.status.success(), "pktgen:\n{}\n{}", text(&p), text(&s));
    // What waits in the queues drains within a few hundred ms at the port's rate.
    std::thread::sleep(Duration::from_secs(1));
    let (got_p, got_s) = (rx_packets("vqc-ov-rp") - p0, rx_packets("vqc-ov-rs") - s0);
    let (offered_p, offered_s) = (PLATINUM_PPS * SECONDS, SILVER_PPS * SECONDS);
    let stats = lab.stats();
    eprintln!(
        "platinum {got_p}/{offered_p}, silver {got_s}/{offered_s} in {SECONDS} s through {RATE_BPS} bit/s\n{stats}"
    );
    assert!(got_p * 100 >= offered_p * 95, "platinum got {got_p} of {offered_p}\n{stats}\n{}", text(&p));
    assert!(got_s > 0, "silver starved\n{stats}");
    // The port was the bottleneck: silver lost most of what it offered, to its class queue.
    assert!(
        got_s < offered_s / 2,
        "the uplink was not congested: silver got {got_s} of {offered_s}\n{stats}"
    );
    assert!(stat_value(&stats, "class silver tx ") > 0, "{stats}");
    assert!(stat_value(&stats, "drop shaped ") > 0, "{stats}");
}
