//! Shared harness of the end-to-end tests: a copy of `topologies/default.ron` with unique
//! namespace and device names per test, the real `vnswitch` binary started on it with
//! `--lab`, helpers to run commands inside the lab's namespaces, and a Drop guard that stops
//! the appliance (SIGTERM, then SIGKILL) and removes every lab object by name even when the
//! test fails.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Root-only tests are marked `#[ignore = "needs root: …"]` (so that without root they count as
/// skipped, not passed) and call this first: run explicitly without root (`--ignored`), they fail
/// with a clear message instead of passing without testing anything.
pub fn require_root(test: &str) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(root, "{test} needs root (network namespaces, AF_XDP): run sudo scripts/test");
}

/// End-to-end tests share two cores: run them one at a time within a test binary.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Names of one test's lab: namespaces of hosts A, H, B and the appliance-side devices.
#[derive(Clone, Debug)]
pub struct LabNames {
    pub ns_a: String,
    pub ns_h: String,
    pub ns_b: String,
    pub dev_a: String,
    pub dev_h: String,
    pub dev_b: String,
}

impl LabNames {
    /// Unique per test (a 2-letter tag) and per process: at most 15 characters.
    pub fn new(tag: &str) -> LabNames {
        let id = std::process::id() % 100_000;
        let t: String = tag.chars().take(3).collect();
        let n = |suffix: &str| format!("ve{t}{id}{suffix}");
        LabNames { ns_a: n("a"), ns_h: n("h"), ns_b: n("b"), dev_a: n("A"), dev_h: n("H"), dev_b: n("B") }
    }

    /// Removes whatever exists of this lab (idempotent; a safety net behind `vnswitch`'s own).
    pub fn cleanup(&self) {
        for dev in [&self.dev_a, &self.dev_h, &self.dev_b] {
            if std::path::Path::new("/sys/class/net").join(dev).exists() {
                let _ = Command::new("ip").args(["link", "del", "dev", dev]).stderr(Stdio::null()).status();
            }
        }
        for ns in [&self.ns_a, &self.ns_h, &self.ns_b] {
            if std::path::Path::new("/run/netns").join(ns).exists() {
                let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
            }
        }
    }
}

/// The default topology with this test's names.
pub fn topology_text(names: &LabNames) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/default.ron");
    let text = std::fs::read_to_string(&path).expect("read topologies/default.ron");
    // Devices first: the namespace names are prefixes of them.
    text.replace("\"vns-a-sw\"", &format!("\"{}\"", names.dev_a))
        .replace("\"vns-h-sw\"", &format!("\"{}\"", names.dev_h))
        .replace("\"vns-b-sw\"", &format!("\"{}\"", names.dev_b))
        .replace("\"vns-a\"", &format!("\"{}\"", names.ns_a))
        .replace("\"vns-h\"", &format!("\"{}\"", names.ns_h))
        .replace("\"vns-b\"", &format!("\"{}\"", names.ns_b))
}

/// A running appliance with its lab. Dropping it stops the binary and removes the lab.
pub struct Appliance {
    pub names: LabNames,
    pub dir: tempfile::TempDir,
    pub stats_file: PathBuf,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    _serial: MutexGuard<'static, ()>,
}

impl Appliance {
    /// Writes the test's topology, starts `vnswitch run FILE --lab --no-console` and waits
    /// until it reports running (or fails with its log).
    pub fn start(tag: &str, extra: &[&str]) -> Appliance {
        Self::start_opts(tag, extra, true)
    }

