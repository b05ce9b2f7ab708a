//! Multipart uploads: create, upload a part, complete (assembling the parts within the
//! in-flight budget), abort, and list parts and uploads. Never writes an object except
//! by completing its upload.

use super::*;

pub(super) async fn create_multipart_upload(
    api: &S3Api,
    input: CreateMultipartUploadInput,
) -> S3Result<CreateMultipartUploadOutput> {
    let document = document_of!(input);
    // Upload ids are opaque to clients; a random UUID's hex cannot collide in
    // practice (and a collision would be refused by the store, not merged).
    let upload_id = uuid::Uuid::new_v4().simple().to_string();
    let upload = UploadRecord {
        upload_id: upload_id.clone(),
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_micros: now_micros(),
        document: document.to_json(),
    };
    api.store
        .create_upload(&upload)
        .await
        .map_err(bucket_error(&input.bucket))?;
    Ok(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(upload_id),
        ..Default::default()
    })
}

pub(super) async fn upload_part(api: &S3Api, input: UploadPartInput) -> S3Result<UploadPartOutput> {
    if !(1..=MAX_PART_NUMBER).contains(&input.part_number) {
        return Err(s3_error!(
            InvalidArgument,
            "Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive"
        ));
    }
    api.existing_upload(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let (body, _reservation) = api.read_body(input.body, input.content_length).await?;
    check_content_md5(input.content_md5.as_deref(), &body)?;
    let part = PartRecord {
        part_number: input.part_number,
        size: body.len() as i64,
        etag: etag_of(&body),
        last_modified_micros: now_micros(),
    };
    api.store
        .put_part(&input.upload_id, &part, body)
        .await
        .map_err(upload_error(&input.upload_id))?;
    Ok(UploadPartOutput {
        e_tag: Some(etag(&part.etag)),
        ..Default::default()
    })
}

pub(super) async fn complete_multipart_upload(
    api: &S3Api,
    input: CompleteMultipartUploadInput,
    host: String,
) -> S3Result<CompleteMultipartUploadOutput> {
    let upload = api
        .existing_upload(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let requested = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema: at least one part is required"
        ));
    }
    let mut numbers = Vec::with_capacity(requested.len());
    for p in &requested {
        let n = p.part_number.unwrap_or(0);
        if numbers.last().is_some_and(|last| n <= *last) {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified in order by part number."
            ));
        }
        numbers.push(n);
    }
    let stored: HashMap<i32, PartRecord> = api
        .store
        .list_parts(&input.upload_id)
        .await
        .map_err(upload_error(&input.upload_id))?
        .into_iter()
        .map(|p| (p.part_number, p))
        .collect();
    let invalid_part = |n: i32| {
        s3_error!(
            InvalidPart,
            "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag (part {n})."
        )
    };
    let mut chosen: Vec<&PartRecord> = Vec::with_capacity(requested.len());
    for p in &requested {
        let n = p.part_number.unwrap_or(0);
        let part = stored.get(&n).ok_or_else(|| invalid_part(n))?;
        if let Some(given) = &p.e_tag
            && given.value() != unquote(&part.etag)
        {
            return Err(invalid_part(n));
        }
        chosen.push(part);
    }
    let last = chosen.len() - 1;
    if let Some((i, small)) = chosen
        .iter()
        .enumerate()
        .find(|(i, p)| *i < last && p.size < MIN_PART_SIZE)
    {
        return Err(s3_error!(
            EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size: part {} is {} bytes, the minimum for all but the last part is {MIN_PART_SIZE} (position {})",
            small.part_number,
            small.size,
            i + 1
        ));
    }
    let total: i64 = chosen.iter().map(|p| p.size).sum();
    let total_bytes = u64::try_from(total).unwrap_or(u64::MAX);
    if total_bytes > api.limit() {
        return Err(too_large(api.limit()));
    }
    // Held while the parts are read, assembled and written as one object.
    let _reservation = api.budget.reserve(total_bytes).await;
    let bodies = api
        .store
        .get_parts(&input.upload_id, &numbers)
        .await
        .map_err(upload_error(&input.upload_id))?;
    let mut body = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
    // Each part is dropped once copied, so the parts and the object are not both
    // held whole.
    for (b, n) in bodies.into_iter().zip(&numbers) {
        // A part replaced or removed between the two reads (a concurrent
        // UploadPart) is caught here rather than assembled.
        let b = b.ok_or_else(|| invalid_part(*n))?;
        body.extend_from_slice(&b);
    }
    if body.len() as i64 != total {
        return Err(invalid_part(*numbers.last().unwrap_or(&0)));
    }
    let etags: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
    let object_etag = multipart_etag(&etags)?;
    let mut doc = ObjectDocument::parse(&upload.document);
    doc.parts_count = Some(chosen.len() as i32);
    let meta = ObjectMeta {
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        size: total,
        etag: object_etag.clone(),
        last_modified_micros: now_micros(),
        document: doc.to_json(),
    };
    api.store
        .complete_upload(&input.upload_id, &meta, body.freeze())
        .await
        .map_err(upload_error(&input.upload_id))?;
    Ok(CompleteMultipartUploadOutput {
        bucket: Some(input.bucket.clone()),
        key: Some(input.key.clone()),
        e_tag: Some(etag(&object_etag)),
        location: Some(format!(
            "http://{host}/{}/{}",
            input.bucket,
            url_encode(&input.key)
        )),
        ..Default::default()
    })
}

