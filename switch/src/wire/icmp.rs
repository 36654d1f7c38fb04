//! ICMPv4 message view (RFC 792): type, code, checksum over the whole message, and the
//! echo identifier / sequence number. Error messages quote the offending IP header plus the
//! first 8 bytes of its payload after 4 unused bytes.

use super::checksum;
use super::{be16, put16, put32, Result, WireError};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const IDENT: usize = 4;
    pub const SEQ: usize = 6;
    pub const REST: usize = 4;
}

/// Length of the ICMP header (type, code, checksum, 4 bytes rest-of-header).
pub const HEADER_LEN: usize = 8;

/// Message types the pipeline handles.
pub mod msg {
    pub const ECHO_REPLY: u8 = 0;
    pub const DEST_UNREACHABLE: u8 = 3;
    pub const ECHO_REQUEST: u8 = 8;
    pub const TIME_EXCEEDED: u8 = 11;
}

/// Codes of destination unreachable.
pub mod unreach {
    pub const NET: u8 = 0;
    pub const HOST: u8 = 1;
}

/// A view of an ICMP message (the whole IP payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(WireError::Truncated)
        } else {
            Ok(())
        }
    }

    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    /// Echo identifier.
    pub fn echo_ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }
    /// Echo sequence number.
    pub fn echo_seq(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SEQ)
    }
    /// Bytes after the 8-byte header (echo data, or the quoted datagram of an error).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
    /// True when the checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[field::TYPE] = t;
    }
    pub fn set_msg_code(&mut self, c: u8) {
        self.buffer.as_mut()[field::CODE] = c;
    }
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, c);
    }
    pub fn set_echo_ident(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::IDENT, v);
    }
    pub fn set_echo_seq(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SEQ, v);
    }
    /// Sets the 4 rest-of-header bytes (zero for time-exceeded and unreachable).
    pub fn set_rest_of_header(&mut self, v: u32) {
        put32(self.buffer.as_mut(), field::REST, v);
    }
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
    /// Recomputes the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
    /// Turns an echo request into an echo reply, updating the checksum incrementally.
    pub fn echo_request_to_reply(&mut self) {
        let b = self.buffer.as_mut();
        let old = be16(b, field::TYPE);
        b[field::TYPE] = msg::ECHO_REPLY;
        let new = be16(b, field::TYPE);
        let hc = be16(b, field::CHECKSUM);
        put16(b, field::CHECKSUM, checksum::update16(hc, old, new));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_request() -> [u8; 16] {
        let mut m = [8, 0, 0, 0, 0x12, 0x34, 0x00, 0x01, b'v', b'n', b's', b'w', b'i', b't', b'c', b'h'];
        let c = checksum::checksum(&m);
        m[2..4].copy_from_slice(&c.to_be_bytes());
        m
    }

    #[test]
    fn echo_fields_and_reply_checksum_agree_with_etherparse() {
        let mut m = echo_request();
        let p = Packet::new_checked(&m[..]).unwrap();
        assert_eq!((p.msg_type(), p.msg_code(), p.echo_ident(), p.echo_seq()), (8, 0, 0x1234, 1));
        assert!(p.verify_checksum());
        let mut p = Packet::new_checked(&mut m[..]).unwrap();
        p.echo_request_to_reply();
        assert!(p.verify_checksum());
        let (hdr, payload) = etherparse::Icmpv4Header::from_slice(&m).unwrap();
        assert_eq!(
            hdr.icmp_type,
            etherparse::Icmpv4Type::EchoReply(etherparse::IcmpEchoHeader { id: 0x1234, seq: 1 })
        );
        assert_eq!(hdr.checksum, hdr.icmp_type.calc_checksum(payload));
    }

    #[test]
    fn short_is_refused() {
        assert_eq!(Packet::new_checked(&[8u8, 0, 0, 0, 0, 0, 0][..]).err(), Some(WireError::Truncated));
    }
}
