#![allow(clippy::unwrap_used)]
//! Shell core tests: command lines in, IOS text out, against a real RIB thread running the
//! default topology (plus test users): abbreviations, `?`, carets, errors, filters,
//! privileges, tenant scope and audit, aliases, Junos style, route changes, write memory.

use rib::topology::schema::{CliStyle, UserConfig, UserRole};
use rib::topology::Topology;
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::{hash_password, ShellContext};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron")
}

fn user(
    name: &str,
    pass: &str,
    role: UserRole,
    tenants: &[&str],
    privilege: u8,
    style: CliStyle,
) -> UserConfig {
    UserConfig {
        name: name.into(),
        password_hash: hash_password(pass),
        role,
        tenants: tenants.iter().map(|t| t.to_string()).collect(),
        privilege,
        cli_style: style,
        aliases: BTreeMap::new(),
    }
}

/// The default topology plus a show-only user `viewer`, a Junos-style `z-junos` and a
/// tenant-`y` operator.
fn topology() -> Topology {
    let mut t = rib::topology::load(&default_path()).expect("default topology loads");
    t.file.users.push(user("viewer", "view", UserRole::Admin, &[], 1, CliStyle::Ios));
    t.file.users.push(user("z-junos", "jj", UserRole::Tenant, &["z"], 15, CliStyle::Junos));
    t.file.users.retain(|u| u.name != "y-ops");
    t.file.users.push(user("y-ops", "yy", UserRole::Tenant, &["y"], 15, CliStyle::Ios));
    let path = t.path.clone();
    let mut t = Topology::from_file(t.file).expect("valid");
    t.path = path;
    t
}

fn context() -> Arc<ShellContext> {
    let rib = RibHandle::spawn(topology()).expect("rib starts");
    Arc::new(ShellContext::new(rib))
}

fn login(ctx: &Arc<ShellContext>, name: &str, pass: &str) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login(name, pass), LoginResult::Ok, "login {name}");
    s
}

fn run(s: &mut Session, line: &str) -> String {
    s.execute(line).text
}

#[test]
fn admin_route_table_and_abbreviations() {
    let ctx = context();
    let mut s = login(&ctx, "admin", "vnswitch");
    assert_eq!(s.prompt(), "vnswitch#");
    let full = run(&mut s, "show ip route vrf z");
    assert!(
        full.contains("\nRouting Table: z (logical router J)\nCodes: L - local, C - connected, S - static")
    );
    assert!(full.contains(
        "\nGateway of last resort is not set\n\n      10.0.0.0/8 is variably subnetted, 3 subnets, 2 masks\n"
    ));
    assert!(full.contains("\nC        10.0.0.0/24 is directly connected, Gi0/0\n"));
    assert!(full.contains("\nL        10.0.0.1/32 is directly connected, Gi0/0\n"));
    assert!(full.contains("\nO        10.1.5.0/24 [110/10] via 192.168.100.2, "));
    assert!(full.contains("\nC        10.1.5.0/24 is directly connected, Gi0/0\n"));
    // Abbreviated, same text.
    assert_eq!(run(&mut s, "sh ip ro vrf z"), full);
    assert_eq!(run(&mut s, "sh int"), run(&mut s, "show interfaces"));
    assert!(run(&mut s, "sh int a").starts_with("a is up, line protocol is up \n"));
    // Tenant y overlaps 10.0.0.0/24 but is its own table.
    let y = run(&mut s, "show ip route vrf y");
    assert!(y.contains("Routing Table: y\n") && !y.contains("10.1.5.0"));
}

