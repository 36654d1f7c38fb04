//! End-to-end: ports and their devices (issue 11 item 2). `vnswitch run` starts when a port's
//! device is missing (the port is down with the reason), attaches the port when the device
//! appears, and when a device is removed while running marks that port down while forwarding
//! on the other ports goes on. Needs root: marked `#[ignore]` (skipped without root).

mod common;

use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// Waits up to `secs` for the stats file to say `port NAME ... link STATE`.
fn wait_link(app: &Appliance, port: &str, state: &str, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let want = format!(" link {state}");
    loop {
        let stats = app.stats();
        if stats.lines().any(|l| l.starts_with(&format!("port {port} ")) && l.ends_with(&want)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn missing_devices_do_not_stop_the_appliance_and_ports_follow_their_devices() {
    require_root("missing_devices_do_not_stop_the_appliance_and_ports_follow_their_devices");
    // No lab yet: none of the three devices exists.
    let app = Appliance::start_opts("dv", &[], false);
    let n = app.names.clone();
    let log = app.log_text();
    assert!(log.contains(&format!("port h: DOWN, device {} does not exist", n.dev_h)), "{log}");
    assert!(wait_link(&app, "a", "down", 5), "{}", app.stats());

    // The devices appear: every port attaches within a couple of seconds.
    let topo = app.dir.path().join("topology.ron");
    let up = Command::new(env!("CARGO_BIN_EXE_vnswitch"))
        .arg("lab")
        .arg("up")
        .arg(&topo)
        .output()
        .expect("lab up");
    assert!(up.status.success(), "lab up: {}", String::from_utf8_lossy(&up.stderr));
    for port in ["a", "h", "b"] {
        assert!(wait_link(&app, port, "up", 10), "port {port} did not attach:\n{}", app.stats());
    }
    let out = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.1.5.7"], 20);
    assert!(out.status.success(), "A -> H after attach:\n{}\n{}", text(&out), app.log_text());

    // H's device goes away: port h goes down, A still reaches its gateway and B its own.
    let del = Command::new("ip").args(["link", "del", "dev", &n.dev_h]).status().expect("ip link del");
    assert!(del.success());
    assert!(wait_link(&app, "h", "down", 5), "port h not marked down:\n{}", app.stats());
    let gw = app.exec(&n.ns_a, &["ping", "-c", "3", "-i", "0.3", "-W", "2", "10.0.0.1"], 20);
    assert!(gw.status.success(), "A -> J with h gone:\n{}", text(&gw));
    let b = app.exec(&n.ns_b, &["ping", "-c", "2", "-i", "0.3", "-W", "2", "10.0.0.1"], 20);
    assert!(b.status.success(), "B -> Y with h gone:\n{}", text(&b));
    let lost = app.exec(&n.ns_a, &["ping", "-c", "2", "-i", "0.3", "-W", "1", "10.1.5.7"], 20);
    assert!(!lost.status.success(), "A -> H cannot work without h's device");
    assert!(wait_link(&app, "a", "up", 1) && wait_link(&app, "b", "up", 1));
    let stats = app.stats();
    assert!(stat_value(&stats, "drop egress_down") >= 2, "{stats}");
}

/// Issue 11 item 1 end to end: the shell's ping and traceroute (random identifiers, one
/// answer slot per probe) through the real workers and hosts, over telnet.
#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn shell_ping_and_traceroute_reach_real_hosts() {
    require_root("shell_ping_and_traceroute_reach_real_hosts");
    let app = Appliance::start("pr", &[]);
    let log = app.log_text();
    let port = log
        .lines()
        .find_map(|l| l.split("telnet: listening on ").nth(1))
        .and_then(|a| a.rsplit(':').next())
        .map(str::trim)
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no telnet address in the log:\n{log}"));
    let script = format!(
        r#"
set timeout 30
spawn telnet 127.0.0.1 {port}
expect "Username: "
send "admin\r"
expect "Password: "
send "vnswitch\r"
expect "vnswitch#"
send "terminal length 0\r"
expect "vnswitch#"
send "ping vrf z 10.1.5.7 repeat 3\r"
expect "vnswitch#"
send "traceroute vrf z 10.1.5.7\r"
expect "vnswitch#"
send "exit\r"
expect eof
"#
    );
    let out = Command::new("expect").args(["-c", &script]).output().expect("expect");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert!(text.contains("!!!\nSuccess rate is 100 percent (3/3)"), "{text}");
    // Probes start at L (the router on H's subnet): H is the first hop.
    assert!(text.contains("  1 10.1.5.7 "), "{text}");
}
