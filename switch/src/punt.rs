//! Router-originated probes for the shell's `ping` and `traceroute`. The shell builds an ICMP
//! echo request "from logical router R" and pushes it, as a fixed-size `Copy` frame, into a
//! lock-free inject queue; any worker pops injected probes once per batch and routes them in
//! R's table (R itself does not decrement the TTL). Each probe in flight owns one answer slot
//! keyed by (tenant, router address, random echo identifier and sequence): a worker hands an
//! ICMP answer addressed to a router address (echo reply, or time-exceeded / unreachable
//! quoting an echo request) to the slot of the probe it answers, received in that probe's
//! tenant, or drops it (`punt_not_probe`). Answers of one session never share room with
//! another's, so a tenant flooding forged answers cannot push out anybody's reply, and the
//! prober accepts only an answer that carries the probe's random data (echo reply) or quotes
//! its addresses and random IP identification (errors).
//!
//! The substrate side has two more queues, between the workers and the control plane that
//! resolves substrate next hops: workers push every ARP frame received on an uplink that is
//! not a request for the uplink's own address into [`PuntQueues::arp`] (never blocking: a
//! full queue counts `arp_queue_full`), and the control plane pushes raw frames to transmit on
//! a port (its ARP requests, see [`build_arp_request`]) into [`PuntQueues::control_tx`], which
//! workers drain once per round like injected probes.

use crate::wire::{arp, ethernet, icmp, ipv4};
use crossbeam_queue::ArrayQueue;
use rib::{MacAddr, PortId, RouterId, TenantId};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest frame carried by the inject and punt queues (longer punted frames are cut).
pub const QUEUED_FRAME_LEN: usize = 192;
/// Default capacity of each queue.
pub const QUEUE_CAPACITY: usize = 256;
/// Probes in flight at once (over all shell sessions).
pub const PROBE_SLOTS: usize = 256;
/// Slots a probe key may occupy (open addressing, looked at by the worker in order).
pub const PROBE_WAYS: usize = 4;
/// Answers kept per probe (the first genuine one is used; room for a few forged or late ones).
const ANSWERS_PER_PROBE: usize = 4;
/// Bytes of echo data in a probe.
pub const PROBE_DATA_LEN: usize = 16;
/// Echo data of [`build_echo`] (probes from [`Prober`] carry random data).
const PROBE_DATA: &[u8; PROBE_DATA_LEN] = b"vnswitch probe..";

/// A frame copied into a queue entry (no allocation).
#[derive(Clone, Copy)]
pub struct QueuedFrame {
    len: u16,
    bytes: [u8; QUEUED_FRAME_LEN],
}

impl QueuedFrame {
    /// Copies up to [`QUEUED_FRAME_LEN`] bytes of `data`.
    pub fn from_slice(data: &[u8]) -> Self {
        let n = data.len().min(QUEUED_FRAME_LEN);
        let mut bytes = [0u8; QUEUED_FRAME_LEN];
        bytes[..n].copy_from_slice(&data[..n]);
        QueuedFrame { len: n as u16, bytes }
    }

    /// The frame bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..(self.len as usize).min(QUEUED_FRAME_LEN)]
    }
}

impl std::fmt::Debug for QueuedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueuedFrame({} bytes)", self.len)
    }
}

/// A probe to route as originated by `router`: an Ethernet frame (MACs unused) carrying the
/// IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub struct InjectedProbe {
    pub router: RouterId,
    pub frame: QueuedFrame,
}

/// An ICMP frame a worker handed to the shell (the answer to one probe).
#[derive(Clone, Copy, Debug)]
pub struct PuntedFrame {
    /// When the worker punted it (start of its batch).
    pub at: Instant,
    pub frame: QueuedFrame,
}

/// A raw frame and the port it was received on or is to leave by.
#[derive(Clone, Copy, Debug)]
pub struct PortFrame {
    pub port: PortId,
    pub frame: QueuedFrame,
}

