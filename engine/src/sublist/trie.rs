//! The token trie behind [`Sublist`](super::Sublist): levels of literal-token nodes plus
//! dedicated `*` and `>` nodes, as in nats-server.
//!
//! Invariants (checked by the tests after every operation):
//! * a node exists only if it holds a subscription or its `next` level is non-empty;
//! * `next` is `None` rather than an empty level;
//! * literal maps never hold the tokens `*` or `>` (those live in `pwc`/`fwc`).
//!
//! Insert, remove and drop are iterative, so a subject with very many tokens cannot
//! exhaust the stack; only matching recurses, once per `*` node on the matching path.

use super::SublistResult;
use crate::prelude::*;
use crate::subject::{is_fwc, is_pwc, tokens, TSEP};
use core::hash::Hash;
use hashbrown::HashMap;

/// A set of subscriptions kept as a plain vector (what a match copies out in one go) plus
/// a position index once the set is large enough for linear removal to hurt.
#[derive(Debug)]
pub(super) struct Members<T> {
    pub(super) items: Vec<T>,
    index: Option<HashMap<T, usize>>,
}

/// Build the position index above this many members; drop it below half of it.
const INDEX_AT: usize = 32;

impl<T> Default for Members<T> {
    fn default() -> Self {
        Members {
            items: Vec::new(),
            index: None,
        }
    }
}

impl<T: Clone + Eq + Hash> Members<T> {
    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn position(&self, item: &T) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(item).copied(),
            None => self.items.iter().position(|x| x == item),
        }
    }

    /// Add `item`; `false` if it was already there.
    pub(super) fn insert(&mut self, item: T) -> bool {
        if self.position(&item).is_some() {
            return false;
        }
        if let Some(ix) = &mut self.index {
            ix.insert(item.clone(), self.items.len());
        }
        self.items.push(item);
        if self.index.is_none() && self.items.len() > INDEX_AT {
            let ix = self
                .items
                .iter()
                .enumerate()
                .map(|(i, x)| (x.clone(), i))
                .collect();
            self.index = Some(ix);
        }
        true
    }

    /// Remove `item`; `false` if it was not there.
    pub(super) fn remove(&mut self, item: &T) -> bool {
        let Some(i) = self.position(item) else {
            return false;
        };
        self.items.swap_remove(i);
        if let Some(ix) = &mut self.index {
            ix.remove(item);
            if let Some(moved) = self.items.get(i) {
                if let Some(slot) = ix.get_mut(moved) {
                    *slot = i;
                }
            }
            if self.items.len() < INDEX_AT / 2 {
                self.index = None;
            }
        }
        if self.items.is_empty() {
            self.items = Vec::new();
        } else if self.items.capacity() > 64 && self.items.len() * 4 < self.items.capacity() {
            // Give memory back after a mass unsubscribe.
            self.items.shrink_to(self.items.len() * 2);
            if let Some(ix) = &mut self.index {
                ix.shrink_to(self.items.len() * 2);
            }
        }
        true
    }
}

/// The subscribers of one queue group on one node.
#[derive(Debug)]
pub(super) struct QueueGroup<T> {
    pub(super) name: Box<[u8]>,
    pub(super) members: Members<T>,
}

/// One token position of one or more subscription subjects.
#[derive(Debug)]
pub(super) struct Node<T> {
    pub(super) next: Option<Box<Level<T>>>,
    pub(super) plain: Members<T>,
    /// Few per node in practice, so a vector searched linearly.
    pub(super) queues: Vec<QueueGroup<T>>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Node {
            next: None,
            plain: Members::default(),
            queues: Vec::new(),
        }
    }
}

impl<T: Clone + Eq + Hash> Node<T> {
    pub(super) fn has_subs(&self) -> bool {
        !self.plain.is_empty() || !self.queues.is_empty()
    }

