//! The config parser: items → a tree of [`Token`]s, a port of nats-server 2.9's
//! `conf/parse.go` in its "with checks" (pedantic) flavour, which keeps the position of
//! every value and marks the variables that were referenced.

use super::lex::{Item, ItemType, Lexer};
use super::path;
use super::{ConfigError, ConfigErrorKind, ConfigSource};
use crate::prelude::*;

/// How deep includes (and variables that name environment variables holding variables) may
/// nest before we give up; nats-server recurses until it runs out of stack.
const MAX_DEPTH: usize = 32;

/// A parsed value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An ISO 8601 Zulu datetime, kept as written.
    Datetime(String),
    Array(Vec<Token>),
    Map(Map),
}

/// A map in file order; a repeated key replaces the earlier value in place.
pub(crate) type Map = Vec<(String, Token)>;

/// A value with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub value: Value,
    pub file: Arc<str>,
    pub line: usize,
    /// nats-server's column (see [`ConfigError::column`]).
    pub col: usize,
    /// Whether some `$VAR` referred to this value (such keys are not "unknown fields").
    pub used: bool,
}

impl Value {
    /// Go's name of the dynamic type, as in `interface conversion` messages.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Int(_) => "int64",
            Value::Float(_) => "float64",
            Value::Bool(_) => "bool",
            Value::Datetime(_) => "time.Time",
            Value::Array(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
        }
    }

    /// Roughly Go's `%v` of the value.
    pub fn go_display(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => format!("{f}"),
            Value::Bool(b) => b.to_string(),
            Value::Datetime(d) => d.clone(),
            Value::Array(a) => {
                let parts: Vec<String> = a.iter().map(|t| t.value.go_display()).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Map(m) => {
                let mut parts: Vec<String> = m
                    .iter()
                    .map(|(k, t)| format!("{k}:{}", t.value.go_display()))
                    .collect();
                parts.sort();
                format!("map[{}]", parts.join(" "))
            }
        }
    }
}

enum Ctx {
    Map(Map),
    Array(Vec<Token>),
}

struct Parser<'s> {
    ctxs: Vec<Ctx>,
    keys: Vec<String>,
    item_keys: Vec<(usize, usize)>,
    file: Arc<str>,
    /// Directory includes are resolved against.
    dir: String,
    source: &'s dyn ConfigSource,
    depth: usize,
    /// Environment variables being expanded (to catch `A=$A` loops).
    env_chain: Vec<String>,
}

fn plain(file: &Arc<str>, line: usize, message: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line,
        column: 0,
        message,
        kind: ConfigErrorKind::Other,
        additional: Vec::new(),
    }
}

/// Parse the file at `path` (read through `source`).
pub(crate) fn parse_file(
    path: &str,
    source: &dyn ConfigSource,
    depth: usize,
    env_chain: &[String],
) -> Result<Map, ConfigError> {
    let text = source.read_file(path).map_err(|e| ConfigError {
        file: path.to_string(),
        line: 0,
        column: 0,
        message: e,
        kind: ConfigErrorKind::Io,
        additional: Vec::new(),
    })?;
    parse_str(&text, path, &path::dir(path), source, depth, env_chain)
}

/// Parse `text`, which came from `file`; includes are resolved against `dir`.
pub(crate) fn parse_str(
    text: &str,
    file: &str,
    dir: &str,
    source: &dyn ConfigSource,
    depth: usize,
    env_chain: &[String],
) -> Result<Map, ConfigError> {
    let mut p = Parser {
        ctxs: vec![Ctx::Map(Vec::new())],
        keys: Vec::new(),
        item_keys: Vec::new(),
        file: Arc::from(file),
        dir: dir.to_string(),
        source,
        depth,
        env_chain: env_chain.to_vec(),
    };
    let mut lx = Lexer::new(text);
    loop {
        let it = lx.next_item();
        if it.typ == ItemType::Eof {
            break;
        }
        p.process_item(it)?;
    }
    match p.ctxs.pop() {
        Some(Ctx::Map(m)) if p.ctxs.is_empty() => Ok(m),
        _ => Err(plain(
            &p.file,
            0,
            "BUG in parser, context stack corrupted".to_string(),
        )),
    }
}

