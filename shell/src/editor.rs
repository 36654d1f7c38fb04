//! The telnet side's line editor: a byte-at-a-time state machine (insert, backspace, Ctrl-A/E/
//! U/W/B/F/D, arrow keys, history, Tab completion, `?` help, Ctrl-C/Ctrl-Z) writing the echo
//! bytes a character-mode telnet client needs. I/O-free so tests and benches drive it.

/// Most history lines kept per session.
pub const HISTORY_MAX: usize = 20;
/// Unexpected bytes (non-ASCII, unknown controls) tolerated in one line before the input is
/// treated as binary garbage.
pub const GARBAGE_MAX: usize = 32;

/// Completion and help over the shared command tree.
pub trait LineCompleter {
    /// Where the word under completion starts and its candidates.
    fn complete(&self, line: &str) -> (usize, Vec<String>);
    /// The text `?` prints for `line`.
    fn help(&self, line: &str) -> String;
}

/// No completion (login prompts).
pub struct NoCompletion;
impl LineCompleter for NoCompletion {
    fn complete(&self, line: &str) -> (usize, Vec<String>) {
        (line.len(), Vec::new())
    }
    fn help(&self, _line: &str) -> String {
        String::new()
    }
}

/// What a key produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditEvent {
    /// Nothing to do for the caller.
    None,
    /// Enter: the finished line.
    Line(String),
    /// Ctrl-C: line abandoned.
    Interrupt,
    /// Ctrl-Z: leave configuration mode.
    EndConfig,
    /// Ctrl-D on an empty line.
    Eof,
    /// The line grew past the limit.
    TooLong,
    /// Too many bytes that are not keyboard input.
    Garbage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)]
enum Esc {
    None,
    Esc,
    /// `ESC [` or `ESC O`, collecting parameter bytes.
    Csi(u8),
}

/// One line being edited, plus the session's history.
pub struct LineEditor {
    buf: Vec<u8>,
    cursor: usize,
    history: Vec<String>,
    /// Position while browsing history (== len: the line being typed).
    hist_pos: usize,
    saved: Vec<u8>,
    esc: Esc,
    last_cr: bool,
    garbage: usize,
    max_len: usize,
    /// When false (passwords) nothing is echoed and Tab/`?` are plain characters.
    pub echo: bool,
    /// When false `?`/Tab are plain characters (login name).
    pub completion: bool,
    prompt: String,
}

impl LineEditor {
    pub fn new(max_len: usize) -> LineEditor {
        LineEditor {
            buf: Vec::with_capacity(128),
            cursor: 0,
            history: Vec::new(),
            hist_pos: 0,
            saved: Vec::new(),
            esc: Esc::None,
            last_cr: false,
            garbage: 0,
            max_len,
            echo: true,
            completion: true,
            prompt: String::new(),
        }
    }

    /// Starts a new line after `prompt` (used to redraw after help or a completion list).
    pub fn start(&mut self, prompt: &str) {
        self.buf.clear();
        self.cursor = 0;
        self.hist_pos = self.history.len();
        self.esc = Esc::None;
        self.garbage = 0;
        self.prompt.clear();
        self.prompt.push_str(prompt);
    }

    /// The line typed so far.
    pub fn line(&self) -> &str {
        std::str::from_utf8(&self.buf).unwrap_or("")
    }

    /// The cursor position (bytes).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// History, oldest first.
    pub fn history(&self) -> &[String] {
        &self.history
    }

    fn push_history(&mut self, line: &str) {
        if line.trim().is_empty() || self.history.last().is_some_and(|l| l == line) {
            return;
        }
        if self.history.len() >= HISTORY_MAX {
            self.history.remove(0);
        }
        self.history.push(line.to_string());
    }

    fn back(out: &mut Vec<u8>, n: usize) {
        out.extend(std::iter::repeat_n(b'\x08', n));
    }

