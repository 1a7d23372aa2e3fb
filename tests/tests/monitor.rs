//! HTTP monitoring endpoints (`-m PORT`).
//!
//! Runs on the TCP servers only ([`rnats_tests::for_each_tcp_server`]): it tests the
//! process; what monitoring shows of WebSocket clients is checked by `websocket.rs`.
//!
//! Counters are polled until they reach the expected value (servers may update them
//! asynchronously). Absolute subscription counts are not compared: nats-server 2.9.10 has
//! ~43 internal `$SYS` subscriptions, so only deltas are.

use std::time::Duration;

use rnats_tests::{
    for_each_tcp_server, http_get, http_get_json, wait_for, RawClient, ServerConfig, TestServer,
};
use serde_json::Value;

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

fn start(kind: rnats_tests::ServerKind) -> TestServer {
    TestServer::start(kind, ServerConfig::default().with_monitoring())
}

/// Polls `path` until `pred` holds; returns the last JSON.
fn poll(server: &TestServer, path: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(Duration::from_secs(5), what, || {
            let v = http_get_json(server.http_port(), path);
            if pred(&v) {
                Some(v)
            } else {
                last = v;
                None
            }
        })
    }));
    r.unwrap_or_else(|_| panic!("GET {path}: {what} never held; last response: {last:#}"))
}

#[test]
fn monitor_varz() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let v = http_get_json(server.http_port(), "/varz");
        for key in [
            "server_id",
            "server_name",
            "version",
            "go",
            "host",
            "start",
            "now",
            "uptime",
        ] {
            assert!(v[key].is_string(), "varz.{key} should be a string: {v:#}");
        }
        for key in [
            "mem",
            "cores",
            "connections",
            "total_connections",
            "in_msgs",
            "out_msgs",
            "in_bytes",
            "out_bytes",
            "slow_consumers",
            "subscriptions",
            "routes",
            "remotes",
            "leafnodes",
        ] {
            assert!(
                v[key].is_u64(),
                "varz.{key} should be an unsigned number: {v:#}"
            );
        }
        assert!(v["cpu"].is_number(), "varz.cpu: {v:#}");
        assert_eq!(v["proto"], 1);
        assert_eq!(v["port"].as_u64(), Some(server.port() as u64));
        assert_eq!(v["http_port"].as_u64(), Some(server.http_port() as u64));
        // Defaults (const.go); durations in nanoseconds, auth_timeout in seconds.
        assert_eq!(v["max_payload"], 1_048_576);
        assert_eq!(v["max_control_line"], 4096);
        assert_eq!(v["max_connections"], 65_536);
        assert_eq!(v["max_pending"], 67_108_864);
        assert_eq!(v["ping_interval"], 120_000_000_000u64);
        assert_eq!(v["ping_max"], 2);
        assert_eq!(v["write_deadline"], 10_000_000_000u64);
        assert_eq!(v["auth_timeout"].as_f64(), Some(2.0));

        // Traffic: 3 messages in (7 bytes), 2 delivered (6 bytes).
        let mut a = RawClient::connected(&server, QUIET);
        a.roundtrip(b"SUB foo 1\r\n");
        let mut b = RawClient::connected(&server, QUIET);
        b.roundtrip(b"PUB foo 3\r\nabc\r\nPUB foo 3\r\nabc\r\nPUB zip 1\r\nx\r\n");
        a.roundtrip(b"");
        let v = poll(&server, "/varz", "traffic counters", |v| {
            v["connections"] == 2
                && v["in_msgs"] == 3
                && v["out_msgs"] == 2
                && v["in_bytes"] == 7
                && v["out_bytes"] == 6
        });
        assert!(v["total_connections"].as_u64().unwrap() >= 2, "{v:#}");
        drop(a);
        poll(&server, "/varz", "connections back to 1", |v| {
            v["connections"] == 1
        });
    });
}

