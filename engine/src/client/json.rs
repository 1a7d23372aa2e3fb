//! Just enough JSON for a client: read the server's INFO object, write the CONNECT object.
//!
//! serde_json does both elsewhere in the engine, but in the browser client it is more than
//! a quarter of the WebAssembly module (about 60 KB of 216 KB, mostly its error messages
//! and float formatting), so the client carries this small strict reader and writer
//! instead. Property tests check both against serde_json: same values accepted, same
//! results, same bytes written.

use crate::prelude::*;

/// Nesting allowed while skipping values (serde_json's default recursion limit).
const MAX_DEPTH: usize = 128;

/// The input is not the JSON (or not the type) expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

type Result<T> = core::result::Result<T, Invalid>;

/// A cursor over one JSON text.
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { input, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Result<u8> {
        let b = self.peek().ok_or(Invalid)?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<()> {
        self.skip_blanks();
        if self.next_byte()? == byte {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        let end = self.pos + word.len();
        if self.input.get(self.pos..end) == Some(word) {
            self.pos = end;
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// The whole input must be one object: calls `field` with each key, positioned at
    /// its value, which `field` must consume.
    pub(crate) fn object(
        mut self,
        mut field: impl FnMut(&str, &mut Reader<'a>) -> Result<()>,
    ) -> Result<()> {
        self.expect(b'{')?;
        self.skip_blanks();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.skip_blanks();
                let key = self.string()?;
                self.expect(b':')?;
                self.skip_blanks();
                field(&key, &mut self)?;
                self.skip_blanks();
                match self.next_byte()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(Invalid),
                }
            }
        }
        self.skip_blanks();
        if self.pos == self.input.len() {
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// A string value.
    pub(crate) fn string(&mut self) -> Result<String> {
        if self.next_byte()? != b'"' {
            return Err(Invalid);
        }
        let mut out = Vec::new();
        loop {
            match self.next_byte()? {
                b'"' => break,
                b'\\' => match self.next_byte()? {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let c = self.unicode_escape()?;
                        let mut utf8 = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    }
                    _ => return Err(Invalid),
                },
                // Control characters must be escaped.
                0x00..=0x1f => return Err(Invalid),
                b => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| Invalid)
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut n = 0;
        for _ in 0..4 {
            let digit = char::from(self.next_byte()?).to_digit(16).ok_or(Invalid)?;
            n = n * 16 + digit;
        }
        Ok(n)
    }

    /// After `\u`: one code point, joining a surrogate pair (a lone surrogate is invalid).
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                self.literal(b"\\u")?;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(Invalid);
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(Invalid),
            other => other,
        };
        char::from_u32(code).ok_or(Invalid)
    }

    /// A string that is ignored: escapes and control characters are checked, but not
    /// UTF-8 or surrogate pairs (serde_json does not check those in ignored values either).
    fn skip_string(&mut self) -> Result<()> {
        if self.next_byte()? != b'"' {
            return Err(Invalid);
        }
        loop {
            match self.next_byte()? {
                b'"' => return Ok(()),
                b'\\' => match self.next_byte()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        self.hex4()?;
                    }
                    _ => return Err(Invalid),
                },
                0x00..=0x1f => return Err(Invalid),
                _ => {}
            }
        }
    }

    /// A boolean value.
    pub(crate) fn boolean(&mut self) -> Result<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(Invalid),
        }
    }

    /// The text of a number value, checked against JSON's grammar.
    fn number_text(&mut self) -> Result<&'a [u8]> {
        let start = self.pos;
        let digits = |r: &mut Reader<'_>| {
            let from = r.pos;
            while r.peek().is_some_and(|b| b.is_ascii_digit()) {
                r.pos += 1;
            }
            r.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(Invalid),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(Invalid);
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(Invalid);
            }
        }
        self.input.get(start..self.pos).ok_or(Invalid)
    }

    /// An integer value that fits `T` (a fraction or exponent is a type error, as in
    /// serde_json).
    pub(crate) fn integer<T: TryFrom<i128>>(&mut self) -> Result<T> {
        let text = self.number_text()?;
        let (negative, digits) = match text {
            [b'-', rest @ ..] => (true, rest),
            _ => (false, text),
        };
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Invalid);
        }
        let mut n: i128 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i128::from(d - b'0')))
                .ok_or(Invalid)?;
        }
        T::try_from(if negative { -n } else { n }).map_err(|_| Invalid)
    }

    /// An array of strings.
    pub(crate) fn strings(&mut self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.expect(b'[')?;
        self.skip_blanks();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            self.skip_blanks();
            out.push(self.string()?);
            self.skip_blanks();
            match self.next_byte()? {
                b',' => continue,
                b']' => return Ok(out),
                _ => return Err(Invalid),
            }
        }
    }

    /// Any value, checked and ignored (an unknown field).
    pub(crate) fn skip(&mut self) -> Result<()> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: usize) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(Invalid);
        }
        self.skip_blanks();
        let (close, is_object) = match self.peek() {
            Some(b'"') => return self.skip_string(),
            Some(b't' | b'f') => return self.boolean().map(drop),
            Some(b'n') => return self.literal(b"null"),
            Some(b'{') => (b'}', true),
            Some(b'[') => (b']', false),
            _ => return self.number_text().map(drop),
        };
        self.pos += 1;
        self.skip_blanks();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            if is_object {
                self.skip_blanks();
                self.skip_string()?;
                self.expect(b':')?;
            }
            self.skip_at(depth + 1)?;
            self.skip_blanks();
            match self.next_byte()? {
                b',' => continue,
                b if b == close => return Ok(()),
                _ => return Err(Invalid),
            }
        }
    }
}

