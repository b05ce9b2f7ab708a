//! Sample inputs for templates: plausible values for parameters that have no default, and
//! a classification of documents that look like templates but are not deployable here.
//!
//! Used by the corpus tests of this crate and of the stack service, and by benchmarks: it
//! lets a whole corpus of real-world templates be bound and deployed without a human
//! choosing parameter values. Nothing here is used when serving requests.
//!
//! Values are synthesised from the declaration alone (`AllowedValues`, `AllowedPattern`,
//! lengths, ranges, the AWS-specific type), plus one hint from the template: a parameter
//! used as the top-level key of `Fn::FindInMap` gets that mapping's first key.

use std::collections::BTreeMap;

use crate::error::TemplateError;
use crate::params::{self, ParameterDecl};
use crate::template::{LANGUAGE_EXTENSIONS, Template};
use crate::tree::{Kind, Node};

/// What a document is, for deployment.
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
    if contains_key_prefix(root, "Rain::") {
        return Class::Skipped(
            "not a template: Rain preprocessor directives (Rain::Embed, Rain::Module...)".into(),
        );
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

fn contains_key_prefix(n: &Node, prefix: &str) -> bool {
    match &n.kind {
        Kind::Map(m) => m
            .iter()
            .any(|(k, e)| k.starts_with(prefix) || contains_key_prefix(&e.value, prefix)),
        Kind::List(l) => l.iter().any(|x| contains_key_prefix(x, prefix)),
        _ => false,
    }
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
