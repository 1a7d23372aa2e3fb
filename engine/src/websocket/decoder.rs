//! The server's reading of a client's frames (RFC 6455), without I/O: [`ServerFrameDecoder`]
//! turns the socket bytes a frontend has read into the payloads of the client's binary and
//! text frames, one continuous NATS byte stream (an op may span frames, a frame may hold
//! many ops), and the control frames into [`ControlEvent`]s for the frontend to act on.
//!
//! Payloads are streamed, never gathered into messages, so a frame of any size costs no
//! more memory than the same bytes over TCP. What a server must refuse in a client's
//! frames is decided here, worded as nats-server words it ([`ProtocolError`]).
//!
//! The frontend keeps the socket and a buffer of bytes read but not yet decoded, and loops:
//! [`ServerFrameDecoder::decode`] those bytes into the engine's read buffer, drop the
//! [`Decoded::consumed`] ones, act on the event, and when nothing came out either read
//! the payload straight into the engine's buffer ([`ServerFrameDecoder::payload_left`],
//! [`ServerFrameDecoder::unmask_in_place`]) or read more socket bytes.

use super::frame::{
    self, FrameHeader, MASK_BIT, MAX_CONTROL_PAYLOAD, OP_BINARY, OP_CLOSE, OP_CONTINUATION,
    OP_PING, OP_PONG, OP_TEXT, RSV_BITS,
};
use crate::prelude::*;
use core::fmt;

/// Close status of a normal closure (RFC 6455 section 7.4.1): the answer to a client's
/// close frame without a status.
pub const STATUS_NORMAL: u16 = 1000;
/// Close status sent when the client broke the protocol ([`ProtocolError`]).
pub const STATUS_PROTOCOL_ERROR: u16 = 1002;
/// Close status sent when the reason of the client's close frame is not UTF-8.
pub const STATUS_INVALID_PAYLOAD: u16 = 1007;

/// A violation of RFC 6455 by the client. Its text (`Display`) is nats-server's wording
/// where it has one, and is sent as the reason of the close frame with
/// [`STATUS_PROTOCOL_ERROR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    /// A reserved bit is set (RSV1 would be compression, which is never negotiated).
    ReservedBits,
    /// The client did not mask its frame.
    MaskBitMissing,
    /// A frame header no end may accept.
    Frame(frame::FrameError),
    /// A control frame longer than [`MAX_CONTROL_PAYLOAD`].
    ControlFrameTooLong,
    /// A control frame without the final bit.
    ControlFrameNotFinal,
    /// An opcode RFC 6455 does not define.
    UnknownOpcode(u8),
    /// A continuation frame outside a message.
    InvalidContinuation,
    /// A text or binary frame before the previous message's final frame.
    MessageNotFinished,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBits => f.write_str("reserved bits set"),
            ProtocolError::MaskBitMissing => f.write_str("mask bit missing"),
            ProtocolError::Frame(e) => fmt::Display::fmt(e, f),
            ProtocolError::ControlFrameTooLong => write!(
                f,
                "control frame length bigger than maximum allowed of {MAX_CONTROL_PAYLOAD} bytes"
            ),
            ProtocolError::ControlFrameNotFinal => {
                f.write_str("control frame does not have final bit set")
            }
            ProtocolError::UnknownOpcode(opcode) => write!(f, "unknown opcode {opcode}"),
            ProtocolError::InvalidContinuation => f.write_str("invalid continuation frame"),
            ProtocolError::MessageNotFinished => f.write_str(
                "new message started before final frame for previous message was received",
            ),
        }
    }
}

impl core::error::Error for ProtocolError {}

/// A control frame from the client that the frontend must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlEvent {
    /// A ping: send a pong with this payload.
    SendPong(Vec<u8>),
    /// A close: answer with a close frame of this status and reason (the echo of the
    /// client's, 1000 for none, 1007 for a reason that is not UTF-8). Nothing more is
    /// decoded: the client's byte stream has ended.
    Close {
        /// The status to send.
        status: u16,
        /// The reason to send.
        reason: String,
    },
}

