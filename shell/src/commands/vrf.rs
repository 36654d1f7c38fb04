//! `show vrf`: tenants as VRFs (name, route distinguisher from the VNI, protocols, the access
//! ports that carry them), IOS column layout; tenant users see only their own.

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

fn show_vrf(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.line("");
    ex.line("  Name                             Default RD          Protocols   Interfaces");
    let topo = ex.topo.clone();
    for t in &topo.tenants {
        if !ex.s.can_see_tenant(&t.name) {
            continue;
        }
        let ports: Vec<&str> = topo
            .ports
            .iter()
            .filter(|p| matches!(p.binding, PortBinding::Access { tenant, .. } if tenant == t.id))
            .map(|p| p.name.as_str())
            .collect();
        let rd = format!("65000:{}", t.vni);
        let first = ports.first().copied().unwrap_or("");
        ex.line(format!("  {:<33}{rd:<20}{:<12}{first}", t.name, "ipv4"));
        for p in ports.iter().skip(1) {
            ex.line(format!("{:67}{p}", ""));
        }
    }
    Ok(())
}
