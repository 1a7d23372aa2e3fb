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
    /// Several threads may do this at once to share the tasks.
    pub fn block_on<T>(&self, main: impl Future<Output = T>) -> T {
        async_io::block_on(self.executor.run(main))
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
        loop {
            match listener.get_ref().accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    let socket = Socket(Arc::new(Async::new(stream)?));
                    return Poll::Ready(Ok((socket.clone(), socket, peer)));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(listener.poll_readable(cx))?;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
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
        loop {
            match self.0.get_ref().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
            ready!(self.0.poll_readable(cx))?;
        }
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
        loop {
            match self.0.get_ref().write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                done => return Poll::Ready(done),
            }
            ready!(self.0.poll_writable(cx))?;
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.get_ref().shutdown(Shutdown::Write))
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
