//! Bucket operations: list, create (with the Object Ownership and canned ACL it may
//! set), head, delete (its document, and so its configuration, goes with it), location,
//! and bucket tagging.
//! Never touches objects or uploads (a non-empty bucket is the store's `Conflict`).

use super::*;

pub(super) async fn list_buckets(
    api: &S3Api,
    input: ListBucketsInput,
    caller: Option<String>,
) -> S3Result<ListBucketsOutput> {
    let owner_of = |b: &BucketRecord| crate::auth::bucket_owner(b, &api.default_owner);
    let buckets = api
        .store
        .list_buckets()
        .await
        .map_err(internal)?
        .into_iter()
        // The caller's own buckets only, as on AWS.
        .filter(|b| caller.as_deref().is_none_or(|c| owner_of(b) == c))
        .filter(|b| {
            input
                .prefix
                .as_deref()
                .is_none_or(|p| b.name.starts_with(p))
                && input.bucket_region.as_deref().is_none_or(|r| b.region == r)
        })
        .map(|b| Bucket {
            bucket_region: Some(b.region),
            creation_date: Some(timestamp(b.creation_micros)),
            name: Some(b.name),
        })
        .collect();
    Ok(ListBucketsOutput {
        buckets: Some(buckets),
        continuation_token: None,
        owner: Some(owner()),
        prefix: input.prefix,
    })
}

pub(super) async fn create_bucket(
    api: &S3Api,
    input: CreateBucketInput,
    caller: Option<String>,
) -> S3Result<CreateBucketOutput> {
    let owner = caller.unwrap_or_else(|| api.default_owner.clone());
    let name = input.bucket;
    validate_bucket_name(&name).map_err(|why| {
        s3_error!(
            InvalidBucketName,
            "The specified bucket is not valid: {name} ({why})"
        )
    })?;
    let constraint = input
        .create_bucket_configuration
        .and_then(|c| c.location_constraint)
        .map(|c| c.as_str().to_owned());
    let region = match constraint {
        Some(c) if c == "us-east-1" || c.is_empty() => {
            return Err(s3_error!(
                InvalidLocationConstraint,
                "The specified location-constraint is not valid: {c}"
            ));
        }
        Some(c) => c,
        None => api.region.clone(),
    };
    let mut document = crate::config::BucketDocument::default();
    document
        .fields()
        .insert("Owner".into(), serde_json::Value::String(owner.clone()));
    document
        .set_created_with(
            input.object_ownership.as_ref().map(ObjectOwnership::as_str),
            input.acl.as_ref().map(BucketCannedACL::as_str),
        )
        .map_err(config_error)?;
    let record = BucketRecord {
        name: name.clone(),
        region: region.clone(),
        creation_micros: now_micros(),
        document: Arc::from(document.to_json()),
    };
    match api.store.create_bucket(&record).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists) => {
            // AWS's legacy behaviour: re-creating one's own bucket in us-east-1
            // succeeds; every other region answers BucketAlreadyOwnedByYou.
            let existing = api.store.get_bucket(&name).await.map_err(internal)?;
            if existing
                .as_ref()
                .is_some_and(|b| crate::auth::bucket_owner(b, &api.default_owner) != owner)
            {
                return Err(s3_error!(
                    BucketAlreadyExists,
                    "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again."
                ));
            }
            let legacy = region == "us-east-1" && existing.is_some_and(|b| b.region == "us-east-1");
            if !legacy {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "Your previous request to create the named bucket succeeded and you already own it: {name}"
                ));
            }
        }
        Err(e) => return Err(internal(e)),
    }
    Ok(CreateBucketOutput {
        location: Some(format!("/{name}")),
    })
}

pub(super) async fn head_bucket(api: &S3Api, input: HeadBucketInput) -> S3Result<HeadBucketOutput> {
    let bucket = api.existing_bucket(&input.bucket).await?;
    Ok(HeadBucketOutput {
        bucket_region: Some(bucket.region),
        ..Default::default()
    })
}

pub(super) async fn delete_bucket(
    api: &S3Api,
    input: DeleteBucketInput,
) -> S3Result<DeleteBucketOutput> {
    let name = &input.bucket;
    match api.store.delete_bucket(name).await {
        Ok(()) => Ok(DeleteBucketOutput {}),
        Err(StoreError::NotFound) => Err(no_such_bucket(name)),
        Err(StoreError::Conflict) => Err(s3_error!(
            BucketNotEmpty,
            "The bucket you tried to delete is not empty: {name}"
        )),
        Err(e) => Err(internal(e)),
    }
}

pub(super) async fn get_bucket_location(
    api: &S3Api,
    input: GetBucketLocationInput,
) -> S3Result<GetBucketLocationOutput> {
    let bucket = api.existing_bucket(&input.bucket).await?;
    // us-east-1 is the empty constraint, as in AWS.
    let location_constraint =
        (bucket.region != "us-east-1").then(|| BucketLocationConstraint::from(bucket.region));
    Ok(GetBucketLocationOutput {
        location_constraint,
    })
}

pub(super) async fn get_bucket_tagging(
    api: &S3Api,
    input: GetBucketTaggingInput,
) -> S3Result<GetBucketTaggingOutput> {
    let bucket = api.existing_bucket(&input.bucket).await?;
    let tags = bucket_tags(&bucket.document);
    if tags.is_empty() {
        return Err(s3_error!(
            NoSuchTagSet,
            "The TagSet does not exist: {}",
            bucket.name
        ));
    }
    Ok(GetBucketTaggingOutput {
        tag_set: tags
            .into_iter()
            .map(|t| Tag {
                key: Some(t.key),
                value: Some(t.value),
            })
            .collect(),
    })
}

pub(super) async fn put_bucket_tagging(
    api: &S3Api,
    input: PutBucketTaggingInput,
) -> S3Result<PutBucketTaggingOutput> {
    let tags = validate_tags(&input.tagging.tag_set)?;
    set_tags(api, &input.bucket, Some(&tags)).await?;
    Ok(PutBucketTaggingOutput::default())
}

pub(super) async fn delete_bucket_tagging(
    api: &S3Api,
    input: DeleteBucketTaggingInput,
) -> S3Result<DeleteBucketTaggingOutput> {
    set_tags(api, &input.bucket, None).await?;
    Ok(DeleteBucketTaggingOutput::default())
}

/// Replaces (or with `None` removes) the tags in a bucket's document, keeping its other
/// fields (one read-modify-write of [`crate::config::update_document`]).
async fn set_tags(api: &S3Api, bucket: &str, tags: Option<&[StoredTag]>) -> S3Result<()> {
    api.update_document(bucket, |doc| {
        *doc = crate::config::BucketDocument::parse(&with_tags(&doc.to_json(), tags));
        Ok(())
    })
    .await
}
