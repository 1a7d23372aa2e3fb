//! Subject validation and matching.
//!
//! A subject is a byte string of tokens separated by `.`. In a subscription subject a
//! token that is exactly `*` matches any single token and a token that is exactly `>`
//! matches one or more trailing tokens (so it must be the last token). A token that merely
//! *contains* `*` or `>` (`foo*`, `>bar`) is an ordinary literal.
//!
//! # What nats-server 2.9.10 accepts (checked against the real server)
//!
//! Probed over a raw socket with `CONNECT {"verbose":true,"pedantic":true}`:
//!
//! * `SUB` (failure: `-ERR 'Invalid Subject'`, the connection stays open). Rejected:
//!   `foo..bar`, `.foo`, `foo.`, `.`, `foo.>.bar`. Accepted: `>`, `*`, `*.>`, `foo.>`,
//!   `foo.*.bar`, and the literals `foo.*bar`, `*foo`, `foo>`, `>foo`, `foo.>bar`, `**`,
//!   `>>`, UTF-8 (`été.café`), invalid UTF-8 (`\xff\xfe`), NUL, `\x0b`, DEL, `$SYS.x`,
//!   `foo/bar`, `foo:bar`, 300-byte tokens.
//! * pedantic `PUB` (failure: `-ERR 'Invalid Publish Subject'`). Rejected: the same
//!   empty-token subjects plus any subject with a wildcard token (`*`, `>`, `foo.*`,
//!   `foo.>`, `*.>`, `foo.*.bar`). Accepted: everything `SUB` accepts that has no wildcard
//!   token. Note that the server only *reports* the error: the message is still routed
//!   (a `SUB foo.*` receives `PUB foo.*`).
//! * Queue group names are not validated at all: `q.a`, `q*`, `*`, `>`, `q.>`, `q..a`,
//!   `.q`, NUL and `\x0b` are all accepted. They are opaque names (no wildcard meaning);
//!   only whitespace is impossible, because the protocol parser splits arguments on it.
//! * A published subject is matched token by token as opaque bytes: `PUB foo.*` reaches
//!   `SUB foo.*` and `SUB foo.>` but not `SUB foo.bar`, and a subject with an empty token
//!   (`foo..bar`, `foo.`, `.foo`) matches nothing, not even `SUB >`.
//!
//! The one deliberate difference: the server's `SUB` path only checks token structure, so a
//! form feed (`\x0c`, the one whitespace byte its argument splitter does not split on) is
//! accepted inside a subscription subject. We reject space, `\t`, `\r`, `\n` and `\x0c`
//! everywhere, like nats-server's own `IsValidSubject` (used for configuration, permissions
//! and imports).

/// Token separator.
pub const TSEP: u8 = b'.';
/// The single-token wildcard `*`.
pub const PWC: u8 = b'*';
/// The trailing wildcard `>`.
pub const FWC: u8 = b'>';

/// Bytes never allowed in a subject or queue name (nats-server's `IsValidSubject` set).
#[inline]
const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
}

#[inline]
fn has_space(token: &[u8]) -> bool {
    token.iter().any(|&b| is_space(b))
}

/// The tokens of `subject` (split on `.`; an empty subject yields one empty token).
#[inline]
pub fn tokens(subject: &[u8]) -> core::slice::Split<'_, u8, fn(&u8) -> bool> {
    fn is_sep(b: &u8) -> bool {
        *b == TSEP
    }
    subject.split(is_sep as fn(&u8) -> bool)
}

/// Whether `token` is the single-token wildcard `*`.
#[inline]
pub fn is_pwc(token: &[u8]) -> bool {
    token == [PWC]
}

/// Whether `token` is the trailing wildcard `>`.
#[inline]
pub fn is_fwc(token: &[u8]) -> bool {
    token == [FWC]
}

/// Valid subscription subject: non-empty tokens separated by `.`, no whitespace, `*` and
/// `>` only as whole tokens, `>` only last.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for t in tokens(subject) {
        if t.is_empty() || seen_fwc || has_space(t) {
            return false;
        }
        seen_fwc = is_fwc(t);
    }
    true
}

/// Valid subject with no wildcard tokens (what pedantic PUB requires).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    tokens(subject).all(|t| !t.is_empty() && !is_pwc(t) && !is_fwc(t) && !has_space(t))
}

/// Whether `subject` has no wildcard token (fast; does not check validity otherwise).
pub fn is_literal(subject: &[u8]) -> bool {
    !tokens(subject).any(|t| is_pwc(t) || is_fwc(t))
}

/// Valid queue group name: non-empty, no whitespace. nats-server puts no other rule on
/// queue names (`.`, `*` and `>` are allowed and carry no meaning).
pub fn is_valid_queue(queue: &[u8]) -> bool {
    !queue.is_empty() && !has_space(queue)
}

