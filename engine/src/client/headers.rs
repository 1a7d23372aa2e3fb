//! NATS message headers: the `NATS/1.0` block carried by HPUB and HMSG.
//!
//! ```text
//! NATS/1.0[ <status>[ <description>]]\r\n
//! Key: Value\r\n
//! …
//! \r\n
//! ```
//!
//! Keys keep the case they were written with (as nats.go ≥ 1.11 and nats.ws do); lookups
//! are exact, with case-insensitive variants for callers that want MIME-style matching.

use crate::prelude::*;
use bytes::BufMut;
use core::fmt;

const VERSION_LINE: &[u8] = b"NATS/1.0";

/// Status code of a "no responders" reply (a request reached no subscriber).
pub const STATUS_NO_RESPONDERS: u16 = 503;

/// Why a header block or entry was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// The block does not start with `NATS/1.0`.
    BadVersionLine,
    /// The status after `NATS/1.0` is not a 3-digit number.
    BadStatus,
    /// A line is not `Key: Value`.
    BadLine,
    /// A key is empty or holds a `:`, a blank or a control character.
    BadKey,
    /// A value holds a CR or LF.
    BadValue,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeaderError::BadVersionLine => "header block does not start with NATS/1.0",
            HeaderError::BadStatus => "bad status code in header block",
            HeaderError::BadLine => "header line is not `Key: Value`",
            HeaderError::BadKey => "invalid header key",
            HeaderError::BadValue => "header value contains CR or LF",
        })
    }
}

impl core::error::Error for HeaderError {}

/// A header block: an optional status line and ordered `key: value` entries (a key may
/// repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    status: Option<u16>,
    description: String,
    entries: Vec<(String, String)>,
}

fn check_key(key: &str) -> Result<(), HeaderError> {
    let bad = |b: u8| b == b':' || b <= b' ' || b == 0x7f;
    if key.is_empty() || key.bytes().any(bad) {
        return Err(HeaderError::BadKey);
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), HeaderError> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(HeaderError::BadValue);
    }
    Ok(())
}

impl Headers {
    /// An empty block (`NATS/1.0\r\n\r\n` once encoded).
    pub fn new() -> Self {
        Headers::default()
    }

    /// A block with a status line, such as `503` or `408 Request Timeout`.
    pub fn with_status(status: u16, description: &str) -> Result<Self, HeaderError> {
        if !(100..=999).contains(&status) {
            return Err(HeaderError::BadStatus);
        }
        check_value(description)?;
        Ok(Headers {
            status: Some(status),
            description: description.to_string(),
            entries: Vec::new(),
        })
    }

