//! Child process of `scripts/kill-write-memory`: `write memory` in a loop through a real shell
//! session, each save adding one static route to tenant `z`, so save number K holds K routes.
//! Prints `saving K` before and `saved K` after each save (flushed), until killed.
//! `write_memory_loop --check FILE` loads FILE and prints `routes N` (exit 1 if it fails to load).

use shell::session::{Session, User};
use shell::ShellContext;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, file] if flag == "--check" => match rib::topology::load(Path::new(file)) {
            Ok(t) => {
                let n: usize = t.file.tenants.iter().map(|t| t.static_routes.len()).sum();
                println!("routes {n}");
            }
            Err(e) => {
                println!("error {e}");
                std::process::exit(1);
            }
        },
        [file] => run(file),
        _ => {
            eprintln!("usage: write_memory_loop FILE | --check FILE");
            std::process::exit(2);
        }
    }
}

fn run(file: &str) {
    let topo = match rib::topology::load(Path::new(file)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let start: usize = topo.file.tenants.iter().map(|t| t.static_routes.len()).sum();
    let rib = match rib::RibHandle::spawn(topo) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let ctx = Arc::new(ShellContext::new(rib).with_topology_path(file));
    let mut s = Session::new(ctx, "con 0", "console");
    s.become_user(User::local_admin());
    s.execute("configure terminal");
    let mut out = std::io::stdout();
    for k in start + 1.. {
        let (hi, lo) = ((k / 250) % 250, k % 250);
        let r = s.execute(&format!("ip route vrf z 10.{}.{lo}.0 255.255.255.0 10.0.0.10", 100 + hi));
        if !r.text.is_empty() {
            eprintln!("ip route: {}", r.text);
            std::process::exit(1);
        }
        let _ = writeln!(out, "saving {k}");
        let _ = out.flush();
        let r = s.execute("do write memory");
        if !r.text.contains("[OK]") {
            eprintln!("write memory: {}", r.text);
            std::process::exit(1);
        }
        let _ = writeln!(out, "saved {k}");
        let _ = out.flush();
    }
}
