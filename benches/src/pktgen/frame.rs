//! Ethernet/IPv4/UDP test frames with a receive stamp: building them in place (in a UMEM frame) with
//! correct IPv4 and UDP checksums, and parsing the stamp back out of a received frame.
//! Pure byte code: no I/O, no allocation, used on the per-packet path of both TX and RX.

use std::net::Ipv4Addr;

/// Ethernet + IPv4 (no options) + UDP header bytes before the payload.
pub const HEADERS_LEN: usize = 14 + 20 + 8;
/// Bytes of the payload stamp: magic u16, flow u32, sequence u32, TX time u64 (all big endian).
pub const STAMP_LEN: usize = 18;
/// The 4-byte Ethernet FCS the wire adds: `--size` counts it (RFC 2544 frame sizes), buffers don't.
pub const FCS_LEN: usize = 4;
/// Smallest frame size (with FCS) that carries headers and stamp: 64 bytes, the Ethernet minimum.
pub const MIN_FRAME_SIZE: u16 = 64;
/// Largest frame size (with FCS) for a 1500-byte MTU.
pub const MAX_FRAME_SIZE: u16 = 1518;
/// First two payload bytes of every pktgen frame.
pub const STAMP_MAGIC: u16 = 0xB7A5;

const ETHERTYPE_IPV4: u16 = 0x0800;
const IPPROTO_UDP: u8 = 17;
const STAMP_OFFSET: usize = HEADERS_LEN;

/// The per-frame stamp the receiver reads back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Index of the flow (address/port tuple) the frame belongs to.
    pub flow: u32,
    /// Low 32 bits of the generator's global sequence number (the receiver unwraps it).
    pub seq: u32,
    /// CLOCK_MONOTONIC nanoseconds when the frame was handed to the TX ring.
    pub tx_ns: u64,
}

/// The addresses and ports of one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTuple {
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
}

/// Layer-2 addresses shared by every frame of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacPair {
    pub src: [u8; 6],
    pub dst: [u8; 6],
}

/// Buffer length (without FCS) for a frame size given with FCS.
#[inline]
pub fn buffer_len(frame_size: u16) -> usize {
    usize::from(frame_size).saturating_sub(FCS_LEN)
}

/// Adds `data` as big-endian 16-bit words to a ones' complement running sum (not yet folded).
#[inline]
fn sum_words(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds a running sum to 16 bits and complements it.
#[inline]
fn finish(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    finish(sum_words(0, data))
}

/// Writes a complete frame of `buf.len()` bytes: headers, stamp, checksums.
///
/// The payload bytes after the stamp are NOT written and the UDP checksum assumes they are zero:
/// callers hand buffers whose padding is zero (UMEM frames are zeroed once and never written past the
/// stamp). Returns `false`, writing nothing, if `buf` is shorter than headers + stamp or longer than
/// an IPv4 datagram allows.
pub fn write_frame(buf: &mut [u8], macs: &MacPair, flow: &FlowTuple, ip_id: u16, stamp: &Stamp) -> bool {
    let len = buf.len();
    if !(HEADERS_LEN + STAMP_LEN..=usize::from(u16::MAX)).contains(&len) {
        return false;
    }
    let ip_len = (len - 14) as u16;
    let udp_len = (len - 34) as u16;

    buf[0..6].copy_from_slice(&macs.dst);
    buf[6..12].copy_from_slice(&macs.src);
    buf[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());

    let ip = &mut buf[14..34];
    ip[0] = 0x45; // version 4, IHL 5
    ip[1] = 0; // DSCP/ECN
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
    ip[8] = 64; // TTL
    ip[9] = IPPROTO_UDP;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&flow.src_ip.octets());
    ip[16..20].copy_from_slice(&flow.dst_ip.octets());
    let ip_csum = internet_checksum(ip);
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());

    buf[34..36].copy_from_slice(&flow.src_port.to_be_bytes());
    buf[36..38].copy_from_slice(&flow.dst_port.to_be_bytes());
    buf[38..40].copy_from_slice(&udp_len.to_be_bytes());
    buf[40..42].copy_from_slice(&[0, 0]);

    let s = &mut buf[STAMP_OFFSET..STAMP_OFFSET + STAMP_LEN];
    s[0..2].copy_from_slice(&STAMP_MAGIC.to_be_bytes());
    s[2..6].copy_from_slice(&stamp.flow.to_be_bytes());
    s[6..10].copy_from_slice(&stamp.seq.to_be_bytes());
    s[10..18].copy_from_slice(&stamp.tx_ns.to_be_bytes());

    // Pseudo header + UDP header + stamp; the zero padding adds nothing to the sum.
    let mut acc = sum_words(0, &buf[26..34]); // source and destination addresses
    acc += u32::from(IPPROTO_UDP);
    acc += u32::from(udp_len);
    acc = sum_words(acc, &buf[34..STAMP_OFFSET + STAMP_LEN]);
    let mut udp_csum = finish(acc);
    if udp_csum == 0 {
        udp_csum = 0xffff; // 0 means "no checksum" in UDP over IPv4
    }
    buf[40..42].copy_from_slice(&udp_csum.to_be_bytes());
    true
}

/// What the receiver learns from one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// A pktgen frame; `ip_checksum_ok` is false when the IPv4 header checksum does not verify.
    Stamped { stamp: Stamp, ip_checksum_ok: bool },
    /// Anything else (ARP, IPv6, other traffic, truncated frames).
    Foreign,
}

/// Reads the stamp of a received frame. Never panics: malformed frames are `Foreign`.
#[inline]
pub fn parse_frame(frame: &[u8]) -> Parsed {
    if frame.len() < 14 + 20 || u16::from_be_bytes([frame[12], frame[13]]) != ETHERTYPE_IPV4 {
        return Parsed::Foreign;
    }
    let ver_ihl = frame[14];
    let ihl = usize::from(ver_ihl & 0x0f) * 4;
    if ver_ihl >> 4 != 4 || ihl < 20 || frame[14 + 9] != IPPROTO_UDP {
        return Parsed::Foreign;
    }
    let stamp_at = 14 + ihl + 8;
    let Some(s) = frame.get(stamp_at..stamp_at + STAMP_LEN) else {
        return Parsed::Foreign;
    };
    if u16::from_be_bytes([s[0], s[1]]) != STAMP_MAGIC {
        return Parsed::Foreign;
    }
    let ip_checksum_ok = internet_checksum(&frame[14..14 + ihl]) == 0;
    let stamp = Stamp {
        flow: u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
        seq: u32::from_be_bytes([s[6], s[7], s[8], s[9]]),
        tx_ns: u64::from_be_bytes([s[10], s[11], s[12], s[13], s[14], s[15], s[16], s[17]]),
    };
    Parsed::Stamped { stamp, ip_checksum_ok }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example words: 0001 f203 f4f5 f6f7 -> sum ddf2, checksum 220d.
        assert_eq!(internet_checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0x220d);
    }

    #[test]
    fn too_short_buffer_is_refused() {
        let mut buf = [0u8; HEADERS_LEN + STAMP_LEN - 1];
        let macs = MacPair { src: [2; 6], dst: [4; 6] };
        let flow = FlowTuple {
            src_ip: Ipv4Addr::new(10, 0, 0, 1),
            dst_ip: Ipv4Addr::new(10, 0, 1, 1),
            src_port: 1,
            dst_port: 2,
        };
        assert!(!write_frame(&mut buf, &macs, &flow, 0, &Stamp { flow: 0, seq: 0, tx_ns: 0 }));
        assert!(buf.iter().all(|&b| b == 0));
    }
}
