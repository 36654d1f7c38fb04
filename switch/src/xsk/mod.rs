//! AF_XDP port backend (xsk-rs). One [`XskPorts`] per worker: ONE UMEM shared by that
//! worker's sockets on every port (queue id = worker index), so a frame received on one port
//! is transmitted on another without a copy. Copy bind (veth has no zero-copy), need_wakeup,
//! fill rings topped up, completion rings drained, batched transmit with one wakeup per port
//! per flush, and only when the kernel asks for it.
//!
//! Trunks: ports that share a device (each with its own VLAN) share that device's socket;
//! [`XskPorts`] holds one socket slot per device and maps each logical port to its slot, so
//! `tx_burst` on any port of a trunk sends on the one socket and `rx_burst` on any of them
//! receives the device's frames (the worker reads a trunk once and demultiplexes by VLAN,
//! `crate::trunk`). Port numbers stay the topology's logical `PortId`s.
//!
//! Descriptors are our own [`XskDesc`] (UMEM address of the packet's first byte, length): a
//! received packet starts after the kernel's 256-byte XDP headroom, and the pipeline moves
//! that start back (encap, VLAN push) or forward (decap, VLAN pop) within the frame. The TX
//! ring is produced through our own mapping ([`tx_ring`]) because xsk-rs cannot send a
//! descriptor whose address it did not hand out.

use std::ffi::CString;
use std::fmt;
use std::io;
use std::num::NonZeroU32;
use std::path::Path;
use std::str::FromStr;

use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, RxQueue, Socket, TxQueue, Umem};

use xsk_rs::FrameDesc;

mod tx_ring;
use tx_ring::TxRing;

use crate::port::{FrameBuf, LinkBoard, LinkDown, Ports};
use rib::PortId;
use std::time::Duration;

/// Most sendto kicks per port per `service` call. In copy mode the kernel sends at most 32
/// descriptors per kick (or [`TX_BUDGET`] where it takes `XDP_MAX_TX_SKB_BUDGET`).
const MAX_KICKS_PER_SERVICE: usize = 8;

/// Frames per copy-mode kick we ask the kernel for (kernels without the option send 32).
const TX_BUDGET: u32 = 256;

/// `SOL_XDP` socket option: how many frames one copy-mode `sendto` transmits (Linux 6.17+).
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;

/// Bytes the kernel reserves before the packet in every UMEM frame (XDP_PACKET_HEADROOM).
const XDP_HEADROOM: usize = 256;

#[cfg(test)]
mod tests;

/// Which XDP attach mode to use for the (libxdp-loaded) redirect program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XdpMode {
    /// Native (driver) mode, falling back to generic when the driver refuses.
    #[default]
    Auto,
    /// Driver mode only.
    Native,
    /// Generic (SKB) mode only.
    Generic,
}

impl fmt::Display for XdpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XdpMode::Auto => "auto",
            XdpMode::Native => "native",
            XdpMode::Generic => "generic",
        })
    }
}

impl FromStr for XdpMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(XdpMode::Auto),
            "native" | "drv" | "driver" => Ok(XdpMode::Native),
            "generic" | "skb" => Ok(XdpMode::Generic),
            other => Err(format!("unknown XDP mode '{other}' (expected auto, native or generic)")),
        }
    }
}

/// Why an AF_XDP port could not be opened. Every variant names the port and its device.
#[derive(Debug, thiserror::Error)]
pub enum XskError {
    #[error("port {port}: device '{device}' does not exist")]
    DeviceMissing { port: String, device: String },
    #[error("port {port} (device {device}): AF_XDP needs root (CAP_NET_ADMIN, CAP_BPF)")]
    NotRoot { port: String, device: String },
    #[error(
        "port {port} (device {device}): rx queue {queue} does not exist (device has {available} \
         queues; create it with numrxqueues/numtxqueues >= the number of workers)"
    )]
    QueueMissing { port: String, device: String, queue: u32, available: u32 },
    #[error("port {port} (device {device}): XDP attach/bind refused in {mode} mode: {source}")]
    AttachRefused {
        port: String,
        device: String,
        mode: XdpMode,
        #[source]
        source: io::Error,
    },
    #[error("port {port} (device {device}): invalid device name")]
    BadName { port: String, device: String },
    #[error("worker queue {queue}: UMEM creation failed: {message}")]
    Umem { queue: u32, message: String },
    #[error("worker queue {queue}: no ports to open")]
    NoPorts { queue: u32 },
}

/// Sizes of the UMEM and rings of one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XskConfig {
    pub mode: XdpMode,
    /// Size of each ring (fill, completion, rx, tx); a power of two.
    pub ring_size: u32,
    /// UMEM frame size (2048 or 4096).
    pub frame_size: u32,
}

impl Default for XskConfig {
    fn default() -> Self {
        XskConfig { mode: XdpMode::Auto, ring_size: 4096, frame_size: 2048 }
    }
}

