//! The WebSocket listener (`websocket { ... }` block), of nats-server 2.9.10 and of every
//! rnats frontend.
//!
//! * The NATS protocol over WebSocket frames is the TCP protocol: each wire scenario runs
//!   over TCP and over WebSocket on the same server and must produce the same bytes, and
//!   the key replies are also checked byte for byte (observed from nats-server).
//! * Frames are one byte stream both ways: ops split over frames, many ops per frame,
//!   fragmented and text frames.
//! * Bad input over WebSocket gets the treatment it gets over TCP, and other clients keep
//!   working.
//! * TCP and WebSocket clients share one subject space.
//! * The upgrade: `Origin` checks (403), no subprotocol, no extension; monitoring.
//!
//! Runs on the TCP servers ([`rnats_tests::for_each_tcp_server`]), which is every binary
//! once: each test picks TCP ([`RawClient::connect`]) or WebSocket
//! ([`RawClient::connect_ws`]) itself.

use std::time::Duration;

use rnats_tests::ws::{self, op};
use rnats_tests::{
    assert_bytes_eq, for_each_tcp_server, http_get_json, show, sorted_frames, RawClient,
    ServerConfig, ServerKind, TestServer,
};

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;
const HDRS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
const NR: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#;

fn start(kind: ServerKind) -> TestServer {
    TestServer::start(kind, ServerConfig::default().with_websocket())
}

fn start_with(kind: ServerKind, config: &str) -> TestServer {
    TestServer::start(kind, ServerConfig::config(config).with_websocket())
}

/// How one step of a scenario ends.
#[derive(Clone, Copy)]
enum Until {
    /// A PING is appended; what came before the PONG is the step's output.
    Pong,
    /// The server closes the connection; everything it sent is the output.
    Close,
}

/// A client session: CONNECT options, then steps (bytes to send, how the step ends).
struct Scenario {
    name: &'static str,
    connect: &'static str,
    steps: Vec<(Vec<u8>, Until)>,
}

fn scenario(name: &'static str, connect: &'static str, steps: &[(&[u8], Until)]) -> Scenario {
    Scenario {
        name,
        connect,
        steps: steps.iter().map(|(b, u)| (b.to_vec(), *u)).collect(),
    }
}

