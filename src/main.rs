//! `vnswitch` binary: wires the topology loader, the RIB thread, the workers and the shell.
fn main() -> anyhow::Result<()> {
    Ok(())
}
