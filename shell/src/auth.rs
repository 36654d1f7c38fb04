//! Login checks and the login policy of the management plane.
//!
//! Password hashes (`pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`) are implemented once in
//! `rib::topology::password` and re-exported here. [`LoginThrottle`] holds the policy that keeps
//! logins from being an oracle or a denial of service:
//! - every login attempt runs exactly one PBKDF2 ([`LoginThrottle::check`]): an unknown user is
//!   checked against a dummy hash of the same cost, so the time taken does not reveal which
//!   names exist (counted in [`LoginThrottle::hash_calls`] so tests can assert it);
//! - failed logins from one source address are delayed more and more, and after
//!   `block.attempts` failures within `block.within` the source is refused for `block.block_for`
//!   (IOS `login block-for 120 attempts 5 within 60`), without hashing anything;
//! - telnet connections that have not logged in are bounded separately from logged-in
//!   sessions (`pending_max`, evicting the least recently active) and must finish logging in
//!   within `login_timeout`.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use rib::topology::password::{hash_password, hash_password_with_salt, verify_password};
use rib::topology::password::{parse_password_hash, DEFAULT_ITERATIONS, SCHEME};

/// `login block-for SECONDS attempts N within SECONDS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockPolicy {
    /// Failures that start a block.
    pub attempts: u32,
    /// Window in which those failures must fall.
    pub within: Duration,
    /// How long the source is refused.
    pub block_for: Duration,
}

impl Default for BlockPolicy {
    fn default() -> Self {
        BlockPolicy { attempts: 5, within: Duration::from_secs(60), block_for: Duration::from_secs(120) }
    }
}

/// What the policy says after a failed login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FailOutcome {
    /// Wait this long before the next prompt.
    pub delay: Duration,
    /// Set when this failure started a block of the source (for this long).
    pub blocked_for: Option<Duration>,
}

/// Failure history of one source address.
#[derive(Debug, Default)]
struct Record {
    /// Consecutive failures (for the growing delay).
    consecutive: u32,
    /// Times of the recent failures (at most `block.attempts`).
    recent: VecDeque<Instant>,
    /// Refused until then.
    blocked_until: Option<Instant>,
    last: Option<Instant>,
}

/// Per-source login throttling and blocking, the pre-login limits of telnet, and the
/// constant-work password check.
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, Record>>,
    /// Delay after the first failure; doubles per further failure.
    pub base: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
    /// When a source gets blocked and for how long.
    pub block: BlockPolicy,
    /// Time a telnet connection has to finish logging in (from connect).
    pub login_timeout: Duration,
    /// Most telnet connections at once that have not logged in; a further one evicts the least
    /// recently active of them (logged-in sessions are capped separately by `max_sessions`).
    pub pending_max: usize,
    hash_calls: AtomicU64,
    hash_iterations: AtomicU64,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

