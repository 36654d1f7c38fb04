//! The port boundary, shaped like AF_XDP: frames live in one buffer per worker (the UMEM,
//! shared by all of that worker's ports); a port hands out received frame descriptors in
//! batches, takes descriptors to transmit, and reclaims completed or dropped frames. The
//! in-memory backend ([`MemPorts`]) drives tests and benches; `xsk` is the AF_XDP backend.
//!
//! CONTRACT (implemented by `xsk::XskPorts` too):
//! - [`FrameBuf`]: byte access to frames by descriptor. A descriptor names a frame, where its
//!   packet starts inside it and how long it is. Every frame keeps headroom in front of a
//!   received or allocated packet (the kernel's XDP headroom on AF_XDP, [`DEFAULT_HEADROOM`]
//!   in memory), so a stage prepends headers by moving the start back
//!   ([`FrameBuf::adjust_head`] with a negative delta: VXLAN encap writes 50 bytes there, a
//!   VLAN push moves only the 12 MAC bytes) and strips them by moving it forward (decap, VLAN
//!   pop), never moving the rest of the packet. Growing at the end is `set_len`.
//! - [`Ports`]: rx/tx bursts per port, recycling, allocation of free frames, housekeeping.
//!   A worker owns its `Ports` value; nothing here is shared between threads.
//! - Port numbers are `rib::PortId`s: index `i` is `FibSnapshot::ports[i]`.

use rib::PortId;
use std::collections::VecDeque;
use std::time::Duration;

/// Default size of one frame in the in-memory buffer (as an AF_XDP UMEM chunk).
pub const FRAME_SIZE: usize = 2048;

/// Bytes kept free in front of every received or allocated packet in [`MemPorts`] (as the
/// kernel's `XDP_PACKET_HEADROOM` in an AF_XDP frame).
pub const DEFAULT_HEADROOM: usize = 256;

/// Byte access to the frames of one worker's buffer (the UMEM).
///
/// `Desc` is the backend's frame descriptor: a small `Copy` value that names one frame, where
/// the packet starts in it, and the packet length ([`MemDesc`], `xsk::XskDesc`).
///
/// Layout of one frame: `[headroom | packet (len) | tailroom]`. `data` is the packet;
/// `adjust_head` trades headroom for packet bytes at the front, `set_len` tailroom for packet
/// bytes at the end. Nothing here moves packet bytes.
pub trait FrameBuf {
    /// Frame descriptor: which frame, where its packet starts, how many bytes it holds.
    type Desc: Copy + Default + Send + 'static;

    /// Largest packet a frame holds when it starts where received and allocated packets
    /// start (after the default headroom).
    fn capacity(&self) -> usize;

    /// Current packet length of `desc`.
    fn len(&self, desc: &Self::Desc) -> usize;

    /// The packet bytes of `desc` (`len` bytes).
    fn data(&self, desc: &Self::Desc) -> &[u8];

    /// The packet bytes of `desc` (`len` bytes), writable in place.
    fn data_mut(&mut self, desc: &Self::Desc) -> &mut [u8];

    /// Sets the packet length of `desc` (bytes past the old length are unspecified).
    /// Returns false, changing nothing, when the packet would run past the end of its frame
    /// (`len > capacity()` for a packet at the default start).
    fn set_len(&mut self, desc: &mut Self::Desc, len: usize) -> bool;

    /// Bytes free in front of the packet of `desc` (how far its start can move back).
    fn headroom(&self, desc: &Self::Desc) -> usize;

    /// Moves the start of the packet of `desc` by `delta` bytes, keeping its end: a negative
    /// delta prepends `-delta` bytes taken from the headroom (their content is unspecified),
    /// a positive one strips `delta` bytes from the front. Returns false, changing nothing,
    /// when the start would leave the frame or pass the end of the packet.
    fn adjust_head(&mut self, desc: &mut Self::Desc, delta: isize) -> bool;
}

