//! Change-set computation: what an update would do, before anything runs.
//!
//! New properties are resolved against the *current* resources. A reference to a resource
//! that the update adds or may replace has no value yet, so the lookup hands out a marker
//! string naming it; a property whose new value contains a marker is a *dynamic* change
//! (known after apply) caused by that resource, and if the property is create-only the
//! replacement is `Conditional` rather than `True`. Resources are visited in dependency
//! order so markers propagate: whatever depends on a maybe-replaced resource sees a marker.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

use serde_json::Value;

use crate::error::EngineError;
use crate::model::{
    ChangeAction, ChangeSource, ChangeTarget, ChangeValues, Evaluation, KNOWN_AFTER_APPLY,
    Replacement, RequiresRecreation, ResourceChange, ResourceChangeDetail, ResourceRecord,
};
use crate::plan::{ResourceLookup, TemplatePlan};
use crate::provider::ProviderRegistry;

/// Prefix of the "known after apply" marker. The NUL keeps it from colliding with any
/// value a template could produce.
const UNKNOWN: &str = "\u{0}sagestack-known-after-apply:";

/// Resolves references against existing resources, handing out markers for `unknown` ones.
pub(crate) struct MarkerLookup<'a> {
    pub live: &'a BTreeMap<String, ResourceRecord>,
    pub unknown: &'a HashSet<String>,
    pub exports: &'a HashMap<String, String>,
    /// When true, every resource is unknown (used to inspect properties before creation).
    pub all_unknown: bool,
}

impl MarkerLookup<'_> {
    /// The lookup of `live` resources and `exports` as they are: nothing is unknown.
    pub fn known<'a>(
        live: &'a BTreeMap<String, ResourceRecord>,
        exports: &'a HashMap<String, String>,
    ) -> MarkerLookup<'a> {
        static NOTHING: LazyLock<HashSet<String>> = LazyLock::new(HashSet::new);
        MarkerLookup::with_unknown(live, &NOTHING, exports)
    }

    /// The lookup of `live` resources and `exports` in which the resources named in
    /// `unknown` (not created yet, or to be replaced) resolve to markers.
    pub fn with_unknown<'a>(
        live: &'a BTreeMap<String, ResourceRecord>,
        unknown: &'a HashSet<String>,
        exports: &'a HashMap<String, String>,
    ) -> MarkerLookup<'a> {
        MarkerLookup {
            live,
            unknown,
            exports,
            all_unknown: false,
        }
    }
}

impl ResourceLookup for MarkerLookup<'_> {
    fn physical_id(&self, logical_id: &str) -> Option<String> {
        if self.all_unknown || self.unknown.contains(logical_id) {
            return Some(format!("{UNKNOWN}{logical_id}"));
        }
        self.live
            .get(logical_id)
            .and_then(|r| r.physical_id.clone())
    }

    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Value> {
        if self.all_unknown || self.unknown.contains(logical_id) {
            return Some(Value::String(format!("{UNKNOWN}{logical_id}.{attribute}")));
        }
        self.live
            .get(logical_id)
            .and_then(|r| r.attributes.get(attribute).cloned())
    }

    fn import_value(&self, export_name: &str) -> Option<String> {
        self.exports.get(export_name).cloned()
    }
}

