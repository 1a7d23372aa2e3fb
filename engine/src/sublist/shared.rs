//! [`SharedSublist`] and its per-reader [`MatchCache`].

use super::{Sublist, SublistError, SublistResult, SublistStats};
use crate::prelude::*;
use crate::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::sync::{Mutex, RwLock};
use core::hash::BuildHasher;
use core::hash::Hash;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

/// Keeps a value on its own cache lines, so that the writes to a neighbour (the lock word
/// every reader bumps, the statistics) do not keep evicting it from every core.
#[derive(Debug, Default)]
#[repr(align(128))]
struct CachePadded<T>(T);

/// See [`SharedSublist::SHARED_RESULTS_MAX`].
const SHARED_RESULTS_MAX: usize = 1024;

/// Source of [`SharedSublist`] identities (0 is never handed out).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Default)]
struct Counters {
    matches: AtomicU64,
    cache_hits: AtomicU64,
}

/// The shared result table: large results, stored once for every reader.
///
/// Readers never block on it: a reader that finds it busy walks the trie instead. It is
/// stamped with the generation its entries were built at rather than patched by writers;
/// entries of an older generation are ignored and dropped by the next store.
struct SharedResults<T> {
    /// Results with fewer subscriptions than this are not shared.
    min_subs: usize,
    /// `generation + 1` of the entries while there are any (0: none); lets readers skip
    /// the table without touching `busy` when it has nothing for them.
    hint: AtomicU64,
    /// Entries held (for the stats).
    len: AtomicU64,
    /// Held by whoever uses `table`, so that nobody ever waits for the mutex.
    busy: AtomicBool,
    table: Mutex<ResultTable<T>>,
}

struct ResultTable<T> {
    generation: u64,
    map: HashMap<Box<[u8]>, Arc<SublistResult<T>>>,
}

impl<T> SharedResults<T> {
    /// Run `f` on the table unless another thread is using it.
    fn try_with<R>(&self, f: impl FnOnce(&mut ResultTable<T>) -> R) -> Option<R> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        let r = f(&mut self.table.lock());
        self.busy.store(false, Ordering::Release);
        Some(r)
    }

    /// The shared result for `subject` at `generation` (read lock held), if any.
    fn lookup(&self, generation: u64, subject: &[u8]) -> Option<Arc<SublistResult<T>>> {
        if self.hint.load(Ordering::Acquire) != generation.wrapping_add(1) {
            return None;
        }
        self.try_with(|t| {
            if t.generation == generation {
                t.map.get(subject).cloned()
            } else {
                None
            }
        })
        .flatten()
    }

    /// Offer a result built at `generation` (read lock held); kept if it is large.
    fn store(&self, generation: u64, subject: &[u8], result: &Arc<SublistResult<T>>) {
        if result.len() < self.min_subs {
            return;
        }
        self.try_with(|t| {
            if t.generation != generation {
                t.map.clear();
                t.generation = generation;
            }
            if t.map.len() >= SHARED_RESULTS_MAX {
                evict_half(&mut t.map);
            }
            t.map.insert(subject.into(), Arc::clone(result));
            self.len.store(t.map.len() as u64, Ordering::Relaxed);
            self.hint
                .store(generation.wrapping_add(1), Ordering::Release);
        });
    }
}

/// Drop about half of the entries (hash order, so effectively random ones).
fn evict_half<V>(map: &mut HashMap<Box<[u8]>, V>) {
    let mut n = 0u32;
    map.retain(|_, _| {
        n = n.wrapping_add(1);
        n % 2 == 0
    });
}

/// A sublist shared by many connections: matches run in parallel under a read lock;
/// each reader keeps a [`MatchCache`] so the hot path takes no lock at all.
pub struct SharedSublist<T> {
    /// Mirrors the inner sublist's generation; stored (under the write lock) after every
    /// change, read without the lock by [`MatchCache`].
    generation: CachePadded<AtomicU64>,
    /// Tells caches apart from sublists with the same generation numbers.
    id: u64,
    inner: RwLock<Sublist<T>>,
    stats: CachePadded<Counters>,
    shared: CachePadded<SharedResults<T>>,
}

