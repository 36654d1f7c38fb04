//! Fuzz target: an arbitrary datagram through the SNMP agent's BER decoder, and every message
//! it accepts through the request processing over a small fixed view. Nothing may panic; a
//! decoded message re-encodes to bytes that decode to the same message; every answer is one
//! datagram of at most 1472 bytes that decodes as a Response with the request's id.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shell::providers::PortCounters;
use shell::snmp::ber::{Message, PduType};
use shell::snmp::mib::{assemble, AgentCounters, IfRow, SystemInfo};
use shell::snmp::{answer, MAX_RESPONSE};

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = Message::decode(data) else { return };
    let again = Message::decode(&msg.encode()).expect("a decoded message re-encodes");
    assert_eq!(again, msg);
    let sys = SystemInfo {
        descr: "vnswitch fuzz".into(),
        uptime_ticks: 1,
        contact: String::new(),
        name: "fuzz".into(),
        location: String::new(),
    };
    let rows: Vec<IfRow> = (1..=3)
        .map(|i| IfRow {
            index: i,
            descr: format!("R Gi0/{i}"),
            alias: String::new(),
            mtu: 1500,
            mac: [0, 1, 2, 3, 4, i as u8],
            admin_up: true,
            oper_up: i != 2,
            counters: PortCounters { rx_bytes: u64::MAX - i as u64, ..PortCounters::default() },
        })
        .collect();
    let view = assemble(&sys, &rows, AgentCounters::default());
    if let Some(out) = answer(&view, &msg) {
        assert!(out.len() <= MAX_RESPONSE, "{} bytes", out.len());
        let m = Message::decode(&out).expect("answers decode");
        assert_eq!((m.pdu.kind, m.pdu.request_id), (PduType::Response, msg.pdu.request_id));
    }
});
