//! `rnats-server`: the rnats engine served over TCP on tokio. It takes nats-server's
//! command line and config file. The server itself (accept loop, client loops, signals,
//! monitoring) is `rnats_host::serve`; this file lends it tokio's timers, tasks, sockets
//! and signals.

use rnats_host::runtime::{Runtime, Signal, SignalSource};
use rnats_host::{serve, startup};
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    startup::main("rnats-server", |opts, log| {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                log.fatal(&format!("cannot start the tokio runtime: {e}"));
                return ExitCode::from(1);
            }
        };
        // The `websocket` block's listener (off without one) serves browsers from the
        // same server.
        let websocket = Box::new(rnats_ws::WebsocketGateway::<Tokio>::new());
        runtime.block_on(serve::run_with(Tokio, opts, log, vec![websocket]))
    })
}

/// The tokio runtime the server runs in (the one `main` entered).
#[derive(Clone, Copy)]
struct Tokio;

impl Runtime for Tokio {
    type Sleep = tokio::time::Sleep;
    type Listener = TcpListener;
    type Reader = Reader;
    type Writer = Writer;
    type Signals = TokioSignals;

    fn sleep_until(&self, deadline: std::time::Instant) -> Self::Sleep {
        tokio::time::sleep_until(deadline.into())
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        tokio::spawn(task);
    }

    fn listener(&self, listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        TcpListener::from_std(listener)
    }

    fn poll_accept(
        &self,
        listener: &TcpListener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Reader, Self::Writer, SocketAddr)>> {
        listener.poll_accept(cx).map_ok(|(stream, peer)| {
            let _ = stream.set_nodelay(true);
            let (reader, writer) = stream.into_split();
            (Reader(reader), Writer(writer), peer)
        })
    }

    fn signals(&self) -> io::Result<TokioSignals> {
        Ok(TokioSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            user2: signal(SignalKind::user_defined2())?,
        })
    }
}

/// The reading half of a connection, as a `futures_io` reader.
struct Reader(OwnedReadHalf);

impl futures_io::AsyncRead for Reader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }
}

/// The writing half of a connection, as a `futures_io` writer (with vectored writes,
/// which `tokio_util::compat` does not pass on).
struct Writer(OwnedWriteHalf);

impl futures_io::AsyncWrite for Writer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// One tokio signal stream per signal the server handles.
struct TokioSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
    user2: tokio::signal::unix::Signal,
}

impl SignalSource for TokioSignals {
    fn poll_signal(&mut self, cx: &mut Context<'_>) -> Poll<Signal> {
        let streams = [
            (&mut self.interrupt, Signal::Interrupt),
            (&mut self.terminate, Signal::Terminate),
            (&mut self.hangup, Signal::Reload),
            (&mut self.user2, Signal::LameDuck),
        ];
        for (stream, meaning) in streams {
            if stream.poll_recv(cx).is_ready() {
                return Poll::Ready(meaning);
            }
        }
        Poll::Pending
    }
}