/// A frame descriptor of [`XskPorts`]: where the packet starts in the UMEM (anywhere inside
/// its frame) and how long it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskDesc {
    /// UMEM offset of the packet's first byte.
    pub addr: u64,
    /// Packet length in bytes.
    pub len: u32,
}

/// One device of a worker (one port, or every port of a trunk) and, while the device is there
/// and attached, its socket.
struct XskPortSlot {
    name: String,
    device: String,
    /// Interface index the socket is bound to (0 while down): a different index under the
    /// same name means the device was removed and recreated.
    ifindex: u32,
    /// Why the port is down (None while the socket is attached).
    down: Option<LinkDown>,
    sock: Option<XskSocketPort>,
    counters: XskPortCounters,
}

/// One port's socket of a worker, with its own fill and completion rings (the kernel keeps
/// one pair per device/queue even when the UMEM is shared).
struct XskSocketPort {
    mode: XdpMode,
    rx: RxQueue,
    /// Used for `needs_wakeup` and `wakeup` only; descriptors go through `txr`.
    tx: TxQueue,
    txr: TxRing,
    fill: FillQueue,
    comp: CompQueue,
    /// Frames were produced to the tx ring since the last kick.
    tx_dirty: bool,
}

/// Plain per-port counters of the AF_XDP layer (ring level, not pipeline level).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskPortCounters {
    pub rx_frames: u64,
    pub tx_frames: u64,
    /// Frames dropped because the tx ring was full at flush time.
    pub tx_ring_full: u64,
    /// `sendto` kicks issued for transmit.
    pub tx_wakeups: u64,
    /// Receive kicks issued because the fill ring needed a wakeup.
    pub rx_wakeups: u64,
    /// Times the free pool could not top the fill ring up completely.
    pub fill_starved: u64,
}

/// Kernel-side statistics of one socket (XDP_STATISTICS), read off the hot path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskKernelStats {
    pub rx_dropped: u64,
    pub rx_invalid_descs: u64,
    pub tx_invalid_descs: u64,
    pub rx_ring_full: u64,
    pub rx_fill_ring_empty_descs: u64,
    pub tx_ring_empty_descs: u64,
}

/// A worker's AF_XDP sockets on every port, sharing one UMEM and one free-frame pool.
pub struct XskPorts {
    umem: Umem,
    /// Start of the UMEM mapping and its length (frames * frame size).
    base: *mut u8,
    umem_len: usize,
    frame_size: usize,
    queue_id: u32,
    ring_size: u32,
    frame_capacity: usize,
    /// The descriptor of every frame as the UMEM handed it out (packet after the XDP
    /// headroom), indexed by frame number: what goes to fill rings.
    frames: Vec<FrameDesc>,
    /// Frames owned by userspace and not in use (entries of `frames`).
    free: Vec<FrameDesc>,
    /// Who holds each frame (index = frame number): [`OWNER_FREE`], [`OWNER_USER`] (the
    /// pipeline), or the port whose rings (fill, rx, tx, completion) hold it. When a device
    /// goes away its socket is closed and every frame its rings held returns to `free`.
    owner: Vec<u16>,
    /// One slot per device (index = device slot; frame owners name these).
    ports: Vec<XskPortSlot>,
    /// Device slot of every logical port (index = `PortId`): ports of a trunk share one.
    port_dev: Vec<u16>,
    /// Name of every logical port.
    port_names: Vec<String>,
    /// Scratch space for draining completion rings (no allocation after open).
    scratch: Vec<FrameDesc>,
    /// Attach mode asked for (ports attached later use it too).
    mode: XdpMode,
    /// pollfd entries for `idle_wait`, one per port (no allocation after open).
    pollfds: Vec<libc::pollfd>,
    /// Where port state changes are published for the shell (None: not published).
    board: Option<std::sync::Arc<LinkBoard>>,
}

/// [`XskPorts::owner`] of a frame in the free pool.
const OWNER_FREE: u16 = u16::MAX;
/// [`XskPorts::owner`] of a frame held by the caller (received, or allocated).
const OWNER_USER: u16 = u16::MAX - 1;

// SAFETY: `base` points into the UMEM mapping kept alive by `umem` (an Arc inside xsk-rs);
// the set is used by one thread at a time (`&mut self` for every ring operation), so moving
// it to the worker thread that owns it is sound. It is deliberately not `Sync`.
unsafe impl Send for XskPorts {}

impl fmt::Debug for XskPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XskPorts")
            .field("queue_id", &self.queue_id)
            .field(
                "ports",
                &self
                    .ports
                    .iter()
                    .map(|p| (&p.name, &p.device, p.sock.as_ref().map(|s| s.mode), p.down))
                    .collect::<Vec<_>>(),
            )
            .field("free", &self.free.len())
            .finish()
    }
}

