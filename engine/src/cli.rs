//! nats-server's command line.
//!
//! Flags are parsed the way Go's `flag` package (which nats-server uses) parses them:
//! `-flag` and `--flag` are the same; values go as `-flag=value` or `-flag value` (a value
//! may start with `-`, so `-p -1` works); boolean flags take no separate value (`-T=false`,
//! not `-T false`); `--` or the first non-flag argument ends the flags. Combined letters
//! are not a thing: `-DV`, `-VV` and `-DVV` are flags of their own, `-VD` is unknown.
//!
//! The config file (`-c`) is loaded first and the flags given on the command line override
//! it, whatever their order; `-DV`, `-DVV` and `-VV` are applied last.

use crate::config::{self, ConfigError, ConfigSource, ConfigWarning};
use crate::options::{Options, TlsOptions};
use crate::prelude::*;
use core::fmt;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum CliAction {
    /// Run a server with these options.
    Run(Options),
    /// `-t`: the config file is valid; nats-server prints
    /// `nats-server: configuration file <file> is valid` on standard error and exits 0.
    TestConfig(Options),
    /// Print the version and exit (`-v`, `--version`, or the word `version`).
    Version,
    /// Print the usage text and exit (`-h`, `--help`, or the word `help`).
    Help,
    /// Print the TLS help ([`tls_usage`]) and exit (`--help_tls`).
    HelpTls,
    /// `-sl <command>[=<pid>]`: signal a running server and exit.
    Signal {
        /// What to tell the server.
        command: SignalCommand,
        /// A pid, or the path of a pid file; `None` means "the one nats-server process
        /// running" (nats-server fails when there are none or several).
        pid: Option<String>,
    },
}

/// The commands `-sl`/`--signal` accepts, with the Unix signals nats-server sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalCommand {
    /// `stop`: SIGKILL.
    Stop,
    /// `quit`: SIGINT.
    Quit,
    /// `reopen` (log file): SIGUSR1.
    Reopen,
    /// `reload` (config): SIGHUP.
    Reload,
    /// `ldm` (lame duck mode): SIGUSR2.
    LameDuckMode,
    /// `term`: SIGTERM.
    Term,
}

impl SignalCommand {
    /// The command by its `-sl` name.
    pub fn from_name(name: &str) -> Option<SignalCommand> {
        Some(match name {
            "stop" => SignalCommand::Stop,
            "quit" => SignalCommand::Quit,
            "reopen" => SignalCommand::Reopen,
            "reload" => SignalCommand::Reload,
            "ldm" => SignalCommand::LameDuckMode,
            "term" => SignalCommand::Term,
            _ => return None,
        })
    }

    /// The `-sl` name.
    pub fn name(self) -> &'static str {
        match self {
            SignalCommand::Stop => "stop",
            SignalCommand::Quit => "quit",
            SignalCommand::Reopen => "reopen",
            SignalCommand::Reload => "reload",
            SignalCommand::LameDuckMode => "ldm",
            SignalCommand::Term => "term",
        }
    }

    /// The name of the Unix signal nats-server sends for it.
    pub fn unix_signal(self) -> &'static str {
        match self {
            SignalCommand::Stop => "SIGKILL",
            SignalCommand::Quit => "SIGINT",
            SignalCommand::Reopen => "SIGUSR1",
            SignalCommand::Reload => "SIGHUP",
            SignalCommand::LameDuckMode => "SIGUSR2",
            SignalCommand::Term => "SIGTERM",
        }
    }
}

/// A bad command line.
#[derive(Debug, Clone, PartialEq)]
pub enum CliError {
    /// An unknown flag, a missing or bad value: Go's `flag` message, e.g.
    /// `flag provided but not defined: -foo`. nats-server prints it alone on standard error,
    /// then the usage on standard output, and exits with status 0 (sic).
    Usage(String),
    /// The config file named by `-c` is bad. nats-server prints `nats-server: <error>` on
    /// standard error and exits 1.
    Config(ConfigError),
    /// Anything else nats-server rejects (an unknown command word, `-t` without `-c`, a bad
    /// `-sl`, options that fail [`config::validate`]). nats-server prints
    /// `nats-server: <message>` on standard error and exits 1.
    Invalid(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Invalid(m) => f.write_str(m),
            CliError::Config(e) => e.fmt(f),
        }
    }
}

/// Everything [`parse_command_line`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Cli {
    /// What to do.
    pub action: CliAction,
    /// Warnings from the config file (nats-server prints its own on standard error, one per
    /// line, before starting).
    pub config_warnings: Vec<ConfigWarning>,
    /// Flags that were accepted but have no effect in rnats (TLS, cluster, syslog, ...), as
    /// given (e.g. `--tls`).
    pub ignored_flags: Vec<String>,
}