/// The queues shared by the shell and control-plane side and all workers (lock-free, bounded).
#[derive(Debug)]
pub struct PuntQueues {
    /// Probes from the shell, routed by a worker.
    pub inject: ArrayQueue<InjectedProbe>,
    /// Probes in flight, each with its own answer queue ([`PuntQueues::punt_answer`]).
    probes: Box<[ProbeSlot]>,
    /// ARP frames received on uplinks (replies to the control plane's requests, requests
    /// from substrate neighbours), for the control plane.
    pub arp: ArrayQueue<PortFrame>,
    /// Raw frames from the control plane, sent as they are by the next worker that polls.
    pub control_tx: ArrayQueue<PortFrame>,
    /// In-band management queues (None: management traffic is dropped as `mgmt_queue_full`).
    pub mgmt: Option<crate::mgmt::MgmtQueues>,
}

/// Errors of [`PuntQueues::send_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ControlTxError {
    #[error("control transmit queue is full")]
    QueueFull,
    #[error(
        "frame of {0} bytes does not fit a queue entry ({QUEUED_FRAME_LEN} bytes) or an Ethernet header"
    )]
    BadLength(usize),
}

impl PuntQueues {
    pub fn new(capacity: usize) -> Arc<Self> {
        let cap = capacity.max(1);
        Arc::new(PuntQueues {
            inject: ArrayQueue::new(cap),
            probes: (0..PROBE_SLOTS)
                .map(|_| ProbeSlot {
                    key: AtomicU64::new(FREE_KEY),
                    answers: ArrayQueue::new(ANSWERS_PER_PROBE),
                })
                .collect(),
            arp: ArrayQueue::new(cap),
            control_tx: ArrayQueue::new(cap),
            mgmt: None,
        })
    }

    /// [`PuntQueues::new`] with the in-band management queues `mgmt`.
    pub fn with_mgmt(capacity: usize, mgmt: crate::mgmt::MgmtQueues) -> Arc<Self> {
        let mut q = Self::new(capacity);
        if let Some(inner) = Arc::get_mut(&mut q) {
            inner.mgmt = Some(mgmt);
        }
        q
    }

    /// Worker (egress): copies the IP packet of `frame` (at `l3_off`, cut to its total
    /// length: no Ethernet header, no padding) into `tenant`'s management queue. No
    /// allocation, no lock.
    pub fn punt_mgmt(
        &self,
        tenant: TenantId,
        frame: &[u8],
        l3_off: usize,
    ) -> Result<(), crate::pipeline::DropReason> {
        use crate::mgmt::MgmtQueueError;
        use crate::pipeline::DropReason;
        let Some(q) = &self.mgmt else { return Err(DropReason::MgmtQueueFull) };
        let ipb = frame.get(l3_off..).ok_or(DropReason::Ipv4Malformed)?;
        let ip = ipv4::Packet::new_checked(ipb).map_err(|_| DropReason::Ipv4Malformed)?;
        let len = (ip.total_len() as usize).min(ipb.len());
        match q.punt(tenant, &ipb[..len]) {
            Ok(()) => Ok(()),
            Err(MgmtQueueError::TooBig(_)) => Err(DropReason::MgmtTooBig),
            Err(MgmtQueueError::Full | MgmtQueueError::NoTenant(_)) => Err(DropReason::MgmtQueueFull),
        }
    }

    /// Control plane: queues `frame` (a whole Ethernet frame) for transmission on `port`.
    pub fn send_raw(&self, port: PortId, frame: &[u8]) -> Result<(), ControlTxError> {
        if frame.len() > QUEUED_FRAME_LEN || frame.len() < ethernet::HEADER_LEN {
            return Err(ControlTxError::BadLength(frame.len()));
        }
        let entry = PortFrame { port, frame: QueuedFrame::from_slice(frame) };
        self.control_tx.push(entry).map_err(|_| ControlTxError::QueueFull)
    }

    /// Control plane: the next ARP frame received on an uplink, with its port.
    pub fn recv_arp(&self) -> Option<PortFrame> {
        self.arp.pop()
    }
}

