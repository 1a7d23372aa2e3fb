//! The client side: a sans-IO NATS client connection.
//!
//! [`ClientConnection`] holds everything a NATS client decides — the CONNECT handshake,
//! subscriptions and their replay after a reconnect, request/reply over one wildcard inbox
//! subscription, flush tokens, keep-alive PINGs, reconnect backoff, drain — and leaves
//! sockets, timers and the clock to its frontend (the browser client in `wasm/` is one).
//!
//! # Driving contract
//!
//! 1. [`ClientConnection::new`] with some entropy, then [`ClientConnection::connect`].
//! 2. After every call into the connection:
//!    * append [`ClientConnection::poll_transmit`]'s bytes to the open transport and send
//!      them (they are always for the transport that is currently open);
//!    * drain [`ClientConnection::poll_event`]. [`ClientEvent::OpenTransport`]: open a
//!      transport to that URL and call [`ClientConnection::transport_opened`] when it is
//!      open. [`ClientEvent::CloseTransport`]: send what `poll_transmit` handed over, then
//!      close the transport; the connection has already moved on, so do not report that
//!      transport's end. Everything else is for the application;
//!    * re-arm one timer for [`ClientConnection::poll_timeout`] and call
//!      [`ClientConnection::handle_timeout`] when it fires.
//! 3. Append received bytes to a `BytesMut` and call [`ClientConnection::handle_bytes`]; it
//!    consumes every complete op and leaves a partial one in the buffer. Messages share the
//!    buffer's memory (their fields are [`Bytes`] slices of it).
//! 4. When the transport fails or the peer closes it, call
//!    [`ClientConnection::transport_closed`]; the connection decides whether and when to
//!    reconnect (another `OpenTransport`, after a backoff) or to give up
//!    ([`ClientEvent::Closed`]).
//!
//! [`ClientEvent::Closed`] is final: every outstanding flush, request and subscription ends
//! with it.
//!
//! # Ordering
//!
//! Replies from the server come back in the order of the ops that caused them, so every
//! PING this client sends gets its PONG in turn: the handshake PING, keep-alive PINGs,
//! [`ClientConnection::flush`] and drains share one queue. A flush completes when the server
//! has processed everything sent before it. Flushes and drains that were waiting when a
//! transport was lost are sent again on the next one, after the replayed subscriptions and
//! the publications buffered while disconnected.

mod headers;
mod idmap;
mod json;
mod nuid;
mod options;

pub use headers::{status_code, HeaderError, Headers, STATUS_NO_RESPONDERS};
pub use idmap::IdMap;
pub use nuid::{Nuid, NUID_LEN};
pub use options::{ClientOptions, ServerInfo};

use crate::prelude::*;
use crate::proto::{encode, parse_decimal_u64, ClientParser, MsgRanges, ParserLimits, ServerOp};
use crate::subject;
use crate::time::Instant;
use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};
use core::fmt;
use core::time::Duration;

/// Longest control line accepted from a server. Servers bound what clients send (4 KiB by
/// default); a MSG line adds the sid and the size, so allow plenty.
const MAX_SERVER_CONTROL_LINE: usize = 64 * 1024;

/// A message delivered to a subscription. Every field shares the receive buffer's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Subject it was published to.
    pub subject: Bytes,
    /// Subscription it was delivered to.
    pub sid: u64,
    /// Reply subject, if the publisher set one.
    pub reply: Option<Bytes>,
    /// Raw header block (`NATS/1.0…\r\n\r\n`) of an HMSG.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

impl Message {
    /// The subject as text (empty if it is not UTF-8).
    pub fn subject_str(&self) -> &str {
        core::str::from_utf8(&self.subject).unwrap_or("")
    }

    /// The reply subject as text.
    pub fn reply_str(&self) -> Option<&str> {
        self.reply
            .as_ref()
            .and_then(|r| core::str::from_utf8(r).ok())
    }

    /// The decoded header block, if the message has one.
    pub fn decode_headers(&self) -> Option<Result<Headers, HeaderError>> {
        self.headers.as_deref().map(Headers::decode)
    }

    /// The header status code (`503`, `408`…), if any.
    pub fn status(&self) -> Option<u16> {
        self.headers.as_deref().and_then(status_code)
    }

