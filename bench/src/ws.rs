//! The WebSocket side of the load generator (RFC 6455), by hand and cheap: the HTTP
//! upgrade, client frames (binary, masked as clients must), and the unwrapping of the
//! server's frames in place in the connection's read buffer, so the NATS bytes reach the
//! engine's client parser exactly as over TCP. No per-message allocation either way:
//! publishers write pre-masked frames built once ([`mask_frame`]), subscribers move
//! payload bytes down over the frame headers. Frame headers and masking are the engine's
//! ([`rnats_engine::websocket::frame`]); what a client must refuse is decided here.

use crate::client::BenchResult;
use crate::scenarios::Rng;
use rnats_engine::websocket::frame::{
    self, FrameHeader, MAX_HEADER, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

/// The client key of RFC 6455 section 1.3 (any 16 bytes, base64, will do) ...
const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// ... and the `Sec-WebSocket-Accept` a server must answer to it.
const ACCEPT_FOR_CLIENT_KEY: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Binary frame opcode.
pub use rnats_engine::websocket::frame::OP_BINARY;

/// Largest frame header a client writes: 2 + 8 (64-bit length) + 4 (mask key).
pub const MAX_CLIENT_HEADER: usize = MAX_HEADER;

/// Sends the upgrade request for `/` and reads the `101` answer. Returns the bytes that
/// came after the response head (already frames).
pub fn upgrade(
    stream: &mut TcpStream,
    addr: SocketAddr,
    deadline: Instant,
) -> BenchResult<Vec<u8>> {
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("sending the upgrade request: {e}"))?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("no complete HTTP response in time".into());
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        match stream.read(&mut chunk) {
            Ok(0) => return Err("connection closed during the upgrade".into()),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the upgrade response: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&got[..head_end]);
    let status_ok = head
        .lines()
        .next()
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("101"));
    let accept = head.lines().skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("sec-websocket-accept")
            .then(|| value.trim())
    });
    if !status_ok || accept != Some(ACCEPT_FOR_CLIENT_KEY) {
        return Err(format!("not a WebSocket upgrade: {:?}", head.trim_end()));
    }
    Ok(got[head_end..].to_vec())
}

/// Appends one masked client frame: FIN, `opcode`, `payload` XORed with `key`.
pub fn mask_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], key: [u8; 4]) {
    let mut header = [0u8; MAX_HEADER];
    let size = frame::encode_header(&mut header, true, opcode, payload.len() as u64, Some(key));
    out.extend_from_slice(&header[..size]);
    let start = out.len();
    out.extend_from_slice(payload);
    frame::apply_mask(&mut out[start..], key, 0);
}

/// Masks a connection's own frames with keys from a deterministic generator (RFC 6455
/// wants unpredictable keys against proxy cache poisoning; a benchmark on loopback only
/// needs them not to be constant).
#[derive(Debug)]
pub struct FrameEncoder {
    keys: Rng,
}

impl Default for FrameEncoder {
    fn default() -> Self {
        FrameEncoder {
            keys: Rng(0x5EB5_0C4E),
        }
    }
}

impl FrameEncoder {
    /// The next masking key.
    pub fn key(&mut self) -> [u8; 4] {
        // Never the all-zero key, which would leave the bytes as they are.
        ((self.keys.next() as u32) | 1).to_be_bytes()
    }

    /// One binary frame carrying `payload`.
    pub fn frame(&mut self, payload: &[u8]) -> Vec<u8> {
        self.control(OP_BINARY, payload)
    }

    /// One frame of `opcode`.
    pub fn control(&mut self, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + MAX_CLIENT_HEADER);
        let key = self.key();
        mask_frame(&mut out, opcode, payload, key);
        out
    }

    /// Pong frames answering `pings` (their payloads), in one buffer.
    pub fn pongs(&mut self, pings: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in pings {
            out.extend_from_slice(&self.control(OP_PONG, p));
        }
        out
    }
}

/// Parses a server frame header at the start of `b` and checks it as a client must;
/// `Ok(None)` while incomplete.
fn parse_header(b: &[u8]) -> BenchResult<Option<FrameHeader>> {
    let Some(h) = frame::parse_header(b).map_err(|e| format!("server frame: {e}"))? else {
        return Ok(None);
    };
    if h.rsv != 0 {
        return Err(format!(
            "server frame with reserved bits set ({:#04x})",
            b[0]
        ));
    }
    if h.mask.is_some() {
        return Err("masked frame from the server".into());
    }
    Ok(Some(h))
}

/// Where the reader is in the server's frame stream, and the pings to answer.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    /// Payload bytes of the current data frame not yet received.
    payload_left: u64,
    /// Payloads of the server's pings, answered by the connection after unwrapping.
    pings: Vec<Vec<u8>>,
}

