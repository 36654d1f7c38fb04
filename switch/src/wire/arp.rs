//! ARP over Ethernet/IPv4 (RFC 826): the 28-byte packet after the Ethernet header. The
//! pipeline turns a request for a gateway address into a reply in place.

use super::{be16, put16, Result, WireError};
use rib::MacAddr;
use std::net::Ipv4Addr;

mod field {
    use core::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// `oper` of a request.
pub const OP_REQUEST: u16 = 1;
/// `oper` of a reply.
pub const OP_REPLY: u16 = 2;

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps after checking the length and that it is Ethernet (1) / IPv4 (0x0800) with
    /// address lengths 6 and 4.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        let b = p.buffer.as_ref();
        if be16(b, field::HTYPE) != 1
            || be16(b, field::PTYPE) != 0x0800
            || b[field::HLEN] != 6
            || b[field::PLEN] != 4
        {
            return Err(WireError::Malformed);
        }
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn operation(&self) -> u16 {
        be16(self.buffer.as_ref(), field::OPER)
    }

    pub fn sender_hw_addr(&self) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::SHA]);
        MacAddr(m)
    }

    pub fn sender_proto_addr(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::SPA])
    }

    pub fn target_hw_addr(&self) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::THA]);
        MacAddr(m)
    }

    pub fn target_proto_addr(&self) -> Ipv4Addr {
        ip(&self.buffer.as_ref()[field::TPA])
    }
}

fn ip(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_operation(&mut self, op: u16) {
        put16(self.buffer.as_mut(), field::OPER, op);
    }
    pub fn set_sender_hw_addr(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&m.0);
    }
    pub fn set_sender_proto_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }
    pub fn set_target_hw_addr(&mut self, m: MacAddr) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&m.0);
    }
    pub fn set_target_proto_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }

    /// Writes a whole Ethernet/IPv4 request "who has `target` tell `sender_ip`" (target
    /// hardware address zero).
    pub fn init_request(&mut self, sender_mac: MacAddr, sender_ip: Ipv4Addr, target: Ipv4Addr) {
        let b = self.buffer.as_mut();
        put16(b, field::HTYPE, 1);
        put16(b, field::PTYPE, 0x0800);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
        self.set_operation(OP_REQUEST);
        self.set_sender_hw_addr(sender_mac);
        self.set_sender_proto_addr(sender_ip);
        self.set_target_hw_addr(MacAddr::ZERO);
        self.set_target_proto_addr(target);
    }

    /// Turns a request into the reply "`addr` is at `mac`": the requester becomes the
    /// target, (`mac`, `addr`) the sender.
    pub fn make_reply(&mut self, mac: MacAddr, addr: Ipv4Addr) {
        let req_mac = self.sender_hw_addr();
        let req_ip = self.sender_proto_addr();
        self.set_operation(OP_REPLY);
        self.set_target_hw_addr(req_mac);
        self.set_target_proto_addr(req_ip);
        self.set_sender_hw_addr(mac);
        self.set_sender_proto_addr(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// who-has 10.0.0.1 tell 10.0.0.10 (00:05:02:0b:27:44).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x00, 0x05, 0x02, 0x0b, 0x27, 0x44, 10, 0, 0, 10, 0,
        0, 0, 0, 0, 0, 10, 0, 0, 1,
    ];

    #[test]
    fn request_fields_and_reply() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.operation(), OP_REQUEST);
        assert_eq!(p.sender_proto_addr(), Ipv4Addr::new(10, 0, 0, 10));
        assert_eq!(p.target_proto_addr(), Ipv4Addr::new(10, 0, 0, 1));
        let mut buf = REQUEST;
        let mut p = Packet::new_checked(&mut buf[..]).unwrap();
        p.make_reply(MacAddr([0x00, 0x01, 0x42, 0x09, 0x88, 0x73]), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(
            buf,
            [
                0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x00, 0x01, 0x42, 0x09, 0x88, 0x73, 10, 0, 0,
                1, 0x00, 0x05, 0x02, 0x0b, 0x27, 0x44, 10, 0, 0, 10,
            ]
        );
    }

    #[test]
    fn refuses_short_and_non_ipv4() {
        assert_eq!(Packet::new_checked(&REQUEST[..27]).err(), Some(WireError::Truncated));
        let mut b = REQUEST;
        b[2] = 0x86;
        assert_eq!(Packet::new_checked(&b[..]).err(), Some(WireError::Malformed));
    }
}
