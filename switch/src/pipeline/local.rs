//! Stage 3, local: ARP on access ports. A request for the port's gateway address is turned
//! into the reply "gateway_ip is at gateway_mac" in place and sent back on the ingress port
//! (the spoofed reply of the design: the router does not exist). Every other ARP frame is
//! counted and dropped. (ICMP echo to router addresses is answered in [`super::forward`]
//! once the lookup has said the destination is local.)

use super::{Batch, DropReason, IngressCtx, Verdict, L3};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{arp, ethernet};

/// Answers or drops every pending ARP frame of the batch.
pub fn run<B: FrameBuf>(
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    ctx: &IngressCtx,
    counters: &mut WorkerCounters,
) {
    for i in 0..batch.len {
        let m = &mut batch.meta[i];
        if !m.pending() || m.l3 != L3::Arp {
            continue;
        }
        let IngressCtx::Access { port, gateway_ip, gateway_mac, .. } = *ctx else {
            m.drop(DropReason::ArpIgnored);
            continue;
        };
        let data = buf.data_mut(&batch.desc[i]);
        let off = m.l3_off as usize;
        let Some(payload) = data.get_mut(off..) else {
            m.drop(DropReason::ArpMalformed);
            continue;
        };
        let Ok(mut pkt) = arp::Packet::new_checked(payload) else {
            m.drop(DropReason::ArpMalformed);
            continue;
        };
        if pkt.operation() != arp::OP_REQUEST {
            m.drop(DropReason::ArpIgnored);
            continue;
        }
        if pkt.target_proto_addr() != gateway_ip {
            m.drop(DropReason::ArpNotForUs);
            continue;
        }
        pkt.make_reply(gateway_mac, gateway_ip);
        let mut eth = ethernet::Frame::new_unchecked(&mut data[..]);
        eth.set_dst_addr(m.src_mac);
        eth.set_src_addr(gateway_mac);
        m.verdict = Verdict::Tx(port);
        counters.arp_replies += 1;
    }
}
