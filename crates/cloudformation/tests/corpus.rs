//! Deploys and deletes every deployable template of the shared corpus through the
//! assembled service (MemoryStore, schema-driven providers) and prints the counts:
//! deployed (CREATE_COMPLETE then DELETE_COMPLETE), failed by cause, skipped by reason.
//! `cargo test -p sagestack-cloudformation --test corpus -- --nocapture`; minimums are
//! asserted so that a regression fails. A missing corpus skips, except under `CI=true`.
//!
//! What the test supplies that a real deployment would get from the world:
//! - values for parameters without defaults (`sagestack_template::sample`), trying the
//!   variants `sample::parameter_sets` offers until one deploys;
//! - exports for `Fn::ImportValue`: a small exporter stack per imported name, deployed
//!   first in the same region (and deleted after the importer);
//! - SSM parameters: any name resolves (an AMI id for image-like names);
//! - Secrets Manager secrets: any secret resolves (a JSON object with a password);
//! - nested stacks: any TemplateURL reads a child template that declares every
//!   parameter the parent passes its nested stacks and every output it reads from them;
//! - every capability acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_cloudformation::*;
use sagestack_engine::MemoryStore;
use sagestack_template::sample::{self, Class};

/// The template crate's corpus support: `corpus_dir` and `template_files`.
#[path = "../../template/tests/support/mod.rs"]
mod support;
use support::{corpus_dir, template_files};

/// SSM as the corpus needs it: every parameter exists.
struct AnySsm;
impl SsmLookup for AnySsm {
    fn parameter(&self, name: &str, _: Option<u64>) -> Option<String> {
        Some(if name.contains("ami") || name.contains("image") {
            "ami-12345678".into()
        } else {
            format!("ssm-{}", name.trim_start_matches('/').replace('/', "-"))
        })
    }
    fn secure_parameter(&self, name: &str, v: Option<u64>) -> Option<String> {
        self.parameter(name, v)
    }
}

/// Secrets Manager as the corpus needs it: every secret exists; a JSON key reads a
/// password-shaped value. (sagestack has no Secrets Manager service: a real deployment
/// resolves these only when the embedding supplies a `SecretsLookup`.)
struct AnySecrets;
impl SecretsLookup for AnySecrets {
    fn secret_string(&self, _: &str, _: Option<&str>, _: Option<&str>) -> Option<String> {
        Some(r#"{"username": "admin", "password": "Corpus-Passw0rd"}"#.into())
    }
}

/// A plausible value for an export named `name`.
fn export_value(name: &str) -> String {
    let l = name.to_ascii_lowercase();
    if l.contains("subnet") {
        "subnet-12345678".into()
    } else if l.contains("vpc") {
        "vpc-12345678".into()
    } else if l.contains("securitygroup") || l.contains("sg") {
        "sg-12345678".into()
    } else if l.contains("arn") || l.contains("role") {
        "arn:aws:iam::123456789012:role/imported".into()
    } else {
        "imported".into()
    }
}

const CAPABILITIES: [&str; 3] = [
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "CAPABILITY_AUTO_EXPAND",
];

#[derive(Debug)]
enum Outcome {
    Deployed,
    Failed { cause: String, detail: String },
    Skipped(String),
}

fn failed(cause: &str, detail: impl Into<String>) -> Outcome {
    Outcome::Failed {
        cause: cause.into(),
        detail: detail.into(),
    }
}

/// Nested stacks' templates as the corpus needs them: whatever the URL, one child
/// template (see [`child_template`]).
struct AnyChild(String);
#[async_trait::async_trait]
impl TemplateSource for AnyChild {
    async fn fetch(&self, _: &str, _: u64) -> Result<String, TemplateFetchError> {
        Ok(self.0.clone())
    }
}

/// A child template for `parent`'s nested stacks: every parameter the parent passes
/// them (each with a default, so each child may be passed fewer) and every
/// `Outputs.<name>` the parent reads.
fn child_template(parent: &sagestack_template::Template) -> String {
    let root = parent.root().to_json();
    let mut parameters = serde_json::Map::new();
    for r in root["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        if r["Type"] == "AWS::CloudFormation::Stack" {
            for k in r["Properties"]["Parameters"]
                .as_object()
                .into_iter()
                .flat_map(|m| m.keys())
            {
                parameters.insert(
                    k.clone(),
                    serde_json::json!({"Type": "String", "Default": ""}),
                );
            }
        }
    }
    let text = root.to_string();
    let mut outputs = serde_json::Map::new();
    for part in text.split("Outputs.").skip(1) {
        let name: String = part
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        if !name.is_empty() {
            outputs.insert(
                name.clone(),
                serde_json::json!({"Value": format!("value-of-{name}")}),
            );
        }
    }
    serde_json::json!({
        "Parameters": parameters,
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    })
    .to_string()
}

