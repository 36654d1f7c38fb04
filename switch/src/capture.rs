//! Packet capture (`monitor capture`): workers copy the frames received and transmitted on
//! one port, optionally only those between two IPv4 addresses (either way), into a bounded
//! lock-free ring ([`Capture`]); the shell drains the ring and writes a pcap file
//! ([`write_pcap`]) that `tcpdump -r` reads.
//!
//! Worker side (hot path): one relaxed atomic load per batch when no capture runs
//! ([`Capture::active`]); when one runs, a frame that matches is copied (at most [`SNAPLEN`]
//! bytes) into a preallocated slot of a `crossbeam` `ArrayQueue`: no allocation, no lock,
//! never blocking; a full ring counts a drop. Received frames are offered before the
//! pipeline rewrites them, transmitted ones through [`Tap`], a [`Ports`] wrapper the worker
//! hands to the pipeline while a capture runs. Control side: [`Capture::start`] /
//! [`Capture::stop`] from the shell thread; one capture point for the whole data plane.

use crate::pipeline::{Batch, Pipeline};
use crate::port::{FrameBuf, Ports};
use crate::punt::PuntQueues;
use crate::stats::WorkerCounters;
use crossbeam_queue::ArrayQueue;
use rib::FibSnapshot;
use rib::PortId;
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of a frame kept in the capture (longer frames are truncated; pcap records their
/// original length).
pub const SNAPLEN: usize = 2048;

/// Default number of frames the ring holds.
pub const DEFAULT_RING_FRAMES: usize = 1024;

/// Errors of the capture's control and export side.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// `limit` is 0 or above what the ring can hold.
    #[error("limit {0} out of range 1..={1}")]
    BadLimit(u64, usize),
    /// Writing the pcap file failed.
    #[error("pcap: {0}")]
    Pcap(#[from] pcap_file::PcapError),
    /// Creating the file failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Whether a captured frame was received on or transmitted from the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Rx,
    Tx,
}

/// One captured frame: wall-clock time, port, direction and the first [`SNAPLEN`] bytes.
#[derive(Clone, Copy)]
pub struct CapturedFrame {
    /// Time since the Unix epoch when the worker saw the frame.
    pub ts: Duration,
    pub port: PortId,
    pub dir: Direction,
    /// Length of the frame on the wire (Ethernet header included).
    pub orig_len: u32,
    /// Bytes kept in `data` (`min(orig_len, SNAPLEN)`).
    pub len: u16,
    pub data: [u8; SNAPLEN],
}

impl CapturedFrame {
    /// The kept bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[..(self.len as usize).min(SNAPLEN)]
    }
}

impl std::fmt::Debug for CapturedFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CapturedFrame")
            .field("ts", &self.ts)
            .field("port", &self.port)
            .field("dir", &self.dir)
            .field("orig_len", &self.orig_len)
            .field("len", &self.len)
            .finish()
    }
}

/// What to capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaptureFilter {
    pub port: PortId,
    /// Only IPv4 packets between these two addresses, either direction.
    pub between: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Stop after this many matching frames.
    pub limit: u64,
}

/// Counters of the current (or last) capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStatus {
    /// A capture is running.
    pub active: bool,
    /// Frames that matched and were put in the ring.
    pub captured: u64,
    /// Frames that matched but found the ring full (lost).
    pub dropped: u64,
}

/// The data plane's capture point, shared by all workers and the shell.
pub struct Capture {
    active: AtomicBool,
    port: AtomicU32,
    ip_a: AtomicU32,
    ip_b: AtomicU32,
    ip_on: AtomicBool,
    limit: AtomicU64,
    /// Matching frames seen (captured + dropped), bounded by `limit`.
    taken: AtomicU64,
    dropped: AtomicU64,
    ring: ArrayQueue<CapturedFrame>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture").field("status", &self.status()).finish()
    }
}

impl Capture {
    /// A stopped capture point whose ring holds `frames` frames (allocated once, here).
    pub fn new(frames: usize) -> Capture {
        Capture {
            active: AtomicBool::new(false),
            port: AtomicU32::new(u32::MAX),
            ip_a: AtomicU32::new(0),
            ip_b: AtomicU32::new(0),
            ip_on: AtomicBool::new(false),
            limit: AtomicU64::new(0),
            taken: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            ring: ArrayQueue::new(frames.max(1)),
        }
    }

