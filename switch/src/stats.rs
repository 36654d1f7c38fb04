//! Per-worker counters (plain, non-atomic, owned by the worker) and their transport: each
//! worker pushes a snapshot through an `rtrb` SPSC ring every ~100 ms and when it stops
//! ([`StatsPublisher`]); the [`StatsCollector`] pops and aggregates; the shell reads a
//! [`StatsReader`] (Clone + Send + Sync). A worker never locks; only the reader side does.
//! `clear counters` is a baseline the reader subtracts: workers never reset.
//!
//! The per-port and per-tenant tables are sized from the topology when the worker starts
//! (boxed slices, grown only when a snapshot brings more ports or tenants, never per frame),
//! so 1000 tenants cost what 1000 tenants need. A snapshot's buffers travel to the collector
//! and come back through a second SPSC ring to be reused: after the first few publishes a
//! worker copies its counters into a returned buffer and allocates nothing.

use crate::pipeline::DropReason;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most ports a worker's tables hold (the topology limit, `rib::topology::MAX_PORTS`); the
/// tables are sized from the topology, and a port id past them is counted in the last slot.
pub const MAX_PORTS: usize = 4096;
/// Most tenants a worker's tables hold (`rib::topology::MAX_TENANTS`); sized like ports.
pub const MAX_TENANTS: usize = 4096;
/// Table sizes of [`WorkerCounters::default`] (tests and benches that have no topology).
pub const DEFAULT_PORTS: usize = 64;
pub const DEFAULT_TENANTS: usize = 256;
/// Default interval between two snapshots of one worker.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);
/// Default capacity of one worker's snapshot ring (the collector drains it every 50 ms, a
/// worker publishes every 100 ms: 4 is plenty, and each slot holds a topology-sized table).
pub const RING_CAPACITY: usize = 4;

/// Counters of one port, as seen by one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received on the port (every frame `rx_burst` returned).
    pub rx_packets: u64,
    /// Bytes of those frames (Ethernet header included, FCS excluded).
    pub rx_bytes: u64,
    /// Received frames with the broadcast destination MAC.
    pub rx_broadcast: u64,
    /// Frames the port's transmit ring accepted.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames for this port dropped at egress: the transmit ring refused them
    /// (`tx_ring_full`), or the ring was full and so was their class queue
    /// (`class_queue_full`).
    pub tx_dropped: u64,
    /// Frames VXLAN-encapsulated to leave on this port (an uplink), counted when the outer
    /// headers are written (before transmit).
    pub encap_packets: u64,
    /// Frames received on this port (an uplink) that passed every decapsulation check and
    /// entered a tenant's network.
    pub decap_packets: u64,
}

/// Counters of one tenant, as seen by one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TenantCounters {
    /// Frames that entered the tenant's network (classified to the tenant).
    pub rx_packets: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames of the tenant queued for transmission (forwarded, replies, ICMP errors).
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Bytes of the tenant's frames encapsulated onto a `Plane::Fast` tunnel, outer headers
    /// included (what the tenant's fast-path quota is measured in).
    pub fast_tx_bytes: u64,
}

/// Counters of one shaper (an egress port's `traffic-shape`, a tenant's service-level rate),
/// as seen by one worker. Both queue frames over the rate briefly (a port in its class
/// queues, a tenant in its FIFO) and drop them when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShapeCounters {
    /// Frames sent within the rate (at once, or later from the queue).
    pub conform_packets: u64,
    /// Bytes of those frames (L2, as transmitted).
    pub conform_bytes: u64,
    /// Frames that arrived over the rate (queued, or dropped when they could not be).
    pub exceed_packets: u64,
    /// Bytes of those frames.
    pub exceed_bytes: u64,
    /// Frames over the rate that were dropped (queue full, or no queue); also counted as
    /// `shaped`.
    pub drop_packets: u64,
    /// Bytes of those frames.
    pub drop_bytes: u64,
}

impl ShapeCounters {
    pub const ZERO: ShapeCounters = ShapeCounters {
        conform_packets: 0,
        conform_bytes: 0,
        exceed_packets: 0,
        exceed_bytes: 0,
        drop_packets: 0,
        drop_bytes: 0,
    };
}

/// Service-level classes of the egress priority scheduler, indexed by [`class_index`].
pub const CLASSES: usize = 3;

/// Class names in [`class_index`] order.
pub const CLASS_NAMES: [&str; CLASSES] = ["platinum", "gold", "silver"];

/// Index of a service level in [`WorkerCounters::classes`] (platinum 0, gold 1, silver 2).
#[inline]
pub const fn class_index(level: rib::ServiceLevel) -> usize {
    match level {
        rib::ServiceLevel::Platinum => 0,
        rib::ServiceLevel::Gold => 1,
        rib::ServiceLevel::Silver => 2,
    }
}

