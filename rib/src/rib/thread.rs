//! The RIB thread's loop: takes every pending [`RibCommand`], applies them to its routing
//! state (only the prefixes or tenants they touch), publishes one new FIB snapshot with
//! generation + 1 and the updated running topology, then answers each command.

use super::compile::{RibState, TenantRib};
use super::substrate::{path_views, substrate_view, SubstrateState};
use super::views::{neighbour_views, route_views};
use super::{RibCommand, RibError};
use crate::fib::FibSnapshot;
use crate::snapshot::FibCell;
use crate::topology::schema::{HostConfig, StaticRouteConfig};
use crate::topology::{resolve_static_route, PortBinding, StaticRoute, Topology};
use crate::types::{Ipv4Prefix, TenantId};
use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most commands applied before one publication (a feed never starves the flush).
const MAX_BATCH: usize = 16 * 1024;
/// Longest time spent applying one batch before publishing.
const MAX_BATCH_TIME: Duration = Duration::from_millis(20);
/// Under a route feed, the running configuration is published at most this often.
const TOPOLOGY_INTERVAL: Duration = Duration::from_millis(100);

/// A change command's reply channel and the answer it will get once published.
type PendingReply = (Sender<Result<(), RibError>>, Result<(), RibError>);

/// State owned by the RIB thread.
pub(crate) struct RibThread {
    topology: Topology,
    state: RibState,
    generation: u64,
    fib: Arc<FibCell>,
    shared_topology: Arc<ArcSwap<Topology>>,
    /// Routes changed since the last publication.
    fib_dirty: bool,
    /// Running configuration changed since the last publication.
    topology_dirty: bool,
    /// Answers held until the changes they report are published.
    pending: Vec<PendingReply>,
    /// When the running configuration was last published.
    topology_published: Instant,
    /// Set while a feed-only batch is flushed within TOPOLOGY_INTERVAL of the last publication.
    hold_topology: bool,
    /// The current batch has a command other than a feed's route change.
    interactive_in_batch: bool,
    /// Static route changes already in the routing state, applied to `topology` after the
    /// snapshot is published (on a 1M-route table they cost milliseconds).
    deferred: Vec<DeferredChange>,
}

/// A running-configuration change applied after publication.
enum DeferredChange {
    AddStatic(TenantId, StaticRouteConfig, StaticRoute),
    RemoveStatic(TenantId, Ipv4Prefix, Ipv4Addr),
}

impl RibThread {
    /// Computes the first snapshot (generation 1); returns the thread state, the FIB cell
    /// and the shared topology.
    pub(crate) fn new(topology: Topology) -> Result<RibThread, RibError> {
        let mut state = RibState::build(&topology);
        let snap: FibSnapshot = state.snapshot(&topology, 1)?;
        let fib = Arc::new(FibCell::new(Arc::new(snap)));
        let shared_topology = Arc::new(ArcSwap::from_pointee(topology.clone()));
        Ok(RibThread {
            topology,
            state,
            generation: 1,
            fib,
            shared_topology,
            fib_dirty: false,
            topology_published: Instant::now(),
            hold_topology: false,
            interactive_in_batch: false,
            topology_dirty: false,
            pending: Vec::new(),
            deferred: Vec::new(),
        })
    }

    pub(crate) fn fib(&self) -> Arc<FibCell> {
        self.fib.clone()
    }

    pub(crate) fn shared_topology(&self) -> Arc<ArcSwap<Topology>> {
        self.shared_topology.clone()
    }

