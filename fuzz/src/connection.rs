//! `connection`: a whole [`Server`] with 2–3 client connections, driven by a script.
//!
//! The input starts with a setup block (options, auth mode, seed, connection count), then
//! a list of steps, each one byte of connection slot and one byte of action followed by
//! the action's arguments:
//!
//! | action % 11 | step |
//! |---|---|
//! | 0, 1, 2 | `len: u16 % 1024`, then `len` bytes for the slot's connection (`handle_bytes`) |
//! | 3 | `ms: u16`, `scale: u8` (odd: seconds): advance the clock, run due timers (`poll_timeout`/`handle_timeout`) |
//! | 4 | spurious `handle_timeout(now)` on the slot |
//! | 5 | drain the slot's output (`poll_write`) |
//! | 6 | `Connection::close` on the slot (reason from the next byte), then drop it |
//! | 7 | slot empty: accept a new connection; else the frontend's write deadline (`ConnShared::close`) |
//! | 8 | `Server::reload` with new options (a setup block follows) |
//! | 9 | `Server::enter_lame_duck` |
//! | 10 | large publish: `subject: u8` (one of a few), `size: u16`, `flags: u8` (bit 0 HPUB, bit 1 split the payload over two reads): a `PUB`/`HPUB` with a `size`-byte body, so bodies of 8 KiB and more (shared, not copied, on delivery) are reachable |
//!
//! Auth mode 3 configures users `a`/`pa` (permissions) and `b`/`pb` in the global account,
//! `c`/`pc` with `account: A`, and `d`/`pd` in `accounts { B { users } }`.
//!
//! Checked after every step: the server's connection count equals the live connections,
//! its subscription count equals the sum of the connections' subscriptions, and every
//! byte the server wrote to a client parses with [`ClientParser`] and ends on an op
//! boundary. At the end every connection is closed and dropped: the server must hold no
//! connections, no subscriptions, and no reference to any connection.

use bytes::{Bytes, BytesMut};
use core::task::{Context, Poll, Waker};
use core::time::Duration;
use rnats_engine::options::{
    AccountOptions, Authorization, Options, Permissions, ResponsePermission, SubjectPermission,
    User,
};
use rnats_engine::proto::{ClientParser, ParserLimits};
use rnats_engine::server::{CloseReason, ConnShared, Connection, PeerAddr, Server, WriteEvent};
use rnats_engine::time::Instant;
use std::collections::VecDeque;
use std::sync::{Arc, Weak};

use crate::Reader;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn permissions(u: &mut Reader<'_>) -> Permissions {
    Permissions {
        publish: Some(SubjectPermission {
            allow: strings(&["foo.>", "bar", "_INBOX.>"]),
            deny: strings(&["foo.secret", "foo.*.x"]),
        }),
        subscribe: Some(SubjectPermission {
            allow: strings(&["foo.>", "bar", "q.*", "_INBOX.>"]),
            deny: strings(&["foo.hidden", "foo.*.y"]),
        }),
        response: if u.bool() {
            Some(ResponsePermission {
                max_msgs: usize::from(u.u8() % 4),
                expires: Duration::from_millis(u64::from(u.u16() % 2048)),
            })
        } else {
            None
        },
    }
}

