//! One client connection, on any [`Runtime`]: a read loop feeding the engine and a write
//! loop draining it with vectored writes (the driving contract of
//! `rnats_engine::server`).

use crate::clock;
use crate::logger::Logger;
use crate::runtime::{self, Runtime};
use crate::serve::TaskTracker;
use crate::tls::{self, TlsAcceptor};
use bytes::{Buf, Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};
use rnats_engine::options::HandshakeFirst;
use rnats_engine::server::{CloseReason, ConnShared, Connection, PeerAddr, Server, WriteEvent};
use rnats_engine::time::Instant;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Smallest read buffer; it grows while reads fill it, up to [`MAX_READ_BUFFER`].
pub const MIN_READ_BUFFER: usize = 512;
/// Largest read (the read buffer's window).
pub const MAX_READ_BUFFER: usize = 64 * 1024;
/// Largest read while the client publishes large messages
/// ([`Connection::large_messages`]): those are shared out of the read buffer, not copied,
/// so a larger read only saves system calls. Small messages are copied out of it, and
/// reads this large measured slower for them (a larger buffer, colder in the cache).
pub const MAX_LARGE_READ: usize = 256 * 1024;
/// Most slices handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Serve an accepted connection in a task of its own, tracked by `tasks`; over TLS when
/// the client port requires it (`tls`).
pub fn spawn<R: Runtime>(
    rt: &R,
    server: &Arc<Server>,
    conn: (R::Reader, R::Writer, SocketAddr),
    tls: Option<&TlsAcceptor>,
    log: &Arc<Logger>,
    tasks: &TaskTracker,
) {
    let (rt, server, log, tasks) = (rt.clone(), server.clone(), log.clone(), tasks.clone());
    match tls {
        None => rt.spawn(tasks.track(serve(rt.clone(), server, conn, log, tasks.clone()))),
        Some(tls) => {
            let client = serve_tls(rt.clone(), server, conn, tls.clone(), log, tasks.clone());
            rt.spawn(tasks.track(client));
        }
    }
}

/// Serve one accepted connection until it closes. The writer runs as its own task,
/// tracked by `tasks` like this one, so shutdown can wait for both to flush. The engine
/// accepts the connection (and queues its INFO) at once; the returned future is the read
/// side.
pub fn serve<R: Runtime>(
    rt: R,
    server: Arc<Server>,
    (reader, writer, peer): (R::Reader, R::Writer, SocketAddr),
    log: Arc<Logger>,
    tasks: TaskTracker,
) -> impl Future<Output = ()> + Send + 'static {
    let conn = server.accept(peer_addr(peer), clock::now());
    serve_connection(rt, &server, conn, (reader, writer), log, tasks)
}

