//! Drift operations: `DetectStackDrift`, `DetectStackResourceDrift`,
//! `DescribeStackDriftDetectionStatus` and `DescribeStackResourceDrifts`. The checks are
//! the engine's (`Engine::detect_stack_drift`); this layer reads the request and shapes
//! the answer.

use sagestack_engine::drift::{self, ResourceDrift};
use sagestack_engine::{ResourceRecord, StackRecord};
use sagestack_protocol::query::Xml;

use super::input::Input;
use super::time::iso8601;
use super::{CloudFormationApi, Result, output};

impl CloudFormationApi {
    pub(super) async fn detect_stack_drift(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let logical_ids = input.strings("LogicalResourceIds")?;
        let id = self
            .service
            .engine()
            .detect_stack_drift(name, &logical_ids)
            .await?;
        Ok(Xml::new().text("StackDriftDetectionId", id))
    }

    pub(super) async fn detect_stack_resource_drift(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let logical_id = input.required("LogicalResourceId")?;
        let (stack, record, result) = self
            .service
            .engine()
            .detect_resource_drift(name, logical_id)
            .await?;
        Ok(Xml::new().element(
            "StackResourceDrift",
            resource_drift(&stack, &record, &result),
        ))
    }

    pub(super) async fn drift_detection_status(&self, input: &Input<'_>) -> Result<Xml> {
        let id = input.required("StackDriftDetectionId")?;
        let (stack, d) = self.service.engine().drift_detection(id).await?;
        let status = if d.failure.is_some() {
            "DETECTION_FAILED"
        } else {
            "DETECTION_COMPLETE"
        };
        Ok(Xml::new()
            .text("StackId", stack.stack_id.as_str())
            .text("StackDriftDetectionId", d.id.as_str())
            .text("StackDriftStatus", d.status())
            .text("DetectionStatus", status)
            .opt_text("DetectionStatusReason", d.failure.as_deref())
            .text("DriftedStackResourceCount", d.drifted.to_string())
            .text("Timestamp", iso8601(d.checked)))
    }

    /// The last check of each resource that has been checked, filtered by status.
    pub(super) async fn describe_stack_resource_drifts(&self, input: &Input<'_>) -> Result<Xml> {
        let name = input.required("StackName")?;
        let filters = input.strings("StackResourceDriftStatusFilters")?;
        let stack = self.service.describe_stack(name).await?;
        let resources = self.service.list_stack_resources(&stack.stack_id).await?;
        let checked: Vec<(&ResourceRecord, &ResourceDrift)> = resources
            .iter()
            .filter_map(|r| Some((r, stack.drift.as_ref()?.resources.get(&r.logical_id)?)))
            .filter(|(_, d)| filters.is_empty() || filters.iter().any(|f| f == d.status.as_str()))
            .collect();
        let size = input.number("MaxResults").map_or(100, |n| n as usize);
        let (page, next) = self.page_of(input, "StackResourceDrifts", checked, size)?;
        Ok(Xml::new()
            .list(
                "StackResourceDrifts",
                page.iter().map(|(r, d)| resource_drift(&stack, r, d)),
            )
            .opt_text("NextToken", next))
    }
}

/// `StackResourceDrift`. `ActualProperties` is the expected properties with the
/// differences applied (the properties compared, as they are live).
fn resource_drift(stack: &StackRecord, r: &ResourceRecord, d: &ResourceDrift) -> Xml {
    let expected = r.properties.to_string();
    let actual = match d.status {
        drift::ResourceDriftStatus::InSync => Some(expected.clone()),
        drift::ResourceDriftStatus::Modified => {
            Some(drift::apply(&r.properties, &d.differences).to_string())
        }
        _ => None,
    };
    let differences = d.differences.iter().map(|p| {
        output::texts([
            ("PropertyPath", p.path.as_str()),
            ("ExpectedValue", p.expected.as_str()),
            ("ActualValue", p.actual.as_str()),
            ("DifferenceType", p.kind.as_str()),
        ])
    });
    let head = Xml::new().text("StackId", stack.stack_id.as_str());
    output::resource_ids(head, r)
        .text("ExpectedProperties", expected)
        .opt_text("ActualProperties", actual)
        .list("PropertyDifferences", differences)
        .text("StackResourceDriftStatus", d.status.as_str())
        .text("Timestamp", iso8601(d.checked))
}
