//! MSG / HMSG encoding as the server delivers: control line (`proto::encode::msg_line`,
//! `hmsg_line`), then payload and CRLF, appended to a reused outbound buffer.

use bytes::{BufMut, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnats_engine::proto::encode;
use std::hint::black_box;

/// Messages encoded per iteration (one batch of deliveries).
const BATCH: usize = 1000;

const SUBJECT: &[u8] = b"bench.subject.x";
const SID: &[u8] = b"42";
const HEADERS: &[u8] = b"NATS/1.0\r\nBench: 1\r\n\r\n";

/// Name, payload, reply subject, whether it is an HMSG.
type Case<'a> = (&'a str, &'a [u8], Option<&'a [u8]>, bool);

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode");
    let payload_16 = vec![b'x'; 16];
    let payload_1k = vec![b'x'; 1024];
    let reply: &[u8] = b"_INBOX.abcdefghij.1";
    let cases: [Case<'_>; 4] = [
        ("msg_16B", &payload_16, None, false),
        ("msg_1KiB", &payload_1k, None, false),
        ("msg_reply_16B", &payload_16, Some(reply), false),
        ("hmsg_16B", &payload_16, None, true),
    ];
    for (name, payload, reply, headers) in cases {
        let mut out = BytesMut::new();
        let encode_batch = |out: &mut BytesMut| {
            out.clear();
            for _ in 0..BATCH {
                if headers {
                    let total = HEADERS.len() + payload.len();
                    encode::hmsg_line(out, SUBJECT, SID, reply, HEADERS.len(), total);
                    out.put_slice(HEADERS);
                } else {
                    encode::msg_line(out, SUBJECT, SID, reply, payload.len());
                }
                out.put_slice(black_box(payload));
                out.put_slice(b"\r\n");
            }
            out.len()
        };
        let bytes = encode_batch(&mut out) as u64;
        group.throughput(Throughput::ElementsAndBytes {
            elements: BATCH as u64,
            bytes,
        });
        group.bench_function(name, |b| b.iter(|| encode_batch(&mut out)));
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
