//! The stored role document: one layout, written and read by the `AWS::IAM::Role`
//! provider ([`crate::role`]) and by the IAM API ([`crate::state`]).
//!
//! A role is a [`RoleRecord`] (name, id, ARN, creation time) whose `document` is a JSON
//! object keyed by CloudFormation's property names, the layout the provider has stored
//! from the start (so every role already stored reads as it is):
//!
//! | key                        | value                                                 |
//! |----------------------------|-------------------------------------------------------|
//! | `RoleName` `RoleId` `Arn`  | the role's identity (also the record's columns)       |
//! | `Path`                     | `/` when absent                                       |
//! | `CreateDate`               | seconds since the epoch (informational: the record's `creation_micros` is what the API answers) |
//! | `AssumeRolePolicyDocument` | the trust policy: a JSON **string**, kept verbatim as the API received it, or a JSON **object**, as a template wrote it |
//! | `Description`              | a string                                              |
//! | `MaxSessionDuration`       | seconds, an integer (3600 when absent; STS reads it)  |
//! | `MaxSigninSessionDuration` | seconds (API only; absent unless set)                 |
//! | `PermissionsBoundary`      | a policy ARN                                          |
//! | `Policies`                 | inline policies, `[{PolicyName, PolicyDocument}]` in the order first put; a document is a string or an object, as above |
//! | `ManagedPolicyArns`        | attached managed policies, ARNs in the order attached |
//! | `Tags`                     | `[{Key, Value}]`                                      |
//!
//! Readers accept both forms of a policy document and answer its text: a string as
//! stored, an object as compact JSON. Writers through the API store strings.

use sagestack_store::RoleRecord;
use serde_json::{Map, Value, json};

/// The trust policy's default session length, in seconds.
pub const DEFAULT_MAX_SESSION: i64 = 3600;

/// The properties of `AWS::IAM::Role` that the document keeps as given.
const PROVIDER_PROPERTIES: [&str; 7] = [
    "AssumeRolePolicyDocument",
    "Description",
    "ManagedPolicyArns",
    "MaxSessionDuration",
    "PermissionsBoundary",
    "Policies",
    "Tags",
];

/// A tag of a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A role's stored document (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoleDocument(Map<String, Value>);

