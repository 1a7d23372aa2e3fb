//! The server state machine.
//!
//! # Driving contract
//!
//! A frontend owns the sockets, the timers and the tasks; the engine owns every decision.
//!
//! 1. Build one [`Server`] from [`Options`] (resolve `port` to the
//!    bound port first) and share it (`Arc<Server>`) between all connection tasks.
//! 2. On accept, call [`Server::accept`]. It returns a [`Connection`] (the per-connection
//!    state machine, owned by that connection's read task) whose INFO is already queued.
//! 3. Read task: append received bytes to a `BytesMut` and call
//!    [`Connection::handle_bytes`]; it consumes every complete op and leaves a partial one
//!    in the buffer. Wait on three things at once: socket readable, the deadline of
//!    [`Connection::poll_timeout`] (then call [`Connection::handle_timeout`]), and
//!    [`ConnShared::poll_closed`] (the engine closed the connection). Re-read
//!    `poll_timeout` after every call into the connection. When the socket ends or the
//!    connection is closed, call [`Connection::close`] exactly once.
//! 4. Write task: loop on [`ConnShared::poll_write`], which hands over every queued chunk
//!    (write them with one vectored write) or reports that the connection is closed (flush
//!    what was handed over, then shut the socket). `Data` with no chunks follows
//!    [`ConnShared::wake_writer`]: flush the transport's own output (a WebSocket pong).
//!    If a write takes longer than `write_deadline`, call [`ConnShared::close`] with
//!    [`CloseReason::SlowConsumerWriteDeadline`].
//!
//! Deliveries from one connection to others append to the targets' outbound queues and
//! wake their writers once per `handle_bytes` call, never per message. Publishing takes no
//! global lock: subject lookups go through a per-connection cache over a read-locked
//! sublist.
//!
//! A program that embeds the server talks to it in-process through [`local::LocalClient`],
//! a [`Connection`] fed bytes directly.

mod closed;
mod conn;
pub mod connect;
mod info;
pub mod local;
mod outbound;
mod shared;
mod subscription;
mod trace;

pub use closed::{ClosedConn, ClosedSubscription, MAX_CLOSED_CLIENTS};
pub use conn::{Connection, STALL};
pub use outbound::{CloseReason, WriteEvent, SHARE_PAYLOAD_AT};
pub use shared::{ConnMeta, ConnShared, Counters, TlsSession};
pub use subscription::{SubRef, Subscription};

use crate::auth::Authenticator;
use crate::error::ClientError;
use crate::options::Options;
use crate::prelude::*;
use crate::sublist::SharedSublist;
use crate::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use crate::sync::{Mutex, RwLock};
use crate::time::Instant;
use core::time::Duration;
use hashbrown::HashMap;

/// The nats-server version whose client-facing behaviour rnats implements.
pub const NATS_VERSION: &str = "2.10.0";
/// The rnats version.
pub const RNATS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The name of the global account.
pub const GLOBAL_ACCOUNT: &str = "$G";

/// A subject namespace with its own subscriptions.
#[derive(Debug)]
pub struct Account {
    /// Account name (`$G` is the global account).
    pub name: String,
    /// Who is interested in what.
    pub sublist: SharedSublist<SubRef>,
}

impl Account {
    fn new(name: &str) -> Account {
        Account {
            name: name.to_string(),
            sublist: SharedSublist::new(),
        }
    }
}

/// How lame duck mode closes clients: wait `grace`, then close `batch` clients every
/// `interval` so that all are gone by the end of `lame_duck_duration` (nats-server's plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LameDuckSchedule {
    /// Wait before the first close.
    pub grace: Duration,
    /// Clients closed at a time.
    pub batch: usize,
    /// Pause between batches.
    pub interval: Duration,
}

/// Plan the closing of `clients` connections in lame duck mode.
pub fn lame_duck_schedule(options: &Options, clients: usize) -> LameDuckSchedule {
    let grace = options.lame_duck_grace_period;
    let spread = options.lame_duck_duration.saturating_sub(grace);
    let clients = clients.max(1);
    let mut interval = spread / clients as u32;
    let mut batch = 1;
    let min = Duration::from_millis(1);
    if interval < min {
        interval = min;
        let slots = (spread.as_millis() as usize).max(1);
        batch = clients.div_ceil(slots);
    }
    LameDuckSchedule {
        grace,
        batch,
        interval,
    }
}

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Messages and bytes in and out.
    pub counters: Counters,
    /// Connections closed as slow consumers.
    pub slow_consumers: AtomicU64,
    /// Connections closed as stale.
    pub stale_connections: AtomicU64,
    /// Connections accepted since start.
    pub total_connections: AtomicU64,
}

