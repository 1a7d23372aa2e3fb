//! `server_parser` and `client_parser`: feed arbitrary bytes whole, one byte at a time and
//! split at fuzzer-chosen offsets; every way must give the same ops, the same `consumed`
//! counts and the same final error or pending state.
//!
//! Input layout (see `fuzz/README.md`):
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | flags: bit 0 HPUB allowed (`set_headers`), bit 1 CONNECT required |
//! | 1 | `max_control_line`: 255 = default 4096, else the value (0..=254) |
//! | 2 | `max_payload`: 255 = default 1 MiB, else the value (0..=254) |
//! | 3 | `n`: number of split offsets (`n % 32`) |
//! | 4.. | the protocol stream, followed by `n` little-endian u16 split offsets |

use rnats_engine::proto::{
    ClientOp, ClientParser, ParseError, ParserLimits, ServerOp, ServerParser,
};

/// A decoded fuzz input.
#[derive(Debug)]
pub struct Input<'a> {
    /// Limits for the parser.
    pub limits: ParserLimits,
    /// `ServerParser::set_headers`.
    pub headers: bool,
    /// `ServerParser::set_connect_required`.
    pub connect_required: bool,
    /// The protocol bytes.
    pub data: &'a [u8],
    /// Sorted split offsets into `data` (duplicates kept: an empty chunk is a valid call).
    pub cuts: Vec<usize>,
}

impl<'a> Input<'a> {
    /// Decode; `None` for inputs shorter than the header.
    pub fn decode(input: &'a [u8]) -> Option<Self> {
        let (&[flags, cl, pl, n], rest) = input.split_first_chunk::<4>()?;
        let (data, cuts) = crate::split_cuts(rest, n);
        Some(Input {
            limits: ParserLimits {
                max_control_line: if cl == 255 {
                    ParserLimits::DEFAULT.max_control_line
                } else {
                    usize::from(cl)
                },
                max_payload: if pl == 255 {
                    ParserLimits::DEFAULT.max_payload
                } else {
                    usize::from(pl)
                },
            },
            headers: flags & 1 != 0,
            connect_required: flags & 2 != 0,
            data,
            cuts,
        })
    }
}

/// An owned copy of an op of either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// CONNECT / INFO.
    Json(&'static str, Vec<u8>),
    /// PUB / HPUB / MSG / HMSG.
    Msg {
        /// Op name.
        kind: &'static str,
        /// Subject.
        subject: Vec<u8>,
        /// Sid (empty for PUB/HPUB).
        sid: Vec<u8>,
        /// Reply.
        reply: Option<Vec<u8>>,
        /// Headers (HPUB/HMSG).
        headers: Option<Vec<u8>>,
        /// Payload.
        payload: Vec<u8>,
    },
    /// SUB.
    Sub(Vec<u8>, Option<Vec<u8>>, Vec<u8>),
    /// UNSUB.
    Unsub(Vec<u8>, Option<u64>),
    /// -ERR.
    Err(Vec<u8>),
    /// PING / PONG / +OK.
    Bare(&'static str),
}

impl Op {
    fn check(&self, limits: ParserLimits) {
        let args = match self {
            Op::Json(_, json) => json.len(),
            Op::Sub(subject, queue, sid) => {
                subject.len() + queue.as_ref().map_or(0, Vec::len) + sid.len()
            }
            Op::Unsub(sid, _) => sid.len(),
            Op::Err(text) => text.len(),
            Op::Msg { .. } | Op::Bare(_) => 0,
        };
        assert!(
            args <= limits.max_control_line,
            "control line arguments of {args} bytes over max_control_line {}",
            limits.max_control_line
        );
        if let Op::Msg {
            subject,
            sid,
            reply,
            headers,
            payload,
            ..
        } = self
        {
            let total = headers.as_ref().map_or(0, Vec::len) + payload.len();
            assert!(
                total <= limits.max_payload,
                "payload of {total} bytes over max_payload {}",
                limits.max_payload
            );
            let args = subject.len() + sid.len() + reply.as_ref().map_or(0, Vec::len);
            assert!(
                args <= limits.max_control_line,
                "control line arguments of {args} bytes over max_control_line {}",
                limits.max_control_line
            );
        }
    }
}

fn own(s: &[u8]) -> Vec<u8> {
    s.to_vec()
}

impl From<ClientOp<'_>> for Op {
    fn from(op: ClientOp<'_>) -> Op {
        match op {
            ClientOp::Connect { json } => Op::Json("CONNECT", own(json)),
            ClientOp::Pub {
                subject,
                reply,
                payload,
            } => Op::Msg {
                kind: "PUB",
                subject: own(subject),
                sid: Vec::new(),
                reply: reply.map(own),
                headers: None,
                payload: own(payload),
            },
            ClientOp::HPub {
                subject,
                reply,
                headers,
                payload,
            } => Op::Msg {
                kind: "HPUB",
                subject: own(subject),
                sid: Vec::new(),
                reply: reply.map(own),
                headers: Some(own(headers)),
                payload: own(payload),
            },
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => Op::Sub(own(subject), queue.map(own), own(sid)),
            ClientOp::Unsub { sid, max } => Op::Unsub(own(sid), max),
            ClientOp::Ping => Op::Bare("PING"),
            ClientOp::Pong => Op::Bare("PONG"),
        }
    }
}

