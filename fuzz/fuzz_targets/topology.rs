//! Fuzz target: arbitrary text as a topology file. Parsing and validation may reject it but must
//! not panic, and a rejection names a line inside the text; a topology that loads survives a
//! save/reload round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match rib::topology::parse(text, Path::new("fuzz.ron")) {
        Err(e) => {
            let lines = text.lines().count().max(1);
            assert!(e.line <= lines + 1, "error line {} beyond {lines} lines: {e}", e.line);
        }
        Ok(t) => {
            let again = rib::topology::to_ron_string(&t.file).expect("a loaded topology serialises");
            let back = rib::topology::parse(&again, Path::new("again.ron")).expect("its own output loads");
            assert_eq!(back.file, t.file, "round trip changed the topology");
        }
    }
});