    fn insert(&mut self, c: u8, out: &mut Vec<u8>) -> EditEvent {
        if self.buf.len() >= self.max_len {
            return EditEvent::TooLong;
        }
        self.buf.insert(self.cursor, c);
        self.cursor += 1;
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor - 1..]);
            Self::back(out, self.buf.len() - self.cursor);
        }
        EditEvent::None
    }

    fn delete_before(&mut self, n: usize, out: &mut Vec<u8>) {
        let n = n.min(self.cursor);
        if n == 0 {
            return;
        }
        self.buf.drain(self.cursor - n..self.cursor);
        self.cursor -= n;
        if self.echo {
            Self::back(out, n);
            out.extend_from_slice(&self.buf[self.cursor..]);
            out.extend(std::iter::repeat_n(b' ', n));
            Self::back(out, self.buf.len() - self.cursor + n);
        }
    }

    fn delete_at(&mut self, out: &mut Vec<u8>) {
        if self.cursor >= self.buf.len() {
            return;
        }
        self.buf.remove(self.cursor);
        if self.echo {
            out.extend_from_slice(&self.buf[self.cursor..]);
            out.push(b' ');
            Self::back(out, self.buf.len() - self.cursor + 1);
        }
    }

    fn move_to(&mut self, pos: usize, out: &mut Vec<u8>) {
        let pos = pos.min(self.buf.len());
        if self.echo {
            if pos < self.cursor {
                Self::back(out, self.cursor - pos);
            } else {
                out.extend_from_slice(&self.buf[self.cursor..pos]);
            }
        }
        self.cursor = pos;
    }

    /// Replaces the whole line on screen.
    fn replace(&mut self, new: &[u8], out: &mut Vec<u8>) {
        let old_len = self.buf.len();
        self.move_to(0, out);
        self.buf.clear();
        self.buf.extend_from_slice(&new[..new.len().min(self.max_len)]);
        self.cursor = self.buf.len();
        if self.echo {
            out.extend_from_slice(&self.buf);
            if old_len > self.buf.len() {
                let extra = old_len - self.buf.len();
                out.extend(std::iter::repeat_n(b' ', extra));
                Self::back(out, extra);
            }
        }
    }

    fn redraw(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prompt.as_bytes());
        out.extend_from_slice(&self.buf);
        Self::back(out, self.buf.len() - self.cursor);
    }

    fn history_move(&mut self, up: bool, out: &mut Vec<u8>) {
        if up {
            if self.hist_pos == 0 {
                out.push(0x07);
                return;
            }
            if self.hist_pos == self.history.len() {
                self.saved = self.buf.clone();
            }
            self.hist_pos -= 1;
            let l = self.history[self.hist_pos].clone().into_bytes();
            self.replace(&l, out);
        } else {
            if self.hist_pos >= self.history.len() {
                out.push(0x07);
                return;
            }
            self.hist_pos += 1;
            let l = if self.hist_pos == self.history.len() {
                std::mem::take(&mut self.saved)
            } else {
                self.history[self.hist_pos].clone().into_bytes()
            };
            self.replace(&l, out);
        }
    }

    fn tab(&mut self, completer: &dyn LineCompleter, out: &mut Vec<u8>) -> EditEvent {
        let before = String::from_utf8_lossy(&self.buf[..self.cursor]).into_owned();
        let (start, cands) = completer.complete(&before);
        let start = start.min(self.cursor);
        let typed = self.cursor - start;
        match cands.len() {
            0 => out.push(0x07),
            1 => {
                let mut word = cands[0].clone().into_bytes();
                word.push(b' ');
                return self.replace_word(start, typed, &word, out);
            }
            _ => {
                let common = crate::tree::common_prefix(&cands);
                if common.len() > typed {
                    return self.replace_word(start, typed, common.as_bytes(), out);
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(cands.join("  ").as_bytes());
                out.extend_from_slice(b"\r\n");
                self.redraw(out);
            }
        }
        EditEvent::None
    }

    fn replace_word(&mut self, start: usize, typed: usize, word: &[u8], out: &mut Vec<u8>) -> EditEvent {
        if self.buf.len() - typed + word.len() > self.max_len {
            out.push(0x07);
            return EditEvent::None;
        }
        self.delete_before(typed, out);
        debug_assert_eq!(self.cursor, start);
        for &c in word {
            self.insert(c, out);
        }
        EditEvent::None
    }

    fn help(&mut self, completer: &dyn LineCompleter, out: &mut Vec<u8>) {
        let before = String::from_utf8_lossy(&self.buf[..self.cursor]).into_owned();
        let text = completer.help(&before);
        // The cursor goes to the end of the line first, as IOS does.
        self.move_to(self.buf.len(), out);
        out.extend_from_slice(b"?\r\n");
        push_crlf(out, &text);
        self.redraw(out);
    }

    /// Feeds one input byte (telnet commands already removed).
    pub fn feed(&mut self, b: u8, completer: &dyn LineCompleter, out: &mut Vec<u8>) -> EditEvent {
        let after_cr = std::mem::replace(&mut self.last_cr, false);
        match self.esc {
            Esc::Esc => {
                self.esc = if b == b'[' || b == b'O' { Esc::Csi(0) } else { Esc::None };
                return EditEvent::None;
            }
            Esc::Csi(n) => {
                if b.is_ascii_digit() || b == b';' {
                    // Parameter bytes; a runaway sequence is garbage.
                    if n > 8 {
                        self.esc = Esc::None;
                        return self.garbage_byte();
                    }
                    self.esc = Esc::Csi(n + 1);
                    return EditEvent::None;
                }
                self.esc = Esc::None;
                match b {
                    b'A' => self.history_move(true, out),
                    b'B' => self.history_move(false, out),
                    b'C' => self.move_to(self.cursor + 1, out),
                    b'D' => self.move_to(self.cursor.saturating_sub(1), out),
                    b'H' => self.move_to(0, out),
                    b'F' => self.move_to(self.buf.len(), out),
                    b'~' => self.delete_at(out), // ESC [ 3 ~ (Delete); other ~ keys are harmless.
                    _ => {}
                }
                return EditEvent::None;
            }
            Esc::None => {}
        }
        match b {
            b'\r' => {
                self.last_cr = true;
                self.finish()
            }
            b'\n' | 0 if after_cr => EditEvent::None,
            b'\n' => self.finish(),
            0x1b => {
                self.esc = Esc::Esc;
                EditEvent::None
            }
            0x7f | 0x08 => {
                self.delete_before(1, out);
                EditEvent::None
            }
            0x01 => {
                self.move_to(0, out);
                EditEvent::None
            }
            0x05 => {
                self.move_to(self.buf.len(), out);
                EditEvent::None
            }
            0x02 => {
                self.move_to(self.cursor.saturating_sub(1), out);
                EditEvent::None
            }
            0x06 => {
                self.move_to(self.cursor + 1, out);
                EditEvent::None
            }
            0x10 => {
                self.history_move(true, out);
                EditEvent::None
            }
            0x0e => {
                self.history_move(false, out);
                EditEvent::None
            }
            0x15 => {
                self.delete_before(self.cursor, out);
                EditEvent::None
            }
            0x17 => {
                let mut i = self.cursor;
                while i > 0 && self.buf[i - 1] == b' ' {
                    i -= 1;
                }
                while i > 0 && self.buf[i - 1] != b' ' {
                    i -= 1;
                }
                self.delete_before(self.cursor - i, out);
                EditEvent::None
            }
            0x04 => {
                if self.buf.is_empty() {
                    EditEvent::Eof
                } else {
                    self.delete_at(out);
                    EditEvent::None
                }
            }
            0x03 => {
                if self.echo {
                    out.extend_from_slice(b"^C\r\n");
                }
                self.buf.clear();
                self.cursor = 0;
                EditEvent::Interrupt
            }
            0x1a => {
                if self.echo {
                    out.extend_from_slice(b"^Z\r\n");
                }
                self.buf.clear();
                self.cursor = 0;
                EditEvent::EndConfig
            }
            b'\t' if self.echo && self.completion => self.tab(completer, out),
            b'?' if self.echo && self.completion => {
                self.help(completer, out);
                EditEvent::None
            }
            b'\t' => self.insert(b' ', out),
            0x20..=0x7e => self.insert(b, out),
            0x07 | 0x0c => EditEvent::None,
            _ => self.garbage_byte(),
        }
    }

    fn garbage_byte(&mut self) -> EditEvent {
        self.garbage += 1;
        if self.garbage > GARBAGE_MAX {
            EditEvent::Garbage
        } else {
            EditEvent::None
        }
    }

    fn finish(&mut self) -> EditEvent {
        let line = String::from_utf8_lossy(&self.buf).into_owned();
        if self.echo && self.completion {
            self.push_history(&line);
        }
        self.buf.clear();
        self.cursor = 0;
        self.garbage = 0;
        self.hist_pos = self.history.len();
        EditEvent::Line(line)
    }
}

