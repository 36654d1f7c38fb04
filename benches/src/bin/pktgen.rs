//! pktgen: AF_XDP traffic generator for the vnswitch benchmarks (see BENCHMARKS.md). Parses flags,
//! runs `vnswitch_benches::pktgen::run`, prints the report on stdout (text, or JSON with `--json -`).
//! Run it as root inside the lab's namespaces, e.g. `ip netns exec vnsb-src pktgen tx --dev ...`.

use anyhow::{Context, Result};
use clap::Parser;
use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;
use vnswitch_benches::pktgen::flows::{FlowOrder, FlowSet, SizeSpec, Span};
use vnswitch_benches::pktgen::run::{counter_admin, run, Config, Mode};
use vnswitch_benches::pktgen::sys::parse_mac;
use vnswitch_benches::pktgen::xsk::XdpMode;

/// AF_XDP traffic generator: stamped Ethernet/IPv4/UDP frames, loss/reordering/one-way latency.
#[derive(Parser, Debug)]
#[command(name = "pktgen", version)]
struct Args {
    /// tx: send on --dev; rx: receive on --dev; both: send on --dev, receive on --rx-dev;
    /// count: send on --dev, count on --rx-dev with the XDP counter attached there (no AF_XDP
    /// reader); counter-attach / counter-detach: put the XDP counter (--xdp-obj) on --dev / remove it.
    #[arg(value_enum)]
    mode: Mode,
    /// Device to send on (tx, both) or receive on (rx).
    #[arg(long)]
    dev: String,
    /// Network namespace of --dev (default: the current one).
    #[arg(long)]
    netns: Option<String>,
    /// Device to receive on in `both` mode.
    #[arg(long)]
    rx_dev: Option<String>,
    /// Network namespace of --rx-dev.
    #[arg(long)]
    rx_netns: Option<String>,
    /// Device queue to bind.
    #[arg(long, default_value_t = 0)]
    queue: u32,
    /// Packets per second; 0 = as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds to send (tx/both) or to receive at most (rx). Fractions allowed.
    #[arg(long)]
    duration: Option<f64>,
    /// Frames to send (tx/both) or to wait for (rx).
    #[arg(long)]
    count: Option<u64>,
    /// Frame size with FCS (64..=1518), or a range MIN-MAX (uniform), or `imix` (7:4:1 of 64/594/1518).
    #[arg(long, default_value = "64")]
    size: String,
    /// Simple IMIX frame sizes (same as --size imix).
    #[arg(long)]
    imix: bool,
    /// Source address or range A-B.
    #[arg(long, default_value = "10.0.0.2")]
    src_ip: String,
    /// Destination address or range A-B.
    #[arg(long, default_value = "10.1.0.2")]
    dst_ip: String,
    /// UDP source port or range P-Q.
    #[arg(long, default_value = "1024")]
    src_port: String,
    /// UDP destination port or range P-Q.
    #[arg(long, default_value = "9")]
    dst_port: String,
    /// Order in which the flows (address/port tuples) are used.
    #[arg(long, value_enum, default_value_t = FlowOrder::Seq)]
    flow_order: FlowOrder,
    /// Source MAC (default: the device's).
    #[arg(long)]
    src_mac: Option<String>,
    /// Destination MAC, e.g. the gateway's (alias --gw-mac). Default: ARP for --gw-ip.
    #[arg(long, alias = "gw-mac")]
    dst_mac: Option<String>,
    /// Gateway address to ARP for when --dst-mac is not given.
    #[arg(long)]
    gw_ip: Option<Ipv4Addr>,
    /// XDP attach mode of the receive program.
    #[arg(long, value_enum, default_value_t = XdpMode::Auto)]
    xdp_mode: XdpMode,
    /// Frames per TX batch (1..=64).
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// rx mode: stop this many seconds after the last stamped frame.
    #[arg(long, default_value_t = 2.0)]
    idle_timeout: f64,
    /// both mode: seconds to wait for late frames after TX ends.
    #[arg(long, default_value_t = 0.5)]
    drain: f64,
    /// Pin to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
    /// Seed of the random flow order and size range.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write the report as JSON to FILE, or to stdout with `-` (the text report then goes to stderr).
    #[arg(long)]
    json: Option<String>,
    /// counter-attach: the XDP counter object (clang -O2 -g -target bpf -c benches/src/pktgen/xdp_count.c).
    #[arg(long)]
    xdp_obj: Option<std::path::PathBuf>,
    /// No live line per second.
    #[arg(long, short)]
    quiet: bool,
}

fn secs(v: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(v).with_context(|| format!("bad {what}: {v}"))
}

fn main() -> Result<()> {
    // libxdp/libbpf: only warnings, and no multi-program dispatcher (it needs a bpffs, which
    // `ip netns exec` does not mount). Set before any thread exists; the user's values win.
    for (key, value) in [("LIBBPF_LOG_LEVEL", "warn"), ("LIBXDP_SKIP_DISPATCHER", "1")] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    let a = Args::parse();
    let size: SizeSpec = if a.imix { SizeSpec::Imix } else { a.size.parse()? };
    let flows = FlowSet::new(
        a.src_ip.parse::<Span<Ipv4Addr>>()?,
        a.dst_ip.parse::<Span<Ipv4Addr>>()?,
        a.src_port.parse::<Span<u16>>()?,
        a.dst_port.parse::<Span<u16>>()?,
    )?;
    let cfg = Config {
        mode: a.mode,
        dev: a.dev,
        netns: a.netns,
        rx_dev: a.rx_dev,
        rx_netns: a.rx_netns,
        queue: a.queue,
        rate_pps: a.rate,
        duration: a.duration.map(|d| secs(d, "--duration")).transpose()?,
        count: a.count,
        size,
        flows,
        flow_order: a.flow_order,
        src_mac: a.src_mac.as_deref().map(parse_mac).transpose()?,
        dst_mac: a.dst_mac.as_deref().map(parse_mac).transpose()?,
        gw_ip: a.gw_ip,
        xdp_mode: a.xdp_mode,
        batch: a.batch,
        live: !a.quiet,
        idle_timeout: secs(a.idle_timeout, "--idle-timeout")?,
        drain: secs(a.drain, "--drain")?,
        cpu: a.cpu,
        seed: a.seed,
        xdp_obj: a.xdp_obj,
    };
    if matches!(cfg.mode, Mode::CounterAttach | Mode::CounterDetach) {
        println!("{}", counter_admin(&cfg)?);
        return Ok(());
    }
    if matches!(cfg.mode, Mode::Both | Mode::Count) && cfg.rx_dev.is_none() {
        anyhow::bail!("{:?} mode needs --rx-dev", cfg.mode);
    }
    if cfg.mode != Mode::Rx && cfg.count.is_none() && cfg.duration.is_none() {
        eprintln!("pktgen: no --count or --duration: sending until Ctrl-C");
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }

    let report = run(&cfg, &stop)?;
    let text = report.to_text();
    match a.json.as_deref() {
        Some("-") => {
            eprint!("{text}");
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Some(path) => {
            print!("{text}");
            std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
                .with_context(|| format!("writing {path}"))?;
        }
        None => print!("{text}"),
    }
    Ok(())
}
