//! Deterministic simulation: many connections driven directly through the engine with
//! virtual time. No sockets, no runtime, no clock.

use bytes::{Bytes, BytesMut};
use rnats_engine::options::{
    AccountOptions, Authorization, Options, Permissions, SubjectPermission, User,
};
use rnats_engine::server::{CloseReason, Connection, PeerAddr, Server, WriteEvent};
use rnats_engine::time::Instant;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// One simulated client: bytes in through `send`, bytes out through `recv`.
struct Client {
    conn: Connection,
    inbuf: BytesMut,
    closed: Option<CloseReason>,
}

impl Client {
    fn connect(server: &Arc<Server>, now: Instant) -> Client {
        let conn = server.accept(
            PeerAddr {
                ip: "127.0.0.1".into(),
                port: 40000,
            },
            now,
        );
        Client {
            conn,
            inbuf: BytesMut::new(),
            closed: None,
        }
    }

    /// Connect and consume the INFO line.
    fn ready(server: &Arc<Server>, now: Instant, connect: &str) -> Client {
        let mut c = Client::connect(server, now);
        let info = c.recv();
        assert!(
            info.starts_with(b"INFO {"),
            "{}",
            String::from_utf8_lossy(&info)
        );
        c.send(connect.as_bytes(), now);
        c
    }

    fn send(&mut self, bytes: &[u8], now: Instant) {
        self.inbuf.extend_from_slice(bytes);
        self.conn.handle_bytes(&mut self.inbuf, now);
    }

    /// Everything queued for this client so far.
    fn recv(&mut self) -> Vec<u8> {
        let mut chunks: VecDeque<Bytes> = VecDeque::new();
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            match self.conn.shared().poll_write(&mut cx, &mut chunks) {
                Poll::Ready(WriteEvent::Data) => continue,
                Poll::Ready(WriteEvent::Closed(reason)) => {
                    self.closed = Some(reason);
                    break;
                }
                Poll::Pending => break,
            }
        }
        chunks.iter().flat_map(|c| c.iter().copied()).collect()
    }

    fn recv_str(&mut self) -> String {
        String::from_utf8(self.recv()).unwrap()
    }

    fn timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
    }
}

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

const CONNECT: &str = "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n";

fn server(opts: Options) -> Arc<Server> {
    Server::new(opts, 7, Instant::ZERO)
}

#[test]
fn pub_sub_between_connections_is_exact() {
    let s = server(Options::default());
    let mut sub = Client::ready(&s, at(0), CONNECT);
    let mut publisher = Client::ready(&s, at(0), CONNECT);
    sub.send(b"SUB foo.* 9\r\nPING\r\n", at(1));
    assert_eq!(sub.recv_str(), "PONG\r\n");
    publisher.send(
        b"PUB foo.bar reply.x 5\r\nhello\r\nPUB other 1\r\nz\r\n",
        at(2),
    );
    assert_eq!(sub.recv_str(), "MSG foo.bar 9 reply.x 5\r\nhello\r\n");
    assert_eq!(publisher.recv_str(), "");
}

