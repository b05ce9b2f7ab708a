//! Stack policies: which update actions a stack update may take on which resources.
//!
//! A policy is a JSON document of statements, each an `Effect` (`Allow`/`Deny`) on
//! `Action`s (`Update:Modify`, `Update:Replace`, `Update:Delete`, `Update:*`) for
//! `Resource`s or `NotResource`s (`LogicalResourceId/<id>`, `*` and `?` wildcards, or
//! `*`), optionally narrowed by a `Condition` on the `ResourceType`
//! (`StringEquals`/`StringLike`). As the CloudFormation documentation says: once a stack
//! has a policy, every update action is denied unless a statement allows it, and a
//! statement that denies wins over any that allows. Policies apply to updates only, not
//! to their rollbacks.
//!
//! The wording of a denial is ours (CloudFormation's is not documented): "Action denied
//! by stack policy: ..." naming the statement (its position, from 1) or saying that none
//! allows the action.

use serde_json::Value;

/// The update actions a policy governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    Modify,
    Replace,
    Delete,
}

impl UpdateAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateAction::Modify => "Update:Modify",
            UpdateAction::Replace => "Update:Replace",
            UpdateAction::Delete => "Update:Delete",
        }
    }
}

const ACTIONS: [&str; 4] = [
    "Update:Modify",
    "Update:Replace",
    "Update:Delete",
    "Update:*",
];

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    actions: Vec<String>,
    /// `true`: `resources` lists what the statement does *not* cover (`NotResource`).
    negated: bool,
    resources: Vec<String>,
    /// `(exact, patterns)` of `ResourceType`, when the statement has a condition.
    types: Option<(Vec<String>, Vec<String>)>,
}

/// A parsed stack policy.
#[derive(Debug, Clone)]
pub struct StackPolicy {
    statements: Vec<Statement>,
}

/// One string or a list of strings (how policies spell `Action` and `Resource`).
fn strings(v: &Value, member: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{member} must be a string or a list of strings"))
            })
            .collect(),
        _ => Err(format!("{member} must be a string or a list of strings")),
    }
}

impl StackPolicy {
    /// Parses and checks a policy body; the error is the `ValidationError` message.
    pub fn parse(body: &str) -> Result<StackPolicy, String> {
        let invalid = |why: String| format!("Error validating stack policy: {why}");
        let doc: Value =
            serde_json::from_str(body).map_err(|e| invalid(format!("Invalid JSON: {e}")))?;
        let list = doc
            .get("Statement")
            .map(|s| match s {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            })
            .ok_or_else(|| invalid("the policy has no Statement".into()))?;
        let mut statements = Vec::new();
        for (i, s) in list.iter().enumerate() {
            let n = i + 1;
            let allow = match s.get("Effect").and_then(Value::as_str) {
                Some("Allow") => true,
                Some("Deny") => false,
                _ => {
                    return Err(invalid(format!(
                        "Statement #{n}: Effect must be Allow or Deny"
                    )));
                }
            };
            let actions = strings(s.get("Action").unwrap_or(&Value::Null), "Action")
                .map_err(|e| invalid(format!("Statement #{n}: {e}")))?;
            if let Some(bad) = actions.iter().find(|a| !ACTIONS.contains(&a.as_str())) {
                return Err(invalid(format!("Statement #{n}: unknown action {bad}")));
            }
            if s.get("Principal").and_then(Value::as_str) != Some("*") {
                return Err(invalid(format!("Statement #{n}: Principal must be \"*\"")));
            }
            let (negated, resources) = match (s.get("Resource"), s.get("NotResource")) {
                (Some(r), None) => (false, strings(r, "Resource")),
                (None, Some(r)) => (true, strings(r, "NotResource")),
                _ => {
                    return Err(invalid(format!(
                        "Statement #{n}: exactly one of Resource and NotResource is required"
                    )));
                }
            };
            let resources = resources.map_err(|e| invalid(format!("Statement #{n}: {e}")))?;
            if let Some(bad) = resources
                .iter()
                .find(|r| *r != "*" && !r.starts_with("LogicalResourceId/"))
            {
                return Err(invalid(format!(
                    "Statement #{n}: resource {bad} is not * or LogicalResourceId/<id>"
                )));
            }
            let types = match s.get("Condition") {
                None => None,
                Some(c) => Some(condition(c).map_err(|e| invalid(format!("Statement #{n}: {e}")))?),
            };
            statements.push(Statement {
                allow,
                actions,
                negated,
                resources,
                types,
            });
        }
        Ok(StackPolicy { statements })
    }

