//! Encoders for every op. All write into a caller-owned [`BufMut`] and allocate nothing
//! beyond its growth (integers are formatted on the stack).
//!
//! Arguments are written as given: callers pass valid subjects, sids and JSON (no blanks
//! or line breaks inside tokens). Like every [`BufMut`] write, these panic only if `out`
//! cannot grow (e.g. a full `&mut [u8]`); `Vec<u8>` and `BytesMut` always grow.

use crate::error::ClientError;
use bytes::BufMut;
use core::fmt;

/// `PING\r\n`
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK\r\n`
pub const OK: &[u8] = b"+OK\r\n";

const CRLF: &[u8] = b"\r\n";

/// Longest decimal `u64`.
const MAX_DIGITS: usize = 20;

/// Write `n` in decimal.
fn put_uint(out: &mut impl BufMut, mut n: u64) {
    let mut digits = [0u8; MAX_DIGITS];
    let mut i = MAX_DIGITS;
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    out.put_slice(digits.get(i..).unwrap_or(&[]));
}

fn put_usize(out: &mut impl BufMut, n: usize) {
    put_uint(out, n as u64);
}

/// ` token` (space first).
fn put_arg(out: &mut impl BufMut, arg: &[u8]) {
    out.put_u8(b' ');
    out.put_slice(arg);
}

/// `MSG subject sid [reply] len\r\n` — the control line only.
pub fn msg_line(
    out: &mut impl BufMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload_len: usize,
) {
    out.put_slice(b"MSG ");
    out.put_slice(subject);
    put_arg(out, sid);
    if let Some(reply) = reply {
        put_arg(out, reply);
    }
    out.put_u8(b' ');
    put_usize(out, payload_len);
    out.put_slice(CRLF);
}

/// `HMSG subject sid [reply] hdr_len total_len\r\n` — the control line only.
pub fn hmsg_line(
    out: &mut impl BufMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    total_len: usize,
) {
    out.put_slice(b"HMSG ");
    out.put_slice(subject);
    put_arg(out, sid);
    if let Some(reply) = reply {
        put_arg(out, reply);
    }
    out.put_u8(b' ');
    put_usize(out, header_len);
    out.put_u8(b' ');
    put_usize(out, total_len);
    out.put_slice(CRLF);
}

/// A whole `MSG`: control line, payload, `\r\n`.
pub fn msg(
    out: &mut impl BufMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload: &[u8],
) {
    msg_line(out, subject, sid, reply, payload.len());
    out.put_slice(payload);
    out.put_slice(CRLF);
}

/// A whole `HMSG`: control line, header block, payload, `\r\n`.
pub fn hmsg(
    out: &mut impl BufMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    hmsg_line(
        out,
        subject,
        sid,
        reply,
        headers.len(),
        headers.len() + payload.len(),
    );
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(CRLF);
}

/// `INFO {json}\r\n`
pub fn info(out: &mut impl BufMut, json: &[u8]) {
    out.put_slice(b"INFO ");
    out.put_slice(json);
    out.put_slice(CRLF);
}

/// Adapts a [`BufMut`] to [`fmt::Write`] without allocating.
struct FmtWriter<'a, B>(&'a mut B);

impl<B: BufMut> fmt::Write for FmtWriter<'_, B> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_slice(s.as_bytes());
        Ok(())
    }
}

/// `-ERR '<text>'\r\n` with nats-server's text for `error`.
pub fn err(out: &mut impl BufMut, error: &ClientError) {
    out.put_slice(b"-ERR '");
    // Writing into a BufMut cannot fail and ClientError's Display never errors.
    let _ = fmt::write(&mut FmtWriter(out), format_args!("{error}"));
    out.put_slice(b"'\r\n");
}

/// `CONNECT {json}\r\n` (client side).
pub fn connect(out: &mut impl BufMut, json: &[u8]) {
    out.put_slice(b"CONNECT ");
    out.put_slice(json);
    out.put_slice(CRLF);
}

/// `PUB subject [reply] len\r\n` — the control line only.
pub fn pub_line(out: &mut impl BufMut, subject: &[u8], reply: Option<&[u8]>, payload_len: usize) {
    out.put_slice(b"PUB ");
    out.put_slice(subject);
    if let Some(reply) = reply {
        put_arg(out, reply);
    }
    out.put_u8(b' ');
    put_usize(out, payload_len);
    out.put_slice(CRLF);
}

/// A whole `PUB`: control line, payload, `\r\n`.
pub fn publish(out: &mut impl BufMut, subject: &[u8], reply: Option<&[u8]>, payload: &[u8]) {
    pub_line(out, subject, reply, payload.len());
    out.put_slice(payload);
    out.put_slice(CRLF);
}

/// `HPUB subject [reply] hdr_len total_len\r\n` — the control line only.
pub fn hpub_line(
    out: &mut impl BufMut,
    subject: &[u8],
    reply: Option<&[u8]>,
    header_len: usize,
    total_len: usize,
) {
    out.put_slice(b"HPUB ");
    out.put_slice(subject);
    if let Some(reply) = reply {
        put_arg(out, reply);
    }
    out.put_u8(b' ');
    put_usize(out, header_len);
    out.put_u8(b' ');
    put_usize(out, total_len);
    out.put_slice(CRLF);
}

/// A whole `HPUB`: control line, header block, payload, `\r\n`.
pub fn hpublish(
    out: &mut impl BufMut,
    subject: &[u8],
    reply: Option<&[u8]>,
    headers: &[u8],
    payload: &[u8],
) {
    hpub_line(
        out,
        subject,
        reply,
        headers.len(),
        headers.len() + payload.len(),
    );
    out.put_slice(headers);
    out.put_slice(payload);
    out.put_slice(CRLF);
}

/// `SUB subject [queue] sid\r\n`
pub fn sub(out: &mut impl BufMut, subject: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
    out.put_slice(b"SUB ");
    out.put_slice(subject);
    if let Some(queue) = queue {
        put_arg(out, queue);
    }
    put_arg(out, sid);
    out.put_slice(CRLF);
}

/// `UNSUB sid [max]\r\n`
pub fn unsub(out: &mut impl BufMut, sid: &[u8], max: Option<u64>) {
    out.put_slice(b"UNSUB ");
    out.put_slice(sid);
    if let Some(max) = max {
        out.put_u8(b' ');
        put_uint(out, max);
    }
    out.put_slice(CRLF);
}
