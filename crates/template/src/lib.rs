//! CloudFormation templates for sagestack: parsing (JSON and CloudFormation-flavoured YAML
//! into one position-aware tree), validation with CloudFormation's limits and messages,
//! parameters and rules, and resolution of intrinsics against a resource lookup.
//!
//! Architecture invariant: this crate does no I/O. Everything outside the template (SSM
//! parameters, exports, availability zones, other stacks' outputs, secrets, resources that
//! exist) is reached through the traits in [`env`].

pub mod error;
pub mod json;
pub mod parse;
pub mod tree;
pub mod yaml;

pub use error::{ErrorCode, Errors, TemplateError};
pub use parse::{Format, Limits, MAX_INLINE_BODY_BYTES, MAX_S3_BODY_BYTES, parse_tree};
pub use tree::{Entry, Kind, Map, Node, Pos};
