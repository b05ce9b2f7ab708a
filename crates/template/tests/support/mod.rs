//! Shared by the corpus tests and the benchmark: finding the corpus, classifying its
//! files, synthesising parameter values, and fake lookups.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use sagestack_template::sample::*;
use sagestack_template::*;
use serde_json::Value;

/// `/work/shared/corpus`, found from this crate. Missing corpus: `None`, except under
/// `CI=true`, where it is a failure.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "conformance corpus not found at {} (required when CI=true)",
            dir.display()
        );
    }
    eprintln!(
        "conformance corpus not found at {}; skipping",
        dir.display()
    );
    None
}

/// Every `.json`, `.yaml` and `.yml` file under `dir`, sorted.
pub fn template_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("json" | "yaml" | "yml")
            ) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Fake values for everything outside the template.
pub struct FakeEnv;

impl Environment for FakeEnv {
    fn ssm_parameter(&self, name: &str) -> Option<String> {
        Some(if name.contains("ami") || name.contains("image") {
            "ami-12345678".into()
        } else {
            format!("ssm-{}", name.trim_start_matches('/'))
        })
    }
    fn export(&self, name: &str) -> Option<String> {
        Some(format!("export-{name}"))
    }
    fn stack_output(&self, at: &StackOutputRef<'_>) -> Option<String> {
        Some(format!("{}-{}", at.stack, at.output))
    }
    fn availability_zones(&self, region: &str) -> Vec<String> {
        ["a", "b", "c", "d", "e", "f"]
            .iter()
            .map(|z| format!("{region}{z}"))
            .collect()
    }
    fn dynamic_reference(&self, _r: &DynamicReference) -> Option<String> {
        Some("resolved".into())
    }
    fn parameter_attribute(&self, _t: &str, _v: &str, attribute: &str) -> Option<String> {
        // Every synthesised subnet and security group lives in the synthesised VPC.
        Some(if attribute == "VpcId" {
            "vpc-12345678".into()
        } else {
            format!("fake-{attribute}")
        })
    }
}

/// Fake resources: physical id `<id>-pid`; attributes shaped by their name (CIDR blocks
/// are CIDRs, plural attributes are lists).
pub struct FakeLookup;

impl ResourceLookup for FakeLookup {
    fn physical_id(&self, id: &str) -> Option<String> {
        Some(format!("{id}-pid"))
    }
    fn attribute(&self, id: &str, attr: &str) -> Option<Value> {
        let last = attr.rsplit('.').next().unwrap_or(attr);
        Some(match last {
            "CidrBlock" | "PrimaryIpv4Cidr" => Value::String("10.0.0.0/16".into()),
            "Ipv6CidrBlocks" => serde_json::json!(["2001:db8::/56"]),
            "CidrBlockAssociations" => serde_json::json!(["10.1.0.0/16"]),
            "DnsEntries" => serde_json::json!(["Z1:vpce.example.com", "Z2:vpce2.example.com"]),
            a if a.ends_with("Ids")
                || a.ends_with("Arns")
                || a.ends_with("Addresses")
                || a.ends_with("Endpoints")
                || a.ends_with("Entries")
                || a == "NameServers" =>
            {
                serde_json::json!([format!("{id}-{a}-1"), format!("{id}-{a}-2")])
            }
            _ => Value::String(format!("{id}.{attr}")),
        })
    }
}

/// Resource types whose `Ref` is an ARN (enough of them for the corpus' `Fn::Split`s).
const REF_IS_ARN: &[&str] = &[
    "AWS::CertificateManager::Certificate",
    "AWS::SNS::Topic",
    "AWS::IAM::ManagedPolicy",
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::ElasticLoadBalancingV2::Listener",
    "AWS::StepFunctions::StateMachine",
    "AWS::ECS::TaskDefinition",
    "AWS::ECS::Service",
];

/// Fake resources of one bound template: `Ref` is `<id>-pid`, or an ARN ending in
/// `/<id>-pid` for types whose `Ref` is an ARN; attributes as [`FakeLookup`].
pub struct TypedFakeLookup(pub std::collections::HashMap<String, String>);

impl ResourceLookup for TypedFakeLookup {
    fn physical_id(&self, id: &str) -> Option<String> {
        match self.0.get(id) {
            Some(t) if REF_IS_ARN.contains(&t.as_str()) => {
                let service = t.split("::").nth(1).unwrap_or("fake").to_lowercase();
                Some(format!(
                    "arn:aws:{service}:us-east-1:123456789012:resource/{id}-pid"
                ))
            }
            _ => FakeLookup.physical_id(id),
        }
    }
    fn attribute(&self, id: &str, attr: &str) -> Option<Value> {
        FakeLookup.attribute(id, attr)
    }
}

/// Binds with synthesised parameters and resolves every property and output; the first
/// parameter set that works wins, otherwise the errors of the first set are returned.
pub fn deploy(t: &Template) -> Result<(usize, usize), Vec<String>> {
    let mut first_errors = None;
    for params in parameter_sets(t) {
        match deploy_with(t, &params) {
            Ok(x) => return Ok(x),
            Err(e) => {
                first_errors.get_or_insert(e);
            }
        }
    }
    Err(first_errors.unwrap_or_default())
}

pub fn deploy_with(
    t: &Template,
    params: &BTreeMap<String, String>,
) -> Result<(usize, usize), Vec<String>> {
    let b = t
        .bind(params, &StackContext::example(), Arc::new(FakeEnv))
        .map_err(|e| e.iter().map(|e| e.render("")).collect::<Vec<_>>())?;
    let lookup = TypedFakeLookup(
        b.resources()
            .iter()
            .map(|r| (r.logical_id.clone(), r.resource_type.clone()))
            .collect(),
    );
    let mut errors = Vec::new();
    for r in b.resources() {
        if let Err(e) = b.resolve_properties(&r.logical_id, &lookup) {
            errors.push(format!("{}: {}", r.logical_id, e.render("")));
        }
    }
    let outputs = match b.resolve_outputs(&lookup) {
        Ok(o) => o.len(),
        Err(e) => {
            errors.push(format!("outputs: {}", e.render("")));
            0
        }
    };
    if errors.is_empty() {
        Ok((b.resources().len(), outputs))
    } else {
        Err(errors)
    }
}
