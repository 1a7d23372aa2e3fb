//! The benchmark scenarios. Every publisher writes slices of one buffer of PUB frames
//! encoded once up front, so generating load costs a `write(2)` per ~256 KiB; every
//! subscriber counts MSGs through the engine's client parser. Each run ends with PING/PONG
//! barriers and fails unless every subscriber received exactly the expected messages.
//!
//! The `ws-` scenarios do the same over the server's WebSocket listener: the publisher's
//! buffer is masked binary frames each carrying many PUBs (built once, like the TCP one),
//! and subscribers unwrap the server's frames in place before the same parser.
//!
//! The `tls-` scenarios do the same over TLS on the client port: the same pre-encoded PUB
//! buffer, encrypted by rustls batch by batch (the one cost a TLS client cannot avoid).

use crate::client::{BenchResult, Conn, Flow, Transport};
use crate::procstat;
use crate::progress::Progress;
use crate::tls::TlsClient;
use crate::ws;
use hdrhistogram::Histogram;
use rnats_engine::proto::{encode, ServerOp};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// Bytes handed to one `write(2)` by a publisher.
const WRITE_BYTES: usize = 256 * 1024;
/// Subscribers block in `read(2)` at most this long between checks of the run's state.
const POLL: Duration = Duration::from_millis(20);
/// Time allowed for connecting and subscribing, separately from the run's time bound.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What a scenario does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Publishers only, no subscriber.
    Pub,
    /// Publishers → subscribers on one subject; every subscriber gets every message.
    PubSub,
    /// One publisher → subscribers in one queue group; each message goes to one of them.
    Queue,
    /// 10,000 subscriptions of four shapes, publishes spread over 10^6 subjects.
    Wildcard,
    /// Sequential request/reply round trips.
    ReqReply,
    /// Idle connections, one SUB each.
    Connections,
}

/// A named scenario with its default sizes.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name used on the command line and in reports.
    pub name: &'static str,
    /// What it does.
    pub kind: Kind,
    /// How its connections reach the server.
    pub transport: Transport,
    /// Payload bytes per message.
    pub payload: usize,
    /// Publisher connections.
    pub pubs: usize,
    /// Subscriber connections.
    pub subs: usize,
    /// Messages published in a full run (requests for req/reply, connections for conns).
    pub count: u64,
    /// The same for `--smoke`.
    pub smoke_count: u64,
    /// Short description for `--list`.
    pub about: &'static str,
}

/// Every scenario, in the order `all` runs them.
pub fn all() -> Vec<Scenario> {
    let s = |name, kind, payload, pubs, subs, count, smoke_count, about| Scenario {
        name,
        kind,
        transport: Transport::Tcp,
        payload,
        pubs,
        subs,
        count,
        smoke_count,
        about,
    };
    vec![
        // First, so that `run` against a fresh server measures RSS before the heap has
        // grown from the throughput runs (`compare` starts a fresh server for every run).
        s(
            "conns",
            Kind::Connections,
            0,
            0,
            0,
            5_000,
            50,
            "idle connections with one SUB each (server RSS per connection)",
        ),
        s(
            "pub-16",
            Kind::Pub,
            16,
            1,
            0,
            10_000_000,
            20_000,
            "publish only, 16 B",
        ),
        s(
            "pub-128",
            Kind::Pub,
            128,
            1,
            0,
            5_000_000,
            20_000,
            "publish only, 128 B",
        ),
        s(
            "pub-1k",
            Kind::Pub,
            1024,
            1,
            0,
            2_000_000,
            10_000,
            "publish only, 1 KiB",
        ),
        s(
            "pub-16k",
            Kind::Pub,
            16384,
            1,
            0,
            200_000,
            1_000,
            "publish only, 16 KiB",
        ),
        s(
            "pubsub-16",
            Kind::PubSub,
            16,
            1,
            1,
            5_000_000,
            20_000,
            "1 publisher -> 1 subscriber, 16 B",
        ),
        s(
            "pubsub-16k",
            Kind::PubSub,
            16384,
            1,
            1,
            200_000,
            1_000,
            "1 publisher -> 1 subscriber, 16 KiB",
        ),
        s(
            "fanout-4",
            Kind::PubSub,
            16,
            1,
            4,
            2_000_000,
            10_000,
            "1 publisher -> 4 subscribers, 16 B (rate = delivered)",
        ),
        s(
            "queue-4",
            Kind::Queue,
            16,
            1,
            4,
            5_000_000,
            20_000,
            "1 publisher -> queue group of 4, 16 B",
        ),
        s(
            "many-4x4",
            Kind::PubSub,
            16,
            4,
            4,
            2_000_000,
            10_000,
            "4 publishers -> 4 subscribers on one subject, 16 B (rate = delivered)",
        ),
        s(
            "wildcard",
            Kind::Wildcard,
            16,
            1,
            1,
            1_000_000,
            20_000,
            "10,000 subs (literal, a.*.c, *.b.c, a.b.>), 10^6 distinct subjects (rate = published)",
        ),
        s(
            "reqrep",
            Kind::ReqReply,
            16,
            1,
            1,
            20_000,
            200,
            "sequential request/reply, 16 B (latency percentiles)",
        ),
        // The same as pub-16, pubsub-16 and pubsub-16k over the WebSocket listener.
        Scenario {
            transport: Transport::WebSocket,
            ..s(
                "ws-pub-16",
                Kind::Pub,
                16,
                1,
                0,
                10_000_000,
                20_000,
                "WebSocket: publish only, 16 B",
            )
        },
        Scenario {
            transport: Transport::WebSocket,
            ..s(
                "ws-pubsub-16",
                Kind::PubSub,
                16,
                1,
                1,
                5_000_000,
                20_000,
                "WebSocket: 1 publisher -> 1 subscriber, 16 B",
            )
        },
        Scenario {
            transport: Transport::WebSocket,
            ..s(
                "ws-pubsub-16k",
                Kind::PubSub,
                16384,
                1,
                1,
                200_000,
                1_000,
                "WebSocket: 1 publisher -> 1 subscriber, 16 KiB",
            )
        },
        // The same over TLS on the client port (a top-level `tls` block); the 16 KiB one
        // with half the count: the generator encrypts and decrypts every byte too, on the
        // same cores.
        Scenario {
            transport: Transport::Tls,
            ..s(
                "tls-pub-16",
                Kind::Pub,
                16,
                1,
                0,
                10_000_000,
                20_000,
                "TLS: publish only, 16 B",
            )
        },
        Scenario {
            transport: Transport::Tls,
            ..s(
                "tls-pubsub-16",
                Kind::PubSub,
                16,
                1,
                1,
                5_000_000,
                20_000,
                "TLS: 1 publisher -> 1 subscriber, 16 B",
            )
        },
        Scenario {
            transport: Transport::Tls,
            ..s(
                "tls-pubsub-16k",
                Kind::PubSub,
                16384,
                1,
                1,
                100_000,
                1_000,
                "TLS: 1 publisher -> 1 subscriber, 16 KiB",
            )
        },
    ]
}

