//! Stage 5, forward: acts on each frame's adjacency. Deliver: TTL minus the logical hops,
//! incremental IPv4 checksum, source MAC = last router's MAC, destination MAC = host MAC,
//! VLAN push/pop/rewrite for the egress port. Encap: the same on the inner frame, then a
//! VXLAN header in front. Local: ICMP echo answered from the router address (or, for answers
//! to shell probes, punted). When the TTL runs out at hop i, ICMP time exceeded from that
//! hop's address (hop 0 of an access frame: the port's gateway); lookup miss: net
//! unreachable; `Adjacency::Unreachable`: host unreachable; Blackhole: silent drop.

use super::icmp_error::{self, L2Out, NotSent};
use super::{Batch, DropReason, IngressCtx, Meta, Pipeline, Verdict, L3, NO_ADJ};
use crate::port::FrameBuf;
use crate::punt;
use crate::stats::WorkerCounters;
use crate::wire::{ethernet, icmp, ipv4, udp, vxlan};
use rib::fib::HopPath;
use rib::{Adjacency, FibSnapshot, MacAddr, PortId};
use std::net::Ipv4Addr;
use std::time::Instant;

/// Code of "port unreachable" (answer to UDP sent to a router address, as traceroute -U expects).
const UNREACH_PORT: u8 = 3;

/// Decides every pending IPv4 frame.
pub fn run<B: FrameBuf>(
    pl: &mut Pipeline,
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    ctx: &IngressCtx,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    // The table of the previous frame (a batch from one access port uses one table).
    let mut cached: Option<(rib::TableId, Option<&rib::fib::RouterTable>)> = None;
    // The last fast-path rewrite: the next frame with the same table, adjacency and TTL
    // (untagged) gets the same one (`ctx` and `fib` are fixed for the batch).
    let mut last: Option<Rewrite> = None;
    for i in 0..batch.len {
        let m = &batch.meta[i];
        if !m.pending() {
            continue;
        }
        if m.l3 != L3::Ipv4 {
            batch.meta[i].drop(DropReason::UnknownEthertype);
            continue;
        }
        if let (Some(r), None) = (&last, m.vlan) {
            if r.adj == m.adj && r.table == m.table && r.ttl_in == m.ttl {
                batch.meta[i].verdict = r.apply(buf, &batch.desc[i], m.l3_off as usize);
                continue;
            }
        }
        let table = match cached {
            Some((id, t)) if id == m.table => t,
            _ => {
                let t = fib.table(m.table);
                cached = Some((m.table, t));
                t
            }
        };
        let adj = if m.adj == NO_ADJ { None } else { table.and_then(|t| t.adjacencies.get(m.adj as usize)) };
        // Fast path of the common case: untagged in, untagged out, TTL not running out.
        if let (Some(Adjacency::Deliver { port, vlan: None, src_mac, dst_mac, path }), None) = (adj, m.vlan) {
            match untagged_rewrite(m, ctx, fib, *port, *src_mac, *dst_mac, path) {
                Some(Ok(r)) => {
                    batch.meta[i].verdict = r.apply(buf, &batch.desc[i], m.l3_off as usize);
                    last = Some(r);
                    continue;
                }
                Some(Err(reason)) => {
                    batch.meta[i].verdict = Verdict::Drop(reason);
                    continue;
                }
                None => {}
            }
        }
        let mut f = Frame { pl, buf, desc: &mut batch.desc[i], m, ctx, counters, now };
        let verdict = match adj {
            None => {
                let src = f.origin_addr();
                f.error(icmp::msg::DEST_UNREACHABLE, icmp::unreach::NET, src, DropReason::NoRoute)
            }
            Some(Adjacency::Unreachable) => {
                let src = f.origin_addr();
                f.error(icmp::msg::DEST_UNREACHABLE, icmp::unreach::HOST, src, DropReason::HostUnreachable)
            }
            Some(Adjacency::Blackhole) => Verdict::Drop(DropReason::Blackhole),
            Some(Adjacency::Deliver { port, vlan, src_mac, dst_mac, path }) => {
                f.deliver(fib, *port, *vlan, *src_mac, *dst_mac, path)
            }
            Some(Adjacency::Local { path, .. }) => f.local(path),
            Some(Adjacency::Encap { tunnel, vni, inner_src_mac, inner_dst_mac, path }) => {
                match fib.tunnel(*tunnel).and_then(|t| t.path) {
                    // Not resolved yet or no substrate path: dropped (the control plane
                    // resolves and republishes).
                    Some(tp) if tp.dst_mac.is_some() => f.encap(
                        fib,
                        &EncapParams {
                            port: tp.port,
                            vni: *vni,
                            local_ip: tp.local_ip,
                            remote_ip: tp.remote_ip,
                            outer_src_mac: tp.src_mac,
                            outer_dst_mac: tp.dst_mac.unwrap_or(MacAddr::ZERO),
                            inner_src_mac: *inner_src_mac,
                            inner_dst_mac: *inner_dst_mac,
                        },
                        path,
                    ),
                    _ => Verdict::Drop(DropReason::HostUnreachable),
                }
            }
        };
        batch.meta[i].verdict = verdict;
    }
}

