//! Stage 2, classify: decides the tenant and forwarding table of every frame from the
//! ingress port's FIB entry (access: VLAN, gateway MAC and source-subnet checks) or, on an
//! uplink, per frame from the VXLAN VNI and the remote host that sent it, after checking and
//! stripping the outer headers in place. Injected probes take the table of the router that
//! originates them. Counts per-tenant receive and per-port decapsulation.

use super::{parse, Batch, DropReason, Ingress, IngressCtx, Meta, Verdict, L3};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{arp, ethernet, ipv4, udp, vxlan};
use rib::fib::PortKind;
use rib::{FibSnapshot, MacAddr, PortId, TableId};
use std::net::Ipv4Addr;

/// Classifies the batch; returns what later stages need to know about its ingress.
pub fn run<B: FrameBuf>(
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    counters: &mut WorkerCounters,
) -> IngressCtx {
    let ctx = match batch.ingress {
        Ingress::Port(port) => match fib.port(port) {
            None => IngressCtx::Invalid,
            Some(entry) if !entry.up => {
                drop_pending(batch, DropReason::IngressDown);
                return IngressCtx::Invalid;
            }
            Some(entry) => match &entry.kind {
                PortKind::Access { tenant, vlan, table, router, gateway_ip, gateway_mac, subnet } => {
                    IngressCtx::Access {
                        port,
                        tenant: *tenant,
                        table: *table,
                        router: *router,
                        vlan: *vlan,
                        gateway_ip: *gateway_ip,
                        gateway_mac: *gateway_mac,
                        subnet: *subnet,
                    }
                }
                PortKind::Uplink { address, mac, .. } => {
                    decap(buf, batch, fib, port, *address, *mac, counters);
                    return IngressCtx::Uplink { port };
                }
            },
        },
        Ingress::Router(router) => {
            let table = TableId(router.0);
            match fib.table(table) {
                Some(t) => IngressCtx::Router { router, table, tenant: t.tenant },
                None => {
                    drop_pending(batch, DropReason::InjectInvalid);
                    return IngressCtx::Invalid;
                }
            }
        }
    };
    match ctx {
        IngressCtx::Invalid => drop_pending(batch, DropReason::UnknownPort),
        IngressCtx::Access { tenant, table, vlan, gateway_mac, subnet, .. } => {
            // The whole batch is one tenant: count locally, add to the counters once.
            let (mut packets, mut bytes) = (0u64, 0u64);
            for (m, desc) in batch.meta[..batch.len].iter_mut().zip(&batch.desc) {
                if !m.pending() {
                    continue;
                }
                if m.vlan != vlan {
                    m.drop(DropReason::VlanMismatch);
                } else if m.dst_mac != gateway_mac && !(m.l3 == L3::Arp && m.dst_mac == MacAddr::BROADCAST) {
                    m.drop(DropReason::NotOurMac);
                } else if m.l3 == L3::Ipv4 && !subnet.contains(m.src) {
                    m.drop(DropReason::SrcNotInSubnet);
                } else {
                    m.tenant = tenant;
                    m.table = table;
                    packets += 1;
                    bytes += buf.len(desc) as u64;
                }
            }
            if packets > 0 {
                let t = counters.tenant_mut(tenant.index());
                t.rx_packets += packets;
                t.rx_bytes += bytes;
            }
        }
        IngressCtx::Router { table, tenant, .. } => {
            for m in batch.meta[..batch.len].iter_mut() {
                if m.pending() {
                    if m.l3 != L3::Ipv4 {
                        m.drop(DropReason::InjectInvalid);
                    } else {
                        m.tenant = tenant;
                        m.table = table;
                    }
                }
            }
        }
        IngressCtx::Uplink { .. } | IngressCtx::Remote { .. } => {}
    }
    ctx
}

fn drop_pending<D>(batch: &mut Batch<D>, reason: DropReason) {
    for m in batch.meta[..batch.len].iter_mut() {
        if m.pending() {
            m.drop(reason);
        }
    }
}

/// Decapsulation on an uplink, frame by frame (each frame has its own tenant and origin).
/// ARP frames (substrate ARP) are left to the `local` stage. An IPv4 frame must be VXLAN to
/// the uplink's `address` and `mac` (untagged, unfragmented, UDP 4789, I flag), with a known
/// VNI, from a known VTEP; the packet start then moves past the outer headers (nothing is
/// copied) and the inner frame is parsed like a received one. Its source (IP and MAC, or
/// the ARP sender) must be a remote host of that tenant held by that VTEP's node, and it
/// must be addressed to that host's gateway MAC (or broadcast ARP). It then enters the
/// virtual network at the host's router: `meta.table`, `meta.remote`.
fn decap<B: FrameBuf>(
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    port: PortId,
    local: Ipv4Addr,
    mac: MacAddr,
    counters: &mut WorkerCounters,
) {
    for i in 0..batch.len {
        let m = batch.meta[i];
        if !m.pending() || m.l3 == L3::Arp {
            continue;
        }
        let verdict = decap_one(buf, &mut batch.desc[i], &mut batch.meta[i], fib, local, mac);
        match verdict {
            Ok(len) => {
                let meta = &batch.meta[i];
                counters.decapsulated += 1;
                counters.port_mut(port.index()).decap_packets += 1;
                let t = counters.tenant_mut(meta.tenant.index());
                t.rx_packets += 1;
                t.rx_bytes += len as u64;
            }
            Err(reason) => batch.meta[i].drop(reason),
        }
    }
}

