//! One VTY session over any byte stream: the login dialogue, the [`LineEditor`] over the shared
//! command tree, `--More--` paging, the idle timeout and the line accounting every remote front
//! end shares (telnet on the management address, SSH, in-band telnet to a router address).
//!
//! A front end accepts a connection, wraps it as a [`VtyStream`] and calls [`serve`] on the
//! session's own thread. Telnet streams get option negotiation and IAC stripping
//! ([`crate::telnet::TelnetParser`]); raw streams (an SSH channel) pass bytes as typed and may
//! arrive already logged in. Connections that have not logged in are accounted apart from
//! logged-in sessions ([`VtyLines`]), so they cannot take the lines operators need.

use crate::editor::{push_crlf, EditEvent, LineCompleter, LineEditor, NoCompletion};
use crate::session::{LoginResult, Mode, Session, MAX_LINE};
use crate::telnet::{TelnetParser, NEGOTIATION};
use crate::ShellContext;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Login attempts per connection.
const LOGIN_ATTEMPTS: usize = 3;

/// A bidirectional byte stream a session runs over.
pub trait VtyStream: Send {
    /// Reads what is available, waiting a short while (a quarter second or so) at most, so the
    /// session can check its timeouts. `Ok(0)`: the peer closed. `Err` of kind `WouldBlock`,
    /// `TimedOut` or `Interrupted`: nothing arrived yet. Any other error ends the session.
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Writes all of `bytes` (bounded wait; an error ends the session).
    fn write_all_bytes(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Half-closes after the session's last message (FIN for TCP, EOF + close for SSH).
    fn close_write(&mut self);
    /// Terminal height if the transport knows it (SSH pty-req / window-change). Telnet
    /// streams learn it from NAWS instead.
    fn window_height(&self) -> Option<u16> {
        None
    }
}

impl VtyStream for TcpStream {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }
    fn write_all_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_all(bytes)
    }
    fn close_write(&mut self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }
}

/// The logical router an in-band session was opened on (the address the connection arrived
/// on): the session is confined to that tenant and shows that router's view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterScope {
    pub tenant: String,
    pub router: String,
}

/// How a stream is served.
pub struct VtyOptions {
    /// Line name for `show users` and the audit log (`vty 3`, `ssh 1`, `vty-J 0`).
    pub line: String,
    /// The peer's address (`10.0.0.10:40312`).
    pub peer: String,
    /// Telnet framing: send our option negotiation and strip IAC sequences from input.
    pub telnet: bool,
    /// In-band sessions: the router the connection arrived on.
    pub scope: Option<RouterScope>,
}

/// A new, not yet logged-in session for a front end. With a scope the session is confined to
/// that router's tenant (see [`Session::new`] for the unscoped one).
pub fn new_session(ctx: Arc<ShellContext>, opts: &VtyOptions) -> Session {
    let mut session = Session::new(ctx, &opts.line, &opts.peer);
    session.state.scope = opts.scope.clone();
    session
}

/// Why a connection ends.
#[derive(Debug)]
enum End {
    Closed,
    Timeout,
    /// The login deadline passed.
    LoginTimeout,
    /// Evicted while logging in, to make room for a newer connection.
    Evicted,
    Protocol(String),
    Io,
}

impl From<io::Error> for End {
    fn from(_: io::Error) -> End {
        End::Io
    }
}

/// A connection that has not logged in yet.
pub(crate) struct PendingSlot {
    pub(crate) id: u64,
    /// Last input, in ms since [`VtyLines::epoch`].
    pub(crate) active_ms: AtomicU64,
    pub(crate) evicted: AtomicBool,
}

/// Line accounting shared by every remote front end: connections still logging in (at most
/// `throttle.pending_max`; a further one evicts the least recently active) and logged-in
/// sessions (at most `max_sessions`).
pub struct VtyLines {
    epoch: Instant,
    pending: Mutex<Vec<Arc<PendingSlot>>>,
    /// Logged-in remote sessions.
    authed: AtomicUsize,
    next_id: AtomicU64,
}

