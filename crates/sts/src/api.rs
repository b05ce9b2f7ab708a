//! The STS Query API (`Version=2011-06-15`): decoding, the two operations, and their
//! XML results.

use std::sync::Arc;

use async_trait::async_trait;
use sagestack_engine::iso8601_millis;
use sagestack_protocol::auth::Caller;
use sagestack_protocol::query::{CallResult, QueryError, QueryService, Xml};
use sagestack_protocol::{AwsError, RequestContext};
use serde_json::Value;

use crate::{AssumeRole, Sessions, StsError};

pub const VERSION: &str = "2011-06-15";
pub const XML_NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// STS over [`Sessions`].
pub struct StsApi {
    sessions: Arc<Sessions>,
}

impl StsApi {
    pub fn new(sessions: Arc<Sessions>) -> Self {
        StsApi { sessions }
    }

    async fn assume_role(&self, caller: &Caller, params: &Value) -> Result<Xml, StsError> {
        let text = |name: &str| params.get(name).and_then(Value::as_str).map(str::to_owned);
        let required = |name: &str, member: &str| {
            text(name).ok_or_else(|| {
                StsError::Validation(format!(
                    "1 validation error detected: Value null at '{member}' failed to satisfy \
                     constraint: Member must not be null"
                ))
            })
        };
        let duration_seconds = match text("DurationSeconds") {
            None => None,
            Some(d) => Some(d.parse::<i64>().map_err(|_| {
                StsError::Validation(format!("Invalid value for DurationSeconds: {d}"))
            })?),
        };
        let input = AssumeRole {
            role_arn: required("RoleArn", "roleArn")?,
            role_session_name: required("RoleSessionName", "roleSessionName")?,
            duration_seconds,
        };
        let issued = self.sessions.assume_role(caller, input).await?;
        let p = &issued.principal;
        let session = p.session.as_ref().expect("assumed keys have a session");
        let expiration =
            iso8601_millis(issued.expires_epoch_seconds as i64 * 1000).replace(".000Z", "Z");
        Ok(Xml::new()
            .element(
                "Credentials",
                Xml::new()
                    .text("AccessKeyId", &p.access_key_id)
                    .text("SecretAccessKey", &p.secret_access_key)
                    .text("SessionToken", &session.token)
                    .text("Expiration", expiration),
            )
            .element(
                "AssumedRoleUser",
                Xml::new()
                    .text("AssumedRoleId", issued.assumed_role_id)
                    .text("Arn", &p.arn),
            ))
    }
}

fn caller_identity(caller: &Caller) -> Xml {
    Xml::new()
        .text("UserId", &caller.user_id)
        .text("Account", &caller.account_id)
        .text("Arn", &caller.arn)
}

#[async_trait]
impl QueryService for StsApi {
    fn version(&self) -> &'static str {
        VERSION
    }

    fn xml_namespace(&self) -> &'static str {
        XML_NAMESPACE
    }

    async fn call(&self, ctx: &RequestContext, action: &str, params: Value) -> CallResult {
        // Every request on the wire has a caller; one made in process acts as the root
        // of its account.
        let root = Caller::root("", &ctx.account_id);
        let caller = ctx.caller.as_ref().unwrap_or(&root);
        let result = match action {
            "GetCallerIdentity" => Ok(caller_identity(caller)),
            "AssumeRole" => self.assume_role(caller, &params).await,
            _ => {
                return Err(Box::new(QueryError::InvalidAction {
                    action: action.to_owned(),
                    version: VERSION.to_owned(),
                }));
            }
        };
        result
            .map(Some)
            .map_err(|e| Box::new(e) as Box<dyn AwsError>)
    }
}