    /// True for a "no responders" status message (503, no payload).
    pub fn is_no_responders(&self) -> bool {
        self.payload.is_empty() && self.status() == Some(STATUS_NO_RESPONDERS)
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// No subscriber was listening on the subject (status 503).
    NoResponders,
    /// The request's timeout passed.
    Timeout,
}

impl RequestError {
    /// nats.js's error code for this error (`"503"`, `"TIMEOUT"`).
    pub fn code(self) -> &'static str {
        match self {
            RequestError::NoResponders => "503",
            RequestError::Timeout => "TIMEOUT",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestError::NoResponders => "no responders",
            RequestError::Timeout => "timeout",
        })
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The connection is closed.
    Closed,
    /// The connection is draining: no new publications or subscriptions.
    Draining,
    /// [`ClientConnection::connect`] was already called.
    AlreadyStarted,
    /// No server URL was given.
    NoServers,
    /// The subject (or reply subject) is not valid here.
    BadSubject,
    /// The queue group name is not valid.
    BadQueue,
    /// The server does not support headers.
    HeadersNotSupported,
    /// Headers and payload exceed the server's `max_payload`.
    MaxPayloadExceeded {
        /// Size of headers plus payload.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// Too many bytes are buffered while disconnected.
    ReconnectBufferFull,
    /// No such subscription.
    UnknownSubscription,
}

impl Error {
    /// nats.js's error code for this error, where it has one.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Closed => "CONNECTION_CLOSED",
            Error::Draining => "CONNECTION_DRAINING",
            Error::AlreadyStarted => "API_ERROR",
            Error::NoServers => "API_ERROR",
            Error::BadSubject => "BAD_SUBJECT",
            Error::BadQueue => "BAD_SUBJECT",
            Error::HeadersNotSupported => "SERVER_OPTION_NA",
            Error::MaxPayloadExceeded { .. } => "MAX_PAYLOAD_EXCEEDED",
            Error::ReconnectBufferFull => "API_ERROR",
            Error::UnknownSubscription => "API_ERROR",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed => f.write_str("connection closed"),
            Error::Draining => f.write_str("connection draining"),
            Error::AlreadyStarted => f.write_str("connect was already called"),
            Error::NoServers => f.write_str("no servers given"),
            Error::BadSubject => f.write_str("invalid subject"),
            Error::BadQueue => f.write_str("invalid queue group"),
            Error::HeadersNotSupported => f.write_str("the server does not support headers"),
            Error::MaxPayloadExceeded { size, max } => {
                write!(
                    f,
                    "message of {size} bytes exceeds the server's max_payload {max}"
                )
            }
            Error::ReconnectBufferFull => f.write_str("reconnect buffer full"),
            Error::UnknownSubscription => f.write_str("unknown subscription"),
        }
    }
}

impl core::error::Error for Error {}

/// What the connection tells its frontend and its application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Open a transport to this server URL, then call
    /// [`ClientConnection::transport_opened`].
    OpenTransport {
        /// The server URL, as given in [`ClientOptions::servers`].
        url: String,
    },
    /// Send what was handed over by `poll_transmit`, then close the current transport.
    CloseTransport,
    /// The server's INFO (on every connect, and again when the server updates it).
    Info(Box<ServerInfo>),
    /// The CONNECT handshake completed; subscriptions are in place again.
    Connected {
        /// True if this is a reconnect.
        reconnected: bool,
    },
    /// The transport of an established connection was lost; reconnecting follows.
    Disconnected,
    /// A message for a subscription.
    Message(Message),
    /// The response to request `token`.
    Response {
        /// The token [`ClientConnection::request`] returned.
        token: u64,
        /// The response.
        message: Message,
    },
    /// Request `token` failed.
    RequestFailed {
        /// The token [`ClientConnection::request`] returned.
        token: u64,
        /// Why.
        error: RequestError,
    },
    /// A subscription ended: unsubscribed, drained, or it reached its `max`. No more
    /// messages follow for this sid.
    SubscriptionEnded {
        /// The subscription.
        sid: u64,
    },
    /// Flush `token` completed: the server processed everything sent before it.
    FlushComplete {
        /// The token [`ClientConnection::flush`] returned.
        token: u64,
    },
    /// `+OK` (only sent to verbose clients; this one is not).
    Ok,
    /// `-ERR` from the server, with its text (for example `Authorization Violation`).
    Err(String),
    /// The connection is closed for good: by [`ClientConnection::close`] or a completed
    /// drain (`error: None`), or after giving up on connecting (`error`: the last error).
    Closed {
        /// Why, if it was not asked for.
        error: Option<String>,
    },
}

