//! What hangs off a function besides `$LATEST`: published versions, aliases, the
//! resource-based policy (`AddPermission`) and tags. Each change is one
//! read-modify-write of the function's document ([`Functions::modify`]).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{LambdaError, Result};
use crate::functions::{Functions, check_revision};
use crate::model::{AliasConfig, FunctionConfig, FunctionRecord, LATEST, VersionRecord};

/// Publishes `$LATEST` as the next version, unless the newest version already has the
/// same code and configuration (then that version is answered, as Lambda does).
/// `code_sha256`, when the caller gives `CodeSha256`, must match `$LATEST`'s.
pub(crate) fn publish(
    record: &mut FunctionRecord,
    description: Option<&str>,
    code_sha256: &str,
) -> Result<FunctionConfig> {
    if code_sha256 != record.config.code_sha256 {
        return Err(LambdaError::InvalidParameterValue(format!(
            "CodeSHA256 ({code_sha256}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
            record.config.code_sha256
        )));
    }
    if let Some(last) = record.versions.last()
        && last.code_hex == record.code_hex
        && same_configuration(last, &record.config)
    {
        return Ok(last.config.clone());
    }
    let number = record.next_version.to_string();
    let mut config = record.config.clone();
    config.function_arn = format!("{}:{number}", record.config.function_arn);
    config.version = number;
    if let Some(d) = description {
        config.description = d.to_string();
    }
    record.next_version += 1;
    record.versions.push(VersionRecord {
        config: config.clone(),
        code_hex: record.code_hex.clone(),
        latest_description: Some(record.config.description.clone()),
    });
    Ok(config)
}

/// Whether `$LATEST` is what `version` was published from (then publishing again makes
/// no new version): the whole configuration but the names, the revision and the time.
fn same_configuration(version: &VersionRecord, latest: &FunctionConfig) -> bool {
    let normal = |c: &FunctionConfig, description: &str| FunctionConfig {
        function_arn: String::new(),
        version: String::new(),
        last_modified: String::new(),
        revision_id: String::new(),
        description: description.to_string(),
        ..c.clone()
    };
    let published_from = version
        .latest_description
        .as_deref()
        .unwrap_or(&version.config.description);
    normal(&version.config, published_from) == normal(latest, &latest.description)
}

pub(crate) fn delete_version(record: &mut FunctionRecord, version: &str) -> Result<()> {
    if let Some(alias) = record
        .aliases
        .iter()
        .find(|a| a.function_version == version)
    {
        return Err(LambdaError::ResourceConflict(format!(
            "Unable to delete version because the following aliases reference it: [{}]",
            alias.name
        )));
    }
    let before = record.versions.len();
    record.versions.retain(|v| v.config.version != version);
    if record.versions.len() == before {
        return Err(LambdaError::ResourceNotFound(format!(
            "Function not found: {}:{version}",
            record.config.function_arn
        )));
    }
    Ok(())
}

/// AddPermission's input.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddPermissionInput {
    pub statement_id: String,
    pub action: String,
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub principal_org_id: Option<String>,
    pub function_url_auth_type: Option<String>,
    pub revision_id: Option<String>,
}

/// CreateAlias / UpdateAlias input.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasInput {
    pub name: Option<String>,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub revision_id: Option<String>,
}

