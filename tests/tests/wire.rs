//! Wire-exact client protocol tests over raw TCP.
//!
//! Every expected byte string below was observed from nats-server 2.9.10; rnats must send
//! the same bytes. Where the protocol leaves an order open (one message fanned out to
//! several subscriptions of one connection) the frames are compared sorted.

use std::time::{Duration, Instant};

use rnats_tests::{
    assert_bytes_eq, for_each_server, show, sorted_frames, wait_for, RawClient, ServerConfig,
    TestServer,
};

/// Plain client options most tests use.
const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;
/// Plain client options plus header support.
const HDRS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;
/// Header support and no-responders, as modern clients send.
const NR: &str = r#"{"verbose":false,"pedantic":false,"headers":true,"no_responders":true}"#;

fn start(kind: rnats_tests::ServerKind) -> TestServer {
    TestServer::start(kind, ServerConfig::default())
}

// ---------------------------------------------------------------------------------------
// INFO / CONNECT / PING
// ---------------------------------------------------------------------------------------

#[test]
fn info_fields() {
    for_each_server(|kind| {
        let server = start(kind);
        let c = RawClient::connect(&server);
        let line = c.info_line();
        // nats-server 2.9.10 sends `INFO {...} \r\n` (a space before CRLF); clients only
        // look at the JSON, so only the framing is checked here.
        assert!(line.starts_with(b"INFO {"), "INFO line: {}", show(line));
        assert!(line.ends_with(b"\r\n"), "INFO line: {}", show(line));
        let info = c.info();
        for key in [
            "server_id",
            "server_name",
            "version",
            "go",
            "host",
            "client_ip",
        ] {
            let v = info[key]
                .as_str()
                .unwrap_or_else(|| panic!("INFO.{key} not a string: {info}"));
            assert!(!v.is_empty(), "INFO.{key} is empty: {info}");
        }
        assert_eq!(info["proto"], 1, "INFO.proto: {info}");
        assert_eq!(
            info["port"].as_u64(),
            Some(server.port() as u64),
            "INFO.port: {info}"
        );
        assert_eq!(info["headers"], true, "INFO.headers: {info}");
        assert_eq!(
            info["max_payload"], 1_048_576,
            "INFO.max_payload default: {info}"
        );
        assert!(info["client_id"].is_u64(), "INFO.client_id: {info}");
        assert_eq!(info["client_ip"], "127.0.0.1", "INFO.client_ip: {info}");
        // omitempty: no auth → absent (or false).
        assert!(
            info.get("auth_required").is_none() || info["auth_required"] == false,
            "INFO.auth_required without auth: {info}"
        );
        let version = info["version"].as_str().unwrap();
        assert!(
            version.split('.').count() >= 3 && version.chars().next().unwrap().is_ascii_digit(),
            "INFO.version is not semver-like: {version}"
        );
        // Every connection gets its own client id.
        let c2 = RawClient::connect(&server);
        assert_ne!(
            c.client_id(),
            c2.client_id(),
            "client_id must differ per connection"
        );
    });
}

#[test]
fn info_auth_required() {
    for_each_server(|kind| {
        let server =
            TestServer::start(kind, ServerConfig::config("authorization { token: t0k }\n"));
        let c = RawClient::connect(&server);
        assert_eq!(c.info()["auth_required"], true, "INFO: {}", c.info());
    });
}

#[test]
fn connect_then_ping_pong() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(format!("CONNECT {QUIET}\r\nPING\r\n").as_bytes());
        c.expect_line("PONG");
        // Several PINGs in one write → as many PONGs.
        c.send(b"PING\r\nPING\r\nPING\r\n");
        c.expect_bytes(b"PONG\r\nPONG\r\nPONG\r\n");
        // A client PONG is accepted silently.
        assert_bytes_eq(&c.roundtrip(b"PONG\r\n"), b"", "PONG from client");
        // A second CONNECT is accepted and its options replace the first's.
        let mut v = RawClient::connect(&server);
        let out = v
            .roundtrip(b"CONNECT {\"verbose\":true}\r\nCONNECT {\"verbose\":false}\r\nSUB a 1\r\n");
        assert_bytes_eq(&out, b"+OK\r\n", "second CONNECT turns verbose off");
    });
}

#[test]
fn verbose_ok() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {\"verbose\":true,\"pedantic\":false,\"headers\":true}\r\n");
        c.expect_line("+OK");
        let out = c.roundtrip(
            b"SUB foo 1\r\nPUB foo 2\r\nhi\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1\r\nUNSUB 99\r\n",
        );
        // +OK for PUB comes before the MSG it produces; PING gets no +OK.
        assert_bytes_eq(
            &out,
            b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n+OK\r\n+OK\r\n",
            "verbose replies",
        );
    });
}

#[test]
fn connect_bad_json_closes_silently() {
    // nats-server 2.9.10 closes without any -ERR when CONNECT's JSON does not parse.
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {bad json\r\n");
        c.expect_silent_close();
    });
}

#[test]
fn invalid_client_protocol() {
    for_each_server(|kind| {
        let server = start(kind);
        for p in [0, 1] {
            let mut c = RawClient::connect(&server);
            let out = c.roundtrip(
                format!("CONNECT {{\"verbose\":false,\"protocol\":{p}}}\r\n").as_bytes(),
            );
            assert_bytes_eq(&out, b"", &format!("protocol {p} accepted"));
        }
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n");
        c.expect_err_and_close("invalid client protocol");
    });
}

#[test]
fn no_responders_requires_headers() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n");
        c.expect_err_and_close("no responders requires headers support");
    });
}

// ---------------------------------------------------------------------------------------
// PUB / SUB / MSG
// ---------------------------------------------------------------------------------------

#[test]
fn pub_sub_msg_exact() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut sub = RawClient::connected(&server, QUIET);
        let mut publ = RawClient::connected(&server, QUIET);
        assert_bytes_eq(&sub.roundtrip(b"SUB foo 1\r\n"), b"", "SUB");
        // Plain, empty, and binary payloads (CRLF inside the payload is just data).
        let out = publ
            .roundtrip(b"PUB foo 5\r\nhello\r\nPUB foo 0\r\n\r\nPUB foo 6\r\na\r\nb\x00\xff\r\n");
        assert_bytes_eq(&out, b"", "publisher gets nothing");
        let got = sub.roundtrip(b"");
        assert_bytes_eq(
            &got,
            b"MSG foo 1 5\r\nhello\r\nMSG foo 1 0\r\n\r\nMSG foo 1 6\r\na\r\nb\x00\xff\r\n",
            "subscriber",
        );
        // Same connection publishes to itself (echo on by default).
        let got = sub.roundtrip(b"PUB foo 3\r\nabc\r\n");
        assert_bytes_eq(&got, b"MSG foo 1 3\r\nabc\r\n", "echo");
        // Non-matching subject: nothing.
        publ.roundtrip(b"PUB bar 1\r\nx\r\nPUB foo.bar 1\r\nx\r\nPUB fo 1\r\nx\r\n");
        assert_bytes_eq(&sub.roundtrip(b""), b"", "non-matching subjects");
        // Subjects are case-sensitive.
        publ.roundtrip(b"PUB FOO 1\r\nx\r\n");
        assert_bytes_eq(&sub.roundtrip(b""), b"", "case-sensitive subjects");
    });
}

