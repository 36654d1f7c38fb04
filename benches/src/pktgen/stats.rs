//! Receive-side accounting for pktgen: sequence tracking (unwrapping the stamp's 32-bit sequence,
//! duplicates and reordering in a sliding bitmap window), one-way latency in an hdrhistogram, and
//! the serializable report structs printed at the end (text and JSON).

use hdrhistogram::Histogram;
use serde::Serialize;

/// Sequence numbers tracked for duplicates behind the highest one seen (a power of two).
pub const SEQ_WINDOW: u64 = 1 << 22;

/// Sequence bookkeeping of one receive stream.
#[derive(Debug)]
pub struct SeqTracker {
    bits: Vec<u64>,
    highest: Option<u64>,
    /// Distinct sequence numbers received.
    pub unique: u64,
    /// Frames whose sequence number was already received (inside the window).
    pub duplicates: u64,
    /// Frames that arrived after a frame with a higher sequence number.
    pub reordered: u64,
    /// Reordered frames too far behind to check for duplication (counted as unique).
    pub too_late: u64,
}

impl Default for SeqTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl SeqTracker {
    pub fn new() -> Self {
        SeqTracker {
            bits: vec![0; (SEQ_WINDOW / 64) as usize],
            highest: None,
            unique: 0,
            duplicates: 0,
            reordered: 0,
            too_late: 0,
        }
    }

    /// Highest (unwrapped) sequence number seen.
    pub fn highest(&self) -> Option<u64> {
        self.highest
    }

    /// Extends a 32-bit sequence number to the 64-bit value closest to the highest seen.
    fn unwrap(&self, seq32: u32) -> u64 {
        let Some(h) = self.highest else { return u64::from(seq32) };
        let base = h & !0xffff_ffff;
        let cand = base | u64::from(seq32);
        let span = 1u64 << 32;
        let dist = |c: u64| c.abs_diff(h);
        let mut best = cand;
        if cand >= span && dist(cand - span) < dist(best) {
            best = cand - span;
        }
        if dist(cand + span) < dist(best) {
            best = cand + span;
        }
        best
    }

    #[inline]
    fn slot(seq: u64) -> (usize, u64) {
        let i = seq % SEQ_WINDOW;
        ((i / 64) as usize, 1u64 << (i % 64))
    }

    fn clear_range(&mut self, from: u64, to_inclusive: u64) {
        if to_inclusive - from + 1 >= SEQ_WINDOW {
            self.bits.iter_mut().for_each(|w| *w = 0);
            return;
        }
        for s in from..=to_inclusive {
            let (w, m) = Self::slot(s);
            self.bits[w] &= !m;
        }
    }

    /// Records one received frame's sequence number and returns its unwrapped value.
    pub fn record(&mut self, seq32: u32) -> u64 {
        let seq = self.unwrap(seq32);
        match self.highest {
            Some(h) if seq <= h => {
                if h - seq >= SEQ_WINDOW {
                    self.too_late += 1;
                    self.reordered += 1;
                    self.unique += 1;
                    return seq;
                }
                let (w, m) = Self::slot(seq);
                if self.bits[w] & m != 0 {
                    self.duplicates += 1;
                } else {
                    self.bits[w] |= m;
                    self.unique += 1;
                    self.reordered += 1;
                }
            }
            prev => {
                if let Some(h) = prev {
                    self.clear_range(h + 1, seq);
                }
                self.highest = Some(seq);
                let (w, m) = Self::slot(seq);
                self.bits[w] |= m;
                self.unique += 1;
            }
        }
        seq
    }
}

/// One-way latency percentiles in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub samples: u64,
    pub min_ns: u64,
    pub mean_ns: f64,
    pub p50_ns: u64,
    pub p90_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
}

impl LatencySummary {
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            samples: h.len(),
            min_ns: h.min(),
            mean_ns: h.mean(),
            p50_ns: h.value_at_quantile(0.50),
            p90_ns: h.value_at_quantile(0.90),
            p99_ns: h.value_at_quantile(0.99),
            p999_ns: h.value_at_quantile(0.999),
            max_ns: h.max(),
        }
    }
}

