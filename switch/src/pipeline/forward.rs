//! Stage 5, forward: acts on each frame's adjacency. Deliver: TTL minus the logical hops,
//! incremental IPv4 checksum, source MAC = last router's MAC, destination MAC = host MAC,
//! VLAN push/pop/rewrite for the egress port (moving only the MAC addresses). Encap: the
//! same on the inner frame (untagged), the tunnel's MTU (ICMP fragmentation needed for DF
//! packets, drop otherwise), then the outer headers in front ([`super::encap`]). Local: ICMP
//! echo answered from the router address (or, for answers to shell probes, punted). When the
//! TCP 23/22 and UDP 161 to a router address: punted to the tenant's management queue
//! ([`crate::mgmt`]) within the tenant's punt budget. When the
//! TTL runs out at hop i, ICMP time exceeded from that hop's address (hop 0 of an access
//! frame or of a remote host's frame: its gateway); lookup miss: net unreachable;
//! `Adjacency::Unreachable`: host unreachable; Blackhole: silent drop. Messages generated
//! for a frame from a remote host go back to it encapsulated on the tunnel of its node.

use super::icmp_error::{self, L2Out, NotSent};
use super::{encap, Batch, DropReason, IngressCtx, Meta, Pipeline, Verdict, L3, NO_ADJ};
use crate::port::FrameBuf;
use crate::punt;
use crate::stats::WorkerCounters;
use crate::wire::{ethernet, icmp, ipv4};
use rib::fib::HopPath;
use rib::{Adjacency, FibSnapshot, MacAddr, NodeId, PortId, TenantId, TunnelId};
use std::net::Ipv4Addr;
use std::time::Instant;

/// Code of "port unreachable" (answer to UDP sent to a router address, as traceroute -U expects).
const UNREACH_PORT: u8 = 3;
/// Code of "fragmentation needed and DF set" (RFC 1191: next-hop MTU in the low 16 bits).
const UNREACH_FRAG_NEEDED: u8 = 4;
/// IPv4 "don't fragment" flag in the flags/fragment-offset field.
const IP_DF: u16 = 0x4000;

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
        if m.prerouted {
            batch.meta[i].verdict = prerouted(pl, buf, &mut batch.desc[i], m, ctx, fib, counters, now);
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
        // On an uplink every frame has its own origin (remote host); elsewhere the batch's.
        let frame_ctx;
        let ctx = match ctx {
            IngressCtx::Uplink { .. } => {
                frame_ctx = ctx.for_frame(m, fib);
                &frame_ctx
            }
            _ => ctx,
        };
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
        let mut f = Frame { pl, buf, desc: &mut batch.desc[i], m, ctx, fib, counters, now };
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
                f.encap(*tunnel, *vni, *inner_src_mac, *inner_dst_mac, path)
            }
        };
        batch.meta[i].verdict = verdict;
    }
}

/// A frame a peer appliance already routed (see [`super::Meta::prerouted`]): delivered with
/// its TTL as it is when the lookup gives a local delivery whose MACs are the frame's, so
/// nothing but what this appliance would send itself gets through; anything else is forged.
#[allow(clippy::too_many_arguments)]
fn prerouted<B: FrameBuf>(
    pl: &mut Pipeline,
    buf: &mut B,
    desc: &mut B::Desc,
    m: &Meta,
    ctx: &IngressCtx,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) -> Verdict {
    let adj = if m.adj == NO_ADJ {
        None
    } else {
        fib.table(m.table).and_then(|t| t.adjacencies.get(m.adj as usize))
    };
    match adj {
        Some(Adjacency::Deliver { port, vlan, src_mac, dst_mac, .. })
            if *src_mac == m.src_mac && *dst_mac == m.dst_mac =>
        {
            let frame_ctx = ctx.for_frame(m, fib);
            let mut f = Frame { pl, buf, desc, m, ctx: &frame_ctx, fib, counters, now };
            f.deliver(fib, *port, *vlan, *src_mac, *dst_mac, &HopPath::EMPTY)
        }
        _ => Verdict::Drop(DropReason::VxlanForgedSource),
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
        IngressCtx::Access { gateway_ip, .. } | IngressCtx::Remote { gateway_ip, .. } if idx == 0 => {
            *gateway_ip
        }
        _ => path.addrs.get(idx).copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    Err(addr)
}

/// Where a message generated for a frame goes.
#[derive(Clone, Copy, Debug)]
enum Reply {
    /// Back out of this (access) port.
    Port(PortId),
    /// To the shell (answer to a probe).
    Punt,
    /// Encapsulated back to the remote host on the tunnel of (tenant, node).
    Tunnel { tenant: TenantId, node: NodeId },
}

/// One frame being decided, with everything its actions need.
struct Frame<'a, B: FrameBuf> {
    pl: &'a mut Pipeline,
    buf: &'a mut B,
    desc: &'a mut B::Desc,
    m: &'a Meta,
    ctx: &'a IngressCtx,
    fib: &'a FibSnapshot,
    counters: &'a mut WorkerCounters,
    now: Instant,
}