    /// Frames the ring holds (the largest `limit`).
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True while a capture runs: the only thing a worker reads per batch when none does.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Starts capturing with `filter`, discarding what the ring still holds.
    pub fn start(&self, filter: CaptureFilter) -> Result<(), CaptureError> {
        if filter.limit == 0 || filter.limit > self.capacity() as u64 {
            return Err(CaptureError::BadLimit(filter.limit, self.capacity()));
        }
        self.active.store(false, Ordering::SeqCst);
        while self.ring.pop().is_some() {}
        self.port.store(filter.port.0 as u32, Ordering::Relaxed);
        let (a, b, on) = match filter.between {
            Some((a, b)) => (u32::from(a), u32::from(b), true),
            None => (0, 0, false),
        };
        self.ip_a.store(a, Ordering::Relaxed);
        self.ip_b.store(b, Ordering::Relaxed);
        self.ip_on.store(on, Ordering::Relaxed);
        self.limit.store(filter.limit, Ordering::Relaxed);
        self.taken.store(0, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
        self.active.store(true, Ordering::Release);
        Ok(())
    }

    /// Stops capturing; frames already in the ring stay there until drained.
    pub fn stop(&self) {
        self.active.store(false, Ordering::SeqCst);
    }

    /// Counters of the current or last capture.
    pub fn status(&self) -> CaptureStatus {
        let taken = self.taken.load(Ordering::Relaxed).min(self.limit.load(Ordering::Relaxed));
        let dropped = self.dropped.load(Ordering::Relaxed);
        CaptureStatus { active: self.active(), captured: taken.saturating_sub(dropped), dropped }
    }

    /// Moves every frame in the ring to `out` (shell side).
    pub fn drain(&self, out: &mut Vec<CapturedFrame>) {
        while let Some(f) = self.ring.pop() {
            out.push(f);
        }
    }

    /// Worker side: offers one frame seen on `port` in direction `dir`. Copies it into the
    /// ring when it matches; never blocks or allocates. Call only when [`active`](Self::active).
    #[inline]
    pub fn offer(&self, port: PortId, dir: Direction, frame: &[u8]) {
        if self.port.load(Ordering::Acquire) != port.0 as u32 {
            return;
        }
        if self.ip_on.load(Ordering::Relaxed) {
            let Some((src, dst)) = ipv4_addrs(frame) else { return };
            let (a, b) = (self.ip_a.load(Ordering::Relaxed), self.ip_b.load(Ordering::Relaxed));
            if !((src == a && dst == b) || (src == b && dst == a)) {
                return;
            }
        }
        let limit = self.limit.load(Ordering::Relaxed);
        let n = self.taken.fetch_add(1, Ordering::Relaxed);
        if n >= limit {
            self.active.store(false, Ordering::Relaxed);
            return;
        }
        if n + 1 == limit {
            // The last frame of the capture: no more after this one.
            self.active.store(false, Ordering::Relaxed);
        }
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let len = frame.len().min(SNAPLEN);
        let mut c = CapturedFrame {
            ts,
            port,
            dir,
            orig_len: frame.len() as u32,
            len: len as u16,
            data: [0; SNAPLEN],
        };
        c.data[..len].copy_from_slice(&frame[..len]);
        if self.ring.push(c).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Offers every frame of `descs` (a received batch, before the pipeline).
    #[inline]
    pub fn offer_batch<B: FrameBuf>(&self, buf: &B, port: PortId, dir: Direction, descs: &[B::Desc]) {
        for d in descs {
            self.offer(port, dir, buf.data(d));
        }
    }
}

/// IPv4 source and destination of an Ethernet frame (one 802.1Q tag allowed).
fn ipv4_addrs(frame: &[u8]) -> Option<(u32, u32)> {
    let mut off = 12;
    let mut ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    if ethertype == 0x8100 {
        off += 4;
        ethertype = u16::from_be_bytes([*frame.get(off)?, *frame.get(off + 1)?]);
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ip = frame.get(off + 2..off + 22)?;
    let src = u32::from_be_bytes([ip[12], ip[13], ip[14], ip[15]]);
    let dst = u32::from_be_bytes([ip[16], ip[17], ip[18], ip[19]]);
    Some((src, dst))
}

/// Writes `frames` as a classic pcap file (Ethernet link type, microsecond timestamps).
pub fn write_pcap<W: Write>(frames: &[CapturedFrame], w: W) -> Result<(), CaptureError> {
    let header = pcap_file::pcap::PcapHeader {
        snaplen: SNAPLEN as u32,
        endianness: pcap_file::Endianness::Little,
        ..Default::default()
    };
    let mut pw = pcap_file::pcap::PcapWriter::with_header(w, header)?;
    for f in frames {
        pw.write_packet(&pcap_file::pcap::PcapPacket::new(f.ts, f.orig_len, f.bytes()))?;
    }
    pw.into_writer().flush()?;
    Ok(())
}

/// Runs the pipeline over `ports`, through a [`Tap`] when `capture` is given (the worker
/// passes it only while a capture runs), so transmitted frames are offered to it.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn run_pipeline<P: Ports>(
    capture: Option<&Capture>,
    pipeline: &mut Pipeline,
    ports: &mut P,
    batch: &mut Batch<P::Desc>,
    fib: &FibSnapshot,
    punt: Option<&PuntQueues>,
    counters: &mut WorkerCounters,
    now: Instant,
) {
    match capture {
        Some(capture) => pipeline.run(&mut Tap { ports, capture }, batch, fib, punt, counters, now),
        None => pipeline.run(ports, batch, fib, punt, counters, now),
    }
}

/// A [`Ports`] wrapper that offers every transmitted frame to the capture, then sends it.
/// The worker hands it to the pipeline instead of its ports while a capture runs.
pub struct Tap<'a, P> {
    pub ports: &'a mut P,
    pub capture: &'a Capture,
}

impl<P: Ports> FrameBuf for Tap<'_, P> {
    type Desc = P::Desc;
    #[inline]
    fn capacity(&self) -> usize {
        self.ports.capacity()
    }
    #[inline]
    fn len(&self, desc: &Self::Desc) -> usize {
        self.ports.len(desc)
    }
    #[inline]
    fn data(&self, desc: &Self::Desc) -> &[u8] {
        self.ports.data(desc)
    }
    #[inline]
    fn data_mut(&mut self, desc: &Self::Desc) -> &mut [u8] {
        self.ports.data_mut(desc)
    }
    #[inline]
    fn set_len(&mut self, desc: &mut Self::Desc, len: usize) -> bool {
        self.ports.set_len(desc, len)
    }
    #[inline]
    fn headroom(&self, desc: &Self::Desc) -> usize {
        self.ports.headroom(desc)
    }
    #[inline]
    fn adjust_head(&mut self, desc: &mut Self::Desc, delta: isize) -> bool {
        self.ports.adjust_head(desc, delta)
    }
}

