//! The test template language's plan (see the module docs of `common`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use sagestack_engine::*;

pub struct TestPlan {
    resources: Vec<PlannedResource>,
    properties: HashMap<String, Value>,
    outputs: Vec<(String, Value, Option<String>)>,
    parameters: BTreeMap<String, String>,
    no_echo: HashSet<String>,
    description: Option<String>,
}

fn policy(v: Option<&Value>) -> Policy {
    match v.and_then(Value::as_str) {
        Some("Retain") => Policy::Retain,
        Some("RetainExceptOnCreate") => Policy::RetainExceptOnCreate,
        Some("Snapshot") => Policy::Snapshot,
        _ => Policy::Delete,
    }
}

/// Every `{{kind:arg}}` in the strings of `v`.
fn tokens(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(a) = rest.find("{{") {
                let Some(b) = rest[a..].find("}}") else { break };
                let inner = &rest[a + 2..a + b];
                if let Some((k, arg)) = inner.split_once(':') {
                    out.push((k.to_string(), arg.to_string()));
                }
                rest = &rest[a + b + 2..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| tokens(x, out)),
        Value::Object(o) => o.values().for_each(|x| tokens(x, out)),
        _ => {}
    }
}

impl TestPlan {
    fn substitute(&self, v: &Value, lookup: &dyn ResourceLookup) -> Result<Value, ResolveError> {
        Ok(match v {
            Value::String(s) => {
                let mut toks = Vec::new();
                tokens(v, &mut toks);
                let mut out = s.clone();
                for (k, arg) in toks {
                    let val = match k.as_str() {
                        "Ref" => lookup.physical_id(&arg),
                        "GetAtt" => {
                            let (r, a) = arg.split_once('.').unwrap_or((&arg, ""));
                            lookup.attribute(r, a).map(|v| match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            })
                        }
                        "Param" => self.parameters.get(&arg).cloned(),
                        "Import" => match lookup.import_value(&arg) {
                            Some(v) => Some(v),
                            None => {
                                return Err(ResolveError {
                                    message: format!("No export named {arg} found."),
                                });
                            }
                        },
                        _ => None,
                    };
                    let val = val.ok_or_else(|| ResolveError {
                        message: format!(
                            "Unresolved resource dependencies [{arg}] in the Resources block of the template"
                        ),
                    })?;
                    out = out.replace(&format!("{{{{{k}:{arg}}}}}"), &val);
                }
                Value::String(out)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.substitute(x, lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.substitute(x, lookup)?)))
                    .collect::<Result<Map<_, _>, ResolveError>>()?,
            ),
            other => other.clone(),
        })
    }
}

impl TemplatePlan for TestPlan {
    fn resources(&self) -> &[PlannedResource] {
        &self.resources
    }

    fn resolve_properties(
        &self,
        logical_id: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Value, ResolveError> {
        let props = self
            .properties
            .get(logical_id)
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.substitute(&props, lookup)
    }

    fn resolve_outputs(
        &self,
        lookup: &dyn ResourceLookup,
    ) -> Result<Vec<ResolvedOutput>, ResolveError> {
        self.outputs
            .iter()
            .map(|(k, v, export)| {
                let value = match self.substitute(v, lookup)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                Ok(ResolvedOutput {
                    key: k.clone(),
                    value,
                    description: None,
                    export_name: export.clone(),
                })
            })
            .collect()
    }

    fn imports(&self) -> Vec<String> {
        let mut toks = Vec::new();
        for p in self.properties.values() {
            tokens(p, &mut toks);
        }
        for (_, v, _) in &self.outputs {
            tokens(v, &mut toks);
        }
        let mut out: Vec<String> = toks
            .into_iter()
            .filter(|(k, _)| k == "Import")
            .map(|(_, a)| a)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn displayed_parameters(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                let shown = if self.no_echo.contains(k) {
                    "****".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }

    fn description(&self) -> Option<String> {
        self.description.clone()
    }
}

pub struct TestPlans;

impl PlanFactory for TestPlans {
    fn plan(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        _identity: &StackIdentity,
    ) -> Result<Arc<dyn TemplatePlan>, Vec<PlanDiagnostic>> {
        let diag = |m: String| {
            vec![PlanDiagnostic {
                code: "Format".into(),
                message: m,
                line: None,
                column: None,
            }]
        };
        let t: Value =
            serde_json::from_str(body).map_err(|e| diag(format!("Template format error: {e}")))?;
        let mut resources = Vec::new();
        let mut properties = HashMap::new();
        for (id, r) in t["Resources"].as_object().cloned().unwrap_or_default() {
            let props = r.get("Properties").cloned().unwrap_or_else(|| json!({}));
            let mut deps: Vec<String> = r
                .get("DependsOn")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let mut toks = Vec::new();
            tokens(&props, &mut toks);
            for (k, arg) in toks {
                let target = match k.as_str() {
                    "Ref" => arg,
                    "GetAtt" => arg.split('.').next().unwrap_or_default().to_string(),
                    _ => continue,
                };
                if !deps.contains(&target) {
                    deps.push(target);
                }
            }
            resources.push(PlannedResource {
                logical_id: id.clone(),
                resource_type: r["Type"].as_str().unwrap_or("Test::R").to_string(),
                depends_on: deps,
                deletion_policy: policy(r.get("DeletionPolicy")),
                update_replace_policy: policy(r.get("UpdateReplacePolicy")),
            });
            properties.insert(id, props);
        }
        let outputs = t["Outputs"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, o)| {
                (
                    k,
                    o["Value"].clone(),
                    o.get("Export").and_then(Value::as_str).map(String::from),
                )
            })
            .collect();
        let no_echo = t["NoEcho"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Arc::new(TestPlan {
            resources,
            properties,
            outputs,
            parameters: parameters.clone(),
            no_echo,
            description: t["Description"].as_str().map(String::from),
        }))
    }
}
