//! Fuzz targets for `rnats-engine`. The logic lives here (one module per target) so that
//! `cargo test` can replay the seed corpora and regression inputs without libFuzzer;
//! `fuzz_targets/*.rs` are thin libFuzzer entry points.

pub mod config;
pub mod connection;
pub mod parsers;
pub mod subjects;
pub mod websocket;

/// Whether `RNATS_FUZZ_TRACE` is set: the scripted targets then print what they do (for
/// reading a crash input).
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("RNATS_FUZZ_TRACE").is_some())
}

/// Splits `rest` into the data and the split offsets the parser targets read from its end:
/// `n % 32` little-endian `u16`s (fewer if `rest` is short), each taken modulo
/// `data.len() + 1` and sorted (duplicates kept: an empty chunk is a valid call).
pub fn split_cuts(rest: &[u8], n: u8) -> (&[u8], Vec<usize>) {
    let n = usize::from(n % 32);
    let tail_len = (2 * n).min(rest.len() / 2 * 2);
    let (data, tail) = rest.split_at(rest.len() - tail_len);
    let mut cuts: Vec<usize> = tail
        .chunks_exact(2)
        .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (data.len() + 1))
        .collect();
    cuts.sort_unstable();
    (data, cuts)
}

/// Pulls script values off the front of a fuzz input; once it is exhausted every read
/// returns zero / empty, so any input is a valid script.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Bytes left.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Eight bytes, little-endian.
    pub fn u64(&mut self) -> u64 {
        let mut b = [0; 8];
        for x in &mut b {
            *x = self.u8();
        }
        u64::from_le_bytes(b)
    }

    /// One byte's low bit.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// One of `items` (the first when exhausted).
    pub fn choose<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }
}
