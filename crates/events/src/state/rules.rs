//! Rules and their targets, and tags on buses and rules: the rules of each operation
//! over the stored documents, memory changed after every stored change.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_store::CatalogKind;
use serde_json::{Map, Value};

use super::{EventBridge, forget, remember};
use crate::documents::{
    DEFAULT_BUS, MAX_TARGETS, Resource, Result, Rule, insert_rule, merge_tags, rule_key,
    update_rule,
};
use crate::error::{EventsError, invalid, no_bus, no_rule};
use crate::schedule::Schedule;
use crate::{Pattern, targets};

/// What PutRule gives.
#[derive(Debug, Clone, Default)]
pub struct NewRule {
    pub name: String,
    /// `default` when absent.
    pub event_bus_name: Option<String>,
    pub event_pattern: Option<String>,
    pub schedule_expression: Option<String>,
    /// `ENABLED` when absent.
    pub state: Option<String>,
    pub description: Option<String>,
    pub role_arn: Option<String>,
    /// Applied when the rule is created (AWS ignores them on an update).
    pub tags: BTreeMap<String, String>,
}

/// PutTargets' and RemoveTargets' answer: each refused entry's `(id, code, message)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PutTargetsOutcome {
    pub failed: Vec<(String, String, String)>,
}

impl EventBridge {
    fn check_bus(&self, bus: &str) -> Result<()> {
        if self.bus_exists(bus) {
            Ok(())
        } else {
            Err(no_bus(bus))
        }
    }

    /// The rule as memory has it (what delivery and the API read).
    pub fn rule_now(&self, bus: &str, name: &str) -> Option<Arc<Rule>> {
        self.memory()
            .rules
            .get(&rule_key(bus, name))
            .map(|(_, r)| r.clone())
    }

    fn put_in_memory(&self, version: i64, rule: Rule) -> Arc<Rule> {
        let rule = Arc::new(rule);
        remember(&mut self.memory(), version, rule.clone(), self.clock.now());
        rule
    }