impl Default for VtyLines {
    fn default() -> Self {
        VtyLines {
            epoch: Instant::now(),
            pending: Mutex::new(Vec::new()),
            authed: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
        }
    }
}

impl VtyLines {
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Logged-in remote sessions now.
    pub fn logged_in(&self) -> usize {
        self.authed.load(Ordering::SeqCst)
    }

    /// Connections logging in now.
    pub fn pending(&self) -> usize {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Registers a new pending connection; when `max` are pending already, evicts the least
    /// recently active one first (its session notices within one read wait) and says so.
    pub(crate) fn admit(&self, max: usize) -> (Arc<PendingSlot>, bool) {
        let slot = Arc::new(PendingSlot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            active_ms: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
        });
        let mut g = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = false;
        if g.len() >= max.max(1) {
            if let Some(i) = (0..g.len()).min_by_key(|&i| (g[i].active_ms.load(Ordering::Relaxed), g[i].id)) {
                let old = g.swap_remove(i);
                old.evicted.store(true, Ordering::SeqCst);
                evicted = true;
            }
        }
        g.push(slot.clone());
        (slot, evicted)
    }

    /// The connection logged in or ended: no longer pending.
    pub(crate) fn leave_pending(&self, id: u64) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p.id != id);
    }

    /// Takes one logged-in line; false when all `max` are taken.
    pub(crate) fn take_line(&self, max: usize) -> bool {
        if self.authed.fetch_add(1, Ordering::SeqCst) >= max {
            self.authed.fetch_sub(1, Ordering::SeqCst);
            return false;
        }
        true
    }

    pub(crate) fn release_line(&self) {
        self.authed.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection: stream, protocol state, pending input bytes.
struct Conn<'a> {
    stream: &'a mut dyn VtyStream,
    /// Telnet framing, or None for a raw stream.
    parser: Option<TelnetParser>,
    pending: std::collections::VecDeque<u8>,
    last_activity: Instant,
    /// Idle limit (zero: none).
    idle: Duration,
    stop: Option<Arc<AtomicBool>>,
    /// While logging in: this connection's entry among the pending ones.
    login_slot: Option<Arc<PendingSlot>>,
    lines: Arc<VtyLines>,
}

