//! `rnats-bench`: a NATS load generator shaped like `nats bench`, and `rnats-bench compare`,
//! which runs it against rnats-server and nats-server side by side.
//!
//! The generator speaks the protocol through the engine's client codec with pre-encoded
//! frames (one buffer of PUB frames written over and over), so it costs the machine little
//! CPU next to the server it measures; every run checks exact delivery counts.

mod client;
mod compare;
mod procstat;
mod progress;
mod report;
mod scenarios;

use client::{resolve, BenchResult};
use scenarios::{RunConfig, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
rnats-bench — NATS load generator (pre-encoded frames, exact delivery counts)

USAGE:
  rnats-bench [run] [OPTIONS]      run scenarios against a running server
  rnats-bench compare [OPTIONS]    start rnats-server and nats-server on loopback and
                                   run every scenario against each, alternating
  rnats-bench list                 list the scenarios

OPTIONS (run and compare):
  -s, --scenarios LIST   comma-separated scenario names, or `all` (default: all)
      --msgs N           message count for every scenario (default: each scenario's own)
      --smoke            small counts (CI smoke test)
      --timeout SECS     time bound of each run after setup (default: 120)
      --window BYTES     flow control: most published bytes ahead of delivery (default: 16777216)
      --json             print JSON instead of a table
      --no-progress      no progress bar
OPTIONS (run):
      --server URL       server address, host:port or nats://host:port (default: 127.0.0.1:4222)
      --server-pid PID   server process, for CPU (/proc/PID/stat) and RSS (/proc/PID/status)
OPTIONS (compare):
      --rounds N         alternating rounds, A B A B … (default: 5)
      --rnats PATH       rnats-server binary (default: next to rnats-bench, i.e. target/release)
      --nats-server PATH nats-server binary (default: on PATH or /usr/sbin)
";

/// Parsed command line.
struct Args {
    command: String,
    scenarios: String,
    msgs: Option<u64>,
    smoke: bool,
    timeout: Duration,
    window: usize,
    json: bool,
    progress: bool,
    server: String,
    server_pid: Option<u32>,
    rounds: usize,
    rnats: Option<PathBuf>,
    nats: Option<PathBuf>,
}

fn parse_args() -> BenchResult<Args> {
    let mut args = Args {
        command: "run".into(),
        scenarios: "all".into(),
        msgs: None,
        smoke: false,
        timeout: Duration::from_secs(120),
        window: 16 * 1024 * 1024,
        json: false,
        progress: true,
        server: "127.0.0.1:4222".into(),
        server_pid: None,
        rounds: 5,
        rnats: None,
        nats: None,
    };
    let mut it = std::env::args().skip(1).peekable();
    if let Some(cmd) = it.peek() {
        if !cmd.starts_with('-') {
            args.command = it.next().unwrap_or_default();
        }
    }
    fn value<T: std::str::FromStr>(
        flag: &str,
        it: &mut impl Iterator<Item = String>,
    ) -> BenchResult<T> {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        v.parse()
            .map_err(|_| format!("{flag}: invalid value {v:?}"))
    }
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-s" | "--scenarios" | "--scenario" => args.scenarios = value(&flag, &mut it)?,
            "--msgs" => args.msgs = Some(value(&flag, &mut it)?),
            "--smoke" => args.smoke = true,
            "--timeout" => args.timeout = Duration::from_secs_f64(value(&flag, &mut it)?),
            "--window" => args.window = value(&flag, &mut it)?,
            "--json" => args.json = true,
            "--no-progress" => args.progress = false,
            "--server" | "--url" => args.server = value(&flag, &mut it)?,
            "--server-pid" => args.server_pid = Some(value(&flag, &mut it)?),
            "--rounds" => args.rounds = value(&flag, &mut it)?,
            "--rnats" => args.rnats = Some(value(&flag, &mut it)?),
            "--nats-server" => args.nats = Some(value(&flag, &mut it)?),
            "-h" | "--help" => args.command = "help".into(),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    Ok(args)
}

fn select(names: &str) -> BenchResult<Vec<Scenario>> {
    let all = scenarios::all();
    if names == "all" {
        return Ok(all);
    }
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            all.iter().find(|s| s.name == n).cloned().ok_or_else(|| {
                let known: Vec<&str> = all.iter().map(|s| s.name).collect();
                format!("unknown scenario {n:?}; known: {}", known.join(", "))
            })
        })
        .collect()
}

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnats-bench: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> BenchResult<()> {
    let args = parse_args()?;
    let chosen = select(&args.scenarios)?;
    let run_template = |addr| RunConfig {
        addr,
        server_pid: args.server_pid,
        timeout: args.timeout,
        count: args.msgs,
        smoke: args.smoke,
        progress: args.progress,
        window_bytes: args.window,
    };
    match args.command.as_str() {
        "help" => print!("{USAGE}"),
        "list" => {
            for s in scenarios::all() {
                println!(
                    "{:<11} {:>10} (smoke {:>6})  {}",
                    s.name, s.count, s.smoke_count, s.about
                );
            }
        }
        "run" => {
            let cfg = run_template(resolve(&args.server)?);
            let mut outcomes = Vec::new();
            for s in &chosen {
                let o = scenarios::run(s, &cfg)?;
                if !args.json && args.progress {
                    eprintln!("{:<11} {:>9} msgs/s  ok", s.name, report::si(o.rate()));
                }
                outcomes.push(o);
            }
            if args.json {
                let v: Vec<_> = outcomes.iter().map(report::outcome_json).collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                );
            } else {
                print!("{}", report::table(&outcomes));
            }
        }
        "compare" => {
            let servers = [
                compare::find_rnats(args.rnats.clone())?,
                compare::find_nats(args.nats.clone())?,
            ];
            let cfg = compare::CompareConfig {
                rounds: args.rounds.max(1),
                run: run_template(resolve("127.0.0.1:4222")?),
                servers,
            };
            for s in &cfg.servers {
                eprintln!(
                    "{:<11} {} ({})",
                    s.name,
                    s.path.display(),
                    compare::version(s)
                );
            }
            let results = compare::compare(&chosen, &cfg)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&compare::json(&results, &cfg.servers))
                        .map_err(|e| e.to_string())?
                );
            } else {
                println!(
                    "medians of {} alternating rounds; ratio = median over rounds of rnats / nats-server",
                    cfg.rounds
                );
                print!("{}", compare::table(&results));
            }
        }
        other => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
    Ok(())
}
