//! Takeover: work is claimed, not owned (issue #17).
//!
//! Every process has an owner id ([`owner`]) and holds leases in each account's store
//! (`sagestack_store::leases`) on what it drives: stacks (claimed by the engine before an
//! operation is admitted; on PostgreSQL only, since on the embedded store nobody else
//! can drive them and the engine's holds in memory suffice), projects (by the
//! provisioner's task), Service Catalog
//! operations, and the account's event delivery. This task, started once the listener
//! serves and aborted at shutdown (which then gives every lease back at once), runs
//! every [`TICK`]:
//!
//! 1. renews all of this process's leases (the heartbeat; a lease lives [`TTL`]);
//! 2. per account, takes over interrupted work: stacks `*_IN_PROGRESS`, Service Catalog
//!    operations `IN_PROGRESS`, projects `Pending` / `*InProgress`, whose lease lapsed
//!    (its holder died), or that are this process's own but undriven (a store failure
//!    ended their task). A piece of work seen with *no* lease is taken only when seen so
//!    on two scans in a row: work an API call just started is claimed by its task within
//!    moments, and must not be taken from it. Each item is resumed by the same per-item
//!    recovery start-up uses, which claims it first, so exactly one process wins it.
//!    Finding that work means reading every stack and Service Catalog operation of the
//!    account, and the projects with an operation in flight (an index: `Store::
//!    projects_with_status`), a *full scan* that on PostgreSQL reads whole tables
//!    (10,000 projects read page by page took 3 to 8 s a scan before that index, in a
//!    debug build; 1 to 6 ms with it, no stacks either way): a tick scans only
//!    when another process's lease of a stack, project or operation has lapsed (three
//!    indexed queries tell), and otherwise every [`FULL_SCAN_EVERY`] ticks, for work
//!    left without a lease. A lapsed lease whose work is no longer in progress (its
//!    holder died between finishing and giving it back) is removed after the scan, so
//!    it does not make every tick scan again. The full scan also purges the
//!    `DeleteCompleted` projects whose retention ran out: their purge timer lived in a
//!    process that has died, and on a shared database start-up does not reschedule it.
//!    And it fails change sets left `CREATE_PENDING` by a dead process (start-up does
//!    that on the embedded store), once older than [`TTL`];
//!    A tick that could not renew (the store failed) does nothing else, and the next
//!    tick that can scans: the store watcher leaves recovery after an outage to this
//!    task on a shared database (`store_watch::spawn`);
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
/// A tick with no lapsed lease in sight scans for unleased work only this often (so
/// work left without a lease is taken on the second scan that sees it: within 10 to
/// 20 s). The first tick scans.
pub const FULL_SCAN_EVERY: u32 = 5;
/// The lease kinds of interrupted work (the engine's stacks, the provisioner's projects,
/// Service Catalog's operation records).
const WORK_KINDS: [&str; 3] = [STACK, "project", "sc-record"];
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
                    ticks: FULL_SCAN_EVERY - 1,
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
    /// Ticks since the last full scan.
    ticks: u32,
}

impl AccountState {
    async fn tick(&mut self) {
        let account = self.work.account_id.clone();
        if let Err(e) = self.work.leases.renew().await {
            tracing::warn!(account, "cannot renew leases: {e}");
            // The store failed: operations of this process may have ended with it
            // (their writes failed), holding leases no one else will see lapse. The
            // first tick that reaches the store again scans for them.
            self.ticks = FULL_SCAN_EVERY - 1;
            return;
        }
        self.events().await;
        let lapsed = match self.lapsed().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(account, "takeover: cannot read lapsed leases: {e}");
                return;
            }
        };
        self.ticks += 1;
        if lapsed.is_empty() && self.ticks < FULL_SCAN_EVERY {
            return;
        }
        self.ticks = 0;
        match self.take_over().await {
            Ok(in_progress) => self.forget_finished(lapsed, &in_progress).await,
            Err(e) => tracing::warn!(account, "takeover: {e}"),
        }
    }

    /// Other processes' lapsed leases on work (their holders died, or stopped renewing).
    async fn lapsed(&self) -> Result<Vec<sagestack_store::Lease>, sagestack_store::StoreError> {
        let now = sagestack_store::leases::now_ms();
        let mut out = Vec::new();
        for kind in WORK_KINDS {
            let expired = self.work.store.expired(kind, now).await?;
            out.extend(
                expired
                    .into_iter()
                    .filter(|l| l.owner != self.work.leases.owner()),
            );
        }
        Ok(out)
    }

    /// Removes the lapsed leases whose work the scan did not find in progress: each only
    /// while its dead holder still has it (a conditional delete), so a lease claimed
    /// since, by anyone, stays.
    async fn forget_finished(
        &self,
        lapsed: Vec<sagestack_store::Lease>,
        in_progress: &HashSet<(&'static str, String)>,
    ) {
        for lease in lapsed {
            let kind = WORK_KINDS.into_iter().find(|k| *k == lease.kind);
            if kind.is_some_and(|k| !in_progress.contains(&(k, lease.id.clone()))) {
                let _ = self
                    .work
                    .store
                    .release(&lease.kind, &lease.id, &lease.owner)
                    .await;
            }
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

    /// The full scan: takes what may be taken (see the module docs); returns the work
    /// it found in progress, as `(lease kind, id)`.
    async fn take_over(&mut self) -> Result<HashSet<(&'static str, String)>, String> {
        let r = &self.work.resumable;
        let started = std::time::Instant::now();
        let mut seen = HashSet::new();
        let mut in_progress = HashSet::new();
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
            in_progress.insert((STACK, stack.stack_id.clone()));
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
            in_progress.insert(("project", id.clone()));
            if self.takeable(&mut seen, "project", &id).await
                && r.provisioner
                    .resume_project(&name)
                    .await
                    .map_err(|e| e.to_string())?
            {
                taken.2 += 1;
            }
        }
        // Change sets whose creation lost its process between its two writes (start-up
        // fails them on the embedded store; here, once older than a lease could live).
        let change_sets = r
            .cloudformation
            .engine()
            .fail_interrupted_change_sets(TTL)
            .await
            .map_err(|e| e.to_string())?;
        // Deletions whose purge timer died with their process (the holder's, or this
        // one's before a restart): a due purge is never left to a timer that is gone.
        let purged = r.provisioner.purge_due().await.map_err(|e| e.to_string())?;
        self.unleased = seen;
        tracing::debug!(
            account = %self.work.account_id,
            scan_ms = started.elapsed().as_millis() as u64,
            stacks = stacks.len(),
            "takeover: full scan"
        );
        if purged + change_sets > 0 {
            tracing::info!(account = %self.work.account_id, projects = purged, change_sets, "purged deleted projects whose purge was due, failed interrupted change sets");
        }
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
        Ok(in_progress)
    }
}
