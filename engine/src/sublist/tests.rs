extern crate std;

use super::*;
use crate::subject;
use proptest::prelude::*;
use std::sync::atomic::AtomicBool;
use std::sync::Barrier;

type Norm<T> = (Vec<T>, Vec<(Vec<u8>, Vec<T>)>);

/// Order-independent form of a result; also checks its shape (each queue name once, no
/// empty group).
fn norm<T: Ord + Clone>(r: &SublistResult<T>) -> Norm<T> {
    let mut plain = r.plain.clone();
    plain.sort();
    let mut queues: Vec<(Vec<u8>, Vec<T>)> = r
        .queues
        .iter()
        .map(|(name, members)| {
            assert!(!members.is_empty(), "empty queue group in result");
            let mut m = members.clone();
            m.sort();
            (name.to_vec(), m)
        })
        .collect();
    queues.sort();
    for w in queues.windows(2) {
        assert_ne!(w[0].0, w[1].0, "queue group listed twice");
    }
    (plain, queues)
}

fn expect(plain: &[u32], queues: &[(&str, &[u32])]) -> Norm<u32> {
    let mut p = plain.to_vec();
    p.sort();
    let mut q: Vec<(Vec<u8>, Vec<u32>)> = queues
        .iter()
        .map(|(n, m)| {
            let mut m = m.to_vec();
            m.sort();
            (n.as_bytes().to_vec(), m)
        })
        .collect();
    q.sort();
    (p, q)
}

/// Check the trie invariants; returns the number of nodes.
fn check<T: Clone + Eq + Hash>(sl: &Sublist<T>) -> usize {
    let (nodes, subs) = sl.root.check();
    assert_eq!(subs, sl.count(), "count out of step with the trie");
    nodes
}

fn sl_with(subs: &[(&str, Option<&str>, u32)]) -> Sublist<u32> {
    let mut sl = Sublist::new();
    for (s, q, i) in subs {
        sl.insert(s.as_bytes(), q.map(str::as_bytes), *i).unwrap();
    }
    check(&sl);
    sl
}

#[test]
fn literal_and_wildcard_matching() {
    let sl = sl_with(&[
        ("foo.bar", None, 1),
        ("foo.*", None, 2),
        ("foo.>", None, 3),
        (">", None, 4),
        ("*.bar", None, 5),
        ("foo", None, 6),
        ("*", None, 7),
        ("*.*.baz", None, 8),
    ]);
    let m = |s: &str| norm(&sl.matches(s.as_bytes()));
    assert_eq!(m("foo.bar"), expect(&[1, 2, 3, 4, 5], &[]));
    assert_eq!(m("foo"), expect(&[4, 6, 7], &[]));
    assert_eq!(m("foo.bar.baz"), expect(&[3, 4, 8], &[]));
    assert_eq!(m("bar"), expect(&[4, 7], &[]));
    assert_eq!(m("foo.baz"), expect(&[2, 3, 4], &[]));
    assert_eq!(m("x.bar"), expect(&[4, 5], &[]));
    assert_eq!(m("x.y.z.w"), expect(&[4], &[]));
    assert_eq!(sl.count(), 8);
}

#[test]
fn subject_tokens_are_opaque_and_empty_tokens_match_nothing() {
    let sl = sl_with(&[
        ("foo.bar", None, 1),
        ("foo.*", None, 2),
        ("foo.>", None, 3),
        (">", None, 4),
        ("foo*", None, 5),
    ]);
    let m = |s: &str| norm(&sl.matches(s.as_bytes()));
    // A published `foo.*` is the literal token `*`: wildcards match it, `foo.bar` does not.
    assert_eq!(m("foo.*"), expect(&[2, 3, 4], &[]));
    assert_eq!(m("foo.>"), expect(&[2, 3, 4], &[]));
    assert_eq!(m("foo*"), expect(&[4, 5], &[]));
    for s in ["foo..bar", "foo.", ".foo", ".", "", ".."] {
        assert_eq!(m(s), expect(&[], &[]), "{s:?}");
        assert!(!sl.has_interest(s.as_bytes()), "{s:?}");
    }
}

#[test]
fn queue_groups_are_merged_across_subjects() {
    let sl = sl_with(&[
        ("foo.bar", Some("q1"), 1),
        ("foo.*", Some("q1"), 2),
        ("foo.>", Some("q2"), 3),
        ("foo.bar", None, 4),
        ("foo.bar", Some("q2"), 5),
        ("*.bar", Some("q1"), 6),
        // Queue names are opaque: `*` and `>` are just names.
        ("foo.bar", Some("*"), 7),
        ("foo.bar", Some(">"), 8),
    ]);
    assert_eq!(
        norm(&sl.matches(b"foo.bar")),
        expect(
            &[4],
            &[
                ("q1", &[1, 2, 6]),
                ("q2", &[3, 5]),
                ("*", &[7]),
                (">", &[8])
            ]
        )
    );
    assert_eq!(
        norm(&sl.matches(b"foo.baz")),
        expect(&[], &[("q1", &[2]), ("q2", &[3])])
    );
}

