//! Routing tables and static routes: `show ip route [vrf T] [PREFIX]` in IOS format (codes,
//! gateway of last resort, classful subnet headers, `[AD/metric] via`), the Junos-style
//! `show route`, `ip route`/`no ip route` (to the RIB thread) and `vrf context T`.

use super::{mask_len, CmdError, CmdResult, Exec, Handler};
use crate::clock;
use crate::commands::exec::SHOW;
use crate::session::Mode;
use crate::tree::{Args, CommandDef};
use rib::rib::{RouteSource, RouteView};
use rib::topology::schema::CliStyle;
use rib::Ipv4Prefix;
use std::net::Ipv4Addr;

const EXEC: &[Mode] = &[Mode::Exec];
const CONF: &[Mode] = &[Mode::Config, Mode::ConfigVrf];
const IP: (&str, &str) = ("ip", "IP information");
const ROUTE: (&str, &str) = ("route", "IP routing table");
const VRF: (&str, &str) = ("vrf", "Display routes from a VPN Routing/Forwarding instance");
const VRF_NAME: (&str, &str) = ("vrf:VRF", "VPN Routing/Forwarding instance name");
const PREFIX: (&str, &str) = ("prefix:PREFIX", "Network to display information about or host");
const NO: (&str, &str) = ("no", "Negate a command or set its defaults");
const CIP: (&str, &str) = ("ip", "Global IP configuration subcommands");
const CROUTE: (&str, &str) = ("route", "Establish static routes");
const CVRF: (&str, &str) = ("vrf", "Configure static route for a VPN Routing/Forwarding instance");
const DEST: (&str, &str) = ("dest:PREFIX", "Destination prefix (A.B.C.D or A.B.C.D/nn)");
const MASK_OR_HOP: (&str, &str) =
    ("x:IPV4", "Destination prefix mask, or forwarding router's address after /nn");
const HOP: (&str, &str) = ("y:IPV4", "Forwarding router's address");

pub fn commands() -> Vec<CommandDef<Handler>> {
    let mut v: Vec<CommandDef<Handler>> = vec![
        CommandDef { modes: EXEC, path: &[SHOW, IP, ROUTE], privilege: 1, handler: show_ip_route },
        CommandDef { modes: EXEC, path: &[SHOW, IP, ROUTE, PREFIX], privilege: 1, handler: show_ip_route },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, IP, ROUTE, VRF, VRF_NAME],
            privilege: 1,
            handler: show_ip_route,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, IP, ROUTE, VRF, VRF_NAME, PREFIX],
            privilege: 1,
            handler: show_ip_route,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("route", "Routing table (Junos style)")],
            privilege: 1,
            handler: show_route_junos,
        },
        CommandDef {
            modes: EXEC,
            path: &[SHOW, ("route", ""), ("table", "Routing table of a tenant"), ("vrf:VRF", "Tenant name")],
            privilege: 1,
            handler: show_route_junos,
        },
        CommandDef {
            modes: &[Mode::Config],
            path: &[
                ("vrf", "VRF (tenant) configuration"),
                ("context", "Enter a tenant's routing context"),
                ("vrf:VRF", "VRF name"),
            ],
            privilege: 15,
            handler: vrf_context,
        },
    ];
    // ip route [vrf T] DEST (MASK HOP | /nn HOP), and the `no` forms.
    let forms: [&'static [(&'static str, &'static str)]; 8] = [
        &[CIP, CROUTE, DEST, MASK_OR_HOP],
        &[CIP, CROUTE, DEST, MASK_OR_HOP, HOP],
        &[CIP, CROUTE, CVRF, VRF_NAME, DEST, MASK_OR_HOP],
        &[CIP, CROUTE, CVRF, VRF_NAME, DEST, MASK_OR_HOP, HOP],
        &[NO, CIP, CROUTE, DEST, MASK_OR_HOP],
        &[NO, CIP, CROUTE, DEST, MASK_OR_HOP, HOP],
        &[NO, CIP, CROUTE, CVRF, VRF_NAME, DEST, MASK_OR_HOP],
        &[NO, CIP, CROUTE, CVRF, VRF_NAME, DEST, MASK_OR_HOP, HOP],
    ];
    for path in forms {
        v.push(CommandDef { modes: CONF, path, privilege: 15, handler: ip_route });
    }
    v
}