/// Counters of one priority class at egress (summed over the egress ports), as seen by one
/// worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClassCounters {
    /// Frames of the class the transmit rings accepted.
    pub tx_packets: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames of the class a transmit ring refused after saying it had room (also counted
    /// as `tx_ring_full`; should stay 0 with a backend that reports its room).
    pub tx_dropped: u64,
    /// Frames of the class that waited in a port's class queue (the ring had no room, or
    /// the port's shaper no tokens, or older frames were waiting).
    pub enqueued: u64,
    /// Frames of the class dropped because its class queue was full (counted as
    /// `class_queue_full`, or `shaped` on a shaped port).
    pub queue_dropped: u64,
    /// Deepest any one port's queue of this class has been, in frames (a high-water mark:
    /// the maximum over workers, never reset by `clear counters`).
    pub queue_high_water: u64,
}

impl ClassCounters {
    pub const ZERO: ClassCounters = ClassCounters {
        tx_packets: 0,
        tx_bytes: 0,
        tx_dropped: 0,
        enqueued: 0,
        queue_dropped: 0,
        queue_high_water: 0,
    };
}

/// Everything one worker counts. Plain integers, only ever increased by the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCounters {
    /// Per port, indexed by `PortId`; as many as the topology has ports (at least one).
    pub ports: Box<[PortCounters]>,
    /// Per tenant, indexed by `TenantId`; as many as the topology has tenants (at least one).
    pub tenants: Box<[TenantCounters]>,
    /// Dropped frames per [`DropReason`], indexed by [`DropReason::index`].
    pub drops: [u64; DropReason::COUNT],
    /// Egress shaper of each port (`traffic-shape`), indexed by `PortId` (as `ports`).
    pub port_shape: Box<[ShapeCounters]>,
    /// Shaper of each tenant (its service level's `rate_mbps`), indexed by `TenantId`.
    pub tenant_shape: Box<[ShapeCounters]>,
    /// Egress priority classes, indexed by [`class_index`].
    pub classes: [ClassCounters; CLASSES],
    /// Frames whose destination an `ip redirect` rewrote.
    pub redirected: u64,
    /// Non-empty batches run through the pipeline.
    pub batches: u64,
    /// Frames in those batches (average batch fill = `batch_frames / batches`).
    pub batch_frames: u64,
    /// Poll rounds that found at least one frame (or injected probe).
    pub busy_polls: u64,
    /// Poll rounds that found nothing.
    pub idle_polls: u64,
    /// TSC cycles spent in busy rounds (cycles per packet = `busy_cycles / batch_frames`).
    pub busy_cycles: u64,
    /// Times the worker slept or waited because it was idle.
    pub idle_sleeps: u64,
    /// ARP replies sent for gateway addresses.
    pub arp_replies: u64,
    /// ICMP echo replies sent from router addresses.
    pub echo_replies: u64,
    /// ICMP errors sent (time exceeded, unreachable).
    pub icmp_errors: u64,
    /// ICMP errors not sent because the per-worker token bucket was empty.
    pub icmp_rate_limited: u64,
    /// Frames handed to the shell through the punt queue (probe replies).
    pub punted: u64,
    /// Probes taken from the inject queue and routed.
    pub injected: u64,
    /// In-band management packets (TCP 23/22, UDP 161 to a router address) handed to their
    /// tenant's management queue.
    pub mgmt_punted: u64,
    /// Packets from the in-band management stacks taken from the management inject queue
    /// and routed.
    pub mgmt_injected: u64,
    /// Frames decapsulated from VXLAN on uplinks (sum of the ports' `decap_packets`).
    pub decapsulated: u64,
    /// Frames encapsulated into VXLAN toward other substrate nodes (sum of the ports'
    /// `encap_packets`).
    pub encapsulated: u64,
    /// ARP frames received on uplinks handed to the control plane.
    pub arp_punted: u64,
    /// Raw frames the control plane queued for transmission (e.g. its ARP requests) that
    /// this worker sent.
    pub control_tx: u64,
}

impl Default for WorkerCounters {
    /// All zero, tables of [`DEFAULT_PORTS`] and [`DEFAULT_TENANTS`].
    fn default() -> Self {
        Self::new(DEFAULT_PORTS, DEFAULT_TENANTS)
    }
}

