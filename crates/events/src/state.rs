//! The EventBridge state of one account ([`EventBridge`]): buses, rules and targets
//! (durable documents, `documents.rs`), the in-memory rule index (`index.rs`) and
//! schedule times kept beside them, and the outbox of matched events (`accept.rs`).
//!
//! Shared, as `Arc<EventBridge>`, by the API, the CloudFormation providers, the delivery
//! task and the services that emit events (as their
//! [`sagestack_engine::EventPublisher`]); it knows none of them. No HTTP and no SQL.
//!
//! Memory: every rule of the account is kept (as stored, with its version) so that
//! matching, `wants` and delivery read no store; it is loaded from the store on first
//! use ([`EventBridge::ready`]) and changed after every stored change, a newer version
//! never replaced by an older one. On PostgreSQL another replica may change a rule or a
//! bus: the store's change feed (`LISTEN/NOTIFY`, [`ServiceCatalogStore::catalog_changes`])
//! announces every committed change, and each operation first reads again what was
//! announced ([`EventBridge::ready`]), so a replica answers and matches with the rules
//! committed before the call (as far as the notification has arrived: milliseconds).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use sagestack_engine::Clock;
use sagestack_store::{CatalogChange, CatalogKind, ServiceCatalogStore};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{Notify, OnceCell};

use crate::Pattern;
use crate::documents::{
    self, Bus, BusSettings, DEFAULT_BUS, Result, Rule, Scope, get_bus, insert_bus, merge_tags,
    parse_bus, parse_rule, rule_key, update_bus,
};
use crate::error::{EventsError, invalid, no_bus};
use crate::index::Index;
use crate::schedule::Schedule;
use crate::stats::Stats;

mod rules;
#[cfg(test)]
pub(crate) mod tests;

pub use rules::{NewRule, PutTargetsOutcome};

/// Most outbox batches handed to the delivery task in memory at once.
pub(crate) const FRESH_LIMIT: usize = 10_000;

/// The outbox batches this process wrote and its delivery task has not yet taken, so
/// that a wake-up reads no store. The task's periodic scan of the store skips this
/// process's own batches except those that did not fit here (`spilled`: past
/// [`FRESH_LIMIT`], when no task runs in this process or it is far behind), so a batch
/// is never taken twice, from memory and from the store.
#[derive(Default)]
pub(crate) struct Handover {
    pub(crate) fresh: VecDeque<(String, crate::accept::OutboxBatch)>,
    pub(crate) spilled: HashSet<String>,
}

/// What the state keeps in memory.
#[derive(Default)]
pub(crate) struct Memory {
    pub(crate) index: Index,
    /// Every rule by key, with its stored version.
    pub(crate) rules: HashMap<String, (i64, Arc<Rule>)>,
    /// Each enabled scheduled rule's schedule and next firing (epoch ms).
    pub(crate) schedules: BTreeMap<String, (Schedule, Option<i64>)>,
    /// The buses that exist.
    pub(crate) buses: HashSet<String>,
}

/// See the module documentation.
pub struct EventBridge {
    pub(crate) store: Arc<dyn ServiceCatalogStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) scope: Scope,
    loaded: OnceCell<()>,
    memory: Mutex<Memory>,
    /// Other replicas' changes to buses and rules (PostgreSQL only), subscribed before
    /// the first load.
    changes: Mutex<Option<tokio::sync::broadcast::Receiver<CatalogChange>>>,
    /// Rung after every outbox write: the delivery task's wake-up.
    pub(crate) outbox_written: Arc<Notify>,
    /// The batches this process wrote to the outbox, handed to the delivery task in
    /// memory (see [`Handover`]).
    pub(crate) handover: Mutex<Handover>,
    /// Ends the outbox ids this process writes, telling them from those another
    /// process (a previous one, a replica) left.
    pub(crate) instance: String,
    pub(crate) stats: Stats,
    /// Outbox ids' tie-breaker within a millisecond.
    pub(crate) seq: AtomicU64,
    /// How many times [`EventBridge::reset`] ran: the delivery task drops every job it
    /// holds when this moves (woken by `discard`).
    pub(crate) resets: AtomicU64,
    pub(crate) discard: Arc<Notify>,
}

