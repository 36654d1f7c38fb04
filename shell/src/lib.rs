//! vnswitch operator shell: one IOS-style command tree shared by the local console
//! (`rustyline`) and remote telnet sessions; logins, privileges, tenant-scoped views and an
//! audit log.
//!
//! CONTRACT (called by the binary): [`ShellContext`], [`run_console`], [`spawn_telnet`],
//! [`TelnetServer`]; the data plane plugs in through the [`StatsSource`] and [`Prober`] traits.
//! SSH: [`ssh::SshServer`] (listener, host key, [`ssh::serve_ssh_stream`] for in-band streams).
//! Other front ends (SSH, in-band telnet) run sessions over their own streams with
//! [`vty::serve`] ([`vty::VtyStream`], [`vty::VtyOptions`], [`vty::new_session`]).
//!
//! SNMP CONTRACT (the binary and the in-band manager): the read-only SNMPv2c agent is
//! ```text
//! /// Where a request arrived: the management address, or a logical router's address in-band.
//! pub enum SnmpScope { Management, Router { tenant: String, router: String } }
//! /// Answers one datagram; None = no answer (bad community, garbage, out of scope).
//! pub fn snmp::handle_request(ctx: &ShellContext, request: &[u8], source: &str, scope: &SnmpScope) -> Option<Vec<u8>>
//! pub fn spawn_snmp(ctx: Arc<ShellContext>, addr: &str) -> io::Result<SnmpServer>  // UDP thread, stop()
//! ```
//! [`snmp::handle_request`] does no I/O: the in-band manager passes each UDP/161 payload
//! addressed to a logical router with `SnmpScope::Router` (only that router's tenant
//! community is accepted, and it sees that router's interfaces) and sends back what it
//! returns. `source` is the sender's address, without port, as the audit log shows it.
//! Counters live in [`ShellContext::snmp`].

pub mod audit;
pub mod auth;
pub mod clock;
pub mod commands;
pub mod console;
pub mod editor;
pub mod filter;
pub mod providers;
pub mod session;
pub mod snmp;
pub mod ssh;
pub mod telnet;
pub mod tree;
pub mod vty;

pub use audit::{AuditEntry, AuditLog};
pub use auth::{hash_password, verify_password, LoginThrottle};
pub use providers::{
    PortCounters, ProbeReply, ProbeSource, Prober, StatsSource, TenantCounters, WorkerStats,
};

pub use snmp::{spawn_snmp, SnmpScope, SnmpServer};

use rib::RibHandle;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// Nice value of the remote management threads (telnet and SSH sessions, the SSH runtime):
/// under load the data path and the traffic it serves come first and the shell takes what is
/// left. Nice is a weight, so sessions still progress (see `scripts/storm`).
pub const MANAGEMENT_NICE: i8 = 10;

/// Lowers the calling thread to [`MANAGEMENT_NICE`] (best effort: an error leaves it as is).
pub(crate) fn lower_management_priority() {
    let _ = switch::worker::WorkerSched::Nice(MANAGEMENT_NICE).apply_to_current_thread();
}

/// Default cap on concurrent telnet sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 64;

