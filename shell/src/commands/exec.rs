//! Session and mode commands: `enable`, `disable`, `configure terminal`, `exit`, `end`,
//! `logout`, `terminal length`, `routing-context vrf`, and the small `show`s about the session
//! and the box (`show version`, `clock`, `users`, `privilege`, `aliases`).

use super::{CmdError, CmdResult, Exec, Handler};
use crate::clock;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use std::time::SystemTime;

const ALL_MODES: &[Mode] = &[Mode::Exec, Mode::Config, Mode::ConfigIf, Mode::ConfigVrf];
const CONFIG_MODES: &[Mode] = &[Mode::Config, Mode::ConfigIf, Mode::ConfigVrf];
const EXEC: &[Mode] = &[Mode::Exec];

pub(crate) const SHOW: (&str, &str) = ("show", "Show running system information");

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef {
            modes: EXEC,
            path: &[("enable", "Turn on privileged commands")],
            privilege: 1,
            handler: enable,
        },
        CommandDef {
            modes: EXEC,
            path: &[("disable", "Turn off privileged commands")],
            privilege: 1,
            handler: disable,
        },
        CommandDef {
            modes: EXEC,
            path: &[("configure", "Enter configuration mode"), ("terminal", "Configure from the terminal")],
            privilege: 15,
            handler: configure,
        },
        CommandDef {
            modes: ALL_MODES,
            path: &[("exit", "Exit from the EXEC / current mode")],
            privilege: 1,
            handler: exit,
        },
        CommandDef { modes: EXEC, path: &[("logout", "Exit from the EXEC")], privilege: 1, handler: logout },
        CommandDef { modes: EXEC, path: &[("quit", "Exit from the EXEC")], privilege: 1, handler: logout },
        CommandDef {
            modes: CONFIG_MODES,
            path: &[("end", "Exit from configure mode")],
            privilege: 15,
            handler: end,
        },
        CommandDef {
            modes: EXEC,
            path: &[
                ("terminal", "Set terminal line parameters"),
                ("length", "Set number of lines on a screen"),
                ("n:<0-512>", "Number of lines on screen (0 for no pausing)"),
            ],
            privilege: 1,
            handler: terminal_length,
        },
        CommandDef {
            modes: EXEC,
            path: &[
                ("terminal", "Set terminal line parameters"),
                ("no", "Negate a command or set its defaults"),
                ("length", "Set number of lines on a screen"),
            ],
            privilege: 1,
            handler: terminal_length,
        },
        // Accepted as IOS does (Netmiko sends `terminal width 511`); output is not wrapped.
        CommandDef {
            modes: EXEC,
            path: &[
                ("terminal", "Set terminal line parameters"),
                ("width", "Set width of the display terminal"),
                ("w:<0-512>", "Number of characters on a screen line"),
            ],
            privilege: 1,
            handler: terminal_width,
        },
        CommandDef {
            modes: EXEC,
            path: &[
                ("routing-context", "Set the default VRF of show, ping and traceroute"),
                ("vrf", "Select a VRF (tenant)"),
                ("vrf:VRF", "VRF name, or 'global'"),
            ],
            privilege: 1,
            handler: routing_context,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("version", "System hardware and software status")],
            privilege: 1,
            handler: show_version,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("clock", "Display the system clock")],
            privilege: 1,
            handler: show_clock,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("users", "Display information about terminal lines")],
            privilege: 1,
            handler: show_users,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("privilege", "Show current privilege level")],
            privilege: 1,
            handler: show_privilege,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("aliases", "Display your command aliases")],
            privilege: 1,
            handler: show_aliases,
        },
    ]
}

fn enable(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    if ex.s.user.max_privilege >= 15 {
        ex.s.privilege = 15;
        Ok(())
    } else {
        Err(ex.refuse(
            &format!("'enable' (user {} limited to privilege {})", ex.s.user.name, ex.s.user.max_privilege),
            "% Error in authentication.",
        ))
    }
}

fn disable(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.s.privilege = ex.s.privilege.min(1);
    Ok(())
}

fn configure(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.s.mode = Mode::Config;
    ex.line("Enter configuration commands, one per line.  End with CNTL/Z.");
    Ok(())
}

fn exit(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    match ex.s.mode {
        Mode::Exec => ex.s.closed = true,
        Mode::Config => ex.s.mode = Mode::Exec,
        Mode::ConfigIf | Mode::ConfigVrf => {
            ex.s.mode = Mode::Config;
            ex.s.interface = None;
            ex.s.vrf_context = None;
        }
    }
    Ok(())
}

