//! In-band management queues between the workers and the management thread (the `inband`
//! crate's smoltcp stacks). A worker that finds TCP to port 23 or 22, or UDP to port 161,
//! addressed to a logical router address ([`is_mgmt_port`]) copies the IP packet (no Ethernet
//! header, padding cut) into the **per-tenant** punt queue of that tenant; the management
//! side pushes IP packets "from router R" into one inject queue, which workers pop once per
//! round and route in R's table like the shell's probes.
//!
//! Every queue is a [`Pool`]: a fixed number of preallocated packet buffers moving between a
//! free list and a ready list, both lock-free bounded [`ArrayQueue`]s of boxes (a push or pop
//! moves a pointer; nothing is allocated or freed after construction, and no lock is taken).
//! A tenant flooding its router fills only its own pool: another tenant's pool stays usable.
//! The per-tenant rate limit of punted packets lives in each worker's pipeline
//! ([`crate::pipeline::Pipeline::set_mgmt_limit`]).

use crossbeam_queue::ArrayQueue;
use rib::{RouterId, TenantId};
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest IP packet carried (the tenant MTU of access ports).
pub const MGMT_PACKET_MAX: usize = 1500;
/// Buffers of each tenant's punt queue (1.5 KB each, allocated at start for every tenant: 32
/// covers an SSH key exchange burst between two polls of the management thread and keeps a
/// 1000-tenant appliance at ~48 MB of punt buffers).
pub const MGMT_SLOTS_PER_TENANT: usize = 32;
/// Buffers of the inject queue (shared by all tenants' stacks).
pub const MGMT_INJECT_SLOTS: usize = 256;
/// TCP ports served in-band: telnet and SSH.
pub const MGMT_TCP_PORTS: [u16; 2] = [23, 22];
/// UDP port served in-band: SNMP.
pub const MGMT_UDP_PORT: u16 = 161;

/// True for the transport destinations the management plane serves (`proto` is the IPv4
/// protocol number).
#[inline]
pub fn is_mgmt_port(proto: u8, dst_port: u16) -> bool {
    match proto {
        crate::wire::ipv4::protocol::TCP => MGMT_TCP_PORTS.contains(&dst_port),
        crate::wire::ipv4::protocol::UDP => dst_port == MGMT_UDP_PORT,
        _ => false,
    }
}

/// One IP packet in a queue buffer, with the router it concerns (for an injected packet,
/// the router that sends it; for a punted one, unused).
pub struct MgmtPacket {
    len: u16,
    /// Injected packets: the logical router that originates the packet.
    pub router: RouterId,
    bytes: [u8; MGMT_PACKET_MAX],
}

impl MgmtPacket {
    fn empty() -> Box<MgmtPacket> {
        Box::new(MgmtPacket { len: 0, router: RouterId(0), bytes: [0; MGMT_PACKET_MAX] })
    }

    /// The packet bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..(self.len as usize).min(MGMT_PACKET_MAX)]
    }
}

impl std::fmt::Debug for MgmtPacket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MgmtPacket({} bytes, router {})", self.len, self.router.0)
    }
}

/// Why a packet could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MgmtQueueError {
    #[error("management queue is full")]
    Full,
    #[error("packet of {0} bytes is larger than a management buffer ({MGMT_PACKET_MAX} bytes)")]
    TooBig(usize),
    #[error("no management queue for tenant {0}")]
    NoTenant(u16),
}

/// A bounded queue of packets over preallocated buffers (see the module docs).
pub struct Pool {
    free: ArrayQueue<Box<MgmtPacket>>,
    ready: ArrayQueue<Box<MgmtPacket>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pool(ready {}, free {})", self.ready.len(), self.free.len())
    }
}

impl Pool {
    /// `slots` buffers, all free (allocated here, once).
    pub fn new(slots: usize) -> Pool {
        let n = slots.max(1);
        let free = ArrayQueue::new(n);
        for _ in 0..n {
            let _ = free.push(MgmtPacket::empty());
        }
        Pool { free, ready: ArrayQueue::new(n) }
    }

    /// Copies `data` into a free buffer and queues it. No allocation, no lock.
    pub fn push(&self, data: &[u8], router: RouterId) -> Result<(), MgmtQueueError> {
        if data.len() > MGMT_PACKET_MAX {
            return Err(MgmtQueueError::TooBig(data.len()));
        }
        let mut b = self.free.pop().ok_or(MgmtQueueError::Full)?;
        b.bytes[..data.len()].copy_from_slice(data);
        b.len = data.len() as u16;
        b.router = router;
        // `ready` holds as many entries as there are buffers, so this cannot fail; if it did,
        // the buffer goes back to the free list rather than being freed.
        if let Err(b) = self.ready.push(b) {
            let _ = self.free.push(b);
            return Err(MgmtQueueError::Full);
        }
        Ok(())
    }

    /// The oldest queued packet; its buffer returns to the free list when the guard drops.
    pub fn pop(&self) -> Option<PoolEntry<'_>> {
        self.ready.pop().map(|b| PoolEntry { pool: self, packet: Some(b) })
    }

    /// Packets queued now.
    pub fn len(&self) -> usize {
        self.ready.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

/// A packet taken from a [`Pool`]; dropping it gives the buffer back.
pub struct PoolEntry<'a> {
    pool: &'a Pool,
    packet: Option<Box<MgmtPacket>>,
}

