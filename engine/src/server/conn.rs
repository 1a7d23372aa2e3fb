//! The per-connection state machine: parses what a client sends, applies auth,
//! permissions and limits, routes messages, and keeps the connection's timers.

use super::connect::ConnectOptions;
use super::info::{info_json, splitmix64};
use super::outbound::{CloseReason, Outbound};
use super::shared::ConnShared;
use super::subscription::{SubRef, Subscription};
use super::{trace, Account, ClientType, ClosedConn, Server};
use crate::auth::{Authenticator, ResolvedPermissions};
use crate::error::ClientError;
use crate::log::Level;
use crate::options::Options;
use crate::prelude::*;
use crate::proto::{encode, range_in, ClientOp, ParseError, ParserLimits, ServerParser};
use crate::subject;
use crate::sublist::{MatchCache, SublistResult};
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::time::Instant;
use bytes::{Buf, Bytes, BytesMut};
use core::ops::Range;
use core::task::Waker;
use core::time::Duration;
use hashbrown::HashMap;

/// The first server PING goes out this soon after connect (nats-server measures RTT with
/// it), unless `ping_interval` is shorter.
const FIRST_PING_INTERVAL: Duration = Duration::from_secs(2);
/// Bound of the per-connection publish-permission cache.
const PERMISSION_CACHE_MAX: usize = 1024;
/// Where a published message's parts lie in the read buffer.
struct PubRanges {
    subject: Range<usize>,
    reply: Option<Range<usize>>,
    /// Headers followed by payload.
    body: Range<usize>,
    header_len: Option<usize>,
}

impl PubRanges {
    fn new(
        base: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> Self {
        let start = headers.map_or_else(
            || range_in(base, payload).start,
            |h| range_in(base, h).start,
        );
        PubRanges {
            subject: range_in(base, subject),
            reply: reply.map(|r| range_in(base, r)),
            body: start..range_in(base, payload).end,
            header_len: headers.map(<[u8]>::len),
        }
    }
}

/// How long a fast producer is held back per read while a subscriber is behind
/// (nats-server 2.11+: `stallClientMaxDuration`; it also caps the total per read at 10 ms).
pub const STALL: Duration = Duration::from_millis(5);

/// A message being routed.
struct Msg<'a> {
    subject: &'a [u8],
    reply: Option<&'a [u8]>,
    /// Headers followed by payload.
    body: &'a [u8],
    header_len: Option<usize>,
    /// `body` as a shared buffer, for large messages delivered without copying.
    shared: Option<Bytes>,
}

impl<'a> Msg<'a> {
    fn from_buffer(buf: &'a [u8], r: &PubRanges) -> Self {
        Msg {
            subject: &buf[r.subject.clone()],
            reply: r.reply.clone().map(|x| &buf[x]),
            body: &buf[r.body.clone()],
            header_len: r.header_len,
            shared: None,
        }
    }

    fn from_frame(frame: &'a Bytes, r: &PubRanges) -> Self {
        Msg {
            shared: Some(frame.slice(r.body.clone())),
            ..Msg::from_buffer(frame, r)
        }
    }

    fn payload(&self) -> &'a [u8] {
        &self.body[self.header_len.unwrap_or(0)..]
    }
}

/// One client connection's state machine. Owned by the frontend task that reads the
/// socket; see the [module docs](super) for the driving contract.
#[derive(Debug)]
pub struct Connection {
    server: Arc<Server>,
    /// Snapshot of the server's options and authenticator, refreshed after a reload.
    options: Arc<Options>,
    auth: Arc<Authenticator>,
    config_generation: u64,
    /// TCP or WebSocket: picks the authenticator and the auth timeout.
    client_type: ClientType,
    account: Arc<Account>,
    shared: Arc<ConnShared>,
    parser: ServerParser,
    opts: ConnectOptions,
    connect_received: bool,
    perms: Option<Arc<ResolvedPermissions>>,
    pub_allowed_cache: HashMap<Box<[u8]>, bool>,
    /// Created on the first publish (a connection that only subscribes never needs it).
    /// Boxed so that `publish` can take it out of `self` (to read a result from it while
    /// delivering) by moving a pointer, rather than building and dropping an empty cache
    /// per message.
    cache: Option<Box<MatchCache<SubRef>>>,
    /// Writers to wake once the current batch of input is processed.
    wake: Vec<Waker>,
    /// Subscriptions that reached their auto-unsubscribe limit during this batch.
    expired: Vec<SubRef>,
    auth_deadline: Option<Instant>,
    next_ping: Option<Instant>,
    pings_out: u32,
    ping_sent_at: Option<Instant>,
    /// Last client data or PING (nats-server skips its PING when this is recent).
    last_in: Instant,
    /// The latest `now` the frontend passed in (a dropped connection's stop time).
    latest_now: Instant,
    /// Protocol operations are traced (`trace` on and the server has a log).
    trace: bool,
    rng: u64,
    finished: bool,
    /// The last message published was at least `SHARE_PAYLOAD_AT` long (see
    /// [`Connection::large_messages`]).
    large_messages: bool,
    /// A subscriber this connection published to is falling behind: how long the
    /// frontend should hold off reading more (see [`Connection::take_stall`]).
    stall: Option<Duration>,
    /// Counts of this batch, added to the shared counters once per batch so that
    /// publishers on different cores do not contend on them per message.
    batch: BatchCounts,
}