/// Run `s` on one connection; returns each step's output.
fn play(mut c: RawClient, s: &Scenario) -> Vec<Vec<u8>> {
    let mut outputs = Vec::new();
    let verbose = s.connect.contains(r#""verbose":true"#);
    assert_bytes_eq(
        &c.roundtrip(format!("CONNECT {}\r\n", s.connect).as_bytes()),
        if verbose { b"+OK\r\n" } else { b"" },
        &format!("{}: CONNECT", s.name),
    );
    for (bytes, until) in &s.steps {
        match until {
            Until::Pong => outputs.push(c.roundtrip(bytes)),
            Until::Close => {
                c.send(bytes);
                outputs.push(c.expect_closed(Duration::from_secs(5)));
            }
        }
    }
    outputs
}

/// The wire scenarios (the cases of `wire.rs`, in short) with the bytes nats-server
/// 2.9.10 answers.
fn scenarios() -> Vec<(Scenario, Vec<&'static [u8]>)> {
    use Until::*;
    vec![
        (
            scenario("verbose", r#"{"verbose":true}"#, &[(b"SUB a 1\r\n", Pong)]),
            vec![b"+OK\r\n"],
        ),
        (
            scenario(
                "pub/sub",
                QUIET,
                &[(b"SUB foo 1\r\nPUB foo 5\r\nhello\r\nPUB foo.bar 1\r\nx\r\n", Pong)],
            ),
            vec![b"MSG foo 1 5\r\nhello\r\n"],
        ),
        (
            scenario(
                "reply subject and wildcards",
                QUIET,
                &[(b"SUB a.* 1\r\nSUB a.> 2\r\nPUB a.b r.1 2\r\nhi\r\nUNSUB 2\r\nPUB a.c 0\r\n\r\n", Pong)],
            ),
            vec![b"MSG a.b 1 r.1 2\r\nhi\r\nMSG a.b 2 r.1 2\r\nhi\r\nMSG a.c 1 0\r\n\r\n"],
        ),
        (
            scenario(
                "headers",
                HDRS,
                &[(b"SUB h 1\r\nHPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", Pong)],
            ),
            vec![b"HMSG h 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"],
        ),
        (
            scenario(
                "unsub max and queue",
                QUIET,
                &[(b"SUB q g 1\r\nUNSUB 1 1\r\nPUB q 1\r\na\r\nPUB q 1\r\nb\r\n", Pong)],
            ),
            vec![b"MSG q 1 1\r\na\r\n"],
        ),
        (
            scenario(
                "no responders",
                NR,
                &[(b"SUB _INBOX.x 1\r\nPUB nobody _INBOX.x 0\r\n\r\n", Pong)],
            ),
            // rnats adds a `Nats-Subject` header (as nats-server 2.10 does): checked by
            // wire.rs; here only TCP against WebSocket.
            vec![],
        ),
        (
            scenario(
                "case and blanks",
                QUIET,
                &[(b"sub\tfoo  1\r\npub foo 1\r\nx\r\n", Pong)],
            ),
            vec![b"MSG foo 1 1\r\nx\r\n"],
        ),
        (
            scenario("unknown op", QUIET, &[(b"FOO bar\r\n", Close)]),
            vec![b"-ERR 'Unknown Protocol Operation'\r\n"],
        ),
        (
            scenario("max payload", QUIET, &[(b"PUB foo 1048577\r\n", Close)]),
            vec![b"-ERR 'Maximum Payload Violation'\r\n"],
        ),
        (
            scenario(
                "invalid subject",
                r#"{"verbose":false,"pedantic":true}"#,
                &[(b"PUB foo..bar 1\r\nx\r\n", Pong)],
            ),
            vec![b"-ERR 'Invalid Publish Subject'\r\n"],
        ),
        (
            scenario("argument error", QUIET, &[(b"PUB foo abc\r\n", Close)]),
            vec![b""],
        ),
    ]
}

#[test]
fn wire_scenarios_match_tcp_and_nats_server() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        for (s, expected) in scenarios() {
            let over_tcp = play(RawClient::connect(&server), &s);
            let over_ws = play(RawClient::connect_ws(&server), &s);
            // Sorted: the order of one message's copies to several subscriptions is open.
            for (i, (tcp, ws)) in over_tcp.iter().zip(&over_ws).enumerate() {
                assert_eq!(
                    sorted_frames(ws),
                    sorted_frames(tcp),
                    "[{kind}] {}: step {i}, WebSocket against TCP",
                    s.name
                );
            }
            for (i, want) in expected.iter().enumerate() {
                let want = sorted_frames(want);
                assert_eq!(
                    sorted_frames(&over_tcp[i]),
                    want,
                    "[{kind}] {}: step {i} over TCP",
                    s.name
                );
                assert_eq!(
                    sorted_frames(&over_ws[i]),
                    want,
                    "[{kind}] {}: step {i} over WebSocket",
                    s.name
                );
            }
        }
    });
}

#[test]
fn info_is_the_tcp_info() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let tcp = RawClient::connect(&server);
        let wsc = RawClient::connect_ws(&server);
        let mut a = tcp.info().clone();
        let mut b = wsc.info().clone();
        for info in [&mut a, &mut b] {
            info.as_object_mut().unwrap().remove("client_id");
        }
        assert_eq!(a, b, "INFO over TCP and over WebSocket");
        assert_eq!(
            wsc.info()["port"],
            server.port(),
            "INFO.port is the client port"
        );
        // The INFO came alone in one binary frame, unmasked, no extension bits.
        let first = &wsc.ws_frames()[0];
        assert_eq!(
            (first.opcode, first.fin, first.rsv, first.masked),
            (op::BINARY, true, 0, false)
        );
    });
}

