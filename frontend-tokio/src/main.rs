//! `rnats-server`: the rnats engine served over TCP on tokio. It takes nats-server's
//! command line and config file.

mod client;
mod monitor;

use rnats_engine::server::{CloseReason, Server};
use rnats_host::logger::Logger;
use rnats_host::startup::{self, Start};
use rnats_host::{clock, seed};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
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
        if let Err(e) = startup::write_pid_file(server.options()) {
            log.fatal(&format!("Could not write pidfile: {e}"));
            return ExitCode::from(1);
        }
        startup::log_ready(&log, &server.options().host, bound);
        serve(server.clone(), listener, log.clone()).await;
        log.info("Server Exiting..");
        startup::remove_pid_file(server.options());
        ExitCode::SUCCESS
    })
}

/// Accept clients until SIGINT or SIGTERM, then close every connection.
async fn serve(server: Arc<Server>, listener: TcpListener, log: Arc<Logger>) {
    let (Ok(mut sigint), Ok(mut sigterm)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        log.fatal("cannot install signal handlers");
        return;
    };
    let tasks = tokio_util_tracker::Tracker::default();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tasks.spawn(client::serve(server.clone(), stream, peer, log.clone()));
                }
                Err(e) => {
                    log.error(&format!("Error accepting client connection: {e}"));
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            },
            _ = sigint.recv() => { log.info("Trapped \"interrupt\" signal"); break; }
            _ = sigterm.recv() => { log.info("Trapped \"terminated\" signal"); break; }
        }
    }
    drop(listener);
    server.close_all(CloseReason::ServerShutdown);
    tasks.wait(std::time::Duration::from_secs(5)).await;
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
