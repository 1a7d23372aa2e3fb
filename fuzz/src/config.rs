//! `config`: the config-file loader on arbitrary text, with includes and environment
//! variables served from memory.
//!
//! The input is split into up to 4 "files" at each line that is exactly `#---`. Part 0 is
//! `fuzz.conf`; an include (or environment variable) whose name ends in the digit `d`
//! reads part `d % parts`, any other name reads part 0 (so `include fuzz.conf` includes
//! itself). Environment variables exist for names starting with `E`. Non-UTF-8 input is
//! converted lossily.
//!
//! Checked: no panic, and (with libFuzzer's `-timeout`) no unbounded work or recursion.
//! A successful load must also be repeatable with the same result.

use rnats_engine::config::{self, ConfigSource};
use rnats_engine::options::Options;
use std::cell::Cell;

/// Most file reads plus environment lookups one load may make. Each costs at most one
/// input's worth of parsing; a few-KiB input needing more than this means includes or
/// variables fan out exponentially (nested includes are capped at depth 32, so a file
/// including itself twice would otherwise mean 2^32 parses).
pub const MAX_READS: usize = 100_000;

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
        name.starts_with('E').then(|| self.part(name).to_string())
    }
}

/// The `config` target.
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts: Vec<String> = text.split("\n#---\n").take(4).map(str::to_string).collect();
    if parts.is_empty() {
        parts.push(String::new());
    }
    let source = Source {
        parts,
        reads: Cell::new(0),
    };
    let mut opts = Options::default();
    let first = config::load_into(&mut opts, "fuzz.conf", &source);
    if first.is_ok() {
        let _ = config::validate(&opts);
        let _ = format!("{opts:?}");
        source.reads.set(0);
        let mut again = Options::default();
        let second = config::load_into(&mut again, "fuzz.conf", &source);
        assert_eq!(first, second, "loading the same config twice differs");
        assert_eq!(opts, again, "loading the same config twice differs");
    } else if let Err(e) = &first {
        let _ = e.to_string();
    }
    source.reads.set(0);
    let mut opts = Options::default();
    let _ = config::load_str(&mut opts, &source.parts[0], "dir/fuzz.conf", &source);
}
