//! In-process clients: a program that embeds the server publishes and subscribes through
//! an ordinary [`Connection`] that it feeds protocol bytes directly, with no socket in
//! between. Everything a TCP client is subject to (authentication, permissions, limits,
//! queue groups, slow-consumer protection, monitoring) applies unchanged, because it is
//! the same state machine.
//!
//! Every call runs to completion before it returns: a publish has reached every local
//! subscriber's queue and every TCP client's outbound queue (whose writer has been woken),
//! and a `-ERR` the server answers with comes back as the call's error. Incoming messages
//! are taken with [`LocalClient::try_next_message`] or awaited with
//! [`LocalClient::next_message`] on any executor: the connection's writer waker, which
//! other connections wake when they deliver, is the awaiting task's waker.
//!
//! An in-process client has no socket that could go stale, so it runs no timers: the
//! server never PINGs it and it never needs [`Connection::handle_timeout`].
//!
//! ```
//! use rnats_engine::options::Options;
//! use rnats_engine::server::local::{LocalClient, LocalOptions};
//! use rnats_engine::server::Server;
//! use rnats_engine::time::Instant;
//!
//! let server = Server::new(Options::default(), 7, Instant::ZERO);
//! let clock = || Instant::ZERO;
//! let mut subscriber = LocalClient::connect(&server, &LocalOptions::default(), clock)?;
//! let mut publisher = LocalClient::connect(&server, &LocalOptions::default(), clock)?;
//! subscriber.subscribe("greetings.>")?;
//! publisher.publish("greetings.world", "hello")?;
//! let message = subscriber.try_next_message().expect("delivered synchronously");
//! assert_eq!(&message.subject[..], b"greetings.world");
//! assert_eq!(&message.payload[..], b"hello");
//! # Ok::<(), rnats_engine::server::local::LocalError>(())
//! ```

use super::conn::Connection;
use super::outbound::{CloseReason, WriteEvent};
use super::{PeerAddr, Server};
use crate::client::ClientOptions;
use crate::prelude::*;
use crate::proto::{encode, ClientParser, MsgRanges, ParserLimits, ServerOp};
use crate::time::Instant;
use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};
use core::fmt;
use core::future::poll_fn;
use core::task::{Context, Poll, Waker};

/// How an in-process client introduces itself in its CONNECT.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalOptions {
    /// Client name (shown by `/connz`).
    pub name: Option<String>,
    /// User name credential.
    pub user: Option<String>,
    /// Password credential.
    pub pass: Option<String>,
    /// Token credential.
    pub token: Option<String>,
    /// Do not deliver this client's own messages back to it (CONNECT `echo: false`).
    pub no_echo: bool,
}

/// Why a [`LocalClient`] call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalError {
    /// The server answered with `-ERR`; this is its text (e.g. `Invalid Subject`,
    /// `Permissions Violation for Publish to "x"`, `Authorization Violation`).
    Server(String),
    /// The connection is closed.
    Closed(CloseReason),
    /// A subject, reply subject or queue group that is empty or contains whitespace, so
    /// it cannot be written into a protocol line.
    InvalidArgument,
}

impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalError::Server(text) => write!(f, "server error: {text}"),
            LocalError::Closed(reason) => write!(f, "connection closed: {}", reason.as_str()),
            LocalError::InvalidArgument => {
                f.write_str("subject or queue group is empty or contains whitespace")
            }
        }
    }
}

impl core::error::Error for LocalError {}

/// A message delivered to an in-process client. The byte fields share one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The subscription it was delivered to ([`LocalClient::subscribe`]'s return value).
    pub sid: u64,
    /// The subject it was published to.
    pub subject: Bytes,
    /// Where the publisher wants a reply.
    pub reply: Option<Bytes>,
    /// The header block (`NATS/1.0\r\n…\r\n\r\n`), if it was published with headers.
    pub headers: Option<Bytes>,
    /// The payload.
    pub payload: Bytes,
}

/// An in-process client of a [`Server`]: see the [module docs](self).
#[derive(Debug)]
pub struct LocalClient {
    conn: Connection,
    clock: fn() -> Instant,
    /// Ops on their way to the connection (reused, so publishing does not allocate).
    input: BytesMut,
    /// Chunks taken from the connection's outbound queue.
    chunks: VecDeque<Bytes>,
    /// Bytes from the server not yet parsed.
    incoming: BytesMut,
    parser: ClientParser,
    messages: VecDeque<Message>,
    next_sid: u64,
    closed: Option<CloseReason>,
}

/// What one parsed server op asks of the client, with a message's parts as offsets into
/// the incoming buffer (so the buffer can be split once the borrow of the op has ended).
enum Parsed {
    Msg(MsgRanges),
    Err(String),
    Ping,
    Other,
}