/// nats-server's `overrideTLS`: any of the `--tls*` flags replaces the config file's
/// certificates with the flags' (`--tlscert` and `--tlskey` are then required; the
/// config's `timeout` stays). The files are read and checked as for a `tls` block.
fn override_tls(
    given: &[Given],
    opts: &mut Options,
    source: &dyn ConfigSource,
) -> Result<(), CliError> {
    let is_tls = |t: &Target| {
        matches!(
            t,
            Target::Tls | Target::TlsVerify | Target::TlsCert | Target::TlsKey | Target::TlsCaCert
        )
    };
    if !given.iter().any(|g| is_tls(&g.target)) {
        return Ok(());
    }
    let last = |t: Target| given.iter().rev().find(|g| g.target == t).map(|g| &g.val);
    let file = |t: Target| match last(t) {
        Some(Val::Str(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let Some(cert_file) = file(Target::TlsCert) else {
        return Err(CliError::Invalid(
            "TLS Server certificate must be present and valid".to_string(),
        ));
    };
    let Some(key_file) = file(Target::TlsKey) else {
        return Err(CliError::Invalid(
            "TLS Server private key must be present and valid".to_string(),
        ));
    };
    let mut tls = TlsOptions {
        cert_file: Some(cert_file),
        key_file: Some(key_file),
        ca_file: file(Target::TlsCaCert),
        verify: matches!(last(Target::TlsVerify), Some(Val::Bool(true))),
        timeout: opts.tls.as_ref().and_then(|t| t.timeout),
        ..TlsOptions::default()
    };
    config::load_tls_files(&mut tls, source).map_err(CliError::Invalid)?;
    opts.tls = Some(tls);
    Ok(())
}

/// Parse `args` (without the program name); a `-c` file is read through `source`, and flags
/// override what it sets.
pub fn parse_args(args: &[String], source: &dyn ConfigSource) -> Result<CliAction, CliError> {
    parse_command_line(args, source).map(|cli| cli.action)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Int,
    Str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Help,
    Version,
    HelpTls,
    Port,
    ServerName,
    Host,
    Debug,
    Trace,
    DebugTrace,
    DebugTraceVerbose,
    TraceVerbose,
    Logtime,
    User,
    Pass,
    Auth,
    HttpPort,
    Config,
    Test,
    Signal,
    PidFile,
    PortsFileDir,
    LogFile,
    LogSizeLimit,
    MaxTracedMsgLen,
    JetStream,
    StoreDir,
    Tls,
    TlsVerify,
    TlsCert,
    TlsKey,
    TlsCaCert,
    /// Accepted, checked for type, no effect.
    Ignored,
}

/// nats-server 2.9.10's flags.
const FLAGS: &[(&str, Kind, Target)] = &[
    ("h", Kind::Bool, Target::Help),
    ("help", Kind::Bool, Target::Help),
    ("port", Kind::Int, Target::Port),
    ("p", Kind::Int, Target::Port),
    ("n", Kind::Str, Target::ServerName),
    ("name", Kind::Str, Target::ServerName),
    ("server_name", Kind::Str, Target::ServerName),
    ("addr", Kind::Str, Target::Host),
    ("a", Kind::Str, Target::Host),
    ("net", Kind::Str, Target::Host),
    ("client_advertise", Kind::Str, Target::Ignored),
    ("D", Kind::Bool, Target::Debug),
    ("debug", Kind::Bool, Target::Debug),
    ("V", Kind::Bool, Target::Trace),
    ("VV", Kind::Bool, Target::TraceVerbose),
    ("trace", Kind::Bool, Target::Trace),
    ("DV", Kind::Bool, Target::DebugTrace),
    ("DVV", Kind::Bool, Target::DebugTraceVerbose),
    ("T", Kind::Bool, Target::Logtime),
    ("logtime", Kind::Bool, Target::Logtime),
    ("user", Kind::Str, Target::User),
    ("pass", Kind::Str, Target::Pass),
    ("auth", Kind::Str, Target::Auth),
    ("m", Kind::Int, Target::HttpPort),
    ("http_port", Kind::Int, Target::HttpPort),
    ("ms", Kind::Int, Target::Ignored),
    ("https_port", Kind::Int, Target::Ignored),
    ("c", Kind::Str, Target::Config),
    ("config", Kind::Str, Target::Config),
    ("t", Kind::Bool, Target::Test),
    ("sl", Kind::Str, Target::Signal),
    ("signal", Kind::Str, Target::Signal),
    ("P", Kind::Str, Target::PidFile),
    ("pid", Kind::Str, Target::PidFile),
    ("ports_file_dir", Kind::Str, Target::PortsFileDir),
    ("l", Kind::Str, Target::LogFile),
    ("log", Kind::Str, Target::LogFile),
    ("log_size_limit", Kind::Int, Target::LogSizeLimit),
    ("s", Kind::Bool, Target::Ignored),
    ("syslog", Kind::Bool, Target::Ignored),
    ("r", Kind::Str, Target::Ignored),
    ("remote_syslog", Kind::Str, Target::Ignored),
    ("version", Kind::Bool, Target::Version),
    ("v", Kind::Bool, Target::Version),
    ("profile", Kind::Int, Target::Ignored),
    ("routes", Kind::Str, Target::Ignored),
    ("cluster", Kind::Str, Target::Ignored),
    ("cluster_listen", Kind::Str, Target::Ignored),
    ("cluster_advertise", Kind::Str, Target::Ignored),
    ("no_advertise", Kind::Bool, Target::Ignored),
    ("connect_retries", Kind::Int, Target::Ignored),
    ("cluster_name", Kind::Str, Target::Ignored),
    ("help_tls", Kind::Bool, Target::HelpTls),
    ("tls", Kind::Bool, Target::Tls),
    ("tlsverify", Kind::Bool, Target::TlsVerify),
    ("tlscert", Kind::Str, Target::TlsCert),
    ("tlskey", Kind::Str, Target::TlsKey),
    ("tlscacert", Kind::Str, Target::TlsCaCert),
    ("max_traced_msg_len", Kind::Int, Target::MaxTracedMsgLen),
    ("js", Kind::Bool, Target::JetStream),
    ("jetstream", Kind::Bool, Target::JetStream),
    ("sd", Kind::Str, Target::StoreDir),
    ("store_dir", Kind::Str, Target::StoreDir),
];

#[derive(Debug, Clone, PartialEq)]
enum Val {
    Bool(bool),
    Int(i64),
    Str(String),
}

struct Given {
    name: String,
    target: Target,
    val: Val,
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, `0x`/`0o`/`0b`/leading-`0` prefixes, `_`
/// between digits. `Err(true)` is a range error.
fn parse_go_int(s: &str) -> Result<i64, bool> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits, prefixed) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d, true)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d, true)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d, true)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..], true)
    } else {
        (10, &lower[..], false)
    };
    if digits.is_empty() {
        return Err(false);
    }
    // Underscores: only between digits (or right after a base prefix).
    let bytes = digits.as_bytes();
    let mut clean = String::with_capacity(digits.len());
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'_' {
            let prev_ok = if i == 0 {
                prefixed
            } else {
                bytes[i - 1] != b'_'
            };
            let next_ok = i + 1 < bytes.len() && bytes[i + 1] != b'_';
            if !(prev_ok && next_ok) {
                return Err(false);
            }
        } else {
            clean.push(b as char);
        }
    }
    if clean.is_empty() {
        return Err(false);
    }
    let magnitude = u64::from_str_radix(&clean, radix).map_err(|e| {
        matches!(
            e.kind(),
            core::num::IntErrorKind::PosOverflow | core::num::IntErrorKind::NegOverflow
        )
    })?;
    if neg {
        if magnitude > 1u64 << 63 {
            return Err(true);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| true)
    }
}

