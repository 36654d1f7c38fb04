//! VXLAN encapsulation (RFC 7348) in place, used by [`super::forward`] (frames toward hosts on
//! other substrate nodes, and messages generated for frames that came from one) and
//! [`super::local`] (ARP replies to remote hosts). The 50 outer bytes (Ethernet, IPv4 with DF
//! and TTL 64, UDP to port 4789 with checksum 0 and a source port hashed from the inner flow,
//! VXLAN with the tenant's VNI) are written into the frame's headroom in front of the inner
//! Ethernet frame; the inner frame is not moved. Runs on worker threads: no allocation, no
//! panic.

use super::DropReason;
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{ethernet, ipv4, udp, vxlan};
use rib::fib::{Tunnel, TunnelPath};
use rib::{FibSnapshot, NodeId, Plane, TenantId, TunnelId};

/// Outer IPv4 TTL.
pub const OUTER_TTL: u8 = 64;
/// Lowest UDP source port used (the dynamic range, RFC 7348 section 5).
pub const SRC_PORT_BASE: u16 = 49152;

/// The substrate path of tunnel `id`, ready to encapsulate onto: `substrate_no_path` when
/// the tunnel or its path is missing, `substrate_unresolved` while the next hop's MAC is not
/// known.
#[inline]
pub fn resolve(fib: &FibSnapshot, id: TunnelId) -> Result<&TunnelPath, DropReason> {
    usable(fib.tunnel(id))
}

/// The tunnel of (`tenant`, `node`) (the way back to a remote host), resolved as
/// [`resolve`]. A linear scan: only messages generated for remote hosts (ICMP, ARP replies)
/// take it, never forwarded traffic.
pub fn resolve_to(fib: &FibSnapshot, tenant: TenantId, node: NodeId) -> Result<&TunnelPath, DropReason> {
    usable(fib.tunnels.iter().find(|t| t.tenant == tenant && t.node == node))
}

#[inline]
fn usable(t: Option<&Tunnel>) -> Result<&TunnelPath, DropReason> {
    match t.and_then(|t| t.path.as_ref()) {
        None => Err(DropReason::SubstrateNoPath),
        Some(p) if p.dst_mac.is_none() => Err(DropReason::SubstrateUnresolved),
        Some(p) => Ok(p),
    }
}

/// UDP source port for the inner Ethernet frame `inner` (untagged): a hash of the inner IPv4
/// addresses, protocol and, for TCP and UDP first fragments, the ports (of the MACs for
/// non-IPv4 frames), mapped into 49152..=65535 so substrate ECMP spreads flows and keeps
/// each flow on one path.
#[inline]
pub fn source_port(inner: &[u8]) -> u16 {
    const IP: usize = ethernet::HEADER_LEN;
    let mut key: u64;
    match inner.get(IP..IP + ipv4::HEADER_LEN) {
        Some(h) if inner[12..14] == ethernet::ethertype::IPV4.to_be_bytes() => {
            let src = u32::from_be_bytes([h[12], h[13], h[14], h[15]]) as u64;
            let dst = u32::from_be_bytes([h[16], h[17], h[18], h[19]]) as u64;
            let proto = h[9];
            key = (src << 32 | dst) ^ ((proto as u64) << 56);
            let first_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff == 0;
            if first_fragment && (proto == ipv4::protocol::TCP || proto == ipv4::protocol::UDP) {
                let l4 = IP + ((h[0] & 0x0f) as usize) * 4;
                if let Some(p) = inner.get(l4..l4 + 4) {
                    let ports = u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as u64;
                    key = key.rotate_left(17) ^ ports;
                }
            }
        }
        _ => {
            let mut macs = [0u8; 8];
            for (o, b) in macs.iter_mut().zip(inner.iter().take(12)) {
                *o = *b;
            }
            key = u64::from_be_bytes(macs) ^ inner.get(8..12).map_or(0, |m| m[0] as u64);
        }
    }
    // splitmix64 finaliser: every input bit moves the low 14 bits.
    key ^= key >> 30;
    key = key.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    key ^= key >> 27;
    key = key.wrapping_mul(0x94d0_49bb_1331_11eb);
    key ^= key >> 31;
    SRC_PORT_BASE | (key as u16 & 0x3fff)
}

