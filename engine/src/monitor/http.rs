//! The little HTTP/1.x the monitor needs: parse a request line (method, path, query) and
//! write a complete response. Headers of the request are ignored.

use super::format::http_date;
use crate::prelude::*;
use core::fmt::Write;

/// Request methods the monitor tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    /// Any other syntactically valid method.
    Other,
}

/// A parsed request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The percent-decoded path.
    pub(crate) path: Vec<u8>,
    /// The query parameters, decoded, in order (duplicates kept).
    pub(crate) query: Query,
}

/// Query parameters as Go's `url.ParseQuery` reads them: `&`-separated `key=value` pairs,
/// `+` and `%XX` decoded; a pair that fails to decode (or holds `;`) is dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query(Vec<(Vec<u8>, Vec<u8>)>);

impl Query {
    /// Parse a raw query string (without the `?`).
    pub(crate) fn parse(raw: &[u8]) -> Query {
        let mut pairs = Vec::new();
        for part in raw.split(|&b| b == b'&') {
            if part.is_empty() || part.contains(&b';') {
                continue;
            }
            let (k, v) = match part.iter().position(|&b| b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &[][..]),
            };
            if let (Some(k), Some(v)) = (percent_decode(k, true), percent_decode(v, true)) {
                pairs.push((k, v));
            }
        }
        Query(pairs)
    }

    /// The first value of `key`, as text (`""` when absent, as Go's `Query().Get`).
    pub(crate) fn get(&self, key: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    }
}

/// Why a request could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadRequest;

/// Parse the request line at the start of `head`.
pub(crate) fn parse_request(head: &[u8]) -> Result<Request, BadRequest> {
    // Tolerate empty lines before the request line (RFC 9112 §2.2).
    let mut head = head;
    while let Some(rest) = head
        .strip_prefix(b"\r\n")
        .or_else(|| head.strip_prefix(b"\n"))
    {
        head = rest;
    }
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..line_end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);

    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(BadRequest);
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(BadRequest);
    }
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return Err(BadRequest);
    }
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        _ => Method::Other,
    };

    // Origin form (`/path?query`) or absolute form (`http://host/path?query`).
    let target = if target.first() == Some(&b'/') {
        target
    } else if let Some(rest) = strip_scheme(target) {
        // Past the authority; an empty path means "/".
        match rest.iter().position(|&b| b == b'/' || b == b'?') {
            Some(i) => &rest[i..],
            None => &[][..],
        }
    } else {
        return Err(BadRequest);
    };
    if target.iter().any(|&b| b <= b' ' || b == 0x7f) {
        return Err(BadRequest);
    }
    let (raw_path, raw_query) = match target.iter().position(|&b| b == b'?') {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, &[][..]),
    };
    let path = if raw_path.is_empty() || raw_path[0] != b'/' {
        b"/".to_vec()
    } else {
        percent_decode(raw_path, false).ok_or(BadRequest)?
    };
    Ok(Request {
        method,
        path,
        query: Query::parse(raw_query),
    })
}

/// `http://` or `https://` stripped (case-insensitively), or `None`.
fn strip_scheme(target: &[u8]) -> Option<&[u8]> {
    for scheme in [&b"http://"[..], &b"https://"[..]] {
        if target.len() >= scheme.len() && target[..scheme.len()].eq_ignore_ascii_case(scheme) {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decode `%XX` escapes (and `+` as a space in query components). `None` on a malformed
/// escape.
fn percent_decode(s: &[u8], plus_is_space: bool) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' => {
                let hi = hex_val(*s.get(i + 1)?)?;
                let lo = hex_val(*s.get(i + 2)?)?;
                out.push(hi << 4 | lo);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Some(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// A response about to be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) extra_headers: Vec<(&'static str, &'static str)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// `200 OK` with a JSON body.
    pub(crate) fn json(body: Vec<u8>) -> Response {
        Response {
            status: 200,
            content_type: "application/json",
            extra_headers: vec![("Access-Control-Allow-Origin", "*")],
            body,
        }
    }

    /// A plain-text response (nats-server's error replies).
    pub(crate) fn text(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            extra_headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Go's `http.NotFound`.
    pub(crate) fn not_found() -> Response {
        let mut r = Response::text(404, &b"404 page not found\n"[..]);
        r.extra_headers.push(("X-Content-Type-Options", "nosniff"));
        r
    }

    /// `400 Bad Request` for an unparsable request.
    pub(crate) fn bad_request() -> Response {
        Response::text(400, &b"400 Bad Request"[..])
    }

    /// `405 Method Not Allowed`.
    pub(crate) fn method_not_allowed() -> Response {
        let mut r = Response::text(405, &b"405 method not allowed\n"[..]);
        r.extra_headers.push(("Allow", "GET, HEAD"));
        r
    }

    /// The complete HTTP/1.1 response; `head_only` leaves the body out (HEAD) but keeps
    /// its `Content-Length`.
    pub(crate) fn to_bytes(&self, unix_nanos: i128, head_only: bool) -> Vec<u8> {
        let mut head = String::with_capacity(192);
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let _ = write!(head, "Content-Type: {}\r\n", self.content_type);
        for (name, value) in &self.extra_headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let _ = write!(head, "Date: {}\r\n", http_date(unix_nanos));
        let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        head.push_str("Connection: close\r\n\r\n");
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r = parse_request(b"GET /connz?subs=1&limit=%31&x=a+b HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, b"/connz");
        assert_eq!(r.query.get("subs"), "1");
        assert_eq!(r.query.get("limit"), "1");
        assert_eq!(r.query.get("x"), "a b");
        assert_eq!(r.query.get("missing"), "");

        let r = parse_request(b"HEAD /%68ealthz HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!(
            (r.method, r.path.as_slice()),
            (Method::Head, &b"/healthz"[..])
        );
        let r = parse_request(b"GET http://host:8222/varz?a=1 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            (r.path.as_slice(), r.query.get("a").as_str()),
            (&b"/varz"[..], "1")
        );
        let r = parse_request(b"GET http://host:8222 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.path, b"/");
        let r = parse_request(b"GET http://host?subs=1 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            (r.path.as_slice(), r.query.get("subs").as_str()),
            (&b"/"[..], "1")
        );
        let r = parse_request(b"\r\nPOST / HTTP/1.1").unwrap();
        assert_eq!(r.method, Method::Other);

        // First value wins; malformed pairs are dropped.
        let r = parse_request(b"GET /x?a=1&a=2&b=%zz&c;d=1&e HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(r.query.get("a"), "1");
        assert_eq!(r.query.get("b"), "");
        assert_eq!(r.query.get("e"), "");

        for bad in [
            &b""[..],
            b"GARBAGE\r\n\r\n",
            b"GET /varz\r\n\r\n",
            b"GET varz HTTP/1.1\r\n\r\n",
            b"GET /varz HTTP/2\r\n\r\n",
            b"GET  /varz HTTP/1.1\r\n\r\n",
            b"G\xffT /varz HTTP/1.1\r\n\r\n",
            b"GET /va%zz HTTP/1.1\r\n\r\n",
            b"GET /va%2 HTTP/1.1\r\n\r\n",
            b"GET * HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                parse_request(bad),
                Err(BadRequest),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn responses() {
        let r = Response::json(b"{}".to_vec());
        let bytes = r.to_bytes(0, false);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert!(text.contains("Content-Length: 2\r\nConnection: close\r\n\r\n{}"));
        assert!(text.contains("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        let head = String::from_utf8(r.to_bytes(0, true)).unwrap();
        assert!(head.ends_with("Content-Length: 2\r\nConnection: close\r\n\r\n"));
    }
}
