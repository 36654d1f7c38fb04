//! The operator's active commands on the data plane: `traffic-shape rate BPS [burst BYTES]`
//! in interface mode (egress shaper of the port), `ip redirect [vrf T] A B` in config mode
//! (every frame of the tenant sent to A goes to B), their `no` forms, and
//! `show policy-map interface [IFACE]` (shaper conform/exceed counters, the tenants'
//! service-level shapers, egress priority classes). Changes go to the RIB, which publishes a
//! new FIB snapshot and keeps them in the running configuration (`write memory`).

use super::{CmdError, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::topology::schema::{PortRole, ShapeConfig};
use std::net::Ipv4Addr;

const IF: &[Mode] = &[Mode::ConfigIf];
const CONF: &[Mode] = &[Mode::Config, Mode::ConfigVrf];
const NO: (&str, &str) = ("no", "Negate a command or set its defaults");
const SHAPE: (&str, &str) = ("traffic-shape", "Enable traffic shaping (egress token bucket)");
const RATE: (&str, &str) = ("rate", "Configure the shaping rate");
const BPS: (&str, &str) = ("bps:<8000-400000000000>", "Target bit rate (bits per second)");
const BURST: (&str, &str) = ("burst", "Configure the burst size");
const BYTES: (&str, &str) = ("bytes:<1518-1073741824>", "Burst size in bytes (at least one frame)");
const IP: (&str, &str) = ("ip", "Global IP configuration subcommands");
const REDIRECT: (&str, &str) = ("redirect", "Deliver a component's traffic to another one");
const VRF: (&str, &str) = ("vrf", "Redirect inside a VPN Routing/Forwarding instance");
const VRF_NAME: (&str, &str) = ("vrf:VRF", "VPN Routing/Forwarding instance name");
const FROM: (&str, &str) = ("from:IPV4", "Address whose traffic is redirected");
const TO: (&str, &str) = ("to:IPV4", "Host that receives it instead");

pub fn commands() -> Vec<CommandDef<Handler>> {
    let mut v: Vec<CommandDef<Handler>> = vec![
        CommandDef { modes: IF, path: &[SHAPE, RATE, BPS], privilege: 15, handler: traffic_shape },
        CommandDef {
            modes: IF,
            path: &[SHAPE, RATE, BPS, BURST, BYTES],
            privilege: 15,
            handler: traffic_shape,
        },
        CommandDef { modes: IF, path: &[NO, SHAPE], privilege: 15, handler: traffic_shape },
        CommandDef { modes: IF, path: &[NO, SHAPE, RATE, BPS], privilege: 15, handler: traffic_shape },
        CommandDef {
            modes: &[Mode::Exec],
            path: &[
                SHOW,
                ("policy-map", "Show QoS policy map"),
                ("interface", "Show the policy of an interface (shapers, classes)"),
            ],
            privilege: 1,
            handler: show_policy_map,
        },
        CommandDef {
            modes: &[Mode::Exec],
            path: &[SHOW, ("policy-map", ""), ("interface", ""), ("iface:IFACE", "Interface name")],
            privilege: 1,
            handler: show_policy_map,
        },
        CommandDef {
            modes: &[Mode::Exec],
            path: &[SHOW, IP, ("redirect", "Destination redirects")],
            privilege: 1,
            handler: show_ip_redirect,
        },
    ];
    let forms: [&'static [(&'static str, &'static str)]; 6] = [
        &[IP, REDIRECT, FROM, TO],
        &[IP, REDIRECT, VRF, VRF_NAME, FROM, TO],
        &[NO, IP, REDIRECT, FROM],
        &[NO, IP, REDIRECT, FROM, TO],
        &[NO, IP, REDIRECT, VRF, VRF_NAME, FROM],
        &[NO, IP, REDIRECT, VRF, VRF_NAME, FROM, TO],
    ];
    for path in forms {
        v.push(CommandDef { modes: CONF, path, privilege: 15, handler: ip_redirect });
    }
    v
}

fn traffic_shape(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let Some(name) = ex.s.interface.clone() else {
        return Err(CmdError::Message("% No interface selected".into()));
    };
    let shape = if args.negated {
        None
    } else {
        let rate_bps = args.get("bps").and_then(|b| b.parse::<u64>().ok()).unwrap_or(0);
        let burst_bytes = args.get("bytes").and_then(|b| b.parse::<u32>().ok());
        Some(ShapeConfig { rate_bps, burst_bytes })
    };
    ex.ctx.rib.set_port_shape(&name, shape).map_err(Exec::rib_err)?;
    let what = match shape {
        Some(s) => format!("traffic-shape rate {}{}", s.rate_bps, burst_text(s.burst_bytes)),
        None => "no traffic-shape".into(),
    };
    ex.ctx.audit.log(
        "QOS",
        crate::audit::Severity::Notice,
        "CONFIG",
        &ex.s.user.name,
        &ex.s.source,
        format!("Interface {name}: {what}"),
    );
    Ok(())
}

fn burst_text(b: Option<u32>) -> String {
    b.map(|b| format!(" burst {b}")).unwrap_or_default()
}

fn ip_redirect(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let verb = if args.negated { "no ip redirect" } else { "ip redirect" };
    let tenant = match args.get("vrf") {
        Some(v) => {
            ex.check_tenant(v, &format!("{verb} vrf {v}"))?;
            v.to_string()
        }
        None => ex.single_tenant(args, verb)?,
    };
    let from: Ipv4Addr = args
        .get("from")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| CmdError::Message("% Invalid address".into()))?;
    let to: Option<Ipv4Addr> = args.get("to").and_then(|a| a.parse().ok());
    if !args.negated && to.is_none() {
        return Err(CmdError::Message("% Incomplete command.".into()));
    }
    let to = if args.negated { None } else { to };
    ex.ctx.rib.set_redirect(&tenant, from, to).map_err(Exec::rib_err)?;
    let what = match to {
        Some(to) => format!("ip redirect vrf {tenant} {from} {to}"),
        None => format!("no ip redirect vrf {tenant} {from}"),
    };
    ex.ctx.audit.log(
        "POLICY",
        crate::audit::Severity::Notice,
        "CONFIG",
        &ex.s.user.name,
        &ex.s.source,
        format!("{what} by {}", ex.s.user.name),
    );
    Ok(())
}

