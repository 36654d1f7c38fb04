//! Tests of the RIB thread (commands, batching, publication) and the shell views.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::compile_tests::topo;
use super::{RibError, RibHandle, RouteSource};
use crate::fib::Adjacency;
use crate::topology::schema::HostConfig;
use crate::types::{Ipv4Prefix, TableId};
use std::net::Ipv4Addr;
use std::sync::Arc;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}
fn pfx(s: &str) -> Ipv4Prefix {
    s.parse().unwrap()
}

const J: TableId = TableId(0);
const L: TableId = TableId(1);
const Y: TableId = TableId(2);

#[test]
fn first_snapshot_is_published_before_spawn_returns() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let s = rib.snapshot();
    assert_eq!(s.generation, 1);
    assert!(matches!(s.lookup(J, ip("10.1.5.7")), Some(Adjacency::Deliver { .. })));
    rib.shutdown();
}

#[test]
fn add_and_remove_route_publish_new_generations() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let before = rib.snapshot();
    assert_eq!(before.lookup(J, ip("172.16.3.4")), None);

    rib.add_route("z", pfx("172.16.0.0/16"), ip("10.1.5.7")).unwrap();
    let after = rib.snapshot();
    assert!(after.generation > before.generation);
    for t in [J, L] {
        match after.lookup(t, ip("172.16.3.4")) {
            Some(Adjacency::Deliver { dst_mac, .. }) => assert_eq!(dst_mac.to_string(), "00:00:7d:a2:34:11"),
            other => panic!("{other:?}"),
        }
    }
    // Tenant y's table is untouched and shared between the snapshots.
    assert!(Arc::ptr_eq(&before.tables[Y.index()], &after.tables[Y.index()]));
    assert_eq!(after.lookup(Y, ip("172.16.3.4")), None);
    // The old snapshot still answers as before (readers holding it are unaffected).
    assert_eq!(before.lookup(J, ip("172.16.3.4")), None);
    // Running configuration and topology follow.
    let cfg = rib.running_config().unwrap();
    assert_eq!(cfg.tenants[0].static_routes.len(), 1);
    assert_eq!(rib.topology().tenants[0].static_routes.len(), 1);
    let routes = rib.routes("z").unwrap();
    let s = routes.iter().find(|r| r.router == "L" && r.prefix == pfx("172.16.0.0/16")).unwrap();
    assert_eq!(
        (s.source, s.distance, s.next_hop, s.interface.as_str()),
        (RouteSource::Static, 1, Some(ip("10.1.5.7")), "Gi0/0")
    );
    let o = routes.iter().find(|r| r.router == "J" && r.prefix == pfx("172.16.0.0/16")).unwrap();
    assert_eq!(
        (o.source, o.distance, o.metric, o.next_hop, o.interface.as_str()),
        (RouteSource::Spf, 110, 10, Some(ip("192.168.100.2")), "Gi0/1")
    );

    // Adding the same route again changes nothing.
    let g = rib.snapshot().generation;
    rib.add_route("z", pfx("172.16.0.0/16"), ip("10.1.5.7")).unwrap();
    assert_eq!(rib.snapshot().generation, g);
    assert_eq!(rib.running_config().unwrap().tenants[0].static_routes.len(), 1);

    rib.remove_route("z", pfx("172.16.0.0/16"), ip("10.1.5.7")).unwrap();
    let removed = rib.snapshot();
    assert!(removed.generation > g);
    assert_eq!(removed.lookup(J, ip("172.16.3.4")), None);
    assert_eq!(removed.lookup(L, ip("172.16.3.4")), None);
    assert!(rib.running_config().unwrap().tenants[0].static_routes.is_empty());
    assert_eq!(
        rib.remove_route("z", pfx("172.16.0.0/16"), ip("10.1.5.7")),
        Err(RibError::NoSuchRoute(pfx("172.16.0.0/16"), ip("10.1.5.7")))
    );
    rib.shutdown();
}

#[test]
fn bad_commands_are_refused_without_publishing() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    assert_eq!(
        rib.add_route("q", pfx("1.0.0.0/8"), ip("10.0.0.10")),
        Err(RibError::NoSuchTenant("q".into()))
    );
    assert_eq!(
        rib.add_route("z", pfx("1.0.0.0/8"), ip("10.9.9.9")),
        Err(RibError::NextHopUnreachable(ip("10.9.9.9")))
    );
    assert_eq!(rib.set_port_enabled("nope", false), Err(RibError::NoSuchPort("nope".into())));
    assert!(rib.routes("nope").is_err());
    assert_eq!(rib.snapshot().generation, 1);
    rib.shutdown();
    // After shutdown, requests fail instead of hanging.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(rib.add_route("z", pfx("1.0.0.0/8"), ip("10.0.0.10")), Err(RibError::Stopped));
}