impl<B: FrameBuf> Frame<'_, B> {
    /// Source of unreachable errors: the ingress gateway, or for a probe the probe's source.
    fn origin_addr(&self) -> Ipv4Addr {
        match self.ctx {
            IngressCtx::Access { gateway_ip, .. } | IngressCtx::Remote { gateway_ip, .. } => *gateway_ip,
            _ => self.m.src,
        }
    }

    /// Where a message generated for this frame goes, and its (inner) link-layer header:
    /// back out of the access port, back over the tunnel to a remote host, or to the shell
    /// for probes. None for substrate frames that are not a remote host's.
    fn reply_route(&self) -> Option<(L2Out, Reply)> {
        match *self.ctx {
            IngressCtx::Access { port, gateway_mac, vlan, .. } => {
                Some((L2Out { dst_mac: self.m.src_mac, src_mac: gateway_mac, vlan }, Reply::Port(port)))
            }
            IngressCtx::Remote { tenant, node, gateway_mac, .. } => Some((
                L2Out { dst_mac: self.m.src_mac, src_mac: gateway_mac, vlan: None },
                Reply::Tunnel { tenant, node },
            )),
            IngressCtx::Router { .. } => {
                Some((L2Out { dst_mac: MacAddr::ZERO, src_mac: MacAddr::ZERO, vlan: None }, Reply::Punt))
            }
            _ => None,
        }
    }

    /// Sends the message now in the frame along `reply` (encapsulating it for a tunnel).
    fn send_reply(&mut self, reply: Reply) -> Result<Verdict, DropReason> {
        match reply {
            Reply::Port(p) => Ok(Verdict::Tx(p)),
            Reply::Punt => Ok(Verdict::Punt),
            Reply::Tunnel { tenant, node } => {
                let tp = encap::resolve_to(self.fib, tenant, node)?;
                let vni =
                    self.fib.tenants.get(tenant.index()).map(|t| t.vni).ok_or(DropReason::UnknownVni)?;
                let ident = self.pl.next_ident();
                encap::encapsulate(self.buf, self.desc, tp, vni, tenant, ident, self.counters)?;
                Ok(Verdict::Tx(tp.port))
            }
        }
    }

    /// Replaces the frame by an ICMP error from `src`; the frame counts under `reason`
    /// whether or not the error could be sent.
    fn error(&mut self, msg_type: u8, code: u8, src: Ipv4Addr, reason: DropReason) -> Verdict {
        self.error_with(msg_type, code, 0, src, reason)
    }

    /// [`error`](Self::error) with the ICMP header's second word (`rest`: e.g. the next-hop
    /// MTU of fragmentation needed).
    fn error_with(
        &mut self,
        msg_type: u8,
        code: u8,
        rest: u32,
        src: Ipv4Addr,
        reason: DropReason,
    ) -> Verdict {
        let Some((l2, reply)) = self.reply_route() else { return Verdict::Drop(reason) };
        if src.is_unspecified() {
            return Verdict::Drop(reason);
        }
        // Check before taking a token: errors RFC 1122 forbids must not drain the bucket.
        let allowed =
            self.buf.data(self.desc).get(self.m.l3_off as usize..).is_some_and(icmp_error::error_allowed);
        if !allowed {
            return Verdict::Drop(reason);
        }
        if !self.pl.icmp_take(self.m.tenant, self.now) {
            self.counters.icmp_rate_limited += 1;
            return Verdict::Drop(reason);
        }
        let ident = self.pl.next_ident();
        match icmp_error::build_error(self.buf, self.desc, self.m, msg_type, code, rest, src, l2, ident) {
            Ok(()) => match self.send_reply(reply) {
                Ok(verdict) => {
                    self.counters.icmp_errors += 1;
                    self.counters.count_drop(reason);
                    verdict
                }
                // The frame is an ICMP error now; it still counts as the original drop.
                Err(_) => Verdict::Drop(reason),
            },
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
        let Some((l2, reply)) = self.reply_route() else {
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
                        return match self.send_reply(reply) {
                            Ok(verdict) => {
                                self.counters.echo_replies += 1;
                                verdict
                            }
                            Err(r) => Verdict::Drop(r),
                        };
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
            ipv4::protocol::TCP | ipv4::protocol::UDP if self.is_mgmt() => {
                if self.pl.mgmt_take(self.m.tenant, self.now) {
                    Verdict::PuntMgmt
                } else {
                    Verdict::Drop(DropReason::MgmtRateLimited)
                }
            }
            ipv4::protocol::UDP => {
                let from = self.m.dst;
                self.error(icmp::msg::DEST_UNREACHABLE, UNREACH_PORT, from, DropReason::LocalUnsupported)
            }
            _ => Verdict::Drop(DropReason::LocalUnsupported),
        }
    }

    /// True when the frame is in-band management traffic from a tenant host (access port or
    /// remote host; never a packet the management side injected itself): TCP to port 23/22
    /// or UDP to port 161, first fragment.
    fn is_mgmt(&self) -> bool {
        if !self.pl.mgmt_enabled || !matches!(self.ctx, IngressCtx::Access { .. } | IngressCtx::Remote { .. })
        {
            return false;
        }
        let off = self.m.l3_off as usize;
        let data = self.buf.data(self.desc);
        let Some(ipb) = data.get(off..) else { return false };
        let Ok(ip) = ipv4::Packet::new_checked(ipb) else { return false };
        if ip.is_later_fragment() {
            return false;
        }
        let l4 = off + ip.header_len() as usize;
        match data.get(l4 + 2..l4 + 4) {
            Some(p) => crate::mgmt::is_mgmt_port(self.m.proto, u16::from_be_bytes([p[0], p[1]])),
            None => false,
        }
    }

    /// VXLAN toward a host on another node: substrate path, TTL per logical hop, the tunnel
    /// MTU, inner MACs (untagged), then the outer headers in the headroom.
    fn encap(
        &mut self,
        tunnel: TunnelId,
        vni: u32,
        inner_src_mac: MacAddr,
        inner_dst_mac: MacAddr,
        path: &HopPath,
    ) -> Verdict {
        let tp = match encap::resolve(self.fib, tunnel) {
            Ok(tp) => *tp,
            Err(r) => return Verdict::Drop(r),
        };
        let ttl = match ttl_check(self.ctx, self.m.ttl, path) {
            Ok(t) => t,
            Err(at) => return self.time_exceeded(at),
        };
        if let Err(r) = egress_up(self.fib, tp.port) {
            return Verdict::Drop(r);
        }
        let off = self.m.l3_off as usize;
        let Some(ip) = self.buf.data(self.desc).get(off..off + ipv4::HEADER_LEN) else {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        };
        let ip = ipv4::Packet::new_unchecked(ip);
        if ip.total_len() > tp.inner_mtu {
            if ip.flags_frag() & IP_DF == 0 {
                return Verdict::Drop(DropReason::TooBig);
            }
            let src = self.origin_addr();
            return self.error_with(
                icmp::msg::DEST_UNREACHABLE,
                UNREACH_FRAG_NEEDED,
                tp.inner_mtu as u32,
                src,
                DropReason::FragNeeded,
            );
        }
        if !set_ttl(self.buf.data_mut(self.desc), off, ttl) {
            return Verdict::Drop(DropReason::Ipv4Malformed);
        }
        if let Err(r) = rewrite_l2(self.buf, self.desc, self.m.vlan, None, inner_src_mac, inner_dst_mac) {
            return Verdict::Drop(r);
        }
        let ident = self.pl.next_ident();
        match encap::encapsulate(self.buf, self.desc, &tp, vni, self.m.tenant, ident, self.counters) {
            Ok(()) => Verdict::Tx(tp.port),
            Err(r) => Verdict::Drop(r),
        }
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

/// Writes the MACs and makes the 802.1Q tag match `out_vlan`: rewrite in place, push (the
/// packet start moves 4 bytes back into the headroom) or pop (it moves 4 bytes forward);
/// only the 12 MAC bytes move, and they are overwritten anyway.
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
        (None, Some(v)) => vlan_push(buf, desc, v)?,
        (Some(_), None) => vlan_pop(buf, desc)?,
    }
    let data = buf.data_mut(desc);
    if data.len() < ethernet::HEADER_LEN {
        return Err(DropReason::Truncated);
    }
    data[0..6].copy_from_slice(&dst_mac.0);
    data[6..12].copy_from_slice(&src_mac.0);
    Ok(())
}