#[test]
fn errors_are_ios_shaped() {
    let ctx = context();
    let mut s = login(&ctx, "admin", "vnswitch");
    // Prompt "vnswitch#" is 9 columns; "foo" starts at column 8 of the line.
    assert_eq!(
        run(&mut s, "show ip foo"),
        format!("{}^\n% Invalid input detected at '^' marker.\n\n", " ".repeat(9 + 8))
    );
    assert_eq!(run(&mut s, "show"), "% Incomplete command.\n\n");
    assert_eq!(run(&mut s, "show i"), "% Ambiguous command:  \"show i\"\n");
    assert_eq!(run(&mut s, ""), "");
    assert_eq!(
        run(&mut s, "show ip route | bogus x"),
        format!("{}^\n% Invalid input detected at '^' marker.\n\n", " ".repeat(9 + 16))
    );
    // In config mode the prompt is longer and the caret moves with it.
    run(&mut s, "conf t");
    assert_eq!(s.prompt(), "vnswitch(config)#");
    assert_eq!(
        run(&mut s, "ip bogus"),
        format!("{}^\n% Invalid input detected at '^' marker.\n\n", " ".repeat(17 + 3))
    );
}

#[test]
fn help_and_completion() {
    let ctx = context();
    let s = login(&ctx, "admin", "vnswitch");
    let h = s.help("show ip ");
    assert!(h.contains("  route      IP routing table\n"), "{h}");
    assert_eq!(s.help("sh"), "show  \n");
    assert!(s.help("show ip route vrf ").contains("  z  VPN Routing/Forwarding instance (tenant z)\n"));
    assert!(s.help("show ip route ").contains("  <cr>"));
    assert_eq!(s.complete("conf"), (0, vec!["configure".to_string()]));
    assert_eq!(s.complete("show ip route vrf ").1, vec!["y".to_string(), "z".to_string()]);
    assert_eq!(s.help("show bogus "), "% Unrecognized command\n");
}

#[test]
fn filters_and_terminal_length() {
    let ctx = context();
    let mut s = login(&ctx, "admin", "vnswitch");
    let inc = run(&mut s, "show ip route vrf z | include ^C ");
    assert_eq!(
        inc,
        "C        10.0.0.0/24 is directly connected, Gi0/0\nC        192.168.100.0/30 is directly connected, Gi0/1\n\
         C        10.1.5.0/24 is directly connected, Gi0/0\nC        192.168.100.0/30 is directly connected, Gi0/1\n"
    );
    assert_eq!(run(&mut s, "sh ip ro vrf z | count ^L"), "Number of lines which match regexp = 4\n");
    let ex = run(&mut s, "show ip interface brief | exclude ^Interface");
    assert_eq!(ex.lines().count(), 3);
    let begin = run(&mut s, "show running-config | begin interface h");
    assert!(begin.starts_with("interface h\n"));
    assert!(s.execute("show version").pageable);
    assert!(!s.execute("show bogus").pageable);
    run(&mut s, "terminal length 0");
    assert_eq!(s.state.term_length, Some(0));
    run(&mut s, "terminal no length");
    assert_eq!(s.state.term_length, None);
}

#[test]
fn privilege_one_sees_only_show() {
    let ctx = context();
    let mut s = login(&ctx, "viewer", "view");
    assert_eq!(s.prompt(), "vnswitch>");
    assert_eq!(run(&mut s, "show privilege"), "Current privilege level is 1\n");
    assert!(!s.help("").contains("configure"));
    assert!(run(&mut s, "configure terminal").contains("% Invalid input detected at '^' marker."));
    assert_eq!(run(&mut s, "enable"), "% Error in authentication.\n");
    let admin = login(&ctx, "admin", "vnswitch");
    drop(admin);
    let mut a = login(&ctx, "admin", "vnswitch");
    let log = run(&mut a, "show logging");
    assert!(log.contains("Refused command: 'configure terminal' (privilege 1 insufficient) [user: viewer] [Source: 127.0.0.1:40000]"), "{log}");
    assert!(log.contains("Refused command: 'enable' (user viewer limited to privilege 1)"));
}

