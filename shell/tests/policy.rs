#![allow(clippy::unwrap_used)]
//! The operator's active commands through the shell against a real RIB thread on a copy of
//! the default topology: `traffic-shape` in interface mode and `ip redirect` in config mode
//! reach the FIB snapshot, show in `show running-config` and `show policy-map interface`,
//! survive `write memory` and a reload, and their `no` forms remove them.

use rib::topology::schema::ShapeConfig;
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::ShellContext;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::Arc;

fn run(s: &mut Session, line: &str) -> String {
    s.execute(line).text
}

fn login(ctx: &Arc<ShellContext>, name: &str, pass: &str) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login(name, pass), LoginResult::Ok, "login {name}");
    s
}

#[test]
fn traffic_shape_and_redirect_reach_the_fib_and_the_topology_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topo.ron");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron"), &path).unwrap();
    let rib = RibHandle::spawn(rib::topology::load(&path).unwrap()).unwrap();
    let ctx = Arc::new(ShellContext::new(rib.clone()));
    let mut s = login(&ctx, "admin", "vnswitch");

    run(&mut s, "configure terminal");
    run(&mut s, "interface h");
    assert_eq!(s.prompt(), "vnswitch(config-if)#");
    let out = run(&mut s, "traffic-shape rate 100");
    assert!(out.contains("% Invalid input"), "under 8000: {out:?}");
    assert!(run(&mut s, "traffic-shape rate 10000000 burst 100").contains("% Invalid input"));
    assert_eq!(run(&mut s, "traffic-shape rate 10000000"), "");
    run(&mut s, "exit");
    assert_eq!(run(&mut s, "ip redirect vrf z 10.1.5.7 10.0.0.10"), "");
    assert!(run(&mut s, "ip redirect vrf z 10.1.5.9 10.1.5.99").contains("not a host of tenant z"));
    run(&mut s, "end");

    // The FIB: port h (id 1) shaped at 10 Mbit/s with the default burst; the redirect.
    let snap = rib.snapshot();
    assert_eq!(snap.port_shape(rib::PortId(1)), Some(rib::Shape::new(10_000_000, None)));
    assert_eq!(snap.port_shape(rib::PortId(0)), None);
    assert_eq!(
        snap.redirect(rib::TenantId(0), Ipv4Addr::new(10, 1, 5, 7)),
        Some(Ipv4Addr::new(10, 0, 0, 10))
    );
    assert_eq!(snap.redirect(rib::TenantId(1), Ipv4Addr::new(10, 1, 5, 7)), None);
    // Tenant y is silver, whose service level has rate_mbps 100.
    assert_eq!(snap.tenant_shape(rib::TenantId(1)), Some(rib::Shape::new(100_000_000, None)));
    assert_eq!(snap.tenant_shape(rib::TenantId(0)), None);

    let rc = run(&mut s, "show running-config");
    assert!(rc.contains(
        "interface h\n description access z (vns-h-sw)\n vrf forwarding z\n ip address 10.1.5.1 255.255.255.0\n traffic-shape rate 10000000\n no shutdown\n"
    ), "{rc}");
    assert!(rc.contains("\nip redirect vrf z 10.1.5.7 10.0.0.10\n"), "{rc}");

    let pm = run(&mut s, "show policy-map interface h");
    assert!(pm.starts_with(" h\n\n  Service-policy output: traffic-shape\n\n    Class-map: class-default (match-any)\n      0 packets, 0 bytes\n      Match: any\n      shape (average) cir 10000000, bc 125000 bytes"), "{pm}");
    assert!(pm.contains("        conformed 0 packets, 0 bytes; action: transmit\n"));
    let pm_b = run(&mut s, "show policy-map interface b");
    assert!(pm_b.contains("no shaping configured"), "{pm_b}");
    assert!(
        pm_b.contains("Service-policy (vrf y, service-level silver): shape average 100 Mbit/s"),
        "{pm_b}"
    );

    assert_eq!(run(&mut s, "write memory"), "Building configuration...\n[OK]\n");
    let saved = rib::topology::load(&path).unwrap();
    let h = saved.file.ports.iter().find(|p| p.name == "h").unwrap();
    assert_eq!(h.shape, Some(ShapeConfig { rate_bps: 10_000_000, burst_bytes: None }));
    let z = saved.file.tenants.iter().find(|t| t.name == "z").unwrap();
    assert_eq!(z.redirects.len(), 1);
    assert_eq!(
        (z.redirects[0].from, z.redirects[0].to),
        (Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 0, 0, 10))
    );

    // The `no` forms.
    run(&mut s, "conf t");
    run(&mut s, "int h");
    assert_eq!(run(&mut s, "no traffic-shape"), "");
    run(&mut s, "exit");
    run(&mut s, "vrf context z");
    assert_eq!(run(&mut s, "no ip redirect 10.1.5.7"), "");
    assert!(run(&mut s, "no ip redirect 10.1.5.7").contains("no redirect of 10.1.5.7"));
    run(&mut s, "end");
    let snap = rib.snapshot();
    assert_eq!(snap.port_shape(rib::PortId(1)), None);
    assert!(snap.redirects.is_empty());
    let rc = run(&mut s, "show running-config");
    assert!(!rc.contains("traffic-shape") && !rc.contains("ip redirect"), "{rc}");
}