#[test]
fn reply_subject() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut sub = RawClient::connected(&server, QUIET);
        let mut publ = RawClient::connected(&server, QUIET);
        sub.roundtrip(b"SUB svc 42\r\n");
        publ.roundtrip(b"PUB svc _INBOX.abc.1 2\r\nhi\r\n");
        assert_bytes_eq(
            &sub.roundtrip(b""),
            b"MSG svc 42 _INBOX.abc.1 2\r\nhi\r\n",
            "MSG with reply",
        );
        // Request/reply by hand.
        publ.roundtrip(b"SUB _INBOX.abc.* 7\r\n");
        sub.roundtrip(b"PUB _INBOX.abc.1 4\r\npong\r\n");
        assert_bytes_eq(
            &publ.roundtrip(b""),
            b"MSG _INBOX.abc.1 7 4\r\npong\r\n",
            "reply delivered",
        );
    });
}

#[test]
fn sid_is_opaque_token() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let out = c.roundtrip(b"SUB foo abc\r\nPUB foo 1\r\nx\r\n");
        assert_bytes_eq(&out, b"MSG foo abc 1\r\nx\r\n", "non-numeric sid");
    });
}

#[test]
fn hpub_hmsg_exact() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut sub = RawClient::connected(&server, HDRS);
        let mut publ = RawClient::connected(&server, HDRS);
        sub.roundtrip(b"SUB h 1\r\n");
        publ.roundtrip(b"HPUB h rep 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhello\r\n");
        publ.roundtrip(b"HPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n");
        publ.roundtrip(b"HPUB h 22 22\r\nNATS/1.0 503\r\nX: y\r\n\r\n\r\n");
        assert_bytes_eq(
            &sub.roundtrip(b""),
            b"HMSG h 1 rep 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhello\r\n\
              HMSG h 1 12 12\r\nNATS/1.0\r\n\r\n\r\n\
              HMSG h 1 22 22\r\nNATS/1.0 503\r\nX: y\r\n\r\n\r\n",
            "HMSG",
        );
        // nats-server does not validate the header block: any bytes are relayed.
        publ.roundtrip(b"HPUB h 2 2\r\nab\r\n");
        assert_bytes_eq(
            &sub.roundtrip(b""),
            b"HMSG h 1 2 2\r\nab\r\n",
            "opaque header block",
        );
    });
}

#[test]
fn headers_stripped_for_non_header_subscriber() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut plain = RawClient::connected(&server, QUIET); // no "headers" field
        let mut off = RawClient::connected(&server, r#"{"verbose":false,"headers":false}"#);
        let mut publ = RawClient::connected(&server, HDRS);
        plain.roundtrip(b"SUB h 7\r\n");
        off.roundtrip(b"SUB h 8\r\n");
        publ.roundtrip(b"HPUB h rep 24 29\r\nNATS/1.0\r\nA: b\r\nC: d\r\n\r\nhello\r\n");
        assert_bytes_eq(
            &plain.roundtrip(b""),
            b"MSG h 7 rep 5\r\nhello\r\n",
            "stripped (omitted)",
        );
        assert_bytes_eq(
            &off.roundtrip(b""),
            b"MSG h 8 rep 5\r\nhello\r\n",
            "stripped (false)",
        );
    });
}

#[test]
fn hpub_without_headers_negotiated_closes() {
    // nats-server 2.9.10 closes silently (no -ERR) on HPUB from a client that did not
    // negotiate headers.
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"HPUB h 12 12\r\nNATS/1.0\r\n\r\n\r\n");
        c.expect_silent_close();
    });
}

#[test]
fn unsub_with_max() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let mut p = RawClient::connected(&server, QUIET);
        c.roundtrip(b"SUB u 1\r\nUNSUB 1 3\r\n");
        for i in 0..5 {
            p.send(format!("PUB u 1\r\n{i}\r\n").as_bytes());
        }
        p.roundtrip(b"");
        assert_bytes_eq(
            &c.roundtrip(b""),
            b"MSG u 1 1\r\n0\r\nMSG u 1 1\r\n1\r\nMSG u 1 1\r\n2\r\n",
            "exactly 3 delivered",
        );
        // Max already reached (2 delivered, max 2) → unsubscribed immediately.
        let out = c
            .roundtrip(b"SUB v 2\r\nPUB v 1\r\na\r\nPUB v 1\r\nb\r\nUNSUB 2 2\r\nPUB v 1\r\nc\r\n");
        assert_bytes_eq(
            &out,
            b"MSG v 2 1\r\na\r\nMSG v 2 1\r\nb\r\n",
            "max <= delivered",
        );
        // Max 0 also unsubscribes immediately.
        let out = c.roundtrip(b"SUB w 3\r\nPUB w 1\r\na\r\nUNSUB 3 0\r\nPUB w 1\r\nc\r\n");
        assert_bytes_eq(&out, b"MSG w 3 1\r\na\r\n", "UNSUB max 0");
        // Plain UNSUB.
        let out = c.roundtrip(b"SUB x 4\r\nUNSUB 4\r\nPUB x 1\r\na\r\n");
        assert_bytes_eq(&out, b"", "UNSUB");
    });
}

#[test]
fn unsub_unknown_sid() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        assert_bytes_eq(&c.roundtrip(b"UNSUB 99\r\nUNSUB 98 5\r\n"), b"", "quiet");
        let mut v = RawClient::connect(&server);
        let out = v.roundtrip(b"CONNECT {\"verbose\":true}\r\nUNSUB 99\r\n");
        assert_bytes_eq(&out, b"+OK\r\n+OK\r\n", "verbose: +OK, no error");
    });
}