/// A latency histogram for 1 ns .. 100 s at 3 significant digits (values above are clamped).
pub fn new_latency_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low >= 1, high >= 2 * low, 3 digits): this cannot fail.
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("constant histogram bounds are valid")
}

/// Transmit side of the final report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TxReport {
    pub device: String,
    pub packets: u64,
    /// Frame bytes counting the 4-byte FCS, like `--size`.
    pub bytes: u64,
    pub seconds: f64,
    pub pps: f64,
    /// Layer-2 bit rate (frame bytes with FCS × 8), without preamble and inter-frame gap.
    pub gbps: f64,
    /// Frames the kernel reported as invalid TX descriptors.
    pub tx_invalid_descs: u64,
    /// Frames one copy-mode kick (sendto) transmits: 32, or more where the kernel took
    /// `XDP_MAX_TX_SKB_BUDGET`.
    pub frames_per_kick: u32,
}

/// Receive side of the final report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RxReport {
    pub device: String,
    /// Stamped frames received, duplicates included.
    pub packets: u64,
    /// Bytes of stamped frames, counting the 4-byte FCS.
    pub bytes: u64,
    /// From the first to the last stamped frame.
    pub seconds: f64,
    pub pps: f64,
    pub gbps: f64,
    pub unique: u64,
    pub duplicates: u64,
    pub reordered: u64,
    /// Frames not sent by pktgen (ARP, IPv6, …) seen on the RX socket.
    pub foreign: u64,
    /// Stamped frames whose IPv4 header checksum did not verify.
    pub bad_ip_checksum: u64,
    /// Highest sequence number received + 1 (an estimate of what was sent when TX is elsewhere).
    pub expected: u64,
    /// Frames lost: `tx.packets - unique` when TX ran in this process, else `expected - unique`.
    pub lost: u64,
    pub loss_ratio: f64,
    pub latency: LatencySummary,
    /// Kernel AF_XDP socket statistics: drops because the RX ring was full / no fill-ring frames.
    pub xdp_rx_dropped: u64,
    pub xdp_rx_ring_full: u64,
    pub xdp_fill_ring_empty: u64,
}

