//! Tests for the wire protocol: every op, split invariance, limits, the nats-server 2.9.10
//! error table, encoders, encode→parse round trips and proptest fuzzing.

use super::encode;
use super::parser::{
    ClientOp, ClientParser, OpKind, ParseError, ParserLimits, ServerOp, ServerParser,
};
use crate::error::ClientError;
use crate::prelude::*;
use proptest::prelude::*;

const DEF: ParserLimits = ParserLimits::DEFAULT;

// ---------------------------------------------------------------------------------------
// Owned records of parse results, so results of different feeds can be compared.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Connect(Vec<u8>),
    Pub {
        subject: Vec<u8>,
        reply: Option<Vec<u8>>,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
    },
    Sub {
        subject: Vec<u8>,
        queue: Option<Vec<u8>>,
        sid: Vec<u8>,
    },
    Unsub {
        sid: Vec<u8>,
        max: Option<u64>,
    },
    Ping,
    Pong,
    Info(Vec<u8>),
    Msg {
        subject: Vec<u8>,
        sid: Vec<u8>,
        reply: Option<Vec<u8>>,
        headers: Option<Vec<u8>>,
        payload: Vec<u8>,
    },
    Ok,
    Err(Vec<u8>),
    /// A parse error (always the last event).
    Fail(ParseError),
}

fn v(b: &[u8]) -> Vec<u8> {
    b.to_vec()
}

fn ov(b: Option<&[u8]>) -> Option<Vec<u8>> {
    b.map(v)
}

impl From<ClientOp<'_>> for Ev {
    fn from(op: ClientOp<'_>) -> Ev {
        match op {
            ClientOp::Connect { json } => Ev::Connect(v(json)),
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => Ev::Pub {
                subject: v(subject),
                reply: ov(reply),
                headers: None,
                payload: v(payload),
            },
            ClientOp::HPub {
                subject,
                reply,
                headers,
                payload,
            } => Ev::Pub {
                subject: v(subject),
                reply: ov(reply),
                headers: Some(v(headers)),
                payload: v(payload),
            },
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => Ev::Sub {
                subject: v(subject),
                queue: ov(queue),
                sid: v(sid),
            },
            ClientOp::Unsub { sid, max } => Ev::Unsub { sid: v(sid), max },
            ClientOp::Ping => Ev::Ping,
            ClientOp::Pong => Ev::Pong,
        }
    }
}

impl From<ServerOp<'_>> for Ev {
    fn from(op: ServerOp<'_>) -> Ev {
        match op {
            ServerOp::Info { json } => Ev::Info(v(json)),
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => Ev::Msg {
                subject: v(subject),
                sid: v(sid),
                reply: ov(reply),
                headers: None,
                payload: v(payload),
            },
            ServerOp::HMsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => Ev::Msg {
                subject: v(subject),
                sid: v(sid),
                reply: ov(reply),
                headers: Some(v(headers)),
                payload: v(payload),
            },
            ServerOp::Ok => Ev::Ok,
            ServerOp::Err { message } => Ev::Err(v(message)),
            ServerOp::Ping => Ev::Ping,
            ServerOp::Pong => Ev::Pong,
        }
    }
}

/// What a feed produced: the events and the bytes left unconsumed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<Ev>,
    left: Vec<u8>,
}

/// Either direction's parser, behind one interface.
trait Feed {
    fn feed(&mut self, buf: &[u8]) -> Result<Option<(Ev, usize)>, ParseError>;
}

impl Feed for ServerParser {
    fn feed(&mut self, buf: &[u8]) -> Result<Option<(Ev, usize)>, ParseError> {
        self.parse(buf).map(|r| r.map(|(op, n)| (op.into(), n)))
    }
}

impl Feed for ClientParser {
    fn feed(&mut self, buf: &[u8]) -> Result<Option<(Ev, usize)>, ParseError> {
        self.parse(buf).map(|r| r.map(|(op, n)| (op.into(), n)))
    }
}

/// Feed `chunks` one after the other, handling ops as a frontend would.
fn run<'c, P: Feed>(p: &mut P, chunks: impl IntoIterator<Item = &'c [u8]>) -> Outcome {
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match p.feed(&buf) {
                Ok(Some((ev, n))) => {
                    assert!(n > 0 && n <= buf.len(), "consumed {n} of {}", buf.len());
                    events.push(ev);
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    // The connection is closed: what is left does not matter.
                    events.push(Ev::Fail(e));
                    return Outcome {
                        events,
                        left: Vec::new(),
                    };
                }
            }
        }
    }
    Outcome { events, left: buf }
}

fn server_with(limits: ParserLimits, setup: fn(&mut ServerParser)) -> ServerParser {
    let mut p = ServerParser::new(limits);
    setup(&mut p);
    p
}

fn no_setup(_: &mut ServerParser) {}