pub(super) async fn abort_multipart_upload(
    api: &S3Api,
    input: AbortMultipartUploadInput,
) -> S3Result<AbortMultipartUploadOutput> {
    api.existing_upload(&input.bucket, &input.key, &input.upload_id)
        .await?;
    if !api
        .store
        .abort_upload(&input.upload_id)
        .await
        .map_err(internal)?
    {
        return Err(no_such_upload(&input.upload_id));
    }
    Ok(AbortMultipartUploadOutput::default())
}

pub(super) async fn list_parts(api: &S3Api, input: ListPartsInput) -> S3Result<ListPartsOutput> {
    api.existing_upload(&input.bucket, &input.key, &input.upload_id)
        .await?;
    let max = max_items(input.max_parts, "max-parts")?;
    let marker = input.part_number_marker.unwrap_or(0);
    let parts = api
        .store
        .list_parts(&input.upload_id)
        .await
        .map_err(upload_error(&input.upload_id))?;
    let mut after: Vec<PartRecord> = parts
        .into_iter()
        .filter(|p| p.part_number > marker)
        .collect();
    let truncated = after.len() > max;
    after.truncate(max);
    let next = truncated
        .then(|| after.last().map(|p| p.part_number))
        .flatten();
    Ok(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        max_parts: Some(max as i32),
        part_number_marker: input.part_number_marker,
        next_part_number_marker: next,
        is_truncated: Some(truncated),
        initiator: Some(initiator()),
        owner: Some(owner()),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        parts: Some(
            after
                .into_iter()
                .map(|p| Part {
                    e_tag: Some(etag(&p.etag)),
                    last_modified: Some(timestamp(p.last_modified_micros)),
                    part_number: Some(p.part_number),
                    size: Some(p.size),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    })
}

pub(super) async fn list_multipart_uploads(
    api: &S3Api,
    input: ListMultipartUploadsInput,
) -> S3Result<ListMultipartUploadsOutput> {
    let encode = url_encoding(input.encoding_type.as_ref())?;
    let max = max_items(input.max_uploads, "max-uploads")?;
    let uploads = api
        .store
        .list_uploads(&input.bucket)
        .await
        .map_err(bucket_error(&input.bucket))?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input.upload_id_marker.clone();
    let mut out = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut id_marker_seen = false;
    let mut next: Option<(String, Option<String>)> = None;
    for u in uploads {
        if !u.key.starts_with(&prefix) {
            continue;
        }
        // After (key-marker, upload-id-marker): keys after the marker, or the
        // marker's key with uploads after the upload id marker (by store order).
        // Uploads of the marker's key come after the upload-id-marker in the
        // store's order (initiation time); without that marker, none of them.
        let past_marker = if key_marker.is_empty() || u.key.as_str() > key_marker.as_str() {
            true
        } else if u.key == key_marker {
            let past = id_marker_seen;
            if id_marker.as_deref() == Some(u.upload_id.as_str()) {
                id_marker_seen = true;
            }
            past
        } else {
            false
        };
        if !past_marker {
            continue;
        }
        let common = delimiter.as_deref().and_then(|d| {
            u.key[prefix.len()..]
                .find(d)
                .map(|at| u.key[..prefix.len() + at + d.len()].to_owned())
        });
        if let Some(cp) = &common
            && prefixes.last() == Some(cp)
        {
            continue;
        }
        if out.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        match common {
            Some(cp) => {
                next = Some((cp.clone(), None));
                prefixes.push(cp);
            }
            None => {
                next = Some((u.key.clone(), Some(u.upload_id.clone())));
                out.push(MultipartUpload {
                    initiated: Some(timestamp(u.initiated_micros)),
                    initiator: Some(initiator()),
                    key: Some(if encode { url_encode(&u.key) } else { u.key }),
                    owner: Some(owner()),
                    storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                    upload_id: Some(u.upload_id),
                    ..Default::default()
                });
            }
        }
    }
    let (next_key_marker, next_upload_id_marker) = match next.filter(|_| truncated) {
        Some((k, id)) => (Some(k), id),
        None => (None, None),
    };
    Ok(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        common_prefixes: common_prefixes(prefixes, encode),
        delimiter: maybe_encode(input.delimiter, encode),
        encoding_type: input.encoding_type,
        is_truncated: Some(truncated),
        key_marker: Some(maybe_encode(input.key_marker, encode).unwrap_or_default()),
        max_uploads: Some(max as i32),
        next_key_marker: maybe_encode(next_key_marker, encode),
        next_upload_id_marker,
        prefix: Some(maybe_encode(input.prefix, encode).unwrap_or_default()),
        upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
        uploads: Some(out),
        ..Default::default()
    })
}