#[test]
fn duplicate_sid() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let out = c.roundtrip(b"SUB foo 3\r\nSUB foo 3\r\nPUB foo 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"MSG foo 3 1\r\nx\r\n",
            "same sid twice → one subscription",
        );
        // Reusing a sid for another subject keeps the original subscription.
        let out = c.roundtrip(b"SUB bar 3\r\nPUB bar 1\r\nb\r\nPUB foo 1\r\nf\r\n");
        assert_bytes_eq(
            &out,
            b"MSG foo 3 1\r\nf\r\n",
            "sid reuse with another subject",
        );
        // One UNSUB removes it.
        let out = c.roundtrip(b"UNSUB 3\r\nPUB foo 1\r\nx\r\n");
        assert_bytes_eq(&out, b"", "after UNSUB");
    });
}

#[test]
fn overlapping_subscriptions_each_get_a_copy() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let out = c.roundtrip(b"SUB foo 1\r\nSUB foo 2\r\nSUB f* 3\r\nPUB foo 1\r\nx\r\n");
        assert_eq!(
            sorted_frames(&out),
            vec!["MSG foo 1 1\\r\\nx\\r\\n", "MSG foo 2 1\\r\\nx\\r\\n"],
            "`f*` is a literal token, not a wildcard"
        );
    });
}

#[test]
fn wildcards() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let mut p = RawClient::connected(&server, QUIET);
        c.roundtrip(
            b"SUB a.* 1\r\nSUB a.> 2\r\nSUB > 3\r\nSUB *.b 4\r\nSUB a.*.c 5\r\nSUB * 6\r\n",
        );
        let cases: [(&[u8], Vec<&str>); 5] = [
            (b"a.b", vec!["1", "2", "3", "4"]),
            (b"a.b.c", vec!["2", "3", "5"]),
            (b"a", vec!["3", "6"]),
            (b"x.b", vec!["3", "4"]),
            (b"a.b.c.d", vec!["2", "3"]),
        ];
        for (subject, sids) in cases {
            let mut msg = b"PUB ".to_vec();
            msg.extend_from_slice(subject);
            msg.extend_from_slice(b" 1\r\nz\r\n");
            p.roundtrip(&msg);
            let out = c.roundtrip(b"");
            let mut want: Vec<String> = sids
                .iter()
                .map(|sid| {
                    format!(
                        "MSG {} {sid} 1\\r\\nz\\r\\n",
                        String::from_utf8_lossy(subject)
                    )
                })
                .collect();
            want.sort();
            assert_eq!(sorted_frames(&out), want, "publish to {}", show(subject));
        }
    });
}

#[test]
fn queue_groups() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut members: Vec<RawClient> = (0..3)
            .map(|i| {
                let mut m = RawClient::connected(&server, QUIET);
                m.roundtrip(format!("SUB work q1 {}\r\n", 10 + i).as_bytes());
                m
            })
            .collect();
        let mut others: Vec<RawClient> = (0..2)
            .map(|i| {
                let mut m = RawClient::connected(&server, QUIET);
                m.roundtrip(format!("SUB work q2 {}\r\n", 20 + i).as_bytes());
                m
            })
            .collect();
        let mut plain = RawClient::connected(&server, QUIET);
        plain.roundtrip(b"SUB work 1\r\n");
        let mut p = RawClient::connected(&server, QUIET);
        let mut batch = Vec::new();
        for i in 0..100 {
            batch.extend_from_slice(format!("PUB work 3\r\n{i:03}\r\n").as_bytes());
        }
        p.roundtrip(&batch);

        let count = |c: &mut RawClient| -> Vec<String> {
            rnats_tests::split_frames(&c.roundtrip(b""))
                .iter()
                .map(|f| String::from_utf8_lossy(f).to_string())
                .collect()
        };
        for (group, set) in [("q1", &mut members), ("q2", &mut others)] {
            let mut payloads: Vec<String> = Vec::new();
            let mut per_member = Vec::new();
            for m in set.iter_mut() {
                let frames = count(m);
                per_member.push(frames.len());
                for f in frames {
                    assert!(
                        f.starts_with("MSG work "),
                        "{group}: unexpected frame {f:?}"
                    );
                    payloads.push(f.lines().nth(1).unwrap_or_default().to_string());
                }
            }
            payloads.sort();
            let want: Vec<String> = (0..100).map(|i| format!("{i:03}")).collect();
            assert_eq!(
                payloads, want,
                "{group}: each message exactly once ({per_member:?})"
            );
            assert!(
                per_member.iter().all(|&n| n > 0),
                "{group}: every member should get some of 100 messages: {per_member:?}"
            );
        }
        assert_eq!(count(&mut plain).len(), 100, "plain subscriber gets all");
    });
}

#[test]
fn queue_and_plain_on_one_connection() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let out = c.roundtrip(b"SUB x 1\r\nSUB x q 2\r\nSUB x q 3\r\nPUB x 1\r\nx\r\n");
        let frames = sorted_frames(&out);
        assert_eq!(frames.len(), 2, "plain + one queue member: {frames:?}");
        assert_eq!(frames[0], "MSG x 1 1\\r\\nx\\r\\n");
        assert!(
            frames[1] == "MSG x 2 1\\r\\nx\\r\\n" || frames[1] == "MSG x 3 1\\r\\nx\\r\\n",
            "{frames:?}"
        );
    });
}

#[test]
fn echo_false() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut ne = RawClient::connected(&server, r#"{"verbose":false,"echo":false}"#);
        let mut other = RawClient::connected(&server, QUIET);
        other.roundtrip(b"SUB e 2\r\n");
        let out = ne.roundtrip(b"SUB e 1\r\nPUB e 1\r\nx\r\n");
        assert_bytes_eq(&out, b"", "no echo to self");
        assert_bytes_eq(
            &other.roundtrip(b""),
            b"MSG e 2 1\r\nx\r\n",
            "others still receive",
        );
        other.roundtrip(b"PUB e 1\r\ny\r\n");
        assert_bytes_eq(
            &ne.roundtrip(b""),
            b"MSG e 1 1\r\ny\r\n",
            "receives from others",
        );
    });
}

