//! `rnats-bench compare`: starts two servers on loopback — by default rnats-server (tokio)
//! as A and nats-server as B; any two of `tokio`, `smol`, `nats-server` — runs every
//! scenario against each in alternation (A, B, A, …), a fresh server process per run, and
//! prints the medians and the median per-round ratio A / B. For the `ws-` scenarios each
//! server is started with a `websocket { host: 127.0.0.1, port: N, no_tls: true }` block,
//! for the `tls-` scenarios with `tls { cert_file: DIR/server.pem, key_file: DIR/server.key }`
//! (DIR: `--certs`, by default the repository's `tests/certs`).

use crate::client::{resolve, BenchResult, Transport};
use crate::report::{outcome_json, render, si};
use crate::scenarios::{self, Outcome, RunConfig, Scenario};
use serde_json::{json, Value};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server implementations `compare` can start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerChoice {
    /// `rnats-server` (tokio frontend).
    Tokio,
    /// `rnats-server-smol` (smol frontend).
    Smol,
    /// The reference Go `nats-server`.
    NatsServer,
}

impl ServerChoice {
    /// Parses a name given to `--a`, `--b` or `--servers`.
    pub fn parse(name: &str) -> BenchResult<ServerChoice> {
        match name.trim() {
            "tokio" | "rnats" | "rnats-server" => Ok(ServerChoice::Tokio),
            "smol" | "rnats-smol" | "rnats-server-smol" => Ok(ServerChoice::Smol),
            "nats-server" | "nats" => Ok(ServerChoice::NatsServer),
            other => Err(format!(
                "unknown server {other:?}; known: tokio (rnats-server), smol \
                 (rnats-server-smol), nats-server"
            )),
        }
    }

    /// The name reports use.
    pub fn name(self) -> &'static str {
        match self {
            ServerChoice::Tokio => "tokio",
            ServerChoice::Smol => "smol",
            ServerChoice::NatsServer => "nats-server",
        }
    }
}

/// Binaries given on the command line (`None`: looked up).
#[derive(Clone, Debug, Default)]
pub struct ServerPaths {
    /// `--rnats`: rnats-server.
    pub tokio: Option<PathBuf>,
    /// `--rnats-smol`: rnats-server-smol.
    pub smol: Option<PathBuf>,
    /// `--nats-server`.
    pub nats: Option<PathBuf>,
}

/// A server implementation to compare.
#[derive(Clone, Debug)]
pub struct ServerBin {
    /// Name for reports (the choice's name, told apart when A and B are the same).
    pub name: String,
    /// Executable.
    pub path: PathBuf,
}

/// The two servers to compare: A and B, with their binaries found.
pub fn find_pair(
    a: ServerChoice,
    b: ServerChoice,
    paths: &ServerPaths,
) -> BenchResult<[ServerBin; 2]> {
    let mut pair = [find(a, paths)?, find(b, paths)?];
    if a == b {
        pair[0].name += "-A";
        pair[1].name += "-B";
    }
    Ok(pair)
}

/// The binary of `choice`.
pub fn find(choice: ServerChoice, paths: &ServerPaths) -> BenchResult<ServerBin> {
    let path = match choice {
        ServerChoice::Tokio => find_rnats(
            paths.tokio.clone(),
            "rnats-server",
            "RNATS_SERVER_BIN",
            "rnats-tokio",
            "--rnats",
        )?,
        ServerChoice::Smol => find_rnats(
            paths.smol.clone(),
            "rnats-server-smol",
            "RNATS_SERVER_SMOL_BIN",
            "rnats-smol",
            "--rnats-smol",
        )?,
        ServerChoice::NatsServer => find_nats(paths.nats.clone())?,
    };
    Ok(ServerBin {
        name: choice.name().to_string(),
        path,
    })
}

/// An rnats frontend binary: `explicit`, else `$<env>`, else next to this executable (the
/// same cargo profile directory).
fn find_rnats(
    explicit: Option<PathBuf>,
    bin: &str,
    env: &str,
    package: &str,
    flag: &str,
) -> BenchResult<PathBuf> {
    explicit
        .or_else(|| std::env::var_os(env).map(PathBuf::from))
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let dir = exe.parent()?;
            // Test binaries live in <profile>/deps.
            [dir.join(bin), dir.parent()?.join(bin)]
                .into_iter()
                .find(|p| p.is_file())
        })
        .filter(|p| p.is_file())
        .ok_or(format!(
            "{bin} not found next to rnats-bench: build it with \
             `cargo build --release -p {package}` (or pass {flag} PATH)"
        ))
}

