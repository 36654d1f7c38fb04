//! The agent's object tree: SNMPv2-MIB `system` and `snmp` groups, IF-MIB `ifNumber`,
//! `ifTable` and `ifXTable`, built per request as one sorted list of (instance OID, value)
//! for one view (the administrator's ports, one tenant's router interfaces, or one router's).
//!
//! Views follow `show interfaces`: the administrator sees every appliance port (access and
//! uplink) under its port name; a tenant sees its logical routers' interfaces (`J Gi0/0`),
//! each counted by the access ports bound to it (`PortBinding::Access { router, interface }`,
//! the mapping `show interfaces` uses through `port_gateway`); an interface with no access
//! port (a logical link between routers, or a subnet whose hosts sit on remote substrate
//! nodes) has no counters of its own and shows zeros.
//!
//! ifIndex is derived from topology order, so it is stable across restarts of the same file:
//! administrator view: port position + 1; tenant and router views: the interface's position
//! among all of the tenant's router interfaces (routers in file order, interfaces in order)
//! + 1, the same number in both views.

use super::ber::{Oid, Value};
use crate::providers::PortCounters;
use crate::ShellContext;
use rib::topology::{PortBinding, Topology};
use rib::{RouterId, TenantId};

/// SNMPv2-MIB `system` (1.3.6.1.2.1.1).
pub const SYSTEM: &[u32] = &[1, 3, 6, 1, 2, 1, 1];
/// IF-MIB `interfaces` (1.3.6.1.2.1.2): ifNumber (.1) and ifTable (.2).
pub const INTERFACES: &[u32] = &[1, 3, 6, 1, 2, 1, 2];
/// `ifEntry` (1.3.6.1.2.1.2.2.1).
pub const IF_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
/// SNMPv2-MIB `snmp` group (1.3.6.1.2.1.11).
pub const SNMP: &[u32] = &[1, 3, 6, 1, 2, 1, 11];
/// IF-MIB `ifXEntry` (1.3.6.1.2.1.31.1.1.1).
pub const IFX_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// sysObjectID: 1.3.6.1.4.1.32473.1 — enterprise 32473 is IANA's number reserved for
/// documentation (RFC 5612); vnswitch has no enterprise number of its own.
pub const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 4, 1, 32473, 1];

/// `ifSpeed` of every interface: 10 Gbit/s (what `show interfaces` says, BW 10000000 Kbit)
/// is over the Gauge32 range, which IF-MIB says to report as its maximum; `ifHighSpeed` has
/// the value in Mbit/s.
const IF_SPEED: u32 = u32::MAX;
const IF_HIGH_SPEED_MBPS: u32 = 10_000;
/// ethernetCsmacd (IANAifType 6).
const IF_TYPE_ETHERNET: i64 = 6;
/// sysServices: datalink (2) + internet (4).
const SYS_SERVICES: i64 = 6;

/// Which rows a request sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Every appliance port (the administrator's community on the management address).
    Admin,
    /// Every interface of the tenant's logical routers.
    Tenant(TenantId),
    /// One logical router's interfaces (in-band, on the router's address).
    Router(RouterId),
}

/// The agent's own counters (SNMPv2-MIB `snmp` group) at build time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentCounters {
    pub in_pkts: u64,
    pub out_pkts: u64,
    pub bad_versions: u64,
    pub bad_community_names: u64,
    pub bad_community_uses: u64,
    pub asn_parse_errs: u64,
    pub silent_drops: u64,
    pub proxy_drops: u64,
}

/// One ifTable/ifXTable row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IfRow {
    pub index: u32,
    /// ifDescr and ifName.
    pub descr: String,
    pub alias: String,
    pub mtu: u32,
    pub mac: [u8; 6],
    pub admin_up: bool,
    pub oper_up: bool,
    pub counters: PortCounters,
}

/// The objects of one view, sorted by OID.
#[derive(Clone, Debug, Default)]
pub struct MibView {
    entries: Vec<(Oid, Value)>,
    /// Object types present (scalars without `.0`, table columns): a Get below one of these
    /// that matches no instance is noSuchInstance, anything else noSuchObject.
    objects: Vec<Oid>,
}

