//! `websocket`: the server's WebSocket frame reader (`rnats_ws::codec::WsReader`) and the
//! engine's frame-header codec (`rnats_engine::websocket::frame`).
//!
//! The frame bytes are decoded by `WsReader` several times, each over a fresh `Link`:
//! delivered by the socket all at once, one byte at a time, `step` bytes at a time, and
//! cut at fuzzer-chosen offsets (where the socket also answers `Pending` once before
//! going on), each read into an output window of a fuzzer-chosen size. Every way must
//! give the same decoded byte stream, the same end (clean end, or the error kind and
//! message), the same queued pongs and the same recorded close (status, reason), and all
//! of it must equal a naive whole-buffer model of the server's rules below. Never more
//! bytes are decoded than the input holds. Along the model's walk, `frame::parse_header`
//! is checked at every frame start: `size <= buf.len()` when it gives a header, `Ok(None)`
//! for every strict prefix of a complete header, and `encode_header` reproduces the bytes
//! of a header that used the shortest length form; `apply_mask` is checked against the
//! byte definition of RFC 6455 section 5.3, whole and in two pieces.
//!
//! Input layout (see `fuzz/README.md`):
//!
//! | byte | meaning |
//! |---|---|
//! | 0 | `n`: number of split offsets (`n % 32`) |
//! | 1 | output window A (used by the split and one-byte runs): 0 = 64 KiB, else 1..=255 bytes |
//! | 2 | output window B (used by the `step` and whole runs): same encoding |
//! | 3 | `step`: socket bytes per read in the `step` run, 0 = 8 KiB + 1 (just over the reader's raw buffer), else 1..=255 |
//! | 4.. | the client's frame bytes, followed by `n` little-endian u16 split offsets |

use futures_io::AsyncRead;
use rnats_engine::options::Options;
use rnats_engine::server::{ConnShared, PeerAddr, Server};
use rnats_engine::time::Instant;
use rnats_engine::websocket::frame::{self, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER};
use rnats_ws::codec::{Link, WsReader};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// A decoded fuzz input.
#[derive(Debug)]
pub struct Input<'a> {
    /// Output window of the split and one-byte runs.
    pub window_a: usize,
    /// Output window of the `step` and whole runs.
    pub window_b: usize,
    /// Socket bytes per read of the `step` run.
    pub step: usize,
    /// The client's frame bytes.
    pub data: &'a [u8],
    /// Sorted split offsets into `data` (duplicates kept).
    pub cuts: Vec<usize>,
}

impl<'a> Input<'a> {
    /// Decode; `None` for inputs shorter than the header.
    pub fn decode(input: &'a [u8]) -> Option<Self> {
        let (&[n, window_a, window_b, step], rest) = input.split_first_chunk::<4>()?;
        let (data, cuts) = crate::split_cuts(rest, n);
        let window = |b: u8| if b == 0 { 64 * 1024 } else { usize::from(b) };
        Some(Input {
            window_a: window(window_a),
            window_b: window(window_b),
            step: if step == 0 {
                8 * 1024 + 1
            } else {
                usize::from(step)
            },
            data,
            cuts,
        })
    }
}

/// How a stream of frames ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The reader returned 0: the client closed or the socket ended.
    Eof,
    /// The reader failed.
    Error(io::ErrorKind, String),
}

/// Everything a reader produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The NATS byte stream.
    pub decoded: Vec<u8>,
    /// How it ended.
    pub end: End,
    /// Ping payloads queued for the writer to answer.
    pub pongs: Vec<Vec<u8>>,
    /// The close frame recorded for the writer.
    pub close: Option<(u16, String)>,
}

/// A socket that hands out `data` in chunks: at most `step` bytes per read, never across a
/// cut, and `Pending` once at each cut before the bytes after it.
struct Socket<'a> {
    data: &'a [u8],
    /// Offset of `data[0]` in the whole input.
    at: usize,
    step: usize,
    /// Offsets (into the whole input) still to stop at, sorted.
    cuts: &'a [usize],
    /// The `Pending` for `cuts[0]` was returned.
    paused: bool,
}

impl AsyncRead for Socket<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        // Cuts at or behind the current offset are passed (after one Pending each).
        while let Some((&cut, rest)) = self.cuts.split_first() {
            if cut > self.at {
                break;
            }
            if !self.paused && !self.data.is_empty() {
                self.paused = true;
                return Poll::Pending;
            }
            self.paused = false;
            self.cuts = rest;
        }
        let until_cut = self.cuts.first().map_or(usize::MAX, |&cut| cut - self.at);
        let n = self.data.len().min(buf.len()).min(self.step).min(until_cut);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.at += n;
        Poll::Ready(Ok(n))
    }
}