impl<T> core::fmt::Debug for SharedSublist<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedSublist")
            .field("id", &self.id)
            .field("generation", &self.generation.0.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash> Default for SharedSublist<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> SharedSublist<T> {
    /// Default for [`SharedSublist::with_shared_results`]: results with at least this many
    /// subscriptions are shared between the [`MatchCache`]s.
    pub const SHARED_RESULTS_MIN_SUBS: usize = 32;

    /// Bound on the shared results kept (nats-server's cache size); when full, about half
    /// are dropped.
    pub const SHARED_RESULTS_MAX: usize = SHARED_RESULTS_MAX;

    /// An empty shared sublist.
    pub fn new() -> Self {
        Self::with_shared_results(Self::SHARED_RESULTS_MIN_SUBS)
    }

    /// An empty shared sublist whose [`MatchCache`]s share every result holding at least
    /// `min_subs` subscriptions (`usize::MAX`: share nothing).
    ///
    /// Without sharing, every connection publishing to a subject with a large fan-out
    /// would keep its own copy of the result and rebuild it after every change (cloning
    /// each subscription handle). With it, the first cache to miss builds the result and
    /// the others take it from a table shared through a mutex that is only ever
    /// *tried*: a reader finding it busy walks the trie instead, so readers never wait on
    /// each other. The table is only touched on cache misses, and not at all while it
    /// holds nothing for the current generation.
    pub fn with_shared_results(min_subs: usize) -> Self {
        SharedSublist {
            generation: CachePadded(AtomicU64::new(0)),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            inner: RwLock::new(Sublist::new()),
            stats: CachePadded(Counters::default()),
            shared: CachePadded(SharedResults {
                min_subs: min_subs.max(1),
                hint: AtomicU64::new(0),
                len: AtomicU64::new(0),
                busy: AtomicBool::new(false),
                table: Mutex::new(ResultTable {
                    generation: 0,
                    map: HashMap::new(),
                }),
            }),
        }
    }

    /// See [`Sublist::insert`].
    pub fn insert(
        &self,
        subject: &[u8],
        queue: Option<&[u8]>,
        item: T,
    ) -> Result<(), SublistError> {
        let mut sl = self.inner.write();
        let r = sl.insert(subject, queue, item);
        self.generation.0.store(sl.generation(), Ordering::Release);
        r
    }

    /// See [`Sublist::remove`].
    pub fn remove(&self, subject: &[u8], queue: Option<&[u8]>, item: &T) -> bool {
        let mut sl = self.inner.write();
        let removed = sl.remove(subject, queue, item);
        self.generation.0.store(sl.generation(), Ordering::Release);
        removed
    }

    /// Remove many subscriptions under one write lock (a connection going away);
    /// returns how many were there.
    pub fn remove_batch<'a, I>(&self, subs: I) -> usize
    where
        I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>, &'a T)>,
        T: 'a,
    {
        let mut sl = self.inner.write();
        let removed = subs
            .into_iter()
            .filter(|(subject, queue, item)| sl.remove(subject, *queue, item))
            .count();
        self.generation.0.store(sl.generation(), Ordering::Release);
        removed
    }

    /// Match without a cache.
    pub fn matches(&self, subject: &[u8]) -> Arc<SublistResult<T>> {
        let mut result = SublistResult::default();
        self.match_into(subject, &mut result);
        Arc::new(result)
    }

    /// Match without a cache, into a caller-owned result (see [`Sublist::match_into`]).
    pub fn match_into(&self, subject: &[u8], result: &mut SublistResult<T>) {
        self.inner.read().collect(subject, result);
        self.stats.0.matches.fetch_add(1, Ordering::Relaxed);
    }

    /// See [`Sublist::has_interest`].
    pub fn has_interest(&self, subject: &[u8]) -> bool {
        self.inner.read().has_interest(subject)
    }

    /// Number of subscriptions held.
    pub fn count(&self) -> usize {
        self.inner.read().count()
    }

    /// The current generation: changes with every insert and remove that changed
    /// something.
    pub fn generation(&self) -> u64 {
        self.generation.0.load(Ordering::Acquire)
    }

    /// Run `f` on the sublist under the read lock (for walks the API does not cover).
    pub fn with_read<R>(&self, f: impl FnOnce(&Sublist<T>) -> R) -> R {
        f(&self.inner.read())
    }

    /// Counters for monitoring. Lookups made through [`MatchCache`]s are included as the
    /// caches report them (every [`FLUSH_EVERY`](MatchCache::FLUSH_EVERY) lookups, or on
    /// [`MatchCache::flush_stats`]).
    pub fn stats(&self) -> SublistStats {
        let sl = self.inner.read();
        let shared = &self.shared.0;
        let current = shared.hint.load(Ordering::Relaxed) == sl.generation().wrapping_add(1);
        SublistStats {
            num_matches: self.stats.0.matches.load(Ordering::Relaxed),
            num_cache_hits: self.stats.0.cache_hits.load(Ordering::Relaxed),
            num_cache: if current {
                shared.len.load(Ordering::Relaxed)
            } else {
                0
            },
            ..sl.stats()
        }
    }
}

/// A per-reader result cache, invalidated when the shared sublist changes.
///
/// Keep one per connection (or per reading task) and pass it the same [`SharedSublist`]
/// each time; passing another sublist empties it.
pub struct MatchCache<T> {
    /// The cached results, keyed by subject (hashed once per lookup with `hasher`).
    map: HashTable<CacheEntry<T>>,
    hasher: DefaultHashBuilder,
    sublist_id: u64,
    generation: u64,
    max_entries: usize,
    /// The bucket of the last subject looked up. A publisher usually sends many messages
    /// to one subject in a row; comparing it with this entry's subject first skips hashing
    /// it and probing the table. Any entry found here is valid (the table holds only
    /// results of the current generation), so a stale index costs a compare, never a
    /// wrong answer.
    last: usize,
    /// Reused by every miss; its contents are copied into the stored result.
    scratch: SublistResult<T>,
    /// One shared allocation for every empty result.
    empty: Option<Arc<SublistResult<T>>>,
    /// Subject buffers of dropped entries, refilled by later misses.
    spare_subjects: Vec<Vec<u8>>,
    /// Small results of dropped entries that nothing else held, emptied; refilled by
    /// later misses.
    spare_results: Vec<Arc<SublistResult<T>>>,
    hits: u64,
    misses: u64,
    shared_hits: u64,
    unflushed_hits: u64,
    unflushed_misses: u64,
}

/// One cached subject and what it matched.
struct CacheEntry<T> {
    /// A `Vec` rather than a boxed slice so that its buffer can be reused for another
    /// subject after the entry is dropped.
    subject: Vec<u8>,
    result: Arc<SublistResult<T>>,
}

/// Results with at most this many subscriptions are copied out of the scratch result
/// into a buffer of their own (a reused one when available); larger ones take the scratch
/// vectors themselves.
const MOVE_ABOVE: usize = 16;

/// Dropped subject buffers are kept for reuse up to this capacity (longer ones are rare
/// and would pin memory).
const SPARE_SUBJECT_MAX: usize = 256;

impl<T> core::fmt::Debug for MatchCache<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MatchCache")
            .field("len", &self.map.len())
            .field("generation", &self.generation)
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish_non_exhaustive()
    }
}