    /// Whether the policy lets an update take `action` on `logical_id` (of
    /// `resource_type`); the denial's reason otherwise.
    pub fn check(
        &self,
        action: UpdateAction,
        logical_id: &str,
        resource_type: &str,
    ) -> Result<(), String> {
        let resource = format!("LogicalResourceId/{logical_id}");
        let applies = |s: &Statement| {
            s.actions
                .iter()
                .any(|a| a == "Update:*" || a == action.as_str())
                && s.resources.iter().any(|r| glob(r, &resource) || r == "*") != s.negated
                && s.types.as_ref().is_none_or(|(exact, like)| {
                    exact.iter().any(|t| t == resource_type)
                        || like.iter().any(|p| glob(p, resource_type))
                })
        };
        let action = action.as_str();
        if let Some(n) = self.statements.iter().position(|s| !s.allow && applies(s)) {
            return Err(format!(
                "Action denied by stack policy: Statement [#{}] does not allow [{action}] for resource [{resource}]",
                n + 1
            ));
        }
        if self.statements.iter().any(|s| s.allow && applies(s)) {
            return Ok(());
        }
        Err(format!(
            "Action denied by stack policy: no statement allows [{action}] for resource [{resource}]"
        ))
    }
}

/// A `Condition` on `ResourceType`: `(StringEquals values, StringLike patterns)`.
fn condition(c: &Value) -> Result<(Vec<String>, Vec<String>), String> {
    let mut exact = Vec::new();
    let mut like = Vec::new();
    let map = c.as_object().ok_or("Condition must be an object")?;
    for (op, test) in map {
        let values = test
            .get("ResourceType")
            .ok_or_else(|| format!("Condition {op} must test ResourceType"))
            .and_then(|v| strings(v, "ResourceType"))?;
        match op.as_str() {
            "StringEquals" => exact.extend(values),
            "StringLike" => like.extend(values),
            other => return Err(format!("unsupported condition operator {other}")),
        }
    }
    Ok((exact, like))
}

/// `*` (any run) and `?` (one character) wildcard matching, as IAM-style policy documents
/// match `Resource`s and `StringLike` conditions (stack policies here, bucket policies in
/// S3).
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A policy allowing every action but what `deny` (a `Deny` statement's `Action`,
    /// `Resource` and `Condition`) denies.
    fn allow_all_but(deny: Value) -> StackPolicy {
        let mut deny = deny;
        deny["Effect"] = json!("Deny");
        deny["Principal"] = json!("*");
        let allow =
            json!({"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"});
        StackPolicy::parse(&json!({"Statement": [allow, deny]}).to_string()).unwrap()
    }

    #[test]
    fn deny_wins_and_nothing_is_allowed_unless_a_statement_says_so() {
        let p = allow_all_but(json!({"Action": ["Update:Replace", "Update:Delete"],
                                     "Resource": "LogicalResourceId/Prod*"}));
        assert!(
            p.check(UpdateAction::Modify, "ProdDb", "AWS::RDS::DBInstance")
                .is_ok()
        );
        assert_eq!(
            p.check(UpdateAction::Replace, "ProdDb", "T").unwrap_err(),
            "Action denied by stack policy: Statement [#2] does not allow [Update:Replace] for resource [LogicalResourceId/ProdDb]"
        );
        let only = StackPolicy::parse(
            r#"{"Statement": {"Effect": "Allow", "Action": "Update:Modify", "Principal": "*",
                "NotResource": "LogicalResourceId/Keep"}}"#,
        )
        .unwrap();
        assert!(only.check(UpdateAction::Modify, "Other", "T").is_ok());
        assert!(
            only.check(UpdateAction::Modify, "Keep", "T")
                .unwrap_err()
                .contains("no statement allows")
        );
        assert!(only.check(UpdateAction::Delete, "Other", "T").is_err());
    }

    #[test]
    fn conditions_on_the_resource_type() {
        let p = allow_all_but(json!({"Action": "Update:*", "Resource": "*",
            "Condition": {"StringLike": {"ResourceType": ["AWS::S3::*"]}}}));
        assert!(
            p.check(UpdateAction::Modify, "B", "AWS::S3::Bucket")
                .is_err()
        );
        assert!(
            p.check(UpdateAction::Modify, "Q", "AWS::SQS::Queue")
                .is_ok()
        );
    }

    #[test]
    fn malformed_policies_are_refused() {
        for (body, needle) in [
            ("not json", "Invalid JSON"),
            ("{}", "no Statement"),
            (
                r#"{"Statement": [{"Effect": "Maybe"}]}"#,
                "Effect must be Allow or Deny",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "Update:Rename", "Principal": "*", "Resource": "*"}]}"#,
                "unknown action",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "me", "Resource": "*"}]}"#,
                "Principal",
            ),
            (
                r#"{"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*"}]}"#,
                "exactly one of Resource",
            ),
        ] {
            let e = StackPolicy::parse(body).unwrap_err();
            assert!(
                e.starts_with("Error validating stack policy: ") && e.contains(needle),
                "{body}: {e}"
            );
        }
    }

    #[test]
    fn wildcards() {
        assert!(glob("LogicalResourceId/A*", "LogicalResourceId/Abc"));
        assert!(glob("a?c", "abc") && !glob("a?c", "abbc") && glob("*", ""));
    }
}
