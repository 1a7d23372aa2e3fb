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
//! TLS (`wss://`) is not supported yet: the block must say `no_tls: true`.
#![warn(missing_docs)]

pub mod codec;
pub mod handshake;

use rnats_engine::options::Options;
use rnats_engine::server::{ClientType, PeerAddr, Server};
use rnats_engine::websocket::OriginPolicy;
use rnats_host::client;
use rnats_host::clock;
use rnats_host::logger::Logger;
use rnats_host::runtime::{self, Runtime};
use rnats_host::serve::{Gateway, TaskTracker};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

/// The WebSocket listener, when the options have an enabled `websocket` block.
pub struct WebsocketGateway<R: Runtime> {
    bound: Option<(R::Listener, SocketAddr, String)>,
}

impl<R: Runtime> Default for WebsocketGateway<R> {
    fn default() -> Self {
        WebsocketGateway { bound: None }
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
        let Some(ws) = opts.websocket.as_mut().filter(|ws| ws.enabled()) else {
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
            log.info(&format!(
                "Listening for websocket clients on ws://{host}:{}",
                addr.port()
            ));
            log.warn("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
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
                        let conn = connection(
                            rt.clone(),
                            server.clone(),
                            policy.clone(),
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

/// One WebSocket client: the upgrade, then the engine connection over frames.
async fn connection<R: Runtime>(
    rt: R,
    server: Arc<Server>,
    policy: Arc<OriginPolicy>,
    (mut reader, mut writer, peer): (R::Reader, R::Writer, SocketAddr),
    log: Arc<Logger>,
    tasks: TaskTracker,
) {
    let timeout = server
        .options()
        .websocket
        .as_ref()
        .and_then(|ws| ws.handshake_timeout);
    let upgrade = handshake::accept(&mut reader, &mut writer, &policy);
    let outcome = match timeout {
        Some(limit) => match runtime::timeout(&rt, limit, upgrade).await {
            Some(outcome) => outcome,
            // As nats-server's HTTP server: the connection is dropped without a word.
            None => return,
        },
        None => upgrade.await,
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
    let link = codec::Link::new(conn.shared().clone());
    let reader = codec::WsReader::new(reader, link.clone());
    let writer = codec::WsWriter::new(writer, link);
    client::serve_connection(rt, &server, conn, (reader, writer, peer), log, tasks).await;
}