impl<T: Clone + Eq + Hash> Default for MatchCache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone + Eq + Hash> MatchCache<T> {
    /// Default bound on cached subjects (nats-server's cache size).
    pub const DEFAULT_MAX_ENTRIES: usize = 1024;

    /// Lookups between two reports of the hit/miss counts to the shared sublist.
    pub const FLUSH_EVERY: u64 = 1024;

    /// An empty cache.
    pub fn new() -> Self {
        Self::with_max_entries(Self::DEFAULT_MAX_ENTRIES)
    }

    /// An empty cache holding at most `max_entries` subjects (at least 1). When full, about
    /// half of the entries are dropped.
    pub fn with_max_entries(max_entries: usize) -> Self {
        MatchCache {
            map: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            sublist_id: 0,
            generation: 0,
            max_entries: max_entries.max(1),
            last: 0,
            scratch: SublistResult::default(),
            empty: None,
            spare_subjects: Vec::new(),
            spare_results: Vec::new(),
            hits: 0,
            misses: 0,
            shared_hits: 0,
            unflushed_hits: 0,
            unflushed_misses: 0,
        }
    }

    /// The match result for `subject`, from the cache when the sublist has not changed
    /// since it was stored; no allocation and no lock on a hit.
    ///
    /// On the publish hot path prefer [`MatchCache::matches_ref`]: a large result may be
    /// shared with other connections' caches, and cloning its `Arc` then bumps a reference
    /// count other cores are bumping too.
    pub fn matches(&mut self, sublist: &SharedSublist<T>, subject: &[u8]) -> Arc<SublistResult<T>> {
        Arc::clone(self.lookup(sublist, subject))
    }

    /// Like [`MatchCache::matches`] but lends the result instead of cloning the `Arc`
    /// (saves the reference-count traffic on a hit).
    pub fn matches_ref(&mut self, sublist: &SharedSublist<T>, subject: &[u8]) -> &SublistResult<T> {
        self.lookup(sublist, subject)
    }