#[test]
fn invalid_inserts_are_rejected() {
    let mut sl = Sublist::new();
    for s in [
        "",
        "foo..bar",
        ".foo",
        "foo.",
        "foo.>.bar",
        "foo bar",
        "a\tb",
    ] {
        assert_eq!(
            sl.insert(s.as_bytes(), None, 1u32),
            Err(SublistError::InvalidSubject),
            "{s:?}"
        );
    }
    for q in ["", "a b", "a\nb"] {
        assert_eq!(
            sl.insert(b"foo", Some(q.as_bytes()), 1u32),
            Err(SublistError::InvalidQueue),
            "{q:?}"
        );
    }
    assert_eq!(sl.count(), 0);
    assert_eq!(sl.generation(), 0);
    assert_eq!(check(&sl), 0);
    assert!(!sl.remove(b"foo..bar", None, &1));
    assert!(!sl.remove(b"", None, &1));
}

#[test]
fn duplicate_insert_is_a_no_op() {
    let mut sl = Sublist::new();
    sl.insert(b"foo", None, 1u32).unwrap();
    sl.insert(b"foo", None, 1u32).unwrap();
    sl.insert(b"foo", Some(b"q"), 1u32).unwrap();
    sl.insert(b"foo", Some(b"q"), 1u32).unwrap();
    assert_eq!(sl.count(), 2);
    assert_eq!(sl.generation(), 2);
    assert_eq!(norm(&sl.matches(b"foo")), expect(&[1], &[("q", &[1])]));
    // The same item under another subject is another subscription.
    sl.insert(b"*", None, 1u32).unwrap();
    assert_eq!(norm(&sl.matches(b"foo")), expect(&[1, 1], &[("q", &[1])]));
}

#[test]
fn remove_and_prune() {
    let mut sl = sl_with(&[
        ("a.b.c", None, 1),
        ("a.b", None, 2),
        ("a.*.c", Some("q"), 3),
        ("a.>", None, 4),
        ("x.y.z.w", None, 5),
    ]);
    let g = sl.generation();
    // Not there: wrong item, queue, subject.
    assert!(!sl.remove(b"a.b.c", None, &9));
    assert!(!sl.remove(b"a.b.c", Some(b"q"), &1));
    assert!(!sl.remove(b"a.*.c", Some(b"r"), &3));
    assert!(!sl.remove(b"a.*.c", None, &3));
    assert!(!sl.remove(b"a.b.d", None, &1));
    assert!(!sl.remove(b"a", None, &1));
    assert_eq!(sl.generation(), g);

    assert!(sl.remove(b"x.y.z.w", None, &5));
    assert!(!sl.remove(b"x.y.z.w", None, &5));
    // a, a.b, a.b.c, a.*, a.*.c, a.>
    assert_eq!(check(&sl), 6);
    assert!(sl.remove(b"a.b.c", None, &1));
    assert_eq!(check(&sl), 5);
    assert!(sl.remove(b"a.*.c", Some(b"q"), &3));
    assert_eq!(check(&sl), 3);
    assert!(sl.remove(b"a.b", None, &2));
    assert_eq!(check(&sl), 2);
    assert_eq!(norm(&sl.matches(b"a.b")), expect(&[4], &[]));
    assert!(sl.remove(b"a.>", None, &4));
    assert_eq!(check(&sl), 0);
    assert!(sl.root.is_empty());
    assert!(sl.is_empty());
    assert_eq!(sl.generation(), g + 5);
    assert_eq!(sl.stats().num_removes, 5);
}

#[test]
fn has_interest_stops_at_first_hit() {
    let sl = sl_with(&[("*.foo", None, 1), ("a.>", Some("q"), 2), ("b", None, 3)]);
    for (s, want) in [
        ("bar", false),
        ("bar.foo", true),
        ("a", false),
        ("a.x", true),
        ("a.x.y", true),
        ("b", true),
        ("b.c", false),
        ("c.foo.d", false),
        ("*", false),
        ("*.foo", true),
    ] {
        assert_eq!(sl.has_interest(s.as_bytes()), want, "{s}");
        assert_eq!(!sl.matches(s.as_bytes()).is_empty(), want, "{s}");
    }
}

#[test]
fn match_into_reuses_and_replaces() {
    let sl = sl_with(&[
        ("a", Some("q1"), 1),
        ("a", Some("q2"), 2),
        ("b", Some("q2"), 3),
        ("*", Some("q3"), 4),
        ("b", None, 5),
    ]);
    let mut r = SublistResult::default();
    for s in ["a", "b", "c", "a", "zz.top", "b", "a"] {
        sl.match_into(s.as_bytes(), &mut r);
        assert_eq!(norm(&r), norm(&sl.matches(s.as_bytes())), "{s}");
    }
    // Whatever the result held before is replaced.
    r.plain.push(99);
    r.queues.push((b"junk"[..].into(), vec![98]));
    sl.match_into(b"c", &mut r);
    assert_eq!(norm(&r), expect(&[], &[("q3", &[4])]));
}