/// Builds the broadcast ARP request "who has `target` tell `sender_ip`" from `sender_mac`
/// (42 bytes, no padding: the NIC or veth pads to the minimum frame size).
pub fn build_arp_request(sender_mac: MacAddr, sender_ip: Ipv4Addr, target: Ipv4Addr) -> QueuedFrame {
    let mut buf = [0u8; ethernet::HEADER_LEN + arp::PACKET_LEN];
    {
        let mut eth = ethernet::Frame::new_unchecked(&mut buf[..]);
        eth.set_dst_addr(MacAddr::BROADCAST);
        eth.set_src_addr(sender_mac);
        eth.set_ethertype(ethernet::ethertype::ARP);
    }
    let mut a = arp::Packet::new_unchecked(&mut buf[ethernet::HEADER_LEN..]);
    a.init_request(sender_mac, sender_ip, target);
    QueuedFrame::from_slice(&buf)
}

/// What kind of answer a probe got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// ICMP echo reply from the destination.
    EchoReply,
    /// ICMP time exceeded from a hop on the way.
    TimeExceeded,
    /// ICMP destination unreachable with this code (0 net, 1 host, 3 port).
    Unreachable(u8),
}

/// One answer to a probe, as decoded from the frame (before it is checked against the probe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    pub kind: ProbeKind,
    /// Source address of the answer (the hop or the destination).
    pub from: Ipv4Addr,
    /// Destination of the answer: the router address the probe came from.
    pub to: Ipv4Addr,
    /// Echo identifier and sequence of the probe answered.
    pub ident: u16,
    pub seq: u16,
    /// IP TTL of the answer as received.
    pub ttl: u8,
    /// When the worker punted it.
    pub at: Instant,
}

/// Errors of [`Prober::start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("probe inject queue is full")]
    QueueFull,
    #[error("too many probes in flight (all {PROBE_SLOTS} answer slots are taken)")]
    NoSlot,
    #[error("probe source is not a tenant's router")]
    NoTenant,
}

/// True when the IPv4 packet `ip` (header and payload) has the shape of an answer to a
/// probe: an echo reply, or a time-exceeded / unreachable quoting an echo request. Used by
/// the forward stage to decide what to punt; egress then punts only answers that match a
/// probe in flight ([`PuntQueues::punt_answer`]).
pub fn answers_probe(ip: &[u8]) -> bool {
    decode_ip(ip, Instant::now()).is_some()
}

/// Decodes a punted Ethernet frame into a reply (None if it is not one).
pub fn decode_frame(frame: &[u8], at: Instant) -> Option<ProbeReply> {
    decode_full(frame, at).map(|(r, _)| r)
}

/// What a reply carries beyond [`ProbeReply`] to prove it answers one probe: the echo data of
/// an echo reply, or the quoted IP header's (source, destination, identification) of an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proof<'a> {
    Echo(&'a [u8]),
    Quote { src: Ipv4Addr, dst: Ipv4Addr, ip_id: u16 },
}

fn decode_full(frame: &[u8], at: Instant) -> Option<(ProbeReply, Proof<'_>)> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::ethertype::IPV4 {
        return None;
    }
    decode_ip_full(&frame[ethernet::HEADER_LEN..], at)
}

fn decode_ip(ip: &[u8], at: Instant) -> Option<ProbeReply> {
    decode_ip_full(ip, at).map(|(r, _)| r)
}