#[derive(Debug, Default)]
struct BatchCounts {
    in_msgs: u64,
    in_bytes: u64,
    out_msgs: u64,
    out_bytes: u64,
}

impl Connection {
    pub(crate) fn new(
        server: Arc<Server>,
        shared: Arc<ConnShared>,
        now: Instant,
        over_connection_limit: bool,
    ) -> Self {
        let o = server.options();
        let client_type = shared.meta.lock().client_type;
        let auth = server.authenticator_for(client_type);
        let config_generation = server.config_generation();
        let limits = parser_limits(&o);
        let auth_required = auth.is_required();
        let mut auth_timeout = o.auth_timeout();
        if client_type == ClientType::WebSocket {
            if let Some(t) = o.websocket.as_ref().and_then(|ws| ws.auth_timeout) {
                auth_timeout = t;
            }
        }
        let mut rng = server.seed() ^ shared.id().wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let first_ping = o.ping_interval.min(FIRST_PING_INTERVAL);
        // Like nats-server, spread first pings by up to 20 %.
        let jitter_ms = (first_ping.as_millis() as u64 / 5).max(1);
        let first_ping = first_ping + Duration::from_millis(splitmix64(&mut rng) % jitter_ms);
        let mut conn = Connection {
            account: server.account().clone(),
            parser: {
                let mut parser = ServerParser::new(limits);
                parser.set_headers(false);
                parser.set_connect_required(auth_required);
                parser
            },
            opts: ConnectOptions::default(),
            connect_received: false,
            perms: None,
            pub_allowed_cache: HashMap::new(),
            cache: None,
            wake: Vec::new(),
            expired: Vec::new(),
            auth_deadline: auth_required.then(|| now + auth_timeout),
            options: o.clone(),
            auth,
            config_generation,
            client_type,
            next_ping: Some(now + first_ping),
            pings_out: 0,
            ping_sent_at: None,
            last_in: now,
            latest_now: now,
            trace: server.tracing(),
            rng,
            finished: false,
            large_messages: false,
            stall: None,
            batch: BatchCounts::default(),
            server,
            shared,
        };
        let ip = conn.shared.meta.lock().ip.clone();
        let info = info_json(
            &conn.server,
            conn.shared.id(),
            &ip,
            client_type,
            &conn.shared.nonce,
        );
        conn.queue_with(|out| encode::info(out.tail(), &info));
        if over_connection_limit {
            conn.log_error("maximum connections exceeded");
            conn.fail(
                ClientError::MaximumConnectionsExceeded,
                CloseReason::MaxConnectionsExceeded,
            );
        }
        conn.wake_writers();
        conn
    }

    /// The shared half (for the writer task and monitoring).
    pub fn shared(&self) -> &Arc<ConnShared> {
        &self.shared
    }

    /// The connection id.
    pub fn id(&self) -> u64 {
        self.shared.id()
    }

    /// Whether the engine has closed this connection.
    pub fn is_closed(&self) -> bool {
        self.finished || self.shared.is_closed()
    }

