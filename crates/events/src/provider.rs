//! The native `AWS::Events::Rule` and `AWS::Events::EventBus` providers: a stack's rule
//! is a real rule of this server (matched, delivered, listed by ListRules), made and
//! changed by the same rules as PutRule and PutTargets ([`EventBridge`]).
//!
//! Rule: `Name` is generated as CloudFormation does when absent
//! (`{stack}-{logical id}-{12 characters}`, fixed by the create attempt so recovery
//! finds the rule again). `EventPattern` is an object or a string. `Targets` are put
//! after the rule; a target the server refuses fails the resource with PutTargets'
//! message. `Ref` is the name on the default bus and `{bus}|{name}` on another (the
//! registry resource's identifier); `Fn::GetAtt Arn` is the rule's ARN. `Name` and
//! `EventBusName` are create-only; the rest is updated in place, targets replaced as a
//! whole. EventBus: `Ref` is the name; `Arn` and `Name` attributes; `Description` and
//! `Tags` updated in place.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, attempt_name, created_since_micros, deleted, gone_is_none, invalid,
    stack_logical_name, tags, text, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM,
};
use serde_json::{Map, Value};

use crate::EventBridge;
use crate::documents::{Bus, DEFAULT_BUS, Rule, bus_name, merge_tags};
use crate::error::EventsError;
use crate::state::NewRule;

pub const RULE_TYPE: &str = "AWS::Events::Rule";
pub const BUS_TYPE: &str = "AWS::Events::EventBus";
/// Length of the random part of a generated rule name.
const SUFFIX_LEN: usize = 12;
/// Longest rule name.
const MAX_RULE_NAME: usize = 64;

/// `{stack}-{logical}-{suffix}`, the stack and logical id cut (longest first) to fit.
pub fn generated_rule_name(stack: &str, logical: &str, suffix: &str) -> String {
    stack_logical_name(stack, logical, suffix, MAX_RULE_NAME)
}

/// The physical id of rule `name` on `bus`.
pub fn rule_id(bus: &str, name: &str) -> String {
    if bus == DEFAULT_BUS {
        name.to_string()
    } else {
        format!("{bus}|{name}")
    }
}

/// `(bus, name)` of a physical id.
fn parse_rule_id(id: &str) -> (String, String) {
    match id.split_once('|') {
        Some((bus, name)) => (bus.to_string(), name.to_string()),
        None => (DEFAULT_BUS.to_string(), id.to_string()),
    }
}

fn provider_error(type_name: &str, id: &str, e: EventsError) -> ProviderError {
    match e {
        EventsError::ResourceAlreadyExists(_) => already_exists(type_name, id),
        EventsError::ResourceNotFound(m) => ProviderError::NotFound(m),
        EventsError::Internal(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

fn is_gone(e: &EventsError) -> bool {
    matches!(e, EventsError::ResourceNotFound(_))
}

/// Both providers over `state`, as `(type, provider)` pairs for
/// `ServiceConfig::with_native_provider`.
pub fn providers(state: Arc<EventBridge>) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    vec![
        (
            RULE_TYPE.to_string(),
            Arc::new(RuleProvider::new(state.clone())) as Arc<dyn ResourceProvider>,
        ),
        (BUS_TYPE.to_string(), Arc::new(EventBusProvider::new(state))),
    ]
}

// ---- AWS::Events::Rule ----

/// See the module documentation.
pub struct RuleProvider {
    state: Arc<EventBridge>,
}

impl RuleProvider {
    pub fn new(state: Arc<EventBridge>) -> Self {
        RuleProvider { state }
    }
}

fn rule_name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "Name")
        .unwrap_or_else(|| attempt_name(ctx, UPPER_ALNUM, SUFFIX_LEN, generated_rule_name))
}

fn rule_bus(properties: &Value) -> String {
    bus_name(text(properties, "EventBusName").as_deref())
}

