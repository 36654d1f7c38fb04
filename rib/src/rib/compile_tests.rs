//! Tests of route computation and FIB compilation on the committed topologies.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::compile::compile_snapshot;
use crate::fib::{Adjacency, FibSnapshot, PortKind};
use crate::topology::{self, schema::StaticRouteConfig, Topology};
use crate::types::{MacAddr, PortId, RouterId, TableId, TenantId};
use std::net::Ipv4Addr;
use std::path::PathBuf;

pub(crate) fn topo(name: &str) -> Topology {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../topologies").join(name);
    topology::load(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn table_of(t: &Topology, tenant: &str, router: &str) -> TableId {
    let tid = t.tenant_by_name(tenant).unwrap().id;
    TableId(t.router_by_name(tid, router).unwrap().id.0)
}

fn with_statics(mut t: Topology, tenant: &str, routes: &[(&str, &str, Option<&str>)]) -> Topology {
    let ti = t.tenant_by_name(tenant).unwrap().id.index();
    for (p, nh, r) in routes {
        t.file.tenants[ti].static_routes.push(StaticRouteConfig {
            prefix: p.parse().unwrap(),
            next_hop: ip(nh),
            router: r.map(str::to_string),
        });
    }
    Topology::from_file(t.file).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn default_j_table_reaches_h_across_two_routers() {
    let t = topo("default.ron");
    let fib = compile_snapshot(&t).unwrap();
    let j = table_of(&t, "z", "J");
    match fib.lookup(j, ip("10.1.5.7")) {
        Some(Adjacency::Deliver { port, vlan, src_mac, dst_mac, path }) => {
            assert_eq!(*port, t.port_by_name("h").unwrap().id);
            assert_eq!(*vlan, None);
            assert_eq!(*src_mac, mac("00:01:42:cd:11:01"));
            assert_eq!(*dst_mac, mac("00:00:7d:a2:34:11"));
            assert_eq!(path.len, 2);
            assert_eq!(path.hop_addrs(), &[ip("10.0.0.1"), ip("192.168.100.2")]);
            assert_eq!(&path.routers[..2], &[RouterId(0), RouterId(1)]);
        }
        other => panic!("10.1.5.7 from J: {other:?}"),
    }
    match fib.lookup(j, ip("10.1.5.1")) {
        Some(Adjacency::Local { router, path }) => {
            assert_eq!(*router, RouterId(1));
            assert_eq!(path.len, 1);
            assert_eq!(path.hop_addrs(), &[ip("10.0.0.1")]);
        }
        other => panic!("10.1.5.1 from J: {other:?}"),
    }
    match fib.lookup(j, ip("192.168.100.2")) {
        Some(Adjacency::Local { router, path }) => assert_eq!((*router, path.len), (RouterId(1), 1)),
        other => panic!("192.168.100.2 from J: {other:?}"),
    }
    match fib.lookup(j, ip("10.0.0.1")) {
        Some(Adjacency::Local { router, path }) => assert_eq!((*router, path.len), (RouterId(0), 0)),
        other => panic!("10.0.0.1 from J: {other:?}"),
    }
    match fib.lookup(j, ip("10.0.0.10")) {
        Some(Adjacency::Deliver { port, src_mac, dst_mac, path, .. }) => {
            assert_eq!(*port, PortId(0));
            assert_eq!(*src_mac, mac("00:01:42:09:88:73"));
            assert_eq!(*dst_mac, mac("00:05:02:0b:27:44"));
            assert_eq!(path.len, 1);
        }
        other => panic!("10.0.0.10 from J: {other:?}"),
    }
    // Known subnets without a host there: unreachable; outside every subnet: no route.
    assert_eq!(fib.lookup(j, ip("10.0.0.99")), Some(&Adjacency::Unreachable));
    assert_eq!(fib.lookup(j, ip("10.1.5.99")), Some(&Adjacency::Unreachable));
    assert_eq!(fib.lookup(j, ip("8.8.8.8")), None);
    // From L back to A: L then J, TTL source of hop 1 is J's link address.
    let l = table_of(&t, "z", "L");
    match fib.lookup(l, ip("10.0.0.10")) {
        Some(Adjacency::Deliver { port, src_mac, path, .. }) => {
            assert_eq!(*port, PortId(0));
            assert_eq!(*src_mac, mac("00:01:42:09:88:73"));
            assert_eq!(path.hop_addrs(), &[ip("10.1.5.1"), ip("192.168.100.1")]);
        }
        other => panic!("10.0.0.10 from L: {other:?}"),
    }
}

#[test]
fn default_ports_tenants_and_vni_map() {
    let t = topo("default.ron");
    let fib = compile_snapshot(&t).unwrap();
    assert_eq!(fib.generation, 1);
    assert_eq!(fib.tables.len(), 3);
    assert_eq!(fib.ports.len(), 3);
    let a = &fib.ports[0];
    assert!(a.up);
    assert_eq!(
        a.kind,
        PortKind::Access {
            tenant: TenantId(0),
            vlan: None,
            table: TableId(0),
            router: RouterId(0),
            gateway_ip: ip("10.0.0.1"),
            gateway_mac: mac("00:01:42:09:88:73"),
            subnet: "10.0.0.0/24".parse().unwrap(),
        }
    );
    match &fib.ports[2].kind {
        PortKind::Access { tenant, table, gateway_mac, .. } => {
            assert_eq!((*tenant, *table, *gateway_mac), (TenantId(1), TableId(2), mac("00:01:42:00:00:b1")))
        }
        k => panic!("{k:?}"),
    }
    assert_eq!(fib.vni_map, vec![(5001, TenantId(0), TableId(0)), (5002, TenantId(1), TableId(2))]);
    assert_eq!(fib.tenants[1].name, "y");
    for (i, tb) in fib.tables.iter().enumerate() {
        assert_eq!(tb.router, RouterId(i as u16));
    }
}

/// Every Deliver adjacency reachable from `table` for addresses in a set of ranges.
fn delivered_ports(fib: &FibSnapshot, table: TableId, ranges: &[&str]) -> Vec<PortId> {
    let mut ports = Vec::new();
    for r in ranges {
        let p: crate::types::Ipv4Prefix = r.parse().unwrap();
        let n = 1u32 << (32 - p.len());
        for k in 0..n {
            if let Some(Adjacency::Deliver { port, .. }) = fib.lookup(table, Ipv4Addr::from(p.addr_u32() + k))
            {
                ports.push(*port);
            }
        }
    }
    ports
}

#[test]
fn tenant_y_never_reaches_tenant_z_ports() {
    let t = topo("default.ron");
    let fib = compile_snapshot(&t).unwrap();
    let y = table_of(&t, "y", "Y");
    let ranges = ["10.0.0.0/24", "10.1.5.0/24", "192.168.100.0/30"];
    let ports = delivered_ports(&fib, y, &ranges);
    assert_eq!(ports, vec![t.port_by_name("b").unwrap().id]);
    match fib.lookup(y, ip("10.0.0.10")) {
        Some(Adjacency::Deliver { dst_mac, .. }) => assert_eq!(*dst_mac, mac("00:05:02:0b:27:bb")),
        other => panic!("{other:?}"),
    }
    assert_eq!(fib.lookup(y, ip("10.1.5.7")), None);
    // And z never reaches b.
    for r in ["J", "L"] {
        let ports = delivered_ports(&fib, table_of(&t, "z", r), &ranges);
        assert!(!ports.contains(&t.port_by_name("b").unwrap().id));
        assert_eq!(ports.len(), 2);
    }
}

#[test]
fn campus_spf_takes_the_cheaper_two_hop_path() {
    let t = topo("campus.ron");
    let fib = compile_snapshot(&t).unwrap();
    let r1 = table_of(&t, "acme", "R1");
    match fib.lookup(r1, ip("10.10.3.20")) {
        Some(Adjacency::Deliver { port, vlan, src_mac, path, .. }) => {
            assert_eq!(*port, t.port_by_name("acme3").unwrap().id);
            assert_eq!(*vlan, Some(30));
            assert_eq!(*src_mac, mac("02:00:0a:0a:03:01"));
            assert_eq!(path.hop_addrs(), &[ip("10.10.1.1"), ip("10.10.12.2"), ip("10.10.23.2")]);
        }
        other => panic!("{other:?}"),
    }
    // Make the direct link cheap: the path becomes R1 -> R3.
    let mut f = t.file.clone();
    f.tenants[0].links[2].cost = 5;
    let t2 = Topology::from_file(f).unwrap();
    let fib2 = compile_snapshot(&t2).unwrap();
    match fib2.lookup(r1, ip("10.10.3.20")) {
        Some(Adjacency::Deliver { path, .. }) => {
            assert_eq!(path.hop_addrs(), &[ip("10.10.1.1"), ip("10.10.13.2")])
        }
        other => panic!("{other:?}"),
    }
    // Static route of globex via the firewall host.
    let g = table_of(&t, "globex", "G");
    match fib.lookup(g, ip("172.16.40.1")) {
        Some(Adjacency::Deliver { dst_mac, path, .. }) => {
            assert_eq!((*dst_mac, path.len), (mac("02:00:0a:14:00:fe"), 1))
        }
        other => panic!("{other:?}"),
    }
    // initech reuses acme's LAN range and stays on its own port.
    let i = table_of(&t, "initech", "I");
    match fib.lookup(i, ip("10.10.1.10")) {
        Some(Adjacency::Deliver { port, .. }) => assert_eq!(*port, t.port_by_name("initech").unwrap().id),
        other => panic!("{other:?}"),
    }
}

#[test]
fn static_routes_resolve_through_routers_and_detect_loops() {
    let t = with_statics(
        topo("default.ron"),
        "z",
        &[
            // At L via host H: J reaches it by SPF, then L delivers.
            ("172.16.0.0/16", "10.1.5.7", None),
            // At J via L's link address, and at L via H: J hands over to L, L delivers.
            ("172.17.0.0/16", "192.168.100.2", Some("J")),
            ("172.17.0.0/16", "10.1.5.7", Some("L")),
            // At J via L, but L only knows it through J: a loop.
            ("172.18.0.0/16", "192.168.100.2", Some("J")),
            // Via an address with no host: unresolved.
            ("172.19.0.0/16", "10.0.0.77", None),
        ],
    );
    let fib = compile_snapshot(&t).unwrap();
    let j = table_of(&t, "z", "J");
    for dst in ["172.16.1.1", "172.17.1.1"] {
        match fib.lookup(j, ip(dst)) {
            Some(Adjacency::Deliver { dst_mac, src_mac, path, .. }) => {
                assert_eq!(*dst_mac, mac("00:00:7d:a2:34:11"), "{dst}");
                assert_eq!(*src_mac, mac("00:01:42:cd:11:01"), "{dst}");
                assert_eq!(path.hop_addrs(), &[ip("10.0.0.1"), ip("192.168.100.2")], "{dst}");
            }
            other => panic!("{dst}: {other:?}"),
        }
    }
    assert_eq!(fib.lookup(j, ip("172.18.1.1")), Some(&Adjacency::Unreachable));
    assert_eq!(fib.lookup(j, ip("172.19.1.1")), Some(&Adjacency::Unreachable));
    let l = table_of(&t, "z", "L");
    assert_eq!(fib.lookup(l, ip("172.18.1.1")), Some(&Adjacency::Unreachable));
    assert_eq!(fib.lookup(l, ip("172.19.1.1")), Some(&Adjacency::Unreachable));
    // Tenant y has none of these.
    assert_eq!(fib.lookup(table_of(&t, "y", "Y"), ip("172.16.1.1")), None);
}

#[test]
fn disabled_port_makes_its_hosts_unreachable() {
    let mut t = topo("default.ron");
    t.ports[1].enabled = false;
    let fib = compile_snapshot(&t).unwrap();
    assert!(!fib.ports[1].up);
    assert!(fib.ports[0].up);
    let j = table_of(&t, "z", "J");
    assert_eq!(fib.lookup(j, ip("10.1.5.7")), Some(&Adjacency::Unreachable));
    assert!(matches!(fib.lookup(j, ip("10.0.0.10")), Some(Adjacency::Deliver { .. })));
    assert!(matches!(fib.lookup(j, ip("10.1.5.1")), Some(Adjacency::Local { .. })));
}

#[test]
fn campus_route_views_show_spf_metric_and_next_hop() {
    let t = topo("campus.ron");
    let acme = t.tenant_by_name("acme").unwrap().id;
    let v = super::route_views(&t, acme);
    let r = v.iter().find(|r| r.router == "R1" && r.prefix == "10.10.3.0/24".parse().unwrap()).unwrap();
    assert_eq!(r.source, super::RouteSource::Spf);
    assert_eq!((r.distance, r.metric), (110, 20));
    assert_eq!(r.next_hop, Some(ip("10.10.12.2")));
    assert_eq!(r.interface, "Gi0/1");
    // The direct R1-R3 link subnet is connected on R1, not learned.
    let c = v.iter().find(|r| r.router == "R1" && r.prefix == "10.10.13.0/30".parse().unwrap()).unwrap();
    assert_eq!((c.source, c.interface.as_str()), (super::RouteSource::Connected, "Gi0/2"));
    // globex's static route as `S` on G.
    let g = super::route_views(&t, t.tenant_by_name("globex").unwrap().id);
    let s = g.iter().find(|r| r.source == super::RouteSource::Static).unwrap();
    assert_eq!(
        (s.prefix.to_string().as_str(), s.next_hop, s.distance),
        ("172.16.0.0/16", Some(ip("10.20.0.254")), 1)
    );
    let n = super::neighbour_views(&t, t.tenant_by_name("initech").unwrap().id);
    assert_eq!(n.len(), 2);
    assert!(n.iter().any(|e| e.address == ip("10.10.1.10") && e.mac == mac("02:00:0b:0a:01:0a")));
}

/// The logical hops of an adjacency that leaves the virtual network toward a host.
fn host_path(a: Option<&Adjacency>) -> (crate::fib::HopPath, MacAddr, MacAddr) {
    match a {
        Some(Adjacency::Deliver { src_mac, dst_mac, path, .. }) => (*path, *src_mac, *dst_mac),
        Some(Adjacency::Encap { inner_src_mac, inner_dst_mac, path, .. }) => {
            (*path, *inner_src_mac, *inner_dst_mac)
        }
        other => panic!("not a host adjacency: {other:?}"),
    }
}

#[test]
fn remote_host_is_encapsulated_after_the_same_logical_hops() {
    let local = topo("default.ron");
    let local_fib = compile_snapshot(&local).unwrap();
    let t = crate::topology::tests::overlay();
    let fib = compile_snapshot(&t).unwrap();
    let h = ip("10.1.5.7");
    for router in ["J", "L"] {
        let table = table_of(&t, "z", router);
        match fib.lookup(table, h) {
            Some(Adjacency::Encap { tunnel, vni, .. }) => {
                assert_eq!((tunnel.0, *vni), (0, 5001), "from {router}");
            }
            other => panic!("H from {router}: {other:?}"),
        }
        // Same hops, same MACs as when H sits on a local port: traceroute looks the same.
        assert_eq!(
            host_path(fib.lookup(table, h)),
            host_path(local_fib.lookup(table_of(&local, "z", router), h)),
            "from {router}"
        );
    }
    let (path, src, dst) = host_path(fib.lookup(table_of(&t, "z", "J"), h));
    assert_eq!(path.hop_addrs(), &[ip("10.0.0.1"), ip("192.168.100.2")]);
    assert_eq!((src, dst), (mac("00:01:42:cd:11:01"), mac("00:00:7d:a2:34:11")));
    // L lists H as a neighbour on Gi0/0 wherever H lives.
    let z = t.tenant_by_name("z").unwrap().id;
    let n = crate::rib::neighbour_views(&t, z);
    let hn = n.iter().find(|n| n.router == "L" && n.address == h).expect("H in L's ARP table");
    assert_eq!((hn.mac, hn.interface.as_str(), hn.local), (mac("00:00:7d:a2:34:11"), "Gi0/0", false));
    // Local hosts are still delivered; tenant y knows nothing of H.
    assert!(matches!(fib.lookup(table_of(&t, "z", "L"), ip("10.0.0.10")), Some(Adjacency::Deliver { .. })));
    assert_eq!(fib.lookup(table_of(&t, "y", "Y"), h), None);
}

#[test]
fn overlay_snapshot_tables() {
    let t = crate::topology::tests::overlay();
    let fib = compile_snapshot(&t).unwrap();
    let z = t.tenant_by_name("z").unwrap().id;
    let remote = t.substrate.node_by_name("remote").unwrap().id;
    let upf = t.port_by_name("upf").unwrap().id;
    // One tunnel: z -> remote, gold takes the fast plane (1 ms + 1 ms beats 20 + 20 ms even
    // at ten times the money).
    assert_eq!(fib.tunnels.len(), 1);
    let tun = fib.tunnel(crate::types::TunnelId(0)).unwrap();
    assert_eq!((tun.tenant, tun.node), (z, remote));
    let p = tun.path.expect("a path");
    assert_eq!(
        (p.port, p.plane, p.local_ip, p.remote_ip, p.src_mac, p.dst_mac, p.inner_mtu),
        (
            upf,
            crate::types::Plane::Fast,
            ip("10.255.1.1"),
            ip("10.254.0.2"),
            mac("02:00:0a:ff:01:01"),
            None,
            1450
        )
    );
    // VTEPs: the remote node's addresses only (sw1 is local, fastr/slowr hold no hosts).
    assert_eq!(fib.vteps, vec![(ip("10.254.0.2"), remote), (ip("10.254.1.2"), remote)]);
    assert_eq!(fib.vtep_node(ip("10.254.1.2")), Some(remote));
    assert_eq!(fib.vtep_node(ip("10.255.1.254")), None);
    // Remote hosts: H behind L's Gi0/0.
    let rh = fib.remote_host(z, ip("10.1.5.7")).expect("H is a remote host");
    assert_eq!(
        (rh.mac, rh.node, rh.router, rh.table, rh.gateway_ip, rh.gateway_mac),
        (mac("00:00:7d:a2:34:11"), remote, RouterId(1), TableId(1), ip("10.1.5.1"), mac("00:01:42:cd:11:01"))
    );
    assert_eq!(fib.remote_hosts.len(), 1);
    // Uplink planes come from their links.
    let plane = |name: &str| match &fib.port(t.port_by_name(name).unwrap().id).unwrap().kind {
        PortKind::Uplink { plane, gateway, mtu, .. } => (*plane, *gateway, *mtu),
        other => panic!("{other:?}"),
    };
    assert_eq!(plane("upf"), (crate::types::Plane::Fast, Some(ip("10.255.1.254")), 1500));
    assert_eq!(plane("ups"), (crate::types::Plane::Slow, Some(ip("10.255.2.254")), 1500));
    // The default topology has none of it.
    let d = compile_snapshot(&topo("default.ron")).unwrap();
    assert!(d.tunnels.is_empty() && d.vteps.is_empty() && d.remote_hosts.is_empty());
}

#[test]
fn static_route_via_a_remote_host_is_encapsulated() {
    let mut t = crate::topology::tests::overlay();
    t.file.tenants[0].static_routes.push(StaticRouteConfig {
        prefix: "172.16.0.0/16".parse().unwrap(),
        next_hop: ip("10.1.5.7"),
        router: None,
    });
    let t = Topology::from_file(t.file).unwrap();
    let fib = compile_snapshot(&t).unwrap();
    match fib.lookup(table_of(&t, "z", "J"), ip("172.16.1.1")) {
        Some(Adjacency::Encap { tunnel, inner_dst_mac, path, .. }) => {
            assert_eq!((tunnel.0, *inner_dst_mac, path.len), (0, mac("00:00:7d:a2:34:11"), 2));
        }
        other => panic!("{other:?}"),
    }
}
