//! Agent tests against a real RIB on `topologies/default.ron` with fixed port counters:
//! datagrams in, datagrams out, decoded and compared value by value, plus walks of the whole
//! tree per community searched byte by byte for what another view owns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::ber::{tag, Message, Oid, Pdu, PduType, Value};
use super::*;
use crate::providers::{PortCounters, StatsSource, WorkerStats};
use crate::session::{LoginResult, Session};
use rib::RibHandle;
use std::path::Path;

/// Port counters with values found nowhere else, so a walk can be searched for them.
struct FixedStats;

fn port(name: &str, base: u64) -> PortCounters {
    PortCounters {
        name: name.into(),
        rx_packets: base + 11,
        rx_bytes: base + 1_000_003,
        tx_packets: base + 13,
        tx_bytes: base + 2_000_017,
        rx_broadcast: 2,
        drops: base + 5,
        ..PortCounters::default()
    }
}

/// Port a (J Gi0/0), h (L Gi0/0), b (tenant y's Y Gi0/0).
const A: u64 = 0x0a00_0000_0000;
const H: u64 = 0x0b00_0000_0000;
const B: u64 = 0x0c00_0000_0000;

impl StatsSource for FixedStats {
    fn workers(&self) -> Vec<WorkerStats> {
        Vec::new()
    }
    fn ports(&self) -> Vec<PortCounters> {
        vec![port("a", A), port("h", H), port("b", B)]
    }
    fn clear(&self) {}
}

fn context() -> Arc<ShellContext> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let topo = rib::topology::load(&path).expect("default topology loads");
    let rib = RibHandle::spawn(topo).expect("rib starts");
    Arc::new(ShellContext::new(rib).with_stats(Arc::new(FixedStats)))
}

fn oid(s: &str) -> Oid {
    Oid(s.split('.').map(|a| a.parse().unwrap()).collect())
}

fn request(kind: PduType, community: &str, id: i32, a: i32, b: i32, oids: &[&str]) -> Vec<u8> {
    Message {
        version: 1,
        community: community.as_bytes().to_vec(),
        pdu: Pdu {
            kind,
            request_id: id,
            error_status: a,
            error_index: b,
            varbinds: oids.iter().map(|o| (oid(o), Value::Null)).collect(),
        },
    }
    .encode()
}

const MGMT: SnmpScope = SnmpScope::Management;

fn ask(ctx: &ShellContext, community: &str, kind: PduType, oids: &[&str]) -> Pdu {
    let req = request(kind, community, 4242, 0, 0, oids);
    let out = handle_request(ctx, &req, "127.0.0.1", &MGMT).expect("an answer");
    assert!(out.len() <= MAX_RESPONSE);
    let m = Message::decode(&out).expect("the answer decodes");
    assert_eq!((m.version, m.community.as_slice()), (1, community.as_bytes()));
    assert_eq!((m.pdu.kind, m.pdu.request_id), (PduType::Response, 4242));
    m.pdu
}

/// Walks the whole tree with GetNext from `1.3`; returns the varbinds and every answer's bytes.
fn walk(ctx: &ShellContext, community: &str, scope: &SnmpScope) -> (Vec<(Oid, Value)>, Vec<u8>) {
    let mut at = oid("1.3");
    let mut all = Vec::new();
    let mut bytes = Vec::new();
    for id in 0..10_000 {
        let req = Message {
            version: 1,
            community: community.as_bytes().to_vec(),
            pdu: Pdu {
                kind: PduType::GetNext,
                request_id: id,
                error_status: 0,
                error_index: 0,
                varbinds: vec![(at.clone(), Value::Null)],
            },
        }
        .encode();
        let out = handle_request(ctx, &req, "127.0.0.1", scope).expect("an answer");
        bytes.extend_from_slice(&out);
        let m = Message::decode(&out).unwrap();
        let (o, v) = m.pdu.varbinds.into_iter().next().unwrap();
        if v == Value::EndOfMibView {
            return (all, bytes);
        }
        assert!(o > at, "walk goes forward: {o} after {at}");
        at = o.clone();
        all.push((o, v));
    }
    panic!("walk did not end");
}

fn column(vbs: &[(Oid, Value)], col: &str) -> Vec<(u32, Value)> {
    let prefix = oid(col);
    vbs.iter()
        .filter(|(o, _)| o.starts_with(&prefix) && o.arcs().len() == prefix.arcs().len() + 1)
        .map(|(o, v)| (*o.arcs().last().unwrap(), v.clone()))
        .collect()
}

