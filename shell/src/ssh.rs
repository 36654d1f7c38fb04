//! The SSH front end (`russh`): the management-address listener and [`serve_ssh_stream`] for
//! connections the in-band manager accepts on a router address (port 22).
//!
//! The SSH protocol runs on this module's own small tokio runtime (two threads named `ssh`,
//! never a worker core's pinned thread; like every remote session thread they run at
//! [`crate::MANAGEMENT_NICE`]). Password authentication goes through
//! [`Session::login`] (throttling, block-for, dummy hash and audit exactly as for telnet; three
//! attempts per connection); public keys are refused. A `shell` request (with or without a
//! `pty-req`) bridges the channel to a session thread running [`vty::serve`] over a
//! [`VtyStream`] built from bounded channels; `exec` runs one command and returns its output
//! with exit status 0 (holding one of the logged-in lines while it runs: when all are taken it
//! says so, exit status 1). The idle timeout and `exit` close the channel, then the connection.
//! The host key is an ed25519 key kept in an OpenSSH private-key file ([`load_or_create_host_key`]).

use crate::session::{LoginResult, Session};
use crate::vty::{self, VtyOptions, VtyStream};
use crate::ShellContext;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::ssh_key::LineEnding;
use russh::keys::{HashAlg, PrivateKey};
use russh::server::{Auth, Msg, Session as SshSession};
use russh::{Channel, ChannelId, Disconnect, MethodKind, MethodSet};
use std::collections::HashMap;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Password attempts per connection (as telnet's login dialogue).
const LOGIN_ATTEMPTS: usize = 3;
/// Input chunks queued from the SSH side to a session thread before the SSH side waits.
const INPUT_QUEUE: usize = 64;
/// How long a session thread waits for its output to be taken by the SSH side.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// Why the SSH front end could not start.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// The host key file could not be read or written.
    #[error("host key {path}: {source}")]
    KeyFile { path: PathBuf, source: io::Error },
    /// The host key file is not an OpenSSH private key we can use.
    #[error("host key {path}: {msg}")]
    BadKey { path: PathBuf, msg: String },
    /// The runtime or the listener could not start.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// The default host key file of a topology: `<dir>/<stem>.ssh_host_ed25519_key`.
pub fn default_host_key_path(topology: &Path) -> PathBuf {
    let stem =
        topology.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "vnswitch".into());
    let dir = topology.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    dir.join(format!("{stem}.ssh_host_ed25519_key"))
}

/// Loads the ed25519 host key at `path`, or generates one and writes it there (mode 0600,
/// written to a temporary file and renamed, so a crash leaves no half key). Returns the key
/// and whether it was generated now.
pub fn load_or_create_host_key(path: &Path) -> Result<(PrivateKey, bool), SshError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let key = PrivateKey::from_openssh(&bytes)
                .map_err(|e| SshError::BadKey { path: path.to_owned(), msg: e.to_string() })?;
            if key.is_encrypted() {
                return Err(SshError::BadKey {
                    path: path.to_owned(),
                    msg: "encrypted keys are not supported".into(),
                });
            }
            Ok((key, false))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
            let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
            key.set_comment("vnswitch host key");
            let text = key
                .to_openssh(LineEnding::LF)
                .map_err(|e| SshError::BadKey { path: path.to_owned(), msg: e.to_string() })?;
            write_private(path, text.as_bytes())
                .map_err(|source| SshError::KeyFile { path: path.to_owned(), source })?;
            Ok((key, true))
        }
        Err(source) => Err(SshError::KeyFile { path: path.to_owned(), source }),
    }
}

/// Writes `bytes` to `path` atomically with mode 0600.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// State shared by the listener, every connection and [`serve_ssh_stream`].
struct Shared {
    ctx: Arc<ShellContext>,
    config: Arc<russh::server::Config>,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
    stop_notify: tokio::sync::Notify,
    /// Open SSH connections (authenticated or not).
    live: AtomicUsize,
    next_line: AtomicUsize,
}

impl Shared {
    /// Most connections at once: the logged-in lines plus those still logging in (as telnet).
    fn connection_cap(&self) -> usize {
        self.ctx.max_sessions + 2 * self.ctx.throttle.pending_max.max(1)
    }

