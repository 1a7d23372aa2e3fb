//! Server options: what the command line and the config file set, with nats-server's
//! defaults. Shared by every frontend.

use crate::prelude::*;
use core::fmt;
use core::time::Duration;

/// Default client port.
pub const DEFAULT_PORT: u16 = 4222;
/// Default monitoring port when `-m` is given without one.
pub const DEFAULT_HTTP_PORT: u16 = 8222;
/// Default maximum payload: 1 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 1024 * 1024;
/// Default maximum pending outbound bytes per connection: 64 MiB.
pub const DEFAULT_MAX_PENDING: usize = 64 * 1024 * 1024;
/// Default maximum control line: 4 KiB.
pub const DEFAULT_MAX_CONTROL_LINE: usize = 4096;
/// Default maximum connections: 64K.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64 * 1024;
/// Default auth timeout: 2 s.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(2);
/// Default server ping interval: 2 min.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(120);
/// Default number of unanswered pings before `Stale Connection`.
pub const DEFAULT_PING_MAX: u32 = 2;
/// Default lame duck duration: 2 min.
pub const DEFAULT_LAME_DUCK_DURATION: Duration = Duration::from_secs(120);
/// Default lame duck grace period: 10 s.
pub const DEFAULT_LAME_DUCK_GRACE_PERIOD: Duration = Duration::from_secs(10);
/// Default write deadline: 10 s.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);

/// Everything that configures a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Interface to listen on for clients (`host`, `net`, `listen`, `-a`).
    pub host: String,
    /// Client port; `None` means pick a random free port (`-p -1`).
    pub port: Option<u16>,
    /// Server name (`server_name`, `-n`); defaults to the server id.
    pub server_name: Option<String>,
    /// Client authorization.
    pub authorization: Authorization,
    /// Largest payload a client may publish; `usize::MAX` means no limit (a negative
    /// `max_payload` in the config file).
    pub max_payload: usize,
    /// Most client connections at once; `usize::MAX` means no limit (a negative value in
    /// the config file).
    pub max_connections: usize,
    /// Most subscriptions per connection; 0 means no limit.
    pub max_subscriptions: usize,
    /// Most bytes pending to one connection before it is a slow consumer.
    pub max_pending: usize,
    /// Longest control line a client may send; `usize::MAX` means no limit (a negative
    /// value in the config file).
    pub max_control_line: usize,
    /// Interval between server PINGs.
    pub ping_interval: Duration,
    /// Unanswered PINGs before the connection is stale.
    pub ping_max: u32,
    /// How long one write may block before the connection is a slow consumer.
    pub write_deadline: Duration,
    /// Log debug lines.
    pub debug: bool,
    /// Log protocol traces.
    pub trace: bool,
    /// Prefix log lines with a timestamp.
    pub logtime: bool,
    /// Log to this file instead of standard error.
    pub log_file: Option<String>,
    /// Rotate the log file when it reaches this many bytes; 0 means never
    /// (`log_size_limit`, `--log_size_limit`).
    pub log_size_limit: u64,
    /// Longest part of a message shown in a trace line; 0 means no limit
    /// (`max_traced_msg_len`, `--max_traced_msg_len`).
    pub max_traced_msg_len: usize,
    /// Write the process id to this file.
    pub pid_file: Option<String>,
    /// Write `<program>_<pid>.ports` (the listening URLs as JSON) into this directory
    /// (`ports_file_dir`, `--ports_file_dir`).
    pub ports_file_dir: Option<String>,
    /// Interface for the monitoring endpoint. The config loader and the command line set it
    /// to `host` unless `http: host:port` names one, as nats-server does.
    pub http_host: String,
    /// Monitoring port; `None` = monitoring off; `Some(0)` = random port.
    pub http_port: Option<u16>,
    /// JetStream requested (accepted; persistence comes later).
    pub jetstream: bool,
    /// JetStream store directory.
    pub store_dir: Option<String>,
    /// JetStream memory storage limit in bytes (`jetstream { max_mem }`); `None` = dynamic.
    pub jetstream_max_memory: Option<i64>,
    /// JetStream file storage limit in bytes (`jetstream { max_file }`); `None` = dynamic.
    pub jetstream_max_store: Option<i64>,
    /// Treat unknown config keys as errors, as nats-server does (the default). When false
    /// they are only warnings. Blocks and keys nats-server knows but rnats does not
    /// implement yet are warnings either way.
    pub strict: bool,
    /// Disable the sublist result caches.
    pub no_sublist_cache: bool,
    /// `no_fast_producer_stall`: never hold back a publisher whose subscribers fall
    /// behind (they are then cut off as slow consumers sooner).
    pub no_fast_producer_stall: bool,
    /// Accounts defined in the config file (besides the global account `$G`).
    pub accounts: Vec<AccountOptions>,
    /// Lame duck mode: time over which clients are closed.
    pub lame_duck_duration: Duration,
    /// Lame duck mode: wait before the first client is closed.
    pub lame_duck_grace_period: Duration,
    /// Path of the config file these options came from, if any.
    pub config_file: Option<String>,
    /// The `websocket { ... }` block: a second listener for browser clients. `None` when
    /// the config has no such block.
    pub websocket: Option<WebsocketOptions>,
    /// The top-level `tls { ... }` block (or the `--tls*` flags): clients on the TCP port
    /// must speak TLS after the INFO.
    pub tls: Option<TlsOptions>,
}

