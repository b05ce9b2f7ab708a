//! `ListObjects` (v1, markers) and `ListObjectsV2` (continuation tokens) over the key
//! walk in `list`; they differ only in how a page is resumed and answered.
//! `ListObjectVersions` lists the same walk as each object's one (`null`) version.

use super::*;

pub(super) async fn list_objects(
    api: &S3Api,
    input: ListObjectsInput,
) -> S3Result<ListObjectsOutput> {
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let marker = input.marker.clone().filter(|m| !m.is_empty());
    let listing = api
        .list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            marker.as_deref(),
            max,
        )
        .await?;
    // NextMarker only with a delimiter (without one, clients use the last key).
    let next_marker = (listing.truncated && input.delimiter.is_some())
        .then(|| listing.last.clone())
        .flatten();
    Ok(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(maybe_encode(Some(prefix), encode).unwrap_or_default()),
        marker: Some(maybe_encode(marker, encode).unwrap_or_default()),
        max_keys: Some(max as i32),
        is_truncated: Some(listing.truncated),
        contents: Some(
            listing
                .objects
                .iter()
                .map(|o| s3_object(o, encode, true))
                .collect(),
        ),
        common_prefixes: common_prefixes(listing.prefixes, encode),
        delimiter: maybe_encode(input.delimiter, encode),
        next_marker: maybe_encode(next_marker, encode),
        encoding_type: input.encoding_type,
        ..Default::default()
    })
}

pub(super) async fn list_objects_v2(
    api: &S3Api,
    input: ListObjectsV2Input,
) -> S3Result<ListObjectsV2Output> {
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let fetch_owner = input.fetch_owner.unwrap_or(false);
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let after = match input.continuation_token.as_deref() {
        Some(token) => Some(decode_token(token)?),
        None => input.start_after.clone().filter(|s| !s.is_empty()),
    };
    let listing = api
        .list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            after.as_deref(),
            max,
        )
        .await?;
    let key_count = (listing.objects.len() + listing.prefixes.len()) as i32;
    let next_continuation_token = listing
        .truncated
        .then(|| listing.last.as_deref().map(encode_token))
        .flatten();
    Ok(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(maybe_encode(Some(prefix), encode).unwrap_or_default()),
        max_keys: Some(max as i32),
        key_count: Some(key_count),
        continuation_token: input.continuation_token,
        is_truncated: Some(listing.truncated),
        next_continuation_token,
        contents: Some(
            listing
                .objects
                .iter()
                .map(|o| s3_object(o, encode, fetch_owner))
                .collect(),
        ),
        common_prefixes: common_prefixes(listing.prefixes, encode),
        delimiter: maybe_encode(input.delimiter, encode),
        encoding_type: input.encoding_type,
        start_after: maybe_encode(input.start_after, encode),
        ..Default::default()
    })
}

/// `ListObjectVersions` over a store that keeps no versions: every object is its own
/// one version, `null` (what S3 lists for an object written while versioning was never
/// enabled), the latest; no delete markers. Paged by key (`KeyMarker`; a
/// `VersionIdMarker` can only name the `null` version, so it adds nothing), as
/// `ListObjects` v1 pages. What `aws s3 rb --force` and Terraform's `force_destroy`
/// walk to empty a bucket.
pub(super) async fn list_object_versions(
    api: &S3Api,
    input: ListObjectVersionsInput,
) -> S3Result<ListObjectVersionsOutput> {
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let marker = input.key_marker.clone().filter(|m| !m.is_empty());
    let listing = api
        .list(
            &input.bucket,
            &prefix,
            input.delimiter.as_deref(),
            marker.as_deref(),
            max,
        )
        .await?;
    let next = listing.truncated.then(|| listing.last.clone()).flatten();
    let versions = listing
        .objects
        .iter()
        .map(|o| {
            let object = s3_object(o, encode, true);
            ObjectVersion {
                e_tag: object.e_tag,
                is_latest: Some(true),
                key: object.key,
                last_modified: object.last_modified,
                owner: object.owner,
                size: object.size,
                storage_class: Some(ObjectVersionStorageClass::from_static(
                    ObjectVersionStorageClass::STANDARD,
                )),
                version_id: Some(NULL_VERSION.to_owned()),
                ..Default::default()
            }
        })
        .collect();
    Ok(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(maybe_encode(Some(prefix), encode).unwrap_or_default()),
        key_marker: Some(maybe_encode(marker, encode).unwrap_or_default()),
        version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
        max_keys: Some(max as i32),
        is_truncated: Some(listing.truncated),
        versions: Some(versions),
        common_prefixes: common_prefixes(listing.prefixes, encode),
        delimiter: maybe_encode(input.delimiter, encode),
        next_version_id_marker: next.is_some().then(|| NULL_VERSION.to_owned()),
        next_key_marker: maybe_encode(next, encode),
        encoding_type: input.encoding_type,
        ..Default::default()
    })
}
