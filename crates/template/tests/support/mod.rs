//! Shared by the corpus tests and the benchmark: finding the corpus, classifying its
//! files, synthesising parameter values, and fake lookups.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// What a corpus file is.
pub enum Class {
    /// A CloudFormation template this engine should deploy.
    Template(Template),
    /// Not something to deploy, with the reason.
    Skipped(String),
    /// The file does not parse.
    ParseError(TemplateError),
}

/// Classifies a file by its content.
pub fn classify(body: &str) -> Class {
    let t = match Template::parse(body) {
        Ok(t) => t,
        Err(e) if e.message.contains("unknown YAML tag !Rain::") => {
            return Class::Skipped("not a template: Rain preprocessor tags (!Rain::...)".into());
        }
        Err(e) if e.message.contains("single YAML document") => {
            return Class::Skipped(
                "not a template: several YAML documents (e.g. a Kubernetes manifest)".into(),
            );
        }
        Err(e) => return Class::ParseError(e),
    };
    let root = t.root();
    let Some(top) = root.as_map() else {
        return Class::Skipped("not a template: the document is not a mapping".into());
    };
    if !top.contains_key("Resources") {
        return Class::Skipped("not a template: no Resources section".into());
    }
    let resources = top.get("Resources").and_then(|r| r.value.as_map());
    if resources.is_some_and(|r| r.is_empty()) {
        return Class::Skipped(
            "not deployable: Resources is empty (a cfn-lint configuration fixture)".into(),
        );
    }
    if resources.is_some_and(|r| {
        r.values()
            .any(|e| match e.value.get("Type").map(|t| &t.kind) {
                Some(Kind::String(t)) => t.ends_with("::MODULE"),
                Some(Kind::Map(m)) => m.keys().any(|k| k.starts_with("Rain::")),
                _ => false,
            })
    }) {
        return Class::Skipped(
            "module not supported: registry modules (::MODULE) or Rain modules".into(),
        );
    }
    if top.keys().any(|k| k == "Modules")
        || top
            .get("Resources")
            .and_then(|r| r.value.as_map())
            .is_some_and(|r| {
                r.values()
                    .any(|e| e.value.get("Overrides").is_some() || e.value.get("Source").is_some())
            })
    {
        return Class::Skipped("not a template: Rain module (Modules/Overrides/Source)".into());
    }
    let unsupported: Vec<&str> = t
        .transforms()
        .into_iter()
        .filter(|x| *x != LANGUAGE_EXTENSIONS)
        .collect();
    if !unsupported.is_empty() {
        return Class::Skipped(format!(
            "transform not supported: {}",
            unsupported.join(", ")
        ));
    }
    if contains_key(root, "Fn::Transform") {
        return Class::Skipped("macro not supported: Fn::Transform".into());
    }
    Class::Template(t)
}