/// Feed `input` whole, at every split offset and byte by byte; all must agree.
fn check_splits<P: Feed>(make: impl Fn() -> P, input: &[u8]) -> Outcome {
    let whole = run(&mut make(), [input]);
    // Every offset for normal inputs; a sample (ends and a stride) for huge ones.
    let n = input.len();
    let stride = if n > 2000 { n / 97 } else { 1 };
    let offsets = (0..=n)
        .filter(|&i| i < 64 || n - i < 64 || i % stride == 0)
        .collect::<Vec<_>>();
    for i in offsets {
        let (a, b) = input.split_at(i);
        assert_eq!(
            run(&mut make(), [a, b]),
            whole,
            "split at {i} of {:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(
        run(&mut make(), input.chunks(1)),
        whole,
        "byte by byte: {:?}",
        String::from_utf8_lossy(input)
    );
    whole
}

fn server(input: &[u8]) -> Outcome {
    check_splits(|| ServerParser::new(DEF), input)
}

fn client(input: &[u8]) -> Outcome {
    check_splits(|| ClientParser::new(DEF), input)
}

fn ok(events: Vec<Ev>) -> Outcome {
    Outcome {
        events,
        left: Vec::new(),
    }
}

fn pub_ev(subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) -> Ev {
    Ev::Pub {
        subject: v(subject),
        reply: ov(reply),
        headers: None,
        payload: v(payload),
    }
}

fn hpub_ev(subject: &[u8], reply: Option<&[u8]>, headers: &[u8], payload: &[u8]) -> Ev {
    Ev::Pub {
        subject: v(subject),
        reply: ov(reply),
        headers: Some(v(headers)),
        payload: v(payload),
    }
}

fn sub_ev(subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) -> Ev {
    Ev::Sub {
        subject: v(subject),
        queue: ov(queue),
        sid: v(sid),
    }
}

fn msg_ev(subject: &[u8], sid: &[u8], reply: Option<&[u8]>, payload: &[u8]) -> Ev {
    Ev::Msg {
        subject: v(subject),
        sid: v(sid),
        reply: ov(reply),
        headers: None,
        payload: v(payload),
    }
}

fn hmsg_ev(subject: &[u8], sid: &[u8], reply: Option<&[u8]>, hdr: &[u8], payload: &[u8]) -> Ev {
    Ev::Msg {
        subject: v(subject),
        sid: v(sid),
        reply: ov(reply),
        headers: Some(v(hdr)),
        payload: v(payload),
    }
}

// ---------------------------------------------------------------------------------------
// Every client→server op and its variants.

#[test]
fn connect_variants() {
    let c = |j: &[u8]| ok(vec![Ev::Connect(v(j))]);
    assert_eq!(server(b"CONNECT {}\r\n"), c(b"{}"));
    assert_eq!(
        server(b"connect {\"verbose\":false}\n"),
        c(b"{\"verbose\":false}")
    );
    assert_eq!(server(b"CoNnEcT\t  {}  \r\n"), c(b"{}  "));
    assert_eq!(server(b"CONNECT{}\r\n"), c(b"{}"));
    // Go quirk: the first byte after the blanks always starts the argument.
    assert_eq!(server(b"CONNECT\n{}\n"), c(b"\n{}"));
    assert_eq!(server(b"CONNECT\r\n"), c(b"\r"));
    // JSON containing a CR: only the CRLF's CR is dropped.
    assert_eq!(server(b"CONNECT {\"a\r\":1}\r\n"), c(b"{\"a\r\":1}"));
}

#[test]
fn pub_variants() {
    assert_eq!(
        server(b"PUB foo 5\r\nhello\r\n"),
        ok(vec![pub_ev(b"foo", None, b"hello")])
    );
    assert_eq!(
        server(b"pub foo.bar _INBOX.x 2\r\nhi\r\n"),
        ok(vec![pub_ev(b"foo.bar", Some(b"_INBOX.x"), b"hi")])
    );
    assert_eq!(
        server(b"PUB foo 0\r\n\r\n"),
        ok(vec![pub_ev(b"foo", None, b"")])
    );
    assert_eq!(
        server(b"PuB\t foo \t r\t  3  \nabc\r\n"),
        ok(vec![pub_ev(b"foo", Some(b"r"), b"abc")])
    );
    // The payload is opaque: CRLFs and op names inside it are data.
    assert_eq!(
        server(b"PUB foo 13\r\nPING\r\nPUB x\r\n\r\n"),
        ok(vec![pub_ev(b"foo", None, b"PING\r\nPUB x\r\n")])
    );
    // PUB splits on blanks only: the subject is "\nfoo" (nats-server: no delivery to foo).
    assert_eq!(
        server(b"PUB \nfoo 2\nhi\r\n"),
        ok(vec![pub_ev(b"\nfoo", None, b"hi")])
    );
    assert_eq!(
        server(b"PUB foo 02\r\nhi\r\n"),
        ok(vec![pub_ev(b"foo", None, b"hi")])
    );
    assert_eq!(
        server(b"PUB foo 3\r\n\x00\xff\n\r\n"),
        ok(vec![pub_ev(b"foo", None, b"\x00\xff\n")])
    );
}

#[test]
fn hpub_variants() {
    let h = b"NATS/1.0\r\nA: b\r\n\r\n";
    let mut input = Vec::new();
    input.extend_from_slice(b"HPUB foo 18 20\r\n");
    input.extend_from_slice(h);
    input.extend_from_slice(b"hi\r\n");
    assert_eq!(server(&input), ok(vec![hpub_ev(b"foo", None, h, b"hi")]));

    assert_eq!(
        server(b"hpub foo bar 12 12\r\nNATS/1.0\r\n\r\n\r\n"),
        ok(vec![hpub_ev(
            b"foo",
            Some(b"bar"),
            b"NATS/1.0\r\n\r\n",
            b""
        )])
    );
    assert_eq!(
        server(b"HPUB foo 0 0\r\n\r\n"),
        ok(vec![hpub_ev(b"foo", None, b"", b"")])
    );
    // Header content is not validated by the parser (nats-server neither).
    assert_eq!(
        server(b"HPUB foo 3 5\r\nabcde\r\n"),
        ok(vec![hpub_ev(b"foo", None, b"abc", b"de")])
    );
}

#[test]
fn sub_unsub_variants() {
    assert_eq!(
        server(b"SUB foo 1\r\n"),
        ok(vec![sub_ev(b"foo", None, b"1")])
    );
    assert_eq!(
        server(b"sub foo.* q 22\r\n"),
        ok(vec![sub_ev(b"foo.*", Some(b"q"), b"22")])
    );
    assert_eq!(
        server(b"SUB\tfoo\t1\t\r\n"),
        ok(vec![sub_ev(b"foo", None, b"1")])
    );
    // SUB/UNSUB split on CR/LF too (Go's splitArg); nats-server delivers `foo` here.
    assert_eq!(
        server(b"SUB foo\r 1 \n"),
        ok(vec![sub_ev(b"foo", None, b"1")])
    );
    assert_eq!(
        server(b"SUB \nfoo 1\n"),
        ok(vec![sub_ev(b"foo", None, b"1")])
    );
    let u = |sid: &[u8], max| Ev::Unsub { sid: v(sid), max };
    assert_eq!(server(b"UNSUB 1\r\n"), ok(vec![u(b"1", None)]));
    assert_eq!(server(b"unsub 1 10\r\n"), ok(vec![u(b"1", Some(10))]));
    assert_eq!(server(b"UNSUB 1 0\r\n"), ok(vec![u(b"1", Some(0))]));
    assert_eq!(
        server(b"UNSUB 1 999999999\r\n"),
        ok(vec![u(b"1", Some(999_999_999))])
    );
    // Go's parseSize fails → max ignored.
    assert_eq!(server(b"UNSUB 1 abc\r\n"), ok(vec![u(b"1", None)]));
    assert_eq!(server(b"UNSUB 1 1234567890\r\n"), ok(vec![u(b"1", None)]));
    assert_eq!(server(b"UNSUB 1 -5\r\n"), ok(vec![u(b"1", None)]));
}

#[test]
fn ping_pong_variants() {
    assert_eq!(server(b"PING\r\n"), ok(vec![Ev::Ping]));
    assert_eq!(server(b"ping\n"), ok(vec![Ev::Ping]));
    assert_eq!(server(b"PiNg extra\r\n"), ok(vec![Ev::Ping]));
    assert_eq!(server(b"PINGextra\r\n"), ok(vec![Ev::Ping]));
    assert_eq!(server(b"PONG\r\n"), ok(vec![Ev::Pong]));
    assert_eq!(server(b"pOnG \t x\r\n"), ok(vec![Ev::Pong]));
    // Unterminated: waits.
    let out = server(b"PING\r");
    assert!(out.events.is_empty());
    assert_eq!(out.left, b"PING\r");
}

#[test]
fn client_ok_and_info_are_skipped() {
    assert_eq!(server(b"+OK\r\nPING\r\n"), ok(vec![Ev::Ping]));
    assert_eq!(server(b"+okjunk\nINFO {}\r\nPONG\r\n"), ok(vec![Ev::Pong]));
    assert_eq!(server(b"INFO null\r\nPING\r\n"), ok(vec![Ev::Ping]));
    // The skipped bytes are reported with the next op.
    let mut p = ServerParser::new(DEF);
    assert_eq!(p.parse(b"+OK\r\n"), Ok(None));
    assert_eq!(p.parse(b"+OK\r\nINFO {}\r\n"), Ok(None));
    assert_eq!(
        p.parse(b"+OK\r\nINFO {}\r\nPING\r\n"),
        Ok(Some((ClientOp::Ping, 20)))
    );
    // Invalid INFO JSON closes the connection silently.
    for bad in [&b"INFO {bad\r\n"[..], b"INFO\r\n", b"INFO []\r\n"] {
        let out = server(bad);
        assert_eq!(out.events, vec![Ev::Fail(ParseError::BadInfo)]);
    }
}

#[test]
fn ops_in_sequence_and_consumed_counts() {
    let input = b"CONNECT {}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nPING\r\n";
    let mut p = ServerParser::new(DEF);
    let mut at = 0;
    let mut seen = Vec::new();
    while let Some((op, n)) = p.parse(&input[at..]).unwrap() {
        seen.push((Ev::from(op), n));
        at += n;
    }
    assert_eq!(at, input.len());
    assert_eq!(
        seen,
        vec![
            (Ev::Connect(v(b"{}")), 12),
            (sub_ev(b"foo", None, b"1"), 11),
            (pub_ev(b"foo", None, b"hi"), 15),
            (Ev::Ping, 6),
        ]
    );
}

#[test]
fn needed_reports_pending_payload() {
    let mut p = ServerParser::new(DEF);
    assert_eq!(p.needed(), None);
    assert_eq!(p.parse(b"PUB foo 100\r\n"), Ok(None));
    assert_eq!(p.needed(), Some(13 + 100 + 2));
    let mut buf = b"PUB foo 100\r\n".to_vec();
    buf.extend_from_slice(&[b'x'; 100]);
    assert_eq!(p.parse(&buf), Ok(None));
    buf.push(b'\r');
    assert_eq!(p.parse(&buf), Ok(None));
    buf.push(b'\n');
    assert!(matches!(
        p.parse(&buf),
        Ok(Some((ClientOp::Pub { .. }, 115)))
    ));
    assert_eq!(p.needed(), None);
}

#[test]
fn shrunk_buffer_does_not_panic() {
    let mut p = ServerParser::new(DEF);
    assert_eq!(p.parse(b"PUB foo 5\r\nhel"), Ok(None));
    // Contract violation: a shorter, different buffer. Must not panic; starts over.
    assert_eq!(p.parse(b"PI"), Ok(None));
    assert_eq!(p.parse(b"PING\r\n"), Ok(Some((ClientOp::Ping, 6))));
    let mut c = ClientParser::new(DEF);
    assert_eq!(c.parse(b"MSG a 1 10\r\n"), Ok(None));
    assert_eq!(c.parse(b""), Ok(None));
    assert_eq!(c.parse(b"PONG\r\n"), Ok(Some((ServerOp::Pong, 6))));
}

// ---------------------------------------------------------------------------------------
// Server→client ops.

#[test]
fn client_side_ops() {
    assert_eq!(
        client(b"INFO {\"server_id\":\"x\"}\r\n"),
        ok(vec![Ev::Info(v(b"{\"server_id\":\"x\"}"))])
    );
    assert_eq!(
        client(b"MSG foo 1 5\r\nhello\r\n"),
        ok(vec![msg_ev(b"foo", b"1", None, b"hello")])
    );
    assert_eq!(
        client(b"msg foo.bar sid9 _INBOX.1 2\r\nhi\r\n"),
        ok(vec![msg_ev(b"foo.bar", b"sid9", Some(b"_INBOX.1"), b"hi")])
    );
    assert_eq!(
        client(b"HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"),
        ok(vec![hmsg_ev(
            b"foo",
            b"1",
            None,
            b"NATS/1.0\r\n\r\n",
            b"hi"
        )])
    );
    assert_eq!(
        client(b"HMSG foo 1 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n"),
        ok(vec![hmsg_ev(
            b"foo",
            b"1",
            Some(b"r"),
            b"NATS/1.0 503\r\n\r\n",
            b""
        )])
    );
    assert_eq!(client(b"+OK\r\n"), ok(vec![Ev::Ok]));
    assert_eq!(
        client(b"-ERR 'Unknown Protocol Operation'\r\n"),
        ok(vec![Ev::Err(v(b"Unknown Protocol Operation"))])
    );
    assert_eq!(
        client(b"-ERR  'Permissions Violation for Publish to \"a\"'  \r\n"),
        ok(vec![Ev::Err(v(
            b"Permissions Violation for Publish to \"a\""
        ))])
    );
    assert_eq!(
        client(b"-err no quotes\n"),
        ok(vec![Ev::Err(v(b"no quotes"))])
    );
    assert_eq!(client(b"PING\r\nPONG\r\n"), ok(vec![Ev::Ping, Ev::Pong]));
}

#[test]
fn client_side_errors() {
    let fail = |e| vec![Ev::Fail(e)];
    assert_eq!(client(b"PUB foo 1\r\n").events, fail(ParseError::UnknownOp));
    assert_eq!(
        client(b"CONNECT {}\r\n").events,
        fail(ParseError::UnknownOp)
    );
    assert_eq!(
        client(b"MSG foo 5\r\n").events,
        fail(ParseError::BadArgs { op: OpKind::Msg })
    );
    assert_eq!(
        client(b"MSG foo 1 r x 5\r\n").events,
        fail(ParseError::BadArgs { op: OpKind::Msg })
    );
    assert_eq!(
        client(b"MSG foo 1 x\r\n").events,
        fail(ParseError::BadSize { op: OpKind::Msg })
    );
    assert_eq!(
        client(b"HMSG foo 1 5\r\n").events,
        fail(ParseError::BadArgs { op: OpKind::HMsg })
    );
    assert_eq!(
        client(b"HMSG foo 1 6 5\r\n").events,
        fail(ParseError::HeaderSizeExceedsTotal {
            header: 6,
            total: 5
        })
    );
    assert_eq!(
        client(b"MSG foo 1 2\r\nhiX\r\n").events,
        fail(ParseError::MissingPayloadTerminator)
    );
    assert_eq!(
        client(b"MSG foo 1 2000000\r\n").events,
        fail(ParseError::PayloadTooLarge {
            size: 2_000_000,
            max: DEF.max_payload
        })
    );
}

// ---------------------------------------------------------------------------------------
// Limits are enforced before the payload (or the end of the line) arrives.

#[test]
fn max_payload_enforced_on_control_line() {
    for line in [
        &b"PUB foo 2000000\r\n"[..],
        b"PUB foo r 1048577\r\n",
        b"HPUB foo 12 2000000\r\n",
        b"PUB foo 999999999\r\n",
    ] {
        let mut p = ServerParser::new(DEF);
        let e = p.parse(line).unwrap_err();
        assert!(matches!(e, ParseError::PayloadTooLarge { .. }), "{e:?}");
        assert_eq!(e.client_error(), Some(ClientError::MaximumPayloadViolation));
    }
    // Exactly max_payload is fine (waits for the payload).
    let mut p = ServerParser::new(DEF);
    assert_eq!(p.parse(b"PUB foo 1048576\r\n"), Ok(None));
    assert_eq!(p.needed(), Some(17 + 1_048_576 + 2));
    // set_limits applies to the next op.
    let mut p = ServerParser::new(DEF);
    p.set_limits(ParserLimits {
        max_control_line: 4096,
        max_payload: 10,
    });
    assert_eq!(p.limits().max_payload, 10);
    assert_eq!(
        p.parse(b"PUB foo 11\r\n"),
        Err(ParseError::PayloadTooLarge { size: 11, max: 10 })
    );
    let mut p = ServerParser::new(DEF);
    p.set_limits(ParserLimits {
        max_control_line: 4096,
        max_payload: 10,
    });
    assert!(p.parse(b"PUB foo 10\r\n0123456789\r\n").unwrap().is_some());
}

#[test]
fn max_control_line_enforced_before_newline() {
    for op in [
        &b"PUB "[..],
        b"HPUB ",
        b"SUB ",
        b"UNSUB ",
        b"CONNECT ",
        b"INFO ",
        b"-ERR ",
    ] {
        let mut line = op.to_vec();
        line.extend_from_slice(&[b'a'; 4096]);
        let mut p = ServerParser::new(DEF);
        assert_eq!(p.parse(&line), Ok(None), "{op:?}");
        line.push(b'a');
        let e = p.parse(&line).unwrap_err();
        assert_eq!(e, ParseError::ControlLineTooLong { max: 4096 });
        assert_eq!(
            e.client_error(),
            Some(ClientError::MaximumControlLineExceeded)
        );
    }
    // A trailing CR is not counted.
    let mut line = b"PUB ".to_vec();
    line.extend_from_slice(&[b'a'; 4096]);
    line.push(b'\r');
    assert_eq!(ServerParser::new(DEF).parse(&line), Ok(None));
    // The blanks after the op name are not counted either.
    let mut line = b"SUB".to_vec();
    line.extend_from_slice(&[b' '; 100]);
    line.extend_from_slice(&[b'a'; 4094]);
    line.extend_from_slice(b" 1\r\n");
    assert!(ServerParser::new(DEF).parse(&line).unwrap().is_some());
    // Terminated lines: 4096 ok, 4097 not.
    for (n, good) in [(4096, true), (4097, false)] {
        let mut line = b"PUB ".to_vec();
        line.extend_from_slice(&[b'a'; 4096][..n - 2]);
        line.extend_from_slice(b" 0\r\n\r\n");
        let r = ServerParser::new(DEF).parse(&line);
        assert_eq!(r.is_ok(), good, "{n}: {r:?}");
    }
    // Client side too.
    let mut line = b"MSG ".to_vec();
    line.extend_from_slice(&[b'a'; 4097]);
    assert_eq!(
        ClientParser::new(DEF).parse(&line),
        Err(ParseError::ControlLineTooLong { max: 4096 })
    );
}

#[test]
fn junk_is_capped() {
    let limits = ParserLimits {
        max_control_line: 16,
        max_payload: 16,
    };
    // PING junk beyond max_control_line is fine (as nats-server) up to the cap.
    let mut line = b"PING".to_vec();
    line.extend_from_slice(&[b'x'; 20]);
    line.extend_from_slice(b"\r\n");
    assert!(ServerParser::new(limits).parse(&line).unwrap().is_some());
    let mut line = b"PING".to_vec();
    line.extend_from_slice(&[b'x'; 40]);
    assert!(matches!(
        ServerParser::new(limits).parse(&line),
        Err(ParseError::ControlLineTooLong { .. })
    ));
    let mut line = b"PUB".to_vec();
    line.extend_from_slice(&[b' '; 40]);
    assert!(matches!(
        ServerParser::new(limits).parse(&line),
        Err(ParseError::ControlLineTooLong { .. })
    ));
    let spam = b"+OK\r\n".repeat(10);
    assert!(matches!(
        ServerParser::new(limits).parse(&spam),
        Err(ParseError::ControlLineTooLong { .. })
    ));
}

#[test]
fn connect_required_and_headers_switches() {
    let auth = |p: &mut ServerParser| p.set_connect_required(true);
    let no_hdr = |p: &mut ServerParser| p.set_headers(false);
    let out = check_splits(|| server_with(DEF, auth), b"CONNECT {}\r\n");
    assert_eq!(out, ok(vec![Ev::Connect(v(b"{}"))]));
    let out = check_splits(|| server_with(DEF, no_hdr), b"HPUB foo 0 0\r\n");
    assert_eq!(out.events, vec![Ev::Fail(ParseError::HeadersNotSupported)]);
    let out = check_splits(|| server_with(DEF, no_hdr), b"PUB foo 0\r\n\r\n");
    assert_eq!(out, ok(vec![pub_ev(b"foo", None, b"")]));
    // After CONNECT is accepted the server clears the flag.
    let mut p = server_with(DEF, auth);
    assert!(p.parse(b"CONNECT {}\r\n").unwrap().is_some());
    p.set_connect_required(false);
    assert_eq!(p.parse(b"PING\r\n"), Ok(Some((ClientOp::Ping, 6))));
}

// ---------------------------------------------------------------------------------------
// The nats-server 2.9.10 table (see the parser module docs).

struct Row {
    input: &'static [u8],
    /// Exact bytes nats-server 2.9.10 sent back.
    reply: &'static [u8],
    /// Whether it closed the connection.
    closed: bool,
    setup: fn(&mut ServerParser),
}

const UNKNOWN: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";
const MAX_PAY: &[u8] = b"-ERR 'Maximum Payload Violation'\r\n";
const AUTHV: &[u8] = b"-ERR 'Authorization Violation'\r\n";

fn auth(p: &mut ServerParser) {
    p.set_connect_required(true);
}

fn no_headers(p: &mut ServerParser) {
    p.set_headers(false);
}

const MAX_CTL: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";

/// `prefix`, then `fill` bytes, then `suffix`, `N` bytes in all.
const fn line<const N: usize>(prefix: &[u8], fill: u8, suffix: &[u8]) -> [u8; N] {
    let mut a = [fill; N];
    let mut i = 0;
    while i < prefix.len() {
        a[i] = prefix[i];
        i += 1;
    }
    let mut j = 0;
    while j < suffix.len() {
        a[N - suffix.len() + j] = suffix[j];
        j += 1;
    }
    a
}

const PUB_5000: [u8; 5004] = line(b"PUB ", b'a', b"");
const SUB_5000: [u8; 5004] = line(b"SUB ", b'a', b"");
const CONNECT_5000: [u8; 5008] = line(b"CONNECT ", b'a', b"");
const A_5000: [u8; 5000] = line(b"", b'A', b"");
const CONNECT_4097: [u8; 8 + 4097 + 2] = line(b"CONNECT {\"name\":\"", b'x', b"\"}\r\n");
const PUB_ARG_4096: [u8; 4 + 4096 + 4] = line(b"PUB ", b'a', b" 0\r\n\r\n");
const PUB_ARG_4097: [u8; 4 + 4097 + 4] = line(b"PUB ", b'a', b" 0\r\n\r\n");
static PING_JUNK: [u8; 4 + 100_000 + 2] = line(b"PING", b'x', b"\r\n");

const fn row(input: &'static [u8], reply: &'static [u8], closed: bool) -> Row {
    Row {
        input,
        reply,
        closed,
        setup: no_setup,
    }
}

const NATS_SERVER_2_9_10: &[Row] = &[
    row(b"FOO\r\n", UNKNOWN, true),
    row(&A_5000, UNKNOWN, true),
    row(&PUB_5000, MAX_CTL, true),
    row(&SUB_5000, MAX_CTL, true),
    row(&CONNECT_5000, MAX_CTL, true),
    row(&CONNECT_4097, MAX_CTL, true),
    row(&PUB_ARG_4097, MAX_CTL, true),
    row(&PUB_ARG_4096, b"", false),
    row(&PING_JUNK, b"PONG\r\n", false),
    row(b"FOO", UNKNOWN, true),
    row(b"PUX", UNKNOWN, true),
    row(b"PUBX", UNKNOWN, true),
    row(b" PING\r\n", UNKNOWN, true),
    row(b"PUB\r\n", UNKNOWN, true),
    row(b"SUB\r\n", UNKNOWN, true),
    row(b"UNSUB\r\n", UNKNOWN, true),
    row(b"HPUB\r\n", UNKNOWN, true),
    row(b"-ERR\r\n", UNKNOWN, true),
    row(b"+O\r\n", UNKNOWN, true),
    row(b"PUB \r\n", b"", true),
    row(b"PUB foo\r\n", b"", true),
    row(b"PUB foo bar baz 5\r\nhello\r\n", b"", true),
    row(b"PUB foo abc\r\n", b"", true),
    row(b"PUB foo -1\r\n", b"", true),
    row(b"PUB foo +2\r\nhi\r\n", b"", true),
    row(b"PUB foo 1234567890\r\n", b"", true),
    row(b"PUB foo 02\r\nhi\r\n", b"", false),
    row(b"PUB foo 5\r\nhelloXX\r\n", UNKNOWN, true),
    row(b"PUB foo 2\r\nhi\n", UNKNOWN, true),
    row(b"PUB foo 2\r\nhi\rX", UNKNOWN, true),
    row(b"PUB foo 0\r\nX", UNKNOWN, true),
    row(b"PUB foo 2\nhi\r\n", b"", false),
    row(b"PUB foo 2000000\r\n", MAX_PAY, true),
    row(b"PUB foo 999999999\r\n", MAX_PAY, true),
    row(b"PUB foo 1048577\r\n", MAX_PAY, true),
    row(b"PUB foo 1048576\r\n", b"", false),
    row(b"SUB foo\r\n", b"", true),
    row(b"SUB a b c d\r\n", b"", true),
    row(b"SUB foo\r 1\n", b"", true),
    row(b"SUB foo\r 1 \n", b"", false),
    row(b"UNSUB \r\n", b"", true),
    row(b"UNSUB 1 2 3\r\n", b"", true),
    row(b"UNSUB 1 abc\r\n", b"", false),
    row(b"UNSUB 1 1234567890\r\n", b"", false),
    Row {
        input: b"HPUB foo 12 12\r\n",
        reply: b"",
        closed: true,
        setup: no_headers,
    },
    row(b"HPUB foo 10 5\r\n", b"", true),
    row(b"HPUB foo 2000000 12\r\n", b"", true),
    row(b"HPUB foo 5\r\n", b"", true),
    row(b"HPUB foo\r\n", b"", true),
    row(b"HPUB foo r 5 a b\r\n", b"", true),
    row(b"HPUB foo a 5\r\n", b"", true),
    row(b"HPUB foo 5 a\r\n", b"", true),
    row(b"HPUB foo 12 1234567890\r\n", b"", true),
    row(b"HPUB \r\n", b"", true),
    row(b"HPUB foo 12 2000000\r\n", MAX_PAY, true),
    row(b"HPUB foo 2000000 2000000\r\n", MAX_PAY, true),
    row(b"HPUB foo 12 14\r\nNATS/1.0\r\n\r\nhiXX", UNKNOWN, true),
    row(b"HPUB foo 0 0\r\n\r\n", b"", false),
    row(b"\x00\x01\xff\xfe\r\n", UNKNOWN, true),
    row(b"\r\n", UNKNOWN, true),
    row(b"\n", UNKNOWN, true),
    row(b"PING extra\r\n", b"PONG\r\n", false),
    row(b"PINGextra\r\n", b"PONG\r\n", false),
    row(b"ping\r\n", b"PONG\r\n", false),
    row(b"PiNg\n", b"PONG\r\n", false),
    row(b"PING\r", b"", false),
    row(b"+OK\r\n", b"", false),
    row(b"+OKjunk\r\n", b"", false),
    row(b"INFO {}\r\n", b"", false),
    row(b"INFO {bad\r\n", b"", true),
    row(b"INFO\r\n", b"", true),
    row(b"-ERR 'x'\r\n", b"", true),
    row(b"-ERR\t'x'\r\n", b"", true),
    row(b"MSG foo 1 0\r\n\r\n", UNKNOWN, true),
    Row {
        input: b"PING\r\n",
        reply: AUTHV,
        closed: true,
        setup: auth,
    },
    Row {
        input: b"FOO\r\n",
        reply: AUTHV,
        closed: true,
        setup: auth,
    },
    Row {
        input: b"\r\n",
        reply: AUTHV,
        closed: true,
        setup: auth,
    },
    Row {
        input: b"P",
        reply: AUTHV,
        closed: true,
        setup: auth,
    },
    Row {
        input: b"CXX\r\n",
        reply: UNKNOWN,
        closed: true,
        setup: auth,
    },
];

#[test]
fn nats_server_error_table() {
    for row in NATS_SERVER_2_9_10 {
        let name = String::from_utf8_lossy(row.input);
        let out = check_splits(|| server_with(DEF, row.setup), row.input);
        let failure = match out.events.last() {
            Some(Ev::Fail(e)) => Some(e.clone()),
            _ => None,
        };
        assert_eq!(failure.is_some(), row.closed, "{name:?}: {out:?}");
        if let Some(e) = failure {
            let mut sent = Vec::new();
            if let Some(ce) = e.client_error() {
                assert!(ce.closes_connection(), "{name:?}");
                encode::err(&mut sent, &ce);
            }
            assert_eq!(
                String::from_utf8_lossy(&sent),
                String::from_utf8_lossy(row.reply),
                "{name:?}: {e:?}"
            );
        }
    }
}

#[test]
fn nats_server_error_variants() {
    let fail = |input: &[u8]| match server(input).events.pop() {
        Some(Ev::Fail(e)) => e,
        other => panic!("{input:?}: {other:?}"),
    };
    assert_eq!(fail(b"FOO\r\n"), ParseError::UnknownOp);
    assert_eq!(
        fail(b"PUB foo\r\n"),
        ParseError::BadArgs { op: OpKind::Pub }
    );
    assert_eq!(
        fail(b"PUB foo bar baz 5\r\n"),
        ParseError::BadArgs { op: OpKind::Pub }
    );
    assert_eq!(
        fail(b"PUB foo abc\r\n"),
        ParseError::BadSize { op: OpKind::Pub }
    );
    assert_eq!(
        fail(b"PUB foo -1\r\n"),
        ParseError::BadSize { op: OpKind::Pub }
    );
    assert_eq!(
        fail(b"PUB foo 5\r\nhelloXX\r\n"),
        ParseError::MissingPayloadTerminator
    );
    assert_eq!(
        fail(b"SUB foo\r\n"),
        ParseError::BadArgs { op: OpKind::Sub }
    );
    assert_eq!(fail(b"SUB\r\n"), ParseError::UnknownOp);
    assert_eq!(
        fail(b"SUB a b c d\r\n"),
        ParseError::BadArgs { op: OpKind::Sub }
    );
    assert_eq!(fail(b"UNSUB\r\n"), ParseError::UnknownOp);
    assert_eq!(
        fail(b"UNSUB 1 2 3\r\n"),
        ParseError::BadArgs { op: OpKind::Unsub }
    );
    assert_eq!(
        fail(b"HPUB foo 10 5\r\n"),
        ParseError::HeaderSizeExceedsTotal {
            header: 10,
            total: 5
        }
    );
    assert_eq!(
        fail(b"HPUB foo 5\r\n"),
        ParseError::BadArgs { op: OpKind::HPub }
    );
    let mut long = b"PUB ".to_vec();
    long.extend_from_slice(&[b'a'; 5000]);
    assert_eq!(fail(&long), ParseError::ControlLineTooLong { max: 4096 });
    assert_eq!(fail(&[b'A'; 5000]), ParseError::UnknownOp);
    assert_eq!(
        fail(b"PUB foo 2000000\r\n"),
        ParseError::PayloadTooLarge {
            size: 2_000_000,
            max: 1_048_576
        }
    );
    assert_eq!(fail(b"\x00\x01\xff\xfe\r\n"), ParseError::UnknownOp);
    assert_eq!(fail(b"\r\n"), ParseError::UnknownOp);
    assert_eq!(fail(b"-ERR 'x'\r\n"), ParseError::PeerError);
    // Invalid CONNECT JSON is handed to the server layer untouched.
    assert_eq!(
        server(b"CONNECT {bad\r\n"),
        ok(vec![Ev::Connect(v(b"{bad"))])
    );
    // Display never panics and says something.
    assert!(!ParseError::UnknownOp.to_string().is_empty());
}

// ---------------------------------------------------------------------------------------
// Encoders.

fn enc(f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    f(&mut out);
    out
}

#[test]
fn encoders_exact_bytes() {
    assert_eq!(encode::PING, b"PING\r\n");
    assert_eq!(encode::PONG, b"PONG\r\n");
    assert_eq!(encode::OK, b"+OK\r\n");
    assert_eq!(
        enc(|o| encode::msg_line(o, b"foo", b"1", None, 5)),
        b"MSG foo 1 5\r\n"
    );
    assert_eq!(
        enc(|o| encode::msg_line(o, b"foo", b"1", Some(b"r"), 0)),
        b"MSG foo 1 r 0\r\n"
    );
    assert_eq!(
        enc(|o| encode::hmsg_line(o, b"foo", b"22", None, 12, 14)),
        b"HMSG foo 22 12 14\r\n"
    );
    assert_eq!(
        enc(|o| encode::hmsg_line(o, b"foo", b"22", Some(b"r"), 12, 12)),
        b"HMSG foo 22 r 12 12\r\n"
    );
    assert_eq!(
        enc(|o| encode::msg(o, b"a.b", b"9", Some(b"_INBOX.x"), b"hello")),
        b"MSG a.b 9 _INBOX.x 5\r\nhello\r\n"
    );
    assert_eq!(
        enc(|o| encode::hmsg(o, b"a", b"1", None, b"NATS/1.0\r\n\r\n", b"hi")),
        b"HMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    );
    assert_eq!(
        enc(|o| encode::info(o, b"{\"a\":1}")),
        b"INFO {\"a\":1}\r\n"
    );
    assert_eq!(enc(|o| encode::connect(o, b"{}")), b"CONNECT {}\r\n");
    assert_eq!(
        enc(|o| encode::pub_line(o, b"foo", None, 1_048_576)),
        b"PUB foo 1048576\r\n"
    );
    assert_eq!(
        enc(|o| encode::publish(o, b"foo", Some(b"r"), b"")),
        b"PUB foo r 0\r\n\r\n"
    );
    assert_eq!(
        enc(|o| encode::hpub_line(o, b"foo", Some(b"r"), 12, 20)),
        b"HPUB foo r 12 20\r\n"
    );
    assert_eq!(
        enc(|o| encode::hpublish(o, b"foo", None, b"NATS/1.0\r\n\r\n", b"x")),
        b"HPUB foo 12 13\r\nNATS/1.0\r\n\r\nx\r\n"
    );
    assert_eq!(
        enc(|o| encode::sub(o, b"foo.*", None, b"1")),
        b"SUB foo.* 1\r\n"
    );
    assert_eq!(
        enc(|o| encode::sub(o, b"foo", Some(b"q"), b"2")),
        b"SUB foo q 2\r\n"
    );
    assert_eq!(enc(|o| encode::unsub(o, b"1", None)), b"UNSUB 1\r\n");
    assert_eq!(
        enc(|o| encode::unsub(o, b"1", Some(u64::MAX))),
        b"UNSUB 1 18446744073709551615\r\n"
    );
    assert_eq!(enc(|o| encode::unsub(o, b"1", Some(0))), b"UNSUB 1 0\r\n");
    assert_eq!(
        enc(|o| encode::err(o, &ClientError::UnknownProtocolOperation)),
        UNKNOWN
    );
    assert_eq!(
        enc(|o| encode::err(o, &ClientError::PublishViolation("a.b".into()))),
        b"-ERR 'Permissions Violation for Publish to \"a.b\"'\r\n"
    );
    // Works with BytesMut too.
    let mut b = bytes::BytesMut::new();
    encode::msg(&mut b, b"s", b"1", None, b"x");
    assert_eq!(&b[..], b"MSG s 1 1\r\nx\r\n");
}

#[test]
fn encoders_do_not_reallocate_reserved_buffers() {
    let mut out: Vec<u8> = Vec::with_capacity(256);
    let ptr = out.as_ptr();
    encode::hmsg(
        &mut out,
        b"a.b.c",
        b"123",
        Some(b"_INBOX.abc"),
        b"NATS/1.0\r\n\r\n",
        b"p",
    );
    encode::err(&mut out, &ClientError::MaximumPayloadViolation);
    encode::unsub(&mut out, b"7", Some(1_000_000));
    assert_eq!(out.as_ptr(), ptr);
    assert_eq!(out.capacity(), 256);
}

// ---------------------------------------------------------------------------------------
// A long stream of mixed ops, fed in chunks of several sizes.

/// Tiny deterministic PRNG (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn token(&mut self) -> Vec<u8> {
        let n = 1 + self.below(12);
        (0..n)
            .map(|_| b"abcxyzABC012._-*>"[self.below(17)])
            .collect()
    }
}

