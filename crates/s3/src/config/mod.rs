//! A bucket's configuration (its sub-resources) as the bucket document keeps it: one
//! model, with S3's validation, that the S3 API (`PutBucketVersioning`, ...) and the
//! CloudFormation providers (`AWS::S3::Bucket`, `AWS::S3::BucketPolicy`) both write and
//! read, so a stack's bucket reads back through the S3 API.
//!
//! The document is the store's opaque JSON of the bucket, shared with its `Owner` and
//! `Tags` (and the CloudFormation provider's `Properties`). Each sub-resource has one
//! key, in S3's own shapes and names:
//!
//! | key                 | value                                                    |
//! |---------------------|----------------------------------------------------------|
//! | `Versioning`        | `{"Status": "Enabled"|"Suspended", "MFADelete": ...}`     |
//! | `Policy`            | the policy text as given                                 |
//! | `PublicAccessBlock` | the four settings; `null` once deleted                    |
//! | `Encryption`        | `{"Rules": [...]}`                                       |
//! | `Lifecycle`         | `{"Rules": [...], "TransitionDefaultMinimumObjectSize"}` |
//! | `OwnershipControls` | `{"Rules": [{"ObjectOwnership": ...}]}`; `null` once deleted |
//! | `Acl`               | the canned ACL (`private`, `public-read`, ...)           |
//!
//! A key that is absent reads as what AWS gives a new bucket: since January 2023
//! default encryption with SSE-S3 (`AES256`), since April 2023 Block Public Access (all
//! four settings on) and `BucketOwnerEnforced` object ownership (ACLs disabled); no
//! versioning state, policy or lifecycle; the `private` ACL. Deleting a setting that
//! has such a default stores `null` (deleted encryption returns to the default).
//!
//! Rules are stored, never executed: lifecycle rules expire nothing, encryption
//! settings encrypt nothing, a policy or ACL grants nobody anything (requests are
//! authorized by their account, `crate::auth`), versioning keeps no versions.
//!
//! Never talks S3's wire (s3s types are converted in `crate::api`) nor CloudFormation's
//! property shapes (`crate::bucket_provider`); [`ConfigError`] is mapped to S3 errors
//! in one place, `crate::api::errors`.

use std::sync::Arc;

use sagestack_store::{ObjectStore, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub mod lifecycle;
pub mod policy;

pub use lifecycle::Lifecycle;

/// Why a configuration is refused, by S3's error code (the message is S3's where known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `MalformedXML`: what S3's schema refuses (an unknown enum value, a missing or
    /// doubled element).
    #[error("{0}")]
    MalformedXml(String),
    /// `InvalidArgument`.
    #[error("{0}")]
    InvalidArgument(String),
    /// `InvalidRequest`.
    #[error("{0}")]
    InvalidRequest(String),
    /// `MalformedPolicy`.
    #[error("{0}")]
    MalformedPolicy(String),
    /// `AccessDenied` (403): a public policy or ACL that Block Public Access forbids, or
    /// an MFA Delete change without MFA.
    #[error("{0}")]
    AccessDenied(String),
    /// `AccessControlListNotSupported`: ACLs are disabled (`BucketOwnerEnforced`).
    #[error("{0}")]
    AclNotSupported(String),
    /// `InvalidBucketAclWithObjectOwnership`: a `CreateBucket` ACL that the bucket's
    /// object ownership forbids.
    #[error("{0}")]
    AclWithObjectOwnership(String),
    /// `InvalidBucketAclWithBlockPublicAccessError`: a public `CreateBucket` ACL.
    #[error("{0}")]
    AclWithBlockPublicAccess(String),
}

/// The `MalformedXML` message S3 gives.
pub const MALFORMED_XML: &str =
    "The XML you provided was not well-formed or did not validate against our published schema";

pub fn malformed() -> ConfigError {
    ConfigError::MalformedXml(MALFORMED_XML.into())
}

/// `value` must be one of `allowed` (else `MalformedXML`, as S3 answers an enum value its
/// schema does not know).
pub fn one_of(value: &str, allowed: &[&str]) -> Result<(), ConfigError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(malformed())
    }
}

