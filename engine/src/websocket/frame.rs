//! The frame header of RFC 6455 (section 5.2), read and written the same way at either end
//! of a connection: [`parse_header`] reads one, [`encode_header`] writes one and
//! [`apply_mask`] masks or unmasks payload bytes.
//!
//! Only what holds for both ends is checked here. The rules of one end (a server refuses
//! unmasked frames and a client masked ones; reserved bits need a negotiated extension;
//! control frames are short and final; continuations follow an unfinished message) are
//! the caller's, so that each end words its errors as it must (the server exactly as
//! nats-server does).
//!
//! Nothing here allocates: headers are read from and written to the caller's bytes, and
//! payloads are masked in place.

use core::fmt;

/// Opcode of a continuation frame (the rest of a fragmented message).
pub const OP_CONTINUATION: u8 = 0x0;
/// Opcode of a text frame.
pub const OP_TEXT: u8 = 0x1;
/// Opcode of a binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Opcode of a close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Opcode of a ping frame.
pub const OP_PING: u8 = 0x9;
/// Opcode of a pong frame.
pub const OP_PONG: u8 = 0xA;

/// The FIN bit of a header's first byte: the last frame of a message.
pub const FIN_BIT: u8 = 0x80;
/// The three reserved bits (RSV1 to RSV3) of a header's first byte, which only a
/// negotiated extension may set.
pub const RSV_BITS: u8 = 0x70;
/// The bit of a header's second byte that says a masking key follows the length.
pub const MASK_BIT: u8 = 0x80;
/// The opcode bits of a header's first byte.
const OPCODE_BITS: u8 = 0x0F;
/// The 7-bit length field of a header's second byte (126 and 127 announce longer forms).
const LEN7_BITS: u8 = 0x7F;
/// Largest 7-bit length: longer payloads take a 16-bit or 64-bit length.
const MAX_LEN7: u64 = 125;
/// The 7-bit length value announcing a 16-bit length.
const LEN16: u8 = 126;
/// The 7-bit length value announcing a 64-bit length.
const LEN64: u8 = 127;

/// Largest frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER: usize = 14;
/// Largest control frame payload (RFC 6455 section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    /// The reserved bits RSV1 to RSV3, as the low three bits (RSV1 is 4).
    pub rsv: u8,
    /// The opcode (any of the 16 values: which ones are valid is the caller's rule).
    pub opcode: u8,
    /// The masking key, when the mask bit is set.
    pub mask: Option<[u8; 4]>,
    /// Payload length (below 2^63).
    pub len: u64,
    /// Bytes the header takes: the payload starts there.
    pub size: usize,
}

/// A header no end may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// A 64-bit payload length with its most significant bit set, which RFC 6455 section
    /// 5.2 forbids.
    InvalidLength,
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // rnats-ws sends this text as the reason of its protocol-error close frame.
            FrameError::InvalidLength => f.write_str("invalid frame length"),
        }
    }
}

impl core::error::Error for FrameError {}

/// Reads the frame header at the start of `buf`; `Ok(None)` until all of its bytes are
/// there (the payload need not be). The length's top bit is refused as soon as the length
/// is complete, before the masking key arrives.
#[inline]
pub fn parse_header(buf: &[u8]) -> Result<Option<FrameHeader>, FrameError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    let (len, mut size) = match b1 & LEN7_BITS {
        LEN16 => match buf.get(2..4) {
            Some(&[hi, lo]) => (u64::from(u16::from_be_bytes([hi, lo])), 4),
            _ => return Ok(None),
        },
        LEN64 => match buf.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
            Some(bytes) => (u64::from_be_bytes(bytes), 10),
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    if len >> 63 != 0 {
        return Err(FrameError::InvalidLength);
    }
    let mask = if b1 & MASK_BIT != 0 {
        let Some(&[k0, k1, k2, k3]) = buf.get(size..size + 4) else {
            return Ok(None);
        };
        size += 4;
        Some([k0, k1, k2, k3])
    } else {
        None
    };
    Ok(Some(FrameHeader {
        fin: b0 & FIN_BIT != 0,
        rsv: (b0 & RSV_BITS) >> 4,
        opcode: b0 & OPCODE_BITS,
        mask,
        len,
        size,
    }))
}