#[test]
fn large_member_sets_use_the_index() {
    let mut sl = Sublist::new();
    for i in 0..200u32 {
        sl.insert(b"foo", None, i).unwrap();
        sl.insert(b"foo", Some(b"q"), i).unwrap();
    }
    check(&sl);
    assert_eq!(sl.count(), 400);
    // Remove in a scrambled order, checking the index as we go.
    let mut order: Vec<u32> = (0..200).collect();
    order.sort_by_key(|i| (i * 7919) % 211);
    for (n, i) in order.iter().enumerate() {
        assert!(sl.remove(b"foo", None, i));
        assert!(!sl.remove(b"foo", None, i));
        if n % 10 == 0 {
            check(&sl);
        }
        let r = sl.matches(b"foo");
        assert_eq!(r.plain.len(), 199 - n);
        assert!(!r.plain.contains(i));
    }
    for i in 0..200u32 {
        assert!(sl.remove(b"foo", Some(b"q"), &i));
    }
    assert_eq!(check(&sl), 0);
}

#[test]
fn very_deep_subjects_do_not_exhaust_the_stack() {
    let deep = |n: usize, tok: &str| -> Vec<u8> { vec![tok; n].join(".").into_bytes() };
    let mut sl = Sublist::new();
    // 100k tokens: insert, remove and drop are iterative.
    let long = deep(100_000, "a");
    sl.insert(&long, None, 1u32).unwrap();
    assert_eq!(sl.matches(&long).plain, vec![1]);
    assert!(sl.has_interest(&long));
    assert!(sl.remove(&long, None, &1));
    assert_eq!(check(&sl), 0);
    sl.insert(&long, None, 1u32).unwrap();
    let mut sl2 = Sublist::new();
    sl2.insert(&long, Some(b"q"), 2u32).unwrap();
    drop(sl2);
    // Matching recurses once per `*` on the path: fine at the 2048 tokens a 4 KiB
    // control line allows.
    let stars = deep(2048, "*");
    sl.insert(&stars, None, 2u32).unwrap();
    let lit = deep(2048, "b");
    assert_eq!(sl.matches(&lit).plain, vec![2]);
    assert!(sl.has_interest(&lit));
    drop(sl);
}

#[test]
fn generation_and_stats() {
    let mut sl = Sublist::new();
    assert_eq!(sl.generation(), 0);
    sl.insert(b"a", None, 1u32).unwrap();
    sl.insert(b"b", None, 2u32).unwrap();
    assert_eq!(sl.generation(), 2);
    assert!(sl.insert(b"a..b", None, 3u32).is_err());
    assert_eq!(sl.generation(), 2);
    sl.matches(b"a");
    sl.matches(b"zzz");
    assert!(sl.remove(b"a", None, &1));
    assert_eq!(sl.generation(), 3);
    let st = sl.stats();
    assert_eq!(
        st,
        SublistStats {
            num_subscriptions: 1,
            num_inserts: 2,
            num_removes: 1,
            num_matches: 2,
            num_cache_hits: 0,
            num_cache: 0,
        }
    );
    assert_eq!(st.cache_hit_rate(), 0.0);
}

