//! Locating server binaries, starting them on free ports, running them to completion.

use std::collections::HashSet;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{Frontend, ServerKind, Transport};

/// How a test wants its server started.
///
/// In `config_file_text`, `args`, and `extra_files` the placeholders `{port}` and
/// `{http_port}` are replaced with the ports the harness allocated, and `{dir}` with the
/// server's private temp directory (for pid files, log files, includes by absolute path).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Written to `server.conf` in the server's private temp dir and passed as `-c <path>`.
    pub config_file_text: Option<String>,
    /// Extra command-line arguments, appended after the harness's own.
    pub args: Vec<String>,
    /// Start the HTTP monitor: allocates `{http_port}`, adds `-m <http_port>` (unless
    /// `listen_args` is off) and waits until that port accepts connections.
    pub monitoring: bool,
    /// Files written next to the config file (`(name, contents)`), e.g. for `include`.
    pub extra_files: Vec<(String, String)>,
    /// Extra environment variables for the server process.
    pub env: Vec<(String, String)>,
    /// Pass `-a 127.0.0.1 -p <port>` (and `-m <http_port>` with `monitoring`); default
    /// `true`. Tests of other spellings of these flags set it to `false` and put `{port}` /
    /// `{http_port}` into `args` or the config themselves.
    pub listen_args: bool,
    /// Serve WebSocket clients: allocates `{ws_port}` and waits until it accepts. Unless
    /// the config text uses `{ws_port}` itself, `websocket { host: 127.0.0.1, port:
    /// {ws_port}, no_tls: true }` is appended to it (a config file is written if needed).
    /// Implied for a server whose [`crate::Transport`] is WebSocket.
    pub websocket: bool,
    /// The client port says nothing until the client speaks (TLS `handshake_first`): the
    /// server is ready once that port accepts, instead of once it sends an INFO.
    pub silent_client_port: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            config_file_text: None,
            args: Vec::new(),
            monitoring: false,
            extra_files: Vec::new(),
            env: Vec::new(),
            listen_args: true,
            websocket: false,
            silent_client_port: false,
        }
    }
}

impl ServerConfig {
    /// A server with the given config file text.
    pub fn config(text: impl Into<String>) -> Self {
        ServerConfig {
            config_file_text: Some(text.into()),
            ..Default::default()
        }
    }

    /// A server with extra command-line arguments.
    pub fn args<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ServerConfig {
            args: args.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Builder: serve WebSocket clients too (see [`ServerConfig::websocket`]).
    pub fn with_websocket(mut self) -> Self {
        self.websocket = true;
        self
    }

    /// Builder: see [`ServerConfig::silent_client_port`].
    pub fn with_silent_client_port(mut self) -> Self {
        self.silent_client_port = true;
        self
    }

    /// Builder: enable the HTTP monitor.
    pub fn with_monitoring(mut self) -> Self {
        self.monitoring = true;
        self
    }

    /// Builder: add an environment variable.
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Builder: add a file next to the config file.
    pub fn with_file(mut self, name: &str, contents: &str) -> Self {
        self.extra_files
            .push((name.to_string(), contents.to_string()));
        self
    }
}

// ---------------------------------------------------------------------------------------
// Binaries
// ---------------------------------------------------------------------------------------

/// Path of the reference `nats-server`: `NATS_SERVER_BIN`, else the first `nats-server` on
/// `PATH` (plus `/usr/sbin`, where Debian installs it). Panics with install instructions
/// when it is missing: the suite must never silently skip the reference.
pub fn nats_server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "NATS_SERVER_BIN={} does not exist",
            p.display()
        );
        return p;
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), "/usr/bin".into()]);
    for dir in dirs {
        let cand = dir.join("nats-server");
        if cand.is_file() {
            return cand;
        }
    }
    panic!(
        "the reference nats-server was not found on PATH (nor NATS_SERVER_BIN).\n\
         Install it: `sudo apt-get install nats-server` (Debian/Ubuntu; scripts/install-test-deps.sh does this),\n\
         or point NATS_SERVER_BIN at a nats-server binary. The differential tests cannot run without it."
    )
}

