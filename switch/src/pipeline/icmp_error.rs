//! ICMP messages built in place from the frame that caused them: errors (time exceeded,
//! destination unreachable) quote the offending IP header plus the first 8 bytes of its
//! payload (RFC 792) after a new Ethernet/IPv4/ICMP header; echo replies reuse the request.
//! No error is sent about an ICMP error, a non-first fragment, or a source that is not a
//! unicast host (RFC 1122 3.2.2).

use super::Meta;
use crate::port::FrameBuf;
use crate::wire::{checksum, ethernet, icmp, ipv4};
use rib::MacAddr;
use std::net::Ipv4Addr;

/// Link-layer header of a generated message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L2Out {
    pub dst_mac: MacAddr,
    pub src_mac: MacAddr,
    pub vlan: Option<u16>,
}

/// Why an ICMP message was not built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotSent {
    /// RFC 1122 forbids an error about this datagram.
    Forbidden,
    /// The frame buffer has no room.
    NoRoom,
}

/// IP TTL of every generated packet.
pub const GENERATED_TTL: u8 = 64;

fn is_icmp_informational(t: u8) -> bool {
    matches!(t, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
}

/// True when an ICMP error may be sent about the IPv4 datagram `ip` (validated by parse).
pub fn error_allowed(ip: &[u8]) -> bool {
    let Ok(p) = ipv4::Packet::new_checked(ip) else { return false };
    if p.is_later_fragment() {
        return false;
    }
    let src = p.src_addr();
    if src.is_unspecified() || src.is_broadcast() || src.is_multicast() || p.dst_addr().is_multicast() {
        return false;
    }
    if p.protocol() == ipv4::protocol::ICMP {
        match p.payload().first() {
            Some(t) => is_icmp_informational(*t),
            None => false,
        }
    } else {
        true
    }
}

/// Rewrites the frame `desc` into an ICMP error `msg_type`/`code` from `src` to the
/// datagram's source, quoting its IP header and 8 payload bytes; `rest` is the second word of
/// the ICMP header (0, or e.g. the next-hop MTU of fragmentation needed). On error the frame
/// is unchanged.
#[allow(clippy::too_many_arguments)]
pub fn build_error<B: FrameBuf>(
    buf: &mut B,
    desc: &mut B::Desc,
    meta: &Meta,
    msg_type: u8,
    code: u8,
    rest: u32,
    src: Ipv4Addr,
    l2: L2Out,
    ident: u16,
) -> Result<(), NotSent> {
    let off = meta.l3_off as usize;
    let old_len = buf.len(desc);
    let (hl, tl) = {
        let data = buf.data(desc);
        let Some(ip) = data.get(off..) else { return Err(NotSent::Forbidden) };
        if !error_allowed(ip) {
            return Err(NotSent::Forbidden);
        }
        let p = ipv4::Packet::new_unchecked(ip);
        (p.header_len() as usize, p.total_len() as usize)
    };
    let quote = tl.min(hl + 8);
    let out_l2 = ethernet::HEADER_LEN + if l2.vlan.is_some() { ethernet::VLAN_TAG_LEN } else { 0 };
    let quote_at = out_l2 + ipv4::HEADER_LEN + icmp::HEADER_LEN;
    let new_len = quote_at + quote;
    let work_len = new_len.max(old_len);
    if !buf.set_len(desc, work_len) {
        return Err(NotSent::NoRoom);
    }
    let data = buf.data_mut(desc);
    if data.len() < work_len || off + quote > data.len() {
        return Err(NotSent::NoRoom);
    }
    data.copy_within(off..off + quote, quote_at);
    write_l2(data, l2);
    {
        let mut ip = ipv4::Packet::new_unchecked(&mut data[out_l2..]);
        ip.init_header(
            (ipv4::HEADER_LEN + icmp::HEADER_LEN + quote) as u16,
            ident,
            GENERATED_TTL,
            ipv4::protocol::ICMP,
            src,
            meta.src,
        );
        ip.fill_checksum();
    }
    {
        let mut m = icmp::Packet::new_unchecked(&mut data[out_l2 + ipv4::HEADER_LEN..new_len]);
        m.set_msg_type(msg_type);
        m.set_msg_code(code);
        m.set_rest_of_header(rest);
        m.fill_checksum();
    }
    buf.set_len(desc, new_len);
    Ok(())
}

/// Writes the Ethernet header (tagged when `l2.vlan`) with EtherType IPv4.
pub fn write_l2(data: &mut [u8], l2: L2Out) {
    data[0..6].copy_from_slice(&l2.dst_mac.0);
    data[6..12].copy_from_slice(&l2.src_mac.0);
    match l2.vlan {
        Some(v) => {
            data[12..14].copy_from_slice(&ethernet::ethertype::VLAN.to_be_bytes());
            data[14..16].copy_from_slice(&(v & 0x0fff).to_be_bytes());
            data[16..18].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
        }
        None => data[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes()),
    }
}

/// Turns the ICMP echo request in `data` (IPv4 at `off`) into the reply from `from`, TTL 64,
/// MACs from `l2` (the frame keeps its layout and VLAN tag). False if it is not a complete
/// echo request (e.g. a fragment).
pub fn echo_reply(data: &mut [u8], off: usize, from: Ipv4Addr, l2: L2Out, ident: u16) -> bool {
    let Some(ipb) = data.get_mut(off..) else { return false };
    let Ok(mut ip) = ipv4::Packet::new_checked(ipb) else { return false };
    if ip.protocol() != ipv4::protocol::ICMP || ip.is_later_fragment() || ip.flags_frag() & 0x2000 != 0 {
        return false;
    }
    {
        let Ok(msg) = icmp::Packet::new_checked(ip.payload()) else { return false };
        if msg.msg_type() != icmp::msg::ECHO_REQUEST || msg.msg_code() != 0 {
            return false;
        }
    }
    let requester = ip.src_addr();
    {
        let mut msg = icmp::Packet::new_unchecked(ip.payload_mut());
        msg.echo_request_to_reply();
    }
    let hl = ip.header_len() as usize;
    let b = ip.into_inner();
    // Same header length (options kept) so the payload stays in place; fresh ident, DF.
    b[1] = 0;
    b[4..6].copy_from_slice(&ident.to_be_bytes());
    b[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    b[8] = GENERATED_TTL;
    b[12..16].copy_from_slice(&from.octets());
    b[16..20].copy_from_slice(&requester.octets());
    b[10..12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&b[..hl]);
    b[10..12].copy_from_slice(&c.to_be_bytes());
    let eth = &mut data[..12];
    eth[0..6].copy_from_slice(&l2.dst_mac.0);
    eth[6..12].copy_from_slice(&l2.src_mac.0);
    true
}
