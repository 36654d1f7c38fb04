//! Helpers shared by the integration tests: a one-batch pipeline harness on in-memory ports
//! and etherparse-built expected ICMP frames.
#![allow(dead_code)]

use etherparse::Icmpv4Type;
use rib::{FibSnapshot, PortId};
use std::time::Instant;
use switch::pipeline::{Batch, Ingress, Pipeline, BATCH};
use switch::port::{MemPorts, Ports};
use switch::stats::WorkerCounters;

/// Runs frames received on a port through the pipeline, one batch per 64 frames.
pub struct Harness {
    pub ports: MemPorts,
    pub pipeline: Pipeline,
    pub counters: WorkerCounters,
    pub fib: FibSnapshot,
}

impl Harness {
    pub fn new(fib: FibSnapshot) -> Self {
        let n = fib.ports.len();
        Harness {
            ports: MemPorts::new(n, 512),
            pipeline: Pipeline::new(),
            counters: WorkerCounters::default(),
            fib,
        }
    }

    pub fn rx(&mut self, port: PortId, frames: &[Vec<u8>]) {
        for chunk in frames.chunks(BATCH) {
            for f in chunk {
                self.ports.inject(port, f).expect("inject");
            }
            let mut batch = Batch::new(Ingress::Port(port));
            let n = self.ports.rx_burst(port, &mut batch.desc);
            batch.reset(Ingress::Port(port), n);
            self.pipeline.run(
                &mut self.ports,
                &mut batch,
                &self.fib,
                None,
                &mut self.counters,
                Instant::now(),
            );
        }
    }

    pub fn tx(&mut self, port: PortId) -> Vec<Vec<u8>> {
        self.ports.take_tx(port)
    }
}

/// RFC 792 quote of an untagged frame: IP header + 8 bytes.
pub fn quote(frame: &[u8]) -> Vec<u8> {
    frame[14..14 + 28].to_vec()
}

pub fn time_exceeded() -> Icmpv4Type {
    Icmpv4Type::TimeExceeded(etherparse::icmpv4::TimeExceededCode::TtlExceededInTransit)
}
