//! Listing keys: prefixes, delimiters (common prefixes), pages, tokens, URL encoding.

use super::*;

/// Percent-encodes a key for `EncodingType=url` (everything but unreserved characters
/// and `/`, as S3 does).
pub(super) fn url_encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~')
        .remove(b'/');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Validates `EncodingType`; true when keys are to be URL-encoded.
pub(super) fn url_encoding(encoding_type: Option<&EncodingType>) -> S3Result<bool> {
    match encoding_type.map(EncodingType::as_str) {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(s3_error!(
            InvalidArgument,
            "Invalid Encoding Method specified in Request: {other}"
        )),
    }
}

pub(super) fn max_keys(requested: Option<i32>) -> S3Result<usize> {
    max_items(requested, "max-keys")
}

/// A page size (`max-keys`, `max-parts`, `max-uploads`): at most [`MAX_KEYS`], never
/// negative.
pub(super) fn max_items(requested: Option<i32>, name: &str) -> S3Result<usize> {
    match requested {
        None => Ok(MAX_KEYS as usize),
        Some(n) if n < 0 => Err(s3_error!(
            InvalidArgument,
            "{name} must be a non-negative integer, got {n}"
        )),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
    }
}

/// The largest UTF-8 character: a key made of a prefix followed by it sorts after
/// every key that has the prefix followed by anything smaller (so, in practice, every
/// key under the prefix; a key that does continue with it is skipped by the caller).
pub(super) const AFTER_EVERYTHING: char = '\u{10FFFF}';

/// A listing of keys: objects and common prefixes in key order.
#[derive(Debug, Default)]
pub(super) struct Listing {
    pub(super) objects: Vec<ObjectMeta>,
    pub(super) prefixes: Vec<String>,
    pub(super) truncated: bool,
    /// The last entry returned (a key or a common prefix), where the next page resumes.
    pub(super) last: Option<String>,
}

impl S3Api {
    /// Lists up to `max` entries of `bucket` whose key starts with `prefix` and sorts
    /// after `after`, rolling keys that contain `delimiter` past the prefix up into
    /// common prefixes (one entry each). An `after` that is itself a common prefix (a
    /// resumed listing) skips every key under it.
    pub(super) async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        after: Option<&str>,
        max: usize,
    ) -> S3Result<Listing> {
        let delimiter = delimiter.filter(|d| !d.is_empty());
        let mut out = Listing::default();
        let mut cursor: Option<String> = after.map(str::to_owned);
        let mut entries = 0usize;
        // Pages of the store are bigger than what is returned when a delimiter folds
        // many keys into one prefix.
        let page = (max + 1).clamp(1, MAX_KEYS as usize + 1);
        'pages: loop {
            let batch = self
                .store
                .list_objects(KeyRange {
                    bucket,
                    prefix,
                    after: cursor.as_deref(),
                    limit: page,
                })
                .await
                .map_err(bucket_error(bucket))?;
            for object in batch.objects {
                cursor = Some(object.key.clone());
                let common = delimiter.and_then(|d| {
                    object.key[prefix.len()..]
                        .find(d)
                        .map(|at| object.key[..prefix.len() + at + d.len()].to_owned())
                });
                match common {
                    Some(cp) => {
                        // A listing resumed after this very prefix (its token or
                        // marker is the prefix) has returned it already.
                        let seen = out.prefixes.last() == Some(&cp) || after == Some(cp.as_str());
                        if seen {
                            continue;
                        }
                        if entries == max {
                            out.truncated = true;
                            break 'pages;
                        }
                        entries += 1;
                        out.last = Some(cp.clone());
                        out.prefixes.push(cp.clone());
                        // Jump over the rest of this prefix.
                        let mut skip = cp;
                        skip.push(AFTER_EVERYTHING);
                        cursor = Some(skip);
                        continue 'pages;
                    }
                    None => {
                        if entries == max {
                            out.truncated = true;
                            break 'pages;
                        }
                        entries += 1;
                        out.last = Some(object.key.clone());
                        out.objects.push(object);
                    }
                }
            }
            if !batch.truncated {
                break;
            }
        }
        Ok(out)
    }
}

pub(super) fn s3_object(meta: &ObjectMeta, encode: bool, with_owner: bool) -> Object {
    Object {
        e_tag: Some(etag(&meta.etag)),
        key: Some(if encode {
            url_encode(&meta.key)
        } else {
            meta.key.clone()
        }),
        last_modified: Some(timestamp(meta.last_modified_micros)),
        owner: with_owner.then(owner),
        restore_status: None,
        size: Some(meta.size),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

pub(super) fn common_prefixes(prefixes: Vec<String>, encode: bool) -> Option<CommonPrefixList> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .into_iter()
            .map(|p| CommonPrefix {
                prefix: Some(if encode { url_encode(&p) } else { p }),
            })
            .collect()
    })
}

pub(super) fn maybe_encode(s: Option<String>, encode: bool) -> Option<String> {
    s.map(|s| if encode { url_encode(&s) } else { s })
}

pub(super) fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            s3_error!(
                InvalidArgument,
                "The continuation token provided is incorrect"
            )
        })
}

pub(super) fn encode_token(last: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(last)
}