/// [`serve`] on a port that requires TLS, as nats-server does it: the INFO goes out in
/// plain text (it tells the client `tls_required`), then the TLS handshake, bounded by the
/// `tls` block's `timeout`, then the connection as usual over TLS. With `handshake_first`
/// the handshake comes first and the INFO inside TLS (when the client starts TLS within
/// the fallback delay, if one is set). A failed handshake is logged and closes the
/// connection.
pub async fn serve_tls<R: Runtime>(
    rt: R,
    server: Arc<Server>,
    (mut reader, mut writer, peer): (R::Reader, R::Writer, SocketAddr),
    acceptor: TlsAcceptor,
    log: Arc<Logger>,
    tasks: TaskTracker,
) {
    let mut conn = server.accept(peer_addr(peer), clock::now());
    let prefix = conn.log_prefix();
    let (handshake_first, handshake_limit, write_deadline) = {
        let o = server.options();
        let first = o.tls.as_ref().map(|t| t.handshake_first);
        (first.unwrap_or_default(), o.tls_timeout(), o.write_deadline)
    };
    // Who speaks first: bytes the client sends while the server waits are kept for TLS.
    let mut first_bytes = Vec::new();
    let tls_first = match handshake_first {
        HandshakeFirst::Off => false,
        HandshakeFirst::On => true,
        HandshakeFirst::Fallback(delay) => {
            let mut buf = [0u8; 512];
            match runtime::timeout(&rt, delay, runtime::read(&mut reader, &mut buf)).await {
                Some(Ok(n @ 1..)) => {
                    first_bytes.extend_from_slice(&buf[..n]);
                    true
                }
                Some(_) => {
                    conn.close(CloseReason::ClientClosed, clock::now());
                    return;
                }
                None => false,
            }
        }
    };
    if !tls_first && !send_info_in_plain_text(&rt, &conn, &mut writer, write_deadline).await {
        conn.close(CloseReason::ReadError, clock::now());
        return;
    }
    // Refused at once (over `max_connections`): the -ERR went out with the INFO.
    if let Some(reason) = conn.shared().close_reason() {
        conn.close(reason, clock::now());
        return;
    }
    let reader = tls::FirstRecordCheck::new(tls::Replay::new(first_bytes, reader));
    let handshake = acceptor.accept(tls::Joined::new(reader, writer));
    let stream = match runtime::timeout(&rt, handshake_limit, handshake).await {
        Some(Ok(stream)) => stream,
        Some(Err(e)) => {
            log.error(&format!("{prefix}TLS handshake error: {e}"));
            conn.close(CloseReason::TlsHandshakeError, clock::now());
            return;
        }
        None => {
            log.error(&format!("{prefix}TLS handshake timeout"));
            conn.close(CloseReason::TlsHandshakeError, clock::now());
            return;
        }
    };
    conn.shared().set_tls(tls::session(&stream));
    let (reader, writer) = tls::split(stream);
    // With the handshake first, the INFO is still queued: the writer sends it inside TLS.
    serve_connection(rt, &server, conn, (reader, writer), log, tasks).await;
}

/// Write the INFO the engine queued for `conn` straight to the socket, before TLS starts;
/// false if that failed or took longer than `deadline`.
async fn send_info_in_plain_text<R: Runtime, W: AsyncWrite + Unpin>(
    rt: &R,
    conn: &Connection,
    writer: &mut W,
    deadline: Duration,
) -> bool {
    let mut info = VecDeque::new();
    // Taken without waiting: the writer task, which drains this queue from now on, does
    // not exist yet.
    let _ = conn
        .shared()
        .poll_write(&mut Context::from_waker(Waker::noop()), &mut info);
    let sent = runtime::timeout(rt, deadline, write_chunks(writer, &mut info)).await;
    matches!(sent, Some(Ok(())))
}

/// [`serve`] for a connection already accepted by the engine, over any byte stream: the
/// WebSocket listener passes its frame decoder and encoder here. Starts the writer task
/// now; the returned future is the read side.
// Not an `async fn`: its parameters would be stored twice in the future (once as
// captured, once as bound), and a `Connection` is large; one per client adds up.
pub fn serve_connection<R, Rd, Wr>(
    rt: R,
    server: &Server,
    mut conn: Connection,
    (reader, writer): (Rd, Wr),
    log: Arc<Logger>,
    tasks: TaskTracker,
) -> impl Future<Output = ()>
where
    R: Runtime,
    Rd: AsyncRead + Unpin,
    Wr: AsyncWrite + Unpin + Send + 'static,
{
    let write_deadline = server.options().write_deadline;
    let writer = write_loop(rt.clone(), conn.shared().clone(), writer, write_deadline);
    rt.spawn(tasks.track(writer));
    if log.debug_enabled() {
        log.debug(&format!("{}Client connection created", conn.log_prefix()));
    }
    async move {
        let reason = read_loop(&rt, &mut conn, reader).await;
        if log.debug_enabled() {
            let prefix = conn.log_prefix();
            log.debug(&format!(
                "{prefix}Client connection closed: {}",
                reason.as_str()
            ));
        }
        conn.close(reason, clock::now());
    }
}

