//! CI smoke test of `rnats-bench`: every scenario (TCP, WebSocket and TLS) at small counts
//! against the debug rnats-server, a two-round `compare` against the reference
//! nats-server, and one of rnats-server against rnats-server-smol. Delivery counts are
//! checked (by the bench itself, and again here from its JSON); timings never.

use rnats_tests::{cert_path, server_binary, Frontend, ServerConfig, ServerKind, TestServer};
use serde_json::Value;
use std::process::Command;

fn bench(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_rnats-bench"))
        .args(args)
        .output()
        .expect("run rnats-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "rnats-bench {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("rnats-bench printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn every_scenario_delivers_exactly_against_rnats() {
    let server = TestServer::start(
        ServerKind::Rnats(Frontend::Tokio),
        ServerConfig::default().with_websocket(),
    );
    let url = format!("127.0.0.1:{}", server.port());
    let ws = format!("ws://127.0.0.1:{}", server.ws_port());
    let pid = server.pid().to_string();
    let results = bench(&[
        "run",
        "--server",
        &url,
        "--ws",
        &ws,
        "--server-pid",
        &pid,
        "--smoke",
        "--json",
        "--no-progress",
    ]);
    let results = results.as_array().expect("a JSON array");
    let by_name = |name: &str| {
        results
            .iter()
            .find(|r| r["scenario"] == name)
            .unwrap_or_else(|| panic!("scenario {name} missing from {results:?}"))
    };
    for name in ["pub-16", "pub-128", "pub-1k", "pub-16k", "ws-pub-16"] {
        let r = by_name(name);
        assert!(u(r, "published") > 0);
        assert_eq!(u(r, "delivered"), 0, "{name}");
    }
    for (name, subs) in [
        ("pubsub-16", 1),
        ("pubsub-16k", 1),
        ("ws-pubsub-16", 1),
        ("ws-pubsub-16k", 1),
        ("fanout-4", 4),
        ("many-4x4", 4),
    ] {
        let r = by_name(name);
        assert_eq!(u(r, "delivered"), u(r, "published") * subs, "{name}");
    }
    let queue = by_name("queue-4");
    assert_eq!(u(queue, "delivered"), u(queue, "published"));
    let wildcard = by_name("wildcard");
    assert_eq!(u(wildcard, "published"), 20_000);
    // Fixed by the deterministic subscription set: 0.75 matches per subject on average.
    assert!(u(wildcard, "delivered") > 10_000, "{wildcard}");
    let reqrep = by_name("reqrep");
    assert_eq!(u(reqrep, "msgs"), 200);
    assert!(reqrep["latency_us"]["p99"]
        .as_f64()
        .is_some_and(|p| p > 0.0));
    let conns = by_name("conns");
    assert_eq!(u(conns, "delivered"), 50);
    assert!(conns["connections"]["rss_after"]
        .as_u64()
        .is_some_and(|b| b > 0));
    assert!(conns["server_cpu_secs"].as_f64().is_some());
    server.assert_running();
}

#[test]
fn tls_scenarios_deliver_exactly_against_rnats() {
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n",
        cert_path("server.pem"),
        cert_path("server.key")
    );
    let server = TestServer::start(
        ServerKind::Rnats(Frontend::Tokio),
        ServerConfig::config(tls),
    );
    let ca = cert_path("ca.pem");
    // `all` with --tls: the tls- scenarios only (the client port speaks nothing else).
    let results = bench(&[
        "run",
        "--server",
        &format!("tls://127.0.0.1:{}", server.port()),
        "--ca",
        &ca,
        "--server-pid",
        &server.pid().to_string(),
        "--smoke",
        "--json",
        "--no-progress",
    ]);
    let results = results.as_array().expect("a JSON array");
    let names: Vec<&str> = results
        .iter()
        .filter_map(|r| r["scenario"].as_str())
        .collect();
    assert_eq!(names, ["tls-pub-16", "tls-pubsub-16", "tls-pubsub-16k"]);
    for r in results {
        let subs = if r["scenario"] == "tls-pub-16" { 0 } else { 1 };
        assert!(u(r, "published") > 0, "{r}");
        assert_eq!(u(r, "delivered"), u(r, "published") * subs, "{r}");
        assert!(
            r["tls"].as_str().is_some_and(|t| t.starts_with("TLSv1_3")),
            "no TLS session in {r}"
        );
    }
    server.assert_running();
}

#[test]
fn websocket_counts_that_are_not_a_multiple_of_a_frame_deliver_exactly() {
    // 20,002 messages: whole pre-encoded frames (1,456 and 3 messages each), then a
    // shorter last frame.
    let server = TestServer::start(
        ServerKind::Rnats(Frontend::Tokio),
        ServerConfig::default().with_websocket(),
    );
    let results = bench(&[
        "run",
        "--server",
        &format!("127.0.0.1:{}", server.port()),
        "--ws",
        &format!("127.0.0.1:{}", server.ws_port()),
        "-s",
        "ws-pubsub-16,ws-pubsub-16k",
        "--msgs",
        "20002",
        "--json",
        "--no-progress",
    ]);
    for r in results.as_array().expect("a JSON array") {
        assert_eq!(u(r, "published"), 20_002, "{r}");
        assert_eq!(u(r, "delivered"), 20_002, "{r}");
    }
    server.assert_running();
}

#[test]
fn compare_runs_both_servers_in_alternation() {
    let rnats = server_binary(ServerKind::Rnats(Frontend::Tokio));
    let nats = server_binary(ServerKind::NatsServer);
    let report = bench(&[
        "compare",
        "--rnats",
        rnats.to_str().expect("utf-8 path"),
        "--nats-server",
        nats.to_str().expect("utf-8 path"),
        "--rounds",
        "2",
        "--smoke",
        "-s",
        "pubsub-16,reqrep,conns,ws-pubsub-16,tls-pubsub-16",
        "--json",
        "--no-progress",
    ]);
    assert_eq!(report["servers"]["a"]["name"], "tokio");
    assert_eq!(report["servers"]["b"]["name"], "nats-server");
    let scenarios = report["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 5);
    for s in scenarios {
        for server in ["a", "b"] {
            let runs = s["runs"][server].as_array().expect("runs");
            assert_eq!(runs.len(), 2, "{server} in {}", s["scenario"]);
        }
        assert!(
            s["medians"]["msgs/s"]["ratio"].as_f64().is_some(),
            "no ratio: {s}"
        );
    }
    let conns = &scenarios[2];
    assert!(conns["medians"]["KiB/conn"]["b"].as_f64().is_some());
    let reqrep = &scenarios[1];
    assert!(reqrep["medians"]["p99 us"]["ratio"].as_f64().is_some());
    // nats-server's WebSocket listener delivered every message too, and both servers did
    // over TLS (each started with the tls block of the repository's test certificates).
    for run in scenarios[3]["runs"]["b"].as_array().expect("runs") {
        assert_eq!(u(run, "delivered"), u(run, "published"), "{run}");
    }
    for server in ["a", "b"] {
        for run in scenarios[4]["runs"][server].as_array().expect("runs") {
            assert_eq!(u(run, "delivered"), u(run, "published"), "{run}");
            assert!(run["tls"].is_string(), "{run}");
        }
    }
}

#[test]
fn compare_chooses_its_two_servers() {
    let tokio = server_binary(ServerKind::Rnats(Frontend::Tokio));
    let smol = server_binary(ServerKind::Rnats(Frontend::Smol));
    let report = bench(&[
        "compare",
        "--servers",
        "tokio,smol",
        "--rnats",
        tokio.to_str().expect("utf-8 path"),
        "--rnats-smol",
        smol.to_str().expect("utf-8 path"),
        "--rounds",
        "1",
        "--smoke",
        "-s",
        "pubsub-16,ws-pubsub-16",
        "--json",
        "--no-progress",
    ]);
    assert_eq!(report["servers"]["a"]["name"], "tokio");
    assert_eq!(report["servers"]["b"]["name"], "smol");
    assert_eq!(
        report["servers"]["b"]["path"],
        smol.to_str().expect("utf-8")
    );
    for s in report["scenarios"].as_array().expect("scenarios") {
        for server in ["a", "b"] {
            let run = &s["runs"][server][0];
            assert_eq!(u(run, "delivered"), u(run, "published"), "{server}: {s}");
        }
    }
}
