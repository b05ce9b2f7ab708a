//! What is stored: event buses and rules as JSON documents in the store's document
//! table, their names and ARNs, and the store reads and writes of them.
//!
//! A bus is a [`Bus`] document ([`CatalogKind::EventBus`], keyed by its name). A rule is
//! a [`Rule`] document ([`CatalogKind::EventRule`], keyed by `{bus}/{name}`) holding its
//! targets too: a rule's targets are few (at most [`MAX_TARGETS`]), always read with it,
//! and "a rule with targets cannot be deleted" must be decided on one document. Changes
//! are optimistic read-modify-writes on the document's version ([`update_rule`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_store::{
    CatalogKind, CatalogRecord, Modified, ServiceCatalogStore, StoreError, catalog_modify,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{EventsError, no_bus, no_rule};

pub(crate) type Result<T> = std::result::Result<T, EventsError>;

/// The bus every account has, which cannot be deleted.
pub const DEFAULT_BUS: &str = "default";
/// Targets a rule may have (AWS's quota).
pub const MAX_TARGETS: usize = 5;
/// Tags a bus or a rule may have.
pub const MAX_TAGS: usize = 50;

/// Where ARNs point: the server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    fn arn(&self, resource: impl std::fmt::Display) -> String {
        sagestack_engine::arn(&self.region, &self.account_id, "events", resource)
    }

    /// `arn:aws:events:{region}:{account}:event-bus/{name}`.
    pub fn bus_arn(&self, bus: &str) -> String {
        self.arn(format_args!("event-bus/{bus}"))
    }

    /// `...:rule/{name}` on the default bus, `...:rule/{bus}/{name}` on another.
    pub fn rule_arn(&self, bus: &str, name: &str) -> String {
        if bus == DEFAULT_BUS {
            self.arn(format_args!("rule/{name}"))
        } else {
            self.arn(format_args!("rule/{bus}/{name}"))
        }
    }
}

/// The bus an `EventBusName` member names: a name, or a bus ARN; `default` when absent.
pub fn bus_name(name_or_arn: Option<&str>) -> String {
    match name_or_arn {
        None => DEFAULT_BUS.to_string(),
        Some(v) => match v.split_once(":event-bus/") {
            Some((head, name)) if head.starts_with("arn:") => name.to_string(),
            _ => v.to_string(),
        },
    }
}

/// What an ARN of this service names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Bus(String),
    /// `(bus, rule)`.
    Rule(String, String),
}

impl Scope {
    /// The bus or rule `arn` names, if it is one of this account's.
    pub fn resource_of(&self, arn: &str) -> Option<Resource> {
        let rest = arn.strip_prefix(&self.arn(""))?;
        if let Some(bus) = rest.strip_prefix("event-bus/") {
            return Some(Resource::Bus(bus.to_string()));
        }
        let rule = rest.strip_prefix("rule/")?;
        Some(match rule.split_once('/') {
            Some((bus, name)) => Resource::Rule(bus.to_string(), name.to_string()),
            None => Resource::Rule(DEFAULT_BUS.to_string(), rule.to_string()),
        })
    }
}

/// One stored bus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Bus {
    pub name: String,
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Epoch milliseconds.
    pub creation_time: i64,
    pub last_modified_time: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Recorded and answered: events are not encrypted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_identifier: Option<String>,
    /// Recorded and answered (`{"Arn": ...}`): there are no dead-letter queues here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    /// Recorded and answered (`IncludeDetail`, `Level`): the bus writes no logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_config: Option<Value>,
}

/// What CreateEventBus sets and UpdateEventBus changes besides the name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BusSettings {
    /// On update: `None` keeps the description, `Some("")` removes it.
    pub description: Option<String>,
    pub kms_key_identifier: Option<String>,
    pub dead_letter_config: Option<Value>,
    pub log_config: Option<Value>,
}

/// Whether a rule takes events (`ENABLED`, and the CloudTrail variant) or not.
pub fn enabled(state: &str) -> bool {
    state != "DISABLED"
}

/// One stored rule with its targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    pub name: String,
    pub arn: String,
    pub event_bus_name: String,
    /// As given (text), so DescribeRule returns it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_expression: Option<String>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    pub created_by: String,
    /// Epoch milliseconds; a rate schedule counts from here (or from its enabling).
    pub creation_time: i64,
    /// When the rule was last enabled (rate schedules count from it).
    #[serde(default)]
    pub enabled_time: i64,
    /// Each target as the API gave it (`Id`, `Arn`, `Input`, `RetryPolicy`, ...), in
    /// the order they were put.
    #[serde(default)]
    pub targets: Vec<Map<String, Value>>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl Rule {
    /// The document-table key: `{bus}/{name}`.
    pub fn key(&self) -> String {
        rule_key(&self.event_bus_name, &self.name)
    }

    pub fn is_enabled(&self) -> bool {
        enabled(&self.state)
    }
}

/// The document-table key of rule `name` on `bus`.
pub fn rule_key(bus: &str, name: &str) -> String {
    format!("{bus}/{name}")
}

fn internal(what: &str, e: impl std::fmt::Display) -> EventsError {
    EventsError::Internal(format!("stored {what} is unreadable: {e}"))
}

fn document(doc: &impl Serialize) -> Result<Arc<str>> {
    let text = serde_json::to_string(doc).map_err(|e| EventsError::Internal(e.to_string()))?;
    Ok(Arc::from(text))
}

