//! `rnats-bench compare`: starts rnats-server and nats-server on loopback, runs every
//! scenario against each in alternation (rnats, nats-server, rnats, …), a fresh server
//! process per run, and prints the medians and the median per-round ratio.

use crate::client::{resolve, BenchResult};
use crate::report::{outcome_json, render, si};
use crate::scenarios::{self, Outcome, RunConfig, Scenario};
use serde_json::{json, Value};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server implementation to compare.
#[derive(Clone, Debug)]
pub struct ServerBin {
    /// Short name for reports.
    pub name: &'static str,
    /// Executable.
    pub path: PathBuf,
}

/// `rnats-server`: `explicit`, else `$RNATS_SERVER_BIN`, else next to this executable
/// (the same cargo profile directory).
pub fn find_rnats(explicit: Option<PathBuf>) -> BenchResult<ServerBin> {
    let path = explicit
        .or_else(|| std::env::var_os("RNATS_SERVER_BIN").map(PathBuf::from))
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let dir = exe.parent()?;
            // Test binaries live in <profile>/deps.
            [dir.join("rnats-server"), dir.parent()?.join("rnats-server")]
                .into_iter()
                .find(|p| p.is_file())
        })
        .filter(|p| p.is_file())
        .ok_or(
            "rnats-server not found next to rnats-bench: build it with \
             `cargo build --release -p rnats-tokio` (or pass --rnats PATH)",
        )?;
    Ok(ServerBin {
        name: "rnats",
        path,
    })
}

/// The reference `nats-server`: `explicit`, else `$NATS_SERVER_BIN`, else `PATH` and
/// `/usr/sbin` (where Debian installs it).
pub fn find_nats(explicit: Option<PathBuf>) -> BenchResult<ServerBin> {
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
    Ok(ServerBin {
        name: "nats-server",
        path,
    })
}

/// A server process on a loopback port, killed when dropped.
pub struct RunningServer {
    child: Child,
    /// Client port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl RunningServer {
    /// Starts `bin` on a free loopback port and waits for its INFO.
    pub fn start(bin: &ServerBin) -> BenchResult<RunningServer> {
        let mut last = String::new();
        for attempt in 0..3 {
            let port = free_port()?;
            let log = std::env::temp_dir().join(format!(
                "rnats-bench-{}-{}-{port}-{attempt}.log",
                std::process::id(),
                bin.name
            ));
            let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| e.to_string())?;
            let mut cmd = Command::new(&bin.path);
            cmd.args(["-a", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
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
            let mut server = RunningServer { child, port, log };
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
                if s.read_exact(&mut b).is_ok() && &b == b"INFO" {
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
    /// Template for each run (`addr` and `server_pid` are filled in per run).
    pub run: RunConfig,
    /// The two servers: rnats first.
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
                let server = RunningServer::start(bin)?;
                let run = RunConfig {
                    addr: resolve(&format!("127.0.0.1:{}", server.port))?,
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
                    "round {}/{} {:<11} {:<11} {:>9} msgs/s  cpu/1M {:>7}  {}",
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

/// A metric's medians for both servers and the median of the per-round ratios.
struct Compared {
    rnats: Option<f64>,
    nats: Option<f64>,
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
        rnats: median(a.into_iter().flatten().collect()),
        nats: median(b.into_iter().flatten().collect()),
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

/// The comparison table: per scenario and metric, rnats median, nats-server median, and
/// the median ratio rnats / nats-server.
pub fn table(results: &[ScenarioResults]) -> String {
    let mut header = vec!["scenario".to_string()];
    for (m, _) in metrics() {
        header.extend([format!("{m} rnats"), format!("{m} nats"), "ratio".into()]);
    }
    let header: [String; 13] = header.try_into().unwrap_or_else(|_| unreachable!());
    let mut rows = vec![header];
    for r in results {
        let mut row = vec![r.scenario.name.to_string()];
        for (m, f) in metrics() {
            let c = compared(r, f);
            row.extend([
                fmt_value(m, c.rnats),
                fmt_value(m, c.nats),
                c.ratio.map_or("-".into(), |x| format!("{x:.2}x")),
            ]);
        }
        let row: [String; 13] = row.try_into().unwrap_or_else(|_| unreachable!());
        rows.push(row);
    }
    render(&rows)
}

/// The comparison as JSON: medians, ratios, and every run.
pub fn json(results: &[ScenarioResults], servers: &[ServerBin; 2]) -> Value {
    let scenarios: Vec<Value> = results
        .iter()
        .map(|r| {
            let mut medians = serde_json::Map::new();
            for (m, f) in metrics() {
                let c = compared(r, f);
                medians.insert(
                    m.to_string(),
                    json!({"rnats": c.rnats, "nats_server": c.nats, "ratio": c.ratio}),
                );
            }
            json!({
                "scenario": r.scenario.name,
                "medians": medians,
                "runs": {
                    "rnats": r.runs[0].iter().map(outcome_json).collect::<Vec<_>>(),
                    "nats_server": r.runs[1].iter().map(outcome_json).collect::<Vec<_>>(),
                },
            })
        })
        .collect();
    json!({
        "servers": {
            "rnats": {"path": path_str(&servers[0].path), "version": version(&servers[0])},
            "nats_server": {"path": path_str(&servers[1].path), "version": version(&servers[1])},
        },
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
