//! The real `async-nats` client (0.51) against every server.

use std::time::Duration;

use async_nats::{
    client::PublishErrorKind, ConnectErrorKind, ConnectOptions, HeaderMap, Message,
    RequestErrorKind, Subscriber,
};
use bytes::Bytes;
use futures_util::StreamExt;
use rnats_tests::{for_each_server_async, ServerConfig, ServerKind, TestServer};
use tokio::time::timeout;

const T: Duration = Duration::from_secs(5);

async fn connect(server: &TestServer) -> async_nats::Client {
    connect_with(server, ConnectOptions::new()).await
}

async fn connect_with(server: &TestServer, opts: ConnectOptions) -> async_nats::Client {
    timeout(T, opts.connection_timeout(T).connect(server.url()))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {}: {e}", server.url()))
}

/// A connection attempt with `opts` that the server must refuse as an authorization
/// violation.
async fn refused(server: &TestServer, opts: ConnectOptions) {
    let err = timeout(T, opts.connection_timeout(T).connect(server.url()))
        .await
        .expect("connect should fail fast")
        .expect_err("bad credentials must fail");
    assert_eq!(
        err.kind(),
        ConnectErrorKind::AuthorizationViolation,
        "[{}] {err}",
        server.kind()
    );
}

async fn next(sub: &mut Subscriber) -> Message {
    timeout(T, sub.next())
        .await
        .expect("timed out waiting for a message")
        .expect("subscription ended")
}

/// A real round trip through the server: async-nats' `flush()` only writes the socket, it
/// does not wait for a PONG. A request nobody answers comes back as a 503 only after the
/// server processed every earlier op of this connection (and delivered what they caused).
async fn barrier(c: &async_nats::Client) {
    let r = timeout(T, c.request("rnats-tests.barrier.nobody", Bytes::new()))
        .await
        .expect("barrier request timed out");
    match r {
        Err(e) if e.kind() == RequestErrorKind::NoResponders => {}
        other => panic!("barrier: expected no-responders, got {other:?}"),
    }
}

/// Asserts nothing arrives on `sub` for a short while.
async fn nothing(sub: &mut Subscriber) {
    if let Ok(Some(m)) = timeout(Duration::from_millis(200), sub.next()).await {
        panic!("unexpected message on {}: {:?}", m.subject, m.payload);
    }
}

fn start(kind: ServerKind) -> TestServer {
    TestServer::start(kind, ServerConfig::default())
}

#[test]
fn client_server_info() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let info = c.server_info();
        assert!(info.headers, "headers support");
        assert_eq!(info.proto, 1);
        assert_eq!(info.port, server.port());
        assert_eq!(info.max_payload, 1024 * 1024);
        assert!(!info.server_id.is_empty());
        assert!(!info.version.is_empty());
        assert_eq!(c.max_payload(), 1024 * 1024);
    });
}

#[test]
fn client_pub_sub() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let a = connect(&server).await;
        let b = connect(&server).await;
        let mut sub = a.subscribe("greet").await.unwrap();
        barrier(&a).await;
        b.publish("greet", "hello".into()).await.unwrap();
        b.publish("other", "x".into()).await.unwrap();
        b.publish("greet", Bytes::new()).await.unwrap();
        barrier(&b).await;
        let m = next(&mut sub).await;
        assert_eq!(m.subject.as_str(), "greet");
        assert_eq!(m.payload, "hello");
        assert!(m.reply.is_none());
        assert!(m.headers.is_none());
        let m = next(&mut sub).await;
        assert!(m.payload.is_empty(), "empty payload");
        nothing(&mut sub).await;
    });
}

#[test]
fn client_wildcards() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let mut star = c.subscribe("a.*").await.unwrap();
        let mut gt = c.subscribe("a.>").await.unwrap();
        for s in ["a.b", "a.b.c", "a", "b.a"] {
            c.publish(s, s.into()).await.unwrap();
        }
        barrier(&c).await;
        assert_eq!(next(&mut star).await.subject.as_str(), "a.b");
        nothing(&mut star).await;
        assert_eq!(next(&mut gt).await.subject.as_str(), "a.b");
        assert_eq!(next(&mut gt).await.subject.as_str(), "a.b.c");
        nothing(&mut gt).await;
    });
}

