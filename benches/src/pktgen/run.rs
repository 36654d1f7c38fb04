//! The generator loop: one thread that transmits paced batches, receives and accounts stamped
//! frames, prints a live line per second on stderr, and returns the final [`Report`]. In `both`
//! mode TX and RX alternate in the same loop, so one core is enough and timestamps share a clock.
//! In `count` mode the loop only transmits: an XDP program on the receiving device counts and
//! timestamps what arrives ([`super::counter`]), and the report is the difference of its maps.

use super::counter::{self, Counter};
use super::flows::{FlowOrder, FlowPicker, FlowSet, SizePicker, SizeSpec, XorShift};
use super::frame::{buffer_len, parse_frame, write_frame, FlowTuple, MacPair, Parsed, Stamp, FCS_LEN};
use super::rate::TokenBucket;
use super::stats::{new_latency_histogram, LatencySummary, Report, RxReport, SeqTracker, TxReport};
use super::sys::{self, monotonic_ns, Netns};
use super::xsk::{RxPort, TxPort, XdpMode, BATCH};
use super::PktgenError;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What this pktgen process does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Transmit only.
    Tx,
    /// Receive and account only.
    Rx,
    /// Transmit on `dev` and receive on `rx_dev` in the same loop (loss and latency end to end).
    Both,
    /// Transmit on `dev`; count what arrives on `rx_dev` with the XDP counter attached there.
    Count,
    /// Attach the XDP counter (`--xdp-obj`, built from xdp_count.c) to `dev` and exit.
    CounterAttach,
    /// Detach the XDP counter from `dev` and exit.
    CounterDetach,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Tx => "tx",
            Mode::Rx => "rx",
            Mode::Both => "both",
            Mode::Count => "count",
            Mode::CounterAttach => "counter-attach",
            Mode::CounterDetach => "counter-detach",
        }
    }
}

/// A complete run description (the binary builds it from its flags).
#[derive(Clone, Debug)]
pub struct Config {
    pub mode: Mode,
    /// TX device (tx/both) or RX device (rx).
    pub dev: String,
    /// Namespace of `dev` (default: the current one).
    pub netns: Option<String>,
    /// RX device in `both` mode.
    pub rx_dev: Option<String>,
    /// Namespace of `rx_dev`.
    pub rx_netns: Option<String>,
    pub queue: u32,
    /// Packets per second, 0 = as fast as possible.
    pub rate_pps: u64,
    pub duration: Option<Duration>,
    pub count: Option<u64>,
    pub size: SizeSpec,
    pub flows: FlowSet,
    pub flow_order: FlowOrder,
    /// Source MAC; default: the TX device's.
    pub src_mac: Option<[u8; 6]>,
    /// Destination MAC; default: resolved from `gw_ip` by ARP.
    pub dst_mac: Option<[u8; 6]>,
    pub gw_ip: Option<Ipv4Addr>,
    pub xdp_mode: XdpMode,
    /// Frames per TX batch (1..=64).
    pub batch: usize,
    /// Print the live line each second.
    pub live: bool,
    /// rx mode: stop this long after the last stamped frame.
    pub idle_timeout: Duration,
    /// both mode: wait this long for stragglers after TX ends.
    pub drain: Duration,
    pub cpu: Option<usize>,
    pub seed: u64,
    /// counter-attach: the compiled XDP counter object.
    pub xdp_obj: Option<std::path::PathBuf>,
}

struct TxSide {
    port: TxPort,
    macs: MacPair,
    bucket: TokenBucket,
    rng: XorShift,
    flows: FlowPicker,
    sizes: SizePicker,
    sent: u64,
    bytes: u64,
    done_at: Option<u64>,
}

struct RxSide {
    port: RxPort,
    seq: SeqTracker,
    hist: hdrhistogram::Histogram<u64>,
    interval: hdrhistogram::Histogram<u64>,
    packets: u64,
    bytes: u64,
    foreign: u64,
    bad_ip: u64,
    first_ns: u64,
    last_ns: u64,
}