/// The set of ports one worker serves, all over one [`FrameBuf`]. The worker loop is generic
/// over this trait: `rx_burst` per port → pipeline in place → `tx_burst` per egress port.
///
/// Frame ownership: a descriptor returned by `rx_burst` or `alloc` belongs to the caller
/// until it is passed to `tx_burst` (the backend owns it until the completion returns it to
/// the free list) or to `recycle` (back to the free list / fill ring at once).
pub trait Ports: FrameBuf {
    /// Number of ports; valid port ids are `0..port_count()`.
    fn port_count(&self) -> usize;

    /// Moves up to `out.len()` received frames of `port` into `out`; returns how many.
    /// An unknown port yields 0.
    fn rx_burst(&mut self, port: PortId, out: &mut [Self::Desc]) -> usize;

    /// Queues `frames` for transmission on `port`; returns how many were queued. Frames that
    /// were not queued (ring full, unknown port) are recycled by the backend, so the caller
    /// only counts `frames.len() - returned` as transmit drops.
    fn tx_burst(&mut self, port: PortId, frames: &[Self::Desc]) -> usize;

    /// Returns frames the caller dropped to the free list.
    fn recycle(&mut self, frames: &[Self::Desc]);

    /// A free frame with length 0, for packets the worker originates (router probes).
    fn alloc(&mut self) -> Option<Self::Desc>;

    /// Housekeeping once per poll-loop round: reap transmit completions into the free list,
    /// refill receive (fill) rings, kick transmit if the backend needs a wakeup.
    fn service(&mut self);

    /// Called by an idle worker: wait up to `timeout` for traffic (AF_XDP may poll() its
    /// sockets). The default just sleeps.
    fn idle_wait(&mut self, timeout: Duration) {
        std::thread::sleep(timeout);
    }

    /// Whether `port` can transmit now (its device is there and attached). Egress counts
    /// frames for a port whose link is down as `egress_down` instead of queueing them.
    fn link_up(&self, _port: PortId) -> bool {
        true
    }

    /// Slow housekeeping, about once a second (never per batch): notice devices that
    /// appeared (attach) or went away (detach, mark the port down). The default does nothing.
    fn maintain(&mut self) {}

    /// How many of `want` frames `tx_burst(port, ..)` would take now (a backend may kick its
    /// device to make room first). The egress scheduler asks before it sends, so that what
    /// the ring cannot take stays in its class queues instead of being dropped. The default
    /// says `want` (no backpressure known: a full ring then drops as `tx_ring_full`).
    fn tx_room(&mut self, _port: PortId, want: usize) -> usize {
        want
    }

    /// Most frames the worker may hold in its software queues (shaper and class queues) at
    /// once without starving its receive rings: frames held there are not in the free list.
    /// The default sets no bound.
    fn hold_budget(&self) -> usize {
        usize::MAX
    }
}

/// Why a port's link is down (the port exists in the topology; its device does not work).
/// Displayed after "device NAME", e.g. "device veth3 does not exist (waiting for it)".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDown {
    /// The device does not exist (yet): attached when it appears.
    DeviceMissing,
    /// The device went away while the port was running.
    DeviceRemoved,
    /// The device has fewer rx queues than workers (this worker's queue is missing).
    QueueMissing { available: u32 },
    /// Attaching the socket / XDP program failed with this errno (retried).
    AttachRefused { errno: i32 },
}

impl std::fmt::Display for LinkDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkDown::DeviceMissing => write!(f, "does not exist (waiting for it)"),
            LinkDown::DeviceRemoved => write!(f, "was removed (waiting for it to come back)"),
            LinkDown::QueueMissing { available } => {
                write!(f, "has {available} rx queue(s), fewer than the workers")
            }
            LinkDown::AttachRefused { errno } => {
                write!(f, "refused the AF_XDP attach: {}", std::io::Error::from_raw_os_error(*errno))
            }
        }
    }
}

impl LinkDown {
    fn encode(self) -> u64 {
        match self {
            LinkDown::DeviceMissing => 1 << 32,
            LinkDown::DeviceRemoved => 2 << 32,
            LinkDown::QueueMissing { available } => 3 << 32 | available as u64,
            LinkDown::AttachRefused { errno } => 4 << 32 | errno as u32 as u64,
        }
    }