impl std::ops::Deref for PoolEntry<'_> {
    type Target = MgmtPacket;
    fn deref(&self) -> &MgmtPacket {
        // Always Some until drop.
        self.packet.as_deref().unwrap_or(&EMPTY)
    }
}

static EMPTY: MgmtPacket = MgmtPacket { len: 0, router: RouterId(0), bytes: [0; MGMT_PACKET_MAX] };

impl Drop for PoolEntry<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.packet.take() {
            let _ = self.pool.free.push(b);
        }
    }
}

/// Counters of the management side (atomics: written by the management thread).
#[derive(Debug, Default)]
pub struct MgmtCounters {
    /// Packets the management stacks took from the punt queues.
    pub received: AtomicU64,
    /// Packets the management stacks queued for injection.
    pub sent: AtomicU64,
    /// Packets the stacks wanted to send but the inject queue was full.
    pub inject_full: AtomicU64,
}

/// The per-tenant punt queues and the inject queue.
#[derive(Debug)]
pub struct MgmtQueues {
    tenants: Box<[Pool]>,
    /// IP packets from the management side, each to be routed as sent by its `router`.
    pub inject: Pool,
    /// Management-side counters.
    pub counters: MgmtCounters,
}

impl MgmtQueues {
    /// Queues for `tenants` tenants (ids `0..tenants`), `slots` buffers each, and an inject
    /// queue of `inject_slots` buffers.
    pub fn new(tenants: usize, slots: usize, inject_slots: usize) -> MgmtQueues {
        MgmtQueues {
            tenants: (0..tenants).map(|_| Pool::new(slots)).collect(),
            inject: Pool::new(inject_slots),
            counters: MgmtCounters::default(),
        }
    }

    /// Worker: queues the IP packet `ip` received for `tenant` (to one of its router
    /// addresses on a management port).
    #[inline]
    pub fn punt(&self, tenant: TenantId, ip: &[u8]) -> Result<(), MgmtQueueError> {
        match self.tenants.get(tenant.index()) {
            Some(p) => p.push(ip, RouterId(0)),
            None => Err(MgmtQueueError::NoTenant(tenant.0)),
        }
    }

    /// Management side: the punt queue of `tenant`.
    pub fn tenant(&self, tenant: TenantId) -> Option<&Pool> {
        self.tenants.get(tenant.index())
    }

    /// Number of tenants with a queue.
    pub fn tenant_count(&self) -> usize {
        self.tenants.len()
    }

    /// Management side: queues the IP packet `ip` to be routed as sent by `router`.
    pub fn send(&self, router: RouterId, ip: &[u8]) -> Result<(), MgmtQueueError> {
        let r = self.inject.push(ip, router);
        match r {
            Ok(()) => self.counters.sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.inject_full.fetch_add(1, Ordering::Relaxed),
        };
        r
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "mgmt_tests.rs"]
mod worker_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pool_is_bounded_and_recycles_buffers() {
        let p = Pool::new(2);
        p.push(&[1, 2, 3], RouterId(4)).unwrap();
        p.push(&[5], RouterId(4)).unwrap();
        assert_eq!(p.push(&[6], RouterId(4)), Err(MgmtQueueError::Full));
        assert_eq!(p.push(&[0; MGMT_PACKET_MAX + 1], RouterId(4)), Err(MgmtQueueError::TooBig(1501)));
        {
            let e = p.pop().unwrap();
            assert_eq!((e.as_slice(), e.router), (&[1u8, 2, 3][..], RouterId(4)));
            // Still taken while the entry lives.
            assert_eq!(p.push(&[6], RouterId(4)), Err(MgmtQueueError::Full));
        }
        p.push(&[7, 8], RouterId(1)).unwrap();
        assert_eq!(p.pop().unwrap().as_slice(), &[5]);
        assert_eq!(p.pop().unwrap().as_slice(), &[7, 8]);
        assert!(p.pop().is_none());
        let full = vec![0xab; MGMT_PACKET_MAX];
        p.push(&full, RouterId(0)).unwrap();
        assert_eq!(p.pop().unwrap().as_slice(), &full[..]);
    }

    #[test]
    fn tenants_have_their_own_queues() {
        let q = MgmtQueues::new(2, 4, 4);
        for _ in 0..4 {
            q.punt(TenantId(0), &[0x45]).unwrap();
        }
        assert_eq!(q.punt(TenantId(0), &[0x45]), Err(MgmtQueueError::Full));
        q.punt(TenantId(1), &[0x46]).unwrap();
        assert_eq!(q.punt(TenantId(2), &[0x46]), Err(MgmtQueueError::NoTenant(2)));
        assert_eq!(q.tenant(TenantId(1)).unwrap().pop().unwrap().as_slice(), &[0x46]);
        assert!(is_mgmt_port(6, 23) && is_mgmt_port(6, 22) && is_mgmt_port(17, 161));
        assert!(!is_mgmt_port(6, 80) && !is_mgmt_port(17, 23) && !is_mgmt_port(1, 23));
    }
}