#[test]
fn frames_are_one_byte_stream() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected_ws(&server, QUIET);
        // One op over many frames, byte by byte.
        for b in b"SUB split 1\r\n" {
            c.send(std::slice::from_ref(b));
        }
        // Many ops in one frame, the last one cut and finished by a fragmented text message.
        c.send(b"PUB split 3\r\nabc\r\nPUB split 3\r\nde");
        c.send_ws_frame(op::TEXT, b"f\r\nPU", false);
        c.send_ws_frame(op::PING, b"keepalive", true);
        c.send_ws_frame(op::CONTINUATION, b"B split 1\r\ng", false);
        c.send_ws_frame(op::CONTINUATION, b"", false);
        c.send_ws_frame(op::CONTINUATION, b"\r\n", true);
        c.send_ws_frame(op::BINARY, b"", true);
        let out = c.roundtrip(b"");
        assert_bytes_eq(
            &out,
            b"MSG split 1 3\r\nabc\r\nMSG split 1 3\r\ndef\r\nMSG split 1 1\r\ng\r\n",
            "messages rebuilt from frames",
        );
        let pong = c
            .ws_frames()
            .iter()
            .find(|f| f.opcode == op::PONG)
            .unwrap_or_else(|| panic!("[{kind}] no pong for the ping"));
        assert_eq!(pong.payload, b"keepalive", "pong echoes the ping");
        for f in c.ws_frames() {
            assert!(!f.masked && f.rsv == 0, "[{kind}] server frame {f:?}");
            assert!(
                matches!(f.opcode, op::BINARY | op::PONG),
                "[{kind}] frame {f:?}"
            );
        }
    });
}

#[test]
fn tcp_and_websocket_share_subjects() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let mut ws_sub = RawClient::connected_ws(&server, QUIET);
        let mut tcp_sub = RawClient::connected(&server, QUIET);
        assert_bytes_eq(&ws_sub.roundtrip(b"SUB news.> 1\r\n"), b"", "ws SUB");
        assert_bytes_eq(&tcp_sub.roundtrip(b"SUB news.> 1\r\n"), b"", "tcp SUB");
        let mut tcp_pub = RawClient::connected(&server, QUIET);
        let mut ws_pub = RawClient::connected_ws(&server, QUIET);
        assert_bytes_eq(
            &tcp_pub.roundtrip(b"PUB news.tcp 3\r\nabc\r\n"),
            b"",
            "tcp PUB",
        );
        assert_bytes_eq(
            &ws_pub.roundtrip(b"PUB news.ws 3\r\nxyz\r\n"),
            b"",
            "ws PUB",
        );
        let both = b"MSG news.tcp 1 3\r\nabc\r\nMSG news.ws 1 3\r\nxyz\r\n";
        assert_bytes_eq(&ws_sub.roundtrip(b""), both, "WebSocket subscriber");
        assert_bytes_eq(&tcp_sub.roundtrip(b""), both, "TCP subscriber");

        // A 900 KiB message from TCP to WebSocket and back.
        let big: Vec<u8> = (0..900 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
        let mut msg = format!("PUB news.big {}\r\n", big.len()).into_bytes();
        msg.extend_from_slice(&big);
        msg.extend_from_slice(b"\r\n");
        assert_bytes_eq(&tcp_pub.roundtrip(&msg), b"", "big PUB over TCP");
        let mut want = format!("MSG news.big 1 {}\r\n", big.len()).into_bytes();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\r\n");
        let got = ws_sub.roundtrip(b"");
        assert!(
            got == want,
            "[{kind}] 900 KiB over WebSocket: {} bytes, {}…",
            got.len(),
            show(&got[..got.len().min(40)])
        );
        assert_bytes_eq(&ws_pub.roundtrip(&msg), b"", "big PUB over WebSocket");
        let got = tcp_sub.roundtrip(b"");
        // The TCP subscriber got the TCP copy first (still unread) and the WebSocket one.
        assert_eq!(
            got.len(),
            2 * want.len(),
            "[{kind}] both big messages over TCP"
        );
        assert!(
            got[want.len()..] == want[..],
            "[{kind}] the copy published over WebSocket"
        );
    });
}

/// A healthy pair (one TCP, one WebSocket) that must keep working while bad clients come
/// and go.
struct Healthy {
    ws_sub: RawClient,
    tcp_pub: RawClient,
    n: u32,
}

impl Healthy {
    fn new(server: &TestServer) -> Healthy {
        let mut ws_sub = RawClient::connected_ws(server, QUIET);
        assert_bytes_eq(
            &ws_sub.roundtrip(b"SUB healthy 1\r\nSUB foo 2\r\n"),
            b"",
            "healthy SUB",
        );
        Healthy {
            ws_sub,
            tcp_pub: RawClient::connected(server, QUIET),
            n: 0,
        }
    }

