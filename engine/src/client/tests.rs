//! The client state machine against the engine's own server state machine, in memory:
//! every byte the client sends is fed to a server [`Connection`] and every byte that
//! connection queues is fed back to the client. No sockets, no clock.

extern crate std;

use super::*;
use crate::options::{Authorization, Options};
use crate::server::{CloseReason, Connection, PeerAddr, Server, WriteEvent};
use core::task::{Context, Poll, Waker};

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn server(options: Options) -> Arc<Server> {
    Server::new(options, 7, Instant::ZERO)
}

fn options() -> ClientOptions {
    ClientOptions {
        servers: vec!["sim://a".to_string()],
        name: Some("sim".to_string()),
        ..ClientOptions::default()
    }
}

/// One client wired to a server through in-memory byte buffers.
struct Link {
    server: Arc<Server>,
    conn: Option<Connection>,
    client: ClientConnection,
    to_server: BytesMut,
    to_client: BytesMut,
    /// Application events, in order.
    events: Vec<ClientEvent>,
    /// Every byte the client sent, over every transport.
    wire: Vec<u8>,
    /// URLs of every transport the client asked for.
    opened: Vec<String>,
    /// Transports fail to open (server down).
    refuse: bool,
    now: Instant,
}

impl Link {
    fn new(server: &Arc<Server>, options: ClientOptions) -> Link {
        let mut link = Link::idle(server);
        link.client.connect(options, link.now).unwrap();
        link.pump();
        link
    }

    fn idle(server: &Arc<Server>) -> Link {
        Link {
            server: server.clone(),
            conn: None,
            client: ClientConnection::new(42),
            to_server: BytesMut::new(),
            to_client: BytesMut::new(),
            events: Vec::new(),
            wire: Vec::new(),
            opened: Vec::new(),
            refuse: false,
            now: Instant::ZERO,
        }
    }

    /// Connected, with the handshake events consumed.
    fn ready(server: &Arc<Server>) -> Link {
        let mut link = Link::new(server, options());
        assert!(link.client.is_connected(), "{:?}", link.events);
        link.events.clear();
        link.wire.clear();
        link
    }

    /// Move bytes and events until nothing moves.
    fn pump(&mut self) {
        for _ in 0..10_000 {
            let mut progressed = false;
            let mut out = Vec::new();
            if self.client.poll_transmit(&mut out) {
                progressed = true;
                self.wire.extend_from_slice(&out);
                if let Some(conn) = &mut self.conn {
                    self.to_server.extend_from_slice(&out);
                    conn.handle_bytes(&mut self.to_server, self.now);
                }
            }
            while let Some(event) = self.client.poll_event() {
                progressed = true;
                match event {
                    ClientEvent::OpenTransport { url } => {
                        self.opened.push(url);
                        if self.refuse {
                            self.client.transport_closed(self.now, None);
                        } else {
                            let peer = PeerAddr {
                                ip: "127.0.0.1".to_string(),
                                port: 50000,
                            };
                            self.conn = Some(self.server.accept(peer, self.now));
                            self.to_server.clear();
                            self.to_client.clear();
                            self.client.transport_opened(self.now);
                        }
                    }
                    ClientEvent::CloseTransport => {
                        if let Some(mut conn) = self.conn.take() {
                            conn.close(CloseReason::ClientClosed, self.now);
                        }
                    }
                    other => self.events.push(other),
                }
            }
            if let Some(conn) = &mut self.conn {
                let (bytes, closed) = drain_server(conn);
                if !bytes.is_empty() {
                    progressed = true;
                    self.to_client.extend_from_slice(&bytes);
                    self.client.handle_bytes(&mut self.to_client, self.now);
                }
                if let Some(reason) = closed {
                    progressed = true;
                    conn.close(reason, self.now);
                    self.conn = None;
                    self.client.transport_closed(self.now, None);
                }
            }
            if !progressed {
                return;
            }
        }
        panic!("the link never settles");
    }

    /// Advance the clock to the client's next deadline and run it.
    fn fire_timeout(&mut self) -> Instant {
        let at = self.client.poll_timeout().expect("a deadline");
        self.now = self.now.max(at);
        self.client.handle_timeout(self.now);
        self.pump();
        at
    }

