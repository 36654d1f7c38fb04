#![allow(clippy::unwrap_used)]
//! Router-scoped (in-band) sessions: a session opened on a logical router's address is
//! confined to that router's tenant and view — prompt, routes, admin-only commands, the
//! login refusal of another tenant's user and its audit entry — against a real RIB thread
//! running the default topology.

use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::vty::{new_session, RouterScope, VtyOptions};
use shell::ShellContext;
use std::path::Path;
use std::sync::Arc;

fn context() -> Arc<ShellContext> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let topo = rib::topology::load(&path).expect("default topology loads");
    Arc::new(ShellContext::new(RibHandle::spawn(topo).expect("rib starts")))
}

fn on_router(ctx: &Arc<ShellContext>, tenant: &str, router: &str) -> Session {
    let opts = VtyOptions {
        line: format!("vty-{router} 0"),
        peer: "10.0.0.10:40312".into(),
        telnet: true,
        scope: Some(RouterScope { tenant: tenant.into(), router: router.into() }),
    };
    new_session(ctx.clone(), &opts)
}

#[test]
fn a_tenant_user_on_its_router_sees_that_routers_table() {
    let ctx = context();
    let mut s = on_router(&ctx, "z", "J");
    assert_eq!(s.login("z-ops", "z-ops"), LoginResult::Ok);
    assert_eq!(s.prompt(), "J#");
    let routes = s.execute("show ip route").text;
    assert!(routes.contains("10.1.5.0/24 [") && routes.contains("via 192.168.100.2"), "{routes}");
    // J's table only: L's block (and its title) is not shown.
    assert!(!routes.contains("logical router L"), "{routes}");
    assert!(!routes.contains("10.0.0.0/24 [1/0] via"), "{routes}");
    let refused = s.execute("show substrate").text;
    assert!(refused.contains("% Access denied") || refused.contains("% Invalid input"), "{refused}");
    let other = s.execute("show ip route vrf y").text;
    assert!(other.contains("% Access denied: vrf y is not in your scope"), "{other}");
    s.execute("disable");
    assert_eq!(s.prompt(), "J>");
}

#[test]
fn an_administrator_in_band_is_confined_to_the_tenant() {
    let ctx = context();
    let mut s = on_router(&ctx, "z", "J");
    assert_eq!(s.login("admin", "vnswitch"), LoginResult::Ok);
    assert_eq!(s.prompt(), "J#");
    let refused = s.execute("show substrate").text;
    assert!(
        refused.contains("% Access denied: 'show substrate' is reserved to administrators."),
        "{refused}"
    );
    assert!(s.execute("show ip route vrf y").text.contains("% Access denied"));
    // The same administrator on the management line sees everything.
    let mut m = Session::new(ctx.clone(), "vty 0", "127.0.0.1:4000");
    assert_eq!(m.login("admin", "vnswitch"), LoginResult::Ok);
    assert!(!m.execute("show substrate").text.contains("% Access denied"));
    let log = m.execute("show logging").text;
    assert!(log.contains("show substrate") && log.contains("administrators only"), "{log}");
}

#[test]
fn another_tenants_user_is_refused_at_login_and_the_refusal_is_logged() {
    let ctx = context();
    let mut s = on_router(&ctx, "z", "J");
    assert_eq!(
        s.login("y-ops", "y-ops"),
        LoginResult::Denied { message: "% Access denied: user y-ops is not allowed on router J".into() }
    );
    assert!(!s.logged_in());
    // y-ops is welcome on its own router Y (same address 10.0.0.1, other tenant).
    let mut y = on_router(&ctx, "y", "Y");
    assert_eq!(y.login("y-ops", "y-ops"), LoginResult::Ok);
    assert_eq!(y.prompt(), "Y#");
    let routes = y.execute("show ip route").text;
    assert!(routes.contains("10.0.0.0/24 is directly connected") && !routes.contains("10.1.5.0"), "{routes}");
    let mut m = Session::new(ctx.clone(), "vty 0", "127.0.0.1:4000");
    assert_eq!(m.login("admin", "vnswitch"), LoginResult::Ok);
    let log = m.execute("show logging").text;
    assert!(log.contains("LOGIN_REFUSED") && log.contains("not allowed on router J"), "{log}");
}

/// One worker that punted and injected in-band packets and dropped some of a flood.
struct InbandStats;
impl shell::StatsSource for InbandStats {
    fn workers(&self) -> Vec<shell::WorkerStats> {
        vec![shell::WorkerStats {
            drops: vec![
                ("mgmt_rate_limited".into(), 40),
                ("mgmt_queue_full".into(), 2),
                ("no_route".into(), 1),
            ],
            mgmt_punted: 12,
            mgmt_injected: 15,
            ..Default::default()
        }]
    }
    fn ports(&self) -> Vec<shell::PortCounters> {
        Vec::new()
    }
    fn clear(&self) {}
}

#[test]
fn show_processes_counts_in_band_packets_and_their_drops() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let topo = rib::topology::load(&path).unwrap();
    let ctx = Arc::new(ShellContext::new(RibHandle::spawn(topo).unwrap()).with_stats(Arc::new(InbandStats)));
    let mut m = Session::new(ctx, "vty 0", "127.0.0.1:4000");
    assert_eq!(m.login("admin", "vnswitch"), LoginResult::Ok);
    let p = m.execute("show processes").text;
    assert!(
        p.contains("  worker-0 drops: 43 (mgmt_rate_limited 40, mgmt_queue_full 2, no_route 1)\n"),
        "{p}"
    );
    assert!(p.ends_with("In-band management: 12 packets punted, 15 injected, 42 dropped\n"), "{p}");
}