/// How a run is configured.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Server address.
    pub addr: SocketAddr,
    /// The server's WebSocket listener, for the `ws-` scenarios.
    pub ws_addr: Option<SocketAddr>,
    /// How to speak TLS to `addr`, for the `tls-` scenarios.
    pub tls: Option<TlsClient>,
    /// Server process, for CPU and RSS.
    pub server_pid: Option<u32>,
    /// Time bound of one run (after setup).
    pub timeout: Duration,
    /// Overrides every scenario's count.
    pub count: Option<u64>,
    /// Use the scenarios' smoke counts.
    pub smoke: bool,
    /// Draw a progress bar.
    pub progress: bool,
    /// Flow control: most bytes of published frames a publisher may be ahead of delivery.
    pub window_bytes: usize,
}

/// Request/reply latency percentiles, in microseconds.
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest.
    pub max: f64,
}

/// The connections scenario's measurements.
#[derive(Clone, Debug, Default)]
pub struct ConnStats {
    /// Connections opened.
    pub count: u64,
    /// Seconds to open all of them (each: TCP connect, INFO, CONNECT + SUB + PING, PONG).
    pub connect_secs: f64,
    /// Server RSS before connecting.
    pub rss_before: Option<u64>,
    /// Server RSS with all connections open.
    pub rss_after: Option<u64>,
}

impl ConnStats {
    /// (after − before) / count.
    pub fn rss_per_conn(&self) -> Option<f64> {
        let (b, a) = (self.rss_before?, self.rss_after?);
        Some((a as f64 - b as f64) / self.count.max(1) as f64)
    }
}

/// The result of one scenario run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Scenario name.
    pub scenario: String,
    /// Messages the rate is computed from (published or delivered, per scenario).
    pub msgs: u64,
    /// Messages published.
    pub published: u64,
    /// Messages delivered to subscribers (all verified).
    pub delivered: u64,
    /// Payload bytes per message.
    pub payload: usize,
    /// Seconds from the first publish to the last delivery (or the publishers' PONG).
    pub secs: f64,
    /// Server CPU seconds (utime + stime) during the run.
    pub server_cpu: Option<f64>,
    /// This process's CPU seconds during the run (the generator's own cost).
    pub bench_cpu: Option<f64>,
    /// Request/reply latency.
    pub latency: Option<Latency>,
    /// Connections scenario.
    pub conns: Option<ConnStats>,
    /// TLS scenarios: the negotiated version and cipher suite.
    pub tls: Option<String>,
}

impl Outcome {
    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.msgs as f64 / self.secs.max(1e-9)
    }

    /// Payload bytes per second.
    pub fn bytes_rate(&self) -> f64 {
        self.rate() * self.payload as f64
    }

    /// Server CPU seconds per 10^6 messages.
    pub fn cpu_per_million(&self) -> Option<f64> {
        (self.msgs > 0).then_some(self.server_cpu? * 1e6 / self.msgs as f64)
    }
}

