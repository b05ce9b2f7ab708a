//! Delivery: one task per account ([`Delivery::start`]; dropping the handle aborts it)
//! that takes matched events from the outbox to their rules' targets.
//!
//! The task reads every outbox document not yet taken at start (what a previous
//! process left: delivery is at least once, also after `kill -9`), whenever the state
//! rings its wake-up after a write, and on every tick (`DeliveryConfig::tick`; also
//! when scheduled rules are fired, [`EventBridge::fire_due`]). Each matched
//! `(event, rule)` becomes one job per target the rule has *now*, with the target's
//! input computed by [`crate::transform`]. Jobs wait in a lane per `(rule, target)`
//! and a lane runs one job at a time, in acceptance order: events reach each target
//! of a rule in order, and a failing target holds up only its own lane. A failed
//! attempt is retried with exponential backoff (`initial_backoff` doubling up to
//! `max_backoff`) within the target's `RetryPolicy` (attempts and event age, the age
//! read on the state's clock); then it is given up. An outbox document is deleted once
//! every job made from it is done or given up, by a task of its own: the loop never
//! waits on the store for it (a commit on PostgreSQL takes milliseconds, and a loop
//! that waited for each would deliver a lane's events no faster than one per commit).
//!
//! Targets are reached through [`Targets`], which the server implements for Lambda,
//! CodePipeline and CodeBuild; an event-bus target is delivered here, by accepting the
//! event again on that bus of this account.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tokio::task::{JoinHandle, JoinSet};

use crate::EventBridge;
use crate::accept::{OutboxBatch, event_time};
use crate::documents::Rule;
use crate::stats::Attempt;
use crate::targets::{RetryPolicy, TargetKind};
use crate::transform::{RenderContext, TargetInput};

mod jobs;
#[cfg(test)]
mod tests;

/// The target a delivery goes to, and the rule that sent it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRef {
    /// The target's `Arn`.
    pub arn: String,
    /// The target's `RoleArn`, if any.
    pub role_arn: Option<String>,
    /// The target's `Id` within its rule.
    pub id: String,
    pub rule_arn: String,
    pub rule_name: String,
    /// The bus the rule is on.
    pub bus: String,
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another attempt (the target is busy, unreachable, throttled...).
    #[error("{0}")]
    Retryable(String),
    /// Never going to work (no such function, a malformed input): given up at once.
    #[error("{0}")]
    Permanent(String),
}

/// How events reach the targets the server knows (Lambda, CodePipeline, CodeBuild).
#[async_trait]
pub trait Targets: Send + Sync {
    /// Delivers one event to `target`: `input` is what the target receives (the event,
    /// or its `Input`/`InputPath`/`InputTransformer` rendering); `event` is the matched
    /// event itself.
    async fn deliver(
        &self,
        target: &TargetRef,
        input: String,
        event: &Value,
    ) -> Result<(), DeliveryError>;
}

/// Timing of the delivery task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// The first retry's wait; each later one doubles it.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
    /// How often the task fires due schedules and looks at the outbox unprompted.
    pub tick: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
            tick: Duration::from_secs(1),
        }
    }
}

/// The running delivery task; dropping it stops the task (deliveries in flight are
/// abandoned and their outbox documents stay for the next start).
pub struct Delivery {
    task: JoinHandle<()>,
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Delivery {
    /// Starts delivering `state`'s outbox through `targets`, with the default timing.
    pub fn start(state: Arc<EventBridge>, targets: Arc<dyn Targets>) -> Delivery {
        Delivery::start_with(state, targets, DeliveryConfig::default())
    }

    /// [`Delivery::start`] with other timing (tests use milliseconds).
    pub fn start_with(
        state: Arc<EventBridge>,
        targets: Arc<dyn Targets>,
        config: DeliveryConfig,
    ) -> Delivery {
        let worker = Worker {
            state,
            targets,
            config,
            taken: HashSet::new(),
            remaining: HashMap::new(),
            lanes: HashMap::new(),
            busy: HashSet::new(),
            running: JoinSet::new(),
            deleting: JoinSet::new(),
        };
        Delivery {
            task: tokio::spawn(worker.run()),
        }
    }
}

/// A lane: one rule's one target.
type LaneKey = (String, String);

/// One event for one target.
pub(crate) struct Job {
    outbox_id: String,
    event: Arc<Value>,
    accepted: i64,
    rule: Arc<Rule>,
    target: Map<String, Value>,
}

impl Job {
    fn lane(&self) -> LaneKey {
        let id = self.target.get("Id").and_then(Value::as_str).unwrap_or("");
        (self.rule.key(), id.to_owned())
    }

