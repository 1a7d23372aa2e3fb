//! A global allocator that counts, per thread, the allocations made while counting is
//! switched on, and on request prints a backtrace of each one.
//!
//! Counting per thread keeps the figure exact while the test harness runs other tests (or
//! criterion does its bookkeeping) on other threads.
//!
//! Set `RNATS_ALLOC_BACKTRACE=N` to print the backtraces of the first `N` counted
//! allocations (build with debug info, e.g. the default test profile, to get file:line).

use std::alloc::{GlobalAlloc, Layout, System};
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting.
pub struct CountingAlloc;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// Set while a backtrace is being printed: its own allocations are not counted.
    static REPORTING: Cell<bool> = const { Cell::new(false) };
}

/// Counted allocations that still get a printed backtrace.
static BACKTRACES_LEFT: AtomicUsize = AtomicUsize::new(0);

fn record(layout: Layout) {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    if !COUNTING.try_with(Cell::get).unwrap_or(false)
        || REPORTING.try_with(Cell::get).unwrap_or(true)
    {
        return;
    }
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let print = BACKTRACES_LEFT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok();
    if print {
        REPORTING.set(true);
        eprintln!(
            "counted allocation of {} bytes:\n{}",
            layout.size(),
            Backtrace::force_capture()
        );
        REPORTING.set(false);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; `record` only touches const-initialised thread-locals without
// destructors and an atomic (none of which allocate), and while it prints a backtrace the
// `REPORTING` flag makes the nested allocations skip straight to `System`.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout);
        // SAFETY: the caller's guarantees on `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(layout);
        // SAFETY: `ptr` was allocated by `System` (every allocation here is) with `layout`,
        // as the caller guarantees; `new_size` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Run `f` and return its result with the number of allocations (including reallocations)
/// this thread made meanwhile.
pub fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, u64) {
    COUNT.set(0);
    COUNTING.set(true);
    let r = f();
    COUNTING.set(false);
    (r, COUNT.get())
}

/// Print backtraces of the first `RNATS_ALLOC_BACKTRACE` counted allocations.
pub fn backtraces_from_env() {
    if let Some(n) = std::env::var("RNATS_ALLOC_BACKTRACE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        BACKTRACES_LEFT.store(n, Ordering::Relaxed);
    }
}