#[test]
fn monitor_connz() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let mut a = RawClient::connected(
            &server,
            r#"{"verbose":false,"name":"alpha","lang":"raw","version":"9.9.9"}"#,
        );
        a.roundtrip(b"SUB foo 1\r\nSUB bar q 2\r\n");
        let mut b = RawClient::connected(&server, QUIET);
        b.roundtrip(b"PUB foo 3\r\nabc\r\nPUB foo 3\r\nabc\r\n");
        a.roundtrip(b"");
        let (ida, idb) = (a.client_id(), b.client_id());

        let c = poll(&server, "/connz", "2 connections", |c| {
            c["num_connections"] == 2
        });
        assert!(c["server_id"].is_string(), "{c:#}");
        assert!(c["now"].is_string(), "{c:#}");
        assert_eq!(c["offset"], 0);
        assert_eq!(c["limit"], 1024);
        assert!(c["total"].as_u64().unwrap() >= 2, "{c:#}");
        let conns = c["connections"].as_array().expect("connections array");
        let mut cids: Vec<u64> = conns.iter().map(|x| x["cid"].as_u64().unwrap()).collect();
        cids.sort_unstable();
        let mut want = vec![ida, idb];
        want.sort_unstable();
        assert_eq!(cids, want, "connz cids are the INFO client_ids");
        let ca = conns.iter().find(|x| x["cid"] == ida).unwrap();
        assert_eq!(ca["name"], "alpha");
        assert_eq!(ca["lang"], "raw");
        assert_eq!(ca["version"], "9.9.9");
        assert_eq!(ca["ip"], "127.0.0.1");
        assert_eq!(
            ca["port"].as_u64(),
            Some(a.stream().local_addr().unwrap().port() as u64)
        );
        assert_eq!(ca["subscriptions"], 2);
        assert!(
            ca.get("subscriptions_list").is_none(),
            "no list without subs=1: {ca:#}"
        );
        for key in ["start", "last_activity", "uptime", "idle"] {
            assert!(ca[key].is_string(), "conn.{key}: {ca:#}");
        }
        let c = poll(&server, "/connz", "per-connection counters", |c| {
            let conns = c["connections"].as_array().unwrap();
            let ca = conns.iter().find(|x| x["cid"] == ida);
            let cb = conns.iter().find(|x| x["cid"] == idb);
            matches!((ca, cb), (Some(ca), Some(cb))
                if ca["out_msgs"] == 2 && ca["out_bytes"] == 6 && cb["in_msgs"] == 2 && cb["in_bytes"] == 6)
        });
        let _ = c;

        let c = http_get_json(server.http_port(), "/connz?subs=1");
        let ca = c["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["cid"] == ida)
            .unwrap()
            .clone();
        let mut list: Vec<String> = ca["subscriptions_list"]
            .as_array()
            .unwrap_or_else(|| panic!("subscriptions_list with subs=1: {ca:#}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        list.sort();
        assert_eq!(list, vec!["bar", "foo"]);

        // Filter by cid.
        let c = http_get_json(server.http_port(), &format!("/connz?cid={idb}"));
        let conns = c["connections"].as_array().unwrap();
        assert_eq!(conns.len(), 1, "{c:#}");
        assert_eq!(conns[0]["cid"], idb);

        drop(b);
        poll(&server, "/connz", "closed connection removed", |c| {
            c["num_connections"] == 1
        });
    });
}

