//! Stage 2, classify: decides the tenant and forwarding table of every frame from the
//! ingress port's FIB entry (access: VLAN, gateway MAC and source-subnet checks) or, on an
//! uplink, from the VXLAN VNI after decapsulating in place. Injected probes take the table
//! of the router that originates them. Counts per-tenant receive.

use super::{parse, Batch, DropReason, Ingress, IngressCtx, L3};
use crate::port::FrameBuf;
use crate::stats::WorkerCounters;
use crate::wire::{ethernet, ipv4, udp, vxlan};
use rib::fib::PortKind;
use rib::{FibSnapshot, MacAddr, TableId};

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
                    decap(buf, batch, fib, u32::from(*address), *mac, counters);
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
        IngressCtx::Uplink { .. } => {}
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

/// VXLAN decapsulation on an uplink: the outer frame must be IPv4/UDP to port 4789 for our
/// address; the VNI selects tenant and table; the inner frame is moved to the start of the
/// buffer and parsed again.
fn decap<B: FrameBuf>(
    buf: &mut B,
    batch: &mut Batch<B::Desc>,
    fib: &FibSnapshot,
    local: u32,
    mac: MacAddr,
    counters: &mut WorkerCounters,
) {
    for i in 0..batch.len {
        if !batch.meta[i].pending() {
            continue;
        }
        let m = batch.meta[i];
        if m.l3 != L3::Ipv4 || m.proto != ipv4::protocol::UDP || u32::from(m.dst) != local || m.dst_mac != mac
        {
            batch.meta[i].drop(DropReason::VxlanMalformed);
            continue;
        }
        let data = buf.data(&batch.desc[i]);
        let Some(inner) = vxlan_inner(data, m.l3_off as usize) else {
            batch.meta[i].drop(DropReason::VxlanMalformed);
            continue;
        };
        let (vni, inner_off) = inner;
        let Ok(pos) = fib.vni_map.binary_search_by_key(&vni, |e| e.0) else {
            batch.meta[i].drop(DropReason::UnknownVni);
            continue;
        };
        let (_, tenant, table) = fib.vni_map[pos];
        let len = data.len();
        let data = buf.data_mut(&batch.desc[i]);
        data.copy_within(inner_off..len, 0);
        let mut desc = batch.desc[i];
        buf.set_len(&mut desc, len - inner_off);
        batch.desc[i] = desc;
        let meta = &mut batch.meta[i];
        *meta = super::Meta::EMPTY;
        parse::parse_frame(buf.data(&desc), meta);
        if !meta.pending() {
            continue;
        }
        if meta.l3 != L3::Ipv4 {
            meta.drop(DropReason::ArpIgnored);
            continue;
        }
        meta.tenant = tenant;
        meta.table = table;
        counters.decapsulated += 1;
        let t = counters.tenant_mut(tenant.index());
        t.rx_packets += 1;
        t.rx_bytes += (len - inner_off) as u64;
    }
}

/// Returns (VNI, offset of the inner Ethernet frame) for a VXLAN frame.
fn vxlan_inner(data: &[u8], l3_off: usize) -> Option<(u32, usize)> {
    let ip = ipv4::Packet::new_checked(data.get(l3_off..)?).ok()?;
    if ip.is_later_fragment() {
        return None;
    }
    let hl = ip.header_len() as usize;
    let u = udp::Packet::new_checked(ip.payload()).ok()?;
    if u.dst_port() != vxlan::UDP_PORT {
        return None;
    }
    let v = vxlan::Packet::new_checked(u.payload()).ok()?;
    let inner_off = l3_off + hl + udp::HEADER_LEN + vxlan::HEADER_LEN;
    if data.len() < inner_off + ethernet::HEADER_LEN {
        return None;
    }
    Some((v.vni(), inner_off))
}
