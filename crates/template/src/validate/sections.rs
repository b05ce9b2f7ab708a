//! The section checks of static validation: counts and limits, logical ids, `Mappings`,
//! `Conditions`, `Resources`, `Outputs` and `Rules`, each collecting every problem.
//! Never evaluates anything: values are looked at, not computed.

use super::*;

impl<'a> Checker<'a> {
    pub(super) fn counts(&mut self, top: &Map, params: usize) {
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

    pub(super) fn logical_id(&mut self, kind: &str, id: &str, pos: Pos) {
        if !valid_logical_id(id) {
            self.errors.push(e(
                ErrorCode::LogicalId,
                format!("Template format error: {kind} name {id} is non alphanumeric or longer than {MAX_LOGICAL_ID_LEN} characters."),
                pos,
            ));
        }
    }

    pub(super) fn mappings_section(&mut self, section: Option<&Node>) {
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

    pub(super) fn conditions_section(&mut self) {
        let Some(m) = self.conditions else { return };
        for (name, entry) in m {
            if !valid_condition_name(name) {
                self.errors.push(e(
                    ErrorCode::LogicalId,
                    format!("Template format error: Condition name {name} is empty, longer than {MAX_LOGICAL_ID_LEN} characters or holds control characters."),
                    entry.key_pos,
                ));
            }
            self.walk(&entry.value, Section::Conditions, true);
        }
    }

    pub(super) fn condition_defined(&mut self, name: &str, pos: Pos, section: Section) {
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

    pub(super) fn resources_section(&mut self, section: Option<&'a Node>) {
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

    pub(super) fn outputs_section(&mut self) {
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

    pub(super) fn rules_section(&mut self, rules: Option<&'a Map>) {
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
}
