//! Resource providers for the sagestack stack engine that need no service behind them.
//!
//! - [`SchemaProvider`]: every type in the bundled CloudFormation resource schemas. It
//!   validates properties against the type's schema, names the resource the way
//!   CloudFormation does, and returns realistic read-only attributes (ARNs, ids, URLs). It
//!   keeps no state: the record it returns is the resource.
//!
//! Architecture invariant: nothing here touches a disk or a clock except the (seedable) id
//! and timestamp generator, so every behaviour is testable in-process.

mod bundle;
mod identity;
mod naming;
mod schema;
mod schema_provider;
mod validate;

pub use bundle::{Bundle, BundleError, bundle};
pub use schema::{PatternReport, ResourceSchema, pattern_cache_report};
pub use schema_provider::{SchemaProvider, unrecognized_types_message, unsupported_type_message};
pub use validate::{Violation, validate, validation_message};
