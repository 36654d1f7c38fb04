#![allow(clippy::unwrap_used)]
//! The management plane against smoltcp clients standing in for tenant hosts: what a client
//! sends goes into its tenant's punt queue as the workers would put it there, and what the
//! plane injects comes back to the client of the router it was injected for.

use super::*;
use rib::RibHandle;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;
use switch::mgmt::MgmtQueues;

struct ClientDev<'a> {
    rx: &'a mut VecDeque<Vec<u8>>,
    tx: &'a mut Vec<Vec<u8>>,
}

struct CRx(Vec<u8>);
struct CTx<'a>(&'a mut Vec<Vec<u8>>);

impl phy::RxToken for CRx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for CTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0; len];
        let r = f(&mut b);
        self.0.push(b);
        r
    }
}

impl phy::Device for ClientDev<'_> {
    type RxToken<'a>
        = CRx
    where
        Self: 'a;
    type TxToken<'a>
        = CTx<'a>
    where
        Self: 'a;
    fn receive(&mut self, _: SmolInstant) -> Option<(CRx, CTx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((CRx(p), CTx(self.tx)))
    }
    fn transmit(&mut self, _: SmolInstant) -> Option<CTx<'_>> {
        Some(CTx(self.tx))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ip;
        c.max_transmission_unit = 1500;
        c
    }
}

/// A tenant host (10.0.0.10) with one TCP connection to `server:port`.
struct Client {
    tenant: TenantId,
    router: RouterId,
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    text: String,
    lport: u16,
}

impl Client {
    fn connect(tenant: TenantId, router: RouterId, server: Ipv4Addr, port: u16, lport: u16) -> Client {
        let (mut rx, mut tx) = (VecDeque::new(), Vec::new());
        let mut dev = ClientDev { rx: &mut rx, tx: &mut tx };
        let mut iface = Interface::new(Config::new(HardwareAddress::Ip), &mut dev, now());
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 10), 24)).unwrap();
        });
        let mut sockets = SocketSet::new(Vec::new());
        let mut s =
            tcp::Socket::new(tcp::SocketBuffer::new(vec![0; 65536]), tcp::SocketBuffer::new(vec![0; 4096]));
        s.connect(iface.context(), (IpAddress::Ipv4(server), port), lport).unwrap();
        let handle = sockets.add(s);
        Client { tenant, router, iface, sockets, handle, rx, tx, text: String::new(), lport }
    }

    fn poll(&mut self) {
        let mut dev = ClientDev { rx: &mut self.rx, tx: &mut self.tx };
        self.iface.poll(now(), &mut dev, &mut self.sockets);
        let s = self.sockets.get_mut::<tcp::Socket>(self.handle);
        let mut buf = [0u8; 4096];
        while s.can_recv() {
            let n = s.recv_slice(&mut buf).unwrap();
            self.text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }

    fn send(&mut self, line: &str) {
        let s = self.sockets.get_mut::<tcp::Socket>(self.handle);
        s.send_slice(line.as_bytes()).unwrap();
    }

    fn state(&mut self) -> tcp::State {
        self.sockets.get_mut::<tcp::Socket>(self.handle).state()
    }
}

/// Moves packets between the clients and the plane (as the workers would) until `done`
/// holds or 10 s pass.
fn exchange(q: &MgmtQueues, clients: &mut [&mut Client], mut done: impl FnMut(&mut [&mut Client]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        for c in clients.iter_mut() {
            c.poll();
            for p in c.tx.drain(..) {
                // What the workers punt: only TCP to the management ports of a router address.
                q.punt(c.tenant, &p).unwrap();
            }
        }
        while let Some(p) = q.inject.pop() {
            let b = p.as_slice();
            let l4 = ((b[0] & 0x0f) as usize) * 4;
            let dport = u16::from_be_bytes([b[l4 + 2], b[l4 + 3]]);
            // Packets for a client a test dropped (its closing connection) are lost.
            if let Some(c) = clients.iter_mut().find(|c| c.router == p.router && c.lport == dport) {
                c.rx.push_back(p.as_slice().to_vec());
            }
        }
        if done(clients) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let texts: Vec<&str> = clients.iter().map(|c| c.text.as_str()).collect();
    panic!("timed out; client output so far: {texts:?}");
}

fn setup() -> (Arc<PuntQueues>, Inband, Topology) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let topo = rib::topology::load(&path).unwrap();
    let ctx = Arc::new(ShellContext::new(RibHandle::spawn(topo.clone()).unwrap()));
    let queues = PuntQueues::with_mgmt(8, MgmtQueues::new(topo.tenants.len(), 64, 256));
    let inband = start(ctx, &topo, queues.clone(), None, None, InbandConfig::default()).unwrap();
    (queues, inband, topo)
}

