#![allow(clippy::unwrap_used)]
//! The SSH front end in process: [`serve_ssh_stream`] (the in-band manager's entry point) over
//! a `VtyStream` that is one end of a loopback TCP connection, driven by the `russh` client.
//! Password login (a wrong one audited first), public keys refused, a pty shell whose paging
//! follows the pty's height and a window-change, `show ip route vrf z`, then `exit` (exit
//! status 0, channel closed); `exec` with exit status 0, and 1 when every line is taken; three wrong passwords end the
//! connection; a connection that does not log in in time is closed and audited, and one
//! waiting to log in is evicted by a newer one when too many wait; the host key
//! file (generated once, 0600, reused, garbage refused).

use rib::topology::Topology;
use rib::RibHandle;
use russh::client;
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Disconnect};
use shell::ssh::{load_or_create_host_key, serve_ssh_stream, SshServer};
use shell::vty::VtyOptions;
use shell::ShellContext;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn topology() -> Topology {
    rib::topology::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron"))
        .expect("default topology loads")
}

fn log_text(ctx: &ShellContext) -> String {
    ctx.audit.entries().iter().map(|e| e.render() + "\n").collect()
}

/// An SSH server over an in-band-style stream: a loopback TCP listener whose accepted
/// connections go to `serve_ssh_stream` on their own thread, as the in-band manager does.
struct Rig {
    ctx: Arc<ShellContext>,
    port: u16,
    _dir: tempfile::TempDir,
}

fn rig() -> Rig {
    rig_with(|_| {})
}

fn rig_with(f: impl FnOnce(&mut ShellContext)) -> Rig {
    let mut ctx = ShellContext::new(RibHandle::spawn(topology()).expect("rib starts"));
    f(&mut ctx);
    let ctx = Arc::new(ctx);
    let dir = tempfile::tempdir().unwrap();
    let (key, created) = load_or_create_host_key(&dir.path().join("key")).unwrap();
    assert!(created);
    let server = Arc::new(SshServer::new(ctx.clone(), key).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(stream) = conn else { continue };
            stream.set_read_timeout(Some(Duration::from_millis(250))).unwrap();
            stream.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
            let peer = stream.peer_addr().unwrap().to_string();
            let server = server.clone();
            std::thread::spawn(move || {
                let opts = VtyOptions { line: format!("vty-J {n}"), peer, telnet: false, scope: None };
                serve_ssh_stream(&server, Box::new(stream), opts);
            });
        }
    });
    Rig { ctx, port, _dir: dir }
}

struct Client;