/// [`Frame::deliver`] for an untagged frame leaving untagged, decided once per (table,
/// adjacency, TTL) and applied in one pass over the frame bytes.
#[derive(Clone, Copy, Debug)]
struct Rewrite {
    table: rib::TableId,
    adj: u32,
    ttl_in: u8,
    ttl: u8,
    port: PortId,
    src_mac: MacAddr,
    dst_mac: MacAddr,
}

impl Rewrite {
    /// New TTL (incremental checksum) and MACs; the checks and verdicts of `Frame::deliver`.
    #[inline(always)]
    fn apply<B: FrameBuf>(&self, buf: &mut B, desc: &B::Desc, off: usize) -> Verdict {
        let data = buf.data_mut(desc);
        let Some(ip) = data.get_mut(off..off + ipv4::HEADER_LEN) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        ipv4::Packet::new_unchecked(ip).set_ttl_update_checksum(self.ttl);
        let Some(macs) = data.get_mut(..ethernet::HEADER_LEN) else {
            return Verdict::Drop(DropReason::Truncated);
        };
        macs[0..6].copy_from_slice(&self.dst_mac.0);
        macs[6..12].copy_from_slice(&self.src_mac.0);
        Verdict::Tx(self.port)
    }
}

/// Decides the untagged Deliver fast path: None when the TTL runs out (the caller then
/// takes the general path, which answers with ICMP time exceeded), Err when the egress port
/// is down or unknown.
#[inline(always)]
fn untagged_rewrite(
    m: &Meta,
    ctx: &IngressCtx,
    fib: &FibSnapshot,
    port: PortId,
    src_mac: MacAddr,
    dst_mac: MacAddr,
    path: &HopPath,
) -> Option<Result<Rewrite, DropReason>> {
    let ttl = ttl_check(ctx, m.ttl, path).ok()?;
    if let Err(r) = egress_up(fib, port) {
        return Some(Err(r));
    }
    Some(Ok(Rewrite { table: m.table, adj: m.adj, ttl_in: m.ttl, ttl, port, src_mac, dst_mac }))
}

/// The TTL rule of the design: with `hops` logical routers to cross, a frame whose TTL is at
/// most `hops` expires at hop `ttl - 1` (Err: that hop's address); otherwise it leaves with
/// `ttl - hops`. A probe originated by router R does not count R (the path's first hop).
#[inline]
pub fn ttl_check(ctx: &IngressCtx, ttl: u8, path: &HopPath) -> Result<u8, Ipv4Addr> {
    let skip = match ctx {
        IngressCtx::Router { router, .. } if path.len > 0 && path.routers[0] == *router => 1u8,
        _ => 0,
    };
    let hops = path.len.saturating_sub(skip);
    if hops == 0 {
        return Ok(ttl);
    }
    if ttl > hops {
        return Ok(ttl - hops);
    }
    let idx = (skip + ttl.saturating_sub(1)) as usize;
    let addr = match ctx {
        IngressCtx::Access { gateway_ip, .. } if idx == 0 => *gateway_ip,
        _ => path.addrs.get(idx).copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    Err(addr)
}

struct EncapParams {
    port: PortId,
    vni: u32,
    local_ip: Ipv4Addr,
    remote_ip: Ipv4Addr,
    outer_src_mac: MacAddr,
    outer_dst_mac: MacAddr,
    inner_src_mac: MacAddr,
    inner_dst_mac: MacAddr,
}

/// One frame being decided, with everything its actions need.
struct Frame<'a, B: FrameBuf> {
    pl: &'a mut Pipeline,
    buf: &'a mut B,
    desc: &'a mut B::Desc,
    m: &'a Meta,
    ctx: &'a IngressCtx,
    counters: &'a mut WorkerCounters,
    now: Instant,
}