fn decode_ip_full(ipb: &[u8], at: Instant) -> Option<(ProbeReply, Proof<'_>)> {
    let ip = ipv4::Packet::new_checked(ipb).ok()?;
    if ip.protocol() != ipv4::protocol::ICMP || ip.is_later_fragment() {
        return None;
    }
    let hl = ip.header_len() as usize;
    let tl = (ip.total_len() as usize).min(ipb.len());
    let icmp_bytes = ipb.get(hl..tl)?;
    let msg = icmp::Packet::new_checked(icmp_bytes).ok()?;
    let (kind, ident, seq, proof) = match msg.msg_type() {
        icmp::msg::ECHO_REPLY => {
            let data = icmp_bytes.get(icmp::HEADER_LEN..).unwrap_or(&[]);
            (ProbeKind::EchoReply, msg.echo_ident(), msg.echo_seq(), Proof::Echo(data))
        }
        t @ (icmp::msg::TIME_EXCEEDED | icmp::msg::DEST_UNREACHABLE) => {
            let qdata = icmp_bytes.get(icmp::HEADER_LEN..)?;
            let quoted = ipv4::Packet::new_unchecked(qdata);
            if qdata.len() < ipv4::HEADER_LEN
                || quoted.version() != 4
                || quoted.protocol() != ipv4::protocol::ICMP
            {
                return None;
            }
            let qhl = quoted.header_len() as usize;
            let qicmp = qdata.get(qhl..qhl + icmp::HEADER_LEN)?;
            let q = icmp::Packet::new_checked(qicmp).ok()?;
            if q.msg_type() != icmp::msg::ECHO_REQUEST {
                return None;
            }
            let kind = if t == icmp::msg::TIME_EXCEEDED {
                ProbeKind::TimeExceeded
            } else {
                ProbeKind::Unreachable(msg.msg_code())
            };
            let proof =
                Proof::Quote { src: quoted.src_addr(), dst: quoted.dst_addr(), ip_id: quoted.ident() };
            (kind, q.echo_ident(), q.echo_seq(), proof)
        }
        _ => return None,
    };
    let reply = ProbeReply { kind, from: ip.src_addr(), to: ip.dst_addr(), ident, seq, ttl: ip.ttl(), at };
    Some((reply, proof))
}

/// Builds the frame of a probe: Ethernet (zero MACs) + IPv4 (DF, `ttl`, identification
/// `ip_id`) + ICMP echo request carrying `data`.
pub fn build_echo_with(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ttl: u8,
    ip_id: u16,
    ident: u16,
    seq: u16,
    data: &[u8; PROBE_DATA_LEN],
) -> QueuedFrame {
    let icmp_len = icmp::HEADER_LEN + PROBE_DATA_LEN;
    let total = ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp_len;
    let mut buf = [0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp::HEADER_LEN + PROBE_DATA_LEN];
    buf[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut buf[ethernet::HEADER_LEN..]);
        ip.init_header((ipv4::HEADER_LEN + icmp_len) as u16, ip_id, ttl, ipv4::protocol::ICMP, src, dst);
        ip.fill_checksum();
    }
    {
        let mut m = icmp::Packet::new_unchecked(&mut buf[ethernet::HEADER_LEN + ipv4::HEADER_LEN..total]);
        m.set_msg_type(icmp::msg::ECHO_REQUEST);
        m.set_msg_code(0);
        m.set_echo_ident(ident);
        m.set_echo_seq(seq);
        m.data_mut().copy_from_slice(data);
        m.fill_checksum();
    }
    QueuedFrame::from_slice(&buf[..total])
}

/// [`build_echo_with`] with IP identification `seq` and the fixed probe data (tests, tools).
pub fn build_echo(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, ident: u16, seq: u16) -> QueuedFrame {
    build_echo_with(src, dst, ttl, seq, ident, seq, PROBE_DATA)
}

/// The slot key of a probe in flight: tenant, echo identifier and sequence, and the router
/// address the answer goes to (folded to 16 bits; the prober checks the whole address).
fn probe_key(tenant: TenantId, to: Ipv4Addr, ident: u16, seq: u16) -> u64 {
    let a = u32::from(to);
    let fold = ((a >> 16) ^ (a & 0xffff)) as u64;
    (tenant.0 as u64) << 48 | (ident as u64) << 32 | (seq as u64) << 16 | fold
}