fn opt_str(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Parse `args` (without the program name) like [`parse_args`], keeping the config
/// warnings and the list of ignored flags.
pub fn parse_command_line(args: &[String], source: &dyn ConfigSource) -> Result<Cli, CliError> {
    // 1. Go's flag.Parse.
    let mut given: Vec<Given> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_str();
        if s.len() < 2 || !s.starts_with('-') {
            break;
        }
        let mut minuses = 1;
        if s.as_bytes()[1] == b'-' {
            minuses = 2;
            if s.len() == 2 {
                i += 1;
                break;
            }
        }
        let name = &s[minuses..];
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(CliError::Usage(format!("bad flag syntax: {s}")));
        }
        i += 1;
        // `=` cannot be first; it is ASCII, so slicing around it is safe.
        let (name, value) = match name.bytes().skip(1).position(|b| b == b'=') {
            Some(j) => (&name[..j + 1], Some(&name[j + 2..])),
            None => (name, None),
        };
        let Some(&(_, kind, target)) = FLAGS.iter().find(|(n, _, _)| *n == name) else {
            return Err(CliError::Usage(format!(
                "flag provided but not defined: -{name}"
            )));
        };
        let val = match kind {
            Kind::Bool => match value {
                None => Val::Bool(true),
                Some(v) => match parse_bool(v) {
                    Some(b) => Val::Bool(b),
                    None => {
                        return Err(CliError::Usage(format!(
                            "invalid boolean value {} for -{name}: parse error",
                            config::go_quote(v)
                        )))
                    }
                },
            },
            Kind::Int | Kind::Str => {
                let v = match value {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].as_str()
                    }
                    None => {
                        return Err(CliError::Usage(format!("flag needs an argument: -{name}")))
                    }
                };
                if kind == Kind::Str {
                    Val::Str(v.to_string())
                } else {
                    match parse_go_int(v) {
                        Ok(n) => Val::Int(n),
                        Err(range) => {
                            return Err(CliError::Usage(format!(
                                "invalid value {} for flag -{name}: {}",
                                config::go_quote(v),
                                if range {
                                    "value out of range"
                                } else {
                                    "parse error"
                                }
                            )))
                        }
                    }
                }
            }
        };
        // Port values are checked now (nats-server would fail later, when listening).
        if let (Target::Port | Target::HttpPort, Val::Int(n)) = (target, &val) {
            let ok = if target == Target::Port {
                config::client_port(*n).is_ok()
            } else {
                config::http_port(*n).is_ok()
            };
            if !ok {
                return Err(CliError::Usage(format!(
                    "invalid value {} for flag -{name}: value out of range",
                    config::go_quote(&n.to_string())
                )));
            }
        }
        given.push(Given {
            name: name.to_string(),
            target,
            val,
        });
    }
    let positional = &args[i..];

    let last_bool = |t: Target| -> Option<bool> {
        given
            .iter()
            .rev()
            .find(|g| g.target == t)
            .and_then(|g| match g.val {
                Val::Bool(b) => Some(b),
                _ => None,
            })
    };
    let last_str = |t: Target| -> Option<&str> {
        given
            .iter()
            .rev()
            .find(|g| g.target == t)
            .and_then(|g| match &g.val {
                Val::Str(s) => Some(s.as_str()),
                _ => None,
            })
    };
    let done = |action| {
        Ok(Cli {
            action,
            config_warnings: Vec::new(),
            ignored_flags: Vec::new(),
        })
    };

    // 2. Version, help, TLS help, then command words.
    if last_bool(Target::Version) == Some(true) {
        return done(CliAction::Version);
    }
    if last_bool(Target::Help) == Some(true) {
        return done(CliAction::Help);
    }
    if last_bool(Target::HelpTls) == Some(true) {
        return done(CliAction::HelpTls);
    }
    if let Some(word) = positional.first() {
        return match word.to_lowercase().as_str() {
            "version" => done(CliAction::Version),
            "help" => done(CliAction::Help),
            _ => Err(CliError::Invalid(format!(
                "unrecognized command: {}",
                config::go_quote(word)
            ))),
        };
    }

    // 3. Signals.
    if let Some(sig) = last_str(Target::Signal).filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = sig.split('=').collect();
        if parts.len() > 2 {
            return Err(CliError::Invalid(format!(
                "invalid signal parameters: [{}]",
                parts[2..].join(" ")
            )));
        }
        let Some(command) = SignalCommand::from_name(parts[0]) else {
            return Err(CliError::Invalid(format!(
                "unknown signal {}",
                config::go_quote(parts[0])
            )));
        };
        let pid = parts.get(1).map(|p| p.to_string());
        return done(CliAction::Signal { command, pid });
    }

    // 4. The config file, then the flags on top of it.
    let mut opts = Options::default();
    let test = last_bool(Target::Test) == Some(true);
    let mut config_warnings = Vec::new();
    let mut http_host_set = false;
    match last_str(Target::Config).filter(|s| !s.is_empty()) {
        Some(path) => {
            let loaded = config::load_inner(&mut opts, path, source).map_err(CliError::Config)?;
            config_warnings = loaded.warnings;
            http_host_set = loaded.http_host_set;
        }
        None if test => {
            return Err(CliError::Invalid(
                "must specify [-c, --config] option to check configuration file syntax".to_string(),
            ))
        }
        None => {}
    }

    let mut ignored_flags = Vec::new();
    for g in &given {
        match (&g.target, &g.val) {
            (Target::Port, Val::Int(n)) => {
                opts.port = config::client_port(*n).unwrap_or(opts.port);
            }
            (Target::HttpPort, Val::Int(n)) => {
                opts.http_port = config::http_port(*n).unwrap_or(opts.http_port);
            }
            (Target::ServerName, Val::Str(s)) => opts.server_name = opt_str(s),
            (Target::Host, Val::Str(s)) => {
                opts.host = opt_str(s).unwrap_or_else(|| Options::default().host);
            }
            (Target::Debug, Val::Bool(b)) => opts.debug = *b,
            (Target::Trace, Val::Bool(b)) => opts.trace = *b,
            (Target::Logtime, Val::Bool(b)) => opts.logtime = *b,
            (Target::User, Val::Str(s)) => opts.authorization.user = opt_str(s),
            (Target::Pass, Val::Str(s)) => opts.authorization.password = opt_str(s),
            (Target::Auth, Val::Str(s)) => opts.authorization.token = opt_str(s),
            (Target::PidFile, Val::Str(s)) => opts.pid_file = opt_str(s),
            (Target::PortsFileDir, Val::Str(s)) => opts.ports_file_dir = opt_str(s),
            (Target::LogFile, Val::Str(s)) => opts.log_file = opt_str(s),
            (Target::LogSizeLimit, Val::Int(n)) => {
                opts.log_size_limit = u64::try_from(*n).unwrap_or(0);
            }
            (Target::MaxTracedMsgLen, Val::Int(n)) => {
                opts.max_traced_msg_len = usize::try_from(*n).unwrap_or(0);
            }
            (Target::JetStream, Val::Bool(b)) => opts.jetstream = *b,
            (Target::StoreDir, Val::Str(s)) => opts.store_dir = opt_str(s),
            (Target::Ignored, _) => ignored_flags.push(format!("--{}", g.name)),
            _ => {}
        }
    }
    override_tls(&given, &mut opts, source)?;
    // nats-server applies these after the others (in the order DV, DVV, VV).
    if let Some(b) = last_bool(Target::DebugTrace) {
        opts.debug = b;
        opts.trace = b;
    }
    if let Some(b) = last_bool(Target::DebugTraceVerbose) {
        opts.debug = b;
        opts.trace = b;
    }
    if let Some(b) = last_bool(Target::TraceVerbose) {
        opts.trace = b;
    }
    if !http_host_set {
        opts.http_host = opts.host.clone();
    }

    let action = if test {
        CliAction::TestConfig(opts)
    } else {
        config::validate(&opts).map_err(CliError::Invalid)?;
        CliAction::Run(opts)
    };
    Ok(Cli {
        action,
        config_warnings,
        ignored_flags,
    })
}