    fn decode(v: u64) -> Option<LinkDown> {
        let detail = v as u32;
        match v >> 32 {
            1 => Some(LinkDown::DeviceMissing),
            2 => Some(LinkDown::DeviceRemoved),
            3 => Some(LinkDown::QueueMissing { available: detail }),
            4 => Some(LinkDown::AttachRefused { errno: detail as i32 }),
            _ => None,
        }
    }
}

/// The link state of every port, written by the workers when it changes (one atomic store;
/// the last writer wins, and every worker sees the same device) and read by the shell
/// (`show interfaces`) from any thread.
#[derive(Debug)]
pub struct LinkBoard {
    ports: Box<[std::sync::atomic::AtomicU64]>,
}

impl LinkBoard {
    /// A board of `ports` ports, all up.
    pub fn new(ports: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(LinkBoard {
            ports: (0..ports).map(|_| std::sync::atomic::AtomicU64::new(0)).collect(),
        })
    }

    /// Records `port`'s state (None: up).
    pub fn set(&self, port: usize, down: Option<LinkDown>) {
        if let Some(p) = self.ports.get(port) {
            p.store(down.map_or(0, LinkDown::encode), std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Why `port` is down, None when it is up (or unknown).
    pub fn get(&self, port: usize) -> Option<LinkDown> {
        self.ports.get(port).and_then(|p| LinkDown::decode(p.load(std::sync::atomic::Ordering::Relaxed)))
    }
}

/// Descriptor of a frame in [`MemPorts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemDesc {
    /// Frame index in the buffer.
    pub frame: u32,
    /// Offset of the packet's first byte from the start of the frame (its headroom).
    pub off: u32,
    /// Packet length in bytes.
    pub len: u32,
}

/// Errors of the in-memory backend's test-side API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemPortError {
    #[error("no port {0}")]
    NoSuchPort(u16),
    #[error("frame of {0} bytes exceeds the frame capacity {1}")]
    TooLong(usize, usize),
    #[error("no free frame in the buffer")]
    NoFreeFrame,
    #[error("receive ring of port {0} is full")]
    RxFull(u16),
}

/// One in-memory port: a receive ring the test fills and a transmit ring the test drains.
#[derive(Debug)]
struct MemPort {
    rx: VecDeque<MemDesc>,
    tx: VecDeque<MemDesc>,
    /// Link state set by the test ([`MemPorts::set_link`]).
    down: Option<LinkDown>,
}

/// In-memory backend: `frame_count` frames in one `Vec`, each [`DEFAULT_HEADROOM`] bytes of
/// headroom followed by `frame_size` bytes of packet room, shared by `port_count` ports whose
/// rings hold at most `ring_size` descriptors. Tests inject frames
/// as bytes into a port's receive ring and read transmitted frames back as bytes; a
/// transmitted frame stays in its port's tx ring (not yet "completed") until read or
/// discarded. No allocation after construction.
#[derive(Debug)]
pub struct MemPorts {
    mem: Vec<u8>,
    /// Packet room of a frame after its headroom.
    frame_size: usize,
    /// Headroom of a received or allocated packet.
    headroom: usize,
    /// Bytes per frame: `headroom + frame_size`.
    stride: usize,
    free: Vec<u32>,
    ports: Vec<MemPort>,
    ring_size: usize,
}

impl MemPorts {
    /// `port_count` ports over `frame_count` frames of [`FRAME_SIZE`] bytes, rings of 1024.
    pub fn new(port_count: usize, frame_count: usize) -> Self {
        Self::with_sizes(port_count, frame_count, FRAME_SIZE, 1024)
    }

    /// Fully sized constructor: `frame_size` (at least 64) is the packet room of a frame,
    /// which has [`DEFAULT_HEADROOM`] bytes in front of it too.
    pub fn with_sizes(port_count: usize, frame_count: usize, frame_size: usize, ring_size: usize) -> Self {
        let frame_size = frame_size.max(64);
        let frame_count = frame_count.min(u32::MAX as usize);
        let headroom = DEFAULT_HEADROOM;
        let stride = headroom + frame_size;
        MemPorts {
            mem: vec![0u8; frame_count * stride],
            frame_size,
            headroom,
            stride,
            free: (0..frame_count as u32).rev().collect(),
            ports: (0..port_count)
                .map(|_| MemPort {
                    rx: VecDeque::with_capacity(ring_size),
                    tx: VecDeque::with_capacity(ring_size),
                    down: None,
                })
                .collect(),
            ring_size,
        }
    }