/// A bucket's versioning state. Both absent: never configured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Versioning {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "MFADelete", skip_serializing_if = "Option::is_none")]
    pub mfa_delete: Option<String>,
}

impl Versioning {
    /// The state after a `PutBucketVersioning` of `status` / `mfa_delete` with the
    /// `x-amz-mfa` header `mfa`. MFA Delete may only be turned on, or anything changed
    /// while it is on, with an `x-amz-mfa` of the form `<serial> <code>` (the code is
    /// not checked: there are no MFA devices here).
    pub fn changed(
        &self,
        status: Option<&str>,
        mfa_delete: Option<&str>,
        mfa: Option<&str>,
    ) -> Result<Versioning, ConfigError> {
        if let Some(s) = status {
            one_of(s, &["Enabled", "Suspended"])?;
        }
        if let Some(m) = mfa_delete {
            one_of(m, &["Enabled", "Disabled"])?;
        }
        if let Some(mfa) = mfa {
            let well_formed = mfa
                .split_once(' ')
                .is_some_and(|(serial, code)| !serial.is_empty() && !code.trim().is_empty());
            if !well_formed {
                return Err(ConfigError::InvalidArgument(
                    "Mfa header is invalid -- the header should be formatted as {serialNumber}(space){tokenCode}".into(),
                ));
            }
        }
        let mfa_on = self.mfa_delete.as_deref() == Some("Enabled");
        if (mfa_on || mfa_delete == Some("Enabled")) && mfa.is_none() {
            return Err(ConfigError::AccessDenied(
                "Mfa Authentication must be used for this request".into(),
            ));
        }
        Ok(Versioning {
            status: status.map(str::to_owned).or_else(|| self.status.clone()),
            mfa_delete: mfa_delete
                .map(str::to_owned)
                .or_else(|| self.mfa_delete.clone()),
        })
    }
}

/// The four Block Public Access settings (an element left out of a request is `false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// What a new bucket has (since April 2023): everything blocked.
    pub const NEW_BUCKET: PublicAccessBlock = PublicAccessBlock {
        block_public_acls: true,
        ignore_public_acls: true,
        block_public_policy: true,
        restrict_public_buckets: true,
    };
}

/// Default server-side encryption: its rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Encryption {
    pub rules: Vec<EncryptionRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptionRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apply_server_side_encryption_by_default: Option<EncryptionDefault>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_key_enabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionDefault {
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    #[serde(rename = "KMSMasterKeyID", skip_serializing_if = "Option::is_none")]
    pub kms_master_key_id: Option<String>,
}

impl Encryption {
    /// What every bucket has unless configured otherwise (since January 2023): SSE-S3.
    pub fn new_bucket() -> Encryption {
        Encryption {
            rules: vec![EncryptionRule {
                apply_server_side_encryption_by_default: Some(EncryptionDefault {
                    sse_algorithm: "AES256".into(),
                    kms_master_key_id: None,
                }),
                bucket_key_enabled: Some(false),
            }],
        }
    }

    /// S3's checks: at least one rule, a known algorithm, a KMS key only with KMS.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rules.is_empty() {
            return Err(malformed());
        }
        for rule in &self.rules {
            let Some(d) = &rule.apply_server_side_encryption_by_default else {
                continue;
            };
            one_of(&d.sse_algorithm, &["AES256", "aws:kms", "aws:kms:dsse"])?;
            if d.kms_master_key_id.is_some() && d.sse_algorithm == "AES256" {
                return Err(ConfigError::InvalidArgument(
                    "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse".into(),
                ));
            }
        }
        Ok(())
    }
}