#[test]
fn pedantic_invalid_publish_subject() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut watcher = RawClient::connected(&server, QUIET);
        watcher.roundtrip(b"SUB > 1\r\n");
        let mut c = RawClient::connected(&server, r#"{"verbose":false,"pedantic":true}"#);
        let out = c.roundtrip(b"PUB foo.* 1\r\nx\r\nPUB foo.> 1\r\nx\r\nPUB foo..bar 1\r\nx\r\nPUB .foo 1\r\nx\r\nPUB foo*.bar 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n-ERR 'Invalid Publish Subject'\r\n",
            "pedantic publish errors (foo*.bar is a valid literal)",
        );
        // The -ERR is advisory: nats-server (2.9.10 and current) still routes the message.
        // `foo..bar` / `.foo` match no subscription because of their empty tokens.
        assert_bytes_eq(
            &watcher.roundtrip(b""),
            b"MSG foo.* 1 1\r\nx\r\nMSG foo.> 1 1\r\nx\r\nMSG foo*.bar 1 1\r\nx\r\n",
            "invalid publish subjects are still routed",
        );
        // Connection stays open; the reply subject is not checked.
        let out = c.roundtrip(b"SUB ok 5\r\nPUB ok b.* 1\r\nx\r\n");
        assert_bytes_eq(&out, b"MSG ok 5 b.* 1\r\nx\r\n", "still usable");
        // With verbose on, nats-server 2.9.10 sends the -ERR *and then* +OK for that PUB.
        let mut v = RawClient::connect(&server);
        let out =
            v.roundtrip(b"CONNECT {\"verbose\":true,\"pedantic\":true}\r\nPUB foo.* 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n-ERR 'Invalid Publish Subject'\r\n+OK\r\n",
            "verbose pedantic",
        );
        // Not pedantic: no validation at all.
        let mut np = RawClient::connected(&server, QUIET);
        assert_bytes_eq(
            &np.roundtrip(b"PUB foo.* 1\r\nx\r\n"),
            b"",
            "non-pedantic accepts",
        );
    });
}

#[test]
fn invalid_sub_subject() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        for subj in ["foo..bar", ".foo", "foo.", "foo.>.bar", ">.a", "a.>.>"] {
            let out = c.roundtrip(format!("SUB {subj} 1\r\n").as_bytes());
            assert_bytes_eq(&out, b"-ERR 'Invalid Subject'\r\n", &format!("SUB {subj}"));
        }
        // Still open, and these are valid.
        let out =
            c.roundtrip(b"SUB foo* 2\r\nSUB * 3\r\nSUB > 4\r\nSUB a.*.> 5\r\nPUB foo* 1\r\nx\r\n");
        assert_eq!(
            sorted_frames(&out),
            vec![
                "MSG foo* 2 1\\r\\nx\\r\\n",
                "MSG foo* 3 1\\r\\nx\\r\\n",
                "MSG foo* 4 1\\r\\nx\\r\\n"
            ]
        );
        // Verbose: the -ERR replaces the +OK.
        let mut v = RawClient::connect(&server);
        let out = v.roundtrip(b"CONNECT {\"verbose\":true}\r\nSUB foo..bar 1\r\nSUB ok 2\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n-ERR 'Invalid Subject'\r\n+OK\r\n",
            "verbose invalid SUB",
        );
    });
}

/// Asserts `out` is exactly one no-responders status message, in either accepted form:
/// nats-server 2.9.10 sends a bare `NATS/1.0 503` header block
/// (`HMSG <reply> <sid> 16 16\r\nNATS/1.0 503\r\n\r\n\r\n`); newer servers (2.11+) add a
/// `Nats-Subject: <original subject>` header. Clients accept both (they look at the status).
#[track_caller]
fn assert_no_responders(out: &[u8], reply: &str, sid: &str, subject: &str, what: &str) {
    let old = format!("HMSG {reply} {sid} 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    let hdr = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
    let new = format!("HMSG {reply} {sid} {n} {n}\r\n{hdr}\r\n", n = hdr.len());
    if out != old.as_bytes() && out != new.as_bytes() {
        panic!(
            "{what}: expected \"{}\" (2.9.10) or \"{}\" (2.11+), got \"{}\"",
            show(old.as_bytes()),
            show(new.as_bytes()),
            show(out)
        );
    }
}

#[test]
fn no_responders_503() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, NR);
        let out = c.roundtrip(b"SUB _INBOX.x 9\r\nPUB nobody _INBOX.x 2\r\nhi\r\n");
        assert_no_responders(&out, "_INBOX.x", "9", "nobody", "PUB → 503");
        let out = c.roundtrip(b"HPUB nobody.h _INBOX.x 12 13\r\nNATS/1.0\r\n\r\nx\r\n");
        assert_no_responders(&out, "_INBOX.x", "9", "nobody.h", "HPUB → 503");
        // No subscription matching the reply → nothing.
        assert_bytes_eq(
            &c.roundtrip(b"PUB nobody _INBOX.zzz 2\r\nhi\r\n"),
            b"",
            "no reply sub",
        );
        // No reply subject → nothing.
        assert_bytes_eq(
            &c.roundtrip(b"PUB nobody 2\r\nhi\r\n"),
            b"",
            "no reply subject",
        );
        // A responder exists → it gets the request, no 503.
        let mut svc = RawClient::connected(&server, QUIET);
        svc.roundtrip(b"SUB svc 1\r\n");
        assert_bytes_eq(
            &c.roundtrip(b"PUB svc _INBOX.x 2\r\nhi\r\n"),
            b"",
            "responder present",
        );
        assert_bytes_eq(
            &svc.roundtrip(b""),
            b"MSG svc 1 _INBOX.x 2\r\nhi\r\n",
            "responder got it",
        );
        // Without no_responders in CONNECT → nothing.
        let mut plain = RawClient::connected(&server, HDRS);
        let out = plain.roundtrip(b"SUB _INBOX.y 1\r\nPUB nobody _INBOX.y 1\r\nx\r\n");
        assert_bytes_eq(&out, b"", "no_responders not requested");
        // echo:false: the publisher's own matching subscription is not a responder (the
        // message is not delivered to it) → 503.
        let mut ne = RawClient::connected(
            &server,
            r#"{"verbose":false,"headers":true,"no_responders":true,"echo":false}"#,
        );
        let out = ne.roundtrip(b"SUB _INBOX.a 1\r\nSUB own 2\r\nPUB own _INBOX.a 1\r\nx\r\n");
        assert_no_responders(&out, "_INBOX.a", "1", "own", "echo:false self-interest");
    });
}

#[test]
fn pub_sub_before_connect_without_auth() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        // Before CONNECT the defaults apply: verbose (and pedantic) on.
        let out = c.roundtrip(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n",
            "telnet-style session",
        );
        let out = c.roundtrip(b"PUB foo.* 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Invalid Publish Subject'\r\n+OK\r\n",
            "pedantic by default",
        );
        // CONNECT {} keeps the defaults too.
        let mut d = RawClient::connect(&server);
        let out = d.roundtrip(b"CONNECT {}\r\nSUB x 1\r\n");
        assert_bytes_eq(&out, b"+OK\r\n+OK\r\n", "CONNECT {} → verbose");
    });
}

