//! Times `show ip route` (and `show ip route PREFIX`) on a large topology, e.g. one written by
//! `scripts/gen-topology`: `cargo run -p shell --example show_route_timing -- FILE [VRF]`.
//! Prints the load, RIB start, and per-command times and output sizes.

use shell::session::{Session, User};
use shell::ShellContext;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: show_route_timing FILE [VRF]");
        std::process::exit(2);
    };
    let t = Instant::now();
    let topo = match rib::topology::load(std::path::Path::new(&path)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let vrf = args.next().unwrap_or_else(|| topo.tenants.first().map(|t| t.name.clone()).unwrap_or_default());
    println!("load: {:.2?}", t.elapsed());
    let t = Instant::now();
    let rib = match rib::RibHandle::spawn(topo) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    println!("rib start: {:.2?}", t.elapsed());
    let t = Instant::now();
    let n = rib.routes(&vrf).map(|r| r.len()).unwrap_or(0);
    println!("rib routes({vrf}) alone: {:.2?}, {n} routes", t.elapsed());
    let ctx = Arc::new(ShellContext::new(rib));
    let mut s = Session::new(ctx, "con 0", "console");
    s.become_user(User::local_admin());
    for cmd in [
        format!("show ip route vrf {vrf}"),
        format!("show ip route vrf {vrf}"),
        format!("show ip route vrf {vrf} 10.0.0.7"),
    ] {
        let t = Instant::now();
        let out = s.execute(&cmd);
        println!("{cmd}: {:.2?}, {} bytes, {} lines", t.elapsed(), out.text.len(), out.text.lines().count());
    }
}
