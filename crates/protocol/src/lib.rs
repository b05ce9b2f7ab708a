//! sagestack-protocol: the AWS wire formats, and nothing else.
//!
//! Architecture invariant: this is the only crate that knows how AWS requests and
//! responses look on the wire. Services receive decoded input (a JSON value for
//! JSON 1.1) plus a [`RequestContext`], and return either an output document or an
//! error implementing [`AwsError`]; this crate turns both into HTTP responses.
//! AWS error shapes are produced here and only here ([`error`]).
//!
//! * [`classify`] tells which wire protocol a request speaks from its shape
//!   (method, path, `X-Amz-Target`, content type), so one port can host JSON 1.1
//!   services, the Query protocol and S3 REST side by side.
//! * [`json11`] decodes AWS JSON 1.1 requests and defines [`json11::Json11Service`],
//!   the trait a JSON 1.1 service implements to be routed.
//! * [`query`] decodes AWS Query requests (form-encoded `Action=`) into a tree, writes
//!   their XML responses and `ErrorResponse` errors, and defines
//!   [`query::QueryService`], routed by API `Version`.
//! * [`rest_json`] routes and binds AWS REST-JSON requests (Lambda) by the service's
//!   generated HTTP bindings, and defines [`rest_json::RestJsonService`], routed by the
//!   SigV4 signing name.
//! * [`frame`] is the HTTP framing of JSON 1.1 and Query: the bounded body read, the
//!   call, the answer or error document; the server's router only picks the service.
//! * [`validate`] checks inputs against a service's botocore model with AWS's wording
//!   (every service embeds its own model).
//! * [`sigv4`] checks that a request carries a SigV4-shaped signature (header or
//!   presigned query) and names the refusals; [`auth`] is the credentials policy
//!   (`--auth none|sigv4`): it verifies signatures and says who the caller is.

pub mod auth;
pub mod classify;
pub mod context;
pub mod error;
pub mod frame;
pub mod json11;
pub mod query;
pub mod rest_json;
pub mod sigv4;
pub mod validate;

pub use classify::{RequestShape, classify};
pub use context::{RequestContext, new_request_id};
pub use error::{AwsError, ErrorKind, ProtocolError};
pub use json11::{Json11Service, JsonOutput};

/// Name of the response header that carries the request id on every response.
pub const REQUEST_ID_HEADER: &str = "x-amzn-requestid";