fn service(child: String) -> CloudFormationService {
    CloudFormationService::new(
        ServiceConfig::new("us-east-1", "123456789012", Arc::new(MemoryStore::new()))
            .with_ssm(Arc::new(AnySsm))
            .with_secrets(Arc::new(AnySecrets))
            .with_template_source(Arc::new(AnyChild(child))),
    )
    .unwrap()
}

fn uses_custom_resources(t: &sagestack_template::Template) -> bool {
    t.root()
        .get("Resources")
        .and_then(|r| r.as_map())
        .is_some_and(|m| {
            m.values().any(|e| {
                e.value
                    .get("Type")
                    .and_then(|t| t.as_str())
                    .is_some_and(sagestack_providers::is_custom_resource_type)
            })
        })
}

/// The first resource failure of a stack operation, oldest first.
async fn first_failure(s: &CloudFormationService, stack_id: &str) -> String {
    let mut events = s
        .engine()
        .stack_events(stack_id, None, 10_000)
        .await
        .unwrap();
    events.reverse();
    let resource = events.iter().find(|e| {
        e.resource_status.ends_with("_FAILED")
            && e.logical_resource_id != e.stack_name
            && !e
                .resource_status_reason
                .as_deref()
                .unwrap_or_default()
                .contains("cancelled")
    });
    match resource {
        Some(e) => format!(
            "{} ({}): {}",
            e.logical_resource_id,
            e.resource_type,
            e.resource_status_reason.clone().unwrap_or_default()
        ),
        None => s
            .describe_stack(stack_id)
            .await
            .ok()
            .and_then(|st| st.status_reason)
            .or_else(|| {
                events
                    .iter()
                    .rev()
                    .find_map(|e| e.resource_status_reason.clone())
            })
            .unwrap_or_default(),
    }
}

async fn deploy_with(
    s: &CloudFormationService,
    name: &str,
    body: &str,
    params: &BTreeMap<String, String>,
) -> Outcome {
    let plan = match s.plan(name, body, params) {
        Ok(p) => p,
        Err(d) if d.iter().all(|d| d.code == RULE_CODE) => {
            return Outcome::Skipped(
                "synthesised parameter values fail the template's Rules".into(),
            );
        }
        Err(d) => return failed("refused at submission (template)", d[0].message.clone()),
    };
    let mut exporters = Vec::new();
    for (i, import) in sagestack_engine::TemplatePlan::imports(&plan)
        .into_iter()
        .enumerate()
    {
        let body = format!(
            "Resources:\n  T: {{Type: AWS::SNS::Topic}}\nOutputs:\n  E:\n    Value: '{}'\n    Export: {{Name: '{}'}}\n",
            export_value(&import),
            import.replace('\'', "''")
        );
        let st = s
            .create_stack_and_wait(CreateStackInput {
                stack_name: format!("exporter-{i}"),
                template_body: body,
                ..Default::default()
            })
            .await;
        match st {
            Ok(st) if st.status == StackStatus::CreateComplete => exporters.push(st.stack_id),
            other => return failed("exporter stack failed", format!("{import}: {other:?}")),
        }
    }
    let created = s
        .create_stack_and_wait(CreateStackInput {
            stack_name: name.into(),
            template_body: body.into(),
            parameters: params.clone(),
            capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        })
        .await;
    let outcome = match created {
        Err(e) => failed("refused at submission (engine)", e.to_string()),
        Ok(st) if st.status == StackStatus::CreateComplete => {
            match s.delete_stack_and_wait(&st.stack_id).await {
                Ok(Some(d)) if d.status == StackStatus::DeleteComplete => Outcome::Deployed,
                Ok(d) => failed(
                    "delete failed",
                    format!("{:?}: {}", d, first_failure(s, &st.stack_id).await),
                ),
                Err(e) => failed("delete refused", e.to_string()),
            }
        }
        Ok(st) => {
            let reason = first_failure(s, &st.stack_id).await;
            let _ = s.delete_stack_and_wait(&st.stack_id).await;
            failed("create failed", reason)
        }
    };
    for e in exporters.iter().rev() {
        let _ = s.delete_stack_and_wait(e).await;
    }
    outcome
}

