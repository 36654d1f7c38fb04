//! Criterion bench of the stats transport: one worker snapshot (`WorkerCounters`, a few KiB
//! of plain counters) pushed through the rtrb SPSC ring and popped by the collector, plus the
//! reader's aggregation (`StatsReader::totals`) over four workers.
//! Run: `cargo bench -p vnswitch-benches --bench stats_ring -- --measurement-time 3`.

use criterion::Criterion;
use std::hint::black_box;
use std::time::Instant;
use switch::stats::{channel, StatsCollector, WorkerCounters};

fn bench(c: &mut Criterion) {
    let mut counters = WorkerCounters::default();
    counters.ports[0].rx_packets = 1;
    let (mut publisher, mut consumer) = channel(0, 16);
    let now = Instant::now();
    c.bench_function("stats_ring/push_pop_snapshot", |b| {
        b.iter(|| {
            counters.batches += 1;
            publisher.publish(black_box(&counters), now, false);
            black_box(consumer.pop().ok());
        })
    });

    let mut publishers = Vec::new();
    let mut consumers = Vec::new();
    for i in 0..4 {
        let (p, c) = channel(i, 16);
        publishers.push(p);
        consumers.push(c);
    }
    let (mut collector, reader) = StatsCollector::new(consumers);
    for p in publishers.iter_mut() {
        p.publish(&counters, now, false);
    }
    collector.poll();
    c.bench_function("stats_ring/collect_4_workers", |b| {
        b.iter(|| {
            for p in publishers.iter_mut() {
                p.publish(&counters, now, false);
            }
            black_box(collector.poll());
        })
    });
    c.bench_function("stats_ring/reader_totals_4_workers", |b| b.iter(|| black_box(reader.totals())));
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
