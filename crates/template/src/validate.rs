//! Static validation of a (ForEach-expanded) template: sections, logical ids, limits,
//! intrinsic functions and what they name, conditions, and dependency cycles. Every
//! problem is collected; nothing stops at the first.

use std::collections::{HashMap, HashSet};

use crate::error::{ErrorCode, Errors, TemplateError};
use crate::eval::{PSEUDO_PARAMETERS, SubPart, sub_parts};
use crate::graph::{RefKind, cycles, references};
use crate::params::ParameterDecl;
use crate::tree::{Kind, Map, Node, Pos};

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

impl<'a> Checker<'a> {
    fn counts(&mut self, top: &Map, params: usize) {
        for (section, max, n) in [
            (
                "Resources",
                MAX_RESOURCES,
                self.resources.map_or(0, Map::len),
            ),
            ("Parameters", MAX_PARAMETERS, params),
            (
                "Outputs",
                MAX_OUTPUTS,
                top.get("Outputs")
                    .and_then(|e| e.value.as_map())
                    .map_or(0, Map::len),
            ),
            ("Mappings", MAX_MAPPINGS, self.mappings.map_or(0, Map::len)),
        ] {
            if n > max {
                let singular = section.trim_end_matches('s').to_lowercase();
                self.errors.push(e(
                    ErrorCode::Limit,
                    format!("Template format error: Number of {singular}s, {n}, is greater than maximum allowed, {max}"),
                    top[section].key_pos,
                ));
            }
        }
    }

    fn logical_id(&mut self, kind: &str, id: &str, pos: Pos) {
        if !valid_logical_id(id) {
            self.errors.push(e(
                ErrorCode::LogicalId,
                format!("Template format error: {kind} name {id} is non alphanumeric or longer than {MAX_LOGICAL_ID_LEN} characters."),
                pos,
            ));
        }
    }

    fn mappings_section(&mut self, section: Option<&Node>) {
        let Some(m) = section.and_then(Node::as_map) else {
            return;
        };
        for (name, entry) in m {
            match entry.value.as_map() {
                Some(top) => {
                    for (k, second) in top {
                        if second.value.as_map().is_none() {
                            self.errors.push(e(
                                ErrorCode::Section,
                                format!("Template format error: Every Mappings attribute must be a map; {name}.{k} is not"),
                                second.key_pos,
                            ));
                        }
                    }
                }
                None => self.errors.push(e(
                    ErrorCode::Section,
                    format!("Template format error: Every Mappings member {name} must be a map"),
                    entry.key_pos,
                )),
            }
        }
    }

    fn conditions_section(&mut self) {
        let Some(m) = self.conditions else { return };
        for (name, entry) in m {
            self.logical_id("Condition", name, entry.key_pos);
            self.walk(&entry.value, Section::Conditions, true);
        }
    }

    fn condition_defined(&mut self, name: &str, pos: Pos, section: Section) {
        if !self.conditions.is_some_and(|c| c.contains_key(name)) {
            let message = match section {
                Section::Conditions => format!(
                    "Template format error: Unresolved condition dependencies [{name}] in the Conditions block of the template"
                ),
                s => format!(
                    "Template format error: Unresolved condition dependency {name} in the {} block of the template",
                    s.name()
                ),
            };
            self.errors.push(e(ErrorCode::Condition, message, pos));
        }
    }

