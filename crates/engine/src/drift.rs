//! Drift: how a resource's live configuration differs from what its template asked for.
//!
//! A provider that can read a resource back as CloudFormation properties
//! ([`crate::provider::Live`]) lets the engine compare them with the properties the
//! stack last applied. The comparison here is pure: [`differences`] lists, property by
//! property, what was added, removed or changed, in the shapes `DescribeStackResourceDrifts`
//! answers with.
//!
//! Rules (AWS's where the documentation states them, ours where it does not):
//! - only properties the provider reports are compared: a property the template sets but
//!   the service does not keep (a write-only one) cannot drift;
//! - a property the provider reports but the template does not set is an `ADD` (providers
//!   leave out values that are only defaults, so what is left was set by someone);
//! - scalars compare by their text (`5` and `"5"` are equal: template values are text);
//! - `Tags`, as a list of `{Key, Value}` or a map, compare by key, and tags CloudFormation
//!   or the stack put there (`aws:*`, the stack's own tags) are not the template's and are
//!   left out;
//! - other lists compare position by position.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::model::EpochMillis;

/// `DifferenceType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DifferenceType {
    #[serde(rename = "ADD")]
    Add,
    #[serde(rename = "REMOVE")]
    Remove,
    #[serde(rename = "NOT_EQUAL")]
    NotEqual,
}

impl DifferenceType {
    pub fn as_str(self) -> &'static str {
        match self {
            DifferenceType::Add => "ADD",
            DifferenceType::Remove => "REMOVE",
            DifferenceType::NotEqual => "NOT_EQUAL",
        }
    }
}

/// One `PropertyDifference`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDifference {
    /// A JSON pointer into the properties, e.g. `/Tags/1/Value`.
    pub path: String,
    /// The value as text (a scalar's own text, JSON for objects and lists; empty for an
    /// `ADD`'s expected and a `REMOVE`'s actual value).
    pub expected: String,
    pub actual: String,
    pub kind: DifferenceType,
}

/// `StackResourceDriftStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResourceDriftStatus {
    #[serde(rename = "IN_SYNC")]
    InSync,
    #[serde(rename = "MODIFIED")]
    Modified,
    #[serde(rename = "DELETED")]
    Deleted,
    #[serde(rename = "NOT_CHECKED")]
    NotChecked,
}

impl ResourceDriftStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceDriftStatus::InSync => "IN_SYNC",
            ResourceDriftStatus::Modified => "MODIFIED",
            ResourceDriftStatus::Deleted => "DELETED",
            ResourceDriftStatus::NotChecked => "NOT_CHECKED",
        }
    }
}

/// The last drift check of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceDrift {
    pub status: ResourceDriftStatus,
    pub checked: EpochMillis,
    /// Empty unless `Modified`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<PropertyDifference>,
}

/// What a stack keeps of its drift checks: the last stack-wide detection and each
/// resource's last check (by either operation). Kept on the stack record, so it is as
/// durable as the stack and written with one compare-and-set; the properties compared
/// are not kept (they are the resource's recorded ones, and the differences say the rest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDrift {
    /// The last `DetectStackDrift` (`None` before the first).
    pub detection: Option<Detection>,
    /// Logical id → last check.
    #[serde(default)]
    pub resources: std::collections::BTreeMap<String, ResourceDrift>,
}

/// One `DetectStackDrift`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    pub id: String,
    pub drifted: usize,
    pub checked: EpochMillis,
    /// Why some resource could not be checked (`DETECTION_FAILED`), the first such.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

impl Detection {
    /// `StackDriftStatus`: `DRIFTED` when some resource drifted, else `IN_SYNC`.
    pub fn status(&self) -> &'static str {
        if self.drifted > 0 {
            "DRIFTED"
        } else {
            "IN_SYNC"
        }
    }
}

/// The differences between `expected` (the properties the stack applied) and `actual`
/// (the provider's reading: every property it checks, `null` where the resource has none
/// or only the default), comparing only the properties `actual` holds. `ignored_tags` are
/// tag keys not to compare (the stack's own tags).
pub fn differences(
    expected: &Value,
    actual: &Map<String, Value>,
    ignored_tags: &[String],
) -> Vec<PropertyDifference> {
    let empty = Map::new();
    let expected = expected.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = expected
        .keys()
        .filter(|k| actual.contains_key(*k))
        .collect();
    keys.extend(actual.keys().filter(|k| !expected.contains_key(*k)));
    let mut out = Vec::new();
    for key in keys {
        let path = format!("/{}", escape(key));
        let (e, a) = (expected.get(key), actual.get(key));
        if key == "Tags" {
            tags(&path, e, a, ignored_tags, &mut out);
        } else {
            compare(&path, e, a, &mut out);
        }
    }
    out
}