/// nats-server's TLS handshake limit when the `tls` block sets no `timeout`.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

impl Options {
    /// The auth timeout in force: `authorization { timeout }`, else nats-server's default,
    /// which is the TLS timeout plus a second when clients must use TLS (their CONNECT
    /// comes after the handshake) and 2 s otherwise.
    pub fn auth_timeout(&self) -> Duration {
        match (self.authorization.timeout, &self.tls) {
            (Some(t), _) => t,
            (None, Some(_)) => self.tls_timeout() + Duration::from_secs(1),
            (None, None) => DEFAULT_AUTH_TIMEOUT,
        }
    }

    /// Whether a configured password is stored in plain text rather than as a bcrypt hash
    /// (nats-server warns about it at startup): the single user's, or any user's of
    /// `authorization` or an account.
    pub fn has_plaintext_passwords(&self) -> bool {
        let plain = |p: &str| !p.is_empty() && !p.starts_with("$2");
        self.authorization.password.as_deref().is_some_and(plain)
            || self
                .authorization
                .users
                .iter()
                .chain(self.accounts.iter().flat_map(|a| a.users.iter()))
                .any(|u| plain(&u.password))
    }

    /// How long a TCP client's TLS handshake may take.
    pub fn tls_timeout(&self) -> Duration {
        self.tls
            .as_ref()
            .and_then(|t| t.timeout)
            .unwrap_or(DEFAULT_TLS_TIMEOUT)
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: "0.0.0.0".to_string(),
            port: Some(DEFAULT_PORT),
            server_name: None,
            authorization: Authorization::default(),
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscriptions: 0,
            max_pending: DEFAULT_MAX_PENDING,
            max_control_line: DEFAULT_MAX_CONTROL_LINE,
            ping_interval: DEFAULT_PING_INTERVAL,
            ping_max: DEFAULT_PING_MAX,
            write_deadline: DEFAULT_WRITE_DEADLINE,
            debug: false,
            trace: false,
            logtime: true,
            log_file: None,
            log_size_limit: 0,
            max_traced_msg_len: 0,
            pid_file: None,
            ports_file_dir: None,
            http_host: "0.0.0.0".to_string(),
            http_port: None,
            jetstream: false,
            store_dir: None,
            jetstream_max_memory: None,
            jetstream_max_store: None,
            strict: true,
            no_sublist_cache: false,
            no_fast_producer_stall: false,
            accounts: Vec::new(),
            lame_duck_duration: DEFAULT_LAME_DUCK_DURATION,
            lame_duck_grace_period: DEFAULT_LAME_DUCK_GRACE_PERIOD,
            config_file: None,
            websocket: None,
            tls: None,
        }
    }
}

