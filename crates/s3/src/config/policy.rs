//! Bucket policies: the checks S3 makes of a policy's text (`MalformedPolicy`, in S3's
//! words) and whether a policy is public (`GetBucketPolicyStatus`, Block Public
//! Access's `BlockPublicPolicy`). A policy is stored as given and never evaluated:
//! requests here are authorized by their account, not by policies.

use sagestack_engine::policy::glob;
use serde_json::Value;

use super::ConfigError;

/// S3's limit on a bucket policy (20 KB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

fn malformed(message: &str) -> ConfigError {
    ConfigError::MalformedPolicy(message.into())
}

/// The statements of a policy document (`Statement` may be one object or a list).
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// A string or a list of strings (`Action`, `Resource`), as a list; `None` for any
/// other shape.
fn strings(value: &Value) -> Option<Vec<&str>> {
    match value {
        Value::String(s) => Some(vec![s.as_str()]),
        Value::Array(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

/// Whether `resource` names bucket `bucket` or objects in it (`arn:<partition>:s3:::`
/// followed by the bucket name, optionally `/<key pattern>`; wildcards allowed).
fn names_bucket(resource: &str, bucket: &str) -> bool {
    if resource == "*" {
        return true;
    }
    let mut parts = resource.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("s3"), Some(""), Some(""), Some(path)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return false;
    };
    let name = path.split_once('/').map_or(path, |(name, _)| name);
    glob(name, bucket)
}

/// Checks `text` as S3 checks a `PutBucketPolicy` for bucket `bucket`: JSON whose first
/// byte is `{`, at most 20 KB without whitespace (refused as `MalformedPolicy`: S3's
/// own code for that case is not documented), with `Statement`s that each have an `Effect` (`Allow` or
/// `Deny`), a principal, S3 actions (or `*`) and resources in this bucket. Principals
/// are not looked up (AWS refuses ones that do not exist; there are none to ask here).
pub fn validate(text: &str, bucket: &str) -> Result<(), ConfigError> {
    let doc: Value = serde_json::from_str(text)
        .ok()
        .filter(|_| text.trim_start().starts_with('{'))
        .ok_or_else(|| malformed("Policies must be valid JSON and the first byte must be '{'"))?;
    // The limit applies to the policy without insignificant whitespace.
    if doc.to_string().len() > MAX_POLICY_BYTES {
        return Err(malformed(
            "Policy exceeds the maximum allowed document size.",
        ));
    }
    let statements = statements(&doc);
    if statements.is_empty() {
        return Err(malformed("Missing required field Statement"));
    }
    for s in statements {
        let effect = s
            .get("Effect")
            .ok_or_else(|| malformed("Missing required field Effect"))?;
        if !matches!(effect.as_str(), Some("Allow" | "Deny")) {
            return Err(malformed(&format!(
                "Invalid effect: {}",
                effect.as_str().unwrap_or("")
            )));
        }
        if s.get("Principal").is_none() && s.get("NotPrincipal").is_none() {
            return Err(malformed("Missing required field Principal"));
        }
        let actions = s
            .get("Action")
            .or_else(|| s.get("NotAction"))
            .ok_or_else(|| malformed("Missing required field Action"))?;
        let valid_action = |a: &&str| *a == "*" || a.to_ascii_lowercase().starts_with("s3:");
        if !strings(actions).is_some_and(|a| !a.is_empty() && a.iter().all(valid_action)) {
            return Err(malformed("Policy has invalid action"));
        }
        let resources = s
            .get("Resource")
            .or_else(|| s.get("NotResource"))
            .ok_or_else(|| malformed("Missing required field Resource"))?;
        if !strings(resources)
            .is_some_and(|r| !r.is_empty() && r.iter().all(|r| names_bucket(r, bucket)))
        {
            return Err(malformed("Policy has invalid resource"));
        }
    }
    Ok(())
}

/// Whether the policy grants access to everyone: an `Allow` whose principal is `*` (or
/// `{"AWS": "*"}`) without a `Condition`. Conditions are not weighed (AWS calls some
/// conditioned grants public, e.g. a wildcard `aws:SourceArn`): a conditioned grant
/// counts as not public here.
pub fn is_public(text: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    let everyone = |p: &Value| match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m
            .get("AWS")
            .and_then(strings)
            .is_some_and(|a| a.contains(&"*")),
        _ => false,
    };
    statements(&doc).iter().any(|s| {
        s.get("Effect").and_then(Value::as_str) == Some("Allow")
            && s.get("Principal").is_some_and(everyone)
            && s.get("Condition").is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(statement: &str) -> String {
        format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
    }

    #[test]
    fn s3_refuses_malformed_policies_in_its_words() {
        let ok = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":["s3:GetObject"],"Resource":"arn:aws:s3:::b1/*"}"#,
        );
        assert_eq!(validate(&ok, "b1"), Ok(()));
        let refused = |text: &str| match validate(text, "b1") {
            Err(ConfigError::MalformedPolicy(m)) => m,
            other => panic!("{text}: {other:?}"),
        };
        assert_eq!(
            refused("not json"),
            "Policies must be valid JSON and the first byte must be '{'"
        );
        assert_eq!(
            refused(" [1]"),
            "Policies must be valid JSON and the first byte must be '{'"
        );
        assert_eq!(
            refused(r#"{"Version":"2012-10-17"}"#),
            "Missing required field Statement"
        );
        assert_eq!(
            refused(&policy(
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b1"}"#
            )),
            "Missing required field Principal"
        );
        assert_eq!(
            refused(&policy(
                r#"{"Effect":"Maybe","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b1"}"#
            )),
            "Invalid effect: Maybe"
        );
        assert_eq!(
            refused(&policy(
                r#"{"Effect":"Allow","Principal":"*","Action":"ec2:RunInstances","Resource":"arn:aws:s3:::b1"}"#
            )),
            "Policy has invalid action"
        );
        assert_eq!(
            refused(&policy(
                r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#
            )),
            "Policy has invalid resource"
        );
        let big = policy(&format!(
            r#"{{"Sid":"{}","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b1"}}"#,
            "x".repeat(MAX_POLICY_BYTES)
        ));
        assert!(matches!(
            validate(&big, "b1"),
            Err(ConfigError::MalformedPolicy(_))
        ));
        // Wildcards in the bucket part of a resource may name this bucket.
        let wild = policy(
            r#"{"Effect":"Deny","Principal":"*","NotAction":"s3:Get*","Resource":["arn:aws:s3:::b?","arn:aws:s3:::b*/k/*"]}"#,
        );
        assert_eq!(validate(&wild, "b1"), Ok(()));
    }

    #[test]
    fn public_means_allow_to_everyone_without_conditions() {
        let public = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        assert!(is_public(&public));
        let aws_star = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#,
        );
        assert!(is_public(&aws_star));
        let deny = policy(
            r#"{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        );
        assert!(!is_public(&deny));
        let conditioned = policy(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"StringEquals":{"aws:SourceAccount":"123456789012"}}}"#,
        );
        assert!(!is_public(&conditioned));
        let account = policy(
            r#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:*","Resource":"arn:aws:s3:::b"}"#,
        );
        assert!(!is_public(&account));
    }
}
