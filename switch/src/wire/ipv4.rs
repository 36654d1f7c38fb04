//! IPv4 header view (RFC 791): fields, header checksum, and in-place TTL rewrite with the
//! RFC 1624 incremental checksum update. `new_checked` validates version, IHL and total
//! length against the buffer, so `payload()` is exactly the datagram's payload.

use super::checksum;
use super::{be16, put16, Result, WireError};
use std::net::Ipv4Addr;

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLG_OFF: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
}

/// Header length without options.
pub const HEADER_LEN: usize = 20;

/// IP protocol numbers the pipeline knows.
pub mod protocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// A view of an IPv4 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        p.check_len()?;
        Ok(p)
    }

    /// Version 4, IHL >= 5, header fits, header <= total length <= buffer length (a longer
    /// buffer, e.g. Ethernet padding, is allowed).
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[field::VER_IHL] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let hl = self.header_len() as usize;
        let tl = self.total_len() as usize;
        if hl < HEADER_LEN || tl < hl {
            return Err(WireError::Malformed);
        }
        if b.len() < hl || b.len() < tl {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }
    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> u8 {
        (self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }
    pub fn total_len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LEN)
    }
    pub fn ident(&self) -> u16 {
        be16(self.buffer.as_ref(), field::IDENT)
    }
    /// Flags and fragment offset word.
    pub fn flags_frag(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLG_OFF)
    }
    /// True for any fragment other than the first (offset != 0).
    pub fn is_later_fragment(&self) -> bool {
        self.flags_frag() & 0x1fff != 0
    }
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[field::SRC], b[field::SRC + 1], b[field::SRC + 2], b[field::SRC + 3])
    }
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = self.buffer.as_ref();
        Ipv4Addr::new(b[field::DST], b[field::DST + 1], b[field::DST + 2], b[field::DST + 3])
    }
    /// True when the header checksum is correct.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        let b = self.buffer.as_ref();
        let hl = self.header_len() as usize;
        if hl == HEADER_LEN && b.len() >= HEADER_LEN {
            // Common case without options: five 32-bit words (the sum of 32-bit big-endian
            // words folds to the same ones' complement sum as 16-bit words).
            let mut acc = 0u64;
            for w in b[..HEADER_LEN].chunks_exact(4) {
                acc += u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as u64;
            }
            return checksum::fold(acc) == 0xffff;
        }
        checksum::checksum(&b[..hl]) == 0
    }
    /// The payload (total length minus header).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len() as usize..self.total_len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes a 20-byte header without options (checksum zero; call `fill_checksum`).
    pub fn init_header(
        &mut self,
        total_len: u16,
        ident: u16,
        ttl: u8,
        protocol: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        let b = self.buffer.as_mut();
        b[field::VER_IHL] = 0x45;
        b[field::TOS] = 0;
        put16(b, field::LEN, total_len);
        put16(b, field::IDENT, ident);
        put16(b, field::FLG_OFF, 0x4000);
        b[field::TTL] = ttl;
        b[field::PROTOCOL] = protocol;
        put16(b, field::CHECKSUM, 0);
        b[field::SRC..field::SRC + 4].copy_from_slice(&src.octets());
        b[field::DST..field::DST + 4].copy_from_slice(&dst.octets());
    }
    pub fn set_total_len(&mut self, len: u16) {
        put16(self.buffer.as_mut(), field::LEN, len);
    }
    pub fn set_ttl(&mut self, ttl: u8) {
        self.buffer.as_mut()[field::TTL] = ttl;
    }
    pub fn set_checksum(&mut self, c: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, c);
    }
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC..field::SRC + 4].copy_from_slice(&a.octets());
    }
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[field::DST..field::DST + 4].copy_from_slice(&a.octets());
    }
    /// Recomputes the header checksum from scratch.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hl = self.header_len() as usize;
        let c = checksum::checksum(&self.buffer.as_ref()[..hl]);
        self.set_checksum(c);
    }
    /// Sets the TTL and updates the checksum incrementally (RFC 1624).
    #[inline]
    pub fn set_ttl_update_checksum(&mut self, ttl: u8) {
        let b = self.buffer.as_mut();
        let old = be16(b, field::TTL);
        b[field::TTL] = ttl;
        let new = be16(b, field::TTL);
        let hc = be16(b, field::CHECKSUM);
        put16(b, field::CHECKSUM, checksum::update16(hc, old, new));
    }
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let hl = self.header_len() as usize;
        let tl = self.total_len() as usize;
        &mut self.buffer.as_mut()[hl..tl]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 10.0.0.10 -> 10.1.5.7, ICMP, TTL 64, total length 84, ident 0x1234, DF; checksum valid.
    pub(crate) fn header() -> [u8; 20] {
        let mut h =
            [0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0, 0, 10, 0, 0, 10, 10, 1, 5, 7];
        let c = checksum::checksum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }

    #[test]
    fn fields_match_etherparse() {
        let mut dgram = [0u8; 84];
        dgram[..20].copy_from_slice(&header());
        let p = Packet::new_checked(&dgram[..]).unwrap();
        let (eh, _) = etherparse::Ipv4Header::from_slice(&dgram).unwrap();
        assert_eq!(p.ttl(), eh.time_to_live);
        assert_eq!(p.src_addr().octets(), eh.source);
        assert_eq!(p.dst_addr().octets(), eh.destination);
        assert_eq!(p.total_len(), eh.total_len);
        assert_eq!(p.checksum(), eh.calc_header_checksum());
        assert!(p.verify_checksum());
        assert_eq!(p.payload().len(), 64);
        for i in 0..20 {
            let mut bad = dgram;
            bad[i] ^= 0x10;
            assert!(!Packet::new_unchecked(&bad[..]).verify_checksum(), "flip in byte {i}");
        }
        assert_eq!(p.protocol(), protocol::ICMP);
    }

    #[test]
    fn ttl_rewrite_keeps_checksum_valid() {
        let mut dgram = [0u8; 84];
        dgram[..20].copy_from_slice(&header());
        let mut p = Packet::new_checked(&mut dgram[..]).unwrap();
        p.set_ttl_update_checksum(62);
        assert!(p.verify_checksum());
        assert_eq!(p.ttl(), 62);
        let (eh, _) = etherparse::Ipv4Header::from_slice(&dgram).unwrap();
        assert_eq!(eh.header_checksum, eh.calc_header_checksum());
    }

    #[test]
    fn refuses_bad_lengths_and_versions() {
        let mut d = [0u8; 84];
        d[..20].copy_from_slice(&header());
        assert_eq!(Packet::new_checked(&d[..19]).err(), Some(WireError::Truncated));
        assert_eq!(Packet::new_checked(&d[..83]).err(), Some(WireError::Truncated));
        let mut v6 = d;
        v6[0] = 0x65;
        assert_eq!(Packet::new_checked(&v6[..]).err(), Some(WireError::Malformed));
        let mut ihl = d;
        ihl[0] = 0x44;
        assert_eq!(Packet::new_checked(&ihl[..]).err(), Some(WireError::Malformed));
        let mut tl = d;
        tl[2] = 0;
        tl[3] = 10;
        assert_eq!(Packet::new_checked(&tl[..]).err(), Some(WireError::Malformed));
        let mut big_ihl = d;
        big_ihl[0] = 0x4f; // 60-byte header inside an 84-byte datagram: fine
        assert!(Packet::new_checked(&big_ihl[..]).is_ok());
    }
}
