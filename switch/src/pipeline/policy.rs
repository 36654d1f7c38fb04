//! Stage 4a, policy (redirect): `ip redirect vrf T A B` delivers every IPv4 frame of tenant T
//! sent to A to B instead. The destination address is rewritten in place before the lookup
//! (so the frame is routed to B wherever B lives: a local port or a remote node), the IPv4
//! header checksum and the TCP/UDP checksum (their pseudo-header holds the destination) are
//! updated incrementally (RFC 1624); ICMP checksums do not cover addresses. Redirects are a
//! small sorted table per snapshot (binary search, nothing when the table is empty).
//! Frames routed by a peer appliance (`prerouted`) were redirected there already.
//! Runs on worker threads: no allocation, no lock, no panic.

use super::{Batch, L3, NO_TENANT};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::checksum::update16;
use rib::FibSnapshot;
use std::net::Ipv4Addr;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

/// Rewrites the destination of every redirected pending IPv4 frame.
pub fn run<B: FrameBuf>(
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
) {
    if fib.redirects.is_empty() {
        return;
    }
    for i in 0..batch.len {
        let m = &mut batch.meta[i];
        if !m.pending() || m.l3 != L3::Ipv4 || m.tenant == NO_TENANT || m.prerouted {
            continue;
        }
        let Some(to) = fib.redirect(m.tenant, m.dst) else { continue };
        if rewrite_dst(buf.data_mut(&batch.desc[i]), m.l3_off as usize, m.dst, to) {
            m.dst = to;
            counters.redirected += 1;
        }
    }
}