/// Runs `scenario` against the server at `cfg.addr`.
pub fn run(scenario: &Scenario, cfg: &RunConfig) -> BenchResult<Outcome> {
    let count = cfg.count.unwrap_or(if cfg.smoke {
        scenario.smoke_count
    } else {
        scenario.count
    });
    let r = match scenario.kind {
        Kind::Pub | Kind::PubSub | Kind::Queue => {
            uniform_plan(scenario, count).and_then(|plan| run_flow(scenario, cfg, count, plan))
        }
        Kind::Wildcard => run_flow(scenario, cfg, count, wildcard_plan(scenario, count)),
        Kind::ReqReply => run_reqrep(scenario, cfg, count),
        Kind::Connections => run_conns(cfg, count),
    };
    r.map(|mut o| {
        o.scenario = scenario.name.to_string();
        o
    })
    .map_err(|e| format!("scenario {} FAILED: {e}", scenario.name))
}

// ---------------------------------------------------------------------------------------
// Pre-encoded frames.

/// Messages encoded once; publishers write slices of the buffer, cycling. Over TCP an
/// entry is one PUB frame; over WebSocket it is one masked binary frame carrying
/// `msgs_per_entry` identical PUB frames (a last, shorter frame is built when a run's
/// count needs it).
struct Frames {
    buf: Vec<u8>,
    /// `offsets[i]` = start of entry `i`; one extra entry marks the end.
    offsets: Vec<usize>,
    /// Messages in each entry.
    msgs_per_entry: usize,
    /// WebSocket: the one PUB frame every entry repeats (for a shorter last frame).
    ws_op: Option<Vec<u8>>,
}

/// WebSocket frames the publisher writes carry up to this many payload bytes (a 16-bit
/// frame length: 8 header bytes with the mask key).
const WS_FRAME_PAYLOAD: usize = 65_535;

impl Frames {
    fn new(subjects: impl Iterator<Item = Vec<u8>>, payload: &[u8]) -> Frames {
        let mut buf = Vec::new();
        let mut offsets = vec![0];
        for subject in subjects {
            encode::publish(&mut buf, &subject, None, payload);
            offsets.push(buf.len());
        }
        Frames {
            buf,
            offsets,
            msgs_per_entry: 1,
            ws_op: None,
        }
    }

    /// `entries` masked WebSocket frames of as many PUBs to `subject` as fit in
    /// [`WS_FRAME_PAYLOAD`] (at least one), each with its own mask key.
    fn websocket(subject: &[u8], payload: &[u8], entries: usize) -> Frames {
        let mut op = Vec::new();
        encode::publish(&mut op, subject, None, payload);
        let per = (WS_FRAME_PAYLOAD / op.len()).max(1);
        let plain = op.repeat(per);
        let mut keys = ws::FrameEncoder::default();
        let mut buf = Vec::with_capacity(entries * (plain.len() + ws::MAX_CLIENT_HEADER));
        let mut offsets = vec![0];
        for _ in 0..entries {
            ws::mask_frame(&mut buf, ws::OP_BINARY, &plain, keys.key());
            offsets.push(buf.len());
        }
        Frames {
            buf,
            offsets,
            msgs_per_entry: per,
            ws_op: Some(op),
        }
    }

    /// Messages in one pass over the buffer.
    fn len(&self) -> usize {
        (self.offsets.len() - 1) * self.msgs_per_entry
    }

    /// Encoded bytes per message.
    fn bytes_per_msg(&self) -> usize {
        (self.buf.len() / self.len()).max(1)
    }

    /// The bytes of messages `first..` (`first` is where the last batch ended) that fit
    /// in `max_bytes` (at least one entry), capped at `max_msgs`, and how many messages
    /// they carry. A WebSocket tail shorter than an entry is framed into `scratch`.
    fn batch<'a>(
        &'a self,
        first: usize,
        max_msgs: u64,
        max_bytes: usize,
        scratch: &'a mut Vec<u8>,
    ) -> (&'a [u8], usize) {
        let per_entry = self.msgs_per_entry;
        if max_msgs < per_entry as u64 {
            if let Some(op) = &self.ws_op {
                let n = max_msgs as usize;
                scratch.clear();
                let key = ws::FrameEncoder::default().key();
                ws::mask_frame(scratch, ws::OP_BINARY, &op.repeat(n), key);
                return (scratch, n);
            }
        }
        let first = first / per_entry;
        let max_entries = max_msgs / per_entry as u64;
        let entries = self.offsets.len() - 1;
        let start = self.offsets[first];
        let mut end_entry = first + 1;
        let limit = (first as u64 + max_entries).min(entries as u64) as usize;
        // Entries of one scenario are mostly of equal size: jump, then adjust.
        let per = (self.offsets[first + 1] - start).max(1);
        let guess = (first + max_bytes / per).clamp(end_entry, limit);
        end_entry = end_entry.max(guess);
        while end_entry > first + 1 && self.offsets[end_entry] - start > max_bytes {
            end_entry -= 1;
        }
        (
            &self.buf[start..self.offsets[end_entry]],
            (end_entry - first) * per_entry,
        )
    }
}

