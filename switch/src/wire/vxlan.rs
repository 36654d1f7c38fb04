//! VXLAN header view (RFC 7348): 8 bytes after UDP port 4789; flags with the I bit (VNI
//! valid) and a 24-bit VNI. Encapsulation adds Ethernet + IPv4 + UDP + VXLAN = 50 bytes.

use super::{be32, put32, Result, WireError};

/// VXLAN header length.
pub const HEADER_LEN: usize = 8;
/// IANA UDP port.
pub const UDP_PORT: u16 = 4789;
/// Bytes an encapsulation adds in front of the inner Ethernet frame (outer Ethernet 14,
/// IPv4 20, UDP 8, VXLAN 8).
pub const ENCAP_LEN: usize = 14 + 20 + 8 + HEADER_LEN;
/// The I flag: the VNI field is valid.
pub const FLAG_VNI: u8 = 0x08;

/// A view of a VXLAN header and the inner frame after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps after checking the length and the I flag.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let p = Packet { buffer };
        if p.buffer.as_ref().len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if p.flags() & FLAG_VNI == 0 {
            return Err(WireError::Malformed);
        }
        Ok(p)
    }

    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[0]
    }
    pub fn vni(&self) -> u32 {
        be32(self.buffer.as_ref(), 4) >> 8
    }
    /// The inner Ethernet frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Writes flags (I set), reserved zeros and `vni`.
    pub fn init(&mut self, vni: u32) {
        let b = self.buffer.as_mut();
        put32(b, 0, (FLAG_VNI as u32) << 24);
        put32(b, 4, (vni & 0x00ff_ffff) << 8);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_and_read_back() {
        let mut b = [0xffu8; 10];
        Packet::new_unchecked(&mut b[..]).init(0x123456);
        assert_eq!(&b[..8], &[0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0x00]);
        let p = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.vni(), 0x123456);
        assert_eq!(p.payload(), &[0xff, 0xff]);
        assert_eq!(Packet::new_checked(&[0u8; 8][..]).err(), Some(WireError::Malformed));
        assert_eq!(Packet::new_checked(&[8u8; 7][..]).err(), Some(WireError::Truncated));
    }
}