/// Client authorization: one of a token, a single user/password, or a users list.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Authorization {
    /// Single user name.
    pub user: Option<String>,
    /// Password of the single user (plain or bcrypt `$2a$…`).
    pub password: Option<String>,
    /// Token (plain or bcrypt).
    pub token: Option<String>,
    /// Users with their own passwords and permissions.
    pub users: Vec<User>,
    /// Users who log in with an nkey.
    pub nkey_users: Vec<NkeyUser>,
    /// Permissions for the single user / token user.
    pub default_permissions: Option<Permissions>,
    /// Time a client has to send CONNECT when auth is required.
    pub timeout: Option<Duration>,
    /// User assumed when a client sends no credentials.
    pub no_auth_user: Option<String>,
}

impl Authorization {
    /// Whether any form of authentication is configured.
    pub fn is_required(&self) -> bool {
        self.user.is_some()
            || self.token.is_some()
            || !self.users.is_empty()
            || !self.nkey_users.is_empty()
    }
}

/// One entry of `authorization { users: [...] }`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct User {
    /// User name.
    pub username: String,
    /// Password (plain or bcrypt `$2a$…`/`$2b$…`/`$2y$…`).
    pub password: String,
    /// This user's permissions; `None` allows everything.
    pub permissions: Option<Permissions>,
    /// The account the user belongs to; `None` is the global account `$G`.
    pub account: Option<String>,
    /// `allowed_connection_types` (upper case: `STANDARD`, `WEBSOCKET`, …); `None` allows
    /// every type.
    pub allowed_connection_types: Option<Vec<String>>,
}

/// A user of a `users` list who logs in with an nkey: no name or password, but a
/// signature of the server's nonce made with the key whose public half is configured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NkeyUser {
    /// The user's public nkey (`U…`).
    pub public_key: String,
    /// This user's permissions; `None` allows everything.
    pub permissions: Option<Permissions>,
    /// The account the user belongs to; `None` is the global account `$G`.
    pub account: Option<String>,
    /// `allowed_connection_types`, as for [`User`].
    pub allowed_connection_types: Option<Vec<String>>,
}

/// One entry of `accounts { NAME: { users: [...] } }`: a separate subject namespace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AccountOptions {
    /// Account name.
    pub name: String,
    /// Users who log into this account (their `account` is set to `name`).
    pub users: Vec<User>,
    /// Nkey users who log into this account.
    pub nkey_users: Vec<NkeyUser>,
}

/// Publish/subscribe permissions of a user.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Permissions {
    /// Subjects the user may publish to.
    pub publish: Option<SubjectPermission>,
    /// Subjects the user may subscribe to.
    pub subscribe: Option<SubjectPermission>,
    /// `allow_responses`: publishing to reply subjects of received requests.
    ///
    /// When set, nats-server also turns off the blanket publish allow: only the subjects in
    /// `publish.allow` (an empty list then allows *nothing*) and the reply subjects may be
    /// published to. The config loader sets `publish` to an empty permission in that case.
    pub response: Option<ResponsePermission>,
}

/// Allow and deny lists of subjects (wildcards allowed).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubjectPermission {
    /// Allowed subjects; empty means all are allowed (unless denied).
    pub allow: Vec<String>,
    /// Denied subjects; a deny wins over an allow.
    pub deny: Vec<String>,
}

/// `allow_responses`: how many replies, for how long, a user may publish to a reply subject.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePermission {
    /// Replies allowed per request (default 1); `usize::MAX` means no limit (a negative
    /// `max` in the config).
    pub max_msgs: usize,
    /// How long the permission lasts (default 2 min); zero means no expiry (a negative
    /// `expires` in the config).
    pub expires: Duration,
}