/// The rule PutRule would be given for these properties.
fn new_rule(
    ctx: &ResourceContext,
    name: String,
    properties: &Value,
) -> Result<NewRule, ProviderError> {
    let event_pattern = match properties.get("EventPattern") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ Value::Object(_)) => Some(v.to_string()),
        Some(_) => {
            return Err(invalid(
                ctx,
                "#/EventPattern: expected type: JSONObject or String",
            ));
        }
    };
    Ok(NewRule {
        name,
        event_bus_name: Some(rule_bus(properties)),
        event_pattern,
        schedule_expression: text(properties, "ScheduleExpression"),
        state: text(properties, "State"),
        description: text(properties, "Description"),
        role_arn: text(properties, "RoleArn"),
        tags: tags(ctx, properties)?,
    })
}

/// The template's `Targets`, as PutTargets takes them (numbers a template gave as text
/// made numbers again).
fn targets(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<Vec<Map<String, Value>>, ProviderError> {
    let Some(list) = properties.get("Targets") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err(invalid(ctx, "#/Targets: expected type: JSONArray"));
    };
    list.iter()
        .enumerate()
        .map(|(i, t)| {
            let mut t = t.as_object().cloned().ok_or_else(|| {
                invalid(
                    ctx,
                    format_args!("#/Targets/{i}: expected type: JSONObject"),
                )
            })?;
            if let Some(Value::Object(policy)) = t.get_mut("RetryPolicy") {
                for v in policy.values_mut() {
                    if let Some(n) = v.as_str().and_then(|s| s.parse::<u64>().ok()) {
                        *v = n.into();
                    }
                }
            }
            Ok(t)
        })
        .collect()
}

impl RuleProvider {
    /// Makes the rule's targets exactly `wanted`.
    async fn set_targets(&self, rule: &Rule, wanted: Vec<Map<String, Value>>) -> Outcome<()> {
        let id = rule_id(&rule.event_bus_name, &rule.name);
        let fail = |e| provider_error(RULE_TYPE, &id, e);
        let keep: Vec<&Value> = wanted.iter().filter_map(|t| t.get("Id")).collect();
        let stale: Vec<String> = rule
            .targets
            .iter()
            .filter_map(|t| t.get("Id"))
            .filter(|i| !keep.contains(i))
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect();
        let (bus, name) = (&rule.event_bus_name, &rule.name);
        if !stale.is_empty() {
            self.state
                .remove_targets(bus, name, &stale)
                .await
                .map_err(fail)?;
        }
        if !wanted.is_empty() {
            let outcome = self
                .state
                .put_targets(bus, name, wanted)
                .await
                .map_err(fail)?;
            if let Some((target, code, message)) = outcome.failed.first() {
                return Err(ProviderError::InvalidRequest(format!(
                    "Target {target} could not be put ({code}): {message}"
                )));
            }
        }
        Ok(())
    }

    async fn current(&self, bus: &str, name: &str) -> Outcome<Arc<Rule>> {
        let read = self.state.rule(bus, name).await;
        read.map_err(|e| provider_error(RULE_TYPE, &rule_id(bus, name), e))
    }
}

#[async_trait]
impl Native for RuleProvider {
    type Record = Arc<Rule>;
    const TYPE_NAME: &'static str = RULE_TYPE;

    fn info(&self) -> TypeInfo {
        type_info(RULE_TYPE, &["Name", "EventBusName"], &["Arn"], true).named("Name")
    }

    fn state_of(r: &Arc<Rule>) -> ResourceState {
        kit::state(
            rule_id(&r.event_bus_name, &r.name),
            [("Arn", r.arn.clone().into())],
        )
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(rule_id(&rule_bus(properties), &rule_name(ctx, properties)))
    }

