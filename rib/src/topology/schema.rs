//! The topology file format (RON): strict serde structs that mirror the file one to one.
//! Nothing here is validated beyond syntax; `validate` turns a [`TopologyFile`] into a runtime
//! [`super::Topology`]. `write memory` serialises a `TopologyFile` back.

use crate::types::{Ipv4Prefix, MacAddr, ServiceLevel};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// A whole appliance description.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyFile {
    /// Hostname shown in the shell prompt (`vnswitch>`).
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Worker threads and their cores.
    #[serde(default)]
    pub workers: WorkersConfig,
    /// Shell front ends.
    #[serde(default)]
    pub shell: ShellConfig,
    /// Appliance ports: one Linux device each.
    pub ports: Vec<PortConfig>,
    /// Tenants (virtual networks).
    pub tenants: Vec<TenantConfig>,
    /// The shared substrate: nodes and links with their characteristics.
    #[serde(default)]
    pub substrate: SubstrateConfig,
    /// Per service level policy (fast/slow path, quota).
    #[serde(default)]
    pub service_levels: Vec<ServiceLevelConfig>,
    /// Shell users.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// The SNMP v2c read-only agent on the management address.
    #[serde(default)]
    pub snmp: SnmpConfig,
}

fn default_hostname() -> String {
    "vnswitch".to_string()
}

/// Worker threads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkersConfig {
    /// One worker per listed core id. Empty: one worker on the last core.
    #[serde(default)]
    pub cores: Vec<usize>,
}

/// Shell settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellConfig {
    /// Telnet listen address.
    #[serde(default = "default_telnet")]
    pub telnet: String,
    /// SSH listen address; `"off"` disables the SSH front end.
    #[serde(default = "default_ssh")]
    pub ssh: String,
    /// Idle timeout of a session in seconds (IOS `exec-timeout`), 0 = never.
    #[serde(default = "default_exec_timeout")]
    pub exec_timeout_secs: u64,
}

fn default_telnet() -> String {
    "127.0.0.1:2323".to_string()
}
fn default_ssh() -> String {
    "127.0.0.1:2222".to_string()
}
fn default_exec_timeout() -> u64 {
    600
}

impl Default for ShellConfig {
    fn default() -> Self {
        ShellConfig {
            telnet: default_telnet(),
            ssh: default_ssh(),
            exec_timeout_secs: default_exec_timeout(),
        }
    }
}

/// The SNMP v2c read-only agent (management address). Tenant communities are per tenant
/// ([`TenantConfig::snmp_community`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnmpConfig {
    /// UDP listen address (`127.0.0.1:161`), or `off`.
    #[serde(default = "default_snmp_listen")]
    pub listen: String,
    /// The administrator's community: sees every appliance port. Empty: no admin community.
    #[serde(default)]
    pub community: String,
    /// `sysContact.0`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub contact: String,
    /// `sysLocation.0`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
}

fn default_snmp_listen() -> String {
    "off".to_string()
}

impl Default for SnmpConfig {
    fn default() -> Self {
        SnmpConfig {
            listen: default_snmp_listen(),
            community: String::new(),
            contact: String::new(),
            location: String::new(),
        }
    }
}

/// One appliance port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    /// Port name used in the shell (`interface a`).
    pub name: String,
    /// The Linux network device the port binds (AF_XDP), e.g. `vns-a-sw`.
    pub device: String,
    /// What the port connects.
    pub role: PortRole,
    /// Administrative state (`shutdown` sets it false).
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Egress shaping of the port (`traffic-shape rate BPS [burst BYTES]` on the interface).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<ShapeConfig>,
}

/// A token-bucket shaper: `rate_bps` bits per second of L2 bytes, `burst_bytes` saved at most
/// (at least one MTU; None: the default, 10 ms at the rate and never under 16 KiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShapeConfig {
    pub rate_bps: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_bytes: Option<u32>,
}

/// `ip redirect vrf T FROM TO`: every frame of the tenant sent to `from` goes to `to`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedirectConfig {
    pub from: Ipv4Addr,
    pub to: Ipv4Addr,
}

fn default_true() -> bool {
    true
}

fn default_uplink_prefix_len() -> u8 {
    24
}

fn default_mtu() -> u16 {
    1500
}

/// A port connects either tenant hosts (access) or other appliances (substrate uplink).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PortRole {
    /// Tenant access: frames carry the tenant's subnet, optionally tagged with `vlan`.
    Access {
        tenant: String,
        /// The tenant subnet reachable on this port.
        subnet: Ipv4Prefix,
        #[serde(default)]
        vlan: Option<u16>,
    },
    /// Substrate uplink: VXLAN-encapsulated tenant frames to and from other substrate nodes.
    Uplink {
        /// This appliance's substrate (VTEP) address on the uplink.
        address: Ipv4Addr,
        /// MAC of the uplink side of the appliance.
        mac: MacAddr,
        /// Length of the uplink's substrate subnet (the lab gives the peer an address in it).
        #[serde(default = "default_uplink_prefix_len")]
        prefix_len: u8,
        /// Substrate next hop (an ordinary router). None: remote VTEPs are on-link.
        #[serde(default)]
        gateway: Option<Ipv4Addr>,
        /// The substrate link (by name) this uplink is the local end of: the first hop of
        /// every substrate path leaving through it.
        #[serde(default)]
        link: Option<String>,
        /// Substrate MTU of the uplink (largest outer IPv4 packet); tenant MTU = this - 50.
        #[serde(default = "default_mtu")]
        mtu: u16,
    },
}