fn router_id(topo: &Topology, name: &str) -> (TenantId, RouterId) {
    for (ti, t) in topo.tenants.iter().enumerate() {
        for r in &t.routers {
            if topo.router(*r).name == name {
                return (TenantId(ti as u16), *r);
            }
        }
    }
    panic!("no router {name}");
}

fn wait_for(q: &MgmtQueues, c: &mut Client, what: &str) {
    exchange(q, &mut [c], |cs| cs[0].text.contains(what));
}

fn login(q: &MgmtQueues, c: &mut Client, user: &str, pass: &str) {
    wait_for(q, c, "Username: ");
    c.send(&format!("{user}\r\n"));
    wait_for(q, c, "Password: ");
    c.send(&format!("{pass}\r\n"));
}

#[test]
fn telnet_to_the_routers_address_opens_a_session_scoped_to_that_router() {
    let (queues, _inband, topo) = setup();
    let q = queues.mgmt.as_ref().unwrap();
    let (z, j) = router_id(&topo, "J");
    let mut c = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 40000);
    login(q, &mut c, "z-ops", "z-ops");
    wait_for(q, &mut c, "J#");
    c.send("terminal length 0\r\n");
    c.send("show ip route\r\n");
    wait_for(q, &mut c, "192.168.100.2");
    wait_for(q, &mut c, "10.1.5.0/24");
    let start = c.text.find("show ip route").unwrap();
    let routes = c.text[start..].to_string();
    assert!(routes.contains("Gateway of last resort"), "{routes}");
    c.send("show substrate\r\n");
    wait_for(q, &mut c, "reserved to administrators");
    c.send("exit\r\n");
    // The router closes the connection after the session's last output.
    exchange(q, &mut [&mut c], |cs| matches!(cs[0].state(), tcp::State::CloseWait));
}

#[test]
fn the_same_address_in_another_tenant_is_that_tenants_router_and_strangers_are_refused() {
    let (queues, _inband, topo) = setup();
    let q = queues.mgmt.as_ref().unwrap();
    let (z, j) = router_id(&topo, "J");
    let (y, yr) = router_id(&topo, "Y");
    assert_ne!(z, y);
    // Both hosts are 10.0.0.10 and talk to 10.0.0.1 at once, each in its own tenant.
    let mut cz = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 40001);
    let mut cy = Client::connect(y, yr, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 40001);
    exchange(q, &mut [&mut cz, &mut cy], |cs| cs.iter().all(|c| c.text.contains("Username: ")));
    cz.send("y-ops\r\n");
    cy.send("y-ops\r\n");
    exchange(q, &mut [&mut cz, &mut cy], |cs| cs.iter().all(|c| c.text.contains("Password: ")));
    cz.send("y-ops\r\n");
    cy.send("y-ops\r\n");
    exchange(q, &mut [&mut cz, &mut cy], |cs| {
        cs[0].text.contains("not allowed on router J") && cs[1].text.contains("Y#")
    });
    assert!(cz.text.contains("% Access denied: user y-ops is not allowed on router J"), "{}", cz.text);
    assert!(!cz.text.contains("J#"));
    // The refused connection is closed; its listening slot serves the next one.
    exchange(q, &mut [&mut cz], |cs| !matches!(cs[0].state(), tcp::State::Established));
    let mut again = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 40002);
    login(q, &mut again, "z-ops", "z-ops");
    wait_for(q, &mut again, "J#");
}

#[test]
fn ssh_without_a_hook_is_reset_and_the_listener_pool_is_bounded() {
    let (queues, _inband, topo) = setup();
    let q = queues.mgmt.as_ref().unwrap();
    let (z, j) = router_id(&topo, "J");
    let mut ssh = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), SSH_PORT, 41000);
    exchange(q, &mut [&mut ssh], |cs| cs[0].state() == tcp::State::Closed);
    // Four listeners on 10.0.0.1:23: a fifth SYN in the same instant is refused.
    let mut cs: Vec<Client> =
        (0..5).map(|i| Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 42000 + i)).collect();
    let mut refs: Vec<&mut Client> = cs.iter_mut().collect();
    exchange(q, &mut refs, |cs| {
        cs.iter().filter(|c| c.text.contains("Username: ")).count() == 4
            && cs.iter_mut().filter_map(|c| (c.state() == tcp::State::Closed).then_some(())).count() == 1
    });
    // While they are open the pool grows: connections one after another get a login prompt
    // up to max_sessions (32) at once; the next is refused.
    let max = InbandConfig::default().max_sessions;
    cs.retain_mut(|c| c.state() != tcp::State::Closed);
    for i in 0..(max - cs.len() + 1) {
        cs.push(Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 43000 + i as u16));
        let last = cs.len() - 1;
        let mut refs: Vec<&mut Client> = cs.iter_mut().collect();
        exchange(q, &mut refs, |cs| {
            cs[last].text.contains("Username: ") || cs[last].state() == tcp::State::Closed
        });
    }
    let prompted = cs.iter().filter(|c| c.text.contains("Username: ")).count();
    assert_eq!(prompted, max, "sessions at once on one address and port");
    let last = cs.last_mut().expect("clients");
    assert!(!last.text.contains("Username: ") && last.state() == tcp::State::Closed);
}