/// Route lines of one tenant, one block per logical router.
fn tenant_routes(ex: &Exec<'_>, tenant: &str) -> Result<Vec<(String, Vec<RouteView>)>, CmdError> {
    let routes = ex.ctx.rib.routes(tenant).map_err(Exec::rib_err)?;
    let mut blocks: Vec<(String, Vec<RouteView>)> = Vec::new();
    if let Some(t) = ex.topo.tenant_by_name(tenant) {
        for rid in &t.routers {
            let name = ex.topo.router(*rid).name.clone();
            // An in-band session shows the table of the router it was opened on.
            if ex.s.scope.as_ref().is_some_and(|s| s.tenant == tenant && s.router != name) {
                continue;
            }
            let mut rs: Vec<RouteView> =
                routes.iter().filter(|r| r.router == name && r.active).cloned().collect();
            rs.sort_by_key(|r| (r.prefix.addr_u32(), r.prefix.len(), r.next_hop));
            blocks.push((name, rs));
        }
    }
    Ok(blocks)
}

fn parse_prefix(s: &str) -> Option<(Ipv4Addr, Option<u8>)> {
    match s.split_once('/') {
        Some((a, l)) => Some((a.parse().ok()?, Some(l.parse().ok().filter(|l| *l <= 32)?))),
        None => Some((s.parse().ok()?, None)),
    }
}

fn show_ip_route(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let what = match args.get("vrf") {
        Some(v) => format!("show ip route vrf {v}"),
        None => "show ip route".to_string(),
    };
    let tenants = ex.target_tenants(args, &what)?;
    if ex.json {
        return render_json(ex, &tenants, args.get("prefix"));
    }
    if ex.s.user.style == CliStyle::Junos && args.get("prefix").is_none() {
        return render_junos(ex, &tenants);
    }
    let age = clock::short_age(ex.ctx.started.elapsed());
    for tenant in tenants {
        let blocks = tenant_routes(ex, &tenant)?;
        let many = blocks.len() > 1;
        for (router, routes) in blocks {
            let title = if many { format!("{tenant} (logical router {router})") } else { tenant.clone() };
            match args.get("prefix") {
                Some(p) => {
                    let Some((addr, len)) = parse_prefix(p) else {
                        return Err(CmdError::Message("% Invalid prefix".into()));
                    };
                    ex.out.push_str(&render_entry(&title, &routes, addr, len, &age));
                }
                None => ex.out.push_str(&render_ios(&title, &routes, &age)),
            }
        }
    }
    Ok(())
}

/// One route of `show ip route | json`.
#[derive(serde::Serialize)]
struct RouteJson {
    vrf: String,
    router: String,
    prefix: String,
    /// IOS route code (`C`, `L`, `S`, `O`, with `*` for a default).
    code: &'static str,
    distance: u8,
    metric: u32,
    next_hop: Option<Ipv4Addr>,
    interface: String,
}

/// `show ip route [vrf T] [PREFIX] | json`: the active routes of every table shown, one
/// object each (with PREFIX: the routes that contain the address, or that exact prefix).
fn render_json(ex: &mut Exec<'_>, tenants: &[String], prefix: Option<&str>) -> CmdResult {
    let filter = match prefix {
        Some(p) => Some(parse_prefix(p).ok_or_else(|| CmdError::Message("% Invalid prefix".into()))?),
        None => None,
    };
    let mut view = Vec::new();
    for tenant in tenants {
        for (_, routes) in tenant_routes(ex, tenant)? {
            for r in routes {
                let keep = match filter {
                    None => true,
                    Some((addr, None)) => r.prefix.contains(addr),
                    Some((addr, Some(len))) => r.prefix.len() == len && r.prefix.contains(addr),
                };
                if keep {
                    view.push(RouteJson {
                        vrf: tenant.clone(),
                        router: r.router.clone(),
                        prefix: r.prefix.to_string(),
                        code: code(&r),
                        distance: r.distance,
                        metric: r.metric,
                        next_hop: r.next_hop,
                        interface: r.interface.clone(),
                    });
                }
            }
        }
    }
    ex.render(&view, |_, _| {})
}

