//! The engine's side of EventBridge: every committed stack event becomes a "CloudFormation
//! Stack Status Change" (the stack's own events) or a "CloudFormation Resource Status
//! Change" (its resources'), handed to the engine's [`EventPublisher`] if, and only if,
//! the publisher [`wants`](EventPublisher::wants) that detail type.
//!
//! [`Inner::commit`](crate::inner::Inner::commit) calls [`Emitter::committed`] after the
//! store accepted the write, many times per second during a large operation, so:
//! * nothing is built (no JSON, no allocation) for a detail type nobody wants;
//! * a stack never waits for publication: wanted events go down an unbounded channel to
//!   one delivery task per engine (spawned on first use, so an engine nobody listens to
//!   never has one), which publishes them in channel order, several sends at a time. The
//!   task holds the publisher and the receiving end only, never the engine: it ends once
//!   the engine (the sending end) is dropped and the queue is drained.
//!
//! Order: one resource's transitions, and one stack's status changes, are committed one
//! after the other by one task, so they are published in that order. Resources of one stack
//! acting in parallel are published in the order their writes returned.
//!
//! Not an outbox: events queued here but not yet published when the process dies are not
//! sent again after a restart (the stack's records and events are).

use std::sync::{Arc, OnceLock};

use serde_json::json;
use tokio::sync::mpsc;

use crate::model::StackEvent;
use crate::publish::{
    CLOUDFORMATION_SOURCE, EmittedEvent, EventPublisher, RESOURCE_STATUS_CHANGE,
    STACK_STATUS_CHANGE,
};

/// At most this many events per `publish` call when the queue has backed up.
const MAX_BATCH: usize = 512;

/// One engine's publication of its stack events.
pub(crate) struct Emitter {
    publisher: Arc<dyn EventPublisher>,
    queue: OnceLock<mpsc::UnboundedSender<Vec<EmittedEvent>>>,
}

impl Emitter {
    pub fn new(publisher: Arc<dyn EventPublisher>) -> Self {
        Self {
            publisher,
            queue: OnceLock::new(),
        }
    }

    /// Publishes, without waiting, the wanted ones among `events`, just committed (one
    /// store write: all of one stack).
    pub fn committed(&self, events: &[StackEvent]) {
        // Asked at most once per detail type per write, and only for a type present.
        let mut wants_stack = None;
        let mut wants_resource = None;
        let mut out = Vec::new();
        for e in events {
            let is_stack = is_stack_event(e);
            let (wanted, detail_type) = if is_stack {
                (&mut wants_stack, STACK_STATUS_CHANGE)
            } else {
                (&mut wants_resource, RESOURCE_STATUS_CHANGE)
            };
            if *wanted
                .get_or_insert_with(|| self.publisher.wants(CLOUDFORMATION_SOURCE, detail_type))
            {
                out.push(emitted(e, is_stack));
            }
        }
        if !out.is_empty() {
            self.send(out);
        }
    }

    fn send(&self, events: Vec<EmittedEvent>) {
        let queue = self.queue.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(deliver(self.publisher.clone(), rx));
            tx
        });
        if queue.send(events).is_err() {
            // Only when the runtime that ran the delivery task has shut down.
            tracing::warn!("stack events dropped: their delivery task has ended");
        }
    }
}

/// Publishes what `queue` receives, in order, until every sender is gone.
async fn deliver(
    publisher: Arc<dyn EventPublisher>,
    mut queue: mpsc::UnboundedReceiver<Vec<EmittedEvent>>,
) {
    while let Some(mut batch) = queue.recv().await {
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        publisher.publish(batch).await;
    }
}

/// Whether `e` is the stack's own status event (logical id the stack's name, physical id
/// its id), not a resource's; a nested stack's resource in its parent has the child's id.
fn is_stack_event(e: &StackEvent) -> bool {
    e.logical_resource_id == e.stack_name
        && e.physical_resource_id.as_deref() == Some(e.stack_id.as_str())
}

/// `e` as EventBridge carries it. `resources` is the stack id for both detail types, as
/// AWS sends them. A missing reason or physical id is `""`, as in AWS's examples; so is
/// `client-request-token`, which the engine does not keep (AWS echoes the operation's
/// `ClientRequestToken` there).
fn emitted(e: &StackEvent, is_stack: bool) -> EmittedEvent {
    let status_details = json!({
        "status": e.resource_status,
        "status-reason": e.resource_status_reason.as_deref().unwrap_or(""),
    });
    let (detail_type, detail) = if is_stack {
        (
            STACK_STATUS_CHANGE,
            json!({
                "stack-id": e.stack_id,
                "status-details": status_details,
                "client-request-token": "",
            }),
        )
    } else {
        (
            RESOURCE_STATUS_CHANGE,
            json!({
                "stack-id": e.stack_id,
                "logical-resource-id": e.logical_resource_id,
                "physical-resource-id": e.physical_resource_id.as_deref().unwrap_or(""),
                "status-details": status_details,
                "resource-type": e.resource_type,
                "client-request-token": "",
            }),
        )
    };
    EmittedEvent {
        source: CLOUDFORMATION_SOURCE.to_string(),
        detail_type: detail_type.to_string(),
        resources: vec![e.stack_id.clone()],
        detail,
        time: e.timestamp,
    }
}

#[cfg(test)]
mod tests;