#[test]
fn shared_sublist_and_match_cache() {
    let sl = SharedSublist::<u32>::new();
    sl.insert(b"foo.*", None, 1).unwrap();
    sl.insert(b"foo.bar", Some(b"q"), 2).unwrap();
    assert_eq!(sl.generation(), 2);
    assert_eq!(sl.count(), 2);
    let mut cache = MatchCache::new();
    let r1 = cache.matches(&sl, b"foo.bar");
    assert_eq!(norm(&r1), expect(&[1], &[("q", &[2])]));
    let r2 = cache.matches(&sl, b"foo.bar");
    assert!(Arc::ptr_eq(&r1, &r2), "second lookup is a hit");
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    assert_eq!(norm(cache.matches_ref(&sl, b"foo.bar")), norm(&r1));
    assert_eq!(cache.hits(), 2);

    // Empty results are cached too, all sharing one allocation.
    let e1 = cache.matches(&sl, b"nope");
    let e2 = cache.matches(&sl, b"nope.nope");
    assert!(e1.is_empty() && Arc::ptr_eq(&e1, &e2));
    assert_eq!(cache.len(), 3);

    // A change empties the cache on the next lookup.
    sl.insert(b">", None, 3).unwrap();
    assert_eq!(norm(&cache.matches(&sl, b"nope")), expect(&[3], &[]));
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.generation(), sl.generation());
    assert!(sl.remove(b"foo.*", None, &1));
    assert_eq!(
        norm(cache.matches_ref(&sl, b"foo.bar")),
        expect(&[3], &[("q", &[2])])
    );
    assert!(!sl.remove(b"foo.*", None, &1));
    assert_eq!(norm(&sl.matches(b"foo.bar")), expect(&[3], &[("q", &[2])]));
    assert!(sl.has_interest(b"x"));

    // A cache handed another sublist with the same generation does not serve stale data.
    let other = SharedSublist::<u32>::new();
    for i in 0..sl.generation() {
        other.insert(b"zzz", None, 100 + i as u32).unwrap();
    }
    assert_eq!(other.generation(), sl.generation());
    assert!(cache.matches(&other, b"foo.bar").is_empty());
    assert_eq!(
        norm(&cache.matches(&sl, b"foo.bar")),
        expect(&[3], &[("q", &[2])])
    );

    // Batch removal.
    let q: &[u8] = b"q";
    let gone = sl.remove_batch([
        (&b"foo.bar"[..], Some(q), &2),
        (&b">"[..], None, &3),
        (&b"nothere"[..], None, &3),
    ]);
    assert_eq!(gone, 2);
    assert_eq!(sl.count(), 0);
    assert!(cache.matches(&sl, b"foo.bar").is_empty());
    sl.with_read(|inner| assert_eq!(check(inner), 0));
}

#[test]
fn match_cache_is_bounded() {
    let sl = SharedSublist::<u32>::new();
    sl.insert(b">", None, 1).unwrap();
    let mut cache = MatchCache::with_max_entries(8);
    for i in 0..100u32 {
        let s = std::format!("s.{i}");
        assert_eq!(cache.matches(&sl, s.as_bytes()).plain, vec![1]);
        assert!(cache.len() <= 8);
    }
    let mut tiny = MatchCache::with_max_entries(0);
    for i in 0..10u32 {
        let s = std::format!("s.{i}");
        assert_eq!(tiny.matches_ref(&sl, s.as_bytes()).plain, vec![1]);
        assert!(tiny.len() <= 1);
    }
    tiny.clear();
    assert!(tiny.is_empty());
}

#[test]
fn shared_stats_count_cache_lookups() {
    let sl = SharedSublist::<u32>::new();
    sl.insert(b"a", None, 1).unwrap();
    sl.insert(b"b", None, 2).unwrap();
    assert!(sl.remove(b"b", None, &2));
    let mut cache = MatchCache::new();
    for _ in 0..10 {
        cache.matches(&sl, b"a");
    }
    sl.matches(b"a");
    // Not flushed yet: only the direct match is counted.
    assert_eq!(sl.stats().num_matches, 1);
    cache.flush_stats(&sl);
    let st = sl.stats();
    assert_eq!(st.num_subscriptions, 1);
    assert_eq!(st.num_inserts, 2);
    assert_eq!(st.num_removes, 1);
    assert_eq!(st.num_matches, 11);
    assert_eq!(st.num_cache_hits, 9);
    assert!((st.cache_hit_rate() - 9.0 / 11.0).abs() < 1e-9);
    // Automatic flush.
    for _ in 0..MatchCache::<u32>::FLUSH_EVERY {
        cache.matches(&sl, b"a");
    }
    assert_eq!(sl.stats().num_matches, 11 + MatchCache::<u32>::FLUSH_EVERY);
}