fn mixed_stream(n: usize, seed: u64) -> (Vec<u8>, Vec<Ev>) {
    let mut rng = Rng(seed);
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for _ in 0..n {
        match rng.below(8) {
            0 => {
                let (s, n) = (rng.token(), rng.below(300));
                let p = rng.bytes(n);
                let r = (rng.below(2) == 0).then(|| rng.token());
                encode::publish(&mut wire, &s, r.as_deref(), &p);
                want.push(pub_ev(&s, r.as_deref(), &p));
            }
            1 => {
                let (s, n) = (rng.token(), rng.below(50));
                let p = rng.bytes(n);
                let h = [&b"NATS/1.0\r\nK: "[..], &rng.token(), b"\r\n\r\n"].concat();
                let r = (rng.below(2) == 0).then(|| rng.token());
                encode::hpublish(&mut wire, &s, r.as_deref(), &h, &p);
                want.push(hpub_ev(&s, r.as_deref(), &h, &p));
            }
            2 => {
                let (s, sid) = (rng.token(), rng.token());
                let q = (rng.below(2) == 0).then(|| rng.token());
                encode::sub(&mut wire, &s, q.as_deref(), &sid);
                want.push(sub_ev(&s, q.as_deref(), &sid));
            }
            3 => {
                let sid = rng.token();
                let max = (rng.below(2) == 0).then(|| rng.below(1_000_000_000) as u64);
                encode::unsub(&mut wire, &sid, max);
                want.push(Ev::Unsub { sid, max });
            }
            4 => {
                wire.extend_from_slice(encode::PING);
                want.push(Ev::Ping);
            }
            5 => {
                wire.extend_from_slice(encode::PONG);
                want.push(Ev::Pong);
            }
            6 => {
                let json = format!("{{\"verbose\":false,\"name\":\"{}\"}}", rng.below(1000));
                encode::connect(&mut wire, json.as_bytes());
                want.push(Ev::Connect(json.into_bytes()));
            }
            _ => {
                // Ignored client ops are skipped.
                wire.extend_from_slice(if rng.below(2) == 0 {
                    b"+OK\r\n"
                } else {
                    b"INFO {}\r\n"
                });
            }
        }
    }
    (wire, want)
}