    fn resources_section(&mut self, section: Option<&'a Node>) {
        let Some(section) = section else {
            self.errors.push(TemplateError::new(
                ErrorCode::Section,
                "Template format error: At least one Resources member must be defined.",
                Some(Pos::new(1, 1)),
            ));
            return;
        };
        let Some(m) = section.as_map().filter(|m| !m.is_empty()) else {
            self.errors.push(e(
                ErrorCode::Section,
                "Template format error: At least one Resources member must be defined.",
                section.pos,
            ));
            return;
        };
        for (id, entry) in m {
            self.logical_id("Resource", id, entry.key_pos);
            if self.params.contains(id.as_str()) {
                // `Ref` names parameters and resources alike, so they share one namespace.
                self.errors.push(e(
                    ErrorCode::LogicalId,
                    format!("Template format error: logical ID {id} is used by both a parameter and a resource"),
                    entry.key_pos,
                ));
            }
            let Some(r) = entry.value.as_map() else {
                self.errors.push(e(
                    ErrorCode::Structure,
                    format!("Template format error: [/Resources/{id}] Every Resources object must be an object"),
                    entry.key_pos,
                ));
                continue;
            };
            match r.get("Type").map(|t| &t.value) {
                Some(t) if t.as_str().is_some_and(|s| !s.is_empty()) => {}
                Some(t) => self.errors.push(e(ErrorCode::Structure, format!("Template format error: [/Resources/{id}/Type] must be a string"), t.pos)),
                None => self.errors.push(e(
                    ErrorCode::Structure,
                    format!("Template format error: [/Resources/{id}] Every Resources object must contain a Type member."),
                    entry.key_pos,
                )),
            }
            for (k, a) in r {
                let v = &a.value;
                match k.as_str() {
                    "Type" | "Version" | "Description" => {}
                    "Properties" | "Metadata" | "CreationPolicy" | "UpdatePolicy" => {
                        if k == "Properties" && v.as_map().is_none() && v.as_intrinsic().is_none() {
                            self.errors.push(e(ErrorCode::Structure, format!("Template format error: [/Resources/{id}/Properties] must be an object"), v.pos));
                        }
                        self.walk(v, Section::Resources, false);
                    }
                    "Condition" => match v.as_str() {
                        Some(c) => self.condition_defined(c, v.pos, Section::Resources),
                        None => self.errors.push(e(
                            ErrorCode::Condition,
                            "Template format error: Every Condition member must be a string.",
                            v.pos,
                        )),
                    },
                    "DependsOn" => {
                        let names: Vec<&Node> = match &v.kind {
                            Kind::String(_) => vec![v],
                            Kind::List(l) => l.iter().collect(),
                            _ => {
                                self.errors.push(e(ErrorCode::Structure, "Template format error: DependsOn must be a string or a list of strings", v.pos));
                                Vec::new()
                            }
                        };
                        for n in names {
                            match n.as_str() {
                                Some(d) if self.resources.is_some_and(|rs| rs.contains_key(d)) => {}
                                Some(d) => self.errors.push(e(
                                    ErrorCode::UnresolvedReference,
                                    format!("Template format error: Unresolved resource dependencies [{d}] in the Resources block of the template"),
                                    n.pos,
                                )),
                                None => self.errors.push(e(ErrorCode::Structure, "Template format error: DependsOn must be a string or a list of strings", n.pos)),
                            }
                        }
                    }
                    "DeletionPolicy" | "UpdateReplacePolicy" => match v.as_str() {
                        Some(p) if POLICIES.contains(&p) => {}
                        // Intrinsics (Ref, Fn::If, Fn::FindInMap) are evaluated at binding.
                        _ if v.as_intrinsic().is_some() => self.walk(v, Section::Resources, false),
                        _ => self.errors.push(e(
                            ErrorCode::Structure,
                            format!(
                                "Template format error: Unrecognized {k} {} for resource {id}",
                                v.scalar_text().unwrap_or_else(|| v.type_name().into())
                            ),
                            v.pos,
                        )),
                    },
                    _ => self.errors.push(e(
                        ErrorCode::Structure,
                        format!("Invalid template resource property '{k}'"),
                        a.key_pos,
                    )),
                }
            }
        }
    }

