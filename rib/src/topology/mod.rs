//! Topology files: load RON ([`schema`]), validate into the runtime [`Topology`] with errors
//! that name the file, line and field, and save back atomically (`write memory`).
//!
//! CONTRACT: `load`, `parse`, `Topology`, `TopologyError`, `save_atomic`, `hash_password`,
//! `verify_password` are what the binary and the shell call.

pub mod locate;
pub mod password;
pub mod schema;
mod validate;
pub use validate::{MAX_INTERFACES, MAX_PORTS, MAX_ROUTERS, MAX_TENANTS};

pub use password::{hash_password, parse_password_hash, verify_password};
pub use validate::resolve_static_route;

use crate::types::{Ipv4Prefix, MacAddr, NodeId, Plane, PortId, RouterId, ServiceLevel, TenantId};
use schema::TopologyFile;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// A topology error: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {field}: {message}", file = file.display())]
pub struct TopologyError {
    pub file: PathBuf,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Dotted path of the offending field, e.g. `tenants[0].hosts[1].address`.
    pub field: String,
    pub message: String,
}

/// The validated topology: the file plus resolved indices.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Where it was loaded from (None for in-memory topologies).
    pub path: Option<PathBuf>,
    /// The file form, kept as the running configuration.
    pub file: TopologyFile,
    /// Indexed by [`PortId`], in file order.
    pub ports: Vec<Port>,
    /// Indexed by [`TenantId`], in file order.
    pub tenants: Vec<Tenant>,
    /// Indexed by [`RouterId`]: every tenant's routers, tenant by tenant in file order.
    pub routers: Vec<Router>,
    /// Every tenant's local hosts (on an access port), tenant by tenant in file order
    /// ([`Tenant::hosts`] indexes this).
    pub hosts: Vec<Host>,
    /// Every tenant's hosts on remote substrate nodes, tenant by tenant in file order
    /// ([`Tenant::remote_hosts`] indexes this).
    pub remote_hosts: Vec<RemoteHost>,
    /// The substrate graph with resolved node ids (empty when the file has none).
    pub substrate: Substrate,
}

/// The substrate with resolved references: nodes (indexed by [`NodeId`]) and links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Substrate {
    /// This appliance's node.
    pub local: Option<NodeId>,
    pub nodes: Vec<SubstrateNode>,
    pub links: Vec<SubstrateLink>,
}

/// A substrate node and its VTEP address on each plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstrateNode {
    pub id: NodeId,
    pub name: String,
    pub address: Ipv4Addr,
    pub fast_address: Ipv4Addr,
    pub slow_address: Ipv4Addr,
}

impl SubstrateNode {
    /// The node's VTEP address on `plane`.
    pub fn address_on(&self, plane: Plane) -> Ipv4Addr {
        match plane {
            Plane::Fast => self.fast_address,
            Plane::Slow => self.slow_address,
        }
    }
}

/// A substrate link between nodes `a` and `b` with what the cost functions read.
#[derive(Debug, Clone, PartialEq)]
pub struct SubstrateLink {
    pub name: String,
    pub a: NodeId,
    pub b: NodeId,
    pub latency_us: u32,
    pub bandwidth_mbps: u32,
    /// Monetary cost (arbitrary units).
    pub cost: u32,
    /// Probability the link delivers, 0.0..=1.0.
    pub reliability: f64,
    pub fast: bool,
}

impl SubstrateLink {
    /// The plane the link belongs to.
    pub fn plane(&self) -> Plane {
        if self.fast {
            Plane::Fast
        } else {
            Plane::Slow
        }
    }
}

impl Substrate {
    pub fn node_by_name(&self, name: &str) -> Option<&SubstrateNode> {
        self.nodes.iter().find(|n| n.name == name)
    }
    /// Index of the link named `name`.
    pub fn link_index(&self, name: &str) -> Option<usize> {
        self.links.iter().position(|l| l.name == name)
    }
}

/// A resolved appliance port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub id: PortId,
    pub name: String,
    /// Linux device (at most 15 bytes).
    pub device: String,
    /// Administrative state.
    pub enabled: bool,
    pub binding: PortBinding,
}

impl Port {
    /// The port's 802.1Q VLAN (access ports that have one).
    pub fn vlan(&self) -> Option<u16> {
        match self.binding {
            PortBinding::Access { vlan, .. } => vlan,
            PortBinding::Uplink { .. } => None,
        }
    }
}