    /// The server side drops the connection (server crash or restart).
    fn drop_transport(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            conn.close(CloseReason::ServerShutdown, self.now);
        }
        self.client.transport_closed(self.now, None);
        self.pump();
    }

    fn take_events(&mut self) -> Vec<ClientEvent> {
        core::mem::take(&mut self.events)
    }

    fn messages(&mut self) -> Vec<Message> {
        self.take_events()
            .into_iter()
            .filter_map(|e| match e {
                ClientEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect()
    }

    fn payloads(&mut self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| String::from_utf8(m.payload.to_vec()).unwrap())
            .collect()
    }

    fn flush(&mut self) {
        let token = self.client.flush().unwrap();
        self.pump();
        let done = ClientEvent::FlushComplete { token };
        let i = self
            .events
            .iter()
            .position(|e| *e == done)
            .unwrap_or_else(|| panic!("flush {token} did not complete: {:?}", self.events));
        self.events.remove(i);
    }

    fn wire_text(&self) -> String {
        String::from_utf8_lossy(&self.wire).into_owned()
    }
}

/// Everything the server queued for this connection, and whether it closed it.
fn drain_server(conn: &Connection) -> (Vec<u8>, Option<CloseReason>) {
    let mut chunks: VecDeque<Bytes> = VecDeque::new();
    let mut cx = Context::from_waker(Waker::noop());
    let mut closed = None;
    loop {
        match conn.shared().poll_write(&mut cx, &mut chunks) {
            Poll::Ready(WriteEvent::Data) => continue,
            Poll::Ready(WriteEvent::Closed(reason)) => {
                closed = Some(reason);
                break;
            }
            Poll::Pending => break,
        }
    }
    (
        chunks.iter().flat_map(|c| c.iter().copied()).collect(),
        closed,
    )
}

#[test]
fn handshake_sends_connect_after_info_and_reports_connected() {
    let s = server(Options::default());
    let mut link = Link::new(&s, options());
    assert_eq!(link.opened, ["sim://a"]);
    let events = link.take_events();
    assert!(
        matches!(&events[0], ClientEvent::Info(info) if info.headers && info.max_payload == 1024 * 1024)
    );
    assert_eq!(events[1], ClientEvent::Connected { reconnected: false });
    assert!(link.client.is_connected());
    let wire = link.wire_text();
    assert!(
        wire.starts_with("CONNECT {\"verbose\":false,\"pedantic\":false,"),
        "{wire}"
    );
    assert!(wire.contains("\"protocol\":1,\"echo\":true,\"headers\":true,\"no_responders\":true"));
    assert!(wire.ends_with("}\r\nPING\r\n"), "{wire}");
    // The server saw the name.
    assert_eq!(s.connections()[0].meta().name, "sim");
    assert_eq!(link.client.server_info().unwrap().server_id, s.id());
}

#[test]
fn pub_sub_round_trip_between_two_clients() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let sid = sub.client.subscribe("greet.*", None, None).unwrap();
    sub.flush();
    assert_eq!(sub.wire_text(), format!("SUB greet.* {sid}\r\nPING\r\n"));
    publisher
        .client
        .publish("greet.joe", Some("reply.to"), None, b"hello")
        .unwrap();
    publisher.client.publish("other", None, None, b"x").unwrap();
    publisher.pump();
    sub.pump();
    let msgs = sub.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].subject_str(), "greet.joe");
    assert_eq!(msgs[0].sid, sid);
    assert_eq!(msgs[0].reply_str(), Some("reply.to"));
    assert_eq!(&msgs[0].payload[..], b"hello");
    assert_eq!(msgs[0].headers, None);
}

