//! Reading a decoded Query request (the tree built by `sagestack_protocol::query`):
//! members by name, lists, booleans, and the CloudFormation-specific `Parameters` and
//! `Tags` lists.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::error::ApiError;

/// The members of one request.
pub struct Input<'a> {
    map: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// `stackName` for `StackName`: the member path AWS prints in validation messages.
pub fn path(member: &str) -> String {
    let mut chars = member.chars();
    match chars.next() {
        Some(c) => c.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// One `Parameters.member.N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterInput {
    pub key: String,
    pub value: Option<String>,
    pub use_previous: bool,
}

impl<'a> Input<'a> {
    pub fn new(params: &'a Value) -> Self {
        Self {
            map: params.as_object().unwrap_or(&EMPTY),
        }
    }

    /// A string member (`None` when absent; a nested member is not a string).
    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.map.get(name).and_then(Value::as_str)
    }

    /// A string member that must be present and non-empty.
    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        match self.str(name) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ApiError::missing(&path(name))),
        }
    }

    /// A boolean member (`true`/`false`, as clients send them, or already typed).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::validation(format!(
                "Invalid value {other} for {name}: expected true or false"
            ))),
        }
    }

    /// A whole-number member (the model has typed it; `None` when absent).
    pub fn number(&self, name: &str) -> Option<u64> {
        match self.map.get(name)? {
            Value::String(s) => s.parse().ok(),
            v => v.as_u64(),
        }
    }

    /// Whether the member was sent at all (an empty list is sent as `Name=`).
    pub fn present(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// A list of strings (`Name.member.N`); absent or `Name=` is empty.
    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.list(name, |v| v.as_str().map(str::to_owned))
    }

    /// A list of structures (`Name.member.N.Field`); absent or `Name=` is empty.
    pub fn structs(&self, name: &str) -> Result<Vec<Input<'a>>, ApiError> {
        self.list(name, |v| v.as_object().map(|map| Input { map }))
    }

    /// A list member read item by item by `item` (`None`: not an item of that kind, so
    /// the list is malformed); absent or `Name=` is empty.
    fn list<T>(
        &self,
        name: &str,
        item: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Vec<T>, ApiError> {
        match self.map.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| item(v).ok_or_else(|| malformed_list(name)))
                .collect(),
            Some(_) => Err(malformed_list(name)),
        }
    }

    /// `Parameters.member.N.{ParameterKey,ParameterValue,UsePreviousValue}`.
    pub fn parameters(&self) -> Result<Vec<ParameterInput>, ApiError> {
        let mut out = Vec::new();
        for (i, p) in self.structs("Parameters")?.iter().enumerate() {
            let Some(key) = p.str("ParameterKey").filter(|k| !k.is_empty()) else {
                return Err(ApiError::missing(&format!(
                    "parameters.{}.member.parameterKey",
                    i + 1
                )));
            };
            let use_previous = p.bool("UsePreviousValue")?.unwrap_or(false);
            let value = p.str("ParameterValue").map(str::to_owned);
            if use_previous && value.as_deref().is_some_and(|v| !v.is_empty()) {
                return Err(ApiError::validation(format!(
                    "Invalid input for parameter key {key}. Cannot specify usePreviousValue as true and non empty value for a parameter"
                )));
            }
            out.push(ParameterInput {
                key: key.to_owned(),
                value,
                use_previous,
            });
        }
        Ok(out)
    }

    /// `Tags.member.N.{Key,Value}`; `None` when `Tags` was not sent.
    pub fn tags(&self) -> Result<Option<Vec<(String, String)>>, ApiError> {
        if !self.present("Tags") {
            return Ok(None);
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (i, t) in self.structs("Tags")?.iter().enumerate() {
            let n = i + 1;
            let key = t
                .str("Key")
                .ok_or_else(|| ApiError::missing(&format!("tags.{n}.member.key")))?;
            let value = t
                .str("Value")
                .ok_or_else(|| ApiError::missing(&format!("tags.{n}.member.value")))?;
            out.push((key.to_owned(), value.to_owned()));
        }
        Ok(Some(out))
    }
}

