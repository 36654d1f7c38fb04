//! End-to-end: the operator's active commands on the real `vnswitch` binary (AF_XDP ports,
//! namespace lab of the default topology plus a host H2 10.1.5.8 on a port of its own),
//! driven over telnet by `expect`: `traffic-shape rate 10000000` on interface h holds an
//! iperf3 TCP stream A -> H to 9-10.5 Mbit/s and `no traffic-shape` restores the full rate;
//! `ip redirect vrf z 10.1.5.7 10.1.5.8` makes A's ping to H reach H2 (tcpdump in H2's
//! namespace) and `no` restores it; the `/metrics` endpoint's counters move with traffic and
//! parse with the Python `prometheus_client` parser. Needs root: `#[ignore]`d without it.

mod common;

use common::*;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// This test's lab: the common names plus H2's namespace and device.
struct Lab {
    names: LabNames,
    ns_h2: String,
    dev_h2: String,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let names = LabNames::new(tag);
        let id = std::process::id() % 100_000;
        let t: String = tag.chars().take(3).collect();
        Lab { names, ns_h2: format!("ve{t}{id}i"), dev_h2: format!("ve{t}{id}I") }
    }

    fn cleanup(&self) {
        self.names.cleanup();
        if std::path::Path::new("/sys/class/net").join(&self.dev_h2).exists() {
            let _ =
                Command::new("ip").args(["link", "del", "dev", &self.dev_h2]).stderr(Stdio::null()).status();
        }
        if std::path::Path::new("/run/netns").join(&self.ns_h2).exists() {
            let _ = Command::new("ip").args(["netns", "del", &self.ns_h2]).stderr(Stdio::null()).status();
        }
    }

    /// The default topology with this lab's names, a port `h2` and host H2 on it.
    fn topology(&self) -> String {
        let text = topology_text(&self.names);
        let port = format!(
            "(name: \"h\", device: \"{}\", role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\")),\n        (name: \"h2\", device: \"{}\", role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\")),",
            self.names.dev_h, self.dev_h2
        );
        let old_port = format!(
            "(name: \"h\", device: \"{}\", role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\")),",
            self.names.dev_h
        );
        let old_host = format!(
            "(name: \"H\", address: \"10.1.5.7\", mac: \"00:00:7d:a2:34:11\", port: \"h\", netns: \"{}\"),",
            self.names.ns_h
        );
        let host = format!(
            "{old_host}\n                (name: \"H2\", address: \"10.1.5.8\", mac: \"00:00:7d:a2:34:22\", port: \"h2\", netns: \"{}\"),",
            self.ns_h2
        );
        assert!(text.contains(&old_port) && text.contains(&old_host), "default topology changed shape");
        text.replace(&old_port, &port).replace(&old_host, &host)
    }
}

struct App {
    lab: Lab,
    _dir: tempfile::TempDir,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    telnet_port: u16,
    metrics: String,
    _serial: MutexGuard<'static, ()>,
}

impl App {
    fn start(tag: &str) -> App {
        Self::start_edit(tag, |t| t)
    }

