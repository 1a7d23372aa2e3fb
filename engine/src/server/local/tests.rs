use super::*;
use crate::options::{Options, User};
use crate::server::SHARE_PAYLOAD_AT;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

fn clock() -> Instant {
    Instant::from_millis(1_000)
}

fn server(options: Options) -> Arc<Server> {
    Server::new(options, 42, Instant::ZERO)
}

fn client(server: &Arc<Server>) -> LocalClient {
    LocalClient::connect(server, &LocalOptions::default(), clock).expect("connect")
}

/// Counts wake-ups, so a test can see that a delivery woke the awaiting task.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn messages_flow_between_local_clients() {
    let server = server(Options::default());
    let mut sub = client(&server);
    let mut publisher = client(&server);
    let sid = sub.subscribe("orders.*").unwrap();
    publisher
        .publish_with_reply("orders.new", "replies.1", "widget")
        .unwrap();
    let message = sub.try_next_message().expect("delivered");
    assert_eq!(message.sid, sid);
    assert_eq!(&message.subject[..], b"orders.new");
    assert_eq!(message.reply.as_deref(), Some(&b"replies.1"[..]));
    assert_eq!(message.headers, None);
    assert_eq!(&message.payload[..], b"widget");
    assert_eq!(sub.try_next_message(), None);
    assert_eq!(server.num_connections(), 2);
    assert_eq!(server.num_subscriptions(), 1);
}

#[test]
fn sids_are_distinct_and_unsubscribe_stops_delivery() {
    let server = server(Options::default());
    let mut c = client(&server);
    let a = c.subscribe("a").unwrap();
    let b = c.subscribe("b").unwrap();
    assert_ne!(a, b);
    c.publish("a", "1").unwrap();
    c.publish("b", "2").unwrap();
    assert_eq!(c.try_next_message().unwrap().sid, a);
    assert_eq!(c.try_next_message().unwrap().sid, b);
    c.unsubscribe(a).unwrap();
    c.publish("a", "3").unwrap();
    assert_eq!(c.try_next_message(), None);

    // `max` counts every delivery of the subscription: "2" was the first.
    c.unsubscribe_after(b, 2).unwrap();
    c.publish("b", "4").unwrap();
    c.publish("b", "5").unwrap();
    assert_eq!(&c.try_next_message().unwrap().payload[..], b"4");
    assert_eq!(c.try_next_message(), None);
    assert_eq!(server.num_subscriptions(), 0);
}

#[test]
fn no_echo_keeps_own_messages_away() {
    let server = server(Options::default());
    let options = LocalOptions {
        no_echo: true,
        ..LocalOptions::default()
    };
    let mut quiet = LocalClient::connect(&server, &options, clock).unwrap();
    let mut other = client(&server);
    quiet.subscribe("x").unwrap();
    quiet.publish("x", "mine").unwrap();
    assert_eq!(quiet.try_next_message(), None);
    other.publish("x", "theirs").unwrap();
    assert_eq!(&quiet.try_next_message().unwrap().payload[..], b"theirs");
}

#[test]
fn queue_group_delivers_each_message_once() {
    let server = server(Options::default());
    let mut first = client(&server);
    let mut second = client(&server);
    let mut publisher = client(&server);
    first.queue_subscribe("jobs", "workers").unwrap();
    second.queue_subscribe("jobs", "workers").unwrap();
    for _ in 0..20 {
        publisher.publish("jobs", "job").unwrap();
    }
    let count = |c: &mut LocalClient| core::iter::from_fn(|| c.try_next_message()).count();
    assert_eq!(count(&mut first) + count(&mut second), 20);
}

#[test]
fn headers_and_large_payloads_arrive_intact() {
    let server = server(Options::default());
    let mut c = client(&server);
    c.subscribe(">").unwrap();
    let headers = b"NATS/1.0\r\nTrace: on\r\n\r\n";
    c.publish_with_headers("h", Some(&b"r"[..]), headers, "body")
        .unwrap();
    let message = c.try_next_message().unwrap();
    assert_eq!(message.headers.as_deref(), Some(&headers[..]));
    assert_eq!(message.reply.as_deref(), Some(&b"r"[..]));
    assert_eq!(&message.payload[..], b"body");

    // Large payloads travel as a shared chunk after the MSG line.
    let big: Vec<u8> = (0..SHARE_PAYLOAD_AT * 3).map(|i| i as u8).collect();
    c.publish("big", &big).unwrap();
    assert_eq!(&c.try_next_message().unwrap().payload[..], &big[..]);
}