    /// Takes a connection slot, or `None` when all are taken.
    fn admit(self: &Arc<Self>) -> Option<LiveGuard> {
        if self.live.fetch_add(1, Ordering::SeqCst) >= self.connection_cap() {
            self.live.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(LiveGuard(self.clone()))
    }
}

/// One open connection; gives its slot back when dropped.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The SSH front end: its runtime, host key and (optionally) a listener. Stop it with
/// [`SshServer::stop`]; live sessions get the stop flag and end at their next read wait.
pub struct SshServer {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
    local_addr: Option<SocketAddr>,
    fingerprint: String,
}

impl SshServer {
    /// A server with `host_key`, not listening yet ([`SshServer::listen`]); in-band
    /// connections can be served with [`serve_ssh_stream`] right away.
    pub fn new(ctx: Arc<ShellContext>, host_key: PrivateKey) -> Result<SshServer, SshError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(8)
            .thread_name("ssh")
            .on_thread_start(crate::lower_management_priority)
            .enable_all()
            .build()?;
        let fingerprint = host_key.public_key().fingerprint(HashAlg::Sha256).to_string();
        let mut methods = MethodSet::empty();
        methods.push(MethodKind::Password);
        let config = russh::server::Config {
            server_id: russh::SshId::Standard("SSH-2.0-vnswitch".into()),
            methods,
            // Session::login runs one password hash per attempt (also for unknown users) and
            // the throttle adds its own delay; this is the floor of every rejection.
            auth_rejection_time: Duration::from_millis(200),
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![host_key],
            // Our own cap applies (LOGIN_ATTEMPTS passwords); this one also counts `none`
            // probes and refused public keys.
            max_auth_attempts: 10,
            inactivity_timeout: None,
            keepalive_interval: Some(Duration::from_secs(60)),
            keepalive_max: 3,
            nodelay: true,
            ..Default::default()
        };
        let shared = Arc::new(Shared {
            ctx,
            config: Arc::new(config),
            rt: runtime.handle().clone(),
            stop: Arc::new(AtomicBool::new(false)),
            stop_notify: tokio::sync::Notify::new(),
            live: AtomicUsize::new(0),
            next_line: AtomicUsize::new(0),
        });
        Ok(SshServer { shared, runtime: Some(runtime), local_addr: None, fingerprint })
    }

    /// Binds `addr` (e.g. `127.0.0.1:2222`, port 0 picks one) and accepts connections.
    pub fn listen(&mut self, addr: &str) -> Result<SocketAddr, SshError> {
        let listener = self.shared.rt.block_on(tokio::net::TcpListener::bind(addr))?;
        let local = listener.local_addr()?;
        let shared = self.shared.clone();
        self.shared.rt.spawn(accept_loop(shared, listener));
        self.local_addr = Some(local);
        Ok(local)
    }

    /// The listener's address, if listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The host key's fingerprint as OpenSSH prints it (`SHA256:…`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Open connections (logged in or not).
    pub fn connections(&self) -> usize {
        self.shared.live.load(Ordering::SeqCst)
    }

    /// Stops accepting, tells live sessions to end, and shuts the runtime down (waiting a
    /// second at most for connections to close).
    pub fn stop(mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.stop_notify.notify_waiters();
        if let Some(rt) = self.runtime.take() {
            // Let sessions that noticed the stop send their goodbye.
            let deadline = Instant::now() + Duration::from_millis(700);
            while self.shared.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            rt.shutdown_timeout(Duration::from_millis(300));
        }
    }
}

impl Drop for SshServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.stop_notify.notify_waiters();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(shared: Arc<Shared>, listener: tokio::net::TcpListener) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shared.stop_notify.notified() => break,
        };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok((socket, peer)) = accepted else {
            // EMFILE and the like: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Some(guard) = shared.admit() else {
            // All lines taken: close at once (the client reports the closed connection).
            drop(socket);
            continue;
        };
        let _ = socket.set_nodelay(true);
        let n = shared.next_line.fetch_add(1, Ordering::Relaxed);
        let opts =
            VtyOptions { line: format!("ssh {n}"), peer: peer.to_string(), telnet: false, scope: None };
        tokio::spawn(connection(shared.clone(), socket, opts, guard));
    }
}

