//! xskfwd: the smallest AF_XDP forwarder this benchmark can think of, as the ceiling of any
//! AF_XDP switch on the same path. Same crate (xsk-rs) and the same UMEM and socket settings as
//! vnswitch's port backend (`switch::xsk`): ONE UMEM shared by the two sockets, frames of 2048
//! bytes, no frame headroom, rings of 4096, ports x rings x 2 frames, copy bind with
//! need_wakeup, libxdp's redirect program in native mode, 256 frames per copy-mode kick.
//! One kick per round that produced, and vnswitch's idle back-off (64 idle rounds, then
//! sleeps of 50 us doubling to 500 us). No pipeline: every frame received on --in-dev gets --dst-mac/--src-mac written, its IPv4
//! TTL decremented (incremental checksum) and goes out of --out-dev without a copy. Frames
//! that are not IPv4 with TTL > 1 are dropped (counted). Runs until SIGINT/SIGTERM or
//! --duration, pinned to --cpu; prints its counters at the end.
//!
//!   xskfwd --in-dev vb1-s-sw --out-dev vb1-d-sw --dst-mac 02:00:0a:14:00:02 --cpu 1

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vnswitch_benches::pktgen::sys::{device_mac, parse_mac, pin_to_cpu, raise_memlock_limit};
use xsk_rs::config::{
    BindFlags, FrameSize, Interface, LibxdpFlags, QueueSize, SocketConfig, UmemConfig, XdpFlags,
};
use xsk_rs::{CompQueue, FillQueue, FrameDesc, RxQueue, Socket, TxQueue, Umem};

/// Frames per receive burst (vnswitch's pipeline batch).
const BATCH: usize = 64;
/// Frames per copy-mode kick we ask the kernel for (`XDP_MAX_TX_SKB_BUDGET`, Linux 6.17+).
const TX_BUDGET: u32 = 256;
const XDP_MAX_TX_SKB_BUDGET: libc::c_int = 9;
/// vnswitch's worker idle back-off (`switch::worker` defaults).
const IDLE_ROUNDS_BEFORE_SLEEP: u32 = 64;
const IDLE_SLEEP_MIN: Duration = Duration::from_micros(50);
const IDLE_SLEEP_MAX: Duration = Duration::from_micros(500);

/// Minimal AF_XDP forwarder (rx -> MAC/TTL rewrite -> tx), the ceiling for vnswitch.
#[derive(Parser, Debug)]
#[command(name = "xskfwd", version)]
struct Args {
    /// Device frames arrive on.
    #[arg(long)]
    in_dev: String,
    /// Device frames leave by.
    #[arg(long)]
    out_dev: String,
    /// Destination MAC written into every forwarded frame (the next hop's).
    #[arg(long)]
    dst_mac: String,
    /// Source MAC written into every forwarded frame (default: --out-dev's).
    #[arg(long)]
    src_mac: Option<String>,
    /// Queue of both devices to bind.
    #[arg(long, default_value_t = 0)]
    queue: u32,
    /// Ring size (vnswitch's default).
    #[arg(long, default_value_t = 4096)]
    ring: u32,
    /// Pin to this CPU.
    #[arg(long)]
    cpu: Option<usize>,
    /// Stop after this many seconds (default: at SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Print "xskfwd: running" once the sockets are bound (for scripts to wait on).
    #[arg(long)]
    announce: bool,
}

struct Sock {
    rx: RxQueue,
    tx: TxQueue,
    fill: FillQueue,
    comp: CompQueue,
}

fn open(umem: &Umem, dev: &str, queue: u32, ring: QueueSize) -> Result<Sock> {
    let iface: Interface = dev.parse().map_err(|_| anyhow::anyhow!("bad device name {dev}"))?;
    let cfg = SocketConfig::builder()
        .rx_queue_size(ring)
        .tx_queue_size(ring)
        .libxdp_flags(LibxdpFlags::empty())
        .xdp_flags(XdpFlags::XDP_FLAGS_DRV_MODE)
        .bind_flags(BindFlags::XDP_COPY | BindFlags::XDP_USE_NEED_WAKEUP)
        .build();
    // SAFETY: the UMEM outlives the socket (the socket keeps a handle on it), and every frame we
    // put on this socket's rings comes from that UMEM.
    let (tx, rx, rings) = unsafe { Socket::new(cfg, umem, &iface, queue) }
        .with_context(|| format!("AF_XDP socket on {dev}"))?;
    let Some((fill, comp)) = rings else { bail!("{dev} queue {queue} bound twice on one UMEM") };
    use std::os::fd::AsRawFd;
    let fd = tx.fd().as_raw_fd();
    // SAFETY: setsockopt reads a u32 of the size we pass from a live stack value; fd is our socket.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            XDP_MAX_TX_SKB_BUDGET,
            &TX_BUDGET as *const u32 as *const libc::c_void,
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    Ok(Sock { rx, tx, fill, comp })
}