#[test]
fn case_insensitive_ops() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"connect {\"verbose\":false,\"headers\":true}\r\n");
        // The explicit `pinG` ends the roundtrip (its PONG is the barrier).
        let out = c.roundtrip(b"sub foo 1\r\nSuB bar 2\r\npub foo 1\r\na\r\nPuB bar 1\r\nb\r\nhpub foo 12 13\r\nNATS/1.0\r\n\r\nc\r\nuNsUb 2\r\npUb bar 1\r\nd\r\npinG\r\n");
        assert_bytes_eq(
            &out,
            b"MSG foo 1 1\r\na\r\nMSG bar 2 1\r\nb\r\nHMSG foo 1 12 13\r\nNATS/1.0\r\n\r\nc\r\n",
            "lower/mixed case ops",
        );
    });
}

#[test]
fn tabs_and_spaces() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT\t{\"verbose\":false}\r\n");
        let out = c.roundtrip(b"SUB\tfoo\t 1\r\nSUB  bar   q \t 2\r\nPUB \t foo\t\t2\r\nhi\r\nPUB bar  r \t 1\r\nx\r\nUNSUB\t1\r\nPUB foo 1\r\nz\r\n");
        assert_bytes_eq(
            &out,
            b"MSG foo 1 2\r\nhi\r\nMSG bar 2 r 1\r\nx\r\n",
            "tabs/spaces as separators",
        );
    });
}

#[test]
fn bare_lf_line_endings() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {\"verbose\":false}\n");
        c.send(b"SUB foo 1\nPUB foo 2\nhi\r\nPING\n");
        // The server always answers with CRLF.
        c.expect_bytes(b"MSG foo 1 2\r\nhi\r\nPONG\r\n");
    });
}

#[test]
fn payload_must_end_with_crlf() {
    // Control lines may end in a bare LF, but the payload must be followed by CRLF.
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"PUB foo 2\nhi\nPING\n");
        c.expect_err_and_close("Unknown Protocol Operation");
    });
}

#[test]
fn split_byte_by_byte() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connect(&server);
        let script = b"CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB foo 1\r\nPUB foo rep 5\r\nhello\r\nHPUB foo 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\nUNSUB 1\r\nPUB foo 1\r\nx\r\nPING\r\n";
        c.send_slowly(script, Duration::from_millis(1));
        c.expect_bytes(b"MSG foo 1 rep 5\r\nhello\r\nHMSG foo 1 18 23\r\nNATS/1.0\r\nA: b\r\n\r\nworld\r\nPONG\r\n");
    });
}

#[test]
fn split_at_every_position() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, HDRS);
        c.roundtrip(b"SUB foo 1\r\n");
        let script: &[u8] = b"PUB foo 5\r\nhello\r\nHPUB foo r 12 17\r\nNATS/1.0\r\n\r\nworld\r\nSUB bar 9\r\nUNSUB 9\r\nPING\r\n";
        let want: &[u8] =
            b"MSG foo 1 5\r\nhello\r\nHMSG foo 1 r 12 17\r\nNATS/1.0\r\n\r\nworld\r\n";
        for i in 1..script.len() {
            c.send(&script[..i]);
            std::thread::sleep(Duration::from_millis(2));
            c.send(&script[i..]);
            let out = c
                .read_until_pong(Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("split at {i}: {e}"));
            assert_bytes_eq(&out, want, &format!("split at byte {i}"));
        }
    });
}

#[test]
fn pong_ordering() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        c.roundtrip(b"SUB ord 1\r\n");
        // Same connection: all MSGs caused by earlier PUBs precede the PONG.
        let mut batch = Vec::new();
        let mut want = Vec::new();
        for i in 0..200 {
            batch.extend_from_slice(
                format!("PUB ord {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
            );
            want.extend_from_slice(
                format!("MSG ord 1 {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
            );
        }
        batch.extend_from_slice(b"PING\r\n");
        c.send(&batch);
        let out = c.read_until_pong(Duration::from_secs(5)).expect("PONG");
        assert_bytes_eq(&out, &want, "same-connection order");
        // Other connection: once the publisher has its PONG, the subscriber's next PONG
        // comes after every one of those messages.
        let mut p = RawClient::connected(&server, QUIET);
        let mut batch = Vec::new();
        for i in 0..200 {
            batch.extend_from_slice(
                format!("PUB ord {}\r\n{i}\r\n", i.to_string().len()).as_bytes(),
            );
        }
        p.roundtrip(&batch);
        let out = c.roundtrip(b"");
        assert_bytes_eq(&out, &want, "cross-connection order");
    });
}

// ---------------------------------------------------------------------------------------
// Limits and errors that close the connection
// ---------------------------------------------------------------------------------------

#[test]
fn max_payload_exceeded() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"PUB foo 1048577\r\n");
        c.expect_err_and_close("Maximum Payload Violation");
        // Exactly max_payload is fine.
        let mut ok = RawClient::connected(&server, QUIET);
        let mut msg = b"SUB foo 1\r\nPUB foo 1048576\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'x', 1_048_576));
        msg.extend_from_slice(b"\r\n");
        let out = ok.roundtrip(&msg);
        assert!(
            out.starts_with(b"MSG foo 1 1048576\r\nxxx"),
            "max-size message: {}",
            show(&out[..out.len().min(40)])
        );
        assert_eq!(out.len(), "MSG foo 1 1048576\r\n".len() + 1_048_576 + 2);

        // Configured limit; HPUB counts the total size.
        let server = TestServer::start(kind, ServerConfig::config("max_payload: 100\n"));
        let mut c = RawClient::connected(&server, HDRS);
        assert_eq!(c.info()["max_payload"], 100, "INFO.max_payload");
        let mut msg = b"PUB foo 100\r\n".to_vec();
        msg.extend(std::iter::repeat_n(b'y', 100));
        msg.extend_from_slice(b"\r\n");
        assert_bytes_eq(&c.roundtrip(&msg), b"", "100 bytes ok");
        c.send(b"HPUB foo 12 101\r\n");
        c.expect_err_and_close("Maximum Payload Violation");
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"PUB foo 101\r\n");
        c.expect_err_and_close("Maximum Payload Violation");
    });
}