/// Every resource named by a marker inside `v` (`A` or `A.Attr`).
fn causing_entities(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(at) = rest.find(UNKNOWN) {
                let tail = &rest[at + UNKNOWN.len()..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
                    .unwrap_or(tail.len());
                out.insert(tail[..end].to_string());
                rest = &tail[end..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| causing_entities(x, out)),
        Value::Object(o) => o.values().for_each(|x| causing_entities(x, out)),
        _ => {}
    }
}

/// `v` as a change set shows it: every string holding a marker is [`KNOWN_AFTER_APPLY`]
/// (CloudFormation shows the whole value as unknown, not the known part of it), and
/// every string holding a secret has it masked.
pub(crate) fn shown(v: &Value, secrets: &[String]) -> Value {
    match v {
        Value::String(s) if s.contains(UNKNOWN) => Value::String(KNOWN_AFTER_APPLY.to_string()),
        Value::String(s) => Value::String(crate::no_echo::mask_text(s, secrets)),
        Value::Array(a) => Value::Array(a.iter().map(|x| shown(x, secrets)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), shown(x, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Top-level property names whose values differ between `old` and `new` (objects; anything
/// else counts as empty).
pub(crate) fn changed_properties(old: &Value, new: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| o.get(*k) != n.get(*k))
        .cloned()
        .collect()
}

/// Resources in an order where each comes after everything it depends on; template order
/// breaks ties. Errors on a cycle with CloudFormation's message.
pub(crate) fn topological_order(plan: &dyn TemplatePlan) -> Result<Vec<String>, EngineError> {
    let ids: Vec<&str> = plan
        .resources()
        .iter()
        .map(|r| r.logical_id.as_str())
        .collect();
    let known: HashSet<&str> = ids.iter().copied().collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut order = Vec::with_capacity(ids.len());
    while order.len() < ids.len() {
        let before = order.len();
        for r in plan.resources() {
            if done.contains(r.logical_id.as_str()) {
                continue;
            }
            let ready = r
                .depends_on
                .iter()
                .all(|d| !known.contains(d.as_str()) || done.contains(d.as_str()));
            if ready {
                done.insert(r.logical_id.as_str());
                order.push(r.logical_id.clone());
            }
        }
        if order.len() == before {
            let stuck: Vec<&str> = ids.iter().copied().filter(|i| !done.contains(i)).collect();
            return Err(EngineError::Validation(format!(
                "Circular dependency between resources: [{}]",
                stuck.join(", ")
            )));
        }
    }
    Ok(order)
}

/// The changes that turn the resources in `live` into `plan`, with the properties before
/// and after each (`secrets` masked in them).
pub(crate) fn compute_changes(
    plan: &dyn TemplatePlan,
    live: &BTreeMap<String, ResourceRecord>,
    providers: &ProviderRegistry,
    exports: &HashMap<String, String>,
    secrets: &[String],
) -> Result<Vec<ResourceChange>, EngineError> {
    let type_changed: Vec<&str> = plan
        .resources()
        .iter()
        .filter(|r| {
            live.get(&r.logical_id)
                .is_some_and(|l| l.resource_type != r.resource_type)
        })
        .map(|r| r.logical_id.as_str())
        .collect();
    EngineError::refuse_listed(
        "Update of resource type is not permitted. The new template modifies resource type of the following resources",
        &type_changed,
    )?;

    let order = topological_order(plan)?;
    let by_id: HashMap<&str, &crate::plan::PlannedResource> = plan
        .resources()
        .iter()
        .map(|r| (r.logical_id.as_str(), r))
        .collect();
    let mut unknown: HashSet<String> = HashSet::new();
    let mut changes: HashMap<String, ResourceChange> = HashMap::new();

    for id in &order {
        let planned = by_id[id.as_str()];
        let Some(old) = live.get(id).filter(|r| r.physical_id.is_some()) else {
            unknown.insert(id.clone());
            let after = plan
                .resolve_properties(id, &MarkerLookup::with_unknown(live, &unknown, exports))
                .ok();
            changes.insert(
                id.clone(),
                ResourceChange {
                    action: ChangeAction::Add,
                    logical_resource_id: id.clone(),
                    physical_resource_id: None,
                    resource_type: planned.resource_type.clone(),
                    replacement: None,
                    scope: Vec::new(),
                    details: Vec::new(),
                    values: after.map(|a| ChangeValues {
                        before: None,
                        after: Some(shown(&a, secrets)),
                    }),
                },
            );
            continue;
        };
        let with_markers = plan
            .resolve_properties(id, &MarkerLookup::with_unknown(live, &unknown, exports))
            .map_err(|e| EngineError::Validation(e.message))?;
        let changed = changed_properties(&old.properties, &with_markers);
        if changed.is_empty() {
            continue;
        }
        // The same properties resolved as if nothing were replaced tell static changes
        // (the template or a parameter changed) from purely dynamic ones.
        let without_markers = plan
            .resolve_properties(id, &MarkerLookup::known(live, exports))
            .unwrap_or_else(|_| with_markers.clone());
        let static_changed: HashSet<String> = changed_properties(&old.properties, &without_markers)
            .into_iter()
            .collect();
        let create_only: HashSet<String> = providers
            .type_info(&old.resource_type)
            .map(|t| t.create_only_properties.into_iter().collect())
            .unwrap_or_default();

        let mut details = Vec::new();
        let mut replacement = Replacement::False;
        for name in &changed {
            let recreation = if create_only.contains(name) {
                RequiresRecreation::Always
            } else {
                RequiresRecreation::Never
            };
            let target = ChangeTarget {
                attribute: "Properties".to_string(),
                name: Some(name.clone()),
                requires_recreation: recreation,
            };
            let mut causes = BTreeSet::new();
            if let Some(v) = with_markers.get(name) {
                causing_entities(v, &mut causes);
            }
            if static_changed.contains(name) {
                details.push(ResourceChangeDetail {
                    target: target.clone(),
                    evaluation: Evaluation::Static,
                    change_source: ChangeSource::DirectModification,
                    causing_entity: None,
                });
                if recreation == RequiresRecreation::Always {
                    replacement = Replacement::True;
                }
            }
            for cause in causes {
                details.push(ResourceChangeDetail {
                    target: target.clone(),
                    evaluation: Evaluation::Dynamic,
                    change_source: ChangeSource::ResourceReference,
                    causing_entity: Some(cause),
                });
                if recreation == RequiresRecreation::Always && replacement == Replacement::False {
                    replacement = Replacement::Conditional;
                }
            }
        }
        if replacement != Replacement::False {
            unknown.insert(id.clone());
        }
        changes.insert(
            id.clone(),
            ResourceChange {
                action: ChangeAction::Modify,
                logical_resource_id: id.clone(),
                physical_resource_id: old.physical_id.clone(),
                resource_type: old.resource_type.clone(),
                replacement: Some(replacement),
                scope: vec!["Properties".to_string()],
                details,
                values: Some(ChangeValues {
                    before: Some(shown(&old.properties, secrets)),
                    after: Some(shown(&with_markers, secrets)),
                }),
            },
        );
    }

    // Report in template order, then removals in logical-id order.
    let mut out: Vec<ResourceChange> = plan
        .resources()
        .iter()
        .filter_map(|r| changes.remove(&r.logical_id))
        .collect();
    for (id, rec) in live {
        if !by_id.contains_key(id.as_str()) {
            out.push(ResourceChange {
                action: ChangeAction::Remove,
                logical_resource_id: id.clone(),
                physical_resource_id: rec.physical_id.clone(),
                resource_type: rec.resource_type.clone(),
                replacement: None,
                scope: Vec::new(),
                details: Vec::new(),
                values: Some(ChangeValues {
                    before: Some(shown(&rec.properties, secrets)),
                    after: None,
                }),
            });
        }
    }
    Ok(out)
}

/// Adds to `changes` what new stack tags do: every taggable resource the update keeps
/// is modified in place (`Scope` `Tags`, a static `Tags` detail), as CloudFormation
/// propagates stack tags; one already modified gets the `Tags` scope and detail too.
pub(crate) fn add_tag_changes(
    changes: &mut Vec<ResourceChange>,
    plan: &dyn TemplatePlan,
    live: &BTreeMap<String, ResourceRecord>,
    providers: &ProviderRegistry,
    secrets: &[String],
) {
    let tag_detail = || ResourceChangeDetail {
        target: ChangeTarget {
            attribute: "Tags".to_string(),
            name: None,
            requires_recreation: RequiresRecreation::Never,
        },
        evaluation: Evaluation::Static,
        change_source: ChangeSource::DirectModification,
        causing_entity: None,
    };
    let mut by_id: HashMap<String, ResourceChange> = changes
        .drain(..)
        .map(|c| (c.logical_resource_id.clone(), c))
        .collect();
    for r in plan.resources() {
        let id = &r.logical_id;
        let taggable = providers
            .type_info(&r.resource_type)
            .is_some_and(|t| t.taggable);
        match (by_id.get_mut(id), live.get(id)) {
            (Some(c), _) if taggable && c.action == ChangeAction::Modify => {
                c.scope.push("Tags".to_string());
                c.details.push(tag_detail());
            }
            (None, Some(old)) if taggable && old.resource_type == r.resource_type => {
                let properties = Some(shown(&old.properties, secrets));
                by_id.insert(
                    id.clone(),
                    ResourceChange {
                        action: ChangeAction::Modify,
                        logical_resource_id: id.clone(),
                        physical_resource_id: old.physical_id.clone(),
                        resource_type: old.resource_type.clone(),
                        replacement: Some(Replacement::False),
                        scope: vec!["Tags".to_string()],
                        details: vec![tag_detail()],
                        values: Some(ChangeValues {
                            before: properties.clone(),
                            after: properties,
                        }),
                    },
                );
            }
            _ => {}
        }
    }
    // Template order, then removals in logical-id order, as `compute_changes` reports.
    for r in plan.resources() {
        if let Some(c) = by_id.remove(&r.logical_id) {
            changes.push(c);
        }
    }
    let mut removals: Vec<ResourceChange> = by_id.into_values().collect();
    removals.sort_by(|a, b| a.logical_resource_id.cmp(&b.logical_resource_id));
    changes.extend(removals);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markers_name_their_causes() {
        let mut out = BTreeSet::new();
        let v = json!({"a": [format!("x-{UNKNOWN}Bucket.Arn-y"), format!("{UNKNOWN}Queue")]});
        causing_entities(&v, &mut out);
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            vec!["Bucket.Arn", "Queue"]
        );
    }

    #[test]
    fn unknown_values_and_secrets_are_shown_as_cloudformation_shows_them() {
        let v = json!({
            "Role": format!("{UNKNOWN}Role.Arn"),
            "Name": format!("prefix-{UNKNOWN}Bucket"),
            "Env": {"Password": "p4ss-and-more", "Plain": "x"},
            "Port": 80,
        });
        assert_eq!(
            shown(&v, &["p4ss".to_string()]),
            json!({
                "Role": KNOWN_AFTER_APPLY,
                "Name": KNOWN_AFTER_APPLY,
                "Env": {"Password": "*****-and-more", "Plain": "x"},
                "Port": 80,
            })
        );
    }

    #[test]
    fn changed_top_level_properties() {
        let old = json!({"A": 1, "B": {"x": 1}, "C": 3});
        let new = json!({"A": 1, "B": {"x": 2}, "D": 4});
        assert_eq!(changed_properties(&old, &new), vec!["B", "C", "D"]);
    }
}
