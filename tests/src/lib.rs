//! Differential integration-test harness for rnats.
//!
//! Every test in `tests/tests/*.rs` runs against **every server in one list**: the reference
//! Go `nats-server` and each rnats frontend. A behaviour that rnats gets wrong shows up
//! as a failure naming the server it failed on, while the same test passing on nats-server
//! proves the expectation itself is right.
//!
//! A frontend is a binary *and* a [`Transport`]: `tokio` and `smol` are the two binaries
//! reached over TCP, `tokio-ws` and `smol-ws` the same binaries with every client of the
//! test going through their `websocket` listener ([`RawClient::connect`] upgrades and sends
//! the NATS bytes in binary frames; [`TestServer::url`] is `ws://…` for async-nats). The
//! reference run stays nats-server over TCP; `nats-server-ws` (opt-in) drives nats-server
//! through its own WebSocket listener, to check that an expectation holds for a real
//! WebSocket client of nats-server too.
//!
//! # Running
//!
//! ```text
//! cargo test -p rnats-tests                                  # every server
//! RNATS_TEST_SERVERS=nats-server cargo test -p rnats-tests   # only the reference server
//! RNATS_TEST_SERVERS=tokio cargo test -p rnats-tests --test wire
//! RNATS_TEST_SERVERS=smol,nats-server cargo test -p rnats-tests
//! RNATS_TEST_SERVERS=tokio-ws,nats-server-ws cargo test -p rnats-tests --test wire
//! ```
//!
//! Environment variables:
//!
//! | variable | meaning |
//! |---|---|
//! | `RNATS_TEST_SERVERS` | comma list restricting the servers: `nats-server`, a frontend name (`tokio`, `smol`, `tokio-ws`, `smol-ws`), `rnats` (= every frontend), or the opt-in `nats-server-ws`. Default: nats-server and every frontend. |
//! | `NATS_SERVER_BIN` | path of the reference server; default `nats-server` from `PATH`. Missing → the tests **fail** and tell how to install it (`apt-get install nats-server`). |
//! | `RNATS_SERVER_BIN`, `RNATS_SERVER_SMOL_BIN` | path of the tokio / smol binary, for their TCP and WebSocket frontends alike (each frontend names its variable, see [`Frontend::bin_env`]). When unset the harness runs one `cargo build -p <package> --bin <bin> …` for every frontend under test, once per test process and before any test's watchdog starts (same profile as the test binary), and uses the executables cargo reports. |
//! | `RNATS_TEST_NO_BUILD` | `1`: do not run cargo; look for the binary in the target directory. |
//! | `RNATS_TEST_TIMEOUT_SECS` | per-server watchdog for one test (default 60). |
//! | `RNATS_TEST_KEEP_TMP` | `1`: keep each server's temp directory (config, logs). |
//!
//! # The suite
//!
//! | file | servers | what |
//! |---|---|---|
//! | `tests/wire.rs` | all | byte-exact protocol: INFO, CONNECT, PUB/SUB/MSG, HPUB/HMSG, UNSUB, wildcards, queues, echo, pedantic, no-responders, parser leniency, limits, auth, permissions, accounts, server PINGs |
//! | `tests/client.rs` | all | the real `async-nats` client |
//! | `tests/bad_input.rs` | all | hostile clients; the server and other clients must be unaffected |
//! | `tests/monitor.rs` | TCP | HTTP monitoring (`/varz`, `/connz`, `/subsz`, `/healthz`) |
//! | `tests/cli.rs` | TCP | flags, config file syntax, config errors |
//! | `tests/lifecycle.rs` | TCP | signals, lame duck mode, reload, pid/log files |
//! | `tests/websocket.rs` | TCP | the `websocket` listener with [`RawClient::connect_ws`]: wire scenarios over WebSocket against TCP, framing, bad input, close handshake, upgrade answers, `Origin` checks, the block's authorization, monitoring |
//! | `tests/websocket_tls.rs` | TCP | WebSocket over TLS (`wss://`, the block's `tls {}` with the certificates of `tests/certs/`): async-nats over wss, a TCP and a wss client sharing subjects, `verify` with `ca_file` (client certificates), the startup log line, the block's TLS config errors against nats-server's |
//! | `tests/tls.rs` | TCP | TLS on the client port (the top-level `tls {}` block and the `--tls*` flags, certificates of `tests/certs/`): async-nats over `tls://`, the plain-text `INFO` then the protocol inside TLS (raw rustls client), plain-text and silent clients closed (`timeout`), `verify` with `ca_file`, the startup log line and `/varz`, the `INFO` of WebSocket clients, the flags and their errors, the block's config errors against nats-server's |
//! | `tests/nats_ws.rs` | TCP | the official `nats.ws` client in Node (`tests/js/`, `node --test`) against each WebSocket listener, over `ws://` and over `wss://` |
//!
//! "all": [`for_each_server`], every server of the list, WebSocket frontends included: the
//! wire-exact, client and bad-input cases hold over every transport (nats-server over its
//! own WebSocket listener passes them unchanged too), so none is skipped there. "TCP":
//! [`for_each_tcp_server`], every *binary* once: these test the process (flags, signals,
//! the monitor) or pick the listener themselves, so a WebSocket frontend would only repeat
//! its TCP twin.
//!
//! # Writing a test
//!
//! ```no_run
//! use rnats_tests::{for_each_server, RawClient, ServerConfig, TestServer};
//!
//! #[test]
//! fn ping_pong() {
//!     for_each_server(|kind| {
//!         let server = TestServer::start(kind, ServerConfig::default());
//!         let mut c = RawClient::connect(&server);
//!         c.send(b"CONNECT {\"verbose\":false}\r\n");
//!         assert_eq!(c.roundtrip(b""), b"");
//!     });
//! }
//! ```
//!
//! [`for_each_server`] runs the closure once per server, each on its own thread (so the
//! servers are exercised in parallel), collects every failure and panics with a summary
//! naming the failing servers. Async tests use [`for_each_server_async`].
//!
//! * [`TestServer`] starts a server on free loopback ports with an optional config file and
//!   extra arguments, waits until it answers with `INFO`, and kills it on drop (the child
//!   also dies with the test thread that spawned it, via `PR_SET_PDEATHSIG`).
//! * [`RawClient`] is a blocking, wire-exact client with timeouts everywhere, over the
//!   server's transport (TCP, or WebSocket binary frames — same API). It parses
//!   the server's output into frames (so a server-initiated `PING` can be skipped without
//!   corrupting payloads) and offers PING/PONG barriers ([`RawClient::roundtrip`]) so tests
//!   rarely have to sleep.
//! * [`http_get`] / [`http_get_json`] are a minimal HTTP/1.0 client for the monitoring port.
//! * [`run_server_command`] runs a server binary to completion (CLI tests: `-v`, bad config).
//!
//! # Adding a frontend
//!
//! Add one line to the `frontends!` invocation in `src/lib.rs` (variant, name, cargo package,
//! binary, env variable, transport). Every test then runs against it too: over
//! [`Transport::Tcp`] as it is; over [`Transport::WebSocket`] [`TestServer::start`] adds
//! `websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true }` to whatever config the
//! test asked for (unless that config has its own block with `{ws_port}`), and
//! [`RawClient::connect`] / [`TestServer::url`] go through it. Two frontends may share a
//! binary (it is built once). A new transport adds a [`Transport`] variant and teaches
//! [`RawClient::try_connect`], [`TestServer::url`] and [`TestServer::transport_port`] about it.

