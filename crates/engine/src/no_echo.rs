//! `NoEcho` attributes: what a provider returns that must not be shown. A custom
//! resource's handler can answer `NoEcho: true`, and then, as in CloudFormation, the
//! values of its `Data` are masked (`*****`) wherever the stack shows values: the
//! properties recorded in stack events and the stack's outputs. `Fn::GetAtt` still reads
//! them (a resource that needs the secret gets it), and exports keep them
//! (`Fn::ImportValue` reads what was exported).
//!
//! A provider marks a resource's attributes secret by adding [`NO_ECHO`] (`true`) to them;
//! masking is by value: any string shown that holds a secret attribute's value has it
//! replaced.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The attribute that marks a resource's other attributes as secret. Its name cannot be
/// written in a template's `Fn::GetAtt`.
pub const NO_ECHO: &str = "\u{1}NoEcho";

/// What a secret is shown as.
pub const MASK: &str = "*****";

/// Whether a resource's `attributes` are marked secret.
pub fn is_secret(attributes: &Map<String, Value>) -> bool {
    attributes.get(NO_ECHO) == Some(&Value::Bool(true))
}

/// The secret values among resources' `attributes`, longest first (so that a secret that
/// contains another is masked whole).
pub fn secrets<'a>(attributes: impl IntoIterator<Item = &'a Map<String, Value>>) -> Vec<String> {
    let mut out: Vec<String> = attributes
        .into_iter()
        .filter(|a| is_secret(a))
        .flat_map(|a| a.iter())
        .filter(|(k, _)| k.as_str() != NO_ECHO)
        .filter_map(|(_, v)| match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// The values of a stack's `NoEcho` parameters (those `displayed` masked as `****`), as
/// given in any of `given` (the raw values of the templates being compared), longest
/// first. A `NoEcho` parameter left at its default is not among them: the engine never
/// sees the default's raw value apart from the template.
pub fn parameter_secrets<'a>(
    displayed: &BTreeMap<String, String>,
    given: impl IntoIterator<Item = &'a BTreeMap<String, String>>,
) -> Vec<String> {
    let masked: Vec<&String> = displayed
        .iter()
        .filter(|(_, shown)| shown.as_str() == PARAMETER_MASK)
        .map(|(k, _)| k)
        .collect();
    let mut out: Vec<String> = given
        .into_iter()
        .flat_map(|g| masked.iter().filter_map(|k| g.get(*k)))
        .filter(|v| !v.is_empty())
        .cloned()
        .collect();
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

/// How `DescribeStacks` shows a `NoEcho` parameter's value.
const PARAMETER_MASK: &str = "****";

/// `text` with every secret in it masked.
pub fn mask_text(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), MASK))
}

/// `value` with every string holding a secret masked; `None` when nothing is secret
/// (the caller keeps the value it has).
pub fn mask_value(value: &Value, secrets: &[String]) -> Option<Value> {
    if secrets.is_empty() {
        return None;
    }
    fn walk(v: &Value, secrets: &[String]) -> Value {
        match v {
            Value::String(s) => Value::String(mask_text(s, secrets)),
            Value::Array(items) => Value::Array(items.iter().map(|i| walk(i, secrets)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), walk(v, secrets)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    Some(walk(value, secrets))
}

/// `outputs` as shown: values holding a secret masked.
pub fn mask_outputs(
    mut outputs: Vec<crate::plan::ResolvedOutput>,
    secrets: &[String],
) -> Vec<crate::plan::ResolvedOutput> {
    if !secrets.is_empty() {
        for o in &mut outputs {
            o.value = mask_text(&o.value, secrets);
        }
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_masked_wherever_they_appear() {
        let secret = json!({NO_ECHO: true, "Password": "hunter2", "Port": 5432});
        let plain = json!({"Name": "visible"});
        let secrets = secrets([&secret, &plain].map(|v| v.as_object().unwrap()));
        assert_eq!(secrets, ["hunter2", "5432"]);
        let masked = mask_value(
            &json!({"Url": "db://u:hunter2@h:5432", "Name": "visible", "List": ["hunter2"]}),
            &secrets,
        )
        .unwrap();
        assert_eq!(
            masked,
            json!({"Url": "db://u:*****@h:*****", "Name": "visible", "List": ["*****"]})
        );
        assert_eq!(mask_value(&json!("x"), &[]), None);
    }

    #[test]
    fn no_echo_parameters_are_secrets_in_either_template() {
        let displayed = BTreeMap::from([
            ("Password".to_string(), "****".to_string()),
            ("Env".to_string(), "dev".to_string()),
        ]);
        let old = BTreeMap::from([
            ("Password".to_string(), "old".to_string()),
            ("Env".to_string(), "dev".to_string()),
        ]);
        let new = BTreeMap::from([("Password".to_string(), "newer".to_string())]);
        assert_eq!(
            parameter_secrets(&displayed, [&old, &new]),
            ["newer", "old"]
        );
    }
}