/// Total deliveries expected once each publisher has sent its first `n` frames.
type DeliveriesOf = dyn Fn(u64) -> u64 + Send + Sync;

/// A publisher's flow control: expected deliveries, window in frames, publisher count.
type FlowControl<'a> = (&'a DeliveriesOf, u64, u64);

/// Who publishes what, who subscribes to what, and what each subscriber must receive.
struct Plan {
    frames: Arc<Frames>,
    /// Subscriptions per subscriber connection: (subject, queue).
    subs: Vec<Vec<(String, Option<String>)>>,
    /// Messages each publisher sends.
    per_pub: u64,
    /// Exact messages each subscriber must receive (`None`: only the total is known, as
    /// in a queue group).
    per_sub: Vec<Option<u64>>,
    /// Exact total deliveries.
    total: u64,
    /// Deliveries caused by the first `n` frames of one publisher's stream (flow control).
    deliveries_of: Arc<DeliveriesOf>,
    /// Count the rate from publishes (true) or deliveries.
    rate_from_published: bool,
}

fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

fn uniform_plan(s: &Scenario, count: u64) -> BenchResult<Plan> {
    let subject = format!("bench.{}", s.name);
    let pay = payload(s.payload);
    // Enough frames for one ~1 MiB buffer; it is written over and over.
    let frames = Arc::new(match s.transport {
        Transport::Tcp | Transport::Tls => {
            let frame_len = subject.len() + s.payload + 16;
            let n = (1024 * 1024 / frame_len).clamp(1, 1 << 16);
            Frames::new(std::iter::repeat_n(subject.clone().into_bytes(), n), &pay)
        }
        Transport::WebSocket => {
            let entries = (1024 * 1024 / WS_FRAME_PAYLOAD).max(1);
            Frames::websocket(subject.as_bytes(), &pay, entries)
        }
    });
    let pubs = s.pubs.max(1) as u64;
    if count % pubs != 0 {
        return Err(format!(
            "count {count} is not a multiple of {pubs} publishers"
        ));
    }
    let per_pub = count / pubs;
    let (subs, per_sub, total, fan) = match s.kind {
        Kind::Pub => (Vec::new(), Vec::new(), 0, 0),
        Kind::PubSub => (
            vec![vec![(subject.clone(), None)]; s.subs],
            vec![Some(count); s.subs],
            count * s.subs as u64,
            s.subs as u64,
        ),
        Kind::Queue => (
            vec![vec![(subject.clone(), Some("workers".to_string()))]; s.subs],
            vec![None; s.subs],
            count,
            1,
        ),
        _ => unreachable!("not a uniform scenario"),
    };
    Ok(Plan {
        frames,
        subs,
        per_pub,
        per_sub,
        total,
        deliveries_of: Arc::new(move |n| n * fan * pubs),
        rate_from_published: s.kind == Kind::Pub,
    })
}

/// splitmix64: a small deterministic generator, so every run (and both servers) sees the
/// same subscriptions and publish order.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Tokens per level of the wildcard subjects `a<i>.b<j>.c<k>`: 100^3 = 10^6 subjects.
const TOKENS: usize = 100;
/// Subscriptions of each of the four shapes.
const PER_SHAPE: usize = 2_500;

/// 2,500 subscriptions of each shape — `a.b.c` (literal), `a.*.c`, `*.b.c`, `a.b.>` —
/// over the subject space `a0..a99 . b0..b99 . c0..c99`, publishing to every subject
/// once in a shuffled order. Each subject gets 0–4 matches (0.75 on average); the exact
/// total is computed here and checked.
fn wildcard_plan(s: &Scenario, count: u64) -> Plan {
    let mut rng = Rng(0x5EED);
    let mut pick = |space: usize| {
        let mut chosen = vec![false; space];
        let mut left = PER_SHAPE;
        while left > 0 {
            let i = rng.below(space);
            if !chosen[i] {
                chosen[i] = true;
                left -= 1;
            }
        }
        chosen
    };
    let literal = pick(TOKENS * TOKENS * TOKENS);
    let a_star_c = pick(TOKENS * TOKENS);
    let star_b_c = pick(TOKENS * TOKENS);
    let a_b_gt = pick(TOKENS * TOKENS);
    let mut subs = Vec::with_capacity(PER_SHAPE * 4);
    for (i, &on) in literal.iter().enumerate() {
        if on {
            let (a, b, c) = (i / (TOKENS * TOKENS), i / TOKENS % TOKENS, i % TOKENS);
            subs.push((format!("a{a}.b{b}.c{c}"), None));
        }
    }
    for (i, &on) in a_star_c.iter().enumerate() {
        if on {
            subs.push((format!("a{}.*.c{}", i / TOKENS, i % TOKENS), None));
        }
    }
    for (i, &on) in star_b_c.iter().enumerate() {
        if on {
            subs.push((format!("*.b{}.c{}", i / TOKENS, i % TOKENS), None));
        }
    }
    for (i, &on) in a_b_gt.iter().enumerate() {
        if on {
            subs.push((format!("a{}.b{}.>", i / TOKENS, i % TOKENS), None));
        }
    }
    // Publish order: a shuffle of all 10^6 subjects (so consecutive publishes share no
    // cache entry).
    let space = TOKENS * TOKENS * TOKENS;
    let mut order: Vec<u32> = (0..space as u32).collect();
    for i in (1..space).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let matches = |i: usize| -> u64 {
        let (a, b, c) = (i / (TOKENS * TOKENS), i / TOKENS % TOKENS, i % TOKENS);
        u64::from(literal[i])
            + u64::from(a_star_c[a * TOKENS + c])
            + u64::from(star_b_c[b * TOKENS + c])
            + u64::from(a_b_gt[a * TOKENS + b])
    };
    // prefix[n] = deliveries caused by the first n frames.
    let mut prefix = Vec::with_capacity(space + 1);
    prefix.push(0u64);
    for &i in &order {
        prefix.push(prefix.last().copied().unwrap_or(0) + matches(i as usize));
    }
    let per_cycle = prefix[space];
    let deliveries_of = move |n: u64| -> u64 {
        per_cycle * (n / space as u64) + prefix[(n % space as u64) as usize]
    };
    let total = deliveries_of(count);
    let frames = Frames::new(
        order.iter().map(|&i| {
            let i = i as usize;
            let (a, b, c) = (i / (TOKENS * TOKENS), i / TOKENS % TOKENS, i % TOKENS);
            format!("a{a}.b{b}.c{c}").into_bytes()
        }),
        &payload(s.payload),
    );
    Plan {
        frames: Arc::new(frames),
        subs: vec![subs],
        per_pub: count,
        per_sub: vec![Some(total)],
        total,
        deliveries_of: Arc::new(deliveries_of),
        rate_from_published: true,
    }
}