/// The connection's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before [`ClientConnection::connect`].
    Idle,
    /// `OpenTransport` emitted; waiting for `transport_opened`.
    Opening { deadline: Instant },
    /// Transport open; waiting for the server's INFO.
    AwaitingInfo { deadline: Instant },
    /// CONNECT and PING sent; waiting for the PONG.
    Handshake { deadline: Instant },
    /// Ready.
    Connected,
    /// Between reconnect attempts.
    Waiting { until: Instant },
    /// For good.
    Closed,
}

/// What a PONG answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PongWaiter {
    Handshake,
    KeepAlive,
    Flush(u64),
    Drain,
    DrainSubscription(u64),
}

impl PongWaiter {
    /// Whether the next transport must send this PING again.
    fn survives_reconnect(self) -> bool {
        !matches!(self, PongWaiter::Handshake | PongWaiter::KeepAlive)
    }
}

/// One subscription, as needed to replay it on a new transport.
#[derive(Debug, Clone)]
struct SubState {
    subject: String,
    queue: Option<String>,
    /// Total messages after which the subscription ends.
    max: Option<u64>,
    /// Messages delivered so far, over every transport.
    delivered: u64,
    /// `delivered` when the SUB went out on the current transport (the server counts
    /// `UNSUB sid max` from there).
    delivered_at_sub: u64,
    /// UNSUB sent; ends at the next PONG.
    draining: bool,
    /// The request/reply inbox subscription.
    is_mux: bool,
}

/// The request/reply inbox: one `<prefix>.<nuid>.*` subscription for every request.
#[derive(Debug, Clone)]
struct Mux {
    /// `<prefix>.<nuid>.`, to which each request appends its token.
    prefix: String,
}

/// A sans-IO NATS client connection. See the [module docs](self) for how to drive it.
#[derive(Debug)]
pub struct ClientConnection {
    options: ClientOptions,
    state: State,
    parser: ClientParser,
    /// Bytes for the open transport.
    out: Vec<u8>,
    /// Publications made while not connected, sent after the next handshake.
    pending: Vec<u8>,
    /// Reused to encode header blocks.
    scratch: Vec<u8>,
    events: VecDeque<ClientEvent>,
    info: Option<ServerInfo>,
    subs: IdMap<SubState>,
    next_sid: u64,
    /// PINGs sent on this transport, in order.
    pongs: VecDeque<PongWaiter>,
    /// PINGs to send after the next handshake.
    carry_over: VecDeque<PongWaiter>,
    next_flush: u64,
    /// Outstanding requests and their deadlines.
    requests: IdMap<Option<Instant>>,
    next_request: u64,
    mux: Option<Mux>,
    nuid: Nuid,
    server_index: usize,
    /// Attempts in a row that did not reach `Connected`.
    failed_attempts: u32,
    ever_connected: bool,
    last_error: Option<String>,
    next_ping: Option<Instant>,
    pings_out: u32,
    draining: bool,
}

