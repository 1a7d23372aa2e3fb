//! Clocks: the engine's monotonic [`Instant`] and wall-clock time for logs and monitoring.

use rnats_engine::time::Instant;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

static ORIGIN: OnceLock<std::time::Instant> = OnceLock::new();

/// Now on the engine's monotonic clock (origin: first call in this process).
pub fn now() -> Instant {
    let origin = ORIGIN.get_or_init(std::time::Instant::now);
    Instant::from_duration(origin.elapsed())
}

/// The std instant at which the engine instant `at` falls (for runtime timers).
pub fn to_std(at: Instant) -> std::time::Instant {
    let origin = *ORIGIN.get_or_init(std::time::Instant::now);
    origin + at.since_origin()
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn unix_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}
