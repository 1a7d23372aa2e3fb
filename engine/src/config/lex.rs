//! The config lexer: a state-for-state port of nats-server 2.9's `conf/lex.go`, quirks
//! included, so a file lexes (and fails to lex) exactly as it does for nats-server.
//!
//! Notable quirks kept on purpose (all checked against nats-server 2.9.10):
//! * an integer directly followed by `]` is not an integer: `[1]` lexes `1]` as a string and
//!   then fails at EOF; `[1, 2 ]` and `[1.5]` are fine;
//! * `1k`, `2m` (no quotes) are integers with a size suffix; `10s`, `1h30m` are strings;
//! * a `'` ends a bare string; a lone `/` after a value is skipped like whitespace;
//! * `{` at the top level is skipped, and a trailing `}` is a key without a value;
//! * a block string `( ... )` ends at a `)` alone at the start of a line, and keeps the
//!   newline before it (and the `)` itself when it is the last byte of the file);
//! * item positions are byte offsets from the newline that starts the line (0-based on the
//!   first line, 1-based after), exactly what nats-server prints in `file:line:col`.

use crate::prelude::*;
use alloc::collections::VecDeque;

/// What nats-server's lexer returns for end of input (and also for a NUL byte).
const EOF: char = '\0';

/// Kinds of lexed items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemType {
    Error,
    Eof,
    Key,
    Text,
    String,
    Bool,
    Integer,
    Float,
    Datetime,
    ArrayStart,
    ArrayEnd,
    MapStart,
    MapEnd,
    CommentStart,
    Variable,
    Include,
}

/// One lexed item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub typ: ItemType,
    pub val: String,
    pub line: usize,
    /// nats-server's position: byte offset from the start-of-line newline (may be off
    /// after escapes, as in nats-server; clamped at 0).
    pub pos: usize,
}

/// Lexer states (the Go `stateFn`s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Top,
    TopValueEnd,
    KeyStart,
    DubQuotedKey,
    QuotedKey,
    Key,
    KeyEnd,
    Value,
    ArrayValue,
    ArrayValueEnd,
    ArrayEnd,
    MapKeyStart,
    MapQuotedKey,
    MapDubQuotedKey,
    MapKey,
    MapKeyEnd,
    MapValue,
    MapValueEnd,
    MapEnd,
    IncludeStart,
    Include,
    IncludeQuotedString,
    IncludeDubQuotedString,
    IncludeString,
    String,
    DubQuotedString,
    QuotedString,
    StringEscape,
    StringBinary,
    Block,
    NumberOrDateOrStringOrIpStart,
    NumberOrDateOrStringOrIp,
    DateAfterYear,
    NegNumberStart,
    NegNumber,
    FloatStart,
    Float,
    IpAddr,
    ConvenientNumber,
    CommentStart,
    Comment,
}

/// The lexer over one input.
pub(crate) struct Lexer<'a> {
    input: &'a [u8],
    start: usize,
    pos: usize,
    width: usize,
    line: usize,
    /// `None` once lexing stopped (after an error or EOF item).
    state: Option<State>,
    items: VecDeque<Item>,
    stack: Vec<State>,
    string_parts: Vec<u8>,
    has_parts: bool,
    string_state: State,
    lstart: usize,
    ilstart: usize,
}

fn is_whitespace(r: char) -> bool {
    r == '\t' || r == ' '
}

fn is_nl(r: char) -> bool {
    r == '\n' || r == '\r'
}

/// Go's `unicode.IsSpace` (the Unicode White_Space property, like Rust's).
fn is_space(r: char) -> bool {
    r.is_whitespace()
}

fn is_digit(r: char) -> bool {
    r.is_ascii_digit()
}

fn is_key_separator(r: char) -> bool {
    r == '=' || r == ':'
}

fn is_number_suffix(r: char) -> bool {
    matches!(
        r,
        'k' | 'K' | 'm' | 'M' | 'g' | 'G' | 't' | 'T' | 'p' | 'P' | 'e' | 'E'
    )
}

/// A character as nats-server prints it in lexer errors.
fn esc(r: char) -> String {
    if r == '\n' {
        "\\n".to_string()
    } else {
        r.to_string()
    }
}