async fn deploy(body: String) -> Outcome {
    let t = match sample::classify(&body) {
        Class::Skipped(reason) => return Outcome::Skipped(reason),
        Class::ParseError(e) => return failed("parse error", e.message),
        Class::Template(t) => t,
    };
    if let Err(e) = t.validate() {
        return failed("invalid template", e[0].message.clone());
    }
    if uses_custom_resources(&t) {
        return Outcome::Skipped(
            "custom resources: need a handler endpoint (their Lambda) configured".into(),
        );
    }
    let s = service(child_template(&t));
    let mut first = None;
    for params in sample::parameter_sets(&t) {
        match deploy_with(&s, "corpus", &body, &params).await {
            Outcome::Deployed => return Outcome::Deployed,
            other => {
                first.get_or_insert(other);
            }
        }
    }
    first.unwrap_or_else(|| failed("no parameter set", ""))
}

/// A short cause for grouping: the kind of failure, named once for the families seen in
/// the corpus, else the failure kind plus the message's stable head.
fn group(cause: &str, detail: &str) -> String {
    if detail.contains("{{resolve:secretsmanager:") {
        return "Secrets Manager dynamic reference: the secret has no such JSON key".into();
    }
    if detail.contains(" of stack ") && detail.contains("not found") {
        return "Fn::GetStackOutput (other stacks' outputs are not served at bind time)".into();
    }
    // Resource failures: "<Id> (<Type>): <message>" -> "<Type>: <message head>".
    let detail = match detail.split_once(" (") {
        Some((_, rest)) if cause == "create failed" => rest.replacen("): ", ": ", 1),
        _ => detail.to_string(),
    };
    let detail = detail.replace("Properties validation failed for resource ", "schema: ");
    // Values differ per run (generated ids): `string [x]` -> `string [...]`.
    let mut detail = detail;
    if let Some(i) = detail.find("string [")
        && let Some(j) = detail[i..].find(']')
    {
        detail.replace_range(i + "string [".len()..i + j, "...");
    }
    let head: String = detail.chars().take(140).collect();
    format!("{cause}: {head}")
}

/// The diagnostic code of a failed `Rules` assertion.
const RULE_CODE: &str = "E1700";