// ---------------------------------------------------------------------------------------
// Publish/subscribe runs.

/// State shared by the threads of one run.
struct Shared {
    /// Frames written so far by all publishers (progress; flow control).
    published: AtomicU64,
    /// Messages received so far by all subscribers.
    delivered: AtomicU64,
    /// Publishers that have received the PONG after their last PUB.
    pubs_done: AtomicUsize,
    /// Set on the first failure so every thread stops.
    failed: AtomicBool,
    /// When `delivered` reached the expected total.
    all_delivered_at: Mutex<Option<Instant>>,
    progress: Arc<AtomicU64>,
}

fn run_flow(s: &Scenario, cfg: &RunConfig, count: u64, plan: Plan) -> BenchResult<Outcome> {
    let addr = match s.transport {
        Transport::Tcp => cfg.addr,
        Transport::WebSocket => cfg.ws_addr.ok_or(
            "needs the server's WebSocket listener: pass --ws host:port \
             (a `websocket { port: N, no_tls: true }` block in its config)",
        )?,
        Transport::Tls => {
            if cfg.tls.is_none() {
                return Err("needs a server that requires TLS: pass --tls \
                     (a `tls { cert_file, key_file }` block in its config)"
                    .into());
            }
            cfg.addr
        }
    };
    let connect = || Conn::open(addr, s.transport, cfg.tls.as_ref(), SETUP_TIMEOUT, &[]);
    let setup_deadline = Instant::now() + SETUP_TIMEOUT;
    // Subscribers first, each confirmed by a PONG so no message can precede its SUB.
    let mut sub_conns = Vec::new();
    for subs in &plan.subs {
        let mut conn = connect()?;
        let mut lines = Vec::new();
        for (sid, (subject, queue)) in subs.iter().enumerate() {
            encode::sub(
                &mut lines,
                subject.as_bytes(),
                queue.as_deref().map(str::as_bytes),
                (sid + 1).to_string().as_bytes(),
            );
        }
        conn.write_all(&lines)?;
        conn.ping_pong(setup_deadline.saturating_duration_since(Instant::now()))?;
        conn.set_read_timeout(POLL)?;
        sub_conns.push(conn);
    }
    let mut pub_conns = Vec::new();
    for _ in 0..s.pubs.max(1) {
        let conn = connect()?;
        conn.set_write_timeout(cfg.timeout)?;
        pub_conns.push(conn);
    }
    let n_pubs = pub_conns.len();
    let tls = pub_conns.first().and_then(Conn::tls_session);
    let (progress_total, unit) = if plan.rate_from_published {
        (count, "msgs")
    } else {
        (plan.total, "msgs")
    };
    let progress = Progress::new(s.name.to_string(), progress_total, unit, cfg.progress);
    let shared = Arc::new(Shared {
        published: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        pubs_done: AtomicUsize::new(0),
        failed: AtomicBool::new(false),
        all_delivered_at: Mutex::new(None),
        progress: progress.counter(),
    });
    let window_frames = (cfg.window_bytes / plan.frames.bytes_per_msg()).max(1024) as u64;
    let start_line = Arc::new(Barrier::new(n_pubs + 1));

    let mut pub_threads = Vec::new();
    for conn in pub_conns {
        let frames = plan.frames.clone();
        let shared = shared.clone();
        let start_line = start_line.clone();
        let deliveries_of = plan.deliveries_of.clone();
        let per_pub = plan.per_pub;
        let rate_from_published = plan.rate_from_published;
        let flow_controlled = !plan.subs.is_empty();
        let deadline_after = cfg.timeout;
        pub_threads.push(std::thread::spawn(move || {
            start_line.wait();
            let r = publish(
                conn,
                &frames,
                per_pub,
                &shared,
                flow_controlled.then_some((&*deliveries_of, window_frames, n_pubs as u64)),
                rate_from_published,
                Instant::now() + deadline_after,
            );
            if r.is_err() {
                shared.failed.store(true, Ordering::Relaxed);
            }
            r
        }));
    }
    let mut sub_threads = Vec::new();
    for (conn, expected) in sub_conns.into_iter().zip(plan.per_sub.iter().copied()) {
        let shared = shared.clone();
        let total = plan.total;
        let rate_from_published = plan.rate_from_published;
        let deadline_after = cfg.timeout;
        sub_threads.push(std::thread::spawn(move || {
            let r = subscribe(
                conn,
                expected,
                total,
                n_pubs,
                &shared,
                rate_from_published,
                Instant::now() + deadline_after + SETUP_TIMEOUT,
            );
            if r.is_err() {
                shared.failed.store(true, Ordering::Relaxed);
            }
            r
        }));
    }

    let cpu_before = procstat::cpu_seconds(cfg.server_pid);
    let own_before = procstat::cpu_seconds(None);
    let started = Instant::now();
    start_line.wait();
    let mut errors = Vec::new();
    let mut pubs_finished = started;
    for t in pub_threads {
        match t.join() {
            Ok(Ok(at)) => pubs_finished = pubs_finished.max(at),
            Ok(Err(e)) => errors.push(format!("publisher: {e}")),
            Err(_) => errors.push("publisher thread panicked".into()),
        }
    }
    let mut received = Vec::new();
    for t in sub_threads {
        match t.join() {
            Ok(Ok(n)) => received.push(n),
            Ok(Err(e)) => errors.push(format!("subscriber: {e}")),
            Err(_) => errors.push("subscriber thread panicked".into()),
        }
    }
    let cpu_after = procstat::cpu_seconds(cfg.server_pid);
    let own_after = procstat::cpu_seconds(None);
    drop(progress);
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    // Exact delivery counts.
    for (i, (got, want)) in received.iter().zip(&plan.per_sub).enumerate() {
        if let Some(want) = want {
            if got != want {
                return Err(format!(
                    "subscriber {i} received {got} messages, expected exactly {want}"
                ));
            }
        }
    }
    let delivered: u64 = received.iter().sum();
    if delivered != plan.total {
        return Err(format!(
            "subscribers received {delivered} messages in total ({received:?}), expected exactly {}",
            plan.total
        ));
    }
    let ended = if plan.subs.is_empty() {
        pubs_finished
    } else {
        // The rate counts until the last expected delivery arrived.
        let at = *shared
            .all_delivered_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        at.unwrap_or(pubs_finished)
    };
    let published = plan.per_pub * n_pubs as u64;
    Ok(Outcome {
        scenario: String::new(),
        msgs: if plan.rate_from_published {
            published
        } else {
            delivered
        },
        published,
        delivered,
        payload: s.payload,
        secs: ended.duration_since(started).as_secs_f64(),
        server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        bench_cpu: own_before.zip(own_after).map(|(b, a)| a - b),
        latency: None,
        conns: None,
        tls,
    })
}