    fn outputs_section(&mut self) {
        let Some(m) = self.outputs else { return };
        for (id, entry) in m {
            self.logical_id("Output", id, entry.key_pos);
            let Some(o) = entry.value.as_map() else {
                self.errors.push(e(
                    ErrorCode::Structure,
                    format!("Template format error: Output {id} must be an object"),
                    entry.key_pos,
                ));
                continue;
            };
            if !o.contains_key("Value") {
                self.errors.push(e(
                    ErrorCode::Structure,
                    "Template format error: Every Outputs member must contain a Value object",
                    entry.key_pos,
                ));
            }
            for (k, a) in o {
                match k.as_str() {
                    "Value" | "Description" => self.walk(&a.value, Section::Outputs, false),
                    "Export" => match a.value.get("Name") {
                        Some(n) => self.walk(n, Section::Outputs, false),
                        None => self.errors.push(e(
                            ErrorCode::Structure,
                            format!(
                                "Template format error: Output {id} Export must contain a Name"
                            ),
                            a.value.pos,
                        )),
                    },
                    "Condition" => match a.value.as_str() {
                        Some(c) => self.condition_defined(c, a.value.pos, Section::Outputs),
                        None => self.errors.push(e(
                            ErrorCode::Condition,
                            "Template format error: Every Condition member must be a string.",
                            a.value.pos,
                        )),
                    },
                    _ if OUTPUT_ATTRIBUTES.contains(&k.as_str()) => {}
                    _ => self.errors.push(e(
                        ErrorCode::Structure,
                        format!("Invalid template output property '{k}'"),
                        a.key_pos,
                    )),
                }
            }
        }
    }

    fn rules_section(&mut self, rules: Option<&'a Map>) {
        let Some(rules) = rules else { return };
        for (name, entry) in rules {
            self.logical_id("Rule", name, entry.key_pos);
            let Some(r) = entry.value.as_map() else {
                self.errors.push(e(
                    ErrorCode::Rule,
                    format!("Template format error: Rule {name} must be an object"),
                    entry.key_pos,
                ));
                continue;
            };
            if let Some(c) = r.get("RuleCondition") {
                self.walk(&c.value, Section::Rules, false);
            }
            match r.get("Assertions").map(|a| &a.value) {
                Some(Node {
                    kind: Kind::List(l),
                    ..
                }) => {
                    for a in l {
                        match a.get("Assert") {
                            Some(x) => self.walk(x, Section::Rules, false),
                            None => self.errors.push(e(ErrorCode::Rule, format!("Template format error: every assertion of rule {name} must contain an Assert"), a.pos)),
                        }
                    }
                }
                Some(other) => self.errors.push(e(
                    ErrorCode::Rule,
                    format!("Template format error: Assertions of rule {name} must be a list"),
                    other.pos,
                )),
                None => self.errors.push(e(
                    ErrorCode::Rule,
                    format!("Template format error: Rule {name} must contain Assertions"),
                    entry.key_pos,
                )),
            }
        }
    }

    /// Walks a value, checking every intrinsic in it. In a condition position (the value of
    /// a condition, an argument of `Fn::And`/`Or`/`Not`) `{"Condition": name}` names a
    /// condition; elsewhere it is an ordinary map (IAM policies have `Condition` keys).
    fn walk(&mut self, node: &'a Node, section: Section, condition_position: bool) {
        match &node.kind {
            Kind::List(l) => l.iter().for_each(|n| self.walk(n, section, false)),
            Kind::Map(m) => {
                if let Some((name, arg)) = node.as_intrinsic() {
                    if name != "Condition" {
                        self.intrinsic(name, arg, node.pos, section);
                        return;
                    }
                    if condition_position {
                        match arg.as_str() {
                            Some(c) => self.condition_defined(c, arg.pos, section),
                            None => self.errors.push(e(
                                ErrorCode::Condition,
                                "Template format error: Every Condition member must be a string.",
                                arg.pos,
                            )),
                        }
                        return;
                    }
                }
                m.values().for_each(|e| self.walk(&e.value, section, false));
            }
            _ => {}
        }
    }