    /// Process every complete op at the front of `buf` (bytes received from the client),
    /// consuming them; a trailing partial op stays in `buf`. Returns `false` once the
    /// connection is closed (stop reading, then call [`Connection::close`]).
    pub fn handle_bytes(&mut self, buf: &mut BytesMut, now: Instant) -> bool {
        if self.is_closed() {
            buf.clear();
            return false;
        }
        self.refresh_config();
        self.latest_now = now;
        self.shared.meta.lock().last_activity = now;
        while !self.shared.is_closed() {
            let (consumed, publish) = match self.parser.parse(&buf[..]) {
                Ok(None) => break,
                Err(e) => {
                    self.parse_failed(&e);
                    break;
                }
                Ok(Some((op, consumed))) => {
                    if self.trace {
                        self.trace_op_in(&op, &buf[..consumed]);
                    }
                    // The parser refuses non-CONNECT ops before an authenticated CONNECT
                    // and HPUB before headers were negotiated, as nats-server does.
                    match op {
                        ClientOp::Pub {
                            subject,
                            reply,
                            payload,
                        } => (
                            consumed,
                            Some(PubRanges::new(buf, subject, reply, None, payload)),
                        ),
                        ClientOp::HPub {
                            subject,
                            reply,
                            headers,
                            payload,
                        } => (
                            consumed,
                            Some(PubRanges::new(buf, subject, reply, Some(headers), payload)),
                        ),
                        other => {
                            self.handle_control_op(other, now);
                            (consumed, None)
                        }
                    }
                }
            };
            match publish {
                Some(r) if r.body.len() >= super::SHARE_PAYLOAD_AT => {
                    self.large_messages = true;
                    let frame = buf.split_to(consumed).freeze();
                    self.publish(Msg::from_frame(&frame, &r), now);
                }
                Some(r) => {
                    self.large_messages = false;
                    self.publish(Msg::from_buffer(buf, &r), now);
                    buf.advance(consumed);
                }
                None => buf.advance(consumed),
            }
        }
        self.finish_batch();
        !self.is_closed()
    }

    /// How long to hold off reading more from this client, because a subscriber of what it
    /// published has fallen behind (past three quarters of `max_pending`); taken, so
    /// `None` afterwards. Frontends wait that long (or until the subscriber's writer has
    /// caught up) before their next read: the producer slows down instead of the
    /// subscriber being cut off as a slow consumer (nats-server's fast-producer stall).
    pub fn take_stall(&mut self) -> Option<Duration> {
        self.stall.take()
    }

    /// Whether the last message this client published was at least
    /// [`SHARE_PAYLOAD_AT`](super::SHARE_PAYLOAD_AT) bytes long. Such messages are
    /// delivered by sharing the buffer passed to [`Connection::handle_bytes`] rather than
    /// copied, so reading them in larger chunks costs no extra copy and saves system
    /// calls; a frontend may size its reads by this.
    pub fn large_messages(&self) -> bool {
        self.large_messages
    }

