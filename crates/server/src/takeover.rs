//! Takeover: work is claimed, not owned (issue #17).
//!
//! Every process has an owner id ([`owner`]) and holds leases in each account's store
//! (`sagestack_store::leases`) on what it drives: stacks (claimed by the engine before an
//! operation is admitted), projects (by the provisioner's task), Service Catalog
//! operations, and the account's event delivery. This task, started once the listener
//! serves and aborted at shutdown (which then gives every lease back at once), runs
//! every [`TICK`]:
//!
//! 1. renews all of this process's leases (the heartbeat; a lease lives [`TTL`]);
//! 2. per account, takes over interrupted work: stacks `*_IN_PROGRESS`, Service Catalog
//!    operations `IN_PROGRESS`, projects `Pending` / `*InProgress`, whose lease lapsed
//!    (its holder died), or that are this process's own but undriven (a store failure
//!    ended their task). A piece of work seen with *no* lease is taken only when seen so
//!    on two ticks in a row: work an API call just started is claimed by its task within
//!    moments, and must not be taken from it. Each item is resumed by the same per-item
//!    recovery start-up uses, which claims it first, so exactly one process wins it;
//! 3. per account, claims `("events", account)`: the holder runs the delivery task
//!    (outbox to targets, schedules); one that loses the lease stops its own.
//!
//! On the embedded store one process owns the data directory: its owner id is fixed
//! ([`EMBEDDED_OWNER`]), so what a previous process leased is this one's, and start-up
//! resumes everything at once as before (`store_watch::resume_at_start`).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use sagestack_engine::claims::STACK;
use sagestack_store::{Leaseholder, Store};
use tokio::task::JoinHandle;

use crate::store_watch::Resumable;

/// How often leases are renewed and interrupted work looked for.
pub const TICK: Duration = Duration::from_secs(2);
/// How long a lease lives without renewal: how soon a dead process's work is taken.
pub const TTL: Duration = Duration::from_secs(6);
/// The owner id on the embedded store (one process owns its directory).
pub const EMBEDDED_OWNER: &str = "embedded";

/// This process's owner id: random on PostgreSQL, fixed on the embedded store.
pub fn owner(shared_database: bool) -> String {
    if shared_database {
        format!(
            "replica-{}",
            sagestack_protocol::new_request_id().replace('-', "")
        )
    } else {
        EMBEDDED_OWNER.to_string()
    }
}

/// Starts and stops an account's event delivery (it needs the account's targets).
pub type DeliveryStarter = Box<dyn Fn() -> sagestack_events::Delivery + Send + Sync>;

/// One account's part of takeover.
pub struct AccountWork {
    pub account_id: String,
    pub store: Arc<dyn Store>,
    pub leases: Leaseholder,
    pub resumable: Resumable,
    pub start_delivery: DeliveryStarter,
}

/// The running task and what shutdown gives back.
pub struct Takeover {
    task: JoinHandle<()>,
    leases: Vec<Leaseholder>,
}

impl Takeover {
    pub fn start(accounts: Vec<AccountWork>) -> Takeover {
        let leases = accounts.iter().map(|a| a.leases.clone()).collect();
        let task = tokio::spawn(async move {
            let mut states: Vec<AccountState> = accounts
                .into_iter()
                .map(|work| AccountState {
                    work,
                    unleased: HashSet::new(),
                    delivery: None,
                })
                .collect();
            loop {
                for state in &mut states {
                    state.tick().await;
                }
                tokio::time::sleep(TICK).await;
            }
        });
        Takeover { task, leases }
    }

    /// Stops the task (and with it every delivery it runs) and gives every lease back.
    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        for leases in &self.leases {
            if let Err(e) = leases.release_all().await {
                tracing::warn!("leases not given back at shutdown (they lapse): {e}");
            }
        }
    }
}

struct AccountState {
    work: AccountWork,
    /// Work seen without any lease on the previous tick.
    unleased: HashSet<(&'static str, String)>,
    delivery: Option<sagestack_events::Delivery>,
}

impl AccountState {
    async fn tick(&mut self) {
        let account = self.work.account_id.clone();
        if let Err(e) = self.work.leases.renew().await {
            tracing::warn!(account, "cannot renew leases: {e}");
        }
        self.events().await;
        if let Err(e) = self.take_over().await {
            tracing::warn!(account, "takeover: {e}");
        }
    }

    /// The account's event delivery runs here while this process holds its lease.
    async fn events(&mut self) {
        let held = self
            .work
            .leases
            .try_claim("events", &self.work.account_id)
            .await
            .unwrap_or(false);
        match (held, self.delivery.is_some()) {
            (true, false) => {
                tracing::info!(account = %self.work.account_id, "event delivery runs here");
                self.delivery = Some((self.work.start_delivery)());
            }
            (false, true) => {
                tracing::warn!(account = %self.work.account_id, "event delivery lease lost; stopping delivery here");
                self.delivery = None;
            }
            _ => {}
        }
    }

    /// Whether work `(kind, id)` may be taken now (see the module docs).
    async fn takeable(
        &self,
        seen: &mut HashSet<(&'static str, String)>,
        kind: &'static str,
        id: &str,
    ) -> bool {
        match self.work.store.lease(kind, id).await {
            Ok(Some(lease)) => {
                lease.owner == self.work.leases.owner()
                    || lease.expires_at_ms < sagestack_store::leases::now_ms()
            }
            Ok(None) => {
                let key = (kind, id.to_string());
                let twice = self.unleased.contains(&key);
                seen.insert(key);
                twice
            }
            Err(_) => false,
        }
    }

    async fn take_over(&mut self) -> Result<(), String> {
        let r = &self.work.resumable;
        let started = std::time::Instant::now();
        let mut seen = HashSet::new();
        let mut taken = (0usize, 0usize, 0usize);
        // Stacks first: Service Catalog operations and projects are judged by where
        // their stacks end up.
        let stacks = self
            .work
            .store
            .list_stacks()
            .await
            .map_err(|e| e.to_string())?;
        for stack in stacks
            .iter()
            .filter(|s| s.status.is_operation_in_progress())
        {
            if self.takeable(&mut seen, STACK, &stack.stack_id).await
                && r.cloudformation
                    .recover_stack(&stack.stack_id)
                    .await
                    .map_err(|e| e.to_string())?
            {
                taken.0 += 1;
            }
        }
        taken.1 = r.provisioned.recover().await.map_err(|e| e.to_string())?;
        for (name, id) in r.provisioner.left().await.map_err(|e| e.to_string())? {
            if self.takeable(&mut seen, "project", &id).await
                && r.provisioner
                    .resume_project(&name)
                    .await
                    .map_err(|e| e.to_string())?
            {
                taken.2 += 1;
            }
        }
        self.unleased = seen;
        if taken.0 + taken.1 + taken.2 > 0 {
            tracing::info!(
                account = %self.work.account_id,
                stacks = taken.0,
                provisioned_products = taken.1,
                projects = taken.2,
                scan_ms = started.elapsed().as_millis() as u64,
                "took over interrupted operations"
            );
        }
        Ok(())
    }
}