    /// The cached result for `subject`, filled on a miss. The same subject as last time
    /// is one compare; otherwise the subject is hashed once and a hit is one probe of the
    /// table.
    fn lookup(&mut self, sublist: &SharedSublist<T>, subject: &[u8]) -> &Arc<SublistResult<T>> {
        self.check_generation(sublist);
        let repeated = self
            .map
            .get_bucket(self.last)
            .is_some_and(|e| same_subject(&e.subject, subject));
        let index = if repeated {
            self.last
        } else {
            let hash = self.hasher.hash_one(subject);
            match self
                .map
                .find_bucket_index(hash, |e| same_subject(&e.subject, subject))
            {
                Some(index) => index,
                None => {
                    let index = self.fill(sublist, subject, hash);
                    self.last = index;
                    return self.entry_result(index);
                }
            }
        };
        self.last = index;
        self.hits += 1;
        self.unflushed_hits += 1;
        self.maybe_flush(sublist);
        self.entry_result(index)
    }

    /// The result stored in bucket `index` (just found or inserted).
    #[inline]
    fn entry_result(&mut self, index: usize) -> &Arc<SublistResult<T>> {
        match self.map.get_bucket(index) {
            Some(entry) => &entry.result,
            // Unreachable: the entry was just found or inserted, and nothing changed since.
            None => self.empty.get_or_insert_with(Arc::default),
        }
    }

    fn check_generation(&mut self, sublist: &SharedSublist<T>) {
        let generation = sublist.generation.0.load(Ordering::Acquire);
        if generation != self.generation || sublist.id != self.sublist_id {
            if sublist.id != self.sublist_id {
                // Counts made against another sublist are not this one's.
                self.unflushed_hits = 0;
                self.unflushed_misses = 0;
                self.sublist_id = sublist.id;
            }
            self.drop_entries();
            self.generation = generation;
        }
    }

    /// A miss: take the shared result or match under the read lock, and remember it.
    /// Returns the new entry's bucket index in `map`.
    #[cold]
    fn fill(&mut self, sublist: &SharedSublist<T>, subject: &[u8], hash: u64) -> usize {
        self.misses += 1;
        self.unflushed_misses += 1;
        let result = {
            let sl = sublist.inner.read();
            // Stable while the read lock is held (writers store it under the write lock).
            let generation = sublist.generation.0.load(Ordering::Relaxed);
            if generation != self.generation {
                self.drop_entries();
                self.generation = generation;
            }
            match sublist.shared.0.lookup(generation, subject) {
                Some(r) => {
                    self.shared_hits += 1;
                    // Reported as a cache hit.
                    self.unflushed_hits += 1;
                    self.unflushed_misses -= 1;
                    r
                }
                None => {
                    sl.collect(subject, &mut self.scratch);
                    let r = self.take_scratch();
                    sublist.shared.0.store(generation, subject, &r);
                    r
                }
            }
        };
        self.maybe_flush(sublist);
        if self.map.len() >= self.max_entries {
            self.evict_half();
        }
        let mut key = self.spare_subjects.pop().unwrap_or_default();
        key.clear();
        key.extend_from_slice(subject);
        let hasher = &self.hasher;
        self.map
            .insert_unique(
                hash,
                CacheEntry {
                    subject: key,
                    result,
                },
                |e| hasher.hash_one(e.subject.as_slice()),
            )
            .bucket_index()
    }

    /// The match in `scratch` as a result to keep.
    fn take_scratch(&mut self) -> Arc<SublistResult<T>> {
        if self.scratch.is_empty() {
            return Arc::clone(self.empty.get_or_insert_with(Arc::default));
        }
        if self.scratch.len() <= MOVE_ABOVE {
            // Refill a dropped entry's result rather than allocating one (a cache that
            // keeps missing, e.g. publishes spread over more subjects than it holds,
            // would otherwise allocate and free a result per message).
            while let Some(mut spare) = self.spare_results.pop() {
                if let Some(r) = Arc::get_mut(&mut spare) {
                    r.plain.clone_from(&self.scratch.plain);
                    r.queues.clone_from(&self.scratch.queues);
                    return spare;
                }
            }
            return Arc::new(self.scratch.clone());
        }
        let mut r = core::mem::take(&mut self.scratch);
        r.plain.shrink_to_fit();
        r.queues.shrink_to_fit();
        for (_, members) in &mut r.queues {
            members.shrink_to_fit();
        }
        Arc::new(r)
    }

