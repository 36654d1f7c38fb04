//! In-band management: a tenant host opens the shell of "its" logical router by telnet to the
//! router's address (and SSH on port 22, SNMP on UDP 161 through hooks), as on real gear.
//!
//! The workers punt TCP 23/22 and UDP 161 addressed to a router address into the tenant's
//! management queue ([`switch::mgmt`]); here, one management thread runs a smoltcp
//! [`Interface`] (`Medium::Ip`) per tenant over a [`phy::Device`](smoltcp::phy::Device) that
//! reads that queue and writes the inject queue, which the workers route as sent by the
//! router that owns the packet's source address. Each tenant interface holds that tenant's
//! router addresses (as /32s; past [`IFACE_ADDRESSES`] through smoltcp's AnyIP) and a bounded pool of listening TCP sockets per (address, port)
//! ([`InbandConfig::listeners`] each on 23, and on 22 when an SSH hook is set, grown by one
//! whenever all are taken up to [`InbandConfig::max_sessions`]); a socket whose connection
//! ended listens again. SYNs beyond the pool are answered with a reset by smoltcp,
//! and a SYN flood costs the workers only the punt (bounded by the per-tenant queue and rate
//! limit), never another tenant's queue.
//!
//! Each established connection is handed to its own session thread through a [`VtyStream`]
//! backed by two bounded channels (socket → session, session → socket). The management
//! thread never blocks on them: it reads from a socket only while the session's input channel
//! has room (else TCP's window closes) and moves session output into the socket's send buffer
//! as room appears. Port 23 runs [`shell::vty::serve`] with telnet framing and the
//! [`RouterScope`] of the address the connection arrived on; port 22 goes to the [`SshHook`]
//! and UDP 161 to the [`UdpHook`] (without a hook, port 22 is not listened on — SYNs get a
//! reset — and UDP 161 gets ICMP port unreachable).
//!
//! The thread sleeps on smoltcp's `poll_delay`, at most [`InbandConfig::idle_interval`]
//! (shorter while connections are open), never on a worker thread. Router addresses are read
//! from the topology at start: routers or interfaces added later are not served until restart.

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use rib::topology::Topology;
use rib::{RouterId, TenantId};
use shell::vty::{RouterScope, VtyOptions, VtyStream};
use shell::ShellContext;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use switch::mgmt::{MgmtQueues, MGMT_PACKET_MAX};
use switch::punt::PuntQueues;

/// Serves an SSH connection (on its own thread) as the given line; provided by the SSH front end.
pub type SshHook = Arc<dyn Fn(Box<dyn VtyStream>, VtyOptions) + Send + Sync>;
/// Answers one UDP 161 datagram (payload, peer, router it was sent to); provided by the SNMP
/// agent. Runs on the management thread: it must be quick.
pub type UdpHook = Arc<dyn Fn(&[u8], SocketAddr, &RouterScope) -> Option<Vec<u8>> + Send + Sync>;

