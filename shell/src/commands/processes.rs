//! `show processes` (per forwarding worker: core, packet rates, drops by reason, batch fill,
//! cycles per packet, busy share) and `clear counters`, read from the aggregated statistics;
//! both are administrator views of the appliance itself.

use super::{CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef {
            modes: &[Mode::Exec],
            path: &[SHOW, ("processes", "Active process statistics (forwarding workers)")],
            privilege: 1,
            handler: show_processes,
        },
        CommandDef {
            modes: &[Mode::Exec],
            path: &[("clear", "Reset functions"), ("counters", "Clear counters on all interfaces")],
            privilege: 15,
            handler: clear_counters,
        },
    ]
}

fn show_processes(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("show processes")?;
    let Some(stats) = ex.ctx.stats.clone() else {
        ex.line("No forwarding workers are running (no workers).");
        return Ok(());
    };
    let workers = stats.workers();
    if workers.is_empty() {
        ex.line("No forwarding workers are running (no workers).");
        return Ok(());
    }
    let busy: f64 = workers.iter().map(|w| w.busy_percent).sum::<f64>() / workers.len() as f64;
    ex.line(format!("Forwarding workers: {}, average busy {:.0}%", workers.len(), busy));
    ex.line(
        " PID Core      Rx pps      Tx pps    Rx packets    Tx packets  Batch fill  Cycles/pkt  Busy Process",
    );
    for w in &workers {
        ex.line(format!(
            "{:>4} {:>4} {:>11.0} {:>11.0} {:>13} {:>13} {:>6.1}/{:<4} {:>10.0} {:>4.0}% worker-{}",
            w.index,
            w.core,
            w.rx_pps,
            w.tx_pps,
            w.rx_packets,
            w.tx_packets,
            w.batch_fill,
            w.batch_size,
            w.cycles_per_packet,
            w.busy_percent,
            w.index
        ));
    }
    for w in &workers {
        let drops: Vec<String> =
            w.drops.iter().filter(|(_, n)| *n > 0).map(|(r, n)| format!("{r} {n}")).collect();
        let total: u64 = w.drops.iter().map(|(_, n)| n).sum();
        ex.line(format!(
            "  worker-{} drops: {total}{}{}",
            w.index,
            if drops.is_empty() { "" } else { " (" },
            if drops.is_empty() { String::new() } else { drops.join(", ") + ")" }
        ));
    }
    let (punted, injected) =
        workers.iter().fold((0u64, 0u64), |(p, i), w| (p + w.mgmt_punted, i + w.mgmt_injected));
    let mgmt_drops: u64 = workers
        .iter()
        .flat_map(|w| w.drops.iter())
        .filter(|(r, _)| r.starts_with("mgmt_"))
        .map(|(_, n)| n)
        .sum();
    if punted + injected + mgmt_drops > 0 {
        ex.line(format!(
            "In-band management: {punted} packets punted, {injected} injected, {mgmt_drops} dropped"
        ));
    }
    Ok(())
}

fn clear_counters(ex: &mut Exec<'_>, _: &Args) -> CmdResult {
    ex.require_admin("clear counters")?;
    if let Some(stats) = &ex.ctx.stats {
        stats.clear();
    }
    ex.ctx.mark_counters_cleared();
    ex.ctx.audit.log(
        "CLEAR",
        crate::audit::Severity::Notice,
        "COUNTERS",
        &ex.s.user.name,
        &ex.s.source,
        format!("Clear counter on all interfaces by {} on {} ({})", ex.s.user.name, ex.s.line, ex.s.source),
    );
    Ok(())
}
