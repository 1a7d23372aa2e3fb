//! Encoders for every op (STUB: API fixed, bodies to be written). All write into a
//! caller-owned buffer and allocate nothing beyond its growth.

use bytes::BufMut;

/// `PING\r\n`
pub const PING: &[u8] = b"PING\r\n";
/// `PONG\r\n`
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK\r\n`
pub const OK: &[u8] = b"+OK\r\n";

/// `MSG subject sid [reply] len\r\n` — the control line only.
pub fn msg_line(
    out: &mut impl BufMut,
    subject: &[u8],
    sid: &[u8],
    reply: Option<&[u8]>,
    payload_len: usize,
) {
    let _ = (out, subject, sid, reply, payload_len);
    unimplemented!()
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
    let _ = (out, subject, sid, reply, header_len, total_len);
    unimplemented!()
}
