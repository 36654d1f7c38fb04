//! The lab of a trunk: many tenant hosts behind ONE appliance device, one VLAN each.
//!
//! ```text
//!  root ns            <dev>-br ns                                   host ns <netns>
//!  <dev> (vnswitch) ══ trunk ── tagger thread ── h<vid> ══════════ eth0 (MAC, IP, default via gw)
//! ```
//! `<dev>` is the appliance's device (AF_XDP binds it; no address, no IPv6). Its veth peer
//! `trunk` and one veth end `h<vid>` per host live in the namespace `<dev>-br`; the host's
//! other end is `eth0` in its own namespace. A tagger thread (AF_PACKET sockets opened inside
//! `<dev>-br`) pushes the host's VLAN tag onto every frame from `h<vid>` and sends it on the
//! trunk, and pops the tag of every frame from the trunk and sends it to the host of that VLAN
//! (untagged or unknown-VLAN frames are dropped). It plays the part of an 802.1Q switch: this
//! kernel may have neither VLAN devices (`CONFIG_VLAN_8021Q`) nor bridge VLAN filtering, and
//! the hosts stay real Linux peers (their own stack, ping, tcpdump on `eth0`).
//! Built with `ip -batch` (a few processes, not a dozen per host): 1000 hosts take seconds.

use super::{check_name, run_ok, run_stdin, LabHost, HOST_IF};
use anyhow::{bail, Context, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Name of the trunk's veth peer inside the trunk namespace.
pub const TRUNK_IF: &str = "trunk";

/// Threads configuring host namespaces at once.
const CONFIG_THREADS: usize = 16;

/// Address, route and offloads of each host in `hosts` (inside its namespace).
fn configure_hosts(hosts: &[(LabHost, u16)]) -> Result<()> {
    for (h, _) in hosts {
        let host = format!(
            "link set dev {HOST_IF} address {mac}\nlink set dev {HOST_IF} addrgenmode none\nlink set dev lo up\n\
             link set dev {HOST_IF} up\naddr add {a}/{len} dev {HOST_IF}\nroute add default via {gw} dev {HOST_IF}\n",
            mac = h.mac,
            a = h.address,
            len = h.prefix_len,
            gw = h.gateway
        );
        run_stdin(&["ip", "-n", &h.netns, "-batch", "-"], &host)
            .with_context(|| format!("host {} ({})", h.name, h.netns))?;
        // No `ethtool -K eth0 tx off` here (one more process per host): the tagger fills
        // in checksums the host left to offload.
    }
    Ok(())
}

/// One trunk device and its hosts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabTrunk {
    /// The appliance's device (root namespace).
    pub device: String,
    /// Namespace holding the trunk peer, the hosts' veth ends and the tagger.
    pub netns: String,
    /// Hosts with their VLAN, in VLAN order of the topology's ports.
    pub hosts: Vec<(LabHost, u16)>,
}

impl LabTrunk {
    pub fn new(device: &str) -> Result<LabTrunk> {
        let netns = format!("{device}-br");
        check_name(&netns, "trunk netns")?;
        Ok(LabTrunk { device: device.to_string(), netns, hosts: Vec::new() })
    }

