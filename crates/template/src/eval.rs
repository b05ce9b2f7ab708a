//! Evaluation of intrinsic functions into plain JSON.
//!
//! One evaluator serves every context (conditions, rules, `Fn::ForEach` collections,
//! policies, properties and outputs); what it may read is decided by what the caller puts
//! in it: without a [`ResourceLookup`] a resource reference is an error, without rule mode
//! the rule-only functions are unknown. `None` results stand for `AWS::NoValue`, which the
//! containing map or list drops.
//!
//! Hostile templates are bounded two ways: every value built is first charged to the
//! evaluation's byte [`Budget`] (see [`crate::budget`]), and nested evaluation (a value
//! inside a value, a condition naming a condition) stops at [`MAX_EVAL_DEPTH`] before it
//! can exhaust the thread's stack.
//!
//! This file holds the [`Evaluator`] (references, conditions, conversions); `functions`
//! the intrinsic functions, `rules` the rule-only assertions, `sub` the `Fn::Sub` parser.

mod functions;
mod rules;
mod sub;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use serde_json::Value;

pub use functions::base64;
pub use sub::{SubPart, sub_parts};

use crate::budget::{Budget, node_bytes, value_bytes};
use crate::cidr::cidr;
use crate::env::{Environment, ResourceLookup, StackContext, StackOutputRef};
use crate::error::{ErrorCode, TemplateError};
use crate::params::BoundParameters;
use crate::tree::{Kind, Map, Node, Pos};

type R<T> = Result<T, TemplateError>;

pub(crate) fn err(pos: Pos, msg: impl Into<String>) -> TemplateError {
    TemplateError::at(ErrorCode::Resolve, msg, pos)
}

/// Pseudo parameter names.
pub const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::AccountId",
    "AWS::NotificationARNs",
    "AWS::NoValue",
    "AWS::Partition",
    "AWS::Region",
    "AWS::StackId",
    "AWS::StackName",
    "AWS::URLSuffix",
];

/// The state of a named condition during evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CondState {
    InProgress,
    Done(bool),
}

pub(crate) struct Evaluator<'a> {
    pub params: &'a BoundParameters,
    pub ctx: &'a StackContext,
    pub env: &'a dyn Environment,
    pub mappings: Option<&'a Map>,
    pub condition_defs: Option<&'a Map>,
    pub conditions: RefCell<HashMap<String, CondState>>,
    /// Every resource of the template, and which of them are active.
    pub resources: Option<&'a Map>,
    pub active: Option<&'a HashSet<String>>,
    pub lookup: Option<&'a dyn ResourceLookup>,
    pub lang_ext: bool,
    pub rules: bool,
    /// How many named conditions are being evaluated inside each other.
    pub condition_depth: Cell<usize>,
    /// What this evaluation may still build.
    pub budget: Budget,
    /// How many [`Evaluator::eval`] calls are running inside each other.
    depth: Cell<usize>,
}

/// Deepest nesting of evaluations: a template is at most 128 levels deep, but conditions
/// that name conditions evaluate one tree inside another.
pub const MAX_EVAL_DEPTH: usize = 512;

/// Stack a thread needs to run template work at every depth limit: one level of
/// evaluation takes about 21 KB of stack in a debug build (the intrinsic dispatch holds
/// every function's locals), so [`MAX_EVAL_DEPTH`] levels need about 11 MB; a tokio
/// worker has 2 MiB. Template work runs on threads with this much (release builds use a
/// fraction of it, and untouched stack costs no memory).
pub const MIN_STACK_BYTES: usize = 32 << 20;

/// Deepest chain of conditions naming conditions (each level recurses).
pub const MAX_CONDITION_DEPTH: usize = 64;