fn options(u: &mut Reader<'_>) -> Options {
    let mode = u.u8();
    let mut o = Options::default();
    if mode & 1 != 0 {
        o.max_payload = usize::from(u.u8());
        o.max_control_line = usize::from(u.u8());
        o.max_pending = usize::from(u.u16());
    }
    o.authorization = match (mode >> 1) & 3 {
        0 => Authorization::default(),
        1 => Authorization {
            user: Some("u".into()),
            password: Some("p".into()),
            default_permissions: if u.bool() { Some(permissions(u)) } else { None },
            ..Authorization::default()
        },
        2 => Authorization {
            token: Some("t".into()),
            default_permissions: if u.bool() { Some(permissions(u)) } else { None },
            ..Authorization::default()
        },
        _ => Authorization {
            users: vec![
                User {
                    username: "a".into(),
                    password: "pa".into(),
                    permissions: Some(permissions(u)),
                    ..User::default()
                },
                User {
                    username: "b".into(),
                    password: "pb".into(),
                    ..User::default()
                },
                User {
                    username: "c".into(),
                    password: "pc".into(),
                    account: Some("A".into()),
                    ..User::default()
                },
            ],
            no_auth_user: match u.u8() % 4 {
                0 => None,
                1 => Some("a".into()),
                2 => Some("c".into()),
                _ => Some("d".into()),
            },
            ..Authorization::default()
        },
    };
    if (mode >> 1) & 3 == 3 {
        o.accounts = vec![AccountOptions {
            name: "B".into(),
            users: vec![User {
                username: "d".into(),
                password: "pd".into(),
                account: Some("B".into()),
                ..User::default()
            }],
            ..AccountOptions::default()
        }];
    }
    if mode & 8 != 0 {
        o.authorization.timeout = Some(Duration::from_millis(u64::from(u.u16())));
    }
    o.no_sublist_cache = mode & 16 != 0;
    if mode & 32 != 0 {
        o.ping_interval = Duration::from_millis(1 + u64::from(u.u16()));
        o.ping_max = u32::from(u.u8() % 4);
    }
    if mode & 64 != 0 {
        o.max_connections = usize::from(u.u8() % 4);
    }
    if mode & 128 != 0 {
        o.max_subscriptions = usize::from(u.u8() % 5);
    }
    o
}

/// One client connection as a frontend holds it.
struct Client {
    conn: Option<Connection>,
    /// Received and not yet consumed.
    inbuf: BytesMut,
    /// What the server wrote to it (checked and cleared at every drain).
    out: Vec<u8>,
    shared: Weak<ConnShared>,
}

impl Client {
    fn new(server: &Arc<Server>, port: u16, now: Instant) -> Client {
        let conn = server.accept(
            PeerAddr {
                ip: "127.0.0.1".into(),
                port,
            },
            now,
        );
        let shared = Arc::downgrade(conn.shared());
        Client {
            conn: Some(conn),
            inbuf: BytesMut::new(),
            out: Vec::new(),
            shared,
        }
    }

    /// Take everything queued for the writer and check it (see [`check_server_output`]).
    fn drain(&mut self) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let mut cx = Context::from_waker(Waker::noop());
        let mut chunks: VecDeque<Bytes> = VecDeque::new();
        // `Data` until everything is taken, then `Closed` or `Pending`.
        while let Poll::Ready(WriteEvent::Data) = shared.poll_write(&mut cx, &mut chunks) {}
        for c in chunks {
            self.out.extend_from_slice(&c);
        }
        if crate::tracing() && !self.out.is_empty() {
            eprintln!(
                "  <- cid {}: {:?}",
                shared.id(),
                String::from_utf8_lossy(&self.out)
            );
        }
        check_server_output(&self.out);
        self.out.clear();
    }

    fn close(&mut self, reason: CloseReason, now: Instant) {
        if let Some(mut c) = self.conn.take() {
            c.close(reason, now);
        }
        self.drain();
        self.inbuf.clear();
    }
}

fn parse_size(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(b).ok()?.parse().ok()
}

