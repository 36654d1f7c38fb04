//! Tests of topology loading, validation errors (line and field), robustness and saving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::types::{PortId, RouterId, TenantId};
use rand::{Rng, SeedableRng};

fn default_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron")
}

fn default_text() -> String {
    std::fs::read_to_string(default_path()).expect("topologies/default.ron")
}

#[test]
fn default_topology_loads() {
    let t = load(&default_path()).expect("default.ron is valid");
    assert_eq!(t.ports.len(), 3);
    assert_eq!(t.tenants.len(), 2);
    assert_eq!(t.routers.len(), 3);
    assert_eq!(t.hosts.len(), 3);
    let z = t.tenant_by_name("z").unwrap();
    assert_eq!((z.id, z.vni, z.service_level), (TenantId(0), 5001, ServiceLevel::Gold));
    let j = t.router_by_name(z.id, "J").unwrap();
    assert_eq!(j.id, RouterId(0));
    assert_eq!(j.interfaces[0].address, Ipv4Addr::new(10, 0, 0, 1));
    assert_eq!(j.interfaces[0].mac.to_string(), "00:01:42:09:88:73");
    let l = t.router_by_name(z.id, "L").unwrap();
    assert_eq!(
        z.links,
        vec![Link {
            a: j.id,
            a_interface: 1,
            b: l.id,
            b_interface: 1,
            subnet: "192.168.100.0/30".parse().unwrap(),
            cost: 10
        }]
    );
    let y = t.tenant_by_name("y").unwrap();
    let yr = t.router_by_name(y.id, "Y").unwrap();
    assert_eq!(yr.id, RouterId(2));
    let b = t.port_by_name("b").unwrap();
    assert_eq!(b.device, "vns-b-sw");
    assert_eq!(
        b.binding,
        PortBinding::Access {
            tenant: y.id,
            subnet: "10.0.0.0/24".parse().unwrap(),
            vlan: None,
            router: yr.id,
            interface: 0
        }
    );
    let h = &t.hosts[z.hosts[1]];
    assert_eq!((h.name.as_str(), h.address, h.port), ("H", Ipv4Addr::new(10, 1, 5, 7), PortId(1)));
    assert_eq!(h.mac.to_string(), "00:00:7d:a2:34:11");
    assert_eq!(h.netns.as_deref(), Some("vns-h"));
    // Users: passwords as documented.
    let admin = &t.file.users[0];
    assert!(verify_password("vnswitch", &admin.password_hash));
    let zops = &t.file.users[1];
    assert!(verify_password("z-ops", &zops.password_hash));
    assert!(!verify_password("vnswitch", &zops.password_hash));
    assert_eq!(zops.tenants, vec!["z".to_string()]);
    assert_eq!(zops.aliases.get("rt").map(String::as_str), Some("show ip route"));
    let s = t.summary();
    assert!(s.contains("ports: 3 (3 access, 0 uplink)"), "{s}");
    let yops = &t.file.users[2];
    assert!(verify_password("y-ops", &yops.password_hash));
    assert_eq!(yops.tenants, vec!["y".to_string()]);
    assert!(s.contains("routers: 3") && s.contains("hosts: 3") && s.contains("users: 3"), "{s}");
    assert!(s.contains("routes: 5 (5 connected, 0 static)"), "{s}");
}

#[test]
fn every_committed_topology_loads() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../topologies");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) == Some("ron") {
            load(&p).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least three committed topologies, found {n}");
}

/// Replaces the first `from` in default.ron by `to`, parses, and checks the error names
/// `field` on the line where `to` (its first line) sits, with a message containing `msg`.
#[track_caller]
fn expect_error(from: &str, to: &str, field: &str, msg: &str) {
    expect_error_at(from, to, to, field, msg)
}