/// What a port carries, with references resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortBinding {
    /// Tenant access port on `subnet`; `router` owns the subnet through its interface
    /// `interface` (the gateway of the port's hosts).
    Access { tenant: TenantId, subnet: Ipv4Prefix, vlan: Option<u16>, router: RouterId, interface: usize },
    /// Substrate uplink: this appliance's VTEP address on it, its MAC, the substrate next hop
    /// (None: on-link), the substrate link it is the local end of, and its MTU.
    Uplink {
        address: Ipv4Addr,
        prefix_len: u8,
        mac: MacAddr,
        gateway: Option<Ipv4Addr>,
        link: Option<String>,
        mtu: u16,
    },
}

/// A resolved tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub vni: u32,
    pub service_level: ServiceLevel,
    pub subnets: Vec<Ipv4Prefix>,
    /// The tenant's routers (global ids), in file order.
    pub routers: Vec<RouterId>,
    pub links: Vec<Link>,
    /// Indices into [`Topology::hosts`].
    pub hosts: Vec<usize>,
    /// Indices into [`Topology::remote_hosts`].
    pub remote_hosts: Vec<usize>,
    pub static_routes: Vec<StaticRoute>,
    /// Fast-path quota in bytes (None: unlimited).
    pub fast_path_quota_bytes: Option<u64>,
    /// Quarantine: the substrate links (indices into [`Substrate::links`]) the tenant is
    /// confined to; empty: any link.
    pub quarantine_links: Vec<usize>,
}

/// A resolved logical router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    pub id: RouterId,
    pub tenant: TenantId,
    pub name: String,
    pub interfaces: Vec<Interface>,
}

/// A logical router interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub address: Ipv4Addr,
    pub subnet: Ipv4Prefix,
    pub mac: MacAddr,
}

/// A logical link: router `a`'s interface `a_interface` and router `b`'s interface
/// `b_interface` share `subnet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub a: RouterId,
    pub a_interface: usize,
    pub b: RouterId,
    pub b_interface: usize,
    pub subnet: Ipv4Prefix,
    pub cost: u32,
}

/// A resolved tenant host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub tenant: TenantId,
    pub name: String,
    pub address: Ipv4Addr,
    pub mac: MacAddr,
    pub port: PortId,
    pub netns: Option<String>,
}

/// A resolved tenant host on a remote substrate node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteHost {
    pub tenant: TenantId,
    pub name: String,
    pub address: Ipv4Addr,
    pub mac: MacAddr,
    /// The substrate node holding the host (never the local node).
    pub node: NodeId,
    /// The router owning the host's subnet (the first of the tenant's routers with an
    /// interface on a subnet containing the address) and that interface's index.
    pub router: RouterId,
    pub interface: usize,
    pub netns: Option<String>,
}

/// A resolved static route held by `router`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StaticRoute {
    pub prefix: Ipv4Prefix,
    pub next_hop: Ipv4Addr,
    pub router: RouterId,
}

impl Topology {
    /// Validates an in-memory file (errors carry line 0 and the file name `<memory>`).
    pub fn from_file(file: TopologyFile) -> Result<Topology, TopologyError> {
        validate::validate(file, None).map_err(|e| TopologyError {
            file: PathBuf::from("<memory>"),
            line: 0,
            field: e.field,
            message: e.message,
        })
    }

