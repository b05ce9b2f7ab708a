//! Time and identifiers, behind traits so tests are deterministic.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::EpochMillis;

/// `ms` (milliseconds since the Unix epoch) as ISO 8601 UTC with milliseconds
/// (`2026-11-24T19:57:01.123Z`): how every API and attribute here prints an instant.
pub fn iso8601_millis(ms: EpochMillis) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// days-to-civil algorithm: eras of 400 years starting on March 1st).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Where the engine reads the time.
pub trait Clock: Send + Sync {
    fn now(&self) -> EpochMillis;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EpochMillis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as EpochMillis)
            .unwrap_or(0)
    }
}

/// A clock for tests: starts at a fixed instant and moves only when told to, or by
/// `tick` milliseconds on every read (so successive events get distinct, ordered times).
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<AtomicI64>,
    tick: i64,
}

impl FakeClock {
    pub fn new(start: EpochMillis) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start)),
            tick: 0,
        }
    }

    /// Every read advances the clock by `tick` ms.
    pub fn ticking(start: EpochMillis, tick: i64) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start)),
            tick,
        }
    }

    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set(&self, at: EpochMillis) {
        self.now.store(at, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> EpochMillis {
        self.now.fetch_add(self.tick, Ordering::SeqCst)
    }
}

/// Where the engine gets the unique part of stack, change set and event ids.
pub trait IdGenerator: Send + Sync {
    /// A fresh UUID-shaped string.
    fn uuid(&self) -> String;
}

/// Random v4 UUIDs.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn uuid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

/// Deterministic UUID-shaped ids (`00000000-0000-4000-8000-000000000001`, ...) for tests.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// Ids continue after `n` (so engines built one after another over the same store in a
    /// test do not repeat each other's ids).
    pub fn starting_at(n: u64) -> Self {
        Self(AtomicU64::new(n))
    }
}

impl IdGenerator for SequentialIds {
    fn uuid(&self) -> String {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

/// `arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid}`.
pub fn stack_arn(partition: &str, region: &str, account: &str, name: &str, uuid: &str) -> String {
    format!("arn:{partition}:cloudformation:{region}:{account}:stack/{name}/{uuid}")
}

/// `arn:aws:cloudformation:{region}:{account}:changeSet/{name}/{uuid}`.
pub fn change_set_arn(
    partition: &str,
    region: &str,
    account: &str,
    name: &str,
    uuid: &str,
) -> String {
    format!("arn:{partition}:cloudformation:{region}:{account}:changeSet/{name}/{uuid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_have_aws_shape() {
        assert_eq!(
            stack_arn("aws", "us-east-1", "123456789012", "s", "u"),
            "arn:aws:cloudformation:us-east-1:123456789012:stack/s/u"
        );
        assert_eq!(
            change_set_arn("aws", "eu-west-1", "1", "c", "u"),
            "arn:aws:cloudformation:eu-west-1:1:changeSet/c/u"
        );
    }

    #[test]
    fn fake_clock_ticks_and_sequential_ids_count() {
        let c = FakeClock::ticking(1000, 5);
        assert_eq!(c.now(), 1000);
        assert_eq!(c.now(), 1005);
        c.advance(100);
        assert_eq!(c.now(), 1110);
        let ids = SequentialIds::default();
        assert_eq!(ids.uuid(), "00000000-0000-4000-8000-000000000001");
        assert_ne!(ids.uuid(), ids.uuid());
        assert_eq!(RandomIds.uuid().len(), 36);
    }
}