    /// PutRule: creates the rule, or updates its pattern, schedule, state, description
    /// and role (keeping its targets and tags).
    pub async fn put_rule(&self, new: NewRule) -> Result<Arc<Rule>> {
        self.ready().await?;
        let bus = new
            .event_bus_name
            .clone()
            .unwrap_or_else(|| DEFAULT_BUS.to_string());
        self.check_bus(&bus)?;
        let pattern = new.event_pattern.as_deref().filter(|p| !p.is_empty());
        let schedule = new.schedule_expression.as_deref().filter(|s| !s.is_empty());
        if pattern.is_none() && schedule.is_none() {
            return Err(invalid(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(p) = pattern {
            Pattern::parse(p)?;
        }
        if let Some(s) = schedule {
            if bus != DEFAULT_BUS {
                return Err(invalid(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
            Schedule::parse(s)?;
        }
        let state = new.state.clone().unwrap_or_else(|| "ENABLED".into());
        let now = self.clock.now();
        let apply = |rule: &mut Rule| {
            rule.event_pattern = pattern.map(str::to_owned);
            rule.schedule_expression = schedule.map(str::to_owned);
            if !rule.is_enabled() && crate::documents::enabled(&state) {
                rule.enabled_time = now;
            }
            rule.state = state.clone();
            rule.description = new.description.clone();
            rule.role_arn = new.role_arn.clone();
        };
        // Create when absent; a concurrent create makes this an update.
        if self.rule_now(&bus, &new.name).is_none() {
            let mut rule = Rule {
                name: new.name.clone(),
                arn: self.scope.rule_arn(&bus, &new.name),
                event_bus_name: bus.clone(),
                event_pattern: None,
                schedule_expression: None,
                state: "DISABLED".into(),
                description: None,
                role_arn: None,
                created_by: self.scope.account_id.clone(),
                creation_time: now,
                enabled_time: now,
                targets: Vec::new(),
                tags: BTreeMap::new(),
            };
            apply(&mut rule);
            merge_tags(&mut rule.tags, new.tags.clone())?;
            if insert_rule(&*self.store, &rule).await? {
                return Ok(self.put_in_memory(1, rule));
            }
        }
        let (rule, version) = update_rule(&*self.store, &bus, &new.name, |r| {
            apply(r);
            Ok(())
        })
        .await?;
        Ok(self.put_in_memory(version, rule))
    }

    /// DescribeRule.
    pub async fn rule(&self, bus: &str, name: &str) -> Result<Arc<Rule>> {
        self.ready().await?;
        self.check_bus(bus)?;
        self.rule_now(bus, name).ok_or_else(|| no_rule(name, bus))
    }

    /// ListRules: the bus's rules whose names start with `prefix`, by name.
    pub async fn rules(&self, bus: &str, prefix: Option<&str>) -> Result<Vec<Arc<Rule>>> {
        self.ready().await?;
        self.check_bus(bus)?;
        let mut out: Vec<Arc<Rule>> = self
            .memory()
            .rules
            .values()
            .map(|(_, r)| r.clone())
            .filter(|r| r.event_bus_name == bus && prefix.is_none_or(|p| r.name.starts_with(p)))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// DeleteRule: refused while the rule has targets; a rule that does not exist is
    /// deleted already.
    pub async fn delete_rule(&self, bus: &str, name: &str) -> Result<()> {
        self.ready().await?;
        self.check_bus(bus)?;
        let key = rule_key(bus, name);
        // Read the stored document: memory may lag another writer's PutTargets.
        let Some(stored) = self.store.catalog_get(CatalogKind::EventRule, &key).await? else {
            forget(&mut self.memory(), &key);
            return Ok(());
        };
        if !crate::documents::parse_rule(&stored)?.targets.is_empty() {
            return Err(invalid("Rule can't be deleted since it has targets."));
        }
        self.store
            .catalog_delete(CatalogKind::EventRule, &key)
            .await?;
        forget(&mut self.memory(), &key);
        Ok(())
    }

    /// EnableRule / DisableRule.
    pub async fn set_enabled(&self, bus: &str, name: &str, enabled: bool) -> Result<()> {
        self.ready().await?;
        self.check_bus(bus)?;
        let now = self.clock.now();
        let (rule, version) = update_rule(&*self.store, bus, name, |r| {
            if enabled && !r.is_enabled() {
                r.enabled_time = now;
            }
            r.state = if enabled { "ENABLED" } else { "DISABLED" }.into();
            Ok(())
        })
        .await?;
        self.put_in_memory(version, rule);
        Ok(())
    }

    /// PutTargets: adds or replaces (by `Id`) the valid targets; each invalid one is a
    /// failed entry. More than [`MAX_TARGETS`] on the rule refuses the whole call.
    pub async fn put_targets(
        &self,
        bus: &str,
        name: &str,
        given: Vec<Map<String, Value>>,
    ) -> Result<PutTargetsOutcome> {
        self.ready().await?;
        self.check_bus(bus)?;
        let mut outcome = PutTargetsOutcome::default();
        let mut valid = Vec::new();
        for t in given {
            let id = t
                .get("Id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            match targets::check(&t) {
                Ok(_) => valid.push(t),
                Err((code, message)) => outcome.failed.push((id, code, message)),
            }
        }
        let (rule, version) = update_rule(&*self.store, bus, name, |r| {
            let mut next = r.targets.clone();
            for t in &valid {
                let id = t.get("Id");
                match next.iter_mut().find(|e| e.get("Id") == id) {
                    Some(existing) => *existing = t.clone(),
                    None => next.push(t.clone()),
                }
            }
            if next.len() > MAX_TARGETS {
                return Err(EventsError::LimitExceeded(
                    "The requested resource exceeds the maximum number allowed.".into(),
                ));
            }
            r.targets = next;
            Ok(())
        })
        .await?;
        self.put_in_memory(version, rule);
        Ok(outcome)
    }

    /// RemoveTargets: ids the rule does not have are ignored, as AWS does.
    pub async fn remove_targets(
        &self,
        bus: &str,
        name: &str,
        ids: &[String],
    ) -> Result<PutTargetsOutcome> {
        self.ready().await?;
        self.check_bus(bus)?;
        let (rule, version) = update_rule(&*self.store, bus, name, |r| {
            r.targets.retain(|t| {
                !t.get("Id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.iter().any(|i| i == id))
            });
            Ok(())
        })
        .await?;
        self.put_in_memory(version, rule);
        Ok(PutTargetsOutcome::default())
    }

    /// ListRuleNamesByTarget: the bus's rules with a target of this ARN, by name.
    pub async fn rule_names_by_target(&self, bus: &str, arn: &str) -> Result<Vec<String>> {
        let rules = self.rules(bus, None).await?;
        Ok(rules
            .iter()
            .filter(|r| {
                r.targets
                    .iter()
                    .any(|t| t.get("Arn").and_then(Value::as_str) == Some(arn))
            })
            .map(|r| r.name.clone())
            .collect())
    }

    // ---- tags ----

    fn resource(&self, arn: &str) -> Result<Resource> {
        self.scope
            .resource_of(arn)
            .ok_or_else(|| EventsError::ResourceNotFound(format!("Resource {arn} does not exist.")))
    }

    /// ListTagsForResource of a bus or rule ARN.
    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        match self.resource(arn)? {
            Resource::Bus(b) => Ok(self.bus(&b).await?.tags),
            Resource::Rule(b, r) => Ok(self.rule(&b, &r).await?.tags.clone()),
        }
    }

    /// TagResource / UntagResource: `add` merged in (within the limit), then `remove`d.
    pub async fn retag(
        &self,
        arn: &str,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        self.ready().await?;
        let change = |tags: &mut BTreeMap<String, String>| {
            merge_tags(tags, add.clone())?;
            tags.retain(|k, _| !remove.contains(k));
            Ok(())
        };
        match self.resource(arn)? {
            Resource::Bus(b) => {
                self.update_bus_tags(&b, |bus| change(&mut bus.tags))
                    .await?;
            }
            Resource::Rule(b, r) => {
                self.check_bus(&b)?;
                let (rule, version) =
                    update_rule(&*self.store, &b, &r, |rule| change(&mut rule.tags)).await?;
                self.put_in_memory(version, rule);
            }
        }
        Ok(())
    }
}
