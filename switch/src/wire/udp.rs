//! UDP header view (RFC 768): ports, length, checksum. Used for VXLAN (port 4789).

use super::{be16, put16, Result, WireError};

/// UDP header length.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram.
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

    /// Header fits and `8 <= length <= buffer length`.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let l = be16(b, field::LENGTH) as usize;
        if l < HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if l > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(())
    }

    pub fn src_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        be16(self.buffer.as_ref(), field::DST_PORT)
    }
    pub fn len(&self) -> u16 {
        be16(self.buffer.as_ref(), field::LENGTH)
    }
    pub fn is_empty(&self) -> bool {
        self.len() as usize <= HEADER_LEN
    }
    pub fn checksum(&self) -> u16 {
        be16(self.buffer.as_ref(), field::CHECKSUM)
    }
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.len() as usize]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_src_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::SRC_PORT, v);
    }
    pub fn set_dst_port(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::DST_PORT, v);
    }
    pub fn set_len(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::LENGTH, v);
    }
    /// 0 = no checksum (allowed for IPv4, and what Linux VXLAN sends by default).
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buffer.as_mut(), field::CHECKSUM, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_length_checks() {
        let d = [0xc0, 0x00, 0x12, 0xb5, 0x00, 0x0a, 0x00, 0x00, 0xaa, 0xbb];
        let p = Packet::new_checked(&d[..]).unwrap();
        assert_eq!((p.src_port(), p.dst_port(), p.len()), (0xc000, 4789, 10));
        assert_eq!(p.payload(), &[0xaa, 0xbb]);
        let (h, _) = etherparse::UdpHeader::from_slice(&d).unwrap();
        assert_eq!((h.source_port, h.destination_port, h.length), (0xc000, 4789, 10));
        assert_eq!(Packet::new_checked(&d[..9]).err(), Some(WireError::Truncated));
        let mut m = d;
        m[5] = 4;
        assert_eq!(Packet::new_checked(&m[..]).err(), Some(WireError::Malformed));
    }
}
