//! A blocking NATS client connection for the load generator: the handshake, pre-encoded
//! writes, and a read side that feeds the engine's [`ClientParser`] straight from a
//! reusable buffer (no allocation per message). Over TCP, over WebSocket ([`crate::ws`]:
//! then the server's frames are unwrapped in place in the same buffer), or over TLS
//! ([`crate::tls`]: the INFO in plain text, then the protocol inside TLS).

use crate::tls::{TlsClient, TlsStream};
use crate::ws::{self, FrameDecoder};
use rnats_engine::proto::{encode, ClientParser, ParserLimits, ServerOp};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// Largest `read(2)`: large enough that a busy subscriber drains many messages per
/// syscall, small enough to stay in L2.
const MAX_READ: usize = 256 * 1024;
/// First `read(2)` size; it doubles while reads fill it, so thousands of idle connections
/// (the connections scenario) cost the generator little memory.
const MIN_READ: usize = 4 * 1024;

/// Longest a blocking read waits before the caller's deadline is checked again.
const DEADLINE_CHECK: Duration = Duration::from_millis(50);

/// What the bench sends as CONNECT: no `+OK` acknowledgements, no pedantic checks.
const CONNECT_JSON: &[u8] = br#"{"verbose":false,"pedantic":false,"tls_required":false,"name":"rnats-bench","lang":"rust","version":"0.1.0","protocol":1,"headers":false,"no_responders":false}"#;
/// The same over TLS.
const CONNECT_JSON_TLS: &[u8] = br#"{"verbose":false,"pedantic":false,"tls_required":true,"name":"rnats-bench","lang":"rust","version":"0.1.0","protocol":1,"headers":false,"no_responders":false}"#;

/// An error with the context a failing benchmark must print.
pub type BenchResult<T> = Result<T, String>;

/// `host:port` of a URL: without an optional `nats://`, `tls://` or `ws://` prefix and a
/// trailing `/`.
pub fn host_port(url: &str) -> &str {
    ["nats://", "tls://", "ws://"]
        .iter()
        .find_map(|p| url.strip_prefix(p))
        .unwrap_or(url)
        .trim_end_matches('/')
}

/// Resolves `host:port` (see [`host_port`] for what else is accepted).
pub fn resolve(url: &str) -> BenchResult<SocketAddr> {
    let hostport = host_port(url);
    hostport
        .to_socket_addrs()
        .map_err(|e| format!("resolving {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("{hostport} resolves to no address"))
}

/// How a connection carries the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP.
    Tcp,
    /// WebSocket (binary frames, masked by the client as RFC 6455 requires).
    WebSocket,
    /// TLS on the client port (the INFO in plain text, then TLS, as nats-server does it).
    Tls,
}

/// The byte stream under a connection.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Stream {
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.socket(),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes),
            Stream::Tls(t) => t.write_all(bytes),
        }
    }

    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(out),
            Stream::Tls(t) => t.read(out),
        }
    }
}

/// One connection to the server under test.
pub struct Conn {
    stream: Stream,
    reader: Reader,
    /// Frames what [`Conn::write_all`] sends, when over WebSocket.
    ws: Option<ws::FrameEncoder>,
}

/// The read side: `buf[start..end]` is protocol bytes received and not yet parsed;
/// `buf[end..raw_end]` is bytes received and not yet unwrapped (over WebSocket: the start
/// of a frame header; over TCP always empty).
struct Reader {
    buf: Vec<u8>,
    read_size: usize,
    start: usize,
    end: usize,
    raw_end: usize,
    parser: ClientParser,
    ws: Option<FrameDecoder>,
}

/// What a read-side callback tells the loop in [`Conn::read_until`].
#[derive(PartialEq, Eq)]
pub enum Flow {
    /// Keep reading.
    Continue,
    /// Stop: the caller has what it waited for.
    Stop,
}

