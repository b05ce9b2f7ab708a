//! What a Lambda function is, as stored and as answered: the configuration in the wire
//! shape (`FunctionConfiguration`, PascalCase), and the record around it (code, versions,
//! aliases, policy, tags), stored as one document so that every change to a function is
//! one atomic write.
//!
//! Also the names: function ARNs and the forms `FunctionName` takes (name, `name:qualifier`,
//! full or partial ARN).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{LambdaError, Result};

/// `$LATEST`, the unpublished version.
pub const LATEST: &str = "$LATEST";

/// A function's configuration, as `GetFunctionConfiguration` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionConfig {
    pub function_name: String,
    pub function_arn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handler: Option<String>,
    pub code_size: i64,
    pub description: String,
    pub timeout: i64,
    pub memory_size: i64,
    pub last_modified: String,
    pub code_sha256: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub tracing_config: Value,
    pub revision_id: String,
    pub state: String,
    pub last_update_status: String,
    pub package_type: String,
    pub architectures: Vec<String>,
    pub ephemeral_storage: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<Value>,
    /// `{"TargetArn": ...}`: recorded, nothing is sent there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<Value>,
    /// Recorded: nothing is encrypted with it.
    #[serde(default, rename = "KMSKeyArn", skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    /// Where and how the function's log goes (`LogGroup` defaults to
    /// `/aws/lambda/<name>`); absent only in functions stored before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging_config: Option<LoggingConfig>,
}

impl FunctionConfig {
    /// The log group the function writes to: `LoggingConfig.LogGroup`, else
    /// `/aws/lambda/<name>`.
    pub fn log_group(&self) -> String {
        self.logging_config
            .as_ref()
            .and_then(|l| l.log_group.clone())
            .unwrap_or_else(|| default_log_group(&self.function_name))
    }
}

/// `/aws/lambda/<name>`, the log group a function writes to unless told otherwise.
pub fn default_log_group(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// `LoggingConfig`, as given and as answered.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
}

/// A published version: its configuration (with `Version` set) and its code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub config: FunctionConfig,
    pub code_hex: String,
    /// `$LATEST`'s description when this version was published (the version's own may
    /// be `PublishVersion`'s): what tells whether `$LATEST` changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_description: Option<String>,
}

/// An alias, as `GetAlias` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasConfig {
    pub alias_arn: String,
    pub name: String,
    pub function_version: String,
    pub description: String,
    pub revision_id: String,
}

/// Everything about one function: the stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionRecord {
    /// `$LATEST`.
    pub config: FunctionConfig,
    /// The SHA-256 (hex) of `$LATEST`'s deployment package: where its code is stored.
    pub code_hex: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Resource-based policy statements (`AddPermission`), in order.
    #[serde(default)]
    pub policy: Vec<Value>,
    #[serde(default)]
    pub versions: Vec<VersionRecord>,
    #[serde(default)]
    pub aliases: Vec<AliasConfig>,
    /// The number the next published version gets.
    #[serde(default = "one")]
    pub next_version: u64,
    /// When the function was created (epoch milliseconds): crash recovery tells a
    /// stack's function from an older one of the same name by it.
    #[serde(default)]
    pub created_ms: i64,
    /// `PutFunctionConcurrency`'s reservation: recorded and answered, not enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserved_concurrency: Option<i64>,
}

fn one() -> u64 {
    1
}

impl FunctionRecord {
    /// The configuration and code of `qualifier` (`$LATEST` when `None`, a version
    /// number, or an alias name), and the version it resolved to.
    pub fn resolve(&self, qualifier: Option<&str>) -> Result<(&FunctionConfig, &str)> {
        match qualifier {
            None | Some(LATEST) => Ok((&self.config, &self.code_hex)),
            Some(q) => {
                let version = match self.aliases.iter().find(|a| a.name == q) {
                    Some(alias) => alias.function_version.as_str(),
                    None => q,
                };
                if version == LATEST {
                    return Ok((&self.config, &self.code_hex));
                }
                self.versions
                    .iter()
                    .find(|v| v.config.version == version)
                    .map(|v| (&v.config, v.code_hex.as_str()))
                    .ok_or_else(|| {
                        LambdaError::ResourceNotFound(format!(
                            "Function not found: {}:{q}",
                            self.config.function_arn
                        ))
                    })
            }
        }
    }
}