    pub fn tenant_by_name(&self, name: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.name == name)
    }

    /// The ports on `device` with their VLANs, in port order: more than one is a trunk.
    pub fn ports_on_device(&self, device: &str) -> Vec<&Port> {
        self.ports.iter().filter(|p| p.device == device).collect()
    }

    pub fn port_by_name(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    /// A router of `tenant` by name (router names are unique within a tenant).
    pub fn router_by_name(&self, tenant: TenantId, name: &str) -> Option<&Router> {
        let t = self.tenants.get(tenant.index())?;
        t.routers.iter().map(|r| &self.routers[r.index()]).find(|r| r.name == name)
    }

    pub fn router(&self, id: RouterId) -> &Router {
        &self.routers[id.index()]
    }

    /// Number of static routes over all tenants.
    pub fn static_route_count(&self) -> usize {
        self.tenants.iter().map(|t| t.static_routes.len()).sum()
    }

    /// Adds a static route to the running configuration (file and resolved form); the holding
    /// router defaults to the one with an interface on the next hop's subnet. Errors name
    /// the offending field (`router`, `next_hop`) and say why. An identical route is not added
    /// twice (returns the existing one).
    pub fn add_static_route(
        &mut self,
        tenant: TenantId,
        route: schema::StaticRouteConfig,
    ) -> Result<StaticRoute, (&'static str, String)> {
        let t = self.tenants.get(tenant.index()).ok_or(("tenant", format!("no tenant id {}", tenant.0)))?;
        let r = resolve_static_route(t, &self.routers, &route)?;
        if !t.static_routes.contains(&r) {
            self.tenants[tenant.index()].static_routes.push(r);
            self.file.tenants[tenant.index()].static_routes.push(route);
        }
        Ok(r)
    }

    /// Appends an already resolved static route without checks (the RIB thread resolves and
    /// de-duplicates against its own index first).
    pub(crate) fn push_static_route(
        &mut self,
        tenant: TenantId,
        route: schema::StaticRouteConfig,
        resolved: StaticRoute,
    ) {
        if let (Some(t), Some(f)) =
            (self.tenants.get_mut(tenant.index()), self.file.tenants.get_mut(tenant.index()))
        {
            t.static_routes.push(resolved);
            f.static_routes.push(route);
        }
    }

    /// Removes the static route `prefix` via `next_hop` of `tenant` (any holding router).
    pub fn remove_static_route(
        &mut self,
        tenant: TenantId,
        prefix: Ipv4Prefix,
        next_hop: Ipv4Addr,
    ) -> Option<StaticRoute> {
        let t = self.tenants.get_mut(tenant.index())?;
        let i = t.static_routes.iter().position(|r| r.prefix == prefix && r.next_hop == next_hop)?;
        let removed = t.static_routes.remove(i);
        let f = &mut self.file.tenants[tenant.index()].static_routes;
        if let Some(j) = f.iter().position(|r| r.prefix == prefix && r.next_hop == next_hop) {
            f.remove(j);
        }
        Some(removed)
    }

    /// Removes every static route of `tenant` whose (prefix, next hop) is in `gone`, in one pass
    /// over the tenant's lists (a churn of removals costs O(routes) per batch, not per removal).
    pub(crate) fn remove_static_routes(
        &mut self,
        tenant: TenantId,
        gone: &std::collections::HashSet<(Ipv4Prefix, Ipv4Addr)>,
    ) {
        if gone.is_empty() {
            return;
        }
        if let Some(t) = self.tenants.get_mut(tenant.index()) {
            t.static_routes.retain(|r| !gone.contains(&(r.prefix, r.next_hop)));
        }
        if let Some(f) = self.file.tenants.get_mut(tenant.index()) {
            f.static_routes.retain(|r| !gone.contains(&(r.prefix, r.next_hop)));
        }
    }

    /// Sets a port's administrative state (file and resolved form).
    pub fn set_port_enabled(&mut self, port: PortId, enabled: bool) -> bool {
        match (self.ports.get_mut(port.index()), self.file.ports.get_mut(port.index())) {
            (Some(p), Some(f)) => {
                p.enabled = enabled;
                f.enabled = enabled;
                true
            }
            _ => false,
        }
    }

    /// Adds a host to `tenant` and validates the whole result (the topology is unchanged on
    /// error).
    pub fn add_host(&mut self, tenant: TenantId, host: schema::HostConfig) -> Result<(), TopologyError> {
        let mut file = self.file.clone();
        let t = file.tenants.get_mut(tenant.index()).ok_or_else(|| TopologyError {
            file: PathBuf::from("<running>"),
            line: 0,
            field: "tenant".into(),
            message: format!("no tenant id {}", tenant.0),
        })?;
        t.hosts.push(host);
        let path = self.path.clone();
        let mut next = Topology::from_file(file)?;
        next.path = path;
        *self = next;
        Ok(())
    }

    /// What `vnswitch check` prints: counts of everything, one tenant per line.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let access = self.ports.iter().filter(|p| matches!(p.binding, PortBinding::Access { .. })).count();
        let connected: usize = self.routers.iter().map(|r| r.interfaces.len()).sum();
        let _ = writeln!(s, "hostname {}", self.file.hostname);
        let _ = writeln!(
            s,
            "ports: {} ({} access, {} uplink)",
            self.ports.len(),
            access,
            self.ports.len() - access
        );
        let _ = writeln!(s, "tenants: {}", self.tenants.len());
        for t in &self.tenants {
            let _ = writeln!(
                s,
                "  {:<12} vni {:<8} {:<8} routers {:<3} links {:<3} hosts {:<4} static routes {}",
                t.name,
                t.vni,
                format!("{:?}", t.service_level).to_lowercase(),
                t.routers.len(),
                t.links.len(),
                t.hosts.len() + t.remote_hosts.len(),
                t.static_routes.len()
            );
        }
        let _ = writeln!(s, "routers: {}", self.routers.len());
        let _ = match self.remote_hosts.len() {
            0 => writeln!(s, "hosts: {}", self.hosts.len()),
            r => writeln!(s, "hosts: {} ({r} remote)", self.hosts.len() + r),
        };
        if !self.substrate.nodes.is_empty() {
            let _ = writeln!(
                s,
                "substrate: {} nodes, {} links",
                self.substrate.nodes.len(),
                self.substrate.links.len()
            );
        }
        let _ = writeln!(
            s,
            "routes: {} ({} connected, {} static)",
            connected + self.static_route_count(),
            connected,
            self.static_route_count()
        );
        let _ = writeln!(s, "users: {}", self.file.users.len());
        s
    }
}

