//! The SSM API: the JSON 1.1 operations PutParameter, GetParameter, GetParameters,
//! GetParametersByPath, DeleteParameter, DeleteParameters, DescribeParameters,
//! GetParameterHistory and the tag operations (AddTagsToResource, RemoveTagsFromResource,
//! ListTagsForResource), validated against the embedded botocore model and run on the
//! [`Parameters`] state.

use std::sync::{Arc, LazyLock};

use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
// The tests (`use super::*`) read error codes.
#[cfg(test)]
use sagestack_protocol::AwsError;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::SsmError;
use crate::parameters::{
    DeleteParameterInput, GetParameterInput, Parameters, PutParameter, Result, Scope,
};
use crate::tags::ResourceInput;

/// The embedded model (`model/ssm-parameters.json`).
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/ssm-parameters.json"))
        .expect("embedded SSM model is valid (tested)")
});

fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// The SSM API over the parameters' state. Cheap to share.
pub struct SsmService {
    parameters: Arc<Parameters>,
}

impl SsmService {
    pub fn new(parameters: Arc<Parameters>) -> Self {
        SsmService { parameters }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, ctx: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        let scope = Scope {
            region: ctx.region.clone(),
            account_id: ctx.account_id.clone(),
        };
        let out = match op {
            "PutParameter" => {
                let mut put: PutParameter = decode(op, input)?;
                put.modified_by = Some(ctx.caller_arn());
                let (version, stored) = self.parameters.put(put).await?;
                json!({"Version": version, "Tier": stored.tier})
            }
            "GetParameter" => {
                let i: GetParameterInput = decode(op, input)?;
                let p = self
                    .parameters
                    .get(&scope, &i.name, i.with_decryption.unwrap_or(false))
                    .await?;
                json!({ "Parameter": p })
            }
            "GetParameters" => {
                self.parameters
                    .get_parameters(&scope, decode(op, input)?)
                    .await?
            }
            "GetParametersByPath" => self.parameters.by_path(&scope, decode(op, input)?).await?,
            "DeleteParameter" => {
                let i: DeleteParameterInput = decode(op, input)?;
                self.parameters.delete(&i.name).await?;
                json!({})
            }
            "DeleteParameters" => self.parameters.delete_many(decode(op, input)?).await?,
            "DescribeParameters" => self.parameters.describe(&scope, decode(op, input)?).await?,
            "GetParameterHistory" => self.parameters.history(&scope, decode(op, input)?).await?,
            "ListTagsForResource" => {
                let i: ResourceInput = decode(op, input)?;
                let tags = self
                    .parameters
                    .tags(&i.resource_type, &i.resource_id)
                    .await?;
                json!({ "TagList": tags })
            }
            "AddTagsToResource" => {
                let i: ResourceInput = decode(op, input)?;
                let tags = i.tags.unwrap_or_default();
                self.parameters
                    .add_tags(&i.resource_type, &i.resource_id, &tags)
                    .await?;
                json!({})
            }
            "RemoveTagsFromResource" => {
                let i: ResourceInput = decode(op, input)?;
                let keys = i.tag_keys.unwrap_or_default();
                self.parameters
                    .remove_tags(&i.resource_type, &i.resource_id, &keys)
                    .await?;
                json!({})
            }
            other => {
                return Err(SsmError::UnknownOperation(format!(
                    "Operation AmazonSSM.{other} is not supported by this server"
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }
}

sagestack_protocol::json11_service!(SsmService, "AmazonSSM");

#[cfg(test)]
mod describe_tests;
#[cfg(test)]
mod tests;
