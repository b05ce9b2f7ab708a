//! Accepting events: PutEvents' entries, events emitted by other services
//! ([`sagestack_engine::EventPublisher`]), scheduled rules' firings and events forwarded
//! from another bus all become full envelopes, are matched against the bus's rules
//! through the index, and the matched `(event, rule)` pairs are written to the outbox
//! before the call answers: one [`OutboxBatch`] document per call
//! ([`CatalogKind::EventOutbox`]), which the delivery task reads and deletes once it
//! has delivered (or given up on) every pair. Unmatched events are dropped, as AWS
//! drops them, and so are events for a bus that does not exist (AWS answers those with
//! an `EventId` too).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use sagestack_engine::{EmittedEvent, EventPublisher, iso8601_millis};
use sagestack_store::{CatalogKind, CatalogRecord};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::EventBridge;
use crate::documents::{DEFAULT_BUS, Result};
use crate::error::{EventsError, invalid};

/// Largest PutEvents request, as AWS measures entries (256 KiB).
pub const MAX_PUT_EVENTS_BYTES: usize = 256 * 1024;

/// A batch of matched events waiting for delivery (an outbox document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboxBatch {
    pub bus: String,
    /// When the events were accepted (epoch ms): the event age retries are bounded by
    /// counts from here.
    pub accepted: i64,
    pub events: Vec<Value>,
    /// `(index in events, rule name)`, in acceptance order.
    pub matches: Vec<(usize, String)>,
}

/// One PutEvents entry as given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsEntry {
    /// Epoch seconds.
    pub time: Option<f64>,
    pub source: Option<String>,
    pub resources: Option<Vec<String>>,
    pub detail_type: Option<String>,
    pub detail: Option<String>,
    pub event_bus_name: Option<String>,
}

/// One entry's answer: its event id, or why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryResult {
    Accepted(String),
    Failed { code: String, message: String },
}

impl PutEventsEntry {
    /// The entry's size as AWS counts it toward the request limit.
    fn size(&self) -> usize {
        let len = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let resources: usize = self.resources.iter().flatten().map(String::len).sum();
        (if self.time.is_some() { 14 } else { 0 })
            + len(&self.source)
            + len(&self.detail_type)
            + len(&self.detail)
            + resources
    }
}

fn failed(code: &str, message: &str) -> EntryResult {
    EntryResult::Failed {
        code: code.into(),
        message: message.into(),
    }
}

fn required(member: &str) -> EntryResult {
    failed(
        "InvalidArgument",
        &format!("Parameter {member} is not valid. Reason: {member} is a required argument."),
    )
}

/// An envelope's `time`: ISO-8601 to the second, `Z`.
pub fn event_time(ms: i64) -> String {
    let full = iso8601_millis(ms);
    format!("{}Z", &full[..full.len() - 5])
}

impl EventBridge {
    /// A full event envelope.
    fn envelope(
        &self,
        source: &str,
        detail_type: &str,
        time_ms: i64,
        resources: Vec<String>,
        detail: Value,
    ) -> Value {
        json!({
            "version": "0",
            "id": uuid::Uuid::new_v4().to_string(),
            "detail-type": detail_type,
            "source": source,
            "account": self.scope.account_id,
            "time": event_time(time_ms),
            "region": self.scope.region,
            "resources": resources,
            "detail": detail,
        })
    }