    #[track_caller]
    fn check(&mut self, server: &TestServer, what: &str) {
        server.assert_running();
        self.n += 1;
        let payload = format!("ok{}", self.n);
        let publish = format!("PUB healthy {}\r\n{payload}\r\n", payload.len());
        assert_bytes_eq(&self.tcp_pub.roundtrip(publish.as_bytes()), b"", what);
        assert_bytes_eq(
            &self.ws_sub.roundtrip(b""),
            format!("MSG healthy 1 {}\r\n{payload}\r\n", payload.len()).as_bytes(),
            &format!("{what}: healthy WebSocket subscriber (one message, nothing leaked)"),
        );
        let mut fresh = RawClient::connected_ws(server, QUIET);
        assert_bytes_eq(
            &fresh.roundtrip(b"SUB x 1\r\nPUB x 2\r\nhi\r\n"),
            b"MSG x 1 2\r\nhi\r\n",
            &format!("{what}: new WebSocket connection"),
        );
    }
}

/// Deterministic pseudo-random bytes (xorshift64*).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            (seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn bad_input_over_websocket() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let mut healthy = Healthy::new(&server);

        // Text frames carry NATS as binary ones do.
        let mut c = RawClient::connected_ws(&server, QUIET);
        c.send_ws_frame(op::TEXT, b"PUB foo 2\r\nhi\r\n", true);
        let out = c.roundtrip(b"");
        assert_bytes_eq(&out, b"", "PUB in a text frame");
        assert_bytes_eq(
            &healthy.ws_sub.roundtrip(b""),
            b"MSG foo 2 2\r\nhi\r\n",
            "text frame delivered",
        );
        healthy.check(&server, "text frame");

        // Garbage inside frames: the TCP treatment (-ERR and close).
        let mut c = RawClient::connected_ws(&server, QUIET);
        let mut garbage = noise(300, 7);
        garbage[0] = b'!';
        c.send(&garbage);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(
            &got,
            b"-ERR 'Unknown Protocol Operation'\r\n",
            "garbage in a frame",
        );
        healthy.check(&server, "garbage in a frame");

        // An oversized frame: a 2 MiB PUB in one frame is a payload violation, as over TCP.
        let mut c = RawClient::connected_ws(&server, QUIET);
        let mut big = b"PUB foo 2097152\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'z', 2 * 1024 * 1024));
        big.extend_from_slice(b"\r\n");
        let _ = c.try_send(&big);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(
            &got,
            b"-ERR 'Maximum Payload Violation'\r\n",
            "oversized frame",
        );
        healthy.check(&server, "oversized frame");

        // Garbage instead of frames (an unmasked frame): the connection is dropped with no
        // NATS bytes. rnats sends a protocol-error close frame first; nats-server 2.9.10
        // queues one and closes the socket at the same time, so whether it goes out is a
        // race there (usually not; under load sometimes).
        let mut c = RawClient::connected_ws(&server, QUIET);
        let _ = c.try_send_raw(&[0x82, 0x05, b'h', b'e', b'l', b'l', b'o']);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(&got, b"", "unmasked frame");
        let close = c.ws_close_frame().map(|f| f.close_status());
        let protocol_error = (Some(1002), "mask bit missing".to_string());
        if kind.is_reference() {
            assert!(
                close.is_none() || close.as_ref().is_some_and(|(code, _)| *code == Some(1002)),
                "[{kind}] close frame after an unmasked frame: {close:?}"
            );
        } else {
            assert_eq!(
                close,
                Some(protocol_error),
                "[{kind}] close frame after an unmasked frame"
            );
        }
        healthy.check(&server, "unmasked frame");

        let mut c = RawClient::connected_ws(&server, QUIET);
        let _ = c.try_send_raw(&noise(64, 99));
        let _ = c.read_until_quiet(Duration::from_millis(300));
        healthy.check(&server, "random bytes instead of frames");

        // Abrupt close: a reset in the middle of a frame, and a plain FIN mid-op.
        let mut c = RawClient::connected_ws(&server, QUIET);
        let frame = ws::client_frame(op::BINARY, b"PUB foo 10\r\nhalf", true, 3);
        let _ = c.try_send_raw(&frame[..frame.len() - 3]);
        c.reset();
        healthy.check(&server, "reset mid-frame");
        let mut c = RawClient::connected_ws(&server, QUIET);
        c.send(b"PUB foo 10\r\nhal");
        drop(c);
        healthy.check(&server, "FIN mid-op");

        // Nothing of the broken PUBs reached the subscriber of `foo`.
        assert_bytes_eq(&healthy.ws_sub.roundtrip(b""), b"", "nothing leaked");
    });
}