    /// Creates every namespace and veth of the trunk (`queues` queues on the appliance side).
    pub fn build(&self, queues: usize) -> Result<()> {
        let q = queues.to_string();
        let br = self.netns.as_str();
        let t0 = std::time::Instant::now();
        let mut root = format!("netns add {br}\n");
        for (h, _) in &self.hosts {
            root.push_str(&format!("netns add {}\n", h.netns));
        }
        root.push_str(&format!(
            "link add {dev} numtxqueues {q} numrxqueues {q} type veth peer name {TRUNK_IF} numtxqueues {q} \
             numrxqueues {q} netns {br}\nlink set dev {dev} addrgenmode none\nlink set dev {dev} up\n",
            dev = self.device
        ));
        run_stdin(&["ip", "-batch", "-"], &root).context("root namespace: trunk veth and namespaces")?;

        let mut in_br = format!(
            "link set dev lo up\nlink set dev {TRUNK_IF} addrgenmode none\nlink set dev {TRUNK_IF} up\n"
        );
        for (h, vid) in &self.hosts {
            in_br.push_str(&format!(
                "link add h{vid} type veth peer name {HOST_IF} netns {ns}\nlink set dev h{vid} addrgenmode none\n\
                 link set dev h{vid} up\n",
                ns = h.netns
            ));
        }
        let t1 = std::time::Instant::now();
        run_stdin(&["ip", "-n", br, "-batch", "-"], &in_br).context("trunk namespace: host veths")?;
        let t2 = std::time::Instant::now();

        // One `ip -n NS -batch` and one ethtool per host: process start-up dominates (about
        // 15 ms each here), so the hosts are configured by a few threads at once.
        let chunk = self.hosts.len().div_ceil(CONFIG_THREADS).max(1);
        std::thread::scope(|scope| {
            let jobs: Vec<_> =
                self.hosts.chunks(chunk).map(|hosts| scope.spawn(move || configure_hosts(hosts))).collect();
            jobs.into_iter()
                .try_for_each(|j| j.join().unwrap_or_else(|_| Err(anyhow::anyhow!("host setup panicked"))))
        })?;
        eprintln!(
            "lab: trunk {}: {} namespaces {} ms, veths {} ms, host setup {} ms",
            self.device,
            self.hosts.len() + 1,
            (t1 - t0).as_millis(),
            (t2 - t1).as_millis(),
            t2.elapsed().as_millis()
        );
        Ok(())
    }

    /// Removes the trunk's device and namespaces that exist (idempotent).
    pub fn down(&self) -> Vec<String> {
        let mut removed = Vec::new();
        if super::device_exists(&self.device) && run_ok(&["ip", "link", "del", "dev", &self.device]) {
            removed.push(self.device.clone());
        }
        let mut batch = String::new();
        let mut n = 0;
        for ns in self.hosts.iter().map(|(h, _)| h.netns.as_str()).chain([self.netns.as_str()]) {
            if super::netns_exists(ns) {
                batch.push_str(&format!("netns del {ns}\n"));
                n += 1;
            }
        }
        if n > 0 {
            // -force: go on past one that vanished meanwhile.
            let _ = run_stdin(&["ip", "-force", "-batch", "-"], &batch);
            removed.push(format!("{n} namespaces of trunk {}", self.device));
        }
        removed
    }

    /// Starts the tagger (see the module doc) inside the trunk namespace.
    pub fn start_tagger(&self) -> Result<Tagger> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let plan = self.clone();
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("lab-tagger-{}", self.device))
            .spawn(move || {
                let sockets = match open_sockets(&plan) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return;
                    }
                };
                tag_loop(&sockets, &flag);
            })
            .context("spawning the VLAN tagger")?;
        let t0 = std::time::Instant::now();
        match ready_rx.recv() {
            Ok(Ok(())) => {
                eprintln!("lab: trunk {}: tagger ready in {} ms", self.device, t0.elapsed().as_millis());
                Ok(Tagger { stop, handle: Some(handle) })
            }
            Ok(Err(e)) => bail!("VLAN tagger: {e}"),
            Err(_) => bail!("VLAN tagger thread ended before it was ready"),
        }
    }
}