fn malformed_list(name: &str) -> ApiError {
    ApiError::validation(format!("{name} must be sent as {name}.member.N"))
}

/// Resolves parameter inputs to values: explicit values as given, `UsePreviousValue`
/// from `previous` ([`previous_values`]). A key the previous template did not declare is
/// refused as AWS does.
pub fn resolve_parameters(
    given: &[ParameterInput],
    previous: Option<&BTreeMap<String, Option<String>>>,
) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for p in given {
        if !p.use_previous {
            out.insert(p.key.clone(), p.value.clone().unwrap_or_default());
            continue;
        }
        match previous.and_then(|prev| prev.get(&p.key)) {
            Some(Some(v)) => {
                out.insert(p.key.clone(), v.clone());
            }
            // Left at a NoEcho default: the default applies again.
            Some(None) => {}
            None => {
                return Err(ApiError::validation(format!(
                    "Invalid input for parameter key {}. Cannot specify usePreviousValue as true for a parameter key not in the previous template",
                    p.key
                )));
            }
        }
    }
    Ok(out)
}

/// What `UsePreviousValue` reads of `stack`: the values it was given, and for the
/// parameters it left at their default, that default (as `DescribeStacks` shows it), so
/// that `aws cloudformation deploy --parameter-overrides` of one parameter works on a
/// template with defaulted ones. A `NoEcho` default is shown masked: `None`, and the
/// template's default applies again.
pub fn previous_values(stack: &sagestack_engine::StackRecord) -> BTreeMap<String, Option<String>> {
    let mut out: BTreeMap<String, Option<String>> = stack
        .displayed_parameters
        .iter()
        .map(|(k, v)| (k.clone(), (v != "****").then(|| v.clone())))
        .collect();
    for (k, v) in &stack.template.parameters {
        out.insert(k.clone(), Some(v.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn members_lists_and_booleans() {
        let v = json!({
            "StackName": "web",
            "Capabilities": ["CAPABILITY_IAM"],
            "NotificationARNs": "",
            "DisableRollback": "true",
            "Bad": "yes",
            "Tags": [{"Key": "a", "Value": "1"}],
            "Parameters": [
                {"ParameterKey": "A", "ParameterValue": "x"},
                {"ParameterKey": "B", "UsePreviousValue": "true"}
            ]
        });
        let i = Input::new(&v);
        assert_eq!(i.required("StackName").unwrap(), "web");
        assert_eq!(
            i.required("ChangeSetName").unwrap_err().message,
            "1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(i.strings("Capabilities").unwrap(), ["CAPABILITY_IAM"]);
        assert!(i.strings("NotificationARNs").unwrap().is_empty());
        assert_eq!(i.bool("DisableRollback").unwrap(), Some(true));
        assert!(i.bool("Bad").is_err());
        assert_eq!(i.tags().unwrap(), Some(vec![("a".into(), "1".into())]));
        let params = i.parameters().unwrap();
        let prev = BTreeMap::from([("B".to_string(), Some("old".to_string()))]);
        let resolved = resolve_parameters(&params, Some(&prev)).unwrap();
        assert_eq!(resolved["A"], "x");
        assert_eq!(resolved["B"], "old");
        // A NoEcho default: the key is left out, so the template's default applies.
        let masked = BTreeMap::from([("B".to_string(), None)]);
        let resolved = resolve_parameters(&params, Some(&masked)).unwrap();
        assert!(!resolved.contains_key("B"));
        assert!(resolve_parameters(&params, None).is_err());
        assert_eq!(Input::new(&json!({})).tags().unwrap(), None);
        assert_eq!(
            Input::new(&json!({"Tags": ""})).tags().unwrap(),
            Some(vec![])
        );
    }

    #[test]
    fn use_previous_with_a_value_is_refused() {
        let v = json!({"Parameters": [{"ParameterKey": "A", "ParameterValue": "x", "UsePreviousValue": "true"}]});
        assert!(Input::new(&v).parameters().is_err());
    }
}