impl WorkerCounters {
    /// All zero, with tables for `ports` ports and `tenants` tenants (each at least 1, at most
    /// [`MAX_PORTS`] / [`MAX_TENANTS`]). Allocates: call it when a worker starts.
    pub fn new(ports: usize, tenants: usize) -> Self {
        let (p, t) = (ports.clamp(1, MAX_PORTS), tenants.clamp(1, MAX_TENANTS));
        WorkerCounters {
            ports: vec![PortCounters::default(); p].into_boxed_slice(),
            tenants: vec![TenantCounters::default(); t].into_boxed_slice(),
            port_shape: vec![ShapeCounters::ZERO; p].into_boxed_slice(),
            tenant_shape: vec![ShapeCounters::ZERO; t].into_boxed_slice(),
            drops: [0; DropReason::COUNT],
            classes: [ClassCounters::ZERO; CLASSES],
            redirected: 0,
            batches: 0,
            batch_frames: 0,
            busy_polls: 0,
            idle_polls: 0,
            busy_cycles: 0,
            idle_sleeps: 0,
            arp_replies: 0,
            echo_replies: 0,
            icmp_errors: 0,
            icmp_rate_limited: 0,
            punted: 0,
            injected: 0,
            mgmt_punted: 0,
            mgmt_injected: 0,
            decapsulated: 0,
            encapsulated: 0,
            arp_punted: 0,
            control_tx: 0,
        }
    }

    /// Grows the tables to hold `ports` ports and `tenants` tenants (keeping the counts).
    /// Does nothing, and allocates nothing, when they already do: a worker calls it once per
    /// round with the snapshot's sizes.
    #[inline]
    pub fn ensure(&mut self, ports: usize, tenants: usize) {
        if ports > self.ports.len() && self.ports.len() < MAX_PORTS {
            let p = ports.min(MAX_PORTS);
            grow(&mut self.ports, p, PortCounters::default());
            grow(&mut self.port_shape, p, ShapeCounters::ZERO);
        }
        if tenants > self.tenants.len() && self.tenants.len() < MAX_TENANTS {
            let t = tenants.min(MAX_TENANTS);
            grow(&mut self.tenants, t, TenantCounters::default());
            grow(&mut self.tenant_shape, t, ShapeCounters::ZERO);
        }
    }

    /// Makes `self` equal to `other`, reusing `self`'s tables when they have the same sizes
    /// (no allocation then).
    pub fn copy_from(&mut self, other: &WorkerCounters) {
        fn copy<T: Copy>(dst: &mut Box<[T]>, src: &[T]) {
            if dst.len() == src.len() {
                dst.copy_from_slice(src);
            } else {
                *dst = src.into();
            }
        }
        copy(&mut self.ports, &other.ports);
        copy(&mut self.tenants, &other.tenants);
        copy(&mut self.port_shape, &other.port_shape);
        copy(&mut self.tenant_shape, &other.tenant_shape);
        self.drops = other.drops;
        self.classes = other.classes;
        macro_rules! scalars {
            ($($field:ident),*) => { $( self.$field = other.$field; )* };
        }
        scalars!(
            redirected,
            batches,
            batch_frames,
            busy_polls,
            idle_polls,
            busy_cycles,
            idle_sleeps,
            arp_replies,
            echo_replies,
            icmp_errors,
            icmp_rate_limited,
            punted,
            injected,
            mgmt_punted,
            mgmt_injected,
            decapsulated,
            encapsulated,
            arp_punted,
            control_tx
        );
    }

