//! Static validation of a (ForEach-expanded) template: sections, logical ids, limits,
//! intrinsic functions and what they name, conditions, and dependency cycles. Every
//! problem is collected; nothing stops at the first.
//!
//! This file holds the limits, the [`Checker`] and the top-level section rules;
//! `sections` checks each section's contents and `intrinsics` the functions inside them.
//! Validation never evaluates a template (that is `eval`'s, at bind time).

use std::collections::{HashMap, HashSet};

use crate::error::{ErrorCode, Errors, TemplateError};
use crate::eval::{PSEUDO_PARAMETERS, SubPart, sub_parts};
use crate::graph::{RefKind, cycles, references};
use crate::params::ParameterDecl;
use crate::tree::{Kind, Map, Node, Pos};

mod intrinsics;
mod sections;

pub const MAX_RESOURCES: usize = 500;
pub const MAX_PARAMETERS: usize = 200;
pub const MAX_OUTPUTS: usize = 200;
pub const MAX_MAPPINGS: usize = 200;
pub const MAX_DESCRIPTION_BYTES: usize = 1024;
pub const MAX_LOGICAL_ID_LEN: usize = 255;

pub const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
];

const OUTPUT_ATTRIBUTES: &[&str] = &["Value", "Description", "Export", "Condition"];

pub const POLICIES: &[&str] = &["Delete", "Retain", "RetainExceptOnCreate", "Snapshot"];

const FUNCTIONS: &[&str] = &[
    "Ref",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::GetStackOutput",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::Sub",
    "Fn::Transform",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
];
const LANGUAGE_EXTENSION_FUNCTIONS: &[&str] = &["Fn::Length", "Fn::ToJsonString"];
const RULE_FUNCTIONS: &[&str] = &[
    "Fn::Contains",
    "Fn::EachMemberEquals",
    "Fn::EachMemberIn",
    "Fn::RefAll",
    "Fn::ValueOf",
    "Fn::ValueOfAll",
];

/// A condition's name: CloudFormation takes names that are not alphanumeric there
/// (`A&B` deploys; issue #23 found it on a real template), so only the length and the
/// absence of control characters are checked. What else AWS refuses is not known here.
pub fn valid_condition_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_LOGICAL_ID_LEN && !name.chars().any(char::is_control)
}

/// Alphanumeric, 1 to 255 characters.
pub fn valid_logical_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LOGICAL_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Resources,
    Outputs,
    Conditions,
    Rules,
}

impl Section {
    fn name(self) -> &'static str {
        match self {
            Section::Resources => "Resources",
            Section::Outputs => "Outputs",
            Section::Conditions => "Conditions",
            Section::Rules => "Rules",
        }
    }
}

struct Checker<'a> {
    errors: Errors,
    params: HashSet<&'a str>,
    resources: Option<&'a Map>,
    conditions: Option<&'a Map>,
    mappings: Option<&'a Map>,
    outputs: Option<&'a Map>,
    lang_ext: bool,
}

fn e(code: ErrorCode, msg: impl Into<String>, pos: Pos) -> TemplateError {
    TemplateError::at(code, msg, pos)
}

