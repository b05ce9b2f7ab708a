//! The configuration members that need what a local process does not have: a dead-letter
//! queue and a KMS key are recorded and answered (nothing is sent or encrypted); VPC
//! networking, file systems, SnapStart, container image settings and code signing are
//! refused with a message saying so, rather than dropped (a dropped member would be
//! answered as unset, which Terraform sees as a change on every plan).

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{LambdaError, Result};
use crate::model::FunctionConfig;

/// CreateFunction's and UpdateFunctionConfiguration's members of that kind.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OtherSettings {
    /// `{"TargetArn": ...}`; an empty `TargetArn` removes it.
    pub dead_letter_config: Option<Value>,
    /// An empty string removes it.
    #[serde(rename = "KMSKeyArn")]
    pub kms_key_arn: Option<String>,
    pub vpc_config: Option<Value>,
    pub file_system_configs: Option<Vec<Value>>,
    pub snap_start: Option<Value>,
    pub image_config: Option<Value>,
    /// CreateFunction only.
    pub code_signing_config_arn: Option<String>,
}

fn unsupported(what: &str) -> LambdaError {
    LambdaError::InvalidParameterValue(format!(
        "sagestack runs functions as local processes: {what} is not supported"
    ))
}

/// Whether a JSON list member holds anything.
fn non_empty(value: Option<&Value>) -> bool {
    value
        .and_then(Value::as_array)
        .is_some_and(|items| !items.is_empty())
}

impl OtherSettings {
    /// Refuses what cannot be honoured; an empty VPC configuration (no subnets, no
    /// security groups), no file systems and SnapStart `None` are what a function has.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(vpc) = &self.vpc_config
            && (non_empty(vpc.get("SubnetIds")) || non_empty(vpc.get("SecurityGroupIds")))
        {
            return Err(unsupported("VpcConfig (VPC networking)"));
        }
        if self
            .file_system_configs
            .as_ref()
            .is_some_and(|f| !f.is_empty())
        {
            return Err(unsupported("FileSystemConfigs (Amazon EFS)"));
        }
        if let Some(snap) = &self.snap_start
            && snap
                .get("ApplyOn")
                .and_then(Value::as_str)
                .is_some_and(|a| a != "None")
        {
            return Err(unsupported("SnapStart"));
        }
        if self.image_config.is_some() {
            return Err(unsupported("ImageConfig (container images)"));
        }
        if let Some(arn) = &self.code_signing_config_arn {
            return Err(LambdaError::CodeSigningConfigNotFound(format!(
                "The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."
            )));
        }
        Ok(())
    }

    /// Records the dead-letter target and the KMS key (empty values remove them).
    pub(crate) fn apply(&self, config: &mut FunctionConfig) {
        if let Some(dlq) = &self.dead_letter_config {
            let target = dlq.get("TargetArn").and_then(Value::as_str).unwrap_or("");
            config.dead_letter_config =
                (!target.is_empty()).then(|| json!({ "TargetArn": target }));
        }
        if let Some(key) = &self.kms_key_arn {
            config.kms_key_arn = (!key.is_empty()).then(|| key.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(v: Value) -> OtherSettings {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn what_a_local_process_cannot_do_is_refused() {
        for v in [
            json!({"VpcConfig": {"SubnetIds": ["subnet-1"]}}),
            json!({"VpcConfig": {"SecurityGroupIds": ["sg-1"]}}),
            json!({"FileSystemConfigs": [{"Arn": "a", "LocalMountPath": "/mnt/x"}]}),
            json!({"SnapStart": {"ApplyOn": "PublishedVersions"}}),
            json!({"ImageConfig": {"Command": ["x"]}}),
        ] {
            assert!(
                matches!(settings(v.clone()).check(), Err(LambdaError::InvalidParameterValue(m)) if m.starts_with("sagestack runs functions as local processes")),
                "{v}"
            );
        }
        assert!(matches!(
            settings(json!({"CodeSigningConfigArn": "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0"})).check(),
            Err(LambdaError::CodeSigningConfigNotFound(_))
        ));
        let empty = json!({"VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
                           "FileSystemConfigs": [], "SnapStart": {"ApplyOn": "None"}});
        settings(empty).check().unwrap();
    }
}