    /// Add a subscription; `false` if it was already there.
    pub(super) fn add(&mut self, queue: Option<&[u8]>, item: T) -> bool {
        let Some(q) = queue else {
            return self.plain.insert(item);
        };
        if let Some(g) = self.queues.iter_mut().find(|g| *g.name == *q) {
            return g.members.insert(item);
        }
        let mut members = Members::default();
        members.insert(item);
        self.queues.push(QueueGroup {
            name: q.into(),
            members,
        });
        true
    }

    /// Remove a subscription; `false` if it was not there.
    pub(super) fn remove(&mut self, queue: Option<&[u8]>, item: &T) -> bool {
        let Some(q) = queue else {
            return self.plain.remove(item);
        };
        let Some(i) = self.queues.iter().position(|g| *g.name == *q) else {
            return false;
        };
        let Some(g) = self.queues.get_mut(i) else {
            return false;
        };
        if !g.members.remove(item) {
            return false;
        }
        if g.members.is_empty() {
            self.queues.swap_remove(i);
        }
        true
    }
}

/// One level of the trie: the nodes for the tokens seen at this position.
#[derive(Debug)]
pub(super) struct Level<T> {
    pub(super) nodes: HashMap<Box<[u8]>, Node<T>>,
    pub(super) pwc: Option<Box<Node<T>>>,
    pub(super) fwc: Option<Box<Node<T>>>,
}

impl<T> Default for Level<T> {
    fn default() -> Self {
        Level {
            nodes: HashMap::new(),
            pwc: None,
            fwc: None,
        }
    }
}

impl<T> Level<T> {
    pub(super) fn num_nodes(&self) -> usize {
        self.nodes.len() + usize::from(self.pwc.is_some()) + usize::from(self.fwc.is_some())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.num_nodes() == 0
    }

    /// Move the levels below this one's nodes onto `stack`.
    fn take_children(&mut self, stack: &mut Vec<Level<T>>) {
        for n in self.nodes.values_mut() {
            stack.extend(n.next.take().map(|b| *b));
        }
        for n in [&mut self.pwc, &mut self.fwc].into_iter().flatten() {
            stack.extend(n.next.take().map(|b| *b));
        }
    }
}

impl<T> Drop for Level<T> {
    /// Tear down iteratively: the default recursive drop would use stack proportional to
    /// the depth of the trie.
    fn drop(&mut self) {
        let mut stack = Vec::new();
        self.take_children(&mut stack);
        while let Some(mut level) = stack.pop() {
            level.take_children(&mut stack);
        }
    }
}

impl<T: Clone + Eq + Hash> Level<T> {
    /// The node for a subscription token (`*` and `>` are the wildcard nodes).
    pub(super) fn get(&self, token: &[u8]) -> Option<&Node<T>> {
        if is_pwc(token) {
            self.pwc.as_deref()
        } else if is_fwc(token) {
            self.fwc.as_deref()
        } else {
            self.nodes.get(token)
        }
    }

    fn get_mut(&mut self, token: &[u8]) -> Option<&mut Node<T>> {
        if is_pwc(token) {
            self.pwc.as_deref_mut()
        } else if is_fwc(token) {
            self.fwc.as_deref_mut()
        } else {
            self.nodes.get_mut(token)
        }
    }

    fn get_or_insert(&mut self, token: &[u8]) -> Option<&mut Node<T>> {
        if is_pwc(token) {
            Some(self.pwc.get_or_insert_with(Box::default))
        } else if is_fwc(token) {
            Some(self.fwc.get_or_insert_with(Box::default))
        } else {
            if !self.nodes.contains_key(token) {
                self.nodes.insert(token.into(), Node::default());
            }
            self.nodes.get_mut(token)
        }
    }

    fn remove_child(&mut self, token: &[u8]) {
        if is_pwc(token) {
            self.pwc = None;
        } else if is_fwc(token) {
            self.fwc = None;
        } else {
            self.nodes.remove(token);
        }
    }