/// Object Ownership values.
pub const OBJECT_OWNERSHIPS: &[&str] = &[
    "BucketOwnerPreferred",
    "ObjectWriter",
    "BucketOwnerEnforced",
];
/// What a new bucket has (since April 2023): ACLs disabled.
pub const DEFAULT_OBJECT_OWNERSHIP: &str = "BucketOwnerEnforced";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipControls {
    rules: Vec<OwnershipRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OwnershipRule {
    object_ownership: String,
}

/// Checks `PutBucketOwnershipControls` rules: exactly one, of a known value.
pub fn validate_ownership(rules: &[String]) -> Result<String, ConfigError> {
    match rules {
        [one] => {
            one_of(one, OBJECT_OWNERSHIPS)?;
            Ok(one.clone())
        }
        _ => Err(malformed()),
    }
}

/// The canned ACLs a bucket may have, and the grants each means beyond the owner's
/// `FULL_CONTROL`: `(group URI, permission)`.
pub const CANNED_ACLS: &[(&str, &[(&str, &str)])] = &[
    ("private", &[]),
    ("public-read", &[(ALL_USERS, "READ")]),
    (
        "public-read-write",
        &[(ALL_USERS, "READ"), (ALL_USERS, "WRITE")],
    ),
    ("authenticated-read", &[(AUTHENTICATED_USERS, "READ")]),
    (
        "log-delivery-write",
        &[(LOG_DELIVERY, "WRITE"), (LOG_DELIVERY, "READ_ACP")],
    ),
];
const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const LOG_DELIVERY: &str = "http://acs.amazonaws.com/groups/s3/LogDelivery";

/// The grants to groups that canned ACL `acl` means (`None`: not a bucket canned ACL).
pub fn canned_grants(acl: &str) -> Option<&'static [(&'static str, &'static str)]> {
    CANNED_ACLS.iter().find(|(n, _)| *n == acl).map(|(_, g)| *g)
}

/// Whether canned ACL `acl` grants anyone but the owner access (what Block Public Access
/// calls public).
pub fn is_public_acl(acl: &str) -> bool {
    canned_grants(acl).is_some_and(|g| g.iter().any(|(uri, _)| *uri != LOG_DELIVERY))
}

/// A bucket document, read for its configuration and rewritten with it. Keys it does
/// not know are kept as they are.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BucketDocument(Map<String, Value>);

impl BucketDocument {
    /// Reads a stored document (anything but a JSON object reads as an empty one).
    pub fn parse(raw: &str) -> Self {
        match serde_json::from_str(raw) {
            Ok(Value::Object(map)) => BucketDocument(map),
            _ => BucketDocument::default(),
        }
    }

    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    /// The raw JSON object.
    pub fn fields(&mut self) -> &mut Map<String, Value> {
        &mut self.0
    }