/// What one [`ServerFrameDecoder::decode`] call did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// Bytes of `raw` used up: the next call starts after them.
    pub consumed: usize,
    /// Payload bytes written to the front of `out`.
    pub written: usize,
    /// The control frame that ended the call, if one did.
    pub event: Option<ControlEvent>,
}

/// Where the decoder is in the client's frame stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Between frames.
    Header,
    /// Inside a data frame's payload: `left` bytes to go, `offset` done.
    Payload {
        left: u64,
        key: [u8; 4],
        offset: usize,
    },
    /// The client closed (or broke the protocol): nothing more is decoded.
    Done,
}

/// The state of a server reading one client's frames.
#[derive(Debug, Clone)]
pub struct ServerFrameDecoder {
    state: State,
    /// A data message has started and not finished (a continuation frame is due).
    in_message: bool,
}

impl Default for ServerFrameDecoder {
    fn default() -> Self {
        ServerFrameDecoder::new()
    }
}

impl ServerFrameDecoder {
    /// A decoder at the start of a connection's frames.
    pub fn new() -> Self {
        ServerFrameDecoder {
            state: State::Header,
            in_message: false,
        }
    }

    /// The client's stream has ended (a close frame or a protocol error): nothing more
    /// will be decoded.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Payload bytes of the current data frame still to come (0 between frames). When the
    /// frontend holds no undecoded bytes it may read up to this many straight into the
    /// engine's buffer and unmask them with [`ServerFrameDecoder::unmask_in_place`].
    #[inline]
    pub fn payload_left(&self) -> u64 {
        match self.state {
            State::Payload { left, .. } => left,
            _ => 0,
        }
    }

    /// Unmask `payload`, the next bytes (at most [`ServerFrameDecoder::payload_left`]) of
    /// the current data frame, read straight from the socket.
    #[inline]
    pub fn unmask_in_place(&mut self, payload: &mut [u8]) {
        if let State::Payload { left, key, offset } = &mut self.state {
            let n = payload.len();
            debug_assert!(n as u64 <= *left, "{n} bytes past the frame's payload");
            frame::apply_mask(payload, *key, *offset);
            *left -= n as u64;
            *offset += n;
        } else {
            debug_assert!(payload.is_empty(), "payload bytes outside a data frame");
        }
    }

    /// Decode the front of `raw` (socket bytes not yet decoded) into `out`: payload bytes
    /// unmasked into `out`, control frames checked and returned as an event. Stops when
    /// `raw` runs out (or holds only part of a header or control frame), `out` is full,
    /// after a control frame, or when the stream ends.
    ///
    /// A protocol error is returned only when nothing was written in this call: payload
    /// decoded before it is delivered first, and as nothing of the bad frame is consumed,
    /// the next call finds the error again (failing at once would drop those bytes, so
    /// what the engine gets before the error would depend on how the socket and the
    /// engine's buffer cut the stream). After an error the decoder is done.
    pub fn decode(&mut self, raw: &[u8], out: &mut [u8]) -> Result<Decoded, ProtocolError> {
        let mut consumed = 0;
        let mut written = 0;
        let done = |consumed, written| {
            Ok(Decoded {
                consumed,
                written,
                event: None,
            })
        };
        loop {
            let rest = &raw[consumed..];
            match self.state {
                State::Done => return done(consumed, written),
                State::Payload { left: 0, .. } => self.state = State::Header,
                State::Payload { left, key, offset } => {
                    let room = out.len() - written;
                    let n = (left.min(rest.len() as u64) as usize).min(room);
                    if n == 0 {
                        return done(consumed, written);
                    }
                    let dst = &mut out[written..written + n];
                    dst.copy_from_slice(&rest[..n]);
                    frame::apply_mask(dst, key, offset);
                    consumed += n;
                    written += n;
                    self.state = State::Payload {
                        left: left - n as u64,
                        key,
                        offset: offset + n,
                    };
                }
                State::Header => {
                    let header = match parse_header(rest) {
                        Ok(Some(h)) => h,
                        Ok(None) => return done(consumed, written),
                        Err(e) => return self.error_after(consumed, written, e),
                    };
                    let key = header.mask.unwrap_or_default();
                    if header.opcode >= OP_CLOSE {
                        let total = header.size + header.len as usize;
                        let Some(masked) = rest.get(header.size..total) else {
                            return done(consumed, written);
                        };
                        let mut payload = masked.to_vec();
                        frame::apply_mask(&mut payload, key, 0);
                        consumed += total;
                        let event = match header.opcode {
                            OP_PING => ControlEvent::SendPong(payload),
                            OP_CLOSE => {
                                self.state = State::Done;
                                close_reply(&payload)
                            }
                            _ => continue,
                        };
                        return Ok(Decoded {
                            consumed,
                            written,
                            event: Some(event),
                        });
                    }
                    match (header.opcode, self.in_message) {
                        (OP_CONTINUATION, false) => {
                            return self.error_after(
                                consumed,
                                written,
                                ProtocolError::InvalidContinuation,
                            )
                        }
                        (OP_TEXT | OP_BINARY, true) => {
                            return self.error_after(
                                consumed,
                                written,
                                ProtocolError::MessageNotFinished,
                            )
                        }
                        _ => {}
                    }
                    self.in_message = !header.fin;
                    consumed += header.size;
                    self.state = State::Payload {
                        left: header.len,
                        key,
                        offset: 0,
                    };
                }
            }
        }
    }

