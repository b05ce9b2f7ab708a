//! After a restart: settling the resources whose action started but whose result was never
//! recorded, and choosing the phase that resumes the stack.

use std::sync::Arc;

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;
use crate::provider::ResourceState;

use super::Phase;
use super::run::Run;

const INTERRUPTED_CREATE: &str =
    "Resource creation was interrupted before its result was recorded (engine restart)";
const INTERRUPTED_UPDATE: &str =
    "Resource update was interrupted before its result was recorded (engine restart)";

/// After a restart: settles resources whose action started but whose result was never
/// recorded, and says which phase resumes the stack.
pub(crate) async fn recover_resources(
    inner: &Arc<Inner>,
    stack: &StackRecord,
) -> Result<Phase, EngineError> {
    let run = Run::new(inner, stack, None, None).await?;
    let stuck = run.records(|r| {
        matches!(
            r.status,
            ResourceStatus::CreateInProgress | ResourceStatus::UpdateInProgress
        )
    });
    let mut interrupted = Vec::new();
    for mut rec in stuck {
        let (status, reason) = if rec.status == ResourceStatus::CreateInProgress {
            // No physical id was recorded; the provider may still find what the create
            // made (an explicitly named resource), which the rollback then deletes.
            if rec.physical_id.is_none()
                && let Ok(provider) = run.provider(&rec.resource_type)
            {
                match provider
                    .find_interrupted_create(&run.ctx(&rec), &rec.properties, rec.last_updated)
                    .await
                {
                    Ok(Some(found)) => {
                        rec.physical_id = Some(found.physical_id);
                        rec.attributes = Arc::new(found.attributes);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(
                        logical_id = %rec.logical_id, error = %e,
                        "looking for the resource an interrupted create made"
                    ),
                }
            }
            (ResourceStatus::CreateFailed, INTERRUPTED_CREATE)
        } else {
            // Read the resource back so rollback starts from what actually exists.
            if let (Some(pid), Ok(provider)) =
                (rec.physical_id.clone(), run.provider(&rec.resource_type))
            {
                let state = ResourceState {
                    physical_id: pid,
                    attributes: (*rec.attributes).clone(),
                };
                if let Ok(Some(read)) = provider.read(&run.ctx(&rec), &state, &rec.properties).await
                {
                    rec.attributes = Arc::new(read.attributes);
                }
            }
            (ResourceStatus::UpdateFailed, INTERRUPTED_UPDATE)
        };
        run.transition(&mut rec, status, Some(reason.into()), None)
            .await?;
        interrupted.push(rec.logical_id.clone());
    }
    let reason = if interrupted.is_empty() {
        "Stack operation was interrupted by an engine restart.".to_string()
    } else {
        run.failure_reason(&interrupted)
    };
    Ok(match stack.status {
        StackStatus::CreateInProgress => Phase::CreateFailed(reason),
        StackStatus::UpdateInProgress => Phase::UpdateFailed(reason),
        StackStatus::RollbackInProgress => Phase::Rollback,
        StackStatus::DeleteInProgress => Phase::Delete,
        StackStatus::UpdateCompleteCleanupInProgress => Phase::UpdateCleanup,
        StackStatus::UpdateRollbackInProgress => Phase::UpdateRollback,
        StackStatus::UpdateRollbackCompleteCleanupInProgress => Phase::UpdateRollbackCleanup,
        other => {
            return Err(EngineError::Validation(format!(
                "stack in {other} has no operation to recover"
            )));
        }
    })
}
