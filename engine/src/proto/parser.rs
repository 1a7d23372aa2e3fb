//! Resumable, zero-copy parser for both directions of the NATS client protocol.
//!
//! [`ServerParser`] parses what a client sends (CONNECT, PUB, HPUB, SUB, UNSUB, PING,
//! PONG); [`ClientParser`] parses what a server sends (INFO, MSG, HMSG, +OK, -ERR, PING,
//! PONG). Both share one scanner. Each call to `parse` returns at most one op as slices
//! borrowed from the caller's buffer plus the number of bytes it spans; `Ok(None)` means
//! "feed me more". The scanner remembers where it stopped looking for the end of a control
//! line, and once a PUB/HPUB/MSG/HMSG control line is complete it remembers how many bytes
//! the op needs, so a slowly arriving payload costs O(1) per call. Nothing here allocates.
//!
//! # Framing rules (as nats-server 2.9.10 applies them)
//!
//! * Op names are case-insensitive and must start at the first byte of a line (a leading
//!   space or an empty line is an unknown op). An impossible byte is rejected as soon as it
//!   arrives, without waiting for the end of the line.
//! * PUB, HPUB, SUB, UNSUB, MSG, HMSG and -ERR need a space or tab right after the name;
//!   CONNECT and INFO take the rest of the line after optional spaces/tabs; PING, PONG and
//!   +OK ignore anything between the name and the `\n`.
//! * The argument text starts at the first byte after the blanks following the name (even
//!   if that byte is `\r` or `\n`: `CONNECT\n{}\n` is a CONNECT with JSON `\n{}`, as in Go)
//!   and ends at the next `\n`. If any `\r` occurred in it, its last byte is dropped (Go's
//!   `drop` flag), which strips the `\r` of a normal `\r\n`.
//! * Arguments are separated by runs of spaces/tabs; leading and trailing blanks are fine.
//!   SUB and UNSUB (Go's `splitArg`) and MSG/HMSG (nats.go) also split on CR and LF, so
//!   `SUB \nfoo 1\n` subscribes to `foo` while `PUB \nfoo 2\n` publishes to `"\nfoo"`.
//! * Sizes are 1 to 9 ASCII digits (Go's `parseSize`); anything else is a bad size.
//! * `max_control_line` bounds the argument text (not the op name), excluding the dropped
//!   `\r`, and is enforced while the line is still unterminated.
//! * `max_payload` is checked as soon as the PUB/HPUB control line is parsed, before any
//!   payload byte is needed. After the payload exactly `\r\n` must follow; the first wrong
//!   byte is an error.
//! * A client's `+OK` and `INFO {json}` are accepted and ignored by nats-server; this parser
//!   consumes them silently (they are included in the `consumed` count of the next op).
//!   A client's `-ERR` makes nats-server close the connection without a reply.
//!
//! # nats-server 2.9.10 behaviour, measured
//!
//! Each input was sent on a fresh TCP connection right after the server's INFO (no
//! CONNECT unless stated, so the default `verbose`/`pedantic` = true apply). "closed"
//! means the server closed the socket. Each row is pinned by `nats_server_error_table` in
//! `proto/tests.rs`.
//!
//! | input | nats-server reply | state | [`ParseError`] |
//! |---|---|---|---|
//! | `FOO\r\n` (also just `FOO`, `PUX`, `PUBX`, ` PING`) | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `PUB\r\n`, `SUB\r\n`, `UNSUB\r\n`, `HPUB\r\n`, `-ERR\r\n`, `+O\r\n` | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `PUB \r\n`, `PUB foo\r\n` (no size) | nothing | closed | `BadArgs` |
//! | `PUB foo bar baz 5\r\n` (too many args) | nothing | closed | `BadArgs` |
//! | `PUB foo abc\r\n`, `PUB foo -1\r\n`, `PUB foo +2\r\n`, `PUB foo 1234567890\r\n` | nothing | closed | `BadSize` |
//! | `PUB foo 02\r\nhi\r\n` | (accepted, size 2) | open | — |
//! | `PUB foo 5\r\nhelloXX\r\n` (payload longer than declared) | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `MissingPayloadTerminator` |
//! | `PUB foo 2\r\nhi\n`, `PUB foo 0\r\nX` | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `MissingPayloadTerminator` |
//! | `PUB foo 2000000\r\n` (> max_payload 1048576; also `999999999`) | `-ERR 'Maximum Payload Violation'\r\n` | closed | `PayloadTooLarge` |
//! | `PUB foo 1048576\r\n` | (accepted, waits for payload) | open | — |
//! | `SUB foo\r\n` (no sid), `SUB a b c d\r\n` | nothing | closed | `BadArgs` |
//! | `SUB\r\n` | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `UNSUB\r\n` | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `UNSUB \r\n`, `UNSUB 1 2 3\r\n` | nothing | closed | `BadArgs` |
//! | `UNSUB 1 abc\r\n`, `UNSUB 1 1234567890\r\n` (bad max) | `+OK\r\n` (max ignored: unsubscribes now) | open | — (`max: None`) |
//! | `HPUB foo 12 12\r\n` before a CONNECT with `headers:true` | nothing | closed | `HeadersNotSupported` (see [`ServerParser::set_headers`]) |
//! | `HPUB foo 10 5\r\n` (header > total) | nothing | closed | `HeaderSizeExceedsTotal` |
//! | `HPUB foo 2000000 12\r\n` | nothing (size check comes first) | closed | `HeaderSizeExceedsTotal` |
//! | `HPUB foo 5\r\n`, `HPUB foo\r\n`, `HPUB foo r 5 a b\r\n` | nothing | closed | `BadArgs` |
//! | `HPUB foo a 5\r\n`, `HPUB foo 5 a\r\n`, `HPUB foo 12 1234567890\r\n` | nothing | closed | `BadSize` |
//! | `HPUB foo 12 2000000\r\n` | `-ERR 'Maximum Payload Violation'\r\n` | closed | `PayloadTooLarge` |
//! | `HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhiXX` | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `MissingPayloadTerminator` |
//! | `A` × 5000, no newline | `-ERR 'Unknown Protocol Operation'\r\n` (at the first byte) | closed | `UnknownOp` |
//! | `PUB ` / `SUB ` / `CONNECT ` + 5000 bytes, no newline | `-ERR 'maximum control line exceeded'\r\n` | closed | `ControlLineTooLong` |
//! | `PUB ` + 4097-byte argument (terminated or not) | `-ERR 'maximum control line exceeded'\r\n` | closed | `ControlLineTooLong` |
//! | `PUB ` + 4096-byte argument | (accepted) | open | — |
//! | `CONNECT ` + 4097 bytes of valid JSON + `\r\n` | `-ERR 'maximum control line exceeded'\r\n` | closed | `ControlLineTooLong` |
//! | `PING` + 100000 junk bytes + `\r\n` (no limit on non-argument bytes) | `PONG\r\n` | open | — (up to a cap, see below) |
//! | `CONNECT {bad\r\n`, `CONNECT\r\n`, `CONNECT []\r\n`, `CONNECT {"verbose":"yes"}\r\n` | nothing | closed | — (server layer: JSON) |
//! | `CONNECT null\r\n`, `CONNECT {"unknown":1}\r\n` | `+OK\r\n` | open | — (server layer) |
//! | `\x00\x01\xff\xfe\r\n` (binary garbage) | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `\r\n`, `\n` (empty line) | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `PING extra\r\n`, `PINGextra\r\n`, `ping\r\n`, `PiNg\n` | `PONG\r\n` | open | — |
//! | `+OK\r\n`, `+OKjunk\r\n`, `INFO {}\r\n` (from a client) | nothing (ignored) | open | — (skipped) |
//! | `-ERR 'x'\r\n` (from a client) | nothing | closed | `PeerError` |
//! | `MSG foo 1 0\r\n` (from a client) | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//! | `SUB foo\r 1\n` (stray CR: Go drops the last byte) | nothing | closed | `BadArgs` |
//! | `SUB foo\r 1 \n`, `SUB \nfoo 1\n` | (accepted: subject `foo`, sid `1`) | open | — |
//! | `PUB \nfoo 2\nhi\r\n` | (accepted: subject `"\nfoo"`) | open | — |
//! | first byte not `C`/`c` while auth is required (`PING`, `FOO`, `\r\n`, `P`) | `-ERR 'Authorization Violation'\r\n` | closed | `AuthorizationViolation` (see [`ServerParser::set_connect_required`]) |
//! | `CXX\r\n` while auth is required | `-ERR 'Unknown Protocol Operation'\r\n` | closed | `UnknownOp` |
//!
//! Invalid CONNECT JSON is the server layer's business (this parser hands the JSON over
//! untouched): nats-server 2.9.10 closes the connection without any `-ERR` when
//! `json.Unmarshal` fails (syntax error, trailing garbage, a non-object such as `[]`, or a
//! known field of the wrong type); `null` and unknown fields are accepted.
//!
//! # Known deviations (pathological input only)
//!
//! * Bytes that are not argument text (the junk after `PING`/`PONG`/`+OK`, blanks between
//!   the op name and its arguments, and ignored client `+OK`/`INFO` ops) are unlimited in
//!   nats-server because it does not keep them; a sans-IO parser cannot discard bytes
//!   without returning an op, so they are capped at `max_control_line + max_payload`
//!   (then `ControlLineTooLong`).
//! * A client's `HMSG` line is accepted by nats-server as a zero-length message to nowhere
//!   (`+OK` when verbose); here it is an unknown op.
//! * A client's `INFO` is skipped if its JSON is `null` or a syntactically valid object
//!   (nats-server also rejects known fields of the wrong type); otherwise `BadInfo`.
//! * When a control line is split across reads Go drops *every* `\r` from it; this parser
//!   always applies the single-read rule above.