/// Writes one JSON object, escaping strings as serde_json does.
pub(crate) struct Writer {
    out: Vec<u8>,
    first: bool,
}

impl Writer {
    pub(crate) fn new() -> Writer {
        Writer {
            out: vec![b'{'],
            first: true,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_string(&mut self.out, key);
        self.out.push(b':');
    }

    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_string(&mut self.out, value);
    }

    /// A string field that is left out when `None`.
    pub(crate) fn string_opt(&mut self, key: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(key, value);
        }
    }

    pub(crate) fn boolean(&mut self, key: &str, value: bool) {
        self.key(key);
        let text: &[u8] = if value { b"true" } else { b"false" };
        self.out.extend_from_slice(text);
    }

    pub(crate) fn uint(&mut self, key: &str, value: u64) {
        self.key(key);
        let mut digits = [0u8; 20];
        self.out
            .extend_from_slice(super::decimal(value, &mut digits));
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.out.push(b'}');
        self.out
    }
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_escapes() {
        let read = |s: &[u8]| Reader::new(s).string();
        assert_eq!(
            read(br#""a\"b\\c\/d\b\f\n\r\t""#).unwrap(),
            "a\"b\\c/d\u{8}\u{c}\n\r\t"
        );
        assert_eq!(read(br#""\u00e9\u20AC\ud83d\ude00""#).unwrap(), "é€😀");
        assert_eq!(read("\"é\"".as_bytes()).unwrap(), "é");
        for bad in [
            &br#""\ud83d""#[..],
            br#""\ude00""#,
            br#""\x""#,
            b"\"a\nb\"",
            b"\"open",
            b"\"\xff\"",
            br#""\u12""#,
        ] {
            assert_eq!(read(bad), Err(Invalid), "{}", String::from_utf8_lossy(bad));
        }
        let mut w = Writer::new();
        w.string("k", "q\"b\\s\u{1}\u{1f}\n\té/");
        assert_eq!(
            w.finish(),
            r#"{"k":"q\"b\\s\u0001\u001f\n\té/"}"#.as_bytes()
        );
    }

    #[test]
    fn integers_are_strict() {
        let int = |s: &[u8]| Reader::new(s).integer::<u16>();
        assert_eq!(int(b"0"), Ok(0));
        assert_eq!(int(b"65535"), Ok(65535));
        assert_eq!(int(b"65536"), Err(Invalid));
        assert_eq!(int(b"-1"), Err(Invalid));
        assert_eq!(int(b"1.0"), Err(Invalid));
        assert_eq!(int(b"1e3"), Err(Invalid));
        assert_eq!(int(b"01"), Ok(0), "stops after the leading zero");
        assert_eq!(Reader::new(b"-5").integer::<i64>(), Ok(-5));
    }

    #[test]
    fn skipping_checks_syntax() {
        let skip = |s: &[u8]| {
            let mut r = Reader::new(s);
            r.skip()?;
            if r.pos == s.len() {
                Ok(())
            } else {
                Err(Invalid)
            }
        };
        for good in [
            &b"{}"[..],
            b"[]",
            br#"{"a":[1,-2.5e+3,"x",{"b":null}],"c":true}"#,
            b"0",
            b"-0.1E-2",
            b"false",
        ] {
            assert_eq!(skip(good), Ok(()), "{}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"{\"a\"}",
            b"nul",
            b"1.",
            b"-",
            b"+1",
            b"[1 2]",
        ] {
            assert_eq!(skip(bad), Err(Invalid), "{}", String::from_utf8_lossy(bad));
        }
        let deep: Vec<u8> = core::iter::repeat_n(b'[', 200)
            .chain(core::iter::repeat_n(b']', 200))
            .collect();
        assert_eq!(skip(&deep), Err(Invalid));
    }
}
