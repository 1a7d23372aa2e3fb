//! # rnats-ws
//!
//! The WebSocket listener of `rnats-server`, configured as nats-server's `websocket`
//! block, serving browsers (the official `nats.ws` client, rnats's own wasm client) from
//! the same engine [`Server`] as the TCP listener: one subject space, one `/connz`.
//!
//! It is a [`Gateway`] of `rnats_host::serve::run_with`, written against the host's
//! [`Runtime`] trait like the TCP listener, so any native frontend can serve WebSocket
//! clients. Per connection:
//!
//! 1. the HTTP upgrade ([`handshake`], by tokio-tungstenite), with nats-server's `Origin`
//!    checks (`same_origin`, `allowed_origins` → `403`), the optional
//!    `handshake_timeout`, no subprotocol and no compression;
//! 2. an engine connection of type `websocket` ([`Server::accept_as`]), authenticated by
//!    the block's own `authorization`/`no_auth_user` when it has them;
//! 3. the shared client loops of `rnats_host::client`, over [`codec::WsReader`] and
//!    [`codec::WsWriter`], which turn frames into the NATS byte stream and back.
//!
//! With a `tls` block the listener serves `wss://` ([`rnats_host::tls`]): the TLS handshake comes
//! first, and `handshake_timeout` bounds it and the upgrade together, as in nats-server.
#![warn(missing_docs)]

pub mod codec;
pub mod handshake;

use futures_io::{AsyncRead, AsyncWrite};
use rnats_engine::options::Options;
use rnats_engine::server::{ClientType, PeerAddr, Server, TlsSession};
use rnats_engine::websocket::OriginPolicy;
use rnats_host::client;
use rnats_host::clock;
use rnats_host::logger::Logger;
use rnats_host::runtime::{self, Runtime};
use rnats_host::serve::{Gateway, TaskTracker};
use rnats_host::tls::{self, ListenerTls, TlsAcceptor};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The WebSocket listener, when the options have an enabled `websocket` block.
pub struct WebsocketGateway<R: Runtime> {
    bound: Option<(R::Listener, SocketAddr, String)>,
    /// The TLS side, with a `tls` block.
    tls: Option<ListenerTls>,
}

impl<R: Runtime> Default for WebsocketGateway<R> {
    fn default() -> Self {
        WebsocketGateway {
            bound: None,
            tls: None,
        }
    }
}

impl<R: Runtime> WebsocketGateway<R> {
    /// A gateway that listens if the options ask for it.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<R: Runtime> Gateway<R> for WebsocketGateway<R> {
    fn bind(&mut self, rt: &R, opts: &mut Options) -> Result<(), String> {
        if !opts.websocket.as_ref().is_some_and(|ws| ws.enabled()) {
            return Ok(());
        }
        // Certificates first: a bad one stops the server before anything listens.
        self.tls = ListenerTls::new(opts, websocket_tls, "websocket")?;
        let Some(ws) = opts.websocket.as_mut() else {
            return Ok(());
        };
        let port = ws.port.unwrap_or(0);
        let (listener, addr) = runtime::listen(rt, &ws.host, port)
            .map_err(|e| format!("Unable to listen for websocket connections: {e}"))?;
        ws.port = Some(addr.port());
        self.bound = Some((listener, addr, ws.host.clone()));
        Ok(())
    }

    fn log_listening(&self, log: &Logger) {
        if let Some((_, addr, host)) = &self.bound {
            let scheme = if self.tls.is_some() { "wss" } else { "ws" };
            log.info(&format!(
                "Listening for websocket clients on {scheme}://{host}:{}",
                addr.port()
            ));
            if self.tls.is_none() {
                log.warn("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
            }
        }
    }

    fn serve(
        self: Box<Self>,
        rt: R,
        server: Arc<Server>,
        log: Arc<Logger>,
        tasks: TaskTracker,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let Some((listener, _, _)) = self.bound else {
                return std::future::pending().await;
            };
            let mut tls = self.tls;
            let policy = Arc::new(
                server
                    .options()
                    .websocket
                    .as_ref()
                    .map(OriginPolicy::new)
                    .unwrap_or_default(),
            );
            loop {
                match runtime::accept(&rt, &listener).await {
                    Ok(accepted) => {
                        let acceptor = tls.as_mut().map(|t| t.current(&server, &log));
                        let conn = connection(
                            rt.clone(),
                            server.clone(),
                            policy.clone(),
                            acceptor,
                            accepted,
                            log.clone(),
                            tasks.clone(),
                        );
                        rt.spawn(tasks.track(conn));
                    }
                    Err(e) => {
                        let what = format!("Error accepting websocket connection: {e}");
                        runtime::pause_after_accept_error(&rt, &log, &what).await;
                    }
                }
            }
        })
    }
}