impl LocalClient {
    /// Connect to `server` in-process. `clock` is the frontend's monotonic clock (the one
    /// it passes to [`Server::new`] and [`Connection::handle_bytes`]); the engine reads no
    /// clock of its own. Fails with the server's `-ERR` text if the credentials are
    /// refused or the server is full.
    pub fn connect(
        server: &Arc<Server>,
        options: &LocalOptions,
        clock: fn() -> Instant,
    ) -> Result<LocalClient, LocalError> {
        let conn = server.accept(PeerAddr::default(), clock());
        let mut client = LocalClient {
            conn,
            clock,
            input: BytesMut::new(),
            chunks: VecDeque::new(),
            incoming: BytesMut::new(),
            // The bytes come from our own server, which enforced its limits on the way in.
            parser: ClientParser::new(ParserLimits {
                max_control_line: usize::MAX / 4,
                max_payload: usize::MAX / 4,
            }),
            messages: VecDeque::new(),
            next_sid: 1,
            closed: None,
        };
        // The CONNECT of the engine's own client, as any stock client sends it (headers
        // and no-responders on).
        let json = ClientOptions {
            name: options.name.clone(),
            user: options.user.clone(),
            pass: options.pass.clone(),
            token: options.token.clone(),
            echo: !options.no_echo,
            ..ClientOptions::default()
        }
        .connect_json();
        client.send(|out| encode::connect(out, &json))?;
        Ok(client)
    }

    /// The connection id (`cid` in `/connz`).
    pub fn id(&self) -> u64 {
        self.conn.id()
    }

    /// Whether the connection is closed (by [`LocalClient::close`] or by the server).
    pub fn is_closed(&self) -> bool {
        self.closed.is_some() || self.conn.is_closed()
    }

    /// Subscribe to `subject` (wildcards allowed). Returns the subscription id that
    /// [`Message::sid`] carries.
    pub fn subscribe(&mut self, subject: impl AsRef<[u8]>) -> Result<u64, LocalError> {
        self.subscribe_inner(subject.as_ref(), None)
    }

    /// Subscribe to `subject` as a member of queue group `queue`: each message goes to one
    /// member of the group.
    pub fn queue_subscribe(
        &mut self,
        subject: impl AsRef<[u8]>,
        queue: impl AsRef<[u8]>,
    ) -> Result<u64, LocalError> {
        self.subscribe_inner(subject.as_ref(), Some(queue.as_ref()))
    }

    fn subscribe_inner(&mut self, subject: &[u8], queue: Option<&[u8]>) -> Result<u64, LocalError> {
        check_token(subject)?;
        if let Some(queue) = queue {
            check_token(queue)?;
        }
        let sid = self.next_sid;
        self.next_sid += 1;
        let sid_text = sid.to_string();
        self.send(|out| encode::sub(out, subject, queue, sid_text.as_bytes()))?;
        Ok(sid)
    }

    /// Remove subscription `sid` now.
    pub fn unsubscribe(&mut self, sid: u64) -> Result<(), LocalError> {
        let sid_text = sid.to_string();
        self.send(|out| encode::unsub(out, sid_text.as_bytes(), None))
    }

    /// Remove subscription `sid` once it has delivered `max` messages in all.
    pub fn unsubscribe_after(&mut self, sid: u64, max: u64) -> Result<(), LocalError> {
        let sid_text = sid.to_string();
        self.send(|out| encode::unsub(out, sid_text.as_bytes(), Some(max)))
    }

    /// Publish `payload` to `subject`.
    pub fn publish(
        &mut self,
        subject: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
    ) -> Result<(), LocalError> {
        let subject = subject.as_ref();
        check_token(subject)?;
        self.send(|out| encode::publish(out, subject, None, payload.as_ref()))
    }

    /// Publish `payload` to `subject`, asking for replies on `reply`.
    pub fn publish_with_reply(
        &mut self,
        subject: impl AsRef<[u8]>,
        reply: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
    ) -> Result<(), LocalError> {
        let (subject, reply) = (subject.as_ref(), reply.as_ref());
        check_token(subject)?;
        check_token(reply)?;
        self.send(|out| encode::publish(out, subject, Some(reply), payload.as_ref()))
    }

    /// Publish with a header block (`NATS/1.0\r\nName: value\r\n\r\n`) and an optional
    /// reply subject.
    pub fn publish_with_headers(
        &mut self,
        subject: impl AsRef<[u8]>,
        reply: Option<&[u8]>,
        headers: impl AsRef<[u8]>,
        payload: impl AsRef<[u8]>,
    ) -> Result<(), LocalError> {
        let subject = subject.as_ref();
        check_token(subject)?;
        if let Some(reply) = reply {
            check_token(reply)?;
        }
        self.send(|out| encode::hpublish(out, subject, reply, headers.as_ref(), payload.as_ref()))
    }

    /// The next message already delivered, if any. Never waits.
    pub fn try_next_message(&mut self) -> Option<Message> {
        if self.messages.is_empty() {
            self.drain(&mut Context::from_waker(Waker::noop()));
        }
        self.messages.pop_front()
    }

