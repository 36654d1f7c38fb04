//! The forwarding pipeline: one module per stage, each one function over a fixed-size batch
//! of frames, rewriting them in place in the worker's frame buffer (VPP graph-node style):
//! [`parse`] → [`classify`] (port/VLAN/VNI → tenant, table; VXLAN decap checks) → [`local`]
//! (ARP for gateways, also over VXLAN; substrate ARP on uplinks) → [`policy`] (`ip redirect`
//! destination rewrite) → [`lookup`] (LPM in the ingress router's table) → [`forward`] (TTL
//! per logical hop, MACs, VLAN, VXLAN [`encap`], echo replies from router addresses, ICMP
//! errors, punt of probe answers) → [`schedule`] (tenant shapers; port shapers and the
//! per-port priority class queues at egress) → [`egress`] (tx per port in service-level
//! priority order, punts, drops counted by [`DropReason`]). Headers are added and removed by
//! moving the packet's start in its frame ([`FrameBuf::adjust_head`]), never the packet.
//! Runs on worker threads: no allocation, no lock, no panic on any input; the FIB snapshot
//! is passed in once per batch and time (`now`) comes from the caller.

pub mod classify;
mod drop;
pub mod egress;
pub mod encap;
pub mod forward;
pub mod icmp_error;
pub mod local;
pub mod lookup;
pub mod parse;
pub mod policy;
pub mod schedule;

pub use drop::DropReason;

use crate::port::{FrameBuf, Ports};
use crate::punt::PuntQueues;
use crate::stats::WorkerCounters;
use rib::{FibSnapshot, Ipv4Prefix, MacAddr, NodeId, PortId, RouterId, TableId, TenantId};
use std::net::Ipv4Addr;
use std::time::Instant;

/// Frames per batch (the most `rx_burst` is asked for at once).
pub const BATCH: usize = 64;

/// Adjacency index meaning "lookup missed" (or not looked up).
pub const NO_ADJ: u32 = u32::MAX;

/// [`Meta::tenant`] of a frame of no tenant (substrate ARP on an uplink): not counted per
/// tenant.
pub const NO_TENANT: TenantId = TenantId(u16::MAX);

/// [`Meta::remote`] of a frame that did not come from a remote host.
pub const NO_REMOTE: u32 = u32::MAX;

/// What happens to a frame after the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verdict {
    /// Still being processed (no stage decided yet).
    #[default]
    Pending,
    /// Transmit on this port.
    Tx(PortId),
    /// Drop, counting the reason.
    Drop(DropReason),
    /// Hand to the shell through the punt queue (answer to a router probe).
    Punt,
    /// Hand the IP packet to the tenant's in-band management queue ([`crate::mgmt`]): TCP
    /// 23/22 or UDP 161 to a router address.
    PuntMgmt,
    /// Hand to the control plane through the ARP queue with the ingress port (ARP on an
    /// uplink that the pipeline does not answer itself).
    PuntArp,
    /// Held in the egress port's shaper queue ([`schedule`]): sent later, not by egress.
    Queued,
}

/// Network-layer protocol found by [`parse`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum L3 {
    #[default]
    Other,
    Arp,
    Ipv4,
}

/// Per-frame summary written by [`parse`] and read by later stages (smoltcp `Repr` style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    pub verdict: Verdict,
    pub l3: L3,
    /// Offset of the ARP/IPv4 header (14, or 18 when tagged).
    pub l3_off: u8,
    /// Ingress 802.1Q VLAN id.
    pub vlan: Option<u16>,
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    /// IPv4 source and destination (valid when `l3 == Ipv4`).
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub proto: u8,
    /// Set by [`classify`] ([`NO_TENANT`] until then, and for substrate frames).
    pub tenant: TenantId,
    pub table: TableId,
    /// Adjacency index in `table`, set by [`lookup`] ([`NO_ADJ`] on a miss).
    pub adj: u32,
    /// For a frame decapsulated on an uplink: index of its source host in
    /// `FibSnapshot::remote_hosts` (where it enters the virtual network); else [`NO_REMOTE`].
    pub remote: u32,
    /// A frame from a peer appliance that already crossed the logical routers there (inner
    /// MACs of a delivery, not of a host-to-gateway frame): [`forward`] delivers it unchanged
    /// when it is exactly what this appliance would deliver, else drops it as forged.
    pub prerouted: bool,
}