fn show_ip_redirect(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let tenants = ex.target_tenants(args, "show ip redirect")?;
    let file = ex.ctx.rib.running_config().map_err(Exec::rib_err)?;
    ex.line("VRF              From             To");
    for t in file.tenants.iter().filter(|t| tenants.contains(&t.name)) {
        for r in &t.redirects {
            ex.line(format!("{:<16} {:<16} {}", t.name, r.from.to_string(), r.to));
        }
    }
    if let Some(s) = ex.ctx.stats.as_ref() {
        if ex.s.user.admin {
            ex.line(format!("Frames redirected: {}", s.redirected()));
        }
    }
    Ok(())
}

/// `show policy-map interface [IFACE]`: per visible port its shaper (configured rate and
/// counters), its tenant's service-level shaper; for administrators the priority classes.
fn show_policy_map(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let file = ex.ctx.rib.running_config().map_err(Exec::rib_err)?;
    let only = args.get("iface");
    if let Some(name) = only {
        ex.check_port(name, &format!("show policy-map interface {name}"))?;
    }
    let stats = ex.ctx.stats.clone();
    let shapers = stats.as_ref().map(|s| s.port_shapers()).unwrap_or_default();
    for p in &file.ports {
        if only.is_some_and(|o| o != p.name) || !ex.s.can_see_port(&ex.topo, &p.name) {
            continue;
        }
        let tenant = match &p.role {
            PortRole::Access { tenant, .. } => Some(tenant.clone()),
            PortRole::Uplink { .. } => None,
        };
        ex.line(format!(" {}", p.name));
        ex.line("");
        ex.line("  Service-policy output: traffic-shape");
        ex.line("");
        let c = shapers.iter().find(|(n, _)| *n == p.name).map(|(_, c)| c.clone()).unwrap_or_default();
        match p.shape {
            Some(s) => {
                let fib = rib::Shape::new(s.rate_bps, s.burst_bytes);
                ex.line("    Class-map: class-default (match-any)");
                ex.line(format!(
                    "      {} packets, {} bytes",
                    c.conform_packets + c.exceed_packets,
                    c.conform_bytes + c.exceed_bytes
                ));
                ex.line("      Match: any");
                ex.line(format!(
                    "      shape (average) cir {}, bc {} bytes, queue limit {} packets per class",
                    s.rate_bps,
                    fib.burst_bytes,
                    switch::pipeline::schedule::CLASS_QUEUE_FRAMES
                ));
                ex.line(format!(
                    "        conformed {} packets, {} bytes; action: transmit",
                    c.conform_packets, c.conform_bytes
                ));
                ex.line(format!(
                    "        exceeded {} packets, {} bytes; action: queue",
                    c.exceed_packets, c.exceed_bytes
                ));
                ex.line(format!("        dropped {} packets, {} bytes", c.drop_packets, c.drop_bytes));
            }
            None => ex.line("    Class-map: class-default (match-any)\n      no shaping configured"),
        }
        if let Some(t) = tenant {
            tenant_shaper(ex, &file, &t);
        }
        ex.line("");
    }
    if ex.s.user.admin && only.is_none() {
        if let Some(s) = stats.as_ref() {
            ex.line(" Egress priority (all ports): per port a queue per class, served strict");
            ex.line(" platinum > gold > silver when the ring or shaper is full, gold every 4th and");
            ex.line(format!(
                " silver every 8th slot at least; queue limit {} packets per class",
                switch::pipeline::schedule::CLASS_QUEUE_FRAMES
            ));
            ex.line(format!(
                "  {:<10} {:>12} {:>14} {:>12} {:>12} {:>10} {:>10}",
                "Class", "Tx packets", "Tx bytes", "Queued", "Q drops", "Max depth", "Ring drops"
            ));
            for c in s.classes() {
                ex.line(format!(
                    "  {:<10} {:>12} {:>14} {:>12} {:>12} {:>10} {:>10}",
                    c.class,
                    c.tx_packets,
                    c.tx_bytes,
                    c.enqueued,
                    c.queue_dropped,
                    c.queue_high_water,
                    c.dropped
                ));
            }
        }
    }
    Ok(())
}

