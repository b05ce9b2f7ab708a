//! Who may assume what, for how long; and the temporary keys it hands out.

use std::sync::Arc;

use sagestack_engine::{Clock, MIXED_ALNUM, UPPER_ALNUM, partition_for_region, random_chars};
use sagestack_protocol::auth::{Caller, Credentials, Principal, Session};
use sagestack_store::RoleStore;
use serde_json::Value;

use crate::StsError;
use crate::validate::{self, DEFAULT_DURATION, DEFAULT_MAX_SESSION};

/// AssumeRole's input (the members used; the others are accepted and ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: Option<i64>,
}

/// Temporary keys and whose they are.
#[derive(Debug, Clone)]
pub struct Issued {
    pub principal: Principal,
    /// `AROA...:<session name>`.
    pub assumed_role_id: String,
    pub expires_epoch_seconds: u64,
}

/// STS's state: the roles that can be assumed and, under `--auth sigv4`, the keys the
/// server accepts (temporary keys are added there).
pub struct Sessions {
    roles: Arc<dyn RoleStore>,
    credentials: Option<Arc<Credentials>>,
    clock: Arc<dyn Clock>,
    region: String,
}

impl Sessions {
    /// `credentials` is `None` under `--auth none` (any key works: nothing to add).
    pub fn new(
        roles: Arc<dyn RoleStore>,
        credentials: Option<Arc<Credentials>>,
        clock: Arc<dyn Clock>,
        region: &str,
    ) -> Self {
        Sessions {
            roles,
            credentials,
            clock,
            region: region.to_owned(),
        }
    }

    /// Temporary keys for `input.role_arn`, which must be a role of `caller`'s account
    /// that exists here.
    pub async fn assume_role(
        &self,
        caller: &Caller,
        input: AssumeRole,
    ) -> Result<Issued, StsError> {
        validate::role_arn(&input.role_arn)?;
        validate::session_name(&input.role_session_name)?;
        let duration = input.duration_seconds.unwrap_or(DEFAULT_DURATION);
        validate::duration(duration)?;
        let (account, name) = validate::parse_role_arn(&input.role_arn)?;
        let denied = || {
            StsError::AccessDenied(format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {}",
                caller.arn, input.role_arn
            ))
        };
        if account != caller.account_id {
            return Err(denied());
        }
        let role = self
            .roles
            .get_role(name)
            .await
            .map_err(|e| StsError::Internal(e.to_string()))?
            .ok_or_else(denied)?;
        let document: Value = serde_json::from_str(&role.document).unwrap_or_default();
        let max = document
            .get("MaxSessionDuration")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_MAX_SESSION);
        if duration > max {
            return Err(StsError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let now_secs = u64::try_from(self.clock.now() / 1000).unwrap_or_default();
        let expires = now_secs + duration as u64;
        let partition = partition_for_region(&self.region);
        let session = &input.role_session_name;
        let assumed_role_id = format!("{}:{session}", role.role_id);
        let principal = Principal {
            access_key_id: format!("ASIA{}", random_chars(UPPER_ALNUM, 16)),
            secret_access_key: random_chars(MIXED_ALNUM, 40),
            account_id: caller.account_id.clone(),
            arn: format!(
                "arn:{partition}:sts::{}:assumed-role/{}/{session}",
                caller.account_id, role.name
            ),
            user_id: assumed_role_id.clone(),
            session: Some(Session {
                token: format!("IQoJb3JpZ2luX2Vj{}", random_chars(MIXED_ALNUM, 300)),
                expires_epoch_seconds: expires,
            }),
        };
        if let Some(credentials) = &self.credentials {
            credentials.add_session(principal.clone(), now_secs);
        }
        Ok(Issued {
            principal,
            assumed_role_id,
            expires_epoch_seconds: expires,
        })
    }
}
