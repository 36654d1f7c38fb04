//! Stage 6, egress: transmits frames grouped by egress port (one `tx_burst` per port per
//! batch), hands probe answers to the shell's probe in flight they answer and uplink ARP to the control
//! plane's ARP queue, returns dropped frames to the free list, and counts everything: per
//! port tx, per tenant tx, per drop reason.

use super::{Batch, DropReason, Ingress, Verdict, BATCH};
use crate::port::Ports;
use crate::punt::{PortFrame, PuntQueues, QueuedFrame};
use crate::stats::WorkerCounters;
use rib::{FibSnapshot, PortId, TenantId};
use std::time::Instant;

/// Sends, punts or recycles every frame of the batch; the batch is empty afterwards.
pub fn run<P: Ports>(
    ports: &mut P,
    batch: &mut Batch<P::Desc>,
    _fib: &FibSnapshot,
    punt: Option<&PuntQueues>,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    let n = batch.len;
    let port_count = ports.port_count();
    let mut recycle = [P::Desc::default(); BATCH];
    let mut n_recycle = 0;
    // Frames still to transmit, one bit per frame (BATCH fits in 64 bits).
    let mut to_send: u64 = 0;
    // Pass 1: drops and punts; unknown egress ports become drops.
    for i in 0..n {
        let verdict = batch.meta[i].verdict;
        let reason = match verdict {
            Verdict::Tx(p) if p.index() < port_count => {
                to_send |= 1 << i;
                continue;
            }
            Verdict::Tx(_) => DropReason::EgressUnknown,
            Verdict::Drop(r) => r,
            Verdict::Pending => DropReason::Unhandled,
            Verdict::Punt => match punt {
                Some(q) => {
                    // Only to the probe in flight it answers (tenant, router address, ident).
                    if q.punt_answer(batch.meta[i].tenant, ports.data(&batch.desc[i]), now) {
                        counters.punted += 1;
                        recycle[n_recycle] = batch.desc[i];
                        n_recycle += 1;
                        continue;
                    }
                    DropReason::PuntNotProbe
                }
                None => DropReason::PuntQueueFull,
            },
            Verdict::PuntArp => match (punt, batch.ingress) {
                (Some(q), Ingress::Port(port)) => {
                    let frame = QueuedFrame::from_slice(ports.data(&batch.desc[i]));
                    if q.arp.push(PortFrame { port, frame }).is_ok() {
                        counters.arp_punted += 1;
                        recycle[n_recycle] = batch.desc[i];
                        n_recycle += 1;
                        continue;
                    }
                    DropReason::ArpQueueFull
                }
                _ => DropReason::ArpQueueFull,
            },
        };
        counters.count_drop(reason);
        recycle[n_recycle] = batch.desc[i];
        n_recycle += 1;
        batch.meta[i].verdict = Verdict::Drop(reason);
    }
    if n_recycle > 0 {
        ports.recycle(&recycle[..n_recycle]);
    }
    // Pass 2: transmit grouped by port (the port of the first frame left, then the next),
    // in arrival order within a port.
    let mut out = [P::Desc::default(); BATCH];
    while to_send != 0 {
        let first = to_send.trailing_zeros() as usize;
        let Verdict::Tx(port) = batch.meta[first].verdict else {
            to_send &= !(1 << first);
            continue;
        };
        let mut k = 0;
        let mut rest = to_send;
        // Per-tenant tx counts are summed over runs of frames of one tenant.
        let mut run = (batch.meta[first].tenant, 0u64, 0u64);
        while rest != 0 {
            let j = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let m = &batch.meta[j];
            if m.verdict == Verdict::Tx(port) {
                to_send &= !(1 << j);
                out[k] = batch.desc[j];
                if m.tenant != run.0 {
                    add_tenant_tx(counters, run);
                    run = (m.tenant, 0, 0);
                }
                run.1 += 1;
                run.2 += ports.len(&batch.desc[j]) as u64;
                k += 1;
            }
        }
        add_tenant_tx(counters, run);
        transmit(ports, port, &out[..k], counters);
    }
    batch.len = 0;
}

// The transmit bit mask of pass 2 has one bit per frame.
const _: () = assert!(BATCH <= 64);

#[inline]
fn add_tenant_tx(counters: &mut WorkerCounters, (tenant, packets, bytes): (TenantId, u64, u64)) {
    if tenant == super::NO_TENANT {
        return;
    }
    let t = counters.tenant_mut(tenant.index());
    t.tx_packets += packets;
    t.tx_bytes += bytes;
}

fn transmit<P: Ports>(ports: &mut P, port: PortId, frames: &[P::Desc], counters: &mut WorkerCounters) {
    if !ports.link_up(port) {
        // The port's device is missing or gone: the frames are dropped, not queued.
        ports.recycle(frames);
        counters.port_mut(port.index()).tx_dropped += frames.len() as u64;
        counters.drops[DropReason::EgressDown.index()] += frames.len() as u64;
        return;
    }
    let queued = ports.tx_burst(port, frames).min(frames.len());
    // Lengths come from our copies of the descriptors (plain values, not the frames).
    let bytes: u64 = frames[..queued].iter().map(|d| ports.len(d) as u64).sum();
    let pc = counters.port_mut(port.index());
    pc.tx_packets += queued as u64;
    pc.tx_bytes += bytes;
    let lost = (frames.len() - queued) as u64;
    if lost > 0 {
        pc.tx_dropped += lost;
        counters.drops[DropReason::TxRingFull.index()] += lost;
    }
}