impl Default for Meta {
    fn default() -> Self {
        Meta::EMPTY
    }
}

impl Meta {
    pub const EMPTY: Meta = Meta {
        verdict: Verdict::Pending,
        l3: L3::Other,
        l3_off: 14,
        vlan: None,
        dst_mac: MacAddr::ZERO,
        src_mac: MacAddr::ZERO,
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
        ttl: 0,
        proto: 0,
        tenant: NO_TENANT,
        table: TableId(0),
        adj: NO_ADJ,
        remote: NO_REMOTE,
        prerouted: false,
    };

    #[inline]
    pub fn pending(&self) -> bool {
        self.verdict == Verdict::Pending
    }

    #[inline]
    pub fn drop(&mut self, reason: DropReason) {
        self.verdict = Verdict::Drop(reason);
    }
}

/// Where a batch came from: all frames of one batch share it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingress {
    /// Received on this port.
    Port(PortId),
    /// Probes injected by the shell, originated by this logical router.
    Router(RouterId),
}

/// A batch of frame descriptors with their per-frame metadata (lives on the worker's stack).
#[derive(Clone, Debug)]
pub struct Batch<D> {
    pub ingress: Ingress,
    pub len: usize,
    pub desc: [D; BATCH],
    pub meta: [Meta; BATCH],
}

impl<D: Copy + Default> Batch<D> {
    pub fn new(ingress: Ingress) -> Self {
        Batch { ingress, len: 0, desc: [D::default(); BATCH], meta: [Meta::EMPTY; BATCH] }
    }

    /// Starts a new batch of `len` frames already in `desc[..len]`. Their metadata is
    /// written from scratch by the first stage ([`parse::run`]), so it is not cleared here.
    #[inline]
    pub fn reset(&mut self, ingress: Ingress, len: usize) {
        self.ingress = ingress;
        self.len = len.min(BATCH);
    }
}

/// What [`classify`] learned about the batch's ingress, used by the later stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IngressCtx {
    /// A tenant access port.
    Access {
        port: PortId,
        tenant: TenantId,
        table: TableId,
        router: RouterId,
        vlan: Option<u16>,
        gateway_ip: Ipv4Addr,
        gateway_mac: MacAddr,
        subnet: Ipv4Prefix,
    },
    /// A substrate uplink: every frame was decapsulated (or is substrate ARP) and carries its
    /// own origin in [`Meta::remote`]; later stages take the per-frame
    /// [`IngressCtx::Remote`] from [`IngressCtx::for_frame`].
    Uplink { port: PortId },
    /// One frame from a host on another substrate node, decapsulated on `uplink`: it enters
    /// the virtual network at `router` exactly as from an access port with that gateway;
    /// messages generated for it go back encapsulated on the tunnel of (`tenant`, `node`).
    Remote {
        uplink: PortId,
        tenant: TenantId,
        table: TableId,
        router: RouterId,
        gateway_ip: Ipv4Addr,
        gateway_mac: MacAddr,
        node: NodeId,
    },
    /// Probes originated by `router` (answers generated inside the box are punted).
    Router { router: RouterId, table: TableId, tenant: TenantId },
    /// Nothing usable: every frame was dropped.
    Invalid,
}

impl IngressCtx {
    /// The context of one frame: the batch's, except on an uplink where each decapsulated
    /// frame has its own remote host ([`IngressCtx::Remote`]).
    #[inline]
    pub fn for_frame(&self, m: &Meta, fib: &FibSnapshot) -> IngressCtx {
        match *self {
            IngressCtx::Uplink { port } => match fib.remote_hosts.get(m.remote as usize) {
                Some(h) => IngressCtx::Remote {
                    uplink: port,
                    tenant: h.tenant,
                    table: h.table,
                    router: h.router,
                    gateway_ip: h.gateway_ip,
                    gateway_mac: h.gateway_mac,
                    node: h.node,
                },
                None => *self,
            },
            other => other,
        }
    }
}

/// A token bucket limiting the ICMP errors one worker generates for one tenant (no allocation).
#[derive(Clone, Copy, Debug)]
pub struct TokenBucket {
    tokens: u32,
    burst: u32,
    per_sec: u32,
    last: Option<Instant>,
}

