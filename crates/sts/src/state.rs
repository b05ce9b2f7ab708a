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

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_engine::FakeClock;
    use sagestack_protocol::auth::KeySource;
    use sagestack_store::{RoleRecord, SqliteStore};

    async fn sessions(dir: &std::path::Path) -> (Sessions, Arc<Credentials>) {
        let store = Arc::new(SqliteStore::open(dir).await.unwrap());
        store
            .create_role(&RoleRecord {
                name: "deployer".into(),
                role_id: "AROAEXAMPLE0000000001".into(),
                arn: "arn:aws:iam::123456789012:role/deployer".into(),
                creation_micros: 1,
                document: r#"{"MaxSessionDuration": 7200}"#.into(),
            })
            .await
            .unwrap();
        let credentials = Arc::new(
            Credentials::load(KeySource::Inline("root:s".into()), "123456789012").unwrap(),
        );
        let clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 0));
        let s = Sessions::new(store, Some(credentials.clone()), clock, "us-east-1");
        (s, credentials)
    }

    fn input(arn: &str, duration: Option<i64>) -> AssumeRole {
        AssumeRole {
            role_arn: arn.into(),
            role_session_name: "run-1".into(),
            duration_seconds: duration,
        }
    }

    #[tokio::test]
    async fn assumed_keys_are_accepted_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let (s, credentials) = sessions(dir.path()).await;
        let caller = Caller::root("root", "123456789012");
        let arn = "arn:aws:iam::123456789012:role/deployer";
        let issued = s
            .assume_role(&caller, input(arn, Some(7200)))
            .await
            .unwrap();
        let p = &issued.principal;
        assert!(p.access_key_id.starts_with("ASIA") && p.access_key_id.len() == 20);
        assert_eq!(
            p.arn,
            "arn:aws:sts::123456789012:assumed-role/deployer/run-1"
        );
        assert_eq!(issued.assumed_role_id, "AROAEXAMPLE0000000001:run-1");
        assert_eq!(issued.expires_epoch_seconds, 1_700_000_000 + 7200);
        assert_eq!(credentials.get(&p.access_key_id).as_deref(), Some(p));
        let too_long = s.assume_role(&caller, input(arn, Some(7201))).await;
        assert!(
            matches!(too_long, Err(StsError::Validation(m)) if m.contains("MaxSessionDuration"))
        );
    }

    #[tokio::test]
    async fn other_accounts_and_missing_roles_are_denied() {
        let dir = tempfile::tempdir().unwrap();
        let (s, _) = sessions(dir.path()).await;
        let stranger = Caller::root("k", "999999999999");
        let denied = s
            .assume_role(
                &stranger,
                input("arn:aws:iam::123456789012:role/deployer", None),
            )
            .await;
        assert!(
            matches!(denied, Err(StsError::AccessDenied(m)) if m.contains("is not authorized to perform: sts:AssumeRole"))
        );
        let me = Caller::root("k", "123456789012");
        let missing = s
            .assume_role(&me, input("arn:aws:iam::123456789012:role/nope", None))
            .await;
        assert!(matches!(missing, Err(StsError::AccessDenied(_))));
        let bad = s
            .assume_role(&me, input("arn:aws:iam::123456789012:user/x", None))
            .await;
        assert!(matches!(bad, Err(StsError::Validation(_))));
    }
}