#[test]
fn messages_survive_any_split_of_the_input() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let sid = sub.client.subscribe("a", None, None).unwrap();
    sub.flush();
    let stream: &[u8] =
        b"MSG a 1 3\r\nabc\r\nHMSG a 1 r 12 15\r\nNATS/1.0\r\n\r\nxyz\r\nPING\r\nMSG a 1 0\r\n\r\n";
    assert_eq!(sid, 1);
    for chunk_len in [1, 2, 3, 7, stream.len()] {
        let mut buf = BytesMut::new();
        for chunk in stream.chunks(chunk_len) {
            buf.extend_from_slice(chunk);
            sub.client.handle_bytes(&mut buf, sub.now);
        }
        assert!(buf.is_empty());
        let mut out = Vec::new();
        sub.client.poll_transmit(&mut out);
        assert_eq!(out, b"PONG\r\n", "answers the server's PING");
        let msgs: Vec<Message> = core::iter::from_fn(|| sub.client.poll_event())
            .filter_map(|e| match e {
                ClientEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        assert_eq!(msgs.len(), 3, "chunks of {chunk_len}");
        assert_eq!(&msgs[0].payload[..], b"abc");
        assert_eq!(msgs[1].reply_str(), Some("r"));
        assert_eq!(msgs[1].headers.as_deref(), Some(&b"NATS/1.0\r\n\r\n"[..]));
        assert_eq!(&msgs[1].payload[..], b"xyz");
        assert!(msgs[2].payload.is_empty());
    }
}

#[test]
fn headers_round_trip() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    sub.client.subscribe("h", None, None).unwrap();
    sub.flush();
    let mut headers = Headers::new();
    headers.append("X-Id", "42").unwrap();
    headers.append("X-Id", "43").unwrap();
    publisher
        .client
        .publish("h", None, Some(&headers), b"body")
        .unwrap();
    publisher.pump();
    assert!(publisher
        .wire_text()
        .starts_with("HPUB h 32 36\r\nNATS/1.0\r\nX-Id: 42\r\n"));
    sub.pump();
    let msgs = sub.messages();
    assert_eq!(&msgs[0].payload[..], b"body");
    let got = msgs[0].decode_headers().unwrap().unwrap();
    assert_eq!(got, headers);
    assert_eq!(msgs[0].status(), None);
}

#[test]
fn request_reply_and_no_responders() {
    let s = server(Options::default());
    let mut service = Link::ready(&s);
    let mut requester = Link::ready(&s);
    service
        .client
        .subscribe("svc", Some("workers"), None)
        .unwrap();
    service.flush();

    let token = requester
        .client
        .request("svc", None, b"ping?", None, requester.now)
        .unwrap();
    requester.pump();
    let wire = requester.wire_text();
    assert!(
        wire.starts_with("SUB _INBOX."),
        "mux subscription first: {wire}"
    );
    assert!(wire.contains(".* 1\r\nPUB svc _INBOX."), "{wire}");
    service.pump();
    let req = service.messages().pop().unwrap();
    assert_eq!(&req.payload[..], b"ping?");
    let reply = req.reply_str().unwrap().to_string();
    service
        .client
        .publish(&reply, None, None, b"pong!")
        .unwrap();
    service.pump();
    requester.pump();
    match &requester.take_events()[..] {
        [ClientEvent::Response { token: t, message }] => {
            assert_eq!(*t, token);
            assert_eq!(&message.payload[..], b"pong!");
        }
        other => panic!("{other:?}"),
    }

    // A second request reuses the same inbox subscription.
    requester.wire.clear();
    let second = requester
        .client
        .request("nobody.home", None, b"?", None, requester.now)
        .unwrap();
    requester.pump();
    assert!(requester.wire_text().starts_with("PUB nobody.home _INBOX."));
    assert_eq!(
        requester.take_events(),
        [ClientEvent::RequestFailed {
            token: second,
            error: RequestError::NoResponders
        }]
    );
}

#[test]
fn request_times_out_and_late_replies_are_dropped() {
    let s = server(Options::default());
    let mut service = Link::ready(&s);
    let mut requester = Link::ready(&s);
    service.client.subscribe("slow", None, None).unwrap();
    service.flush();
    let token = requester
        .client
        .request("slow", None, b"", Some(Duration::from_millis(500)), at(0))
        .unwrap();
    requester.pump();
    assert_eq!(requester.client.poll_timeout(), Some(at(500)));
    requester.now = at(499);
    requester.client.handle_timeout(at(499));
    requester.pump();
    assert!(requester.take_events().is_empty());
    requester.now = at(500);
    requester.client.handle_timeout(at(500));
    assert_eq!(
        requester.client.poll_event(),
        Some(ClientEvent::RequestFailed {
            token,
            error: RequestError::Timeout
        })
    );
    // The service answers too late.
    service.pump();
    let req = service.messages().pop().unwrap();
    service
        .client
        .publish(req.reply_str().unwrap(), None, None, b"late")
        .unwrap();
    service.pump();
    requester.pump();
    assert!(requester.take_events().is_empty());
}

