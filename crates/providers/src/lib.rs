//! Resource providers for the sagestack stack engine that need no service behind them.
//!
//! - [`SchemaProvider`]: every type in the bundled CloudFormation resource schemas. It
//!   validates properties against the type's schema, names the resource the way
//!   CloudFormation does, and returns realistic read-only attributes (ARNs, ids, URLs). It
//!   keeps no state: the record it returns is the resource.
//! - [`InertProvider`]: opt-in acceptance of types with no schema, as bare records.
//! - [`CustomResourceProvider`]: `AWS::CloudFormation::CustomResource` and `Custom::*`,
//!   forwarded to a user-configured HTTP endpoint per `ServiceToken` through a
//!   [`CustomResourceTransport`] (the binary supplies the HTTP one: this crate does no
//!   I/O of its own).
//! - [`FallbackProvider`]: the three behind one `ResourceProvider`:
//!
//! ```
//! use std::sync::Arc;
//! use sagestack_engine::provider::ProviderRegistry;
//! use sagestack_providers::{CustomResourceProvider, FallbackProvider, InertProvider, NoTransport};
//!
//! let mut registry = ProviderRegistry::new();
//! FallbackProvider::new()
//!     .with_inert(InertProvider::only(["MyOrg::Widgets::*"]))
//!     .with_custom_resources(
//!         CustomResourceProvider::new(Arc::new(NoTransport))
//!             .with_handler("arn:aws:lambda:us-east-1:123456789012:function:seed", "http://127.0.0.1:9000/"),
//!     )
//!     .install(&mut registry);
//! assert!(registry.type_info("AWS::S3::Bucket").is_some());
//! assert!(registry.type_info("MyOrg::Widgets::Gear").is_some());
//! assert!(registry.type_info("Custom::Seed").is_some());
//! assert!(registry.type_info("AWS::Nope::Nope").is_none());
//! ```
//!
//! Decisions worth knowing:
//! - Validation is what CloudFormation itself does against the registry schema, in its words
//!   (`Properties validation failed for resource X with message: #/Path: ...`, every
//!   violation joined by spaces). Scalars convert as CloudFormation converts them (`"80"` is
//!   an integer, `"true"` a boolean, `5` a string). cfn-lint's extra service constraints
//!   (runtime lists, instance types) are left out of the bundle: the services, not
//!   CloudFormation, enforce those, and a bundled copy goes stale.
//! - A schema `pattern` the `regex` crate cannot compile (ECMA look-arounds) is skipped, never
//!   guessed at; the bundle test counts them.
//! - `Ref` is the primary identifier unless a short table says otherwise (`identity.rs`).
//!
//! Architecture invariants: the provider keeps no state (the engine stores the returned
//! `ResourceState`); the only I/O is the custom-resource transport, behind a trait; names,
//! ids and timestamps come from a seedable generator, so tests are deterministic.

mod bundle;
mod custom;
mod fallback;
mod identity;
mod inert;
mod naming;
mod schema;
mod schema_provider;
mod validate;

pub use bundle::{Bundle, BundleError, bundle};
pub use custom::{
    CUSTOM_RESOURCE_TYPE, CustomResourceProvider, CustomResourceRequest, CustomResourceResponse,
    CustomResourceTransport, NoTransport, is_custom_resource_type,
};
pub use fallback::FallbackProvider;
pub use inert::{InertProvider, InertTypes};
pub use naming::{SUFFIX_LEN, physical_name};
pub use schema::ResourceSchema;
pub use schema_provider::{SchemaProvider, unrecognized_types_message, unsupported_type_message};
pub use validate::{Violation, or_empty, validate, validated, validation_message};