/// True when the process runs with effective uid 0.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Number of rx queues the device exposes (its real_num_rx_queues), from sysfs.
pub fn rx_queue_count(device: &str) -> Option<u32> {
    let dir = Path::new("/sys/class/net").join(device).join("queues");
    let entries = std::fs::read_dir(dir).ok()?;
    let n =
        entries.filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("rx-")).count();
    Some(n as u32)
}

/// Raises the per-kick copy-mode transmit budget where the kernel has the option (best
/// effort: older kernels keep 32 frames per `sendto`). Returns whether the kernel took it.
fn set_tx_budget(tx: &TxQueue, budget: u32) -> bool {
    use std::os::fd::AsRawFd;
    let fd = tx.fd().as_raw_fd();
    // SAFETY: setsockopt reads a u32 of the size we pass from a live stack value; `fd` is our
    // own open socket.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            XDP_MAX_TX_SKB_BUDGET,
            &budget as *const u32 as *const libc::c_void,
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// The interface index of `device`, 0 when it does not exist.
fn ifindex(device: &str) -> u32 {
    let Ok(c) = CString::new(device) else { return 0 };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    unsafe { libc::if_nametoindex(c.as_ptr()) }
}

impl XskPorts {
    /// Opens one socket per `(port name, device)` on rx/tx queue `queue_id`, all sharing a
    /// new UMEM. In [`XdpMode::Auto`] each device is tried in native mode first, then generic.
    /// Returns the set with every fill ring filled. A port whose device is missing, lacks the
    /// queue or refuses the attach does not fail the set (OVS-style): it starts down with
    /// the reason ([`XskPorts::link_down`]) and [`Ports::maintain`] attaches it when it can.
    /// Errors are only what no port can work without: no ports, a bad device name, not root,
    /// no UMEM.
    pub fn open(ports: &[(String, String)], queue_id: u32, cfg: &XskConfig) -> Result<Self, XskError> {
        let Some((first_name, first_dev)) = ports.first() else {
            return Err(XskError::NoPorts { queue: queue_id });
        };
        for (name, device) in ports {
            if device.is_empty() || device.len() > 15 || device.contains(['/', '\0', ' ']) {
                return Err(XskError::BadName { port: name.clone(), device: device.clone() });
            }
        }
        if !is_root() {
            return Err(XskError::NotRoot { port: first_name.clone(), device: first_dev.clone() });
        }
        // One socket per device: the ports of a trunk share their device's.
        let mut devices: Vec<(String, String)> = Vec::new();
        let mut port_dev = Vec::with_capacity(ports.len());
        for (name, device) in ports {
            let slot = match devices.iter().position(|(_, d)| d == device) {
                Some(i) => i,
                None => {
                    devices.push((name.clone(), device.clone()));
                    devices.len() - 1
                }
            };
            port_dev.push(slot as u16);
        }
        if devices.len() >= OWNER_USER as usize || ports.len() > u16::MAX as usize {
            return Err(XskError::Umem {
                queue: queue_id,
                message: format!("{} ports on {} devices on one worker", ports.len(), devices.len()),
            });
        }

        let sizes = UmemSizes::for_ports(devices.len(), cfg);
        let ring = QueueSize::new(sizes.ring_size)
            .map_err(|e| XskError::Umem { queue: queue_id, message: e.to_string() })?;
        let frame_size = FrameSize::new(cfg.frame_size)
            .map_err(|e| XskError::Umem { queue: queue_id, message: e.to_string() })?;
        let umem_cfg = UmemConfig::builder()
            .frame_size(frame_size)
            .fill_queue_size(ring)
            .comp_queue_size(ring)
            .frame_headroom(0)
            .build()
            .map_err(|e| XskError::Umem { queue: queue_id, message: e.to_string() })?;
        let frame_count = NonZeroU32::new(sizes.frames)
            .ok_or_else(|| XskError::Umem { queue: queue_id, message: "zero frames".into() })?;
        let (umem, descs) = Umem::new(umem_cfg, frame_count, false).map_err(|e| XskError::Umem {
            queue: queue_id,
            message: format!("{e}: {:?}", std::error::Error::source(&e)),
        })?;

        let Some(first) = descs.first().copied() else {
            return Err(XskError::Umem { queue: queue_id, message: "UMEM has no frames".into() });
        };
        let mut probe = first;
        // SAFETY: `probe` describes frame 0 of the new UMEM, which nobody else uses yet. We only
        // take the address of its data area to learn where the mapping starts.
        let data_ptr = unsafe { umem.data_mut(&mut probe).contents_mut().as_mut_ptr() };
        // SAFETY: frame 0's data area lies `first.addr()` bytes into the single mmap'd region,
        // so stepping back stays inside that allocation.
        let base = unsafe { data_ptr.sub(first.addr()) };
        let frame_size = cfg.frame_size as usize;
        let mut set = XskPorts {
            umem,
            base,
            umem_len: descs.len() * frame_size,
            frame_size,
            queue_id,
            ring_size: sizes.ring_size,
            frame_capacity: descs.len(),
            frames: descs.clone(),
            free: Vec::with_capacity(descs.len()),
            owner: vec![OWNER_FREE; descs.len()],
            ports: Vec::with_capacity(devices.len()),
            port_dev,
            port_names: ports.iter().map(|(n, _)| n.clone()).collect(),
            scratch: vec![FrameDesc::default(); sizes.ring_size as usize],
            pollfds: Vec::with_capacity(devices.len()),
            board: None,
            mode: cfg.mode,
        };
        set.free.extend(descs);

        for (name, device) in devices {
            set.ports.push(XskPortSlot {
                name,
                device,
                ifindex: 0,
                down: Some(LinkDown::DeviceMissing),
                sock: None,
                counters: XskPortCounters::default(),
            });
        }
        for i in 0..set.ports.len() {
            set.try_attach(i);
        }
        Ok(set)
    }

    /// Attaches port `i` if its device is there (fills its ring); records why not otherwise.
    fn try_attach(&mut self, i: usize) {
        let Some(slot) = self.ports.get(i) else { return };
        let (name, device) = (slot.name.clone(), slot.device.clone());
        let index = ifindex(&device);
        let result = if index == 0 {
            Err(LinkDown::DeviceMissing)
        } else {
            let available = rx_queue_count(&device).unwrap_or(1);
            if self.queue_id >= available {
                Err(LinkDown::QueueMissing { available })
            } else {
                let ring = QueueSize::new(self.ring_size)
                    .map_err(|_| LinkDown::AttachRefused { errno: libc::EINVAL });
                ring.and_then(|ring| {
                    self.open_socket(&name, &device, ring, self.mode).map_err(|e| match e {
                        XskError::AttachRefused { source, .. } => {
                            LinkDown::AttachRefused { errno: source.raw_os_error().unwrap_or(libc::EIO) }
                        }
                        _ => LinkDown::AttachRefused { errno: libc::EIO },
                    })
                })
            }
        };
        let Some(slot) = self.ports.get_mut(i) else { return };
        match result {
            Ok(sock) => {
                slot.sock = Some(sock);
                slot.ifindex = index;
                slot.down = None;
                self.refill(i);
            }
            Err(down) => slot.down = Some(down),
        }
        self.publish(i);
    }

    /// Closes port `i`'s socket (its device went away) and takes back every frame its rings
    /// held.
    fn detach(&mut self, i: usize, why: LinkDown) {
        let Some(slot) = self.ports.get_mut(i) else { return };
        let Some(sock) = slot.sock.take() else { return };
        drop(sock);
        slot.ifindex = 0;
        slot.down = Some(why);
        let me = i as u16;
        for (n, owner) in self.owner.iter_mut().enumerate() {
            if *owner == me {
                *owner = OWNER_FREE;
                if let Some(f) = self.frames.get(n) {
                    self.free.push(*f);
                }
            }
        }
        self.publish(i);
    }

    /// Publishes device slot `i`'s link state for every logical port on it.
    fn publish(&self, i: usize) {
        if let (Some(board), Some(slot)) = (&self.board, self.ports.get(i)) {
            for (port, _) in self.port_dev.iter().enumerate().filter(|(_, d)| **d as usize == i) {
                board.set(port, slot.down);
            }
        }
    }

    /// The device slot of logical port `port`.
    #[inline]
    fn dev(&self, port: usize) -> Option<usize> {
        self.port_dev.get(port).map(|d| *d as usize)
    }

    /// Number of devices (sockets): fewer than ports when ports share a trunk.
    pub fn device_count(&self) -> usize {
        self.ports.len()
    }

    /// Publishes every port's link state to `board` now and on every change.
    pub fn set_link_board(&mut self, board: std::sync::Arc<LinkBoard>) {
        self.board = Some(board);
        for i in 0..self.ports.len() {
            self.publish(i);
        }
    }

    /// Why port `port` is down (None: attached).
    pub fn link_down(&self, port: usize) -> Option<LinkDown> {
        self.dev(port).and_then(|d| self.ports.get(d)).and_then(|p| p.down)
    }

    fn open_socket(
        &self,
        name: &str,
        device: &str,
        ring: QueueSize,
        mode: XdpMode,
    ) -> Result<XskSocketPort, XskError> {
        let iface: Interface = device
            .parse()
            .map_err(|_| XskError::BadName { port: name.to_string(), device: device.to_string() })?;
        let attempts: &[XdpMode] = match mode {
            XdpMode::Auto => &[XdpMode::Native, XdpMode::Generic],
            XdpMode::Native => &[XdpMode::Native],
            XdpMode::Generic => &[XdpMode::Generic],
        };
        let mut last_err = None;
        for &attempt in attempts {
            let xdp_flags = match attempt {
                XdpMode::Generic => XdpFlags::XDP_FLAGS_SKB_MODE,
                _ => XdpFlags::XDP_FLAGS_DRV_MODE,
            };
            let sock_cfg = SocketConfig::builder()
                .rx_queue_size(ring)
                .tx_queue_size(ring)
                .libxdp_flags(LibxdpFlags::empty())
                .xdp_flags(xdp_flags)
                .bind_flags(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP)
                .build();
            // SAFETY: the UMEM outlives the socket (the socket keeps a handle on it), and every
            // frame we hand to this socket's rings comes from that same UMEM.
            match unsafe { Socket::new(sock_cfg, &self.umem, &iface, self.queue_id) } {
                Ok((tx, rx, Some((fill, comp)))) => {
                    set_tx_budget(&tx, TX_BUDGET);
                    use std::os::fd::AsRawFd;
                    let txr = TxRing::map(tx.fd().as_raw_fd(), ring.get()).map_err(|source| {
                        XskError::AttachRefused {
                            port: name.to_string(),
                            device: device.to_string(),
                            mode: attempt,
                            source,
                        }
                    })?;
                    return Ok(XskSocketPort { mode: attempt, rx, tx, txr, fill, comp, tx_dirty: false });
                }
                Ok((_, _, None)) => {
                    // Same device and queue opened twice on one UMEM: configuration error.
                    return Err(XskError::AttachRefused {
                        port: name.to_string(),
                        device: device.to_string(),
                        mode: attempt,
                        source: io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "device/queue already bound by this worker (two ports on one device?)",
                        ),
                    });
                }
                Err(e) => {
                    let source = match std::error::Error::source(&e)
                        .and_then(|s| s.downcast_ref::<io::Error>())
                        .and_then(|s| s.raw_os_error())
                    {
                        Some(code) => io::Error::from_raw_os_error(code),
                        None => io::Error::other(e.to_string()),
                    };
                    last_err = Some((attempt, source));
                }
            }
        }
        let (mode, source) = last_err.unwrap_or((mode, io::Error::other("no attach mode attempted")));
        Err(XskError::AttachRefused { port: name.to_string(), device: device.to_string(), mode, source })
    }

    /// Number of (logical) ports in the set; port indices are positions in `open`'s list.
    pub fn port_count(&self) -> usize {
        self.port_dev.len()
    }

    /// The queue id (worker index) every socket is bound to.
    pub fn queue_id(&self) -> u32 {
        self.queue_id
    }

    /// The attach mode actually in use on port `port` (None while it is down).
    pub fn mode(&self, port: usize) -> Option<XdpMode> {
        self.dev(port).and_then(|d| self.ports.get(d)).and_then(|p| p.sock.as_ref()).map(|s| s.mode)
    }

    /// Port name and device of `port`.
    pub fn port_name(&self, port: usize) -> Option<(&str, &str)> {
        let slot = self.ports.get(self.dev(port)?)?;
        Some((self.port_names.get(port)?.as_str(), slot.device.as_str()))
    }

    /// Ring-level counters of `port`'s device (shared by the ports of a trunk).
    pub fn counters(&self, port: usize) -> XskPortCounters {
        self.dev(port).and_then(|d| self.ports.get(d)).map(|p| p.counters).unwrap_or_default()
    }

    /// Kernel statistics of `port`'s socket (a getsockopt: not for the per-frame path).
    pub fn kernel_stats(&self, port: usize) -> Option<XskKernelStats> {
        let p = self.ports.get(self.dev(port)?)?.sock.as_ref()?;
        let s = p.rx.fd().xdp_statistics().ok()?;
        Some(XskKernelStats {
            rx_dropped: s.rx_dropped(),
            rx_invalid_descs: s.rx_invalid_descs(),
            tx_invalid_descs: s.tx_invalid_descs(),
            rx_ring_full: s.rx_ring_full(),
            rx_fill_ring_empty_descs: s.rx_fill_ring_empty_descs(),
            tx_ring_empty_descs: s.tx_ring_empty_descs(),
        })
    }

    /// Frames currently free in the pool (for tests and `show processes`).
    pub fn free_frames(&self) -> usize {
        self.free.len()
    }

    /// Total frames in the UMEM.
    pub fn frame_capacity(&self) -> usize {
        self.frame_capacity
    }

    /// Size of each ring of every socket.
    pub fn ring_size(&self) -> u32 {
        self.ring_size
    }

    /// The raw fds of every attached socket, for `poll()` when idle.
    pub fn raw_fds(&self, out: &mut Vec<i32>) {
        use std::os::fd::AsRawFd;
        out.clear();
        out.extend(self.ports.iter().filter_map(|p| p.sock.as_ref()).map(|s| s.rx.fd().as_raw_fd()));
    }

    /// Puts `f` back in the free pool unless it is already there (a frame recycled twice
    /// must not be handed out twice).
    #[inline]
    fn release(&mut self, f: FrameDesc) {
        let n = f.addr() / self.frame_size;
        if let Some(o) = self.owner.get_mut(n) {
            if *o != OWNER_FREE {
                *o = OWNER_FREE;
                self.free.push(f);
            }
        }
    }

    #[inline]
    fn set_owner(&mut self, addr: u64, owner: u16) {
        if let Some(o) = self.owner.get_mut(addr as usize / self.frame_size) {
            *o = owner;
        }
    }

    /// Moves completed transmissions of every port back to the free pool.
    #[inline]
    pub fn reclaim(&mut self) {
        for i in 0..self.ports.len() {
            while let Some(p) = self.ports[i].sock.as_mut() {
                // SAFETY: the completion ring only returns frames of this UMEM that we
                // submitted for transmit; the kernel no longer uses them.
                let n = unsafe { p.comp.consume(&mut self.scratch) };
                if n == 0 {
                    break;
                }
                // A completed address may be anywhere in its frame: free the frame itself.
                let fs = self.frame_size;
                for k in 0..n {
                    let d = self.scratch[k];
                    if let Some(f) = self.frames.get(d.addr() / fs).copied() {
                        self.release(f);
                    }
                }
                if n < self.scratch.len() {
                    break;
                }
            }
        }
    }

    /// Tops `port`'s fill ring up from the free pool.
    #[inline]
    fn refill(&mut self, port: usize) {
        let Some(slot) = self.ports.get_mut(port) else { return };
        let Some(p) = slot.sock.as_mut() else { return };
        let want = p.fill.nb_free(self.ring_size) as usize;
        if want == 0 {
            return;
        }
        let n = want.min(self.free.len());
        if n < want {
            slot.counters.fill_starved += 1;
        }
        if n == 0 {
            return;
        }
        let start = self.free.len() - n;
        // SAFETY: frames in the free pool belong to this UMEM and are used by nobody.
        let produced = unsafe { p.fill.produce(&self.free[start..]) };
        if produced == n {
            let fs = self.frame_size;
            for f in &self.free[start..] {
                if let Some(o) = self.owner.get_mut(f.addr() / fs) {
                    *o = port as u16;
                }
            }
            self.free.truncate(start);
        }
    }

    /// Kicks the kernel for every port that got frames since the last kick and asks for it.
    #[inline]
    fn kick_tx(&mut self) {
        for slot in &mut self.ports {
            let Some(p) = slot.sock.as_mut() else { continue };
            // Frames still waiting in the tx ring: new ones, or leftovers of an earlier kick
            // (copy mode sends at most KERNEL_TX_BATCH descriptors per sendto).
            let mut waiting = p.txr.pending() as usize;
            if !p.tx_dirty && waiting == 0 {
                continue;
            }
            p.tx_dirty = false;
            let mut kicks = 0;
            while waiting > 0 && kicks < MAX_KICKS_PER_SERVICE && p.tx.needs_wakeup() {
                slot.counters.tx_wakeups += 1;
                kicks += 1;
                if p.tx.wakeup().is_err() {
                    break;
                }
                let now_waiting = p.txr.pending() as usize;
                if now_waiting >= waiting {
                    // The kernel took nothing (busy, or out of completion space): next round.
                    break;
                }
                waiting = now_waiting;
            }
        }
    }

    /// The byte range of `desc`'s packet in the UMEM, clamped into its frame.
    #[inline]
    fn span(&self, desc: &XskDesc) -> (usize, usize) {
        let addr = (desc.addr as usize).min(self.umem_len);
        let end = (addr - addr % self.frame_size + self.frame_size).min(self.umem_len);
        (addr, (desc.len as usize).min(end - addr))
    }

    /// Offset of the frame holding `addr` and the end of that frame.
    #[inline]
    fn frame_bounds(&self, addr: u64) -> Option<(u64, u64)> {
        let fs = self.frame_size as u64;
        let start = addr - addr % fs;
        (start + fs <= self.umem_len as u64).then_some((start, start + fs))
    }

    /// The frame of `desc` as the UMEM handed it out (for the free list).
    #[inline]
    fn frame_of(&self, desc: &XskDesc) -> Option<FrameDesc> {
        self.frames.get(desc.addr as usize / self.frame_size).copied()
    }
}