/// Decode `data` with a `WsReader` over a fresh link of `conn`.
fn read_all(
    conn: &Arc<ConnShared>,
    data: &[u8],
    step: usize,
    cuts: &[usize],
    window: usize,
) -> Outcome {
    let link = Link::new(conn.clone());
    let socket = Socket {
        data,
        at: 0,
        step,
        cuts,
        paused: false,
    };
    let mut reader = WsReader::new(socket, link.clone());
    let mut cx = Context::from_waker(Waker::noop());
    let mut decoded = Vec::new();
    let mut buf = vec![0u8; window];
    // Every poll either consumes socket bytes, passes a cut, or returns output: more polls
    // than that means the reader spins.
    let mut polls_left = 4 * (data.len() + cuts.len()) + 16;
    let end = loop {
        assert!(polls_left > 0, "the reader keeps polling without progress");
        polls_left -= 1;
        match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(0)) => break End::Eof,
            Poll::Ready(Ok(n)) => {
                assert!(n <= window, "read {n} bytes into a window of {window}");
                decoded.extend_from_slice(&buf[..n]);
            }
            Poll::Ready(Err(e)) => break End::Error(e.kind(), e.to_string()),
            Poll::Pending => {}
        }
    };
    let (pongs, close) = link.queued_control();
    Outcome {
        decoded,
        end,
        pongs,
        close,
    }
}

/// The fuzz target.
pub fn websocket(input: &[u8]) {
    let Some(input) = Input::decode(input) else {
        return;
    };
    let data = input.data;
    let want = model(data);
    assert!(
        want.decoded.len() <= data.len(),
        "the model decoded more than it read"
    );

    let server = Server::new(Options::default(), 1, Instant::ZERO);
    let conn = server.accept(PeerAddr::default(), Instant::ZERO);
    let conn = conn.shared().clone();
    let runs = [
        ("whole, window B", usize::MAX, &[][..], input.window_b),
        ("whole, 64 KiB window", usize::MAX, &[][..], 64 * 1024),
        ("one byte at a time, window A", 1, &[][..], input.window_a),
        ("step, window B", input.step, &[][..], input.window_b),
        (
            "split, window A",
            usize::MAX,
            &input.cuts[..],
            input.window_a,
        ),
        ("split, window 1", usize::MAX, &input.cuts[..], 1),
    ];
    for (name, step, cuts, window) in runs {
        let got = read_all(&conn, data, step, cuts, window);
        assert!(
            got.decoded.len() <= data.len(),
            "{name}: decoded {} bytes from {}",
            got.decoded.len(),
            data.len()
        );
        assert_eq!(
            got, want,
            "{name} (step {step}, cuts {cuts:?}, window {window}) differs from the model"
        );
    }
}

/// Why the model stopped with an error: the reader's `InvalidData` and close 1002.
fn protocol_error(outcome: &mut Outcome, message: &str) {
    outcome.end = End::Error(io::ErrorKind::InvalidData, message.to_string());
    outcome.close = Some((1002, message.to_string()));
}

