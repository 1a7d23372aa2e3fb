//! The runtime-free rules of nats-server's WebSocket listener, shared by every frontend
//! that serves browsers: which `Origin` headers are let in, and which close status a
//! closing connection sends; the RFC 6455 frame header codec ([`frame`]), shared by
//! the server's WebSocket library and the load generator's client; and the server's
//! reading of a client's frames ([`decoder`]), the state machine every frontend drives.
//!
//! The HTTP upgrade and the socket I/O belong to the frontend's WebSocket library; the
//! NATS byte stream inside the frames goes through
//! [`Connection`](crate::server::Connection) exactly as over TCP.

use crate::config::go_quote;
use crate::options::WebsocketOptions;
use crate::prelude::*;
use crate::server::CloseReason;

pub mod decoder;
pub mod frame;

/// The parts of an origin URL that nats-server compares: lower-cased host, port (the
/// scheme's default when absent) and scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginUrl {
    /// The scheme, lower-cased (`http`, `https`, …).
    pub scheme: String,
    /// The host, lower-cased, without brackets for IPv6.
    pub host: String,
    /// The port as text (`"80"` for `http://h`, `"443"` for `https://h`).
    pub port: String,
}

/// Who may open a WebSocket connection, from the `same_origin` and `allowed_origins`
/// options (nats-server's `checkOrigin`).
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    same_origin: bool,
    /// Allowed origins by host (a later entry for the same host replaces an earlier one,
    /// as in nats-server's map).
    allowed: Vec<OriginUrl>,
}

impl OriginPolicy {
    /// The policy of a `websocket` block. Allowed origins that do not parse are left out
    /// (config validation has already refused them).
    pub fn new(options: &WebsocketOptions) -> OriginPolicy {
        let mut allowed: Vec<OriginUrl> = Vec::new();
        for text in &options.allowed_origins {
            let Ok(url) = parse_request_uri(text) else {
                continue;
            };
            allowed.retain(|a| a.host != url.host);
            allowed.push(url);
        }
        OriginPolicy {
            same_origin: options.same_origin,
            allowed,
        }
    }

    /// Whether any origin check is configured.
    pub fn is_open(&self) -> bool {
        !self.same_origin && self.allowed.is_empty()
    }

    /// Check a handshake's `Origin` header (or `Sec-WebSocket-Origin`), given the request's
    /// `Host` header. A request without an origin is let in (non-browser clients). The
    /// error text is what nats-server logs after `origin not allowed: `; the frontend
    /// answers `403 Forbidden`.
    pub fn check(&self, origin: Option<&str>, host: Option<&str>) -> Result<(), String> {
        if self.is_open() {
            return Ok(());
        }
        let Some(origin) = origin.filter(|o| !o.is_empty()) else {
            return Ok(());
        };
        let url = parse_request_uri(origin)?;
        if self.same_origin {
            let (req_host, req_port) = host_and_port(false, host.unwrap_or(""))?;
            if url.host != req_host || url.port != req_port {
                return Err("not same origin".to_string());
            }
        }
        if !self.allowed.is_empty() {
            let ok = self
                .allowed
                .iter()
                .any(|a| a.host == url.host && a.scheme == url.scheme && a.port == url.port);
            if !ok {
                return Err("not in the allowed list".to_string());
            }
        }
        Ok(())
    }
}

/// Check an `allowed_origins` entry the way nats-server validates it (Go's `url.Parse`);
/// the error reads like Go's (`parse ":::bad": missing protocol scheme`).
pub fn parse_origin_url(text: &str) -> Result<(), String> {
    let without_fragment = text.split_once('#').map_or(text, |(u, _)| u);
    go_url_parse(without_fragment, false)
        .map(|_| ())
        .map_err(|e| format!("parse {}: {e}", go_quote(without_fragment)))
}

/// Go's `url.ParseRequestURI` followed by nats-server's `wsGetHostAndPort`.
fn parse_request_uri(text: &str) -> Result<OriginUrl, String> {
    let parsed = go_url_parse(text, true).map_err(|e| format!("parse {}: {e}", go_quote(text)))?;
    let (host, port) = host_and_port(parsed.scheme == "https", &parsed.host)?;
    Ok(OriginUrl {
        scheme: parsed.scheme,
        host,
        port,
    })
}

