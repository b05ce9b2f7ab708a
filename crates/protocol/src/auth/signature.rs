//! SigV4 as a verifier computes it: what the request claims (credential scope, signed
//! headers, date, signature), the canonical request built from the request as received,
//! and the signature a secret gives it. The HMAC chain is `aws-sigv4`'s; the canonical
//! request is built here because a verifier must follow the client's `SignedHeaders`
//! list, where a signer chooses its own.
//!
//! Work is bounded by the request head, which the guard caps (16 KiB target, hyper's
//! header limits), and by the body the framing already holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::request::Parts;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::sigv4::AuthError;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// SigV4's unreserved characters are kept; everything else is `%XX`.
const STRICT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/` (a path's separators).
const PATH: &AsciiSet = &STRICT.remove(b'/');

/// Longest presigned validity AWS accepts: 7 days.
pub const MAX_EXPIRES_SECONDS: u64 = 604_800;

/// How far a request's date may be from the server's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// What a signed request says about its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub access_key_id: String,
    /// `yyyymmdd` of the credential scope.
    pub scope_date: String,
    pub region: String,
    pub service: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    pub signature: String,
    /// `yyyymmddThhmmssZ`.
    pub amz_date: String,
    /// Presigned: the `X-Amz-Expires` seconds (`None` for header signatures).
    pub expires: Option<u64>,
    pub session_token: Option<String>,
}

impl Claim {
    /// `ak/date/region/service/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.scope_date, self.region, self.service
        )
    }
    pub fn presigned(&self) -> bool {
        self.expires.is_some()
    }
}

/// Reads the claim of a request that passed [`crate::sigv4::check_shape`].
pub fn claim(parts: &Parts) -> Result<Claim, AuthError> {
    match parts.headers.get(http::header::AUTHORIZATION) {
        Some(value) => header_claim(parts, value.to_str().map_err(|_| incomplete())?),
        None => presigned_claim(parts),
    }
}

fn incomplete() -> AuthError {
    AuthError::IncompleteSignature("The Authorization header is not well-formed".into())
}

fn header_claim(parts: &Parts, value: &str) -> Result<Claim, AuthError> {
    let params = value.strip_prefix(ALGORITHM).ok_or_else(incomplete)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for pair in params.split(',') {
        match pair.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete());
    };
    let amz_date = match header(parts, "x-amz-date") {
        Some(d) => d.to_owned(),
        None => header(parts, "date")
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .map(format_amz_date)
            .ok_or_else(|| {
                AuthError::IncompleteSignature("Date must be in ISO-8601 'basic format'".into())
            })?,
    };
    build(
        credential,
        signed,
        signature,
        amz_date,
        None,
        header(parts, "x-amz-security-token").map(str::to_owned),
    )
}

fn presigned_claim(parts: &Parts) -> Result<Claim, AuthError> {
    let query = parts.uri.query().unwrap_or_default();
    let get = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let need = |name: &str| get(name).ok_or_else(incomplete);
    let expires = need("X-Amz-Expires").map_err(|_| {
        AuthError::IncompleteSignature("X-Amz-Expires must be present in a presigned URL".into())
    })?;
    let expires = expires
        .parse::<u64>()
        .ok()
        .filter(|e| (1..=MAX_EXPIRES_SECONDS).contains(e))
        .ok_or_else(|| {
            AuthError::IncompleteSignature(format!(
                "X-Amz-Expires must be a number of seconds from 1 to {MAX_EXPIRES_SECONDS}"
            ))
        })?;
    build(
        &need("X-Amz-Credential")?,
        &need("X-Amz-SignedHeaders")?,
        &need("X-Amz-Signature")?,
        need("X-Amz-Date")?,
        Some(expires),
        get("X-Amz-Security-Token"),
    )
}

