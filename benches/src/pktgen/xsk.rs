//! pktgen's own compact AF_XDP sockets (xsk-rs): a transmitter that fills frames in place and keeps
//! the completion ring drained, and a receiver that keeps the fill ring topped up. Each has its own
//! UMEM; a batch of frames goes per ring operation and per syscall (copy mode sends up to 32 per kick).

use super::PktgenError;
use std::num::NonZeroU32;
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::umem::frame::DataMut;
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

/// Frames handled per ring operation.
pub const BATCH: usize = 64;
/// UMEM frame size: fits a 1514-byte frame after the XDP headroom.
const FRAME_SIZE: u32 = 2048;
/// Frames per UMEM; also the ring sizes, so a produce never finds its ring full.
const FRAMES: u32 = 4096;

/// Which XDP attach mode the receive program uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum XdpMode {
    /// Native (driver) mode if the device takes it, else generic.
    Auto,
    Native,
    Generic,
}

fn xsk_err(dev: &str, what: &str, e: impl std::error::Error) -> PktgenError {
    let mut msg = format!("{what}: {e}");
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    PktgenError::Xsk { dev: dev.to_string(), msg }
}

/// How long a bind that finds the queue busy is retried. Closing an AF_XDP socket releases its
/// queue in deferred kernel work, so a socket bound right after another on the same queue (two runs
/// back to back) can see EBUSY for a few milliseconds.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(3);

fn is_busy(e: &PktgenError) -> bool {
    matches!(e, PktgenError::Xsk { msg, .. } if msg.contains("os error 16"))
}