use std::fmt;
use std::future::Future;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

mod http;
mod raw;
mod server;
pub mod ws;

pub use http::{http_get, http_get_json, HttpResponse};
pub use raw::{sorted_frames, split_frames, Frame, RawClient, ReadError};
pub use server::{
    free_port, nats_server_binary, prepare_binaries, run_server_command, server_binary,
    CommandOutput, ServerConfig, TempDir, TestServer,
};

/// How a server's clients reach it: what [`RawClient::connect`] dials and what
/// [`TestServer::url`] hands to async-nats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// NATS protocol over a plain TCP socket.
    Tcp,
    /// NATS protocol in binary WebSocket frames, through the server's `websocket` listener
    /// (`no_tls`), which [`TestServer::start`] adds to whatever the test configured.
    WebSocket,
}

/// Declares the rnats frontends. One line per frontend:
/// `Variant => (name, cargo package, binary name, binary env var, transport)`.
macro_rules! frontends {
    ($($variant:ident => ($name:literal, $package:literal, $bin:literal, $env:literal, $transport:expr)),+ $(,)?) => {
        /// An rnats frontend (an async runtime / transport wrapped around the sans-IO engine).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Frontend {
            $(
                #[doc = concat!("The `", $name, "` frontend (package `", $package, "`, binary `", $bin, "`).")]
                $variant,
            )+
        }

        impl Frontend {
            /// Every frontend, in declaration order.
            pub const ALL: &'static [Frontend] = &[$(Frontend::$variant),+];

            /// Short name used in `RNATS_TEST_SERVERS` and in failure reports.
            pub fn name(self) -> &'static str {
                match self { $(Frontend::$variant => $name),+ }
            }

            /// Cargo package that builds the binary.
            pub fn package(self) -> &'static str {
                match self { $(Frontend::$variant => $package),+ }
            }

            /// Name of the binary target.
            pub fn bin(self) -> &'static str {
                match self { $(Frontend::$variant => $bin),+ }
            }

            /// Environment variable that overrides the binary's path.
            pub fn bin_env(self) -> &'static str {
                match self { $(Frontend::$variant => $env),+ }
            }

            /// How clients reach this frontend.
            pub fn transport(self) -> Transport {
                match self { $(Frontend::$variant => $transport),+ }
            }
        }
    };
}