#[test]
fn tenant_user_sees_only_its_tenant() {
    let ctx = context();
    let mut z = login(&ctx, "z-ops", "z-ops");
    let routes = run(&mut z, "show ip route");
    assert!(routes.contains("Routing Table: z (logical router J)") && !routes.contains("Routing Table: y"));
    let refused = run(&mut z, "show ip route vrf y");
    assert_eq!(refused, "% Access denied: vrf y is not in your scope.\n");
    // Interfaces, counters, brief, vrf, arp, running-config: only ports a and h, tenant z.
    let ints = run(&mut z, "show interfaces");
    assert!(ints.contains("a is up") && ints.contains("h is up") && !ints.contains("b is up"));
    let counters = run(&mut z, "show interfaces counters");
    assert!(!counters.lines().any(|l| l.starts_with("b ")));
    assert_eq!(run(&mut z, "show ip interface brief").lines().count(), 3);
    assert!(run(&mut z, "show interfaces b").starts_with("% Access denied: interface b"));
    let vrf = run(&mut z, "show vrf");
    assert!(vrf.contains("  z  ") && !vrf.contains("  y  "));
    assert!(run(&mut z, "show arp vrf y").starts_with("% Access denied"));
    let arp = run(&mut z, "show arp");
    assert!(arp.contains("10.1.5.7") && !arp.contains("0005.020b.27bb"));
    let rc = run(&mut z, "show running-config");
    assert!(
        rc.contains("vrf definition z") && !rc.contains("vrf definition y") && !rc.contains("interface b")
    );
    assert!(run(&mut z, "show logging").starts_with("% Access denied"));
    assert!(run(&mut z, "show processes").starts_with("% Access denied"));
    assert_eq!(z.complete("show ip route vrf ").1, vec!["z".to_string()]);
    assert!(!z.help("show interfaces ").contains("  b "));
    // Config: the tenant's own routes only.
    run(&mut z, "configure terminal");
    assert!(run(&mut z, "ip route vrf y 10.9.0.0 255.255.0.0 10.0.0.10").starts_with("% Access denied"));
    assert!(run(&mut z, "interface b").starts_with("% Access denied"));
    run(&mut z, "end");
    // Refusals are in the admin's log, with user and source.
    let mut a = login(&ctx, "admin", "vnswitch");
    let log = run(&mut a, "show logging");
    assert!(log.contains("%PARSER-4-DENIED: Refused command: 'show ip route vrf y' (vrf y outside the scope of user z-ops) [user: z-ops] [Source: 127.0.0.1:40000]"), "{log}");
    assert!(log.contains("'interface b' (interface b outside the scope of user z-ops)"));
}

#[test]
fn aliases_and_junos_style() {
    let ctx = context();
    let mut z = login(&ctx, "z-ops", "z-ops");
    // default.ron gives z-ops the alias rt = "show ip route".
    assert_eq!(run(&mut z, "rt"), run(&mut z, "show ip route"));
    assert_eq!(run(&mut z, "rt vrf z | count via"), run(&mut z, "show ip route vrf z | count via"));
    assert!(run(&mut z, "show aliases").contains("  rt                  show ip route\n"));
    let mut j = login(&ctx, "z-junos", "jj");
    let t = run(&mut j, "show route");
    assert!(t.contains("\nz-J.inet.0: 5 destinations, 5 routes (5 active, 0 holddown, 0 hidden)\n+ = Active Route, - = Last Active, * = Both\n\n"), "{t}");
    assert!(t.contains("\n10.0.0.0/24        *[Direct/0] "));
    assert!(t.contains("\n                    > to 192.168.100.2 via Gi0/1\n"));
    assert!(t.contains("\n                      Local via Gi0/0\n"));
    // The Junos user's `show ip route` uses the same style.
    assert_eq!(run(&mut j, "show ip route"), t);
    let terse = run(&mut j, "show interfaces terse");
    assert_eq!(
        terse,
        "Interface               Admin Link Proto    Local                 Remote\n\
         a                       up    up\n\
         a.0                     up    up   inet     10.0.0.1/24\n\
         h                       up    up\n\
         h.0                     up    up   inet     10.1.5.1/24\n"
    );
}

