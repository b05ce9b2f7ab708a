//! The Logs state ([`Logs`]): durable log groups (`groups.rs`) joined with their
//! in-memory streams and events (`streams.rs`), and the rules of every operation.
//!
//! Shared, as `Arc<Logs>`, by the JSON API, the `AWS::Logs::LogGroup` provider and the
//! Lambda service (which writes function logs through [`Logs::append`]); it knows none
//! of them. No HTTP and no SQL here.
//!
//! The groups this process has seen are remembered in memory with their streams, so an
//! append to a known group touches no store: Lambda appends on every invocation. A group
//! not yet seen (after a restart, or created by another replica) is read from the store
//! once. Deleting a group drops its streams. With PostgreSQL replicas the events are
//! each process's own: they are not shared, as they are not durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sagestack_engine::Clock;
use sagestack_store::{CatalogKind, ServiceCatalogStore};

use crate::error::{LogsError, invalid};
use crate::groups::{self, LogGroup, Result, Scope};
use crate::streams::{Event, Group, StreamInfo};
use crate::token;

/// One event to store: when it happened (epoch milliseconds) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp_ms: i64,
    pub message: String,
}

/// A page of a listing and the token of the next, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Which groups DescribeLogGroups lists (every given condition holds).
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Names starting with this.
    pub prefix: Option<String>,
    /// Names containing this (case-sensitive); exclusive with `prefix`.
    pub pattern: Option<String>,
    pub class: Option<String>,
    /// Exactly these names.
    pub names: Option<Vec<String>>,
}

/// A group to create.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    /// `STANDARD` when absent.
    pub class: Option<String>,
    pub kms_key_id: Option<String>,
    pub retention_in_days: Option<i32>,
}

/// DescribeLogStreams' order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamOrder {
    #[default]
    Name,
    LastEventTime,
}

/// Token tags (see `token.rs`), one per listing (FilterLogEvents' is in `events.rs`).
const GROUPS_TAG: &str = "g1_";
const STREAMS_TAG: &str = "s1_";

