//! The command tree shared by every front end: nodes are keywords or typed parameters with a
//! short help; a path that ends at a node with a command runs its handler. Parsing follows
//! IOS: exact keyword, else unique prefix (`sh ip ro`), else a parameter that accepts the
//! word; errors carry the column of the offending word for the `^` marker.

use crate::session::Mode;
use std::net::Ipv4Addr;

/// What a parameter accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamKind {
    /// Any single word.
    Word,
    /// The rest of the line, spaces included.
    Line,
    /// A dotted-quad IPv4 address.
    Ipv4,
    /// `A.B.C.D` or `A.B.C.D/nn`.
    Prefix,
    /// A decimal number in a range.
    Number { min: u64, max: u64 },
    /// A port name (completed from the ports the user may see).
    Interface,
    /// A tenant (VRF) name (completed from the tenants the user may see).
    Vrf,
}

impl ParamKind {
    /// Whether `word` is acceptable at parse time.
    fn accepts(self, word: &str) -> bool {
        match self {
            ParamKind::Word | ParamKind::Line | ParamKind::Interface | ParamKind::Vrf => true,
            ParamKind::Ipv4 => word.parse::<Ipv4Addr>().is_ok(),
            ParamKind::Prefix => match word.split_once('/') {
                Some((a, l)) => a.parse::<Ipv4Addr>().is_ok() && l.parse::<u8>().is_ok_and(|l| l <= 32),
                None => word.parse::<Ipv4Addr>().is_ok(),
            },
            ParamKind::Number { min, max } => word.parse::<u64>().is_ok_and(|n| n >= min && n <= max),
        }
    }
    /// The label `?` prints for the parameter.
    fn label(self) -> String {
        match self {
            ParamKind::Word | ParamKind::Interface | ParamKind::Vrf => "WORD".into(),
            ParamKind::Line => "LINE".into(),
            ParamKind::Ipv4 => "A.B.C.D".into(),
            ParamKind::Prefix => "A.B.C.D[/nn]".into(),
            ParamKind::Number { min, max } => format!("<{min}-{max}>"),
        }
    }
    fn dynamic(self) -> bool {
        matches!(self, ParamKind::Interface | ParamKind::Vrf)
    }
}

/// A node's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Keyword(&'static str),
    Param { name: &'static str, kind: ParamKind },
}

/// Parsed arguments: the keywords crossed and the parameter values by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Canonical keywords in order (`["show", "ip", "route", "vrf"]`).
    pub keywords: Vec<&'static str>,
    /// Parameter values by name.
    pub values: Vec<(&'static str, String)>,
    /// `true` when the line started with `no`.
    pub negated: bool,
}

impl Args {
    pub fn has(&self, keyword: &str) -> bool {
        self.keywords.contains(&keyword)
    }
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

/// One command's definition: where it lives, what each word means, who may run it.
pub struct CommandDef<H: Copy> {
    pub modes: &'static [Mode],
    /// Path elements with help: a keyword (`"route"`) or a parameter
    /// `"NAME:KIND"` with KIND one of WORD, LINE, IPV4, PREFIX, IFACE, VRF, or `<MIN-MAX>`.
    pub path: &'static [(&'static str, &'static str)],
    /// Lowest privilege that may run it (1 or 15).
    pub privilege: u8,
    pub handler: H,
}

/// A node of the tree.
#[derive(Debug)]
pub struct Node<H: Copy> {
    pub token: Token,
    pub help: &'static str,
    pub children: Vec<Node<H>>,
    /// Handler and privilege when a command may end here.
    pub command: Option<(H, u8)>,
    /// Lowest privilege of any command at or below this node (hides nodes in `?`/Tab).
    pub min_privilege: u8,
    /// Every command at or below this node is for administrators only: `?` and Tab do not
    /// offer it to tenant users (typing it in full still reaches its handler, which refuses
    /// and audits).
    pub admin_only: bool,
}

/// A dynamic choice offered for `Interface`/`Vrf` parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub value: String,
    pub help: String,
}

