//! What objects and buckets carry besides bodies: the object document (content headers,
//! user metadata) and the bucket document's tags.

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectDocument {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `x-amz-meta-*` (names lowercase, without the prefix).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
    /// For completed multipart uploads: how many parts the object was assembled from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<i32>,
}

impl ObjectDocument {
    /// Reads a stored document (anything unparsable reads as an empty one).
    pub fn parse(raw: &str) -> Self {
        // A document written by another component (or an older version) that does
        // not parse is treated as carrying nothing rather than failing the read.
        serde_json::from_str(raw).unwrap_or_default()
    }

    /// The document as stored.
    pub fn to_json(&self) -> Arc<str> {
        Arc::from(serde_json::to_string(self).expect("a document of strings serializes"))
    }

    /// The user metadata as s3s returns it (`None` when there is none).
    pub fn metadata(&self) -> Option<Metadata> {
        (!self.metadata.is_empty()).then(|| {
            self.metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
    }
}

/// Builds the document from request headers s3s parsed.
pub(super) fn document_from(
    content_type: Option<&ContentType>,
    cache_control: Option<CacheControl>,
    content_disposition: Option<ContentDisposition>,
    content_encoding: Option<ContentEncoding>,
    content_language: Option<ContentLanguage>,
    metadata: Option<Metadata>,
) -> ObjectDocument {
    ObjectDocument {
        content_type: content_type.map(ToString::to_string),
        cache_control,
        content_disposition,
        content_encoding,
        content_language,
        metadata: metadata
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        parts_count: None,
    }
}

/// [`document_from`] over the representation headers of an input that has them all
/// (`PutObject`, `CopyObject`, `CreateMultipartUpload`); the inputs are distinct s3s
/// types with the same field names.
macro_rules! document_of {
    ($input:expr) => {
        document_from(
            $input.content_type.as_ref(),
            $input.cache_control,
            $input.content_disposition,
            $input.content_encoding,
            $input.content_language,
            $input.metadata,
        )
    };
}
pub(super) use document_of;

/// An object's representation in a `GetObject` or `HeadObject` answer (distinct s3s
/// types with the same field names): content headers, ETag, date, metadata, parts.
macro_rules! representation {
    ($output:ident { $($field:ident: $value:expr,)* } from $meta:expr) => {{
        let meta = $meta;
        let doc = ObjectDocument::parse(&meta.document);
        $output {
            accept_ranges: Some("bytes".to_owned()),
            content_type: doc
                .content_type
                .as_deref()
                .and_then(|c| c.parse::<ContentType>().ok()),
            cache_control: doc.cache_control.clone(),
            content_disposition: doc.content_disposition.clone(),
            content_encoding: doc.content_encoding.clone(),
            content_language: doc.content_language.clone(),
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_micros)),
            metadata: doc.metadata(),
            parts_count: doc.parts_count,
            $($field: $value,)*
            ..Default::default()
        }
    }};
}
pub(super) use representation;

/// Bucket tags as the bucket document holds them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub(super) struct StoredTag {
    pub(super) key: String,
    pub(super) value: String,
}

pub(super) fn bucket_tags(document: &str) -> Vec<StoredTag> {
    serde_json::from_str::<serde_json::Value>(document)
        .ok()
        .and_then(|mut v| v.get_mut("Tags").map(serde_json::Value::take))
        .and_then(|t| serde_json::from_value(t).ok())
        .unwrap_or_default()
}

/// The bucket document with its `Tags` replaced (removed when `tags` is `None`), every
/// other field kept.
pub(super) fn with_tags(document: &str, tags: Option<&[StoredTag]>) -> String {
    let mut doc = match serde_json::from_str::<serde_json::Value>(document) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    match tags {
        Some(tags) => {
            doc.insert(
                "Tags".into(),
                serde_json::to_value(tags).expect("tags serialize"),
            );
        }
        None => {
            doc.remove("Tags");
        }
    }
    serde_json::Value::Object(doc).to_string()
}

pub(super) fn validate_tags(tags: &[Tag]) -> S3Result<Vec<StoredTag>> {
    if tags.len() > MAX_BUCKET_TAGS {
        return Err(s3_error!(
            InvalidTag,
            "Bucket tag count cannot be greater than {MAX_BUCKET_TAGS}"
        ));
    }
    let mut out: Vec<StoredTag> = Vec::with_capacity(tags.len());
    for t in tags {
        let key = t.key.clone().unwrap_or_default();
        let value = t.value.clone().unwrap_or_default();
        if key.is_empty() || key.chars().count() > 128 {
            return Err(s3_error!(
                InvalidTag,
                "The TagKey you have provided is invalid: {key}"
            ));
        }
        if value.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "The TagValue you have provided is invalid: {value}"
            ));
        }
        if key.starts_with("aws:") {
            return Err(s3_error!(
                InvalidTag,
                "Your TagKey cannot be prefixed with aws: ({key})"
            ));
        }
        if out.iter().any(|o| o.key == key) {
            return Err(s3_error!(
                InvalidTag,
                "Cannot provide multiple Tags with the same key: {key}"
            ));
        }
        out.push(StoredTag { key, value });
    }
    Ok(out)
}