#[test]
fn large_results_are_shared_between_caches() {
    let sl = SharedSublist::<u32>::with_shared_results(3);
    for i in 0..40 {
        sl.insert(b"big", None, i).unwrap();
    }
    sl.insert(b"big", Some(b"q"), 100).unwrap();
    sl.insert(b"small", None, 1).unwrap();
    let want_big = norm(&sl.matches(b"big"));
    assert_eq!(want_big.0.len(), 40);
    let (mut a, mut b) = (MatchCache::new(), MatchCache::new());
    let ra = a.matches(&sl, b"big");
    assert_eq!(norm(&ra), want_big);
    let rb = b.matches(&sl, b"big");
    assert!(
        Arc::ptr_eq(&ra, &rb),
        "the second cache takes the shared result"
    );
    assert_eq!((b.misses(), b.shared_hits()), (1, 1));
    assert_eq!(norm(b.matches_ref(&sl, b"big")), want_big);
    // Small results are not shared.
    let sa = a.matches(&sl, b"small");
    let sb = b.matches(&sl, b"small");
    assert!(!Arc::ptr_eq(&sa, &sb));
    assert_eq!(sl.stats().num_cache, 1);

    // A change makes the shared result stale: nobody may serve it any more.
    sl.insert(b"big", None, 41).unwrap();
    assert_eq!(sl.stats().num_cache, 0);
    let rb2 = b.matches(&sl, b"big");
    assert_eq!(rb2.plain.len(), 41);
    let ra2 = a.matches(&sl, b"big");
    assert!(Arc::ptr_eq(&ra2, &rb2));
    assert_eq!(sl.stats().num_cache, 1);
    // Results built by moving the scratch vectors out are complete, and the scratch
    // still works afterwards.
    assert_eq!(norm(&a.matches(&sl, b"small")), expect(&[1], &[]));
    assert!(sl.remove(b"big", Some(b"q"), &100));
    assert_eq!(a.matches(&sl, b"big").queues.len(), 0);

    a.flush_stats(&sl);
    b.flush_stats(&sl);
    let st = sl.stats();
    // a: big (walk), small (walk), big (hit from b), small (walk), big (walk);
    // b: big (shared), big (hit), small (walk), big (walk).
    assert_eq!(st.num_matches, 1 + 9);
    assert_eq!(st.num_cache_hits, 3);

    // Sharing disabled.
    let none = SharedSublist::<u32>::with_shared_results(usize::MAX);
    for i in 0..40 {
        none.insert(b"big", None, i).unwrap();
    }
    let (mut a, mut b) = (MatchCache::new(), MatchCache::new());
    assert!(!Arc::ptr_eq(
        &a.matches(&none, b"big"),
        &b.matches(&none, b"big")
    ));
    assert_eq!(none.stats().num_cache, 0);
}

// ---------------------------------------------------------------------------------------
// Model-based test: Sublist, SharedSublist and MatchCache against a naive matcher.

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Option<Vec<u8>>, u8),
    /// Remove the n-th live subscription (modulo their number).
    RemoveLive(usize),
    /// Remove something that may not be there.
    RemoveAny(Vec<u8>, Option<Vec<u8>>, u8),
    Match(Vec<u8>),
}

fn join(toks: &[&str]) -> Vec<u8> {
    toks.join(".").into_bytes()
}

/// Valid subscription subjects over a small alphabet.
fn pattern() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "*", ">"]), 1..5).prop_map(
        |toks| {
            let end = toks
                .iter()
                .position(|t| *t == ">")
                .map_or(toks.len(), |i| i + 1);
            join(&toks[..end])
        },
    )
}

/// Publish subjects: mostly literal, sometimes with wildcard tokens (opaque) or empty
/// tokens (match nothing).
fn publish_subject() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(vec!["a", "b", "c", "d"]), 1..6)
            .prop_map(|t| join(&t)),
        2 => prop::collection::vec(prop::sample::select(vec!["a", "b", "*", ">"]), 1..5)
            .prop_map(|t| join(&t)),
        1 => prop::sample::select(vec!["a..b", "a.", ".a", "", ".", "a.b."])
            .prop_map(|s| s.as_bytes().to_vec()),
    ]
}

fn queue() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop::option::weighted(
        0.4,
        prop::sample::select(vec!["q1", "q2", "*"]).prop_map(|q| q.as_bytes().to_vec()),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (pattern(), queue(), 0u8..5).prop_map(|(s, q, i)| Op::Insert(s, q, i)),
        2 => any::<usize>().prop_map(Op::RemoveLive),
        1 => (pattern(), queue(), 0u8..5).prop_map(|(s, q, i)| Op::RemoveAny(s, q, i)),
        4 => publish_subject().prop_map(Op::Match),
    ]
}

type Model = Vec<(Vec<u8>, Option<Vec<u8>>, u8)>;

fn naive(model: &Model, subject: &[u8]) -> Norm<u8> {
    let mut r: SublistResult<u8> = SublistResult::default();
    for (p, q, item) in model {
        if !subject::matches(p, subject) {
            continue;
        }
        match q {
            None => r.plain.push(*item),
            Some(q) => match r.queues.iter_mut().find(|(n, _)| **n == **q) {
                Some((_, m)) => m.push(*item),
                None => r.queues.push((q.clone().into_boxed_slice(), vec![*item])),
            },
        }
    }
    norm(&r)
}

struct Harness {
    model: Model,
    plain: Sublist<u8>,
    shared: SharedSublist<u8>,
    cache: MatchCache<u8>,
    /// A second reader of the same sublist: takes results the first one shared.
    cache2: MatchCache<u8>,
    small_cache: MatchCache<u8>,
    scratch: SublistResult<u8>,
}

impl Harness {
    fn new() -> Self {
        Harness {
            model: Vec::new(),
            plain: Sublist::new(),
            // Share results of two or more subscriptions, so the model exercises it.
            shared: SharedSublist::with_shared_results(2),
            cache: MatchCache::new(),
            cache2: MatchCache::new(),
            small_cache: MatchCache::with_max_entries(4),
            scratch: SublistResult::default(),
        }
    }

