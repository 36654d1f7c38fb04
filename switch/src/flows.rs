//! Flow statistics (`show ip flow top-talkers`): each worker counts packets and bytes per
//! unidirectional flow (tenant, source, destination, protocol, ports) in a fixed-size table
//! of its own ([`FlowTable`]: open addressing over [`FLOW_SLOTS`] slots, [`PROBE`] slots
//! searched per key, the smallest flow of those evicted when all are taken), without lock
//! or allocation. Every ~500 ms the worker copies its table into a preallocated slot of an
//! `rtrb` SPSC ring ([`FlowPublisher`]); the [`FlowReader`] (polled by the binary every ~50 ms
//! and on every read) keeps the latest table
//! of each worker and merges them by key. Counts are cumulative since start; an evicted
//! flow's counts are lost (the table favours the heavy flows, as top-talkers wants).
//!
//! The flow key is read from the received frame before the pipeline rewrites it (the inner
//! packet of a VXLAN frame on an uplink) and the tenant from the pipeline's classification.

use crate::pipeline::{Meta, BATCH, NO_TENANT};
use crate::port::FrameBuf;
use std::net::Ipv4Addr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Slots of one worker's flow table (a power of two).
pub const FLOW_SLOTS: usize = 1024;
/// Slots searched for one key before evicting.
pub const PROBE: usize = 4;
/// Interval between two published tables of one worker.
pub const PUBLISH_INTERVAL: Duration = Duration::from_millis(500);
/// UDP port of VXLAN (frames to it are counted by their inner packet).
const VXLAN_PORT: u16 = 4789;

/// One unidirectional flow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    pub tenant: u16,
    pub src: u32,
    pub dst: u32,
    pub proto: u8,
    /// TCP/UDP ports; ICMP: type and code in `sport`, 0 in `dport`.
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    pub fn src_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.src)
    }
    pub fn dst_ip(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.dst)
    }
    #[inline]
    fn hash(&self) -> usize {
        // FNV-1a over the key's fields (cheap, no allocation, stable).
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |v: u64| {
            h ^= v;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        };
        mix(self.tenant as u64);
        mix(self.src as u64);
        mix(self.dst as u64);
        mix(((self.proto as u64) << 32) | ((self.sport as u64) << 16) | self.dport as u64);
        (h ^ (h >> 29)) as usize
    }
}

/// Packets and bytes of one flow; `packets == 0` marks an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowRecord {
    pub key: FlowKey,
    pub packets: u64,
    /// Bytes of the frames as received (Ethernet header included).
    pub bytes: u64,
}

/// The 5-tuple of a frame (without tenant) and its length, read before the pipeline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowSample {
    pub valid: bool,
    pub key: FlowKey,
    pub len: u32,
}

/// Reads the flow key of an Ethernet frame: IPv4 with its TCP/UDP ports (ICMP type/code),
/// the inner packet for VXLAN. None for anything else or a truncated frame.
pub fn flow_of(frame: &[u8]) -> Option<FlowKey> {
    flow_at(frame, 0, true)
}

fn flow_at(frame: &[u8], eth: usize, outer: bool) -> Option<FlowKey> {
    let be16 = |o: usize| -> Option<u16> { Some(u16::from_be_bytes([*frame.get(o)?, *frame.get(o + 1)?])) };
    let mut off = eth + 12;
    let mut ethertype = be16(off)?;
    if ethertype == 0x8100 {
        off += 4;
        ethertype = be16(off)?;
    }
    if ethertype != 0x0800 {
        return None;
    }
    let ip = off + 2;
    let hdr = frame.get(ip..ip + 20)?;
    let ihl = ((hdr[0] & 0x0f) as usize) * 4;
    if hdr[0] >> 4 != 4 || ihl < 20 {
        return None;
    }
    let proto = hdr[9];
    let src = u32::from_be_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
    let dst = u32::from_be_bytes([hdr[16], hdr[17], hdr[18], hdr[19]]);
    // Ports only in the first fragment.
    let first_fragment = u16::from_be_bytes([hdr[6], hdr[7]]) & 0x1fff == 0;
    let l4 = ip + ihl;
    let (sport, dport) = match proto {
        6 | 17 if first_fragment => (be16(l4).unwrap_or(0), be16(l4 + 2).unwrap_or(0)),
        1 if first_fragment => (be16(l4).unwrap_or(0), 0),
        _ => (0, 0),
    };
    if outer && proto == 17 && dport == VXLAN_PORT {
        // UDP header (8) + VXLAN header (8), then the inner Ethernet frame.
        if let Some(inner) = flow_at(frame, l4 + 16, false) {
            return Some(inner);
        }
    }
    Some(FlowKey { tenant: 0, src, dst, proto, sport, dport })
}

