#![allow(clippy::unwrap_used)]
//! Privilege and scope matrix: every command of the command tree, in every mode it lives in,
//! run by every role — an administrator, a tenant user of each tenant, and a privilege-1 user —
//! with its parameters pointing at the user's own objects and at another tenant's.
//!
//! - a privilege-1 user runs no command above privilege 1 (the parser refuses it and the running
//!   configuration does not change);
//! - a tenant user's command that names another tenant or its ports is refused, changes
//!   nothing, and answers exactly as for a tenant that does not exist (no existence oracle);
//! - a tenant user's output of every `show` contains nothing of another tenant (names, MACs,
//!   VNI, ports, hosts, routers) or of the substrate (devices `vns-…`, namespaces, uplinks,
//!   substrate nodes and links, paths).
//!
//! Runs on `topologies/default.ron` (tenants z and y) and `topologies/substrate.ron` (tenants
//! blue and red, an uplink and substrate nodes).

use rib::topology::schema::{CliStyle, PortRole, TopologyFile};
use rib::RibHandle;
use shell::session::{tree, Mode, Session, User};
use shell::tree::{NoChoices, Parsed};
use shell::ShellContext;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

#[derive(Clone, Debug)]
struct Role {
    label: String,
    user: User,
    /// The tenant whose objects the "own" variant names.
    own: String,
}

fn user(name: &str, admin: bool, tenants: &[&str], privilege: u8) -> User {
    User {
        name: name.into(),
        admin,
        tenants: tenants.iter().map(|t| t.to_string()).collect(),
        max_privilege: privilege,
        style: CliStyle::Ios,
        aliases: Vec::new(),
    }
}

fn session(ctx: &Arc<ShellContext>, u: &User) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 9", "127.0.0.1:50000");
    s.become_user(u.clone());
    s
}

/// Admin's `show running-config` (what a refused command must not change).
fn running(ctx: &Arc<ShellContext>) -> String {
    let mut s = session(ctx, &user("root-check", true, &[], 15));
    s.execute("show running-config").text
}

/// What another tenant and the substrate look like in text: whole tokens and substrings that
/// must never appear in `own`'s output.
fn secrets(file: &TopologyFile, own: &str) -> (Vec<String>, Vec<String>) {
    let mine = file.tenants.iter().find(|t| t.name == own).unwrap();
    let mut own_tokens: Vec<String> = vec![own.to_string(), file.hostname.clone()];
    own_tokens.extend(mine.routers.iter().map(|r| r.name.clone()));
    own_tokens.extend(mine.routers.iter().flat_map(|r| r.interfaces.iter().map(|i| i.name.clone())));
    own_tokens.extend(mine.hosts.iter().map(|h| h.name.clone()));
    let mut tokens = Vec::new();
    let mut subs: Vec<String> = vec!["vns-".into(), "/sys/".into(), "/run/".into(), "/dev/".into()];
    let mac_forms = |m: &rib::types::MacAddr| {
        let b = m.0;
        vec![
            m.to_string(),
            format!("{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]),
        ]
    };
    for t in file.tenants.iter().filter(|t| t.name != own) {
        tokens.push(t.name.clone());
        tokens.push(t.vni.to_string());
        tokens.extend(t.routers.iter().map(|r| r.name.clone()));
        tokens.extend(t.hosts.iter().map(|h| h.name.clone()));
        for r in &t.routers {
            for i in &r.interfaces {
                subs.extend(mac_forms(&i.mac));
            }
        }
        for h in &t.hosts {
            subs.extend(mac_forms(&h.mac));
            subs.extend(h.netns.clone());
        }
    }
    for p in &file.ports {
        subs.push(p.device.clone());
        match &p.role {
            PortRole::Access { tenant, .. } if tenant == own => {}
            PortRole::Access { .. } => tokens.push(p.name.clone()),
            PortRole::Uplink { address, mac, .. } => {
                tokens.push(p.name.clone());
                subs.push(address.to_string());
                subs.extend(mac_forms(mac));
            }
        }
    }
    for n in &file.substrate.nodes {
        tokens.push(n.name.clone());
        subs.push(n.address.to_string());
    }
    tokens.extend(file.substrate.links.iter().map(|l| l.name.clone()));
    tokens.retain(|t| !own_tokens.contains(t));
    (tokens, subs)
}

fn leaks(text: &str, tokens: &[String], subs: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        if tokens.iter().any(|t| t == word) {
            found.push(format!("token {word:?}"));
        }
    }
    for s in subs {
        if text.contains(s.as_str()) {
            found.push(format!("{s:?}"));
        }
    }
    found.sort();
    found.dedup();
    found
}