use crate::error::ClientError;
use core::fmt;

/// Limits enforced while parsing, before any payload is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// Longest control line accepted (bytes, excluding the line terminator).
    pub max_control_line: usize,
    /// Largest payload (PUB size / HPUB total size) accepted.
    pub max_payload: usize,
}

impl ParserLimits {
    /// nats-server's defaults: 4096-byte control lines, 1 MiB payloads.
    pub const DEFAULT: ParserLimits = ParserLimits {
        max_control_line: 4096,
        max_payload: 1024 * 1024,
    };

    /// Cap on bytes that are not argument text (see the module docs).
    fn junk_cap(&self) -> usize {
        self.max_control_line.saturating_add(self.max_payload)
    }
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits::DEFAULT
    }
}

/// An op sent by a client to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`
    Connect {
        /// The JSON object.
        json: &'a [u8],
    },
    /// `PUB subject [reply] size` + payload
    Pub {
        /// Subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Payload.
        payload: &'a [u8],
    },
    /// `HPUB subject [reply] hdr_size total_size` + headers + payload
    HPub {
        /// Subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Header block, `NATS/1.0…\r\n\r\n`.
        headers: &'a [u8],
        /// Payload after the header block.
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`
    Sub {
        /// Subject.
        subject: &'a [u8],
        /// Queue group.
        queue: Option<&'a [u8]>,
        /// Subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`
    Unsub {
        /// Subscription id.
        sid: &'a [u8],
        /// Auto-unsubscribe after this many messages. `None` when absent *or* not a valid
        /// size (nats-server then treats it like no max: unsubscribe now); `Some(0)` also
        /// unsubscribes now.
        max: Option<u64>,
    },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// An op sent by the server to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp<'a> {
    /// `INFO {json}`
    Info {
        /// The JSON object.
        json: &'a [u8],
    },
    /// `MSG subject sid [reply] size` + payload
    Msg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Payload.
        payload: &'a [u8],
    },
    /// `HMSG subject sid [reply] hdr_size total_size` + headers + payload
    HMsg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Header block.
        headers: &'a [u8],
        /// Payload after the header block.
        payload: &'a [u8],
    },
    /// `+OK`
    Ok,
    /// `-ERR 'text'`
    Err {
        /// The text between the quotes.
        message: &'a [u8],
    },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// The kind of a protocol op (used in errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `CONNECT`
    Connect,
    /// `INFO`
    Info,
    /// `PUB`
    Pub,
    /// `HPUB`
    HPub,
    /// `SUB`
    Sub,
    /// `UNSUB`
    Unsub,
    /// `MSG`
    Msg,
    /// `HMSG`
    HMsg,
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
    /// `+OK`
    Ok,
    /// `-ERR`
    Err,
}

