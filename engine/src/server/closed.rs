//! The most recently closed connections, kept for `/connz?state=closed` as nats-server
//! keeps them: a snapshot of each at close (its numbers, its subscriptions, when and
//! why), the oldest dropped beyond [`MAX_CLOSED_CLIENTS`].

use super::subscription::SubRef;
use super::{CloseReason, ConnMeta, ConnShared};
use crate::prelude::*;
use crate::sync::Mutex;
use crate::time::Instant;
use alloc::collections::VecDeque;

/// How many closed connections are kept (nats-server's `DEFAULT_MAX_CLOSED_CLIENTS`).
pub const MAX_CLOSED_CLIENTS: usize = 10_000;

/// A connection as it was when it closed. Only copies: nothing here keeps the
/// connection's buffers alive.
#[derive(Debug, Clone)]
pub struct ClosedConn {
    /// Connection id.
    pub cid: u64,
    /// Its descriptive data.
    pub meta: ConnMeta,
    /// Messages and bytes in and out: `(in_msgs, in_bytes, out_msgs, out_bytes)`.
    pub counters: (u64, u64, u64, u64),
    /// Bytes still queued for it.
    pub pending: usize,
    /// Its subscriptions, in no particular order.
    pub subscriptions: Vec<ClosedSubscription>,
    /// When it closed.
    pub stop: Instant,
    /// Why.
    pub reason: CloseReason,
}

/// A subscription of a closed connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSubscription {
    /// Subject.
    pub subject: Box<[u8]>,
    /// Queue group.
    pub queue: Option<Box<[u8]>>,
    /// The client's subscription id.
    pub sid: Box<[u8]>,
    /// Messages delivered.
    pub delivered: u64,
    /// Auto-unsubscribe limit, if any.
    pub max: Option<u64>,
}

impl ClosedConn {
    /// The snapshot of `shared`, whose subscriptions were `subs`, closed at `stop`.
    pub(crate) fn new(
        shared: &ConnShared,
        subs: &[SubRef],
        stop: Instant,
        reason: CloseReason,
    ) -> ClosedConn {
        ClosedConn {
            cid: shared.id(),
            meta: shared.meta(),
            counters: shared.counters.snapshot(),
            pending: shared.pending_bytes(),
            subscriptions: subs
                .iter()
                .map(|SubRef(s)| ClosedSubscription {
                    subject: s.subject.clone(),
                    queue: s.queue.clone(),
                    sid: s.sid.clone(),
                    delivered: s.delivered(),
                    max: s.max(),
                })
                .collect(),
            stop,
            reason,
        }
    }
}

/// The ring of closed connections.
#[derive(Debug, Default)]
pub(crate) struct ClosedConns {
    ring: Mutex<VecDeque<Arc<ClosedConn>>>,
}

impl ClosedConns {
    /// Keep `conn`, dropping the oldest beyond [`MAX_CLOSED_CLIENTS`].
    pub(crate) fn push(&self, conn: ClosedConn) {
        let mut ring = self.ring.lock();
        if ring.len() == MAX_CLOSED_CLIENTS {
            ring.pop_front();
        }
        ring.push_back(Arc::new(conn));
    }

    /// The kept connections, oldest first.
    pub(crate) fn list(&self) -> Vec<Arc<ClosedConn>> {
        self.ring.lock().iter().cloned().collect()
    }
}
