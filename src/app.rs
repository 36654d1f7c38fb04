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
    /// SSH listen address (default: the topology's `shell.ssh`, 127.0.0.1:2222); `off`
    /// disables SSH.
    #[arg(long)]
    pub ssh: Option<String>,
    /// SSH host key (OpenSSH ed25519 private key; generated if missing). Default:
    /// `<topology dir>/<topology stem>.ssh_host_ed25519_key`.
    #[arg(long)]
    pub ssh_host_key: Option<PathBuf>,
    /// Do not run the shell on the console (for services and tests).
    #[arg(long)]
    pub no_console: bool,
    /// Worker cores, comma separated (default: the topology's, else the last core).
    #[arg(long)]
    pub workers: Option<String>,
    /// Worker thread scheduling: `fifo:P` (default fifo:10: the worker takes its core
    /// whenever it has frames, as the kernel's softirq forwarding does), `nice:N` or `normal`.
    #[arg(long, default_value = "fifo:10")]
    pub worker_sched: switch::worker::WorkerSched,
    /// Write aggregated counters to this file about every 200 ms (and at exit).
    #[arg(long)]
    pub stats_file: Option<PathBuf>,
    /// Where tenant users' `monitor capture NAME export FILE` writes (`DIR/<tenant>/FILE`).
    #[arg(long, default_value = shell::commands::monitor::DEFAULT_CAPTURE_DIR)]
    pub capture_dir: PathBuf,
    /// Prometheus/OpenMetrics endpoint (`GET /metrics`) address; `off` disables it.
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics: String,
    /// SNMP v2c agent UDP address (default: the topology's `snmp.listen`); `off` disables it.
    #[arg(long)]
    pub snmp: Option<String>,
    /// In-band management: telnet (and SSH/SNMP when wired) to a logical router's address
    /// from inside the tenant network.
    #[arg(long, value_enum, default_value = "on")]
    pub inband: OnOff,
}

/// A switch of the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
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