#[test]
fn close_handshake() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        // The client closes with a status: the server echoes it and ends the connection.
        let mut c = RawClient::connected_ws(&server, QUIET);
        c.send_ws_frame(op::CLOSE, &[0x03, 0xE8, b'b', b'y', b'e'], true);
        assert_bytes_eq(&c.expect_closed(Duration::from_secs(5)), b"", "after close");
        let status = c.ws_close_frame().map(|f| f.close_status());
        assert_eq!(
            status,
            Some((Some(1000), "bye".to_string())),
            "[{kind}] echo"
        );

        // Without a status: nats-server answers with the reserved 1005, which must never be
        // sent (browsers report a broken close frame); rnats answers 1000.
        let mut c = RawClient::connected_ws(&server, QUIET);
        c.send_ws_frame(op::CLOSE, b"", true);
        c.expect_closed(Duration::from_secs(5));
        let status = c.ws_close_frame().and_then(|f| f.close_status().0);
        let want = if kind.is_reference() { 1005 } else { 1000 };
        assert_eq!(
            status,
            Some(want),
            "[{kind}] answer to a close without status"
        );

        // The server closes: -ERR, then a close frame with nats-server's status.
        let mut c = RawClient::connected_ws(&server, QUIET);
        c.send(b"PUB foo 1048577\r\n");
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(&got, b"-ERR 'Maximum Payload Violation'\r\n", "max payload");
        let close = c.ws_close_frame().map(|f| f.close_status());
        assert_eq!(
            close,
            Some((Some(1009), "Maximum Message Payload Exceeded".to_string())),
            "[{kind}] close frame after -ERR"
        );
    });
}

#[test]
fn upgrade_answers() {
    for_each_tcp_server(|kind| {
        let server = start(kind);
        let port = server.ws_port();
        let connect = || std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let timeout = Duration::from_secs(5);
        // Browsers offer permessage-deflate: declined (no extension), no subprotocol.
        let headers = ["Origin: http://example.com", ws::DEFLATE_OFFER];
        let r = ws::upgrade(&mut connect(), port, &headers, timeout).unwrap();
        assert_eq!(r.status, 101, "[{kind}] {}", r.head);
        assert_eq!(
            r.header("Sec-WebSocket-Accept").as_deref(),
            Some(ws::ACCEPT_FOR_CLIENT_KEY)
        );
        assert_eq!(
            r.header("Sec-WebSocket-Extensions"),
            None,
            "[{kind}] no compression"
        );
        assert_eq!(
            r.header("Sec-WebSocket-Protocol"),
            None,
            "[{kind}] no subprotocol"
        );
        // Not an upgrade.
        let r = ws::send_raw_request(
            &mut connect(),
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            timeout,
        )
        .unwrap();
        assert_eq!(r.status, 400, "[{kind}] plain GET: {}", r.head);
        let r = ws::send_raw_request(
            &mut connect(),
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n\r\n",
                ws::CLIENT_KEY
            )
            .as_bytes(),
            timeout,
        )
        .unwrap();
        assert_eq!(r.status, 405, "[{kind}] POST: {}", r.head);
        server.assert_running();
        assert!(
            server.log().contains(&format!(
                "Listening for websocket clients on ws://127.0.0.1:{port}"
            )),
            "[{kind}] log line; log:\n{}",
            server.log()
        );
    });
}