/// The names a session may see, for completion of dynamic parameters.
pub trait Choices {
    fn choices(&self, kind: ParamKind) -> Vec<Choice>;
    /// Whether `?` and Tab offer administrator-only commands ([`CommandTree::mark_admin_only`]).
    fn admin(&self) -> bool {
        true
    }
}

/// No dynamic choices.
pub struct NoChoices;
impl Choices for NoChoices {
    fn choices(&self, _kind: ParamKind) -> Vec<Choice> {
        Vec::new()
    }
}

/// A word of the input line with its byte column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Word<'a> {
    pub col: usize,
    pub text: &'a str,
}

/// Splits a line into words with their columns.
pub fn split_words(line: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                out.push(Word { col: s, text: &line[s..i] });
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(Word { col: s, text: &line[s..] });
    }
    out
}

/// The result of parsing a line.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<H> {
    /// Nothing typed.
    Empty,
    /// A complete command.
    Command { handler: H, privilege: u8, args: Args },
    /// `% Incomplete command.`
    Incomplete,
    /// `% Ambiguous command:  "LINE"`
    Ambiguous,
    /// `% Invalid input detected at '^' marker.` at this column.
    Invalid { col: usize },
}

/// The per-mode command trees.
pub struct CommandTree<H: Copy> {
    roots: Vec<(Mode, Node<H>)>,
}

impl<H: Copy> Default for CommandTree<H> {
    fn default() -> Self {
        Self::new()
    }
}

/// Outcome of matching one word against a node's children.
enum Step<'n, H: Copy> {
    Matched(&'n Node<H>, Option<String>),
    Ambiguous,
    NoMatch,
}

impl<H: Copy> CommandTree<H> {
    pub fn new() -> Self {
        CommandTree { roots: Vec::new() }
    }

    fn root_mut(&mut self, mode: Mode) -> &mut Node<H> {
        let idx = match self.roots.iter().position(|(m, _)| *m == mode) {
            Some(i) => i,
            None => {
                self.roots.push((
                    mode,
                    Node {
                        token: Token::Keyword(""),
                        help: "",
                        children: Vec::new(),
                        command: None,
                        min_privilege: u8::MAX,
                        admin_only: false,
                    },
                ));
                self.roots.len() - 1
            }
        };
        &mut self.roots[idx].1
    }

    /// The root of a mode (empty node when the mode has no commands).
    pub fn root(&self, mode: Mode) -> Option<&Node<H>> {
        self.roots.iter().find(|(m, _)| *m == mode).map(|(_, n)| n)
    }

    /// Adds a command (in every mode it lists).
    pub fn add(&mut self, def: &CommandDef<H>) {
        for &mode in def.modes {
            let mut node = self.root_mut(mode);
            node.min_privilege = node.min_privilege.min(def.privilege);
            for &(spec, help) in def.path {
                let token = parse_spec(spec);
                let pos = node.children.iter().position(|c| c.token == token);
                let idx = match pos {
                    Some(i) => i,
                    None => {
                        node.children.push(Node {
                            token,
                            help,
                            children: Vec::new(),
                            command: None,
                            min_privilege: def.privilege,
                            admin_only: false,
                        });
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[idx];
                node.min_privilege = node.min_privilege.min(def.privilege);
            }
            node.command = Some((def.handler, def.privilege));
        }
    }

    /// Marks the keyword node at `path` of `mode` (and so everything below it) as for
    /// administrators only; false when there is no such node.
    pub fn mark_admin_only(&mut self, mode: Mode, path: &[&str]) -> bool {
        let Some(mut node) = self.roots.iter_mut().find(|(m, _)| *m == mode).map(|(_, n)| n) else {
            return false;
        };
        for word in path {
            match node.children.iter_mut().find(|c| matches!(c.token, Token::Keyword(k) if k == *word)) {
                Some(c) => node = c,
                None => return false,
            }
        }
        node.admin_only = true;
        true
    }

    /// Matches one word among the visible children of `node`.
    fn step<'n>(node: &'n Node<H>, word: &str, privilege: u8, choices: &dyn Choices) -> Step<'n, H> {
        let visible = || node.children.iter().filter(|c| c.min_privilege <= privilege);
        let lower = word.to_ascii_lowercase();
        // 1. exact keyword
        if let Some(n) = visible().find(|c| matches!(c.token, Token::Keyword(k) if k == lower)) {
            return Step::Matched(n, None);
        }
        // 2. exact dynamic choice
        for n in visible() {
            if let Token::Param { kind, .. } = n.token {
                if kind.dynamic() && choices.choices(kind).iter().any(|c| c.value == word) {
                    return Step::Matched(n, Some(word.to_string()));
                }
            }
        }
        // 3. keyword prefix
        let prefixed: Vec<&Node<H>> =
            visible().filter(|c| matches!(c.token, Token::Keyword(k) if k.starts_with(&lower))).collect();
        if prefixed.len() == 1 {
            return Step::Matched(prefixed[0], None);
        }
        if prefixed.len() > 1 {
            return Step::Ambiguous;
        }
        // 4. parameters; a dynamic parameter completes a unique prefix of a choice.
        for n in visible() {
            if let Token::Param { kind, .. } = n.token {
                if kind.dynamic() {
                    let m: Vec<Choice> =
                        choices.choices(kind).into_iter().filter(|c| c.value.starts_with(word)).collect();
                    if m.len() == 1 {
                        return Step::Matched(n, Some(m[0].value.clone()));
                    }
                }
                if kind.accepts(word) {
                    return Step::Matched(n, Some(word.to_string()));
                }
            }
        }
        Step::NoMatch
    }