    /// Drop about half of the entries (hash order, so effectively random ones), keeping
    /// their buffers for the next misses.
    fn evict_half(&mut self) {
        let mut n = 0u32;
        let evicted = self.map.extract_if(|_| {
            n = n.wrapping_add(1);
            n % 2 == 1
        });
        for entry in evicted {
            recycle(
                entry,
                self.max_entries,
                &mut self.spare_subjects,
                &mut self.spare_results,
            );
        }
    }

    /// Drop every entry, keeping (some of) their buffers for the next misses.
    fn drop_entries(&mut self) {
        for entry in self.map.drain() {
            recycle(
                entry,
                self.max_entries,
                &mut self.spare_subjects,
                &mut self.spare_results,
            );
        }
    }

    #[inline]
    fn maybe_flush(&mut self, sublist: &SharedSublist<T>) {
        if self.unflushed_hits + self.unflushed_misses >= Self::FLUSH_EVERY {
            self.flush_stats(sublist);
        }
    }

    /// Report the lookups not yet counted in `sublist`'s [`SharedSublist::stats`] (done
    /// automatically every [`FLUSH_EVERY`](Self::FLUSH_EVERY) lookups; call it when the
    /// connection closes for exact totals).
    pub fn flush_stats(&mut self, sublist: &SharedSublist<T>) {
        if sublist.id != self.sublist_id {
            self.unflushed_hits = 0;
            self.unflushed_misses = 0;
            return;
        }
        let lookups = self.unflushed_hits + self.unflushed_misses;
        if lookups > 0 {
            sublist
                .stats
                .0
                .matches
                .fetch_add(lookups, Ordering::Relaxed);
            sublist
                .stats
                .0
                .cache_hits
                .fetch_add(self.unflushed_hits, Ordering::Relaxed);
        }
        self.unflushed_hits = 0;
        self.unflushed_misses = 0;
    }

    /// Subjects cached now.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Nothing cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forget every cached result.
    pub fn clear(&mut self) {
        self.drop_entries();
    }

    /// The generation of the sublist the cached results were built at.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Lookups answered from the cache so far.
    pub fn hits(&self) -> u64 {
        self.hits
    }

    /// Lookups not found in this cache so far (walked, or taken from the shared results).
    pub fn misses(&self) -> u64 {
        self.misses
    }

    /// (subject buffers, results) kept for reuse.
    #[cfg(test)]
    pub(super) fn spares(&self) -> (usize, usize) {
        (self.spare_subjects.len(), self.spare_results.len())
    }

    /// Misses answered by a result another cache had shared (see
    /// [`SharedSublist::with_shared_results`]).
    pub fn shared_hits(&self) -> u64 {
        self.shared_hits
    }
}

/// `a == b`, compared inline for subjects of usual length. A slice `==` calls libc's
/// `memcmp`, whose call overhead (not the compare) was about 8 % of the server's CPU time
/// for a small publish, which compares its subject with a cached one.
#[inline]
pub(super) fn same_subject(a: &[u8], b: &[u8]) -> bool {
    const WORD: usize = 8;
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < WORD {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    if n > 8 * WORD {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + WORD)
            .and_then(|w| <[u8; WORD]>::try_from(w).ok())
            .map(u64::from_ne_bytes)
    };
    let mut at = 0;
    while at + WORD < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += WORD;
    }
    // The last word, overlapping the one before when `n` is not a multiple of it.
    word(a, n - WORD) == word(b, n - WORD)
}

/// Keep a dropped entry's buffers for reuse, as long as the spares stay within half the
/// cache's size (what one eviction frees) and the buffers are small. A result is reused
/// only if nothing else holds it (not lent out, not in the shared table), and is emptied
/// first so that it keeps no subscription alive.
fn recycle<T>(
    entry: CacheEntry<T>,
    max_entries: usize,
    spare_subjects: &mut Vec<Vec<u8>>,
    spare_results: &mut Vec<Arc<SublistResult<T>>>,
) {
    let keep = max_entries.div_ceil(2);
    let CacheEntry {
        subject,
        mut result,
    } = entry;
    if spare_subjects.len() < keep && subject.capacity() <= SPARE_SUBJECT_MAX {
        spare_subjects.push(subject);
    }
    if spare_results.len() < keep {
        if let Some(r) = Arc::get_mut(&mut result) {
            if r.plain.capacity() <= 2 * MOVE_ABOVE && r.queues.capacity() <= MOVE_ABOVE {
                r.clear();
                spare_results.push(result);
            }
        }
    }
}