    /// [`start`](Self::start) with `edit` applied to the topology text.
    fn start_edit(tag: &str, edit: impl Fn(String) -> String) -> App {
        let serial = serial();
        let lab = Lab::new(tag);
        lab.cleanup();
        let dir = tempfile::tempdir().expect("tempdir");
        let topo = dir.path().join("topology.ron");
        std::fs::write(&topo, edit(lab.topology())).expect("write topology");
        let (child, log) = common::spawn_logged(
            Command::new(env!("CARGO_BIN_EXE_vnswitch"))
                .arg("run")
                .arg(&topo)
                .args(["--lab", "--no-console", "--telnet", "127.0.0.1:0", "--metrics", "127.0.0.1:0"])
                .args(["--worker-sched", "normal"]),
        );
        let mut app = App {
            lab,
            _dir: dir,
            child: Some(child),
            log,
            telnet_port: 0,
            metrics: String::new(),
            _serial: serial,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = app.log_text();
            if let Some(p) = log.lines().find_map(|l| l.strip_prefix("telnet: listening on ")) {
                app.telnet_port = p.rsplit(':').next().and_then(|p| p.trim().parse().ok()).unwrap_or(0);
            }
            if let Some(m) = log.lines().find_map(|l| l.strip_prefix("metrics: ")) {
                app.metrics = m.trim().to_string();
            }
            if log.contains("vnswitch: running") && app.telnet_port != 0 && !app.metrics.is_empty() {
                break;
            }
            if let Some(Ok(Some(status))) = app.child.as_mut().map(|c| c.try_wait()) {
                panic!("vnswitch exited early ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "vnswitch did not start within 30 s:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        app
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// Logs in over telnet as admin and runs `commands` (after `terminal length 0`).
    fn cli(&self, commands: &[&str]) -> String {
        let mut script = format!(
            "set timeout 20\nspawn telnet 127.0.0.1 {}\nexpect_after {{\n  timeout {{ puts \"\\nEXPECT-TIMEOUT\"; exit 2 }}\n  eof {{ puts \"\\nEXPECT-EOF\"; exit 3 }}\n}}\nexpect \"Username: \"\nsend \"admin\\r\"\nexpect \"Password: \"\nsend \"vnswitch\\r\"\nexpect -re {{[>#] ?$}}\nsend \"terminal length 0\\r\"\nexpect -re {{[>#] ?$}}\n",
            self.telnet_port
        );
        for c in commands {
            script.push_str(&format!("send \"{c}\\r\"\nexpect -re {{[>#] ?$}}\n"));
        }
        script.push_str("send \"exit\\r\"\nexpect eof\n");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.exp");
        std::fs::write(&path, script).expect("write expect script");
        let out = Command::new("expect").arg("-f").arg(&path).stdin(Stdio::null()).output().expect("expect");
        String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
    }

    /// `curl` of the metrics endpoint (a loopback address of the root namespace: the
    /// management side, not the lab).
    fn scrape(&self) -> String {
        let out = Command::new("curl").args(["-s", "--max-time", "5", &self.metrics]).output().expect("curl");
        String::from_utf8_lossy(&out.stdout).to_string()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of our own child; no memory is involved.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.lab.cleanup();
    }
}

/// Receiver throughput (bit/s) of a `secs`-second iperf3 TCP stream from A to H.
fn iperf_a_to_h(app: &App, secs: u32) -> f64 {
    let n = &app.lab.names;
    let mut server = Command::new("ip")
        .args(["netns", "exec", &n.ns_h, "timeout", "60", "iperf3", "-s", "-1", "-p", "5399"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 server");
    std::thread::sleep(Duration::from_millis(500));
    let t = secs.to_string();
    let out = ns_exec(&n.ns_a, &["iperf3", "-c", "10.1.5.7", "-p", "5399", "-t", &t, "-J"], secs + 30);
    let _ = server.kill();
    let _ = server.wait();
    let json = String::from_utf8_lossy(&out.stdout).to_string();
    // "sum_received": { ... "bits_per_second": N ...}
    let at =
        json.find("\"sum_received\"").unwrap_or_else(|| panic!("iperf3 failed:\n{json}\n{}", text(&out)));
    let rest = &json[at..];
    let b = rest.find("\"bits_per_second\"").expect("bits_per_second");
    let v = rest[b + 17..].trim_start_matches([':', ' ']);
    let end = v.find([',', '\n', '}']).unwrap_or(v.len());
    v[..end].trim().parse().unwrap_or_else(|_| panic!("bad iperf3 number in:\n{json}"))
}

/// The value of a sample line `name{labels} V` (or `name V`).
fn sample(exposition: &str, series: &str) -> u64 {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{exposition}"))
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP, iperf3 (sudo scripts/test runs it)"]
fn traffic_shape_holds_iperf3_to_the_rate_and_metrics_move() {
    require_root("traffic_shape_holds_iperf3_to_the_rate_and_metrics_move");
    let app = App::start("sh");
    let before = app.scrape();
    let tx_h0 = sample(&before, "vnswitch_port_tx_packets_total{port=\"h\"}");

    let out = app.cli(&["configure terminal", "interface h", "traffic-shape rate 10000000", "end"]);
    assert!(!out.contains('%'), "{out}");
    let shaped = iperf_a_to_h(&app, 8);
    eprintln!("shaped: {:.2} Mbit/s", shaped / 1e6);
    let pm = app.cli(&["show policy-map interface h"]);
    assert!(pm.contains("shape (average) cir 10000000"), "{pm}");
    assert!((9.0e6..=10.5e6).contains(&shaped), "shaped iperf3 at {:.2} Mbit/s\n{pm}", shaped / 1e6);

    let mid = app.scrape();
    assert!(sample(&mid, "vnswitch_port_tx_packets_total{port=\"h\"}") > tx_h0 + 1000, "{mid}");
    assert!(sample(&mid, "vnswitch_port_shape_conform_packets_total{port=\"h\"}") > 1000, "{mid}");
    assert!(sample(&mid, "vnswitch_drops_total{reason=\"shaped\"}") > 0, "{mid}");

    let out = app.cli(&["configure terminal", "interface h", "no traffic-shape", "end"]);
    assert!(!out.contains('%'), "{out}");
    let full = iperf_a_to_h(&app, 4);
    eprintln!("unshaped: {:.2} Mbit/s", full / 1e6);
    assert!(full > 30e6, "without shaping iperf3 reached only {:.2} Mbit/s", full / 1e6);

    // The exposition parses with the reference Python parser.
    let after = app.scrape();
    // The distribution's python (scripts/setup installs python3-prometheus-client there),
    // not a pyenv shim in front of it.
    let python =
        if std::path::Path::new("/usr/bin/python3").exists() { "/usr/bin/python3" } else { "python3" };
    let check = Command::new(python)
        .args([
            "-c",
            "import sys\nfrom prometheus_client.openmetrics.parser import text_string_to_metric_families as p\nfams = list(p(sys.stdin.read()))\nprint(len(fams))",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            if let Some(mut i) = c.stdin.take() {
                i.write_all(after.as_bytes())?;
            }
            c.wait_with_output()
        })
        .expect("python3");
    assert!(check.status.success(), "prometheus_client rejected the exposition: {}", text(&check));
    let families: usize = String::from_utf8_lossy(&check.stdout).trim().parse().unwrap_or(0);
    assert!(families >= 15, "{families} metric families");
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP, iperf3 (sudo scripts/test runs it)"]
fn tenant_service_level_rate_holds_iperf3_close_to_the_rate() {
    require_root("tenant_service_level_rate_holds_iperf3_close_to_the_rate");
    // Tenant z is gold: give gold a 10 Mbit/s rate. The tenant shaper queues what is over
    // the rate (it does not police), so TCP gets close to it.
    let gold = "(level: gold, fast_path: true),";
    let app = App::start_edit("ts", |t| {
        assert!(t.contains(gold), "default.ron changed shape");
        t.replace(gold, "(level: gold, fast_path: true, rate_mbps: 10),")
    });
    let shaped = iperf_a_to_h(&app, 8);
    eprintln!("tenant-shaped: {:.2} Mbit/s", shaped / 1e6);
    let m = app.scrape();
    let pm = app.cli(&["show policy-map interface h"]);
    assert!((9.0e6..=10.5e6).contains(&shaped), "iperf3 at {:.2} Mbit/s\n{pm}\n{m}", shaped / 1e6);
    assert!(sample(&m, "vnswitch_tenant_shape_conform_packets_total{tenant=\"z\"}") > 1000, "{m}");
    assert!(sample(&m, "vnswitch_tenant_shape_exceed_packets_total{tenant=\"z\"}") > 0, "{m}");
    assert!(pm.contains("Service-policy (vrf z, service-level gold): shape average 10 Mbit/s"), "{pm}");
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn ip_redirect_sends_h_traffic_to_h2_and_no_restores_it() {
    require_root("ip_redirect_sends_h_traffic_to_h2_and_no_restores_it");
    let app = App::start("rd");
    let n = app.lab.names.clone();
    // Warm up: both hosts answer (ARP for their gateway done).
    let _ = ns_exec(&app.lab.ns_h2, &["ping", "-c", "1", "-W", "2", "10.1.5.1"], 5);
    let _ = ns_exec(&n.ns_h, &["ping", "-c", "1", "-W", "2", "10.1.5.1"], 5);

    let out = app.cli(&["configure terminal", "ip redirect vrf z 10.1.5.7 10.1.5.8", "end"]);
    assert!(!out.contains('%'), "{out}");
    let cap_h2 = Capture::start(&app.lab.ns_h2, false, "icmp");
    let cap_h = Capture::start(&n.ns_h, true, "icmp");
    let ping = ns_exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    let h2 = cap_h2.finish();
    let h = cap_h.finish();
    let h2_text = h2.join("\n");
    assert!(
        h2.iter().filter(|l| l.contains("10.0.0.10 > 10.1.5.8: ICMP echo request")).count() >= 3,
        "H2 did not receive A's pings:\n{h2_text}\nping: {}\n{}",
        text(&ping),
        app.log_text()
    );
    assert!(
        h2.iter().any(|l| l.contains("10.1.5.8 > 10.0.0.10: ICMP echo reply")),
        "H2 did not answer:\n{h2_text}"
    );
    assert!(!h.iter().any(|l| l.contains("echo request")), "H still saw the pings:\n{}", h.join("\n"));
    let rc = app.cli(&["show running-config | include redirect"]);
    assert!(rc.contains("ip redirect vrf z 10.1.5.7 10.1.5.8"), "{rc}");
    assert!(sample(&app.scrape(), "vnswitch_redirected_total") >= 3);

    let out = app.cli(&["configure terminal", "no ip redirect vrf z 10.1.5.7", "end"]);
    assert!(!out.contains('%'), "{out}");
    let cap_h = Capture::start(&n.ns_h, true, "icmp");
    let ping = ns_exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    let h = cap_h.finish();
    assert!(ping.status.success(), "ping to H after `no ip redirect`: {}", text(&ping));
    assert!(h.iter().filter(|l| l.contains("echo request")).count() >= 3, "{}", h.join("\n"));
}
