//! `rnats-bench`: a NATS load generator shaped like `nats bench`, and `rnats-bench compare`,
//! which runs it against two servers side by side: rnats-server (tokio) and nats-server by
//! default, or any two of `tokio`, `smol` (rnats-server-smol) and `nats-server`.
//!
//! The generator speaks the protocol through the engine's client codec with pre-encoded
//! frames (one buffer of PUB frames written over and over), so it costs the machine little
//! CPU next to the server it measures; every run checks exact delivery counts. The `ws-`
//! scenarios do the same over the servers' WebSocket listener (masked binary frames built
//! once; the server's frames unwrapped in place on the subscriber side). The `tls-`
//! scenarios do it over TLS on the client port (rustls with ring; the PUB buffer encrypted
//! batch by batch).

mod client;
mod compare;
mod procstat;
mod progress;
mod report;
mod scenarios;
mod tls;
mod ws;

use client::{host_port, resolve, BenchResult, Transport};
use compare::{ServerChoice, ServerPaths};
use scenarios::{RunConfig, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
rnats-bench — NATS load generator (pre-encoded frames, exact delivery counts)

USAGE:
  rnats-bench [run] [OPTIONS]      run scenarios against a running server
  rnats-bench compare [OPTIONS]    start two servers on loopback (default: rnats-server
                                   and nats-server) and run every scenario against
                                   each, alternating
  rnats-bench list                 list the scenarios

OPTIONS (run and compare):
  -s, --scenarios LIST   comma-separated scenario names, or `all` (default: all; `run`
                         skips the ws- scenarios unless --ws is given, and runs the
                         tls- ones if and only if --tls is given)
      --msgs N           message count for every scenario (default: each scenario's own)
      --smoke            small counts (CI smoke test)
      --timeout SECS     time bound of each run after setup (default: 120)
      --window BYTES     flow control: most published bytes ahead of delivery (default: 16777216)
      --json             print JSON instead of a table
      --no-progress      no progress bar
OPTIONS (run):
      --server URL       server address, host:port or nats://host:port (default: 127.0.0.1:4222);
                         tls://host:port implies --tls
      --tls              the server requires TLS on its client port (a `tls { cert_file,
                         key_file }` block): run the tls- scenarios against it
      --ca FILE          CA certificate(s), PEM, that signed the server's certificate (default:
                         the repository's tests/certs/ca.pem); the certificate must name the
                         host of --server
      --ws URL           the server's WebSocket listener, host:port or ws://host:port, for
                         the ws- scenarios (a `websocket { port: N, no_tls: true }` block)
      --server-pid PID   server process, for CPU (/proc/PID/stat) and RSS (/proc/PID/status)
OPTIONS (compare):
      --a SERVER         server A: tokio (rnats-server), smol (rnats-server-smol) or
                         nats-server (default: tokio)
      --b SERVER         server B, the same names (default: nats-server); ratios are A / B
      --servers A,B      both at once, e.g. --servers tokio,smol
      --rounds N         alternating rounds, A B A B … (default: 5)
      --rnats PATH       rnats-server binary (default: next to rnats-bench, i.e. target/release)
      --rnats-smol PATH  rnats-server-smol binary (default: next to rnats-bench)
      --nats-server PATH nats-server binary (default: on PATH or /usr/sbin)
      --certs DIR        certificates for the tls- scenarios: DIR/server.pem, DIR/server.key
                         for the servers, DIR/ca.pem for the client (default: the
                         repository's tests/certs, for localhost and 127.0.0.1)
  Each run gets a fresh server on free loopback ports; for the ws- scenarios it is started
  with `-c FILE`, FILE holding `websocket { host: 127.0.0.1, port: N, no_tls: true }`, for
  the tls- scenarios `tls { cert_file: DIR/server.pem, key_file: DIR/server.key }`.
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
    ws: Option<String>,
    tls: bool,
    ca: Option<PathBuf>,
    certs: Option<PathBuf>,
    server_pid: Option<u32>,
    rounds: usize,
    a: ServerChoice,
    b: ServerChoice,
    paths: ServerPaths,
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
        ws: None,
        tls: false,
        ca: None,
        certs: None,
        server_pid: None,
        rounds: 5,
        a: ServerChoice::Tokio,
        b: ServerChoice::NatsServer,
        paths: ServerPaths::default(),
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
            "--ws" => args.ws = Some(value(&flag, &mut it)?),
            "--tls" => args.tls = true,
            "--ca" => args.ca = Some(value(&flag, &mut it)?),
            "--certs" => args.certs = Some(value(&flag, &mut it)?),
            "--server-pid" => args.server_pid = Some(value(&flag, &mut it)?),
            "--rounds" => args.rounds = value(&flag, &mut it)?,
            "--a" => args.a = ServerChoice::parse(&value::<String>(&flag, &mut it)?)?,
            "--b" => args.b = ServerChoice::parse(&value::<String>(&flag, &mut it)?)?,
            "--servers" => {
                let list: String = value(&flag, &mut it)?;
                let Some((a, b)) = list.split_once(',') else {
                    return Err(format!("--servers wants two names, A,B; got {list:?}"));
                };
                args.a = ServerChoice::parse(a)?;
                args.b = ServerChoice::parse(b)?;
            }
            "--rnats" => args.paths.tokio = Some(value(&flag, &mut it)?),
            "--rnats-smol" => args.paths.smol = Some(value(&flag, &mut it)?),
            "--nats-server" => args.paths.nats = Some(value(&flag, &mut it)?),
            "-h" | "--help" => args.command = "help".into(),
            other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
        }
    }
    if args.server.starts_with("tls://") {
        args.tls = true;
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
    let mut chosen = select(&args.scenarios)?;
    let run_template = |addr, ws_addr, tls| RunConfig {
        addr,
        ws_addr,
        tls,
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
                    "{:<14} {:>10} (smoke {:>6})  {}",
                    s.name, s.count, s.smoke_count, s.about
                );
            }
        }
        "run" => {
            let ws_addr = args.ws.as_deref().map(resolve).transpose()?;
            if args.scenarios == "all" {
                // The client port speaks either plain NATS or TLS.
                chosen.retain(|s| match s.transport {
                    Transport::Tcp => !args.tls,
                    Transport::Tls => args.tls,
                    Transport::WebSocket => ws_addr.is_some(),
                });
                if ws_addr.is_none() {
                    eprintln!("(skipping the ws- scenarios: no --ws given)");
                }
                if args.tls {
                    eprintln!("(skipping the plain-TCP scenarios: --tls given)");
                } else {
                    eprintln!("(skipping the tls- scenarios: no --tls given)");
                }
            } else if args.tls {
                if let Some(s) = chosen.iter().find(|s| s.transport == Transport::Tcp) {
                    return Err(format!(
                        "{} connects in plain text, but --tls says the server requires TLS",
                        s.name
                    ));
                }
            }
            let tls = if args.tls {
                let ca = args
                    .ca
                    .clone()
                    .unwrap_or_else(|| tls::default_certs_dir().join("ca.pem"));
                let host = host_port(&args.server);
                let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Some(tls::TlsClient::new(&ca, host)?)
            } else {
                None
            };
            let cfg = run_template(resolve(&args.server)?, ws_addr, tls);
            let mut outcomes = Vec::new();
            for s in &chosen {
                let o = scenarios::run(s, &cfg)?;
                if !args.json && args.progress {
                    eprintln!("{:<14} {:>9} msgs/s  ok", s.name, report::si(o.rate()));
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
            let servers = compare::find_pair(args.a, args.b, &args.paths)?;
            let certs = args.certs.clone().unwrap_or_else(tls::default_certs_dir);
            let tls = if chosen.iter().any(|s| s.transport == Transport::Tls) {
                Some(tls::TlsClient::new(&certs.join("ca.pem"), "127.0.0.1")?)
            } else {
                None
            };
            let cfg = compare::CompareConfig {
                rounds: args.rounds.max(1),
                run: run_template(resolve("127.0.0.1:4222")?, None, tls),
                certs,
                servers,
            };
            for (label, s) in ["A", "B"].iter().zip(&cfg.servers) {
                eprintln!(
                    "{label}: {:<11} {} ({})",
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
                let [a, b] = &cfg.servers;
                println!(
                    "A = {} ({}), B = {} ({})",
                    a.name,
                    a.path.display(),
                    b.name,
                    b.path.display()
                );
                println!(
                    "medians of {} alternating rounds; ratio = median over rounds of {} / {}",
                    cfg.rounds, a.name, b.name
                );
                print!("{}", compare::table(&results, &cfg.servers));
            }
        }
        other => return Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
    Ok(())
}
