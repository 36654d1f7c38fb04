//! The substrate under the tenants' virtual networks, for administrators only: `show substrate`
//! (nodes with their VTEP address per plane; links with their ends, latency, bandwidth, money,
//! reliability, plane and state), `show substrate paths [tenant T]` (per tenant and remote
//! node: the route manager's chosen links, plane, uplink, VTEPs, next hop and why), and the
//! configuration command `substrate link NAME down|up` (sent to the RIB thread, which moves the
//! tenants' tunnels and republishes). Tenant users are refused and the refusal is audited:
//! a tenant sees its logical view, never the substrate.

use super::{CmdError, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::{SubstratePathView, SubstrateView};

const EXEC: &[Mode] = &[Mode::Exec];
const SUBSTRATE: (&str, &str) = ("substrate", "Substrate nodes, links and tenant paths (administrators)");
const PATHS: (&str, &str) = ("paths", "Substrate path of every tenant tunnel");
const TENANT: (&str, &str) = ("tenant", "Paths of one tenant");
const TENANT_NAME: (&str, &str) = ("tenant:VRF", "Tenant (VRF) name");
const CSUBSTRATE: (&str, &str) = ("substrate", "Substrate configuration (administrators)");
const LINK: (&str, &str) = ("link", "Set a substrate link's state (route manager input)");
const LINK_NAME: (&str, &str) = ("link:WORD", "Substrate link name (see show substrate)");

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef { modes: EXEC, path: &[SHOW, SUBSTRATE], privilege: 1, handler: show_substrate },
        CommandDef { modes: EXEC, path: &[SHOW, SUBSTRATE, PATHS], privilege: 1, handler: show_paths },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, SUBSTRATE, PATHS, TENANT, TENANT_NAME],
            privilege: 1,
            handler: show_paths,
        },
        CommandDef {
            modes: &[Mode::Config],
            path: &[CSUBSTRATE, LINK, LINK_NAME, ("down", "Take the link down: tunnels avoid it")],
            privilege: 15,
            handler: substrate_link,
        },
        CommandDef {
            modes: &[Mode::Config],
            path: &[CSUBSTRATE, LINK, LINK_NAME, ("up", "Bring the link back up")],
            privilege: 15,
            handler: substrate_link,
        },
    ]
}

/// `show substrate` text.
pub fn render_substrate(v: &SubstrateView) -> String {
    let mut s = String::new();
    if v.nodes.is_empty() {
        s.push_str("No substrate configured.\n");
        return s;
    }
    s.push_str("Substrate nodes\n");
    s.push_str(&format!("{:<18}{:<17}{:<17}{}\n", "Node", "Address", "Fast VTEP", "Slow VTEP"));
    for n in &v.nodes {
        let name = if n.local { format!("{} (local)", n.name) } else { n.name.clone() };
        s.push_str(&format!(
            "{:<18}{:<17}{:<17}{}\n",
            name,
            n.address.to_string(),
            n.fast_address.to_string(),
            n.slow_address
        ));
    }
    s.push('\n');
    s.push_str("Substrate links\n");
    s.push_str(&format!(
        "{:<16}{:<12}{:<12}{:>12}{:>10}{:>6}{:>13} {:<6}{}\n",
        "Link", "A", "B", "Latency(us)", "BW(Mb/s)", "Cost", "Reliability", "Plane", "State"
    ));
    for l in &v.links {
        let state = match (&l.up, &l.down_reason) {
            (true, _) => "up".to_string(),
            (false, Some(r)) => match r.strip_prefix(&format!("link {} ", l.name)).unwrap_or(r) {
                d if d.starts_with("down") => d.to_string(),
                other => format!("unusable ({other})"),
            },
            (false, None) => "down".to_string(),
        };
        s.push_str(&format!(
            "{:<16}{:<12}{:<12}{:>12}{:>10}{:>6}{:>13.4} {:<6}{}\n",
            l.name,
            l.a,
            l.b,
            l.latency_us,
            l.bandwidth_mbps,
            l.cost,
            l.reliability,
            if l.fast { "fast" } else { "slow" },
            state
        ));
    }
    s
}

/// `show substrate paths` text: per tenant, per remote node.
pub fn render_paths(paths: &[SubstratePathView]) -> String {
    let mut s = String::new();
    if paths.is_empty() {
        s.push_str("No tenant has hosts on remote substrate nodes.\n");
        return s;
    }
    let mut tenant: Option<&str> = None;
    for p in paths {
        if tenant != Some(p.tenant.as_str()) {
            if tenant.is_some() {
                s.push('\n');
            }
            s.push_str(&format!("Tenant {}\n", p.tenant));
            tenant = Some(p.tenant.as_str());
        }
        if p.links.is_empty() {
            s.push_str(&format!("  to {} (tunnel {}): no path\n", p.node, p.tunnel.0));
        } else {
            s.push_str(&format!("  to {} (tunnel {}): path {}\n", p.node, p.tunnel.0, p.links.join(" > ")));
            s.push_str(&format!(
                "    plane {}, uplink {}, VTEP {} -> {}, inner MTU {}\n",
                p.plane.map_or("-", |x| x.name()),
                p.uplink.as_deref().unwrap_or("-"),
                p.local_vtep.map_or("-".into(), |a| a.to_string()),
                p.remote_vtep.map_or("-".into(), |a| a.to_string()),
                p.inner_mtu.map_or("-".into(), |m| m.to_string()),
            ));
            let nh = p.next_hop.map_or("-".into(), |a| a.to_string());
            match p.next_hop_mac {
                Some(m) => s.push_str(&format!("    next hop {nh} resolved ({})\n", super::ios_mac(m))),
                None => s.push_str(&format!("    next hop {nh} unresolved (ARP pending)\n")),
            }
        }
        s.push_str(&format!("    why: {}\n", p.reason));
    }
    s
}

fn show_substrate(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("show substrate")?;
    let v = ex.ctx.rib.substrate().map_err(Exec::rib_err)?;
    ex.out.push_str(&render_substrate(&v));
    Ok(())
}

fn show_paths(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let tenant = args.get("tenant");
    let what = match tenant {
        Some(t) => format!("show substrate paths tenant {t}"),
        None => "show substrate paths".to_string(),
    };
    ex.require_admin(&what)?;
    if let Some(t) = tenant {
        ex.check_tenant(t, &what)?;
    }
    let paths = ex.ctx.rib.substrate_paths(tenant).map_err(Exec::rib_err)?;
    ex.out.push_str(&render_paths(&paths));
    Ok(())
}

fn substrate_link(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let name = args.get("link").unwrap_or("").to_string();
    let up = args.has("up");
    let what = format!("substrate link {name} {}", if up { "up" } else { "down" });
    ex.require_admin(&what)?;
    ex.ctx.rib.set_substrate_link(&name, up).map_err(|e| match e {
        rib::RibError::NoSuchLink(n) => CmdError::Message(format!("% Substrate link {n} does not exist")),
        other => Exec::rib_err(other),
    })?;
    ex.ctx.audit.log(
        "SUBSTRATE",
        crate::audit::Severity::Notice,
        "LINK",
        &ex.s.user.name,
        &ex.s.source,
        format!("Substrate link {name} set {} by {}", if up { "up" } else { "down" }, ex.s.user.name),
    );
    Ok(())
}