    fn made_since(r: &Arc<Rule>, started: EpochMillis) -> bool {
        created_since_micros(r.creation_time.saturating_mul(1000), started)
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Arc<Rule>> {
        let name = rule_name(ctx, properties);
        let bus = rule_bus(properties);
        let id = rule_id(&bus, &name);
        let fail = |e| provider_error(RULE_TYPE, &id, e);
        self.state.ready().await.map_err(fail)?;
        if self.state.rule_now(&bus, &name).is_some() {
            return Err(already_exists(RULE_TYPE, &id));
        }
        let wanted = targets(ctx, properties)?;
        let rule = self
            .state
            .put_rule(new_rule(ctx, name.clone(), properties)?)
            .await
            .map_err(fail)?;
        self.set_targets(&rule, wanted).await?;
        self.current(&bus, &name).await
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Outcome<Arc<Rule>> {
        let (bus, name) = parse_rule_id(id);
        let wanted = targets(ctx, properties)?;
        let mut new = new_rule(ctx, name.clone(), properties)?;
        new.event_bus_name = Some(bus.clone());
        let updated = self.state.put_rule(new).await;
        let rule = updated.map_err(|e| provider_error(RULE_TYPE, id, e))?;
        self.set_targets(&rule, wanted).await?;
        self.current(&bus, &name).await
    }

    async fn get_record(&self, _: &ResourceContext, id: &str) -> Outcome<Option<Arc<Rule>>> {
        let (bus, name) = parse_rule_id(id);
        let read = self.state.rule(&bus, &name).await;
        gone_is_none(read, is_gone, |e| provider_error(RULE_TYPE, id, e))
    }

    async fn delete_record(&self, _: &ResourceContext, id: &str) -> Outcome<()> {
        let (bus, name) = parse_rule_id(id);
        let result = async {
            let rule = self.state.rule(&bus, &name).await?;
            let ids: Vec<String> = rule
                .targets
                .iter()
                .filter_map(|t| t.get("Id").and_then(Value::as_str).map(str::to_owned))
                .collect();
            if !ids.is_empty() {
                self.state.remove_targets(&bus, &name, &ids).await?;
            }
            self.state.delete_rule(&bus, &name).await
        }
        .await;
        deleted(result, is_gone, |e| provider_error(RULE_TYPE, id, e))
    }
}

// ---- AWS::Events::EventBus ----

/// See the module documentation.
pub struct EventBusProvider {
    state: Arc<EventBridge>,
}

impl EventBusProvider {
    pub fn new(state: Arc<EventBridge>) -> Self {
        EventBusProvider { state }
    }
}

#[async_trait]
impl Native for EventBusProvider {
    type Record = Bus;
    const TYPE_NAME: &'static str = BUS_TYPE;

    fn info(&self) -> TypeInfo {
        type_info(
            BUS_TYPE,
            &["Name", "EventSourceName"],
            &["Arn", "Name"],
            true,
        )
        .named("Name")
    }

    fn state_of(b: &Bus) -> ResourceState {
        kit::state(
            &*b.name,
            [
                ("Arn", b.arn.clone().into()),
                ("Name", b.name.clone().into()),
            ],
        )
    }

    fn intended_id(_: &ResourceContext, properties: &Value) -> Option<String> {
        text(properties, "Name")
    }

    fn made_since(b: &Bus, started: EpochMillis) -> bool {
        created_since_micros(b.creation_time.saturating_mul(1000), started)
    }

    async fn create_record(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<Bus> {
        let name = kit::required(ctx, properties, "Name")?;
        let made = self
            .state
            .create_bus(
                &name,
                text(properties, "Description"),
                tags(ctx, properties)?,
            )
            .await;
        made.map_err(|e| provider_error(BUS_TYPE, &name, e))
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        properties: &Value,
    ) -> Outcome<Bus> {
        let description = text(properties, "Description");
        let wanted = tags(ctx, properties)?;
        let now = self.state.clock.now();
        let updated = self
            .state
            .update_bus_tags(name, |b| {
                b.description = description.clone();
                b.tags.clear();
                merge_tags(&mut b.tags, wanted.clone())?;
                b.last_modified_time = now;
                Ok(())
            })
            .await;
        updated.map_err(|e| provider_error(BUS_TYPE, name, e))
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<Bus>> {
        let read = self.state.bus(name).await;
        gone_is_none(read, is_gone, |e| provider_error(BUS_TYPE, name, e))
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        let result = self.state.delete_bus(name).await;
        deleted(result, is_gone, |e| provider_error(BUS_TYPE, name, e))
    }
}

#[cfg(test)]
mod tests;