#[test]
fn client_queue_groups() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let mut members = Vec::new();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let c = connect(&server).await;
            members.push(c.queue_subscribe("jobs", "workers".into()).await.unwrap());
            barrier(&c).await;
            clients.push(c);
        }
        let p = connect(&server).await;
        for i in 0..100u32 {
            p.publish("jobs", i.to_string().into()).await.unwrap();
        }
        barrier(&p).await;
        let mut seen = Vec::new();
        let mut counts = Vec::new();
        for (sub, c) in members.iter_mut().zip(&clients) {
            barrier(c).await;
            let mut n = 0;
            while let Ok(Some(m)) = timeout(Duration::from_millis(50), sub.next()).await {
                seen.push(
                    String::from_utf8(m.payload.to_vec())
                        .unwrap()
                        .parse::<u32>()
                        .unwrap(),
                );
                n += 1;
            }
            counts.push(n);
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..100).collect::<Vec<_>>(),
            "each message exactly once: {counts:?}"
        );
        assert!(
            counts.iter().all(|&n| n > 0),
            "every member gets some: {counts:?}"
        );
    });
}

#[test]
fn client_request_reply() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let svc = connect(&server).await;
        let mut sub = svc.subscribe("math.double").await.unwrap();
        barrier(&svc).await;
        let responder = tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                let n: u64 = std::str::from_utf8(&m.payload).unwrap().parse().unwrap();
                let seen = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("X-In"))
                    .map(|v| v.as_str().to_string())
                    .unwrap_or_default();
                let mut h = HeaderMap::new();
                h.insert("X-Seen-Header", seen.as_str());
                svc.publish_with_headers(m.reply.unwrap(), h, (n * 2).to_string().into())
                    .await
                    .unwrap();
            }
        });
        let c = connect(&server).await;
        for n in [1u64, 21, 1000] {
            let r = timeout(T, c.request("math.double", n.to_string().into()))
                .await
                .expect("request timed out")
                .expect("request failed");
            assert_eq!(r.payload, (n * 2).to_string());
        }
        let mut h = HeaderMap::new();
        h.insert("X-In", "abc");
        let r = timeout(T, c.request_with_headers("math.double", h, "5".into()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.payload, "10");
        assert_eq!(
            r.headers.unwrap().get("X-Seen-Header").unwrap().as_str(),
            "abc"
        );
        responder.abort();
    });
}

#[test]
fn client_headers_round_trip() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let mut sub = c.subscribe("h").await.unwrap();
        let mut h = HeaderMap::new();
        h.insert("Single", "one");
        h.append("Multi", "a");
        h.append("Multi", "b");
        h.insert("Spaces", "value with spaces");
        c.publish_with_headers("h", h, "body".into()).await.unwrap();
        c.publish_with_headers("h", HeaderMap::new(), "no headers".into())
            .await
            .unwrap();
        c.flush().await.unwrap();
        let m = next(&mut sub).await;
        assert_eq!(m.payload, "body");
        let hd = m.headers.expect("headers");
        assert_eq!(hd.get("Single").unwrap().as_str(), "one");
        let multi: Vec<&str> = hd.get_all("Multi").map(|v| v.as_str()).collect();
        assert_eq!(multi, vec!["a", "b"]);
        assert_eq!(hd.get("Spaces").unwrap().as_str(), "value with spaces");
        let m = next(&mut sub).await;
        assert_eq!(m.payload, "no headers");
    });
}

#[test]
fn client_no_responders() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let err = timeout(T, c.request("nobody.home", "x".into()))
            .await
            .expect("request should fail fast, not time out")
            .expect_err("request to nobody must fail");
        assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    });
}

