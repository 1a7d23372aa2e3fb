//! WebSocket framing (RFC 6455) as a byte stream in each direction, so that the shared
//! client loops of `rnats_host::client` drive a WebSocket connection exactly like a TCP
//! one.
//!
//! * [`WsReader`] decodes the client's frames and yields the payloads of its binary and
//!   text frames as one continuous NATS byte stream (an op may span frames, a frame may hold
//!   many ops). Payloads are streamed, never gathered into messages, so a frame of any size
//!   costs no more memory than the same bytes over TCP, and the engine's limits
//!   (`max_payload`, `max_control_line`) apply as over TCP. Pings and closes are passed
//!   on to the writer.
//! * [`WsWriter`] sends whatever the engine writes as binary frames of at most
//!   [`MAX_FRAME`] bytes: a frame header in front of the engine's own chunks in one
//!   vectored write, so payloads are not copied. It also sends the pongs and the close
//!   frame.
//!
//! The two halves share a [`Link`]: the reader queues pongs and the close reply there and
//! wakes the writer through the engine ([`ConnShared::wake_writer`]).
//!
//! The client's frames are decoded, and what a server must refuse in them decided, by the
//! engine's [`ServerFrameDecoder`]; frame headers are written by its codec
//! ([`rnats_engine::websocket::frame`]). This file only reads and writes the socket.

use futures_io::{AsyncRead, AsyncWrite};
use rnats_engine::server::{CloseReason, ConnShared};
use rnats_engine::websocket::close_status;
use rnats_engine::websocket::decoder::{
    ControlEvent, ProtocolError, ServerFrameDecoder, STATUS_PROTOCOL_ERROR,
};
use rnats_engine::websocket::frame::{
    self, MAX_CONTROL_PAYLOAD, MAX_HEADER, OP_BINARY, OP_CLOSE, OP_PONG,
};
use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

/// Largest data frame sent: bigger writes are split. (nats-server sends everything
/// pending in one frame, or 4 KiB frames to browsers.)
pub const MAX_FRAME: usize = 64 * 1024;
/// Most slices (besides the frame header) handed to one vectored write.
const MAX_IOVECS: usize = 64;
/// Socket bytes read at once while looking for a frame header.
const RAW_READ: usize = 8 * 1024;

/// What the reader hands to the writer.
#[derive(Debug, Default)]
struct Control {
    /// Payloads of pings still to be answered.
    pongs: VecDeque<Vec<u8>>,
    /// The close frame to send instead of the one the engine's close reason gives: the
    /// echo of the client's close, or a protocol error.
    close: Option<(u16, String)>,
}

/// The state the two halves of one WebSocket connection share.
#[derive(Debug)]
pub struct Link {
    control: Mutex<Control>,
    conn: Arc<ConnShared>,
}

impl Link {
    /// A link for the engine connection `conn`.
    pub fn new(conn: Arc<ConnShared>) -> Arc<Link> {
        Arc::new(Link {
            control: Mutex::new(Control::default()),
            conn,
        })
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.control.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The ping payloads still to be answered and the close frame recorded so far, as
    /// the writer will send them. Not part of the API: the `websocket` fuzz target checks
    /// the reader's control output with it.
    #[doc(hidden)]
    pub fn queued_control(&self) -> (Vec<Vec<u8>>, Option<(u16, String)>) {
        let control = self.control();
        (
            control.pongs.iter().cloned().collect(),
            control.close.clone(),
        )
    }

    fn queue_pong(&self, payload: Vec<u8>) {
        self.control().pongs.push_back(payload);
        self.conn.wake_writer();
    }

    /// Record the close frame to send (the first one recorded wins).
    fn set_close(&self, status: u16, reason: String) {
        let mut control = self.control();
        if control.close.is_none() {
            control.close = Some((status, reason));
        }
    }
}

/// Encode a server frame header (final, never masked) into `out`; returns its length.
fn encode_header(out: &mut [u8; MAX_HEADER], opcode: u8, len: usize) -> usize {
    frame::encode_header(out, true, opcode, len as u64, None)
}

/// A whole control frame.
fn control_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = [0u8; MAX_HEADER];
    let n = encode_header(&mut header, opcode, payload.len());
    let mut frame = Vec::with_capacity(n + payload.len());
    frame.extend_from_slice(&header[..n]);
    frame.extend_from_slice(payload);
    frame
}

