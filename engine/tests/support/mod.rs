//! Helpers shared by integration tests and benchmarks (`#[path]`-included by the latter).

pub mod counting_alloc;
pub mod pubsub;
