//! Fuzz target: an arbitrary command line through the shell's parser in every mode and at
//! privilege 1 and 15, `?` help and Tab completion of it, and the `| include/exclude/begin`
//! filter parser. None may panic; a parsed command at privilege 1 needs privilege 1.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shell::session::{tree, Mode};
use shell::tree::{NoChoices, Parsed};

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if line.len() > shell::session::MAX_LINE {
        return;
    }
    let t = tree();
    for mode in [Mode::Exec, Mode::Config, Mode::ConfigIf, Mode::ConfigVrf] {
        for privilege in [1u8, 15] {
            if let Parsed::Command { privilege: needed, .. } = t.parse(mode, line, privilege, &NoChoices) {
                assert!(needed <= privilege, "{line:?} parsed at {privilege} needing {needed}");
            }
            let _ = t.help(mode, line, privilege, &NoChoices);
            let _ = t.complete(mode, line, privilege, &NoChoices);
        }
    }
    if let Some((_, filter)) = line.split_once('|') {
        if let Ok(f) = shell::filter::parse(filter) {
            let _ = shell::filter::apply(&f, "line one\nline two\n");
        }
        let _ = shell::filter::help(filter);
        let _ = shell::filter::complete(filter);
    }
});
