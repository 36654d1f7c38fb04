//! Fixtures for tests and benches (not used by the data path): a hand-built FIB of the default
//! topology (the seed's tenant `z` with A–J–L–H and tenant `y` with B behind Y), a helper to
//! add many routes to a table, and frame builders written with `etherparse` so expected
//! frames do not come from the code under test.

use rib::fib::lpm::LpmTable;
use rib::fib::{HopPath, Lpm, PortKind, RouterTable, TenantEntry};
use rib::{
    Adjacency, FibSnapshot, Ipv4Prefix, MacAddr, PortEntry, PortId, RouterId, ServiceLevel, TableId, TenantId,
};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Port ids of the default topology.
pub const PORT_A: PortId = PortId(0);
pub const PORT_H: PortId = PortId(1);
pub const PORT_B: PortId = PortId(2);
/// Router (and table) ids of the default topology.
pub const ROUTER_J: RouterId = RouterId(0);
pub const ROUTER_L: RouterId = RouterId(1);
pub const ROUTER_Y: RouterId = RouterId(2);

pub const MAC_A: MacAddr = MacAddr([0x00, 0x05, 0x02, 0x0b, 0x27, 0x44]);
pub const MAC_H: MacAddr = MacAddr([0x00, 0x00, 0x7d, 0xa2, 0x34, 0x11]);
pub const MAC_B: MacAddr = MacAddr([0x00, 0x05, 0x02, 0x0b, 0x27, 0xbb]);
pub const MAC_J0: MacAddr = MacAddr([0x00, 0x01, 0x42, 0x09, 0x88, 0x73]);
pub const MAC_J1: MacAddr = MacAddr([0x00, 0x01, 0x42, 0x09, 0x88, 0x74]);
pub const MAC_L0: MacAddr = MacAddr([0x00, 0x01, 0x42, 0xcd, 0x11, 0x01]);
pub const MAC_L1: MacAddr = MacAddr([0x00, 0x01, 0x42, 0xcd, 0x11, 0x02]);
pub const MAC_Y0: MacAddr = MacAddr([0x00, 0x01, 0x42, 0x00, 0x00, 0xb1]);

pub const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
pub const IP_H: Ipv4Addr = Ipv4Addr::new(10, 1, 5, 7);
pub const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 10);
pub const IP_J0: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const IP_J1: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 1);
pub const IP_L0: Ipv4Addr = Ipv4Addr::new(10, 1, 5, 1);
pub const IP_L1: Ipv4Addr = Ipv4Addr::new(192, 168, 100, 2);
pub const IP_Y0: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

fn p(s: &str) -> Ipv4Prefix {
    match s.parse() {
        Ok(p) => p,
        Err(e) => panic!("fixture prefix {s}: {e}"),
    }
}

fn path(hops: &[(RouterId, Ipv4Addr)]) -> HopPath {
    let mut h = HopPath::EMPTY;
    for (r, a) in hops {
        h.push(*r, *a);
    }
    h
}

/// Routes and adjacencies of one table under construction.
#[derive(Default)]
pub struct TableBuilder {
    routes: Vec<(Ipv4Prefix, u32)>,
    adjacencies: Vec<Adjacency>,
}

impl TableBuilder {
    /// Adds `prefix -> adj` (the adjacency gets its own slot).
    pub fn route(&mut self, prefix: Ipv4Prefix, adj: Adjacency) -> &mut Self {
        self.adjacencies.push(adj);
        self.routes.push((prefix, (self.adjacencies.len() - 1) as u32));
        self
    }

    /// Adds an adjacency without a route; returns its index for [`route_to`](Self::route_to).
    pub fn adjacency(&mut self, adj: Adjacency) -> u32 {
        self.adjacencies.push(adj);
        (self.adjacencies.len() - 1) as u32
    }

    /// Adds `prefix -> adjacencies[index]` (many routes may share one adjacency).
    pub fn route_to(&mut self, prefix: Ipv4Prefix, index: u32) -> &mut Self {
        self.routes.push((prefix, index));
        self
    }

    /// Builds the table (and its compiled LPM).
    pub fn build(self, tenant: TenantId, router: RouterId) -> RouterTable {
        let mut t = LpmTable::from_routes(self.routes);
        let lpm: Lpm = t.compile();
        RouterTable { tenant, router, lpm, adjacencies: self.adjacencies.into() }
    }
}

/// Hand-built FIB of `topologies/default.ron` (what the RIB compiles, written out).
pub fn default_fib() -> FibSnapshot {
    default_fib_with(|_, _| {})
}