#[test]
fn port_disable_and_enable() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    rib.set_port_enabled("h", false).unwrap();
    let s = rib.snapshot();
    assert!(!s.ports[1].up);
    assert_eq!(s.lookup(J, ip("10.1.5.7")), Some(&Adjacency::Unreachable));
    assert!(matches!(s.lookup(J, ip("10.0.0.10")), Some(Adjacency::Deliver { .. })));
    assert!(!rib.running_config().unwrap().ports[1].enabled);
    assert!(!rib.topology().ports[1].enabled);
    rib.set_port_enabled("h", true).unwrap();
    let s2 = rib.snapshot();
    assert!(s2.ports[1].up && s2.generation > s.generation);
    assert!(matches!(s2.lookup(J, ip("10.1.5.7")), Some(Adjacency::Deliver { .. })));
    rib.shutdown();
}

#[test]
fn add_host_installs_a_deliver_entry() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let host = HostConfig {
        name: "C".into(),
        address: ip("10.1.5.8"),
        mac: "00:00:7d:a2:34:12".parse().unwrap(),
        port: Some("h".into()),
        node: None,
        netns: None,
    };
    rib.add_host("z", host.clone()).unwrap();
    match rib.snapshot().lookup(J, ip("10.1.5.8")) {
        Some(Adjacency::Deliver { dst_mac, path, .. }) => {
            assert_eq!((dst_mac.to_string().as_str(), path.len), ("00:00:7d:a2:34:12", 2))
        }
        other => panic!("{other:?}"),
    }
    // A duplicate name is refused.
    assert!(matches!(rib.add_host("z", host), Err(RibError::Invalid(_))));
    rib.shutdown();
}

#[test]
fn many_queued_commands_batch_into_few_publications() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let mut replies = Vec::new();
    for i in 0..200u32 {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let prefix = Ipv4Prefix::new(Ipv4Addr::from(0xac10_0000 + (i << 8)), 24);
        rib.tx
            .send(super::RibCommand::AddRoute {
                tenant: "z".into(),
                prefix,
                next_hop: ip("10.0.0.10"),
                reply: tx,
            })
            .unwrap();
        replies.push(rx);
    }
    for r in replies {
        r.recv().unwrap().unwrap();
    }
    let s = rib.snapshot();
    assert!(s.generation >= 2 && s.generation <= 201);
    for i in 0..200u32 {
        let a = Ipv4Addr::from(0xac10_0000 + (i << 8) + 9);
        assert!(matches!(s.lookup(L, a), Some(Adjacency::Deliver { .. })), "{a}");
    }
    assert_eq!(rib.running_config().unwrap().tenants[0].static_routes.len(), 200);
    rib.shutdown();
}

#[test]
fn route_and_neighbour_views_of_default() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let routes = rib.routes("z").unwrap();
    let j: Vec<_> = routes
        .iter()
        .filter(|r| r.router == "J")
        .map(|r| (r.prefix.to_string(), r.source, r.distance, r.metric, r.interface.clone()))
        .collect();
    assert_eq!(
        j,
        vec![
            ("10.0.0.0/24".to_string(), RouteSource::Connected, 0, 0, "Gi0/0".to_string()),
            ("10.0.0.1/32".to_string(), RouteSource::Local, 0, 0, "Gi0/0".to_string()),
            ("10.1.5.0/24".to_string(), RouteSource::Spf, 110, 10, "Gi0/1".to_string()),
            ("192.168.100.0/30".to_string(), RouteSource::Connected, 0, 0, "Gi0/1".to_string()),
            ("192.168.100.1/32".to_string(), RouteSource::Local, 0, 0, "Gi0/1".to_string()),
        ]
    );
    let o = routes.iter().find(|r| r.router == "J" && r.source == RouteSource::Spf).unwrap();
    assert_eq!(o.next_hop, Some(ip("192.168.100.2")));
    let n = rib.neighbours("z").unwrap();
    let l: Vec<_> = n
        .iter()
        .filter(|n| n.router == "L")
        .map(|n| (n.address.to_string(), n.mac.to_string(), n.interface.clone(), n.local))
        .collect();
    assert_eq!(
        l,
        vec![
            ("10.1.5.1".into(), "00:01:42:cd:11:01".into(), "Gi0/0".into(), true),
            ("10.1.5.7".into(), "00:00:7d:a2:34:11".into(), "Gi0/0".into(), false),
            ("192.168.100.1".into(), "00:01:42:09:88:74".into(), "Gi0/1".into(), false),
            ("192.168.100.2".into(), "00:01:42:cd:11:02".into(), "Gi0/1".into(), true),
        ]
    );
    let y = rib.neighbours("y").unwrap();
    assert!(y.iter().all(|n| n.router == "Y"));
    assert_eq!(y.len(), 2);
    rib.shutdown();
}