    /// Bytes of the tables (what one snapshot carries beyond its scalars).
    pub fn table_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.ports)
            + std::mem::size_of_val(&*self.tenants)
            + std::mem::size_of_val(&*self.port_shape)
            + std::mem::size_of_val(&*self.tenant_shape)
    }

    /// Counts one dropped frame.
    #[inline]
    pub fn count_drop(&mut self, reason: DropReason) {
        self.drops[reason.index()] += 1;
    }

    /// Frames dropped for `reason`.
    pub fn drop_count(&self, reason: DropReason) -> u64 {
        self.drops[reason.index()]
    }

    /// All drops.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The counters of `port` (ids past the table share the last slot; the topology sized
    /// the table, so that only happens for ids no topology port has).
    #[inline]
    pub fn port_mut(&mut self, port: usize) -> &mut PortCounters {
        if self.ports.is_empty() {
            self.ensure(1, 1); // never: `new` makes at least one slot
        }
        let last = self.ports.len() - 1;
        &mut self.ports[port.min(last)]
    }

    /// The counters of `tenant` (ids past the table share the last slot).
    #[inline]
    pub fn tenant_mut(&mut self, tenant: usize) -> &mut TenantCounters {
        if self.tenants.is_empty() {
            self.ensure(1, 1);
        }
        let last = self.tenants.len() - 1;
        &mut self.tenants[tenant.min(last)]
    }

    /// The shaper counters of `port` (as [`Self::port_mut`]).
    #[inline]
    pub fn port_shape_mut(&mut self, port: usize) -> &mut ShapeCounters {
        if self.port_shape.is_empty() {
            self.ensure(1, 1);
        }
        let last = self.port_shape.len() - 1;
        &mut self.port_shape[port.min(last)]
    }

    /// The shaper counters of `tenant` (as [`Self::tenant_mut`]).
    #[inline]
    pub fn tenant_shape_mut(&mut self, tenant: usize) -> &mut ShapeCounters {
        if self.tenant_shape.is_empty() {
            self.ensure(1, 1);
        }
        let last = self.tenant_shape.len() - 1;
        &mut self.tenant_shape[tenant.min(last)]
    }

    /// The counters of `port`, zero when the table has no such port.
    pub fn port(&self, port: usize) -> PortCounters {
        self.ports.get(port).copied().unwrap_or_default()
    }

    /// The counters of `tenant`, zero when the table has no such tenant.
    pub fn tenant(&self, tenant: usize) -> TenantCounters {
        self.tenants.get(tenant).copied().unwrap_or_default()
    }

    /// Frames received on all ports.
    pub fn rx_packets(&self) -> u64 {
        self.ports.iter().map(|p| p.rx_packets).sum()
    }

    /// Frames transmitted on all ports.
    pub fn tx_packets(&self) -> u64 {
        self.ports.iter().map(|p| p.tx_packets).sum()
    }

    /// Applies `f` to every pair of corresponding counters of `self` and `other`.
    fn zip_with(&mut self, other: &WorkerCounters, f: impl Fn(u64, u64) -> u64) {
        for (a, b) in self.ports.iter_mut().zip(other.ports.iter()) {
            a.rx_packets = f(a.rx_packets, b.rx_packets);
            a.rx_bytes = f(a.rx_bytes, b.rx_bytes);
            a.rx_broadcast = f(a.rx_broadcast, b.rx_broadcast);
            a.tx_packets = f(a.tx_packets, b.tx_packets);
            a.tx_bytes = f(a.tx_bytes, b.tx_bytes);
            a.tx_dropped = f(a.tx_dropped, b.tx_dropped);
            a.encap_packets = f(a.encap_packets, b.encap_packets);
            a.decap_packets = f(a.decap_packets, b.decap_packets);
        }
        for (a, b) in self.tenants.iter_mut().zip(other.tenants.iter()) {
            a.rx_packets = f(a.rx_packets, b.rx_packets);
            a.rx_bytes = f(a.rx_bytes, b.rx_bytes);
            a.tx_packets = f(a.tx_packets, b.tx_packets);
            a.tx_bytes = f(a.tx_bytes, b.tx_bytes);
            a.fast_tx_bytes = f(a.fast_tx_bytes, b.fast_tx_bytes);
        }
        for (a, b) in self.drops.iter_mut().zip(other.drops.iter()) {
            *a = f(*a, *b);
        }
        for (a, b) in self
            .port_shape
            .iter_mut()
            .zip(other.port_shape.iter())
            .chain(self.tenant_shape.iter_mut().zip(other.tenant_shape.iter()))
        {
            a.conform_packets = f(a.conform_packets, b.conform_packets);
            a.conform_bytes = f(a.conform_bytes, b.conform_bytes);
            a.exceed_packets = f(a.exceed_packets, b.exceed_packets);
            a.exceed_bytes = f(a.exceed_bytes, b.exceed_bytes);
            a.drop_packets = f(a.drop_packets, b.drop_packets);
            a.drop_bytes = f(a.drop_bytes, b.drop_bytes);
        }
        for (a, b) in self.classes.iter_mut().zip(other.classes.iter()) {
            a.tx_packets = f(a.tx_packets, b.tx_packets);
            a.tx_bytes = f(a.tx_bytes, b.tx_bytes);
            a.tx_dropped = f(a.tx_dropped, b.tx_dropped);
            a.enqueued = f(a.enqueued, b.enqueued);
            a.queue_dropped = f(a.queue_dropped, b.queue_dropped);
            // A high-water mark is neither summed nor subtracted: see `add` and `since`.
        }
        macro_rules! scalars {
            ($($field:ident),*) => { $( self.$field = f(self.$field, other.$field); )* };
        }
        scalars!(
            batches,
            batch_frames,
            busy_polls,
            idle_polls,
            busy_cycles,
            idle_sleeps,
            arp_replies,
            echo_replies,
            icmp_errors,
            icmp_rate_limited,
            punted,
            injected,
            mgmt_punted,
            mgmt_injected,
            decapsulated,
            encapsulated,
            arp_punted,
            control_tx,
            redirected
        );
    }

    /// Adds `other` counter by counter (aggregation over workers; the tables grow to the
    /// larger of the two).
    pub fn add(&mut self, other: &WorkerCounters) {
        self.ensure(other.ports.len(), other.tenants.len());
        self.zip_with(other, u64::wrapping_add);
        for (a, b) in self.classes.iter_mut().zip(other.classes.iter()) {
            a.queue_high_water = a.queue_high_water.max(b.queue_high_water);
        }
    }

    /// `self - baseline` counter by counter (after `clear counters`; saturating at 0).
    pub fn since(&self, baseline: &WorkerCounters) -> WorkerCounters {
        let mut out = self.clone();
        out.zip_with(baseline, u64::saturating_sub);
        out
    }

    /// Average frames per non-empty batch.
    pub fn batch_fill(&self) -> f64 {
        if self.batches == 0 {
            0.0
        } else {
            self.batch_frames as f64 / self.batches as f64
        }
    }

    /// TSC cycles per processed frame.
    pub fn cycles_per_packet(&self) -> f64 {
        if self.batch_frames == 0 {
            0.0
        } else {
            self.busy_cycles as f64 / self.batch_frames as f64
        }
    }

    /// Share of poll rounds that found work, 0..=100.
    pub fn busy_percent(&self) -> f64 {
        let all = self.busy_polls + self.idle_polls;
        if all == 0 {
            0.0
        } else {
            100.0 * self.busy_polls as f64 / all as f64
        }
    }

    /// Non-zero drop counters with their names, in reason order.
    pub fn drops_named(&self) -> Vec<(DropReason, u64)> {
        DropReason::ALL.iter().map(|r| (*r, self.drops[r.index()])).filter(|(_, n)| *n > 0).collect()
    }
}

