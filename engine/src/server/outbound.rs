//! A connection's outbound side: the bytes waiting to be written, shared by every
//! connection that delivers to it, and the wakers of the frontend's writer and reader.
//!
//! Small writes are appended to one growing buffer; large payloads are queued as shared
//! [`Bytes`] chunks so a fan-out never copies them. The frontend's writer takes everything
//! at once and writes it with one vectored write.

use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};
use core::task::{Context, Poll, Waker};

/// Payloads at least this long are shared between subscribers instead of copied.
pub const SHARE_PAYLOAD_AT: usize = 8 * 1024;

/// Tail capacity reserved at once for the control lines around shared payloads (about a
/// hundred of them), see [`Outbound::reserve_line`].
const LINE_BLOCK: usize = 4 * 1024;

/// A block whose round (the bytes handed to the writer at once) was larger than this is
/// not kept for reuse (see [`Outbound::poll_write`]): a connection that once queued a big
/// backlog should not hold two buffers of that size for the rest of its life.
const SPARE_BLOCK_MAX: usize = 16 * 1024 * 1024;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed its side.
    ClientClosed,
    /// A protocol error (parse error, bad CONNECT…).
    ProtocolViolation,
    /// Bad credentials.
    AuthenticationViolation,
    /// No CONNECT before the auth timeout.
    AuthenticationTimeout,
    /// Payload over `max_payload`.
    MaxPayloadExceeded,
    /// Control line over `max_control_line`.
    MaxControlLineExceeded,
    /// Over `max_connections`.
    MaxConnectionsExceeded,
    /// Unanswered PINGs.
    StaleConnection,
    /// Pending bytes over `max_pending`.
    SlowConsumerPendingBytes,
    /// A write took longer than `write_deadline`.
    SlowConsumerWriteDeadline,
    /// A read or write on the socket failed.
    ReadError,
    /// The TLS handshake failed or took longer than the `tls` block's `timeout`.
    TlsHandshakeError,
    /// The server is shutting down.
    ServerShutdown,
}

impl CloseReason {
    /// nats-server's name for the reason (as shown by `/connz?state=closed`).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::AuthenticationViolation => "Authentication Failure",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::ReadError => "Read Error",
            CloseReason::TlsHandshakeError => "TLS Handshake Failure",
            CloseReason::ServerShutdown => "Server Shutdown",
        }
    }
}

/// What the writer should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteEvent {
    /// Chunks were moved into the writer's queue: write them.
    Data,
    /// The connection is closed and everything queued before the close has been handed
    /// over: flush it, then shut the socket.
    Closed(CloseReason),
}

#[derive(Debug, Default)]
pub(crate) struct Outbound {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    /// The tail's other block (empty): it holds what the writer was last handed, and the
    /// tail moves back into it once that is written (see [`Outbound::poll_write`] and
    /// [`Outbound::reserve_line`]).
    spare_block: BytesMut,
    pending: usize,
    closed: Option<CloseReason>,
    writer: Option<Waker>,
    reader: Option<Waker>,
    /// The frontend asked for its writer to run without engine output (see
    /// [`ConnShared::wake_writer`](super::ConnShared::wake_writer)).
    nudged: bool,
}

impl Outbound {
    /// Bytes queued and not yet taken by the writer.
    pub(crate) fn pending(&self) -> usize {
        self.pending
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.is_some()
    }