    /// The next time [`Connection::handle_timeout`] must be called, if any.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_closed() {
            return None;
        }
        match (self.auth_deadline, self.next_ping) {
            (Some(a), Some(p)) => Some(a.min(p)),
            (a, p) => a.or(p),
        }
    }

    /// Run the timers due at `now`: auth timeout, server PINGs, stale detection.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        self.latest_now = now;
        self.refresh_config();
        if self.auth_deadline.is_some_and(|d| d <= now) {
            self.auth_deadline = None;
            if !self.connect_received {
                self.fail(
                    ClientError::AuthenticationTimeout,
                    CloseReason::AuthenticationTimeout,
                );
                self.finish_batch();
                return;
            }
        }
        if self.next_ping.is_some_and(|d| d <= now) {
            self.ping_timer(now);
        }
        self.finish_batch();
    }

    /// After a reload: take the new limits, and the new permissions of this user (a
    /// reload that revoked the credentials has already closed the connection).
    fn refresh_config(&mut self) {
        let generation = self.server.config_generation();
        if generation == self.config_generation {
            return;
        }
        self.config_generation = generation;
        self.options = self.server.options();
        self.trace = self.server.tracing();
        self.auth = self.server.authenticator_for(self.client_type);
        self.parser.set_limits(parser_limits(&self.options));
        if self.connect_received {
            let creds = self.shared.credentials.lock().clone();
            let nonce = &self.shared.nonce;
            if let Some(grant) = creds.and_then(|c| self.auth.authenticate(&c, nonce)) {
                self.perms = grant.permissions;
                self.pub_allowed_cache.clear();
            }
        }
    }

    fn ping_timer(&mut self, now: Instant) {
        let interval = self.options.ping_interval;
        self.next_ping = Some(now + interval);
        if !self.connect_received {
            return;
        }
        let need_rtt = self.shared.meta.lock().rtt.is_none();
        if !need_rtt && now.saturating_since(self.last_in) < interval {
            return;
        }
        if self.pings_out + 1 > self.options.ping_max {
            self.server
                .stats
                .stale_connections
                .fetch_add(1, Ordering::Relaxed);
            self.fail(ClientError::StaleConnection, CloseReason::StaleConnection);
            return;
        }
        self.pings_out += 1;
        if self.ping_sent_at.is_none() {
            self.ping_sent_at = Some(now);
        }
        if self.trace {
            self.trace_out("PING");
        }
        self.queue(encode::PING);
    }

    /// Tear the connection down at `now`: drop its subscriptions, unregister it and keep a
    /// snapshot for `/connz?state=closed`. Call once when the socket is done (the engine
    /// closed it, the peer closed it, or an I/O error).
    pub fn close(&mut self, reason: CloseReason, now: Instant) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.shared.close(reason);
        let subs: Vec<SubRef> = self
            .shared
            .subs
            .lock()
            .drain()
            .map(|(_, s)| SubRef(s))
            .collect();
        if self.trace {
            let prefix = self.trace_prefix();
            for SubRef(sub) in &subs {
                self.server
                    .log(Level::Trace, &trace::delsub(&prefix, &sub.sid));
            }
        }
        // The reason the connection was first closed for (a slow consumer, say, rather
        // than the read error its socket then gave).
        let reason = self.shared.close_reason().unwrap_or(reason);
        self.server
            .remember_closed(ClosedConn::new(&self.shared, &subs, now, reason));
        for sub in &subs {
            sub.closed.store(true, Ordering::Relaxed);
        }
        self.account
            .sublist
            .remove_batch(subs.iter().map(|s| (&*s.subject, s.queue.as_deref(), s)));
        if let Some(cache) = &mut self.cache {
            cache.flush_stats(&self.account.sublist);
        }
        self.server.remove_connection(self.shared.id());
    }

    fn handle_control_op(&mut self, op: ClientOp<'_>, now: Instant) {
        match op {
            ClientOp::Connect { json } => self.on_connect(json),
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => self.on_sub(subject, queue, sid),
            ClientOp::Unsub { sid, max } => self.on_unsub(sid, max),
            ClientOp::Ping => {
                self.last_in = now;
                if self.trace {
                    self.trace_out("PONG");
                }
                self.queue(encode::PONG);
            }
            ClientOp::Pong => {
                self.pings_out = 0;
                if let Some(sent) = self.ping_sent_at.take() {
                    self.shared.meta.lock().rtt = Some(now.saturating_since(sent));
                }
            }
            ClientOp::Pub { .. } | ClientOp::HPub { .. } => {}
        }
    }

    fn on_connect(&mut self, json: &[u8]) {
        let Some(opts) = ConnectOptions::parse(json) else {
            // nats-server closes without an error on unparseable CONNECT JSON.
            self.close_silently(CloseReason::ProtocolViolation);
            return;
        };
        if !(0..=1).contains(&opts.protocol) {
            self.fail(
                ClientError::InvalidClientProtocol,
                CloseReason::ProtocolViolation,
            );
            return;
        }
        if opts.no_responders && !opts.headers {
            self.fail(
                ClientError::NoRespondersRequiresHeaders,
                CloseReason::ProtocolViolation,
            );
            return;
        }
        {
            // Before authenticating: nats-server names the client in its error line.
            let mut meta = self.shared.meta.lock();
            meta.name = opts.name.clone().unwrap_or_default();
            meta.lang = opts.lang.clone().unwrap_or_default();
            meta.version = opts.version.clone().unwrap_or_default();
        }
        let Some(grant) = self.auth.authenticate(&opts, &self.shared.nonce) else {
            self.log_error("authentication error");
            self.fail(
                ClientError::AuthorizationViolation,
                CloseReason::AuthenticationViolation,
            );
            return;
        };
        self.shared.headers.store(opts.headers, Ordering::Relaxed);
        if let Some(p) = &grant.permissions {
            *self.shared.response_limits.lock() = p.response;
            self.shared
                .tracks_responses
                .store(p.response.is_some(), Ordering::Relaxed);
        }
        self.perms = grant.permissions;
        self.pub_allowed_cache.clear();
        if !self.connect_received {
            // The account is fixed by the first CONNECT: subscriptions already made live
            // in its sublist (a later CONNECT switching accounts would strand them).
            self.account = self.server.account_named(grant.account.as_deref());
        }
        self.shared.protocol.store(opts.protocol, Ordering::Relaxed);
        *self.shared.credentials.lock() = Some(opts.clone());
        self.shared.meta.lock().user = grant.user;
        self.parser.set_headers(opts.headers);
        self.parser.set_connect_required(false);
        self.opts = opts;
        self.connect_received = true;
        self.auth_deadline = None;
        self.ok();
    }

    fn on_sub(&mut self, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !subject::is_valid_subject(subject) || queue.is_some_and(|q| !subject::is_valid_queue(q))
        {
            self.send_err(&ClientError::InvalidSubject);
            return;
        }
        if let Some(perms) = &self.perms {
            if !perms.can_subscribe(subject) {
                let err = ClientError::SubscriptionViolation {
                    subject: String::from_utf8_lossy(subject).into_owned(),
                    queue: queue.map(|q| String::from_utf8_lossy(q).into_owned()),
                };
                self.send_err(&err);
                return;
            }
        }
        let max_subs = self.options.max_subscriptions;
        let sub = {
            let mut subs = self.shared.subs.lock();
            if subs.contains_key(sid) {
                None
            } else if max_subs > 0 && subs.len() >= max_subs {
                drop(subs);
                self.send_err(&ClientError::MaximumSubscriptionsExceeded);
                return;
            } else {
                let sub = Arc::new(Subscription {
                    conn: self.shared.clone(),
                    subject: subject.into(),
                    queue: queue.map(Into::into),
                    sid: sid.into(),
                    delivered: AtomicU64::new(0),
                    max: AtomicU64::new(0),
                    closed: AtomicBool::new(false),
                    deny: self
                        .perms
                        .as_ref()
                        .filter(|p| p.subscribe.as_ref().is_some_and(|s| s.has_deny()))
                        .cloned(),
                });
                subs.insert(sid.into(), sub.clone());
                Some(sub)
            }
        };
        if let Some(sub) = sub {
            // Validated above, so the insert cannot fail.
            let _ = self.account.sublist.insert(subject, queue, SubRef(sub));
        }
        self.ok();
    }

    fn on_unsub(&mut self, sid: &[u8], max: Option<u64>) {
        let sub = self.shared.subs.lock().get(sid).cloned();
        if let Some(sub) = sub {
            let limited = match max {
                Some(max) if max > 0 => sub.limit(&sub.conn.outbound(), max),
                _ => false,
            };
            if !limited {
                remove_subscription(&self.account, &SubRef(sub));
            }
        }
        self.ok();
    }

    fn publish(&mut self, msg: Msg<'_>, now: Instant) {
        self.last_in = now;
        self.batch.in_msgs += 1;
        self.batch.in_bytes += msg.body.len() as u64;
        if self.opts.pedantic && !subject::is_valid_literal_subject(msg.subject) {
            // nats-server reports it but still routes the message.
            self.send_err(&ClientError::InvalidPublishSubject);
        }
        if !self.may_publish(msg.subject, now) {
            let err =
                ClientError::PublishViolation(String::from_utf8_lossy(msg.subject).into_owned());
            self.send_err(&err);
            return;
        }
        self.ok();
        let delivered = if self.options.no_sublist_cache {
            let result = self.account.sublist.matches(msg.subject);
            self.deliver_all(&result, &msg, now)
        } else {
            // Borrow the cache out of `self` so its result can be read while delivering.
            let mut cache = self.cache.take().unwrap_or_default();
            let delivered = {
                let result = cache.matches_ref(&self.account.sublist, msg.subject);
                self.deliver_all(result, &msg, now)
            };
            self.cache = Some(cache);
            delivered
        };
        if !delivered && self.opts.no_responders {
            if let Some(reply) = msg.reply {
                self.send_no_responders(msg.subject, reply);
            }
        }
    }

    fn deliver_all(&mut self, result: &SublistResult<SubRef>, msg: &Msg<'_>, now: Instant) -> bool {
        let mut delivered = false;
        for sub in &result.plain {
            delivered |= self.deliver(sub, msg, now);
        }
        for (_, members) in &result.queues {
            if members.is_empty() {
                continue;
            }
            let start = (splitmix64(&mut self.rng) % members.len() as u64) as usize;
            for i in 0..members.len() {
                if self.deliver(&members[(start + i) % members.len()], msg, now) {
                    delivered = true;
                    break;
                }
            }
        }
        delivered
    }

    /// Deliver `msg` to one subscription; false if it was skipped.
    fn deliver(&mut self, sub: &SubRef, msg: &Msg<'_>, now: Instant) -> bool {
        let target = &sub.conn;
        let is_self = Arc::ptr_eq(target, &self.shared);
        if is_self && !self.opts.echo {
            return false;
        }
        if sub
            .deny
            .as_ref()
            .is_some_and(|p| p.delivery_denied(msg.subject))
        {
            return false;
        }
        if sub.closed.load(Ordering::Relaxed) {
            return false;
        }
        let with_headers = msg.header_len.is_some() && target.headers.load(Ordering::Relaxed);
        let body = if with_headers {
            msg.body
        } else {
            msg.payload()
        };
        let max_pending = self.options.max_pending;
        let (over_limit, last) = {
            let mut out = target.outbound();
            if out.is_closed() {
                return false;
            }
            let Some(last) = sub.claim_delivery(&out) else {
                return false;
            };
            write_msg(&mut out, msg, &sub.sid, with_headers, body);
            if let Some(w) = out.take_writer_waker() {
                self.wake.push(w);
            }
            let pending = out.pending();
            let over_limit = pending > max_pending;
            if !over_limit {
                target.counters.count_out(&out, body.len());
            }
            // nats-server stalls a fast producer while a subscriber's backlog is past
            // three quarters of max_pending, rather than let it grow into the limit.
            if pending > max_pending / 4 * 3 && !is_self && !self.options.no_fast_producer_stall {
                self.stall = Some(STALL);
            }
            (over_limit, last)
        };
        if over_limit {
            self.server
                .stats
                .slow_consumers
                .fetch_add(1, Ordering::Relaxed);
            let prefix = trace::prefix(&target.meta.lock(), target.id());
            self.server.log(
                Level::Info,
                &format!("{prefix}Slow Consumer Detected: MaxPending of {max_pending} Exceeded"),
            );
            target.close(CloseReason::SlowConsumerPendingBytes);
            return false;
        }
        self.batch.out_msgs += 1;
        self.batch.out_bytes += body.len() as u64;
        if self.trace {
            let header_len = if with_headers { msg.header_len } else { None };
            let line = trace::msg_line(msg.subject, &sub.sid, msg.reply, header_len, body.len());
            let prefix = trace::prefix(&target.meta.lock(), target.id());
            self.server.log(Level::Trace, &trace::out(&prefix, &line));
        }
        if let Some(reply) = msg.reply {
            if target.tracks_responses.load(Ordering::Relaxed) {
                grant_response(target, reply, now);
            }
        }
        if last {
            self.expired.push(sub.clone());
        }
        true
    }

    fn may_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        let Some(perms) = &self.perms else {
            return true;
        };
        if perms.publish.is_none() && perms.response.is_none() {
            return true;
        }
        let allowed = match self.pub_allowed_cache.get(subject) {
            Some(&allowed) => allowed,
            None => {
                let allowed = perms.can_publish(subject);
                if self.pub_allowed_cache.len() >= PERMISSION_CACHE_MAX {
                    self.pub_allowed_cache.clear();
                }
                self.pub_allowed_cache.insert(subject.into(), allowed);
                allowed
            }
        };
        allowed || self.use_response_grant(subject, now)
    }

    /// `allow_responses`: publishing to the reply subject of a received request.
    fn use_response_grant(&self, subject: &[u8], now: Instant) -> bool {
        if !self.shared.tracks_responses.load(Ordering::Relaxed) {
            return false;
        }
        let mut grants = self.shared.responses.lock();
        let Some((left, expires)) = grants.get_mut(subject) else {
            return false;
        };
        if expires.is_some_and(|e| e < now) {
            grants.remove(subject);
            return false;
        }
        *left -= 1;
        if *left == 0 {
            grants.remove(subject);
        }
        true
    }

    fn send_no_responders(&mut self, subject: &[u8], reply: &[u8]) {
        let sid = {
            let subs = self.shared.subs.lock();
            // Like nats-server's subForReply: a plain (non-queue) sub of this connection.
            subs.values()
                .find(|s| s.queue.is_none() && subject::matches(&s.subject, reply))
                .map(|s| s.sid.clone())
        };
        let Some(sid) = sid else {
            return;
        };
        let mut header = Vec::with_capacity(40 + subject.len());
        header.extend_from_slice(b"NATS/1.0 503\r\nNats-Subject: ");
        header.extend_from_slice(subject);
        header.extend_from_slice(b"\r\n\r\n");
        self.queue_with(|out| {
            encode::hmsg(out.tail(), reply, &sid, None, &header, b"");
        });
    }

    fn parse_failed(&mut self, e: &ParseError) {
        if let ParseError::PayloadTooLarge { size, max } = e {
            self.log_error(&format!("maximum payload exceeded: {size} vs {max}"));
        }
        let reason = match e.client_error() {
            Some(ClientError::MaximumPayloadViolation) => CloseReason::MaxPayloadExceeded,
            Some(ClientError::MaximumControlLineExceeded) => CloseReason::MaxControlLineExceeded,
            Some(ClientError::AuthorizationViolation) => CloseReason::AuthenticationViolation,
            _ => CloseReason::ProtocolViolation,
        };
        match e.client_error() {
            Some(err) => self.fail(err, reason),
            None => self.close_silently(reason),
        }
    }

    /// Send `-ERR` and close.
    fn fail(&mut self, err: ClientError, reason: CloseReason) {
        self.send_err(&err);
        self.close_silently(reason);
    }

    fn close_silently(&mut self, reason: CloseReason) {
        // Wake our writer in this batch so the error goes out before the socket closes.
        self.shared.close(reason);
    }

    fn send_err(&mut self, err: &ClientError) {
        if self.trace {
            self.trace_out(&format!("-ERR {err}"));
        }
        self.queue_with(|out| encode::err(out.tail(), err));
    }

    fn ok(&mut self) {
        if self.opts.verbose {
            if self.trace {
                self.trace_out("OK");
            }
            self.queue(encode::OK);
        }
    }

    /// An `[ERR]` line about this client, as nats-server logs refusals.
    fn log_error(&self, what: &str) {
        self.server
            .log(Level::Error, &format!("{}{what}", self.log_prefix()));
    }

    /// This connection's trace prefix (see [`trace::prefix`]).
    fn trace_prefix(&self) -> String {
        self.log_prefix()
    }

    /// How nats-server starts a log line about this client: `IP:PORT - cid:N - `, then
    /// `"vVERSION:LANG:NAME" - ` once its CONNECT said who it is.
    pub fn log_prefix(&self) -> String {
        trace::prefix(&self.shared.meta.lock(), self.shared.id())
    }

    /// Trace a received operation whose bytes are `raw` (its payload too, for PUB/HPUB).
    fn trace_op_in(&self, op: &ClientOp<'_>, raw: &[u8]) {
        let prefix = self.trace_prefix();
        self.server.log(Level::Trace, &trace::op_in(&prefix, raw));
        let body = match op {
            ClientOp::Pub { payload, .. } => Some(&payload[..]),
            ClientOp::HPub {
                headers, payload, ..
            } => {
                let start = range_in(raw, headers).start;
                Some(&raw[start..range_in(raw, payload).end])
            }
            _ => None,
        };
        if let Some(body) = body {
            let max = self.options.max_traced_msg_len;
            self.server
                .log(Level::Trace, &trace::payload(&prefix, body, max));
        }
    }

    /// Trace something sent to this client.
    fn trace_out(&self, what: &str) {
        self.server
            .log(Level::Trace, &trace::out(&self.trace_prefix(), what));
    }

    fn queue(&mut self, bytes: &[u8]) {
        self.queue_with(|out| out.tail().extend_from_slice(bytes));
    }

    fn queue_with(&mut self, write: impl FnOnce(&mut Outbound)) {
        let mut out = self.shared.outbound();
        if out.is_closed() {
            return;
        }
        let before = out.tail().len();
        write(&mut out);
        let added = out.tail().len() - before;
        out.added(added);
        if let Some(w) = out.take_writer_waker() {
            self.wake.push(w);
        }
    }

    fn finish_batch(&mut self) {
        self.flush_counters();
        for sub in core::mem::take(&mut self.expired) {
            remove_subscription(&self.account, &sub);
        }
        self.wake_writers();
    }

    fn flush_counters(&mut self) {
        let b = core::mem::take(&mut self.batch);
        if b.in_msgs > 0 {
            self.shared.counters.add_in(b.in_msgs, b.in_bytes);
            self.server.stats.counters.add_in(b.in_msgs, b.in_bytes);
        }
        if b.out_msgs > 0 {
            self.server.stats.counters.add_out(b.out_msgs, b.out_bytes);
        }
    }

    fn wake_writers(&mut self) {
        for w in self.wake.drain(..) {
            w.wake();
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close(CloseReason::ClientClosed, self.latest_now);
    }
}