/// Runs the SSH protocol over an already-accepted byte stream (the in-band manager hands it
/// TCP connections to a router address, port 22) until the connection ends, on the calling
/// thread. The session gets `opts.scope`, `opts.line` and `opts.peer` (`opts.telnet` is
/// ignored). Output reaches the stream right after input (interactive echo) or within one
/// `read_some` wait of the stream otherwise.
pub fn serve_ssh_stream(server: &SshServer, stream: Box<dyn VtyStream>, opts: VtyOptions) {
    server.handle().serve_stream(stream, opts)
}

/// A cloneable handle on a running [`SshServer`] for front ends that hand it streams from
/// other threads (the in-band manager); it does not keep the server running.
#[derive(Clone)]
pub struct SshHandle {
    shared: Arc<Shared>,
}

impl SshServer {
    /// A handle for [`SshHandle::serve_stream`].
    pub fn handle(&self) -> SshHandle {
        SshHandle { shared: self.shared.clone() }
    }
}

impl SshHandle {
    /// [`serve_ssh_stream`] through the handle.
    pub fn serve_stream(&self, mut stream: Box<dyn VtyStream>, opts: VtyOptions) {
        let shared = &self.shared;
        let Some(guard) = shared.admit() else {
            stream.close_write();
            return;
        };
        let opts = VtyOptions { telnet: false, ..opts };
        let (ours, theirs) = tokio::io::duplex(64 * 1024);
        shared.rt.spawn(connection(shared.clone(), ours, opts, guard));
        bridge(&shared.rt, stream.as_mut(), theirs);
    }
}

/// Moves bytes between a blocking [`VtyStream`] and one end of an in-memory pipe whose other
/// end the SSH protocol runs over, until either side ends.
fn bridge(rt: &tokio::runtime::Handle, stream: &mut dyn VtyStream, pipe: tokio::io::DuplexStream) {
    let (mut rd, mut wr) = tokio::io::split(pipe);
    let mut inbuf = vec![0u8; 16 * 1024];
    let mut outbuf = vec![0u8; 16 * 1024];
    // After input, wait this long for the answer (echo, key exchange replies) before going back
    // to the stream's read wait.
    let answer_wait = Duration::from_millis(50);
    let mut wait = answer_wait; // the server speaks first (its version line)
    let mut input_open = true;
    let mut drain_until: Option<Instant> = None;
    loop {
        // Output: whatever the SSH side wrote, waiting up to `wait` for the first bytes.
        loop {
            match rt.block_on(async { tokio::time::timeout(wait, rd.read(&mut outbuf)).await }) {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    stream.close_write();
                    return;
                }
                Ok(Ok(n)) => {
                    if stream.write_all_bytes(&outbuf[..n]).is_err() {
                        return;
                    }
                    wait = Duration::ZERO;
                }
                Err(_) => break,
            }
        }
        if !input_open {
            // The peer closed its side: give the SSH side a moment to finish, then end.
            if drain_until.is_some_and(|d| Instant::now() >= d) {
                stream.close_write();
                return;
            }
            wait = Duration::from_millis(100);
            continue;
        }
        match stream.read_some(&mut inbuf) {
            Ok(0) => {
                input_open = false;
                drain_until = Some(Instant::now() + Duration::from_secs(1));
                let _ = rt.block_on(wr.shutdown());
                wait = Duration::from_millis(100);
            }
            Ok(n) => {
                if rt.block_on(wr.write_all(&inbuf[..n])).is_err() {
                    stream.close_write();
                    return;
                }
                wait = answer_wait;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                wait = Duration::ZERO;
            }
            Err(_) => {
                let _ = rt.block_on(wr.shutdown());
                return;
            }
        }
    }
}

