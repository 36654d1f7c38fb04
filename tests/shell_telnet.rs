//! End-to-end shell tests: the real `vnswitch` binary (in-memory ports, no root needed) driven
//! by the real `telnet` client through `expect` scripts, and its console through a pipe.
//! Logins, abbreviations, `?`, Tab, carets, paging, tenant refusals in the admin's log, 32
//! concurrent sessions, the idle timeout, bad input, and console/telnet output equality.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running appliance; killed on drop.
struct Appliance {
    child: Child,
    port: u16,
    /// The SSH listener's port.
    ssh_port: u16,
    stdout: Arc<Mutex<String>>,
    /// Holds the SSH host key.
    _key_dir: tempfile::TempDir,
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn root_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tools_present() {
    for tool in ["expect", "telnet"] {
        let ok = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "`{tool}` is required by the shell tests: run scripts/setup (apt-get install expect telnet)"
        );
    }
}

/// Starts `vnswitch run TOPOLOGY --ports mem --telnet 127.0.0.1:0 --ssh 127.0.0.1:0` (console
/// on a pipe when `console` is set, else `--no-console`) and waits for the telnet and SSH ports.
fn start(topology: &Path, console: bool) -> Appliance {
    tools_present();
    let key_dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vnswitch"));
    cmd.arg("run").arg(topology).args(["--ports", "mem", "--telnet", "127.0.0.1:0", "--ssh", "127.0.0.1:0"]);
    cmd.args(["--metrics", "off", "--ssh-host-key"]).arg(key_dir.path().join("host_key"));
    if !console {
        cmd.arg("--no-console");
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("vnswitch starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    let (ssh_tx, ssh_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("telnet: listening on ") {
                let _ = tx.send(addr.to_string());
            }
            if let Some(rest) = line.strip_prefix("ssh: listening on ") {
                let _ = ssh_tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let stdout_buf = Arc::new(Mutex::new(String::new()));
    let out = child.stdout.take().expect("stdout");
    let buf = stdout_buf.clone();
    std::thread::spawn(move || {
        let mut out = out;
        let mut chunk = [0u8; 4096];
        while let Ok(n) = out.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("telnet listener address on stderr");
    let port = addr.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port");
    let ssh = ssh_rx.recv_timeout(Duration::from_secs(60)).expect("ssh listener address on stderr");
    let ssh_port = ssh.rsplit(':').next().and_then(|p| p.parse().ok()).expect("ssh port");
    Appliance { child, port, ssh_port, stdout: stdout_buf, _key_dir: key_dir }
}

fn default_topology() -> PathBuf {
    root_dir().join("topologies/default.ron")
}

/// Runs an expect script (with `@PORT@` replaced) and returns its exit code and what the
/// telnet client showed, with CR LF turned into LF.
fn expect(port: u16, script: &str) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.exp");
    // expect_after binds to the current spawn id, so it goes right after `spawn`.
    let spawn = format!("spawn telnet 127.0.0.1 {port}\n");
    let guarded = format!(
        "{spawn}expect_after {{\n  timeout {{ puts \"\\nEXPECT-TIMEOUT\"; exit 2 }}\n  eof {{ puts \"\\nEXPECT-EOF\"; exit 3 }}\n}}\n"
    );
    let body = script.replace("spawn telnet 127.0.0.1 @PORT@\n", &guarded);
    std::fs::write(&path, format!("set timeout 15\n{body}")).expect("write script");
    let out = Command::new("expect").arg("-f").arg(&path).stdin(Stdio::null()).output().expect("expect runs");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out.status.code().unwrap_or(-1), text)
}

const LOGIN_ADMIN: &str = r#"
spawn telnet 127.0.0.1 @PORT@
expect "Username: "
send "admin\r"
expect "Password: "
send "vnswitch\r"
expect "vnswitch#"
"#;

#[test]
fn admin_over_telnet() {
    let app = start(&default_topology(), false);
    let script = LOGIN_ADMIN.to_string()
        + r#"
send "terminal length 0\r"
expect "vnswitch#"
send "show ip route vrf z\r"
expect -re "L        192.168.100.2/32 is directly connected, Gi0/1\r\nvnswitch#"
send "sh int\r"
expect -re "b is up.*interface resets\r\nvnswitch#"
send "show ip ?"
expect "vnswitch#show ip "
send "\025conf\t"
expect "configure "
send "\025show ip foo\r"
expect "marker."
expect "vnswitch#"
send "sh\r"
expect "vnswitch#"
send "terminal length 6\r"
expect "vnswitch#"
send "show ip route vrf z\r"
expect " --More-- "
send "q"
expect "vnswitch#"
send "exit\r"
expect eof
"#;
    let (code, out) = expect(app.port, &script);
    assert_eq!(code, 0, "{out}");
    // The route table lists both subnets of tenant z, from each logical router.
    assert!(out.contains("\nC        10.0.0.0/24 is directly connected, Gi0/0\n"), "{out}");
    assert!(out.contains("\nC        10.1.5.0/24 is directly connected, Gi0/0\n"), "{out}");
    assert!(out.contains("\nO        10.1.5.0/24 [110/10] via 192.168.100.2, "), "{out}");
    assert!(out.contains("\nGateway of last resort is not set\n"));
    // `sh int` abbreviated.
    assert!(
        out.contains("vnswitch#sh int\na is up, line protocol is up \n  Hardware is vnswitch AF_XDP port"),
        "{out}"
    );
    // `?` after `show ip` lists `route` with its help, then the line comes back.
    assert!(out.contains("vnswitch#show ip ?\n  arp        ARP table\n  flow       NetFlow switching\n  interface  IP interface status and configuration\n  redirect   Destination redirects\n  route      IP routing table\nvnswitch#show ip "), "{out}");
    // Tab completed `conf` to `configure ` (echoed after the erase of `conf`).
    assert!(out.contains("conf\x08\x08\x08\x08    \x08\x08\x08\x08configure "), "{out:?}");
    // Caret under `foo`: prompt (9) + column 8.
    assert!(
        out.contains(&format!(
            "show ip foo\n{}^\n% Invalid input detected at '^' marker.\n\nvnswitch#",
            " ".repeat(17)
        )),
        "{out}"
    );
    assert!(out.contains("vnswitch#sh\n% Incomplete command.\n\nvnswitch#"));
    // Paging: 5 lines, then --More--, q stops.
    let out = out.split("vnswitch#terminal length 6\n").nth(1).expect("paging part").to_string();
    assert!(
        out.contains("vnswitch#show ip route vrf z\n\nRouting Table: z (logical router J)\nCodes: L - local"),
        "{out}"
    );
    assert!(
        out.contains(
            "inter area \n       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2\n --More-- "
        ),
        "{out}"
    );
    assert!(!out.contains("Routing Table: z (logical router L)"), "paging stopped at q: {out}");
}

#[test]
fn tenant_refusal_is_logged_for_admin() {
    let app = start(&default_topology(), false);
    let zops = r#"
spawn telnet 127.0.0.1 @PORT@
expect "Username: "
send "z-ops\r"
expect "Password: "
send "z-ops\r"
expect "vnswitch#"
send "terminal length 0\r"
expect "vnswitch#"
send "show ip route vrf y\r"
expect "vnswitch#"
send "show ip interface brief\r"
expect "vnswitch#"
send "show ip route vrf z\r"
expect "vnswitch#"
send "logout\r"
expect eof
"#;
    let (code, out) = expect(app.port, zops);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("show ip route vrf y\n% Access denied: vrf y is not in your scope.\n"), "{out}");
    assert!(!out.contains("\nb    "), "z-ops never sees port b: {out}");
    assert!(out.contains("Routing Table: z (logical router J)"));
    let admin = LOGIN_ADMIN.to_string()
        + r#"
send "terminal length 0\r"
expect "vnswitch#"
send "show logging | include DENIED\r"
expect "vnswitch#"
send "exit\r"
expect eof
"#;
    let (code, out) = expect(app.port, &admin);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("%PARSER-4-DENIED: Refused command: 'show ip route vrf y' (vrf y outside the scope of user z-ops) [user: z-ops] [Source: 127.0.0.1:"),
        "{out}"
    );
}

