//! `subjects`: subject validation and matching, and the sublist (plain, shared and
//! behind match caches), each checked against a deliberately naive model.
//!
//! The input is a script; each step starts with one action byte:
//!
//! | action % 4 | step |
//! |---|---|
//! | 0 | two subjects: check validation, `matches`, `is_subset_match`, `subjects_collide` |
//! | 1 | insert (subject, queue?, item) into every sublist and the model |
//! | 2 | remove (an existing entry or an arbitrary one) |
//! | 3 | match a subject through every sublist and cache; compare with the model |
//!
//! Subjects are either raw bytes or built from a small token alphabet so that the steps
//! collide often.

use crate::Reader;
use rnats_engine::subject;
use rnats_engine::sublist::{MatchCache, SharedSublist, Sublist, SublistError, SublistResult};

const TOKENS: &[&[u8]] = &[
    b"foo", b"bar", b"*", b">", b"", b"baz", b"a b", b"f*", b">x", b"\t", b"**", b"foo", b"bar",
    b"*", b">", b"q",
];

fn gen_subject(u: &mut Reader<'_>) -> Vec<u8> {
    let kind = u.u8();
    if kind.is_multiple_of(4) {
        let len = usize::from(u.u8() % 24);
        return u.bytes(len).to_vec();
    }
    let n = 1 + usize::from(kind / 4 % 5);
    let mut s = Vec::new();
    for i in 0..n {
        if i > 0 {
            s.push(b'.');
        }
        s.extend_from_slice(u.choose(TOKENS));
    }
    s
}

fn gen_queue(u: &mut Reader<'_>) -> Option<Vec<u8>> {
    match u.u8() % 6 {
        0..=2 => None,
        3 => Some(b"q1".to_vec()),
        4 => Some(b"q2".to_vec()),
        _ => {
            let len = usize::from(u.u8() % 6);
            Some(u.bytes(len).to_vec())
        }
    }
}

// ---------------------------------------------------------------------------------------
// The model: straightforward token-list code, written from the documented rules.

fn toks(s: &[u8]) -> Vec<&[u8]> {
    s.split(|&b| b == b'.').collect()
}

fn has_ws(s: &[u8]) -> bool {
    s.iter().any(|b| b" \t\r\n\x0c".contains(b))
}

fn model_valid(s: &[u8]) -> bool {
    let t = toks(s);
    !s.is_empty()
        && !has_ws(s)
        && t.iter().all(|x| !x.is_empty())
        && t.iter().take(t.len() - 1).all(|x| *x != b">")
}

fn model_valid_literal(s: &[u8]) -> bool {
    model_valid(s) && toks(s).iter().all(|x| *x != b"*" && *x != b">")
}

fn model_valid_queue(q: &[u8]) -> bool {
    !q.is_empty() && !has_ws(q)
}

/// Structure only (no whitespace check), as `subject::matches` documents.
fn model_matches(pattern: &[u8], subj: &[u8]) -> bool {
    let p = toks(pattern);
    let s = toks(subj);
    if pattern.is_empty() || subj.is_empty() || s.iter().any(|x| x.is_empty()) {
        return false;
    }
    if p.iter().any(|x| x.is_empty()) || p.iter().take(p.len() - 1).any(|x| *x == b">") {
        return false;
    }
    fn go(p: &[&[u8]], s: &[&[u8]]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(&b">"), Some(_)) => true,
            (Some(&x), Some(&y)) => (x == b"*" || x == y) && go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(&p, &s)
}

/// Does pattern `p` match every subject that `s` matches?
fn model_covers(p: &[&[u8]], s: &[&[u8]]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(&b">"), Some(_)) => true,
        (Some(_), Some(&b">")) => false,
        (Some(&b"*"), Some(_)) => model_covers(&p[1..], &s[1..]),
        (Some(&x), Some(&y)) => x == y && y != b"*" && model_covers(&p[1..], &s[1..]),
        _ => false,
    }
}

