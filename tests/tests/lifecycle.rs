//! Process lifecycle: signals, lame duck mode, config reload, pid and log files, protocol
//! traces (`-V`).
//!
//! Runs on the TCP servers only ([`rnats_tests::for_each_tcp_server`]): it tests the
//! process, which a WebSocket frontend shares with its TCP twin.

use std::time::Duration;

use rnats_tests::{
    assert_bytes_eq, for_each_tcp_server, wait_for, RawClient, ServerConfig, TestServer,
};

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;

#[test]
fn sigint_and_sigterm_shut_down() {
    // nats-server 2.9.10 exits 0 on SIGINT but 1 on SIGTERM (both after a clean shutdown
    // that closes every client).
    for_each_tcp_server(|kind| {
        for (sig, name, code) in [(libc::SIGINT, "SIGINT", 0), (libc::SIGTERM, "SIGTERM", 1)] {
            let server = TestServer::start(kind, ServerConfig::default());
            let mut c = RawClient::connected(&server, QUIET);
            server.signal(sig);
            let got = c.expect_closed(Duration::from_secs(5));
            assert_bytes_eq(&got, b"", &format!("{name}: client sees a plain close"));
            let status = server
                .wait_exit(Duration::from_secs(5))
                .unwrap_or_else(|| panic!("{name}: server still running after 5 s"));
            assert_eq!(status.code(), Some(code), "{name}: exit status {status}");
            // Without -D the signal itself is not logged (nats-server traps it at debug).
            let log = server.log();
            let after_ready: Vec<&str> = log
                .lines()
                .skip_while(|l| !l.ends_with("Server is ready"))
                .skip(1)
                .filter_map(|l| l.split_once("[INF] ").map(|(_, t)| t))
                .collect();
            assert_eq!(
                after_ready,
                ["Initiating Shutdown...", "Server Exiting.."],
                "[{kind}] {name}: log:\n{log}"
            );
        }
    });
}

#[test]
fn lame_duck_mode() {
    for_each_tcp_server(|kind| {
        // 30 s is nats-server's minimum lame_duck_duration; with one client the server
        // closes it right after the grace period and exits.
        let server = TestServer::start(
            kind,
            ServerConfig::config(
                "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"500ms\"\n",
            ),
        );
        // Only clients that sent `protocol: 1` get async INFOs.
        let mut c = RawClient::connected(&server, r#"{"verbose":false,"protocol":1}"#);
        server.signal(libc::SIGUSR2);
        let f = c.next_frame(Duration::from_secs(3)).expect("INFO with ldm");
        assert_eq!(f.op(), "INFO", "expected an async INFO, got {f:?}");
        let json = String::from_utf8_lossy(f.line()).to_string();
        let info: serde_json::Value = serde_json::from_str(json[4..].trim()).unwrap();
        assert_eq!(info["ldm"], true, "INFO: {info}");
        // No new clients are accepted.
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            RawClient::try_connect(&server).is_err(),
            "a new connection must not get INFO during lame duck mode"
        );
        // The existing client is closed, then the server exits (0).
        let got = c.expect_closed(Duration::from_secs(10));
        assert_bytes_eq(&got, b"", "close in lame duck mode");
        let status = server
            .wait_exit(Duration::from_secs(10))
            .expect("server exits after lame duck mode");
        assert_eq!(status.code(), Some(0), "exit status {status}");
    });
}

#[test]
fn config_reload_on_sighup() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config("max_payload: 1KB\n"));
        let before = RawClient::connect(&server);
        assert_eq!(before.info()["max_payload"], 1024);
        std::fs::write(
            server.config_path().unwrap(),
            "max_payload: 2KB\nauthorization { token: abc }\n",
        )
        .unwrap();
        server.signal(libc::SIGHUP);
        // nats-server applies a reload option by option: a client may briefly get an INFO
        // with the new max_payload but without auth_required yet, so wait for both.
        rnats_tests::wait_for(Duration::from_secs(5), "the reload", || {
            let c = RawClient::try_connect(&server).ok()?;
            (c.info()["max_payload"] == 2048 && c.info()["auth_required"] == true).then_some(())
        });
        let mut bad = RawClient::connect(&server);
        bad.send(format!("CONNECT {QUIET}\r\nPING\r\n").as_bytes());
        bad.expect_err_and_close("Authorization Violation");
        let mut ok = RawClient::connect(&server);
        let out = ok.roundtrip(b"CONNECT {\"verbose\":false,\"auth_token\":\"abc\"}\r\n");
        assert_bytes_eq(&out, b"", "new token accepted");
        server.assert_running();
    });
}