/// Replaces `table` by one of `len` entries holding the old ones first, then `zero`s.
fn grow<T: Copy>(table: &mut Box<[T]>, len: usize, zero: T) {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(table);
    v.resize(len.max(table.len()), zero);
    *table = v.into_boxed_slice();
}

/// One worker's counters at one moment.
#[derive(Clone, Debug)]
pub struct StatsSnapshot {
    /// Worker index.
    pub worker: usize,
    /// Core the worker is pinned to, if any.
    pub core: Option<usize>,
    /// Increases with every snapshot of this worker.
    pub seq: u64,
    /// When the snapshot was taken.
    pub at: Instant,
    /// True in the last snapshot a worker sends before it exits.
    pub stopped: bool,
    pub counters: WorkerCounters,
}

/// Read the CPU's time-stamp counter (cycles); falls back to nanoseconds elsewhere.
#[inline]
pub fn cycles() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no memory effects and is available on every x86_64 CPU.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        use std::sync::OnceLock;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Worker side of one stats ring.
pub struct StatsPublisher {
    worker: usize,
    core: Option<usize>,
    producer: rtrb::Producer<StatsSnapshot>,
    /// Tables the collector is done with, to be filled again (no allocation per publish).
    returned: rtrb::Consumer<WorkerCounters>,
    /// A table kept from a publish the full ring refused.
    spare: Option<WorkerCounters>,
    /// Tables this publisher may still allocate before it only reuses returned ones (the
    /// ring's capacity plus what the collector holds: latest, previous, one in flight).
    may_allocate: usize,
    interval: Duration,
    last: Option<Instant>,
    seq: u64,
    /// Snapshots lost because the ring was full (the next one carries the totals anyway).
    pub lost: u64,
}

impl StatsPublisher {
    /// Sets the interval between periodic snapshots (default [`PUBLISH_INTERVAL`]).
    pub fn set_interval(&mut self, interval: Duration) {
        self.interval = interval;
    }

    /// Sets the core reported in snapshots.
    pub fn set_core(&mut self, core: Option<usize>) {
        self.core = core;
    }

    /// Worker index of this ring.
    pub fn worker(&self) -> usize {
        self.worker
    }

    /// Pushes a snapshot when the interval has passed since the last one; returns whether
    /// it pushed. Never blocks: a full ring loses this snapshot (counted in `lost`).
    #[inline]
    pub fn maybe_publish(&mut self, counters: &WorkerCounters, now: Instant) -> bool {
        match self.last {
            Some(last) if now.saturating_duration_since(last) < self.interval => false,
            _ => self.publish(counters, now, false),
        }
    }

    /// Pushes a snapshot now (`stopped` marks the worker's last one).
    pub fn publish(&mut self, counters: &WorkerCounters, now: Instant, stopped: bool) -> bool {
        self.last = Some(now);
        self.seq += 1;
        let mut table = match self.spare.take().or_else(|| self.returned.pop().ok()) {
            Some(t) => t,
            None if self.may_allocate > 0 => {
                // Warm-up: the first few publishes allocate the tables that then circulate.
                self.may_allocate -= 1;
                counters.clone()
            }
            None => {
                self.lost += 1;
                return false;
            }
        };
        table.copy_from(counters);
        let snap = StatsSnapshot {
            worker: self.worker,
            core: self.core,
            seq: self.seq,
            at: now,
            stopped,
            counters: table,
        };
        match self.producer.push(snap) {
            Ok(()) => true,
            Err(rtrb::PushError::Full(snap)) => {
                self.spare = Some(snap.counters);
                self.lost += 1;
                false
            }
        }
    }
}