/// Checks, strips and re-parses one frame; returns the inner frame's length.
fn decap_one<B: FrameBuf>(
    buf: &mut B,
    desc: &mut B::Desc,
    meta: &mut Meta,
    fib: &FibSnapshot,
    local: Ipv4Addr,
    mac: MacAddr,
) -> Result<usize, DropReason> {
    if meta.vlan.is_some() {
        return Err(DropReason::VlanMismatch);
    }
    if meta.dst_mac != mac {
        return Err(DropReason::NotOurMac);
    }
    if meta.l3 != L3::Ipv4 || meta.proto != ipv4::protocol::UDP || meta.dst != local {
        return Err(DropReason::VxlanMalformed);
    }
    let (vni, inner_off, inner_len) =
        vxlan_inner(buf.data(desc), meta.l3_off as usize).ok_or(DropReason::VxlanMalformed)?;
    let pos = fib.vni_map.binary_search_by_key(&vni, |e| e.0).map_err(|_| DropReason::UnknownVni)?;
    let tenant = fib.vni_map[pos].1;
    let node = fib.vtep_node(meta.src).ok_or(DropReason::VxlanUnknownVtep)?;
    if !buf.adjust_head(desc, inner_off as isize) || !buf.set_len(desc, inner_len) {
        return Err(DropReason::VxlanMalformed);
    }
    parse::parse_frame(buf.data(desc), meta);
    if let Verdict::Drop(r) = meta.verdict {
        return Err(r);
    }
    if meta.vlan.is_some() {
        return Err(DropReason::VlanMismatch);
    }
    // The inner source: IPv4 source, or the ARP sender.
    let (src_ip, src_mac) = match meta.l3 {
        L3::Ipv4 => (meta.src, meta.src_mac),
        L3::Arp => {
            let data = buf.data(desc);
            let a = data
                .get(meta.l3_off as usize..)
                .and_then(|p| arp::Packet::new_checked(p).ok())
                .ok_or(DropReason::ArpMalformed)?;
            if a.sender_hw_addr() != meta.src_mac {
                return Err(DropReason::VxlanForgedSource);
            }
            (a.sender_proto_addr(), meta.src_mac)
        }
        L3::Other => return Err(DropReason::UnknownEthertype),
    };
    let idx = fib
        .remote_hosts
        .binary_search_by_key(&(tenant, src_ip), |h| (h.tenant, h.ip))
        .map_err(|_| DropReason::VxlanForgedSource)?;
    let host = &fib.remote_hosts[idx];
    if host.node != node {
        return Err(DropReason::VxlanForgedSource);
    }
    let broadcast_arp = meta.l3 == L3::Arp && meta.dst_mac == MacAddr::BROADCAST;
    if meta.dst_mac == host.gateway_mac || broadcast_arp {
        // A host's own frame to its gateway: it must carry the host's MAC.
        if host.mac != src_mac {
            return Err(DropReason::VxlanForgedSource);
        }
    } else if meta.l3 == L3::Ipv4 {
        // Routed by a peer appliance (router MAC to host MAC): forward checks it is exactly
        // the delivery this appliance would make.
        meta.prerouted = true;
    } else {
        return Err(DropReason::NotOurMac);
    }
    meta.tenant = tenant;
    meta.table = host.table;
    meta.remote = idx as u32;
    Ok(inner_len)
}

/// Returns (VNI, offset of the inner Ethernet frame, its length) for a VXLAN frame whose
/// outer IPv4 header is at `l3_off`: no fragment, UDP port 4789, a UDP length that fits the
/// IPv4 packet and holds VXLAN and an inner Ethernet header, the I flag set. The inner length
/// comes from the UDP length (Ethernet padding after the outer packet is not inner data).
fn vxlan_inner(data: &[u8], l3_off: usize) -> Option<(u32, usize, usize)> {
    let ip = ipv4::Packet::new_checked(data.get(l3_off..)?).ok()?;
    // Any fragment (MF set or an offset): the inner frame is not all here.
    if ip.flags_frag() & 0x3fff != 0 {
        return None;
    }
    let hl = ip.header_len() as usize;
    let u = udp::Packet::new_checked(ip.payload()).ok()?;
    if u.dst_port() != vxlan::UDP_PORT {
        return None;
    }
    let udp_len = u.len() as usize;
    if udp_len > ip.payload().len() || udp_len < udp::HEADER_LEN + vxlan::HEADER_LEN + ethernet::HEADER_LEN {
        return None;
    }
    let v = vxlan::Packet::new_checked(u.payload()).ok()?;
    let inner_off = l3_off + hl + udp::HEADER_LEN + vxlan::HEADER_LEN;
    let inner_len = udp_len - udp::HEADER_LEN - vxlan::HEADER_LEN;
    if data.len() < inner_off + inner_len {
        return None;
    }
    Some((v.vni(), inner_off, inner_len))
}
