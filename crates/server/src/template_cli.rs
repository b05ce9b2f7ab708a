//! `sagestack template validate FILE [--param K=V ...]`: reads the file, runs the
//! template crate's checks over it, prints the located errors.
//!
//! Lives in the binary because it touches the file system and the terminal; the template
//! crate stays pure (text in, typed results out). Never judges a template itself: every
//! verdict is `sagestack_template`'s.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use sagestack_template::{
    DynamicReference, Environment, Limits, StackContext, StackOutputRef, Template, TemplateError,
};

/// Validates the template at `path`. Without parameters it checks the template alone
/// (like `ValidateTemplate`); with parameters it also binds them (constraints, `Rules`,
/// conditions, references to resources switched off by a condition). Prints each problem
/// as `file:line:col: CODE message` and returns 1 when there are any, 2 when the file cannot
/// be read, 0 (after a one-line summary) when the template is valid.
pub fn validate_command(path: &Path, params: &[(String, String)], out: &mut dyn Write) -> i32 {
    let file = path.display().to_string();
    let body = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            let _ = writeln!(out, "{file}: cannot read the template: {e}");
            return 2;
        }
    };
    let Ok(body) = String::from_utf8(body) else {
        let _ = writeln!(
            out,
            "{file}: E0001 Template format error: the template is not valid UTF-8"
        );
        return 1;
    };
    let report = |errors: &[TemplateError], out: &mut dyn Write| {
        let mut errors = errors.to_vec();
        errors.sort_by_key(|e| e.location);
        for e in &errors {
            let _ = writeln!(out, "{}", e.render(&file));
        }
        let _ = writeln!(
            out,
            "{file}: {} error{}",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" }
        );
        1
    };
    let template = match Template::parse_with(&body, &Limits::s3()) {
        Ok(t) => t,
        Err(e) => return report(&[e], out),
    };
    let summary = if params.is_empty() {
        if let Err(errors) = template.validate() {
            return report(&errors, out);
        }
        // As CreateStack does without parameters: bind the defaults, so `Rules` and
        // conditions are evaluated. A template whose parameters lack defaults cannot be
        // bound without `--param`; checking it alone is all that can be done then.
        let root = template.root();
        let all_defaulted = root
            .get("Parameters")
            .and_then(|n| n.as_map())
            .is_none_or(|m| {
                m.values()
                    .all(|p| p.value.as_map().is_some_and(|p| p.contains_key("Default")))
            });
        if all_defaulted
            && let Err(errors) = template.bind(
                &BTreeMap::new(),
                &StackContext::example(),
                Arc::new(Placeholders),
            )
        {
            return report(&errors, out);
        }
        let count = |s: &str| root.get(s).and_then(|n| n.as_map()).map_or(0, |m| m.len());
        format!(
            "{file}: valid template ({} resources, {} parameters, {} outputs)",
            count("Resources"),
            count("Parameters"),
            count("Outputs")
        )
    } else {
        let given: BTreeMap<String, String> = params.iter().cloned().collect();
        match template.bind(&given, &StackContext::example(), Arc::new(Placeholders)) {
            Ok(b) => format!(
                "{file}: valid template; with these parameters {} resources are active in {} levels",
                b.resources().len(),
                b.levels().len()
            ),
            Err(errors) => return report(&errors, out),
        }
    };
    // Then, as CreateStack does once the template is sound, the types it needs.
    let unknown = unrecognized_types(&template);
    if !unknown.is_empty() {
        return report(&unknown, out);
    }
    let _ = writeln!(out, "{summary}");
    0
}