impl Conn<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.stream.write_all_bytes(bytes)?;
        Ok(())
    }

    fn write_text(&mut self, text: &str) -> Result<(), End> {
        let mut out = Vec::with_capacity(text.len() + 16);
        push_crlf(&mut out, text);
        self.write(&out)
    }

    fn evicted(&self) -> bool {
        self.login_slot.as_ref().is_some_and(|p| p.evicted.load(Ordering::SeqCst))
    }

    /// Next data byte; ends on close, idle timeout or a protocol error.
    fn next_byte(&mut self, deadline: Option<Instant>) -> Result<u8, End> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Ok(b);
            }
            if self.stop.as_ref().is_some_and(|s| s.load(Ordering::Relaxed)) {
                return Err(End::Closed);
            }
            if self.evicted() {
                return Err(End::Evicted);
            }
            let now = Instant::now();
            if !self.idle.is_zero() && now.duration_since(self.last_activity) >= self.idle {
                return Err(End::Timeout);
            }
            if deadline.is_some_and(|d| now >= d) {
                return Err(End::LoginTimeout);
            }
            let mut buf = [0u8; 512];
            match self.stream.read_some(&mut buf) {
                Ok(0) => return Err(End::Closed),
                Ok(n) => {
                    self.last_activity = Instant::now();
                    if let Some(p) = &self.login_slot {
                        p.active_ms.store(self.lines.now_ms(), Ordering::Relaxed);
                    }
                    match &mut self.parser {
                        Some(parser) => {
                            let mut data = Vec::with_capacity(n);
                            let mut reply = Vec::new();
                            parser
                                .input(&buf[..n], &mut data, &mut reply)
                                .map_err(|e| End::Protocol(format!("broken telnet sequence ({e})")))?;
                            if !reply.is_empty() {
                                self.write(&reply)?;
                            }
                            self.pending.extend(data);
                        }
                        None => self.pending.extend(&buf[..n]),
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => return Err(End::Io),
            }
        }
    }

    /// Reads a line with the editor; `Ok(None)` for Ctrl-C/Ctrl-Z handled by the caller.
    fn read_line(
        &mut self,
        editor: &mut LineEditor,
        prompt: &str,
        completer: &dyn LineCompleter,
        deadline: Option<Instant>,
    ) -> Result<EditEvent, End> {
        self.write(prompt.as_bytes())?;
        editor.start(prompt);
        let mut out = Vec::new();
        loop {
            let b = self.next_byte(deadline)?;
            out.clear();
            let ev = editor.feed(b, completer, &mut out);
            if !out.is_empty() {
                self.write(&out)?;
            }
            match ev {
                EditEvent::None => {}
                EditEvent::TooLong => {
                    return Err(End::Protocol(format!("line longer than {MAX_LINE} characters")))
                }
                EditEvent::Garbage => return Err(End::Protocol("binary or control input".into())),
                other => return Ok(other),
            }
        }
    }

    /// Writes output, pausing with ` --More-- ` every `page` lines (0: no paging).
    fn page(&mut self, text: &str, page: usize) -> Result<(), End> {
        if page == 0 {
            return self.write_text(text);
        }
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut shown = 0;
        let mut budget = page.saturating_sub(1).max(1);
        while shown < lines.len() {
            let end = (shown + budget).min(lines.len());
            let chunk: String = lines[shown..end].concat();
            self.write_text(&chunk)?;
            shown = end;
            if shown >= lines.len() {
                break;
            }
            self.write(b" --More-- ")?;
            // NUL and LF are the tails of a telnet CR NUL / CR LF Enter: not keys.
            let mut key = self.next_byte(None)?;
            while key == 0 || key == b'\n' {
                key = self.next_byte(None)?;
            }
            self.write(
                b"\x08\x08\x08\x08\x08\x08\x08\x08\x08\x08          \x08\x08\x08\x08\x08\x08\x08\x08\x08\x08",
            )?;
            match key {
                b' ' => budget = page.saturating_sub(1).max(1),
                b'\r' => budget = 1,
                _ => return Ok(()),
            }
        }
        Ok(())
    }

    /// Lines per screen: `terminal length`, else the NAWS / pty height, else 24.
    fn page_length(&self, session: &Session) -> usize {
        let height = self
            .parser
            .as_ref()
            .map(|p| p.height)
            .filter(|&h| h > 0)
            .or_else(|| self.stream.window_height().filter(|&h| h > 0));
        match (session.state.term_length, height) {
            (Some(n), _) => n,
            (None, Some(h)) => h as usize,
            (None, None) => 24,
        }
    }
}

struct SessionCompleter<'a>(&'a Session);

impl LineCompleter for SessionCompleter<'_> {
    fn complete(&self, line: &str) -> (usize, Vec<String>) {
        self.0.complete(line)
    }
    fn help(&self, line: &str) -> String {
        self.0.help(line)
    }
}

/// A connection counted among those waiting to log in ([`admit_login`]), handed to
/// [`serve_admitted`]. Dropped unused, it gives its place back.
pub struct PendingLogin {
    slot: Option<Arc<PendingSlot>>,
    lines: Arc<VtyLines>,
}

impl Drop for PendingLogin {
    fn drop(&mut self) {
        if let Some(s) = self.slot.take() {
            self.lines.leave_pending(s.id);
        }
    }
}

/// Counts a new connection from `peer` among those waiting to log in, evicting the least
/// recently active one (audited) when all `throttle.pending_max` places are taken. Accept
/// loops call it as they accept, so connections are admitted (and evicted) in arrival order.
pub fn admit_login(ctx: &ShellContext, peer: &str) -> PendingLogin {
    let (slot, evicted) = ctx.lines.admit(ctx.throttle.pending_max);
    if evicted {
        ctx.audit.log(
            "SEC_LOGIN",
            crate::audit::Severity::Warning,
            "LOGIN_EVICTED",
            "",
            peer,
            format!(
                "{} connections waiting to log in: the least recently active one was closed to admit {peer}",
                ctx.throttle.pending_max
            ),
        );
    }
    PendingLogin { slot: Some(slot), lines: ctx.lines.clone() }
}