/// The IOS `Codes:` block (IOS 15, with `L - local`).
pub const CODES: &str = "\
Codes: L - local, C - connected, S - static, R - RIP, M - mobile, B - BGP
       D - EIGRP, EX - EIGRP external, O - OSPF, IA - OSPF inter area 
       N1 - OSPF NSSA external type 1, N2 - OSPF NSSA external type 2
       E1 - OSPF external type 1, E2 - OSPF external type 2
       i - IS-IS, su - IS-IS summary, L1 - IS-IS level-1, L2 - IS-IS level-2
       ia - IS-IS inter area, * - candidate default, U - per-user static route
       o - ODR, P - periodic downloaded static route, H - NHRP, l - LISP
       a - application route
       + - replicated route, % - next hop override, p - overrides from PfR
";

fn code(r: &RouteView) -> &'static str {
    let default = r.prefix.len() == 0;
    match (r.source, default) {
        (RouteSource::Connected, _) => "C",
        (RouteSource::Local, _) => "L",
        (RouteSource::Static, false) => "S",
        (RouteSource::Static, true) => "S*",
        (RouteSource::Spf, false) => "O",
        (RouteSource::Spf, true) => "O*",
    }
}

fn classful_len(addr: Ipv4Addr) -> u8 {
    match addr.octets()[0] {
        0..=127 => 8,
        128..=191 => 16,
        _ => 24,
    }
}

/// What follows the prefix on a route line.
fn route_tail(r: &RouteView, age: &str) -> String {
    match (r.source, r.next_hop) {
        (RouteSource::Connected | RouteSource::Local, _) | (_, None) => {
            format!("is directly connected, {}", r.interface)
        }
        (RouteSource::Static, Some(nh)) => format!("[{}/{}] via {nh}", r.distance, r.metric),
        (RouteSource::Spf, Some(nh)) => {
            format!("[{}/{}] via {nh}, {age}, {}", r.distance, r.metric, r.interface)
        }
    }
}

/// `show ip route` for one table, IOS 15 layout.
pub fn render_ios(table: &str, routes: &[RouteView], age: &str) -> String {
    let mut s = format!("\nRouting Table: {table}\n{CODES}\n");
    match routes.iter().find(|r| r.prefix.len() == 0 && r.next_hop.is_some()) {
        Some(d) => s.push_str(&format!(
            "Gateway of last resort is {} to network 0.0.0.0\n\n",
            d.next_hop.unwrap_or(Ipv4Addr::UNSPECIFIED)
        )),
        None => s.push_str("Gateway of last resort is not set\n\n"),
    }
    // Order: by major (classful) network, supernets before the subnets of the same network.
    let major = |r: &RouteView| {
        let cl = classful_len(r.prefix.addr());
        let m = u32::from(r.prefix.addr()) & Ipv4Prefix::mask_of(cl);
        (m, cl)
    };
    let mut sorted: Vec<&RouteView> = routes.iter().collect();
    sorted.sort_by_key(|r| {
        let (m, cl) = major(r);
        (m, r.prefix.len() > cl, r.prefix.addr_u32(), r.prefix.len())
    });
    let mut i = 0;
    // The subnets of one major network are contiguous in `sorted`: their header (count and
    // masks) is computed once per network, so rendering stays linear in the routes.
    let mut header_for: Option<u32> = None;
    let mut variably = false;
    while i < sorted.len() {
        let r = sorted[i];
        let (m, cl) = major(r);
        let subnet = r.prefix.len() > cl;
        // All routes to the same prefix (ECMP) print together.
        let mut j = i + 1;
        while j < sorted.len() && sorted[j].prefix == r.prefix {
            j += 1;
        }
        let (col, show_len) = if subnet {
            if header_for != Some(m) {
                header_for = Some(m);
                let mut end = i;
                while end < sorted.len() && major(sorted[end]) == (m, cl) && sorted[end].prefix.len() > cl {
                    end += 1;
                }
                let mut subnets: Vec<Ipv4Prefix> = sorted[i..end].iter().map(|x| x.prefix).collect();
                subnets.dedup();
                let mut masks: Vec<u8> = subnets.iter().map(|p| p.len()).collect();
                masks.sort_unstable();
                masks.dedup();
                variably = masks.len() > 1;
                if masks.len() == 1 {
                    s.push_str(&format!(
                        "      {}/{} is subnetted, {} subnets\n",
                        Ipv4Addr::from(m),
                        masks[0],
                        subnets.len()
                    ));
                } else {
                    s.push_str(&format!(
                        "      {}/{cl} is variably subnetted, {} subnets, {} masks\n",
                        Ipv4Addr::from(m),
                        subnets.len(),
                        masks.len()
                    ));
                }
            }
            (9, variably)
        } else {
            (6, true)
        };
        let p = if show_len { r.prefix.to_string() } else { r.prefix.addr().to_string() };
        let lead = format!("{:<col$}{p} ", code(r));
        s.push_str(&lead);
        s.push_str(&route_tail(r, age));
        s.push('\n');
        for extra in &sorted[i + 1..j] {
            s.push_str(&" ".repeat(lead.len()));
            s.push_str(&route_tail(extra, age));
            s.push('\n');
        }
        i = j;
    }
    s
}