/// [`default_fib`] with `extra` called on each table builder (0 = J, 1 = L, 2 = Y) before it
/// is built, e.g. to add a million routes for benches.
pub fn default_fib_with(extra: impl FnMut(usize, &mut TableBuilder)) -> FibSnapshot {
    default_fib_opts(None, extra)
}

/// [`default_fib_with`] where port `a` requires 802.1Q tag `vlan_a` (frames to A are tagged).
pub fn default_fib_opts(vlan_a: Option<u16>, mut extra: impl FnMut(usize, &mut TableBuilder)) -> FibSnapshot {
    let access = |tenant: u16, router: RouterId, ip: Ipv4Addr, mac: MacAddr, subnet: &str| PortKind::Access {
        tenant: TenantId(tenant),
        vlan: if router == ROUTER_J { vlan_a } else { None },
        table: TableId(router.0),
        router,
        gateway_ip: ip,
        gateway_mac: mac,
        subnet: p(subnet),
    };
    let ports = vec![
        PortEntry { name: "a".into(), up: true, kind: access(0, ROUTER_J, IP_J0, MAC_J0, "10.0.0.0/24") },
        PortEntry { name: "h".into(), up: true, kind: access(0, ROUTER_L, IP_L0, MAC_L0, "10.1.5.0/24") },
        PortEntry { name: "b".into(), up: true, kind: access(1, ROUTER_Y, IP_Y0, MAC_Y0, "10.0.0.0/24") },
    ];
    let deliver = |port, src_mac, dst_mac, hops: &[(RouterId, Ipv4Addr)]| Adjacency::Deliver {
        port,
        vlan: if port == PORT_A { vlan_a } else { None },
        src_mac,
        dst_mac,
        path: path(hops),
    };
    let local = |router, hops: &[(RouterId, Ipv4Addr)]| Adjacency::Local { router, path: path(hops) };

    let mut j = TableBuilder::default();
    j.route(p("10.0.0.10/32"), deliver(PORT_A, MAC_J0, MAC_A, &[(ROUTER_J, IP_J0)]))
        .route(p("10.1.5.7/32"), deliver(PORT_H, MAC_L0, MAC_H, &[(ROUTER_J, IP_J0), (ROUTER_L, IP_L1)]))
        .route(p("10.0.0.0/24"), Adjacency::Unreachable)
        .route(p("10.1.5.0/24"), Adjacency::Unreachable)
        .route(p("10.0.0.1/32"), local(ROUTER_J, &[]))
        .route(p("192.168.100.1/32"), local(ROUTER_J, &[]))
        .route(p("10.1.5.1/32"), local(ROUTER_L, &[(ROUTER_J, IP_J0)]))
        .route(p("192.168.100.2/32"), local(ROUTER_L, &[(ROUTER_J, IP_J0)]));
    extra(0, &mut j);
    let mut l = TableBuilder::default();
    l.route(p("10.0.0.10/32"), deliver(PORT_A, MAC_J0, MAC_A, &[(ROUTER_L, IP_L0), (ROUTER_J, IP_J1)]))
        .route(p("10.1.5.7/32"), deliver(PORT_H, MAC_L0, MAC_H, &[(ROUTER_L, IP_L0)]))
        .route(p("10.0.0.0/24"), Adjacency::Unreachable)
        .route(p("10.1.5.0/24"), Adjacency::Unreachable)
        .route(p("10.1.5.1/32"), local(ROUTER_L, &[]))
        .route(p("192.168.100.2/32"), local(ROUTER_L, &[]))
        .route(p("10.0.0.1/32"), local(ROUTER_J, &[(ROUTER_L, IP_L0)]))
        .route(p("192.168.100.1/32"), local(ROUTER_J, &[(ROUTER_L, IP_L0)]));
    extra(1, &mut l);
    let mut y = TableBuilder::default();
    y.route(p("10.0.0.10/32"), deliver(PORT_B, MAC_Y0, MAC_B, &[(ROUTER_Y, IP_Y0)]))
        .route(p("10.0.0.0/24"), Adjacency::Unreachable)
        .route(p("10.0.0.1/32"), local(ROUTER_Y, &[]));
    extra(2, &mut y);
    FibSnapshot {
        generation: 1,
        ports,
        tenants: vec![
            TenantEntry { name: "z".into(), vni: 5001, service_level: ServiceLevel::Gold },
            TenantEntry { name: "y".into(), vni: 5002, service_level: ServiceLevel::Silver },
        ],
        tables: vec![
            Arc::new(j.build(TenantId(0), ROUTER_J)),
            Arc::new(l.build(TenantId(0), ROUTER_L)),
            Arc::new(y.build(TenantId(1), ROUTER_Y)),
        ],
        vni_map: vec![(5001, TenantId(0), TableId(0)), (5002, TenantId(1), TableId(2))],
        tunnels: Vec::new(),
        vteps: Vec::new(),
        remote_hosts: Vec::new(),
        port_shapes: Vec::new(),
        tenant_shapes: Vec::new(),
        redirects: Vec::new(),
    }
}

