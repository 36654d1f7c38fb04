//! `show arp [vrf T]` / `show ip arp [vrf T]`: the tenant's neighbour table from the RIB (router
//! interface addresses and configured hosts), in the IOS column layout.

use super::{ios_mac, CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};

const EXEC: &[Mode] = &[Mode::Exec];
const ARP: (&str, &str) = ("arp", "ARP table");
const VRF: (&str, &str) = ("vrf", "Selects a VPN Routing/Forwarding instance");
const VRF_NAME: (&str, &str) = ("vrf:VRF", "VPN Routing/Forwarding instance name");
const IP: (&str, &str) = ("ip", "IP information");

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef { modes: EXEC, path: &[SHOW, ARP], privilege: 1, handler: show_arp },
        CommandDef { modes: EXEC, path: &[SHOW, ARP, VRF, VRF_NAME], privilege: 1, handler: show_arp },
        CommandDef { modes: EXEC, path: &[SHOW, IP, ARP], privilege: 1, handler: show_arp },
        CommandDef { modes: EXEC, path: &[SHOW, IP, ARP, VRF, VRF_NAME], privilege: 1, handler: show_arp },
    ]
}

/// The IOS header of `show ip arp`.
pub const HEADER: &str =
    "Protocol  Address              Age(min)       Hardware Addr     Type      Interface";

fn show_arp(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let what = match args.get("vrf") {
        Some(v) => format!("show arp vrf {v}"),
        None => "show arp".to_string(),
    };
    let tenants = ex.target_tenants(args, &what)?;
    let many = tenants.len() > 1;
    for tenant in tenants {
        let mut n = ex.ctx.rib.neighbours(&tenant).map_err(Exec::rib_err)?;
        n.sort_by_key(|e| (e.router.clone(), u32::from(e.address)));
        if many {
            ex.line(format!("VRF {tenant}:"));
        }
        ex.line(HEADER);
        for e in n {
            // Entries come from the configuration: static, so no age.
            let iface = if e.router.is_empty() {
                e.interface.clone()
            } else {
                format!("{}:{}", e.router, e.interface)
            };
            ex.line(format!(
                "Internet  {:<21}{:<15}{:<18}{:<10}{iface}",
                e.address.to_string(),
                "-",
                ios_mac(e.mac),
                "ARPA"
            ));
        }
        if many {
            ex.line("");
        }
    }
    Ok(())
}