fn strings(vals: Vec<(u32, Value)>) -> Vec<(u32, String)> {
    vals.into_iter()
        .map(|(i, v)| match v {
            Value::OctetString(s) => (i, String::from_utf8(s).unwrap()),
            other => panic!("not a string: {other:?}"),
        })
        .collect()
}

const IF_DESCR: &str = "1.3.6.1.2.1.2.2.1.2";
const IF_HC_IN_OCTETS: &str = "1.3.6.1.2.1.31.1.1.1.6";

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Counter64 encodings of a port's counters (what would leak if its rows were shown).
fn counter_fingerprints(base: u64) -> Vec<Vec<u8>> {
    let p = port("x", base);
    [p.rx_bytes, p.tx_bytes, p.rx_packets - p.rx_broadcast, p.tx_packets]
        .iter()
        .map(|v| {
            let mut out = Vec::new();
            ber::push_value(&mut out, &Value::Counter64(*v));
            out
        })
        .collect()
}

#[test]
fn system_group_answers_a_get() {
    let ctx = context();
    let pdu = ask(
        &ctx,
        "vns-admin",
        PduType::Get,
        &["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.2.0"],
    );
    assert_eq!(pdu.error_status, 0);
    let Value::OctetString(descr) = &pdu.varbinds[0].1 else { panic!("{pdu:?}") };
    let descr = String::from_utf8(descr.clone()).unwrap();
    assert!(descr.starts_with(&format!("vnswitch {}", env!("CARGO_PKG_VERSION"))), "{descr}");
    assert_eq!(pdu.varbinds[1], (oid("1.3.6.1.2.1.1.5.0"), Value::OctetString(b"vnswitch".to_vec())));
    assert_eq!(pdu.varbinds[2].1, Value::Oid(Oid::new(mib::SYS_OBJECT_ID)));
    // sysContact and sysLocation from the topology; sysUpTime from ctx.started.
    let pdu = ask(
        &ctx,
        "vns-admin",
        PduType::Get,
        &["1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.2.1.1.3.0"],
    );
    assert_eq!(pdu.varbinds[0].1, Value::OctetString(b"noc@example.net".to_vec()));
    assert_eq!(pdu.varbinds[1].1, Value::OctetString(b"lab".to_vec()));
    assert!(matches!(pdu.varbinds[2].1, Value::TimeTicks(t) if t < 60_000), "{pdu:?}");
    // Unknown objects and instances: exceptions, not errors.
    let pdu = ask(&ctx, "vns-admin", PduType::Get, &["1.3.6.1.2.1.4.1.0", "1.3.6.1.2.1.2.2.1.2.99"]);
    assert_eq!(pdu.error_status, 0);
    assert_eq!(pdu.varbinds[0].1, Value::NoSuchObject);
    assert_eq!(pdu.varbinds[1].1, Value::NoSuchInstance);
}

#[test]
fn admin_community_sees_every_port_with_its_counters() {
    let ctx = context();
    let (vbs, _) = walk(&ctx, "vns-admin", &MGMT);
    assert_eq!(strings(column(&vbs, IF_DESCR)), [(1, "a".into()), (2, "h".into()), (3, "b".into())]);
    assert_eq!(
        column(&vbs, IF_HC_IN_OCTETS),
        [
            (1, Value::Counter64(A + 1_000_003)),
            (2, Value::Counter64(H + 1_000_003)),
            (3, Value::Counter64(B + 1_000_003))
        ]
    );
    // ifNumber, ifType, ifPhysAddress (the gateway MAC), ifAlias, ifOutDiscards.
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.2.1.0"), Value::Integer(3))));
    assert_eq!(
        column(&vbs, "1.3.6.1.2.1.2.2.1.3"),
        [(1, Value::Integer(6)), (2, Value::Integer(6)), (3, Value::Integer(6))]
    );
    assert!(vbs.contains(&(
        oid("1.3.6.1.2.1.2.2.1.6.1"),
        Value::OctetString(vec![0x00, 0x01, 0x42, 0x09, 0x88, 0x73])
    )));
    assert!(vbs.contains(&(
        oid("1.3.6.1.2.1.31.1.1.1.18.3"),
        Value::OctetString(b"tenant y access, logical router Y Gi0/0".to_vec())
    )));
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.2.2.1.19.2"), Value::Counter32((H + 5) as u32))));
    // Counter32 columns wrap the 64-bit counts.
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.2.2.1.10.1"), Value::Counter32((A + 1_000_003) as u32))));
    // Admin status up, oper status: no workers report link state here, so the FIB's (up).
    assert_eq!(
        column(&vbs, "1.3.6.1.2.1.2.2.1.7"),
        [(1, Value::Integer(1)), (2, Value::Integer(1)), (3, Value::Integer(1))]
    );
}

