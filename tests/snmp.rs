//! End-to-end SNMP: the real `vnswitch` binary answers the real Debian `snmpwalk`,
//! `snmpbulkwalk`, `snmpget` and `snmpset` (package `snmp`, installed by scripts/setup) on
//! 127.0.0.1. OIDs are numeric (`-On -m ''`): Debian ships no IETF MIB files without
//! `snmp-mibs-downloader`, which needs the network.
//!
//! `snmp_on_the_management_address` runs without root (in-memory ports): views per community,
//! GetBulk, refusals. `snmp_counters_move_with_traffic` needs root (namespace lab, AF_XDP):
//! J Gi0/0's ifHCInOctets grows with a ping from A through the appliance. Both talk only to
//! the root namespace's loopback; lab addresses are used only inside the lab's namespaces.

mod common;

use common::*;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Each of the snmp client tools is present, or the test fails saying how to get them.
fn tools_present() {
    for tool in ["snmpwalk", "snmpbulkwalk", "snmpget", "snmpset"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`{tool}` is required by the SNMP tests: run scripts/setup (apt-get install snmp)");
    }
}

/// `TOOL -v2c -c COMMUNITY -On -m '' -t 1 -r RETRIES ADDR ARGS…`
fn snmp(tool: &str, community: &str, addr: &str, retries: u32, args: &[&str]) -> Output {
    let r = retries.to_string();
    let mut full = vec!["-v2c", "-c", community, "-On", "-m", "", "-t", "1", "-r", r.as_str(), addr];
    full.extend_from_slice(args);
    Command::new(tool).args(&full).stdin(Stdio::null()).output().expect("run the snmp tool")
}

/// Lines `OID = TYPE: VALUE` of a successful walk or get, as (oid, rest).
fn varbinds(o: &Output) -> Vec<(String, String)> {
    assert!(o.status.success(), "snmp tool failed:\n{}", text(o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(a, b)| (a.to_string(), b.to_string())))
        .filter(|(_, v)| !v.starts_with("No more variables"))
        .collect()
}

