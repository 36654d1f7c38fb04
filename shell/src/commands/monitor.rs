//! Packet capture, IOS Embedded Packet Capture style (privileged exec):
//!
//! - `monitor capture NAME interface IFACE [match ip A B] [limit N]` defines a capture point
//!   (frames received and transmitted on IFACE, optionally only IPv4 between A and B either
//!   way, at most N frames);
//! - `monitor capture NAME start|stop`, `no monitor capture NAME`;
//! - `show monitor capture [NAME [buffer]]` lists captures or prints the captured frames;
//! - `monitor capture NAME export FILE` writes the frames as a pcap file (`tcpdump -r`).
//!
//! The data plane has one capture point (`switch::capture::Capture`), so one capture runs at
//! a time; its frames are drained into the capture's buffer here. Tenant users may name only
//! their own tenants' interfaces, see and export only captures on them, and export only to a
//! plain file name, written under `<capture dir>/<tenant>/` (default
//! [`DEFAULT_CAPTURE_DIR`]); administrators may give any path. Refusals are audited.

use super::{CmdError, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::topology::PortBinding;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Mutex;
use switch::capture::{CaptureFilter, CapturedFrame, Direction};

/// Where tenant users' exports go unless the binary says otherwise: `DIR/<tenant>/FILE`.
pub const DEFAULT_CAPTURE_DIR: &str = "/var/lib/vnswitch/captures";

const EXEC: &[Mode] = &[Mode::Exec];
const MONITOR: (&str, &str) = ("monitor", "Monitoring different system events");
const CAPTURE: (&str, &str) = ("capture", "Monitor Capture point");
const NAME: (&str, &str) = ("name:WORD", "Name of the capture");
const INTERFACE: (&str, &str) = ("interface", "Capture frames received and transmitted on an interface");
const IFACE: (&str, &str) = ("iface:IFACE", "Interface name");
const MATCH: (&str, &str) = ("match", "Describe filters inline");
const IP: (&str, &str) = ("ip", "IPv4 packets between two addresses, either direction");
const A: (&str, &str) = ("a:IPV4", "One end's IPv4 address");
const B: (&str, &str) = ("b:IPV4", "The other end's IPv4 address");
const LIMIT: (&str, &str) = ("limit", "Limit the number of captured frames");
const N: (&str, &str) = ("limit:<1-1000000>", "Frames to capture");

pub fn commands() -> Vec<CommandDef<Handler>> {
    let def = |path: &'static [(&'static str, &'static str)], handler: Handler| CommandDef {
        modes: EXEC,
        path,
        privilege: 15,
        handler,
    };
    vec![
        def(&[MONITOR, CAPTURE, NAME, INTERFACE, IFACE], define),
        def(&[MONITOR, CAPTURE, NAME, INTERFACE, IFACE, LIMIT, N], define),
        def(&[MONITOR, CAPTURE, NAME, INTERFACE, IFACE, MATCH, IP, A, B], define),
        def(&[MONITOR, CAPTURE, NAME, INTERFACE, IFACE, MATCH, IP, A, B, LIMIT, N], define),
        def(&[MONITOR, CAPTURE, NAME, ("start", "Enable the capture")], start),
        def(&[MONITOR, CAPTURE, NAME, ("stop", "Disable the capture")], stop),
        def(
            &[
                MONITOR,
                CAPTURE,
                NAME,
                ("export", "Export the captured frames as a pcap file"),
                (
                    "file:WORD",
                    "File name (tenant users: a plain name, written under the capture directory's <tenant>/)",
                ),
            ],
            export,
        ),
        def(&[("no", "Negate a command or set its defaults"), MONITOR, CAPTURE, NAME], delete),
        CommandDef { modes: EXEC, path: &[SHOW, MONITOR, CAPTURE], privilege: 1, handler: show_list },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, MONITOR, CAPTURE, NAME, ("buffer", "Captured frames")],
            privilege: 1,
            handler: show_buffer,
        },
    ]
}

/// State of a named capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Inactive,
    Active,
}

/// One named capture and what it caught.
#[derive(Debug)]
pub struct CaptureSession {
    pub interface: String,
    pub filter: CaptureFilter,
    pub state: State,
    pub frames: Vec<CapturedFrame>,
    /// Frames lost because the ring was full.
    pub dropped: u64,
}

/// The shell's named captures (one may be active: the data plane has one capture point).
#[derive(Debug, Default)]
pub struct CaptureRegistry {
    inner: Mutex<BTreeMap<String, CaptureSession>>,
}