impl MibView {
    /// Exact Get: the value, or noSuchInstance / noSuchObject (RFC 3416 §4.2.1).
    pub fn get(&self, oid: &Oid) -> Value {
        match self.entries.binary_search_by(|(o, _)| o.cmp(oid)) {
            Ok(i) => self.entries[i].1.clone(),
            Err(_)
                if self.objects.iter().any(|o| oid.starts_with(o) && oid.arcs().len() > o.arcs().len()) =>
            {
                Value::NoSuchInstance
            }
            Err(_) => Value::NoSuchObject,
        }
    }
    /// The first instance after `oid` in MIB order (GetNext), None at the end of the view.
    pub fn next(&self, oid: &Oid) -> Option<&(Oid, Value)> {
        let i = self.entries.partition_point(|(o, _)| o <= oid);
        self.entries.get(i)
    }
    /// Every instance, in order (tests walk it).
    pub fn entries(&self) -> &[(Oid, Value)] {
        &self.entries
    }
}

/// What the `system` group says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemInfo {
    pub descr: String,
    pub uptime_ticks: u32,
    pub contact: String,
    pub name: String,
    pub location: String,
}

/// Builds the objects of `view` from the shell's context: topology, FIB port state, the
/// counters `show interfaces` reads, and the agent's counters.
pub fn build(ctx: &ShellContext, view: View, agent: AgentCounters) -> MibView {
    let topo = ctx.rib.topology();
    let ports = ctx.stats.as_ref().map(|s| s.ports()).unwrap_or_default();
    let snap = ctx.rib.snapshot();
    let port_up = |p: &rib::topology::Port| snap.port(p.id).map_or(p.enabled, |e| e.up);
    let rows = match view {
        View::Admin => admin_rows(&topo, &ports, &port_up),
        View::Tenant(t) => tenant_rows(&topo, t, None, &ports, &port_up),
        View::Router(r) => {
            let t = topo.routers.get(r.index()).map(|x| x.tenant);
            t.map(|t| tenant_rows(&topo, t, Some(r), &ports, &port_up)).unwrap_or_default()
        }
    };
    let name = match view {
        View::Router(r) => topo.routers.get(r.index()).map(|x| x.name.clone()).unwrap_or_default(),
        _ => ctx.hostname.clone(),
    };
    let version = env!("CARGO_PKG_VERSION");
    let descr = match view {
        View::Admin => format!("vnswitch {version}, multi-tenant virtual network switch appliance"),
        View::Tenant(t) => {
            let tn = topo.tenants.get(t.index()).map(|x| x.name.as_str()).unwrap_or("");
            format!("vnswitch {version}, logical routers of tenant {tn}")
        }
        View::Router(r) => {
            let (rn, tn) = topo
                .routers
                .get(r.index())
                .map(|x| {
                    (
                        x.name.as_str(),
                        topo.tenants.get(x.tenant.index()).map(|t| t.name.as_str()).unwrap_or(""),
                    )
                })
                .unwrap_or(("", ""));
            format!("vnswitch {version}, logical router {rn} of tenant {tn}")
        }
    };
    let sys = SystemInfo {
        descr,
        // Hundredths of a second; TimeTicks wraps at 2^32 (about 497 days).
        uptime_ticks: (ctx.started.elapsed().as_millis() / 10) as u32,
        contact: topo.file.snmp.contact.clone(),
        name,
        location: topo.file.snmp.location.clone(),
    };
    assemble(&sys, &rows, agent)
}

/// Every appliance port, in topology order, as `show interfaces` shows it to an administrator.
pub fn admin_rows(
    topo: &Topology,
    counters: &[PortCounters],
    port_up: &dyn Fn(&rib::topology::Port) -> bool,
) -> Vec<IfRow> {
    topo.ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let c = counters_of(counters, &p.name);
            let gw = crate::commands::port_gateway(topo, p);
            let (mac, mtu, alias) = match (&gw, &p.binding) {
                (Some(g), _) => (
                    g.mac,
                    1500,
                    format!("tenant {} access, logical router {} {}", g.tenant, g.router, g.interface),
                ),
                (None, PortBinding::Uplink { mac, mtu, link, .. }) => {
                    (*mac, *mtu as u32, format!("substrate uplink, link {}", link.as_deref().unwrap_or("-")))
                }
                (None, _) => (rib::MacAddr::ZERO, 1500, String::new()),
            };
            let oper_up = p.enabled && port_up(p) && c.link_down.is_none();
            IfRow {
                index: i as u32 + 1,
                descr: p.name.clone(),
                alias,
                mtu,
                mac: mac.0,
                admin_up: p.enabled,
                oper_up,
                counters: c,
            }
        })
        .collect()
}

