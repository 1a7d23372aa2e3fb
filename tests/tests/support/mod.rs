//! async-nats helpers shared by the TLS test files (`tls.rs`, `websocket_tls.rs`): clients
//! that trust the test CA of `tests/certs/`, bounded connects and receives.

use std::time::Duration;

use async_nats::{ConnectError, ConnectOptions, HeaderMap, Message, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;
use rnats_tests::{cert_path, ServerKind};
use tokio::time::timeout;

/// How long any step may take.
pub const T: Duration = Duration::from_secs(5);

/// async-nats options that trust the test CA.
pub fn trusting() -> ConnectOptions {
    ConnectOptions::new().add_root_certificates(cert_path("ca.pem").into())
}

/// `base` presenting the test client certificate `client.pem`.
pub fn with_client_cert(base: ConnectOptions) -> ConnectOptions {
    base.add_client_certificate(
        cert_path("client.pem").into(),
        cert_path("client.key").into(),
    )
}

pub async fn try_connect(
    url: &str,
    opts: ConnectOptions,
) -> Result<async_nats::Client, ConnectError> {
    timeout(T, opts.connection_timeout(T).connect(url))
        .await
        .unwrap_or_else(|_| panic!("connect to {url} timed out"))
}

pub async fn connect(kind: ServerKind, url: &str, opts: ConnectOptions) -> async_nats::Client {
    try_connect(url, opts)
        .await
        .unwrap_or_else(|e| panic!("[{kind}] connect to {url}: {e}"))
}

/// A connection attempt that must fail (how is up to the TLS stacks: nats-server answers a
/// missing client certificate with a `bad_certificate` alert, rustls with
/// `certificate_required`).
pub async fn refused(kind: ServerKind, url: &str, opts: ConnectOptions, what: &str) {
    if let Ok(c) = try_connect(url, opts).await {
        panic!(
            "[{kind}] {what}: connected to {url} (server {:?})",
            c.server_info().server_id
        );
    }
}

pub async fn next(sub: &mut Subscriber) -> Message {
    timeout(T, sub.next())
        .await
        .expect("timed out waiting for a message")
        .expect("subscription ended")
}

/// A full round trip through the server: after it, every subscription of `c` is in place
/// (async-nats' `flush()` does not wait for a PONG).
pub async fn barrier(c: &async_nats::Client) {
    let r = timeout(T, c.request("rnats-tests.barrier.nobody", Bytes::new()))
        .await
        .expect("barrier request timed out");
    assert!(r.is_err(), "barrier: expected no responders, got {r:?}");
}

/// A publish from `from` reaches a fresh subscription of `to` on `subject`.
pub async fn reaches(
    kind: ServerKind,
    from: &async_nats::Client,
    to: &async_nats::Client,
    subject: &str,
) {
    let mut sub = to.subscribe(subject.to_string()).await.unwrap();
    barrier(to).await;
    from.publish(subject.to_string(), Bytes::from_static(b"ping"))
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.payload.as_ref(), b"ping", "[{kind}] {subject}");
}

/// What every TLS transport must carry, between two connected clients `a` and `b`:
/// publish/subscribe with a wildcard, a 200 kB payload (many TLS records), request/reply
/// and headers, on subjects under `prefix`.
pub async fn pub_sub_request_headers(
    kind: ServerKind,
    a: &async_nats::Client,
    b: &async_nats::Client,
    prefix: &str,
) {
    // Publish/subscribe, a wildcard, and a large payload (many TLS records).
    let mut sub = b.subscribe(format!("{prefix}.>")).await.unwrap();
    barrier(b).await;
    a.publish(
        format!("{prefix}.hello"),
        Bytes::from_static(b"hello over TLS"),
    )
    .await
    .unwrap();
    let big: Bytes = (0..200_000u32).map(|i| (i * 31 + 7) as u8).collect();
    a.publish(format!("{prefix}.big"), big.clone())
        .await
        .unwrap();
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), format!("{prefix}.hello"), "[{kind}]");
    assert_eq!(m.payload.as_ref(), b"hello over TLS", "[{kind}]");
    let m = next(&mut sub).await;
    assert_eq!(m.subject.as_str(), format!("{prefix}.big"), "[{kind}]");
    assert!(m.payload == big, "[{kind}] 200 kB payload intact");

    // Request/reply.
    let mut service = b.subscribe(format!("{prefix}.echo")).await.unwrap();
    barrier(b).await;
    let request = a.request(format!("{prefix}.echo"), Bytes::from_static(b"ping"));
    let answer = async {
        let m = next(&mut service).await;
        let mut answer = b"echo: ".to_vec();
        answer.extend_from_slice(&m.payload);
        let reply_to = m.reply.expect("request has a reply subject");
        b.publish(reply_to, answer.into()).await.unwrap();
    };
    let (reply, ()) = tokio::join!(timeout(T, request), answer);
    let reply = reply
        .expect("request timed out")
        .unwrap_or_else(|e| panic!("[{kind}] request over {prefix}: {e}"));
    assert_eq!(reply.payload.as_ref(), b"echo: ping", "[{kind}]");

    // Headers.
    let mut hsub = b.subscribe(format!("{prefix}.headers")).await.unwrap();
    barrier(b).await;
    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "abc123");
    headers.append("X-Multi", "1");
    headers.append("X-Multi", "2");
    a.publish_with_headers(
        format!("{prefix}.headers"),
        headers,
        Bytes::from_static(b"with headers"),
    )
    .await
    .unwrap();
    let m = next(&mut hsub).await;
    let h = m.headers.expect("message has headers");
    assert_eq!(
        h.get("X-Trace").map(|v| v.as_str()),
        Some("abc123"),
        "[{kind}]"
    );
    let multi: Vec<&str> = h.get_all("X-Multi").map(|v| v.as_str()).collect();
    assert_eq!(multi, ["1", "2"], "[{kind}]");
    assert_eq!(m.payload.as_ref(), b"with headers", "[{kind}]");
}
