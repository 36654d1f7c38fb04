//! Every reason the pipeline or the worker drops a frame, with its `show errors` name and a
//! one-line description (VPP `foreach_*_error` style). Counted per worker in
//! [`crate::stats::WorkerCounters::drops`], indexed by [`DropReason::index`].

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $desc:literal; )*) => {
        /// Why a frame was dropped. Each received frame is counted at most once: either it is
        /// forwarded, or consumed as a request (ARP/echo, counted in `arp_replies` /
        /// `echo_replies`) or punted (`punted`, uplink ARP in `arp_punted`), or counted under
        /// exactly one reason here — including
        /// the reasons whose description says an ICMP error was sent in its place.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[$doc])* $variant, )*
        }

        impl DropReason {
            /// Every reason in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant),*];
            /// Number of reasons (length of a counter array).
            pub const COUNT: usize = Self::ALL.len();

            /// Short snake_case name (`show errors`).
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name),* }
            }

            /// What happened, for operators.
            pub const fn description(self) -> &'static str {
                match self { $(DropReason::$variant => $desc),* }
            }
        }
    };
}

drop_reasons! {
    /// Shorter than an Ethernet header (or its 802.1Q tag).
    Truncated => "truncated", "frame shorter than its Ethernet header";
    /// EtherType other than IPv4 and ARP.
    UnknownEthertype => "unknown_ethertype", "not IPv4 or ARP";
    /// ARP not Ethernet/IPv4 or too short.
    ArpMalformed => "arp_malformed", "malformed ARP packet";
    /// ARP request for an address the appliance does not answer.
    ArpNotForUs => "arp_not_for_us", "ARP request for an address that is not a gateway or known host";
    /// ARP reply or other ARP operation (the appliance never asks).
    ArpIgnored => "arp_ignored", "ARP reply or unknown ARP operation";
    /// IPv4 header with bad version, header length or total length.
    Ipv4Malformed => "ip4_malformed", "malformed IPv4 header";
    /// IPv4 header checksum wrong.
    Ipv4BadChecksum => "ip4_bad_checksum", "bad IPv4 header checksum";
    /// Frame on a port the FIB does not know.
    UnknownPort => "unknown_port", "frame on a port unknown to the FIB";
    /// Ingress port administratively or operationally down.
    IngressDown => "ingress_down", "ingress port is down";
    /// 802.1Q tag missing, unexpected or with the wrong VLAN id for the port.
    VlanMismatch => "vlan_mismatch", "VLAN tag does not match the port";
    /// Unicast frame not addressed to the gateway MAC.
    NotOurMac => "not_our_mac", "unicast frame not addressed to the gateway MAC";
    /// Source address outside the access port's subnet (anti-spoofing).
    SrcNotInSubnet => "src_not_in_subnet", "source address outside the port subnet";
    /// Lookup miss; an ICMP net unreachable was sent (unless suppressed).
    NoRoute => "no_route", "no route to destination (ICMP net unreachable sent)";
    /// Route leads nowhere usable; ICMP host unreachable sent.
    HostUnreachable => "host_unreachable", "destination unreachable (ICMP host unreachable sent)";
    /// Route to Null0.
    Blackhole => "blackhole", "route to Null0";
    /// TTL ran out at a logical router; ICMP time exceeded sent.
    TtlExceeded => "ttl_exceeded", "TTL expired at a logical router (ICMP time exceeded sent)";
    /// Non-echo traffic addressed to a router address (UDP gets ICMP port unreachable).
    LocalUnsupported => "local_unsupported", "traffic to a router address other than ICMP echo";
    /// ICMP to a router address that is not the answer to a shell probe.
    PuntNotProbe => "punt_not_probe", "ICMP to a router address that answers no probe";
    /// The punt queue to the shell was full.
    PuntQueueFull => "punt_queue_full", "probe reply lost: punt queue full";
    /// Management traffic (TCP 23/22, UDP 161 to a router address) over the tenant's punt
    /// budget (per worker token bucket).
    MgmtRateLimited => "mgmt_rate_limited", "management packet to a router address over the tenant's punt rate";
    /// The tenant's management queue was full (or the tenant has none).
    MgmtQueueFull => "mgmt_queue_full", "management packet to a router address lost: tenant's queue full";
    /// A management packet larger than a management buffer.
    MgmtTooBig => "mgmt_too_big", "management packet to a router address larger than the management MTU";
    /// The egress port is down.
    EgressDown => "egress_down", "egress port is down";
    /// The egress port is not served by this worker's port set.
    EgressUnknown => "egress_unknown", "egress port not served by this worker";
    /// Growing the frame (VLAN push, VXLAN encap, ICMP error) did not fit in the frame buffer.
    NoHeadroom => "no_headroom", "frame too large to add headers";
    /// Frame on an uplink that is not VXLAN to our address, or malformed VXLAN.
    VxlanMalformed => "vxlan_malformed", "uplink frame that is not valid VXLAN for this node";
    /// VXLAN with a VNI no tenant uses.
    UnknownVni => "unknown_vni", "VXLAN VNI of no tenant";
    /// VXLAN whose outer source address is no known remote VTEP.
    VxlanUnknownVtep => "vxlan_unknown_vtep", "VXLAN from an address that is not a known VTEP";
    /// VXLAN whose inner source (IP and MAC) is not a host of the tenant held by the sending node.
    VxlanForgedSource => "vxlan_forged_source", "VXLAN inner source is not a host of that tenant on that node";
    /// The tunnel toward the destination's node has no usable substrate path.
    SubstrateNoPath => "substrate_no_path", "no substrate path to the destination's node";
    /// The substrate next hop's MAC is not resolved yet (ARP pending).
    SubstrateUnresolved => "substrate_unresolved", "substrate next hop not resolved yet";
    /// A DF packet larger than the tunnel's inner MTU; ICMP fragmentation needed sent.
    FragNeeded => "frag_needed", "DF packet larger than the tunnel MTU (ICMP fragmentation needed sent)";
    /// A packet without DF larger than the tunnel's inner MTU (never fragmented).
    TooBig => "too_big", "packet larger than the tunnel MTU without DF (not fragmented)";
    /// The ARP queue to the control plane was full.
    ArpQueueFull => "arp_queue_full", "uplink ARP frame lost: control-plane queue full";
    /// Over the shaping rate of the egress port (`traffic-shape`) or of the tenant's service
    /// level, and the shaper's queue was full.
    Shaped => "shaped", "over the shaping rate of the egress port or the tenant, queue full (dropped)";
    /// The transmit ring of the egress port was full and so was the frame's priority class
    /// queue (or the worker's frame budget for queues was used up).
    ClassQueueFull => "class_queue_full", "transmit ring full and the priority class queue full";
    /// The transmit ring of the egress port refused a frame it had said it had room for.
    TxRingFull => "tx_ring_full", "transmit ring full";
    /// No free frame for a probe injected by the shell.
    InjectNoFrame => "inject_no_frame", "no free frame for an injected probe";
    /// A probe injected by the shell was malformed or named an unknown router.
    InjectInvalid => "inject_invalid", "invalid injected probe";
    /// Untagged frame on a trunk device (every port on a trunk has its VLAN).
    TrunkUntagged => "trunk_untagged", "untagged frame on a trunk (no port without a VLAN there)";
    /// Tagged frame on a trunk device with a VLAN no port of that device uses.
    TrunkUnknownVlan => "trunk_unknown_vlan", "frame on a trunk with a VLAN no port uses";
    /// Internal: a frame reached egress without a verdict (should stay 0).
    Unhandled => "unhandled", "internal: frame left the pipeline without a verdict";
}

impl DropReason {
    /// Index into a counter array.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_indices_dense() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            assert!(
                r.name().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                r.name()
            );
            assert!(!r.description().is_empty());
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::COUNT);
    }
}
