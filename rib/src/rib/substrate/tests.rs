//! Route manager tests on the patent's example substrate: nodes A (this appliance), B, C, D;
//! A-B and B-C are fiber (fast, 1 ms, 10 Gbit/s, money 50), A-D and D-C copper (slow, 20 ms,
//! 1 Gbit/s, money 5). Every tenant has a host on C (some also on B).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::topology::{self, Topology};
use std::path::Path;

const ADMIN_HASH: &str = "pbkdf2-sha256$10000$5e1f0c2a9b7d4e38a1c6f02d8b3e7a91$d0fcffb4374718013aab5ffe4a6354b072d66da39c9a09eadbf86ef77afe5175";

fn tenant(name: &str, vni: u32, level: &str, extra: &str, hosts: &str) -> String {
    format!(
        r#"(name: "{name}", vni: {vni}, service_level: {level}, {extra}
            subnets: ["10.0.0.0/16"],
            routers: [(name: "R", interfaces: [
                (name: "Gi0/0", address: "10.0.1.1", subnet: "10.0.1.0/24", mac: "02:00:00:00:{vni:02x}:01"),
                (name: "Gi0/1", address: "10.0.2.1", subnet: "10.0.2.0/24", mac: "02:00:00:00:{vni:02x}:02"),
            ])],
            hosts: [{hosts}]),"#
    )
}

const ON_C: &str = r#"(name: "HC", address: "10.0.2.20", mac: "02:00:00:00:0c:14", node: "C")"#;

/// The patent graph with `tenants` and `levels` (service_levels entries).
fn patent_text(tenants: &str, levels: &str) -> String {
    format!(
        r#"(
    ports: [
        (name: "ub", device: "vns-t-ub", role: Uplink(address: "10.255.1.1", mac: "02:00:0a:ff:01:01",
            gateway: "10.255.1.254", link: "A-B", mtu: 9000)),
        (name: "ud", device: "vns-t-ud", role: Uplink(address: "10.255.2.1", mac: "02:00:0a:ff:02:01",
            link: "A-D")),
    ],
    tenants: [{tenants}],
    substrate: (local_node: "A",
        nodes: [
            (name: "A", address: "10.255.1.1", fast_address: "10.255.1.1", slow_address: "10.255.2.1"),
            (name: "B", address: "10.254.0.2"),
            (name: "C", address: "10.254.0.3", fast_address: "10.254.0.3", slow_address: "10.255.2.3"),
            (name: "D", address: "10.255.2.4"),
        ],
        links: [
            (name: "A-B", a: "A", b: "B", latency_us: 1000, bandwidth_mbps: 10000, cost: 50, reliability: 0.9999, fast: true),
            (name: "B-C", a: "B", b: "C", latency_us: 1000, bandwidth_mbps: 10000, cost: 50, reliability: 0.9999, fast: true),
            (name: "A-D", a: "A", b: "D", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, reliability: 0.999, fast: false),
            (name: "D-C", a: "D", b: "C", latency_us: 20000, bandwidth_mbps: 1000, cost: 5, reliability: 0.999, fast: false),
        ]),
    service_levels: [{levels}],
    users: [(name: "admin", password_hash: "{ADMIN_HASH}", role: admin, privilege: 15)],
)"#
    )
}

fn parse(text: &str) -> Topology {
    topology::parse(text, Path::new("patent.ron")).unwrap_or_else(|e| panic!("{e}"))
}

/// One tenant per level, silver allowed on fast links so its cost function alone decides.
fn patent() -> Topology {
    let tenants = [
        tenant(
            "p",
            1,
            "platinum",
            "",
            &format!(r#"{ON_C}, (name: "HB", address: "10.0.2.30", mac: "02:00:00:00:0b:1e", node: "B")"#),
        ),
        tenant("g", 2, "gold", "", ON_C),
        tenant("s", 3, "silver", "", ON_C),
    ]
    .concat();
    parse(&patent_text(
        &tenants,
        "(level: platinum, fast_path: true), (level: gold, fast_path: true), (level: silver, fast_path: true)",
    ))
}

fn tid(t: &Topology, name: &str) -> TenantId {
    t.tenant_by_name(name).unwrap().id
}

fn nid(t: &Topology, name: &str) -> NodeId {
    t.substrate.node_by_name(name).unwrap().id
}

fn route<'a>(st: &'a SubstrateState, t: &Topology, tenant: &str, node: &str) -> &'a TunnelRoute {
    let id = tunnel_id(&st.keys, tid(t, tenant), nid(t, node)).expect("tunnel exists");
    &st.routes[id.index()]
}