    /// `Some(None)` when `key` was deleted (`null`), `Some(Some(v))` when set, `None`
    /// when never configured. A value that does not parse (written by something else)
    /// reads as never configured.
    fn setting<T: DeserializeOwned>(&self, key: &str) -> Option<Option<T>> {
        match self.0.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => serde_json::from_value(v.clone()).ok().map(Some),
        }
    }

    fn put<T: Serialize>(&mut self, key: &str, value: &T) {
        let v = serde_json::to_value(value).expect("a configuration serializes");
        self.0.insert(key.into(), v);
    }

    pub fn versioning(&self) -> Versioning {
        self.setting(KEY_VERSIONING).flatten().unwrap_or_default()
    }

    pub fn set_versioning(&mut self, v: &Versioning) {
        self.put(KEY_VERSIONING, v);
    }

    pub fn policy(&self) -> Option<String> {
        self.setting(KEY_POLICY).flatten()
    }

    /// Sets (or with `None` deletes) the policy.
    pub fn set_policy(&mut self, policy: Option<&str>) {
        match policy {
            Some(p) => self.put(KEY_POLICY, &p),
            None => {
                self.0.remove(KEY_POLICY);
            }
        }
    }

    /// The Block Public Access settings; `None` once deleted.
    pub fn public_access_block(&self) -> Option<PublicAccessBlock> {
        self.setting(KEY_PUBLIC_ACCESS_BLOCK)
            .unwrap_or(Some(PublicAccessBlock::NEW_BUCKET))
    }

    /// Sets (or with `None` deletes) the Block Public Access settings.
    pub fn set_public_access_block(&mut self, pab: Option<&PublicAccessBlock>) {
        match pab {
            Some(p) => self.put(KEY_PUBLIC_ACCESS_BLOCK, p),
            None => {
                self.0.insert(KEY_PUBLIC_ACCESS_BLOCK.into(), Value::Null);
            }
        }
    }

    /// The default encryption (SSE-S3 unless configured).
    pub fn encryption(&self) -> Encryption {
        self.setting(KEY_ENCRYPTION)
            .flatten()
            .unwrap_or_else(Encryption::new_bucket)
    }

    /// Sets the default encryption, or with `None` returns it to SSE-S3.
    pub fn set_encryption(&mut self, e: Option<&Encryption>) {
        match e {
            Some(e) => self.put(KEY_ENCRYPTION, e),
            None => {
                self.0.remove(KEY_ENCRYPTION);
            }
        }
    }

    pub fn lifecycle(&self) -> Option<Lifecycle> {
        self.setting(KEY_LIFECYCLE).flatten()
    }

    /// Sets (or with `None` deletes) the lifecycle configuration.
    pub fn set_lifecycle(&mut self, l: Option<&Lifecycle>) {
        match l {
            Some(l) => self.put(KEY_LIFECYCLE, l),
            None => {
                self.0.remove(KEY_LIFECYCLE);
            }
        }
    }

    /// The Object Ownership setting; `None` once deleted.
    pub fn object_ownership(&self) -> Option<String> {
        match self.setting::<OwnershipControls>(KEY_OWNERSHIP) {
            None => Some(DEFAULT_OBJECT_OWNERSHIP.into()),
            Some(c) => c.and_then(|c| c.rules.into_iter().next().map(|r| r.object_ownership)),
        }
    }

    /// Sets (or with `None` deletes) the Object Ownership setting.
    pub fn set_object_ownership(&mut self, ownership: Option<&str>) {
        match ownership {
            Some(o) => self.put(
                KEY_OWNERSHIP,
                &OwnershipControls {
                    rules: vec![OwnershipRule {
                        object_ownership: o.into(),
                    }],
                },
            ),
            None => {
                self.0.insert(KEY_OWNERSHIP.into(), Value::Null);
            }
        }
    }

    /// Sets Object Ownership as `PutBucketOwnershipControls` does: ACLs cannot be
    /// disabled (`BucketOwnerEnforced`) while the bucket ACL grants anyone else.
    pub fn set_ownership_checked(&mut self, ownership: &str) -> Result<(), ConfigError> {
        one_of(ownership, OBJECT_OWNERSHIPS)?;
        if ownership == DEFAULT_OBJECT_OWNERSHIP && self.acl() != "private" {
            return Err(ConfigError::AclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
                    .into(),
            ));
        }
        self.set_object_ownership(Some(ownership));
        Ok(())
    }

    /// Sets the policy of bucket `bucket` as `PutBucketPolicy` does: a valid policy
    /// ([`policy::validate`]), and not a public one while Block Public Access blocks
    /// public policies (`AccessDenied`).
    pub fn set_policy_checked(&mut self, bucket: &str, text: &str) -> Result<(), ConfigError> {
        policy::validate(text, bucket)?;
        let blocked = self
            .public_access_block()
            .is_some_and(|p| p.block_public_policy);
        if blocked && policy::is_public(text) {
            return Err(ConfigError::AccessDenied(format!(
                "Access Denied: public policies are blocked by the BlockPublicPolicy block public access setting of bucket {bucket}"
            )));
        }
        self.set_policy(Some(text));
        Ok(())
    }

    /// The canned ACL (`private` unless set).
    pub fn acl(&self) -> String {
        self.setting(KEY_ACL)
            .flatten()
            .unwrap_or_else(|| "private".into())
    }

    /// Sets canned ACL `acl`, as `PutBucketAcl` does: a known bucket canned ACL
    /// (`InvalidArgument` otherwise), allowed by the object ownership (with ACLs disabled
    /// only `private`, which is the owner's full control, is accepted:
    /// `AccessControlListNotSupported`) and by Block Public Access (`AccessDenied` for a
    /// public ACL while `BlockPublicAcls` is on).
    pub fn set_acl(&mut self, acl: &str) -> Result<(), ConfigError> {
        if canned_grants(acl).is_none() {
            return Err(ConfigError::InvalidArgument(format!(
                "The canned ACL is not valid for a bucket: {acl}"
            )));
        }
        if acl != "private" && self.object_ownership().as_deref() == Some("BucketOwnerEnforced") {
            return Err(ConfigError::AclNotSupported(
                "The bucket does not allow ACLs".into(),
            ));
        }
        if is_public_acl(acl)
            && self
                .public_access_block()
                .is_some_and(|p| p.block_public_acls)
        {
            return Err(ConfigError::AccessDenied("Access Denied".into()));
        }
        self.put(KEY_ACL, &acl);
        Ok(())
    }

    /// The configuration `CreateBucket` gives: `ownership` (`x-amz-object-ownership`) and
    /// the canned `acl` (`x-amz-acl`), checked as S3 checks them at creation.
    pub fn set_created_with(
        &mut self,
        ownership: Option<&str>,
        acl: Option<&str>,
    ) -> Result<(), ConfigError> {
        if let Some(o) = ownership {
            one_of(o, OBJECT_OWNERSHIPS).map_err(|_| {
                ConfigError::InvalidArgument(format!("Invalid x-amz-object-ownership header: {o}"))
            })?;
            self.set_object_ownership(Some(o));
        }
        let Some(acl) = acl.filter(|a| *a != "private") else {
            return Ok(());
        };
        if canned_grants(acl).is_none() {
            return Err(ConfigError::InvalidArgument(format!(
                "The canned ACL is not valid for a bucket: {acl}"
            )));
        }
        if self.object_ownership().as_deref() == Some("BucketOwnerEnforced") {
            return Err(ConfigError::AclWithObjectOwnership(
                "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"
                    .into(),
            ));
        }
        if is_public_acl(acl)
            && self
                .public_access_block()
                .is_some_and(|p| p.block_public_acls)
        {
            return Err(ConfigError::AclWithBlockPublicAccess(
                "Bucket cannot have public ACLs set with BlockPublicAccess enabled".into(),
            ));
        }
        self.put(KEY_ACL, &acl);
        Ok(())
    }
}

