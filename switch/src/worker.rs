//! The poll-mode worker: one thread owning one port set (one socket per port over one frame
//! buffer). Each round it loads the FIB snapshot once, takes an rx batch from every port
//! through the pipeline (tx per egress port happens in the pipeline's egress stage), routes
//! probes injected by the shell and packets of the in-band management stacks, sends raw frames queued by the control plane (substrate ARP
//! requests) as they are, does port housekeeping (and once a second attaches ports whose
//! device appeared, detaches those whose device went away), and publishes counters every
//! ~100 ms. Idle rounds back off with short sleeps (50 µs doubling to 500 µs) so an idle
//! appliance does not burn a core. Stops when its stop flag is set.

use crate::capture::{self, Capture};
use crate::flows::FlowPublisher;
use crate::pipeline::{Batch, DropReason, Ingress, Pipeline, BATCH};
use crate::port::Ports;
use crate::punt::PuntQueues;
use crate::stats::{cycles, StatsPublisher, WorkerCounters};
use crate::trunk::{tag_of, RxPlan, RxSource, Tag, VlanMap};
use rib::{FibCell, FibSnapshot, PortId};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most injected probes routed per round.
const PROBES_PER_ROUND: usize = 16;
/// Most in-band management packets routed per round.
const MGMT_PER_ROUND: usize = 32;
/// Most control-plane frames sent per round.
const CONTROL_TX_PER_ROUND: usize = 16;

/// Scheduling policy of a worker thread. A poll-mode worker sharing its core with other
/// tasks only gets a fair share under the default policy, while the kernel's own forwarding
/// runs in softirq context ahead of every task; `Fifo` lets the worker take its core whenever
/// it has frames (it still sleeps when idle, and RT throttling keeps 5% for other tasks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WorkerSched {
    /// Leave the thread's policy unchanged.
    #[default]
    Normal,
    /// SCHED_OTHER with this nice value (-20..=19).
    Nice(i8),
    /// SCHED_FIFO with this real-time priority (1..=99).
    Fifo(u8),
}

