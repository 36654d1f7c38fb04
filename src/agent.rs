//! The substrate agent: the control-plane side of the overlay, run by the main thread beside
//! the RIB (never on a worker). It resolves every uplink's substrate next hop by ARP — requests
//! go out through the workers' control-tx queue, answers come back through their ARP punt
//! queue and become `NeighbourLearned` in the RIB — and it enforces fast-path quotas: when a
//! tenant's bytes on fast-plane tunnels (counted by the workers) pass its quota, the RIB moves
//! it to the slow plane.

use rib::topology::{PortBinding, Topology};
use rib::{MacAddr, PortId, RibHandle, TenantId};
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use switch::punt::PuntQueues;
use switch::wire::{arp, ethernet};

/// How often an unresolved next hop is asked for.
const RETRY: Duration = Duration::from_millis(200);
/// How often a resolved next hop is asked for again (its answer refreshes or changes the MAC).
const REFRESH: Duration = Duration::from_secs(30);
/// How often the targets and quotas are re-read.
const SCAN: Duration = Duration::from_millis(100);

/// One uplink's own addresses (the ARP requests' sender).
#[derive(Clone, Copy, Debug)]
struct Uplink {
    address: Ipv4Addr,
    mac: MacAddr,
}

/// State of the agent; [`SubstrateAgent::tick`] is called about every 50 ms.
pub struct SubstrateAgent {
    rib: RibHandle,
    punt: Arc<PuntQueues>,
    uplinks: HashMap<PortId, Uplink>,
    /// Learned next hops and when they were last asked for.
    resolved: HashMap<(PortId, Ipv4Addr), MacAddr>,
    asked: HashMap<(PortId, Ipv4Addr), Instant>,
    targets: Vec<(PortId, Ipv4Addr)>,
    quotas: Vec<(TenantId, u64)>,
    over_quota: HashSet<TenantId>,
    last_scan: Option<Instant>,
}

impl SubstrateAgent {
    /// None when the topology has no uplink (nothing to resolve, no tunnel to move).
    pub fn new(topo: &Topology, rib: RibHandle, punt: Arc<PuntQueues>) -> Option<SubstrateAgent> {
        let uplinks: HashMap<PortId, Uplink> = topo
            .ports
            .iter()
            .filter_map(|p| match &p.binding {
                PortBinding::Uplink { address, mac, .. } => {
                    Some((p.id, Uplink { address: *address, mac: *mac }))
                }
                _ => None,
            })
            .collect();
        if uplinks.is_empty() {
            return None;
        }
        Some(SubstrateAgent {
            rib,
            punt,
            uplinks,
            resolved: HashMap::new(),
            asked: HashMap::new(),
            targets: Vec::new(),
            quotas: Vec::new(),
            over_quota: HashSet::new(),
            last_scan: None,
        })
    }

    /// Learns from punted ARP, asks for what is unresolved or due, checks quotas.
    /// `fast_tx_bytes(tenant)` is the workers' count of the tenant's bytes on fast tunnels.
    pub fn tick(&mut self, now: Instant, fast_tx_bytes: impl Fn(TenantId) -> u64) {
        while let Some(pf) = self.punt.recv_arp() {
            self.learn(pf.port, pf.frame.as_slice());
        }
        if self.last_scan.is_some_and(|t| now.duration_since(t) < SCAN) {
            return;
        }
        self.last_scan = Some(now);
        self.targets = self.rib.arp_targets();
        self.quotas = self.rib.fast_path_quotas();
        for &(port, ip) in &self.targets {
            let Some(up) = self.uplinks.get(&port) else { continue };
            let every = if self.resolved.contains_key(&(port, ip)) { REFRESH } else { RETRY };
            if self.asked.get(&(port, ip)).is_some_and(|t| now.duration_since(*t) < every) {
                continue;
            }
            let req = switch::punt::build_arp_request(up.mac, up.address, ip);
            // A full queue is retried at the next scan.
            if self.punt.send_raw(port, req.as_slice()).is_ok() {
                self.asked.insert((port, ip), now);
            }
        }
        for &(tenant, quota) in &self.quotas {
            if !self.over_quota.contains(&tenant) && fast_tx_bytes(tenant) >= quota {
                eprintln!(
                    "substrate: tenant {} passed its fast-path quota ({quota} bytes): moving it to the slow plane",
                    tenant.0
                );
                if self.rib.set_over_quota(tenant, true).is_ok() {
                    self.over_quota.insert(tenant);
                }
            }
        }
    }

    /// An ARP frame from an uplink: a sender that is one of our next hops is learned (a reply
    /// to our request, or its own request for our address).
    fn learn(&mut self, port: PortId, frame: &[u8]) {
        let Some((ip, mac)) = arp_sender(frame) else { return };
        let wanted = self.targets.contains(&(port, ip)) || self.rib.arp_targets().contains(&(port, ip));
        if !wanted || mac == MacAddr::ZERO || mac == MacAddr::BROADCAST {
            return;
        }
        if self.resolved.get(&(port, ip)) == Some(&mac) {
            return;
        }
        if self.rib.neighbour_learned(port, ip, mac).is_ok() {
            self.resolved.insert((port, ip), mac);
        }
    }
}

/// Sender protocol and hardware address of an Ethernet/IPv4 ARP frame.
fn arp_sender(frame: &[u8]) -> Option<(Ipv4Addr, MacAddr)> {
    let eth = ethernet::Frame::new_checked(frame).ok()?;
    if eth.ethertype() != ethernet::ethertype::ARP {
        return None;
    }
    let a = arp::Packet::new_checked(frame.get(ethernet::HEADER_LEN..)?).ok()?;
    Some((a.sender_proto_addr(), a.sender_hw_addr()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_sender_reads_requests_and_replies_and_refuses_the_rest() {
        let mac = MacAddr([2, 0, 0, 0, 0, 9]);
        let req = switch::punt::build_arp_request(
            mac,
            Ipv4Addr::new(10, 255, 1, 254),
            Ipv4Addr::new(10, 255, 1, 1),
        );
        assert_eq!(arp_sender(req.as_slice()), Some((Ipv4Addr::new(10, 255, 1, 254), mac)));
        assert_eq!(arp_sender(&req.as_slice()[..20]), None);
        let mut ip = req.as_slice().to_vec();
        ip[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(arp_sender(&ip), None);
    }
}