impl OpKind {
    /// The op's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Connect => "CONNECT",
            OpKind::Info => "INFO",
            OpKind::Pub => "PUB",
            OpKind::HPub => "HPUB",
            OpKind::Sub => "SUB",
            OpKind::Unsub => "UNSUB",
            OpKind::Msg => "MSG",
            OpKind::HMsg => "HMSG",
            OpKind::Ping => "PING",
            OpKind::Pong => "PONG",
            OpKind::Ok => "+OK",
            OpKind::Err => "-ERR",
        }
    }

    fn has_payload(self) -> bool {
        matches!(
            self,
            OpKind::Pub | OpKind::HPub | OpKind::Msg | OpKind::HMsg
        )
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why parsing failed. Every parse error ends the connection; [`ParseError::client_error`]
/// tells whether nats-server sends an `-ERR` first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not a known op (or a known op name followed by a byte it does not allow), detected
    /// at the first impossible byte. nats-server: `-ERR 'Unknown Protocol Operation'`.
    UnknownOp,
    /// The two bytes after a payload were not `\r\n`.
    /// nats-server: `-ERR 'Unknown Protocol Operation'`.
    MissingPayloadTerminator,
    /// The control line's argument text exceeds `max_control_line` (or non-argument bytes
    /// exceed the parser's cap). nats-server: `-ERR 'maximum control line exceeded'`.
    ControlLineTooLong {
        /// The limit in force.
        max: usize,
    },
    /// A PUB/HPUB (or MSG/HMSG) size exceeds `max_payload`.
    /// nats-server: `-ERR 'Maximum Payload Violation'`.
    PayloadTooLarge {
        /// The declared size (HPUB: total size).
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// Wrong number of arguments for the op. nats-server closes silently.
    BadArgs {
        /// The op.
        op: OpKind,
    },
    /// A size or header size that is not 1–9 ASCII digits. nats-server closes silently.
    BadSize {
        /// The op.
        op: OpKind,
    },
    /// HPUB/HMSG header size larger than the total size. nats-server closes silently.
    HeaderSizeExceedsTotal {
        /// Declared header size.
        header: usize,
        /// Declared total size.
        total: usize,
    },
    /// HPUB from a client that did not negotiate headers. nats-server closes silently.
    HeadersNotSupported,
    /// An op other than CONNECT while CONNECT is required (auth pending).
    /// nats-server: `-ERR 'Authorization Violation'`.
    AuthorizationViolation,
    /// The client sent `-ERR`; nats-server logs it and closes silently.
    PeerError,
    /// The client sent `INFO` whose JSON is neither `null` nor a valid object; nats-server
    /// closes silently.
    BadInfo,
}

impl ParseError {
    /// The `-ERR` nats-server sends for this error, if any. The connection is closed in
    /// every case.
    pub fn client_error(&self) -> Option<ClientError> {
        match self {
            ParseError::UnknownOp | ParseError::MissingPayloadTerminator => {
                Some(ClientError::UnknownProtocolOperation)
            }
            ParseError::ControlLineTooLong { .. } => Some(ClientError::MaximumControlLineExceeded),
            ParseError::PayloadTooLarge { .. } => Some(ClientError::MaximumPayloadViolation),
            ParseError::AuthorizationViolation => Some(ClientError::AuthorizationViolation),
            ParseError::BadArgs { .. }
            | ParseError::BadSize { .. }
            | ParseError::HeaderSizeExceedsTotal { .. }
            | ParseError::HeadersNotSupported
            | ParseError::PeerError
            | ParseError::BadInfo => None,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::UnknownOp => f.write_str("unknown protocol operation"),
            ParseError::MissingPayloadTerminator => f.write_str("payload not followed by CRLF"),
            ParseError::ControlLineTooLong { max } => {
                write!(f, "control line longer than {max} bytes")
            }
            ParseError::PayloadTooLarge { size, max } => {
                write!(f, "payload of {size} bytes exceeds max_payload {max}")
            }
            ParseError::BadArgs { op } => write!(f, "wrong number of arguments for {op}"),
            ParseError::BadSize { op } => write!(f, "bad or missing size in {op}"),
            ParseError::HeaderSizeExceedsTotal { header, total } => {
                write!(f, "header size {header} larger than total size {total}")
            }
            ParseError::HeadersNotSupported => f.write_str("headers not negotiated"),
            ParseError::AuthorizationViolation => f.write_str("first op is not CONNECT"),
            ParseError::PeerError => f.write_str("peer sent -ERR"),
            ParseError::BadInfo => f.write_str("invalid INFO JSON"),
        }
    }
}

impl core::error::Error for ParseError {}

// ---------------------------------------------------------------------------------------
// Shared scanner.

/// What follows an op name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    /// PING/PONG/+OK: anything up to `\n` is ignored.
    Bare,
    /// A space/tab is required, then arguments.
    Spaced,
    /// Optional blanks, then the rest of the line (CONNECT/INFO JSON).
    Rest,
}

struct OpSpec {
    name: &'static [u8],
    kind: OpKind,
    style: Style,
}

const fn spec(name: &'static [u8], kind: OpKind, style: Style) -> OpSpec {
    OpSpec { name, kind, style }
}