    /// Runs until `Shutdown` or until every sender is gone.
    pub(crate) fn run(mut self, rx: Receiver<RibCommand>) {
        loop {
            // A running configuration held back by the churn throttle is published once the
            // feed pauses for TOPOLOGY_INTERVAL.
            let first = if self.topology_dirty {
                match rx.recv_timeout(TOPOLOGY_INTERVAL) {
                    Ok(cmd) => cmd,
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                        self.publish_topology();
                        continue;
                    }
                    Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match rx.recv() {
                    Ok(cmd) => cmd,
                    Err(_) => break,
                }
            };
            let started = Instant::now();
            let mut stop = self.handle(first);
            let mut handled = 1;
            // Batch: what is already queued goes into the same publication, up to
            // MAX_BATCH commands or MAX_BATCH_TIME, so a sustained feed of changes still
            // publishes (and answers) regularly instead of never reaching the flush.
            while !stop && handled < MAX_BATCH && started.elapsed() < MAX_BATCH_TIME {
                match rx.try_recv() {
                    Ok(cmd) => {
                        stop = self.handle(cmd);
                        handled += 1;
                    }
                    Err(_) => break,
                }
            }
            self.flush_batch();
            if stop {
                self.publish_topology();
                return;
            }
        }
        self.flush();
    }

    /// Applies one command; true for `Shutdown`.
    fn handle(&mut self, cmd: RibCommand) -> bool {
        if !matches!(cmd, RibCommand::FeedRoute { .. }) {
            self.interactive_in_batch = true;
        }
        match cmd {
            RibCommand::AddRoute { tenant, prefix, next_hop, reply } => {
                let r = self.add_route(&tenant, prefix, next_hop);
                self.pending.push((reply, r));
            }
            RibCommand::RemoveRoute { tenant, prefix, next_hop, reply } => {
                let r = self.remove_route(&tenant, prefix, next_hop);
                self.pending.push((reply, r));
            }
            RibCommand::FeedRoute { add, tenant, prefix, next_hop, reply } => {
                let r = if add {
                    self.add_route(&tenant, prefix, next_hop)
                } else {
                    self.remove_route(&tenant, prefix, next_hop)
                };
                self.pending.push((reply, r));
                return false;
            }
            RibCommand::SetPortEnabled { port, enabled, reply } => {
                let r = self.set_port_enabled(&port, enabled);
                self.pending.push((reply, r));
            }
            RibCommand::SetPortShape { port, shape, reply } => {
                let r = self.set_port_shape(&port, shape);
                self.pending.push((reply, r));
            }
            RibCommand::SetRedirect { tenant, from, to, reply } => {
                let r = self.set_redirect(&tenant, from, to);
                self.pending.push((reply, r));
            }
            RibCommand::AddHost { tenant, host, reply } => {
                let r = self.add_host(&tenant, host);
                self.pending.push((reply, r));
            }
            // Reads see every change made before them.
            RibCommand::Routes { tenant, reply } => {
                self.flush();
                let r = self
                    .tenant(&tenant)
                    .map(|t| route_views(&self.topology, &self.state.tenants[t.index()].ctx));
                let _ = reply.send(r);
            }
            RibCommand::Neighbours { tenant, reply } => {
                self.flush();
                let r = self
                    .tenant(&tenant)
                    .map(|t| neighbour_views(&self.topology, &self.state.tenants[t.index()].ctx));
                let _ = reply.send(r);
            }
            RibCommand::SubstrateLink { name, up, reply } => {
                let r = self.set_substrate_link(&name, up);
                self.pending.push((reply, r));
            }
            RibCommand::SetOverQuota { tenant, over } => {
                let st = &mut self.state.substrate;
                if let Some(flag) = st.over_quota.get_mut(tenant.index()) {
                    if *flag != over {
                        *flag = over;
                        self.fib_dirty = true;
                    }
                }
            }
            RibCommand::NeighbourLearned { port, ip, mac } => {
                if SubstrateState::wants_neighbour(&self.topology, port, ip) {
                    let old = self.state.substrate.neighbours.insert((port, ip), mac);
                    if old != Some(mac) {
                        self.fib_dirty = true;
                    }
                }
            }
            RibCommand::Substrate { reply } => {
                self.flush();
                let _ = reply.send(substrate_view(&self.topology, &self.state.substrate));
            }
            RibCommand::SubstratePaths { tenant, reply } => {
                self.flush();
                let r = match tenant {
                    Some(name) => self.tenant(&name).map(Some),
                    None => Ok(None),
                }
                .map(|t| path_views(&self.topology, &self.state.substrate, t));
                let _ = reply.send(r);
            }
            RibCommand::RunningConfig { reply } => {
                self.flush();
                let _ = reply.send(self.topology.file.clone());
            }
            RibCommand::Shutdown => return true,
        }
        false
    }