#[test]
fn failed_logins_from_one_tenants_host_do_not_block_the_same_address_in_another_tenant() {
    let (queues, _inband, topo) = setup();
    let q = queues.mgmt.as_ref().unwrap();
    let (z, j) = router_id(&topo, "J");
    let (y, yr) = router_id(&topo, "Y");
    // Tenant z's 10.0.0.10 fails until its address is blocked.
    for i in 0..3u16 {
        let mut c = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 43000 + i);
        for _ in 0..3 {
            let seen = c.text.matches("Username: ").count();
            exchange(q, &mut [&mut c], |cs| {
                cs[0].text.matches("Username: ").count() > seen || cs[0].text.contains("% Login blocked")
            });
            if c.text.contains("% Login blocked") {
                break;
            }
            c.send("z-ops\r\n");
            wait_for(q, &mut c, "Password: ");
            c.send("wrong\r\n");
        }
        exchange(q, &mut [&mut c], |cs| {
            cs[0].text.contains("% Bad passwords") || cs[0].text.contains("% Login blocked")
        });
    }
    let mut zc = Client::connect(z, j, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 43100);
    wait_for(q, &mut zc, "% Login blocked");
    // Tenant y's host with the same address logs in to Y.
    let mut yc = Client::connect(y, yr, Ipv4Addr::new(10, 0, 0, 1), TELNET_PORT, 43000);
    login(q, &mut yc, "y-ops", "y-ops");
    wait_for(q, &mut yc, "Y#");
}

#[test]
fn a_tenant_with_more_addresses_than_an_interface_holds_is_served_on_all_of_them() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    let j1 =
        r#"(name: "Gi0/1", address: "192.168.100.1", subnet: "192.168.100.0/30", mac: "00:01:42:09:88:74"),"#;
    let more: String = (2..12)
        .map(|i| {
            format!(
                "\n(name: \"Gi0/{i}\", address: \"10.50.{i}.1\", subnet: \"10.50.{i}.0/24\", mac: \"00:01:42:09:99:{i:02x}\"),"
            )
        })
        .collect();
    assert!(text.contains(j1));
    let subnets = r#"subnets: ["10.0.0.0/24", "10.1.5.0/24", "192.168.100.0/30"],"#;
    assert!(text.contains(subnets));
    let text = text
        .replace(j1, &format!("{j1}{more}"))
        .replace(subnets, r#"subnets: ["10.0.0.0/24", "10.1.5.0/24", "192.168.100.0/30", "10.50.0.0/16"],"#);
    let topo = rib::topology::parse(&text, &path).unwrap();
    let ctx = Arc::new(ShellContext::new(RibHandle::spawn(topo.clone()).unwrap()));
    let queues = PuntQueues::with_mgmt(8, MgmtQueues::new(topo.tenants.len(), 64, 256));
    let _inband = start(ctx, &topo, queues.clone(), None, None, InbandConfig::default()).unwrap();
    let q = queues.mgmt.as_ref().unwrap();
    let (z, j) = router_id(&topo, "J");
    // J's 12th address and L's (the 14th of tenant z) both answer, each as its own router.
    let mut cj = Client::connect(z, j, Ipv4Addr::new(10, 50, 11, 1), TELNET_PORT, 44000);
    login(q, &mut cj, "z-ops", "z-ops");
    wait_for(q, &mut cj, "J#");
    let (_, l) = router_id(&topo, "L");
    let mut cl = Client::connect(z, l, Ipv4Addr::new(10, 1, 5, 1), TELNET_PORT, 44001);
    login(q, &mut cl, "z-ops", "z-ops");
    wait_for(q, &mut cl, "L#");
}