/// Everything a shell session needs: the RIB client, the optional data-plane views, where
/// `write memory` saves, and the shared audit log. Built once by the binary, shared by all
/// sessions through an `Arc`.
pub struct ShellContext {
    /// Blocking client of the RIB thread (routes, neighbours, running config, changes).
    pub rib: RibHandle,
    /// Aggregated worker statistics; `None` when no workers run (shows "no workers").
    pub stats: Option<Arc<dyn StatsSource>>,
    /// Router-originated probes for `ping`/`traceroute`; `None`: those commands say so.
    pub prober: Option<Arc<dyn Prober>>,
    /// The topology file `write memory` replaces atomically; `None`: `write memory` refuses.
    pub topology_path: Option<PathBuf>,
    /// Hostname shown in prompts (default: the topology's `hostname`).
    pub hostname: String,
    /// Idle timeout of a session (IOS `exec-timeout`); zero means never.
    pub exec_timeout: Duration,
    /// Most telnet sessions served at once; further connections are told so and closed.
    pub max_sessions: usize,
    /// Refused logins and commands, logins, configuration changes (`show logging`).
    pub audit: AuditLog,
    /// Per-source delay of failed logins.
    pub throttle: LoginThrottle,
    /// Live sessions for `show users`.
    pub sessions: sessions::SessionRegistry,
    /// Remote lines in use (logged in, logging in), shared by telnet, SSH and in-band sessions.
    pub lines: Arc<vty::VtyLines>,
    /// When the shell context was built (uptime in `show version`).
    pub started: Instant,
    /// Wall-clock time at start.
    pub started_wall: SystemTime,
    /// The data plane's capture point (`monitor capture`); `None`: those commands say so.
    pub capture: Option<Arc<switch::capture::Capture>>,
    /// Named captures and their buffers.
    pub captures: commands::monitor::CaptureRegistry,
    /// Where tenant users' `monitor capture NAME export FILE` writes: `DIR/<tenant>/FILE`.
    pub capture_dir: PathBuf,
    /// The workers' flow tables (`show ip flow top-talkers`); `None`: no workers.
    pub flows: Option<Arc<switch::flows::FlowReader>>,
    /// The SNMP agent's counters and audit limiter (`snmp` group of SNMPv2-MIB).
    pub snmp: snmp::SnmpStats,
    /// When `clear counters` last ran.
    counters_cleared_at: std::sync::Mutex<Option<Instant>>,
}

impl ShellContext {
    /// A context over a running RIB; hostname, exec timeout and topology path come from the
    /// RIB's current topology.
    pub fn new(rib: RibHandle) -> ShellContext {
        let topo = rib.topology();
        let hostname = topo.file.hostname.clone();
        let exec_timeout = Duration::from_secs(topo.file.shell.exec_timeout_secs);
        let topology_path = topo.path.clone();
        ShellContext {
            rib,
            stats: None,
            prober: None,
            topology_path,
            hostname,
            exec_timeout,
            max_sessions: DEFAULT_MAX_SESSIONS,
            audit: AuditLog::new(),
            throttle: LoginThrottle::new(),
            sessions: sessions::SessionRegistry::default(),
            lines: Arc::new(vty::VtyLines::default()),
            started: Instant::now(),
            started_wall: SystemTime::now(),
            capture: None,
            captures: commands::monitor::CaptureRegistry::default(),
            capture_dir: PathBuf::from(commands::monitor::DEFAULT_CAPTURE_DIR),
            flows: None,
            snmp: snmp::SnmpStats::default(),
            counters_cleared_at: std::sync::Mutex::new(None),
        }
    }
    /// Records a `clear counters`.
    pub fn mark_counters_cleared(&self) {
        *self.counters_cleared_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }
    /// `never` or `hh:mm:ss` since the last `clear counters` (IOS "Last clearing").
    pub fn counters_cleared(&self) -> String {
        match *self.counters_cleared_at.lock().unwrap_or_else(|e| e.into_inner()) {
            None => "never".into(),
            Some(t) => clock::short_age(t.elapsed()),
        }
    }
    /// Adds the worker statistics view.
    pub fn with_stats(mut self, stats: Arc<dyn StatsSource>) -> Self {
        self.stats = Some(stats);
        self
    }
    /// Adds the capture point for `monitor capture`.
    pub fn with_capture(mut self, capture: Arc<switch::capture::Capture>) -> Self {
        self.capture = Some(capture);
        self
    }
    /// Sets where tenant users' capture exports go (`DIR/<tenant>/FILE`).
    pub fn with_capture_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.capture_dir = dir.into();
        self
    }
    /// Adds the flow tables for `show ip flow top-talkers`.
    pub fn with_flows(mut self, flows: Arc<switch::flows::FlowReader>) -> Self {
        self.flows = Some(flows);
        self
    }
    /// Adds the probe injector for `ping`/`traceroute`.
    pub fn with_prober(mut self, prober: Arc<dyn Prober>) -> Self {
        self.prober = Some(prober);
        self
    }
    /// Overrides where `write memory` saves.
    pub fn with_topology_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.topology_path = Some(path.into());
        self
    }
    /// Overrides the idle timeout (tests use a short one).
    pub fn with_exec_timeout(mut self, timeout: Duration) -> Self {
        self.exec_timeout = timeout;
        self
    }
    /// Overrides the session cap.
    pub fn with_max_sessions(mut self, max: usize) -> Self {
        self.max_sessions = max.max(1);
        self
    }
}