/// Addresses a tenant interface holds as its own (smoltcp's `iface-max-addr-count-8`); a
/// tenant with more is served through smoltcp's AnyIP mode (every address routed to the
/// interface is accepted; sockets still listen on each router address).
pub const IFACE_ADDRESSES: usize = 8;
/// Telnet.
pub const TELNET_PORT: u16 = 23;
/// SSH.
pub const SSH_PORT: u16 = 22;
/// SNMP.
pub const SNMP_PORT: u16 = 161;
/// Bytes per chunk moved between a socket and its session.
const CHUNK: usize = 1024;
/// Chunks buffered in each direction between a socket and its session.
const CHANNEL_CHUNKS: usize = 16;
/// TCP socket buffers, allocated for every listening slot of every router address at start
/// (4 slots x 2 ports per address), so kept small: output beyond them waits for the peer's ACKs.
const TCP_RX_BUF: usize = 4096;
const TCP_TX_BUF: usize = 8192;
/// How long a closing connection may hold its listening slot.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep-alive and time-out of established connections (a vanished host frees its slot).
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);
const TCP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a session waits for room to write before it gives up (peer not reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// How the management plane runs.
#[derive(Clone, Debug)]
pub struct InbandConfig {
    /// Listening sockets per (router address, TCP port) at start.
    pub listeners: usize,
    /// Most connections per (router address, TCP port) at once: when every socket of the pool
    /// is taken, one more is added (up to this), so a further SYN finds a listener; beyond it
    /// SYNs are reset. Sockets are only added while connections are open, so memory follows use.
    pub max_sessions: usize,
    /// Longest sleep of the management thread when nothing is open.
    pub idle_interval: Duration,
    /// Longest sleep while connections are open (session output waits at most this long).
    pub busy_interval: Duration,
}

impl Default for InbandConfig {
    fn default() -> Self {
        InbandConfig {
            listeners: 4,
            max_sessions: 32,
            idle_interval: Duration::from_millis(10),
            busy_interval: Duration::from_millis(2),
        }
    }
}

/// Counters of the management plane (readable while it runs).
#[derive(Debug, Default)]
pub struct InbandCounters {
    /// Connections handed to a session (telnet or SSH).
    pub sessions: AtomicU64,
    /// UDP datagrams given to the UDP hook.
    pub udp_requests: AtomicU64,
}

/// The running management plane; stops (and joins its thread) on drop.
pub struct Inband {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    pub counters: Arc<InbandCounters>,
}

impl Inband {
    /// Stops the management thread; sessions end at their next read wait.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Inband {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Errors of [`start`].
#[derive(Debug, thiserror::Error)]
pub enum InbandError {
    #[error("the punt queues have no management queues (PuntQueues::with_mgmt)")]
    NoQueues,
    #[error("spawning the management thread: {0}")]
    Spawn(#[from] io::Error),
}

/// One router address a tenant interface answers on.
#[derive(Clone, Debug)]
struct Address {
    addr: Ipv4Addr,
    router: RouterId,
    scope: RouterScope,
}

/// The router addresses of every tenant, from the topology (index = tenant id).
fn tenant_addresses(topo: &Topology) -> Vec<Vec<Address>> {
    topo.tenants
        .iter()
        .map(|t| {
            let mut out: Vec<Address> = Vec::new();
            for rid in &t.routers {
                let r = topo.router(*rid);
                for i in &r.interfaces {
                    if out.iter().any(|a| a.addr == i.address) {
                        continue;
                    }
                    out.push(Address {
                        addr: i.address,
                        router: *rid,
                        scope: RouterScope { tenant: t.name.clone(), router: r.name.clone() },
                    });
                }
            }
            out
        })
        .collect()
}

/// Starts the management thread over `queues` (which must carry management queues).
pub fn start(
    ctx: Arc<ShellContext>,
    topo: &Topology,
    queues: Arc<PuntQueues>,
    ssh: Option<SshHook>,
    udp: Option<UdpHook>,
    config: InbandConfig,
) -> Result<Inband, InbandError> {
    if queues.mgmt.is_none() {
        return Err(InbandError::NoQueues);
    }
    let counters = Arc::new(InbandCounters::default());
    let addresses = tenant_addresses(topo);
    let stop = Arc::new(AtomicBool::new(false));
    let hooks = Hooks { ctx, ssh, udp, stop: stop.clone(), counters: counters.clone() };
    let thread = std::thread::Builder::new().name("vns-inband".into()).spawn(move || {
        let Some(mq) = queues.mgmt.as_ref() else { return };
        let mut plane = Plane::new(mq, addresses, &config, hooks);
        plane.run(&config);
    })?;
    Ok(Inband { stop, thread: Some(thread), counters })
}

/// What the management thread hands connections to.
struct Hooks {
    ctx: Arc<ShellContext>,
    ssh: Option<SshHook>,
    udp: Option<UdpHook>,
    stop: Arc<AtomicBool>,
    counters: Arc<InbandCounters>,
}

/// The phy device of one tenant: receives from its punt queue, transmits into the inject
/// queue as the router owning the packet's source address.
struct QueueDevice<'q> {
    queues: &'q MgmtQueues,
    tenant: TenantId,
    routers: &'q [(Ipv4Addr, RouterId)],
}

struct Rx<'q>(switch::mgmt::PoolEntry<'q>);

struct Tx<'q> {
    queues: &'q MgmtQueues,
    routers: &'q [(Ipv4Addr, RouterId)],
}

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // The buffer goes back to the tenant's free list when the entry drops.
        f(self.0.as_slice())
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = [0u8; MGMT_PACKET_MAX];
        let n = len.min(MGMT_PACKET_MAX);
        let r = f(&mut buf[..n]);
        let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
        if let Some((_, router)) = self.routers.iter().find(|(a, _)| *a == src) {
            // A full inject queue drops the packet (counted); TCP retransmits.
            let _ = self.queues.send(*router, &buf[..n]);
        }
        r
    }
}

