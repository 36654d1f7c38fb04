//! Shortest paths over one tenant's logical topology (Dijkstra from every router over the
//! logical links and their costs). Routers are numbered locally, 0..n, in tenant order.
//! Ties are broken deterministically: lower cost, then lower neighbour index.

use crate::topology::Link;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Distance of an unreachable router.
pub const UNREACHABLE: u32 = u32::MAX;

/// The first step from a router toward another: the neighbour and the link used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstHop {
    /// Local index of the neighbour.
    pub neighbour: usize,
    /// Index of the link in the tenant's link list.
    pub link: usize,
}

/// All-pairs shortest paths of one tenant.
#[derive(Debug, Clone, Default)]
pub struct Spf {
    n: usize,
    dist: Vec<u32>,
    first: Vec<Option<FirstHop>>,
}

impl Spf {
    /// Computes shortest paths over `links`; `local(r)` maps a link end to a local index < n.
    pub fn compute(n: usize, links: &[Link], local: impl Fn(crate::types::RouterId) -> usize) -> Spf {
        // Adjacency lists: (neighbour, cost, link index).
        let mut adj: Vec<Vec<(usize, u32, usize)>> = vec![Vec::new(); n];
        for (li, l) in links.iter().enumerate() {
            let (a, b) = (local(l.a), local(l.b));
            if a < n && b < n {
                adj[a].push((b, l.cost, li));
                adj[b].push((a, l.cost, li));
            }
        }
        let mut dist = vec![UNREACHABLE; n * n];
        let mut first = vec![None; n * n];
        for src in 0..n {
            let d = &mut dist[src * n..(src + 1) * n];
            let f = &mut first[src * n..(src + 1) * n];
            d[src] = 0;
            let mut heap = BinaryHeap::new();
            heap.push(Reverse((0u32, src)));
            while let Some(Reverse((du, u))) = heap.pop() {
                if du > d[u] {
                    continue;
                }
                for &(v, cost, li) in &adj[u] {
                    let nd = du.saturating_add(cost);
                    let hop = if u == src { Some(FirstHop { neighbour: v, link: li }) } else { f[u] };
                    let better = nd < d[v]
                        || (nd == d[v]
                            && v != src
                            && matches!((hop, f[v]), (Some(h), Some(o)) if (h.neighbour, h.link) < (o.neighbour, o.link)));
                    if better {
                        let improved = nd < d[v];
                        d[v] = nd;
                        f[v] = hop;
                        if improved {
                            heap.push(Reverse((nd, v)));
                        }
                    }
                }
            }
        }
        Spf { n, dist, first }
    }

    /// Cost from `a` to `b` ([`UNREACHABLE`] when not connected).
    #[inline]
    pub fn dist(&self, a: usize, b: usize) -> u32 {
        if a < self.n && b < self.n {
            self.dist[a * self.n + b]
        } else {
            UNREACHABLE
        }
    }

    /// First hop from `a` toward `b` (None when a == b or unreachable).
    #[inline]
    pub fn first_hop(&self, a: usize, b: usize) -> Option<FirstHop> {
        if a < self.n && b < self.n {
            self.first[a * self.n + b]
        } else {
            None
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::types::RouterId;

    fn link(a: u16, b: u16, cost: u32) -> Link {
        Link {
            a: RouterId(a),
            a_interface: 0,
            b: RouterId(b),
            b_interface: 0,
            subnet: "10.0.0.0/30".parse().unwrap(),
            cost,
        }
    }

    #[test]
    fn triangle_prefers_cheaper_two_hop_path() {
        // 0-1 cost 10, 1-2 cost 10, 0-2 cost 50; router 3 isolated.
        let s = Spf::compute(4, &[link(0, 1, 10), link(1, 2, 10), link(0, 2, 50)], |r| r.index());
        assert_eq!(s.dist(0, 2), 20);
        assert_eq!(s.first_hop(0, 2), Some(FirstHop { neighbour: 1, link: 0 }));
        assert_eq!(s.first_hop(2, 0), Some(FirstHop { neighbour: 1, link: 1 }));
        assert_eq!(s.dist(0, 0), 0);
        assert_eq!(s.first_hop(0, 0), None);
        assert_eq!(s.dist(0, 3), UNREACHABLE);
        assert_eq!(s.first_hop(3, 0), None);
        // Make the direct link cheaper: it wins.
        let s = Spf::compute(3, &[link(0, 1, 10), link(1, 2, 10), link(0, 2, 5)], |r| r.index());
        assert_eq!((s.dist(0, 2), s.first_hop(0, 2).map(|h| h.neighbour)), (5, Some(2)));
    }

    #[test]
    fn equal_cost_tie_breaks_on_lower_neighbour() {
        // 0-1-3 and 0-2-3 both cost 2.
        let s = Spf::compute(4, &[link(0, 2, 1), link(2, 3, 1), link(0, 1, 1), link(1, 3, 1)], |r| r.index());
        assert_eq!(s.dist(0, 3), 2);
        assert_eq!(s.first_hop(0, 3).map(|h| h.neighbour), Some(1));
    }
}
