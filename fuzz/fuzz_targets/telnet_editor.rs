//! Fuzz target: arbitrary bytes from a telnet peer through the protocol decoder (IAC,
//! negotiation, subnegotiation, NAWS) and every data byte into the line editor (with and without
//! echo and completion). Neither may panic; the editor's line never exceeds its limit and its
//! cursor stays inside the line; a decoder error ends the session (as the server does).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shell::editor::{EditEvent, LineEditor, NoCompletion};
use shell::session::MAX_LINE;
use shell::telnet::TelnetParser;

fuzz_target!(|data: &[u8]| {
    let mut parser = TelnetParser::new();
    let mut editor = LineEditor::new(MAX_LINE);
    // First byte picks the editor flags, as the login prompts and the command prompt differ.
    let flags = data.first().copied().unwrap_or(0);
    editor.echo = flags & 1 == 0;
    editor.completion = flags & 2 == 0;
    editor.start("vnswitch#");
    let (mut bytes, mut reply, mut out) = (Vec::new(), Vec::new(), Vec::new());
    // Split the input in two reads at a point the data chooses, as TCP may.
    let cut = if data.len() > 1 { data[1] as usize % data.len() } else { 0 };
    for chunk in [&data[..cut], &data[cut..]] {
        bytes.clear();
        if parser.input(chunk, &mut bytes, &mut reply).is_err() {
            return;
        }
        for &b in &bytes {
            out.clear();
            match editor.feed(b, &NoCompletion, &mut out) {
                EditEvent::TooLong | EditEvent::Garbage => return,
                EditEvent::Line(l) => {
                    assert!(l.len() <= MAX_LINE, "line of {} bytes", l.len());
                    editor.start("vnswitch#");
                }
                _ => {}
            }
            assert!(editor.line().len() <= MAX_LINE);
            assert!(editor.cursor() <= editor.line().chars().count().max(editor.line().len()));
        }
    }
});
