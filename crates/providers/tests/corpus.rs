//! The provider against real templates: `shared/corpus/aws-cloudformation-templates`.
//!
//! The corpus is read at test time from `CARGO_MANIFEST_DIR/../../../shared/corpus` (it is
//! data, never copied into the repository). When it is missing the tests say so and pass,
//! except under `CI=true`, where a missing corpus is a failure.
//!
//! JSON templates are parsed; a YAML template without a JSON twin is scanned for the
//! `Type:` of each entry under `Resources:` (this crate has no YAML parser, and only the type
//! names are needed for coverage). Property validation uses JSON templates only, and only
//! resources whose properties contain no intrinsic function (resolving those is another
//! crate's job).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use sagestack_providers::{SchemaProvider, bundle};

/// Measured on the corpus snapshot (docs/benchmarks/providers.md): three CloudFormation
/// modules (`...::MODULE`, expanded before deploy) and one private registry type
/// (`Initech::TPS::Report`, the case `InertProvider` exists for).
const UNKNOWN_IN_CFN_LINT_GOOD: usize = 4;

fn corpus_dir() -> Option<PathBuf> {
    corpus_subdir("aws-cloudformation-templates")
}

fn corpus_subdir(name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "corpus missing at {} (required when CI=true)",
            dir.display()
        );
    }
    eprintln!("corpus missing at {}; skipping", dir.display());
    None
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// `(file, logical id, type, properties)` for every resource of every template; properties
/// are `None` for YAML-only templates.
type Resource = (String, String, String, Option<Value>);

fn corpus_resources(dir: &Path) -> Vec<Resource> {
    let mut all = Vec::new();
    files(dir, &mut all);
    let mut out = Vec::new();
    for path in &all {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let rel = path.strip_prefix(dir).unwrap().display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(_) => continue,
        };
        match ext {
            "json" => {
                let Ok(doc) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let Some(resources) = doc.get("Resources").and_then(Value::as_object) else {
                    continue;
                };
                for (logical, r) in resources {
                    if let Some(t) = r.get("Type").and_then(Value::as_str) {
                        let props = r.get("Properties").cloned().unwrap_or(Value::Null);
                        out.push((rel.clone(), logical.clone(), t.to_string(), Some(props)));
                    }
                }
            }
            "yaml" | "yml" => {
                if path.with_extension("json").exists() {
                    continue;
                }
                for (logical, t) in yaml_resource_types(&text) {
                    out.push((rel.clone(), logical, t, None));
                }
            }
            _ => {}
        }
    }
    out
}

/// (logical id, type) of each entry of a YAML template's top-level `Resources:` mapping.
fn yaml_resource_types(text: &str) -> Vec<(String, String)> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == "Resources:") else {
        return vec![];
    };
    let mut out = Vec::new();
    let mut resource_indent = None;
    let mut current: Option<(String, Option<usize>)> = None;
    for line in &lines[start + 1..] {
        let ind = indent(line);
        if ind == 0 {
            break;
        }
        let ri = *resource_indent.get_or_insert(ind);
        let trimmed = line.trim();
        if ind == ri {
            let name = trimmed.trim_end_matches(':').trim_matches(['"', '\'']);
            current = Some((name.to_string(), None));
            continue;
        }
        if let Some((name, child_indent)) = &mut current {
            let ci = *child_indent.get_or_insert(ind);
            if ind == ci
                && let Some(t) = trimmed.strip_prefix("Type:")
            {
                let t = t
                    .split('#')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches(['"', '\'']);
                out.push((name.clone(), t.to_string()));
            }
        }
    }
    out
}

fn has_intrinsic(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            (m.len() == 1
                && m.keys()
                    .next()
                    .is_some_and(|k| k == "Ref" || k.starts_with("Fn::") || k == "Condition"))
                || m.values().any(has_intrinsic)
        }
        Value::Array(a) => a.iter().any(has_intrinsic),
        _ => false,
    }
}

fn is_custom(t: &str) -> bool {
    t == "AWS::CloudFormation::CustomResource" || t.starts_with("Custom::")
}