#[test]
fn auto_unsubscribe_after_max_messages() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let sid = sub.client.subscribe("m", None, Some(2)).unwrap();
    sub.flush();
    assert_eq!(sub.wire_text(), "SUB m 1\r\nUNSUB 1 2\r\nPING\r\n");
    for p in ["1", "2", "3"] {
        publisher
            .client
            .publish("m", None, None, p.as_bytes())
            .unwrap();
    }
    publisher.pump();
    sub.pump();
    let events = sub.take_events();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(&events[1], ClientEvent::Message(m) if &m.payload[..] == b"2"));
    assert_eq!(events[2], ClientEvent::SubscriptionEnded { sid });
    assert_eq!(s.num_subscriptions(), 0, "the server removed it too");
    assert_eq!(sub.client.subscription_count(), 0);
}

#[test]
fn unsubscribe_now_and_later() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let a = sub.client.subscribe("u", None, None).unwrap();
    let b = sub.client.subscribe("u", None, None).unwrap();
    sub.flush();
    publisher.client.publish("u", None, None, b"1").unwrap();
    publisher.pump();
    sub.pump();
    assert_eq!(sub.messages().len(), 2);
    sub.client.unsubscribe(a, None).unwrap();
    sub.client.unsubscribe(b, Some(2)).unwrap();
    sub.flush();
    assert!(sub
        .wire_text()
        .ends_with("UNSUB 1\r\nUNSUB 2 2\r\nPING\r\n"));
    for p in ["2", "3"] {
        publisher
            .client
            .publish("u", None, None, p.as_bytes())
            .unwrap();
    }
    publisher.pump();
    sub.pump();
    let events = sub.take_events();
    assert!(
        matches!(&events[..], [
            ClientEvent::SubscriptionEnded { sid: ended_now },
            ClientEvent::Message(m),
            ClientEvent::SubscriptionEnded { sid: ended_later },
        ] if *ended_now == a && m.sid == b && *ended_later == b && &m.payload[..] == b"2"),
        "{events:?}"
    );
    assert_eq!(
        sub.client.unsubscribe(a, None),
        Err(Error::UnknownSubscription)
    );
}

#[test]
fn flushes_complete_in_order() {
    let s = server(Options::default());
    let mut link = Link::ready(&s);
    let tokens: Vec<u64> = (0..3).map(|_| link.client.flush().unwrap()).collect();
    link.pump();
    let expected: Vec<ClientEvent> = tokens
        .iter()
        .map(|&token| ClientEvent::FlushComplete { token })
        .collect();
    assert_eq!(link.take_events(), expected);
}

#[test]
fn keep_alive_pings_and_stale_connection() {
    let s = server(Options::default());
    let mut link = Link::ready(&s);
    let interval = link.client.options().ping_interval;
    assert_eq!(link.client.poll_timeout(), Some(Instant::ZERO + interval));
    link.fire_timeout();
    assert_eq!(link.wire_text(), "PING\r\n", "keep-alive PING, answered");
    assert!(link.client.is_connected());
    // Now the server stops answering: the link to it goes quiet.
    let mut silent = link.conn.take();
    link.wire.clear();
    link.fire_timeout();
    link.fire_timeout();
    assert_eq!(link.wire_text(), "PING\r\nPING\r\n");
    link.fire_timeout();
    assert!(!link.client.is_connected());
    assert_eq!(link.client.last_error(), Some("stale connection"));
    assert!(link.take_events().contains(&ClientEvent::Disconnected));
    if let Some(conn) = silent.as_mut() {
        conn.close(CloseReason::StaleConnection, link.now);
    }
    // It reconnects on its own.
    link.fire_timeout();
    assert!(link.client.is_connected());
    assert_eq!(link.opened.len(), 2);
}