impl CaptureRegistry {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, CaptureSession>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Moves what the data plane captured into the active session; marks it inactive when the
/// data plane stopped (limit reached).
fn sync(ex: &Exec<'_>, map: &mut BTreeMap<String, CaptureSession>) {
    let Some(cap) = ex.ctx.capture.as_ref() else { return };
    if let Some(s) = map.values_mut().find(|s| s.state == State::Active) {
        cap.drain(&mut s.frames);
        let st = cap.status();
        s.dropped = st.dropped;
        if !st.active {
            cap.drain(&mut s.frames);
            s.state = State::Inactive;
        }
    }
}

fn no_such(name: &str) -> CmdError {
    CmdError::Message(format!("% Capture point {name} does not exist"))
}

/// The capture's interface must be visible to the user (refused and audited otherwise).
fn check_visible(ex: &Exec<'_>, s: &CaptureSession, what: &str) -> CmdResult {
    ex.check_port(&s.interface, what)
}

fn define(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let iface = args.get("iface").unwrap_or_default().to_string();
    let what = format!("monitor capture {name} interface {iface}");
    ex.check_port(&iface, &what)?;
    let Some(port) = ex.topo.port_by_name(&iface).map(|p| p.id) else {
        return Err(CmdError::Message(format!("% Interface {iface} does not exist")));
    };
    let between = match (args.get("a"), args.get("b")) {
        (Some(a), Some(b)) => match (a.parse::<Ipv4Addr>(), b.parse::<Ipv4Addr>()) {
            (Ok(a), Ok(b)) => Some((a, b)),
            _ => return Err(CmdError::Message("% Invalid IPv4 address".into())),
        },
        _ => None,
    };
    let capacity = ex.ctx.capture.as_ref().map_or(switch::capture::DEFAULT_RING_FRAMES, |c| c.capacity());
    let limit = match args.get("limit") {
        Some(n) => n.parse::<u64>().unwrap_or(0),
        None => capacity as u64,
    };
    if limit == 0 || limit > capacity as u64 {
        return Err(CmdError::Message(format!("% Limit must be between 1 and {capacity} frames")));
    }
    let mut map = ex.ctx.captures.lock();
    sync(ex, &mut map);
    if let Some(old) = map.get(&name) {
        check_visible(ex, old, &what)?;
        if old.state == State::Active {
            return Err(CmdError::Message(format!("% Capture point {name} is active; stop it first")));
        }
    }
    map.insert(
        name,
        CaptureSession {
            interface: iface,
            filter: CaptureFilter { port, between, limit },
            state: State::Inactive,
            frames: Vec::new(),
            dropped: 0,
        },
    );
    Ok(())
}

fn start(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let Some(cap) = ex.ctx.capture.clone() else {
        return Err(CmdError::Message("% Packet capture is not available (no workers)".into()));
    };
    let mut map = ex.ctx.captures.lock();
    sync(ex, &mut map);
    let Some(s) = map.get(&name) else { return Err(no_such(&name)) };
    check_visible(ex, s, &format!("monitor capture {name} start"))?;
    if let Some((other, _)) = map.iter().find(|(_, s)| s.state == State::Active) {
        return Err(CmdError::Message(format!("% Capture point {other} is already active")));
    }
    let Some(s) = map.get_mut(&name) else { return Err(no_such(&name)) };
    cap.start(s.filter).map_err(|e| CmdError::Message(format!("% {e}")))?;
    s.frames.clear();
    s.dropped = 0;
    s.state = State::Active;
    ex.line(format!("Started capture point : {name}"));
    Ok(())
}

fn stop(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let mut map = ex.ctx.captures.lock();
    sync(ex, &mut map);
    let Some(s) = map.get(&name) else { return Err(no_such(&name)) };
    check_visible(ex, s, &format!("monitor capture {name} stop"))?;
    let Some(s) = map.get_mut(&name) else { return Err(no_such(&name)) };
    if s.state == State::Active {
        if let Some(cap) = ex.ctx.capture.as_ref() {
            cap.stop();
            cap.drain(&mut s.frames);
            s.dropped = cap.status().dropped;
        }
        s.state = State::Inactive;
    }
    let (n, d) = (s.frames.len(), s.dropped);
    ex.line(format!("Stopped capture point : {name}"));
    ex.line(format!("Captured {n} frames, {d} dropped (buffer full)"));
    Ok(())
}

fn delete(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let mut map = ex.ctx.captures.lock();
    sync(ex, &mut map);
    let Some(s) = map.get(&name) else { return Err(no_such(&name)) };
    check_visible(ex, s, &format!("no monitor capture {name}"))?;
    if s.state == State::Active {
        if let Some(cap) = ex.ctx.capture.as_ref() {
            cap.stop();
        }
    }
    map.remove(&name);
    Ok(())
}

/// A plain file name: no directory part, no `..`, not empty, not hidden.
fn plain_file_name(f: &str) -> bool {
    !f.is_empty() && !f.contains('/') && !f.contains("..") && !f.starts_with('.') && !f.contains('\0')
}

fn export(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let file = args.get("file").unwrap_or_default().to_string();
    let what = format!("monitor capture {name} export {file}");
    let mut map = ex.ctx.captures.lock();
    sync(ex, &mut map);
    let Some(s) = map.get(&name) else { return Err(no_such(&name)) };
    check_visible(ex, s, &what)?;
    let path = if ex.s.user.admin {
        PathBuf::from(&file)
    } else {
        if !plain_file_name(&file) {
            return Err(ex.refuse(
                &format!("'{what}' (tenant users export to a plain file name)"),
                "% Access denied: export to a plain file name (no '/' or '..'); it is written to your tenant's capture directory.",
            ));
        }
        let tenant = match ex.topo.port_by_name(&s.interface).map(|p| &p.binding) {
            Some(PortBinding::Access { tenant, .. }) => {
                ex.topo.tenants.get(tenant.index()).map(|t| t.name.clone()).unwrap_or_default()
            }
            _ => String::new(),
        };
        if tenant.is_empty() {
            return Err(CmdError::Message("% Capture interface has no tenant".into()));
        }
        let dir = ex.ctx.capture_dir.join(tenant);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CmdError::Message(format!("% Cannot create {}: {e}", dir.display())))?;
        dir.join(&file)
    };
    let out = std::fs::File::create(&path)
        .map_err(|e| CmdError::Message(format!("% Cannot write {}: {e}", path.display())))?;
    switch::capture::write_pcap(&s.frames, std::io::BufWriter::new(out))
        .map_err(|e| CmdError::Message(format!("% Export failed: {e}")))?;
    let n = s.frames.len();
    drop(map);
    ex.line(format!("Exported {n} frames to {}", path.display()));
    Ok(())
}

