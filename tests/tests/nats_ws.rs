//! The official `nats.ws` client (Node 20, `ws` package as its WebSocket) against the
//! WebSocket listener of every server: `node --test tests/js/` per server,
//! whose test-runner summary is printed. Twice: over `ws://`, and over `wss://` (the
//! listener's `tls` block with `tests/certs/server.pem`; Node trusts the test CA through
//! `NODE_EXTRA_CA_CERTS`, which the `ws` package honours since it uses Node's `tls`). The npm packages come from
//! `tests/js/package-lock.json`, installed by `scripts/install-test-deps.sh` (`npm ci`).
//!
//! Runs on the TCP servers ([`rnats_tests::for_each_tcp_server`]), which is every binary
//! once: it always goes to the WebSocket listener, so a WebSocket frontend would repeat it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rnats_tests::{cert_path, for_each_tcp_server, ServerConfig, TestServer};

/// How long one `node --test` run may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// Keeps the summaries of servers tested in parallel from interleaving.
static OUTPUT: Mutex<()> = Mutex::new(());

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

fn assert_node_modules() {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/nats.ws").is_dir() && dir.join("node_modules/ws").is_dir(),
        "{}/node_modules is missing nats.ws or ws: run scripts/install-test-deps.sh \
         (it runs `npm ci` there; Node 20 and npm are needed)",
        dir.display()
    );
}

/// Runs the JS tests against `server` at `url` (with `env` added to node's), prints the
/// summary and fails with node's whole output if a JS test failed.
fn run_and_report(server: &TestServer, url: &str, env: &[(&str, String)]) {
    let kind = server.kind();
    let (ok, output) = run_node(server, url, env);
    {
        let _serial = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
        // Straight to the process's stdout: the test harness does not capture it, so
        // the summary shows in every run.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "---- nats.ws against {kind} ({url}) ----");
        let _ = out.write_all(summary(&output).as_bytes());
        let _ = out.flush();
    }
    assert!(ok, "[{kind}] node --test against {url} failed:\n{output}");
    server.assert_running();
}

#[test]
fn nats_ws_client() {
    assert_node_modules();
    for_each_tcp_server(move |kind| {
        let server = TestServer::start(kind, ServerConfig::default().with_websocket());
        run_and_report(&server, &server.ws_url(), &[]);
    });
}

/// The same JS tests over `wss://localhost:PORT` (all of them: they take well under a
/// second per server).
#[test]
fn nats_ws_client_over_wss() {
    assert_node_modules();
    for_each_tcp_server(move |kind| {
        let config = ServerConfig::config(format!(
            "websocket {{ host: 127.0.0.1, port: {{ws_port}}, \
             tls {{ cert_file: \"{}\", key_file: \"{}\" }} }}",
            cert_path("server.pem"),
            cert_path("server.key"),
        ))
        .with_websocket();
        let server = TestServer::start(kind, config);
        run_and_report(
            &server,
            &server.wss_url(),
            &[("NODE_EXTRA_CA_CERTS", cert_path("ca.pem"))],
        );
    });
}

/// Run the JS tests against `server` at `url`, with `env` added to node's environment;
/// returns success and everything node printed.
fn run_node(server: &TestServer, url: &str, env: &[(&str, String)]) -> (bool, String) {
    let dir = js_dir();
    let out_path = server.dir().join("node.out");
    let out = std::fs::File::create(&out_path).expect("create node output file");
    let err = out.try_clone().expect("clone node output file");
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=tap", "nats_ws.test.mjs"])
        .current_dir(&dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("NATS_WS_URL", url)
        .env("NATS_TCP_PORT", server.port().to_string())
        .env("NATS_SERVER_LABEL", server.kind().name())
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("running node (Node 20 must be on PATH): {e}"));
    let deadline = Instant::now() + NODE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for node") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = std::fs::read_to_string(&out_path).unwrap_or_default();
    if status.is_none() {
        output.push_str(&format!("\n(killed after {NODE_TIMEOUT:?})\n"));
    }
    (status.is_some_and(|s| s.success()), output)
}

/// The test names with their results and node's closing summary (`# tests 9`, `# pass 9`,
/// …) out of the TAP output.
fn summary(tap: &str) -> String {
    tap.lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("not ok ") || l.starts_with("# "))
        .filter(|l| !l.starts_with("# Subtest"))
        .map(|l| format!("{l}\n"))
        .collect()
}
