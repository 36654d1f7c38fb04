//! Ethernet II frames with an optional single 802.1Q tag. `payload_offset` is 14 untagged and
//! 18 tagged; `ethertype` is the type after the tag. VLAN push/pop shift the frame in place.

use super::{be16, put16, Result, WireError};
use rib::MacAddr;

/// EtherType values the pipeline knows.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
}

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const TYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_TYPE: usize = 16;
}

/// Untagged header length.
pub const HEADER_LEN: usize = 14;
/// Length of one 802.1Q tag.
pub const VLAN_TAG_LEN: usize = 4;

/// A view of an Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps without checking; accessors may panic on short buffers.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps after [`check_len`](Self::check_len).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Frame { buffer };
        f.check_len()?;
        Ok(f)
    }

    /// Ensures the header (including a tag, when present) fits.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if be16(b, field::TYPE) == ethertype::VLAN && b.len() < HEADER_LEN + VLAN_TAG_LEN {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn dst_addr(&self) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        MacAddr(m)
    }

    pub fn src_addr(&self) -> MacAddr {
        let mut m = [0u8; 6];
        m.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        MacAddr(m)
    }

    /// True when the frame carries an 802.1Q tag.
    pub fn is_tagged(&self) -> bool {
        be16(self.buffer.as_ref(), field::TYPE) == ethertype::VLAN
    }

    /// The VLAN id (low 12 bits of the TCI) when tagged.
    pub fn vlan(&self) -> Option<u16> {
        if self.is_tagged() {
            Some(be16(self.buffer.as_ref(), field::TCI) & 0x0fff)
        } else {
            None
        }
    }

    /// The EtherType of the payload (after the tag when tagged).
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        if self.is_tagged() {
            be16(b, field::INNER_TYPE)
        } else {
            be16(b, field::TYPE)
        }
    }

    /// Offset of the payload: 14, or 18 when tagged.
    pub fn payload_offset(&self) -> usize {
        if self.is_tagged() {
            HEADER_LEN + VLAN_TAG_LEN
        } else {
            HEADER_LEN
        }
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.payload_offset()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_dst_addr(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac.0);
    }

    pub fn set_src_addr(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac.0);
    }

    /// Sets the payload EtherType (after the tag when tagged).
    pub fn set_ethertype(&mut self, ty: u16) {
        let at = if self.is_tagged() { field::INNER_TYPE } else { field::TYPE };
        put16(self.buffer.as_mut(), at, ty);
    }

    /// Rewrites the VLAN id of a tagged frame (priority bits kept); no-op when untagged.
    pub fn set_vlan(&mut self, vid: u16) {
        if self.is_tagged() {
            let b = self.buffer.as_mut();
            let tci = (be16(b, field::TCI) & 0xf000) | (vid & 0x0fff);
            put16(b, field::TCI, tci);
        }
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let off = self.payload_offset();
        &mut self.buffer.as_mut()[off..]
    }
}

/// Inserts an 802.1Q tag with `vid` after the MAC addresses of the `len`-byte frame at the
/// start of `buf`, shifting the rest right by 4. Returns the new length, or None when `buf`
/// has no room or the frame is shorter than an Ethernet header.
pub fn vlan_push(buf: &mut [u8], len: usize, vid: u16) -> Option<usize> {
    if len < HEADER_LEN || len > buf.len() || buf.len() - len < VLAN_TAG_LEN {
        return None;
    }
    buf.copy_within(field::TYPE..len, field::TYPE + VLAN_TAG_LEN);
    put16(buf, field::TYPE, ethertype::VLAN);
    put16(buf, field::TCI, vid & 0x0fff);
    Some(len + VLAN_TAG_LEN)
}

/// Removes the 802.1Q tag of the `len`-byte tagged frame at the start of `buf`. Returns the
/// new length, or None when the frame is not tagged or too short.
pub fn vlan_pop(buf: &mut [u8], len: usize) -> Option<usize> {
    if len < HEADER_LEN + VLAN_TAG_LEN || len > buf.len() || be16(buf, field::TYPE) != ethertype::VLAN {
        return None;
    }
    buf.copy_within(field::TYPE + VLAN_TAG_LEN..len, field::TYPE);
    Some(len - VLAN_TAG_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNTAGGED: [u8; 16] =
        [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x05, 0x02, 0x0b, 0x27, 0x44, 0x08, 0x06, 0xaa, 0xbb];

    #[test]
    fn untagged_fields() {
        let f = Frame::new_checked(&UNTAGGED[..]).unwrap();
        assert_eq!(f.dst_addr(), MacAddr::BROADCAST);
        assert_eq!(f.src_addr(), MacAddr([0x00, 0x05, 0x02, 0x0b, 0x27, 0x44]));
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.vlan(), None);
        assert_eq!(f.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn short_and_short_tagged_are_refused() {
        assert_eq!(Frame::new_checked(&UNTAGGED[..13]).err(), Some(WireError::Truncated));
        let mut t = UNTAGGED;
        t[12] = 0x81;
        t[13] = 0x00;
        assert_eq!(Frame::new_checked(&t[..]).err(), Some(WireError::Truncated));
    }

    #[test]
    fn push_then_pop_restores_bytes() {
        let mut buf = [0u8; 32];
        buf[..16].copy_from_slice(&UNTAGGED);
        let len = vlan_push(&mut buf, 16, 0x0123).unwrap();
        assert_eq!(len, 20);
        assert_eq!(&buf[12..20], &[0x81, 0x00, 0x01, 0x23, 0x08, 0x06, 0xaa, 0xbb]);
        let f = Frame::new_checked(&buf[..len]).unwrap();
        assert_eq!(f.vlan(), Some(0x123));
        assert_eq!(f.ethertype(), ethertype::ARP);
        assert_eq!(f.payload_offset(), 18);
        let mut g = Frame::new_unchecked(&mut buf[..len]);
        g.set_vlan(7);
        assert_eq!(g.vlan(), Some(7));
        let len = vlan_pop(&mut buf, len).unwrap();
        assert_eq!(&buf[..len], &UNTAGGED);
        assert_eq!(vlan_pop(&mut buf, len), None);
        assert_eq!(vlan_push(&mut buf[..18], 16, 1), None);
    }
}
