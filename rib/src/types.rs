//! Small identifier and address types shared by the control plane, the data plane and the shell.
//! All are `Copy`; ids are dense indices into the topology's vectors.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub u16);
        impl $name {
            /// The id as an index into the owning vector.
            #[inline]
            pub fn index(self) -> usize { self.0 as usize }
        }
    };
}

id_type!(
    /// A tenant (virtual network), index into `Topology::tenants`.
    TenantId
);
id_type!(
    /// A port of the appliance (one Linux device), index into `Topology::ports`.
    PortId
);
id_type!(
    /// A logical router, index into `Topology::routers` (global across tenants).
    RouterId
);
id_type!(
    /// A substrate node (another appliance or a Linux VTEP), index into the topology's
    /// substrate nodes.
    NodeId
);
id_type!(
    /// A tunnel of the FIB: one per (tenant, remote substrate node), index into
    /// `FibSnapshot::tunnels`. Stable across path changes, so moving a tenant to another
    /// plane rewrites the tunnel table only, never the router tables.
    TunnelId
);
id_type!(
    /// A forwarding table in the FIB: one per logical router (the table used by frames that
    /// enter the virtual network at that router).
    TableId
);

/// An Ethernet MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error parsing a MAC address or a prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrParseError {
    #[error("invalid MAC address '{0}' (expected six hex bytes like 00:01:42:09:88:73)")]
    Mac(String),
    #[error("invalid IPv4 prefix '{0}' (expected A.B.C.D/LEN with LEN 0..=32)")]
    Prefix(String),
}

impl FromStr for MacAddr {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let parts: Vec<&str> = s.split([':', '-']).collect();
        if parts.len() != 6 {
            return Err(AddrParseError::Mac(s.to_string()));
        }
        for (o, p) in out.iter_mut().zip(parts) {
            if p.len() != 2 {
                return Err(AddrParseError::Mac(s.to_string()));
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| AddrParseError::Mac(s.to_string()))?;
        }
        Ok(MacAddr(out))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IPv4 prefix; the address is always masked to the length.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    addr: u32,
    len: u8,
}

impl Ipv4Prefix {
    /// Builds a prefix, masking host bits. `len` above 32 is clamped to 32.
    pub fn new(addr: Ipv4Addr, len: u8) -> Self {
        let len = len.min(32);
        Ipv4Prefix { addr: u32::from(addr) & Self::mask_of(len), len }
    }
    /// The network mask for a prefix length.
    #[inline]
    pub fn mask_of(len: u8) -> u32 {
        if len == 0 {
            0
        } else {
            u32::MAX << (32 - len as u32)
        }
    }
    pub fn addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.addr)
    }
    pub fn addr_u32(&self) -> u32 {
        self.addr
    }
    pub fn len(&self) -> u8 {
        self.len
    }
    pub fn mask(&self) -> u32 {
        Self::mask_of(self.len)
    }
    /// True when `ip` is inside this prefix.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.addr
    }
    /// True when the two prefixes share any address.
    pub fn overlaps(&self, other: &Ipv4Prefix) -> bool {
        let m = Self::mask_of(self.len.min(other.len));
        self.addr & m == other.addr & m
    }
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr(), self.len)
    }
}

impl fmt::Debug for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Ipv4Prefix {
    type Err = AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddrParseError::Prefix(s.to_string());
        let (a, l) = s.split_once('/').ok_or_else(err)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| err())?;
        let len: u8 = l.parse().map_err(|_| err())?;
        if len > 32 {
            return Err(err());
        }
        Ok(Ipv4Prefix::new(addr, len))
    }
}

impl Serialize for Ipv4Prefix {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ipv4Prefix {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A substrate plane. Every substrate node owns one VTEP address per plane and the ordinary
/// substrate routers route each address over its plane (the patent's IP aliasing), so
/// choosing the remote address chooses the path beyond the first hop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Plane {
    /// Low-latency links (platinum and gold).
    Fast,
    /// Default, cheaper links.
    #[default]
    Slow,
}

impl Plane {
    /// Lower-case name (`show substrate paths`).
    pub fn name(self) -> &'static str {
        match self {
            Plane::Fast => "fast",
            Plane::Slow => "slow",
        }
    }
}

/// A tenant's service level: which substrate path class it gets and its priority under congestion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ServiceLevel {
    /// Fast path, highest priority.
    Platinum,
    /// Fast path, middle priority.
    Gold,
    /// Slow path, lowest priority.
    #[default]
    Silver,
}

impl ServiceLevel {
    /// Scheduling priority, 0 is served first.
    pub fn priority(self) -> u8 {
        match self {
            ServiceLevel::Platinum => 0,
            ServiceLevel::Gold => 1,
            ServiceLevel::Silver => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip() {
        let m: MacAddr = "00:01:42:09:88:73".parse().unwrap();
        assert_eq!(m.0, [0x00, 0x01, 0x42, 0x09, 0x88, 0x73]);
        assert_eq!(m.to_string(), "00:01:42:09:88:73");
        assert!("00:01:42:09:88".parse::<MacAddr>().is_err());
        assert!("zz:01:42:09:88:73".parse::<MacAddr>().is_err());
    }

    #[test]
    fn prefix_parse_masks_and_overlaps() {
        let p: Ipv4Prefix = "10.1.5.7/24".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.5.0/24");
        assert!(p.contains("10.1.5.200".parse().unwrap()));
        assert!(!p.contains("10.1.6.1".parse().unwrap()));
        let q: Ipv4Prefix = "10.1.0.0/16".parse().unwrap();
        assert!(p.overlaps(&q) && q.overlaps(&p));
        assert!(!p.overlaps(&"10.0.0.0/24".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Ipv4Prefix>().is_err());
        assert_eq!("0.0.0.0/0".parse::<Ipv4Prefix>().unwrap().mask(), 0);
    }
}
