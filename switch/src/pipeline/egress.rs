//! Stage 6, egress: transmits frames grouped by egress port (one `tx_burst` per port per
//! batch), pushes punted frames to the shell's punt queue, returns dropped frames to the free
//! list, and counts everything: per port tx, per tenant tx, per drop reason.

use super::{Batch, DropReason, Verdict, BATCH};
use crate::port::Ports;
use crate::punt::{PuntQueues, PuntedFrame, QueuedFrame};
use crate::stats::WorkerCounters;
use rib::{FibSnapshot, PortId};
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
    // Pass 1: drops and punts; unknown egress ports become drops.
    for i in 0..n {
        let verdict = batch.meta[i].verdict;
        let reason = match verdict {
            Verdict::Tx(p) if p.index() < port_count => continue,
            Verdict::Tx(_) => DropReason::EgressUnknown,
            Verdict::Drop(r) => r,
            Verdict::Pending => DropReason::Unhandled,
            Verdict::Punt => match punt {
                Some(q) => {
                    let frame = QueuedFrame::from_slice(ports.data(&batch.desc[i]));
                    if q.punt.push(PuntedFrame { at: now, frame }).is_ok() {
                        counters.punted += 1;
                        recycle[n_recycle] = batch.desc[i];
                        n_recycle += 1;
                        continue;
                    }
                    DropReason::PuntQueueFull
                }
                None => DropReason::PuntQueueFull,
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
    // Pass 2: transmit grouped by port, in arrival order within a port.
    let mut sent = [false; BATCH];
    let mut out = [P::Desc::default(); BATCH];
    for i in 0..n {
        let Verdict::Tx(port) = batch.meta[i].verdict else { continue };
        if sent[i] {
            continue;
        }
        let mut k = 0;
        let mut bytes = [0u32; BATCH];
        for (j, done) in sent.iter_mut().enumerate().take(n).skip(i) {
            if !*done && batch.meta[j].verdict == Verdict::Tx(port) {
                *done = true;
                out[k] = batch.desc[j];
                let len = ports.len(&batch.desc[j]) as u32;
                bytes[k] = len;
                let t = counters.tenant_mut(batch.meta[j].tenant.index());
                t.tx_packets += 1;
                t.tx_bytes += len as u64;
                k += 1;
            }
        }
        transmit(ports, port, &out[..k], &bytes[..k], counters);
    }
    batch.len = 0;
}

fn transmit<P: Ports>(
    ports: &mut P,
    port: PortId,
    frames: &[P::Desc],
    bytes: &[u32],
    counters: &mut WorkerCounters,
) {
    let queued = ports.tx_burst(port, frames).min(frames.len());
    let pc = counters.port_mut(port.index());
    pc.tx_packets += queued as u64;
    pc.tx_bytes += bytes[..queued].iter().map(|b| *b as u64).sum::<u64>();
    let lost = (frames.len() - queued) as u64;
    if lost > 0 {
        pc.tx_dropped += lost;
        counters.drops[DropReason::TxRingFull.index()] += lost;
    }
}
