//! The parsed tree → [`Options`], following nats-server 2.9's `server/opts.go`
//! (`processConfigFileLine` and friends), with its error texts.

mod tls;

pub(crate) use tls::load_tls_files;

use super::duration::{go_duration_string, parse_go_duration};
use super::parse::{Map, Token, Value};
use super::{ConfigError, ConfigErrorKind, ConfigSource, ConfigWarning, WarningKind};
use crate::nkey;
use crate::options::{
    AccountOptions, NkeyUser, Options, Permissions, ResponsePermission, SubjectPermission, User,
    WebsocketOptions, DEFAULT_LAME_DUCK_GRACE_PERIOD, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONTROL_LINE, DEFAULT_MAX_PAYLOAD, DEFAULT_MAX_PENDING, DEFAULT_PING_INTERVAL,
    DEFAULT_PING_MAX, DEFAULT_PORT, DEFAULT_WRITE_DEADLINE,
};
use crate::prelude::*;
use alloc::collections::BTreeSet;
use core::time::Duration;

/// Top-level keys nats-server 2.9.10 knows but rnats does not implement (yet): accepted,
/// not checked, reported as [`WarningKind::Unsupported`].
pub(crate) const UNSUPPORTED_TOP_LEVEL: &[&str] = &[
    "allow_non_tls",
    "client_advertise",
    "cluster",
    "connect_error_reports",
    "default_js_domain",
    "gateway",
    "http_base_path",
    "https",
    "https_port",
    "leaf",
    "leafnodes",
    "mappings",
    "maps",
    "max_sub_tokens",
    "max_subscription_tokens",
    "mqtt",
    "no_header_support",
    "no_sys_acc",
    "no_system",
    "no_system_account",
    "ocsp",
    "operator",
    "operators",
    "prof_port",
    "reconnect_error_reports",
    "remote_syslog",
    "resolver",
    "account_resolver",
    "accounts_resolver",
    "resolver_preload",
    "resolver_tls",
    "root",
    "root_operator",
    "root_operators",
    "roots",
    "server_tags",
    "syslog",
    "system",
    "system_account",
    "trusted",
    "trusted_keys",
];

/// What applying a file produced besides the options.
pub(crate) struct Outcome {
    pub warnings: Vec<ConfigWarning>,
    /// Whether `http: host:port` named a monitoring host (otherwise it follows `host`).
    pub http_host_set: bool,
}

pub(crate) struct Applier<'o> {
    opts: &'o mut Options,
    /// Where files the config names (TLS certificates) are read from.
    source: &'o dyn ConfigSource,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
    strict: bool,
    http_host_set: bool,
    store_dir_set: bool,
    /// Public keys of the nkey users seen so far (nats-server checks them for duplicates
    /// together with the user names).
    nkeys: Vec<String>,
}

/// The name of the global account; nats-server refuses it in `accounts`.
const GLOBAL_ACCOUNT: &str = "$G";

/// Go's `strconv.Quote`, for the `%q` verbs in nats-server's messages.
pub(crate) fn go_quote(s: &str) -> String {
    crate::error::GoQuoted(s).to_string()
}

/// nats-server's `IsValidSubject` (what permission subjects must be).
fn is_valid_subject(subject: &str) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut sfwc = false;
    for t in subject.split('.') {
        if t.is_empty() || sfwc {
            return false;
        }
        if t.len() > 1 {
            if t.contains(['\t', '\n', '\u{c}', '\r', ' ']) {
                return false;
            }
            continue;
        }
        match t.as_bytes()[0] {
            b'>' => sfwc = true,
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => return false,
            _ => {}
        }
    }
    true
}

/// nats-server's `checkPermSubjectArray`: subjects, or `subject queue` pairs.
fn check_perm_subjects(subjects: &[String]) -> Result<(), String> {
    for s in subjects {
        if !is_valid_subject(s) {
            let fields: Vec<&str> = s.split_whitespace().collect();
            if fields.len() != 2 {
                return Err(format!("subject {} is not a valid subject", go_quote(s)));
            } else if !is_valid_subject(fields[0]) {
                return Err(format!(
                    "subject {} is not a valid subject",
                    go_quote(fields[0])
                ));
            }
        }
    }
    Ok(())
}

