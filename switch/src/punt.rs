//! Router-originated probes for the shell's `ping` and `traceroute`. The shell builds an ICMP
//! echo request "from logical router R" and pushes it, as a fixed-size `Copy` frame, into a
//! lock-free inject queue; any worker pops injected probes once per batch and routes them in
//! R's table (R itself does not decrement the TTL). ICMP answers addressed to router addresses
//! (echo replies with a probe identifier, time-exceeded / unreachable quoting a probe) are
//! pushed by workers into the punt queue, which [`Prober::try_recv`] decodes.
//!
//! Probe identifiers are `PROBE_IDENT_BASE..=0xffff`; workers punt only answers to those.
//!
//! The substrate side has two more queues, between the workers and the control plane that
//! resolves substrate next hops: workers push every ARP frame received on an uplink that is
//! not a request for the uplink's own address into [`PuntQueues::arp`] (never blocking: a
//! full queue counts `arp_queue_full`), and the control plane pushes raw frames to transmit on
//! a port (its ARP requests, see [`build_arp_request`]) into [`PuntQueues::control_tx`], which
//! workers drain once per round like injected probes.

use crate::wire::{arp, ethernet, icmp, ipv4};
use crossbeam_queue::ArrayQueue;
use rib::{MacAddr, PortId, RouterId};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest frame carried by the inject and punt queues (longer punted frames are cut).
pub const QUEUED_FRAME_LEN: usize = 192;
/// First ICMP echo identifier reserved for shell probes.
pub const PROBE_IDENT_BASE: u16 = 0xf000;
/// Default capacity of each queue.
pub const QUEUE_CAPACITY: usize = 256;
/// Bytes of echo data in a probe.
const PROBE_DATA: &[u8; 16] = b"vnswitch probe..";

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

/// An ICMP frame a worker handed to the shell.
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
    /// Probe answers to the shell.
    pub punt: ArrayQueue<PuntedFrame>,
    /// ARP frames received on uplinks (replies to the control plane's requests, requests
    /// from substrate neighbours), for the control plane.
    pub arp: ArrayQueue<PortFrame>,
    /// Raw frames from the control plane, sent as they are by the next worker that polls.
    pub control_tx: ArrayQueue<PortFrame>,
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
            punt: ArrayQueue::new(cap),
            arp: ArrayQueue::new(cap),
            control_tx: ArrayQueue::new(cap),
        })
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

/// One answer to a probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    pub kind: ProbeKind,
    /// Source address of the answer (the hop or the destination).
    pub from: Ipv4Addr,
    /// Echo identifier and sequence of the probe answered.
    pub ident: u16,
    pub seq: u16,
    /// IP TTL of the answer as received.
    pub ttl: u8,
    /// When the worker punted it.
    pub at: Instant,
}

/// Errors of [`Prober::send_echo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("probe inject queue is full")]
    QueueFull,
    #[error("probe identifier {0:#06x} is outside the probe range")]
    BadIdent(u16),
}

/// True when the IPv4 packet `ip` (header and payload) is an ICMP answer to a shell probe:
/// an echo reply with a probe identifier, or a time-exceeded / unreachable quoting an echo
/// request with one. Used by workers to decide what to punt.
pub fn answers_probe(ip: &[u8]) -> bool {
    decode_ip(ip, Instant::now()).is_some()
}

/// Decodes a punted Ethernet frame into a reply (None if it is not one).
pub fn decode_frame(frame: &[u8], at: Instant) -> Option<ProbeReply> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::ethertype::IPV4 {
        return None;
    }
    decode_ip(eth.payload(), at)
}

