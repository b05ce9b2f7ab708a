//! One job: one event to one target, retried within the target's policy.

use std::time::Duration;

use super::{DeliveryConfig, DeliveryError, Job, TargetRef, Targets, policy_of, record};
use crate::EventBridge;
use crate::documents::bus_name;
use crate::stats::Attempt;
use crate::targets::TargetKind;

/// Delivers `job`, retrying retryable failures with exponential backoff until the
/// target's `MaximumRetryAttempts` retries are spent or the event is older than its
/// `MaximumEventAgeInSeconds`; counts and logs every outcome.
pub(crate) async fn run(
    state: &EventBridge,
    targets: &dyn Targets,
    config: &DeliveryConfig,
    job: Job,
) {
    let target = job.target_ref();
    let (policy, kind) = policy_of(&job.target);
    let input = match job.input() {
        Ok(input) => input,
        Err(e) => return give_up(state, &target, &e, 0),
    };
    let max_age_ms = i64::from(policy.maximum_event_age_secs) * 1000;
    let mut backoff = config.initial_backoff;
    let mut retries = 0u32;
    loop {
        let result = match kind {
            Some(TargetKind::EventBus) => forward(state, &target, &job).await,
            _ => targets.deliver(&target, input.clone(), &job.event).await,
        };
        match result {
            Ok(()) => {
                record(state, &target, Attempt::Delivered);
                tracing::debug!(rule = %target.rule_arn, target = %target.id, retries, "event delivered");
                return;
            }
            Err(e @ DeliveryError::Permanent(_)) => return give_up(state, &target, &e, retries),
            Err(e) => {
                record(state, &target, Attempt::Failed);
                let age = state.clock.now() - job.accepted;
                if retries >= policy.maximum_retry_attempts || age >= max_age_ms {
                    return give_up(state, &target, &e, retries);
                }
                tracing::debug!(rule = %target.rule_arn, target = %target.id, error = %e, ?backoff, "delivery failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2)
                    .min(config.max_backoff)
                    .max(Duration::from_millis(1));
                retries += 1;
            }
        }
    }
}

fn give_up(state: &EventBridge, target: &TargetRef, e: &DeliveryError, retries: u32) {
    record(state, target, Attempt::GivenUp);
    tracing::warn!(
        rule = %target.rule_arn,
        target = %target.id,
        arn = %target.arn,
        retries,
        error = %e,
        "event delivery given up"
    );
}

/// An event-bus target of this account: the event is accepted again on that bus, as
/// it is (same id, same fields), and matched against that bus's rules.
async fn forward(state: &EventBridge, target: &TargetRef, job: &Job) -> Result<(), DeliveryError> {
    let scope = state.scope();
    let bus = bus_name(Some(&target.arn));
    if target.arn != scope.bus_arn(&bus) {
        return Err(DeliveryError::Permanent(format!(
            "Event bus {} is not in this server's account and region ({}, {}).",
            target.arn, scope.account_id, scope.region
        )));
    }
    if !state.bus_exists(&bus) {
        return Err(DeliveryError::Permanent(format!(
            "Event bus {bus} does not exist."
        )));
    }
    state
        .accept(&bus, vec![(*job.event).clone()])
        .await
        .map(|_| ())
        .map_err(|e| DeliveryError::Retryable(e.to_string()))
}
