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

mod rules;
mod sub;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use serde_json::Value;

pub use sub::{SubPart, sub_parts};

use crate::budget::{Budget, node_bytes, value_bytes};
use crate::cidr::cidr;
use crate::env::{Environment, ResourceLookup, StackContext};
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

    fn call(&self, name: &str, arg: &Node, pos: Pos) -> R<Option<Value>> {
        let s = |v: String| Ok(Some(Value::String(v)));
        match name {
            "Ref" => {
                let target = arg.as_str().ok_or_else(|| {
                    TemplateError::at(
                        ErrorCode::Intrinsic,
                        "Template error: Ref must be a string",
                        arg.pos,
                    )
                })?;
                self.reference(target, pos)
            }
            "Fn::GetAtt" => {
                let (res, attr) = match &arg.kind {
                    Kind::String(t) => match t.split_once('.') {
                        Some((r, a)) => (r.to_string(), a.to_string()),
                        None => {
                            return Err(TemplateError::at(
                                ErrorCode::Intrinsic,
                                "Template error: Fn::GetAtt requires Resource.Attribute",
                                pos,
                            ));
                        }
                    },
                    _ => {
                        let l = self.args(arg, name, 2, 2, pos)?;
                        let res = l[0].as_str().ok_or_else(|| {
                            TemplateError::at(
                                ErrorCode::Intrinsic,
                                "Template error: Fn::GetAtt resource name must be a string",
                                l[0].pos,
                            )
                        })?;
                        (res.to_string(), self.string(&l[1], "Fn::GetAtt attribute")?)
                    }
                };
                Ok(Some(self.get_att(&res, &attr, pos)?))
            }
            "Fn::Sub" => self.sub(arg, pos),
            "Fn::Join" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let delim = self.string(&l[0], "Fn::Join delimiter")?;
                let items = self.list(&l[1], "Fn::Join list")?;
                let mut parts = Vec::with_capacity(items.len());
                for i in &items {
                    parts.push(stringify(i).ok_or_else(|| {
                        err(
                            l[1].pos,
                            "Template error: every Fn::Join object must be a string",
                        )
                    })?);
                }
                let joined = parts.iter().map(String::len).sum::<usize>()
                    + delim.len().saturating_mul(parts.len().saturating_sub(1));
                self.budget.charge(joined, pos, name)?;
                s(parts.join(&delim))
            }
            "Fn::Select" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let index = self.string(&l[0], "Fn::Select index")?;
                let index: usize = index.trim().parse().map_err(|_| {
                    err(
                        l[0].pos,
                        format!("Template error: Fn::Select index '{index}' is not a number"),
                    )
                })?;
                let items = self.list(&l[1], "Fn::Select list")?;
                items
                    .into_iter()
                    .nth(index)
                    .map(Some)
                    .ok_or_else(|| err(pos, format!("Template error: Fn::Select cannot select nonexistent value at index {index}")))
            }
            "Fn::Split" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let delim = self.string(&l[0], "Fn::Split delimiter")?;
                let text = self.string(&l[1], "Fn::Split source")?;
                if delim.is_empty() {
                    return Err(err(
                        pos,
                        "Template error: Fn::Split delimiter must not be empty",
                    ));
                }
                let pieces = text.matches(delim.as_str()).count() + 1;
                self.budget.charge(text.len() + 3 * pieces, pos, name)?;
                Ok(Some(Value::Array(
                    text.split(delim.as_str())
                        .map(|p| Value::String(p.into()))
                        .collect(),
                )))
            }
            "Fn::FindInMap" => {
                let max = if self.lang_ext { 4 } else { 3 };
                let l = self.args(arg, name, 3, max, pos)?;
                let m = self.string(&l[0], "Fn::FindInMap map name")?;
                let k1 = self.string(&l[1], "Fn::FindInMap key")?;
                let k2 = self.string(&l[2], "Fn::FindInMap key")?;
                let found = self
                    .mappings
                    .and_then(|ms| ms.get(&m))
                    .and_then(|e| e.value.get(&k1))
                    .and_then(|n| n.get(&k2));
                match found {
                    // Mappings hold literals only; never evaluate (or recurse into) them.
                    Some(n) => {
                        self.budget.charge(node_bytes(n), pos, name)?;
                        Ok(Some(n.to_json()))
                    }
                    None => match l.get(3).and_then(|o| o.get("DefaultValue")) {
                        Some(d) => self.eval(d),
                        None => Err(err(
                            pos,
                            format!("Template error: Unable to get mapping for {m}::{k1}::{k2}"),
                        )),
                    },
                }
            }
            "Fn::If" => {
                let l = self.args(arg, name, 3, 3, pos)?;
                let cname = l[0].as_str().ok_or_else(|| {
                    TemplateError::at(
                        ErrorCode::Condition,
                        "Template error: Fn::If condition name must be a string",
                        l[0].pos,
                    )
                })?;
                if self.condition(cname, l[0].pos)? {
                    self.eval(&l[1])
                } else {
                    self.eval(&l[2])
                }
            }
            "Fn::Equals" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                // `AWS::NoValue` compares as null.
                let a = self.eval(&l[0])?.unwrap_or(Value::Null);
                let b = self.eval(&l[1])?.unwrap_or(Value::Null);
                let eq = match (stringify(&a), stringify(&b)) {
                    (Some(x), Some(y)) => x == y,
                    _ => a == b,
                };
                Ok(Some(Value::Bool(eq)))
            }
            "Fn::And" | "Fn::Or" => {
                let l = self.args(arg, name, 1, 10, pos)?;
                let mut acc = name == "Fn::And";
                for c in l {
                    let b = self.boolean(c)?;
                    if name == "Fn::And" {
                        acc &= b;
                    } else {
                        acc |= b;
                    }
                }
                Ok(Some(Value::Bool(acc)))
            }
            "Fn::Not" => {
                let l = self.args(arg, name, 1, 1, pos)?;
                Ok(Some(Value::Bool(!self.boolean(&l[0])?)))
            }
            "Fn::Base64" => {
                let text = self.string(arg, "Fn::Base64 argument")?;
                self.budget.charge(text.len().div_ceil(3) * 4, pos, name)?;
                s(base64(text.as_bytes()))
            }
            "Fn::Cidr" => {
                let l = self.args(arg, name, 3, 3, pos)?;
                let block = self.string(&l[0], "Fn::Cidr ipBlock")?;
                let num = |n: &Node, what: &str| -> R<u64> {
                    let t = self.string(n, what)?;
                    t.trim().parse().map_err(|_| {
                        err(
                            n.pos,
                            format!("Template error: Fn::Cidr {what} '{t}' is not a number"),
                        )
                    })
                };
                let count = num(&l[1], "count")?;
                let bits = num(&l[2], "cidrBits")?;
                let subnets = cidr(&block, count, bits)
                    .map_err(|m| err(pos, format!("Template error: {m}")))?;
                let v = Value::Array(subnets.into_iter().map(Value::String).collect());
                self.charged(v, pos, name).map(Some)
            }
            "Fn::GetAZs" => {
                let region = match self.eval(arg)? {
                    Some(Value::String(r)) if !r.is_empty() => r,
                    Some(Value::String(_)) | None | Some(Value::Null) => self.ctx.region.clone(),
                    _ => {
                        return Err(err(
                            pos,
                            "Template error: Fn::GetAZs requires a region string",
                        ));
                    }
                };
                let azs = self.env.availability_zones(&region);
                let v = Value::Array(azs.into_iter().map(Value::String).collect());
                self.charged(v, pos, name).map(Some)
            }
            "Fn::ImportValue" => {
                let export = self.string(arg, "Fn::ImportValue name")?;
                let v = self
                    .lookup
                    .and_then(|l| l.import_value(&export))
                    .or_else(|| self.env.export(&export))
                    .ok_or_else(|| err(pos, format!("No export named {export} found")))?;
                self.charged(Value::String(v), pos, name).map(Some)
            }
            "Fn::GetStackOutput" => {
                let field = |k: &str| -> R<Option<String>> {
                    match arg.get(k) {
                        Some(n) => Ok(Some(self.string(n, &format!("Fn::GetStackOutput {k}"))?)),
                        None => Ok(None),
                    }
                };
                let (Some(stack), Some(output)) = (field("StackName")?, field("OutputName")?)
                else {
                    return Err(TemplateError::at(
                        ErrorCode::Intrinsic,
                        "Template error: Fn::GetStackOutput requires StackName and OutputName",
                        pos,
                    ));
                };
                let region = field("Region")?;
                let role = field("RoleArn")?;
                let v = self
                    .env
                    .stack_output(&stack, &output, region.as_deref(), role.as_deref())
                    .ok_or_else(|| {
                        err(pos, format!("Output {output} of stack {stack} not found"))
                    })?;
                self.charged(Value::String(v), pos, name).map(Some)
            }
            "Fn::Length" if self.lang_ext => {
                let items = self.list(arg, "Fn::Length argument")?;
                Ok(Some(Value::from(items.len())))
            }
            "Fn::ToJsonString" if self.lang_ext => {
                let v = self.value(arg)?;
                self.budget.charge(value_bytes(&v), pos, name)?;
                s(serde_json::to_string(&v).unwrap_or_default())
            }
            "Fn::Transform" => Err(TemplateError::at(
                ErrorCode::Transform,
                "Template error: Fn::Transform (macros) is not supported",
                pos,
            )),
            _ if self.rules => self.rule_function(name, arg, pos),
            _ => Err(TemplateError::at(
                ErrorCode::Intrinsic,
                format!("Template format error: Encountered unsupported function: {name}"),
                pos,
            )),
        }
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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
