//! Rate control for pktgen's transmitter: a token bucket in exact integer arithmetic (credit counted
//! in packet-nanoseconds, so no fraction of a token is ever lost), driven by a caller-supplied clock
//! so the math is tested without timing. Batches are paced by taking up to a batch of tokens at once.

const NS_PER_SEC: u128 = 1_000_000_000;

/// A token bucket giving `rate_pps` packets per second with at most `burst` packets at once.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_pps: u64,
    burst: u64,
    /// Accumulated credit in packets × 1e9 (one packet = `NS_PER_SEC`).
    credit: u128,
    last_ns: u64,
}

impl TokenBucket {
    /// A bucket starting full at time `now_ns`. `rate_pps == 0` means unlimited. `burst` is raised to 1.
    pub fn new(rate_pps: u64, burst: u64, now_ns: u64) -> Self {
        let burst = burst.max(1);
        TokenBucket { rate_pps, burst, credit: u128::from(burst) * NS_PER_SEC, last_ns: now_ns }
    }

    /// The default burst for a rate: 10 ms worth of packets and at least one batch, so a thread
    /// preempted for a few milliseconds catches up (in batches) instead of losing its rate.
    pub fn default_burst(rate_pps: u64, batch: u64) -> u64 {
        (rate_pps / 100).max(batch).max(1)
    }

    /// Whether the bucket limits anything.
    pub fn is_unlimited(&self) -> bool {
        self.rate_pps == 0
    }

    fn refill(&mut self, now_ns: u64) {
        let elapsed = now_ns.saturating_sub(self.last_ns);
        self.last_ns = self.last_ns.max(now_ns);
        let cap = u128::from(self.burst) * NS_PER_SEC;
        self.credit = (self.credit + u128::from(elapsed) * u128::from(self.rate_pps)).min(cap);
    }

    /// Takes up to `want` whole tokens at `now_ns` and returns how many were taken.
    pub fn take(&mut self, now_ns: u64, want: u64) -> u64 {
        if self.rate_pps == 0 {
            return want;
        }
        self.refill(now_ns);
        let n = (self.credit / NS_PER_SEC).min(u128::from(want)) as u64;
        self.credit -= u128::from(n) * NS_PER_SEC;
        n
    }

    /// Nanoseconds from `now_ns` until one whole token is available (0 if one is already there).
    pub fn wait_ns(&mut self, now_ns: u64) -> u64 {
        if self.rate_pps == 0 {
            return 0;
        }
        self.refill(now_ns);
        if self.credit >= NS_PER_SEC {
            return 0;
        }
        let missing = NS_PER_SEC - self.credit;
        missing.div_ceil(u128::from(self.rate_pps)) as u64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_gives_everything() {
        let mut b = TokenBucket::new(0, 1, 0);
        assert!(b.is_unlimited());
        assert_eq!(b.take(0, 1_000_000), 1_000_000);
        assert_eq!(b.wait_ns(0), 0);
    }

    #[test]
    fn starts_with_one_burst_and_caps_at_burst() {
        let mut b = TokenBucket::new(1000, 8, 0);
        assert_eq!(b.take(0, 100), 8);
        assert_eq!(b.take(0, 100), 0);
        // Ten idle seconds refill only up to the burst.
        assert_eq!(b.take(10_000_000_000, 100), 8);
    }

    #[test]
    fn fractions_of_a_token_are_kept() {
        let mut b = TokenBucket::new(1000, 4, 0); // one token per 1 ms
        assert_eq!(b.take(0, 4), 4);
        assert_eq!(b.take(1_500_000, 10), 1); // 1.5 tokens accrued, 1 taken
        assert_eq!(b.take(2_000_000, 10), 1); // 0.5 + 0.5
        assert_eq!(b.take(2_999_999, 10), 0);
        assert_eq!(b.wait_ns(2_999_999), 1);
        assert_eq!(b.take(3_000_000, 10), 1);
    }

    #[test]
    fn long_run_total_matches_rate() {
        // 1 Mpps for one simulated second polled every 37 µs: total = rate + the initial burst.
        let mut b = TokenBucket::new(1_000_000, 64, 0);
        let mut total = 0u64;
        let mut t = 0u64;
        while t <= 1_000_000_000 {
            total += b.take(t, 64);
            t += 37_000;
        }
        let last = t - 37_000;
        assert_eq!(total, 64 + last / 1000);
    }

    #[test]
    fn clock_going_backwards_adds_nothing() {
        let mut b = TokenBucket::new(1000, 4, 5_000_000);
        assert_eq!(b.take(5_000_000, 4), 4);
        assert_eq!(b.take(1_000_000, 4), 0);
        assert_eq!(b.take(6_000_000, 4), 1);
    }

    #[test]
    fn default_burst_is_ten_milliseconds_or_a_batch() {
        assert_eq!(TokenBucket::default_burst(10, 64), 64);
        assert_eq!(TokenBucket::default_burst(32_000, 64), 320);
        assert_eq!(TokenBucket::default_burst(10_000_000, 64), 100_000);
        assert_eq!(TokenBucket::default_burst(10, 0), 1);
    }
}