impl TokenBucket {
    /// `per_sec` tokens per second, at most `burst` saved.
    pub const fn new(per_sec: u32, burst: u32) -> Self {
        TokenBucket { tokens: burst, burst, per_sec, last: None }
    }

    /// Takes one token if available.
    #[inline]
    pub fn take(&mut self, now: Instant) -> bool {
        match self.last {
            None => self.last = Some(now),
            Some(last) => {
                let dt = now.saturating_duration_since(last);
                let add = (dt.as_micros() as u64 * self.per_sec as u64 / 1_000_000) as u32;
                if add > 0 {
                    self.tokens = self.tokens.saturating_add(add).min(self.burst);
                    self.last = Some(now);
                }
            }
        }
        if self.tokens > 0 {
            self.tokens -= 1;
            true
        } else {
            false
        }
    }
}

/// Per-worker pipeline state (no per-frame allocation; one value per worker).
pub struct Pipeline {
    /// ICMP error budget of each tenant (index = tenant), all starting as `icmp_template`:
    /// one tenant drawing errors never starves another's. Grown (outside the per-frame
    /// path) when a snapshot brings more tenants.
    icmp_tenants: Vec<TokenBucket>,
    /// Budget of errors about frames of no tenant.
    icmp_other: TokenBucket,
    /// Per-tenant ICMP error rate limit (default 1000/s, burst 200).
    icmp_template: TokenBucket,
    /// In-band management punt budget of each tenant (index = tenant), all starting as
    /// `mgmt_template`: a tenant flooding its router addresses never uses another's budget.
    mgmt_tenants: Vec<TokenBucket>,
    /// Per-tenant management punt rate limit (default 1000 packets/s, burst 200).
    mgmt_template: TokenBucket,
    /// Whether management traffic is punted at all (the punt queues carry management
    /// queues); when false, TCP 23/22 and UDP 161 to a router address are treated like any
    /// other traffic to it.
    pub mgmt_enabled: bool,
    /// IP identification of generated packets.
    pub(crate) ip_ident: u16,
    /// Token buckets of the port and tenant shapers (boxed: a few KiB, allocated once).
    pub shapers: Box<schedule::Shapers>,
    /// The tenant shapers' queues and the port schedulers' class queues of frame
    /// descriptors (created by [`prepare`](Self::prepare), or at the first batch).
    pub(crate) queues: schedule::QueueSlot,
}

impl Clone for Pipeline {
    /// A copy of the state without the queues (they own frames of one port set).
    fn clone(&self) -> Self {
        Pipeline {
            icmp_tenants: self.icmp_tenants.clone(),
            icmp_other: self.icmp_other,
            icmp_template: self.icmp_template,
            mgmt_tenants: self.mgmt_tenants.clone(),
            mgmt_template: self.mgmt_template,
            mgmt_enabled: self.mgmt_enabled,
            ip_ident: self.ip_ident,
            shapers: self.shapers.clone(),
            queues: None,
        }
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("icmp_template", &self.icmp_template)
            .field("icmp_tenants", &self.icmp_tenants.len())
            .field("ip_ident", &self.ip_ident)
            .field("queues", &self.queues.is_some())
            .finish()
    }
}

impl Default for Pipeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Pipeline {
    pub fn new() -> Self {
        let limit = TokenBucket::new(1000, 200);
        Pipeline {
            icmp_tenants: Vec::new(),
            icmp_other: limit,
            icmp_template: limit,
            mgmt_tenants: Vec::new(),
            mgmt_template: TokenBucket::new(1000, 200),
            mgmt_enabled: false,
            ip_ident: 0,
            shapers: Box::default(),
            queues: None,
        }
    }

    /// Sets every tenant's ICMP error budget (and restarts them full).
    pub fn set_icmp_limit(&mut self, limit: TokenBucket) {
        self.icmp_template = limit;
        self.icmp_other = limit;
        self.icmp_tenants.iter_mut().for_each(|b| *b = limit);
    }

    /// Sets every tenant's in-band management punt budget (and restarts them full).
    pub fn set_mgmt_limit(&mut self, limit: TokenBucket) {
        self.mgmt_template = limit;
        self.mgmt_tenants.iter_mut().for_each(|b| *b = limit);
    }

