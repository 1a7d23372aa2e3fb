//! nats-server's config file format, parsed into [`Options`] (STUB: API fixed, body to be
//! written). File and environment access go through [`ConfigSource`] so the engine stays
//! free of I/O.

use crate::options::Options;
use crate::prelude::*;
use core::fmt;

/// Where the config parser reads included files and environment variables from.
pub trait ConfigSource {
    /// The text of the file at `path` (relative paths are resolved by the caller against
    /// the directory of the including file, which the parser passes already joined).
    fn read_file(&self, path: &str) -> Result<String, String>;
    /// The value of environment variable `name`.
    fn env_var(&self, name: &str) -> Option<String>;
}

/// A config error with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File the error is in.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Parse the config file at `path` and apply it on top of `opts`.
pub fn load_into(
    opts: &mut Options,
    path: &str,
    source: &dyn ConfigSource,
) -> Result<(), ConfigError> {
    let _ = (opts, path, source);
    unimplemented!()
}