/// The uplink of [`substrate_fib`] (port 3) and what the substrate around it looks like.
pub const PORT_UP: PortId = PortId(3);
pub const MAC_UP: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
/// The substrate next hop (the remote node itself, on-link).
pub const MAC_PEER: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
/// This node's VTEP address on the uplink, the remote node's, and another node's.
pub const IP_VTEP: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 1);
pub const IP_PEER: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 2);
pub const IP_OTHER_NODE: Ipv4Addr = Ipv4Addr::new(172, 16, 0, 3);
/// Remote host R of tenant z on node 1, in 10.9.1.0/24 behind J's interface 10.9.1.254.
pub const IP_R: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 1);
pub const MAC_R: MacAddr = MacAddr([0x00, 0x16, 0x3e, 0x00, 0x09, 0x01]);
/// Remote host S of tenant z on node 2 (10.9.2.0/24 behind J's 10.9.2.254).
pub const IP_S: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 1);
pub const MAC_S: MacAddr = MacAddr([0x00, 0x16, 0x3e, 0x00, 0x09, 0x02]);
pub const IP_J2: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 254);
pub const MAC_J2: MacAddr = MacAddr([0x00, 0x01, 0x42, 0x09, 0x88, 0x75]);
pub const IP_J3: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 254);
/// Inner MTU of tunnel 0 (uplink MTU 1500 - 50).
pub const INNER_MTU: u16 = 1450;

/// [`default_fib`] plus one substrate uplink (port 3, fast plane, MTU 1500) and tenant z's
/// remote hosts R (node 1, tunnel 0 resolved) and S (node 2, tunnel 1 with `s_path` as its
/// path state: `None` no path, `Some(None)` unresolved MAC). J routes 10.9.1.1 and 10.9.2.1
/// over the tunnels (from A: one hop, J), L routes them across L then J.
pub fn substrate_fib(s_path: Option<Option<MacAddr>>) -> FibSnapshot {
    use rib::{NodeId, Plane, RemoteHost, Tunnel, TunnelId, TunnelPath};
    let encap = |tunnel, dst_mac, hops: &[(RouterId, Ipv4Addr)]| Adjacency::Encap {
        tunnel: TunnelId(tunnel),
        vni: 5001,
        inner_src_mac: MAC_J2,
        inner_dst_mac: dst_mac,
        path: path(hops),
    };
    let mut fib = default_fib_with(|t, b| match t {
        0 => {
            b.route(p("10.9.1.1/32"), encap(0, MAC_R, &[(ROUTER_J, IP_J0)]));
            b.route(p("10.9.2.1/32"), encap(1, MAC_S, &[(ROUTER_J, IP_J0)]));
            b.route(p("10.9.1.254/32"), Adjacency::Local { router: ROUTER_J, path: HopPath::EMPTY });
        }
        1 => {
            b.route(p("10.9.1.1/32"), encap(0, MAC_R, &[(ROUTER_L, IP_L0), (ROUTER_J, IP_J1)]));
        }
        _ => {}
    });
    fib.ports.push(PortEntry {
        name: "up".into(),
        up: true,
        kind: PortKind::Uplink {
            address: IP_VTEP,
            mac: MAC_UP,
            gateway: None,
            plane: Plane::Fast,
            mtu: 1500,
        },
    });
    let tp = |remote_ip, dst_mac| TunnelPath {
        port: PORT_UP,
        plane: Plane::Fast,
        local_ip: IP_VTEP,
        remote_ip,
        src_mac: MAC_UP,
        dst_mac,
        inner_mtu: INNER_MTU,
    };
    fib.tunnels = vec![
        Tunnel { tenant: TenantId(0), node: NodeId(1), path: Some(tp(IP_PEER, Some(MAC_PEER))) },
        Tunnel { tenant: TenantId(0), node: NodeId(2), path: s_path.map(|mac| tp(IP_OTHER_NODE, mac)) },
    ];
    fib.vteps = vec![(IP_PEER, NodeId(1)), (IP_OTHER_NODE, NodeId(2))];
    let host = |ip, mac, node, gateway_ip| RemoteHost {
        tenant: TenantId(0),
        ip,
        mac,
        node: NodeId(node),
        router: ROUTER_J,
        table: TableId(0),
        gateway_ip,
        gateway_mac: MAC_J2,
    };
    fib.remote_hosts = vec![host(IP_R, MAC_R, 1, IP_J2), host(IP_S, MAC_S, 2, IP_J3)];
    fib
}