/// `show ip route PREFIX`: the IOS "Routing entry for" block of the best match.
fn render_entry(table: &str, routes: &[RouteView], addr: Ipv4Addr, len: Option<u8>, age: &str) -> String {
    let best = match len {
        Some(l) => {
            let p = Ipv4Prefix::new(addr, l);
            routes.iter().filter(|r| r.prefix == p).collect::<Vec<_>>()
        }
        None => {
            let max = routes.iter().filter(|r| r.prefix.contains(addr)).map(|r| r.prefix.len()).max();
            routes.iter().filter(|r| Some(r.prefix.len()) == max && r.prefix.contains(addr)).collect()
        }
    };
    let mut s = format!("\nRouting Table: {table}\n");
    let Some(first) = best.first() else {
        s.push_str("% Network not in table\n");
        return s;
    };
    s.push_str(&format!("Routing entry for {}\n", first.prefix));
    let known = match first.source {
        RouteSource::Connected => "connected".to_string(),
        RouteSource::Local => "connected".to_string(),
        RouteSource::Static => "static".to_string(),
        RouteSource::Spf => "ospf 1".to_string(),
    };
    let kind = match first.source {
        RouteSource::Connected | RouteSource::Local => " (connected, via interface)",
        RouteSource::Spf => ", type intra area",
        RouteSource::Static => "",
    };
    s.push_str(&format!(
        "  Known via \"{known}\", distance {}, metric {}{kind}\n",
        first.distance, first.metric
    ));
    s.push_str("  Routing Descriptor Blocks:\n");
    for (i, r) in best.iter().enumerate() {
        let star = if i == 0 { "*" } else { " " };
        match r.next_hop {
            None => s.push_str(&format!("  {star} directly connected, via {}\n", r.interface)),
            Some(nh) if r.source == RouteSource::Spf => {
                s.push_str(&format!("  {star} {nh}, from {nh}, {age} ago, via {}\n", r.interface))
            }
            Some(nh) => s.push_str(&format!("  {star} {nh}\n")),
        }
        s.push_str(&format!("      Route metric is {}, traffic share count is 1\n", r.metric));
    }
    s
}

fn show_route_junos(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let what = match args.get("vrf") {
        Some(v) => format!("show route table {v}"),
        None => "show route".to_string(),
    };
    let tenants = ex.target_tenants(args, &what)?;
    render_junos(ex, &tenants)
}

fn render_junos(ex: &mut Exec<'_>, tenants: &[String]) -> CmdResult {
    let age = clock::short_age(ex.ctx.started.elapsed());
    for tenant in tenants {
        for (router, routes) in tenant_routes(ex, tenant)? {
            let mut prefixes: Vec<Ipv4Prefix> = routes.iter().map(|r| r.prefix).collect();
            prefixes.dedup();
            ex.line("");
            ex.line(format!(
                "{tenant}-{router}.inet.0: {} destinations, {} routes ({} active, 0 holddown, 0 hidden)",
                prefixes.len(),
                routes.len(),
                routes.len()
            ));
            ex.line("+ = Active Route, - = Last Active, * = Both");
            ex.line("");
            let mut last: Option<Ipv4Prefix> = None;
            for r in &routes {
                let (proto, pref) = match r.source {
                    RouteSource::Connected => ("Direct", 0),
                    RouteSource::Local => ("Local", 0),
                    RouteSource::Static => ("Static", 5),
                    RouteSource::Spf => ("OSPF", 10),
                };
                let metric = if r.source == RouteSource::Spf {
                    format!(", metric {}", r.metric)
                } else {
                    String::new()
                };
                let dest = if last == Some(r.prefix) { String::new() } else { r.prefix.to_string() };
                last = Some(r.prefix);
                ex.line(format!("{dest:<19}*[{proto}/{pref}] {age}{metric}"));
                match (r.source, r.next_hop) {
                    (RouteSource::Local, _) => {
                        ex.line(format!("                      Local via {}", r.interface))
                    }
                    (_, Some(nh)) => ex.line(format!("                    > to {nh} via {}", r.interface)),
                    (_, None) => ex.line(format!("                    > via {}", r.interface)),
                }
            }
        }
    }
    Ok(())
}

