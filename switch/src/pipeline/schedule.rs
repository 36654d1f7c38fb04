//! Stage 6, schedule (shaping): integer token buckets, VPP-policer style, on every frame
//! about to be transmitted — the egress port's `traffic-shape` and the tenant's
//! service-level rate. Buckets refill lazily from the `now` the caller passes (monotonic
//! clock), count L2 bytes as transmitted, save at most `burst_bytes` (never under one frame;
//! the burst is not added to the rate). There is no queue: a frame over the rate is dropped
//! at once (`shaped`) and counted as exceeded. Buckets are per worker (a port shaped to R
//! on a box with N workers passes at most N × R; the default appliance runs one worker).
//! Runs on worker threads: no allocation, no lock, no panic.

use super::{Batch, DropReason, Verdict, NO_TENANT};
use crate::port::FrameBuf;
use crate::stats::{ShapeCounters, WorkerCounters, MAX_PORTS, MAX_TENANTS};
use rib::{FibSnapshot, Shape};
use std::time::Instant;

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

/// Shapes every frame with a `Tx` verdict: a frame must conform to both its egress port's
/// shaper and its tenant's (each only if configured); it takes tokens from both, or from
/// neither and is dropped as `shaped`.
pub fn run<B: FrameBuf>(
    shapers: &mut Shapers,
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
        let port_ok = match port_shape {
            Some(s) => shapers.ports[port.index()].conforms(s, len, now),
            None => true,
        };
        let tenant_ok = match tenant_shape {
            Some(s) => shapers.tenants[m.tenant.index()].conforms(s, len, now),
            None => true,
        };
        let ok = port_ok && tenant_ok;
        // Conform: sent (both shapers took tokens); exceed: over this shaper's rate. A frame
        // within one shaper but over the other counts only as the other's exceed.
        if port_shape.is_some() && (ok || !port_ok) {
            if ok {
                shapers.ports[port.index()].take(len);
            }
            count(&mut counters.port_shape[port.index()], ok, len);
        }
        if tenant_shape.is_some() && (ok || !tenant_ok) {
            if ok {
                shapers.tenants[m.tenant.index()].take(len);
            }
            count(&mut counters.tenant_shape[m.tenant.index()], ok, len);
        }
        if !ok {
            m.drop(DropReason::Shaped);
        }
    }
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
