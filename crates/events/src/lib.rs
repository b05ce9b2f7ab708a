//! sagestack-events: EventBridge, beginning with what everything else rests on.
//!
//! * [`pattern`]: event patterns with AWS's semantics, parsed and validated once
//!   ([`Pattern::parse`]) and matched against events ([`Pattern::matches`]). Pure: no I/O,
//!   no clock.
//! * [`api`]: the `AWSEvents` JSON 1.1 API. Today it answers `TestEventPattern` only;
//!   event buses, rules, targets and delivery (issue #15) build on the pattern module.

pub mod api;
pub mod error;
pub mod pattern;

pub use api::EventsService;
pub use error::EventsError;
pub use pattern::Pattern;