impl RxSide {
    fn poll(&mut self) -> usize {
        let now = monotonic_ns();
        let RxSide { port, seq, interval, packets, bytes, foreign, bad_ip, first_ns, last_ns, .. } = self;
        let mut stamped = 0u64;
        let n = port.poll(|frame| match parse_frame(frame) {
            Parsed::Stamped { stamp, ip_checksum_ok } => {
                seq.record(stamp.seq);
                interval.saturating_record(now.saturating_sub(stamp.tx_ns).max(1));
                *bytes += (frame.len() + FCS_LEN) as u64;
                *bad_ip += u64::from(!ip_checksum_ok);
                stamped += 1;
            }
            Parsed::Foreign => *foreign += 1,
        });
        if stamped > 0 {
            if *packets == 0 {
                *first_ns = now;
            }
            *packets += stamped;
            *last_ns = now;
        }
        n
    }
}

fn in_ns<T>(
    ns: Option<&str>,
    home: &Netns,
    f: impl FnOnce() -> Result<T, PktgenError>,
) -> Result<T, PktgenError> {
    match ns {
        None => f(),
        Some(name) => {
            Netns::named(name)?.enter()?;
            let r = f();
            home.enter()?;
            r
        }
    }
}

fn rate_of(count: u64, ns: u64) -> f64 {
    if ns == 0 {
        0.0
    } else {
        count as f64 * 1e9 / ns as f64
    }
}

/// counter-attach / counter-detach: attaches or detaches the XDP counter on `cfg.dev` (in
/// `cfg.netns`) and returns a one-line message.
pub fn counter_admin(cfg: &Config) -> Result<String, PktgenError> {
    sys::raise_memlock_limit();
    let home = Netns::current()?;
    let dev = cfg.dev.as_str();
    match cfg.mode {
        Mode::CounterAttach => {
            let obj = cfg.xdp_obj.as_deref().ok_or(PktgenError::BadArgument {
                what: "--xdp-obj (required by counter-attach)",
                value: String::new(),
            })?;
            let mode = in_ns(cfg.netns.as_deref(), &home, || counter::attach(dev, obj, cfg.xdp_mode))?;
            Ok(format!("pktgen: XDP counter attached to {dev} ({mode})"))
        }
        Mode::CounterDetach => {
            let done = in_ns(cfg.netns.as_deref(), &home, || counter::detach(dev))?;
            Ok(if done {
                format!("pktgen: XDP counter detached from {dev}")
            } else {
                format!("pktgen: no XDP program on {dev}")
            })
        }
        _ => Err(PktgenError::BadArgument { what: "mode for counter_admin", value: cfg.mode.name().into() }),
    }
}

