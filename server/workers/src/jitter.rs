//! Randomness for retry waits, injected: whoever builds a client seeds it,
//! so tests fix the waits and processes in production spread theirs.

use std::time::{SystemTime, UNIX_EPOCH};

/// A small random source for the backoff's jitter (xorshift64*): seeded by
/// whoever builds the client, so its waits are reproducible in tests.
#[derive(Debug)]
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    /// Seeded from the clock: retries of different processes spread out.
    pub fn from_clock() -> Jitter {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        Jitter::seeded(nanos.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// A number in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
