//! # rnats-smol
//!
//! The rnats server on smol's runtime pieces: `async-io` for sockets, timers and signals,
//! `async-executor` for tasks. [`Smol`] implements `rnats_host`'s [`Runtime`], so the
//! shared server loops (`rnats_host::serve::run`, `rnats_host::client`) run on it; the
//! `rnats-server-smol` binary is `main.rs`, and a program that embeds a server can use
//! [`Smol`] the same way.
#![warn(missing_docs)]

use async_executor::Executor;
use async_io::{Async, Timer};
use futures_core::Stream;
use rnats_host::runtime::{Runtime, Signal, SignalSource};
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// A handle on one executor that every task runs on; sockets and timers live on
/// async-io's global reactor. Tasks run on whichever threads call [`Smol::block_on`].
#[derive(Clone, Default)]
pub struct Smol {
    executor: Arc<Executor<'static>>,
}

impl Smol {
    /// A runtime with a new, empty executor.
    pub fn new() -> Smol {
        Smol::default()
    }

    /// Run the executor's tasks on this thread until `main` ends; returns its output.
    /// Several threads may do this at once to share the tasks. `main` is polled each time
    /// the thread wakes: for a long-running future, pass a handle from
    /// [`Smol::spawn_task`].
    pub fn block_on<T>(&self, main: impl Future<Output = T>) -> T {
        async_io::block_on(self.executor.run(main))
    }

    /// Spawn `task` on the executor; the handle resolves to its output (dropping the
    /// handle cancels the task).
    pub fn spawn_task<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> async_executor::Task<T> {
        self.executor.spawn(task)
    }
}

impl Runtime for Smol {
    type Sleep = Timer;
    type Listener = Async<TcpListener>;
    type Reader = Socket;
    type Writer = Socket;
    type Signals = ProcessSignals;

    fn sleep_until(&self, deadline: std::time::Instant) -> Timer {
        Timer::at(deadline)
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.executor.spawn(task).detach();
    }

    fn listener(&self, listener: TcpListener) -> io::Result<Async<TcpListener>> {
        Async::new(listener)
    }

    fn poll_accept(
        &self,
        listener: &Async<TcpListener>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Socket, Socket, SocketAddr)>> {
        let (stream, peer) = ready!(retry_when_ready(
            cx,
            || listener.get_ref().accept(),
            |cx| listener.poll_readable(cx)
        ))?;
        let _ = stream.set_nodelay(true);
        let socket = Socket(Arc::new(Async::new(stream)?));
        Poll::Ready(Ok((socket.clone(), socket, peer)))
    }

    fn signals(&self) -> io::Result<ProcessSignals> {
        use async_signal::Signal::{Hup, Int, Term, Usr2};
        async_signal::Signals::new([Int, Term, Hup, Usr2]).map(ProcessSignals)
    }
}

/// An accepted connection; one handle reads, a clone writes. Closing a handle shuts
/// down the sending direction; the socket closes when both are dropped.
#[derive(Clone, Debug)]
pub struct Socket(Arc<Async<TcpStream>>);

impl futures_io::AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.0;
        retry_when_ready(
            cx,
            || socket.get_ref().read(buf),
            |cx| socket.poll_readable(cx),
        )
    }
}

impl futures_io::AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    // async-io's own stream types do not pass vectored writes on (they would write one
    // slice per call); the server hands over many slices at once.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let socket = &self.0;
        retry_when_ready(
            cx,
            || socket.get_ref().write_vectored(bufs),
            |cx| socket.poll_writable(cx),
        )
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
    }
}

/// Run the non-blocking `op`; while it would block, wait with `poll_ready` (which
/// registers the waker with the reactor) and try again.
fn retry_when_ready<T>(
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<T>,
    mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
) -> Poll<io::Result<T>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready!(poll_ready(cx))?,
            done => return Poll::Ready(done),
        }
    }
}

/// SIGINT, SIGTERM, SIGHUP and SIGUSR2 of this process, delivered through async-io.
#[derive(Debug)]
pub struct ProcessSignals(async_signal::Signals);

impl SignalSource for ProcessSignals {
    fn poll_signal(&mut self, cx: &mut Context<'_>) -> Poll<Signal> {
        loop {
            let meaning = match ready!(Pin::new(&mut self.0).poll_next(cx)) {
                Some(Ok(async_signal::Signal::Int)) => Signal::Interrupt,
                Some(Ok(async_signal::Signal::Term)) => Signal::Terminate,
                Some(Ok(async_signal::Signal::Hup)) => Signal::Reload,
                Some(Ok(async_signal::Signal::Usr2)) => Signal::LameDuck,
                // Nothing else is registered; a failed read of the signal pipe is retried.
                Some(_) => continue,
                None => return Poll::Pending,
            };
            return Poll::Ready(meaning);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_io::AsyncWrite;
    use rnats_host::runtime;
    use std::future::poll_fn;
    use std::time::Duration;

    #[test]
    fn sockets_read_write_vectored_and_shut_down() {
        let rt = Smol::new();
        let (listener, addr) = runtime::listen(&rt, "127.0.0.1", 0).unwrap();
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"ping").unwrap();
        rt.block_on(async {
            let (mut reader, mut writer, peer) = runtime::accept(&rt, &listener).await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            while got.len() < 4 {
                let n = runtime::read(&mut reader, &mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"ping");
            let slices = [IoSlice::new(b"po"), IoSlice::new(b"ng")];
            let n = poll_fn(|cx| Pin::new(&mut writer).poll_write_vectored(cx, &slices))
                .await
                .unwrap();
            assert_eq!(n, 4, "both slices in one write");
            runtime::close(&mut writer).await.unwrap();
        });
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).unwrap();
        assert_eq!(answer, b"pong", "then end of stream");
    }

    #[test]
    fn timers_fire() {
        let rt = Smol::new();
        let waited = rt.block_on(runtime::timeout(
            &rt,
            Duration::from_millis(20),
            std::future::pending::<()>(),
        ));
        assert_eq!(waited, None);
        let ready = rt.block_on(runtime::timeout(&rt, Duration::from_secs(5), async { 7 }));
        assert_eq!(ready, Some(7));
    }
}
