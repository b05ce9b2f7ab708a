//! The Lambda API (REST-JSON, `/2015-03-31/functions/...`): each operation validated
//! against the embedded botocore model and run on the [`Functions`] state or the
//! [`Invoker`]. Where members travel on the wire is the protocol layer's business
//! (`model/lambda-http.json`); this module sees input members and returns output members.

mod invoke;

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use sagestack_protocol::rest_json::{self, RestJsonService, RestOutput, RestRequest, Routes};
use sagestack_protocol::validate::Model;
use sagestack_protocol::{AwsError, RequestContext};

use crate::error::{LambdaError, Result};
use crate::functions::{CodeInput, UpdateConfigurationInput};
use crate::invoke::Invoker;
use crate::model::parse_function_name;
use crate::versions::{AddPermissionInput, AliasInput};

/// The embedded model (`model/lambda.json`, from `scripts/gen-lambda-model.py`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../../model/lambda.json"))
        .expect("embedded Lambda model is valid (tested)")
});

/// The operations' HTTP bindings (`model/lambda-http.json`).
pub static ROUTES: LazyLock<Routes> = LazyLock::new(|| {
    Routes::parse(include_str!("../../model/lambda-http.json"))
        .expect("embedded Lambda bindings are valid (tested)")
});

/// CreateFunction and UpdateFunctionCode carry a base64 zip of up to 50 MB.
const MAX_CODE_REQUEST: usize = 70 * 1024 * 1024;
/// Other requests are small documents.
const MAX_REQUEST: usize = 1024 * 1024;

fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// The Lambda API over the invoker (which holds the functions' state).
pub struct LambdaApi {
    invoker: Arc<Invoker>,
    /// Signs `GetFunction`'s `Code.Location`.
    code_urls: Arc<crate::CodeUrls>,
}

impl LambdaApi {
    pub fn new(invoker: Arc<Invoker>, code_urls: Arc<crate::CodeUrls>) -> LambdaApi {
        LambdaApi { invoker, code_urls }
    }

    fn functions(&self) -> &crate::functions::Functions {
        self.invoker.functions()
    }

    /// The function name (and qualifier) of a `FunctionName` member.
    fn name_of(&self, input: &Value) -> Result<(String, Option<String>)> {
        let given = input["FunctionName"].as_str().unwrap_or_default();
        parse_function_name(self.functions().scope(), given)
    }