/// Peer address as the engine wants it.
pub fn peer_addr(peer: SocketAddr) -> PeerAddr {
    PeerAddr {
        ip: peer.ip().to_string(),
        port: peer.port(),
    }
}

/// What woke the read loop.
enum ReadEvent {
    Read(io::Result<usize>),
    Timeout,
    Closed(CloseReason),
}

/// Feed the engine until the socket ends or the engine closes the connection, running
/// the engine's timers (auth timeout, PINGs) in between.
async fn read_loop<R: Runtime, Rd: AsyncRead + Unpin>(
    rt: &R,
    conn: &mut Connection,
    mut reader: Rd,
) -> CloseReason {
    let shared = conn.shared().clone();
    let mut buf = ReadBuffer::default();
    // The timer is re-armed only when the engine's deadline moves (rarely: CONNECT, PINGs).
    let mut armed: Option<Instant> = None;
    let mut timer = pin!(None::<R::Sleep>);
    loop {
        let deadline = conn.poll_timeout();
        if deadline != armed {
            armed = deadline;
            timer.set(deadline.map(|at| rt.sleep_until(clock::to_std(at))));
        }
        let window = buf.window();
        let event = poll_fn(|cx| {
            if let Poll::Ready(reason) = shared.poll_closed(cx) {
                return Poll::Ready(ReadEvent::Closed(reason));
            }
            if let Some(t) = timer.as_mut().as_pin_mut() {
                if t.poll(cx).is_ready() {
                    return Poll::Ready(ReadEvent::Timeout);
                }
            }
            Pin::new(&mut reader)
                .poll_read(cx, window)
                .map(ReadEvent::Read)
        })
        .await;
        match event {
            ReadEvent::Read(Ok(0)) => return CloseReason::ClientClosed,
            ReadEvent::Read(Ok(n)) => {
                let more_waiting = n == buf.window_size();
                if !conn.handle_bytes(buf.filled(n), clock::now()) {
                    return poll_fn(|cx| shared.poll_closed(cx)).await;
                }
                buf.set_large_reads(conn.large_messages());
                // A subscriber of what this client publishes is falling behind: hold the
                // client back a moment (nats-server's fast-producer stall).
                if let Some(stall) = conn.take_stall() {
                    runtime::sleep(rt, stall).await;
                }
                // A client that keeps the socket full would otherwise never let this
                // loop wait, and the other tasks on its thread (the writers draining
                // what it publishes) would starve: let them run between full reads.
                if more_waiting {
                    runtime::yield_now().await;
                }
            }
            ReadEvent::Read(Err(_)) => return CloseReason::ReadError,
            ReadEvent::Timeout => {
                buf.filled(0);
                // A fired timer does not fire again: make the next loop arm a new one.
                armed = None;
                timer.set(None);
                conn.handle_timeout(clock::now());
            }
            ReadEvent::Closed(reason) => return reason,
        }
    }
}

/// A connection's read buffer, sized to its traffic: small while the client is quiet (an
/// idle connection costs little), doubling while reads fill it, halving while they use
/// less than a quarter. Bytes the engine leaves (a partial op) stay at the front.
///
/// The engine delivers large messages straight out of this buffer (it splits their frames
/// off and shares them with the subscribers' writers), so the block they were read into
/// stays in use until those writers have written them. Rather than allocating a fresh
/// block for every read while that lasts (and faulting in its pages: about one page fault
/// per 16 KiB moved in a 16 KiB pub→sub stream), reads alternate between two blocks,
/// each reused once the writers have let go of it.
#[derive(Debug)]
pub struct ReadBuffer {
    data: BytesMut,
    /// The block read into before the current one (empty), while frames split off it
    /// may still be waiting in writers' queues.
    spare: BytesMut,
    want: usize,
    /// The window grows up to this size.
    max: usize,
    /// Length of the data before the current read window.
    before: usize,
    #[cfg(test)]
    blocks_allocated: usize,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer {
            data: BytesMut::with_capacity(MIN_READ_BUFFER),
            spare: BytesMut::new(),
            want: MIN_READ_BUFFER,
            max: MAX_READ_BUFFER,
            before: 0,
            #[cfg(test)]
            blocks_allocated: 0,
        }
    }
}

