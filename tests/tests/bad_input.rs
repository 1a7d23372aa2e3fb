//! Hostile and broken clients. For each case: the offending connection gets exactly what
//! nats-server 2.9.10 sends (an -ERR and/or a close), a healthy pair of connections on the
//! same server keeps exchanging messages, nothing the bad client sent leaks to
//! subscribers, and the server process is still running.

use std::time::Duration;

use rnats_tests::{
    assert_bytes_eq, for_each_server, show, RawClient, ServerConfig, ServerKind, TestServer,
};

const QUIET: &str = r#"{"verbose":false,"pedantic":false}"#;
const HDRS: &str = r#"{"verbose":false,"pedantic":false,"headers":true}"#;

/// A subscriber (on `healthy` and on `foo`, the subject bad clients publish to) and a
/// publisher that must keep working whatever other clients do.
struct Healthy {
    sub: RawClient,
    publ: RawClient,
    n: u32,
}

impl Healthy {
    fn new(server: &TestServer) -> Healthy {
        let mut sub = RawClient::connected(server, QUIET);
        assert_bytes_eq(
            &sub.roundtrip(b"SUB healthy 1\r\nSUB foo 2\r\n"),
            b"",
            "healthy SUB",
        );
        let publ = RawClient::connected(server, QUIET);
        Healthy { sub, publ, n: 0 }
    }

    /// The pair still exchanges a message, the subscriber received nothing else (no leak
    /// from the bad client), a brand-new connection works, and the process runs.
    #[track_caller]
    fn check(&mut self, server: &TestServer, what: &str) {
        server.assert_running();
        self.n += 1;
        let payload = format!("ok{}", self.n);
        let out = self
            .publ
            .roundtrip(format!("PUB healthy {}\r\n{payload}\r\n", payload.len()).as_bytes());
        assert_bytes_eq(&out, b"", &format!("{what}: healthy publisher"));
        let got = self.sub.roundtrip(b"");
        assert_bytes_eq(
            &got,
            format!("MSG healthy 1 {}\r\n{payload}\r\n", payload.len()).as_bytes(),
            &format!("{what}: healthy subscriber (exactly one message, nothing leaked)"),
        );
        let mut fresh = RawClient::connected(server, QUIET);
        assert_bytes_eq(
            &fresh.roundtrip(b"SUB x 1\r\nPUB x 2\r\nhi\r\n"),
            b"MSG x 1 2\r\nhi\r\n",
            &format!("{what}: new connection"),
        );
        server.assert_running();
    }
}

fn start(kind: ServerKind) -> TestServer {
    TestServer::start(kind, ServerConfig::default())
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
fn garbage_bytes() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        let mut big = vec![0xffu8];
        big.extend(noise(64 * 1024, 0x9E37_79B9_7F4A_7C15));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("binary junk", b"\x00\x01\x02garbage\r\n".to_vec()),
            ("64 KiB of noise", big),
            (
                "an HTTP request",
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            ),
            (
                "a TLS ClientHello",
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03".to_vec(),
            ),
            ("junk without newline", vec![b'z'; 5000]),
        ];
        for (what, bytes) in cases {
            // Before and after CONNECT.
            for connect_first in [false, true] {
                let mut c = if connect_first {
                    RawClient::connected(&server, QUIET)
                } else {
                    RawClient::connect(&server)
                };
                let _ = c.try_send(&bytes); // the server may close mid-send
                let got = c.expect_closed(Duration::from_secs(5));
                assert_bytes_eq(
                    &got,
                    b"-ERR 'Unknown Protocol Operation'\r\n",
                    &format!("{what} (connect first: {connect_first})"),
                );
            }
            h.check(&server, what);
        }
    });
}