    /// Parses a whole line in `mode` at `privilege`.
    pub fn parse(&self, mode: Mode, line: &str, privilege: u8, choices: &dyn Choices) -> Parsed<H> {
        let words = split_words(line);
        if words.is_empty() {
            return Parsed::Empty;
        }
        let Some(root) = self.root(mode) else { return Parsed::Invalid { col: words[0].col } };
        let mut node = root;
        let mut args = Args::default();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            match Self::step(node, w.text, privilege, choices) {
                Step::Matched(n, value) => {
                    match (&n.token, value) {
                        (Token::Keyword(k), _) => {
                            if i == 0 && *k == "no" {
                                args.negated = true;
                            }
                            args.keywords.push(k);
                        }
                        (Token::Param { name, kind: ParamKind::Line }, _) => {
                            args.values.push((name, line[w.col..].trim_end().to_string()));
                            i = words.len();
                            node = n;
                            continue;
                        }
                        (Token::Param { name, .. }, Some(v)) => args.values.push((name, v)),
                        (Token::Param { name, .. }, None) => args.values.push((name, w.text.to_string())),
                    }
                    node = n;
                }
                Step::Ambiguous => return Parsed::Ambiguous,
                Step::NoMatch => return Parsed::Invalid { col: w.col },
            }
            i += 1;
        }
        match node.command {
            Some((handler, p)) if p <= privilege => Parsed::Command { handler, privilege: p, args },
            _ => Parsed::Incomplete,
        }
    }

    /// Walks the complete words of `line` (all but a trailing partial word) and returns the
    /// node reached, or the parse problem.
    fn walk<'n>(
        &'n self,
        mode: Mode,
        words: &[Word<'_>],
        privilege: u8,
        choices: &dyn Choices,
    ) -> Result<&'n Node<H>, Parsed<H>> {
        let Some(mut node) = self.root(mode) else { return Err(Parsed::Invalid { col: 0 }) };
        for w in words {
            if matches!(node.token, Token::Param { kind: ParamKind::Line, .. }) {
                continue;
            }
            match Self::step(node, w.text, privilege, choices) {
                Step::Matched(n, _) => node = n,
                Step::Ambiguous => return Err(Parsed::Ambiguous),
                Step::NoMatch => return Err(Parsed::Invalid { col: w.col }),
            }
        }
        Ok(node)
    }

    /// `?` help for the text before the cursor. With a trailing space (or nothing typed): the
    /// possible next words, each with its help, and `<cr>` when the command may end here.
    /// After a partial word: the words that complete it. `Err` carries a parse problem.
    pub fn help(
        &self,
        mode: Mode,
        line: &str,
        privilege: u8,
        choices: &dyn Choices,
    ) -> Result<Help, Parsed<H>> {
        let words = split_words(line);
        let partial = !line.is_empty() && !line.ends_with(char::is_whitespace);
        let (complete, last) =
            if partial { (&words[..words.len() - 1], words.last()) } else { (&words[..], None) };
        let node = self.walk(mode, complete, privilege, choices)?;
        if matches!(node.token, Token::Param { kind: ParamKind::Line, .. }) && !complete.is_empty() {
            return Ok(Help::Next(vec![("<cr>".into(), String::new())]));
        }
        let mut entries: Vec<(String, String)> = Vec::new();
        let admin = choices.admin();
        for c in node.children.iter().filter(|c| c.min_privilege <= privilege && (admin || !c.admin_only)) {
            match c.token {
                Token::Keyword(k) => entries.push((k.to_string(), c.help.to_string())),
                Token::Param { kind, .. } => {
                    if kind.dynamic() {
                        for ch in choices.choices(kind) {
                            entries.push((ch.value, ch.help));
                        }
                    } else {
                        entries.push((kind.label(), c.help.to_string()));
                    }
                }
            }
        }
        match last {
            Some(w) => {
                let lower = w.text.to_ascii_lowercase();
                let mut names: Vec<String> = entries
                    .into_iter()
                    .map(|(n, _)| n)
                    .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
                    .collect();
                names.sort();
                names.dedup();
                if names.is_empty() {
                    return Err(Parsed::Invalid { col: w.col });
                }
                Ok(Help::Words(names))
            }
            None => {
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.dedup_by(|a, b| a.0 == b.0);
                if node.command.is_some_and(|(_, p)| p <= privilege) {
                    entries.push(("<cr>".into(), String::new()));
                }
                Ok(Help::Next(entries))
            }
        }
    }

    /// Tab completion: the byte offset where the partial last word starts and the words that
    /// complete it (keywords and dynamic choices only, never parameter labels).
    pub fn complete(
        &self,
        mode: Mode,
        line: &str,
        privilege: u8,
        choices: &dyn Choices,
    ) -> (usize, Vec<String>) {
        let words = split_words(line);
        let partial = !line.is_empty() && !line.ends_with(char::is_whitespace);
        let (complete, start, prefix) = match (partial, words.last()) {
            (true, Some(w)) => (&words[..words.len() - 1], w.col, w.text),
            _ => (&words[..], line.len(), ""),
        };
        let Ok(node) = self.walk(mode, complete, privilege, choices) else { return (start, Vec::new()) };
        let lower = prefix.to_ascii_lowercase();
        let mut out = Vec::new();
        let admin = choices.admin();
        for c in node.children.iter().filter(|c| c.min_privilege <= privilege && (admin || !c.admin_only)) {
            match c.token {
                Token::Keyword(k) if k.starts_with(&lower) => out.push(k.to_string()),
                Token::Param { kind, .. } if kind.dynamic() => out.extend(
                    choices.choices(kind).into_iter().map(|c| c.value).filter(|v| v.starts_with(prefix)),
                ),
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        (start, out)
    }
}

/// What `?` shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Help {
    /// Next words with help (`  route   IP routing table`).
    Next(Vec<(String, String)>),
    /// Completions of a partial word (`show  `).
    Words(Vec<String>),
}