/// The VXLAN frame `outer_src` (MAC, IP) sends to `outer_dst` with UDP ports `sport` ->
/// `dport`, VNI `vni` and outer IPv4 ident `ident` (DF, TTL 64, UDP checksum 0) around
/// `inner`, built by hand from the RFC 7348 layout with etherparse for the IPv4 header.
#[allow(clippy::too_many_arguments)]
pub fn vxlan_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    sport: u16,
    dport: u16,
    vni: u32,
    inner: &[u8],
) -> Vec<u8> {
    let udp_len = 8 + 8 + inner.len();
    let mut ip = match etherparse::Ipv4Header::new(
        udp_len as u16,
        64,
        etherparse::IpNumber::UDP,
        src.octets(),
        dst.octets(),
    ) {
        Ok(ip) => ip,
        Err(e) => panic!("fixture frame: {e}"),
    };
    ip.identification = ident;
    ip.dont_fragment = true;
    ip.header_checksum = ip.calc_header_checksum();
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac.0);
    f.extend_from_slice(&src_mac.0);
    f.extend_from_slice(&[0x08, 0x00]);
    if let Err(e) = ip.write(&mut f) {
        panic!("fixture frame: {e}");
    }
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x08, 0, 0, 0]);
    f.extend_from_slice(&(vni << 8).to_be_bytes());
    f.extend_from_slice(inner);
    f
}

/// An Ethernet (optionally 802.1Q-tagged) IPv4 ICMP echo request with `data_len` bytes of
/// data, built with etherparse.
#[allow(clippy::too_many_arguments)]
pub fn echo_request(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ident: u16,
    seq: u16,
    data_len: usize,
) -> Vec<u8> {
    let payload: Vec<u8> = (0..data_len).map(|i| i as u8).collect();
    let b = etherparse::PacketBuilder::ethernet2(src_mac.0, dst_mac.0);
    let mut out = Vec::new();
    let res = match vlan {
        Some(v) => b
            .single_vlan(etherparse::VlanId::try_new(v).unwrap_or(etherparse::VlanId::ZERO))
            .ipv4(src.octets(), dst.octets(), ttl)
            .icmpv4_echo_request(ident, seq)
            .write(&mut out, &payload),
        None => {
            b.ipv4(src.octets(), dst.octets(), ttl).icmpv4_echo_request(ident, seq).write(&mut out, &payload)
        }
    };
    if let Err(e) = res {
        panic!("fixture frame: {e}");
    }
    out
}

/// An Ethernet (optionally 802.1Q-tagged) + IPv4 (given ident, DF, TTL 64) + ICMP frame of any
/// ICMP type, built with etherparse: expected ICMP replies and errors in tests.
#[allow(clippy::too_many_arguments)]
pub fn icmp_frame(
    dst_mac: MacAddr,
    src_mac: MacAddr,
    vlan: Option<u16>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    ty: etherparse::Icmpv4Type,
    payload: &[u8],
) -> Vec<u8> {
    let icmp = etherparse::Icmpv4Header::with_checksum(ty, payload);
    let ip = etherparse::Ipv4Header::new(
        (icmp.header_len() + payload.len()) as u16,
        64,
        etherparse::IpNumber::ICMP,
        src.octets(),
        dst.octets(),
    );
    let mut ip = match ip {
        Ok(ip) => ip,
        Err(e) => panic!("fixture frame: {e}"),
    };
    ip.identification = ident;
    ip.dont_fragment = true;
    ip.header_checksum = ip.calc_header_checksum();
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac.0);
    f.extend_from_slice(&src_mac.0);
    if let Some(v) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00]);
    if let Err(e) = ip.write(&mut f).and_then(|()| icmp.write(&mut f)) {
        panic!("fixture frame: {e}");
    }
    f.extend_from_slice(payload);
    f
}

/// An Ethernet IPv4 UDP datagram, built with etherparse.
#[allow(clippy::too_many_arguments)]
pub fn udp_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    let res = etherparse::PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(src.octets(), dst.octets(), ttl)
        .udp(sport, dport)
        .write(&mut out, payload);
    if let Err(e) = res {
        panic!("fixture frame: {e}");
    }
    out
}

