//! The steps of [`Template::bind`](super::Template::bind) after the parameters are
//! checked: `Rules`, conditions, and the plan of active resources (dependencies, levels,
//! policies). Never resolves property values: that happens later, lazily (`resolve`).

use super::*;

impl BoundTemplate {
    pub(super) fn check_rules(&self) -> Result<(), Errors> {
        let Some(rules) = self.section("Rules") else {
            return Ok(());
        };
        let mut ev = self.evaluator(None);
        ev.rules = true;
        let mut errors = Errors::new();
        for (name, entry) in rules {
            if let Some(c) = entry.value.get("RuleCondition") {
                match ev.boolean(c) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
            }
            for a in entry
                .value
                .get("Assertions")
                .and_then(Node::as_list)
                .unwrap_or_default()
            {
                let Some(assert) = a.get("Assert") else {
                    continue;
                };
                match ev.boolean(assert) {
                    Ok(true) => {}
                    Ok(false) => {
                        let msg = a
                            .get("AssertDescription")
                            .and_then(Node::scalar_text)
                            .unwrap_or_else(|| {
                                format!("Template error: rule {name} failed an assertion")
                            });
                        errors.push(TemplateError::at(ErrorCode::Rule, msg, assert.pos));
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub(super) fn evaluate_conditions(&mut self) -> Result<(), Errors> {
        let names: Vec<(String, Pos)> = self
            .section("Conditions")
            .map(|m| m.iter().map(|(k, e)| (k.clone(), e.key_pos)).collect())
            .unwrap_or_default();
        let mut errors = Errors::new();
        let mut results = HashMap::new();
        {
            let ev = self.evaluator(None);
            for (n, pos) in &names {
                match ev.condition(n, *pos) {
                    Ok(b) => {
                        results.insert(n.clone(), b);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        self.conditions = results;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub(super) fn plan_resources(&mut self) -> Result<(), Errors> {
        let mut errors = Errors::new();
        let root = Arc::clone(&self.root);
        let empty = Map::new();
        let all = root
            .get("Resources")
            .and_then(Node::as_map)
            .unwrap_or(&empty);
        let active: HashSet<String> = all
            .iter()
            .filter(|(_, e)| {
                e.value
                    .get("Condition")
                    .and_then(Node::as_str)
                    .is_none_or(|c| self.conditions.get(c).copied().unwrap_or(false))
            })
            .map(|(k, _)| k.clone())
            .collect();
        self.active = active;
        let mut planned = Vec::new();
        let mut deps_map = HashMap::new();
        let mut ids = Vec::new();
        for (id, entry) in all {
            if !self.active.contains(id) {
                continue;
            }
            let node = &entry.value;
            let mut refs = Vec::new();
            let conditions = &self.conditions;
            let branch = |c: &str| conditions.get(c).copied();
            for (k, a) in node.as_map().into_iter().flatten() {
                if matches!(
                    k.as_str(),
                    "Properties" | "Metadata" | "CreationPolicy" | "UpdatePolicy"
                ) {
                    references(&a.value, &mut refs, &branch);
                }
            }
            let mut deps: Vec<String> = Vec::new();
            let mut push = |name: &str, pos: Pos, errors: &mut Errors| {
                if !all.contains_key(name) {
                    return;
                }
                if !self.active.contains(name) {
                    errors.push(TemplateError::at(
                        ErrorCode::UnresolvedReference,
                        format!("Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template"),
                        pos,
                    ));
                } else if !deps.iter().any(|d| d == name) {
                    deps.push(name.to_string());
                }
            };
            for d in depends_on(node) {
                push(&d, entry.key_pos, &mut errors);
            }
            for r in refs {
                if r.kind == RefKind::Ref && self.params.values.contains_key(&r.name) {
                    continue;
                }
                push(&r.name, r.pos, &mut errors);
            }
            let ev = self.evaluator(None);
            let mut policy = |k: &str| -> Policy {
                let Some(n) = node.get(k) else {
                    return Policy::default();
                };
                match ev.string(n, k).map(|s| Policy::parse(&s)) {
                    Ok(Some(p)) => p,
                    Ok(None) => {
                        errors.push(TemplateError::at(
                            ErrorCode::Structure,
                            format!(
                                "Template format error: {k} must be one of {}",
                                POLICIES.join(", ")
                            ),
                            n.pos,
                        ));
                        Policy::default()
                    }
                    Err(e) => {
                        errors.push(e);
                        Policy::default()
                    }
                }
            };
            let deletion_policy = policy("DeletionPolicy");
            let update_replace_policy = policy("UpdateReplacePolicy");
            ids.push(id.clone());
            deps_map.insert(id.clone(), deps.clone());
            planned.push(ActiveResource {
                logical_id: id.clone(),
                resource_type: node
                    .get("Type")
                    .and_then(Node::as_str)
                    .unwrap_or_default()
                    .to_string(),
                depends_on: deps,
                deletion_policy,
                update_replace_policy,
                pos: entry.key_pos,
            });
        }
        for outputs in self.section("Outputs").into_iter() {
            for (key, e) in outputs {
                if !self.output_active(&e.value) {
                    continue;
                }
                let mut refs = Vec::new();
                let conditions = &self.conditions;
                references(&e.value, &mut refs, &|c: &str| conditions.get(c).copied());
                for r in refs {
                    if all.contains_key(&r.name)
                        && !self.active.contains(&r.name)
                        && !self.params.values.contains_key(&r.name)
                    {
                        errors.push(TemplateError::at(
                            ErrorCode::UnresolvedReference,
                            format!("Template format error: Unresolved resource dependencies [{}] in the Outputs block of the template (output {key})", r.name),
                            r.pos,
                        ));
                    }
                }
            }
        }
        self.levels = levels(&ids, &deps_map);
        self.resources = planned;
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub(super) fn output_active(&self, output: &Node) -> bool {
        output
            .get("Condition")
            .and_then(Node::as_str)
            .is_none_or(|c| self.conditions.get(c).copied().unwrap_or(false))
    }
}