/// Inserts an 802.1Q tag with `vid` after the MAC addresses by moving them 4 bytes into the
/// headroom (`no_headroom` without room).
pub(crate) fn vlan_push<B: FrameBuf>(buf: &mut B, desc: &mut B::Desc, vid: u16) -> Result<(), DropReason> {
    const TAG: usize = ethernet::VLAN_TAG_LEN;
    if buf.len(desc) < ethernet::HEADER_LEN {
        return Err(DropReason::Truncated);
    }
    if !buf.adjust_head(desc, -(TAG as isize)) {
        return Err(DropReason::NoHeadroom);
    }
    let data = buf.data_mut(desc);
    data.copy_within(TAG..TAG + 12, 0);
    data[12..14].copy_from_slice(&ethernet::ethertype::VLAN.to_be_bytes());
    data[14..16].copy_from_slice(&(vid & 0x0fff).to_be_bytes());
    Ok(())
}

/// Removes the 802.1Q tag by moving the MAC addresses 4 bytes forward over it
/// (`vlan_mismatch` when the frame is not tagged).
pub(crate) fn vlan_pop<B: FrameBuf>(buf: &mut B, desc: &mut B::Desc) -> Result<(), DropReason> {
    const TAG: usize = ethernet::VLAN_TAG_LEN;
    let data = buf.data_mut(desc);
    if data.len() < ethernet::HEADER_LEN + TAG || data[12..14] != ethernet::ethertype::VLAN.to_be_bytes() {
        return Err(DropReason::VlanMismatch);
    }
    data.copy_within(0..12, TAG);
    if !buf.adjust_head(desc, TAG as isize) {
        return Err(DropReason::VlanMismatch);
    }
    Ok(())
}