    /// PutEvents: each entry accepted (an event id) or refused (a failed entry); the
    /// accepted ones are matched and their matches durably queued before this returns.
    pub async fn put_events(&self, entries: Vec<PutEventsEntry>) -> Result<Vec<EntryResult>> {
        self.ready().await?;
        if entries.iter().map(PutEventsEntry::size).sum::<usize>() > MAX_PUT_EVENTS_BYTES {
            return Err(invalid(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        let now = self.clock.now();
        let mut results = Vec::with_capacity(entries.len());
        // Accepted events by bus, in order.
        let mut by_bus: Vec<(String, Vec<Value>)> = Vec::new();
        for e in entries {
            let (Some(source), Some(detail_type), Some(detail)) = (
                e.source.as_deref().filter(|s| !s.is_empty()),
                e.detail_type.as_deref().filter(|s| !s.is_empty()),
                e.detail.as_deref().filter(|s| !s.is_empty()),
            ) else {
                let missing = if e.source.as_deref().is_none_or(str::is_empty) {
                    "Source"
                } else if e.detail_type.as_deref().is_none_or(str::is_empty) {
                    "DetailType"
                } else {
                    "Detail"
                };
                results.push(required(missing));
                continue;
            };
            let detail = match serde_json::from_str::<Value>(detail) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    results.push(failed("MalformedDetail", "Detail is malformed."));
                    continue;
                }
            };
            let time = e.time.map_or(now, |secs| (secs * 1000.0) as i64);
            let event = self.envelope(
                source,
                detail_type,
                time,
                e.resources.unwrap_or_default(),
                detail,
            );
            results.push(EntryResult::Accepted(
                event["id"].as_str().unwrap_or("").to_owned(),
            ));
            let bus = crate::documents::bus_name(e.event_bus_name.as_deref());
            match by_bus.iter_mut().find(|(b, _)| *b == bus) {
                Some((_, events)) => events.push(event),
                None => by_bus.push((bus, vec![event])),
            }
        }
        for (bus, events) in by_bus {
            self.accept(&bus, events).await?;
        }
        Ok(results)
    }

    /// Matches `events` against `bus`'s enabled pattern rules and queues the matches
    /// (one outbox document). Nothing is written when nothing matched.
    pub(crate) async fn accept(&self, bus: &str, events: Vec<Value>) -> Result<usize> {
        let matches: Vec<(usize, String)> = {
            let memory = self.memory();
            if !memory.buses.contains(bus) {
                return Ok(0);
            }
            events
                .iter()
                .enumerate()
                .flat_map(|(i, e)| {
                    memory
                        .index
                        .matching(bus, e)
                        .into_iter()
                        .map(move |r| (i, r))
                })
                .collect()
        };
        self.queue(bus, events, matches).await
    }

    /// Writes one outbox document and wakes the delivery task.
    async fn queue(
        &self,
        bus: &str,
        events: Vec<Value>,
        matches: Vec<(usize, String)>,
    ) -> Result<usize> {
        if matches.is_empty() {
            return Ok(0);
        }
        let accepted = self.clock.now();
        for (_, rule) in &matches {
            self.stats.matched(&self.scope.rule_arn(bus, rule), 1);
        }
        let n = matches.len();
        let batch = OutboxBatch {
            bus: bus.to_string(),
            accepted,
            events,
            matches,
        };
        let document =
            serde_json::to_string(&batch).map_err(|e| EventsError::Internal(e.to_string()))?;
        // Time-ordered ids (the listing's order is creation time, then id); the random
        // tail keeps replicas' ids apart.
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let record = CatalogRecord {
            id: format!("{accepted:015}-{seq:012}-{}", self.instance),
            name: None,
            version: 1,
            created_micros: accepted.saturating_mul(1000),
            document: Arc::from(document),
        };
        self.store
            .catalog_insert(CatalogKind::EventOutbox, &record)
            .await?;
        {
            let mut handover = self.handover.lock().unwrap_or_else(|e| e.into_inner());
            if handover.fresh.len() < crate::state::FRESH_LIMIT {
                handover.fresh.push_back((record.id, batch));
            } else {
                handover.spilled.insert(record.id);
            }
        }
        self.outbox_written.notify_one();
        Ok(n)
    }

    /// Accepts events built by another service on the default bus.
    pub async fn publish_emitted(&self, events: Vec<EmittedEvent>) -> Result<usize> {
        self.ready().await?;
        let envelopes = events
            .into_iter()
            .map(|e| self.envelope(&e.source, &e.detail_type, e.time, e.resources, e.detail))
            .collect();
        self.accept(DEFAULT_BUS, envelopes).await
    }

    /// Fires every enabled scheduled rule due at `now`: one `Scheduled Event` each,
    /// queued for that rule only. A rule whose firings were missed (the process was
    /// down) fires once and continues from `now`. Returns how many fired.
    pub async fn fire_due(&self, now: i64) -> Result<usize> {
        self.ready().await?;
        let due: Vec<(String, String, i64)> = {
            let mut memory = self.memory();
            let mut due = Vec::new();
            for (key, (schedule, next)) in memory.schedules.iter_mut() {
                let Some(at) = *next else { continue };
                if at > now {
                    continue;
                }
                let mut following = schedule.next_after(at);
                if following.is_some_and(|f| f <= now) {
                    following = schedule.next_after(now);
                }
                *next = following;
                due.push((key.clone(), at));
            }
            due.into_iter()
                .filter_map(|(key, at)| {
                    let (_, rule) = memory.rules.get(&key)?;
                    Some((rule.name.clone(), rule.arn.clone(), at))
                })
                .collect()
        };
        let mut events = Vec::new();
        let mut matches = Vec::new();
        for (i, (name, arn, at)) in due.into_iter().enumerate() {
            events.push(self.envelope("aws.events", "Scheduled Event", at, vec![arn], json!({})));
            matches.push((i, name));
        }
        self.queue(DEFAULT_BUS, events, matches).await
    }

    /// The next scheduled firing of any rule, if any (the delivery task sleeps until
    /// then at most).
    pub fn next_firing(&self) -> Option<i64> {
        self.memory()
            .schedules
            .values()
            .filter_map(|(_, n)| *n)
            .min()
    }

    /// Every outbox document but those in `taken`, oldest first (what another process
    /// left, or what did not fit the in-memory hand-over); only those are parsed.
    pub(crate) async fn outbox_except(
        &self,
        taken: &std::collections::HashSet<String>,
    ) -> Result<Vec<(String, OutboxBatch)>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::EventOutbox).await?;
        // This process's own batches come through the hand-over, unless they spilled.
        let mut handover = self.handover.lock().unwrap_or_else(|e| e.into_inner());
        let records: Vec<_> = records
            .into_iter()
            .filter(|r| !taken.contains(&r.id))
            .filter(|r| !r.id.ends_with(&self.instance) || handover.spilled.remove(&r.id))
            .collect();
        drop(handover);
        records
            .into_iter()
            .map(|r| {
                let batch = serde_json::from_str(&r.document).map_err(|e| {
                    EventsError::Internal(format!("stored outbox batch is unreadable: {e}"))
                })?;
                Ok((r.id, batch))
            })
            .collect()
    }

    /// Every outbox document in the store, oldest first (this process's own included).
    #[cfg(test)]
    pub(crate) async fn outbox(&self) -> Result<Vec<(String, OutboxBatch)>> {
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::EventOutbox).await?;
        Ok(records
            .into_iter()
            .map(|r| {
                (
                    r.id,
                    serde_json::from_str(&r.document).expect("a stored batch"),
                )
            })
            .collect())
    }

    /// The batches written by this process since the last call, oldest first.
    pub(crate) fn take_fresh(&self) -> Vec<(String, OutboxBatch)> {
        let mut handover = self.handover.lock().unwrap_or_else(|e| e.into_inner());
        handover.fresh.drain(..).collect()
    }

    pub(crate) async fn delete_outbox(&self, id: &str) -> Result<()> {
        self.store
            .catalog_delete(CatalogKind::EventOutbox, id)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl EventPublisher for EventBridge {
    async fn publish(&self, events: Vec<EmittedEvent>) {
        let n = events.len();
        if let Err(e) = self.publish_emitted(events).await {
            tracing::error!(error = %e, events = n, "events emitted by a service could not be queued");
        }
    }

    /// Answered from the index; before the rules are loaded, yes (the emitter builds the
    /// events and `publish` loads them).
    fn wants(&self, source: &str, detail_type: &str) -> bool {
        !self.is_loaded() || self.memory().index.wants(DEFAULT_BUS, source, detail_type)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_to_the_second() {
        assert_eq!(event_time(1_700_000_000_999), "2023-11-14T22:13:20Z");
    }
}
