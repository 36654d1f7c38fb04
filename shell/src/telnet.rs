//! The telnet front end: the TCP accept loop (one std thread per session, capped) and the
//! protocol itself — option negotiation (WILL ECHO, WILL SUPPRESS-GO-AHEAD, DO NAWS), IAC
//! stripping including subnegotiation. The session over the connection (login, editor,
//! paging, timeouts, line accounting) is [`crate::vty`], shared with SSH and in-band telnet.
//! Malformed input ends only its own session, with a message.

use crate::vty::{self, VtyOptions};
use crate::ShellContext;
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

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

/// Accept loop: one thread per connection; at most `ctx.max_sessions` logged-in sessions and
/// `ctx.throttle.pending_max` connections logging in (plus evicted ones on their way out).
pub(crate) fn accept_loop(ctx: Arc<ShellContext>, listener: TcpListener, stop: Arc<AtomicBool>) {
    let live = Arc::new(AtomicUsize::new(0));
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
        live.fetch_add(1, Ordering::SeqCst);
        let vty = next_vty;
        next_vty += 1;
        let ctx = ctx.clone();
        let live2 = live.clone();
        let stop2 = stop.clone();
        let peer = stream.peer_addr().map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
        // Admitted here, in arrival order: eviction takes the oldest idle connection.
        let pending = vty::admit_login(&ctx, &peer);
        let spawned = std::thread::Builder::new().name(format!("vty{vty}")).spawn(move || {
            crate::lower_management_priority();
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
            let opts = VtyOptions { line: format!("vty {vty}"), peer, telnet: true, scope: None };
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let session = vty::new_session(ctx.clone(), &opts);
                vty::serve_admitted(ctx, &mut stream, session, &opts, Some(stop2), Some(pending));
            }));
            let _ = r;
            live2.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            live.fetch_sub(1, Ordering::SeqCst);
        }
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
