//! One publisher and N subscribers driven straight through the engine the way a frontend
//! drives it: the publisher's bytes arrive in socket-read-sized chunks, the subscribers'
//! writers drain their queues with `poll_write` after every read and drop the chunks once
//! "written". Shared by the allocation test and the publish→deliver benchmark.

use bytes::{Bytes, BytesMut};
use rnats_engine::options::Options;
use rnats_engine::server::{Connection, PeerAddr, Server, WriteEvent};
use rnats_engine::time::Instant;
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

/// Bytes handed to `handle_bytes` per simulated socket read (the tokio frontend's
/// largest read buffer).
pub const READ_SIZE: usize = 64 * 1024;

const SUBJECT: &str = "bench.subject";
const HEADERS: &[u8] = b"NATS/1.0\r\nBench: 1\r\n\r\n";

/// Whether messages carry headers, and whether subscribers take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Headers {
    /// PUB to subscribers.
    None,
    /// HPUB to subscribers that negotiated headers (HMSG).
    Kept,
    /// HPUB to subscribers that did not (headers stripped, MSG).
    Stripped,
}

/// What is published to whom.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    /// Subscriber connections, one subscription each.
    pub subscribers: usize,
    /// Payload bytes per message.
    pub payload: usize,
    /// Headers or not.
    pub headers: Headers,
}

/// A server with one publisher and `Scenario::subscribers` subscribers.
pub struct PubSub {
    _server: Arc<Server>,
    publisher: Connection,
    read_buf: BytesMut,
    subscribers: Vec<Connection>,
    /// The writer's queue, reused like a frontend's write loop does.
    writing: VecDeque<Bytes>,
    /// Identical PUB/HPUB frames back to back, at least `READ_SIZE` long.
    stream: Vec<u8>,
    frame_len: usize,
    /// Where the next read starts in `stream`.
    pos: usize,
    /// What each subscriber receives per message.
    expected: Vec<Vec<u8>>,
    now: Instant,
}

fn connect(server: &Arc<Server>, now: Instant, headers: bool) -> Connection {
    let mut conn = server.accept(
        PeerAddr {
            ip: "127.0.0.1".into(),
            port: 40000,
        },
        now,
    );
    let connect =
        format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":{headers}}}\r\n");
    let mut buf = BytesMut::from(connect.as_bytes());
    assert!(conn.handle_bytes(&mut buf, now));
    conn
}

/// Everything queued for `conn`'s writer.
fn take_output(conn: &Connection) -> Vec<u8> {
    let mut chunks = VecDeque::new();
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(WriteEvent::Data) = conn.shared().poll_write(&mut cx, &mut chunks) {}
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}

impl PubSub {
    /// Connect everyone, subscribe, and check that one message arrives exactly as
    /// nats-server would send it.
    pub fn new(scenario: Scenario) -> PubSub {
        let now = Instant::from_millis(1);
        let server = Server::new(Options::default(), 7, Instant::ZERO);
        let publisher = connect(&server, now, true);
        let subscribers = (0..scenario.subscribers)
            .map(|i| {
                let mut conn = connect(&server, now, scenario.headers != Headers::Stripped);
                let mut sub = BytesMut::from(format!("SUB {SUBJECT} {}\r\n", i + 1).as_bytes());
                assert!(conn.handle_bytes(&mut sub, now));
                conn
            })
            .collect();
        let payload = vec![b'x'; scenario.payload];
        let mut frame = Vec::new();
        match scenario.headers {
            Headers::None => {
                frame.extend_from_slice(format!("PUB {SUBJECT} {}\r\n", payload.len()).as_bytes())
            }
            Headers::Kept | Headers::Stripped => {
                let total = HEADERS.len() + payload.len();
                frame.extend_from_slice(
                    format!("HPUB {SUBJECT} {} {total}\r\n", HEADERS.len()).as_bytes(),
                );
                frame.extend_from_slice(HEADERS);
            }
        }
        frame.extend_from_slice(&payload);
        frame.extend_from_slice(b"\r\n");
        let frames = READ_SIZE.div_ceil(frame.len()) + 1;
        let mut sim = PubSub {
            _server: server,
            publisher,
            read_buf: BytesMut::new(),
            subscribers,
            writing: VecDeque::new(),
            stream: frame.repeat(frames),
            frame_len: frame.len(),
            pos: 0,
            expected: Vec::new(),
            now,
        };
        sim.drain();
        sim.check_one(scenario, &payload);
        sim
    }

