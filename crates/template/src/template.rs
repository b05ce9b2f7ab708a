//! [`Template`]: a parsed template, its static validation, and binding to parameter values
//! into a [`BoundTemplate`], the object a stack engine provisions from.
//!
//! This file owns parsing, static validation and the start of binding (parameters,
//! `Fn::ForEach`); `bind` holds the binding steps after it (rules, conditions, the plan)
//! and `resolve` the lazy resolution of properties and outputs. No file here does I/O:
//! everything outside the template comes through an [`Environment`].

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

mod bind;
mod resolve;

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

    /// What the `AWS::SSM::Parameter::Value<...>` parameters resolved to, by name.
    pub fn resolved_parameters(&self) -> BTreeMap<String, String> {
        self.params.resolved.clone()
    }

    /// The template after `Fn::ForEach` expansion.
    pub fn processed_template(&self) -> &Node {
        &self.root
    }
}
