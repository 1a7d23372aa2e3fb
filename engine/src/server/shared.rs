//! The part of a connection that other connections and the monitor touch: its outbound
//! queue, counters, subscriptions and descriptive metadata.

use super::connect::ConnectOptions;
use super::outbound::{CloseReason, Outbound, WriteEvent};
use super::subscription::Subscription;
use crate::error::ClientError;
use crate::prelude::*;
use crate::proto::encode;
use crate::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use crate::sync::{Mutex, MutexGuard};
use crate::time::Instant;
use alloc::collections::VecDeque;
use bytes::Bytes;
use core::task::{Context, Poll};
use core::time::Duration;
use hashbrown::HashMap;

/// Message and byte counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages received.
    pub in_msgs: AtomicU64,
    /// Payload bytes received.
    pub in_bytes: AtomicU64,
    /// Messages sent.
    pub out_msgs: AtomicU64,
    /// Payload bytes sent.
    pub out_bytes: AtomicU64,
}

impl Counters {
    pub(crate) fn add_in(&self, msgs: u64, bytes: u64) {
        self.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn add_out(&self, msgs: u64, bytes: u64) {
        self.out_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.out_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// One message of `bytes` delivered to a connection; `locked` is that connection's
    /// outbound queue, locked by the caller. Every delivery to a connection holds its
    /// outbound lock, so the counts are plain loads and stores rather than atomic
    /// read-modify-writes on a cache line that publishers on other cores share; they stay
    /// atomics so that monitoring reads them without the lock. Never used on counters
    /// updated without such a lock (the server-wide ones).
    pub(crate) fn count_out(&self, locked: &Outbound, bytes: usize) {
        let _ = locked;
        let msgs = self.out_msgs.load(Ordering::Relaxed);
        self.out_msgs.store(msgs + 1, Ordering::Relaxed);
        let total = self.out_bytes.load(Ordering::Relaxed);
        self.out_bytes
            .store(total + bytes as u64, Ordering::Relaxed);
    }

    /// (in_msgs, in_bytes, out_msgs, out_bytes)
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.in_msgs.load(Ordering::Relaxed),
            self.in_bytes.load(Ordering::Relaxed),
            self.out_msgs.load(Ordering::Relaxed),
            self.out_bytes.load(Ordering::Relaxed),
        )
    }
}

/// Reply subject → (replies left, expiry): what `allow_responses` lets a connection publish to.
pub(crate) type ResponseGrants = HashMap<Box<[u8]>, (usize, Option<Instant>)>;

/// Descriptive data of a connection, for monitoring.
#[derive(Debug, Clone, Default)]
pub struct ConnMeta {
    /// Peer IP address.
    pub ip: String,
    /// Peer port.
    pub port: u16,
    /// When the connection was accepted.
    pub start: Instant,
    /// Last time anything arrived from the client.
    pub last_activity: Instant,
    /// Client name from CONNECT.
    pub name: String,
    /// Client language from CONNECT.
    pub lang: String,
    /// Client version from CONNECT.
    pub version: String,
    /// User the client authenticated as.
    pub user: Option<String>,
    /// Round-trip time measured with the server's first PING.
    pub rtt: Option<Duration>,
    /// How the client connected (TCP or WebSocket).
    pub client_type: super::ClientType,
    /// The TLS session, when the client connected over TLS.
    pub tls: Option<TlsSession>,
}

/// What `/connz` shows of a client's TLS session, in nats-server's words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSession {
    /// `1.2` or `1.3`.
    pub version: String,
    /// The cipher suite by its IANA name (Go's), e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
}

/// The shared half of a connection.
#[derive(Debug)]
pub struct ConnShared {
    id: u64,
    outbound: Mutex<Outbound>,
    /// Counters of this connection.
    pub counters: Counters,
    pub(crate) headers: AtomicBool,
    pub(crate) meta: Mutex<ConnMeta>,
    pub(crate) subs: Mutex<HashMap<Box<[u8]>, Arc<Subscription>>>,
    /// Reply subjects this connection may publish to under `allow_responses`:
    /// subject → (replies left, expiry).
    pub(crate) responses: Mutex<ResponseGrants>,
    pub(crate) tracks_responses: AtomicBool,
    /// `allow_responses` limits (replies per request, expiry) of this connection's user.
    pub(crate) response_limits: Mutex<Option<(usize, Duration)>>,
    /// The CONNECT this connection logged in with (re-checked on config reload).
    pub(crate) credentials: Mutex<Option<ConnectOptions>>,
    /// The nonce its INFO asked nkey users to sign (empty when none was sent).
    pub(crate) nonce: String,
    /// The `protocol` from CONNECT (async INFO goes only to 1 and above).
    pub(crate) protocol: AtomicI64,
    closed: AtomicBool,
}