/// What [`go_url_parse`] keeps of a URL.
struct GoUrl {
    scheme: String,
    host: String,
}

/// The error checks of Go's `net/url` `parse` (without fragment handling), keeping the
/// scheme and host.
fn go_url_parse(raw: &str, via_request: bool) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".to_string());
    }
    if raw.is_empty() && via_request {
        return Err("empty url".to_string());
    }
    if raw == "*" {
        return Ok(GoUrl {
            scheme: String::new(),
            host: String::new(),
        });
    }
    let (scheme, rest) = go_scheme(raw)?;
    let scheme = scheme.to_ascii_lowercase();
    let rest = match rest.split_once('?') {
        Some((before, _)) => before,
        None => rest,
    };
    if !rest.starts_with('/') {
        if !scheme.is_empty() {
            // An opaque URL (`mailto:x`): no host.
            return Ok(GoUrl {
                scheme,
                host: String::new(),
            });
        }
        if via_request {
            return Err("invalid URI for request".to_string());
        }
        let segment = rest.split('/').next().unwrap_or("");
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".to_string());
        }
    }
    let mut host = String::new();
    if (!scheme.is_empty() || (!via_request && !rest.starts_with("///"))) && rest.starts_with("//")
    {
        let authority = &rest[2..];
        let authority = authority.split('/').next().unwrap_or("");
        let host_part = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        check_host(host_part)?;
        host = host_part.to_string();
    }
    Ok(GoUrl { scheme, host })
}

/// Go's `getScheme`.
fn go_scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err("missing protocol scheme".to_string()),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// The port checks of Go's `parseHost` (`invalid port ":x" after host`).
fn check_host(host: &str) -> Result<(), String> {
    let port = if let Some(rest) = host.strip_prefix('[') {
        match rest.find(']') {
            None => return Err("missing ']' in host".to_string()),
            Some(end) => &rest[end + 1..],
        }
    } else {
        match host.rfind(':') {
            Some(i) => &host[i..],
            None => "",
        }
    };
    let valid = match port.strip_prefix(':') {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => port.is_empty(),
    };
    if !valid {
        return Err(format!("invalid port {} after host", go_quote(port)));
    }
    Ok(())
}

/// nats-server's `wsGetHostAndPort`: Go's `net.SplitHostPort`, with the scheme's default
/// port when the port is missing; the host lower-cased.
fn host_and_port(tls: bool, host_port: &str) -> Result<(String, String), String> {
    let default_port = if tls { "443" } else { "80" };
    let (host, port) = match split_host_port(host_port) {
        Ok((h, p)) => (h, p),
        Err(SplitError::MissingPort) => (host_port, default_port),
        Err(SplitError::Other(e)) => return Err(format!("address {host_port}: {e}")),
    };
    Ok((host.to_ascii_lowercase(), port.to_string()))
}

enum SplitError {
    MissingPort,
    Other(&'static str),
}

/// Go's `net.SplitHostPort`, telling "missing port" apart from the other errors.
fn split_host_port(s: &str) -> Result<(&str, &str), SplitError> {
    let Some(colon) = s.rfind(':') else {
        return Err(SplitError::MissingPort);
    };
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(SplitError::Other("missing ']' in address"));
        };
        match end + 2 {
            e if e == s.len() => return Err(SplitError::MissingPort),
            e if e == colon => (&rest[..end], &s[colon + 1..]),
            _ => {
                return Err(if s.as_bytes()[end + 2] == b':' {
                    SplitError::Other("too many colons in address")
                } else {
                    SplitError::MissingPort
                })
            }
        }
    } else {
        let host = &s[..colon];
        if host.contains(':') {
            return Err(SplitError::Other("too many colons in address"));
        }
        (host, &s[colon + 1..])
    };
    if host.contains('[') || host.contains(']') {
        return Err(SplitError::Other("unexpected '[' or ']' in address"));
    }
    Ok((host, port))
}

