//! Honest test accounting: a test that needs root must be marked `#[ignore = "needs root: …"]`
//! so that without root cargo counts it as *ignored* (skipped) rather than *passed*, and
//! `scripts/test` runs it as root with `--include-ignored`. This scans the sources of every
//! test that checks for root and fails naming each one that is not marked; it also fails on an
//! `#[ignore]` whose reason is not "needs root", because `scripts/test` runs every ignored test
//! as root and so `#[ignore]` must mean exactly that.

use std::path::{Path, PathBuf};

/// Files holding root-only tests (integration tests, the AF_XDP unit tests, pktgen's veth tests).
fn test_sources(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("switch/src/xsk/tests.rs"), root.join("src/lab/substrate.rs")];
    for dir in ["tests", "benches/tests", "shell/tests"] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
    }
    files
}

/// Functions (by name) whose body calls a root check, directly or through a helper that does.
fn root_checking_fns(text: &str) -> Vec<String> {
    let markers = ["require_root", "root_or_skip", "is_root()", "geteuid"];
    let mut names = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("fn ").or_else(|| t.strip_prefix("pub fn ")) {
            current = rest.split(['(', '<']).next().map(str::to_string);
        }
        if let Some(name) = &current {
            if markers.iter().any(|m| t.contains(m)) && !t.starts_with("fn ") && !t.starts_with("pub fn ") {
                names.push(name.clone());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_root_only_test_is_ignored_with_a_needs_root_reason() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut unmarked = Vec::new();
    let mut wrong_reason = Vec::new();
    let mut root_tests = 0;
    for file in test_sources(&root) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if file.ends_with("root_tests_are_ignored.rs") {
            continue;
        }
        let checking = root_checking_fns(&text);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            if t.starts_with("#[ignore") && !t.starts_with("#[ignore = \"needs root") {
                wrong_reason.push(format!("{}:{}: {t}", file.display(), i + 1));
            }
            if t != "#[test]" {
                continue;
            }
            // The attributes up to the `fn` line, and the body up to the next `#[test]`.
            let mut j = i + 1;
            let mut ignored = false;
            while j < lines.len() && !lines[j].trim_start().starts_with("fn ") {
                ignored |= lines[j].trim_start().starts_with("#[ignore = \"needs root");
                j += 1;
            }
            let Some(fn_line) = lines.get(j) else { continue };
            let name =
                fn_line.trim_start().trim_start_matches("fn ").split('(').next().unwrap_or("").to_string();
            // The body ends at the closing brace at the fn's own indentation (or the next test).
            let indent = &fn_line[..fn_line.len() - fn_line.trim_start().len()];
            let close = format!("{indent}}}");
            let body_end = (j + 1..lines.len())
                .find(|&k| lines[k] == close || lines[k].trim_start() == "#[test]")
                .unwrap_or(lines.len());
            let body = lines[j + 1..body_end].join("\n");
            let needs_root = checking.contains(&name)
                || checking.iter().any(|helper| helper != &name && body.contains(&format!("{helper}(")));
            if needs_root {
                root_tests += 1;
                if !ignored {
                    unmarked.push(format!("{}: {name}", file.display()));
                }
            }
        }
    }
    assert!(root_tests >= 10, "found only {root_tests} root-only tests: the scan is broken");
    assert!(
        unmarked.is_empty(),
        "root-only tests that would count as passed without root (mark them #[ignore = \"needs root: …\"]):\n{}",
        unmarked.join("\n")
    );
    assert!(
        wrong_reason.is_empty(),
        "#[ignore] is reserved for root-only tests:\n{}",
        wrong_reason.join("\n")
    );
}