/// Rewrites one frame in place; false if it is not forwardable IPv4.
#[inline]
fn rewrite(f: &mut [u8], dst: &[u8; 6], src: &[u8; 6]) -> bool {
    if f.len() < 34 || f[12] != 0x08 || f[13] != 0x00 || f[22] <= 1 {
        return false;
    }
    f[0..6].copy_from_slice(dst);
    f[6..12].copy_from_slice(src);
    f[22] -= 1;
    // RFC 1624: the TTL/protocol word went down by 0x0100, so the checksum goes up by it.
    let sum = u32::from(u16::from_be_bytes([f[24], f[25]])) + 0x0100;
    let sum = (sum & 0xffff) + (sum >> 16);
    f[24..26].copy_from_slice(&(sum as u16).to_be_bytes());
    true
}

#[derive(Default, Debug)]
struct Counters {
    rx: u64,
    tx: u64,
    not_ipv4: u64,
    completed: u64,
    tx_ring_full: u64,
    fill_starved: u64,
    kicks: u64,
}

fn main() -> Result<()> {
    for (key, value) in [("LIBBPF_LOG_LEVEL", "warn"), ("LIBXDP_SKIP_DISPATCHER", "1")] {
        if std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
        }
    }
    let a = Args::parse();
    raise_memlock_limit();
    if let Some(cpu) = a.cpu {
        pin_to_cpu(cpu)?;
    }
    let dst = parse_mac(&a.dst_mac)?;
    let src = match &a.src_mac {
        Some(m) => parse_mac(m)?,
        None => device_mac(&a.out_dev)?,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }

    let ring = QueueSize::new(a.ring).context("ring size")?;
    let umem_cfg = UmemConfig::builder()
        .frame_size(FrameSize::new(2048).context("frame size")?)
        .fill_queue_size(ring)
        .comp_queue_size(ring)
        .frame_headroom(0)
        .build()
        .context("UMEM config")?;
    let frames = NonZeroU32::new(2 * a.ring * 2).context("zero frames")?;
    let (umem, mut free) = Umem::new(umem_cfg, frames, false).context("creating the UMEM")?;
    let mut input = open(&umem, &a.in_dev, a.queue, ring)?;
    let mut output = open(&umem, &a.out_dev, a.queue, ring)?;
    // The input's fill ring gets a full ring of frames; the rest wait in `free`.
    let first = free.split_off(free.len() - a.ring as usize);
    // SAFETY: fresh frames of this UMEM that nobody uses.
    let filled = unsafe { input.fill.produce(&first) };
    if filled != first.len() {
        bail!("the fill ring took {filled} of {} frames", first.len());
    }
    if a.announce {
        println!("xskfwd: running ({} -> {}, queue {})", a.in_dev, a.out_dev, a.queue);
    }

    let end = a.duration.map(|d| Instant::now() + Duration::from_secs_f64(d));
    let mut c = Counters::default();
    let mut burst = [FrameDesc::default(); BATCH];
    let mut done = vec![FrameDesc::default(); a.ring as usize];
    let mut rounds = 0u32;
    let mut idle_rounds = 0u32;
    let mut sleep = IDLE_SLEEP_MIN;
    loop {
        // Completions of the output back to the pool, the pool into the input's fill ring.
        // SAFETY: the completion ring returns frames of this UMEM the kernel is done with.
        let m = unsafe { output.comp.consume(&mut done) };
        free.extend_from_slice(&done[..m]);
        c.completed += m as u64;
        while free.len() >= BATCH {
            let start = free.len() - BATCH;
            // SAFETY: frames in the pool belong to this UMEM and are used by nobody.
            if unsafe { input.fill.produce(&free[start..]) } == 0 {
                break;
            }
            free.truncate(start);
        }

        let mut produced_now = 0;
        // SAFETY: the burst entries receive descriptors of our UMEM, owned by us until handed on.
        let n = unsafe { input.rx.consume(&mut burst) };
        if n == 0 {
            if input.fill.needs_wakeup() {
                let _ = input.fill.wakeup(input.rx.fd_mut(), 0);
            }
        } else {
            c.rx += n as u64;
            let mut out = 0;
            for i in 0..n {
                let mut d = burst[i];
                // SAFETY: the RX ring handed us this frame; the kernel does not touch it until
                // it goes back through a fill or TX ring.
                let ok = rewrite(unsafe { umem.data_mut(&mut d) }.contents_mut(), &dst, &src);
                if ok {
                    burst[out] = d;
                    out += 1;
                } else {
                    c.not_ipv4 += 1;
                    free.push(d);
                }
            }
            // SAFETY: every descriptor is a received frame of this UMEM, now owned by the kernel
            // until the output's completion ring returns it.
            let sent = unsafe { output.tx.produce(&burst[..out]) };
            if sent < out {
                c.tx_ring_full += (out - sent) as u64;
                free.extend_from_slice(&burst[sent..out]);
            }
            c.tx += sent as u64;
            produced_now = sent;
        }
        // Copy mode only transmits on a kick (up to TX_BUDGET frames per sendto; completions
        // come when the receiving side frees the skbs, not in the syscall). Kick once per round
        // that produced, as vnswitch flushes once per round; while frames are in flight and
        // nothing new came, kick again every 64 rounds in case the kernel left some on the TX
        // ring (peer ring full).
        if produced_now > 0 || (c.tx > c.completed && idle_rounds % 64 == 63) {
            c.kicks += 1;
            let _ = output.tx.wakeup();
        }
        // Idle back-off as vnswitch's worker: after 64 idle rounds, sleep 50 us doubling to
        // 500 us (frames then wait in the RX ring and come in full bursts).
        if n == 0 {
            idle_rounds = idle_rounds.wrapping_add(1);
            if idle_rounds >= IDLE_ROUNDS_BEFORE_SLEEP {
                std::thread::sleep(sleep);
                sleep = (sleep * 2).min(IDLE_SLEEP_MAX);
            }
        } else {
            idle_rounds = 0;
            sleep = IDLE_SLEEP_MIN;
        }
        if n == 0 && free.len() < BATCH && c.tx == c.completed {
            c.fill_starved += 1;
        }
        rounds = rounds.wrapping_add(1);
        if rounds.is_multiple_of(1024)
            && (stop.load(Ordering::Relaxed) || end.is_some_and(|e| Instant::now() >= e))
        {
            break;
        }
    }
    println!(
        "xskfwd: rx {} tx {} completed {} not-ipv4 {} tx-ring-full {} kicks {} fill-starved {}",
        c.rx, c.tx, c.completed, c.not_ipv4, c.tx_ring_full, c.kicks, c.fill_starved
    );
    if let Ok(s) = input.rx.fd().xdp_statistics() {
        println!(
            "xskfwd: {} kernel rx_dropped {} rx_ring_full {} fill_ring_empty {}",
            a.in_dev,
            s.rx_dropped(),
            s.rx_ring_full(),
            s.rx_fill_ring_empty_descs()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::rewrite;
    use vnswitch_benches::pktgen::frame::{internet_checksum, write_frame, FlowTuple, MacPair, Stamp};

    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 60];
        let macs = MacPair { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2] };
        let tuple = FlowTuple {
            src_ip: "10.10.0.2".parse().expect("ip"),
            dst_ip: "10.20.0.2".parse().expect("ip"),
            src_port: 1024,
            dst_port: 9,
        };
        assert!(write_frame(&mut f, &macs, &tuple, 7, &Stamp { flow: 0, seq: 1, tx_ns: 5 }));
        f
    }

    #[test]
    fn rewrite_sets_the_macs_decrements_ttl_and_keeps_the_checksum_valid() {
        let before = frame();
        let mut f = before.clone();
        let (dst, src) = ([0xaa, 1, 2, 3, 4, 5], [0xbb, 6, 7, 8, 9, 10]);
        assert!(rewrite(&mut f, &dst, &src));
        assert_eq!(&f[0..6], &dst);
        assert_eq!(&f[6..12], &src);
        assert_eq!(f[22], before[22] - 1, "TTL");
        assert_eq!(internet_checksum(&f[14..34]), 0, "IPv4 header checksum after the rewrite");
        // Nothing else changed.
        assert_eq!(&f[12..22], &before[12..22]);
        assert_eq!(&f[23..24], &before[23..24]);
        assert_eq!(&f[26..], &before[26..]);
    }

    #[test]
    fn rewrite_refuses_ttl_1_non_ipv4_and_runts_untouched() {
        let mut f = frame();
        f[22] = 1;
        let copy = f.clone();
        assert!(!rewrite(&mut f, &[1; 6], &[2; 6]));
        assert_eq!(f, copy);
        let mut arp = frame();
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert!(!rewrite(&mut arp, &[1; 6], &[2; 6]));
        let mut runt = frame()[..30].to_vec();
        assert!(!rewrite(&mut runt, &[1; 6], &[2; 6]));
    }
}