    /// The status code, if the version line carries one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The text after the status code (empty if none).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// True if this is a "no responders" status block.
    pub fn is_no_responders(&self) -> bool {
        self.status == Some(STATUS_NO_RESPONDERS)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if there are no entries (a status line may still be present).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Add an entry, keeping existing ones with the same key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), HeaderError> {
        check_key(key)?;
        check_value(value)?;
        self.entries.push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// Replace every entry with this exact key by one entry.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), HeaderError> {
        check_key(key)?;
        check_value(value)?;
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_string(), value.to_string()));
        Ok(())
    }

    /// Remove every entry with this exact key; true if any was removed.
    pub fn remove(&mut self, key: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|(k, _)| k != key);
        before != self.entries.len()
    }

    /// The first value for this exact key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value for this key, ignoring ASCII case.
    pub fn get_ignore_case(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Every value for this exact key, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every entry, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Length of [`Headers::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        let status = match self.status {
            Some(_) if self.description.is_empty() => 4,
            Some(_) => 5 + self.description.len(),
            None => 0,
        };
        let entries: usize = self
            .entries
            .iter()
            .map(|(k, v)| k.len() + 2 + v.len() + 2)
            .sum();
        VERSION_LINE.len() + status + 2 + entries + 2
    }

    /// Write the block, final empty line included.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(VERSION_LINE);
        if let Some(status) = self.status {
            let digits = [
                b'0' + (status / 100 % 10) as u8,
                b'0' + (status / 10 % 10) as u8,
                b'0' + (status % 10) as u8,
            ];
            out.put_u8(b' ');
            out.put_slice(&digits);
            if !self.description.is_empty() {
                out.put_u8(b' ');
                out.put_slice(self.description.as_bytes());
            }
        }
        out.put_slice(b"\r\n");
        for (k, v) in &self.entries {
            out.put_slice(k.as_bytes());
            out.put_slice(b": ");
            out.put_slice(v.as_bytes());
            out.put_slice(b"\r\n");
        }
        out.put_slice(b"\r\n");
    }

    /// Parse a block as carried by HMSG (lenient about a missing final empty line, as
    /// nats.go is). Values are trimmed of surrounding blanks; invalid UTF-8 is replaced.
    pub fn decode(block: &[u8]) -> Result<Headers, HeaderError> {
        let mut lines = block.split(|&b| b == b'\n').map(|line| match line {
            [rest @ .., b'\r'] => rest,
            line => line,
        });
        let first = lines.next().unwrap_or(&[]);
        let after_version = first
            .strip_prefix(VERSION_LINE)
            .ok_or(HeaderError::BadVersionLine)?;
        let mut headers = Headers::new();
        let status_text = trim(after_version);
        if !after_version.is_empty() && !after_version.starts_with(b" ") {
            return Err(HeaderError::BadVersionLine);
        }
        if !status_text.is_empty() {
            let (code, description) = match status_text.iter().position(|&b| b == b' ') {
                Some(i) => (&status_text[..i], trim(&status_text[i..])),
                None => (status_text, &[][..]),
            };
            if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
                return Err(HeaderError::BadStatus);
            }
            let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
            headers.status = Some(status);
            headers.description = String::from_utf8_lossy(description).into_owned();
        }
        for line in lines {
            if line.is_empty() {
                // The empty line ends the block (anything after it belongs to nobody).
                break;
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or(HeaderError::BadLine)?;
            let key = String::from_utf8_lossy(&line[..colon]).into_owned();
            let value = String::from_utf8_lossy(trim(&line[colon + 1..])).into_owned();
            check_key(&key)?;
            headers.entries.push((key, value));
        }
        Ok(headers)
    }
}

/// The status code of a header block, read from its first line only (cheap enough to
/// test every reply for "no responders").
pub fn status_code(block: &[u8]) -> Option<u16> {
    let rest = block.strip_prefix(b"NATS/1.0 ")?;
    let rest = trim(rest);
    match rest {
        [a, b, c, tail @ ..]
            if a.is_ascii_digit()
                && b.is_ascii_digit()
                && c.is_ascii_digit()
                && matches!(tail.first(), None | Some(b' ' | b'\r' | b'\n')) =>
        {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &s[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(h: &Headers) -> Vec<u8> {
        let mut v = Vec::new();
        h.encode(&mut v);
        assert_eq!(v.len(), h.encoded_len());
        v
    }

    #[test]
    fn empty_block() {
        assert_eq!(encoded(&Headers::new()), b"NATS/1.0\r\n\r\n");
        assert_eq!(
            Headers::decode(b"NATS/1.0\r\n\r\n").unwrap(),
            Headers::new()
        );
    }

    #[test]
    fn round_trip_keeps_order_case_and_repeats() {
        let mut h = Headers::new();
        h.append("X-Trace", "abc").unwrap();
        h.append("x-trace", "lower").unwrap();
        h.append("X-Trace", "second").unwrap();
        let bytes = encoded(&h);
        assert_eq!(
            bytes,
            b"NATS/1.0\r\nX-Trace: abc\r\nx-trace: lower\r\nX-Trace: second\r\n\r\n"
        );
        let back = Headers::decode(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(back.get("X-Trace"), Some("abc"));
        assert_eq!(
            back.get_all("X-Trace").collect::<Vec<_>>(),
            ["abc", "second"]
        );
        assert_eq!(back.get("X-TRACE"), None);
        assert_eq!(back.get_ignore_case("X-TRACE"), Some("abc"));
    }

    #[test]
    fn set_replaces_and_remove_removes() {
        let mut h = Headers::new();
        h.append("a", "1").unwrap();
        h.append("a", "2").unwrap();
        h.set("a", "3").unwrap();
        assert_eq!(h.get_all("a").collect::<Vec<_>>(), ["3"]);
        assert!(h.remove("a"));
        assert!(h.is_empty());
    }

    #[test]
    fn status_lines() {
        let h = Headers::decode(b"NATS/1.0 503\r\n\r\n").unwrap();
        assert!(h.is_no_responders());
        assert_eq!(h.description(), "");
        let h =
            Headers::decode(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\n\r\n")
                .unwrap();
        assert_eq!(h.status(), Some(408));
        assert_eq!(h.description(), "Request Timeout");
        assert_eq!(h.get("Nats-Pending-Messages"), Some("1"));
        let h = Headers::with_status(503, "").unwrap();
        assert_eq!(encoded(&h), b"NATS/1.0 503\r\n\r\n");
        let h = Headers::with_status(408, "Request Timeout").unwrap();
        assert_eq!(encoded(&h), b"NATS/1.0 408 Request Timeout\r\n\r\n");
        // What rnats and nats-server send for no responders.
        let h = Headers::decode(b"NATS/1.0 503\r\nNats-Subject: svc\r\n\r\n").unwrap();
        assert!(h.is_no_responders());
        assert_eq!(h.get("Nats-Subject"), Some("svc"));
    }

    #[test]
    fn status_code_reads_the_first_line_only() {
        assert_eq!(status_code(b"NATS/1.0 503\r\n\r\n"), Some(503));
        assert_eq!(
            status_code(b"NATS/1.0 408 Request Timeout\r\n\r\n"),
            Some(408)
        );
        assert_eq!(status_code(b"NATS/1.0\r\nk: 503\r\n\r\n"), None);
        assert_eq!(status_code(b"NATS/1.0 5030\r\n\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    #[test]
    fn bad_input_is_rejected() {
        assert_eq!(
            Headers::decode(b"HTTP/1.1\r\n\r\n"),
            Err(HeaderError::BadVersionLine)
        );
        assert_eq!(
            Headers::decode(b"NATS/1.0x\r\n\r\n"),
            Err(HeaderError::BadVersionLine)
        );
        assert_eq!(
            Headers::decode(b"NATS/1.0 50x\r\n\r\n"),
            Err(HeaderError::BadStatus)
        );
        assert_eq!(
            Headers::decode(b"NATS/1.0\r\nnocolon\r\n\r\n"),
            Err(HeaderError::BadLine)
        );
        assert_eq!(Headers::new().append("a b", "x"), Err(HeaderError::BadKey));
        assert_eq!(Headers::new().append("a:b", "x"), Err(HeaderError::BadKey));
        assert_eq!(Headers::new().append("", "x"), Err(HeaderError::BadKey));
        assert_eq!(
            Headers::new().append("k", "x\r\ny"),
            Err(HeaderError::BadValue)
        );
        assert_eq!(Headers::with_status(42, ""), Err(HeaderError::BadStatus));
    }

    #[test]
    fn lenient_about_missing_terminator_and_blanks() {
        let h = Headers::decode(b"NATS/1.0\r\nk:   v  \r\n").unwrap();
        assert_eq!(h.get("k"), Some("v"));
        let h = Headers::decode(b"NATS/1.0\nk:v\n\n").unwrap();
        assert_eq!(h.get("k"), Some("v"));
    }
}