    fn remove(&mut self, s: &[u8], q: Option<&[u8]>, item: u8) {
        let pos = self
            .model
            .iter()
            .position(|(ms, mq, mi)| *ms == s && mq.as_deref() == q && *mi == item);
        if let Some(i) = pos {
            self.model.swap_remove(i);
        }
        assert_eq!(self.plain.remove(s, q, &item), pos.is_some());
        assert_eq!(self.shared.remove(s, q, &item), pos.is_some());
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Insert(s, q, item) => {
                let triple = (s.clone(), q.clone(), *item);
                if !self.model.contains(&triple) {
                    self.model.push(triple);
                }
                self.plain.insert(s, q.as_deref(), *item).unwrap();
                self.shared.insert(s, q.as_deref(), *item).unwrap();
            }
            Op::RemoveLive(n) => {
                if !self.model.is_empty() {
                    let (s, q, item) = self.model[n % self.model.len()].clone();
                    self.remove(&s, q.as_deref(), item);
                }
            }
            Op::RemoveAny(s, q, item) => self.remove(s, q.as_deref(), *item),
            Op::Match(s) => self.check_match(s),
        }
        assert_eq!(check(&self.plain), self.shared.with_read(check));
        assert_eq!(self.plain.count(), self.model.len());
        assert_eq!(self.shared.count(), self.model.len());
        assert_eq!(self.shared.generation(), self.plain.generation());
    }

    fn check_match(&mut self, s: &[u8]) {
        let want = naive(&self.model, s);
        assert_eq!(norm(&self.plain.matches(s)), want, "Sublist {:?}", s);
        self.plain.match_into(s, &mut self.scratch);
        assert_eq!(norm(&self.scratch), want, "Sublist::match_into {:?}", s);
        assert_eq!(norm(&self.shared.matches(s)), want, "SharedSublist {:?}", s);
        assert_eq!(
            norm(&self.cache.matches(&self.shared, s)),
            want,
            "MatchCache {:?}",
            s
        );
        assert_eq!(
            norm(self.cache2.matches_ref(&self.shared, s)),
            want,
            "second MatchCache {:?}",
            s
        );
        assert_eq!(
            norm(self.small_cache.matches_ref(&self.shared, s)),
            want,
            "MatchCache::matches_ref {:?}",
            s
        );
        let interest = !want.0.is_empty() || !want.1.is_empty();
        assert_eq!(self.plain.has_interest(s), interest, "has_interest {:?}", s);
        assert_eq!(self.shared.has_interest(s), interest);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn sublists_agree_with_naive_matcher(ops in prop::collection::vec(op(), 1..120)) {
        let mut h = Harness::new();
        for op in &ops {
            h.apply(op);
        }
        // Sweep a fixed set of subjects through the (long-lived) caches at the end too.
        for toks in [&["a"][..], &["a", "b"], &["b", "c", "d"], &["a", "a", "a", "a"], &["*"]] {
            h.check_match(&join(toks));
        }
        // Remove everything: the trie must prune back to nothing.
        while !h.model.is_empty() {
            h.apply(&Op::RemoveLive(0));
        }
        prop_assert_eq!(check(&h.plain), 0);
        prop_assert_eq!(h.shared.with_read(check), 0);
        h.check_match(b"a");
    }
}

// ---------------------------------------------------------------------------------------
// Concurrency: readers match (cached and not) while a writer churns subscriptions.

type Sub<'a> = (&'a [u8], Option<&'a [u8]>, u64);

