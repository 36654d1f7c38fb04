//! Stage 4, lookup: longest-prefix match of every pending IPv4 destination in its frame's
//! table, with the LPM batch lookup over runs of frames that share a table (a batch from one
//! access port is one run). Writes the adjacency index into `Meta::adj`.

use super::{Batch, BATCH, L3, NO_ADJ};
use rib::{FibSnapshot, TableId};

/// Looks up every pending IPv4 frame.
pub fn run<D>(batch: &mut Batch<D>, fib: &FibSnapshot) {
    let mut addrs = [0u32; BATCH];
    let mut idx = [0u8; BATCH];
    let mut out = [None; BATCH];
    let mut n = 0;
    let mut table: Option<TableId> = None;
    for i in 0..batch.len {
        let m = &batch.meta[i];
        if !m.pending() || m.l3 != L3::Ipv4 {
            continue;
        }
        let (frame_table, dst) = (m.table, m.dst);
        if table != Some(frame_table) {
            if let Some(t) = table {
                flush(batch, fib, t, &addrs[..n], &idx[..n], &mut out[..n]);
            }
            table = Some(frame_table);
            n = 0;
        }
        addrs[n] = u32::from(dst);
        idx[n] = i as u8;
        n += 1;
    }
    if let Some(t) = table {
        flush(batch, fib, t, &addrs[..n], &idx[..n], &mut out[..n]);
    }
}

fn flush<D>(
    batch: &mut Batch<D>,
    fib: &FibSnapshot,
    table: TableId,
    addrs: &[u32],
    idx: &[u8],
    out: &mut [Option<u32>],
) {
    match fib.table(table) {
        Some(t) => t.lpm.lookup_batch(addrs, out),
        None => out.iter_mut().for_each(|o| *o = None),
    }
    for (i, o) in idx.iter().zip(out.iter()) {
        if let Some(m) = batch.meta.get_mut(*i as usize) {
            m.adj = o.unwrap_or(NO_ADJ);
        }
    }
}