/// `n` in decimal, on the stack.
fn decimal(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// A subject that can be published to (or used as a reply): non-empty, no blanks or
/// control characters (they would break the protocol line).
fn is_publishable(subject: &str) -> bool {
    !subject.is_empty() && subject.bytes().all(|b| b > b' ' && b != 0x7f)
}

impl ClientConnection {
    /// A connection that has not started. `seed` is entropy from the frontend (inbox
    /// names, reconnect jitter).
    pub fn new(seed: u64) -> ClientConnection {
        ClientConnection {
            options: ClientOptions::default(),
            state: State::Idle,
            parser: ClientParser::new(ParserLimits {
                max_control_line: MAX_SERVER_CONTROL_LINE,
                max_payload: ParserLimits::DEFAULT.max_payload,
            }),
            out: Vec::new(),
            pending: Vec::new(),
            scratch: Vec::new(),
            events: VecDeque::new(),
            info: None,
            subs: IdMap::new(),
            next_sid: 1,
            pongs: VecDeque::new(),
            carry_over: VecDeque::new(),
            next_flush: 1,
            requests: IdMap::new(),
            next_request: 1,
            mux: None,
            nuid: Nuid::new(seed),
            server_index: 0,
            failed_attempts: 0,
            ever_connected: false,
            last_error: None,
            next_ping: None,
            pings_out: 0,
            draining: false,
        }
    }

    /// Start connecting: emits [`ClientEvent::OpenTransport`] for the first server. The
    /// CONNECT goes out when the server's INFO arrives. Subscriptions and publications made
    /// before the handshake completes are sent right after it.
    pub fn connect(&mut self, options: ClientOptions, now: Instant) -> Result<(), Error> {
        if self.state != State::Idle {
            return Err(Error::AlreadyStarted);
        }
        if options.servers.is_empty() {
            return Err(Error::NoServers);
        }
        self.options = options;
        self.open_transport(now);
        Ok(())
    }

    // --- state ------------------------------------------------------------------------

    /// The options in force.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// True once the handshake completed on the current transport.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// True once closed for good.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// True while draining.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// The last INFO received.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.info.as_ref()
    }

    /// The last `-ERR` text or transport error, cleared by a successful handshake.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// The URL of the server currently connected or being connected to.
    pub fn current_server(&self) -> Option<&str> {
        self.options
            .servers
            .get(self.server_index)
            .map(String::as_str)
    }

    /// Number of active subscriptions (the request inbox included).
    pub fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Bytes of publications buffered while disconnected.
    pub fn pending_bytes(&self) -> usize {
        self.pending.len()
    }

    // --- driving ----------------------------------------------------------------------

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Hand over the bytes to send on the open transport (appended to `into`). Returns
    /// false if there was nothing.
    pub fn poll_transmit(&mut self, into: &mut Vec<u8>) -> bool {
        if self.out.is_empty() {
            return false;
        }
        if into.is_empty() {
            // Swap instead of copying; the two buffers trade capacity.
            core::mem::swap(into, &mut self.out);
        } else {
            into.extend_from_slice(&self.out);
            self.out.clear();
        }
        true
    }

    /// When [`ClientConnection::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match self.state {
            State::Opening { deadline }
            | State::AwaitingInfo { deadline }
            | State::Handshake { deadline } => Some(deadline),
            State::Waiting { until } => Some(until),
            State::Connected => self.next_ping,
            State::Idle | State::Closed => None,
        };
        let request = self.requests.values().flatten().min().copied();
        match (state, request) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Run whatever is due at `now`: connect timeouts, reconnect attempts, keep-alive
    /// PINGs (and stale-connection detection), request timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Opening { deadline }
            | State::AwaitingInfo { deadline }
            | State::Handshake { deadline }
                if now >= deadline =>
            {
                self.fail_transport(now, "timeout".to_string());
            }
            State::Waiting { until } if now >= until => {
                self.next_server();
                self.open_transport(now);
            }
            State::Connected if self.next_ping.is_some_and(|at| now >= at) => {
                if self.pings_out >= self.options.max_pings_out {
                    self.fail_transport(now, "stale connection".to_string());
                } else {
                    self.out.extend_from_slice(encode::PING);
                    self.pongs.push_back(PongWaiter::KeepAlive);
                    self.pings_out += 1;
                    self.next_ping = Some(now + self.options.ping_interval);
                }
            }
            _ => {}
        }
        let expired: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, deadline)| deadline.is_some_and(|d| now >= d))
            .map(|(token, _)| token)
            .collect();
        for token in expired {
            self.requests.remove(token);
            self.events.push_back(ClientEvent::RequestFailed {
                token,
                error: RequestError::Timeout,
            });
        }
    }

    /// The transport asked for by the last [`ClientEvent::OpenTransport`] is open.
    pub fn transport_opened(&mut self, _now: Instant) {
        if let State::Opening { deadline } = self.state {
            self.parser.reset();
            self.out.clear();
            self.state = State::AwaitingInfo { deadline };
        }
    }

    /// The current transport failed to open, failed, or was closed by the peer. `reason`
    /// (such as the WebSocket close code) becomes the last error unless the server already
    /// said why with `-ERR`.
    pub fn transport_closed(&mut self, now: Instant, reason: Option<&str>) {
        if self.has_transport() {
            if self.last_error.is_none() {
                self.last_error = Some(reason.unwrap_or("connection lost").to_string());
            }
            self.lose_transport(now);
        }
    }

    /// Consume every complete op at the front of `buf` (bytes received on the current
    /// transport), leaving a partial one.
    pub fn handle_bytes(&mut self, buf: &mut BytesMut, now: Instant) {
        while self.is_reading() {
            let (consumed, msg) = match self.parser.parse(buf) {
                Ok(None) => return,
                Err(e) => {
                    buf.clear();
                    self.fail_transport(now, format!("protocol error: {e}"));
                    return;
                }
                Ok(Some((op, consumed))) => match op.msg_ranges(buf) {
                    Some(msg) => (consumed, Some(msg)),
                    None => {
                        self.handle_control(op, now);
                        (consumed, None)
                    }
                },
            };
            if !self.is_reading() {
                break;
            }
            match msg {
                Some(m) => {
                    let frame = buf.split_to(consumed).freeze();
                    self.deliver(&frame, m);
                }
                None => buf.advance(consumed),
            }
        }
        // The transport is gone (or never was): its bytes mean nothing now.
        buf.clear();
    }

    // --- commands ---------------------------------------------------------------------

    /// Subscribe; returns the sid. With `max`, the subscription ends after that many
    /// messages (the server is told with `UNSUB sid max`).
    pub fn subscribe(
        &mut self,
        subject: &str,
        queue: Option<&str>,
        max: Option<u64>,
    ) -> Result<u64, Error> {
        self.check_open()?;
        if !subject::is_valid_subject(subject.as_bytes()) {
            return Err(Error::BadSubject);
        }
        if queue.is_some_and(|q| !subject::is_valid_queue(q.as_bytes())) {
            return Err(Error::BadQueue);
        }
        let sid = self.next_sid;
        self.next_sid += 1;
        self.subs.insert(
            sid,
            SubState {
                subject: subject.to_string(),
                queue: queue.map(str::to_string),
                max: max.filter(|&m| m > 0),
                delivered: 0,
                delivered_at_sub: 0,
                draining: false,
                is_mux: false,
            },
        );
        if self.is_connected() {
            if let Some(sub) = self.subs.get(sid) {
                write_sub(&mut self.out, sid, sub);
            }
        }
        Ok(sid)
    }

    /// Unsubscribe now (`max: None`) or after `max` messages in total. Ending now emits
    /// [`ClientEvent::SubscriptionEnded`].
    pub fn unsubscribe(&mut self, sid: u64, max: Option<u64>) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        let connected = self.is_connected();
        let sub = match self.subs.get_mut(sid) {
            Some(sub) if !sub.is_mux => sub,
            _ => return Err(Error::UnknownSubscription),
        };
        let mut digits = [0u8; 20];
        match max.filter(|&m| m > sub.delivered) {
            Some(max) => {
                sub.max = Some(max);
                if connected && !sub.draining {
                    let left = max - sub.delivered_at_sub;
                    encode::unsub(&mut self.out, decimal(sid, &mut digits), Some(left));
                }
            }
            None => {
                let was_draining = sub.draining;
                self.subs.remove(sid);
                if connected && !was_draining {
                    encode::unsub(&mut self.out, decimal(sid, &mut digits), None);
                }
                self.events
                    .push_back(ClientEvent::SubscriptionEnded { sid });
            }
        }
        Ok(())
    }

    /// Unsubscribe, but deliver what the server already sent: the subscription ends
    /// (with [`ClientEvent::SubscriptionEnded`]) when the PONG after the UNSUB arrives.
    pub fn drain_subscription(&mut self, sid: u64) -> Result<(), Error> {
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        let sub = match self.subs.get_mut(sid) {
            Some(sub) if !sub.is_mux && !sub.draining => sub,
            _ => return Err(Error::UnknownSubscription),
        };
        sub.draining = true;
        if self.is_connected() {
            let mut digits = [0u8; 20];
            encode::unsub(&mut self.out, decimal(sid, &mut digits), None);
        }
        self.ping(PongWaiter::DrainSubscription(sid));
        Ok(())
    }

    /// Publish. Without a transport the bytes wait (up to
    /// [`ClientOptions::reconnect_buffer_size`]) for the next handshake.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&Headers>,
        payload: &[u8],
    ) -> Result<(), Error> {
        self.check_open()?;
        if !is_publishable(subject) || reply.is_some_and(|r| !is_publishable(r)) {
            return Err(Error::BadSubject);
        }
        self.scratch.clear();
        if let Some(headers) = headers {
            if self.info.as_ref().is_some_and(|i| !i.headers) {
                return Err(Error::HeadersNotSupported);
            }
            headers.encode(&mut self.scratch);
        }
        let size = self.scratch.len() + payload.len();
        let max = self.info.as_ref().map_or(0, |i| i.max_payload);
        if max > 0 && size > max {
            return Err(Error::MaxPayloadExceeded { size, max });
        }
        let out = if self.is_connected() {
            &mut self.out
        } else {
            // Control line + CRLF: generous upper bound.
            let estimate = size + subject.len() + reply.map_or(0, str::len) + 32;
            if self.pending.len() + estimate > self.options.reconnect_buffer_size {
                return Err(Error::ReconnectBufferFull);
            }
            &mut self.pending
        };
        let (subject, reply) = (subject.as_bytes(), reply.map(str::as_bytes));
        if headers.is_some() {
            encode::hpublish(out, subject, reply, &self.scratch, payload);
        } else {
            encode::publish(out, subject, reply, payload);
        }
        Ok(())
    }

    /// Publish a request and return its token; the response arrives as
    /// [`ClientEvent::Response`] with that token, or [`ClientEvent::RequestFailed`]
    /// (no responders, or `timeout` passed). All requests share one inbox subscription.
    pub fn request(
        &mut self,
        subject: &str,
        headers: Option<&Headers>,
        payload: &[u8],
        timeout: Option<Duration>,
        now: Instant,
    ) -> Result<u64, Error> {
        self.check_open()?;
        let token = self.next_request;
        let mut digits = [0u8; 20];
        let mut reply = self.mux_prefix().to_string();
        reply.extend(decimal(token, &mut digits).iter().map(|&b| char::from(b)));
        self.publish(subject, Some(&reply), headers, payload)?;
        self.next_request += 1;
        self.requests.insert(token, timeout.map(|t| now + t));
        Ok(token)
    }

    /// Forget request `token` (its response, if any, is dropped). False if unknown.
    pub fn cancel_request(&mut self, token: u64) -> bool {
        self.requests.remove(token).is_some()
    }

    /// A fresh inbox subject (`_INBOX.<nuid>`).
    pub fn new_inbox(&mut self) -> String {
        format!("{}.{}", self.options.inbox_prefix, self.nuid.next_string())
    }

    /// Send a PING; [`ClientEvent::FlushComplete`] with the returned token follows when
    /// the server has processed everything sent before it. Without a transport the PING
    /// goes out after the next handshake.
    pub fn flush(&mut self) -> Result<u64, Error> {
        if self.state == State::Closed {
            return Err(Error::Closed);
        }
        let token = self.next_flush;
        self.next_flush += 1;
        self.ping(PongWaiter::Flush(token));
        Ok(token)
    }

    /// Drain: unsubscribe everything, let the messages already sent by the server arrive,
    /// make sure the server processed every publication, then close (`Closed` with no
    /// error). Publishing and subscribing fail from now on.
    pub fn drain(&mut self) -> Result<(), Error> {
        self.check_open()?;
        self.draining = true;
        let connected = self.is_connected();
        let mut digits = [0u8; 20];
        for (sid, sub) in self.subs.iter_mut() {
            if connected && !sub.draining {
                encode::unsub(&mut self.out, decimal(sid, &mut digits), None);
            }
            sub.draining = true;
        }
        self.ping(PongWaiter::Drain);
        Ok(())
    }

    /// Close now. Bytes already handed to `poll_transmit` (or still there) should be sent
    /// before the transport closes; nothing is buffered for later.
    pub fn close(&mut self) {
        self.close_with(None);
    }

    /// The SUB (and `UNSUB sid max`) commands that re-create every subscription on a new
    /// transport, as sent after each handshake. Draining subscriptions are left out.
    pub fn resubscribe_commands(&self, out: &mut Vec<u8>) {
        for (sid, sub) in self.subs.iter() {
            if !sub.draining {
                write_sub(out, sid, sub);
            }
        }
    }

    // --- internals --------------------------------------------------------------------

    fn check_open(&self) -> Result<(), Error> {
        if self.state == State::Closed {
            Err(Error::Closed)
        } else if self.draining {
            Err(Error::Draining)
        } else {
            Ok(())
        }
    }

    fn has_transport(&self) -> bool {
        matches!(
            self.state,
            State::Opening { .. }
                | State::AwaitingInfo { .. }
                | State::Handshake { .. }
                | State::Connected
        )
    }

    fn is_reading(&self) -> bool {
        matches!(
            self.state,
            State::AwaitingInfo { .. } | State::Handshake { .. } | State::Connected
        )
    }

    /// PING now, or after the next handshake.
    fn ping(&mut self, waiter: PongWaiter) {
        if self.is_connected() {
            self.out.extend_from_slice(encode::PING);
            self.pongs.push_back(waiter);
        } else {
            self.carry_over.push_back(waiter);
        }
    }

    /// The request inbox prefix, subscribing to it on first use.
    fn mux_prefix(&mut self) -> &str {
        if self.mux.is_none() {
            let prefix = format!("{}.{}.", self.options.inbox_prefix, self.nuid.next_string());
            let sid = self.next_sid;
            self.next_sid += 1;
            let sub = SubState {
                subject: format!("{prefix}*"),
                queue: None,
                max: None,
                delivered: 0,
                delivered_at_sub: 0,
                draining: false,
                is_mux: true,
            };
            if self.is_connected() {
                write_sub(&mut self.out, sid, &sub);
            }
            self.subs.insert(sid, sub);
            self.mux = Some(Mux { prefix });
        }
        self.mux.as_ref().map_or("", |m| m.prefix.as_str())
    }

    fn open_transport(&mut self, now: Instant) {
        let url = self
            .options
            .servers
            .get(self.server_index)
            .cloned()
            .unwrap_or_default();
        self.state = State::Opening {
            deadline: now + self.options.connect_timeout,
        };
        self.events.push_back(ClientEvent::OpenTransport { url });
    }

    /// Move on to the next server of the list (the one just lost goes last, as in
    /// nats.go).
    fn next_server(&mut self) {
        self.server_index = (self.server_index + 1) % self.options.servers.len().max(1);
    }

    /// Close the current transport because of `error` and carry on as if it was lost.
    fn fail_transport(&mut self, now: Instant, error: String) {
        self.last_error = Some(error);
        self.events.push_back(ClientEvent::CloseTransport);
        self.lose_transport(now);
    }

    fn lose_transport(&mut self, now: Instant) {
        let was_connected = self.state == State::Connected;
        // No transport from here on; the branches below pick what comes next.
        self.state = State::Waiting { until: now };
        self.parser.reset();
        self.out.clear();
        self.pings_out = 0;
        self.next_ping = None;
        // PINGs that were in flight go first, then those queued while connecting.
        let mut waiters: VecDeque<PongWaiter> = self
            .pongs
            .drain(..)
            .filter(|w| w.survives_reconnect())
            .collect();
        waiters.append(&mut self.carry_over);
        self.carry_over = waiters;
        if was_connected {
            self.failed_attempts = 0;
            self.events.push_back(ClientEvent::Disconnected);
        } else {
            self.failed_attempts += 1;
        }
        if !self.ever_connected {
            // The first connect tries each server once, without waiting.
            if self.failed_attempts as usize >= self.options.servers.len() {
                self.give_up();
            } else {
                self.next_server();
                self.open_transport(now);
            }
            return;
        }
        let exhausted = self
            .options
            .max_reconnect_attempts
            .is_some_and(|max| self.failed_attempts >= max);
        if !self.options.reconnect || exhausted {
            self.give_up();
            return;
        }
        let jitter_ms = self.options.reconnect_jitter.as_millis() as u64;
        let jitter = match jitter_ms {
            0 => Duration::ZERO,
            ms => Duration::from_millis(self.nuid.next_u64() % ms),
        };
        let wait = self.options.reconnect_backoff(self.failed_attempts + 1) + jitter;
        self.state = State::Waiting { until: now + wait };
    }

    fn give_up(&mut self) {
        let error = self
            .last_error
            .clone()
            .unwrap_or_else(|| "could not connect".to_string());
        self.close_with(Some(error));
    }

    fn close_with(&mut self, error: Option<String>) {
        if self.state == State::Closed {
            return;
        }
        if self.has_transport() {
            self.events.push_back(ClientEvent::CloseTransport);
        }
        self.state = State::Closed;
        self.subs.clear();
        self.requests.clear();
        self.pongs.clear();
        self.carry_over.clear();
        self.pending.clear();
        self.next_ping = None;
        self.events.push_back(ClientEvent::Closed { error });
    }

    /// INFO, +OK, -ERR, PING, PONG.
    fn handle_control(&mut self, op: ServerOp<'_>, now: Instant) {
        match op {
            ServerOp::Info { json } => {
                let Some(info) = ServerInfo::parse(json) else {
                    self.fail_transport(now, "invalid INFO from server".to_string());
                    return;
                };
                if info.max_payload > 0 {
                    self.parser.set_limits(ParserLimits {
                        max_control_line: MAX_SERVER_CONTROL_LINE,
                        max_payload: info.max_payload,
                    });
                }
                self.info = Some(info.clone());
                self.events.push_back(ClientEvent::Info(Box::new(info)));
                if let State::AwaitingInfo { deadline } = self.state {
                    encode::connect(&mut self.out, &self.options.connect_json());
                    self.out.extend_from_slice(encode::PING);
                    self.pongs.push_back(PongWaiter::Handshake);
                    self.state = State::Handshake { deadline };
                }
            }
            ServerOp::Ok => self.events.push_back(ClientEvent::Ok),
            ServerOp::Err { message } => {
                let text = String::from_utf8_lossy(message).into_owned();
                self.last_error = Some(text.clone());
                self.events.push_back(ClientEvent::Err(text));
            }
            ServerOp::Ping => self.out.extend_from_slice(encode::PONG),
            ServerOp::Pong => {
                self.pings_out = 0;
                match self.pongs.pop_front() {
                    Some(PongWaiter::Handshake) => self.finish_handshake(now),
                    Some(PongWaiter::Flush(token)) => {
                        self.events.push_back(ClientEvent::FlushComplete { token });
                    }
                    Some(PongWaiter::DrainSubscription(sid)) => {
                        if self.subs.remove(sid).is_some() {
                            self.events
                                .push_back(ClientEvent::SubscriptionEnded { sid });
                        }
                    }
                    Some(PongWaiter::Drain) => {
                        let ended: Vec<u64> = self
                            .subs
                            .iter()
                            .filter(|(_, s)| !s.is_mux)
                            .map(|(sid, _)| sid)
                            .collect();
                        for sid in ended {
                            self.events
                                .push_back(ClientEvent::SubscriptionEnded { sid });
                        }
                        self.close_with(None);
                    }
                    Some(PongWaiter::KeepAlive) | None => {}
                }
            }
            // MSG and HMSG are delivered by the caller.
            ServerOp::Msg { .. } | ServerOp::HMsg { .. } => {}
        }
    }

    fn finish_handshake(&mut self, now: Instant) {
        let reconnected = self.ever_connected;
        self.ever_connected = true;
        self.failed_attempts = 0;
        self.last_error = None;
        self.state = State::Connected;
        self.next_ping = Some(now + self.options.ping_interval);
        for (sid, sub) in self.subs.iter_mut() {
            if !sub.draining {
                write_sub(&mut self.out, sid, sub);
                sub.delivered_at_sub = sub.delivered;
            }
        }
        self.out.append(&mut self.pending);
        while let Some(waiter) = self.carry_over.pop_front() {
            self.out.extend_from_slice(encode::PING);
            self.pongs.push_back(waiter);
        }
        self.events
            .push_back(ClientEvent::Connected { reconnected });
    }

    fn deliver(&mut self, frame: &Bytes, m: MsgRanges) {
        let Some(sid) = m.sid else {
            return;
        };
        // Late messages for a subscription that already ended are dropped.
        let Some(sub) = self.subs.get_mut(sid) else {
            return;
        };
        let message = Message {
            subject: frame.slice(m.subject),
            sid,
            reply: m.reply.map(|r| frame.slice(r)),
            headers: m.headers.map(|h| frame.slice(h)),
            payload: frame.slice(m.payload),
        };
        if sub.is_mux {
            self.route_response(message);
            return;
        }
        sub.delivered += 1;
        let ended = sub.max.is_some_and(|max| sub.delivered >= max);
        self.events.push_back(ClientEvent::Message(message));
        if ended {
            self.subs.remove(sid);
            self.events
                .push_back(ClientEvent::SubscriptionEnded { sid });
        }
    }

    fn route_response(&mut self, message: Message) {
        let Some(mux) = &self.mux else {
            return;
        };
        let token = message
            .subject
            .strip_prefix(mux.prefix.as_bytes())
            .and_then(parse_decimal_u64);
        // A response to a request that timed out or was cancelled is dropped.
        let Some(token) = token.filter(|t| self.requests.remove(*t).is_some()) else {
            return;
        };
        let event = if message.is_no_responders() {
            ClientEvent::RequestFailed {
                token,
                error: RequestError::NoResponders,
            }
        } else {
            ClientEvent::Response { token, message }
        };
        self.events.push_back(event);
    }
}

/// `SUB subject [queue] sid` and, for a subscription with a limit, `UNSUB sid left`.
fn write_sub(out: &mut Vec<u8>, sid: u64, sub: &SubState) {
    let mut digits = [0u8; 20];
    let sid_text = decimal(sid, &mut digits);
    encode::sub(
        out,
        sub.subject.as_bytes(),
        sub.queue.as_deref().map(str::as_bytes),
        sid_text,
    );
    if let Some(max) = sub.max {
        encode::unsub(out, sid_text, Some(max.saturating_sub(sub.delivered)));
    }
}

#[cfg(test)]
mod tests;
