//! Log groups as durable documents: what is stored, the names and ARNs, and the rules
//! of retention and tags.
//!
//! A group is one JSON document ([`LogGroup`]) in the store's document table, kind
//! [`CatalogKind::LogGroup`], keyed by its name: the table is keyed `(kind, id)` and
//! the document is opaque to it, so no migration was needed. Changes are optimistic
//! read-modify-writes on the document's version ([`update`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_store::{
    CatalogKind, CatalogRecord, Modified, ServiceCatalogStore, StoreError, catalog_modify,
};
use serde::{Deserialize, Serialize};

use crate::error::{LogsError, invalid};

pub(crate) type Result<T> = std::result::Result<T, LogsError>;

/// Where ARNs point: the server's region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    fn arn(&self, resource: impl std::fmt::Display) -> String {
        sagestack_engine::arn(&self.region, &self.account_id, "logs", resource)
    }

    /// `arn:aws:logs:{region}:{account}:log-group:{name}:*`, the group's `arn`.
    pub fn group_arn(&self, name: &str) -> String {
        self.arn(format_args!("log-group:{name}:*"))
    }

    /// The same without `:*` (`logGroupArn`, and what tagging operations take).
    pub fn group_arn_bare(&self, name: &str) -> String {
        self.arn(format_args!("log-group:{name}"))
    }

    /// `...:log-group:{group}:log-stream:{stream}`.
    pub fn stream_arn(&self, group: &str, stream: &str) -> String {
        self.arn(format_args!("log-group:{group}:log-stream:{stream}"))
    }
}

/// The group named by a `logGroupIdentifier`: a name, or a log group ARN (with or
/// without `:*`).
pub fn name_from_identifier(identifier: &str) -> Result<String> {
    if !identifier.starts_with("arn:") {
        return Ok(identifier.to_string());
    }
    let bad = || invalid(format!("Invalid log group ARN: {identifier}"));
    let (_, rest) = identifier.split_once(":log-group:").ok_or_else(bad)?;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    if name.is_empty() || name.contains(':') {
        return Err(bad());
    }
    Ok(name.to_string())
}

/// The values `retentionInDays` may take.
pub const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// AWS's refusal of any other value.
/// A log group's `kmsKeyId` must be a KMS key's ARN (`arn:aws:kms:REGION:ACCOUNT:key/ID`);
/// with no KMS here, a key "is found" when its ARN has that shape.
pub fn check_kms_key(key: &str) -> Result<()> {
    let parts: Vec<&str> = key.splitn(6, ':').collect();
    let found = matches!(
        parts.as_slice(),
        ["arn", partition, "kms", region, account, resource]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty())
    );
    if found {
        Ok(())
    } else {
        Err(invalid("The specified KMS Key Id could not be found."))
    }
}

pub fn check_retention(days: i32) -> Result<()> {
    if RETENTION_DAYS.contains(&days) {
        return Ok(());
    }
    let set: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
    Err(invalid(format!(
        "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy \
         constraint: Member must satisfy enum value set: [{}]",
        set.join(", ")
    )))
}

/// Tags a group may have.
pub const MAX_TAGS: usize = 50;

/// `tags` merged into `into`, refused past [`MAX_TAGS`].
pub fn merge_tags(
    into: &mut BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
) -> Result<()> {
    let mut merged = into.clone();
    merged.extend(tags);
    if merged.len() > MAX_TAGS {
        return Err(LogsError::TooManyTags(format!(
            "A resource can have no more than {MAX_TAGS} tags."
        )));
    }
    *into = merged;
    Ok(())
}

/// The name rules the model states for `logGroupName`, for callers that bypass the
/// model (Lambda's appends, the CloudFormation provider).
pub fn check_name(name: &str) -> Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-_/#".contains(&b));
    if name.is_empty() || name.len() > 512 || !ok_chars {
        return Err(invalid(format!(
            "1 validation error detected: Value '{name}' at 'logGroupName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
        )));
    }
    Ok(())
}

/// One stored log group (the store's opaque document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroup {
    pub log_group_name: String,
    /// Epoch milliseconds.
    pub creation_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i32>,
    /// With `:*`, as DescribeLogGroups' `arn`.
    pub arn: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default = "standard")]
    pub log_group_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

fn standard() -> String {
    "STANDARD".into()
}

impl LogGroup {
    /// A new group's document.
    pub fn new(scope: &Scope, name: &str, now: i64) -> LogGroup {
        LogGroup {
            log_group_name: name.to_string(),
            creation_time: now,
            retention_in_days: None,
            arn: scope.group_arn(name),
            tags: BTreeMap::new(),
            log_group_class: standard(),
            kms_key_id: None,
        }
    }

    fn record(&self, version: i64) -> Result<CatalogRecord> {
        let document =
            serde_json::to_string(self).map_err(|e| LogsError::Internal(e.to_string()))?;
        Ok(CatalogRecord {
            id: self.log_group_name.clone(),
            name: None,
            version,
            created_micros: self.creation_time.saturating_mul(1000),
            document: Arc::from(document),
        })
    }
}

