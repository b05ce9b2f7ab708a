//! sagestack-s3: the S3 service module.
//!
//! * [`api`]: the embedded S3 endpoint, an [`s3s::S3`] implementation over
//!   [`sagestack_store::ObjectStore`] (buckets and objects live in the project's store, so
//!   replicas sharing PostgreSQL share them); [`auth`]: the credentials it accepts.
//! * [`url`]: `TemplateURL` resolution (every S3 URL form to bucket and key);
//!   [`source`]: [`sagestack_cloudformation::TemplateSource`] implementations (the
//!   embedded store, or an external S3 such as MinIO or AWS).
//! * [`config`]: a bucket's configuration (versioning, policy, Block Public Access,
//!   encryption, lifecycle, Object Ownership, ACL) as its document keeps it, with S3's
//!   checks: what the API and the providers both write.
//! * [`bucket_provider`]: the native `AWS::S3::Bucket` resource provider, backed by the
//!   same store; [`bucket_policy_provider`]: `AWS::S3::BucketPolicy`.
//! * [`memory`]: [`memory::MemoryObjectStore`], an in-memory `ObjectStore` for tests and
//!   embedding (never the server's store).
//!
//! Architecture invariant: no SQL here (state is behind `ObjectStore`); the S3 REST
//! wire format is s3s's business, routed to it by the server.

pub mod api;
pub mod auth;
pub mod bucket_policy_provider;
pub mod bucket_provider;
pub mod config;
pub mod memory;
pub mod source;
pub mod url;