#[test]
fn reader_sees_every_generation_in_order_under_changes() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let fib = rib.fib();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let reader = std::thread::spawn(move || {
        let mut last = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let g = fib.load();
            assert!(g.generation >= last);
            last = g.generation;
            // Every snapshot is complete: A and H are always reachable from J.
            assert!(matches!(g.lookup(J, ip("10.1.5.7")), Some(Adjacency::Deliver { .. })));
        }
        last
    });
    for i in 0..50u32 {
        let p = Ipv4Prefix::new(Ipv4Addr::from(0x0b00_0000 + (i << 16)), 16);
        rib.add_route("z", p, ip("10.0.0.10")).unwrap();
        if i % 2 == 0 {
            rib.remove_route("z", p, ip("10.0.0.10")).unwrap();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let last = reader.join().unwrap();
    assert!(last <= rib.snapshot().generation);
    assert_eq!(rib.snapshot().generation, 1 + 75);
    rib.shutdown();
}

mod overlay {
    //! The route manager commands through the RIB thread: each change republishes only the
    //! tunnels (and port state); every router table stays shared with the previous snapshot.

    use super::*;
    use crate::fib::{FibSnapshot, Tunnel};
    use crate::topology::tests::overlay;
    use crate::types::{MacAddr, Plane, TenantId, TunnelId};

    const Z: TenantId = TenantId(0);

    fn tunnel(s: &FibSnapshot) -> Tunnel {
        *s.tunnel(TunnelId(0)).expect("tunnel 0")
    }

    /// (plane, uplink name, remote VTEP) of the z -> remote tunnel.
    fn route(rib: &RibHandle) -> Option<(Plane, String, Ipv4Addr)> {
        let s = rib.snapshot();
        let p = tunnel(&s).path?;
        Some((p.plane, s.ports[p.port.index()].name.clone(), p.remote_ip))
    }

    fn tables_shared(a: &FibSnapshot, b: &FibSnapshot) -> bool {
        a.tables.len() == b.tables.len() && a.tables.iter().zip(&b.tables).all(|(x, y)| Arc::ptr_eq(x, y))
    }

    fn fast() -> Option<(Plane, String, Ipv4Addr)> {
        Some((Plane::Fast, "upf".into(), ip("10.254.0.2")))
    }
    fn slow() -> Option<(Plane, String, Ipv4Addr)> {
        Some((Plane::Slow, "ups".into(), ip("10.254.1.2")))
    }

    #[test]
    fn substrate_link_down_moves_the_tunnel_only() {
        let rib = RibHandle::spawn(overlay()).unwrap();
        let before = rib.snapshot();
        assert_eq!(route(&rib), fast());
        rib.set_substrate_link("fast-remote", false).unwrap();
        let after = rib.snapshot();
        assert!(after.generation > before.generation);
        assert_eq!(route(&rib), slow());
        assert!(tables_shared(&before, &after), "router tables must be Arc-shared");
        let paths = rib.substrate_paths(Some("z")).unwrap();
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].links, ["sw1-slow", "slow-remote"]);
        assert_eq!(
            paths[0].reason,
            "gold: balanced latency + cost + reliability penalty; link fast-remote down"
        );
        rib.set_substrate_link("fast-remote", true).unwrap();
        assert_eq!(route(&rib), fast());
        assert!(tables_shared(&before, &rib.snapshot()));
        // Unknown link: an error, nothing published.
        let g = rib.snapshot().generation;
        assert_eq!(rib.set_substrate_link("moon", false), Err(RibError::NoSuchLink("moon".into())));
        assert_eq!(rib.snapshot().generation, g);
        // Every path down: the tunnel has none, the adjacency stays Encap.
        rib.set_substrate_link("sw1-fast", false).unwrap();
        rib.set_substrate_link("slow-remote", false).unwrap();
        let s = rib.snapshot();
        assert_eq!(tunnel(&s).path, None);
        assert!(matches!(s.lookup(J, ip("10.1.5.7")), Some(Adjacency::Encap { .. })));
        assert!(tables_shared(&before, &s));
        rib.shutdown();
    }

    #[test]
    fn shutting_an_uplink_takes_its_link_down() {
        let rib = RibHandle::spawn(overlay()).unwrap();
        let before = rib.snapshot();
        rib.set_port_enabled("upf", false).unwrap();
        let after = rib.snapshot();
        assert_eq!(route(&rib), slow());
        let upf = rib.topology().port_by_name("upf").unwrap().id;
        assert!(!after.ports[upf.index()].up);
        assert!(tables_shared(&before, &after));
        let view = rib.substrate().unwrap();
        let l = view.links.iter().find(|l| l.name == "sw1-fast").unwrap();
        assert!(!l.up);
        assert_eq!(l.down_reason.as_deref(), Some("link sw1-fast down (uplink upf shut down)"));
        rib.set_port_enabled("upf", true).unwrap();
        assert_eq!(route(&rib), fast());
        rib.shutdown();
    }

    #[test]
    fn over_quota_moves_a_gold_tenant_to_the_slow_plane() {
        let rib = RibHandle::spawn(overlay()).unwrap();
        let before = rib.snapshot();
        rib.set_over_quota(Z, true).unwrap();
        // A read flushes: the notification before it is published.
        let paths = rib.substrate_paths(None).unwrap();
        assert_eq!(route(&rib), slow());
        assert!(paths[0].reason.contains("over fast-path quota: slow links only"), "{}", paths[0].reason);
        assert!(tables_shared(&before, &rib.snapshot()));
        // The same flag again publishes nothing.
        let g = rib.snapshot().generation;
        rib.set_over_quota(Z, true).unwrap();
        rib.substrate().unwrap();
        assert_eq!(rib.snapshot().generation, g);
        rib.set_over_quota(Z, false).unwrap();
        rib.substrate().unwrap();
        assert_eq!(route(&rib), fast());
        rib.shutdown();
    }

    #[test]
    fn learned_gateway_mac_resolves_the_tunnel() {
        let rib = RibHandle::spawn(overlay()).unwrap();
        let topo = rib.topology();
        let (upf, ups) = (topo.port_by_name("upf").unwrap().id, topo.port_by_name("ups").unwrap().id);
        // What the application resolves: both gateways (failover is ready), once.
        assert_eq!(rib.arp_targets(), vec![(upf, ip("10.255.1.254")), (ups, ip("10.255.2.254"))]);
        assert_eq!(tunnel(&rib.snapshot()).path.unwrap().dst_mac, None);
        let before = rib.snapshot();
        let gw: MacAddr = "02:00:0a:ff:01:fe".parse().unwrap();
        rib.neighbour_learned(upf, ip("10.255.1.254"), gw).unwrap();
        // Unwanted neighbours (not a next hop) are ignored.
        rib.neighbour_learned(upf, ip("10.255.1.77"), gw).unwrap();
        let paths = rib.substrate_paths(Some("z")).unwrap();
        assert_eq!((paths[0].next_hop, paths[0].next_hop_mac), (Some(ip("10.255.1.254")), Some(gw)));
        let after = rib.snapshot();
        assert_eq!(tunnel(&after).path.unwrap().dst_mac, Some(gw));
        assert_eq!(after.generation, before.generation + 1);
        assert!(tables_shared(&before, &after));
        // The slow path's gateway is not known yet: moving there leaves it unresolved.
        rib.set_port_enabled("upf", false).unwrap();
        assert_eq!(tunnel(&rib.snapshot()).path.unwrap().dst_mac, None);
        assert_eq!(rib.fast_path_quotas(), vec![]);
        rib.shutdown();
    }

    #[test]
    fn adding_a_host_keeps_link_state_and_neighbours() {
        let rib = RibHandle::spawn(overlay()).unwrap();
        let upf = rib.topology().port_by_name("upf").unwrap().id;
        let gw: MacAddr = "02:00:0a:ff:01:fe".parse().unwrap();
        rib.neighbour_learned(upf, ip("10.255.1.254"), gw).unwrap();
        rib.set_substrate_link("fast-remote", false).unwrap();
        let host = HostConfig {
            name: "H2".into(),
            address: ip("10.1.5.8"),
            mac: "00:00:7d:a2:34:12".parse().unwrap(),
            port: None,
            node: Some("remote".into()),
            netns: None,
        };
        rib.add_host("z", host).unwrap();
        let s = rib.snapshot();
        assert_eq!(s.tunnels.len(), 1, "same (tenant, node): same tunnel");
        assert_eq!(route(&rib), slow(), "link state survived the rebuild");
        assert!(matches!(s.lookup(J, ip("10.1.5.8")), Some(Adjacency::Encap { tunnel: TunnelId(0), .. })));
        rib.set_substrate_link("fast-remote", true).unwrap();
        assert_eq!(tunnel(&rib.snapshot()).path.unwrap().dst_mac, Some(gw), "neighbours survived");
        rib.shutdown();
    }
}