    /// The node of a (valid) subscription subject, created on the way if missing.
    pub(super) fn node_for_insert(&mut self, subject: &[u8]) -> Option<&mut Node<T>> {
        let mut level = self;
        let mut toks = tokens(subject).peekable();
        while let Some(tok) = toks.next() {
            let node = level.get_or_insert(tok)?;
            if toks.peek().is_none() {
                return Some(node);
            }
            level = node.next.get_or_insert_with(Box::default);
        }
        None
    }

    /// The node of a subscription subject, if present.
    pub(super) fn node_mut(&mut self, subject: &[u8]) -> Option<&mut Node<T>> {
        let mut level = self;
        let mut toks = tokens(subject).peekable();
        while let Some(tok) = toks.next() {
            let node = level.get_mut(tok)?;
            if toks.peek().is_none() {
                return Some(node);
            }
            level = node.next.as_deref_mut()?;
        }
        None
    }

    /// After a removal from the node of `subject`: drop the nodes on its path that no
    /// longer hold anything.
    pub(super) fn prune(&mut self, subject: &[u8]) {
        // The shallowest depth from which every node down the path is removable, i.e.
        // holds no subscription and has no child besides the next node of the path.
        let Some(depth) = self.prune_depth(subject) else {
            return;
        };
        let mut toks = tokens(subject);
        if depth == 0 {
            if let Some(tok) = toks.next() {
                self.remove_child(tok);
            }
            return;
        }
        // Walk to the parent node (at depth - 1) and cut the child off its `next` level.
        let mut level = self;
        for _ in 0..depth - 1 {
            let Some(next) = toks
                .next()
                .and_then(|t| level.get_mut(t))
                .and_then(|n| n.next.as_deref_mut())
            else {
                return;
            };
            level = next;
        }
        let Some(parent) = toks.next().and_then(|t| level.get_mut(t)) else {
            return;
        };
        let (Some(child), Some(next)) = (toks.next(), parent.next.as_deref_mut()) else {
            return;
        };
        next.remove_child(child);
        if next.is_empty() {
            parent.next = None;
        }
    }

    fn prune_depth(&self, subject: &[u8]) -> Option<usize> {
        let mut level = self;
        let mut candidate = None;
        let mut toks = tokens(subject).enumerate().peekable();
        while let Some((i, tok)) = toks.next() {
            let node = level.get(tok)?;
            let last = toks.peek().is_none();
            let removable = !node.has_subs()
                && match node.next.as_deref() {
                    None => true,
                    Some(l) => l.is_empty() || (!last && l.num_nodes() == 1),
                };
            if !removable {
                candidate = None;
            } else if candidate.is_none() {
                candidate = Some(i);
            }
            if last {
                return candidate;
            }
            level = node.next.as_deref()?;
        }
        None
    }
}

/// Split off the first token: `(token, rest after the dot)`.
#[inline]
fn split_token(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match s.iter().position(|&b| b == TSEP) {
        Some(i) => {
            let (head, tail) = s.split_at(i);
            (head, tail.get(1..))
        }
        None => (s, None),
    }
}

/// Accumulates a match into a caller-owned result, reusing its vectors (queue slots beyond
/// the ones filled so far are recycled, then cut off by [`Collector::finish`]).
pub(super) struct Collector<'r, T> {
    res: &'r mut SublistResult<T>,
    queues_used: usize,
}

impl<'r, T: Clone> Collector<'r, T> {
    pub(super) fn new(res: &'r mut SublistResult<T>) -> Self {
        res.plain.clear();
        Collector {
            res,
            queues_used: 0,
        }
    }