frontends! {
    Tokio => ("tokio", "rnats-tokio", "rnats-server", "RNATS_SERVER_BIN", Transport::Tcp),
    Smol => ("smol", "rnats-smol", "rnats-server-smol", "RNATS_SERVER_SMOL_BIN", Transport::Tcp),
    // The same binaries again, every client going through their WebSocket listener
    // (rnats-ws over each runtime). The suite waits on the network far more than it
    // computes, so these two lines cost well under a second of its time.
    TokioWs => ("tokio-ws", "rnats-tokio", "rnats-server", "RNATS_SERVER_BIN", Transport::WebSocket),
    SmolWs => ("smol-ws", "rnats-smol", "rnats-server-smol", "RNATS_SERVER_SMOL_BIN", Transport::WebSocket),
}

/// A server implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// The reference Go server (`nats-server`, 2.9.10 from Debian on the dev machines),
    /// reached over TCP: the reference run for every frontend, WebSocket ones included.
    NatsServer,
    /// The reference server with every client going through its own `websocket` listener.
    /// Not in the default set (it would add a server to every test); select it with
    /// `RNATS_TEST_SERVERS=nats-server-ws` to see what a real WebSocket client of
    /// nats-server gets, e.g. before calling a difference "transport-specific".
    NatsServerWs,
    /// An rnats frontend binary.
    Rnats(Frontend),
}

impl ServerKind {
    /// The default set: nats-server (over TCP) first, then every rnats frontend.
    pub fn all() -> Vec<ServerKind> {
        std::iter::once(ServerKind::NatsServer)
            .chain(Frontend::ALL.iter().map(|&f| ServerKind::Rnats(f)))
            .collect()
    }

    /// Name used in `RNATS_TEST_SERVERS` and in reports (`nats-server`, `tokio`, …).
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::NatsServer => "nats-server",
            ServerKind::NatsServerWs => "nats-server-ws",
            ServerKind::Rnats(f) => f.name(),
        }
    }

    /// How clients reach this server.
    pub fn transport(self) -> Transport {
        match self {
            ServerKind::NatsServer => Transport::Tcp,
            ServerKind::NatsServerWs => Transport::WebSocket,
            ServerKind::Rnats(f) => f.transport(),
        }
    }

    /// True for the reference server (over either transport).
    pub fn is_reference(self) -> bool {
        matches!(self, ServerKind::NatsServer | ServerKind::NatsServerWs)
    }
}

