//! What a target may be: the kinds of ARN this server delivers to, and a target's
//! validation at `PutTargets` (and in the `AWS::Events::Rule` provider).
//!
//! EventBridge knows dozens of target types; this server delivers to four, and refuses
//! the others at `PutTargets` (a failed entry naming the four) rather than accepting a
//! target it would silently never call.

use serde_json::{Map, Value};

use crate::transform::TargetInput;

/// `MaximumRetryAttempts` when a target has no `RetryPolicy` (AWS's default).
pub const DEFAULT_RETRY_ATTEMPTS: u32 = 185;
/// `MaximumEventAgeInSeconds` when a target has no `RetryPolicy` (24 hours).
pub const DEFAULT_EVENT_AGE_SECS: u32 = 86_400;

/// The kinds of target this server delivers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// `arn:aws:lambda:{region}:{account}:function:{name}[:qualifier]`
    Lambda,
    /// `arn:aws:codepipeline:{region}:{account}:{pipeline}`
    CodePipeline,
    /// `arn:aws:codebuild:{region}:{account}:project/{name}`
    CodeBuild,
    /// `arn:aws:events:{region}:{account}:event-bus/{name}`
    EventBus,
}

/// The message of a refused target type.
pub const UNSUPPORTED: &str = "This server delivers only to Lambda functions \
     (arn:aws:lambda:...:function:...), CodePipeline pipelines (arn:aws:codepipeline:...), \
     CodeBuild projects (arn:aws:codebuild:...:project/...) and event buses \
     (arn:aws:events:...:event-bus/...)";

impl TargetKind {
    /// The kind of target `arn` names, `None` for one this server does not deliver to.
    pub fn of(arn: &str) -> Option<TargetKind> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [arn_word, _partition, service, _region, account, resource] = parts[..] else {
            return None;
        };
        if arn_word != "arn" || account.is_empty() || resource.is_empty() {
            return None;
        }
        match service {
            "lambda" => resource
                .strip_prefix("function:")
                .filter(|n| !n.is_empty())
                .map(|_| TargetKind::Lambda),
            "codepipeline" => Some(TargetKind::CodePipeline),
            "codebuild" => resource
                .strip_prefix("project/")
                .filter(|n| !n.is_empty())
                .map(|_| TargetKind::CodeBuild),
            "events" => resource
                .strip_prefix("event-bus/")
                .filter(|n| !n.is_empty())
                .map(|_| TargetKind::EventBus),
            _ => None,
        }
    }
}

/// A target's retry policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age_secs: u32,
}

impl RetryPolicy {
    /// The target's `RetryPolicy`, AWS's defaults for what it leaves out.
    pub fn of(target: &Map<String, Value>) -> RetryPolicy {
        let policy = target.get("RetryPolicy");
        let get = |k: &str| {
            policy
                .and_then(|p| p.get(k))
                .and_then(Value::as_u64)
                .map(|v| v.min(u64::from(u32::MAX)) as u32)
        };
        RetryPolicy {
            maximum_retry_attempts: get("MaximumRetryAttempts").unwrap_or(DEFAULT_RETRY_ATTEMPTS),
            maximum_event_age_secs: get("MaximumEventAgeInSeconds")
                .unwrap_or(DEFAULT_EVENT_AGE_SECS),
        }
    }
}

/// Why a target of `PutTargets` is refused (its `FailedEntries` entry), or its input.
pub fn check(target: &Map<String, Value>) -> Result<TargetInput, (String, String)> {
    let arn = target.get("Arn").and_then(Value::as_str).unwrap_or("");
    if TargetKind::of(arn).is_none() {
        return Err((
            "ValidationException".into(),
            format!("Target type of {arn} is not supported. {UNSUPPORTED}."),
        ));
    }
    TargetInput::from_target(target).map_err(|e| ("ValidationException".into(), e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_of_target() {
        for (arn, kind) in [
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                Some(TargetKind::Lambda),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f:live",
                Some(TargetKind::Lambda),
            ),
            (
                "arn:aws:codepipeline:us-east-1:123456789012:p",
                Some(TargetKind::CodePipeline),
            ),
            (
                "arn:aws:codebuild:us-east-1:123456789012:project/b",
                Some(TargetKind::CodeBuild),
            ),
            (
                "arn:aws:events:us-east-1:123456789012:event-bus/x",
                Some(TargetKind::EventBus),
            ),
            ("arn:aws:sqs:us-east-1:123456789012:q", None),
            ("arn:aws:lambda:us-east-1:123456789012:layer:l", None),
            ("not an arn", None),
        ] {
            assert_eq!(TargetKind::of(arn), kind, "{arn}");
        }
    }

    #[test]
    fn checks_and_policies() {
        let t = |v: Value| v.as_object().unwrap().clone();
        let sqs = check(&t(json!({"Id": "a", "Arn": "arn:aws:sqs:us-east-1:1:q"}))).unwrap_err();
        assert!(sqs.1.contains("Lambda functions"), "{}", sqs.1);
        let ok = t(json!({"Id": "a", "Arn": "arn:aws:lambda:us-east-1:1:function:f"}));
        assert_eq!(check(&ok).unwrap(), TargetInput::MatchedEvent);
        let both = t(
            json!({"Id": "a", "Arn": "arn:aws:lambda:us-east-1:1:function:f", "Input": "{}", "InputPath": "$"}),
        );
        assert!(check(&both).is_err());
        assert_eq!(
            RetryPolicy::of(&ok),
            RetryPolicy {
                maximum_retry_attempts: 185,
                maximum_event_age_secs: 86_400
            }
        );
        let p = t(json!({"RetryPolicy": {"MaximumRetryAttempts": 0}}));
        assert_eq!(RetryPolicy::of(&p).maximum_retry_attempts, 0);
        assert_eq!(RetryPolicy::of(&p).maximum_event_age_secs, 86_400);
    }
}
