//! The whole publish→deliver path through `Server` and `Connection`: a publisher's PUBs
//! arrive in 64 KiB reads, are parsed, matched (per-connection cache) and encoded into the
//! subscribers' outbound queues, which their writers then drain with `poll_write`.
//!
//! After each benchmark, the heap allocations per message in the steady state are counted
//! (a counting global allocator, this thread only) and printed; `tests/allocations.rs`
//! asserts they are zero.

#[allow(dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Instant;
use support::counting_alloc::{count_allocations, CountingAlloc};
use support::pubsub::{Headers, PubSub, Scenario};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Messages published before counting allocations (fills caches, grows buffers).
const WARM_UP: usize = 10_000;
/// Messages over which allocations are counted.
const COUNTED: usize = 10_000;

fn publish_deliver(c: &mut Criterion) {
    let mut group = c.benchmark_group("publish_deliver");
    let cases = [
        ("1to1_16B", 1, 16, Headers::None),
        ("1to4_16B", 4, 16, Headers::None),
        ("1to1_16B_headers", 1, 16, Headers::Kept),
        ("1to1_1KiB", 1, 1024, Headers::None),
        ("1to1_16KiB", 1, 16 * 1024, Headers::None),
        ("1to4_16KiB", 4, 16 * 1024, Headers::None),
    ];
    let mut allocations = Vec::new();
    for (name, subscribers, payload, headers) in cases {
        let scenario = Scenario {
            subscribers,
            payload,
            headers,
        };
        let mut sim = PubSub::new(scenario);
        group.throughput(Throughput::ElementsAndBytes {
            elements: 1,
            bytes: payload as u64,
        });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let delivered = sim.run(iters as usize);
                let elapsed = start.elapsed();
                assert_eq!(delivered, iters * subscribers as u64);
                elapsed
            })
        });
        sim.run(WARM_UP);
        let (_, n) = count_allocations(|| sim.run(COUNTED));
        allocations.push((name, n));
    }
    group.finish();
    for (name, n) in allocations {
        println!(
            "publish_deliver/{name}: {n} heap allocations in {COUNTED} messages ({:.4} per message)",
            n as f64 / COUNTED as f64
        );
    }
}

criterion_group!(benches, publish_deliver);
criterion_main!(benches);
