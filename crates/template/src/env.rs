//! The world outside the template, reached only through traits.
//!
//! - [`ResourceLookup`]: physical ids and attributes of resources of this stack that
//!   already exist (the stack engine implements it; same shape as the engine's trait).
//! - [`Environment`]: everything else a template can read: SSM parameters (for
//!   `AWS::SSM::Parameter::Value<...>` parameters), exports (`Fn::ImportValue`), other
//!   stacks' outputs (`Fn::GetStackOutput`), availability zones (`Fn::GetAZs`), dynamic
//!   references (`{{resolve:...}}`), and EC2 facts for `Rules` (`Fn::ValueOf`).
//! - [`StackContext`]: the facts behind pseudo parameters.
//!
//! [`StaticEnvironment`] is an in-memory `Environment` for tests and the CLI.

use std::collections::HashMap;

use serde_json::Value;

/// Physical ids and attributes of resources that already exist.
pub trait ResourceLookup {
    /// What `Ref` of `logical_id` returns, `None` when the resource does not exist yet.
    fn physical_id(&self, logical_id: &str) -> Option<String>;
    /// What `Fn::GetAtt [logical_id, attribute]` returns, `None` when unknown.
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Value>;
    /// What `Fn::ImportValue` of `export_name` returns when the caller knows the exports
    /// at resolution time (a stack engine reads them per operation). `None` falls back
    /// to [`Environment::export`], fixed when the template was bound.
    fn import_value(&self, export_name: &str) -> Option<String> {
        let _ = export_name;
        None
    }
}

/// A lookup that knows no resource: every resource reference is "not ready".
pub struct NoResources;

impl ResourceLookup for NoResources {
    fn physical_id(&self, _: &str) -> Option<String> {
        None
    }
    fn attribute(&self, _: &str, _: &str) -> Option<Value> {
        None
    }
}

/// A parsed dynamic reference `{{resolve:service:...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DynamicReference {
    /// `{{resolve:ssm:name}}` or `{{resolve:ssm:name:version}}`.
    Ssm {
        name: String,
        version: Option<String>,
    },
    /// `{{resolve:ssm-secure:name}}` or `{{resolve:ssm-secure:name:version}}`.
    SsmSecure {
        name: String,
        version: Option<String>,
    },
    /// `{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}`
    /// (all but the secret id optional).
    SecretsManager {
        secret_id: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
}

/// An output of another stack, as `Fn::GetStackOutput` names it: optionally in another
/// region and read by assuming a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackOutputRef<'a> {
    pub stack: &'a str,
    pub output: &'a str,
    pub region: Option<&'a str>,
    pub role_arn: Option<&'a str>,
}

/// Everything a template reads that is neither in the template nor a resource of the stack.
/// Every method has a default that knows nothing, so implementors add only what they have.
pub trait Environment: Send + Sync {
    /// The value of SSM parameter `name` (for `AWS::SSM::Parameter::Value<...>` parameters).
    fn ssm_parameter(&self, _name: &str) -> Option<String> {
        None
    }
    /// The value of the export `name` (for `Fn::ImportValue`).
    fn export(&self, _name: &str) -> Option<String> {
        None
    }
    /// The stack output `at` names (for `Fn::GetStackOutput`).
    fn stack_output(&self, _at: &StackOutputRef<'_>) -> Option<String> {
        None
    }
    /// Availability zones of `region` (for `Fn::GetAZs`).
    fn availability_zones(&self, _region: &str) -> Vec<String> {
        Vec::new()
    }
    /// The value of a dynamic reference.
    fn dynamic_reference(&self, _reference: &DynamicReference) -> Option<String> {
        None
    }
    /// An attribute of an AWS-specific parameter value for `Fn::ValueOf` in `Rules`, e.g.
    /// `("AWS::EC2::Subnet::Id", "subnet-123", "VpcId")`.
    fn parameter_attribute(
        &self,
        _param_type: &str,
        _value: &str,
        _attribute: &str,
    ) -> Option<String> {
        None
    }
}

/// An `Environment` that knows nothing.
pub struct EmptyEnvironment;
impl Environment for EmptyEnvironment {}

/// An in-memory `Environment`: maps filled by the caller.
#[derive(Debug, Clone, Default)]
pub struct StaticEnvironment {
    pub ssm: HashMap<String, String>,
    pub exports: HashMap<String, String>,
    /// Keyed by `(stack, output)`.
    pub stack_outputs: HashMap<(String, String), String>,
    /// Keyed by region; a region not present gets `<region>a`, `<region>b`, `<region>c`.
    pub azs: HashMap<String, Vec<String>>,
    /// Dynamic references keyed by their text between `{{resolve:` and `}}`.
    pub dynamic: HashMap<String, String>,
    /// `Fn::ValueOf` answers keyed by `(value, attribute)`.
    pub parameter_attributes: HashMap<(String, String), String>,
}