/// Collector side of one worker's rings: snapshots in, used tables back.
pub struct StatsConsumer {
    snapshots: rtrb::Consumer<StatsSnapshot>,
    back: rtrb::Producer<WorkerCounters>,
}

impl StatsConsumer {
    /// The oldest snapshot not yet taken.
    pub fn pop(&mut self) -> Result<StatsSnapshot, rtrb::PopError> {
        self.snapshots.pop()
    }

    /// Hands a snapshot's table back to the worker for reuse (dropped if the ring is full).
    pub fn recycle(&mut self, counters: WorkerCounters) {
        let _ = self.back.push(counters);
    }
}

/// Creates the rings of worker `worker`: the publisher goes to the worker, the consumer to
/// [`StatsCollector::new`].
pub fn channel(worker: usize, capacity: usize) -> (StatsPublisher, StatsConsumer) {
    let capacity = capacity.max(1);
    let (producer, snapshots) = rtrb::RingBuffer::new(capacity);
    let pool = capacity + 3;
    let (back, returned) = rtrb::RingBuffer::new(pool);
    (
        StatsPublisher {
            worker,
            core: None,
            producer,
            returned,
            spare: None,
            may_allocate: pool,
            interval: PUBLISH_INTERVAL,
            last: None,
            seq: 0,
            lost: 0,
        },
        StatsConsumer { snapshots, back },
    )
}

/// What the reader knows about one worker.
#[derive(Clone, Debug)]
struct WorkerSlot {
    latest: Option<StatsSnapshot>,
    previous: Option<StatsSnapshot>,
    baseline: WorkerCounters,
}

#[derive(Debug, Default)]
struct Shared {
    slots: Vec<WorkerSlot>,
    /// Snapshots received in total.
    received: u64,
}

/// Consumer side: owns the rings and moves what arrives into the shared view.
pub struct StatsCollector {
    consumers: Vec<StatsConsumer>,
    shared: Arc<Mutex<Shared>>,
}

impl StatsCollector {
    /// Collects from these rings (index = worker index) and returns the reader of the result.
    pub fn new(consumers: Vec<StatsConsumer>) -> (StatsCollector, StatsReader) {
        let slots = vec![
            WorkerSlot { latest: None, previous: None, baseline: WorkerCounters::new(1, 1) };
            consumers.len()
        ];
        let shared = Arc::new(Mutex::new(Shared { slots, received: 0 }));
        (StatsCollector { consumers, shared: shared.clone() }, StatsReader { shared })
    }

    /// Drains every ring into the shared view; returns how many snapshots arrived.
    pub fn poll(&mut self) -> usize {
        let mut got = 0;
        let mut shared = lock(&self.shared);
        for (i, c) in self.consumers.iter_mut().enumerate() {
            while let Ok(snap) = c.pop() {
                got += 1;
                match shared.slots.get_mut(i) {
                    Some(slot) => {
                        let old = std::mem::replace(&mut slot.previous, slot.latest.take());
                        slot.latest = Some(snap);
                        if let Some(old) = old {
                            c.recycle(old.counters);
                        }
                    }
                    None => c.recycle(snap.counters),
                }
            }
        }
        shared.received += got as u64;
        got
    }

    /// Runs [`poll`](Self::poll) every `interval` on a thread until `stop` is set (one last
    /// poll after it is).
    pub fn spawn(mut self, interval: Duration, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new().name("vns-stats".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                self.poll();
                std::thread::sleep(interval);
            }
            self.poll();
        })
    }
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock cannot leave counters half-written in a harmful way.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One worker as the shell shows it (`show processes`), relative to the last `clear`.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerView {
    pub index: usize,
    pub core: Option<usize>,
    /// Counters since the last `clear()`.
    pub counters: WorkerCounters,
    /// Received / transmitted frames per second over the last snapshot interval.
    pub rx_pps: f64,
    pub tx_pps: f64,
    /// Age of the newest snapshot.
    pub age: Duration,
    /// The worker has exited.
    pub stopped: bool,
}

/// Aggregated, read-only view of all workers' counters for the shell. Cheap to clone.
#[derive(Clone, Debug)]
pub struct StatsReader {
    shared: Arc<Mutex<Shared>>,
}

impl StatsReader {
    /// Number of workers.
    pub fn worker_count(&self) -> usize {
        lock(&self.shared).slots.len()
    }

    /// Snapshots received so far (tests wait on it).
    pub fn received(&self) -> u64 {
        lock(&self.shared).received
    }