    /// Append bytes by copy.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.tail.extend_from_slice(data);
        self.pending += data.len();
    }

    /// The buffer that small writes go to (callers add to `pending` via [`Self::added`]).
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Account for `n` bytes written straight into [`Self::tail`].
    pub(crate) fn added(&mut self, n: usize) {
        self.pending += n;
    }

    /// Make room in [`Self::tail`] for a control line of at most `len` bytes that is about
    /// to precede a shared chunk.
    ///
    /// Each such line is split off the tail on its own, so a tail grown only as needed would
    /// be left without spare room after every split and the next line would allocate a
    /// fresh buffer (several allocations per message). Instead the lines are carved out of
    /// a block. When it is full, whatever it still holds is queued and the lines continue in
    /// the previous block, which the writer has most likely written (dropped) by then, so
    /// `reserve` reclaims it instead of allocating: two blocks, reused in turn.
    pub(crate) fn reserve_line(&mut self, len: usize) {
        if self.tail.capacity() - self.tail.len() >= len {
            return;
        }
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        // The tail's own block may have been written and dropped already (the tail and the
        // spare block also trade places in `poll_write`).
        if self.tail.try_reclaim(len.max(LINE_BLOCK)) {
            return;
        }
        core::mem::swap(&mut self.tail, &mut self.spare_block);
        self.tail.reserve(len.max(LINE_BLOCK));
    }

    /// Queue a shared chunk after everything appended so far.
    pub(crate) fn push_shared(&mut self, chunk: Bytes) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
        self.pending += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Take the writer's waker so it can be woken once the current batch is done.
    pub(crate) fn take_writer_waker(&mut self) -> Option<Waker> {
        self.writer.take()
    }

    /// Make the next `poll_write` return `Data` even with nothing queued; returns the
    /// writer's waker.
    pub(crate) fn nudge(&mut self) -> Option<Waker> {
        self.nudged = true;
        self.writer.take()
    }

    /// Why the connection was closed, if it was.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.closed
    }

    /// Mark closed; returns the wakers to wake (writer, reader). Idempotent.
    pub(crate) fn close(&mut self, reason: CloseReason) -> (Option<Waker>, Option<Waker>) {
        if self.closed.is_none() {
            self.closed = Some(reason);
        }
        (self.writer.take(), self.reader.take())
    }

    /// Drop everything queued (a slow consumer's backlog).
    pub(crate) fn discard(&mut self) {
        self.chunks.clear();
        self.tail.clear();
        self.pending = 0;
    }

    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        into: &mut VecDeque<Bytes>,
    ) -> Poll<WriteEvent> {
        if self.pending > 0 {
            let round = self.tail.len();
            if !self.tail.is_empty() {
                self.chunks.push_back(self.tail.split().freeze());
            }
            into.append(&mut self.chunks);
            self.pending = 0;
            self.nudged = false;
            // Continue in the other block, the one handed over by the previous call, from
            // its start: the writer has written and dropped it before polling again, so
            // nobody else holds it. The block just handed over has little room left, and
            // growing past it while the writer still holds it would allocate a fresh
            // buffer and fault in its pages on every round; this way two blocks, sized by
            // the largest round so far (up to `SPARE_BLOCK_MAX`), are reused in turn.
            core::mem::swap(&mut self.tail, &mut self.spare_block);
            if round > SPARE_BLOCK_MAX {
                // Freed once the writer drops it.
                self.spare_block = BytesMut::new();
            }
            // Asking for more room than is left rewinds the (empty) tail to the start of
            // its buffer if nobody else holds it, and does nothing (never allocates)
            // otherwise.
            let room = self.tail.capacity();
            let _ = self.tail.try_reclaim(room + 1);
            return Poll::Ready(WriteEvent::Data);
        }
        if self.nudged {
            self.nudged = false;
            return Poll::Ready(WriteEvent::Data);
        }
        if let Some(reason) = self.closed {
            return Poll::Ready(WriteEvent::Closed(reason));
        }
        match &mut self.writer {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    pub(crate) fn poll_closed(&mut self, cx: &mut Context<'_>) -> Poll<CloseReason> {
        if let Some(reason) = self.closed {
            return Poll::Ready(reason);
        }
        match &mut self.reader {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Waker;

    /// One writer round: queue `len` bytes, hand them over, "write" (drop) them. Returns
    /// where the handed-over bytes lived.
    fn round(out: &mut Outbound, len: usize) -> *const u8 {
        let mut into = VecDeque::new();
        out.extend(&vec![b'x'; len]);
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(
            out.poll_write(&mut cx, &mut into),
            Poll::Ready(WriteEvent::Data)
        );
        assert_eq!(into.iter().map(Bytes::len).sum::<usize>(), len);
        into.front().map_or(core::ptr::null(), |c| c.as_ptr())
    }

    #[test]
    fn the_tail_alternates_between_two_reused_blocks() {
        let mut out = Outbound::default();
        let at: Vec<*const u8> = (0..8).map(|_| round(&mut out, 10_000)).collect();
        for k in 0..6 {
            assert_eq!(
                at[k],
                at[k + 2],
                "round {k}: the block of two rounds ago, from its start"
            );
        }
        assert_ne!(at[0], at[1]);
    }

    #[test]
    fn a_huge_round_does_not_keep_its_block() {
        let mut out = Outbound::default();
        round(&mut out, 1000);
        round(&mut out, 1000);
        // The block just handed over is kept as the spare; once written nobody else holds it.
        assert!(out.spare_block.try_reclaim(1));
        round(&mut out, SPARE_BLOCK_MAX + 1);
        // Written and dropped too, but too big to keep.
        assert!(!out.spare_block.try_reclaim(1));
    }
}