/// One worker's flow table: fixed size, allocated once.
pub struct FlowTable {
    slots: Box<[FlowRecord]>,
    /// Flows evicted to make room (their counts are lost).
    pub evictions: u64,
}

impl Default for FlowTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FlowTable {
    pub fn new() -> Self {
        FlowTable { slots: vec![FlowRecord::default(); FLOW_SLOTS].into_boxed_slice(), evictions: 0 }
    }

    /// Counts one frame of `bytes` bytes of flow `key`. No allocation.
    #[inline]
    pub fn count(&mut self, key: FlowKey, bytes: u64) {
        let base = key.hash();
        let mut victim = base & (FLOW_SLOTS - 1);
        let mut victim_bytes = u64::MAX;
        for i in 0..PROBE {
            let idx = (base + i) & (FLOW_SLOTS - 1);
            let r = &mut self.slots[idx];
            if r.packets == 0 {
                *r = FlowRecord { key, packets: 1, bytes };
                return;
            }
            if r.key == key {
                r.packets += 1;
                r.bytes += bytes;
                return;
            }
            if r.bytes < victim_bytes {
                victim_bytes = r.bytes;
                victim = idx;
            }
        }
        self.evictions += 1;
        self.slots[victim] = FlowRecord { key, packets: 1, bytes };
    }

    /// The slots (empty ones have `packets == 0`).
    pub fn records(&self) -> &[FlowRecord] {
        &self.slots
    }
}

/// One worker's table as published.
pub struct FlowSnapshot {
    pub worker: usize,
    pub records: [FlowRecord; FLOW_SLOTS],
    pub evictions: u64,
}

/// Worker side: the table, the samples of the batch in flight and the ring to the reader.
pub struct FlowPublisher {
    worker: usize,
    table: FlowTable,
    samples: [FlowSample; BATCH],
    producer: rtrb::Producer<FlowSnapshot>,
    last: Option<Instant>,
    /// Tables not published because the ring was full.
    pub lost: u64,
}

impl FlowPublisher {
    /// Before the pipeline: reads the flow key and length of each received frame.
    #[inline]
    pub fn sample_batch<B: FrameBuf>(&mut self, buf: &B, descs: &[B::Desc]) {
        for (s, d) in self.samples.iter_mut().zip(descs) {
            let data = buf.data(d);
            match flow_of(data) {
                Some(key) => *s = FlowSample { valid: true, key, len: data.len() as u32 },
                None => s.valid = false,
            }
        }
    }

    /// After the pipeline: counts the sampled frames of `meta[..n]` that were classified to a
    /// tenant (frames dropped before classification are not counted).
    #[inline]
    pub fn count_batch(&mut self, meta: &[Meta], n: usize) {
        for (s, m) in self.samples.iter().zip(meta).take(n) {
            if s.valid && m.tenant != NO_TENANT {
                let mut key = s.key;
                key.tenant = m.tenant.0;
                self.table.count(key, s.len as u64);
            }
        }
    }

    /// The worker's table so far.
    pub fn table(&self) -> &FlowTable {
        &self.table
    }

    /// Publishes the table when [`PUBLISH_INTERVAL`] has passed (or `force`). Never blocks.
    pub fn maybe_publish(&mut self, now: Instant, force: bool) {
        if !force && matches!(self.last, Some(l) if now.saturating_duration_since(l) < PUBLISH_INTERVAL) {
            return;
        }
        self.last = Some(now);
        let Ok(chunk) = self.producer.write_chunk_uninit(1) else {
            self.lost += 1;
            return;
        };
        let (worker, evictions, slots) = (self.worker, self.table.evictions, &self.table.slots);
        // Fill the ring slot in place: the 40 KB table is copied once, never on the stack.
        let n = chunk.fill_from_iter(std::iter::once_with(|| {
            let mut records = [FlowRecord::default(); FLOW_SLOTS];
            records.copy_from_slice(slots);
            FlowSnapshot { worker, records, evictions }
        }));
        if n == 0 {
            self.lost += 1;
        }
    }
}