fn ip_route(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let verb = if args.negated { "no ip route" } else { "ip route" };
    let tenant = match args.get("vrf") {
        Some(v) => {
            ex.check_tenant(v, &format!("{verb} vrf {v}"))?;
            v.to_string()
        }
        None => ex.single_tenant(args, verb)?,
    };
    let dest = args.get("dest").unwrap_or("");
    let Some((addr, len)) = parse_prefix(dest) else {
        return Err(CmdError::Message("% Invalid prefix".into()));
    };
    let x: Option<Ipv4Addr> = args.get("x").and_then(|x| x.parse().ok());
    let y: Option<Ipv4Addr> = args.get("y").and_then(|y| y.parse().ok());
    let (len, next_hop) = match (len, x, y) {
        (Some(l), Some(nh), None) => (l, nh),
        (None, Some(mask), Some(nh)) => match mask_len(mask) {
            Some(l) => (l, nh),
            None => return Err(CmdError::Message(format!("% Inconsistent address and mask: {mask}"))),
        },
        (None, Some(_), None) => return Err(CmdError::Message("% Incomplete command.\n".into())),
        _ => {
            return Err(CmdError::Message(
                "% Invalid input: give A.B.C.D MASK NEXTHOP or A.B.C.D/nn NEXTHOP".into(),
            ))
        }
    };
    let prefix = Ipv4Prefix::new(addr, len);
    if prefix.addr() != addr {
        return Err(CmdError::Message("% Inconsistent address and mask".into()));
    }
    let r = if args.negated {
        ex.ctx.rib.remove_route(&tenant, prefix, next_hop)
    } else {
        ex.ctx.rib.add_route(&tenant, prefix, next_hop)
    };
    r.map_err(Exec::rib_err)?;
    ex.ctx.audit.log(
        "SYS",
        crate::audit::Severity::Notice,
        "CONFIG_I",
        &ex.s.user.name,
        &ex.s.source,
        format!(
            "Configured from {} by {}: {verb} vrf {tenant} {prefix} {next_hop}",
            ex.s.line, ex.s.user.name
        ),
    );
    Ok(())
}