fn compare(
    path: &str,
    expected: Option<&Value>,
    actual: Option<&Value>,
    out: &mut Vec<PropertyDifference>,
) {
    match (expected, actual) {
        (None | Some(Value::Null), None | Some(Value::Null)) => {}
        (Some(e), None | Some(Value::Null)) => {
            out.push(diff(path, Some(e), None, DifferenceType::Remove))
        }
        (None | Some(Value::Null), Some(a)) => {
            out.push(diff(path, None, Some(a), DifferenceType::Add))
        }
        (Some(Value::Object(e)), Some(Value::Object(a))) => {
            for (k, ev) in e {
                compare(&format!("{path}/{}", escape(k)), Some(ev), a.get(k), out);
            }
            for (k, av) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
                compare(&format!("{path}/{}", escape(k)), None, Some(av), out);
            }
        }
        (Some(Value::Array(e)), Some(Value::Array(a))) => {
            for i in 0..e.len().max(a.len()) {
                compare(&format!("{path}/{i}"), e.get(i), a.get(i), out);
            }
        }
        (Some(e), Some(a)) => {
            if text(e) != text(a) {
                out.push(diff(path, Some(e), Some(a), DifferenceType::NotEqual));
            }
        }
    }
}

/// Tags by key: a list of `{Key, Value}` (most types) or a map (SSM parameters).
fn tags(
    path: &str,
    expected: Option<&Value>,
    actual: Option<&Value>,
    ignored: &[String],
    out: &mut Vec<PropertyDifference>,
) {
    let keep = |k: &str| !k.starts_with("aws:") && !ignored.iter().any(|i| i == k);
    let (expected, actual) = (
        expected.filter(|v| !v.is_null()),
        actual.filter(|v| !v.is_null()),
    );
    match (expected, actual) {
        (Some(Value::Array(_)) | None, Some(Value::Array(_)) | None) => {
            let pairs = |v: Option<&Value>| -> Vec<(String, Value)> {
                v.and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|t| {
                        Some((t.get("Key")?.as_str()?.to_string(), t.get("Value")?.clone()))
                    })
                    .filter(|(k, _)| keep(k))
                    .collect()
            };
            let (e, a) = (pairs(expected), pairs(actual));
            for (i, (k, ev)) in e.iter().enumerate() {
                match a.iter().find(|(ak, _)| ak == k) {
                    Some((_, av)) => compare(&format!("{path}/{i}/Value"), Some(ev), Some(av), out),
                    None => out.push(diff(
                        &format!("{path}/{i}"),
                        Some(&tag(k, ev)),
                        None,
                        DifferenceType::Remove,
                    )),
                }
            }
            let added = a.iter().filter(|(ak, _)| !e.iter().any(|(k, _)| k == ak));
            for (j, (k, av)) in added.enumerate() {
                let index = e.len() + j;
                out.push(diff(
                    &format!("{path}/{index}"),
                    None,
                    Some(&tag(k, av)),
                    DifferenceType::Add,
                ));
            }
        }
        _ => {
            // Only the stack's own tags left is no tags.
            let kept = |v: Option<&Value>| {
                let m = v.and_then(Value::as_object)?;
                let kept: Map<String, Value> = m
                    .iter()
                    .filter(|(k, _)| keep(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (!kept.is_empty()).then_some(Value::Object(kept))
            };
            compare(path, kept(expected).as_ref(), kept(actual).as_ref(), out);
        }
    }
}

fn tag(key: &str, value: &Value) -> Value {
    serde_json::json!({"Key": key, "Value": value})
}

fn diff(
    path: &str,
    expected: Option<&Value>,
    actual: Option<&Value>,
    kind: DifferenceType,
) -> PropertyDifference {
    PropertyDifference {
        path: path.to_string(),
        expected: expected.map(text).unwrap_or_default(),
        actual: actual.map(text).unwrap_or_default(),
        kind,
    }
}

/// A value as CloudFormation shows it in a difference: a scalar's text, else JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        _ => v.to_string(),
    }
}

/// A JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `expected` with `differences` applied: the live properties as far as they were
/// compared (what `ActualProperties` shows).
pub fn apply(expected: &Value, differences: &[PropertyDifference]) -> Value {
    let mut out = expected.clone();
    for d in differences {
        let actual = match d.kind {
            DifferenceType::Remove => None,
            _ => Some(
                serde_json::from_str(&d.actual).unwrap_or_else(|_| Value::String(d.actual.clone())),
            ),
        };
        set(&mut out, &d.path, actual);
    }
    out
}

