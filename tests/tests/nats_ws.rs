//! The official `nats.ws` client (Node 20, `ws` package as its WebSocket) against the
//! WebSocket listener of every server: `node --test tests/js/` per server,
//! whose test-runner summary is printed. The npm packages come from
//! `tests/js/package-lock.json`, installed by `scripts/install-test-deps.sh` (`npm ci`).
//!
//! Runs on the TCP servers ([`rnats_tests::for_each_tcp_server`]), which is every binary
//! once: it always goes to the WebSocket listener, so a WebSocket frontend would repeat it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rnats_tests::{for_each_tcp_server, ServerConfig, TestServer};

/// How long one `node --test` run may take.
const NODE_TIMEOUT: Duration = Duration::from_secs(120);

/// Keeps the summaries of servers tested in parallel from interleaving.
static OUTPUT: Mutex<()> = Mutex::new(());

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js")
}

#[test]
fn nats_ws_client() {
    let dir = js_dir();
    assert!(
        dir.join("node_modules/nats.ws").is_dir() && dir.join("node_modules/ws").is_dir(),
        "{}/node_modules is missing nats.ws or ws: run scripts/install-test-deps.sh \
         (it runs `npm ci` there; Node 20 and npm are needed)",
        dir.display()
    );
    for_each_tcp_server(move |kind| {
        let server = TestServer::start(kind, ServerConfig::default().with_websocket());
        let (ok, output) = run_node(&server);
        {
            let _serial = OUTPUT.lock().unwrap_or_else(|e| e.into_inner());
            // Straight to the process's stdout: the test harness does not capture it, so
            // the summary shows in every run.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "---- nats.ws against {kind} ({}) ----",
                server.ws_url()
            );
            let _ = out.write_all(summary(&output).as_bytes());
            let _ = out.flush();
        }
        assert!(ok, "[{kind}] node --test failed:\n{output}");
        server.assert_running();
    });
}

/// Run the JS tests against `server`; returns success and everything node printed.
fn run_node(server: &TestServer) -> (bool, String) {
    let dir = js_dir();
    let out_path = server.dir().join("node.out");
    let out = std::fs::File::create(&out_path).expect("create node output file");
    let err = out.try_clone().expect("clone node output file");
    let mut child = Command::new("node")
        .args(["--test", "--test-reporter=tap", "nats_ws.test.mjs"])
        .current_dir(&dir)
        .env("NATS_WS_URL", server.ws_url())
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