fn model_collide(a: &[&[u8]], b: &[&[u8]]) -> bool {
    match (a.first(), b.first()) {
        (None, None) => true,
        (Some(&b">"), Some(_)) | (Some(_), Some(&b">")) => true,
        (Some(&x), Some(&y)) => {
            (x == b"*" || y == b"*" || x == y) && model_collide(&a[1..], &b[1..])
        }
        _ => false,
    }
}

/// A literal subject `pattern` matches: wildcards replaced by fresh tokens.
fn witness(pattern: &[u8], extra: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, t) in toks(pattern).into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        match t {
            b"*" => out.extend_from_slice(b"w0"),
            b">" => out.extend_from_slice(if extra { b"w1.w2" } else { b"w1" }),
            t => out.extend_from_slice(t),
        }
    }
    out
}

fn check_pair(a: &[u8], b: &[u8]) {
    for s in [a, b] {
        assert_eq!(
            subject::is_valid_subject(s),
            model_valid(s),
            "is_valid_subject({s:?})"
        );
        assert_eq!(
            subject::is_valid_literal_subject(s),
            model_valid_literal(s),
            "is_valid_literal_subject({s:?})"
        );
        assert_eq!(
            subject::is_valid_queue(s),
            model_valid_queue(s),
            "is_valid_queue({s:?})"
        );
        assert_eq!(
            subject::is_literal(s),
            toks(s).iter().all(|t| *t != b"*" && *t != b">"),
            "is_literal({s:?})"
        );
        assert_eq!(subject::tokens(s).count(), toks(s).len(), "tokens({s:?})");
    }
    assert_eq!(
        subject::matches(a, b),
        model_matches(a, b),
        "matches({a:?}, {b:?})"
    );
    let both_valid = model_valid(a) && model_valid(b);
    let subset = subject::is_subset_match(a, b);
    assert_eq!(
        subset,
        both_valid && model_covers(&toks(b), &toks(a)),
        "is_subset_match({a:?}, {b:?})"
    );
    let collide = subject::subjects_collide(a, b);
    assert_eq!(
        collide,
        subject::subjects_collide(b, a),
        "subjects_collide symmetry"
    );
    assert_eq!(
        collide,
        both_valid && model_collide(&toks(a), &toks(b)),
        "subjects_collide({a:?}, {b:?})"
    );
    if model_valid(a) {
        assert!(
            subject::is_subset_match(a, a),
            "{a:?} not a subset of itself"
        );
        for extra in [false, true] {
            let w = witness(a, extra);
            if model_valid_literal(&w) {
                assert!(
                    subject::matches(a, &w),
                    "{a:?} does not match its witness {w:?}"
                );
                if subset {
                    assert!(
                        subject::matches(b, &w),
                        "{a:?} ⊂ {b:?} but {w:?} matches only the first"
                    );
                }
                if subject::matches(b, &w) {
                    assert!(
                        collide,
                        "{a:?} and {b:?} both match {w:?} but do not collide"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sublist vs model.

type Entry = (Vec<u8>, Option<Vec<u8>>, u8);

/// Sorted plain items and sorted (queue, sorted members).
type Normal = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);

fn normalize(r: &SublistResult<u8>) -> Normal {
    let mut plain = r.plain.clone();
    plain.sort_unstable();
    let mut queues: Vec<(Vec<u8>, Vec<u8>)> = r
        .queues
        .iter()
        .map(|(q, m)| {
            let mut m = m.clone();
            m.sort_unstable();
            (q.to_vec(), m)
        })
        .collect();
    queues.sort();
    (plain, queues)
}

fn model_result(model: &[Entry], subj: &[u8]) -> Normal {
    let mut plain = Vec::new();
    let mut queues: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (s, q, item) in model {
        if !model_matches(s, subj) {
            continue;
        }
        match q {
            None => plain.push(*item),
            Some(q) => match queues.iter_mut().find(|(name, _)| name == q) {
                Some((_, m)) => m.push(*item),
                None => queues.push((q.clone(), vec![*item])),
            },
        }
    }
    plain.sort_unstable();
    for (_, m) in &mut queues {
        m.sort_unstable();
    }
    queues.sort();
    (plain, queues)
}

struct Lists {
    plain: Sublist<u8>,
    shared: SharedSublist<u8>,
    /// Shares every result with at least 2 subscriptions between the caches.
    shared_l2: SharedSublist<u8>,
    caches: Vec<MatchCache<u8>>,
    model: Vec<Entry>,
}

fn run_script(u: &mut Reader<'_>) {
    let mut l = Lists {
        plain: Sublist::new(),
        shared: SharedSublist::new(),
        shared_l2: SharedSublist::with_shared_results(2),
        caches: vec![
            MatchCache::new(),
            MatchCache::with_max_entries(2),
            MatchCache::new(),
            MatchCache::with_max_entries(3),
        ],
        model: Vec::new(),
    };
    while !u.is_empty() {
        match u.u8() % 4 {
            0 => {
                let a = gen_subject(u);
                let b = gen_subject(u);
                check_pair(&a, &b);
            }
            1 => {
                let s = gen_subject(u);
                let q = gen_queue(u);
                let item = u.u8() % 8;
                let want = if !model_valid(&s) {
                    Err(SublistError::InvalidSubject)
                } else if q.as_deref().is_some_and(|q| !model_valid_queue(q)) {
                    Err(SublistError::InvalidQueue)
                } else {
                    Ok(())
                };
                let got = l.plain.insert(&s, q.as_deref(), item);
                assert_eq!(got, want, "Sublist::insert({s:?}, {q:?})");
                assert_eq!(l.shared.insert(&s, q.as_deref(), item), want);
                assert_eq!(l.shared_l2.insert(&s, q.as_deref(), item), want);
                let e = (s, q, item);
                if want.is_ok() && !l.model.contains(&e) {
                    l.model.push(e);
                }
            }
            2 => {
                let e: Entry = if !l.model.is_empty() && u.bool() {
                    let i = usize::from(u.u8()) % l.model.len();
                    l.model[i].clone()
                } else {
                    (gen_subject(u), gen_queue(u), u.u8() % 8)
                };
                let pos = l.model.iter().position(|m| *m == e);
                let (s, q, item) = &e;
                let want = pos.is_some();
                assert_eq!(
                    l.plain.remove(s, q.as_deref(), item),
                    want,
                    "Sublist::remove({s:?}, {q:?}, {item})"
                );
                assert_eq!(l.shared.remove(s, q.as_deref(), item), want);
                assert_eq!(
                    l.shared_l2
                        .remove_batch([(&s[..], q.as_deref(), item)].into_iter()),
                    usize::from(want)
                );
                if let Some(i) = pos {
                    l.model.swap_remove(i);
                }
            }
            _ => {
                let s = gen_subject(u);
                let want = model_result(&l.model, &s);
                let got = normalize(&l.plain.matches(&s));
                assert_eq!(got, want, "Sublist::matches({s:?})");
                assert_eq!(l.plain.has_interest(&s), want != Normal::default());
                assert_eq!(normalize(&l.shared.matches(&s)), want);
                assert_eq!(l.shared.has_interest(&s), want != Normal::default());
                assert_eq!(normalize(&l.shared_l2.matches(&s)), want);
                let (a, b) = l.caches.split_at_mut(2);
                for c in a {
                    assert_eq!(normalize(&c.matches(&l.shared, &s)), want, "MatchCache");
                    assert_eq!(normalize(c.matches_ref(&l.shared, &s)), want, "MatchCache");
                }
                for c in b {
                    assert_eq!(normalize(c.matches_ref(&l.shared_l2, &s)), want, "L2");
                    assert_eq!(normalize(&c.matches(&l.shared_l2, &s)), want, "L2");
                }
            }
        }
        assert_eq!(l.plain.count(), l.model.len(), "Sublist::count");
        assert_eq!(l.shared.count(), l.model.len(), "SharedSublist::count");
        assert_eq!(l.shared_l2.count(), l.model.len(), "SharedSublist::count");
    }
}

/// The `subjects` target.
pub fn subjects(data: &[u8]) {
    run_script(&mut Reader::new(data));
}