/// The chosen path of (tenant, node) as link names.
fn links(st: &SubstrateState, t: &Topology, tenant: &str, node: &str) -> Vec<String> {
    route(st, t, tenant, node).links.iter().map(|&li| t.substrate.links[li].name.clone()).collect()
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn platinum_takes_the_low_latency_fiber() {
    let t = patent();
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "p", "C"), ["A-B", "B-C"]);
    assert_eq!(links(&st, &t, "p", "B"), ["A-B"]);
    let r = route(&st, &t, "p", "C");
    let path = r.tunnel.path.expect("a path");
    assert_eq!(path.port, t.port_by_name("ub").unwrap().id);
    assert_eq!(path.plane, Plane::Fast);
    assert_eq!(path.local_ip, ip("10.255.1.1"));
    assert_eq!(path.remote_ip, ip("10.254.0.3"), "C's fast-plane address");
    assert_eq!(path.src_mac, "02:00:0a:ff:01:01".parse().unwrap());
    assert_eq!(path.dst_mac, None, "gateway not resolved yet");
    assert_eq!(path.inner_mtu, 9000 - 50);
    assert_eq!(r.next_hop, Some(ip("10.255.1.254")), "the uplink's gateway");
    assert_eq!(r.reason, "platinum: latency, then bandwidth, then cost");
}

#[test]
fn silver_takes_the_cheap_copper() {
    let t = patent();
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "s", "C"), ["A-D", "D-C"]);
    let path = route(&st, &t, "s", "C").tunnel.path.unwrap();
    assert_eq!(path.port, t.port_by_name("ud").unwrap().id);
    assert_eq!(path.plane, Plane::Slow);
    assert_eq!(path.local_ip, ip("10.255.2.1"));
    assert_eq!(path.remote_ip, ip("10.255.2.3"), "C's slow-plane address");
    assert_eq!(path.inner_mtu, 1500 - 50);
    // On-link uplink: the next hop is the remote VTEP itself.
    assert_eq!(route(&st, &t, "s", "C").next_hop, Some(ip("10.255.2.3")));
}

#[test]
fn gold_weighs_latency_money_and_reliability() {
    // Gold per link: latency/20000 + money/50 + 100 x (1 - reliability).
    // Fiber: 0.05 + 1.0 + 0.01 = 1.06 per link, 2.12 for A-B-C.
    // Copper: 1.0 + 0.1 + 0.1 = 1.2 per link, 2.4 for A-D-C. Gold takes the fiber.
    let t = patent();
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "g", "C"), ["A-B", "B-C"]);
    assert_eq!(route(&st, &t, "g", "C").reason, "gold: balanced latency + cost + reliability penalty");
    // A cost factor of 2 on A-B for this tenant: 1.06 x 2 + 1.06 = 3.18 > 2.4, copper wins.
    let tenants = tenant("g", 2, "gold", r#"substrate_cost_factors: {"A-B": 2.0},"#, ON_C);
    let t = parse(&patent_text(&tenants, ""));
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "g", "C"), ["A-D", "D-C"]);
    // A factor of 1.2 keeps the fiber: 1.272 + 1.06 = 2.332 < 2.4.
    let tenants = tenant("g", 2, "gold", r#"substrate_cost_factors: {"A-B": 1.2},"#, ON_C);
    let t = parse(&patent_text(&tenants, ""));
    assert_eq!(links(&SubstrateState::new(&t), &t, "g", "C"), ["A-B", "B-C"]);
}

#[test]
fn cost_functions_per_link() {
    let t = patent();
    let fiber = &t.substrate.links[0];
    let copper = &t.substrate.links[2];
    let norm = Norm::of(&t.substrate.links);
    assert_eq!(link_cost(CostFunction::Latency, fiber, norm, 1.0).0, [1000.0, 1.0, 50.0]);
    assert_eq!(link_cost(CostFunction::Money, copper, norm, 1.0).0, [5.0, 20000.0, 0.0]);
    assert_eq!(link_cost(CostFunction::Money, copper, norm, 3.0).0, [15.0, 60000.0, 0.0]);
    let g = link_cost(CostFunction::Balanced, copper, norm, 1.0).0[0];
    assert!((g - 1.2).abs() < 1e-9, "{g}");
}

#[test]
fn quarantine_confines_a_platinum_tenant_to_its_links() {
    let tenants = tenant("q", 4, "platinum", r#"quarantine_links: ["A-D", "D-C"],"#, ON_C);
    let t = parse(&patent_text(&tenants, ""));
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "q", "C"), ["A-D", "D-C"]);
    assert_eq!(
        route(&st, &t, "q", "C").reason,
        "platinum: latency, then bandwidth, then cost; quarantine: links A-D, D-C"
    );
    // Quarantined to a link that does not reach C: no path at all.
    let tenants = tenant("q", 4, "platinum", r#"quarantine_links: ["A-B"],"#, ON_C);
    let t = parse(&patent_text(&tenants, ""));
    let st = SubstrateState::new(&t);
    let r = route(&st, &t, "q", "C");
    assert_eq!(r.tunnel.path, None);
    assert!(r.reason.ends_with("quarantine: links A-B; no usable path"), "{}", r.reason);
}