#[test]
fn pid_and_log_files() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::args(["-P", "{dir}/srv.pid", "-l", "{dir}/srv.log"]),
        );
        let pid = std::fs::read_to_string(server.dir().join("srv.pid")).expect("pid file");
        assert_eq!(
            pid.trim(),
            server.pid().to_string(),
            "pid file content {pid:?}"
        );
        let mut c = RawClient::connected(&server, QUIET);
        c.roundtrip(b"");
        let log = std::fs::read_to_string(server.dir().join("srv.log")).expect("log file");
        assert!(!log.trim().is_empty(), "log file is empty");
    });
}

/// `-V` traces every protocol operation as nats-server does: received ops with their
/// arguments, payloads (Go-quoted), what is sent back (`OK`, `PONG`, `-ERR`), messages
/// delivered (on the receiver's line), subscriptions removed at close; each line prefixed
/// with the client's address, cid and, after CONNECT, its `"vVERSION:LANG:NAME"`.
#[test]
fn trace_lines() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::args(["-V"]));
        let mut a = RawClient::connected(
            &server,
            r#"{"verbose":false,"name":"tr","lang":"py","version":"9.1","headers":true}"#,
        );
        a.roundtrip(b"SUB foo 1\r\nSUB bar q 2\r\nPUB foo rep 5\r\nhello\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 5\r\n");
        let mut b = RawClient::connect(&server);
        b.send(b"CONNECT {\"verbose\":true}\r\nPUB bar 2\r\nhi\r\nPING\r\n");
        b.read_until_quiet(Duration::from_millis(300));
        let (pa, pb) = (
            a.stream().local_addr().unwrap().port(),
            b.stream().local_addr().unwrap().port(),
        );
        let (ca, cb) = (a.client_id(), b.client_id());
        drop(a);
        let a_prefix = format!("127.0.0.1:{pa} - cid:{ca} - \"v9.1:py:tr\" - ");
        let b_prefix = format!("127.0.0.1:{pb} - cid:{cb} - ");
        let want: Vec<String> = [
            format!("127.0.0.1:{pa} - cid:{ca} - <<- [CONNECT {{\"verbose\":false,\"name\":\"tr\",\"lang\":\"py\",\"version\":\"9.1\",\"headers\":true}}]"),
            format!("{a_prefix}<<- [PING]"),
            format!("{a_prefix}->> [PONG]"),
            format!("{a_prefix}<<- [SUB foo 1]"),
            format!("{a_prefix}<<- [SUB bar q 2]"),
            format!("{a_prefix}<<- [PUB foo rep 5]"),
            format!("{a_prefix}<<- MSG_PAYLOAD: [\"hello\"]"),
            format!("{a_prefix}->> [MSG foo 1 rep 5]"),
            format!("{a_prefix}<<- [HPUB foo 12 14]"),
            format!("{a_prefix}<<- MSG_PAYLOAD: [\"NATS/1.0\\r\\n\\r\\nhi\"]"),
            format!("{a_prefix}->> [HMSG foo 1 12 14]"),
            format!("{a_prefix}<<- [UNSUB 1 5]"),
            format!("{a_prefix}<<- [PING]"),
            format!("{a_prefix}->> [PONG]"),
            format!("{b_prefix}<<- [CONNECT {{\"verbose\":true}}]"),
            format!("{b_prefix}->> [OK]"),
            format!("{b_prefix}<<- [PUB bar 2]"),
            format!("{b_prefix}<<- MSG_PAYLOAD: [\"hi\"]"),
            format!("{b_prefix}->> [OK]"),
            format!("{a_prefix}->> [MSG bar 2 2]"),
            format!("{b_prefix}<<- [PING]"),
            format!("{b_prefix}->> [PONG]"),
            // Removed at close, in no set order (nats-server walks a map).
            format!("{a_prefix}<-> [DELSUB 1]"),
            format!("{a_prefix}<-> [DELSUB 2]"),
        ]
        .into();
        let traced = |log: &str| -> Vec<String> {
            let mut lines: Vec<String> = log
                .lines()
                .filter_map(|l| l.split_once("[TRC] ").map(|(_, t)| t.to_string()))
                .filter(|t| {
                    t.starts_with(&format!("127.0.0.1:{pa} "))
                        || t.starts_with(&format!("127.0.0.1:{pb} "))
                })
                .collect();
            let delsubs = lines
                .iter()
                .position(|l| l.contains("[DELSUB"))
                .unwrap_or(lines.len());
            lines[delsubs..].sort();
            lines
        };
        let got = wait_for(Duration::from_secs(5), "the DELSUB lines", || {
            let lines = traced(&server.log());
            (lines.len() >= want.len()).then_some(lines)
        });
        assert_eq!(got, want, "[{kind}] trace lines; log:\n{}", server.log());
    });
}