#[test]
fn server_errors_come_back_from_the_call() {
    let server = server(Options::default());
    let mut c = client(&server);
    assert_eq!(
        c.subscribe("a..b"),
        Err(LocalError::Server(String::from("Invalid Subject")))
    );
    // The connection stays usable, as with nats-server.
    c.subscribe("ok").unwrap();
    assert_eq!(
        c.publish("has space", "x"),
        Err(LocalError::InvalidArgument)
    );
    assert_eq!(c.publish("", "x"), Err(LocalError::InvalidArgument));
    assert_eq!(
        c.queue_subscribe("q", "bad\r\nPUB"),
        Err(LocalError::InvalidArgument)
    );
    assert!(!c.is_closed());
}

#[test]
fn credentials_are_checked() {
    let mut options = Options::default();
    options.authorization.users = vec![User {
        username: String::from("app"),
        password: String::from("secret"),
        permissions: None,
        account: None,
        allowed_connection_types: None,
    }];
    let server = server(options);
    let wrong = LocalOptions {
        user: Some(String::from("app")),
        pass: Some(String::from("nope")),
        ..LocalOptions::default()
    };
    assert_eq!(
        LocalClient::connect(&server, &wrong, clock).err(),
        Some(LocalError::Server(String::from("Authorization Violation")))
    );
    assert_eq!(server.num_connections(), 0);
    let right = LocalOptions {
        pass: Some(String::from("secret")),
        ..wrong
    };
    let c = LocalClient::connect(&server, &right, clock).unwrap();
    assert_eq!(server.connections()[0].meta().user.as_deref(), Some("app"));
    drop(c);
    assert_eq!(server.num_connections(), 0);
}

#[test]
fn a_delivery_wakes_the_waiting_task() {
    let server = server(Options::default());
    let mut sub = client(&server);
    let mut publisher = client(&server);
    sub.subscribe("wake").unwrap();
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(sub.poll_next_message(&mut cx), Poll::Pending);
    publisher.publish("wake", "up").unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    match sub.poll_next_message(&mut cx) {
        Poll::Ready(Some(message)) => assert_eq!(&message.payload[..], b"up"),
        other => panic!("expected the message, got {other:?}"),
    }
}

#[test]
fn shutdown_ends_the_message_stream() {
    let server = server(Options::default());
    let mut c = client(&server);
    c.subscribe("s").unwrap();
    c.publish("s", "last").unwrap();
    server.close_all(CloseReason::ServerShutdown);
    let mut cx = Context::from_waker(Waker::noop());
    assert!(matches!(c.poll_next_message(&mut cx), Poll::Ready(Some(_))));
    assert_eq!(c.poll_next_message(&mut cx), Poll::Ready(None));
    assert!(c.is_closed());
    assert_eq!(
        c.publish("s", "x"),
        Err(LocalError::Closed(CloseReason::ServerShutdown))
    );
    assert_eq!(server.num_connections(), 0);
}

#[test]
fn close_unregisters_the_connection() {
    let server = server(Options::default());
    let mut c = client(&server);
    c.subscribe("s").unwrap();
    assert_eq!(server.num_subscriptions(), 1);
    c.close();
    assert_eq!(server.num_subscriptions(), 0);
    assert_eq!(server.num_connections(), 0);
    assert_eq!(
        c.subscribe("t"),
        Err(LocalError::Closed(CloseReason::ClientClosed))
    );
}

#[test]
fn slow_local_consumer_is_cut_off_like_any_other() {
    let options = Options {
        max_pending: 4 * 1024,
        ..Options::default()
    };
    let server = server(options);
    let mut slow = client(&server);
    let mut publisher = client(&server);
    slow.subscribe("flood").unwrap();
    let payload = [b'x'; 512];
    for _ in 0..64 {
        publisher.publish("flood", payload).unwrap();
    }
    assert_eq!(slow.try_next_message(), None);
    assert!(slow.is_closed());
    assert_eq!(
        slow.publish("flood", "x"),
        Err(LocalError::Closed(CloseReason::SlowConsumerPendingBytes))
    );
}

#[test]
fn a_request_nobody_answers_gets_no_responders_as_with_any_client() {
    // LocalClient sends the engine client's CONNECT (headers and no_responders on).
    let server = server(Options::default());
    let mut requester = client(&server);
    requester.subscribe("inbox.1").unwrap();
    requester
        .publish_with_reply("nobody.home", "inbox.1", "ping")
        .unwrap();
    let answer = requester.try_next_message().expect("503 delivered");
    assert_eq!(&answer.subject[..], b"inbox.1");
    let headers = answer.headers.expect("status header block");
    assert!(headers.starts_with(b"NATS/1.0 503"), "{headers:?}");
    assert!(answer.payload.is_empty());
}
