//! Password hashes and login throttling. Hashes are
//! `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` (PBKDF2-HMAC-SHA256, 32-byte key); failed
//! logins from one source address are delayed more and more.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Iterations used by [`hash_password`].
pub const DEFAULT_ITERATIONS: u32 = 10_000;
/// Refuse absurd iteration counts from a file (a DoS on login).
pub const MAX_ITERATIONS: u32 = 10_000_000;

type HmacSha256 = Hmac<Sha256>;

/// PBKDF2-HMAC-SHA256 (RFC 8018) into `out`.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    let Ok(prf) = HmacSha256::new_from_slice(password) else {
        return; // HMAC takes keys of any length; unreachable in practice.
    };
    for (block_index, chunk) in out.chunks_mut(32).enumerate() {
        let mut mac = prf.clone();
        mac.update(salt);
        mac.update(&(block_index as u32 + 1).to_be_bytes());
        let mut u = mac.finalize().into_bytes();
        let mut t = u;
        for _ in 1..iterations {
            let mut mac = prf.clone();
            mac.update(&u);
            u = mac.finalize().into_bytes();
            for (a, b) in t.iter_mut().zip(u.iter()) {
                *a ^= b;
            }
        }
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
}

/// Hashes a password with a random 16-byte salt, in the topology file's format.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    hash_password_with(password, &salt, DEFAULT_ITERATIONS)
}

/// Hashes with a given salt and iteration count (deterministic; for tests and tools).
pub fn hash_password_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut key = [0u8; 32];
    pbkdf2_sha256(password.as_bytes(), salt, iterations.max(1), &mut key);
    format!("pbkdf2-sha256${}${}${}", iterations.max(1), hex::encode(salt), hex::encode(key))
}

/// Checks a password against a stored hash; a malformed hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    let mut parts = stored.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(hash), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iter.parse::<u32>() else { return false };
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return false;
    }
    let (Ok(salt), Ok(expected)) = (hex::decode(salt), hex::decode(hash)) else { return false };
    if expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut key = vec![0u8; expected.len()];
    pbkdf2_sha256(password.as_bytes(), &salt, iterations, &mut key);
    // Constant-time comparison.
    key.iter().zip(expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

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
    fn rfc7914_vectors() {
        let mut out = [0u8; 64];
        pbkdf2_sha256(b"passwd", b"salt", 1, &mut out);
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
        let mut k = [0u8; 32];
        pbkdf2_sha256(b"password", b"salt", 4096, &mut k);
        assert_eq!(hex::encode(k), "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    }

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
        let fixed = hash_password_with("admin", b"0123456789abcdef", 1000);
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
