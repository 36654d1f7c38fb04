#![allow(clippy::unwrap_used)]
//! The login policy of the management plane, in memory and over a real telnet listener on
//! 127.0.0.1: idle connections cannot take the lines operators need, an unknown user costs the
//! same password hash as a wrong password (counted, not timed), repeated failures from one
//! source block it (IOS `login block-for`) with audited messages, and a connection that does
//! not log in in time is closed.

use rib::topology::Topology;
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::telnet::TelnetParser;
use shell::ShellContext;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn topology() -> Topology {
    rib::topology::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron"))
        .expect("default topology loads")
}

fn context_with(f: impl FnOnce(&mut ShellContext)) -> Arc<ShellContext> {
    let rib = RibHandle::spawn(topology()).expect("rib starts");
    let mut ctx = ShellContext::new(rib);
    f(&mut ctx);
    Arc::new(ctx)
}

fn log_text(ctx: &ShellContext) -> String {
    ctx.audit.entries().iter().map(|e| e.render() + "\n").collect()
}

#[test]
fn unknown_user_costs_the_same_hash_as_a_wrong_password() {
    let ctx = context_with(|_| {});
    let mut s = Session::new(ctx.clone(), "vty 0", "10.7.0.1:1000");
    let (calls0, iters0) = (ctx.throttle.hash_calls(), ctx.throttle.hash_iterations());
    assert!(matches!(s.login("admin", "wrong"), LoginResult::Failed { .. }));
    let (calls1, iters1) = (ctx.throttle.hash_calls(), ctx.throttle.hash_iterations());
    assert!(matches!(s.login("no-such-user", "wrong"), LoginResult::Failed { .. }));
    let (calls2, iters2) = (ctx.throttle.hash_calls(), ctx.throttle.hash_iterations());
    assert_eq!(calls1 - calls0, 1, "a wrong password runs one hash");
    assert_eq!(calls2 - calls1, 1, "an unknown user runs one hash too");
    assert!(iters1 - iters0 >= 1000, "a real PBKDF2 ran: {} iterations", iters1 - iters0);
    assert_eq!(iters2 - iters1, iters1 - iters0, "the same PBKDF2 work for an unknown user");
    // And the audit names both attempts with user and source.
    let log = log_text(&ctx);
    assert!(log.contains("Login failed [user: admin] [Source: 10.7.0.1:1000]"), "{log}");
    assert!(log.contains("Login failed [user: no-such-user] [Source: 10.7.0.1:1000]"), "{log}");
}

#[test]
fn brute_force_from_one_source_is_blocked_and_audited() {
    let ctx = context_with(|_| {});
    let mut attacker = Session::new(ctx.clone(), "vty 1", "10.7.0.2:2000");
    for i in 0..5 {
        assert!(matches!(attacker.login("admin", &format!("guess{i}")), LoginResult::Failed { .. }));
    }
    assert!(attacker.login_blocked().is_some_and(|d| d > Duration::from_secs(100)));
    // Blocked: even the right password is refused, and no hash is computed for it.
    let calls = ctx.throttle.hash_calls();
    let mut again = Session::new(ctx.clone(), "vty 2", "10.7.0.2:2001");
    assert!(matches!(again.login("admin", "vnswitch"), LoginResult::Failed { .. }));
    assert_eq!(ctx.throttle.hash_calls(), calls, "a blocked source costs no hash");
    // Another source is not affected.
    let mut other = Session::new(ctx.clone(), "vty 3", "10.7.0.3:3000");
    assert_eq!(other.login("admin", "vnswitch"), LoginResult::Ok);
    let log = log_text(&ctx);
    assert_eq!(
        log.matches("%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] [Source: 10.7.0.2:").count(),
        5
    );
    assert!(
        log.contains("%SEC_LOGIN-1-QUIET_MODE_ON: Blocking logins from 10.7.0.2 for 120 seconds: 5 failed logins within 60 seconds [user: admin] [Source: 10.7.0.2:2000]"),
        "{log}"
    );
    assert!(
        log.contains("%SEC_LOGIN-4-LOGIN_BLOCKED: Login refused [user: admin] [Source: 10.7.0.2:2001]"),
        "{log}"
    );
    assert!(
        log.contains("%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: admin] [Source: 10.7.0.3:3000]"),
        "{log}"
    );
}

/// A minimal telnet client: reads (answering nothing) until `pat` shows up in the data.
fn read_until(s: &mut TcpStream, pat: &str, within: Duration) -> Result<String, String> {
    let mut parser = TelnetParser::new();
    let mut text = Vec::new();
    let until = Instant::now() + within;
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 4096];
    while Instant::now() < until {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut reply = Vec::new();
                let _ = parser.input(&buf[..n], &mut text, &mut reply);
                if String::from_utf8_lossy(&text).contains(pat) {
                    return Ok(String::from_utf8_lossy(&text).into_owned());
                }
            }
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    Err(format!("no {pat:?} in {:?}", String::from_utf8_lossy(&text)))
}

