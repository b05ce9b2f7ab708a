//! CloudFormation templates for sagestack: parsing (JSON and CloudFormation-flavoured YAML
//! into one position-aware tree), validation with CloudFormation's limits and messages,
//! parameters and rules, and resolution of intrinsics against a resource lookup.
//!
//! Architecture invariant: this crate does no I/O. Everything outside the template (SSM
//! parameters, exports, availability zones, other stacks' outputs, secrets, resources that
//! exist) is reached through the traits in [`env`].

pub mod cidr;
pub mod cli;
pub mod env;
pub mod error;
pub mod eval;
mod foreach;
pub mod graph;
pub mod json;
pub mod params;
pub mod parse;
pub mod template;
pub mod tree;
pub mod validate;
pub mod yaml;

pub use cli::validate_command;
pub use env::{
    DynamicReference, EmptyEnvironment, Environment, NoResources, ResourceLookup, StackContext,
    StaticEnvironment,
};
pub use error::{ErrorCode, Errors, TemplateError};
pub use params::{NO_ECHO_MASK, ParamKind, ParamValue, ParameterDecl};
pub use parse::{Format, Limits, MAX_INLINE_BODY_BYTES, MAX_S3_BODY_BYTES, parse_tree};
pub use template::{
    ActiveResource, BoundTemplate, LANGUAGE_EXTENSIONS, Policy, ResolvedOutput, Template,
};
pub use tree::{Entry, Kind, Map, Node, Pos};