/// The `websocket` block's `tls` block.
fn websocket_tls(options: &Options) -> Option<&rnats_engine::options::TlsOptions> {
    options.websocket.as_ref().and_then(|ws| ws.tls.as_ref())
}

/// One WebSocket client: the TLS handshake with a `tls` block, the upgrade, then the
/// engine connection over frames.
async fn connection<R: Runtime>(
    rt: R,
    server: Arc<Server>,
    policy: Arc<OriginPolicy>,
    tls: Option<TlsAcceptor>,
    (reader, writer, peer): (R::Reader, R::Writer, SocketAddr),
    log: Arc<Logger>,
    tasks: TaskTracker,
) {
    let started = Instant::now();
    let limit = server
        .options()
        .websocket
        .as_ref()
        .and_then(|ws| ws.handshake_timeout);
    let Some(acceptor) = tls else {
        let client = (reader, writer, peer, None);
        return upgrade(rt, server, policy, client, started, limit, log, tasks).await;
    };
    let handshake = acceptor.accept(tls::Joined::new(reader, writer));
    let stream = match within(&rt, started, limit, handshake).await {
        Some(Ok(stream)) => stream,
        Some(Err(e)) => {
            // nats-server's HTTP server logs these the same way (its error text is Go's).
            log.error(&format!(
                "websocket: TLS handshake error from {}:{}: {e}",
                peer.ip(),
                peer.port()
            ));
            return;
        }
        None => return,
    };
    let session = tls::session(&stream);
    let (reader, writer) = tls::split(stream);
    let client = (reader, writer, peer, Some(session));
    upgrade(rt, server, policy, client, started, limit, log, tasks).await;
}

/// Run `fut` until `limit` after `started` (no limit: `None`); `None` when time ran out.
async fn within<R: Runtime, F: Future>(
    rt: &R,
    started: Instant,
    limit: Option<Duration>,
    fut: F,
) -> Option<F::Output> {
    match limit {
        Some(limit) => {
            let left = limit.saturating_sub(started.elapsed());
            runtime::timeout(rt, left, fut).await
        }
        None => Some(fut.await),
    }
}

/// The HTTP upgrade on an accepted (and, with TLS, decrypted: `session`) connection, then
/// the engine connection over frames.
#[allow(clippy::too_many_arguments)]
async fn upgrade<R, Rd, Wr>(
    rt: R,
    server: Arc<Server>,
    policy: Arc<OriginPolicy>,
    (mut reader, mut writer, peer, session): (Rd, Wr, SocketAddr, Option<TlsSession>),
    started: Instant,
    limit: Option<Duration>,
    log: Arc<Logger>,
    tasks: TaskTracker,
) where
    R: Runtime,
    Rd: AsyncRead + Unpin,
    Wr: AsyncWrite + Unpin + Send + 'static,
{
    let outcome = match within(
        &rt,
        started,
        limit,
        handshake::accept(&mut reader, &mut writer, &policy),
    )
    .await
    {
        Some(outcome) => outcome,
        // As nats-server's HTTP server: the connection is dropped without a word.
        None => return,
    };
    let upgraded = match outcome {
        Ok(upgraded) => upgraded,
        Err(handshake::Refused(Some(reason))) => {
            log.error(&format!(
                "{}:{} - websocket handshake error: {reason}",
                peer.ip(),
                peer.port()
            ));
            return;
        }
        Err(handshake::Refused(None)) => return,
    };
    let ip = upgraded.forwarded_for.unwrap_or(peer.ip());
    let addr = PeerAddr {
        ip: ip.to_string(),
        port: peer.port(),
    };
    let conn = server.accept_as(addr, clock::now(), ClientType::WebSocket);
    if let Some(session) = session {
        conn.shared().set_tls(session);
    }
    let link = codec::Link::new(conn.shared().clone());
    let reader = codec::WsReader::new(reader, link.clone());
    let writer = codec::WsWriter::new(writer, link);
    client::serve_connection(rt, &server, conn, (reader, writer), log, tasks).await;
}