impl FrameBuf for XskPorts {
    type Desc = XskDesc;

    #[inline]
    fn capacity(&self) -> usize {
        // Data starts after the kernel's XDP headroom in every frame.
        self.frame_size - XDP_HEADROOM
    }

    #[inline]
    fn len(&self, desc: &XskDesc) -> usize {
        desc.len as usize
    }

    #[inline]
    fn data(&self, desc: &XskDesc) -> &[u8] {
        let (off, len) = self.span(desc);
        // SAFETY: `base..base+umem_len` is the UMEM mapping, alive as long as `self.umem`;
        // `span` clamps the range into it. Frames owned by the caller are not written by the
        // kernel (it only writes frames in the fill ring), so the bytes are stable.
        unsafe { std::slice::from_raw_parts(self.base.add(off), len) }
    }

    #[inline]
    fn data_mut(&mut self, desc: &XskDesc) -> &mut [u8] {
        let (off, len) = self.span(desc);
        // SAFETY: as in `data`; `&mut self` makes this the only live reference handed out by
        // this set, and the caller owns the frame, so the kernel does not touch it.
        unsafe { std::slice::from_raw_parts_mut(self.base.add(off), len) }
    }

    #[inline]
    fn set_len(&mut self, desc: &mut XskDesc, len: usize) -> bool {
        match self.frame_bounds(desc.addr) {
            Some((_, end)) if desc.addr + len as u64 <= end => {
                desc.len = len as u32;
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn headroom(&self, desc: &XskDesc) -> usize {
        self.frame_bounds(desc.addr).map_or(0, |(start, _)| (desc.addr - start) as usize)
    }

    #[inline]
    fn adjust_head(&mut self, desc: &mut XskDesc, delta: isize) -> bool {
        let Some((start, end)) = self.frame_bounds(desc.addr) else { return false };
        let addr = desc.addr as i64 + delta as i64;
        let len = desc.len as i64 - delta as i64;
        // The start stays inside the frame (strictly before its end, so the address still
        // names this frame when it is recycled).
        if addr < start as i64 || addr >= end as i64 || len < 0 {
            return false;
        }
        // The end stays where it was, inside the frame.
        desc.addr = addr as u64;
        desc.len = len as u32;
        true
    }
}

impl Ports for XskPorts {
    #[inline]
    fn port_count(&self) -> usize {
        self.port_dev.len()
    }

    /// Receives from `port`'s device: on a trunk, the frames of every VLAN (the worker
    /// demultiplexes them).
    #[inline]
    fn rx_burst(&mut self, port: PortId, out: &mut [XskDesc]) -> usize {
        let Some(i) = self.dev(port.index()) else { return 0 };
        let Some(slot) = self.ports.get_mut(i) else { return 0 };
        let Some(p) = slot.sock.as_mut() else { return 0 };
        let want = out.len().min(self.scratch.len());
        // SAFETY: the scratch entries receive descriptors of this UMEM's frames, now owned by
        // the caller.
        let n = unsafe { p.rx.consume(&mut self.scratch[..want]) };
        for (o, d) in out.iter_mut().zip(&self.scratch[..n]) {
            *o = XskDesc { addr: d.addr() as u64, len: d.lengths().data() as u32 };
        }
        if n > 0 {
            slot.counters.rx_frames += n as u64;
            for o in &out[..n] {
                let a = o.addr;
                self.set_owner(a, OWNER_USER);
            }
            self.refill(i);
        }
        n
    }

    #[inline]
    fn tx_burst(&mut self, port: PortId, frames: &[XskDesc]) -> usize {
        let want = frames.len();
        if want == 0 {
            return 0;
        }
        let Some(dev) = self.dev(port.index()) else {
            self.recycle(frames);
            return 0;
        };
        let Some(slot) = self.ports.get_mut(dev) else {
            self.recycle(frames);
            return 0;
        };
        let Some(p) = slot.sock.as_mut() else {
            self.recycle(frames);
            return 0;
        };
        let mut room = p.txr.free() as usize;
        if room < want {
            // Copy mode only consumes the tx ring on a kick: kick now and look again.
            slot.counters.tx_wakeups += 1;
            let _ = p.tx.wakeup();
            room = p.txr.free() as usize;
        }
        let n = want.min(room);
        let descs = frames[..n].iter().map(|d| (d.addr, d.len));
        // SAFETY: the frames are owned by the caller and belong to this UMEM (`FrameBuf` keeps
        // every packet inside its frame; the kernel rejects a descriptor that is not); the
        // kernel owns them from now until they come back through this port's completion ring.
        let sent = unsafe { p.txr.produce(descs) };
        slot.counters.tx_frames += sent as u64;
        if sent > 0 {
            p.tx_dirty = true;
        }
        if sent < want {
            slot.counters.tx_ring_full += (want - sent) as u64;
        }
        for d in &frames[..sent] {
            self.set_owner(d.addr, dev as u16);
        }
        if sent < want {
            self.recycle(&frames[sent..]);
        }
        sent
    }

    #[inline]
    fn recycle(&mut self, frames: &[XskDesc]) {
        for d in frames {
            if let Some(f) = self.frame_of(d) {
                self.release(f);
            }
        }
    }

    #[inline]
    fn alloc(&mut self) -> Option<XskDesc> {
        let d = self.free.pop()?;
        self.set_owner(d.addr() as u64, OWNER_USER);
        Some(XskDesc { addr: d.addr() as u64, len: 0 })
    }

    #[inline]
    fn service(&mut self) {
        self.kick_tx();
        self.reclaim();
        for i in 0..self.ports.len() {
            self.refill(i);
            let slot = &mut self.ports[i];
            let Some(p) = slot.sock.as_mut() else { continue };
            if p.fill.needs_wakeup() {
                // A sleeping driver needs a receive kick (zero-timeout poll).
                slot.counters.rx_wakeups += 1;
                let _ = p.fill.wakeup(p.rx.fd_mut(), 0);
            }
        }
    }

    fn idle_wait(&mut self, timeout: Duration) {
        use std::os::fd::AsRawFd;
        // Every attached socket (the vector was sized for all ports at open: no allocation).
        self.pollfds.clear();
        for p in self.ports.iter().filter_map(|p| p.sock.as_ref()) {
            self.pollfds.push(libc::pollfd { fd: p.rx.fd().as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        let n = self.pollfds.len();
        if n == 0 {
            std::thread::sleep(timeout);
            return;
        }
        // ppoll takes a nanosecond timeout, so a sub-millisecond back-off still wakes at once
        // when a frame lands in any rx ring (copy mode signals readiness on every rx flush).
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `pollfds` holds `n` initialised pollfd entries and `ts` a valid timespec;
        // both live across the call; a null sigmask leaves the signal mask unchanged.
        unsafe { libc::ppoll(self.pollfds.as_mut_ptr(), n as libc::nfds_t, &ts, std::ptr::null()) };
    }

    #[inline]
    fn link_up(&self, port: PortId) -> bool {
        self.dev(port.index()).and_then(|d| self.ports.get(d)).is_some_and(|p| p.sock.is_some())
    }

    /// Free entries of the port's tx ring, after a kick when there are fewer than `want`
    /// (copy mode consumes the ring only on a kick). A port without a socket says `want`:
    /// egress then counts the frames as `egress_down`.
    #[inline]
    fn tx_room(&mut self, port: PortId, want: usize) -> usize {
        // A trunk's logical ports share their device's socket and ring.
        let Some(slot) = self.dev(port.index()).and_then(|d| self.ports.get_mut(d)) else { return 0 };
        let Some(p) = slot.sock.as_mut() else { return want };
        let mut room = p.txr.free() as usize;
        if room < want {
            slot.counters.tx_wakeups += 1;
            let _ = p.tx.wakeup();
            room = p.txr.free() as usize;
        }
        want.min(room)
    }

    /// A quarter of the UMEM: half of it fills the fill rings, and of the other half (rx,
    /// tx and completion rings, frames in the pipeline) the software queues take at most
    /// half, so the fill rings can always be topped up.
    #[inline]
    fn hold_budget(&self) -> usize {
        self.frame_capacity / 4
    }

    /// Detaches ports whose device went away (or was recreated under the same name: the
    /// socket is bound to the old one), then attaches ports whose device is there.
    fn maintain(&mut self) {
        for i in 0..self.ports.len() {
            let slot = &self.ports[i];
            if slot.sock.is_some() {
                if ifindex(&slot.device) != slot.ifindex {
                    self.detach(i, LinkDown::DeviceRemoved);
                    // A recreated device is attached right away below.
                } else {
                    continue;
                }
            }
            let was = self.ports[i].down;
            self.try_attach(i);
            if self.ports[i].down.is_some() && was == Some(LinkDown::DeviceRemoved) {
                // Keep saying "removed" until it is back, not "missing".
                if self.ports[i].down == Some(LinkDown::DeviceMissing) {
                    self.ports[i].down = was;
                    self.publish(i);
                }
            }
        }
    }
}

/// UMEM and ring sizes of one worker, by need: each port gets a fill ring and as many frames
/// again for frames in flight (rx ring, pipeline, tx ring, completion ring), but the whole
/// UMEM stays within [`UMEM_BUDGET_FRAMES`] frames: with many ports the rings shrink (to
/// [`MIN_RING`] at the least) instead of the UMEM growing by 16 MiB per port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UmemSizes {
    /// Ring size of every socket (fill, completion, rx, tx); a power of two.
    pub ring_size: u32,
    /// Frames in the UMEM.
    pub frames: u32,
}

/// Most frames one worker's UMEM gets before rings shrink (64 MiB of 2 KiB frames).
pub const UMEM_BUDGET_FRAMES: u32 = 32 * 1024;
/// Smallest ring a port gets however many ports share the UMEM.
pub const MIN_RING: u32 = 64;

impl UmemSizes {
    pub fn for_ports(ports: usize, cfg: &XskConfig) -> UmemSizes {
        let ports = ports.max(1) as u32;
        let mut ring = cfg.ring_size.max(MIN_RING);
        while ring > MIN_RING && ports.saturating_mul(ring).saturating_mul(2) > UMEM_BUDGET_FRAMES {
            ring /= 2;
        }
        UmemSizes { ring_size: ring, frames: ports.saturating_mul(ring).saturating_mul(2) }
    }
}