/// The running tagger; dropping it stops the thread.
#[derive(Debug)]
pub struct Tagger {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Tagger {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The trunk socket first, then one per host; `vids[i]` is socket i's VLAN (0: the trunk).
struct Sockets {
    fds: Vec<OwnedFd>,
    vids: Vec<u16>,
    /// Socket index of every VLAN id (0: none).
    by_vid: Vec<usize>,
}

const ETH_P_ALL_BE: u16 = (libc::ETH_P_ALL as u16).to_be();
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// Moves this thread into the trunk namespace and opens its AF_PACKET sockets there.
fn open_sockets(plan: &LabTrunk) -> Result<Sockets> {
    let ns = std::fs::File::open(format!("/run/netns/{}", plan.netns))
        .with_context(|| format!("opening namespace {}", plan.netns))?;
    // SAFETY: setns on a valid namespace fd; CLONE_NEWNET only changes this thread's network
    // namespace (the tagger thread, which never goes back).
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns {}: {}", plan.netns, std::io::Error::last_os_error());
    }
    let mut fds = vec![packet_socket(TRUNK_IF)?];
    let mut vids = vec![0u16];
    let mut by_vid = vec![0usize; 4096];
    for (_, vid) in &plan.hosts {
        let i = fds.len();
        fds.push(packet_socket(&format!("h{vid}"))?);
        vids.push(*vid);
        if let Some(slot) = by_vid.get_mut(*vid as usize) {
            *slot = i;
        }
    }
    Ok(Sockets { fds, vids, by_vid })
}

/// A raw AF_PACKET socket bound to `ifname` that reports VLAN tags (auxdata) and does not
/// see its own transmissions.
fn packet_socket(ifname: &str) -> Result<OwnedFd> {
    let c = std::ffi::CString::new(ifname)?;
    // SAFETY: `c` is a valid NUL-terminated string.
    let ifindex = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if ifindex == 0 {
        bail!("no device {ifname}");
    }
    // Protocol 0: no packet hook until `bind` names the device and ETH_P_ALL. A socket
    // created with ETH_P_ALL hooks every device at once, and binding it then waits for an RCU
    // grace period (synchronize_net): seconds to tens of seconds for a 1000-host trunk.
    // SAFETY: plain socket(2) call; the fd is owned below.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, 0) };
    if fd < 0 {
        bail!("AF_PACKET socket: {}", std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for opt in [libc::PACKET_AUXDATA, PACKET_IGNORE_OUTGOING] {
        // SAFETY: setsockopt reads one c_int from a live stack value.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_PACKET,
                opt,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    // SAFETY: an all-zero sockaddr_ll is valid; the fields we need are set below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = ETH_P_ALL_BE;
    sll.sll_ifindex = ifindex as i32;
    // SAFETY: `sll` is a valid sockaddr_ll of the size passed.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        bail!("bind AF_PACKET to {ifname}: {}", std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// What auxdata said about a received frame.
#[derive(Clone, Copy, Debug, Default)]
struct Aux {
    /// The VLAN id the kernel took off the frame.
    vid: Option<u16>,
    /// The L4 checksum is not filled in yet (the sender left it to offload).
    csum_not_ready: bool,
}

/// Receives one frame from `fd` into `buf`: its length and what auxdata says.
fn recv_frame(fd: &OwnedFd, buf: &mut [u8]) -> Option<(usize, Aux)> {
    let mut cmsg = [0u64; 16];
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr() as *mut libc::c_void, iov_len: buf.len() };
    // SAFETY: an all-zero msghdr is valid; pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr() as *mut libc::c_void;
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: `msg` describes live buffers (`buf`, `cmsg`) of the given sizes.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    if n <= 0 {
        return None;
    }
    let mut aux_out = Aux::default();
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, within
    // `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA {
                let aux = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::tpacket_auxdata);
                if aux.tp_status & libc::TP_STATUS_VLAN_VALID != 0 {
                    aux_out.vid = Some(aux.tp_vlan_tci & 0x0fff);
                }
                aux_out.csum_not_ready = aux.tp_status & libc::TP_STATUS_CSUMNOTREADY != 0;
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some(((n as usize).min(buf.len()), aux_out))
}

/// Fills in the TCP or UDP checksum of the untagged IPv4 frame `f` (a host left it to
/// checksum offload, which a frame leaving through AF_PACKET does not get).
fn complete_l4_checksum(f: &mut [u8]) {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let (l4, end) = (14 + ihl, (14 + total).min(f.len()));
    let off = match f[23] {
        6 => 16,
        17 => 6,
        _ => return,
    };
    if ihl < 20 || end < l4 + off + 2 {
        return;
    }
    f[l4 + off] = 0;
    f[l4 + off + 1] = 0;
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for w in b.chunks(2) {
            sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
    };
    add(&f[26..34]); // source and destination addresses
    add(&[0, f[23]]);
    add(&((end - l4) as u16).to_be_bytes());
    add(&f[l4..end]);
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let mut c = !(sum as u16);
    if c == 0 && f[23] == 17 {
        c = 0xffff;
    }
    f[l4 + off..l4 + off + 2].copy_from_slice(&c.to_be_bytes());
}

fn send_frame(fd: &OwnedFd, frame: &[u8]) {
    // SAFETY: `frame` is a live buffer of the given length; the socket is bound.
    unsafe { libc::send(fd.as_raw_fd(), frame.as_ptr() as *const libc::c_void, frame.len(), 0) };
}

fn tag_loop(s: &Sockets, stop: &AtomicBool) {
    let mut pollfds: Vec<libc::pollfd> =
        s.fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    let mut buf = vec![0u8; 9216];
    let mut out = vec![0u8; 9216 + 4];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: `pollfds` holds initialised entries for the live sockets.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, 100) };
        if n <= 0 {
            continue;
        }
        for (i, pfd) in pollfds.iter_mut().enumerate() {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            pfd.revents = 0;
            while let Some((len, aux)) = recv_frame(&s.fds[i], &mut buf) {
                if len < 14 {
                    continue;
                }
                let frame = &buf[..len];
                if i == 0 {
                    // From the appliance: the tag is in auxdata (the kernel took it off), or
                    // still in the frame.
                    let (vid, body) = match aux.vid {
                        Some(v) => (v, frame),
                        None if len >= 18 && frame[12..14] == [0x81, 0x00] => {
                            out[..12].copy_from_slice(&frame[..12]);
                            out[12..len - 4].copy_from_slice(&frame[16..len]);
                            (u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff, &out[..len - 4])
                        }
                        None => continue,
                    };
                    match s.by_vid.get(vid as usize) {
                        Some(&h) if h != 0 => send_frame(&s.fds[h], body),
                        _ => {}
                    }
                } else {
                    let vid = s.vids[i];
                    if aux.csum_not_ready {
                        complete_l4_checksum(&mut buf[..len]);
                    }
                    let frame = &buf[..len];
                    out[..12].copy_from_slice(&frame[..12]);
                    out[12..14].copy_from_slice(&[0x81, 0x00]);
                    out[14..16].copy_from_slice(&vid.to_be_bytes());
                    out[16..len + 4].copy_from_slice(&frame[12..len]);
                    send_frame(&s.fds[0], &out[..len + 4]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one's-complement sum over the pseudo header and the segment of a frame whose
    /// checksum is right is 0xffff.
    fn verifies(f: &[u8]) -> bool {
        let l4 = 14 + usize::from(f[14] & 0x0f) * 4;
        let mut sum: u32 = 0;
        let mut add = |b: &[u8]| {
            for w in b.chunks(2) {
                sum += u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
            }
        };
        add(&f[26..34]);
        add(&[0, f[23]]);
        add(&((f.len() - l4) as u16).to_be_bytes());
        add(&f[l4..]);
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum == 0xffff
    }

    #[test]
    fn offloaded_udp_and_tcp_checksums_are_filled_in() {
        // UDP 10.0.0.10:5000 -> 10.0.0.1:9, 5 bytes of payload (odd length), checksum field
        // holding the pseudo-header sum as offload leaves it.
        let mut udp = vec![0u8; 14];
        udp[12..14].copy_from_slice(&[0x08, 0x00]);
        udp.extend_from_slice(&[0x45, 0, 0, 33, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 10, 10, 0, 0, 1]);
        udp.extend_from_slice(&[0x13, 0x88, 0, 9, 0, 13, 0x12, 0x34, b'h', b'e', b'l', b'l', b'o']);
        assert!(!verifies(&udp));
        complete_l4_checksum(&mut udp);
        assert!(verifies(&udp), "{udp:02x?}");
        // TCP SYN, no payload.
        let mut tcp = vec![0u8; 14];
        tcp[12..14].copy_from_slice(&[0x08, 0x00]);
        tcp.extend_from_slice(&[0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 10, 10, 0, 0, 1]);
        tcp.extend_from_slice(&[
            0x13, 0x88, 0, 22, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0xab, 0xcd, 0, 0,
        ]);
        complete_l4_checksum(&mut tcp);
        assert!(verifies(&tcp), "{tcp:02x?}");
        // Anything else is left alone.
        let mut icmp = udp.clone();
        icmp[23] = 1;
        let before = icmp.clone();
        complete_l4_checksum(&mut icmp);
        assert_eq!(icmp, before);
        complete_l4_checksum(&mut [0u8; 20]);
    }
}
