use super::*;
use crate::options::Options;
use crate::server::{Connection, PeerAddr};
use bytes::BytesMut;
use serde_json::Value;

/// 2026-11-27T16:15:01Z.
const WALL: i128 = 1_795_796_101 * 1_000_000_000;
const HOST: HostStats = HostStats {
    mem_bytes: 11_878_400,
    cpu_seconds: 1.5,
    cores: 2,
};

struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

fn request(server: &Server, raw: &[u8], now: Instant) -> Reply {
    let out = http_response(
        server,
        raw,
        now,
        WALL + now.since_origin().as_nanos() as i128,
        &HOST,
    );
    let text = String::from_utf8(out).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head[9..12].parse().expect("status");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .expect("content length")
        .parse()
        .unwrap();
    assert!(head.contains("\r\nConnection: close"), "{head}");
    if !raw.starts_with(b"HEAD ") {
        assert_eq!(body.len(), len, "{head}");
    }
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(server: &Server, target: &str, now: Instant) -> Reply {
    request(
        server,
        format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        now,
    )
}

fn connect(server: &Arc<Server>, port: u16, ops: &str, now: Instant) -> Connection {
    let mut conn = server.accept(
        PeerAddr {
            ip: "127.0.0.1".to_string(),
            port,
        },
        now,
    );
    let mut buf = BytesMut::from(ops.as_bytes());
    conn.handle_bytes(&mut buf, now);
    conn
}

const T0: Instant = Instant::ZERO;

fn at(secs: u64) -> Instant {
    Instant::from_millis(secs * 1000)
}

#[test]
fn varz_shape() {
    let server = Server::new(Options::default(), 7, T0);
    let _a = connect(
        &server,
        40001,
        "CONNECT {\"name\":\"x\",\"lang\":\"py\",\"version\":\"1\",\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n",
        at(1),
    );
    let r = get(&server, "/varz", at(3723));
    assert_eq!(r.status, 200);
    assert!(
        r.head.contains("Content-Type: application/json\r\n"),
        "{}",
        r.head
    );
    let v = r.json();
    assert_eq!(v["server_id"], server.id());
    assert_eq!(v["server_name"], server.name());
    assert_eq!(v["version"], crate::server::NATS_VERSION);
    assert_eq!(v["proto"], 1);
    assert!(v["go"].is_string());
    assert_eq!(v["host"], "0.0.0.0");
    assert_eq!(v["port"], 4222);
    assert_eq!(v["max_connections"], 65536);
    assert_eq!(v["ping_interval"], 120_000_000_000u64);
    assert_eq!(v["ping_max"], 2);
    assert_eq!(v["http_port"], 0);
    assert_eq!(v["auth_timeout"], 2);
    assert_eq!(v["max_control_line"], 4096);
    assert_eq!(v["max_payload"], 1_048_576);
    assert_eq!(v["max_pending"], 67_108_864);
    assert_eq!(v["write_deadline"], 10_000_000_000u64);
    assert_eq!(v["start"], "2026-11-27T16:15:01Z");
    assert_eq!(v["now"], "2026-11-27T17:17:04Z");
    assert_eq!(v["config_load_time"], v["start"]);
    assert_eq!(v["uptime"], "1h2m3s");
    assert_eq!(v["mem"], 11_878_400);
    assert_eq!(v["cores"], 2);
    assert_eq!(v["gomaxprocs"], 2);
    assert!(v["cpu"].is_number());
    assert_eq!(v["connections"], 1);
    assert_eq!(v["total_connections"], 1);
    assert_eq!(v["routes"], 0);
    assert_eq!(v["remotes"], 0);
    assert_eq!(v["leafnodes"], 0);
    assert_eq!(v["in_msgs"], 1);
    assert_eq!(v["in_bytes"], 5);
    assert_eq!(v["out_msgs"], 1);
    assert_eq!(v["out_bytes"], 5);
    assert_eq!(v["slow_consumers"], 0);
    assert_eq!(v["subscriptions"], 1);
    assert_eq!(v["http_req_stats"], serde_json::json!({"/varz": 1}));
    for key in [
        "cluster",
        "gateway",
        "leaf",
        "mqtt",
        "websocket",
        "jetstream",
    ] {
        assert_eq!(v[key], serde_json::json!({}), "{key}");
    }
    assert!(v.get("auth_required").is_none());
    // Go's layout: two-space indent, `"key": value`, whole floats without ".0".
    assert!(r.body.starts_with("{\n  \"server_id\": \"N"), "{}", r.body);
    assert!(r.body.contains("\n  \"auth_timeout\": 2,\n"));
    assert!(r.body.contains("\n  \"tls_timeout\": 2,\n"));
    let order: Vec<usize> = [
        "\"server_id\"",
        "\"version\"",
        "\"max_connections\"",
        "\"start\"",
        "\"in_msgs\"",
        "\"http_req_stats\"",
    ]
    .iter()
    .map(|k| r.body.find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "field order");

    get(&server, "/healthz", at(3724));
    get(&server, "/subscriptionsz", at(3724));
    get(&server, "/nope", at(3724));
    let v = get(&server, "/varz", at(3724)).json();
    assert_eq!(
        v["http_req_stats"],
        serde_json::json!({"/healthz": 1, "/subsz": 1, "/varz": 2})
    );
}

#[test]
fn varz_and_info_announce_tls() {
    use crate::options::TlsOptions;
    let tls = |verify: bool, timeout: Option<Duration>| Options {
        tls: Some(TlsOptions {
            verify,
            timeout,
            ..TlsOptions::default()
        }),
        ..Options::default()
    };
    // As nats-server 2.9.10: both flags omitted without TLS, `tls_timeout` always there.
    for (opts, required, verify, timeout) in [
        (Options::default(), None, None, 2.0),
        (tls(false, None), Some(true), None, 2.0),
        (
            tls(true, Some(Duration::from_millis(1500))),
            Some(true),
            Some(true),
            1.5,
        ),
    ] {
        let server = Server::new(opts, 7, T0);
        let v = get(&server, "/varz", at(1)).json();
        assert_eq!(v.get("tls_required").and_then(|b| b.as_bool()), required);
        assert_eq!(v.get("tls_verify").and_then(|b| b.as_bool()), verify);
        assert_eq!(v["tls_timeout"], timeout);
        let info = info_line(&server, 40001);
        let json: serde_json::Value = serde_json::from_str(info[5..].trim()).unwrap();
        assert_eq!(json.get("tls_required").and_then(|b| b.as_bool()), required);
        assert_eq!(json.get("tls_verify").and_then(|b| b.as_bool()), verify);
        if required.is_some() {
            // nats-server's order: after `headers`, before `max_payload`.
            let at = |k: &str| info.find(k).unwrap();
            assert!(
                at("\"headers\"") < at("\"tls_required\"")
                    && at("\"tls_required\"") < at("\"max_payload\"")
            );
        }
    }
}

/// The INFO line a new connection of `server` gets.
fn info_line(server: &Arc<Server>, port: u16) -> String {
    let conn = connect(server, port, "", at(1));
    let mut chunks = std::collections::VecDeque::new();
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    let _ = conn.shared().poll_write(&mut cx, &mut chunks);
    chunks
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect()
}

/// The INFO a new connection of `server` gets, parsed.
fn info_of(server: &Arc<Server>, port: u16) -> serde_json::Value {
    serde_json::from_str(info_line(server, port)[5..].trim()).unwrap()
}

#[test]
fn info_has_a_fresh_nonce_for_nkey_users() {
    let plain = Server::new(Options::default(), 7, T0);
    assert!(info_of(&plain, 1).get("nonce").is_none());
    let mut options = Options::default();
    options
        .authorization
        .nkey_users
        .push(crate::options::NkeyUser {
            public_key: "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4".into(),
            ..Default::default()
        });
    let server = Server::new(options, 7, T0);
    let (a, b) = (info_of(&server, 1), info_of(&server, 2));
    let nonce = a["nonce"].as_str().unwrap();
    assert_eq!(nonce.len(), 15, "11 bytes, URL-safe base64 without padding");
    assert!(nonce
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_ne!(a["nonce"], b["nonce"], "one per connection");
    assert_eq!(a["auth_required"], true);
}

#[test]
fn varz_cpu() {
    let server = Server::new(Options::default(), 7, T0);
    let state = &server.monitor;
    // First sample: average since start (1.5 s over 10 s).
    assert_eq!(state.cpu_percent(at(10), T0, 1.5), 15.0);
    // Within a second: the same value.
    assert_eq!(
        state.cpu_percent(Instant::from_millis(10_500), T0, 9.0),
        15.0
    );
    // Then over the last interval (0.25 s over 2 s), truncated to tenths.
    assert_eq!(state.cpu_percent(at(12), T0, 1.75), 12.5);
    assert_eq!(state.cpu_percent(at(15), T0, 1.76), 0.3);
    assert_eq!(state.cpu_percent(at(20), T0, f64::NAN), 0.0);
}

#[test]
fn connz_lists_connections() {
    let server = Server::new(Options::default(), 7, T0);
    let mut a = connect(
        &server,
        40001,
        "CONNECT {\"name\":\"a\",\"lang\":\"py\",\"version\":\"1\",\"verbose\":false}\r\nSUB foo 1\r\nSUB bar.* q1 2\r\nUNSUB 2 10\r\nPUB foo 5\r\nhello\r\n",
        at(1),
    );
    let _b = connect(&server, 40002, "CONNECT {\"verbose\":false}\r\nSUB x 9\r\nPUB nothing 3\r\nabc\r\nPUB nothing 3\r\nabc\r\n", at(2));
    let _c = connect(&server, 40003, "", at(3));

    let r = get(&server, "/connz", at(65));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["server_id"], server.id());
    assert_eq!(v["now"], "2026-11-27T16:16:06Z");
    assert_eq!(v["num_connections"], 3);
    assert_eq!(v["total"], 3);
    assert_eq!(v["offset"], 0);
    assert_eq!(v["limit"], 1024);
    let c = &v["connections"][0];
    assert_eq!(c["cid"], a.id());
    assert_eq!(c["kind"], "Client");
    assert_eq!(c["type"], "nats");
    assert_eq!(c["ip"], "127.0.0.1");
    assert_eq!(c["port"], 40001);
    assert_eq!(c["start"], "2026-11-27T16:15:02Z");
    assert_eq!(c["last_activity"], "2026-11-27T16:15:02Z");
    assert_eq!(c["rtt"], "0s");
    assert_eq!(c["uptime"], "1m4s");
    assert_eq!(c["idle"], "1m4s");
    assert!(
        c["pending_bytes"].as_u64().unwrap() > 0,
        "INFO queued, never written"
    );
    assert_eq!(c["in_msgs"], 1);
    assert_eq!(c["in_bytes"], 5);
    assert_eq!(c["out_msgs"], 1);
    assert_eq!(c["out_bytes"], 5);
    assert_eq!(c["subscriptions"], 2);
    assert_eq!(c["name"], "a");
    assert_eq!(c["lang"], "py");
    assert_eq!(c["version"], "1");
    assert!(c.get("subscriptions_list").is_none());
    assert!(c.get("authorized_user").is_none());
    // Empty CONNECT fields are left out.
    let c2 = &v["connections"][1];
    assert!(c2.get("name").is_none() && c2.get("lang").is_none());
    assert!(
        c2["pending_bytes"].as_u64().unwrap() > 0,
        "INFO and PONG queued, never written"
    );

    let v = get(&server, "/connz?subs=1", at(65)).json();
    assert_eq!(
        v["connections"][0]["subscriptions_list"],
        serde_json::json!(["foo", "bar.*"])
    );
    assert!(v["connections"][2].get("subscriptions_list").is_none());
    let v = get(&server, "/connz?subs=detail", at(65)).json();
    assert_eq!(
        v["connections"][0]["subscriptions_list_detail"],
        serde_json::json!([
            {"subject": "foo", "sid": "1", "msgs": 1, "cid": a.id()},
            {"subject": "bar.*", "qgroup": "q1", "sid": "2", "msgs": 0, "max": 10, "cid": a.id()},
        ])
    );

    // Paging, cid, sorting, states.
    let v = get(&server, "/connz?offset=1&limit=1", at(65)).json();
    assert_eq!(
        (v["num_connections"].as_u64(), v["total"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(v["connections"][0]["port"], 40002);
    let v = get(&server, "/connz?offset=7&limit=-4", at(65)).json();
    assert_eq!(
        (v["offset"].as_u64(), v["limit"].as_u64()),
        (Some(7), Some(1024))
    );
    assert_eq!(v["connections"], serde_json::json!([]));
    let v = get(
        &server,
        "/connz?offset=-3&limit=9223372036854775807",
        at(65),
    )
    .json();
    assert_eq!(v["num_connections"], 3);
    let v = get(&server, "/connz?cid=2", at(65)).json();
    assert_eq!(
        (
            v["num_connections"].as_u64(),
            v["total"].as_u64(),
            v["limit"].as_u64()
        ),
        (Some(1), Some(3), Some(1))
    );
    assert_eq!(v["connections"][0]["cid"], 2);
    let v = get(&server, "/connz?cid=99", at(65)).json();
    assert_eq!(v["connections"], serde_json::json!([]));
    let cids = |v: &Value| -> Vec<u64> {
        v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["cid"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        cids(&get(&server, "/connz?sort=subs", at(65)).json()),
        [1, 2, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=msgs_from", at(65)).json()),
        [2, 1, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=bytes_from", at(65)).json()),
        [2, 1, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=msgs_to", at(65)).json()),
        [1, 2, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=rtt", at(65)).json()),
        [1, 2, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=idle", at(65)).json()),
        [1, 2, 3]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=last", at(65)).json()),
        [3, 2, 1]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=uptime", at(65)).json()),
        [3, 2, 1]
    );
    assert_eq!(
        cids(&get(&server, "/connz?sort=start&state=any", at(65)).json()),
        [1, 2, 3]
    );
    let v = get(&server, "/connz?state=closed", at(65)).json();
    assert_eq!(
        (
            v["total"].as_u64(),
            v["connections"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    let v = get(&server, "/connz?acc=nope", at(65)).json();
    assert_eq!(
        (v["server_id"].as_str(), v["connections"].is_null()),
        (Some(""), true)
    );
    assert_eq!(get(&server, "/connz?acc=$G", at(65)).json()["total"], 3);
    assert_eq!(
        get(&server, "/connz?mqtt_client=m", at(65)).json()["num_connections"],
        0
    );

    // Errors, with nats-server's messages.
    for (target, message) in [
        ("/connz?sort=bogus", "invalid sorting option: bogus"),
        ("/connz?sort=stop", "sort by stop only valid on closed connections"),
        ("/connz?sort=reason", "sort by reason only valid on closed connections"),
        (
            "/connz?limit=abc",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"abc\": invalid syntax",
        ),
        (
            "/connz?limit=99999999999999999999",
            "Error decoding int for 'limit': strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "/connz?subs=foo",
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"foo\": invalid syntax",
        ),
        (
            "/connz?cid=-1",
            "Error decoding uint64 for 'cid': strconv.ParseUint: parsing \"-1\": invalid syntax",
        ),
        ("/connz?state=foo", "Error decoding state for foo"),
    ] {
        let r = get(&server, target, at(65));
        assert_eq!((r.status, r.body.as_str()), (400, message), "{target}");
        assert!(r.head.contains("Content-Type: text/plain; charset=utf-8"));
    }
    assert_eq!(
        get(&server, "/connz?sort=stop&state=closed", at(65)).status,
        200
    );

    // A closed connection leaves the list.
    a.close(crate::server::CloseReason::ClientClosed, at(66));
    let v = get(&server, "/connz", at(66)).json();
    assert_eq!(v["total"], 2);
}

#[test]
fn connz_keeps_closed_connections() {
    let server = Server::new(Options::default(), 7, T0);
    let mut gone = connect(
        &server,
        40001,
        "CONNECT {\"name\":\"gone\",\"verbose\":false}\r\nSUB b.> q 2\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n",
        at(1),
    );
    let mut bad = connect(&server, 40002, "", at(2));
    let _open = connect(&server, 40003, "CONNECT {\"name\":\"open\"}\r\n", at(3));
    gone.close(crate::server::CloseReason::ClientClosed, at(5));
    bad.close(crate::server::CloseReason::ProtocolViolation, at(4));

    let v = get(&server, "/connz?state=closed&subs=1", at(10)).json();
    assert_eq!(v["total"], 2);
    let conns = v["connections"].as_array().unwrap();
    // By cid, as nats-server lists them.
    assert_eq!(conns[0]["cid"], gone.id());
    assert_eq!(conns[0]["name"], "gone");
    assert_eq!(conns[0]["reason"], "Client Closed");
    assert_eq!(conns[0]["stop"], "2026-11-27T16:15:06Z");
    assert_eq!(conns[0]["uptime"], "4s", "start to stop");
    assert_eq!(conns[0]["in_msgs"], 1);
    assert_eq!(conns[0]["out_msgs"], 1);
    assert_eq!(conns[0]["subscriptions"], 2);
    assert_eq!(
        conns[0]["subscriptions_list"],
        serde_json::json!(["a", "b.>"])
    );
    assert_eq!(conns[1]["reason"], "Protocol Violation");
    assert!(conns[1].get("subscriptions_list").is_none());
    // Open ones alone by default, both with state=any.
    assert_eq!(get(&server, "/connz", at(10)).json()["total"], 1);
    let v = get(&server, "/connz?state=any", at(10)).json();
    let cids: Vec<u64> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cid"].as_u64().unwrap())
        .collect();
    assert_eq!(cids, [1, 2, 3]);
    // Sorted by stop (latest first) and by reason.
    let order = |query: &str| -> Vec<String> {
        get(&server, query, at(10)).json()["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap_or("-").to_string())
            .collect()
    };
    assert_eq!(order("/connz?state=closed&sort=stop"), ["gone", "-"]);
    assert_eq!(order("/connz?state=closed&sort=reason"), ["gone", "-"]);
    // Details of a closed connection's subscriptions.
    let v = get(&server, "/connz?state=closed&subs=detail&cid=1", at(10)).json();
    let detail = &v["connections"][0]["subscriptions_list_detail"];
    assert_eq!(detail[0]["subject"], "a");
    assert_eq!(detail[0]["msgs"], 1);
    assert_eq!(detail[1]["qgroup"], "q");
    assert_eq!(detail[1]["cid"], 1);
}

#[test]
fn closed_connections_are_capped() {
    let server = Server::new(Options::default(), 7, T0);
    for i in 0..crate::server::MAX_CLOSED_CLIENTS + 5 {
        let mut c = connect(&server, 1, "", at(1));
        c.close(crate::server::CloseReason::ClientClosed, at(1 + i as u64));
    }
    let closed = server.closed_connections();
    assert_eq!(closed.len(), crate::server::MAX_CLOSED_CLIENTS);
    assert_eq!(closed[0].cid, 6, "the oldest five dropped");
}

#[test]
fn connz_auth_user() {
    let mut options = Options::default();
    options.authorization.user = Some("alice".to_string());
    options.authorization.password = Some("pw".to_string());
    let server = Server::new(options, 7, T0);
    let _a = connect(
        &server,
        40001,
        "CONNECT {\"user\":\"alice\",\"pass\":\"pw\",\"verbose\":false}\r\nPING\r\n",
        at(1),
    );
    let v = get(&server, "/connz", at(2)).json();
    assert!(v["connections"][0].get("authorized_user").is_none());
    let v = get(&server, "/connz?auth=true", at(2)).json();
    assert_eq!(v["connections"][0]["authorized_user"], "alice");
    assert!(v["connections"][0].get("account").is_none());
    assert_eq!(
        get(&server, "/connz?user=alice", at(2)).json()["num_connections"],
        1
    );
    assert_eq!(
        get(&server, "/connz?user=bob", at(2)).json()["num_connections"],
        0
    );
    assert_eq!(get(&server, "/varz", at(2)).json()["auth_required"], true);
}

#[test]
fn subsz_shapes() {
    let server = Server::new(Options::default(), 7, T0);
    let a = connect(
        &server,
        40001,
        "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nSUB bar.* q1 2\r\nSUB baz 3\r\nUNSUB 3\r\nPUB foo 1\r\nx\r\n",
        at(1),
    );
    let r = get(&server, "/subsz", at(2));
    let v = r.json();
    assert_eq!(v["num_subscriptions"], 2);
    assert_eq!(v["num_inserts"], 3);
    assert_eq!(v["num_removes"], 1);
    assert!(v["num_matches"].is_u64());
    assert!(v["cache_hit_rate"].is_number());
    for key in ["num_cache", "max_fanout", "avg_fanout"] {
        assert_eq!(v[key], 0, "{key}");
    }
    assert!(
        v.get("server_id").is_none(),
        "bare statistics without subs=1"
    );
    assert!(r.body.starts_with("{\n  \"num_subscriptions\": 2,\n"));

    let v = get(&server, "/subsz?subs=1", at(2)).json();
    assert_eq!(v["server_id"], server.id());
    assert_eq!(v["total"], 2);
    assert_eq!(v["limit"], 1024);
    assert_eq!(
        v["subscriptions_list"],
        serde_json::json!([
            {"account": "$G", "subject": "foo", "sid": "1", "msgs": 1, "cid": a.id()},
            {"account": "$G", "subject": "bar.*", "qgroup": "q1", "sid": "2", "msgs": 0, "cid": a.id()},
        ])
    );
    let v = get(&server, "/subscriptionsz?subs=1&test=bar.x", at(2)).json();
    assert_eq!(v["subscriptions_list"][0]["subject"], "bar.*");
    assert_eq!(v["total"], 1);
    let v = get(&server, "/subsz?subs=1&offset=1&limit=1", at(2)).json();
    assert_eq!(v["subscriptions_list"][0]["subject"], "bar.*");
    // Nothing on the page: bare statistics again.
    assert!(get(&server, "/subsz?subs=1&test=nomatch", at(2))
        .json()
        .get("server_id")
        .is_none());
    assert_eq!(
        get(&server, "/subsz?acc=other", at(2)).json()["num_subscriptions"],
        0
    );
    let r = get(&server, "/subsz?test=foo.*", at(2));
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            400,
            "invalid test subject, must be valid publish subject: foo.*"
        )
    );
    assert_eq!(get(&server, "/subsz?subs=detail", at(2)).status, 400);
}

#[test]
fn other_endpoints() {
    let server = Server::new(Options::default(), 7, T0);
    let _a = connect(
        &server,
        40001,
        "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\n",
        at(1),
    );

    let r = get(&server, "/healthz", at(2));
    assert_eq!((r.status, r.body.as_str()), (200, "{\"status\":\"ok\"}"));
    let v = get(&server, "/routez", at(2)).json();
    assert_eq!(
        (
            v["num_routes"].as_u64(),
            v["routes"].as_array().map(Vec::len)
        ),
        (Some(0), Some(0))
    );
    assert_eq!(v["server_id"], server.id());
    let v = get(&server, "/gatewayz", at(2)).json();
    assert_eq!(v["outbound_gateways"], serde_json::json!({}));
    assert_eq!(v["inbound_gateways"], serde_json::json!({}));
    let v = get(&server, "/leafz", at(2)).json();
    assert_eq!(v["leafnodes"], 0);
    let v = get(&server, "/accountz", at(2)).json();
    assert_eq!(v["accounts"], serde_json::json!(["$G"]));
    let v = get(&server, "/accountz?acc=$G", at(2)).json();
    assert_eq!(v["account_detail"]["client_connections"], 1);
    assert_eq!(v["account_detail"]["sublist_stats"]["num_subscriptions"], 1);
    assert_eq!(
        get(&server, "/accountz?acc=X", at(2)).body,
        "Account X does not exist"
    );
    let v = get(&server, "/accstatz", at(2)).json();
    assert_eq!(v["account_statz"][0]["acc"], "$G");
    assert_eq!(v["account_statz"][0]["conns"], 1);
    let v = get(&server, "/jsz", at(2)).json();
    assert_eq!(v["disabled"], true);
    assert_eq!(v["api"], serde_json::json!({"total": 0, "errors": 0}));
    let r = get(&server, "/", at(2));
    assert!(r.head.contains("Content-Type: text/html"));
    assert!(r.body.contains("href=./varz"));

    // JSONP.
    let r = get(&server, "/healthz?callback=cb", at(2));
    assert_eq!(r.body, "cb({\"status\":\"ok\"})");
    assert!(r.head.contains("Content-Type: application/javascript"));
}

#[test]
fn http_edge_cases() {
    let server = Server::new(Options::default(), 7, T0);
    let r = get(&server, "/nope", at(1));
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_eq!(get(&server, "/varz/", at(1)).status, 404);
    assert_eq!(get(&server, "/connz/x", at(1)).status, 404);
    assert_eq!(get(&server, "/%68ealthz", at(1)).status, 200);
    assert_eq!(
        request(
            &server,
            b"GET http://h:8222/healthz HTTP/1.1\r\n\r\n",
            at(1)
        )
        .status,
        200
    );

    let r = request(&server, b"HEAD /varz HTTP/1.1\r\nHost: x\r\n\r\n", at(1));
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert!(!r.head.contains("Content-Length: 0\r\n"));
    let r = request(&server, b"POST /varz HTTP/1.1\r\n\r\n", at(1));
    assert_eq!(r.status, 405);
    assert!(r.head.contains("Allow: GET, HEAD"));

    for bad in [
        &b""[..],
        b"\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /varz\r\n\r\n",
        b"GET varz HTTP/1.1\r\n\r\n",
        b"GET /a%zz HTTP/1.1\r\n\r\n",
        b"\xff\xfe\x00 / HTTP/1.1\r\n",
        b"GET / HTTP/1.1 extra\r\n",
    ] {
        assert_eq!(
            request(&server, bad, at(1)).status,
            400,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }

    // A huge query string.
    let mut huge = b"GET /connz?".to_vec();
    for i in 0..20_000 {
        huge.extend_from_slice(format!("k{i}=%41+{i}&").as_bytes());
    }
    huge.extend_from_slice(b"subs=1 HTTP/1.1\r\n\r\n");
    assert_eq!(request(&server, &huge, at(1)).status, 200);
    let long_sort = format!("GET /connz?sort={} HTTP/1.1\r\n\r\n", "z".repeat(100_000));
    assert_eq!(request(&server, long_sort.as_bytes(), at(1)).status, 400);

    // Clocks that disagree (now before start) must not panic.
    let late = Server::new(Options::default(), 7, at(100));
    let _c = connect(&late, 1, "CONNECT {}\r\n", at(200));
    for path in ["/varz", "/connz", "/subsz?subs=1"] {
        let out = http_response(
            &late,
            format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes(),
            T0,
            i128::MIN,
            &HOST,
        );
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
        let out = http_response(
            &late,
            format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes(),
            T0,
            i128::MAX,
            &HOST,
        );
        assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
    }
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn server() -> Arc<Server> {
        let server = Server::new(Options::default(), 7, T0);
        let conn = connect(
            &server,
            40001,
            "CONNECT {\"verbose\":false}\r\nSUB foo.* q 1\r\nSUB > 2\r\n",
            at(1),
        );
        core::mem::forget(conn);
        server
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let out = http_response(&server(), &raw, at(2), WALL, &HOST);
            prop_assert!(out.starts_with(b"HTTP/1.1 "));
        }

        #[test]
        fn never_panics_on_queries(
            path in proptest::sample::select(vec!["/", "/varz", "/connz", "/subsz", "/subscriptionsz", "/routez", "/gatewayz", "/leafz", "/accountz", "/accstatz", "/jsz", "/healthz"]),
            pairs in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["subs", "sort", "offset", "limit", "cid", "state", "auth", "test", "acc", "user", "callback", "unused", "accs"]),
                    "[-+%0-9a-zA-Z.*>_]{0,24}",
                ),
                0..6,
            ),
        ) {
            let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let raw = format!("GET {path}?{} HTTP/1.1\r\nHost: x\r\n\r\n", query.join("&"));
            let out = http_response(&server(), raw.as_bytes(), at(2), WALL, &HOST);
            let text = String::from_utf8(out).unwrap();
            prop_assert!(text.starts_with("HTTP/1.1 200 OK\r\n") || text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{}", text);
            if text.starts_with("HTTP/1.1 200") && text.contains("application/json") {
                let body = text.split_once("\r\n\r\n").unwrap().1;
                prop_assert!(serde_json::from_str::<Value>(body).is_ok(), "{}", body);
            }
        }
    }
}