#[test]
fn max_control_line_exceeded() {
    for_each_server(|kind| {
        let server = start(kind);
        // Default 4096: a long subject with CRLF…
        let mut c = RawClient::connected(&server, QUIET);
        let subj = "a".repeat(5000);
        c.send(format!("PUB {subj} 1\r\n").as_bytes());
        c.expect_err_and_close("maximum control line exceeded");
        // …or without a line end at all (detected before the newline arrives).
        let mut c = RawClient::connected(&server, QUIET);
        c.send(format!("SUB {subj}").as_bytes());
        c.expect_err_and_close("maximum control line exceeded");
        // CONNECT is a control line too.
        let mut c = RawClient::connect(&server);
        let name = "n".repeat(5000);
        c.send(format!("CONNECT {{\"verbose\":false,\"name\":\"{name}\"}}\r\n").as_bytes());
        c.expect_err_and_close("maximum control line exceeded");
        // Just under the limit works.
        let mut c = RawClient::connected(&server, QUIET);
        let subj = "b".repeat(4000);
        let out = c.roundtrip(format!("SUB {subj} 1\r\nPUB {subj} 1\r\nx\r\n").as_bytes());
        assert_bytes_eq(
            &out,
            format!("MSG {subj} 1 1\r\nx\r\n").as_bytes(),
            "4000-byte subject",
        );

        let server = TestServer::start(kind, ServerConfig::config("max_control_line: 256\n"));
        let mut c = RawClient::connected(&server, QUIET);
        c.send(format!("SUB {} 1\r\n", "c".repeat(300)).as_bytes());
        c.expect_err_and_close("maximum control line exceeded");
    });
}

#[test]
fn unknown_op() {
    for_each_server(|kind| {
        let server = start(kind);
        for bad in [
            &b"FOO bar\r\n"[..],
            b"MSG foo 1 1\r\nx\r\n",
            b"PUNG\r\n",
            b"SUB\r\n",
            b"UNSUB\r\n",
        ] {
            let mut c = RawClient::connected(&server, QUIET);
            c.send(bad);
            c.expect_err_and_close("Unknown Protocol Operation");
        }
        // `+OK` and `INFO` from a client are tolerated.
        let mut c = RawClient::connected(&server, QUIET);
        assert_bytes_eq(
            &c.roundtrip(b"+OK\r\nINFO {}\r\n"),
            b"",
            "+OK / INFO from client",
        );
    });
}

#[test]
fn arg_errors_close_silently() {
    // nats-server 2.9.10: argument errors detected after the op is recognised close the
    // connection WITHOUT an -ERR line (only the state machine's parse errors send
    // 'Unknown Protocol Operation').
    for_each_server(|kind| {
        let server = start(kind);
        for bad in [
            &b"PUB foo abc\r\n"[..],
            b"PUB foo -5\r\n",
            b"PUB foo\r\n",
            b"PUB a b c 1\r\n",
            b"SUB a b c d\r\n",
            b"HPUB foo 5\r\n",
            b"HPUB foo 14 12\r\n",
        ] {
            let mut c = RawClient::connected(&server, HDRS);
            c.send(bad);
            let got = c.expect_closed(Duration::from_secs(5));
            assert_bytes_eq(&got, b"", &format!("after \"{}\"", show(bad)));
        }
    });
}

#[test]
fn max_subscriptions() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config("max_subscriptions: 2\n"));
        let mut c = RawClient::connect(&server);
        c.send(b"CONNECT {\"verbose\":true}\r\n");
        c.expect_line("+OK");
        let out = c.roundtrip(b"SUB a 1\r\nSUB b 2\r\nSUB c 3\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n+OK\r\n-ERR 'maximum subscriptions exceeded'\r\n",
            "third SUB",
        );
        // Still open; after an UNSUB there is room again.
        let out = c.roundtrip(b"UNSUB 1\r\nSUB c 3\r\nPUB c 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n+OK\r\n+OK\r\nMSG c 3 1\r\nx\r\n",
            "after UNSUB",
        );
    });
}

#[test]
fn max_connections() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config("max_connections: 1\n"));
        // The harness's readiness probe may still hold the only slot for a moment.
        let mut first = wait_for(Duration::from_secs(3), "a first connection", || {
            let mut c = RawClient::try_connect(&server).ok()?;
            c.try_roundtrip(
                format!("CONNECT {QUIET}\r\n").as_bytes(),
                Duration::from_secs(2),
            )
            .ok()
            .filter(|o| o.is_empty())
            .map(|_| c)
        });
        // The second gets INFO, then the error, then EOF.
        let mut second = RawClient::connect(&server);
        second.expect_err_and_close("maximum connections exceeded");
        assert_bytes_eq(&first.roundtrip(b""), b"", "first still works");
        // Once the first leaves, a new one is accepted.
        drop(first);
        wait_for(Duration::from_secs(3), "the slot to free up", || {
            let mut c = RawClient::try_connect(&server).ok()?;
            c.try_roundtrip(
                format!("CONNECT {QUIET}\r\n").as_bytes(),
                Duration::from_secs(2),
            )
            .ok()
            .filter(|o| o.is_empty())
        });
    });
}

// ---------------------------------------------------------------------------------------
// Authentication
// ---------------------------------------------------------------------------------------

/// bcrypt (cost 4, `$2a$`) of "s3cret"; generated once with the `bcrypt` crate and
/// verified against nats-server 2.9.10.
const BCRYPT_S3CRET: &str = "$2a$04$Zq1EthJ01NcgAjDVFPUoOer9s3c0yS5M1QkjgT8qduRzVKzpVCJfe";

fn expect_auth_ok(server: &TestServer, connect: &str) {
    let mut c = RawClient::connect(server);
    let out = c.roundtrip(format!("CONNECT {connect}\r\n").as_bytes());
    assert_bytes_eq(&out, b"", &format!("CONNECT {connect} should be accepted"));
}

fn expect_auth_violation(server: &TestServer, connect: &str) {
    let mut c = RawClient::connect(server);
    c.send(format!("CONNECT {connect}\r\nPING\r\n").as_bytes());
    c.expect_err_and_close("Authorization Violation");
}