fn parser_limits(o: &Options) -> ParserLimits {
    ParserLimits {
        max_control_line: o.max_control_line,
        max_payload: o.max_payload,
    }
}

/// Append a MSG or HMSG for `sub_sid` to `out`.
fn write_msg(out: &mut Outbound, msg: &Msg<'_>, sid: &[u8], with_headers: bool, body: &[u8]) {
    if msg.shared.is_some() {
        // The words, their blanks, two lengths, and the CRLFs after the line and the payload.
        let words = msg.subject.len() + sid.len() + msg.reply.map_or(0, <[u8]>::len);
        out.reserve_line(words + 64);
    }
    let tail = out.tail();
    let before = tail.len();
    if with_headers {
        let hlen = msg.header_len.unwrap_or(0);
        encode::hmsg_line(tail, msg.subject, sid, msg.reply, hlen, body.len());
    } else {
        encode::msg_line(tail, msg.subject, sid, msg.reply, body.len());
    }
    match &msg.shared {
        Some(shared) => {
            let added = out.tail().len() - before;
            out.added(added);
            let start = msg.body.len() - body.len();
            out.push_shared(shared.slice(start..));
            out.extend(b"\r\n");
        }
        None => {
            tail.extend_from_slice(body);
            tail.extend_from_slice(b"\r\n");
            let added = tail.len() - before;
            out.added(added);
        }
    }
}

