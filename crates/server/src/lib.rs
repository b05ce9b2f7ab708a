//! The sagestack server: command line, configuration, HTTP routing, shutdown.
//!
//! Architecture invariant: this crate wires layers together and owns no wire format
//! (that is `sagestack-protocol`) and no service logic (the service crates).

pub mod accounts;
pub mod app;
pub mod cli;
pub mod ephemeral;
pub mod event_targets;
pub mod guard;
pub mod hosts;
pub mod lambda;
pub mod listener;
pub mod native;
pub mod reset;
pub mod router;
pub mod serve;
pub mod store_watch;
pub mod takeover;
pub mod template_cli;
pub mod template_source;
pub mod webhook;

pub use guard::guard;
pub use hosts::AllowedHosts;
pub use native::native_providers;
pub use router::{AppState, Services, router};