    fn check_one(&mut self, scenario: Scenario, payload: &[u8]) {
        let mut one = BytesMut::from(&self.stream[..self.frame_len]);
        assert!(self.publisher.handle_bytes(&mut one, self.now));
        for (i, sub) in self.subscribers.iter().enumerate() {
            let sid = i + 1;
            let mut expected = match scenario.headers {
                Headers::None | Headers::Stripped => {
                    format!("MSG {SUBJECT} {sid} {}\r\n", payload.len()).into_bytes()
                }
                Headers::Kept => {
                    let total = HEADERS.len() + payload.len();
                    let mut e =
                        format!("HMSG {SUBJECT} {sid} {} {total}\r\n", HEADERS.len()).into_bytes();
                    e.extend_from_slice(HEADERS);
                    e
                }
            };
            expected.extend_from_slice(payload);
            expected.extend_from_slice(b"\r\n");
            let got = take_output(sub);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&expected)
            );
            self.expected.push(expected);
        }
    }

    /// Like [`PubSub::run`], but keep every byte the subscribers are handed and check it
    /// is exactly `msgs` copies of their message, in order.
    pub fn run_checked(&mut self, msgs: usize) {
        let mut received = vec![Vec::new(); self.subscribers.len()];
        let mut left = msgs * self.frame_len;
        while left > 0 {
            let n = left.min(READ_SIZE);
            self.read_buf
                .extend_from_slice(&self.stream[self.pos..self.pos + n]);
            self.pos = (self.pos + n) % self.frame_len;
            left -= n;
            assert!(self.publisher.handle_bytes(&mut self.read_buf, self.now));
            for (sub, got) in self.subscribers.iter().zip(&mut received) {
                got.extend(take_output(sub));
            }
        }
        for (got, expected) in received.iter().zip(&self.expected) {
            assert!(
                *got == expected.repeat(msgs),
                "{} bytes received, {} expected",
                got.len(),
                expected.len() * msgs
            );
        }
    }

    /// Publish `msgs` messages, each read followed by the subscribers' writers draining
    /// their queues. Returns the messages the subscribers were handed.
    pub fn run(&mut self, msgs: usize) -> u64 {
        let before = self.delivered();
        let mut left = msgs * self.frame_len;
        while left > 0 {
            let n = left.min(READ_SIZE);
            // The frontend's read loop: keep room for a whole read.
            if self.read_buf.capacity() - self.read_buf.len() < READ_SIZE / 2 {
                self.read_buf.reserve(READ_SIZE);
            }
            self.read_buf
                .extend_from_slice(&self.stream[self.pos..self.pos + n]);
            self.pos = (self.pos + n) % self.frame_len;
            left -= n;
            assert!(self.publisher.handle_bytes(&mut self.read_buf, self.now));
            self.drain();
        }
        self.delivered() - before
    }

    /// Every subscriber's writer takes what is queued and "writes" it.
    fn drain(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for conn in self.subscribers.iter().chain([&self.publisher]) {
            while let Poll::Ready(WriteEvent::Data) =
                conn.shared().poll_write(&mut cx, &mut self.writing)
            {}
            self.writing.clear();
        }
    }

    /// Messages handed to the subscribers so far.
    pub fn delivered(&self) -> u64 {
        self.subscribers
            .iter()
            .map(|c| c.shared().counters.snapshot().2)
            .sum()
    }
}