/// One capture in `show monitor capture`.
#[derive(Serialize)]
struct CaptureSummary {
    name: String,
    state: State,
    interface: String,
    #[serde(rename = "match")]
    between: Option<(Ipv4Addr, Ipv4Addr)>,
    limit: u64,
    frames: usize,
    dropped: u64,
}

fn show_list(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    let list: Vec<CaptureSummary> = {
        let mut map = ex.ctx.captures.lock();
        sync(ex, &mut map);
        map.iter()
            .filter(|(_, s)| ex.s.can_see_port(&ex.topo, &s.interface))
            .map(|(n, s)| CaptureSummary {
                name: n.clone(),
                state: s.state,
                interface: s.interface.clone(),
                between: s.filter.between,
                limit: s.filter.limit,
                frames: s.frames.len(),
                dropped: s.dropped,
            })
            .collect()
    };
    ex.render(&list, |ex, list| {
        for c in list {
            let state = match c.state {
                State::Active => "Active",
                State::Inactive => "Inactive",
            };
            ex.line(format!("Status Information for Capture {}", c.name));
            ex.line(format!("  Target Type:\n   Interface: {}, Direction: BOTH", c.interface));
            match c.between {
                Some((a, b)) => ex.line(format!("   Filter Details:\n    IPv4 {a} <-> {b}")),
                None => ex.line("   Filter Details:\n    Capture all packets"),
            }
            ex.line(format!("  Buffer Details:\n   Frames: {}, dropped: {}", c.frames, c.dropped));
            ex.line(format!("  Limit Details:\n   Number of Packets to capture: {}", c.limit));
            ex.line(format!("  Status : {state}"));
        }
    })
}

/// One frame in `show monitor capture NAME buffer`.
#[derive(Serialize)]
struct FrameView {
    index: usize,
    /// Seconds since the first frame.
    time: f64,
    /// Unix time in microseconds.
    timestamp_us: u128,
    direction: &'static str,
    size: u32,
    protocol: String,
    source: String,
    destination: String,
    ttl: Option<u8>,
    info: String,
}