fn contains_key(n: &Node, key: &str) -> bool {
    match &n.kind {
        Kind::Map(m) => m
            .iter()
            .any(|(k, e)| k == key || contains_key(&e.value, key)),
        Kind::List(l) => l.iter().any(|x| contains_key(x, key)),
        _ => false,
    }
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
    fn stack_output(
        &self,
        stack: &str,
        output: &str,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Option<String> {
        Some(format!("{stack}-{output}"))
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

const CANDIDATES: &[&str] = &[
    "example",
    "Example1",
    "abc",
    "a",
    "test",
    "my-key",
    "t3.micro",
    "10.0.0.0/16",
    "10.0.0.0/24",
    "0.0.0.0/0",
    "1",
    "user@example.com",
    "https://example.com",
    "example.com",
    "arn:aws:iam::123456789012:role/example",
    "sg-12345678",
    "vpc-12345678",
    "subnet-12345678",
    "ami-12345678",
    "us-east-1a",
    "Password123",
    "MyPassw0rd!",
    "admin",
    "dev",
    "prod",
    "true",
    "false",
    "Yes",
    "No",
    "10.0.0.1",
    "mybucket",
    "123456789012",
    "Z123456ABCDEFG",
    "1.0",
    "0",
    "rsa-key",
    "Abcdef12",
    "ab1",
    "a1",
    "arn:aws:sns:us-east-1:123456789012:topic",
    "i-12345678",
    "sg-1234567890abcdef0",
];

/// A plausible value for a parameter that has no default: the first allowed value, or the
/// first candidate that satisfies its constraints.
pub fn synthesise(d: &ParameterDecl, hints: &[String]) -> String {
    if let Some(first) = d.allowed_values.as_ref().and_then(|a| a.first()) {
        return first.clone();
    }
    for h in hints {
        if params::check_constraints(d, h).is_ok() {
            return h.clone();
        }
    }
    if let Some(p) = &d.allowed_pattern {
        for c in from_pattern(p) {
            if params::check_constraints(d, &c).is_ok() {
                return c;
            }
        }
    }
    let typed: &[&str] = match d.param_type.as_str() {
        "Number" => &["1", "10", "100", "1024", "8080"],
        "List<Number>" => &["1,2,3,4"],
        "CommaDelimitedList" => &["a,b,c,d", "10.0.0.0/24,10.0.1.0/24,10.0.2.0/24,10.0.3.0/24"],
        "AWS::EC2::AvailabilityZone::Name" => &["us-east-1a"],
        "List<AWS::EC2::AvailabilityZone::Name>" => {
            &["us-east-1a,us-east-1b,us-east-1c,us-east-1d"]
        }
        "AWS::EC2::Image::Id" => &["ami-12345678"],
        "AWS::EC2::Instance::Id" => &["i-12345678"],
        "AWS::EC2::KeyPair::KeyName" => &["my-key"],
        "AWS::EC2::SecurityGroup::GroupName" => &["my-sg"],
        "AWS::EC2::SecurityGroup::Id" => &["sg-12345678"],
        "List<AWS::EC2::SecurityGroup::Id>" => &["sg-12345678,sg-87654321,sg-11111111,sg-22222222"],
        "AWS::EC2::Subnet::Id" => &["subnet-12345678"],
        "List<AWS::EC2::Subnet::Id>" => {
            &["subnet-12345678,subnet-87654321,subnet-11111111,subnet-22222222"]
        }
        "AWS::EC2::VPC::Id" => &["vpc-12345678"],
        "List<AWS::EC2::VPC::Id>" => &["vpc-12345678"],
        "AWS::EC2::Volume::Id" => &["vol-12345678"],
        "AWS::Route53::HostedZone::Id" => &["Z123456ABCDEFG"],
        _ => &[],
    };
    for c in typed.iter().chain(CANDIDATES) {
        if params::check_constraints(d, c).is_ok() {
            return c.to_string();
        }
    }
    let n = d.min_length.unwrap_or(1).max(1) as usize;
    for base in ["a", "A", "1", "aA1!"] {
        let c = base.repeat(n.div_ceil(base.len()));
        if params::check_constraints(d, &c).is_ok() {
            return c;
        }
    }
    if let Some(min) = d.min_value {
        return min.to_string();
    }
    "example".into()
}

/// Values for every parameter without a default.
pub fn synthesise_all(t: &Template) -> BTreeMap<String, String> {
    let mut hints: BTreeMap<String, Vec<String>> = BTreeMap::new();
    mapping_key_hints(t.root(), t.root(), &mut hints);
    t.parameters()
        .iter()
        .filter(|d| d.default.is_none())
        .map(|d| {
            (
                d.name.clone(),
                synthesise(d, hints.get(&d.name).map_or(&[], Vec::as_slice)),
            )
        })
        .collect()
}

/// A parameter used as the top-level key of `Fn::FindInMap [Map, !Ref P, ...]` gets the
/// map's first key as a hint.
fn mapping_key_hints(root: &Node, n: &Node, out: &mut BTreeMap<String, Vec<String>>) {
    match &n.kind {
        Kind::Map(m) => {
            if let Some(("Fn::FindInMap", arg)) = n.as_intrinsic()
                && let Some(l) = arg.as_list()
                && let (Some(map), Some(("Ref", p))) = (
                    l.first().and_then(Node::as_str),
                    l.get(1).and_then(Node::as_intrinsic),
                )
                && let Some(p) = p.as_str()
                && let Some(first) = root
                    .get("Mappings")
                    .and_then(|ms| ms.get(map))
                    .and_then(Node::as_map)
                    .and_then(|m| m.keys().next())
            {
                out.entry(p.to_string()).or_default().push(first.clone());
            }
            m.values()
                .for_each(|e| mapping_key_hints(root, &e.value, out));
        }
        Kind::List(l) => l.iter().for_each(|x| mapping_key_hints(root, x, out)),
        _ => {}
    }
}

/// Strings that match an `AllowedPattern`, built from its syntax tree: repetitions of
/// increasing length and the first few alternation branches.
pub fn from_pattern(p: &str) -> Vec<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};
    let Ok(hir) = regex_syntax::Parser::new().parse(p) else {
        return Vec::new();
    };
    fn gen_str(h: &Hir, extra: u32, branch: usize, out: &mut String) {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(l) => out.push_str(&String::from_utf8_lossy(&l.0)),
            HirKind::Class(Class::Unicode(c)) => {
                let ranges = c.ranges();
                let pick = ranges
                    .iter()
                    .flat_map(|r| (r.start()..=r.end()).take(128))
                    .find(|ch| ch.is_ascii_alphanumeric())
                    .or_else(|| ranges.first().map(|r| r.start()));
                if let Some(ch) = pick {
                    out.push(ch);
                }
            }
            HirKind::Class(Class::Bytes(c)) => {
                if let Some(r) = c.ranges().first() {
                    out.push(r.start() as char);
                }
            }
            HirKind::Repetition(r) => {
                let n = (r.min + if r.min == 0 { 0 } else { extra })
                    .min(r.max.unwrap_or(u32::MAX))
                    .min(300);
                for _ in 0..n {
                    gen_str(&r.sub, extra, branch, out);
                }
            }
            HirKind::Capture(c) => gen_str(&c.sub, extra, branch, out),
            HirKind::Concat(v) => v.iter().for_each(|x| gen_str(x, extra, branch, out)),
            HirKind::Alternation(v) => gen_str(&v[branch.min(v.len() - 1)], extra, branch, out),
        }
    }
    let mut out = Vec::new();
    for branch in 0..4 {
        for extra in [0, 1, 2, 4, 8, 16, 32] {
            let mut s = String::new();
            gen_str(&hir, extra, branch, &mut s);
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
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

/// Parameter sets to try: the synthesised values, then variants where every parameter
/// with `AllowedValues` takes its i-th allowed value (templates whose defaults switch off
/// a resource that an unconditional one references deploy only with other choices).
pub fn parameter_sets(t: &Template) -> Vec<BTreeMap<String, String>> {
    let base = synthesise_all(t);
    let decls = t.parameters();
    let max = decls
        .iter()
        .filter_map(|d| d.allowed_values.as_ref().map(Vec::len))
        .max()
        .unwrap_or(0)
        .min(4);
    let mut out = vec![base.clone()];
    for i in 0..max {
        let mut v = base.clone();
        for d in &decls {
            if let Some(a) = d.allowed_values.as_ref().filter(|a| !a.is_empty()) {
                v.insert(d.name.clone(), a[i.min(a.len() - 1)].clone());
            }
        }
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
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
