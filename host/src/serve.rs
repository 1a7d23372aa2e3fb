//! The server's life on any [`Runtime`]: listen, log the banner, start monitoring, write
//! the pid file, accept clients until a signal says stop (reloading on SIGHUP), lame duck
//! mode, shutdown. A frontend's `main` only builds its runtime and calls [`run`].

use crate::client;
use crate::logger::Logger;
use crate::monitor;
use crate::runtime::{self, Runtime, Signal, SignalSource};
use crate::startup;
use crate::tls::ListenerTls;
use crate::{clock, seed};
use rnats_engine::options::Options;
use rnats_engine::server::{lame_duck_schedule, CloseReason, Server};
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Waker};
use std::time::Duration;

/// How long shutdown waits for connections to flush.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(5);

/// Run a server with `opts` on `rt` until a signal stops it; returns the exit code.
pub async fn run<R: Runtime>(rt: R, opts: Options, log: Arc<Logger>) -> ExitCode {
    run_with(rt, opts, log, Vec::new()).await
}

/// Another way in for clients, served beside the client port by [`run_with`] (the
/// WebSocket listener of `rnats-ws`). Its connections are engine connections like the
/// others: shutdown, lame duck mode and `/connz` treat them alike.
pub trait Gateway<R: Runtime>: Send {
    /// Bind the listener before the server starts, recording in `opts` what was bound
    /// (e.g. a random port), so that `/varz` shows it. Does nothing when `opts` leaves
    /// this gateway off. `Err` is the fatal message to log.
    fn bind(&mut self, rt: &R, opts: &mut Options) -> Result<(), String>;

    /// Log that it listens (after the banner and the monitor, before "Server is ready").
    fn log_listening(&self, log: &Logger);