fn record(
    id: String,
    created_ms: i64,
    version: i64,
    doc: &impl Serialize,
) -> Result<CatalogRecord> {
    Ok(CatalogRecord {
        id,
        name: None,
        version,
        created_micros: created_ms.saturating_mul(1000),
        document: document(doc)?,
    })
}

pub(crate) fn parse_bus(r: &CatalogRecord) -> Result<Bus> {
    serde_json::from_str(&r.document).map_err(|e| internal("event bus", e))
}

pub(crate) fn parse_rule(r: &CatalogRecord) -> Result<Rule> {
    serde_json::from_str(&r.document).map_err(|e| internal("rule", e))
}

/// Stores a new bus; `ResourceAlreadyExists` if the name is taken.
pub(crate) async fn insert_bus(store: &dyn ServiceCatalogStore, bus: &Bus) -> Result<()> {
    let r = record(bus.name.clone(), bus.creation_time, 1, bus)?;
    match store.catalog_insert(CatalogKind::EventBus, &r).await {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyExists) => Err(EventsError::ResourceAlreadyExists(format!(
            "Event bus {} already exists.",
            bus.name
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Stores a new rule; `Ok(false)` if its key is taken.
pub(crate) async fn insert_rule(store: &dyn ServiceCatalogStore, rule: &Rule) -> Result<bool> {
    let r = record(rule.key(), rule.creation_time, 1, rule)?;
    match store.catalog_insert(CatalogKind::EventRule, &r).await {
        Ok(()) => Ok(true),
        Err(StoreError::AlreadyExists) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Times a read-modify-write is retried when it loses a race.
const UPDATE_ATTEMPTS: usize = 8;

/// Applies `change` to the stored rule and writes it back if its version did not move
/// meanwhile (read again and retried otherwise). Returns the rule written and its
/// version. `ResourceNotFound` if absent.
pub(crate) async fn update_rule(
    store: &dyn ServiceCatalogStore,
    bus: &str,
    name: &str,
    mut change: impl FnMut(&mut Rule) -> Result<()>,
) -> Result<(Rule, i64)> {
    let key = rule_key(bus, name);
    let modified = catalog_modify(
        store,
        CatalogKind::EventRule,
        &key,
        UPDATE_ATTEMPTS,
        |r| -> Result<_> {
            let mut rule = parse_rule(r)?;
            change(&mut rule)?;
            let written = document(&rule)?;
            Ok((rule, written))
        },
    );
    match modified.await? {
        Modified::Written(rule, version) => Ok((rule, version)),
        Modified::Gone => Err(no_rule(name, bus)),
        Modified::Contended => Err(EventsError::ConcurrentModification(
            "Another operation changed the rule at the same time; try again.".into(),
        )),
    }
}

/// The same for a bus.
pub(crate) async fn update_bus(
    store: &dyn ServiceCatalogStore,
    name: &str,
    mut change: impl FnMut(&mut Bus) -> Result<()>,
) -> Result<Bus> {
    let modified = catalog_modify(
        store,
        CatalogKind::EventBus,
        name,
        UPDATE_ATTEMPTS,
        |r| -> Result<_> {
            let mut bus = parse_bus(r)?;
            change(&mut bus)?;
            let written = document(&bus)?;
            Ok((bus, written))
        },
    );
    match modified.await? {
        Modified::Written(bus, _) => Ok(bus),
        Modified::Gone => Err(no_bus(name)),
        Modified::Contended => Err(EventsError::ConcurrentModification(
            "Another operation changed the event bus at the same time; try again.".into(),
        )),
    }
}

pub(crate) async fn get_bus(store: &dyn ServiceCatalogStore, name: &str) -> Result<Option<Bus>> {
    match store.catalog_get(CatalogKind::EventBus, name).await? {
        Some(r) => parse_bus(&r).map(Some),
        None => Ok(None),
    }
}

/// `tags` merged into `into`, refused past [`MAX_TAGS`].
pub(crate) fn merge_tags(
    into: &mut BTreeMap<String, String>,
    tags: impl IntoIterator<Item = (String, String)>,
) -> Result<()> {
    let mut merged = into.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(EventsError::LimitExceeded(format!(
            "A resource can have no more than {MAX_TAGS} tags."
        )));
    }
    *into = merged;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_names() {
        let s = Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        };
        assert_eq!(
            s.bus_arn("default"),
            "arn:aws:events:eu-west-1:123456789012:event-bus/default"
        );
        assert_eq!(
            s.rule_arn("default", "r"),
            "arn:aws:events:eu-west-1:123456789012:rule/r"
        );
        assert_eq!(
            s.rule_arn("orders", "r"),
            "arn:aws:events:eu-west-1:123456789012:rule/orders/r"
        );
        assert_eq!(bus_name(None), "default");
        assert_eq!(bus_name(Some("orders")), "orders");
        assert_eq!(bus_name(Some(&s.bus_arn("orders"))), "orders");
        assert_eq!(
            s.resource_of(&s.rule_arn("orders", "r")),
            Some(Resource::Rule("orders".into(), "r".into()))
        );
        assert_eq!(
            s.resource_of(&s.rule_arn("default", "r")),
            Some(Resource::Rule("default".into(), "r".into()))
        );
        assert_eq!(
            s.resource_of(&s.bus_arn("b")),
            Some(Resource::Bus("b".into()))
        );
        assert_eq!(s.resource_of("arn:aws:events:us-east-1:1:rule/x"), None);
    }
}
