//! The EventBridge API (`X-Amz-Target: AWSEvents.<Operation>`, JSON 1.1): validated
//! against the embedded botocore model (`model/events.json`) and run on the
//! [`EventBridge`] state. It owns no state and no rules: it decodes, calls the state,
//! and shapes the answer. `TestEventPattern` needs no state.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use sagestack_protocol::json11::{Tag, with_token};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::accept::{EntryResult, PutEventsEntry};
use crate::documents::{Bus, BusSettings, Rule, bus_name};
use crate::error::invalid;
use crate::state::NewRule;
use crate::{EventBridge, EventsError, Pattern};

type Result<T> = std::result::Result<T, EventsError>;

/// The embedded model.
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/events.json"))
        .expect("embedded EventBridge model is valid (tested)")
        .with_verbatim_patterns()
});

fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// The fields `TestEventPattern`'s event must have (AWS's documented list).
pub const REQUIRED_EVENT_FIELDS: [&str; 7] = [
    "id",
    "account",
    "source",
    "time",
    "region",
    "resources",
    "detail-type",
];

/// Largest `EventPattern` accepted, in characters (PutRule's limit).
pub const MAX_PATTERN_CHARS: usize = 4096;
/// A listing's page size when `Limit` is absent.
const DEFAULT_LIMIT: usize = 100;

fn tag_map(tags: Option<Vec<Tag>>) -> BTreeMap<String, String> {
    tags.into_iter()
        .flatten()
        .map(|t| (t.key, t.value))
        .collect()
}

fn tag_list(tags: &BTreeMap<String, String>) -> Value {
    tags.iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateEventBus {
    name: String,
    #[serde(flatten)]
    settings: BusInput,
    tags: Option<Vec<Tag>>,
}

/// The settings CreateEventBus and UpdateEventBus share.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BusInput {
    description: Option<String>,
    kms_key_identifier: Option<String>,
    dead_letter_config: Option<Value>,
    log_config: Option<Value>,
}