pub mod sessions {
    //! Registry of live sessions (for `show users`): line, user, source, idle time.
    use std::sync::Mutex;
    use std::time::Instant;

    /// One live session as `show users` prints it.
    #[derive(Clone, Debug)]
    pub struct SessionInfo {
        pub id: u64,
        /// `con 0` or `vty N`.
        pub line: String,
        pub user: String,
        pub source: String,
        pub last_active: Instant,
    }

    /// Live sessions, shared by every front end.
    #[derive(Default)]
    pub struct SessionRegistry {
        inner: Mutex<(u64, Vec<SessionInfo>)>,
    }

    impl SessionRegistry {
        /// Registers a session and returns its id.
        pub fn register(&self, line: &str, source: &str) -> u64 {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            g.0 += 1;
            let id = g.0;
            g.1.push(SessionInfo {
                id,
                line: line.to_string(),
                user: String::new(),
                source: source.to_string(),
                last_active: Instant::now(),
            });
            id
        }
        /// Updates the user name and activity time of a session.
        pub fn touch(&self, id: u64, user: &str) {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = g.1.iter_mut().find(|s| s.id == id) {
                s.user = user.to_string();
                s.last_active = Instant::now();
            }
        }
        /// Removes a session.
        pub fn unregister(&self, id: u64) {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            g.1.retain(|s| s.id != id);
        }
        /// A copy of the live sessions.
        pub fn list(&self) -> Vec<SessionInfo> {
            self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.clone()
        }
        /// Number of live sessions on lines starting with `prefix` (`vty`).
        pub fn count(&self, prefix: &str) -> usize {
            self.inner
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .1
                .iter()
                .filter(|s| s.line.starts_with(prefix))
                .count()
        }
    }
}

/// A running telnet listener; dropping it does not stop it, call [`TelnetServer::stop`].
pub struct TelnetServer {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TelnetServer {
    /// The address the listener is bound to (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
    /// Stops accepting new sessions and waits for the accept thread; live sessions end on
    /// their own (logout, timeout or disconnect).
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = std::net::TcpStream::connect_timeout(&self.local_addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the local console until the operator logs out or stdin closes. With a terminal on
/// stdin it uses `rustyline` (history, Tab, `?`); otherwise it reads plain lines, so scripts
/// can pipe commands in.
pub fn run_console(ctx: Arc<ShellContext>) -> io::Result<()> {
    console::run(ctx)
}

/// Binds a telnet listener on `addr` (e.g. `127.0.0.1:2323`) and serves each session on its
/// own thread, up to `ctx.max_sessions` at once.
pub fn spawn_telnet(ctx: Arc<ShellContext>, addr: &str) -> io::Result<TelnetServer> {
    let listener = std::net::TcpListener::bind(addr)?;
    let local_addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let thread = std::thread::Builder::new().name("telnet-accept".into()).spawn(move || {
        telnet::accept_loop(ctx, listener, stop2);
    })?;
    Ok(TelnetServer { local_addr, stop, thread: Some(thread) })
}
