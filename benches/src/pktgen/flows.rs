//! What pktgen sends: flow sets (ranges of addresses and ports, walked in order or at random) and
//! frame sizes (fixed, a random range, or the simple IMIX 7:4:1). Parsing of the command-line
//! forms `A[-B]`, `MIN-MAX` lives here too, so it is tested without the binary.

use super::frame::{FlowTuple, MAX_FRAME_SIZE, MIN_FRAME_SIZE};
use super::PktgenError;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// A small fast PRNG (xorshift64*) for per-packet choices; not for anything security related.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// Seeds the generator; a zero seed is replaced (xorshift never leaves zero).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 { 0x9E37_79B9_7F4A_7C15 } else { seed })
    }
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0) by multiply-shift; the bias is negligible for our ranges.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// An inclusive range `first..=last` parsed from `A` or `A-B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span<T> {
    pub first: T,
    pub last: T,
}

impl<T: Copy> Span<T> {
    pub fn single(v: T) -> Self {
        Span { first: v, last: v }
    }
}

fn parse_span<T: FromStr + PartialOrd + Copy>(s: &str, what: &'static str) -> Result<Span<T>, PktgenError> {
    let bad = || PktgenError::BadArgument { what, value: s.to_string() };
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let first: T = a.parse().map_err(|_| bad())?;
    let last: T = b.parse().map_err(|_| bad())?;
    if last < first {
        return Err(bad());
    }
    Ok(Span { first, last })
}

impl FromStr for Span<Ipv4Addr> {
    type Err = PktgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_span(s, "address range")
    }
}

impl FromStr for Span<u16> {
    type Err = PktgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_span(s, "port range")
    }
}

/// The order in which flows are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowOrder {
    /// Flow 0, 1, 2, … and around again.
    Seq,
    /// A uniformly random flow per frame.
    Random,
}

/// The cartesian product of address and port ranges; flow `i` is one tuple of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowSet {
    src_ip: (u32, u32),
    dst_ip: (u32, u32),
    src_port: (u16, u32),
    dst_port: (u16, u32),
    count: u32,
}

impl FlowSet {
    /// Builds the set; fails if it has more than `u32::MAX` flows (the stamp's flow id is 32-bit).
    pub fn new(
        src_ip: Span<Ipv4Addr>,
        dst_ip: Span<Ipv4Addr>,
        src_port: Span<u16>,
        dst_port: Span<u16>,
    ) -> Result<Self, PktgenError> {
        let ip_n = |s: Span<Ipv4Addr>| u64::from(u32::from(s.last) - u32::from(s.first)) + 1;
        let port_n = |s: Span<u16>| u64::from(s.last - s.first) + 1;
        let total = ip_n(src_ip) * ip_n(dst_ip) * port_n(src_port) * port_n(dst_port);
        let count = u32::try_from(total).map_err(|_| PktgenError::TooManyFlows(total))?;
        Ok(FlowSet {
            src_ip: (u32::from(src_ip.first), ip_n(src_ip) as u32),
            dst_ip: (u32::from(dst_ip.first), ip_n(dst_ip) as u32),
            src_port: (src_port.first, port_n(src_port) as u32),
            dst_port: (dst_port.first, port_n(dst_port) as u32),
            count,
        })
    }

    /// Number of flows (at least 1).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The tuple of flow `index` (taken modulo the count). Source port varies fastest, then
    /// destination port, source address, destination address.
    #[inline]
    pub fn tuple(&self, index: u32) -> FlowTuple {
        let mut i = index % self.count;
        let sp = i % self.src_port.1;
        i /= self.src_port.1;
        let dp = i % self.dst_port.1;
        i /= self.dst_port.1;
        let sa = i % self.src_ip.1;
        i /= self.src_ip.1;
        let da = i % self.dst_ip.1;
        FlowTuple {
            src_ip: Ipv4Addr::from(self.src_ip.0 + sa),
            dst_ip: Ipv4Addr::from(self.dst_ip.0 + da),
            src_port: self.src_port.0 + sp as u16,
            dst_port: self.dst_port.0 + dp as u16,
        }
    }
}

/// Picks the next flow index according to a [`FlowOrder`].
#[derive(Clone, Debug)]
pub struct FlowPicker {
    order: FlowOrder,
    count: u32,
    next: u32,
}

impl FlowPicker {
    pub fn new(order: FlowOrder, count: u32) -> Self {
        FlowPicker { order, count: count.max(1), next: 0 }
    }
    #[inline]
    pub fn pick(&mut self, rng: &mut XorShift) -> u32 {
        match self.order {
            FlowOrder::Seq => {
                let i = self.next;
                self.next = if i + 1 >= self.count { 0 } else { i + 1 };
                i
            }
            FlowOrder::Random => rng.below(u64::from(self.count)) as u32,
        }
    }
}

/// Frame sizes, counted with the 4-byte FCS like RFC 2544 (64 = the Ethernet minimum).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeSpec {
    Fixed(u16),
    /// Uniformly random in `min..=max`.
    Range(u16, u16),
    /// Simple IMIX: 64, 594 and 1518 bytes in the ratio 7:4:1, in a fixed interleaved cycle.
    Imix,
}

/// The simple-IMIX cycle: 7 × 64, 4 × 594, 1 × 1518 interleaved.
pub const IMIX_CYCLE: [u16; 12] = [64, 594, 64, 64, 594, 64, 1518, 64, 594, 64, 594, 64];

