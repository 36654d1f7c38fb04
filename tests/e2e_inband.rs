//! End-to-end: in-band management on the real `vnswitch` binary (AF_XDP ports, namespace lab
//! of the default topology). The stock `telnet` client, driven by `expect` inside host A's
//! namespace, opens `telnet 10.0.0.1` and gets router J of tenant z: `z-ops` logs in to a
//! `J#` prompt, `show ip route` shows J's table (10.1.5.0/24 via 192.168.100.2), `show
//! substrate` is refused; tenant y's `y-ops` is refused on J and the refusal is in the
//! management telnet's `show logging`; from B (tenant y, the same 10.0.0.10) `telnet
//! 10.0.0.1` reaches router Y. A SYN flood from A to 10.0.0.1:23 (raw socket) leaves B's
//! session to Y and A's ping to H working, and shows in the `mgmt_*` drop counters. The same
//! router addresses answer the OpenSSH client (port 22, the same scoped session) and
//! `snmpget`/`snmpwalk` with the tenant's community (the router's interfaces, counters that
//! move with traffic; any other community gets no answer). Needs root: `#[ignore]`d without it.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs `telnet HOST [PORT]` under `expect` in namespace `ns` (None: the root namespace,
/// for the management address only): for each step, waits for the text then sends the line.
/// Returns the transcript and whether every step matched.
fn telnet(dir: &Path, name: &str, ns: Option<&str>, target: &str, steps: &[(&str, &str)]) -> (String, bool) {
    dialogue(dir, name, ns, &format!("telnet {target}"), steps)
}

/// Runs `command` under `expect` in namespace `ns` (None: the root namespace), answering each
/// expected text with its line. Returns the transcript and whether every step matched.
fn dialogue(
    dir: &Path,
    name: &str,
    ns: Option<&str>,
    command: &str,
    steps: &[(&str, &str)],
) -> (String, bool) {
    let mut script = String::from("set timeout 10\nlog_user 1\n");
    script.push_str(&format!("spawn {command}\n"));
    for (want, send) in steps {
        script.push_str(&format!(
            "expect {{\n  -exact {{{want}}} {{}}\n  timeout {{ puts \"\\nEXPECT-TIMEOUT waiting for {want}\"; exit 2 }}\n  eof {{ puts \"\\nEXPECT-EOF waiting for {want}\"; exit 3 }}\n}}\n"
        ));
        script.push_str(&format!("send -- {{{send}}}\nsend -- \"\\r\"\n"));
    }
    script.push_str("expect { eof {} timeout {} }\n");
    let path = dir.join(format!("{name}.exp"));
    std::fs::write(&path, script).expect("write expect script");
    let p = path.to_string_lossy().to_string();
    let out = match ns {
        Some(ns) => ns_exec(ns, &["expect", "-f", &p], 40),
        None => std::process::Command::new("timeout")
            .args(["40", "expect", "-f", &p])
            .stdin(std::process::Stdio::null())
            .output()
            .expect("expect"),
    };
    (text(&out), out.status.success())
}

