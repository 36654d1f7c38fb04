//! Our own producer side of an AF_XDP socket's TX ring. xsk-rs 0.11 only transmits its own
//! `FrameDesc`s, whose address field is private and always where a received packet starts
//! (`FrameDesc::addr` has no setter, the constructor is crate-private), so a packet whose
//! start moved into the headroom (VXLAN encap, VLAN push) or past its old start (decap, VLAN
//! pop) could not be sent from where it is. The kernel accepts a TX descriptor at any address
//! inside a frame of an aligned UMEM as long as the packet does not cross the frame's end
//! (`xp_aligned_validate_desc`), so we map the socket's TX ring a second time
//! (`XDP_PGOFF_TX_RING`, as libxdp does for its own mapping) and produce `xdp_desc` entries
//! ourselves. xsk-rs's `TxQueue` is then used only for `needs_wakeup`/`wakeup`, never to
//! produce, so the two views of the producer index cannot disagree.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// One socket's TX ring, mapped by us. Owned by one worker (`&mut self` to produce).
pub(super) struct TxRing {
    map: *mut libc::c_void,
    map_len: usize,
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    descs: *mut libc::xdp_desc,
    size: u32,
    /// Our producer index (only we write the producer).
    prod: u32,
}

impl TxRing {
    /// Maps the TX ring of the bound AF_XDP socket `fd` whose ring has `size` entries (a
    /// power of two).
    pub(super) fn map(fd: RawFd, size: u32) -> io::Result<TxRing> {
        if !size.is_power_of_two() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "ring size is not a power of two"));
        }
        // SAFETY: xdp_mmap_offsets is plain integers; all-zero is a valid value.
        let mut off: libc::xdp_mmap_offsets = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::xdp_mmap_offsets>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `off`, which lives across the call.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_XDP,
                libc::XDP_MMAP_OFFSETS,
                &mut off as *mut libc::xdp_mmap_offsets as *mut libc::c_void,
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        if len as usize != std::mem::size_of::<libc::xdp_mmap_offsets>() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "kernel without the v2 XDP ring layout"));
        }
        let map_len = off.tx.desc as usize + size as usize * std::mem::size_of::<libc::xdp_desc>();
        // SAFETY: a fresh shared mapping of the socket's TX ring, as the kernel documents for
        // AF_XDP; the result is checked below.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                libc::XDP_PGOFF_TX_RING,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let at = |o: u64| {
            // SAFETY: the kernel's offsets lie inside the ring mapping of `map_len` bytes.
            unsafe { (map as *mut u8).add(o as usize) }
        };
        let producer = at(off.tx.producer) as *const AtomicU32;
        let consumer = at(off.tx.consumer) as *const AtomicU32;
        let descs = at(off.tx.desc) as *mut libc::xdp_desc;
        // SAFETY: the producer index is a u32 in the mapping, written only by userspace.
        let prod = unsafe { (*producer).load(Ordering::Acquire) };
        Ok(TxRing { map, map_len, producer, consumer, descs, size, prod })
    }

    /// Entries produced and not yet consumed by the kernel.
    #[inline]
    pub(super) fn pending(&self) -> u32 {
        // SAFETY: the consumer index lives in our mapping; the kernel writes it atomically.
        let cons = unsafe { (*self.consumer).load(Ordering::Acquire) };
        self.prod.wrapping_sub(cons)
    }

    /// Free entries.
    #[inline]
    pub(super) fn free(&self) -> u32 {
        self.size - self.pending().min(self.size)
    }

    /// Produces `(addr, len)` descriptors for as many of `frames` as fit; returns how many.
    ///
    /// # Safety
    /// Every address must lie in a frame of the UMEM this socket is bound to, the packet must
    /// not cross that frame's end, and the caller gives the frames to the kernel until they
    /// come back on the completion ring.
    #[inline]
    pub(super) unsafe fn produce(&mut self, frames: impl ExactSizeIterator<Item = (u64, u32)>) -> usize {
        let n = frames.len().min(self.free() as usize);
        let mask = self.size - 1;
        for (i, (addr, len)) in frames.take(n).enumerate() {
            let slot = (self.prod.wrapping_add(i as u32) & mask) as usize;
            // SAFETY: `slot < size`, the descriptor array has `size` entries in the mapping, and
            // slots between the consumer and the new producer index belong to us.
            unsafe { self.descs.add(slot).write(libc::xdp_desc { addr, len, options: 0 }) };
        }
        self.prod = self.prod.wrapping_add(n as u32);
        // SAFETY: as in `map`; Release publishes the descriptors written above.
        unsafe { (*self.producer).store(self.prod, Ordering::Release) };
        n
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: `map`/`map_len` are our own mapping, unmapped once; nothing uses the
        // pointers into it after drop.
        unsafe { libc::munmap(self.map, self.map_len) };
    }
}