#[test]
fn handshake_timeout() {
    for_each_tcp_server(|kind| {
        let server = start_with(
            kind,
            "websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, handshake_timeout: \"500ms\" }",
        );
        // A client that connects and never sends its request is dropped.
        let mut idle = std::net::TcpStream::connect(("127.0.0.1", server.ws_port())).unwrap();
        idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let started = std::time::Instant::now();
        let mut buf = [0u8; 64];
        let n = std::io::Read::read(&mut idle, &mut buf).unwrap_or(0);
        assert_eq!(n, 0, "[{kind}] nothing is sent to an idle client");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(4),
            "[{kind}] dropped after {waited:?}"
        );
        // Upgrading in time works, and the timeout no longer applies afterwards.
        let mut c = RawClient::connected_ws(&server, QUIET);
        std::thread::sleep(Duration::from_millis(800));
        assert_bytes_eq(
            &c.roundtrip(b"SUB a 1\r\nPUB a 1\r\nx\r\n"),
            b"MSG a 1 1\r\nx\r\n",
            "after the timeout",
        );
    });
}

#[test]
fn origin_checks() {
    for_each_tcp_server(|kind| {
        let server = start_with(
            kind,
            r#"websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, allowed_origins: ["http://good.com", "https://b.com:8443"] }"#,
        );
        let port = server.ws_port();
        let status = |origin: Option<&str>| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let header = origin.map(|o| format!("Origin: {o}"));
            let headers: Vec<&str> = header.iter().map(String::as_str).collect();
            let r = ws::upgrade(&mut s, port, &headers, Duration::from_secs(5)).unwrap();
            if r.status == 403 {
                assert_eq!(r.rest, b"Forbidden\n", "[{kind}] 403 body");
            }
            r.status
        };
        assert_eq!(status(None), 101, "[{kind}] no Origin");
        assert_eq!(status(Some("http://good.com")), 101, "[{kind}] allowed");
        assert_eq!(
            status(Some("http://good.com:80")),
            101,
            "[{kind}] default port"
        );
        assert_eq!(
            status(Some("https://b.com:8443")),
            101,
            "[{kind}] allowed with port"
        );
        assert_eq!(status(Some("http://bad.com")), 403, "[{kind}] other host");
        assert_eq!(
            status(Some("https://good.com")),
            403,
            "[{kind}] other scheme"
        );
        assert_eq!(status(Some("not a url")), 403, "[{kind}] not a URL");
        assert!(
            server
                .log()
                .contains("websocket handshake error: origin not allowed: not in the allowed list"),
            "[{kind}] logged; log:\n{}",
            server.log()
        );

        let server = start_with(
            kind,
            "websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, same_origin: true }",
        );
        let port = server.ws_port();
        let status = |origin: &str| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let header = format!("Origin: {origin}");
            ws::upgrade(&mut s, port, &[&header], Duration::from_secs(5))
                .unwrap()
                .status
        };
        assert_eq!(
            status(&format!("http://127.0.0.1:{port}")),
            101,
            "[{kind}] same origin"
        );
        assert_eq!(status("http://127.0.0.1:1"), 403, "[{kind}] other port");
    });
}

#[test]
fn websocket_authorization() {
    for_each_tcp_server(|kind| {
        // The block's own user: WebSocket clients must log in as it, TCP clients need not.
        let server = start_with(
            kind,
            "websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, authorization { user: web, password: s3cret } }",
        );
        let tcp = RawClient::connect(&server);
        assert_eq!(tcp.info().get("auth_required"), None, "[{kind}] TCP INFO");
        let mut c = RawClient::connect_ws(&server);
        assert_eq!(c.info()["auth_required"], true, "[{kind}] WebSocket INFO");
        c.send(b"CONNECT {\"verbose\":false}\r\n");
        c.expect_err_and_close("Authorization Violation");
        let mut c = RawClient::connect_ws(&server);
        let out =
            c.roundtrip(b"CONNECT {\"verbose\":false,\"user\":\"web\",\"pass\":\"s3cret\"}\r\n");
        assert_bytes_eq(&out, b"", "block user");

        // no_auth_user of the block picks a user of the authorization block.
        let server = start_with(
            kind,
            "authorization { users: [{user: a, password: pa}, {user: b, password: pb, permissions: {publish: \"b.>\"}}] }\n\
             websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, no_auth_user: b }",
        );
        let mut tcp = RawClient::connect(&server);
        tcp.send(b"CONNECT {\"verbose\":false}\r\n");
        tcp.expect_err_and_close("Authorization Violation");
        let mut c = RawClient::connected_ws(&server, QUIET);
        let out = c.roundtrip(b"PUB a.x 1\r\nx\r\nPUB b.x 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Publish to \"a.x\"'\r\n",
            "no_auth_user b has b's permissions",
        );
    });
}