/// Ops a server accepts from a client.
const FROM_CLIENT: &[OpSpec] = &[
    spec(b"PUB", OpKind::Pub, Style::Spaced),
    spec(b"HPUB", OpKind::HPub, Style::Spaced),
    spec(b"SUB", OpKind::Sub, Style::Spaced),
    spec(b"UNSUB", OpKind::Unsub, Style::Spaced),
    spec(b"PING", OpKind::Ping, Style::Bare),
    spec(b"PONG", OpKind::Pong, Style::Bare),
    spec(b"CONNECT", OpKind::Connect, Style::Rest),
    spec(b"INFO", OpKind::Info, Style::Rest),
    spec(b"+OK", OpKind::Ok, Style::Bare),
    spec(b"-ERR", OpKind::Err, Style::Spaced),
];

/// Ops a client accepts from a server.
const FROM_SERVER: &[OpSpec] = &[
    spec(b"MSG", OpKind::Msg, Style::Spaced),
    spec(b"HMSG", OpKind::HMsg, Style::Spaced),
    spec(b"PING", OpKind::Ping, Style::Bare),
    spec(b"PONG", OpKind::Pong, Style::Bare),
    spec(b"INFO", OpKind::Info, Style::Rest),
    spec(b"+OK", OpKind::Ok, Style::Bare),
    spec(b"-ERR", OpKind::Err, Style::Spaced),
];

/// A byte range of the caller's buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
}

impl Span {
    fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    fn of(self, buf: &[u8]) -> &[u8] {
        buf.get(self.start..self.end).unwrap_or(&[])
    }
}

/// A PUB/HPUB/MSG/HMSG whose control line is parsed; waiting for `start + total + 2` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    kind: OpKind,
    subject: Span,
    /// Empty for PUB/HPUB.
    sid: Span,
    reply: Option<Span>,
    /// First payload (or header) byte.
    start: usize,
    /// Header size (0 for PUB/MSG).
    header: usize,
    /// Header + payload size.
    total: usize,
}

impl Pending {
    fn headers(&self) -> Span {
        Span::new(self.start, self.start + self.header)
    }

    fn payload(&self) -> Span {
        Span::new(self.start + self.header, self.start + self.total)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Looking at the op name starting at `skip`.
    Start,
    /// Op name seen; skipping blanks (first requiring one if `need_sep`). `pos` is the
    /// next byte to look at.
    Blanks {
        kind: OpKind,
        pos: usize,
        need_sep: bool,
    },
    /// Looking for `\n`; `pos` is the next byte to look at. `args` is false for
    /// PING/PONG/+OK. `cr`: a `\r` was seen after `arg_start`.
    Line {
        kind: OpKind,
        args: bool,
        arg_start: usize,
        pos: usize,
        cr: bool,
    },
    /// Control line done; waiting for the payload and its `\r\n`.
    Payload(Pending),
}

/// One op located in the buffer.
enum Frame {
    /// A control-line-only op; `arg` is its argument text.
    Line { kind: OpKind, arg: Span, end: usize },
    /// A PUB/HPUB/MSG/HMSG with its payload.
    Msg { op: Pending, end: usize },
}

#[derive(Debug, Clone)]
struct Scanner {
    limits: ParserLimits,
    phase: Phase,
    /// Bytes at the front of the buffer that belong to ignored ops (client +OK/INFO) and
    /// will be reported as consumed with the next op.
    skip: usize,
    /// The first op byte must be `C`/`c` (auth pending).
    connect_required: bool,
    /// HPUB allowed.
    headers: bool,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Match an op name at the front of `buf` (case-insensitive).
fn match_op<'t>(buf: &[u8], table: &'t [OpSpec]) -> Result<Option<&'t OpSpec>, ParseError> {
    let mut partial = false;
    for spec in table {
        let n = spec.name.len().min(buf.len());
        let (Some(have), Some(want)) = (buf.get(..n), spec.name.get(..n)) else {
            continue;
        };
        if have.eq_ignore_ascii_case(want) {
            if n == spec.name.len() {
                return Ok(Some(spec));
            }
            partial = true;
        }
    }
    if partial {
        Ok(None)
    } else {
        Err(ParseError::UnknownOp)
    }
}

/// The offset of the first `\n` in `bytes`, and whether a `\r` comes before it (or, with
/// no `\n`, anywhere in `bytes`).
///
/// Word-at-a-time (`memchr`) rather than byte by byte: this scan is the bulk of parsing a
/// small PUB. The first `\r` or `\n` is found in one search; after a `\r` the usual
/// `\n` is checked directly, and only a stray `\r` needs a second search.
fn find_line_end(bytes: &[u8]) -> (Option<usize>, bool) {
    let Some(first) = memchr::memchr2(b'\n', b'\r', bytes) else {
        return (None, false);
    };
    if bytes.get(first) == Some(&b'\n') {
        return (Some(first), false);
    }
    let after_cr = first + 1;
    let newline = match bytes.get(after_cr) {
        Some(b'\n') => Some(after_cr),
        _ => memchr::memchr(b'\n', bytes.get(after_cr..).unwrap_or(&[])).map(|off| after_cr + off),
    };
    (newline, true)
}