impl ReadBuffer {
    /// Room for the next read, after the data kept so far. Zeroed, because readers may
    /// only be handed initialised memory.
    pub fn window(&mut self) -> &mut [u8] {
        self.before = self.data.len();
        if !self.data.try_reclaim(self.want) {
            if self.before < self.want {
                self.next_block();
            } else {
                // A large op is accumulating: grow this block (amortised doubling).
                self.data.reserve(self.want);
            }
        }
        self.data.resize(self.before + self.want, 0);
        &mut self.data[self.before..]
    }

    /// The current block has no room for the next read and cannot be rewound (frames
    /// split off it are still held, or it is too small): move the kept data (less than
    /// a window) to the spare block if nothing holds that one any more, else to a new
    /// block of two windows. The current block becomes the spare.
    fn next_block(&mut self) {
        let needed = self.before + self.want;
        let mut next = core::mem::take(&mut self.spare);
        next.clear();
        if !next.try_reclaim(needed) {
            // The old spare is freed once the frames split off it are dropped.
            next = BytesMut::with_capacity(needed.max(2 * self.want));
            #[cfg(test)]
            {
                self.blocks_allocated += 1;
            }
        }
        next.extend_from_slice(&self.data);
        self.spare = core::mem::replace(&mut self.data, next);
        self.spare.clear();
    }

    /// Let the window grow to [`MAX_LARGE_READ`] rather than [`MAX_READ_BUFFER`] (see
    /// [`Connection::large_messages`]).
    pub fn set_large_reads(&mut self, large: bool) {
        self.max = if large {
            MAX_LARGE_READ
        } else {
            MAX_READ_BUFFER
        };
        self.want = self.want.min(self.max);
    }

    /// `n` bytes were read into the window: adapt the size and return the data for the
    /// engine.
    pub fn filled(&mut self, n: usize) -> &mut BytesMut {
        self.data.truncate(self.before + n);
        if n == self.want && self.want < self.max {
            self.want *= 2;
        } else if n > 0 && n < self.want / 4 && self.want > MIN_READ_BUFFER {
            self.want /= 2;
        }
        &mut self.data
    }

    /// The size of the next read window.
    pub fn window_size(&self) -> usize {
        self.want
    }
}

/// Hand the engine's outbound chunks to the socket until the connection is closed and
/// flushed; a write slower than `deadline` closes the connection as a slow consumer.
async fn write_loop<R: Runtime, W: AsyncWrite + Unpin>(
    rt: R,
    shared: Arc<ConnShared>,
    mut writer: W,
    deadline: Duration,
) {
    let mut chunks: VecDeque<Bytes> = VecDeque::new();
    loop {
        let event = poll_fn(|cx| shared.poll_write(cx, &mut chunks)).await;
        let written = if !chunks.is_empty() {
            // Flushed too: a transport may hold bytes back (TLS records in the making).
            let write = async {
                write_chunks(&mut writer, &mut chunks).await?;
                runtime::flush(&mut writer).await
            };
            runtime::timeout(&rt, deadline, write).await
        } else if event == WriteEvent::Data {
            // Woken without chunks: the transport has output of its own to flush
            // (ConnShared::wake_writer).
            runtime::timeout(&rt, deadline, runtime::flush(&mut writer)).await
        } else {
            Some(Ok(()))
        };
        if !within_deadline(&shared, written) {
            return;
        }
        if let WriteEvent::Closed(_) = event {
            // Bounded: a transport may have a goodbye to write (a WebSocket close frame).
            let _ = runtime::timeout(&rt, deadline, runtime::close(&mut writer)).await;
            return;
        }
    }
}