/// The reference `nats-server`: `explicit`, else `$NATS_SERVER_BIN`, else `PATH` and
/// `/usr/sbin` (where Debian installs it).
fn find_nats(explicit: Option<PathBuf>) -> BenchResult<PathBuf> {
    let from_path = || {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
            .map(|d| d.join("nats-server"))
            .find(|p| p.is_file())
    };
    let path = explicit
        .or_else(|| std::env::var_os("NATS_SERVER_BIN").map(PathBuf::from))
        .or_else(from_path)
        .filter(|p| p.is_file())
        .ok_or(
            "nats-server not found: install it with `apt-get install -y nats-server` \
             (scripts/install-test-deps.sh does this; bench/compare.sh runs that script), \
             or pass --nats-server PATH",
        )?;
    Ok(path)
}

/// A server process on a loopback port, killed when dropped.
pub struct RunningServer {
    child: Child,
    /// Client port on 127.0.0.1.
    pub port: u16,
    /// WebSocket port on 127.0.0.1, when started with one.
    pub ws_port: Option<u16>,
    log: PathBuf,
    config: Option<PathBuf>,
}

impl RunningServer {
    /// Starts `bin` on a free loopback port (and, with `websocket`, its WebSocket
    /// listener on another; with `tls_certs`, requiring TLS on the client port with the
    /// `server.pem` and `server.key` of that directory) and waits until it serves.
    pub fn start(
        bin: &ServerBin,
        websocket: bool,
        tls_certs: Option<&Path>,
    ) -> BenchResult<RunningServer> {
        let mut last = String::new();
        for attempt in 0..3 {
            let port = free_port()?;
            let ws_port = if websocket { Some(free_port()?) } else { None };
            let base = std::env::temp_dir().join(format!(
                "rnats-bench-{}-{}-{port}-{attempt}",
                std::process::id(),
                bin.name
            ));
            let log = base.with_extension("log");
            let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&bin.path);
            cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
            let mut text = String::new();
            if let Some(ws) = ws_port {
                text += &format!("websocket {{ host: 127.0.0.1, port: {ws}, no_tls: true }}\n");
            }
            if let Some(dir) = tls_certs {
                text += &format!(
                    "tls {{ cert_file: {:?}, key_file: {:?} }}\n",
                    dir.join("server.pem").display().to_string(),
                    dir.join("server.key").display().to_string()
                );
            }
            let config = if text.is_empty() {
                None
            } else {
                let path = base.with_extension("conf");
                std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                cmd.arg("-c").arg(&path);
                Some(path)
            };
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
            // (Exercised by the compare smoke test in tests/smoke.rs.)
            unsafe {
                cmd.pre_exec(|| {
                    // The server dies with the bench instead of outliving a crash.
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("starting {}: {e}", bin.path.display()))?;
            let mut server = RunningServer {
                child,
                port,
                ws_port,
                log,
                config,
            };
            match server.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(server),
                Err(e) => last = format!("{} did not start: {e}\n{}", bin.name, server.log_tail()),
            }
        }
        Err(last)
    }

    fn wait_ready(&mut self, timeout: Duration) -> BenchResult<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut b = [0u8; 4];
                let ws_listening = self
                    .ws_port
                    .is_none_or(|ws| TcpStream::connect(("127.0.0.1", ws)).is_ok());
                if s.read_exact(&mut b).is_ok() && &b == b"INFO" && ws_listening {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("no INFO within the start timeout".into())
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}

fn free_port() -> BenchResult<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// `--version` output of a server binary (first line).
pub fn version(bin: &ServerBin) -> String {
    Command::new(&bin.path)
        .arg("--version")
        .output()
        .ok()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            text.lines().next().unwrap_or("").trim().to_string()
        })
        .unwrap_or_default()
}

/// What `compare` needs besides the scenarios.
pub struct CompareConfig {
    /// Rounds (each runs every scenario once on each server).
    pub rounds: usize,
    /// Template for each run (`addr`, `ws_addr` and `server_pid` are filled in per run;
    /// `tls` is used by the `tls-` scenarios).
    pub run: RunConfig,
    /// Certificates of the servers for the `tls-` scenarios (`server.pem`, `server.key`).
    pub certs: PathBuf,
    /// The two servers, A and B (ratios are A / B).
    pub servers: [ServerBin; 2],
}

/// Results of one scenario: per server, per round.
pub struct ScenarioResults {
    /// The scenario.
    pub scenario: Scenario,
    /// `runs[server][round]`.
    pub runs: [Vec<Outcome>; 2],
}