#[test]
fn over_quota_and_no_fast_path_levels_use_slow_links() {
    let t = patent();
    let mut st = SubstrateState::new(&t);
    st.over_quota[tid(&t, "p").index()] = true;
    st.recompute(&t);
    assert_eq!(links(&st, &t, "p", "C"), ["A-D", "D-C"]);
    assert_eq!(route(&st, &t, "p", "C").tunnel.path.unwrap().plane, Plane::Slow);
    assert!(route(&st, &t, "p", "C").reason.contains("over fast-path quota: slow links only"));
    // B is reachable only over fiber (A-B or D-C-B... B-C is fast too): no path.
    assert_eq!(route(&st, &t, "p", "B").tunnel.path, None);
    // Gold is unaffected by p's quota.
    assert_eq!(links(&st, &t, "g", "C"), ["A-B", "B-C"]);
    // A level configured without fast path never takes fiber.
    let t = parse(&patent_text(&tenant("p", 1, "platinum", "", ON_C), "(level: platinum, fast_path: false)"));
    let st = SubstrateState::new(&t);
    assert_eq!(links(&st, &t, "p", "C"), ["A-D", "D-C"]);
    assert!(route(&st, &t, "p", "C").reason.contains("platinum has no fast path: slow links only"));
}

#[test]
fn link_down_and_uplink_shutdown_move_the_path() {
    let mut t = patent();
    let mut st = SubstrateState::new(&t);
    let bc = t.substrate.link_index("B-C").unwrap();
    st.link_up[bc] = false;
    st.recompute(&t);
    assert_eq!(links(&st, &t, "p", "C"), ["A-D", "D-C"]);
    assert_eq!(
        route(&st, &t, "p", "C").reason,
        "platinum: latency, then bandwidth, then cost; link B-C down"
    );
    assert_eq!(links(&st, &t, "p", "B"), ["A-B"], "B is still reached over A-B");
    st.link_up[bc] = true;
    // Shutting the uplink of A-B takes A-B down: B only via D-C-B.
    let ub = t.port_by_name("ub").unwrap().id;
    t.set_port_enabled(ub, false);
    st.recompute(&t);
    assert_eq!(links(&st, &t, "p", "C"), ["A-D", "D-C"]);
    assert_eq!(links(&st, &t, "p", "B"), ["A-D", "D-C", "B-C"]);
    assert_eq!(route(&st, &t, "p", "B").tunnel.path.unwrap().plane, Plane::Slow, "mixed path is slow");
    assert!(route(&st, &t, "p", "C").reason.ends_with("link A-B down (uplink ub shut down)"));
    assert_eq!(st.link_down_reason(&t, 0).as_deref(), Some("link A-B down (uplink ub shut down)"));
    // Every link down: no path.
    st.link_up.iter_mut().for_each(|u| *u = false);
    st.recompute(&t);
    assert!(st.routes.iter().all(|r| r.tunnel.path.is_none()));
}

#[test]
fn neighbours_resolve_the_outer_destination_mac() {
    let t = patent();
    let mut st = SubstrateState::new(&t);
    let ub = t.port_by_name("ub").unwrap().id;
    let ud = t.port_by_name("ud").unwrap().id;
    // Only the gateway on a routed uplink, only VTEP addresses on an on-link one.
    assert!(SubstrateState::wants_neighbour(&t, ub, ip("10.255.1.254")));
    assert!(!SubstrateState::wants_neighbour(&t, ub, ip("10.255.1.7")));
    assert!(SubstrateState::wants_neighbour(&t, ud, ip("10.255.2.3")));
    assert!(!SubstrateState::wants_neighbour(&t, ud, ip("10.255.2.99")));
    let gw_mac: MacAddr = "02:00:0a:ff:01:fe".parse().unwrap();
    st.neighbours.insert((ub, ip("10.255.1.254")), gw_mac);
    st.recompute(&t);
    assert_eq!(route(&st, &t, "p", "C").tunnel.path.unwrap().dst_mac, Some(gw_mac));
    assert_eq!(route(&st, &t, "s", "C").tunnel.path.unwrap().dst_mac, None);
}

#[test]
fn tunnel_ids_are_per_tenant_and_node_and_vteps_cover_host_nodes() {
    let t = patent();
    let st = SubstrateState::new(&t);
    let (p, g, s) = (tid(&t, "p"), tid(&t, "g"), tid(&t, "s"));
    let (b, c) = (nid(&t, "B"), nid(&t, "C"));
    assert_eq!(st.keys, vec![(p, b), (p, c), (g, c), (s, c)]);
    // C (both planes) and B hold hosts; D (transit) and A (local) are no VTEPs.
    assert_eq!(vteps(&t), vec![(ip("10.254.0.2"), b), (ip("10.254.0.3"), c), (ip("10.255.2.3"), c)]);
}

#[test]
fn arp_targets_are_gateways_and_on_link_vteps() {
    let t = patent();
    let fib = crate::compile_snapshot(&t).unwrap();
    let ub = t.port_by_name("ub").unwrap().id;
    let ud = t.port_by_name("ud").unwrap().id;
    assert_eq!(arp_targets(&fib.ports, &fib.tunnels), vec![(ub, ip("10.255.1.254")), (ud, ip("10.255.2.3"))]);
}