impl<'q> phy::Device for QueueDevice<'q> {
    type RxToken<'a>
        = Rx<'q>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'q>
    where
        Self: 'a;

    fn receive(&mut self, _now: SmolInstant) -> Option<(Rx<'q>, Tx<'q>)> {
        let entry = self.queues.tenant(self.tenant)?.pop()?;
        self.queues.counters.received.fetch_add(1, Ordering::Relaxed);
        Some((Rx(entry), Tx { queues: self.queues, routers: self.routers }))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<Tx<'q>> {
        Some(Tx { queues: self.queues, routers: self.routers })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MGMT_PACKET_MAX;
        caps
    }
}

/// What a listening socket slot is doing.
enum SlotState {
    Listening,
    /// A session runs: channels to and from it.
    Active(Pipe),
    /// The session ended (or none could be started): closing since then (None: not
    /// connected), then listening again.
    Closing(Option<std::time::Instant>),
}

/// The management thread's end of a session's byte pipe.
struct Pipe {
    to_session: Option<Sender<Vec<u8>>>,
    from_session: Receiver<Vec<u8>>,
    /// Session output not yet accepted by the socket.
    pending: Vec<u8>,
    /// The session closed its output.
    session_done: bool,
}

/// One listening TCP socket of the pool of (address, port).
struct TcpSlot {
    handle: SocketHandle,
    endpoint: IpListenEndpoint,
    port: u16,
    address: usize,
    index: usize,
    state: SlotState,
}

/// One tenant: its interface, sockets and addresses.
struct Tenant {
    id: TenantId,
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: Vec<TcpSlot>,
    udp: Vec<(SocketHandle, usize)>,
    addresses: Vec<Address>,
    routers: Vec<(Ipv4Addr, RouterId)>,
}

struct Plane<'q> {
    queues: &'q MgmtQueues,
    tenants: Vec<Tenant>,
    hooks: Hooks,
}

fn now() -> SmolInstant {
    SmolInstant::now()
}

fn v4(a: Ipv4Addr) -> Ipv4Address {
    a
}

