//! The sublist: subject → interest.
//!
//! * [`Sublist`]: a token trie as in nats-server (one level per token; each level has a map
//!   of literal-token nodes plus dedicated `*` and `>` nodes; each node holds plain
//!   subscriptions and queue subscriptions grouped by queue name). Empty nodes are pruned
//!   on removal. Single-threaded (`&mut self` to change it).
//! * [`SharedSublist`]: the multi-core form: the trie behind a reader-writer lock plus an
//!   atomic generation bumped by every insert and remove; matches run in parallel under
//!   the read lock.
//! * [`MatchCache`]: a per-connection (per reader) cache of match results keyed by literal
//!   subject and stamped with the generation it was filled at. A hit takes no lock and
//!   allocates nothing; when the generation moves, the whole cache is dropped.
//!
//! Large results (many subscriptions) are also shared between the caches through a
//! generation-stamped table (nats-server's L2 cache, restricted to where it pays): see
//! [`SharedSublist::with_shared_results`]. Small results are rebuilt per cache: a trie walk
//! is a handful of hash lookups, cheaper than any shared structure readers would contend
//! on.
//!
//! Items (`T`) identify subscriptions: compared with `Eq` and hashed; an item is held at
//! most once per (subject, queue) and inserting it again changes nothing. Match results
//! come in no particular order.

mod shared;
mod trie;

#[cfg(test)]
mod tests;

pub use shared::{MatchCache, SharedSublist};

use crate::prelude::*;
use crate::subject;
use crate::sync::atomic::{AtomicU64, Ordering};
use core::hash::Hash;
use trie::{Collector, Level};

/// What a subject matched: plain subscriptions, and queue subscriptions grouped by queue
/// name (one member of each group gets the message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SublistResult<T> {
    /// Plain subscriptions.
    pub plain: Vec<T>,
    /// Queue groups: (queue name, members). Each name appears once, with the members of
    /// every matching subscription subject merged.
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

    /// Plain subscriptions plus queue groups: how many deliveries a message gets at most
    /// (nats-server's "fanout").
    pub fn fanout(&self) -> usize {
        self.plain.len() + self.queues.len()
    }

    /// Number of subscriptions in it (plain ones plus every queue group member).
    pub fn len(&self) -> usize {
        self.plain.len() + self.queues.iter().map(|(_, m)| m.len()).sum::<usize>()
    }

    /// Empty it, keeping the allocations.
    pub fn clear(&mut self) {
        self.plain.clear();
        self.queues.clear();
    }
}

/// Errors from [`Sublist::insert`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SublistError {
    /// The subject is not a valid subscription subject.
    InvalidSubject,
    /// The queue group name is not valid (empty or holding whitespace).
    InvalidQueue,
}

impl core::fmt::Display for SublistError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SublistError::InvalidSubject => "invalid subject",
            SublistError::InvalidQueue => "invalid queue group name",
        })
    }
}

/// Counters for monitoring (`/subsz`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SublistStats {
    /// Subscriptions held now.
    pub num_subscriptions: u64,
    /// Successful inserts so far.
    pub num_inserts: u64,
    /// Successful removes so far.
    pub num_removes: u64,
    /// Lookups so far (cached or not). For a [`SharedSublist`], lookups through a
    /// [`MatchCache`] are reported in batches (see [`MatchCache::flush_stats`]).
    pub num_matches: u64,
    /// Lookups answered by a [`MatchCache`] or by a result another cache shared.
    pub num_cache_hits: u64,
    /// Results held in the [`SharedSublist`]'s shared table (see
    /// [`SharedSublist::with_shared_results`]).
    pub num_cache: u64,
}

impl SublistStats {
    /// Fraction of lookups answered from a cache (0 when there were none).
    pub fn cache_hit_rate(&self) -> f64 {
        if self.num_matches == 0 {
            0.0
        } else {
            self.num_cache_hits as f64 / self.num_matches as f64
        }
    }
}

/// Single-threaded sublist.
pub struct Sublist<T> {
    root: Level<T>,
    count: usize,
    generation: u64,
    inserts: u64,
    removes: u64,
    /// Atomic only because matching takes `&self`; uncontended in single-threaded use.
    matches: AtomicU64,
}

impl<T> core::fmt::Debug for Sublist<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sublist")
            .field("count", &self.count)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash> Default for Sublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> Sublist<T> {
    /// An empty sublist.
    pub fn new() -> Self {
        Sublist {
            root: Level::default(),
            count: 0,
            generation: 0,
            inserts: 0,
            removes: 0,
            matches: AtomicU64::new(0),
        }
    }

    /// Add `item` for `subject` (optionally in queue group `queue`). Adding an item that
    /// is already there for the same subject and queue changes nothing.
    pub fn insert(
        &mut self,
        subject: &[u8],
        queue: Option<&[u8]>,
        item: T,
    ) -> Result<(), SublistError> {
        if !subject::is_valid_subject(subject) {
            return Err(SublistError::InvalidSubject);
        }
        if queue.is_some_and(|q| !subject::is_valid_queue(q)) {
            return Err(SublistError::InvalidQueue);
        }
        let node = self
            .root
            .node_for_insert(subject)
            .ok_or(SublistError::InvalidSubject)?;
        if node.add(queue, item) {
            self.count += 1;
            self.inserts += 1;
            self.generation = self.generation.wrapping_add(1);
        }
        Ok(())
    }

    /// Remove `item` from `subject`/`queue`; returns whether it was there.
    pub fn remove(&mut self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let Some(node) = self.root.node_mut(subject) else {
            return false;
        };
        if !node.remove(queue, item) {
            return false;
        }
        let now_empty = !node.has_subs();
        if now_empty {
            self.root.prune(subject);
        }
        self.count = self.count.saturating_sub(1);
        self.removes += 1;
        self.generation = self.generation.wrapping_add(1);
        true
    }

    /// Everything a literal `subject` matches.
    ///
    /// Tokens of `subject` are opaque bytes (a `*` token is matched by `*` and `>`
    /// subscriptions only), and a subject with an empty token matches nothing, as in
    /// nats-server.
    pub fn matches(&self, subject: &[u8]) -> SublistResult<T> {
        let mut result = SublistResult::default();
        self.match_into(subject, &mut result);
        result
    }

    /// [`Sublist::matches`] into a caller-owned result, reusing its vectors (whatever it
    /// held is replaced). Allocates only when the result outgrows them.
    pub fn match_into(&self, subject: &[u8], result: &mut SublistResult<T>) {
        self.matches.fetch_add(1, Ordering::Relaxed);
        self.collect(subject, result);
    }

    /// Match without touching the counters.
    pub(crate) fn collect(&self, subject: &[u8], result: &mut SublistResult<T>) {
        let mut out = Collector::new(result);
        if !subject::has_empty_token(subject) {
            trie::match_level(&self.root, subject, &mut out);
        }
        out.finish();
    }

    /// Whether anything matches `subject` (stops at the first hit).
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        !subject::has_empty_token(subject) && trie::any_match(&self.root, subject)
    }

    /// Number of subscriptions held.
    pub fn count(&self) -> usize {
        self.count
    }

    /// No subscriptions at all.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bumped by every insert and remove that changed something.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Counters for monitoring.
    pub fn stats(&self) -> SublistStats {
        SublistStats {
            num_subscriptions: self.count as u64,
            num_inserts: self.inserts,
            num_removes: self.removes,
            num_matches: self.matches.load(Ordering::Relaxed),
            num_cache_hits: 0,
            num_cache: 0,
        }
    }
}
