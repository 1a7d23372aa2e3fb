//! A small JSON tree and writer that reproduce Go's `encoding/json` output byte for byte:
//! fields in declaration order, `MarshalIndent(v, "", "  ")` layout, HTML-safe string
//! escaping (`<`, `>`, `&`, U+2028, U+2029) and Go's float formatting (`2`, not `2.0`;
//! `1e-7`, `1e+21`).
//!
//! serde_json would sort map keys, print `2.0` for whole floats and skip Go's escapes, so
//! the monitor builds this tree instead.

use crate::prelude::*;
use core::fmt::Write;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A Go `float64`.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, fields in order.
    Obj(Obj),
}

/// An object under construction; fields keep their insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Obj(pub(crate) Vec<(&'static str, J)>);

impl Obj {
    /// An empty object.
    pub(crate) fn new() -> Self {
        Obj(Vec::new())
    }

    /// Add a field.
    pub(crate) fn put(mut self, key: &'static str, value: impl Into<J>) -> Self {
        self.0.push((key, value.into()));
        self
    }

    /// Add a field when `cond` holds (Go's `omitempty`).
    pub(crate) fn put_if(self, cond: bool, key: &'static str, value: impl Into<J>) -> Self {
        if cond {
            self.put(key, value)
        } else {
            self
        }
    }

    /// Add a string field unless it is empty (Go's `omitempty` on a string).
    pub(crate) fn put_str_nonempty(self, key: &'static str, value: &str) -> Self {
        let cond = !value.is_empty();
        self.put_if(cond, key, value)
    }
}

impl From<Obj> for J {
    fn from(o: Obj) -> J {
        J::Obj(o)
    }
}
impl From<bool> for J {
    fn from(v: bool) -> J {
        J::Bool(v)
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::Uint(v)
    }
}
impl From<u32> for J {
    fn from(v: u32) -> J {
        J::Uint(v.into())
    }
}
impl From<u16> for J {
    fn from(v: u16) -> J {
        J::Uint(v.into())
    }
}
impl From<usize> for J {
    fn from(v: usize) -> J {
        J::Uint(v as u64)
    }
}
impl From<i64> for J {
    fn from(v: i64) -> J {
        J::Int(v)
    }
}
impl From<f64> for J {
    fn from(v: f64) -> J {
        J::Float(v)
    }
}
impl From<&str> for J {
    fn from(v: &str) -> J {
        J::Str(v.to_string())
    }
}
impl From<String> for J {
    fn from(v: String) -> J {
        J::Str(v)
    }
}
impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}
impl From<Vec<String>> for J {
    fn from(v: Vec<String>) -> J {
        J::Arr(v.into_iter().map(J::Str).collect())
    }
}

/// Go's `json.MarshalIndent(v, "", "  ")`.
pub(crate) fn to_pretty(value: &J) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    write_value(&mut out, value, Some(0));
    out.into_bytes()
}

/// Go's `json.Marshal(v)`.
pub(crate) fn to_compact(value: &J) -> Vec<u8> {
    let mut out = String::with_capacity(64);
    write_value(&mut out, value, None);
    out.into_bytes()
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(level) = indent {
        out.push('\n');
        for _ in 0..level {
            out.push_str("  ");
        }
    }
}

fn write_value(out: &mut String, value: &J, indent: Option<usize>) {
    let inner = indent.map(|l| l + 1);
    match value {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(v) => {
            let _ = write!(out, "{v}");
        }
        J::Uint(v) => {
            let _ = write!(out, "{v}");
        }
        J::Float(f) => write_go_float(out, *f),
        J::Str(s) => write_string(out, s),
        J::Arr(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                write_value(out, item, inner);
            }
            newline(out, indent);
            out.push(']');
        }
        J::Obj(Obj(fields)) => {
            if fields.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                write_string(out, key);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(out, item, inner);
            }
            newline(out, indent);
            out.push('}');
        }
    }
}

/// A JSON string as Go writes it (HTML-safe escaping on, as `json.Marshal` does).
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                let b = c as u32 as u8;
                out.push_str("\\u00");
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xF) as usize] as char);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A float as Go's `encoding/json` writes a `float64`: shortest round-trip digits, plain
/// notation for 1e-6 <= |f| < 1e21, otherwise exponent notation (`1e-7`, `1.5e+21`).
/// NaN and infinities, which Go refuses to encode, are written as `0`.
fn write_go_float(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push('0');
        return;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust's `{:e}` gives the shortest digits with an unpadded exponent ("1e-7",
        // "1.5e21"); Go writes "1e-07" then trims it to "1e-7", and keeps "1e+21".
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&s),
        }
    } else {
        // Rust's `Display` gives the shortest round-trip digits in plain notation and no
        // ".0" for whole numbers, as Go's 'f' format with precision -1.
        let _ = write!(out, "{f}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(j: J) -> String {
        String::from_utf8(to_pretty(&j)).unwrap()
    }

    #[test]
    fn floats_like_go() {
        for (f, want) in [
            (0.0, "0"),
            (2.0, "2"),
            (0.75, "0.75"),
            (12.5, "12.5"),
            (1e-7, "1e-7"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (0.000001, "0.000001"),
            (-3.25, "-3.25"),
            (f64::NAN, "0"),
        ] {
            assert_eq!(pretty(J::Float(f)), want, "{f}");
        }
    }

    #[test]
    fn strings_like_go() {
        assert_eq!(
            pretty(J::from("a\"b\\c\n<x>&\u{1}\u{2028}µ")),
            r#""a\"b\\c\n\u003cx\u003e\u0026\u0001\u2028µ""#
        );
    }

    #[test]
    fn indent_like_go() {
        let j: J = Obj::new()
            .put("a", 1u64)
            .put("b", Obj::new())
            .put("c", Vec::<J>::new())
            .put("d", vec![J::from("x"), Obj::new().put("e", J::Null).into()])
            .into();
        assert_eq!(
            pretty(j.clone()),
            "{\n  \"a\": 1,\n  \"b\": {},\n  \"c\": [],\n  \"d\": [\n    \"x\",\n    {\n      \"e\": null\n    }\n  ]\n}"
        );
        assert_eq!(
            String::from_utf8(to_compact(&j)).unwrap(),
            r#"{"a":1,"b":{},"c":[],"d":["x",{"e":null}]}"#
        );
    }
}