/// The usage text (`-h`): the same flags as nats-server 2.9.10, in rnats's words.
pub fn usage() -> &'static str {
    USAGE
}

/// The TLS help text (`--help_tls`).
pub fn tls_usage() -> &'static str {
    TLS_USAGE
}

const USAGE: &str = "\
Usage: rnats-server [options]

Server options:
    -a, --addr, --net <host>         Interface to listen on for clients (default: 0.0.0.0)
    -p, --port <port>                Client port; -1 picks a free one (default: 4222)
    -n, --name
        --server_name <server_name>  Name of this server (default: its id)
    -P, --pid <file>                 Write the process id to this file
    -m, --http_port <port>           Serve monitoring (/varz, /connz, ...) on this port
    -ms,--https_port <port>          Monitoring over https (accepted, not supported yet)
    -c, --config <file>              Read options from this config file
    -t                               Check the config file and exit
    -sl,--signal <signal>[=<pid>]    Signal a running server (ldm, stop, quit, term, reopen, reload);
                                     <pid> is a process id or the path of a pid file
        --client_advertise <string>  Client URL to advertise to other servers (ignored)
        --ports_file_dir <dir>       Write <program>_<pid>.ports into this directory

Logging options:
    -l, --log <file>                 Log to this file instead of standard error
    -T, --logtime                    Put a timestamp on each line (default: true)
    -s, --syslog                     Log to syslog (accepted, not supported yet)
    -r, --remote_syslog <addr>       Remote syslog address (accepted, not supported yet)
    -D, --debug                      Log debug lines
    -V, --trace                      Log the protocol traffic
    -VV                              Verbose trace (includes the system account)
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace
        --log_size_limit <limit>     Rotate the log file at this size (default: never)
        --max_traced_msg_len <len>   Cut traced messages to this length (default: no limit)