#[test]
fn stream_of_1000_mixed_ops() {
    let (wire, want) = mixed_stream(1000, 0x9e37_79b9_7f4a_7c15);
    assert!(want.len() > 800);
    for chunk in [1, 2, 3, 7, 64, 100, 1000, 4096, wire.len()] {
        let out = run(&mut ServerParser::new(DEF), wire.chunks(chunk));
        assert_eq!(out, ok(want.clone()), "chunk size {chunk}");
    }
    // Random chunk sizes.
    let mut rng = Rng(42);
    let mut chunks = Vec::new();
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let (a, b) = rest.split_at((1 + rng.below(500)).min(rest.len()));
        chunks.push(a);
        rest = b;
    }
    assert_eq!(run(&mut ServerParser::new(DEF), chunks), ok(want));
}

#[test]
fn stream_of_1000_server_ops() {
    let mut rng = Rng(7);
    let mut wire = Vec::new();
    let mut want = Vec::new();
    for _ in 0..1000 {
        match rng.below(6) {
            0 => {
                let (s, sid, n) = (rng.token(), rng.token(), rng.below(200));
                let p = rng.bytes(n);
                let r = (rng.below(2) == 0).then(|| rng.token());
                encode::msg(&mut wire, &s, &sid, r.as_deref(), &p);
                want.push(msg_ev(&s, &sid, r.as_deref(), &p));
            }
            1 => {
                let (s, sid, n) = (rng.token(), rng.token(), rng.below(20));
                let p = rng.bytes(n);
                let h = b"NATS/1.0 503\r\n\r\n";
                encode::hmsg(&mut wire, &s, &sid, None, h, &p);
                want.push(hmsg_ev(&s, &sid, None, h, &p));
            }
            2 => {
                encode::info(&mut wire, b"{\"max_payload\":1048576}");
                want.push(Ev::Info(v(b"{\"max_payload\":1048576}")));
            }
            3 => {
                wire.extend_from_slice(encode::OK);
                want.push(Ev::Ok);
            }
            4 => {
                encode::err(&mut wire, &ClientError::InvalidSubject);
                want.push(Ev::Err(v(b"Invalid Subject")));
            }
            _ => {
                wire.extend_from_slice(encode::PING);
                want.push(Ev::Ping);
            }
        }
    }
    for chunk in [1, 5, 333, wire.len()] {
        let out = run(&mut ClientParser::new(DEF), wire.chunks(chunk));
        assert_eq!(out, ok(want.clone()), "chunk size {chunk}");
    }
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Split `input` at the (sorted, deduplicated) `cuts`.
fn split_at_cuts<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::new();
    let mut last = 0;
    for c in cuts {
        chunks.push(&input[last..c]);
        last = c;
    }
    chunks.push(&input[last..]);
    chunks
}

