//! What the shell reads from and asks of the data plane, as traits so the shell builds and
//! tests without workers: [`StatsSource`] (aggregated worker/port/tenant counters) and
//! [`Prober`] (router-originated ICMP probes for `ping`/`traceroute`). The capture point and
//! the flow tables are the data plane's own types (`switch::capture::Capture`,
//! `switch::flows::FlowReader`), which work without workers too.

use std::net::Ipv4Addr;
use std::time::Duration;

/// One worker as `show processes` prints it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerStats {
    /// Worker index (queue id on every port).
    pub index: usize,
    /// CPU core the worker is pinned to.
    pub core: usize,
    /// Packets received/transmitted per second (last interval).
    pub rx_pps: f64,
    pub tx_pps: f64,
    /// Totals since start (minus `clear counters`).
    pub rx_packets: u64,
    pub tx_packets: u64,
    /// Drops by reason name, e.g. `("ttl_exceeded", 3)`.
    pub drops: Vec<(String, u64)>,
    /// Average frames per non-empty batch and the batch size limit.
    pub batch_fill: f64,
    pub batch_size: usize,
    /// TSC cycles per packet (busy time / packets).
    pub cycles_per_packet: f64,
    /// Share of polls that found work, 0..=100.
    pub busy_percent: f64,
    /// In-band management packets punted to the management stacks / injected from them.
    pub mgmt_punted: u64,
    pub mgmt_injected: u64,
}

/// Counters of one port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortCounters {
    pub name: String,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_broadcast: u64,
    pub drops: u64,
    /// Uplinks: frames VXLAN-encapsulated to leave on the port.
    pub encap_packets: u64,
    /// Uplinks: frames decapsulated from the port into a tenant's network.
    pub decap_packets: u64,
    /// Why the port's link is down (its device is missing or was removed), None when up.
    pub link_down: Option<String>,
}

/// Counters of one tenant (VRF), summed over workers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TenantCounters {
    /// Tenant name.
    pub name: String,
    /// Frames that entered the tenant's network, and their bytes.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames of the tenant queued for transmission, and their bytes.
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// Counters of one shaper (`show policy-map interface`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShaperCounters {
    pub conform_packets: u64,
    pub conform_bytes: u64,
    /// Arrived over the rate (queued, or dropped when the queue was full).
    pub exceed_packets: u64,
    pub exceed_bytes: u64,
    /// Over the rate and dropped.
    pub drop_packets: u64,
    pub drop_bytes: u64,
}

/// Counters of one egress priority class over all ports (`show policy-map interface`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassStats {
    /// `platinum`, `gold` or `silver`.
    pub class: String,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Refused by a transmit ring that said it had room (normally 0).
    pub dropped: u64,
    /// Waited in a port's class queue (ring full, shaper out of tokens, or older frames
    /// waiting).
    pub enqueued: u64,
    /// Dropped because the class queue was full.
    pub queue_dropped: u64,
    /// Deepest one port's queue of the class has been (frames; not cleared).
    pub queue_high_water: u64,
}

/// Aggregated statistics, readable from any thread.
pub trait StatsSource: Send + Sync {
    /// Per tenant (by tenant name); the default knows none.
    fn tenants(&self) -> Vec<TenantCounters> {
        Vec::new()
    }
    /// Per worker, in index order.
    fn workers(&self) -> Vec<WorkerStats>;
    /// Per port (by port name).
    fn ports(&self) -> Vec<PortCounters>;
    /// `clear counters`: later reads are relative to now.
    fn clear(&self);
    /// Shaper counters of each port, by port name (zeros when never shaped).
    fn port_shapers(&self) -> Vec<(String, ShaperCounters)> {
        Vec::new()
    }
    /// Shaper counters of each tenant's service-level rate, by tenant index.
    fn tenant_shapers(&self) -> Vec<ShaperCounters> {
        Vec::new()
    }
    /// Egress priority classes, platinum first.
    fn classes(&self) -> Vec<ClassStats> {
        Vec::new()
    }
    /// Frames an `ip redirect` sent elsewhere.
    fn redirected(&self) -> u64 {
        0
    }
}

/// Where a router-originated probe starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSource {
    pub tenant: String,
    /// The tenant's index (`TenantId`): answers are matched within this tenant only.
    pub tenant_id: rib::TenantId,
    pub router: String,
    /// Global router index (`RouterId`): the tenants' routers in file order.
    pub router_id: rib::RouterId,
    /// Source address of the probe (the router's interface toward the destination).
    pub source: Ipv4Addr,
}

/// What came back for one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeReply {
    /// Echo reply from the destination.
    Echo { from: Ipv4Addr, rtt: Duration },
    /// Time exceeded from a hop on the way.
    TimeExceeded { from: Ipv4Addr, rtt: Duration },
    /// Destination unreachable (ICMP code) from a router.
    Unreachable { from: Ipv4Addr, code: u8, rtt: Duration },
    /// Nothing within the timeout.
    Timeout,
}

/// Sends ICMP echo probes as if originated by a logical router and waits for the answer.
pub trait Prober: Send + Sync {
    /// One probe; blocks up to `timeout`.
    fn probe(&self, source: &ProbeSource, dst: Ipv4Addr, ttl: u8, seq: u16, timeout: Duration) -> ProbeReply;
}