    /// Sets `port`'s link state as a device appearing or going away would (tests).
    pub fn set_link(&mut self, port: PortId, down: Option<LinkDown>) {
        if let Some(p) = self.ports.get_mut(port.index()) {
            p.down = down;
        }
    }

    /// Frames currently on the free list (for leak checks: every frame is free once all rx and
    /// tx rings are drained).
    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// Total frames in the buffer.
    pub fn frame_count(&self) -> usize {
        self.mem.len() / self.stride
    }

    /// Copies `bytes` into a free frame and appends it to `port`'s receive ring.
    pub fn inject(&mut self, port: PortId, bytes: &[u8]) -> Result<(), MemPortError> {
        if bytes.len() > self.frame_size {
            return Err(MemPortError::TooLong(bytes.len(), self.frame_size));
        }
        let ring_size = self.ring_size;
        let p = self.ports.get(port.index()).ok_or(MemPortError::NoSuchPort(port.0))?;
        if p.rx.len() >= ring_size {
            return Err(MemPortError::RxFull(port.0));
        }
        let frame = self.free.pop().ok_or(MemPortError::NoFreeFrame)?;
        let desc = MemDesc { frame, off: self.headroom as u32, len: bytes.len() as u32 };
        let r = self.range(&desc);
        self.mem[r].copy_from_slice(bytes);
        self.ports[port.index()].rx.push_back(desc);
        Ok(())
    }

    /// Number of frames waiting in `port`'s transmit ring.
    pub fn tx_pending(&self, port: PortId) -> usize {
        self.ports.get(port.index()).map_or(0, |p| p.tx.len())
    }

    /// Number of frames waiting in `port`'s receive ring.
    pub fn rx_pending(&self, port: PortId) -> usize {
        self.ports.get(port.index()).map_or(0, |p| p.rx.len())
    }

    /// Removes and returns every frame transmitted on `port`, oldest first, as bytes
    /// (completing them: their frames return to the free list).
    pub fn take_tx(&mut self, port: PortId) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(bytes) = self.pop_tx(port) {
            out.push(bytes);
        }
        out
    }

    /// Removes the oldest frame transmitted on `port` and returns its bytes.
    pub fn pop_tx(&mut self, port: PortId) -> Option<Vec<u8>> {
        let desc = self.ports.get_mut(port.index())?.tx.pop_front()?;
        let bytes = self.data(&desc).to_vec();
        self.free.push(desc.frame);
        Some(bytes)
    }

    /// Completes every frame transmitted on `port` without copying; returns how many.
    pub fn discard_tx(&mut self, port: PortId) -> usize {
        let Some(p) = self.ports.get_mut(port.index()) else { return 0 };
        let n = p.tx.len();
        for d in p.tx.drain(..) {
            self.free.push(d.frame);
        }
        n
    }

    /// Calls `f` with the bytes of every frame waiting in `port`'s transmit ring, then
    /// completes them (no allocation; used by benches).
    pub fn drain_tx_with(&mut self, port: PortId, mut f: impl FnMut(&[u8])) -> usize {
        let Some(p) = self.ports.get_mut(port.index()) else { return 0 };
        let mut n = 0;
        while let Some(d) = p.tx.pop_front() {
            let r = Self::range_in(self.stride, self.mem.len(), &d);
            f(&self.mem[r]);
            self.free.push(d.frame);
            n += 1;
        }
        n
    }

    /// The bytes of `desc`'s packet in `mem`, clamped into its frame.
    fn range_in(stride: usize, mem_len: usize, desc: &MemDesc) -> std::ops::Range<usize> {
        let frame = (desc.frame as usize).saturating_mul(stride).min(mem_len);
        let frame_end = (frame + stride).min(mem_len);
        let start = (frame + desc.off as usize).min(frame_end);
        start..(start + desc.len as usize).min(frame_end)
    }