/// Protocol-ish fragments, so random concatenations reach deep parser states.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::sample::select(vec![
            &b"PUB "[..],
            b"HPUB ",
            b"SUB ",
            b"UNSUB ",
            b"CONNECT ",
            b"INFO ",
            b"PING",
            b"PONG",
            b"+OK",
            b"-ERR ",
            b"MSG ",
            b"HMSG ",
            b"pub\t",
            b"foo",
            b"bar.baz",
            b" ",
            b"\t",
            b"\r",
            b"\n",
            b"\r\n",
            b"0",
            b"2",
            b"5",
            b"12",
            b"99999",
            b"{}",
            b"null",
            b"hi",
            b"NATS/1.0\r\n\r\n",
        ])
        .prop_map(|s| s.to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ]
}

fn small_limits() -> impl Strategy<Value = ParserLimits> {
    prop_oneof![
        Just(DEF),
        (1usize..40, 0usize..40).prop_map(|(c, p)| ParserLimits {
            max_control_line: c,
            max_payload: p,
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_are_split_invariant(
        input in prop::collection::vec(any::<u8>(), 0..300),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        limits in small_limits(),
    ) {
        let chunks = split_at_cuts(&input, &cuts);
        let whole = run(&mut ServerParser::new(limits), [&input[..]]);
        prop_assert_eq!(run(&mut ServerParser::new(limits), chunks.iter().copied()), whole);
        let whole = run(&mut ClientParser::new(limits), [&input[..]]);
        prop_assert_eq!(run(&mut ClientParser::new(limits), chunks.iter().copied()), whole);
    }

    #[test]
    fn protocolish_bytes_are_split_invariant(
        frags in prop::collection::vec(fragment(), 0..40),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        limits in small_limits(),
        auth in any::<bool>(),
        headers in any::<bool>(),
    ) {
        let input = frags.concat();
        let chunks = split_at_cuts(&input, &cuts);
        let make = || {
            let mut p = ServerParser::new(limits);
            p.set_connect_required(auth);
            p.set_headers(headers);
            p
        };
        let whole = run(&mut make(), [&input[..]]);
        prop_assert_eq!(run(&mut make(), chunks.iter().copied()), whole.clone());
        prop_assert_eq!(run(&mut make(), input.chunks(1)), whole);
        let whole = run(&mut ClientParser::new(limits), [&input[..]]);
        prop_assert_eq!(run(&mut ClientParser::new(limits), chunks.iter().copied()), whole.clone());
        prop_assert_eq!(run(&mut ClientParser::new(limits), input.chunks(1)), whole);
    }
}

/// One valid client→server op on the wire (including ones the parser skips).
fn client_wire_op() -> impl Strategy<Value = Vec<u8>> {
    let small = || prop::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        (token(), prop::option::of(token()), small())
            .prop_map(|(s, r, p)| enc(|o| encode::publish(o, &s, r.as_deref(), &p))),
        (token(), prop::option::of(token()), small(), small())
            .prop_map(|(s, r, h, p)| enc(|o| encode::hpublish(o, &s, r.as_deref(), &h, &p))),
        (token(), prop::option::of(token()), token()).prop_map(|(s, q, sid)| enc(|o| encode::sub(
            o,
            &s,
            q.as_deref(),
            &sid
        ))),
        (token(), prop::option::of(0u64..2_000_000_000))
            .prop_map(|(sid, max)| enc(|o| encode::unsub(o, &sid, max))),
        json().prop_map(|j| enc(|o| encode::connect(o, &j))),
        Just(encode::PING.to_vec()),
        Just(encode::PONG.to_vec()),
        Just(b"+OK\r\n".to_vec()),
        Just(b"INFO {}\r\n".to_vec()),
    ]
}

/// One valid server→client op on the wire.
fn server_wire_op() -> impl Strategy<Value = Vec<u8>> {
    let small = || prop::collection::vec(any::<u8>(), 0..12);
    prop_oneof![
        (token(), token(), prop::option::of(token()), small())
            .prop_map(|(s, sid, r, p)| enc(|o| encode::msg(o, &s, &sid, r.as_deref(), &p))),
        (
            token(),
            token(),
            prop::option::of(token()),
            small(),
            small()
        )
            .prop_map(|(s, sid, r, h, p)| enc(|o| encode::hmsg(
                o,
                &s,
                &sid,
                r.as_deref(),
                &h,
                &p
            ))),
        json().prop_map(|j| enc(|o| encode::info(o, &j))),
        Just(encode::OK.to_vec()),
        Just(b"-ERR 'Stale Connection'\r\n".to_vec()),
        Just(encode::PING.to_vec()),
        Just(encode::PONG.to_vec()),
    ]
}

/// Byte edits: (position, replacement) with protocol-significant replacements.
fn mutations() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec(
        (
            any::<usize>(),
            prop::sample::select(vec![
                b' ', b'\t', b'\r', b'\n', b'0', b'9', b'P', b'x', 0xff,
            ]),
        ),
        0..3,
    )
}

fn mutate(mut wire: Vec<u8>, edits: &[(usize, u8)]) -> Vec<u8> {
    for &(at, b) in edits {
        if !wire.is_empty() {
            let i = at % wire.len();
            wire[i] = b;
        }
    }
    wire
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_client_streams_are_split_invariant(
        ops in prop::collection::vec(client_wire_op(), 0..12),
        edits in mutations(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        limits in small_limits(),
    ) {
        let clean = ops.concat();
        if edits.is_empty() && limits == DEF {
            // Unmutated: everything parses; nothing is left over once an op follows the
            // skipped +OK/INFO ones.
            let out = run(&mut ServerParser::new(limits), [&clean[..], encode::PING]);
            prop_assert!(out.left.is_empty());
            prop_assert!(!out.events.iter().any(|e| matches!(e, Ev::Fail(_))));
        }
        let input = mutate(clean, &edits);
        let chunks = split_at_cuts(&input, &cuts);
        let whole = run(&mut ServerParser::new(limits), [&input[..]]);
        prop_assert_eq!(run(&mut ServerParser::new(limits), chunks.iter().copied()), whole.clone());
        prop_assert_eq!(run(&mut ServerParser::new(limits), input.chunks(1)), whole);
    }

    #[test]
    fn mutated_server_streams_are_split_invariant(
        ops in prop::collection::vec(server_wire_op(), 0..12),
        edits in mutations(),
        cuts in prop::collection::vec(any::<usize>(), 0..6),
        limits in small_limits(),
    ) {
        let clean = ops.concat();
        if edits.is_empty() && limits == DEF {
            let out = run(&mut ClientParser::new(limits), [&clean[..]]);
            prop_assert!(out.left.is_empty());
            prop_assert_eq!(out.events.len(), ops.len());
        }
        let input = mutate(clean, &edits);
        let chunks = split_at_cuts(&input, &cuts);
        let whole = run(&mut ClientParser::new(limits), [&input[..]]);
        prop_assert_eq!(run(&mut ClientParser::new(limits), chunks.iter().copied()), whole.clone());
        prop_assert_eq!(run(&mut ClientParser::new(limits), input.chunks(1)), whole);
    }
}

/// A token valid as a subject/sid/queue on the wire: no blanks, CR or LF.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        any::<u8>().prop_filter("no blanks/CR/LF", |b| !b" \t\r\n".contains(b)),
        1..20,
    )
}

