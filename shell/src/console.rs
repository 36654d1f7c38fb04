//! The local console: `rustyline` on a terminal (history, Tab completion through the shared
//! command tree, `?` bound to context help), plain line reading when stdin is not a terminal
//! (scripts pipe commands in). Output text is the same as over telnet.

use crate::session::{LoginResult, Mode, Session, User};
use crate::ShellContext;
use rustyline::completion::Completer;
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{
    Cmd, ConditionalEventHandler, Editor, Event, EventContext, EventHandler, KeyEvent, RepeatCount,
};
use std::io::{self, BufRead, IsTerminal, Write};
use std::sync::{Arc, Mutex};

/// rustyline helper over a session.
struct ShellHelper {
    session: Arc<Mutex<Session>>,
}

impl Completer for ShellHelper {
    type Candidate = String;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let s = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let (start, cands) = s.complete(&line[..pos.min(line.len())]);
        let cands = if cands.len() == 1 { vec![format!("{} ", cands[0])] } else { cands };
        Ok((start, cands))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}
impl Highlighter for ShellHelper {}
impl Validator for ShellHelper {}
impl rustyline::Helper for ShellHelper {}

/// `?` ends the edit and remembers the line, so the loop prints help and re-edits it.
struct HelpKey {
    pending: Arc<Mutex<Option<(String, usize)>>>,
}

impl ConditionalEventHandler for HelpKey {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext<'_>) -> Option<Cmd> {
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some((ctx.line().to_string(), ctx.pos()));
        Some(Cmd::AcceptLine)
    }
}

/// Runs the console until logout or end of input.
pub fn run(ctx: Arc<ShellContext>) -> io::Result<()> {
    let session = Session::new(ctx.clone(), "con 0", "console");
    if io::stdin().is_terminal() {
        run_tty(session)
    } else {
        run_plain(session, io::stdin().lock(), io::stdout())
    }
}

fn login_plain(session: &mut Session, input: &mut impl BufRead, out: &mut impl Write) -> io::Result<bool> {
    if !session.users_defined() {
        session.become_user(User::local_admin());
        return Ok(true);
    }
    write!(out, "\nUser Access Verification\n\n")?;
    for _ in 0..3 {
        write!(out, "Username: ")?;
        out.flush()?;
        let mut user = String::new();
        if input.read_line(&mut user)? == 0 {
            return Ok(false);
        }
        write!(out, "\nPassword: ")?;
        out.flush()?;
        let mut pass = String::new();
        if input.read_line(&mut pass)? == 0 {
            return Ok(false);
        }
        writeln!(out)?;
        match session.login(user.trim(), pass.trim_end_matches(['\r', '\n'])) {
            LoginResult::Ok => {
                writeln!(out)?;
                return Ok(true);
            }
            LoginResult::Failed { delay } => {
                std::thread::sleep(delay);
                write!(out, "% Login invalid\n\n")?;
            }
            LoginResult::Denied { message } => {
                writeln!(out, "{message}")?;
                return Ok(false);
            }
        }
    }
    writeln!(out, "% Bad passwords")?;
    Ok(false)
}

/// Line-by-line console for a non-terminal stdin: prompt, then the command's output.
pub fn run_plain(mut session: Session, mut input: impl BufRead, mut out: impl Write) -> io::Result<()> {
    if !login_plain(&mut session, &mut input, &mut out)? {
        return Ok(());
    }
    let mut line = String::new();
    while !session.closed() {
        write!(out, "{}", session.prompt())?;
        out.flush()?;
        line.clear();
        if input.read_line(&mut line)? == 0 {
            writeln!(out)?;
            break;
        }
        let cmd = line.trim_end_matches(['\r', '\n']);
        // Echo the command as a terminal would, so a transcript reads like a session.
        writeln!(out, "{cmd}")?;
        let result = session.execute(cmd);
        out.write_all(result.text.as_bytes())?;
    }
    session.logout("end of console input");
    Ok(())
}

