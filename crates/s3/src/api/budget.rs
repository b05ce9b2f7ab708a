//! The in-flight body budget: how much memory object bodies may take at once, across
//! every request of the S3 endpoint.
//!
//! Bodies are kept whole in the store (one BLOB / `bytea` each), so a request holds its
//! whole body in memory while it runs, and the store makes copies of it: sqlx hands
//! SQLite the buffer, SQLite copies a bound BLOB (`SQLITE_TRANSIENT`) and builds the row
//! record from it; a read gets SQLite's copy, sqlx's duplicate of the value and the
//! decoded `Vec`. Without a bound, memory grew with object size times concurrency
//! (four concurrent 200 MiB PUTs took 1.4 GiB). So every request that holds a body
//! (PutObject, UploadPart, CompleteMultipartUpload, CopyObject, GetObject) first
//! reserves [`COPIES`] times its size from one shared budget, waiting while other
//! requests hold it, and releases it when it is done: for a GetObject, when the
//! response body has been sent (or dropped).
//!
//! The budget is a fair (FIFO) semaphore, so a large body waiting is not starved by
//! small ones. A reservation is taken whole, never grown while held, so two requests
//! can never each hold part of the budget while waiting for the rest. A body whose
//! reservation exceeds the whole budget can never be stored: writes refuse it with
//! `EntityTooLarge` (see [`BodyBudget::fits`]); a read of such an object (stored before
//! the budget was lowered) waits for the whole budget instead.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many copies of a body the store may hold at once while writing or reading it,
/// besides the request's own (measured against SQLite: see the module documentation).
/// A reservation is this many times the body's size.
pub const COPIES: u64 = 3;

/// Default budget: room for one object of the default maximum size
/// ([`super::DEFAULT_MAX_OBJECT_SIZE`], 256 MiB) with its copies: 768 MiB.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = COPIES * super::DEFAULT_MAX_OBJECT_SIZE;

/// Permits are KiB, so that one acquire (a `u32` of permits) covers up to 4 TiB.
const UNIT: u64 = 1024;

/// The shared budget. Cloning shares it.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    semaphore: Arc<Semaphore>,
    /// In permits.
    total: u32,
}

/// Room reserved for one body; released when dropped.
#[derive(Debug)]
pub struct Reservation {
    permit: OwnedSemaphorePermit,
}

impl BodyBudget {
    /// A budget of `bytes` (rounded down to whole KiB, at least 1 KiB).
    pub fn new(bytes: u64) -> Self {
        let total = u32::try_from(bytes / UNIT).unwrap_or(u32::MAX).max(1);
        BodyBudget {
            semaphore: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// The budget, in bytes.
    pub fn bytes(&self) -> u64 {
        u64::from(self.total) * UNIT
    }

    /// Whether a body of `size` bytes can ever be reserved.
    pub fn fits(&self, size: u64) -> bool {
        permits(size).is_some_and(|p| p <= self.total)
    }

    /// Reserves room for a body of `size` bytes, waiting while other requests hold the
    /// budget. A body that does not [`fit`](Self::fits) takes the whole budget.
    pub async fn reserve(&self, size: u64) -> Reservation {
        let wanted = permits(size).unwrap_or(u32::MAX).min(self.total);
        let permit = self
            .semaphore
            .clone()
            .acquire_many_owned(wanted)
            .await
            // The semaphore is never closed.
            .expect("the body budget is never closed");
        Reservation { permit }
    }

    /// Bytes currently available (for tests and logs).
    pub fn available(&self) -> u64 {
        self.semaphore.available_permits() as u64 * UNIT
    }
}

impl Reservation {
    /// Keeps only the room a body of `size` bytes takes once the store's copies are gone
    /// (a read that has its bytes and now only sends them), releasing the rest.
    pub fn shrink_to(&mut self, size: u64) {
        let keep = size.div_ceil(UNIT).max(1) as usize;
        if let Some(extra) = self.permit.num_permits().checked_sub(keep)
            && extra > 0
        {
            drop(self.permit.split(extra));
        }
    }
}

/// Permits for `size` bytes and their copies; `None` past `u32`.
fn permits(size: u64) -> Option<u32> {
    let bytes = size.checked_mul(COPIES)?;
    u32::try_from(bytes.div_ceil(UNIT).max(1)).ok()
}

/// A response body that holds its reservation until it has been sent (or dropped): the
/// bytes stay in memory until then, so the budget must count them until then. Sent in
/// 1 MiB slices of the one buffer.
pub struct BudgetedBody {
    body: Bytes,
    _reservation: Reservation,
}

const SLICE: usize = 1024 * 1024;

impl BudgetedBody {
    pub fn new(body: Bytes, reservation: Reservation) -> Self {
        BudgetedBody {
            body,
            _reservation: reservation,
        }
    }
}

impl futures::Stream for BudgetedBody {
    type Item = Result<Bytes, s3s::StdError>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.body.is_empty() {
            return Poll::Ready(None);
        }
        let n = self.body.len().min(SLICE);
        Poll::Ready(Some(Ok(self.body.split_to(n))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.body.len().div_ceil(SLICE);
        (n, Some(n))
    }
}

impl s3s::stream::ByteStream for BudgetedBody {
    fn remaining_length(&self) -> s3s::stream::RemainingLength {
        s3s::stream::RemainingLength::new_exact(self.body.len())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_room_and_release_it() {
        let budget = BodyBudget::new(3 * COPIES * 1024 * 1024);
        assert!(budget.fits(3 * 1024 * 1024));
        assert!(!budget.fits(3 * 1024 * 1024 + 1));
        let first = budget.reserve(2 * 1024 * 1024).await;
        assert_eq!(budget.available(), COPIES * 1024 * 1024);
        // A second 2 MiB body waits until the first is released.
        let waiting = tokio::spawn({
            let budget = budget.clone();
            async move { budget.reserve(2 * 1024 * 1024).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .unwrap()
            .unwrap();
        drop(second);
        assert_eq!(budget.bytes(), budget.available());
        // A body that can never fit takes the whole budget.
        let all = budget.reserve(u64::MAX).await;
        assert_eq!(budget.available(), 0);
        drop(all);
    }

    #[tokio::test]
    async fn a_read_keeps_its_body_until_sent() {
        let budget = BodyBudget::new(64 * 1024 * 1024);
        let size = 3 * SLICE as u64 + 5;
        let mut r = budget.reserve(size).await;
        r.shrink_to(size);
        let held = budget.bytes() - budget.available();
        assert_eq!(held, size.div_ceil(UNIT) * UNIT);
        let mut body = BudgetedBody::new(Bytes::from(vec![7u8; size as usize]), r);
        let mut seen = 0;
        while let Some(chunk) = body.next().await {
            seen += chunk.unwrap().len() as u64;
            // Still reserved while the body is being sent.
            assert_eq!(budget.bytes() - budget.available(), held);
        }
        assert_eq!(seen, size);
        drop(body);
        assert_eq!(budget.available(), budget.bytes());
    }
}
