//! Where `TemplateURL`s are read: the [`TemplateSource`] contract.
//!
//! The CloudFormation API (`TemplateURL` on CreateStack, UpdateStack, CreateChangeSet,
//! ValidateTemplate, GetTemplateSummary) and project provisioning (a project's
//! `CfnTemplateProvider.TemplateURL`) both fetch templates through one
//! [`TemplateSource`]. The implementation (in `sagestack-s3`) resolves the URL to a
//! bucket and key of the configured object store (embedded or external S3) and refuses
//! every other host: the server never sends requests to arbitrary URLs.

use async_trait::async_trait;

/// Why a template could not be fetched. The `Display` text is the user-facing message
/// (it ends up in a `ValidationError` or a project's `StatusMessage`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateFetchError {
    /// Not an https URL, not an S3 URL form, or a host other than the configured store.
    #[error("{0}")]
    InvalidUrl(String),
    #[error("S3 error: The specified bucket does not exist (bucket: {bucket})")]
    NoSuchBucket { bucket: String },
    #[error("S3 error: The specified key does not exist. (bucket: {bucket}, key: {key})")]
    NoSuchKey { bucket: String, key: String },
    /// The bucket belongs to another account than the stack's or project's.
    #[error("S3 error: Access Denied (bucket: {bucket})")]
    AccessDenied { bucket: String },
    /// The object is larger than the S3 template limit.
    #[error("Template may not exceed {limit} bytes in size (s3://{bucket}/{key} has {size} bytes)")]
    TooLarge {
        bucket: String,
        key: String,
        size: u64,
        limit: u64,
    },
    #[error("Template format error: the template at s3://{bucket}/{key} is not UTF-8 text")]
    NotUtf8 { bucket: String, key: String },
    /// The object store failed (or no object store is configured).
    #[error("S3 error: {0}")]
    Unavailable(String),
}

/// Reads the template a `TemplateURL` names.
#[async_trait]
pub trait TemplateSource: Send + Sync {
    /// The template body at `url`, at most `limit` bytes (1 MB for S3 templates).
    async fn fetch(&self, url: &str, limit: u64) -> Result<String, TemplateFetchError>;
}

/// The S3 template size limit (bytes): 1 MB, the template layer's own limit.
pub const S3_TEMPLATE_LIMIT: u64 = sagestack_template::MAX_S3_BODY_BYTES as u64;

/// The engine's view of a [`TemplateSource`]: where nested stacks' `TemplateURL`s are
/// read, with the S3 template limit.
pub(crate) struct NestedTemplates(pub std::sync::Arc<dyn TemplateSource>);

#[async_trait]
impl sagestack_engine::plan::TemplateUrls for NestedTemplates {
    async fn fetch(&self, url: &str) -> Result<String, String> {
        self.0
            .fetch(url, S3_TEMPLATE_LIMIT)
            .await
            .map_err(|e| e.to_string())
    }
}