    async fn handle(&self, request: RestRequest) -> Result<RestOutput> {
        let op = request.operation.as_str();
        let input = request.input.clone();
        let members = match op {
            "Invoke" => return self.invoke(request).await,
            "CreateFunction" => to_map(self.functions().create(decode(op, input)?).await?),
            "GetFunction" | "GetFunctionConfiguration" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct In {
                    qualifier: Option<String>,
                }
                let (name, q) = self.name_of(&input)?;
                let i: In = decode(op, input)?;
                let record = self.functions().get(&name).await?;
                let (config, _) = record.resolve(q.as_deref().or(i.qualifier.as_deref()))?;
                if op == "GetFunctionConfiguration" {
                    to_map(config.clone())
                } else {
                    let mut out = Map::new();
                    out.insert(
                        "Configuration".into(),
                        serde_json::to_value(config).unwrap_or_default(),
                    );
                    out.insert(
                        "Code".into(),
                        json!({"RepositoryType": "S3", "Location": self.code_urls.location(&self.invoker_endpoint(), &record.code_hex, std::time::SystemTime::now())}),
                    );
                    if !record.tags.is_empty() {
                        out.insert("Tags".into(), json!(record.tags));
                    }
                    if let Some(n) = record.reserved_concurrency {
                        out.insert(
                            "Concurrency".into(),
                            json!({"ReservedConcurrentExecutions": n}),
                        );
                    }
                    out
                }
            }
            "GetFunctionCodeSigningConfig" => {
                // Code signing is not built: every function has none, which Lambda
                // answers with an empty ARN.
                decode::<Value>(op, input.clone())?;
                let (name, _) = self.name_of(&input)?;
                self.functions().get(&name).await?;
                let mut out = Map::new();
                out.insert("CodeSigningConfigArn".into(), json!(""));
                out.insert("FunctionName".into(), json!(name));
                out
            }
            "GetFunctionConcurrency" | "PutFunctionConcurrency" | "DeleteFunctionConcurrency" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct In {
                    reserved_concurrent_executions: Option<i64>,
                }
                let i: In = decode(op, input.clone())?;
                let (name, _) = self.name_of(&input)?;
                let f = self.functions();
                let reserved = match op {
                    "GetFunctionConcurrency" => f.reserved_concurrency(&name).await?,
                    "PutFunctionConcurrency" => Some(
                        f.put_concurrency(&name, i.reserved_concurrent_executions.unwrap_or(0))
                            .await?,
                    ),
                    _ => {
                        f.delete_concurrency(&name).await?;
                        None
                    }
                };
                let mut out = Map::new();
                if let Some(n) = reserved {
                    out.insert("ReservedConcurrentExecutions".into(), json!(n));
                }
                out
            }
            "ListFunctions" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct In {
                    marker: Option<String>,
                    max_items: Option<usize>,
                }
                let i: In = decode(op, input)?;
                let (functions, next) = self
                    .functions()
                    .list(i.marker.as_deref(), i.max_items)
                    .await?;
                let mut out = Map::new();
                out.insert("Functions".into(), json!(functions));
                if let Some(next) = next {
                    out.insert("NextMarker".into(), json!(next));
                }
                out
            }
            "UpdateFunctionCode" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct In {
                    #[serde(flatten)]
                    code: CodeInput,
                    architectures: Option<Vec<String>>,
                    #[serde(default)]
                    publish: bool,
                    revision_id: Option<String>,
                }
                let (name, _) = self.name_of(&input)?;
                let i: In = decode(op, input)?;
                to_map(
                    self.functions()
                        .update_code(
                            &name,
                            &i.code,
                            i.architectures.as_deref(),
                            i.publish,
                            i.revision_id.as_deref(),
                        )
                        .await?,
                )
            }
            "UpdateFunctionConfiguration" => {
                let (name, _) = self.name_of(&input)?;
                let i: UpdateConfigurationInput = decode(op, input)?;
                to_map(self.functions().update_configuration(&name, &i).await?)
            }
            "DeleteFunction" => {
                let (name, q) = self.name_of(&input)?;
                let q = q.or_else(|| input["Qualifier"].as_str().map(str::to_string));
                decode::<Value>(op, input)?;
                self.functions().delete(&name, q.as_deref()).await?;
                Map::new()
            }
            "AddPermission" => {
                let (name, q) = self.name_of(&input)?;
                let q = q.or_else(|| input["Qualifier"].as_str().map(str::to_string));
                let i: AddPermissionInput = decode(op, input)?;
                let statement = self
                    .functions()
                    .add_permission(&name, q.as_deref(), &i)
                    .await?;
                let mut out = Map::new();
                out.insert("Statement".into(), json!(statement.to_string()));
                out
            }
            "RemovePermission" => {
                let (name, q) = self.name_of(&input)?;
                let q = q.or_else(|| input["Qualifier"].as_str().map(str::to_string));
                let sid = input["StatementId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let revision = input["RevisionId"].as_str().map(str::to_string);
                decode::<Value>(op, input)?;
                self.functions()
                    .remove_permission(&name, q.as_deref(), &sid, revision.as_deref())
                    .await?;
                Map::new()
            }
            "GetPolicy" => {
                let (name, q) = self.name_of(&input)?;
                let q = q.or_else(|| input["Qualifier"].as_str().map(str::to_string));
                decode::<Value>(op, input)?;
                let (policy, revision) = self.functions().policy(&name, q.as_deref()).await?;
                let mut out = Map::new();
                out.insert("Policy".into(), json!(policy.to_string()));
                out.insert("RevisionId".into(), json!(revision));
                out
            }
            "PublishVersion" => {
                let (name, _) = self.name_of(&input)?;
                let get = |k: &str| input[k].as_str().map(str::to_string);
                let (description, sha, revision) =
                    (get("Description"), get("CodeSha256"), get("RevisionId"));
                decode::<Value>(op, input)?;
                to_map(
                    self.functions()
                        .publish_version(
                            &name,
                            description.as_deref(),
                            sha.as_deref(),
                            revision.as_deref(),
                        )
                        .await?,
                )
            }
            "ListVersionsByFunction" => {
                let (name, _) = self.name_of(&input)?;
                decode::<Value>(op, input)?;
                let mut out = Map::new();
                out.insert(
                    "Versions".into(),
                    json!(self.functions().versions(&name).await?),
                );
                out
            }
            "CreateAlias" | "GetAlias" | "UpdateAlias" | "DeleteAlias" | "ListAliases" => {
                let (function, _) = self.name_of(&input)?;
                let i: AliasInput = decode(op, input)?;
                let alias_name = i.name.clone().unwrap_or_default();
                let f = self.functions();
                match op {
                    "CreateAlias" => to_map(f.create_alias(&function, &i).await?),
                    "GetAlias" => to_map(f.alias(&function, &alias_name).await?),
                    "UpdateAlias" => to_map(f.update_alias(&function, &alias_name, &i).await?),
                    "DeleteAlias" => {
                        f.delete_alias(&function, &alias_name).await?;
                        Map::new()
                    }
                    _ => {
                        let mut out = Map::new();
                        out.insert("Aliases".into(), json!(f.aliases(&function).await?));
                        out
                    }
                }
            }
            "TagResource" | "UntagResource" | "ListTags" => {
                #[derive(Deserialize)]
                #[serde(rename_all = "PascalCase")]
                struct In {
                    resource: String,
                    #[serde(default)]
                    tags: std::collections::BTreeMap<String, String>,
                    #[serde(default)]
                    tag_keys: Vec<String>,
                }
                let mut input = input;
                // `tagKeys` arrives as one query value per key.
                if let Some(keys) = input.get("TagKeys").and_then(Value::as_str) {
                    input["TagKeys"] = json!([keys]);
                }
                let i: In = decode(op, input)?;
                let f = self.functions();
                match op {
                    "TagResource" => {
                        f.tag(&i.resource, &i.tags).await?;
                        Map::new()
                    }
                    "UntagResource" => {
                        f.untag(&i.resource, &i.tag_keys).await?;
                        Map::new()
                    }
                    _ => {
                        let mut out = Map::new();
                        out.insert("Tags".into(), json!(f.tags(&i.resource).await?));
                        out
                    }
                }
            }
            "GetAccountSettings" => {
                let config = self.invoker.executor_config();
                let mut out = Map::new();
                out.insert(
                    "AccountLimit".into(),
                    json!({
                        "TotalCodeSize": 80_530_636_800i64,
                        "CodeSizeUnzipped": crate::code::MAX_UNZIPPED_BYTES,
                        "CodeSizeZipped": crate::code::MAX_ZIPPED_BYTES,
                        "ConcurrentExecutions": config.max_workers,
                        "UnreservedConcurrentExecutions": config.max_workers,
                    }),
                );
                out.insert("AccountUsage".into(), json!({"TotalCodeSize": 0, "FunctionCount": self.functions().list(None, Some(10_000)).await?.0.len()}));
                out
            }
            other => {
                return Err(LambdaError::InvalidParameterValue(format!(
                    "Operation {other} is not supported by this server"
                )));
            }
        };
        Ok(RestOutput {
            members,
            payload: None,
        })
    }

    fn invoker_endpoint(&self) -> String {
        self.invoker.executor_config().endpoint_url.clone()
    }
}

fn to_map<T: serde::Serialize>(value: T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[async_trait]
impl RestJsonService for LambdaApi {
    fn signing_name(&self) -> &'static str {
        "lambda"
    }

    fn routes(&self) -> &Routes {
        &ROUTES
    }

    fn model(&self) -> &Model {
        &MODEL
    }

    fn max_body_bytes(&self, operation: &str) -> usize {
        match operation {
            "CreateFunction" | "UpdateFunctionCode" => MAX_CODE_REQUEST,
            "Invoke" => crate::invoke::MAX_SYNC_PAYLOAD,
            _ => MAX_REQUEST,
        }
    }

    async fn call(&self, _: &RequestContext, request: RestRequest) -> rest_json::CallResult {
        self.handle(request)
            .await
            .map_err(|e| Box::new(e) as Box<dyn AwsError>)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_and_routes_parse() {
        assert!(MODEL.has_operation("CreateFunction"));
        assert!(ROUTES.matches(&http::Method::POST, "/2015-03-31/functions/f/invocations"));
        assert!(ROUTES.matches(&http::Method::GET, "/2015-03-31/functions"));
        assert!(!ROUTES.matches(&http::Method::GET, "/bucket/key"));
    }
}

#[cfg(test)]
mod operation_tests;
