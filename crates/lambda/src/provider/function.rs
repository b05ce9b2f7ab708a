//! The native `AWS::Lambda::Function` provider: a stack's function is a real function of
//! this server, invocable through the API and as a custom resource's `ServiceToken`.
//!
//! `Code.ZipFile` (inline source) becomes `index.py` or `index.js` by runtime, as on
//! AWS; `Code.S3Bucket`/`S3Key` are read from this server's S3. `Ref` is the name;
//! `Fn::GetAtt Arn`. Without `FunctionName` the name is `{stack}-{logical}-{suffix}`
//! within 64 characters, the suffix fixed by the create attempt. `FunctionName` is
//! create-only; code and configuration changes update in place.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use serde_json::Value;

use sagestack_engine::provider::kit::{
    self, already_exists, deleted, invalid, not_found, required, text,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{
    EpochMillis, ProviderError, ResourceContext, ResourceState, TypeInfo, UPPER_ALNUM,
    attempt_chars,
};

use crate::code::Package;
use crate::error::LambdaError;
use crate::functions::{CodeInput, CreateFunctionInput, Functions, UpdateConfigurationInput};
use crate::model::{Environment, FunctionRecord, LoggingConfig};
use crate::settings::OtherSettings;

pub const TYPE_NAME: &str = "AWS::Lambda::Function";

/// See the module documentation.
pub struct FunctionProvider {
    functions: Arc<Functions>,
}

impl FunctionProvider {
    pub fn new(functions: Arc<Functions>) -> Self {
        FunctionProvider { functions }
    }
}

/// A Lambda error as the engine reports it (`name` for not-found and conflicts).
pub(crate) fn provider_error(type_name: &str, name: &str, e: LambdaError) -> ProviderError {
    match e {
        LambdaError::ResourceNotFound(_) => not_found(type_name, name),
        LambdaError::ResourceConflict(m) if m.contains("already exist") => {
            already_exists(type_name, name)
        }
        LambdaError::Service(m) => ProviderError::Internal(m),
        other => ProviderError::InvalidRequest(other.to_string()),
    }
}

/// `Code` as the API takes it; inline source is zipped here.
fn code(ctx: &ResourceContext, properties: &Value) -> Result<CodeInput, ProviderError> {
    let code = properties
        .get("Code")
        .ok_or_else(|| invalid(ctx, "#: required key [Code] not found"))?;
    if let Some(source) = code.get("ZipFile").and_then(Value::as_str) {
        let runtime = text(properties, "Runtime").unwrap_or_default();
        let package = Package::inline(&runtime, source)
            .map_err(|e| ProviderError::InvalidRequest(e.to_string()))?;
        return Ok(CodeInput {
            zip_file: Some(base64::engine::general_purpose::STANDARD.encode(&package.zip)),
            ..CodeInput::default()
        });
    }
    Ok(CodeInput {
        s3_bucket: text(code, "S3Bucket"),
        s3_key: text(code, "S3Key"),
        s3_object_version: text(code, "S3ObjectVersion"),
        image_uri: text(code, "ImageUri"),
        zip_file: None,
    })
}

fn environment(properties: &Value) -> Option<Environment> {
    let vars = properties
        .get("Environment")?
        .get("Variables")?
        .as_object()?;
    Some(Environment {
        variables: vars
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect(),
    })
}

fn logging_config(properties: &Value) -> Option<LoggingConfig> {
    serde_json::from_value(properties.get("LoggingConfig")?.clone()).ok()
}

/// The members the API records or refuses (`settings.rs`), by their template names.
fn other_settings(p: &Value) -> OtherSettings {
    OtherSettings {
        dead_letter_config: p.get("DeadLetterConfig").cloned(),
        kms_key_arn: text(p, "KmsKeyArn"),
        vpc_config: p.get("VpcConfig").cloned(),
        file_system_configs: p
            .get("FileSystemConfigs")
            .and_then(|v| v.as_array().cloned()),
        snap_start: p.get("SnapStart").cloned(),
        image_config: p.get("ImageConfig").cloned(),
        code_signing_config_arn: text(p, "CodeSigningConfigArn"),
    }
}

fn number(properties: &Value, key: &str) -> Option<i64> {
    match properties.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn tags(ctx: &ResourceContext, properties: &Value) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = ctx.stack_tags.iter().cloned().collect();
    if let Some(Value::Array(list)) = properties.get("Tags") {
        for tag in list {
            if let (Some(k), Some(v)) = (tag["Key"].as_str(), tag["Value"].as_str()) {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out.insert("lambda:createdBy".into(), "CloudFormation".into());
    out
}

fn name(ctx: &ResourceContext, properties: &Value) -> String {
    text(properties, "FunctionName").unwrap_or_else(|| {
        sagestack_providers::physical_name(
            &ctx.stack_name,
            &ctx.logical_id,
            &attempt_chars(ctx, UPPER_ALNUM, 12),
            64,
            false,
        )
    })
}

#[async_trait]
impl Native for FunctionProvider {
    type Record = FunctionRecord;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        kit::type_info(
            TYPE_NAME,
            &["FunctionName", "PackageType"],
            &["Arn", "SnapStartResponse"],
            true,
        )
        .named("FunctionName")
    }

    fn state_of(record: &FunctionRecord) -> ResourceState {
        kit::state(
            &*record.config.function_name,
            [("Arn", record.config.function_arn.clone().into())],
        )
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name(ctx, properties))
    }

    fn made_since(record: &FunctionRecord, started: EpochMillis) -> bool {
        record.created_ms >= started
    }

    /// Drift: the settings `UpdateFunctionConfiguration` and `TagResource` change (the
    /// code is not compared: CloudFormation reads it back as a location, not as given).
    fn live_properties(
        record: &FunctionRecord,
        expected: &Value,
    ) -> Option<serde_json::Map<String, Value>> {
        let c = &record.config;
        let environment = c.environment.as_ref().filter(|e| !e.variables.is_empty());
        // `lambda:createdBy` is Lambda's own tag, not the template's.
        let tags: Vec<Value> = record
            .tags
            .iter()
            .filter(|(k, _)| k.as_str() != "lambda:createdBy")
            .map(|(k, v)| serde_json::json!({"Key": k, "Value": v}))
            .collect();
        Some(kit::live(
            expected,
            [
                (
                    "Runtime",
                    c.runtime.clone().map_or(Value::Null, Value::from),
                    Value::Null,
                ),
                (
                    "Handler",
                    c.handler.clone().map_or(Value::Null, Value::from),
                    Value::Null,
                ),
                ("Role", c.role.clone().into(), Value::Null),
                ("Description", c.description.clone().into(), "".into()),
                ("Timeout", c.timeout.into(), 3.into()),
                ("MemorySize", c.memory_size.into(), 128.into()),
                (
                    "Environment",
                    environment.map_or(
                        Value::Null,
                        |e| serde_json::json!({"Variables": e.variables}),
                    ),
                    Value::Null,
                ),
                ("Tags", Value::Array(tags), Value::Array(Vec::new())),
            ],
        ))
    }

    async fn create_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<FunctionRecord> {
        let name = name(ctx, properties);
        let input = CreateFunctionInput {
            function_name: name.clone(),
            runtime: text(properties, "Runtime"),
            role: required(ctx, properties, "Role")?,
            handler: text(properties, "Handler"),
            code: code(ctx, properties)?,
            description: text(properties, "Description"),
            timeout: number(properties, "Timeout"),
            memory_size: number(properties, "MemorySize"),
            publish: false,
            environment: environment(properties),
            package_type: text(properties, "PackageType"),
            tags: tags(ctx, properties),
            architectures: properties
                .get("Architectures")
                .and_then(|a| serde_json::from_value(a.clone()).ok()),
            ephemeral_storage: properties.get("EphemeralStorage").cloned(),
            tracing_config: properties.get("TracingConfig").cloned(),
            layers: properties
                .get("Layers")
                .and_then(|a| serde_json::from_value(a.clone()).ok())
                .unwrap_or_default(),
            logging_config: logging_config(properties),
            other: other_settings(properties),
        };
        let fail = |e| provider_error(TYPE_NAME, &name, e);
        self.functions.create(input).await.map_err(fail)?;
        self.functions.get(&name).await.map_err(fail)
    }

    /// Code (re-sent as it is in the template: an unchanged package hashes the same),
    /// then configuration, then tags.
    async fn update_record(
        &self,
        ctx: &ResourceContext,
        name: &str,
        props: &Value,
    ) -> Outcome<FunctionRecord> {
        let fail = |e| provider_error(TYPE_NAME, name, e);
        let code = code(ctx, props)?;
        let architectures: Option<Vec<String>> = props
            .get("Architectures")
            .and_then(|a| serde_json::from_value(a.clone()).ok());
        self.functions
            .update_code(name, &code, architectures.as_deref(), false, None)
            .await
            .map_err(fail)?;
        let update = UpdateConfigurationInput {
            role: text(props, "Role"),
            handler: text(props, "Handler"),
            description: Some(text(props, "Description").unwrap_or_default()),
            timeout: Some(number(props, "Timeout").unwrap_or(3)),
            memory_size: Some(number(props, "MemorySize").unwrap_or(128)),
            environment: Some(environment(props).unwrap_or_default()),
            runtime: text(props, "Runtime"),
            revision_id: None,
            ephemeral_storage: props.get("EphemeralStorage").cloned(),
            tracing_config: props.get("TracingConfig").cloned(),
            layers: Some(
                props
                    .get("Layers")
                    .and_then(|a| serde_json::from_value(a.clone()).ok())
                    .unwrap_or_default(),
            ),
            // A template without `LoggingConfig` goes back to Lambda's defaults.
            logging_config: Some(logging_config(props).unwrap_or_else(|| LoggingConfig {
                log_format: Some("Text".into()),
                log_group: Some(crate::model::default_log_group(name)),
                ..LoggingConfig::default()
            })),
            other: {
                // What the template no longer names is removed.
                let mut other = other_settings(props);
                other
                    .dead_letter_config
                    .get_or_insert_with(|| serde_json::json!({"TargetArn": ""}));
                other.kms_key_arn.get_or_insert_with(String::new);
                other
            },
        };
        let config = self
            .functions
            .update_configuration(name, &update)
            .await
            .map_err(fail)?;
        let wanted = tags(ctx, props);
        let current = self
            .functions
            .tags(&config.function_arn)
            .await
            .map_err(fail)?;
        let gone: Vec<String> = current
            .into_keys()
            .filter(|k| !wanted.contains_key(k))
            .collect();
        self.functions
            .untag(&config.function_arn, &gone)
            .await
            .map_err(fail)?;
        self.functions
            .tag(&config.function_arn, &wanted)
            .await
            .map_err(fail)?;
        self.functions.get(name).await.map_err(fail)
    }

    async fn get_record(&self, _: &ResourceContext, name: &str) -> Outcome<Option<FunctionRecord>> {
        match self.functions.get(name).await {
            Ok(record) => Ok(Some(record)),
            Err(LambdaError::ResourceNotFound(_)) => Ok(None),
            Err(e) => Err(provider_error(TYPE_NAME, name, e)),
        }
    }

    async fn delete_record(&self, _: &ResourceContext, name: &str) -> Outcome<()> {
        deleted(self.functions.delete(name, None).await, is_gone, |e| {
            provider_error(TYPE_NAME, name, e)
        })
    }
}

/// Whether `e` says the function (or what was asked of it) is gone.
pub(crate) fn is_gone(e: &LambdaError) -> bool {
    matches!(e, LambdaError::ResourceNotFound(_))
}
