//! A blocking raw NATS client for wire-exact tests, over TCP or over WebSocket frames.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::ws::{self, ServerFrame};
use crate::{show, TestServer, Transport};

/// Default bound for any single expectation; only reached when a test is failing.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One protocol unit sent by the server: a control line (with its CRLF) and, for `MSG` /
/// `HMSG`, the payload and its trailing CRLF.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// The exact bytes of the frame.
    pub raw: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame(\"{}\")", show(&self.raw))
    }
}

impl Frame {
    /// The control line without its line ending.
    pub fn line(&self) -> &[u8] {
        let end = self
            .raw
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(self.raw.len());
        let line = &self.raw[..end];
        line.strip_suffix(b"\r").unwrap_or(line)
    }

    /// The control line's whitespace-separated tokens.
    pub fn args(&self) -> Vec<String> {
        String::from_utf8_lossy(self.line())
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// The operation name, upper-cased (`MSG`, `PONG`, `-ERR`, …).
    pub fn op(&self) -> String {
        self.args()
            .first()
            .map(|s| s.to_ascii_uppercase())
            .unwrap_or_default()
    }

    /// For `MSG`/`HMSG`: the bytes after the control line without the trailing CRLF
    /// (header block + payload for `HMSG`).
    pub fn payload(&self) -> Option<&[u8]> {
        let len = msg_total_len(self.line())?;
        let start = self.raw.iter().position(|&b| b == b'\n')? + 1;
        self.raw.get(start..start + len)
    }
}

/// For a `MSG`/`HMSG` control line: the number of bytes that follow it (before the CRLF).
fn msg_total_len(line: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    let mut it = text.split_ascii_whitespace();
    let op = it.next()?.to_ascii_uppercase();
    if op != "MSG" && op != "HMSG" {
        return None;
    }
    it.last()?.parse().ok()
}

/// Length of the first complete frame in `buf`, if there is one.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line_len = nl + 1;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match msg_total_len(line) {
        Some(n) => {
            let total = line_len + n + 2;
            (buf.len() >= total).then_some(total)
        }
        None => Some(line_len),
    }
}

/// Splits server output into frames; an incomplete tail becomes the last element.
pub fn split_frames(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let n = frame_len(bytes).unwrap_or(bytes.len());
        out.push(bytes[..n].to_vec());
        bytes = &bytes[n..];
    }
    out
}

/// [`split_frames`], sorted: for comparing output whose order the protocol leaves open
/// (e.g. one message fanned out to several subscriptions of one connection).
pub fn sorted_frames(bytes: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = split_frames(bytes).iter().map(|f| show(f)).collect();
    v.sort();
    v
}

/// Why a read ended without the expected data.
#[derive(Debug)]
pub enum ReadError {
    /// Nothing (more) arrived in time. `partial` holds complete frames collected so far by
    /// the failing call plus any incomplete trailing bytes.
    Timeout {
        /// Bytes received before the timeout.
        partial: Vec<u8>,
    },
    /// The server closed the connection (EOF or reset).
    Closed {
        /// Bytes received before the close.
        received: Vec<u8>,
        /// `"EOF"` or the socket error.
        reason: String,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Timeout { partial } => {
                write!(f, "timed out; received \"{}\"", show(partial))
            }
            ReadError::Closed { received, reason } => {
                write!(
                    f,
                    "connection closed ({reason}); received \"{}\"",
                    show(received)
                )
            }
        }
    }
}

enum Fill {
    Data,
    Timeout,
}

/// A raw NATS connection. Every read is bounded by a timeout; nothing here can hang.
///
/// By default a `PING` sent by the server (its keep-alive, first sent ~2 s after connect by
/// nats-server) is answered with `PONG` and hidden from the test, so byte-exact assertions
/// stay deterministic; [`RawClient::set_skip_server_pings`] turns that off.
pub struct RawClient {
    stream: TcpStream,
    /// Received, not yet consumed bytes are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    info_line: Vec<u8>,
    info: serde_json::Value,
    skip_pings: bool,
    closed: Option<String>,
    label: String,
    /// Set when the connection speaks WebSocket: the NATS bytes travel in frames.
    ws: Option<WsIo>,
}

/// The WebSocket side of a [`RawClient`].
#[derive(Debug, Default)]
struct WsIo {
    /// Socket bytes not yet decoded into frames.
    raw: Vec<u8>,
    /// Every frame the server sent, payloads left out for data frames.
    seen: Vec<ServerFrame>,
    /// Seed of the next client frame's mask.
    seed: u32,
}