fn logout(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.s.closed = true;
    Ok(())
}

/// `end` and Ctrl-Z: back to privileged exec.
pub fn end(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.s.mode = Mode::Exec;
    ex.s.interface = None;
    ex.s.vrf_context = None;
    Ok(())
}

fn terminal_length(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    if args.has("no") {
        ex.s.term_length = None;
        return Ok(());
    }
    let n = args.get("n").and_then(|n| n.parse().ok()).unwrap_or(24);
    ex.s.term_length = Some(n);
    Ok(())
}

/// `terminal width N`: accepted; vnswitch does not wrap its output.
fn terminal_width(_: &mut Exec<'_>, _: &Args) -> CmdResult {
    Ok(())
}

fn routing_context(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let v = args.get("vrf").unwrap_or("global");
    if v == "global" {
        ex.s.routing_context = None;
        return Ok(());
    }
    ex.check_tenant(v, &format!("routing-context vrf {v}"))?;
    ex.s.routing_context = Some(v.to_string());
    Ok(())
}

fn show_version(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    let host = ex.ctx.hostname.clone();
    let workers = ex.ctx.stats.as_ref().map_or(0, |s| s.workers().len());
    let topo = ex.topo.clone();
    let image =
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "vnswitch".into());
    ex.line(format!(
        "vnswitch Software (vnswitch-{}), Version {}, RELEASE SOFTWARE",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION")
    ));
    ex.line("Technical Support: see the project README");
    ex.line("Copyright (c) the vnswitch authors, MIT license");
    ex.line("");
    ex.line("");
    ex.line("ROM: not applicable (userspace appliance)");
    ex.line("");
    ex.line(format!("{host} uptime is {}", clock::uptime(ex.ctx.started.elapsed())));
    ex.line("System returned to ROM by process start");
    ex.line(format!("System image file is \"{image}\""));
    ex.line("Last reload reason: process start");
    ex.line("");
    ex.line(format!("vnswitch (AF_XDP userspace switch) with {workers} forwarding workers"));
    ex.line(format!("{} Ethernet interfaces", visible_ports(ex, &topo)));
    if ex.s.user.admin {
        ex.line(format!("{} tenants, {} logical routers", topo.tenants.len(), topo.routers.len()));
    }
    ex.line("");
    ex.line("Configuration register is 0x0");
    Ok(())
}

fn visible_ports(ex: &Exec<'_>, topo: &rib::topology::Topology) -> usize {
    topo.ports.iter().filter(|p| ex.s.can_see_port(topo, &p.name)).count()
}

fn show_clock(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line(clock::show_clock(SystemTime::now()));
    Ok(())
}

fn show_users(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line("    Line       User       Host(s)              Idle       Location");
    let me = ex.s.registry_id;
    let mut sessions = ex.ctx.sessions.list();
    sessions.sort_by_key(|s| (!s.line.starts_with("con"), s.id));
    for s in sessions {
        // Tenant users see only their own sessions.
        if !ex.s.user.admin && s.user != ex.s.user.name {
            continue;
        }
        let number = match s.line.strip_prefix("vty ") {
            Some(n) => n.parse::<usize>().map_or(0, |n| n + 2),
            None => 0,
        };
        let idle = s.last_active.elapsed().as_secs();
        let idle = format!("{:02}:{:02}:{:02}", idle / 3600, idle / 60 % 60, idle % 60);
        let marker = if s.id == me { '*' } else { ' ' };
        let user = if s.user.is_empty() { "(login)".to_string() } else { s.user.clone() };
        let location = crate::session::source_host(&s.source);
        ex.line(format!("{marker}{number:>3} {:<10}{user:<11}{:<21}{idle:<11}{location}", s.line, "idle"));
    }
    ex.line("");
    ex.line("  Interface    User               Mode         Idle     Peer Address");
    Ok(())
}

fn show_privilege(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line(format!("Current privilege level is {}", ex.s.privilege));
    Ok(())
}

fn show_aliases(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    if ex.s.user.aliases.is_empty() {
        return Err(CmdError::Message(format!("% No aliases defined for user {}", ex.s.user.name)));
    }
    ex.line("Exec mode aliases:");
    let aliases = ex.s.user.aliases.clone();
    for (a, e) in aliases {
        ex.line(format!("  {a:<20}{e}"));
    }
    Ok(())
}