/// Go's `net.SplitHostPort`.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = after.strip_prefix(':')?;
        if host.contains(['[', ']']) || port.contains([':', '[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let i = s.rfind(':')?;
    let (host, port) = (&s[..i], &s[i + 1..]);
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// Go's `strconv.Atoi` (decimal, optional sign).
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

/// Limits where nats-server treats 0 as "default" and a negative value as "no limit".
fn limit(n: i64, default: usize) -> usize {
    match n {
        0 => default,
        n if n < 0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

/// A nats-server port value: `-1` random (`None`), `0` the default.
pub(crate) fn client_port(n: i64) -> Result<Option<u16>, String> {
    match n {
        -1 => Ok(None),
        0 => Ok(Some(DEFAULT_PORT)),
        n => u16::try_from(n)
            .map(Some)
            .map_err(|_| format!("invalid port {n}, must be between -1 and 65535")),
    }
}

/// A nats-server monitoring port: `-1` random (`Some(0)`), `0` off (`None`).
pub(crate) fn http_port(n: i64) -> Result<Option<u16>, String> {
    match n {
        -1 => Ok(Some(0)),
        0 => Ok(None),
        n => u16::try_from(n)
            .map(Some)
            .map_err(|_| format!("invalid port {n}, must be between -1 and 65535")),
    }
}

fn nanos_to_duration(n: i64) -> Duration {
    Duration::from_nanos(n.max(0) as u64)
}

/// The credentials and timeout of an `authorization` block, as read (empty / 0 when
/// absent).
#[derive(Default)]
struct SimpleAuth {
    user: String,
    pass: String,
    token: String,
    timeout: f64,
}

impl<'o> Applier<'o> {
    pub(crate) fn new(opts: &'o mut Options, source: &'o dyn ConfigSource) -> Self {
        let strict = opts.strict;
        Applier {
            opts,
            source,
            errors: Vec::new(),
            warnings: Vec::new(),
            strict,
            http_host_set: false,
            store_dir_set: false,
            nkeys: Vec::new(),
        }
    }

    /// Apply the top-level map; all errors are collected, the first one is returned with
    /// the others in [`ConfigError::additional`].
    pub(crate) fn apply(mut self, top: &Map) -> Result<Outcome, ConfigError> {
        for (k, tk) in top {
            self.top_level(k, tk);
        }
        let mut errors = self.errors.into_iter();
        match errors.next() {
            Some(mut first) => {
                first.additional = errors.collect();
                Err(first)
            }
            None => Ok(Outcome {
                warnings: self.warnings,
                http_host_set: self.http_host_set,
            }),
        }
    }

    // ----- reporting ------------------------------------------------------------------

    fn err(&mut self, tk: &Token, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: tk.file.to_string(),
            line: tk.line,
            column: tk.col,
            message: message.into(),
            kind: ConfigErrorKind::Value,
            additional: Vec::new(),
        });
    }

    /// An error nats-server reports without a position (the place is still recorded).
    fn err_plain(&mut self, tk: &Token, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: tk.file.to_string(),
            line: tk.line,
            column: tk.col,
            message: message.into(),
            kind: ConfigErrorKind::Other,
            additional: Vec::new(),
        });
    }

    fn warn(&mut self, tk: &Token, field: &str, kind: WarningKind, message: String) {
        self.warnings.push(ConfigWarning {
            file: tk.file.to_string(),
            line: tk.line,
            column: tk.col,
            field: field.to_string(),
            kind,
            message,
        });
    }

    fn conv(&mut self, tk: &Token, want: &str) {
        let msg = format!(
            "interface conversion: interface {{}} is {}, not {}",
            tk.value.go_type(),
            want
        );
        self.err(tk, msg);
    }

    fn unknown(&mut self, key: &str, tk: &Token) {
        if tk.used {
            return;
        }
        let msg = format!("unknown field {}", go_quote(key));
        if self.strict {
            self.err(tk, msg);
        } else {
            self.warn(tk, key, WarningKind::UnknownField, msg);
        }
    }

    fn unsupported(&mut self, key: &str, tk: &Token) {
        let msg = format!(
            "field {} is not supported by rnats yet and was ignored",
            go_quote(key)
        );
        self.warn(tk, key, WarningKind::Unsupported, msg);
    }

    fn str<'t>(&mut self, tk: &'t Token) -> Option<&'t str> {
        match &tk.value {
            Value::Str(s) => Some(s),
            _ => {
                self.conv(tk, "string");
                None
            }
        }
    }

    fn int(&mut self, tk: &Token) -> Option<i64> {
        match tk.value {
            Value::Int(i) => Some(i),
            _ => {
                self.conv(tk, "int64");
                None
            }
        }
    }

    fn bool(&mut self, tk: &Token) -> Option<bool> {
        match tk.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.conv(tk, "bool");
                None
            }
        }
    }

    fn map<'t>(&mut self, tk: &'t Token) -> Option<&'t Map> {
        match &tk.value {
            Value::Map(m) => Some(m),
            _ => {
                self.conv(tk, "map[string]interface {}");
                None
            }
        }
    }

    // ----- top level ------------------------------------------------------------------

    fn top_level(&mut self, k: &str, tk: &Token) {
        let key = k.to_ascii_lowercase();
        match key.as_str() {
            "listen" => {
                if let Some((host, port)) = self.listen(tk) {
                    match client_port(port) {
                        Ok(p) => {
                            self.opts.host = if host.is_empty() {
                                Options::default().host
                            } else {
                                host
                            };
                            self.opts.port = p;
                        }
                        Err(e) => self.err(tk, e),
                    }
                }
            }
            "port" => {
                if let Some(n) = self.int(tk) {
                    match client_port(n) {
                        Ok(p) => self.opts.port = p,
                        Err(e) => self.err(tk, e),
                    }
                }
            }
            "host" | "net" => {
                if let Some(s) = self.str(tk) {
                    self.opts.host = if s.is_empty() {
                        Options::default().host
                    } else {
                        s.to_string()
                    };
                }
            }
            "server_name" => {
                if let Some(s) = self.str(tk) {
                    self.opts.server_name = (!s.is_empty()).then(|| s.to_string());
                }
            }
            "debug" => {
                if let Some(b) = self.bool(tk) {
                    self.opts.debug = b;
                }
            }
            "trace" | "trace_verbose" => {
                if let Some(b) = self.bool(tk) {
                    self.opts.trace = b;
                }
            }
            "logtime" => {
                if let Some(b) = self.bool(tk) {
                    self.opts.logtime = b;
                }
            }
            "disable_sublist_cache" | "no_sublist_cache" => {
                if let Some(b) = self.bool(tk) {
                    self.opts.no_sublist_cache = b;
                }
            }
            "no_fast_producer_stall" => {
                if let Some(b) = self.bool(tk) {
                    self.opts.no_fast_producer_stall = b;
                }
            }
            "authorization" => self.authorization(tk),
            "no_auth_user" => {
                if let Some(s) = self.str(tk) {
                    self.opts.authorization.no_auth_user = (!s.is_empty()).then(|| s.to_string());
                }
            }
            "http" => {
                if let Some((host, port)) = self.listen(tk) {
                    match http_port(port) {
                        Ok(p) => {
                            self.http_host_set = !host.is_empty();
                            if self.http_host_set {
                                self.opts.http_host = host;
                            }
                            self.opts.http_port = p;
                        }
                        Err(e) => self.err(tk, e),
                    }
                }
            }
            "http_port" | "monitor_port" => {
                if let Some(n) = self.int(tk) {
                    match http_port(n) {
                        Ok(p) => self.opts.http_port = p,
                        Err(e) => self.err(tk, e),
                    }
                }
            }
            "store_dir" | "storedir" => {
                if let Some(s) = self.str(tk) {
                    if self.store_dir_set {
                        self.err(tk, "Duplicate 'store_dir' configuration");
                        return;
                    }
                    self.store_dir_set = true;
                    self.opts.store_dir = Some(s.to_string());
                }
            }
            "jetstream" => self.jetstream(tk),
            "logfile" | "log_file" => {
                if let Some(s) = self.str(tk) {
                    self.opts.log_file = (!s.is_empty()).then(|| s.to_string());
                }
            }
            "logfile_size_limit" | "log_size_limit" => {
                if let Some(n) = self.int(tk) {
                    self.opts.log_size_limit = u64::try_from(n).unwrap_or(0);
                }
            }
            "pidfile" | "pid_file" => {
                if let Some(s) = self.str(tk) {
                    self.opts.pid_file = (!s.is_empty()).then(|| s.to_string());
                }
            }
            "ports_file_dir" => {
                if let Some(s) = self.str(tk) {
                    self.opts.ports_file_dir = (!s.is_empty()).then(|| s.to_string());
                }
            }
            "max_control_line" | "max_payload" => {
                if let Some(n) = self.int(tk) {
                    if n > i64::from(i32::MAX) {
                        self.err(tk, format!("{k} value is too big"));
                        return;
                    }
                    if key == "max_payload" {
                        self.opts.max_payload = limit(n, DEFAULT_MAX_PAYLOAD);
                    } else {
                        self.opts.max_control_line = limit(n, DEFAULT_MAX_CONTROL_LINE);
                    }
                }
            }
            "max_pending" => {
                if let Some(n) = self.int(tk) {
                    // A negative value fails validation in nats-server ("max_payload cannot
                    // be higher than max_pending"); 0 does the same here.
                    self.opts.max_pending = match n {
                        0 => DEFAULT_MAX_PENDING,
                        n => usize::try_from(n).unwrap_or(0),
                    };
                }
            }
            "max_connections" | "max_conn" => {
                if let Some(n) = self.int(tk) {
                    self.opts.max_connections = limit(n, DEFAULT_MAX_CONNECTIONS);
                }
            }
            "max_subscriptions" | "max_subs" => {
                if let Some(n) = self.int(tk) {
                    self.opts.max_subscriptions = usize::try_from(n).unwrap_or(0);
                }
            }
            "max_traced_msg_len" => {
                if let Some(n) = self.int(tk) {
                    self.opts.max_traced_msg_len = usize::try_from(n).unwrap_or(0);
                }
            }
            "ping_interval" => {
                if let Some(d) = self.duration("ping_interval", tk) {
                    self.opts.ping_interval = d.unwrap_or(DEFAULT_PING_INTERVAL);
                }
            }
            "write_deadline" => {
                if let Some(d) = self.duration("write_deadline", tk) {
                    self.opts.write_deadline = d.unwrap_or(DEFAULT_WRITE_DEADLINE);
                }
            }
            "ping_max" => {
                if let Some(n) = self.int(tk) {
                    self.opts.ping_max = match n {
                        0 => DEFAULT_PING_MAX,
                        n => u32::try_from(n.max(0)).unwrap_or(u32::MAX),
                    };
                }
            }
            "lame_duck_duration" => {
                if let Some(s) = self.str(tk) {
                    match parse_go_duration(s) {
                        Err(e) => {
                            self.err(tk, format!("error parsing lame_duck_duration: {e}"));
                        }
                        Ok(n) if n < 30_000_000_000 => {
                            self.err(
                                tk,
                                format!(
                                    "invalid lame_duck_duration of {}, minimum is 30 seconds",
                                    go_duration_string(n)
                                ),
                            );
                        }
                        Ok(n) => self.opts.lame_duck_duration = nanos_to_duration(n),
                    }
                }
            }
            "lame_duck_grace_period" => {
                if let Some(s) = self.str(tk) {
                    match parse_go_duration(s) {
                        Err(e) => {
                            self.err(tk, format!("error parsing lame_duck_grace_period: {e}"));
                        }
                        Ok(n) if n < 0 => {
                            self.err(tk, "invalid lame_duck_grace_period, needs to be positive");
                        }
                        // nats-server replaces 0 with the default when the server starts.
                        Ok(0) => self.opts.lame_duck_grace_period = DEFAULT_LAME_DUCK_GRACE_PERIOD,
                        Ok(n) => self.opts.lame_duck_grace_period = nanos_to_duration(n),
                    }
                }
            }
            "accounts" => self.accounts(tk),
            "websocket" | "ws" => self.websocket(tk),
            "tls" => self.opts.tls = self.tls_block(tk),
            other if UNSUPPORTED_TOP_LEVEL.contains(&other) => self.unsupported(k, tk),
            _ => self.unknown(k, tk),
        }
    }

    /// `listen`/`http`: a port, or `host:port`.
    fn listen(&mut self, tk: &Token) -> Option<(String, i64)> {
        match &tk.value {
            Value::Int(p) => Some((String::new(), *p)),
            Value::Str(s) => {
                let Some((host, port)) = split_host_port(s) else {
                    self.err(
                        tk,
                        format!("could not parse address string {}", go_quote(s)),
                    );
                    return None;
                };
                let Some(port) = go_atoi(port) else {
                    self.err(tk, format!("could not parse port {}", go_quote(port)));
                    return None;
                };
                Some((host.to_string(), port))
            }
            v => {
                let msg = format!("expected port or host:port, got {}", v.go_type());
                self.err(tk, msg);
                None
            }
        }
    }

    /// `ping_interval`/`write_deadline`: a duration string, or (deprecated) seconds.
    /// `Some(None)` means "the default" (nats-server treats 0 so).
    fn duration(&mut self, field: &str, tk: &Token) -> Option<Option<Duration>> {
        let nanos = match &tk.value {
            Value::Str(s) => match parse_go_duration(s) {
                Ok(n) => n,
                Err(e) => {
                    self.err(tk, format!("error parsing {field}: {e}"));
                    return None;
                }
            },
            v => {
                let msg = format!(
                    "invalid use of field {}: {field} should be converted to a duration",
                    go_quote(field)
                );
                self.warn(tk, field, WarningKind::Deprecated, msg);
                match v {
                    Value::Int(secs) => secs.saturating_mul(1_000_000_000),
                    _ => {
                        self.conv(tk, "int64");
                        return None;
                    }
                }
            }
        };
        if nanos < 0 {
            self.err(
                tk,
                format!("error parsing {field}: negative durations are not supported"),
            );
            return None;
        }
        Some((nanos != 0).then(|| nanos_to_duration(nanos)))
    }

    // ----- authorization --------------------------------------------------------------

    fn authorization(&mut self, tk: &Token) {
        let Some(m) = self.map(tk) else { return };
        let mut simple = SimpleAuth::default();
        let mut users: Option<(Vec<User>, Vec<NkeyUser>)> = None;
        let mut default_perms: Option<Permissions> = None;
        for (k, v) in m {
            let key = k.to_ascii_lowercase();
            if self.simple_auth_field(&key, v, &mut simple) {
                continue;
            }
            match key.as_str() {
                "users" => {
                    if let Some(u) = self.users(v, true) {
                        users = Some(u);
                    }
                }
                "default_permission" | "default_permissions" | "permissions" => {
                    if let Some(p) = self.permissions(v) {
                        default_perms = Some(p);
                    }
                }
                _ => self.unknown(k, v),
            }
        }
        let SimpleAuth {
            user,
            pass,
            token,
            timeout,
        } = simple;
        if (!user.is_empty() || !pass.is_empty()) && !token.is_empty() {
            self.err(tk, "Cannot have a user/pass and token");
            return;
        }
        // Users may already have come from `accounts` (nats-server checks the same way
        // whichever block comes first).
        let mut names = self.user_names();
        if users.is_some() || !names.is_empty() {
            if !user.is_empty() {
                self.err(tk, "Can not have a single user/pass and a users array");
                return;
            }
            if !token.is_empty() {
                self.err(tk, "Can not have a token and a users array");
                return;
            }
        }
        let (mut list, nkeys) = users.map_or((None, Vec::new()), |(u, n)| (Some(u), n));
        for u in list.iter().flatten() {
            if !names.insert(u.username.clone()) {
                self.err(
                    tk,
                    format!("Duplicate user {} detected", go_quote(&u.username)),
                );
                return;
            }
        }
        for nk in &nkeys {
            if !names.insert(nk.public_key.clone()) {
                let msg = format!("Duplicate nkey {} detected", go_quote(&nk.public_key));
                self.err(tk, msg);
                return;
            }
            self.nkeys.push(nk.public_key.clone());
        }
        let mut nkeys = nkeys;
        apply_default_permissions(
            nkeys.iter_mut().map(|n| &mut n.permissions),
            default_perms.as_ref(),
        );
        let auth = &mut self.opts.authorization;
        auth.nkey_users.extend(nkeys);
        auth.user = (!user.is_empty()).then_some(user);
        auth.password = (!pass.is_empty()).then_some(pass);
        auth.token = (!token.is_empty()).then_some(token);
        auth.timeout = if timeout > 0.0 {
            Some(Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX))
        } else if timeout < 0.0 {
            Some(Duration::ZERO)
        } else {
            None
        };
        if let Some(list) = &mut list {
            apply_default_permissions(
                list.iter_mut().map(|u| &mut u.permissions),
                default_perms.as_ref(),
            );
        }
        auth.users.extend(list.into_iter().flatten());
        auth.default_permissions = default_perms;
    }

    /// One of the keys both `authorization` blocks (the server's and the websocket's) take:
    /// `user`/`username`, `pass`/`password`, `token`, `timeout`. Returns false for any
    /// other key (`key` is lower case).
    fn simple_auth_field(&mut self, key: &str, v: &Token, auth: &mut SimpleAuth) -> bool {
        let slot = match key {
            "user" | "username" => &mut auth.user,
            "pass" | "password" => &mut auth.pass,
            "token" => &mut auth.token,
            "timeout" => {
                // nats-server: seconds as an integer or a float; anything else means 1.
                auth.timeout = match v.value {
                    Value::Int(i) => i as f64,
                    Value::Float(f) => f,
                    _ => 1.0,
                };
                return true;
            }
            _ => return false,
        };
        if let Some(s) = self.str(v) {
            *slot = s.to_string();
        }
        true
    }

    /// The user names and nkeys defined so far, in `authorization` and in `accounts`
    /// (nats-server's `setupUsersAndNKeysDuplicateCheckMap`).
    fn user_names(&self) -> BTreeSet<String> {
        let account_users = self.opts.accounts.iter().flat_map(|a| a.users.iter());
        self.opts
            .authorization
            .users
            .iter()
            .chain(account_users)
            .map(|u| u.username.clone())
            .chain(self.nkeys.iter().cloned())
            .collect()
    }

    /// A `users` array: the user/password users and the nkey users.
    /// nats-server reports a `users` value that is not an array with a position in
    /// `authorization` and without one in an account (`positioned`).
    fn users(&mut self, tk: &Token, positioned: bool) -> Option<(Vec<User>, Vec<NkeyUser>)> {
        let Value::Array(entries) = &tk.value else {
            let msg = format!(
                "Expected users field to be an array, got {}",
                tk.value.go_display()
            );
            if positioned {
                self.err(tk, msg);
            } else {
                self.err_plain(tk, msg);
            }
            return None;
        };
        let mut users = Vec::new();
        let mut nkeys = Vec::new();
        for entry in entries {
            let Value::Map(m) = &entry.value else {
                let msg = format!(
                    "Expected user entry to be a map/struct, got {}",
                    entry.value.go_display()
                );
                self.err(entry, msg);
                continue;
            };
            let mut user = User::default();
            let mut nkey: Option<String> = None;
            let mut last = entry;
            for (k, v) in m {
                last = v;
                match k.to_ascii_lowercase().as_str() {
                    "nkey" => {
                        if let Some(s) = self.str(v) {
                            nkey = Some(s.to_string());
                        }
                    }
                    "user" | "username" => {
                        if let Some(s) = self.str(v) {
                            user.username = s.to_string();
                        }
                    }
                    "pass" | "password" => {
                        if let Some(s) = self.str(v) {
                            user.password = s.to_string();
                        }
                    }
                    "permission" | "permissions" | "authorization" => {
                        if let Some(p) = self.permissions(v) {
                            user.permissions = Some(p);
                        }
                    }
                    "allowed_connection_types"
                    | "allowed_connections_types"
                    | "allowed_conn_types" => {
                        if let Some(types) = self.connection_types(v) {
                            user.allowed_connection_types = Some(types);
                        }
                    }
                    _ => self.unknown(k, v),
                }
            }
            match nkey {
                None if user.username.is_empty() => {
                    self.err(last, "User entry requires a user");
                    return None;
                }
                None => users.push(user),
                Some(key) => {
                    if !nkey::is_public(&key, nkey::PREFIX_USER) {
                        self.err(last, "Not a valid public nkey for a user");
                        return None;
                    }
                    if !user.username.is_empty() || !user.password.is_empty() {
                        self.err(last, "Nkey users do not take usernames or passwords");
                        return None;
                    }
                    nkeys.push(NkeyUser {
                        public_key: key,
                        permissions: user.permissions,
                        account: None,
                        allowed_connection_types: user.allowed_connection_types,
                    });
                }
            }
        }
        Some((users, nkeys))
    }

    /// `allowed_connection_types`: a string or an array of them, upper-cased, each one of
    /// nats-server's connection types.
    fn connection_types(&mut self, tk: &Token) -> Option<Vec<String>> {
        const KNOWN: [&str; 5] = ["STANDARD", "WEBSOCKET", "LEAFNODE", "MQTT", "IN_PROCESS"];
        let types: Vec<String> = match &tk.value {
            Value::Str(s) => vec![s.to_ascii_uppercase()],
            Value::Array(items) => items
                .iter()
                .filter_map(|t| match &t.value {
                    Value::Str(s) => Some(s.to_ascii_uppercase()),
                    _ => None,
                })
                .collect(),
            _ => {
                self.conv(tk, "[]interface {}");
                return None;
            }
        };
        let invalid: Vec<String> = types
            .iter()
            .filter(|t| !KNOWN.contains(&t.as_str()))
            .map(|t| go_quote(t))
            .collect();
        if !invalid.is_empty() {
            self.err(
                tk,
                format!("invalid connection types [{}]", invalid.join(" ")),
            );
            return None;
        }
        Some(types)
    }

    fn permissions(&mut self, tk: &Token) -> Option<Permissions> {
        let Value::Map(m) = &tk.value else {
            let msg = format!(
                "Expected permissions to be a map/struct, got {}",
                tk.value.go_display()
            );
            self.err(tk, msg);
            return None;
        };
        let mut p = Permissions::default();
        for (k, v) in m {
            match k.to_ascii_lowercase().as_str() {
                "pub" | "publish" | "import" => {
                    if let Some(sp) = self.subject_permission(v) {
                        p.publish = sp;
                    }
                }
                "sub" | "subscribe" | "export" => {
                    if let Some(sp) = self.subject_permission(v) {
                        p.subscribe = sp;
                    }
                }
                "publish_allow_responses" | "allow_responses" => {
                    p.response = match v.value {
                        Value::Bool(true) => Some(ResponsePermission::default()),
                        Value::Bool(false) => None,
                        _ => self.allow_responses(v),
                    };
                    if p.response.is_some() && p.publish.is_none() {
                        // nats-server turns the blanket publish allow off (an empty, but
                        // present, allow list): only reply subjects may be published to.
                        p.publish = Some(SubjectPermission::default());
                    }
                }
                _ => {
                    if !v.used {
                        self.err(
                            v,
                            format!("Unknown field {} parsing permissions", go_quote(k)),
                        );
                    }
                }
            }
        }
        Some(p)
    }

    /// `publish: "a"` | `publish: ["a", "b"]` | `publish: { allow: ..., deny: ... }`.
    /// `Some(None)`: an empty map (no permission set); `None`: an error was recorded.
    fn subject_permission(&mut self, tk: &Token) -> Option<Option<SubjectPermission>> {
        match &tk.value {
            Value::Map(m) => {
                if m.is_empty() {
                    return Some(None);
                }
                let mut sp = SubjectPermission::default();
                let mut ok = true;
                for (k, v) in m {
                    match k.to_ascii_lowercase().as_str() {
                        "allow" => match self.subjects(v, true) {
                            Some(s) => sp.allow = s,
                            None => ok = false,
                        },
                        "deny" => match self.subjects(v, true) {
                            Some(s) => sp.deny = s,
                            None => ok = false,
                        },
                        _ => {
                            if !v.used {
                                self.err(
                                    v,
                                    format!(
                                        "Unknown field name {} parsing subject permissions, only 'allow' or 'deny' are permitted",
                                        go_quote(k)
                                    ),
                                );
                            }
                        }
                    }
                }
                ok.then_some(Some(sp))
            }
            _ => self.subjects(tk, false).map(|allow| {
                Some(SubjectPermission {
                    allow,
                    deny: Vec::new(),
                })
            }),
        }
    }

    /// A subject or a list of subjects. nats-server reports some of these errors without
    /// a position (`positioned == false`).
    fn subjects(&mut self, tk: &Token, positioned: bool) -> Option<Vec<String>> {
        let subjects = match &tk.value {
            Value::Str(s) => vec![s.clone()],
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for e in a {
                    match &e.value {
                        Value::Str(s) => out.push(s.clone()),
                        _ => {
                            self.err(e, "Subject in permissions array cannot be cast to string");
                            return None;
                        }
                    }
                }
                out
            }
            v => {
                let msg = format!(
                    "Expected subject permissions to be a subject, or array of subjects, got {}",
                    v.go_type()
                );
                if positioned {
                    self.err(tk, msg);
                } else {
                    self.err_plain(tk, msg);
                }
                return None;
            }
        };
        if let Err(msg) = check_perm_subjects(&subjects) {
            if positioned {
                self.err(tk, msg);
            } else {
                self.err_plain(tk, msg);
            }
            return None;
        }
        Some(subjects)
    }

    fn allow_responses(&mut self, tk: &Token) -> Option<ResponsePermission> {
        let Value::Map(m) = &tk.value else {
            self.err(
                tk,
                "error parsing response permissions, expected a boolean or a map",
            );
            return None;
        };
        let mut rp = ResponsePermission::default();
        for (k, v) in m {
            match k.to_ascii_lowercase().as_str() {
                "max" | "max_msgs" | "max_messages" | "max_responses" => {
                    if let Some(n) = self.int(v) {
                        // Negative: no limit; 0: the default.
                        if n < 0 {
                            rp.max_msgs = usize::MAX;
                        } else if n > 0 {
                            rp.max_msgs = usize::try_from(n).unwrap_or(usize::MAX);
                        }
                    }
                }
                "expires" | "expiration" | "ttl" => {
                    let Value::Str(s) = &v.value else {
                        self.err(v, "error parsing expires, not a duration string");
                        return None;
                    };
                    match parse_go_duration(s) {
                        Ok(n) if n < 0 => rp.expires = Duration::ZERO,
                        Ok(0) => {}
                        Ok(n) => rp.expires = nanos_to_duration(n),
                        Err(e) => {
                            self.err(v, format!("error parsing expires: {e}"));
                            return None;
                        }
                    }
                }
                _ => {
                    if !v.used {
                        self.err(
                            v,
                            format!("Unknown field {} parsing permissions", go_quote(k)),
                        );
                    }
                }
            }
        }
        Some(rp)
    }

    // ----- accounts -------------------------------------------------------------------

    /// `accounts`: a list of names, or (the usual form) a map of name → account block.
    /// Anything else is ignored, as nats-server does.
    fn accounts(&mut self, tk: &Token) {
        match &tk.value {
            Value::Array(names) => {
                let mut seen: BTreeSet<&str> = BTreeSet::new();
                for n in names {
                    // nats-server stops at the first value that is not a string (a panic
                    // it recovers from).
                    let Some(name) = self.str(n) else { return };
                    if name == GLOBAL_ACCOUNT {
                        self.err(n, format!("{} is a Reserved Account", go_quote(name)));
                        continue;
                    }
                    if !seen.insert(name) {
                        self.err(n, format!("Duplicate Account Entry: {name}"));
                        continue;
                    }
                    self.opts.accounts.push(AccountOptions {
                        name: name.to_string(),
                        ..AccountOptions::default()
                    });
                }
            }
            Value::Map(m) => {
                for (name, v) in m {
                    // Entries that only serve as `$variables` are skipped.
                    if v.used {
                        continue;
                    }
                    let Value::Map(block) = &v.value else {
                        self.err(v, "Expected map entries for accounts");
                        continue;
                    };
                    if name == GLOBAL_ACCOUNT {
                        self.err(v, format!("{} is a Reserved Account", go_quote(name)));
                        continue;
                    }
                    self.account(name, block);
                }
            }
            _ => {}
        }
    }

    /// One account block of the `accounts` map.
    fn account(&mut self, name: &str, block: &Map) {
        let mut users = Vec::new();
        let mut nkeys = Vec::new();
        let mut users_tk: Option<&Token> = None;
        let mut default_perms: Option<Permissions> = None;
        for (k, v) in block {
            match k.to_ascii_lowercase().as_str() {
                "users" => {
                    users_tk = Some(v);
                    if let Some((u, n)) = self.users(v, false) {
                        users = u;
                        nkeys = n;
                    }
                }
                "default_permissions" => {
                    if let Some(p) = self.permissions(v) {
                        default_perms = Some(p);
                    }
                }
                "nkey" => match &v.value {
                    Value::Str(key) if nkey::is_public(key, nkey::PREFIX_ACCOUNT) => {
                        self.unsupported(k, v)
                    }
                    other => {
                        let msg = format!(
                            "Not a valid public nkey for an account: {}",
                            go_q_verb(other)
                        );
                        self.err(v, msg);
                    }
                },
                "imports" | "exports" => {
                    if matches!(v.value, Value::Array(_)) {
                        self.unsupported(k, v);
                    } else {
                        let what = if k.eq_ignore_ascii_case("imports") {
                            "Imports"
                        } else {
                            "Exports"
                        };
                        let msg = format!("{what} should be an array, got {}", v.value.go_type());
                        self.err(v, msg);
                    }
                }
                "jetstream" => match &v.value {
                    Value::Bool(_) | Value::Map(_) => self.unsupported(k, v),
                    Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                        "enabled" | "enable" | "disabled" | "disable" => self.unsupported(k, v),
                        _ => self.err_plain(
                            v,
                            format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                        ),
                    },
                    other => {
                        let msg = format!(
                            "Expected map, bool or string to define JetStream, got {}",
                            other.go_type()
                        );
                        self.err_plain(v, msg);
                    }
                },
                "mappings" | "maps" => {
                    if self.map(v).is_some() {
                        self.unsupported(k, v);
                    }
                }
                "limits" => {
                    if matches!(v.value, Value::Map(_)) {
                        self.unsupported(k, v);
                    } else {
                        let msg = format!(
                            "Expected account limits to be a map/struct, got {}",
                            v.value.go_display()
                        );
                        self.err(v, msg);
                    }
                }
                _ => self.unknown(k, v),
            }
        }
        let mut account = AccountOptions {
            name: name.to_string(),
            ..AccountOptions::default()
        };
        if let Some(utk) = users_tk.filter(|_| !users.is_empty() || !nkeys.is_empty()) {
            if self.opts.authorization.user.is_some() {
                self.err(utk, "Can not have a single user/pass and accounts");
                self.opts.accounts.push(account);
                return;
            }
            if self.opts.authorization.token.is_some() {
                self.err(utk, "Can not have a token and accounts");
                self.opts.accounts.push(account);
                return;
            }
            apply_default_permissions(
                users.iter_mut().map(|u| &mut u.permissions),
                default_perms.as_ref(),
            );
            apply_default_permissions(
                nkeys.iter_mut().map(|n| &mut n.permissions),
                default_perms.as_ref(),
            );
            let mut names = self.user_names();
            for mut nk in nkeys {
                if !names.insert(nk.public_key.clone()) {
                    let msg = format!("Duplicate nkey {} detected", go_quote(&nk.public_key));
                    self.err(utk, msg);
                    continue;
                }
                self.nkeys.push(nk.public_key.clone());
                nk.account = Some(name.to_string());
                account.nkey_users.push(nk);
            }
            for mut u in users {
                if !names.insert(u.username.clone()) {
                    self.err(
                        utk,
                        format!("Duplicate user {} detected", go_quote(&u.username)),
                    );
                    continue;
                }
                u.account = Some(name.to_string());
                account.users.push(u);
            }
        }
        self.opts.accounts.push(account);
    }

    // ----- websocket ------------------------------------------------------------------

    /// The `websocket` block (nats-server's `parseWebsocket`).
    fn websocket(&mut self, tk: &Token) {
        let Value::Map(m) = &tk.value else {
            let msg = format!("Expected websocket to be a map, got {}", tk.value.go_type());
            self.err(tk, msg);
            return;
        };
        let mut ws = WebsocketOptions::default();
        for (k, v) in m {
            // nats-server recovers from a failed type assertion (and the nil dereference
            // after a failed `authorization`) by abandoning the rest of the block; the other
            // errors it collects and goes on.
            let errors_before = self.errors.len();
            let mut recoverable = false;
            match k.to_ascii_lowercase().as_str() {
                "listen" => {
                    recoverable = true;
                    if let Some((host, port)) = self.listen(v) {
                        match http_port(port) {
                            Ok(p) => {
                                ws.host = host;
                                ws.port = p;
                            }
                            Err(e) => self.err(v, e),
                        }
                    }
                }
                "port" => {
                    if let Some(n) = self.int(v) {
                        recoverable = true;
                        match http_port(n) {
                            Ok(p) => ws.port = p,
                            Err(e) => self.err(v, e),
                        }
                    }
                }
                "host" | "net" => {
                    if let Some(s) = self.str(v) {
                        ws.host = s.to_string();
                    }
                }
                "advertise" => {
                    if let Some(s) = self.str(v) {
                        ws.advertise = (!s.is_empty()).then(|| s.to_string());
                    }
                }
                "no_tls" => {
                    if let Some(b) = self.bool(v) {
                        ws.no_tls = b;
                    }
                }
                "tls" => {
                    if let Value::Map(_) = v.value {
                        recoverable = true;
                    }
                    ws.tls = self.tls_block(v);
                }
                "same_origin" => {
                    if let Some(b) = self.bool(v) {
                        ws.same_origin = b;
                    }
                }
                "allowed_origins" | "allowed_origin" | "allow_origins" | "allow_origin"
                | "origins" | "origin" => {
                    recoverable = true;
                    match &v.value {
                        Value::Str(s) => ws.allowed_origins = vec![s.clone()],
                        Value::Array(entries) => {
                            let mut origins = Vec::with_capacity(entries.len());
                            for e in entries {
                                match &e.value {
                                    Value::Str(s) => origins.push(s.clone()),
                                    other => {
                                        let msg = format!(
                                        "error parsing allowed origins: unsupported type in array {}",
                                        other.go_type()
                                    );
                                        self.err(e, msg);
                                    }
                                }
                            }
                            ws.allowed_origins = origins;
                        }
                        other => {
                            let msg = format!(
                                "error parsing allowed origins: unsupported type {}",
                                other.go_type()
                            );
                            self.err(v, msg);
                        }
                    }
                }
                "handshake_timeout" => {
                    let nanos = match &v.value {
                        Value::Int(secs) => secs.saturating_mul(1_000_000_000),
                        Value::Str(s) => match parse_go_duration(s) {
                            Ok(n) => n,
                            Err(e) => {
                                self.err(v, e);
                                continue;
                            }
                        },
                        other => {
                            let msg = format!(
                                "error parsing handshake timeout: unsupported type {}",
                                other.go_type()
                            );
                            self.err(v, msg);
                            continue;
                        }
                    };
                    // A negative timeout makes every handshake fail at once in nats-server
                    // (a read deadline in the past); zero means no limit.
                    ws.handshake_timeout = (nanos != 0).then(|| nanos_to_duration(nanos));
                }
                "compress" | "compression" => {
                    if let Some(b) = self.bool(v) {
                        ws.compression = b;
                    }
                }
                "authorization" | "authentication" => self.websocket_auth(v, &mut ws),
                "jwt_cookie" => {
                    if let Some(s) = self.str(v) {
                        ws.jwt_cookie = (!s.is_empty()).then(|| s.to_string());
                    }
                }
                "no_auth_user" => {
                    if let Some(s) = self.str(v) {
                        ws.no_auth_user = (!s.is_empty()).then(|| s.to_string());
                    }
                }
                _ => {
                    recoverable = true;
                    self.unknown(k, v);
                }
            }
            if !recoverable && self.errors.len() > errors_before {
                break;
            }
        }
        // nats-server's default host, only for a listener that is on.
        if ws.host.is_empty() && ws.enabled() {
            ws.host = Options::default().host;
        }
        self.opts.websocket = Some(ws);
    }

    /// `websocket { authorization { user, password, token, timeout } }` (nats-server's
    /// `parseSimpleAuth`: no users list).
    fn websocket_auth(&mut self, tk: &Token, ws: &mut WebsocketOptions) {
        // nats-server dereferences the result of a failed parse: a type error in this block
        // is followed by a second, recovered error at the block.
        const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";
        let Some(m) = self.map(tk) else {
            self.err(tk, NIL_DEREF);
            return;
        };
        let errors_before = self.errors.len();
        let mut simple = SimpleAuth::default();
        for (k, v) in m {
            if !self.simple_auth_field(&k.to_ascii_lowercase(), v, &mut simple) {
                // Unknown fields are reported without aborting the block.
                self.unknown(k, v);
                continue;
            }
            if self.errors.len() > errors_before {
                self.err(tk, NIL_DEREF);
                return;
            }
        }
        let SimpleAuth {
            user,
            pass,
            token,
            timeout,
        } = simple;
        ws.username = (!user.is_empty()).then_some(user);
        ws.password = (!pass.is_empty()).then_some(pass);
        ws.token = (!token.is_empty()).then_some(token);
        ws.auth_timeout = if timeout > 0.0 {
            Some(Duration::try_from_secs_f64(timeout).unwrap_or(Duration::MAX))
        } else {
            None
        };
    }

    // ----- jetstream ------------------------------------------------------------------

    fn jetstream(&mut self, tk: &Token) {
        match &tk.value {
            Value::Bool(b) => self.opts.jetstream = *b,
            Value::Str(s) => match s.to_ascii_lowercase().as_str() {
                "enabled" | "enable" => self.opts.jetstream = true,
                "disabled" | "disable" => self.opts.jetstream = false,
                _ => self.err(
                    tk,
                    format!("Expected 'enabled' or 'disabled' for string value, got '{s}'"),
                ),
            },
            Value::Map(m) => {
                let mut enable = true;
                for (k, v) in m {
                    match k.to_ascii_lowercase().as_str() {
                        "store" | "store_dir" | "storedir" => {
                            if let Some(s) = self.str(v) {
                                if self.store_dir_set {
                                    self.err(v, "Duplicate 'store_dir' configuration");
                                    return;
                                }
                                self.store_dir_set = true;
                                self.opts.store_dir = Some(s.to_string());
                            }
                        }
                        "max_memory_store" | "max_mem_store" | "max_mem" => {
                            if let Some(n) = self.int(v) {
                                self.opts.jetstream_max_memory = Some(n);
                            }
                        }
                        "max_file_store" | "max_file" => {
                            if let Some(n) = self.int(v) {
                                self.opts.jetstream_max_store = Some(n);
                            }
                        }
                        "enable" | "enabled" => {
                            if let Some(b) = self.bool(v) {
                                enable = b;
                            }
                        }
                        "domain" | "key" | "ek" | "encryption_key" | "cipher" | "unique_tag" => {
                            if self.str(v).is_some() {
                                self.unsupported(k, v);
                            }
                        }
                        "max_outstanding_catchup" => {
                            if self.int(v).is_some() {
                                self.unsupported(k, v);
                            }
                        }
                        "limits" => {
                            if matches!(v.value, Value::Map(_)) {
                                self.unsupported(k, v);
                            } else {
                                let msg = format!(
                                    "Expected a map to define JetStreamLimits, got {}",
                                    v.value.go_type()
                                );
                                self.err(v, msg);
                            }
                        }
                        _ => self.unknown(k, v),
                    }
                }
                self.opts.jetstream = enable;
            }
            v => {
                let msg = format!(
                    "Expected map, bool or string to define JetStream, got {}",
                    v.go_type()
                );
                self.err(tk, msg);
            }
        }
    }
}

