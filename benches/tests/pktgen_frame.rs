//! pktgen frame building and stamp parsing, checked byte by byte against an independent parser
//! (etherparse): addresses, lengths, IPv4 header and UDP checksums, and the stamp round trip.

use etherparse::{LinkHeader, NetHeaders, PacketHeaders, TransportHeader};
use std::net::Ipv4Addr;
use vnswitch_benches::pktgen::frame::{
    buffer_len, parse_frame, write_frame, FlowTuple, MacPair, Parsed, Stamp, HEADERS_LEN, STAMP_LEN,
    STAMP_MAGIC,
};

const MACS: MacPair = MacPair { src: [0x02, 0, 0, 0, 0, 0x0a], dst: [0x00, 0x01, 0x42, 0x09, 0x88, 0x73] };

fn tuple(sport: u16) -> FlowTuple {
    FlowTuple {
        src_ip: Ipv4Addr::new(10, 0, 0, 10),
        dst_ip: Ipv4Addr::new(10, 1, 5, 7),
        src_port: sport,
        dst_port: 9,
    }
}

fn build(size: u16, flow: &FlowTuple, stamp: &Stamp) -> Vec<u8> {
    let mut buf = vec![0u8; buffer_len(size)];
    assert!(write_frame(&mut buf, &MACS, flow, 0x1234, stamp));
    buf
}

#[test]
fn frames_of_every_size_have_valid_headers_and_checksums() {
    let stamp = Stamp { flow: 3, seq: 0xdead_beef, tx_ns: 0x0102_0304_0506_0708 };
    for (i, size) in [64u16, 65, 128, 512, 594, 1500, 1518].into_iter().enumerate() {
        let flow = tuple(1000 + i as u16);
        let frame = build(size, &flow, &stamp);
        assert_eq!(frame.len(), usize::from(size) - 4, "the FCS is not in the buffer");

        let h = PacketHeaders::from_ethernet_slice(&frame).expect("etherparse parses the frame");
        let Some(LinkHeader::Ethernet2(eth)) = h.link else { panic!("no ethernet header") };
        assert_eq!(eth.source, MACS.src);
        assert_eq!(eth.destination, MACS.dst);
        let Some(NetHeaders::Ipv4(ip, _)) = h.net else { panic!("no ipv4 header") };
        assert_eq!(ip.source, flow.src_ip.octets());
        assert_eq!(ip.destination, flow.dst_ip.octets());
        assert_eq!(ip.time_to_live, 64);
        assert_eq!(ip.identification, 0x1234);
        assert_eq!(usize::from(ip.total_len), frame.len() - 14);
        assert_eq!(ip.header_checksum, ip.calc_header_checksum(), "size {size}: IPv4 checksum");
        let Some(TransportHeader::Udp(udp)) = h.transport else { panic!("no udp header") };
        assert_eq!((udp.source_port, udp.destination_port), (flow.src_port, 9));
        let payload = h.payload.slice();
        assert_eq!(usize::from(udp.length), 8 + payload.len());
        assert_eq!(payload.len(), frame.len() - HEADERS_LEN);
        let expect = udp.calc_checksum_ipv4(&ip, payload).expect("fits");
        assert_eq!(udp.checksum, expect, "size {size}: UDP checksum");
        assert_ne!(udp.checksum, 0);
        assert_eq!(&payload[..2], &STAMP_MAGIC.to_be_bytes());
        assert!(payload[STAMP_LEN..].iter().all(|&b| b == 0), "padding stays zero");

        assert_eq!(parse_frame(&frame), Parsed::Stamped { stamp, ip_checksum_ok: true });
    }
}

#[test]
fn stamp_fields_are_big_endian_at_fixed_offsets() {
    let stamp = Stamp { flow: 0x0a0b_0c0d, seq: 0x1122_3344, tx_ns: 0x5566_7788_99aa_bbcc };
    let frame = build(64, &tuple(5), &stamp);
    assert_eq!(
        &frame[HEADERS_LEN..HEADERS_LEN + STAMP_LEN],
        &[
            0xb7, 0xa5, 0x0a, 0x0b, 0x0c, 0x0d, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa,
            0xbb, 0xcc
        ]
    );
}

#[test]
fn a_forwarded_frame_still_parses_and_a_corrupt_header_is_flagged() {
    let stamp = Stamp { flow: 1, seq: 42, tx_ns: 99 };
    let mut frame = build(128, &tuple(7), &stamp);
    // A router decrements the TTL and fixes the checksum incrementally (RFC 1624): still fine.
    frame[22] -= 1;
    let old = u16::from_be_bytes([frame[24], frame[25]]);
    let fixed = {
        let sum = u32::from(old) + 0x0100;
        ((sum & 0xffff) + (sum >> 16)) as u16
    };
    frame[24..26].copy_from_slice(&fixed.to_be_bytes());
    assert_eq!(parse_frame(&frame), Parsed::Stamped { stamp, ip_checksum_ok: true });
    // A TTL change without the checksum fix is reported.
    frame[22] -= 1;
    assert_eq!(parse_frame(&frame), Parsed::Stamped { stamp, ip_checksum_ok: false });
}

#[test]
fn foreign_and_malformed_frames_are_not_stamped() {
    let good = build(64, &tuple(1), &Stamp { flow: 0, seq: 1, tx_ns: 2 });
    // Every truncation is foreign, never a panic.
    for len in 0..HEADERS_LEN + STAMP_LEN {
        assert_eq!(parse_frame(&good[..len]), Parsed::Foreign, "truncated to {len}");
    }
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(parse_frame(&arp), Parsed::Foreign);
    let mut tcp = good.clone();
    tcp[23] = 6;
    assert_eq!(parse_frame(&tcp), Parsed::Foreign);
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44;
    assert_eq!(parse_frame(&bad_ihl), Parsed::Foreign);
    let mut no_magic = good.clone();
    no_magic[HEADERS_LEN] ^= 0xff;
    assert_eq!(parse_frame(&no_magic), Parsed::Foreign);
    let mut long_ihl = good;
    long_ihl[14] = 0x4f; // 60-byte header: the stamp would lie past the end
    assert_eq!(parse_frame(&long_ihl), Parsed::Foreign);
}