#[test]
fn thirty_two_sessions_at_once() {
    let app = start(&default_topology(), false);
    let script = LOGIN_ADMIN.to_string()
        + r#"
send "terminal length 0\r"
expect "vnswitch#"
for {set i 0} {$i < 5} {incr i} {
  send "show interfaces counters\r"
  expect -re "OutBcastPkts \r\na .*\r\nb .*\r\nvnswitch#"
}
send "exit\r"
expect eof
"#;
    let port = app.port;
    let handles: Vec<_> = (0..32)
        .map(|_| {
            let s = script.clone();
            std::thread::spawn(move || expect(port, &s))
        })
        .collect();
    for h in handles {
        let (code, out) = h.join().expect("thread");
        assert_eq!(code, 0, "{out}");
        assert_eq!(out.matches("InOctets").count(), 5, "{out}");
        assert!(!out.contains("% "), "no errors: {out}");
    }
}

#[test]
fn idle_session_is_logged_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short-timeout.ron");
    let text = std::fs::read_to_string(default_topology()).expect("read");
    let text = text.replace("exec_timeout_secs: 600", "exec_timeout_secs: 2");
    assert!(text.contains("exec_timeout_secs: 2"));
    std::fs::write(&path, text).expect("write");
    let app = start(&path, false);
    let script = LOGIN_ADMIN.to_string()
        + r#"