/// The tenant's logical router interfaces (only `router`'s when given), each with the summed
/// counters of the access ports bound to it.
pub fn tenant_rows(
    topo: &Topology,
    tenant: TenantId,
    router: Option<RouterId>,
    counters: &[PortCounters],
    port_up: &dyn Fn(&rib::topology::Port) -> bool,
) -> Vec<IfRow> {
    let Some(t) = topo.tenants.get(tenant.index()) else { return Vec::new() };
    let mut rows = Vec::new();
    let mut index = 0u32;
    for &rid in &t.routers {
        let Some(r) = topo.routers.get(rid.index()) else { continue };
        for (ii, iface) in r.interfaces.iter().enumerate() {
            index = index.saturating_add(1);
            if router.is_some_and(|want| want != rid) {
                continue;
            }
            let bound: Vec<&rib::topology::Port> = topo
                .ports
                .iter()
                .filter(|p| {
                    matches!(p.binding, PortBinding::Access { router, interface, .. }
                        if router == rid && interface == ii)
                })
                .collect();
            let mut sum =
                PortCounters { name: format!("{} {}", r.name, iface.name), ..PortCounters::default() };
            let mut oper_up = bound.is_empty();
            for p in &bound {
                let c = counters_of(counters, &p.name);
                sum.rx_packets += c.rx_packets;
                sum.rx_bytes += c.rx_bytes;
                sum.tx_packets += c.tx_packets;
                sum.tx_bytes += c.tx_bytes;
                sum.rx_broadcast += c.rx_broadcast;
                sum.drops += c.drops;
                oper_up |= p.enabled && port_up(p) && c.link_down.is_none();
            }
            let admin_up = bound.iter().all(|p| p.enabled);
            let peer = t.links.iter().find_map(|l| {
                if l.a == rid && l.a_interface == ii {
                    Some(l.b)
                } else if l.b == rid && l.b_interface == ii {
                    Some(l.a)
                } else {
                    None
                }
            });
            let remote = topo.remote_hosts.iter().any(|h| h.router == rid && h.interface == ii);
            let alias = match (bound.first(), peer) {
                (Some(p), _) => format!("access port {}", p.name),
                (None, Some(peer)) => {
                    format!(
                        "link to {}",
                        topo.routers.get(peer.index()).map(|x| x.name.as_str()).unwrap_or("?")
                    )
                }
                (None, None) if remote => "hosts on remote substrate nodes".to_string(),
                (None, None) => String::new(),
            };
            rows.push(IfRow {
                index,
                descr: format!("{} {}", r.name, iface.name),
                alias,
                mtu: 1500,
                mac: iface.mac.0,
                admin_up,
                oper_up: admin_up && oper_up,
                counters: sum,
            });
        }
    }
    rows
}

fn counters_of(all: &[PortCounters], name: &str) -> PortCounters {
    all.iter()
        .find(|p| p.name == name)
        .cloned()
        .unwrap_or_else(|| PortCounters { name: name.to_string(), ..PortCounters::default() })
}

/// TruthValue / status enumerations: 1 true/up, 2 false/down.
fn up_down(up: bool) -> Value {
    Value::Integer(if up { 1 } else { 2 })
}

/// Counter32 of a 64-bit count (wraps, as a Counter32 does).
fn c32(v: u64) -> Value {
    Value::Counter32(v as u32)
}

