//! The shell's commands, one file per feature. Each file lists its [`CommandDef`]s (path with
//! help per word, modes, privilege, handler); handlers read the RIB, the statistics and the
//! session, and write IOS-shaped text into `Exec::out`.

pub mod arp;
pub mod config;
pub mod exec;
pub mod flow;
pub mod interfaces;
pub mod logging;
pub mod monitor;
pub mod ping;
pub mod policy;
pub mod processes;
pub mod route;
pub mod snmp;
pub mod substrate;
pub mod vrf;

use crate::session::SessionState;
use crate::tree::{Args, CommandDef};
use crate::ShellContext;
use rib::topology::{PortBinding, Topology};
use rib::{Ipv4Prefix, MacAddr};
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What a handler may touch.
pub struct Exec<'a> {
    pub ctx: &'a ShellContext,
    pub s: &'a mut SessionState,
    pub out: &'a mut String,
    /// The topology at the time the command started.
    pub topo: Arc<Topology>,
    /// `| json`: commands that support it write one JSON document instead of text.
    pub json: bool,
}

/// A command's failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdError {
    /// Printed as is (e.g. `% Interface x does not exist`).
    Message(String),
    /// Refused by scope or role: printed and written to the audit log.
    Refused { what: String, message: String },
}

/// Result of a handler.
pub type CmdResult = Result<(), CmdError>;

/// A command handler.
pub type Handler = fn(&mut Exec<'_>, &Args) -> CmdResult;

/// Every command of the shell.
pub fn all() -> Vec<CommandDef<Handler>> {
    let mut v = Vec::new();
    v.extend(exec::commands());
    v.extend(interfaces::commands());
    v.extend(route::commands());
    v.extend(arp::commands());
    v.extend(vrf::commands());
    v.extend(config::commands());
    v.extend(logging::commands());
    v.extend(processes::commands());
    v.extend(ping::commands());
    v.extend(substrate::commands());
    v.extend(monitor::commands());
    v.extend(flow::commands());
    v.extend(policy::commands());
    v.extend(snmp::commands());
    v
}

impl Exec<'_> {
    /// Appends a line.
    pub fn line(&mut self, s: impl AsRef<str>) {
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }

    /// Renders a command's view: as one pretty JSON document under `| json`, else through
    /// `text` (IOS layout).
    pub fn render<V: serde::Serialize>(&mut self, view: &V, text: impl FnOnce(&mut Self, &V)) -> CmdResult {
        if self.json {
            let s = serde_json::to_string_pretty(view)
                .map_err(|e| CmdError::Message(format!("% JSON rendering failed: {e}")))?;
            self.line(s);
        } else {
            text(self, view);
        }
        Ok(())
    }

    /// A refusal (logged) with the IOS-like message.
    pub fn refuse(&self, what: &str, message: impl Into<String>) -> CmdError {
        CmdError::Refused { what: what.to_string(), message: message.into() }
    }

    /// Admin-only commands: tenant users are refused and logged.
    pub fn require_admin(&self, what: &str) -> CmdResult {
        if self.s.user.admin {
            Ok(())
        } else {
            Err(self.refuse(
                &format!("'{what}' (administrators only)"),
                format!("% Access denied: '{what}' is reserved to administrators."),
            ))
        }
    }

    /// Checks that a tenant exists and is in the user's scope.
    pub fn check_tenant(&self, name: &str, what: &str) -> CmdResult {
        if !self.s.can_see_tenant(name) {
            return Err(self.refuse(
                &format!("'{what}' (vrf {name} outside the scope of user {})", self.s.user.name),
                format!("% Access denied: vrf {name} is not in your scope."),
            ));
        }
        if self.topo.tenant_by_name(name).is_none() {
            return Err(CmdError::Message(format!("% VRF {name} does not exist")));
        }
        Ok(())
    }

    /// Tenants a command applies to: `vrf NAME` if given, else the session's tenant context,
    /// else every tenant the user may see.
    pub fn target_tenants(&self, args: &Args, what: &str) -> Result<Vec<String>, CmdError> {
        if let Some(v) = args.get("vrf") {
            self.check_tenant(v, what)?;
            return Ok(vec![v.to_string()]);
        }
        if let Some(t) = self.s.vrf_context.as_ref().or(self.s.routing_context.as_ref()) {
            return Ok(vec![t.clone()]);
        }
        Ok(self.s.visible_tenants(&self.topo))
    }

    /// Exactly one tenant (for changes and probes): `vrf`, the context, or the user's only
    /// tenant.
    pub fn single_tenant(&self, args: &Args, what: &str) -> Result<String, CmdError> {
        let t = self.target_tenants(args, what)?;
        match t.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(CmdError::Message(
                "% Specify a VRF (tenant): this appliance has no global routing table.".into(),
            )),
        }
    }

    /// Checks that a port exists and is visible.
    pub fn check_port(&self, name: &str, what: &str) -> CmdResult {
        if !self.s.can_see_port(&self.topo, name) {
            return Err(self.refuse(
                &format!("'{what}' (interface {name} outside the scope of user {})", self.s.user.name),
                format!("% Access denied: interface {name} is not in your scope."),
            ));
        }
        if self.topo.port_by_name(name).is_none() {
            return Err(CmdError::Message(format!("% Interface {name} does not exist")));
        }
        Ok(())
    }

    /// Maps a RIB error to a message.
    pub fn rib_err(e: rib::RibError) -> CmdError {
        CmdError::Message(format!("% {e}"))
    }
}

/// The gateway (router interface) of an access port: address, subnet, MAC and the names of
/// the tenant, router and interface.
pub struct Gateway {
    pub address: Ipv4Addr,
    pub subnet: Ipv4Prefix,
    pub mac: MacAddr,
    pub tenant: String,
    pub router: String,
    pub interface: String,
}

/// The gateway behind an access port, if any.
pub fn port_gateway(topo: &Topology, port: &rib::topology::Port) -> Option<Gateway> {
    match port.binding {
        PortBinding::Access { tenant, subnet, router, interface, .. } => {
            let r = topo.routers.get(router.index())?;
            let i = r.interfaces.get(interface)?;
            Some(Gateway {
                address: i.address,
                subnet,
                mac: i.mac,
                tenant: topo.tenants.get(tenant.index()).map(|t| t.name.clone()).unwrap_or_default(),
                router: r.name.clone(),
                interface: i.name.clone(),
            })
        }
        PortBinding::Uplink { .. } => None,
    }
}

/// IOS MAC notation: `0001.4209.8873`.
pub fn ios_mac(m: MacAddr) -> String {
    let b = m.0;
    format!("{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
}

/// Dotted mask of a prefix length.
pub fn dotted_mask(len: u8) -> Ipv4Addr {
    Ipv4Addr::from(Ipv4Prefix::mask_of(len))
}

/// Prefix length of a dotted mask, if contiguous.
pub fn mask_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_macs() {
        assert_eq!(mask_len("255.255.255.0".parse().unwrap()), Some(24));
        assert_eq!(mask_len("0.0.0.0".parse().unwrap()), Some(0));
        assert_eq!(mask_len("255.255.255.255".parse().unwrap()), Some(32));
        assert_eq!(mask_len("255.0.255.0".parse().unwrap()), None);
        assert_eq!(dotted_mask(30).to_string(), "255.255.255.252");
        assert_eq!(ios_mac("00:01:42:09:88:73".parse().unwrap()), "0001.4209.8873");
    }
}