impl ConnShared {
    pub(crate) fn new(id: u64, meta: ConnMeta, nonce: String) -> Self {
        ConnShared {
            id,
            nonce,
            outbound: Mutex::new(Outbound::default()),
            counters: Counters::default(),
            headers: AtomicBool::new(false),
            meta: Mutex::new(meta),
            subs: Mutex::new(HashMap::new()),
            responses: Mutex::new(HashMap::new()),
            tracks_responses: AtomicBool::new(false),
            response_limits: Mutex::new(None),
            credentials: Mutex::new(None),
            protocol: AtomicI64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// The connection id (`cid` in monitoring, `client_id` in INFO).
    pub fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn outbound(&self) -> MutexGuard<'_, Outbound> {
        self.outbound.lock()
    }

    /// Writer side: move every queued chunk into `into` and return
    /// [`WriteEvent::Data`], or [`WriteEvent::Closed`] once closed and drained, or
    /// register the task's waker and return `Pending`.
    pub fn poll_write(&self, cx: &mut Context<'_>, into: &mut VecDeque<Bytes>) -> Poll<WriteEvent> {
        self.outbound.lock().poll_write(cx, into)
    }

    /// Reader side: resolves when the connection has been closed by the engine (an error,
    /// a slow consumer, shutdown), so the frontend can stop reading.
    pub fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        self.outbound.lock().poll_closed(cx)
    }

    /// Whether the connection has been closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Why the connection was closed, once it is (the writer learns it from
    /// [`WriteEvent::Closed`]; this is for a transport that needs it elsewhere, e.g. to pick
    /// a WebSocket close status).
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.outbound.lock().close_reason()
    }

    /// Wake the writer for output the frontend's transport makes itself (a WebSocket pong
    /// or close reply): the next [`ConnShared::poll_write`] returns [`WriteEvent::Data`],
    /// possibly with no chunks, and the writer then flushes its transport.
    pub fn wake_writer(&self) {
        let waker = self.outbound.lock().nudge();
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Bytes queued for the writer.
    pub fn pending_bytes(&self) -> usize {
        self.outbound.lock().pending()
    }

    /// Close the connection: the writer flushes what is queued and shuts the socket, the
    /// reader stops. Used by frontends for write errors and write-deadline expiry.
    pub fn close(&self, reason: CloseReason) {
        let (writer, reader) = {
            let mut out = self.outbound.lock();
            if matches!(
                reason,
                CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
            ) {
                out.discard();
            }
            self.closed.store(true, Ordering::Release);
            out.close(reason)
        };
        if let Some(w) = writer {
            w.wake();
        }
        if let Some(r) = reader {
            r.wake();
        }
    }

    /// Queue `-ERR` and close, from outside the connection's own task (e.g. a reload that
    /// revokes its credentials).
    pub(crate) fn fail(&self, err: &ClientError, reason: CloseReason) {
        {
            let mut out = self.outbound.lock();
            if out.is_closed() {
                return;
            }
            let before = out.tail().len();
            encode::err(out.tail(), err);
            let added = out.tail().len() - before;
            out.added(added);
        }
        self.close(reason);
    }

    /// Queue an async INFO (lame duck mode) and wake the writer.
    pub(crate) fn queue_info(&self, json: &[u8]) {
        let waker = {
            let mut out = self.outbound.lock();
            if out.is_closed() {
                return;
            }
            let before = out.tail().len();
            encode::info(out.tail(), json);
            let added = out.tail().len() - before;
            out.added(added);
            out.take_writer_waker()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Record the TLS session the frontend established (shown by `/connz`).
    pub fn set_tls(&self, session: TlsSession) {
        self.meta.lock().tls = Some(session);
    }

    /// A copy of the connection's descriptive data.
    pub fn meta(&self) -> ConnMeta {
        self.meta.lock().clone()
    }

    /// The subscriptions of this connection: (subject, queue, sid, delivered, max).
    pub fn subscriptions(&self) -> Vec<Arc<Subscription>> {
        self.subs.lock().values().cloned().collect()
    }

    /// Number of subscriptions.
    pub fn num_subscriptions(&self) -> usize {
        self.subs.lock().len()
    }
}