JetStream options:
    -js, --jetstream                 Enable JetStream
    -sd, --store_dir <dir>           JetStream storage directory

Authorization options:
        --user <user>                User clients must connect with
        --pass <password>            Password clients must connect with
        --auth <token>               Token clients must connect with

TLS options (accepted, not supported yet):
        --tls                        Enable TLS without verifying clients
        --tlscert <file>             Server certificate
        --tlskey <file>              Server private key
        --tlsverify                  Enable TLS and verify client certificates
        --tlscacert <file>           CA for client certificates

Cluster options (accepted, not supported yet):
        --routes <rurl-1, rurl-2>    Routes to connect to
        --cluster <cluster-url>      Cluster URL to accept routes on
        --cluster_name <string>      Cluster name (default: generated)
        --no_advertise <bool>        Do not tell clients about other cluster members
        --cluster_advertise <string> Cluster URL to advertise to other servers
        --connect_retries <number>   Connect retries for implicit routes
        --cluster_listen <url>       Cluster URL to accept routes on

Profiling options:
        --profile <port>             Profiling port (accepted, not supported)

Common options:
    -h, --help                       Show this help
    -v, --version                    Show the version
        --help_tls                   Help on TLS configuration
";

const TLS_USAGE: &str = "\
TLS is configured in the tls block of a config file, e.g.

    tls {
        cert_file: \"./certs/server.pem\"
        key_file:  \"./certs/server.key\"
        ca_file:   \"./certs/ca.pem\"
        verify:    true
        timeout:   2
    }

