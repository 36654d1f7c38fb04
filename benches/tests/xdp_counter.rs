//! The forwarding benchmark's receiver and ceiling: the XDP counter's latency bucket encoding
//! (pure), pktgen `count` over a veth pair with the counter attached, and xskfwd forwarding
//! between two veth pairs inside a namespace. The veth tests need root and clang: marked
//! `#[ignore]` (counted as skipped without root); `sudo scripts/test` runs them. Every
//! namespace is created with a unique name and removed by name on drop, also on failure.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use vnswitch_benches::pktgen::counter::{bucket_bounds, bucket_of, histogram_of, BUCKETS};

const PKTGEN: &str = env!("CARGO_BIN_EXE_pktgen");
const XSKFWD: &str = env!("CARGO_BIN_EXE_xskfwd");

#[test]
fn every_value_falls_inside_its_bucket_and_buckets_are_ordered() {
    let mut values: Vec<u64> = (0..5000).collect();
    for shift in 12..63 {
        for k in [0u64, 1, 3, 7, 15, 31] {
            values.push((1u64 << shift) + (k << (shift - 5)));
            values.push((1u64 << shift) - 1);
        }
    }
    values.push(u64::MAX);
    let mut last = 0;
    for &v in &values {
        let b = bucket_of(v);
        assert!(b < BUCKETS, "{v} -> bucket {b}");
        let (low, high) = bucket_bounds(b);
        assert!(low <= v && (v < high || high == u64::MAX), "{v} not in bucket {b} [{low}, {high})");
        // 16 buckets per power of two: a bucket is at most 1/16 of its lower bound wide.
        assert!(v < 16 || (high - low) * 16 <= low, "bucket {b} [{low}, {high}) too wide");
        if v >= last {
            assert!(b >= bucket_of(last), "buckets not monotonic at {last} -> {v}");
        }
        last = v;
    }
    assert_eq!(bucket_of(15), 15);
    assert_eq!(bucket_of(16), 16);
    assert_eq!(bucket_bounds(16), (16, 17));
    assert_eq!(bucket_of(1000), bucket_of(1023));
    assert_ne!(bucket_of(1023), bucket_of(1024));
}

