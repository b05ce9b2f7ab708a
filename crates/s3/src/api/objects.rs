//! Object operations: put, get (ranges, conditions), head, delete (one or many), copy.
//! Bodies are read and held within the in-flight budget; never lists keys.

use super::*;

pub(super) async fn put_object(api: &S3Api, input: PutObjectInput) -> S3Result<PutObjectOutput> {
    if input.write_offset_bytes.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "Appending to objects is not supported"
        ));
    }
    let (body, _reservation) = api.read_body(input.body, input.content_length).await?;
    check_content_md5(input.content_md5.as_deref(), &body)?;
    if input
        .if_none_match
        .as_ref()
        .is_some_and(ETagCondition::is_any)
    {
        // Conditional create (If-None-Match: *). Checked before the write, not in
        // its transaction: two racing conditional puts may both succeed.
        if api
            .store
            .head_object(&input.bucket, &input.key)
            .await
            .map_err(bucket_error(&input.bucket))?
            .is_some()
        {
            return Err(s3_error!(
                PreconditionFailed,
                "At least one of the pre-conditions you specified did not hold"
            ));
        }
    }
    let document = document_of!(input);
    let etag_value = etag_of(&body);
    let meta = ObjectMeta {
        bucket: input.bucket.clone(),
        key: input.key,
        size: body.len() as i64,
        etag: etag_value.clone(),
        last_modified_micros: now_micros(),
        document: document.to_json(),
    };
    api.store
        .put_object(&meta, body)
        .await
        .map_err(bucket_error(&input.bucket))?;
    Ok(PutObjectOutput {
        e_tag: Some(etag(&etag_value)),
        size: Some(meta.size),
        ..Default::default()
    })
}

pub(super) async fn get_object(api: &S3Api, input: GetObjectInput) -> S3Result<GetObjectOutput> {
    if input.part_number.is_some() {
        return Err(s3_error!(
            NotImplemented,
            "GetObject by part number is not supported"
        ));
    }
    // Room for the body is reserved before it is read, by its stored size (an
    // object replaced in between by a larger one overshoots by the difference).
    let size = api.existing_meta(&input.bucket, &input.key).await?.size;
    let mut reservation = api.budget.reserve(u64::try_from(size).unwrap_or(0)).await;
    let object = api.existing_object(&input.bucket, &input.key).await?;
    // The store's copies are gone; the body itself stays until it has been sent.
    reservation.shrink_to(object.body.len() as u64);
    let meta = object.meta;
    check_conditions(
        &meta.etag,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )?;
    let total = object.body.len() as u64;
    let (body, content_range) = match input.range {
        None => (object.body, None),
        Some(range) => {
            let r = range.check(total).map_err(|_| {
                s3_error!(
                    InvalidRange,
                    "The requested range is not satisfiable (object size {total})"
                )
            })?;
            let content_range = format!("bytes {}-{}/{total}", r.start, r.end - 1);
            (
                object.body.slice(r.start as usize..r.end as usize),
                Some(content_range),
            )
        }
    };
    let output = representation!(GetObjectOutput {
        content_length: Some(body.len() as i64),
        content_range: content_range,
        body: Some(StreamingBlob::new(BudgetedBody::new(body, reservation))),
    } from &meta);
    Ok(output)
}

pub(super) async fn head_object(api: &S3Api, input: HeadObjectInput) -> S3Result<HeadObjectOutput> {
    let meta = api.existing_meta(&input.bucket, &input.key).await?;
    check_conditions(
        &meta.etag,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )?;
    Ok(representation!(HeadObjectOutput {
        content_length: Some(meta.size),
    } from &meta))
}

pub(super) async fn delete_object(
    api: &S3Api,
    input: DeleteObjectInput,
) -> S3Result<DeleteObjectOutput> {
    // Deleting an absent key succeeds (204), as in S3.
    api.store
        .delete_object(&input.bucket, &input.key)
        .await
        .map_err(bucket_error(&input.bucket))?;
    Ok(DeleteObjectOutput::default())
}

pub(super) async fn delete_objects(
    api: &S3Api,
    input: DeleteObjectsInput,
) -> S3Result<DeleteObjectsOutput> {
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > 1000 {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema (1 to 1000 keys)"
        ));
    }
    api.existing_bucket(&input.bucket).await?;
    let quiet = input.delete.quiet.unwrap_or(false);
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for o in objects {
        match api.store.delete_object(&input.bucket, &o.key).await {
            Ok(_) => {
                if !quiet {
                    // A version named (the `null` one, all there is here) is echoed.
                    deleted.push(DeletedObject {
                        key: Some(o.key),
                        version_id: o.version_id,
                        ..Default::default()
                    });
                }
            }
            Err(e) => errors.push(delete_error(&input.bucket, o.key, e)),
        }
    }
    Ok(DeleteObjectsOutput {
        deleted: Some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    })
}

pub(super) async fn copy_object(api: &S3Api, input: CopyObjectInput) -> S3Result<CopyObjectOutput> {
    let (src_bucket, src_key) = match &input.copy_source {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => {
            if version_id.is_some() {
                return Err(s3_error!(
                    NotImplemented,
                    "Copying a specific version is not supported (no versioning)"
                ));
            }
            (bucket.to_string(), key.to_string())
        }
        _ => {
            return Err(s3_error!(
                NotImplemented,
                "Copying from an access point or outpost is not supported"
            ));
        }
    };
    let replace = input
        .metadata_directive
        .as_ref()
        .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
    if src_bucket == input.bucket && src_key == input.key && !replace {
        return Err(s3_error!(
            InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
        ));
    }
    let size = api.existing_meta(&src_bucket, &src_key).await?.size;
    let size = u64::try_from(size).unwrap_or(0);
    if size > api.limit() {
        return Err(too_large(api.limit()));
    }
    // Held while the body is read and written again.
    let _reservation = api.budget.reserve(size).await;
    let source = api.existing_object(&src_bucket, &src_key).await?;
    check_conditions(&source.meta.etag, input.copy_source_if_match.as_ref(), None)?;
    if input
        .copy_source_if_none_match
        .as_ref()
        .is_some_and(|c| check_conditions(&source.meta.etag, None, Some(c)).is_err())
    {
        // For copies a matching If-None-Match is a failed precondition, not 304.
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    let document = if replace {
        document_of!(input).to_json()
    } else {
        source.meta.document.clone()
    };
    let meta = ObjectMeta {
        bucket: input.bucket.clone(),
        key: input.key,
        size: source.meta.size,
        etag: source.meta.etag.clone(),
        last_modified_micros: now_micros(),
        document,
    };
    api.store
        .put_object(&meta, source.body)
        .await
        .map_err(bucket_error(&input.bucket))?;
    Ok(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&meta.etag)),
            last_modified: Some(timestamp(meta.last_modified_micros)),
            ..Default::default()
        }),
        ..Default::default()
    })
}