/// The CLI has no AWS account to ask: SSM parameters, exports, other stacks' outputs and
/// dynamic references get placeholder values, so that only the template and the given
/// parameters are judged.
/// The resource types no provider of this server knows, reported as CreateStack reports
/// them (`Unrecognized resource types: [...]`), at the first resource of each: a type
/// outside the bundled schemas and not a custom resource.
fn unrecognized_types(template: &Template) -> Vec<TemplateError> {
    let Some(resources) = template.root().get("Resources").and_then(|n| n.as_map()) else {
        return Vec::new();
    };
    let bundle = sagestack_providers::bundle();
    let mut unknown: Vec<(&str, sagestack_template::Pos)> = Vec::new();
    for (_, entry) in resources {
        let Some(type_node) = entry.value.as_map().and_then(|m| m.get("Type")) else {
            continue;
        };
        let Some(type_name) = type_node.value.as_str() else {
            continue;
        };
        let known = bundle.get(type_name).is_some()
            || sagestack_providers::is_custom_resource_type(type_name);
        if !known && !unknown.iter().any(|(t, _)| *t == type_name) {
            unknown.push((type_name, type_node.value.pos));
        }
    }
    match unknown.first() {
        None => Vec::new(),
        Some((_, pos)) => {
            let names: Vec<&str> = unknown.iter().map(|(t, _)| *t).collect();
            vec![TemplateError::at(
                sagestack_template::ErrorCode::Structure,
                sagestack_providers::unrecognized_types_message(&names),
                *pos,
            )]
        }
    }
}

struct Placeholders;

impl Environment for Placeholders {
    fn ssm_parameter(&self, name: &str) -> Option<String> {
        Some(format!("<ssm:{name}>"))
    }
    fn export(&self, name: &str) -> Option<String> {
        Some(format!("<export:{name}>"))
    }
    fn stack_output(&self, at: &StackOutputRef<'_>) -> Option<String> {
        Some(format!("<{}.{}>", at.stack, at.output))
    }
    fn availability_zones(&self, region: &str) -> Vec<String> {
        ["a", "b", "c"]
            .iter()
            .map(|z| format!("{region}{z}"))
            .collect()
    }
    fn dynamic_reference(&self, _: &DynamicReference) -> Option<String> {
        Some("<dynamic>".into())
    }
    fn parameter_attribute(&self, _: &str, value: &str, attribute: &str) -> Option<String> {
        Some(format!("<{value}.{attribute}>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str, params: &[(&str, &str)]) -> (i32, String) {
        let dir =
            std::env::temp_dir().join(format!("sagestack-template-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("t{}.yaml", body.len()));
        std::fs::write(&path, body).unwrap();
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut out = Vec::new();
        let code = validate_command(&path, &params, &mut out);
        let text = String::from_utf8(out)
            .unwrap()
            .replace(&path.display().to_string(), "F");
        (code, text)
    }

    #[test]
    fn prints_located_errors_and_fails() {
        let (code, text) = run(
            "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      P: !Ref Missing\n      Q: !Ref A\n",
            &[],
        );
        assert_eq!(code, 1);
        // Sorted by position, whatever the order the checks ran in.
        assert_eq!(
            text,
            "F:2:3: E3004 Circular dependency between resources: [A]\n\
             F:5:10: E1012 Template format error: Unresolved resource dependencies [Missing] in the Resources block of the template\n\
             F: 2 errors\n"
        );
    }

    #[test]
    fn valid_template_prints_summary() {
        let (code, text) = run(
            "Parameters:\n  N: {Type: String}\nResources:\n  A:\n    Type: AWS::SNS::Topic\n",
            &[],
        );
        assert_eq!(
            (code, text.as_str()),
            (
                0,
                "F: valid template (1 resources, 1 parameters, 0 outputs)\n"
            )
        );
        // SSM parameters cannot be fetched by a local CLI: placeholders stand in.
        let (code, text) = run(
            "Parameters:\n  N: {Type: String}\n  S: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /x}\nResources:\n  A:\n    Type: AWS::SNS::Topic\n",
            &[("N", "v")],
        );
        assert_eq!(code, 0, "{text}");
        let (code, text) = run(
            "Parameters:\n  N: {Type: String}\n  M: {Type: String}\nResources:\n  A:\n    Type: AWS::SNS::Topic\n",
            &[("N", "v")],
        );
        assert_eq!(code, 1);
        assert!(text.contains("Parameters: [M] must have values"), "{text}");
    }

    #[test]
    fn unreadable_file_is_exit_2() {
        let mut out = Vec::new();
        assert_eq!(
            validate_command(Path::new("/nonexistent/t.yaml"), &[], &mut out),
            2
        );
    }
}