/// One SSH connection from version exchange to close. Until it authenticates it is one of the
/// connections waiting to log in that every remote front end shares ([`vty::VtyLines`]): a
/// newer one may evict it when too many wait, and it is closed (audited, as telnet's) when it
/// does not authenticate within the login timeout.
async fn connection<S>(shared: Arc<Shared>, stream: S, opts: VtyOptions, _guard: LiveGuard)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ctx = shared.ctx.clone();
    let login_timeout = ctx.throttle.login_timeout;
    let deadline = tokio::time::Instant::now() + login_timeout;
    let authed = Arc::new(AtomicBool::new(false));
    let peer = opts.peer.clone();
    let line = opts.line.clone();
    let (slot, evicted_other) = ctx.lines.admit(ctx.throttle.pending_max);
    let _pending = PendingGuard { lines: ctx.lines.clone(), id: slot.id };
    if evicted_other {
        ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Warning,
            "LOGIN_EVICTED",
            "",
            &peer,
            format!(
                "{} connections waiting to log in: the least recently active one was closed to admit {peer}",
                ctx.throttle.pending_max
            ),
        );
    }
    let handler = Conn {
        shared: shared.clone(),
        opts,
        session: None,
        failures: 0,
        authed: authed.clone(),
        channels: HashMap::new(),
        session_taken: false,
        slot: slot.clone(),
    };
    let config = shared.config.clone();
    let setup = tokio::time::timeout_at(deadline, russh::server::run_stream(config, stream, handler));
    let mut running = tokio::select! {
        r = setup => match r {
            Ok(Ok(r)) => r,
            _ => return,
        },
        _ = evicted(&slot) => return,
    };
    let handle = running.handle();
    let login_timer = tokio::time::sleep_until(deadline);
    tokio::pin!(login_timer);
    let mut pending = true;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = &mut running => return,
            _ = tick.tick(), if pending => {
                if authed.load(Ordering::SeqCst) {
                    pending = false;
                    ctx.lines.leave_pending(slot.id);
                } else if slot.evicted.load(Ordering::SeqCst) {
                    let _ = handle
                        .disconnect(
                            Disconnect::ByApplication,
                            "Login timed out: too many connections are waiting to log in".into(),
                            String::new(),
                        )
                        .await;
                    break;
                }
            }
            _ = &mut login_timer, if pending => {
                if !authed.load(Ordering::SeqCst) {
                    let secs = login_timeout.as_secs();
                    crate::vty::audit_login_timeout(&ctx, &peer, &line);
                    let _ = handle
                        .disconnect(Disconnect::ByApplication, format!("Login timed out after {secs} seconds"), String::new())
                        .await;
                    break;
                }
                pending = false;
                ctx.lines.leave_pending(slot.id);
            }
            _ = shared.stop_notify.notified() => {
                // Shell sessions see the stop flag and say goodbye themselves; give them a moment.
                tokio::time::sleep(Duration::from_millis(400)).await;
                let _ = handle.disconnect(Disconnect::ByApplication, "vnswitch is stopping".into(), String::new()).await;
                break;
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), running).await;
}

/// Resolves once `slot` has been evicted.
async fn evicted(slot: &vty::PendingSlot) {
    while !slot.evicted.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Leaves the pending connections when the connection ends (leaving twice is harmless).
struct PendingGuard {
    lines: Arc<vty::VtyLines>,
    id: u64,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.lines.leave_pending(self.id);
    }
}

/// One channel of a connection.
#[derive(Default)]
struct Chan {
    /// Terminal height from pty-req / window-change (0: unknown).
    height: Arc<AtomicU16>,
    /// Whether a pty was requested (exec output then uses CR LF).
    pty: bool,
    /// Input to the channel's session thread, once a shell runs.
    input: Option<crossbeam_channel::Sender<Vec<u8>>>,
}

/// The russh handler of one connection.
struct Conn {
    shared: Arc<Shared>,
    opts: VtyOptions,
    /// The connection's session: made at the first password attempt, logged in by a
    /// successful one, then handed to the first shell or exec request.
    session: Option<Session>,
    failures: usize,
    authed: Arc<AtomicBool>,
    channels: HashMap<ChannelId, Chan>,
    session_taken: bool,
    /// This connection among those waiting to log in (activity marks it recently active).
    slot: Arc<vty::PendingSlot>,
}