/// The SYN flood: `n` TCP SYNs from random ports to `dst`:23 through a raw socket.
const SYN_FLOOD: &str = r#"
import random, socket, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
for i in range(n):
    sport = random.randint(1024, 65535)
    tcp = struct.pack("!HHIIBBHHH", sport, 23, random.getrandbits(32), 0, 5 << 4, 0x02, 64240, 0, 0)
    pseudo = struct.pack("!4s4sBBH", socket.inet_aton(src), socket.inet_aton(dst), 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    s.sendto(tcp, (dst, 0))
print("sent", n)
"#;

fn telnet_port(app: &Appliance) -> String {
    let log = app.log_text();
    log.lines()
        .find_map(|l| l.strip_prefix("telnet: listening on "))
        .map(|a| a.replace(':', " "))
        .expect("management telnet address in the log")
}

#[test]
#[ignore = "needs root: network namespaces and AF_XDP"]
fn telnet_to_the_gateway_opens_the_tenants_router() {
    require_root("telnet_to_the_gateway_opens_the_tenants_router");
    let app = Appliance::start("ib", &[]);
    let n = app.names.clone();
    let dir = app.dir.path().to_path_buf();
    // The lab is up once A reaches its gateway.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.exec(&n.ns_a, &["ping", "-c", "1", "-W", "1", "10.0.0.1"], 3).status.success() {
        assert!(Instant::now() < deadline, "A cannot ping its gateway:\n{}", app.log_text());
    }

    // z-ops on J from A.
    let (t, ok) = telnet(
        &dir,
        "z",
        Some(&n.ns_a),
        "10.0.0.1",
        &[
            ("Username: ", "z-ops"),
            ("Password: ", "z-ops"),
            ("J#", "terminal length 0"),
            ("J#", "show ip route"),
            ("J#", "show substrate"),
            ("J#", "exit"),
        ],
    );
    assert!(ok, "z-ops session on J:\n{t}");
    assert!(t.contains("O        10.1.5.0/24 [110/10] via 192.168.100.2"), "J's table:\n{t}");
    assert!(t.contains("C        10.0.0.0/24 is directly connected"), "{t}");
    assert!(!t.contains("logical router L"), "only J's table:\n{t}");
    assert!(t.contains("% Access denied: 'show substrate' is reserved to administrators."), "{t}");

    // y-ops is not a user of tenant z: refused on J.
    let (t, _) =
        telnet(&dir, "yj", Some(&n.ns_a), "10.0.0.1", &[("Username: ", "y-ops"), ("Password: ", "y-ops")]);
    assert!(t.contains("% Access denied: user y-ops is not allowed on router J"), "{t}");
    assert!(!t.contains("J#"), "{t}");

    // From B (tenant y, also 10.0.0.10) the same address is router Y.
    let (t, ok) = telnet(
        &dir,
        "yy",
        Some(&n.ns_b),
        "10.0.0.1",
        &[("Username: ", "y-ops"), ("Password: ", "y-ops"), ("Y#", "show ip route"), ("Y#", "exit")],
    );
    assert!(ok, "y-ops on Y:\n{t}");
    assert!(t.contains("10.0.0.0/24 is directly connected") && !t.contains("10.1.5.0"), "Y's table:\n{t}");

    // The refusal (and the in-band lines) in the administrator's log.
    let mgmt = telnet_port(&app);
    let (t, ok) = telnet(
        &dir,
        "admin",
        None,
        &mgmt,
        &[
            ("Username: ", "admin"),
            ("Password: ", "vnswitch"),
            ("#", "terminal length 0"),
            ("#", "show logging | include y-ops"),
            ("#", "exit"),
        ],
    );
    assert!(ok, "admin on the management telnet:\n{t}");
    assert!(t.contains("LOGIN_REFUSED") && t.contains("not allowed on router J"), "{t}");
    assert!(t.contains("line: vty-Y 0"), "{t}");

    // A SYN flood from A at J's telnet port, while B logs in to Y and A pings H.
    let flood_ns = n.ns_a.clone();
    let flood = std::thread::spawn(move || {
        ns_exec(&flood_ns, &["python3", "-c", SYN_FLOOD, "10.0.0.10", "10.0.0.1", "5000"], 60)
    });
    let (t, ok) = telnet(
        &dir,
        "yflood",
        Some(&n.ns_b),
        "10.0.0.1",
        &[("Username: ", "y-ops"), ("Password: ", "y-ops"), ("Y#", "show ip route"), ("Y#", "exit")],
    );
    let ping = app.exec(&n.ns_a, &["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.1.5.7"], 10);
    let flooded = flood.join().expect("flood thread");
    assert!(text(&flooded).contains("sent 5000"), "{}", text(&flooded));
    assert!(ok, "y-ops on Y during z's flood:\n{t}");
    assert!(ping.status.success(), "A -> H during the flood:\n{}", text(&ping));
    std::thread::sleep(Duration::from_millis(500));
    let stats = app.stats();
    let limited = stat_value(&stats, "drop mgmt_rate_limited ");
    let full = stat_value(&stats, "drop mgmt_queue_full ");
    let punted = stat_value(&stats, "mgmt_punted ");
    assert!(limited + full > 0, "the flood shows in the drop counters:\n{stats}");
    assert!(punted > 0 && punted < 5000, "punted {punted}:\n{stats}");
    eprintln!("SYN flood of 5000: punted {punted}, mgmt_rate_limited {limited}, mgmt_queue_full {full}");
}

