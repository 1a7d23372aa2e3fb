//! Resumable, zero-copy parser (STUB: API fixed, body to be written).

use crate::error::ClientError;

/// Limits enforced while parsing, before any payload is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    /// Longest control line accepted (bytes, excluding the line terminator).
    pub max_control_line: usize,
    /// Largest payload (PUB size / HPUB total size) accepted.
    pub max_payload: usize,
}

/// An op sent by a client to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT {json}`
    Connect {
        /// The JSON object.
        json: &'a [u8],
    },
    /// `PUB subject [reply] size` + payload
    Pub {
        /// Subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Payload.
        payload: &'a [u8],
    },
    /// `HPUB subject [reply] hdr_size total_size` + headers + payload
    HPub {
        /// Subject.
        subject: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Header block, `NATS/1.0…\r\n\r\n`.
        headers: &'a [u8],
        /// Payload after the header block.
        payload: &'a [u8],
    },
    /// `SUB subject [queue] sid`
    Sub {
        /// Subject.
        subject: &'a [u8],
        /// Queue group.
        queue: Option<&'a [u8]>,
        /// Subscription id.
        sid: &'a [u8],
    },
    /// `UNSUB sid [max]`
    Unsub {
        /// Subscription id.
        sid: &'a [u8],
        /// Auto-unsubscribe after this many messages.
        max: Option<u64>,
    },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// An op sent by the server to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerOp<'a> {
    /// `INFO {json}`
    Info {
        /// The JSON object.
        json: &'a [u8],
    },
    /// `MSG subject sid [reply] size` + payload
    Msg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Payload.
        payload: &'a [u8],
    },
    /// `HMSG subject sid [reply] hdr_size total_size` + headers + payload
    HMsg {
        /// Subject.
        subject: &'a [u8],
        /// Subscription id.
        sid: &'a [u8],
        /// Reply subject.
        reply: Option<&'a [u8]>,
        /// Header block.
        headers: &'a [u8],
        /// Payload after the header block.
        payload: &'a [u8],
    },
    /// `+OK`
    Ok,
    /// `-ERR 'text'`
    Err {
        /// The text between the quotes.
        message: &'a [u8],
    },
    /// `PING`
    Ping,
    /// `PONG`
    Pong,
}

/// Why parsing failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Placeholder.
    Unknown,
}

impl ParseError {
    /// The `-ERR` nats-server sends for this error, if any.
    pub fn client_error(&self) -> Option<ClientError> {
        Some(ClientError::UnknownProtocolOperation)
    }
}

/// Parses ops sent by clients (the server's side of a connection).
#[derive(Debug, Clone)]
pub struct ServerParser {
    limits: ParserLimits,
}

impl ServerParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParserLimits) -> Self {
        ServerParser { limits }
    }

    /// Change the limits (e.g. after CONNECT).
    pub fn set_limits(&mut self, limits: ParserLimits) {
        self.limits = limits;
    }

    /// Parse one op from the front of `buf`.
    ///
    /// `Ok(Some((op, consumed)))`: an op; the caller drops `consumed` bytes from the front
    /// of its buffer after handling it. `Ok(None)`: more bytes are needed; call again with
    /// the same buffer extended. `Err`: protocol error, the connection is to be closed.
    pub fn parse<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ClientOp<'a>, usize)>, ParseError> {
        let _ = (buf, self.limits);
        unimplemented!()
    }
}

/// Parses ops sent by servers (a client's side of a connection).
#[derive(Debug, Clone)]
pub struct ClientParser {
    limits: ParserLimits,
}

impl ClientParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: ParserLimits) -> Self {
        ClientParser { limits }
    }

    /// Same contract as [`ServerParser::parse`].
    pub fn parse<'a>(
        &mut self,
        buf: &'a [u8],
    ) -> Result<Option<(ServerOp<'a>, usize)>, ParseError> {
        let _ = (buf, self.limits);
        unimplemented!()
    }
}