/// The stored group and its version.
pub(crate) fn parse(record: &CatalogRecord) -> Result<LogGroup> {
    serde_json::from_str(&record.document)
        .map_err(|e| LogsError::Internal(format!("stored log group is unreadable: {e}")))
}

/// Stores a new group; `GroupAlreadyExists` if the name is taken.
pub(crate) async fn insert(store: &dyn ServiceCatalogStore, group: &LogGroup) -> Result<()> {
    match store
        .catalog_insert(CatalogKind::LogGroup, &group.record(1)?)
        .await
    {
        Ok(()) => Ok(()),
        Err(StoreError::AlreadyExists) => Err(LogsError::GroupAlreadyExists),
        Err(e) => Err(e.into()),
    }
}

/// The stored group `name`, if any.
pub(crate) async fn get(store: &dyn ServiceCatalogStore, name: &str) -> Result<Option<LogGroup>> {
    match store.catalog_get(CatalogKind::LogGroup, name).await? {
        Some(r) => Ok(Some(parse(&r)?)),
        None => Ok(None),
    }
}

/// Times [`update`] retries a write that lost a race.
const UPDATE_ATTEMPTS: usize = 8;

/// Applies `change` to the stored group `name` and writes it back if the stored version
/// did not move meanwhile (read again and retried otherwise). `GroupNotFound` if absent.
pub(crate) async fn update(
    store: &dyn ServiceCatalogStore,
    name: &str,
    change: impl Fn(&mut LogGroup) -> Result<()>,
) -> Result<LogGroup> {
    let modified = catalog_modify(
        store,
        CatalogKind::LogGroup,
        name,
        UPDATE_ATTEMPTS,
        |r| -> Result<_> {
            let mut group = parse(r)?;
            change(&mut group)?;
            let written = group.record(r.version + 1)?.document;
            Ok((group, written))
        },
    );
    match modified.await? {
        Modified::Written(group, _) => Ok(group),
        Modified::Gone => Err(LogsError::GroupNotFound),
        Modified::Contended => Err(LogsError::OperationAborted(
            "Multiple concurrent operations on the log group; try again.".into(),
        )),
    }
}

/// Every stored group (the store lists by creation time; callers sort by name).
pub(crate) async fn all(store: &dyn ServiceCatalogStore) -> Result<Vec<LogGroup>> {
    let records = sagestack_store::catalog_all(store, CatalogKind::LogGroup).await?;
    records.iter().map(parse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
        }
    }

    #[test]
    fn arns_and_identifiers() {
        let s = scope();
        assert_eq!(
            s.group_arn("/aws/lambda/f"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/f:*"
        );
        assert_eq!(
            s.stream_arn("g", "2024/01/01/[$LATEST]abc"),
            "arn:aws:logs:eu-west-1:123456789012:log-group:g:log-stream:2024/01/01/[$LATEST]abc"
        );
        assert_eq!(name_from_identifier("plain").unwrap(), "plain");
        assert_eq!(name_from_identifier(&s.group_arn("a/b")).unwrap(), "a/b");
        assert_eq!(
            name_from_identifier(&s.group_arn_bare("a/b")).unwrap(),
            "a/b"
        );
        assert!(name_from_identifier("arn:aws:s3:::bucket").is_err());
        let cn = Scope {
            region: "cn-north-1".into(),
            ..scope()
        };
        assert!(cn.group_arn("g").starts_with("arn:aws-cn:logs:cn-north-1:"));
    }

    #[test]
    fn retention_and_names() {
        assert!(check_retention(14).is_ok());
        let e = check_retention(8).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "1 validation error detected: Value '8' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14,"
            ),
            "{e}"
        );
        assert!(check_name("/aws/lambda/my-fn_1.x#y").is_ok());
        for bad in ["", "has space", "a:b", &"x".repeat(513)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags_merge_within_the_limit() {
        let mut tags = BTreeMap::from([("a".to_string(), "1".to_string())]);
        merge_tags(
            &mut tags,
            BTreeMap::from([("a".into(), "2".into()), ("b".into(), "3".into())]),
        )
        .unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags["a"], "2");
        let many: BTreeMap<String, String> =
            (0..49).map(|i| (format!("k{i}"), "v".into())).collect();
        let e = merge_tags(&mut tags, many).unwrap_err();
        assert!(matches!(e, LogsError::TooManyTags(_)));
        assert_eq!(tags.len(), 2, "unchanged on refusal");
    }

    #[test]
    fn documents_round_trip() {
        let mut g = LogGroup::new(&scope(), "g", 1_700_000_000_123);
        g.retention_in_days = Some(7);
        g.tags.insert("team".into(), "ml".into());
        let r = g.record(3).unwrap();
        assert_eq!((r.id.as_str(), r.version), ("g", 3));
        assert_eq!(r.created_micros, 1_700_000_000_123_000);
        assert_eq!(parse(&r).unwrap(), g);
        let v: serde_json::Value = serde_json::from_str(&r.document).unwrap();
        assert_eq!(v["logGroupName"], "g");
        assert_eq!(v["retentionInDays"], 7);
    }
}