impl Functions {
    /// PublishVersion.
    pub async fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        code_sha256: Option<&str>,
        revision_id: Option<&str>,
    ) -> Result<FunctionConfig> {
        self.modify(name, |record| {
            check_revision(&record.config, revision_id)?;
            let sha = code_sha256
                .map(str::to_string)
                .unwrap_or_else(|| record.config.code_sha256.clone());
            publish(record, description, &sha)
        })
        .await
    }

    /// ListVersionsByFunction: `$LATEST` first, then the versions in order.
    pub async fn versions(&self, name: &str) -> Result<Vec<FunctionConfig>> {
        let record = self.get(name).await?;
        Ok(std::iter::once(record.config)
            .chain(record.versions.into_iter().map(|v| v.config))
            .collect())
    }

    /// AddPermission: the statement as stored (and answered, as a JSON string).
    pub async fn add_permission(
        &self,
        name: &str,
        qualifier: Option<&str>,
        input: &AddPermissionInput,
    ) -> Result<Value> {
        self.modify(name, |record| {
            check_revision(&record.config, input.revision_id.as_deref())?;
            let resource = policy_resource(record, qualifier)?;
            if record
                .policy
                .iter()
                .any(|s| s["Sid"] == input.statement_id && s["Resource"] == resource)
            {
                return Err(LambdaError::ResourceConflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    input.statement_id
                )));
            }
            let principal = if input.principal.contains('.') {
                json!({"Service": input.principal})
            } else if input.principal == "*" {
                json!("*")
            } else {
                json!({"AWS": input.principal})
            };
            let mut condition = serde_json::Map::new();
            if let Some(arn) = &input.source_arn {
                condition.insert("ArnLike".into(), json!({"AWS:SourceArn": arn}));
            }
            if let Some(account) = &input.source_account {
                condition.insert(
                    "StringEquals".into(),
                    json!({"AWS:SourceAccount": account}),
                );
            }
            let mut statement = json!({
                "Sid": input.statement_id,
                "Effect": "Allow",
                "Principal": principal,
                "Action": input.action,
                "Resource": resource,
            });
            if !condition.is_empty() {
                statement["Condition"] = Value::Object(condition);
            }
            record.policy.push(statement.clone());
            Ok(statement)
        })
        .await
    }

    /// RemovePermission: the statement `statement_id` of the policy of the function, or
    /// of its version or alias `qualifier` (each has a policy of its own).
    pub async fn remove_permission(
        &self,
        name: &str,
        qualifier: Option<&str>,
        statement_id: &str,
        revision_id: Option<&str>,
    ) -> Result<()> {
        self.modify(name, |record| {
            check_revision(&record.config, revision_id)?;
            let resource = policy_resource(record, qualifier)?;
            let before = record.policy.len();
            record
                .policy
                .retain(|s| !(s["Sid"] == statement_id && s["Resource"] == resource));
            if record.policy.len() == before {
                return Err(LambdaError::ResourceNotFound(format!(
                    "Statement {statement_id} is not found in resource policy."
                )));
            }
            Ok(())
        })
        .await
    }

    /// Removes the statement `statement_id` whatever it is attached to (the stack
    /// provider's delete, whose physical id names the function and the statement).
    pub async fn remove_statement(&self, name: &str, statement_id: &str) -> Result<()> {
        self.modify(name, |record| {
            let before = record.policy.len();
            record.policy.retain(|s| s["Sid"] != statement_id);
            if record.policy.len() == before {
                return Err(LambdaError::ResourceNotFound(format!(
                    "Statement {statement_id} is not found in resource policy."
                )));
            }
            Ok(())
        })
        .await
    }

    /// GetPolicy: the policy document of the function (or of its version or alias
    /// `qualifier`) and the function's revision.
    pub async fn policy(&self, name: &str, qualifier: Option<&str>) -> Result<(Value, String)> {
        let record = self.get(name).await?;
        let resource = policy_resource(&record, qualifier)?;
        let statements: Vec<&Value> = record
            .policy
            .iter()
            .filter(|s| s["Resource"] == resource)
            .collect();
        if statements.is_empty() {
            return Err(LambdaError::ResourceNotFound(
                "The resource you requested does not exist.".into(),
            ));
        }
        Ok((
            json!({
                "Version": "2012-10-17",
                "Id": "default",
                "Statement": statements,
            }),
            record.config.revision_id,
        ))
    }

    /// CreateAlias.
    pub async fn create_alias(&self, function: &str, input: &AliasInput) -> Result<AliasConfig> {
        let name = input.name.clone().unwrap_or_default();
        let version = input.function_version.clone().unwrap_or_default();
        // The model's pattern forbids all-digit names with a look-ahead the validator's
        // regex engine lacks (scripts/gen-lambda-model.py): checked here.
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
            )));
        }
        self.modify(function, |record| {
            check_alias_target(record, &version)?;
            if record.aliases.iter().any(|a| a.name == name) {
                return Err(LambdaError::ResourceConflict(format!(
                    "Alias already exists: {}:{name}",
                    record.config.function_arn
                )));
            }
            let alias = AliasConfig {
                alias_arn: format!("{}:{name}", record.config.function_arn),
                name: name.clone(),
                function_version: version.clone(),
                description: input.description.clone().unwrap_or_default(),
                revision_id: uuid::Uuid::new_v4().to_string(),
            };
            record.aliases.push(alias.clone());
            Ok(alias)
        })
        .await
    }

    /// GetAlias.
    pub async fn alias(&self, function: &str, name: &str) -> Result<AliasConfig> {
        let record = self.get(function).await?;
        record
            .aliases
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| alias_not_found(&record.config.function_arn, name))
    }

    /// UpdateAlias.
    pub async fn update_alias(
        &self,
        function: &str,
        name: &str,
        input: &AliasInput,
    ) -> Result<AliasConfig> {
        self.modify(function, |record| {
            if let Some(version) = &input.function_version {
                check_alias_target(record, version)?;
            }
            let arn = record.config.function_arn.clone();
            let alias = record
                .aliases
                .iter_mut()
                .find(|a| a.name == name)
                .ok_or_else(|| alias_not_found(&arn, name))?;
            if let Some(r) = &input.revision_id
                && *r != alias.revision_id
            {
                return Err(LambdaError::PreconditionFailed(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
                        .into(),
                ));
            }
            if let Some(v) = &input.function_version {
                alias.function_version = v.clone();
            }
            if let Some(d) = &input.description {
                alias.description = d.clone();
            }
            alias.revision_id = uuid::Uuid::new_v4().to_string();
            Ok(alias.clone())
        })
        .await
    }

    /// DeleteAlias: deleting an absent alias succeeds, as in Lambda.
    pub async fn delete_alias(&self, function: &str, name: &str) -> Result<()> {
        self.modify(function, |record| {
            record.aliases.retain(|a| a.name != name);
            Ok(())
        })
        .await
    }

    /// ListAliases.
    pub async fn aliases(&self, function: &str) -> Result<Vec<AliasConfig>> {
        Ok(self.get(function).await?.aliases)
    }

    /// TagResource / UntagResource / ListTags address a function by ARN.
    pub async fn tag(
        &self,
        arn: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<()> {
        let name = self.name_of_arn(arn)?;
        self.modify(&name, |record| {
            record.tags.extend(tags.clone());
            if record.tags.len() > 50 {
                return Err(LambdaError::InvalidParameterValue(
                    "Number of tags exceeds resource tag limit.".into(),
                ));
            }
            Ok(())
        })
        .await
    }

    pub async fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        let name = self.name_of_arn(arn)?;
        self.modify(&name, |record| {
            record.tags.retain(|k, _| !keys.contains(k));
            Ok(())
        })
        .await
    }

    pub async fn tags(&self, arn: &str) -> Result<std::collections::BTreeMap<String, String>> {
        let name = self.name_of_arn(arn)?;
        Ok(self.get(&name).await?.tags)
    }

    fn name_of_arn(&self, arn: &str) -> Result<String> {
        if !arn.starts_with("arn:") {
            return Err(LambdaError::Validation(format!(
                "1 validation error detected: Value '{arn}' at 'resource' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{{2}}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{{1}}:\\d{{12}}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{{17}}|event-source-mapping:[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}})"
            )));
        }
        let (name, _) = crate::model::parse_function_name(self.scope(), arn)?;
        Ok(name)
    }
}

/// What a policy statement of the function, or of its version or alias `qualifier`,
/// names as its `Resource` (the qualifier must exist).
fn policy_resource(record: &FunctionRecord, qualifier: Option<&str>) -> Result<String> {
    match qualifier {
        Some(q) if q != LATEST => {
            record.resolve(Some(q))?;
            Ok(format!("{}:{q}", record.config.function_arn))
        }
        _ => Ok(record.config.function_arn.clone()),
    }
}

fn check_alias_target(record: &FunctionRecord, version: &str) -> Result<()> {
    if version == LATEST || record.versions.iter().any(|v| v.config.version == version) {
        Ok(())
    } else {
        Err(LambdaError::ResourceNotFound(format!(
            "Function not found: {}:{version}",
            record.config.function_arn
        )))
    }
}

fn alias_not_found(function_arn: &str, name: &str) -> LambdaError {
    LambdaError::ResourceNotFound(format!("Alias not found: {function_arn}:{name}"))
}