impl EventBridge {
    pub fn new(
        store: Arc<dyn ServiceCatalogStore>,
        clock: Arc<dyn Clock>,
        scope: Scope,
    ) -> EventBridge {
        EventBridge {
            store,
            clock,
            scope,
            loaded: OnceCell::new(),
            memory: Mutex::new(Memory::default()),
            changes: Mutex::new(None),
            outbox_written: Arc::new(Notify::new()),
            handover: Mutex::new(Handover::default()),
            instance: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
            stats: Stats::default(),
            seq: AtomicU64::new(0),
            resets: AtomicU64::new(0),
            discard: Arc::new(Notify::new()),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn memory(&self) -> MutexGuard<'_, Memory> {
        // Nothing panics while holding this lock; a poisoned one still holds whole data.
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the memory is loaded (what `wants` answers from).
    pub(crate) fn is_loaded(&self) -> bool {
        self.loaded.initialized()
    }

    /// Loads buses and rules from the store the first time (and makes sure the default
    /// bus is stored), then reads again whatever other replicas changed since; every
    /// operation awaits this first.
    pub async fn ready(&self) -> Result<()> {
        self.loaded
            .get_or_try_init(|| async {
                *self.changes.lock().unwrap_or_else(|e| e.into_inner()) =
                    self.store.catalog_changes();
                let now = self.clock.now();
                match insert_bus(&*self.store, &self.new_bus(DEFAULT_BUS, None, now)).await {
                    Ok(()) | Err(EventsError::ResourceAlreadyExists(_)) => {}
                    Err(e) => return Err(e),
                }
                self.reload().await
            })
            .await?;
        self.catch_up().await
    }

    /// After the store was emptied (`POST /_sagestack/reset`): forgets every rule,
    /// schedule, bus, count and batch handed over, stores the default bus again (as the
    /// first use of a fresh store does), and has the delivery task drop the jobs it holds
    /// (events waiting for a retry included), so nothing matched before is delivered
    /// after. The caller makes sure no delivery is running a target.
    pub async fn reset(&self) -> Result<()> {
        *self.memory() = Memory::default();
        *self.handover.lock().unwrap_or_else(|e| e.into_inner()) = Handover::default();
        self.stats.clear();
        self.resets
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.discard.notify_waiters();
        if self.is_loaded() {
            let now = self.clock.now();
            match insert_bus(&*self.store, &self.new_bus(DEFAULT_BUS, None, now)).await {
                Ok(()) | Err(EventsError::ResourceAlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
            self.reload().await?;
        }
        Ok(())
    }

    /// Reads every bus and rule from the store into memory, forgetting those gone.
    async fn reload(&self) -> Result<()> {
        let now = self.clock.now();
        let buses = sagestack_store::catalog_all(&*self.store, CatalogKind::EventBus).await?;
        let rules = sagestack_store::catalog_all(&*self.store, CatalogKind::EventRule).await?;
        let mut memory = self.memory();
        let mut kept = HashSet::new();
        for r in &rules {
            let rule = parse_rule(r)?;
            kept.insert(rule.key());
            remember(&mut memory, r.version, Arc::new(rule), now);
        }
        let gone: Vec<String> = memory
            .rules
            .keys()
            .filter(|k| !kept.contains(*k))
            .cloned()
            .collect();
        for key in gone {
            forget(&mut memory, &key);
        }
        let stored = buses
            .iter()
            .map(|b| parse_bus(b).map(|b| b.name))
            .collect::<Result<HashSet<_>>>()?;
        for bus in memory.buses.clone().difference(&stored) {
            memory.index.remove_bus(bus);
        }
        memory.buses = stored;
        Ok(())
    }

    /// Applies the changes announced since the last call (see the module doc): each
    /// changed rule or bus is read again; after missed notifications, everything is.
    async fn catch_up(&self) -> Result<()> {
        let mut changed = Vec::new();
        let mut missed = false;
        {
            let mut changes = self.changes.lock().unwrap_or_else(|e| e.into_inner());
            let Some(rx) = changes.as_mut() else {
                return Ok(());
            };
            loop {
                match rx.try_recv() {
                    Ok(CatalogChange::Changed { kind, id }) => changed.push((kind, id)),
                    Ok(CatalogChange::Missed) | Err(TryRecvError::Lagged(_)) => missed = true,
                    Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                }
            }
        }
        if missed {
            return self.reload().await;
        }
        for (kind, id) in changed {
            if kind == CatalogKind::EventRule.as_str() {
                match self.store.catalog_get(CatalogKind::EventRule, &id).await? {
                    Some(r) => {
                        let rule = Arc::new(parse_rule(&r)?);
                        remember(&mut self.memory(), r.version, rule, self.clock.now());
                    }
                    None => forget(&mut self.memory(), &id),
                }
            } else if kind == CatalogKind::EventBus.as_str() {
                let exists = self.store.catalog_get(CatalogKind::EventBus, &id).await?;
                let mut memory = self.memory();
                if exists.is_some() {
                    memory.buses.insert(id);
                } else {
                    memory.buses.remove(&id);
                    memory.index.remove_bus(&id);
                }
            }
        }
        Ok(())
    }

    fn new_bus(&self, name: &str, description: Option<String>, now: i64) -> Bus {
        Bus {
            name: name.to_string(),
            arn: self.scope.bus_arn(name),
            description,
            creation_time: now,
            last_modified_time: now,
            tags: BTreeMap::new(),
            kms_key_identifier: None,
            dead_letter_config: None,
            log_config: None,
        }
    }

    // ---- buses ----

    /// CreateEventBus. AWS refuses partner buses (`aws.partner/...`) without an event
    /// source, so every name with `/` is refused here.
    pub async fn create_bus(
        &self,
        name: &str,
        description: Option<String>,
        tags: BTreeMap<String, String>,
    ) -> Result<Bus> {
        let settings = BusSettings {
            description,
            ..BusSettings::default()
        };
        self.create_bus_with(name, settings, tags).await
    }

    /// CreateEventBus with every setting.
    pub async fn create_bus_with(
        &self,
        name: &str,
        settings: BusSettings,
        tags: BTreeMap<String, String>,
    ) -> Result<Bus> {
        self.ready().await?;
        if name.contains('/') {
            return Err(invalid(format!(
                "Event bus name must not contain '/': {name}. Partner event buses need a \
                 partner event source, which this server does not have."
            )));
        }
        let mut bus = self.new_bus(name, None, self.clock.now());
        apply_settings(&mut bus, settings);
        merge_tags(&mut bus.tags, tags)?;
        insert_bus(&*self.store, &bus).await?;
        self.memory().buses.insert(name.to_string());
        Ok(bus)
    }

    /// UpdateEventBus: the description when given (`""` removes it); the KMS key, the
    /// dead-letter and the log configuration as given (absent ones are removed, as
    /// AWS then uses its own key and none of the others).
    pub async fn update_bus_settings(&self, name: &str, settings: BusSettings) -> Result<Bus> {
        self.ready().await?;
        let now = self.clock.now();
        update_bus(&*self.store, name, |bus| {
            apply_settings(bus, settings.clone());
            bus.last_modified_time = now;
            Ok(())
        })
        .await
    }

    /// DescribeEventBus.
    pub async fn bus(&self, name: &str) -> Result<Bus> {
        self.ready().await?;
        get_bus(&*self.store, name)
            .await?
            .ok_or_else(|| no_bus(name))
    }

    /// ListEventBuses: every bus whose name starts with `prefix`, by name.
    pub async fn buses(&self, prefix: Option<&str>) -> Result<Vec<Bus>> {
        self.ready().await?;
        let records = sagestack_store::catalog_all(&*self.store, CatalogKind::EventBus).await?;
        let mut buses = records.iter().map(parse_bus).collect::<Result<Vec<_>>>()?;
        buses.retain(|b| prefix.is_none_or(|p| b.name.starts_with(p)));
        buses.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(buses)
    }

    /// DeleteEventBus: the bus and its rules (targets included). `default` cannot be
    /// deleted; a bus that does not exist is deleted already (AWS answers success).
    pub async fn delete_bus(&self, name: &str) -> Result<()> {
        self.ready().await?;
        if name == DEFAULT_BUS {
            return Err(invalid("Cannot delete event bus default."));
        }
        let keys: Vec<String> = {
            let memory = self.memory();
            let prefix = rule_key(name, "");
            memory
                .rules
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect()
        };
        for key in keys {
            self.store
                .catalog_delete(CatalogKind::EventRule, &key)
                .await?;
            forget(&mut self.memory(), &key);
        }
        self.store
            .catalog_delete(CatalogKind::EventBus, name)
            .await?;
        let mut memory = self.memory();
        memory.buses.remove(name);
        memory.index.remove_bus(name);
        Ok(())
    }

    /// Whether bus `name` exists (from memory; call [`Self::ready`] first).
    pub(crate) fn bus_exists(&self, name: &str) -> bool {
        self.memory().buses.contains(name)
    }

    pub(crate) async fn update_bus_tags(
        &self,
        name: &str,
        change: impl FnMut(&mut Bus) -> Result<()>,
    ) -> Result<Bus> {
        documents::update_bus(&*self.store, name, change).await
    }

    /// The delivery counts (see `stats.rs`) as JSON: what the server's stats endpoint
    /// serves.
    pub fn stats(&self) -> serde_json::Value {
        self.stats.to_json()
    }

    /// One rule's counts.
    pub fn rule_stats(&self, rule_arn: &str) -> crate::stats::RuleCounts {
        self.stats.rule(rule_arn)
    }
}

/// Puts a stored rule in memory (unless memory has a newer version): the rule itself,
/// its place in the index, its schedule.
pub(crate) fn remember(memory: &mut Memory, version: i64, rule: Arc<Rule>, now: i64) {
    let key = rule.key();
    if memory.rules.get(&key).is_some_and(|(v, _)| *v > version) {
        return;
    }
    let bus = rule.event_bus_name.clone();
    memory.index.remove(&bus, &rule.name);
    let was_scheduled = memory.schedules.remove(&key);
    if rule.is_enabled() {
        if let Some(p) = rule
            .event_pattern
            .as_deref()
            .and_then(|p| Pattern::parse(p).ok())
        {
            memory.index.insert(&bus, &rule.name, p);
        }
        if let Some(s) = rule
            .schedule_expression
            .as_deref()
            .and_then(|s| Schedule::parse(s).ok())
        {
            // A schedule that did not change keeps its next firing; a new one (or one
            // re-enabled) counts from now.
            let next = match was_scheduled {
                Some((old, next)) if old == s => next,
                _ => s.next_after(now.max(rule.enabled_time)),
            };
            memory.schedules.insert(key.clone(), (s, next));
        }
    }
    memory.rules.insert(key, (version, rule));
}

/// Takes a deleted rule out of memory.
pub(crate) fn forget(memory: &mut Memory, key: &str) {
    if let Some((_, rule)) = memory.rules.remove(key) {
        memory.index.remove(&rule.event_bus_name, &rule.name);
    }
    memory.schedules.remove(key);
}

/// `settings` on `bus`: a description when given (`""` removes it), the rest replaced.
fn apply_settings(bus: &mut Bus, settings: BusSettings) {
    if let Some(d) = settings.description {
        bus.description = (!d.is_empty()).then_some(d);
    }
    bus.kms_key_identifier = settings.kms_key_identifier.filter(|k| !k.is_empty());
    bus.dead_letter_config = settings.dead_letter_config;
    bus.log_config = settings.log_config;
}