/// Corpus files that CloudFormation itself would refuse (cfn-lint fixtures exercise lint
/// rules, not deployability): the file, the failure we must report, and why.
const REJECTED_AS_AWS_WOULD: &[(&str, &str, &str)] = &[
    (
        "good/custom/is-defined.yaml",
        "Invalid template property or properties [Parameter]",
        "misspelt Parameters section",
    ),
    (
        "good/functions/sub_needed.yaml",
        "references undefined resource GreetingLambda",
        "references resources it does not declare",
    ),
    (
        "good/resources_deletionpolicy.yaml",
        "DeletionPolicy must be one of",
        "policy from a FindInMap keyed by a literal stack id",
    ),
    (
        "good/resources_updatereplacepolicy.yaml",
        "UpdateReplacePolicy must be one of",
        "policy from a FindInMap keyed by a literal stack id",
    ),
    (
        "good/functions_findinmap.yaml",
        "Unable to get mapping for myMap::us-east-1::us-east-1",
        "FindInMap keys that are not in the mapping",
    ),
    (
        "good/schema_resource.yaml",
        "Unrecognized resource types: [Initech::TPS::Report]",
        "a private registry type that is not registered",
    ),
    (
        "good/custom/is-not-defined.yaml",
        "#/Code: expected type: JSONObject, found: String",
        "Lambda Code given as a string (schema violation)",
    ),
    (
        "good/custom/numeric-inequalities-large.yaml",
        "#/Code: expected type: JSONObject, found: String",
        "Lambda Code given as a string (schema violation)",
    ),
    (
        "good/custom/numeric-inequalities-small.yaml",
        "#/Code: expected type: JSONObject, found: String",
        "Lambda Code given as a string (schema violation)",
    ),
    (
        "good/functions/relationship_conditions.yaml",
        "required key [Role] not found",
        "a required property removed by an always-false condition",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corpus_templates_deploy_and_delete() {
    let Some(root) = corpus_dir() else { return };
    let mut files = Vec::new();
    for sub in ["aws-cloudformation-templates", "cfn-lint-templates/good"] {
        files.extend(template_files(&root.join(sub)));
    }
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    let limit = Arc::new(tokio::sync::Semaphore::new(4));
    for path in files {
        let body = std::fs::read_to_string(&path).unwrap();
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let limit = limit.clone();
        tasks.push((
            name,
            tokio::spawn(async move {
                let _permit = limit.acquire_owned().await.unwrap();
                deploy(body).await
            }),
        ));
    }
    let total = tasks.len();
    let mut deployed = 0;
    let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for (name, task) in tasks {
        match task.await.unwrap() {
            Outcome::Skipped(r) => *skipped.entry(r).or_default() += 1,
            Outcome::Failed { cause, detail } => {
                if let Some((_, needle, why)) = REJECTED_AS_AWS_WOULD
                    .iter()
                    .find(|(f, _, _)| name.ends_with(f))
                {
                    assert!(
                        detail.contains(needle),
                        "{name} should fail with {needle:?} ({why}), failed with: {detail}"
                    );
                    *skipped
                        .entry(format!("rejected as CloudFormation would: {why}"))
                        .or_default() += 1;
                    continue;
                }
                failures
                    .entry(group(&cause, &detail))
                    .or_default()
                    .push(format!("{name}: {detail}"))
            }
            Outcome::Deployed
                if REJECTED_AS_AWS_WOULD
                    .iter()
                    .any(|(f, _, _)| name.ends_with(f)) =>
            {
                panic!("{name} deployed, but CloudFormation would refuse it")
            }
            Outcome::Deployed => deployed += 1,
        }
    }
    let failed_total: usize = failures.values().map(Vec::len).sum();
    let skipped_total: usize = skipped.values().sum();
    println!(
        "corpus deploy: {total} files, {deployed} deployed (CREATE_COMPLETE then DELETE_COMPLETE), {failed_total} failed, {skipped_total} skipped, in {:.1?}",
        started.elapsed()
    );
    for (reason, n) in &skipped {
        println!("  skipped {n}: {reason}");
    }
    for (cause, files) in &failures {
        println!("  failed {}: {cause}", files.len());
        for f in files {
            println!("      {}", f.chars().take(300).collect::<String>());
        }
    }
    assert_eq!(deployed + failed_total + skipped_total, total);
    assert!(
        deployed >= MIN_DEPLOYED,
        "only {deployed} templates deployed"
    );
    assert!(
        failed_total <= MAX_FAILED,
        "{failed_total} templates failed (at most {MAX_FAILED} expected)"
    );
}

/// Measured minimums (see the module docs for how to print the breakdown).
const MIN_DEPLOYED: usize = 254;
const MAX_FAILED: usize = 7;