#[test]
fn histogram_of_buckets_gives_percentiles_and_a_cdf_ending_at_one() {
    let mut buckets = vec![0u64; BUCKETS as usize];
    buckets[bucket_of(10_000) as usize] = 90; // 90 frames at ~10 us
    buckets[bucket_of(1_000_000) as usize] = 10; // 10 frames at ~1 ms
    let (h, cdf) = histogram_of(&buckets);
    assert_eq!(h.len(), 100);
    let p50 = h.value_at_quantile(0.5);
    assert!((9_500..=10_600).contains(&p50), "p50 {p50}");
    let p99 = h.value_at_quantile(0.99);
    assert!((950_000..=1_070_000).contains(&p99), "p99 {p99}");
    assert_eq!(cdf.len(), 2);
    assert!((cdf[0][1] - 0.9).abs() < 1e-9 && cdf[1][1] == 1.0, "{cdf:?}");
    assert!(cdf[0][0] > 10_000.0 && cdf[1][0] > 1_000_000.0, "{cdf:?}");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn sh(args: &[&str]) -> Output {
    let out = Command::new(args[0]).args(&args[1..]).output().expect("run command");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Compiles xdp_count.c with clang into a temporary file; None if clang is missing.
fn counter_object(tag: &str) -> Option<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/pktgen/xdp_count.c");
    let obj = std::env::temp_dir().join(format!("xdp_count-{}-{tag}.o", std::process::id()));
    let out = Command::new("clang")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output();
    match out {
        Err(_) => None,
        Ok(o) => {
            assert!(o.status.success(), "clang failed: {}", String::from_utf8_lossy(&o.stderr));
            Some(obj)
        }
    }
}

/// Namespaces (deleted, with their veths, on drop).
struct Lab {
    namespaces: Vec<String>,
}

impl Lab {
    fn id() -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        format!("{}{}", std::process::id() % 100_000, N.fetch_add(1, Ordering::Relaxed))
    }

    fn add_ns(&mut self, name: &str) {
        sh(&["ip", "netns", "add", name]);
        self.namespaces.push(name.to_string());
        // No IPv6 chatter (router solicitations, DAD) on the veths: only the test's frames.
        for key in ["net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"] {
            sh(&["ip", "netns", "exec", name, "sysctl", "-qw", key]);
        }
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    fn veth(&self, ns_a: &str, a: &str, ns_b: &str, b: &str) {
        sh(&["ip", "link", "add", a, "netns", ns_a, "type", "veth", "peer", "name", b, "netns", ns_b]);
        sh(&["ip", "-n", ns_a, "link", "set", a, "up"]);
        sh(&["ip", "-n", ns_b, "link", "set", b, "up"]);
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn xdp_on(ns: &str, dev: &str) -> bool {
    let out = sh(&["ip", "-n", ns, "link", "show", "dev", dev]);
    String::from_utf8_lossy(&out.stdout).contains("xdp")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "pktgen failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pktgen JSON: {e}\n{}", String::from_utf8_lossy(&out.stdout)))
}

fn u(v: &Value, path: &str) -> u64 {
    v.pointer(path).and_then(Value::as_u64).unwrap_or_else(|| panic!("no {path} in {v}"))
}

/// pktgen count from (ns_a, dev_a) to the counter on (ns_b, dev_b): the report as JSON.
fn count_run(ns_a: &str, dev_a: &str, ns_b: &str, dev_b: &str, count: u64, rate: u64) -> Value {
    let out = Command::new("timeout")
        .args(["60", PKTGEN, "count", "--dev", dev_a, "--netns", ns_a, "--rx-dev", dev_b, "--rx-netns", ns_b])
        .args(["--dst-mac", "02:00:00:00:00:99", "--src-ip", "192.0.2.1", "--dst-ip", "198.51.100.2"])
        .args(["--count", &count.to_string(), "--rate", &rate.to_string(), "--json", "-", "--quiet"])
        .output()
        .expect("run pktgen count");
    json_of(&out)
}

fn assert_counted(report: &Value, count: u64) {
    assert_eq!(report["mode"], "count", "{report}");
    assert_eq!(u(report, "/tx/packets"), count, "{report}");
    assert_eq!(u(report, "/rx/packets"), count, "every stamped frame counted once: {report}");
    assert_eq!(u(report, "/rx/lost"), 0, "{report}");
    assert_eq!(u(report, "/rx/bytes"), count * 64, "{report}");
    assert_eq!(u(report, "/rx/latency/samples"), count, "{report}");
    let (p50, p99) = (u(report, "/rx/latency/p50_ns"), u(report, "/rx/latency/p99_ns"));
    assert!(p50 > 0 && p50 <= p99 && p50 < 100_000_000, "{report}");
    let cdf = report["latency_cdf"].as_array().expect("latency_cdf");
    let last = cdf.last().and_then(|p| p[1].as_f64()).expect("cdf point");
    assert!((last - 1.0).abs() < 1e-9, "CDF ends at {last}: {report}");
}

#[test]
#[ignore = "needs root: XDP, AF_XDP sockets and network namespaces"]
fn the_xdp_counter_counts_every_stamped_frame_and_passes_the_rest() {
    assert!(is_root(), "needs root: run sudo scripts/test");
    let Some(obj) = counter_object("count") else {
        eprintln!("SKIPPED: needs clang");
        return;
    };
    let id = Lab::id();
    let mut lab = Lab { namespaces: Vec::new() };
    let (ns_a, ns_b, dev_a, dev_b) =
        (format!("pgc-{id}-a"), format!("pgc-{id}-b"), format!("pcA{id}"), format!("pcB{id}"));
    lab.add_ns(&ns_a);
    lab.add_ns(&ns_b);
    lab.veth(&ns_a, &dev_a, &ns_b, &dev_b);
    sh(&["ip", "-n", &ns_a, "addr", "add", "192.0.2.1/24", "dev", &dev_a]);
    sh(&["ip", "-n", &ns_b, "addr", "add", "192.0.2.2/24", "dev", &dev_b]);

    // count mode refuses to run without the counter.
    let out = Command::new(PKTGEN)
        .args(["count", "--dev", &dev_a, "--netns", &ns_a, "--rx-dev", &dev_b, "--rx-netns", &ns_b])
        .args(["--dst-mac", "02:00:00:00:00:99", "--count", "10"])
        .output()
        .expect("run pktgen");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no XDP program attached"), "{out:?}");

    let obj = obj.to_str().expect("utf-8 temp path");
    sh(&[
        PKTGEN,
        "counter-attach",
        "--dev",
        &dev_b,
        "--netns",
        &ns_b,
        "--xdp-obj",
        obj,
        "--xdp-mode",
        "native",
    ]);
    assert!(xdp_on(&ns_b, &dev_b));
    // Frames that are not pktgen's pass to the stack: ping (ARP + ICMP both ways) still works.
    sh(&["ip", "netns", "exec", &ns_a, "ping", "-c", "2", "-i", "0.2", "-W", "2", "192.0.2.2"]);

    let first = count_run(&ns_a, &dev_a, &ns_b, &dev_b, 5_000, 20_000);
    assert_counted(&first, 5_000);
    // A second run reports only its own frames (the maps are read before and after).
    // Unlimited rate over a path that loses nothing: pktgen says the generator set the figure.
    let second = count_run(&ns_a, &dev_a, &ns_b, &dev_b, 3_000, 0);
    assert_counted(&second, 3_000);
    assert_eq!(second["generator_limited"], true, "{second}");

    let out = sh(&[PKTGEN, "counter-detach", "--dev", &dev_b, "--netns", &ns_b]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("detached"), "{out:?}");
    assert!(!xdp_on(&ns_b, &dev_b), "the counter is still attached");
    let _ = std::fs::remove_file(obj);
}

fn wait_line(child: &mut Child, path: &std::path::Path, word: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).unwrap_or_default().contains(word) {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("xskfwd exited early ({status}): {}", std::fs::read_to_string(path).unwrap_or_default());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("xskfwd did not start in 15 s");
}

#[test]
#[ignore = "needs root: XDP, AF_XDP sockets and network namespaces"]
fn xskfwd_forwards_every_frame_from_one_veth_to_the_other() {
    assert!(is_root(), "needs root: run sudo scripts/test");
    let Some(obj) = counter_object("fwd") else {
        eprintln!("SKIPPED: needs clang");
        return;
    };
    let id = Lab::id();
    let mut lab = Lab { namespaces: Vec::new() };
    let (ns_a, ns_f, ns_b) = (format!("pgf-{id}-a"), format!("pgf-{id}-f"), format!("pgf-{id}-b"));
    let (a, fa, fb, b) = (format!("pfA{id}"), format!("pfI{id}"), format!("pfO{id}"), format!("pfB{id}"));
    lab.add_ns(&ns_a);
    lab.add_ns(&ns_f);
    lab.add_ns(&ns_b);
    lab.veth(&ns_a, &a, &ns_f, &fa);
    lab.veth(&ns_f, &fb, &ns_b, &b);
    let obj = obj.to_str().expect("utf-8 temp path");
    sh(&[PKTGEN, "counter-attach", "--dev", &b, "--netns", &ns_b, "--xdp-obj", obj]);

    let log = std::env::temp_dir().join(format!("xskfwd-{id}.log"));
    let file = std::fs::File::create(&log).expect("log file");
    let mut fwd = Command::new("ip")
        .args(["netns", "exec", &ns_f, XSKFWD, "--in-dev", &fa, "--out-dev", &fb])
        .args(["--dst-mac", "02:00:00:00:00:42", "--announce", "--duration", "40"])
        .stdout(Stdio::from(file.try_clone().expect("dup")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("spawn xskfwd");
    wait_line(&mut fwd, &log, "xskfwd: running");
    let report = count_run(&ns_a, &a, &ns_b, &b, 4_000, 20_000);
    let _ = Command::new("kill").args(["-INT", &fwd.id().to_string()]).status();
    let status = fwd.wait().expect("wait xskfwd");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "xskfwd: {status}: {text}");
    assert_counted(&report, 4_000);
    // xskfwd's own counters: everything received went out, nothing dropped.
    let line =
        text.lines().find(|l| l.starts_with("xskfwd: rx")).unwrap_or_else(|| panic!("no counters: {text}"));
    assert!(line.contains("rx 4000 tx 4000 completed 4000 not-ipv4 0 "), "{line}");
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(obj);
}
