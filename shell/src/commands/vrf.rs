//! `show vrf`: tenants as VRFs (name, route distinguisher from the VNI, protocols, the access
//! ports that carry them), IOS column layout or `| json`; tenant users see only their own.

use super::{CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::topology::PortBinding;

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![CommandDef {
        modes: &[Mode::Exec],
        path: &[SHOW, ("vrf", "VPN Routing/Forwarding instance information")],
        privilege: 1,
        handler: show_vrf,
    }]
}

/// One VRF of `show vrf` (also its `| json` form).
#[derive(serde::Serialize)]
struct VrfView {
    name: String,
    default_rd: String,
    protocols: Vec<&'static str>,
    interfaces: Vec<String>,
}

fn show_vrf(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    let topo = ex.topo.clone();
    let view: Vec<VrfView> = topo
        .tenants
        .iter()
        .filter(|t| ex.s.can_see_tenant(&t.name))
        .map(|t| VrfView {
            name: t.name.clone(),
            default_rd: format!("65000:{}", t.vni),
            protocols: vec!["ipv4"],
            interfaces: topo
                .ports
                .iter()
                .filter(|p| matches!(p.binding, PortBinding::Access { tenant, .. } if tenant == t.id))
                .map(|p| p.name.clone())
                .collect(),
        })
        .collect();
    ex.render(&view, |ex, view| {
        ex.line("");
        ex.line("  Name                             Default RD          Protocols   Interfaces");
        for v in view {
            let first = v.interfaces.first().map(String::as_str).unwrap_or("");
            ex.line(format!("  {:<33}{:<20}{:<12}{first}", v.name, v.default_rd, "ipv4"));
            for p in v.interfaces.iter().skip(1) {
                ex.line(format!("{:67}{p}", ""));
            }
        }
    })
}