/// Source map entries kept before quiet ones are forgotten.
const MAX_SOURCES: usize = 4096;
/// A source with no failure for this long starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(600);

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            base: Duration::from_millis(500),
            max: Duration::from_secs(16),
            block: BlockPolicy::default(),
            login_timeout: Duration::from_secs(30),
            // Half the default session cap: 32 operators may log in at the same moment.
            pending_max: 32,
            hash_calls: AtomicU64::new(0),
            hash_iterations: AtomicU64::new(0),
        }
    }

    /// Checks `password` against `stored`, or, for an unknown user (`None`), against a dummy
    /// hash with `dummy_iterations` iterations: either way exactly one PBKDF2 runs, so an
    /// unknown name costs the same as a wrong password. A malformed stored hash is still
    /// hashed (against the dummy) and fails.
    pub fn check(&self, password: &str, stored: Option<&str>, dummy_iterations: u32) -> bool {
        let parsed = stored.and_then(|s| parse_password_hash(s).ok());
        let iterations = parsed.as_ref().map_or(dummy_iterations, |p| p.iterations);
        self.hash_calls.fetch_add(1, Ordering::Relaxed);
        self.hash_iterations.fetch_add(u64::from(iterations), Ordering::Relaxed);
        match (stored, parsed) {
            (Some(s), Some(_)) => verify_password(password, s),
            _ => {
                // A well-formed hash whose digest is all zeros: the PBKDF2 runs in full and the
                // comparison fails (a 2^-256 chance aside, which the `false` below removes).
                let dummy = format!("{SCHEME}${iterations}$7673776974636821${}", "00".repeat(32));
                let _ = verify_password(password, &dummy);
                false
            }
        }
    }

    /// The iteration count a dummy check uses when the users' hashes do not say otherwise.
    pub fn default_iterations() -> u32 {
        DEFAULT_ITERATIONS
    }

    /// Password hashes computed so far (one per login attempt that was not blocked).
    pub fn hash_calls(&self) -> u64 {
        self.hash_calls.load(Ordering::Relaxed)
    }

    /// PBKDF2 iterations run so far over all checks.
    pub fn hash_iterations(&self) -> u64 {
        self.hash_iterations.load(Ordering::Relaxed)
    }

    /// Records a failure from `source`: the delay before the next prompt, and whether the
    /// source is now blocked.
    pub fn fail(&self, source: &str) -> FailOutcome {
        self.fail_at(source, Instant::now())
    }

    /// [`LoginThrottle::fail`] at a given time (tests).
    pub fn fail_at(&self, source: &str, now: Instant) -> FailOutcome {
        let mut g = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if g.len() > MAX_SOURCES {
            g.retain(|_, r| {
                r.last.is_some_and(|t| now.saturating_duration_since(t) < FORGET_AFTER)
                    || r.blocked_until.is_some_and(|t| t > now)
            });
        }
        let r = g.entry(source.to_string()).or_default();
        if r.last.is_some_and(|t| now.saturating_duration_since(t) > FORGET_AFTER) {
            r.consecutive = 0;
        }
        r.consecutive = r.consecutive.saturating_add(1);
        r.last = Some(now);
        while r.recent.front().is_some_and(|&t| now.saturating_duration_since(t) > self.block.within) {
            r.recent.pop_front();
        }
        r.recent.push_back(now);
        let mut blocked_for = None;
        if self.block.attempts > 0 && r.recent.len() >= self.block.attempts as usize {
            r.blocked_until = Some(now + self.block.block_for);
            r.recent.clear();
            blocked_for = Some(self.block.block_for);
        }
        while r.recent.len() > self.block.attempts as usize {
            r.recent.pop_front();
        }
        FailOutcome { delay: self.delay_for(r.consecutive), blocked_for }
    }

    /// How much longer `source` is refused (`None`: not blocked).
    pub fn blocked(&self, source: &str) -> Option<Duration> {
        self.blocked_at(source, Instant::now())
    }

    /// [`LoginThrottle::blocked`] at a given time (tests).
    pub fn blocked_at(&self, source: &str, now: Instant) -> Option<Duration> {
        let g = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let until = g.get(source)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// The delay after `failures` consecutive failures.
    pub fn delay_for(&self, failures: u32) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let shift = (failures - 1).min(16);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }

    /// Consecutive failures recorded for `source`.
    pub fn failures(&self, source: &str) -> u32 {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(source).map_or(0, |e| e.consecutive)
    }

    /// A successful login clears the source's failure count (not a running block: a blocked
    /// source is refused before its password is checked).
    pub fn succeed(&self, source: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(source);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("pbkdf2-sha256$10000$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret ", &h));
        assert!(!verify_password("s3cret", "plain"));
        assert!(!verify_password("s3cret", "pbkdf2-sha256$0$00$00"));
        assert!(!verify_password("s3cret", "pbkdf2-sha256$1$zz$00"));
        assert!(!verify_password("x", "pbkdf2-sha256$1$00$00$extra"));
        let fixed = hash_password_with_salt("admin", b"0123456789abcdef", 1000);
        assert!(verify_password("admin", &fixed));
    }

    #[test]
    fn throttle_grows_and_resets() {
        let t = LoginThrottle::new();
        assert_eq!(t.fail("10.0.0.1").delay, Duration::from_millis(500));
        assert_eq!(t.fail("10.0.0.1").delay, Duration::from_millis(1000));
        assert_eq!(t.fail("10.0.0.1").delay, Duration::from_millis(2000));
        assert_eq!(t.fail("10.0.0.2").delay, Duration::from_millis(500));
        for _ in 0..40 {
            t.fail("10.0.0.1");
        }
        assert_eq!(t.fail("10.0.0.1").delay, Duration::from_secs(16));
        t.succeed("10.0.0.1");
        assert_eq!(t.failures("10.0.0.1"), 0);
    }

    #[test]
    fn check_runs_one_hash_of_the_same_cost_for_known_and_unknown_users() {
        let t = LoginThrottle::new();
        let stored = hash_password_with_salt("right", b"0123456789abcdef", 1000);
        assert!(t.check("right", Some(&stored), 5000));
        assert_eq!((t.hash_calls(), t.hash_iterations()), (1, 1000));
        assert!(!t.check("wrong", Some(&stored), 5000));
        assert_eq!((t.hash_calls(), t.hash_iterations()), (2, 2000));
        assert!(!t.check("right", None, 1000));
        assert_eq!((t.hash_calls(), t.hash_iterations()), (3, 3000));
        // A malformed stored hash is not a shortcut either.
        assert!(!t.check("right", Some("plain"), 1000));
        assert_eq!((t.hash_calls(), t.hash_iterations()), (4, 4000));
    }

    #[test]
    fn block_after_attempts_within_window_and_expiry() {
        let t = LoginThrottle::new();
        let t0 = Instant::now();
        // Failures spread wider than the window never block.
        for i in 0..10u64 {
            let out = t.fail_at("10.0.0.9", t0 + Duration::from_secs(61 * i));
            assert_eq!(out.blocked_for, None, "failure {i}");
        }
        let t1 = t0 + Duration::from_secs(10_000);
        for i in 0..4u64 {
            assert_eq!(t.fail_at("10.0.0.1", t1 + Duration::from_secs(i)).blocked_for, None);
        }
        assert_eq!(t.blocked_at("10.0.0.1", t1 + Duration::from_secs(4)), None);
        let fifth = t.fail_at("10.0.0.1", t1 + Duration::from_secs(4));
        assert_eq!(fifth.blocked_for, Some(Duration::from_secs(120)));
        assert_eq!(t.blocked_at("10.0.0.1", t1 + Duration::from_secs(5)), Some(Duration::from_secs(119)));
        assert_eq!(t.blocked_at("10.0.0.2", t1 + Duration::from_secs(5)), None);
        assert_eq!(t.blocked_at("10.0.0.1", t1 + Duration::from_secs(124)), None);
    }
}
