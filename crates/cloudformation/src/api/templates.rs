//! Template operations: `GetTemplate`, `GetTemplateSummary`, `ValidateTemplate`.

use sagestack_protocol::query::Xml;
use sagestack_template::{Node, ParameterDecl, Template};

use super::error::template_message;
use super::{ApiError, CloudFormationApi, Result};
use crate::TemplateSummary;

/// IAM resource types and the property whose presence needs `CAPABILITY_NAMED_IAM`.
const IAM_NAMES: &[(&str, &str)] = &[
    ("AWS::IAM::Role", "RoleName"),
    ("AWS::IAM::User", "UserName"),
    ("AWS::IAM::Group", "GroupName"),
    ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
    ("AWS::IAM::InstanceProfile", "InstanceProfileName"),
];

/// `(logical id, type, node)` of each resource, in template order.
fn resources(template: &Template) -> Vec<(String, String, &Node)> {
    template
        .root()
        .get("Resources")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .map(|(id, e)| {
                    let t = e
                        .value
                        .get("Type")
                        .and_then(Node::as_str)
                        .unwrap_or_default()
                        .to_string();
                    (id.clone(), t, &e.value)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The capabilities a template needs and why (`Capabilities`, `CapabilitiesReason`).
fn required_capabilities(template: &Template) -> Option<(String, String)> {
    let all = resources(template);
    let iam: Vec<&(String, String, &Node)> = all
        .iter()
        .filter(|(_, t, _)| t.starts_with("AWS::IAM::"))
        .collect();
    if iam.is_empty() {
        return None;
    }
    let named = iam.iter().any(|(_, t, node)| {
        IAM_NAMES
            .iter()
            .any(|(ty, prop)| ty == t && node.get("Properties").and_then(|p| p.get(prop)).is_some())
    });
    let ids: Vec<&str> = iam.iter().map(|(id, _, _)| id.as_str()).collect();
    Some((
        if named {
            "CAPABILITY_NAMED_IAM"
        } else {
            "CAPABILITY_IAM"
        }
        .to_string(),
        format!(
            "The following resource(s) require capabilities: [{}]",
            ids.join(", ")
        ),
    ))
}

/// `TemplateParameter` (`ValidateTemplate`).
fn template_parameter(p: &ParameterDecl) -> Xml {
    Xml::new()
        .text("ParameterKey", p.name.as_str())
        .opt_text("DefaultValue", p.default.as_deref())
        .text("NoEcho", p.no_echo.to_string())
        .opt_text("Description", p.description.as_deref())
}

/// What `ValidateTemplate` and `GetTemplateSummary` both answer: the parameters (each
/// as `parameter` shapes it), the description and the capabilities the template needs.
fn summary_members(
    summary: &TemplateSummary,
    template: &Template,
    parameter: fn(&ParameterDecl) -> Xml,
) -> Xml {
    let caps = required_capabilities(template);
    Xml::new()
        .list("Parameters", summary.parameters.iter().map(parameter))
        .opt_text("Description", summary.description.clone())
        .text_list("Capabilities", caps.iter().map(|c| c.0.clone()))
        .opt_text("CapabilitiesReason", caps.map(|c| c.1))
}

/// `ParameterDeclaration` (`GetTemplateSummary`): a `TemplateParameter` with its type
/// and allowed values.
fn parameter_declaration(p: &ParameterDecl) -> Xml {
    template_parameter(p)
        .text("ParameterType", p.param_type.as_str())
        .element(
            "ParameterConstraints",
            Xml::new().text_list("AllowedValues", p.allowed_values.iter().flatten().cloned()),
        )
}

impl CloudFormationApi {
    /// Validates `body` as `ValidateTemplate` does: syntax, sections and references.
    /// `inline`: the `TemplateBody` size limit applies (51,200 bytes), else the S3 one.
    fn checked_template(&self, body: &str, inline: bool) -> Result<(TemplateSummary, Template)> {
        self.service
            .checked_template(body, inline)
            .map_err(|d| ApiError::validation(template_message(&d)))
    }

    /// The template body an input names: `TemplateBody`, `TemplateURL` (fetched), or a
    /// stack's current one; and whether the inline size limit applies to it.
    async fn body_of(&self, input: &super::Input<'_>) -> Result<(String, bool)> {
        if let Some(body) = input.str("TemplateBody") {
            if input.str("TemplateURL").is_some() {
                return Err(ApiError::validation(
                    "Specify exactly one of TemplateBody or TemplateUrl.",
                ));
            }
            return Ok((body.to_owned(), true));
        }
        if let Some(url) = input.str("TemplateURL") {
            return Ok((self.fetch_template(url).await?, false));
        }
        if let Some(name) = input.str("StackName").filter(|s| !s.is_empty()) {
            return Ok((
                self.service.describe_stack(name).await?.template.body,
                false,
            ));
        }
        Err(ApiError::validation(
            "Either Template URL or Template Body must be specified.",
        ))
    }

    pub(super) async fn validate_template(&self, input: &super::Input<'_>) -> Result<Xml> {
        let (body, inline) = match (input.str("TemplateBody"), input.str("TemplateURL")) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "Specify exactly one of TemplateBody or TemplateUrl.",
                ));
            }
            (Some(body), None) => (body.to_owned(), true),
            (None, Some(url)) => (self.fetch_template(url).await?, false),
            (None, None) => {
                return Err(ApiError::validation(
                    "Either Template URL or Template Body must be specified.",
                ));
            }
        };
        let (summary, template) = self.checked_template(&body, inline)?;
        let transforms = summary.transforms.clone();
        Ok(summary_members(&summary, &template, template_parameter)
            .text_list("DeclaredTransforms", transforms))
    }

    pub(super) async fn get_template_summary(&self, input: &super::Input<'_>) -> Result<Xml> {
        let (body, inline) = self.body_of(input).await?;
        let (summary, template) = self.checked_template(&body, inline)?;
        let mut types: Vec<String> = Vec::new();
        for (_, t, _) in resources(&template) {
            if !types.contains(&t) {
                types.push(t);
            }
        }
        let version = template
            .root()
            .get("AWSTemplateFormatVersion")
            .and_then(Node::scalar_text);
        let metadata = template
            .root()
            .get("Metadata")
            .map(|m| m.to_json().to_string());
        let transforms = summary.transforms.clone();
        Ok(summary_members(&summary, &template, parameter_declaration)
            .text_list("ResourceTypes", types)
            .opt_text("Version", version)
            .opt_text("Metadata", metadata)
            .text_list("DeclaredTransforms", transforms))
    }

    pub(super) async fn get_template(&self, input: &super::Input<'_>) -> Result<Xml> {
        let stage = input.str("TemplateStage").unwrap_or("Original");
        if stage != "Original" && stage != "Processed" {
            return Err(ApiError::constraint(
                stage,
                "templateStage",
                "Member must satisfy enum value set: [Original, Processed]",
            ));
        }
        let stack_name = input.str("StackName").filter(|s| !s.is_empty());
        let (name, source) = match input.str("ChangeSetName").filter(|s| !s.is_empty()) {
            Some(cs) => {
                let cs = self.find_change_set(cs, stack_name).await?;
                (cs.stack_name, cs.template)
            }
            None => {
                let Some(name) = stack_name else {
                    return Err(ApiError::missing("stackName"));
                };
                let stack = self.service.describe_stack(name).await?;
                (stack.stack_name, stack.template)
            }
        };
        let body = if stage == "Processed" && !source.body.is_empty() {
            processed(&self.service, &name, &source.body, &source.parameters)?
        } else {
            source.body
        };
        Ok(Xml::new()
            .text("TemplateBody", body)
            .text_list("StagesAvailable", ["Original", "Processed"]))
    }
}

/// The processed template: the original when it declares no transform, otherwise the
/// template after transforms (`Fn::ForEach` expansion), as JSON.
fn processed(
    service: &crate::CloudFormationService,
    stack_name: &str,
    body: &str,
    parameters: &std::collections::BTreeMap<String, String>,
) -> Result<String> {
    let template = service
        .parse_template(body)
        .map_err(|d| ApiError::validation(d.message))?;
    if template.transforms().is_empty() {
        return Ok(body.to_owned());
    }
    let plan = service
        .plan(stack_name, body, parameters)
        .map_err(|d| ApiError::validation(template_message(&d)))?;
    let mut json = plan.bound().processed_template().to_json();
    if let Some(obj) = json.as_object_mut() {
        obj.remove("Transform");
    }
    Ok(json.to_string())
}
