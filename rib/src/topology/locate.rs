//! Source locator for topology errors: a small, tolerant scanner over RON text that records the
//! line of every struct field, list element and map key under its dotted path
//! (`tenants[0].hosts[1].address`), so semantic errors found after deserialisation can name the
//! line, and syntax errors at a position can name the field. Never panics on any input.

/// One recorded location: the dotted field path and where its key (or list element) starts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    line: usize,
    col: usize,
}

/// Field paths of a RON text with their 1-based lines.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    entries: Vec<Entry>,
}

/// Deepest nesting the scanner follows (deeper text is skipped, not an error).
const MAX_DEPTH: usize = 128;

/// Which entries a scan keeps (a 1M-route file has millions; an error needs one or two).
#[derive(Debug, Clone, Copy)]
enum Want<'a> {
    All,
    /// The entries of this path and its ancestors.
    Field(&'a str),
    /// The last entry starting at or before (line, col).
    Before(usize, usize),
}

impl SourceMap {
    /// Scans `text`, keeping every entry. Malformed text yields a partial map.
    pub fn scan(text: &str) -> SourceMap {
        Self::scan_for(text, Want::All)
    }

    fn scan_for(text: &str, want: Want<'_>) -> SourceMap {
        let tokens = tokenize(text);
        let mut p = Parser { tokens: &tokens, pos: 0, entries: Vec::new(), want };
        // A file holds one value, optionally wrapped in a struct name: `TopologyFile( ... )`.
        p.value("", 0);
        SourceMap { entries: p.entries }
    }

    /// The line of `field` in `text` (see [`SourceMap::line_of`]), keeping only what it needs.
    pub fn find_line(text: &str, field: &str) -> usize {
        Self::scan_for(text, Want::Field(field)).line_of(field)
    }

    /// The path at a position in `text` (see [`SourceMap::path_at`]).
    pub fn find_path_at(text: &str, line: usize, col: usize) -> Option<String> {
        Self::scan_for(text, Want::Before(line, col)).path_at(line, col).map(str::to_string)
    }

    /// The 1-based line of `field` (a dotted path). When the exact field is absent (a defaulted
    /// field), the line of the nearest enclosing path that is present; 0 when nothing matches.
    pub fn line_of(&self, field: &str) -> usize {
        let mut path = field;
        loop {
            if let Some(e) = self.entries.iter().find(|e| e.path == path) {
                return e.line;
            }
            match parent_path(path) {
                Some(parent) => path = parent,
                None => return 0,
            }
        }
    }