/// Creates worker `worker`'s flow ring: the publisher goes to the worker, the consumer to
/// [`FlowReader::new`].
pub fn channel(worker: usize) -> (FlowPublisher, rtrb::Consumer<FlowSnapshot>) {
    let (producer, consumer) = rtrb::RingBuffer::new(2);
    (
        FlowPublisher {
            worker,
            table: FlowTable::new(),
            samples: [FlowSample::default(); BATCH],
            producer,
            last: None,
            lost: 0,
        },
        consumer,
    )
}

/// One merged flow as the shell shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTotal {
    pub key: FlowKey,
    pub packets: u64,
    pub bytes: u64,
}

struct ReaderInner {
    consumers: Vec<rtrb::Consumer<FlowSnapshot>>,
    latest: Vec<Option<Box<[FlowRecord]>>>,
    evictions: Vec<u64>,
}

/// Shell side: drains the workers' rings on each read and merges their latest tables.
pub struct FlowReader {
    inner: Mutex<ReaderInner>,
}

impl FlowReader {
    pub fn new(consumers: Vec<rtrb::Consumer<FlowSnapshot>>) -> FlowReader {
        let n = consumers.len();
        FlowReader {
            inner: Mutex::new(ReaderInner { consumers, latest: vec![None; n], evictions: vec![0; n] }),
        }
    }

    /// Drains every worker's ring, keeping its newest table. Call it regularly (the binary
    /// does, every ~50 ms): a worker whose ring is full cannot publish newer tables.
    pub fn poll(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::drain(&mut g);
    }

    fn drain(g: &mut ReaderInner) {
        let ReaderInner { consumers, latest, evictions } = g;
        for (i, c) in consumers.iter_mut().enumerate() {
            while let Ok(chunk) = c.read_chunk(1) {
                for snap in chunk.into_iter() {
                    if let (Some(slot), Some(ev)) = (latest.get_mut(i), evictions.get_mut(i)) {
                        match slot {
                            Some(t) => t.copy_from_slice(&snap.records),
                            None => *slot = Some(snap.records.to_vec().into_boxed_slice()),
                        }
                        *ev = snap.evictions;
                    }
                }
            }
        }
    }

