//! The model's output structures as XML trees (element names from the
//! CloudFormation model: `Stack`, `StackSummary`, `StackEvent`, `StackResource`...).

use std::collections::BTreeMap;

use sagestack_engine::{
    ChangeSetRecord, ExportRecord, ResourceChange, ResourceRecord, StackEvent, StackRecord,
};
use sagestack_protocol::query::Xml;
use serde_json::Value;

use super::time::iso8601;

/// `Parameters` of a stack or change set: each value as shown, and for the SSM-typed
/// ones what they resolved to (`ResolvedValue`).
fn parameters(
    displayed: &BTreeMap<String, String>,
    resolved: &BTreeMap<String, String>,
) -> Vec<Xml> {
    displayed
        .iter()
        .map(|(k, v)| {
            Xml::new()
                .text("ParameterKey", k.as_str())
                .text("ParameterValue", v.as_str())
                .opt_text("ResolvedValue", resolved.get(k).map(String::as_str))
        })
        .collect()
}

fn tags(tags: &[(String, String)]) -> Vec<Xml> {
    tags.iter()
        .map(|(k, v)| texts([("Key", k.as_str()), ("Value", v.as_str())]))
        .collect()
}

/// A structure of text members only, in order.
pub(super) fn texts<const N: usize>(members: [(&'static str, &str); N]) -> Xml {
    members
        .into_iter()
        .fold(Xml::new(), |xml, (name, value)| xml.text(name, value))
}

/// `StackDriftInformation` (and its summary): the last `DetectStackDrift`'s verdict.
fn stack_drift(s: &StackRecord) -> Xml {
    let detection = s.drift.as_ref().and_then(|d| d.detection.as_ref());
    Xml::new()
        .text(
            "StackDriftStatus",
            detection.map_or("NOT_CHECKED", |d| d.status()),
        )
        .opt_text("LastCheckTimestamp", detection.map(|d| iso8601(d.checked)))
}

/// `StackResourceDriftInformation` (and its summary): the resource's last check.
fn resource_drift(r: &ResourceRecord, stack: &StackRecord) -> Xml {
    let check = stack
        .drift
        .as_ref()
        .and_then(|d| d.resources.get(&r.logical_id));
    Xml::new()
        .text(
            "StackResourceDriftStatus",
            check.map_or("NOT_CHECKED", |c| c.status.as_str()),
        )
        .opt_text("LastCheckTimestamp", check.map(|c| iso8601(c.checked)))
}

/// The members `Stack` and `StackSummary` share; the stack's description is the
/// member `description` (`TemplateDescription` in a summary).
fn stack_common(s: &StackRecord, description: &'static str) -> Xml {
    Xml::new()
        .text("StackId", s.stack_id.as_str())
        .text("StackName", s.stack_name.as_str())
        .opt_text("ParentId", s.nesting.as_ref().map(|n| n.parent_id.as_str()))
        .opt_text("RootId", s.nesting.as_ref().map(|n| n.root_id.as_str()))
        .opt_text(description, s.description.as_deref())
        .text("CreationTime", iso8601(s.creation_time))
        .opt_text("DeletionTime", s.deletion_time.map(iso8601))
        .opt_text("LastUpdatedTime", s.last_updated_time.map(iso8601))
        .text("StackStatus", s.status.as_str())
        .opt_text("StackStatusReason", s.status_reason.as_deref())
        .element("DriftInformation", stack_drift(s))
}

/// `Stack` (`DescribeStacks`).
pub fn stack(s: &StackRecord) -> Xml {
    let outputs = s.outputs.iter().map(|o| {
        Xml::new()
            .text("OutputKey", o.key.as_str())
            .text("OutputValue", o.value.as_str())
            .opt_text("Description", o.description.as_deref())
            .opt_text("ExportName", o.export_name.as_deref())
    });
    stack_common(s, "Description")
        .opt_text("ChangeSetId", s.change_set_id.as_deref())
        .list(
            "Parameters",
            parameters(&s.displayed_parameters, &s.resolved_parameters),
        )
        .text("DisableRollback", s.disable_rollback.to_string())
        .text_list("NotificationARNs", s.notification_arns.iter().cloned())
        .text_list("Capabilities", s.capabilities.iter().cloned())
        .list("Outputs", outputs)
        .opt_text("RoleARN", s.role_arn.as_deref())
        .list("Tags", tags(&s.tags))
        .text(
            "EnableTerminationProtection",
            s.protection.termination_protection.to_string(),
        )
}

/// `StackSummary` (`ListStacks`).
pub fn stack_summary(s: &StackRecord) -> Xml {
    stack_common(s, "TemplateDescription")
}

/// `StackEvent` (`DescribeStackEvents`).
pub fn event(e: &StackEvent) -> Xml {
    Xml::new()
        .text("StackId", e.stack_id.as_str())
        .text("EventId", e.event_id.as_str())
        .text("StackName", e.stack_name.as_str())
        .text("LogicalResourceId", e.logical_resource_id.as_str())
        .text(
            "PhysicalResourceId",
            e.physical_resource_id.as_deref().unwrap_or(""),
        )
        .text("ResourceType", e.resource_type.as_str())
        .text("Timestamp", iso8601(e.timestamp))
        .text("ResourceStatus", e.resource_status.as_str())
        .opt_text("ResourceStatusReason", e.resource_status_reason.as_deref())
        .opt_text("ResourceProperties", e.resource_properties.as_deref())
}

/// What names a resource, after `head` (the members before it in its shape).
pub(super) fn resource_ids(head: Xml, r: &ResourceRecord) -> Xml {
    head.text("LogicalResourceId", r.logical_id.as_str())
        .opt_text("PhysicalResourceId", r.physical_id.as_deref())
        .text("ResourceType", r.resource_type.as_str())
}

/// A resource's names and state; the shapes differ in what comes first and in the name
/// of the time element.
fn resource_shape(head: Xml, r: &ResourceRecord, stack: &StackRecord, time: &'static str) -> Xml {
    resource_ids(head, r)
        .text(time, iso8601(r.last_updated))
        .text("ResourceStatus", r.status.as_str())
        .opt_text("ResourceStatusReason", r.status_reason.as_deref())
        .element("DriftInformation", resource_drift(r, stack))
}

fn in_stack(stack: &StackRecord) -> Xml {
    Xml::new()
        .text("StackName", stack.stack_name.as_str())
        .text("StackId", stack.stack_id.as_str())
}

/// `StackResource` (`DescribeStackResources`).
pub fn resource(r: &ResourceRecord, stack: &StackRecord) -> Xml {
    resource_shape(in_stack(stack), r, stack, "Timestamp")
}

/// `StackResourceDetail` (`DescribeStackResource`).
pub fn resource_detail(r: &ResourceRecord, stack: &StackRecord) -> Xml {
    resource_shape(in_stack(stack), r, stack, "LastUpdatedTimestamp")
}

/// `StackResourceSummary` (`ListStackResources`).
pub fn resource_summary(r: &ResourceRecord, stack: &StackRecord) -> Xml {
    resource_shape(Xml::new(), r, stack, "LastUpdatedTimestamp")
}

/// One `Change`; `with_values` (`IncludePropertyValues`) adds the properties before and
/// after as `BeforeContext`/`AfterContext` (`{"Properties":{...}}`, JSON text) and each
/// detail's `Path`, `BeforeValue`, `AfterValue` and `AttributeChangeType`.
fn change(c: &ResourceChange, with_values: bool) -> Xml {
    let values = c.values.as_ref().filter(|_| with_values);
    let before = values.and_then(|v| v.before.as_ref());
    let after = values.and_then(|v| v.after.as_ref());
    let details = c.details.iter().map(|d| {
        let mut target = Xml::new()
            .text("Attribute", d.target.attribute.as_str())
            .opt_text("Name", d.target.name.as_deref())
            .text("RequiresRecreation", d.target.requires_recreation.as_str());
        if let (Some(_), Some(name)) = (values, d.target.name.as_deref()) {
            let old = before.and_then(|b| b.get(name));
            let new = after.and_then(|a| a.get(name));
            let kind = match (old, new) {
                (None, Some(_)) => "Add",
                (Some(_), None) => "Remove",
                _ => "Modify",
            };
            target = target
                .text("Path", format!("/{}/{name}", d.target.attribute))
                .opt_text("BeforeValue", old.map(value_text))
                .opt_text("AfterValue", new.map(value_text))
                .text("AttributeChangeType", kind);
        }
        Xml::new()
            .element("Target", target)
            .text("Evaluation", d.evaluation.as_str())
            .text("ChangeSource", d.change_source.as_str())
            .opt_text("CausingEntity", d.causing_entity.as_deref())
    });
    let context = |properties: Option<&Value>| {
        properties.map(|p| serde_json::json!({"Properties": p}).to_string())
    };
    let rc = Xml::new()
        .text("Action", c.action.as_str())
        .text("LogicalResourceId", c.logical_resource_id.as_str())
        .opt_text("PhysicalResourceId", c.physical_resource_id.as_deref())
        .text("ResourceType", c.resource_type.as_str())
        .opt_text("Replacement", c.replacement.map(|r| r.as_str()))
        .text_list("Scope", c.scope.iter().cloned())
        .list("Details", details)
        .opt_text("BeforeContext", context(before))
        .opt_text("AfterContext", context(after));
    Xml::new()
        .text("Type", "Resource")
        .element("ResourceChange", rc)
}

/// A property value as a change detail shows it: a string as itself, anything else as
/// JSON text.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The members `DescribeChangeSet`'s result and `ChangeSetSummary` share.
fn change_set_common(cs: &ChangeSetRecord) -> Xml {
    Xml::new()
        .text("ChangeSetName", cs.change_set_name.as_str())
        .text("ChangeSetId", cs.change_set_id.as_str())
        .text("StackId", cs.stack_id.as_str())
        .text("StackName", cs.stack_name.as_str())
        .opt_text("Description", cs.description.as_deref())
        .text("CreationTime", iso8601(cs.creation_time))
        .text("ExecutionStatus", cs.execution_status.as_str())
        .text("Status", cs.status.as_str())
        .opt_text("StatusReason", cs.status_reason.as_deref())
        .text("IncludeNestedStacks", "false")
}

/// `DescribeChangeSet`'s result (`with_values`: `IncludePropertyValues`).
pub fn change_set(cs: &ChangeSetRecord, with_values: bool) -> Xml {
    change_set_common(cs)
        .list(
            "Parameters",
            parameters(&cs.displayed_parameters, &cs.resolved_parameters),
        )
        .text_list("NotificationARNs", cs.notification_arns.iter().cloned())
        .text_list("Capabilities", cs.capabilities.iter().cloned())
        .list("Tags", tags(&cs.tags))
        .list("Changes", cs.changes.iter().map(|c| change(c, with_values)))
}

/// `ChangeSetSummary` (`ListChangeSets`).
pub fn change_set_summary(cs: &ChangeSetRecord) -> Xml {
    change_set_common(cs)
}

/// `Export` (`ListExports`).
pub fn export(e: &ExportRecord) -> Xml {
    texts([
        ("ExportingStackId", e.exporting_stack_id.as_str()),
        ("Name", e.name.as_str()),
        ("Value", e.value.as_str()),
    ])
}