#[test]
fn oversized_control_line() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        // 1 MiB of subject, never terminated.
        let mut c = RawClient::connected(&server, QUIET);
        let mut line = b"PUB ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 1 << 20));
        let _ = c.try_send(&line);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(
            &got,
            b"-ERR 'maximum control line exceeded'\r\n",
            "1 MiB PUB line",
        );
        h.check(&server, "1 MiB PUB line");
        // A huge CONNECT before anything else.
        let mut c = RawClient::connect(&server);
        let mut line = b"CONNECT {\"name\":\"".to_vec();
        line.extend(std::iter::repeat_n(b'n', 100_000));
        line.extend_from_slice(b"\"}\r\n");
        let _ = c.try_send(&line);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(
            &got,
            b"-ERR 'maximum control line exceeded'\r\n",
            "huge CONNECT",
        );
        h.check(&server, "huge CONNECT");
        // Many args separated by lots of whitespace.
        let mut c = RawClient::connected(&server, QUIET);
        let mut line = b"SUB".to_vec();
        for _ in 0..2000 {
            line.extend_from_slice(b" \t x");
        }
        line.extend_from_slice(b"\r\n");
        let _ = c.try_send(&line);
        let got = c.expect_closed(Duration::from_secs(5));
        assert_bytes_eq(
            &got,
            b"-ERR 'maximum control line exceeded'\r\n",
            "long SUB line",
        );
        h.check(&server, "long SUB line");
    });
}

#[test]
fn oversized_payload() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        for (connect, line) in [
            (QUIET, &b"PUB foo 100000000\r\n"[..]),
            (QUIET, b"PUB foo 18446744073709551615\r\n"),
            (HDRS, b"HPUB foo 12 2000000\r\n"),
        ] {
            let mut c = RawClient::connected(&server, connect);
            let mut bytes = line.to_vec();
            bytes.extend(std::iter::repeat_n(b'x', 64 * 1024)); // start sending the payload anyway
            let _ = c.try_send(&bytes);
            let got = c.expect_closed(Duration::from_secs(5));
            let what = show(line);
            // nats-server 2.9.10 parses an out-of-range size as -1 ("Bad or Missing Size"):
            // that is an argument error, closed without -ERR.
            let want: &[u8] = if line.starts_with(b"PUB foo 1844") {
                b""
            } else {
                b"-ERR 'Maximum Payload Violation'\r\n"
            };
            assert_bytes_eq(&got, want, &what);
            h.check(&server, &what);
        }
    });
}

#[test]
fn lying_sizes() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        // Declared 5, sent 10: the bytes after the 5 are not CRLF.
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"PUB foo 5\r\nhelloworld\r\n");
        c.expect_err_and_close("Unknown Protocol Operation");
        h.check(&server, "declared 5, sent 10");
        // Declared 10, sent 5 + CRLF, then a PING: the PING is eaten as payload and the
        // trailer is wrong.
        let mut c = RawClient::connected(&server, QUIET);
        c.send(b"PUB foo 10\r\nhello\r\n");
        std::thread::sleep(Duration::from_millis(50));
        c.send(b"PING\r\n");
        c.expect_err_and_close("Unknown Protocol Operation");
        h.check(&server, "declared 10, sent 5");
        // HPUB whose header size lies about where the header ends.
        let mut c = RawClient::connected(&server, HDRS);
        c.send(b"HPUB foo 11 11\r\nNATS/1.0\r\n\r\n\r\n");
        c.expect_err_and_close("Unknown Protocol Operation");
        h.check(&server, "HPUB with a short header size");
        // Header size larger than total: argument error, silent close.
        let mut c = RawClient::connected(&server, HDRS);
        c.send(b"HPUB foo 20 12\r\nNATS/1.0\r\n\r\n\r\n");
        c.expect_silent_close();
        h.check(&server, "HPUB header > total");
    });
}

