//! The embedding example, run in-process: its server on its own thread, a real NATS client
//! (async-nats) over TCP, and in-process clients, with messages checked in both
//! directions.

#[allow(dead_code)]
#[path = "../examples/embedded.rs"]
mod embedded;

use embedded::Embedded;
use futures_util::StreamExt;
use rnats_engine::options::Options;
use rnats_engine::server::local::LocalClient;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(10);

/// Start the example's server on a free port on a thread of its own, running `app` there
/// with an in-process client (what `app` does before returning its future, such as
/// subscribing, is done before this returns); returns the TCP address and a second
/// in-process client for the test's own use.
fn start_embedded<F, Fut>(app: F) -> (SocketAddr, LocalClient)
where
    F: FnOnce(LocalClient) -> Fut + Send + 'static,
    Fut: std::future::Future,
{
    let (ready, started) = mpsc::channel();
    std::thread::spawn(move || {
        let nats = Embedded::start(Options {
            host: "127.0.0.1".into(),
            port: Some(0),
            ..Options::default()
        })
        .expect("embedded server starts");
        let app_client = nats.client("app").expect("in-process client");
        let test_client = nats.client("test").expect("in-process client");
        let app = app(app_client);
        ready.send((nats.addr(), test_client)).expect("test waits");
        nats.run(app);
        // Keep serving the TCP clients after the app ends, until the test process exits.
        nats.run(std::future::pending::<()>());
    });
    started.recv_timeout(PATIENCE).expect("server started")
}

async fn tcp_client(addr: SocketAddr) -> async_nats::Client {
    async_nats::connect(format!("nats://{addr}"))
        .await
        .expect("TCP client connects")
}

#[tokio::test]
async fn greeter_answers_tcp_requests_and_announces_over_tcp() {
    let (addr, _test_client) =
        start_embedded(|app| embedded::greeter(app).expect("greeter subscribes"));
    let tcp = tcp_client(addr).await;
    let mut announcements = tcp.subscribe("greeted.>").await.unwrap();
    tcp.flush().await.unwrap();

    // TCP → in-process (the request) → TCP (the reply).
    let reply = tokio::time::timeout(PATIENCE, tcp.request("greet.tcp", "".into()))
        .await
        .expect("reply in time")
        .expect("request answered");
    assert_eq!(&reply.payload[..], b"hello, tcp");

    // In-process → TCP (the announcement).
    let announced = tokio::time::timeout(PATIENCE, announcements.next())
        .await
        .expect("announcement in time")
        .expect("subscription open");
    assert_eq!(announced.subject.as_str(), "greeted.tcp");
    assert_eq!(&announced.payload[..], b"hello, tcp");
}

#[tokio::test]
async fn messages_flow_both_ways_between_in_process_and_tcp_clients() {
    let (addr, mut local) = start_embedded(|_app| async {});
    let tcp = tcp_client(addr).await;

    // TCP → in-process, with headers and a reply subject.
    let from_tcp = local.subscribe("to.local").unwrap();
    // Subscribed before the publish below, on the same connection: once that publish has
    // arrived, the server has this subscription too (a flush does not wait for the server).
    let mut inbox = tcp.subscribe("to.tcp").await.unwrap();
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Origin", "tcp");
    tcp.publish_with_reply_and_headers("to.local", "back.here", headers, "ping".into())
        .await
        .unwrap();
    tcp.flush().await.unwrap();
    let message = tokio::time::timeout(PATIENCE, local.next_message())
        .await
        .expect("message in time")
        .expect("connection open");
    assert_eq!(message.sid, from_tcp);
    assert_eq!(&message.subject[..], b"to.local");
    assert_eq!(message.reply.as_deref(), Some(&b"back.here"[..]));
    assert_eq!(&message.payload[..], b"ping");
    let header_block = String::from_utf8_lossy(message.headers.as_deref().unwrap_or_default());
    assert!(header_block.contains("Origin: tcp"), "{header_block}");

    // In-process → TCP: a plain publish and a reply to the TCP client's request.
    local.publish("to.tcp", "pong").unwrap();
    let received = tokio::time::timeout(PATIENCE, inbox.next())
        .await
        .expect("message in time")
        .expect("subscription open");
    assert_eq!(&received.payload[..], b"pong");

    local.subscribe("service").unwrap();
    let request = tokio::spawn({
        let tcp = tcp.clone();
        async move { tcp.request("service", "question".into()).await }
    });
    let asked = tokio::time::timeout(PATIENCE, local.next_message())
        .await
        .expect("request in time")
        .expect("connection open");
    assert_eq!(&asked.payload[..], b"question");
    local
        .publish(asked.reply.expect("request has a reply subject"), "answer")
        .unwrap();
    let answer = tokio::time::timeout(PATIENCE, request)
        .await
        .expect("answer in time")
        .unwrap()
        .expect("request answered");
    assert_eq!(&answer.payload[..], b"answer");
}