fn json() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>().prop_filter("no LF", |b| *b != b'\n'), 0..60)
        .prop_map(|mid| [&b"{"[..], &mid, b"}"].concat())
}

/// Encode with `f`, then parse the result at every split: one op, all bytes consumed.
fn roundtrip_server(f: impl FnOnce(&mut Vec<u8>)) -> Ev {
    let wire = enc(f);
    let out = server(&wire);
    assert!(out.left.is_empty(), "{out:?}");
    assert_eq!(out.events.len(), 1, "{out:?}");
    out.events.into_iter().next().unwrap_or(Ev::Ping)
}

fn roundtrip_client(f: impl FnOnce(&mut Vec<u8>)) -> Ev {
    let wire = enc(f);
    let out = client(&wire);
    assert!(out.left.is_empty(), "{out:?}");
    assert_eq!(out.events.len(), 1, "{out:?}");
    out.events.into_iter().next().unwrap_or(Ev::Pong)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pub_roundtrips(s in token(), r in prop::option::of(token()),
                      p in prop::collection::vec(any::<u8>(), 0..200)) {
        let got = roundtrip_server(|o| encode::publish(o, &s, r.as_deref(), &p));
        prop_assert_eq!(got, pub_ev(&s, r.as_deref(), &p));
    }

    #[test]
    fn hpub_roundtrips(s in token(), r in prop::option::of(token()),
                       h in prop::collection::vec(any::<u8>(), 0..50),
                       p in prop::collection::vec(any::<u8>(), 0..100)) {
        let got = roundtrip_server(|o| encode::hpublish(o, &s, r.as_deref(), &h, &p));
        prop_assert_eq!(got, hpub_ev(&s, r.as_deref(), &h, &p));
    }

    #[test]
    fn sub_roundtrips(s in token(), q in prop::option::of(token()), sid in token()) {
        let got = roundtrip_server(|o| encode::sub(o, &s, q.as_deref(), &sid));
        prop_assert_eq!(got, sub_ev(&s, q.as_deref(), &sid));
    }

    #[test]
    fn unsub_roundtrips(sid in token(), max in prop::option::of(0u64..1_000_000_000)) {
        let got = roundtrip_server(|o| encode::unsub(o, &sid, max));
        prop_assert_eq!(got, Ev::Unsub { sid, max });
    }

    #[test]
    fn connect_roundtrips(j in json()) {
        let got = roundtrip_server(|o| encode::connect(o, &j));
        prop_assert_eq!(got, Ev::Connect(j));
    }

    #[test]
    fn msg_roundtrips(s in token(), sid in token(), r in prop::option::of(token()),
                      p in prop::collection::vec(any::<u8>(), 0..200)) {
        let got = roundtrip_client(|o| encode::msg(o, &s, &sid, r.as_deref(), &p));
        prop_assert_eq!(got, msg_ev(&s, &sid, r.as_deref(), &p));
    }

    #[test]
    fn hmsg_roundtrips(s in token(), sid in token(), r in prop::option::of(token()),
                       h in prop::collection::vec(any::<u8>(), 0..50),
                       p in prop::collection::vec(any::<u8>(), 0..100)) {
        let got = roundtrip_client(|o| encode::hmsg(o, &s, &sid, r.as_deref(), &h, &p));
        prop_assert_eq!(got, hmsg_ev(&s, &sid, r.as_deref(), &h, &p));
    }

    #[test]
    fn info_roundtrips(j in json()) {
        let got = roundtrip_client(|o| encode::info(o, &j));
        prop_assert_eq!(got, Ev::Info(j));
    }

    #[test]
    fn err_roundtrips(text in "[ -&(-~]{1,40}") {
        // Any printable text without single quotes survives.
        let e = ClientError::PublishViolation(text);
        let got = roundtrip_client(|o| encode::err(o, &e));
        prop_assert_eq!(got, Ev::Err(e.to_string().into_bytes()));
    }
}

