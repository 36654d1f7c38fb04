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
