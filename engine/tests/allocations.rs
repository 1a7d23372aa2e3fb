//! The publish→deliver path allocates nothing per message once warmed up (caches filled,
//! buffers grown), for fan-out 1 and 4, with and without headers, small and shared
//! (≥ `SHARE_PAYLOAD_AT`) payloads.
//!
//! On failure, rerun with `RNATS_ALLOC_BACKTRACE=5` to see where the allocations are made.

mod support;

use rnats_engine::server::SHARE_PAYLOAD_AT;
use support::counting_alloc::{backtraces_from_env, count_allocations, CountingAlloc};
use support::pubsub::{Headers, PubSub, Scenario};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

const WARM_UP: usize = 10_000;
const MEASURED: usize = 10_000;

fn assert_allocation_free(subscribers: usize, payload: usize, headers: Headers) {
    let scenario = Scenario {
        subscribers,
        payload,
        headers,
    };
    let mut sim = PubSub::new(scenario);
    assert_eq!(sim.run(WARM_UP), (WARM_UP * subscribers) as u64);
    backtraces_from_env();
    let (delivered, allocations) = count_allocations(|| sim.run(MEASURED));
    assert_eq!(delivered, (MEASURED * subscribers) as u64);
    assert_eq!(
        allocations,
        0,
        "{scenario:?}: {allocations} allocations for {MEASURED} messages ({:.3} per message)",
        allocations as f64 / MEASURED as f64
    );
}

#[test]
fn shared_payloads_arrive_intact_across_outbound_blocks() {
    // The control lines around shared payloads fill a 4 KiB block every ~100 messages and
    // move to the other one; nothing may be lost or reordered on the way.
    for (subscribers, headers) in [
        (1, Headers::None),
        (4, Headers::Kept),
        (2, Headers::Stripped),
    ] {
        let mut sim = PubSub::new(Scenario {
            subscribers,
            payload: SHARE_PAYLOAD_AT,
            headers,
        });
        sim.run_checked(500);
    }
}

#[test]
fn the_counting_allocator_counts() {
    let (v, allocations) = count_allocations(|| vec![1u8; 100]);
    assert_eq!(v.len(), 100);
    assert_eq!(allocations, 1);
}

#[test]
fn small_messages_one_to_one() {
    assert_allocation_free(1, 16, Headers::None);
}

#[test]
fn small_messages_fan_out_to_four() {
    assert_allocation_free(4, 16, Headers::None);
}

#[test]
fn small_messages_with_headers() {
    assert_allocation_free(1, 16, Headers::Kept);
    assert_allocation_free(4, 16, Headers::Kept);
}

#[test]
fn small_messages_with_headers_stripped() {
    assert_allocation_free(1, 16, Headers::Stripped);
    assert_allocation_free(4, 16, Headers::Stripped);
}

#[test]
fn shared_payloads_one_to_one() {
    assert_allocation_free(1, SHARE_PAYLOAD_AT, Headers::None);
}

#[test]
fn shared_payloads_fan_out_to_four() {
    assert_allocation_free(4, SHARE_PAYLOAD_AT, Headers::None);
    // Frames longer than a read.
    assert_allocation_free(4, 100 * 1024, Headers::None);
}

#[test]
fn shared_payloads_with_headers() {
    assert_allocation_free(1, SHARE_PAYLOAD_AT, Headers::Kept);
    assert_allocation_free(4, SHARE_PAYLOAD_AT, Headers::Kept);
    assert_allocation_free(4, SHARE_PAYLOAD_AT, Headers::Stripped);
}
