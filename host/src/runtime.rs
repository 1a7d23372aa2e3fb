//! What a frontend's async runtime lends to the shared server loops: timers, task spawning,
//! TCP listeners and sockets, and signals. Everything else (what to do with them) is in
//! [`crate::serve`], [`crate::client`] and [`crate::monitor`], written once for every
//! runtime.

use futures_io::{AsyncRead, AsyncWrite};
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// An async runtime as the server uses it. Implemented by each frontend on a small
/// handle type (cheap to clone: it is captured by every task).
pub trait Runtime: Clone + Send + Sync + 'static {
    /// A timer future; what it resolves to is ignored.
    type Sleep: Future + Send;
    /// A listening TCP socket registered with the runtime.
    type Listener: Send + Sync + 'static;
    /// The reading side of an accepted connection.
    type Reader: AsyncRead + Unpin + Send + 'static;
    /// The writing side of an accepted connection; closing it shuts down the socket's
    /// sending direction.
    type Writer: AsyncWrite + Unpin + Send + 'static;
    /// The process signals the server reacts to.
    type Signals: SignalSource + Send;

    /// A timer that fires at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;

    /// Run `task` in the background until it ends (nothing waits for it).
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static);

    /// Register a bound std listener with the runtime.
    fn listener(&self, listener: std::net::TcpListener) -> io::Result<Self::Listener>;

    /// Accept one connection, with `TCP_NODELAY` set, split into its two directions.
    #[allow(clippy::type_complexity)]
    fn poll_accept(
        &self,
        listener: &Self::Listener,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<(Self::Reader, Self::Writer, SocketAddr)>>;

    /// Start receiving SIGINT, SIGTERM, SIGHUP and SIGUSR2 (replacing their default
    /// actions).
    fn signals(&self) -> io::Result<Self::Signals>;
}

/// What a process signal asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: shut down, exit 0.
    Interrupt,
    /// SIGTERM: shut down, exit 1 (as nats-server does).
    Terminate,
    /// SIGHUP: reload the configuration.
    Reload,
    /// SIGUSR2: lame duck mode, then exit 0.
    LameDuck,
}

/// A source of [`Signal`]s, polled by the accept loop.
pub trait SignalSource {
    /// The next signal received, or `Pending` (the waker is woken when one arrives).
    fn poll_signal(&mut self, cx: &mut Context<'_>) -> Poll<Signal>;
}

/// Wait for `duration`.
pub async fn sleep<R: Runtime>(rt: &R, duration: Duration) {
    rt.sleep_until(Instant::now() + duration).await;
}

/// Run `fut` for at most `limit`: `None` if the time ran out first. The timer is only
/// created once `fut` has had to wait, so a future that is ready at once costs no timer.
pub fn timeout<R: Runtime, F: Future>(rt: &R, limit: Duration, fut: F) -> Timeout<'_, R, F> {
    Timeout {
        rt,
        limit,
        fut,
        timer: None,
    }
}

pin_project_lite::pin_project! {
    /// The future of [`timeout`] (a struct, so that `fut` is held once, in place).
    pub struct Timeout<'a, R: Runtime, F> {
        rt: &'a R,
        limit: Duration,
        #[pin]
        fut: F,
        #[pin]
        timer: Option<R::Sleep>,
    }
}

impl<R: Runtime, F: Future> Future for Timeout<'_, R, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Some(out));
        }
        if this.timer.is_none() {
            let deadline = Instant::now() + *this.limit;
            this.timer.set(Some(this.rt.sleep_until(deadline)));
        }
        match this.timer.as_pin_mut() {
            Some(timer) => timer.poll(cx).map(|_| None),
            None => Poll::Pending,
        }
    }
}

/// Let the runtime run its other ready tasks before this one goes on.
pub async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Accept the next connection on `listener`.
#[allow(clippy::type_complexity)]
pub async fn accept<R: Runtime>(
    rt: &R,
    listener: &R::Listener,
) -> io::Result<(R::Reader, R::Writer, SocketAddr)> {
    poll_fn(|cx| rt.poll_accept(listener, cx)).await
}

/// Bind `host:port` and register the listener with the runtime; also returns the address
/// actually bound (port 0 picks a free port).
pub fn listen<R: Runtime>(rt: &R, host: &str, port: u16) -> io::Result<(R::Listener, SocketAddr)> {
    let listener = std::net::TcpListener::bind((host, port))?;
    let addr = listener.local_addr()?;
    Ok((rt.listener(listener)?, addr))
}

/// After a failed accept (e.g. out of file descriptors): log it and pause briefly, so a
/// persistent error does not spin.
pub async fn pause_after_accept_error<R: Runtime>(rt: &R, log: &crate::logger::Logger, what: &str) {
    log.error(what);
    sleep(rt, Duration::from_millis(10)).await;
}

/// Read some bytes into `buf`.
pub async fn read<Rd: AsyncRead + Unpin>(reader: &mut Rd, buf: &mut [u8]) -> io::Result<usize> {
    poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, buf)).await
}

/// Write all of `data`.
pub async fn write_all<W: AsyncWrite + Unpin>(writer: &mut W, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, data)).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[n..];
    }
    Ok(())
}

/// Write out anything the writer holds back.
pub async fn flush<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await
}

/// Flush and shut down the writing side.
pub async fn close<W: AsyncWrite + Unpin>(writer: &mut W) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_close(cx)).await
}