#[test]
fn modes_and_shutdown() {
    let ctx = context();
    let mut s = login(&ctx, "admin", "vnswitch");
    assert_eq!(
        run(&mut s, "configure terminal"),
        "Enter configuration commands, one per line.  End with CNTL/Z.\n"
    );
    run(&mut s, "interface b");
    assert_eq!(s.prompt(), "vnswitch(config-if)#");
    run(&mut s, "shutdown");
    run(&mut s, "end");
    assert_eq!(s.prompt(), "vnswitch#");
    assert!(run(&mut s, "show ip interface brief")
        .contains("b                          10.0.0.1        YES NVRAM  administratively down down\n"));
    assert!(
        run(&mut s, "show interfaces b").starts_with("b is administratively down, line protocol is down \n")
    );
    run(&mut s, "conf t");
    run(&mut s, "int b");
    run(&mut s, "no shutdown");
    run(&mut s, "exit");
    assert_eq!(s.prompt(), "vnswitch(config)#");
    run(&mut s, "exit");
    assert!(run(&mut s, "sh ip int br")
        .contains("b                          10.0.0.1        YES NVRAM  up                    up\n"));
    // `do` runs exec commands in config mode.
    run(&mut s, "conf t");
    assert!(run(&mut s, "do show privilege").contains("15"));
    run(&mut s, "end");
    run(&mut s, "disable");
    assert_eq!(s.prompt(), "vnswitch>");
    run(&mut s, "enable");
    assert_eq!(s.prompt(), "vnswitch#");
    run(&mut s, "exit");
    assert!(s.closed());
}

#[test]
fn ip_route_changes_the_fib_and_write_memory_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("topo.ron");
    std::fs::copy(default_path(), &path).expect("copy");
    let topo = rib::topology::load(&path).expect("load");
    let rib = RibHandle::spawn(topo).expect("rib");
    let ctx = Arc::new(ShellContext::new(rib.clone()));
    assert_eq!(ctx.topology_path.as_deref(), Some(path.as_path()));
    let mut s = login(&ctx, "admin", "vnswitch");
    run(&mut s, "configure terminal");
    assert_eq!(run(&mut s, "ip route vrf z 172.16.0.0 255.255.0.0 10.0.0.10"), "");
    assert_eq!(run(&mut s, "ip route vrf z 172.17.0.0/16 10.0.0.10"), "");
    assert!(run(&mut s, "ip route vrf z 172.18.0.0 255.0.255.0 10.0.0.10").starts_with("% Inconsistent"));
    run(&mut s, "vrf context z");
    assert_eq!(s.prompt(), "vnswitch(config-vrf)#");
    assert_eq!(run(&mut s, "ip route 172.19.0.0 255.255.0.0 10.0.0.10"), "");
    run(&mut s, "end");
    let table = run(&mut s, "show ip route vrf z");
    assert!(table.contains("\nS     172.16.0.0/16 [1/0] via 10.0.0.10\n"), "{table}");
    // The FIB of router J now forwards 172.16.1.1.
    let snap = rib.snapshot();
    let topo = rib.topology();
    let j = topo.tenant_by_name("z").map(|t| t.routers[0]).expect("router J");
    assert!(snap.lookup(rib::TableId(j.0), "172.16.1.1".parse().expect("ip")).is_some());
    assert!(run(&mut s, "show running-config").contains("ip route vrf z 172.16.0.0 255.255.0.0 10.0.0.10\n"));
    assert_eq!(run(&mut s, "write memory"), "Building configuration...\n[OK]\n");
    // The saved file loads back to the same routes.
    let reloaded = rib::topology::load(&path).expect("saved file loads");
    let z = reloaded.file.tenants.iter().find(|t| t.name == "z").expect("z");
    let prefixes: Vec<String> = z.static_routes.iter().map(|r| r.prefix.to_string()).collect();
    assert_eq!(prefixes, vec!["172.16.0.0/16", "172.17.0.0/16", "172.19.0.0/16"]);
    // `no ip route` removes it again.
    run(&mut s, "conf t");
    assert_eq!(run(&mut s, "no ip route vrf z 172.16.0.0 255.255.0.0 10.0.0.10"), "");
    run(&mut s, "end");
    assert!(!run(&mut s, "show ip route vrf z").contains("172.16.0.0"));
    assert!(rib.snapshot().lookup(rib::TableId(j.0), "172.16.1.1".parse().expect("ip")).is_none());
}