set timeout 10
expect "idle timeout"
expect eof
"#;
    let t0 = Instant::now();
    let (code, out) = expect(app.port, &script);
    assert_eq!(code, 0, "{out}");
    assert!(t0.elapsed() >= Duration::from_secs(2));
    assert!(out.contains("% Session idle timeout: logged out."), "{out}");
    assert!(out.contains("Connection closed by foreign host."), "{out}");
}

#[test]
fn bad_input_ends_only_that_session() {
    let app = start(&default_topology(), false);
    let addr = format!("127.0.0.1:{}", app.port);
    let read_all = |s: &mut TcpStream| {
        let mut all = Vec::new();
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    };
    // Binary garbage at the username prompt.
    let mut s = TcpStream::connect(&addr).expect("connect");
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 120 + 128) as u8).collect();
    s.write_all(&garbage).expect("write");
    let out = read_all(&mut s);
    assert!(out.contains("% Closing session: binary or control input."), "{out}");
    // A broken subnegotiation.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.write_all(&[255, 250, 31, 0, 80, 255, 7]).expect("write");
    let out = read_all(&mut s);
    assert!(out.contains("% Closing session: broken telnet sequence"), "{out}");
    // An over-long line.
    let mut s = TcpStream::connect(&addr).expect("connect");
    s.write_all(&vec![b'x'; 5000]).expect("write");
    let out = read_all(&mut s);
    assert!(out.contains("% Closing session: line longer than 1024 characters."), "{out}");
    // The server goes on.
    let (code, out) = expect(
        app.port,
        &(LOGIN_ADMIN.to_string()
            + "send \"show privilege\\r\"\nexpect \"level is 15\"\nsend \"exit\\r\"\nexpect eof\n"),
    );
    assert_eq!(code, 0, "{out}");
}

/// Output of `cmd` between its echo and the next prompt.
fn output_of(text: &str, prompt: &str, cmd: &str) -> String {
    let start_pat = format!("{prompt}{cmd}\n");
    let start =
        text.find(&start_pat).map(|i| i + start_pat.len()).unwrap_or_else(|| panic!("no {cmd} in {text}"));
    let rest = &text[start..];
    let end = rest.find(&format!("\n{prompt}")).map(|i| i + 1).unwrap_or(rest.len());
    // Route ages (hh:mm:ss) differ between the two runs by the time in between.
    let age = regex::Regex::new(r"\d\d:\d\d:\d\d").expect("regex");
    age.replace_all(&rest[..end], "AGE").into_owned()
}

