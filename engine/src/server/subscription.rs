//! Subscriptions as the sublist holds them.

use super::outbound::Outbound;
use super::shared::ConnShared;
use crate::auth::ResolvedPermissions;
use crate::prelude::*;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use core::hash::{Hash, Hasher};

/// One SUB of one connection.
#[derive(Debug)]
pub struct Subscription {
    /// The connection that owns it.
    pub(crate) conn: Arc<ConnShared>,
    /// Subject (may hold wildcards).
    pub subject: Box<[u8]>,
    /// Queue group.
    pub queue: Option<Box<[u8]>>,
    /// The client's subscription id.
    pub sid: Box<[u8]>,
    /// Messages delivered so far. Written only under the owning connection's outbound
    /// lock (see [`Subscription::claim_delivery`]); atomic so that monitoring can read it
    /// without the lock.
    pub(crate) delivered: AtomicU64,
    /// Auto-unsubscribe after this many deliveries; 0 = never. Set under the owning
    /// connection's outbound lock (see [`Subscription::limit`]).
    pub(crate) max: AtomicU64,
    /// Set once removed, so concurrent deliveries stop.
    pub(crate) closed: AtomicBool,
    /// The owner's permissions when they deny subjects (checked at delivery).
    pub(crate) deny: Option<Arc<ResolvedPermissions>>,
}

impl Subscription {
    /// Messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// The auto-unsubscribe limit, if any.
    pub fn max(&self) -> Option<u64> {
        match self.max.load(Ordering::Relaxed) {
            0 => None,
            n => Some(n),
        }
    }

    /// Claim one delivery. `None`: the subscription is used up or closed.
    /// `Some(last)`: deliver; `last` is true when this delivery reaches the limit.
    ///
    /// `locked` is the owning connection's outbound queue, locked by the caller. Every
    /// delivery to this subscription holds that lock, so the count is a plain load and
    /// store rather than an atomic read-modify-write on a cache line that publishers on
    /// other cores share (nats-server counts under its client lock the same way).
    pub(crate) fn claim_delivery(&self, locked: &Outbound) -> Option<bool> {
        let _ = locked;
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.load(Ordering::Relaxed) + 1;
        if max != 0 && n > max {
            return None;
        }
        self.delivered.store(n, Ordering::Relaxed);
        Some(max != 0 && n == max)
    }

    /// `UNSUB sid max`: stop after `max` deliveries in all. Returns `false` (nothing set) if
    /// that many were already delivered, so the subscription is to be removed now.
    /// `locked` is the owning connection's outbound queue, locked by the caller (as for
    /// [`Subscription::claim_delivery`], so no delivery slips in between the check and the
    /// store).
    pub(crate) fn limit(&self, locked: &Outbound, max: u64) -> bool {
        let _ = locked;
        if self.delivered.load(Ordering::Relaxed) >= max {
            return false;
        }
        self.max.store(max, Ordering::Relaxed);
        true
    }
}

/// A subscription compared and hashed by identity, as the sublist stores it.
#[derive(Debug, Clone)]
pub struct SubRef(pub Arc<Subscription>);

impl PartialEq for SubRef {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SubRef {}

impl Hash for SubRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

impl core::ops::Deref for SubRef {
    type Target = Subscription;
    fn deref(&self) -> &Subscription {
        &self.0
    }
}