    /// Flows of `tenant` (None: every tenant) by bytes, largest first, at most `n`.
    pub fn top(&self, tenant: Option<u16>, n: usize) -> Vec<FlowTotal> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Self::drain(&mut g);
        let latest = &g.latest;
        let mut merged: std::collections::HashMap<FlowKey, (u64, u64)> = std::collections::HashMap::new();
        for r in latest.iter().flatten().flat_map(|t| t.iter()) {
            if r.packets == 0 || tenant.is_some_and(|t| t != r.key.tenant) {
                continue;
            }
            let e = merged.entry(r.key).or_default();
            e.0 += r.packets;
            e.1 += r.bytes;
        }
        let mut v: Vec<FlowTotal> =
            merged.into_iter().map(|(key, (packets, bytes))| FlowTotal { key, packets, bytes }).collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.key.cmp(&b.key)));
        v.truncate(n);
        v
    }

    /// Flows evicted so far, summed over workers.
    pub fn evictions(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).evictions.iter().sum()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use rib::TenantId;

    fn key(src: u32, sport: u16) -> FlowKey {
        FlowKey { tenant: 0, src, dst: 1, proto: 17, sport, dport: 53 }
    }

    #[test]
    fn flow_of_reads_udp_icmp_and_vxlan_inner() {
        let u = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 4000, 53, b"hello");
        assert_eq!(
            flow_of(&u),
            Some(FlowKey {
                tenant: 0,
                src: u32::from(IP_A),
                dst: u32::from(IP_H),
                proto: 17,
                sport: 4000,
                dport: 53
            })
        );
        let p = echo_request(MAC_A, MAC_J0, Some(7), IP_A, IP_H, 64, 1, 1, 8);
        assert_eq!(flow_of(&p).map(|k| (k.proto, k.sport, k.dport)), Some((1, 8 << 8, 0)));
        let mut payload = vec![0x08, 0, 0, 0, 0, 0, 0x17, 0];
        payload.extend_from_slice(&u);
        let v = udp_frame(MAC_PEER, MAC_UP, IP_PEER, IP_VTEP, 64, 5555, 4789, &payload);
        assert_eq!(flow_of(&v), flow_of(&u), "inner packet of VXLAN");
        assert_eq!(flow_of(&arp_request(MAC_A, IP_A, IP_J0)), None);
        for cut in 0..u.len() {
            let _ = flow_of(&u[..cut]);
        }
        assert_eq!(flow_of(&u[..20]), None);
    }

    #[test]
    fn table_counts_and_evicts_the_smallest_of_a_full_probe_window() {
        let mut t = FlowTable::new();
        t.count(key(1, 1), 100);
        t.count(key(1, 1), 50);
        let r: Vec<_> = t.records().iter().filter(|r| r.packets > 0).collect();
        assert_eq!((r.len(), r[0].packets, r[0].bytes), (1, 2, 150));
        // Many flows: the table stays within its slots and counts evictions.
        for i in 0..(FLOW_SLOTS as u32 * 2) {
            t.count(key(i + 10, 2), 10 + i as u64);
        }
        assert!(t.evictions > 0);
        assert!(t.records().iter().filter(|r| r.packets > 0).count() <= FLOW_SLOTS);
    }

    #[test]
    fn published_tables_merge_across_workers_by_tenant() {
        let (mut p0, c0) = channel(0);
        let (mut p1, c1) = channel(1);
        let reader = FlowReader::new(vec![c0, c1]);
        let mut meta = [Meta::EMPTY; BATCH];
        meta[0].tenant = TenantId(0);
        meta[1].tenant = TenantId(1);
        meta[2].tenant = NO_TENANT; // dropped before classification
        let big = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 4000, 53, &[0; 100]);
        let small = echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 1, 1, 8);
        for p in [&mut p0, &mut p1] {
            p.samples[0] = FlowSample { valid: true, key: flow_of(&big).unwrap(), len: big.len() as u32 };
            p.samples[1] = FlowSample { valid: true, key: flow_of(&small).unwrap(), len: small.len() as u32 };
            p.samples[2] = p.samples[0];
            p.count_batch(&meta, 3);
            p.maybe_publish(Instant::now(), false);
        }
        let top = reader.top(Some(0), 10);
        assert_eq!(top.len(), 1);
        assert_eq!((top[0].packets, top[0].bytes, top[0].key.sport), (2, 2 * big.len() as u64, 4000));
        let all = reader.top(None, 10);
        assert_eq!(all.iter().map(|f| f.key.tenant).collect::<Vec<_>>(), vec![0, 1], "by bytes");
        assert_eq!(reader.top(None, 1).len(), 1);
        // Within the interval nothing new is published; forced it is.
        p0.samples[0].valid = true;
        p0.count_batch(&meta, 1);
        p0.maybe_publish(Instant::now(), false);
        assert_eq!(reader.top(Some(0), 10)[0].packets, 2);
        p0.maybe_publish(Instant::now(), true);
        assert_eq!(reader.top(Some(0), 10)[0].packets, 3);
    }

    #[test]
    fn a_full_ring_keeps_old_tables_until_the_reader_polls() {
        let (mut p, c) = channel(0);
        let reader = FlowReader::new(vec![c]);
        let mut meta = [Meta::EMPTY; BATCH];
        meta[0].tenant = TenantId(0);
        let f = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 1, 2, &[]);
        p.samples[0] = FlowSample { valid: true, key: flow_of(&f).unwrap(), len: f.len() as u32 };
        let count_and_publish = |p: &mut FlowPublisher| {
            p.count_batch(&meta, 1);
            p.maybe_publish(Instant::now(), true);
        };
        for _ in 0..3 {
            count_and_publish(&mut p);
        }
        assert_eq!(p.lost, 1, "ring of 2");
        reader.poll();
        count_and_publish(&mut p);
        assert_eq!(reader.top(None, 1)[0].packets, 4, "polled, the newest table gets through");
    }
}