#[test]
fn concurrent_readers_with_a_writer() {
    let sl = SharedSublist::<u64>::new();
    let permanent: [Sub<'_>; 4] = [
        (b"foo.bar", None, 1),
        (b"foo.*", None, 2),
        (b"foo.>", Some(b"q"), 3),
        (b">", None, 4),
    ];
    let churn: [Sub<'_>; 4] = [
        (b"foo.bar", None, 100),
        (b"foo.*", Some(b"q"), 101),
        (b"*.bar", None, 102),
        (b"foo.bar", Some(b"r"), 103),
    ];
    for (s, q, i) in permanent {
        sl.insert(s, q, i).unwrap();
    }
    let base: Norm<u64> = (vec![1, 2, 4], vec![(b"q".to_vec(), vec![3])]);
    // What the writer leaves behind: the permanent subscriptions plus `foo.bar` 100, so
    // a cache still holding a result from before the churn would be caught.
    let last: Norm<u64> = (vec![1, 2, 4, 100], vec![(b"q".to_vec(), vec![3])]);
    let done = AtomicBool::new(false);
    let readers = 4;
    let start = Barrier::new(readers + 1);
    let end = Barrier::new(readers + 1);

    std::thread::scope(|scope| {
        for t in 0..readers {
            let (sl, done, start, end, base, last) = (&sl, &done, &start, &end, &base, &last);
            scope.spawn(move || {
                let mut cache = MatchCache::new();
                let mut scratch = SublistResult::default();
                let mut rounds = 0u64;
                loop {
                    let r = if t % 2 == 0 {
                        norm(&cache.matches(sl, b"foo.bar"))
                    } else {
                        sl.match_into(b"foo.bar", &mut scratch);
                        norm(&scratch)
                    };
                    // Always the permanent subscriptions, plus some of the churning ones.
                    for p in &base.0 {
                        assert!(r.0.contains(p), "lost plain sub {p}");
                    }
                    assert!(r.0.iter().all(|p| [1, 2, 4, 100, 102].contains(p)), "{r:?}");
                    let q = r.1.iter().find(|(n, _)| n == b"q").expect("queue q");
                    assert!(q.1.contains(&3) && q.1.iter().all(|m| [3, 101].contains(m)));
                    assert!(r.1.iter().all(|(n, _)| n == b"q" || n == b"r"));
                    assert!(sl.has_interest(b"foo.bar"));
                    // A subject the churn does not touch.
                    assert_eq!(cache.matches(sl, b"zzz").plain, vec![4]);
                    rounds += 1;
                    if rounds == 1 {
                        // Every reader has cached the initial state before the churn.
                        assert_eq!(r, *base);
                        start.wait();
                    }
                    if done.load(Ordering::Acquire) {
                        break;
                    }
                }
                end.wait();
                // The writer is done: the cache must see the final state.
                assert_eq!(norm(&cache.matches(sl, b"foo.bar")), *last);
                assert_eq!(norm(&sl.matches(b"foo.bar")), *last);
            });
        }
        let (sl, done, start, end) = (&sl, &done, &start, &end);
        scope.spawn(move || {
            start.wait();
            for i in 0..20_000usize {
                let (s, q, item) = churn[i % churn.len()];
                if (i / churn.len()) % 2 == 0 {
                    sl.insert(s, q, item).unwrap();
                } else {
                    assert!(sl.remove(s, q, &item));
                }
                if i % 64 == 0 {
                    std::thread::yield_now();
                }
            }
            for (s, q, item) in churn {
                sl.remove(s, q, &item);
            }
            let (s, q, item) = churn[0];
            sl.insert(s, q, item).unwrap();
            done.store(true, Ordering::Release);
            end.wait();
        });
    });
    assert_eq!(sl.count(), permanent.len() + 1);
    sl.with_read(|inner| assert_eq!(check(inner), 5));
}

// ---------------------------------------------------------------------------------------
// Throughput, for information only (not a timed test):
// `cargo test -p rnats-engine --release sublist_throughput -- --ignored --nocapture`

