//! Minimal HTTP/1.0 GET over `TcpStream`, for the monitoring endpoints.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code (`200`, `404`, …).
    pub status: u16,
    /// Header lines as `(lower-cased name, value)`.
    pub headers: Vec<(String, String)>,
    /// Body bytes as text (lossy UTF-8).
    pub body: String,
}

impl HttpResponse {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on `127.0.0.1:port` with `Connection: close`; reads until EOF or
/// `Content-Length`, at most 5 s. HTTP/1.0 keeps servers from using chunked encoding.
pub fn http_get(port: u16, path: &str) -> Result<HttpResponse, String> {
    let timeout = Duration::from_secs(5);
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout)
        .map_err(|e| format!("connect to monitor port {port}: {e}"))?;
    let req = format!(
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: rnats-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .map_err(|e| format!("send request: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut tmp = [0u8; 16 * 1024];
    loop {
        if let Some(resp) = parse_complete(&buf)? {
            return Ok(resp);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "GET {path}: incomplete response after {timeout:?}: {}",
                String::from_utf8_lossy(&buf)
            ));
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut tmp) {
            Ok(0) => {
                return parse(&buf, true)?
                    .ok_or_else(|| format!("GET {path}: connection closed before headers"))
            }
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                // A reset after the whole response is fine.
                return parse(&buf, true)?.ok_or_else(|| format!("GET {path}: {e}"));
            }
        }
    }
}

fn parse_complete(buf: &[u8]) -> Result<Option<HttpResponse>, String> {
    parse(buf, false)
}

/// Parses a response; with `eof` the body is everything after the headers.
fn parse(buf: &[u8], eof: bool) -> Result<Option<HttpResponse>, String> {
    let Some(hdr_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if eof && !buf.is_empty() {
            Err(format!(
                "malformed HTTP response: {}",
                String::from_utf8_lossy(buf)
            ))
        } else {
            Ok(None)
        };
    };
    let head = String::from_utf8_lossy(&buf[..hdr_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &buf[hdr_end + 4..];
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let complete = match len {
        Some(n) => body.len() >= n,
        None => eof,
    };
    if !complete {
        return Ok(None);
    }
    let body = match len {
        Some(n) => &body[..n],
        None => body,
    };
    Ok(Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8_lossy(body).into_owned(),
    }))
}

/// `GET path`, asserting status 200 and a JSON body; returns the parsed JSON.
#[track_caller]
pub fn http_get_json(port: u16, path: &str) -> serde_json::Value {
    let r = http_get(port, path).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(
        r.status, 200,
        "GET {path}: status {} body {}",
        r.status, r.body
    );
    serde_json::from_str(&r.body)
        .unwrap_or_else(|e| panic!("GET {path}: body is not JSON ({e}): {}", r.body))
}
