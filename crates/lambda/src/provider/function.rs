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
use serde_json::{Map, Value};

use sagestack_engine::provider::kit::{
    already_exists, deleted, invalid, not_found, required, text,
};
use sagestack_engine::{
    ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo, UPPER_ALNUM,
    attempt_chars,
};

use crate::code::Package;
use crate::error::LambdaError;
use crate::functions::{CodeInput, CreateFunctionInput, Functions, UpdateConfigurationInput};
use crate::model::{Environment, FunctionConfig};

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

fn state(config: &FunctionConfig) -> ResourceState {
    let mut attributes = Map::new();
    attributes.insert("Arn".into(), config.function_arn.clone().into());
    ResourceState {
        physical_id: config.function_name.clone(),
        attributes,
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
impl ResourceProvider for FunctionProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name == TYPE_NAME).then(|| TypeInfo {
            type_name: TYPE_NAME.into(),
            create_only_properties: vec!["FunctionName".into(), "PackageType".into()],
            attributes: vec!["Arn".into(), "SnapStartResponse".into()],
            taggable: true,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
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
        };
        let config = self
            .functions
            .create(input)
            .await
            .map_err(|e| provider_error(TYPE_NAME, &name, e))?;
        Ok(state(&config))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let name = &current.physical_id;
        let fail = |e| provider_error(TYPE_NAME, name, e);
        if old_properties.get("Code") != new_properties.get("Code")
            || old_properties.get("Runtime") != new_properties.get("Runtime")
        {
            let code = code(ctx, new_properties)?;
            self.functions
                .update_code(name, &code, false, None)
                .await
                .map_err(fail)?;
        }
        let update = UpdateConfigurationInput {
            role: text(new_properties, "Role"),
            handler: text(new_properties, "Handler"),
            description: Some(text(new_properties, "Description").unwrap_or_default()),
            timeout: Some(number(new_properties, "Timeout").unwrap_or(3)),
            memory_size: Some(number(new_properties, "MemorySize").unwrap_or(128)),
            environment: Some(environment(new_properties).unwrap_or_default()),
            runtime: text(new_properties, "Runtime"),
            revision_id: None,
            ephemeral_storage: new_properties.get("EphemeralStorage").cloned(),
            tracing_config: new_properties.get("TracingConfig").cloned(),
        };
        let config = self
            .functions
            .update_configuration(name, &update)
            .await
            .map_err(fail)?;
        let arn = config.function_arn.clone();
        let wanted = tags(ctx, new_properties);
        let old: Vec<String> = tags(ctx, old_properties)
            .into_keys()
            .filter(|k| !wanted.contains_key(k))
            .collect();
        self.functions.untag(&arn, &old).await.map_err(fail)?;
        self.functions.tag(&arn, &wanted).await.map_err(fail)?;
        Ok(state(&config))
    }

    async fn delete(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        let name = &current.physical_id;
        deleted(
            self.functions.delete(name, None).await,
            |e| matches!(e, LambdaError::ResourceNotFound(_)),
            |e| provider_error(TYPE_NAME, name, e),
        )
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        match self.functions.get(&current.physical_id).await {
            Ok(record) => Ok(Some(state(&record.config))),
            Err(LambdaError::ResourceNotFound(_)) => Ok(None),
            Err(e) => Err(provider_error(TYPE_NAME, &current.physical_id, e)),
        }
    }
}
