//! The streams around a TLS handshake: the socket's halves joined for it ([`Joined`]),
//! the checks and replays of what the client sent first ([`FirstRecordCheck`],
//! [`Replay`]), and the established session split again for a connection's reading and
//! writing tasks ([`split`]: each holds the lock only while polling, never across a
//! wait; TLS needs both directions at once, as a read may have to write).

use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::server::TlsStream;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

/// The two halves of a socket as one stream, for the TLS handshake.
pub struct Joined<Rd, Wr> {
    reader: Rd,
    writer: Wr,
}

impl<Rd, Wr> Joined<Rd, Wr> {
    /// Join `reader` and `writer`, the halves of one socket.
    pub fn new(reader: Rd, writer: Wr) -> Self {
        Joined { reader, writer }
    }
}

impl<Rd: AsyncRead + Unpin, Wr: Unpin> AsyncRead for Joined<Rd, Wr> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl<Rd: Unpin, Wr: AsyncWrite + Unpin> AsyncWrite for Joined<Rd, Wr> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_close(cx)
    }
}

/// A client's first bytes, checked as Go's crypto/tls checks them before anything else:
/// they must start a handshake (or alert) record. Otherwise the read fails with Go's
/// error, and the client (say, one speaking plain NATS to a TLS port) gets the connection
/// closed without a word, as from nats-server, rather than a TLS alert from rustls.
pub struct FirstRecordCheck<Rd> {
    inner: Rd,
    checked: bool,
}

/// TLS record types a client may start with: handshake, alert.
const FIRST_RECORD_TYPES: [u8; 2] = [0x16, 0x15];

impl<Rd> FirstRecordCheck<Rd> {
    /// Check what `inner` reads first.
    pub fn new(inner: Rd) -> Self {
        FirstRecordCheck {
            inner,
            checked: false,
        }
    }
}

impl<Rd: AsyncRead + Unpin> AsyncRead for FirstRecordCheck<Rd> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if !this.checked && n > 0 {
            this.checked = true;
            if !FIRST_RECORD_TYPES.contains(&buf[0]) {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "tls: first record does not look like a TLS handshake",
                )));
            }
        }
        Poll::Ready(Ok(n))
    }
}

/// Bytes already read from a socket (while waiting to see whether the client starts
/// TLS), handed out again before the socket's.
pub struct Replay<Rd> {
    head: Vec<u8>,
    pos: usize,
    inner: Rd,
}

impl<Rd> Replay<Rd> {
    /// `head` first, then `inner`.
    pub fn new(head: Vec<u8>, inner: Rd) -> Self {
        Replay {
            head,
            pos: 0,
            inner,
        }
    }
}

impl<Rd: AsyncRead + Unpin> AsyncRead for Replay<Rd> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.pos < this.head.len() {
            let n = buf.len().min(this.head.len() - this.pos);
            buf[..n].copy_from_slice(&this.head[this.pos..this.pos + n]);
            this.pos += n;
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

/// An established TLS connection shared by its reading and writing halves.
type Shared<S> = Arc<Mutex<TlsStream<S>>>;

/// The reading half of a TLS stream (see [`split`]).
pub struct TlsReader<S> {
    stream: Shared<S>,
}

/// The writing half of a TLS stream (see [`split`]); closing it sends TLS's close_notify
/// and shuts down the socket's sending direction.
pub struct TlsWriter<S> {
    stream: Shared<S>,
}

/// Split an established TLS stream into halves for the connection's two tasks.
pub fn split<S>(stream: TlsStream<S>) -> (TlsReader<S>, TlsWriter<S>) {
    let stream = Arc::new(Mutex::new(stream));
    (
        TlsReader {
            stream: stream.clone(),
        },
        TlsWriter { stream },
    )
}

/// The stream, also after a panic elsewhere while it was locked (its state is rustls's,
/// which stays consistent: the connection then just fails).
fn lock<S>(stream: &Shared<S>) -> MutexGuard<'_, TlsStream<S>> {
    stream
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.stream)).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.stream)).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.stream)).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_record_that_is_not_tls_fails_the_read() {
        let read_all = |bytes: &'static [u8]| {
            let mut reader = FirstRecordCheck::new(bytes);
            let mut buf = [0u8; 16];
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            let mut results = Vec::new();
            loop {
                match Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
                    Poll::Ready(Ok(0)) => return results,
                    Poll::Ready(r) => results.push(r.map_err(|e| e.to_string())),
                    Poll::Pending => unreachable!("a slice is always ready"),
                }
            }
        };
        assert_eq!(read_all(b"\x16\x03\x01\x00\x05hello"), [Ok(10)]);
        assert_eq!(read_all(b"\x15\x03\x03\x00\x02\x02\x32"), [Ok(7)]);
        assert_eq!(
            read_all(b"CONNECT {}\r\n"),
            [Err(
                "tls: first record does not look like a TLS handshake".to_string()
            )]
        );
    }

    #[test]
    fn replay_hands_out_the_head_first() {
        let mut reader = Replay::new(b"abc".to_vec(), &b"def"[..]);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut got = Vec::new();
        let mut buf = [0u8; 2];
        while let Poll::Ready(Ok(n @ 1..)) = Pin::new(&mut reader).poll_read(&mut cx, &mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"abcdef");
    }
}