/// Whether a write step (run under the write deadline; `None`: the deadline passed)
/// succeeded. If not, close the connection, as a slow consumer when the deadline passed.
fn within_deadline(shared: &ConnShared, step: Option<io::Result<()>>) -> bool {
    match step {
        Some(Ok(())) => true,
        Some(Err(_)) => {
            shared.close(CloseReason::ReadError);
            false
        }
        None => {
            shared.close(CloseReason::SlowConsumerWriteDeadline);
            false
        }
    }
}

/// Write every chunk, many per system call.
async fn write_chunks<W: AsyncWrite + Unpin>(
    writer: &mut W,
    chunks: &mut VecDeque<Bytes>,
) -> io::Result<()> {
    while !chunks.is_empty() {
        let n = poll_fn(|cx| {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut used = 0;
            for (slot, chunk) in slices.iter_mut().zip(chunks.iter()) {
                *slot = IoSlice::new(chunk);
                used += 1;
            }
            Pin::new(&mut *writer).poll_write_vectored(cx, &slices[..used])
        })
        .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        advance(chunks, n);
    }
    Ok(())
}

/// Drop the first `n` written bytes from `chunks`.
pub fn advance(chunks: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            chunks.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Signal, SignalSource};
    use rnats_engine::options::Options;
    use std::task::{Context, Waker};

    /// A runtime whose timers never fire and whose listeners never accept: enough to
    /// poll the client loops by hand.
    #[derive(Clone)]
    struct Inert;

    struct NoSignals;

    impl SignalSource for NoSignals {
        fn poll_signal(&mut self, _cx: &mut Context<'_>) -> Poll<Signal> {
            Poll::Pending
        }
    }

    impl Runtime for Inert {
        type Sleep = std::future::Pending<()>;
        type Listener = ();
        type Reader = Flood;
        type Writer = Flood;
        type Signals = NoSignals;

        fn sleep_until(&self, _deadline: std::time::Instant) -> Self::Sleep {
            std::future::pending()
        }

        fn spawn(&self, _task: impl Future<Output = ()> + Send + 'static) {}

        fn listener(&self, _listener: std::net::TcpListener) -> io::Result<()> {
            Ok(())
        }

        fn poll_accept(
            &self,
            _listener: &(),
            _cx: &mut Context<'_>,
        ) -> Poll<io::Result<(Flood, Flood, SocketAddr)>> {
            Poll::Pending
        }

        fn signals(&self) -> io::Result<NoSignals> {
            Ok(NoSignals)
        }
    }

    /// A client that always has more to send: CONNECT, then PUBs without end (until
    /// `reads_left` runs out, when it hangs up).
    struct Flood {
        stream: std::iter::Cycle<std::slice::Iter<'static, u8>>,
        reads: usize,
        reads_left: usize,
    }

    impl Flood {
        fn new(reads_left: usize) -> Flood {
            const PUBS: &[u8] = b"PUB flood 5\r\nhello\r\n";
            Flood {
                stream: PUBS.iter().cycle(),
                reads: 0,
                reads_left,
            }
        }
    }

    impl AsyncRead for Flood {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            if self.reads_left == 0 {
                return Poll::Ready(Ok(0));
            }
            self.reads_left -= 1;
            self.reads += 1;
            let prefix: &[u8] = if self.reads == 1 {
                b"CONNECT {}\r\n"
            } else {
                b""
            };
            buf[..prefix.len()].copy_from_slice(prefix);
            for (slot, byte) in buf[prefix.len()..].iter_mut().zip(&mut self.stream) {
                *slot = *byte;
            }
            Poll::Ready(Ok(buf.len()))
        }
    }

    impl AsyncWrite for Flood {
        fn poll_write(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn a_flooding_client_lets_other_tasks_run_between_full_reads() {
        let server = Server::new(Options::default(), 1, clock::now());
        let mut conn = server.accept(PeerAddr::default(), clock::now());
        // Without yielding, one poll would read all 1000 times and see the hang-up.
        let mut reader = Flood::new(1000);
        let mut read = Box::pin(read_loop(&Inert, &mut conn, &mut reader));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(read.as_mut().poll(&mut cx).is_pending(), "yielded");
        assert!(read.as_mut().poll(&mut cx).is_pending(), "yielded again");
        drop(read);
        assert_eq!(reader.reads, 2, "one full read per poll");
        assert!(!conn.is_closed());
    }

    #[test]
    fn advance_drops_whole_and_partial_chunks() {
        let mut chunks: VecDeque<Bytes> = ["abc", "de", "fgh"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        advance(&mut chunks, 4);
        assert_eq!(
            chunks,
            vec![Bytes::from_static(b"e"), Bytes::from_static(b"fgh")]
        );
        advance(&mut chunks, 4);
        assert!(chunks.is_empty());
        advance(&mut chunks, 1);
        assert!(chunks.is_empty());
    }

    #[test]
    fn read_buffer_grows_while_full_and_shrinks_while_sparse() {
        let mut buf = ReadBuffer::default();
        assert_eq!(buf.window().len(), MIN_READ_BUFFER);
        let mut size = MIN_READ_BUFFER;
        while size < MAX_READ_BUFFER {
            let n = buf.window().len();
            assert_eq!(n, size);
            buf.filled(n).clear();
            size *= 2;
        }
        let n = buf.window().len();
        assert_eq!(n, MAX_READ_BUFFER, "capped");
        buf.filled(n).clear();
        assert_eq!(buf.window_size(), MAX_READ_BUFFER);
        buf.window();
        buf.filled(10).clear();
        assert_eq!(buf.window_size(), MAX_READ_BUFFER / 2);
    }

    #[test]
    fn read_buffer_grows_further_for_large_messages() {
        let mut buf = ReadBuffer::default();
        buf.set_large_reads(true);
        for _ in 0..20 {
            let n = buf.window().len();
            buf.filled(n).clear();
        }
        assert_eq!(buf.window_size(), MAX_LARGE_READ);
        buf.set_large_reads(false);
        assert_eq!(buf.window_size(), MAX_READ_BUFFER);
        let n = buf.window().len();
        buf.filled(n).clear();
        assert_eq!(buf.window_size(), MAX_READ_BUFFER, "capped again");
    }

    #[test]
    fn read_buffer_alternates_between_two_blocks_while_frames_are_held() {
        let mut buf = ReadBuffer::default();
        let mut held = VecDeque::new();
        let mut blocks_after_warm_up = 0;
        for round in 0..40 {
            if round == 20 {
                blocks_after_warm_up = buf.blocks_allocated;
            }
            let n = buf.window().len();
            let data = buf.filled(n);
            // Whole frames shared with a writer, and a partial op left behind.
            let frames = data.len() - 100;
            held.push_back(data.split_to(frames).freeze());
            // The writer is one read behind: it drops the frames of the read before.
            if held.len() > 1 {
                held.pop_front();
            }
        }
        assert_eq!(buf.window_size(), MAX_READ_BUFFER);
        assert_eq!(
            buf.blocks_allocated, blocks_after_warm_up,
            "no new block once both are in use"
        );
        assert_eq!(
            &buf.filled(0)[..],
            &[0u8; 100][..],
            "the partial op is kept"
        );
    }

    #[test]
    fn read_buffer_keeps_unconsumed_bytes() {
        let mut buf = ReadBuffer::default();
        buf.window()[..5].copy_from_slice(b"PUB a");
        assert_eq!(&buf.filled(5)[..], b"PUB a");
        buf.window()[..4].copy_from_slice(b" 1\r\n");
        assert_eq!(&buf.filled(4)[..], b"PUB a 1\r\n");
        // Nothing read (a timer fired): the data stays as it was.
        buf.window();
        assert_eq!(&buf.filled(0)[..], b"PUB a 1\r\n");
    }
}
