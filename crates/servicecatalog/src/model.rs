//! The stored objects (one JSON document each, see [`sagestack_store::ServiceCatalogStore`]),
//! their ids and ARNs, and the views the API answers with.
//!
//! Ids follow AWS's forms: a prefix (`port-`, `prod-`, `prodview-`, `pa-`, `pp-`, `rec-`,
//! `lpv3-`) and 13 lowercase letters and digits. A launch path has no state of its own: it
//! is a product's association with a portfolio, so its id is derived from the pair (the
//! same pair always has the same path id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Length of the random part of an id.
pub const ID_SUFFIX_LEN: usize = 13;

/// `prefix` + 13 random lowercase letters and digits.
pub fn new_id(prefix: &str) -> String {
    let random = sagestack_engine::random_chars(sagestack_engine::LOWER_ALNUM, ID_SUFFIX_LEN);
    format!("{prefix}{random}")
}

/// The launch path id of `product_id` in `portfolio_id`: stable, in AWS's `lpv3-` form.
pub fn launch_path_id(portfolio_id: &str, product_id: &str) -> String {
    // FNV-1a over the pair: stable across processes and releases (unlike `DefaultHasher`).
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in portfolio_id.bytes().chain([b'|']).chain(product_id.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::from("lpv3-");
    for _ in 0..ID_SUFFIX_LEN {
        out.push(ALPHABET[(h % 36) as usize] as char);
        h /= 36;
    }
    out
}

/// Where ARNs point.
#[derive(Debug, Clone)]
pub struct Scope {
    pub region: String,
    pub account_id: String,
}

impl Scope {
    /// `arn:{partition}:{service}:{region}:{account}:{resource}`: every ARN here.
    fn arn(&self, service: &str, resource: &str) -> String {
        sagestack_engine::arn(&self.region, &self.account_id, service, resource)
    }

    /// `arn:aws:catalog:{region}:{account}:portfolio/{id}`.
    pub fn portfolio_arn(&self, id: &str) -> String {
        self.arn("catalog", &format!("portfolio/{id}"))
    }

    /// `arn:aws:catalog:{region}:{account}:product/{id}`.
    pub fn product_arn(&self, id: &str) -> String {
        self.arn("catalog", &format!("product/{id}"))
    }

    /// `arn:aws:servicecatalog:{region}:{account}:stack/{name}/{id}`.
    pub fn provisioned_product_arn(&self, name: &str, id: &str) -> String {
        self.arn("servicecatalog", &format!("stack/{name}/{id}"))
    }

    /// The name Service Catalog gives a provisioned product's stack: `SC-{account}-{pp id}`.
    pub fn stack_name(&self, provisioned_product_id: &str) -> String {
        format!("SC-{}-{provisioned_product_id}", self.account_id)
    }
}

/// A key-value pair (`Tag`), as every JSON 1.1 service here spells it.
pub use sagestack_protocol::json11::Tag;

/// `v` with each of `members` that is present set: the API leaves an absent optional
/// member out rather than answering it as null.
fn with_present<'a>(
    mut v: Value,
    members: impl IntoIterator<Item = (&'static str, Option<&'a str>)>,
) -> Value {
    for (key, value) in members {
        if let Some(s) = value {
            v[key] = s.into();
        }
    }
    v
}

/// Tags as the API answers them.
pub fn tags_json(tags: &[Tag]) -> Value {
    serde_json::to_value(tags).unwrap_or(Value::Array(Vec::new()))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Portfolio {
    pub id: String,
    pub arn: String,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub provider_name: String,
    /// Seconds since the epoch.
    pub created_time: f64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// The IAM principals given the portfolio, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<Principal>,
    /// The constraints on its products, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<Constraint>,
}

/// An IAM principal (user, group, role, or a pattern of them) given a portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Principal {
    #[serde(rename = "PrincipalARN")]
    pub arn: String,
    /// `IAM` or `IAM_PATTERN`.
    #[serde(rename = "PrincipalType")]
    pub kind: String,
}

/// A constraint on how a product of a portfolio is launched (`LAUNCH`, `NOTIFICATION`,
/// `RESOURCE_UPDATE`, `STACKSET`, `TEMPLATE`), kept inside its portfolio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Constraint {
    /// `cons-` and 13 characters.
    pub id: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The account that made it.
    pub owner: String,
    pub product_id: String,
    /// The constraint's parameters, as the JSON text given.
    pub parameters: String,
}

impl Constraint {
    /// `ConstraintDetail`.
    pub fn detail(&self, portfolio_id: &str) -> Value {
        let v = json!({
            "ConstraintId": self.id,
            "Type": self.kind,
            "Owner": self.owner,
            "ProductId": self.product_id,
            "PortfolioId": portfolio_id,
        });
        with_present(v, [("Description", self.description.as_deref())])
    }
}