/// Validates the template; `decls` are the parameter declarations already read (their
/// errors are the caller's).
pub(crate) fn validate(root: &Node, decls: &[ParameterDecl], lang_ext: bool) -> Errors {
    let Some(top) = root.as_map() else {
        return vec![e(
            ErrorCode::Section,
            "Template format error: a template must be a JSON object or a YAML mapping",
            root.pos,
        )];
    };
    let section_map = |name: &str| top.get(name).and_then(|e| e.value.as_map());
    let mut c = Checker {
        errors: Errors::new(),
        params: decls.iter().map(|d| d.name.as_str()).collect(),
        resources: section_map("Resources"),
        conditions: section_map("Conditions"),
        mappings: section_map("Mappings"),
        outputs: section_map("Outputs"),
        lang_ext,
    };

    let unknown: Vec<&str> = top
        .keys()
        .filter(|k| !SECTIONS.contains(&k.as_str()))
        .map(String::as_str)
        .collect();
    if let Some(first) = unknown.first() {
        c.errors.push(e(
            ErrorCode::Section,
            format!(
                "Template format error: Invalid template property or properties [{}]",
                unknown.join(", ")
            ),
            top[*first].key_pos,
        ));
    }
    for (name, entry) in top {
        let v = &entry.value;
        let must_be_map = |c: &mut Checker| {
            if v.as_map().is_none() {
                c.errors.push(e(
                    ErrorCode::Section,
                    format!("Template format error: {name} must be an object"),
                    v.pos,
                ));
            }
        };
        match name.as_str() {
            "AWSTemplateFormatVersion" if v.scalar_text().as_deref() != Some("2010-09-09") => {
                c.errors.push(e(
                    ErrorCode::Section,
                    "Template format error: Unsupported AWSTemplateFormatVersion; the only valid version is 2010-09-09",
                    v.pos,
                ));
            }
            "Description" => match v.as_str() {
                Some(d) if d.len() > MAX_DESCRIPTION_BYTES => c.errors.push(e(
                    ErrorCode::Section,
                    format!("Template format error: 'Description' length is greater than {MAX_DESCRIPTION_BYTES}."),
                    v.pos,
                )),
                Some(_) => {}
                None => c.errors.push(e(ErrorCode::Section, "Template format error: Description must be a string", v.pos)),
            },
            "Metadata" | "Mappings" | "Conditions" | "Outputs" | "Rules" | "Parameters" => must_be_map(&mut c),
            _ => {}
        }
    }

    c.counts(top, decls.len());
    c.mappings_section(top.get("Mappings").map(|e| &e.value));
    c.conditions_section();
    c.resources_section(top.get("Resources").map(|e| &e.value));
    c.outputs_section();
    c.rules_section(top.get("Rules").and_then(|e| e.value.as_map()));
    c.cycles();
    c.errors
}

/// Every resource each resource names (all `Fn::If` branches) plus its `DependsOn`.
pub(crate) fn static_dependencies(resources: &Map) -> HashMap<String, Vec<String>> {
    resources
        .iter()
        .map(|(id, entry)| {
            let mut refs = Vec::new();
            if let Some(m) = entry.value.as_map() {
                for (k, a) in m {
                    if matches!(
                        k.as_str(),
                        "Properties" | "Metadata" | "CreationPolicy" | "UpdatePolicy"
                    ) {
                        references(&a.value, &mut refs, &|_| None);
                    }
                }
            }
            let mut deps: Vec<String> = refs
                .into_iter()
                .filter(|r| r.kind != RefKind::Ref || resources.contains_key(&r.name))
                .map(|r| r.name)
                .filter(|n| resources.contains_key(n))
                .collect();
            deps.extend(
                depends_on(&entry.value)
                    .into_iter()
                    .filter(|d| resources.contains_key(d)),
            );
            deps.dedup();
            (id.clone(), deps)
        })
        .collect()
}

/// The names in a resource's `DependsOn`.
pub(crate) fn depends_on(resource: &Node) -> Vec<String> {
    match resource.get("DependsOn").map(|d| &d.kind) {
        Some(Kind::String(s)) => vec![s.clone()],
        Some(Kind::List(l)) => l
            .iter()
            .filter_map(Node::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids_are_alphanumeric_and_bounded() {
        assert!(valid_logical_id("Bucket1"));
        assert!(valid_logical_id(&"a".repeat(255)));
        assert!(!valid_logical_id(&"a".repeat(256)));
        assert!(!valid_logical_id(""));
        assert!(!valid_logical_id("my-bucket"));
        assert!(!valid_logical_id("café"));
        assert!(valid_condition_name("A&B"));
        assert!(valid_condition_name("is-prod"));
        assert!(!valid_condition_name(""));
        assert!(!valid_condition_name("a\nb"));
        assert!(!valid_condition_name(&"c".repeat(256)));
    }

    #[test]
    fn static_dependencies_include_every_branch_and_depends_on() {
        let (root, _) = crate::parse::parse_tree(
            "A: {Type: T, DependsOn: [B, Ghost], Properties: {P: !If [C, !Ref D, !GetAtt E.Arn], Q: !Sub '${F}'}}\nB: {Type: T}\nD: {Type: T}\nE: {Type: T}\nF: {Type: T}\n",
            &crate::parse::Limits::default(),
        )
        .unwrap();
        let deps = static_dependencies(root.as_map().unwrap());
        assert_eq!(deps["A"], ["D", "E", "F", "B"]);
        assert!(deps["B"].is_empty());
    }
}