impl RawClient {
    /// Connects to `server` over its transport (TCP, or an upgraded WebSocket whose NATS
    /// bytes travel in binary frames: every other method behaves the same) and reads its
    /// `INFO`. Panics on failure.
    #[track_caller]
    pub fn connect(server: &TestServer) -> RawClient {
        match Self::try_connect(server) {
            Ok(c) => c,
            Err(e) => panic!("[{}] {e}", server.kind()),
        }
    }

    /// Connects to `server` and reads its `INFO`, returning failures.
    pub fn try_connect(server: &TestServer) -> Result<RawClient, String> {
        let client = match server.kind().transport() {
            Transport::Tcp => Self::try_connect_port(server.port()),
            Transport::WebSocket => Self::try_connect_ws_port(server.ws_port(), &[]),
        };
        client.map(|c| c.with_label(server.kind().name()))
    }

    /// Connects to a loopback port and reads the `INFO` line. Panics on failure.
    #[track_caller]
    pub fn connect_port(port: u16) -> RawClient {
        match Self::try_connect_port(port) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    /// Connects to a loopback port and reads the `INFO` line.
    pub fn try_connect_port(port: u16) -> Result<RawClient, String> {
        let stream = Self::open(port)?;
        Self::start(stream, port, None)
    }

    /// Connects to `server`'s WebSocket port (see [`crate::ServerConfig::with_websocket`]),
    /// upgrades and reads the `INFO`. Panics on failure.
    #[track_caller]
    pub fn connect_ws(server: &TestServer) -> RawClient {
        match Self::try_connect_ws_port(server.ws_port(), &[]) {
            Ok(c) => c.with_label(&format!("{} ws", server.kind())),
            Err(e) => panic!("[{}] {e}", server.kind()),
        }
    }

    /// [`RawClient::connected`] over WebSocket.
    #[track_caller]
    pub fn connected_ws(server: &TestServer, connect_json: &str) -> RawClient {
        let mut c = Self::connect_ws(server);
        let out = c.roundtrip(format!("CONNECT {connect_json}\r\n").as_bytes());
        assert!(
            out.is_empty(),
            "[{}] CONNECT {connect_json} answered \"{}\" before PONG",
            c.label,
            show(&out)
        );
        c
    }

    /// Connects to a loopback WebSocket port, upgrades (with `extra_headers`, each
    /// `Name: value`) and reads the `INFO`, which must come in a binary frame.
    pub fn try_connect_ws_port(port: u16, extra_headers: &[&str]) -> Result<RawClient, String> {
        let mut stream = Self::open(port)?;
        let response = ws::upgrade(&mut stream, port, extra_headers, DEFAULT_TIMEOUT)
            .map_err(|e| format!("ws port {port}: {e}"))?;
        if response.status != 101 {
            return Err(format!(
                "ws port {port}: upgrade refused: {}",
                response.head.trim_end()
            ));
        }
        if let Some(ext) = response.header("Sec-WebSocket-Extensions") {
            return Err(format!(
                "ws port {port}: the server negotiated {ext:?}, which this client did not offer"
            ));
        }
        let accept = response.header("Sec-WebSocket-Accept");
        if accept.as_deref() != Some(ws::ACCEPT_FOR_CLIENT_KEY) {
            return Err(format!(
                "ws port {port}: bad Sec-WebSocket-Accept {accept:?}"
            ));
        }
        let io = WsIo {
            raw: response.rest,
            ..WsIo::default()
        };
        Self::start(stream, port, Some(io))
    }

    fn open(port: u16) -> Result<TcpStream, String> {
        let stream = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), DEFAULT_TIMEOUT)
            .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
        let _ = stream.set_nodelay(true);
        // A server that stops reading must not hang a test forever.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(15)));
        Ok(stream)
    }

    /// Reads the `INFO` of a fresh connection.
    fn start(stream: TcpStream, port: u16, ws: Option<WsIo>) -> Result<RawClient, String> {
        let mut c = RawClient {
            stream,
            buf: Vec::new(),
            pos: 0,
            info_line: Vec::new(),
            info: serde_json::Value::Null,
            skip_pings: true,
            closed: None,
            label: format!("127.0.0.1:{port}"),
            ws,
        };
        c.decode_ws();
        let f = c
            .next_frame(DEFAULT_TIMEOUT)
            .map_err(|e| format!("port {port}: no INFO line: {e}"))?;
        if f.op() != "INFO" {
            return Err(format!(
                "port {port}: first line is not INFO: \"{}\"",
                show(&f.raw)
            ));
        }
        let line = String::from_utf8_lossy(f.line()).into_owned();
        let json = line[4..].trim();
        c.info = serde_json::from_str(json)
            .map_err(|e| format!("port {port}: INFO JSON does not parse ({e}): {line}"))?;
        c.info_line = f.raw;
        Ok(c)
    }

    fn with_label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// Connects, sends `CONNECT <connect_json>` and checks with a PING that the server
    /// answered nothing but `PONG`.
    #[track_caller]
    pub fn connected(server: &TestServer, connect_json: &str) -> RawClient {
        let mut c = Self::connect(server);
        let out = c.roundtrip(format!("CONNECT {connect_json}\r\n").as_bytes());
        assert!(
            out.is_empty(),
            "[{}] CONNECT {connect_json} answered \"{}\" before PONG",
            c.label,
            show(&out)
        );
        c
    }

    /// The parsed `INFO` JSON.
    pub fn info(&self) -> &serde_json::Value {
        &self.info
    }

    /// The exact `INFO` line, with its line ending.
    pub fn info_line(&self) -> &[u8] {
        &self.info_line
    }

    /// `client_id` from `INFO`.
    pub fn client_id(&self) -> u64 {
        self.info["client_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("[{}] INFO has no numeric client_id", self.label))
    }

    /// Hide server `PING`s (answering them) — the default — or surface them as frames.
    pub fn set_skip_server_pings(&mut self, skip: bool) {
        self.skip_pings = skip;
    }

    /// The underlying socket.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Writes all of `bytes`. Panics if the socket refuses.
    #[track_caller]
    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.try_send(bytes) {
            panic!(
                "[{}] sending \"{}\": {e}",
                self.label,
                show(&bytes[..bytes.len().min(200)])
            );
        }
    }

    /// Writes all of `bytes`, returning socket errors (for sends the server may cut short).
    /// Over WebSocket, `bytes` go in one binary frame.
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.ws.as_mut() {
            Some(ws) => {
                ws.seed = ws.seed.wrapping_add(1);
                let frame = ws::client_frame(ws::op::BINARY, bytes, true, ws.seed);
                self.try_send_raw(&frame)
            }
            None => self.try_send_raw(bytes),
        }
    }

    /// Writes `bytes` to the socket as they are (over WebSocket: not framed).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Sends one WebSocket frame (masked, as clients must): `opcode` from [`ws::op`],
    /// `fin` clear for all but the last fragment of a message.
    #[track_caller]
    pub fn send_ws_frame(&mut self, opcode: u8, payload: &[u8], fin: bool) {
        let ws = self.ws.as_mut().expect("send_ws_frame on a TCP connection");
        ws.seed = ws.seed.wrapping_add(1);
        let frame = ws::client_frame(opcode, payload, fin, ws.seed);
        if let Err(e) = self.try_send_raw(&frame) {
            panic!("[{}] sending a websocket frame: {e}", self.label);
        }
    }

    /// The frames the server sent so far over WebSocket (data frame payloads left out),
    /// in order.
    pub fn ws_frames(&self) -> &[ServerFrame] {
        self.ws.as_ref().map_or(&[], |ws| &ws.seen)
    }

    /// The close frame the server sent, if it sent one.
    pub fn ws_close_frame(&self) -> Option<&ServerFrame> {
        self.ws_frames().iter().find(|f| f.opcode == ws::op::CLOSE)
    }

    /// Moves the data of complete WebSocket frames from `ws.raw` into `buf`; answers
    /// pings; a close frame ends the stream.
    fn decode_ws(&mut self) {
        let Some(ws) = self.ws.as_mut() else {
            return;
        };
        let mut pongs = Vec::new();
        while let Some(frame) = ws::take_server_frame(&mut ws.raw) {
            match frame.opcode {
                ws::op::BINARY | ws::op::TEXT | ws::op::CONTINUATION => {
                    self.buf.extend_from_slice(&frame.payload);
                    ws.seen.push(ServerFrame {
                        payload: Vec::new(),
                        ..frame
                    });
                }
                ws::op::PING => {
                    pongs.push(frame.payload.clone());
                    ws.seen.push(frame);
                }
                ws::op::CLOSE => {
                    let (status, reason) = frame.close_status();
                    ws.seen.push(frame);
                    if self.closed.is_none() {
                        self.closed = Some(format!("websocket close {status:?} {reason:?}"));
                    }
                    break;
                }
                _ => ws.seen.push(frame),
            }
        }
        for payload in pongs {
            let ws = self.ws.as_mut().expect("websocket");
            ws.seed = ws.seed.wrapping_add(1);
            let pong = ws::client_frame(ws::op::PONG, &payload, true, ws.seed);
            let _ = self.try_send_raw(&pong);
        }
    }

    /// Writes `bytes` one byte per write, sleeping `delay` after each (Nagle is off, so each
    /// byte is its own segment).
    #[track_caller]
    pub fn send_slowly(&mut self, bytes: &[u8], delay: Duration) {
        for b in bytes {
            self.send(std::slice::from_ref(b));
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
        }
    }

    /// Closes the socket with a TCP reset (SO_LINGER 0) instead of a FIN.
    pub fn reset(self) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: valid fd, correctly sized option value.
        unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &l as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
        drop(self);
    }

    fn fill(&mut self, deadline: Instant) -> Fill {
        if self.closed.is_some() {
            return Fill::Timeout;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Fill::Timeout;
        }
        let _ = self
            .stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))));
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut tmp = [0u8; 64 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => {
                self.closed = Some("EOF".to_string());
                Fill::Data
            }
            Ok(n) => {
                match self.ws.as_mut() {
                    Some(ws) => {
                        ws.raw.extend_from_slice(&tmp[..n]);
                        self.decode_ws();
                    }
                    None => self.buf.extend_from_slice(&tmp[..n]),
                }
                Fill::Data
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Fill::Timeout
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Fill::Data,
            Err(e) => {
                self.closed = Some(e.to_string());
                Fill::Data
            }
        }
    }

    fn next_frame_until(&mut self, deadline: Instant) -> Result<Frame, ReadError> {
        loop {
            if let Some(n) = frame_len(&self.buf[self.pos..]) {
                let raw = self.buf[self.pos..self.pos + n].to_vec();
                self.pos += n;
                let frame = Frame { raw };
                if self.skip_pings && frame.op() == "PING" && frame.line().len() == 4 {
                    let _ = self.try_send(b"PONG\r\n");
                    continue;
                }
                return Ok(frame);
            }
            if let Some(reason) = &self.closed {
                let received = self.buf.split_off(self.pos);
                self.buf.clear();
                self.pos = 0;
                return Err(ReadError::Closed {
                    received,
                    reason: reason.clone(),
                });
            }
            if let Fill::Timeout = self.fill(deadline) {
                return Err(ReadError::Timeout {
                    partial: self.buf[self.pos..].to_vec(),
                });
            }
        }
    }

    /// The next frame, waiting at most `timeout`.
    pub fn next_frame(&mut self, timeout: Duration) -> Result<Frame, ReadError> {
        self.next_frame_until(Instant::now() + timeout)
    }

    /// True once EOF or a socket error was seen.
    pub fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Reads the next frame and asserts it equals `expected` (CRLF appended when missing;
    /// for `MSG`/`HMSG` pass the whole frame including payload).
    #[track_caller]
    pub fn expect_line(&mut self, expected: &str) {
        let mut want = expected.as_bytes().to_vec();
        if !want.ends_with(b"\r\n") {
            want.extend_from_slice(b"\r\n");
        }
        match self.next_frame(DEFAULT_TIMEOUT) {
            Ok(f) if f.raw == want => {}
            Ok(f) => panic!(
                "[{}] expected \"{}\", got \"{}\"",
                self.label,
                show(&want),
                show(&f.raw)
            ),
            Err(e) => panic!("[{}] expected \"{}\", but {e}", self.label, show(&want)),
        }
    }

    /// Reads frames until at least `expected.len()` bytes arrived and asserts they equal
    /// `expected`.
    #[track_caller]
    pub fn expect_bytes(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        let mut got = Vec::new();
        while got.len() < expected.len() {
            match self.next_frame_until(deadline) {
                Ok(f) => got.extend_from_slice(&f.raw),
                Err(e) => panic!(
                    "[{}] expected \"{}\"; got \"{}\" then {e}",
                    self.label,
                    show(expected),
                    show(&got)
                ),
            }
        }
        crate::assert_bytes_eq(
            &got,
            expected,
            &format!("[{}] unexpected bytes", self.label),
        );
    }

    /// Sends `bytes` followed by `PING\r\n` and returns everything the server sent before
    /// the matching `PONG` (server PINGs excluded). Panics on timeout or close.
    ///
    /// Because the server handles a connection's ops in order, the result holds every reply
    /// to `bytes`; and every message routed to this connection before the PING was read
    /// (e.g. one whose publisher already got its own PONG) comes before the PONG.
    #[track_caller]
    pub fn roundtrip(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self.try_roundtrip(bytes, DEFAULT_TIMEOUT) {
            Ok(v) => v,
            Err(e) => panic!(
                "[{}] after sending \"{}\" + PING, no PONG: {e}",
                self.label,
                show(&bytes[..bytes.len().min(300)])
            ),
        }
    }

    /// [`RawClient::roundtrip`] returning failures.
    pub fn try_roundtrip(&mut self, bytes: &[u8], timeout: Duration) -> Result<Vec<u8>, ReadError> {
        let mut msg = bytes.to_vec();
        msg.extend_from_slice(b"PING\r\n");
        if let Err(e) = self.try_send(&msg) {
            let received = self.buf.split_off(self.pos);
            self.buf.clear();
            self.pos = 0;
            return Err(ReadError::Closed {
                received,
                reason: format!("send failed: {e}"),
            });
        }
        self.read_until_pong(timeout)
    }

    /// Collects frames until a `PONG` frame; returns the bytes before it.
    pub fn read_until_pong(&mut self, timeout: Duration) -> Result<Vec<u8>, ReadError> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            match self.next_frame_until(deadline) {
                Ok(f) if f.raw == b"PONG\r\n" => return Ok(got),
                Ok(f) => got.extend_from_slice(&f.raw),
                Err(ReadError::Timeout { partial }) => {
                    got.extend_from_slice(&partial);
                    return Err(ReadError::Timeout { partial: got });
                }
                Err(ReadError::Closed { received, reason }) => {
                    got.extend_from_slice(&received);
                    return Err(ReadError::Closed {
                        received: got,
                        reason,
                    });
                }
            }
        }
    }

    /// Everything that arrives until the connection has been silent for `quiet` (or closed,
    /// or 30 s passed).
    pub fn read_until_quiet(&mut self, quiet: Duration) -> Vec<u8> {
        let hard = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        loop {
            let deadline = (Instant::now() + quiet).min(hard);
            match self.next_frame_until(deadline) {
                Ok(f) => got.extend_from_slice(&f.raw),
                Err(ReadError::Timeout { partial }) => {
                    // Keep an incomplete frame buffered for later reads.
                    let _ = partial;
                    return got;
                }
                Err(ReadError::Closed { received, .. }) => {
                    got.extend_from_slice(&received);
                    return got;
                }
            }
        }
    }

    /// Waits up to `timeout` for the server to close the connection (EOF or reset) and
    /// returns everything received before that. Panics if it stays open.
    #[track_caller]
    pub fn expect_closed(&mut self, timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        loop {
            match self.next_frame_until(deadline) {
                Ok(f) => got.extend_from_slice(&f.raw),
                Err(ReadError::Closed { received, .. }) => {
                    got.extend_from_slice(&received);
                    return got;
                }
                Err(ReadError::Timeout { partial }) => {
                    got.extend_from_slice(&partial);
                    panic!(
                        "[{}] expected the server to close the connection within {timeout:?}; it stayed open after sending \"{}\"",
                        self.label,
                        show(&got)
                    );
                }
            }
        }
    }

    /// Asserts the server sends exactly `-ERR '<text>'\r\n` and then closes.
    #[track_caller]
    pub fn expect_err_and_close(&mut self, text: &str) {
        let got = self.expect_closed(DEFAULT_TIMEOUT);
        crate::assert_bytes_eq(
            &got,
            format!("-ERR '{text}'\r\n").as_bytes(),
            &format!("[{}] expected -ERR then close", self.label),
        );
    }

    /// Asserts the server closes without sending anything more.
    #[track_caller]
    pub fn expect_silent_close(&mut self) {
        let got = self.expect_closed(DEFAULT_TIMEOUT);
        crate::assert_bytes_eq(
            &got,
            b"",
            &format!("[{}] expected a close without any error line", self.label),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing() {
        let out = b"+OK\r\nMSG a 1 5\r\nPING\r\r\nHMSG b 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\nMSG x 1 3\r\nab";
        let f = split_frames(out);
        assert_eq!(f.len(), 5);
        assert_eq!(f[1], b"MSG a 1 5\r\nPING\r\r\n");
        assert_eq!(f[3], b"PONG\r\n");
        assert_eq!(f[4], b"MSG x 1 3\r\nab");
        let fr = Frame { raw: f[2].clone() };
        assert_eq!(fr.op(), "HMSG");
        assert_eq!(fr.payload().unwrap(), b"NATS/1.0\r\n\r\nhi");
    }
}