/// Options used to read topology files: `Some(..)` may be omitted (`vlan: 10`).
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

/// Loads and validates a topology file.
pub fn load(path: &Path) -> Result<Topology, TopologyError> {
    let text = std::fs::read_to_string(path).map_err(|e| TopologyError {
        file: path.to_path_buf(),
        line: 0,
        field: String::new(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, path)
}

/// Parses and validates topology text; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<Topology, TopologyError> {
    let parsed: Result<TopologyFile, ron::error::SpannedError> = ron_options().from_str(text);
    let tf = match parsed {
        Ok(tf) => tf,
        Err(e) => return Err(syntax_error(text, file, &e)),
    };
    validate::validate(tf, Some(file.to_path_buf())).map_err(|e| {
        let map = locate::SourceMap::scan(text);
        TopologyError {
            file: file.to_path_buf(),
            line: map.line_of(&e.field),
            field: e.field,
            message: e.message,
        }
    })
}

fn syntax_error(text: &str, file: &Path, e: &ron::error::SpannedError) -> TopologyError {
    let pos = e.span.start;
    let at = locate::SourceMap::find_path_at(text, pos.line, pos.col).unwrap_or_default();
    let field = match &e.code {
        ron::Error::MissingStructField { field, .. } => {
            // Reported at the end of the struct; name the struct's path plus the field.
            let parent = at.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
            if parent.is_empty() {
                field.to_string()
            } else {
                format!("{parent}.{field}")
            }
        }
        _ => at,
    };
    TopologyError { file: file.to_path_buf(), line: pos.line, field, message: e.code.to_string() }
}

/// Serialises `file` as commented, pretty RON (what `write memory` writes).
pub fn to_ron_string(file: &TopologyFile) -> Result<String, ron::Error> {
    let cfg = ron::ser::PrettyConfig::new().struct_names(false).indentor("    ".to_string());
    let body = ron::ser::to_string_pretty(file, cfg)?;
    Ok(format!("// vnswitch running configuration (written by `write memory`).\n{body}\n"))
}

/// Writes `file` atomically: pretty RON to a temporary file in the same directory, fsync,
/// rename over `path`, fsync the directory. A reader sees the old or the new file, never a mix.
pub fn save_atomic(path: &Path, file: &TopologyFile) -> std::io::Result<()> {
    let text = to_ron_string(file).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name =
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "topology".into());
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    remove_stale_temps(&dir, &name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Removes temp files of earlier saves of `name` in `dir` whose writer process is gone (a save
/// killed between create and rename leaves one; the target file itself is never touched).
fn remove_stale_temps(dir: &Path, name: &str) {
    let prefix = format!(".{name}.tmp.");
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let file = e.file_name();
        let Some(pid) = file.to_str().and_then(|f| f.strip_prefix(&prefix)) else { continue };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