impl Parser<'_> {
    fn token(&self, it: &Item, value: Value) -> Token {
        Token {
            value,
            file: self.file.clone(),
            line: it.line,
            col: it.pos,
            used: false,
        }
    }

    fn bug(&self, it: &Item, what: &str) -> ConfigError {
        plain(&self.file, it.line, format!("BUG in parser, {what}"))
    }

    fn process_item(&mut self, it: Item) -> Result<(), ConfigError> {
        match it.typ {
            ItemType::Error => {
                return Err(ConfigError {
                    file: self.file.to_string(),
                    line: it.line,
                    column: 0,
                    message: it.val,
                    kind: ConfigErrorKind::Syntax,
                    additional: Vec::new(),
                })
            }
            ItemType::Key => {
                self.keys.push(it.val.clone());
                self.item_keys.push((it.line, it.pos));
            }
            ItemType::MapStart => self.ctxs.push(Ctx::Map(Vec::new())),
            ItemType::MapEnd => {
                if self.ctxs.len() <= 1 {
                    return Err(self.bug(&it, "context stack corrupted"));
                }
                match self.ctxs.pop() {
                    Some(Ctx::Map(m)) => {
                        let tk = self.token(&it, Value::Map(m));
                        self.set_value(tk, &it)?;
                    }
                    _ => return Err(self.bug(&it, "context stack corrupted")),
                }
            }
            ItemType::ArrayStart => self.ctxs.push(Ctx::Array(Vec::new())),
            ItemType::ArrayEnd => {
                if self.ctxs.len() <= 1 {
                    return Err(self.bug(&it, "context stack corrupted"));
                }
                match self.ctxs.pop() {
                    Some(Ctx::Array(a)) => {
                        let tk = self.token(&it, Value::Array(a));
                        self.set_value(tk, &it)?;
                    }
                    _ => return Err(self.bug(&it, "context stack corrupted")),
                }
            }
            ItemType::String => {
                let tk = self.token(&it, Value::Str(it.val.clone()));
                self.set_value(tk, &it)?;
            }
            ItemType::Integer => {
                // An unknown size suffix sets no value at all in nats-server (its key is
                // left on the key stack); so here.
                if let Some(v) =
                    parse_integer(&it.val).map_err(|m| plain(&self.file, it.line, m))?
                {
                    let tk = self.token(&it, Value::Int(v));
                    self.set_value(tk, &it)?;
                }
            }
            ItemType::Float => {
                let v: f64 = it.val.parse().map_err(|_| {
                    plain(
                        &self.file,
                        it.line,
                        format!("expected float, but got '{}'", it.val),
                    )
                })?;
                if v.is_infinite() {
                    return Err(plain(
                        &self.file,
                        it.line,
                        format!("float '{}' is out of the range", it.val),
                    ));
                }
                let tk = self.token(&it, Value::Float(v));
                self.set_value(tk, &it)?;
            }
            ItemType::Bool => {
                let v = match it.val.to_ascii_lowercase().as_str() {
                    "true" | "yes" | "on" => true,
                    "false" | "no" | "off" => false,
                    _ => {
                        return Err(plain(
                            &self.file,
                            it.line,
                            format!("expected boolean value, but got '{}'", it.val),
                        ))
                    }
                };
                let tk = self.token(&it, Value::Bool(v));
                self.set_value(tk, &it)?;
            }
            ItemType::Datetime => {
                if !valid_zulu(&it.val) {
                    return Err(plain(
                        &self.file,
                        it.line,
                        format!("expected Zulu formatted DateTime, but got '{}'", it.val),
                    ));
                }
                let tk = self.token(&it, Value::Datetime(it.val.clone()));
                self.set_value(tk, &it)?;
            }
            ItemType::Variable => {
                let value = self.lookup_variable(&it)?;
                let tk = self.token(&it, value);
                self.set_value(tk, &it)?;
            }
            ItemType::Include => {
                let joined = path::join(&self.dir, &it.val);
                if self.depth >= MAX_DEPTH {
                    return Err(plain(
                        &self.file,
                        it.line,
                        format!(
                            "error parsing include file '{}', includes nested too deeply",
                            it.val
                        ),
                    ));
                }
                let m = parse_file(&joined, self.source, self.depth + 1, &self.env_chain).map_err(
                    |e| {
                        let mut wrapped = plain(
                            &self.file,
                            it.line,
                            format!("error parsing include file '{}', {}", it.val, e),
                        );
                        // Keep where the inner error is, for tools.
                        if e.line != 0 {
                            wrapped.file = e.file.clone();
                            wrapped.line = e.line;
                            wrapped.column = e.column;
                        }
                        wrapped
                    },
                )?;
                for (k, tk) in m {
                    self.keys.push(k);
                    self.item_keys.push((tk.line, tk.col));
                    self.set_value(tk, &it)?;
                }
            }
            ItemType::Eof | ItemType::Text | ItemType::CommentStart => {}
        }
        Ok(())
    }

    fn set_value(&mut self, mut tk: Token, it: &Item) -> Result<(), ConfigError> {
        let in_map = matches!(self.ctxs.last(), Some(Ctx::Map(_)));
        let (key, pos) = if in_map {
            match (self.keys.pop(), self.item_keys.pop()) {
                (Some(k), Some(pos)) => (Some(k), Some(pos)),
                _ => return Err(self.bug(it, "keys stack empty")),
            }
        } else {
            (None, None)
        };
        match self.ctxs.last_mut() {
            Some(Ctx::Array(a)) => a.push(tk),
            Some(Ctx::Map(m)) => {
                if let (Some(key), Some((line, col))) = (key, pos) {
                    // Positions of map values are those of their keys (nats-server does the
                    // same: more useful in error messages).
                    tk.line = line;
                    tk.col = col;
                    match m.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = tk,
                        None => m.push((key, tk)),
                    }
                }
            }
            None => return Err(self.bug(it, "context stack corrupted")),
        }
        Ok(())
    }

    fn lookup_variable(&mut self, it: &Item) -> Result<Value, ConfigError> {
        let name = &it.val;
        for ctx in self.ctxs.iter_mut().rev() {
            if let Ctx::Map(m) = ctx {
                if let Some((_, tk)) = m.iter_mut().find(|(k, _)| k == name) {
                    tk.used = true;
                    return Ok(tk.value.clone());
                }
            }
        }
        if let Some(raw) = self.source.env_var(name) {
            // nats-server parses the variable's text as a value: `pk=<text>`.
            let parsed = if self.env_chain.iter().any(|n| n == name) {
                Err(plain(&self.file, it.line, "circular reference".to_string()))
            } else if self.depth >= MAX_DEPTH {
                Err(plain(&self.file, it.line, "nested too deeply".to_string()))
            } else {
                let text = format!("pk={raw}");
                let mut chain = self.env_chain.clone();
                chain.push(name.clone());
                parse_str(&text, "", "", self.source, self.depth + 1, &chain)
            };
            return match parsed {
                Ok(mut m) => match m.iter().position(|(k, _)| k == "pk") {
                    Some(i) => Ok(m.swap_remove(i).1.value),
                    None => Err(not_found(&self.file, it)),
                },
                Err(e) => Err(plain(
                    &self.file,
                    it.line,
                    format!(
                        "variable reference for '{}' on line {} could not be parsed: {}",
                        name, it.line, e
                    ),
                )),
            };
        }
        Err(not_found(&self.file, it))
    }
}

