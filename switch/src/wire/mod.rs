//! Zero-copy views over frame bytes, smoltcp style: `Packet<T: AsRef<[u8]>>` with private
//! field offsets, getters on `AsRef`, setters on `AsMut`. `new_checked` validates every
//! length an accessor relies on, so after it succeeds no accessor panics. Used by the pipeline
//! on frames in place in the worker's frame buffer (UMEM); no allocation anywhere.

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod udp;
pub mod vxlan;

/// Why a view refused a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The buffer is shorter than the header (or the length the header announces).
    #[error("truncated")]
    Truncated,
    /// A field has a value the view cannot work with (bad version, header length, ...).
    #[error("malformed")]
    Malformed,
}

/// Result of the `new_checked`/`check_len` functions.
pub type Result<T> = core::result::Result<T, WireError>;

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

#[inline]
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
