//! `ping [vrf T] ADDR [repeat N]` and `traceroute [vrf T] ADDR`, originated by the tenant's
//! logical router through the data plane's probe injector ([`crate::Prober`]), printed the way
//! IOS prints them (`!!!!!`, success rate, per-hop lines).

use super::{CmdError, CmdResult, Exec, Handler};
use crate::providers::{ProbeReply, ProbeSource};
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use std::net::Ipv4Addr;
use std::time::Duration;

const EXEC: &[Mode] = &[Mode::Exec];
const PING: (&str, &str) = ("ping", "Send echo messages");
const TRACE: (&str, &str) = ("traceroute", "Trace route to destination");
const VRF: (&str, &str) = ("vrf", "Select a VPN Routing/Forwarding instance");
const VRF_NAME: (&str, &str) = ("vrf:VRF", "VPN Routing/Forwarding instance name");
const ADDR: (&str, &str) = ("addr:IPV4", "Destination address");
const REPEAT: (&str, &str) = ("repeat", "specify repeat count");
const COUNT: (&str, &str) = ("count:<1-1000>", "repeat count");

/// Per-probe timeout.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Most hops traceroute tries.
pub const MAX_TTL: u8 = 30;

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef { modes: EXEC, path: &[PING, ADDR], privilege: 1, handler: ping },
        CommandDef { modes: EXEC, path: &[PING, ADDR, REPEAT, COUNT], privilege: 1, handler: ping },
        CommandDef { modes: EXEC, path: &[PING, VRF, VRF_NAME, ADDR], privilege: 1, handler: ping },
        CommandDef {
            modes: EXEC,
            path: &[PING, VRF, VRF_NAME, ADDR, REPEAT, COUNT],
            privilege: 1,
            handler: ping,
        },
        CommandDef { modes: EXEC, path: &[TRACE, ADDR], privilege: 1, handler: traceroute },
        CommandDef { modes: EXEC, path: &[TRACE, VRF, VRF_NAME, ADDR], privilege: 1, handler: traceroute },
    ]
}

/// The router of `tenant` that originates probes to `dst`: the one with an interface on the
/// destination's subnet, else the tenant's first router.
pub fn probe_source(topo: &rib::topology::Topology, tenant: &str, dst: Ipv4Addr) -> Option<ProbeSource> {
    let t = topo.tenant_by_name(tenant)?;
    let routers: Vec<&rib::topology::Router> = t.routers.iter().map(|r| topo.router(*r)).collect();
    let on_subnet =
        routers.iter().find_map(|r| r.interfaces.iter().find(|i| i.subnet.contains(dst)).map(|i| (*r, i)));
    let (router, iface) = match on_subnet {
        Some(x) => x,
        None => {
            let r = routers.first()?;
            (*r, r.interfaces.first()?)
        }
    };
    Some(ProbeSource {
        tenant: tenant.to_string(),
        tenant_id: t.id,
        router: router.name.clone(),
        router_id: router.id,
        source: iface.address,
    })
}

fn setup(ex: &Exec<'_>, args: &Args, verb: &str) -> Result<(ProbeSource, Ipv4Addr), CmdError> {
    let dst: Ipv4Addr = args
        .get("addr")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| CmdError::Message("% Unrecognized host or address.".into()))?;
    let tenant = ex.single_tenant(args, verb)?;
    let src = probe_source(&ex.topo, &tenant, dst)
        .ok_or_else(|| CmdError::Message(format!("% VRF {tenant} has no logical router")))?;
    if ex.ctx.prober.is_none() {
        return Err(CmdError::Message("% No data plane is running (no workers): cannot send probes.".into()));
    }
    Ok((src, dst))
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

fn ping(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let (src, dst) = setup(ex, args, "ping")?;
    let Some(prober) = ex.ctx.prober.clone() else { return Ok(()) };
    let count: u16 = args.get("count").and_then(|c| c.parse().ok()).unwrap_or(5);
    ex.line("Type escape sequence to abort.");
    ex.line(format!(
        "Sending {count}, 100-byte ICMP Echos to {dst}, timeout is {} seconds:",
        PROBE_TIMEOUT.as_secs()
    ));
    let mut marks = String::new();
    let mut rtts = Vec::new();
    for seq in 0..count {
        let reply = prober.probe(&src, dst, 64, seq, PROBE_TIMEOUT);
        marks.push(match reply {
            ProbeReply::Echo { rtt, .. } => {
                rtts.push(ms(rtt));
                '!'
            }
            ProbeReply::Unreachable { .. } => 'U',
            ProbeReply::TimeExceeded { .. } => '&',
            ProbeReply::Timeout => '.',
        });
        if marks.len() == 70 {
            ex.line(std::mem::take(&mut marks));
        }
    }
    if !marks.is_empty() {
        ex.line(marks);
    }
    let ok = rtts.len();
    let pct = ok * 100 / count.max(1) as usize;
    if ok == 0 {
        ex.line(format!("Success rate is {pct} percent (0/{count})"));
    } else {
        let min = rtts.iter().min().copied().unwrap_or(0);
        let max = rtts.iter().max().copied().unwrap_or(0);
        let avg = rtts.iter().sum::<u128>() / ok as u128;
        ex.line(format!(
            "Success rate is {pct} percent ({ok}/{count}), round-trip min/avg/max = {min}/{avg}/{max} ms"
        ));
    }
    Ok(())
}

fn traceroute(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let (src, dst) = setup(ex, args, "traceroute")?;
    let Some(prober) = ex.ctx.prober.clone() else { return Ok(()) };
    ex.line("Type escape sequence to abort.");
    ex.line(format!("Tracing the route to {dst}"));
    ex.line("VRF info: (vrf in name/id, vrf out name/id)");
    let mut seq: u16 = 1000;
    for ttl in 1..=MAX_TTL {
        let mut line = format!("{ttl:>3}");
        let mut shown: Option<Ipv4Addr> = None;
        let mut done = false;
        for _ in 0..3 {
            seq = seq.wrapping_add(1);
            let reply = prober.probe(&src, dst, ttl, seq, PROBE_TIMEOUT);
            let (from, rtt, flag) = match reply {
                ProbeReply::Echo { from, rtt } => {
                    done = true;
                    (from, rtt, "")
                }
                ProbeReply::TimeExceeded { from, rtt } => (from, rtt, ""),
                ProbeReply::Unreachable { from, code, rtt } => {
                    done = true;
                    (from, rtt, if code == 1 { " !H" } else { " !N" })
                }
                ProbeReply::Timeout => {
                    line.push_str(" * ");
                    continue;
                }
            };
            if shown != Some(from) {
                line.push_str(&format!(" {from}"));
                shown = Some(from);
            }
            line.push_str(&format!(" {} msec{flag}", ms(rtt)));
        }
        ex.line(line);
        if done {
            break;
        }
    }
    Ok(())
}