/// A port of `tenant` (first access port), or an uplink when `tenant` is `None`.
fn port_of(file: &TopologyFile, tenant: Option<&str>) -> Option<String> {
    file.ports
        .iter()
        .find(|p| match (&p.role, tenant) {
            (PortRole::Access { tenant: t, .. }, Some(want)) => t == want,
            (PortRole::Uplink { .. }, None) => true,
            _ => false,
        })
        .map(|p| p.name.clone())
}

/// The command line of `path` with its parameters filled in for tenant `vrf` and port `port`.
fn line_of(path: &[(&str, &str)], vrf: &str, port: &str) -> String {
    let mut words = Vec::new();
    for (word, _) in path {
        let w = match word.split_once(':') {
            None => word.to_string(),
            Some((name, kind)) => match (name, kind) {
                (_, "VRF") => vrf.to_string(),
                (_, "IFACE") => port.to_string(),
                ("dest", _) => "10.77.0.0".into(),
                ("x", _) => "255.255.0.0".into(),
                (_, "IPV4" | "PREFIX") => "10.0.0.10".into(),
                (_, k) if k.starts_with('<') => {
                    k.trim_start_matches('<').split('-').next().unwrap_or("1").to_string()
                }
                _ => "x".into(),
            },
        };
        words.push(w);
    }
    words.join(" ")
}

/// IOS refusals and errors: a line starting with `%` (after the `^` marker line, if any).
fn refused(out: &str) -> bool {
    out.lines().any(|l| l.starts_with('%'))
}

fn setup(mode: Mode, vrf: &str, port: &str) -> Vec<String> {
    match mode {
        Mode::Exec => vec![],
        Mode::Config => vec!["configure terminal".into()],
        Mode::ConfigIf => vec!["configure terminal".into(), format!("interface {port}")],
        Mode::ConfigVrf => vec!["configure terminal".into(), format!("vrf context {vrf}")],
    }
}