/// First of the [`PROBE_WAYS`] slots a key may live in.
fn slot_base(key: u64) -> usize {
    // Fibonacci hashing of the key (ident and seq are random, so this spreads well).
    (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40) as usize % PROBE_SLOTS
}

/// One probe in flight: its key ([`FREE_KEY`] when free) and its own answer queue, so an
/// answer never competes with another session's (or another tenant's) answers for room.
#[derive(Debug)]
struct ProbeSlot {
    key: AtomicU64,
    answers: ArrayQueue<PuntedFrame>,
}

impl PuntQueues {
    /// Worker (egress): hands the answer `frame`, received for `tenant`, to the probe in flight
    /// it answers. False (the caller counts `punt_not_probe`) when it answers no probe in
    /// flight of that tenant, to that router address, with that identifier and sequence —
    /// a forged or late answer — or when that probe already has its answers. O(1): at most
    /// [`PROBE_WAYS`] slots are looked at; no lock, no allocation.
    pub fn punt_answer(&self, tenant: TenantId, frame: &[u8], now: Instant) -> bool {
        let Some(r) = decode_frame(frame, now) else { return false };
        let key = probe_key(tenant, r.to, r.ident, r.seq);
        let base = slot_base(key);
        for w in 0..PROBE_WAYS {
            let slot = &self.probes[(base + w) % PROBE_SLOTS];
            if slot.key.load(Ordering::Acquire) == key {
                return slot
                    .answers
                    .push(PuntedFrame { at: now, frame: QueuedFrame::from_slice(frame) })
                    .is_ok();
            }
        }
        false
    }

    /// Shell: takes a free slot for `key` (None when the key's slots are all taken).
    fn arm(&self, key: u64) -> Option<usize> {
        let base = slot_base(key);
        for w in 0..PROBE_WAYS {
            let i = (base + w) % PROBE_SLOTS;
            let slot = &self.probes[i];
            if slot.key.compare_exchange(FREE_KEY, ARMING_KEY, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                // Late answers of the slot's previous probe.
                while slot.answers.pop().is_some() {}
                slot.key.store(key, Ordering::Release);
                return Some(i);
            }
        }
        None
    }

    fn disarm(&self, slot: usize) {
        if let Some(s) = self.probes.get(slot) {
            s.key.store(FREE_KEY, Ordering::Release);
        }
    }

    /// Probes in flight (slots taken).
    pub fn probes_in_flight(&self) -> usize {
        self.probes.iter().filter(|s| s.key.load(Ordering::Relaxed) != FREE_KEY).count()
    }
}

/// A free slot. No probe has this key: tenant `0xffff` is `NO_TENANT`, never armed.
const FREE_KEY: u64 = u64::MAX;
/// A slot being armed (tenant `0xffff` again: matches no answer).
const ARMING_KEY: u64 = u64::MAX - 1;

/// A probe sent by [`Prober::start`]: what its answer must carry. Dropping it frees its slot.
#[derive(Debug)]
pub struct PendingProbe<'a> {
    prober: &'a Prober,
    slot: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    ident: u16,
    seq: u16,
    data: [u8; PROBE_DATA_LEN],
    sent: Instant,
}

