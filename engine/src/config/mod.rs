//! nats-server's config file format, parsed into [`Options`]. File and environment access
//! go through [`ConfigSource`] so the engine stays free of I/O.
//!
//! The lexer and parser are ports of nats-server 2.9's `conf` package (same syntax, same
//! quirks, same error texts); the mapping onto [`Options`] follows its `server/opts.go`.
//!
//! # Syntax
//!
//! * `key: value`, `key = value` and `key value`; keys are case-insensitive for nats-server
//!   options, quoted keys (`"key"`, `'key'`) are allowed;
//! * entries end at a newline, `;` or `,`; comments start with `#` or `//`;
//! * maps `{ ... }` (the whole file may be wrapped in braces), arrays `[ ... ]` with `,` or
//!   newlines between values;
//! * strings: bare, `'raw'`, `"with \t \n \r \" \\ \xHH escapes"`, and blocks `(` ... `)`
//!   (the `)` alone at the start of a line);
//! * integers with size suffixes: `k`/`m`/`g`/`t`/`p`/`e` are powers of 1000, `kb`/`ki`/`kib`
//!   (any case) powers of 1024; floats; booleans `true`/`false`/`yes`/`no`/`on`/`off`;
//!   ISO 8601 Zulu datetimes; `1.2.3.4:5` is a string;
//! * `include path` (relative to the including file's directory; nats-server joins even an
//!   absolute path to that directory, and so do we);
//! * `$name` refers to a key defined earlier in the same or an enclosing map, else to the
//!   environment variable `name`, whose text is parsed as a value; undefined is an error.
//!
//! # Differences from nats-server
//!
//! * Unknown keys are errors, as in nats-server 2.9.10 (`unknown field "foo"`), unless
//!   [`Options::strict`] is cleared before loading: then they are
//!   [warnings](WarningKind::UnknownField).
//! * Keys nats-server knows but rnats does not implement (cluster, gateway, leafnodes,
//!   mqtt, `system_account`, operator JWTs, ...) are accepted unchecked and reported as
//!   [`WarningKind::Unsupported`] warnings. So are, inside an account block of `accounts`,
//!   `nkey`, `imports`, `exports`, `jetstream`, `mappings` and `limits` (after the type
//!   checks nats-server makes on them); the account's `users` and `default_permissions`
//!   are applied.
//! * `accounts` and `authorization` are checked against each other (duplicate users,
//!   a single user or a token next to account users) in file order; nats-server walks
//!   them in random order, so which of the two blocks an error names may differ.
//! * nats-server 2.9.10 has no `account` field for the users of `authorization`: they
//!   belong to the global account (it is an unknown field there too).
//! * Negative `ping_interval`/`write_deadline` are errors (nats-server accepts them and
//!   misbehaves); ports outside `-1..=65535` are errors at load time rather than at listen.
//! * Entries are applied in file order (nats-server walks a Go map, in random order).

mod apply;
mod duration;
mod lex;
mod parse;
mod path;
mod pem;

use crate::options::Options;
use crate::prelude::*;
use core::fmt;

pub(crate) use apply::{client_port, go_quote, http_port, load_tls_files};

/// Where the config parser reads included files and environment variables from.
pub trait ConfigSource {
    /// The text of the file at `path` (relative paths are resolved by the caller against
    /// the directory of the including file, which the parser passes already joined).
    ///
    /// To print errors exactly like nats-server, return Go's text for the failure, e.g.
    /// `open x.conf: no such file or directory`.
    fn read_file(&self, path: &str) -> Result<String, String>;
    /// The value of environment variable `name`.
    fn env_var(&self, name: &str) -> Option<String>;
}

/// What kind of [`ConfigError`] this is; it decides the shape of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConfigErrorKind {
    /// The file could not be read: the message is the source's text.
    Io,
    /// The text does not lex or parse: `Parse error on line N: '<message>'`.
    Syntax,
    /// A value is wrong for its key: `<file>:<line>:<column>: <message>`.
    #[default]
    Value,
    /// A message printed as is (undefined variables, errors inside included files, and the
    /// few value errors nats-server reports without a position).
    Other,
}

/// A config error with the place it was found.
///
/// `Display` prints exactly what nats-server prints after `nats-server: ` (all errors, one
/// per line, when there are several).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigError {
    /// File the error is in.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// Column as nats-server reports it: the byte offset from the newline that starts the
    /// line, so 1-based on every line but the first, where it is 0-based (a quirk of its
    /// lexer, kept so messages match). 0 when unknown.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How the error is displayed.
    pub kind: ConfigErrorKind,
    /// Further errors found in the same file (nats-server reports them all).
    pub additional: Vec<ConfigError>,
}

impl ConfigError {
    fn fmt_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ConfigErrorKind::Io | ConfigErrorKind::Other => f.write_str(&self.message),
            ConfigErrorKind::Syntax => {
                write!(f, "Parse error on line {}: '{}'", self.line, self.message)
            }
            ConfigErrorKind::Value => write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            ),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_one(f)?;
        for e in &self.additional {
            f.write_str("\n")?;
            e.fmt_one(f)?;
        }
        Ok(())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

/// Why a [`ConfigWarning`] was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningKind {
    /// A key nats-server does not know either (an error there; see [`Options::strict`]).
    UnknownField,
    /// A key nats-server knows but rnats does not implement yet; it was ignored.
    Unsupported,
    /// A value in a deprecated form that still works (nats-server prints the same warning,
    /// e.g. `ping_interval` given as plain seconds).
    Deprecated,
}