#[test]
fn a_tenant_community_sees_only_its_routers_interfaces_byte_by_byte() {
    let ctx = context();
    let (vbs, bytes) = walk(&ctx, "z-public", &MGMT);
    assert_eq!(
        strings(column(&vbs, IF_DESCR)),
        [(1, "J Gi0/0".into()), (2, "J Gi0/1".into()), (3, "L Gi0/0".into()), (4, "L Gi0/1".into())]
    );
    assert_eq!(strings(column(&vbs, "1.3.6.1.2.1.31.1.1.1.1")), strings(column(&vbs, IF_DESCR)));
    assert_eq!(
        strings(column(&vbs, "1.3.6.1.2.1.31.1.1.1.18")),
        [
            (1, "access port a".into()),
            (2, "link to L".into()),
            (3, "access port h".into()),
            (4, "link to J".into())
        ]
    );
    // J Gi0/0 is counted by port a, L Gi0/0 by port h; the logical link has no counters.
    assert_eq!(
        column(&vbs, IF_HC_IN_OCTETS),
        [
            (1, Value::Counter64(A + 1_000_003)),
            (2, Value::Counter64(0)),
            (3, Value::Counter64(H + 1_000_003)),
            (4, Value::Counter64(0))
        ]
    );
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.2.1.0"), Value::Integer(4))));
    // Nothing of tenant y or the substrate: names, community, MACs, counters, devices.
    for needle in [&b"Y Gi0/0"[..], b"tenant y", b"y-public", b"vns-admin", b"vns-", b"access port b"] {
        assert!(!contains(&bytes, needle), "z's walk shows {:?}", String::from_utf8_lossy(needle));
    }
    for mac in [[0x00, 0x01, 0x42, 0x00, 0x00, 0xb1], [0x00, 0x05, 0x02, 0x0b, 0x27, 0xbb]] {
        assert!(!contains(&bytes, &mac), "z's walk shows y's MAC {mac:02x?}");
    }
    for f in counter_fingerprints(B) {
        assert!(!contains(&bytes, &f), "z's walk shows port b's counters");
    }
    // sysName is the hostname on the management address.
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.1.5.0"), Value::OctetString(b"vnswitch".to_vec()))));

    let (vbs, bytes) = walk(&ctx, "y-public", &MGMT);
    assert_eq!(strings(column(&vbs, IF_DESCR)), [(1, "Y Gi0/0".into())]);
    assert_eq!(column(&vbs, IF_HC_IN_OCTETS), [(1, Value::Counter64(B + 1_000_003))]);
    for needle in
        [&b"J Gi0"[..], b"L Gi0", b"link to", b"z-public", b"vns-", b"access port a", b"access port h"]
    {
        assert!(!contains(&bytes, needle), "y's walk shows {:?}", String::from_utf8_lossy(needle));
    }
    for mac in [
        [0x00, 0x01, 0x42, 0x09, 0x88, 0x73],
        [0x00, 0x01, 0x42, 0xcd, 0x11, 0x01],
        [0x00, 0x01, 0x42, 0x09, 0x88, 0x74],
    ] {
        assert!(!contains(&bytes, &mac), "y's walk shows z's MAC {mac:02x?}");
    }
    for f in counter_fingerprints(A).into_iter().chain(counter_fingerprints(H)) {
        assert!(!contains(&bytes, &f), "y's walk shows z's counters");
    }
}

#[test]
fn tenant_counters_are_the_ones_show_interfaces_prints() {
    let ctx = context();
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login("z-ops", "z-ops"), LoginResult::Ok);
    let text = s.execute("show interfaces a").text;
    let pdu =
        ask(&ctx, "z-public", PduType::Get, &[&format!("{IF_HC_IN_OCTETS}.1"), "1.3.6.1.2.1.31.1.1.1.10.1"]);
    let (Value::Counter64(rx), Value::Counter64(tx)) = (&pdu.varbinds[0].1, &pdu.varbinds[1].1) else {
        panic!("{pdu:?}")
    };
    assert!(text.contains(&format!("packets input, {rx} bytes")), "{text}");
    assert!(text.contains(&format!("packets output, {tx} bytes")), "{text}");
    assert!(text.contains("logical router J Gi0/0"), "{text}");
}