/// The sorted objects of a view from its parts.
pub fn assemble(sys: &SystemInfo, rows: &[IfRow], agent: AgentCounters) -> MibView {
    let mut entries: Vec<(Oid, Value)> = Vec::with_capacity(40 + rows.len() * 40);
    let mut objects: Vec<Oid> = Vec::with_capacity(80);
    let system = Oid::new(SYSTEM);
    let mut scalar = |base: &Oid, sub: u32, v: Value, entries: &mut Vec<(Oid, Value)>| {
        let obj = base.child(&[sub]);
        entries.push((obj.child(&[0]), v));
        objects.push(obj);
    };
    let s = |t: &str| Value::OctetString(t.as_bytes().to_vec());
    scalar(&system, 1, s(&sys.descr), &mut entries);
    scalar(&system, 2, Value::Oid(Oid::new(SYS_OBJECT_ID)), &mut entries);
    scalar(&system, 3, Value::TimeTicks(sys.uptime_ticks), &mut entries);
    scalar(&system, 4, s(&sys.contact), &mut entries);
    scalar(&system, 5, s(&sys.name), &mut entries);
    scalar(&system, 6, s(&sys.location), &mut entries);
    scalar(&system, 7, Value::Integer(SYS_SERVICES), &mut entries);

    let interfaces = Oid::new(INTERFACES);
    scalar(&interfaces, 1, Value::Integer(rows.len() as i64), &mut entries);

    let snmp = Oid::new(SNMP);
    for (sub, v) in [
        (1, agent.in_pkts),
        (3, agent.bad_versions),
        (4, agent.bad_community_names),
        (5, agent.bad_community_uses),
        (6, agent.asn_parse_errs),
    ] {
        scalar(&snmp, sub, c32(v), &mut entries);
    }
    // snmpEnableAuthenTraps: disabled (the agent sends no traps).
    scalar(&snmp, 30, Value::Integer(2), &mut entries);
    scalar(&snmp, 31, c32(agent.silent_drops), &mut entries);
    scalar(&snmp, 32, c32(agent.proxy_drops), &mut entries);
    // snmpOutPkts (.2, obsolete in SNMPv2-MIB but still walked by tools): kept for operators.
    scalar(&snmp, 2, c32(agent.out_pkts), &mut entries);

    // Table columns: (column, value of a row).
    type Column = (u32, fn(&IfRow) -> Value);
    let if_columns: &[Column] = &[
        (1, |r| Value::Integer(r.index as i64)),
        (2, |r| Value::OctetString(r.descr.as_bytes().to_vec())),
        (3, |_| Value::Integer(IF_TYPE_ETHERNET)),
        (4, |r| Value::Integer(r.mtu as i64)),
        (5, |_| Value::Gauge32(IF_SPEED)),
        (6, |r| Value::OctetString(r.mac.to_vec())),
        (7, |r| up_down(r.admin_up)),
        (8, |r| up_down(r.oper_up)),
        (9, |_| Value::TimeTicks(0)),
        (10, |r| c32(r.counters.rx_bytes)),
        (11, |r| c32(r.counters.rx_packets.saturating_sub(r.counters.rx_broadcast))),
        (12, |r| c32(r.counters.rx_broadcast)),
        (13, |_| c32(0)),
        (14, |_| c32(0)),
        (15, |_| c32(0)),
        (16, |r| c32(r.counters.tx_bytes)),
        (17, |r| c32(r.counters.tx_packets)),
        (18, |_| c32(0)),
        (19, |r| c32(r.counters.drops)),
        (20, |_| c32(0)),
    ];
    let ifx_columns: &[Column] = &[
        (1, |r| Value::OctetString(r.descr.as_bytes().to_vec())),
        (2, |_| c32(0)),
        (3, |r| c32(r.counters.rx_broadcast)),
        (4, |_| c32(0)),
        (5, |_| c32(0)),
        (6, |r| Value::Counter64(r.counters.rx_bytes)),
        (7, |r| Value::Counter64(r.counters.rx_packets.saturating_sub(r.counters.rx_broadcast))),
        (8, |_| Value::Counter64(0)),
        (9, |r| Value::Counter64(r.counters.rx_broadcast)),
        (10, |r| Value::Counter64(r.counters.tx_bytes)),
        (11, |r| Value::Counter64(r.counters.tx_packets)),
        (12, |_| Value::Counter64(0)),
        (13, |_| Value::Counter64(0)),
        (14, |_| Value::Integer(2)),
        (15, |_| Value::Gauge32(IF_HIGH_SPEED_MBPS)),
        (16, |_| up_down(false)),
        (17, |_| up_down(true)),
        (18, |r| Value::OctetString(r.alias.as_bytes().to_vec())),
        (19, |_| Value::TimeTicks(0)),
    ];
    for (entry, columns) in [(IF_ENTRY, if_columns), (IFX_ENTRY, ifx_columns)] {
        let entry = Oid::new(entry);
        for (col, f) in columns {
            let column = entry.child(&[*col]);
            for r in rows {
                entries.push((column.child(&[r.index]), f(r)));
            }
            objects.push(column);
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    MibView { entries, objects }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn oid(s: &str) -> Oid {
        Oid(s.split('.').map(|a| a.parse().unwrap()).collect())
    }

    fn sys() -> SystemInfo {
        SystemInfo {
            descr: "vnswitch test".into(),
            uptime_ticks: 4200,
            contact: "noc".into(),
            name: "sw1".into(),
            location: "lab".into(),
        }
    }

    fn row(index: u32, descr: &str, rx_bytes: u64) -> IfRow {
        IfRow {
            index,
            descr: descr.into(),
            alias: String::new(),
            mtu: 1500,
            mac: [0, 1, 2, 3, 4, 5],
            admin_up: true,
            oper_up: true,
            counters: PortCounters { rx_bytes, rx_packets: 10, rx_broadcast: 3, ..PortCounters::default() },
        }
    }

    #[test]
    fn get_returns_values_and_the_right_exceptions() {
        let v = assemble(
            &sys(),
            &[row(1, "J Gi0/0", 5_000_000_000), row(2, "J Gi0/1", 7)],
            AgentCounters::default(),
        );
        assert_eq!(v.get(&oid("1.3.6.1.2.1.1.5.0")), Value::OctetString(b"sw1".to_vec()));
        assert_eq!(v.get(&oid("1.3.6.1.2.1.1.3.0")), Value::TimeTicks(4200));
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.1.0")), Value::Integer(2));
        // Counter32 wraps, Counter64 does not.
        assert_eq!(
            v.get(&oid("1.3.6.1.2.1.2.2.1.10.1")),
            Value::Counter32((5_000_000_000u64 % (1 << 32)) as u32)
        );
        assert_eq!(v.get(&oid("1.3.6.1.2.1.31.1.1.1.6.1")), Value::Counter64(5_000_000_000));
        // Unicast = packets - broadcasts.
        assert_eq!(v.get(&oid("1.3.6.1.2.1.31.1.1.1.7.2")), Value::Counter64(7));
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.2.1.2.2")), Value::OctetString(b"J Gi0/1".to_vec()));
        // A known column, an unknown row: noSuchInstance. A scalar without .0 or with .1:
        // noSuchInstance below it, noSuchObject at the object itself.
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.2.1.2.3")), Value::NoSuchInstance);
        assert_eq!(v.get(&oid("1.3.6.1.2.1.1.1.1")), Value::NoSuchInstance);
        assert_eq!(v.get(&oid("1.3.6.1.2.1.1.1")), Value::NoSuchObject);
        // Outside every object: noSuchObject.
        assert_eq!(v.get(&oid("1.3.6.1.2.1.4.1.0")), Value::NoSuchObject);
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.2.1.99.1")), Value::NoSuchObject);
    }

    #[test]
    fn next_walks_in_oid_order_column_by_column() {
        let v = assemble(&sys(), &[row(1, "a", 1), row(2, "b", 2)], AgentCounters::default());
        // From the root: sysDescr.0 first.
        assert_eq!(v.next(&oid("1.3")).unwrap().0, oid("1.3.6.1.2.1.1.1.0"));
        assert_eq!(v.next(&oid("1.3.6.1.2.1.1.1.0")).unwrap().0, oid("1.3.6.1.2.1.1.2.0"));
        // ifDescr.1 -> ifDescr.2 -> ifType.1 (a table is walked column by column).
        assert_eq!(v.next(&oid("1.3.6.1.2.1.2.2.1.2.1")).unwrap().0, oid("1.3.6.1.2.1.2.2.1.2.2"));
        assert_eq!(v.next(&oid("1.3.6.1.2.1.2.2.1.2.2")).unwrap().0, oid("1.3.6.1.2.1.2.2.1.3.1"));
        // A name between instances.
        assert_eq!(v.next(&oid("1.3.6.1.2.1.2.2.1.2.1.5")).unwrap().0, oid("1.3.6.1.2.1.2.2.1.2.2"));
        // ifTable ends, snmp group follows, then ifXTable; after the last: the end.
        assert_eq!(v.next(&oid("1.3.6.1.2.1.2.2.1.20.2")).unwrap().0, oid("1.3.6.1.2.1.11.1.0"));
        assert_eq!(v.next(&oid("1.3.6.1.2.1.11.32.0")).unwrap().0, oid("1.3.6.1.2.1.31.1.1.1.1.1"));
        let last = v.entries().last().unwrap().0.clone();
        assert_eq!(last, oid("1.3.6.1.2.1.31.1.1.1.19.2"));
        assert!(v.next(&last).is_none());
        // Strictly increasing, no duplicates.
        assert!(v.entries().windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn an_empty_view_still_has_the_system_group() {
        let v = assemble(&sys(), &[], AgentCounters::default());
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.1.0")), Value::Integer(0));
        assert_eq!(v.get(&oid("1.3.6.1.2.1.2.2.1.1.1")), Value::NoSuchInstance);
        assert_eq!(v.next(&oid("1.3.6.1.2.1.2.1.0")).unwrap().0, oid("1.3.6.1.2.1.11.1.0"));
    }
}