impl Conn {
    fn opts_copy(&self) -> VtyOptions {
        VtyOptions {
            line: self.opts.line.clone(),
            peer: self.opts.peer.clone(),
            telnet: false,
            scope: self.opts.scope.clone(),
        }
    }

    /// The logged-in session for a shell or exec, once per connection.
    fn take_session(&mut self) -> Option<Session> {
        if self.session_taken {
            return None;
        }
        let s = self.session.take().filter(|s| s.logged_in())?;
        self.session_taken = true;
        Some(s)
    }
}

impl russh::server::Handler for Conn {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, Self::Error> {
        if self.failures >= LOGIN_ATTEMPTS || self.authed.load(Ordering::SeqCst) {
            return Err(russh::Error::Disconnect);
        }
        self.slot.active_ms.store(self.shared.ctx.lines.now_ms(), Ordering::Relaxed);
        let session = match self.session.take() {
            Some(s) => s,
            None => vty::new_session(self.shared.ctx.clone(), &self.opts_copy()),
        };
        let (user, password) = (user.to_string(), password.to_string());
        // The password hash is deliberately slow: keep it off the protocol threads.
        let joined = tokio::task::spawn_blocking(move || {
            let mut session = session;
            let r = session.login(&user, &password);
            (session, r)
        })
        .await;
        let Ok((session, result)) = joined else {
            return Err(russh::Error::Disconnect);
        };
        self.session = Some(session);
        match result {
            LoginResult::Ok => {
                self.authed.store(true, Ordering::SeqCst);
                // Logged in: no longer one of the connections waiting to.
                self.shared.ctx.lines.leave_pending(self.slot.id);
                Ok(Auth::Accept)
            }
            LoginResult::Failed { delay } => {
                self.failures += 1;
                tokio::time::sleep(delay).await;
                // Password again (russh would drop it from the list), or, after the last
                // attempt, no method left: the client gives up ("Permission denied").
                let mut left = MethodSet::empty();
                if self.failures < LOGIN_ATTEMPTS {
                    left.push(MethodKind::Password);
                }
                Ok(Auth::Reject { proceed_with_methods: Some(left), partial_success: false })
            }
            // Right password, wrong router (in-band, another tenant's user): refused for good
            // (audited by the login); no method is left, so the client says permission denied.
            LoginResult::Denied { .. } => {
                self.failures = LOGIN_ATTEMPTS;
                Ok(Auth::Reject { proceed_with_methods: Some(MethodSet::empty()), partial_success: false })
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: russh::server::ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        if !self.authed.load(Ordering::SeqCst) || self.channels.len() >= 4 {
            reply.reject(russh::ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        }
        // Data and requests reach us through the handler; the channel object is not read.
        self.channels.insert(channel.id(), Chan::default());
        drop(channel);
        reply.accept().await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(russh::Pty, u32)],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(c) => {
                c.pty = true;
                c.height.store(u16::try_from(row_height).unwrap_or(u16::MAX), Ordering::Relaxed);
                session.channel_success(channel)?;
            }
            None => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.channels.get(&channel) {
            c.height.store(u16::try_from(row_height).unwrap_or(u16::MAX), Ordering::Relaxed);
        }
        Ok(())
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let known = self.channels.contains_key(&channel);
        let vty_session = if known { self.take_session() } else { None };
        let Some(vty_session) = vty_session else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        let (tx, rx) = crossbeam_channel::bounded(INPUT_QUEUE);
        let height = match self.channels.get_mut(&channel) {
            Some(c) => {
                c.input = Some(tx);
                c.height.clone()
            }
            None => Arc::new(AtomicU16::new(0)),
        };
        let mut stream = ChannelStream {
            rx,
            pending: Vec::new(),
            handle: session.handle(),
            channel,
            rt: self.shared.rt.clone(),
            height,
            closed: false,
        };
        let ctx = self.shared.ctx.clone();
        let stop = self.shared.stop.clone();
        let opts = self.opts_copy();
        let name = format!("vty-{}", self.opts.line.replace(' ', ""));
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            crate::lower_management_priority();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                vty::serve(ctx, &mut stream, vty_session, &opts, Some(stop));
            }));
            if r.is_err() {
                stream.close_write();
            }
        });
        if spawned.is_err() {
            session.channel_failure(channel)?;
            return Ok(());
        }
        session.channel_success(channel)?;
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let pty = self.channels.get(&channel).map(|c| c.pty);
        let vty_session = if pty.is_some() { self.take_session() } else { None };
        let Some(mut vty_session) = vty_session else {
            session.channel_failure(channel)?;
            return Ok(());
        };
        session.channel_success(channel)?;
        let command = String::from_utf8_lossy(data).into_owned();
        let handle = session.handle();
        let crlf = pty.unwrap_or(false);
        tokio::spawn(async move {
            let (text, status) = tokio::task::spawn_blocking(move || {
                // The command holds one of the logged-in lines while it runs, as a shell does.
                let lines = vty_session.ctx.lines.clone();
                if !lines.take_line(vty_session.ctx.max_sessions) {
                    vty_session.logout("all vty lines busy");
                    return ("% All vty lines are busy, try again later\n".to_string(), 1);
                }
                let out = vty_session.execute(command.trim_end_matches(['\r', '\n']));
                vty_session.logout("exec");
                lines.release_line();
                (out.text, 0)
            })
            .await
            .unwrap_or_else(|_| ("% Internal error\n".into(), 1));
            let bytes = if crlf {
                let mut v = Vec::with_capacity(text.len() + 16);
                crate::editor::push_crlf(&mut v, &text);
                v
            } else {
                text.into_bytes()
            };
            let _ = handle.data(channel, bytes).await;
            let _ = handle.exit_status_request(channel, status).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
        });
        Ok(())
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)?;
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(tx) = self.channels.get(&channel).and_then(|c| c.input.clone()) else {
            return Ok(());
        };
        // Bounded queue: when the session thread lags, wait here (SSH flow control does the rest).
        let mut chunk = data.to_vec();
        loop {
            match tx.try_send(chunk) {
                Ok(()) => break,
                Err(crossbeam_channel::TrySendError::Full(c)) => {
                    chunk = c;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(crossbeam_channel::TrySendError::Disconnected(_)) => break,
            }
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        if let Some(c) = self.channels.get_mut(&channel) {
            c.input = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.channels.remove(&channel);
        Ok(())
    }
}

/// A shell channel as a [`VtyStream`] for the session thread: input from the handler through
/// a bounded channel, output through the connection's [`russh::server::Handle`].
struct ChannelStream {
    rx: crossbeam_channel::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    handle: russh::server::Handle,
    channel: ChannelId,
    rt: tokio::runtime::Handle,
    height: Arc<AtomicU16>,
    closed: bool,
}

impl VtyStream for ChannelStream {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pending.is_empty() {
            match self.rx.recv_timeout(Duration::from_millis(250)) {
                Ok(chunk) => self.pending = chunk,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => return Err(ErrorKind::WouldBlock.into()),
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = self.pending.len().min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }

    fn write_all_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let handle = self.handle.clone();
        let data = bytes.to_vec();
        let channel = self.channel;
        match self
            .rt
            .block_on(async move { tokio::time::timeout(WRITE_WAIT, handle.data(channel, data)).await })
        {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(ErrorKind::BrokenPipe.into()),
            Err(_) => Err(ErrorKind::TimedOut.into()),
        }
    }

    fn close_write(&mut self) {
        if std::mem::replace(&mut self.closed, true) {
            return;
        }
        let handle = self.handle.clone();
        let channel = self.channel;
        self.rt.spawn(async move {
            let _ = handle.exit_status_request(channel, 0).await;
            let _ = handle.eof(channel).await;
            let _ = handle.close(channel).await;
            // A client that keeps the connection open after its only shell ended is closed.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let _ = handle.disconnect(Disconnect::ByApplication, "logged out".into(), String::new()).await;
        });
    }

    fn window_height(&self) -> Option<u16> {
        Some(self.height.load(Ordering::Relaxed)).filter(|&h| h > 0)
    }
}
