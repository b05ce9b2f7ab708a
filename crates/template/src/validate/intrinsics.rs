//! The walk over a section's values: which intrinsic functions may stand where, their
//! arity and argument shapes, what their names (`Ref`, `Fn::GetAtt`, conditions) refer
//! to, and the dependency cycles that follow. Never evaluates a function.

use super::*;

impl<'a> Checker<'a> {
    /// Walks a value, checking every intrinsic in it. In a condition position (the value of
    /// a condition, an argument of `Fn::And`/`Or`/`Not`) `{"Condition": name}` names a
    /// condition; elsewhere it is an ordinary map (IAM policies have `Condition` keys).
    pub(super) fn walk(&mut self, node: &'a Node, section: Section, condition_position: bool) {
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

    pub(super) fn arity(
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

    pub(super) fn intrinsic(&mut self, name: &str, arg: &'a Node, pos: Pos, section: Section) {
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
    pub(super) fn target(&mut self, t: &str, pos: Pos, section: Section) {
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

    pub(super) fn get_att_target(&mut self, r: &str, pos: Pos, section: Section) {
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

    pub(super) fn cycles(&mut self) {
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
