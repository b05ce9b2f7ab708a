//! The event model packages emit.
//!
//! A "SageMaker Model Package State Change" (source `aws.sagemaker`,
//! resources the package's ARN) is published once a package is stored, and once an update
//! that changed its `ModelApprovalStatus` (or `ModelPackageStatus`) is stored, awaited
//! (the publisher makes it durable before it returns), and only when the publisher wants
//! it. Its detail is the stored package, timestamps in ISO 8601, as in AWS's example
//! ("Events that Amazon SageMaker sends to Amazon EventBridge"). Other updates (description,
//! metadata, tags) and deletions publish nothing: AWS documents no event for them.

use serde_json::Value;

use sagestack_engine::{EmittedEvent, iso8601_millis};

/// `source` of the events SageMaker emits.
pub const SAGEMAKER_SOURCE: &str = "aws.sagemaker";
/// A model package was registered, or its approval (or status) changed.
pub const MODEL_PACKAGE_STATE_CHANGE: &str = "SageMaker Model Package State Change";

/// The "SageMaker Model Package State Change" of `package` (as stored): its members as
/// DescribeModelPackage has them (tags included, as the event's schema has them), with
/// `CreationTime` and `LastModifiedTime` written `2021-02-24T17:00:14Z` as in AWS's
/// example. The event's time is the package's last modification.
pub(crate) fn state_change(package: &Value) -> EmittedEvent {
    let millis = |key: &str| {
        package
            .get(key)
            .and_then(Value::as_f64)
            .map(|s| (s * 1000.0).round() as i64)
    };
    let mut detail = package.clone();
    for key in ["CreationTime", "LastModifiedTime"] {
        if let Some(ms) = millis(key) {
            detail[key] = iso8601_seconds(ms).into();
        }
    }
    EmittedEvent {
        source: SAGEMAKER_SOURCE.into(),
        detail_type: MODEL_PACKAGE_STATE_CHANGE.into(),
        resources: package
            .get("ModelPackageArn")
            .and_then(Value::as_str)
            .map(str::to_string)
            .into_iter()
            .collect(),
        detail,
        time: millis("LastModifiedTime")
            .or_else(|| millis("CreationTime"))
            .unwrap_or_default(),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (no fraction).
pub(super) fn iso8601_seconds(ms: i64) -> String {
    let with_millis = iso8601_millis(ms);
    format!("{}Z", &with_millis[..19])
}