    fn range(&self, desc: &MemDesc) -> std::ops::Range<usize> {
        Self::range_in(self.stride, self.mem.len(), desc)
    }
}

impl FrameBuf for MemPorts {
    type Desc = MemDesc;

    #[inline]
    fn capacity(&self) -> usize {
        self.frame_size
    }

    #[inline]
    fn len(&self, desc: &MemDesc) -> usize {
        desc.len as usize
    }

    #[inline]
    fn data(&self, desc: &MemDesc) -> &[u8] {
        let r = self.range(desc);
        &self.mem[r]
    }

    #[inline]
    fn data_mut(&mut self, desc: &MemDesc) -> &mut [u8] {
        let r = self.range(desc);
        &mut self.mem[r]
    }

    #[inline]
    fn set_len(&mut self, desc: &mut MemDesc, len: usize) -> bool {
        if desc.off as usize + len > self.stride {
            return false;
        }
        desc.len = len as u32;
        true
    }

    #[inline]
    fn headroom(&self, desc: &MemDesc) -> usize {
        desc.off as usize
    }

    #[inline]
    fn adjust_head(&mut self, desc: &mut MemDesc, delta: isize) -> bool {
        let off = desc.off as isize + delta;
        let len = desc.len as isize - delta;
        if off < 0 || len < 0 || off as usize + len as usize > self.stride {
            return false;
        }
        desc.off = off as u32;
        desc.len = len as u32;
        true
    }
}

impl Ports for MemPorts {
    fn port_count(&self) -> usize {
        self.ports.len()
    }

    fn rx_burst(&mut self, port: PortId, out: &mut [MemDesc]) -> usize {
        let Some(p) = self.ports.get_mut(port.index()) else { return 0 };
        let n = out.len().min(p.rx.len());
        for (o, d) in out.iter_mut().zip(p.rx.drain(..n)) {
            *o = d;
        }
        n
    }

    fn tx_burst(&mut self, port: PortId, frames: &[MemDesc]) -> usize {
        let ring_size = self.ring_size;
        let Some(p) = self.ports.get_mut(port.index()) else {
            self.recycle(frames);
            return 0;
        };
        let room = ring_size.saturating_sub(p.tx.len());
        let n = frames.len().min(room);
        p.tx.extend(frames[..n].iter().copied());
        self.recycle(&frames[n..]);
        n
    }

    fn recycle(&mut self, frames: &[MemDesc]) {
        self.free.extend(frames.iter().map(|d| d.frame));
    }

    fn alloc(&mut self) -> Option<MemDesc> {
        let off = self.headroom as u32;
        self.free.pop().map(|frame| MemDesc { frame, off, len: 0 })
    }

    fn service(&mut self) {}

    fn link_up(&self, port: PortId) -> bool {
        self.ports.get(port.index()).is_some_and(|p| p.down.is_none())
    }

    fn tx_room(&mut self, port: PortId, want: usize) -> usize {
        let ring_size = self.ring_size;
        self.ports.get(port.index()).map_or(0, |p| want.min(ring_size.saturating_sub(p.tx.len())))
    }

