//! Stage 6, schedule: the shapers and the per-port priority scheduler of one worker.
//!
//! - **Shapers**: integer token buckets, VPP-policer style — the egress port's
//!   `traffic-shape` and the tenant's service-level rate (`rate_mbps`). Buckets refill lazily
//!   from the `now` the caller passes (monotonic clock), count L2 bytes as transmitted, save
//!   at most `burst_bytes` (never under one frame; the burst is not added to the rate).
//! - **Tenant shaper queue**: a frame over its tenant's rate waits in the tenant's FIFO
//!   ([`TENANT_QUEUE_FRAMES`]; later frames of the tenant queue behind it, so a flow is never
//!   reordered) and goes on to its egress port when tokens come back ([`drain`]); a full
//!   queue drops (`shaped`). Queueing briefly instead of policing lets TCP reach the rate.
//! - **Port scheduler** ([`send`]): per egress port a bounded FIFO per priority class
//!   (platinum, gold, silver; [`CLASS_QUEUE_FRAMES`] each) that survives from batch to batch.
//!   A port with nothing queued sends a batch's frames at once when its transmit ring has
//!   room ([`Ports::tx_room`]) and its shaper the tokens; what cannot go waits in its class
//!   queue, and every later frame of the port queues behind what waits. The queues are
//!   served (`serve`, after each batch and every poll round) in strict priority,
//!   platinum > gold > silver, except that of the frames a port sends from its queues every
//!   4th goes to gold and every 8th to silver when they have frames waiting (a slot counter
//!   per port that survives across batches): under any congestion silver keeps ≥ 1/8 and
//!   gold ≥ 1/4 of the port, and a class that does not use its share leaves it to the
//!   others. A full class queue drops (`class_queue_full`, or `shaped` on a shaped port).
//!
//! The queues hold frame descriptors (no copy). They are allocated once per worker
//! ([`Pipeline::prepare`](super::Pipeline::prepare)), sized for every port and tenant; the
//! frames they hold at once are bounded by the port set's [`Ports::hold_budget`] so the
//! receive rings never run dry. Buckets and queues are per worker (a port shaped to R on a
//! box with N workers passes at most N × R; the default appliance runs one worker).
//! Runs on worker threads: no allocation after `prepare`, no lock, no panic.

use super::egress::{class_of, pick, prioritize, transmit};
use super::{Batch, DropReason, Verdict, BATCH, NO_TENANT};
use crate::port::{FrameBuf, Ports};
use crate::stats::{ShapeCounters, WorkerCounters, CLASSES, MAX_PORTS, MAX_TENANTS};
use rib::{FibSnapshot, PortId, Shape, TenantId};
use std::any::Any;
use std::time::Instant;

/// Frames a tenant shaper's queue holds at most (at 10 Mbit/s, 64 full frames are ~77 ms).
pub const TENANT_QUEUE_FRAMES: usize = 64;

/// Frames one priority class of one egress port holds at most.
pub const CLASS_QUEUE_FRAMES: usize = 128;

/// Token units per byte: tokens are bit-nanoseconds (8 × 10⁹ per byte), so a refill of
/// `rate_bps × elapsed_ns` is exact integer arithmetic.
const UNITS_PER_BYTE: u64 = 8 * 1_000_000_000;

/// Largest burst a bucket keeps (1 GiB; larger configured bursts are capped), so the bucket
/// depth in units fits in a `u64`.
const MAX_BURST_BYTES: u64 = 1 << 30;

/// One token bucket.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bucket {
    /// The parameters the bucket was filled for; a different shape in a new FIB restarts it
    /// full.
    shape: Option<Shape>,
    /// Saved tokens, in bit-nanoseconds.
    tokens: u64,
    /// Last refill.
    last: Option<Instant>,
}

impl Bucket {
    #[inline]
    fn depth(shape: Shape) -> u64 {
        (shape.burst_bytes as u64).min(MAX_BURST_BYTES) * UNITS_PER_BYTE
    }

    /// Refills for the time since the last call (restarting full on a new shape) and
    /// returns the tokens now available.
    #[inline]
    fn refill(&mut self, shape: Shape, now: Instant) -> u64 {
        let depth = Self::depth(shape);
        match (self.shape, self.last) {
            (Some(s), Some(last)) if s == shape => {
                let dt = now.saturating_duration_since(last).as_nanos();
                let room = depth.saturating_sub(self.tokens);
                let rate = shape.rate_bps.max(1) as u128;
                // Whole refill when the elapsed time covers the room (no overflow either).
                if dt >= (room as u128).div_ceil(rate) {
                    self.tokens = depth;
                } else {
                    self.tokens += (dt * rate) as u64;
                }
                self.last = Some(now);
            }
            _ => {
                self.shape = Some(shape);
                self.tokens = depth;
                self.last = Some(now);
            }
        }
        self.tokens
    }