    /// The accept loop: serve every connection (spawned on `rt`, tracked by `tasks`)
    /// until the future is dropped, which closes the listener.
    fn serve(
        self: Box<Self>,
        rt: R,
        server: Arc<Server>,
        log: Arc<Logger>,
        tasks: TaskTracker,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// [`run`] with extra listeners ([`Gateway`]s).
pub async fn run_with<R: Runtime>(
    rt: R,
    mut opts: Options,
    log: Arc<Logger>,
    mut gateways: Vec<Box<dyn Gateway<R>>>,
) -> ExitCode {
    let mut signals = match rt.signals() {
        Ok(s) => s,
        Err(e) => {
            log.fatal(&format!("cannot install signal handlers: {e}"));
            return ExitCode::from(1);
        }
    };
    let port = opts.port.unwrap_or(0);
    let listener = match runtime::listen(&rt, &opts.host, port) {
        Ok((listener, addr)) => {
            opts.port = Some(addr.port());
            listener
        }
        Err(e) => {
            log.fatal(&format!(
                "Error listening on port: {}, \"{e}\"",
                startup::host_port(&opts.host, port)
            ));
            return ExitCode::from(1);
        }
    };
    // The client port's TLS (a top-level `tls` block or the `--tls*` flags); a certificate
    // only the TLS library can find wrong stops the server here.
    let tls = match ListenerTls::new(&opts, |o| o.tls.as_ref(), "client") {
        Ok(tls) => tls,
        Err(e) => {
            log.fatal(&e);
            return ExitCode::from(1);
        }
    };
    for gateway in &mut gateways {
        if let Err(e) = gateway.bind(&rt, &mut opts) {
            log.fatal(&e);
            return ExitCode::from(1);
        }
    }
    let server = Server::with_log(opts, seed(), clock::now(), log.clone());
    startup::log_banner(&log, &server);
    let options = server.options();
    if let Some(port) = options.http_port {
        match monitor::start(&rt, server.clone(), port, log.clone()) {
            Ok(addr) => startup::log_http(&log, &options.http_host, addr.port()),
            Err(e) => {
                log.fatal(&format!("Can't listen to the monitor port: {e}"));
                return ExitCode::from(1);
            }
        }
    }
    if let Err(e) = startup::write_pid_file(&options) {
        log.fatal(&format!("Could not write pidfile: {e}"));
        return ExitCode::from(1);
    }
    for gateway in &gateways {
        gateway.log_listening(&log);
    }
    startup::log_ready(
        &log,
        &options.host,
        options.port.unwrap_or(0),
        tls.is_some(),
    );
    let clients = Clients { listener, tls };
    let code = serve(&rt, &server, clients, gateways, &mut signals, &log).await;
    log.info("Server Exiting..");
    startup::remove_pid_file(&server.options());
    code
}

/// Why the accept loop ended.
enum Stop {
    /// SIGINT: exit 0.
    Interrupt,
    /// SIGTERM: exit 1, as nats-server does.
    Terminate,
    /// SIGUSR2: lame duck mode, then exit 0.
    LameDuck,
}

/// What woke the accept loop.
enum Event<C> {
    Signal(Signal),
    Accepted(std::io::Result<C>),
}

/// The client port: its listener, and its TLS when clients must use it.
struct Clients<R: Runtime> {
    listener: R::Listener,
    tls: Option<ListenerTls>,
}

/// Accept clients until a signal says stop; reload on SIGHUP. Returns the exit code.
async fn serve<R: Runtime>(
    rt: &R,
    server: &Arc<Server>,
    Clients { listener, mut tls }: Clients<R>,
    gateways: Vec<Box<dyn Gateway<R>>>,
    signals: &mut R::Signals,
    log: &Arc<Logger>,
) -> ExitCode {
    let tasks = TaskTracker::default();
    let mut gateways: Vec<_> = gateways
        .into_iter()
        .map(|g| g.serve(rt.clone(), server.clone(), log.clone(), tasks.clone()))
        .collect();
    let stop = loop {
        // Signals first, so that a flood of connections cannot delay a shutdown.
        let event = poll_fn(|cx| {
            if let Poll::Ready(signal) = signals.poll_signal(cx) {
                return Poll::Ready(Event::Signal(signal));
            }
            for gateway in &mut gateways {
                // An accept loop only ends by being dropped.
                let _ = gateway.as_mut().poll(cx);
            }
            rt.poll_accept(&listener, cx).map(Event::Accepted)
        })
        .await;
        match event {
            Event::Accepted(Ok(conn)) => {
                let acceptor = tls.as_mut().map(|t| t.current(server, log));
                client::spawn(rt, server, conn, acceptor.as_ref(), log, &tasks)
            }
            Event::Accepted(Err(e)) => {
                let what = format!("Error accepting client connection: {e}");
                runtime::pause_after_accept_error(rt, log, &what).await;
            }
            Event::Signal(Signal::Interrupt) => {
                log.debug("Trapped \"interrupt\" signal");
                break Stop::Interrupt;
            }
            Event::Signal(Signal::Terminate) => {
                log.debug("Trapped \"terminated\" signal");
                break Stop::Terminate;
            }
            Event::Signal(Signal::Reload) => startup::reload(log, server),
            Event::Signal(Signal::LameDuck) => break Stop::LameDuck,
        }
    };
    drop(listener);
    drop(gateways);
    if let Stop::LameDuck = stop {
        lame_duck(rt, server, log, signals).await;
    }
    log.info("Initiating Shutdown...");
    server.close_all(CloseReason::ServerShutdown);
    let _ = runtime::timeout(rt, SHUTDOWN_FLUSH, tasks.idle()).await;
    match stop {
        Stop::Terminate => ExitCode::from(1),
        Stop::Interrupt | Stop::LameDuck => ExitCode::SUCCESS,
    }
}

/// Lame duck mode: tell clients, wait the grace period, then close them spread over
/// `lame_duck_duration`. A SIGINT or SIGTERM cuts it short; other signals are ignored.
async fn lame_duck<R: Runtime>(rt: &R, server: &Server, log: &Logger, signals: &mut R::Signals) {
    log.info("Entering lame duck mode, stop accepting new clients");
    server.enter_lame_duck();
    let clients = server.connections();
    let plan = lame_duck_schedule(&server.options(), clients.len());
    let mut closing = pin!(async {
        runtime::sleep(rt, plan.grace).await;
        for (i, batch) in clients.chunks(plan.batch).enumerate() {
            if i > 0 {
                runtime::sleep(rt, plan.interval).await;
            }
            for conn in batch {
                conn.close(CloseReason::ServerShutdown);
            }
        }
    });
    poll_fn(|cx| {
        if closing.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        while let Poll::Ready(signal) = signals.poll_signal(cx) {
            if matches!(signal, Signal::Interrupt | Signal::Terminate) {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
}

/// Counts running connection tasks so that shutdown can wait for them to flush.
#[derive(Debug, Clone, Default)]
pub struct TaskTracker {
    state: Arc<Mutex<TrackerState>>,
}

#[derive(Debug, Default)]
struct TrackerState {
    live: usize,
    idle_waiter: Option<Waker>,
}

impl TaskTracker {
    /// Count `task` as running from now until it ends (or is dropped).
    pub fn track<F: Future<Output = ()>>(&self, task: F) -> Tracked<F> {
        self.lock().live += 1;
        Tracked {
            task,
            guard: Some(TaskGuard(self.clone())),
        }
    }

    /// Resolves once no tracked task is running.
    pub async fn idle(&self) {
        poll_fn(|cx| {
            let mut state = self.lock();
            if state.live == 0 {
                return Poll::Ready(());
            }
            state.idle_waiter = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Number of tracked tasks still running.
    pub fn live(&self) -> usize {
        self.lock().live
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrackerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pin_project_lite::pin_project! {
    /// A task counted by a [`TaskTracker`] until it ends or is dropped. A struct rather
    /// than an `async` block, which would hold the task twice (as captured and as
    /// awaited): per connection, that is the size of its whole state.
    pub struct Tracked<F> {
        #[pin]
        task: F,
        guard: Option<TaskGuard>,
    }
}

impl<F: Future<Output = ()>> Future for Tracked<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        ready!(this.task.poll(cx));
        this.guard.take();
        Poll::Ready(())
    }
}

/// Marks one tracked task as ended when dropped.
struct TaskGuard(TaskTracker);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.0.lock();
            state.live -= 1;
            if state.live == 0 {
                state.idle_waiter.take()
            } else {
                None
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Wake};

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn tracker_counts_until_tasks_end_or_are_dropped() {
        let tracker = TaskTracker::default();
        let flag = Arc::new(Flag(Default::default()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut first = Box::pin(tracker.track(async {}));
        let second = Box::pin(tracker.track(std::future::pending()));
        assert_eq!(tracker.live(), 2);
        let mut idle = Box::pin(tracker.idle());
        assert!(idle.as_mut().poll(&mut cx).is_pending());
        assert!(first.as_mut().poll(&mut cx).is_ready());
        assert_eq!(tracker.live(), 1);
        drop(second);
        assert_eq!(tracker.live(), 0);
        assert!(
            flag.0.load(std::sync::atomic::Ordering::SeqCst),
            "idle waiter woken"
        );
        assert!(idle.as_mut().poll(&mut cx).is_ready());
    }
}