impl From<ServerOp<'_>> for Op {
    fn from(op: ServerOp<'_>) -> Op {
        match op {
            ServerOp::Info { json } => Op::Json("INFO", own(json)),
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => Op::Msg {
                kind: "MSG",
                subject: own(subject),
                sid: own(sid),
                reply: reply.map(own),
                headers: None,
                payload: own(payload),
            },
            ServerOp::HMsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => Op::Msg {
                kind: "HMSG",
                subject: own(subject),
                sid: own(sid),
                reply: reply.map(own),
                headers: Some(own(headers)),
                payload: own(payload),
            },
            ServerOp::Ok => Op::Bare("+OK"),
            ServerOp::Err { message } => Op::Err(own(message)),
            ServerOp::Ping => Op::Bare("PING"),
            ServerOp::Pong => Op::Bare("PONG"),
        }
    }
}

/// Either parser, behind one interface.
pub trait Parser {
    /// `parse`, with the op made owned.
    fn parse_owned(&mut self, buf: &[u8]) -> Result<Option<(Op, usize)>, ParseError>;
    /// `needed`.
    fn needed(&self) -> Option<usize>;
}

impl Parser for ServerParser {
    fn parse_owned(&mut self, buf: &[u8]) -> Result<Option<(Op, usize)>, ParseError> {
        self.parse(buf).map(|r| r.map(|(op, n)| (op.into(), n)))
    }
    fn needed(&self) -> Option<usize> {
        ServerParser::needed(self)
    }
}

impl Parser for ClientParser {
    fn parse_owned(&mut self, buf: &[u8]) -> Result<Option<(Op, usize)>, ParseError> {
        self.parse(buf).map(|r| r.map(|(op, n)| (op.into(), n)))
    }
    fn needed(&self) -> Option<usize> {
        ClientParser::needed(self)
    }
}

/// How a feed ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A parse error (the parser stops there).
    Error(ParseError),
    /// All input fed; `left` bytes of a partial op remain, `needed` as the parser says.
    Pending {
        /// Unconsumed bytes.
        left: usize,
        /// `needed()` at the end.
        needed: Option<usize>,
    },
}

/// Everything a feed produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Ops with their `consumed` counts.
    pub ops: Vec<(Op, usize)>,
    /// How it ended.
    pub end: End,
}

/// Feed `data` to `parser` in chunks ending at each of `cuts` (sorted), then at the end,
/// draining every complete op after each chunk as a frontend does.
pub fn feed<P: Parser>(
    parser: &mut P,
    limits: ParserLimits,
    data: &[u8],
    cuts: &[usize],
) -> Outcome {
    let mut ops = Vec::new();
    // The caller's buffer is `data[start..fed]`: bytes received and not yet consumed.
    let mut start = 0;
    for &fed in cuts.iter().chain(core::iter::once(&data.len())) {
        loop {
            let buf = &data[start..fed];
            match parser.parse_owned(buf) {
                Ok(Some((op, consumed))) => {
                    assert!(consumed > 0, "op {op:?} consumed 0 bytes");
                    assert!(
                        consumed <= buf.len(),
                        "op {op:?} consumed {consumed} of a {}-byte buffer",
                        buf.len()
                    );
                    op.check(limits);
                    ops.push((op, consumed));
                    start += consumed;
                }
                Ok(None) => {
                    if let Some(needed) = parser.needed() {
                        assert!(
                            needed > buf.len(),
                            "Ok(None) although needed() = {needed} <= {} buffered",
                            buf.len()
                        );
                    }
                    break;
                }
                Err(e) => {
                    return Outcome {
                        ops,
                        end: End::Error(e),
                    }
                }
            }
        }
    }
    Outcome {
        ops,
        end: End::Pending {
            left: data.len() - start,
            needed: parser.needed(),
        },
    }
}

/// Feed whole, byte by byte, and at the input's cuts; all three must agree.
pub fn check_split_invariance<P: Parser>(make: impl Fn() -> P, input: &Input<'_>) {
    let whole = feed(&mut make(), input.limits, input.data, &[]);
    let bytewise: Vec<usize> = (0..input.data.len()).collect();
    let by_byte = feed(&mut make(), input.limits, input.data, &bytewise);
    assert_eq!(whole, by_byte, "byte-by-byte feed differs from whole feed");
    if !input.cuts.is_empty() {
        let split = feed(&mut make(), input.limits, input.data, &input.cuts);
        assert_eq!(
            whole, split,
            "feed split at {:?} differs from whole feed",
            input.cuts
        );
    }
}

/// The `server_parser` target.
pub fn server_parser(data: &[u8]) {
    let Some(input) = Input::decode(data) else {
        return;
    };
    check_split_invariance(
        || {
            let mut p = ServerParser::new(input.limits);
            p.set_headers(input.headers);
            p.set_connect_required(input.connect_required);
            p
        },
        &input,
    );
}

/// The `client_parser` target.
pub fn client_parser(data: &[u8]) {
    let Some(input) = Input::decode(data) else {
        return;
    };
    check_split_invariance(|| ClientParser::new(input.limits), &input);
}