/// The i-th /32 of a route feed (172.16.0.0/12, clear of the default topology's subnets).
fn feed_prefix(i: u32) -> Ipv4Prefix {
    Ipv4Prefix::new(Ipv4Addr::from(0xac10_0000 + i), 32)
}

/// Issue 11: with every change already queued, the RIB applied the whole queue before its
/// single publication, so a sustained feed was never published (nor answered) until it
/// stopped. Batches are capped: a long queue publishes several generations.
#[test]
fn a_long_queue_of_changes_publishes_along_the_way() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let g0 = rib.snapshot().generation;
    let answers: Vec<_> =
        (0..40_000).map(|i| rib.submit_route(true, "z", feed_prefix(i), ip("10.1.5.7")).unwrap()).collect();
    for a in answers {
        a.recv().unwrap().unwrap();
    }
    let s = rib.snapshot();
    assert!(s.generation - g0 >= 3, "only {} publications for 40k queued changes", s.generation - g0);
    assert!(matches!(s.lookup(L, ip("172.16.156.63")), Some(Adjacency::Deliver { .. })));
    rib.shutdown();
}

/// Issue 11 item 4: a route change cloned the whole topology (the running configuration)
/// for every publication. Under a feed it is published at most every 100 ms (at once for
/// interactive changes), and the last state shortly after the feed stops.
#[test]
fn a_route_feed_does_not_clone_the_topology_per_batch() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (rib, stop) = (rib.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut last = Arc::as_ptr(&rib.topology());
            let mut changes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let now = Arc::as_ptr(&rib.topology());
                if now != last {
                    changes += 1;
                    last = now;
                }
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            changes
        })
    };
    let start = std::time::Instant::now();
    let g0 = rib.snapshot().generation;
    let mut answers = Vec::new();
    for chunk in 0..300u32 {
        for k in 0..100 {
            answers.push(rib.submit_route(true, "z", feed_prefix(chunk * 100 + k), ip("10.1.5.7")).unwrap());
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    for a in answers {
        a.recv().unwrap().unwrap();
    }
    let elapsed = start.elapsed();
    let generations = rib.snapshot().generation - g0;
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let clones = sampler.join().unwrap();
    let budget = (elapsed.as_millis() / 100) as usize + 3;
    assert!(generations > budget as u64, "the feed should publish many FIB generations: {generations}");
    assert!(
        clones <= budget,
        "{clones} topology publications in {elapsed:?} ({generations} FIB generations)"
    );
    // The running configuration catches up once the feed stops.
    assert_eq!(rib.topology().tenants[0].static_routes.len(), 30_000);
    // An interactive change right after is visible at once.
    rib.add_route("z", pfx("10.99.0.0/16"), ip("10.1.5.7")).unwrap();
    assert_eq!(rib.topology().tenants[0].static_routes.len(), 30_001);
    rib.shutdown();
}

/// Issue 11 item 4: `show ip route` went through the RIB thread and waited behind every
/// queued change and their compile. It is answered from the published state at once.
#[test]
fn show_routes_does_not_wait_behind_a_busy_rib() {
    let rib = RibHandle::spawn(topo("default.ron")).unwrap();
    let answers: Vec<_> =
        (0..40_000).map(|i| rib.submit_route(true, "z", feed_prefix(i), ip("10.1.5.7")).unwrap()).collect();
    let routes = rib.routes("z").unwrap();
    let neighbours = rib.neighbours("z").unwrap();
    let last_done = answers.last().is_some_and(|a| !a.is_empty());
    assert!(!last_done, "show ip route waited for the whole feed");
    assert!(routes.iter().any(|r| r.prefix == pfx("10.1.5.0/24")));
    assert!(!neighbours.is_empty());
    assert_eq!(rib.routes("nope"), Err(RibError::NoSuchTenant("nope".into())));
    for a in answers {
        a.recv().unwrap().unwrap();
    }
    rib.shutdown();
}