/// The payload of a close frame: status, then the reason cut to fit 125 bytes (with
/// "..." as nats-server does).
fn close_payload(status: u16, reason: &str) -> Vec<u8> {
    let mut reason = reason;
    let mut ellipsis = "";
    if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
        let mut cut = MAX_CONTROL_PAYLOAD - 5;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason = &reason[..cut];
        ellipsis = "...";
    }
    let mut payload = Vec::with_capacity(2 + reason.len() + ellipsis.len());
    payload.extend_from_slice(&status.to_be_bytes());
    payload.extend_from_slice(reason.as_bytes());
    payload.extend_from_slice(ellipsis.as_bytes());
    payload
}

/// Socket bytes read but not yet decoded: `buf[start..end]`. The buffer keeps its length
/// between reads, so a read does not zero it again (a fresh `resize` per read cost a
/// `memset` of [`RAW_READ`] bytes for every frame header).
#[derive(Debug, Default)]
struct RawBytes {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl RawBytes {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn advance(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room for the next read, after moving what is left to the front. A frame header
    /// (at most 14 bytes) or a whole control frame (at most 139) always fits, so the
    /// buffer only grows past [`RAW_READ`] if a read left less than half of it free.
    fn spare(&mut self) -> &mut [u8] {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < RAW_READ / 2 {
            self.buf.resize(self.end + RAW_READ, 0);
        }
        &mut self.buf[self.end..]
    }

    /// `n` bytes were read into [`RawBytes::spare`].
    fn filled(&mut self, n: usize) {
        self.end += n;
    }
}

/// The client's frames as a NATS byte stream (`futures_io::AsyncRead`). Ends (reads 0)
/// when the client sends a close frame or closes the socket; fails with `InvalidData`
/// when it breaks the protocol (the writer then sends close status 1002).
#[derive(Debug)]
pub struct WsReader<Rd> {
    inner: Rd,
    link: Arc<Link>,
    /// Socket bytes read but not yet decoded.
    raw: RawBytes,
    /// Where the client's frame stream is: the protocol logic, all in the engine.
    decoder: ServerFrameDecoder,
}

impl<Rd: AsyncRead + Unpin> WsReader<Rd> {
    /// Decode the frames `inner` receives.
    pub fn new(inner: Rd, link: Arc<Link>) -> Self {
        WsReader {
            inner,
            link,
            raw: RawBytes::default(),
            decoder: ServerFrameDecoder::new(),
        }
    }

    /// Decode what `raw` holds into `out`, acting on control frames; returns the bytes
    /// written to `out` (0 when `raw` holds no whole payload byte or control frame, or the
    /// stream has ended).
    fn decode(&mut self, out: &mut [u8]) -> Result<usize, ProtocolError> {
        loop {
            let decoded = self.decoder.decode(self.raw.bytes(), out)?;
            self.raw.advance(decoded.consumed);
            match decoded.event {
                Some(ControlEvent::SendPong(payload)) => self.link.queue_pong(payload),
                Some(ControlEvent::Close { status, reason }) => self.link.set_close(status, reason),
                None => return Ok(decoded.written),
            }
            if decoded.written > 0 {
                return Ok(decoded.written);
            }
        }
    }

    /// Read more socket bytes into `raw`.
    fn fill_raw(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let read = Pin::new(&mut self.inner).poll_read(cx, self.raw.spare());
        if let Poll::Ready(Ok(n)) = read {
            self.raw.filled(n);
        }
        read
    }