#[test]
fn monitor_connz_closed() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let mut a = RawClient::connected(
            &server,
            r#"{"verbose":false,"name":"gone","lang":"raw","version":"1.0"}"#,
        );
        a.roundtrip(b"SUB b.> q 2\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n");
        let ida = a.client_id();
        drop(a);
        // Closed first, for the sort by stop below.
        poll(
            &server,
            "/connz?state=closed",
            "the first one closed",
            |c| {
                c["connections"]
                    .as_array()
                    .is_some_and(|all| all.iter().any(|x| x["cid"] == ida))
            },
        );
        let mut bad = RawClient::connected(&server, QUIET);
        let idb = bad.client_id();
        bad.send(b"FOO\r\n");
        let _ = bad.expect_closed(Duration::from_secs(5));
        let _open = RawClient::connected(&server, r#"{"verbose":false,"name":"open"}"#);

        // The harness's readiness probe is a closed connection too: look at ours.
        let ours = |c: &Value| -> Vec<Value> {
            c["connections"]
                .as_array()
                .map(|all| {
                    all.iter()
                        .filter(|x| x["cid"] == ida || x["cid"] == idb)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        let c = poll(&server, "/connz?state=closed&subs=1", "both closed", |c| {
            ours(c).len() == 2
        });
        let conns = ours(&c);
        let cids: Vec<u64> = conns.iter().map(|x| x["cid"].as_u64().unwrap()).collect();
        assert_eq!(cids, [ida, idb], "[{kind}] closed, by cid: {c:#}");
        let gone = &conns[0];
        assert_eq!(gone["name"], "gone", "[{kind}]");
        assert_eq!(gone["reason"], "Client Closed", "[{kind}] {gone:#}");
        assert!(gone["stop"].is_string(), "[{kind}] {gone:#}");
        assert_eq!(gone["in_msgs"], 1, "[{kind}] {gone:#}");
        assert_eq!(gone["out_msgs"], 1, "[{kind}] {gone:#}");
        assert_eq!(gone["subscriptions"], 2, "[{kind}] {gone:#}");
        // nats-server lists a closed connection's subjects in map order: compare sorted.
        let mut list: Vec<&str> = gone["subscriptions_list"]
            .as_array()
            .unwrap_or_else(|| panic!("[{kind}] no subscriptions_list: {gone:#}"))
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        list.sort_unstable();
        assert_eq!(list, ["a", "b.>"], "[{kind}] {gone:#}");
        assert_eq!(conns[1]["reason"], "Protocol Violation", "[{kind}]");

        // state=any holds both lists; sort=stop needs closed ones.
        let c = http_get_json(server.http_port(), "/connz?state=any");
        let names: Vec<&str> = c["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["name"].as_str())
            .collect();
        assert_eq!(names, ["gone", "open"], "[{kind}] by cid: {c:#}");
        // Latest first (the harness's readiness probe may close at any time: skip it).
        let c = http_get_json(server.http_port(), "/connz?state=closed&sort=stop");
        let order: Vec<u64> = c["connections"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["cid"].as_u64())
            .filter(|cid| *cid == ida || *cid == idb)
            .collect();
        assert_eq!(order, [idb, ida], "[{kind}] latest first: {c:#}");
        let c = http_get_json(
            server.http_port(),
            &format!("/connz?state=closed&cid={ida}"),
        );
        assert_eq!(c["connections"][0]["name"], "gone", "[{kind}] {c:#}");
    });
}

#[test]
fn monitor_subsz() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let base = http_get_json(server.http_port(), "/subsz");
        let n0 = base["num_subscriptions"]
            .as_u64()
            .unwrap_or_else(|| panic!("num_subscriptions: {base:#}"));
        let mut a = RawClient::connected(&server, QUIET);
        a.roundtrip(b"SUB a 1\r\nSUB b 2\r\nSUB c.* q 3\r\n");
        poll(&server, "/subsz", "3 more subscriptions", |v| {
            v["num_subscriptions"] == n0 + 3
        });
        a.roundtrip(b"UNSUB 1\r\n");
        poll(&server, "/subsz", "one removed", |v| {
            v["num_subscriptions"] == n0 + 2
        });
        drop(a);
        poll(
            &server,
            "/subsz",
            "connection's subscriptions removed",
            |v| v["num_subscriptions"] == n0,
        );
        // Also on /varz.
        let v = http_get_json(server.http_port(), "/varz");
        assert_eq!(v["subscriptions"], n0, "varz.subscriptions");
    });
}

#[test]
fn monitor_healthz() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let r = http_get(server.http_port(), "/healthz").unwrap();
        assert_eq!(r.status, 200, "{r:?}");
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body));
        assert_eq!(v, serde_json::json!({"status": "ok"}));
        assert!(
            r.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "content-type: {:?}",
            r.header("content-type")
        );
    });
}

#[test]
fn monitor_unknown_path() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let r = http_get(server.http_port(), "/no-such-endpoint").unwrap();
        assert_eq!(r.status, 404, "{r:?}");
        // The client port is unaffected.
        let mut c = RawClient::connected(&server, QUIET);
        c.roundtrip(b"");
    });
}
