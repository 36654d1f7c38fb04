//! The counting receiver of the forwarding benchmark: the XDP program `xdp_count.c` (compiled by
//! `scripts/bench` with clang) on the receiving device counts pktgen's stamped frames in per-CPU
//! maps, records their one-way latency in a per-CPU log-linear histogram and drops them. This
//! module attaches and detaches it (libbpf, through `libxdp-sys`), finds an attached one again by
//! the device's XDP program id, and reads its maps. Receiving this way costs one short XDP run per
//! frame on the core that runs the device's NAPI instead of an AF_XDP reader on the generator's
//! core, so the generator only transmits.

use super::xsk::XdpMode;
use super::PktgenError;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use xsk_rs::config::XdpFlags;

/// Entries of the program's `counters` map.
pub const COUNTERS: u32 = 4;
/// Entries of the program's `latency` map.
pub const BUCKETS: u32 = 1024;
/// Name of the XDP function in the object (the kernel keeps the first 15 bytes).
const PROGRAM: &str = "count";

fn err(dev: &str, msg: impl Into<String>) -> PktgenError {
    PktgenError::Counter { dev: dev.to_string(), msg: msg.into() }
}

fn ifindex(dev: &str) -> Result<i32, PktgenError> {
    let name = CString::new(dev).map_err(|_| err(dev, "bad device name"))?;
    // SAFETY: `name` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if idx == 0 {
        return Err(err(dev, format!("no such device: {}", std::io::Error::last_os_error())));
    }
    Ok(idx as i32)
}

/// Bounds `[low, high)` in nanoseconds of latency bucket `i` (the encoding of `xdp_count.c`).
pub fn bucket_bounds(i: u32) -> (u64, u64) {
    if i < 16 {
        return (u64::from(i), u64::from(i) + 1);
    }
    let e = (i >> 4) + 3; // most significant bit of the values in the bucket
    let sub = u64::from(i & 15);
    let step = 1u64 << (e - 4);
    let low = (16 | sub) << (e - 4);
    (low, low.saturating_add(step))
}

/// The bucket `xdp_count.c` files the value `v` under (for tests of the shared encoding).
pub fn bucket_of(v: u64) -> u32 {
    if v < 16 {
        return v as u32;
    }
    let e = 63 - v.leading_zeros();
    (((e - 3) << 4) | ((v >> (e - 4)) & 15) as u32) & (BUCKETS - 1)
}

/// Loads the object file `obj` and attaches its `count` program to `dev` (in the calling thread's
/// namespace) in `mode`; the program stays attached after this process exits. Returns the attach
/// mode it got, "native" or "generic".
pub fn attach(dev: &str, obj: &Path, mode: XdpMode) -> Result<&'static str, PktgenError> {
    let ifindex = ifindex(dev)?;
    let path = CString::new(obj.as_os_str().as_encoded_bytes())
        .map_err(|_| err(dev, format!("bad object path {}", obj.display())))?;
    // SAFETY: `path` is NUL-terminated; null options mean libbpf's defaults.
    let object = unsafe { libxdp_sys::bpf_object__open_file(path.as_ptr(), std::ptr::null()) };
    if object.is_null() {
        return Err(err(dev, format!("opening {}: {}", obj.display(), std::io::Error::last_os_error())));
    }
    let result = (|| {
        // SAFETY: `object` is the valid object just opened; it is closed below, after this closure.
        let rc = unsafe { libxdp_sys::bpf_object__load(object) };
        if rc != 0 {
            return Err(err(
                dev,
                format!(
                    "loading {} into the kernel: {}",
                    obj.display(),
                    std::io::Error::from_raw_os_error(-rc)
                ),
            ));
        }
        let name = CString::new(PROGRAM).map_err(|_| err(dev, "program name"))?;
        // SAFETY: `object` is loaded and valid; `name` is NUL-terminated.
        let prog = unsafe { libxdp_sys::bpf_object__find_program_by_name(object, name.as_ptr()) };
        if prog.is_null() {
            return Err(err(dev, format!("{} has no program named {PROGRAM}", obj.display())));
        }
        // SAFETY: `prog` belongs to the loaded object.
        let fd = unsafe { libxdp_sys::bpf_program__fd(prog) };
        let attempts: &[(XdpFlags, &'static str)] = match mode {
            XdpMode::Auto => {
                &[(XdpFlags::XDP_FLAGS_DRV_MODE, "native"), (XdpFlags::XDP_FLAGS_SKB_MODE, "generic")]
            }
            XdpMode::Native => &[(XdpFlags::XDP_FLAGS_DRV_MODE, "native")],
            XdpMode::Generic => &[(XdpFlags::XDP_FLAGS_SKB_MODE, "generic")],
        };
        let mut errors = Vec::new();
        for &(flags, name) in attempts {
            let flags = flags | XdpFlags::XDP_FLAGS_UPDATE_IF_NOEXIST;
            // SAFETY: plain netlink request with a valid program fd; null options.
            let rc = unsafe { libxdp_sys::bpf_xdp_attach(ifindex, fd, flags.bits(), std::ptr::null()) };
            if rc == 0 {
                return Ok(name);
            }
            errors.push(format!("{name}: {}", std::io::Error::from_raw_os_error(-rc)));
        }
        Err(err(
            dev,
            format!(
                "attaching the counter failed ({}); if another XDP program is attached: ip link set dev {dev} xdp off",
                errors.join("; ")
            ),
        ))
    })();
    // SAFETY: `object` came from bpf_object__open_file and is not used after this; the kernel
    // keeps the attached program (and its maps) alive without it.
    unsafe { libxdp_sys::bpf_object__close(object) };
    result
}