/// `-D` logs each client's arrival and departure as nats-server does, the departure with
/// the client's `"vVERSION:LANG:NAME"` and the reason.
#[test]
fn debug_lines() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::args(["-D"]));
        let c = RawClient::connected(&server, r#"{"verbose":false,"name":"dbg"}"#);
        let port = c.stream().local_addr().unwrap().port();
        let cid = c.client_id();
        drop(c);
        let prefix = format!("127.0.0.1:{port} - cid:{cid} - ");
        let want = [
            format!("{prefix}Client connection created"),
            format!("{prefix}\"dbg\" - Client connection closed: Client Closed"),
        ];
        let got = wait_for(Duration::from_secs(5), "the closed line", || {
            let lines: Vec<String> = server
                .log()
                .lines()
                .filter_map(|l| l.split_once("[DBG] ").map(|(_, t)| t.to_string()))
                .filter(|t| t.starts_with(&prefix))
                .collect();
            (lines.len() >= 2).then_some(lines)
        });
        assert_eq!(got, want, "[{kind}] log:\n{}", server.log());
    });
}

/// A password stored in plain text is warned about at startup, as nats-server does; a
/// bcrypt hash is not.
#[test]
fn plaintext_password_warning() {
    for_each_tcp_server(|kind| {
        let warning = "[WRN] Plaintext passwords detected, use nkeys or bcrypt";
        let plain = TestServer::start(
            kind,
            ServerConfig::config("authorization { users: [ {user: a, password: b} ] }\n"),
        );
        assert!(
            plain.log().contains(warning),
            "[{kind}] log:\n{}",
            plain.log()
        );
        let hashed = TestServer::start(
            kind,
            ServerConfig::config(
                "authorization { user: a, password: \"$2a$11$W2zko751KUvVy59mUTWmpOdWjpEm5qhcCZRd05GjI/sSOT.xtiHyG\" }\n",
            ),
        );
        assert!(
            !hashed.log().contains(warning),
            "[{kind}] log:\n{}",
            hashed.log()
        );
    });
}

/// Refused clients get an `[ERR]` line each, worded as nats-server's.
#[test]
fn error_lines() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config(
                "authorization { user: a, password: p }\nmax_payload: 16\nmax_connections: 2\n",
            ),
        );
        let line_for = |c: &RawClient, what: &str| {
            let port = c.stream().local_addr().unwrap().port();
            format!("[ERR] 127.0.0.1:{port} - cid:{} - {what}", c.client_id())
        };
        let mut bad = RawClient::connect(&server);
        bad.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"x\",\"name\":\"who\"}\r\n");
        bad.expect_err_and_close("Authorization Violation");
        let mut big = RawClient::connect(&server);
        big.send(b"CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"p\"}\r\nPUB a 20\r\n");
        big.expect_err_and_close("Maximum Payload Violation");
        let want = [
            line_for(&bad, "\"who\" - authentication error"),
            line_for(&big, "maximum payload exceeded: 20 vs 16"),
        ];
        let _held = RawClient::connected(&server, r#"{"verbose":false,"user":"a","pass":"p"}"#);
        let _held2 = RawClient::connected(&server, r#"{"verbose":false,"user":"a","pass":"p"}"#);
        let over = RawClient::connect(&server);
        let over_line = line_for(&over, "maximum connections exceeded");
        wait_for(Duration::from_secs(5), "the error lines", || {
            let log = server.log();
            (want.iter().all(|l| log.contains(l.as_str())) && log.contains(&over_line))
                .then_some(())
        });
    });
}

/// A subscriber that stops reading is cut off past `max_pending`, with nats-server's notice
/// text. rnats only: both servers hold the publisher back past 75 % of `max_pending`, but
/// rnats as nats-server 2.11+ does (5 ms per read) and 2.9.10 for up to a second per
/// message, so with 2.9.10 the same flood meets the write deadline first.
#[test]
fn slow_consumer_notice() {
    for_each_tcp_server(|kind| {
        if kind.is_reference() {
            return;
        }
        let server = TestServer::start(
            kind,
            ServerConfig::config("max_pending: 1MB\nwrite_deadline: \"30s\"\n"),
        );
        let mut slow = RawClient::connected(&server, QUIET);
        slow.roundtrip(b"SUB flood 1\r\n");
        let (port, cid) = (slow.stream().local_addr().unwrap().port(), slow.client_id());
        // It never reads again; 32 MiB are far more than the socket buffers hold.
        let mut publisher = RawClient::connected(&server, QUIET);
        let chunk: Vec<u8> = b"PUB flood 1024\r\n"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'x', 1024))
            .chain(*b"\r\n")
            .collect();
        let batch = chunk.repeat(1024);
        for _ in 0..32 {
            if publisher.try_send(&batch).is_err() {
                break;
            }
        }
        let notice = format!(
            "[INF] 127.0.0.1:{port} - cid:{cid} - Slow Consumer Detected: MaxPending of 1048576 Exceeded"
        );
        wait_for(Duration::from_secs(10), "the slow consumer notice", || {
            server.log().contains(&notice).then_some(())
        });
        server.assert_running();
    });
}