/// An Ethernet IPv4 TCP segment with the SYN flag (sequence `seq`), built with etherparse.
#[allow(clippy::too_many_arguments)]
pub fn tcp_syn_frame(
    src_mac: MacAddr,
    dst_mac: MacAddr,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    sport: u16,
    dport: u16,
    seq: u32,
) -> Vec<u8> {
    let mut out = Vec::new();
    let res = etherparse::PacketBuilder::ethernet2(src_mac.0, dst_mac.0)
        .ipv4(src.octets(), dst.octets(), ttl)
        .tcp(sport, dport, seq, 64240)
        .syn()
        .write(&mut out, &[]);
    if let Err(e) = res {
        panic!("fixture frame: {e}");
    }
    out
}

/// A broadcast ARP request "who has `target` tell `sender_ip`" (42 bytes).
pub fn arp_request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&MacAddr::BROADCAST.0);
    f.extend_from_slice(&sender_mac.0);
    f.extend_from_slice(&[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01]);
    f.extend_from_slice(&sender_mac.0);
    f.extend_from_slice(&sender_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// Recomputes the IPv4 header checksum of the frame's IPv4 header at `l3_off` with
/// etherparse (to build expected frames independently of the code under test).
pub fn fix_ipv4_checksum(frame: &mut [u8], l3_off: usize) {
    if let Ok((h, _)) = etherparse::Ipv4Header::from_slice(&frame[l3_off..]) {
        let c = h.calc_header_checksum();
        frame[l3_off + 10..l3_off + 12].copy_from_slice(&c.to_be_bytes());
    }
}

/// A [`MemPorts`](crate::port::MemPorts) whose transmit side takes at most `per_poll` frames
/// per poll round (the quota comes back with [`Ports::service`](crate::port::Ports::service)):
/// an egress port that is the bottleneck, for congestion tests. It reports its room
/// ([`Ports::tx_room`](crate::port::Ports::tx_room)) like a ring that fills.
#[derive(Debug)]
pub struct LimitedTx {
    pub mem: crate::port::MemPorts,
    pub per_poll: usize,
    left: usize,
}

impl LimitedTx {
    pub fn new(mem: crate::port::MemPorts, per_poll: usize) -> Self {
        LimitedTx { mem, per_poll, left: per_poll }
    }
}

impl crate::port::FrameBuf for LimitedTx {
    type Desc = crate::port::MemDesc;
    fn capacity(&self) -> usize {
        self.mem.capacity()
    }
    fn len(&self, desc: &Self::Desc) -> usize {
        self.mem.len(desc)
    }
    fn data(&self, desc: &Self::Desc) -> &[u8] {
        self.mem.data(desc)
    }
    fn data_mut(&mut self, desc: &Self::Desc) -> &mut [u8] {
        self.mem.data_mut(desc)
    }
    fn set_len(&mut self, desc: &mut Self::Desc, len: usize) -> bool {
        self.mem.set_len(desc, len)
    }
    fn headroom(&self, desc: &Self::Desc) -> usize {
        self.mem.headroom(desc)
    }
    fn adjust_head(&mut self, desc: &mut Self::Desc, delta: isize) -> bool {
        self.mem.adjust_head(desc, delta)
    }
}

impl crate::port::Ports for LimitedTx {
    fn port_count(&self) -> usize {
        self.mem.port_count()
    }
    fn rx_burst(&mut self, port: PortId, out: &mut [Self::Desc]) -> usize {
        self.mem.rx_burst(port, out)
    }
    fn tx_burst(&mut self, port: PortId, frames: &[Self::Desc]) -> usize {
        let n = frames.len().min(self.left);
        let sent = self.mem.tx_burst(port, &frames[..n]);
        self.left -= sent;
        self.mem.recycle(&frames[n..]);
        sent
    }
    fn recycle(&mut self, frames: &[Self::Desc]) {
        self.mem.recycle(frames)
    }
    fn alloc(&mut self) -> Option<Self::Desc> {
        self.mem.alloc()
    }
    fn service(&mut self) {
        self.left = self.per_poll;
    }
    fn link_up(&self, port: PortId) -> bool {
        self.mem.link_up(port)
    }
    fn tx_room(&mut self, port: PortId, want: usize) -> usize {
        self.mem.tx_room(port, want.min(self.left))
    }
    fn hold_budget(&self) -> usize {
        self.mem.hold_budget()
    }
}