    /// Makes room for the budgets of `tenants` tenants (allocates only when they grow).
    fn size_icmp_budgets(&mut self, tenants: usize) {
        if self.icmp_tenants.len() < tenants {
            self.icmp_tenants.resize(tenants, self.icmp_template);
        }
        if self.mgmt_tenants.len() < tenants {
            self.mgmt_tenants.resize(tenants, self.mgmt_template);
        }
    }

    /// Takes one token of `tenant`'s management punt budget (false for an unknown tenant).
    #[inline]
    pub(crate) fn mgmt_take(&mut self, tenant: TenantId, now: Instant) -> bool {
        self.mgmt_tenants.get_mut(tenant.index()).is_some_and(|b| b.take(now))
    }

    /// Takes one token of `tenant`'s ICMP error budget.
    #[inline]
    pub(crate) fn icmp_take(&mut self, tenant: TenantId, now: Instant) -> bool {
        match self.icmp_tenants.get_mut(tenant.index()) {
            Some(b) => b.take(now),
            None => self.icmp_other.take(now),
        }
    }

    /// Runs every stage except egress: afterwards each frame has a verdict other than
    /// `Pending` and its bytes are what will be sent.
    pub fn process<B: FrameBuf>(
        &mut self,
        buf: &mut B,
        batch: &mut Batch<B::Desc>,
        fib: &FibSnapshot,
        counters: &mut WorkerCounters,
        now: Instant,
    ) {
        self.size_icmp_budgets(fib.tenants.len());
        let any_arp = parse::run(buf, batch, counters);
        let ctx = classify::run(buf, batch, fib, counters);
        // On an uplink, decapsulation may have found ARP inside VXLAN.
        if any_arp || matches!(ctx, IngressCtx::Uplink { .. }) {
            local::run(self, buf, batch, &ctx, fib, counters);
        }
        policy::run(buf, batch, fib, counters);
        lookup::run(batch, fib);
        forward::run(self, buf, batch, &ctx, fib, counters, now);
        schedule::run(&mut self.shapers, &mut self.queues, buf, batch, fib, counters, now);
    }

    /// Allocates the shaper and class queues for `ports`' descriptors, bounded by its
    /// [`Ports::hold_budget`] (the worker calls it once, before traffic; [`run`](Self::run)
    /// does it at the first batch otherwise).
    pub fn prepare<P: Ports>(&mut self, ports: &P) {
        schedule::prepare::<P::Desc>(&mut self.queues, ports.hold_budget(), ports.port_count());
    }

    /// [`process`](Self::process) then [`egress::run`]: transmits (or queues), punts,
    /// recycles and counts every frame of the batch. The batch is empty afterwards.
    #[allow(clippy::too_many_arguments)]
    pub fn run<P: Ports>(
        &mut self,
        ports: &mut P,
        batch: &mut Batch<P::Desc>,
        fib: &FibSnapshot,
        punt: Option<&PuntQueues>,
        counters: &mut WorkerCounters,
        now: Instant,
    ) {
        if batch.len == 0 {
            return;
        }
        if self.queues.is_none() {
            self.prepare(ports);
        }
        // Frames waiting in the queues go before the new ones.
        self.drain_queues(ports, fib, counters, now);
        self.process(ports, batch, fib, counters, now);
        egress::run(&mut self.shapers, &mut self.queues, ports, batch, fib, punt, counters, now);
    }

    /// Sends what the tenant shapers' and port schedulers' queues may send now (see
    /// [`schedule::drain`]); the worker calls it every poll round. Returns the frames it sent
    /// (or dropped because their port went away).
    #[inline]
    pub fn drain_queues<P: Ports>(
        &mut self,
        ports: &mut P,
        fib: &FibSnapshot,
        counters: &mut WorkerCounters,
        now: Instant,
    ) -> usize {
        if self.queues.is_none() {
            return 0;
        }
        schedule::drain(&mut self.shapers, &mut self.queues, ports, fib, counters, now)
    }

    #[inline]
    pub(crate) fn next_ident(&mut self) -> u16 {
        self.ip_ident = self.ip_ident.wrapping_add(1);
        self.ip_ident
    }
}

#[cfg(test)]
mod act_tests;
#[cfg(test)]
mod tests;