impl<'q> Plane<'q> {
    fn new(mq: &'q MgmtQueues, addresses: Vec<Vec<Address>>, config: &InbandConfig, hooks: Hooks) -> Self {
        let mut tenants = Vec::new();
        for (i, addrs) in addresses.into_iter().enumerate() {
            if addrs.is_empty() || i >= mq.tenant_count() {
                continue;
            }
            let id = TenantId(i as u16);
            let routers: Vec<(Ipv4Addr, RouterId)> = addrs.iter().map(|a| (a.addr, a.router)).collect();
            let mut dev = QueueDevice { queues: mq, tenant: id, routers: &routers };
            let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now());
            iface.update_ip_addrs(|ips| {
                for a in addrs.iter().take(IFACE_ADDRESSES) {
                    let _ = ips.push(IpCidr::new(IpAddress::Ipv4(v4(a.addr)), 32));
                }
            });
            // Every destination is reached through the workers: any address will do as the
            // "gateway" of a medium-IP interface.
            let _ = iface.routes_mut().add_default_ipv4_route(v4(addrs[0].addr));
            // More addresses than the interface holds: accept every unicast destination (the
            // workers punt only this tenant's router addresses; the default route points at
            // one of ours, which is AnyIP's condition).
            if addrs.len() > IFACE_ADDRESSES {
                iface.set_any_ip(true);
            }
            let mut sockets = SocketSet::new(Vec::new());
            let mut tcp_slots = Vec::new();
            let mut ports = vec![TELNET_PORT];
            if hooks.ssh.is_some() {
                ports.push(SSH_PORT);
            }
            for (ai, a) in addrs.iter().enumerate() {
                for &port in &ports {
                    for index in 0..config.listeners.max(1) {
                        let endpoint = IpListenEndpoint { addr: Some(IpAddress::Ipv4(v4(a.addr))), port };
                        tcp_slots.push(new_listener(&mut sockets, endpoint, port, ai, index));
                    }
                }
            }
            let mut udp_socks = Vec::new();
            if hooks.udp.is_some() {
                for (ai, a) in addrs.iter().enumerate() {
                    let mut sock = udp::Socket::new(
                        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1500]),
                        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 8], vec![0; 8 * 1500]),
                    );
                    let ep = IpListenEndpoint { addr: Some(IpAddress::Ipv4(v4(a.addr))), port: SNMP_PORT };
                    if sock.bind(ep).is_ok() {
                        udp_socks.push((sockets.add(sock), ai));
                    }
                }
            }
            tenants.push(Tenant {
                id,
                iface,
                sockets,
                tcp: tcp_slots,
                udp: udp_socks,
                addresses: addrs,
                routers,
            });
        }
        Plane { queues: mq, tenants, hooks }
    }

    fn run(&mut self, config: &InbandConfig) {
        while !self.hooks.stop.load(Ordering::Relaxed) {
            let mut delay = config.idle_interval;
            for i in 0..self.tenants.len() {
                let d = self.poll_tenant(i, config);
                delay = delay.min(d);
            }
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
        // Sessions see their input end.
        for t in &mut self.tenants {
            for slot in &mut t.tcp {
                slot.state = SlotState::Closing(Some(std::time::Instant::now()));
            }
        }
    }

    /// One round for tenant `i`: smoltcp poll, then sockets; returns how long it may sleep.
    fn poll_tenant(&mut self, i: usize, config: &InbandConfig) -> Duration {
        let queues = self.queues;
        let hooks = &self.hooks;
        let Some(t) = self.tenants.get_mut(i) else { return config.idle_interval };
        let ts = now();
        {
            let mut dev = QueueDevice { queues, tenant: t.id, routers: &t.routers };
            t.iface.poll(ts, &mut dev, &mut t.sockets);
        }
        let mut active = false;
        for slot in &mut t.tcp {
            active |= service_tcp(slot, &mut t.sockets, &t.addresses, hooks);
        }
        if active {
            grow_pools(t, config.max_sessions.max(config.listeners));
        }
        for (h, ai) in &t.udp {
            service_udp(*h, &mut t.sockets, &t.addresses[*ai], hooks);
        }
        // What the sockets queued goes out now rather than at the next round.
        {
            let mut dev = QueueDevice { queues, tenant: t.id, routers: &t.routers };
            t.iface.poll(now(), &mut dev, &mut t.sockets);
        }
        if queues.tenant(t.id).is_some_and(|p| !p.is_empty()) {
            return Duration::ZERO;
        }
        let limit = if active { config.busy_interval } else { config.idle_interval };
        match t.iface.poll_delay(now(), &t.sockets) {
            Some(d) => Duration::from_micros(d.total_micros()).min(limit),
            None => limit,
        }
    }
}

/// A new TCP socket listening on `endpoint` (slot `index` of the pool of (`address`, `port`)).
fn new_listener(
    sockets: &mut SocketSet<'static>,
    endpoint: IpListenEndpoint,
    port: u16,
    address: usize,
    index: usize,
) -> TcpSlot {
    let mut sock = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; TCP_RX_BUF]),
        tcp::SocketBuffer::new(vec![0; TCP_TX_BUF]),
    );
    sock.set_keep_alive(Some(TCP_KEEPALIVE.into()));
    sock.set_timeout(Some(TCP_TIMEOUT.into()));
    // Listening before the first poll: SYNs queued meanwhile find it.
    let state = match sock.listen(endpoint) {
        Ok(()) => SlotState::Listening,
        Err(_) => SlotState::Closing(None),
    };
    let handle = sockets.add(sock);
    TcpSlot { handle, endpoint, port, address, index, state }
}

