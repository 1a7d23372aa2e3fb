//! A progress bar on stderr for runs that take more than a moment. It is drawn by its own
//! thread from a shared counter, so the hot loops only do a relaxed atomic store.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_millis(500);
const REDRAW_EVERY: Duration = Duration::from_millis(200);
const WIDTH: usize = 30;

/// Draws `done / total` on stderr until dropped (only when stderr is a terminal).
pub struct Progress {
    done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    drawer: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar labelled `label` counting up to `total` `unit`s.
    pub fn new(label: String, total: u64, unit: &'static str, enabled: bool) -> Progress {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let drawer = (enabled && std::io::stderr().is_terminal()).then(|| {
            let done = done.clone();
            let stop = stop.clone();
            std::thread::spawn(move || draw_loop(&label, total, unit, &done, &stop))
        });
        Progress { done, stop, drawer }
    }

    /// The counter the workers add to.
    pub fn counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(d) = self.drawer.take() {
            d.thread().unpark();
            let _ = d.join();
        }
    }
}

fn draw_loop(label: &str, total: u64, unit: &str, done: &AtomicU64, stop: &AtomicBool) {
    let started = Instant::now();
    let mut drawn = false;
    while !stop.load(Ordering::Relaxed) {
        // Woken early by `Drop`, so a finished run does not wait for the next redraw.
        std::thread::park_timeout(REDRAW_EVERY);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let elapsed = started.elapsed();
        if elapsed < SHOW_AFTER {
            continue;
        }
        let n = done.load(Ordering::Relaxed).min(total);
        let frac = if total == 0 {
            1.0
        } else {
            n as f64 / total as f64
        };
        let filled = (frac * WIDTH as f64) as usize;
        let rate = n as f64 / elapsed.as_secs_f64();
        eprint!(
            "\r{label:<14} [{}{}] {:>5.1}% {}/{} {unit} {}/s   ",
            "#".repeat(filled),
            "-".repeat(WIDTH - filled),
            frac * 100.0,
            crate::report::si(n as f64),
            crate::report::si(total as f64),
            crate::report::si(rate),
        );
        let _ = std::io::stderr().flush();
        drawn = true;
    }
    if drawn {
        eprint!("\r{}\r", " ".repeat(100));
    }
}