    fn arity(
        &mut self,
        name: &str,
        arg: &'a Node,
        min: usize,
        max: usize,
        pos: Pos,
    ) -> Option<&'a [Node]> {
        match arg.as_list() {
            Some(l) if l.len() >= min && l.len() <= max => Some(l),
            _ if arg.as_intrinsic().is_some() && name != "Fn::If" => None,
            _ => {
                let n = if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                };
                self.errors.push(e(
                    ErrorCode::Intrinsic,
                    format!("Template error: {name} requires a list of {n} arguments"),
                    pos,
                ));
                None
            }
        }
    }

    fn intrinsic(&mut self, name: &str, arg: &'a Node, pos: Pos, section: Section) {
        let known = FUNCTIONS.contains(&name)
            || (self.lang_ext && LANGUAGE_EXTENSION_FUNCTIONS.contains(&name))
            || (section == Section::Rules && RULE_FUNCTIONS.contains(&name));
        if !known {
            let hint = if LANGUAGE_EXTENSION_FUNCTIONS.contains(&name)
                || name == "Fn::ForEach"
                || name.starts_with(crate::foreach::PREFIX)
            {
                " (it needs Transform: AWS::LanguageExtensions)"
            } else {
                ""
            };
            self.errors.push(e(
                ErrorCode::Intrinsic,
                format!("Template format error: Encountered unsupported function: {name}{hint}"),
                pos,
            ));
            return;
        }
        match name {
            "Ref" => match arg.as_str() {
                Some(t) => self.target(t, pos, section),
                None => self.errors.push(e(
                    ErrorCode::Intrinsic,
                    "Template format error: Every Ref object must have a single String value.",
                    pos,
                )),
            },
            "Fn::GetAtt" => {
                let res = match &arg.kind {
                    Kind::String(s) => match s.split_once('.') {
                        Some((r, _)) => Some(r),
                        None => {
                            self.errors.push(e(ErrorCode::Intrinsic, "Template error: Fn::GetAtt requires a list [Resource, Attribute] or Resource.Attribute", pos));
                            None
                        }
                    },
                    _ => {
                        match self.arity(name, arg, 2, 2, pos) {
                            Some(l) => {
                                self.walk(&l[1], section, false);
                                match l[0].as_str() {
                                    Some(r) => Some(r),
                                    None => {
                                        self.errors.push(e(ErrorCode::Intrinsic, "Template error: Fn::GetAtt resource name must be a string", l[0].pos));
                                        None
                                    }
                                }
                            }
                            None => None,
                        }
                    }
                };
                if let Some(r) = res {
                    self.get_att_target(r, pos, section);
                }
            }
            "Fn::Sub" => {
                let (text, vars) = match &arg.kind {
                    Kind::String(s) => (Some(s.as_str()), None),
                    _ => match self.arity(name, arg, 2, 2, pos) {
                        Some(l) => {
                            if l[1].as_map().is_none() && l[1].as_intrinsic().is_none() {
                                self.errors.push(e(
                                    ErrorCode::Intrinsic,
                                    "Template error: Fn::Sub variables must be an object",
                                    l[1].pos,
                                ));
                            }
                            (l[0].as_str(), l[1].as_map())
                        }
                        None => (None, None),
                    },
                };
                if let Some(vars) = vars {
                    vars.values()
                        .for_each(|v| self.walk(&v.value, section, false));
                }
                for p in sub_parts(text.unwrap_or_default()) {
                    if let SubPart::Var(v) = p {
                        if vars.is_some_and(|m| m.contains_key(&v)) {
                            continue;
                        }
                        match v.split_once('.') {
                            Some((r, _)) if !v.starts_with("AWS::") => {
                                self.get_att_target(r, pos, section)
                            }
                            _ => self.target(&v, pos, section),
                        }
                    }
                }
            }
            "Fn::If" => {
                if let Some(l) = self.arity(name, arg, 3, 3, pos) {
                    match l[0].as_str() {
                        Some(c) => self.condition_defined(c, l[0].pos, section),
                        None => self.errors.push(e(
                            ErrorCode::Condition,
                            "Template error: Fn::If condition name must be a string",
                            l[0].pos,
                        )),
                    }
                    self.walk(&l[1], section, false);
                    self.walk(&l[2], section, false);
                }
            }
            "Fn::And" | "Fn::Or" => {
                if let Some(l) = self.arity(name, arg, 2, 10, pos) {
                    l.iter().for_each(|n| self.walk(n, section, true));
                }
            }
            "Fn::Not" => {
                if let Some(l) = self.arity(name, arg, 1, 1, pos) {
                    self.walk(&l[0], section, true);
                }
            }
            "Fn::FindInMap" => {
                let max = if self.lang_ext { 4 } else { 3 };
                if let Some(l) = self.arity(name, arg, 3, max, pos) {
                    if let Some(m) = l[0].as_str()
                        && !self.mappings.is_some_and(|ms| ms.contains_key(m))
                        && l.get(3).and_then(|o| o.get("DefaultValue")).is_none()
                    {
                        self.errors.push(e(
                            ErrorCode::UnresolvedReference,
                            format!("Template error: Mapping named '{m}' is not present in the 'Mappings' section of template."),
                            l[0].pos,
                        ));
                    }
                    l.iter().for_each(|n| self.walk(n, section, false));
                }
            }
            "Fn::Transform" => self.errors.push(e(
                ErrorCode::Transform,
                "Template format error: Fn::Transform (macros) is not supported by this engine",
                pos,
            )),
            "Fn::Equals" | "Fn::Join" | "Fn::Select" | "Fn::Split" => {
                if let Some(l) = self.arity(name, arg, 2, 2, pos) {
                    l.iter().for_each(|n| self.walk(n, section, false));
                }
            }
            "Fn::Cidr" => {
                if let Some(l) = self.arity(name, arg, 3, 3, pos) {
                    l.iter().for_each(|n| self.walk(n, section, false));
                }
            }
            _ => self.walk(arg, section, false),
        }
    }

    /// `Ref` (or a `Fn::Sub` variable) naming `t`.
    fn target(&mut self, t: &str, pos: Pos, section: Section) {
        if PSEUDO_PARAMETERS.contains(&t) || self.params.contains(t) {
            return;
        }
        if self.resources.is_some_and(|r| r.contains_key(t)) {
            if matches!(section, Section::Conditions | Section::Rules) {
                self.errors.push(e(
                    ErrorCode::UnresolvedReference,
                    format!("Template format error: Unresolved dependencies [{t}]. Cannot reference resources in the {} block of the template", section.name()),
                    pos,
                ));
            }
            return;
        }
        self.errors.push(e(
            ErrorCode::UnresolvedReference,
            format!("Template format error: Unresolved resource dependencies [{t}] in the {} block of the template", section.name()),
            pos,
        ));
    }

    fn get_att_target(&mut self, r: &str, pos: Pos, section: Section) {
        if !self.resources.is_some_and(|rs| rs.contains_key(r)) {
            self.errors.push(e(
                ErrorCode::UnresolvedReference,
                format!("Template error: instance of Fn::GetAtt references undefined resource {r}"),
                pos,
            ));
        } else if matches!(section, Section::Conditions | Section::Rules) {
            self.errors.push(e(
                ErrorCode::UnresolvedReference,
                format!("Template format error: Unresolved dependencies [{r}]. Cannot reference resources in the {} block of the template", section.name()),
                pos,
            ));
        }
    }

    fn cycles(&mut self) {
        let Some(resources) = self.resources else {
            return;
        };
        if resources.len() > MAX_RESOURCES * 4 {
            return;
        }
        let ids: Vec<String> = resources.keys().cloned().collect();
        let deps = static_dependencies(resources);
        for cycle in cycles(&ids, &deps) {
            self.errors.push(e(
                ErrorCode::Cycle,
                format!(
                    "Circular dependency between resources: [{}]",
                    cycle.join(", ")
                ),
                resources[&cycle[0]].key_pos,
            ));
        }
    }
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
