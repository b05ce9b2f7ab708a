//! Leases on work, on both SQL backends (the table of migration 0008).
//!
//! A lease says which process (its *owner*, a random id per process) drives a piece of
//! work — a stack's operation, a project's, a Service Catalog operation, an account's
//! event delivery — named by a kind and an id, and until when (`expires_at_ms`, on the
//! callers' clocks: replicas' clocks must agree to well within a lease's time to live).
//! The owner renews all its leases at once ([`LeaseStore::renew`], a heartbeat); a process
//! that dies stops renewing, and once its leases lapse any other may claim them.
//!
//! [`LeaseStore::claim`] is one statement on both backends, an upsert that changes the
//! row only when it is lapsed or already the claimant's (`ON CONFLICT ... DO UPDATE ...
//! WHERE`, `RETURNING` the row when it did): the database, not a lock in some process,
//! decides who wins a race, and exactly one does.
//!
//! Leases need no durability of their own: losing a lease row only lets another process
//! claim the work sooner. [`Leaseholder`] is one process's side: its owner id and time to
//! live, bound to one store, as the engine's [`Claims`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sagestack_engine::claims::Claims;

use crate::{PostgresStore, SqliteStore, StoreError};

/// One lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub kind: String,
    pub id: String,
    pub owner: String,
    pub expires_at_ms: i64,
}

/// Leases on work, each atomic on its own.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Makes `(kind, id)` `owner`'s until `now_ms + ttl_ms` if it is free, lapsed
    /// (`expires_at_ms < now_ms`) or `owner`'s already: `true` when it now is.
    async fn claim(
        &self,
        kind: &str,
        id: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, StoreError>;

    /// Extends every lease `owner` holds to `now_ms + ttl_ms` (the heartbeat); how many.
    async fn renew(&self, owner: &str, now_ms: i64, ttl_ms: i64) -> Result<u64, StoreError>;

    /// Removes `(kind, id)` if `owner` holds it.
    async fn release(&self, kind: &str, id: &str, owner: &str) -> Result<(), StoreError>;

    /// Removes every lease `owner` holds (a clean shutdown); how many.
    async fn release_all(&self, owner: &str) -> Result<u64, StoreError>;

    /// The lease on `(kind, id)`, if any (lapsed or not).
    async fn lease(&self, kind: &str, id: &str) -> Result<Option<Lease>, StoreError>;

    /// The leases of `kind` lapsed at `now_ms`, oldest first.
    async fn expired(&self, kind: &str, now_ms: i64) -> Result<Vec<Lease>, StoreError>;
}

macro_rules! lease_store_impl {
    ($store:ty) => {
        #[async_trait]
        impl LeaseStore for $store {
            async fn claim(
                &self,
                kind: &str,
                id: &str,
                owner: &str,
                now_ms: i64,
                ttl_ms: i64,
            ) -> Result<bool, StoreError> {
                let won: Option<String> = sqlx::query_scalar(
                    "INSERT INTO leases (kind, id, owner, expires_at_ms) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (kind, id) DO UPDATE
                        SET owner = excluded.owner, expires_at_ms = excluded.expires_at_ms
                        WHERE leases.expires_at_ms < $5 OR leases.owner = excluded.owner
                     RETURNING owner",
                )
                .bind(kind)
                .bind(id)
                .bind(owner)
                .bind(now_ms.saturating_add(ttl_ms))
                .bind(now_ms)
                .fetch_optional(self.writer().await?)
                .await?;
                Ok(won.is_some())
            }

            async fn renew(
                &self,
                owner: &str,
                now_ms: i64,
                ttl_ms: i64,
            ) -> Result<u64, StoreError> {
                Ok(
                    sqlx::query("UPDATE leases SET expires_at_ms = $1 WHERE owner = $2")
                        .bind(now_ms.saturating_add(ttl_ms))
                        .bind(owner)
                        .execute(self.writer().await?)
                        .await?
                        .rows_affected(),
                )
            }

            async fn release(&self, kind: &str, id: &str, owner: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM leases WHERE kind = $1 AND id = $2 AND owner = $3")
                    .bind(kind)
                    .bind(id)
                    .bind(owner)
                    .execute(self.writer().await?)
                    .await?;
                Ok(())
            }

            async fn release_all(&self, owner: &str) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM leases WHERE owner = $1")
                    .bind(owner)
                    .execute(self.writer().await?)
                    .await?
                    .rows_affected())
            }

            async fn lease(&self, kind: &str, id: &str) -> Result<Option<Lease>, StoreError> {
                let row: Option<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT kind, id, owner, expires_at_ms FROM leases
                     WHERE kind = $1 AND id = $2",
                )
                .bind(kind)
                .bind(id)
                .fetch_optional(self.reader().await?)
                .await?;
                Ok(row.map(lease))
            }

            async fn expired(&self, kind: &str, now_ms: i64) -> Result<Vec<Lease>, StoreError> {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT kind, id, owner, expires_at_ms FROM leases
                     WHERE kind = $1 AND expires_at_ms < $2 ORDER BY expires_at_ms, id",
                )
                .bind(kind)
                .bind(now_ms)
                .fetch_all(self.reader().await?)
                .await?;
                Ok(rows.into_iter().map(lease).collect())
            }
        }
    };
}