/// Where the peer of a new connection is.
#[derive(Debug, Clone, Default)]
pub struct PeerAddr {
    /// IP address as text.
    pub ip: String,
    /// Port.
    pub port: u16,
}

/// The configuration in force; replaced as a whole on reload.
#[derive(Debug, Clone)]
struct Live {
    options: Arc<Options>,
    auth: Arc<Authenticator>,
    /// WebSocket clients' authenticator: the `websocket` block's own authentication when
    /// it sets one (nats-server's `authOverride`), else `auth`'s users, checked as
    /// `WEBSOCKET` connections (`allowed_connection_types`).
    websocket_auth: Option<Arc<Authenticator>>,
}

impl Live {
    fn authenticator_for(&self, client_type: ClientType) -> Arc<Authenticator> {
        match (client_type, &self.websocket_auth) {
            (ClientType::WebSocket, Some(ws)) => ws.clone(),
            _ => self.auth.clone(),
        }
    }

    fn new(options: Options) -> Live {
        let websocket_auth = options.websocket.as_ref().map(|ws| {
            Arc::new(if ws.auth_override() {
                Authenticator::for_websocket(&options, ws)
            } else {
                Authenticator::new(&options).for_connection_type("WEBSOCKET")
            })
        });
        Live {
            auth: Arc::new(Authenticator::new(&options)),
            websocket_auth,
            options: Arc::new(options),
        }
    }
}

/// How a client reached the server (`type` in `/connz`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientType {
    /// The NATS protocol over TCP.
    #[default]
    Nats,
    /// The NATS protocol in WebSocket frames (the `websocket` listener).
    WebSocket,
}

impl ClientType {
    /// nats-server's name for it in `/connz`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientType::Nats => "nats",
            ClientType::WebSocket => "websocket",
        }
    }
}

/// One server: options, accounts, connections, counters. Shared by every connection task.
#[derive(Debug)]
pub struct Server {
    live: RwLock<Live>,
    /// Bumped on every reload; connections refresh their snapshot when it changes.
    config_generation: AtomicU64,
    id: String,
    name: String,
    global: Arc<Account>,
    accounts: Mutex<HashMap<String, Arc<Account>>>,
    conns: Mutex<HashMap<u64, Arc<ConnShared>>>,
    /// The most recently closed connections (`/connz?state=closed`).
    closed: closed::ClosedConns,
    /// Where protocol traces go (see [`Server::with_log`]).
    log: Option<Log>,
    next_cid: AtomicU64,
    num_conns: AtomicUsize,
    lame_duck: AtomicBool,
    /// Server-wide counters.
    pub stats: ServerStats,
    pub(crate) monitor: crate::monitor::MonitorState,
    start: Instant,
    seed: u64,
}

/// The server's [`LogSink`](crate::log::LogSink).
struct Log(Arc<dyn crate::log::LogSink>);

impl core::fmt::Debug for Log {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Log")
    }
}

impl Server {
    /// A server with these options. `seed` is entropy from the frontend (server id,
    /// queue member choice); `now` is the start time.
    pub fn new(options: Options, seed: u64, now: Instant) -> Arc<Server> {
        Self::build(options, seed, now, None)
    }

    /// [`Server::new`] with a log for the lines the engine makes itself: refused clients
    /// (`[ERR] … - authentication error`, …) and, with the `trace` option (`-V`), every
    /// protocol operation in and out, as nats-server logs them.
    pub fn with_log(
        options: Options,
        seed: u64,
        now: Instant,
        log: Arc<dyn crate::log::LogSink>,
    ) -> Arc<Server> {
        Self::build(options, seed, now, Some(log))
    }

    fn build(
        options: Options,
        seed: u64,
        now: Instant,
        log: Option<Arc<dyn crate::log::LogSink>>,
    ) -> Arc<Server> {
        let id = info::server_id(seed);
        let name = options.server_name.clone().unwrap_or_else(|| id.clone());
        let server = Arc::new(Server {
            live: RwLock::new(Live::new(options)),
            config_generation: AtomicU64::new(0),
            name,
            id,
            global: Arc::new(Account::new(GLOBAL_ACCOUNT)),
            accounts: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            closed: closed::ClosedConns::default(),
            log: log.map(Log),
            next_cid: AtomicU64::new(1),
            num_conns: AtomicUsize::new(0),
            lame_duck: AtomicBool::new(false),
            stats: ServerStats::default(),
            monitor: crate::monitor::MonitorState::default(),
            start: now,
            seed,
        });
        server.register_accounts();
        server
    }