#[test]
fn tenant_users_shape_and_redirect_only_in_their_scope() {
    let rib = RibHandle::spawn(
        rib::topology::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron"))
            .unwrap(),
    )
    .unwrap();
    let ctx = Arc::new(ShellContext::new(rib.clone()));
    let mut s = login(&ctx, "z-ops", "z-ops");
    run(&mut s, "configure terminal");
    assert!(run(&mut s, "ip redirect vrf y 10.0.0.10 10.0.0.11").contains("Access denied"));
    // z-ops has one tenant: no vrf needed.
    assert_eq!(run(&mut s, "ip redirect 10.1.5.99 10.1.5.7"), "");
    assert!(run(&mut s, "interface b").contains("Access denied"));
    run(&mut s, "interface a");
    assert_eq!(run(&mut s, "traffic-shape rate 2000000 burst 4000"), "");
    run(&mut s, "end");
    let snap = rib.snapshot();
    assert_eq!(snap.port_shape(rib::PortId(0)), Some(rib::Shape { rate_bps: 2_000_000, burst_bytes: 4000 }));
    assert_eq!(
        snap.redirect(rib::TenantId(0), Ipv4Addr::new(10, 1, 5, 99)),
        Some(Ipv4Addr::new(10, 1, 5, 7))
    );
    let rc = run(&mut s, "show running-config");
    assert!(rc.contains(" traffic-shape rate 2000000 burst 4000\n"), "{rc}");
    assert!(!rc.contains("interface b"));
}

/// Counters as the workers would report them after congestion on port h.
struct CongestedStats;

impl shell::StatsSource for CongestedStats {
    fn workers(&self) -> Vec<shell::WorkerStats> {
        Vec::new()
    }
    fn ports(&self) -> Vec<shell::PortCounters> {
        Vec::new()
    }
    fn clear(&self) {}
    fn port_shapers(&self) -> Vec<(String, shell::providers::ShaperCounters)> {
        let h = shell::providers::ShaperCounters {
            conform_packets: 900,
            conform_bytes: 1_350_000,
            exceed_packets: 300,
            exceed_bytes: 450_000,
            drop_packets: 40,
            drop_bytes: 60_000,
        };
        vec![("h".into(), h)]
    }
    fn tenant_shapers(&self) -> Vec<shell::providers::ShaperCounters> {
        let y = shell::providers::ShaperCounters {
            conform_packets: 70,
            conform_bytes: 7000,
            exceed_packets: 8,
            exceed_bytes: 800,
            drop_packets: 3,
            drop_bytes: 300,
        };
        vec![Default::default(), y]
    }
    fn classes(&self) -> Vec<shell::providers::ClassStats> {
        let c = |class: &str, tx: u64, enq: u64, qd: u64, hw: u64| shell::providers::ClassStats {
            class: class.into(),
            tx_packets: tx,
            tx_bytes: tx * 100,
            dropped: 0,
            enqueued: enq,
            queue_dropped: qd,
            queue_high_water: hw,
        };
        vec![c("platinum", 6000, 500, 0, 12), c("gold", 0, 0, 0, 0), c("silver", 1000, 9000, 8000, 128)]
    }
}

#[test]
fn show_policy_map_shows_shaper_queues_and_the_class_queues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("topo.ron");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron"), &path).unwrap();
    let rib = RibHandle::spawn(rib::topology::load(&path).unwrap()).unwrap();
    let ctx = Arc::new(ShellContext::new(rib).with_stats(Arc::new(CongestedStats)));
    let mut s = login(&ctx, "admin", "vnswitch");
    run(&mut s, "configure terminal");
    run(&mut s, "interface h");
    assert_eq!(run(&mut s, "traffic-shape rate 10000000"), "");
    run(&mut s, "end");
    let pm = run(&mut s, "show policy-map interface");
    let q = switch::pipeline::schedule::CLASS_QUEUE_FRAMES;
    assert!(
        pm.contains(&format!(
            "      shape (average) cir 10000000, bc 125000 bytes, queue limit {q} packets per class\n\
             \x20       conformed 900 packets, 1350000 bytes; action: transmit\n\
             \x20       exceeded 300 packets, 450000 bytes; action: queue\n\
             \x20       dropped 40 packets, 60000 bytes\n"
        )),
        "{pm}"
    );
    // Tenant y's service-level shaper (port b) with its queue.
    let t = switch::pipeline::schedule::TENANT_QUEUE_FRAMES;
    assert!(
        pm.contains(&format!(
            "  Service-policy (vrf y, service-level silver): shape average 100 Mbit/s\n\
             \x20       queue limit {t} packets\n\
             \x20       conformed 70 packets, 7000 bytes; action: transmit\n\
             \x20       exceeded 8 packets, 800 bytes; action: queue\n\
             \x20       dropped 3 packets, 300 bytes\n"
        )),
        "{pm}"
    );
    let table = "  Class        Tx packets       Tx bytes       Queued      Q drops  Max depth Ring drops\n\
                 \x20 platinum           6000         600000          500            0         12          0\n\
                 \x20 gold                  0              0            0            0          0          0\n\
                 \x20 silver             1000         100000         9000         8000        128          0\n";
    assert!(pm.ends_with(table), "{pm}");
    // A tenant user sees its own ports' shapers, never the appliance-wide class table.
    let mut z = login(&ctx, "z-ops", "z-ops");
    let pm = run(&mut z, "show policy-map interface");
    assert!(pm.contains("dropped 40 packets"), "{pm}");
    assert!(!pm.contains("Egress priority"), "{pm}");
}
