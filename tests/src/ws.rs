//! A small, independent WebSocket client codec (RFC 6455) for the raw tests: the HTTP
//! upgrade and client frames, written here rather than taken from rnats so that a bug in
//! the server's codec cannot hide behind the same bug in the tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Frame opcodes.
pub mod op {
    /// Continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// Text frame.
    pub const TEXT: u8 = 0x1;
    /// Binary frame.
    pub const BINARY: u8 = 0x2;
    /// Close frame.
    pub const CLOSE: u8 = 0x8;
    /// Ping frame.
    pub const PING: u8 = 0x9;
    /// Pong frame.
    pub const PONG: u8 = 0xA;
}

/// The server's answer to an upgrade request.
#[derive(Debug, Clone)]
pub struct UpgradeResponse {
    /// HTTP status code (101 on success).
    pub status: u16,
    /// The response head (status line and headers), as text.
    pub head: String,
    /// Bytes after the head (the body of an error answer, or the first frames).
    pub rest: Vec<u8>,
}

impl UpgradeResponse {
    /// The value of response header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }
}

/// A fixed client key (any 16 bytes, base64) and the accept value RFC 6455 derives from it.
pub const CLIENT_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// `Sec-WebSocket-Accept` for [`CLIENT_KEY`] (RFC 6455 section 1.3).
pub const ACCEPT_FOR_CLIENT_KEY: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Browsers' compression offer, as an extra header for [`upgrade`]. (This client cannot
/// decompress, so it offers it only to check that it is declined.)
pub const DEFLATE_OFFER: &str =
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits";

/// Send a WebSocket upgrade request for `/` on `stream` with `extra_headers` (each
/// `Name: value`) and read the response head. Waits at most `timeout`.
pub fn upgrade(
    stream: &mut TcpStream,
    port: u16,
    extra_headers: &[&str],
    timeout: Duration,
) -> Result<UpgradeResponse, String> {
    let mut request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {CLIENT_KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for h in extra_headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    send_raw_request(stream, request.as_bytes(), timeout)
}

/// Write `request` as is and read the HTTP response head (plus whatever came with it).
pub fn send_raw_request(
    stream: &mut TcpStream,
    request: &[u8],
    timeout: Duration,
) -> Result<UpgradeResponse, String> {
    stream
        .write_all(request)
        .map_err(|e| format!("sending the upgrade request: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    let end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "no complete HTTP response within {timeout:?}; got \"{}\"",
                crate::show(&got)
            ));
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut tmp) {
            Ok(0) => {
                return Err(format!(
                    "connection closed before the HTTP response ended; got \"{}\"",
                    crate::show(&got)
                ))
            }
            Ok(n) => got.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the HTTP response: {e}")),
        }
    };
    let head = String::from_utf8_lossy(&got[..end]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP response: {head:?}"))?;
    Ok(UpgradeResponse {
        status,
        head,
        rest: got[end..].to_vec(),
    })
}

// Not `rnats_engine::websocket::frame` on purpose: a test client must not share the codec it tests.

/// A client frame: `fin` flag, `opcode`, masked with a key derived from `seed` (clients
/// must mask).
pub fn client_frame(opcode: u8, payload: &[u8], fin: bool, seed: u32) -> Vec<u8> {
    let key = seed
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add(0x7F4A_7C15)
        .to_be_bytes();
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(if fin { 0x80 } else { 0 } | opcode);
    match payload.len() {
        n if n <= 125 => f.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
    f
}

/// One frame sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFrame {
    /// FIN bit.
    pub fin: bool,
    /// RSV1..3 bits (must be 0: no extension was negotiated).
    pub rsv: u8,
    /// Opcode.
    pub opcode: u8,
    /// Whether the server masked it (it must not).
    pub masked: bool,
    /// The (unmasked) payload.
    pub payload: Vec<u8>,
}

impl ServerFrame {
    /// For a close frame: the status code (None when it carries none) and the reason.
    pub fn close_status(&self) -> (Option<u16>, String) {
        match self.payload.as_slice() {
            [hi, lo, reason @ ..] => (
                Some(u16::from_be_bytes([*hi, *lo])),
                String::from_utf8_lossy(reason).into_owned(),
            ),
            _ => (None, String::new()),
        }
    }
}

/// Take one complete server frame off the front of `buf`, if there is one.
pub fn take_server_frame(buf: &mut Vec<u8>) -> Option<ServerFrame> {
    let [b0, b1, ..] = buf[..] else {
        return None;
    };
    let (len, mut at) = match b1 & 0x7F {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(buf.get(2..10)?);
            (u64::from_be_bytes(a), 10)
        }
        n => (u64::from(n), 2),
    };
    let masked = b1 & 0x80 != 0;
    let mut key = [0u8; 4];
    if masked {
        key.copy_from_slice(buf.get(at..at + 4)?);
        at += 4;
    }
    let end = at + usize::try_from(len).ok()?;
    if buf.len() < end {
        return None;
    }
    let mut payload = buf[at..end].to_vec();
    if masked {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= key[i & 3];
        }
    }
    buf.drain(..end);
    Some(ServerFrame {
        fin: b0 & 0x80 != 0,
        rsv: (b0 >> 4) & 0x7,
        opcode: b0 & 0x0F,
        masked,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        for len in [0, 5, 125, 126, 65535, 65536, 70000] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut f = client_frame(op::BINARY, &payload, true, 7);
            let got = take_server_frame(&mut f).expect("complete");
            assert!(f.is_empty());
            assert_eq!((got.opcode, got.fin, got.masked), (op::BINARY, true, true));
            assert_eq!(got.payload, payload);
        }
        let mut partial = client_frame(op::TEXT, b"hello", false, 1);
        partial.pop();
        assert_eq!(take_server_frame(&mut partial), None);
    }
}
