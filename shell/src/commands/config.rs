//! Configuration as text and on disk: `show running-config` renders the RIB's running
//! configuration the IOS way (scoped to the user's tenants), `write memory` saves it in the
//! topology file format atomically (temp file, fsync, rename).

use super::{dotted_mask, CmdError, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::topology::schema::{PortRole, TopologyFile};

const EXEC: &[Mode] = &[Mode::Exec];

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("running-config", "Current operating configuration")],
            privilege: 1,
            handler: show_running_config,
        },
        CommandDef {
            modes: EXEC,
            path: &[("write", "Write running configuration to memory, network, or terminal")],
            privilege: 15,
            handler: write_memory,
        },
        CommandDef {
            modes: EXEC,
            path: &[("write", ""), ("memory", "Write to NV memory (the topology file)")],
            privilege: 15,
            handler: write_memory,
        },
        CommandDef {
            modes: EXEC,
            path: &[
                ("copy", "Copy from one file to another"),
                ("running-config", "Copy from current system configuration"),
                ("startup-config", "Copy to startup configuration (the topology file)"),
            ],
            privilege: 15,
            handler: write_memory,
        },
    ]
}

/// IOS-style text of a running configuration, keeping only what `visible` tenants own
/// (`None`: everything, the administrator's view).
pub fn render_running_config(file: &TopologyFile, visible: Option<&[String]>) -> String {
    let sees = |t: &str| visible.is_none_or(|v| v.iter().any(|x| x == t));
    let mut s = String::new();
    s.push_str("!\n");
    s.push_str(&format!("hostname {}\n", file.hostname));
    s.push_str("!\n");
    for t in file.tenants.iter().filter(|t| sees(&t.name)) {
        s.push_str(&format!("vrf definition {}\n", t.name));
        s.push_str(
            &format!(" description vni {} service-level {:?}\n", t.vni, t.service_level).to_lowercase(),
        );
        s.push_str(&format!(" rd 65000:{}\n", t.vni));
        s.push_str(" !\n address-family ipv4\n exit-address-family\n!\n");
    }
    for p in &file.ports {
        match &p.role {
            PortRole::Access { tenant, subnet, vlan } => {
                if !sees(tenant) {
                    continue;
                }
                s.push_str(&format!("interface {}\n", p.name));
                if visible.is_none() {
                    s.push_str(&format!(" description access {} ({})\n", tenant, p.device));
                } else {
                    // A tenant's view: the Linux device belongs to the substrate.
                    s.push_str(&format!(" description access {tenant}\n"));
                }
                if let Some(v) = vlan {
                    s.push_str(&format!(" encapsulation dot1Q {v}\n"));
                }
                s.push_str(&format!(" vrf forwarding {tenant}\n"));
                let gw = file
                    .tenants
                    .iter()
                    .filter(|t| &t.name == tenant)
                    .flat_map(|t| t.routers.iter())
                    .flat_map(|r| r.interfaces.iter())
                    .find(|i| i.subnet == *subnet);
                match gw {
                    Some(i) => {
                        s.push_str(&format!(" ip address {} {}\n", i.address, dotted_mask(subnet.len())))
                    }
                    None => s.push_str(" no ip address\n"),
                }
            }
            PortRole::Uplink { address, .. } => {
                if visible.is_some() {
                    continue;
                }
                s.push_str(&format!("interface {}\n", p.name));
                s.push_str(&format!(" description substrate uplink ({})\n", p.device));
                s.push_str(&format!(" ip address {address} 255.255.255.255\n"));
            }
        }
        if let Some(sh) = p.shape {
            s.push_str(&format!(" traffic-shape rate {}", sh.rate_bps));
            if let Some(b) = sh.burst_bytes {
                s.push_str(&format!(" burst {b}"));
            }
            s.push('\n');
        }
        s.push_str(if p.enabled { " no shutdown\n" } else { " shutdown\n" });
        s.push_str("!\n");
    }
    for t in file.tenants.iter().filter(|t| sees(&t.name)) {
        for r in &t.static_routes {
            s.push_str(&format!(
                "ip route vrf {} {} {} {}\n",
                t.name,
                r.prefix.addr(),
                dotted_mask(r.prefix.len()),
                r.next_hop
            ));
        }
    }
    for t in file.tenants.iter().filter(|t| sees(&t.name)) {
        for r in &t.redirects {
            s.push_str(&format!("ip redirect vrf {} {} {}\n", t.name, r.from, r.to));
        }
    }
    s.push_str("!\nend\n");
    format!("Building configuration...\n\nCurrent configuration : {} bytes\n{s}", s.len())
}

fn show_running_config(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    let file = ex.ctx.rib.running_config().map_err(Exec::rib_err)?;
    let visible = if ex.s.user.admin { None } else { Some(ex.s.visible_tenants(&ex.topo)) };
    let text = render_running_config(&file, visible.as_deref());
    ex.out.push_str(&text);
    Ok(())
}

fn write_memory(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("write memory")?;
    let Some(path) = ex.ctx.topology_path.clone() else {
        return Err(CmdError::Message("% No topology file to write to (started without one)".into()));
    };
    let file = ex.ctx.rib.running_config().map_err(Exec::rib_err)?;
    ex.line("Building configuration...");
    rib::topology::save_atomic(&path, &file)
        .map_err(|e| CmdError::Message(format!("% Error writing {}: {e}", path.display())))?;
    ex.ctx.audit.log(
        "SYS",
        crate::audit::Severity::Notice,
        "CONFIG_SAVED",
        &ex.s.user.name,
        &ex.s.source,
        format!("Configuration saved to {} by {}", path.display(), ex.s.user.name),
    );
    ex.line("[OK]");
    Ok(())
}
