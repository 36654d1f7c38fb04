//! Stage 1, parse: validates the Ethernet (+802.1Q) header and the ARP or IPv4 header of
//! every frame (including the IPv4 header checksum) and fills the frame's [`Meta`]. Frames
//! that are neither, or malformed, get a drop verdict here.

use super::{Batch, DropReason, Meta, L3};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{arp, ethernet, ipv4};

/// Parses frames `0..batch.len`.
pub fn run<B: FrameBuf>(buf: &mut B, batch: &mut Batch<B::Desc>, counters: &mut WorkerCounters) {
    let _ = counters;
    for i in 0..batch.len {
        let data = buf.data(&batch.desc[i]);
        parse_frame(data, &mut batch.meta[i]);
    }
}

/// Parses one frame into `meta` (sets a drop verdict on failure).
#[inline]
pub fn parse_frame(data: &[u8], meta: &mut Meta) {
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
