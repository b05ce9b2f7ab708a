//! The Lambda state: functions and their deployment packages, and the rules of change
//! (names unique, `RevisionId` preconditions, code checked before it is stored). Shared
//! by the API, the CloudFormation providers and the invoker; it knows none of them.
//!
//! Storage: one document per function in the store's document table (kind
//! `lambda-function`, keyed by name; see [`FunctionRecord`]), changed by optimistic
//! read-modify-write on the document's version, so two replicas cannot lose each other's
//! changes; packages as documents of kind `lambda-code` keyed by their SHA-256 (a package
//! uploaded twice is stored once).

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use sagestack_engine::Clock;
use sagestack_store::{CatalogCursor, CatalogKind, CatalogRecord, ObjectStore, Store, StoreError};

use crate::code::{self, Package};
use crate::error::{LambdaError, Result};
use crate::model::{
    Environment, FunctionConfig, FunctionRecord, LATEST, LoggingConfig, Scope, lambda_timestamp,
};
use crate::settings::OtherSettings;

/// How often a read-modify-write is retried when another writer got there first.
const MODIFY_ATTEMPTS: usize = 8;
/// `ListFunctions` page size when `MaxItems` is absent (AWS: 50).
const DEFAULT_PAGE: usize = 50;

/// `Code` of CreateFunction and the code members of UpdateFunctionCode.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CodeInput {
    /// Base64 of the zip.
    pub zip_file: Option<String>,
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    pub s3_key: Option<String>,
    #[serde(rename = "S3ObjectVersion")]
    pub s3_object_version: Option<String>,
    pub image_uri: Option<String>,
}

/// CreateFunction's input (the members sagestack uses; the model validated them all).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFunctionInput {
    pub function_name: String,
    pub runtime: Option<String>,
    pub role: String,
    pub handler: Option<String>,
    pub code: CodeInput,
    #[serde(default)]
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    #[serde(default)]
    pub publish: bool,
    pub environment: Option<Environment>,
    pub package_type: Option<String>,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    pub architectures: Option<Vec<String>>,
    pub ephemeral_storage: Option<Value>,
    pub tracing_config: Option<Value>,
    #[serde(default)]
    pub layers: Vec<String>,
    pub logging_config: Option<LoggingConfig>,
    #[serde(flatten)]
    pub other: OtherSettings,
}

/// UpdateFunctionConfiguration's input.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateConfigurationInput {
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout: Option<i64>,
    pub memory_size: Option<i64>,
    pub environment: Option<Environment>,
    pub runtime: Option<String>,
    pub revision_id: Option<String>,
    pub ephemeral_storage: Option<Value>,
    pub tracing_config: Option<Value>,
    pub layers: Option<Vec<String>>,
    pub logging_config: Option<LoggingConfig>,
    #[serde(flatten)]
    pub other: OtherSettings,
}

/// The Lambda state. Cheap to share behind an `Arc`.
pub struct Functions {
    store: Arc<dyn Store>,
    /// The S3 objects `S3Bucket`/`S3Key` code is read from: S3 is one namespace for the
    /// whole server, whatever account's functions read it.
    objects: Arc<dyn ObjectStore>,
    clock: Arc<dyn Clock>,
    scope: Scope,
    /// `<data dir>/lambda/code`: unpacked packages, one directory per SHA-256.
    code_dir: PathBuf,
}