#[test]
fn reconnect_replays_subscriptions_buffered_publishes_and_flushes() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let limited = sub.client.subscribe("r", None, Some(5)).unwrap();
    let queue = sub.client.subscribe("q.>", Some("grp"), None).unwrap();
    sub.flush();
    for p in ["1", "2"] {
        publisher
            .client
            .publish("r", None, None, p.as_bytes())
            .unwrap();
    }
    publisher.pump();
    sub.pump();
    assert_eq!(sub.payloads(), ["1", "2"]);

    // The server restarts: same address, fresh state.
    let s2 = server(Options::default());
    sub.server = s2.clone();
    publisher.server = s2.clone();
    sub.drop_transport();
    publisher.drop_transport();
    assert_eq!(sub.take_events(), [ClientEvent::Disconnected]);
    assert!(!sub.client.is_connected());
    // While disconnected: publish, subscribe, flush.
    sub.wire.clear();
    sub.client.publish("q.x", None, None, b"buffered").unwrap();
    let late = sub.client.subscribe("late", None, None).unwrap();
    let flush = sub.client.flush().unwrap();
    assert!(sub.client.pending_bytes() > 0);
    sub.pump();
    assert!(sub.wire.is_empty(), "nothing goes out without a transport");

    let waited = sub.fire_timeout();
    assert!(
        waited >= at(100) && waited < at(200),
        "first backoff step: {waited:?}"
    );
    publisher.fire_timeout();
    let events = sub.take_events();
    assert!(
        events.contains(&ClientEvent::Connected { reconnected: true }),
        "{events:?}"
    );
    assert!(
        events.contains(&ClientEvent::FlushComplete { token: flush }),
        "{events:?}"
    );
    let wire = sub.wire_text();
    let after_connect = &wire[wire.find("PING\r\n").unwrap() + 6..];
    assert_eq!(
        after_connect,
        format!(
            "SUB r {limited}\r\nUNSUB {limited} 3\r\nSUB q.> grp {queue}\r\nSUB late {late}\r\nPUB q.x 8\r\nbuffered\r\nPING\r\n"
        )
    );
    assert_eq!(s2.num_subscriptions(), 3);

    // The replayed subscriptions work on the new server, and the limit still counts the
    // messages delivered before the restart.
    for p in ["3", "4", "5", "6"] {
        publisher
            .client
            .publish("r", None, None, p.as_bytes())
            .unwrap();
    }
    publisher.client.publish("late", None, None, b"L").unwrap();
    publisher.pump();
    sub.pump();
    let events = sub.take_events();
    let payloads: Vec<&[u8]> = events
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Message(m) => Some(&m.payload[..]),
            _ => None,
        })
        .collect();
    assert_eq!(payloads, [&b"3"[..], b"4", b"5", b"L"]);
    assert!(events.contains(&ClientEvent::SubscriptionEnded { sid: limited }));
}

#[test]
fn reconnect_backs_off_and_gives_up_after_max_attempts() {
    let s = server(Options::default());
    let mut link = Link::new(
        &s,
        ClientOptions {
            max_reconnect_attempts: Some(3),
            reconnect_jitter: Duration::ZERO,
            ..options()
        },
    );
    link.take_events();
    link.refuse = true;
    link.drop_transport();
    let mut waits = Vec::new();
    let mut last = link.now;
    while !link.client.is_closed() {
        let at = link.fire_timeout();
        waits.push((at - last).as_millis() as u64);
        last = at;
    }
    assert_eq!(waits, [100, 200, 400]);
    assert_eq!(link.opened.len(), 4);
    let events = link.take_events();
    assert_eq!(events[0], ClientEvent::Disconnected);
    assert!(matches!(
        events.last(),
        Some(ClientEvent::Closed { error: Some(_) })
    ));
}

#[test]
fn first_connect_tries_every_server_once_then_fails() {
    let s = server(Options::default());
    let mut link = Link::idle(&s);
    link.refuse = true;
    let opts = ClientOptions {
        servers: vec!["sim://a".into(), "sim://b".into()],
        ..options()
    };
    link.client.connect(opts.clone(), at(0)).unwrap();
    link.pump();
    assert_eq!(link.opened, ["sim://a", "sim://b"]);
    assert_eq!(
        link.take_events(),
        [ClientEvent::Closed {
            error: Some("connection lost".into())
        }]
    );
    assert_eq!(link.client.connect(opts, at(0)), Err(Error::AlreadyStarted));
    assert_eq!(
        ClientConnection::new(1).connect(ClientOptions::default(), at(0)),
        Err(Error::NoServers)
    );
}