const KEY_VERSIONING: &str = "Versioning";
const KEY_POLICY: &str = "Policy";
const KEY_PUBLIC_ACCESS_BLOCK: &str = "PublicAccessBlock";
const KEY_ENCRYPTION: &str = "Encryption";
const KEY_LIFECYCLE: &str = "Lifecycle";
const KEY_OWNERSHIP: &str = "OwnershipControls";
const KEY_ACL: &str = "Acl";

/// Why a document update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("the bucket does not exist")]
    NoSuchBucket,
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    #[error(transparent)]
    Store(StoreError),
}

/// Serializes every read-modify-write of a bucket document in this process: Terraform
/// configures a bucket's sub-resources in parallel, and each rewrites the whole
/// document. (The store has no compare-and-set for buckets, so replicas sharing a
/// database can still interleave two updates of one bucket's document.)
static DOCUMENT_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Reads bucket `name`'s document, lets `change` edit it and writes it back (unless
/// `change` fails): what `change` returned.
pub async fn update_document<T>(
    store: &Arc<dyn ObjectStore>,
    name: &str,
    change: impl FnOnce(&mut BucketDocument) -> Result<T, ConfigError>,
) -> Result<T, UpdateError> {
    let _writing = DOCUMENT_WRITES.lock().await;
    let bucket = store
        .get_bucket(name)
        .await
        .map_err(UpdateError::Store)?
        .ok_or(UpdateError::NoSuchBucket)?;
    let mut doc = BucketDocument::parse(&bucket.document);
    let out = change(&mut doc)?;
    match store.update_bucket(name, &doc.to_json()).await {
        Ok(()) => Ok(out),
        Err(StoreError::NotFound) => Err(UpdateError::NoSuchBucket),
        Err(e) => Err(UpdateError::Store(e)),
    }
}

#[cfg(test)]
mod tests;