impl Conn {
    /// Connects, reads INFO, sends CONNECT + PING and waits for the PONG.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> BenchResult<Conn> {
        Self::connect_with(addr, timeout, &[])
    }

    /// Like [`Conn::connect`], sending `extra` (e.g. a SUB) between CONNECT and the PING,
    /// so the PONG also confirms it.
    pub fn connect_with(addr: SocketAddr, timeout: Duration, extra: &[u8]) -> BenchResult<Conn> {
        Self::open(addr, Transport::Tcp, None, timeout, extra)
    }

    /// Connects over `transport` (for WebSocket, `addr` is the server's WebSocket
    /// listener: the HTTP upgrade comes first; for TLS, `tls` says how, and the handshake
    /// follows the INFO), then as [`Conn::connect_with`].
    pub fn open(
        addr: SocketAddr,
        transport: Transport,
        tls: Option<&TlsClient>,
        timeout: Duration,
        extra: &[u8],
    ) -> BenchResult<Conn> {
        let tls = match (transport, tls) {
            (Transport::Tls, None) => return Err("TLS without a TLS client configuration".into()),
            (Transport::Tls, tls) => tls,
            _ => None,
        };
        let deadline = Instant::now() + timeout;
        let mut stream = TcpStream::connect_timeout(&addr, timeout)
            .map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let mut buf = Vec::new();
        if transport == Transport::WebSocket {
            // What follows the response head is already frames.
            buf = ws::upgrade(&mut stream, addr, deadline)
                .map_err(|e| format!("WebSocket upgrade at {addr}: {e}"))?;
        }
        // Reads wake up now and then, so every wait honours its deadline.
        stream
            .set_read_timeout(Some(DEADLINE_CHECK))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
        let websocket = transport == Transport::WebSocket;
        let mut conn = Conn {
            stream: Stream::Plain(stream),
            reader: Reader {
                raw_end: buf.len(),
                buf,
                read_size: MIN_READ,
                start: 0,
                end: 0,
                parser: ClientParser::new(ParserLimits {
                    max_control_line: 64 * 1024,
                    max_payload: 64 * 1024 * 1024,
                }),
                ws: websocket.then(FrameDecoder::default),
            },
            ws: websocket.then(ws::FrameEncoder::default),
        };
        conn.unwrap_frames()?;
        let mut got_info = false;
        conn.read_until(deadline, |op| match op {
            ServerOp::Info { .. } => {
                got_info = true;
                Ok(Flow::Stop)
            }
            other => Err(format!("expected INFO, got {other:?}")),
        })?;
        debug_assert!(got_info);
        if let Some(tls) = tls {
            conn = conn.start_tls(tls, deadline)?;
        }
        let connect = if tls.is_some() {
            CONNECT_JSON_TLS
        } else {
            CONNECT_JSON
        };
        let mut hello = Vec::with_capacity(connect.len() + 16);
        encode::connect(&mut hello, connect);
        hello.extend_from_slice(extra);
        hello.extend_from_slice(b"PING\r\n");
        conn.write_all(&hello)?;
        conn.wait_pong(deadline)?;
        Ok(conn)
    }

    /// Continues a connection whose plain-text INFO has been read inside TLS.
    fn start_tls(self, tls: &TlsClient, deadline: Instant) -> BenchResult<Conn> {
        let Conn { stream, reader, ws } = self;
        let Stream::Plain(sock) = stream else {
            return Err("TLS over TLS".into());
        };
        if reader.start != reader.raw_end {
            return Err("the server sent more than its INFO before TLS started".into());
        }
        let stream = tls.handshake(sock, deadline)?;
        Ok(Conn {
            stream: Stream::Tls(Box::new(stream)),
            reader,
            ws,
        })
    }

    /// The negotiated TLS version and cipher suite, over TLS.
    pub fn tls_session(&self) -> Option<String> {
        match &self.stream {
            Stream::Plain(_) => None,
            Stream::Tls(t) => Some(t.session()),
        }
    }

    /// Writes all of `bytes` (protocol bytes: over WebSocket, in one masked binary frame).
    pub fn write_all(&mut self, bytes: &[u8]) -> BenchResult<()> {
        match &mut self.ws {
            Some(encoder) => {
                let frame = encoder.frame(bytes);
                self.stream.write_all(&frame)
            }
            None => self.stream.write_all(bytes),
        }
        .map_err(|e| format!("write to server: {e}"))
    }

    /// Writes `bytes` as they are: pre-encoded for this connection's transport (over
    /// WebSocket, whole masked frames).
    pub fn write_encoded(&mut self, bytes: &[u8]) -> BenchResult<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write to server: {e}"))
    }

    /// `SUB subject [queue] sid` (not flushed through a PING: see [`Conn::ping_pong`]).
    pub fn sub(&mut self, subject: &str, queue: Option<&str>, sid: u64) -> BenchResult<()> {
        let mut line = Vec::with_capacity(subject.len() + 32);
        encode::sub(
            &mut line,
            subject.as_bytes(),
            queue.map(str::as_bytes),
            sid.to_string().as_bytes(),
        );
        self.write_all(&line)
    }

    /// Sends PING and waits for its PONG: once it arrives the server has processed
    /// everything this connection sent before it, and everything it queued for this
    /// connection before it has been received.
    pub fn ping_pong(&mut self, timeout: Duration) -> BenchResult<()> {
        self.write_all(b"PING\r\n")?;
        self.wait_pong(Instant::now() + timeout)
    }

    fn wait_pong(&mut self, deadline: Instant) -> BenchResult<()> {
        self.read_until(deadline, |op| match op {
            ServerOp::Pong => Ok(Flow::Stop),
            ServerOp::Info { .. } | ServerOp::Ok | ServerOp::Ping => Ok(Flow::Continue),
            other => Err(format!("waiting for PONG, got {other:?}")),
        })
    }

    /// Bounds every write, so a server that stops reading fails the run instead of
    /// hanging it.
    pub fn set_write_timeout(&self, t: Duration) -> BenchResult<()> {
        self.stream
            .socket()
            .set_write_timeout(Some(t))
            .map_err(|e| format!("SO_SNDTIMEO: {e}"))
    }

    /// Sets the read timeout used by [`Conn::read_until`] between deadline checks.
    pub fn set_read_timeout(&self, t: Duration) -> BenchResult<()> {
        self.stream
            .socket()
            .set_read_timeout(Some(t))
            .map_err(|e| format!("SO_RCVTIMEO: {e}"))
    }

    /// Hands every op the server sends to `on_op` until it returns [`Flow::Stop`] (the op
    /// that stopped it is consumed, later bytes stay buffered), an error, or `deadline`.
    /// A server `PING` is answered by the caller only if it wants; `-ERR` is an error.
    pub fn read_until(
        &mut self,
        deadline: Instant,
        mut on_op: impl FnMut(ServerOp<'_>) -> BenchResult<Flow>,
    ) -> BenchResult<()> {
        loop {
            if self.reader.drain(&mut on_op)? == Flow::Stop {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err("timed out waiting for the server".into());
            }
            self.fill()?;
        }
    }

    /// Parses what is buffered, then reads once (blocking up to the read timeout).
    /// Returns whether `on_op` asked to stop. Used by loops that check other conditions
    /// between reads.
    pub fn poll(
        &mut self,
        mut on_op: impl FnMut(ServerOp<'_>) -> BenchResult<Flow>,
    ) -> BenchResult<Flow> {
        if self.reader.drain(&mut on_op)? == Flow::Stop {
            return Ok(Flow::Stop);
        }
        self.fill()?;
        self.reader.drain(&mut on_op)
    }

    /// One `read(2)` into the free end of the buffer. A read timeout is not an error.
    fn fill(&mut self) -> BenchResult<()> {
        let r = &mut self.reader;
        if r.start == r.end {
            // Nothing unparsed; keep only a partial frame header, if any.
            r.buf.copy_within(r.end..r.raw_end, 0);
            r.raw_end -= r.end;
            r.start = 0;
            r.end = 0;
        } else if r.buf.len() - r.raw_end < r.read_size {
            // Keep the unparsed tail; the parser's state is relative to its first byte.
            r.buf.copy_within(r.start..r.raw_end, 0);
            r.end -= r.start;
            r.raw_end -= r.start;
            r.start = 0;
        }
        let framing = r.raw_end - r.end;
        let want =
            (r.start + r.parser.needed().unwrap_or(0) + framing).max(r.raw_end + r.read_size);
        if r.buf.len() < want {
            r.buf.resize(want, 0);
        }
        match self.stream.read(&mut r.buf[r.raw_end..]) {
            Ok(0) => Err("server closed the connection".into()),
            Ok(n) => {
                r.raw_end += n;
                if n >= r.read_size && r.read_size < MAX_READ {
                    r.read_size *= 2;
                }
                self.unwrap_frames()
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(format!("read from server: {e}")),
        }
    }

    /// Makes the bytes received so far parseable: over TCP they are; over WebSocket the
    /// frame headers are cut out (payloads moved down in place) and pings answered.
    fn unwrap_frames(&mut self) -> BenchResult<()> {
        let r = &mut self.reader;
        let Some(decoder) = &mut r.ws else {
            r.end = r.raw_end;
            return Ok(());
        };
        let (end, raw_end) = decoder.unwrap_in_place(&mut r.buf, r.end, r.raw_end)?;
        r.end = end;
        r.raw_end = raw_end;
        if decoder.has_pings() {
            let pings = decoder.take_pings();
            if let Some(encoder) = &mut self.ws {
                let pongs = encoder.pongs(&pings);
                self.write_encoded(&pongs)?;
            }
        }
        Ok(())
    }

    /// Shuts the connection down.
    pub fn close(self) {
        let _ = self.stream.socket().shutdown(std::net::Shutdown::Both);
    }
}

impl Reader {
    fn drain(
        &mut self,
        on_op: &mut impl FnMut(ServerOp<'_>) -> BenchResult<Flow>,
    ) -> BenchResult<Flow> {
        while self.start < self.end {
            let parsed = self
                .parser
                .parse(&self.buf[self.start..self.end])
                .map_err(|e| format!("protocol error from server: {e:?}"))?;
            let Some((op, consumed)) = parsed else {
                return Ok(Flow::Continue);
            };
            if let ServerOp::Err { message } = op {
                return Err(format!(
                    "server sent -ERR '{}'",
                    String::from_utf8_lossy(message)
                ));
            }
            let flow = on_op(op)?;
            self.start += consumed;
            if flow == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }
}