    /// Whether a frame of `len` bytes conforms now (refilling first); takes nothing.
    #[inline]
    pub fn conforms(&mut self, shape: Shape, len: usize, now: Instant) -> bool {
        self.refill(shape, now) >= len as u64 * UNITS_PER_BYTE
    }

    /// Takes the tokens of a conforming frame of `len` bytes (after [`conforms`]).
    #[inline]
    pub fn take(&mut self, len: usize) {
        self.tokens = self.tokens.saturating_sub(len as u64 * UNITS_PER_BYTE);
    }

    /// Whether a frame of `len` bytes conforms, taking its tokens if so.
    #[inline]
    pub fn admit(&mut self, shape: Shape, len: usize, now: Instant) -> bool {
        let ok = self.conforms(shape, len, now);
        if ok {
            self.take(len);
        }
        ok
    }
}

/// Every bucket of one worker: one per port and one per tenant (allocated once, with the
/// pipeline).
#[derive(Clone, Debug)]
pub struct Shapers {
    ports: [Bucket; MAX_PORTS],
    tenants: [Bucket; MAX_TENANTS],
}

impl Default for Shapers {
    fn default() -> Self {
        Shapers { ports: [Bucket::default(); MAX_PORTS], tenants: [Bucket::default(); MAX_TENANTS] }
    }
}

/// A bounded FIFO of frame descriptors, each with a 16-bit tag (a ring over fixed arrays:
/// nothing allocated after creation). Tenant shaper queues tag a frame with its egress port,
/// class queues with its tenant.
#[derive(Clone, Debug)]
struct Fifo<D, const N: usize> {
    desc: [D; N],
    tag: [u16; N],
    head: usize,
    len: usize,
}

impl<D: Copy + Default, const N: usize> Fifo<D, N> {
    fn new() -> Self {
        Fifo { desc: [D::default(); N], tag: [0; N], head: 0, len: 0 }
    }

    #[inline]
    fn push(&mut self, d: D, tag: u16) -> bool {
        if self.len >= N {
            return false;
        }
        let at = (self.head + self.len) % N;
        self.desc[at] = d;
        self.tag[at] = tag;
        self.len += 1;
        true
    }

    #[inline]
    fn front(&self) -> Option<(D, u16)> {
        (self.len > 0).then(|| (self.desc[self.head], self.tag[self.head]))
    }

    #[inline]
    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % N;
            self.len -= 1;
        }
    }
}

/// One egress port's scheduler: a FIFO per priority class and the slot counter of the
/// minimum shares.
#[derive(Clone, Debug)]
struct PortSched<D> {
    class: [Fifo<D, CLASS_QUEUE_FRAMES>; CLASSES],
    /// Frames this port sent from its queues (wrapping): the slot numbers [`pick`] reads.
    slot: u32,
}

impl<D: Copy + Default> PortSched<D> {
    fn new() -> Self {
        PortSched { class: [Fifo::new(), Fifo::new(), Fifo::new()], slot: 0 }
    }

    #[inline]
    fn len(&self) -> usize {
        self.class.iter().map(|c| c.len).sum()
    }

    /// One bit per class with frames waiting.
    #[inline]
    fn waiting(&self) -> u8 {
        self.class.iter().enumerate().fold(0, |w, (i, c)| if c.len > 0 { w | 1 << i } else { w })
    }
}

/// Every queue of one worker, for descriptors of type `D`: a shaper queue per tenant and a
/// scheduler per egress port.
#[derive(Debug)]
pub struct Queues<D> {
    tenants: Vec<Fifo<D, TENANT_QUEUE_FRAMES>>,
    ports: Vec<PortSched<D>>,
    /// Frames in the tenant queues.
    tenant_held: usize,
    /// Frames in the port schedulers' class queues.
    port_held: usize,
    /// Most frames all queues may hold together ([`Ports::hold_budget`]).
    budget: usize,
}