/// Profile directory of the running test binary (`…/target/<profile>/deps/<test>` → `…/target/<profile>`).
fn profile_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let deps = exe.parent()?;
    if deps.file_name()? == "deps" {
        Some(deps.parent()?.to_path_buf())
    } else {
        Some(deps.to_path_buf())
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Looks for the binary in the target directory, without building.
fn find_built_binary(f: Frontend) -> Option<PathBuf> {
    let mut cands = Vec::new();
    if let Some(d) = profile_dir() {
        cands.push(d.join(f.bin()));
    }
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        cands.push(PathBuf::from(&t).join("debug").join(f.bin()));
        cands.push(PathBuf::from(&t).join("release").join(f.bin()));
    }
    let t = workspace_root().join("target");
    cands.push(t.join("debug").join(f.bin()));
    cands.push(t.join("release").join(f.bin()));
    cands.into_iter().find(|p| p.is_file())
}

/// Whether `name` is one of the variables cargo sets for the crate it compiles or runs
/// (not a cargo setting such as `CARGO_HOME` or `CARGO_TARGET_DIR`).
fn is_crate_build_variable(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

/// Runs one `cargo build -p <package> --bin <bin> …` for all of `frontends` (so they
/// compile in parallel; `--profile test`, or `--release` when the test binary is a release
/// build) and returns the executables cargo reports.
fn cargo_build(frontends: &[Frontend]) -> Result<Vec<(Frontend, PathBuf)>, String> {
    let cargo = std::env::var("CARGO")
        .ok()
        .or_else(|| option_env!("CARGO").map(str::to_string))
        .unwrap_or_else(|| "cargo".to_string());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root())
        .args(["build", "--message-format=json-render-diagnostics"]);
    // Several frontends may share one binary (the same server over TCP and WebSocket).
    let mut targets: Vec<(&str, &str)> = frontends.iter().map(|f| (f.package(), f.bin())).collect();
    targets.sort_unstable();
    targets.dedup();
    for (package, bin) in &targets {
        cmd.args(["-p", package, "--bin", bin]);
    }
    // Same profile as the test binary: `test` (→ target/debug) reuses the dependencies
    // `cargo test` just compiled; a release test build gets a release server.
    if profile_dir().is_some_and(|d| d.file_name().is_some_and(|n| n == "release")) {
        cmd.arg("--release");
    } else {
        cmd.args(["--profile", "test"]);
    }
    // Without the variables cargo set for this test binary (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, OUT_DIR, ...): build scripts that watch them (ring's does) would see
    // other values than in the outer `cargo test`, and each of the two builds would then
    // redo the other's work (ring, rustls and everything above them, every run).
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if is_crate_build_variable(&name) {
            cmd.env_remove(&*name);
        }
    }
    let names: Vec<&str> = targets.iter().map(|(package, _)| *package).collect();
    let out = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()
        .map_err(|e| format!("running {cargo}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo build` of {} failed:\n{}",
            names.join(", "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reported = |f: Frontend| {
        stdout.lines().rev().find_map(|line| {
            let v = serde_json::from_str::<serde_json::Value>(line).ok()?;
            if v["reason"] == "compiler-artifact" && v["target"]["name"] == f.bin() {
                v["executable"].as_str().map(PathBuf::from)
            } else {
                None
            }
        })
    };
    frontends
        .iter()
        .map(|&f| {
            let exe = reported(f)
                .or_else(|| find_built_binary(f))
                .ok_or_else(|| {
                    format!(
                        "cargo built {} but reported no executable for bin {}",
                        f.package(),
                        f.bin()
                    )
                })?;
            Ok((f, exe))
        })
        .collect()
}

/// Outcome of the one build per frontend and test process.
type Builds = Vec<(Frontend, Result<PathBuf, String>)>;

fn builds() -> std::sync::MutexGuard<'static, Builds> {
    static BUILT: OnceLock<Mutex<Builds>> = OnceLock::new();
    let cell = BUILT.get_or_init(|| Mutex::new(Vec::new()));
    cell.lock().unwrap_or_else(|e| e.into_inner())
}

/// Builds (or, with `RNATS_TEST_NO_BUILD=1`, finds) the binaries of the rnats frontends
/// among `kinds` that have no path in their env variable and were not built yet by this
/// process: all in one cargo run, whose outcome is remembered per frontend. Called before
/// a test's watchdog starts, so compile time does not count against it.
pub fn prepare_binaries(kinds: &[ServerKind]) {
    let mut built = builds();
    let todo: Vec<Frontend> = kinds
        .iter()
        .filter_map(|k| match k {
            ServerKind::Rnats(f) => Some(*f),
            ServerKind::NatsServer | ServerKind::NatsServerWs => None,
        })
        .filter(|f| std::env::var_os(f.bin_env()).is_none())
        .filter(|f| !built.iter().any(|(k, _)| k == f))
        .collect();
    if todo.is_empty() {
        return;
    }
    let no_build = std::env::var("RNATS_TEST_NO_BUILD").is_ok_and(|v| v == "1");
    if no_build {
        for f in todo {
            let found = find_built_binary(f).ok_or_else(|| {
                format!(
                    "{} not found in the target directory (RNATS_TEST_NO_BUILD=1): run `cargo build -p {}` or set {}",
                    f.bin(),
                    f.package(),
                    f.bin_env()
                )
            });
            built.push((f, found));
        }
        return;
    }
    match cargo_build(&todo) {
        Ok(exes) => built.extend(exes.into_iter().map(|(f, exe)| (f, Ok(exe)))),
        // One frontend that does not build must not fail the others: build them alone.
        Err(_) if todo.len() > 1 => {
            for f in todo {
                let one = cargo_build(&[f]).map(|mut v| v.remove(0).1);
                built.push((f, one));
            }
        }
        Err(e) => built.extend(todo.into_iter().map(|f| (f, Err(e.clone())))),
    }
}

/// Path of an rnats frontend binary: its env variable (e.g. `RNATS_SERVER_BIN`), else a
/// fresh `cargo build` (once per test process, see [`prepare_binaries`]), else — with
/// `RNATS_TEST_NO_BUILD=1` — the binary already in the target directory.
fn rnats_binary(f: Frontend) -> PathBuf {
    if let Ok(p) = std::env::var(f.bin_env()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{}={} does not exist",
            f.bin_env(),
            p.display()
        );
        return p;
    }
    prepare_binaries(&[ServerKind::Rnats(f)]);
    let built = builds();
    let (_, result) = built
        .iter()
        .find(|(k, _)| *k == f)
        .expect("prepare_binaries records every frontend it is given");
    result.clone().unwrap_or_else(|e| panic!("{e}"))
}