    /// Per worker, in index order (workers that sent nothing yet show zeros).
    pub fn workers(&self) -> Vec<WorkerView> {
        let shared = lock(&self.shared);
        let now = Instant::now();
        shared
            .slots
            .iter()
            .enumerate()
            .map(|(index, slot)| {
                let Some(latest) = &slot.latest else {
                    return WorkerView {
                        index,
                        core: None,
                        counters: WorkerCounters::new(1, 1),
                        rx_pps: 0.0,
                        tx_pps: 0.0,
                        age: Duration::ZERO,
                        stopped: false,
                    };
                };
                let (rx_pps, tx_pps) = match &slot.previous {
                    Some(prev) => {
                        let dt = latest.at.saturating_duration_since(prev.at).as_secs_f64();
                        if dt > 0.0 {
                            (
                                latest.counters.rx_packets().saturating_sub(prev.counters.rx_packets())
                                    as f64
                                    / dt,
                                latest.counters.tx_packets().saturating_sub(prev.counters.tx_packets())
                                    as f64
                                    / dt,
                            )
                        } else {
                            (0.0, 0.0)
                        }
                    }
                    None => (0.0, 0.0),
                };
                WorkerView {
                    index,
                    core: latest.core,
                    counters: latest.counters.since(&slot.baseline),
                    rx_pps,
                    tx_pps,
                    age: now.saturating_duration_since(latest.at),
                    stopped: latest.stopped,
                }
            })
            .collect()
    }

    /// All workers summed, since the last `clear()`.
    pub fn totals(&self) -> WorkerCounters {
        let mut total = WorkerCounters::new(1, 1);
        for w in self.workers() {
            total.add(&w.counters);
        }
        total
    }

    /// One port summed over workers (zeros for a port no worker counted).
    pub fn port(&self, port: usize) -> PortCounters {
        self.totals().port(port)
    }

    /// One tenant summed over workers (zeros for a tenant no worker counted).
    pub fn tenant(&self, tenant: usize) -> TenantCounters {
        self.totals().tenant(tenant)
    }