impl<D: Copy + Default> Queues<D> {
    /// Queues for `ports` egress ports (the worker's port count: a scheduler is ~7 KB, so
    /// not one per possible port) and every possible tenant.
    fn new(budget: usize, ports: usize) -> Self {
        Queues {
            tenants: (0..MAX_TENANTS).map(|_| Fifo::new()).collect(),
            ports: (0..ports.clamp(1, MAX_PORTS)).map(|_| PortSched::new()).collect(),
            tenant_held: 0,
            port_held: 0,
            budget,
        }
    }

    #[inline]
    fn room(&self) -> bool {
        self.tenant_held + self.port_held < self.budget
    }

    /// Queues `d` (bound for `port`) behind tenant `t`'s frames over its rate.
    #[inline]
    fn push_tenant(&mut self, t: usize, d: D, port: PortId) -> bool {
        let ok = self.room() && self.tenants.get_mut(t).is_some_and(|q| q.push(d, port.0));
        self.tenant_held += ok as usize;
        ok
    }

    /// Queues `d` of `tenant` in class `c` of port `p`; returns the class queue's new depth
    /// (None: full, or the budget is used up).
    #[inline]
    fn push_port(&mut self, p: usize, c: usize, d: D, tenant: TenantId) -> Option<usize> {
        if !self.room() {
            return None;
        }
        let q = self.ports.get_mut(p)?.class.get_mut(c)?;
        if !q.push(d, tenant.0) {
            return None;
        }
        self.port_held += 1;
        Some(q.len)
    }

    /// Frames waiting in port `p`'s class queues.
    #[inline]
    fn port_len(&self, p: usize) -> usize {
        self.ports.get(p).map_or(0, PortSched::len)
    }
}

/// Type-erased slot for the queues in the (backend-agnostic) pipeline state.
pub type QueueSlot = Option<Box<dyn Any + Send>>;

/// Creates the queues for descriptors of type `D` unless the slot holds them already (the
/// only allocation of this stage: once per worker, before traffic).
pub fn prepare<D: Copy + Default + Send + 'static>(slot: &mut QueueSlot, budget: usize, ports: usize) {
    if slot.as_ref().is_none_or(|q| !q.is::<Queues<D>>()) {
        *slot = Some(Box::new(Queues::<D>::new(budget, ports)));
    }
}

/// The queues in `slot`, if prepared for descriptors of type `D`.
#[inline]
pub fn queues_mut<D: Copy + Default + Send + 'static>(slot: &mut QueueSlot) -> Option<&mut Queues<D>> {
    slot.as_mut().and_then(|q| q.downcast_mut::<Queues<D>>())
}

#[inline]
fn count(c: &mut ShapeCounters, conform: bool, len: usize) {
    if conform {
        c.conform_packets += 1;
        c.conform_bytes += len as u64;
    } else {
        c.exceed_packets += 1;
        c.exceed_bytes += len as u64;
    }
}

#[inline]
fn count_drop(c: &mut ShapeCounters, len: usize) {
    c.drop_packets += 1;
    c.drop_bytes += len as u64;
}

/// Tenant shapers: every frame with a `Tx` verdict of a shaped tenant must conform to the
/// tenant's rate, else it waits in the tenant's queue (verdict `Queued`; [`drain`] sends it
/// on) or is dropped as `shaped` when the queue is full (or was never prepared: a bare
/// `process` without [`prepare`] polices). A tenant with frames waiting queues every new
/// frame behind them. (Port shapers act at egress, in [`send`].)
pub fn run<B: FrameBuf>(
    shapers: &mut Shapers,
    slot: &mut QueueSlot,
    buf: &B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    if fib.tenant_shapes.iter().all(Option::is_none) {
        return;
    }
    let mut q = queues_mut::<B::Desc>(slot);
    for i in 0..batch.len {
        let m = &mut batch.meta[i];
        let Verdict::Tx(port) = m.verdict else { continue };
        if m.tenant == NO_TENANT || m.tenant.index() >= MAX_TENANTS {
            continue;
        }
        let Some(s) = fib.tenant_shape(m.tenant) else { continue };
        let t = m.tenant.index();
        let len = buf.len(&batch.desc[i]);
        let tc = counters.tenant_shape_mut(t);
        let waiting = q.as_ref().is_some_and(|q| q.tenants[t].len > 0);
        if !waiting && shapers.tenants[t].admit(s, len, now) {
            count(tc, true, len);
            continue;
        }
        count(tc, false, len);
        if q.as_mut().is_some_and(|q| q.push_tenant(t, batch.desc[i], port)) {
            m.verdict = Verdict::Queued;
        } else {
            count_drop(tc, len);
            m.drop(DropReason::Shaped);
        }
    }
}