#[test]
fn logins_are_checked_throttled_and_logged() {
    let ctx = context();
    let mut s = Session::new(ctx.clone(), "vty 3", "10.9.9.9:1234");
    match s.login("admin", "wrong") {
        LoginResult::Failed { delay } => assert_eq!(delay.as_millis(), 500),
        other => panic!("{other:?}"),
    }
    match s.login("nobody", "x") {
        LoginResult::Failed { delay } => assert_eq!(delay.as_millis(), 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(s.login("admin", "vnswitch"), LoginResult::Ok);
    let log = run(&mut s, "show logging");
    assert!(log.contains("%SEC_LOGIN-4-LOGIN_FAILED: Login failed [user: admin] [Source: 10.9.9.9:1234]"));
    assert!(log.contains(
        "%SEC_LOGIN-5-LOGIN_SUCCESS: Login Success [user: admin] [Source: 10.9.9.9:1234] [line: vty 3]"
    ));
    let users = run(&mut s, "show users");
    assert!(
        users.contains("*  5 vty 3     admin      idle                 00:00:00   10.9.9.9\n"),
        "{users}"
    );
}

#[test]
fn no_workers_and_no_prober() {
    let ctx = context();
    let mut s = login(&ctx, "admin", "vnswitch");
    assert_eq!(run(&mut s, "show processes"), "No forwarding workers are running (no workers).\n");
    assert_eq!(
        run(&mut s, "ping vrf z 10.1.5.7"),
        "% No data plane is running (no workers): cannot send probes.\n"
    );
    assert!(run(&mut s, "ping 10.1.5.7").starts_with("% Specify a VRF"));
    assert!(run(&mut s, "show version").contains("with 0 forwarding workers"));
    assert!(run(&mut s, "show clock").starts_with('*'));
}

struct FakeProber;
impl shell::Prober for FakeProber {
    fn probe(
        &self,
        src: &shell::ProbeSource,
        dst: std::net::Ipv4Addr,
        ttl: u8,
        seq: u16,
        _t: std::time::Duration,
    ) -> shell::ProbeReply {
        use std::time::Duration;
        assert_eq!(src.router, "L");
        assert_eq!(src.source.to_string(), "10.1.5.1");
        if seq == 2 {
            return shell::ProbeReply::Timeout;
        }
        if ttl < 2 {
            return shell::ProbeReply::TimeExceeded {
                from: "192.168.100.2".parse().expect("ip"),
                rtt: Duration::from_millis(1),
            };
        }
        shell::ProbeReply::Echo { from: dst, rtt: Duration::from_millis(seq as u64 % 3) }
    }
}

#[test]
fn ping_and_traceroute_output() {
    let rib = RibHandle::spawn(topology()).expect("rib");
    let ctx = Arc::new(ShellContext::new(rib).with_prober(Arc::new(FakeProber)));
    let mut s = login(&ctx, "z-ops", "z-ops");
    assert_eq!(
        run(&mut s, "ping 10.1.5.7"),
        "Type escape sequence to abort.\nSending 5, 100-byte ICMP Echos to 10.1.5.7, timeout is 2 seconds:\n!!.!!\n\
         Success rate is 80 percent (4/5), round-trip min/avg/max = 0/0/1 ms\n"
    );
    let t = run(&mut s, "traceroute vrf z 10.1.5.7");
    assert!(t.starts_with("Type escape sequence to abort.\nTracing the route to 10.1.5.7\n"));
    assert!(t.contains("\n  1 192.168.100.2 1 msec 1 msec 1 msec\n  2 10.1.5.7 "), "{t}");
}

/// Ports as the workers report them: `h`'s device is missing.
struct DeviceMissingStats;
impl shell::StatsSource for DeviceMissingStats {
    fn workers(&self) -> Vec<shell::WorkerStats> {
        Vec::new()
    }
    fn ports(&self) -> Vec<shell::PortCounters> {
        ["a", "h", "b"]
            .iter()
            .map(|n| shell::PortCounters {
                name: n.to_string(),
                link_down: (*n == "h").then(|| "does not exist (waiting for it)".to_string()),
                ..Default::default()
            })
            .collect()
    }
    fn clear(&self) {}
}

/// Issue 11 item 2: a port whose device is missing shows down with the reason, like OVS.
#[test]
fn a_port_without_its_device_shows_down_with_the_reason() {
    let rib = RibHandle::spawn(topology()).expect("rib");
    let ctx = Arc::new(ShellContext::new(rib).with_stats(Arc::new(DeviceMissingStats)));
    let mut s = login(&ctx, "admin", "vnswitch");
    let h = run(&mut s, "show interfaces h");
    assert!(
        h.starts_with(
            "h is down, line protocol is down \n  Link down: device vns-h-sw does not exist (waiting for it)\n"
        ),
        "{h}"
    );
    assert!(run(&mut s, "show interfaces a").starts_with("a is up, line protocol is up \n"));
    let brief = run(&mut s, "show ip interface brief");
    assert!(
        brief.lines().any(|l| l.starts_with("h ") && l.ends_with("down                  down")),
        "{brief}"
    );
}

/// `?` and Tab offer administrator-only commands (the substrate, the log, processes, SNMP,
/// clear, write, copy) to administrators only; a tenant user who types one in full is still
/// refused by the command and audited, as before.
#[test]
fn tenant_users_are_not_offered_administrator_commands() {
    let ctx = context();
    for (mode, path) in shell::session::ADMIN_ONLY {
        let mut t = shell::tree::CommandTree::<shell::commands::Handler>::new();
        for def in shell::commands::all() {
            t.add(&def);
        }
        assert!(t.mark_admin_only(*mode, path), "{mode:?} {path:?} is not a command path");
    }
    let admin = login(&ctx, "admin", "vnswitch");
    let mut z = login(&ctx, "z-ops", "z-ops");
    let (a, t) = (admin.help("show "), z.help("show "));
    for word in ["substrate", "logging", "processes", "snmp"] {
        assert!(a.contains(&format!("  {word} ")), "admin is offered show {word}:\n{a}");
        assert!(!t.contains(word), "tenant is offered show {word}:\n{t}");
    }
    let (a, t) = (admin.help(""), z.help(""));
    for word in ["clear", "write", "copy"] {
        assert!(a.contains(&format!("  {word} ")), "admin is offered {word}:\n{a}");
        assert!(!t.contains(&format!("  {word} ")), "tenant is offered {word}:\n{t}");
    }
    assert!(t.contains("  show "), "{t}");
    assert_eq!(admin.complete("show sub").1, vec!["substrate".to_string()]);
    assert!(z.complete("show sub").1.is_empty());
    assert_eq!(
        z.complete("show s").1,
        admin
            .complete("show s")
            .1
            .into_iter()
            .filter(|w| w != "substrate" && w != "snmp")
            .collect::<Vec<_>>()
    );
    // Typed in full it is refused (and audited) as before.
    let out = run(&mut z, "show substrate");
    assert!(out.contains("% Access denied: 'show substrate' is reserved to administrators."), "{out}");
    run(&mut z, "configure terminal");
    assert!(z.prompt().contains("(config)"), "{}", z.prompt());
    assert!(!z.help("").contains("substrate"), "config mode: {}", z.help(""));
    assert!(z.help("").contains("  interface "), "config mode: {}", z.help(""));
}
