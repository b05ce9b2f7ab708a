//! The small kit the native resource providers (IAM roles, S3 buckets, SSM parameters,
//! Service Catalog objects, SageMaker model package groups) are built from: reading
//! properties, building their `TypeInfo` and states, generating names as CloudFormation
//! does, CloudFormation's wording of the usual failures, and the engine's reading of a
//! service's answers ("already gone" is a successful delete, "gone" reads as `None`,
//! only what was made since the create started is the create's). [`super::Native`]
//! joins these into a whole provider.
//!
//! Shared so that every native type fails in the same words as the schema-driven ones
//! and recovers from a crash by the same rules; each provider keeps only what its
//! service does differently.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde_json::{Map, Value};

use super::{ProviderError, ResourceContext, ResourceState, TypeInfo};
use crate::model::EpochMillis;

/// The facts of `type_name` from its create-only properties and `Fn::GetAtt` attribute
/// names: the one way a provider with a fixed list spells them.
pub fn type_info(
    type_name: &str,
    create_only: &[&str],
    attributes: &[&str],
    taggable: bool,
) -> TypeInfo {
    let owned = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    TypeInfo {
        type_name: type_name.to_string(),
        create_only_properties: owned(create_only),
        attributes: owned(attributes),
        taggable,
        name_property: None,
        amends: Vec::new(),
    }
}

/// A record's live properties for drift detection ([`super::Live::Properties`]): each
/// `(property, live value, default)`. A property the template (`expected`) does not set
/// reads as `null` when its live value is the default (`null` = no default), so only
/// what someone set shows as added.
pub fn live<const N: usize>(
    expected: &Value,
    properties: [(&str, Value, Value); N],
) -> Map<String, Value> {
    properties
        .into_iter()
        .map(|(name, value, default)| {
            let set = expected.get(name).is_some_and(|v| !v.is_null());
            let value = if !set && value == default {
                Value::Null
            } else {
                value
            };
            (name.to_string(), value)
        })
        .collect()
}

