//! Drift detection: `DetectStackDrift`, `DetectStackResourceDrift` and the lookup of a
//! detection's status. Each resource is read back through its provider
//! ([`crate::provider::Live`]) and compared with the properties the stack last applied
//! ([`crate::drift::differences`]). Detection runs within the request (reading this
//! server's own records takes microseconds), so a detection is complete when its id is
//! returned. The results are written onto the stack record with the same
//! compare-and-set that admits operations: a detection that raced an operation's start is
//! refused rather than written over it.

use crate::drift::{Detection, ResourceDrift, ResourceDriftStatus, differences};
use crate::error::EngineError;
use crate::model::*;
use crate::provider::{Live, ResourceState};

use super::Stacks;

impl Stacks {
    /// `DetectStackDrift`: checks every resource of the stack (only `logical_ids` when
    /// given), records the results and returns the detection's id.
    pub async fn detect_stack_drift(
        &self,
        name_or_id: &str,
        logical_ids: &[String],
    ) -> Result<String, EngineError> {
        let mut stack = self.drift_checkable(name_or_id).await?;
        let resources = self.inner.store.list_resources(&stack.stack_id).await?;
        for id in logical_ids {
            if !resources
                .iter()
                .any(|r| &r.logical_id == id && !r.status.is_gone())
            {
                return Err(not_in_stack(id, &stack));
            }
        }
        let mut drift = stack.drift.take().unwrap_or_default();
        let mut drifted = 0;
        let mut failure = None;
        for record in resources.iter().filter(|r| !r.status.is_gone()) {
            if !logical_ids.is_empty() && !logical_ids.contains(&record.logical_id) {
                continue;
            }
            let result = match self.check(&stack, record).await {
                Ok(result) => result,
                Err(message) => {
                    failure.get_or_insert(format!(
                        "Failed to detect drift on resource [{}]: {message}",
                        record.logical_id
                    ));
                    continue;
                }
            };
            if matches!(
                result.status,
                ResourceDriftStatus::Modified | ResourceDriftStatus::Deleted
            ) {
                drifted += 1;
            }
            drift.resources.insert(record.logical_id.clone(), result);
        }
        let id = self.inner.ids.uuid();
        drift.detection = Some(Detection {
            id: id.clone(),
            drifted,
            checked: self.inner.clock.now(),
            failure,
        });
        stack.drift = Some(drift);
        self.write_drift(&mut stack).await?;
        Ok(id)
    }

    /// `DetectStackResourceDrift`: checks one resource and records its result (the
    /// stack's own drift status is left to `DetectStackDrift`, as in CloudFormation).
    pub async fn detect_resource_drift(
        &self,
        name_or_id: &str,
        logical_id: &str,
    ) -> Result<(StackRecord, ResourceRecord, ResourceDrift), EngineError> {
        let mut stack = self.drift_checkable(name_or_id).await?;
        let record = self
            .inner
            .store
            .list_resources(&stack.stack_id)
            .await?
            .into_iter()
            .find(|r| r.logical_id == logical_id && !r.status.is_gone())
            .ok_or_else(|| not_in_stack(logical_id, &stack))?;
        let result = self
            .check(&stack, &record)
            .await
            .map_err(EngineError::Validation)?;
        let mut drift = stack.drift.take().unwrap_or_default();
        drift
            .resources
            .insert(logical_id.to_string(), result.clone());
        stack.drift = Some(drift);
        self.write_drift(&mut stack).await?;
        Ok((stack, record, result))
    }

    /// The stack whose last `DetectStackDrift` has the id `detection_id`. Only each
    /// stack's latest detection is kept (CloudFormation keeps "a number of" them).
    pub async fn drift_detection(
        &self,
        detection_id: &str,
    ) -> Result<(StackRecord, Detection), EngineError> {
        self.inner
            .store
            .list_stacks()
            .await?
            .into_iter()
            .filter(|s| s.status != StackStatus::DeleteComplete)
            .find_map(|mut s| {
                let detection = s.drift.as_mut()?.detection.take()?;
                (detection.id == detection_id).then_some((s, detection))
            })
            .ok_or_else(|| {
                EngineError::Validation(format!(
                    "Drift detection with id {detection_id} does not exist"
                ))
            })
    }

    /// The stack, if no operation is driving it (its resources would be moving under
    /// the check).
    async fn drift_checkable(&self, name_or_id: &str) -> Result<StackRecord, EngineError> {
        let stack = self.describe_stack(name_or_id).await?;
        if stack.status.is_operation_in_progress() || stack.status == StackStatus::DeleteComplete {
            return Err(EngineError::InvalidState {
                stack_id: stack.stack_id,
                status: stack.status.to_string(),
                action: "checked for drift",
            });
        }
        Ok(stack)
    }

    /// One resource's drift, or why it could not be read.
    async fn check(
        &self,
        stack: &StackRecord,
        record: &ResourceRecord,
    ) -> Result<ResourceDrift, String> {
        let checked = self.inner.clock.now();
        let status = |status| ResourceDrift {
            status,
            checked,
            differences: Vec::new(),
        };
        let (Some(physical_id), Some(provider)) = (
            &record.physical_id,
            self.inner.providers.get(&record.resource_type),
        ) else {
            return Ok(status(ResourceDriftStatus::NotChecked));
        };
        let ctx =
            self.inner
                .resource_context(&stack.stack_id, &stack.stack_name, &stack.tags, record);
        let current = ResourceState {
            physical_id: physical_id.clone(),
            attributes: (*record.attributes).clone(),
        };
        let live = provider
            .live(&ctx, &current, &record.properties)
            .await
            .map_err(|e| e.to_string())?;
        Ok(match live {
            Live::NotChecked => status(ResourceDriftStatus::NotChecked),
            Live::Gone => status(ResourceDriftStatus::Deleted),
            Live::Properties(actual) => {
                let own_tags: Vec<String> = stack.tags.iter().map(|(k, _)| k.clone()).collect();
                let differences = differences(&record.properties, &actual, &own_tags);
                ResourceDrift {
                    status: if differences.is_empty() {
                        ResourceDriftStatus::InSync
                    } else {
                        ResourceDriftStatus::Modified
                    },
                    checked,
                    differences,
                }
            }
        })
    }

    /// Writes the stack's drift results, unless an operation was admitted meanwhile.
    async fn write_drift(&self, stack: &mut StackRecord) -> Result<(), EngineError> {
        if self.write_if_unchanged(stack).await? {
            return Ok(());
        }
        let now = self.describe_stack(&stack.stack_id).await?;
        Err(EngineError::InvalidState {
            stack_id: stack.stack_id.clone(),
            status: now.status.to_string(),
            action: "checked for drift",
        })
    }
}

fn not_in_stack(logical_id: &str, stack: &StackRecord) -> EngineError {
    EngineError::Validation(format!(
        "Resource with logical ID [{logical_id}] does not exist in stack [{}]",
        stack.stack_name
    ))
}