#[test]
fn connect_timeout_when_the_server_never_answers() {
    let s = server(Options::default());
    let mut link = Link::idle(&s);
    link.client.connect(options(), at(0)).unwrap();
    // The transport opens but the server's INFO never comes.
    assert!(matches!(
        link.client.poll_event(),
        Some(ClientEvent::OpenTransport { .. })
    ));
    link.client.transport_opened(at(0));
    let deadline = link.client.poll_timeout().unwrap();
    assert_eq!(deadline, at(20_000));
    link.client.handle_timeout(deadline);
    assert_eq!(link.client.poll_event(), Some(ClientEvent::CloseTransport));
    assert_eq!(
        link.client.poll_event(),
        Some(ClientEvent::Closed {
            error: Some("timeout".into())
        })
    );
}

#[test]
fn authentication() {
    let s = server(Options {
        authorization: Authorization {
            user: Some("u".into()),
            password: Some("p".into()),
            ..Authorization::default()
        },
        ..Options::default()
    });
    let mut bad = Link::new(
        &s,
        ClientOptions {
            user: Some("u".into()),
            pass: Some("wrong".into()),
            ..options()
        },
    );
    let events = bad.take_events();
    assert!(events.contains(&ClientEvent::Err("Authorization Violation".into())));
    assert_eq!(
        events.last(),
        Some(&ClientEvent::Closed {
            error: Some("Authorization Violation".into())
        })
    );
    let good = Link::new(
        &s,
        ClientOptions {
            user: Some("u".into()),
            pass: Some("p".into()),
            ..options()
        },
    );
    assert!(good.client.is_connected());
}

#[test]
fn drain_delivers_what_was_sent_then_closes() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let sid = sub.client.subscribe("d", None, None).unwrap();
    sub.flush();
    publisher
        .client
        .publish("d", None, None, b"before")
        .unwrap();
    publisher.pump();
    // The message is queued at the server for `sub`, which drains before reading it.
    sub.client.drain().unwrap();
    assert_eq!(
        sub.client.publish("d", None, None, b"x"),
        Err(Error::Draining)
    );
    assert_eq!(sub.client.subscribe("d", None, None), Err(Error::Draining));
    sub.pump();
    let events = sub.take_events();
    assert!(
        matches!(&events[..], [
            ClientEvent::Message(m),
            ClientEvent::SubscriptionEnded { sid: ended },
            ClientEvent::Closed { error: None },
        ] if &m.payload[..] == b"before" && *ended == sid),
        "{events:?}"
    );
    assert!(sub.wire_text().ends_with("UNSUB 1\r\nPING\r\n"));
    assert!(sub.client.is_closed());
    assert!(sub.conn.is_none(), "transport closed");
    assert_eq!(
        sub.client.publish("d", None, None, b"x"),
        Err(Error::Closed)
    );
    assert_eq!(s.num_subscriptions(), 0);
}

#[test]
fn drain_one_subscription() {
    let s = server(Options::default());
    let mut sub = Link::ready(&s);
    let mut publisher = Link::ready(&s);
    let sid = sub.client.subscribe("ds", None, None).unwrap();
    sub.flush();
    publisher
        .client
        .publish("ds", None, None, b"in flight")
        .unwrap();
    publisher.pump();
    sub.client.drain_subscription(sid).unwrap();
    sub.pump();
    let events = sub.take_events();
    assert!(
        matches!(
            &events[..],
            [
                ClientEvent::Message(_),
                ClientEvent::SubscriptionEnded { .. }
            ]
        ),
        "{events:?}"
    );
    assert!(sub.client.is_connected());
}

#[test]
fn close_ends_everything() {
    let s = server(Options::default());
    let mut link = Link::ready(&s);
    link.client.subscribe("c", None, None).unwrap();
    link.client.publish("c", None, None, b"last words").unwrap();
    link.client.close();
    link.pump();
    assert_eq!(link.take_events(), [ClientEvent::Closed { error: None }]);
    assert!(
        link.wire_text().ends_with("PUB c 10\r\nlast words\r\n"),
        "sent before closing"
    );
    assert!(link.conn.is_none());
    assert_eq!(link.client.flush(), Err(Error::Closed));
    assert_eq!(link.client.poll_timeout(), None);
}

