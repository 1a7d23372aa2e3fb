//! NATS nkeys as the server needs them: checking public keys (`U…` users, `A…`
//! accounts), the nonce sent in INFO when nkey users are configured, and the verification
//! of a client's signature of that nonce (ed25519, as nats-io/nkeys).

use crate::prelude::*;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

/// The prefix byte of user keys (`U…`).
pub(crate) const PREFIX_USER: u8 = 20 << 3;
/// The prefix byte of account keys (`A…`).
pub(crate) const PREFIX_ACCOUNT: u8 = 0;

/// How many random bytes a nonce has (nats-server's `nonceRawLen`).
const NONCE_LEN: usize = 11;

/// nats-io/nkeys' `Decode(prefix, key)`: base32 (no padding) whose last two bytes are the
/// CRC-16/XMODEM (little endian) of the rest, and whose first byte carries `prefix` in its
/// top five bits. Returns the key material after the prefix byte.
pub(crate) fn decode(key: &str, prefix: u8) -> Option<Vec<u8>> {
    let mut raw = Vec::with_capacity(key.len() * 5 / 8 + 1);
    let (mut acc, mut bits, mut chars) = (0u32, 0u32, 0usize);
    for b in key.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'2'..=b'7' => b - b'2' + 26,
            // Go's decoder skips line breaks.
            b'\r' | b'\n' => continue,
            _ => return None,
        };
        chars += 1;
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            raw.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // A final quantum of 1, 3 or 6 characters cannot be decoded.
    if matches!(chars % 8, 1 | 3 | 6) || raw.len() < 4 {
        return None;
    }
    let (data, crc) = raw.split_at(raw.len() - 2);
    let crc = u16::from_le_bytes([crc[0], crc[1]]);
    (crc16_xmodem(data) == crc && data[0] & 0b1111_1000 == prefix).then(|| data[1..].to_vec())
}

/// Whether `key` is a valid public nkey with `prefix`.
pub(crate) fn is_public(key: &str, prefix: u8) -> bool {
    decode(key, prefix).is_some()
}

/// CRC-16/XMODEM (polynomial 0x1021, initial value 0), nkeys' checksum.
fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Whether `sig` (base64, URL-safe without padding as the clients send it, or standard)
/// is user `public_key`'s ed25519 signature of `nonce`.
pub(crate) fn verify(public_key: &str, nonce: &[u8], sig: &str) -> bool {
    let Some(key) = decode(public_key, PREFIX_USER) else {
        return false;
    };
    let Ok(key) = <[u8; 32]>::try_from(&key[..]) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&key) else {
        return false;
    };
    let Some(sig) = base64_decode(sig) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig) else {
        return false;
    };
    key.verify(nonce, &sig).is_ok()
}

/// A nonce for one connection, from 128 bits of `entropy`: 11 bytes in URL-safe base64
/// without padding (15 characters), as nats-server sends it. Nonces must never repeat
/// (a signature of one must not open a second connection); the server derives each from
/// its seed and the connection id.
pub(crate) fn nonce(entropy: u128) -> String {
    base64_url_encode(&entropy.to_le_bytes()[..NONCE_LEN])
}

const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// URL-safe base64 without padding.
fn base64_url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(URL_ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Base64 in either alphabet, padded or not (nats-server tries URL-safe raw, then
/// standard).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (text.len() % 4 != 1).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_keys_like_nats_io_nkeys() {
        let user = "UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4";
        let account = "ABJHLOVMPA4CI6R5KLNGOB4GSLNIY7IOUPAJC4YFNDLQVIOBYQGUWVLA";
        assert!(is_public(user, PREFIX_USER));
        assert!(is_public(account, PREFIX_ACCOUNT));
        assert!(!is_public(user, PREFIX_ACCOUNT));
        assert!(!is_public(account, PREFIX_USER));
        assert!(!is_public(&user.replace('4', "5"), PREFIX_USER));
        assert!(!is_public(&user.to_lowercase(), PREFIX_USER));
        assert!(!is_public(&user[..55], PREFIX_USER));
        assert!(!is_public("", PREFIX_USER));
        assert!(!is_public("AAAA", PREFIX_ACCOUNT));
        assert_eq!(decode(user, PREFIX_USER).map(|k| k.len()), Some(32));
        // CRC-16/XMODEM check value.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31c3);
    }

    #[test]
    fn signatures_made_by_the_nkeys_crate_verify() {
        let kp = nkeys::KeyPair::new_user();
        let nonce = nonce(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210);
        assert_eq!(nonce.len(), 15);
        let sig = kp.sign(nonce.as_bytes()).unwrap();
        let url = base64_url_encode(&sig);
        assert!(verify(&kp.public_key(), nonce.as_bytes(), &url));
        // Standard base64 with padding too.
        let std: String = url.replace('-', "+").replace('_', "/") + "==";
        assert!(verify(&kp.public_key(), nonce.as_bytes(), &std));
        // Anything else fails.
        assert!(!verify(&kp.public_key(), b"another nonce", &url));
        let other = nkeys::KeyPair::new_user();
        assert!(!verify(&other.public_key(), nonce.as_bytes(), &url));
        assert!(!verify(&kp.public_key(), nonce.as_bytes(), "not base64!"));
        assert!(!verify(&kp.public_key(), nonce.as_bytes(), ""));
        assert!(!verify("UNOTAKEY", nonce.as_bytes(), &url));
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..20 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base64_decode(&base64_url_encode(&bytes)), Some(bytes));
        }
        assert_eq!(base64_url_encode(b"\xfb\xff"), "-_8");
    }
}