#[test]
fn router_scope_accepts_only_its_tenant_community_and_shows_that_router() {
    let ctx = context();
    let j = SnmpScope::Router { tenant: "z".into(), router: "J".into() };
    let (vbs, bytes) = walk(&ctx, "z-public", &j);
    // Same ifIndex as in the tenant's management view.
    assert_eq!(strings(column(&vbs, IF_DESCR)), [(1, "J Gi0/0".into()), (2, "J Gi0/1".into())]);
    assert!(vbs.contains(&(oid("1.3.6.1.2.1.1.5.0"), Value::OctetString(b"J".to_vec()))));
    assert!(!contains(&bytes, b"L Gi0/0") && !contains(&bytes, &[0x00, 0x01, 0x42, 0xcd, 0x11, 0x01]));
    for f in counter_fingerprints(H) {
        assert!(!contains(&bytes, &f), "J's walk shows L's counters");
    }
    let l = SnmpScope::Router { tenant: "z".into(), router: "L".into() };
    let (vbs, _) = walk(&ctx, "z-public", &l);
    assert_eq!(strings(column(&vbs, IF_DESCR)), [(3, "L Gi0/0".into()), (4, "L Gi0/1".into())]);

    let req = |c: &str| request(PduType::Get, c, 1, 0, 0, &["1.3.6.1.2.1.1.5.0"]);
    let before = ctx.snmp.snapshot();
    // The admin's and another tenant's community are not accepted on a router address.
    assert_eq!(handle_request(&ctx, &req("vns-admin"), "10.0.0.10", &j), None);
    assert_eq!(handle_request(&ctx, &req("y-public"), "10.0.0.10", &j), None);
    assert_eq!(ctx.snmp.snapshot().bad_community_names, before.bad_community_names + 2);
    let audit: Vec<String> = ctx.audit.entries().iter().map(|e| e.render()).collect();
    assert!(
        audit.iter().any(|l| l.contains(
            "%SNMP-4-AUTHFAIL: SNMP request to router J of tenant z with an unknown community [user: -] [Source: 10.0.0.10]"
        )),
        "{audit:?}"
    );
    // A router that does not exist: no answer.
    let nowhere = SnmpScope::Router { tenant: "z".into(), router: "Q".into() };
    assert_eq!(handle_request(&ctx, &req("z-public"), "10.0.0.10", &nowhere), None);
    let y = SnmpScope::Router { tenant: "y".into(), router: "Y".into() };
    assert!(handle_request(&ctx, &req("y-public"), "10.0.0.10", &y).is_some());
}

#[test]
fn wrong_community_gets_no_answer_is_counted_and_audited_with_a_rate_limit() {
    let ctx = context();
    let req = request(PduType::Get, "guess", 1, 0, 0, &["1.3.6.1.2.1.1.5.0"]);
    for _ in 0..50 {
        assert_eq!(handle_request(&ctx, &req, "192.0.2.7", &MGMT), None);
    }
    assert_eq!(ctx.snmp.snapshot().bad_community_names, 50);
    let lines: Vec<String> =
        ctx.audit.entries().iter().filter(|e| e.mnemonic == "AUTHFAIL").map(|e| e.render()).collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0]
            .contains("%SNMP-4-AUTHFAIL: SNMP request to the management address with an unknown community"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("[Source: 192.0.2.7]"), "{}", lines[0]);
    assert!(!lines[0].contains("guess"), "the guessed community is not logged");
    // Many sources: at most AUDIT_BURST lines per interval overall.
    for i in 0..200 {
        let _ = handle_request(&ctx, &req, &format!("198.51.100.{i}"), &MGMT);
    }
    let n = ctx.audit.entries().iter().filter(|e| e.mnemonic == "AUTHFAIL").count();
    assert_eq!(n, AUDIT_BURST as usize);
    // The counter is visible to the administrator.
    let pdu = ask(&ctx, "vns-admin", PduType::Get, &["1.3.6.1.2.1.11.4.0"]);
    assert_eq!(pdu.varbinds[0].1, Value::Counter32(250));
}

