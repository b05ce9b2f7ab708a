//! [`Template`]: a parsed template, its static validation, and binding to parameter values
//! into a [`BoundTemplate`], the object a stack engine provisions from.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use crate::budget::{self, Budget};
use crate::env::{Environment, ResourceLookup, StackContext, parse_dynamic_reference};
use crate::error::{ErrorCode, Errors, TemplateError};
use crate::eval::{CondState, Evaluator, stringify};
use crate::graph::{RefKind, levels, references};
use crate::params::{self, BoundParameters, ParamKind, ParamValue, ParameterDecl};
use crate::parse::{Format, Limits, parse_tree};
use crate::tree::{Kind, Map, Node, Pos};
use crate::validate::{self, POLICIES, depends_on};

/// The only transform this engine runs.
pub const LANGUAGE_EXTENSIONS: &str = "AWS::LanguageExtensions";

/// A parsed template. Cheap to keep: validation and binding do not change it.
#[derive(Debug, Clone)]
pub struct Template {
    root: Arc<Node>,
    format: Format,
    transforms: Vec<(String, Pos)>,
    /// [`Limits::max_expanded_bytes`] it was parsed with: what expansion and evaluation
    /// may produce.
    max_expanded_bytes: usize,
}

/// `DeletionPolicy` / `UpdateReplacePolicy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Policy {
    #[default]
    Delete,
    Retain,
    RetainExceptOnCreate,
    Snapshot,
}

impl Policy {
    fn parse(s: &str) -> Option<Policy> {
        Some(match s {
            "Delete" => Policy::Delete,
            "Retain" => Policy::Retain,
            "RetainExceptOnCreate" => Policy::RetainExceptOnCreate,
            "Snapshot" => Policy::Snapshot,
            _ => return None,
        })
    }
}

/// One active resource of a bound template.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveResource {
    pub logical_id: String,
    pub resource_type: String,
    /// Active resources this one waits for: `DependsOn` plus every `Ref`, `Fn::GetAtt` and
    /// `Fn::Sub` variable naming a resource (only the taken `Fn::If` branches), in
    /// first-mention order.
    pub depends_on: Vec<String>,
    pub deletion_policy: Policy,
    pub update_replace_policy: Policy,
    /// Where the resource is declared.
    pub pos: Pos,
}

/// A stack output after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

impl Template {
    /// Parses with the default (S3-sized) limits.
    pub fn parse(body: &str) -> Result<Template, TemplateError> {
        Template::parse_with(body, &Limits::default())
    }

    /// Parses with explicit limits ([`Limits::inline`] for `TemplateBody`).
    pub fn parse_with(body: &str, limits: &Limits) -> Result<Template, TemplateError> {
        let (root, format) = parse_tree(body, limits)?;
        let transforms = match root.get("Transform") {
            None => Vec::new(),
            Some(t) => match &t.kind {
                Kind::List(l) => l
                    .iter()
                    .map(|n| {
                        (
                            n.scalar_text().unwrap_or_else(|| n.type_name().into()),
                            n.pos,
                        )
                    })
                    .collect(),
                _ => vec![(
                    t.scalar_text().unwrap_or_else(|| t.type_name().into()),
                    t.pos,
                )],
            },
        };
        Ok(Template {
            root: Arc::new(root),
            format,
            transforms,
            max_expanded_bytes: limits.max_expanded_bytes,
        })
    }