impl Help {
    /// Renders as IOS does.
    pub fn render(&self) -> String {
        match self {
            Help::Next(entries) => {
                let width = entries.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                let mut s = String::new();
                for (n, h) in entries {
                    if h.is_empty() {
                        s.push_str(&format!("  {n}\n"));
                    } else {
                        s.push_str(&format!("  {n:<width$}  {h}\n"));
                    }
                }
                s
            }
            Help::Words(words) => {
                let mut s = String::new();
                for w in words {
                    s.push_str(w);
                    s.push_str("  ");
                }
                s.push('\n');
                s
            }
        }
    }
}

fn parse_spec(spec: &'static str) -> Token {
    match spec.split_once(':') {
        None => Token::Keyword(spec),
        Some((name, kind)) => {
            let kind = match kind {
                "WORD" => ParamKind::Word,
                "LINE" => ParamKind::Line,
                "IPV4" => ParamKind::Ipv4,
                "PREFIX" => ParamKind::Prefix,
                "IFACE" => ParamKind::Interface,
                "VRF" => ParamKind::Vrf,
                range => {
                    let r = range.trim_start_matches('<').trim_end_matches('>');
                    let (a, b) = r.split_once('-').unwrap_or(("0", "0"));
                    ParamKind::Number { min: a.parse().unwrap_or(0), max: b.parse().unwrap_or(0) }
                }
            };
            Token::Param { name, kind }
        }
    }
}