/// Something in the config file worth telling the user, that did not stop the load.
///
/// `Display` gives `<file>:<line>:<column>: <message>`, nats-server's shape (it prints its
/// own warnings, one per line, on standard error before starting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// File the key is in.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// Column, as in [`ConfigError::column`].
    pub column: usize,
    /// The key, as written.
    pub field: String,
    /// Why.
    pub kind: WarningKind,
    /// What to print.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// What loading produced, for the CLI.
pub(crate) struct Loaded {
    pub warnings: Vec<ConfigWarning>,
    pub http_host_set: bool,
}

/// Parse the config file at `path` and apply it on top of `opts`.
///
/// Warnings are dropped; use [`load`] to get them. On error `opts` is left untouched.
pub fn load_into(
    opts: &mut Options,
    path: &str,
    source: &dyn ConfigSource,
) -> Result<(), ConfigError> {
    load(opts, path, source).map(|_| ())
}

/// Parse the config file at `path`, apply it on top of `opts` and return the warnings.
///
/// Sets [`Options::config_file`]. The monitoring host follows the client host unless the
/// file sets it (`http: host:port`), as in nats-server. On error `opts` is left untouched.
pub fn load(
    opts: &mut Options,
    path: &str,
    source: &dyn ConfigSource,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let loaded = load_inner(opts, path, source)?;
    if !loaded.http_host_set {
        opts.http_host = opts.host.clone();
    }
    Ok(loaded.warnings)
}

/// Like [`load`], for config text that is not in a file; `name` is used in messages and
/// includes are resolved against its directory.
pub fn load_str(
    opts: &mut Options,
    text: &str,
    name: &str,
    source: &dyn ConfigSource,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let map = parse::parse_str(text, name, &path::dir(name), source, 0, &[])?;
    let mut new = opts.clone();
    let outcome = apply::Applier::new(&mut new, source).apply(&map)?;
    if !outcome.http_host_set {
        new.http_host = new.host.clone();
    }
    *opts = new;
    Ok(outcome.warnings)
}

pub(crate) fn load_inner(
    opts: &mut Options,
    path: &str,
    source: &dyn ConfigSource,
) -> Result<Loaded, ConfigError> {
    let map = parse::parse_file(path, source, 0, &[])?;
    let mut new = opts.clone();
    let outcome = apply::Applier::new(&mut new, source).apply(&map)?;
    new.config_file = Some(path.to_string());
    *opts = new;
    Ok(Loaded {
        warnings: outcome.warnings,
        http_host_set: outcome.http_host_set,
    })
}

/// The checks nats-server makes on its options when a server is created (after the config
/// file and the command line), with its messages. `nats-server -t` does not run them.
pub fn validate(opts: &Options) -> Result<(), String> {
    if opts.max_payload != usize::MAX && opts.max_payload > opts.max_pending {
        return Err(format!(
            "max_payload ({}) cannot be higher than max_pending ({})",
            opts.max_payload, opts.max_pending
        ));
    }
    if let Some(name) = &opts.authorization.no_auth_user {
        validate_no_auth_user(opts, name)?;
    }
    if let Some(ws) = opts.websocket.as_ref().filter(|ws| ws.enabled()) {
        validate_websocket(opts, ws)?;
    }
    Ok(())
}

/// nats-server's `validateNoAuthUser`: the user must exist.
fn validate_no_auth_user(opts: &Options, name: &str) -> Result<(), String> {
    // Users of `authorization` and of every account, as nats-server's `Options.Users`.
    let mut users = opts
        .authorization
        .users
        .iter()
        .chain(opts.accounts.iter().flat_map(|a| a.users.iter()))
        .peekable();
    if users.peek().is_none() {
        return Err(format!(
            "no_auth_user: {} present, but users are not defined",
            apply::go_quote(name)
        ));
    }
    if !users.any(|u| u.username == name) {
        return Err(format!(
            "no_auth_user: {} not present as user in authorization block or account configuration",
            apply::go_quote(name)
        ));
    }
    Ok(())
}

/// nats-server's `validateWebsocketOptions`, with its messages.
fn validate_websocket(opts: &Options, ws: &crate::options::WebsocketOptions) -> Result<(), String> {
    if ws.tls.is_none() && !ws.no_tls {
        return Err("websocket requires TLS configuration".to_string());
    }
    for origin in &ws.allowed_origins {
        crate::websocket::parse_origin_url(origin)
            .map_err(|e| format!("unable to parse allowed origin: {e}"))?;
    }
    if let Some(name) = &ws.no_auth_user {
        validate_no_auth_user(opts, name)?;
    }
    let has_users = !opts.authorization.users.is_empty()
        || !opts.authorization.nkey_users.is_empty()
        || opts
            .accounts
            .iter()
            .any(|a| !a.users.is_empty() || !a.nkey_users.is_empty());
    if has_users {
        if ws.username.is_some() {
            return Err(
                "websocket authentication username not compatible with presence of users/nkeys"
                    .to_string(),
            );
        }
        if ws.token.is_some() {
            return Err(
                "websocket authentication token not compatible with presence of users/nkeys"
                    .to_string(),
            );
        }
    }
    if let Some(cookie) = &ws.jwt_cookie {
        // rnats has no trusted operators or keys, so this always fails, as it would in
        // nats-server without them.
        return Err(format!(
            "trusted operators or trusted keys configuration is required for JWT authentication via cookie {}",
            apply::go_quote(cookie)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