    /// Publishes the new snapshot and topology if anything changed, then answers.
    /// [`flush`](Self::flush) after a batch: a batch with any command but a feed's route
    /// changes (someone at the shell) publishes the running configuration at once; a batch
    /// of feed changes only publishes it at most every [`TOPOLOGY_INTERVAL`], so a stream of
    /// route changes does not clone the whole topology per batch. The FIB is published
    /// either way.
    fn flush_batch(&mut self) {
        let throttle = !self.interactive_in_batch && self.topology_published.elapsed() < TOPOLOGY_INTERVAL;
        self.hold_topology = throttle;
        self.flush();
        self.hold_topology = false;
        self.interactive_in_batch = false;
    }

    /// Publishes the running configuration if it changed.
    fn publish_topology(&mut self) {
        self.apply_deferred();
        if self.topology_dirty {
            self.shared_topology.store(Arc::new(self.topology.clone()));
            self.topology_dirty = false;
            self.topology_published = Instant::now();
        }
    }

    fn flush(&mut self) {
        if self.fib_dirty {
            match self.state.snapshot(&self.topology, self.generation + 1) {
                Ok(snap) => {
                    self.generation += 1;
                    self.fib.store(Arc::new(snap));
                }
                Err(e) => {
                    for (_, r) in &mut self.pending {
                        if r.is_ok() {
                            *r = Err(e.clone());
                        }
                    }
                }
            }
            self.fib_dirty = false;
        }
        if !self.hold_topology {
            self.publish_topology();
        }
        for (reply, r) in self.pending.drain(..) {
            let _ = reply.send(r);
        }
    }

    /// Brings `topology` up to date with the routing state.
    ///
    /// Removals are gathered per tenant and applied in one pass (`retain`) instead of one
    /// `Vec::remove` each: under a route churn a removal near the front of a long list
    /// shifted the whole list, which was most of the RIB thread's time. A route is at most
    /// once in its tenant's list (adds of a known route are refused earlier), so a set of
    /// pending removals is exact; an add of a route whose removal is pending applies the
    /// pending removals first, keeping the list in command order.
    fn apply_deferred(&mut self) {
        use std::collections::{HashMap, HashSet};
        let mut gone: HashMap<TenantId, HashSet<(Ipv4Prefix, Ipv4Addr)>> = HashMap::new();
        for change in self.deferred.drain(..) {
            match change {
                DeferredChange::AddStatic(t, cfg, route) => {
                    let key = (cfg.prefix, cfg.next_hop);
                    if let Some(set) = gone.get_mut(&t).filter(|s| s.contains(&key)) {
                        self.topology.remove_static_routes(t, set);
                        set.clear();
                    }
                    self.topology.push_static_route(t, cfg, route);
                }
                DeferredChange::RemoveStatic(t, prefix, next_hop) => {
                    gone.entry(t).or_default().insert((prefix, next_hop));
                }
            }
        }
        for (t, set) in &gone {
            self.topology.remove_static_routes(*t, set);
        }
    }

    fn tenant(&self, name: &str) -> Result<TenantId, RibError> {
        self.topology
            .tenant_by_name(name)
            .map(|t| t.id)
            .ok_or_else(|| RibError::NoSuchTenant(name.to_string()))
    }

