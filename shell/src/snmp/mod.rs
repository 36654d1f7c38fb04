//! SNMP v2c read-only agent: one datagram in, at most one datagram out.
//!
//! [`handle_request`] is the whole agent and does no I/O, so the UDP listener
//! ([`spawn_snmp`], the management address) and the in-band manager (a logical router's
//! address, through smoltcp) share it. It answers GetRequest, GetNextRequest and
//! GetBulkRequest from the view the community selects (`mib`), answers SetRequest with
//! `noAccess` and changes nothing, and keeps every answer within [`MAX_RESPONSE`] bytes
//! (GetBulk stops adding repetitions; a Get that cannot fit is answered `tooBig`).
//!
//! Communities: on the management address the administrator's community (`snmp.community`)
//! sees every appliance port and a tenant's `snmp_community` sees that tenant's routers; on
//! a router address only that router's tenant community is accepted and it sees that router.
//! A datagram that is not SNMP is counted (`snmpInASNParseErrs`) and dropped; a wrong
//! community is counted (`snmpInBadCommunityNames`), never answered, and written to the audit
//! log at most once per source every [`AUDIT_INTERVAL`] (and [`AUDIT_BURST`] lines per
//! interval overall), so a flood cannot fill the log.
//!
//! Runs on the listener's thread (or the in-band manager's), never on a worker.

pub mod ber;
pub mod mib;

use crate::audit::Severity;
use crate::ShellContext;
use ber::{Message, Oid, Pdu, PduType, Value};
use mib::{AgentCounters, MibView, View};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Largest answer: one Ethernet payload of UDP over IPv4 without fragments (1500 - 20 - 8).
pub const MAX_RESPONSE: usize = 1472;
/// One audit line per source at most this often for wrong communities.
pub const AUDIT_INTERVAL: Duration = Duration::from_secs(10);
/// Most wrong-community audit lines per [`AUDIT_INTERVAL`] over all sources.
pub const AUDIT_BURST: u32 = 20;
/// Sources remembered by the audit limiter.
const AUDIT_SOURCES: usize = 1024;
/// SNMPv2c's version field (RFC 1901).
const VERSION_2C: i64 = 1;

/// RFC 3416 error-status values the agent sends.
pub mod error_status {
    pub const NO_ERROR: i32 = 0;
    pub const TOO_BIG: i32 = 1;
    pub const NO_ACCESS: i32 = 6;
}

/// Where a request arrived: the management address, or a logical router's address in-band.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnmpScope {
    Management,
    Router { tenant: String, router: String },
}

/// The agent's counters (SNMPv2-MIB `snmp` group) and its audit limiter; one per
/// [`ShellContext`], shared by every listener.
#[derive(Default)]
pub struct SnmpStats {
    /// Datagrams handed to the agent.
    pub in_pkts: AtomicU64,
    /// Answers produced.
    pub out_pkts: AtomicU64,
    /// Messages of another SNMP version than v2c (v1, v3), dropped.
    pub bad_versions: AtomicU64,
    /// Messages whose community selects no view here, dropped and (rate-limited) audited.
    pub bad_community_names: AtomicU64,
    /// Messages asking a community for something it may not do (always 0: every community
    /// is read-only and Sets are answered `noAccess`).
    pub bad_community_uses: AtomicU64,
    /// Datagrams that are not well-formed BER/SNMP, dropped.
    pub asn_parse_errs: AtomicU64,
    /// Well-formed PDUs the agent does not answer (Response, Trap, Inform, Report), and
    /// answers that could not be made to fit even as `tooBig`.
    pub silent_drops: AtomicU64,
    /// Accepted requests by PDU type (`show snmp`).
    pub get_pdus: AtomicU64,
    pub get_next_pdus: AtomicU64,
    pub get_bulk_pdus: AtomicU64,
    pub set_pdus: AtomicU64,
    /// Varbinds named by accepted requests.
    pub requested_vars: AtomicU64,
    /// Answers sent as `tooBig`.
    pub too_big: AtomicU64,
    /// Where [`spawn_snmp`] listeners are bound (`show snmp`).
    pub listening: Mutex<Vec<SocketAddr>>,
    audit: Mutex<AuditLimiter>,
}

