//! Randomness and names: CloudFormation-style generated names and service-style ids.
//!
//! CloudFormation names a resource whose name property is unset
//! `{stackName}-{logicalId}-{13 random uppercase letters and digits}`, shortening the stack
//! name and logical id when the type's name limit requires it, and lowercasing where the
//! service only takes lowercase names (S3 buckets).
//!
//! All randomness comes from [`Rng`], a splitmix64 generator. A provider built with a seed
//! derives each resource's generator from the seed and the resource's identity (stack,
//! logical id, type, properties), so tests get the same names on every run; otherwise the
//! generator is seeded from the process's `RandomState`, the time and a counter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sagestack_engine::provider::kit::shortened;

/// A small, fast, seedable generator (splitmix64). Not for secrets.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator nobody can predict (different on every call).
    pub fn from_entropy() -> Rng {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut h = RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        h.write_u64(nanos);
        Rng(h.finish())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize] as char)
            .collect()
    }

    pub fn upper_alnum(&mut self, n: usize) -> String {
        self.pick(UPPER_ALNUM, n)
    }

    pub fn lower_alnum(&mut self, n: usize) -> String {
        self.pick(LOWER_ALNUM, n)
    }

    pub fn hex(&mut self, n: usize) -> String {
        self.pick(HEX, n)
    }

    pub fn digits(&mut self, n: usize) -> String {
        self.pick(b"0123456789", n)
    }

    /// A random (version 4 shaped) UUID.
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// A generator for a sub-purpose, independent of how much of `self` is consumed later.
    pub fn fork(&self, label: &str) -> Rng {
        let mut h = Fnv::new();
        h.write_u64(self.0);
        h.write(label.as_bytes());
        Rng(h.finish())
    }
}

/// FNV-1a, 64 bit: a stable hash (unlike `DefaultHasher`, fixed across Rust releases) for
/// deriving deterministic seeds.
pub(crate) struct Fnv(u64);

impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The length of CloudFormation's random suffix.
pub const SUFFIX_LEN: usize = 13;

/// `{stack}-{logical}-{suffix}` within `max_len` characters: the suffix is kept whole, and
/// the stack name and logical id are shortened (the longer one first) to fit.
pub fn physical_name(
    stack: &str,
    logical: &str,
    suffix: &str,
    max_len: usize,
    lowercase: bool,
) -> String {
    let budget = max_len.saturating_sub(suffix.len() + 2);
    let (s_keep, l_keep) = shortened(stack.chars().count(), logical.chars().count(), budget);
    let take = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    let name = if s_keep == 0 && l_keep == 0 {
        suffix.chars().take(max_len).collect()
    } else {
        format!(
            "{}-{}-{}",
            take(stack, s_keep),
            take(logical, l_keep),
            suffix
        )
    };
    if lowercase { name.to_lowercase() } else { name }
}

/// An RFC 3339 UTC timestamp with milliseconds for `secs` since the epoch.
pub(crate) fn rfc3339(secs: u64) -> String {
    sagestack_engine::iso8601_millis(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_repeat_and_forks_differ() {
        let a = Rng::new(7).upper_alnum(13);
        assert_eq!(a, Rng::new(7).upper_alnum(13));
        assert_eq!(a.len(), 13);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        let r = Rng::new(7);
        assert_ne!(r.fork("a").next_u64(), r.fork("b").next_u64());
        assert_ne!(
            Rng::from_entropy().next_u64(),
            Rng::from_entropy().next_u64()
        );
        let u = Rng::new(1).uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn names_fit_the_limit_and_keep_the_suffix() {
        let s = "ABCDEFGHIJKLM";
        assert_eq!(
            physical_name("mystack", "MyQueue", s, 80, false),
            "mystack-MyQueue-ABCDEFGHIJKLM"
        );
        let long = physical_name(&"s".repeat(60), &"L".repeat(40), s, 63, true);
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("-abcdefghijklm"));
        assert!(long.starts_with("sss"));
        assert!(long.contains("-lll"));
        assert_eq!(physical_name("st", "Lg", s, 10, false), "ABCDEFGHIJ");
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00.000Z");
    }
}