impl FrameDecoder {
    /// Unwraps `buf[end..raw_end]` (bytes received after the last unwrapped ones) in
    /// place: data frame payloads are moved down to follow `buf[..end]`, headers and
    /// control frames dropped. Returns the new `(end, raw_end)`: protocol bytes now end
    /// at `end`, and `buf[end..raw_end]` holds an incomplete frame header (or control
    /// frame) to finish after the next read.
    pub fn unwrap_in_place(
        &mut self,
        buf: &mut [u8],
        end: usize,
        raw_end: usize,
    ) -> BenchResult<(usize, usize)> {
        let mut read = end;
        let mut write = end;
        loop {
            if self.payload_left > 0 {
                let n = self.payload_left.min((raw_end - read) as u64) as usize;
                if n == 0 {
                    break;
                }
                if read != write {
                    buf.copy_within(read..read + n, write);
                }
                read += n;
                write += n;
                self.payload_left -= n as u64;
                continue;
            }
            let Some(h) = parse_header(&buf[read..raw_end])? else {
                break;
            };
            match h.opcode {
                // The payload is one byte stream, whatever the frame boundaries and
                // types (nats-server sends binary frames; text would carry the same).
                OP_CONTINUATION | OP_TEXT | OP_BINARY => {
                    read += h.size;
                    self.payload_left = h.len;
                }
                OP_CLOSE | OP_PING | OP_PONG => {
                    let total = h.size + h.len as usize;
                    if raw_end - read < total {
                        break;
                    }
                    let payload = &buf[read + h.size..read + total];
                    match h.opcode {
                        OP_PING => self.pings.push(payload.to_vec()),
                        OP_CLOSE => {
                            let (status, reason) = match payload {
                                [hi, lo, reason @ ..] => (
                                    u16::from_be_bytes([*hi, *lo]).to_string(),
                                    String::from_utf8_lossy(reason).into_owned(),
                                ),
                                _ => ("none".into(), String::new()),
                            };
                            return Err(format!(
                                "server closed the WebSocket (status {status}, {reason:?})"
                            ));
                        }
                        _ => {}
                    }
                    read += total;
                }
                other => return Err(format!("server frame with unknown opcode {other}")),
            }
        }
        // Keep the incomplete header right after the unwrapped bytes.
        if read != write {
            buf.copy_within(read..raw_end, write);
        }
        Ok((write, write + (raw_end - read)))
    }

    /// Takes the payloads of the pings received since the last call.
    pub fn take_pings(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.pings)
    }

    /// Whether pings are waiting for their pongs.
    pub fn has_pings(&self) -> bool {
        !self.pings.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server frame (unmasked).
    fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x80 | opcode];
        match payload.len() {
            n if n <= 125 => f.push(n as u8),
            n if n <= 0xFFFF => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    /// Feeds `wire` to a decoder in pieces of `step` bytes, as reads would deliver them.
    fn unwrap_in_steps(wire: &[u8], step: usize) -> (Vec<u8>, usize) {
        let mut d = FrameDecoder::default();
        let mut buf = vec![0u8; wire.len()];
        let (mut end, mut raw_end) = (0, 0);
        let mut pings = 0;
        for piece in wire.chunks(step) {
            buf[raw_end..raw_end + piece.len()].copy_from_slice(piece);
            raw_end += piece.len();
            (end, raw_end) = d.unwrap_in_place(&mut buf, end, raw_end).unwrap();
            pings += d.take_pings().len();
        }
        assert_eq!(end, raw_end, "no partial header left at the end");
        buf.truncate(end);
        (buf, pings)
    }

    #[test]
    fn frames_of_every_length_form_and_split_anywhere_unwrap_to_the_stream() {
        let stream: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        // Frames of 7-bit, 16-bit and 64-bit lengths, a ping in the middle.
        let mut wire = Vec::new();
        let mut at = 0;
        for (i, len) in [0, 5, 125, 126, 300, 65_535, 65_536, 68_000]
            .iter()
            .enumerate()
        {
            let len = (*len).min(stream.len() - at);
            wire.extend_from_slice(&server_frame(
                if i == 3 { OP_TEXT } else { OP_BINARY },
                &stream[at..at + len],
            ));
            at += len;
            if i == 4 {
                wire.extend_from_slice(&server_frame(OP_PING, b"hi"));
            }
        }
        wire.extend_from_slice(&server_frame(OP_BINARY, &stream[at..]));
        for step in [1, 2, 3, 7, 100, 4096, 65_537, wire.len()] {
            let (got, pings) = unwrap_in_steps(&wire, step);
            assert!(got == stream, "step {step}: stream differs");
            assert_eq!(pings, 1, "step {step}");
        }
    }

    #[test]
    fn a_close_frame_is_an_error_with_its_status() {
        let mut d = FrameDecoder::default();
        let mut buf = server_frame(OP_CLOSE, b"\x03\xe8bye");
        let n = buf.len();
        let e = d.unwrap_in_place(&mut buf, 0, n).unwrap_err();
        assert!(e.contains("1000") && e.contains("bye"), "{e}");
    }

    #[test]
    fn server_frames_a_client_must_refuse_are_errors() {
        let mut masked = vec![0x82, 0x82, 1, 2, 3, 4, b'h', b'i'];
        let n = masked.len();
        let e = FrameDecoder::default()
            .unwrap_in_place(&mut masked, 0, n)
            .unwrap_err();
        assert_eq!(e, "masked frame from the server");
        let mut reserved = server_frame(OP_BINARY, b"hi");
        reserved[0] |= 0x40;
        let n = reserved.len();
        let e = FrameDecoder::default()
            .unwrap_in_place(&mut reserved, 0, n)
            .unwrap_err();
        assert_eq!(e, "server frame with reserved bits set (0xc2)");
    }

    #[test]
    fn client_frames_are_masked_and_unmask_to_the_payload() {
        let payload: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        for len in [0, 125, 126, 65_535, 65_536, 70_000] {
            let mut f = Vec::new();
            mask_frame(&mut f, OP_BINARY, &payload[..len], [1, 2, 3, 4]);
            assert_eq!(f[0], 0x82);
            assert!(f[1] & 0x80 != 0, "mask bit");
            let size = match f[1] & 0x7F {
                126 => 4,
                127 => 10,
                _ => 2,
            } + 4;
            assert_eq!(f.len(), size + len);
            let key = &f[size - 4..size];
            let unmasked: Vec<u8> = f[size..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(unmasked, &payload[..len]);
        }
    }
}
