//! The telnet front end: one std thread per TCP session (capped), option negotiation (WILL
//! ECHO, WILL SUPPRESS-GO-AHEAD, DO NAWS), IAC stripping including subnegotiation, the login
//! dialogue, the [`crate::editor::LineEditor`] over the shared command tree, `--More--` paging
//! and the idle timeout. Malformed input ends only its own session, with a message.
//!
//! Connections that have not logged in are accounted apart from logged-in sessions, so they
//! cannot take the lines operators need: at most `throttle.pending_max` of them at once (a
//! further connection evicts the least recently active one), each must finish logging in
//! within `throttle.login_timeout`, and a source blocked after repeated failures is refused.
//! Logged-in sessions are capped by `max_sessions`.

use crate::editor::{push_crlf, EditEvent, LineCompleter, LineEditor, NoCompletion};
use crate::session::{LoginResult, Mode, Session, MAX_LINE};
use crate::ShellContext;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const IAC: u8 = 255;
pub const DONT: u8 = 254;
pub const DO: u8 = 253;
pub const WONT: u8 = 252;
pub const WILL: u8 = 251;
pub const SB: u8 = 250;
pub const GA: u8 = 249;
pub const EL: u8 = 248;
pub const EC: u8 = 247;
pub const AYT: u8 = 246;
pub const AO: u8 = 245;
pub const IP: u8 = 244;
pub const BRK: u8 = 243;
pub const NOP: u8 = 241;
pub const SE: u8 = 240;
pub const OPT_ECHO: u8 = 1;
pub const OPT_SGA: u8 = 3;
pub const OPT_NAWS: u8 = 31;

/// Longest subnegotiation accepted.
const SB_MAX: usize = 64;
/// Login attempts per connection.
const LOGIN_ATTEMPTS: usize = 3;

/// Our initial negotiation.
pub const NEGOTIATION: [u8; 9] = [IAC, WILL, OPT_ECHO, IAC, WILL, OPT_SGA, IAC, DO, OPT_NAWS];

/// A telnet protocol violation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelnetError {
    #[error("subnegotiation too long")]
    SubnegotiationTooLong,
    #[error("invalid IAC {0} inside a subnegotiation")]
    BadSubnegotiation(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    /// After WILL/WONT/DO/DONT: waiting for the option.
    Opt(u8),
    Sb,
    SbIac,
}

/// Strips telnet commands from a byte stream, answers negotiation and tracks the window
/// size. I/O-free.
pub struct TelnetParser {
    state: State,
    sb: Vec<u8>,
    /// Window size from NAWS.
    pub width: u16,
    pub height: u16,
    /// Options the client asked for that we already refused (answer once).
    refused: [bool; 256],
}

impl Default for TelnetParser {
    fn default() -> Self {
        Self::new()
    }
}

impl TelnetParser {
    pub fn new() -> TelnetParser {
        TelnetParser { state: State::Data, sb: Vec::new(), width: 80, height: 0, refused: [false; 256] }
    }

    /// Processes input bytes: data bytes go to `data`, replies to `reply`.
    pub fn input(
        &mut self,
        bytes: &[u8],
        data: &mut Vec<u8>,
        reply: &mut Vec<u8>,
    ) -> Result<(), TelnetError> {
        for &b in bytes {
            match self.state {
                State::Data => {
                    if b == IAC {
                        self.state = State::Iac;
                    } else {
                        data.push(b);
                    }
                }
                State::Iac => {
                    self.state = State::Data;
                    match b {
                        IAC => data.push(IAC),
                        WILL | WONT | DO | DONT => self.state = State::Opt(b),
                        SB => {
                            self.sb.clear();
                            self.state = State::Sb;
                        }
                        IP | BRK => data.push(0x03),
                        EC => data.push(0x7f),
                        EL => data.push(0x15),
                        AYT => reply.extend_from_slice(b"\r\n[Yes]\r\n"),
                        _ => {} // NOP, GA, DM, AO, SE out of place: ignored.
                    }
                }
                State::Opt(cmd) => {
                    self.state = State::Data;
                    self.negotiate(cmd, b, reply);
                }
                State::Sb => {
                    if b == IAC {
                        self.state = State::SbIac;
                    } else {
                        if self.sb.len() >= SB_MAX {
                            return Err(TelnetError::SubnegotiationTooLong);
                        }
                        self.sb.push(b);
                    }
                }
                State::SbIac => match b {
                    IAC => {
                        if self.sb.len() >= SB_MAX {
                            return Err(TelnetError::SubnegotiationTooLong);
                        }
                        self.sb.push(IAC);
                        self.state = State::Sb;
                    }
                    SE => {
                        self.state = State::Data;
                        self.subnegotiation();
                    }
                    other => return Err(TelnetError::BadSubnegotiation(other)),
                },
            }
        }
        Ok(())
    }

