//! The lifecycle configuration: rules in S3's shape, and S3's checks of them. Rules are
//! stored and returned, never run (nothing expires or transitions here).

use serde::{Deserialize, Serialize};

use super::{ConfigError, malformed, one_of};

/// Most rules one configuration may have.
pub const MAX_RULES: usize = 1000;
/// Longest rule `ID`.
pub const MAX_ID: usize = 255;
/// The storage classes a transition may name.
pub const STORAGE_CLASSES: &[&str] = &[
    "GLACIER",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
];
/// `TransitionDefaultMinimumObjectSize` values; the first is S3's default (since
/// September 2024).
pub const MINIMUM_OBJECT_SIZES: &[&str] = &["all_storage_classes_128K", "varies_by_storage_class"];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Lifecycle {
    pub rules: Vec<Rule>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transition_default_minimum_object_size: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    /// Generated ([`generated_id`]) when the request gives none.
    #[serde(rename = "ID")]
    pub id: String,
    pub status: String,
    /// The deprecated rule-level prefix (instead of a `Filter`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transitions: Vec<Transition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub noncurrent_version_transitions: Vec<NoncurrentVersionTransition>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
}

/// One of its members at most (none: every object); `And` combines several.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<FilterTag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub and: Option<And>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct And {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<FilterTag>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_size_greater_than: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_size_less_than: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterTag {
    pub key: String,
    pub value: String,
}

/// Dates are ISO 8601 in UTC with milliseconds (`2030-01-01T00:00:00.000Z`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Expiration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_object_delete_marker: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Transition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionTransition {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer_noncurrent_versions: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_after_initiation: Option<i32>,
}

/// The id S3 gives a rule that names none: the base64 of a random UUID's text (48
/// characters, as S3's generated ids are).
pub fn generated_id() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(uuid::Uuid::new_v4().to_string())
}

/// A date as a rule stores it: ISO 8601 in UTC with milliseconds
/// (`2030-01-01T00:00:00.000Z`).
pub fn date_text(date: &s3s::dto::Timestamp) -> Result<String, ConfigError> {
    let mut out = Vec::new();
    date.format(s3s::dto::TimestampFormat::DateTime, &mut out)
        .map_err(|_| malformed())?;
    String::from_utf8(out).map_err(|_| malformed())
}

/// [`date_text`] of an RFC 3339 date-time (`MalformedXML` when it is not one).
pub fn normalized_date(date: &str) -> Result<String, ConfigError> {
    let parsed = s3s::dto::Timestamp::parse(s3s::dto::TimestampFormat::DateTime, date)
        .map_err(|_| malformed())?;
    date_text(&parsed)
}

fn invalid(message: impl Into<String>) -> ConfigError {
    ConfigError::InvalidArgument(message.into())
}

fn positive(value: Option<i32>, what: &str) -> Result<(), ConfigError> {
    match value {
        Some(n) if n <= 0 => Err(invalid(format!("{what} must be a positive integer"))),
        _ => Ok(()),
    }
}

/// A date S3 accepts in a rule: midnight UTC.
fn check_date(date: &str) -> Result<(), ConfigError> {
    if date.ends_with("T00:00:00.000Z") || date.ends_with("T00:00:00Z") {
        Ok(())
    } else {
        Err(invalid("'Date' must be at midnight GMT"))
    }
}

/// How many of the options are set.
fn count(options: &[bool]) -> usize {
    options.iter().filter(|b| **b).count()
}

impl Filter {
    fn has_tags(&self) -> bool {
        self.tag.is_some() || self.and.as_ref().is_some_and(|a| !a.tags.is_empty())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let members = count(&[
            self.prefix.is_some(),
            self.tag.is_some(),
            self.object_size_greater_than.is_some(),
            self.object_size_less_than.is_some(),
            self.and.is_some(),
        ]);
        if members > 1 {
            return Err(malformed());
        }
        Ok(())
    }
}