#[test]
fn headers_are_stripped_for_subscribers_without_headers() {
    let s = server(Options::default());
    let mut plain = Client::ready(&s, at(0), "CONNECT {\"verbose\":false}\r\n");
    let mut hdr = Client::ready(&s, at(0), CONNECT);
    plain.send(b"SUB h 1\r\n", at(1));
    hdr.send(b"SUB h 2\r\n", at(1));
    let mut p = Client::ready(&s, at(0), CONNECT);
    p.send(b"HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", at(2));
    assert_eq!(plain.recv_str(), "MSG h 1 2\r\nhi\r\n");
    assert_eq!(hdr.recv_str(), "HMSG h 2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
}

#[test]
fn every_byte_split_gives_the_same_output() {
    let stream: &[u8] = b"SUB a 1\r\nPUB a 3\r\nabc\r\nHPUB a r 12 15\r\nNATS/1.0\r\n\r\nxyz\r\nUNSUB 1 5\r\nPING\r\nPUB a 0\r\n\r\nPING\r\n";
    let expected = {
        let s = server(Options::default());
        let mut c = Client::ready(&s, at(0), CONNECT);
        c.send(stream, at(1));
        c.recv()
    };
    assert!(String::from_utf8_lossy(&expected).contains("HMSG a 1 r 12 15"));
    for split in 1..stream.len() {
        let s = server(Options::default());
        let mut c = Client::ready(&s, at(0), CONNECT);
        c.send(&stream[..split], at(1));
        c.send(&stream[split..], at(1));
        assert_eq!(c.recv(), expected, "split at {split}");
    }
    // One byte at a time.
    let s = server(Options::default());
    let mut c = Client::ready(&s, at(0), CONNECT);
    for b in stream {
        c.send(&[*b], at(1));
    }
    assert_eq!(c.recv(), expected);
}

#[test]
fn server_pings_measure_rtt_then_detect_stale_connections() {
    let opts = Options {
        ping_interval: Duration::from_secs(10),
        ping_max: 2,
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::ready(&s, at(0), CONNECT);
    // First ping within 2 s (+20 % jitter) of connecting, for RTT.
    let first = c.conn.poll_timeout().unwrap();
    assert!(first <= at(2400), "{first:?}");
    c.timeout(first);
    assert_eq!(c.recv_str(), "PING\r\n");
    c.send(b"PONG\r\n", first + Duration::from_millis(3));
    let rtt = c.conn.shared().meta().rtt.unwrap();
    assert_eq!(rtt, Duration::from_millis(3));
    // Silent client: pings every interval; the third unanswered one is stale.
    let mut t = c.conn.poll_timeout().unwrap();
    c.timeout(t);
    assert_eq!(c.recv_str(), "PING\r\n");
    t = c.conn.poll_timeout().unwrap();
    c.timeout(t);
    assert_eq!(c.recv_str(), "PING\r\n");
    t = c.conn.poll_timeout().unwrap();
    c.timeout(t);
    assert_eq!(c.recv_str(), "-ERR 'Stale Connection'\r\n");
    assert_eq!(c.closed, Some(CloseReason::StaleConnection));
    assert_eq!(
        s.stats
            .stale_connections
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn active_clients_are_not_pinged() {
    let opts = Options {
        ping_interval: Duration::from_secs(10),
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::ready(&s, at(0), CONNECT);
    let first = c.conn.poll_timeout().unwrap();
    c.timeout(first);
    c.send(b"PONG\r\n", first);
    c.recv();
    let next = c.conn.poll_timeout().unwrap();
    c.send(b"PUB x 0\r\n\r\n", next - Duration::from_secs(1));
    c.timeout(next);
    assert_eq!(c.recv_str(), "");
}

#[test]
fn auth_timeout_closes_with_nats_server_text() {
    let opts = Options {
        authorization: Authorization {
            token: Some("t".into()),
            timeout: Some(Duration::from_millis(500)),
            ..Authorization::default()
        },
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::connect(&s, at(0));
    let info = c.recv_str();
    assert!(info.contains("\"auth_required\":true"), "{info}");
    assert_eq!(c.conn.poll_timeout(), Some(at(500)));
    c.timeout(at(500));
    assert_eq!(c.recv_str(), "-ERR 'Authentication Timeout'\r\n");
    assert_eq!(c.closed, Some(CloseReason::AuthenticationTimeout));
}

#[test]
fn auth_required_rejects_ops_before_connect_and_bad_credentials() {
    let opts = Options {
        authorization: Authorization {
            token: Some("t".into()),
            ..Authorization::default()
        },
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::connect(&s, at(0));
    c.recv();
    c.send(b"PING\r\n", at(1));
    assert_eq!(c.recv_str(), "-ERR 'Authorization Violation'\r\n");
    assert!(c.closed.is_some());

    let mut c = Client::connect(&s, at(0));
    c.recv();
    c.send(b"CONNECT {\"auth_token\":\"x\"}\r\n", at(1));
    assert_eq!(c.recv_str(), "-ERR 'Authorization Violation'\r\n");

    let mut c = Client::connect(&s, at(0));
    c.recv();
    c.send(
        b"CONNECT {\"auth_token\":\"t\",\"verbose\":true}\r\nPING\r\n",
        at(1),
    );
    assert_eq!(c.recv_str(), "+OK\r\nPONG\r\n");
    assert_eq!(c.conn.poll_timeout().map(|t| t > at(1000)), Some(true));
}

#[test]
fn slow_consumer_is_closed_and_others_keep_their_messages() {
    let opts = Options {
        max_pending: 64 * 1024,
        ..Options::default()
    };
    let s = server(opts);
    let mut slow = Client::ready(&s, at(0), CONNECT);
    let mut healthy = Client::ready(&s, at(0), CONNECT);
    slow.send(b"SUB data 1\r\n", at(1));
    healthy.send(b"SUB data 1\r\n", at(1));
    let mut publisher = Client::ready(&s, at(0), CONNECT);
    let payload = vec![b'x'; 1000];
    let mut frame = format!("PUB data {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    let mut healthy_bytes = 0;
    for i in 0..200 {
        publisher.send(&frame, at(2 + i));
        healthy_bytes += healthy.recv().len(); // the healthy one drains as it goes
    }
    // "MSG data 1 1000" is two bytes longer than "PUB data 1000".
    assert_eq!(healthy_bytes, 200 * (frame.len() + 2));
    slow.recv();
    assert_eq!(slow.closed, Some(CloseReason::SlowConsumerPendingBytes));
    assert!(publisher.closed.is_none() && !publisher.conn.is_closed());
    assert_eq!(
        s.stats
            .slow_consumers
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[test]
fn queue_groups_deliver_each_message_once() {
    let s = server(Options::default());
    let mut members: Vec<Client> = (0..4)
        .map(|_| {
            let mut c = Client::ready(&s, at(0), CONNECT);
            c.send(b"SUB work workers 1\r\n", at(1));
            c
        })
        .collect();
    let mut plain = Client::ready(&s, at(0), CONNECT);
    plain.send(b"SUB work 1\r\n", at(1));
    let mut p = Client::ready(&s, at(0), CONNECT);
    for _ in 0..400 {
        p.send(b"PUB work 1\r\nx\r\n", at(2));
    }
    let counts: Vec<usize> = members
        .iter_mut()
        .map(|m| m.recv_str().matches("MSG work").count())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 400);
    assert!(counts.iter().all(|&n| n > 50), "{counts:?}");
    assert_eq!(plain.recv_str().matches("MSG work").count(), 400);
}

#[test]
fn unsub_with_max_delivers_exactly_max() {
    let s = server(Options::default());
    let mut c = Client::ready(&s, at(0), CONNECT);
    c.send(b"SUB a 1\r\nUNSUB 1 3\r\n", at(1));
    for _ in 0..10 {
        c.send(b"PUB a 1\r\nx\r\n", at(2));
    }
    assert_eq!(c.recv_str().matches("MSG a 1 1").count(), 3);
    assert_eq!(s.num_subscriptions(), 0);
    assert_eq!(c.conn.shared().num_subscriptions(), 0);
}

#[test]
fn no_responders_status_goes_to_the_reply_subscription() {
    let s = server(Options::default());
    let mut c = Client::ready(
        &s,
        at(0),
        "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n",
    );
    c.send(
        b"SUB _INBOX.abc.* 5\r\nPUB svc _INBOX.abc.1 2\r\nhi\r\n",
        at(1),
    );
    let out = c.recv_str();
    assert!(out.starts_with("HMSG _INBOX.abc.1 5 "), "{out}");
    assert!(out.contains("NATS/1.0 503\r\n"), "{out}");
}

#[test]
fn permissions_deny_with_exact_texts_and_keep_the_connection() {
    let perms = Permissions {
        publish: Some(SubjectPermission {
            allow: vec!["allowed.>".into()],
            deny: vec!["allowed.secret".into()],
        }),
        subscribe: Some(SubjectPermission {
            allow: vec![],
            deny: vec!["hidden.>".into()],
        }),
        response: None,
    };
    let opts = Options {
        authorization: Authorization {
            users: vec![User {
                username: "u".into(),
                password: "p".into(),
                permissions: Some(perms),
                ..User::default()
            }],
            ..Authorization::default()
        },
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::ready(
        &s,
        at(0),
        "CONNECT {\"user\":\"u\",\"pass\":\"p\",\"verbose\":false}\r\n",
    );
    c.send(b"PUB nope 0\r\n\r\n", at(1));
    assert_eq!(
        c.recv_str(),
        "-ERR 'Permissions Violation for Publish to \"nope\"'\r\n"
    );
    c.send(b"PUB allowed.secret 0\r\n\r\n", at(1));
    assert_eq!(
        c.recv_str(),
        "-ERR 'Permissions Violation for Publish to \"allowed.secret\"'\r\n"
    );
    c.send(b"SUB hidden.x 1\r\n", at(1));
    assert_eq!(
        c.recv_str(),
        "-ERR 'Permissions Violation for Subscription to \"hidden.x\"'\r\n"
    );
    c.send(
        b"SUB allowed.* 2\r\nPUB allowed.ok 1\r\nx\r\nPING\r\n",
        at(1),
    );
    assert_eq!(c.recv_str(), "MSG allowed.ok 2 1\r\nx\r\nPONG\r\n");
    assert!(!c.conn.is_closed());
}

#[test]
fn max_connections_and_max_subscriptions() {
    let opts = Options {
        max_connections: 1,
        max_subscriptions: 1,
        ..Options::default()
    };
    let s = server(opts);
    let mut a = Client::ready(&s, at(0), CONNECT);
    let mut b = Client::connect(&s, at(0));
    let out = b.recv_str();
    assert!(out.starts_with("INFO "), "{out}");
    assert!(
        out.ends_with("-ERR 'maximum connections exceeded'\r\n"),
        "{out}"
    );
    assert!(b.closed.is_some());
    b.conn.close(CloseReason::MaxConnectionsExceeded, at(1));
    a.send(b"SUB a 1\r\nSUB b 2\r\nPING\r\n", at(1));
    assert_eq!(
        a.recv_str(),
        "-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n"
    );
    assert_eq!(s.num_connections(), 1);
}

#[test]
fn many_connections_with_random_interest_get_exact_fan_out() {
    let s = server(Options::default());
    let subjects = ["a.b.c", "a.x.c", "a.b.d", "z"];
    let patterns = ["a.b.c", "a.*.c", "a.>", "*.b.*", "z", ">"];
    let mut clients = Vec::new();
    let mut seed = 12345u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut chosen = Vec::new();
    for _ in 0..100 {
        let mut c = Client::ready(&s, at(0), CONNECT);
        let p = patterns[(next() % patterns.len() as u64) as usize];
        c.send(format!("SUB {p} 1\r\n").as_bytes(), at(1));
        chosen.push(p);
        clients.push(c);
    }
    let mut p = Client::ready(&s, at(0), CONNECT);
    for subj in subjects {
        p.send(format!("PUB {subj} 2\r\nok\r\n").as_bytes(), at(2));
    }
    for (c, pattern) in clients.iter_mut().zip(&chosen) {
        let got = c.recv_str();
        let expected: Vec<&str> = subjects
            .iter()
            .copied()
            .filter(|s| rnats_engine::subject::matches(pattern.as_bytes(), s.as_bytes()))
            .collect();
        assert_eq!(
            got.matches("MSG ").count(),
            expected.len(),
            "{pattern}: {got}"
        );
    }
    // Closing connections removes their interest.
    for mut c in clients {
        c.conn.close(CloseReason::ClientClosed, at(2));
    }
    assert_eq!(s.num_subscriptions(), 0);
    assert_eq!(s.num_connections(), 1);
}

#[test]
fn protocol_errors_close_only_the_offender() {
    let s = server(Options {
        max_payload: 1024,
        ..Options::default()
    });
    let mut good = Client::ready(&s, at(0), CONNECT);
    good.send(b"SUB ok 1\r\n", at(1));
    let mut bad = Client::ready(&s, at(0), CONNECT);
    bad.send(b"PUB ok 5000\r\n", at(1));
    assert_eq!(bad.recv_str(), "-ERR 'Maximum Payload Violation'\r\n");
    assert!(bad.closed.is_some());
    let mut garbage = Client::ready(&s, at(0), CONNECT);
    garbage.send(b"\x00\xffGARBAGE\r\n", at(1));
    assert_eq!(garbage.recv_str(), "-ERR 'Unknown Protocol Operation'\r\n");
    let mut p = Client::ready(&s, at(0), CONNECT);
    p.send(b"PUB ok 2\r\nhi\r\n", at(2));
    assert_eq!(good.recv_str(), "MSG ok 1 2\r\nhi\r\n");
}

#[test]
fn large_payloads_are_shared_not_copied_and_arrive_intact() {
    let s = server(Options::default());
    let mut subs: Vec<Client> = (0..3)
        .map(|i| {
            let mut c = Client::ready(&s, at(0), CONNECT);
            c.send(format!("SUB big {i}\r\n").as_bytes(), at(1));
            c
        })
        .collect();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut frame = format!("PUB big {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(&payload);
    frame.extend_from_slice(b"\r\n");
    let mut p = Client::ready(&s, at(0), CONNECT);
    for chunk in frame.chunks(7000) {
        p.send(chunk, at(2));
    }
    for (i, c) in subs.iter_mut().enumerate() {
        let got = c.recv();
        let head = format!("MSG big {i} {}\r\n", payload.len());
        assert_eq!(&got[..head.len()], head.as_bytes());
        assert_eq!(&got[head.len()..head.len() + payload.len()], &payload[..]);
        assert_eq!(&got[head.len() + payload.len()..], b"\r\n");
    }
}

fn account_user(name: &str, account: &str) -> User {
    User {
        username: name.into(),
        password: name.into(),
        account: Some(account.into()),
        ..User::default()
    }
}

#[test]
fn accounts_are_separate_subject_spaces() {
    let opts = Options {
        accounts: vec![
            AccountOptions {
                name: "A".into(),
                users: vec![account_user("a1", "A"), account_user("a2", "A")],
                ..AccountOptions::default()
            },
            AccountOptions {
                name: "B".into(),
                users: vec![account_user("b", "B")],
                ..AccountOptions::default()
            },
        ],
        ..Options::default()
    };
    let s = server(opts);
    let login = |u: &str| {
        Client::ready(
            &s,
            at(0),
            &format!("CONNECT {{\"verbose\":false,\"user\":\"{u}\",\"pass\":\"{u}\"}}\r\n"),
        )
    };
    let (mut a1, mut a2, mut b) = (login("a1"), login("a2"), login("b"));
    a1.send(b"SUB x 1\r\n", at(1));
    b.send(b"SUB x 1\r\n", at(1));
    a2.send(b"PUB x 2\r\nhi\r\n", at(2));
    assert_eq!(a1.recv_str(), "MSG x 1 2\r\nhi\r\n");
    assert_eq!(b.recv_str(), "");
    assert_eq!(s.num_subscriptions(), 2);
}

#[test]
fn reload_revokes_credentials_and_applies_new_limits() {
    let token = |t: &str| Options {
        authorization: Authorization {
            token: Some(t.into()),
            ..Authorization::default()
        },
        ..Options::default()
    };
    let s = server(token("old"));
    let mut c = Client::ready(
        &s,
        at(0),
        "CONNECT {\"verbose\":false,\"auth_token\":\"old\"}\r\n",
    );
    let mut keep = Client::ready(
        &s,
        at(0),
        "CONNECT {\"verbose\":false,\"auth_token\":\"old\"}\r\n",
    );
    let kept = s.reload(Options {
        max_payload: 8,
        authorization: Authorization {
            users: vec![User {
                username: "u".into(),
                password: "p".into(),
                ..User::default()
            }],
            token: None,
            ..Authorization::default()
        },
        ..Options::default()
    });
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(c.recv_str(), "-ERR 'Authorization Violation'\r\n");
    assert!(c.closed.is_some());
    assert_eq!(keep.recv_str(), "-ERR 'Authorization Violation'\r\n");
    let mut u = Client::ready(
        &s,
        at(1),
        "CONNECT {\"verbose\":false,\"user\":\"u\",\"pass\":\"p\"}\r\n",
    );
    u.send(b"PUB a 9\r\n", at(2));
    assert_eq!(u.recv_str(), "-ERR 'Maximum Payload Violation'\r\n");
}

#[test]
fn lame_duck_tells_protocol_one_clients() {
    let s = server(Options::default());
    let mut new_style = Client::ready(&s, at(0), "CONNECT {\"verbose\":false,\"protocol\":1}\r\n");
    let mut old_style = Client::ready(&s, at(0), "CONNECT {\"verbose\":false}\r\n");
    s.enter_lame_duck();
    let info = new_style.recv_str();
    assert!(
        info.starts_with("INFO {") && info.contains("\"ldm\":true"),
        "{info}"
    );
    assert_eq!(old_style.recv_str(), "");
    let plan = rnats_engine::server::lame_duck_schedule(&s.options(), 4);
    assert_eq!(plan.grace, Duration::from_secs(10));
    assert_eq!(plan.batch, 1);
    assert_eq!(plan.interval, Duration::from_secs(110) / 4);
}

#[test]
fn a_second_connect_keeps_the_account_so_closing_frees_every_subscription() {
    // Found by the `connection` fuzz target: a second CONNECT as a user of another
    // account used to move the connection, stranding its subscriptions in the first one.
    let opts = Options {
        accounts: vec![
            AccountOptions {
                name: "A".into(),
                users: vec![account_user("a", "A")],
                ..AccountOptions::default()
            },
            AccountOptions {
                name: "B".into(),
                users: vec![account_user("b", "B")],
                ..AccountOptions::default()
            },
        ],
        ..Options::default()
    };
    let s = server(opts);
    let mut c = Client::ready(
        &s,
        at(0),
        "CONNECT {\"verbose\":false,\"user\":\"a\",\"pass\":\"a\"}\r\n",
    );
    c.send(b"SUB x 1\r\n", at(1));
    c.send(
        b"CONNECT {\"verbose\":false,\"user\":\"b\",\"pass\":\"b\"}\r\nSUB y 2\r\n",
        at(2),
    );
    assert_eq!(s.num_subscriptions(), 2);
    c.conn.close(CloseReason::ClientClosed, at(3));
    assert_eq!(s.num_subscriptions(), 0);
    assert_eq!(s.num_connections(), 0);
}

#[test]
fn reload_takes_new_certificates_but_not_tls_on_or_off() {
    use rnats_engine::options::{TlsOptions, WebsocketOptions};
    let certs = |name: &str| TlsOptions {
        cert_file: Some(format!("{name}.pem")),
        key_file: Some(format!("{name}.key")),
        cert_pem: Some(format!("{name} certificate")),
        key_pem: Some(format!("{name} key")),
        ..TlsOptions::default()
    };
    let with = |tls: Option<TlsOptions>, ws_tls: Option<TlsOptions>| Options {
        tls,
        websocket: Some(WebsocketOptions {
            port: Some(8443),
            no_tls: ws_tls.is_none(),
            tls: ws_tls,
            ..WebsocketOptions::default()
        }),
        ..Options::default()
    };
    let s = server(with(Some(certs("a")), Some(certs("a"))));
    let generation = s.config_generation();
    // New certificates for both listeners: taken, nothing kept.
    let kept = s.reload(with(Some(certs("b")), Some(certs("b"))));
    assert!(kept.is_empty(), "{kept:?}");
    assert!(s.config_generation() > generation);
    let o = s.options();
    assert_eq!(o.tls.as_ref().unwrap().cert_file.as_deref(), Some("b.pem"));
    let ws = o.websocket.as_ref().unwrap();
    assert_eq!(ws.tls.as_ref().unwrap().cert_file.as_deref(), Some("b.pem"));
    // TLS off on either listener needs a restart.
    let kept = s.reload(with(None, None));
    assert_eq!(kept, ["websocket", "tls"]);
    let o = s.options();
    assert_eq!(o.tls.as_ref().unwrap().cert_file.as_deref(), Some("b.pem"));
    assert!(o.websocket.as_ref().unwrap().tls.is_some());
}

#[test]
fn a_fast_producer_is_held_back_while_a_subscriber_falls_behind() {
    let frame = {
        let mut f = b"PUB data 1000\r\n".to_vec();
        f.extend_from_slice(&[b'x'; 1000]);
        f.extend_from_slice(b"\r\n");
        f
    };
    for no_stall in [false, true] {
        let s = server(Options {
            max_pending: 64 * 1024,
            no_fast_producer_stall: no_stall,
            ..Options::default()
        });
        let mut slow = Client::ready(&s, at(0), CONNECT);
        slow.send(b"SUB data 1\r\n", at(1));
        let mut publisher = Client::ready(&s, at(0), CONNECT);
        // Up to three quarters of max_pending (48 KiB, about 48 messages): no stall.
        for i in 0..40 {
            publisher.send(&frame, at(2 + i));
            assert_eq!(publisher.conn.take_stall(), None, "message {i}");
        }
        // Past it: the producer is to be held back (unless configured not to be).
        for i in 40..60 {
            publisher.send(&frame, at(2 + i));
        }
        let want = (!no_stall).then_some(rnats_engine::server::STALL);
        assert_eq!(
            publisher.conn.take_stall(),
            want,
            "no_fast_producer_stall: {no_stall}"
        );
        assert_eq!(publisher.conn.take_stall(), None, "taken");
        // Once the subscriber's writer has taken its backlog, no more stalls.
        slow.recv();
        publisher.send(&frame, at(70));
        assert_eq!(publisher.conn.take_stall(), None);
    }
}
