//! Events a service emits to EventBridge ("CloudFormation Stack Status Change",
//! "SageMaker Model Package State Change", ...), through a trait so that the emitting
//! services (the engine here, SageMaker's model packages) never depend on EventBridge:
//! `sagestack-events` implements [`EventPublisher`] over its state, and the server hands
//! that implementation to the emitters when it builds them (one direction: the events
//! state is built before them).
//!
//! The envelope's `id`, `account`, `region` and `version` are the bus's to fill; an
//! emitter gives what only it knows.

use async_trait::async_trait;
use serde_json::Value;

use crate::model::EpochMillis;

/// `source` of the events CloudFormation emits.
pub const CLOUDFORMATION_SOURCE: &str = "aws.cloudformation";
/// A stack's status changed (its own stack event).
pub const STACK_STATUS_CHANGE: &str = "CloudFormation Stack Status Change";
/// A resource of a stack changed status (each of its stack events).
pub const RESOURCE_STATUS_CHANGE: &str = "CloudFormation Resource Status Change";

/// One event, as its emitting service describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct EmittedEvent {
    /// `aws.cloudformation`, `aws.sagemaker`, ...
    pub source: String,
    /// AWS's `detail-type`, e.g. `CloudFormation Stack Status Change`.
    pub detail_type: String,
    /// ARNs of the resources the event is about.
    pub resources: Vec<String>,
    /// The `detail` object, in the shape AWS documents for this detail type.
    pub detail: Value,
    /// When the change happened.
    pub time: EpochMillis,
}

/// Where emitted events go: the account's default event bus.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Hands `events` to the default bus, in order. When this returns, every event that a
    /// rule matched is durably queued for delivery (delivered at least once, also after a
    /// crash and restart). A state change is already committed when its events are
    /// published, so failing to queue them is logged by the implementation, never
    /// returned: the caller's operation has succeeded either way.
    async fn publish(&self, events: Vec<EmittedEvent>);

    /// Whether any rule could match an event of `source` and `detail_type`: lets an
    /// emitter on a hot path (every stack event) skip building events nobody wants.
    fn wants(&self, source: &str, detail_type: &str) -> bool;
}

/// Publishes nothing (embedding without EventBridge, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

#[async_trait]
impl EventPublisher for NoEvents {
    async fn publish(&self, _: Vec<EmittedEvent>) {}

    fn wants(&self, _: &str, _: &str) -> bool {
        false
    }
}
