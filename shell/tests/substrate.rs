#![allow(clippy::unwrap_used)]
//! `show substrate`, `show substrate paths [tenant T]` and `substrate link NAME down|up`: CLI
//! text in, text out, against a real RIB thread running the overlay variant of the default
//! topology (host H on the substrate node "remote", two uplinks, one per plane). Tenant users
//! are refused and audited.

use rib::topology::Topology;
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::ShellContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron")
}

/// default.ron with H on node "remote" and the overlay substrate.
fn overlay() -> Topology {
    let text = std::fs::read_to_string(default_path())
        .unwrap()
        .replacen(
            r#"(name: "h", device: "vns-h-sw", role: Access(tenant: "z", subnet: "10.1.5.0/24")),"#,
            r#"(name: "upf", device: "vns-upf", role: Uplink(address: "10.255.1.1", mac: "02:00:0a:ff:01:01",
           prefix_len: 24, gateway: "10.255.1.254", link: "sw1-fast", mtu: 1500)),
        (name: "ups", device: "vns-ups", role: Uplink(address: "10.255.2.1", mac: "02:00:0a:ff:02:01",
           prefix_len: 24, gateway: "10.255.2.254", link: "sw1-slow", mtu: 1500)),"#,
            1,
        )
        .replacen(r#"port: "h", netns: "vns-h""#, r#"node: "remote", netns: "vns-h""#, 1)
        .replacen(
            "    service_levels: [",
            r#"    substrate: (local_node: "sw1",
        nodes: [
            (name: "sw1", address: "10.255.1.1", fast_address: "10.255.1.1", slow_address: "10.255.2.1"),
            (name: "remote", address: "10.254.0.2", fast_address: "10.254.0.2", slow_address: "10.254.1.2"),
            (name: "fastr", address: "10.255.1.254"),
            (name: "slowr", address: "10.255.2.254"),
        ],
        links: [
            (name: "sw1-fast", a: "sw1", b: "fastr", latency_us: 1000, bandwidth_mbps: 10000, cost: 50, fast: true),
            (name: "fast-remote", a: "fastr", b: "remote", latency_us: 1000, bandwidth_mbps: 10000, cost: 50, reliability: 0.9999, fast: true),
            (name: "sw1-slow", a: "sw1", b: "slowr", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, fast: false),
            (name: "slow-remote", a: "slowr", b: "remote", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, fast: false),
        ]),
    service_levels: ["#,
            1,
        );
    rib::topology::parse(&text, Path::new("overlay.ron")).unwrap_or_else(|e| panic!("{e}"))
}

fn context() -> Arc<ShellContext> {
    Arc::new(ShellContext::new(RibHandle::spawn(overlay()).unwrap()))
}

fn login(ctx: &Arc<ShellContext>, name: &str, pass: &str) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login(name, pass), LoginResult::Ok, "login {name}");
    s
}

fn run(s: &mut Session, line: &str) -> String {
    s.execute(line).text
}

const SUBSTRATE: &str = "\
Substrate nodes
Node              Address          Fast VTEP        Slow VTEP
sw1 (local)       10.255.1.1       10.255.1.1       10.255.2.1
remote            10.254.0.2       10.254.0.2       10.254.1.2
fastr             10.255.1.254     10.255.1.254     10.255.1.254
slowr             10.255.2.254     10.255.2.254     10.255.2.254

Substrate links
Link            A           B            Latency(us)  BW(Mb/s)  Cost  Reliability Plane State
sw1-fast        sw1         fastr               1000     10000    50       1.0000 fast  up
fast-remote     fastr       remote              1000     10000    50       0.9999 fast  up
sw1-slow        sw1         slowr              20000      1000     5       1.0000 slow  up
slow-remote     slowr       remote             20000      1000     5       1.0000 slow  up
";

const PATHS_FAST: &str = "\
Tenant z
  to remote (tunnel 0): path sw1-fast > fast-remote
    plane fast, uplink upf, VTEP 10.255.1.1 -> 10.254.0.2, inner MTU 1450
    next hop 10.255.1.254 unresolved (ARP pending)
    why: gold: balanced latency + cost + reliability penalty
";