/// The WebSocket close status and reason text sent when the engine closes a connection
/// (nats-server's `wsEnqueueCloseMessage`, except that the reserved 1006 is never sent).
pub fn close_status(reason: CloseReason) -> (u16, &'static str) {
    let code = match reason {
        CloseReason::ClientClosed => 1000,
        CloseReason::AuthenticationTimeout
        | CloseReason::AuthenticationViolation
        | CloseReason::SlowConsumerPendingBytes
        | CloseReason::SlowConsumerWriteDeadline
        | CloseReason::MaxConnectionsExceeded
        | CloseReason::MaxControlLineExceeded => 1008,
        CloseReason::ProtocolViolation => 1002,
        CloseReason::MaxPayloadExceeded => 1009,
        // nats-server sends 1006 (abnormal closure) for these, a code reserved for
        // reporting that must never be on the wire; rnats says "going away" instead.
        CloseReason::ServerShutdown | CloseReason::ReadError | CloseReason::StaleConnection => 1001,
        // nats-server's 1015 is reserved too (and no frame can pass a failed handshake).
        CloseReason::TlsHandshakeError => 1001,
    };
    (code, reason.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(same_origin: bool, allowed: &[&str]) -> OriginPolicy {
        OriginPolicy::new(&WebsocketOptions {
            same_origin,
            allowed_origins: allowed.iter().map(|s| s.to_string()).collect(),
            ..WebsocketOptions::default()
        })
    }

    #[test]
    fn no_checks_let_everything_in() {
        let p = policy(false, &[]);
        assert!(p.is_open());
        assert_eq!(p.check(Some("not a url"), None), Ok(()));
    }

    #[test]
    fn allowed_origins_compare_scheme_host_and_port() {
        let p = policy(false, &["http://good.com", "https://b.com:8443"]);
        assert_eq!(p.check(None, None), Ok(()));
        assert_eq!(p.check(Some(""), None), Ok(()));
        assert_eq!(p.check(Some("http://good.com"), None), Ok(()));
        assert_eq!(p.check(Some("http://GOOD.com:80"), None), Ok(()));
        assert_eq!(p.check(Some("https://b.com:8443"), None), Ok(()));
        let not_listed = Err("not in the allowed list".to_string());
        assert_eq!(p.check(Some("https://good.com"), None), not_listed);
        assert_eq!(p.check(Some("http://good.com:81"), None), not_listed);
        assert_eq!(p.check(Some("http://bad.com"), None), not_listed);
        assert_eq!(p.check(Some("https://b.com"), None), not_listed);
        // Observed with nats-server 2.9.10.
        assert_eq!(
            p.check(Some("not a url"), None),
            Err("parse \"not a url\": invalid URI for request".to_string())
        );
    }

    #[test]
    fn same_origin_compares_with_the_host_header() {
        let p = policy(true, &[]);
        assert_eq!(
            p.check(Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")),
            Ok(())
        );
        assert_eq!(
            p.check(Some("http://example.com"), Some("EXAMPLE.com:80")),
            Ok(())
        );
        assert_eq!(
            p.check(Some("http://127.0.0.1:8081"), Some("127.0.0.1:8080")),
            Err("not same origin".to_string())
        );
        assert_eq!(
            p.check(Some("https://example.com"), Some("example.com")),
            Err("not same origin".to_string())
        );
    }

    #[test]
    fn allowed_origin_validation_reads_like_go() {
        assert_eq!(parse_origin_url("http://a.com"), Ok(()));
        assert_eq!(parse_origin_url("a.com"), Ok(()));
        // Observed with nats-server 2.9.10.
        assert_eq!(
            parse_origin_url(":::bad"),
            Err("parse \":::bad\": missing protocol scheme".to_string())
        );
        assert_eq!(
            parse_origin_url("a:b/c"),
            Ok(()),
            "a scheme `a` with an opaque part"
        );
        assert_eq!(
            parse_origin_url("1a:b"),
            Err("parse \"1a:b\": first path segment in URL cannot contain colon".to_string())
        );
        assert_eq!(
            parse_origin_url("http://h:x"),
            Err("parse \"http://h:x\": invalid port \":x\" after host".to_string())
        );
    }

    #[test]
    fn close_statuses_follow_nats_server() {
        assert_eq!(close_status(CloseReason::ClientClosed).0, 1000);
        assert_eq!(
            close_status(CloseReason::MaxPayloadExceeded),
            (1009, "Maximum Message Payload Exceeded")
        );
        assert_eq!(close_status(CloseReason::ServerShutdown).0, 1001);
        assert_eq!(close_status(CloseReason::ProtocolViolation).0, 1002);
        assert_eq!(close_status(CloseReason::AuthenticationViolation).0, 1008);
    }
}
