//! Stage 7, egress: hands the frames of each egress port to the port's scheduler
//! ([`schedule::send`]: at once when the transmit ring has room, else through the port's
//! priority class queues), hands probe answers to the shell's probe in flight they answer,
//! management packets to their tenant's management queue and uplink ARP to the control plane's ARP queue, returns dropped frames to the free list, and
//! counts everything: per port tx, per tenant tx, per drop reason, per priority class.
//!
//! Priority under congestion (the order [`pick`] gives): platinum before gold before silver,
//! except that every 4th transmit slot goes to gold and every 8th to silver when they have
//! frames waiting (of any m frames a port sends, silver gets at least m/8 and gold at least
//! m/4 when they offer that much; platinum at most 5/8 of them while both wait). Within one
//! batch [`prioritize`] applies it to the frames a ring or shaper takes at once; across
//! batches the port's class queues apply it with a slot counter that survives them.
//! Frames of no tenant (substrate ARP, control) count as platinum.

use super::schedule::{self, QueueSlot, Shapers};
use super::{Batch, DropReason, Ingress, Verdict, BATCH, NO_TENANT};
use crate::port::Ports;
use crate::punt::{PortFrame, PuntQueues, QueuedFrame};
use crate::stats::{class_index, WorkerCounters, CLASSES};
use rib::{FibSnapshot, PortId, TenantId};
use std::time::Instant;

/// Sends (or queues in the port schedulers of `slot`), punts or recycles every frame of the
/// batch; the batch is empty afterwards.
#[allow(clippy::too_many_arguments)]
pub fn run<P: Ports>(
    shapers: &mut Shapers,
    slot: &mut QueueSlot,
    ports: &mut P,
    batch: &mut Batch<P::Desc>,
    fib: &FibSnapshot,
    punt: Option<&PuntQueues>,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    let n = batch.len;
    let port_count = ports.port_count();
    let mut recycle = [P::Desc::default(); BATCH];
    let mut n_recycle = 0;
    // Frames to transmit, in arrival order, with their ports and tenants.
    let mut out = [P::Desc::default(); BATCH];
    let mut port_of = [PortId(0); BATCH];
    let mut tenant_of = [NO_TENANT; BATCH];
    let mut k = 0;
    // Pass 1: drops and punts; unknown egress ports become drops.
    for i in 0..n {
        let verdict = batch.meta[i].verdict;
        let reason = match verdict {
            Verdict::Tx(p) if p.index() < port_count => {
                out[k] = batch.desc[i];
                port_of[k] = p;
                tenant_of[k] = batch.meta[i].tenant;
                k += 1;
                continue;
            }
            Verdict::Tx(_) => DropReason::EgressUnknown,
            // The shaper queue owns the frame now.
            Verdict::Queued => continue,
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
            Verdict::PuntMgmt => match punt {
                Some(q) => {
                    let m = &batch.meta[i];
                    match q.punt_mgmt(m.tenant, ports.data(&batch.desc[i]), m.l3_off as usize) {
                        Ok(()) => {
                            counters.mgmt_punted += 1;
                            recycle[n_recycle] = batch.desc[i];
                            n_recycle += 1;
                            continue;
                        }
                        Err(r) => r,
                    }
                }
                None => DropReason::MgmtQueueFull,
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
    // Pass 2: hand each port its frames.
    let q = schedule::queues_mut::<P::Desc>(slot);
    let (frames, port_of, tenant_of) = (&out[..k], &port_of[..k], &tenant_of[..k]);
    schedule::send_grouped(shapers, q, ports, fib, frames, port_of, tenant_of, counters, now);
    batch.len = 0;
}

/// The priority class of a frame of `tenant` (index into [`WorkerCounters::classes`]).
#[inline]
pub(crate) fn class_of(fib: &FibSnapshot, tenant: TenantId) -> u8 {
    if tenant == NO_TENANT {
        return 0;
    }
    fib.tenants.get(tenant.index()).map_or(CLASSES as u8 - 1, |t| class_index(t.service_level) as u8)
}

/// Which class takes transmit slot `slot` when classes `waiting` (one bit per class) have
/// frames: silver every 8th slot (7, 15, ...), gold every 4th (1, 5, 9, ...), else the
/// highest class waiting; a class with nothing waiting leaves its slot to the others.
#[inline]
pub(crate) fn pick(slot: usize, waiting: u8) -> usize {
    if slot % 8 == 7 && waiting & 0b100 != 0 {
        2
    } else if slot % 4 == 1 && waiting & 0b010 != 0 {
        1
    } else {
        waiting.trailing_zeros() as usize
    }
}

/// Reorders one port's frames (and their classes and tags) into transmit priority order;
/// frames of one class keep their arrival order. A single-class run (the common case) is
/// untouched.
pub(crate) fn prioritize<D: Copy + Default, T: Copy + Default>(
    frames: &mut [D],
    class: &mut [u8],
    tag: &mut [T],
) {
    let k = frames.len().min(class.len()).min(tag.len()).min(BATCH);
    let first = class.first().copied().unwrap_or(0);
    if class[..k].iter().all(|&c| c == first) {
        return;
    }
    let mut by_class = [[0u8; BATCH]; CLASSES];
    let mut count = [0usize; CLASSES];
    for (i, &c) in class[..k].iter().enumerate() {
        let c = (c as usize).min(CLASSES - 1);
        by_class[c][count[c]] = i as u8;
        count[c] += 1;
    }
    let orig = {
        let mut o = [D::default(); BATCH];
        o[..k].copy_from_slice(&frames[..k]);
        o
    };
    let orig_tag = {
        let mut o = [T::default(); BATCH];
        o[..k].copy_from_slice(&tag[..k]);
        o
    };
    let mut next = [0usize; CLASSES];
    for slot in 0..k {
        let waiting = (0..CLASSES).fold(0u8, |w, c| if next[c] < count[c] { w | 1 << c } else { w });
        let c = pick(slot, waiting).min(CLASSES - 1);
        let i = by_class[c][next[c]] as usize;
        next[c] += 1;
        frames[slot] = orig[i];
        tag[slot] = orig_tag[i];
        class[slot] = c as u8;
    }
}

pub(crate) fn transmit<P: Ports>(
    ports: &mut P,
    port: PortId,
    frames: &[P::Desc],
    class: &[u8],
    counters: &mut WorkerCounters,
) {
    if !ports.link_up(port) {
        // The port's device is missing or gone: the frames are dropped, not queued.
        ports.recycle(frames);
        counters.port_mut(port.index()).tx_dropped += frames.len() as u64;
        counters.drops[DropReason::EgressDown.index()] += frames.len() as u64;
        return;
    }
    let queued = ports.tx_burst(port, frames).min(frames.len());
    // Lengths come from our copies of the descriptors (plain values, not the frames).
    let mut bytes = 0u64;
    for (i, (d, &c)) in frames.iter().zip(class.iter()).enumerate() {
        let cc = &mut counters.classes[(c as usize).min(CLASSES - 1)];
        if i < queued {
            let len = ports.len(d) as u64;
            bytes += len;
            cc.tx_packets += 1;
            cc.tx_bytes += len;
        } else {
            cc.tx_dropped += 1;
        }
    }
    let pc = counters.port_mut(port.index());
    pc.tx_packets += queued as u64;
    pc.tx_bytes += bytes;
    let lost = (frames.len() - queued) as u64;
    if lost > 0 {
        pc.tx_dropped += lost;
        counters.drops[DropReason::TxRingFull.index()] += lost;
    }
}