fn vrf_context(ex: &mut Exec<'_>, args: &Args) -> CmdResult {
    let v = args.get("vrf").unwrap_or("");
    ex.check_tenant(v, &format!("vrf context {v}"))?;
    ex.s.vrf_context = Some(v.to_string());
    ex.s.mode = Mode::ConfigVrf;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rv(p: &str, source: RouteSource, nh: Option<&str>, iface: &str, d: u8, m: u32) -> RouteView {
        RouteView {
            router: "J".into(),
            prefix: p.parse().unwrap(),
            source,
            distance: d,
            metric: m,
            next_hop: nh.map(|n| n.parse().unwrap()),
            interface: iface.into(),
            active: true,
        }
    }

    /// 131,072 subnets of two major networks: one header each, one line per route. The
    /// header used to be recounted over the whole table for every subnet line (quadratic:
    /// this test did not finish; `show ip route` of 1M routes took hours).
    #[test]
    fn many_subnets_render_in_linear_time_with_one_header_per_network() {
        let mut routes = Vec::new();
        for major in [10u32, 11] {
            for i in 0..65_536u32 {
                let addr = Ipv4Addr::from((major << 24) | (i << 8));
                routes.push(RouteView {
                    router: "J".into(),
                    prefix: Ipv4Prefix::new(addr, 24),
                    source: RouteSource::Static,
                    distance: 1,
                    metric: 0,
                    next_hop: Some(Ipv4Addr::new(10, 0, 0, 2)),
                    interface: "Gi0/0".into(),
                    active: true,
                });
            }
        }
        routes.push(rv("11.0.0.0/16", RouteSource::Static, Some("10.0.0.3"), "Gi0/0", 1, 0));
        let text = render_ios("big", &routes, "00:00:01");
        assert!(text.contains(
            "\n      10.0.0.0/24 is subnetted, 65536 subnets\nS        10.0.0.0 [1/0] via 10.0.0.2\n"
        ));
        assert!(text.contains("\n      11.0.0.0/8 is variably subnetted, 65537 subnets, 2 masks\nS        11.0.0.0/16 [1/0] via 10.0.0.3\nS        11.0.0.0/24 [1/0] via 10.0.0.2\n"));
        assert_eq!(text.matches("subnetted").count(), 2);
        assert_eq!(text.lines().filter(|l| l.starts_with("S ")).count(), 2 * 65_536 + 1);
    }

    #[test]
    fn ios_layout() {
        let routes = vec![
            rv("10.0.0.0/24", RouteSource::Connected, None, "Gi0/0", 0, 0),
            rv("10.0.0.1/32", RouteSource::Local, None, "Gi0/0", 0, 0),
            rv("10.1.5.0/24", RouteSource::Spf, Some("192.168.100.2"), "Gi0/1", 110, 20),
            rv("192.168.100.0/30", RouteSource::Connected, None, "Gi0/1", 0, 0),
            rv("192.168.100.1/32", RouteSource::Local, None, "Gi0/1", 0, 0),
            rv("172.16.0.0/12", RouteSource::Static, Some("10.0.0.2"), "Gi0/0", 1, 0),
        ];
        let text = render_ios("z", &routes, "00:01:02");
        let expected = "
Routing Table: z
"
        .to_string()
            + CODES
            + "
Gateway of last resort is not set

      10.0.0.0/8 is variably subnetted, 3 subnets, 2 masks
C        10.0.0.0/24 is directly connected, Gi0/0
L        10.0.0.1/32 is directly connected, Gi0/0
O        10.1.5.0/24 [110/20] via 192.168.100.2, 00:01:02, Gi0/1
S     172.16.0.0/12 [1/0] via 10.0.0.2
      192.168.100.0/24 is variably subnetted, 2 subnets, 2 masks
C        192.168.100.0/30 is directly connected, Gi0/1
L        192.168.100.1/32 is directly connected, Gi0/1
";
        assert_eq!(text, expected);
    }

    #[test]
    fn uniform_subnets_default_and_ecmp() {
        let routes = vec![
            rv("0.0.0.0/0", RouteSource::Static, Some("10.0.0.2"), "Gi0/0", 1, 0),
            rv("50.1.1.1/32", RouteSource::Connected, None, "Lo0", 0, 0),
            rv("10.2.0.0/16", RouteSource::Spf, Some("10.0.0.2"), "Gi0/0", 110, 20),
            rv("10.2.0.0/16", RouteSource::Spf, Some("10.0.0.3"), "Gi0/0", 110, 20),
        ];
        let text = render_ios("z", &routes, "00:00:05");
        assert!(text.contains("Gateway of last resort is 10.0.0.2 to network 0.0.0.0\n"));
        assert!(text.contains("\nS*    0.0.0.0/0 [1/0] via 10.0.0.2\n"));
        assert!(text.contains(
            "\n      50.0.0.0/32 is subnetted, 1 subnets\nC        50.1.1.1 is directly connected, Lo0\n"
        ));
        assert!(text.contains(
            "\n      10.0.0.0/16 is subnetted, 1 subnets\nO        10.2.0.0 [110/20] via 10.0.0.2, 00:00:05, Gi0/0\n                  [110/20] via 10.0.0.3, 00:00:05, Gi0/0\n"
        ));
    }

    #[test]
    fn entry_lookup() {
        let routes = vec![
            rv("10.0.0.0/24", RouteSource::Connected, None, "Gi0/0", 0, 0),
            rv("10.1.5.0/24", RouteSource::Spf, Some("192.168.100.2"), "Gi0/1", 110, 20),
        ];
        let t = render_entry("z", &routes, "10.1.5.7".parse().unwrap(), None, "00:00:01");
        assert!(t.contains("Routing entry for 10.1.5.0/24\n  Known via \"ospf 1\", distance 110, metric 20, type intra area\n"));
        assert!(t.contains("  * 192.168.100.2, from 192.168.100.2, 00:00:01 ago, via Gi0/1\n"));
        let t = render_entry("z", &routes, "10.9.9.9".parse().unwrap(), None, "x");
        assert!(t.ends_with("% Network not in table\n"));
    }
}