fn telnet_login(port: u16, user: &str, pass: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    read_until(&mut s, "Username: ", Duration::from_secs(20))?;
    s.write_all(format!("{user}\r\n").as_bytes()).map_err(|e| e.to_string())?;
    read_until(&mut s, "Password: ", Duration::from_secs(20))?;
    s.write_all(format!("{pass}\r\n").as_bytes()).map_err(|e| e.to_string())?;
    let out = read_until(&mut s, "vnswitch#", Duration::from_secs(20))?;
    s.write_all(b"show privilege\r\n").map_err(|e| e.to_string())?;
    read_until(&mut s, "Current privilege level is 15", Duration::from_secs(20)).map(|o| out + &o)
}

#[test]
fn idle_connections_do_not_lock_out_a_real_login() {
    let ctx = context_with(|_| {});
    let server = shell::spawn_telnet(ctx.clone(), "127.0.0.1:0").unwrap();
    let port = server.local_addr().port();
    // More idle connections than there are session lines (64) and pending slots (32).
    let idle: Vec<TcpStream> = (0..100).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = telnet_login(port, "admin", "vnswitch");
    assert!(out.is_ok(), "real login after 100 idle connections: {out:?}");
    // The oldest idle connections were told why they were closed.
    let mut first = idle.into_iter().next().unwrap();
    let bye = read_until(&mut first, "too many connections are waiting to log in", Duration::from_secs(5));
    assert!(bye.is_ok(), "{bye:?}");
    assert!(log_text(&ctx).contains("LOGIN_EVICTED"));
    server.stop();
}

#[test]
fn a_connection_that_does_not_log_in_in_time_is_closed() {
    let ctx = context_with(|c| c.throttle.login_timeout = Duration::from_secs(1));
    let server = shell::spawn_telnet(ctx.clone(), "127.0.0.1:0").unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", server.local_addr().port())).unwrap();
    // Typing slowly does not extend the login deadline.
    s.write_all(b"adm").unwrap();
    let out = read_until(&mut s, "% Login timed out after 1 seconds", Duration::from_secs(10));
    assert!(out.is_ok(), "{out:?}");
    // The audit line may land just after the client saw the message.
    let want = "%SEC_LOGIN-4-LOGIN_TIMEOUT: Login timed out after 1 seconds [user: ] [Source: 127.0.0.1:";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !log_text(&ctx).contains(want) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(log_text(&ctx).contains(want), "{}", log_text(&ctx));
    server.stop();
}

#[test]
fn brute_force_over_telnet_sees_the_block() {
    let ctx = context_with(|c| {
        c.throttle.base = Duration::from_millis(1);
        c.throttle.max = Duration::from_millis(1);
    });
    let server = shell::spawn_telnet(ctx.clone(), "127.0.0.1:0").unwrap();
    let port = server.local_addr().port();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut transcript = String::new();
    for i in 0..3 {
        transcript += &read_until(&mut s, "Username: ", Duration::from_secs(20)).unwrap();
        s.write_all(b"admin\r\n").unwrap();
        transcript += &read_until(&mut s, "Password: ", Duration::from_secs(20)).unwrap();
        s.write_all(format!("guess{i}\r\n").as_bytes()).unwrap();
    }
    transcript += &read_until(&mut s, "% Bad passwords", Duration::from_secs(20)).unwrap();
    // Two more failures on a second connection reach 5: the block starts.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    for i in 3..5 {
        read_until(&mut s, "Username: ", Duration::from_secs(20)).unwrap();
        s.write_all(b"admin\r\n").unwrap();
        read_until(&mut s, "Password: ", Duration::from_secs(20)).unwrap();
        s.write_all(format!("guess{i}\r\n").as_bytes()).unwrap();
    }
    let out = read_until(
        &mut s,
        "% Login blocked: too many failed logins from your address",
        Duration::from_secs(20),
    );
    assert!(out.is_ok(), "{out:?}");
    // The right password from the same address is refused before any prompt.
    let refused = telnet_login(port, "admin", "vnswitch");
    assert!(refused.as_ref().is_err_and(|e| e.contains("% Login blocked")), "{refused:?}");
    assert!(log_text(&ctx).contains("%SEC_LOGIN-1-QUIET_MODE_ON: Blocking logins from 127.0.0.1"));
    server.stop();
}

#[test]
fn the_local_console_is_never_blocked() {
    let ctx = context_with(|c| c.throttle.base = Duration::from_millis(1));
    let mut s = Session::new(ctx.clone(), "con 0", "console");
    for i in 0..8 {
        assert!(matches!(s.login("admin", &format!("typo{i}")), LoginResult::Failed { .. }));
    }
    assert_eq!(s.login_blocked(), None);
    assert_eq!(s.login("admin", "vnswitch"), LoginResult::Ok);
    assert!(!log_text(&ctx).contains("QUIET_MODE_ON"));
}