#[test]
fn client_auth() {
    for_each_server_async(|kind| async move {
        let server = TestServer::start(
            kind,
            ServerConfig::config("authorization { user: admin, password: \"s3cr3t\" }\n"),
        );
        let ok = connect_with(
            &server,
            ConnectOptions::with_user_and_password("admin".into(), "s3cr3t".into()),
        )
        .await;
        barrier(&ok).await;
        for opts in [
            ConnectOptions::with_user_and_password("admin".into(), "wrong".into()),
            ConnectOptions::new(),
        ] {
            refused(&server, opts).await;
        }

        let server = TestServer::start(kind, ServerConfig::config("authorization { token: tk }\n"));
        let ok = connect_with(&server, ConnectOptions::with_token("tk".into())).await;
        barrier(&ok).await;
        let err = timeout(
            T,
            ConnectOptions::with_token("nope".into()).connect(server.url()),
        )
        .await
        .unwrap()
        .expect_err("bad token must fail");
        assert_eq!(
            err.kind(),
            ConnectErrorKind::AuthorizationViolation,
            "{err}"
        );
    });
}

/// Test nkeys (seed, public key), made for these tests only.
const NKEY_SEED: &str = "SUAAGCQRDAPSMLJUHNBESUCXLZSWY432QGEI7FU5USV3FOOAY7HNLXDKKA";
const NKEY_PUBLIC: &str = "UB2VYTFZEVWKPTOEVT64NT7O3KCJAF7FXH4VCTUZDEN5M7QLBVBHMA3W";
const OTHER_NKEY_SEED: &str = "SUAAKEQ7FQ4UMU3ANV5IPFFBV254RVPC576ASFRDGA6UUV3EOF7IXGABOA";

/// An nkey user signs the INFO's nonce with its seed (async-nats does it); other keys, a
/// missing signature or a password login are refused, and the user's permissions apply.
#[test]
fn client_nkey_auth() {
    for_each_server_async(|kind| async move {
        let config = format!(
            "authorization {{ users: [ {{ nkey: {NKEY_PUBLIC}, permissions: {{ publish: [\"ok.>\", \"rnats-tests.>\"], subscribe: [\"ok.>\", \"_INBOX.>\"] }} }} ] }}\n"
        );
        let server = TestServer::start(kind, ServerConfig::config(config));
        let c = connect_with(&server, ConnectOptions::with_nkey(NKEY_SEED.into())).await;
        let mut sub = c.subscribe("ok.>").await.unwrap();
        barrier(&c).await;
        c.publish("ok.go", Bytes::from_static(b"signed"))
            .await
            .unwrap();
        assert_eq!(next(&mut sub).await.payload.as_ref(), b"signed", "[{kind}]");
        // The permissions hold: a publish outside them is refused (and not delivered).
        let mut other = c.subscribe("ok.x").await.unwrap();
        c.publish("nope", Bytes::from_static(b"x")).await.unwrap();
        c.publish("ok.x", Bytes::from_static(b"after"))
            .await
            .unwrap();
        assert_eq!(
            next(&mut other).await.payload.as_ref(),
            b"after",
            "[{kind}]"
        );
        for opts in [
            ConnectOptions::with_nkey(OTHER_NKEY_SEED.into()),
            ConnectOptions::with_user_and_password(NKEY_PUBLIC.into(), "x".into()),
            ConnectOptions::new(),
        ] {
            refused(&server, opts).await;
        }
    });
}

#[test]
fn client_drain_subscription() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let mut sub = c.subscribe("d").await.unwrap();
        for i in 0..10 {
            c.publish("d", format!("{i}").into()).await.unwrap();
        }
        // async-nats 0.51 drops a draining subscription right after writing its UNSUB (it
        // does not wait for the PONG), so messages still in flight would be lost on the
        // client side: make sure all 10 have arrived first.
        barrier(&c).await;
        sub.drain().await.unwrap();
        let mut got = Vec::new();
        while let Some(m) = timeout(T, sub.next())
            .await
            .expect("drained subscription must end")
        {
            got.push(String::from_utf8(m.payload.to_vec()).unwrap());
        }
        let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(got, want);
        // The client itself still works.
        let mut sub2 = c.subscribe("d").await.unwrap();
        c.publish("d", "after".into()).await.unwrap();
        assert_eq!(next(&mut sub2).await.payload, "after");
    });
}