impl PendingProbe<'_> {
    /// When the probe was queued.
    pub fn sent(&self) -> Instant {
        self.sent
    }

    /// Echo identifier and sequence on the wire (random, so not guessable by a host).
    pub fn ident_seq(&self) -> (u16, u16) {
        (self.ident, self.seq)
    }

    /// The answer, if it arrived: the first frame in the probe's slot that really answers it
    /// (same identifier, sequence and router address; an echo reply carries the probe's random
    /// data, an error quotes the probe's addresses and IP identification).
    pub fn try_recv(&self) -> Option<ProbeReply> {
        let slot = self.prober.queues.probes.get(self.slot)?;
        while let Some(p) = slot.answers.pop() {
            let Some((r, proof)) = decode_full(p.frame.as_slice(), p.at) else { continue };
            if r.ident != self.ident || r.seq != self.seq || r.to != self.src {
                continue;
            }
            let genuine = match proof {
                Proof::Echo(d) => d == self.data,
                Proof::Quote { src, dst, ip_id } => src == self.src && dst == self.dst && ip_id == self.ip_id,
            };
            if genuine {
                return Some(r);
            }
        }
        None
    }

    /// Waits until `deadline` for the answer; returns it with the round-trip time.
    pub fn wait(&self, deadline: Instant) -> Option<(ProbeReply, Duration)> {
        loop {
            if let Some(r) = self.try_recv() {
                return Some((r, r.at.saturating_duration_since(self.sent)));
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Drop for PendingProbe<'_> {
    fn drop(&mut self) {
        self.prober.queues.disarm(self.slot);
    }
}

/// Shell-side API: send probes as a logical router and receive their answers. Thread-safe;
/// every probe has its own answer slot, keyed by (tenant, router address, random identifier
/// and sequence), so concurrent sessions and tenants never see or displace each other's
/// answers, and a tenant host cannot forge one without guessing 32 random bits (48 for an
/// error, 64 more for an echo reply's data).
#[derive(Debug)]
pub struct Prober {
    queues: Arc<PuntQueues>,
}

impl Prober {
    pub fn new(queues: Arc<PuntQueues>) -> Self {
        Prober { queues }
    }

    /// Queues an echo request from `src` (an address of `router`, of `tenant`) to `dst` with
    /// a random identifier, sequence, IP identification and data; the answer is read from the
    /// returned [`PendingProbe`].
    pub fn start(
        &self,
        tenant: TenantId,
        router: RouterId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
    ) -> Result<PendingProbe<'_>, ProbeError> {
        if tenant.0 == u16::MAX {
            return Err(ProbeError::NoTenant);
        }
        let (ident, seq, ip_id): (u16, u16, u16) = (rand::random(), rand::random(), rand::random());
        let data: [u8; PROBE_DATA_LEN] = rand::random();
        let slot = self.queues.arm(probe_key(tenant, src, ident, seq)).ok_or(ProbeError::NoSlot)?;
        let sent = Instant::now();
        let pending = PendingProbe { prober: self, slot, src, dst, ip_id, ident, seq, data, sent };
        let frame = build_echo_with(src, dst, ttl, ip_id, ident, seq, &data);
        self.queues.inject.push(InjectedProbe { router, frame }).map_err(|_| ProbeError::QueueFull)?;
        Ok(pending)
    }

    /// Sends one probe and waits up to `timeout` for its answer; returns the answer and the
    /// round-trip time (None on time-out).
    pub fn probe(
        &self,
        tenant: TenantId,
        router: RouterId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        timeout: Duration,
    ) -> Result<Option<(ProbeReply, Duration)>, ProbeError> {
        let pending = self.start(tenant, router, src, dst, ttl)?;
        Ok(pending.wait(pending.sent() + timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_request_builder_and_control_queues() {
        let mac = MacAddr([0x02, 0, 0, 0, 0, 1]);
        let f = build_arp_request(mac, Ipv4Addr::new(172, 16, 0, 1), Ipv4Addr::new(172, 16, 0, 254));
        let expected: Vec<u8> = [
            &[0xff; 6][..],
            &mac.0,
            &[0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01],
            &mac.0,
            &[172, 16, 0, 1],
            &[0; 6],
            &[172, 16, 0, 254],
        ]
        .concat();
        assert_eq!(f.as_slice(), &expected[..]);
        let q = PuntQueues::new(1);
        assert_eq!(q.send_raw(PortId(3), &[0; 10]), Err(ControlTxError::BadLength(10)));
        assert_eq!(
            q.send_raw(PortId(3), &[0; QUEUED_FRAME_LEN + 1]),
            Err(ControlTxError::BadLength(QUEUED_FRAME_LEN + 1))
        );
        assert_eq!(q.send_raw(PortId(3), f.as_slice()), Ok(()));
        assert_eq!(q.send_raw(PortId(3), f.as_slice()), Err(ControlTxError::QueueFull));
        let e = q.control_tx.pop().unwrap();
        assert_eq!((e.port, e.frame.as_slice()), (PortId(3), &expected[..]));
        assert!(q.recv_arp().is_none());
    }

    #[test]
    fn echo_probe_is_a_valid_packet() {
        let f = build_echo(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 1, 5, 7), 3, 0xf001, 9);
        let bytes = f.as_slice();
        let (ip, rest) = etherparse::Ipv4Header::from_slice(&bytes[14..]).unwrap();
        assert_eq!(ip.time_to_live, 3);
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        let (h, data) = etherparse::Icmpv4Header::from_slice(rest).unwrap();
        assert_eq!(
            h.icmp_type,
            etherparse::Icmpv4Type::EchoRequest(etherparse::IcmpEchoHeader { id: 0xf001, seq: 9 })
        );
        assert_eq!(h.checksum, h.icmp_type.calc_checksum(data));
    }

    #[test]
    fn decodes_echo_reply_and_quoted_errors() {
        let req = build_echo(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 1, 5, 7), 64, 0x1234, 4);
        // echo reply: swap addresses, type 0
        let mut rep = *req.as_slice().first_chunk::<58>().unwrap();
        rep[26..30].copy_from_slice(&[10, 1, 5, 7]);
        rep[30..34].copy_from_slice(&[10, 0, 0, 1]);
        rep[34] = 0;
        let r = decode_frame(&rep, Instant::now()).unwrap();
        assert_eq!(
            (r.kind, r.from, r.to, r.ident, r.seq),
            (ProbeKind::EchoReply, Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 0, 0, 1), 0x1234, 4)
        );
        // time exceeded quoting the request's IP header + 8 bytes
        let te = time_exceeded(&req, Ipv4Addr::new(192, 168, 100, 2));
        let r = decode_frame(&te, Instant::now()).unwrap();
        assert_eq!((r.kind, r.from, r.seq), (ProbeKind::TimeExceeded, Ipv4Addr::new(192, 168, 100, 2), 4));
        // an echo request is not an answer; a cut error is not one either
        let mut other = rep;
        other[34] = 8;
        assert!(decode_frame(&other, Instant::now()).is_none());
        assert!(decode_frame(&te[..50], Instant::now()).is_none());
    }

    /// The time-exceeded `from` a hop would send about `req` (a probe frame) to its source.
    fn time_exceeded(req: &QueuedFrame, from: Ipv4Addr) -> Vec<u8> {
        let r = req.as_slice();
        let mut te = vec![0u8; 14 + 20 + 8 + 28];
        te[12] = 0x08;
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut te[14..]);
            ip.init_header(56, 0, 64, 1, from, Ipv4Addr::new(r[26], r[27], r[28], r[29]));
        }
        te[34] = icmp::msg::TIME_EXCEEDED;
        te[42..70].copy_from_slice(&r[14..42]);
        te
    }

    /// The echo reply the destination of the probe frame `req` sends.
    fn echo_reply(req: &QueuedFrame) -> Vec<u8> {
        let mut f = req.as_slice().to_vec();
        let (s, d) = (f[26..30].to_vec(), f[30..34].to_vec());
        f[26..30].copy_from_slice(&d);
        f[30..34].copy_from_slice(&s);
        f[34] = 0;
        f
    }

    const T0: TenantId = TenantId(0);
    const T1: TenantId = TenantId(1);
    const J0: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const H: Ipv4Addr = Ipv4Addr::new(10, 1, 5, 7);

    #[test]
    fn each_probe_gets_its_own_answer_and_idents_are_random() {
        let q = PuntQueues::new(8);
        let prober = Prober::new(q.clone());
        let p1 = prober.start(T0, RouterId(0), J0, H, 64).unwrap();
        let p2 = prober.start(T0, RouterId(0), J0, H, 1).unwrap();
        assert_ne!(p1.ident_seq(), p2.ident_seq(), "identifier and sequence are random per probe");
        let f1 = q.inject.pop().unwrap().frame;
        let f2 = q.inject.pop().unwrap().frame;
        // Answers arrive in the other order; each goes to its own probe.
        assert!(q.punt_answer(T0, &time_exceeded(&f2, Ipv4Addr::new(192, 168, 100, 2)), Instant::now()));
        assert!(q.punt_answer(T0, &echo_reply(&f1), Instant::now()));
        let r1 = p1.try_recv().unwrap();
        assert_eq!((r1.kind, r1.from, r1.to), (ProbeKind::EchoReply, H, J0));
        let r2 = p2.try_recv().unwrap();
        assert_eq!((r2.kind, r2.from), (ProbeKind::TimeExceeded, Ipv4Addr::new(192, 168, 100, 2)));
        assert_eq!(p1.try_recv(), None);
        assert_eq!(q.probes_in_flight(), 2);
        drop(p1);
        drop(p2);
        assert_eq!(q.probes_in_flight(), 0);
        // A late answer after the probe finished is not punted.
        assert!(!q.punt_answer(T0, &echo_reply(&f1), Instant::now()));
        let timeout = prober.probe(T0, RouterId(0), J0, H, 1, Duration::from_millis(2)).unwrap();
        assert_eq!(timeout, None);
    }

    #[test]
    fn another_tenant_or_a_forged_answer_never_reaches_a_probe() {
        let q = PuntQueues::new(8);
        let prober = Prober::new(q.clone());
        let p = prober.start(T0, RouterId(0), J0, H, 64).unwrap();
        let f = q.inject.pop().unwrap().frame;
        let genuine = echo_reply(&f);
        // The same answer received in tenant 1 (overlapping addresses) is not tenant 0's.
        assert!(!q.punt_answer(T1, &genuine, Instant::now()));
        // A host guessing the identifier wrong.
        let mut guess = genuine.clone();
        guess[38] ^= 0x01;
        assert!(!q.punt_answer(T0, &guess, Instant::now()));
        // Right identifier and sequence but not the probe's data: punted (only the worker's
        // O(1) check passes), then rejected by the prober; a flood of them cannot push out
        // the genuine answer, which still arrives.
        let mut forged = genuine.clone();
        forged[42] ^= 0xff;
        for _ in 0..100 {
            let _ = q.punt_answer(T0, &forged, Instant::now());
        }
        assert_eq!(p.try_recv(), None);
        assert!(q.punt_answer(T0, &genuine, Instant::now()));
        assert_eq!(p.try_recv().map(|r| r.kind), Some(ProbeKind::EchoReply));
        // A flood of answers for other probes does not touch this one.
        let p2 = prober.start(T0, RouterId(0), J0, H, 64).unwrap();
        let f2 = q.inject.pop().unwrap().frame;
        for i in 0..1000u16 {
            let mut other = echo_reply(&f2);
            other[38..40].copy_from_slice(&i.to_be_bytes());
            let _ = q.punt_answer(T0, &other, Instant::now());
        }
        assert!(q.punt_answer(T0, &echo_reply(&f2), Instant::now()));
        assert_eq!(p2.try_recv().map(|r| r.from), Some(H));
    }

    #[test]
    fn slots_run_out_cleanly_and_come_back() {
        let q = PuntQueues::new(PROBE_SLOTS * 2);
        let prober = Prober::new(q.clone());
        let mut held = Vec::new();
        let mut refused = 0;
        for _ in 0..PROBE_SLOTS * 2 {
            match prober.start(T0, RouterId(0), J0, H, 64) {
                Ok(p) => held.push(p),
                Err(e) => {
                    assert_eq!(e, ProbeError::NoSlot);
                    refused += 1;
                }
            }
        }
        assert!(held.len() <= PROBE_SLOTS && refused >= PROBE_SLOTS);
        held.clear();
        assert_eq!(q.probes_in_flight(), 0);
        assert!(prober.start(T0, RouterId(0), J0, H, 64).is_ok());
    }
}
