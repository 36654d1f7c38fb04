//! End-to-end: two `vnswitch` processes (topologies/two-a.ron, node sw1, and two-b.ron, node
//! sw2) joined by one substrate veth carry tenant t between host X (behind sw1) and host Y
//! (behind sw2) over VXLAN. The appliance where a frame enters emulates the logical hops; the
//! other delivers it. Real ping, traceroute and nc are the peers. Needs root.

mod common;

use common::{ns_exec, require_root, stat_value, text};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const NAMESPACES: [&str; 2] = ["vns-2-x", "vns-2-y"];
const DEVICES: [&str; 3] = ["vns-2a-up", "vns-2x-sw", "vns-2y-sw"];

fn cleanup() {
    common::remove_lab(&NAMESPACES, &DEVICES);
}

/// One appliance process.
struct Node {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    stats: PathBuf,
}

impl Node {
    fn start(topology: &str, dir: &Path) -> Node {
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies").join(topology);
        let stats = dir.join(format!("{topology}.stats"));
        let (child, log) = common::spawn_logged(
            Command::new(env!("CARGO_BIN_EXE_vnswitch"))
                .arg("run")
                .arg(&file)
                .args(["--lab", "--no-console", "--telnet", "127.0.0.1:0", "--stats-file"])
                .arg(&stats),
        );
        let mut n = Node { child, log, stats };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !n.log_text().contains("vnswitch: running") {
            if let Ok(Some(st)) = n.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("{topology}: vnswitch exited ({st}):\n{}", n.log_text());
            }
            assert!(Instant::now() < deadline, "{topology} did not start:\n{}", n.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).join("\n")
    }

    fn counter(&self, key: &str) -> u64 {
        stat_value(&std::fs::read_to_string(&self.stats).unwrap_or_default(), key)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Cleanup;
impl Drop for Cleanup {
    fn drop(&mut self) {
        cleanup();
    }
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn two_appliances_carry_one_tenant_across_a_substrate_veth() {
    require_root("two_appliances_carry_one_tenant_across_a_substrate_veth");
    cleanup();
    let _cleanup = Cleanup;
    let ok = Command::new("ip")
        .args(["link", "add", "vns-2a-up", "type", "veth", "peer", "name", "vns-2b-up"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot create the substrate veth");
    for d in ["vns-2a-up", "vns-2b-up"] {
        let _ = Command::new("ip").args(["link", "set", "dev", d, "addrgenmode", "none"]).status();
        let _ = Command::new("ip").args(["link", "set", "dev", d, "up"]).status();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Node::start("two-a.ron", dir.path());
    let b = Node::start("two-b.ron", dir.path());
    let logs = || format!("--- sw1:\n{}\n--- sw2:\n{}", a.log_text(), b.log_text());
    // The first frames may race ARP between the two VTEPs.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ns_exec("vns-2-x", &["ping", "-c", "1", "-W", "1", "10.30.2.10"], 5).status.success() {
        assert!(Instant::now() < deadline, "X never reached Y\n{}", logs());
    }
    let out = ns_exec("vns-2-x", &["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.30.2.10"], 20);
    let p = text(&out);
    assert!(p.contains("3 received"), "{p}\n{}", logs());
    // Y's replies crossed L and J (emulated by sw2, where they entered): 64 - 2.
    assert!(p.contains("ttl=62"), "{p}");
    let tr =
        text(&ns_exec("vns-2-x", &["traceroute", "-n", "-q", "1", "-w", "2", "-m", "6", "10.30.2.10"], 40));
    let hops: Vec<String> =
        tr.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect();
    assert_eq!(hops, ["10.30.1.1", "192.168.230.2", "10.30.2.10"], "{tr}");
    // And the other way round, with a TCP stream.
    let dst = dir.path().join("got.bin");
    let mut server = Command::new("ip")
        .args(["netns", "exec", "vns-2-x", "timeout", "20", "sh", "-c"])
        .arg(format!("nc -l -p 5002 > {}", dst.to_string_lossy()))
        .spawn()
        .expect("nc server");
    std::thread::sleep(Duration::from_millis(300));
    let send = ns_exec(
        "vns-2-y",
        &["sh", "-c", "head -c 300000 /dev/zero | tr '\\0' 'v' | nc -N -w 10 10.30.1.10 5002"],
        20,
    );
    let _ = server.wait();
    let got = std::fs::read(&dst).unwrap_or_default();
    assert!(send.status.success(), "{}", text(&send));
    assert_eq!(got.len(), 300_000, "TCP Y -> X\n{}", logs());
    assert!(got.iter().all(|&c| c == b'v'));
    std::thread::sleep(Duration::from_millis(400));
    assert!(a.counter("encapsulated") > 0 && b.counter("decapsulated") > 0, "{}", logs());
}
