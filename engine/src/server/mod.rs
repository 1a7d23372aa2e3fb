//! The server state machine.
//!
//! # Driving contract
//!
//! A frontend owns the sockets, the timers and the tasks; the engine owns every decision.
//!
//! 1. Build one [`Server`] from [`Options`](crate::options::Options) (resolve `port` to the
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
//!    what was handed over, then shut the socket). If a write takes longer than
//!    `write_deadline`, call [`ConnShared::close`] with
//!    [`CloseReason::SlowConsumerWriteDeadline`].
//!
//! Deliveries from one connection to others append to the targets' outbound queues and
//! wake their writers once per `handle_bytes` call, never per message. Publishing takes no
//! global lock: subject lookups go through a per-connection cache over a read-locked
//! sublist.

mod conn;
pub mod connect;
mod info;
mod outbound;
mod shared;
mod subscription;

pub use conn::Connection;
pub use outbound::{CloseReason, WriteEvent, SHARE_PAYLOAD_AT};
pub use shared::{ConnMeta, ConnShared, Counters};
pub use subscription::{SubRef, Subscription};

use crate::auth::Authenticator;
use crate::options::Options;
use crate::prelude::*;
use crate::sublist::SharedSublist;
use crate::sync::Mutex;
use crate::time::Instant;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use hashbrown::HashMap;

/// The nats-server version whose client-facing behaviour rnats implements.
pub const NATS_VERSION: &str = "2.10.0";
/// The rnats version.
pub const RNATS_VERSION: &str = env!("CARGO_PKG_VERSION");

/// A subject namespace with its own subscriptions.
#[derive(Debug)]
pub struct Account {
    /// Account name (`$G` is the global account).
    pub name: String,
    /// Who is interested in what.
    pub sublist: SharedSublist<SubRef>,
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

/// One server: options, accounts, connections, counters. Shared by every connection task.
#[derive(Debug)]
pub struct Server {
    options: Options,
    id: String,
    name: String,
    auth: Authenticator,
    account: Arc<Account>,
    conns: Mutex<HashMap<u64, Arc<ConnShared>>>,
    next_cid: AtomicU64,
    num_conns: AtomicUsize,
    /// Server-wide counters.
    pub stats: ServerStats,
    start: Instant,
    seed: u64,
    /// `/varz` request counters and CPU sample.
    pub(crate) monitor: crate::monitor::MonitorState,
}

impl Server {
    /// A server with these options. `seed` is entropy from the frontend (server id,
    /// queue member choice); `now` is the start time.
    pub fn new(options: Options, seed: u64, now: Instant) -> Arc<Server> {
        let id = info::server_id(seed);
        let name = options.server_name.clone().unwrap_or_else(|| id.clone());
        Arc::new(Server {
            auth: Authenticator::new(&options.authorization),
            options,
            name,
            id,
            account: Arc::new(Account {
                name: "$G".to_string(),
                sublist: SharedSublist::new(),
            }),
            conns: Mutex::new(HashMap::new()),
            next_cid: AtomicU64::new(1),
            num_conns: AtomicUsize::new(0),
            stats: ServerStats::default(),
            start: now,
            seed,
            monitor: crate::monitor::MonitorState::default(),
        })
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
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
        &self.account
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
        self.account.sublist.count()
    }

    /// Accept a new client connection. Its INFO (and, over `max_connections`, its
    /// `-ERR 'maximum connections exceeded'` and close) is queued on the returned
    /// connection's outbound side.
    pub fn accept(self: &Arc<Self>, peer: PeerAddr, now: Instant) -> Connection {
        let cid = self.next_cid.fetch_add(1, Ordering::Relaxed);
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        let meta = ConnMeta {
            ip: peer.ip,
            port: peer.port,
            start: now,
            last_activity: now,
            ..ConnMeta::default()
        };
        let shared = Arc::new(ConnShared::new(cid, meta));
        let over_limit =
            self.num_conns.fetch_add(1, Ordering::Relaxed) >= self.options.max_connections;
        self.conns.lock().insert(cid, shared.clone());
        Connection::new(self.clone(), shared, now, over_limit)
    }

    pub(crate) fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
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