/// Remove a subscription from its account and its connection.
fn remove_subscription(account: &Account, sub: &SubRef) {
    if sub.closed.swap(true, Ordering::Relaxed) {
        return;
    }
    {
        let mut subs = sub.conn.subs.lock();
        if subs.get(&sub.sid).is_some_and(|s| Arc::ptr_eq(s, &sub.0)) {
            subs.remove(&sub.sid);
        }
    }
    account
        .sublist
        .remove(&sub.subject, sub.queue.as_deref(), sub);
}

/// Record that `target` may publish to `reply` (allow_responses).
fn grant_response(target: &ConnShared, reply: &[u8], now: Instant) {
    let Some((max, expires)) = *target.response_limits.lock() else {
        return;
    };
    let expiry = (!expires.is_zero()).then(|| now + expires);
    target.responses.lock().insert(reply.into(), (max, expiry));
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use crate::options::Options;
    use crate::prelude::*;
    use crate::server::{PeerAddr, Server, WriteEvent};
    use crate::time::Instant;
    use bytes::{Bytes, BytesMut};
    use core::task::{Context, Poll, Waker};
    use std::collections::VecDeque;

    fn ready(server: &Arc<Server>, ops: &str) -> super::Connection {
        let mut conn = server.accept(
            PeerAddr {
                ip: "127.0.0.1".into(),
                port: 40000,
            },
            Instant::ZERO,
        );
        let mut buf = BytesMut::from(format!("CONNECT {{\"verbose\":false}}\r\n{ops}").as_bytes());
        assert!(conn.handle_bytes(&mut buf, Instant::ZERO));
        conn
    }

    fn output(conn: &super::Connection) -> String {
        let mut chunks: VecDeque<Bytes> = VecDeque::new();
        let mut cx = Context::from_waker(Waker::noop());
        while let Poll::Ready(WriteEvent::Data) = conn.shared().poll_write(&mut cx, &mut chunks) {}
        let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        String::from_utf8(bytes).unwrap()
    }

    /// Delivery counts are kept under the target's outbound lock rather than with atomic
    /// read-modify-writes: publishers on several threads must still get every count exact,
    /// and an auto-unsubscribe limit must still stop at exactly `max`.
    #[test]
    fn counts_and_auto_unsubscribe_are_exact_with_concurrent_publishers() {
        const PUBLISHERS: usize = 4;
        const EACH: usize = 2_000;
        const MAX: usize = 3_000;
        let server = Server::new(Options::default(), 7, Instant::ZERO);
        let sub = ready(&server, &format!("SUB a 1\r\nSUB a 2\r\nUNSUB 2 {MAX}\r\n"));
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|_| ready(&server, ""))
            .map(|mut publisher| {
                std::thread::spawn(move || {
                    for _ in 0..EACH {
                        let mut buf = BytesMut::from(&b"PUB a 5\r\nhello\r\n"[..]);
                        assert!(publisher.handle_bytes(&mut buf, Instant::ZERO));
                    }
                    publisher
                })
            })
            .collect();
        let publishers: Vec<_> = publishers.into_iter().map(|p| p.join().unwrap()).collect();
        let out = output(&sub);
        let total = PUBLISHERS * EACH;
        assert_eq!(out.matches("MSG a 1 5\r\nhello\r\n").count(), total);
        assert_eq!(out.matches("MSG a 2 5\r\nhello\r\n").count(), MAX);
        let (_, _, out_msgs, out_bytes) = sub.shared().counters.snapshot();
        assert_eq!(out_msgs, (total + MAX) as u64);
        assert_eq!(out_bytes, 5 * (total + MAX) as u64);
        let subs = sub.shared().subscriptions();
        assert_eq!(subs.len(), 1, "sid 2 reached its limit and was removed");
        assert_eq!(subs[0].delivered(), total as u64);
        drop(publishers);
    }
}
