//! Stage 1, parse: validates the Ethernet (+802.1Q) header and the ARP or IPv4 header of
//! every frame (including the IPv4 header checksum) and fills the frame's [`Meta`]. Frames
//! that are neither, or malformed, get a drop verdict here.

use super::{Batch, DropReason, Meta, L3};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{arp, checksum, ethernet, ipv4};
use rib::MacAddr;
use std::net::Ipv4Addr;

/// Parses frames `0..batch.len`, writing every field of their [`Meta`] (whatever it held
/// before). Returns true when at least one frame is ARP (the only frames the `local` stage
/// acts on).
pub fn run<B: FrameBuf>(buf: &mut B, batch: &mut Batch<B::Desc>, counters: &mut WorkerCounters) -> bool {
    let _ = counters;
    let mut arp = false;
    for (desc, meta) in batch.desc[..batch.len].iter().zip(batch.meta.iter_mut()) {
        parse_frame(buf.data(desc), meta);
        arp |= meta.l3 == L3::Arp;
    }
    arp
}

/// Parses one frame into `meta`, starting from [`Meta::EMPTY`] (sets a drop verdict on
/// failure).
#[inline]
pub fn parse_frame(data: &[u8], meta: &mut Meta) {
    *meta = Meta::EMPTY;
    if !parse_untagged_ipv4(data, meta) {
        parse_general(data, meta);
    }
}

/// Untagged Ethernet + IPv4 without options: one bounds check for the 34 header bytes, then
/// the same checks and fields as [`parse_general`]. Returns false, having changed nothing,
/// for any frame this does not cover (the general parser then decides).
#[inline(always)]
fn parse_untagged_ipv4(data: &[u8], meta: &mut Meta) -> bool {
    const IP: usize = ethernet::HEADER_LEN;
    let Some(h) = data.first_chunk::<{ ethernet::HEADER_LEN + ipv4::HEADER_LEN }>() else {
        return false;
    };
    if u16::from_be_bytes([h[12], h[13]]) != ethernet::ethertype::IPV4 || h[IP] != 0x45 {
        return false;
    }
    let total_len = u16::from_be_bytes([h[IP + 2], h[IP + 3]]) as usize;
    if total_len < ipv4::HEADER_LEN || total_len > data.len() - IP {
        return false;
    }
    let mut acc = 0u64;
    for w in h[IP..].chunks_exact(4) {
        acc += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
    }
    if checksum::fold(acc) != 0xffff {
        return false;
    }
    meta.dst_mac = MacAddr([h[0], h[1], h[2], h[3], h[4], h[5]]);
    meta.src_mac = MacAddr([h[6], h[7], h[8], h[9], h[10], h[11]]);
    meta.vlan = None;
    meta.l3_off = IP as u8;
    meta.l3 = L3::Ipv4;
    meta.src = Ipv4Addr::new(h[IP + 12], h[IP + 13], h[IP + 14], h[IP + 15]);
    meta.dst = Ipv4Addr::new(h[IP + 16], h[IP + 17], h[IP + 18], h[IP + 19]);
    meta.ttl = h[IP + 8];
    meta.proto = h[IP + 9];
    true
}

/// Any frame: Ethernet with or without a tag, then ARP or IPv4.
fn parse_general(data: &[u8], meta: &mut Meta) {
    let eth = match ethernet::Frame::new_checked(data) {
        Ok(e) => e,
        Err(_) => return meta.drop(DropReason::Truncated),
    };
    meta.dst_mac = eth.dst_addr();
    meta.src_mac = eth.src_addr();
    meta.vlan = eth.vlan();
    let off = eth.payload_offset();
    meta.l3_off = off as u8;
    let payload = eth.payload();
    match eth.ethertype() {
        ethernet::ethertype::IPV4 => {
            let ip = match ipv4::Packet::new_checked(payload) {
                Ok(ip) => ip,
                Err(_) => return meta.drop(DropReason::Ipv4Malformed),
            };
            if !ip.verify_checksum() {
                return meta.drop(DropReason::Ipv4BadChecksum);
            }
            meta.l3 = L3::Ipv4;
            meta.src = ip.src_addr();
            meta.dst = ip.dst_addr();
            meta.ttl = ip.ttl();
            meta.proto = ip.protocol();
        }
        ethernet::ethertype::ARP => {
            if arp::Packet::new_checked(payload).is_err() {
                return meta.drop(DropReason::ArpMalformed);
            }
            meta.l3 = L3::Arp;
        }
        _ => meta.drop(DropReason::UnknownEthertype),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    /// The untagged-IPv4 fast path must decide exactly as the general parser: compare the
    /// two on a valid frame and on many corrupted, truncated and tagged variants of it.
    #[test]
    fn fast_path_agrees_with_general_parser() {
        let good = echo_request(MAC_A, MAC_J0, None, IP_A, IP_H, 64, 0x1234, 1, 56);
        let tagged = echo_request(MAC_A, MAC_J0, Some(7), IP_A, IP_H, 64, 0x1234, 1, 56);
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut fast_taken = 0;
        for round in 0..50_000 {
            let mut f = if round % 5 == 0 { tagged.clone() } else { good.clone() };
            if round > 0 {
                for _ in 0..(next() % 3) {
                    let at = (next() % 40) as usize % f.len();
                    f[at] ^= 1 << (next() % 8);
                }
                if next() % 4 == 0 {
                    f.truncate((next() as usize) % (f.len() + 1));
                }
            }
            let mut fast = Meta::EMPTY;
            parse_frame(&f, &mut fast);
            let mut general = Meta::EMPTY;
            parse_general(&f, &mut general);
            assert_eq!(fast, general, "frame {f:02x?}");
            let mut probe = Meta::EMPTY;
            fast_taken += parse_untagged_ipv4(&f, &mut probe) as u32;
        }
        assert!(fast_taken > 10_000, "fast path exercised ({fast_taken})");
    }
}