impl FromStr for SizeSpec {
    type Err = PktgenError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(SizeSpec::Imix);
        }
        let span: Span<u16> = parse_span(s, "frame size")?;
        for v in [span.first, span.last] {
            if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&v) {
                return Err(PktgenError::BadArgument {
                    what: "frame size (64..=1518, FCS included)",
                    value: s.to_string(),
                });
            }
        }
        Ok(if span.first == span.last {
            SizeSpec::Fixed(span.first)
        } else {
            SizeSpec::Range(span.first, span.last)
        })
    }
}

impl SizeSpec {
    /// The largest frame this spec produces.
    pub fn max(&self) -> u16 {
        match *self {
            SizeSpec::Fixed(n) => n,
            SizeSpec::Range(_, b) => b,
            SizeSpec::Imix => MAX_FRAME_SIZE,
        }
    }
    /// A short label for reports ("64", "64-1518", "imix").
    pub fn label(&self) -> String {
        match *self {
            SizeSpec::Fixed(n) => n.to_string(),
            SizeSpec::Range(a, b) => format!("{a}-{b}"),
            SizeSpec::Imix => "imix".to_string(),
        }
    }
}

/// Produces frame sizes per [`SizeSpec`].
#[derive(Clone, Debug)]
pub struct SizePicker {
    spec: SizeSpec,
    imix_at: usize,
}

impl SizePicker {
    pub fn new(spec: SizeSpec) -> Self {
        SizePicker { spec, imix_at: 0 }
    }
    #[inline]
    pub fn pick(&mut self, rng: &mut XorShift) -> u16 {
        match self.spec {
            SizeSpec::Fixed(n) => n,
            SizeSpec::Range(a, b) => a + rng.below(u64::from(b - a) + 1) as u16,
            SizeSpec::Imix => {
                let n = IMIX_CYCLE[self.imix_at];
                self.imix_at = (self.imix_at + 1) % IMIX_CYCLE.len();
                n
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn spans_parse_and_reject_reversed() {
        let s: Span<Ipv4Addr> = "10.0.0.1-10.0.0.4".parse().unwrap();
        assert_eq!(s, Span { first: ip("10.0.0.1"), last: ip("10.0.0.4") });
        let p: Span<u16> = "9".parse().unwrap();
        assert_eq!(p, Span::single(9));
        assert!("10.0.0.4-10.0.0.1".parse::<Span<Ipv4Addr>>().is_err());
        assert!("70000".parse::<Span<u16>>().is_err());
    }

    #[test]
    fn flow_set_enumerates_every_tuple_once() {
        let set = FlowSet::new(
            "10.0.0.1-10.0.0.2".parse().unwrap(),
            "10.1.0.1".parse().unwrap(),
            "1000-1002".parse().unwrap(),
            "9".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(set.count(), 6);
        let tuples: Vec<_> = (0..6).map(|i| set.tuple(i)).collect();
        assert_eq!(tuples[0].src_ip, ip("10.0.0.1"));
        assert_eq!(tuples[0].src_port, 1000);
        assert_eq!(tuples[2].src_port, 1002);
        assert_eq!(tuples[3].src_ip, ip("10.0.0.2"));
        assert_eq!(tuples[3].src_port, 1000);
        for (i, a) in tuples.iter().enumerate() {
            assert_eq!(a.dst_ip, ip("10.1.0.1"));
            assert_eq!(a.dst_port, 9);
            for b in &tuples[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(set.tuple(6), tuples[0]);
    }

    #[test]
    fn too_many_flows_is_an_error() {
        let r = FlowSet::new(
            "10.0.0.0-10.255.255.255".parse().unwrap(),
            "10.0.0.0-10.0.255.255".parse().unwrap(),
            "1".parse().unwrap(),
            "1".parse().unwrap(),
        );
        assert!(matches!(r, Err(PktgenError::TooManyFlows(_))));
    }

    #[test]
    fn pickers_follow_their_order() {
        let mut rng = XorShift::new(7);
        let mut seq = FlowPicker::new(FlowOrder::Seq, 3);
        let got: Vec<u32> = (0..7).map(|_| seq.pick(&mut rng)).collect();
        assert_eq!(got, vec![0, 1, 2, 0, 1, 2, 0]);
        let mut random = FlowPicker::new(FlowOrder::Random, 5);
        let mut seen = [0u32; 5];
        for _ in 0..1000 {
            seen[random.pick(&mut rng) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    }

    #[test]
    fn sizes_parse_and_pick() {
        assert_eq!("64".parse::<SizeSpec>().unwrap(), SizeSpec::Fixed(64));
        assert_eq!("64-1518".parse::<SizeSpec>().unwrap(), SizeSpec::Range(64, 1518));
        assert_eq!("IMIX".parse::<SizeSpec>().unwrap(), SizeSpec::Imix);
        assert!("63".parse::<SizeSpec>().is_err());
        assert!("1519".parse::<SizeSpec>().is_err());
        let mut rng = XorShift::new(1);
        let mut imix = SizePicker::new(SizeSpec::Imix);
        let cycle: Vec<u16> = (0..12).map(|_| imix.pick(&mut rng)).collect();
        assert_eq!(cycle.iter().filter(|&&n| n == 64).count(), 7);
        assert_eq!(cycle.iter().filter(|&&n| n == 594).count(), 4);
        assert_eq!(cycle.iter().filter(|&&n| n == 1518).count(), 1);
        let mut range = SizePicker::new(SizeSpec::Range(100, 102));
        for _ in 0..100 {
            assert!((100..=102).contains(&range.pick(&mut rng)));
        }
    }
}