    fn add_route(&mut self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        let tid = self.tenant(tenant)?;
        let cfg = StaticRouteConfig { prefix, next_hop, router: None };
        let route = resolve_static_route(&self.topology.tenants[tid.index()], &self.topology.routers, &cfg)
            .map_err(|(field, message)| match field {
            "next_hop" => RibError::NextHopUnreachable(next_hop),
            _ => RibError::Invalid(message),
        })?;
        let rib = &mut self.state.tenants[tid.index()];
        if rib.ctx.has_static(&route) {
            return Ok(()); // already present
        }
        rib.ctx.add_static(&route);
        rib.update_prefix(&self.topology, prefix);
        self.deferred.push(DeferredChange::AddStatic(tid, cfg, route));
        self.fib_dirty = true;
        self.topology_dirty = true;
        Ok(())
    }

    fn remove_route(&mut self, tenant: &str, prefix: Ipv4Prefix, next_hop: Ipv4Addr) -> Result<(), RibError> {
        let tid = self.tenant(tenant)?;
        let rib = &mut self.state.tenants[tid.index()];
        let route = rib.ctx.find_static(prefix, next_hop).ok_or(RibError::NoSuchRoute(prefix, next_hop))?;
        rib.ctx.remove_static(&route);
        rib.update_prefix(&self.topology, prefix);
        self.deferred.push(DeferredChange::RemoveStatic(tid, prefix, next_hop));
        self.fib_dirty = true;
        self.topology_dirty = true;
        Ok(())
    }

    fn set_port_enabled(&mut self, port: &str, enabled: bool) -> Result<(), RibError> {
        self.apply_deferred();
        let p = self.topology.port_by_name(port).ok_or_else(|| RibError::NoSuchPort(port.to_string()))?;
        if p.enabled == enabled {
            return Ok(());
        }
        let (id, binding) = (p.id, p.binding.clone());
        self.topology.set_port_enabled(id, enabled);
        if let PortBinding::Access { tenant, .. } = binding {
            // Hosts behind the port change in every table of its tenant (rare: rebuild it).
            let t = &self.topology.tenants[tenant.index()];
            self.state.tenants[tenant.index()] = TenantRib::build(&self.topology, t);
        }
        self.fib_dirty = true;
        self.topology_dirty = true;
        Ok(())
    }

    fn set_port_shape(
        &mut self,
        port: &str,
        shape: Option<crate::topology::schema::ShapeConfig>,
    ) -> Result<(), RibError> {
        let id = self.topology.port_by_name(port).ok_or_else(|| RibError::NoSuchPort(port.to_string()))?.id;
        if let Some(c) = shape {
            if c.rate_bps < 8_000 {
                return Err(RibError::Invalid(format!("shaping rate {} bit/s is under 8000", c.rate_bps)));
            }
            if c.burst_bytes.is_some_and(|b| b < crate::fib::MIN_SHAPE_BURST) {
                return Err(RibError::Invalid(format!(
                    "burst must be at least {} bytes (one frame)",
                    crate::fib::MIN_SHAPE_BURST
                )));
            }
        }
        let f = self
            .topology
            .file
            .ports
            .get_mut(id.index())
            .ok_or_else(|| RibError::NoSuchPort(port.to_string()))?;
        if f.shape != shape {
            f.shape = shape;
            self.fib_dirty = true;
            self.topology_dirty = true;
        }
        Ok(())
    }