    fn add(&mut self, n: &Node<T>) {
        self.res.plain.extend_from_slice(&n.plain.items);
        for g in &n.queues {
            let used = self.queues_used;
            // The same group may be reached through several nodes (`foo.*` and `foo.bar`):
            // merge its members.
            if let Some((_, members)) = self
                .res
                .queues
                .iter_mut()
                .take(used)
                .find(|(name, _)| **name == *g.name)
            {
                members.extend_from_slice(&g.members.items);
                continue;
            }
            if let Some((name, members)) = self.res.queues.get_mut(used) {
                if **name != *g.name {
                    *name = g.name.clone();
                }
                members.clear();
                members.extend_from_slice(&g.members.items);
            } else {
                self.res
                    .queues
                    .push((g.name.clone(), g.members.items.clone()));
            }
            self.queues_used += 1;
        }
    }

    pub(super) fn finish(self) {
        self.res.queues.truncate(self.queues_used);
    }
}

/// Collect everything matching the literal `subject` (no empty tokens) below `level`.
pub(super) fn match_level<T: Clone + Eq + Hash>(
    mut level: &Level<T>,
    mut subject: &[u8],
    out: &mut Collector<'_, T>,
) {
    loop {
        let (tok, rest) = split_token(subject);
        if let Some(f) = level.fwc.as_deref() {
            out.add(f);
        }
        if let Some(p) = level.pwc.as_deref() {
            match rest {
                None => out.add(p),
                Some(rest) => {
                    if let Some(next) = p.next.as_deref() {
                        match_level(next, rest, out);
                    }
                }
            }
        }
        let Some(n) = level.nodes.get(tok) else {
            return;
        };
        match rest {
            None => {
                out.add(n);
                return;
            }
            Some(rest) => {
                let Some(next) = n.next.as_deref() else {
                    return;
                };
                level = next;
                subject = rest;
            }
        }
    }
}

/// Whether anything below `level` matches the literal `subject` (no empty tokens).
pub(super) fn any_match<T: Clone + Eq + Hash>(mut level: &Level<T>, mut subject: &[u8]) -> bool {
    loop {
        let (tok, rest) = split_token(subject);
        if level.fwc.as_deref().is_some_and(Node::has_subs) {
            return true;
        }
        if let Some(p) = level.pwc.as_deref() {
            match rest {
                None => {
                    if p.has_subs() {
                        return true;
                    }
                }
                Some(rest) => {
                    if p.next.as_deref().is_some_and(|l| any_match(l, rest)) {
                        return true;
                    }
                }
            }
        }
        let Some(n) = level.nodes.get(tok) else {
            return false;
        };
        match rest {
            None => return n.has_subs(),
            Some(rest) => {
                let Some(next) = n.next.as_deref() else {
                    return false;
                };
                level = next;
                subject = rest;
            }
        }
    }
}

#[cfg(test)]
impl<T: Clone + Eq + Hash> Level<T> {
    /// Check the invariants; returns (nodes, subscriptions) below this level.
    pub(super) fn check(&self) -> (usize, usize) {
        let mut nodes = 0;
        let mut subs = 0;
        let mut stack: Vec<&Level<T>> = vec![self];
        while let Some(l) = stack.pop() {
            assert!(!l.nodes.contains_key(&b"*"[..]) && !l.nodes.contains_key(&b">"[..]));
            let all = l
                .nodes
                .values()
                .chain(l.pwc.as_deref())
                .chain(l.fwc.as_deref());
            for n in all {
                nodes += 1;
                subs += n.plain.items.len();
                for g in &n.queues {
                    assert!(!g.members.is_empty(), "empty queue group kept");
                    subs += g.members.items.len();
                }
                if let Some(ix) = &n.plain.index {
                    assert_eq!(ix.len(), n.plain.items.len());
                    for (i, x) in n.plain.items.iter().enumerate() {
                        assert_eq!(ix.get(x), Some(&i));
                    }
                }
                match n.next.as_deref() {
                    Some(next) => {
                        assert!(!next.is_empty(), "empty level kept");
                        stack.push(next);
                    }
                    None => assert!(n.has_subs(), "empty node kept"),
                }
            }
            if let Some(f) = l.fwc.as_deref() {
                assert!(f.next.is_none(), "`>` node with children");
            }
        }
        (nodes, subs)
    }
}