/// Runs the appliance until Ctrl-C / SIGTERM / SIGHUP (a closed terminal), or the console session ends.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let topo = rib::topology::load(&args.file).map_err(|e| anyhow!("{e}"))?;
    let cores = worker_cores(&topo, args.workers.as_deref());
    let available = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if let Some(bad) = cores.iter().find(|&&c| c >= available) {
        bail!("worker core {bad} does not exist (this machine has cores 0..{})", available - 1);
    }

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        // A second signal while stopping exits at once.
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .context("installing signal handler")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }

    // The lab first (the devices must exist before sockets bind them); dropped last.
    let lab_started = std::time::Instant::now();
    let lab_guard = if args.lab {
        let plan = lab::LabPlan::from_topology(&topo, cores.len())?;
        let built = plan.up().context("building the lab")?;
        eprint!("{}", plan.describe());
        Some(built)
    } else {
        None
    };
    let lab_time = lab_started.elapsed();

    let rib = rib::RibHandle::spawn(topo.clone()).map_err(|e| anyhow!("starting the RIB: {e}"))?;

    // Open every worker's ports in the main thread, worker 0 first, so errors surface before
    // anything runs and all workers share the attach mode the first socket got.
    let port_list: Vec<(String, String)> =
        topo.ports.iter().map(|p| (p.name.clone(), p.device.clone())).collect();
    // A port whose device is missing (or refuses the attach) does not stop the appliance:
    // it starts down with the reason (`show interfaces`) and attaches when the device appears.
    let links = switch::port::LinkBoard::new(port_list.len());
    let mut port_sets = Vec::new();
    if args.ports == PortsKind::Xdp {
        let mut cfg = XskConfig { mode: args.xdp_mode, ..XskConfig::default() };
        for q in 0..cores.len() {
            let mut set = XskPorts::open(&port_list, q as u32, &cfg).map_err(|e| anyhow!("{e}"))?;
            set.set_link_board(links.clone());
            if q == 0 {
                if let Some(mode) = (0..set.port_count()).find_map(|i| set.mode(i)) {
                    cfg.mode = mode;
                }
                let mut seen = std::collections::HashSet::new();
                for i in 0..set.port_count() {
                    let Some((name, dev)) = set.port_name(i) else { continue };
                    // One line per device: a trunk of 1000 ports is one socket.
                    if !seen.insert(dev.to_string()) {
                        continue;
                    }
                    let on = topo.ports_on_device(dev).len();
                    let what =
                        if on > 1 { format!("trunk {dev} ({on} ports)") } else { format!("port {name}") };
                    match (set.mode(i), set.link_down(i)) {
                        (Some(mode), _) => eprintln!(
                            "{what}: AF_XDP on {dev}, {mode} mode, copy bind, {} queue(s), ring {}, UMEM {} frames",
                            cores.len(),
                            set.ring_size(),
                            set.frame_capacity()
                        ),
                        (None, Some(why)) => eprintln!("{what}: DOWN, device {dev} {why}"),
                        (None, None) => {}
                    }
                }
            }
            port_sets.push(set);
        }
    }

    let workers = crate::app::workers::spawn(
        &topo,
        rib.fib(),
        port_sets,
        &cores,
        args.ports,
        args.worker_sched,
        links,
        args.inband == OnOff::On,
    )?;

    let telnet_addr = args.telnet.clone().unwrap_or_else(|| topo.file.shell.telnet.clone());
    let snmp_addr = args.snmp.clone().unwrap_or_else(|| topo.file.snmp.listen.clone());
    let shell = crate::app::front::start(
        &rib,
        &workers,
        &telnet_addr,
        &snmp_addr,
        !args.no_console,
        stop.clone(),
        &args,
    )?;
    let names = crate::metrics::Names {
        ports: topo.ports.iter().map(|p| p.name.clone()).collect(),
        tenants: topo.tenants.iter().map(|t| t.name.clone()).collect(),
    };
    let _metrics = (args.metrics != "off")
        .then(|| match crate::metrics::start(&args.metrics, workers.reader.clone(), names) {
            Ok(m) => {
                eprintln!("metrics: http://{}/metrics", m.local_addr());
                Some(m)
            }
            Err(e) => {
                eprintln!("metrics: cannot listen on {}: {e} (endpoint disabled)", args.metrics);
                None
            }
        })
        .flatten();

    eprintln!(
        "vnswitch: running {} ({} ports, {} worker(s) on cores {:?}); Ctrl-C to stop",
        args.file.display(),
        topo.ports.len(),
        cores.len(),
        cores
    );
    let total = started.elapsed();
    eprintln!(
        "vnswitch: start-up {} ms ({} tenants, {} ports; lab {} ms, appliance {} ms)",
        total.as_millis(),
        topo.tenants.len(),
        topo.ports.len(),
        lab_time.as_millis(),
        total.saturating_sub(lab_time).as_millis()
    );
    // The overlay's control side: ARP for substrate next hops, fast-path quotas.
    let mut agent = crate::agent::SubstrateAgent::new(&topo, rib.clone(), workers.punt.clone());
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        workers.tick(args.stats_file.as_deref());
        workers.flows.poll();
        if let Some(agent) = agent.as_mut() {
            agent.tick(std::time::Instant::now(), |t| workers.reader.tenant(t.index()).fast_tx_bytes);
        }
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
    //! Worker threads: one per core, each owning its ports, publishing counters through its
    //! stats ring; the collector aggregates them for the shell and the stats file.
    use super::*;
    use switch::port::Ports;
    use switch::stats::{StatsCollector, StatsReader};

    pub struct Workers {
        handles: Vec<std::thread::JoinHandle<()>>,
        collector: Option<std::thread::JoinHandle<()>>,
        stop: Arc<AtomicBool>,
        collector_stop: Arc<AtomicBool>,
        pub reader: StatsReader,
        pub port_names: Vec<String>,
        pub punt: Arc<switch::punt::PuntQueues>,
        /// Link state of every port (devices missing or removed), written by the workers.
        pub links: Arc<switch::port::LinkBoard>,
        /// The capture point every worker offers frames to (`monitor capture`).
        pub capture: Arc<switch::capture::Capture>,
        /// The workers' flow tables (`show ip flow top-talkers`).
        pub flows: Arc<switch::flows::FlowReader>,
        pub tenant_names: Vec<String>,
        last_write: std::cell::Cell<Option<std::time::Instant>>,
    }

    /// Starts one pinned worker per port set (AF_XDP) or per core (in-memory ports); with
    /// `inband`, the punt queues carry the in-band management queues of every tenant.
    #[allow(clippy::too_many_arguments)]
    pub fn spawn(
        topo: &Topology,
        fib: Arc<rib::FibCell>,
        port_sets: Vec<XskPorts>,
        cores: &[usize],
        kind: PortsKind,
        sched: switch::worker::WorkerSched,
        links: Arc<switch::port::LinkBoard>,
        inband: bool,
    ) -> Result<Workers> {
        let port_names: Vec<String> = topo.ports.iter().map(|p| p.name.clone()).collect();
        let mut consumers = Vec::new();
        let mut handles = Vec::new();
        let punt = if inband {
            use switch::mgmt::{MgmtQueues, MGMT_INJECT_SLOTS, MGMT_SLOTS_PER_TENANT};
            let mgmt = MgmtQueues::new(topo.tenants.len(), MGMT_SLOTS_PER_TENANT, MGMT_INJECT_SLOTS);
            switch::punt::PuntQueues::with_mgmt(switch::punt::QUEUE_CAPACITY, mgmt)
        } else {
            switch::punt::PuntQueues::new(switch::punt::QUEUE_CAPACITY)
        };
        let worker_stop = Arc::new(AtomicBool::new(false));
        let capture = Arc::new(switch::capture::Capture::new(switch::capture::DEFAULT_RING_FRAMES));
        let mut flow_consumers = Vec::new();
        // Receive sources: one per device; the ports of a trunk are one source.
        let rx_plan = switch::trunk::RxPlan::from_devices(
            &topo.ports.iter().map(|p| (p.device.clone(), p.vlan())).collect::<Vec<_>>(),
        );
        let mut launch = |i: usize, ports: Box<dyn FnOnce(WorkerEnv) + Send>| -> Result<()> {
            let core = cores.get(i).copied().unwrap_or(0);
            let (mut publisher, consumer) = switch::stats::channel(i, switch::stats::RING_CAPACITY);
            publisher.set_core(Some(core));
            consumers.push(consumer);
            let (flows, flow_consumer) = switch::flows::channel(i);
            flow_consumers.push(flow_consumer);
            let env = WorkerEnv {
                capture: capture.clone(),
                flows,
                index: i,
                core,
                fib: fib.clone(),
                publisher,
                stop: worker_stop.clone(),
                punt: punt.clone(),
                sched,
                rx_plan: rx_plan.clone(),
            };
            handles.push(
                std::thread::Builder::new()
                    .name(format!("vns-worker{i}"))
                    .spawn(move || {
                        if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
                            eprintln!("worker {i}: could not pin to core {core}");
                        }
                        ports(env);
                    })
                    .context("spawning a worker thread")?,
            );
            Ok(())
        };
        match kind {
            PortsKind::Xdp => {
                for (i, set) in port_sets.into_iter().enumerate() {
                    launch(
                        i,
                        Box::new(move |env| {
                            let set = run_worker(set, env);
                            eprint!("{}", xsk_report(i, &set));
                        }),
                    )?;
                }
            }
            PortsKind::Mem => {
                let n = topo.ports.len();
                for i in 0..cores.len() {
                    let mem = switch::port::MemPorts::new(n, 1024);
                    launch(
                        i,
                        Box::new(move |env| {
                            run_worker(mem, env);
                        }),
                    )?;
                }
            }
        }
        let (collector, reader) = StatsCollector::new(consumers);
        let collector_stop = Arc::new(AtomicBool::new(false));
        let collector = collector
            .spawn(Duration::from_millis(50), collector_stop.clone())
            .context("spawning the stats collector")?;
        Ok(Workers {
            handles,
            collector: Some(collector),
            stop: worker_stop,
            collector_stop,
            reader,
            port_names,
            punt,
            links,
            capture,
            flows: Arc::new(switch::flows::FlowReader::new(flow_consumers)),
            tenant_names: topo.tenants.iter().map(|t| t.name.clone()).collect(),
            last_write: std::cell::Cell::new(None),
        })
    }

    /// What a worker thread gets besides its ports.
    pub struct WorkerEnv {
        pub index: usize,
        pub core: usize,
        pub fib: Arc<rib::FibCell>,
        pub publisher: switch::stats::StatsPublisher,
        pub stop: Arc<AtomicBool>,
        pub punt: Arc<switch::punt::PuntQueues>,
        pub sched: switch::worker::WorkerSched,
        pub capture: Arc<switch::capture::Capture>,
        pub flows: switch::flows::FlowPublisher,
        /// Where the worker receives (trunks demultiplexed by VLAN).
        pub rx_plan: switch::trunk::RxPlan,
    }

    /// Runs `switch::worker::Worker` over `ports` until the stop flag is set and returns the
    /// ports (dropping them closes the sockets and detaches XDP).
    fn run_worker<P: Ports>(ports: P, env: WorkerEnv) -> P {
        let WorkerEnv { index, core, fib, publisher, stop, punt, sched, capture, flows, rx_plan } = env;
        let mut config = switch::worker::WorkerConfig::new(index);
        config.core = Some(core);
        config.sched = sched;
        let worker = switch::worker::Worker::new(config, ports, fib, publisher, Some(punt), stop)
            .with_capture(capture)
            .with_flows(flows)
            .with_rx_plan(rx_plan);
        worker.run()
    }

    /// Ring-level and kernel counters of one worker's AF_XDP sockets, printed at exit.
    fn xsk_report(worker: usize, set: &XskPorts) -> String {
        let mut s = String::new();
        let mut seen = std::collections::HashSet::new();
        for i in 0..set.port_count() {
            let (name, dev) = set.port_name(i).unwrap_or(("?", "?"));
            // The ports of a trunk share one socket: report it once.
            if !seen.insert(dev.to_string()) {
                continue;
            }
            let c = set.counters(i);
            let k = set.kernel_stats(i).unwrap_or_default();
            s.push_str(&format!(
                "xsk worker {worker} port {name} ({dev}): rx {} tx {} tx_ring_full {} tx_kicks {} fill_starved {} \
                 | kernel rx_dropped {} rx_ring_full {} fill_empty {} tx_invalid {}\n",
                c.rx_frames,
                c.tx_frames,
                c.tx_ring_full,
                c.tx_wakeups,
                c.fill_starved,
                k.rx_dropped,
                k.rx_ring_full,
                k.rx_fill_ring_empty_descs,
                k.tx_invalid_descs
            ));
        }
        s
    }

    impl Workers {
        /// Called every ~50 ms by the main thread: refreshes the stats file.
        pub fn tick(&self, stats_file: Option<&std::path::Path>) {
            let Some(path) = stats_file else { return };
            let now = std::time::Instant::now();
            if self.last_write.get().is_some_and(|t| now.duration_since(t) < Duration::from_millis(200)) {
                return;
            }
            self.last_write.set(Some(now));
            write_atomic(path, &self.summary());
        }

        /// Aggregated counters as text: `key value` lines (`drops_total N`, `drop REASON N`,
        /// `port NAME rx N tx N ...`).
        pub fn summary(&self) -> String {
            let t = self.reader.totals();
            let mut s = String::new();
            s.push_str(&format!("rx_packets {}\n", t.rx_packets()));
            s.push_str(&format!("tx_packets {}\n", t.tx_packets()));
            s.push_str(&format!("drops_total {}\n", t.total_drops()));
            s.push_str(&format!("encapsulated {}\ndecapsulated {}\n", t.encapsulated, t.decapsulated));
            s.push_str(&format!("mgmt_punted {}\nmgmt_injected {}\n", t.mgmt_punted, t.mgmt_injected));
            for (reason, n) in self.reader.drops() {
                s.push_str(&format!("drop {reason} {n}\n"));
            }
            for (i, name) in self.port_names.iter().enumerate() {
                let p = t.port(i);
                let link = if self.links.get(i).is_some() { "down" } else { "up" };
                s.push_str(&format!(
                    "port {name} rx {} rx_bytes {} tx {} tx_bytes {} tx_dropped {} encap {} decap {} link {link}\n",
                    p.rx_packets,
                    p.rx_bytes,
                    p.tx_packets,
                    p.tx_bytes,
                    p.tx_dropped,
                    p.encap_packets,
                    p.decap_packets
                ));
            }
            for (name, c) in switch::stats::CLASS_NAMES.iter().zip(t.classes.iter()) {
                s.push_str(&format!(
                    "class {name} tx {} enqueued {} queue_dropped {} high_water {}\n",
                    c.tx_packets, c.enqueued, c.queue_dropped, c.queue_high_water
                ));
            }
            for w in self.reader.workers() {
                s.push_str(&format!(
                    "worker {} core {} rx {} tx {} drops {}\n",
                    w.index,
                    w.core.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
                    w.counters.rx_packets(),
                    w.counters.tx_packets(),
                    w.counters.total_drops()
                ));
            }
            s
        }

        /// Stops and joins the workers (their sockets close, detaching XDP), then the
        /// collector; returns the final counters.
        pub fn stop(mut self) -> String {
            self.stop.store(true, Ordering::Relaxed);
            for h in self.handles.drain(..) {
                let _ = h.join();
            }
            std::thread::sleep(Duration::from_millis(60));
            self.collector_stop.store(true, Ordering::Relaxed);
            if let Some(c) = self.collector.take() {
                let _ = c.join();
            }
            self.summary()
        }
    }

    fn write_atomic(path: &std::path::Path, text: &str) {
        let tmp = path.with_extension("tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, path);
        }
    }

    /// The shell's view of the workers.
    pub struct ShellStats {
        pub reader: StatsReader,
        pub port_names: Vec<String>,
        pub links: Arc<switch::port::LinkBoard>,
        pub tenant_names: Vec<String>,
    }

    impl shell::StatsSource for ShellStats {
        fn workers(&self) -> Vec<shell::WorkerStats> {
            self.reader
                .workers()
                .into_iter()
                .map(|w| shell::WorkerStats {
                    index: w.index,
                    core: w.core.unwrap_or(0),
                    rx_pps: w.rx_pps,
                    tx_pps: w.tx_pps,
                    rx_packets: w.counters.rx_packets(),
                    tx_packets: w.counters.tx_packets(),
                    drops: w
                        .counters
                        .drops_named()
                        .into_iter()
                        .map(|(r, n)| (r.name().to_string(), n))
                        .collect(),
                    batch_fill: w.counters.batch_fill(),
                    batch_size: 64,
                    cycles_per_packet: w.counters.cycles_per_packet(),
                    busy_percent: w.counters.busy_percent(),
                    mgmt_punted: w.counters.mgmt_punted,
                    mgmt_injected: w.counters.mgmt_injected,
                })
                .collect()
        }
        fn ports(&self) -> Vec<shell::PortCounters> {
            // One aggregation for all ports (not one per port: 1000 ports would be quadratic).
            let t = self.reader.totals();
            self.port_names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let p = t.port(i);
                    shell::PortCounters {
                        name: name.clone(),
                        rx_packets: p.rx_packets,
                        rx_bytes: p.rx_bytes,
                        tx_packets: p.tx_packets,
                        tx_bytes: p.tx_bytes,
                        rx_broadcast: p.rx_broadcast,
                        drops: p.tx_dropped,
                        encap_packets: p.encap_packets,
                        decap_packets: p.decap_packets,
                        link_down: self.links.get(i).map(|why| why.to_string()),
                    }
                })
                .collect()
        }
        fn clear(&self) {
            self.reader.clear();
        }
        fn tenants(&self) -> Vec<shell::TenantCounters> {
            let totals = self.reader.totals();
            self.tenant_names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    let t = totals.tenant(i);
                    shell::TenantCounters {
                        name: name.clone(),
                        rx_packets: t.rx_packets,
                        rx_bytes: t.rx_bytes,
                        tx_packets: t.tx_packets,
                        tx_bytes: t.tx_bytes,
                    }
                })
                .collect()
        }
        fn port_shapers(&self) -> Vec<(String, shell::providers::ShaperCounters)> {
            let mut t = self.reader.totals();
            t.ensure(self.port_names.len(), 0);
            self.port_names
                .iter()
                .zip(t.port_shape.iter())
                .map(|(n, c)| (n.clone(), shaper_counters(c)))
                .collect()
        }
        fn tenant_shapers(&self) -> Vec<shell::providers::ShaperCounters> {
            let mut t = self.reader.totals();
            t.ensure(0, self.tenant_names.len());
            t.tenant_shape.iter().map(shaper_counters).collect()
        }
        fn classes(&self) -> Vec<shell::providers::ClassStats> {
            let t = self.reader.totals();
            switch::stats::CLASS_NAMES
                .iter()
                .zip(t.classes.iter())
                .map(|(n, c)| shell::providers::ClassStats {
                    class: n.to_string(),
                    tx_packets: c.tx_packets,
                    tx_bytes: c.tx_bytes,
                    dropped: c.tx_dropped,
                    enqueued: c.enqueued,
                    queue_dropped: c.queue_dropped,
                    queue_high_water: c.queue_high_water,
                })
                .collect()
        }
        fn redirected(&self) -> u64 {
            self.reader.totals().redirected
        }
    }

    fn shaper_counters(c: &switch::stats::ShapeCounters) -> shell::providers::ShaperCounters {
        shell::providers::ShaperCounters {
            conform_packets: c.conform_packets,
            conform_bytes: c.conform_bytes,
            exceed_packets: c.exceed_packets,
            exceed_bytes: c.exceed_bytes,
            drop_packets: c.drop_packets,
            drop_bytes: c.drop_bytes,
        }
    }
}