/// Appends text converting `\n` to `\r\n`.
pub fn push_crlf(out: &mut Vec<u8>, text: &str) {
    for &b in text.as_bytes() {
        if b == b'\n' {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    struct Words;
    impl LineCompleter for Words {
        fn complete(&self, line: &str) -> (usize, Vec<String>) {
            let start = line.rfind(' ').map_or(0, |i| i + 1);
            let w = &line[start..];
            let all = ["configure", "show", "shutdown", "interfaces", "ip"];
            (start, all.iter().filter(|c| c.starts_with(w)).map(|c| c.to_string()).collect())
        }
        fn help(&self, line: &str) -> String {
            format!("  help for [{line}]\n")
        }
    }

    fn feed_all(e: &mut LineEditor, bytes: &[u8]) -> (Vec<EditEvent>, Vec<u8>) {
        let mut out = Vec::new();
        let mut ev = Vec::new();
        for &b in bytes {
            let r = e.feed(b, &Words, &mut out);
            if r != EditEvent::None {
                ev.push(r);
            }
        }
        (ev, out)
    }

    #[test]
    fn typing_editing_and_enter() {
        let mut e = LineEditor::new(100);
        e.start("R#");
        let (ev, out) = feed_all(&mut e, b"shw\x08\x08how ip\r\n");
        assert_eq!(ev, vec![EditEvent::Line("show ip".into())]);
        assert_eq!(&out[..3], b"shw");
        // Ctrl-A, insert at start, Ctrl-E, Ctrl-W, Ctrl-U.
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"how\x01s\x05 ip route\x17\x17int\r");
        assert_eq!(ev, vec![EditEvent::Line("show int".into())]);
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"garbage\x15sh\r\0");
        assert_eq!(ev, vec![EditEvent::Line("sh".into())]);
        // Arrows left/right, Delete key.
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"shXow\x1b[D\x1b[D\x1b[D\x1b[3~\x1b[C\r");
        assert_eq!(ev, vec![EditEvent::Line("show".into())]);
    }

    #[test]
    fn history_up_down() {
        let mut e = LineEditor::new(100);
        e.start("R#");
        feed_all(&mut e, b"show version\rshow clock\r");
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"sh\x1b[A\x1b[A\r");
        assert_eq!(ev, vec![EditEvent::Line("show version".into())]);
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"abc\x1b[A\x1b[B\r");
        assert_eq!(ev, vec![EditEvent::Line("abc".into())]);
        assert_eq!(e.history(), &["show version", "show clock", "show version", "abc"]);
    }

    #[test]
    fn tab_and_help() {
        let mut e = LineEditor::new(100);
        e.start("R#");
        let (ev, out) = feed_all(&mut e, b"conf\t");
        assert!(ev.is_empty());
        assert_eq!(e.line(), "configure ");
        assert_eq!(String::from_utf8_lossy(&out), "conf\x08\x08\x08\x08    \x08\x08\x08\x08configure ");
        e.start("R#");
        let (_, out) = feed_all(&mut e, b"sh\t");
        // "show"/"shutdown" share "sh": nothing added, list shown and line redrawn.
        assert_eq!(String::from_utf8_lossy(&out), "sh\r\nshow  shutdown\r\nR#sh");
        e.start("R#");
        let (_, out) = feed_all(&mut e, b"show ?");
        assert_eq!(String::from_utf8_lossy(&out), "show ?\r\n  help for [show ]\r\nR#show ");
        assert_eq!(e.line(), "show ");
    }

    #[test]
    fn limits_and_garbage() {
        let mut e = LineEditor::new(8);
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"123456789");
        assert_eq!(ev, vec![EditEvent::TooLong]);
        let mut e = LineEditor::new(100);
        e.start("R#");
        let (ev, _) = feed_all(&mut e, &[0x80u8; 40]);
        assert_eq!(ev.first(), Some(&EditEvent::Garbage));
        assert_eq!(ev.len(), 40 - GARBAGE_MAX);
        e.start("R#");
        let (ev, _) = feed_all(&mut e, b"x\x03");
        assert_eq!(ev, vec![EditEvent::Interrupt]);
        let (ev, _) = feed_all(&mut e, b"\x04");
        assert_eq!(ev, vec![EditEvent::Eof]);
        // Password mode echoes nothing and keeps ? literally.
        e.start("Password: ");
        e.echo = false;
        let (ev, out) = feed_all(&mut e, b"a?b\t\r");
        assert_eq!(ev, vec![EditEvent::Line("a?b ".into())]);
        assert!(out.is_empty());
    }
}
