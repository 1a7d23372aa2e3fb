//! Subscriptions as the sublist holds them.

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
    /// Messages delivered so far.
    pub(crate) delivered: AtomicU64,
    /// Auto-unsubscribe after this many deliveries; 0 = never.
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
    pub(crate) fn claim_delivery(&self) -> Option<bool> {
        if self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let max = self.max.load(Ordering::Relaxed);
        let n = self.delivered.fetch_add(1, Ordering::Relaxed) + 1;
        if max == 0 {
            return Some(false);
        }
        if n > max {
            return None;
        }
        Some(n == max)
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
