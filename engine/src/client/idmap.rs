//! A map keyed by the ids a client hands out (sids, request and flush tokens).

use crate::prelude::*;

/// A map from ids to values, for ids that are handed out in increasing order: a sorted
/// `Vec`, so inserting a new id is a push and lookups are binary searches.
///
/// It stands in for `BTreeMap` because in the browser client every `BTreeMap<u64, V>`
/// instance costs several KB of WebAssembly; this costs a few hundred bytes.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    entries: Vec<(u64, V)>,
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap {
            entries: Vec::new(),
        }
    }
}

impl<V> IdMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        IdMap::default()
    }

    fn find(&self, id: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// Insert or replace.
    pub fn insert(&mut self, id: u64, value: V) {
        if self.entries.last().is_none_or(|(last, _)| *last < id) {
            self.entries.push((id, value));
            return;
        }
        match self.find(id) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (id, value)),
        }
    }

    /// The value for `id`.
    pub fn get(&self, id: u64) -> Option<&V> {
        self.find(id).ok().map(|i| &self.entries[i].1)
    }

    /// The value for `id`, mutably.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut V> {
        match self.find(id) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Remove and return the value for `id`.
    pub fn remove(&mut self, id: u64) -> Option<V> {
        self.find(id).ok().map(|i| self.entries.remove(i).1)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries in id order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &V)> {
        self.entries.iter().map(|(k, v)| (*k, v))
    }

    /// Entries in id order, values mutable.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (*k, v))
    }

    /// Values in id order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// Remove every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Keep the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(u64, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(*k, v));
    }
}

impl<V> IntoIterator for IdMap<V> {
    type Item = (u64, V);
    type IntoIter = alloc::vec::IntoIter<(u64, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_sorted_map() {
        let mut m = IdMap::new();
        for id in [1, 2, 5, 3, 9, 0] {
            m.insert(id, id * 10);
        }
        m.insert(5, 55);
        assert_eq!(
            m.iter().map(|(k, v)| (k, *v)).collect::<Vec<_>>(),
            [(0, 0), (1, 10), (2, 20), (3, 30), (5, 55), (9, 90)]
        );
        assert_eq!(m.get(3), Some(&30));
        assert_eq!(m.get(4), None);
        *m.get_mut(9).unwrap() += 1;
        assert_eq!(m.remove(9), Some(91));
        assert_eq!(m.remove(9), None);
        m.retain(|k, _| k % 2 == 1);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), [10, 30, 55]);
        assert_eq!(m.len(), 3);
        m.clear();
        assert!(m.is_empty());
    }
}
