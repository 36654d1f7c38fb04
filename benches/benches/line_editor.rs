//! Criterion bench: the telnet line editor's throughput over a long keystroke stream (typing,
//! backspace, arrows, Ctrl keys, history recall, Tab, Enter) with a small fixed completer, so
//! the number measures the editor itself, not the command tree.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use shell::editor::{EditEvent, LineCompleter, LineEditor};
use std::hint::black_box;

struct Fixed;
impl LineCompleter for Fixed {
    fn complete(&self, line: &str) -> (usize, Vec<String>) {
        let start = line.rfind(' ').map_or(0, |i| i + 1);
        let w = &line[start..];
        let words = ["show", "interfaces", "ip", "route", "configure", "terminal"];
        (start, words.iter().filter(|c| c.starts_with(w)).map(|c| c.to_string()).collect())
    }
    fn help(&self, _line: &str) -> String {
        "  route  IP routing table\n".to_string()
    }
}

/// About 1 MiB of keystrokes: commands typed with typos fixed by backspace, cursor moves,
/// history recall and Enter.
fn keystrokes() -> Vec<u8> {
    let pattern: &[&[u8]] = &[
        b"show ip route vrf z\r\0",
        b"sh int countx\x7fers\r\n",
        b"show ip rout\x1b[D\x1b[D\x1b[C\x1b[Ce vrf y\r\0",
        b"\x1b[A\x1b[A\r\0",
        b"conf\t\r\0",
        b"interface a\x01\x05\x17\x15end\r\0",
    ];
    let mut out = Vec::with_capacity(1 << 20);
    while out.len() < (1 << 20) {
        for p in pattern {
            out.extend_from_slice(p);
        }
    }
    out
}

fn bench(c: &mut Criterion) {
    let input = keystrokes();
    let mut g = c.benchmark_group("line_editor");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(20);
    g.bench_function("keystrokes_1MiB", |b| {
        let mut echo = Vec::with_capacity(4096);
        b.iter(|| {
            let mut ed = LineEditor::new(1024);
            ed.start("vnswitch#");
            let mut lines = 0usize;
            for &k in &input {
                echo.clear();
                if let EditEvent::Line(l) = ed.feed(k, &Fixed, &mut echo) {
                    lines += l.len();
                    ed.start("vnswitch#");
                }
            }
            black_box(lines)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
