//! Traffic views read from the workers: `show ip flow top-talkers [vrf T]` (IOS NetFlow
//! style: the largest flows by bytes with source, destination, protocol, ports, packets,
//! bytes, from the workers' flow tables) and `show vrf counters [vrf T]` (per-tenant rx/tx
//! packets and bytes). Tenant users see only their own tenants. Both support `| json`.

use super::{CmdResult, Exec, Handler};
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use serde::Serialize;
use std::net::Ipv4Addr;

/// Flows shown by `show ip flow top-talkers`.
pub const TOP_TALKERS: usize = 10;

const EXEC: &[Mode] = &[Mode::Exec];
const IP: (&str, &str) = ("ip", "IP information");
const FLOW: (&str, &str) = ("flow", "NetFlow switching");
const TOP: (&str, &str) = ("top-talkers", "Show top talkers");
const VRF: (&str, &str) = ("vrf", "Select a VPN Routing/Forwarding instance");
const VRF_NAME: (&str, &str) = ("vrf:VRF", "VPN Routing/Forwarding instance name");
const VRFS: (&str, &str) = ("vrf", "VPN Routing/Forwarding instance information");
const COUNTERS: (&str, &str) = ("counters", "Per-VRF packet and byte counters");

pub fn commands() -> Vec<CommandDef<Handler>> {
    vec![
        CommandDef { modes: EXEC, path: &[SHOW, IP, FLOW, TOP], privilege: 1, handler: top_talkers },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, IP, FLOW, TOP, VRF, VRF_NAME],
            privilege: 1,
            handler: top_talkers,
        },
        CommandDef { modes: EXEC, path: &[SHOW, VRFS, COUNTERS], privilege: 1, handler: vrf_counters },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, VRFS, COUNTERS, VRF, VRF_NAME],
            privilege: 1,
            handler: vrf_counters,
        },
    ]
}

/// One flow of `show ip flow top-talkers`.
#[derive(Serialize)]
struct Talker {
    vrf: String,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    protocol: u8,
    src_port: u16,
    dst_port: u16,
    packets: u64,
    bytes: u64,
}

#[derive(Serialize)]
struct TopTalkers {
    flows: Vec<Talker>,
    /// Flows known for these VRFs (before the top-N cut).
    flows_processed: usize,
}

fn top_talkers(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let tenants = ex.target_tenants(args, "show ip flow top-talkers")?;
    let Some(reader) = ex.ctx.flows.clone() else {
        ex.line("Flow statistics are not available (no workers).");
        return Ok(());
    };
    let mut all = Vec::new();
    for name in &tenants {
        let Some(t) = ex.topo.tenant_by_name(name) else { continue };
        for f in reader.top(Some(t.id.0), usize::MAX) {
            all.push(Talker {
                vrf: name.clone(),
                src: f.key.src_ip(),
                dst: f.key.dst_ip(),
                protocol: f.key.proto,
                src_port: f.key.sport,
                dst_port: f.key.dport,
                packets: f.packets,
                bytes: f.bytes,
            });
        }
    }
    all.sort_by_key(|f| std::cmp::Reverse(f.bytes));
    let processed = all.len();
    all.truncate(TOP_TALKERS);
    let view = TopTalkers { flows: all, flows_processed: processed };
    ex.render(&view, |ex, v| {
        ex.line("");
        ex.line("VRF          SrcIPaddress    DstIPaddress    Pr SrcP DstP      Pkts      Bytes");
        for f in &v.flows {
            ex.line(format!(
                "{:<12} {:<15} {:<15} {:02X} {:04X} {:04X} {:>9} {:>10}",
                f.vrf, f.src, f.dst, f.protocol, f.src_port, f.dst_port, f.packets, f.bytes
            ));
        }
        ex.line(format!(
            "{} of {TOP_TALKERS} top talkers shown. {} flows processed.",
            v.flows.len(),
            v.flows_processed
        ));
    })
}

/// One VRF of `show vrf counters`.
#[derive(Serialize)]
struct VrfCounters {
    vrf: String,
    rx_packets: u64,
    rx_bytes: u64,
    tx_packets: u64,
    tx_bytes: u64,
}

fn vrf_counters(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let tenants = ex.target_tenants(args, "show vrf counters")?;
    let counters = ex.ctx.stats.as_ref().map(|s| s.tenants()).unwrap_or_default();
    let view: Vec<VrfCounters> = tenants
        .iter()
        .map(|name| {
            let c = counters.iter().find(|c| &c.name == name).cloned().unwrap_or_default();
            VrfCounters {
                vrf: name.clone(),
                rx_packets: c.rx_packets,
                rx_bytes: c.rx_bytes,
                tx_packets: c.tx_packets,
                tx_bytes: c.tx_bytes,
            }
        })
        .collect();
    ex.render(&view, |ex, v| {
        ex.line("VRF                               Rx packets       Rx bytes   Tx packets       Tx bytes");
        for c in v {
            ex.line(format!(
                "{:<32} {:>11} {:>14} {:>12} {:>14}",
                c.vrf, c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes
            ));
        }
    })
}