fn decode_ip(ip: &[u8], at: Instant) -> Option<ProbeReply> {
    let ip = ipv4::Packet::new_checked(ip).ok()?;
    if ip.protocol() != ipv4::protocol::ICMP || ip.is_later_fragment() {
        return None;
    }
    let msg = icmp::Packet::new_checked(ip.payload()).ok()?;
    let (kind, ident, seq) = match msg.msg_type() {
        icmp::msg::ECHO_REPLY => (ProbeKind::EchoReply, msg.echo_ident(), msg.echo_seq()),
        t @ (icmp::msg::TIME_EXCEEDED | icmp::msg::DEST_UNREACHABLE) => {
            let quoted = ipv4::Packet::new_unchecked(msg.data());
            let qdata = msg.data();
            if qdata.len() < ipv4::HEADER_LEN
                || quoted.version() != 4
                || quoted.protocol() != ipv4::protocol::ICMP
            {
                return None;
            }
            let hl = quoted.header_len() as usize;
            let qicmp = qdata.get(hl..hl + icmp::HEADER_LEN)?;
            let q = icmp::Packet::new_checked(qicmp).ok()?;
            if q.msg_type() != icmp::msg::ECHO_REQUEST {
                return None;
            }
            let kind = if t == icmp::msg::TIME_EXCEEDED {
                ProbeKind::TimeExceeded
            } else {
                ProbeKind::Unreachable(msg.msg_code())
            };
            (kind, q.echo_ident(), q.echo_seq())
        }
        _ => return None,
    };
    if ident < PROBE_IDENT_BASE {
        return None;
    }
    Some(ProbeReply { kind, from: ip.src_addr(), ident, seq, ttl: ip.ttl(), at })
}

/// Builds the frame of a probe: Ethernet (zero MACs) + IPv4 (DF, `ttl`) + ICMP echo request.
pub fn build_echo(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8, ident: u16, seq: u16) -> QueuedFrame {
    let icmp_len = icmp::HEADER_LEN + PROBE_DATA.len();
    let total = ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp_len;
    let mut buf = [0u8; ethernet::HEADER_LEN + ipv4::HEADER_LEN + icmp::HEADER_LEN + 16];
    buf[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut buf[ethernet::HEADER_LEN..]);
        ip.init_header((ipv4::HEADER_LEN + icmp_len) as u16, seq, ttl, ipv4::protocol::ICMP, src, dst);
        ip.fill_checksum();
    }
    {
        let mut m = icmp::Packet::new_unchecked(&mut buf[ethernet::HEADER_LEN + ipv4::HEADER_LEN..total]);
        m.set_msg_type(icmp::msg::ECHO_REQUEST);
        m.set_msg_code(0);
        m.set_echo_ident(ident);
        m.set_echo_seq(seq);
        m.data_mut().copy_from_slice(PROBE_DATA);
        m.fill_checksum();
    }
    QueuedFrame::from_slice(&buf[..total])
}

/// Shell-side API: send probes as a logical router and receive their answers. Thread-safe;
/// answers not claimed by a blocking [`probe`](Self::probe) caller stay queued for others.
#[derive(Debug)]
pub struct Prober {
    queues: Arc<PuntQueues>,
    next_ident: AtomicU16,
    /// Answers popped while waiting for another probe (shell side; not the hot path).
    pending: Mutex<VecDeque<ProbeReply>>,
}

impl Prober {
    pub fn new(queues: Arc<PuntQueues>) -> Self {
        Prober { queues, next_ident: AtomicU16::new(PROBE_IDENT_BASE), pending: Mutex::new(VecDeque::new()) }
    }

    /// A fresh identifier for one ping/traceroute run (cycles through the probe range).
    pub fn alloc_ident(&self) -> u16 {
        let v = self.next_ident.fetch_add(1, Ordering::Relaxed);
        if v < PROBE_IDENT_BASE {
            self.next_ident.store(PROBE_IDENT_BASE + 1, Ordering::Relaxed);
            PROBE_IDENT_BASE
        } else {
            v
        }
    }

    /// Queues an echo request from `src` (an address of `router`) to `dst`; returns the
    /// send time for round-trip times.
    pub fn send_echo(
        &self,
        router: RouterId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        ident: u16,
        seq: u16,
    ) -> Result<Instant, ProbeError> {
        if ident < PROBE_IDENT_BASE {
            return Err(ProbeError::BadIdent(ident));
        }
        let frame = build_echo(src, dst, ttl, ident, seq);
        let at = Instant::now();
        self.queues.inject.push(InjectedProbe { router, frame }).map_err(|_| ProbeError::QueueFull)?;
        Ok(at)
    }

    /// The next answer to any probe, if one arrived.
    pub fn try_recv(&self) -> Option<ProbeReply> {
        if let Some(r) = self.lock_pending().pop_front() {
            return Some(r);
        }
        self.pop_decoded()
    }