The same block inside websocket { } serves wss://. The --tls* flags replace the
file's certificates: --tlscert and --tlskey are then required, --tlsverify needs
--tlscacert. TLS is rustls (TLS 1.2 and 1.3 with its own cipher suites and
curves): cipher_suites, curve_preferences and min_version are accepted and
ignored with a warning.
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::{DEFAULT_HTTP_PORT, DEFAULT_PORT};
    use core::time::Duration;
    use hashbrown::HashMap;

    #[derive(Default)]
    struct Mem(HashMap<String, String>);

    impl Mem {
        fn with(files: &[(&str, &str)]) -> Self {
            Mem(files
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect())
        }
    }

    impl ConfigSource for Mem {
        fn read_file(&self, path: &str) -> Result<String, String> {
            self.0
                .get(path)
                .cloned()
                .ok_or_else(|| format!("open {path}: no such file or directory"))
        }
        fn env_var(&self, _: &str) -> Option<String> {
            None
        }
    }

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn parse_with(s: &str, src: &Mem) -> Result<CliAction, CliError> {
        parse_args(&args(s), src)
    }

    fn parse(s: &str) -> Result<CliAction, CliError> {
        parse_with(s, &Mem::default())
    }

    #[track_caller]
    fn run(s: &str) -> Options {
        match parse(s) {
            Ok(CliAction::Run(o)) => o,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[track_caller]
    fn usage_err(s: &str) -> String {
        match parse(s) {
            Err(CliError::Usage(m)) => m,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[track_caller]
    fn invalid(s: &str) -> String {
        match parse(s) {
            Err(CliError::Invalid(m)) => m,
            other => panic!("{s:?}: {other:?}"),
        }
    }

    #[test]
    fn no_arguments() {
        assert_eq!(run(""), Options::default());
    }

    #[test]
    fn both_flag_forms_and_value_styles() {
        for s in [
            "-p 4333",
            "--port 4333",
            "-p=4333",
            "--port=4333",
            "-port 4333",
            "--p 4333",
            "-p 0x10ed",
            "-p 010355",
            "-p 4_333",
            "-p 1 -p 4333",
            "--port 1 -p=4333",
        ] {
            assert_eq!(run(s).port, Some(4333), "{s}");
        }
        assert_eq!(run("-p -1").port, None);
        assert_eq!(run("--port=-1").port, None);
        assert_eq!(run("-p 0").port, Some(DEFAULT_PORT));
    }

    #[test]
    fn server_options() {
        for s in [
            "-a 127.0.0.1",
            "--addr 127.0.0.1",
            "--net=127.0.0.1",
            "-net 127.0.0.1",
        ] {
            let o = run(s);
            assert_eq!(o.host, "127.0.0.1", "{s}");
            // The monitoring host follows (observed via /varz).
            assert_eq!(o.http_host, "127.0.0.1", "{s}");
        }
        for s in [
            "-n srv",
            "--name srv",
            "--server_name=srv",
            "-server_name srv",
        ] {
            assert_eq!(run(s).server_name.as_deref(), Some("srv"), "{s}");
        }
        assert_eq!(run("-m 8222").http_port, Some(DEFAULT_HTTP_PORT));
        assert_eq!(run("--http_port=8223").http_port, Some(8223));
        assert_eq!(run("-m -1").http_port, Some(0));
        assert_eq!(run("-m 0").http_port, None);
        assert_eq!(run("-P /tmp/x.pid").pid_file.as_deref(), Some("/tmp/x.pid"));
        assert_eq!(
            run("--pid=/tmp/y.pid").pid_file.as_deref(),
            Some("/tmp/y.pid")
        );
        assert_eq!(
            run("--ports_file_dir /tmp").ports_file_dir.as_deref(),
            Some("/tmp")
        );
        let o = run("--user u --pass p");
        assert_eq!(o.authorization.user.as_deref(), Some("u"));
        assert_eq!(o.authorization.password.as_deref(), Some("p"));
        assert_eq!(
            run("--auth=s3cr3t").authorization.token.as_deref(),
            Some("s3cr3t")
        );
        let o = run("-js -sd /data");
        assert!(o.jetstream);
        assert_eq!(o.store_dir.as_deref(), Some("/data"));
        let o = run("--jetstream --store_dir=/d2");
        assert!(o.jetstream);
        assert_eq!(o.store_dir.as_deref(), Some("/d2"));
        assert!(!run("-js=false").jetstream);
    }

    #[test]
    fn logging_options() {
        let o = run("-l /tmp/n.log --log_size_limit 1000 --max_traced_msg_len 64");
        assert_eq!(o.log_file.as_deref(), Some("/tmp/n.log"));
        assert_eq!(o.log_size_limit, 1000);
        assert_eq!(o.max_traced_msg_len, 64);
        assert_eq!(run("--log=a.log").log_file.as_deref(), Some("a.log"));
        let dt = |s: &str| {
            let o = run(s);
            (o.debug, o.trace, o.logtime)
        };
        assert_eq!(dt(""), (false, false, true));
        assert_eq!(dt("-D"), (true, false, true));
        assert_eq!(dt("--debug"), (true, false, true));
        assert_eq!(dt("-V"), (false, true, true));
        assert_eq!(dt("--trace"), (false, true, true));
        assert_eq!(dt("-VV"), (false, true, true));
        assert_eq!(dt("-DV"), (true, true, true));
        assert_eq!(dt("-DVV"), (true, true, true));
        assert_eq!(dt("--DV"), (true, true, true));
        assert_eq!(dt("-T=false"), (false, false, false));
        assert_eq!(dt("--logtime=false"), (false, false, false));
        assert_eq!(dt("-T=0 -T=t"), (false, false, true));
        assert_eq!(dt("-D -D=false"), (false, false, true));
        // -DV is applied after -D/-V, whatever the order.
        assert_eq!(dt("-DV=false -D"), (false, false, true));
        assert_eq!(dt("-D=false -DV"), (true, true, true));
        assert_eq!(dt("-DV -VV=false"), (true, false, true));
    }

    #[test]
    fn accepted_but_ignored_flags() {
        let cli = parse_command_line(
            &args(
                "--routes nats://a:6222 --cluster nats://0.0.0.0:6222 --cluster_name c \
                   --cluster_listen x --cluster_advertise y --no_advertise --connect_retries 3 \
                   -s -r udp://localhost:514 --profile 6060 -ms 8443 --https_port 8444 \
                   --client_advertise c:4222 -p 4333",
            ),
            &Mem::default(),
        )
        .unwrap();
        let CliAction::Run(o) = cli.action else {
            panic!("{:?}", cli.action)
        };
        assert_eq!(o.port, Some(4333));
        assert_eq!(cli.ignored_flags.len(), 13);
        assert_eq!(cli.ignored_flags[0], "--routes");
        // Ignored flags still need well-typed values.
        assert_eq!(
            usage_err("--connect_retries x"),
            "invalid value \"x\" for flag -connect_retries: parse error"
        );
    }

    #[test]
    fn tls_flags_replace_the_config_certificates() {
        const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";
        let src = Mem::with(&[
            ("s.pem", CERT),
            ("s.key", KEY),
            ("ca.pem", CERT),
            ("t.conf", "tls { timeout: 5 }"),
        ]);
        let run = |line: &str| match parse_command_line(&args(line), &src) {
            Ok(Cli {
                action: CliAction::Run(o),
                ..
            }) => Ok(o.tls),
            Ok(other) => panic!("{line}: {other:?}"),
            Err(e) => Err(e.to_string()),
        };
        let tls = run("--tlscert s.pem --tlskey s.key").unwrap().unwrap();
        assert_eq!(tls.cert_pem.as_deref(), Some(CERT));
        assert_eq!(tls.key_pem.as_deref(), Some(KEY));
        assert!(!tls.verify && tls.ca_pem.is_none());
        let tls = run("-c t.conf --tlsverify --tlscert s.pem --tlskey s.key --tlscacert ca.pem")
            .unwrap()
            .unwrap();
        assert!(tls.verify);
        assert_eq!(tls.ca_pem.as_deref(), Some(CERT));
        assert_eq!(
            tls.timeout,
            Some(Duration::from_secs(5)),
            "the file's timeout stays"
        );
        assert_eq!(run("-p 4333").unwrap(), None);
        // nats-server 2.9.10's messages.
        assert_eq!(
            run("--tls"),
            Err("TLS Server certificate must be present and valid".to_string())
        );
        assert_eq!(
            run("--tlscert s.pem"),
            Err("TLS Server private key must be present and valid".to_string())
        );
        assert_eq!(
            run("--tlscert nope.pem --tlskey s.key"),
            Err(
                "error parsing X509 certificate/key pair: open nope.pem: no such file or directory"
                    .to_string()
            )
        );
    }

    #[test]
    fn version_and_help() {
        for s in [
            "-v",
            "--version",
            "-version",
            "version",
            "VERSION",
            "-h -v",
            "-p 1 version",
        ] {
            assert_eq!(parse(s), Ok(CliAction::Version), "{s}");
        }
        for s in ["-h", "--help", "-help", "help", "-h=true"] {
            assert_eq!(parse(s), Ok(CliAction::Help), "{s}");
        }
        assert_eq!(parse("--help_tls"), Ok(CliAction::HelpTls));
        assert_eq!(run("-h=false").port, Some(DEFAULT_PORT));
        // Version and help win over a bad config file.
        assert_eq!(parse("-c nope.conf -v"), Ok(CliAction::Version));
    }

    #[test]
    fn usage_errors_have_go_flag_texts() {
        // Observed from nats-server 2.9.10.
        assert_eq!(usage_err("-foo"), "flag provided but not defined: -foo");
        assert_eq!(usage_err("--foo=1"), "flag provided but not defined: -foo");
        assert_eq!(usage_err("-VD"), "flag provided but not defined: -VD");
        assert_eq!(usage_err("-p"), "flag needs an argument: -p");
        assert_eq!(
            usage_err("-p abc"),
            "invalid value \"abc\" for flag -p: parse error"
        );
        assert_eq!(
            usage_err("-T=maybe"),
            "invalid boolean value \"maybe\" for -T: parse error"
        );
        assert_eq!(usage_err("---p 1"), "bad flag syntax: ---p");
        assert_eq!(usage_err("-=x"), "bad flag syntax: -=x");
        assert_eq!(
            usage_err("-p 99999999999999999999"),
            "invalid value \"99999999999999999999\" for flag -p: value out of range"
        );
        // nats-server fails later, when listening; we fail now.
        assert_eq!(
            usage_err("-p 99999"),
            "invalid value \"99999\" for flag -p: value out of range"
        );
        assert_eq!(usage_err("-é=1"), "flag provided but not defined: -é");
        let e = parse("-foo").unwrap_err();
        assert_eq!(e.to_string(), "flag provided but not defined: -foo");
    }

    #[test]
    fn command_words_and_positional_arguments() {
        // Observed: "nats-server: unrecognized command: \"foo\"".
        assert_eq!(invalid("foo"), "unrecognized command: \"foo\"");
        assert_eq!(invalid("-"), "unrecognized command: \"-\"");
        assert_eq!(invalid("-- -foo"), "unrecognized command: \"-foo\"");
        // Boolean flags take no separate value.
        assert_eq!(invalid("-D true"), "unrecognized command: \"true\"");
        assert_eq!(invalid("-p 5 extra -D"), "unrecognized command: \"extra\"");
        assert_eq!(run("-p 5 --").port, Some(5));
    }

    #[test]
    fn signals() {
        assert_eq!(
            parse("-sl reload"),
            Ok(CliAction::Signal {
                command: SignalCommand::Reload,
                pid: None
            })
        );
        assert_eq!(
            parse("--signal=stop=/var/run/nats.pid"),
            Ok(CliAction::Signal {
                command: SignalCommand::Stop,
                pid: Some("/var/run/nats.pid".into())
            })
        );
        for name in ["stop", "quit", "reopen", "reload", "ldm", "term"] {
            let Ok(CliAction::Signal { command, .. }) = parse(&format!("-sl {name}=1")) else {
                panic!("{name}")
            };
            assert_eq!(command.name(), name);
            assert!(command.unix_signal().starts_with("SIG"));
        }
        // Observed.
        assert_eq!(invalid("-sl stop=1=2"), "invalid signal parameters: [2]");
        assert_eq!(invalid("-sl foo=99"), "unknown signal \"foo\"");
        assert_eq!(run("-sl=").port, Some(DEFAULT_PORT));
    }

    #[test]
    fn config_file_then_flags() {
        let src = Mem::with(&[(
            "a.conf",
            "port: 1111\ndebug: false\ntrace: true\nlogtime: true\nserver_name: from_file\n\
             authorization { user: fu, password: fp }\nhttp_port: 8222",
        )]);
        let o = match parse_with("-c a.conf", &src) {
            Ok(CliAction::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        assert_eq!(o.port, Some(1111));
        assert_eq!(o.server_name.as_deref(), Some("from_file"));
        assert_eq!(o.config_file.as_deref(), Some("a.conf"));
        assert!(!o.debug && o.trace && o.logtime);
        // Flags win, before or after -c.
        for s in [
            "-D -p 2222 -c a.conf -T=false -V=false --user cu -m 9222",
            "-c a.conf -D -p 2222 -T=false -V=false --user cu -m 9222",
            "--config=a.conf -D -p=2222 -T=false --trace=false --user=cu --http_port 9222",
        ] {
            let o = match parse_with(s, &src) {
                Ok(CliAction::Run(o)) => o,
                other => panic!("{s}: {other:?}"),
            };
            assert_eq!(o.port, Some(2222), "{s}");
            assert!(o.debug && !o.trace && !o.logtime, "{s}");
            assert_eq!(o.server_name.as_deref(), Some("from_file"), "{s}");
            assert_eq!(o.authorization.user.as_deref(), Some("cu"), "{s}");
            assert_eq!(o.authorization.password.as_deref(), Some("fp"), "{s}");
            assert_eq!(o.http_port, Some(9222), "{s}");
        }
        // -DV=false overrides the file too.
        let o = match parse_with("-c a.conf -DV=false", &src) {
            Ok(CliAction::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        assert!(!o.debug && !o.trace);
        // Unknown keys fail, as in nats-server.
        let bad = Mem::with(&[("b.conf", "port: 1111\nfoo: 1")]);
        match parse_with("-c b.conf", &bad) {
            Err(CliError::Config(e)) => {
                assert_eq!(e.to_string(), "b.conf:2:1: unknown field \"foo\"")
            }
            other => panic!("{other:?}"),
        }
        // Warnings (unsupported blocks) come back with parse_command_line.
        let warn = Mem::with(&[("c.conf", "port: 1111\ncluster { name: c1 }")]);
        let cli = parse_command_line(&args("-c c.conf"), &warn).unwrap();
        assert_eq!(cli.config_warnings.len(), 1);
    }

    #[test]
    fn monitoring_host_follows_the_client_host() {
        let src = Mem::with(&[
            ("h.conf", "http: 127.0.0.1:8222"),
            ("p.conf", "http_port: 8222\nhost: 10.0.0.2"),
        ]);
        let run_with = |s: &str| match parse_with(s, &src) {
            Ok(CliAction::Run(o)) => o,
            other => panic!("{other:?}"),
        };
        let o = run_with("-c h.conf -a 10.0.0.1");
        assert_eq!(
            (o.host.as_str(), o.http_host.as_str()),
            ("10.0.0.1", "127.0.0.1")
        );
        let o = run_with("-c p.conf");
        assert_eq!(o.http_host, "10.0.0.2");
        let o = run_with("-c p.conf -a 10.0.0.1");
        assert_eq!(o.http_host, "10.0.0.1");
    }

    #[test]
    fn test_config() {
        let src = Mem::with(&[
            ("good.conf", "port: 1111"),
            ("bad.conf", "port: x"),
            ("big.conf", "max_payload: 100MB"),
        ]);
        match parse_with("-t -c good.conf", &src) {
            Ok(CliAction::TestConfig(o)) => assert_eq!(o.port, Some(1111)),
            other => panic!("{other:?}"),
        }
        match parse_with("-c bad.conf -t", &src) {
            Err(CliError::Config(e)) => assert_eq!(
                e.to_string(),
                "bad.conf:1:0: interface conversion: interface {} is string, not int64"
            ),
            other => panic!("{other:?}"),
        }
        // Observed: -t does not run the start-up checks, running does.
        assert!(matches!(
            parse_with("-t -c big.conf", &src),
            Ok(CliAction::TestConfig(_))
        ));
        assert_eq!(
            parse_with("-c big.conf", &src),
            Err(CliError::Invalid(
                "max_payload (104857600) cannot be higher than max_pending (67108864)".into()
            ))
        );
        // Observed messages.
        assert_eq!(
            invalid("-t"),
            "must specify [-c, --config] option to check configuration file syntax"
        );
        match parse("-c nope.conf") {
            Err(e @ CliError::Config(_)) => {
                assert_eq!(e.to_string(), "open nope.conf: no such file or directory")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_integers() {
        assert_eq!(parse_go_int("42"), Ok(42));
        assert_eq!(parse_go_int("-42"), Ok(-42));
        assert_eq!(parse_go_int("+42"), Ok(42));
        assert_eq!(parse_go_int("0x2A"), Ok(42));
        assert_eq!(parse_go_int("0o52"), Ok(42));
        assert_eq!(parse_go_int("052"), Ok(42));
        assert_eq!(parse_go_int("0b101010"), Ok(42));
        assert_eq!(parse_go_int("4_2"), Ok(42));
        assert_eq!(parse_go_int("0"), Ok(0));
        assert_eq!(parse_go_int("-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_go_int("9223372036854775808"), Err(true));
        assert_eq!(parse_go_int(""), Err(false));
        assert_eq!(parse_go_int("0x"), Err(false));
        assert_eq!(parse_go_int("08"), Err(false));
        assert_eq!(parse_go_int("4__2"), Err(false));
        assert_eq!(parse_go_int("_42"), Err(false));
        assert_eq!(parse_go_int("42_"), Err(false));
        assert_eq!(parse_go_int("1e3"), Err(false));
    }

    #[test]
    fn usage_lists_every_nats_server_flag() {
        for flag in [
            "-a, --addr, --net",
            "-p, --port",
            "-n, --name",
            "--server_name",
            "-P, --pid",
            "-m, --http_port",
            "-ms,--https_port",
            "-c, --config",
            "-t ",
            "-sl,--signal",
            "--client_advertise",
            "--ports_file_dir",
            "-l, --log",
            "-T, --logtime",
            "-s, --syslog",
            "-r, --remote_syslog",
            "-D, --debug",
            "-V, --trace",
            "-VV ",
            "-DV ",
            "-DVV ",
            "--log_size_limit",
            "--max_traced_msg_len",
            "-js, --jetstream",
            "-sd, --store_dir",
            "--user",
            "--pass",
            "--auth",
            "--tls ",
            "--tlscert",
            "--tlskey",
            "--tlsverify",
            "--tlscacert",
            "--routes",
            "--cluster ",
            "--cluster_name",
            "--no_advertise",
            "--cluster_advertise",
            "--connect_retries",
            "--cluster_listen",
            "--profile",
            "-h, --help",
            "-v, --version",
            "--help_tls",
        ] {
            assert!(usage().contains(flag), "{flag}");
        }
        // And every flag in the usage is parsed.
        for (name, _, _) in FLAGS {
            assert!(
                [" ", ",", "\n"]
                    .iter()
                    .any(|end| usage().contains(&format!("-{name}{end}"))),
                "{name}"
            );
        }
        assert!(tls_usage().contains("tls {"));
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        const PIECES: &[&str] = &[
            "-p", "--port", "-1", "=", "-c", "a.conf", "-t", "-D", "-DV", "-T=false", "-sl",
            "stop=1", "--", "-", "version", "-m", "é", "x", "-=", "---", "0x", "--user",
        ];

        proptest! {
            #[test]
            fn arbitrary_arguments(args in proptest::collection::vec(".{0,12}", 0..8)) {
                let src = Mem::with(&[("a.conf", "port: 5")]);
                let _ = parse_command_line(&args, &src);
            }

            #[test]
            fn flag_soup(idx in proptest::collection::vec(0..PIECES.len(), 0..10)) {
                let args: Vec<String> = idx.iter().map(|&i| PIECES[i].to_string()).collect();
                let src = Mem::with(&[("a.conf", "port: 5")]);
                let _ = parse_command_line(&args, &src);
            }
        }
    }
}
