//! The intrinsic functions themselves (`Fn::Join`, `Fn::Select`, `Fn::Sub`,
//! `Fn::Base64`, `Fn::Cidr`, `Fn::If`, ...): argument shapes, AWS's messages, results
//! charged to the budget. Which function may be used where is decided by the caller's
//! evaluator settings, never here.

use super::*;

impl<'a> Evaluator<'a> {
    pub(super) fn call(&self, name: &str, arg: &Node, pos: Pos) -> R<Option<Value>> {
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
                let at = StackOutputRef {
                    stack: &stack,
                    output: &output,
                    region: region.as_deref(),
                    role_arn: role.as_deref(),
                };
                let v = self.env.stack_output(&at).ok_or_else(|| {
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