    /// Half the buffer: the other half stays for receive and transmit rings.
    fn hold_budget(&self) -> usize {
        self.frame_count() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inject_rx_tx_take_round_trip_keeps_every_frame() {
        let mut p = MemPorts::with_sizes(2, 8, 128, 4);
        p.inject(PortId(0), &[1, 2, 3]).unwrap();
        p.inject(PortId(0), &[4, 5]).unwrap();
        assert_eq!(p.free_frames(), 6);
        let mut batch = [MemDesc::default(); 4];
        let n = p.rx_burst(PortId(0), &mut batch);
        assert_eq!(n, 2);
        assert_eq!(p.data(&batch[0]), &[1, 2, 3]);
        p.data_mut(&batch[1])[0] = 9;
        assert!(p.set_len(&mut batch[1], 3));
        assert!(!p.set_len(&mut batch[1], 129));
        assert_eq!(p.tx_burst(PortId(1), &batch[..2]), 2);
        let out = p.take_tx(PortId(1));
        assert_eq!(out[0], vec![1, 2, 3]);
        assert_eq!(&out[1][..2], &[9, 5]);
        assert_eq!(out[1].len(), 3);
        assert_eq!(p.free_frames(), 8);
    }

    #[test]
    fn adjust_head_prepends_into_the_headroom_and_strips_without_moving_bytes() {
        let mut p = MemPorts::with_sizes(1, 2, 128, 4);
        p.inject(PortId(0), &[1, 2, 3, 4, 5, 6]).unwrap();
        let mut b = [MemDesc::default(); 1];
        assert_eq!(p.rx_burst(PortId(0), &mut b), 1);
        let mut d = b[0];
        assert_eq!((p.headroom(&d), d.off as usize), (DEFAULT_HEADROOM, DEFAULT_HEADROOM));
        // Prepend 3 bytes: the old bytes stay where they are, behind the new ones.
        assert!(p.adjust_head(&mut d, -3));
        assert_eq!((p.headroom(&d), p.len(&d)), (DEFAULT_HEADROOM - 3, 9));
        p.data_mut(&d)[..3].copy_from_slice(&[7, 8, 9]);
        assert_eq!(p.data(&d), &[7, 8, 9, 1, 2, 3, 4, 5, 6]);
        // Strip 5: starts at the old third byte.
        assert!(p.adjust_head(&mut d, 5));
        assert_eq!(p.data(&d), &[3, 4, 5, 6]);
        // Out of the frame or past the end: refused, nothing changes.
        let before = d;
        assert!(!p.adjust_head(&mut d, 5));
        assert!(!p.adjust_head(&mut d, -(DEFAULT_HEADROOM as isize) - 3));
        assert_eq!(d, before);
        let room = p.headroom(&d) as isize;
        assert!(p.adjust_head(&mut d, -room));
        assert_eq!(p.headroom(&d), 0);
        // Growing at the end is bounded by the frame's end, wherever the start is.
        assert!(p.set_len(&mut d, DEFAULT_HEADROOM + 128));
        assert!(!p.set_len(&mut d, DEFAULT_HEADROOM + 129));
        assert_eq!(p.data(&d).len(), DEFAULT_HEADROOM + 128);
        // Frames do not overlap: the second frame's bytes are untouched by the first's.
        p.inject(PortId(0), &[0xaa; 128]).unwrap();
        p.data_mut(&d).fill(0x55);
        let n = p.rx_burst(PortId(0), &mut b);
        assert_eq!(p.data(&b[..n][0]), &[0xaa; 128][..]);
        p.recycle(&[d, b[0]]);
        assert_eq!(p.free_frames(), 2);
    }

    #[test]
    fn full_rings_and_unknown_ports_recycle() {
        let mut p = MemPorts::with_sizes(1, 8, 64, 2);
        p.inject(PortId(0), &[0; 10]).unwrap();
        p.inject(PortId(0), &[0; 10]).unwrap();
        assert_eq!(p.inject(PortId(0), &[0; 10]), Err(MemPortError::RxFull(0)));
        assert_eq!(p.inject(PortId(3), &[0; 10]), Err(MemPortError::NoSuchPort(3)));
        assert_eq!(p.inject(PortId(0), &[0; 65]), Err(MemPortError::TooLong(65, 64)));
        let a = [p.alloc().unwrap(), p.alloc().unwrap(), p.alloc().unwrap()];
        assert_eq!(p.tx_burst(PortId(0), &a), 2);
        let extra = p.alloc().unwrap();
        assert_eq!(p.tx_burst(PortId(7), &[extra]), 0);
        assert_eq!(p.discard_tx(PortId(0)), 2);
        let mut b = [MemDesc::default(); 4];
        let n = p.rx_burst(PortId(0), &mut b);
        p.recycle(&b[..n]);
        assert_eq!(p.free_frames(), 8);
    }
}

/// The far ends of [`WirePorts`]: per port, frames (as bytes) waiting to be received and
/// frames transmitted. Shared between a worker thread and a test thread, lock-free.
#[derive(Debug)]
pub struct Wires {
    rx: Vec<crossbeam_queue::ArrayQueue<Vec<u8>>>,
    tx: Vec<crossbeam_queue::ArrayQueue<Vec<u8>>>,
}

impl Wires {
    /// Queues `frame` for reception on `port`; gives it back when the queue is full.
    pub fn send(&self, port: PortId, frame: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.rx.get(port.index()) {
            Some(q) => q.push(frame),
            None => Err(frame),
        }
    }