/// The state: see the module documentation.
pub struct Logs {
    store: Arc<dyn ServiceCatalogStore>,
    clock: Arc<dyn Clock>,
    scope: Scope,
    /// The groups known to exist, with their streams.
    known: Mutex<HashMap<String, Arc<Mutex<Group>>>>,
    /// The next event's sequence number (event keys' tie-breaker, unique in the process).
    seq: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing here panics while holding a lock; a poisoned one still holds whole data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Logs {
    pub fn new(store: Arc<dyn ServiceCatalogStore>, clock: Arc<dyn Clock>, scope: Scope) -> Logs {
        Logs {
            store,
            clock,
            scope,
            known: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(1),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Forgets every group, stream and event kept in memory (`POST /_sagestack/reset`,
    /// after the store, which holds the groups, was emptied).
    pub fn reset(&self) {
        lock(&self.known).clear();
    }

    /// Appends events to group/stream, creating the group (durably) and the stream when
    /// absent, as Lambda does for `/aws/lambda/<name>`. Touches no store when the group
    /// is known.
    pub async fn append(&self, group: &str, stream: &str, events: Vec<LogEvent>) -> Result<()> {
        let memory = match self.remembered(group) {
            Some(m) => m,
            None => {
                groups::check_name(group)?;
                match groups::get(&*self.store, group).await? {
                    Some(g) => self.remember(&g),
                    None => {
                        let g = LogGroup::new(&self.scope, group, self.clock.now());
                        match groups::insert(&*self.store, &g).await {
                            Ok(()) | Err(LogsError::GroupAlreadyExists) => self.remember(&g),
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
        };
        let now = self.clock.now();
        let mut g = lock(&memory);
        let s = g.stream_or_create(stream, now);
        for e in events {
            s.insert(self.event(e, now));
        }
        Ok(())
    }

    /// The last `max_bytes` bytes (on a char boundary) of the stream's messages
    /// concatenated (Lambda's `X-Amz-Log-Type: Tail`); empty when there is no such stream.
    pub fn tail(&self, group: &str, stream: &str, max_bytes: usize) -> String {
        let Some(memory) = self.remembered(group) else {
            return String::new();
        };
        let g = lock(&memory);
        g.streams
            .get(stream)
            .map(|s| s.tail(max_bytes))
            .unwrap_or_default()
    }

    fn event(&self, e: LogEvent, now: i64) -> Event {
        Event {
            key: (e.timestamp_ms, self.seq.fetch_add(1, Ordering::Relaxed)),
            ingestion_time: now,
            message: e.message,
        }
    }

    fn remembered(&self, name: &str) -> Option<Arc<Mutex<Group>>> {
        lock(&self.known).get(name).cloned()
    }

    /// Remembers the stored `group` (keeping its streams if it was known).
    fn remember(&self, group: &LogGroup) -> Arc<Mutex<Group>> {
        let memory = lock(&self.known)
            .entry(group.log_group_name.clone())
            .or_default()
            .clone();
        lock(&memory).retention_days = group.retention_in_days;
        memory
    }

    /// The group's memory; `GroupNotFound` when it is not stored.
    async fn memory(&self, name: &str) -> Result<Arc<Mutex<Group>>> {
        if let Some(m) = self.remembered(name) {
            return Ok(m);
        }
        match groups::get(&*self.store, name).await? {
            Some(g) => Ok(self.remember(&g)),
            None => Err(LogsError::GroupNotFound),
        }
    }

    // ---- groups ----

    /// CreateLogGroup (and the provider's create): `GroupAlreadyExists` if the name is
    /// taken.
    pub async fn create_group(&self, new: NewGroup) -> Result<LogGroup> {
        groups::check_name(&new.name)?;
        if let Some(days) = new.retention_in_days {
            groups::check_retention(days)?;
        }
        if let Some(key) = &new.kms_key_id {
            groups::check_kms_key(key)?;
        }
        let mut g = LogGroup::new(&self.scope, &new.name, self.clock.now());
        groups::merge_tags(&mut g.tags, new.tags)?;
        if let Some(class) = new.class {
            g.log_group_class = class;
        }
        g.kms_key_id = new.kms_key_id;
        g.retention_in_days = new.retention_in_days;
        groups::insert(&*self.store, &g).await?;
        let memory = Arc::new(Mutex::new(Group {
            retention_days: g.retention_in_days,
            ..Group::default()
        }));
        lock(&self.known).insert(new.name, memory);
        Ok(g)
    }

    /// DeleteLogGroup: the document and every stream. `GroupNotFound` if absent.
    pub async fn delete_group(&self, name: &str) -> Result<()> {
        let deleted = self
            .store
            .catalog_delete(CatalogKind::LogGroup, name)
            .await?;
        lock(&self.known).remove(name);
        match deleted {
            Some(_) => Ok(()),
            None => Err(LogsError::GroupNotFound),
        }
    }

    /// The stored group `name`, if any.
    pub async fn group(&self, name: &str) -> Result<Option<LogGroup>> {
        groups::get(&*self.store, name).await
    }

    /// DescribeLogGroups: groups by name (ASCII order), filtered as `filter` says;
    /// `limit` per page. Each with the bytes its streams hold.
    pub async fn describe_groups(
        &self,
        filter: &GroupFilter,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<(LogGroup, usize)>> {
        let (prefix, pattern) = (filter.prefix.as_deref(), filter.pattern.as_deref());
        if prefix.is_some() && pattern.is_some() {
            return Err(invalid(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        let after = next_token
            .map(|t| token::decode(GROUPS_TAG, t))
            .transpose()?;
        let mut all = groups::all(&*self.store).await?;
        all.retain(|g| {
            let name = g.log_group_name.as_str();
            prefix.is_none_or(|p| name.starts_with(p))
                && pattern.is_none_or(|p| name.contains(p))
                && filter
                    .class
                    .as_deref()
                    .is_none_or(|c| g.log_group_class == c)
                && filter
                    .names
                    .as_ref()
                    .is_none_or(|n| n.iter().any(|n| n == name))
                && after.as_deref().is_none_or(|a| name > a)
        });
        all.sort_by(|a, b| a.log_group_name.cmp(&b.log_group_name));
        let more = all.len() > limit;
        all.truncate(limit);
        let next_token = more
            .then(|| all.last())
            .flatten()
            .map(|g| token::encode(GROUPS_TAG, &g.log_group_name));
        let items = all
            .into_iter()
            .map(|g| {
                let bytes = self
                    .remembered(&g.log_group_name)
                    .map_or(0, |m| lock(&m).stored_bytes());
                (g, bytes)
            })
            .collect();
        Ok(Page { items, next_token })
    }

    /// PutRetentionPolicy (`Some`) and DeleteRetentionPolicy (`None`).
    pub async fn set_retention(&self, name: &str, days: Option<i32>) -> Result<()> {
        if let Some(d) = days {
            groups::check_retention(d)?;
        }
        let g = groups::update(&*self.store, name, |g| {
            g.retention_in_days = days;
            Ok(())
        })
        .await?;
        self.remember(&g);
        Ok(())
    }

    /// AssociateKmsKey (`Some`) and DisassociateKmsKey (`None`): the key is recorded and
    /// answered (`kmsKeyId`); events are not encrypted here.
    pub async fn set_kms_key(&self, name: &str, key: Option<String>) -> Result<()> {
        if let Some(k) = &key {
            groups::check_kms_key(k)?;
        }
        groups::update(&*self.store, name, |g| {
            g.kms_key_id = key.clone();
            Ok(())
        })
        .await
        .map(drop)
    }

    /// Sets the group's retention and replaces its tags, in one write (the provider's
    /// update). `GroupNotFound` if absent.
    pub async fn reconfigure(
        &self,
        name: &str,
        retention_in_days: Option<i32>,
        tags: BTreeMap<String, String>,
    ) -> Result<LogGroup> {
        if let Some(d) = retention_in_days {
            groups::check_retention(d)?;
        }
        let g = groups::update(&*self.store, name, |g| {
            g.retention_in_days = retention_in_days;
            g.tags.clear();
            groups::merge_tags(&mut g.tags, tags.clone())
        })
        .await?;
        self.remember(&g);
        Ok(g)
    }

    /// Adds or replaces tags of the group.
    pub async fn tag(&self, name: &str, tags: BTreeMap<String, String>) -> Result<()> {
        groups::update(&*self.store, name, |g| {
            groups::merge_tags(&mut g.tags, tags.clone())
        })
        .await
        .map(drop)
    }

    /// Removes tags of the group (absent keys are ignored).
    pub async fn untag(&self, name: &str, keys: &[String]) -> Result<()> {
        groups::update(&*self.store, name, |g| {
            g.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .await
        .map(drop)
    }

    /// The group's tags.
    pub async fn tags(&self, name: &str) -> Result<BTreeMap<String, String>> {
        match self.group(name).await? {
            Some(g) => Ok(g.tags),
            None => Err(LogsError::GroupNotFound),
        }
    }

    /// The group a tagging ARN names (`arn:...:log-group:NAME`, `:*` allowed).
    pub fn group_of_arn(&self, arn: &str) -> Result<String> {
        if !arn.starts_with("arn:") {
            return Err(invalid(format!("Invalid resource ARN: {arn}")));
        }
        groups::name_from_identifier(arn)
    }

    // ---- streams and events ----

    /// CreateLogStream.
    pub async fn create_stream(&self, group: &str, stream: &str) -> Result<()> {
        let memory = self.memory(group).await?;
        let now = self.clock.now();
        lock(&memory).create_stream(stream, now)
    }

    /// DeleteLogStream.
    pub async fn delete_stream(&self, group: &str, stream: &str) -> Result<()> {
        let memory = self.memory(group).await?;
        let removed = lock(&memory).streams.remove(stream);
        removed.map(drop).ok_or(LogsError::StreamNotFound)
    }

    /// DescribeLogStreams.
    pub async fn describe_streams(
        &self,
        group: &str,
        prefix: Option<&str>,
        order: StreamOrder,
        descending: bool,
        limit: usize,
        next_token: Option<&str>,
    ) -> Result<Page<StreamInfo>> {
        if prefix.is_some() && order == StreamOrder::LastEventTime {
            return Err(invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let after = next_token
            .map(|t| token::decode(STREAMS_TAG, t))
            .transpose()?;
        let memory = self.memory(group).await?;
        let g = lock(&memory);
        // Each stream's sort key as text, so one token shape serves both orders.
        let mut listed: Vec<(String, StreamInfo)> = g
            .streams
            .iter()
            .filter(|(name, _)| prefix.is_none_or(|p| name.starts_with(p)))
            .map(|(name, s)| {
                let info = s.info(name, self.scope.stream_arn(group, name));
                let key = match order {
                    StreamOrder::Name => name.clone(),
                    StreamOrder::LastEventTime => {
                        let last = info.last_event_timestamp.unwrap_or(0);
                        format!("{}{name}", token::key_text((last, 0)))
                    }
                };
                (key, info)
            })
            .filter(|(key, _)| match &after {
                None => true,
                Some(a) if descending => key < a,
                Some(a) => key > a,
            })
            .collect();
        listed.sort_by(|a, b| a.0.cmp(&b.0));
        if descending {
            listed.reverse();
        }
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next_token = more
            .then(|| listed.last())
            .flatten()
            .map(|(key, _)| token::encode(STREAMS_TAG, key));
        Ok(Page {
            items: listed.into_iter().map(|(_, info)| info).collect(),
            next_token,
        })
    }
}

mod events;
pub use events::{
    EventsPage, EventsQuery, FilterPage, FilterQuery, FilteredEvent, OutputEvent, RejectedInfo,
};

#[cfg(test)]
mod tests;