fn run_tty(mut session: Session) -> io::Result<()> {
    let mut rl: Editor<ShellHelper, rustyline::history::DefaultHistory> =
        Editor::new().map_err(|e| io::Error::other(e.to_string()))?;
    // Login with rustyline prompts (the password is read without echo via termios).
    if session.users_defined() {
        println!("\nUser Access Verification\n");
        let mut ok = false;
        for _ in 0..3 {
            let user = match rl.readline("Username: ") {
                Ok(u) => u,
                Err(_) => return Ok(()),
            };
            let pass = read_password("Password: ")?;
            match session.login(user.trim(), &pass) {
                LoginResult::Ok => {
                    ok = true;
                    break;
                }
                LoginResult::Failed { delay } => {
                    std::thread::sleep(delay);
                    println!("% Login invalid\n");
                }
                LoginResult::Denied { message } => {
                    println!("{message}");
                    return Ok(());
                }
            }
        }
        if !ok {
            println!("% Bad passwords");
            return Ok(());
        }
    } else {
        session.become_user(User::local_admin());
    }
    let session = Arc::new(Mutex::new(session));
    let pending = Arc::new(Mutex::new(None));
    rl.set_helper(Some(ShellHelper { session: session.clone() }));
    rl.bind_sequence(
        KeyEvent::from('?'),
        EventHandler::Conditional(Box::new(HelpKey { pending: pending.clone() })),
    );
    let mut initial: Option<(String, String)> = None;
    loop {
        let prompt = session.lock().unwrap_or_else(|e| e.into_inner()).prompt();
        let read = match initial.take() {
            Some((l, r)) => rl.readline_with_initial(&prompt, (&l, &r)),
            None => rl.readline(&prompt),
        };
        match read {
            Ok(line) => {
                if let Some((text, pos)) = pending.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    let pos = pos.min(text.len());
                    let help = session.lock().unwrap_or_else(|e| e.into_inner()).help(&text[..pos]);
                    print!("{help}");
                    initial = Some((text[..pos].to_string(), text[pos..].to_string()));
                    continue;
                }
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
                let out = s.execute(&line);
                let page = if out.pageable { s.state.term_length.unwrap_or(24) } else { 0 };
                drop(s);
                page_tty(&out.text, page)?;
                if session.lock().unwrap_or_else(|e| e.into_inner()).closed() {
                    break;
                }
            }
            Err(ReadlineError::Interrupted) => {
                // Ctrl-C: in a configuration mode it returns to EXEC (as on a router); at the
                // EXEC prompt it stops the appliance, as the start-up banner says.
                let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
                if s.state.mode != Mode::Exec {
                    s.state.mode = Mode::Exec;
                    continue;
                }
                drop(s);
                println!("^C: stopping vnswitch");
                let _ = signal_hook::low_level::raise(signal_hook::consts::SIGINT);
                break;
            }
            Err(ReadlineError::Eof) => {
                let mut s = session.lock().unwrap_or_else(|e| e.into_inner());
                if s.state.mode == Mode::Exec {
                    break;
                }
                s.state.mode = Mode::Exec;
            }
            Err(e) => return Err(io::Error::other(e.to_string())),
        }
    }
    session.lock().unwrap_or_else(|e| e.into_inner()).logout("console logout");
    Ok(())
}

/// Reads one key from a terminal in raw mode (for `--More--`).
fn read_key() -> io::Result<u8> {
    use std::io::Read;
    let fd = libc::STDIN_FILENO;
    // SAFETY: termios is plain data; tcgetattr fills it for a valid fd and we check the result.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd is stdin and `old` is a valid, writable termios.
    if unsafe { libc::tcgetattr(fd, &mut old) } != 0 {
        return Ok(b' ');
    }
    let mut raw = old;
    raw.c_lflag &= !(libc::ICANON | libc::ECHO);
    // SAFETY: valid fd and termios value copied from tcgetattr.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) };
    let mut b = [0u8; 1];
    let r = io::stdin().read(&mut b);
    // SAFETY: restores the settings read above on the same fd.
    unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    r.map(|n| if n == 0 { b'q' } else { b[0] })
}

fn read_password(prompt: &str) -> io::Result<String> {
    let fd = libc::STDIN_FILENO;
    // Echo goes off before the prompt shows: a password typed (or sent by a script) as soon
    // as the prompt appears must never be echoed by the terminal.
    // SAFETY: termios is plain data filled by tcgetattr on stdin; result checked.
    let mut old: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, valid pointer.
    let have = unsafe { libc::tcgetattr(fd, &mut old) } == 0;
    if have {
        let mut raw = old;
        raw.c_lflag &= !libc::ECHO;
        // SAFETY: valid fd and termios.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &raw) };
    }
    print!("{prompt}");
    io::stdout().flush()?;
    let mut s = String::new();
    let r = io::stdin().lock().read_line(&mut s);
    if have {
        // SAFETY: restores the original settings.
        unsafe { libc::tcsetattr(fd, libc::TCSANOW, &old) };
    }
    println!();
    r?;
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

fn page_tty(text: &str, page: usize) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if page == 0 {
        out.write_all(text.as_bytes())?;
        return out.flush();
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut shown = 0;
    let mut budget = page.saturating_sub(1).max(1);
    while shown < lines.len() {
        let end = (shown + budget).min(lines.len());
        out.write_all(lines[shown..end].concat().as_bytes())?;
        shown = end;
        if shown >= lines.len() {
            break;
        }
        out.write_all(b" --More-- ")?;
        out.flush()?;
        let key = read_key()?;
        out.write_all(b"\r          \r")?;
        match key {
            b' ' => budget = page.saturating_sub(1).max(1),
            b'\r' | b'\n' => budget = 1,
            _ => break,
        }
    }
    out.flush()
}
