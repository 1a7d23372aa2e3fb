//! `rnats-server`: the rnats engine served over TCP on tokio. It takes nats-server's
//! command line and config file.

mod client;
mod monitor;

use rnats_engine::server::{lame_duck_schedule, CloseReason, Server};
use rnats_host::logger::Logger;
use rnats_host::startup::{self, Start};
use rnats_host::{clock, seed};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};

fn main() -> ExitCode {
    let mut opts = match startup::from_args("rnats-server") {
        Start::Run(opts) => *opts,
        Start::Exit(code) => return code,
    };
    let log = match Logger::new(&opts) {
        Ok(log) => Arc::new(log),
        Err(e) => {
            eprintln!("rnats-server: cannot open log file: {e}");
            return ExitCode::from(1);
        }
    };
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
    runtime.block_on(async move {
        let listener = match TcpListener::bind((opts.host.as_str(), opts.port.unwrap_or(0))).await {
            Ok(l) => l,
            Err(e) => {
                log.fatal(&format!(
                    "Error listening on port: {}, \"{e}\"",
                    startup::host_port(&opts.host, opts.port.unwrap_or(0))
                ));
                return ExitCode::from(1);
            }
        };
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        opts.port = Some(bound);
        let server = Server::new(opts, seed(), clock::now());
        startup::log_banner(&log, &server);
        if let Some(port) = server.options().http_port {
            match monitor::start(server.clone(), port, log.clone()).await {
                Ok(addr) => startup::log_http(&log, &server.options().http_host, addr.port()),
                Err(e) => {
                    log.fatal(&format!("Can't listen to the monitor port: {e}"));
                    return ExitCode::from(1);
                }
            }
        }
        if let Err(e) = startup::write_pid_file(&server.options()) {
            log.fatal(&format!("Could not write pidfile: {e}"));
            return ExitCode::from(1);
        }
        startup::log_ready(&log, &server.options().host, bound);
        let code = serve(server.clone(), listener, log.clone()).await;
        log.info("Server Exiting..");
        startup::remove_pid_file(&server.options());
        code
    })
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

/// Accept clients until a signal says stop; reload on SIGHUP. Returns the exit code.
async fn serve(server: Arc<Server>, listener: TcpListener, log: Arc<Logger>) -> ExitCode {
    let signals = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::user_defined2()),
    );
    let (Ok(mut sigint), Ok(mut sigterm), Ok(mut sighup), Ok(mut sigusr2)) = signals else {
        log.fatal("cannot install signal handlers");
        return ExitCode::from(1);
    };
    let tasks = tokio_util_tracker::Tracker::default();
    let stop = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tasks.spawn(client::serve(server.clone(), stream, peer, log.clone()));
                }
                Err(e) => {
                    log.error(&format!("Error accepting client connection: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = sigint.recv() => { log.info("Trapped \"interrupt\" signal"); break Stop::Interrupt; }
            _ = sigterm.recv() => { log.info("Trapped \"terminated\" signal"); break Stop::Terminate; }
            _ = sighup.recv() => startup::reload(&log, &server),
            _ = sigusr2.recv() => break Stop::LameDuck,
        }
    };
    drop(listener);
    if let Stop::LameDuck = stop {
        lame_duck(&server, &log, &mut sigint, &mut sigterm).await;
    }
    log.info("Initiating Shutdown...");
    server.close_all(CloseReason::ServerShutdown);
    tasks.wait(Duration::from_secs(5)).await;
    match stop {
        Stop::Terminate => ExitCode::from(1),
        Stop::Interrupt | Stop::LameDuck => ExitCode::SUCCESS,
    }
}

/// Lame duck mode: tell clients, wait the grace period, then close them spread over
/// `lame_duck_duration` (a second SIGINT/SIGTERM cuts it short).
async fn lame_duck(
    server: &Server,
    log: &Logger,
    sigint: &mut tokio::signal::unix::Signal,
    sigterm: &mut tokio::signal::unix::Signal,
) {
    log.info("Entering lame duck mode, stop accepting new clients");
    server.enter_lame_duck();
    let clients = server.connections();
    let plan = lame_duck_schedule(&server.options(), clients.len());
    let closing = async {
        tokio::time::sleep(plan.grace).await;
        for (i, batch) in clients.chunks(plan.batch).enumerate() {
            if i > 0 {
                tokio::time::sleep(plan.interval).await;
            }
            for conn in batch {
                conn.close(CloseReason::ServerShutdown);
            }
        }
    };
    tokio::select! {
        () = closing => {}
        _ = sigint.recv() => {}
        _ = sigterm.recv() => {}
    }
}

/// Peer address as the engine wants it.
fn peer_addr(peer: SocketAddr) -> rnats_engine::server::PeerAddr {
    rnats_engine::server::PeerAddr {
        ip: peer.ip().to_string(),
        port: peer.port(),
    }
}

/// A tiny task tracker so shutdown can wait for connections to flush.
mod tokio_util_tracker {
    use std::future::Future;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::sync::Notify;

    #[derive(Default, Clone)]
    pub struct Tracker {
        live: Arc<(AtomicUsize, Notify)>,
    }

    impl Tracker {
        pub fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
            let live = self.live.clone();
            live.0.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                fut.await;
                if live.0.fetch_sub(1, Ordering::SeqCst) == 1 {
                    live.1.notify_waiters();
                }
            });
        }

        pub async fn wait(&self, limit: std::time::Duration) {
            let _ = tokio::time::timeout(limit, async {
                while self.live.0.load(Ordering::SeqCst) > 0 {
                    let notified = self.live.1.notified();
                    if self.live.0.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    notified.await;
                }
            })
            .await;
        }
    }
}