impl fmt::Display for ServerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses one `RNATS_TEST_SERVERS` entry.
fn parse_kinds(item: &str) -> Option<Vec<ServerKind>> {
    let item = item.trim().to_ascii_lowercase();
    match item.as_str() {
        "nats-server" | "nats" | "go" | "reference" => Some(vec![ServerKind::NatsServer]),
        "nats-server-ws" | "nats-ws" | "reference-ws" => Some(vec![ServerKind::NatsServerWs]),
        "rnats" => Some(
            Frontend::ALL
                .iter()
                .map(|&f| ServerKind::Rnats(f))
                .collect(),
        ),
        "all" => Some(ServerKind::all()),
        other => {
            let other = other.strip_prefix("rnats-").unwrap_or(other);
            Frontend::ALL
                .iter()
                .find(|f| f.name() == other)
                .map(|&f| vec![ServerKind::Rnats(f)])
        }
    }
}

/// The servers every test runs against: all of them, unless `RNATS_TEST_SERVERS` (a comma
/// list such as `nats-server,tokio`) restricts the set. An unknown name panics with the list
/// of valid ones.
pub fn servers_under_test() -> Vec<ServerKind> {
    let spec = std::env::var("RNATS_TEST_SERVERS").unwrap_or_default();
    if spec.trim().is_empty() {
        return ServerKind::all();
    }
    let mut out: Vec<ServerKind> = Vec::new();
    for item in spec.split(',').filter(|s| !s.trim().is_empty()) {
        let kinds = parse_kinds(item).unwrap_or_else(|| {
            let valid: Vec<&str> = ServerKind::all()
                .iter()
                .chain([&ServerKind::NatsServerWs])
                .map(|k| k.name())
                .collect();
            panic!(
                "RNATS_TEST_SERVERS: unknown server {item:?}; valid names: {} (or `rnats`, `all`)",
                valid.join(", ")
            )
        });
        for k in kinds {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}

fn watchdog() -> Duration {
    let secs = std::env::var("RNATS_TEST_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// Runs `test` once for every server of [`servers_under_test`], each on its own thread named
/// after the server, in parallel. Waits for all of them (each bounded by the
/// `RNATS_TEST_TIMEOUT_SECS` watchdog), then panics with one line per failing server.
pub fn for_each_server<F>(test: F)
where
    F: Fn(ServerKind) + Send + Sync + 'static,
{
    run_on(servers_under_test(), test);
}

/// [`for_each_server`] restricted to the servers reached over plain TCP, which is every
/// server binary once. For tests of the process (flags, config files, signals, monitoring)
/// and tests that pick the listener themselves (`websocket.rs`): on a WebSocket frontend,
/// the same binary as a TCP one, they would only repeat the TCP run.
pub fn for_each_tcp_server<F>(test: F)
where
    F: Fn(ServerKind) + Send + Sync + 'static,
{
    let kinds = servers_under_test()
        .into_iter()
        .filter(|k| k.transport() == Transport::Tcp)
        .collect();
    run_on(kinds, test);
}

fn run_on<F>(kinds: Vec<ServerKind>, test: F)
where
    F: Fn(ServerKind) + Send + Sync + 'static,
{
    if kinds.is_empty() {
        // E.g. RNATS_TEST_SERVERS=tokio-ws and a test of the TCP servers only.
        eprintln!("no server of RNATS_TEST_SERVERS runs this test");
        return;
    }
    let test = Arc::new(test);
    server::prepare_binaries(&kinds);
    let (tx, rx) = mpsc::channel::<(ServerKind, Result<(), String>)>();
    for &kind in &kinds {
        let tx = tx.clone();
        let test = Arc::clone(&test);
        std::thread::Builder::new()
            .name(kind.name().to_string())
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(kind)));
                let _ = tx.send((kind, r.map_err(|p| panic_message(&*p))));
            })
            .expect("spawn test thread");
    }
    drop(tx);

    let deadline = std::time::Instant::now() + watchdog();
    let mut results: Vec<(ServerKind, Result<(), String>)> = Vec::new();
    while results.len() < kinds.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(r) => results.push(r),
            Err(_) => break,
        }
    }
    let mut failures: Vec<String> = Vec::new();
    for &kind in &kinds {
        match results.iter().find(|(k, _)| *k == kind) {
            Some((_, Ok(()))) => {}
            Some((_, Err(msg))) if msg.starts_with(&format!("[{kind}]")) => {
                failures.push(msg.clone())
            }
            Some((_, Err(msg))) => failures.push(format!("[{kind}] {msg}")),
            None => failures.push(format!(
                "[{kind}] did not finish within {:?} (RNATS_TEST_TIMEOUT_SECS)",
                watchdog()
            )),
        }
    }
    if !failures.is_empty() {
        let names: Vec<String> = kinds.iter().map(|k| k.to_string()).collect();
        panic!(
            "failed on {} of {} server(s) ({}):\n{}",
            failures.len(),
            kinds.len(),
            names.join(", "),
            failures.join("\n")
        );
    }
}