/// `snmpget`/`snmpwalk` (numeric OIDs, Debian ships no IETF MIB files) from namespace `ns`.
fn snmp(ns: &str, tool: &str, community: &str, target: &str, oid: &str) -> (String, bool) {
    let out =
        ns_exec(ns, &[tool, "-v2c", "-c", community, "-On", "-m", "", "-t", "1", "-r", "1", target, oid], 20);
    (text(&out), out.status.success())
}

/// The Counter64 value of a one-line `snmpget -On` answer.
fn counter64(answer: &str) -> u64 {
    answer
        .lines()
        .find_map(|l| l.split("Counter64: ").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Counter64 in {answer}"))
}

#[test]
#[ignore = "needs root: network namespaces and AF_XDP"]
fn ssh_and_snmp_on_the_gateway_address() {
    require_root("ssh_and_snmp_on_the_gateway_address");
    let app = Appliance::start("ibs", &[]);
    let n = app.names.clone();
    let dir = app.dir.path().to_path_buf();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !app.exec(&n.ns_a, &["ping", "-c", "1", "-W", "1", "10.0.0.1"], 3).status.success() {
        assert!(Instant::now() < deadline, "A cannot ping its gateway:\n{}", app.log_text());
    }

    // OpenSSH from A to J's address: the same scoped session as in-band telnet.
    let ssh = "ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PubkeyAuthentication=no";
    let (t, ok) = dialogue(
        &dir,
        "ssh-z",
        Some(&n.ns_a),
        &format!("{ssh} z-ops@10.0.0.1"),
        &[("assword:", "z-ops"), ("J#", "terminal length 0"), ("J#", "show ip route"), ("J#", "exit")],
    );
    assert!(ok, "z-ops over in-band SSH:\n{t}");
    assert!(t.contains("O        10.1.5.0/24 [110/10] via 192.168.100.2"), "J's table over SSH:\n{t}");
    // y-ops is refused on J over SSH too.
    let (t, _) =
        dialogue(&dir, "ssh-y", Some(&n.ns_a), &format!("{ssh} y-ops@10.0.0.1"), &[("assword:", "y-ops")]);
    assert!(t.contains("ermission denied") && !t.contains("J#"), "y-ops on J over SSH:\n{t}");

    // SNMP from A to J with tenant z's community: J's own interfaces, sysName J.
    let (t, ok) = snmp(&n.ns_a, "snmpget", "z-public", "10.0.0.1", ".1.3.6.1.2.1.1.5.0");
    assert!(ok && t.contains("STRING: \"J\""), "sysName over in-band SNMP:\n{t}");
    let (t, ok) = snmp(&n.ns_a, "snmpwalk", "z-public", "10.0.0.1", ".1.3.6.1.2.1.2.2.1.2");
    assert!(ok && t.contains("Gi0/0") && t.contains("Gi0/1"), "J's ifDescr:\n{t}");
    assert!(!t.contains("L Gi0") && !t.contains("vns-"), "only J's interfaces, no devices:\n{t}");
    // ifHCInOctets of J Gi0/0 (ifIndex 1) moves with A's traffic through J.
    let oid = ".1.3.6.1.2.1.31.1.1.1.6.1";
    let before = counter64(&snmp(&n.ns_a, "snmpget", "z-public", "10.0.0.1", oid).0);
    let ping = app.exec(&n.ns_a, &["ping", "-c", "5", "-i", "0.2", "-s", "1000", "-W", "1", "10.1.5.7"], 10);
    assert!(ping.status.success(), "A -> H:\n{}", text(&ping));
    std::thread::sleep(Duration::from_millis(1500));
    let after = counter64(&snmp(&n.ns_a, "snmpget", "z-public", "10.0.0.1", oid).0);
    assert!(after >= before + 5 * 1000, "ifHCInOctets of J Gi0/0 {before} -> {after}");
    // Any other community gets no answer at J: tenant y's, the administrator's, garbage.
    for community in ["y-public", "vns-admin", "public"] {
        let (t, ok) = snmp(&n.ns_a, "snmpget", community, "10.0.0.1", ".1.3.6.1.2.1.1.5.0");
        assert!(!ok && t.contains("Timeout"), "community {community} at J:\n{t}");
    }
    // From B (tenant y, same 10.0.0.10) the address is router Y, with y's community.
    let (t, ok) = snmp(&n.ns_b, "snmpget", "y-public", "10.0.0.1", ".1.3.6.1.2.1.1.5.0");
    assert!(ok && t.contains("STRING: \"Y\""), "sysName of Y:\n{t}");
}