impl Portfolio {
    /// `PortfolioDetail`.
    pub fn detail(&self) -> Value {
        let v = json!({
            "Id": self.id,
            "ARN": self.arn,
            "DisplayName": self.display_name,
            "CreatedTime": self.created_time,
            "ProviderName": self.provider_name,
        });
        with_present(v, [("Description", self.description.as_deref())])
    }
}

/// A provisioning artifact (a version of a product), kept inside its product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Artifact {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "Type")]
    pub kind: String,
    pub created_time: f64,
    pub active: bool,
    /// `DEFAULT` or `DEPRECATED`.
    pub guidance: String,
    /// `Info` as given (e.g. `LoadTemplateFromURL`).
    pub info: BTreeMap<String, String>,
    /// The template read when the artifact was created: an artifact is immutable, so a
    /// later change of the object behind the URL does not change the product.
    pub template_body: String,
}

impl Artifact {
    /// `ProvisioningArtifactDetail`.
    pub fn detail(&self) -> Value {
        let v = json!({
            "Id": self.id,
            "Name": self.name,
            "Type": self.kind,
            "CreatedTime": self.created_time,
            "Active": self.active,
            "Guidance": self.guidance,
        });
        with_present(v, [("Description", self.description.as_deref())])
    }

    /// `ProvisioningArtifact` (what DescribeProduct lists).
    pub fn summary(&self) -> Value {
        let v = json!({
            "Id": self.id,
            "Name": self.name,
            "CreatedTime": self.created_time,
            "Guidance": self.guidance,
        });
        with_present(v, [("Description", self.description.as_deref())])
    }

    /// `ProvisioningArtifactSummary` (DescribeProductAsAdmin), with the artifact's info.
    pub fn admin_summary(&self) -> Value {
        let mut v = self.summary();
        if let Some(o) = v.as_object_mut() {
            o.remove("Guidance");
        }
        v["ProvisioningArtifactMetadata"] = json!(self.info);
        v
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Product {
    pub id: String,
    /// The product view id (`prodview-`), what end-user calls show as `Id`.
    pub view_id: String,
    pub arn: String,
    pub name: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_url: Option<String>,
    /// `CLOUD_FORMATION_TEMPLATE`.
    pub product_type: String,
    pub created_time: f64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Oldest first.
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
}

impl Product {
    /// `ProductViewSummary`.
    pub fn view_summary(&self, has_default_path: bool) -> Value {
        let v = json!({
            "Id": self.view_id,
            "ProductId": self.id,
            "Name": self.name,
            "Owner": self.owner,
            "Type": self.product_type,
            "HasDefaultPath": has_default_path,
        });
        let members = [
            ("ShortDescription", &self.description),
            ("Distributor", &self.distributor),
            ("SupportDescription", &self.support_description),
            ("SupportEmail", &self.support_email),
            ("SupportUrl", &self.support_url),
        ];
        with_present(v, members.map(|(key, value)| (key, value.as_deref())))
    }

    /// `ProductViewDetail`.
    pub fn view_detail(&self) -> Value {
        json!({
            "ProductViewSummary": self.view_summary(false),
            "Status": "CREATED",
            "ProductARN": self.arn,
            "CreatedTime": self.created_time,
        })
    }

    pub fn artifact(&self, id: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|a| a.id == id)
    }

    /// The newest active artifact: what a launch uses when none is named.
    pub fn latest_active(&self) -> Option<&Artifact> {
        self.artifacts.iter().rev().find(|a| a.active)
    }
}

/// `AVAILABLE`, `UNDER_CHANGE`, `TAINTED`, `ERROR`.
pub mod status {
    pub const AVAILABLE: &str = "AVAILABLE";
    pub const UNDER_CHANGE: &str = "UNDER_CHANGE";
    pub const TAINTED: &str = "TAINTED";
    pub const ERROR: &str = "ERROR";
}

/// A launched product: one CloudFormation stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProvisionedProduct {
    pub id: String,
    pub name: String,
    pub arn: String,
    pub created_time: f64,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub idempotency_token: String,
    pub product_id: String,
    /// The artifact the stack is at (after a failed update: still the previous one).
    pub provisioning_artifact_id: String,
    pub path_id: String,
    /// The stack's name (`SC-{account}-{id}`) and, once created, its id (ARN).
    pub stack_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_id: Option<String>,
    /// Parameter values the stack was last launched with.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub last_record_id: String,
    pub last_provisioning_record_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_provisioning_record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_arn: Option<String>,
}