/// A resource's state from its physical id and its `Fn::GetAtt` attributes.
pub fn state<const N: usize>(
    physical_id: impl Into<String>,
    attributes: [(&str, Value); N],
) -> ResourceState {
    ResourceState {
        physical_id: physical_id.into(),
        attributes: attributes
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

/// A scalar property as text (`"a"`, `1`, `true`), `None` when absent or not a scalar:
/// templates often pass numbers and booleans where a service takes strings.
pub fn text(properties: &Value, key: &str) -> Option<String> {
    match properties.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The name a create gives its resource: the string property `key` when the template
/// sets one, else `generated()` (for a create attempt, the name drawn from
/// [`super::attempt_chars`], which recovery computes again to find what it made).
pub fn name_or(properties: &Value, key: &str, generated: impl FnOnce() -> String) -> String {
    match properties.get(key).and_then(Value::as_str) {
        Some(name) => name.to_string(),
        None => generated(),
    }
}

/// The generated name of the resource the create attempt `ctx` makes:
/// `generated(stack name, logical id, suffix)`, the suffix `len` characters of `alphabet`
/// fixed by the attempt ([`super::attempt_chars`]), so recovery computes it again.
pub fn attempt_name(
    ctx: &ResourceContext,
    alphabet: &[u8],
    len: usize,
    generated: impl FnOnce(&str, &str, &str) -> String,
) -> String {
    let suffix = super::attempt_chars(ctx, alphabet, len);
    generated(&ctx.stack_name, &ctx.logical_id, &suffix)
}

/// How many characters of a generated name's stack name (`stack` long) and logical id
/// (`logical` long) fit in `budget`: the longer is shortened first, a character at a
/// time, as CloudFormation shortens them to keep the random suffix whole.
pub fn shortened(stack: usize, logical: usize, budget: usize) -> (usize, usize) {
    let (mut s, mut l) = (stack, logical);
    while s + l > budget {
        if s >= l && s > 0 {
            s -= 1;
        } else if l > 0 {
            l -= 1;
        } else {
            break;
        }
    }
    (s, l)
}

/// `{stack}-{logical}-{suffix}` within `max` characters: the suffix whole, the stack name
/// and logical id [`shortened`] to fit. The generated name of most native types (the
/// `generated` of [`attempt_name`]).
pub fn stack_logical_name(stack: &str, logical: &str, suffix: &str, max: usize) -> String {
    let budget = max.saturating_sub(suffix.len() + 2);
    let (s, l) = shortened(stack.chars().count(), logical.chars().count(), budget);
    let take = |x: &str, n: usize| x.chars().take(n).collect::<String>();
    format!("{}-{}-{suffix}", take(stack, s), take(logical, l))
}

/// A template's `Tags` (a list of `{Key, Value}`, a later key winning; anything but a
/// list reads as none) with the stack's tags it does not set: what a taggable native
/// resource is tagged with. An entry without both members fails as CloudFormation
/// fails it.
pub fn tags(
    ctx: &ResourceContext,
    properties: &Value,
) -> Result<BTreeMap<String, String>, ProviderError> {
    let mut out = BTreeMap::new();
    let listed = properties.get("Tags").and_then(Value::as_array);
    for (i, t) in listed.into_iter().flatten().enumerate() {
        let (Some(k), Some(v)) = (text(t, "Key"), text(t, "Value")) else {
            return Err(invalid(
                ctx,
                format_args!("#/Tags/{i}: required key [Key] or [Value] not found"),
            ));
        };
        out.insert(k, v);
    }
    for (k, v) in &ctx.stack_tags {
        out.entry(k.clone()).or_insert_with(|| v.clone());
    }
    Ok(out)
}

/// The members of `object` named in `keys` (those it has), in `keys`' order: what a
/// stored document keeps of a resource's properties.
pub fn picked(object: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|k| Some((k.to_string(), object.get(*k)?.clone())))
        .collect()
}

/// A required scalar property as text ([`text`]), or the validation failure of a
/// missing key ([`missing`]).
pub fn required(
    ctx: &ResourceContext,
    properties: &Value,
    key: &str,
) -> Result<String, ProviderError> {
    text(properties, key).ok_or_else(|| missing(ctx, key))
}

/// CloudFormation's validation failure of the resource `ctx` names: `message` is the
/// schema-style detail (`#/Path: ...`).
pub fn invalid(ctx: &ResourceContext, message: impl Display) -> ProviderError {
    ProviderError::InvalidRequest(format!(
        "Properties validation failed for resource {} with message: {message}",
        ctx.logical_id
    ))
}

/// The validation failure of a required property that is absent.
pub fn missing(ctx: &ResourceContext, key: &str) -> ProviderError {
    invalid(ctx, format_args!("#: required key [{key}] not found"))
}

/// CloudFormation's failure for a physical resource that is gone.
pub fn not_found(type_name: &str, id: &str) -> ProviderError {
    ProviderError::NotFound(format!(
        "Resource of type '{type_name}' with identifier '{id}' was not found."
    ))
}

/// CloudFormation's failure for a name or identifier that is taken.
pub fn already_exists(type_name: &str, id: &str) -> ProviderError {
    ProviderError::AlreadyExists(format!(
        "Resource of type '{type_name}' with identifier '{id}' already exists."
    ))
}

/// An unexpected failure of the service behind a provider (its store, its I/O).
pub fn internal(e: impl Display) -> ProviderError {
    ProviderError::Internal(e.to_string())
}

/// What a read-back found, or [`not_found`] when the resource vanished (an update of
/// something deleted behind the stack's back).
pub fn found<T>(read: Option<T>, type_name: &str, id: &str) -> Result<T, ProviderError> {
    read.ok_or_else(|| not_found(type_name, id))
}

/// A delete's outcome as the engine takes it: a resource already gone (`gone` says
/// which errors mean that) is deleted; other errors become `error`'s.
pub fn deleted<E>(
    result: Result<(), E>,
    gone: impl FnOnce(&E) -> bool,
    error: impl FnOnce(E) -> ProviderError,
) -> Result<(), ProviderError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if gone(&e) => Ok(()),
        Err(e) => Err(error(e)),
    }
}

/// A read's outcome as the engine takes it: a resource that is gone (`gone` says which
/// errors mean that) reads as `None`; other errors become `error`'s.
pub fn gone_is_none<T, E>(
    result: Result<T, E>,
    gone: impl FnOnce(&E) -> bool,
    error: impl FnOnce(E) -> ProviderError,
) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if gone(&e) => Ok(None),
        Err(e) => Err(error(e)),
    }
}

