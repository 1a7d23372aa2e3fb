//! Parser throughput: streams of identical PUB / HPUB frames through `ServerParser`, as a
//! connection's read loop feeds them (parse, advance, repeat).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rnats_engine::proto::{ClientOp, ParserLimits, ServerParser};
use std::hint::black_box;

/// Bytes of frames parsed per iteration (about a few socket reads).
const STREAM_BYTES: usize = 256 * 1024;

/// Whole frames, back to back, filling about `STREAM_BYTES`; and how many there are.
fn stream(frame: &[u8]) -> (Vec<u8>, u64) {
    let frames = STREAM_BYTES.div_ceil(frame.len());
    (frame.repeat(frames), frames as u64)
}

fn pub_frame(payload: usize) -> Vec<u8> {
    let mut f = format!("PUB bench.subject.x {payload}\r\n").into_bytes();
    f.resize(f.len() + payload, b'x');
    f.extend_from_slice(b"\r\n");
    f
}

fn hpub_frame(payload: usize) -> Vec<u8> {
    let headers = b"NATS/1.0\r\nBench: 1\r\n\r\n";
    let total = headers.len() + payload;
    let mut f = format!(
        "HPUB bench.subject.x reply.inbox {} {total}\r\n",
        headers.len()
    )
    .into_bytes();
    f.extend_from_slice(headers);
    f.resize(f.len() + payload, b'x');
    f.extend_from_slice(b"\r\n");
    f
}

/// Parse every op of `buf`; returns the payload bytes seen (so nothing is optimised away).
fn parse_all(parser: &mut ServerParser, buf: &[u8]) -> usize {
    let mut pos = 0;
    let mut seen = 0;
    while let Ok(Some((op, consumed))) = parser.parse(&buf[pos..]) {
        if let ClientOp::Pub { payload, .. } | ClientOp::HPub { payload, .. } = black_box(op) {
            seen += payload.len();
        }
        pos += consumed;
    }
    assert_eq!(pos, buf.len(), "the whole stream parses");
    seen
}

fn parser(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    let cases = [
        ("pub_16B", pub_frame(16)),
        ("pub_1KiB", pub_frame(1024)),
        ("hpub_reply_16B", hpub_frame(16)),
    ];
    for (name, frame) in cases {
        let (buf, frames) = stream(&frame);
        group.throughput(Throughput::ElementsAndBytes {
            elements: frames,
            bytes: buf.len() as u64,
        });
        let mut parser = ServerParser::new(ParserLimits::DEFAULT);
        group.bench_function(name, |b| b.iter(|| parse_all(&mut parser, black_box(&buf))));
    }
    group.finish();
}

criterion_group!(benches, parser);
criterion_main!(benches);