impl ProvisionedProduct {
    /// `ProvisionedProductDetail`.
    pub fn detail(&self) -> Value {
        let v = json!({
            "Name": self.name,
            "Arn": self.arn,
            "Type": "CFN_STACK",
            "Id": self.id,
            "Status": self.status,
            "CreatedTime": self.created_time,
            "IdempotencyToken": self.idempotency_token,
            "LastRecordId": self.last_record_id,
            "LastProvisioningRecordId": self.last_provisioning_record_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.provisioning_artifact_id,
        });
        let last_successful = self.last_successful_provisioning_record_id.as_deref();
        with_present(
            v,
            [
                ("StatusMessage", self.status_message.as_deref()),
                ("LastSuccessfulProvisioningRecordId", last_successful),
            ],
        )
    }

    /// `ProvisionedProductAttribute` (SearchProvisionedProducts).
    pub fn attribute(&self, product_name: Option<&str>, artifact_name: Option<&str>) -> Value {
        let mut v = self.detail();
        v["Tags"] = tags_json(&self.tags);
        with_present(
            v,
            [
                ("PhysicalId", self.stack_id.as_deref()),
                ("ProductName", product_name),
                ("ProvisioningArtifactName", artifact_name),
                ("UserArn", self.user_arn.as_deref()),
            ],
        )
    }
}

/// `PROVISION_PRODUCT`, `UPDATE_PROVISIONED_PRODUCT`, `TERMINATE_PROVISIONED_PRODUCT`.
pub mod record_type {
    pub const PROVISION: &str = "PROVISION_PRODUCT";
    pub const UPDATE: &str = "UPDATE_PROVISIONED_PRODUCT";
    pub const TERMINATE: &str = "TERMINATE_PROVISIONED_PRODUCT";
}

/// `IN_PROGRESS`, `SUCCEEDED`, `FAILED` (records are never left `CREATED`).
pub mod record_status {
    pub const IN_PROGRESS: &str = "IN_PROGRESS";
    pub const SUCCEEDED: &str = "SUCCEEDED";
    pub const FAILED: &str = "FAILED";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordError {
    pub code: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordOutput {
    pub output_key: String,
    pub output_value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One operation on a provisioned product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub record_id: String,
    pub record_type: String,
    pub status: String,
    pub created_time: f64,
    pub updated_time: f64,
    pub provisioned_product_id: String,
    pub provisioned_product_name: String,
    pub product_id: String,
    pub provisioning_artifact_id: String,
    pub path_id: String,
    #[serde(default)]
    pub record_errors: Vec<RecordError>,
    #[serde(default)]
    pub record_outputs: Vec<RecordOutput>,
    #[serde(default)]
    pub record_tags: Vec<Tag>,
}

impl Record {
    /// `RecordDetail`.
    pub fn detail(&self) -> Value {
        json!({
            "RecordId": self.record_id,
            "ProvisionedProductName": self.provisioned_product_name,
            "Status": self.status,
            "CreatedTime": self.created_time,
            "UpdatedTime": self.updated_time,
            "ProvisionedProductType": "CFN_STACK",
            "RecordType": self.record_type,
            "ProvisionedProductId": self.provisioned_product_id,
            "ProductId": self.product_id,
            "ProvisioningArtifactId": self.provisioning_artifact_id,
            "PathId": self.path_id,
            "RecordErrors": self.record_errors,
            "RecordTags": self.record_tags.iter().map(|t| json!({"Key": t.key, "Value": t.value})).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_forms() {
        for prefix in ["port-", "prod-", "pa-", "pp-", "rec-"] {
            let id = new_id(prefix);
            let suffix = id.strip_prefix(prefix).unwrap();
            assert_eq!(suffix.len(), ID_SUFFIX_LEN);
            assert!(
                suffix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            );
        }
        assert_ne!(new_id("pp-"), new_id("pp-"));
    }

    #[test]
    fn launch_path_ids_are_stable_per_pair() {
        let a = launch_path_id("port-a", "prod-b");
        assert_eq!(a, launch_path_id("port-a", "prod-b"));
        assert_ne!(a, launch_path_id("port-b", "prod-b"));
        assert!(a.starts_with("lpv3-") && a.len() == 5 + ID_SUFFIX_LEN);
    }

    #[test]
    fn arns_and_stack_names() {
        let s = Scope {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
        };
        assert_eq!(
            s.portfolio_arn("port-x"),
            "arn:aws:catalog:us-east-1:123456789012:portfolio/port-x"
        );
        assert_eq!(
            s.provisioned_product_arn("web", "pp-x"),
            "arn:aws:servicecatalog:us-east-1:123456789012:stack/web/pp-x"
        );
        assert_eq!(s.stack_name("pp-abc"), "SC-123456789012-pp-abc");
    }
}
