//! The topology limits that validation enforces are the data plane's table sizes: a topology
//! that loads never has a port or tenant whose counters would merge with another's.

#[test]
fn validation_limits_match_the_counter_tables() {
    assert_eq!(rib::topology::MAX_PORTS, switch::stats::MAX_PORTS);
    assert_eq!(rib::topology::MAX_TENANTS, switch::stats::MAX_TENANTS);
    assert!(rib::topology::MAX_ROUTERS <= u16::MAX as usize);
}