impl<B: FrameBuf> Frame<'_, B> {
    /// Source of unreachable errors: the ingress gateway, or for a probe the probe's source.
    fn origin_addr(&self) -> Ipv4Addr {
        match self.ctx {
            IngressCtx::Access { gateway_ip, .. } => *gateway_ip,
            _ => self.m.src,
        }
    }

    /// Where a message generated for this frame goes: back out of the access port, or to the
    /// shell for probes. None on uplinks (no ICMP toward the substrate).
    fn reply_route(&self) -> Option<(L2Out, Verdict)> {
        match *self.ctx {
            IngressCtx::Access { port, gateway_mac, vlan, .. } => {
                Some((L2Out { dst_mac: self.m.src_mac, src_mac: gateway_mac, vlan }, Verdict::Tx(port)))
            }
            IngressCtx::Router { .. } => {
                Some((L2Out { dst_mac: MacAddr::ZERO, src_mac: MacAddr::ZERO, vlan: None }, Verdict::Punt))
            }
            _ => None,
        }
    }

    /// Replaces the frame by an ICMP error from `src`; the frame counts under `reason`
    /// whether or not the error could be sent.
    fn error(&mut self, msg_type: u8, code: u8, src: Ipv4Addr, reason: DropReason) -> Verdict {
        let Some((l2, verdict)) = self.reply_route() else { return Verdict::Drop(reason) };
        if src.is_unspecified() {
            return Verdict::Drop(reason);
        }
        // Check before taking a token: errors RFC 1122 forbids must not drain the bucket.
        let allowed =
            self.buf.data(self.desc).get(self.m.l3_off as usize..).is_some_and(icmp_error::error_allowed);
        if !allowed {
            return Verdict::Drop(reason);
        }
        if !self.pl.icmp_limit.take(self.now) {
            self.counters.icmp_rate_limited += 1;
            return Verdict::Drop(reason);
        }
        let ident = self.pl.next_ident();
        match icmp_error::build_error(self.buf, self.desc, self.m, msg_type, code, src, l2, ident) {
            Ok(()) => {
                self.counters.icmp_errors += 1;
                self.counters.count_drop(reason);
                verdict
            }
            Err(NotSent::Forbidden) => Verdict::Drop(reason),
            Err(NotSent::NoRoom) => Verdict::Drop(DropReason::NoHeadroom),
        }
    }

    fn time_exceeded(&mut self, at: Ipv4Addr) -> Verdict {
        self.error(icmp::msg::TIME_EXCEEDED, 0, at, DropReason::TtlExceeded)
    }

    fn deliver(
        &mut self,
        fib: &FibSnapshot,
        port: PortId,
        vlan: Option<u16>,
        src_mac: MacAddr,
        dst_mac: MacAddr,
        path: &HopPath,
    ) -> Verdict {
        let ttl = match ttl_check(self.ctx, self.m.ttl, path) {
            Ok(t) => t,
            Err(at) => return self.time_exceeded(at),
        };
        if let Err(r) = egress_up(fib, port) {
            return Verdict::Drop(r);
        }
        if !set_ttl(self.buf.data_mut(self.desc), self.m.l3_off as usize, ttl) {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        }
        match rewrite_l2(self.buf, self.desc, self.m.vlan, vlan, src_mac, dst_mac) {
            Ok(()) => Verdict::Tx(port),
            Err(r) => Verdict::Drop(r),
        }
    }

    fn local(&mut self, path: &HopPath) -> Verdict {
        let ttl = match ttl_check(self.ctx, self.m.ttl, path) {
            Ok(t) => t,
            Err(at) => return self.time_exceeded(at),
        };
        let Some((l2, verdict)) = self.reply_route() else {
            return Verdict::Drop(DropReason::LocalUnsupported);
        };
        let off = self.m.l3_off as usize;
        match self.m.proto {
            ipv4::protocol::ICMP => {
                let is_request = {
                    let data = self.buf.data(self.desc);
                    let ip = ipv4::Packet::new_unchecked(data.get(off..).unwrap_or(&[]));
                    let icmp_at = off + ip.header_len() as usize;
                    data.get(icmp_at) == Some(&icmp::msg::ECHO_REQUEST)
                };
                if is_request {
                    let ident = self.pl.next_ident();
                    let from = self.m.dst;
                    if icmp_error::echo_reply(self.buf.data_mut(self.desc), off, from, l2, ident) {
                        self.counters.echo_replies += 1;
                        return verdict;
                    }
                    return Verdict::Drop(DropReason::LocalUnsupported);
                }
                let answers = self.buf.data(self.desc).get(off..).is_some_and(punt::answers_probe);
                if answers {
                    // As received by the router: after the routers crossed on the way.
                    set_ttl(self.buf.data_mut(self.desc), off, ttl);
                    Verdict::Punt
                } else {
                    Verdict::Drop(DropReason::PuntNotProbe)
                }
            }
            ipv4::protocol::UDP => {
                let from = self.m.dst;
                self.error(icmp::msg::DEST_UNREACHABLE, UNREACH_PORT, from, DropReason::LocalUnsupported)
            }
            _ => Verdict::Drop(DropReason::LocalUnsupported),
        }
    }

    fn encap(&mut self, fib: &FibSnapshot, e: &EncapParams, path: &HopPath) -> Verdict {
        let ttl = match ttl_check(self.ctx, self.m.ttl, path) {
            Ok(t) => t,
            Err(at) => return self.time_exceeded(at),
        };
        if let Err(r) = egress_up(fib, e.port) {
            return Verdict::Drop(r);
        }
        if !set_ttl(self.buf.data_mut(self.desc), self.m.l3_off as usize, ttl) {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        }
        if let Err(r) = rewrite_l2(self.buf, self.desc, self.m.vlan, None, e.inner_src_mac, e.inner_dst_mac) {
            return Verdict::Drop(r);
        }
        let len = self.buf.len(self.desc);
        let new_len = len + vxlan::ENCAP_LEN;
        if new_len > u16::MAX as usize || !self.buf.set_len(self.desc, new_len) {
            return Verdict::Drop(DropReason::NoHeadroom);
        }
        let ident = self.pl.next_ident();
        let flow = u32::from(self.m.src) ^ u32::from(self.m.dst).rotate_left(16) ^ self.m.proto as u32;
        let src_port = 49152 | ((flow ^ (flow >> 16)) as u16 & 0x3fff);
        let data = self.buf.data_mut(self.desc);
        if data.len() < new_len {
            return Verdict::Drop(DropReason::NoHeadroom);
        }
        data.copy_within(0..len, vxlan::ENCAP_LEN);
        icmp_error::write_l2(data, L2Out { dst_mac: e.outer_dst_mac, src_mac: e.outer_src_mac, vlan: None });
        let ip_at = ethernet::HEADER_LEN;
        let udp_at = ip_at + ipv4::HEADER_LEN;
        let vx_at = udp_at + udp::HEADER_LEN;
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut data[ip_at..]);
            ip.init_header((new_len - ip_at) as u16, ident, 64, ipv4::protocol::UDP, e.local_ip, e.remote_ip);
            ip.fill_checksum();
        }
        {
            let mut u = udp::Packet::new_unchecked(&mut data[udp_at..]);
            u.set_src_port(src_port);
            u.set_dst_port(vxlan::UDP_PORT);
            u.set_len((new_len - udp_at) as u16);
            u.set_checksum(0);
        }
        vxlan::Packet::new_unchecked(&mut data[vx_at..]).init(e.vni);
        self.counters.encapsulated += 1;
        Verdict::Tx(e.port)
    }
}