impl std::str::FromStr for WorkerSched {
    type Err = String;
    /// `normal`, `nice:N` or `fifo:P`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("bad worker scheduling '{s}' (expected normal, nice:-20..19 or fifo:1..99)");
        match s.split_once(':') {
            None if s == "normal" => Ok(WorkerSched::Normal),
            Some(("nice", n)) => match n.parse::<i8>() {
                Ok(n) if (-20..=19).contains(&n) => Ok(WorkerSched::Nice(n)),
                _ => Err(bad()),
            },
            Some(("fifo", p)) => match p.parse::<u8>() {
                Ok(p) if (1..=99).contains(&p) => Ok(WorkerSched::Fifo(p)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl WorkerSched {
    /// Applies the policy to the calling thread.
    pub fn apply_to_current_thread(self) -> std::io::Result<()> {
        match self {
            WorkerSched::Normal => Ok(()),
            WorkerSched::Nice(n) => {
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                // SAFETY: setpriority on our own thread id with a plain integer value.
                let rc =
                    unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, n as libc::c_int) };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
            WorkerSched::Fifo(p) => {
                let param = libc::sched_param { sched_priority: p as libc::c_int };
                // SAFETY: pid 0 is the calling thread; `param` is a valid sched_param that
                // outlives the call.
                let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
                if rc == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            }
        }
    }
}

/// How a worker runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Worker index (queue id on every port, stats ring index).
    pub index: usize,
    /// Core to pin the thread to (None: not pinned).
    pub core: Option<usize>,
    /// Consecutive idle rounds before the worker starts sleeping.
    pub idle_rounds_before_sleep: u32,
    /// First and longest idle sleep; the sleep doubles while idle.
    pub idle_sleep_min: Duration,
    pub idle_sleep_max: Duration,
    /// Scheduling policy applied when the thread starts (best effort).
    pub sched: WorkerSched,
}

impl WorkerConfig {
    pub fn new(index: usize) -> Self {
        WorkerConfig {
            index,
            core: None,
            idle_rounds_before_sleep: 64,
            idle_sleep_min: Duration::from_micros(50),
            idle_sleep_max: Duration::from_micros(500),
            sched: WorkerSched::Normal,
        }
    }
}

/// One worker: its ports, pipeline state and counters.
pub struct Worker<P: Ports> {
    config: WorkerConfig,
    ports: P,
    fib: Arc<FibCell>,
    publisher: StatsPublisher,
    punt: Option<Arc<PuntQueues>>,
    stop: Arc<AtomicBool>,
    pipeline: Pipeline,
    counters: WorkerCounters,
    batch: Batch<P::Desc>,
    /// Where frames are received: one source per device (a trunk is one source for all its
    /// VLANs' ports).
    rx_plan: RxPlan,
    idle_rounds: u32,
    sleep: Duration,
    /// When [`Ports::maintain`] last ran.
    last_maintain: Option<Instant>,
    /// Capture point (`monitor capture`), if the appliance offers one.
    capture: Option<Arc<Capture>>,
    /// Flow table and its ring (`show ip flow top-talkers`), if enabled.
    flows: Option<FlowPublisher>,
}

/// How often a worker looks for devices that appeared or went away.
pub const MAINTAIN_INTERVAL: Duration = Duration::from_secs(1);

impl<P: Ports> Worker<P> {
    /// A worker over `ports` reading `fib`, publishing through `publisher`, serving the probe
    /// queues `punt` (None: probes are not served), until `stop` is set.
    pub fn new(
        config: WorkerConfig,
        ports: P,
        fib: Arc<FibCell>,
        mut publisher: StatsPublisher,
        punt: Option<Arc<PuntQueues>>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        publisher.set_core(config.core);
        let sleep = config.idle_sleep_min;
        let mut pipeline = Pipeline::new();
        // The shaper and class queues, allocated here rather than on the first frame.
        pipeline.prepare(&ports);
        let rx_plan = RxPlan::one_per_port(ports.port_count());
        // Counter tables sized from the topology (grown later only if a snapshot has more).
        let counters = {
            let snap = fib.load();
            WorkerCounters::new(snap.ports.len().max(ports.port_count()), snap.tenants.len())
        };
        pipeline.mgmt_enabled = punt.as_ref().is_some_and(|p| p.mgmt.is_some());
        Worker {
            config,
            ports,
            fib,
            publisher,
            punt,
            stop,
            pipeline,
            counters,
            batch: Batch::new(Ingress::Port(PortId(0))),
            rx_plan,
            idle_rounds: 0,
            sleep,
            last_maintain: None,
            capture: None,
            flows: None,
        }
    }

    /// Receives according to `plan` (trunks: one device, many VLANs, many logical ports)
    /// instead of one source per port.
    pub fn with_rx_plan(mut self, plan: RxPlan) -> Self {
        self.rx_plan = plan;
        self
    }

    /// Copies frames to `capture` while a capture runs on one of this worker's ports.
    pub fn with_capture(mut self, capture: Arc<Capture>) -> Self {
        self.capture = Some(capture);
        self
    }

    /// Counts flows into `flows` (one per worker, see [`crate::flows::channel`]).
    pub fn with_flows(mut self, flows: FlowPublisher) -> Self {
        self.flows = Some(flows);
        self
    }

    /// Counters so far.
    pub fn counters(&self) -> &WorkerCounters {
        &self.counters
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// The port set (tests inject and read frames between rounds).
    pub fn ports_mut(&mut self) -> &mut P {
        &mut self.ports
    }

    /// Pipeline state (e.g. to change the ICMP rate limit).
    pub fn pipeline_mut(&mut self) -> &mut Pipeline {
        &mut self.pipeline
    }

    /// One poll round at time `now`; returns the frames processed (received + injected).
    /// Does not sleep.
    pub fn poll_once(&mut self, now: Instant) -> usize {
        let start = cycles();
        let guard = self.fib.load();
        let fib: &FibSnapshot = &guard;
        // A compare per round; allocates only when the topology grew.
        self.counters.ensure(fib.ports.len(), fib.tenants.len());
        let mut got = 0;
        // Taken out for the round so the sources can be read while `self` is borrowed
        // mutably (a move of the Vec, no allocation).
        let plan = std::mem::take(&mut self.rx_plan);
        for source in &plan.sources {
            got += match source {
                RxSource::Port(port) => self.rx_port(*port, fib, now),
                RxSource::Trunk { via, vlans } => self.rx_trunk(*via, vlans, fib, now),
            };
        }
        self.rx_plan = plan;
        got += self.pipeline.drain_queues(&mut self.ports, fib, &mut self.counters, now);
        got += self.serve_probes(fib, now);
        got += self.serve_mgmt(fib, now);
        got += self.serve_control_tx();
        drop(guard);
        self.ports.service();
        if self.last_maintain.is_none_or(|t| now.saturating_duration_since(t) >= MAINTAIN_INTERVAL) {
            // Between batches, about once a second: devices that appeared or went away.
            self.last_maintain = Some(now);
            self.ports.maintain();
        }
        if got > 0 {
            self.counters.busy_polls += 1;
            self.counters.busy_cycles += cycles().wrapping_sub(start);
        } else {
            self.counters.idle_polls += 1;
        }
        self.publisher.maybe_publish(&self.counters, now);
        if let Some(f) = &mut self.flows {
            f.maybe_publish(now, false);
        }
        got
    }

    fn rx_port(&mut self, port: PortId, fib: &FibSnapshot, now: Instant) -> usize {
        let n = self.ports.rx_burst(port, &mut self.batch.desc[..BATCH]);
        if n == 0 {
            return 0;
        }
        self.run_rx_batch(port, n, fib, now);
        n
    }

    /// Receives one burst from the trunk device read through port `via` and runs each
    /// VLAN's frames through the pipeline as a batch of that VLAN's logical port. Untagged
    /// frames and VLANs no port uses are dropped and counted (`trunk_untagged`,
    /// `trunk_unknown_vlan`). Everything lives on the stack: no allocation.
    fn rx_trunk(&mut self, via: PortId, vlans: &VlanMap, fib: &FibSnapshot, now: Instant) -> usize {
        let mut rx = [P::Desc::default(); BATCH];
        let n = self.ports.rx_burst(via, &mut rx);
        if n == 0 {
            return 0;
        }
        // The logical port of every frame (None: dropped here).
        let mut port_of: [Option<PortId>; BATCH] = [None; BATCH];
        for (d, slot) in rx[..n].iter().zip(port_of.iter_mut()) {
            let (port, reason) = match tag_of(self.ports.data(d)) {
                Tag::Vlan(v) => (vlans.port(v), DropReason::TrunkUnknownVlan),
                Tag::Untagged => (None, DropReason::TrunkUntagged),
            };
            *slot = port;
            if port.is_none() {
                self.counters.count_drop(reason);
                self.ports.recycle(std::slice::from_ref(d));
            }
        }
        // One batch per logical port, in order of first appearance (frames of one VLAN keep
        // their order).
        for i in 0..n {
            let Some(port) = port_of[i] else { continue };
            let mut k = 0;
            for j in i..n {
                if port_of[j] == Some(port) {
                    self.batch.desc[k] = rx[j];
                    port_of[j] = None;
                    k += 1;
                }
            }
            self.run_rx_batch(port, k, fib, now);
        }
        n
    }

    /// Counts `n` frames received on `port` (already in `batch.desc[..n]`) and runs them
    /// through the pipeline.
    fn run_rx_batch(&mut self, port: PortId, n: usize, fib: &FibSnapshot, now: Instant) {
        let pc = self.counters.port_mut(port.index());
        pc.rx_packets += n as u64;
        for d in &self.batch.desc[..n] {
            let data = self.ports.data(d);
            pc.rx_bytes += data.len() as u64;
            if data.len() >= 6 && data[..6] == [0xff; 6] {
                pc.rx_broadcast += 1;
            }
        }
        self.counters.batches += 1;
        self.counters.batch_frames += n as u64;
        // One relaxed load per batch when no capture runs.
        let cap = self.capture.as_deref().filter(|c| c.active());
        if let Some(c) = cap {
            c.offer_batch(&self.ports, port, capture::Direction::Rx, &self.batch.desc[..n]);
        }
        if let Some(f) = &mut self.flows {
            f.sample_batch(&self.ports, &self.batch.desc[..n]);
        }
        self.batch.reset(Ingress::Port(port), n);
        let punt = self.punt.as_deref();
        capture::run_pipeline(
            cap,
            &mut self.pipeline,
            &mut self.ports,
            &mut self.batch,
            fib,
            punt,
            &mut self.counters,
            now,
        );
        if let Some(f) = &mut self.flows {
            f.count_batch(&self.batch.meta, n);
        }
    }

    fn serve_probes(&mut self, fib: &FibSnapshot, now: Instant) -> usize {
        let Some(queues) = self.punt.clone() else { return 0 };
        let mut done = 0;
        while done < PROBES_PER_ROUND {
            let Some(probe) = queues.inject.pop() else { break };
            done += 1;
            let Some(mut d) = self.ports.alloc() else {
                self.counters.count_drop(crate::pipeline::DropReason::InjectNoFrame);
                continue;
            };
            let bytes = probe.frame.as_slice();
            if !self.ports.set_len(&mut d, bytes.len()) {
                self.ports.recycle(&[d]);
                self.counters.count_drop(crate::pipeline::DropReason::InjectInvalid);
                continue;
            }
            self.ports.data_mut(&d).copy_from_slice(bytes);
            self.counters.injected += 1;
            self.batch.desc[0] = d;
            self.batch.reset(Ingress::Router(probe.router), 1);
            let cap = self.capture.as_deref().filter(|c| c.active());
            let (ports, batch, counters) = (&mut self.ports, &mut self.batch, &mut self.counters);
            capture::run_pipeline(cap, &mut self.pipeline, ports, batch, fib, Some(&queues), counters, now);
        }
        done
    }

    /// Routes IP packets the in-band management stacks queued, each as sent by its router
    /// (an Ethernet header with zero MACs in front, like a probe; the pipeline writes the
    /// real ones). No free frame counts `inject_no_frame`.
    fn serve_mgmt(&mut self, fib: &FibSnapshot, now: Instant) -> usize {
        let Some(queues) = self.punt.clone() else { return 0 };
        let Some(mgmt) = &queues.mgmt else { return 0 };
        let mut done = 0;
        while done < MGMT_PER_ROUND {
            let Some(pkt) = mgmt.inject.pop() else { break };
            done += 1;
            let Some(mut d) = self.ports.alloc() else {
                self.counters.count_drop(crate::pipeline::DropReason::InjectNoFrame);
                continue;
            };
            let ip = pkt.as_slice();
            let hl = crate::wire::ethernet::HEADER_LEN;
            if !self.ports.set_len(&mut d, hl + ip.len()) {
                self.ports.recycle(&[d]);
                self.counters.count_drop(crate::pipeline::DropReason::InjectInvalid);
                continue;
            }
            {
                let data = self.ports.data_mut(&d);
                data[..12].fill(0);
                data[12..hl].copy_from_slice(&crate::wire::ethernet::ethertype::IPV4.to_be_bytes());
                data[hl..].copy_from_slice(ip);
            }
            self.counters.mgmt_injected += 1;
            self.batch.desc[0] = d;
            self.batch.reset(Ingress::Router(pkt.router), 1);
            drop(pkt);
            let cap = self.capture.as_deref().filter(|c| c.active());
            let (ports, batch, counters) = (&mut self.ports, &mut self.batch, &mut self.counters);
            capture::run_pipeline(cap, &mut self.pipeline, ports, batch, fib, Some(&queues), counters, now);
        }
        done
    }

    /// Sends raw frames the control plane queued (e.g. its ARP requests on uplinks) on their
    /// port, untouched by the pipeline. A frame for a port this worker does not serve counts
    /// `egress_unknown`; no free frame counts `inject_no_frame`.
    fn serve_control_tx(&mut self) -> usize {
        let Some(queues) = self.punt.clone() else { return 0 };
        let mut done = 0;
        while done < CONTROL_TX_PER_ROUND {
            let Some(entry) = queues.control_tx.pop() else { break };
            done += 1;
            if entry.port.index() >= self.ports.port_count() {
                self.counters.count_drop(crate::pipeline::DropReason::EgressUnknown);
                continue;
            }
            let Some(mut d) = self.ports.alloc() else {
                self.counters.count_drop(crate::pipeline::DropReason::InjectNoFrame);
                continue;
            };
            let bytes = entry.frame.as_slice();
            if !self.ports.set_len(&mut d, bytes.len()) {
                self.ports.recycle(&[d]);
                self.counters.count_drop(crate::pipeline::DropReason::InjectInvalid);
                continue;
            }
            self.ports.data_mut(&d).copy_from_slice(bytes);
            let sent = self.ports.tx_burst(entry.port, &[d]);
            let pc = self.counters.port_mut(entry.port.index());
            if sent == 1 {
                pc.tx_packets += 1;
                pc.tx_bytes += bytes.len() as u64;
                self.counters.control_tx += 1;
            } else {
                pc.tx_dropped += 1;
                self.counters.count_drop(crate::pipeline::DropReason::TxRingFull);
            }
        }
        done
    }

    /// Polls until the stop flag is set, backing off when idle; publishes a last snapshot
    /// and returns the port set.
    pub fn run(mut self) -> P {
        if let Some(core) = self.config.core {
            // Pinning is best effort: a missing core leaves the thread unpinned.
            let _ = core_affinity::set_for_current(core_affinity::CoreId { id: core });
        }
        if let Err(e) = self.config.sched.apply_to_current_thread() {
            // Best effort like pinning: the worker still runs, at the default policy.
            eprintln!("worker {}: scheduling {:?} refused: {e}", self.config.index, self.config.sched);
        }
        while !self.stop.load(Ordering::Relaxed) {
            let got = self.poll_once(Instant::now());
            if got > 0 {
                self.idle_rounds = 0;
                self.sleep = self.config.idle_sleep_min;
                continue;
            }
            self.idle_rounds = self.idle_rounds.saturating_add(1);
            if self.idle_rounds >= self.config.idle_rounds_before_sleep {
                self.counters.idle_sleeps += 1;
                self.ports.idle_wait(self.sleep);
                self.sleep = (self.sleep * 2).min(self.config.idle_sleep_max);
            }
        }
        self.publisher.publish(&self.counters, Instant::now(), true);
        if let Some(f) = &mut self.flows {
            f.maybe_publish(Instant::now(), true);
        }
        self.ports
    }

    /// Runs the worker on a new thread named `vns-worker{index}`; joining returns the ports.
    pub fn spawn(self) -> std::io::Result<JoinHandle<P>>
    where
        P: Send + 'static,
    {
        std::thread::Builder::new().name(format!("vns-worker{}", self.config.index)).spawn(move || self.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::{FrameBuf, MemPorts};
    use crate::punt::PuntQueues;
    use crate::stats::{channel, StatsCollector};
    use crate::testkit::*;

    #[test]
    fn poll_round_forwards_counts_and_next_round_sees_a_new_snapshot() {
        let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
        let (publisher, consumer) = channel(0, 8);
        let (mut collector, reader) = StatsCollector::new(vec![consumer]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut w =
            Worker::new(WorkerConfig::new(0), MemPorts::new(3, 256), fib.clone(), publisher, None, stop);
        let to = |dst| echo_request(MAC_A, MAC_J0, None, IP_A, dst, 64, 1, 1, 8);
        let dst = std::net::Ipv4Addr::new(10, 2, 0, 9);
        w.ports_mut().inject(PORT_A, &to(dst)).unwrap();
        assert_eq!(w.poll_once(Instant::now()), 1);
        assert_eq!(w.ports_mut().take_tx(PORT_A).len(), 1, "net unreachable before the route exists");
        // Publish a snapshot with 10.2.0.0/16 toward H: the very next round uses it.
        fib.store(Arc::new(default_fib_with(|t, b| {
            if t == 0 {
                let mut p = rib::fib::HopPath::EMPTY;
                p.push(ROUTER_J, IP_J0);
                p.push(ROUTER_L, IP_L1);
                b.route(
                    "10.2.0.0/16".parse().unwrap(),
                    rib::Adjacency::Deliver {
                        port: PORT_H,
                        vlan: None,
                        src_mac: MAC_L0,
                        dst_mac: MAC_H,
                        path: p,
                    },
                );
            }
        })));
        w.ports_mut().inject(PORT_A, &to(dst)).unwrap();
        assert_eq!(w.poll_once(Instant::now()), 1);
        assert_eq!(
            w.ports_mut().take_tx(PORT_H),
            vec![echo_request(MAC_L0, MAC_H, None, IP_A, dst, 62, 1, 1, 8)]
        );
        assert_eq!(w.poll_once(Instant::now()), 0);
        let c = w.counters();
        assert_eq!((c.ports[0].rx_packets, c.ports[0].tx_packets, c.ports[1].tx_packets), (2, 1, 1));
        assert_eq!((c.batches, c.batch_frames, c.busy_polls, c.idle_polls), (2, 2, 2, 1));
        assert_eq!(w.ports().free_frames(), 256);
        collector.poll();
        assert_eq!(reader.received(), 1, "first round published, later ones within the interval did not");
        let _ = w.ports().capacity();
    }

    /// Frames a congested port could not take wait in their class queue and leave in later
    /// poll rounds, in order, without new traffic; those rounds count as busy. The queues
    /// exist before the first frame (allocated by `Worker::new`).
    #[test]
    fn a_congested_port_drains_its_class_queue_over_the_next_poll_rounds() {
        let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
        let (publisher, _consumer) = channel(0, 8);
        let stop = Arc::new(AtomicBool::new(false));
        let ports = LimitedTx::new(MemPorts::new(3, 256), 4);
        let mut w = Worker::new(WorkerConfig::new(0), ports, fib, publisher, None, stop);
        assert!(w.pipeline_mut().queues.is_some(), "queues allocated before traffic");
        let frame = |k: u8| udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40000, 5201, &[k; 20]);
        for k in 0..10 {
            w.ports_mut().mem.inject(PORT_A, &frame(k)).unwrap();
        }
        let t0 = Instant::now();
        assert_eq!(w.poll_once(t0), 10, "10 received: 4 sent, the rest queued");
        let mut out = w.ports_mut().mem.take_tx(PORT_H);
        assert_eq!(out.len(), 4);
        assert_eq!(w.poll_once(t0), 4, "a round with nothing received still sends from the queue");
        assert_eq!(w.poll_once(t0), 2);
        assert_eq!(w.poll_once(t0), 0);
        out.extend(w.ports_mut().mem.take_tx(PORT_H));
        let expected: Vec<Vec<u8>> =
            (0..10).map(|k| udp_frame(MAC_L0, MAC_H, IP_A, IP_H, 62, 40000, 5201, &[k; 20])).collect();
        assert_eq!(out, expected);
        let c = w.counters();
        let gold = c.classes[crate::stats::class_index(rib::ServiceLevel::Gold)];
        assert_eq!((gold.tx_packets, gold.enqueued, gold.queue_high_water), (10, 10, 10));
        assert_eq!(c.total_drops(), 0);
        assert_eq!(w.ports().mem.free_frames(), 256);
    }

    /// Issue 11 item 2: a port whose device went away drops what is routed to it as
    /// `egress_down` (not queued, not counted as a full ring) and every other port forwards
    /// on; when the device is back, so is the port.
    #[test]
    fn a_port_without_its_device_drops_its_traffic_and_the_others_forward() {
        use crate::pipeline::DropReason;
        use crate::port::LinkDown;
        let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
        let (publisher, _consumer) = channel(0, 8);
        let stop = Arc::new(AtomicBool::new(false));
        let mut w = Worker::new(WorkerConfig::new(0), MemPorts::new(3, 256), fib, publisher, None, stop);
        w.ports_mut().set_link(PORT_H, Some(LinkDown::DeviceRemoved));
        let to_h = echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 1, 1, 8);
        let to_j = echo_request(MAC_A, MAC_J0, None, IP_A, IP_J0, 64, 1, 2, 8);
        let to_y = echo_request(MAC_B, MAC_Y0, None, IP_B, IP_Y0, 64, 1, 3, 8);
        w.ports_mut().inject(PORT_A, &to_h).unwrap();
        w.ports_mut().inject(PORT_A, &to_j).unwrap();
        w.ports_mut().inject(PORT_B, &to_y).unwrap();
        assert_eq!(w.poll_once(Instant::now()), 3);
        assert!(w.ports_mut().take_tx(PORT_H).is_empty());
        assert_eq!(w.ports_mut().take_tx(PORT_A).len(), 1, "J still answers A");
        assert_eq!(w.ports_mut().take_tx(PORT_B).len(), 1, "Y still answers B");
        let c = w.counters();
        assert_eq!(c.drop_count(DropReason::EgressDown), 1);
        assert_eq!(c.drop_count(DropReason::TxRingFull), 0);
        assert_eq!(c.ports[PORT_H.index()].tx_dropped, 1);
        assert_eq!(w.ports().free_frames(), 256, "the dropped frame went back to the pool");
        w.ports_mut().set_link(PORT_H, None);
        w.ports_mut().inject(PORT_A, &to_h).unwrap();
        w.poll_once(Instant::now());
        assert_eq!(w.ports_mut().take_tx(PORT_H).len(), 1, "the port forwards again once its device is back");
    }

    #[test]
    fn control_plane_frames_are_sent_as_they_are_on_their_port() {
        let fib = Arc::new(FibCell::new(Arc::new(substrate_fib(None))));
        let (publisher, _consumer) = channel(0, 8);
        let stop = Arc::new(AtomicBool::new(false));
        let queues = PuntQueues::new(8);
        let mut w = Worker::new(
            WorkerConfig::new(0),
            MemPorts::new(4, 64),
            fib,
            publisher,
            Some(queues.clone()),
            stop,
        );
        let req = crate::punt::build_arp_request(MAC_UP, IP_VTEP, IP_PEER);
        queues.send_raw(PORT_UP, req.as_slice()).unwrap();
        queues.send_raw(PortId(9), req.as_slice()).unwrap();
        assert_eq!(w.poll_once(Instant::now()), 2);
        assert_eq!(w.ports_mut().take_tx(PORT_UP), vec![arp_request(MAC_UP, IP_VTEP, IP_PEER)]);
        let c = w.counters();
        assert_eq!((c.control_tx, c.ports[PORT_UP.index()].tx_packets), (1, 1));
        assert_eq!(c.drop_count(crate::pipeline::DropReason::EgressUnknown), 1, "port 9 is not served");
        // The neighbour's answer goes to the control plane with its port.
        let mut reply = arp_request(MAC_PEER, IP_PEER, IP_VTEP);
        reply[0..6].copy_from_slice(&MAC_UP.0);
        reply[21] = 2;
        w.ports_mut().inject(PORT_UP, &reply).unwrap();
        assert_eq!(w.poll_once(Instant::now()), 1);
        let got = queues.recv_arp().expect("reply punted");
        assert_eq!((got.port, got.frame.as_slice()), (PORT_UP, &reply[..]));
        assert_eq!(w.ports().free_frames(), 64);
    }

    #[test]
    fn worker_sched_parses_policies_and_rejects_out_of_range() {
        assert_eq!("normal".parse(), Ok(WorkerSched::Normal));
        assert_eq!("nice:-10".parse(), Ok(WorkerSched::Nice(-10)));
        assert_eq!("fifo:10".parse(), Ok(WorkerSched::Fifo(10)));
        for bad in ["", "fifo", "fifo:0", "fifo:100", "nice:-21", "nice:20", "rr:5", "nice:x"] {
            assert!(bad.parse::<WorkerSched>().is_err(), "{bad}");
        }
        assert_eq!(WorkerSched::Normal.apply_to_current_thread().ok(), Some(()));
    }

    #[test]
    fn spawned_worker_stops_and_publishes_final_counters() {
        let fib = Arc::new(FibCell::new(Arc::new(default_fib())));
        let (publisher, consumer) = channel(0, 64);
        let (mut collector, reader) = StatsCollector::new(vec![consumer]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut ports = MemPorts::new(3, 256);
        for _ in 0..10 {
            ports.inject(PORT_A, &echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 1, 1, 8)).unwrap();
        }
        let mut cfg = WorkerConfig::new(0);
        cfg.core = Some(0);
        let h = Worker::new(cfg, ports, fib, publisher, None, stop.clone()).spawn().unwrap();
        // Until it forwarded all ten and went idle (a loaded machine may start it late).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            collector.poll();
            let w = &reader.workers()[0];
            if w.counters.port(PORT_H.index()).tx_packets == 10 && w.counters.idle_sleeps > 0 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "worker did not forward and idle within 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, Ordering::Relaxed);
        let mut ports = h.join().unwrap();
        assert_eq!(ports.take_tx(PORT_H).len(), 10);
        collector.poll();
        let w = &reader.workers()[0];
        assert!(w.stopped);
        assert_eq!(w.counters.port(PORT_H.index()).tx_packets, 10);
        assert!(w.counters.idle_sleeps > 0, "idle worker backs off");
        assert_eq!(w.core, Some(0));
    }
}