/// Hands `frames` (all for `port`, with their classes and tenants) to the port's
/// scheduler: sent at once when nothing of the port waits and the ring and the port's
/// shaper take them (in priority order within the batch), else queued in their class queues
/// and served from there. Counts the tenants' tx (every frame handed over), shaper and class
/// counters; frames that fit nowhere are recycled and counted.
#[allow(clippy::too_many_arguments)]
pub fn send<P: Ports>(
    shapers: &mut Shapers,
    mut q: Option<&mut Queues<P::Desc>>,
    ports: &mut P,
    port: PortId,
    fib: &FibSnapshot,
    frames: &mut [P::Desc],
    class: &mut [u8],
    tenant: &mut [TenantId],
    counters: &mut WorkerCounters,
    now: Instant,
) {
    let k = frames.len().min(class.len()).min(tenant.len()).min(BATCH);
    if k == 0 {
        return;
    }
    let (frames, class, tenant) = (&mut frames[..k], &mut class[..k], &mut tenant[..k]);
    count_tenant_tx(ports, frames, tenant, counters);
    prioritize(frames, class, tenant);
    let p = port.index();
    if !ports.link_up(port) || p >= MAX_PORTS {
        // Down (or beyond the scheduler's ports): `transmit` drops and counts them.
        transmit(ports, port, frames, class, counters);
        return;
    }
    let shape = fib.port_shape(port);
    let waiting = q.as_ref().map_or(0, |q| q.port_len(p));
    let mut direct = 0;
    if waiting == 0 {
        let room = ports.tx_room(port, k);
        // An unshaped port whose ring cannot take the whole batch sends it through the class
        // queues, so the per-port shares hold across batches; without queues, as before.
        if room >= k || shape.is_some() || q.is_none() {
            let limit = if q.is_none() && shape.is_none() { k } else { room.min(k) };
            while direct < limit {
                if let Some(s) = shape {
                    let len = ports.len(&frames[direct]);
                    if !shapers.ports[p].admit(s, len, now) {
                        break;
                    }
                    count(counters.port_shape_mut(p), true, len);
                }
                direct += 1;
            }
        }
    }
    if direct > 0 {
        transmit(ports, port, &frames[..direct], &class[..direct], counters);
    }
    if direct == k {
        return;
    }
    let mut queued = false;
    for i in direct..k {
        let c = (class[i] as usize).min(CLASSES - 1);
        let len = ports.len(&frames[i]);
        if shape.is_some() {
            count(counters.port_shape_mut(p), false, len);
        }
        let depth = q.as_mut().and_then(|q| q.push_port(p, c, frames[i], tenant[i]));
        let cc = &mut counters.classes[c];
        match depth {
            Some(depth) => {
                cc.enqueued += 1;
                cc.queue_high_water = cc.queue_high_water.max(depth as u64);
                queued = true;
            }
            None => {
                cc.queue_dropped += 1;
                if shape.is_some() {
                    count_drop(counters.port_shape_mut(p), len);
                    counters.count_drop(DropReason::Shaped);
                } else {
                    counters.port_mut(p).tx_dropped += 1;
                    counters.count_drop(DropReason::ClassQueueFull);
                }
                ports.recycle(&frames[i..=i]);
            }
        }
    }
    if let (true, Some(q)) = (queued, q) {
        serve(shapers, q, ports, port, fib, counters, now);
    }
}

/// Hands frames bound for several ports to each port's scheduler ([`send`]), grouped by
/// port (the port of the first frame left, then the next; arrival order within a port).
/// Frames for a port this port set does not have are dropped as `egress_unknown`.
#[allow(clippy::too_many_arguments)]
pub fn send_grouped<P: Ports>(
    shapers: &mut Shapers,
    mut q: Option<&mut Queues<P::Desc>>,
    ports: &mut P,
    fib: &FibSnapshot,
    frames: &[P::Desc],
    port_of: &[PortId],
    tenant_of: &[TenantId],
    counters: &mut WorkerCounters,
    now: Instant,
) {
    let n = frames.len().min(port_of.len()).min(tenant_of.len()).min(BATCH);
    // Frames not yet handed over, one bit each.
    let mut left: u64 = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let mut g = [P::Desc::default(); BATCH];
    let mut gc = [0u8; BATCH];
    let mut gt = [NO_TENANT; BATCH];
    while left != 0 {
        let port = port_of[left.trailing_zeros() as usize];
        let mut k = 0;
        let mut rest = left;
        while rest != 0 {
            let j = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if port_of[j] == port {
                left &= !(1 << j);
                g[k] = frames[j];
                gc[k] = class_of(fib, tenant_of[j]);
                gt[k] = tenant_of[j];
                k += 1;
            }
        }
        if port.index() < ports.port_count() {
            let (g, gc, gt) = (&mut g[..k], &mut gc[..k], &mut gt[..k]);
            send(shapers, q.as_deref_mut(), ports, port, fib, g, gc, gt, counters, now);
        } else {
            ports.recycle(&g[..k]);
            counters.drops[DropReason::EgressUnknown.index()] += k as u64;
        }
    }
}

