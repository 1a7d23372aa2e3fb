//! Protocol trace lines (`trace`, `-V`), worded as nats-server writes them:
//!
//! ```text
//! 127.0.0.1:57532 - cid:4 - <<- [CONNECT {"verbose":false,"name":"tr","lang":"py","version":"9.1"}]
//! 127.0.0.1:57532 - cid:4 - "v9.1:py:tr" - <<- [PUB foo rep 5]
//! 127.0.0.1:57532 - cid:4 - "v9.1:py:tr" - <<- MSG_PAYLOAD: ["hello"]
//! 127.0.0.1:57532 - cid:4 - "v9.1:py:tr" - ->> [MSG foo 1 rep 5]
//! 127.0.0.1:57532 - cid:4 - "v9.1:py:tr" - <-> [DELSUB 1]
//! ```
//!
//! Only formatting lives here; the connection decides when to trace (and does nothing of
//! this when tracing is off).

use super::ConnMeta;
use crate::error::GoQuoted;
use crate::prelude::*;
use core::fmt::Write;

/// Direction markers.
pub(crate) const IN: &str = "<<-";
pub(crate) const OUT: &str = "->>";
pub(crate) const INTERNAL: &str = "<->";

/// `IP:PORT - cid:N - ` and, once the client said who it is in CONNECT, `"vVERSION:LANG:NAME"
/// - ` (the parts it gave, joined by `:`).
pub(crate) fn prefix(meta: &ConnMeta, cid: u64) -> String {
    let mut p = format!("{}:{} - cid:{cid} - ", meta.ip, meta.port);
    let version = (!meta.version.is_empty()).then(|| format!("v{}", meta.version));
    let parts: Vec<&str> = [
        version.as_deref(),
        Some(&meta.lang[..]),
        Some(&meta.name[..]),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect();
    if !parts.is_empty() {
        let _ = write!(p, "{} - ", GoQuoted(&parts.join(":")));
    }
    p
}

/// `PREFIX<<- [OP ARGS]` for a received operation: its control line (the first line of
/// `raw`) with the operation name upper-cased, the arguments as sent.
pub(crate) fn op_in(prefix: &str, raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let line = String::from_utf8_lossy(&raw[..end]);
    let line = line.trim_end_matches('\r');
    let (op, args) = match line.find([' ', '\t']) {
        Some(i) => (&line[..i], &line[i..]),
        None => (line, ""),
    };
    format!("{prefix}{IN} [{}{args}]", op.to_ascii_uppercase())
}

/// `PREFIX<<- MSG_PAYLOAD: ["..."]`: the payload Go-quoted, cut after `max` bytes with
/// `...` when `max` is not 0 (`max_traced_msg_len`).
pub(crate) fn payload(prefix: &str, body: &[u8], max: usize) -> String {
    let cut = max > 0 && body.len() > max;
    let shown = if cut { &body[..max] } else { body };
    let quoted = GoQuoted(&String::from_utf8_lossy(shown)).to_string();
    if cut {
        // Go: the quoted text without its closing quote, then `..."`.
        format!(
            "{prefix}{IN} MSG_PAYLOAD: [{}...\"]",
            &quoted[..quoted.len() - 1]
        )
    } else {
        format!("{prefix}{IN} MSG_PAYLOAD: [{quoted}]")
    }
}

/// `PREFIX->> [WHAT]` for something sent (`OK`, `PONG`, `-ERR text`, a `MSG` line).
pub(crate) fn out(prefix: &str, what: &str) -> String {
    format!("{prefix}{OUT} [{what}]")
}

/// `MSG subject sid [reply] size`, or `HMSG subject sid [reply] header_size total_size`.
pub(crate) fn msg_line(
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: Option<usize>,
    body_len: usize,
) -> String {
    let mut line = String::from(if header_len.is_some() {
        "HMSG "
    } else {
        "MSG "
    });
    line.push_str(&String::from_utf8_lossy(subject));
    line.push(' ');
    line.push_str(&String::from_utf8_lossy(sid));
    if let Some(reply) = reply {
        line.push(' ');
        line.push_str(&String::from_utf8_lossy(reply));
    }
    if let Some(h) = header_len {
        let _ = write!(line, " {h}");
    }
    let _ = write!(line, " {body_len}");
    line
}

/// `PREFIX<-> [DELSUB sid]`: a subscription removed when its connection closed.
pub(crate) fn delsub(prefix: &str, sid: &[u8]) -> String {
    format!(
        "{prefix}{INTERNAL} [DELSUB {}]",
        String::from_utf8_lossy(sid)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, lang: &str, version: &str) -> ConnMeta {
        ConnMeta {
            ip: "127.0.0.1".to_string(),
            port: 57532,
            name: name.to_string(),
            lang: lang.to_string(),
            version: version.to_string(),
            ..ConnMeta::default()
        }
    }

    #[test]
    fn prefixes_name_the_client_as_nats_server_does() {
        // Each seen with nats-server 2.9.10 -V.
        assert_eq!(prefix(&meta("", "", ""), 4), "127.0.0.1:57532 - cid:4 - ");
        assert_eq!(
            prefix(&meta("tr", "py", "9.1"), 4),
            "127.0.0.1:57532 - cid:4 - \"v9.1:py:tr\" - "
        );
        assert_eq!(
            prefix(&meta("x", "", ""), 4),
            "127.0.0.1:57532 - cid:4 - \"x\" - "
        );
        assert_eq!(
            prefix(&meta("", "go", ""), 5),
            "127.0.0.1:57532 - cid:5 - \"go\" - "
        );
        assert_eq!(
            prefix(&meta("", "", "1"), 6),
            "127.0.0.1:57532 - cid:6 - \"v1\" - "
        );
    }

    #[test]
    fn lines() {
        let p = "P - ";
        assert_eq!(op_in(p, b"SUB a  1\r\n"), "P - <<- [SUB a  1]");
        assert_eq!(op_in(p, b"sub a 1\n"), "P - <<- [SUB a 1]");
        assert_eq!(op_in(p, b"PING\r\n"), "P - <<- [PING]");
        assert_eq!(
            op_in(p, b"PUB foo rep 5\r\nhello\r\n"),
            "P - <<- [PUB foo rep 5]"
        );
        assert_eq!(
            payload(p, b"NATS/1.0\r\n\r\nhi", 0),
            "P - <<- MSG_PAYLOAD: [\"NATS/1.0\\r\\n\\r\\nhi\"]"
        );
        assert_eq!(payload(p, b"hello", 3), "P - <<- MSG_PAYLOAD: [\"hel...\"]");
        assert_eq!(
            out(p, "-ERR Unknown Protocol Operation"),
            "P - ->> [-ERR Unknown Protocol Operation]"
        );
        assert_eq!(
            msg_line(b"foo", b"1", Some(b"rep"), None, 5),
            "MSG foo 1 rep 5"
        );
        assert_eq!(
            msg_line(b"foo", b"1", None, Some(12), 14),
            "HMSG foo 1 12 14"
        );
        assert_eq!(delsub(p, b"2"), "P - <-> [DELSUB 2]");
    }
}