#[test]
#[ignore]
fn sublist_throughput() {
    use std::time::Instant;
    let sl = SharedSublist::<u64>::new();
    let mut n = 0u64;
    for svc in 0..1000 {
        for op in ["get", "put", "del"] {
            n += 1;
            let s = std::format!("svc.{svc}.{op}");
            sl.insert(s.as_bytes(), None, n).unwrap();
            n += 1;
            sl.insert(s.as_bytes(), Some(b"workers"), n).unwrap();
        }
        n += 1;
        sl.insert(std::format!("svc.{svc}.*").as_bytes(), None, n)
            .unwrap();
    }
    sl.insert(b"svc.>", None, 0).unwrap();
    let subjects: Vec<Vec<u8>> = (0..256)
        .map(|i| std::format!("svc.{}.get", i * 3).into_bytes())
        .collect();
    std::println!("{} subscriptions, {} subjects", sl.count(), subjects.len());

    let iters = 2_000_000usize;
    let report = |name: &str, iters: usize, t: Instant, sink: usize| {
        let ns = t.elapsed().as_nanos() as f64 / iters as f64;
        std::println!(
            "{name:<40} {ns:8.1} ns/op  {:7.1} M/s  (sink {sink})",
            1e3 / ns
        );
    };

    let mut cache = MatchCache::new();
    let mut sink = 0usize;
    for s in &subjects {
        sink += cache.matches(&sl, s).fanout();
    }
    let t = Instant::now();
    for i in 0..iters {
        sink += cache.matches(&sl, &subjects[i % subjects.len()]).fanout();
    }
    report("MatchCache::matches (hit, Arc)", iters, t, sink);

    let t = Instant::now();
    for i in 0..iters {
        sink += cache
            .matches_ref(&sl, &subjects[i % subjects.len()])
            .fanout();
    }
    report("MatchCache::matches_ref (hit)", iters, t, sink);

    let t = Instant::now();
    for i in 0..iters {
        sink += sl.matches(&subjects[i % subjects.len()]).fanout();
    }
    report("SharedSublist::matches (uncached)", iters, t, sink);

    let mut scratch = SublistResult::default();
    let t = Instant::now();
    for i in 0..iters {
        sl.match_into(&subjects[i % subjects.len()], &mut scratch);
        sink += scratch.fanout();
    }
    report("SharedSublist::match_into (uncached)", iters, t, sink);

    let t = Instant::now();
    for i in 0..iters {
        sink += usize::from(sl.has_interest(&subjects[i % subjects.len()]));
    }
    report("SharedSublist::has_interest", iters, t, sink);

    // Broadcast with churn: 2000 subscribers (Arc handles, like the server's), 64
    // publishing connections, and a subscription change before every round.
    for min_subs in [
        SharedSublist::<Arc<u64>>::SHARED_RESULTS_MIN_SUBS,
        usize::MAX,
    ] {
        let sl = SharedSublist::<Arc<u64>>::with_shared_results(min_subs);
        for i in 0..2000u64 {
            sl.insert(b"room.1", None, Arc::new(i)).unwrap();
        }
        let mut caches: Vec<MatchCache<Arc<u64>>> = (0..64).map(|_| MatchCache::new()).collect();
        let rounds = 200usize;
        let extra = Arc::new(u64::MAX);
        let t = Instant::now();
        for round in 0..rounds {
            if round % 2 == 0 {
                sl.insert(b"room.2", None, Arc::clone(&extra)).unwrap();
            } else {
                sl.remove(b"room.2", None, &extra);
            }
            for c in &mut caches {
                sink += c.matches_ref(&sl, b"room.1").len();
            }
        }
        let per = t.elapsed().as_nanos() as f64 / (rounds * caches.len()) as f64;
        std::println!(
            "broadcast after churn, sharing {:<5} {per:10.1} ns per lookup  (sink {sink})",
            if min_subs == usize::MAX { "off" } else { "on" }
        );
    }

    for threads in [1usize, 2, 4, 8] {
        for cached in [true, false] {
            let t = Instant::now();
            std::thread::scope(|scope| {
                for k in 0..threads {
                    let (sl, subjects) = (&sl, &subjects);
                    scope.spawn(move || {
                        let mut cache = MatchCache::new();
                        let mut scratch = SublistResult::default();
                        let mut sink = 0usize;
                        for i in 0..iters {
                            let s = &subjects[(i + k * 7) % subjects.len()];
                            if cached {
                                sink += cache.matches_ref(sl, s).fanout();
                            } else {
                                sl.match_into(s, &mut scratch);
                                sink += scratch.fanout();
                            }
                        }
                        std::hint::black_box(sink);
                    });
                }
            });
            let per = t.elapsed().as_nanos() as f64 / iters as f64;
            std::println!(
                "{threads} threads {:<9} {:8.1} ns/op per thread, {:7.1} M/s total",
                if cached { "cached" } else { "uncached" },
                per,
                threads as f64 * 1e3 / per
            );
        }
    }
}

#[test]
fn match_cache_reuses_dropped_entries_without_touching_held_results() {
    let sl = SharedSublist::<u32>::new();
    sl.insert(b"s.*", None, 1).unwrap();
    sl.insert(b"s.>", None, 2).unwrap();
    sl.insert(b"s.7", Some(b"q"), 3).unwrap();
    let mut cache = MatchCache::with_max_entries(4);
    // Held by the caller: never refilled for another subject.
    let held = cache.matches(&sl, b"s.0");
    for _ in 0..3 {
        for i in 0..50u32 {
            let s = std::format!("s.{i}");
            let want = if i == 7 {
                expect(&[1, 2], &[("q", &[3])])
            } else {
                expect(&[1, 2], &[])
            };
            assert_eq!(norm(cache.matches_ref(&sl, s.as_bytes())), want, "{s}");
            assert!(cache.len() <= 4);
        }
    }
    assert_eq!(norm(&held), expect(&[1, 2], &[]));
    // At most half the cache's size is kept for reuse.
    let (subjects, results) = cache.spares();
    assert!(subjects <= 2 && results <= 2, "{subjects} {results}");
    // A change drops every entry into the spares; the next lookups see the change.
    sl.insert(b"s.3", None, 4).unwrap();
    assert_eq!(
        norm(cache.matches_ref(&sl, b"s.3")),
        expect(&[1, 2, 4], &[])
    );
    assert_eq!(norm(cache.matches_ref(&sl, b"s.4")), expect(&[1, 2], &[]));
    assert_eq!(norm(&held), expect(&[1, 2], &[]));
}

#[test]
fn inline_subject_compare_agrees_with_slice_equality() {
    for len in 0..80usize {
        let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(super::shared::same_subject(&a, &a.clone()), "len {len}");
        for at in 0..len {
            let mut b = a.clone();
            b[at] ^= 0x80;
            assert!(
                !super::shared::same_subject(&a, &b),
                "len {len}, differs at {at}"
            );
        }
        let mut longer = a.clone();
        longer.push(b'x');
        assert!(
            !super::shared::same_subject(&a, &longer),
            "len {len} vs {}",
            len + 1
        );
    }
}