    pub fn root(&self) -> &Node {
        &self.root
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Transform names declared by the template.
    pub fn transforms(&self) -> Vec<&str> {
        self.transforms.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// Whether `Transform: AWS::LanguageExtensions` is declared.
    pub fn language_extensions(&self) -> bool {
        self.transforms
            .iter()
            .any(|(t, _)| t == LANGUAGE_EXTENSIONS)
    }

    /// Errors for every transform other than `AWS::LanguageExtensions`.
    pub fn unsupported_transforms(&self) -> Errors {
        self.transforms
            .iter()
            .filter(|(t, _)| t != LANGUAGE_EXTENSIONS)
            .map(|(t, p)| {
                TemplateError::at(
                    ErrorCode::Transform,
                    format!("Transform {t} is not supported: sagestack runs only {LANGUAGE_EXTENSIONS} (no SAM, macros or AWS::Include)"),
                    *p,
                )
            })
            .collect()
    }

    /// The declared parameters (malformed declarations are reported by [`Template::validate`]).
    pub fn parameters(&self) -> Vec<ParameterDecl> {
        params::declarations(self.root.get("Parameters"), &mut Errors::new())
    }

    /// Validates the template without parameter values, as `ValidateTemplate` does.
    /// `Fn::ForEach` collections are expanded with parameter defaults (a single
    /// placeholder item for a list parameter without one).
    pub fn validate(&self) -> Result<(), Errors> {
        let mut errors = self.unsupported_transforms();
        if !errors.is_empty() {
            return Err(errors);
        }
        let decls = params::declarations(self.root.get("Parameters"), &mut errors);
        let lenient = lenient_parameters(&decls);
        let ctx = StackContext::example();
        let env = crate::env::EmptyEnvironment;
        let expanded = self.expand(&lenient, &ctx, &env, true);
        match expanded {
            Ok(root) => {
                errors.extend(validate::validate(
                    &root,
                    &decls,
                    self.language_extensions(),
                ));
                errors.extend(budget::check_sub_expansion(&root, self.max_expanded_bytes));
            }
            Err(e) => errors.extend(e),
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn expand(
        &self,
        params: &BoundParameters,
        ctx: &StackContext,
        env: &dyn Environment,
        lenient: bool,
    ) -> Result<Arc<Node>, Errors> {
        // Only the language extensions change the tree; otherwise it is shared.
        if !self.language_extensions() {
            return Ok(Arc::clone(&self.root));
        }
        // The expanded template, not only what loops add, stays within the budget.
        let left = self
            .max_expanded_bytes
            .saturating_sub(budget::node_bytes(&self.root));
        let budget = Budget::new(left);
        let mut root = Node::clone(&self.root);
        let mut ev = Evaluator::new(params, ctx, env, self.max_expanded_bytes);
        ev.lang_ext = true;
        ev.mappings = self.root.get("Mappings").and_then(Node::as_map);
        crate::foreach::expand_sections(&mut root, &ev, &budget, lenient)?;
        Ok(Arc::new(root))
    }

    /// Binds parameter values: checks them, runs `Rules`, expands `Fn::ForEach`, validates,
    /// evaluates conditions, and computes the active resources with their dependencies and
    /// policies. Values that depend on resources stay unresolved until
    /// [`BoundTemplate::resolve_properties`] / [`BoundTemplate::resolve_outputs`].
    pub fn bind(
        &self,
        given: &BTreeMap<String, String>,
        ctx: &StackContext,
        env: Arc<dyn Environment>,
    ) -> Result<BoundTemplate, Errors> {
        let mut errors = self.unsupported_transforms();
        if !errors.is_empty() {
            return Err(errors);
        }
        let decls = params::declarations(self.root.get("Parameters"), &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let params = match params::bind(&decls, given, env.as_ref()) {
            Ok(p) => p,
            Err(mut e) => {
                // Report template problems too, so one run shows everything.
                if let Err(v) = self.validate() {
                    e.extend(v);
                }
                return Err(e);
            }
        };
        let root = self.expand(&params, ctx, env.as_ref(), false)?;
        let lang_ext = self.language_extensions();
        let mut errors = validate::validate(&root, &decls, lang_ext);
        errors.extend(budget::check_sub_expansion(&root, self.max_expanded_bytes));
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut bound = BoundTemplate {
            root,
            lang_ext,
            params,
            conditions: HashMap::new(),
            resources: Vec::new(),
            active: HashSet::new(),
            levels: Vec::new(),
            ctx: ctx.clone(),
            env,
            max_expanded_bytes: self.max_expanded_bytes,
        };
        bound.check_rules()?;
        bound.evaluate_conditions()?;
        bound.plan_resources()?;
        Ok(bound)
    }
}

/// Parameter values for static validation: defaults, or placeholders.
fn lenient_parameters(decls: &[ParameterDecl]) -> BoundParameters {
    let mut p = BoundParameters::default();
    for d in decls {
        let list = matches!(
            d.kind,
            ParamKind::CommaDelimitedList
                | ParamKind::NumberList
                | ParamKind::Aws { list: true }
                | ParamKind::SsmValue { list: true }
        );
        let raw = d.default.clone().unwrap_or_else(|| {
            if matches!(d.kind, ParamKind::Number | ParamKind::NumberList) {
                "0".into()
            } else {
                "Placeholder".into()
            }
        });
        let v = if list {
            ParamValue::List(params::split_list(&raw))
        } else {
            ParamValue::String(raw)
        };
        p.types.insert(d.name.clone(), d.param_type.clone());
        p.values.insert(d.name.clone(), v);
    }
    p
}

/// A template bound to parameter values: what a stack engine provisions from.
pub struct BoundTemplate {
    root: Arc<Node>,
    lang_ext: bool,
    params: BoundParameters,
    conditions: HashMap<String, bool>,
    resources: Vec<ActiveResource>,
    active: HashSet<String>,
    levels: Vec<Vec<String>>,
    ctx: StackContext,
    env: Arc<dyn Environment>,
    max_expanded_bytes: usize,
}

impl std::fmt::Debug for BoundTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundTemplate")
            .field("resources", &self.resources)
            .field("conditions", &self.conditions)
            .field("parameters", &self.params.displayed)
            .finish_non_exhaustive()
    }
}

impl BoundTemplate {
    fn section(&self, name: &str) -> Option<&Map> {
        self.root.get(name).and_then(Node::as_map)
    }

    fn evaluator<'a>(&'a self, lookup: Option<&'a dyn ResourceLookup>) -> Evaluator<'a> {
        let mut ev = Evaluator::new(
            &self.params,
            &self.ctx,
            self.env.as_ref(),
            self.max_expanded_bytes,
        );
        ev.lang_ext = self.lang_ext;
        ev.mappings = self.section("Mappings");
        ev.condition_defs = self.section("Conditions");
        ev.conditions = std::cell::RefCell::new(
            self.conditions
                .iter()
                .map(|(k, v)| (k.clone(), CondState::Done(*v)))
                .collect(),
        );
        ev.resources = self.section("Resources");
        ev.active = Some(&self.active);
        ev.lookup = lookup;
        ev
    }

    fn check_rules(&self) -> Result<(), Errors> {
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

    fn evaluate_conditions(&mut self) -> Result<(), Errors> {
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

    fn plan_resources(&mut self) -> Result<(), Errors> {
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

    fn output_active(&self, output: &Node) -> bool {
        output
            .get("Condition")
            .and_then(Node::as_str)
            .is_none_or(|c| self.conditions.get(c).copied().unwrap_or(false))
    }

    /// Active resources in template order.
    pub fn resources(&self) -> &[ActiveResource] {
        &self.resources
    }

    /// Active resources grouped into levels: each level depends only on earlier ones, so
    /// its members can be created in parallel (and deleted in reverse level order).
    pub fn levels(&self) -> &[Vec<String>] {
        &self.levels
    }

    /// The value of every condition.
    pub fn conditions(&self) -> &HashMap<String, bool> {
        &self.conditions
    }

    /// What `Ref` returns for each parameter (unmasked; for the engine, not for display).
    pub fn parameter_values(&self) -> &indexmap::IndexMap<String, ParamValue> {
        &self.params.values
    }

    /// Parameter values as they should be shown (`NoEcho` ones as `****`).
    pub fn displayed_parameters(&self) -> BTreeMap<String, String> {
        self.params.displayed.clone()
    }

    /// The template after `Fn::ForEach` expansion.
    pub fn processed_template(&self) -> &Node {
        &self.root
    }

    fn resource_node(&self, logical_id: &str) -> Result<&Node, TemplateError> {
        if !self.active.contains(logical_id) {
            return Err(TemplateError::new(
                ErrorCode::Resolve,
                format!("Resource {logical_id} is not an active resource of this template"),
                None,
            ));
        }
        self.section("Resources")
            .and_then(|r| r.get(logical_id))
            .map(|e| &e.value)
            .ok_or_else(|| {
                TemplateError::new(
                    ErrorCode::Resolve,
                    format!("Resource {logical_id} does not exist in the template"),
                    None,
                )
            })
    }

    /// The resolved `Properties` of `logical_id` (`{}` when it has none), reading other
    /// resources through `lookup`; `AWS::NoValue` members removed, dynamic references
    /// (`{{resolve:...}}`) replaced. Fails when a referenced resource is not ready yet.
    pub fn resolve_properties(
        &self,
        logical_id: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Value, TemplateError> {
        let node = self.resource_node(logical_id)?;
        let Some(props) = node.get("Properties") else {
            return Ok(Value::Object(Default::default()));
        };
        let ev = self.evaluator(Some(lookup));
        let mut v = ev
            .eval(props)?
            .unwrap_or_else(|| Value::Object(Default::default()));
        self.resolve_dynamic(&mut v, props.pos)?;
        Ok(v)
    }

    /// Another member of a resource (`Metadata`, `CreationPolicy`, `UpdatePolicy`), resolved.
    pub fn resolve_member(
        &self,
        logical_id: &str,
        member: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Option<Value>, TemplateError> {
        let node = self.resource_node(logical_id)?;
        let Some(m) = node.get(member) else {
            return Ok(None);
        };
        self.evaluator(Some(lookup)).eval(m)
    }

    /// Outputs whose condition is true, resolved.
    pub fn resolve_outputs(
        &self,
        lookup: &dyn ResourceLookup,
    ) -> Result<Vec<ResolvedOutput>, TemplateError> {
        let ev = self.evaluator(Some(lookup));
        let mut out = Vec::new();
        for (key, e) in self.section("Outputs").into_iter().flatten() {
            if !self.output_active(&e.value) {
                continue;
            }
            let Some(vnode) = e.value.get("Value") else {
                continue;
            };
            let Some(mut v) = ev.eval(vnode)? else {
                continue;
            };
            self.resolve_dynamic(&mut v, vnode.pos)?;
            let description = match e.value.get("Description") {
                Some(d) => Some(ev.string(d, "Output Description")?),
                None => None,
            };
            let export_name = match e.value.get("Export").and_then(|x| x.get("Name")) {
                Some(n) => Some(ev.string(n, "Export Name")?),
                None => None,
            };
            out.push(ResolvedOutput {
                key: key.clone(),
                value: output_text(&v),
                description,
                export_name,
            });
        }
        Ok(out)
    }

    /// Export names imported with `Fn::ImportValue` by active resources and outputs (names
    /// that depend on other resources are left out).
    pub fn imports(&self) -> Vec<String> {
        let ev = self.evaluator(None);
        let mut out = Vec::new();
        let mut visit = |n: &Node| collect_imports(n, &ev, &self.conditions, &mut out);
        for r in &self.resources {
            if let Ok(n) = self.resource_node(&r.logical_id) {
                visit(n);
            }
        }
        for (_, e) in self.section("Outputs").into_iter().flatten() {
            if self.output_active(&e.value) {
                visit(&e.value);
            }
        }
        out.sort();
        out.dedup();
        out
    }

    fn resolve_dynamic(&self, v: &mut Value, pos: Pos) -> Result<(), TemplateError> {
        match v {
            Value::String(s) if s.contains("{{resolve:") => {
                let mut out = String::with_capacity(s.len());
                let mut rest = s.as_str();
                while let Some(i) = rest.find("{{resolve:") {
                    out.push_str(&rest[..i]);
                    let after = &rest[i + "{{resolve:".len()..];
                    let Some(j) = after.find("}}") else {
                        out.push_str(&rest[i..]);
                        rest = "";
                        break;
                    };
                    let inner = &after[..j];
                    let r = parse_dynamic_reference(inner).ok_or_else(|| {
                        TemplateError::at(
                            ErrorCode::Resolve,
                            format!(
                                "Template error: invalid dynamic reference {{{{resolve:{inner}}}}}"
                            ),
                            pos,
                        )
                    })?;
                    let value = self.env.dynamic_reference(&r).ok_or_else(|| {
                        TemplateError::at(ErrorCode::Resolve, format!("Template error: dynamic reference {{{{resolve:{inner}}}}} could not be resolved"), pos)
                    })?;
                    out.push_str(&value);
                    rest = &after[j + 2..];
                }
                out.push_str(rest);
                *s = out;
                Ok(())
            }
            Value::Array(a) => a.iter_mut().try_for_each(|x| self.resolve_dynamic(x, pos)),
            Value::Object(o) => o
                .values_mut()
                .try_for_each(|x| self.resolve_dynamic(x, pos)),
            _ => Ok(()),
        }
    }
}

fn output_text(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| stringify(x).unwrap_or_else(|| x.to_string()))
            .collect::<Vec<_>>()
            .join(","),
        other => stringify(other).unwrap_or_else(|| other.to_string()),
    }
}

fn collect_imports(
    n: &Node,
    ev: &Evaluator<'_>,
    conditions: &HashMap<String, bool>,
    out: &mut Vec<String>,
) {
    match &n.kind {
        Kind::List(l) => l
            .iter()
            .for_each(|x| collect_imports(x, ev, conditions, out)),
        Kind::Map(m) => {
            match n.as_intrinsic() {
                Some(("Fn::ImportValue", arg)) => {
                    if let Ok(name) = ev.string(arg, "Fn::ImportValue name") {
                        out.push(name);
                    }
                    return;
                }
                Some(("Fn::If", arg)) => {
                    if let Some(l) = arg.as_list()
                        && l.len() == 3
                        && let Some(taken) = l[0].as_str().and_then(|c| conditions.get(c))
                    {
                        collect_imports(if *taken { &l[1] } else { &l[2] }, ev, conditions, out);
                        return;
                    }
                }
                _ => {}
            }
            m.values()
                .for_each(|e| collect_imports(&e.value, ev, conditions, out));
        }
        _ => {}
    }
}
