//! The SSM API: the JSON 1.1 operations PutParameter, GetParameter, GetParameters,
//! GetParametersByPath and DeleteParameter, validated against the embedded botocore
//! model and run on the [`Parameters`] state.

use std::sync::{Arc, LazyLock};

use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
// The tests (`use super::*`) read error codes.
#[cfg(test)]
use sagestack_protocol::AwsError;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::SsmError;
use crate::parameters::{DeleteParameterInput, GetParameterInput, Parameters, Result, Scope};

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
                let (version, stored) = self.parameters.put(decode(op, input)?).await?;
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
mod tests;
