//! Fuzz target: arbitrary bytes as a frame received on each port of the default topology (one
//! of them tagged) and as an injected probe; the pipeline must not panic and must account for
//! every frame (transmitted, or counted under one drop reason).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::Instant;
use switch::pipeline::{Batch, Ingress, Pipeline};
use switch::port::{FrameBuf, MemPorts, Ports};
use switch::stats::WorkerCounters;
use switch::testkit::*;

fuzz_target!(|data: &[u8]| {
    static FIB: OnceLock<rib::FibSnapshot> = OnceLock::new();
    let fib = FIB.get_or_init(|| default_fib_opts(Some(10), |_, _| {}));
    let mut ports = MemPorts::new(3, 16);
    let mut pipeline = Pipeline::new();
    let mut counters = WorkerCounters::default();
    let mut frames = 0u64;
    for ingress in [Ingress::Port(PORT_A), Ingress::Port(PORT_H), Ingress::Port(PORT_B), Ingress::Router(ROUTER_J)] {
        let Some(mut d) = ports.alloc() else { return };
        if data.len() > ports.capacity() || !ports.set_len(&mut d, data.len()) {
            ports.recycle(&[d]);
            continue;
        }
        ports.data_mut(&d).copy_from_slice(data);
        let mut batch = Batch::new(ingress);
        batch.desc[0] = d;
        batch.reset(ingress, 1);
        pipeline.run(&mut ports, &mut batch, fib, None, &mut counters, Instant::now());
        frames += 1;
    }
    let out = counters.tx_packets();
    assert_eq!(counters.total_drops() + out - counters.icmp_errors, frames);
    for p in [PORT_A, PORT_H, PORT_B] {
        ports.discard_tx(p);
    }
    assert_eq!(ports.free_frames(), 16);
});