impl client::Handler for Client {
    type Error = russh::Error;
    async fn check_server_key(
        &mut self,
        _: &russh::keys::PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

async fn connect(port: u16) -> client::Handle<Client> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let config = Arc::new(client::Config::default());
    client::connect_stream(config, tcp, Client).await.unwrap()
}

/// Reads channel data until `pattern` shows up (or the channel ends / 20 s pass).
async fn read_until(channel: &mut russh::Channel<client::Msg>, acc: &mut String, pattern: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !acc.contains(pattern) {
        match tokio::time::timeout_at(deadline, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => acc.push_str(&String::from_utf8_lossy(&data)),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => return false,
        }
    }
    true
}

#[test]
fn shell_over_an_inband_stream() {
    let rig = rig();
    let rt = runtime();
    rt.block_on(async {
        let mut session = connect(rig.port).await;
        // Public keys are refused.
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&[7u8; 32]));
        let r = session
            .authenticate_publickey("admin", PrivateKeyWithHashAlg::new(Arc::new(key), None))
            .await
            .unwrap();
        assert!(!r.success(), "public key refused");
        // A wrong password, then the right one.
        let r = session.authenticate_password("admin", "wrong").await.unwrap();
        assert!(!r.success());
        let r = session.authenticate_password("admin", "vnswitch").await.unwrap();
        assert!(r.success());
        let mut channel = session.channel_open_session().await.unwrap();
        channel.request_pty(true, "xterm", 80, 8, 0, 0, &[]).await.unwrap();
        channel.request_shell(true).await.unwrap();
        let mut out = String::new();
        assert!(read_until(&mut channel, &mut out, "vnswitch#").await, "prompt: {out:?}");
        // Paging follows the pty's height: 8 rows, 7 lines then --More--; after a
        // window-change to 5 rows, 4 lines.
        for rows in [8usize, 5] {
            if rows == 5 {
                channel.window_change(80, 5, 0, 0).await.unwrap();
            }
            out.clear();
            channel.data_bytes(&b"show ip route vrf z\r"[..]).await.unwrap();
            assert!(read_until(&mut channel, &mut out, " --More-- ").await, "{out:?}");
            let page = out.split("show ip route vrf z\r\n").nth(1).unwrap_or("");
            assert_eq!(page.matches("\r\n").count(), rows - 1, "{rows} rows: {out:?}");
            channel.data_bytes(&b"q"[..]).await.unwrap();
            assert!(read_until(&mut channel, &mut out, "vnswitch#").await, "{out:?}");
        }
        channel.data_bytes(&b"terminal length 0\r"[..]).await.unwrap();
        assert!(
            read_until(&mut channel, &mut out, "vnswitch#terminal length 0\r\nvnswitch#").await,
            "{out:?}"
        );
        channel.data_bytes(&b"show ip route vrf z\r"[..]).await.unwrap();
        assert!(
            read_until(
                &mut channel,
                &mut out,
                "L        192.168.100.2/32 is directly connected, Gi0/1\r\nvnswitch#"
            )
            .await,
            "{out:?}"
        );
        assert!(out.contains("\r\nC        10.0.0.0/24 is directly connected, Gi0/0\r\n"), "{out:?}");
        assert!(out.contains("Routing Table: z (logical router J)"), "{out:?}");
        // `exit`: exit status 0, EOF and close of the channel.
        channel.data_bytes(&b"exit\r"[..]).await.unwrap();
        let (mut status, mut closed) = (None, false);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, channel.wait()).await {
            match msg {
                ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
                ChannelMsg::Close => {
                    closed = true;
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(status, Some(0));
        assert!(closed, "channel closed after exit");
        let _ = session.disconnect(Disconnect::ByApplication, "", "").await;
    });
    let log = log_text(&rig.ctx);
    assert!(log.contains("Login failed [user: admin] [Source: 127.0.0.1:"), "{log}");
    assert!(log.contains("Login Success [user: admin] [Source: 127.0.0.1:"), "{log}");
    assert!(log.contains("[line: vty-J 0]"), "{log}");
    assert!(log.contains("User admin has exited tty session vty-J 0 (logout)"), "{log}");
}

#[test]
fn exec_returns_output_and_status_zero() {
    let rig = rig();
    let rt = runtime();
    let (text, status) = rt.block_on(exec(rig.port, "show version"));
    assert_eq!(status, Some(0), "{text}");
    assert!(text.starts_with("vnswitch Software (vnswitch-"), "{text:?}");
    assert!(text.contains("\nConfiguration register is 0x0\n"), "LF without a pty: {text:?}");
    assert!(!text.contains('\r'), "{text:?}");
}

/// Runs `command` by exec on a new connection: (output, exit status).
async fn exec(port: u16, command: &str) -> (String, Option<u32>) {
    let mut session = connect(port).await;
    assert!(session.authenticate_password("admin", "vnswitch").await.unwrap().success());
    let mut channel = session.channel_open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    let (mut text, mut status) = (String::new(), None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, channel.wait()).await {
        match msg {
            ChannelMsg::Data { data } => text.push_str(&String::from_utf8_lossy(&data)),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    (text, status)
}

#[test]
fn exec_needs_a_free_line() {
    let rig = rig_with(|ctx| ctx.max_sessions = 1);
    let rt = runtime();
    rt.block_on(async {
        // A shell takes the only line.
        let mut session = connect(rig.port).await;
        assert!(session.authenticate_password("admin", "vnswitch").await.unwrap().success());
        let mut channel = session.channel_open_session().await.unwrap();
        channel.request_shell(true).await.unwrap();
        let mut out = String::new();
        assert!(read_until(&mut channel, &mut out, "vnswitch#").await, "{out:?}");
        let (text, status) = exec(rig.port, "show version").await;
        assert_eq!((text.as_str(), status), ("% All vty lines are busy, try again later\n", Some(1)));
        // The shell leaves: the line is free again.
        channel.data_bytes(&b"exit\r"[..]).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, channel.wait()).await {
            if matches!(msg, ChannelMsg::Close) {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (text, status) = exec(rig.port, "show version").await;
        assert_eq!(status, Some(0), "{text}");
        assert!(text.starts_with("vnswitch Software"), "{text}");
    });
}

#[test]
fn three_wrong_passwords_end_the_connection() {
    let rig = rig();
    let rt = runtime();
    rt.block_on(async {
        let mut session = connect(rig.port).await;
        for i in 0..3 {
            let r = session.authenticate_password("admin", format!("guess{i}")).await.unwrap();
            assert!(!r.success());
            // Password stays on offer until the last attempt.
            let left = match r {
                client::AuthResult::Failure { remaining_methods, .. } => remaining_methods.len(),
                client::AuthResult::Success => 99,
            };
            assert_eq!(left, usize::from(i < 2), "attempt {i}");
        }
        // A fourth attempt on the same connection is not checked: the connection ends.
        let r = session.authenticate_password("admin", "vnswitch").await;
        assert!(!matches!(r, Ok(ref a) if a.success()), "{r:?}");
    });
    let log = log_text(&rig.ctx);
    assert_eq!(log.matches("Login failed [user: admin]").count(), 3, "{log}");
    assert!(!log.contains("Login Success"), "{log}");
}

#[test]
fn a_connection_that_does_not_log_in_in_time_is_closed_and_audited() {
    let rig = rig_with(|ctx| ctx.throttle.login_timeout = Duration::from_secs(1));
    let rt = runtime();
    let t0 = std::time::Instant::now();
    let closed = rt.block_on(async {
        let session = connect(rig.port).await;
        // Key exchange done, no authentication: the server hangs up after the login timeout.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !session.is_closed() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        session.is_closed()
    });
    assert!(closed, "connection closed");
    assert!(t0.elapsed() >= Duration::from_millis(900), "{:?}", t0.elapsed());
    let log = log_text(&rig.ctx);
    assert!(log.contains("LOGIN_TIMEOUT"), "{log}");
    assert!(log.contains("Login timed out after 1 seconds [user: ] [Source: 127.0.0.1:"), "{log}");
}

#[test]
fn a_newer_connection_evicts_one_waiting_to_log_in() {
    let rig = rig_with(|ctx| ctx.throttle.pending_max = 1);
    let rt = runtime();
    rt.block_on(async {
        let idle = connect(rig.port).await;
        let mut newer = connect(rig.port).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !idle.is_closed() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(idle.is_closed(), "the older idle connection was closed");
        assert!(newer.authenticate_password("admin", "vnswitch").await.unwrap().success());
    });
    let log = log_text(&rig.ctx);
    assert!(log.contains("LOGIN_EVICTED"), "{log}");
    assert!(
        log.contains("1 connections waiting to log in: the least recently active one was closed"),
        "{log}"
    );
    assert_eq!(rig.ctx.lines.pending(), 0, "the logged-in connection no longer counts as pending");
}

#[test]
fn host_key_file_is_made_once_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.ssh_host_ed25519_key");
    let (k1, created) = load_or_create_host_key(&path).unwrap();
    assert!(created);
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----\n"), "{text}");
    let (k2, created) = load_or_create_host_key(&path).unwrap();
    assert!(!created);
    assert_eq!(k1.public_key(), k2.public_key());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "not rewritten");
    // No temporary file left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    // Garbage is an error naming the file, not a new key.
    std::fs::write(&path, "not a key").unwrap();
    let err = load_or_create_host_key(&path).err().unwrap().to_string();
    assert!(err.contains("lab.ssh_host_ed25519_key"), "{err}");
    assert_eq!(
        shell::ssh::default_host_key_path(Path::new("/etc/vnswitch/lab1.ron")),
        Path::new("/etc/vnswitch/lab1.ssh_host_ed25519_key")
    );
}