/// Runs the generator until its count or duration is reached or `stop` is set.
pub fn run(cfg: &Config, stop: &AtomicBool) -> Result<Report, PktgenError> {
    sys::raise_memlock_limit();
    if let Some(cpu) = cfg.cpu {
        sys::pin_to_cpu(cpu)?;
    }
    let home = Netns::current()?;
    let batch = cfg.batch.clamp(1, BATCH);

    let (rx_dev, rx_ns) = match cfg.mode {
        Mode::Tx | Mode::Count | Mode::CounterAttach | Mode::CounterDetach => (None, None),
        Mode::Rx => (Some(cfg.dev.as_str()), cfg.netns.as_deref()),
        Mode::Both => {
            let dev = cfg.rx_dev.as_deref().ok_or(PktgenError::BadArgument {
                what: "--rx-dev (required in both mode)",
                value: String::new(),
            })?;
            (Some(dev), cfg.rx_netns.as_deref())
        }
    };

    let mut tx = if cfg.mode == Mode::Rx {
        None
    } else {
        let dev = cfg.dev.as_str();
        let (macs, port) = in_ns(cfg.netns.as_deref(), &home, || {
            let src = match cfg.src_mac {
                Some(m) => m,
                None => sys::device_mac(dev)?,
            };
            let dst = match (cfg.dst_mac, cfg.gw_ip) {
                (Some(m), _) => m,
                (None, Some(gw)) => sys::resolve_gateway_mac(dev, gw, Duration::from_secs(3))?,
                (None, None) => {
                    return Err(PktgenError::BadArgument {
                        what: "destination MAC: give --dst-mac or --gw-ip",
                        value: String::new(),
                    })
                }
            };
            Ok((MacPair { src, dst }, TxPort::open(dev, cfg.queue)?))
        })?;
        let now = monotonic_ns();
        Some(TxSide {
            port,
            macs,
            bucket: TokenBucket::new(
                cfg.rate_pps,
                TokenBucket::default_burst(cfg.rate_pps, batch as u64),
                now,
            ),
            rng: XorShift::new(cfg.seed),
            flows: FlowPicker::new(cfg.flow_order, cfg.flows.count()),
            sizes: SizePicker::new(cfg.size),
            sent: 0,
            bytes: 0,
            done_at: None,
        })
    };

    let mut rx = match rx_dev {
        None => None,
        Some(dev) => {
            let port = in_ns(rx_ns, &home, || RxPort::open(dev, cfg.queue, cfg.xdp_mode))?;
            Some(RxSide {
                port,
                seq: SeqTracker::new(),
                hist: new_latency_histogram(),
                interval: new_latency_histogram(),
                packets: 0,
                bytes: 0,
                foreign: 0,
                bad_ip: 0,
                first_ns: 0,
                last_ns: 0,
            })
        }
    };

    let mut counter = None;
    if cfg.mode == Mode::Count {
        let dev = cfg.rx_dev.as_deref().ok_or(PktgenError::BadArgument {
            what: "--rx-dev (required in count mode)",
            value: String::new(),
        })?;
        let mut c = in_ns(cfg.rx_netns.as_deref(), &home, || Counter::find(dev))?;
        let before = c.read(true)?;
        counter = Some((c, before));
    }

    let start = monotonic_ns();
    let end = cfg.duration.map(|d| start.saturating_add(d.as_nanos() as u64));
    let mut next_tick = start + 1_000_000_000;
    let (mut tick_tx, mut tick_rx) = (0u64, 0u64);
    let mut last_rx_activity = start;
    let mut loop_error = None;

    loop {
        let now = monotonic_ns();
        let stopping = stop.load(Ordering::Relaxed);
        let mut busy = false;

        if let Some(t) = tx.as_mut() {
            t.port.reclaim();
            if t.done_at.is_none() {
                let remaining = cfg.count.map_or(u64::MAX, |c| c.saturating_sub(t.sent));
                let want = (batch as u64).min(remaining).min(t.port.free_frames() as u64);
                let n = if want > 0 { t.bucket.take(now, want) } else { 0 };
                if n > 0 {
                    let TxSide { port, macs, rng, flows, sizes, sent, bytes, .. } = t;
                    let flow_set = &cfg.flows;
                    port.send_batch(n as usize, |data| {
                        let size = sizes.pick(rng);
                        data.cursor().set_pos(buffer_len(size));
                        let flow = flows.pick(rng);
                        let tuple: FlowTuple = flow_set.tuple(flow);
                        let stamp = Stamp { flow, seq: *sent as u32, tx_ns: now };
                        if !write_frame(data.contents_mut(), macs, &tuple, *sent as u16, &stamp) {
                            return false;
                        }
                        *sent += 1;
                        *bytes += u64::from(size);
                        true
                    });
                    busy = true;
                }
                let count_done = cfg.count.is_some_and(|c| t.sent >= c);
                let time_done = end.is_some_and(|e| now >= e);
                if count_done || time_done || stopping {
                    t.done_at = Some(now);
                }
            }
            if let Err(e) = t.port.kick() {
                loop_error = Some(e);
                break;
            }
        }

        if let Some(r) = rx.as_mut() {
            for _ in 0..4 {
                let n = r.poll();
                if n > 0 {
                    busy = true;
                    last_rx_activity = now;
                }
                if n < BATCH {
                    break;
                }
            }
        }

        if now >= next_tick {
            let secs = (now - start) as f64 / 1e9;
            let tx_n = tx.as_ref().map_or(0, |t| t.sent);
            let mut rx_n = rx.as_ref().map_or(0, |r| r.packets);
            if let Some((c, before)) = counter.as_mut() {
                rx_n = c.read(false).map_or(tick_rx, |s| s.stamped.saturating_sub(before.stamped));
            }
            let (dtx, drx) = (tx_n - tick_tx, rx_n - tick_rx);
            let mut p99 = 0;
            if let Some(r) = rx.as_mut() {
                if !r.interval.is_empty() {
                    p99 = r.interval.value_at_quantile(0.99);
                }
                let _ = r.hist.add(&r.interval);
                r.interval.reset();
            }
            if cfg.live {
                let loss = match (&tx, &rx) {
                    (Some(_), _) if counter.is_some() && dtx > 0 => (1.0 - drx as f64 / dtx as f64).max(0.0),
                    (Some(_), Some(_)) if dtx > 0 => (1.0 - drx as f64 / dtx as f64).max(0.0),
                    (None, Some(r)) => {
                        let exp = r.seq.highest().map_or(0, |h| h + 1);
                        if exp > 0 {
                            exp.saturating_sub(r.seq.unique) as f64 / exp as f64
                        } else {
                            0.0
                        }
                    }
                    _ => 0.0,
                };
                // count mode: the latency histogram is read once, at the end.
                let p99 =
                    if counter.is_some() { "-".to_string() } else { format!("{:.1}", p99 as f64 / 1000.0) };
                eprintln!(
                    "pktgen {:>5.1}s  tx {:>7.3} Mpps  rx {:>7.3} Mpps  loss {:>7.3}%  p99 {:>8} us",
                    secs,
                    dtx as f64 / 1e6,
                    drx as f64 / 1e6,
                    loss * 100.0,
                    p99
                );
            }
            tick_tx = tx_n;
            tick_rx = rx_n;
            next_tick += 1_000_000_000;
            if next_tick <= now {
                next_tick = now + 1_000_000_000;
            }
        }

        // Termination.
        let finished = match cfg.mode {
            Mode::Count => tx.as_ref().is_none_or(|t| {
                t.done_at.is_some_and(|d| stopping || now >= d + cfg.drain.as_nanos() as u64)
            }),
            Mode::CounterAttach | Mode::CounterDetach => true,
            Mode::Tx => tx.as_ref().is_some_and(|t| {
                t.done_at.is_some_and(|d| t.port.in_flight() == 0 || now >= d + 1_000_000_000)
            }),
            Mode::Both => {
                let t = tx.as_ref();
                let r = rx.as_ref();
                match (t, r) {
                    (Some(t), Some(r)) => t.done_at.is_some_and(|d| {
                        r.seq.unique >= t.sent || now >= d + cfg.drain.as_nanos() as u64 || stopping
                    }),
                    _ => true,
                }
            }
            Mode::Rx => rx.as_ref().is_none_or(|r| {
                stopping
                    || cfg.count.is_some_and(|c| r.seq.unique >= c)
                    || end.is_some_and(|e| now >= e)
                    || (r.packets > 0 && now.saturating_sub(r.last_ns) >= cfg.idle_timeout.as_nanos() as u64)
            }),
        };
        if finished {
            break;
        }

        if !busy {
            match (&mut tx, &mut rx) {
                (Some(t), None) if t.done_at.is_none() => {
                    let wait = t.bucket.wait_ns(now);
                    if wait > 200_000 {
                        std::thread::sleep(Duration::from_nanos(wait - 100_000));
                    } else {
                        std::hint::spin_loop();
                    }
                }
                (Some(_), None) if counter.is_some() => std::thread::sleep(Duration::from_millis(1)),
                (None, Some(r)) if now.saturating_sub(last_rx_activity) > 2_000_000 => r.port.wait(1),
                _ => std::hint::spin_loop(),
            }
        }
    }

    let mut report = Report {
        mode: cfg.mode.name().to_string(),
        xdp_mode: rx.as_ref().map_or(String::new(), |r| r.port.xdp_mode().to_string()),
        size: cfg.size.label(),
        flows: cfg.flows.count(),
        rate_pps: cfg.rate_pps,
        tx: None,
        rx: None,
        latency_cdf: None,
        generator_limited: None,
    };
    if let Some(t) = &tx {
        let ns = t.done_at.unwrap_or_else(monotonic_ns).saturating_sub(start);
        report.tx = Some(TxReport {
            device: t.port.device().to_string(),
            packets: t.sent,
            bytes: t.bytes,
            seconds: ns as f64 / 1e9,
            pps: rate_of(t.sent, ns),
            gbps: rate_of(t.bytes, ns) * 8.0 / 1e9,
            tx_invalid_descs: t.port.tx_invalid_descs(),
            frames_per_kick: t.port.tx_budget().unwrap_or(32),
        });
    }
    if let Some(r) = &mut rx {
        let _ = r.hist.add(&r.interval);
        let ns = r.last_ns.saturating_sub(r.first_ns);
        let expected = r.seq.highest().map_or(0, |h| h + 1);
        let base = tx.as_ref().map_or(expected, |t| t.sent);
        let lost = base.saturating_sub(r.seq.unique);
        let (dropped, ring_full, fill_empty) = r.port.xdp_stats();
        report.rx = Some(RxReport {
            device: r.port.device().to_string(),
            packets: r.packets,
            bytes: r.bytes,
            seconds: ns as f64 / 1e9,
            pps: rate_of(r.packets, ns),
            gbps: rate_of(r.bytes, ns) * 8.0 / 1e9,
            unique: r.seq.unique,
            duplicates: r.seq.duplicates,
            reordered: r.seq.reordered,
            foreign: r.foreign,
            bad_ip_checksum: r.bad_ip,
            expected,
            lost,
            loss_ratio: if base > 0 { lost as f64 / base as f64 } else { 0.0 },
            latency: LatencySummary::from_histogram(&r.hist),
            xdp_rx_dropped: dropped,
            xdp_rx_ring_full: ring_full,
            xdp_fill_ring_empty: fill_empty,
        });
    }
    if let (Some((c, before)), Some(t)) = (counter.as_mut(), &report.tx) {
        let got = c.read(true)?.since(before);
        let (hist, cdf) = counter::histogram_of(&got.buckets);
        let ns = (t.seconds * 1e9) as u64;
        let lost = t.packets.saturating_sub(got.stamped);
        let rx_pps = rate_of(got.stamped, ns);
        report.xdp_mode = "xdp-counter".to_string();
        report.generator_limited =
            Some(if cfg.rate_pps == 0 { rx_pps >= 0.97 * t.pps } else { t.pps < 0.97 * cfg.rate_pps as f64 });
        report.rx = Some(RxReport {
            device: c.device().to_string(),
            packets: got.stamped,
            bytes: got.bytes + got.stamped * FCS_LEN as u64,
            seconds: t.seconds,
            pps: rx_pps,
            gbps: rate_of(got.bytes + got.stamped * FCS_LEN as u64, ns) * 8.0 / 1e9,
            unique: got.stamped,
            duplicates: 0,
            reordered: 0,
            foreign: got.other,
            bad_ip_checksum: 0,
            expected: t.packets,
            lost,
            loss_ratio: if t.packets > 0 { lost as f64 / t.packets as f64 } else { 0.0 },
            latency: LatencySummary::from_histogram(&hist),
            xdp_rx_dropped: 0,
            xdp_rx_ring_full: 0,
            xdp_fill_ring_empty: 0,
        });
        report.latency_cdf = Some(cdf);
    }
    drop(tx);
    if let Some(r) = rx {
        in_ns(rx_ns, &home, || {
            r.port.close();
            Ok(())
        })?;
    }
    match loop_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}