/// Serves one connection to its end on the calling thread. `session` comes from
/// [`new_session`]; if it is logged in already (SSH authenticated it) the login dialogue is
/// skipped. `stop` (optional) ends the session at its next read wait.
pub fn serve(
    ctx: Arc<ShellContext>,
    stream: &mut dyn VtyStream,
    session: Session,
    opts: &VtyOptions,
    stop: Option<Arc<AtomicBool>>,
) {
    let pending = (!session.logged_in()).then(|| admit_login(&ctx, &opts.peer));
    serve_admitted(ctx, stream, session, opts, stop, pending)
}

/// [`serve`] for a connection its accept loop already admitted ([`admit_login`]).
pub fn serve_admitted(
    ctx: Arc<ShellContext>,
    stream: &mut dyn VtyStream,
    mut session: Session,
    opts: &VtyOptions,
    stop: Option<Arc<AtomicBool>>,
    mut pending: Option<PendingLogin>,
) {
    let peer = opts.peer.clone();
    let idle = ctx.exec_timeout;
    let lines = ctx.lines.clone();
    // A logged-in session holds no pending place (the guard's drop gives it back).
    let login_slot = if session.logged_in() { None } else { pending.as_mut().and_then(|p| p.slot.take()) };
    drop(pending);
    let slot_id = login_slot.as_ref().map(|s| s.id);
    let mut conn = Conn {
        stream,
        parser: opts.telnet.then(TelnetParser::new),
        pending: Default::default(),
        last_activity: Instant::now(),
        idle,
        stop,
        login_slot,
        lines: lines.clone(),
    };
    let login_deadline = Instant::now() + ctx.throttle.login_timeout;
    let mut authed = false;
    let result = run(&mut conn, &mut session, login_deadline, &mut authed);
    if let Some(id) = slot_id {
        lines.leave_pending(id);
    }
    if authed {
        lines.release_line();
    }
    let line = &opts.line;
    let reason = match &result {
        Ok(()) | Err(End::Closed) => "logout".to_string(),
        Err(End::Timeout) => {
            let _ = conn.write_text("\n% Session idle timeout: logged out.\n");
            format!("exec-timeout after {} seconds", idle.as_secs())
        }
        Err(End::Protocol(msg)) => {
            let _ = conn.write_text(&format!("\n% Closing session: {msg}.\n"));
            ctx.audit.refused(
                &session.state.user.name,
                &peer,
                &format!("{} input ({msg}); session closed", if opts.telnet { "telnet" } else { "terminal" }),
            );
            format!("closed: {msg}")
        }
        Err(End::Io) => "connection lost".to_string(),
        Err(End::LoginTimeout) => {
            let secs = ctx.throttle.login_timeout.as_secs();
            let _ = conn.write_text(&format!("\n% Login timed out after {secs} seconds\n"));
            audit_login_timeout(&ctx, &peer, line);
            "login timeout".to_string()
        }
        Err(End::Evicted) => {
            let _ = conn.write_text("\n% Login timed out: too many connections are waiting to log in\n");
            "evicted while logging in".to_string()
        }
    };
    session.logout(&reason);
    // Close gracefully: FIN first, then discard what the peer still sends for a moment, so
    // unread input does not turn the close into a reset that eats our last message.
    conn.stream.close_write();
    let until = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while Instant::now() < until && drained < (1 << 20) {
        match conn.stream.read_some(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
    }
}

/// Audits a connection that did not log in within `throttle.login_timeout` (every front end).
pub(crate) fn audit_login_timeout(ctx: &ShellContext, peer: &str, line: &str) {
    let secs = ctx.throttle.login_timeout.as_secs();
    ctx.audit.log(
        "SEC_LOGIN",
        crate::audit::Severity::Warning,
        "LOGIN_TIMEOUT",
        "",
        peer,
        format!("Login timed out after {secs} seconds [user: ] [Source: {peer}] [line: {line}]"),
    );
}

fn login_blocked_text(left: Duration) -> String {
    format!(
        "% Login blocked: too many failed logins from your address; try again in {} seconds\n",
        left.as_secs().max(1)
    )
}

/// The session: login dialogue (until `deadline`) unless logged in already, then commands.
/// Sets `authed` once it holds one of the logged-in lines.
fn run(conn: &mut Conn, session: &mut Session, deadline: Instant, authed: &mut bool) -> Result<(), End> {
    if conn.parser.is_some() {
        conn.write(&NEGOTIATION)?;
    }
    let mut editor = LineEditor::new(MAX_LINE);
    if !session.logged_in() {
        if !session.users_defined() {
            conn.write_text("\n% Password required, but none set\n")?;
            return Ok(());
        }
        conn.write_text("\nUser Access Verification\n\n")?;
        let mut logged_in = false;
        for _ in 0..LOGIN_ATTEMPTS {
            if let Some(left) = session.login_blocked() {
                conn.write_text(&login_blocked_text(left))?;
                return Ok(());
            }
            editor.completion = false;
            editor.echo = true;
            let user = match conn.read_line(&mut editor, "Username: ", &NoCompletion, Some(deadline))? {
                EditEvent::Line(l) => l,
                EditEvent::Eof => return Ok(()),
                _ => {
                    conn.write(b"\r\n")?;
                    continue;
                }
            };
            conn.write(b"\r\n")?;
            editor.echo = false;
            let pass = match conn.read_line(&mut editor, "Password: ", &NoCompletion, Some(deadline))? {
                EditEvent::Line(l) => l,
                EditEvent::Eof => return Ok(()),
                _ => String::new(),
            };
            conn.write(b"\r\n")?;
            match session.login(user.trim(), &pass) {
                LoginResult::Ok => {
                    logged_in = true;
                    break;
                }
                LoginResult::Failed { delay } => {
                    std::thread::sleep(delay);
                    conn.write_text("% Login invalid\n\n")?;
                }
                LoginResult::Denied { message } => {
                    conn.write_text(&format!("{message}\n"))?;
                    return Ok(());
                }
            }
        }
        if !logged_in {
            match session.login_blocked() {
                Some(left) => conn.write_text(&login_blocked_text(left))?,
                None => conn.write_text("% Bad passwords\n")?,
            }
            return Ok(());
        }
    }
    // A logged-in line: no longer pending; refused when all are taken.
    if let Some(slot) = conn.login_slot.take() {
        conn.lines.leave_pending(slot.id);
    }
    if !conn.lines.take_line(session.ctx.max_sessions) {
        conn.write_text("% All vty lines are busy, try again later\n")?;
        return Ok(());
    }
    *authed = true;
    editor.echo = true;
    editor.completion = true;
    conn.write(b"\r\n")?;
    while !session.closed() {
        let prompt = session.prompt();
        let ev = {
            let completer = SessionCompleter(session);
            conn.read_line(&mut editor, &prompt, &completer, None)?
        };
        match ev {
            EditEvent::Line(line) => {
                conn.write(b"\r\n")?;
                let out = session.execute(&line);
                if !out.text.is_empty() {
                    let page = if out.pageable { conn.page_length(session) } else { 0 };
                    conn.page(&out.text, page)?;
                }
            }
            // Ctrl-Z / Ctrl-C leave configuration modes, as on IOS.
            EditEvent::EndConfig | EditEvent::Interrupt if session.state.mode != Mode::Exec => {
                session.state.mode = Mode::Exec;
                session.state.interface = None;
                session.state.vrf_context = None;
            }
            EditEvent::Eof => break,
            _ => {}
        }
    }
    Ok(())
}
