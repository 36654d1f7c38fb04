//! Stage 6, schedule (shaping): integer token buckets, VPP-policer style, on every frame
//! about to be transmitted — the egress port's `traffic-shape` and the tenant's
//! service-level rate. Buckets refill lazily from the `now` the caller passes (monotonic
//! clock), count L2 bytes as transmitted, save at most `burst_bytes` (never under one frame;
//! the burst is not added to the rate).
//!
//! A port shaper queues what is over its rate in a small FIFO per port ([`QUEUE_FRAMES`]
//! frames; later frames for the port wait behind it, so a flow is never reordered) and sends
//! it when tokens come back ([`drain`], called every poll round and before every batch);
//! what does not fit is dropped (`shaped`). A tenant shaper has no queue: frames over the
//! tenant's rate are dropped at once. The queues hold frame descriptors (no copy); they are
//! allocated once, the first time a frame is queued (the descriptor type is the port
//! backend's, known only then). Buckets and queues are per worker (a port shaped to R on a
//! box with N workers passes at most N × R; the default appliance runs one worker).
//! Runs on worker threads: no lock, no panic.

use super::egress::{class_of, transmit};
use super::{Batch, DropReason, Verdict, BATCH, NO_TENANT};
use crate::port::{FrameBuf, Ports};
use crate::stats::{ShapeCounters, WorkerCounters, MAX_PORTS, MAX_TENANTS};
use rib::{FibSnapshot, PortId, Shape, TenantId};
use std::any::Any;
use std::time::Instant;

/// Frames a port shaper holds at most (at 10 Mbit/s, 64 full frames are ~77 ms).
pub const QUEUE_FRAMES: usize = 64;

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

/// One port's FIFO of frames over the rate (a ring).
#[derive(Clone, Debug)]
struct PortQueue<D> {
    desc: [D; QUEUE_FRAMES],
    tenant: [TenantId; QUEUE_FRAMES],
    head: usize,
    len: usize,
}

impl<D: Copy + Default> PortQueue<D> {
    fn new() -> Self {
        PortQueue { desc: [D::default(); QUEUE_FRAMES], tenant: [TenantId(0); QUEUE_FRAMES], head: 0, len: 0 }
    }

    fn push(&mut self, d: D, tenant: TenantId) -> bool {
        if self.len >= QUEUE_FRAMES {
            return false;
        }
        let at = (self.head + self.len) % QUEUE_FRAMES;
        self.desc[at] = d;
        self.tenant[at] = tenant;
        self.len += 1;
        true
    }

    fn front(&self) -> Option<(D, TenantId)> {
        (self.len > 0).then(|| (self.desc[self.head], self.tenant[self.head]))
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % QUEUE_FRAMES;
            self.len -= 1;
        }
    }
}

/// The shaper queues of every port of one worker, for descriptors of type `D`.
#[derive(Debug)]
pub struct ShapeQueues<D> {
    ports: Vec<PortQueue<D>>,
    /// Frames held over all ports (0: nothing to drain).
    held: usize,
}

impl<D: Copy + Default> ShapeQueues<D> {
    fn new() -> Self {
        ShapeQueues { ports: (0..MAX_PORTS).map(|_| PortQueue::new()).collect(), held: 0 }
    }
}

/// Type-erased slot for the queues in the (backend-agnostic) pipeline state.
pub type QueueSlot = Option<Box<dyn Any + Send>>;

fn queues<D: Copy + Default + Send + 'static>(slot: &mut QueueSlot) -> Option<&mut ShapeQueues<D>> {
    if slot.as_ref().is_none_or(|q| !q.is::<ShapeQueues<D>>()) {
        *slot = Some(Box::new(ShapeQueues::<D>::new()));
    }
    slot.as_mut().and_then(|q| q.downcast_mut::<ShapeQueues<D>>())
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