/// A policy document's text: a string as stored, an object as compact JSON.
fn policy_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A scalar as text (a template may write a tag value as a number).
fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl RoleDocument {
    /// The document of a stored role; one that does not parse reads as empty.
    pub fn parse(text: &str) -> Self {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => RoleDocument(map),
            _ => RoleDocument::default(),
        }
    }

    pub fn of(record: &RoleRecord) -> Self {
        Self::parse(&record.document)
    }

    /// A new role's identity.
    pub fn new(name: &str, id: &str, arn: &str, path: &str, create_micros: i64) -> Self {
        let mut doc = Map::new();
        doc.insert("RoleName".into(), name.into());
        doc.insert("RoleId".into(), id.into());
        doc.insert("Arn".into(), arn.into());
        doc.insert("Path".into(), path.into());
        doc.insert("CreateDate".into(), json!(create_micros as f64 / 1e6));
        RoleDocument(doc)
    }

    /// The provider's document: the role's identity and the template's properties as
    /// given (`CreateDate` kept from `previous` on an update).
    pub fn from_properties(
        identity: (&str, &str, &str, &str),
        properties: &Value,
        create_micros: i64,
        previous: Option<&RoleDocument>,
    ) -> Self {
        let (name, id, arn, path) = identity;
        let mut doc = Self::new(name, id, arn, path, create_micros);
        if let Some(c) = previous.and_then(|p| p.0.get("CreateDate")) {
            doc.0.insert("CreateDate".into(), c.clone());
        }
        for key in PROVIDER_PROPERTIES {
            if let Some(v) = properties.get(key).filter(|v| !v.is_null()) {
                doc.0.insert(key.into(), v.clone());
            }
        }
        doc
    }

    /// The serialized document, as stored.
    pub fn text(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// A member as stored (`Null` when absent).
    pub fn raw(&self, key: &str) -> Value {
        self.0.get(key).cloned().unwrap_or(Value::Null)
    }

    pub fn path(&self) -> &str {
        self.0.get("Path").and_then(Value::as_str).unwrap_or("/")
    }

    pub fn assume_role_policy(&self) -> Option<String> {
        self.0.get("AssumeRolePolicyDocument").and_then(policy_text)
    }

    pub fn set_assume_role_policy(&mut self, text: &str) {
        self.0
            .insert("AssumeRolePolicyDocument".into(), text.into());
    }

    pub fn description(&self) -> Option<String> {
        self.0.get("Description").and_then(|v| match v {
            Value::Null => None,
            v => Some(scalar_text(v)),
        })
    }

    pub fn set_description(&mut self, description: &str) {
        self.0.insert("Description".into(), description.into());
    }

    /// Seconds; a template's numeric string counts, anything else is the default.
    pub fn max_session_duration(&self) -> i64 {
        match self.0.get("MaxSessionDuration") {
            Some(Value::Number(n)) => n.as_i64().unwrap_or(DEFAULT_MAX_SESSION),
            Some(Value::String(s)) => s.parse().unwrap_or(DEFAULT_MAX_SESSION),
            _ => DEFAULT_MAX_SESSION,
        }
    }

    pub fn set_max_session_duration(&mut self, seconds: i64) {
        self.0.insert("MaxSessionDuration".into(), seconds.into());
    }

    /// Console sign-in session length (an API-only setting, seconds).
    pub fn max_signin_session_duration(&self) -> Option<i64> {
        self.0
            .get("MaxSigninSessionDuration")
            .and_then(Value::as_i64)
    }

    pub fn set_max_signin_session_duration(&mut self, seconds: Option<i64>) {
        match seconds {
            Some(s) => self.0.insert("MaxSigninSessionDuration".into(), s.into()),
            None => self.0.remove("MaxSigninSessionDuration"),
        };
    }

    pub fn permissions_boundary(&self) -> Option<String> {
        self.0
            .get("PermissionsBoundary")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub fn set_permissions_boundary(&mut self, arn: Option<&str>) {
        match arn {
            Some(a) => self.0.insert("PermissionsBoundary".into(), a.into()),
            None => self.0.remove("PermissionsBoundary"),
        };
    }

    pub fn tags(&self) -> Vec<Tag> {
        let Some(Value::Array(items)) = self.0.get("Tags") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|t| {
                Some(Tag {
                    key: scalar_text(t.get("Key")?),
                    value: t.get("Value").map(scalar_text).unwrap_or_default(),
                })
            })
            .collect()
    }

    pub fn set_tags(&mut self, tags: &[Tag]) {
        let items: Vec<Value> = tags
            .iter()
            .map(|t| json!({"Key": t.key, "Value": t.value}))
            .collect();
        if items.is_empty() {
            self.0.remove("Tags");
        } else {
            self.0.insert("Tags".into(), Value::Array(items));
        }
    }

    /// The inline policies, `(name, document text)`, in the order first put.
    pub fn policies(&self) -> Vec<(String, String)> {
        let Some(Value::Array(items)) = self.0.get("Policies") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|p| {
                let name = p.get("PolicyName")?.as_str()?.to_owned();
                let text = p.get("PolicyDocument").and_then(policy_text)?;
                Some((name, text))
            })
            .collect()
    }

    /// The text of the inline policy `name` (names compare exactly).
    pub fn policy(&self, name: &str) -> Option<String> {
        self.policies()
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, text)| text)
    }

    /// Adds the inline policy, or replaces the document of the one with this name
    /// (keeping its place).
    pub fn put_policy(&mut self, name: &str, text: &str) {
        let item = json!({"PolicyName": name, "PolicyDocument": text});
        let items = self.array_mut("Policies");
        match items
            .iter_mut()
            .find(|p| p.get("PolicyName").and_then(Value::as_str) == Some(name))
        {
            Some(existing) => *existing = item,
            None => items.push(item),
        }
    }

    /// Removes the inline policy `name`; false when there was none.
    pub fn delete_policy(&mut self, name: &str) -> bool {
        let items = self.array_mut("Policies");
        let before = items.len();
        items.retain(|p| p.get("PolicyName").and_then(Value::as_str) != Some(name));
        let removed = items.len() < before;
        self.drop_if_empty("Policies");
        removed
    }

    /// The attached managed policies' ARNs, in the order attached.
    pub fn managed_policy_arns(&self) -> Vec<String> {
        let Some(Value::Array(items)) = self.0.get("ManagedPolicyArns") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect()
    }

    /// Attaches `arn`; false when it already was (attaching is idempotent in IAM).
    pub fn attach(&mut self, arn: &str) -> bool {
        let items = self.array_mut("ManagedPolicyArns");
        if items.iter().any(|a| a.as_str() == Some(arn)) {
            return false;
        }
        items.push(arn.into());
        true
    }

    /// Detaches `arn`; false when it was not attached.
    pub fn detach(&mut self, arn: &str) -> bool {
        let items = self.array_mut("ManagedPolicyArns");
        let before = items.len();
        items.retain(|a| a.as_str() != Some(arn));
        let removed = items.len() < before;
        self.drop_if_empty("ManagedPolicyArns");
        removed
    }

    /// The array member `key`, made one when absent (or not an array).
    fn array_mut(&mut self, key: &str) -> &mut Vec<Value> {
        let slot = self
            .0
            .entry(key.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        match slot {
            Value::Array(items) => items,
            _ => unreachable!("made an array above"),
        }
    }

    fn drop_if_empty(&mut self, key: &str) {
        if matches!(self.0.get(key), Some(Value::Array(a)) if a.is_empty()) {
            self.0.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document the provider stored before the API existed reads through the API's
    /// accessors: object policies as compact JSON, a numeric string duration, tags.
    #[test]
    fn provider_documents_read_through_the_api_accessors() {
        let stored = r#"{"AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[]},
            "ManagedPolicyArns":["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "MaxSessionDuration":"7200",
            "Policies":[{"PolicyName":"read","PolicyDocument":{"Statement":[]}},
                        {"PolicyName":"raw","PolicyDocument":"{ \"Statement\": [] }"}],
            "Tags":[{"Key":"team","Value":"ml"},{"Key":"n","Value":3}],
            "RoleName":"r","RoleId":"AROAX","Arn":"arn:aws:iam::1:role/svc/r","Path":"/svc/"}"#;
        let doc = RoleDocument::parse(stored);
        assert_eq!(
            doc.assume_role_policy().as_deref(),
            Some(r#"{"Version":"2012-10-17","Statement":[]}"#)
        );
        assert_eq!(doc.path(), "/svc/");
        assert_eq!(doc.max_session_duration(), 7200);
        assert_eq!(
            doc.policies(),
            [
                ("read".to_string(), r#"{"Statement":[]}"#.to_string()),
                ("raw".to_string(), r#"{ "Statement": [] }"#.to_string())
            ]
        );
        assert_eq!(
            doc.managed_policy_arns(),
            ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
        );
        assert_eq!(
            doc.tags(),
            [
                Tag {
                    key: "team".into(),
                    value: "ml".into()
                },
                Tag {
                    key: "n".into(),
                    value: "3".into()
                }
            ]
        );
        assert_eq!(doc.description(), None);
        assert_eq!(RoleDocument::parse("not json"), RoleDocument::default());
        assert_eq!(RoleDocument::default().path(), "/");
    }

    #[test]
    fn policies_and_attachments_change_in_place() {
        let mut doc = RoleDocument::new("r", "AROAX", "arn", "/", 1_500_000);
        doc.put_policy("a", "{}");
        doc.put_policy("b", "{}");
        doc.put_policy("a", r#"{"v":2}"#);
        assert_eq!(
            doc.policies(),
            [
                ("a".to_string(), r#"{"v":2}"#.to_string()),
                ("b".to_string(), "{}".to_string())
            ]
        );
        assert!(doc.delete_policy("a") && !doc.delete_policy("a"));
        assert!(doc.delete_policy("b"));
        assert_eq!(doc.raw("Policies"), Value::Null, "an empty list is dropped");
        assert!(doc.attach("arn:1") && !doc.attach("arn:1"));
        assert!(doc.detach("arn:1") && !doc.detach("arn:1"));
        assert_eq!(doc.raw("CreateDate"), json!(1.5));
        let again = RoleDocument::parse(&doc.text());
        assert_eq!(again, doc);
    }
}