/// Adds a listening socket to every pool of (address, port) whose sockets are all taken
/// (connected, handshaking or closing), up to `max` sockets per pool.
fn grow_pools(t: &mut Tenant, max: usize) {
    // (address, port) -> (sockets, a free listener, endpoint)
    let mut pools: Vec<((usize, u16), usize, bool, IpListenEndpoint)> = Vec::new();
    for slot in &t.tcp {
        let free = matches!(slot.state, SlotState::Listening)
            && t.sockets.get::<tcp::Socket>(slot.handle).state() == tcp::State::Listen;
        match pools.iter_mut().find(|p| p.0 == (slot.address, slot.port)) {
            Some(p) => {
                p.1 += 1;
                p.2 |= free;
            }
            None => pools.push(((slot.address, slot.port), 1, free, slot.endpoint)),
        }
    }
    for ((address, port), n, free, endpoint) in pools {
        if !free && n < max {
            let slot = new_listener(&mut t.sockets, endpoint, port, address, n);
            t.tcp.push(slot);
        }
    }
}

/// Moves bytes between one TCP socket and its session; starts sessions on new connections
/// and re-listens when a connection is over. True while a connection is open.
fn service_tcp(
    slot: &mut TcpSlot,
    sockets: &mut SocketSet<'static>,
    addrs: &[Address],
    hooks: &Hooks,
) -> bool {
    let sock = sockets.get_mut::<tcp::Socket>(slot.handle);
    match &mut slot.state {
        SlotState::Closing(since) => {
            // A peer that never finishes the close (FIN-WAIT-2 forever) loses the slot.
            let stale = since.is_some_and(|t| t.elapsed() >= CLOSE_TIMEOUT);
            if stale || matches!(sock.state(), tcp::State::Closed | tcp::State::TimeWait) {
                sock.abort();
                if sock.listen(slot.endpoint).is_ok() {
                    slot.state = SlotState::Listening;
                }
                return false;
            }
            if sock.state() == tcp::State::CloseWait {
                sock.close();
            }
            true
        }
        SlotState::Listening => {
            if !sock.is_active() || sock.state() == tcp::State::Listen {
                return false;
            }
            if !matches!(sock.state(), tcp::State::Established | tcp::State::CloseWait) {
                // SYN received, handshake not complete.
                return true;
            }
            let peer = match sock.remote_endpoint() {
                Some(ep) => socket_addr(ep),
                None => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            };
            let Some(address) = addrs.get(slot.address) else {
                sock.abort();
                slot.state = SlotState::Closing(Some(std::time::Instant::now()));
                return false;
            };
            let (to_session, session_in) = bounded::<Vec<u8>>(CHANNEL_CHUNKS);
            let (session_out, from_session) = bounded::<Vec<u8>>(CHANNEL_CHUNKS);
            let stream = ChannelStream { rx: session_in, tx: Some(session_out), leftover: Vec::new(), at: 0 };
            let scope = address.scope.clone();
            let opts = VtyOptions {
                line: format!(
                    "{}-{} {}",
                    if slot.port == SSH_PORT { "ssh" } else { "vty" },
                    scope.router,
                    slot.index
                ),
                // Tenants' addresses overlap: the peer names its tenant (`10.0.0.10%z:40312`)
                // so the login throttle and the audit log tell z's 10.0.0.10 from y's.
                peer: format!("{}%{}:{}", peer.ip(), scope.tenant, peer.port()),
                telnet: slot.port == TELNET_PORT,
                scope: Some(scope),
            };
            if spawn_session(slot.port, stream, opts, hooks).is_err() {
                sock.abort();
                slot.state = SlotState::Closing(Some(std::time::Instant::now()));
                return false;
            }
            hooks.counters.sessions.fetch_add(1, Ordering::Relaxed);
            slot.state = SlotState::Active(Pipe {
                to_session: Some(to_session),
                from_session,
                pending: Vec::new(),
                session_done: false,
            });
            true
        }
        SlotState::Active(pipe) => {
            // Socket → session, only while the session has room.
            while sock.can_recv() {
                let Some(tx) = &pipe.to_session else { break };
                if tx.is_full() {
                    break;
                }
                let mut chunk = vec![0u8; CHUNK];
                let n = sock.recv_slice(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                chunk.truncate(n);
                match tx.try_send(chunk) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => break,
                    Err(TrySendError::Disconnected(_)) => {
                        pipe.to_session = None;
                        break;
                    }
                }
            }
            // The peer closed its side (or the connection is gone): the session sees EOF.
            if !sock.may_recv() && !sock.can_recv() {
                pipe.to_session = None;
            }
            // Session → socket, as room appears.
            loop {
                if pipe.pending.is_empty() {
                    match pipe.from_session.try_recv() {
                        Ok(c) => pipe.pending = c,
                        Err(crossbeam_channel::TryRecvError::Empty) => break,
                        Err(crossbeam_channel::TryRecvError::Disconnected) => {
                            pipe.session_done = true;
                            break;
                        }
                    }
                }
                if !sock.may_send() {
                    pipe.pending.clear();
                    continue;
                }
                let n = sock.send_slice(&pipe.pending).unwrap_or(0);
                pipe.pending.drain(..n);
                if !pipe.pending.is_empty() {
                    break;
                }
            }
            let gone = !sock.is_open();
            if (pipe.session_done && pipe.pending.is_empty()) || gone {
                // FIN after the last byte (or the connection was reset): the session, if
                // still running, sees its input end.
                sock.close();
                slot.state = SlotState::Closing(Some(std::time::Instant::now()));
            }
            true
        }
    }
}