    /// [`start`](Self::start), with the lab built by the binary (`--lab`) or not (the test
    /// builds it later, e.g. with `vnswitch lab up`; [`LabNames::cleanup`] removes it).
    pub fn start_opts(tag: &str, extra: &[&str], lab: bool) -> Appliance {
        let serial = serial();
        let names = LabNames::new(tag);
        names.cleanup();
        let dir = tempfile::tempdir().expect("tempdir");
        let topo = dir.path().join("topology.ron");
        std::fs::write(&topo, topology_text(&names)).expect("write topology");
        let stats_file = dir.path().join("stats.txt");
        let topo_s = topo.to_string_lossy().to_string();
        let stats_s = stats_file.to_string_lossy().to_string();
        let mut args = vec![
            "run",
            topo_s.as_str(),
            "--no-console",
            "--telnet",
            "127.0.0.1:0",
            "--stats-file",
            stats_s.as_str(),
        ];
        if lab {
            args.push("--lab");
        }
        // The default topology's agent listens on 127.0.0.1:161; tests take a free port
        // (`Appliance::snmp_addr`) so that parallel runs never collide.
        if !extra.contains(&"--snmp") {
            args.extend_from_slice(&["--snmp", "127.0.0.1:0"]);
        }
        // Likewise SSH (default 127.0.0.1:2222): a free port, the host key in the test's dir.
        if !extra.contains(&"--ssh") {
            args.extend_from_slice(&["--ssh", "127.0.0.1:0"]);
        }
        args.extend_from_slice(extra);
        let (child, log) = spawn_logged(Command::new(env!("CARGO_BIN_EXE_vnswitch")).args(&args));
        let mut app = Appliance { names, dir, stats_file, child: Some(child), log, _serial: serial };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if app.log_text().contains("vnswitch: running") {
                break;
            }
            if let Some(c) = app.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    std::thread::sleep(Duration::from_millis(100));
                    panic!("vnswitch exited early ({status}):\n{}", app.log_text());
                }
            }
            if Instant::now() > deadline {
                panic!("vnswitch did not report running within 20 s:\n{}", app.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        app
    }

    /// Everything the binary printed so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    /// The SNMP agent's `address:port` as the appliance reported it (`snmp: listening on …`).
    pub fn snmp_addr(&self) -> Option<String> {
        self.log_text().lines().find_map(|l| {
            l.strip_prefix("snmp: listening on ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_string)
        })
    }

    /// Runs a command inside namespace `ns`, with a timeout.
    pub fn exec(&self, ns: &str, args: &[&str], timeout_s: u32) -> Output {
        ns_exec(ns, args, timeout_s)
    }

    /// The stats file's current text (written by the appliance about every 200 ms).
    pub fn stats(&self) -> String {
        std::fs::read_to_string(&self.stats_file).unwrap_or_default()
    }

    /// A counter from the stats file: the number after `key` on the line starting with it.
    pub fn counter(&self, key: &str) -> u64 {
        stat_value(&self.stats(), key)
    }

    /// Stops the appliance with SIGTERM and returns its full log; the lab must then be gone.
    pub fn stop(&mut self) -> String {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on the pid of our own child; no memory is involved.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.log_text()
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        self.stop();
        self.names.cleanup();
    }
}

/// Stops a child appliance: SIGTERM, up to 10 s to exit, then SIGKILL; reaps it.
pub fn stop_child(child: Option<Child>) {
    if let Some(mut child) = child {
        // SAFETY: kill(2) on the pid of our own child; no memory is involved.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Removes lab objects by name, whatever exists of them (idempotent; the safety net of tests
/// whose lab names are fixed by a topology).
pub fn remove_lab(namespaces: &[&str], devices: &[&str]) {
    for dev in devices {
        if std::path::Path::new("/sys/class/net").join(dev).exists() {
            let _ = Command::new("ip").args(["link", "del", "dev", dev]).stderr(Stdio::null()).status();
        }
    }
    for ns in namespaces {
        if std::path::Path::new("/run/netns").join(ns).exists() {
            let _ = Command::new("ip").args(["netns", "del", ns]).stderr(Stdio::null()).status();
        }
    }
}

/// Starts `cmd` (stdin closed) with every line it prints on stdout and stderr collected.
pub fn spawn_logged(cmd: &mut Command) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let log = Arc::new(Mutex::new(Vec::new()));
    for stream in [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
    }
    (child, log)
}

/// `ip netns exec NS timeout T ARGS...`
pub fn ns_exec(ns: &str, args: &[&str], timeout_s: u32) -> Output {
    let t = timeout_s.to_string();
    let mut full = vec!["netns", "exec", ns, "timeout", t.as_str()];
    full.extend_from_slice(args);
    Command::new("ip").args(&full).stdin(Stdio::null()).output().expect("ip netns exec")
}

/// A background capture in a namespace: `tcpdump -l -n -v -i eth0 [-Q in] FILTER`, started
/// and confirmed listening before this returns.
pub struct Capture {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Capture {
    pub fn start(ns: &str, inbound_only: bool, filter: &str) -> Capture {
        Self::start_on(ns, "eth0", inbound_only, filter)
    }

    /// As [`Capture::start`] on interface `ifname` of the namespace.
    pub fn start_on(ns: &str, ifname: &str, inbound_only: bool, filter: &str) -> Capture {
        let mut args = vec!["netns", "exec", ns, "tcpdump", "-l", "-n", "-v", "-i", ifname];
        if inbound_only {
            args.extend_from_slice(&["-Q", "in"]);
        }
        args.extend(filter.split_whitespace());
        let mut child = Command::new("ip")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let ready = Arc::new(Mutex::new(false));
        if let Some(out) = child.stdout.take() {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(l);
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let ready = ready.clone();
            std::thread::spawn(move || {
                for l in BufReader::new(err).lines().map_while(Result::ok) {
                    if l.contains("listening on") {
                        *ready.lock().unwrap_or_else(|e| e.into_inner()) = true;
                    }
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !*ready.lock().unwrap_or_else(|e| e.into_inner()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let listening = *ready.lock().unwrap_or_else(|e| e.into_inner());
        // A capture that never started would make "saw nothing" assertions vacuous.
        assert!(listening, "tcpdump in {ns} did not start listening within 5 s");
        std::thread::sleep(Duration::from_millis(100));
        Capture { child, lines }
    }

    /// Stops the capture and returns the decoded lines.
    pub fn finish(mut self) -> Vec<String> {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill(2) on the pid of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        let v = self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
        v
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number following `key` on the first line of `stats` that starts with `key`.
pub fn stat_value(stats: &str, key: &str) -> u64 {
    stats
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|rest| rest.split_whitespace().next()?.parse().ok()))
        .unwrap_or(0)
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}