/// As [`expect_error`], the expected line being the one of `marker` inside `to`.
#[track_caller]
fn expect_error_at(from: &str, to: &str, marker: &str, field: &str, msg: &str) {
    // A renamed tenant y takes its user y-ops along, so that the edit is the only error.
    let text = if (from, to) == (r#"name: "y","#, r#"name: "z","#) {
        default_text().replace(r#"tenants: ["y"]"#, r#"tenants: ["z"]"#)
    } else {
        default_text()
    };
    let at = text.find(from).unwrap_or_else(|| panic!("default.ron lacks {from:?}"));
    let bad = text.replacen(from, to, 1);
    let at = at + to.find(marker).expect("marker inside replacement");
    let line = bad[..at].matches('\n').count() + 1;
    let e = parse(&bad, Path::new("bad.ron")).expect_err("must be rejected");
    assert_eq!(e.file, PathBuf::from("bad.ron"));
    assert_eq!(e.field, field, "{e}");
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(msg), "message {:?} lacks {msg:?}", e.message);
    assert!(e.to_string().starts_with(&format!("bad.ron:{line}: {field}: ")), "{e}");
}

#[test]
fn duplicate_names_are_errors() {
    expect_error(
        r#"(name: "h", device"#,
        r#"(name: "a", device"#,
        "ports[1].name",
        "duplicate port name 'a'",
    );
    expect_error(r#"name: "y","#, r#"name: "z","#, "tenants[1].name", "duplicate tenant name 'z'");
    expect_error(r#"name: "L","#, r#"name: "J","#, "tenants[0].routers[1].name", "duplicate router name 'J'");
    expect_error(
        r#"(name: "H", address"#,
        r#"(name: "A", address"#,
        "tenants[0].hosts[1].name",
        "duplicate host name 'A'",
    );
    expect_error(r#"name: "z-ops","#, r#"name: "admin","#, "users[1].name", "duplicate user name 'admin'");
}

#[test]
fn host_placement_errors() {
    expect_error(
        r#"address: "10.1.5.7", mac"#,
        r#"address: "10.9.5.7", mac"#,
        "tenants[0].hosts[1].address",
        "outside every subnet of tenant 'z'",
    );
    expect_error(
        r#"port: "h", netns"#,
        r#"port: "b", netns"#,
        "tenants[0].hosts[1].port",
        "belongs to tenant 'y'",
    );
    expect_error(
        r#"port: "h", netns"#,
        r#"port: "a", netns"#,
        "tenants[0].hosts[1].port",
        "does not contain 10.1.5.7",
    );
    expect_error(
        r#"port: "h", netns"#,
        r#"port: "q", netns"#,
        "tenants[0].hosts[1].port",
        "unknown port 'q'",
    );
}

#[test]
fn router_and_route_errors() {
    expect_error(
        r#"address: "10.1.5.1", subnet"#,
        r#"address: "10.1.6.1", subnet"#,
        "tenants[0].routers[1].interfaces[0].address",
        "outside its subnet 10.1.5.0/24",
    );
    expect_error_at(
        "static_routes: [],",
        "static_routes: [\n                (prefix: \"172.16.0.0/16\", next_hop: \"10.7.0.2\"),\n            ],",
        "(prefix",
        "tenants[0].static_routes[0].next_hop",
        "on no connected subnet",
    );
    expect_error(
        "static_routes: [],",
        "static_routes: [(prefix: \"172.16.0.0/16\", next_hop: \"10.0.0.2\", router: \"Q\")],",
        "tenants[0].static_routes[0].router",
        "unknown router 'Q'",
    );
    expect_error(
        r#"subnets: ["10.0.0.0/24", "10.1.5.0/24", "192.168.100.0/30"]"#,
        r#"subnets: ["10.0.0.0/24", "10.1.5.0/24", "192.168.100.0/30", "10.1.0.0/16"]"#,
        "tenants[0].subnets[3]",
        "overlaps subnet 10.1.5.0/24",
    );
    expect_error(r#"(a: "J", b: "L""#, r#"(a: "J", b: "M""#, "tenants[0].links[0].b", "unknown router 'M'");
    expect_error(
        r#"tenant: "y", subnet"#,
        r#"tenant: "x", subnet"#,
        "ports[2].role.tenant",
        "unknown tenant 'x'",
    );
    expect_error(
        r#"tenant: "y", subnet: "10.0.0.0/24")"#,
        r#"tenant: "y", subnet: "10.0.0.0/24", vlan: 4095)"#,
        "ports[2].role.vlan",
        "VLAN 4095 outside 1..=4094",
    );
}

#[test]
fn overlapping_addresses_across_tenants_are_allowed() {
    let t = parse(&default_text(), Path::new("d.ron")).unwrap();
    let a = &t.hosts[t.tenant_by_name("z").unwrap().hosts[0]];
    let b = &t.hosts[t.tenant_by_name("y").unwrap().hosts[0]];
    assert_eq!(a.address, b.address);
    assert_ne!(a.tenant, b.tenant);
}

#[test]
fn user_errors() {
    expect_error(
        r#"password_hash: "pbkdf2-sha256$10000$c3a8"#,
        r#"password_hash: "sha1$10000$c3a8"#,
        "users[1].password_hash",
        "unknown hash scheme 'sha1'",
    );
    expect_error(
        "privilege: 15,\n            cli_style",
        "privilege: 16,\n            cli_style",
        "users[1].privilege",
        "privilege 16 outside 0..=15",
    );
    expect_error(r#"tenants: ["z"],"#, r#"tenants: ["w"],"#, "users[1].tenants[0]", "unknown tenant 'w'");
}

#[test]
fn syntax_and_unknown_field_errors_name_line() {
    // Unknown field.
    expect_error(
        r#"(name: "H", address"#,
        r#"(name: "H", colour: "red", address"#,
        "tenants[0].hosts[1].colour",
        "colour",
    );
    // Bad value type.
    expect_error("vni: 5002,", "vni: \"five\",", "tenants[1].vni", "");
    // Bad MAC string.
    expect_error(
        r#"mac: "00:00:7d:a2:34:11""#,
        r#"mac: "00:00:7d:a2:34""#,
        "tenants[0].hosts[1].mac",
        "invalid MAC",
    );
    // Missing required field: reported with the struct's path and the field name.
    let text = default_text().replacen("vni: 5002,\n", "", 1);
    let e = parse(&text, Path::new("m.ron")).unwrap_err();
    assert!(e.field.ends_with("vni"), "{e}");
    assert!(e.line > 0, "{e}");
    // Truncated file.
    let text = default_text();
    let cut = &text[..text.len() / 2];
    let e = parse(cut, Path::new("t.ron")).unwrap_err();
    assert!(e.line > 0, "{e}");
}

#[test]
fn random_input_never_panics() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let text = default_text();
    for _ in 0..300 {
        let n = rng.random_range(0..400);
        let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
        let s = String::from_utf8_lossy(&bytes);
        let _ = parse(&s, Path::new("r.ron"));
        // Random text from RON-ish tokens.
        const TOKS: &[&str] = &[
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            "\"",
            "name",
            "ports",
            "Some",
            "10.0.0.1",
            "//",
            "/*",
            "*/",
            "\n",
            "#![enable(implicit_some)]",
            "r#\"",
            "'",
            "-",
            "1e9",
        ];
        let s: String =
            (0..rng.random_range(0..200)).map(|_| TOKS[rng.random_range(0..TOKS.len())]).collect();
        let _ = parse(&s, Path::new("r.ron"));
    }
    for _ in 0..400 {
        let mut b = text.clone().into_bytes();
        for _ in 0..rng.random_range(1..6) {
            let i = rng.random_range(0..b.len());
            match rng.random_range(0..3) {
                0 => b[i] = rng.random(),
                1 => {
                    b.remove(i);
                }
                _ => {
                    let j = rng.random_range(0..b.len());
                    b.swap(i, j);
                }
            }
        }
        let s = String::from_utf8_lossy(&b);
        if let Err(e) = parse(&s, Path::new("m.ron")) {
            assert!(e.line <= s.lines().count() + 1, "{e}");
        }
    }
}

#[test]
fn save_atomic_round_trips() {
    let t = load(&default_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("running.ron");
    save_atomic(&p, &t.file).unwrap();
    let back = load(&p).unwrap();
    assert_eq!(back.file, t.file);
    assert_eq!(back.routers, t.routers);
    // Overwrite keeps a single file (no temp left behind).
    let mut f = t.file.clone();
    f.hostname = "sw2".into();
    save_atomic(&p, &f).unwrap();
    assert_eq!(load(&p).unwrap().file.hostname, "sw2");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

#[test]
fn save_atomic_removes_temps_of_killed_saves_only() {
    let t = load(&default_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("running.ron");
    // A save killed before its rename (pid 1 << 30 exists nowhere), and an unrelated file.
    let stale = dir.path().join(format!(".running.ron.tmp.{}", 1u32 << 30));
    std::fs::write(&stale, "half a file").unwrap();
    let other = dir.path().join(".other.ron.tmp.1073741824");
    std::fs::write(&other, "not ours").unwrap();
    save_atomic(&p, &t.file).unwrap();
    assert!(!stale.exists(), "stale temp of a killed save left behind");
    assert!(other.exists(), "another file's temp was removed");
    assert_eq!(load(&p).unwrap().file, t.file);
}

#[test]
fn from_file_validates_in_memory() {
    let t = load(&default_path()).unwrap();
    let mut f = t.file.clone();
    f.tenants[0].hosts[0].port = Some("b".into());
    let e = Topology::from_file(f).unwrap_err();
    assert_eq!((e.line, e.field.as_str()), (0, "tenants[0].hosts[0].port"));
}

#[test]
fn gen_topology_script_output_loads() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/gen-topology");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.ron");
    let status = match std::process::Command::new("python3")
        .arg(&script)
        .args(["--routes", "3000", "-o"])
        .arg(&out)
        .status()
    {
        Ok(s) => s,
        Err(e) => {
            println!("SKIP: python3 not available ({e})");
            return;
        }
    };
    assert!(status.success());
    let t = load(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.static_route_count(), 3000);
    assert_eq!(t.routers.len(), 2);
}

/// Beyond the counter tables and id widths: a clear error naming the field and its line,
/// never ids truncated by `as u16` or counters silently merged.
#[test]
fn topologies_beyond_the_limits_are_rejected() {
    use super::validate::{MAX_PORTS, MAX_TENANTS};
    let text = default_text();
    const { assert!(MAX_PORTS >= 4096 && MAX_TENANTS >= 4096, "1000 tenants on one appliance, with room") };
    // MAX_PORTS + 1 ports: the one too many is named, on its own line.
    let anchor = "        (name: \"b\", device: \"vns-b-sw\", role: Access(tenant: \"y\", subnet: \"10.0.0.0/24\")),\n";
    assert!(text.contains(anchor));
    let extra: String = (3..=MAX_PORTS)
        .map(|i| format!("        (name: \"b{i}\", device: \"vns-b{i}\", role: Access(tenant: \"y\", subnet: \"10.0.0.0/24\")),\n"))
        .collect();
    let bad = text.replacen(anchor, &format!("{anchor}{extra}"), 1);
    let e = parse(&bad, Path::new("bad.ron")).expect_err("MAX_PORTS + 1 ports must be rejected");
    assert_eq!(e.field, format!("ports[{MAX_PORTS}]"), "{e}");
    let line = bad[..bad.find(&format!("(name: \"b{MAX_PORTS}\"")).unwrap()].matches('\n').count() + 1;
    assert_eq!(e.line, line, "{e}");
    let n = MAX_PORTS + 1;
    assert!(
        e.to_string()
            .starts_with(&format!("bad.ron:{line}: ports[{MAX_PORTS}]: {n} ports: at most {MAX_PORTS}")),
        "{e}"
    );
    // Exactly MAX_PORTS ports is fine.
    let extra63: String = extra.lines().take(MAX_PORTS - 3).map(|l| format!("{l}\n")).collect();
    parse(&text.replacen(anchor, &format!("{anchor}{extra63}"), 1), Path::new("ok.ron"))
        .expect("MAX_PORTS ports load");
    // 257 tenants.
    let mut file = parse(&text, Path::new("x.ron")).expect("default").file;
    let y = file.tenants[1].clone();
    for i in 0..(MAX_TENANTS - 1) {
        let mut t = y.clone();
        t.name = format!("t{i}");
        t.vni = 10_000 + i as u32;
        t.hosts.clear();
        file.tenants.push(t);
    }
    let e = super::Topology::from_file(file).expect_err("MAX_TENANTS + 1 tenants must be rejected");
    assert_eq!(e.field, format!("tenants[{MAX_TENANTS}]"), "{e}");
    assert!(e.message.contains(&format!("{} tenants: at most {MAX_TENANTS}", MAX_TENANTS + 1)), "{e}");
}

/// default.ron with host H moved to the substrate node "remote" (port h replaced by two
/// uplinks, one per plane) and the substrate of the overlay lab: sw1 (local) reaches remote
/// over fastr (fast links) or slowr (slow links).
pub(crate) fn overlay_text() -> String {
    let text = default_text()
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
            (name: "fast-remote", a: "fastr", b: "remote", latency_us: 1000, bandwidth_mbps: 10000, cost: 50, fast: true),
            (name: "sw1-slow", a: "sw1", b: "slowr", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, fast: false),
            (name: "slow-remote", a: "slowr", b: "remote", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, fast: false),
        ]),
    service_levels: ["#,
            1,
        );
    assert!(text.contains("vns-upf") && text.contains(r#"node: "remote""#) && text.contains("sw1-slow"));
    text
}

/// The overlay topology (see [`overlay_text`]).
pub(crate) fn overlay() -> Topology {
    parse(&overlay_text(), Path::new("overlay.ron")).unwrap_or_else(|e| panic!("{e}"))
}

/// As [`expect_error`] on the overlay text.
#[track_caller]
fn expect_overlay_error(from: &str, to: &str, field: &str, msg: &str) {
    let text = overlay_text();
    let at = text.find(from).unwrap_or_else(|| panic!("overlay text lacks {from:?}"));
    let bad = text.replacen(from, to, 1);
    let line = bad[..at].matches('\n').count() + 1;
    let e = parse(&bad, Path::new("bad.ron")).expect_err("must be rejected");
    assert_eq!(e.field, field, "{e}");
    assert_eq!(e.line, line, "{e}");
    assert!(e.message.contains(msg), "message {:?} lacks {msg:?}", e.message);
}

#[test]
fn overlay_topology_resolves_remote_hosts_and_the_substrate() {
    let t = overlay();
    assert_eq!(t.hosts.len(), 2, "A and B stay local");
    let z = t.tenant_by_name("z").unwrap();
    assert_eq!(z.remote_hosts.len(), 1);
    let h = &t.remote_hosts[z.remote_hosts[0]];
    assert_eq!((h.name.as_str(), h.address.to_string().as_str()), ("H", "10.1.5.7"));
    assert_eq!(t.substrate.nodes[h.node.index()].name, "remote");
    assert_eq!((t.router(h.router).name.as_str(), h.interface), ("L", 0));
    assert_eq!(t.substrate.local, Some(NodeId(0)));
    let remote = t.substrate.node_by_name("remote").unwrap();
    assert_eq!(remote.address_on(Plane::Fast).to_string(), "10.254.0.2");
    assert_eq!(remote.address_on(Plane::Slow).to_string(), "10.254.1.2");
    // Defaults: one address for both planes.
    let fastr = t.substrate.node_by_name("fastr").unwrap();
    assert_eq!((fastr.fast_address, fastr.slow_address), (fastr.address, fastr.address));
    let s = t.summary();
    assert!(s.contains("ports: 4 (2 access, 2 uplink)") && s.contains("hosts: 3 (1 remote)"), "{s}");
    assert!(s.contains("substrate: 4 nodes, 4 links"), "{s}");
    // The running configuration round-trips with the new fields.
    let again = parse(&to_ron_string(&t.file).unwrap(), Path::new("again.ron")).unwrap();
    assert_eq!(again.file, t.file);
}

#[test]
fn overlay_validation_errors() {
    // A host names exactly one of port and node.
    expect_overlay_error(
        r#"node: "remote", netns: "vns-h""#,
        r#"node: "remote", port: "a", netns: "vns-h""#,
        "tenants[0].hosts[1].node",
        "not both",
    );
    expect_overlay_error(
        r#"node: "remote", netns: "vns-h""#,
        r#"netns: "vns-h""#,
        "tenants[0].hosts[1].port",
        "needs a local port or a substrate node",
    );
    expect_overlay_error(
        r#"node: "remote", netns"#,
        r#"node: "mars", netns"#,
        "tenants[0].hosts[1].node",
        "unknown substrate node 'mars'",
    );
    expect_overlay_error(
        r#"node: "remote", netns"#,
        r#"node: "sw1", netns"#,
        "tenants[0].hosts[1].node",
        "this appliance's own node",
    );
    // Uplinks: link at the local node, prefix length, MTU.
    expect_overlay_error(
        r#"link: "sw1-fast", mtu"#,
        r#"link: "fast-remote", mtu"#,
        "ports[1].role.link",
        "does not start at the local node 'sw1'",
    );
    expect_overlay_error(
        r#"link: "sw1-fast", mtu"#,
        r#"link: "nope", mtu"#,
        "ports[1].role.link",
        "unknown substrate link 'nope'",
    );
    expect_overlay_error(
        "mtu: 1500)),\n        (name: \"ups\"",
        "mtu: 100)),\n        (name: \"ups\"",
        "ports[1].role.mtu",
        "MTU 100 outside 576..=9216",
    );
    expect_overlay_error(
        "prefix_len: 24, gateway: \"10.255.1.254\"",
        "prefix_len: 33, gateway: \"10.255.1.254\"",
        "ports[1].role.prefix_len",
        "outside 1..=32",
    );
    // Nodes: local node known, VTEP addresses not shared.
    expect_overlay_error(
        r#"local_node: "sw1""#,
        r#"local_node: "sw9""#,
        "substrate.local_node",
        "unknown substrate node 'sw9'",
    );
    expect_overlay_error(
        r#"(name: "fastr", address: "10.255.1.254")"#,
        r#"(name: "fastr", address: "10.254.1.2")"#,
        "substrate.nodes[2].address",
        "already a VTEP address of node 'remote'",
    );
    // Tenant substrate settings name known links; factors are positive.
    expect_overlay_error(
        r#"service_level: gold,"#,
        r#"service_level: gold, quarantine_links: ["sw1-fast", "moon"],"#,
        "tenants[0].quarantine_links[1]",
        "unknown substrate link 'moon'",
    );
    expect_overlay_error(
        r#"service_level: gold,"#,
        r#"service_level: gold, substrate_cost_factors: {"sw1-fast": 0.0},"#,
        "tenants[0].substrate_cost_factors.sw1-fast",
        "must be a finite number above 0",
    );
    expect_overlay_error(
        r#"service_level: gold,"#,
        r#"service_level: gold, substrate_cost_factors: {"x": 2.0},"#,
        "tenants[0].substrate_cost_factors.x",
        "unknown substrate link 'x'",
    );
}

#[test]
fn uplinks_and_remote_hosts_need_a_local_node() {
    let text = overlay_text().replacen(r#"substrate: (local_node: "sw1","#, "substrate: (", 1);
    let e = parse(&text, Path::new("bad.ron")).expect_err("no local node");
    assert_eq!(e.field, "substrate.local_node", "{e}");
    assert!(e.message.contains("port 'upf' is a substrate uplink"), "{e}");
}

#[test]
fn shapers_and_redirects_load_and_are_validated() {
    let text = default_text()
        .replacen(
            "role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\")),",
            "role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\"), shape: (rate_bps: 10000000)),",
            1,
        )
        .replacen(
            "static_routes: [],",
            "static_routes: [],\n            redirects: [(from: \"10.1.5.99\", to: \"10.1.5.7\")],",
            1,
        );
    let t = parse(&text, Path::new("ok.ron")).expect("valid");
    assert_eq!(t.file.ports[1].shape.map(|s| s.rate_bps), Some(10_000_000));
    assert_eq!(t.file.tenants[0].redirects.len(), 1);

    expect_error_at(
        "role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\")),",
        "role: Access(tenant: \"z\", subnet: \"10.1.5.0/24\"), shape: (rate_bps: 100)),",
        "rate_bps",
        "ports[1].shape.rate_bps",
        "under 8000",
    );
    expect_error_at(
        "static_routes: [],",
        "static_routes: [],\n            redirects: [(from: \"10.1.5.99\", to: \"10.1.5.98\")],",
        "to:",
        "tenants[0].redirects[0].to",
        "not a host of tenant 'z'",
    );
}

#[test]
fn snmp_settings_load_default_and_are_validated() {
    let t = load(&default_path()).unwrap();
    assert_eq!(t.file.snmp.listen, "127.0.0.1:161");
    assert_eq!(t.file.snmp.community, "vns-admin");
    assert_eq!(t.file.tenants[0].snmp_community.as_deref(), Some("z-public"));
    assert_eq!(t.file.tenants[1].snmp_community.as_deref(), Some("y-public"));
    // Old files without the fields load with the agent off and no communities.
    let old = default_text()
        .replace(r#"snmp: (listen: "127.0.0.1:161", community: "vns-admin", contact: "noc@example.net", location: "lab"),"#, "")
        .replace(r#"snmp_community: "z-public","#, "")
        .replace(r#"snmp_community: "y-public","#, "");
    let t = parse(&old, Path::new("old.ron")).unwrap();
    assert_eq!(t.file.snmp, schema::SnmpConfig::default());
    assert_eq!(t.file.snmp.listen, "off");
    assert!(t.file.tenants.iter().all(|t| t.snmp_community.is_none()));

    expect_error(
        r#"listen: "127.0.0.1:161""#,
        r#"listen: "localhost""#,
        "snmp.listen",
        "'localhost' is neither an address:port nor off",
    );
    expect_error(
        r#"community: "vns-admin""#,
        r#"community: "vns admin""#,
        "snmp.community",
        "printable ASCII",
    );
    expect_error(
        r#"snmp_community: "y-public""#,
        r#"snmp_community: "z-public""#,
        "tenants[1].snmp_community",
        "community already used by tenant 'z'",
    );
    expect_error(
        r#"snmp_community: "z-public""#,
        r#"snmp_community: "vns-admin""#,
        "tenants[0].snmp_community",
        "administrator's community",
    );
    expect_error(
        r#"snmp_community: "z-public""#,
        r#"snmp_community: """#,
        "tenants[0].snmp_community",
        "1..=64",
    );
    expect_error(r#"location: "lab""#, r#"locaton: "lab""#, "snmp.locaton", "Unexpected field");
}

#[test]
fn snmp_settings_survive_write_memory() {
    let mut t = load(&default_path()).unwrap();
    t.file.snmp.listen = "off".into();
    t.file.tenants[1].snmp_community = None;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("running.ron");
    save_atomic(&p, &t.file).unwrap();
    let back = load(&p).unwrap();
    assert_eq!(back.file.snmp, t.file.snmp);
    assert_eq!(back.file.tenants[0].snmp_community.as_deref(), Some("z-public"));
    assert_eq!(back.file.tenants[1].snmp_community, None);
}

/// Ports may share a device only as a trunk: access ports, each with its own VLAN. Every
/// error names the offending port's line and field.
#[test]
fn trunk_ports_share_a_device_with_distinct_vlans() {
    let a = r#"(name: "a", device: "vns-a-sw", role: Access(tenant: "z", subnet: "10.0.0.0/24")),"#;
    let h = r#"(name: "h", device: "vns-h-sw", role: Access(tenant: "z", subnet: "10.1.5.0/24")),"#;
    let b = r#"(name: "b", device: "vns-b-sw", role: Access(tenant: "y", subnet: "10.0.0.0/24")),"#;
    let text = default_text();
    let trunk = text.replacen(a, &a.replace("\")),", "\", vlan: 10)),"), 1).replacen(
        b,
        &b.replace("vns-b-sw", "vns-a-sw").replace("\")),", "\", vlan: 20)),"),
        1,
    );
    let t = parse(&trunk, Path::new("trunk.ron")).expect("a trunk with VLANs 10 and 20 loads");
    assert_eq!(t.ports[0].device, t.ports[2].device);
    // Overlapping addresses across tenants on one trunk are fine (z and y both use 10.0.0.0/24).

    // Same VLAN twice on one device.
    let dup = text.replacen(a, &a.replace("\")),", "\", vlan: 10)),"), 1).replacen(
        b,
        &b.replace("vns-b-sw", "vns-a-sw").replace("\")),", "\", vlan: 10)),"),
        1,
    );
    let e = parse(&dup, Path::new("bad.ron")).expect_err("duplicate VLAN on a trunk");
    assert_eq!((e.field.as_str(), e.line), ("ports[2].role.vlan", line_of(&dup, "(name: \"b\"")), "{e}");
    assert!(e.message.contains("VLAN 10 on device 'vns-a-sw' is already used by port 'a'"), "{e}");
    // A port without a VLAN on a trunk.
    let untagged = text.replacen(a, &a.replace("\")),", "\", vlan: 10)),"), 1).replacen(
        b,
        &b.replace("vns-b-sw", "vns-a-sw"),
        1,
    );
    let e = parse(&untagged, Path::new("bad.ron")).expect_err("untagged port on a trunk");
    assert_eq!((e.field.as_str(), e.line), ("ports[2].role", line_of(&untagged, "(name: \"b\"")), "{e}");
    assert!(e.message.contains("is a trunk (shared with port 'a'): this port needs a vlan"), "{e}");
    // The first port on the device is untagged.
    let first_untagged =
        text.replacen(b, &b.replace("vns-b-sw", "vns-a-sw").replace("\")),", "\", vlan: 20)),"), 1);
    let e = parse(&first_untagged, Path::new("bad.ron")).expect_err("trunk with an untagged port");
    assert_eq!(
        (e.field.as_str(), e.line),
        ("ports[2].device", line_of(&first_untagged, "(name: \"b\"")),
        "{e}"
    );
    assert!(e.message.contains("already used by untagged port 'a'"), "{e}");
    // Different VLANs on different devices are still independent (VLAN 10 twice).
    let two = text.replacen(a, &a.replace("\")),", "\", vlan: 10)),"), 1).replacen(
        h,
        &h.replace("\")),", "\", vlan: 10)),"),
        1,
    );
    parse(&two, Path::new("ok.ron")).expect("VLAN 10 on two devices");
    // An access port on an uplink's device: uplinks never share.
    let on_uplink =
        overlay_text().replacen(a, &a.replace("vns-a-sw", "vns-upf").replace("\")),", "\", vlan: 10)),"), 1);
    let e = parse(&on_uplink, Path::new("bad.ron")).expect_err("access port on an uplink's device");
    assert_eq!(e.field, "ports[1].device", "the uplink after the access port: {e}");
    assert!(e.message.contains("device 'vns-upf' is already used by port 'a' (only access ports"), "{e}");
}

/// Line (1-based) of the first occurrence of `marker` in `text`.
fn line_of(text: &str, marker: &str) -> usize {
    text[..text.find(marker).expect("marker")].matches('\n').count() + 1
}
