//! Small Linux helpers pktgen needs around its sockets: entering a network namespace by name
//! (per thread, with `setns`), reading a device's MAC and resolving a gateway's MAC through the
//! namespace's neighbour table (ioctls, so they see the current namespace), CPU pinning, the clock.

use super::PktgenError;
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// CLOCK_MONOTONIC in nanoseconds: the stamp clock (the same in every network namespace).
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).wrapping_mul(1_000_000_000).wrapping_add(ts.tv_nsec as u64)
}

/// A handle on a network namespace: `/var/run/netns/NAME` for named ones, or the current one.
pub struct Netns {
    file: File,
}

impl Netns {
    /// The calling thread's current namespace (to come back to).
    pub fn current() -> Result<Self, PktgenError> {
        let file = File::open("/proc/thread-self/ns/net")
            .map_err(|source| PktgenError::Netns { name: "(current)".into(), source })?;
        Ok(Netns { file })
    }

    /// A namespace created by `ip netns add NAME`.
    pub fn named(name: &str) -> Result<Self, PktgenError> {
        let file = File::open(format!("/var/run/netns/{name}"))
            .map_err(|source| PktgenError::Netns { name: name.into(), source })?;
        Ok(Netns { file })
    }

    /// Moves the calling thread into this namespace.
    pub fn enter(&self) -> Result<(), PktgenError> {
        // SAFETY: the fd is an open namespace file owned by `self`; setns only changes this thread.
        let rc = unsafe { libc::setns(self.file.as_raw_fd(), libc::CLONE_NEWNET) };
        if rc != 0 {
            return Err(PktgenError::Netns { name: "(setns)".into(), source: io::Error::last_os_error() });
        }
        Ok(())
    }
}

fn inet_dgram_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn ifname_bytes(dev: &str) -> Result<[libc::c_char; libc::IFNAMSIZ], PktgenError> {
    let bad = || PktgenError::BadArgument { what: "device name", value: dev.to_string() };
    let c = CString::new(dev).map_err(|_| bad())?;
    let bytes = c.as_bytes_with_nul();
    if bytes.len() > libc::IFNAMSIZ {
        return Err(bad());
    }
    let mut out = [0 as libc::c_char; libc::IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b as libc::c_char;
    }
    Ok(out)
}

/// The hardware address of `dev` in the calling thread's namespace.
pub fn device_mac(dev: &str) -> Result<[u8; 6], PktgenError> {
    let err = |source| PktgenError::Device { dev: dev.to_string(), source };
    let sock = inet_dgram_socket().map_err(err)?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name = ifname_bytes(dev)?;
    // SAFETY: SIOCGIFHWADDR reads ifr_name and writes ifr_hwaddr of the ifreq we own.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
    if rc != 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: after a successful SIOCGIFHWADDR the union holds ifru_hwaddr.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

fn arp_lookup(sock: &OwnedFd, dev: &str, ip: Ipv4Addr) -> Result<Option<[u8; 6]>, PktgenError> {
    // SAFETY: arpreq is plain old data; all-zero is a valid value.
    let mut req: libc::arpreq = unsafe { std::mem::zeroed() };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(ip).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in fits in sockaddr (both 16 bytes); we copy it bytewise.
    unsafe {
        std::ptr::copy_nonoverlapping(
            &sin as *const libc::sockaddr_in as *const u8,
            &mut req.arp_pa as *mut libc::sockaddr as *mut u8,
            std::mem::size_of::<libc::sockaddr_in>(),
        )
    };
    req.arp_dev = ifname_bytes(dev)?;
    // SAFETY: SIOCGARP reads arp_pa/arp_dev and writes arp_ha/arp_flags of the arpreq we own.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGARP, &mut req) };
    if rc != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENXIO) {
            return Ok(None);
        }
        return Err(PktgenError::Device { dev: dev.to_string(), source: e });
    }
    if req.arp_flags & libc::ATF_COM == 0 {
        return Ok(None);
    }
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(req.arp_ha.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(Some(mac))
}

/// The MAC of `gw` on `dev`, from the calling thread's neighbour table; sends a UDP datagram to
/// the discard port to make the kernel ARP for it, and waits up to `timeout`.
/// Call before binding an AF_XDP socket with an XDP program on `dev` (it would take the reply).
pub fn resolve_gateway_mac(dev: &str, gw: Ipv4Addr, timeout: Duration) -> Result<[u8; 6], PktgenError> {
    let sock = inet_dgram_socket().map_err(|source| PktgenError::Device { dev: dev.to_string(), source })?;
    if let Some(mac) = arp_lookup(&sock, dev, gw)? {
        return Ok(mac);
    }
    let deadline = Instant::now() + timeout;
    let probe = UdpSocket::bind("0.0.0.0:0").map_err(PktgenError::Io)?;
    let mut next_probe = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_probe {
            // Errors (e.g. EHOSTUNREACH while ARP is pending) are expected; the lookup decides.
            let _ = probe.send_to(b"pktgen-arp", SocketAddrV4::new(gw, 9));
            next_probe = Instant::now() + Duration::from_millis(300);
        }
        std::thread::sleep(Duration::from_millis(20));
        if let Some(mac) = arp_lookup(&sock, dev, gw)? {
            return Ok(mac);
        }
    }
    Err(PktgenError::ArpUnresolved { ip: gw, dev: dev.to_string() })
}

/// Pins the calling thread to one CPU.
pub fn pin_to_cpu(cpu: usize) -> Result<(), PktgenError> {
    // SAFETY: cpu_set_t is plain old data; CPU_SET writes inside it (cpu is bounds-checked below).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(PktgenError::BadArgument { what: "cpu", value: cpu.to_string() });
    }
    // SAFETY: cpu < CPU_SETSIZE, checked above.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 = this thread; `set` is a valid cpu_set_t of the size we pass.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(PktgenError::Io(io::Error::last_os_error()));
    }
    Ok(())
}

/// Lifts RLIMIT_MEMLOCK (older kernels charge UMEM and BPF maps to it); errors are ignored.
pub fn raise_memlock_limit() {
    let lim = libc::rlimit { rlim_cur: libc::RLIM_INFINITY, rlim_max: libc::RLIM_INFINITY };
    // SAFETY: setrlimit reads the struct we pass; failure only leaves the old limit.
    unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Result<[u8; 6], PktgenError> {
    let bad = || PktgenError::BadArgument { what: "MAC address", value: s.to_string() };
    let mut mac = [0u8; 6];
    let mut parts = s.split([':', '-']);
    for m in mac.iter_mut() {
        let p = parts.next().ok_or_else(bad)?;
        if p.len() != 2 {
            return Err(bad());
        }
        *m = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(mac)
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub fn format_mac(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trip_and_errors() {
        let m = parse_mac("00:01:42:09:88:73").unwrap();
        assert_eq!(m, [0x00, 0x01, 0x42, 0x09, 0x88, 0x73]);
        assert_eq!(format_mac(&m), "00:01:42:09:88:73");
        assert!(parse_mac("00:01:42:09:88").is_err());
        assert!(parse_mac("00:01:42:09:88:73:11").is_err());
        assert!(parse_mac("00:01:42:09:88:zz").is_err());
    }

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a);
    }
}