/// A smoltcp endpoint as a std socket address.
fn socket_addr(ep: IpEndpoint) -> SocketAddr {
    #[allow(unreachable_patterns)]
    let ip = match ep.addr {
        IpAddress::Ipv4(a) => a,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    SocketAddr::V4(SocketAddrV4::new(ip, ep.port))
}

/// Starts the session of a new connection on its own thread.
fn spawn_session(port: u16, stream: ChannelStream, opts: VtyOptions, hooks: &Hooks) -> io::Result<()> {
    let name = format!("vns-{}", opts.line.replace(' ', ""));
    if port == SSH_PORT {
        let Some(ssh) = hooks.ssh.clone() else { return Err(io::ErrorKind::Unsupported.into()) };
        std::thread::Builder::new().name(name).spawn(move || ssh(Box::new(stream), opts))?;
        return Ok(());
    }
    let ctx = hooks.ctx.clone();
    let stop = hooks.stop.clone();
    std::thread::Builder::new().name(name).spawn(move || {
        let mut stream = stream;
        let session = shell::vty::new_session(ctx.clone(), &opts);
        shell::vty::serve(ctx, &mut stream, session, &opts, Some(stop));
    })?;
    Ok(())
}

/// Answers queued datagrams on one UDP 161 socket through the UDP hook.
fn service_udp(handle: SocketHandle, sockets: &mut SocketSet<'static>, address: &Address, hooks: &Hooks) {
    let Some(hook) = &hooks.udp else { return };
    let sock = sockets.get_mut::<udp::Socket>(handle);
    let mut buf = [0u8; 1500];
    while sock.can_recv() {
        let Ok((n, meta)) = sock.recv_slice(&mut buf) else { break };
        let peer = socket_addr(meta.endpoint);
        hooks.counters.udp_requests.fetch_add(1, Ordering::Relaxed);
        if let Some(answer) = hook(&buf[..n], peer, &address.scope) {
            if sock.can_send() {
                let _ = sock.send_slice(&answer, meta.endpoint);
            }
        }
    }
}

/// A session's end of its byte pipe: input chunks from the socket, output chunks to it.
struct ChannelStream {
    rx: Receiver<Vec<u8>>,
    tx: Option<Sender<Vec<u8>>>,
    leftover: Vec<u8>,
    at: usize,
}

impl VtyStream for ChannelStream {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.leftover.len() {
            match self.rx.recv_timeout(Duration::from_millis(250)) {
                Ok(c) => {
                    self.leftover = c;
                    self.at = 0;
                }
                Err(RecvTimeoutError::Timeout) => return Err(io::ErrorKind::WouldBlock.into()),
                Err(RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = buf.len().min(self.leftover.len() - self.at);
        buf[..n].copy_from_slice(&self.leftover[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }

    fn write_all_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        let Some(tx) = &self.tx else { return Err(io::ErrorKind::BrokenPipe.into()) };
        for chunk in bytes.chunks(CHUNK) {
            tx.send_timeout(chunk.to_vec(), WRITE_TIMEOUT).map_err(|e| match e {
                crossbeam_channel::SendTimeoutError::Timeout(_) => io::Error::from(io::ErrorKind::TimedOut),
                crossbeam_channel::SendTimeoutError::Disconnected(_) => io::ErrorKind::BrokenPipe.into(),
            })?;
        }
        Ok(())
    }

    fn close_write(&mut self) {
        self.tx = None;
    }
}

#[cfg(test)]
mod tests;