/// The shell's `ping`/`traceroute` through the workers' inject and punt queues.
struct ShellProber(switch::punt::Prober);

impl shell::Prober for ShellProber {
    fn probe(
        &self,
        source: &shell::ProbeSource,
        dst: std::net::Ipv4Addr,
        ttl: u8,
        seq: u16,
        timeout: Duration,
    ) -> shell::ProbeReply {
        use switch::punt::ProbeKind;
        // `seq` only numbers the shell's output: the wire identifier and sequence are random.
        let _ = seq;
        match self.0.probe(source.tenant_id, source.router_id, source.source, dst, ttl, timeout) {
            Ok(Some((r, rtt))) => match r.kind {
                ProbeKind::EchoReply => shell::ProbeReply::Echo { from: r.from, rtt },
                ProbeKind::TimeExceeded => shell::ProbeReply::TimeExceeded { from: r.from, rtt },
                ProbeKind::Unreachable(code) => shell::ProbeReply::Unreachable { from: r.from, code, rtt },
            },
            _ => shell::ProbeReply::Timeout,
        }
    }
}

mod front {
    //! The shell front ends: the console (unless `--no-console`), the telnet listener, the
    //! SSH listener and the SNMP agent (each unless `off`).
    use super::*;

    pub struct Front {
        telnet: Option<shell::TelnetServer>,
        snmp: Option<shell::SnmpServer>,
        ssh: Option<shell::ssh::SshServer>,
        /// In-band management (telnet to router addresses), when on.
        inband: Option<inband::Inband>,
    }

