//! Embedding rnats: a program runs a NATS server inside itself, on one thread, serving
//! its own in-process clients and TCP clients on a port alike.
//!
//! ```text
//! cargo run -p rnats-smol --example embedded -- 4222
//! nats sub 'greeted.>'           # in another terminal, any NATS client
//! nats request greet.alice ''    # answered by the in-process greeter below
//! ```
//!
//! The whole embedding is [`Embedded::start`], [`Embedded::client`] and [`Embedded::run`].
//! The connection loops are `rnats_host`'s and the runtime is `rnats-server-smol`'s
//! ([`Smol`]), driven here only by the thread inside [`Embedded::run`]. An
//! in-process client is the engine's [`LocalClient`]: a connection fed bytes directly, so
//! it is subject to the same permissions and limits as a TCP client.

use async_io::Async;
use rnats_engine::options::Options;
use rnats_engine::server::local::{LocalClient, LocalError, LocalOptions};
use rnats_engine::server::Server;
use rnats_host::logger::Logger;
use rnats_host::runtime::{self, Runtime};
use rnats_host::serve::TaskTracker;
use rnats_host::{client, clock, seed};
use rnats_smol::Smol;
use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args()
        .nth(1)
        .map_or(Ok(4222), |port| port.parse())?;
    let nats = Embedded::start(Options {
        host: "127.0.0.1".into(),
        port: Some(port),
        ..Options::default()
    })?;
    println!("embedded NATS server listening on {}", nats.addr());
    let greeter = greeter(nats.client("greeter")?)?;
    nats.run(greeter)?;
    Ok(())
}

/// The program's own service, talking to the server in-process: answers requests on
/// `greet.<name>` with `hello, <name>` and announces each greeting on `greeted.<name>`.
/// Subscribes at once, so the service is there before the first TCP client can ask; the
/// returned future serves it.
pub fn greeter(
    mut nats: LocalClient,
) -> Result<impl Future<Output = Result<(), LocalError>>, LocalError> {
    nats.subscribe("greet.*")?;
    Ok(async move {
        while let Some(request) = nats.next_message().await {
            let name = request.subject.strip_prefix(b"greet.").unwrap_or_default();
            let greeting = [&b"hello, "[..], name].concat();
            if let Some(reply) = &request.reply {
                nats.publish(reply, &greeting)?;
            }
            nats.publish([&b"greeted."[..], name].concat(), &greeting)?;
        }
        Ok(())
    })
}

/// A NATS server inside this program: a TCP listener and its clients, served by whichever
/// thread calls [`Embedded::run`], plus in-process clients from [`Embedded::client`].
pub struct Embedded {
    rt: Smol,
    server: Arc<Server>,
    addr: SocketAddr,
}

impl Embedded {
    /// Listen on `options.host:options.port` (port 0 picks a free one) and get ready to
    /// serve; nothing runs until [`Embedded::run`].
    pub fn start(mut options: Options) -> io::Result<Embedded> {
        let rt = Smol::new();
        let (listener, addr) = runtime::listen(&rt, &options.host, options.port.unwrap_or(0))?;
        options.port = Some(addr.port());
        let log = Arc::new(Logger::new(&options)?);
        let server = Server::new(options, seed(), clock::now());
        rt.spawn(accept_loop(rt.clone(), server.clone(), listener, log));
        Ok(Embedded { rt, server, addr })
    }

    /// The address TCP clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine's server, e.g. for monitoring (`rnats_engine::monitor`) or a reload.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// A new in-process client named `name` (shown by `/connz`).
    pub fn client(&self, name: &str) -> Result<LocalClient, LocalError> {
        let options = LocalOptions {
            name: Some(name.into()),
            ..LocalOptions::default()
        };
        LocalClient::connect(&self.server, &options, clock::now)
    }

    /// Serve TCP clients on this thread while running `app` (the program's own tasks);
    /// returns what `app` returns.
    pub fn run<T>(&self, app: impl Future<Output = T>) -> T {
        self.rt.block_on(app)
    }
}

/// Accept TCP clients for as long as the program runs; each is `rnats_host`'s client loop.
async fn accept_loop(
    rt: Smol,
    server: Arc<Server>,
    listener: Async<TcpListener>,
    log: Arc<Logger>,
) {
    let tasks = TaskTracker::default();
    loop {
        match runtime::accept(&rt, &listener).await {
            Ok(conn) => {
                let serve =
                    client::serve(rt.clone(), server.clone(), conn, log.clone(), tasks.clone());
                rt.spawn(tasks.track(serve));
            }
            Err(e) => {
                let what = format!("Error accepting client connection: {e}");
                runtime::pause_after_accept_error(&rt, &log, &what).await;
            }
        }
    }
}