/// Sets (or with `None` removes) the member at JSON pointer `path`, making the objects on
/// the way; a list index past the end appends.
fn set(root: &mut Value, path: &str, value: Option<Value>) {
    let segments: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, parents)) = segments.split_last() else {
        return;
    };
    let mut at = root;
    for s in parents {
        at = match at {
            Value::Object(m) => m
                .entry(s.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(l) => match s.parse::<usize>().ok().and_then(|i| l.get_mut(i)) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (at, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(last.clone(), v);
        }
        (Value::Object(m), None) => {
            m.remove(last);
        }
        (Value::Array(l), v) => {
            let Ok(i) = last.parse::<usize>() else { return };
            match v {
                Some(v) if i < l.len() => l[i] = v,
                Some(v) => l.push(v),
                None if i < l.len() => {
                    l.remove(i);
                }
                None => {}
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn kinds(d: &[PropertyDifference]) -> Vec<(&str, &str, &str, &str)> {
        d.iter()
            .map(|d| {
                (
                    d.path.as_str(),
                    d.kind.as_str(),
                    d.expected.as_str(),
                    d.actual.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn scalars_compare_by_text_and_unreported_properties_are_not_checked() {
        let e = json!({"Value": "a", "Size": "5", "Secret": "x", "Tier": "Standard"});
        let a = obj(json!({"Value": "b", "Size": 5, "Description": null, "Tier": "Standard"}));
        let d = differences(&e, &a, &[]);
        assert_eq!(kinds(&d), [("/Value", "NOT_EQUAL", "a", "b")]);
        assert_eq!(apply(&e, &d)["Value"], "b");
    }

    #[test]
    fn added_and_removed_properties_and_nested_paths() {
        let e = json!({"Policies": [{"PolicyName": "p", "Doc": {"A": 1}}], "Path": "/"});
        let a = json!({"Policies": [{"PolicyName": "p", "Doc": {"A": 2, "B/x": 3}}], "Description": "d"});
        let mut live = obj(a.clone());
        live.insert("Path".into(), Value::Null);
        let d = differences(&e, &live, &[]);
        assert_eq!(
            kinds(&d),
            [
                ("/Policies/0/Doc/A", "NOT_EQUAL", "1", "2"),
                ("/Policies/0/Doc/B~1x", "ADD", "", "3"),
                ("/Path", "REMOVE", "/", ""),
                ("/Description", "ADD", "", "d"),
            ]
        );
        let applied = apply(&e, &d);
        assert_eq!(applied, a);
    }

    #[test]
    fn tags_compare_by_key_without_the_stacks_own() {
        let e = json!({"Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]});
        let a = json!({"Tags": [
            {"Key": "aws:cloudformation:stack-name", "Value": "s"},
            {"Key": "team", "Value": "ml"},
            {"Key": "b", "Value": "3"},
            {"Key": "c", "Value": "4"},
        ]});
        let d = differences(&e, &obj(a), &["team".into()]);
        assert_eq!(
            kinds(&d),
            [
                ("/Tags/0", "REMOVE", r#"{"Key":"a","Value":"1"}"#, ""),
                ("/Tags/1/Value", "NOT_EQUAL", "2", "3"),
                ("/Tags/2", "ADD", "", r#"{"Key":"c","Value":"4"}"#),
            ]
        );
        // Map-shaped tags (SSM) compare by key too.
        let d = differences(
            &json!({"Tags": {"a": "1"}}),
            &obj(json!({"Tags": {"a": "2", "aws:x": "y"}})),
            &[],
        );
        assert_eq!(kinds(&d), [("/Tags/a", "NOT_EQUAL", "1", "2")]);
        assert!(differences(&json!({}), &obj(json!({"Tags": []})), &[]).is_empty());
        let only_stack_tags =
            obj(json!({"Tags": {"team": "ml", "aws:cloudformation:stack-id": "s"}}));
        assert!(differences(&json!({}), &only_stack_tags, &["team".into()]).is_empty());
        let d = differences(
            &json!({"Tags": [{"Key": "a", "Value": "1"}]}),
            &obj(json!({"Tags": null})),
            &[],
        );
        assert_eq!(
            kinds(&d),
            [("/Tags/0", "REMOVE", r#"{"Key":"a","Value":"1"}"#, "")]
        );
    }
}