    fn pop_decoded(&self) -> Option<ProbeReply> {
        while let Some(p) = self.queues.punt.pop() {
            if let Some(r) = decode_frame(p.frame.as_slice(), p.at) {
                return Some(r);
            }
        }
        None
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, VecDeque<ProbeReply>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends one probe and waits up to `timeout` for its answer (matched by ident and seq);
    /// returns the answer and the round-trip time. Other answers are kept for their callers.
    #[allow(clippy::too_many_arguments)]
    pub fn probe(
        &self,
        router: RouterId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ttl: u8,
        ident: u16,
        seq: u16,
        timeout: Duration,
    ) -> Result<Option<(ProbeReply, Duration)>, ProbeError> {
        let sent = self.send_echo(router, src, dst, ttl, ident, seq)?;
        let deadline = sent + timeout;
        loop {
            {
                let mut pending = self.lock_pending();
                if let Some(pos) = pending.iter().position(|r| r.ident == ident && r.seq == seq) {
                    if let Some(r) = pending.remove(pos) {
                        return Ok(Some((r, r.at.saturating_duration_since(sent))));
                    }
                }
                while let Some(r) = self.pop_decoded() {
                    if r.ident == ident && r.seq == seq {
                        return Ok(Some((r, r.at.saturating_duration_since(sent))));
                    }
                    if pending.len() < QUEUE_CAPACITY {
                        pending.push_back(r);
                    }
                }
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_micros(200));
        }
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
    fn decodes_echo_reply_and_quoted_errors_only_for_probe_idents() {
        let req = build_echo(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 1, 5, 7), 64, 0xf002, 4);
        // echo reply: swap addresses, type 0
        let mut rep = *req.as_slice().first_chunk::<58>().unwrap();
        rep[26..30].copy_from_slice(&[10, 1, 5, 7]);
        rep[30..34].copy_from_slice(&[10, 0, 0, 1]);
        rep[34] = 0;
        let r = decode_frame(&rep, Instant::now()).unwrap();
        assert_eq!(
            (r.kind, r.from, r.ident, r.seq),
            (ProbeKind::EchoReply, Ipv4Addr::new(10, 1, 5, 7), 0xf002, 4)
        );
        // time exceeded quoting the request's IP header + 8 bytes
        let mut te = [0u8; 14 + 20 + 8 + 28];
        te[12] = 0x08;
        {
            let mut ip = ipv4::Packet::new_unchecked(&mut te[14..]);
            ip.init_header(56, 0, 64, 1, Ipv4Addr::new(192, 168, 100, 2), Ipv4Addr::new(10, 0, 0, 1));
        }
        te[34] = icmp::msg::TIME_EXCEEDED;
        te[42..70].copy_from_slice(&req.as_slice()[14..42]);
        let r = decode_frame(&te, Instant::now()).unwrap();
        assert_eq!((r.kind, r.from, r.seq), (ProbeKind::TimeExceeded, Ipv4Addr::new(192, 168, 100, 2), 4));
        // a host's own ping (ident below the range) is not a probe answer
        let mut other = rep;
        other[38] = 0x12;
        assert!(decode_frame(&other, Instant::now()).is_none());
        assert!(decode_frame(&te[..50], Instant::now()).is_none());
    }

    #[test]
    fn prober_matches_its_answer_and_keeps_others() {
        let q = PuntQueues::new(8);
        let prober = Prober::new(q.clone());
        let id = prober.alloc_ident();
        assert!(id >= PROBE_IDENT_BASE);
        assert_eq!(
            prober.send_echo(RouterId(0), Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, 7, 0),
            Err(ProbeError::BadIdent(7))
        );
        // Pretend a worker answered seq 1 and seq 2 (reflect the injected probes as replies).
        let reflect = |seq: u16| {
            let mut f = *build_echo(Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 0, 0, 1), 64, id, seq)
                .as_slice()
                .first_chunk::<58>()
                .unwrap();
            f[34] = 0;
            q.punt.push(PuntedFrame { at: Instant::now(), frame: QueuedFrame::from_slice(&f) }).unwrap();
        };
        reflect(2);
        reflect(1);
        let got = prober
            .probe(
                RouterId(0),
                Ipv4Addr::new(10, 0, 0, 1),
                Ipv4Addr::new(10, 1, 5, 7),
                64,
                id,
                1,
                Duration::from_millis(10),
            )
            .unwrap();
        assert_eq!(got.map(|(r, _)| r.seq), Some(1));
        assert_eq!(prober.try_recv().map(|r| r.seq), Some(2));
        assert_eq!(prober.try_recv(), None);
        assert_eq!(q.inject.len(), 1);
        let timeout = prober
            .probe(RouterId(0), Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST, 1, id, 3, Duration::from_millis(2))
            .unwrap();
        assert_eq!(timeout, None);
    }
}