/// Writes a frame header into `out` and returns its size: the shortest length form for
/// `len` (which must be below 2^63), the mask bit and key when `mask` is given. The payload
/// is not touched: mask it with [`apply_mask`].
#[inline]
pub fn encode_header(
    out: &mut [u8; MAX_HEADER],
    fin: bool,
    opcode: u8,
    len: u64,
    mask: Option<[u8; 4]>,
) -> usize {
    debug_assert!(opcode <= OPCODE_BITS, "opcode {opcode} is not 4 bits");
    debug_assert!(len >> 63 == 0, "frame length {len} has its top bit set");
    out[0] = if fin { FIN_BIT } else { 0 } | opcode;
    let mask_bit = if mask.is_some() { MASK_BIT } else { 0 };
    let mut size = if len <= MAX_LEN7 {
        out[1] = mask_bit | len as u8;
        2
    } else if let Ok(len) = u16::try_from(len) {
        out[1] = mask_bit | LEN16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        out[1] = mask_bit | LEN64;
        out[2..10].copy_from_slice(&len.to_be_bytes());
        10
    };
    if let Some(key) = mask {
        out[size..size + 4].copy_from_slice(&key);
        size += 4;
    }
    size
}

/// XORs `data` with `key`, `data` starting at byte `offset` of the frame payload: masks
/// and unmasks alike (RFC 6455 section 5.3), so a payload can be handled in pieces.
#[inline]
pub fn apply_mask(data: &mut [u8], key: [u8; 4], offset: usize) {
    // Eight bytes at a time with the key lined up to `data[0]`: the compiler vectorizes
    // this, not a byte loop indexing the key (which took a quarter of the server's CPU at
    // 16 KiB messages over WebSocket).
    let mut lined_up = [0u8; 8];
    for (i, k) in lined_up.iter_mut().enumerate() {
        *k = key[(offset + i) & 3];
    }
    let word = u64::from_ne_bytes(lined_up);
    let mut words = data.chunks_exact_mut(8);
    for chunk in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_ne_bytes(w) ^ word).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, so the key still lines up with `lined_up`.
    for (b, k) in words.into_remainder().iter_mut().zip(lined_up) {
        *b ^= k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prelude::*;

    const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

    #[test]
    fn apply_mask_matches_the_byte_definition_at_every_offset_and_length() {
        let key = [0x11, 0x22, 0x33, 0x44];
        let data: Vec<u8> = (0..100u8).collect();
        for offset in 0..8 {
            for len in 0..data.len() {
                let mut fast = data[..len].to_vec();
                apply_mask(&mut fast, key, offset);
                let slow: Vec<u8> = data[..len]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ key[(offset + i) % 4])
                    .collect();
                assert_eq!(fast, slow, "offset {offset}, len {len}");
            }
        }
    }

    #[test]
    fn a_payload_masked_in_pieces_is_masked_as_a_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, KEY, 0);
        for cut in [0, 1, 3, 8, 13, 999, 1000] {
            let mut pieces = data.clone();
            let (a, b) = pieces.split_at_mut(cut);
            apply_mask(a, KEY, 0);
            apply_mask(b, KEY, cut);
            assert_eq!(pieces, whole, "cut at {cut}");
            apply_mask(&mut pieces, KEY, 0);
            assert_eq!(pieces, data, "masking twice gives the bytes back");
        }
    }

    /// The examples of RFC 6455 section 5.7, and their byte-exact headers.
    #[test]
    fn rfc_examples() {
        let mut out = [0u8; MAX_HEADER];
        let n = encode_header(&mut out, true, OP_TEXT, 5, None);
        assert_eq!(out[..n], [0x81, 0x05]);
        let n = encode_header(&mut out, true, OP_TEXT, 5, Some(KEY));
        assert_eq!(out[..n], [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D]);
        let mut hello = *b"Hello";
        apply_mask(&mut hello, KEY, 0);
        assert_eq!(hello, [0x7F, 0x9F, 0x4D, 0x51, 0x58]);
        let n = encode_header(&mut out, false, OP_TEXT, 3, None);
        assert_eq!(out[..n], [0x01, 0x03]);
        let n = encode_header(&mut out, true, OP_CONTINUATION, 2, None);
        assert_eq!(out[..n], [0x80, 0x02]);
        let n = encode_header(&mut out, true, OP_PING, 5, None);
        assert_eq!(out[..n], [0x89, 0x05]);
        let n = encode_header(&mut out, true, OP_BINARY, 256, None);
        assert_eq!(out[..n], [0x82, 0x7E, 0x01, 0x00]);
        let n = encode_header(&mut out, true, OP_BINARY, 65536, None);
        assert_eq!(out[..n], [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);

        let masked = [
            0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58,
        ];
        let h = parse_header(&masked).unwrap().unwrap();
        assert_eq!(
            h,
            FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OP_TEXT,
                mask: Some(KEY),
                len: 5,
                size: 6,
            }
        );
        let mut payload = masked[h.size..].to_vec();
        apply_mask(&mut payload, KEY, 0);
        assert_eq!(payload, b"Hello");
    }

    #[test]
    fn headers_round_trip_in_every_length_form_and_need_all_their_bytes() {
        let lengths = [
            (0, 2),
            (1, 2),
            (125, 2),
            (126, 4),
            (127, 4),
            (1000, 4),
            (65_535, 4),
            (65_536, 10),
            (1 << 32, 10),
            (u64::MAX >> 1, 10),
        ];
        for (len, plain_size) in lengths {
            for mask in [None, Some(KEY), Some([0; 4])] {
                for (fin, opcode) in [(true, OP_BINARY), (false, OP_TEXT), (true, 0xF)] {
                    let mut out = [0u8; MAX_HEADER];
                    let size = encode_header(&mut out, fin, opcode, len, mask);
                    let want_size = plain_size + if mask.is_some() { 4 } else { 0 };
                    assert_eq!(size, want_size, "len {len}, mask {mask:?}");
                    let want = FrameHeader {
                        fin,
                        rsv: 0,
                        opcode,
                        mask,
                        len,
                        size,
                    };
                    for cut in 0..size {
                        assert_eq!(
                            parse_header(&out[..cut]),
                            Ok(None),
                            "len {len}, mask {mask:?}: {cut} of {size} bytes"
                        );
                    }
                    assert_eq!(parse_header(&out[..size]), Ok(Some(want)));
                    // Payload bytes after the header change nothing.
                    let mut framed = out[..size].to_vec();
                    framed.extend_from_slice(&[0xFF; 20]);
                    assert_eq!(parse_header(&framed), Ok(Some(want)));
                }
            }
        }
    }

    #[test]
    fn reserved_bits_and_opcodes_are_reported_not_judged() {
        let h = parse_header(&[0xF3, 0x00]).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv, h.opcode), (true, 0b111, 0x3));
        let h = parse_header(&[0x4B, 0x00]).unwrap().unwrap();
        assert_eq!((h.fin, h.rsv, h.opcode), (false, 0b100, 0xB));
    }

    #[test]
    fn a_64_bit_length_with_its_top_bit_set_is_refused_before_the_key_arrives() {
        for b1 in [LEN64, MASK_BIT | LEN64] {
            let mut header = vec![0x82, b1, 0x80, 0, 0, 0, 0, 0, 0, 0];
            for cut in 0..header.len() {
                assert_eq!(parse_header(&header[..cut]), Ok(None), "{cut} bytes");
            }
            assert_eq!(parse_header(&header), Err(FrameError::InvalidLength));
            header.extend_from_slice(&KEY);
            assert_eq!(parse_header(&header), Err(FrameError::InvalidLength));
        }
        assert_eq!(
            FrameError::InvalidLength.to_string(),
            "invalid frame length",
            "the reason rnats-ws closes with"
        );
        let largest = [0x82, LEN64, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
        assert_eq!(parse_header(&largest).unwrap().unwrap().len, u64::MAX >> 1);
    }
}