/// Check one drain's worth of server output: whole ops only, framed as the encoder
/// frames them (`MSG subject sid [reply] size\r\n` + payload + `\r\n`, single spaces,
/// `HMSG` likewise with two sizes, `INFO {...}`, `-ERR '...'`, `+OK`, `PING`, `PONG`).
///
/// Every op must also parse with [`ClientParser`] into exactly that op, unless its control
/// line holds a CR or LF: nats-server (and so rnats) forwards a PUB reply subject such as
/// `"a\rb"` (PUB splits only on spaces and tabs) verbatim, and a client that splits MSG
/// arguments on CR/LF, as nats.go and our `ClientParser` do, cannot parse that MSG line.
fn check_server_output(out: &[u8]) {
    let mut pos = 0;
    while pos < out.len() {
        let rest = &out[pos..];
        let show = || String::from_utf8_lossy(&rest[..rest.len().min(300)]).into_owned();
        let Some(line_len) = rest.windows(2).position(|w| w == b"\r\n") else {
            panic!("server output does not end on an op boundary: {:?}", show());
        };
        let line = &rest[..line_len];
        let mut end = line_len + 2;
        let sizes = |args: &[u8], n_sizes: usize, min: usize| -> Vec<usize> {
            let tokens: Vec<&[u8]> = args.split(|&b| b == b' ').collect();
            assert!(
                tokens.len() >= min
                    && tokens.len() <= min + 1
                    && tokens.iter().all(|t| !t.is_empty()),
                "badly framed server op: {:?}",
                show()
            );
            tokens[tokens.len() - n_sizes..]
                .iter()
                .map(|t| parse_size(t).unwrap_or_else(|| panic!("bad size in {:?}", show())))
                .collect()
        };
        if let Some(args) = line.strip_prefix(b"MSG ") {
            end += sizes(args, 1, 3)[0] + 2;
        } else if let Some(args) = line.strip_prefix(b"HMSG ") {
            let s = sizes(args, 2, 4);
            assert!(s[0] <= s[1], "HMSG header size over total: {:?}", show());
            end += s[1] + 2;
        } else if let Some(json) = line.strip_prefix(b"INFO ") {
            assert!(
                json.first() == Some(&b'{') && json.last() == Some(&b'}'),
                "server sent INFO without a JSON object: {:?}",
                show()
            );
        } else if let Some(text) = line.strip_prefix(b"-ERR ") {
            assert!(
                text.len() >= 2 && text.starts_with(b"'") && text.ends_with(b"'"),
                "badly quoted -ERR: {:?}",
                show()
            );
        } else {
            assert!(
                matches!(line, b"+OK" | b"PING" | b"PONG"),
                "unknown server op: {:?}",
                show()
            );
        }
        assert!(
            end <= rest.len(),
            "server output ends inside a message: {:?}",
            show()
        );
        assert_eq!(
            &rest[end - 2..end],
            b"\r\n",
            "message payload not followed by CRLF: {:?}",
            show()
        );
        if !line.iter().any(|&b| b == b'\r' || b == b'\n') {
            let mut p = ClientParser::new(ParserLimits {
                max_control_line: usize::MAX / 4,
                max_payload: usize::MAX / 4,
            });
            match p.parse(&rest[..end]) {
                Ok(Some((_, n))) if n == end => {}
                other => panic!(
                    "ClientParser disagrees ({other:?}) on server op {:?}",
                    show()
                ),
            }
        }
        pos += end;
    }
}

fn close_reason(b: u8) -> CloseReason {
    match b % 4 {
        0 => CloseReason::ClientClosed,
        1 => CloseReason::ReadError,
        2 => CloseReason::ServerShutdown,
        _ => CloseReason::SlowConsumerWriteDeadline,
    }
}

fn check_counts(server: &Server, clients: &[Client]) {
    let live = clients.iter().filter(|c| c.conn.is_some()).count();
    assert_eq!(server.num_connections(), live, "connection count");
    let subs: usize = clients
        .iter()
        .filter_map(|c| c.conn.as_ref())
        .map(|c| c.shared().num_subscriptions())
        .sum();
    assert_eq!(
        server.num_subscriptions(),
        subs,
        "server subscription count vs the connections' subscriptions"
    );
}