/// Whether something created at `created_micros` (epoch microseconds) was made by the
/// create that started at `started`: anything older belongs to someone else, and
/// [`super::ResourceProvider::find_interrupted_create`] must not return it.
pub fn created_since_micros(created_micros: i64, started: EpochMillis) -> bool {
    created_micros >= started.saturating_mul(1000)
}

/// [`created_since_micros`] for a creation time kept as epoch seconds in an `f64` (as
/// the JSON APIs show it): compared at the microsecond precision the services store.
pub fn created_since_secs(created_secs: f64, started: EpochMillis) -> bool {
    created_secs * 1000.0 + 0.001 >= started as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readers_and_messages() {
        let p = json!({"S": "a", "N": 1, "B": true, "O": {}});
        assert_eq!(text(&p, "S").as_deref(), Some("a"));
        assert_eq!(text(&p, "N").as_deref(), Some("1"));
        assert_eq!(text(&p, "B").as_deref(), Some("true"));
        assert_eq!(text(&p, "O"), None);
        assert_eq!(
            Value::Object(picked(&p, &["N", "X", "S"])),
            json!({"N": 1, "S": "a"})
        );
        let ctx = ResourceContext {
            logical_id: "R".into(),
            ..ResourceContext::default()
        };
        assert_eq!(
            required(&ctx, &p, "X").unwrap_err(),
            ProviderError::InvalidRequest(
                "Properties validation failed for resource R with message: #: required key [X] not found"
                    .into()
            )
        );
        assert_eq!(
            found::<()>(None, "T", "i").unwrap_err(),
            ProviderError::NotFound(
                "Resource of type 'T' with identifier 'i' was not found.".into()
            )
        );
        assert_eq!(deleted(Err(1), |e| *e == 1, |_| internal("x")), Ok(()));
        assert_eq!(
            deleted(Err(2), |e| *e == 1, |_| internal("x")),
            Err(internal("x"))
        );
        assert_eq!(
            gone_is_none::<(), _>(Err(1), |e| *e == 1, |_| internal("x")),
            Ok(None)
        );
        assert!(created_since_micros(1_000_000, 1000));
        assert!(!created_since_micros(999_999, 1000));
        assert!(created_since_secs(1.0, 1000));
        assert!(!created_since_secs(0.998, 1000));
        assert_eq!(shortened(30, 10, 25), (15, 10));
        assert_eq!(shortened(3, 4, 25), (3, 4));
        assert_eq!(shortened(3, 4, 0), (0, 0));
        assert_eq!(
            stack_logical_name("stack", "Res", "SUFFIX", 64),
            "stack-Res-SUFFIX"
        );
        assert_eq!(
            stack_logical_name(&"s".repeat(40), &"L".repeat(30), "ABCDEFGHIJKL", 64),
            format!("{}-{}-ABCDEFGHIJKL", "s".repeat(25), "L".repeat(25))
        );
    }

    #[test]
    fn tags_are_the_template_s_then_the_stack_s() {
        let ctx = ResourceContext {
            logical_id: "R".into(),
            stack_tags: vec![("team".into(), "stack".into()), ("cost".into(), "1".into())],
            ..ResourceContext::default()
        };
        let p = json!({"Tags": [{"Key": "team", "Value": "ml"}, {"Key": "n", "Value": 2}]});
        let got: Vec<(String, String)> = tags(&ctx, &p).unwrap().into_iter().collect();
        let want = [("cost", "1"), ("n", "2"), ("team", "ml")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(tags(&ctx, &json!({"Tags": "x"})).unwrap().len(), 2);
        assert_eq!(
            tags(&ctx, &json!({"Tags": [{"Key": "k"}]})).unwrap_err(),
            invalid(&ctx, "#/Tags/0: required key [Key] or [Value] not found")
        );
    }

    #[test]
    fn type_info_and_state_builders() {
        assert_eq!(
            type_info("T", &["A"], &["Arn", "Id"], true),
            TypeInfo {
                type_name: "T".into(),
                create_only_properties: vec!["A".into()],
                attributes: vec!["Arn".into(), "Id".into()],
                taggable: true,
                name_property: None,
                amends: Vec::new(),
            }
        );
        let s = state("p", [("Arn", json!("a")), ("N", json!(1))]);
        assert_eq!(s.physical_id, "p");
        assert_eq!(
            s.attributes,
            json!({"Arn": "a", "N": 1}).as_object().unwrap().clone()
        );
    }
}
