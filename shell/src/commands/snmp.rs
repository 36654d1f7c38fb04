//! `show snmp` (administrators only): the SNMP agent's identity and counters, IOS layout.
//! The counters are the agent's own (`ShellContext::snmp`), the same the SNMPv2-MIB `snmp`
//! group reports.

use super::{CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use std::sync::atomic::{AtomicU64, Ordering};

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![CommandDef {
        modes: &[Mode::Exec],
        path: &[SHOW, ("snmp", "snmp statistics")],
        privilege: 1,
        handler: show_snmp,
    }]
}

fn show_snmp(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("show snmp")?;
    let st = &ex.ctx.snmp;
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let topo = ex.topo.clone();
    let snmp = &topo.file.snmp;
    ex.line(format!("Chassis: {}", ex.ctx.hostname));
    if !snmp.contact.is_empty() {
        ex.line(format!("Contact: {}", snmp.contact));
    }
    if !snmp.location.is_empty() {
        ex.line(format!("Location: {}", snmp.location));
    }
    ex.line(format!("{} SNMP packets input", n(&st.in_pkts)));
    ex.line(format!("    {} Bad SNMP version errors", n(&st.bad_versions)));
    ex.line(format!("    {} Unknown community name", n(&st.bad_community_names)));
    ex.line(format!("    {} Illegal operation for community name supplied", n(&st.bad_community_uses)));
    ex.line(format!("    {} Encoding errors", n(&st.asn_parse_errs)));
    ex.line(format!("    {} Number of requested variables", n(&st.requested_vars)));
    ex.line("    0 Number of altered variables");
    ex.line(format!("    {} Get-request PDUs", n(&st.get_pdus)));
    ex.line(format!("    {} Get-next PDUs", n(&st.get_next_pdus)));
    ex.line(format!("    {} Get-bulk PDUs", n(&st.get_bulk_pdus)));
    ex.line(format!("    {} Set-request PDUs", n(&st.set_pdus)));
    ex.line(format!("    {} Silently dropped", n(&st.silent_drops)));
    ex.line(format!("{} SNMP packets output", n(&st.out_pkts)));
    ex.line(format!(
        "    {} Too big errors (Maximum packet size {})",
        n(&st.too_big),
        crate::snmp::MAX_RESPONSE
    ));
    ex.line(format!("    {} Response PDUs", n(&st.out_pkts)));
    ex.line("    0 Trap PDUs");
    ex.line("SNMP global trap: disabled");
    let listening = st.listening.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if listening.is_empty() {
        ex.line("SNMP agent: not listening on a management address");
    } else {
        let addrs: Vec<String> = listening.iter().map(|a| format!("udp {a}")).collect();
        ex.line(format!("SNMP agent: read-only, v2c, listening on {}", addrs.join(", ")));
    }
    Ok(())
}