/// A JSON value as the string intrinsics see it.
pub(crate) fn stringify(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl<'a> Evaluator<'a> {
    /// An evaluator that may build `max_bytes` of values (as JSON text).
    pub fn new(
        params: &'a BoundParameters,
        ctx: &'a StackContext,
        env: &'a dyn Environment,
        max_bytes: usize,
    ) -> Self {
        Evaluator {
            params,
            ctx,
            env,
            mappings: None,
            condition_defs: None,
            conditions: RefCell::new(HashMap::new()),
            resources: None,
            active: None,
            lookup: None,
            lang_ext: false,
            rules: false,
            condition_depth: Cell::new(0),
            budget: Budget::new(max_bytes),
            depth: Cell::new(0),
        }
    }

    /// Evaluates a node; `None` is `AWS::NoValue`.
    pub fn eval(&self, node: &Node) -> R<Option<Value>> {
        let depth = self.depth.get();
        if depth >= MAX_EVAL_DEPTH {
            return Err(TemplateError::at(
                ErrorCode::Limit,
                format!(
                    "Template error: values nest deeper than {MAX_EVAL_DEPTH} levels when evaluated"
                ),
                node.pos,
            ));
        }
        self.depth.set(depth + 1);
        let v = self.eval_unguarded(node);
        self.depth.set(depth);
        v
    }

    fn eval_unguarded(&self, node: &Node) -> R<Option<Value>> {
        let charge = |bytes: usize| self.budget.charge(bytes, node.pos, "a value");
        match &node.kind {
            Kind::Map(m) => {
                if let Some((name, arg)) = node.as_intrinsic()
                    && name != "Condition"
                {
                    return self.call(name, arg, node.pos);
                }
                charge(2 + m.len())?;
                let mut out = serde_json::Map::with_capacity(m.len());
                for (k, e) in m {
                    if let Some(v) = self.eval(&e.value)? {
                        charge(k.len() + 3)?;
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Object(out)))
            }
            Kind::List(l) => {
                charge(2 + l.len())?;
                let mut out = Vec::with_capacity(l.len());
                for n in l {
                    if let Some(v) = self.eval(n)? {
                        out.push(v);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            _ => {
                charge(node_bytes(node))?;
                Ok(Some(node.to_json()))
            }
        }
    }

    /// Charges a value read from outside the template (a parameter, a resource attribute,
    /// an export), which may be repeated anywhere.
    fn charged(&self, v: Value, pos: Pos, what: &str) -> R<Value> {
        self.budget.charge(value_bytes(&v), pos, what)?;
        Ok(v)
    }

    /// Evaluates a node that must produce a value (not `AWS::NoValue`).
    pub fn value(&self, node: &Node) -> R<Value> {
        self.eval(node)?
            .ok_or_else(|| err(node.pos, "AWS::NoValue cannot be used here"))
    }

    pub fn string(&self, node: &Node, what: &str) -> R<String> {
        let v = self.value(node)?;
        stringify(&v)
            .ok_or_else(|| err(node.pos, format!("Template error: {what} must be a string")))
    }

    fn list(&self, node: &Node, what: &str) -> R<Vec<Value>> {
        match self.value(node)? {
            Value::Array(a) => Ok(a),
            _ => Err(err(
                node.pos,
                format!("Template error: {what} must be a list"),
            )),
        }
    }

    fn args<'n>(
        &self,
        arg: &'n Node,
        name: &str,
        min: usize,
        max: usize,
        pos: Pos,
    ) -> R<&'n [Node]> {
        match arg.as_list() {
            Some(l) if l.len() >= min && l.len() <= max => Ok(l),
            _ => Err(TemplateError::at(
                ErrorCode::Intrinsic,
                if min == max {
                    format!("Template error: {name} requires a list of {min} arguments")
                } else {
                    format!("Template error: {name} requires a list of {min} to {max} arguments")
                },
                pos,
            )),
        }
    }

    /// A named condition, evaluated once and remembered.
    pub fn condition(&self, name: &str, pos: Pos) -> R<bool> {
        if let Some(s) = self.conditions.borrow().get(name) {
            return match s {
                CondState::Done(b) => Ok(*b),
                CondState::InProgress => Err(TemplateError::at(
                    ErrorCode::Condition,
                    format!("Template error: circular condition dependency involving {name}"),
                    pos,
                )),
            };
        }
        let def = self
            .condition_defs
            .and_then(|d| d.get(name))
            .ok_or_else(|| {
                TemplateError::at(
                    ErrorCode::Condition,
                    format!("Template error: unresolved condition dependency {name}"),
                    pos,
                )
            })?;
        if self.condition_depth.get() >= MAX_CONDITION_DEPTH {
            return Err(TemplateError::at(
                ErrorCode::Limit,
                format!(
                    "Template error: conditions nest deeper than {MAX_CONDITION_DEPTH} levels at {name}"
                ),
                pos,
            ));
        }
        self.conditions
            .borrow_mut()
            .insert(name.to_string(), CondState::InProgress);
        self.condition_depth.set(self.condition_depth.get() + 1);
        let b = self.boolean(&def.value);
        self.condition_depth.set(self.condition_depth.get() - 1);
        match b {
            Ok(b) => {
                self.conditions
                    .borrow_mut()
                    .insert(name.to_string(), CondState::Done(b));
                Ok(b)
            }
            Err(e) => {
                self.conditions.borrow_mut().remove(name);
                Err(e)
            }
        }
    }

    /// A condition expression: `{"Condition": name}`, a condition function, or a boolean.
    pub fn boolean(&self, node: &Node) -> R<bool> {
        if let Some(("Condition", arg)) = node.as_intrinsic() {
            let name = arg.as_str().ok_or_else(|| {
                TemplateError::at(
                    ErrorCode::Condition,
                    "Template error: Condition must be a string",
                    arg.pos,
                )
            })?;
            return self.condition(name, node.pos);
        }
        match self.value(node)? {
            Value::Bool(b) => Ok(b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(TemplateError::at(
                ErrorCode::Condition,
                "Template error: a condition must evaluate to a boolean",
                node.pos,
            )),
        }
    }

    fn pseudo(&self, name: &str) -> Option<Option<Value>> {
        let c = self.ctx;
        Some(Some(match name {
            "AWS::AccountId" => Value::String(c.account_id.clone()),
            "AWS::Region" => Value::String(c.region.clone()),
            "AWS::StackName" => Value::String(c.stack_name.clone()),
            "AWS::StackId" => Value::String(c.stack_id.clone()),
            "AWS::Partition" => Value::String(c.partition().into()),
            "AWS::URLSuffix" => Value::String(c.url_suffix().into()),
            "AWS::NotificationARNs" => Value::Array(
                c.notification_arns
                    .iter()
                    .cloned()
                    .map(Value::String)
                    .collect(),
            ),
            "AWS::NoValue" => return Some(None),
            _ => return None,
        }))
    }

    fn check_resource(&self, name: &str, pos: Pos) -> R<&'a dyn ResourceLookup> {
        let known = self.resources.is_some_and(|r| r.contains_key(name));
        if !known {
            return Err(TemplateError::at(
                ErrorCode::UnresolvedReference,
                format!(
                    "Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template"
                ),
                pos,
            ));
        }
        if self.active.is_some_and(|a| !a.contains(name)) {
            return Err(TemplateError::at(
                ErrorCode::UnresolvedReference,
                format!(
                    "Template format error: Unresolved resource dependencies [{name}] in the Resources block of the template (its Condition is false)"
                ),
                pos,
            ));
        }
        self.lookup.ok_or_else(|| {
            err(
                pos,
                format!("Template error: resource {name} cannot be referenced here"),
            )
        })
    }

    pub fn reference(&self, name: &str, pos: Pos) -> R<Option<Value>> {
        if let Some(v) = self.pseudo(name) {
            return v.map(|v| self.charged(v, pos, "Ref")).transpose();
        }
        if let Some(v) = self.params.values.get(name) {
            return self.charged(v.to_json(), pos, "Ref").map(Some);
        }
        let lookup = self.check_resource(name, pos)?;
        lookup
            .physical_id(name)
            .map(|id| self.charged(Value::String(id), pos, "Ref").map(Some))
            .transpose()?
            .ok_or_else(|| {
                err(
                    pos,
                    format!(
                        "Template error: resource {name} does not exist yet, Ref cannot be resolved"
                    ),
                )
            })
    }

    pub fn get_att(&self, res: &str, attr: &str, pos: Pos) -> R<Value> {
        if !self.resources.is_some_and(|r| r.contains_key(res)) {
            return Err(TemplateError::at(
                ErrorCode::UnresolvedReference,
                format!(
                    "Template error: instance of Fn::GetAtt references undefined resource {res}"
                ),
                pos,
            ));
        }
        let lookup = self.check_resource(res, pos)?;
        let v = lookup.attribute(res, attr).ok_or_else(|| {
            err(
                pos,
                format!("Template error: attribute {attr} of resource {res} is not available"),
            )
        })?;
        self.charged(v, pos, "Fn::GetAtt")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn sub_parts_handle_literals_and_attributes() {
        assert_eq!(
            sub_parts("a-${X}-${!Lit}-${R.Arn}${ Y }-${open"),
            vec![
                SubPart::Literal("a-".into()),
                SubPart::Var("X".into()),
                SubPart::Literal("-${Lit}-".into()),
                SubPart::Var("R.Arn".into()),
                SubPart::Var("Y".into()),
                SubPart::Literal("-${open".into()),
            ]
        );
    }
}