// The bit masks of `send_grouped` have one bit per frame of a batch.
const _: () = assert!(BATCH <= 64);

/// Per-tenant tx counts of frames handed to a port, summed over runs of one tenant.
#[inline]
fn count_tenant_tx<P: Ports>(
    ports: &P,
    frames: &[P::Desc],
    tenant: &[TenantId],
    counters: &mut WorkerCounters,
) {
    let mut run = (NO_TENANT, 0u64, 0u64);
    for (d, &t) in frames.iter().zip(tenant) {
        if t != run.0 {
            add_tenant_tx(counters, run);
            run = (t, 0, 0);
        }
        run.1 += 1;
        run.2 += ports.len(d) as u64;
    }
    add_tenant_tx(counters, run);
}

#[inline]
fn add_tenant_tx(counters: &mut WorkerCounters, (tenant, packets, bytes): (TenantId, u64, u64)) {
    if tenant == NO_TENANT || packets == 0 {
        return;
    }
    let t = counters.tenant_mut(tenant.index());
    t.tx_packets += packets;
    t.tx_bytes += bytes;
}

/// Sends what port `port`'s class queues may send now: while the ring has room and the
/// port's shaper (if any) the tokens, the class [`pick`] names for the port's next slot
/// gives its oldest frame. A port that is down or gone loses what waits (counted).
/// Returns the frames sent or dropped.
fn serve<P: Ports>(
    shapers: &mut Shapers,
    q: &mut Queues<P::Desc>,
    ports: &mut P,
    port: PortId,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) -> usize {
    let p = port.index();
    let Queues { ports: scheds, port_held, .. } = q;
    let Some(ps) = scheds.get_mut(p) else { return 0 };
    let shape = fib.port_shape(port);
    let gone = p >= ports.port_count() || !ports.link_up(port);
    let mut out = [P::Desc::default(); BATCH];
    let mut class = [0u8; BATCH];
    let mut done = 0;
    loop {
        let total = ps.len();
        if total == 0 {
            break;
        }
        let want = total.min(BATCH);
        let room = if gone { want } else { ports.tx_room(port, want) };
        let mut n = 0;
        let mut no_tokens = false;
        while n < room {
            let w = ps.waiting();
            if w == 0 {
                break;
            }
            let c = pick(ps.slot as usize, w).min(CLASSES - 1);
            let Some((d, _)) = ps.class[c].front() else { break };
            if let (Some(s), false) = (shape, gone) {
                let len = ports.len(&d);
                if !shapers.ports[p].admit(s, len, now) {
                    no_tokens = true;
                    break;
                }
                count(counters.port_shape_mut(p), true, len);
            }
            ps.class[c].pop();
            ps.slot = ps.slot.wrapping_add(1);
            out[n] = d;
            class[n] = c as u8;
            n += 1;
        }
        *port_held = port_held.saturating_sub(n);
        done += n;
        if n > 0 {
            if p < ports.port_count() {
                transmit(ports, port, &out[..n], &class[..n], counters);
            } else {
                ports.recycle(&out[..n]);
                counters.drops[DropReason::EgressUnknown.index()] += n as u64;
            }
        }
        if no_tokens || n < want {
            break;
        }
    }
    done
}

/// Sends on what the queues may send now: frames of the tenant shapers' queues as tokens
/// allow (all of them when the tenant is no longer shaped) go to their port's scheduler,
/// then every port scheduler with frames waiting is served. Called before each batch and
/// every poll round; returns the frames sent or dropped.
pub fn drain<P: Ports>(
    shapers: &mut Shapers,
    slot: &mut QueueSlot,
    ports: &mut P,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) -> usize {
    let Some(q) = queues_mut::<P::Desc>(slot) else { return 0 };
    let mut done = 0;
    if q.tenant_held > 0 {
        done += drain_tenants(shapers, q, ports, fib, counters, now);
    }
    if q.port_held > 0 {
        for p in 0..q.ports.len() {
            if q.port_len(p) > 0 {
                done += serve(shapers, q, ports, PortId(p as u16), fib, counters, now);
            }
        }
    }
    done
}

