//! `config`: the config-file loader on arbitrary text, with includes and environment
//! variables served from memory.
//!
//! The input is split into up to 4 "files" at each line that is exactly `#---`. Part 0 is
//! `fuzz.conf`; an include whose name ends in the digit `d` reads part `d % parts`, any
//! other name reads part 0 (so `include fuzz.conf` includes itself); a name ending in
//! `.missing` does not exist. Environment variables exist for names starting with `E`:
//! the first line of the part chosen the same way. Non-UTF-8 input is converted lossily.
//!
//! Each input is loaded with `strict` (the default: unknown keys are errors) and twice
//! without it (unknown keys are warnings, so loading goes on into the rest of the file);
//! the two non-strict loads must agree. Checked: no panic, and no unbounded work: see
//! [`MAX_READS`] (and libFuzzer's `-timeout`).

use rnats_engine::config::{self, ConfigSource};
use rnats_engine::options::Options;
use std::cell::Cell;

/// Most file reads plus environment lookups one load may make. Include recursion is cut
/// at depth 32 and a failing nested include aborts the whole load, so a file that
/// includes itself costs 33 reads. The largest legitimate count from one input is a
/// 4-file include DAG (part 0 includes part 1 N times, which includes part 2 N times,
/// ...): N³ with N ≤ ~70 in 4 KiB, about 350 000. More than this means fan-out the
/// depth cap does not bound.
pub const MAX_READS: usize = 1_000_000;

struct Source {
    parts: Vec<String>,
    reads: Cell<usize>,
}

impl Source {
    fn count(&self, what: &str) {
        let n = self.reads.get() + 1;
        self.reads.set(n);
        assert!(n <= MAX_READS, "more than {MAX_READS} {what} for one load");
    }

    fn part(&self, name: &str) -> &str {
        let i = name
            .bytes()
            .last()
            .filter(u8::is_ascii_digit)
            .map_or(0, |d| usize::from(d - b'0') % self.parts.len());
        &self.parts[i]
    }
}

impl ConfigSource for Source {
    fn read_file(&self, path: &str) -> Result<String, String> {
        self.count("file reads (include fan-out)");
        if path.ends_with(".missing") {
            return Err(format!("open {path}: no such file or directory"));
        }
        Ok(self.part(path).to_string())
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.count("environment lookups (variable fan-out)");
        name.starts_with('E')
            .then(|| self.part(name).lines().next().unwrap_or("").to_string())
    }
}

fn load(source: &Source, strict: bool) -> (Result<(), config::ConfigError>, Options) {
    source.reads.set(0);
    let mut opts = Options {
        strict,
        ..Options::default()
    };
    let r = config::load_into(&mut opts, "fuzz.conf", source);
    if crate::tracing() {
        eprintln!(
            "load_into (strict: {strict}): {r:?}\nreads: {}",
            source.reads.get()
        );
    }
    match &r {
        Ok(()) => {
            let _ = config::validate(&opts);
            let _ = format!("{opts:?}");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    (r, opts)
}

/// The `config` target.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<String> = text.split("\n#---\n").take(4).map(str::to_string).collect();
    let source = Source {
        parts,
        reads: Cell::new(0),
    };
    let _ = load(&source, true);
    let first = load(&source, false);
    let second = load(&source, false);
    assert_eq!(first, second, "loading the same config twice differs");
    source.reads.set(0);
    let mut opts = Options::default();
    let _ = config::load_str(&mut opts, &source.parts[0], "dir/fuzz.conf", &source);
}