/// Shapes every frame with a `Tx` verdict: it must conform to its tenant's shaper (else it
/// is dropped) and to its egress port's (else it joins the port's queue, or is dropped when
/// the queue is full). A port with frames queued queues every new frame behind them.
pub fn run<B: FrameBuf>(
    shapers: &mut Shapers,
    slot: &mut QueueSlot,
    buf: &B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    if fib.port_shapes.iter().all(Option::is_none) && fib.tenant_shapes.iter().all(Option::is_none) {
        return;
    }
    for i in 0..batch.len {
        let m = &mut batch.meta[i];
        let Verdict::Tx(port) = m.verdict else { continue };
        let port_shape = fib.port_shape(port).filter(|_| port.index() < MAX_PORTS);
        let tenant_shape =
            fib.tenant_shape(m.tenant).filter(|_| m.tenant != NO_TENANT && m.tenant.index() < MAX_TENANTS);
        if port_shape.is_none() && tenant_shape.is_none() {
            continue;
        }
        let len = buf.len(&batch.desc[i]);
        if let Some(s) = tenant_shape {
            let tc = counters.tenant_shape_mut(m.tenant.index());
            let b = &mut shapers.tenants[m.tenant.index()];
            let ok = b.admit(s, len, now);
            count(tc, ok, len);
            if !ok {
                count_drop(tc, len);
                m.drop(DropReason::Shaped);
                continue;
            }
        }
        let Some(s) = port_shape else { continue };
        let pc = counters.port_shape_mut(port.index());
        let waiting = match slot.as_mut().and_then(|q| q.downcast_mut::<ShapeQueues<B::Desc>>()) {
            Some(q) => q.ports[port.index()].len > 0,
            None => false,
        };
        if !waiting && shapers.ports[port.index()].admit(s, len, now) {
            count(pc, true, len);
            continue;
        }
        count(pc, false, len);
        let queued = match queues::<B::Desc>(slot) {
            Some(q) => {
                let ok = q.ports[port.index()].push(batch.desc[i], m.tenant);
                q.held += ok as usize;
                ok
            }
            None => false,
        };
        if queued {
            m.verdict = Verdict::Queued;
        } else {
            count_drop(pc, len);
            m.drop(DropReason::Shaped);
        }
    }
}

/// Sends what the port shapers' queues may send now (oldest first, as tokens allow; all of
/// it when the port is no longer shaped); returns the frames sent or dropped.
pub fn drain<P: Ports>(
    shapers: &mut Shapers,
    slot: &mut QueueSlot,
    ports: &mut P,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
    now: Instant,
) -> usize {
    let Some(q) = slot.as_mut().and_then(|q| q.downcast_mut::<ShapeQueues<P::Desc>>()) else { return 0 };
    if q.held == 0 {
        return 0;
    }
    let mut done = 0;
    let port_count = ports.port_count();
    let mut out = [P::Desc::default(); BATCH];
    let mut class = [0u8; BATCH];
    for p in 0..fib.ports.len().min(MAX_PORTS) {
        if q.ports[p].len == 0 {
            continue;
        }
        let port = PortId(p as u16);
        let shape = fib.port_shape(port);
        let mut k = 0;
        while k < BATCH {
            let Some((d, tenant)) = q.ports[p].front() else { break };
            let len = ports.len(&d);
            if let Some(s) = shape {
                if !shapers.ports[p].admit(s, len, now) {
                    break;
                }
            }
            q.ports[p].pop();
            q.held = q.held.saturating_sub(1);
            count(counters.port_shape_mut(p), true, len);
            if tenant != NO_TENANT {
                let t = counters.tenant_mut(tenant.index());
                t.tx_packets += 1;
                t.tx_bytes += len as u64;
            }
            out[k] = d;
            class[k] = class_of(fib, tenant);
            k += 1;
        }
        if k == 0 {
            continue;
        }
        done += k;
        if p < port_count {
            transmit(ports, port, &out[..k], &class[..k], counters);
        } else {
            ports.recycle(&out[..k]);
            counters.drops[DropReason::EgressUnknown.index()] += k as u64;
        }
    }
    done
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
