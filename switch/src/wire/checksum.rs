//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624, eqn. 3:
//! `HC' = ~(~HC + ~m + m')`), used for IPv4 headers and ICMP messages.

/// Adds `data` as big-endian 16-bit words (odd trailing byte padded with zero) to a 32-bit
/// accumulator; fold with [`fold`].
#[inline]
pub fn sum(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Adding the two 32-bit halves keeps the 16-bit-word sum modulo 0xffff.
        acc += (w >> 32) + (w & 0xffff_ffff);
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = rest.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Folds an accumulator into 16 bits (not complemented).
///
/// Branch-free: every fold keeps the value modulo 0xffff and keeps a non-zero value
/// non-zero, so any fold sequence ending below 2^16 gives the same result as folding until
/// no carry is left. Two 32-bit folds bring any u64 to at most 2^32, three 16-bit folds
/// then to at most 0xffff.
#[inline]
pub fn fold(acc: u64) -> u16 {
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff_ffff) + (acc >> 32);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    acc as u16
}

/// The Internet checksum of `data` (complemented ones' complement sum).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(0, data))
}

/// RFC 1624 incremental update of checksum `hc` when one 16-bit word changes `old -> new`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    // At most 3 * 0xffff: two 16-bit folds leave no carry (see `fold`).
    let acc = (!hc as u32) + (!old as u32) + new as u32;
    let acc = (acc & 0xffff) + (acc >> 16);
    let acc = (acc & 0xffff) + (acc >> 16);
    !(acc as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(0, &data)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
        assert_eq!(fold(sum(0, &data[..7])), fold(sum(0, &[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0x00])));
    }

    /// The reference fold: add the carries back until there are none.
    fn fold_loop(mut acc: u64) -> u16 {
        while acc >> 16 != 0 {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }

    #[test]
    fn branch_free_fold_matches_the_loop() {
        let edges = [
            0u64,
            1,
            0xffff,
            0x1_0000,
            0x1_fffe,
            0x1_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_ffff_ffff,
            0x2_0000_0000,
            u64::MAX,
            u64::MAX - 1,
            0xffff_0000_ffff_0000,
        ];
        for a in edges {
            assert_eq!(fold(a), fold_loop(a), "{a:#x}");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for a in [x, x >> 16, x >> 31, x >> 40] {
                assert_eq!(fold(a), fold_loop(a), "{a:#x}");
            }
        }
        for hc in (0..=0xffffu32).step_by(97) {
            for (old, new) in [(0u32, 0xffffu32), (0xffff, 0), (0x4001, 0x3e01), (0xffff, 0xffff), (0, 0)] {
                let acc = (!(hc as u16) as u64) + (!(old as u16) as u64) + new as u64;
                assert_eq!(update16(hc as u16, old as u16, new as u16), !fold_loop(acc));
            }
        }
    }

    #[test]
    fn incremental_update_matches_full_recompute() {
        let mut hdr = [
            0x45, 0x00, 0x00, 0x54, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x00, 0x00, 10, 0, 0, 10, 10, 1, 5, 7,
        ];
        let c = checksum(&hdr);
        hdr[10..12].copy_from_slice(&c.to_be_bytes());
        for ttl in [0x3fu8, 0x01, 0x00, 0xff] {
            let old = u16::from_be_bytes([hdr[8], hdr[9]]);
            let hc = u16::from_be_bytes([hdr[10], hdr[11]]);
            hdr[8] = ttl;
            let new = u16::from_be_bytes([hdr[8], hdr[9]]);
            let upd = update16(hc, old, new);
            hdr[10..12].copy_from_slice(&upd.to_be_bytes());
            assert_eq!(checksum(&hdr), 0, "ttl {ttl}");
        }
    }
}