/// The whole final report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub mode: String,
    /// "native" or "generic": the XDP mode the RX program got (empty without RX).
    pub xdp_mode: String,
    pub size: String,
    pub flows: u32,
    pub rate_pps: u64,
    pub tx: Option<TxReport>,
    pub rx: Option<RxReport>,
    /// `count` mode: one-way latency CDF points `[ns, fraction of frames <= ns]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_cdf: Option<Vec<[f64; 2]>>,
    /// `count` mode: whether the generator, not the path, set the figure: with unlimited rate,
    /// the path delivered >= 97% of what was offered (the path may forward more); with a set
    /// rate, the generator offered < 97% of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator_limited: Option<bool>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Report {
    /// The human-readable final report.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "pktgen {} | size {} | flows {} | rate {}\n",
            self.mode,
            self.size,
            self.flows,
            if self.rate_pps == 0 { "unlimited".to_string() } else { format!("{} pps", self.rate_pps) }
        ));
        if let Some(tx) = &self.tx {
            s.push_str(&format!(
                "TX {}: {} packets in {:.3} s = {:.3} Mpps, {:.3} Gbps ({} frames per kick)\n",
                tx.device,
                tx.packets,
                tx.seconds,
                tx.pps / 1e6,
                tx.gbps,
                tx.frames_per_kick
            ));
        }
        if let Some(rx) = &self.rx {
            s.push_str(&format!(
                "RX {} ({} XDP): {} packets in {:.3} s = {:.3} Mpps, {:.3} Gbps\n",
                rx.device,
                self.xdp_mode,
                rx.packets,
                rx.seconds,
                rx.pps / 1e6,
                rx.gbps
            ));
            s.push_str(&format!(
                "   unique {} lost {} ({:.4}%) duplicates {} reordered {} foreign {} bad-ip-csum {}\n",
                rx.unique,
                rx.lost,
                rx.loss_ratio * 100.0,
                rx.duplicates,
                rx.reordered,
                rx.foreign,
                rx.bad_ip_checksum
            ));
            let l = &rx.latency;
            s.push_str(&format!(
                "   latency us: min {:.1} p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} ({} samples)\n",
                us(l.min_ns),
                us(l.p50_ns),
                us(l.p90_ns),
                us(l.p99_ns),
                us(l.p999_ns),
                us(l.max_ns),
                l.samples
            ));
            if self.xdp_mode == "xdp-counter" {
                return s + &self.generator_note();
            }
            s.push_str(&format!(
                "   xdp socket: rx_dropped {} rx_ring_full {} fill_ring_empty {}\n",
                rx.xdp_rx_dropped, rx.xdp_rx_ring_full, rx.xdp_fill_ring_empty
            ));
        }
        s + &self.generator_note()
    }

    fn generator_note(&self) -> String {
        let mut s = String::new();
        if self.generator_limited == Some(true) {
            s.push_str(if self.rate_pps == 0 {
                "WARNING: generator-limited: the path delivered >= 97% of what was offered; its own limit may be higher\n"
            } else {
                "WARNING: generator-limited: pktgen offered < 97% of the requested rate\n"
            });
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn in_order_stream_is_complete() {
        let mut t = SeqTracker::new();
        for s in 0..1000u32 {
            t.record(s);
        }
        assert_eq!((t.unique, t.duplicates, t.reordered), (1000, 0, 0));
        assert_eq!(t.highest(), Some(999));
    }

    #[test]
    fn gaps_duplicates_and_reordering() {
        let mut t = SeqTracker::new();
        for s in [0u32, 1, 3, 2, 3, 5, 1] {
            t.record(s);
        }
        assert_eq!(t.unique, 5); // 0 1 2 3 5
        assert_eq!(t.duplicates, 2); // second 3, second 1
        assert_eq!(t.reordered, 1); // 2 after 3
        assert_eq!(t.highest(), Some(5));
    }

    #[test]
    fn window_slots_are_reused_after_the_window_moves() {
        let mut t = SeqTracker::new();
        t.record(0);
        // Same slot one window later: a new frame, not a duplicate.
        let far = SEQ_WINDOW as u32;
        t.record(far);
        assert_eq!((t.unique, t.duplicates), (2, 0));
        // Far behind the window: counted as late, never as a duplicate.
        t.record(0);
        assert_eq!((t.unique, t.too_late, t.duplicates), (3, 1, 0));
    }

    #[test]
    fn sequence_unwraps_past_32_bits() {
        let mut t = SeqTracker::new();
        t.record(u32::MAX - 1);
        t.record(u32::MAX);
        assert_eq!(t.record(0), 1u64 << 32);
        assert_eq!(t.record(1), (1u64 << 32) + 1);
        assert_eq!((t.unique, t.reordered, t.duplicates), (4, 0, 0));
        // A late frame from before the wrap is still placed before it.
        assert_eq!(t.record(u32::MAX), u64::from(u32::MAX));
        assert_eq!(t.duplicates, 1);
    }

    #[test]
    fn latency_summary_reads_the_histogram() {
        let mut h = new_latency_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let l = LatencySummary::from_histogram(&h);
        assert_eq!(l.samples, 1000);
        assert!((499_000..=501_000).contains(&l.p50_ns), "{l:?}");
        assert!((989_000..=991_000).contains(&l.p99_ns), "{l:?}");
        assert!(l.max_ns >= 999_000 && l.min_ns <= 1001, "{l:?}");
        assert_eq!(LatencySummary::from_histogram(&new_latency_histogram()).samples, 0);
    }
}