impl<P: Ports> Ports for Tap<'_, P> {
    fn port_count(&self) -> usize {
        self.ports.port_count()
    }
    fn rx_burst(&mut self, port: PortId, out: &mut [Self::Desc]) -> usize {
        self.ports.rx_burst(port, out)
    }
    fn tx_burst(&mut self, port: PortId, frames: &[Self::Desc]) -> usize {
        // Offered before sending: once queued, a frame belongs to the backend. A frame the
        // ring then refuses is in the capture but not on the wire (rare; counted as
        // tx_dropped by the pipeline).
        if self.capture.active() {
            for d in frames {
                self.capture.offer(port, Direction::Tx, self.ports.data(d));
            }
        }
        self.ports.tx_burst(port, frames)
    }
    fn recycle(&mut self, frames: &[Self::Desc]) {
        self.ports.recycle(frames)
    }
    fn alloc(&mut self) -> Option<Self::Desc> {
        self.ports.alloc()
    }
    fn service(&mut self) {
        self.ports.service()
    }
    fn idle_wait(&mut self, timeout: Duration) {
        self.ports.idle_wait(timeout)
    }
    fn link_up(&self, port: PortId) -> bool {
        self.ports.link_up(port)
    }
    fn maintain(&mut self) {
        self.ports.maintain()
    }
    fn tx_room(&mut self, port: PortId, want: usize) -> usize {
        self.ports.tx_room(port, want)
    }
    fn hold_budget(&self) -> usize {
        self.ports.hold_budget()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::port::MemPorts;
    use crate::testkit::*;

    fn ping(src: Ipv4Addr, dst: Ipv4Addr) -> Vec<u8> {
        echo_request(MAC_A, MAC_J0, None, src, dst, 64, 1, 1, 8)
    }

    #[test]
    fn idle_capture_takes_nothing_and_limit_stops_it() {
        let c = Capture::new(8);
        assert!(!c.active());
        assert!(matches!(
            c.start(CaptureFilter { port: PORT_A, between: None, limit: 9 }),
            Err(CaptureError::BadLimit(9, 8))
        ));
        c.start(CaptureFilter { port: PORT_A, between: None, limit: 2 }).unwrap();
        assert!(c.active());
        let f = ping(IP_A, IP_H);
        c.offer(PORT_H, Direction::Rx, &f);
        c.offer(PORT_A, Direction::Rx, &f);
        c.offer(PORT_A, Direction::Tx, &f);
        assert!(!c.active(), "limit reached");
        c.offer(PORT_A, Direction::Tx, &f);
        let mut out = Vec::new();
        c.drain(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].dir, out[1].dir), (Direction::Rx, Direction::Tx));
        assert_eq!(out[0].bytes(), &f[..]);
        assert_eq!(c.status(), CaptureStatus { active: false, captured: 2, dropped: 0 });
    }

    #[test]
    fn ip_filter_matches_both_directions_only() {
        let c = Capture::new(8);
        let other = Ipv4Addr::new(10, 9, 9, 9);
        c.start(CaptureFilter { port: PORT_A, between: Some((IP_H, IP_A)), limit: 8 }).unwrap();
        c.offer(PORT_A, Direction::Rx, &ping(IP_A, IP_H));
        c.offer(PORT_A, Direction::Tx, &ping(IP_H, IP_A));
        c.offer(PORT_A, Direction::Rx, &ping(IP_A, other));
        c.offer(PORT_A, Direction::Rx, &arp_request(MAC_A, IP_A, IP_J0));
        c.offer(PORT_A, Direction::Rx, &[0u8; 10]);
        let mut out = Vec::new();
        c.drain(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(&out[1].bytes()[26..34], &[10, 1, 5, 7, 10, 0, 0, 10][..]);
    }

    #[test]
    fn full_ring_counts_drops_without_blocking_and_truncates_long_frames() {
        let c = Capture::new(2);
        c.start(CaptureFilter { port: PORT_A, between: None, limit: 2 }).unwrap();
        let long = vec![0xabu8; SNAPLEN + 100];
        c.offer(PORT_A, Direction::Rx, &long);
        // Fill the ring behind the capture's back to see the drop path.
        let c2 = Capture::new(1);
        c2.start(CaptureFilter { port: PORT_A, between: None, limit: 1 }).unwrap();
        c2.offer(PORT_A, Direction::Rx, &long);
        c2.limit.store(5, Ordering::Relaxed);
        c2.active.store(true, Ordering::Relaxed);
        c2.offer(PORT_A, Direction::Rx, &long);
        assert_eq!(c2.status(), CaptureStatus { active: true, captured: 1, dropped: 1 });
        let mut out = Vec::new();
        c.drain(&mut out);
        assert_eq!((out[0].orig_len as usize, out[0].bytes().len()), (SNAPLEN + 100, SNAPLEN));
    }

    #[test]
    fn pcap_file_holds_frames_with_timestamps() {
        let c = Capture::new(4);
        c.start(CaptureFilter { port: PORT_A, between: None, limit: 4 }).unwrap();
        let f = ping(IP_A, IP_H);
        c.offer(PORT_A, Direction::Rx, &f);
        let mut out = Vec::new();
        c.drain(&mut out);
        let mut file = Vec::new();
        write_pcap(&out, &mut file).unwrap();
        // Classic pcap header: magic, v2.4, snaplen, Ethernet link type.
        assert_eq!(&file[..4], &0xa1b2c3d4u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(file[16..20].try_into().unwrap()), SNAPLEN as u32);
        assert_eq!(u32::from_le_bytes(file[20..24].try_into().unwrap()), 1);
        let mut r = pcap_file::pcap::PcapReader::new(&file[..]).unwrap();
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!((&p.data[..], p.orig_len), (&f[..], f.len() as u32));
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(now.saturating_sub(p.timestamp) < Duration::from_secs(60), "real wall-clock time");
        assert!(r.next_packet().is_none());
    }

    #[test]
    fn worker_captures_rx_before_and_tx_after_the_pipeline_and_counts_flows() {
        use crate::worker::{Worker, WorkerConfig};
        use rib::FibCell;
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
        let (publisher, _consumer) = crate::stats::channel(0, 8);
        let capture = Arc::new(Capture::new(8));
        let (flows, flow_consumer) = crate::flows::channel(0);
        let reader = crate::flows::FlowReader::new(vec![flow_consumer]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut w =
            Worker::new(WorkerConfig::new(0), MemPorts::new(3, 64), fib, publisher, None, stop.clone())
                .with_capture(capture.clone())
                .with_flows(flows);
        let req = ping(IP_A, IP_H);
        // No capture running: nothing is copied.
        w.ports_mut().inject(PORT_A, &req).unwrap();
        assert_eq!(w.poll_once(std::time::Instant::now()), 1);
        assert_eq!(w.ports_mut().take_tx(PORT_H).len(), 1);
        let mut out = Vec::new();
        capture.drain(&mut out);
        assert!(out.is_empty());
        // A capture on H: the frame leaves H after two logical hops (TTL 62, L's MAC).
        capture.start(CaptureFilter { port: PORT_H, between: Some((IP_A, IP_H)), limit: 8 }).unwrap();
        w.ports_mut().inject(PORT_A, &req).unwrap();
        assert_eq!(w.poll_once(std::time::Instant::now()), 1);
        let sent = w.ports_mut().take_tx(PORT_H);
        assert_eq!(sent, vec![echo_request(MAC_L0, MAC_H, None, IP_A, IP_H, 62, 1, 1, 8)]);
        capture.drain(&mut out);
        assert_eq!(out.len(), 1, "received on A is not port H");
        assert_eq!((out[0].dir, out[0].bytes()), (Direction::Tx, &sent[0][..]));
        // A capture on A sees the request as A sent it (TTL 64).
        capture.start(CaptureFilter { port: PORT_A, between: None, limit: 8 }).unwrap();
        w.ports_mut().inject(PORT_A, &req).unwrap();
        w.poll_once(std::time::Instant::now());
        out.clear();
        capture.drain(&mut out);
        assert_eq!((out.len(), out[0].dir, out[0].bytes()), (1, Direction::Rx, &req[..]));
        // Three frames of one flow of tenant z (id 0), counted at receive; a stopping worker
        // publishes its table.
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = w.run();
        let top = reader.top(Some(0), 10);
        assert_eq!(top.len(), 1, "{top:?}");
        assert_eq!((top[0].packets, top[0].bytes), (3, 3 * req.len() as u64));
        assert_eq!((top[0].key.src_ip(), top[0].key.dst_ip(), top[0].key.proto), (IP_A, IP_H, 1));
    }

    #[test]
    fn tap_offers_transmitted_frames_and_sends_them() {
        let c = Capture::new(4);
        let mut ports = MemPorts::new(3, 16);
        c.start(CaptureFilter { port: PORT_H, between: None, limit: 4 }).unwrap();
        let d = ports.alloc().unwrap();
        let f = ping(IP_A, IP_H);
        let mut d2 = d;
        assert!(ports.set_len(&mut d2, f.len()));
        ports.data_mut(&d2).copy_from_slice(&f);
        let mut tap = Tap { ports: &mut ports, capture: &c };
        assert_eq!(tap.tx_burst(PORT_H, &[d2]), 1);
        assert_eq!(ports.take_tx(PORT_H), vec![f.clone()]);
        let mut out = Vec::new();
        c.drain(&mut out);
        assert_eq!((out.len(), out[0].dir, out[0].bytes()), (1, Direction::Tx, &f[..]));
    }
}