fn run_script(u: &mut Reader<'_>) {
    let opts = options(u);
    let seed = u.u64();
    let n = 2 + usize::from(u.u8() % 2);
    let mut now = Instant::ZERO;
    if crate::tracing() {
        eprintln!("options: {opts:?}\nconnections: {n}");
    }
    let server = Server::new(opts, seed, now);
    let mut clients: Vec<Client> = (0..n)
        .map(|i| Client::new(&server, i as u16, now))
        .collect();
    let mut retired: Vec<Weak<ConnShared>> = Vec::new();
    let mut next_port = n as u16;

    while !u.is_empty() {
        let slot = usize::from(u.u8()) % n;
        let action = u.u8();
        if crate::tracing() {
            eprintln!("step: slot {slot} action {} at {:?}", action % 11, now);
        }
        match action % 11 {
            0..=2 => {
                let len = usize::from(u.u16() % 1024);
                let bytes = u.bytes(len);
                let c = &mut clients[slot];
                if crate::tracing() {
                    eprintln!("  -> {:?}", String::from_utf8_lossy(bytes));
                }
                if let Some(conn) = &mut c.conn {
                    c.inbuf.extend_from_slice(bytes);
                    let open = conn.handle_bytes(&mut c.inbuf, now);
                    if !open {
                        assert!(conn.is_closed());
                    }
                }
            }
            3 => {
                let ms = u64::from(u.u16());
                let scale = u.u8();
                let step = if scale & 1 != 0 {
                    Duration::from_secs(ms)
                } else {
                    Duration::from_millis(ms)
                };
                now = now + step;
                for c in &mut clients {
                    if let Some(conn) = &mut c.conn {
                        // A frontend sleeps until the deadline, so there may be several
                        // due; bound the catch-up loop.
                        for _ in 0..8 {
                            match conn.poll_timeout() {
                                Some(t) if t <= now => conn.handle_timeout(now),
                                _ => break,
                            }
                        }
                    }
                }
            }
            4 => {
                if let Some(conn) = &mut clients[slot].conn {
                    conn.handle_timeout(now);
                }
            }
            5 => clients[slot].drain(),
            6 => {
                let reason = close_reason(u.u8());
                clients[slot].close(reason, now);
            }
            8 => {
                let new = options(u);
                if crate::tracing() {
                    eprintln!("  reload: {new:?}");
                }
                server.reload(new);
            }
            9 => server.enter_lame_duck(),
            10 => {
                let subject = ["foo", "q.a", "_INBOX.1", "bar.x"][usize::from(u.u8() % 4)];
                let size = usize::from(u.u16());
                let flags = u.u8();
                let mut msg = if flags & 1 != 0 {
                    const HDR: &[u8] = b"NATS/1.0\r\nA: b\r\n\r\n";
                    let total = size.max(HDR.len());
                    let mut m = format!("HPUB {subject} {} {total}\r\n", HDR.len()).into_bytes();
                    m.extend_from_slice(HDR);
                    m.resize(m.len() + total - HDR.len(), b'x');
                    m
                } else {
                    let mut m = format!("PUB {subject} {size}\r\n").into_bytes();
                    m.resize(m.len() + size, b'x');
                    m
                };
                msg.extend_from_slice(b"\r\n");
                if crate::tracing() {
                    eprintln!(
                        "  -> {} bytes: {:?}...",
                        msg.len(),
                        String::from_utf8_lossy(&msg[..32.min(msg.len())])
                    );
                }
                let c = &mut clients[slot];
                if let Some(conn) = &mut c.conn {
                    let parts: &[&[u8]] = if flags & 2 != 0 {
                        let (a, b) = msg.split_at(msg.len() / 2);
                        &[a, b]
                    } else {
                        &[&msg]
                    };
                    for part in parts {
                        c.inbuf.extend_from_slice(part);
                        conn.handle_bytes(&mut c.inbuf, now);
                    }
                }
            }
            _ => {
                if clients[slot].conn.is_some() {
                    if let Some(shared) = clients[slot].shared.upgrade() {
                        shared.close(CloseReason::SlowConsumerWriteDeadline);
                    }
                } else {
                    retired.push(clients[slot].shared.clone());
                    clients[slot] = Client::new(&server, next_port, now);
                    next_port = next_port.wrapping_add(1);
                }
            }
        }
        check_counts(&server, &clients);
    }

    for c in &mut clients {
        c.drain();
    }
    for c in &mut clients {
        c.close(CloseReason::ClientClosed, now);
    }
    check_counts(&server, &clients);
    assert_eq!(
        server.num_connections(),
        0,
        "connections left after all closed"
    );
    assert_eq!(
        server.num_subscriptions(),
        0,
        "subscriptions left after all connections closed"
    );
    retired.extend(clients.iter().map(|c| c.shared.clone()));
    drop(clients);
    assert_eq!(
        Arc::strong_count(&server),
        1,
        "something still holds the server after every connection was dropped"
    );
    for (i, w) in retired.iter().enumerate() {
        assert!(
            w.upgrade().is_none(),
            "connection #{i} is still referenced after it was closed and dropped"
        );
    }
}

/// The `connection` target.
pub fn connection(data: &[u8]) {
    run_script(&mut Reader::new(data));
}