/// The service-level shaper of `tenant`, if its level has a rate.
fn tenant_shaper(ex: &mut Exec<'_>, file: &rib::topology::schema::TopologyFile, tenant: &str) {
    let Some((idx, t)) = file.tenants.iter().enumerate().find(|(_, t)| t.name == tenant) else { return };
    let Some(rate) =
        file.service_levels.iter().find(|s| s.level == t.service_level).and_then(|s| s.rate_mbps)
    else {
        return;
    };
    let c = ex.ctx.stats.as_ref().and_then(|s| s.tenant_shapers().get(idx).cloned()).unwrap_or_default();
    let level = format!("{:?}", t.service_level).to_lowercase();
    ex.line("");
    ex.line(format!("  Service-policy (vrf {tenant}, service-level {level}): shape average {} Mbit/s", rate));
    ex.line(format!("        queue limit {} packets", switch::pipeline::schedule::TENANT_QUEUE_FRAMES));
    ex.line(format!(
        "        conformed {} packets, {} bytes; action: transmit",
        c.conform_packets, c.conform_bytes
    ));
    ex.line(format!(
        "        exceeded {} packets, {} bytes; action: queue",
        c.exceed_packets, c.exceed_bytes
    ));
    ex.line(format!("        dropped {} packets, {} bytes", c.drop_packets, c.drop_bytes));
}
