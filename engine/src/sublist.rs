//! The sublist: subject → interest, a token trie with a result cache (STUB: API fixed,
//! bodies to be written).

use crate::prelude::*;
use core::hash::Hash;

/// What a subject matched: plain subscriptions, and queue subscriptions grouped by queue
/// name (one member of each group gets the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SublistResult<T> {
    /// Plain subscriptions.
    pub plain: Vec<T>,
    /// Queue groups: (queue name, members).
    pub queues: Vec<(Box<[u8]>, Vec<T>)>,
}

impl<T> Default for SublistResult<T> {
    fn default() -> Self {
        SublistResult {
            plain: Vec::new(),
            queues: Vec::new(),
        }
    }
}

impl<T> SublistResult<T> {
    /// No subscriptions at all.
    pub fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.queues.is_empty()
    }
}

/// Errors from [`Sublist::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SublistError {
    /// The subject is not a valid subscription subject.
    InvalidSubject,
}

/// Single-threaded sublist.
#[derive(Debug)]
pub struct Sublist<T> {
    _items: Vec<T>,
}

impl<T: Clone + Eq + Hash> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> Sublist<T> {
    /// An empty sublist.
    pub fn new() -> Self {
        Sublist { _items: Vec::new() }
    }
    /// Add `item` for `subject` (optionally in queue group `queue`).
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        item: T,
    ) -> Result<(), SublistError> {
        let _ = (subject, queue, item);
        unimplemented!()
    }
    /// Remove `item` from `subject`/`queue`; returns whether it was there.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let _ = (subject, queue, item);
        unimplemented!()
    }
    /// Everything a literal `subject` matches.
    pub fn matches(&self, subject: &[u8]) -> SublistResult<T> {
        let _ = subject;
        unimplemented!()
    }
    /// Whether anything matches `subject` (stops at the first hit).
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        let _ = subject;
        unimplemented!()
    }
    /// Number of subscriptions held.
    pub fn count(&self) -> usize {
        unimplemented!()
    }
}

/// A sublist shared by many connections: matches run in parallel under a read lock;
/// each reader keeps a [`MatchCache`] so the hot path takes no lock at all.
#[derive(Debug)]
pub struct SharedSublist<T> {
    _p: core::marker::PhantomData<T>,
}

/// A per-reader result cache, invalidated when the shared sublist changes.
#[derive(Debug)]
pub struct MatchCache<T> {
    _p: core::marker::PhantomData<T>,
}

impl<T: Clone + Eq + Hash> Default for SharedSublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> SharedSublist<T> {
    /// An empty shared sublist.
    pub fn new() -> Self {
        SharedSublist {
            _p: core::marker::PhantomData,
        }
    }
    /// See [`Sublist::insert`].
    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        item: T,
    ) -> Result<(), SublistError> {
        let _ = (subject, queue, item);
        unimplemented!()
    }
    /// See [`Sublist::remove`].
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let _ = (subject, queue, item);
        unimplemented!()
    }
    /// Match without a cache.
    pub fn matches(&self, subject: &[u8]) -> Arc<SublistResult<T>> {
        let _ = subject;
        unimplemented!()
    }
    /// See [`Sublist::has_interest`].
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        let _ = subject;
        unimplemented!()
    }
    /// Number of subscriptions held.
    pub fn count(&self) -> usize {
        unimplemented!()
    }
}

impl<T: Clone + Eq + Hash> Default for MatchCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> MatchCache<T> {
    /// An empty cache.
    pub fn new() -> Self {
        MatchCache {
            _p: core::marker::PhantomData,
        }
    }
    /// The match result for `subject`, from the cache when the sublist has not changed
    /// since it was stored; no allocation and no lock on a hit.
    pub fn matches(&mut self, sublist: &SharedSublist<T>, subject: &[u8]) -> Arc<SublistResult<T>> {
        let _ = (sublist, subject);
        unimplemented!()
    }
}