#[test]
fn admin_sees_the_substrate_and_the_tenant_paths() {
    let ctx = context();
    let mut a = login(&ctx, "admin", "vnswitch");
    assert_eq!(run(&mut a, "show substrate"), SUBSTRATE);
    assert_eq!(run(&mut a, "sh subs"), SUBSTRATE, "abbreviated");
    assert_eq!(run(&mut a, "show substrate paths"), PATHS_FAST);
    assert_eq!(run(&mut a, "show substrate paths tenant z"), PATHS_FAST);
    // Tenant y has no remote hosts.
    assert_eq!(
        run(&mut a, "show substrate paths tenant y"),
        "No tenant has hosts on remote substrate nodes.\n"
    );
    assert_eq!(run(&mut a, "show substrate paths tenant q"), "% VRF q does not exist\n");
    assert_eq!(
        run(&mut a, "show substrate | include fast-remote"),
        "fast-remote     fastr       remote              1000     10000    50       0.9999 fast  up\n"
    );
    // The learned gateway MAC shows as resolved.
    let upf = ctx.rib.topology().port_by_name("upf").unwrap().id;
    ctx.rib
        .neighbour_learned(upf, "10.255.1.254".parse().unwrap(), "02:00:0a:ff:01:fe".parse().unwrap())
        .unwrap();
    assert!(run(&mut a, "show substrate paths")
        .contains("\n    next hop 10.255.1.254 resolved (0200.0aff.01fe)\n"));
}

#[test]
fn substrate_link_down_and_up_move_the_tunnel() {
    let ctx = context();
    let mut a = login(&ctx, "admin", "vnswitch");
    run(&mut a, "configure terminal");
    let help = a.help("substrate link fast-remote ");
    assert!(help.contains("  down  Take the link down: tunnels avoid it\n"), "{help}");
    assert!(help.contains("  up    Bring the link back up\n"), "{help}");
    assert_eq!(run(&mut a, "substrate link fast-remote down"), "");
    assert_eq!(
        run(&mut a, "do show substrate paths"),
        "\
Tenant z
  to remote (tunnel 0): path sw1-slow > slow-remote
    plane slow, uplink ups, VTEP 10.255.2.1 -> 10.254.1.2, inner MTU 1450
    next hop 10.255.2.254 unresolved (ARP pending)
    why: gold: balanced latency + cost + reliability penalty; link fast-remote down
"
    );
    assert!(run(&mut a, "do show substrate").contains(
        "\nfast-remote     fastr       remote              1000     10000    50       0.9999 fast  down\n"
    ));
    assert_eq!(run(&mut a, "substrate link moon down"), "% Substrate link moon does not exist\n");
    assert_eq!(run(&mut a, "substrate link fast-remote up"), "");
    assert_eq!(run(&mut a, "do show substrate paths"), PATHS_FAST);
    // Shutting the fast uplink takes sw1-fast down too.
    run(&mut a, "interface upf");
    run(&mut a, "shutdown");
    run(&mut a, "end");
    let sub = run(&mut a, "show substrate");
    assert!(sub.contains("\nsw1-fast        sw1         fastr               1000     10000    50       1.0000 fast  down (uplink upf shut down)\n"), "{sub}");
    let paths = run(&mut a, "show substrate paths");
    assert!(paths.contains("path sw1-slow > slow-remote\n"), "{paths}");
    assert!(paths.ends_with("; link sw1-fast down (uplink upf shut down)\n"), "{paths}");
    let log = run(&mut a, "show logging");
    assert!(log.contains("Substrate link fast-remote set down by admin"), "{log}");
}

#[test]
fn tenant_users_are_refused_and_audited() {
    let ctx = context();
    let mut z = login(&ctx, "z-ops", "z-ops");
    assert_eq!(
        run(&mut z, "show substrate"),
        "% Access denied: 'show substrate' is reserved to administrators.\n"
    );
    assert_eq!(
        run(&mut z, "show substrate paths"),
        "% Access denied: 'show substrate paths' is reserved to administrators.\n"
    );
    assert_eq!(
        run(&mut z, "show substrate paths tenant z"),
        "% Access denied: 'show substrate paths tenant z' is reserved to administrators.\n"
    );
    run(&mut z, "configure terminal");
    assert_eq!(
        run(&mut z, "substrate link fast-remote down"),
        "% Access denied: 'substrate link fast-remote down' is reserved to administrators.\n"
    );
    run(&mut z, "end");
    // Nothing changed, and every refusal is in the administrator's log.
    let mut a = login(&ctx, "admin", "vnswitch");
    assert_eq!(run(&mut a, "show substrate paths"), PATHS_FAST);
    let log = run(&mut a, "show logging");
    for what in [
        "show substrate",
        "show substrate paths",
        "show substrate paths tenant z",
        "substrate link fast-remote down",
    ] {
        assert!(
            log.contains(&format!("%PARSER-4-DENIED: Refused command: '{what}' (administrators only) [user: z-ops] [Source: 127.0.0.1:40000]")),
            "{what}: {log}"
        );
    }
}