/// Decode one UTF-8 character at the start of `b` like Go's `utf8.DecodeRune`: invalid or
/// truncated sequences give U+FFFD with width 1.
fn decode_rune(b: &[u8]) -> (char, usize) {
    let first = match b.first() {
        Some(&c) => c,
        None => return (EOF, 0),
    };
    if first < 0x80 {
        return (first as char, 1);
    }
    let len = match first {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return ('\u{FFFD}', 1),
    };
    if b.len() < len {
        return ('\u{FFFD}', 1);
    }
    match core::str::from_utf8(&b[..len]) {
        Ok(s) => match s.chars().next() {
            Some(c) => (c, len),
            None => ('\u{FFFD}', 1),
        },
        Err(_) => ('\u{FFFD}', 1),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl<'a> Lexer<'a> {
    /// A lexer over `input`.
    pub fn new(input: &'a str) -> Self {
        Lexer {
            input: input.as_bytes(),
            start: 0,
            pos: 0,
            width: 0,
            line: 1,
            state: Some(State::Top),
            items: VecDeque::new(),
            stack: Vec::new(),
            string_parts: Vec::new(),
            has_parts: false,
            string_state: State::String,
            lstart: 0,
            ilstart: 0,
        }
    }

    /// The next item; after an `Error` or `Eof` item, keeps returning `Eof`.
    pub fn next_item(&mut self) -> Item {
        loop {
            if let Some(item) = self.items.pop_front() {
                return item;
            }
            match self.state {
                Some(state) => self.state = self.step(state),
                None => {
                    return Item {
                        typ: ItemType::Eof,
                        val: String::new(),
                        line: self.line,
                        pos: 0,
                    }
                }
            }
        }
    }

    fn push(&mut self, s: State) {
        self.stack.push(s);
    }

    fn pop(&mut self) -> Option<State> {
        match self.stack.pop() {
            Some(s) => Some(s),
            None => self.errorf("BUG in lexer: no states to pop.".to_string()),
        }
    }

    fn item_pos(&self, val_len: usize) -> usize {
        self.pos
            .saturating_sub(self.ilstart)
            .saturating_sub(val_len)
    }

    fn emit(&mut self, typ: ItemType) {
        let mut val = if self.has_parts {
            self.string_parts.clone()
        } else {
            Vec::new()
        };
        val.extend_from_slice(self.slice(self.start, self.pos));
        let pos = self.item_pos(val.len());
        self.items.push_back(Item {
            typ,
            val: lossy(&val),
            line: self.line,
            pos,
        });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn emit_string(&mut self) {
        let mut val = core::mem::take(&mut self.string_parts);
        self.has_parts = false;
        val.extend_from_slice(self.slice(self.start, self.pos));
        let pos = self.item_pos(val.len());
        self.items.push_back(Item {
            typ: ItemType::String,
            val: lossy(&val),
            line: self.line,
            pos,
        });
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn slice(&self, from: usize, to: usize) -> &'a [u8] {
        let to = to.min(self.input.len());
        let from = from.min(to);
        &self.input[from..to]
    }

    fn add_current_string_part(&mut self, offset: usize) {
        let part = self.slice(self.start, self.pos.saturating_sub(offset));
        self.string_parts.extend_from_slice(part);
        self.has_parts = true;
        self.start = self.pos;
    }

    fn add_string_part(&mut self, s: &[u8]) -> Option<State> {
        self.string_parts.extend_from_slice(s);
        self.has_parts = true;
        self.start = self.pos;
        Some(self.string_state)
    }

    fn next(&mut self) -> char {
        if self.pos >= self.input.len() {
            self.width = 0;
            return EOF;
        }
        if self.input[self.pos] == b'\n' {
            self.line += 1;
            self.lstart = self.pos;
        }
        let (r, w) = decode_rune(&self.input[self.pos..]);
        self.width = w;
        self.pos += w;
        r
    }

    fn ignore(&mut self) {
        self.start = self.pos;
        self.ilstart = self.lstart;
    }

    fn backup(&mut self) {
        self.pos = self.pos.saturating_sub(self.width);
        if self.pos < self.input.len() && self.input[self.pos] == b'\n' {
            self.line = self.line.saturating_sub(1);
        }
    }

    fn peek(&mut self) -> char {
        let r = self.next();
        self.backup();
        r
    }

    fn errorf(&mut self, msg: String) -> Option<State> {
        self.items.push_back(Item {
            typ: ItemType::Error,
            val: msg,
            line: self.line,
            pos: self.pos,
        });
        None
    }

    /// `pos > start` at EOF: an error; otherwise the EOF item.
    fn eof_or_error(&mut self) -> Option<State> {
        if self.pos > self.start {
            return self.errorf("Unexpected EOF.".to_string());
        }
        self.emit(ItemType::Eof);
        None
    }

    fn is_bool(&self) -> bool {
        let s = self.slice(self.start, self.pos).to_ascii_lowercase();
        matches!(&s[..], b"true" | b"false" | b"on" | b"off" | b"yes" | b"no")
    }

    fn is_variable(&mut self) -> bool {
        if self.start >= self.input.len() {
            return false;
        }
        if self.input[self.start] == b'$' {
            self.start += 1;
            return true;
        }
        false
    }

    fn key_check_keyword(&mut self, fall_through: State, push: Option<State>) -> Option<State> {
        let key = self.slice(self.start, self.pos).to_ascii_lowercase();
        if key == b"include" {
            self.ignore();
            if let Some(p) = push {
                self.push(p);
            }
            return Some(State::IncludeStart);
        }
        self.emit(ItemType::Key);
        Some(fall_through)
    }

    fn step(&mut self, state: State) -> Option<State> {
        use State as S;
        match state {
            S::Top => {
                let r = self.next();
                if is_space(r) {
                    self.ignore();
                    return Some(S::Top);
                }
                match r {
                    '{' => {
                        self.ignore();
                        return Some(S::Top);
                    }
                    '#' => {
                        self.push(S::Top);
                        return Some(S::CommentStart);
                    }
                    '/' => {
                        let rn = self.next();
                        if rn == '/' {
                            self.push(S::Top);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                        return self.eof_or_error();
                    }
                    EOF => return self.eof_or_error(),
                    _ => {}
                }
                self.backup();
                self.push(S::TopValueEnd);
                Some(S::KeyStart)
            }
            S::TopValueEnd => {
                let r = self.next();
                match r {
                    '#' => {
                        self.push(S::Top);
                        Some(S::CommentStart)
                    }
                    '/' => {
                        let rn = self.next();
                        if rn == '/' {
                            self.push(S::Top);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                        Some(S::TopValueEnd)
                    }
                    _ if is_whitespace(r) => Some(S::TopValueEnd),
                    _ if is_nl(r) || r == EOF || r == ';' || r == ',' || r == '}' => {
                        self.ignore();
                        Some(S::Top)
                    }
                    _ => self.errorf(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, but got '{}' instead.",
                        esc(r)
                    )),
                }
            }
            S::KeyStart => {
                let r = self.peek();
                if is_key_separator(r) {
                    return self.errorf(format!("Unexpected key separator '{}'", esc(r)));
                }
                if is_space(r) {
                    self.next();
                    self.ignore();
                    return Some(S::KeyStart);
                }
                if r == '"' {
                    self.next();
                    self.ignore();
                    return Some(S::DubQuotedKey);
                }
                if r == '\'' {
                    self.next();
                    self.ignore();
                    return Some(S::QuotedKey);
                }
                self.ignore();
                self.next();
                Some(S::Key)
            }
            S::DubQuotedKey | S::QuotedKey => {
                let end = if state == S::DubQuotedKey { '"' } else { '\'' };
                let r = self.peek();
                if r == end {
                    self.emit(ItemType::Key);
                    self.next();
                    self.ignore();
                    return Some(S::KeyEnd);
                } else if r == EOF {
                    return self.eof_or_error();
                }
                self.next();
                Some(state)
            }
            S::Key => {
                let r = self.peek();
                if is_space(r) {
                    return self.key_check_keyword(S::KeyEnd, None);
                } else if is_key_separator(r) || r == EOF {
                    self.emit(ItemType::Key);
                    return Some(S::KeyEnd);
                }
                self.next();
                Some(S::Key)
            }
            S::KeyEnd => {
                let r = self.next();
                if is_space(r) {
                    self.ignore();
                    return Some(S::KeyEnd);
                }
                if is_key_separator(r) {
                    self.ignore();
                    return Some(S::Value);
                }
                if r == EOF {
                    self.emit(ItemType::Eof);
                    return None;
                }
                self.backup();
                Some(S::Value)
            }
            S::Value => {
                let r = self.next();
                if is_whitespace(r) {
                    self.ignore();
                    return Some(S::Value);
                }
                match r {
                    '[' => {
                        self.ignore();
                        self.emit(ItemType::ArrayStart);
                        return Some(S::ArrayValue);
                    }
                    '{' => {
                        self.ignore();
                        self.emit(ItemType::MapStart);
                        return Some(S::MapKeyStart);
                    }
                    '\'' => {
                        self.ignore();
                        return Some(S::QuotedString);
                    }
                    '"' => {
                        self.ignore();
                        self.string_state = S::DubQuotedString;
                        return Some(S::DubQuotedString);
                    }
                    '-' => return Some(S::NegNumberStart),
                    '(' => {
                        self.ignore();
                        return Some(S::Block);
                    }
                    _ if is_digit(r) => {
                        self.backup();
                        return Some(S::NumberOrDateOrStringOrIpStart);
                    }
                    '.' => return self.errorf("Floats must start with a digit".to_string()),
                    _ if is_nl(r) => {
                        return self.errorf("Expected value but found new line".to_string())
                    }
                    _ => {}
                }
                self.backup();
                self.string_state = S::String;
                Some(S::String)
            }
            S::ArrayValue => {
                let r = self.next();
                if is_space(r) {
                    self.ignore();
                    return Some(S::ArrayValue);
                }
                match r {
                    '#' => {
                        self.push(S::ArrayValue);
                        return Some(S::CommentStart);
                    }
                    '/' => {
                        let rn = self.next();
                        if rn == '/' {
                            self.push(S::ArrayValue);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                        return self.errorf("Unexpected array value terminator ','.".to_string());
                    }
                    ',' => {
                        return self.errorf("Unexpected array value terminator ','.".to_string())
                    }
                    ']' => return Some(S::ArrayEnd),
                    _ => {}
                }
                self.backup();
                self.push(S::ArrayValueEnd);
                Some(S::Value)
            }
            S::ArrayValueEnd => {
                let r = self.next();
                match r {
                    _ if is_whitespace(r) => {
                        self.ignore();
                        Some(S::ArrayValueEnd)
                    }
                    '#' => {
                        self.push(S::ArrayValueEnd);
                        Some(S::CommentStart)
                    }
                    '/' => {
                        let rn = self.next();
                        if rn == '/' {
                            self.push(S::ArrayValueEnd);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                        self.ignore();
                        Some(S::ArrayValue)
                    }
                    _ if is_nl(r) || r == ',' => {
                        self.ignore();
                        Some(S::ArrayValue)
                    }
                    ']' => Some(S::ArrayEnd),
                    _ => self.errorf(format!(
                        "Expected an array value terminator \",\" or an array terminator \"]\", but got '{}' instead.",
                        esc(r)
                    )),
                }
            }
            S::ArrayEnd => {
                self.ignore();
                self.emit(ItemType::ArrayEnd);
                self.pop()
            }
            S::MapKeyStart => {
                let r = self.peek();
                match r {
                    _ if is_key_separator(r) => {
                        return self.errorf(format!("Unexpected key separator '{}'.", esc(r)))
                    }
                    ']' => {
                        return self
                            .errorf(format!("Unexpected array end '{}' processing map.", esc(r)))
                    }
                    _ if is_space(r) => {
                        self.next();
                        self.ignore();
                        return Some(S::MapKeyStart);
                    }
                    '}' => {
                        self.next();
                        self.ignore();
                        return Some(S::MapEnd);
                    }
                    '#' => {
                        self.next();
                        self.push(S::MapKeyStart);
                        return Some(S::CommentStart);
                    }
                    '/' => {
                        self.next();
                        let rn = self.next();
                        if rn == '/' {
                            self.ignore();
                            self.push(S::MapKeyStart);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                    }
                    '\'' => {
                        self.next();
                        self.ignore();
                        return Some(S::MapQuotedKey);
                    }
                    '"' => {
                        self.next();
                        self.ignore();
                        return Some(S::MapDubQuotedKey);
                    }
                    EOF => return self.errorf("Unexpected EOF processing map.".to_string()),
                    _ => {}
                }
                self.ignore();
                self.next();
                Some(S::MapKey)
            }
            S::MapQuotedKey | S::MapDubQuotedKey => {
                let (end, what) = if state == S::MapQuotedKey {
                    ('\'', "quoted")
                } else {
                    ('"', "double quoted")
                };
                let r = self.peek();
                if r == EOF {
                    return self.errorf(format!("Unexpected EOF processing {what} map key."));
                } else if r == end {
                    self.emit(ItemType::Key);
                    self.next();
                    self.ignore();
                    return Some(S::MapKeyEnd);
                }
                self.next();
                Some(state)
            }
            S::MapKey => {
                let r = self.peek();
                if is_space(r) {
                    return self.key_check_keyword(S::MapKeyEnd, Some(S::MapValueEnd));
                } else if r == EOF {
                    return self.errorf("Unexpected EOF processing map key.".to_string());
                } else if is_key_separator(r) {
                    self.emit(ItemType::Key);
                    return Some(S::MapKeyEnd);
                }
                self.next();
                Some(S::MapKey)
            }
            S::MapKeyEnd => {
                let r = self.next();
                if is_space(r) {
                    self.ignore();
                    return Some(S::MapKeyEnd);
                }
                if is_key_separator(r) {
                    self.ignore();
                    return Some(S::MapValue);
                }
                self.backup();
                Some(S::MapValue)
            }
            S::MapValue => {
                self.push(S::MapValueEnd);
                Some(S::Value)
            }
            S::MapValueEnd => {
                let r = self.next();
                match r {
                    _ if is_whitespace(r) => {
                        self.ignore();
                        Some(S::MapValueEnd)
                    }
                    '#' => {
                        self.push(S::MapValueEnd);
                        Some(S::CommentStart)
                    }
                    '/' => {
                        let rn = self.next();
                        if rn == '/' {
                            self.push(S::MapValueEnd);
                            return Some(S::CommentStart);
                        }
                        self.backup();
                        self.ignore();
                        Some(S::MapKeyStart)
                    }
                    _ if r == ';' || r == ',' || is_nl(r) => {
                        self.ignore();
                        Some(S::MapKeyStart)
                    }
                    '}' => {
                        self.ignore();
                        Some(S::MapEnd)
                    }
                    _ => self.errorf(format!(
                        "Expected a map value terminator \",\" or a map terminator \"}}\", but got '{}' instead.",
                        esc(r)
                    )),
                }
            }
            S::MapEnd => {
                self.ignore();
                self.emit(ItemType::MapEnd);
                self.pop()
            }
            S::IncludeStart => {
                let r = self.next();
                if is_whitespace(r) {
                    self.ignore();
                    return Some(S::IncludeStart);
                }
                self.backup();
                Some(S::Include)
            }
            S::Include => {
                let r = self.next();
                match r {
                    '\'' => {
                        self.ignore();
                        return Some(S::IncludeQuotedString);
                    }
                    '"' => {
                        self.ignore();
                        return Some(S::IncludeDubQuotedString);
                    }
                    '[' => {
                        return self.errorf(
                            "Expected include value but found start of an array".to_string(),
                        )
                    }
                    '{' => {
                        return self
                            .errorf("Expected include value but found start of a map".to_string())
                    }
                    '(' => {
                        return self.errorf(
                            "Expected include value but found start of a block".to_string(),
                        )
                    }
                    '-' => {
                        return self.errorf(
                            "Expected include value but found start of a number".to_string(),
                        )
                    }
                    _ if is_digit(r) => {
                        return self.errorf(
                            "Expected include value but found start of a number".to_string(),
                        )
                    }
                    '\\' => {
                        return self
                            .errorf("Expected include value but found escape sequence".to_string())
                    }
                    _ if is_nl(r) => {
                        return self.errorf("Expected include value but found new line".to_string())
                    }
                    _ => {}
                }
                self.backup();
                Some(S::IncludeString)
            }
            S::IncludeQuotedString | S::IncludeDubQuotedString => {
                let (end, what) = if state == S::IncludeQuotedString {
                    ('\'', "quoted")
                } else {
                    ('"', "double quoted")
                };
                let r = self.next();
                if r == end {
                    self.backup();
                    self.emit(ItemType::Include);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.errorf(format!("Unexpected EOF in {what} include"));
                }
                Some(state)
            }
            S::IncludeString => {
                let r = self.next();
                if is_nl(r) || r == EOF || r == ';' || r == '}' || is_whitespace(r) {
                    self.backup();
                    self.emit(ItemType::Include);
                    return self.pop();
                }
                if r == '\'' {
                    self.backup();
                    self.emit(ItemType::Include);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                Some(S::IncludeString)
            }
            S::String => {
                let r = self.next();
                if r == '\\' {
                    self.add_current_string_part(1);
                    return Some(S::StringEscape);
                }
                if is_nl(r)
                    || r == EOF
                    || r == ';'
                    || r == ','
                    || r == ']'
                    || r == '}'
                    || is_whitespace(r)
                {
                    self.backup();
                    if self.has_parts {
                        self.emit_string();
                    } else if self.is_bool() {
                        self.emit(ItemType::Bool);
                    } else if self.is_variable() {
                        self.emit(ItemType::Variable);
                    } else {
                        self.emit_string();
                    }
                    return self.pop();
                }
                if r == '\'' {
                    self.backup();
                    self.emit_string();
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                Some(S::String)
            }
            S::QuotedString => {
                let r = self.next();
                if r == '\'' {
                    self.backup();
                    self.emit(ItemType::String);
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                Some(S::QuotedString)
            }
            S::DubQuotedString => {
                let r = self.next();
                if r == '\\' {
                    self.add_current_string_part(1);
                    return Some(S::StringEscape);
                }
                if r == '"' {
                    self.backup();
                    self.emit_string();
                    self.next();
                    self.ignore();
                    return self.pop();
                }
                if r == EOF {
                    return self.eof_or_error();
                }
                Some(S::DubQuotedString)
            }
            S::StringEscape => {
                let r = self.next();
                match r {
                    'x' => Some(S::StringBinary),
                    't' => self.add_string_part(b"\t"),
                    'n' => self.add_string_part(b"\n"),
                    'r' => self.add_string_part(b"\r"),
                    '"' => self.add_string_part(b"\""),
                    '\\' => self.add_string_part(b"\\"),
                    _ => self.errorf(format!(
                        "Invalid escape character '{}'. Only the following escape characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\.",
                        esc(r)
                    )),
                }
            }
            S::StringBinary => {
                let r = self.next();
                if is_nl(r) {
                    return self.errorf("Not a valid binary string sequence.".to_string());
                }
                let r = self.next();
                if is_nl(r) {
                    return self.errorf("Not a valid binary string sequence.".to_string());
                }
                let offset = self.pos.saturating_sub(2);
                let hex = self.slice(offset, self.pos);
                match decode_hex_byte(hex) {
                    Some(b) => self.add_string_part(&[b]),
                    None => self.errorf(format!(
                        "Expected two hexadecimal digits after '\\x', but got '{}'",
                        lossy(hex)
                    )),
                }
            }
            S::Block => {
                let r = self.next();
                if r == ')' {
                    self.backup();
                    self.backup();
                    if self.next() != '\n' {
                        self.next();
                        return Some(S::Block);
                    }
                    self.next();
                    let r2 = self.next();
                    if r2 == '\n' || r2 == EOF {
                        self.backup();
                        self.backup();
                        self.emit(ItemType::String);
                        self.next();
                        self.ignore();
                        return self.pop();
                    }
                    self.backup();
                    return Some(S::Block);
                }
                if r == EOF {
                    return self.errorf("Unexpected EOF processing block.".to_string());
                }
                Some(S::Block)
            }
            S::NumberOrDateOrStringOrIpStart | S::NegNumberStart => {
                let r = self.next();
                if !is_digit(r) {
                    if r == '.' {
                        return self.errorf("Floats must start with a digit, not '.'.".to_string());
                    }
                    return self.errorf(format!("Expected a digit but got '{}'.", esc(r)));
                }
                if state == S::NegNumberStart {
                    Some(S::NegNumber)
                } else {
                    Some(S::NumberOrDateOrStringOrIp)
                }
            }
            S::NumberOrDateOrStringOrIp => {
                let r = self.next();
                if r == '-' {
                    if self.pos.saturating_sub(self.start) != 5 {
                        return self
                            .errorf("All ISO8601 dates must be in full Zulu form.".to_string());
                    }
                    return Some(S::DateAfterYear);
                }
                if is_digit(r) {
                    return Some(S::NumberOrDateOrStringOrIp);
                }
                if r == '.' {
                    return Some(S::FloatStart);
                }
                if is_number_suffix(r) {
                    return Some(S::ConvenientNumber);
                }
                if !(is_nl(r)
                    || r == EOF
                    || r == '}'
                    || r == ';'
                    || r == ','
                    || is_whitespace(r)
                    || is_digit(r))
                {
                    self.string_state = S::String;
                    return Some(S::String);
                }
                self.backup();
                self.emit(ItemType::Integer);
                self.pop()
            }
            S::ConvenientNumber => {
                let r = self.next();
                if matches!(r, 'b' | 'B' | 'i' | 'I') {
                    return Some(S::ConvenientNumber);
                }
                self.backup();
                if is_nl(r)
                    || r == EOF
                    || r == '}'
                    || r == ';'
                    || r == ','
                    || is_whitespace(r)
                    || is_digit(r)
                {
                    self.emit(ItemType::Integer);
                    return self.pop();
                }
                self.string_state = S::String;
                Some(S::String)
            }
            S::DateAfterYear => {
                const FORMAT: &[char] = &[
                    '0', '0', '-', '0', '0', 'T', '0', '0', ':', '0', '0', ':', '0', '0', 'Z',
                ];
                for &f in FORMAT {
                    let r = self.next();
                    if f == '0' {
                        if !is_digit(r) {
                            return self.errorf(format!(
                                "Expected digit in ISO8601 datetime, but found '{}' instead.",
                                esc(r)
                            ));
                        }
                    } else if f != r {
                        return self.errorf(format!(
                            "Expected '{}' in ISO8601 datetime, but found '{}' instead.",
                            f,
                            esc(r)
                        ));
                    }
                }
                self.emit(ItemType::Datetime);
                self.pop()
            }
            S::NegNumber => {
                let r = self.next();
                if is_digit(r) {
                    return Some(S::NegNumber);
                }
                if r == '.' {
                    return Some(S::FloatStart);
                }
                if is_number_suffix(r) {
                    return Some(S::ConvenientNumber);
                }
                self.backup();
                self.emit(ItemType::Integer);
                self.pop()
            }
            S::FloatStart => {
                let r = self.next();
                if !is_digit(r) {
                    return self.errorf(format!(
                        "Floats must have a digit after the '.', but got '{}' instead.",
                        esc(r)
                    ));
                }
                Some(S::Float)
            }
            S::Float => {
                let r = self.next();
                if is_digit(r) {
                    return Some(S::Float);
                }
                if r == '.' {
                    return Some(S::IpAddr);
                }
                self.backup();
                self.emit(ItemType::Float);
                self.pop()
            }
            S::IpAddr => {
                let r = self.next();
                if is_digit(r) || r == '.' || r == ':' || r == '-' {
                    return Some(S::IpAddr);
                }
                self.backup();
                self.emit(ItemType::String);
                self.pop()
            }
            S::CommentStart => {
                self.ignore();
                self.emit(ItemType::CommentStart);
                Some(S::Comment)
            }
            S::Comment => {
                let r = self.peek();
                if is_nl(r) || r == EOF {
                    self.emit(ItemType::Text);
                    return self.pop();
                }
                self.next();
                Some(S::Comment)
            }
        }
    }
}

fn decode_hex_byte(b: &[u8]) -> Option<u8> {
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if b.len() != 2 {
        return None;
    }
    Some(nib(b[0])? << 4 | nib(b[1])?)
}