/// Takes up to one batch of frames off the tenant queues (oldest first per tenant, as the
/// tenants' tokens allow) and hands them to their ports' schedulers.
fn drain_tenants<P: Ports>(
    shapers: &mut Shapers,
    q: &mut Queues<P::Desc>,
    ports: &mut P,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) -> usize {
    let mut out = [P::Desc::default(); BATCH];
    let mut port_of = [PortId(0); BATCH];
    let mut tenant_of = [NO_TENANT; BATCH];
    let mut n = 0;
    for t in 0..fib.tenants.len().min(MAX_TENANTS) {
        if n == BATCH {
            break;
        }
        if q.tenants[t].len == 0 {
            continue;
        }
        let tenant = TenantId(t as u16);
        let shape = fib.tenant_shape(tenant);
        while n < BATCH {
            let Some((d, port)) = q.tenants[t].front() else { break };
            let len = ports.len(&d);
            if let Some(s) = shape {
                if !shapers.tenants[t].admit(s, len, now) {
                    break;
                }
            }
            count(counters.tenant_shape_mut(t), true, len);
            q.tenants[t].pop();
            q.tenant_held = q.tenant_held.saturating_sub(1);
            out[n] = d;
            port_of[n] = PortId(port);
            tenant_of[n] = tenant;
            n += 1;
        }
    }
    send_grouped(shapers, Some(q), ports, fib, &out[..n], &port_of[..n], &tenant_of[..n], counters, now);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_starts_full_then_holds_the_rate() {
        // 8 Mbit/s = 1 byte per microsecond; burst 2000 bytes.
        let shape = Shape { rate_bps: 8_000_000, burst_bytes: 2000 };
        let mut b = Bucket::default();
        let t0 = Instant::now();
        assert!(b.admit(shape, 1500, t0));
        assert!(!b.admit(shape, 1500, t0), "500 bytes left");
        assert!(b.admit(shape, 500, t0));
        assert!(!b.admit(shape, 1, t0));
        // 1000 µs later: exactly 1000 bytes refilled.
        let t1 = t0 + Duration::from_micros(1000);
        assert!(!b.admit(shape, 1001, t1));
        assert!(b.admit(shape, 1000, t1));
        // An hour idle refills only to the burst.
        let t2 = t1 + Duration::from_secs(3600);
        assert!(b.admit(shape, 2000, t2));
        assert!(!b.admit(shape, 1, t2));
    }

    #[test]
    fn long_run_rate_is_the_configured_rate_not_plus_burst() {
        // 10 Mbit/s offered 1500-byte frames every 100 µs (120 Mbit/s) for one second.
        let shape = Shape::new(10_000_000, Some(15_000));
        let mut b = Bucket::default();
        let t0 = Instant::now();
        let mut passed = 0u64;
        for k in 0..10_000u64 {
            if b.admit(shape, 1500, t0 + Duration::from_micros(100 * k)) {
                passed += 1500;
            }
        }
        // 1 s at 10 Mbit/s = 1_250_000 bytes, plus the initial burst once.
        assert!(passed <= 1_250_000 + 15_000, "{passed}");
        assert!(passed >= 1_250_000 - 1500, "{passed}");
    }

    #[test]
    fn a_new_shape_restarts_the_bucket_full() {
        let slow = Shape { rate_bps: 8_000, burst_bytes: 1518 };
        let fast = Shape { rate_bps: 8_000_000, burst_bytes: 3000 };
        let mut b = Bucket::default();
        let t0 = Instant::now();
        assert!(b.admit(slow, 1518, t0));
        assert!(!b.admit(slow, 1518, t0));
        assert!(b.admit(fast, 3000, t0));
    }

    #[test]
    fn huge_rates_and_bursts_do_not_overflow() {
        let shape = Shape { rate_bps: u64::MAX, burst_bytes: u32::MAX };
        let mut b = Bucket::default();
        let t0 = Instant::now();
        assert!(b.admit(shape, 9000, t0));
        assert!(b.admit(shape, 9000, t0 + Duration::from_secs(1 << 20)));
    }
}