#[test]
fn auth_token() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("authorization { token: \"tok123\" }\n"),
        );
        expect_auth_ok(&server, r#"{"verbose":false,"auth_token":"tok123"}"#);
        expect_auth_violation(&server, r#"{"verbose":false,"auth_token":"bad"}"#);
        expect_auth_violation(&server, r#"{"verbose":false}"#);
        expect_auth_violation(&server, r#"{"verbose":false,"user":"x","pass":"tok123"}"#);
    });
}

#[test]
fn auth_user_password() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("authorization { user: u1, password: p1 }\n"),
        );
        expect_auth_ok(&server, r#"{"verbose":false,"user":"u1","pass":"p1"}"#);
        expect_auth_violation(&server, r#"{"verbose":false,"user":"u1","pass":"p2"}"#);
        expect_auth_violation(&server, r#"{"verbose":false,"user":"u2","pass":"p1"}"#);
        expect_auth_violation(&server, r#"{"verbose":false,"auth_token":"p1"}"#);
        expect_auth_violation(&server, r#"{"verbose":false}"#);
    });
}

#[test]
fn auth_users_list_with_bcrypt() {
    for_each_server(|kind| {
        let conf = format!(
            "authorization {{\n  users = [\n    {{user: alice, password: \"{BCRYPT_S3CRET}\"}}\n    {{user: bob, password: plain}}\n  ]\n}}\n"
        );
        let server = TestServer::start(kind, ServerConfig::config(conf));
        expect_auth_ok(
            &server,
            r#"{"verbose":false,"user":"alice","pass":"s3cret"}"#,
        );
        expect_auth_ok(&server, r#"{"verbose":false,"user":"bob","pass":"plain"}"#);
        expect_auth_violation(
            &server,
            r#"{"verbose":false,"user":"alice","pass":"wrong"}"#,
        );
        // The hash itself is not a password.
        expect_auth_violation(
            &server,
            &format!(r#"{{"verbose":false,"user":"alice","pass":"{BCRYPT_S3CRET}"}}"#),
        );
        expect_auth_violation(
            &server,
            r#"{"verbose":false,"user":"carol","pass":"plain"}"#,
        );
        // Verbose: the +OK for an accepted CONNECT.
        let mut c = RawClient::connect(&server);
        let out =
            c.roundtrip(b"CONNECT {\"verbose\":true,\"user\":\"bob\",\"pass\":\"plain\"}\r\n");
        assert_bytes_eq(&out, b"+OK\r\n", "verbose auth ok");
    });
}

#[test]
fn auth_first_op_must_be_connect() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config("authorization { token: t }\n"));
        for first in [&b"PING\r\n"[..], b"SUB foo 1\r\n", b"PUB foo 1\r\nx\r\n"] {
            let mut c = RawClient::connect(&server);
            c.send(first);
            c.expect_err_and_close("Authorization Violation");
        }
    });
}

#[test]
fn auth_timeout() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("authorization {\n  token: x\n  timeout: 0.5\n}\n"),
        );
        let t0 = Instant::now();
        let mut c = RawClient::connect(&server);
        let got = c.expect_closed(Duration::from_secs(3));
        let elapsed = t0.elapsed();
        assert_bytes_eq(&got, b"-ERR 'Authentication Timeout'\r\n", "auth timeout");
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(2000),
            "closed after {elapsed:?}, expected ~0.5 s"
        );
        // A client that authenticates in time is not affected.
        let mut ok = RawClient::connect(&server);
        ok.roundtrip(b"CONNECT {\"verbose\":false,\"auth_token\":\"x\"}\r\n");
        std::thread::sleep(Duration::from_millis(800));
        assert_bytes_eq(
            &ok.roundtrip(b""),
            b"",
            "authenticated client survives the timer",
        );
    });
}

// ---------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------

const PERMS_CONF: &str = r#"
authorization {
  users = [
    {user: pub, password: pub, permissions: {publish: {deny: ["secret.>"]}, subscribe: {deny: ["private.*"]}}}
    {user: svc, password: svc, permissions: {publish: {allow: ["ok.>"]}, subscribe: {allow: ["req"]}, allow_responses: true}}
    {user: short, password: short, permissions: {publish: ["x.*"], subscribe: "y"}}
    {user: cli, password: cli}
  ]
}
"#;

fn login(server: &TestServer, user: &str) -> RawClient {
    RawClient::connected(
        server,
        &format!(r#"{{"verbose":false,"headers":true,"user":"{user}","pass":"{user}"}}"#),
    )
}

#[test]
fn permissions_publish_deny() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config(PERMS_CONF));
        let mut watcher = login(&server, "cli");
        watcher.roundtrip(b"SUB > 1\r\n");
        let mut p = login(&server, "pub");
        let out = p.roundtrip(b"PUB secret.x 1\r\nx\r\nPUB public 1\r\ny\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n",
            "deny",
        );
        assert_bytes_eq(
            &watcher.roundtrip(b""),
            b"MSG public 1 1\r\ny\r\n",
            "only allowed delivered",
        );
        // Verbose: -ERR instead of +OK.
        let mut v = RawClient::connect(&server);
        let out = v.roundtrip(b"CONNECT {\"verbose\":true,\"user\":\"pub\",\"pass\":\"pub\"}\r\nPUB secret.a.b 1\r\nx\r\nPUB ok 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"+OK\r\n-ERR 'Permissions Violation for Publish to \"secret.a.b\"'\r\n+OK\r\n",
            "verbose deny",
        );
        // Allow-list shorthand (`publish: ["x.*"]`).
        let mut s = login(&server, "short");
        let out = s.roundtrip(b"PUB x.a 1\r\nx\r\nPUB x 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n",
            "shorthand allow",
        );
    });
}

#[test]
fn permissions_subscribe_deny() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config(PERMS_CONF));
        let mut p = login(&server, "pub");
        let out = p.roundtrip(b"SUB private.a 1\r\nSUB private.a q 2\r\nSUB private.a.b 3\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Subscription to \"private.a\"'\r\n\
              -ERR 'Permissions Violation for Subscription to \"private.a\" using queue \"q\"'\r\n",
            "subscribe deny",
        );
        let mut cli = login(&server, "cli");
        cli.roundtrip(b"PUB private.a 1\r\nx\r\nPUB private.a.b 1\r\ny\r\n");
        assert_bytes_eq(
            &p.roundtrip(b""),
            b"MSG private.a.b 3 1\r\ny\r\n",
            "denied subs got nothing",
        );
        let mut s = login(&server, "short");
        let out = s.roundtrip(b"SUB y 1\r\nSUB z 2\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Subscription to \"z\"'\r\n",
            "string shorthand",
        );
    });
}

