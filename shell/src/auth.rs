//! Login checks: password hashes (`pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX`, implemented once
//! in `rib::topology::password` and re-exported here) and login throttling: failed logins from one
//! source address are delayed more and more.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use rib::topology::password::{hash_password, hash_password_with_salt, verify_password};

/// Growing delay for failed logins, per source address (host part only).
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Delay after the first failure; doubles per further failure.
    pub base: Duration,
    /// Upper bound of the delay.
    pub max: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new()
    }
}

impl LoginThrottle {
    pub fn new() -> LoginThrottle {
        LoginThrottle {
            failures: Mutex::new(HashMap::new()),
            base: Duration::from_millis(500),
            max: Duration::from_secs(16),
        }
    }

    /// Records a failure from `source` and returns how long to wait before the next prompt.
    pub fn fail(&self, source: &str) -> Duration {
        let mut g = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Forget sources quiet for 10 minutes so the map stays small.
        if g.len() > 4096 {
            g.retain(|_, (_, t)| t.elapsed() < Duration::from_secs(600));
        }
        let e = g.entry(source.to_string()).or_insert((0, Instant::now()));
        if e.1.elapsed() > Duration::from_secs(600) {
            e.0 = 0;
        }
        e.0 = e.0.saturating_add(1);
        e.1 = Instant::now();
        self.delay_for(e.0)
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
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).get(source).map_or(0, |e| e.0)
    }

    /// A successful login clears the source's record.
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
        assert_eq!(t.fail("10.0.0.1"), Duration::from_millis(500));
        assert_eq!(t.fail("10.0.0.1"), Duration::from_millis(1000));
        assert_eq!(t.fail("10.0.0.1"), Duration::from_millis(2000));
        assert_eq!(t.fail("10.0.0.2"), Duration::from_millis(500));
        for _ in 0..40 {
            t.fail("10.0.0.1");
        }
        assert_eq!(t.fail("10.0.0.1"), Duration::from_secs(16));
        t.succeed("10.0.0.1");
        assert_eq!(t.failures("10.0.0.1"), 0);
    }
}