/// Runs the comparison, printing one line per run on stderr.
pub fn compare(scenarios: &[Scenario], cfg: &CompareConfig) -> BenchResult<Vec<ScenarioResults>> {
    let mut results = Vec::new();
    for s in scenarios {
        let mut runs: [Vec<Outcome>; 2] = [Vec::new(), Vec::new()];
        for round in 0..cfg.rounds {
            for (i, bin) in cfg.servers.iter().enumerate() {
                let server = RunningServer::start(
                    bin,
                    s.transport == Transport::WebSocket,
                    (s.transport == Transport::Tls).then_some(cfg.certs.as_path()),
                )?;
                let run = RunConfig {
                    addr: resolve(&format!("127.0.0.1:{}", server.port))?,
                    ws_addr: match server.ws_port {
                        Some(ws) => Some(resolve(&format!("127.0.0.1:{ws}"))?),
                        None => None,
                    },
                    server_pid: Some(server.pid()),
                    ..cfg.run.clone()
                };
                let outcome = scenarios::run(s, &run).map_err(|e| {
                    format!(
                        "{e}\n(server {} — last lines of its log:)\n{}",
                        bin.name,
                        server.log_tail()
                    )
                })?;
                drop(server);
                eprintln!(
                    "round {}/{} {:<14} {:<11} {:>9} msgs/s  cpu/1M {:>7}  {}",
                    round + 1,
                    cfg.rounds,
                    s.name,
                    bin.name,
                    si(outcome.rate()),
                    outcome
                        .cpu_per_million()
                        .map_or("-".into(), |c| format!("{c:.3}")),
                    crate::report::details(&outcome)
                );
                runs[i].push(outcome);
            }
        }
        results.push(ScenarioResults {
            scenario: s.clone(),
            runs,
        });
    }
    Ok(results)
}

/// Median (mean of the middle two for an even count); `None` when empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// A metric's medians for both servers and the median of the per-round ratios A / B.
struct Compared {
    a: Option<f64>,
    b: Option<f64>,
    ratio: Option<f64>,
}

fn compared(r: &ScenarioResults, metric: impl Fn(&Outcome) -> Option<f64>) -> Compared {
    let a: Vec<Option<f64>> = r.runs[0].iter().map(&metric).collect();
    let b: Vec<Option<f64>> = r.runs[1].iter().map(&metric).collect();
    let ratios = a
        .iter()
        .zip(&b)
        .filter_map(|(x, y)| Some(x.as_ref()? / y.as_ref().filter(|y| **y > 0.0)?))
        .collect();
    Compared {
        a: median(a.into_iter().flatten().collect()),
        b: median(b.into_iter().flatten().collect()),
        ratio: median(ratios),
    }
}

/// A compared figure: its column name and how to read it from a run.
type Metric = (&'static str, fn(&Outcome) -> Option<f64>);

fn metrics() -> Vec<Metric> {
    vec![
        ("msgs/s", |o| Some(o.rate())),
        ("cpu s/1M", |o| o.cpu_per_million()),
        ("p99 us", |o| o.latency.as_ref().map(|l| l.p99)),
        ("KiB/conn", |o| {
            o.conns
                .as_ref()
                .and_then(|c| c.rss_per_conn())
                .map(|b| b / 1024.0)
        }),
    ]
}

fn fmt_value(metric: &str, v: Option<f64>) -> String {
    match (metric, v) {
        (_, None) => "-".into(),
        ("msgs/s", Some(v)) => si(v),
        ("cpu s/1M", Some(v)) => format!("{v:.3}"),
        (_, Some(v)) => format!("{v:.1}"),
    }
}

/// The comparison table: per scenario and metric, A's median, B's median, and the median
/// ratio A / B; the columns are headed with the servers' names.
pub fn table(results: &[ScenarioResults], servers: &[ServerBin; 2]) -> String {
    let mut header = vec!["scenario".to_string()];
    for (m, _) in metrics() {
        header.extend([
            format!("{m} {}", servers[0].name),
            format!("{m} {}", servers[1].name),
            "ratio".into(),
        ]);
    }
    let header: [String; 13] = header.try_into().unwrap_or_else(|_| unreachable!());
    let mut rows = vec![header];
    for r in results {
        let mut row = vec![r.scenario.name.to_string()];
        for (m, f) in metrics() {
            let c = compared(r, f);
            row.extend([
                fmt_value(m, c.a),
                fmt_value(m, c.b),
                c.ratio.map_or("-".into(), |x| format!("{x:.2}x")),
            ]);
        }
        let row: [String; 13] = row.try_into().unwrap_or_else(|_| unreachable!());
        rows.push(row);
    }
    render(&rows)
}

/// The comparison as JSON: the servers as `a` and `b`, then per scenario the medians
/// (`a`, `b`, `ratio` = A / B) and every run.
pub fn json(results: &[ScenarioResults], servers: &[ServerBin; 2]) -> Value {
    let scenarios: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut medians = serde_json::Map::new();
            for (m, f) in metrics() {
                let c = compared(r, f);
                medians.insert(m.to_string(), json!({"a": c.a, "b": c.b, "ratio": c.ratio}));
            }
            json!({
                "scenario": r.scenario.name,
                "medians": medians,
                "runs": {
                    "a": r.runs[0].iter().map(outcome_json).collect::<Vec<_>>(),
                    "b": r.runs[1].iter().map(outcome_json).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    let server =
        |s: &ServerBin| json!({"name": s.name, "path": path_str(&s.path), "version": version(s)});
    json!({
        "servers": {"a": server(&servers[0]), "b": server(&servers[1])},
        "scenarios": scenarios,
    })
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
