//! Sublist matching with 10,000 subscriptions: the bare trie walk (`Sublist::match_into`),
//! and the per-connection `MatchCache` over a `SharedSublist` on a hit and on a miss.
//!
//! * literal: 10,000 subscriptions `lit.<i>.x`; publish to one of them (1 match).
//! * wildcards: 2,500 each of `w.<i>.c`, `w.*.c<i>`, `*.<i>.c` and `w.<i>.>`; publish to
//!   `w.<i>.c` (3 matches: the literal, `*.<i>.c` and `w.<i>.>`).
//! * cache miss: 100,000 distinct subjects `w.<i>.c.<k>` (1 match each, `w.<i>.>`) in
//!   turn, far more than the cache holds: every lookup walks the trie, builds the result
//!   and stores it (evicting when full), as a publisher spraying subjects does.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnats_engine::sublist::{MatchCache, SharedSublist, Sublist, SublistResult};
use std::hint::black_box;

const SUBS: u32 = 10_000;
const MISS_SUBJECTS: u32 = 100_000;

fn literal_subjects() -> Vec<(String, u32)> {
    (0..SUBS).map(|i| (format!("lit.{i}.x"), i)).collect()
}

fn wildcard_subjects() -> Vec<(String, u32)> {
    (0..SUBS / 4)
        .flat_map(|i| {
            [
                (format!("w.{i}.c"), 4 * i),
                (format!("w.*.c{i}"), 4 * i + 1),
                (format!("*.{i}.c"), 4 * i + 2),
                (format!("w.{i}.>"), 4 * i + 3),
            ]
        })
        .collect()
}

fn trie(subs: &[(String, u32)]) -> Sublist<u32> {
    let mut sl = Sublist::new();
    for (s, i) in subs {
        sl.insert(s.as_bytes(), None, *i).unwrap();
    }
    sl
}

fn shared(subs: &[(String, u32)]) -> SharedSublist<u32> {
    let sl = SharedSublist::new();
    for (s, i) in subs {
        sl.insert(s.as_bytes(), None, *i).unwrap();
    }
    sl
}

fn sublist(c: &mut Criterion) {
    let mut group = c.benchmark_group("sublist");
    group.throughput(Throughput::Elements(1));
    let cases = [
        ("literal_10k", literal_subjects(), "lit.5000.x", 1),
        ("wildcards_10k", wildcard_subjects(), "w.1234.c", 3),
    ];
    for (name, subs, subject, expected) in &cases {
        let subject = subject.as_bytes();
        let sl = trie(subs);
        let mut result = SublistResult::default();
        sl.match_into(subject, &mut result);
        assert_eq!(result.len(), *expected);
        group.bench_function(format!("trie_walk/{name}"), |b| {
            b.iter(|| {
                sl.match_into(black_box(subject), &mut result);
                result.plain.len()
            })
        });

        let sl = shared(subs);
        let mut cache = MatchCache::new();
        assert_eq!(cache.matches_ref(&sl, subject).len(), *expected);
        group.bench_function(format!("cache_hit/{name}"), |b| {
            b.iter(|| cache.matches_ref(&sl, black_box(subject)).plain.len())
        });
    }

    let sl = shared(&cases[1].1);
    let subjects: Vec<Vec<u8>> = (0..MISS_SUBJECTS)
        .map(|k| format!("w.{}.c.{k}", k % (SUBS / 4)).into_bytes())
        .collect();
    let mut cache = MatchCache::new();
    let mut next = 0;
    group.bench_function("cache_miss/wildcards_10k", |b| {
        b.iter(|| {
            let subject = &subjects[next];
            next = (next + 1) % subjects.len();
            cache.matches_ref(&sl, black_box(subject)).plain.len()
        })
    });
    // Eviction drops about half of the entries at a time, so a rare subject survives a
    // whole cycle; nearly every lookup must still be a miss.
    assert!(
        cache.hits() * 100 < cache.misses(),
        "miss benchmark: {} hits, {} misses",
        cache.hits(),
        cache.misses()
    );
    group.finish();
}

criterion_group!(benches, sublist);
criterion_main!(benches);