    /// The path of the last field or element that starts at or before (line, col) (1-based).
    pub fn path_at(&self, line: usize, col: usize) -> Option<&str> {
        self.entries
            .iter()
            .filter(|e| (e.line, e.col) <= (line, col))
            .max_by_key(|e| (e.line, e.col))
            .map(|e| e.path.as_str())
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None.
fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Open(char),
    Close(char),
    Comma,
    Colon,
    Word(String),
    Str(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // Advances one char keeping line/col.
    macro_rules! bump {
        () => {{
            if let Some(&c) = chars.get(i) {
                if c == '\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
            i += 1;
        }};
    }
    while i < chars.len() {
        let c = chars[i];
        let (tl, tc) = (line, col);
        match c {
            c if c.is_whitespace() => bump!(),
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    bump!();
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                bump!();
                bump!();
                let mut depth = 1usize;
                while i < chars.len() && depth > 0 {
                    if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        bump!();
                    } else if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        bump!();
                    }
                    bump!();
                }
            }
            '#' => {
                // Attribute `#![enable(...)]`: skip to the matching `]`.
                let mut depth = 0usize;
                while i < chars.len() {
                    let d = chars[i];
                    bump!();
                    if d == '[' {
                        depth += 1;
                    } else if d == ']' {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            break;
                        }
                    }
                }
            }
            '"' => {
                bump!();
                let mut s = String::new();
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        bump!();
                    }
                    if let Some(&d) = chars.get(i) {
                        s.push(d);
                    }
                    bump!();
                }
                bump!();
                out.push(Token { tok: Tok::Str(s), line: tl, col: tc });
            }
            'r' if matches!(chars.get(i + 1), Some('"') | Some('#')) => {
                // Raw string r#"..."#.
                bump!();
                let mut hashes = 0usize;
                while chars.get(i) == Some(&'#') {
                    hashes += 1;
                    bump!();
                }
                bump!(); // opening quote
                let mut s = String::new();
                while i < chars.len() {
                    if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                        for _ in 0..=hashes {
                            bump!();
                        }
                        break;
                    }
                    s.push(chars[i]);
                    bump!();
                }
                out.push(Token { tok: Tok::Str(s), line: tl, col: tc });
            }
            '\'' => {
                bump!();
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' {
                        bump!();
                    }
                    bump!();
                }
                bump!();
                out.push(Token { tok: Tok::Word(String::new()), line: tl, col: tc });
            }
            '(' | '[' | '{' => {
                bump!();
                out.push(Token { tok: Tok::Open(c), line: tl, col: tc });
            }
            ')' | ']' | '}' => {
                bump!();
                out.push(Token { tok: Tok::Close(c), line: tl, col: tc });
            }
            ',' => {
                bump!();
                out.push(Token { tok: Tok::Comma, line: tl, col: tc });
            }
            ':' => {
                bump!();
                out.push(Token { tok: Tok::Colon, line: tl, col: tc });
            }
            _ => {
                let mut w = String::new();
                while let Some(&d) = chars.get(i) {
                    if d.is_whitespace() || "()[]{},:\"'#".contains(d) || (d == '/' && !w.is_empty()) {
                        break;
                    }
                    w.push(d);
                    bump!();
                }
                if w.is_empty() {
                    bump!();
                } else {
                    out.push(Token { tok: Tok::Word(w), line: tl, col: tc });
                }
            }
        }
    }
    out
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    entries: Vec<Entry>,
    want: Want<'a>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Parser<'_> {
    fn peek(&self, k: usize) -> Option<&Tok> {
        self.tokens.get(self.pos + k).map(|t| &t.tok)
    }

    fn record(&mut self, path: String) {
        let Some(t) = self.tokens.get(self.pos) else { return };
        let e = Entry { path, line: t.line, col: t.col };
        match self.want {
            Want::All => self.entries.push(e),
            Want::Field(f) => {
                let ancestor = f
                    .strip_prefix(e.path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['));
                if ancestor {
                    self.entries.push(e);
                }
            }
            Want::Before(line, col) => {
                if (e.line, e.col) <= (line, col) {
                    self.entries.clear();
                    self.entries.push(e);
                }
            }
        }
    }

    /// One value at `path`. Always consumes at least one token unless at the end.
    fn value(&mut self, path: &str, depth: usize) {
        let Some(tok) = self.peek(0).cloned() else { return };
        if depth > MAX_DEPTH {
            self.pos += 1;
            return;
        }
        match tok {
            Tok::Word(w) => {
                self.pos += 1;
                if self.peek(0) == Some(&Tok::Open('(')) {
                    self.pos += 1;
                    // `Some(x)` is transparent; a struct or enum variant body keeps the path.
                    let _ = w;
                    self.fields(path, ')', depth + 1);
                }
            }
            Tok::Open('(') => {
                self.pos += 1;
                self.fields(path, ')', depth + 1);
            }
            Tok::Open('[') => {
                self.pos += 1;
                self.list(path, depth + 1);
            }
            Tok::Open('{') => {
                self.pos += 1;
                self.map(path, depth + 1);
            }
            Tok::Open(_) | Tok::Str(_) | Tok::Close(_) | Tok::Comma | Tok::Colon => {
                self.pos += 1;
            }
        }
    }

    /// Struct fields `name: value, ...` (or tuple members, which keep the path) up to `close`.
    fn fields(&mut self, path: &str, close: char, depth: usize) {
        loop {
            match self.peek(0) {
                None => return,
                Some(Tok::Close(_)) => {
                    self.pos += 1;
                    return;
                }
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::Word(w)) if self.peek(1) == Some(&Tok::Colon) => {
                    let key = join(path, w);
                    self.record(key.clone());
                    self.pos += 2;
                    self.value(&key, depth);
                }
                Some(_) => self.value(path, depth),
            }
            let _ = close;
        }
    }

    fn list(&mut self, path: &str, depth: usize) {
        let mut index = 0usize;
        loop {
            match self.peek(0) {
                None => return,
                Some(Tok::Close(_)) => {
                    self.pos += 1;
                    return;
                }
                Some(Tok::Comma) => self.pos += 1,
                Some(_) => {
                    let key = format!("{path}[{index}]");
                    self.record(key.clone());
                    self.value(&key, depth);
                    index += 1;
                }
            }
        }
    }

    fn map(&mut self, path: &str, depth: usize) {
        loop {
            match self.peek(0) {
                None => return,
                Some(Tok::Close(_)) => {
                    self.pos += 1;
                    return;
                }
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::Str(k)) | Some(Tok::Word(k)) if self.peek(1) == Some(&Tok::Colon) => {
                    let key = join(path, k);
                    self.record(key.clone());
                    self.pos += 2;
                    self.value(&key, depth);
                }
                Some(_) => self.value(path, depth),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const TEXT: &str = r#"// comment with (parens) and "quotes"
(
    hostname: "sw1",
    ports: [
        (name: "a", device: "vns-a-sw", role: Access(tenant: "z", subnet: "10.0.0.0/24", vlan: Some(10))),
        /* block */ (name: "b",
         device: "x"),
    ],
    users: [ (name: "u", aliases: { "rt": "show ip route" }) ],
)"#;

    #[test]
    fn finds_lines_of_fields_and_elements() {
        let m = SourceMap::scan(TEXT);
        assert_eq!(m.line_of("hostname"), 3);
        assert_eq!(m.line_of("ports[0].role.vlan"), 5);
        assert_eq!(m.line_of("ports[1].name"), 6);
        assert_eq!(m.line_of("ports[1].device"), 7);
        assert_eq!(m.line_of("users[0].aliases.rt"), 9);
        // A defaulted field falls back to its parent.
        assert_eq!(m.line_of("ports[1].enabled"), 6);
        assert_eq!(m.line_of("nothing"), 0);
    }

    #[test]
    fn path_at_position() {
        let m = SourceMap::scan(TEXT);
        assert_eq!(m.path_at(7, 20), Some("ports[1].device"));
        assert_eq!(m.path_at(1, 1), None);
        assert_eq!(SourceMap::find_path_at(TEXT, 7, 20).as_deref(), Some("ports[1].device"));
        assert_eq!(SourceMap::find_path_at(TEXT, 1, 1), None);
    }

    #[test]
    fn targeted_scan_matches_full_scan() {
        let m = SourceMap::scan(TEXT);
        for f in [
            "hostname",
            "ports[0].role.vlan",
            "ports[1].device",
            "ports[1].enabled",
            "users[0].aliases.rt",
            "nothing",
        ] {
            assert_eq!(SourceMap::find_line(TEXT, f), m.line_of(f), "{f}");
        }
        // `ports[1]` must not match `ports[10]`-like siblings: prefix match stops at a separator.
        assert_eq!(SourceMap::find_line(TEXT, "ports[1].name"), 6);
    }

    #[test]
    fn garbage_does_not_panic() {
        for t in ["", "(", ")))", "[[[[", "\"unterminated", "r#\"x", "#![", "a:b:c", "'", "/*", "((((a:"] {
            let m = SourceMap::scan(t);
            let _ = m.line_of("a.b[0]");
        }
        let deep = "(".repeat(10_000);
        let _ = SourceMap::scan(&deep);
    }
}
