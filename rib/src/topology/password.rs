//! Shell user password hashes: `pbkdf2-sha256$ITERATIONS$SALT_HEX$HASH_HEX` with
//! HASH = PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes). Format check for validation,
//! hashing for `username ... secret`, and constant-time verification for login.

use sha2::Sha256;

/// Hash scheme tag at the start of every stored hash.
pub const SCHEME: &str = "pbkdf2-sha256";
/// Iterations used by [`hash_password`].
pub const DEFAULT_ITERATIONS: u32 = 10_000;
/// Fewest and most iterations a stored hash may declare (bounds login cost).
const MIN_ITERATIONS: u32 = 1_000;
const MAX_ITERATIONS: u32 = 10_000_000;

/// A parsed password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub hash: [u8; 32],
}

/// Parses a stored hash; the error says what is wrong.
pub fn parse_password_hash(s: &str) -> Result<PasswordHash, String> {
    let parts: Vec<&str> = s.split('$').collect();
    let [scheme, iters, salt, hash] = parts.as_slice() else {
        return Err(format!(
            "expected {SCHEME}$ITERATIONS$SALT_HEX$HASH_HEX, got {} '$'-separated parts",
            parts.len()
        ));
    };
    if *scheme != SCHEME {
        return Err(format!("unknown hash scheme '{scheme}' (expected {SCHEME})"));
    }
    let iterations: u32 = iters.parse().map_err(|_| format!("iterations '{iters}' is not a number"))?;
    if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
        return Err(format!("iterations {iterations} outside {MIN_ITERATIONS}..={MAX_ITERATIONS}"));
    }
    let salt = hex::decode(salt).map_err(|_| "salt is not hex".to_string())?;
    if salt.len() < 8 {
        return Err(format!("salt is {} bytes, at least 8 expected", salt.len()));
    }
    let hash_bytes = hex::decode(hash).map_err(|_| "hash is not hex".to_string())?;
    let hash: [u8; 32] =
        hash_bytes.try_into().map_err(|v: Vec<u8>| format!("hash is {} bytes, 32 expected", v.len()))?;
    Ok(PasswordHash { iterations, salt, hash })
}

type HmacSha256 = hmac::Hmac<Sha256>;

/// PBKDF2-HMAC-SHA256 (RFC 8018) with a 32-byte output (one block). The keyed HMAC state is
/// computed once and cloned per iteration.
pub fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    use hmac::Mac;
    let Ok(prf) = HmacSha256::new_from_slice(password) else {
        return [0; 32]; // HMAC takes keys of any length: not reachable.
    };
    let mut mac = prf.clone();
    mac.update(salt);
    mac.update(&1u32.to_be_bytes());
    let mut u: [u8; 32] = mac.finalize().into_bytes().into();
    let mut out = u;
    for _ in 1..iterations {
        let mut mac = prf.clone();
        mac.update(&u);
        u = mac.finalize().into_bytes().into();
        for (o, b) in out.iter_mut().zip(u) {
            *o ^= b;
        }
    }
    out
}

/// Hashes `password` with a random 16-byte salt in the stored format.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; 16] = rand::random();
    hash_password_with_salt(password, &salt, DEFAULT_ITERATIONS)
}

/// Hashes with a given salt and iteration count (deterministic; tests and scripts).
pub fn hash_password_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let h = pbkdf2_sha256(password.as_bytes(), salt, iterations);
    format!("{SCHEME}${iterations}${}${}", hex::encode(salt), hex::encode(h))
}

/// True when `password` matches the stored hash (false for a malformed hash).
pub fn verify_password(password: &str, stored: &str) -> bool {
    let Ok(p) = parse_password_hash(stored) else { return false };
    let h = pbkdf2_sha256(password.as_bytes(), &p.salt, p.iterations);
    // Constant-time comparison.
    h.iter().zip(p.hash.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_hashlib() {
        // python3 -c "import hashlib;print(hashlib.pbkdf2_hmac('sha256',b'vnswitch',bytes.fromhex('00112233445566778899aabbccddeeff'),1000).hex())"
        let h = pbkdf2_sha256(b"vnswitch", &hex::decode("00112233445566778899aabbccddeeff").unwrap(), 1000);
        assert_eq!(hex::encode(h), PY_VECTOR);
    }

    const PY_VECTOR: &str = "e789042e3ffd314557abbd05dfc4f7e500ebefa5acbb90198e9a766e4590a88b";

    #[test]
    fn hash_and_verify() {
        let s = hash_password_with_salt("secret", b"saltsalt", 1000);
        assert!(verify_password("secret", &s));
        assert!(!verify_password("Secret", &s));
        assert!(!verify_password("secret", "plain"));
        let r = hash_password("x");
        assert!(r.starts_with("pbkdf2-sha256$10000$"));
        assert!(verify_password("x", &r));
    }

    #[test]
    fn rejects_bad_formats() {
        assert!(parse_password_hash("vnswitch").is_err());
        assert!(parse_password_hash("md5$1000$00112233445566778899$00").is_err());
        assert!(parse_password_hash("pbkdf2-sha256$x$0011223344556677$00").is_err());
        assert!(
            parse_password_hash(&format!("pbkdf2-sha256$1000$0011223344556677${}", "ab".repeat(31))).is_err()
        );
        assert!(
            parse_password_hash(&format!("pbkdf2-sha256$1000$zz11223344556677${}", "ab".repeat(32))).is_err()
        );
        assert!(
            parse_password_hash(&format!("pbkdf2-sha256$1000$0011223344556677${}", "ab".repeat(32))).is_ok()
        );
    }
}
