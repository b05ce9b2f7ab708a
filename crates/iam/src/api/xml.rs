//! How IAM writes a role and its parts in XML: ISO 8601 dates to the second, and
//! policy documents URL-encoded (as IAM sends them; botocore and the Terraform
//! provider decode them).

use sagestack_engine::iso8601_millis;
use sagestack_protocol::query::Xml;
use sagestack_store::RoleRecord;

use crate::document::{RoleDocument, Tag};

/// `2024-05-01T12:00:00Z`: IAM's dates carry no fraction.
pub fn date(micros: i64) -> String {
    let text = iso8601_millis(micros.div_euclid(1000));
    match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters; a space is `%20`
/// (botocore decodes with `unquote`, which leaves a `+` as it is).
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3 / 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `Role`. Listings (`ListRoles`) leave out the permissions boundary, tags and
/// last use, as IAM's do.
pub fn role(record: &RoleRecord, listing: bool) -> Xml {
    let doc = RoleDocument::of(record);
    let mut xml = Xml::new()
        .text("Path", doc.path())
        .text("RoleName", &record.name)
        .text("RoleId", &record.role_id)
        .text("Arn", &record.arn)
        .text("CreateDate", date(record.creation_micros))
        .opt_text(
            "AssumeRolePolicyDocument",
            doc.assume_role_policy().map(|t| url_encode(&t)),
        )
        .opt_text("Description", doc.description().filter(|d| !d.is_empty()))
        .text("MaxSessionDuration", doc.max_session_duration().to_string())
        .opt_text(
            "MaxSigninSessionDuration",
            doc.max_signin_session_duration().map(|s| s.to_string()),
        );
    if listing {
        return xml;
    }
    if let Some(arn) = doc.permissions_boundary() {
        xml = xml.element(
            "PermissionsBoundary",
            Xml::new()
                .text("PermissionsBoundaryType", "PermissionsBoundaryPolicy")
                .text("PermissionsBoundaryArn", arn),
        );
    }
    let tags = doc.tags();
    if !tags.is_empty() {
        xml = xml.list("Tags", tags.iter().map(tag));
    }
    xml.element("RoleLastUsed", Xml::new())
}

pub fn tag(t: &Tag) -> Xml {
    Xml::new().text("Key", &t.key).text("Value", &t.value)
}

/// `IsTruncated` and, when it is, `Marker`.
pub fn paged(xml: Xml, marker: Option<String>) -> Xml {
    xml.text(
        "IsTruncated",
        if marker.is_some() { "true" } else { "false" },
    )
    .opt_text("Marker", marker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_encoding() {
        assert_eq!(date(1_700_000_000_123_456), "2023-11-14T22:13:20Z");
        assert_eq!(
            url_encode(r#"{"Sid": "a b+c/ü"}"#),
            "%7B%22Sid%22%3A%20%22a%20b%2Bc%2F%C3%BC%22%7D"
        );
    }
}
