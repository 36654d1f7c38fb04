//! vnswitch operator shell: one IOS-style command tree shared by the local console
//! (`rustyline`) and remote telnet sessions; logins, privileges, tenant-scoped views and an
//! audit log.
//!
//! CONTRACT (called by the binary): `ShellContext`, `run_console`, `spawn_telnet`.