#[test]
fn audit_limiter_allows_a_source_again_after_the_interval() {
    let mut l = AuditLimiter::default();
    let t0 = Instant::now();
    assert_eq!(l.admit("a", t0), Some(0));
    assert_eq!(l.admit("a", t0 + Duration::from_secs(1)), None);
    assert_eq!(l.admit("a", t0 + Duration::from_secs(9)), None);
    assert_eq!(l.admit("b", t0 + Duration::from_secs(9)), Some(0));
    assert_eq!(l.admit("a", t0 + AUDIT_INTERVAL), Some(2));
    assert_eq!(l.admit("a", t0 + AUDIT_INTERVAL * 2), Some(0));
}

#[test]
fn get_next_and_get_bulk_follow_rfc_3416() {
    let ctx = context();
    // GetNext of the last object: endOfMibView with the requested name.
    let pdu = ask(&ctx, "z-public", PduType::GetNext, &["1.3.6.1.2.1.31.1.1.1.19.4", "1.3.6.1.2.1.1.5"]);
    assert_eq!(pdu.varbinds[0], (oid("1.3.6.1.2.1.31.1.1.1.19.4"), Value::EndOfMibView));
    assert_eq!(pdu.varbinds[1], (oid("1.3.6.1.2.1.1.5.0"), Value::OctetString(b"vnswitch".to_vec())));

    // GetBulk: one non-repeater (sysUpTime), two repeaters (ifDescr, ifHCInOctets), 3 rounds.
    let req = request(PduType::GetBulk, "z-public", 9, 1, 3, &["1.3.6.1.2.1.1.3", IF_DESCR, IF_HC_IN_OCTETS]);
    let m = Message::decode(&handle_request(&ctx, &req, "127.0.0.1", &MGMT).unwrap()).unwrap();
    assert_eq!((m.pdu.error_status, m.pdu.error_index), (0, 0));
    let names: Vec<String> = m.pdu.varbinds.iter().map(|(o, _)| o.to_string()).collect();
    assert_eq!(
        names,
        [
            "1.3.6.1.2.1.1.3.0",
            "1.3.6.1.2.1.2.2.1.2.1",
            "1.3.6.1.2.1.31.1.1.1.6.1",
            "1.3.6.1.2.1.2.2.1.2.2",
            "1.3.6.1.2.1.31.1.1.1.6.2",
            "1.3.6.1.2.1.2.2.1.2.3",
            "1.3.6.1.2.1.31.1.1.1.6.3",
        ]
    );
    // Past the end every repeater reports endOfMibView, and the rounds stop.
    let req = request(PduType::GetBulk, "y-public", 9, 0, 50, &["1.3.6.1.2.1.31.1.1.1.18"]);
    let m = Message::decode(&handle_request(&ctx, &req, "127.0.0.1", &MGMT).unwrap()).unwrap();
    let tail: Vec<&(Oid, Value)> = m.pdu.varbinds.iter().collect();
    assert_eq!(tail.len(), 3, "{tail:?}");
    assert_eq!(tail[0].0, oid("1.3.6.1.2.1.31.1.1.1.18.1"));
    assert_eq!(tail[1].0, oid("1.3.6.1.2.1.31.1.1.1.19.1"));
    assert_eq!(*tail[2], (oid("1.3.6.1.2.1.31.1.1.1.19.1"), Value::EndOfMibView));
}

#[test]
fn get_bulk_stays_under_one_datagram_and_matches_the_walk() {
    let ctx = context();
    let (walked, _) = walk(&ctx, "vns-admin", &MGMT);
    let req = request(PduType::GetBulk, "vns-admin", 3, 0, 10_000, &["1.3"]);
    let out = handle_request(&ctx, &req, "127.0.0.1", &MGMT).unwrap();
    assert!(out.len() <= MAX_RESPONSE && out.len() > MAX_RESPONSE - 80, "{} bytes", out.len());
    let m = Message::decode(&out).unwrap();
    assert!(m.pdu.varbinds.len() > 20);
    // Bulk answers are the walk's first entries (sysUpTime may have ticked between them).
    for (got, want) in m.pdu.varbinds.iter().zip(&walked) {
        assert_eq!(got.0, want.0);
    }
    // Negative non-repeaters / max-repetitions count as zero.
    let req = request(PduType::GetBulk, "vns-admin", 3, -5, -1, &["1.3"]);
    let m = Message::decode(&handle_request(&ctx, &req, "127.0.0.1", &MGMT).unwrap()).unwrap();
    assert!(m.pdu.varbinds.is_empty());
}