/// Path of the binary for `kind` (building rnats frontends if needed).
pub fn server_binary(kind: ServerKind) -> PathBuf {
    match kind {
        ServerKind::NatsServer | ServerKind::NatsServerWs => nats_server_binary(),
        ServerKind::Rnats(f) => rnats_binary(f),
    }
}

// ---------------------------------------------------------------------------------------
// Ports and temp dirs
// ---------------------------------------------------------------------------------------

/// A loopback port that was free a moment ago and that this process has not handed out
/// before (the OS may still give it to someone else; [`TestServer::start`] retries).
pub fn free_port() -> u16 {
    static USED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let used = USED.get_or_init(|| Mutex::new(HashSet::new()));
    loop {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = l.local_addr().expect("local_addr").port();
        drop(l);
        if used.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
}

/// A private directory under `std::env::temp_dir()`, removed on drop (unless
/// `RNATS_TEST_KEEP_TMP=1`).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh, uniquely named directory.
    pub fn new(tag: &str) -> TempDir {
        TempDir {
            path: unique_temp_dir(tag),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `name` inside the directory and returns the file's path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, contents).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::env::var("RNATS_TEST_KEEP_TMP").is_ok_and(|v| v == "1") {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

fn unique_temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "rnats-tests-{}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos,
        tag
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn substitute(s: &str, port: u16, http_port: u16, ws_port: u16, dir: &Path) -> String {
    s.replace("{port}", &port.to_string())
        .replace("{ws_port}", &ws_port.to_string())
        .replace("{http_port}", &http_port.to_string())
        .replace("{dir}", &dir.display().to_string())
}

/// Makes the child die with the thread that spawned it (Linux), so a crashed or killed test
/// process leaves no servers behind.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

// ---------------------------------------------------------------------------------------
// TestServer
// ---------------------------------------------------------------------------------------

/// A running server process, killed (SIGKILL) when dropped. When dropped during a panic
/// the tail of its log is printed, so failures show what the server said.
///
/// The child gets `PR_SET_PDEATHSIG`: it is killed when the *thread* that started it exits,
/// so keep a `TestServer` on the thread that created it (the test thread).
pub struct TestServer {
    kind: ServerKind,
    child: Mutex<Child>,
    pid: u32,
    port: u16,
    http_port: Option<u16>,
    ws_port: Option<u16>,
    dir: PathBuf,
    config_path: Option<PathBuf>,
}

impl TestServer {
    /// Starts `kind` with `config` and waits until it accepts connections and sends `INFO`.
    /// Panics (with the server's output) if that does not happen within 10 s.
    #[track_caller]
    pub fn start(kind: ServerKind, config: ServerConfig) -> TestServer {
        match Self::try_start(kind, config) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`TestServer::start`] but returns the failure instead of panicking.
    pub fn try_start(kind: ServerKind, config: ServerConfig) -> Result<TestServer, String> {
        let bin = server_binary(kind);
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Self::start_once(kind, &bin, &config) {
                Ok(s) => return Ok(s),
                Err((e, retry)) => {
                    last_err = e;
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err)
    }

    fn start_once(
        kind: ServerKind,
        bin: &Path,
        config: &ServerConfig,
    ) -> Result<TestServer, (String, bool)> {
        let port = free_port();
        let http_port = if config.monitoring { free_port() } else { 0 };
        let websocket = config.websocket || kind.transport() == Transport::WebSocket;
        let ws_port = if websocket { free_port() } else { 0 };
        let dir = unique_temp_dir(kind.name());
        let sub = |s: &str| substitute(s, port, http_port, ws_port, &dir);

        for (name, contents) in &config.extra_files {
            std::fs::write(dir.join(name), sub(contents)).expect("write extra file");
        }
        let mut config_text = config.config_file_text.clone();
        if websocket && !config_text.as_deref().unwrap_or("").contains("{ws_port}") {
            let text = config_text.get_or_insert_with(String::new);
            text.push_str("\nwebsocket { host: 127.0.0.1, port: {ws_port}, no_tls: true }\n");
        }
        let config_path = config_text.as_ref().map(|text| {
            let p = dir.join("server.conf");
            std::fs::write(&p, sub(text)).expect("write config file");
            p
        });

        let mut args: Vec<String> = Vec::new();
        if config.listen_args {
            args.extend([
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
            ]);
        }
        if config.monitoring && config.listen_args {
            args.extend(["-m".into(), http_port.to_string()]);
        }
        if let Some(p) = &config_path {
            args.extend(["-c".into(), p.display().to_string()]);
        }
        args.extend(config.args.iter().map(|a| sub(a)));

        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).expect("create log file");
        let log2 = log.try_clone().expect("clone log file");
        let mut cmd = Command::new(bin);
        cmd.args(&args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        for (k, v) in &config.env {
            cmd.env(k, v);
        }
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .map_err(|e| (format!("[{kind}] spawning {}: {e}", bin.display()), false))?;
        let pid = child.id();
        let server = TestServer {
            kind,
            child: Mutex::new(child),
            pid,
            port,
            http_port: config.monitoring.then_some(http_port),
            ws_port: websocket.then_some(ws_port),
            dir,
            config_path,
        };

        let deadline = Instant::now() + Duration::from_secs(10);
        let describe = |server: &TestServer, what: &str| {
            format!(
                "[{kind}] {what} (binary {}, args {:?}); server output:\n{}",
                bin.display(),
                args,
                server.log()
            )
        };
        // Client port: must accept and send a line starting with INFO.
        let mut last_seen = String::from("connection refused");
        loop {
            if let Some(status) = server.exit_status() {
                let log = server.log();
                let in_use = log.contains("in use");
                return Err((
                    describe(&server, &format!("exited early with {status}")),
                    in_use,
                ));
            }
            if Instant::now() >= deadline {
                return Err((
                    describe(
                        &server,
                        &format!("did not send INFO within 10 s (last attempt: {last_seen})"),
                    ),
                    false,
                ));
            }
            match TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            ) {
                Ok(_) if config.silent_client_port => break,
                Ok(mut s) => {
                    let mut line = Vec::new();
                    let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut b = [0u8; 1024];
                    while Instant::now() < deadline && !line.contains(&b'\n') {
                        match s.read(&mut b) {
                            Ok(0) => break,
                            Ok(n) => line.extend_from_slice(&b[..n]),
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                    }
                    if line.starts_with(b"INFO ") {
                        // Leave cleanly and wait for the server to close its side, so
                        // that this probe is gone from /connz and the connection count
                        // by the time the test starts (under load it could linger).
                        let _ = s.shutdown(std::net::Shutdown::Write);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
                        while matches!(s.read(&mut b), Ok(n) if n > 0) {}
                        break;
                    }
                    last_seen = format!(
                        "accepted, but the first bytes were \"{}\"",
                        crate::show(&line)
                    );
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => {
                    last_seen = e.to_string();
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        // Monitor and WebSocket ports: must accept.
        let wait_accepting = |port: u16, what: &str| -> Result<(), (String, bool)> {
            while TcpStream::connect_timeout(
                &([127, 0, 0, 1], port).into(),
                Duration::from_millis(200),
            )
            .is_err()
            {
                if let Some(status) = server.exit_status() {
                    let in_use = server.log().contains("in use");
                    return Err((
                        describe(&server, &format!("exited early with {status}")),
                        in_use,
                    ));
                }
                if Instant::now() >= deadline {
                    return Err((
                        describe(
                            &server,
                            &format!("{what} port did not accept connections within 10 s"),
                        ),
                        false,
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        };
        if config.monitoring {
            wait_accepting(http_port, "monitor")?;
        }
        if websocket {
            wait_accepting(ws_port, "websocket")?;
        }
        Ok(server)
    }

    /// The server implementation.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Client URL for async-nats, over the server's transport: `nats://127.0.0.1:PORT`,
    /// or `ws://127.0.0.1:WS_PORT` for a WebSocket one.
    pub fn url(&self) -> String {
        match self.kind.transport() {
            Transport::Tcp => format!("nats://127.0.0.1:{}", self.port),
            Transport::WebSocket => self.ws_url(),
        }
    }

    /// The port [`crate::RawClient::connect`] dials: [`TestServer::port`] over TCP,
    /// [`TestServer::ws_port`] over WebSocket.
    pub fn transport_port(&self) -> u16 {
        match self.kind.transport() {
            Transport::Tcp => self.port,
            Transport::WebSocket => self.ws_port(),
        }
    }

    /// WebSocket port. Panics unless started with [`ServerConfig::with_websocket`] or over
    /// the WebSocket transport.
    pub fn ws_port(&self) -> u16 {
        self.ws_port
            .expect("server was started without websocket (ServerConfig::with_websocket)")
    }

    /// WebSocket URL (`ws://127.0.0.1:PORT`). Panics unless started with
    /// [`ServerConfig::with_websocket`].
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.ws_port())
    }

    /// WebSocket-over-TLS URL, `wss://localhost:PORT`, for a server whose `websocket` block
    /// (given in the config text with `port: {ws_port}`, see [`ServerConfig::websocket`])
    /// has a `tls {}` block with the test certificate `server.pem` ([`crate::cert_path`]),
    /// which names `localhost`. Panics unless started with [`ServerConfig::with_websocket`].
    pub fn wss_url(&self) -> String {
        format!("wss://localhost:{}", self.ws_port())
    }

    /// NATS-over-TLS URL, `tls://localhost:PORT`, for a server whose top-level `tls {}`
    /// block (or `--tlscert`/`--tlskey` flags) serves the test certificate `server.pem`
    /// ([`crate::cert_path`]), which names `localhost`.
    pub fn tls_url(&self) -> String {
        format!("tls://localhost:{}", self.port)
    }

    /// HTTP monitor port. Panics unless started with [`ServerConfig::monitoring`].
    pub fn http_port(&self) -> u16 {
        self.http_port
            .expect("server was started without monitoring (ServerConfig::with_monitoring)")
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// True while the process has not exited.
    pub fn is_running(&self) -> bool {
        self.exit_status().is_none()
    }

    /// Panics (with the server's log) if the process has exited.
    #[track_caller]
    pub fn assert_running(&self) {
        if let Some(status) = self.exit_status() {
            panic!(
                "[{}] server process exited ({status}); output:\n{}",
                self.kind,
                self.log()
            );
        }
    }

    /// Sends a Unix signal (`libc::SIGINT`, `libc::SIGHUP`, …) to the server process.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.pid as libc::pid_t, sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.pid);
    }

    /// Waits up to `timeout` for the process to exit; returns its status, or `None` if it
    /// is still running.
    pub fn wait_exit(&self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exit_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
        c.try_wait().ok().flatten()
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read(self.dir.join("server.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The server's private temp directory (config file, extra files, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the config file, if one was written.
    pub fn config_path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        {
            let mut c = self.child.lock().unwrap_or_else(|e| e.into_inner());
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            eprintln!(
                "---- [{}] server log (last {} lines, pid {}, port {}) ----\n{}\n----",
                self.kind,
                tail.len(),
                self.pid,
                self.port,
                tail.join("\n")
            );
        }
        if !std::env::var("RNATS_TEST_KEEP_TMP").is_ok_and(|v| v == "1") {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Running a binary to completion (CLI tests)
// ---------------------------------------------------------------------------------------

/// What a server process printed and how it exited.
#[derive(Debug)]
pub struct CommandOutput {
    /// Exit status (`None` when it had to be killed after the timeout).
    pub status: Option<ExitStatus>,
    /// Captured stdout.
    pub stdout: String,
    /// Captured stderr.
    pub stderr: String,
}

impl CommandOutput {
    /// Exit code, if the process exited normally.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Runs the server binary of `kind` with exactly `args` (no port flags added) in `cwd`,
/// waits up to `timeout`, kills it if still running, and returns its output.
pub fn run_server_command(
    kind: ServerKind,
    args: &[&str],
    cwd: Option<&Path>,
    timeout: Duration,
) -> CommandOutput {
    let bin = server_binary(kind);
    let dir = unique_temp_dir("cmd");
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let mut cmd = Command::new(&bin);
    cmd.args(args)
        .current_dir(cwd.unwrap_or(&dir))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("create stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("create stderr file"));
    die_with_parent(&mut cmd);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("[{kind}] spawning {}: {e}", bin.display()));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let out = CommandOutput {
        status,
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    let _ = std::fs::remove_dir_all(&dir);
    out
}
