//! Fuzz target: arbitrary bytes as a frame received on each port (one of them tagged, one a
//! substrate uplink where VXLAN decap runs) and as an injected probe, on the default FIB and on
//! the substrate FIB (remote hosts behind VXLAN tunnels); the pipeline must not panic and must
//! account for every frame (transmitted, or counted under one drop reason).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::time::Instant;
use switch::pipeline::{Batch, Ingress, Pipeline};
use switch::port::{FrameBuf, MemPorts, Ports};
use switch::stats::WorkerCounters;
use switch::testkit::*;

/// Built once per process: the FIBs, the pipeline and the counters (sized for 4096 tenants,
/// so building them per input would cost more than the run itself).
struct State {
    fibs: [rib::FibSnapshot; 2],
    pipeline: Pipeline,
    counters: WorkerCounters,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State {
        fibs: [default_fib_opts(Some(10), |_, _| {}), substrate_fib(Some(None))],
        pipeline: Pipeline::new(),
        counters: WorkerCounters::default(),
    });
}

fuzz_target!(|data: &[u8]| {
    STATE.with(|state| {
        let state = &mut *state.borrow_mut();
        let ingresses =
            [Ingress::Port(PORT_A), Ingress::Port(PORT_H), Ingress::Port(PORT_B), Ingress::Port(PORT_UP), Ingress::Router(ROUTER_J)];
        for fib in &state.fibs {
            let mut ports = MemPorts::new(4, 16);
            let counters = &mut state.counters;
            let (drops0, out0, icmp0) = (counters.total_drops(), counters.tx_packets(), counters.icmp_errors);
            let mut frames = 0u64;
            for ingress in ingresses {
                let Some(mut d) = ports.alloc() else { return };
                if data.len() > ports.capacity() || !ports.set_len(&mut d, data.len()) {
                    ports.recycle(&[d]);
                    continue;
                }
                ports.data_mut(&d).copy_from_slice(data);
                let mut batch = Batch::new(ingress);
                batch.desc[0] = d;
                batch.reset(ingress, 1);
                state.pipeline.run(&mut ports, &mut batch, fib, None, counters, Instant::now());
                frames += 1;
            }
            let drops = counters.total_drops() - drops0;
            let out = counters.tx_packets() - out0;
            let icmp = counters.icmp_errors - icmp0;
            assert_eq!(drops + out - icmp, frames);
            for p in [PORT_A, PORT_H, PORT_B, PORT_UP] {
                ports.discard_tx(p);
            }
            assert_eq!(ports.free_frames(), 16, "a frame was lost or kept across inputs");
        }
    });
});