    /// The oldest frame transmitted on `port`.
    pub fn recv(&self, port: PortId) -> Option<Vec<u8>> {
        self.tx.get(port.index())?.pop()
    }
}

/// A [`MemPorts`] whose rings are fed from and drained to [`Wires`], so a test thread can
/// talk to a worker running on its own thread. For threaded tests only: it allocates one
/// `Vec` per transmitted frame (the in-memory path benches use is [`MemPorts`]).
#[derive(Debug)]
pub struct WirePorts {
    mem: MemPorts,
    wires: std::sync::Arc<Wires>,
}

impl WirePorts {
    /// `port_count` ports over `frame_count` frames; each wire queue holds `queue` frames.
    pub fn new(port_count: usize, frame_count: usize, queue: usize) -> (WirePorts, std::sync::Arc<Wires>) {
        let q = || (0..port_count).map(|_| crossbeam_queue::ArrayQueue::new(queue.max(1))).collect();
        let wires = std::sync::Arc::new(Wires { rx: q(), tx: q() });
        (WirePorts { mem: MemPorts::new(port_count, frame_count), wires: wires.clone() }, wires)
    }

    /// The underlying in-memory ports.
    pub fn mem(&self) -> &MemPorts {
        &self.mem
    }
}

impl FrameBuf for WirePorts {
    type Desc = MemDesc;
    fn capacity(&self) -> usize {
        self.mem.capacity()
    }
    fn len(&self, desc: &MemDesc) -> usize {
        self.mem.len(desc)
    }
    fn data(&self, desc: &MemDesc) -> &[u8] {
        self.mem.data(desc)
    }
    fn data_mut(&mut self, desc: &MemDesc) -> &mut [u8] {
        self.mem.data_mut(desc)
    }
    fn set_len(&mut self, desc: &mut MemDesc, len: usize) -> bool {
        self.mem.set_len(desc, len)
    }
    fn headroom(&self, desc: &MemDesc) -> usize {
        self.mem.headroom(desc)
    }
    fn adjust_head(&mut self, desc: &mut MemDesc, delta: isize) -> bool {
        self.mem.adjust_head(desc, delta)
    }
}

impl Ports for WirePorts {
    fn port_count(&self) -> usize {
        self.mem.port_count()
    }

    fn rx_burst(&mut self, port: PortId, out: &mut [MemDesc]) -> usize {
        if let Some(q) = self.wires.rx.get(port.index()) {
            while self.mem.rx_pending(port) < out.len() && self.mem.free_frames() > 0 {
                let Some(frame) = q.pop() else { break };
                // A frame longer than a buffer is lost like on a real wire (MTU).
                let _ = self.mem.inject(port, &frame);
            }
        }
        self.mem.rx_burst(port, out)
    }

    fn tx_burst(&mut self, port: PortId, frames: &[MemDesc]) -> usize {
        let n = self.mem.tx_burst(port, frames);
        if let Some(q) = self.wires.tx.get(port.index()) {
            while let Some(bytes) = self.mem.pop_tx(port) {
                // The test sizes the queue; a full queue loses the frame like a full link.
                let _ = q.push(bytes);
            }
        }
        n
    }

    fn recycle(&mut self, frames: &[MemDesc]) {
        self.mem.recycle(frames)
    }

    fn alloc(&mut self) -> Option<MemDesc> {
        self.mem.alloc()
    }

    fn service(&mut self) {}

    fn link_up(&self, port: PortId) -> bool {
        self.mem.link_up(port)
    }

    fn tx_room(&mut self, port: PortId, want: usize) -> usize {
        self.mem.tx_room(port, want)
    }

    fn hold_budget(&self) -> usize {
        self.mem.hold_budget()
    }
}