/// A tenant's virtual network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    pub name: String,
    /// VXLAN network identifier of the tenant on the substrate.
    pub vni: u32,
    #[serde(default)]
    pub service_level: ServiceLevel,
    /// Fast-path quota in bytes; past it the tenant moves to the slow path. None: unlimited.
    #[serde(default)]
    pub fast_path_quota_bytes: Option<u64>,
    /// Confine the tenant to these substrate links (quarantine). Empty: any.
    #[serde(default)]
    pub quarantine_links: Vec<String>,
    /// Substrate link name -> coefficient (> 0) on that link's cost for this tenant: the
    /// tenant's virtual configuration propagated to the substrate (2.0 makes the link look
    /// twice as expensive to this tenant's paths). Absent links count 1.0.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub substrate_cost_factors: BTreeMap<String, f64>,
    /// The tenant's subnets (router interfaces and hosts live in them).
    pub subnets: Vec<Ipv4Prefix>,
    pub routers: Vec<RouterConfig>,
    /// Logical links between the tenant's routers (the routers' interfaces on a shared subnet).
    #[serde(default)]
    pub links: Vec<LogicalLinkConfig>,
    #[serde(default)]
    pub hosts: Vec<HostConfig>,
    #[serde(default)]
    pub static_routes: Vec<StaticRouteConfig>,
    /// Destination redirects (`ip redirect`): traffic to `from` is delivered to `to`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redirects: Vec<RedirectConfig>,
    /// SNMP v2c community of the tenant: it sees only this tenant's logical routers'
    /// interfaces (and, in-band on a router address, that router's). None: no SNMP access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snmp_community: Option<String>,
}

/// A logical router: exists only as addresses, MACs and routes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    pub name: String,
    pub interfaces: Vec<RouterInterfaceConfig>,
}

/// One interface of a logical router.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterInterfaceConfig {
    /// Interface name shown in the tenant view, e.g. `Gi0/0`.
    pub name: String,
    pub address: Ipv4Addr,
    /// The tenant subnet the interface is on (must contain `address`).
    pub subnet: Ipv4Prefix,
    pub mac: MacAddr,
}

/// A logical link between two routers of the tenant, with an SPF cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogicalLinkConfig {
    /// Router names.
    pub a: String,
    pub b: String,
    /// The subnet both routers have an interface on.
    pub subnet: Ipv4Prefix,
    #[serde(default = "default_cost")]
    pub cost: u32,
}

fn default_cost() -> u32 {
    10
}

/// A tenant host (a VM or a namespace in the lab).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub name: String,
    pub address: Ipv4Addr,
    pub mac: MacAddr,
    /// Where the host lives when local: an access port name. Exactly one of `port` and `node`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    /// Where the host lives when remote: the substrate node (another appliance or a Linux
    /// VTEP) that holds it; frames to it leave an uplink as VXLAN. Never the local node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Network namespace the lab creates for this host.
    #[serde(default)]
    pub netns: Option<String>,
}

/// A static route of a tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticRouteConfig {
    pub prefix: Ipv4Prefix,
    pub next_hop: Ipv4Addr,
    /// Router that holds the route; default: the router with an interface on the next hop's subnet.
    #[serde(default)]
    pub router: Option<String>,
}

/// Substrate graph.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstrateConfig {
    /// This appliance's node name in the substrate.
    #[serde(default)]
    pub local_node: Option<String>,
    #[serde(default)]
    pub nodes: Vec<SubstrateNodeConfig>,
    #[serde(default)]
    pub links: Vec<SubstrateLinkConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstrateNodeConfig {
    pub name: String,
    /// VTEP address of the node.
    pub address: Ipv4Addr,
    /// VTEP address on the fast plane (the patent's IP aliasing: one address per plane, each
    /// routed over its plane by the substrate routers). Default: `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_address: Option<Ipv4Addr>,
    /// VTEP address on the slow plane. Default: `address`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_address: Option<Ipv4Addr>,
    /// Network namespace the lab builds for this node when it is a Linux router or VTEP
    /// (`vnswitch run --lab`); None for other appliances and real nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns: Option<String>,
}

/// A substrate link with the characteristics the route manager's cost function uses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubstrateLinkConfig {
    pub name: String,
    pub a: String,
    pub b: String,
    pub latency_us: u32,
    pub bandwidth_mbps: u32,
    /// Monetary cost per GB (arbitrary units).
    #[serde(default)]
    pub cost: u32,
    /// Probability the link delivers, 0.0..=1.0.
    #[serde(default = "default_reliability")]
    pub reliability: f64,
    /// Fast-path link (platinum/gold) or slow-path (silver).
    #[serde(default)]
    pub fast: bool,
}

fn default_reliability() -> f64 {
    1.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceLevelConfig {
    pub level: ServiceLevel,
    /// Whether the level uses fast-path links.
    pub fast_path: bool,
    /// Egress shaping rate per tenant in Mbit/s, None = unshaped.
    #[serde(default)]
    pub rate_mbps: Option<u32>,
}

/// What a user is in the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserRole {
    /// Sees the substrate and every tenant.
    Admin,
    /// A tenant's operator: sees only its tenants' logical view.
    Tenant,
}

/// Output style of `show` commands for a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CliStyle {
    #[default]
    Ios,
    Junos,
}

/// A shell user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Salted hash: `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`. Never a plain password.
    pub password_hash: String,
    pub role: UserRole,
    /// Tenants this user may see (role tenant); ignored for admin.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// 0..=15; 1 = show only, 15 = everything.
    #[serde(default = "default_privilege")]
    pub privilege: u8,
    #[serde(default)]
    pub cli_style: CliStyle,
    /// Custom commands: alias -> expansion.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
}

fn default_privilege() -> u8 {
    1
}