    fn negotiate(&mut self, cmd: u8, opt: u8, reply: &mut Vec<u8>) {
        match (cmd, opt) {
            // Acknowledgements of what we offered.
            (DO, OPT_ECHO | OPT_SGA) | (WILL, OPT_NAWS) => {}
            (WILL, OPT_SGA) => {} // Client suppresses go-ahead too: fine.
            // Refuse anything else, once per option (no negotiation loops).
            (DO | WILL, o) if !self.refused[o as usize] => {
                self.refused[o as usize] = true;
                reply.extend_from_slice(&[IAC, if cmd == DO { WONT } else { DONT }, o]);
            }
            _ => {} // WONT/DONT: nothing to undo that matters.
        }
    }

    fn subnegotiation(&mut self) {
        if self.sb.first() == Some(&OPT_NAWS) && self.sb.len() == 5 {
            self.width = u16::from_be_bytes([self.sb[1], self.sb[2]]);
            self.height = u16::from_be_bytes([self.sb[3], self.sb[4]]);
        }
    }
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

/// One connection: socket, protocol state, pending input bytes.
struct Conn {
    stream: TcpStream,
    parser: TelnetParser,
    pending: std::collections::VecDeque<u8>,
    last_activity: Instant,
    /// Idle limit (zero: none).
    idle: Duration,
    stop: Arc<AtomicBool>,
    /// While logging in: this connection's entry among the pending ones.
    login_slot: Option<Arc<PendingSlot>>,
    lines: Arc<Lines>,
}

impl Conn {
    fn write(&mut self, bytes: &[u8]) -> Result<(), End> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    fn write_text(&mut self, text: &str) -> Result<(), End> {
        let mut out = Vec::with_capacity(text.len() + 16);
        push_crlf(&mut out, text);
        self.write(&out)
    }