/// Writes `to` as the IPv4 destination of the packet at `off` (whose destination is `from`)
/// and fixes the header checksum and, for an unfragmented-or-first TCP/UDP fragment, the L4
/// checksum. Returns false (changing nothing) when the header is not all there.
pub fn rewrite_dst(data: &mut [u8], off: usize, from: Ipv4Addr, to: Ipv4Addr) -> bool {
    let Some(ip) = data.get_mut(off..) else { return false };
    if ip.len() < 20 {
        return false;
    }
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    if ihl < 20 || ip.len() < ihl {
        return false;
    }
    let (old, new) = (from.octets(), to.octets());
    let words = |o: [u8; 4]| [u16::from_be_bytes([o[0], o[1]]), u16::from_be_bytes([o[2], o[3]])];
    let (ow, nw) = (words(old), words(new));
    let fix = |mut c: u16| {
        for k in 0..2 {
            c = update16(c, ow[k], nw[k]);
        }
        c
    };
    let hc = fix(u16::from_be_bytes([ip[10], ip[11]]));
    ip[10..12].copy_from_slice(&hc.to_be_bytes());
    ip[16..20].copy_from_slice(&new);
    let first_fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
    let proto = ip[9];
    if !first_fragment {
        return true;
    }
    let l4 = &mut ip[ihl..];
    match proto {
        PROTO_TCP if l4.len() >= 18 => {
            let c = fix(u16::from_be_bytes([l4[16], l4[17]]));
            l4[16..18].copy_from_slice(&c.to_be_bytes());
        }
        PROTO_UDP if l4.len() >= 8 => {
            let c = u16::from_be_bytes([l4[6], l4[7]]);
            // 0: no checksum (keep it); a computed 0 is sent as 0xffff (RFC 768).
            if c != 0 {
                let c = match fix(c) {
                    0 => 0xffff,
                    c => c,
                };
                l4[6..8].copy_from_slice(&c.to_be_bytes());
            }
        }
        _ => {}
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::wire::checksum::checksum;

    /// An IPv4 header + L4 segment with correct checksums.
    fn packet(proto: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
        let l4_len = match proto {
            PROTO_TCP => 20,
            _ => 8,
        } + payload.len();
        let mut p = vec![0u8; 20 + l4_len];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((20 + l4_len) as u16).to_be_bytes());
        p[8] = 64;
        p[9] = proto;
        p[12..16].copy_from_slice(&src);
        p[16..20].copy_from_slice(&dst);
        let hc = checksum(&p[..20]);
        p[10..12].copy_from_slice(&hc.to_be_bytes());
        {
            let l4 = &mut p[20..];
            l4[0..2].copy_from_slice(&40000u16.to_be_bytes());
            l4[2..4].copy_from_slice(&5201u16.to_be_bytes());
            if proto == PROTO_TCP {
                l4[12] = 0x50;
                l4[20..].copy_from_slice(payload);
            } else {
                l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
                l4[8..].copy_from_slice(payload);
            }
        }
        let c = l4_checksum(&p);
        let at = if proto == PROTO_TCP { 36 } else { 26 };
        p[at..at + 2].copy_from_slice(&c.to_be_bytes());
        p
    }

    /// Full TCP/UDP checksum over the pseudo-header with the checksum field zeroed.
    fn l4_checksum(p: &[u8]) -> u16 {
        let proto = p[9];
        let mut seg = p[20..].to_vec();
        let at = if proto == PROTO_TCP { 16 } else { 6 };
        seg[at] = 0;
        seg[at + 1] = 0;
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&p[12..20]);
        pseudo.extend_from_slice(&[0, proto]);
        pseudo.extend_from_slice(&(seg.len() as u16).to_be_bytes());
        pseudo.extend_from_slice(&seg);
        if pseudo.len() % 2 == 1 {
            pseudo.push(0);
        }
        checksum(&pseudo)
    }

    #[test]
    fn tcp_and_udp_checksums_stay_valid_after_rewrite() {
        for proto in [PROTO_TCP, PROTO_UDP] {
            for payload in [&b""[..], b"x", b"hello, redirected world"] {
                let mut p = packet(proto, [10, 0, 0, 10], [10, 1, 5, 7], payload);
                assert!(rewrite_dst(&mut p, 0, Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 1, 5, 8)));
                assert_eq!(&p[16..20], &[10, 1, 5, 8]);
                assert_eq!(checksum(&p[..20]), 0, "ip header checksum");
                let at = if proto == PROTO_TCP { 36 } else { 26 };
                assert_eq!(u16::from_be_bytes([p[at], p[at + 1]]), l4_checksum(&p), "proto {proto}");
            }
        }
    }

    #[test]
    fn udp_without_checksum_keeps_zero_and_later_fragments_keep_l4() {
        let mut p = packet(PROTO_UDP, [10, 0, 0, 10], [10, 1, 5, 7], b"abc");
        p[26] = 0;
        p[27] = 0;
        assert!(rewrite_dst(&mut p, 0, Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 1, 5, 8)));
        assert_eq!(&p[26..28], &[0, 0]);
        assert_eq!(checksum(&p[..20]), 0);

        let mut f = packet(PROTO_TCP, [10, 0, 0, 10], [10, 1, 5, 7], b"later fragment bytes");
        f[6..8].copy_from_slice(&100u16.to_be_bytes());
        let hc = {
            f[10] = 0;
            f[11] = 0;
            checksum(&f[..20])
        };
        f[10..12].copy_from_slice(&hc.to_be_bytes());
        let l4_before = f[20..].to_vec();
        assert!(rewrite_dst(&mut f, 0, Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 1, 5, 8)));
        assert_eq!(checksum(&f[..20]), 0);
        assert_eq!(f[20..], l4_before[..], "a later fragment has no L4 header to fix");
    }

    #[test]
    fn truncated_headers_are_left_alone() {
        let mut short = vec![0x45u8; 19];
        assert!(!rewrite_dst(&mut short, 0, Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2)));
        assert_eq!(short, vec![0x45u8; 19]);
        let mut p = packet(PROTO_TCP, [10, 0, 0, 10], [10, 1, 5, 7], b"");
        p.truncate(30); // TCP header cut: IP is fixed, the L4 checksum is out of reach.
        assert!(rewrite_dst(&mut p, 0, Ipv4Addr::new(10, 1, 5, 7), Ipv4Addr::new(10, 1, 5, 8)));
        assert_eq!(checksum(&p[..20]), 0);
    }
}