impl SnmpStats {
    /// The counters as the MIB shows them.
    pub fn snapshot(&self) -> AgentCounters {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AgentCounters {
            in_pkts: l(&self.in_pkts),
            out_pkts: l(&self.out_pkts),
            bad_versions: l(&self.bad_versions),
            bad_community_names: l(&self.bad_community_names),
            bad_community_uses: l(&self.bad_community_uses),
            asn_parse_errs: l(&self.asn_parse_errs),
            silent_drops: l(&self.silent_drops),
            proxy_drops: 0,
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Decides which wrong-community events reach the audit log.
#[derive(Default)]
struct AuditLimiter {
    /// Per source: when its last line was written and how many events were left out since.
    sources: HashMap<String, (Instant, u64)>,
    window_start: Option<Instant>,
    window_lines: u32,
}

impl AuditLimiter {
    /// Some(left out since the source's previous line) when this event is to be logged.
    fn admit(&mut self, source: &str, now: Instant) -> Option<u64> {
        let window_over = self.window_start.is_none_or(|s| now.duration_since(s) >= AUDIT_INTERVAL);
        if window_over {
            self.window_start = Some(now);
            self.window_lines = 0;
        }
        if let Some((last, skipped)) = self.sources.get_mut(source) {
            if now.duration_since(*last) < AUDIT_INTERVAL || self.window_lines >= AUDIT_BURST {
                *skipped += 1;
                return None;
            }
            let n = *skipped;
            *last = now;
            *skipped = 0;
            self.window_lines += 1;
            return Some(n);
        }
        if self.sources.len() >= AUDIT_SOURCES {
            self.sources.retain(|_, (t, _)| now.duration_since(*t) < AUDIT_INTERVAL);
        }
        if self.sources.len() >= AUDIT_SOURCES || self.window_lines >= AUDIT_BURST {
            return None;
        }
        self.sources.insert(source.to_string(), (now, 0));
        self.window_lines += 1;
        Some(0)
    }
}

/// Equal in time independent of where the first difference is (communities are secrets).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a community selects in a scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Selection {
    View(View),
    /// No view: a wrong community (counted, audited).
    BadCommunity,
    /// The scope names no router of this appliance (the caller's mistake; counted as a
    /// silent drop).
    OutOfScope,
}

/// The view `community` selects in `scope`.
fn select_view(ctx: &ShellContext, community: &[u8], scope: &SnmpScope) -> Selection {
    let topo = ctx.rib.topology();
    let is = |c: &str| same_secret(community, c.as_bytes());
    match scope {
        SnmpScope::Management => {
            let admin = &topo.file.snmp.community;
            if !admin.is_empty() && is(admin) {
                return Selection::View(View::Admin);
            }
            for (tc, t) in topo.file.tenants.iter().zip(&topo.tenants) {
                if tc.snmp_community.as_deref().is_some_and(is) {
                    return Selection::View(View::Tenant(t.id));
                }
            }
            Selection::BadCommunity
        }
        SnmpScope::Router { tenant, router } => {
            let Some(t) = topo.tenant_by_name(tenant) else { return Selection::OutOfScope };
            let Some(r) = topo.router_by_name(t.id, router) else { return Selection::OutOfScope };
            let community = topo.file.tenants.get(t.id.index()).and_then(|tc| tc.snmp_community.as_deref());
            if community.is_some_and(is) {
                Selection::View(View::Router(r.id))
            } else {
                Selection::BadCommunity
            }
        }
    }
}

/// Answers one datagram; None = no answer (bad community, garbage, out of scope).
///
/// `source` names the sender in the audit log (an address; the UDP listener passes the IP
/// without the port, so one host is one source for the rate limit).
pub fn handle_request(
    ctx: &ShellContext,
    request: &[u8],
    source: &str,
    scope: &SnmpScope,
) -> Option<Vec<u8>> {
    let stats = &ctx.snmp;
    bump(&stats.in_pkts);
    let msg = match Message::decode(request) {
        Ok(m) => m,
        Err(f) => {
            match f.version {
                Some(v) if v != VERSION_2C => bump(&stats.bad_versions),
                _ => bump(&stats.asn_parse_errs),
            }
            return None;
        }
    };
    if msg.version != VERSION_2C {
        bump(&stats.bad_versions);
        return None;
    }
    let view = match select_view(ctx, &msg.community, scope) {
        Selection::View(v) => v,
        Selection::BadCommunity => {
            bump(&stats.bad_community_names);
            audit_bad_community(ctx, source, scope);
            return None;
        }
        Selection::OutOfScope => {
            bump(&stats.silent_drops);
            return None;
        }
    };
    let kind_counter = match msg.pdu.kind {
        PduType::Get => &stats.get_pdus,
        PduType::GetNext => &stats.get_next_pdus,
        PduType::GetBulk => &stats.get_bulk_pdus,
        PduType::Set => &stats.set_pdus,
        _ => {
            bump(&stats.silent_drops);
            return None;
        }
    };
    bump(kind_counter);
    stats.requested_vars.fetch_add(msg.pdu.varbinds.len() as u64, Ordering::Relaxed);
    let mib = mib::build(ctx, view, stats.snapshot());
    match respond(&mib, &msg) {
        Some((a, too_big)) => {
            bump(&stats.out_pkts);
            if too_big {
                bump(&stats.too_big);
            }
            Some(a)
        }
        None => {
            bump(&stats.silent_drops);
            None
        }
    }
}

fn audit_bad_community(ctx: &ShellContext, source: &str, scope: &SnmpScope) {
    let admitted = ctx.snmp.audit.lock().unwrap_or_else(|e| e.into_inner()).admit(source, Instant::now());
    let Some(skipped) = admitted else { return };
    let target = match scope {
        SnmpScope::Management => "the management address".to_string(),
        SnmpScope::Router { tenant, router } => format!("router {router} of tenant {tenant}"),
    };
    let more = if skipped > 0 { format!(" ({skipped} more not logged)") } else { String::new() };
    ctx.audit.log(
        "SNMP",
        Severity::Warning,
        "AUTHFAIL",
        "-",
        source,
        format!("SNMP request to {target} with an unknown community{more}"),
    );
}

/// The response to a decoded request against `mib`, within [`MAX_RESPONSE`]; None when even
/// a `tooBig` answer would not fit.
pub fn answer(mib: &MibView, msg: &Message) -> Option<Vec<u8>> {
    respond(mib, msg).map(|(a, _)| a)
}

/// [`answer`], and whether it is a `tooBig`.
fn respond(mib: &MibView, msg: &Message) -> Option<(Vec<u8>, bool)> {
    let req = &msg.pdu;
    let mut pdu = Pdu {
        kind: PduType::Response,
        request_id: req.request_id,
        error_status: error_status::NO_ERROR,
        error_index: 0,
        varbinds: Vec::new(),
    };
    match req.kind {
        PduType::Get => {
            pdu.varbinds = req.varbinds.iter().map(|(o, _)| (o.clone(), mib.get(o))).collect();
        }
        PduType::GetNext => {
            pdu.varbinds = req.varbinds.iter().map(|(o, _)| next_of(mib, o)).collect();
        }
        PduType::Set => {
            // Every object is read-only to every community: refuse the first varbind,
            // echo the request's varbinds (RFC 3416 §4.2.5), change nothing.
            pdu.error_status = error_status::NO_ACCESS;
            pdu.error_index = if req.varbinds.is_empty() { 0 } else { 1 };
            pdu.varbinds = req.varbinds.clone();
        }
        PduType::GetBulk => return get_bulk(mib, msg, pdu),
        _ => return None,
    }
    let out = Message { version: msg.version, community: msg.community.clone(), pdu }.encode();
    if out.len() <= MAX_RESPONSE {
        return Some((out, false));
    }
    too_big(msg)
}

/// GetNext of one name: the next instance, or the name itself with endOfMibView.
fn next_of(mib: &MibView, oid: &Oid) -> (Oid, Value) {
    match mib.next(oid) {
        Some((o, v)) => (o.clone(), v.clone()),
        None => (oid.clone(), Value::EndOfMibView),
    }
}

/// `tooBig` with no varbinds (RFC 3416 §4.2.1), if that fits.
fn too_big(msg: &Message) -> Option<(Vec<u8>, bool)> {
    let pdu = Pdu {
        kind: PduType::Response,
        request_id: msg.pdu.request_id,
        error_status: error_status::TOO_BIG,
        error_index: 0,
        varbinds: Vec::new(),
    };
    let out = Message { version: msg.version, community: msg.community.clone(), pdu }.encode();
    (out.len() <= MAX_RESPONSE).then_some((out, true))
}

/// GetBulk (RFC 3416 §4.2.3): GetNext for the first N (non-repeaters) names, then up to M
/// (max-repetitions) rounds of GetNext over the other R names, each round continuing from
/// the previous one's results. Varbinds are added while the message stays within
/// [`MAX_RESPONSE`]; rounds stop early once every repeater is past the end of the view.
fn get_bulk(mib: &MibView, msg: &Message, pdu: Pdu) -> Option<(Vec<u8>, bool)> {
    let req = &msg.pdu;
    let n = (req.error_status.max(0) as usize).min(req.varbinds.len());
    let m = req.error_index.max(0) as usize;
    let mut encoded = Vec::with_capacity(MAX_RESPONSE);
    let mut count = 0usize;
    // Adds one varbind if the message still fits; false when it does not.
    let mut push = |oid: &Oid, v: &Value, encoded: &mut Vec<u8>| -> bool {
        let before = encoded.len();
        ber::encode_varbind(encoded, oid, v);
        if ber::message_len(msg.version, &msg.community, &pdu, encoded.len()) > MAX_RESPONSE {
            encoded.truncate(before);
            return false;
        }
        count += 1;
        true
    };
    let mut full = false;
    for (oid, _) in &req.varbinds[..n] {
        let (o, v) = next_of(mib, oid);
        if !push(&o, &v, &mut encoded) {
            full = true;
            break;
        }
    }
    let mut cursor: Vec<Oid> = req.varbinds[n..].iter().map(|(o, _)| o.clone()).collect();
    let mut round = 0;
    while !full && round < m && !cursor.is_empty() {
        let mut all_ended = true;
        for c in cursor.iter_mut() {
            let (o, v) = next_of(mib, c);
            if v != Value::EndOfMibView {
                all_ended = false;
            }
            if !push(&o, &v, &mut encoded) {
                full = true;
                break;
            }
            *c = o;
        }
        round += 1;
        if all_ended {
            break;
        }
    }
    if count == 0 && !req.varbinds.is_empty() && (n > 0 || m > 0) {
        return too_big(msg);
    }
    Some((ber::encode_message(msg.version, &msg.community, &pdu, &encoded), false))
}

/// A running SNMP listener; call [`SnmpServer::stop`] to end it.
pub struct SnmpServer {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SnmpServer {
    /// The address the socket is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Stops the listener and waits for its thread (at most one receive timeout).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the listener waits for a datagram before looking at its stop flag.
const POLL: Duration = Duration::from_millis(200);

/// Binds UDP `addr` (e.g. `127.0.0.1:161`) and answers each datagram with
/// [`handle_request`] in [`SnmpScope::Management`] on its own thread.
pub fn spawn_snmp(ctx: Arc<ShellContext>, addr: &str) -> io::Result<SnmpServer> {
    let socket = UdpSocket::bind(addr)?;
    socket.set_read_timeout(Some(POLL))?;
    let local_addr = socket.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    ctx.snmp.listening.lock().unwrap_or_else(|e| e.into_inner()).push(local_addr);
    let thread = std::thread::Builder::new().name("snmp".into()).spawn(move || {
        let mut buf = vec![0u8; 65_536];
        while !stop2.load(Ordering::Relaxed) {
            let (n, from) = match socket.recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // ICMP errors of earlier answers surface here (ECONNREFUSED): keep going,
                    // without spinning should the socket keep failing.
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
            };
            let source = from.ip().to_string();
            if let Some(answer) = handle_request(&ctx, &buf[..n], &source, &SnmpScope::Management) {
                let _ = socket.send_to(&answer, from);
            }
        }
        ctx.snmp.listening.lock().unwrap_or_else(|e| e.into_inner()).retain(|a| *a != local_addr);
    })?;
    Ok(SnmpServer { local_addr, stop, thread: Some(thread) })
}

#[cfg(test)]
mod tests;
