//! Resource providers for the sagestack stack engine that need no service behind them.
//!
//! - [`SchemaProvider`]: every type in the bundled CloudFormation resource schemas. It
//!   validates properties against the type's schema, names the resource the way
//!   CloudFormation does, and returns realistic read-only attributes (ARNs, ids, URLs). It
//!   keeps no state: the record it returns is the resource.
//! - [`InertProvider`]: opt-in acceptance of types with no schema, as bare records.
//! - [`CustomResourceProvider`]: `AWS::CloudFormation::CustomResource` and `Custom::*`,
//!   forwarded to a user-configured HTTP endpoint per `ServiceToken` through a
//!   [`CustomResourceTransport`] (`HttpTransport`, plain HTTP, with the default
//!   `http-transport` feature).
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
//! Architecture invariant: nothing here touches a disk or a clock except the (seedable) id
//! and timestamp generator, so every behaviour is testable in-process.

mod bundle;
mod custom;
mod fallback;
#[cfg(feature = "http-transport")]
mod http_transport;
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
#[cfg(feature = "http-transport")]
pub use http_transport::HttpTransport;
pub use inert::{InertProvider, InertTypes};
pub use schema::ResourceSchema;
pub use schema_provider::{SchemaProvider, unrecognized_types_message, unsupported_type_message};
pub use validate::{Violation, validate, validation_message};