fn not_found(file: &Arc<str>, it: &Item) -> ConfigError {
    plain(
        file,
        it.line,
        format!(
            "variable reference for '{}' on line {} can not be found",
            it.val, it.line
        ),
    )
}

/// nats-server's integer item: digits (and `-`), then an optional size suffix;
/// `Ok(None)` for a suffix nats-server does not know (it then sets nothing).
fn parse_integer(val: &str) -> Result<Option<i64>, String> {
    let last_digit = val
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'-')
        .count();
    let (num_str, suffix) = val.split_at(last_digit);
    let num: i64 = match num_str.parse() {
        Ok(n) => n,
        Err(e) => {
            use core::num::IntErrorKind;
            return Err(match e.kind() {
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => {
                    format!("integer '{val}' is out of the range")
                }
                _ => format!("expected integer, but got '{val}'"),
            });
        }
    };
    let mult: i64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1000,
        "kb" | "ki" | "kib" => 1 << 10,
        "m" => 1000 * 1000,
        "mb" | "mi" | "mib" => 1 << 20,
        "g" => 1000 * 1000 * 1000,
        "gb" | "gi" | "gib" => 1 << 30,
        "t" => 1000i64.pow(4),
        "tb" | "ti" | "tib" => 1 << 40,
        "p" => 1000i64.pow(5),
        "pb" | "pi" | "pib" => 1 << 50,
        "e" => 1000i64.pow(6),
        "eb" | "ei" | "eib" => 1 << 60,
        _ => return Ok(None),
    };
    // Go multiplies with wrap-around; saturate instead.
    Ok(Some(num.saturating_mul(mult)))
}