#[test]
fn a_get_that_cannot_fit_is_answered_too_big() {
    let ctx = context();
    let many: Vec<&str> = vec!["1.3.6.1.2.1.1.1.0"; 40];
    let pdu = ask(&ctx, "vns-admin", PduType::Get, &many);
    assert_eq!((pdu.error_status, pdu.error_index), (error_status::TOO_BIG, 0));
    assert!(pdu.varbinds.is_empty());
}

#[test]
fn set_is_refused_with_no_access_and_changes_nothing() {
    let ctx = context();
    let req = Message {
        version: 1,
        community: b"vns-admin".to_vec(),
        pdu: Pdu {
            kind: PduType::Set,
            request_id: 77,
            error_status: 0,
            error_index: 0,
            varbinds: vec![(oid("1.3.6.1.2.1.1.5.0"), Value::OctetString(b"pwned".to_vec()))],
        },
    };
    let out = handle_request(&ctx, &req.encode(), "127.0.0.1", &MGMT).unwrap();
    let m = Message::decode(&out).unwrap();
    assert_eq!((m.pdu.kind, m.pdu.error_status, m.pdu.error_index), (PduType::Response, 6, 1));
    assert_eq!(m.pdu.varbinds, req.pdu.varbinds);
    let pdu = ask(&ctx, "vns-admin", PduType::Get, &["1.3.6.1.2.1.1.5.0"]);
    assert_eq!(pdu.varbinds[0].1, Value::OctetString(b"vnswitch".to_vec()));
}

#[test]
fn other_versions_pdus_and_garbage_get_no_answer_and_are_counted() {
    let ctx = context();
    // SNMPv1 (version 0).
    let mut v1 = request(PduType::Get, "vns-admin", 1, 0, 0, &["1.3.6.1.2.1.1.5.0"]);
    v1[4] = 0;
    assert_eq!(handle_request(&ctx, &v1, "127.0.0.1", &MGMT), None);
    // A Response sent to the agent.
    let resp = request(PduType::Response, "vns-admin", 1, 0, 0, &["1.3.6.1.2.1.1.5.0"]);
    assert_eq!(handle_request(&ctx, &resp, "127.0.0.1", &MGMT), None);
    // Garbage.
    for g in [&b""[..], b"\x30", b"hello world", b"\x30\x03\x02\x01\x01", &[0xff; 64]] {
        assert_eq!(handle_request(&ctx, g, "127.0.0.1", &MGMT), None);
    }
    let c = ctx.snmp.snapshot();
    assert_eq!((c.bad_versions, c.silent_drops, c.asn_parse_errs, c.out_pkts), (1, 1, 5, 0));
    assert_eq!(c.in_pkts, 7);
}

/// xorshift64*: a deterministic generator for the robustness tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn truncated_mutated_and_random_datagrams_never_panic() {
    let ctx = context();
    let seeds = [
        request(PduType::Get, "vns-admin", 1, 0, 0, &["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.2.2.1.10.1"]),
        request(PduType::GetNext, "z-public", 2, 0, 0, &["1.3.6.1.2.1.2.2"]),
        request(PduType::GetBulk, "vns-admin", 3, 1, 30, &["1.3.6.1.2.1.1.3", "1.3.6.1.2.1.2.2.1.2"]),
        request(PduType::Set, "y-public", 4, 0, 0, &["1.3.6.1.2.1.1.5.0"]),
    ];
    let scopes = [MGMT, SnmpScope::Router { tenant: "z".into(), router: "J".into() }];
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let check = |d: &[u8], scope: &SnmpScope| {
        if let Some(out) = handle_request(&ctx, d, "127.0.0.1", scope) {
            assert!(out.len() <= MAX_RESPONSE);
            let m = Message::decode(&out).expect("answers always decode");
            assert_eq!(m.pdu.kind, PduType::Response);
        }
    };
    for s in &seeds {
        for n in 0..s.len() {
            check(&s[..n], &scopes[0]);
        }
    }
    for i in 0..20_000 {
        let scope = &scopes[i % 2];
        let mut d = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                _ if d.is_empty() => d.push(rng.next() as u8),
                0 => {
                    let at = rng.below(d.len());
                    d[at] = rng.next() as u8;
                }
                1 => {
                    let at = rng.below(d.len());
                    d[at] ^= 1 << rng.below(8);
                }
                2 => {
                    let at = rng.below(d.len() + 1);
                    d.insert(at, rng.next() as u8);
                }
                _ => d.truncate(rng.below(d.len() + 1)),
            }
        }
        check(&d, scope);
        let random: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        check(&random, scope);
        // Random bytes behind a valid outer SEQUENCE header.
        let mut framed = vec![tag::SEQUENCE, random.len().min(127) as u8];
        framed.extend_from_slice(&random[..random.len().min(127)]);
        check(&framed, scope);
    }
    let c = ctx.snmp.snapshot();
    assert!(c.asn_parse_errs > 10_000, "{c:?}");
}