/// Where this server's functions live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    pub fn partition(&self) -> &'static str {
        sagestack_engine::partition_for_region(&self.region)
    }

    /// `arn:aws:lambda:{region}:{account}:function:{name}`.
    pub fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:{}:lambda:{}:{}:function:{name}",
            self.partition(),
            self.region,
            self.account_id
        )
    }
}

/// A `FunctionName` as given: `name`, `name:qualifier`, `account:function:name[:q]` or
/// `arn:partition:lambda:region:account:function:name[:q]`, split into the name and
/// the qualifier it carries. A name of another region or account is not found here.
pub fn parse_function_name(scope: &Scope, given: &str) -> Result<(String, Option<String>)> {
    let not_found = || {
        LambdaError::ResourceNotFound(format!(
            "Function not found: {}",
            if given.starts_with("arn:") {
                given.to_string()
            } else {
                scope.function_arn(given)
            }
        ))
    };
    let parts: Vec<&str> = given.split(':').collect();
    let (name, qualifier) = match parts.as_slice() {
        [name] => (*name, None),
        [name, q] => (*name, Some(*q)),
        [account, "function", name] => {
            check_owner(scope, None, account).ok_or_else(not_found)?;
            (*name, None)
        }
        [account, "function", name, q] => {
            check_owner(scope, None, account).ok_or_else(not_found)?;
            (*name, Some(*q))
        }
        ["arn", _, "lambda", region, account, "function", name] => {
            check_owner(scope, Some(region), account).ok_or_else(not_found)?;
            (*name, None)
        }
        ["arn", _, "lambda", region, account, "function", name, q] => {
            check_owner(scope, Some(region), account).ok_or_else(not_found)?;
            (*name, Some(*q))
        }
        _ => {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{given}' at 'functionName' failed to \
                 satisfy constraint: Member must satisfy regular expression pattern: \
                 (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_\\.]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
            )));
        }
    };
    if name.is_empty() || qualifier.is_some_and(str::is_empty) {
        return Err(not_found());
    }
    Ok((name.to_string(), qualifier.map(str::to_string)))
}

fn check_owner(scope: &Scope, region: Option<&str>, account: &str) -> Option<()> {
    (account == scope.account_id && region.is_none_or(|r| r == scope.region)).then_some(())
}

/// The timestamp form Lambda answers (`2026-12-06T07:00:00.000+0000`) for `millis`: the
/// engine's ISO 8601 form with the offset spelled out.
pub fn lambda_timestamp(millis: i64) -> String {
    let iso = sagestack_engine::iso8601_millis(millis);
    format!("{}+0000", iso.trim_end_matches('Z'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        }
    }

    #[test]
    fn function_names_in_every_form() {
        let s = scope();
        let p = |g: &str| parse_function_name(&s, g);
        assert_eq!(p("f").unwrap(), ("f".into(), None));
        assert_eq!(p("f:live").unwrap(), ("f".into(), Some("live".into())));
        assert_eq!(p("123456789012:function:f").unwrap(), ("f".into(), None));
        assert_eq!(
            p("arn:aws:lambda:us-east-1:123456789012:function:f:3").unwrap(),
            ("f".into(), Some("3".into()))
        );
        assert!(matches!(
            p("arn:aws:lambda:eu-west-1:123456789012:function:f"),
            Err(LambdaError::ResourceNotFound(_))
        ));
        assert!(matches!(
            p("999999999999:function:f"),
            Err(LambdaError::ResourceNotFound(_))
        ));
        assert!(matches!(p("a:b:c:d:e"), Err(LambdaError::Validation(_))));
    }

    #[test]
    fn timestamps_look_like_lambdas() {
        assert_eq!(
            lambda_timestamp(1_565_821_571_234),
            "2019-08-14T22:26:11.234+0000"
        );
    }
}
