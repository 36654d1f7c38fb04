//! Trunks: several logical access ports on one device, told apart by their 802.1Q VLAN id.
//! The worker receives from each device once ([`RxPlan`]): a plain port is one receive
//! source, a trunk is one source whose frames are demultiplexed by VLAN id to their logical
//! ports through a 4096-entry table ([`VlanMap`], a lookup per frame, no allocation).
//! Transmit needs nothing here: a logical port's frames are tagged with its VLAN by the
//! pipeline (the FIB's adjacency carries it) and the port set sends them on the device's
//! shared socket. Built once when the worker starts (allocates); read on the hot path.

use rib::PortId;

/// VLAN ids are 12 bits.
pub const VLAN_IDS: usize = 4096;

/// [`VlanMap`] entry of a VLAN no port uses.
const NO_PORT: u16 = u16::MAX;

/// VLAN id → logical port of one trunk device.
#[derive(Clone, PartialEq, Eq)]
pub struct VlanMap {
    ports: Box<[u16; VLAN_IDS]>,
}

impl std::fmt::Debug for VlanMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used: Vec<(usize, u16)> =
            self.ports.iter().enumerate().filter(|(_, p)| **p != NO_PORT).map(|(v, p)| (v, *p)).collect();
        f.debug_struct("VlanMap").field("vlans", &used).finish()
    }
}

impl Default for VlanMap {
    fn default() -> Self {
        VlanMap { ports: Box::new([NO_PORT; VLAN_IDS]) }
    }
}

impl VlanMap {
    /// The logical port of VLAN `vid` (None: no port uses it).
    #[inline]
    pub fn port(&self, vid: u16) -> Option<PortId> {
        match self.ports.get(vid as usize) {
            Some(&p) if p != NO_PORT => Some(PortId(p)),
            _ => None,
        }
    }

    /// Maps `vid` to `port` (ids past 4095 are ignored).
    pub fn insert(&mut self, vid: u16, port: PortId) {
        if let Some(slot) = self.ports.get_mut(vid as usize) {
            *slot = port.0;
        }
    }
}

/// One receive source of a worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RxSource {
    /// A device that is one logical port.
    Port(PortId),
    /// A trunk device: received through its first logical port `via` (all ports of the
    /// device share one socket), each frame going to the port of its VLAN.
    Trunk { via: PortId, vlans: VlanMap },
}

/// Where a worker receives from: one entry per device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxPlan {
    pub sources: Vec<RxSource>,
}

/// What a trunk frame's 802.1Q header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tag {
    /// Tagged with this VLAN id.
    Vlan(u16),
    /// No 802.1Q tag (or too short to tell).
    Untagged,
}

/// The VLAN tag of the Ethernet frame `data` (a C-tag, EtherType 0x8100).
#[inline]
pub fn tag_of(data: &[u8]) -> Tag {
    match data.get(12..16) {
        Some(&[0x81, 0x00, hi, lo]) => Tag::Vlan(u16::from_be_bytes([hi, lo]) & 0x0fff),
        _ => Tag::Untagged,
    }
}

impl RxPlan {
    /// One source per port: every port has its own device (no trunk).
    pub fn one_per_port(ports: usize) -> RxPlan {
        RxPlan { sources: (0..ports).map(|p| RxSource::Port(PortId(p as u16))).collect() }
    }

    /// The plan of `ports` given as `(device, vlan)` in port order: ports sharing a device
    /// form a trunk (validation made sure each has a distinct VLAN there); a device used by
    /// one port is a plain source even when that port is tagged (the pipeline checks its tag).
    pub fn from_devices<S: AsRef<str>>(ports: &[(S, Option<u16>)]) -> RxPlan {
        let mut sources: Vec<RxSource> = Vec::new();
        let mut by_device: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (i, (device, vlan)) in ports.iter().enumerate() {
            let port = PortId(i as u16);
            match by_device.get(device.as_ref()) {
                None => {
                    by_device.insert(device.as_ref(), sources.len());
                    sources.push(RxSource::Port(port));
                }
                Some(&s) => {
                    let Some(src) = sources.get_mut(s) else { continue };
                    if let RxSource::Port(first) = *src {
                        // The second port on the device: the source becomes a trunk.
                        let mut vlans = VlanMap::default();
                        if let Some(v) = ports.get(first.index()).and_then(|(_, v)| *v) {
                            vlans.insert(v, first);
                        }
                        *src = RxSource::Trunk { via: first, vlans };
                    }
                    if let (RxSource::Trunk { vlans, .. }, Some(v)) = (src, vlan) {
                        vlans.insert(*v, port);
                    }
                }
            }
        }
        RxPlan { sources }
    }

    /// Trunk devices in the plan.
    pub fn trunks(&self) -> usize {
        self.sources.iter().filter(|s| matches!(s, RxSource::Trunk { .. })).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_sharing_a_device_become_one_trunk_source() {
        let plan = RxPlan::from_devices(&[
            ("eth1", Some(10)),
            ("eth0", None),
            ("eth1", Some(20)),
            ("eth2", Some(5)),
            ("eth1", Some(4094)),
        ]);
        assert_eq!(plan.sources.len(), 3);
        assert_eq!(plan.trunks(), 1);
        let RxSource::Trunk { via, vlans } = &plan.sources[0] else { panic!("{plan:?}") };
        assert_eq!(*via, PortId(0));
        assert_eq!(
            (vlans.port(10), vlans.port(20), vlans.port(4094), vlans.port(5), vlans.port(0)),
            (Some(PortId(0)), Some(PortId(2)), Some(PortId(4)), None, None)
        );
        assert_eq!(plan.sources[1], RxSource::Port(PortId(1)));
        assert_eq!(plan.sources[2], RxSource::Port(PortId(3)), "one tagged port alone is no trunk");
        assert_eq!(
            RxPlan::one_per_port(2).sources,
            vec![RxSource::Port(PortId(0)), RxSource::Port(PortId(1))]
        );
    }

    #[test]
    fn tags_are_read_from_the_8021q_header_only() {
        let mut f = vec![0u8; 18];
        f[12..16].copy_from_slice(&[0x81, 0x00, 0xe0, 0x0a]); // PCP 7, VLAN 10
        assert_eq!(tag_of(&f), Tag::Vlan(10));
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(tag_of(&f), Tag::Untagged);
        assert_eq!(tag_of(&f[..14]), Tag::Untagged);
        assert_eq!(tag_of(&[0x81; 13]), Tag::Untagged, "too short");
    }
}