/// A PUB/HPUB control line close to the usual form, varied where the one-pass parse of
/// the usual form (`Scanner::fast_publish`) must hand over to the general scanner: the
/// name's case, blank runs, stray or missing CRs, argument counts, sizes (valid, too many
/// digits, not digits, over the limits), then a payload that may or may not fit.
fn publish_line() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec![
        &b"PUB"[..],
        b"pub",
        b"Pub",
        b"pUb",
        b"HPUB",
        b"hpub",
        b"HpUb",
        b"PUX",
        b"HPU",
    ]);
    let blank = prop::sample::select(vec![&b" "[..], b"\t", b"  ", b" \t", b"\r", b""]);
    let word = prop_oneof![
        3 => token(),
        2 => (0usize..40).prop_map(|n| n.to_string().into_bytes()),
        1 => prop::sample::select(vec![
            b"0123456789".to_vec(),
            b"12a".to_vec(),
            b"-1".to_vec(),
            b"".to_vec(),
            b"a\rb".to_vec(),
            b"\x01\x1f".to_vec(),
        ]),
    ];
    let end = prop::sample::select(vec![&b"\r\n"[..], b"\n", b"\r", b" \r\n", b"\r\r\n", b""]);
    (
        name,
        prop::collection::vec((blank, word), 1..6),
        end,
        prop::collection::vec(any::<u8>(), 0..40),
        prop::sample::select(vec![&b"\r\n"[..], b"", b"x\r\n"]),
    )
        .prop_map(|(name, args, end, payload, after)| {
            let mut line = name.to_vec();
            for (blank, word) in args {
                line.extend_from_slice(blank);
                line.extend_from_slice(&word);
            }
            line.extend_from_slice(end);
            line.extend_from_slice(&payload);
            line.extend_from_slice(after);
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    /// Fed whole, a publish line can take the one-pass path; fed byte by byte it never
    /// can (the line is never complete at the start of an op). Both must agree on every
    /// op and error.
    #[test]
    fn one_pass_publish_parse_matches_the_general_scanner(
        lines in prop::collection::vec(publish_line(), 1..6),
        limits in small_limits(),
        headers in any::<bool>(),
    ) {
        let input = lines.concat();
        let make = || {
            let mut p = ServerParser::new(limits);
            p.set_headers(headers);
            p
        };
        let whole = run(&mut make(), [&input[..]]);
        prop_assert_eq!(run(&mut make(), input.chunks(1)), whole);
    }
}

#[test]
fn one_pass_publish_parse_takes_the_usual_lines() {
    let input = b"PUB foo 2\r\nhi\r\npub foo bar 0\r\n\r\nHPUB a r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    let out = run(&mut ServerParser::new(DEF), [&input[..]]);
    assert!(out.left.is_empty());
    assert_eq!(
        out.events,
        vec![
            Ev::Pub {
                subject: b"foo".to_vec(),
                reply: None,
                headers: None,
                payload: b"hi".to_vec(),
            },
            Ev::Pub {
                subject: b"foo".to_vec(),
                reply: Some(b"bar".to_vec()),
                headers: None,
                payload: b"".to_vec(),
            },
            Ev::Pub {
                subject: b"a".to_vec(),
                reply: Some(b"r".to_vec()),
                headers: Some(b"NATS/1.0\r\n\r\n".to_vec()),
                payload: b"hi".to_vec(),
            },
        ]
    );
}