/// `YYYY-MM-DDTHH:MM:SSZ` with fields in range (what Go's `time.Parse` accepts).
fn valid_zulu(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        core::str::from_utf8(&b[from..to]).ok()?.parse().ok()
    };
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        num(0, 4),
        num(5, 7),
        num(8, 10),
        num(11, 13),
        num(14, 16),
        num(17, 19),
    ) else {
        return false;
    };
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || se > 59 || d == 0 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let dim = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= dim
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_suffixes() {
        assert_eq!(parse_integer("1k"), Ok(Some(1000)));
        assert_eq!(parse_integer("1K"), Ok(Some(1000)));
        assert_eq!(parse_integer("1kb"), Ok(Some(1024)));
        assert_eq!(parse_integer("1KiB"), Ok(Some(1024)));
        assert_eq!(parse_integer("2MB"), Ok(Some(2 << 20)));
        assert_eq!(parse_integer("2m"), Ok(Some(2_000_000)));
        assert_eq!(parse_integer("1G"), Ok(Some(1_000_000_000)));
        assert_eq!(parse_integer("1gb"), Ok(Some(1 << 30)));
        assert_eq!(parse_integer("1tb"), Ok(Some(1 << 40)));
        assert_eq!(parse_integer("1P"), Ok(Some(1_000_000_000_000_000)));
        assert_eq!(parse_integer("-3"), Ok(Some(-3)));
        assert_eq!(parse_integer("1e"), Ok(Some(1_000_000_000_000_000_000)));
        assert_eq!(parse_integer("1kbb"), Ok(None));
        assert_eq!(
            parse_integer("99999999999999999999"),
            Err("integer '99999999999999999999' is out of the range".to_string())
        );
        assert_eq!(parse_integer("9E"), Ok(Some(9_000_000_000_000_000_000)));
        assert_eq!(parse_integer("10E"), Ok(Some(i64::MAX)));
    }

    #[test]
    fn zulu() {
        assert!(valid_zulu("2016-05-04T18:53:41Z"));
        assert!(valid_zulu("2016-02-29T00:00:00Z"));
        assert!(!valid_zulu("2015-02-29T00:00:00Z"));
        assert!(!valid_zulu("2016-13-04T18:53:41Z"));
        assert!(!valid_zulu("2016-05-04T24:53:41Z"));
    }
}