#[test]
fn client_drain_client() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let c = connect(&server).await;
        let mut sub = c.subscribe("dc").await.unwrap();
        let p = connect(&server).await;
        barrier(&c).await;
        p.publish("dc", "1".into()).await.unwrap();
        barrier(&p).await;
        assert_eq!(next(&mut sub).await.payload, "1");
        // Drain: UNSUB every subscription, flush, then close. (async-nats 0.51 does not wait
        // for the server's PONG before dropping subscriptions, so the message above is
        // consumed first.)
        c.drain().await.unwrap();
        assert!(
            timeout(T, sub.next())
                .await
                .expect("subscription must end after drain")
                .is_none(),
            "subscription ends"
        );
        let r = timeout(T, c.subscribe("again"))
            .await
            .expect("subscribe after drain hangs");
        assert!(r.is_err(), "commands fail after drain");
        // The server side still serves others.
        let mut s = p.subscribe("still").await.unwrap();
        p.publish("still", "up".into()).await.unwrap();
        assert_eq!(next(&mut s).await.payload, "up");
    });
}

#[test]
fn client_max_payload() {
    for_each_server_async(|kind| async move {
        let server = TestServer::start(kind, ServerConfig::config("max_payload: 1KB\n"));
        let c = connect(&server).await;
        assert_eq!(c.server_info().max_payload, 1024);
        let mut sub = c.subscribe("big").await.unwrap();
        let err = c
            .publish("big", vec![b'x'; 2000].into())
            .await
            .expect_err("publishing over max_payload must fail");
        assert_eq!(err.kind(), PublishErrorKind::MaxPayloadExceeded, "{err}");
        c.publish("big", vec![b'y'; 1024].into()).await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(next(&mut sub).await.payload.len(), 1024);
    });
}

#[test]
fn client_flush_and_ordering_10k() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let sub_client = connect(&server).await;
        let mut sub = sub_client.subscribe("seq").await.unwrap();
        barrier(&sub_client).await;
        let p = connect(&server).await;
        const N: u32 = 10_000;
        for i in 0..N {
            p.publish("seq", i.to_be_bytes().to_vec().into())
                .await
                .unwrap();
        }
        timeout(T, p.flush())
            .await
            .expect("flush timed out")
            .unwrap();
        for i in 0..N {
            let m = next(&mut sub).await;
            assert_eq!(
                m.payload.as_ref(),
                i.to_be_bytes(),
                "message {i} out of order"
            );
        }
        nothing(&mut sub).await;
    });
}

#[test]
fn client_no_echo_and_unsubscribe_after() {
    for_each_server_async(|kind| async move {
        let server = start(kind);
        let ne = connect_with(&server, ConnectOptions::new().no_echo()).await;
        let mut own = ne.subscribe("e").await.unwrap();
        ne.publish("e", "self".into()).await.unwrap();
        barrier(&ne).await;
        nothing(&mut own).await;
        let other = connect(&server).await;
        other.publish("e", "other".into()).await.unwrap();
        assert_eq!(next(&mut own).await.payload, "other");

        let mut limited = other.subscribe("lim").await.unwrap();
        limited.unsubscribe_after(2).await.unwrap();
        for i in 0..5 {
            other.publish("lim", format!("{i}").into()).await.unwrap();
        }
        other.flush().await.unwrap();
        assert_eq!(next(&mut limited).await.payload, "0");
        assert_eq!(next(&mut limited).await.payload, "1");
        assert!(
            timeout(T, limited.next())
                .await
                .expect("must end")
                .is_none(),
            "subscription ends after 2 messages"
        );
    });
}