    fn protocol_error(&mut self, e: ProtocolError) -> io::Error {
        let message = e.to_string();
        self.link.set_close(STATUS_PROTOCOL_ERROR, message.clone());
        io::Error::new(io::ErrorKind::InvalidData, message)
    }
}

impl<Rd: AsyncRead + Unpin> AsyncRead for WsReader<Rd> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            let filled = match this.decode(out) {
                Ok(n) => n,
                Err(e) => return Poll::Ready(Err(this.protocol_error(e))),
            };
            if filled > 0 {
                return Poll::Ready(Ok(filled));
            }
            if this.decoder.is_done() {
                return Poll::Ready(Ok(0));
            }
            let left = this.decoder.payload_left();
            if left > 0 && this.raw.is_empty() {
                // Inside a payload with nothing buffered: read straight into the engine's
                // buffer and unmask in place.
                let want = (left.min(out.len() as u64)) as usize;
                let n = ready!(Pin::new(&mut this.inner).poll_read(cx, &mut out[..want]))?;
                if n == 0 {
                    return Poll::Ready(Ok(0));
                }
                this.decoder.unmask_in_place(&mut out[..n]);
                return Poll::Ready(Ok(n));
            }
            if ready!(this.fill_raw(cx))? == 0 {
                // The socket ended (in the middle of a frame or not): the client is gone,
                // as a TCP client whose socket ends.
                return Poll::Ready(Ok(0));
            }
        }
    }
}

/// The engine's output as binary frames (`futures_io::AsyncWrite`), plus the pongs and the
/// close frame.
#[derive(Debug)]
pub struct WsWriter<Wr> {
    inner: Wr,
    link: Arc<Link>,
    /// Header of the data frame being written.
    header: [u8; MAX_HEADER],
    header_len: usize,
    header_sent: usize,
    /// Payload bytes of that frame not yet written.
    frame_left: usize,
    /// Control frames being written, and how much of them is out.
    control: Vec<u8>,
    control_sent: usize,
    close_queued: bool,
}

impl<Wr: AsyncWrite + Unpin> WsWriter<Wr> {
    /// Frame what is written into `inner`.
    pub fn new(inner: Wr, link: Arc<Link>) -> Self {
        WsWriter {
            inner,
            link,
            header: [0; MAX_HEADER],
            header_len: 0,
            header_sent: 0,
            frame_left: 0,
            control: Vec::new(),
            control_sent: 0,
            close_queued: false,
        }
    }

    /// Write out the queued pongs (never inside a data frame).
    fn poll_control(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if self.control_sent == self.control.len() {
                self.control.clear();
                self.control_sent = 0;
                let pongs: Vec<Vec<u8>> = self.link.control().pongs.drain(..).collect();
                if pongs.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                for payload in pongs {
                    self.control
                        .extend_from_slice(&control_frame(OP_PONG, &payload));
                }
            }
            let n = ready!(
                Pin::new(&mut self.inner).poll_write(cx, &self.control[self.control_sent..])
            )?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.control_sent += n;
        }
    }

    /// Queue the close frame: the one the reader recorded (echo, protocol error), else
    /// the status of the engine's close reason.
    fn queue_close(&mut self) {
        self.close_queued = true;
        let recorded = self.link.control().close.clone();
        let (status, reason) = recorded.unwrap_or_else(|| {
            let reason = self
                .link
                .conn
                .close_reason()
                .unwrap_or(CloseReason::ServerShutdown);
            let (status, text) = close_status(reason);
            (status, text.to_string())
        });
        self.control
            .extend_from_slice(&control_frame(OP_CLOSE, &close_payload(status, &reason)));
    }
}

