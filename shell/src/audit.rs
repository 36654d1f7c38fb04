//! The shell's log buffer: refused logins and commands, logins, logouts and configuration
//! changes, each with time, user and source address. Administrators read it with
//! `show logging`; it is bounded (oldest entries go first).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::SystemTime;

/// Most entries kept.
pub const AUDIT_CAPACITY: usize = 1000;

/// Severity as IOS numbers it (`%SEC_LOGIN-4-...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Alert = 1,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// One log entry.
#[derive(Clone, Debug)]
pub struct AuditEntry {
    /// Sequence number (1-based).
    pub seq: u64,
    pub time: SystemTime,
    /// Facility-MNEMONIC, e.g. `PARSER-4-DENIED`.
    pub facility: &'static str,
    pub mnemonic: &'static str,
    pub severity: Severity,
    pub user: String,
    pub source: String,
    pub message: String,
}

impl AuditEntry {
    /// The line `show logging` prints, IOS style:
    /// `000012: Mar 19 03:02:31.123 UTC: %PARSER-4-DENIED: user z-ops from 127.0.0.1: ...`.
    pub fn render(&self) -> String {
        format!(
            "{:06}: {}: %{}-{}-{}: {}",
            self.seq,
            crate::clock::log_timestamp(self.time),
            self.facility,
            self.severity as u8,
            self.mnemonic,
            self.message_with_origin()
        )
    }
    fn message_with_origin(&self) -> String {
        if self.message.contains("[user: ") {
            return self.message.clone(); // Login messages carry their origin already.
        }
        format!("{} [user: {}] [Source: {}]", self.message, self.user, self.source)
    }
}

/// The bounded, shared log.
pub struct AuditLog {
    inner: Mutex<(u64, VecDeque<AuditEntry>)>,
}

impl Default for AuditLog {
    fn default() -> Self {
        Self::new()
    }
}

impl AuditLog {
    pub fn new() -> AuditLog {
        AuditLog { inner: Mutex::new((0, VecDeque::new())) }
    }

    /// Appends an entry.
    pub fn log(
        &self,
        facility: &'static str,
        severity: Severity,
        mnemonic: &'static str,
        user: &str,
        source: &str,
        message: impl Into<String>,
    ) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        let entry = AuditEntry {
            seq: g.0,
            time: SystemTime::now(),
            facility,
            mnemonic,
            severity,
            user: sanitize(user),
            source: sanitize(source),
            message: sanitize(&message.into()),
        };
        if g.1.len() >= AUDIT_CAPACITY {
            g.1.pop_front();
        }
        g.1.push_back(entry);
    }

    /// A refused command or view (privilege or tenant scope).
    pub fn refused(&self, user: &str, source: &str, what: &str) {
        self.log("PARSER", Severity::Warning, "DENIED", user, source, format!("Refused command: {what}"));
    }

    /// A copy of the entries, oldest first.
    pub fn entries(&self) -> Vec<AuditEntry> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).1.iter().cloned().collect()
    }

    /// Total entries ever logged.
    pub fn total(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

/// Keeps printable ASCII only, so a hostile user name cannot inject terminal escapes into an
/// administrator's `show logging`.
fn sanitize(s: &str) -> String {
    s.chars().take(200).map(|c| if (' '..='~').contains(&c) { c } else { '?' }).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_sanitized() {
        let log = AuditLog::new();
        for i in 0..(AUDIT_CAPACITY + 5) {
            log.refused("z-ops\x1b[2J", "127.0.0.1:5", &format!("show ip route vrf y {i}"));
        }
        let e = log.entries();
        assert_eq!(e.len(), AUDIT_CAPACITY);
        assert_eq!(e[0].seq, 6);
        assert_eq!(e[0].user, "z-ops?[2J");
        assert!(e[0].render().contains("%PARSER-4-DENIED: Refused command: show ip route vrf y 5"));
    }
}