/// The id and attach-mode flag of the XDP program on `ifindex`, if any.
fn attached(ifindex: i32) -> Option<(u32, XdpFlags)> {
    for flags in [XdpFlags::XDP_FLAGS_DRV_MODE, XdpFlags::XDP_FLAGS_SKB_MODE] {
        let mut id = 0u32;
        // SAFETY: `id` is a valid out pointer for the duration of the call.
        let rc = unsafe { libxdp_sys::bpf_xdp_query_id(ifindex, flags.bits() as i32, &mut id) };
        if rc == 0 && id != 0 {
            return Some((id, flags));
        }
    }
    None
}

fn c_name(name: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Detaches the counting program from `dev` (calling thread's namespace) if it is the attached
/// XDP program. Returns whether it detached something.
pub fn detach(dev: &str) -> Result<bool, PktgenError> {
    let ifindex = ifindex(dev)?;
    let Some((id, flags)) = attached(ifindex) else { return Ok(false) };
    let prog = prog_fd(dev, id)?;
    let (name, _) = prog_info(dev, &prog)?;
    if name != PROGRAM {
        return Err(err(dev, format!("the attached XDP program is {name:?}, not the counter: left alone")));
    }
    // SAFETY: plain netlink request on an interface index; null options.
    let rc = unsafe { libxdp_sys::bpf_xdp_detach(ifindex, flags.bits(), std::ptr::null()) };
    if rc != 0 {
        return Err(err(dev, format!("detach: {}", std::io::Error::from_raw_os_error(-rc))));
    }
    Ok(true)
}

fn owned(dev: &str, fd: i32, what: &str) -> Result<OwnedFd, PktgenError> {
    if fd < 0 {
        return Err(err(dev, format!("{what}: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: libbpf returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn prog_fd(dev: &str, id: u32) -> Result<OwnedFd, PktgenError> {
    // SAFETY: plain bpf(2) call by id.
    owned(dev, unsafe { libxdp_sys::bpf_prog_get_fd_by_id(id) }, "opening the XDP program")
}

/// The program's name and the ids of the maps it uses.
fn prog_info(dev: &str, prog: &OwnedFd) -> Result<(String, Vec<u32>), PktgenError> {
    let mut ids = [0u32; 8];
    // SAFETY: bpf_prog_info is a plain C struct of integers and arrays: all zeroes is valid.
    let mut info: libxdp_sys::bpf_prog_info = unsafe { std::mem::zeroed() };
    info.nr_map_ids = ids.len() as u32;
    info.map_ids = ids.as_mut_ptr() as u64;
    let mut len = std::mem::size_of::<libxdp_sys::bpf_prog_info>() as u32;
    // SAFETY: `info` and `len` are valid for writes; `map_ids` points at `ids`, which has room for
    // `nr_map_ids` entries and outlives the call.
    let rc = unsafe { libxdp_sys::bpf_prog_get_info_by_fd(prog.as_raw_fd(), &mut info, &mut len) };
    if rc != 0 {
        return Err(err(dev, format!("program info: {}", std::io::Error::from_raw_os_error(-rc))));
    }
    let n = (info.nr_map_ids as usize).min(ids.len());
    Ok((c_name(&info.name), ids[..n].to_vec()))
}

/// Number of possible CPUs: the per-CPU value count of a per-CPU map.
fn possible_cpus() -> Result<usize, PktgenError> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut n = 0;
    for part in text.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => return Err(err("-", format!("cannot parse /sys/devices/system/cpu/possible: {text:?}"))),
        };
        n = n.max(b + 1).max(a + 1);
    }
    Ok(n.max(1))
}

/// Everything the counter has seen, summed over the CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Stamped frames dropped by the counter.
    pub stamped: u64,
    /// Their bytes, without FCS.
    pub bytes: u64,
    /// Other frames (passed to the stack).
    pub other: u64,
    /// Stamps from the future (counted in bucket 0).
    pub future: u64,
    /// Latency histogram, [`BUCKETS`] entries (empty if not read).
    pub buckets: Vec<u64>,
}

impl CounterSnapshot {
    /// `self - earlier`, entry by entry.
    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            stamped: self.stamped.saturating_sub(earlier.stamped),
            bytes: self.bytes.saturating_sub(earlier.bytes),
            other: self.other.saturating_sub(earlier.other),
            future: self.future.saturating_sub(earlier.future),
            buckets: self
                .buckets
                .iter()
                .enumerate()
                .map(|(i, v)| v.saturating_sub(earlier.buckets.get(i).copied().unwrap_or(0)))
                .collect(),
        }
    }
}