fn run_matrix(topology: &str, tenant_a: &str, tenant_b: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let topo = rib::topology::load(&repo(topology)).unwrap();
    let file = topo.file.clone();
    let saved = dir.path().join("saved.ron");
    let rib = RibHandle::spawn(topo).unwrap();
    let ctx = Arc::new(ShellContext::new(rib).with_topology_path(&saved));
    let roles = vec![
        Role { label: "admin".into(), user: user("adm", true, &[], 15), own: tenant_a.into() },
        Role {
            label: format!("tenant {tenant_a}"),
            user: user("ta", false, &[tenant_a], 15),
            own: tenant_a.into(),
        },
        Role {
            label: format!("tenant {tenant_b}"),
            user: user("tb", false, &[tenant_b], 15),
            own: tenant_b.into(),
        },
        Role { label: "privilege 1".into(), user: user("p1", true, &[], 1), own: tenant_a.into() },
    ];
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for def in shell::commands::all() {
        for &mode in def.modes {
            for role in &roles {
                let other = if role.own == tenant_a { tenant_b } else { tenant_a };
                let own_port = port_of(&file, Some(&role.own)).unwrap();
                let names_vrf = def.path.iter().any(|(w, _)| w.ends_with(":VRF")) || mode == Mode::ConfigVrf;
                let names_port =
                    def.path.iter().any(|(w, _)| w.ends_with(":IFACE")) || mode == Mode::ConfigIf;
                // (tenant, port, whether that is someone else's): own objects, another tenant's,
                // and the substrate uplink.
                let mut variants = vec![(role.own.clone(), own_port.clone(), false)];
                if !role.user.admin {
                    if names_vrf || names_port {
                        variants.push((other.to_string(), port_of(&file, Some(other)).unwrap(), true));
                    }
                    if let Some(up) = port_of(&file, None).filter(|_| names_port) {
                        variants.push((role.own.clone(), up, true));
                    }
                }
                for (vrf, port, foreign) in variants {
                    let line = line_of(def.path, &vrf, &port);
                    let before = running(&ctx);
                    let mut s = session(&ctx, &role.user);
                    let mut transcript = String::new();
                    for l in setup(mode, &vrf, &port) {
                        transcript += &s.execute(&l).text;
                    }
                    let out = s.execute(&line).text;
                    let after = running(&ctx);
                    checked += 1;
                    let what = format!("[{topology}] {} in {mode:?}: `{line}`", role.label);
                    // Privilege 1: nothing above privilege 1 parses or runs.
                    if role.user.max_privilege == 1 && def.privilege > 1 {
                        let parsed = tree().parse(mode, &line, 1, &NoChoices);
                        if matches!(parsed, Parsed::Command { .. }) {
                            failures.push(format!("{what}: parses at privilege 1"));
                        }
                        if !refused(&out) || before != after {
                            failures.push(format!("{what}: ran beyond privilege: {out:?}"));
                        }
                    }
                    if foreign {
                        if !(refused(&out) || refused(&transcript)) {
                            failures.push(format!("{what}: not refused: {transcript:?} {out:?}"));
                        }
                        if before != after {
                            failures.push(format!("{what}: changed the running configuration"));
                        }
                        // No oracle: another tenant's name answers as a name that does not exist.
                        if mode == Mode::Exec && def.path.iter().any(|(w, _)| w.ends_with(":VRF")) {
                            let ghost = line_of(def.path, "nosuchvrf", &port);
                            let mut g = session(&ctx, &role.user);
                            let ghost_out = g.execute(&ghost).text.replace("nosuchvrf", &vrf);
                            if ghost_out != out {
                                failures.push(format!(
                                    "{what}: answers differently for an existing tenant: {out:?} vs {ghost_out:?}"
                                ));
                            }
                        }
                    }
                    if !role.user.admin
                        && role.user.max_privilege == 15
                        && def.path.first().is_some_and(|(w, _)| *w == "show")
                    {
                        let (tokens, subs) = secrets(&file, &role.own);
                        // The user's own typing is echoed back in refusals: that is not a leak.
                        let text =
                            if foreign { out.replace(&vrf, "").replace(&port, "") } else { out.clone() };
                        // The IOS legend names codes like `H - NHRP`: not router names.
                        let text = text.replace(shell::commands::route::CODES, "");
                        // Route lines start with their code (`L`, `C`, `O`...), not a router name.
                        let text: String = text
                            .lines()
                            .map(|l| match l.split_once(' ') {
                                Some((code, rest))
                                    if !code.is_empty() && code.len() <= 2 && !l.starts_with(' ') =>
                                {
                                    format!("{rest}\n")
                                }
                                _ => format!("{l}\n"),
                            })
                            .collect();
                        let found = leaks(&text, &tokens, &subs);
                        if !found.is_empty() {
                            failures.push(format!("{what}: leaks {found:?}"));
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 150, "only {checked} cases: the matrix is not enumerating the tree");
    failures
}

/// Defects this matrix found that live outside the shell core (in `commands/interfaces.rs` and
/// `commands/config.rs`): a tenant user's `show interfaces` and `show running-config` print
/// the substrate device name of the tenant's own access ports (`vns-a-sw`). Listed here so the
/// suite stays green while they are open; the test fails when one is fixed (remove it here) or
/// when anything else leaks.
const KNOWN_DEVICE_LEAKS: &[&str] = &[];

fn check(f: Vec<String>) {
    let (known, new): (Vec<String>, Vec<String>) = f.into_iter().partition(|l| {
        KNOWN_DEVICE_LEAKS.iter().any(|c| l.contains(&format!("`{c}")))
            && l.contains("leaks [\"\\\"vns-\\\"\"")
            && !l.contains("token")
    });
    assert!(new.is_empty(), "{} failures:\n{}", new.len(), new.join("\n"));
    for c in KNOWN_DEVICE_LEAKS {
        assert!(
            known.iter().any(|l| l.contains(&format!("`{c}"))),
            "`{c}` no longer leaks device names: remove it from KNOWN_DEVICE_LEAKS"
        );
    }
    eprintln!("known open leaks (device names):\n{}", known.join("\n"));
}

#[test]
fn every_command_times_every_role_on_the_default_topology() {
    check(run_matrix("topologies/default.ron", "z", "y"));
}

#[test]
fn every_command_times_every_role_on_the_substrate_topology() {
    check(run_matrix("topologies/substrate.ron", "blue", "red"));
}
