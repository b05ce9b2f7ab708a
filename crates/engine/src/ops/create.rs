//! Creating a stack: its forward phase (see [`super::forward`]), what a failed create turns
//! into, and one resource's create (also what an update runs for a resource it adds).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::EngineError;
use crate::inner::Inner;
use crate::model::*;

use super::forward::{Forward, forward_phase};
use super::run::{Ev, Run};
use super::{Carry, Next, Phase, Step, done, then};

pub(super) async fn create(inner: &Arc<Inner>, mut stack: StackRecord, carry: &Arc<Carry>) -> Step {
    if let Err(reason) = forward_phase(inner, &mut stack, Forward::Create, carry).await? {
        return Ok(Next::Phase(Phase::CreateFailed(reason), None));
    }
    done(inner, &mut stack, StackStatus::CreateComplete, None).await
}

/// Appends AWS's rollback suffix to a failure reason.
fn rollback_reason(reason: &str) -> String {
    let reason = reason.trim_end();
    if reason.ends_with('.') {
        format!("{reason} Rollback requested by user.")
    } else {
        format!("{reason}. Rollback requested by user.")
    }
}

pub(super) async fn fail_create(
    inner: &Arc<Inner>,
    mut stack: StackRecord,
    reason: String,
) -> Step {
    if stack.disable_rollback {
        return done(inner, &mut stack, StackStatus::CreateFailed, Some(reason)).await;
    }
    let reason = Some(rollback_reason(&reason));
    then(inner, &mut stack, Phase::Rollback, reason).await
}

impl Run {
    /// Creates the planned resource `id`; whether it was created. `prior` is what the
    /// record notes for a rollback (`Prior::Added` when an update adds the resource).
    pub(super) async fn try_create(
        &self,
        id: &str,
        prior: Option<Prior>,
    ) -> Result<bool, EngineError> {
        let Some(planned) = self.planned.get(id) else {
            return Ok(false);
        };
        let mut rec = ResourceRecord {
            stack_id: self.stack_id.clone(),
            logical_id: id.to_string(),
            resource_type: planned.resource_type.clone(),
            status: ResourceStatus::CreateInProgress,
            status_reason: None,
            last_updated: 0,
            physical_id: None,
            attributes: Arc::default(),
            properties: Arc::new(Value::Object(Map::new())),
            deletion_policy: planned.deletion_policy,
            update_replace_policy: planned.update_replace_policy,
            prior,
            cleanup: Vec::new(),
        };
        let kind = Forward::Create;
        let Some(props) = self.resolve_gated(id, &mut rec, kind, |_| {}).await? else {
            return Ok(false);
        };
        rec.properties = Arc::new(props.clone());
        let provider = self.provider(&rec.resource_type);
        // A provider that leaves nothing behind needs no "started" record: a crash before
        // the outcome is written leaves no trace to recover. Its opening event is then
        // written with the outcome, in the same order.
        let stateless = Run::stateless(&provider, &rec.resource_type);
        if !self
            .begin(id, &mut rec, kind, None, &props, !stateless)
            .await?
        {
            return Ok(false);
        }
        let result = Run::outage(match self.ready(provider, &rec.resource_type).await? {
            Ok(p) => p.create(&self.ctx(&rec), &props).await,
            Err(e) => Err(e),
        })?;
        let opening = stateless.then_some(Ev {
            status: ResourceStatus::CreateInProgress,
            reason: None,
            physical_id: None,
            properties: Some(&props),
        });
        self.finish(id, &mut rec, kind, result, Some(&props), opening)
            .await
    }
}
