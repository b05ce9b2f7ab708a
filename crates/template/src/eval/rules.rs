//! The assertion functions of the `Rules` section (`Fn::Contains`, `Fn::EachMemberEquals`,
//! `Fn::EachMemberIn`, `Fn::RefAll`, `Fn::ValueOf`, `Fn::ValueOfAll`): only a rule's
//! evaluator (rule mode) knows them.

use serde_json::Value;

use super::{Evaluator, R, err, stringify};
use crate::error::{ErrorCode, TemplateError};
use crate::tree::{Node, Pos};

impl Evaluator<'_> {
    fn strings(&self, node: &Node, what: &str) -> R<Vec<String>> {
        match self.value(node)? {
            Value::Array(a) => Ok(a.iter().filter_map(stringify).collect()),
            v => stringify(&v)
                .map(|s| vec![s])
                .ok_or_else(|| err(node.pos, format!("Template error: {what} must be a list"))),
        }
    }

    /// The assertion functions of the `Rules` section.
    pub(super) fn rule_function(&self, name: &str, arg: &Node, pos: Pos) -> R<Option<Value>> {
        let b = |v: bool| Ok(Some(Value::Bool(v)));
        match name {
            "Fn::Contains" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let list = self.strings(&l[0], "Fn::Contains list")?;
                let x = self.string(&l[1], "Fn::Contains value")?;
                b(list.contains(&x))
            }
            "Fn::EachMemberEquals" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let list = self.strings(&l[0], "Fn::EachMemberEquals list")?;
                let x = self.string(&l[1], "Fn::EachMemberEquals value")?;
                b(list.iter().all(|m| *m == x))
            }
            "Fn::EachMemberIn" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let list = self.strings(&l[0], "Fn::EachMemberIn list")?;
                let allowed = self.strings(&l[1], "Fn::EachMemberIn list")?;
                b(list.iter().all(|m| allowed.contains(m)))
            }
            "Fn::RefAll" => {
                let t = self.string(arg, "Fn::RefAll type")?;
                let mut all = Vec::new();
                let list_t = format!("List<{t}>");
                for (p, ty) in &self.params.types {
                    if (*ty == t || *ty == list_t)
                        && let Some(v) = self.params.values.get(p)
                    {
                        match v.to_json() {
                            Value::Array(a) => all.extend(a),
                            other => all.push(other),
                        }
                    }
                }
                Ok(Some(Value::Array(all)))
            }
            "Fn::ValueOf" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let p = self.string(&l[0], "Fn::ValueOf parameter")?;
                let attr = self.string(&l[1], "Fn::ValueOf attribute")?;
                let ty = self.params.types.get(&p).ok_or_else(|| {
                    err(
                        l[0].pos,
                        format!("Template error: Fn::ValueOf parameter {p} is not declared"),
                    )
                })?;
                let values = match self.params.values.get(&p) {
                    Some(crate::params::ParamValue::List(l)) => l.clone(),
                    Some(crate::params::ParamValue::String(s)) => vec![s.clone()],
                    None => Vec::new(),
                };
                let mut out = Vec::new();
                for v in &values {
                    out.push(self.env.parameter_attribute(ty, v, &attr).ok_or_else(|| {
                        err(
                            pos,
                            format!("Template error: cannot look up {attr} of {v} for Fn::ValueOf"),
                        )
                    })?);
                }
                if out.len() == 1 && !ty.starts_with("List<") {
                    return Ok(Some(Value::String(out.remove(0))));
                }
                Ok(Some(Value::Array(
                    out.into_iter().map(Value::String).collect(),
                )))
            }
            "Fn::ValueOfAll" => {
                let l = self.args(arg, name, 2, 2, pos)?;
                let t = self.string(&l[0], "Fn::ValueOfAll type")?;
                let attr = self.string(&l[1], "Fn::ValueOfAll attribute")?;
                let mut out = Vec::new();
                for (p, ty) in &self.params.types {
                    if *ty != t {
                        continue;
                    }
                    let values = match self.params.values.get(p) {
                        Some(crate::params::ParamValue::List(l)) => l.clone(),
                        Some(crate::params::ParamValue::String(s)) => vec![s.clone()],
                        None => Vec::new(),
                    };
                    for v in values {
                        let a = self.env.parameter_attribute(ty, &v, &attr).ok_or_else(|| {
                            err(pos, format!("Template error: cannot look up {attr} of {v} for Fn::ValueOfAll"))
                        })?;
                        out.push(Value::String(a));
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            _ => Err(TemplateError::at(
                ErrorCode::Intrinsic,
                format!("Template format error: Encountered unsupported function: {name}"),
                pos,
            )),
        }
    }
}
