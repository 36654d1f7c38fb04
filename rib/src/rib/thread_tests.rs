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