impl Environment for StaticEnvironment {
    fn ssm_parameter(&self, name: &str) -> Option<String> {
        self.ssm.get(name).cloned()
    }
    fn export(&self, name: &str) -> Option<String> {
        self.exports.get(name).cloned()
    }
    fn stack_output(&self, at: &StackOutputRef<'_>) -> Option<String> {
        self.stack_outputs
            .get(&(at.stack.to_string(), at.output.to_string()))
            .cloned()
    }
    fn availability_zones(&self, region: &str) -> Vec<String> {
        self.azs.get(region).cloned().unwrap_or_else(|| {
            ["a", "b", "c"]
                .iter()
                .map(|s| format!("{region}{s}"))
                .collect()
        })
    }
    fn dynamic_reference(&self, r: &DynamicReference) -> Option<String> {
        let key = match r {
            DynamicReference::Ssm { name, version } => key_of("ssm", name, version.as_deref()),
            DynamicReference::SsmSecure { name, version } => {
                key_of("ssm-secure", name, version.as_deref())
            }
            DynamicReference::SecretsManager { secret_id, .. } => {
                format!("secretsmanager:{secret_id}")
            }
        };
        self.dynamic.get(&key).cloned()
    }
    fn parameter_attribute(&self, _t: &str, value: &str, attribute: &str) -> Option<String> {
        self.parameter_attributes
            .get(&(value.to_string(), attribute.to_string()))
            .cloned()
    }
}

fn key_of(service: &str, name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{service}:{name}:{v}"),
        None => format!("{service}:{name}"),
    }
}

/// The stack-level facts behind pseudo parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackContext {
    pub stack_name: String,
    pub stack_id: String,
    pub region: String,
    pub account_id: String,
    pub notification_arns: Vec<String>,
}

impl StackContext {
    /// `aws`, `aws-cn` or `aws-us-gov`, from the region.
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// `amazonaws.com`, or `amazonaws.com.cn` in China regions.
    pub fn url_suffix(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    }

    /// A context for validation and tests: stack `example` in `us-east-1`.
    pub fn example() -> Self {
        StackContext {
            stack_name: "example".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/example/00000000-0000-0000-0000-000000000000"
                .into(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            notification_arns: Vec::new(),
        }
    }
}

/// Parses the text between `{{resolve:` and `}}`.
pub fn parse_dynamic_reference(inner: &str) -> Option<DynamicReference> {
    let (service, rest) = inner.split_once(':')?;
    if rest.is_empty() {
        return None;
    }
    let name_version = |rest: &str| -> (String, Option<String>) {
        match rest.rsplit_once(':') {
            Some((n, v))
                if !n.is_empty() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (n.to_string(), Some(v.to_string()))
            }
            _ => (rest.to_string(), None),
        }
    };
    match service {
        "ssm" => {
            let (name, version) = name_version(rest);
            Some(DynamicReference::Ssm { name, version })
        }
        "ssm-secure" => {
            let (name, version) = name_version(rest);
            Some(DynamicReference::SsmSecure { name, version })
        }
        "secretsmanager" => {
            // An ARN secret id has seven colon-separated parts of its own.
            let parts: Vec<&str> = rest.split(':').collect();
            let id_parts = if rest.starts_with("arn:") {
                7.min(parts.len())
            } else {
                1
            };
            let secret_id = parts[..id_parts].join(":");
            let field = |i: usize| {
                parts
                    .get(id_parts + i)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_string())
            };
            if let Some(kind) = field(0)
                && kind != "SecretString"
            {
                return None;
            }
            Some(DynamicReference::SecretsManager {
                secret_id,
                json_key: field(1),
                version_stage: field(2),
                version_id: field(3),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dynamic_references() {
        assert_eq!(
            parse_dynamic_reference("ssm:/a/b:3"),
            Some(DynamicReference::Ssm {
                name: "/a/b".into(),
                version: Some("3".into())
            })
        );
        assert_eq!(
            parse_dynamic_reference("ssm-secure:pw"),
            Some(DynamicReference::SsmSecure {
                name: "pw".into(),
                version: None
            })
        );
        assert_eq!(
            parse_dynamic_reference(
                "secretsmanager:arn:aws:secretsmanager:us-east-1:123:secret:db-AbC:SecretString:password::"
            ),
            Some(DynamicReference::SecretsManager {
                secret_id: "arn:aws:secretsmanager:us-east-1:123:secret:db-AbC".into(),
                json_key: Some("password".into()),
                version_stage: None,
                version_id: None,
            })
        );
        assert_eq!(parse_dynamic_reference("s3:x"), None);
        assert_eq!(
            parse_dynamic_reference("secretsmanager:x:SecretBinary"),
            None
        );
    }

    #[test]
    fn partitions() {
        let mut c = StackContext::example();
        assert_eq!((c.partition(), c.url_suffix()), ("aws", "amazonaws.com"));
        c.region = "cn-north-1".into();
        assert_eq!(
            (c.partition(), c.url_suffix()),
            ("aws-cn", "amazonaws.com.cn")
        );
        c.region = "us-gov-west-1".into();
        assert_eq!(c.partition(), "aws-us-gov");
    }
}