/// Give `default` to every user (of the `permissions` slots given) that has none.
fn apply_default_permissions<'a>(
    users: impl Iterator<Item = &'a mut Option<Permissions>>,
    default: Option<&Permissions>,
) {
    if let Some(p) = default {
        for slot in users.filter(|slot| slot.is_none()) {
            *slot = Some(p.clone());
        }
    }
}

/// Go's `%q` of a config value, as in `fmt.Sprintf("%q", v)`.
fn go_q_verb(v: &Value) -> String {
    match v {
        Value::Str(s) => go_quote(s),
        Value::Int(n) => go_quote_rune(*n),
        Value::Bool(b) => format!("%!q(bool={b})"),
        Value::Float(f) => format!("%!q(float64={f})"),
        Value::Datetime(d) => go_quote(d),
        Value::Array(a) => {
            let parts: Vec<String> = a.iter().map(|t| go_q_verb(&t.value)).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(m) => {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, t)| format!("{k}:{}", go_q_verb(&t.value)))
                .collect();
            parts.sort();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `strconv.QuoteRune` of an integer (`%q` of an int64).
fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}');
    let body = match c {
        '\'' => "\\'".to_string(),
        '\\' => "\\\\".to_string(),
        '\n' => "\\n".to_string(),
        '\r' => "\\r".to_string(),
        '\t' => "\\t".to_string(),
        '\u{7}' => "\\a".to_string(),
        '\u{8}' => "\\b".to_string(),
        '\u{c}' => "\\f".to_string(),
        '\u{b}' => "\\v".to_string(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        c if c.is_control() => format!("\\u{:04x}", c as u32),
        c => c.to_string(),
    };
    format!("'{body}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_like_nats_server() {
        assert!(is_valid_subject("foo.bar"));
        assert!(is_valid_subject("foo.*.>"));
        assert!(is_valid_subject("a*b.c"));
        assert!(!is_valid_subject(""));
        assert!(!is_valid_subject("a..b"));
        assert!(!is_valid_subject("a.>.b"));
        assert!(!is_valid_subject("a b"));
        assert!(check_perm_subjects(&["foo.* queue".to_string()]).is_ok());
        assert_eq!(
            check_perm_subjects(&["a q r".to_string()]),
            Err("subject \"a q r\" is not a valid subject".to_string())
        );
        assert_eq!(
            check_perm_subjects(&["a..b q".to_string()]),
            Err("subject \"a..b\" is not a valid subject".to_string())
        );
    }

    #[test]
    fn host_port_like_go() {
        assert_eq!(
            split_host_port("127.0.0.1:4222"),
            Some(("127.0.0.1", "4222"))
        );
        assert_eq!(split_host_port(":4222"), Some(("", "4222")));
        assert_eq!(split_host_port("[::1]:4222"), Some(("::1", "4222")));
        assert_eq!(split_host_port("localhost:"), Some(("localhost", "")));
        assert_eq!(split_host_port("127.0.0.1"), None);
        assert_eq!(split_host_port("::1:4222"), None);
        assert_eq!(go_atoi("+5"), Some(5));
        assert_eq!(go_atoi("-1"), Some(-1));
        assert_eq!(go_atoi(""), None);
        assert_eq!(go_atoi("4x"), None);
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(go_quote("\u{1}"), "\"\\x01\"");
        assert_eq!(go_quote_rune(65), "'A'");
        assert_eq!(go_quote_rune(1), "'\\x01'");
        assert_eq!(go_quote_rune(39), "'\\''");
        assert_eq!(go_quote_rune(-1), "'\u{fffd}'");
        assert_eq!(go_quote_rune(0x80), "'\\u0080'");
    }
}