/// `allowed_connection_types` keeps a user to the listeners it names.
#[test]
fn allowed_connection_types() {
    for_each_tcp_server(|kind| {
        let server = start_with(
            kind,
            "authorization { users: [\n\
               {user: web, password: pw, allowed_connection_types: [\"WEBSOCKET\"]}\n\
               {user: tcp, password: pw, allowed_connection_types: \"standard\"}\n\
               {user: any, password: pw}\n\
             ] }\n\
             websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true }",
        );
        let login = |user: &str| {
            format!("CONNECT {{\"verbose\":false,\"user\":\"{user}\",\"pass\":\"pw\"}}\r\n")
        };
        for (user, tcp_ok, ws_ok) in [
            ("web", false, true),
            ("tcp", true, false),
            ("any", true, true),
        ] {
            let mut tcp = RawClient::connect(&server);
            let mut ws = RawClient::connect_ws(&server);
            for (c, ok, via) in [(&mut tcp, tcp_ok, "TCP"), (&mut ws, ws_ok, "WebSocket")] {
                if ok {
                    let out = c.roundtrip(login(user).as_bytes());
                    assert_bytes_eq(&out, b"", &format!("[{kind}] {user} over {via}"));
                } else {
                    c.send(login(user).as_bytes());
                    c.expect_err_and_close("Authorization Violation");
                }
            }
        }
        server.assert_running();
    });
}

#[test]
fn monitoring_shows_websocket() {
    for_each_tcp_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config(
                "websocket { host: 127.0.0.1, port: {ws_port}, no_tls: true, same_origin: true, \
                 allowed_origins: [\"http://a.com\"], compression: true, handshake_timeout: \"3s\" }",
            )
            .with_websocket()
            .with_monitoring(),
        );
        let varz = http_get_json(server.http_port(), "/varz");
        let want = serde_json::json!({
            "host": "127.0.0.1",
            "port": server.ws_port(),
            "handshake_timeout": 3_000_000_000u64,
            "no_tls": true,
            "same_origin": true,
            "allowed_origins": ["http://a.com"],
            "compression": true,
        });
        assert_eq!(varz["websocket"], want, "[{kind}] /varz websocket");
        // nats-server's field order, seen in the raw text.
        let body = rnats_tests::http_get(server.http_port(), "/varz")
            .unwrap()
            .body;
        let section = &body[body.find("\"websocket\"").unwrap()..];
        let order = [
            "host",
            "port",
            "handshake_timeout",
            "no_tls",
            "same_origin",
            "allowed_origins",
            "compression",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|k| section.find(&format!("\"{k}\"")).unwrap())
            .collect();
        assert!(
            at.windows(2).all(|w| w[0] < w[1]),
            "[{kind}] field order: {section:.300}"
        );

        let mut c = RawClient::connected_ws(&server, r#"{"verbose":false,"name":"browser"}"#);
        c.roundtrip(b"SUB a 1\r\n");
        let tcp = RawClient::connected(&server, QUIET);
        let connz = http_get_json(server.http_port(), "/connz");
        // (The harness's own probe of the client port may still be listed: find ours.)
        let by_port = |client: &RawClient| {
            let port = client.stream().local_addr().unwrap().port();
            connz["connections"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["port"] == port)
                .unwrap_or_else(|| panic!("[{kind}] port {port} not in /connz: {connz}"))
                .clone()
        };
        let browser = by_port(&c);
        assert_eq!(
            (&browser["type"], &browser["kind"]),
            (&"websocket".into(), &"Client".into()),
            "[{kind}] /connz of the WebSocket client"
        );
        assert_eq!(browser["name"], "browser");
        assert_eq!(browser["subscriptions"], 1);
        let plain = by_port(&tcp);
        assert_eq!(plain["type"], "nats", "[{kind}] /connz of the TCP client");
    });
}