/// Async flavour of [`for_each_server`]: every server gets its own thread with its own
/// current-thread tokio runtime (IO and time enabled), on which the future runs.
pub fn for_each_server_async<F, Fut>(test: F)
where
    F: Fn(ServerKind) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for_each_server(move |kind| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build tokio runtime");
        rt.block_on(test(kind));
    });
}

/// Async flavour of [`for_each_tcp_server`]: each server binary once, every one on its own
/// thread with its own current-thread tokio runtime.
pub fn for_each_tcp_server_async<F, Fut>(test: F)
where
    F: Fn(ServerKind) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    for_each_tcp_server(move |kind| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build tokio runtime");
        rt.block_on(test(kind));
    });
}

/// Absolute path of a file of `tests/certs/` (see its `generate.sh`): `ca.pem` (the CA that
/// signed the others), `server.pem` / `server.key` (for `localhost` and `127.0.0.1`),
/// `client.pem` / `client.key` (a client certificate, for `verify: true`).
pub fn cert_path(file: &str) -> String {
    format!("{}/certs/{file}", env!("CARGO_MANIFEST_DIR"))
}

/// Polls `f` every 20 ms until it returns `Some`, or panics with `what` after `timeout`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if std::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Shows bytes as an escaped string (`\r\n` visible) for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// Asserts that two byte strings are equal, printing both escaped on failure.
#[track_caller]
pub fn assert_bytes_eq(actual: &[u8], expected: &[u8], context: &str) {
    if actual != expected {
        panic!(
            "{context}:\n  expected: \"{}\"\n  actual:   \"{}\"",
            show(expected),
            show(actual)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse() {
        assert_eq!(
            parse_kinds("nats-server"),
            Some(vec![ServerKind::NatsServer])
        );
        assert_eq!(
            parse_kinds(" Tokio "),
            Some(vec![ServerKind::Rnats(Frontend::Tokio)])
        );
        assert_eq!(
            parse_kinds("rnats-tokio"),
            Some(vec![ServerKind::Rnats(Frontend::Tokio)])
        );
        assert_eq!(
            parse_kinds("tokio-ws"),
            Some(vec![ServerKind::Rnats(Frontend::TokioWs)])
        );
        assert_eq!(
            parse_kinds("nats-server-ws"),
            Some(vec![ServerKind::NatsServerWs])
        );
        assert!(!ServerKind::all().contains(&ServerKind::NatsServerWs));
        assert_eq!(parse_kinds("bogus"), None);
        assert_eq!(ServerKind::all()[0], ServerKind::NatsServer);
    }
}
