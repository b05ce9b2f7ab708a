//! Small value helpers: clocks, MD5 ETags and digests, bucket names, conditions.

use super::*;

pub(super) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(super) fn timestamp(micros: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0)))
}

pub(super) fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// The quoted ETag S3 gives a body: its MD5 in hex (the console's uploads store the same).
pub fn etag_of(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(md5(data)))
}

/// The stored (quoted) ETag as s3s's type (which adds the quotes on the wire).
pub(super) fn etag(stored: &str) -> ETag {
    ETag::Strong(unquote(stored).to_owned())
}

pub(super) fn unquote(etag: &str) -> &str {
    etag.trim_matches('"')
}

/// Checks `Content-MD5` (base64 of the body's MD5): `InvalidDigest` when it is not a
/// base64 MD5, `BadDigest` when it differs.
pub(super) fn check_content_md5(content_md5: Option<&str>, body: &[u8]) -> S3Result<()> {
    let Some(given) = content_md5 else {
        return Ok(());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(given.trim())
        .ok()
        .filter(|d| d.len() == 16)
        .ok_or_else(|| s3_error!(InvalidDigest, "The Content-MD5 you specified is not valid."))?;
    if decoded != md5(body) {
        return Err(s3_error!(
            BadDigest,
            "The Content-MD5 you specified did not match what we received."
        ));
    }
    Ok(())
}

/// AWS's bucket naming rules (general purpose buckets).
pub fn validate_bucket_name(name: &str) -> Result<(), &'static str> {
    let b = name.as_bytes();
    if !(3..=63).contains(&b.len()) {
        return Err("Bucket names must be between 3 and 63 characters long");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return Err(
            "Bucket names can consist only of lowercase letters, numbers, dots (.), and hyphens (-)",
        );
    }
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return Err("Bucket names must begin and end with a letter or number");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err(
            "Bucket names must not contain two adjacent periods or a period next to a hyphen",
        );
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err("Bucket names must not be formatted as an IP address");
    }
    if ["xn--", "sthree-", "amzn-s3-demo-"]
        .iter()
        .any(|p| name.starts_with(p))
        || ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"]
            .iter()
            .any(|s| name.ends_with(s))
    {
        return Err("Bucket names must not use a reserved prefix or suffix");
    }
    Ok(())
}

/// Who initiated an upload: the one owner.
pub(super) fn initiator() -> Initiator {
    Initiator {
        display_name: Some(OWNER_NAME.to_owned()),
        id: Some(OWNER_ID.to_owned()),
    }
}

pub(super) fn owner() -> Owner {
    Owner {
        display_name: Some(OWNER_NAME.to_owned()),
        id: Some(OWNER_ID.to_owned()),
    }
}

/// Checks `If-Match` / `If-None-Match` against an object's ETag: `412
/// PreconditionFailed` / `304 NotModified`.
pub(super) fn check_conditions(
    stored_etag: &str,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let matches = |c: &ETagCondition| match c {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value() == unquote(stored_etag),
    };
    if if_match.is_some_and(|c| !matches(c)) {
        return Err(s3_error!(
            PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold"
        ));
    }
    if if_none_match.is_some_and(matches) {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

/// The multipart ETag: MD5 of the concatenated binary part MD5s, dash, part count.
pub(super) fn multipart_etag(part_etags: &[&str]) -> S3Result<String> {
    let mut all = Vec::with_capacity(part_etags.len() * 16);
    for e in part_etags {
        let raw = hex::decode(unquote(e))
            .map_err(|_| s3_error!(InternalError, "a stored part ETag is not an MD5: {e}"))?;
        all.extend_from_slice(&raw);
    }
    Ok(format!(
        "\"{}-{}\"",
        hex::encode(md5(&all)),
        part_etags.len()
    ))
}

/// The account the request acts for ([`crate::auth::BucketAccess`] sets it); `None` in
/// calls made without s3s's access check (tests of the operations alone).
pub(super) fn caller_account<T>(req: &S3Request<T>) -> Option<String> {
    req.extensions
        .get::<crate::auth::CallerAccount>()
        .map(|c| c.0.clone())
}

pub(super) fn request_host<T>(req: &S3Request<T>) -> String {
    req.headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned()
}
