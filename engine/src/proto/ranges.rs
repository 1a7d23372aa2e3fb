//! Where a parsed op's parts lie in the receive buffer.
//!
//! The parsers hand out sub-slices of the buffer they were given. To keep a message
//! without copying, a receiver records those parts as offsets, ends the borrow, splits the
//! buffer and slices the parts out of the frozen frame — these helpers do the first step.

use super::ServerOp;
use core::ops::Range;

/// The range `part` occupies inside `base` (`part` must be a sub-slice of `base`).
pub fn range_in(base: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

/// A decimal `u64` (a sid or a token); `None` if it is not one.
pub fn parse_decimal_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A `MSG`/`HMSG` with its parts as ranges into the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsgRanges {
    /// Subject.
    pub subject: Range<usize>,
    /// Subscription id, if it is a decimal number (every sid a client hands out is).
    pub sid: Option<u64>,
    /// Reply subject.
    pub reply: Option<Range<usize>>,
    /// Header block (`HMSG` only).
    pub headers: Option<Range<usize>>,
    /// Payload.
    pub payload: Range<usize>,
}

impl ServerOp<'_> {
    /// For a `MSG` or `HMSG` parsed from `base`: where its parts lie in `base`.
    pub fn msg_ranges(&self, base: &[u8]) -> Option<MsgRanges> {
        let (subject, sid, reply, headers, payload) = match *self {
            ServerOp::Msg {
                subject,
                sid,
                reply,
                payload,
            } => (subject, sid, reply, None, payload),
            ServerOp::HMsg {
                subject,
                sid,
                reply,
                headers,
                payload,
            } => (subject, sid, reply, Some(headers), payload),
            _ => return None,
        };
        Some(MsgRanges {
            subject: range_in(base, subject),
            sid: parse_decimal_u64(sid),
            reply: reply.map(|r| range_in(base, r)),
            headers: headers.map(|h| range_in(base, h)),
            payload: range_in(base, payload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{ClientParser, ParserLimits};

    #[test]
    fn hmsg_parts_are_found_in_the_buffer() {
        let buf = b"HMSG a.b 7 r 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
        let mut parser = ClientParser::new(ParserLimits::DEFAULT);
        let (op, consumed) = parser.parse(buf).unwrap().unwrap();
        assert_eq!(consumed, buf.len());
        let ranges = op.msg_ranges(buf).unwrap();
        assert_eq!(&buf[ranges.subject], b"a.b");
        assert_eq!(ranges.sid, Some(7));
        assert_eq!(&buf[ranges.reply.unwrap()], b"r");
        assert_eq!(&buf[ranges.headers.unwrap()], b"NATS/1.0\r\n\r\n");
        assert_eq!(&buf[ranges.payload], b"hi");
    }

    #[test]
    fn only_messages_have_ranges() {
        assert_eq!(ServerOp::Ping.msg_ranges(b"PING\r\n"), None);
    }

    #[test]
    fn decimal_ids() {
        assert_eq!(parse_decimal_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal_u64(b"18446744073709551616"), None);
        assert_eq!(parse_decimal_u64(b""), None);
        assert_eq!(parse_decimal_u64(b"1x"), None);
    }
}
