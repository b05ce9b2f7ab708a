//! Wiring of EventBridge's targets: how a matched event reaches a Lambda function, a
//! CodePipeline pipeline or a CodeBuild project of the same account. Each is one call
//! into the state that owns the target; EventBridge itself only knows the [`Targets`]
//! trait, so it depends on none of these services (an event-bus target is delivered
//! inside `sagestack-events`).
//!
//! Which failures are retried: a missing target (function, pipeline or project deleted
//! since the rule was written), a target in another account or region, or an input the
//! target cannot take is given up at once (AWS does not retry those either); anything
//! else (the store failing, the function's queue full) is retried within the target's
//! retry policy.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::Value;

use sagestack_codebuild::{BuildError, Builds, Initiator};
use sagestack_codepipeline::{PipelineError, Pipelines, Trigger};
use sagestack_events::targets::TargetKind;
use sagestack_events::{DeliveryError, TargetRef, Targets};
use sagestack_lambda::{Invoker, LambdaError};

/// The targets of one account.
pub struct AccountTargets {
    /// `arn:aws:<service>:<region>:<account>:`, the prefix every target of this account
    /// starts with.
    pub region: String,
    pub account_id: String,
    pub invoker: Arc<Invoker>,
    pub pipelines: Arc<Pipelines>,
    pub builds: Arc<Builds>,
}

#[async_trait]
impl Targets for AccountTargets {
    async fn deliver(
        &self,
        target: &TargetRef,
        input: String,
        _event: &Value,
    ) -> Result<(), DeliveryError> {
        let resource = self.own_resource(&target.arn)?;
        match TargetKind::of(&target.arn) {
            Some(TargetKind::Lambda) => self.invoke(target, input).await,
            Some(TargetKind::CodePipeline) => {
                let trigger = Trigger::event_rule(target.rule_arn.clone());
                self.pipelines
                    .start_execution(resource, trigger)
                    .await
                    .map(drop)
                    .map_err(|e| match e {
                        PipelineError::PipelineNotFound { .. } => {
                            DeliveryError::Permanent(e.to_string())
                        }
                        other => DeliveryError::Retryable(other.to_string()),
                    })
            }
            Some(TargetKind::CodeBuild) => {
                let project = resource.trim_start_matches("project/");
                let initiator = Initiator::Rule(target.rule_arn.clone());
                self.builds
                    .start_build(project, initiator)
                    .await
                    .map(drop)
                    .map_err(|e| match e {
                        BuildError::ProjectNotFound(_) => DeliveryError::Permanent(e.to_string()),
                        other => DeliveryError::Retryable(other.to_string()),
                    })
            }
            // Event buses are delivered by sagestack-events itself; PutTargets refuses the
            // rest, so only a document written by another version could get here.
            Some(TargetKind::EventBus) | None => Err(DeliveryError::Permanent(format!(
                "{} is not a target this server delivers to",
                target.arn
            ))),
        }
    }
}

impl AccountTargets {
    /// The resource part of `arn` when it names this account and region.
    fn own_resource<'a>(&self, arn: &'a str) -> Result<&'a str, DeliveryError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts[..] {
            [_, _, _, region, account, resource]
                if region == self.region && account == self.account_id =>
            {
                Ok(resource)
            }
            _ => Err(DeliveryError::Permanent(format!(
                "{arn} is not in this server's account {} and region {}: targets in other \
                 accounts or regions are not delivered to",
                self.account_id, self.region
            ))),
        }
    }

    /// An asynchronous (`Event`) invocation, as EventBridge invokes functions: accepted
    /// once queued; the function's own failure is Lambda's to log, not a failed delivery.
    async fn invoke(&self, target: &TargetRef, input: String) -> Result<(), DeliveryError> {
        let classify = |e: LambdaError| match e {
            LambdaError::ResourceNotFound(_)
            | LambdaError::InvalidParameterValue(_)
            | LambdaError::RequestTooLarge(_) => DeliveryError::Permanent(e.to_string()),
            other => DeliveryError::Retryable(other.to_string()),
        };
        let spec = self
            .invoker
            .spec(&target.arn, None)
            .await
            .map_err(classify)?;
        let request_id = sagestack_protocol::new_request_id();
        self.invoker
            .start_event(spec, request_id, Bytes::from(input), None)
            .map_err(classify)
    }
}
