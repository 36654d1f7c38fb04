#![allow(clippy::unwrap_used)]
//! `show interfaces` on a trunk: the default topology with ports `a` (tenant z) and `b`
//! (tenant y) on one device `vns-tr` as VLANs 10 and 20. The administrator sees the device
//! once with its VLANs, then the logical ports; a tenant user sees only its own logical port
//! and never the device.

use rib::topology::schema::{CliStyle, UserConfig, UserRole};
use rib::RibHandle;
use shell::session::{LoginResult, Session};
use shell::{hash_password, ShellContext};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const A_LINE: &str = r#"(name: "a", device: "vns-a-sw", role: Access(tenant: "z", subnet: "10.0.0.0/24")),"#;
const B_LINE: &str = r#"(name: "b", device: "vns-b-sw", role: Access(tenant: "y", subnet: "10.0.0.0/24")),"#;

fn context() -> Arc<ShellContext> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../topologies/default.ron");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replacen(A_LINE, &A_LINE.replace("vns-a-sw", "vns-tr").replace("\")),", "\", vlan: 10)),"), 1)
        .replacen(B_LINE, &B_LINE.replace("vns-b-sw", "vns-tr").replace("\")),", "\", vlan: 20)),"), 1);
    let mut t = rib::topology::parse(&text, Path::new("trunk.ron")).unwrap();
    // The default topology's y-ops (password y-ops) gets a password of the test's own.
    t.file.users.retain(|u| u.name != "y-ops");
    t.file.users.push(UserConfig {
        name: "y-ops".into(),
        password_hash: hash_password("yy"),
        role: UserRole::Tenant,
        tenants: vec!["y".into()],
        privilege: 15,
        cli_style: CliStyle::Ios,
        aliases: BTreeMap::new(),
    });
    let t = rib::topology::Topology::from_file(t.file).unwrap();
    Arc::new(ShellContext::new(RibHandle::spawn(t).unwrap()))
}

fn login(ctx: &Arc<ShellContext>, name: &str, pass: &str) -> Session {
    let mut s = Session::new(ctx.clone(), "vty 0", "127.0.0.1:40000");
    assert_eq!(s.login(name, pass), LoginResult::Ok, "login {name}");
    s
}

#[test]
fn admin_sees_the_trunk_once_with_its_vlans_tenants_only_their_port() {
    let ctx = context();
    let mut admin = login(&ctx, "admin", "vnswitch");
    let all = admin.execute("show interfaces").text;
    assert_eq!(all.matches("(trunk)").count(), 1, "{all}");
    let header = "vns-tr is up, line protocol is up (trunk)\n  Hardware is vnswitch AF_XDP trunk (vns-tr), 2 logical ports\n  Encapsulation 802.1Q Virtual LAN, Vlans 10,20\n";
    assert!(all.contains(header), "{all}");
    // The trunk comes before its first logical port; both ports follow with their VLAN.
    let (t, a, b) =
        (all.find(header).unwrap(), all.find("\na is up").unwrap(), all.find("\nb is up").unwrap());
    assert!(t < a && a < b, "{all}");
    assert!(all.contains("Encapsulation 802.1Q Virtual LAN, Vlan ID  10."), "{all}");
    assert!(all.contains("Encapsulation 802.1Q Virtual LAN, Vlan ID  20."), "{all}");
    // One interface asked for: just that one.
    let one = admin.execute("show interfaces b").text;
    assert!(one.starts_with("b is up, line protocol is up \n"), "{one}");
    assert!(!one.contains("(trunk)"), "{one}");

    let mut y = login(&ctx, "y-ops", "yy");
    let mine = y.execute("show interfaces").text;
    assert!(mine.starts_with("b is up, line protocol is up \n"), "{mine}");
    assert!(mine.contains("Encapsulation 802.1Q Virtual LAN, Vlan ID  20."), "{mine}");
    for leak in ["vns-tr", "trunk", "Vlans 10", "\na is", "Vlan ID  10"] {
        assert!(!mine.contains(leak), "tenant y sees {leak:?}:\n{mine}");
    }
    let json = y.execute("show interfaces | json").text;
    assert!(!json.contains("vns-tr") && json.contains("\"vlan\": 20"), "{json}");
}