impl<Wr: AsyncWrite + Unpin> AsyncWrite for WsWriter<Wr> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.frame_left == 0 {
            ready!(this.poll_control(cx))?;
            let total = bufs.iter().map(|b| b.len()).sum::<usize>().min(MAX_FRAME);
            if total == 0 {
                return Poll::Ready(Ok(0));
            }
            this.header_len = encode_header(&mut this.header, OP_BINARY, total);
            this.header_sent = 0;
            this.frame_left = total;
        }
        loop {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS + 1];
            let mut used = 0;
            if this.header_sent < this.header_len {
                slices[0] = IoSlice::new(&this.header[this.header_sent..this.header_len]);
                used = 1;
            }
            let mut budget = this.frame_left;
            for buf in bufs {
                if budget == 0 || used == slices.len() {
                    break;
                }
                let n = buf.len().min(budget);
                if n == 0 {
                    continue;
                }
                slices[used] = IoSlice::new(&buf[..n]);
                used += 1;
                budget -= n;
            }
            let written =
                ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &slices[..used]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let header_part = written.min(this.header_len - this.header_sent);
            this.header_sent += header_part;
            let payload = written - header_part;
            this.frame_left -= payload;
            if payload > 0 {
                return Poll::Ready(Ok(payload));
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.frame_left == 0 {
            ready!(this.poll_control(cx))?;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A frame cut short cannot be followed by a close frame; just end the socket.
        if this.frame_left == 0 {
            ready!(this.poll_control(cx))?;
            if !this.close_queued {
                this.queue_close();
                ready!(this.poll_control(cx))?;
            }
        }
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnats_engine::options::Options;
    use rnats_engine::server::{PeerAddr, Server};
    use std::future::Future;
    use std::task::Waker;

    /// A client frame: masked with a fixed key.
    fn client_frame(b0: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x11, 0x22, 0x33, 0x44];
        let mut f = vec![b0];
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

    fn link() -> Arc<Link> {
        let server = Server::new(Options::default(), 1, rnats_engine::time::Instant::ZERO);
        let conn = server.accept(PeerAddr::default(), rnats_engine::time::Instant::ZERO);
        Link::new(conn.shared().clone())
    }

    /// Reads from a byte slice, `step` bytes at a time.
    struct Chunked<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl AsyncRead for Chunked<'_> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.data.len().min(buf.len()).min(self.step);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Poll::Ready(Ok(n))
        }
    }

    /// Everything a reader yields until it ends, read `window` bytes at a time.
    fn read_all(input: &[u8], step: usize, window: usize) -> (io::Result<Vec<u8>>, Arc<Link>) {
        let link = link();
        let mut reader = WsReader::new(Chunked { data: input, step }, link.clone());
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = Vec::new();
        let mut buf = vec![0u8; window];
        loop {
            match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(0)) => return (Ok(out), link),
                Poll::Ready(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Poll::Ready(Err(e)) => return (Err(e), link),
                Poll::Pending => unreachable!("the test reader never waits"),
            }
        }
    }

    #[test]
    fn frames_are_one_byte_stream_whatever_the_cuts() {
        let mut input = client_frame(0x82, b"PUB a 5\r\nhel");
        input.extend(client_frame(0x01, b"lo\r\nPI")); // text, not final
        input.extend(client_frame(0x89, b"ping!")); // a ping between fragments
        input.extend(client_frame(0x80, b"NG\r\n")); // continuation, final
        input.extend(client_frame(0x82, &[b'x'; 70_000]));
        input.extend(client_frame(0x82, b""));
        input.extend(client_frame(0x88, &[0x03, 0xE8, b'b', b'y', b'e']));
        input.extend(client_frame(0x82, b"after close"));
        let mut want = b"PUB a 5\r\nhello\r\nPING\r\n".to_vec();
        want.extend_from_slice(&[b'x'; 70_000]);
        for step in [1, 3, 7, 100, 8192, usize::MAX] {
            for window in [1, 5, 512, 65536] {
                let (got, link) = read_all(&input, step, window);
                assert_eq!(got.unwrap(), want, "step {step}, window {window}");
                let control = link.control();
                assert_eq!(control.pongs, [b"ping!".to_vec()]);
                assert_eq!(control.close, Some((1000, "bye".to_string())));
            }
        }
    }

    #[test]
    fn many_small_frames_and_full_size_pings_across_buffer_refills() {
        // Thousands of headers in a row make the raw buffer compact and refill many
        // times, with headers and whole control frames cut at its end.
        let mut input = Vec::new();
        let mut want = Vec::new();
        for i in 0..3000usize {
            let payload: Vec<u8> = (0..i % 41).map(|j| (i + j) as u8).collect();
            input.extend(client_frame(0x82, &payload));
            want.extend_from_slice(&payload);
            if i % 97 == 0 {
                input.extend(client_frame(0x89, &[i as u8; 125]));
            }
        }
        for step in [1, 13, RAW_READ - 1, RAW_READ, RAW_READ + 7, usize::MAX] {
            for window in [7, 4096, 65536] {
                let (got, link) = read_all(&input, step, window);
                assert_eq!(got.unwrap(), want, "step {step}, window {window}");
                assert_eq!(link.control().pongs.len(), 3000 / 97 + 1);
            }
        }
    }

    #[test]
    fn a_close_without_status_is_answered_with_1000() {
        let (got, link) = read_all(&client_frame(0x88, b""), 100, 100);
        assert_eq!(got.unwrap(), b"");
        assert_eq!(link.control().close, Some((1000, String::new())));
        let (_, link) = read_all(&client_frame(0x88, &[0x03, 0xE8, 0xFF]), 100, 100);
        assert_eq!(
            link.control().close,
            Some((1007, "invalid utf8 body in close frame".to_string()))
        );
    }

    #[test]
    fn protocol_errors_close_with_1002() {
        let unmasked = [0x82, 0x02, b'h', b'i'];
        let mut long_ping = client_frame(0x89, &[0; 126]);
        long_ping[0] = 0x89;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (unmasked.to_vec(), "mask bit missing"),
            (client_frame(0x83, b"x"), "unknown opcode 3"),
            (client_frame(0xC2, b"x"), "reserved bits set"),
            (client_frame(0x80, b"x"), "invalid continuation frame"),
            (
                [client_frame(0x02, b"a"), client_frame(0x82, b"b")].concat(),
                "new message started before final frame for previous message was received",
            ),
            (
                client_frame(0x09, b"x"),
                "control frame does not have final bit set",
            ),
            (
                long_ping,
                "control frame length bigger than maximum allowed of 125 bytes",
            ),
            (
                vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0],
                "invalid frame length",
            ),
            // Judged from the first two bytes, before the length and the key.
            (vec![0xC2, 0x80], "reserved bits set"),
            (
                vec![0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
                "mask bit missing",
            ),
        ];
        for (input, message) in cases {
            let (got, link) = read_all(&input, 1000, 1000);
            let err = got.expect_err(message);
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(err.to_string(), message);
            assert_eq!(link.control().close, Some((1002, message.to_string())));
        }
    }

    #[test]
    fn payload_decoded_before_a_protocol_error_is_delivered_whatever_the_window() {
        // Found by the `websocket` fuzz target: with a window big enough for "a" and the
        // next header, the error was returned and the "a" already decoded was dropped.
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                [client_frame(0x02, b"a"), client_frame(0x82, b"b")].concat(),
                "new message started before final frame for previous message was received",
            ),
            (
                [client_frame(0x82, b"ab"), client_frame(0x80, b"c")].concat(),
                "invalid continuation frame",
            ),
            (
                [client_frame(0x82, b"ab"), vec![0xC2, 0x80]].concat(),
                "reserved bits set",
            ),
            (
                [client_frame(0x82, b"ab"), client_frame(0x83, b"")].concat(),
                "unknown opcode 3",
            ),
        ];
        for (input, message) in cases {
            // The first frame's payload (a 7-bit length, after a 6-byte header), unmasked.
            let len = usize::from(input[1] & 0x7F);
            let want: Vec<u8> = input[6..6 + len]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ [0x11, 0x22, 0x33, 0x44][i & 3])
                .collect();
            for step in [1, 3, usize::MAX] {
                for window in [1, 2, 100] {
                    let link = link();
                    let mut reader = WsReader::new(Chunked { data: &input, step }, link.clone());
                    let mut cx = Context::from_waker(Waker::noop());
                    let mut got = Vec::new();
                    let mut buf = vec![0u8; window];
                    let err = loop {
                        match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
                            Poll::Ready(Ok(n)) => {
                                assert!(n > 0, "{message}: ended without the error");
                                got.extend_from_slice(&buf[..n]);
                            }
                            Poll::Ready(Err(e)) => break e,
                            Poll::Pending => unreachable!("the test reader never waits"),
                        }
                    };
                    assert_eq!(got, want, "{message}: step {step}, window {window}");
                    assert_eq!(err.to_string(), message);
                    assert_eq!(link.control().close, Some((1002, message.to_string())));
                }
            }
        }
    }

    /// A writer that accepts at most `step` bytes per call.
    struct Sink {
        out: Vec<u8>,
        step: usize,
    }

    impl AsyncWrite for Sink {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.step;
            let mut n = 0;
            for b in bufs {
                let take = b.len().min(left);
                self.out.extend_from_slice(&b[..take]);
                left -= take;
                n += take;
            }
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Decode server frames: (first byte, payload).
    fn server_frames(mut b: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !b.is_empty() {
            assert_eq!(b[1] & 0x80, 0, "server frames are not masked");
            let (len, at) = match b[1] {
                126 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 => {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(a) as usize, 10)
                }
                n => (usize::from(n), 2),
            };
            out.push((b[0], b[at..at + len].to_vec()));
            b = &b[at + len..];
        }
        out
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn writes_become_binary_frames_of_at_most_max_frame() {
        let big = vec![b'y'; MAX_FRAME + 10];
        for step in [1, 9, 1000, usize::MAX] {
            let link = link();
            let mut w = WsWriter::new(
                Sink {
                    out: Vec::new(),
                    step,
                },
                link.clone(),
            );
            let chunks: Vec<&[u8]> = vec![b"MSG a 1 3\r\n", b"abc", b"\r\n", &big];
            let mut queue: VecDeque<bytes::Bytes> = chunks
                .iter()
                .map(|c| bytes::Bytes::copy_from_slice(c))
                .collect();
            link.queue_pong(b"p".to_vec());
            block_on(async {
                while !queue.is_empty() {
                    let n = std::future::poll_fn(|cx| {
                        let slices: Vec<IoSlice<'_>> =
                            queue.iter().map(|c| IoSlice::new(c)).collect();
                        Pin::new(&mut w).poll_write_vectored(cx, &slices)
                    })
                    .await
                    .unwrap();
                    rnats_host::client::advance(&mut queue, n);
                }
                std::future::poll_fn(|cx| Pin::new(&mut w).poll_close(cx))
                    .await
                    .unwrap();
            });
            let frames = server_frames(&w.inner.out);
            let mut data = Vec::new();
            for (b0, payload) in &frames[1..frames.len() - 1] {
                assert_eq!(*b0, 0x82);
                assert!(payload.len() <= MAX_FRAME);
                data.extend_from_slice(payload);
            }
            assert_eq!(frames[0], (0x8A, b"p".to_vec()), "the pong goes first");
            let mut want = b"MSG a 1 3\r\nabc\r\n".to_vec();
            want.extend_from_slice(&big);
            assert_eq!(data, want, "step {step}");
            let (b0, close) = frames.last().unwrap();
            assert_eq!(*b0, 0x88);
            // The test's engine connection was dropped, i.e. closed as "Client Closed".
            assert_eq!(close, &close_payload(1000, "Client Closed"));
        }
    }

    #[test]
    fn close_payload_is_cut_like_nats_server() {
        let long = "x".repeat(200);
        let p = close_payload(1008, &long);
        assert_eq!(p.len(), MAX_CONTROL_PAYLOAD);
        assert!(p.ends_with(b"..."));
        assert_eq!(close_payload(1000, ""), vec![0x03, 0xE8]);
    }
}