    /// A protocol error found after `written` bytes were decoded in this call: those
    /// bytes go out first, the error comes with the next call.
    fn error_after(
        &mut self,
        consumed: usize,
        written: usize,
        e: ProtocolError,
    ) -> Result<Decoded, ProtocolError> {
        if written > 0 {
            Ok(Decoded {
                consumed,
                written,
                event: None,
            })
        } else {
            self.state = State::Done;
            Err(e)
        }
    }
}

/// Parse a client frame header at the start of `buf` and apply a server's rules to it;
/// `Ok(None)` when more bytes are needed.
fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, ProtocolError> {
    // The reserved bits and the mask bit are judged as soon as the first two bytes arrive
    // (nats-server decides the mask bit there too): a bad frame is refused at once, and
    // for that rather than for a bad length.
    if let [b0, b1, ..] = *buf {
        if b0 & RSV_BITS != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        if b1 & MASK_BIT == 0 {
            return Err(ProtocolError::MaskBitMissing);
        }
    }
    let Some(header) = frame::parse_header(buf).map_err(ProtocolError::Frame)? else {
        return Ok(None);
    };
    match header.opcode {
        OP_CLOSE | OP_PING | OP_PONG => {
            if header.len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
            if !header.fin {
                return Err(ProtocolError::ControlFrameNotFinal);
            }
        }
        OP_CONTINUATION | OP_TEXT | OP_BINARY => {}
        other => return Err(ProtocolError::UnknownOpcode(other)),
    }
    Ok(Some(header))
}