    fn set_redirect(&mut self, tenant: &str, from: Ipv4Addr, to: Option<Ipv4Addr>) -> Result<(), RibError> {
        let tid = self.tenant(tenant)?;
        let t = self
            .topology
            .file
            .tenants
            .get_mut(tid.index())
            .ok_or_else(|| RibError::NoSuchTenant(tenant.to_string()))?;
        match to {
            Some(to) => {
                if !t.hosts.iter().any(|h| h.address == to) {
                    return Err(RibError::Invalid(format!("{to} is not a host of tenant {tenant}")));
                }
                if to == from {
                    return Err(RibError::Invalid(format!("{from} redirected to itself")));
                }
                match t.redirects.iter_mut().find(|r| r.from == from) {
                    Some(r) if r.to == to => return Ok(()),
                    Some(r) => r.to = to,
                    None => t.redirects.push(crate::topology::schema::RedirectConfig { from, to }),
                }
            }
            None => {
                let before = t.redirects.len();
                t.redirects.retain(|r| r.from != from);
                if t.redirects.len() == before {
                    return Err(RibError::Invalid(format!("no redirect of {from} in tenant {tenant}")));
                }
            }
        }
        self.fib_dirty = true;
        self.topology_dirty = true;
        Ok(())
    }

    fn set_substrate_link(&mut self, name: &str, up: bool) -> Result<(), RibError> {
        let li =
            self.topology.substrate.link_index(name).ok_or_else(|| RibError::NoSuchLink(name.to_string()))?;
        let flag =
            self.state.substrate.link_up.get_mut(li).ok_or_else(|| RibError::NoSuchLink(name.to_string()))?;
        if *flag != up {
            *flag = up;
            self.fib_dirty = true;
        }
        Ok(())
    }

    fn add_host(&mut self, tenant: &str, host: HostConfig) -> Result<(), RibError> {
        self.apply_deferred();
        let tid = self.tenant(tenant)?;
        self.topology
            .add_host(tid, host)
            .map_err(|e| RibError::Invalid(format!("{}: {}", e.field, e.message)))?;
        // Host indices shift for later tenants: rebuild everything (rare); the substrate's
        // runtime state (link states, quotas, neighbours) carries over.
        let old = std::mem::take(&mut self.state.substrate);
        self.state = RibState::build(&self.topology);
        self.state.substrate.carry_over(old, &self.topology);
        self.fib_dirty = true;
        self.topology_dirty = true;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn static_routes(t: &RibThread) -> Vec<String> {
        t.topology.file.tenants[0]
            .static_routes
            .iter()
            .map(|r| format!("{}>{}", r.prefix, r.next_hop))
            .collect()
    }

    /// Deferred removals are applied in one pass per batch, and an add of a route whose removal
    /// is pending keeps command order: the list ends exactly as applying one by one would leave it.
    #[test]
    fn deferred_removals_in_one_pass_keep_command_order() {
        let mut t = RibThread::new(super::super::compile_tests::topo("default.ron")).unwrap();
        let hop: Ipv4Addr = "10.1.5.7".parse().unwrap();
        let p = |s: &str| -> Ipv4Prefix { s.parse().unwrap() };
        for s in ["172.16.1.0/24", "172.16.2.0/24", "172.16.3.0/24", "172.16.4.0/24"] {
            t.add_route("z", p(s), hop).unwrap();
        }
        t.apply_deferred();
        // One batch: remove 1 and 3, re-add 1 (its removal pending), remove 4, add 5.
        t.remove_route("z", p("172.16.1.0/24"), hop).unwrap();
        t.remove_route("z", p("172.16.3.0/24"), hop).unwrap();
        t.add_route("z", p("172.16.1.0/24"), hop).unwrap();
        t.remove_route("z", p("172.16.4.0/24"), hop).unwrap();
        t.add_route("z", p("172.16.5.0/24"), hop).unwrap();
        t.apply_deferred();
        assert_eq!(
            static_routes(&t),
            ["172.16.2.0/24>10.1.5.7", "172.16.1.0/24>10.1.5.7", "172.16.5.0/24>10.1.5.7"]
        );
        // The resolved form follows the file.
        let resolved: Vec<Ipv4Prefix> =
            t.topology.tenants[0].static_routes.iter().map(|r| r.prefix).collect();
        assert_eq!(resolved, [p("172.16.2.0/24"), p("172.16.1.0/24"), p("172.16.5.0/24")]);
    }
}