/// The server's rules for a client's frames, applied to the whole stream at once with no
/// state carried between reads: what `WsReader` must produce however the bytes arrive.
fn model(data: &[u8]) -> Outcome {
    let mut outcome = Outcome {
        decoded: Vec::new(),
        end: End::Eof,
        pongs: Vec::new(),
        close: None,
    };
    let mut in_message = false;
    let mut rest = data;
    loop {
        if let [b0, b1, ..] = *rest {
            if b0 & frame::RSV_BITS != 0 {
                protocol_error(&mut outcome, "reserved bits set");
                return outcome;
            }
            if b1 & frame::MASK_BIT == 0 {
                protocol_error(&mut outcome, "mask bit missing");
                return outcome;
            }
        }
        let header = match check_parse_header(rest) {
            Err(e) => {
                protocol_error(&mut outcome, &e.to_string());
                return outcome;
            }
            // The socket ended inside a header (or between frames).
            Ok(None) => return outcome,
            Ok(Some(h)) => h,
        };
        let key = header.mask.expect("the mask bit was checked");
        let payload_at = &rest[header.size..];
        match header.opcode {
            frame::OP_CLOSE | frame::OP_PING | frame::OP_PONG => {
                if header.len > MAX_CONTROL_PAYLOAD as u64 {
                    protocol_error(
                        &mut outcome,
                        "control frame length bigger than maximum allowed of 125 bytes",
                    );
                    return outcome;
                }
                if !header.fin {
                    protocol_error(&mut outcome, "control frame does not have final bit set");
                    return outcome;
                }
                let len = header.len as usize;
                if payload_at.len() < len {
                    return outcome;
                }
                let payload: Vec<u8> = payload_at[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[i % 4])
                    .collect();
                rest = &payload_at[len..];
                match header.opcode {
                    frame::OP_PING => outcome.pongs.push(payload),
                    frame::OP_CLOSE => {
                        outcome.close = Some(match payload.as_slice() {
                            [hi, lo, reason @ ..] => match std::str::from_utf8(reason) {
                                Ok(text) => (u16::from_be_bytes([*hi, *lo]), text.to_string()),
                                Err(_) => (1007, "invalid utf8 body in close frame".to_string()),
                            },
                            _ => (1000, String::new()),
                        });
                        return outcome;
                    }
                    _ => {}
                }
            }
            frame::OP_CONTINUATION | frame::OP_TEXT | frame::OP_BINARY => {
                if header.opcode == frame::OP_CONTINUATION && !in_message {
                    protocol_error(&mut outcome, "invalid continuation frame");
                    return outcome;
                }
                if header.opcode != frame::OP_CONTINUATION && in_message {
                    protocol_error(
                        &mut outcome,
                        "new message started before final frame for previous message was received",
                    );
                    return outcome;
                }
                in_message = !header.fin;
                let available = payload_at.len().min(header.len as usize);
                outcome.decoded.extend(
                    payload_at[..available]
                        .iter()
                        .enumerate()
                        .map(|(i, b)| b ^ key[i % 4]),
                );
                if (available as u64) < header.len {
                    // The socket ended inside the payload.
                    return outcome;
                }
                check_apply_mask(&payload_at[..available], key);
                rest = &payload_at[available..];
            }
            other => {
                protocol_error(&mut outcome, &format!("unknown opcode {other}"));
                return outcome;
            }
        }
    }
}

/// `frame::parse_header(buf)`, with its checks.
fn check_parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, frame::FrameError> {
    let parsed = frame::parse_header(buf);
    let Ok(Some(h)) = parsed else {
        return parsed;
    };
    assert!(
        h.size <= buf.len(),
        "header of {} bytes in {}",
        h.size,
        buf.len()
    );
    assert!(h.size <= MAX_HEADER);
    assert!(h.len >> 63 == 0, "length {} has its top bit set", h.len);
    for cut in 0..h.size {
        assert_eq!(
            frame::parse_header(&buf[..cut]),
            Ok(None),
            "{cut} bytes of a {}-byte header",
            h.size
        );
    }
    let len7 = buf[1] & 0x7F;
    let shortest = match len7 {
        126 => h.len > 125,
        127 => h.len > 0xFFFF,
        _ => true,
    };
    if shortest {
        let mut out = [0u8; MAX_HEADER];
        let size = frame::encode_header(&mut out, h.fin, h.opcode, h.len, h.mask);
        assert_eq!(size, h.size, "re-encoded header size");
        // `encode_header` never sets reserved bits.
        assert_eq!(out[0], buf[0] & !frame::RSV_BITS, "re-encoded first byte");
        assert_eq!(out[1..size], buf[1..size], "re-encoded header");
        assert_eq!(
            frame::parse_header(&out[..size]),
            Ok(Some(FrameHeader { rsv: 0, ..h })),
            "the re-encoded header parses back"
        );
    }
    parsed
}

/// `frame::apply_mask` against the byte definition, whole and in two pieces.
fn check_apply_mask(payload: &[u8], key: [u8; 4]) {
    let want: Vec<u8> = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    let mut whole = payload.to_vec();
    frame::apply_mask(&mut whole, key, 0);
    assert_eq!(whole, want, "apply_mask over the whole payload");
    let cut = payload.len() / 3;
    let mut pieces = payload.to_vec();
    let (a, b) = pieces.split_at_mut(cut);
    frame::apply_mask(a, key, 0);
    frame::apply_mask(b, key, cut);
    assert_eq!(pieces, want, "apply_mask in pieces cut at {cut}");
}