/// Prepends the outer headers toward `tp` with `vni` in front of the untagged inner Ethernet
/// frame `desc` holds, in its headroom (`no_headroom` when there is not enough). `ident` is
/// the outer IPv4 identification. Counts the encapsulation (per egress port; per tenant on
/// the fast plane).
#[allow(clippy::too_many_arguments)]
pub fn encapsulate<B: FrameBuf>(
    buf: &mut B,
    desc: &mut B::Desc,
    tp: &TunnelPath,
    vni: u32,
    tenant: TenantId,
    ident: u16,
    counters: &mut WorkerCounters,
) -> Result<(), DropReason> {
    let inner_len = buf.len(desc);
    let total = inner_len + vxlan::ENCAP_LEN;
    if total > u16::MAX as usize {
        return Err(DropReason::NoHeadroom);
    }
    let sport = source_port(buf.data(desc));
    if !buf.adjust_head(desc, -(vxlan::ENCAP_LEN as isize)) {
        return Err(DropReason::NoHeadroom);
    }
    let data = buf.data_mut(desc);
    let Some(h) = data.get_mut(..vxlan::ENCAP_LEN) else {
        return Err(DropReason::NoHeadroom);
    };
    write_outer(h, tp, vni, ident, sport, (total - ethernet::HEADER_LEN) as u16);
    counters.encapsulated += 1;
    counters.port_mut(tp.port.index()).encap_packets += 1;
    if tp.plane == Plane::Fast {
        counters.tenant_mut(tenant.index()).fast_tx_bytes += total as u64;
    }
    Ok(())
}

/// Writes the 50 outer bytes into `h`; `ip_len` is the outer IPv4 total length.
#[inline]
fn write_outer(h: &mut [u8], tp: &TunnelPath, vni: u32, ident: u16, sport: u16, ip_len: u16) {
    const IP: usize = ethernet::HEADER_LEN;
    const UDP: usize = IP + ipv4::HEADER_LEN;
    const VX: usize = UDP + udp::HEADER_LEN;
    h[0..6].copy_from_slice(&tp.dst_mac.unwrap_or(rib::MacAddr::ZERO).0);
    h[6..12].copy_from_slice(&tp.src_mac.0);
    h[12..14].copy_from_slice(&ethernet::ethertype::IPV4.to_be_bytes());
    {
        // init_header sets DF and no options.
        let mut ip = ipv4::Packet::new_unchecked(&mut h[IP..UDP]);
        ip.init_header(ip_len, ident, OUTER_TTL, ipv4::protocol::UDP, tp.local_ip, tp.remote_ip);
        ip.fill_checksum();
    }
    {
        let mut u = udp::Packet::new_unchecked(&mut h[UDP..VX]);
        u.set_src_port(sport);
        u.set_dst_port(vxlan::UDP_PORT);
        u.set_len(ip_len - ipv4::HEADER_LEN as u16);
        u.set_checksum(0);
    }
    vxlan::Packet::new_unchecked(&mut h[VX..VX + vxlan::HEADER_LEN]).init(vni);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;

    #[test]
    fn source_port_is_in_range_and_follows_the_five_tuple() {
        let a = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40000, 53, b"q");
        let b = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 40001, 53, b"q");
        let a_again = udp_frame(MAC_H, MAC_L0, IP_A, IP_H, 3, 40000, 53, b"other payload");
        let pa = source_port(&a);
        assert!(pa >= SRC_PORT_BASE);
        assert_ne!(pa, source_port(&b), "L4 source port is part of the hash");
        assert_eq!(pa, source_port(&a_again), "MACs, TTL and payload are not");
        // Many flows spread over the range.
        let mut seen = std::collections::HashSet::new();
        for sport in 0..2000u16 {
            let f = udp_frame(MAC_A, MAC_J0, IP_A, IP_H, 64, 1024 + sport, 53, b"");
            let p = source_port(&f);
            assert!(p >= SRC_PORT_BASE);
            seen.insert(p);
        }
        assert!(seen.len() > 1800, "{} distinct ports of 2000 flows", seen.len());
        // Short and non-IPv4 frames do not panic.
        for n in 0..60 {
            let _ = source_port(&a[..n.min(a.len())]);
        }
        let _ = source_port(&arp_request(MAC_A, IP_A, IP_J0));
    }
}