#[test]
fn slowloris() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        // One byte every 50 ms for ~1 s, on its own thread, while others keep working.
        let out = std::thread::scope(|scope| {
            let slow = scope.spawn(|| {
                let mut c = RawClient::connect(&server);
                c.send(format!("CONNECT {QUIET}\r\n").as_bytes());
                c.send_slowly(b"PUB foo 5\r\nhello\r\nPING\r\n", Duration::from_millis(50));
                c.read_until_pong(Duration::from_secs(5))
            });
            std::thread::sleep(Duration::from_millis(300));
            h.check(&server, "during slowloris");
            std::thread::sleep(Duration::from_millis(300));
            h.check(&server, "during slowloris (2)");
            slow.join().expect("slow client thread")
        })
        .expect("slow client got PONG");
        assert_bytes_eq(&out, b"", "slow client");
        assert_bytes_eq(
            &h.sub.roundtrip(b""),
            b"MSG foo 2 5\r\nhello\r\n",
            "slow PUB delivered",
        );
        h.check(&server, "after slowloris");
    });
}

#[test]
fn sub_flood() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        const N: usize = 10_000;
        // 10,000 subscriptions on one subject.
        let mut a = RawClient::connected(&server, QUIET);
        let mut subs = Vec::new();
        for i in 1..=N {
            subs.extend_from_slice(format!("SUB flood {i}\r\n").as_bytes());
        }
        assert_bytes_eq(&a.roundtrip(&subs), b"", "10k SUBs");
        // 10,000 subscriptions on distinct subjects.
        let mut b = RawClient::connected(&server, QUIET);
        let mut subs = Vec::new();
        for i in 1..=N {
            subs.extend_from_slice(format!("SUB flood.{i} {i}\r\n").as_bytes());
        }
        assert_bytes_eq(&b.roundtrip(&subs), b"", "10k distinct SUBs");

        h.publ
            .roundtrip(b"PUB flood 1\r\nz\r\nPUB flood.5000 1\r\ny\r\n");
        let out = a.roundtrip(b"");
        let frames = rnats_tests::split_frames(&out);
        assert_eq!(frames.len(), N, "one MSG per subscription");
        let mut sids: Vec<usize> = frames
            .iter()
            .map(|f| {
                let f = rnats_tests::Frame { raw: f.clone() };
                assert_eq!(f.payload(), Some(&b"z"[..]), "{f:?}");
                f.args()[2].parse().unwrap()
            })
            .collect();
        sids.sort_unstable();
        assert_eq!(sids, (1..=N).collect::<Vec<_>>(), "every sid exactly once");
        assert_bytes_eq(
            &b.roundtrip(b""),
            b"MSG flood.5000 5000 1\r\ny\r\n",
            "distinct subjects",
        );

        // Unsubscribe them all again.
        let mut unsubs = Vec::new();
        for i in 1..=N {
            unsubs.extend_from_slice(format!("UNSUB {i}\r\n").as_bytes());
        }
        a.roundtrip(&unsubs);
        h.publ.roundtrip(b"PUB flood 1\r\nz\r\n");
        assert_bytes_eq(&a.roundtrip(b""), b"", "after 10k UNSUBs");
        h.check(&server, "sub flood");
        // Closing a connection with 10k subscriptions cleans them up.
        drop(b);
        h.check(&server, "after closing the 10k-sub connection");
    });
}

#[test]
fn abrupt_close() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        let cases: [(&str, &str, &[u8]); 5] = [
            (
                "mid payload",
                QUIET,
                b"PUB foo 100\r\n0123456789012345678901234567890123456789",
            ),
            ("mid control line", QUIET, b"PUB fo"),
            ("mid HPUB header", HDRS, b"HPUB foo 22 27\r\nNATS/1.0\r\nA:"),
            ("mid CONNECT", "", b"CONNECT {\"verbose\":fal"),
            ("right after the size line", QUIET, b"PUB foo 5\r\n"),
        ];
        for (what, connect, bytes) in cases {
            for reset in [false, true] {
                let mut c = if connect.is_empty() {
                    RawClient::connect(&server)
                } else {
                    RawClient::connected(&server, connect)
                };
                c.send(bytes);
                std::thread::sleep(Duration::from_millis(20));
                if reset {
                    c.reset();
                } else {
                    drop(c);
                }
                h.check(&server, &format!("close {what} (reset: {reset})"));
            }
        }
    });
}