/// The rows of one column (`.1.3.6.1.2.1.2.2.1.2`) as (index, value).
fn column(vbs: &[(String, String)], col: &str) -> Vec<(String, String)> {
    vbs.iter()
        .filter_map(|(o, v)| o.strip_prefix(col)?.strip_prefix('.').map(|i| (i.to_string(), v.clone())))
        .filter(|(i, _)| !i.contains('.'))
        .collect()
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

const IF_DESCR: &str = ".1.3.6.1.2.1.2.2.1.2";
const IF_PHYS: &str = ".1.3.6.1.2.1.2.2.1.6";
const IF_HC_IN_OCTETS: &str = ".1.3.6.1.2.1.31.1.1.1.6";

/// `vnswitch run default.ron --ports mem` with the agent on a free loopback port; killed on drop.
struct MemAppliance {
    child: std::process::Child,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl MemAppliance {
    fn start() -> (MemAppliance, String) {
        let topo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies/default.ron");
        let (child, log) =
            spawn_logged(Command::new(env!("CARGO_BIN_EXE_vnswitch")).arg("run").arg(&topo).args([
                "--ports",
                "mem",
                "--no-console",
                "--telnet",
                "127.0.0.1:0",
                "--metrics",
                "off",
                "--snmp",
                "127.0.0.1:0",
            ]));
        let app = MemAppliance { child, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = app.log.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
            if let Some(addr) = text.lines().find_map(|l| {
                l.strip_prefix("snmp: listening on ")
                    .and_then(|r| r.split_whitespace().next())
                    .map(str::to_string)
            }) {
                return (app, addr);
            }
            assert!(Instant::now() < deadline, "vnswitch did not start its SNMP agent:\n{text}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MemAppliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// No trace of another view in a walk's output: the strings, MACs (as snmpwalk prints them)
/// and names listed.
fn assert_absent(walk: &Output, what: &str, needles: &[&str]) {
    let out = text(walk);
    for n in needles {
        assert!(!out.contains(n), "{what} shows {n:?}:\n{out}");
    }
}

#[test]
fn snmp_on_the_management_address() {
    tools_present();
    let (_app, addr) = MemAppliance::start();

    // The system group with the administrator's community.
    let sys = varbinds(&snmp("snmpwalk", "vns-admin", &addr, 1, &[".1.3.6.1.2.1.1"]));
    let descr = format!(
        "STRING: \"vnswitch {}, multi-tenant virtual network switch appliance\"",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sys[0], (".1.3.6.1.2.1.1.1.0".to_string(), descr));
    assert_eq!(sys[1], (".1.3.6.1.2.1.1.2.0".to_string(), "OID: .1.3.6.1.4.1.32473.1".to_string()));
    assert!(sys[2].1.starts_with("Timeticks: ("), "{sys:?}");
    assert_eq!(
        sys[3..],
        rows(&[
            (".1.3.6.1.2.1.1.4.0", "STRING: \"noc@example.net\""),
            (".1.3.6.1.2.1.1.5.0", "STRING: \"vnswitch\""),
            (".1.3.6.1.2.1.1.6.0", "STRING: \"lab\""),
            (".1.3.6.1.2.1.1.7.0", "INTEGER: 6"),
        ])
    );

    // Admin: every port of the appliance.
    let admin = snmp("snmpwalk", "vns-admin", &addr, 1, &[".1"]);
    let vbs = varbinds(&admin);
    assert_eq!(
        column(&vbs, IF_DESCR),
        rows(&[("1", "STRING: \"a\""), ("2", "STRING: \"h\""), ("3", "STRING: \"b\"")])
    );
    assert!(vbs.contains(&(".1.3.6.1.2.1.2.1.0".into(), "INTEGER: 3".into())), "{vbs:?}");
    // GetBulk (snmpbulkwalk) returns the same objects in the same order as GetNext.
    let bulk = varbinds(&snmp("snmpbulkwalk", "vns-admin", &addr, 1, &["-Cr50", ".1"]));
    let names = |v: &[(String, String)]| v.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>();
    assert_eq!(names(&bulk), names(&vbs));

    // Tenant z: J and L only, nothing of tenant y or of the substrate.
    let z = snmp("snmpwalk", "z-public", &addr, 1, &[".1"]);
    let vbs = varbinds(&z);
    assert_eq!(
        column(&vbs, IF_DESCR),
        rows(&[
            ("1", "STRING: \"J Gi0/0\""),
            ("2", "STRING: \"J Gi0/1\""),
            ("3", "STRING: \"L Gi0/0\""),
            ("4", "STRING: \"L Gi0/1\""),
        ])
    );
    assert_eq!(
        column(&vbs, IF_PHYS),
        rows(&[
            ("1", "Hex-STRING: 00 01 42 09 88 73 "),
            ("2", "Hex-STRING: 00 01 42 09 88 74 "),
            ("3", "Hex-STRING: 00 01 42 CD 11 01 "),
            ("4", "Hex-STRING: 00 01 42 CD 11 02 "),
        ])
    );
    assert_absent(
        &z,
        "z's walk",
        &["Y Gi0/0", "tenant y", "00 01 42 00 00 B1", "vns-", "y-public", "\"b\"", "port b"],
    );

    // Tenant y: Y only.
    let y = snmp("snmpwalk", "y-public", &addr, 1, &[".1"]);
    let vbs = varbinds(&y);
    assert_eq!(column(&vbs, IF_DESCR), rows(&[("1", "STRING: \"Y Gi0/0\"")]));
    assert_eq!(column(&vbs, IF_PHYS), rows(&[("1", "Hex-STRING: 00 01 42 00 00 B1 ")]));
    assert_absent(
        &y,
        "y's walk",
        &["J Gi0", "L Gi0", "00 01 42 09 88", "00 01 42 CD 11", "vns-", "z-public", "port a", "port h"],
    );

    // A wrong community: no answer at all (the client times out), counted.
    let t0 = Instant::now();
    let wrong = snmp("snmpget", "guess", &addr, 0, &[".1.3.6.1.2.1.1.5.0"]);
    assert!(!wrong.status.success(), "{}", text(&wrong));
    assert!(text(&wrong).contains("Timeout: No Response"), "{}", text(&wrong));
    assert!(t0.elapsed() >= Duration::from_millis(900), "answered before the timeout?");
    let bad = varbinds(&snmp("snmpget", "vns-admin", &addr, 1, &[".1.3.6.1.2.1.11.4.0"]));
    assert_eq!(bad, rows(&[(".1.3.6.1.2.1.11.4.0", "Counter32: 1")]));

    // Set is refused and changes nothing.
    let set = snmp("snmpset", "vns-admin", &addr, 1, &[".1.3.6.1.2.1.1.5.0", "s", "pwned"]);
    assert!(!set.status.success());
    assert!(text(&set).contains("Reason: noAccess"), "{}", text(&set));
    let name = varbinds(&snmp("snmpget", "vns-admin", &addr, 1, &[".1.3.6.1.2.1.1.5.0"]));
    assert_eq!(name, rows(&[(".1.3.6.1.2.1.1.5.0", "STRING: \"vnswitch\"")]));
    // Exceptions, not errors.
    let ex =
        varbinds(&snmp("snmpget", "z-public", &addr, 1, &[".1.3.6.1.2.1.4.1.0", ".1.3.6.1.2.1.2.2.1.2.9"]));
    assert!(ex[0].1.starts_with("No Such Object"), "{ex:?}");
    assert!(ex[1].1.starts_with("No Such Instance"), "{ex:?}");
}

/// `ifHCInOctets.1` (J Gi0/0) as z's community reads it.
fn j_in_octets(addr: &str) -> u64 {
    let v = varbinds(&snmp("snmpget", "z-public", addr, 1, &[&format!("{IF_HC_IN_OCTETS}.1")]));
    let (_, val) = v.first().expect("one varbind");
    val.strip_prefix("Counter64: ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a Counter64: {val}"))
}

#[test]
#[ignore = "needs root: network namespaces, AF_XDP (sudo scripts/test runs it)"]
fn snmp_counters_move_with_traffic() {
    require_root("snmp_counters_move_with_traffic");
    tools_present();
    let app = Appliance::start("sn", &[]);
    let n = app.names.clone();
    let addr = app.snmp_addr().unwrap_or_else(|| panic!("no SNMP agent:\n{}", app.log_text()));

    // Views on a running lab: z sees J and L, y sees Y, neither the other's.
    let z = snmp("snmpwalk", "z-public", &addr, 1, &[".1.3.6.1.2.1"]);
    let vbs = varbinds(&z);
    let descr: Vec<String> = column(&vbs, IF_DESCR).into_iter().map(|(_, v)| v).collect();
    assert_eq!(
        descr,
        ["STRING: \"J Gi0/0\"", "STRING: \"J Gi0/1\"", "STRING: \"L Gi0/0\"", "STRING: \"L Gi0/1\""]
    );
    assert_absent(&z, "z's walk", &["Y Gi0/0", "00 01 42 00 00 B1", &n.dev_b, &n.dev_a, "y-public"]);
    let y = snmp("snmpwalk", "y-public", &addr, 1, &[".1.3.6.1.2.1"]);
    assert_absent(&y, "y's walk", &["J Gi0", "L Gi0", "00 01 42 09 88 73", &n.dev_a, &n.dev_h, "z-public"]);
    // Every port is up in the admin's ifOperStatus.
    let admin = varbinds(&snmp("snmpwalk", "vns-admin", &addr, 1, &[".1.3.6.1.2.1.2.2.1.8"]));
    assert_eq!(admin.iter().filter(|(_, v)| v == "INTEGER: 1").count(), 3, "{admin:?}\n{}", app.log_text());

    // A ping from A through J: J Gi0/0's input octets grow by at least the echo requests.
    let before = j_in_octets(&addr);
    let out = app.exec(&n.ns_a, &["ping", "-c", "5", "-i", "0.2", "-W", "2", "10.1.5.7"], 20);
    assert!(text(&out).contains("5 received"), "ping A -> H failed:\n{}\n{}", text(&out), app.log_text());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = j_in_octets(&addr);
    // 5 echo requests of 98 bytes (Ethernet + IPv4 + ICMP + 56 bytes) at least.
    while after < before + 5 * 98 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        after = j_in_octets(&addr);
    }
    assert!(after >= before + 5 * 98, "ifHCInOctets of J Gi0/0 went from {before} to {after}");

    // A wrong community gets no answer.
    let wrong = snmp("snmpget", "z-private", &addr, 0, &[".1.3.6.1.2.1.1.5.0"]);
    assert!(text(&wrong).contains("Timeout: No Response"), "{}", text(&wrong));
}