/// Writes `count` frames (cycling through `frames`), then PING, and returns when the PONG
/// arrives: by then the server has processed every PUB.
fn publish(
    mut conn: Conn,
    frames: &Frames,
    count: u64,
    shared: &Shared,
    flow: Option<FlowControl<'_>>,
    count_progress: bool,
    deadline: Instant,
) -> BenchResult<Instant> {
    let mut sent = 0u64;
    let mut next = 0usize;
    let mut scratch = Vec::new();
    while sent < count {
        if let Some((deliveries_of, window, pubs)) = flow {
            // Stay at most `window` frames ahead of what the subscribers have received,
            // so the server never has to buffer (or drop) a backlog for a slow reader.
            loop {
                let published = shared.published.load(Ordering::Relaxed) / pubs;
                let lag_start = published.saturating_sub(window);
                if shared.delivered.load(Ordering::Relaxed) >= deliveries_of(lag_start) {
                    break;
                }
                if shared.failed.load(Ordering::Relaxed) {
                    return Err("stopped: another thread failed".into());
                }
                if Instant::now() >= deadline {
                    return Err(format!("timed out after publishing {sent} of {count}"));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
        }
        let (bytes, n) = frames.batch(next, count - sent, WRITE_BYTES, &mut scratch);
        conn.write_encoded(bytes)
            .map_err(|e| format!("after {sent} of {count} messages: {e}"))?;
        sent += n as u64;
        next = (next + n) % frames.len();
        shared.published.fetch_add(n as u64, Ordering::Relaxed);
        if count_progress {
            shared.progress.fetch_add(n as u64, Ordering::Relaxed);
        }
        if shared.failed.load(Ordering::Relaxed) {
            return Err("stopped: another thread failed".into());
        }
    }
    conn.ping_pong(deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| format!("flush barrier after {count} messages: {e}"))?;
    let done_at = Instant::now();
    shared.pubs_done.fetch_add(1, Ordering::Release);
    conn.close();
    Ok(done_at)
}

/// Counts MSGs until every publisher is done and this connection's own PING has been
/// answered (so nothing routed to it can still be in flight). Returns the count.
fn subscribe(
    mut conn: Conn,
    expected: Option<u64>,
    expected_total: u64,
    pubs: usize,
    shared: &Shared,
    count_progress: bool,
    deadline: Instant,
) -> BenchResult<u64> {
    let mut got = 0u64;
    let mut reported = 0u64;
    let mut pinged = false;
    let mut ponged = false;
    loop {
        conn.poll(|op| match op {
            ServerOp::Msg { .. } => {
                got += 1;
                Ok(Flow::Continue)
            }
            ServerOp::Pong => {
                ponged = true;
                Ok(Flow::Stop)
            }
            ServerOp::Ping | ServerOp::Info { .. } | ServerOp::Ok => Ok(Flow::Continue),
            other => Err(format!("unexpected {other:?}")),
        })
        .map_err(|e| format!("after {got} messages: {e}"))?;
        if got != reported {
            let delta = got - reported;
            reported = got;
            let before = shared.delivered.fetch_add(delta, Ordering::Relaxed);
            if before < expected_total && before + delta >= expected_total {
                *shared
                    .all_delivered_at
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
            }
            if !count_progress {
                shared.progress.fetch_add(delta, Ordering::Relaxed);
            }
        }
        if let Some(want) = expected {
            if got > want {
                return Err(format!("received {got} messages, expected exactly {want}"));
            }
        }
        if ponged {
            return Ok(got);
        }
        if !pinged && shared.pubs_done.load(Ordering::Acquire) == pubs {
            conn.write_all(b"PING\r\n")?;
            pinged = true;
        }
        if shared.failed.load(Ordering::Relaxed) {
            return Err(format!(
                "stopped after {got} messages: another thread failed"
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out with {got} messages received (expected {})",
                expected.map_or("a share of the total".to_string(), |w| w.to_string())
            ));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Request/reply.

/// Requests sent before measuring.
const WARMUP_REQUESTS: u64 = 500;

fn run_reqrep(s: &Scenario, cfg: &RunConfig, count: u64) -> BenchResult<Outcome> {
    const SERVICE: &str = "bench.service";
    const INBOX: &str = "_INBOX.rnats-bench.reply";
    let mut responder = Conn::connect(cfg.addr, SETUP_TIMEOUT)?;
    responder.sub(SERVICE, None, 1)?;
    responder.ping_pong(SETUP_TIMEOUT)?;
    responder.set_read_timeout(POLL)?;
    let mut requester = Conn::connect(cfg.addr, SETUP_TIMEOUT)?;
    requester.sub(INBOX, None, 1)?;
    requester.ping_pong(SETUP_TIMEOUT)?;
    let stop = Arc::new(AtomicBool::new(false));
    let answered = {
        let stop = stop.clone();
        std::thread::spawn(move || -> BenchResult<u64> {
            let mut out = Vec::with_capacity(4096);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                responder.poll(|op| {
                    if let ServerOp::Msg {
                        reply: Some(reply),
                        payload,
                        ..
                    } = op
                    {
                        encode::publish(&mut out, reply, None, payload);
                        n += 1;
                    }
                    Ok(Flow::Continue)
                })?;
                if !out.is_empty() {
                    responder.write_all(&out)?;
                    out.clear();
                }
            }
            Ok(n)
        })
    };
    let mut request = Vec::new();
    encode::publish(
        &mut request,
        SERVICE.as_bytes(),
        Some(INBOX.as_bytes()),
        &payload(s.payload),
    );
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)
        .map_err(|e| format!("histogram: {e}"))?;
    let progress = Progress::new(s.name.to_string(), count, "reqs", cfg.progress);
    let counter = progress.counter();
    let deadline = Instant::now() + cfg.timeout;
    let mut result = Ok(());
    let mut started = Instant::now();
    let mut cpu_before = None;
    let mut own_before = None;
    for i in 0..WARMUP_REQUESTS + count {
        if i == WARMUP_REQUESTS {
            cpu_before = procstat::cpu_seconds(cfg.server_pid);
            own_before = procstat::cpu_seconds(None);
            started = Instant::now();
        }
        let t0 = Instant::now();
        if let Err(e) = requester.write_all(&request).and_then(|()| {
            requester.read_until(deadline, |op| match op {
                ServerOp::Msg { .. } => Ok(Flow::Stop),
                ServerOp::Ping | ServerOp::Info { .. } | ServerOp::Ok => Ok(Flow::Continue),
                other => Err(format!("unexpected {other:?}")),
            })
        }) {
            result = Err(format!("request {i}: {e}"));
            break;
        }
        if i >= WARMUP_REQUESTS {
            let nanos = t0.elapsed().as_nanos().clamp(1, 60_000_000_000) as u64;
            let _ = hist.record(nanos);
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = procstat::cpu_seconds(cfg.server_pid);
    let own_after = procstat::cpu_seconds(None);
    drop(progress);
    // The requester's own PING proves no stray reply is still queued for it.
    let extra = if result.is_ok() {
        requester.write_all(b"PING\r\n")?;
        let mut extra = 0u64;
        requester.read_until(Instant::now() + SETUP_TIMEOUT, |op| match op {
            ServerOp::Msg { .. } => {
                extra += 1;
                Ok(Flow::Continue)
            }
            ServerOp::Pong => Ok(Flow::Stop),
            _ => Ok(Flow::Continue),
        })?;
        extra
    } else {
        0
    };
    stop.store(true, Ordering::Relaxed);
    let answered = answered
        .join()
        .map_err(|_| "responder thread panicked".to_string())??;
    result?;
    let total = WARMUP_REQUESTS + count;
    if answered != total || extra != 0 {
        return Err(format!(
            "responder answered {answered} requests and the requester got {extra} extra replies; expected exactly {total} and 0"
        ));
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    Ok(Outcome {
        scenario: String::new(),
        msgs: count,
        published: count * 2,
        delivered: count * 2,
        payload: s.payload,
        secs,
        server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        bench_cpu: own_before.zip(own_after).map(|(b, a)| a - b),
        latency: Some(Latency {
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p999: us(0.999),
            max: hist.max() as f64 / 1000.0,
        }),
        conns: None,
        tls: None,
    })
}

// ---------------------------------------------------------------------------------------
// Idle connections.

/// Pause before sampling RSS, so the server has finished setting the connections up.
const RSS_SETTLE: Duration = Duration::from_millis(500);

fn run_conns(cfg: &RunConfig, count: u64) -> BenchResult<Outcome> {
    raise_fd_limit(count);
    let rss_before = cfg.server_pid.and_then(procstat::rss_bytes);
    let cpu_before = procstat::cpu_seconds(cfg.server_pid);
    let own_before = procstat::cpu_seconds(None);
    let progress = Progress::new("conns".into(), count, "conns", cfg.progress);
    let counter = progress.counter();
    let deadline = Instant::now() + cfg.timeout;
    let started = Instant::now();
    let mut conns = Vec::with_capacity(count as usize);
    let mut sub = Vec::new();
    for i in 0..count {
        if Instant::now() >= deadline {
            return Err(format!("timed out after {i} of {count} connections"));
        }
        sub.clear();
        encode::sub(&mut sub, format!("bench.idle.{i}").as_bytes(), None, b"1");
        let conn = Conn::connect_with(cfg.addr, SETUP_TIMEOUT, &sub)
            .map_err(|e| format!("connection {i} of {count}: {e}"))?;
        conns.push(conn);
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let connect_secs = started.elapsed().as_secs_f64();
    let cpu_after = procstat::cpu_seconds(cfg.server_pid);
    let own_after = procstat::cpu_seconds(None);
    drop(progress);
    std::thread::sleep(RSS_SETTLE);
    let rss_after = cfg.server_pid.and_then(procstat::rss_bytes);

    // Every subscription is live: one message each, received exactly once.
    let mut publisher = Conn::connect(cfg.addr, SETUP_TIMEOUT)?;
    let mut frames = Vec::new();
    for i in 0..count {
        encode::publish(
            &mut frames,
            format!("bench.idle.{i}").as_bytes(),
            None,
            b"x",
        );
    }
    publisher.write_all(&frames)?;
    publisher.ping_pong(SETUP_TIMEOUT)?;
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.write_all(b"PING\r\n")?;
        let mut got = 0;
        conn.read_until(Instant::now() + SETUP_TIMEOUT, |op| match op {
            ServerOp::Msg { .. } => {
                got += 1;
                Ok(Flow::Continue)
            }
            ServerOp::Pong => Ok(Flow::Stop),
            _ => Ok(Flow::Continue),
        })
        .map_err(|e| format!("idle connection {i}: {e}"))?;
        if got != 1 {
            return Err(format!(
                "idle connection {i} received {got} messages, expected exactly 1"
            ));
        }
    }
    for c in conns {
        c.close();
    }
    publisher.close();
    Ok(Outcome {
        scenario: String::new(),
        msgs: count,
        published: count,
        delivered: count,
        payload: 0,
        secs: connect_secs,
        server_cpu: cpu_before.zip(cpu_after).map(|(b, a)| a - b),
        bench_cpu: own_before.zip(own_after).map(|(b, a)| a - b),
        latency: None,
        conns: Some(ConnStats {
            count,
            connect_secs,
            rss_before,
            rss_after,
        }),
        tls: None,
    })
}

/// Lifts the soft open-files limit to the hard one when `count` sockets need it.
pub fn raise_fd_limit(count: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass. (Exercised by the
    // conns scenario in tests/smoke.rs.)
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0
            && lim.rlim_cur < count + 256
            && lim.rlim_cur < lim.rlim_max
        {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