    impl Drop for Front {
        fn drop(&mut self) {
            if let Some(mut i) = self.inband.take() {
                i.stop();
            }
            if let Some(t) = self.telnet.take() {
                t.stop();
            }
            if let Some(s) = self.snmp.take() {
                s.stop();
            }
            if let Some(s) = self.ssh.take() {
                s.stop();
            }
        }
    }

    /// Starts SSH on `addr` with the host key of `args`. A listener that cannot bind is
    /// reported and left off (as the metrics endpoint); a host key that cannot be read or
    /// written stops the start (the operator named or owns that file).
    fn start_ssh(
        ctx: &Arc<shell::ShellContext>,
        addr: &str,
        args: &RunArgs,
    ) -> Result<Option<shell::ssh::SshServer>> {
        if addr == "off" {
            return Ok(None);
        }
        let key_path =
            args.ssh_host_key.clone().unwrap_or_else(|| shell::ssh::default_host_key_path(&args.file));
        let (key, created) =
            shell::ssh::load_or_create_host_key(&key_path).map_err(|e| anyhow!("ssh: {e}"))?;
        let mut server = shell::ssh::SshServer::new(ctx.clone(), key).map_err(|e| anyhow!("ssh: {e}"))?;
        match server.listen(addr) {
            Ok(local) => {
                eprintln!(
                    "ssh: listening on {local} (host key {} {}, {})",
                    key_path.display(),
                    if created { "generated" } else { "loaded" },
                    server.fingerprint()
                );
                Ok(Some(server))
            }
            Err(e) => {
                eprintln!("ssh: cannot listen on {addr}: {e} (SSH disabled)");
                Ok(None)
            }
        }
    }