/// Runs `open` again while the queue is still held by a socket being released (EBUSY), up to
/// [`BUSY_RETRY`]; any other error, or EBUSY past the deadline, is returned as it is.
fn retry_busy<T>(mut open: impl FnMut() -> Result<T, PktgenError>) -> Result<T, PktgenError> {
    let deadline = std::time::Instant::now() + BUSY_RETRY;
    loop {
        match open() {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn new_umem(dev: &str) -> Result<(Umem, Vec<FrameDesc>), PktgenError> {
    let qs = |n| QueueSize::new(n).map_err(|e| xsk_err(dev, "queue size", e));
    let config = UmemConfig::builder()
        .frame_size(FrameSize::new(FRAME_SIZE).map_err(|e| xsk_err(dev, "frame size", e))?)
        .fill_queue_size(qs(FRAMES)?)
        .comp_queue_size(qs(FRAMES)?)
        .build()
        .map_err(|e| xsk_err(dev, "UMEM config", e))?;
    let count = NonZeroU32::new(FRAMES)
        .ok_or_else(|| PktgenError::Xsk { dev: dev.to_string(), msg: "zero frames".into() })?;
    Umem::new(config, count, false).map_err(|e| xsk_err(dev, "creating the UMEM", e))
}

fn attached_program_id(ifindex: i32, flags: u32) -> Option<u32> {
    let mut id = 0u32;
    // SAFETY: `id` is a valid out pointer for the duration of the call.
    let rc = unsafe { libxdp_sys::bpf_xdp_query_id(ifindex, flags as i32, &mut id) };
    (rc == 0 && id != 0).then_some(id)
}

/// The (ifindex, mode flag, program id) of the XDP program on `dev` in mode `flags`.
fn attached_program(dev: &str, flags: XdpFlags) -> Option<(i32, u32, u32)> {
    let name = std::ffi::CString::new(dev).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
    if ifindex == 0 {
        return None;
    }
    let mode = (flags & (XdpFlags::XDP_FLAGS_DRV_MODE | XdpFlags::XDP_FLAGS_SKB_MODE)).bits();
    attached_program_id(ifindex, mode).map(|id| (ifindex, mode, id))
}

fn interface(dev: &str) -> Result<Interface, PktgenError> {
    dev.parse().map_err(|_| PktgenError::BadArgument { what: "device name", value: dev.to_string() })
}

/// Frames per kick we ask copy-mode transmit for (kernels without the option send 32).
const TX_BUDGET: u32 = 256;
/// `SOL_XDP` socket option setting how many frames one copy-mode `sendto` transmits (Linux 6.17+).
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;

/// Raises the per-kick transmit budget where the kernel has the option; `None` if it refused.
fn set_tx_budget(tx: &TxQueue, budget: u32) -> Option<u32> {
    use std::os::fd::AsRawFd;
    let fd = tx.fd().as_raw_fd();
    // SAFETY: setsockopt reads a u32 of the size we pass from a live stack value; fd is our socket.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            XDP_MAX_TX_SKB_BUDGET,
            &budget as *const u32 as *const libc::c_void,
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    (rc == 0).then_some(budget)
}

/// The transmitting socket.
pub struct TxPort {
    dev: String,
    tx_budget: Option<u32>,
    umem: Umem,
    tx: TxQueue,
    cq: CompQueue,
    _rx: RxQueue,
    _fq: FillQueue,
    free: Vec<FrameDesc>,
    batch: Vec<FrameDesc>,
    in_flight: usize,
}

impl TxPort {
    /// Binds a TX socket on `dev` queue `queue` in the calling thread's namespace. No XDP program
    /// is attached (a transmit-only socket needs none), so the device's kernel stack keeps
    /// working: ARP, routes and everything else are untouched.
    pub fn open(dev: &str, queue: u32) -> Result<Self, PktgenError> {
        retry_busy(|| Self::open_once(dev, queue))
    }

    fn open_once(dev: &str, queue: u32) -> Result<Self, PktgenError> {
        let (umem, descs) = new_umem(dev)?;
        let qs = |n| QueueSize::new(n).map_err(|e| xsk_err(dev, "queue size", e));
        let config = SocketConfig::builder()
            .tx_queue_size(qs(FRAMES)?)
            .rx_queue_size(qs(BATCH as u32)?)
            .libxdp_flags(LibxdpFlags::XSK_LIBXDP_FLAGS_INHIBIT_PROG_LOAD)
            .build();
        // SAFETY: the UMEM is new and not shared, so the INHIBIT/double-free caveat does not apply.
        let (tx, rx, rings) = unsafe { Socket::new(config, &umem, &interface(dev)?, queue) }
            .map_err(|e| xsk_err(dev, &format!("binding an AF_XDP TX socket on queue {queue}"), e))?;
        let (fq, cq) = rings.ok_or_else(|| PktgenError::Xsk {
            dev: dev.to_string(),
            msg: "no fill/completion rings returned".into(),
        })?;
        let tx_budget = set_tx_budget(&tx, TX_BUDGET);
        Ok(TxPort {
            dev: dev.to_string(),
            tx_budget,
            umem,
            tx,
            cq,
            _rx: rx,
            _fq: fq,
            free: descs,
            batch: Vec::with_capacity(BATCH),
            in_flight: 0,
        })
    }

    pub fn device(&self) -> &str {
        &self.dev
    }

    /// Frames the kernel sends per kick, if it took our `XDP_MAX_TX_SKB_BUDGET` (else 32).
    pub fn tx_budget(&self) -> Option<u32> {
        self.tx_budget
    }

    /// Frames free for writing.
    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// Frames handed to the kernel and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes completed frames back from the completion ring.
    pub fn reclaim(&mut self) {
        let mut scratch = [FrameDesc::default(); BATCH * 4];
        loop {
            // SAFETY: the completion ring hands back frames of this UMEM that the kernel is done with.
            let n = unsafe { self.cq.consume(&mut scratch) };
            self.free.extend_from_slice(&scratch[..n]);
            self.in_flight -= n.min(self.in_flight);
            if n < scratch.len() {
                break;
            }
        }
    }

    /// Writes up to `max` (≤ [`BATCH`]) frames with `write` and puts them on the TX ring. `write`
    /// gets each frame's data segment (its padding is zero) and returns false to stop early.
    /// Returns the number of frames queued.
    pub fn send_batch(&mut self, max: usize, mut write: impl FnMut(&mut DataMut<'_>) -> bool) -> usize {
        let n = max.min(BATCH).min(self.free.len());
        self.batch.clear();
        for _ in 0..n {
            let Some(mut desc) = self.free.pop() else { break };
            // SAFETY: `desc` came from this UMEM's free list: the kernel holds no reference to it.
            let mut data = unsafe { self.umem.data_mut(&mut desc) };
            if !write(&mut data) {
                self.free.push(desc);
                break;
            }
            self.batch.push(desc);
        }
        // SAFETY: every descriptor belongs to this UMEM and was just written; it is not reused until
        // the completion ring returns it.
        let queued = unsafe { self.tx.produce(&self.batch) };
        // The TX ring has as many slots as the UMEM has frames, so it cannot be full; if it ever
        // were, the unqueued frames go back to the free list.
        if queued < self.batch.len() {
            self.free.extend_from_slice(&self.batch[queued..]);
        }
        self.batch.clear();
        self.in_flight += queued;
        queued
    }

    /// Asks the kernel to transmit what is on the TX ring (one syscall; copy mode sends up to
    /// 32 frames per call). Does nothing when no frame is in flight.
    pub fn kick(&mut self) -> Result<(), PktgenError> {
        if self.in_flight == 0 {
            return Ok(());
        }
        self.tx.wakeup().map_err(|e| xsk_err(&self.dev, "TX wakeup", e))
    }

    /// Kernel counters of the socket: TX descriptors found invalid.
    pub fn tx_invalid_descs(&self) -> u64 {
        self.tx.fd().xdp_statistics().map(|s| s.tx_invalid_descs()).unwrap_or(0)
    }
}

/// The receiving socket.
pub struct RxPort {
    dev: String,
    umem: Umem,
    rx: RxQueue,
    fq: FillQueue,
    _tx: TxQueue,
    _cq: CompQueue,
    descs: Vec<FrameDesc>,
    mode: &'static str,
    /// Device index, attach-mode flag and id of the XDP program libxdp attached for us.
    attached: Option<(i32, u32, u32)>,
}

impl RxPort {
    /// Binds an RX socket on `dev` queue `queue` (calling thread's namespace), attaching libxdp's
    /// redirect program in `mode`, and fills the fill ring with every frame.
    pub fn open(dev: &str, queue: u32, mode: XdpMode) -> Result<Self, PktgenError> {
        let attempts: &[(XdpFlags, &'static str)] = match mode {
            XdpMode::Auto => {
                &[(XdpFlags::XDP_FLAGS_DRV_MODE, "native"), (XdpFlags::XDP_FLAGS_SKB_MODE, "generic")]
            }
            XdpMode::Native => &[(XdpFlags::XDP_FLAGS_DRV_MODE, "native")],
            XdpMode::Generic => &[(XdpFlags::XDP_FLAGS_SKB_MODE, "generic")],
        };
        let mut errors = Vec::new();
        for &(flags, name) in attempts {
            match retry_busy(|| Self::open_with(dev, queue, flags, name)) {
                Ok(port) => return Ok(port),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Err(PktgenError::Xsk {
            dev: dev.to_string(),
            msg: format!(
                "{} (if another XDP program is attached, remove it: ip link set dev {dev} xdp off)",
                errors.join("; ")
            ),
        })
    }

    fn open_with(dev: &str, queue: u32, flags: XdpFlags, mode: &'static str) -> Result<Self, PktgenError> {
        let (umem, descs) = new_umem(dev)?;
        let qs = |n| QueueSize::new(n).map_err(|e| xsk_err(dev, "queue size", e));
        let config = SocketConfig::builder()
            .rx_queue_size(qs(FRAMES)?)
            .tx_queue_size(qs(BATCH as u32)?)
            .xdp_flags(flags | XdpFlags::XDP_FLAGS_UPDATE_IF_NOEXIST)
            .bind_flags(BindFlags::XDP_USE_NEED_WAKEUP)
            .build();
        // SAFETY: the UMEM is new and not shared.
        let (tx, rx, rings) =
            unsafe { Socket::new(config, &umem, &interface(dev)?, queue) }.map_err(|e| {
                xsk_err(dev, &format!("binding an AF_XDP RX socket on queue {queue} ({mode} XDP)"), e)
            })?;
        let (mut fq, cq) = rings.ok_or_else(|| PktgenError::Xsk {
            dev: dev.to_string(),
            msg: "no fill/completion rings returned".into(),
        })?;
        // SAFETY: all frames of the new UMEM are free; the fill ring has room for every one.
        let filled = unsafe { fq.produce(&descs) };
        if filled != descs.len() {
            return Err(PktgenError::Xsk {
                dev: dev.to_string(),
                msg: format!("fill ring took {filled} frames"),
            });
        }
        Ok(RxPort {
            dev: dev.to_string(),
            umem,
            rx,
            fq,
            _tx: tx,
            _cq: cq,
            descs: vec![FrameDesc::default(); BATCH],
            mode,
            attached: attached_program(dev, flags),
        })
    }

    /// Closes the socket and detaches the XDP program it attached, if that program is still the
    /// device's (libxdp leaves it attached when it cannot pin to a bpffs, as in `ip netns exec`).
    /// Call in the device's namespace: the device index is resolved there.
    pub fn close(self) {
        let RxPort { umem, rx, fq, _tx, _cq, attached, .. } = self;
        drop((rx, fq, _tx, _cq));
        drop(umem);
        if let Some((ifindex, flags, id)) = attached {
            if attached_program_id(ifindex, flags) == Some(id) {
                // SAFETY: plain netlink request on an interface index; no pointers besides a null opts.
                unsafe { libxdp_sys::bpf_xdp_detach(ifindex, flags, std::ptr::null()) };
            }
        }
    }

    pub fn device(&self) -> &str {
        &self.dev
    }

    /// "native" or "generic".
    pub fn xdp_mode(&self) -> &'static str {
        self.mode
    }

    /// Receives up to one batch, calls `each` on every frame, and gives the frames back to the
    /// fill ring. Returns the number of frames.
    pub fn poll(&mut self, mut each: impl FnMut(&[u8])) -> usize {
        // SAFETY: the descriptors are scratch space the RX ring writes into.
        let n = unsafe { self.rx.consume(&mut self.descs) };
        if n == 0 {
            if self.fq.needs_wakeup() {
                let _ = self.fq.wakeup(self.rx.fd_mut(), 0);
            }
            return 0;
        }
        for d in &self.descs[..n] {
            // SAFETY: the RX ring handed us this frame of our UMEM; the kernel does not touch it
            // until we put it back on the fill ring below.
            let data = unsafe { self.umem.data(d) };
            each(data.contents());
        }
        // SAFETY: the frames were consumed above and are no longer read; the fill ring has room
        // for them since they came out of the UMEM it was filled from.
        unsafe { self.fq.produce(&self.descs[..n]) };
        if self.fq.needs_wakeup() {
            let _ = self.fq.wakeup(self.rx.fd_mut(), 0);
        }
        n
    }

    /// Waits up to `timeout_ms` for frames (poll(2)); for idle periods.
    pub fn wait(&mut self, timeout_ms: i32) {
        let _ = self.rx.poll(timeout_ms);
    }

    /// Kernel counters: (rx_dropped, rx_ring_full, fill_ring_empty).
    pub fn xdp_stats(&self) -> (u64, u64, u64) {
        match self.rx.fd().xdp_statistics() {
            Ok(s) => (s.rx_dropped(), s.rx_ring_full(), s.rx_fill_ring_empty_descs()),
            Err(_) => (0, 0, 0),
        }
    }
}
