//! nats-server's command line (STUB: API fixed, body to be written).

use crate::config::{ConfigError, ConfigSource};
use crate::options::Options;
use crate::prelude::*;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum CliAction {
    /// Run a server with these options.
    Run(Options),
    /// Print the version and exit (`-v`).
    Version,
    /// Print the usage text and exit (`-h`).
    Help,
}

/// A bad command line.
#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// An unknown flag, a missing or bad value.
    Usage(String),
    /// The config file named by `-c` is bad.
    Config(ConfigError),
}

/// Parse `args` (without the program name); a `-c` file is read through `source`, and flags
/// override what it sets.
pub fn parse_args(args: &[String], source: &dyn ConfigSource) -> Result<CliAction, CliError> {
    let _ = (args, source);
    unimplemented!()
}