#[test]
fn permissions_allow_responses() {
    for_each_server(|kind| {
        let server = TestServer::start(kind, ServerConfig::config(PERMS_CONF));
        let mut svc = login(&server, "svc");
        let out =
            svc.roundtrip(b"SUB req 1\r\nSUB other 2\r\nPUB nope 1\r\nx\r\nPUB ok.x 1\r\nx\r\n");
        assert_bytes_eq(
            &out,
            b"-ERR 'Permissions Violation for Subscription to \"other\"'\r\n-ERR 'Permissions Violation for Publish to \"nope\"'\r\n",
            "svc limits",
        );
        let mut cli = login(&server, "cli");
        cli.roundtrip(b"SUB _INBOX.1 1\r\nPUB req _INBOX.1 2\r\nhi\r\n");
        assert_bytes_eq(
            &svc.roundtrip(b""),
            b"MSG req 1 _INBOX.1 2\r\nhi\r\n",
            "request reached svc",
        );
        // One response allowed (default max 1)…
        assert_bytes_eq(
            &svc.roundtrip(b"PUB _INBOX.1 3\r\nbye\r\n"),
            b"",
            "first response",
        );
        // …the second is a violation.
        assert_bytes_eq(
            &svc.roundtrip(b"PUB _INBOX.1 4\r\nbye2\r\n"),
            b"-ERR 'Permissions Violation for Publish to \"_INBOX.1\"'\r\n",
            "second response",
        );
        assert_bytes_eq(
            &cli.roundtrip(b""),
            b"MSG _INBOX.1 1 3\r\nbye\r\n",
            "requester got one reply",
        );
        // A reply subject nobody asked for is not allowed either.
        assert_bytes_eq(
            &svc.roundtrip(b"PUB _INBOX.2 1\r\nx\r\n"),
            b"-ERR 'Permissions Violation for Publish to \"_INBOX.2\"'\r\n",
            "unsolicited reply",
        );
    });
}

// ---------------------------------------------------------------------------------------
// Server-initiated PING
// ---------------------------------------------------------------------------------------

#[test]
fn server_ping_stale_connection() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("ping_interval: \"1s\"\nping_max: 1\n"),
        );
        let mut c = RawClient::connected(&server, QUIET);
        c.set_skip_server_pings(false);
        let t0 = Instant::now();
        let got = c.expect_closed(Duration::from_secs(6));
        assert_bytes_eq(
            &got,
            b"PING\r\n-ERR 'Stale Connection'\r\n",
            "never answering PINGs",
        );
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_millis(4500),
            "stale after {elapsed:?}, expected ~2 s"
        );
    });
}

#[test]
fn server_ping_answered_keeps_connection() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("ping_interval: 1\nping_max: 1\n"),
        );
        let mut c = RawClient::connected(&server, QUIET);
        let mut pings = 0;
        c.set_skip_server_pings(false);
        let until = Instant::now() + Duration::from_millis(3200);
        while Instant::now() < until {
            match c.next_frame(until.saturating_duration_since(Instant::now())) {
                Ok(f) if f.raw == b"PING\r\n" => {
                    pings += 1;
                    c.send(b"PONG\r\n");
                }
                Ok(f) => panic!("unexpected frame {f:?}"),
                Err(rnats_tests::ReadError::Timeout { .. }) => break,
                Err(e) => panic!("connection lost although PINGs were answered: {e}"),
            }
        }
        // nats-server 2.9.10 pings every second here; an implementation that skips a ping
        // because our PONG counted as recent activity is fine too. What matters: PINGs
        // come, and answering them keeps the connection alive past ping_max intervals.
        assert!(
            pings >= 1,
            "expected server PINGs in 3.2 s with ping_interval 1s, got {pings}"
        );
        assert_bytes_eq(&c.roundtrip(b""), b"", "still connected");
    });
}

// ---------------------------------------------------------------------------------------
// Accounts, subjects, misc
// ---------------------------------------------------------------------------------------

#[test]
fn accounts_isolation() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config(
                "accounts {\n  A: { users: [ {user: a, password: a} ] }\n  B: { users: [ {user: b, password: b} ] }\n}\n",
            ),
        );
        let login = |u: &str| {
            RawClient::connected(
                &server,
                &format!(r#"{{"verbose":false,"user":"{u}","pass":"{u}"}}"#),
            )
        };
        let mut a1 = login("a");
        let mut a2 = login("a");
        let mut b = login("b");
        a1.roundtrip(b"SUB x 1\r\n");
        a2.roundtrip(b"SUB x 1\r\n");
        let out = b.roundtrip(b"SUB x 1\r\nPUB x 1\r\nb\r\n");
        assert_bytes_eq(&out, b"MSG x 1 1\r\nb\r\n", "B sees its own message");
        assert_bytes_eq(&a1.roundtrip(b""), b"", "A does not see B's message");
        a1.roundtrip(b"PUB x 1\r\na\r\n");
        assert_bytes_eq(
            &a2.roundtrip(b""),
            b"MSG x 1 1\r\na\r\n",
            "same account delivers",
        );
        assert_bytes_eq(&b.roundtrip(b""), b"", "B does not see A's message");
    });
}

#[test]
fn non_ascii_subjects() {
    // Subjects are bytes: UTF-8 works, and nats-server 2.9.10 does not reject invalid UTF-8
    // either (only whitespace splits tokens).
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(&server, QUIET);
        let out = c.roundtrip(
            "SUB ünïcödé.主题.🙂 1\r\nSUB ünïcödé.* 2\r\nPUB ünïcödé.主题.🙂 2\r\nhi\r\nPUB ünïcödé.x 1\r\ny\r\n"
                .as_bytes(),
        );
        let mut want = vec![
            show("MSG ünïcödé.主题.🙂 1 2\r\nhi\r\n".as_bytes()),
            show("MSG ünïcödé.x 2 1\r\ny\r\n".as_bytes()),
        ];
        want.sort();
        assert_eq!(sorted_frames(&out), want, "UTF-8 subjects");
        let out = c.roundtrip(b"SUB \xff\xfe 3\r\nPUB \xff\xfe 1\r\nx\r\n");
        assert_bytes_eq(&out, b"MSG \xff\xfe 3 1\r\nx\r\n", "invalid UTF-8 subject");
    });
}

#[test]
fn credentials_ignored_without_auth() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut c = RawClient::connected(
            &server,
            r#"{"verbose":false,"user":"x","pass":"y","auth_token":"z","name":"n","lang":"rust","version":"1.0","protocol":1,"echo":true,"tls_required":false}"#,
        );
        assert_bytes_eq(
            &c.roundtrip(b"SUB a 1\r\nPUB a 1\r\nx\r\n"),
            b"MSG a 1 1\r\nx\r\n",
            "works",
        );
        // Unknown CONNECT fields are ignored.
        let mut d = RawClient::connected(
            &server,
            r#"{"verbose":false,"some_future_field":{"a":[1,2]}}"#,
        );
        assert_bytes_eq(&d.roundtrip(b""), b"", "unknown CONNECT field");
    });
}