#[test]
fn show_snmp_reports_the_agent_counters_to_administrators_only() {
    let ctx = context();
    let server = spawn_snmp(ctx.clone(), "127.0.0.1:0").expect("bind a free port");
    let addr = server.local_addr();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // Over the socket: one Get answered, one wrong community unanswered, one garbage datagram.
    sock.send_to(
        &request(PduType::Get, "z-public", 5, 0, 0, &["1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.3.0"]),
        addr,
    )
    .unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).expect("an answer over UDP");
    assert_eq!(Message::decode(&buf[..n]).unwrap().pdu.request_id, 5);
    sock.send_to(&request(PduType::Get, "nope", 6, 0, 0, &["1.3.6.1.2.1.1.5.0"]), addr).unwrap();
    sock.send_to(b"garbage", addr).unwrap();
    sock.send_to(&request(PduType::GetNext, "vns-admin", 7, 0, 0, &["1.3"]), addr).unwrap();
    let (n, _) = sock.recv_from(&mut buf).expect("the next answer");
    assert_eq!(Message::decode(&buf[..n]).unwrap().pdu.request_id, 7, "the wrong community got no answer");

    let mut admin = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(admin.login("admin", "vnswitch"), LoginResult::Ok);
    let text = admin.execute("show snmp").text;
    for want in [
        "Chassis: vnswitch\n",
        "Contact: noc@example.net\n",
        "Location: lab\n",
        "4 SNMP packets input\n",
        "    1 Unknown community name\n",
        "    1 Encoding errors\n",
        "    3 Number of requested variables\n",
        "    1 Get-request PDUs\n",
        "    1 Get-next PDUs\n",
        "2 SNMP packets output\n",
        &format!("SNMP agent: read-only, v2c, listening on udp {addr}\n"),
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    let log = admin.execute("show logging").text;
    assert!(log.contains("%SNMP-4-AUTHFAIL: SNMP request to the management address with an unknown community [user: -] [Source: 127.0.0.1]"), "{log}");
    let mut z = Session::new(ctx.clone(), "vty 1", "127.0.0.1:40001");
    assert_eq!(z.login("z-ops", "z-ops"), LoginResult::Ok);
    assert_eq!(z.execute("show snmp").text, "% Access denied: 'show snmp' is reserved to administrators.\n");
    server.stop();
    let text = admin.execute("show snmp").text;
    assert!(text.contains("SNMP agent: not listening on a management address"), "{text}");
}

#[test]
fn overlay_views_show_uplinks_to_the_admin_only() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/overlay.ron");
    let topo = rib::topology::load(&path).expect("overlay topology loads");
    let ctx = Arc::new(ShellContext::new(RibHandle::spawn(topo).expect("rib starts")));
    let (vbs, _) = walk(&ctx, "vns-admin", &MGMT);
    assert_eq!(
        strings(column(&vbs, IF_DESCR)),
        [(1, "p1".into()), (2, "s1".into()), (3, "upf".into()), (4, "ups".into())]
    );
    assert_eq!(
        strings(column(&vbs, "1.3.6.1.2.1.31.1.1.1.18")).last(),
        Some(&(4, "substrate uplink, link sw1-slow".to_string()))
    );
    let (vbs, bytes) = walk(&ctx, "p-public", &MGMT);
    assert_eq!(
        strings(column(&vbs, "1.3.6.1.2.1.31.1.1.1.18")),
        [
            (1, "access port p1".into()),
            (2, "link to L".into()),
            (3, "hosts on remote substrate nodes".into()),
            (4, "link to J".into())
        ]
    );
    for needle in [&b"upf"[..], b"ups", b"uplink", b"sw1-", b"s1", b"s-public"] {
        assert!(!contains(&bytes, needle), "p's walk shows {:?}", String::from_utf8_lossy(needle));
    }
}
