//! Conformance on the shared corpus of real templates (read in place, never copied).
//!
//! Counts are printed (`cargo test -p sagestack-template --test corpus -- --nocapture`)
//! and minimums asserted so that a regression fails.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use sagestack_template::{Kind, Node};
use support::*;

fn rel(p: &Path, root: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

#[test]
fn yaml_and_json_pairs_parse_to_the_same_tree() {
    let Some(root) = corpus_dir() else { return };
    let dir = root.join("aws-cloudformation-templates");
    let mut pairs = 0;
    let mut different = Vec::new();
    let mut content_differs = 0;
    let mut rain = 0;
    for yaml in template_files(&dir) {
        if !matches!(
            yaml.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        let json = yaml.with_extension("json");
        if !json.exists() {
            continue;
        }
        pairs += 1;
        let name = rel(&yaml, &root);
        let parse =
            |p: &Path| sagestack_template::Template::parse(&std::fs::read_to_string(p).unwrap());
        match (parse(&yaml), parse(&json)) {
            (Ok(a), Ok(b)) if a.root().same_value(b.root()) => {}
            (Ok(a), Ok(b)) => {
                let at = first_difference(a.root(), b.root(), String::new()).unwrap_or_default();
                match PAIRS_WITH_DIFFERENT_CONTENT
                    .iter()
                    .find(|(f, _)| name.ends_with(f))
                {
                    Some((_, path)) if at.starts_with(path) => content_differs += 1,
                    _ => different.push(format!("{name}: trees differ at {at}")),
                }
            }
            (Err(e), Ok(_)) if e.message.contains("!Rain::") => rain += 1,
            (a, b) => different.push(format!("{name}: {:?} / {:?}", a.err(), b.err())),
        }
    }
    let equal = pairs - different.len() - content_differs - rain;
    println!(
        "pairs: {pairs} compared, {equal} equal, {content_differs} differ in content (listed), \
         {rain} with Rain tags on the YAML side, {} unexpected",
        different.len()
    );
    for d in &different {
        println!("  {d}");
    }
    assert!(equal >= 111, "only {equal} YAML/JSON pairs are equal");
    assert!(different.is_empty(), "{different:#?}");
}

/// Pairs whose two files genuinely say different things (the JSON twin is out of date), and
/// the first path where they differ; any other difference fails the test.
const PAIRS_WITH_DIFFERENT_CONTENT: &[(&str, &str)] = &[
    // The JSON twin lost `Fn::ValueOf` (it has a plain list).
    (
        "SapPrivateLink/SapPrivateLink.yaml",
        "/Rules/SubnetsInVPC/Assertions/0/Assert/Fn::EachMemberEquals/0:",
    ),
    (
        "SapPrivateLink/SapPrivateLinkNoHostedZone.yaml",
        "/Rules/SubnetsInVPC/Assertions/0/Assert/Fn::EachMemberEquals/0:",
    ),
    (
        "AutoScaling/AutoScalingRollingUpdates.yaml",
        "/Resources/WebServerGroup/Properties/LaunchTemplate",
    ),
    (
        "AutoScaling/AutoScalingScheduledAction.yaml",
        "/Resources/WebServerGroup/Properties/LaunchTemplate",
    ),
    (
        "EC2/EC2_Instance_With_Ephemeral_Drives.yaml",
        "/Resources/EC2Instance/Properties/SecurityGroupIds",
    ),
    (
        "EC2/EIP_With_Association.yaml",
        "/Resources/EC2Instance/Properties/SecurityGroupIds",
    ),
    (
        "EC2/InstanceWithCfnInit.yaml",
        "/Resources/Instance/Properties/UserData/Fn::Base64/Fn::Sub",
    ),
    (
        "ECS/EC2LaunchType/clusters/private-vpc.yaml",
        "/Resources/ECSAutoScalingGroup/Properties/LaunchTemplate",
    ),
    (
        "ECS/EC2LaunchType/clusters/public-vpc.yaml",
        "/Resources/ECSAutoScalingGroup/Properties/LaunchTemplate",
    ),
    (
        "AmazonCloudWatchAgent/inline/centos.yaml",
        "/Mappings/RegionMap/",
    ),
    (
        "AmazonCloudWatchAgent/inline/redhat.yaml",
        "/Mappings/RegionMap/",
    ),
    (
        "AmazonCloudWatchAgent/inline/suse.yaml",
        "/Mappings/RegionMap/",
    ),
    (
        "AmazonCloudWatchAgent/ssm/centos.yaml",
        "/Mappings/RegionMap/",
    ),
    (
        "AmazonCloudWatchAgent/ssm/redhat.yaml",
        "/Mappings/RegionMap/",
    ),
    (
        "AmazonCloudWatchAgent/ssm/suse.yaml",
        "/Mappings/RegionMap/",
    ),
];

/// Path and values of the first place where two trees differ.
fn first_difference(a: &Node, b: &Node, path: String) -> Option<String> {
    match (&a.kind, &b.kind) {
        (Kind::Map(x), Kind::Map(y)) => {
            for (k, e) in x {
                match y.get(k) {
                    Some(o) => {
                        if let Some(d) = first_difference(&e.value, &o.value, format!("{path}/{k}"))
                        {
                            return Some(d);
                        }
                    }
                    None => {
                        return Some(format!(
                            "{path}/{k} (only in YAML, line {})",
                            e.key_pos.line
                        ));
                    }
                }
            }
            y.keys()
                .find(|k| !x.contains_key(*k))
                .map(|k| format!("{path}/{k} (only in JSON)"))
        }
        (Kind::List(x), Kind::List(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}/{i}"))),
        _ if a.same_value(b) => None,
        _ => Some(format!(
            "{path}: YAML {:?} (line {}) / JSON {:?}",
            a.to_json(),
            a.pos.line,
            b.to_json()
        )),
    }
}

#[test]
fn deployable_templates_validate_and_resolve() {
    let Some(root) = corpus_dir() else { return };
    let mut resolved = 0;
    let mut resolved_files = Vec::new();
    let mut failures = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for sub in ["aws-cloudformation-templates", "cfn-lint-templates/good"] {
        for path in template_files(&root.join(sub)) {
            total += 1;
            let body = std::fs::read_to_string(&path).unwrap();
            let name = rel(&path, &root);
            if let Some((_, needle, why)) =
                NOT_DEPLOYABLE.iter().find(|(f, _, _)| name.ends_with(f))
            {
                let errors = match classify(&body) {
                    Class::Template(t) => match t.validate() {
                        Err(e) => e.iter().map(|e| e.render("")).collect(),
                        Ok(()) => deploy(&t).err().unwrap_or_default(),
                    },
                    _ => Vec::new(),
                };
                assert!(
                    errors.iter().any(|e| e.contains(needle)),
                    "{name} should be rejected with {needle:?} ({why}): {errors:?}"
                );
                *skipped
                    .entry(format!("rejected as CloudFormation would: {why}"))
                    .or_default() += 1;
                continue;
            }
            match classify(&body) {
                Class::Skipped(reason) => *skipped.entry(reason).or_default() += 1,
                Class::ParseError(e) => failures.push(format!("{name}: {}", e.render(""))),
                Class::Template(t) => {
                    if let Err(e) = t.validate() {
                        failures.push(format!(
                            "{name}: validate: {}",
                            e.iter()
                                .map(|e| e.render(""))
                                .collect::<Vec<_>>()
                                .join(" | ")
                        ));
                        continue;
                    }
                    match deploy(&t) {
                        Ok(_) => {
                            resolved += 1;
                            resolved_files.push(path.display().to_string());
                        }
                        Err(e) if e.iter().all(|m| m.contains(" E1700 ")) => {
                            println!(
                                "  rules reject synthesised values: {name}: {}",
                                e.join(" | ")
                            );
                            *skipped
                                .entry(
                                    "synthesised parameter values fail the template's Rules".into(),
                                )
                                .or_default() += 1;
                        }
                        Err(e) => failures.push(format!("{name}: resolve: {}", e.join(" | "))),
                    }
                }
            }
        }
    }
    // For the cfn-lint comparison in docs/benchmarks/template.md.
    if let Ok(out) = std::env::var("SAGESTACK_DEPLOYABLE_LIST") {
        std::fs::write(out, resolved_files.join("\n")).unwrap();
    }
    let skipped_total: usize = skipped.values().sum();
    println!(
        "deployable: {total} files, {resolved} validated and resolved, {} failed, {skipped_total} skipped",
        failures.len()
    );
    for (reason, n) in &skipped {
        println!("  skipped {n}: {reason}");
    }
    for f in &failures {
        println!("  FAIL {f}");
    }
    assert!(
        failures.is_empty(),
        "{} templates failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 280 since files with Rain directives (`Rain::Embed`, `Rain::Module` keys) count as
    // not templates: they resolved only because the directive is an opaque object.
    assert!(resolved >= 280, "only {resolved} templates resolved");
}

/// cfn-lint "good" fixtures that CloudFormation itself rejects (they exercise lint rules,
/// not deployability): the file, the error we must report, and why.
const NOT_DEPLOYABLE: &[(&str, &str, &str)] = &[
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
        "Unable to get mapping for StackIdMap01",
        "FindInMap keyed by a literal stack id",
    ),
    (
        "good/resources_updatereplacepolicy.yaml",
        "Unable to get mapping for StackIdMap01",
        "FindInMap keyed by a literal stack id",
    ),
    (
        "good/functions_findinmap.yaml",
        "Unable to get mapping for myMap::us-east-1::us-east-1",
        "FindInMap keys that are not in the mapping",
    ),
];

#[test]
fn structurally_bad_templates_are_rejected_with_a_location() {
    let Some(root) = corpus_dir() else { return };
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut unlocated = Vec::new();
    for path in template_files(&root.join("cfn-lint-templates/bad")) {
        let body = std::fs::read_to_string(&path).unwrap();
        let name = rel(&path, &root);
        let errors = match classify(&body) {
            Class::Skipped(reason) => {
                *skipped.entry(reason).or_default() += 1;
                continue;
            }
            Class::ParseError(e) => vec![e],
            Class::Template(t) => match t.validate() {
                Err(e) => e,
                Ok(()) => match deploy(&t) {
                    Ok(_) => {
                        accepted.push(name);
                        continue;
                    }
                    Err(e) => {
                        rejected.push(format!("{name}: (at bind/resolve) {}", e.join(" | ")));
                        continue;
                    }
                },
            },
        };
        if errors.iter().any(|e| e.location.is_none()) {
            unlocated.push(name.clone());
        }
        rejected.push(format!(
            "{name}: {}",
            errors
                .iter()
                .map(|e| e.render(""))
                .collect::<Vec<_>>()
                .join(" | ")
        ));
    }
    let skipped_total: usize = skipped.values().sum();
    println!(
        "bad: {} rejected, {} accepted (lint-level problems), {skipped_total} skipped",
        rejected.len(),
        accepted.len()
    );
    for (reason, n) in &skipped {
        println!("  skipped {n}: {reason}");
    }
    for r in &rejected {
        println!("  REJECTED {r}");
    }
    for a in &accepted {
        println!("  accepted {a}");
    }
    assert!(
        unlocated.is_empty(),
        "errors without a location: {unlocated:?}"
    );
    assert!(
        rejected.len() >= MIN_BAD_REJECTED,
        "only {} bad templates rejected",
        rejected.len()
    );
}

/// Measured on the corpus; raise it when the engine rejects more.
const MIN_BAD_REJECTED: usize = 36;