fn build(
    credential: &str,
    signed: &str,
    signature: &str,
    amz_date: String,
    expires: Option<u64>,
    session_token: Option<String>,
) -> Result<Claim, AuthError> {
    let scope: Vec<&str> = credential.split('/').collect();
    let [akid, date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete());
    };
    if parse_amz_date(&amz_date).is_none() {
        return Err(AuthError::IncompleteSignature(
            "Date must be in ISO-8601 'basic format'".into(),
        ));
    }
    Ok(Claim {
        access_key_id: akid.to_owned(),
        scope_date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_owned(),
        amz_date,
        expires,
        session_token,
    })
}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Seconds since the epoch of `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

fn format_amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days (the inverse of the above).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The hex SHA-256 of `bytes`, as SigV4 writes payload hashes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hex HMAC-SHA256 of `message` under `key` (SigV4's last step, also how the server
/// signs URLs of its own, such as Lambda code locations).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    aws_sigv4::sign::v4::calculate_signature(key, message)
}

/// The canonical request of `parts` under `claim`, with `payload_hash` as its last line.
pub fn canonical_request(parts: &Parts, claim: &Claim, payload_hash: &str) -> String {
    let mut out = String::with_capacity(512);
    out.push_str(parts.method.as_str());
    out.push('\n');
    let raw_path = parts.uri.path();
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    // S3 signs the path as sent; every other service signs it encoded once more.
    if claim.service == "s3" {
        out.push_str(path);
    } else {
        out.extend(utf8_percent_encode(path, PATH));
    }
    out.push('\n');
    let query = parts.uri.query().unwrap_or_default();
    if !query.is_empty() {
        let mut pairs: Vec<(String, String)> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .filter(|(k, _)| !(claim.presigned() && *k == "X-Amz-Signature"))
            .map(|(k, v)| (strict(k), strict(v)))
            .collect();
        pairs.sort();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
    }
    out.push('\n');
    for name in &claim.signed_headers {
        out.push_str(name);
        out.push(':');
        let mut values = parts.headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none()
            && name == "host"
            && let Some(authority) = parts.uri.authority()
        {
            out.push_str(authority.as_str());
        }
        for (i, v) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            match v.to_str() {
                Ok(text) => out.push_str(&collapse(text)),
                Err(_) => out.push_str(&collapse(&String::from_utf8_lossy(v.as_bytes()))),
            }
        }
        out.push('\n');
    }
    out.push('\n');
    for (i, name) in claim.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(name);
    }
    out.push('\n');
    out.push_str(payload_hash);
    out
}

/// A query key or value decoded, then encoded as SigV4 wants it.
fn strict(raw: &str) -> String {
    let decoded = percent_decode_str(raw).decode_utf8_lossy();
    utf8_percent_encode(&decoded, STRICT).to_string()
}

/// Trimmed, with each run of spaces folded to one.
fn collapse(value: &str) -> std::borrow::Cow<'_, str> {
    let plain = |c: char| c != ' ' && !c.is_whitespace();
    let folded = value.starts_with(plain) && value.ends_with(plain) && !value.contains("  ");
    if folded && !value.contains(['\t', '\n', '\r']) {
        return value.into(); // the usual case: nothing to fold
    }
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .into()
}

/// The signature `secret` gives the canonical request `canonical` under `claim`.
pub fn signature(secret: &str, claim: &Claim, canonical: &str) -> String {
    signature_with_key(&signing_key(secret, claim), claim, canonical)
}

/// The key `secret` derives for `claim`'s scope (day, region, service): the same for
/// every request of that scope, so a verifier may keep it.
pub fn signing_key(secret: &str, claim: &Claim) -> Vec<u8> {
    let day = parse_amz_date(&format!("{}T000000Z", claim.scope_date)).unwrap_or_default();
    aws_sigv4::sign::v4::generate_signing_key(
        secret,
        UNIX_EPOCH + Duration::from_secs(day),
        &claim.region,
        &claim.service,
    )
    .as_ref()
    .to_vec()
}

/// The signature the derived `key` gives the canonical request under `claim`.
pub fn signature_with_key(key: &[u8], claim: &Claim, canonical: &str) -> String {
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{}\n{}",
        claim.amz_date,
        claim.scope(),
        sha256_hex(canonical.as_bytes())
    );
    hmac_sha256_hex(key, string_to_sign.as_bytes())
}

/// Whether `given` is `expected`, in time that does not depend on where they differ.
pub fn same_signature(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Refuses a request whose date is too far from `now`, or a presigned URL out of its
/// validity window.
pub fn check_time(claim: &Claim, now: SystemTime) -> Result<(), AuthError> {
    let now_secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let signed = parse_amz_date(&claim.amz_date).unwrap_or_default();
    if !claim.amz_date.starts_with(&claim.scope_date) {
        return Err(AuthError::SignatureDoesNotMatch(
            "Credential should be scoped to a valid date matching the request date".into(),
        ));
    }
    let skew = MAX_SKEW.as_secs();
    let now_s = || format_amz_date(now);
    match claim.expires {
        Some(expires) if now_secs > signed.saturating_add(expires) => {
            Err(AuthError::SignatureExpired(format!(
                "Signature expired: {} is now earlier than {} ({} + {expires} s).",
                format_amz_date(UNIX_EPOCH + Duration::from_secs(signed + expires)),
                now_s(),
                claim.amz_date
            )))
        }
        _ if signed > now_secs + skew => Err(AuthError::SignatureExpired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            claim.amz_date,
            format_amz_date(UNIX_EPOCH + Duration::from_secs(now_secs + skew)),
            now_s()
        ))),
        None if signed + skew < now_secs => Err(AuthError::SignatureExpired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            claim.amz_date,
            format_amz_date(UNIX_EPOCH + Duration::from_secs(now_secs - skew)),
            now_s()
        ))),
        _ => Ok(()),
    }
}
