//! Lazy resolution of a [`BoundTemplate`]: resource properties and members, outputs,
//! imports and dynamic references, read through a [`ResourceLookup`] as resources come
//! into existence. Never decides which resources are active (`bind` did).

use super::*;

impl BoundTemplate {
    pub(super) fn resource_node(&self, logical_id: &str) -> Result<&Node, TemplateError> {
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

    pub(super) fn resolve_dynamic(&self, v: &mut Value, pos: Pos) -> Result<(), TemplateError> {
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