#[test]
fn publish_checks() {
    let s = server(Options {
        max_payload: 10,
        ..Options::default()
    });
    let mut link = Link::ready(&s);
    assert_eq!(
        link.client.publish("", None, None, b""),
        Err(Error::BadSubject)
    );
    assert_eq!(
        link.client.publish("a b", None, None, b""),
        Err(Error::BadSubject)
    );
    assert_eq!(
        link.client.publish("a", Some("r\r\n"), None, b""),
        Err(Error::BadSubject)
    );
    assert_eq!(
        link.client.publish("a", None, None, b"12345678901"),
        Err(Error::MaxPayloadExceeded { size: 11, max: 10 })
    );
    assert_eq!(
        link.client.subscribe("a..b", None, None),
        Err(Error::BadSubject)
    );
    assert_eq!(
        link.client.subscribe("a", Some("q q"), None),
        Err(Error::BadQueue)
    );
    assert!(link.client.publish("a", None, None, b"1234567890").is_ok());
    assert_eq!(
        Error::MaxPayloadExceeded { size: 1, max: 0 }.code(),
        "MAX_PAYLOAD_EXCEEDED"
    );
}

#[test]
fn reconnect_buffer_is_bounded() {
    let s = server(Options::default());
    let mut link = Link::new(
        &s,
        ClientOptions {
            reconnect_buffer_size: 100,
            ..options()
        },
    );
    link.refuse = true;
    link.drop_transport();
    assert!(link.client.publish("a", None, None, &[0; 40]).is_ok());
    assert_eq!(
        link.client.publish("a", None, None, &[0; 40]),
        Err(Error::ReconnectBufferFull)
    );
}

#[test]
fn resubscribe_commands_skip_draining_and_count_down_limits() {
    let mut c = ClientConnection::new(1);
    c.subscribe("a", None, None).unwrap();
    c.subscribe("b", Some("g"), Some(3)).unwrap();
    let draining = c.subscribe("c", None, None).unwrap();
    c.drain_subscription(draining).unwrap();
    let mut out = Vec::new();
    c.resubscribe_commands(&mut out);
    assert_eq!(out, b"SUB a 1\r\nSUB b g 2\r\nUNSUB 2 3\r\n");
}

#[test]
fn server_errors_are_reported() {
    let s = server(Options::default());
    let mut link = Link::ready(&s);
    let mut buf =
        BytesMut::from(&b"-ERR 'Permissions Violation for Publish to \"x\"'\r\n+OK\r\n"[..]);
    link.client.handle_bytes(&mut buf, link.now);
    assert_eq!(
        link.client.poll_event(),
        Some(ClientEvent::Err(
            "Permissions Violation for Publish to \"x\"".into()
        ))
    );
    assert_eq!(link.client.poll_event(), Some(ClientEvent::Ok));
    assert!(link.client.is_connected(), "not fatal by itself");
    // Garbage from the server is a protocol error: the transport is dropped.
    let mut buf = BytesMut::from(&b"HELLO\r\n"[..]);
    link.client.handle_bytes(&mut buf, link.now);
    assert_eq!(link.client.poll_event(), Some(ClientEvent::CloseTransport));
    assert!(!link.client.is_connected());
    assert!(link
        .client
        .last_error()
        .unwrap()
        .starts_with("protocol error"));
}

#[test]
fn inboxes_are_unique() {
    let mut c = ClientConnection::new(9);
    let a = c.new_inbox();
    let b = c.new_inbox();
    assert!(a.starts_with("_INBOX.") && a.len() == 7 + NUID_LEN);
    assert_ne!(a, b);
}

#[test]
fn reconnect_moves_to_the_next_server() {
    let s = server(Options::default());
    let mut link = Link::new(
        &s,
        ClientOptions {
            servers: vec!["sim://a".into(), "sim://b".into()],
            ..options()
        },
    );
    assert_eq!(link.client.current_server(), Some("sim://a"));
    link.drop_transport();
    assert_eq!(
        link.client.current_server(),
        Some("sim://a"),
        "still names the lost server while waiting"
    );
    link.fire_timeout();
    assert!(link.client.is_connected());
    assert_eq!(link.opened, ["sim://a", "sim://b"]);
    link.drop_transport();
    link.fire_timeout();
    assert_eq!(link.opened, ["sim://a", "sim://b", "sim://a"]);
}