#[test]
fn console_and_telnet_print_the_same() {
    let commands =
        ["show ip route vrf z", "show interfaces", "show ip interface brief", "show vrf", "show arp vrf z"];
    let mut app = start(&default_topology(), true);
    {
        let stdin = app.child.stdin.as_mut().expect("stdin");
        let mut input = String::from("admin\nvnswitch\nterminal length 0\n");
        for c in commands {
            input.push_str(c);
            input.push('\n');
        }
        input.push_str("exit\n");
        stdin.write_all(input.as_bytes()).expect("console input");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let console = loop {
        let text = app.stdout.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if text.contains("vnswitch#exit") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut script = LOGIN_ADMIN.to_string() + "send \"terminal length 0\\r\"\nexpect \"vnswitch#\"\n";
    for c in commands {
        script.push_str(&format!("send \"{c}\\r\"\nexpect \"vnswitch#\"\n"));
    }
    script.push_str("send \"exit\\r\"\nexpect eof\n");
    let (code, telnet) = expect(app.port, &script);
    assert_eq!(code, 0, "{telnet}");
    // The same session over SSH (OpenSSH client with a pty, password login).
    let ssh_script = script.replace(
        "spawn telnet 127.0.0.1 @PORT@\nexpect \"Username: \"\nsend \"admin\\r\"\n",
        &format!(
            "spawn ssh -tt -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o PubkeyAuthentication=no admin@127.0.0.1\nexpect_after {{\n  timeout {{ puts \"\\nEXPECT-TIMEOUT\"; exit 2 }}\n  eof {{ puts \"\\nEXPECT-EOF\"; exit 3 }}\n}}\n",
            app.ssh_port
        ),
    ).replace("expect \"Password: \"", "expect \"password: \"");
    assert!(ssh_script.contains("spawn ssh"), "{ssh_script}");
    let (code, ssh) = expect(app.port, &ssh_script);
    assert_eq!(code, 0, "{ssh}");
    for c in commands {
        let a = output_of(&console, "vnswitch#", c);
        let b = output_of(&telnet, "vnswitch#", c);
        let s = output_of(&ssh, "vnswitch#", c);
        assert!(!a.trim().is_empty(), "{c}: {console}");
        assert_eq!(a, b, "console and telnet differ for `{c}`");
        assert_eq!(a, s, "console and SSH differ for `{c}`");
    }
}

#[test]
fn console_on_a_terminal_has_help_completion_and_paging() {
    tools_present();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("console.exp");
    let script = r#"
set timeout 15
spawn @BIN@ run @TOPO@ --ports mem --telnet 127.0.0.1:0 --ssh off --metrics off
expect_after {
  timeout { puts "\nEXPECT-TIMEOUT"; exit 2 }
  eof { puts "\nEXPECT-EOF"; exit 3 }
}
expect "Username: "
send "admin\r"
expect "Password: "
send "vnswitch\r"
expect "vnswitch#"
send "show ip ?"
expect "route      IP routing table"
expect "vnswitch#show ip "
send "\025conf\t"
expect "configure "
send "t\r"
expect "vnswitch(config)#"
send "end\r"
expect "vnswitch#"
send "terminal length 5\r"
expect "vnswitch#"
send "show ip route vrf z\r"
expect " --More-- "
send "q"
expect "vnswitch#"
send "exit\r"
expect "console closed"
send "\003"
expect eof
"#
    .replace("@BIN@", env!("CARGO_BIN_EXE_vnswitch"))
    .replace("@TOPO@", &default_topology().display().to_string());
    std::fs::write(&path, script).expect("write script");
    let out = Command::new("expect").arg("-f").arg(&path).stdin(Stdio::null()).output().expect("expect runs");
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("  arp        ARP table\n  flow       NetFlow switching\n  interface  IP interface status and configuration\n  redirect   Destination redirects\n  route      IP routing table\n"), "{text}");
    assert!(text.contains("Enter configuration commands, one per line.  End with CNTL/Z."), "{text}");
    // The password is not echoed.
    assert!(!text.contains("Password: vnswitch"), "{text}");
}