impl Functions {
    pub fn new(
        store: Arc<dyn Store>,
        objects: Arc<dyn ObjectStore>,
        clock: Arc<dyn Clock>,
        scope: Scope,
        code_dir: PathBuf,
    ) -> Functions {
        Functions {
            store,
            objects,
            clock,
            scope,
            code_dir,
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn not_found(&self, name: &str) -> LambdaError {
        LambdaError::ResourceNotFound(format!(
            "Function not found: {}",
            self.scope.function_arn(name)
        ))
    }

    /// The stored function, or `ResourceNotFoundException`.
    pub async fn get(&self, name: &str) -> Result<FunctionRecord> {
        self.load(name)
            .await?
            .map(|(record, _)| record)
            .ok_or_else(|| self.not_found(name))
    }

    async fn load(&self, name: &str) -> Result<Option<(FunctionRecord, i64)>> {
        let Some(doc) = self
            .store
            .catalog_get(CatalogKind::LambdaFunction, name)
            .await?
        else {
            return Ok(None);
        };
        let record: FunctionRecord = serde_json::from_str(&doc.document).map_err(|e| {
            LambdaError::Service(format!("stored function {name} is unreadable: {e}"))
        })?;
        Ok(Some((record, doc.version)))
    }

    /// Reads the function, applies `change`, and writes it back if nobody wrote in
    /// between (else tries again from a fresh read).
    pub(crate) async fn modify<T>(
        &self,
        name: &str,
        mut change: impl FnMut(&mut FunctionRecord) -> Result<T>,
    ) -> Result<T> {
        for _ in 0..MODIFY_ATTEMPTS {
            let (mut record, version) =
                self.load(name).await?.ok_or_else(|| self.not_found(name))?;
            let out = change(&mut record)?;
            let doc = document(name, &record, version + 1, 0)?;
            match self
                .store
                .catalog_update(CatalogKind::LambdaFunction, &doc, version)
                .await
            {
                Ok(()) => return Ok(out),
                Err(StoreError::Conflict) => continue,
                Err(StoreError::NotFound) => return Err(self.not_found(name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(LambdaError::ResourceConflict(format!(
            "The operation cannot be performed at this time. An update is in progress for resource: {}",
            self.scope.function_arn(name)
        )))
    }

    /// A package from the request's `Code` (inline zip or an S3 object), checked and stored.
    async fn package(&self, code: &CodeInput) -> Result<Package> {
        if code.image_uri.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "sagestack runs functions as local processes: container images (ImageUri) are not supported; use a .zip package"
                    .into(),
            ));
        }
        let zip = match (&code.zip_file, &code.s3_bucket, &code.s3_key) {
            (Some(b64), None, None) => base64::engine::general_purpose::STANDARD
                .decode(b64.as_bytes())
                .map_err(|_| {
                    LambdaError::InvalidParameterValue(
                        "Could not unzip uploaded file. Please check your file, then try to upload again."
                            .into(),
                    )
                })?,
            (None, Some(bucket), Some(key)) => self.s3_object(bucket, key).await?,
            _ => {
                return Err(LambdaError::InvalidParameterValue(
                    "Please provide a source for function code.".into(),
                ));
            }
        };
        let package = tokio::task::spawn_blocking(move || Package::check(zip))
            .await
            .map_err(|e| LambdaError::Service(e.to_string()))??;
        let exists = self
            .store
            .catalog_get(CatalogKind::LambdaCode, &package.hex)
            .await?
            .is_some();
        if !exists {
            let doc = CatalogRecord {
                id: package.hex.clone(),
                name: None,
                version: 1,
                created_micros: self.now() * 1000,
                document: base64::engine::general_purpose::STANDARD
                    .encode(&package.zip)
                    .into(),
            };
            self.store
                .catalog_put(CatalogKind::LambdaCode, &doc)
                .await?;
        }
        Ok(package)
    }

    async fn s3_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let missing = || {
            LambdaError::InvalidParameterValue(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: The specified key does not exist. (bucket {bucket}, key {key})"
            ))
        };
        // A bucket of another account is not this function's to read (no bucket
        // policies here): S3 would answer AccessDenied.
        let owner = self
            .objects
            .get_bucket(bucket)
            .await?
            .and_then(|b| serde_json::from_str::<Value>(&b.document).ok())
            .and_then(|d| d.get("Owner").and_then(Value::as_str).map(str::to_owned));
        if owner.is_some_and(|o| o != self.scope.account_id) {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Error occurred while GetObject. S3 Error Code: AccessDenied. S3 Error Message: Access Denied (bucket {bucket}, key {key})"
            )));
        }
        match self.objects.get_object(bucket, key).await {
            Ok(Some(object)) => Ok(object.body.to_vec()),
            Ok(None) => Err(missing()),
            Err(StoreError::NotFound) => Err(LambdaError::InvalidParameterValue(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist ({bucket})"
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// CreateFunction. With `Publish`, version 1 is published in the same write.
    pub async fn create(&self, input: CreateFunctionInput) -> Result<FunctionConfig> {
        check_runtime(
            input.runtime.as_deref(),
            input.handler.as_deref(),
            &input.package_type,
        )?;
        input.other.check()?;
        let package = self.package(&input.code).await?;
        let now = self.now();
        let mut config = FunctionConfig {
            function_arn: self.scope.function_arn(&input.function_name),
            function_name: input.function_name.clone(),
            runtime: input.runtime,
            role: input.role,
            handler: input.handler,
            code_size: package.zip.len() as i64,
            description: input.description.unwrap_or_default(),
            timeout: input.timeout.unwrap_or(3),
            memory_size: input.memory_size.unwrap_or(128),
            last_modified: lambda_timestamp(now),
            code_sha256: package.sha256_b64.clone(),
            version: LATEST.into(),
            environment: input.environment,
            tracing_config: input
                .tracing_config
                .unwrap_or_else(|| json!({"Mode": "PassThrough"})),
            revision_id: uuid::Uuid::new_v4().to_string(),
            state: "Active".into(),
            last_update_status: "Successful".into(),
            package_type: "Zip".into(),
            architectures: input.architectures.unwrap_or_else(|| vec!["x86_64".into()]),
            ephemeral_storage: input
                .ephemeral_storage
                .unwrap_or_else(|| json!({"Size": 512})),
            layers: layers(input.layers),
            logging_config: Some(crate::logging::resolve(
                &input.function_name,
                None,
                input.logging_config.as_ref(),
            )?),
            dead_letter_config: None,
            kms_key_arn: None,
        };
        input.other.apply(&mut config);
        check_limits(&config)?;
        let mut record = FunctionRecord {
            config: config.clone(),
            code_hex: package.hex,
            tags: input.tags,
            policy: Vec::new(),
            versions: Vec::new(),
            aliases: Vec::new(),
            next_version: 1,
            created_ms: now,
            reserved_concurrency: None,
        };
        let answer = if input.publish {
            {
                let sha = record.config.code_sha256.clone();
                crate::versions::publish(&mut record, None, &sha)?
            }
        } else {
            config
        };
        let doc = document(&input.function_name, &record, 1, now * 1000)?;
        match self
            .store
            .catalog_insert(CatalogKind::LambdaFunction, &doc)
            .await
        {
            Ok(()) => Ok(answer),
            Err(StoreError::AlreadyExists) => Err(LambdaError::ResourceConflict(format!(
                "Function already exist: {}",
                input.function_name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// UpdateFunctionCode (`$LATEST`, and its `Architectures` when given); with
    /// `Publish`, also a new version.
    pub async fn update_code(
        &self,
        name: &str,
        code: &CodeInput,
        architectures: Option<&[String]>,
        publish: bool,
        revision_id: Option<&str>,
    ) -> Result<FunctionConfig> {
        let package = self.package(code).await?;
        let now = self.now();
        self.modify(name, |record| {
            check_revision(&record.config, revision_id)?;
            if let Some(a) = architectures {
                record.config.architectures = a.to_vec();
            }
            record.code_hex = package.hex.clone();
            record.config.code_sha256 = package.sha256_b64.clone();
            record.config.code_size = package.zip.len() as i64;
            touch(&mut record.config, now);
            if publish {
                crate::versions::publish(record, None, &package.sha256_b64)
            } else {
                Ok(record.config.clone())
            }
        })
        .await
    }

    /// UpdateFunctionConfiguration (`$LATEST`).
    pub async fn update_configuration(
        &self,
        name: &str,
        input: &UpdateConfigurationInput,
    ) -> Result<FunctionConfig> {
        input.other.check()?;
        let now = self.now();
        self.modify(name, |record| {
            let c = &mut record.config;
            check_revision(c, input.revision_id.as_deref())?;
            let mut next = c.clone();
            if let Some(v) = &input.role {
                next.role = v.clone();
            }
            if let Some(v) = &input.handler {
                next.handler = Some(v.clone());
            }
            if let Some(v) = &input.description {
                next.description = v.clone();
            }
            if let Some(v) = input.timeout {
                next.timeout = v;
            }
            if let Some(v) = input.memory_size {
                next.memory_size = v;
            }
            if let Some(v) = &input.environment {
                next.environment = Some(v.clone());
            }
            if let Some(v) = &input.runtime {
                next.runtime = Some(v.clone());
            }
            if let Some(v) = &input.ephemeral_storage {
                next.ephemeral_storage = v.clone();
            }
            if let Some(v) = &input.tracing_config {
                next.tracing_config = v.clone();
            }
            if let Some(v) = &input.layers {
                next.layers = layers(v.clone());
            }
            if let Some(v) = &input.logging_config {
                next.logging_config = Some(crate::logging::resolve(
                    &next.function_name,
                    next.logging_config.as_ref(),
                    Some(v),
                )?);
            }
            input.other.apply(&mut next);
            check_runtime(next.runtime.as_deref(), next.handler.as_deref(), &None)?;
            check_limits(&next)?;
            touch(&mut next, now);
            *c = next;
            Ok(c.clone())
        })
        .await
    }

    /// DeleteFunction: the whole function, or one published version.
    pub async fn delete(&self, name: &str, qualifier: Option<&str>) -> Result<()> {
        match qualifier {
            None => {
                match self
                    .store
                    .catalog_delete(CatalogKind::LambdaFunction, name)
                    .await?
                {
                    Some(_) => Ok(()),
                    None => Err(self.not_found(name)),
                }
            }
            Some(LATEST) => Err(LambdaError::InvalidParameterValue(
                "$LATEST version cannot be deleted without deleting the function.".into(),
            )),
            Some(version) => {
                self.modify(name, |record| {
                    crate::versions::delete_version(record, version)
                })
                .await
            }
        }
    }

    /// ListFunctions: `$LATEST` configurations by name, `MaxItems` per page (default 50).
    pub async fn list(
        &self,
        marker: Option<&str>,
        max_items: Option<usize>,
    ) -> Result<(Vec<FunctionConfig>, Option<String>)> {
        let limit = max_items.unwrap_or(DEFAULT_PAGE).clamp(1, 10_000);
        let after = match marker {
            Some(m) => Some(decode_marker(m)?),
            None => None,
        };
        let mut page = self
            .store
            .catalog_list(CatalogKind::LambdaFunction, after.as_ref(), limit + 1)
            .await?;
        let more = page.len() > limit;
        page.truncate(limit);
        let next = more
            .then(|| page.last().map(|d| encode_marker(d.created_micros, &d.id)))
            .flatten();
        let configs = page
            .iter()
            .map(|doc| {
                serde_json::from_str::<FunctionRecord>(&doc.document)
                    .map(|r| r.config)
                    .map_err(|e| LambdaError::Service(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((configs, next))
    }

    /// The zip of a stored package (hex SHA-256).
    pub async fn package_zip(&self, hex: &str) -> Result<Vec<u8>> {
        let doc = self
            .store
            .catalog_get(CatalogKind::LambdaCode, hex)
            .await?
            .ok_or_else(|| {
                LambdaError::Service(format!("the package {hex} is missing from the store"))
            })?;
        base64::engine::general_purpose::STANDARD
            .decode(doc.document.as_bytes())
            .map_err(|e| LambdaError::Service(format!("the package {hex} is unreadable: {e}")))
    }

    /// The directory holding the package `hex`, unpacked (once) if need be.
    pub async fn code_dir(&self, hex: &str) -> Result<PathBuf> {
        let dir = self.code_dir.join(hex);
        if dir.join(".sagestack-complete").exists() {
            return Ok(dir);
        }
        let zip = self.package_zip(hex).await?;
        let target = dir.clone();
        tokio::task::spawn_blocking(move || code::unpack(&zip, &target))
            .await
            .map_err(|e| LambdaError::Service(e.to_string()))??;
        Ok(dir)
    }
}

fn document(
    name: &str,
    record: &FunctionRecord,
    version: i64,
    created_micros: i64,
) -> Result<CatalogRecord> {
    Ok(CatalogRecord {
        id: name.to_string(),
        name: None,
        version,
        created_micros,
        document: serde_json::to_string(record)
            .map_err(|e| LambdaError::Service(e.to_string()))?
            .into(),
    })
}

/// `Layers` as answered: each ARN, its contents unknown here.
fn layers(arns: Vec<String>) -> Vec<Value> {
    arns.into_iter()
        .map(|arn| json!({"Arn": arn, "CodeSize": 0}))
        .collect()
}

/// A new `LastModified` and `RevisionId` after a change.
pub(crate) fn touch(config: &mut FunctionConfig, now: i64) {
    config.last_modified = lambda_timestamp(now);
    config.revision_id = uuid::Uuid::new_v4().to_string();
}

/// `RevisionId` must name the current revision when given.
pub(crate) fn check_revision(config: &FunctionConfig, revision_id: Option<&str>) -> Result<()> {
    match revision_id {
        Some(r) if r != config.revision_id => Err(LambdaError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id"
                .into(),
        )),
        _ => Ok(()),
    }
}

fn check_runtime(
    runtime: Option<&str>,
    handler: Option<&str>,
    package_type: &Option<String>,
) -> Result<()> {
    if package_type.as_deref() == Some("Image") {
        return Err(LambdaError::InvalidParameterValue(
            "sagestack runs functions as local processes: PackageType Image is not supported; use Zip"
                .into(),
        ));
    }
    if runtime.is_none() {
        return Err(LambdaError::InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
                .into(),
        ));
    }
    if handler.is_none() && !runtime.is_some_and(|r| r.starts_with("provided")) {
        return Err(LambdaError::InvalidParameterValue(
            "Runtime and Handler are mandatory parameters for functions created with deployment packages."
                .into(),
        ));
    }
    Ok(())
}

/// Limits the model does not carry: timeout at most 900 s, environment at most 4 KB.
fn check_limits(config: &FunctionConfig) -> Result<()> {
    if config.timeout > 900 {
        return Err(LambdaError::Validation(format!(
            "1 validation error detected: Value '{}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900",
            config.timeout
        )));
    }
    if let Some(env) = &config.environment {
        let size: usize = env.variables.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > 4096 {
            return Err(LambdaError::InvalidParameterValue(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {size}"
            )));
        }
        for key in env.variables.keys() {
            if RESERVED_ENV.contains(&key.as_str()) {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {key}"
                )));
            }
        }
    }
    Ok(())
}

/// Environment variables Lambda sets and refuses to let a function override.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn encode_marker(created_micros: i64, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_micros}:{id}"))
}

fn decode_marker(marker: &str) -> Result<CatalogCursor> {
    let invalid = || LambdaError::InvalidParameterValue("Invalid marker".into());
    let text = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(marker.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(invalid)?;
    let (micros, id) = text.split_once(':').ok_or_else(invalid)?;
    Ok(CatalogCursor {
        created_micros: micros.parse().map_err(|_| invalid())?,
        id: id.to_string(),
    })
}
