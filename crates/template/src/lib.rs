//! CloudFormation templates for sagestack: parsing (JSON and CloudFormation-flavoured YAML
//! into one position-aware tree), validation with CloudFormation's limits and messages,
//! parameters and rules, and resolution of intrinsics against a resource lookup.
//!
//! Architecture invariant: this crate does no I/O. Everything outside the template (SSM
//! parameters, exports, availability zones, other stacks' outputs, secrets, resources that
//! exist) is reached through the traits in [`env`](mod@env).
//!
//! # Life of a template
//!
//! 1. [`Template::parse`] (or [`Template::parse_with`] and [`Limits::inline`] /
//!    [`Limits::s3`]) reads JSON or YAML into a [`Node`] tree; short-form tags are already
//!    long-form, every node knows its line and column.
//! 2. [`Template::validate`] checks it without parameter values (`ValidateTemplate`).
//! 3. [`Template::bind`] takes parameter values, a [`StackContext`] (pseudo parameters) and
//!    an [`Environment`]; it checks parameters and `Rules`, expands `Fn::ForEach`,
//!    evaluates conditions and returns a [`BoundTemplate`]: the active resources with their
//!    types, dependencies and policies, and parallel [`BoundTemplate::levels`].
//! 4. As resources come into existence, [`BoundTemplate::resolve_properties`] and
//!    [`BoundTemplate::resolve_outputs`] resolve values lazily through a
//!    [`ResourceLookup`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use std::sync::Arc;
//! use sagestack_template::{ResourceLookup, StackContext, StaticEnvironment, Template};
//!
//! let body = "Parameters:\n  Name: {Type: String}\nResources:\n  Topic:\n    Type: AWS::SNS::Topic\n    Properties: {TopicName: !Sub '${Name}-topic'}\n  Sub:\n    Type: AWS::SNS::Subscription\n    Properties: {TopicArn: !Ref Topic, Protocol: sqs}\n";
//! let template = Template::parse(body).unwrap();
//! template.validate().unwrap();
//! let params = BTreeMap::from([("Name".to_string(), "orders".to_string())]);
//! let plan = template.bind(&params, &StackContext::example(), Arc::new(StaticEnvironment::default())).unwrap();
//! assert_eq!(plan.levels(), [vec!["Topic".to_string()], vec!["Sub".to_string()]]);
//!
//! struct Existing;
//! impl ResourceLookup for Existing {
//!     fn physical_id(&self, id: &str) -> Option<String> {
//!         (id == "Topic").then(|| "arn:aws:sns:us-east-1:123456789012:orders-topic".to_string())
//!     }
//!     fn attribute(&self, _: &str, _: &str) -> Option<serde_json::Value> { None }
//! }
//! let props = plan.resolve_properties("Sub", &Existing).unwrap();
//! assert_eq!(props["TopicArn"], "arn:aws:sns:us-east-1:123456789012:orders-topic");
//! ```

mod budget;
pub mod cidr;
pub mod env;
pub mod error;
pub mod eval;
mod foreach;
pub mod graph;
pub mod json;
pub mod params;
pub mod parse;
pub mod sample;
pub mod template;
#[cfg(test)]
mod test_alloc;
pub mod tree;
pub mod validate;
pub mod yaml;

pub use budget::MAX_EXPANDED_BYTES;
pub use env::{
    DynamicReference, EmptyEnvironment, Environment, NoResources, ResourceLookup, StackContext,
    StackOutputRef, StaticEnvironment,
};
pub use error::{ErrorCode, Errors, TemplateError};
pub use eval::{MAX_EVAL_DEPTH, MIN_STACK_BYTES};
pub use params::{NO_ECHO_MASK, ParamKind, ParamValue, ParameterDecl};
pub use parse::{Format, Limits, MAX_INLINE_BODY_BYTES, MAX_S3_BODY_BYTES, parse_tree};
pub use template::{
    ActiveResource, BoundTemplate, LANGUAGE_EXTENSIONS, Policy, ResolvedOutput, Template,
};
pub use tree::{Entry, Kind, Map, Node, Pos};
