//! pktgen against a known path: a plain veth pair between two namespaces this test creates (unique
//! names, removed by name on drop, also on failure). Everything sent must arrive once, in order,
//! with a sane latency histogram. Needs root: marked `#[ignore]` (counted as skipped
//! without root); `sudo scripts/test` runs them.

use serde_json::Value;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const PKTGEN: &str = env!("CARGO_BIN_EXE_pktgen");

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

macro_rules! require_root {
    () => {
        assert!(
            is_root(),
            "pktgen veth tests need root (AF_XDP sockets, network namespaces): run sudo scripts/test"
        );
    };
}

fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Two namespaces joined by a veth pair; deleted (with the veths) on drop.
struct VethLab {
    ns_a: String,
    ns_b: String,
    dev_a: String,
    dev_b: String,
}

impl VethLab {
    fn new() -> VethLab {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!("{}{}", std::process::id() % 100_000, N.fetch_add(1, Ordering::Relaxed));
        let lab = VethLab {
            ns_a: format!("pgt-{id}-a"),
            ns_b: format!("pgt-{id}-b"),
            dev_a: format!("pgA{id}"),
            dev_b: format!("pgB{id}"),
        };
        // Built step by step after the guard exists, so a failure still removes what was made.
        sh(&["ip", "netns", "add", &lab.ns_a]);
        sh(&["ip", "netns", "add", &lab.ns_b]);
        sh(&[
            "ip", "link", "add", &lab.dev_a, "netns", &lab.ns_a, "type", "veth", "peer", "name", &lab.dev_b,
            "netns", &lab.ns_b,
        ]);
        for (ns, dev, addr) in
            [(&lab.ns_a, &lab.dev_a, "192.0.2.1/24"), (&lab.ns_b, &lab.dev_b, "192.0.2.2/24")]
        {
            sh(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
            sh(&["ip", "-n", ns, "link", "set", "lo", "up"]);
        }
        lab
    }

    /// Whether `dev_b` still has an XDP program attached.
    fn xdp_on_b(&self) -> bool {
        let out = sh(&["ip", "-n", &self.ns_b, "link", "show", "dev", &self.dev_b]);
        String::from_utf8_lossy(&out.stdout).contains("xdp")
    }

    fn mac_b(&self) -> String {
        let out = sh(&[
            "ip",
            "netns",
            "exec",
            &self.ns_b,
            "cat",
            &format!("/sys/class/net/{}/address", self.dev_b),
        ]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for VethLab {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "pktgen failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "pktgen JSON: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or_else(|| panic!("no {path} in {v}"))
}

fn assert_complete(report: &Value, count: u64) {
    assert_eq!(u(report, "/tx/packets"), count, "{report}");
    assert_eq!(u(report, "/rx/packets"), count, "{report}");
    assert_eq!(u(report, "/rx/unique"), count, "{report}");
    assert_eq!(u(report, "/rx/lost"), 0, "{report}");
    assert_eq!(u(report, "/rx/duplicates"), 0, "{report}");
    assert_eq!(u(report, "/rx/reordered"), 0, "{report}");
    assert_eq!(u(report, "/rx/bad_ip_checksum"), 0, "{report}");
    assert_eq!(u(report, "/rx/expected"), count, "sequence complete: {report}");
    assert_eq!(u(report, "/rx/bytes"), u(report, "/tx/bytes"), "{report}");
    let lat = |q: &str| u(report, &format!("/rx/latency/{q}"));
    assert_eq!(lat("samples"), count, "{report}");
    let (min, p50, p99, max) = (lat("min_ns"), lat("p50_ns"), lat("p99_ns"), lat("max_ns"));
    assert!(min > 0 && min <= p50 && p50 <= p99 && p99 <= max, "{report}");
    // A veth hop takes microseconds; even a loaded 2-core machine stays far below 100 ms at p50.
    assert!(p50 < 100_000_000, "p50 {p50} ns: {report}");
}

#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn both_mode_over_a_veth_pair_loses_nothing() {
    require_root!();
    let lab = VethLab::new();
    let count = 20_000u64;
    // No --dst-mac: the destination MAC is resolved by ARP for --gw-ip before RX attaches XDP.
    let out = Command::new("timeout")
        .args(["60", PKTGEN, "both", "--dev", &lab.dev_a, "--netns", &lab.ns_a])
        .args(["--rx-dev", &lab.dev_b, "--rx-netns", &lab.ns_b, "--gw-ip", "192.0.2.2"])
        .args(["--src-ip", "192.0.2.1", "--dst-ip", "192.0.2.2", "--src-port", "1000-1003"])
        .args(["--count", &count.to_string(), "--rate", "20000", "--json", "-", "--quiet"])
        .output()
        .expect("run pktgen");
    let report = json_of(&out);
    assert_eq!(report["mode"], "both");
    assert_eq!(report["flows"], 4);
    assert_complete(&report, count);
    assert_eq!(u(&report, "/tx/bytes"), count * 64);
    assert!(!lab.xdp_on_b(), "pktgen left its XDP program on {}", lab.dev_b);
}

fn wait_for_xdp(ns: &str, dev: &str, rx: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let out = sh(&["ip", "-n", ns, "link", "show", "dev", dev]);
        if String::from_utf8_lossy(&out.stdout).contains("xdp") {
            return;
        }
        if let Ok(Some(status)) = rx.try_wait() {
            panic!("pktgen rx exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = rx.kill();
    panic!("pktgen rx did not attach XDP to {dev} in 10 s");
}

#[test]
#[ignore = "needs root: AF_XDP sockets and network namespaces"]
fn separate_tx_and_rx_processes_agree() {
    require_root!();
    let lab = VethLab::new();
    let count = 6_000u64;
    let mut rx = Command::new("timeout")
        .args(["60", "ip", "netns", "exec", &lab.ns_b, PKTGEN, "rx", "--dev", &lab.dev_b])
        .args(["--count", &count.to_string(), "--duration", "30", "--json", "-", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pktgen rx");
    wait_for_xdp(&lab.ns_b, &lab.dev_b, &mut rx);
    let tx = Command::new("timeout")
        .args(["60", "ip", "netns", "exec", &lab.ns_a, PKTGEN, "tx", "--dev", &lab.dev_a])
        .args(["--dst-mac", &lab.mac_b(), "--imix", "--flow-order", "random", "--dst-port", "9-12"])
        .args(["--count", &count.to_string(), "--rate", "10000", "--json", "-", "--quiet"])
        .output()
        .expect("run pktgen tx");
    let tx = json_of(&tx);
    let rx = json_of(&rx.wait_with_output().expect("wait for pktgen rx"));
    // Merge the two halves into one report shape and check it like the single-process run.
    let merged = serde_json::json!({ "tx": tx["tx"], "rx": rx["rx"] });
    assert_complete(&merged, count);
    // IMIX: 7 × 64 + 4 × 594 + 1 × 1518 bytes per 12 frames (6000 is 500 cycles).
    assert_eq!(u(&tx, "/tx/bytes"), 500 * (7 * 64 + 4 * 594 + 1518));
    assert!(!lab.xdp_on_b(), "pktgen rx left its XDP program on {}", lab.dev_b);
}