    /// Make sure every configured account exists (existing ones keep their interest).
    fn register_accounts(&self) {
        let options = self.options();
        let mut accounts = self.accounts.lock();
        for a in &options.accounts {
            accounts
                .entry(a.name.clone())
                .or_insert_with(|| Arc::new(Account::new(&a.name)));
        }
    }

    /// The account called `name` (`None` or `$G`: the global account).
    pub fn account_named(&self, name: Option<&str>) -> Arc<Account> {
        match name {
            None => self.global.clone(),
            Some(n) if n == GLOBAL_ACCOUNT => self.global.clone(),
            Some(n) => self
                .accounts
                .lock()
                .entry(n.to_string())
                .or_insert_with(|| Arc::new(Account::new(n)))
                .clone(),
        }
    }

    /// Every account, the global one first.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let mut v = vec![self.global.clone()];
        let mut rest: Vec<_> = self.accounts.lock().values().cloned().collect();
        rest.sort_by(|a, b| a.name.cmp(&b.name));
        v.extend(rest);
        v
    }

    /// Replace the configuration (SIGHUP). Listen addresses, the server name and the
    /// monitoring port cannot change while running; they are kept and named in the
    /// returned list. Connections whose credentials no longer pass are sent
    /// `-ERR 'Authorization Violation'` and closed; the others pick up new limits and
    /// permissions at their next input.
    pub fn reload(&self, mut options: Options) -> Vec<&'static str> {
        let current = self.options();
        let mut kept = Vec::new();
        if options.host != current.host || (options.port.is_some() && options.port != current.port)
        {
            kept.push("listen");
        }
        options.host = current.host.clone();
        options.port = current.port;
        if options.http_port != current.http_port || options.http_host != current.http_host {
            kept.push("http");
        }
        options.http_port = current.http_port;
        options.http_host = current.http_host.clone();
        if options.server_name != current.server_name {
            kept.push("server_name");
        }
        options.server_name = current.server_name.clone();
        // nats-server refuses to reload a changed websocket block, but for its `tls`: the
        // listener, origin rules and authentication stay as they were started, new
        // certificates serve new connections.
        let new_ws_tls = options.websocket.as_ref().and_then(|ws| ws.tls.clone());
        let websocket_changed = match (&options.websocket, &current.websocket) {
            (Some(new), Some(running)) => {
                let mut new = new.clone();
                if new.port == Some(0) {
                    new.port = running.port;
                }
                // TLS on or off is a different listener; only the certificates may change.
                if new.tls.is_some() == running.tls.is_some() {
                    new.tls = running.tls.clone();
                }
                new != *running
            }
            (new, running) => new != running,
        };
        if websocket_changed {
            kept.push("websocket");
        }
        options.websocket = current.websocket.clone();
        if let Some(ws) = options.websocket.as_mut().filter(|_| !websocket_changed) {
            ws.tls = new_ws_tls;
        }
        // The client port's TLS: new certificates apply to new connections (frontends
        // rebuild their acceptor when the configuration generation moves); turning TLS on
        // or off needs a restart.
        if options.tls.is_some() != current.tls.is_some() {
            kept.push("tls");
            options.tls = current.tls.clone();
        }
        let live = Live::new(options);
        *self.live.write() = live.clone();
        self.register_accounts();
        self.config_generation.fetch_add(1, Ordering::Release);
        for conn in self.connections() {
            let auth = live.authenticator_for(conn.meta.lock().client_type);
            let still_allowed = match &*conn.credentials.lock() {
                Some(creds) => auth.authenticate(creds, &conn.nonce).is_some(),
                None => !auth.is_required(),
            };
            if !still_allowed {
                conn.fail(
                    &ClientError::AuthorizationViolation,
                    CloseReason::AuthenticationViolation,
                );
            }
        }
        kept
    }

    /// Enter lame duck mode: new connections are refused by the frontend, and every
    /// client that understands async INFO (`protocol: 1`) is told with `"ldm": true` so
    /// it can reconnect elsewhere. The frontend then closes clients following
    /// [`lame_duck_schedule`].
    pub fn enter_lame_duck(&self) {
        self.lame_duck.store(true, Ordering::Relaxed);
        for conn in self.connections() {
            if conn.protocol.load(Ordering::Relaxed) >= 1 {
                let (ip, client_type) = {
                    let meta = conn.meta.lock();
                    (meta.ip.clone(), meta.client_type)
                };
                let json = info::info_json(self, conn.id(), &ip, client_type, "");
                conn.queue_info(&json);
            }
        }
    }

    /// Whether the server is in lame duck mode.
    pub fn in_lame_duck(&self) -> bool {
        self.lame_duck.load(Ordering::Relaxed)
    }

    /// The options in force (a snapshot; a reload replaces them).
    pub fn options(&self) -> Arc<Options> {
        self.live.read().options.clone()
    }

    pub(crate) fn authenticator(&self) -> Arc<Authenticator> {
        self.live.read().auth.clone()
    }

    /// The authenticator for clients of this type (WebSocket clients may have their own).
    pub(crate) fn authenticator_for(&self, client_type: ClientType) -> Arc<Authenticator> {
        self.live.read().authenticator_for(client_type)
    }

    /// Bumped by every [`Server::reload`]: what a frontend derived from the options (a TLS
    /// acceptor, say) is rebuilt when this moves.
    pub fn config_generation(&self) -> u64 {
        self.config_generation.load(Ordering::Acquire)
    }

    /// The server id (`N…`, 56 characters).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The server name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the server started.
    pub fn start_time(&self) -> Instant {
        self.start
    }

    /// The global account.
    pub fn account(&self) -> &Arc<Account> {
        &self.global
    }

    /// Number of open client connections.
    pub fn num_connections(&self) -> usize {
        self.num_conns.load(Ordering::Relaxed)
    }

    /// The open connections, ordered by id.
    pub fn connections(&self) -> Vec<Arc<ConnShared>> {
        let mut v: Vec<_> = self.conns.lock().values().cloned().collect();
        v.sort_by_key(|c| c.id());
        v
    }

    /// Number of subscriptions in all accounts.
    pub fn num_subscriptions(&self) -> usize {
        self.accounts().iter().map(|a| a.sublist.count()).sum()
    }

    /// Accept a new client connection. Its INFO (and, over `max_connections`, its
    /// `-ERR 'maximum connections exceeded'` and close) is queued on the returned
    /// connection's outbound side.
    pub fn accept(self: &Arc<Self>, peer: PeerAddr, now: Instant) -> Connection {
        self.accept_as(peer, now, ClientType::Nats)
    }

    /// [`Server::accept`] for a client that came in another way (e.g. the WebSocket
    /// listener): it is listed with that type in `/connz`, and WebSocket clients are
    /// authenticated by the `websocket` block's `authorization` when it has one.
    pub fn accept_as(
        self: &Arc<Self>,
        peer: PeerAddr,
        now: Instant,
        client_type: ClientType,
    ) -> Connection {
        let cid = self.next_cid.fetch_add(1, Ordering::Relaxed);
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let meta = ConnMeta {
            ip: peer.ip,
            port: peer.port,
            start: now,
            last_activity: now,
            client_type,
            ..ConnMeta::default()
        };
        let nonce = if self.authenticator_for(client_type).needs_nonce() {
            // Unique per connection of this server (cid) and across runs (seed).
            let mut state = self.seed ^ cid.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let high = u128::from(info::splitmix64(&mut state));
            crate::nkey::nonce(high << 64 | u128::from(info::splitmix64(&mut state)))
        } else {
            String::new()
        };
        let shared = Arc::new(ConnShared::new(cid, meta, nonce));
        let over_limit =
            self.num_conns.fetch_add(1, Ordering::Relaxed) >= self.options().max_connections;
        self.conns.lock().insert(cid, shared.clone());
        Connection::new(self.clone(), shared, now, over_limit)
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The most recently closed connections, oldest first (at most
    /// [`MAX_CLOSED_CLIENTS`]).
    pub fn closed_connections(&self) -> Vec<Arc<ClosedConn>> {
        self.closed.list()
    }

    /// Whether protocol operations are traced now (`trace` on, and a log to trace to).
    pub(crate) fn tracing(&self) -> bool {
        self.log.is_some() && self.options().trace
    }

    /// Write a line the engine makes itself (a trace, a refused client) to the log, if
    /// the server has one.
    pub(crate) fn log(&self, level: crate::log::Level, message: &str) {
        if let Some(Log(log)) = &self.log {
            log.log(level, message);
        }
    }

    pub(crate) fn remember_closed(&self, conn: ClosedConn) {
        self.closed.push(conn);
    }

    pub(crate) fn remove_connection(&self, cid: u64) {
        if self.conns.lock().remove(&cid).is_some() {
            self.num_conns.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Close every connection (shutdown). Frontends then wait for their tasks to end.
    pub fn close_all(&self, reason: CloseReason) {
        for conn in self.connections() {
            conn.close(reason);
        }
    }
}