#[test]
fn every_corpus_resource_type_is_known() {
    let Some(dir) = corpus_dir() else { return };
    let resources = corpus_resources(&dir);
    let b = bundle();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut types = BTreeSet::new();
    let (mut known, mut custom, mut serverless) = (0, 0, 0);
    for (_, _, t, _) in &resources {
        types.insert(t.clone());
        if b.contains(t) {
            known += 1;
        } else if is_custom(t) {
            custom += 1;
        } else if t.starts_with("AWS::Serverless::") {
            // SAM types exist only before the AWS::Serverless transform runs.
            serverless += 1;
        } else {
            *unknown.entry(t.clone()).or_default() += 1;
        }
    }
    let unknown_count: usize = unknown.values().sum();
    println!(
        "corpus: {} resources of {} types; {known} bundled, {custom} custom, {serverless} SAM, \
         {unknown_count} unknown in {} types: {unknown:#?}",
        resources.len(),
        types.len(),
        unknown.len()
    );
    assert!(
        resources.len() > 1000,
        "only {} resources found",
        resources.len()
    );
    // Measured (docs/benchmarks/providers.md): 10 resources in 4 "types", all of them
    // macro or Rain inputs rather than deployable types: `!Rain::Module` entries, and
    // `AWS::S3::Object` / `Boto3::CodeCommit.put_file` that the S3Objects and Boto3 example
    // macros expand.
    assert!(
        unknown_count <= 10,
        "{unknown_count} resources of unknown types"
    );
}

#[test]
fn cfn_lint_good_template_types_are_known() {
    let Some(dir) = corpus_subdir("cfn-lint-templates/good") else {
        return;
    };
    let resources = corpus_resources(&dir);
    let b = bundle();
    let mut unknown: BTreeMap<String, usize> = BTreeMap::new();
    let mut known = 0;
    for (_, _, t, _) in &resources {
        if b.contains(t) || is_custom(t) || t.starts_with("AWS::Serverless::") {
            known += 1;
        } else {
            *unknown.entry(t.clone()).or_default() += 1;
        }
    }
    let unknown_count: usize = unknown.values().sum();
    println!(
        "cfn-lint good: {} resources, {known} known, {unknown_count} unknown: {unknown:#?}",
        resources.len()
    );
    assert!(
        resources.len() > 200,
        "only {} resources found",
        resources.len()
    );
    assert!(
        unknown_count <= UNKNOWN_IN_CFN_LINT_GOOD,
        "{unknown_count} unknown"
    );
}

#[test]
fn intrinsic_free_corpus_resources_validate() {
    let Some(dir) = corpus_dir() else { return };
    let p = SchemaProvider::new();
    let (mut checked, mut failed) = (0, Vec::new());
    for (file, logical, t, props) in corpus_resources(&dir) {
        let Some(props) = props else { continue };
        if !bundle().contains(&t) || has_intrinsic(&props) {
            continue;
        }
        checked += 1;
        if let Err(v) = p.check(&t, &props) {
            let joined: Vec<String> = v.iter().map(ToString::to_string).collect();
            failed.push(format!("{file} {logical} ({t}): {}", joined.join(" ")));
        }
    }
    println!(
        "{checked} intrinsic-free resources validated, {} rejected:",
        failed.len()
    );
    for f in &failed {
        println!("  {f}");
    }
    assert!(checked > 100, "only {checked} resources checked");
    // Measured: 2 of 135, both inputs of example macros that rewrite them before deploy
    // (Explode's `"[DAYS]"` placeholder for an integer, PyPlate's `#!PyPlate` string where
    // Tags must be a list); CloudFormation itself would reject both as written.
    assert!(failed.len() <= 2, "{} rejected", failed.len());
}

#[test]
fn the_yaml_scanner_finds_resource_types() {
    let text = "AWSTemplateFormatVersion: '2010-09-09'\n\
                Parameters:\n  Type:\n    Type: String\n\
                Resources:\n  # a comment\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      Type: nope\n\
                \x20 \"Queue\":\n    Properties: {}\n    Type: 'AWS::SQS::Queue' # trailing\n\
                Outputs:\n  X:\n    Value: 1\n";
    assert_eq!(
        yaml_resource_types(text),
        vec![
            ("Bucket".to_string(), "AWS::S3::Bucket".to_string()),
            ("Queue".to_string(), "AWS::SQS::Queue".to_string()),
        ]
    );
}
