//! sagestack-events: EventBridge (issue #15), in the common module shape.
//!
//! * [`pattern`]: event patterns with AWS's semantics, parsed and validated once
//!   ([`Pattern::parse`]) and matched against events ([`Pattern::matches`]). Pure.
//! * [`state`]: the state of one account ([`EventBridge`]): event buses (the `default`
//!   bus always exists), rules with their targets and tags, kept as durable documents
//!   in the store's document table ([`documents`]: `CatalogKind::EventBus`,
//!   `EventRule`), and in memory the [`index`] of each bus's enabled pattern rules by
//!   the `source` and `detail-type` values their patterns require, so matching an event
//!   never scans every rule.
//! * [`accept`]: PutEvents, events emitted by other services (the state is their
//!   [`sagestack_engine::EventPublisher`]) and scheduled rules' firings become full
//!   envelopes; the matched `(event, rule)` pairs are written to the outbox
//!   (`CatalogKind::EventOutbox`) before the call answers.
//! * [`delivery`]: the task that takes the outbox to the targets ([`Delivery`]), through
//!   the [`Targets`] the server implements (an event-bus target is handled here), with
//!   retries within each target's retry policy, in order per rule and target, at least
//!   once across restarts; counts per rule and target in [`stats`].
//! * [`transform`] (`Input`, `InputPath`, `InputTransformer`), [`schedule`]
//!   (`rate(...)`, `cron(...)`), [`targets`] (the target kinds delivered to).
//! * [`api`]: the `AWSEvents` JSON 1.1 API ([`EventsService`]), validated against the
//!   botocore model in `model/` (`scripts/gen-events-model.py`).
//! * [`provider`]: the native `AWS::Events::Rule` and `AWS::Events::EventBus` providers.
//!
//! Limits of this implementation: with PostgreSQL replicas each process keeps its own
//! copy of the rules (another replica's rule changes are seen after a restart) and
//! every replica delivers the whole outbox; delivery after a crash may repeat what was
//! delivered before it (at least once).
//!
//! Architecture invariant: no HTTP and no SQL here; the state never calls the API, a
//! provider or the delivery task (it only rings the task's wake-up).

pub mod accept;
pub mod api;
pub mod delivery;
pub mod documents;
pub mod error;
pub mod index;
pub mod pattern;
pub mod provider;
pub mod schedule;
pub mod state;
pub mod stats;
pub mod targets;
pub mod transform;

pub use api::EventsService;
pub use delivery::{Delivery, DeliveryConfig, DeliveryError, TargetRef, Targets};
pub use documents::Scope;
pub use error::EventsError;
pub use pattern::Pattern;
pub use provider::{EventBusProvider, RuleProvider};
pub use state::EventBridge;