    /// Next data byte; ends on close, idle timeout or a protocol error.
    fn next_byte(&mut self, deadline: Option<Instant>) -> Result<u8, End> {
        loop {
            if let Some(b) = self.pending.pop_front() {
                return Ok(b);
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(End::Closed);
            }
            if self.login_slot.as_ref().is_some_and(|p| p.evicted.load(Ordering::SeqCst)) {
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
            match self.stream.read(&mut buf) {
                // An evicted connection's read side is shut down: it reads end of file.
                Ok(0) if self.login_slot.as_ref().is_some_and(|p| p.evicted.load(Ordering::SeqCst)) => {
                    return Err(End::Evicted)
                }
                Ok(0) => return Err(End::Closed),
                Ok(n) => {
                    self.last_activity = Instant::now();
                    if let Some(p) = &self.login_slot {
                        p.active_ms.store(self.lines.now_ms(), Ordering::Relaxed);
                    }
                    let mut data = Vec::with_capacity(n);
                    let mut reply = Vec::new();
                    self.parser
                        .input(&buf[..n], &mut data, &mut reply)
                        .map_err(|e| End::Protocol(format!("broken telnet sequence ({e})")))?;
                    if !reply.is_empty() {
                        self.write(&reply)?;
                    }
                    self.pending.extend(data);
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

/// A connection that has not logged in yet.
struct PendingSlot {
    id: u64,
    /// A handle on the socket, to wake the session thread when evicted.
    stream: TcpStream,
    /// Last input, in ms since [`Lines::epoch`].
    active_ms: AtomicU64,
    evicted: AtomicBool,
}

/// Line accounting shared by the accept loop and the session threads.
struct Lines {
    epoch: Instant,
    pending: Mutex<Vec<Arc<PendingSlot>>>,
    /// Logged-in telnet sessions.
    authed: AtomicUsize,
    next_id: AtomicU64,
}

impl Lines {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers a new pending connection; when `max` are pending already, evicts the least
    /// recently active one first and returns its id.
    fn admit(&self, stream: TcpStream, max: usize) -> (Arc<PendingSlot>, Option<u64>) {
        let slot = Arc::new(PendingSlot {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            stream,
            active_ms: AtomicU64::new(self.now_ms()),
            evicted: AtomicBool::new(false),
        });
        let mut g = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let mut evicted = None;
        if g.len() >= max.max(1) {
            if let Some(i) = (0..g.len()).min_by_key(|&i| (g[i].active_ms.load(Ordering::Relaxed), g[i].id)) {
                let old = g.swap_remove(i);
                old.evicted.store(true, Ordering::SeqCst);
                // Wakes its blocked read (which then returns 0); it can still write its goodbye.
                let _ = old.stream.shutdown(std::net::Shutdown::Read);
                evicted = Some(old.id);
            }
        }
        g.push(slot.clone());
        (slot, evicted)
    }

    /// The connection logged in or ended: no longer pending.
    fn leave_pending(&self, id: u64) {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).retain(|p| p.id != id);
    }
}

/// Accept loop: one thread per connection; at most `ctx.max_sessions` logged-in sessions and
/// `ctx.throttle.pending_max` connections logging in (plus evicted ones on their way out).
pub(crate) fn accept_loop(ctx: Arc<ShellContext>, listener: TcpListener, stop: Arc<AtomicBool>) {
    let live = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(Lines {
        epoch: Instant::now(),
        pending: Mutex::new(Vec::new()),
        authed: AtomicUsize::new(0),
        next_id: AtomicU64::new(0),
    });
    let mut next_vty = 0usize;
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else { continue };
        // Threads: logged-in sessions, pending logins, and evicted ones still closing.
        let thread_cap = ctx.max_sessions + 2 * ctx.throttle.pending_max.max(1);
        if live.load(Ordering::SeqCst) >= thread_cap {
            let _ = stream.write_all(b"% All vty lines are busy, try again later\r\n");
            continue;
        }
        let Ok(handle) = stream.try_clone() else { continue };
        let (slot, evicted) = lines.admit(handle, ctx.throttle.pending_max);
        if evicted.is_some() {
            let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
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
        live.fetch_add(1, Ordering::SeqCst);
        let vty = next_vty;
        next_vty += 1;
        let ctx = ctx.clone();
        let live2 = live.clone();
        let stop2 = stop.clone();
        let lines2 = lines.clone();
        let slot_id = slot.id;
        let spawned = std::thread::Builder::new().name(format!("vty{vty}")).spawn(move || {
            let id = slot.id;
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                serve(ctx, stream, vty, stop2, slot, lines2.clone())
            }));
            let _ = r;
            lines2.leave_pending(id);
            live2.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            lines.leave_pending(slot_id);
            live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Serves one connection to the end.
fn serve(
    ctx: Arc<ShellContext>,
    stream: TcpStream,
    vty: usize,
    stop: Arc<AtomicBool>,
    slot: Arc<PendingSlot>,
    lines: Arc<Lines>,
) {
    let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let idle = ctx.exec_timeout;
    let mut conn = Conn {
        stream,
        parser: TelnetParser::new(),
        pending: Default::default(),
        last_activity: Instant::now(),
        idle,
        stop,
        login_slot: Some(slot),
        lines: lines.clone(),
    };
    let mut session = Session::new(ctx.clone(), &format!("vty {vty}"), &peer);
    let login_deadline = Instant::now() + ctx.throttle.login_timeout;
    let mut authed = false;
    let result = run(&mut conn, &mut session, login_deadline, &mut authed);
    if authed {
        lines.authed.fetch_sub(1, Ordering::SeqCst);
    }
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
                &format!("telnet input ({msg}); session closed"),
            );
            format!("closed: {msg}")
        }
        Err(End::Io) => "connection lost".to_string(),
        Err(End::LoginTimeout) => {
            let secs = ctx.throttle.login_timeout.as_secs();
            let _ = conn.write_text(&format!("\n% Login timed out after {secs} seconds\n"));
            ctx.audit.log(
                "SEC_LOGIN",
                crate::audit::Severity::Warning,
                "LOGIN_TIMEOUT",
                "",
                &peer,
                format!("Login timed out after {secs} seconds [user: ] [Source: {peer}] [line: vty {vty}]"),
            );
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
    let _ = conn.stream.shutdown(std::net::Shutdown::Write);
    let until = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while Instant::now() < until && drained < (1 << 20) {
        match conn.stream.read(&mut sink) {
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

/// The session: login dialogue (until `deadline`), then commands. Sets `authed` once it holds
/// one of the logged-in lines.
fn run(conn: &mut Conn, session: &mut Session, deadline: Instant, authed: &mut bool) -> Result<(), End> {
    conn.write(&NEGOTIATION)?;
    if !session.users_defined() {
        conn.write_text("\n% Password required, but none set\n")?;
        return Ok(());
    }
    conn.write_text("\nUser Access Verification\n\n")?;
    let mut editor = LineEditor::new(MAX_LINE);
    let mut logged_in = false;
    for _ in 0..LOGIN_ATTEMPTS {
        if let Some(left) = session.login_blocked() {
            conn.write_text(&format!(
                "% Login blocked: too many failed logins from your address; try again in {} seconds\n",
                left.as_secs().max(1)
            ))?;
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
        }
    }
    if !logged_in {
        if let Some(left) = session.login_blocked() {
            conn.write_text(&format!(
                "% Login blocked: too many failed logins from your address; try again in {} seconds\n",
                left.as_secs().max(1)
            ))?;
        } else {
            conn.write_text("% Bad passwords\n")?;
        }
        return Ok(());
    }
    // A logged-in line: no longer pending; refused when all are taken.
    if let Some(slot) = conn.login_slot.take() {
        conn.lines.leave_pending(slot.id);
    }
    let max = session.ctx.max_sessions;
    if conn.lines.authed.fetch_add(1, Ordering::SeqCst) >= max {
        conn.lines.authed.fetch_sub(1, Ordering::SeqCst);
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
                    let page = if out.pageable { page_length(session, &conn.parser) } else { 0 };
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

/// Lines per screen: `terminal length`, else the NAWS height, else 24.
fn page_length(session: &Session, parser: &TelnetParser) -> usize {
    match session.state.term_length {
        Some(n) => n,
        None if parser.height > 0 => parser.height as usize,
        None => 24,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strips_and_answers() {
        let mut p = TelnetParser::new();
        let (mut d, mut r) = (Vec::new(), Vec::new());
        let input = [
            b'a', IAC, DO, OPT_ECHO, IAC, DO, OPT_SGA, IAC, WILL, OPT_NAWS, IAC, SB, OPT_NAWS, 0, 120, 0, 40,
            IAC, SE, b'b', IAC, IAC, IAC, WILL, 24, IAC, WILL, 24, IAC, DO, 5, IAC, NOP, b'c',
        ];
        p.input(&input, &mut d, &mut r).unwrap();
        assert_eq!(d, vec![b'a', b'b', IAC, b'c']);
        assert_eq!(r, vec![IAC, DONT, 24, IAC, WONT, 5]);
        assert_eq!((p.width, p.height), (120, 40));
        // NAWS with an escaped 255 and split across reads.
        let (mut d, mut r) = (Vec::new(), Vec::new());
        p.input(&[IAC, SB, OPT_NAWS, 0, IAC], &mut d, &mut r).unwrap();
        p.input(&[IAC, 0, 50, IAC, SE, b'x'], &mut d, &mut r).unwrap();
        assert_eq!((p.width, p.height), (255, 50));
        assert_eq!(d, vec![b'x']);
        // Interrupt process becomes Ctrl-C.
        let (mut d, mut r) = (Vec::new(), Vec::new());
        p.input(&[IAC, IP, IAC, AYT], &mut d, &mut r).unwrap();
        assert_eq!(d, vec![0x03]);
        assert_eq!(r, b"\r\n[Yes]\r\n");
    }

    #[test]
    fn broken_sequences() {
        let mut p = TelnetParser::new();
        let (mut d, mut r) = (Vec::new(), Vec::new());
        assert_eq!(
            p.input(&[IAC, SB, 1, IAC, b'x'], &mut d, &mut r),
            Err(TelnetError::BadSubnegotiation(b'x'))
        );
        let mut p = TelnetParser::new();
        let mut long = vec![IAC, SB];
        long.extend(std::iter::repeat_n(7u8, 100));
        assert_eq!(p.input(&long, &mut d, &mut r), Err(TelnetError::SubnegotiationTooLong));
    }
}
