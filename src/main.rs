//! `vnswitch` binary: the command line. `check` validates a topology, `run` starts the
//! appliance (RIB thread, pinned workers on AF_XDP or in-memory ports, stats, shell), `lab`
//! builds or removes the namespace lab of a topology. The wiring lives in `app`.

mod agent;
mod app;
mod lab;
mod metrics;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "vnswitch", version, about = "Userspace multi-tenant virtual network switch appliance")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Validate a topology file and print its summary (exit 1 naming file:line: field on error).
    Check { file: PathBuf },
    /// Run the appliance on a topology.
    Run(app::RunArgs),
    /// Build or remove the namespace lab of a topology (one netns + veth per host).
    Lab {
        action: LabAction,
        #[arg(default_value = "topologies/default.ron")]
        file: PathBuf,
        /// Queues per veth (one per worker); default: the topology's worker count.
        #[arg(long)]
        queues: Option<usize>,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LabAction {
    Up,
    Down,
}

fn main() -> ExitCode {
    // Before any thread exists: libbpf/libxdp log less (no bpffs here is normal, and the
    // single-program XDP attach is what we want without a dispatcher).
    for (key, value) in [("LIBBPF_LOG_LEVEL", "warn"), ("LIBXDP_SKIP_DISPATCHER", "1")] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Check { file } => check(&file),
        Cmd::Run(args) => app::run(args),
        Cmd::Lab { action, file, queues } => lab_cmd(action, &file, queues),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vnswitch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check(file: &std::path::Path) -> Result<ExitCode> {
    match rib::topology::load(file) {
        Ok(topo) => {
            print!("{}", topo.summary());
            println!("{}: OK", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn lab_cmd(action: LabAction, file: &std::path::Path, queues: Option<usize>) -> Result<ExitCode> {
    let topo = rib::topology::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let queues = queues.unwrap_or_else(|| app::worker_cores(&topo, None).len());
    let plan = lab::LabPlan::from_topology(&topo, queues)?;
    match action {
        LabAction::Up => {
            let built = plan.up().context("lab up")?;
            built.keep();
            print!("{}", plan.describe());
            let n = plan.host_count() + plan.substrate.namespaces().len();
            if !plan.trunks.is_empty() {
                println!("note: a trunk's VLAN tagger runs only while this process does: use `vnswitch run --lab` for trunks");
            }
            println!("lab up: {n} namespaces ({} queues each)", plan.queues);
        }
        LabAction::Down => {
            let removed = plan.down();
            if removed.is_empty() {
                println!("lab down: nothing to remove");
            } else {
                println!("lab down: removed {}", removed.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