impl Lifecycle {
    /// S3's checks of a `PutBucketLifecycleConfiguration`, in its codes: the XML schema's
    /// (`MalformedXML`: no rule, an unknown status or storage class, both or neither of
    /// `Prefix` and `Filter`, several filter members, an expiration that is not exactly
    /// one of date, days or delete marker, a transition without days or date), then
    /// `InvalidArgument` for values (ids, days, dates, sizes) and `InvalidRequest` for
    /// combinations (a rule without an action, multipart aborts with tag filters).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules.is_empty() {
            return Err(malformed());
        }
        if self.rules.len() > MAX_RULES {
            return Err(invalid(format!(
                "Lifecycle configuration cannot have more than {MAX_RULES} rules"
            )));
        }
        if let Some(size) = &self.transition_default_minimum_object_size {
            one_of(size, MINIMUM_OBJECT_SIZES).map_err(|_| {
                invalid(format!(
                    "Invalid value for x-amz-transition-default-minimum-object-size: {size}"
                ))
            })?;
        }
        let mut ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(invalid(
                "Rule ID must be unique. Found same ID for more than one rule",
            ));
        }
        self.rules.iter().try_for_each(Rule::validate)
    }
}

impl Rule {
    fn validate(&self) -> Result<(), ConfigError> {
        one_of(&self.status, &["Enabled", "Disabled"])?;
        if self.id.chars().count() > MAX_ID {
            return Err(invalid(format!(
                "ID length should not exceed allowed limit of {MAX_ID}"
            )));
        }
        if self.prefix.is_some() == self.filter.is_some() {
            return Err(malformed());
        }
        if let Some(f) = &self.filter {
            f.validate()?;
        }
        let tagged = self.filter.as_ref().is_some_and(Filter::has_tags);
        let actions = count(&[
            self.expiration.is_some(),
            !self.transitions.is_empty(),
            self.noncurrent_version_expiration.is_some(),
            !self.noncurrent_version_transitions.is_empty(),
            self.abort_incomplete_multipart_upload.is_some(),
        ]);
        if actions == 0 {
            return Err(ConfigError::InvalidRequest(
                "At least one action needs to be specified in a rule".into(),
            ));
        }
        if let Some(e) = &self.expiration {
            let given = count(&[
                e.date.is_some(),
                e.days.is_some(),
                e.expired_object_delete_marker.is_some(),
            ]);
            if given != 1 {
                return Err(malformed());
            }
            positive(e.days, "'Days' for Expiration action")?;
            if let Some(d) = &e.date {
                check_date(d)?;
            }
            if e.expired_object_delete_marker.is_some() && tagged {
                return Err(ConfigError::InvalidRequest(
                    "ExpiredObjectDeleteMarker cannot be specified with tags.".into(),
                ));
            }
        }
        for t in &self.transitions {
            let class = t.storage_class.as_deref().ok_or_else(malformed)?;
            one_of(class, STORAGE_CLASSES)?;
            if t.date.is_some() == t.days.is_some() {
                return Err(malformed());
            }
            if let Some(d) = &t.date {
                check_date(d)?;
            }
            if let Some(days) = t.days {
                if days < 0 {
                    return Err(invalid("'Days' in Transition action must be nonnegative"));
                }
                if matches!(class, "STANDARD_IA" | "ONEZONE_IA") && days < 30 {
                    return Err(invalid(format!(
                        "'Days' in Transition action must be greater than or equal to 30 for storageClass '{class}'"
                    )));
                }
            }
        }
        if let Some(n) = &self.noncurrent_version_expiration {
            positive(
                n.noncurrent_days,
                "'NoncurrentDays' for NoncurrentVersionExpiration action",
            )?;
            positive(
                n.newer_noncurrent_versions,
                "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action",
            )?;
        }
        for t in &self.noncurrent_version_transitions {
            let class = t.storage_class.as_deref().ok_or_else(malformed)?;
            one_of(class, STORAGE_CLASSES)?;
            let days = t.noncurrent_days.ok_or_else(malformed)?;
            if days < 0 {
                return Err(invalid(
                    "'NoncurrentDays' in NoncurrentVersionTransition action must be nonnegative",
                ));
            }
            if matches!(class, "STANDARD_IA" | "ONEZONE_IA") && days < 30 {
                return Err(invalid(format!(
                    "'NoncurrentDays' in NoncurrentVersionTransition action must be greater than or equal to 30 for storageClass '{class}'"
                )));
            }
        }
        if let Some(a) = &self.abort_incomplete_multipart_upload {
            if tagged {
                return Err(ConfigError::InvalidRequest(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.".into(),
                ));
            }
            let days = a.days_after_initiation.ok_or_else(malformed)?;
            positive(
                Some(days),
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action",
            )?;
        }
        Ok(())
    }
}