    /// Non-zero drops summed over workers, with their names.
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        self.totals().drops_named().into_iter().map(|(r, n)| (r.name(), n)).collect()
    }

    /// `clear counters`: later reads count from now on (workers are not touched).
    pub fn clear(&self) {
        let mut shared = lock(&self.shared);
        for slot in shared.slots.iter_mut() {
            if let Some(latest) = &slot.latest {
                slot.baseline = latest.counters.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_collect_aggregate_and_clear() {
        let (mut p0, c0) = channel(0, 4);
        let (mut p1, c1) = channel(1, 4);
        let (mut collector, reader) = StatsCollector::new(vec![c0, c1]);
        let t0 = Instant::now();
        let mut w0 = WorkerCounters::default();
        w0.port_mut(1).rx_packets = 10;
        w0.count_drop(DropReason::NoRoute);
        let mut w1 = WorkerCounters::default();
        w1.port_mut(1).rx_packets = 5;
        w1.port_mut(200).tx_packets = 1; // clamped into the last slot
        w1.count_drop(DropReason::NoRoute);
        w1.count_drop(DropReason::TtlExceeded);
        assert!(p0.maybe_publish(&w0, t0));
        assert!(!p0.maybe_publish(&w0, t0 + Duration::from_millis(50)), "interval not yet passed");
        assert!(p1.publish(&w1, t0, false));
        assert_eq!(collector.poll(), 2);
        assert_eq!(reader.port(1).rx_packets, 15);
        assert_eq!(reader.port(DEFAULT_PORTS - 1).tx_packets, 1);
        assert_eq!(reader.drops(), vec![("no_route", 2), ("ttl_exceeded", 1)]);

        reader.clear();
        assert_eq!(reader.port(1).rx_packets, 0);
        assert!(reader.drops().is_empty());
        w0.port_mut(1).rx_packets = 30;
        assert!(p0.maybe_publish(&w0, t0 + Duration::from_millis(200)));
        collector.poll();
        assert_eq!(reader.port(1).rx_packets, 20);
        let views = reader.workers();
        assert_eq!(views.len(), 2);
        assert!((views[0].rx_pps - 100.0).abs() < 1e-6, "20 frames in 200 ms: {}", views[0].rx_pps);
    }

    #[test]
    fn overlay_counters_are_summed_and_cleared_by_the_reader() {
        let (mut p0, c0) = channel(0, 4);
        let (mut p1, c1) = channel(1, 4);
        let (mut collector, reader) = StatsCollector::new(vec![c0, c1]);
        let t0 = Instant::now();
        let mut w0 = WorkerCounters::default();
        w0.port_mut(3).encap_packets = 4;
        w0.port_mut(3).decap_packets = 1;
        w0.tenant_mut(0).fast_tx_bytes = 400;
        w0.arp_punted = 2;
        let mut w1 = WorkerCounters::default();
        w1.port_mut(3).encap_packets = 6;
        w1.tenant_mut(0).fast_tx_bytes = 600;
        w1.control_tx = 1;
        assert!(p0.publish(&w0, t0, false) && p1.publish(&w1, t0, false));
        collector.poll();
        assert_eq!((reader.port(3).encap_packets, reader.port(3).decap_packets), (10, 1));
        assert_eq!(reader.tenant(0).fast_tx_bytes, 1000);
        assert_eq!((reader.totals().arp_punted, reader.totals().control_tx), (2, 1));
        reader.clear();
        w0.tenant_mut(0).fast_tx_bytes = 450;
        assert!(p0.publish(&w0, t0 + Duration::from_millis(200), false));
        collector.poll();
        assert_eq!(reader.tenant(0).fast_tx_bytes, 50);
        assert_eq!(reader.port(3).encap_packets, 0);
    }

    #[test]
    fn full_ring_loses_snapshots_without_blocking() {
        let (mut p, mut c) = channel(0, 1);
        let w = WorkerCounters::default();
        assert!(p.publish(&w, Instant::now(), false));
        assert!(!p.publish(&w, Instant::now(), true));
        assert_eq!(p.lost, 1);
        assert_eq!(c.pop().map(|s| s.seq).ok(), Some(1));
    }

    #[test]
    fn derived_rates() {
        let w = WorkerCounters {
            batches: 4,
            batch_frames: 100,
            busy_cycles: 5000,
            busy_polls: 1,
            idle_polls: 3,
            ..WorkerCounters::default()
        };
        assert_eq!(w.batch_fill(), 25.0);
        assert_eq!(w.cycles_per_packet(), 50.0);
        assert_eq!(w.busy_percent(), 25.0);
    }

    /// Tables are sized from the topology and grown, never silently merged, when a snapshot
    /// has more ports or tenants; the counts already there stay.
    #[test]
    fn tables_are_sized_from_the_topology_and_grow_keeping_counts() {
        let mut c = WorkerCounters::new(1000, 1000);
        assert_eq!(
            (c.ports.len(), c.tenants.len(), c.port_shape.len(), c.tenant_shape.len()),
            (1000, 1000, 1000, 1000)
        );
        c.port_mut(999).rx_packets = 7;
        c.tenant_mut(999).tx_bytes = 9;
        c.ensure(10, 10);
        assert_eq!(c.ports.len(), 1000, "never shrinks");
        c.ensure(1500, 4000);
        assert_eq!((c.ports.len(), c.tenants.len()), (1500, 4000));
        assert_eq!((c.port(999).rx_packets, c.tenant(999).tx_bytes), (7, 9));
        c.tenant_mut(3999).rx_packets = 1;
        assert_eq!(c.tenant(3999).rx_packets, 1, "the new tenant has its own slot");
        assert_eq!(c.tenant(3998).rx_packets, 0);
        c.ensure(MAX_PORTS + 10, MAX_TENANTS + 10);
        assert_eq!((c.ports.len(), c.tenants.len()), (MAX_PORTS, MAX_TENANTS));
        // Past the table: the last slot, never a panic.
        c.port_mut(usize::MAX).tx_packets += 1;
        assert_eq!(c.port(MAX_PORTS - 1).tx_packets, 1);
        // Aggregation grows to the larger table.
        let mut total = WorkerCounters::new(1, 1);
        total.add(&c);
        assert_eq!((total.ports.len(), total.tenant(3999).rx_packets), (MAX_PORTS, 1));
        // 1000 tenants: a snapshot carries about 200 KB of tables, not the 4096-entry maximum.
        let t = WorkerCounters::new(1000, 1000).table_bytes();
        assert!(t < 256 * 1024, "{t} bytes");
    }

    /// After the warm-up, snapshots reuse the tables the collector hands back: a worker
    /// publishing forever allocates a bounded number of tables.
    #[test]
    fn snapshot_tables_circulate_instead_of_being_allocated() {
        let (mut p, c) = channel(0, 2);
        let (mut collector, reader) = StatsCollector::new(vec![c]);
        let mut w = WorkerCounters::new(1000, 1000);
        let t0 = Instant::now();
        let mut tables = std::collections::HashSet::new();
        for i in 0..50u64 {
            w.port_mut(5).rx_packets = i;
            assert!(p.publish(&w, t0 + Duration::from_millis(100 * i), false), "publish {i}");
            assert_eq!(collector.poll(), 1);
            let shared = lock(&collector.shared);
            let latest = shared.slots[0].latest.as_ref().expect("latest");
            tables.insert(latest.counters.ports.as_ptr() as usize);
            drop(shared);
            assert_eq!(reader.port(5).rx_packets, i);
        }
        assert!(tables.len() <= 2 + 3, "{} distinct tables for 50 snapshots", tables.len());
        assert_eq!(p.lost, 0);
    }
}