impl Default for ResponsePermission {
    fn default() -> Self {
        ResponsePermission {
            max_msgs: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// A `tls { ... }` block, as nats-server reads it, with the files it names already read
/// (nats-server loads them while parsing the config, and reports their errors there). The
/// engine only checks that they hold the right PEM blocks; a frontend's TLS library parses
/// them.
#[derive(Clone, PartialEq, Default)]
pub struct TlsOptions {
    /// `cert_file`: path of the PEM certificate chain.
    pub cert_file: Option<String>,
    /// `key_file`: path of the PEM private key.
    pub key_file: Option<String>,
    /// `ca_file`: path of the PEM certificates that client certificates must chain to.
    pub ca_file: Option<String>,
    /// `verify`: require a client certificate signed by `ca_file`'s certificates.
    pub verify: bool,
    /// `timeout`: the TLS handshake limit nats-server applies to TCP clients (kept for
    /// `/varz`; WebSocket handshakes are bounded by `handshake_timeout`, as in nats-server).
    pub timeout: Option<Duration>,
    /// `handshake_first` (nats-server 2.10): the TLS handshake before the INFO.
    pub handshake_first: HandshakeFirst,
    /// The text of `cert_file` (both or neither of the pair are set).
    pub cert_pem: Option<String>,
    /// The text of `key_file`.
    pub key_pem: Option<String>,
    /// The text of `ca_file`.
    pub ca_pem: Option<String>,
}

/// When a TCP client's TLS handshake happens (nats-server 2.10's `handshake_first`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandshakeFirst {
    /// After the INFO, which goes out in plain text (the classic way, and the default).
    #[default]
    Off,
    /// Before anything: the client starts TLS at once, the INFO comes inside TLS.
    On,
    /// As `On` if the client starts TLS within this delay; else the INFO goes out in
    /// plain text and the handshake follows, as with `Off` (`"auto"`: 50 ms).
    Fallback(Duration),
}

/// nats-server's fallback delay for `handshake_first: auto`.
pub const DEFAULT_HANDSHAKE_FIRST_FALLBACK: Duration = Duration::from_millis(50);

impl fmt::Debug for TlsOptions {
    /// Without the private key, so that printing options cannot leak it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("ca_file", &self.ca_file)
            .field("verify", &self.verify)
            .field("timeout", &self.timeout)
            .field("handshake_first", &self.handshake_first)
            .finish_non_exhaustive()
    }
}

/// The `websocket { ... }` block, as nats-server 2.9 reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebsocketOptions {
    /// Interface to listen on (`host`, `net`, `listen`); the config loader fills in
    /// `0.0.0.0` when the block sets none.
    pub host: String,
    /// Port (`port`, `listen`), with the convention of `http_port`: `None` leaves the
    /// listener off (port 0 or no port, as in nats-server); `Some(0)` picks a random free
    /// port (`-1` in the config). Once listening, frontends store the bound port here so that
    /// `/varz` shows it.
    pub port: Option<u16>,
    /// `advertise`: the `host:port` to tell clients (shown in `/varz`).
    pub advertise: Option<String>,
    /// `no_tls: true`: serve plain `ws://`. nats-server refuses to start without it unless a
    /// `tls` block is given; with a `tls` block it is ignored (TLS wins).
    pub no_tls: bool,
    /// `tls { ... }`: serve `wss://` with this certificate.
    pub tls: Option<TlsOptions>,
    /// `same_origin`: a browser's `Origin` must be the host and port it connected to.
    pub same_origin: bool,
    /// `allowed_origins`: a browser's `Origin` must be one of these URLs (scheme, host,
    /// port).
    pub allowed_origins: Vec<String>,
    /// `compression`: allow permessage-deflate. Accepted and shown in `/varz`; rnats always
    /// declines the extension, which every client handles.
    pub compression: bool,
    /// `handshake_timeout`: how long the HTTP upgrade may take; `None` = no limit (the
    /// nats-server default).
    pub handshake_timeout: Option<Duration>,
    /// `jwt_cookie`: accepted; JWT authentication is not supported by rnats yet.
    pub jwt_cookie: Option<String>,
    /// `no_auth_user` for WebSocket clients (overrides the top-level one).
    pub no_auth_user: Option<String>,
    /// `authorization { user }`: the user WebSocket clients must log in as.
    pub username: Option<String>,
    /// `authorization { password }`.
    pub password: Option<String>,
    /// `authorization { token }`.
    pub token: Option<String>,
    /// `authorization { timeout }`: the auth timeout for WebSocket clients.
    pub auth_timeout: Option<Duration>,
}

impl WebsocketOptions {
    /// Whether the listener is on (nats-server: a port other than 0).
    pub fn enabled(&self) -> bool {
        self.port.is_some()
    }

    /// Whether the block sets its own authentication for WebSocket clients (nats-server's
    /// `authOverride`): then `username`/`password`/`token`/`no_auth_user` replace the
    /// top-level ones for them, and they must authenticate even if TCP clients need not.
    pub fn auth_override(&self) -> bool {
        self.username.is_some() || self.token.is_some() || self.no_auth_user.is_some()
    }
}
