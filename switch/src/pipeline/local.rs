//! Stage 3, local: ARP. On access ports, a request for the port's gateway address is turned
//! into the reply "gateway_ip is at gateway_mac" in place and sent back on the ingress port
//! (the spoofed reply of the design: the router does not exist). A remote host's request
//! for its gateway, decapsulated on an uplink, is answered the same way and sent back
//! encapsulated on the tunnel of (tenant, node). Substrate ARP on an uplink: a request for
//! the uplink's own (VTEP) address is answered with the uplink MAC; every other ARP frame
//! there goes to the control plane ([`Verdict::PuntArp`]). Every other ARP frame is counted
//! and dropped. (ICMP echo to router addresses is answered in [`super::forward`] once the
//! lookup has said the destination is local.)

use super::{encap, Batch, DropReason, IngressCtx, Meta, Pipeline, Verdict, L3, NO_REMOTE};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{arp, ethernet};
use rib::fib::PortKind;
use rib::{FibSnapshot, MacAddr};
use std::net::Ipv4Addr;

/// Answers, punts or drops every pending ARP frame of the batch.
pub fn run<B: FrameBuf>(
    pl: &mut Pipeline,
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    ctx: &IngressCtx,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
) {
    for i in 0..batch.len {
        let m = &mut batch.meta[i];
        if !m.pending() || m.l3 != L3::Arp {
            continue;
        }
        let desc = &mut batch.desc[i];
        m.verdict = match *ctx {
            IngressCtx::Access { port, gateway_ip, gateway_mac, .. } => {
                match answer(buf.data_mut(desc), m, gateway_ip, gateway_mac) {
                    Ok(()) => {
                        counters.arp_replies += 1;
                        Verdict::Tx(port)
                    }
                    Err(r) => Verdict::Drop(r),
                }
            }
            IngressCtx::Uplink { .. } if m.remote != NO_REMOTE => {
                remote_arp(pl, buf, desc, m, &ctx.for_frame(m, fib), fib, counters)
                    .unwrap_or_else(Verdict::Drop)
            }
            IngressCtx::Uplink { port } => {
                let Some(PortKind::Uplink { address, mac, .. }) = fib.port(port).map(|p| &p.kind) else {
                    m.drop(DropReason::UnknownPort);
                    continue;
                };
                match answer(buf.data_mut(desc), m, *address, *mac) {
                    Ok(()) => {
                        counters.arp_replies += 1;
                        Verdict::Tx(port)
                    }
                    Err(DropReason::ArpMalformed) => Verdict::Drop(DropReason::ArpMalformed),
                    // Replies to the control plane's requests, neighbours' requests.
                    Err(_) => Verdict::PuntArp,
                }
            }
            _ => Verdict::Drop(DropReason::ArpIgnored),
        };
    }
}

/// A remote host's ARP (already checked by classify): a request for its gateway is answered
/// and encapsulated back to the host's node.
fn remote_arp<B: FrameBuf>(
    pl: &mut Pipeline,
    buf: &mut B,
    desc: &mut B::Desc,
    m: &Meta,
    ctx: &IngressCtx,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
) -> Result<Verdict, DropReason> {
    let IngressCtx::Remote { tenant, gateway_ip, gateway_mac, node, .. } = *ctx else {
        return Err(DropReason::ArpIgnored);
    };
    answer(buf.data_mut(desc), m, gateway_ip, gateway_mac)?;
    let tp = encap::resolve_to(fib, tenant, node)?;
    let vni = fib.tenants.get(tenant.index()).map(|t| t.vni).ok_or(DropReason::UnknownVni)?;
    let ident = pl.next_ident();
    encap::encapsulate(buf, desc, tp, vni, tenant, ident, counters)?;
    counters.arp_replies += 1;
    Ok(Verdict::Tx(tp.port))
}

/// Turns the ARP request in `data` for `ip` into the reply "`ip` is at `mac`" sent back to
/// the requester (Ethernet addresses included). `arp_ignored` for other operations,
/// `arp_not_for_us` for other targets.
fn answer(data: &mut [u8], m: &Meta, ip: Ipv4Addr, mac: MacAddr) -> Result<(), DropReason> {
    let off = m.l3_off as usize;
    let payload = data.get_mut(off..).ok_or(DropReason::ArpMalformed)?;
    let mut pkt = arp::Packet::new_checked(payload).map_err(|_| DropReason::ArpMalformed)?;
    if pkt.operation() != arp::OP_REQUEST {
        return Err(DropReason::ArpIgnored);
    }
    if pkt.target_proto_addr() != ip {
        return Err(DropReason::ArpNotForUs);
    }
    pkt.make_reply(mac, ip);
    let mut eth = ethernet::Frame::new_unchecked(&mut data[..]);
    eth.set_dst_addr(m.src_mac);
    eth.set_src_addr(mac);
    Ok(())
}