impl BusInput {
    fn settings(self) -> BusSettings {
        BusSettings {
            description: self.description,
            kms_key_identifier: self.kms_key_identifier,
            dead_letter_config: self.dead_letter_config,
            log_config: self.log_config,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateEventBus {
    name: Option<String>,
    #[serde(flatten)]
    settings: BusInput,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BusRef {
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Listing {
    name_prefix: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
    event_bus_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRule {
    name: String,
    event_bus_name: Option<String>,
    event_pattern: Option<String>,
    schedule_expression: Option<String>,
    state: Option<String>,
    description: Option<String>,
    role_arn: Option<String>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RuleRef {
    name: String,
    event_bus_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutTargets {
    rule: String,
    event_bus_name: Option<String>,
    targets: Vec<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RemoveTargets {
    rule: String,
    event_bus_name: Option<String>,
    ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListTargets {
    rule: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ByTarget {
    target_arn: String,
    event_bus_name: Option<String>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagResource {
    #[serde(rename = "ResourceARN")]
    resource_arn: String,
    tags: Option<Vec<Tag>>,
    tag_keys: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutEvents {
    entries: Vec<PutEventsEntry>,
}

/// The EventBridge API over the [`EventBridge`] state.
pub struct EventsService {
    state: Arc<EventBridge>,
}

impl EventsService {
    pub fn new(state: Arc<EventBridge>) -> Self {
        EventsService { state }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, _: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        let s = &self.state;
        let out = match op {
            "TestEventPattern" => test_event_pattern(&input)?,
            "CreateEventBus" => {
                let i: CreateEventBus = decode(op, input)?;
                let bus = s
                    .create_bus_with(&i.name, i.settings.settings(), tag_map(i.tags))
                    .await?;
                let mut out = json!({ "EventBusArn": bus.arn });
                bus_settings_json(&bus, &mut out);
                out
            }
            "UpdateEventBus" => {
                let i: UpdateEventBus = decode(op, input)?;
                let name = bus_name(i.name.as_deref());
                let bus = s.update_bus_settings(&name, i.settings.settings()).await?;
                let mut out = json!({ "Arn": bus.arn, "Name": bus.name });
                bus_settings_json(&bus, &mut out);
                out
            }
            "DescribeEventBus" => {
                let i: BusRef = decode(op, input)?;
                let bus = s.bus(&bus_name(i.name.as_deref())).await?;
                let mut out = bus_json(&bus);
                bus_settings_json(&bus, &mut out);
                out
            }
            "ListEventBuses" => {
                let i: Listing = decode(op, input)?;
                let buses = s.buses(i.name_prefix.as_deref()).await?;
                let (items, next) = page(buses, |b| &b.name, i.limit, i.next_token)?;
                with_token(
                    json!({ "EventBuses": items.iter().map(bus_json).collect::<Vec<_>>() }),
                    "NextToken",
                    next,
                )
            }
            "DeleteEventBus" => {
                let i: BusRef = decode(op, input)?;
                let name = i.name.ok_or_else(|| invalid("Name is required."))?;
                s.delete_bus(&bus_name(Some(&name))).await?;
                json!({})
            }
            "PutRule" => {
                let i: PutRule = decode(op, input)?;
                let rule = s
                    .put_rule(NewRule {
                        name: i.name,
                        event_bus_name: Some(bus_name(i.event_bus_name.as_deref())),
                        event_pattern: i.event_pattern,
                        schedule_expression: i.schedule_expression,
                        state: i.state,
                        description: i.description,
                        role_arn: i.role_arn,
                        tags: tag_map(i.tags),
                    })
                    .await?;
                json!({ "RuleArn": rule.arn })
            }
            "DescribeRule" => {
                let i: RuleRef = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                let rule = s.rule(&bus, &i.name).await?;
                let mut out = rule_json(&rule);
                out["CreatedBy"] = rule.created_by.clone().into();
                out
            }
            "ListRules" => {
                let i: Listing = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                let rules = s.rules(&bus, i.name_prefix.as_deref()).await?;
                let (items, next) = page(rules, |r| &r.name, i.limit, i.next_token)?;
                let rules: Vec<Value> = items.iter().map(|r| rule_json(r)).collect();
                with_token(json!({ "Rules": rules }), "NextToken", next)
            }
            "DeleteRule" => {
                let i: RuleRef = decode(op, input)?;
                s.delete_rule(&bus_name(i.event_bus_name.as_deref()), &i.name)
                    .await?;
                json!({})
            }
            "EnableRule" | "DisableRule" => {
                let i: RuleRef = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                s.set_enabled(&bus, &i.name, op == "EnableRule").await?;
                json!({})
            }
            "PutTargets" => {
                let i: PutTargets = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                failed_entries(s.put_targets(&bus, &i.rule, i.targets).await?.failed)
            }
            "RemoveTargets" => {
                let i: RemoveTargets = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                failed_entries(s.remove_targets(&bus, &i.rule, &i.ids).await?.failed)
            }
            "ListTargetsByRule" => {
                let i: ListTargets = decode(op, input)?;
                let rule = s
                    .rule(&bus_name(i.event_bus_name.as_deref()), &i.rule)
                    .await?;
                let mut targets = rule.targets.clone();
                let id = |t: &Map<String, Value>| {
                    t.get("Id").and_then(Value::as_str).unwrap_or("").to_owned()
                };
                targets.sort_by_key(id);
                let (items, next) = page_by(targets, id, i.limit, i.next_token)?;
                with_token(json!({ "Targets": items }), "NextToken", next)
            }
            "ListRuleNamesByTarget" => {
                let i: ByTarget = decode(op, input)?;
                let bus = bus_name(i.event_bus_name.as_deref());
                let names = s.rule_names_by_target(&bus, &i.target_arn).await?;
                let (items, next) = page(names, |n| n, i.limit, i.next_token)?;
                with_token(json!({ "RuleNames": items }), "NextToken", next)
            }
            "TagResource" => {
                let i: TagResource = decode(op, input)?;
                s.retag(&i.resource_arn, tag_map(i.tags), &[]).await?;
                json!({})
            }
            "UntagResource" => {
                let i: TagResource = decode(op, input)?;
                let keys = i.tag_keys.unwrap_or_default();
                s.retag(&i.resource_arn, BTreeMap::new(), &keys).await?;
                json!({})
            }
            "ListTagsForResource" => {
                let i: TagResource = decode(op, input)?;
                json!({ "Tags": tag_list(&s.tags(&i.resource_arn).await?) })
            }
            "PutEvents" => {
                let i: PutEvents = decode(op, input)?;
                let results = s.put_events(i.entries).await?;
                let failed = results
                    .iter()
                    .filter(|r| matches!(r, EntryResult::Failed { .. }))
                    .count();
                let entries: Vec<Value> = results
                    .into_iter()
                    .map(|r| match r {
                        EntryResult::Accepted(id) => json!({ "EventId": id }),
                        EntryResult::Failed { code, message } => {
                            json!({ "ErrorCode": code, "ErrorMessage": message })
                        }
                    })
                    .collect();
                json!({ "FailedEntryCount": failed, "Entries": entries })
            }
            other => {
                return Err(EventsError::UnknownOperation(format!(
                    "Operation {other} is not supported by this server's EventBridge"
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }
}

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

fn bus_json(b: &Bus) -> Value {
    let mut v = json!({
        "Name": b.name,
        "Arn": b.arn,
        "CreationTime": secs(b.creation_time),
        "LastModifiedTime": secs(b.last_modified_time),
    });
    if let Some(d) = &b.description {
        v["Description"] = d.clone().into();
    }
    v
}

/// The settings members of CreateEventBus', UpdateEventBus' and DescribeEventBus'
/// answers (those the bus has; ListEventBuses' items carry only the description).
fn bus_settings_json(b: &Bus, out: &mut Value) {
    if let Some(d) = &b.description {
        out["Description"] = d.clone().into();
    }
    if let Some(k) = &b.kms_key_identifier {
        out["KmsKeyIdentifier"] = k.clone().into();
    }
    if let Some(c) = &b.dead_letter_config {
        out["DeadLetterConfig"] = c.clone();
    }
    if let Some(c) = &b.log_config {
        out["LogConfig"] = c.clone();
    }
}

fn rule_json(r: &Rule) -> Value {
    let mut v = json!({
        "Name": r.name,
        "Arn": r.arn,
        "State": r.state,
        "EventBusName": r.event_bus_name,
    });
    for (k, value) in [
        ("EventPattern", &r.event_pattern),
        ("ScheduleExpression", &r.schedule_expression),
        ("Description", &r.description),
        ("RoleArn", &r.role_arn),
    ] {
        if let Some(x) = value {
            v[k] = x.clone().into();
        }
    }
    v
}

fn failed_entries(failed: Vec<(String, String, String)>) -> Value {
    let entries: Vec<Value> = failed
        .iter()
        .map(|(id, code, message)| json!({"TargetId": id, "ErrorCode": code, "ErrorMessage": message}))
        .collect();
    json!({ "FailedEntryCount": entries.len(), "FailedEntries": entries })
}

/// Pagination tokens record the last name returned (hex, behind a tag), so pages stay
/// right while items come and go.
const TOKEN_TAG: &str = "n1_";

fn encode_token(key: &str) -> String {
    let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_TAG}{hex}")
}

fn decode_token(token: &str) -> Result<String> {
    let bad = || invalid("The NextToken is not valid.");
    let hex = token.strip_prefix(TOKEN_TAG).ok_or_else(bad)?;
    if hex.len() % 2 != 0 {
        return Err(bad());
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<Result<Vec<u8>>>()?;
    String::from_utf8(bytes).map_err(|_| bad())
}

/// One page of `items` (sorted by `key`): those after the token's key, `limit` of them.
fn page_by<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    limit: Option<usize>,
    token: Option<String>,
) -> Result<(Vec<T>, Option<String>)> {
    let after = token.as_deref().map(decode_token).transpose()?;
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    let mut items: Vec<T> = items
        .into_iter()
        .filter(|i| after.as_deref().is_none_or(|a| key(i).as_str() > a))
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next = more
        .then(|| items.last().map(|i| encode_token(&key(i))))
        .flatten();
    Ok((items, next))
}

fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> &str,
    limit: Option<usize>,
    token: Option<String>,
) -> Result<(Vec<T>, Option<String>)> {
    page_by(items, |i| key(i).to_owned(), limit, token)
}

fn required<'a>(input: &'a Value, name: &str, member: &str) -> Result<&'a str> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(EventsError::Validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy \
             constraint: Member must not be null"
        ))),
        Some(_) => Err(EventsError::Serialization(format!(
            "{name} must be a string"
        ))),
    }
}

fn test_event_pattern(input: &Value) -> Result<Value> {
    let pattern = required(input, "EventPattern", "eventPattern")?;
    let event = required(input, "Event", "event")?;
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(EventsError::Validation(format!(
            "1 validation error detected: Value at 'eventPattern' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_PATTERN_CHARS}"
        )));
    }
    let pattern = Pattern::parse(pattern)?;
    let event: Value = serde_json::from_str(event).map_err(|_| {
        EventsError::Validation("Parameter Event is not valid. Reason: not valid JSON".into())
    })?;
    let Value::Object(fields) = &event else {
        return Err(EventsError::Validation(
            "Parameter Event is not valid. Reason: not a JSON object".into(),
        ));
    };
    if let Some(missing) = REQUIRED_EVENT_FIELDS
        .iter()
        .find(|f| !fields.contains_key(**f))
    {
        return Err(EventsError::Validation(format!(
            "Parameter Event is not valid. Reason: Provided Event is missing required field {missing}"
        )));
    }
    Ok(json!({ "Result": pattern.matches(&event) }))
}

sagestack_protocol::json11_service!(EventsService, "AWSEvents");

#[cfg(test)]
mod operations;

#[cfg(test)]
mod tests {
    use super::*;

    fn call(input: Value) -> Result<Value> {
        test_event_pattern(&input)
    }

    const EVENT: &str = r#"{"id":"1","account":"123456789012","source":"aws.sagemaker","time":"2026-12-06T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"SageMaker Model Package State Change","detail":{"ModelApprovalStatus":"Approved"}}"#;

    #[test]
    fn answers_whether_the_event_matches() {
        let yes = call(json!({"EventPattern": r#"{"source":["aws.sagemaker"]}"#, "Event": EVENT}));
        assert_eq!(yes.unwrap(), json!({"Result": true}));
        let no = call(
            json!({"EventPattern": r#"{"detail":{"ModelApprovalStatus":["Rejected"]}}"#, "Event": EVENT}),
        );
        assert_eq!(no.unwrap(), json!({"Result": false}));
    }

    #[test]
    fn refuses_bad_patterns_events_and_missing_members() {
        assert!(matches!(
            call(json!({"EventPattern": "{\"a\": 1}", "Event": EVENT})),
            Err(EventsError::InvalidEventPattern(_))
        ));
        assert!(
            matches!(call(json!({"Event": EVENT})), Err(EventsError::Validation(m)) if m.contains("eventPattern"))
        );
        let partial = r#"{"id":"1","source":"s"}"#;
        assert!(matches!(
            call(json!({"EventPattern": "{}", "Event": partial})),
            Err(EventsError::Validation(m)) if m.contains("missing required field account")
        ));
        let long = format!("{{\"a\": [\"{}\"]}}", "x".repeat(5000));
        assert!(matches!(
            call(json!({"EventPattern": long, "Event": EVENT})),
            Err(EventsError::Validation(_))
        ));
    }
}
