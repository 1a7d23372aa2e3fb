//! NUIDs: the 22-character unique tokens NATS clients use for inbox subjects.
//!
//! Same shape as nats.go/nats.js NUIDs: a 12-character random prefix and a 10-character
//! sequence, both base 62. The sequence advances by a random step and the prefix is
//! re-drawn when it wraps, so consecutive NUIDs are cheap and unique. The entropy comes
//! from the caller's seed (the engine has no random source of its own).

/// Length of a NUID.
pub const NUID_LEN: usize = 22;

const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 12;
const SEQ_LEN: usize = 10;
/// 62^10: the sequence space.
const MAX_SEQ: u64 = 839_299_365_868_340_224;
const MIN_INC: u64 = 33;
const MAX_INC: u64 = 333;

pub(crate) use crate::rand::splitmix64;

/// A NUID generator.
#[derive(Debug, Clone)]
pub struct Nuid {
    prefix: [u8; PREFIX_LEN],
    seq: u64,
    inc: u64,
    rng: u64,
}

impl Nuid {
    /// A generator seeded with `seed` (give each client its own entropy).
    pub fn new(seed: u64) -> Nuid {
        let mut nuid = Nuid {
            prefix: [b'0'; PREFIX_LEN],
            seq: 0,
            inc: 0,
            rng: seed,
        };
        nuid.randomize_prefix();
        nuid.reset_sequence();
        nuid
    }

    fn randomize_prefix(&mut self) {
        for b in self.prefix.iter_mut() {
            *b = DIGITS[(splitmix64(&mut self.rng) % 62) as usize];
        }
    }

    fn reset_sequence(&mut self) {
        self.seq = splitmix64(&mut self.rng) % MAX_SEQ;
        self.inc = MIN_INC + splitmix64(&mut self.rng) % (MAX_INC - MIN_INC);
    }

    /// The next NUID.
    pub fn next_bytes(&mut self) -> [u8; NUID_LEN] {
        self.seq += self.inc;
        if self.seq >= MAX_SEQ {
            self.randomize_prefix();
            self.reset_sequence();
        }
        let mut out = [0u8; NUID_LEN];
        out[..PREFIX_LEN].copy_from_slice(&self.prefix);
        let mut n = self.seq;
        for slot in out[PREFIX_LEN..].iter_mut().rev() {
            *slot = DIGITS[(n % 62) as usize];
            n /= 62;
        }
        out
    }

    /// The next NUID as a string.
    pub fn next_string(&mut self) -> alloc::string::String {
        // Every byte comes from DIGITS, which is ASCII.
        self.next_bytes().iter().map(|&b| b as char).collect()
    }

    /// A pseudo-random number from the same stream (for reconnect jitter).
    pub(crate) fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.rng)
    }
}

const _: () = assert!(PREFIX_LEN + SEQ_LEN == NUID_LEN);

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    #[test]
    fn shape_and_uniqueness() {
        let mut n = Nuid::new(1);
        let mut seen = BTreeSet::new();
        for _ in 0..10_000 {
            let id = n.next_string();
            assert_eq!(id.len(), NUID_LEN);
            assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()));
            assert!(seen.insert(id));
        }
        assert_ne!(Nuid::new(1).next_string(), Nuid::new(2).next_string());
    }

    #[test]
    fn sequence_wrap_draws_a_new_prefix() {
        let mut n = Nuid::new(3);
        let before = n.next_bytes();
        n.seq = MAX_SEQ - 1;
        let after = n.next_bytes();
        assert_ne!(before[..PREFIX_LEN], after[..PREFIX_LEN]);
    }
}