/// The offset of the first byte in `bytes` that is `b' '` or below (a blank, CR, LF or
/// another control byte), eight bytes at a time: a token of the usual publish line is
/// then one or two steps rather than a step per byte.
fn find_control_byte(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let word = u64::from_le_bytes(word);
        // The high bit of each byte below 0x21 (a byte at or above 0x80 has its own high
        // bit set, so `!word` clears it). Borrows only run towards higher bytes, so the
        // lowest flagged byte is exact; flags above it may be spurious, which is why only
        // the first one is used.
        let below = word.wrapping_sub(ONES * 0x21) & !word & HIGH_BITS;
        if below != 0 {
            return Some(offset + (below.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| b <= b' ')
        .map(|i| offset + i)
}

/// Go's `parseSize`: 1 to 9 ASCII digits.
fn parse_size(d: &[u8]) -> Option<usize> {
    if d.is_empty() || d.len() > 9 {
        return None;
    }
    let mut n = 0usize;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

/// How an op's arguments are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    /// Spaces and tabs (Go's unrolled PUB/HPUB splitter).
    Blanks,
    /// Spaces, tabs, CR and LF (Go's `splitArg`: SUB, UNSUB; nats.go's MSG/HMSG).
    BlanksAndLineBreaks,
}

impl Sep {
    fn is_sep(self, b: u8) -> bool {
        is_blank(b) || (self == Sep::BlanksAndLineBreaks && (b == b'\r' || b == b'\n'))
    }
}

/// Split `arg` into tokens. Returns the first `N` spans and the token count, capped at
/// `N + 1` (meaning "more than `N`").
fn split_args<const N: usize>(buf: &[u8], arg: Span, sep: Sep) -> ([Span; N], usize) {
    let mut out = [Span::default(); N];
    let mut count = 0;
    let bytes = arg.of(buf);
    let mut pos = 0;
    while count <= N {
        // Skip the separators before the next token (usually one blank).
        let rest = bytes.get(pos..).unwrap_or(&[]);
        let Some(skip) = rest.iter().position(|&b| !sep.is_sep(b)) else {
            break;
        };
        let start = pos + skip;
        let token = bytes.get(start..).unwrap_or(&[]);
        // The token runs to the next separator: searched word-at-a-time for PUB/HPUB,
        // the ops every published message goes through.
        let len = match sep {
            Sep::Blanks => memchr::memchr2(b' ', b'\t', token),
            Sep::BlanksAndLineBreaks => token.iter().position(|&b| sep.is_sep(b)),
        }
        .unwrap_or(token.len());
        pos = start + len;
        if let Some(slot) = out.get_mut(count) {
            *slot = Span::new(arg.start + start, arg.start + pos);
        }
        count += 1;
    }
    (out, count)
}

/// The argument at index `i` (spans past `N` are never read: callers match on the count).
fn at<const N: usize>(spans: &[Span; N], i: usize) -> Span {
    spans.get(i).copied().unwrap_or_default()
}

fn size_of(buf: &[u8], span: Span, op: OpKind) -> Result<usize, ParseError> {
    parse_size(span.of(buf)).ok_or(ParseError::BadSize { op })
}

impl Scanner {
    fn new(limits: ParserLimits) -> Self {
        Scanner {
            limits,
            phase: Phase::Start,
            skip: 0,
            connect_required: false,
            headers: true,
        }
    }

    fn reset(&mut self) {
        self.phase = Phase::Start;
        self.skip = 0;
    }

    /// Bytes the buffer is known to hold given the current state.
    fn floor(&self) -> usize {
        match self.phase {
            Phase::Start => self.skip,
            Phase::Blanks { pos, .. } | Phase::Line { pos, .. } => pos,
            Phase::Payload(p) => p.start,
        }
    }

    /// Total buffer length needed to finish the current op, once known.
    fn needed(&self) -> Option<usize> {
        match self.phase {
            Phase::Payload(p) => Some(p.start.saturating_add(p.total).saturating_add(2)),
            _ => None,
        }
    }

    fn next(&mut self, buf: &[u8], table: &[OpSpec]) -> Result<Option<Frame>, ParseError> {
        if buf.len() < self.floor() {
            // The caller broke the contract (shrunk the buffer): start over rather than
            // index out of bounds.
            self.reset();
        }
        let r = self.step(buf, table);
        if r.is_err() {
            self.reset();
        }
        r
    }

    fn step(&mut self, buf: &[u8], table: &[OpSpec]) -> Result<Option<Frame>, ParseError> {
        let limits = self.limits;
        loop {
            match self.phase {
                Phase::Start => {
                    let rest = buf.get(self.skip..).unwrap_or(&[]);
                    let Some(&first) = rest.first() else {
                        return Ok(None);
                    };
                    if self.connect_required && first != b'C' && first != b'c' {
                        return Err(ParseError::AuthorizationViolation);
                    }
                    let Some(spec) = match_op(rest, table)? else {
                        return Ok(None);
                    };
                    let pos = self.skip + spec.name.len();
                    let kind = spec.kind;
                    self.phase = match spec.style {
                        Style::Bare => Phase::Line {
                            kind,
                            args: false,
                            arg_start: pos,
                            pos,
                            cr: false,
                        },
                        Style::Spaced => Phase::Blanks {
                            kind,
                            pos,
                            need_sep: true,
                        },
                        Style::Rest => Phase::Blanks {
                            kind,
                            pos,
                            need_sep: false,
                        },
                    };
                }
                Phase::Blanks {
                    kind,
                    mut pos,
                    need_sep,
                } => {
                    if need_sep {
                        match buf.get(pos) {
                            None => return Ok(None),
                            Some(&b) if is_blank(b) => pos += 1,
                            Some(_) => return Err(ParseError::UnknownOp),
                        }
                    }
                    let rest = buf.get(pos..).unwrap_or(&[]);
                    match rest.iter().position(|&b| !is_blank(b)) {
                        Some(off) => {
                            let arg_start = pos + off;
                            if arg_start - self.skip > limits.junk_cap() {
                                return Err(ParseError::ControlLineTooLong {
                                    max: limits.max_control_line,
                                });
                            }
                            self.phase = Phase::Line {
                                kind,
                                args: true,
                                arg_start,
                                pos: arg_start + 1,
                                cr: false,
                            };
                        }
                        None => {
                            let pos = pos.max(buf.len());
                            if pos - self.skip > limits.junk_cap() {
                                return Err(ParseError::ControlLineTooLong {
                                    max: limits.max_control_line,
                                });
                            }
                            self.phase = Phase::Blanks {
                                kind,
                                pos,
                                need_sep: false,
                            };
                            return Ok(None);
                        }
                    }
                }
                Phase::Line {
                    kind,
                    args,
                    arg_start,
                    pos,
                    mut cr,
                } => {
                    let rest = buf.get(pos..).unwrap_or(&[]);
                    let (newline, cr_seen) = find_line_end(rest);
                    let newline = newline.map(|off| pos + off);
                    cr |= cr_seen;
                    let Some(nl) = newline else {
                        let len = buf.len().max(pos);
                        let too_long = if args {
                            len - arg_start - usize::from(cr) > limits.max_control_line
                        } else {
                            len - self.skip > limits.junk_cap()
                        };
                        if too_long {
                            return Err(ParseError::ControlLineTooLong {
                                max: limits.max_control_line,
                            });
                        }
                        self.phase = Phase::Line {
                            kind,
                            args,
                            arg_start,
                            pos: len,
                            cr,
                        };
                        return Ok(None);
                    };
                    let end = nl + 1;
                    if !args {
                        if nl - self.skip > limits.junk_cap() {
                            return Err(ParseError::ControlLineTooLong {
                                max: limits.max_control_line,
                            });
                        }
                        self.phase = Phase::Start;
                        return Ok(Some(Frame::Line {
                            kind,
                            arg: Span::new(end, end),
                            end,
                        }));
                    }
                    let arg = Span::new(arg_start, nl - usize::from(cr));
                    if arg.len() > limits.max_control_line {
                        return Err(ParseError::ControlLineTooLong {
                            max: limits.max_control_line,
                        });
                    }
                    if kind.has_payload() {
                        self.phase = Phase::Payload(self.payload_args(buf, kind, arg, end)?);
                        continue;
                    }
                    self.phase = Phase::Start;
                    return Ok(Some(Frame::Line { kind, arg, end }));
                }
                Phase::Payload(op) => {
                    let at = op.start + op.total;
                    return match (buf.get(at), buf.get(at + 1)) {
                        (None, _) | (Some(b'\r'), None) => Ok(None),
                        (Some(b'\r'), Some(b'\n')) => {
                            self.phase = Phase::Start;
                            Ok(Some(Frame::Msg { op, end: at + 2 }))
                        }
                        _ => Err(ParseError::MissingPayloadTerminator),
                    };
                }
            }
        }
    }

    /// The usual PUB/HPUB control line, parsed in one pass: the name in any case, one
    /// blank, arguments separated by single blanks, `\r\n`, all in `buf`, with valid sizes
    /// within the limits. Returns `None` for anything else (a partial line, extra blanks, a
    /// bad size, a limit exceeded, HPUB before headers were negotiated, …), which the
    /// general scanner then handles from the start. For the lines accepted here the
    /// general scanner would find the same op: the argument text starts right after the
    /// blank, the only `\r` is the one before the `\n` (Go's `drop` removes it), and the
    /// tokens are exactly what `split_args` would split out.
    ///
    /// Why: the general scanner takes the line in four steps (name lookup, blanks, line
    /// end, argument split), each with its own search; for a small PUB those steps were
    /// most of the server's CPU time per message.
    #[inline]
    fn fast_publish(&self, buf: &[u8]) -> Option<Pending> {
        let rest = buf.get(self.skip..)?;
        // `| 0x20` folds ASCII letters to lower case (and no other byte onto one).
        let (kind, name_len) = match rest {
            [p, u, b, sep, ..]
                if *p | 0x20 == b'p'
                    && *u | 0x20 == b'u'
                    && *b | 0x20 == b'b'
                    && is_blank(*sep) =>
            {
                (OpKind::Pub, 4)
            }
            [h, p, u, b, sep, ..]
                if self.headers
                    && *h | 0x20 == b'h'
                    && *p | 0x20 == b'p'
                    && *u | 0x20 == b'u'
                    && *b | 0x20 == b'b'
                    && is_blank(*sep) =>
            {
                (OpKind::HPub, 5)
            }
            _ => return None,
        };
        let limits = self.limits;
        if name_len > limits.junk_cap() {
            return None;
        }
        let arg_start = self.skip + name_len;
        let line = buf.get(arg_start..)?;
        // The argument text ends at the `\r`, so it is found within `max_control_line`
        // bytes or the line is too long (left to the general scanner to report).
        let scan = line
            .get(..limits.max_control_line.saturating_add(1))
            .unwrap_or(line);
        let mut tokens = [Span::default(); 4];
        let mut count = 0;
        let mut token_start = 0;
        let mut next = 0;
        let arg_end = loop {
            let i = next + find_control_byte(scan.get(next..)?)?;
            let b = *scan.get(i)?;
            next = i + 1;
            match b {
                b' ' | b'\t' | b'\r' => {
                    if i == token_start {
                        // An empty token: more than one blank, or a blank before `\r`.
                        return None;
                    }
                    *tokens.get_mut(count)? = Span::new(arg_start + token_start, arg_start + i);
                    count += 1;
                    if b == b'\r' {
                        if line.get(i + 1) != Some(&b'\n') {
                            return None;
                        }
                        break i;
                    }
                    token_start = i + 1;
                }
                b'\n' => return None,
                // Other control bytes are part of a token, as in the general scanner.
                _ => {}
            }
        };
        let size = |span: Span| parse_size(span.of(buf));
        let (reply, header, total) = match (kind, count) {
            (OpKind::Pub, 2) => (None, 0, size(tokens[1])?),
            (OpKind::Pub, 3) => (Some(tokens[1]), 0, size(tokens[2])?),
            (OpKind::HPub, 3) => (None, size(tokens[1])?, size(tokens[2])?),
            (OpKind::HPub, 4) => (Some(tokens[1]), size(tokens[2])?, size(tokens[3])?),
            _ => return None,
        };
        if header > total || total > limits.max_payload {
            return None;
        }
        Some(Pending {
            kind,
            subject: tokens[0],
            sid: Span::default(),
            reply,
            start: arg_start + arg_end + 2,
            header,
            total,
        })
    }

    /// Parse the arguments of a PUB/HPUB/MSG/HMSG control line and check the limits.
    fn payload_args(
        &self,
        buf: &[u8],
        kind: OpKind,
        arg: Span,
        start: usize,
    ) -> Result<Pending, ParseError> {
        let op = kind;
        let bad_args = ParseError::BadArgs { op };
        let mut p = Pending {
            kind,
            subject: Span::default(),
            sid: Span::default(),
            reply: None,
            start,
            header: 0,
            total: 0,
        };
        match kind {
            OpKind::Pub => {
                let (a, n) = split_args::<3>(buf, arg, Sep::Blanks);
                p.subject = at(&a, 0);
                p.total = match n {
                    2 => size_of(buf, at(&a, 1), op)?,
                    3 => {
                        p.reply = Some(at(&a, 1));
                        size_of(buf, at(&a, 2), op)?
                    }
                    _ => return Err(bad_args),
                };
            }
            OpKind::HPub => {
                if !self.headers {
                    return Err(ParseError::HeadersNotSupported);
                }
                let (a, n) = split_args::<4>(buf, arg, Sep::Blanks);
                p.subject = at(&a, 0);
                let sizes = match n {
                    3 => 1,
                    4 => {
                        p.reply = Some(at(&a, 1));
                        2
                    }
                    _ => return Err(bad_args),
                };
                p.header = size_of(buf, at(&a, sizes), op)?;
                p.total = size_of(buf, at(&a, sizes + 1), op)?;
            }
            OpKind::Msg => {
                let (a, n) = split_args::<4>(buf, arg, Sep::BlanksAndLineBreaks);
                p.subject = at(&a, 0);
                p.sid = at(&a, 1);
                p.total = match n {
                    3 => size_of(buf, at(&a, 2), op)?,
                    4 => {
                        p.reply = Some(at(&a, 2));
                        size_of(buf, at(&a, 3), op)?
                    }
                    _ => return Err(bad_args),
                };
            }
            _ => {
                // HMSG
                let (a, n) = split_args::<5>(buf, arg, Sep::BlanksAndLineBreaks);
                p.subject = at(&a, 0);
                p.sid = at(&a, 1);
                let sizes = match n {
                    4 => 2,
                    5 => {
                        p.reply = Some(at(&a, 2));
                        3
                    }
                    _ => return Err(bad_args),
                };
                p.header = size_of(buf, at(&a, sizes), op)?;
                p.total = size_of(buf, at(&a, sizes + 1), op)?;
            }
        }
        if p.header > p.total {
            return Err(ParseError::HeaderSizeExceedsTotal {
                header: p.header,
                total: p.total,
            });
        }
        if p.total > self.limits.max_payload {
            return Err(ParseError::PayloadTooLarge {
                size: p.total,
                max: self.limits.max_payload,
            });
        }
        Ok(p)
    }
}

/// Whether a client's INFO JSON would pass Go's `json.Unmarshal` into a struct, as far as
/// syntax goes: `null` or an object.
fn info_json_ok(json: &[u8]) -> bool {
    let trimmed = json
        .iter()
        .position(|b| !b" \t\r\n".contains(b))
        .and_then(|i| json.get(i..))
        .unwrap_or(&[]);
    matches!(trimmed.first(), Some(b'{') | Some(b'n'))
        && serde_json::from_slice::<serde::de::IgnoredAny>(json).is_ok()
}

// ---------------------------------------------------------------------------------------
// Server side.

/// Parses ops sent by clients (the server's side of a connection).
#[derive(Debug, Clone)]
pub struct ServerParser {
    scanner: Scanner,
}

impl ServerParser {
    /// A parser enforcing `limits`. HPUB is allowed and CONNECT is not required until
    /// [`ServerParser::set_headers`] / [`ServerParser::set_connect_required`] say otherwise.
    pub fn new(limits: ParserLimits) -> Self {
        ServerParser {
            scanner: Scanner::new(limits),
        }
    }

    /// Change the limits (e.g. after CONNECT).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.scanner.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.scanner.limits
    }

    /// Whether HPUB is accepted. nats-server rejects HPUB (closing silently, before the
    /// payload is read) unless the client's CONNECT asked for `headers` and the server
    /// supports them; to match it exactly, set `false` on accept and the negotiated value
    /// after CONNECT. Default: `true`.
    pub fn set_headers(&mut self, allowed: bool) {
        self.scanner.headers = allowed;
    }

    /// While `true`, the next op must be CONNECT: nats-server (auth required, CONNECT not
    /// yet processed) answers any op whose first byte is not `C`/`c` with
    /// `-ERR 'Authorization Violation'` at that very byte. Set it on accept when auth is
    /// required and clear it once CONNECT is accepted. Default: `false`.
    pub fn set_connect_required(&mut self, required: bool) {
        self.scanner.connect_required = required;
    }

    /// Once a PUB/HPUB control line has been parsed and its payload is still arriving: the
    /// total buffer length needed to complete the op (lets a frontend reserve capacity).
    pub fn needed(&self) -> Option<usize> {
        self.scanner.needed()
    }

    /// Forget any partially parsed op (for a caller that discards its buffer).
    pub fn reset(&mut self) {
        self.scanner.reset();
    }

    /// Parse one op from the front of `buf`.
    ///
    /// `Ok(Some((op, consumed)))`: an op; the caller drops `consumed` bytes from the front
    /// of its buffer after handling it. `Ok(None)`: more bytes are needed; call again with
    /// the same buffer extended. `Err`: protocol error, the connection is to be closed.
    pub fn parse<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
        loop {
            let frame = match self.fast_publish_frame(buf) {
                Some(frame) => frame,
                None => match self.scanner.next(buf, FROM_CLIENT)? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            let (op, end) = match frame {
                Frame::Msg { op: p, end } => {
                    let subject = p.subject.of(buf);
                    let reply = p.reply.map(|r| r.of(buf));
                    let op = if p.kind == OpKind::HPub {
                        ClientOp::HPub {
                            subject,
                            reply,
                            headers: p.headers().of(buf),
                            payload: p.payload().of(buf),
                        }
                    } else {
                        ClientOp::Pub {
                            subject,
                            reply,
                            payload: p.payload().of(buf),
                        }
                    };
                    (op, end)
                }
                Frame::Line { kind, arg, end } => match kind {
                    OpKind::Connect => (ClientOp::Connect { json: arg.of(buf) }, end),
                    OpKind::Ping => (ClientOp::Ping, end),
                    OpKind::Pong => (ClientOp::Pong, end),
                    OpKind::Sub => {
                        let (a, n) = split_args::<3>(buf, arg, Sep::BlanksAndLineBreaks);
                        let (queue, sid) = match n {
                            2 => (None, at(&a, 1)),
                            3 => (Some(at(&a, 1).of(buf)), at(&a, 2)),
                            _ => return self.fail(ParseError::BadArgs { op: kind }),
                        };
                        let op = ClientOp::Sub {
                            subject: at(&a, 0).of(buf),
                            queue,
                            sid: sid.of(buf),
                        };
                        (op, end)
                    }
                    OpKind::Unsub => {
                        let (a, n) = split_args::<2>(buf, arg, Sep::BlanksAndLineBreaks);
                        let max = match n {
                            1 => None,
                            2 => parse_size(at(&a, 1).of(buf)).map(|m| m as u64),
                            _ => return self.fail(ParseError::BadArgs { op: kind }),
                        };
                        let op = ClientOp::Unsub {
                            sid: at(&a, 0).of(buf),
                            max,
                        };
                        (op, end)
                    }
                    OpKind::Ok => {
                        self.skip_to(end)?;
                        continue;
                    }
                    OpKind::Info => {
                        if !info_json_ok(arg.of(buf)) {
                            return self.fail(ParseError::BadInfo);
                        }
                        self.skip_to(end)?;
                        continue;
                    }
                    OpKind::Err => return self.fail(ParseError::PeerError),
                    // Not in the client op table.
                    _ => return self.fail(ParseError::UnknownOp),
                },
            };
            self.scanner.skip = 0;
            return Ok(Some((op, end)));
        }
    }

    /// A whole PUB/HPUB of the usual form at the front of `buf` (see
    /// [`Scanner::fast_publish`]), without going through the general scanner. A usual
    /// control line whose payload has not fully arrived (or is not followed by `\r\n`)
    /// leaves the scanner waiting for (or failing on) the payload, as the general path
    /// would.
    #[inline]
    fn fast_publish_frame(&mut self, buf: &[u8]) -> Option<Frame> {
        if self.scanner.phase != Phase::Start || self.scanner.connect_required {
            return None;
        }
        let op = self.scanner.fast_publish(buf)?;
        let end = op.start + op.total;
        if buf.get(end..end + 2) == Some(b"\r\n") {
            return Some(Frame::Msg { op, end: end + 2 });
        }
        self.scanner.phase = Phase::Payload(op);
        None
    }

    /// An ignored op ends at `end`: carry on after it.
    fn skip_to(&mut self, end: usize) -> Result<(), ParseError> {
        if end > self.scanner.limits.junk_cap() {
            let max = self.scanner.limits.max_control_line;
            return self.fail(ParseError::ControlLineTooLong { max });
        }
        self.scanner.skip = end;
        Ok(())
    }

    fn fail<T>(&mut self, e: ParseError) -> Result<T, ParseError> {
        self.scanner.reset();
        Err(e)
    }
}

// ---------------------------------------------------------------------------------------
// Client side.

/// Parses ops sent by servers (a client's side of a connection).
#[derive(Debug, Clone)]
pub struct ClientParser {
    scanner: Scanner,
}

impl ClientParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParserLimits) -> Self {
        ClientParser {
            scanner: Scanner::new(limits),
        }
    }

    /// Change the limits (e.g. after the server's INFO announced `max_payload`).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.scanner.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> ParserLimits {
        self.scanner.limits
    }

    /// See [`ServerParser::needed`].
    pub fn needed(&self) -> Option<usize> {
        self.scanner.needed()
    }

    /// Forget any partially parsed op.
    pub fn reset(&mut self) {
        self.scanner.reset();
    }

    /// Same contract as [`ServerParser::parse`].
    pub fn parse<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ServerOp<'a>, usize)>, ParseError> {
        let Some(frame) = self.scanner.next(buf, FROM_SERVER)? else {
            return Ok(None);
        };
        let (op, end) = match frame {
            Frame::Msg { op: p, end } => {
                let subject = p.subject.of(buf);
                let sid = p.sid.of(buf);
                let reply = p.reply.map(|r| r.of(buf));
                let op = if p.kind == OpKind::HMsg {
                    ServerOp::HMsg {
                        subject,
                        sid,
                        reply,
                        headers: p.headers().of(buf),
                        payload: p.payload().of(buf),
                    }
                } else {
                    ServerOp::Msg {
                        subject,
                        sid,
                        reply,
                        payload: p.payload().of(buf),
                    }
                };
                (op, end)
            }
            Frame::Line { kind, arg, end } => {
                let op = match kind {
                    OpKind::Info => ServerOp::Info { json: arg.of(buf) },
                    OpKind::Ok => ServerOp::Ok,
                    OpKind::Ping => ServerOp::Ping,
                    OpKind::Pong => ServerOp::Pong,
                    OpKind::Err => ServerOp::Err {
                        message: err_text(arg.of(buf)),
                    },
                    // Not in the server op table.
                    _ => {
                        self.scanner.reset();
                        return Err(ParseError::UnknownOp);
                    }
                };
                (op, end)
            }
        };
        self.scanner.skip = 0;
        Ok(Some((op, end)))
    }
}

/// `-ERR` argument → text: blanks trimmed, then surrounding single quotes (as nats.go).
fn err_text(arg: &[u8]) -> &[u8] {
    trim_by(trim_by(arg, |b| b.is_ascii_whitespace()), |b| b == b'\'')
}

/// `s` without leading and trailing bytes matching `strip`.
fn trim_by(s: &[u8], strip: impl Fn(u8) -> bool) -> &[u8] {
    let start = s.iter().position(|&b| !strip(b)).unwrap_or(s.len());
    let end = s.iter().rposition(|&b| !strip(b)).map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}