fn egress_up(fib: &FibSnapshot, port: PortId) -> Result<(), DropReason> {
    match fib.port(port) {
        Some(p) if p.up => Ok(()),
        Some(_) => Err(DropReason::EgressDown),
        None => Err(DropReason::EgressUnknown),
    }
}

/// Sets the TTL of the IPv4 header at `off`, updating the checksum incrementally.
#[inline]
fn set_ttl(data: &mut [u8], off: usize, ttl: u8) -> bool {
    match data.get_mut(off..) {
        Some(ip) if ip.len() >= ipv4::HEADER_LEN => {
            ipv4::Packet::new_unchecked(ip).set_ttl_update_checksum(ttl);
            true
        }
        _ => false,
    }
}

/// Writes the MACs and makes the 802.1Q tag match `out_vlan` (push, pop or rewrite).
#[inline]
fn rewrite_l2<B: FrameBuf>(
    buf: &mut B,
    desc: &mut B::Desc,
    in_vlan: Option<u16>,
    out_vlan: Option<u16>,
    src_mac: MacAddr,
    dst_mac: MacAddr,
) -> Result<(), DropReason> {
    match (in_vlan, out_vlan) {
        (None, None) => {}
        (Some(_), Some(v)) => ethernet::Frame::new_unchecked(buf.data_mut(desc)).set_vlan(v),
        (None, Some(v)) => {
            let len = buf.len(desc);
            if !buf.set_len(desc, len + ethernet::VLAN_TAG_LEN) {
                return Err(DropReason::NoHeadroom);
            }
            if ethernet::vlan_push(buf.data_mut(desc), len, v).is_none() {
                buf.set_len(desc, len);
                return Err(DropReason::NoHeadroom);
            }
        }
        (Some(_), None) => {
            let len = buf.len(desc);
            match ethernet::vlan_pop(buf.data_mut(desc), len) {
                Some(n) => {
                    buf.set_len(desc, n);
                }
                None => return Err(DropReason::VlanMismatch),
            }
        }
    }
    let data = buf.data_mut(desc);
    if data.len() < ethernet::HEADER_LEN {
        return Err(DropReason::Truncated);
    }
    data[0..6].copy_from_slice(&dst_mac.0);
    data[6..12].copy_from_slice(&src_mac.0);
    Ok(())
}