#[test]
fn close_with_pending_output() {
    // The server keeps writing to a subscriber that vanished.
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        for reset in [false, true] {
            let mut gone = RawClient::connected(&server, QUIET);
            gone.roundtrip(b"SUB foo 1\r\nSUB healthy 2\r\n");
            if reset {
                gone.reset();
            } else {
                drop(gone);
            }
            let mut batch = Vec::new();
            for _ in 0..2000 {
                batch.extend_from_slice(b"PUB nobody.cares 512\r\n");
                batch.extend(std::iter::repeat_n(b'p', 512));
                batch.extend_from_slice(b"\r\n");
            }
            h.publ.roundtrip(&batch);
            h.check(&server, &format!("subscriber vanished (reset: {reset})"));
        }
    });
}

#[test]
fn connection_churn() {
    for_each_server(|kind| {
        let server = start(kind);
        let mut h = Healthy::new(&server);
        for i in 0..150 {
            // A bare socket: over WebSocket it never even upgrades.
            let s = std::net::TcpStream::connect(("127.0.0.1", server.transport_port()))
                .expect("connect");
            match i % 3 {
                0 => drop(s), // never read INFO
                1 => {
                    let mut c = RawClient::connect(&server);
                    c.send(b"CONNECT {\"verbose\":false}\r\nSUB churn 1\r\n");
                    drop(s);
                }
                _ => {
                    drop(s);
                    RawClient::connect(&server).reset();
                }
            }
        }
        h.check(&server, "after 150 connect/close cycles");
        // Many connections open at once, all subscribed: one PUB reaches each.
        let mut many: Vec<RawClient> = (0..200)
            .map(|_| RawClient::connected(&server, QUIET))
            .collect();
        for c in many.iter_mut() {
            c.roundtrip(b"SUB all 1\r\n");
        }
        h.publ.roundtrip(b"PUB all 2\r\nhi\r\n");
        for (i, c) in many.iter_mut().enumerate() {
            assert_bytes_eq(
                &c.roundtrip(b""),
                b"MSG all 1 2\r\nhi\r\n",
                &format!("connection {i}"),
            );
        }
        drop(many);
        h.check(&server, "after 200 concurrent connections");
    });
}

#[test]
fn slow_consumer_is_disconnected() {
    for_each_server(|kind| {
        let server = TestServer::start(
            kind,
            ServerConfig::config("max_pending: 256KB\nmax_payload: 64KB\nwrite_deadline: \"1s\"\n"),
        );
        let mut h = Healthy::new(&server);
        let mut slow = RawClient::connected(&server, QUIET);
        slow.roundtrip(b"SUB big 1\r\n");
        // ~30 MB towards a subscriber that does not read. The server may stall the
        // publisher (back-pressure) but must not buffer without bound.
        let mut chunk = Vec::new();
        for _ in 0..1000 {
            chunk.extend_from_slice(b"PUB big 1000\r\n");
            chunk.extend(std::iter::repeat_n(b'x', 1000));
            chunk.extend_from_slice(b"\r\n");
        }
        for _ in 0..30 {
            h.publ.send(&chunk);
        }
        let out = h
            .publ
            .try_roundtrip(b"", Duration::from_secs(10))
            .expect("publisher survives");
        assert_bytes_eq(&out, b"", "publisher");
        // nats-server closes the slow consumer without an -ERR (it could not write anyway).
        let got = slow.expect_closed(Duration::from_secs(10));
        assert!(
            got.len() < 30 * 1_014_000,
            "slow consumer got everything ({} bytes)",
            got.len()
        );
        assert!(
            !got.windows(5).any(|w| w == b"-ERR "),
            "no -ERR expected for a slow consumer"
        );
        h.check(&server, "after a slow consumer");
    });
}