/// An attached counter's maps, opened by id.
pub struct Counter {
    dev: String,
    counters: OwnedFd,
    latency: OwnedFd,
    per_cpu: Vec<u64>,
}

impl Counter {
    /// Finds the counting program attached to `dev` (calling thread's namespace) and opens its maps.
    pub fn find(dev: &str) -> Result<Counter, PktgenError> {
        let ifindex = ifindex(dev)?;
        let (id, _) = attached(ifindex).ok_or_else(|| {
            err(
                dev,
                "no XDP program attached: attach the counter first (pktgen counter-attach --obj xdp_count.o)",
            )
        })?;
        let prog = prog_fd(dev, id)?;
        let (name, maps) = prog_info(dev, &prog)?;
        if name != PROGRAM {
            return Err(err(dev, format!("the attached XDP program is {name:?}, not the counter")));
        }
        let (mut counters, mut latency) = (None, None);
        for map_id in maps {
            // SAFETY: plain bpf(2) call by id.
            let fd = owned(dev, unsafe { libxdp_sys::bpf_map_get_fd_by_id(map_id) }, "opening a map")?;
            // SAFETY: bpf_map_info is a plain C struct of integers and arrays: all zeroes is valid.
            let mut info: libxdp_sys::bpf_map_info = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libxdp_sys::bpf_map_info>() as u32;
            // SAFETY: `info` and `len` are valid for writes during the call.
            let rc = unsafe { libxdp_sys::bpf_map_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len) };
            if rc != 0 {
                continue;
            }
            match c_name(&info.name).as_str() {
                "counters" if info.max_entries == COUNTERS && info.value_size == 8 => counters = Some(fd),
                "latency" if info.max_entries == BUCKETS && info.value_size == 8 => latency = Some(fd),
                _ => {}
            }
        }
        match (counters, latency) {
            (Some(counters), Some(latency)) => {
                Ok(Counter { dev: dev.to_string(), counters, latency, per_cpu: vec![0; possible_cpus()?] })
            }
            _ => Err(err(dev, "the counter's maps (counters, latency) were not found: wrong object?")),
        }
    }

    /// Sum over CPUs of entry `key` of `map`.
    fn sum(&mut self, latency: bool, key: u32) -> Result<u64, PktgenError> {
        let fd = if latency { self.latency.as_raw_fd() } else { self.counters.as_raw_fd() };
        self.per_cpu.fill(0);
        // SAFETY: a per-CPU array lookup writes one 8-byte value per possible CPU; `per_cpu` has
        // exactly that many u64 slots; `key` lives on the stack for the call.
        let rc = unsafe {
            libxdp_sys::bpf_map_lookup_elem(
                fd,
                &key as *const u32 as *const libc::c_void,
                self.per_cpu.as_mut_ptr() as *mut libc::c_void,
            )
        };
        if rc != 0 {
            return Err(err(&self.dev, format!("map lookup: {}", std::io::Error::from_raw_os_error(-rc))));
        }
        Ok(self.per_cpu.iter().sum())
    }

    /// The counters, and the latency histogram too if `histogram` (1024 map lookups).
    pub fn read(&mut self, histogram: bool) -> Result<CounterSnapshot, PktgenError> {
        let mut s = CounterSnapshot {
            stamped: self.sum(false, 0)?,
            bytes: self.sum(false, 1)?,
            other: self.sum(false, 2)?,
            future: self.sum(false, 3)?,
            buckets: Vec::new(),
        };
        if histogram {
            s.buckets = (0..BUCKETS).map(|i| self.sum(true, i)).collect::<Result<_, _>>()?;
        }
        Ok(s)
    }

    pub fn device(&self) -> &str {
        &self.dev
    }
}

/// The latency histogram as an hdrhistogram (each bucket recorded at its midpoint) and as CDF
/// points `[upper bound ns, fraction <= it]` for plotting.
pub fn histogram_of(buckets: &[u64]) -> (hdrhistogram::Histogram<u64>, Vec<[f64; 2]>) {
    let mut h = super::stats::new_latency_histogram();
    let total: u64 = buckets.iter().sum();
    let mut cdf = Vec::new();
    let mut seen = 0u64;
    for (i, &n) in buckets.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let (low, high) = bucket_bounds(i as u32);
        h.saturating_record_n((low + (high - low) / 2).max(1), n);
        seen += n;
        cdf.push([high as f64, seen as f64 / total as f64]);
    }
    (h, cdf)
}

impl std::fmt::Debug for Counter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counter").field("dev", &self.dev).finish()
    }
}