    /// The next message, or `Ready(None)` once the connection is closed and every message
    /// delivered before has been taken. When nothing is queued, `cx`'s waker is woken by
    /// the next delivery.
    pub fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        if self.messages.is_empty() {
            self.drain(cx);
        }
        match self.messages.pop_front() {
            Some(message) => Poll::Ready(Some(message)),
            None if self.closed.is_some() => Poll::Ready(None),
            None => Poll::Pending,
        }
    }

    /// Wait for the next message; `None` once the connection is closed.
    pub async fn next_message(&mut self) -> Option<Message> {
        poll_fn(|cx| self.poll_next_message(cx)).await
    }

    /// Close the connection: its subscriptions go away. Dropping the client does the same.
    pub fn close(&mut self) {
        self.finish(CloseReason::ClientClosed);
    }

    /// Feed one encoded op to the connection and take what it answered.
    fn send(&mut self, encode_op: impl FnOnce(&mut BytesMut)) -> Result<(), LocalError> {
        if let Some(reason) = self.closed {
            return Err(LocalError::Closed(reason));
        }
        self.input.clear();
        encode_op(&mut self.input);
        let open = self.conn.handle_bytes(&mut self.input, (self.clock)());
        // Nobody awaits this client while one of its `&mut self` methods runs, so a
        // no-op waker is enough; the next `poll_next_message` registers the real one.
        let error = self.drain(&mut Context::from_waker(Waker::noop()));
        if let Some(text) = error {
            return Err(LocalError::Server(text));
        }
        if !open {
            let reason = match self
                .conn
                .shared()
                .poll_closed(&mut Context::from_waker(Waker::noop()))
            {
                Poll::Ready(reason) => reason,
                Poll::Pending => CloseReason::ClientClosed,
            };
            self.finish(reason);
            return Err(LocalError::Closed(reason));
        }
        Ok(())
    }

    /// Take what the server queued for this client: messages go to the queue, PINGs are
    /// answered, a close is noted. Stops once a poll of the outbound queue came back
    /// pending (so `cx` is registered for the next delivery), closed, or delivered a
    /// message. Returns the text of the first `-ERR`, if any.
    fn drain(&mut self, cx: &mut Context<'_>) -> Option<String> {
        let mut error = None;
        while self.closed.is_none() {
            let event = self.conn.shared().poll_write(cx, &mut self.chunks);
            for chunk in self.chunks.drain(..) {
                self.incoming.extend_from_slice(&chunk);
            }
            let pong_owed = self.parse_incoming(&mut error);
            match event {
                Poll::Ready(WriteEvent::Closed(reason)) => {
                    self.finish(reason);
                    break;
                }
                _ if pong_owed => {
                    self.input.clear();
                    self.input.extend_from_slice(encode::PONG);
                    self.conn.handle_bytes(&mut self.input, (self.clock)());
                }
                _ => {}
            }
            if event.is_pending() || !self.messages.is_empty() {
                break;
            }
        }
        error
    }

    /// Parse every complete op in `incoming`. Records the first `-ERR` text in `error`;
    /// returns whether the server sent a PING.
    fn parse_incoming(&mut self, error: &mut Option<String>) -> bool {
        let mut pong_owed = false;
        loop {
            let (parsed, consumed) = match self.parser.parse(&self.incoming) {
                Ok(None) => return pong_owed,
                Ok(Some((op, consumed))) => (parsed(&self.incoming, op), consumed),
                Err(_) => {
                    // Our own server's output always parses; if it did not, nothing after
                    // it could be trusted either.
                    self.incoming.clear();
                    self.finish(CloseReason::ProtocolViolation);
                    return false;
                }
            };
            match parsed {
                Parsed::Msg(msg) => {
                    let frame = self.incoming.split_to(consumed).freeze();
                    self.messages.push_back(Message {
                        // Every sid in our own server's MSG lines is one this client wrote.
                        sid: msg.sid.unwrap_or_default(),
                        subject: frame.slice(msg.subject),
                        reply: msg.reply.map(|r| frame.slice(r)),
                        headers: msg.headers.map(|h| frame.slice(h)),
                        payload: frame.slice(msg.payload),
                    });
                }
                other => {
                    self.incoming.advance(consumed);
                    match other {
                        Parsed::Err(text) => {
                            error.get_or_insert(text);
                        }
                        Parsed::Ping => pong_owed = true,
                        _ => {}
                    }
                }
            }
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        if self.closed.is_none() {
            self.closed = Some(reason);
            self.conn.close(reason, (self.clock)());
        }
    }
}

/// What `op`, parsed from `buf`, asks of the client.
fn parsed(buf: &[u8], op: ServerOp<'_>) -> Parsed {
    if let Some(msg) = op.msg_ranges(buf) {
        return Parsed::Msg(msg);
    }
    match op {
        ServerOp::Err { message } => Parsed::Err(String::from_utf8_lossy(message).into_owned()),
        ServerOp::Ping => Parsed::Ping,
        _ => Parsed::Other,
    }
}

/// A subject, reply or queue must be one non-empty protocol argument: whitespace would
/// split it into several (`PUB a b 5` publishes to `a` with reply `b`).
fn check_token(token: &[u8]) -> Result<(), LocalError> {
    if token.is_empty() || token.iter().any(u8::is_ascii_whitespace) {
        return Err(LocalError::InvalidArgument);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