    fn target_ref(&self) -> TargetRef {
        let text = |k: &str| {
            self.target
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        TargetRef {
            arn: text("Arn").unwrap_or_default(),
            role_arn: text("RoleArn"),
            id: text("Id").unwrap_or_default(),
            rule_arn: self.rule.arn.clone(),
            rule_name: self.rule.name.clone(),
            bus: self.rule.event_bus_name.clone(),
        }
    }

    /// What the target receives: the transform of the target, over the event.
    fn input(&self) -> Result<String, DeliveryError> {
        let input = TargetInput::from_target(&self.target)
            .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        let ingestion = event_time(self.accepted);
        let ctx = RenderContext {
            rule_arn: &self.rule.arn,
            rule_name: &self.rule.name,
            ingestion_time: &ingestion,
        };
        Ok(input.render(&self.event, &ctx))
    }
}

struct Worker {
    state: Arc<EventBridge>,
    targets: Arc<dyn Targets>,
    config: DeliveryConfig,
    /// Outbox documents whose jobs are made.
    taken: HashSet<String>,
    /// Jobs not yet finished per outbox document.
    remaining: HashMap<String, usize>,
    lanes: HashMap<LaneKey, VecDeque<Job>>,
    /// Lanes with a job running.
    busy: HashSet<LaneKey>,
    running: JoinSet<(LaneKey, String)>,
    /// Outbox documents being deleted (each stays taken until its delete is done).
    deleting: JoinSet<(String, crate::documents::Result<()>)>,
}

impl Worker {
    async fn run(mut self) {
        let wake = self.state.outbox_written.clone();
        let discard = self.state.discard.clone();
        let state = self.state.clone();
        let resets = move || state.resets.load(std::sync::atomic::Ordering::SeqCst);
        let mut epoch = resets();
        // One interval for the whole run: a sleep made afresh in each turn of the loop
        // would never end while jobs keep finishing, and schedules would starve.
        let mut ticker = tokio::time::interval(self.config.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A wake-up takes the batches this process handed over in memory; the store is
        // read at start and on each tick (what a previous process or another replica
        // left, what did not fit the hand-over), and schedules fire on the tick.
        let mut tick = true;
        loop {
            if resets() != epoch {
                // The state was reset: what was taken from the old outbox goes.
                epoch = resets();
                self.running.abort_all();
                self.deleting.abort_all();
                self.taken.clear();
                self.remaining.clear();
                self.lanes.clear();
                self.busy.clear();
            }
            if tick {
                if let Err(e) = self.state.fire_due(self.state.clock.now()).await {
                    tracing::error!(error = %e, "scheduled rules could not fire");
                }
                if let Err(e) = self.scan().await {
                    tracing::error!(error = %e, "the event outbox could not be read");
                }
            }
            for (id, batch) in self.state.take_fresh() {
                if self.taken.insert(id.clone()) {
                    self.take(id, batch).await;
                }
            }
            tokio::select! {
                _ = wake.notified() => tick = false,
                Some(done) = self.running.join_next(), if !self.running.is_empty() => {
                    tick = false;
                    match done {
                        Ok((lane, outbox_id)) => self.finished(lane, outbox_id).await,
                        Err(e) => tracing::error!(error = %e, "a delivery job failed"),
                    }
                }
                Some(deleted) = self.deleting.join_next(), if !self.deleting.is_empty() => {
                    tick = false;
                    match deleted {
                        Ok((id, Ok(()))) => {
                            self.taken.remove(&id);
                        }
                        // Left taken: this process does not deliver it twice; the
                        // next one will.
                        Ok((id, Err(e))) => tracing::error!(error = %e, outbox = id, "a delivered outbox batch could not be deleted"),
                        Err(e) => tracing::error!(error = %e, "an outbox delete failed"),
                    }
                }
                _ = ticker.tick() => tick = true,
                _ = discard.notified() => tick = false,
            }
        }
    }

    /// Makes the jobs of every outbox document in the store not yet taken.
    async fn scan(&mut self) -> crate::documents::Result<()> {
        for (id, batch) in self.state.outbox_except(&self.taken).await? {
            if self.taken.insert(id.clone()) {
                self.take(id, batch).await;
            }
        }
        Ok(())
    }

    async fn take(&mut self, id: String, batch: OutboxBatch) {
        let events: Vec<Arc<Value>> = batch.events.into_iter().map(Arc::new).collect();
        let mut count = 0;
        for (i, rule_name) in batch.matches {
            // A rule deleted or disabled since the match delivers nothing; its targets
            // are the ones it has now.
            let Some(rule) = self.state.rule_now(&batch.bus, &rule_name) else {
                continue;
            };
            let Some(event) = events.get(i) else { continue };
            if !rule.is_enabled() {
                continue;
            }
            for target in &rule.targets {
                let job = Job {
                    outbox_id: id.clone(),
                    event: event.clone(),
                    accepted: batch.accepted,
                    rule: rule.clone(),
                    target: target.clone(),
                };
                let lane = job.lane();
                self.lanes.entry(lane.clone()).or_default().push_back(job);
                count += 1;
                self.start_lane(lane);
            }
        }
        if count == 0 {
            self.delete(&id);
        } else {
            self.remaining.insert(id, count);
        }
    }

    fn start_lane(&mut self, lane: LaneKey) {
        if self.busy.contains(&lane) {
            return;
        }
        let Some(job) = self.lanes.get_mut(&lane).and_then(VecDeque::pop_front) else {
            self.lanes.remove(&lane);
            return;
        };
        self.busy.insert(lane.clone());
        let (state, targets, config) = (self.state.clone(), self.targets.clone(), self.config);
        self.running.spawn(async move {
            let outbox_id = job.outbox_id.clone();
            jobs::run(&state, &*targets, &config, job).await;
            (lane, outbox_id)
        });
    }

    async fn finished(&mut self, lane: LaneKey, outbox_id: String) {
        self.busy.remove(&lane);
        self.start_lane(lane);
        let left = self.remaining.get_mut(&outbox_id).map(|n| {
            *n -= 1;
            *n
        });
        if left == Some(0) {
            self.remaining.remove(&outbox_id);
            self.delete(&outbox_id);
        }
    }

    /// Starts deleting a delivered outbox document (see the module docs).
    fn delete(&mut self, id: &str) {
        let (state, id) = (self.state.clone(), id.to_string());
        self.deleting.spawn(async move {
            let done = state.delete_outbox(&id).await;
            (id, done)
        });
    }
}

/// The retry policy and the kind of a job's target.
pub(crate) fn policy_of(target: &Map<String, Value>) -> (RetryPolicy, Option<TargetKind>) {
    let arn = target.get("Arn").and_then(Value::as_str).unwrap_or("");
    (RetryPolicy::of(target), TargetKind::of(arn))
}

pub(crate) fn record(state: &EventBridge, target: &TargetRef, outcome: Attempt) {
    state.stats.attempt(&target.rule_arn, &target.id, outcome);
}