/// The longest common prefix of completion candidates.
pub fn common_prefix(words: &[String]) -> String {
    let Some(first) = words.first() else { return String::new() };
    let mut len = first.len();
    for w in &words[1..] {
        len = len.min(first.bytes().zip(w.bytes()).take_while(|(a, b)| a == b).count());
    }
    first[..len].to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tree() -> CommandTree<u8> {
        let mut t = CommandTree::new();
        let defs: [CommandDef<u8>; 7] = [
            CommandDef {
                modes: &[Mode::Exec],
                path: &[
                    ("show", "Show running system information"),
                    ("version", "System hardware and software status"),
                ],
                privilege: 1,
                handler: 1,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[("show", ""), ("ip", "IP information"), ("route", "IP routing table")],
                privilege: 1,
                handler: 2,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[
                    ("show", ""),
                    ("ip", ""),
                    ("route", ""),
                    ("vrf", "VPN Routing/Forwarding instance"),
                    ("vrf:VRF", "VRF name"),
                ],
                privilege: 1,
                handler: 3,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[("show", ""), ("interfaces", "Interface status and configuration")],
                privilege: 1,
                handler: 4,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[
                    ("configure", "Enter configuration mode"),
                    ("terminal", "Configure from the terminal"),
                ],
                privilege: 15,
                handler: 5,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[
                    ("terminal", "Set terminal line parameters"),
                    ("length", "Set number of lines"),
                    ("n:<0-512>", "Number of lines on screen (0 for no pausing)"),
                ],
                privilege: 1,
                handler: 6,
            },
            CommandDef {
                modes: &[Mode::Exec],
                path: &[("ping", "Send echo messages"), ("addr:IPV4", "Ping destination address")],
                privilege: 1,
                handler: 7,
            },
        ];
        for d in &defs {
            t.add(d);
        }
        t
    }

    struct Vrfs;
    impl Choices for Vrfs {
        fn choices(&self, kind: ParamKind) -> Vec<Choice> {
            match kind {
                ParamKind::Vrf => vec![
                    Choice { value: "y".into(), help: "tenant y".into() },
                    Choice { value: "z".into(), help: "tenant z".into() },
                ],
                _ => vec![],
            }
        }
    }

    #[test]
    fn abbreviations_and_errors() {
        let t = tree();
        match t.parse(Mode::Exec, "sh ip ro", 15, &Vrfs) {
            Parsed::Command { handler, args, .. } => {
                assert_eq!(handler, 2);
                assert_eq!(args.keywords, vec!["show", "ip", "route"]);
            }
            other => panic!("{other:?}"),
        }
        match t.parse(Mode::Exec, "show ip route vrf z", 15, &Vrfs) {
            Parsed::Command { handler, args, .. } => {
                assert_eq!(handler, 3);
                assert_eq!(args.get("vrf"), Some("z"));
            }
            other => panic!("{other:?}"),
        }
        // Unknown vrf names parse (the handler refuses them with a message).
        assert!(matches!(
            t.parse(Mode::Exec, "show ip route vrf q", 15, &Vrfs),
            Parsed::Command { handler: 3, .. }
        ));
        assert_eq!(t.parse(Mode::Exec, "show", 15, &Vrfs), Parsed::Incomplete);
        assert_eq!(t.parse(Mode::Exec, "s", 15, &Vrfs), Parsed::Incomplete);
        assert_eq!(t.parse(Mode::Exec, "te", 15, &Vrfs), Parsed::Incomplete);
        assert_eq!(t.parse(Mode::Exec, "show ip bogus", 15, &Vrfs), Parsed::Invalid { col: 8 });
        assert_eq!(t.parse(Mode::Exec, "  show  foo", 15, &Vrfs), Parsed::Invalid { col: 8 });
        assert_eq!(t.parse(Mode::Exec, "terminal length 513", 15, &Vrfs), Parsed::Invalid { col: 16 });
        assert_eq!(t.parse(Mode::Exec, "ping 10.0.0.300", 15, &Vrfs), Parsed::Invalid { col: 5 });
        // configure is invisible at privilege 1.
        assert_eq!(t.parse(Mode::Exec, "conf t", 1, &Vrfs), Parsed::Invalid { col: 0 });
        assert!(matches!(t.parse(Mode::Exec, "conf t", 15, &Vrfs), Parsed::Command { handler: 5, .. }));
        assert_eq!(t.parse(Mode::Exec, "   ", 15, &Vrfs), Parsed::Empty);
    }

    #[test]
    fn ambiguous_prefix() {
        let t = tree();
        // "s" only matches "show" at this level, "c" only "configure"; "t" is terminal.
        assert!(matches!(t.parse(Mode::Exec, "s v", 15, &Vrfs), Parsed::Command { handler: 1, .. }));
        assert_eq!(t.parse(Mode::Exec, "show i", 15, &Vrfs), Parsed::Ambiguous);
    }

    #[test]
    fn help_lists_next_words() {
        let t = tree();
        let h = t.help(Mode::Exec, "show ip ", 15, &Vrfs).unwrap();
        assert_eq!(h.render(), "  route  IP routing table\n");
        let h = t.help(Mode::Exec, "show ip route ", 15, &Vrfs).unwrap();
        assert_eq!(h.render(), "  vrf   VPN Routing/Forwarding instance\n  <cr>\n");
        let h = t.help(Mode::Exec, "show ip route vrf ", 15, &Vrfs).unwrap();
        assert_eq!(h.render(), "  y  tenant y\n  z  tenant z\n");
        let h = t.help(Mode::Exec, "sh", 15, &Vrfs).unwrap();
        assert_eq!(h.render(), "show  \n");
        let h = t.help(Mode::Exec, "", 1, &Vrfs).unwrap();
        assert!(!h.render().contains("configure"));
        let h = t.help(Mode::Exec, "terminal length ", 1, &Vrfs).unwrap();
        assert_eq!(h.render(), "  <0-512>  Number of lines on screen (0 for no pausing)\n");
        assert_eq!(t.help(Mode::Exec, "show bogus ", 15, &Vrfs), Err(Parsed::Invalid { col: 5 }));
    }

    #[test]
    fn completion() {
        let t = tree();
        assert_eq!(t.complete(Mode::Exec, "conf", 15, &Vrfs), (0, vec!["configure".to_string()]));
        assert_eq!(t.complete(Mode::Exec, "conf", 1, &Vrfs), (0, vec![]));
        assert_eq!(t.complete(Mode::Exec, "sh ip ro", 15, &Vrfs), (6, vec!["route".to_string()]));
        assert_eq!(t.complete(Mode::Exec, "show i", 15, &Vrfs).1, vec!["interfaces", "ip"]);
        assert_eq!(common_prefix(&["interfaces".into(), "ip".into()]), "i");
        assert_eq!(t.complete(Mode::Exec, "show ip route vrf ", 15, &Vrfs).1, vec!["y", "z"]);
    }

    #[test]
    fn words_and_columns() {
        let w = split_words("  sh  ip\tro ");
        assert_eq!(
            w.iter().map(|w| (w.col, w.text)).collect::<Vec<_>>(),
            vec![(2, "sh"), (6, "ip"), (9, "ro")]
        );
    }
}