fn lease((kind, id, owner, expires_at_ms): (String, String, String, i64)) -> Lease {
    Lease {
        kind,
        id,
        owner,
        expires_at_ms,
    }
}

lease_store_impl!(SqliteStore);
lease_store_impl!(PostgresStore);

/// Milliseconds since the epoch on this machine's clock (what leases are stamped with).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One process's leases in one store: its owner id and their time to live. It is the
/// engine's [`Claims`] (and what the provisioner, Service Catalog and EventBridge
/// delivery claim through); the server renews its leases on a timer shorter than `ttl`.
#[derive(Clone)]
pub struct Leaseholder {
    store: Arc<dyn LeaseStore>,
    owner: Arc<str>,
    ttl: Duration,
}

impl Leaseholder {
    pub fn new(store: Arc<dyn LeaseStore>, owner: &str, ttl: Duration) -> Self {
        Leaseholder {
            store,
            owner: Arc::from(owner),
            ttl,
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    fn ttl_ms(&self) -> i64 {
        self.ttl.as_millis() as i64
    }

    /// The heartbeat: every lease of this owner extended by the time to live.
    pub async fn renew(&self) -> Result<u64, StoreError> {
        self.store.renew(&self.owner, now_ms(), self.ttl_ms()).await
    }

    /// Gives every lease of this owner back (shutdown), so others take over at once.
    pub async fn release_all(&self) -> Result<u64, StoreError> {
        self.store.release_all(&self.owner).await
    }

    /// Claims `(kind, id)` for this owner (see [`LeaseStore::claim`]).
    pub async fn try_claim(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        self.store
            .claim(kind, id, &self.owner, now_ms(), self.ttl_ms())
            .await
    }

    /// Whether `(kind, id)` is held by a live process other than this one (its lease
    /// exists and has not lapsed).
    pub async fn held_elsewhere(&self, kind: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .lease(kind, id)
            .await?
            .is_some_and(|l| *l.owner != *self.owner && l.expires_at_ms >= now_ms()))
    }
}

#[async_trait]
impl Claims for Leaseholder {
    async fn claim(&self, kind: &str, id: &str) -> Result<bool, sagestack_engine::StoreError> {
        self.try_claim(kind, id)
            .await
            .map_err(|e| sagestack_engine::StoreError(e.to_string()))
    }

    async fn release(&self, kind: &str, id: &str) {
        if let Err(e) = self.store.release(kind, id, &self.owner).await {
            tracing::warn!(kind, id, error = %e, "a lease was not given back; it lapses once no longer renewed");
        }
    }
}
