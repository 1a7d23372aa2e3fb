//! # rnats-host
//!
//! Everything native frontends share, with no async runtime in it: reading config files
//! and environment variables for the engine's config parser, the monotonic and wall
//! clocks, entropy for the server id, the logger and the pid file; and the server's
//! loops (accept, signals, lame duck, shutdown, one client's read and write loops, the
//! monitoring listener), written once against the [`runtime::Runtime`] trait over
//! `futures_io` sockets. A frontend implements that trait for its runtime (timers, task
//! spawning, socket registration, signal delivery) and calls [`serve::run`].
#![warn(missing_docs)]

pub mod client;
pub mod clock;
pub mod logger;
pub mod monitor;
pub mod runtime;
pub mod serve;
pub mod startup;
pub mod tls;

use rnats_engine::config::ConfigSource;

/// Reads config files from the file system and variables from the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdConfigSource;

impl ConfigSource for StdConfigSource {
    fn read_file(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| go_open_error(path, &e))
    }

    fn env_var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A read error worded as Go's `os.ReadFile` words it (nats-server prints those): opening a
/// directory succeeds there, reading it fails.
fn go_open_error(path: &str, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => return format!("read {path}: is a directory"),
        _ => e.to_string(),
    };
    format!("open {path}: {what}")
}

/// Entropy for the server id and queue member choice.
pub fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(clock::unix_nanos() as u128);
    h.write_u32(std::process::id());
    h.finish()
}

/// This process's resource use for `/varz` (`mem`, `cpu`, `cores`), read from `/proc`.
pub fn process_stats() -> rnats_engine::monitor::HostStats {
    let rss_pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let cpu_seconds = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are 14 and 15.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0);
    rnats_engine::monitor::HostStats {
        mem_bytes: rss_pages * 4096,
        cpu_seconds,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}