    pub fn start(
        rib: &rib::RibHandle,
        workers: &workers::Workers,
        telnet: &str,
        snmp: &str,
        console: bool,
        stop: Arc<AtomicBool>,
        args: &RunArgs,
    ) -> Result<Front> {
        let stats = workers::ShellStats {
            reader: workers.reader.clone(),
            port_names: workers.port_names.clone(),
            links: workers.links.clone(),
            tenant_names: workers.tenant_names.clone(),
        };
        let prober = super::ShellProber(switch::punt::Prober::new(workers.punt.clone()));
        let ctx = Arc::new(
            shell::ShellContext::new(rib.clone())
                .with_stats(Arc::new(stats))
                .with_prober(Arc::new(prober))
                .with_capture(workers.capture.clone())
                .with_flows(workers.flows.clone())
                .with_capture_dir(&args.capture_dir),
        );
        let server = shell::spawn_telnet(ctx.clone(), telnet)
            .with_context(|| format!("telnet listener on {telnet}"))?;
        eprintln!("telnet: listening on {}", server.local_addr());
        // Like the metrics endpoint, an agent that cannot bind (port 161 taken by snmpd, no
        // privilege) is reported and the appliance runs without it.
        let snmp = (snmp != "off")
            .then(|| match shell::spawn_snmp(ctx.clone(), snmp) {
                Ok(s) => {
                    eprintln!("snmp: listening on {} (udp)", s.local_addr());
                    Some(s)
                }
                Err(e) => {
                    eprintln!("snmp: cannot listen on {snmp}: {e} (agent disabled)");
                    None
                }
            })
            .flatten();
        let ssh_addr = args.ssh.clone().unwrap_or_else(|| rib.topology().file.shell.ssh.clone());
        let ssh = start_ssh(&ctx, &ssh_addr, args)?;
        let inband = if args.inband == OnOff::On {
            // In-band SSH runs the management SSH server's protocol over the smoltcp stream;
            // in-band SNMP answers with the router's view (the tenant's community only).
            let ssh: Option<inband::SshHook> = ssh.as_ref().map(|s| {
                let server = s.handle();
                let hook: inband::SshHook = Arc::new(move |stream, opts| server.serve_stream(stream, opts));
                hook
            });
            let snmp_ctx = ctx.clone();
            let udp: Option<inband::UdpHook> = Some(Arc::new(
                move |req: &[u8], from: std::net::SocketAddr, scope: &shell::vty::RouterScope| {
                    let scope = shell::snmp::SnmpScope::Router {
                        tenant: scope.tenant.clone(),
                        router: scope.router.clone(),
                    };
                    shell::snmp::handle_request(&snmp_ctx, req, &from.ip().to_string(), &scope)
                },
            ));
            let topo = rib.topology();
            let plane = inband::start(ctx.clone(), &topo, workers.punt.clone(), ssh, udp, Default::default())
                .map_err(|e| anyhow!("in-band management: {e}"))?;
            eprintln!(
                "in-band: telnet, SSH and SNMP on every logical router address (ports 23, 22, udp 161)"
            );
            Some(plane)
        } else {
            None
        };
        if console {
            std::thread::Builder::new()
                .name("vns-console".into())
                .spawn(move || {
                    if let Err(e) = shell::run_console(ctx) {
                        eprintln!("console: {e}");
                    }
                    // The console session ended (logout / end of input); the appliance goes on.
                    if !stop.load(Ordering::Relaxed) {
                        eprintln!("console closed; vnswitch keeps running (telnet still open; Ctrl-C or SIGTERM stops it)");
                    }
                })
                .context("spawning the console")?;
        }
        Ok(Front { telnet: Some(server), snmp, ssh, inband })
    }
}