/// The answer to a client's close frame with this (unmasked) payload: its status and
/// reason echoed; a close without a status is answered with 1000, never with the reserved
/// 1005 nats-server sends.
fn close_reply(payload: &[u8]) -> ControlEvent {
    let (status, reason) = match payload {
        [hi, lo, reason @ ..] => match core::str::from_utf8(reason) {
            Ok(text) => (u16::from_be_bytes([*hi, *lo]), text.to_string()),
            Err(_) => (
                STATUS_INVALID_PAYLOAD,
                "invalid utf8 body in close frame".to_string(),
            ),
        },
        _ => (STATUS_NORMAL, String::new()),
    };
    ControlEvent::Close { status, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

    /// A client frame with a 7-bit length, masked with [`KEY`].
    fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        assert!(payload.len() <= 125);
        let mut f = vec![b0, 0x80 | payload.len() as u8];
        f.extend_from_slice(&KEY);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i & 3]));
        f
    }

    /// Decode `raw` fed `step` bytes at a time into windows of `window` bytes, as a
    /// frontend does: (payload, events, error).
    fn run(
        raw: &[u8],
        step: usize,
        window: usize,
    ) -> (Vec<u8>, Vec<ControlEvent>, Option<ProtocolError>) {
        let mut decoder = ServerFrameDecoder::new();
        let (mut fed, mut start) = (0, 0);
        let mut out = vec![0u8; window];
        let (mut payload, mut events) = (Vec::new(), Vec::new());
        loop {
            match decoder.decode(&raw[start..fed], &mut out) {
                Err(e) => return (payload, events, Some(e)),
                Ok(d) => {
                    start += d.consumed;
                    payload.extend_from_slice(&out[..d.written]);
                    if let Some(event) = d.event {
                        events.push(event);
                    } else if d.written == 0 {
                        if decoder.is_done() || fed == raw.len() {
                            return (payload, events, None);
                        }
                        fed = (fed + step).min(raw.len());
                    }
                }
            }
        }
    }

    #[test]
    fn payloads_stream_and_control_frames_become_events_whatever_the_cuts() {
        let mut raw = client_frame(0x01, b"PUB a 2\r\n"); // text, not final
        raw.extend(client_frame(0x89, b"ping!"));
        raw.extend(client_frame(0x8A, b"pong")); // ignored
        raw.extend(client_frame(0x80, b"hi\r\n"));
        raw.extend(client_frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
        raw.extend(client_frame(0x82, b"after close"));
        for step in [1, 2, 5, 1000] {
            for window in [1, 3, 100] {
                let (payload, events, error) = run(&raw, step, window);
                assert_eq!(
                    payload, b"PUB a 2\r\nhi\r\n",
                    "step {step}, window {window}"
                );
                assert_eq!(
                    events,
                    [
                        ControlEvent::SendPong(b"ping!".to_vec()),
                        ControlEvent::Close {
                            status: 1000,
                            reason: "bye".into()
                        }
                    ]
                );
                assert_eq!(error, None);
            }
        }
    }

    #[test]
    fn close_replies() {
        let close = |payload: &[u8]| run(&client_frame(0x88, payload), 100, 100).1;
        assert_eq!(
            close(b""),
            [ControlEvent::Close {
                status: 1000,
                reason: String::new()
            }]
        );
        assert_eq!(
            close(&[0x03, 0xE8, 0xFF]),
            [ControlEvent::Close {
                status: 1007,
                reason: "invalid utf8 body in close frame".into()
            }]
        );
    }

    #[test]
    fn protocol_errors_come_after_the_payload_before_them() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0x82, 0x02, b'h', b'i'], "mask bit missing"),
            (client_frame(0x83, b"x"), "unknown opcode 3"),
            (client_frame(0xC2, b"x"), "reserved bits set"),
            (client_frame(0x80, b"x"), "invalid continuation frame"),
            (
                client_frame(0x09, b"x"),
                "control frame does not have final bit set",
            ),
            (
                vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                "invalid frame length",
            ),
            (
                vec![0x89, 0xFE, 0, 126, 1, 2, 3, 4],
                "control frame length bigger than maximum allowed of 125 bytes",
            ),
            (
                [client_frame(0x02, b""), client_frame(0x82, b"b")].concat(),
                "new message started before final frame for previous message was received",
            ),
        ];
        for (bad, message) in cases {
            let raw = [client_frame(0x82, b"ab"), bad].concat();
            for step in [1, 1000] {
                for window in [1, 100] {
                    let (payload, _, error) = run(&raw, step, window);
                    assert_eq!(payload, b"ab", "{message}: step {step}, window {window}");
                    assert_eq!(error.map(|e| e.to_string()).as_deref(), Some(message));
                }
            }
        }
    }

    #[test]
    fn payload_read_straight_from_the_socket_is_unmasked_in_place() {
        let raw = client_frame(0x82, b"hello world");
        let mut decoder = ServerFrameDecoder::new();
        let mut out = [0u8; 32];
        let d = decoder.decode(&raw[..6], &mut out).unwrap();
        assert_eq!((d.consumed, d.written), (6, 0));
        assert_eq!(decoder.payload_left(), 11);
        out[..4].copy_from_slice(&raw[6..10]);
        decoder.unmask_in_place(&mut out[..4]);
        assert_eq!(&out[..4], b"hell");
        assert_eq!(decoder.payload_left(), 7);
        let d = decoder.decode(&raw[10..], &mut out).unwrap();
        assert_eq!(&out[..d.written], b"o world");
        assert_eq!(decoder.payload_left(), 0);
    }
}