/// Whether `subject` has an empty token (or is empty): such a subject matches nothing.
#[inline]
pub(crate) fn has_empty_token(subject: &[u8]) -> bool {
    let mut prev = TSEP;
    for &b in subject {
        if b == TSEP && prev == TSEP {
            return true;
        }
        prev = b;
    }
    prev == TSEP
}

/// Whether the literal `subject` matches `pattern` (which may hold wildcards).
///
/// Tokens of `subject` are compared as opaque bytes, as the sublist does: a `*` token in
/// the subject is matched by a `*` or `>` in the pattern but not by a literal. A subject
/// with an empty token matches nothing; a structurally invalid pattern (empty token, `>`
/// not last) matches nothing. Whitespace is not checked here.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    if pattern.is_empty() || has_empty_token(subject) {
        return false;
    }
    let mut pt = tokens(pattern);
    let mut st = tokens(subject);
    loop {
        match (pt.next(), st.next()) {
            (None, None) => return true,
            (Some(p), Some(s)) => {
                if p.is_empty() {
                    return false;
                }
                if is_fwc(p) {
                    // `>` must be last; it takes `s` and everything after it.
                    return pt.next().is_none();
                }
                if !is_pwc(p) && p != s {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether every subject matched by `subset` is also matched by `pattern`.
///
/// Both are subscription patterns; e.g. `foo.*` ⊂ `foo.>`, `foo.>` ⊄ `foo.*`, `*.b` ⊂ `>`,
/// `foo.bar` ⊂ `foo.*`. Returns `false` when either is not a valid subject (a permission
/// check should never be granted through an invalid pattern).
pub fn is_subset_match(subset: &[u8], pattern: &[u8]) -> bool {
    if !is_valid_subject(subset) || !is_valid_subject(pattern) {
        return false;
    }
    let mut pt = tokens(pattern);
    let mut st = tokens(subset);
    loop {
        match (pt.next(), st.next()) {
            (None, None) => return true,
            // `>` covers one or more tokens, whatever they are (`*`, `>` or literals).
            (Some(p), Some(_)) if is_fwc(p) => return true,
            // `*` covers exactly one token: a literal or `*`, but not `>` (many tokens).
            (Some(p), Some(s)) if is_pwc(p) => {
                if is_fwc(s) {
                    return false;
                }
            }
            // A literal covers only the same literal.
            (Some(p), Some(s)) => {
                if p != s {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether some literal subject is matched by both `a` and `b` (both subscription
/// patterns). Returns `false` when either is not a valid subject.
pub fn subjects_collide(a: &[u8], b: &[u8]) -> bool {
    if !is_valid_subject(a) || !is_valid_subject(b) {
        return false;
    }
    let mut at = tokens(a);
    let mut bt = tokens(b);
    loop {
        match (at.next(), bt.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                if is_fwc(x) || is_fwc(y) {
                    return true;
                }
                if !is_pwc(x) && !is_pwc(y) && x != y {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::prelude::*;

    #[test]
    fn sub_subjects_like_nats_server() {
        // Rejected by nats-server 2.9.10 SUB with -ERR 'Invalid Subject'.
        for s in [
            &b"foo..bar"[..],
            b".foo",
            b"foo.",
            b".",
            b"..",
            b"",
            b"foo.>.bar",
            b">.foo",
            b">.>",
        ] {
            assert!(!is_valid_subject(s), "{:?}", s);
        }
        // Accepted by nats-server 2.9.10 SUB.
        for s in [
            &b"foo"[..],
            b">",
            b"*",
            b"*.>",
            b"foo.>",
            b"foo.*",
            b"foo.*.bar",
            b"*.*.*",
            b"foo.*bar",
            b"*foo",
            b"foo>",
            b">foo",
            b"foo.>bar",
            b"**",
            b">>",
            "été.café".as_bytes(),
            b"\xff\xfe",
            b"foo\x00bar",
            b"foo\x0bbar",
            b"foo\x7fbar",
            b"$SYS.x",
            b"foo/bar",
            b"foo:bar",
            b"FOO.bar",
        ] {
            assert!(is_valid_subject(s), "{:?}", s);
        }
        assert!(is_valid_subject(&[b'a'; 300]));
    }

    #[test]
    fn whitespace_is_invalid() {
        // nats-server's SUB path accepts `\x0c` (it cannot see the others: the parser
        // splits on them); we reject all five like its IsValidSubject does.
        for s in [
            &b"foo bar"[..],
            b"foo\tbar",
            b"foo\rbar",
            b"foo\nbar",
            b"foo\x0cbar",
            b" ",
            b"foo. ",
            b"\t.foo",
        ] {
            assert!(!is_valid_subject(s), "{:?}", s);
            assert!(!is_valid_literal_subject(s), "{:?}", s);
            assert!(!is_valid_queue(s), "{:?}", s);
        }
    }

    #[test]
    fn pedantic_pub_subjects_like_nats_server() {
        // Rejected by pedantic PUB with -ERR 'Invalid Publish Subject'.
        for s in [
            &b"foo..bar"[..],
            b".foo",
            b"foo.",
            b".",
            b"",
            b">",
            b"*",
            b"foo.>",
            b"foo.*",
            b"foo.*.bar",
            b"*.>",
            b"foo.>.bar",
        ] {
            assert!(!is_valid_literal_subject(s), "{:?}", s);
        }
        // Accepted.
        for s in [
            &b"foo"[..],
            b"foo.bar",
            b"foo.*bar",
            b"*foo",
            b"foo>",
            b">foo",
            b"foo.>bar",
            b"**",
            b">>",
            "été.café".as_bytes(),
            b"\xff\xfe",
            b"foo\x00bar",
            b"_INBOX.abc.1",
        ] {
            assert!(is_valid_literal_subject(s), "{:?}", s);
        }
    }

    #[test]
    fn literal_detection() {
        assert!(is_literal(b"foo.bar"));
        assert!(is_literal(b"foo*.b>"));
        assert!(!is_literal(b"foo.*"));
        assert!(!is_literal(b">"));
        assert!(!is_literal(b"a.*.b"));
    }

    #[test]
    fn queue_names_like_nats_server() {
        // nats-server 2.9.10 accepts all of these queue names.
        for q in [
            &b"q"[..],
            b"q.a",
            b"q*",
            b"*",
            b">",
            b"q.>",
            b"q..a",
            b".q",
            "é".as_bytes(),
            b"q\x00",
            b"$q",
            b"q\x0b",
        ] {
            assert!(is_valid_queue(q), "{:?}", q);
        }
        assert!(!is_valid_queue(b""));
        assert!(!is_valid_queue(b"a b"));
    }

    #[test]
    fn matching_rules() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"foo", b"foo"),
            (b"*", b"foo"),
            (b">", b"foo"),
            (b">", b"foo.bar.baz"),
            (b"foo.*", b"foo.bar"),
            (b"foo.>", b"foo.bar"),
            (b"foo.>", b"foo.bar.baz"),
            (b"*.bar", b"foo.bar"),
            (b"*.*", b"a.b"),
            (b"foo.*.baz", b"foo.x.baz"),
            (b"*.>", b"a.b"),
            // Subject tokens are opaque bytes (verified against nats-server).
            (b"foo.*", b"foo.*"),
            (b"foo.>", b"foo.>"),
            (b"*", b"foo*"),
            (b">", b">"),
            (b"*", b">"),
            (b"foo.>", b"foo.bar.>"),
            (b"foo*", b"foo*"),
        ];
        for (p, s) in yes {
            assert!(matches(p, s), "{:?} ~ {:?}", p, s);
        }
        let no: &[(&[u8], &[u8])] = &[
            (b"foo", b"bar"),
            (b"foo", b"foo.bar"),
            (b"foo.bar", b"foo"),
            (b"*", b"foo.bar"),
            (b"foo.>", b"foo"),
            (b"*.>", b"a"),
            (b"foo.*", b"foo"),
            (b"foo.*", b"foo.bar.baz"),
            (b"foo.bar", b"foo.*"),
            (b"foo.bar", b"foo.>"),
            (b"foo*", b"foox"),
            // Empty tokens in the subject match nothing (nats-server delivers nothing).
            (b">", b"foo..bar"),
            (b">", b"foo."),
            (b">", b".foo"),
            (b">", b"."),
            (b">", b""),
            (b"foo.*", b"foo..bar"),
            (b"*.*", b"foo..bar"),
            // Invalid patterns match nothing.
            (b"", b"foo"),
            (b"foo..bar", b"foo..bar"),
            (b"foo.>.bar", b"foo.x.bar"),
            (b">.>", b"a.b"),
        ];
        for (p, s) in no {
            assert!(!matches(p, s), "{:?} !~ {:?}", p, s);
        }
    }

    #[test]
    fn subset_rules() {
        let yes: &[(&[u8], &[u8])] = &[
            (b"foo.*", b"foo.>"),
            (b"*.b", b">"),
            (b">", b">"),
            (b"foo.bar", b"foo.*"),
            (b"foo.bar", b"foo.bar"),
            (b"foo.*", b"*.*"),
            (b"foo.*", b"foo.*"),
            (b"foo.>", b"foo.>"),
            (b"foo.bar.>", b"foo.>"),
            (b"foo.*.>", b"foo.>"),
            (b"foo.*.>", b"*.*.>"),
        ];
        for (a, b) in yes {
            assert!(is_subset_match(a, b), "{:?} ⊂ {:?}", a, b);
        }
        let no: &[(&[u8], &[u8])] = &[
            (b"foo.>", b"foo.*"),
            (b">", b"*"),
            (b">", b"foo.>"),
            (b"foo.*", b"foo.bar"),
            (b"foo", b"foo.>"),
            (b"foo.>", b"foo.*.>"),
            (b"*.*", b"foo.*"),
            (b"foo..bar", b">"),
            (b"foo", b"foo.>.bar"),
        ];
        for (a, b) in no {
            assert!(!is_subset_match(a, b), "{:?} ⊄ {:?}", a, b);
        }
    }

    /// All valid patterns over tokens {a, b, *, >} with up to `max` tokens.
    fn patterns(max: usize) -> Vec<Vec<u8>> {
        let toks: [&[u8]; 4] = [b"a", b"b", b"*", b">"];
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut frontier: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..max {
            let mut next = Vec::new();
            for p in &frontier {
                for t in toks {
                    let mut q = p.clone();
                    if !q.is_empty() {
                        q.push(b'.');
                    }
                    q.extend_from_slice(t);
                    if is_valid_subject(&q) {
                        out.push(q.clone());
                        next.push(q);
                    }
                }
            }
            frontier = next;
        }
        out
    }

    /// All literal subjects over {a, b, z} with up to `max` tokens (`z` never appears in a
    /// pattern, so it stands for "any other token").
    fn universe(max: usize) -> Vec<Vec<u8>> {
        let toks: [&[u8]; 3] = [b"a", b"b", b"z"];
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut frontier: Vec<Vec<u8>> = vec![Vec::new()];
        for _ in 0..max {
            let mut next = Vec::new();
            for p in &frontier {
                for t in toks {
                    let mut q = p.clone();
                    if !q.is_empty() {
                        q.push(b'.');
                    }
                    q.extend_from_slice(t);
                    out.push(q.clone());
                    next.push(q);
                }
            }
            frontier = next;
        }
        out
    }

    /// `matches` against an independent token-list implementation.
    fn naive_match(p: &[&[u8]], s: &[&[u8]]) -> bool {
        match (p.split_first(), s.split_first()) {
            (None, None) => true,
            (Some((pt, _)), Some(_)) if *pt == b">" => true,
            (Some((pt, pr)), Some((st, sr))) => (*pt == b"*" || pt == st) && naive_match(pr, sr),
            _ => false,
        }
    }

    #[test]
    fn subset_and_collide_brute_force() {
        // Patterns have at most 3 tokens, so subjects of up to 4 tokens over an alphabet
        // with one extra letter are enough to witness every difference.
        let pats = patterns(3);
        let uni = universe(4);
        assert_eq!(pats.len(), 4 + 3 * 4 + 3 * 3 * 4);
        let table: Vec<Vec<bool>> = pats
            .iter()
            .map(|p| {
                let pt: Vec<&[u8]> = tokens(p).collect();
                uni.iter()
                    .map(|s| {
                        let m = matches(p, s);
                        let st: Vec<&[u8]> = tokens(s).collect();
                        assert_eq!(m, naive_match(&pt, &st), "{:?} {:?}", p, s);
                        m
                    })
                    .collect()
            })
            .collect();
        for (i, a) in pats.iter().enumerate() {
            for (j, b) in pats.iter().enumerate() {
                let subset = table[i].iter().zip(&table[j]).all(|(x, y)| !x || *y);
                assert_eq!(is_subset_match(a, b), subset, "{:?} ⊂ {:?}", a, b);
                let collide = table[i].iter().zip(&table[j]).any(|(x, y)| *x && *y);
                assert_eq!(subjects_collide(a, b), collide, "{:?} ∩ {:?}", a, b);
            }
        }
    }

    #[test]
    fn empty_token_detection() {
        for s in [&b""[..], b".", b"..", b".a", b"a.", b"a..b"] {
            assert!(has_empty_token(s), "{:?}", s);
        }
        for s in [&b"a"[..], b"a.b", b"*.>", b"a.b.c"] {
            assert!(!has_empty_token(s), "{:?}", s);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(p in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24),
                        s in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..24)) {
            let _ = is_valid_subject(&p);
            let _ = is_valid_literal_subject(&p);
            let _ = is_valid_queue(&p);
            let _ = matches(&p, &s);
            let _ = is_subset_match(&p, &s);
            let _ = subjects_collide(&p, &s);
            if is_valid_literal_subject(&s) {
                proptest::prop_assert!(is_valid_subject(&s));
                proptest::prop_assert!(matches(&s, &s));
                proptest::prop_assert!(matches(b">", &s));
            }
            if is_valid_subject(&p) {
                proptest::prop_assert!(is_subset_match(&p, &p));
                proptest::prop_assert!(is_subset_match(&p, b">"));
            }
        }
    }
}
