//! The fuzzer's bytes as a stream of choices: each read takes what it needs from the
//! front and yields zeros once the bytes run out, so every input is a valid script.

/// Choices read from the fuzzer's bytes.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// The choices in `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The next byte (0 past the end).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// A coin flip.
    pub fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        let wide = if n > 256 {
            usize::from(self.byte()) << 8 | usize::from(self.byte())
        } else {
            usize::from(self.byte())
        };
        wide % n
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// Four bytes as a number.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }

    /// Eight bytes as a number.
    pub fn i64(&mut self) -> i64 {
        i64::from(self.u32()) << 32 | i64::from(self.u32())
    }

    /// A count: usually small, sometimes any `u32`, so that loops over it stay cheap
    /// for most inputs while the extremes are still tried.
    pub fn count(&mut self) -> u32 {
        match self.byte() % 16 {
            0 => self.u32(),
            1..=3 => u32::from(u16::from_le_bytes([self.byte(), self.byte()])),
            _ => u32::from(self.byte()),
        }
    }

    /// Up to `max` bytes of text (invalid UTF-8 replaced).
    pub fn text(&mut self, max: usize) -> String {
        let n = self.below(max + 1).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    /// Whatever is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// `cases` pseudo-random inputs (up to 512 bytes each) from `seed`, for smoke runs
/// without libFuzzer: the same cases on every run.
pub fn smoke(cases: usize, seed: u64, mut run: impl FnMut(&[u8])) {
    let mut state = seed;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut buf = Vec::with_capacity(512);
    for _ in 0..cases {
        buf.clear();
        let len = (next() % 513) as usize;
        while buf.len() < len {
            buf.extend_from_slice(&next().to_le_bytes());
        }
        buf.truncate(len);
        run(&buf);
    }
}