/// A short decode of an Ethernet frame: protocol, source, destination, TTL, info.
fn decode(b: &[u8]) -> (String, String, String, Option<u8>, String) {
    let mac = |o: usize| {
        b.get(o..o + 6)
            .map(|m| m.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":"))
            .unwrap_or_default()
    };
    let (dst_mac, src_mac) = (mac(0), mac(6));
    let be16 = |o: usize| b.get(o..o + 2).map(|x| u16::from_be_bytes([x[0], x[1]]));
    let mut off = 12;
    let mut et = be16(off).unwrap_or(0);
    if et == 0x8100 {
        off += 4;
        et = be16(off).unwrap_or(0);
    }
    let l3 = off + 2;
    let ip4 = |o: usize| b.get(o..o + 4).map(|x| Ipv4Addr::new(x[0], x[1], x[2], x[3]).to_string());
    match et {
        0x0806 => {
            let op = be16(l3 + 6).unwrap_or(0);
            let (spa, tpa) = (ip4(l3 + 14).unwrap_or_default(), ip4(l3 + 24).unwrap_or_default());
            let info = match op {
                1 => format!("who-has {tpa} tell {spa}"),
                2 => format!("{spa} is-at {}", mac(l3 + 8)),
                _ => format!("op {op}"),
            };
            ("ARP".into(), src_mac, dst_mac, None, info)
        }
        0x0800 => {
            let Some(h) = b.get(l3..l3 + 20) else {
                return ("IPv4".into(), src_mac, dst_mac, None, "truncated".into());
            };
            let (ttl, proto) = (h[8], h[9]);
            let (src, dst) = (ip4(l3 + 12).unwrap_or_default(), ip4(l3 + 16).unwrap_or_default());
            let l4 = l3 + ((h[0] & 0x0f) as usize) * 4;
            let (name, info) = match proto {
                1 => {
                    let (t, c) = (b.get(l4).copied().unwrap_or(0), b.get(l4 + 1).copied().unwrap_or(0));
                    let seq = be16(l4 + 6).unwrap_or(0);
                    let info = match t {
                        0 => format!("echo reply, seq {seq}"),
                        8 => format!("echo request, seq {seq}"),
                        11 => "time exceeded".into(),
                        3 => format!("unreachable, code {c}"),
                        _ => format!("type {t}, code {c}"),
                    };
                    ("ICMP", info)
                }
                6 => ("TCP", format!("{} > {}", be16(l4).unwrap_or(0), be16(l4 + 2).unwrap_or(0))),
                17 => ("UDP", format!("{} > {}", be16(l4).unwrap_or(0), be16(l4 + 2).unwrap_or(0))),
                p => ("IPv4", format!("protocol {p}")),
            };
            (name.into(), src, dst, Some(ttl), info)
        }
        other => (format!("0x{other:04x}"), src_mac, dst_mac, None, String::new()),
    }
}

fn show_buffer(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("name").unwrap_or_default().to_string();
    let frames: Vec<FrameView> = {
        let mut map = ex.ctx.captures.lock();
        sync(ex, &mut map);
        let Some(s) = map.get(&name) else { return Err(no_such(&name)) };
        check_visible(ex, s, &format!("show monitor capture {name} buffer"))?;
        let t0 = s.frames.first().map(|f| f.ts).unwrap_or_default();
        s.frames
            .iter()
            .enumerate()
            .map(|(index, f)| {
                let (protocol, source, destination, ttl, info) = decode(f.bytes());
                FrameView {
                    index,
                    time: f.ts.saturating_sub(t0).as_secs_f64(),
                    timestamp_us: f.ts.as_micros(),
                    direction: match f.dir {
                        Direction::Rx => "in",
                        Direction::Tx => "out",
                    },
                    size: f.orig_len,
                    protocol,
                    source,
                    destination,
                    ttl,
                    info,
                }
            })
            .collect()
    };
    ex.render(&frames, |ex, frames| {
        ex.line(" ------------------------------------------------------------------------------------");
        ex.line("    #  time       dir  size  source           destination      proto  ttl  info");
        ex.line(" ------------------------------------------------------------------------------------");
        for f in frames {
            let ttl = f.ttl.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
            ex.line(format!(
                "{:>5}  {:<9.6}  {:<3}  {:<4}  {:<15}  {:<15}  {:<5}  {:>3}  {}",
                f.index, f.time, f.direction, f.size, f.source, f.destination, f.protocol, ttl, f.info
            ));
        }
    })
}
