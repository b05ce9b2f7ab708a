//! The provisioned-product operations: provision, update, terminate, describe, search,
//! scan, and records (`DescribeRecord`) — decoding their inputs and shaping their
//! answers. What they do is [`ProvisionedProducts`]'s; this file only translates.

use std::collections::BTreeMap;

use sagestack_protocol::RequestContext;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{decode, page, unsupported, with_next};
use crate::catalog::Result;
use crate::error::ScError;
use crate::launch::{
    LaunchRequest, ProvisionedProducts, Selection, UpdateParameter, UpdateRequest,
};
use crate::model::{ProvisionedProduct, Tag};

/// The operations this file answers.
pub const OPERATIONS: &[&str] = &[
    "ProvisionProduct",
    "UpdateProvisionedProduct",
    "TerminateProvisionedProduct",
    "DescribeProvisionedProduct",
    "SearchProvisionedProducts",
    "ScanProvisionedProducts",
    "DescribeRecord",
];

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyValue {
    key: Option<String>,
    value: Option<String>,
    use_previous_value: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionInput {
    #[serde(flatten)]
    selection: Selection,
    provisioned_product_name: String,
    provisioning_parameters: Option<Vec<KeyValue>>,
    tags: Option<Vec<Tag>>,
    provision_token: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateInput {
    provisioned_product_name: Option<String>,
    provisioned_product_id: Option<String>,
    #[serde(flatten)]
    selection: Selection,
    provisioning_parameters: Option<Vec<KeyValue>>,
    tags: Option<Vec<Tag>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TerminateInput {
    provisioned_product_name: Option<String>,
    provisioned_product_id: Option<String>,
    ignore_errors: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribePpInput {
    id: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchPpInput {
    filters: Option<BTreeMap<String, Vec<String>>>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScanInput {
    page_token: Option<String>,
    page_size: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeRecordInput {
    id: String,
}

fn key_values(list: Option<Vec<KeyValue>>) -> Result<Vec<UpdateParameter>> {
    list.unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.key {
            Some(key) if !key.is_empty() => Ok(UpdateParameter {
                key,
                value: kv.value,
                use_previous_value: kv.use_previous_value.unwrap_or(false),
            }),
            _ => Err(ScError::InvalidParameters(
                "Every provisioning parameter needs a Key.".into(),
            )),
        })
        .collect()
}

/// Runs one of [`OPERATIONS`].
pub(super) async fn call(
    provisioned: &ProvisionedProducts,
    ctx: &RequestContext,
    operation: &str,
    input: Value,
) -> Result<Value> {
    Ok(match operation {
        "ProvisionProduct" => {
            let i: ProvisionInput = decode(operation, input)?;
            if i.selection.artifact_id.is_none() && i.selection.artifact_name.is_none() {
                return Err(ScError::InvalidParameters(
                    "Either ProvisioningArtifactId or ProvisioningArtifactName must be specified."
                        .into(),
                ));
            }
            let req = LaunchRequest {
                provisioned_product_name: i.provisioned_product_name,
                selection: i.selection,
                parameters: key_values(i.provisioning_parameters)?
                    .into_iter()
                    .map(|p| (p.key, p.value.unwrap_or_default()))
                    .collect(),
                tags: i.tags.unwrap_or_default(),
                token: i.provision_token,
                user_arn: ctx.caller.as_ref().map(|c| c.arn.clone()),
            };
            let record = provisioned.provision(req).await?;
            json!({"RecordDetail": record.detail()})
        }
        "UpdateProvisionedProduct" => {
            let i: UpdateInput = decode(operation, input)?;
            let req = UpdateRequest {
                provisioned_product_id: i.provisioned_product_id,
                provisioned_product_name: i.provisioned_product_name,
                selection: i.selection,
                parameters: key_values(i.provisioning_parameters)?,
                tags: i.tags,
            };
            let record = provisioned.update_provisioned(req).await?;
            json!({"RecordDetail": record.detail()})
        }
        "TerminateProvisionedProduct" => {
            let i: TerminateInput = decode(operation, input)?;
            let pp = provisioned
                .provisioned_by(
                    i.provisioned_product_id.as_deref(),
                    i.provisioned_product_name.as_deref(),
                )
                .await?;
            let record = provisioned
                .terminate(&pp.id, i.ignore_errors.unwrap_or(false))
                .await?;
            json!({"RecordDetail": record.detail()})
        }
        "DescribeProvisionedProduct" => {
            let i: DescribePpInput = decode(operation, input)?;
            let pp = provisioned
                .provisioned_by(i.id.as_deref(), i.name.as_deref())
                .await?;
            json!({"ProvisionedProductDetail": pp.detail(), "CloudWatchDashboards": []})
        }
        "SearchProvisionedProducts" => {
            let i: SearchPpInput = decode(operation, input)?;
            let mut all = attributes(provisioned).await?;
            if let Some(queries) = i.filters.as_ref().and_then(|f| f.get("SearchQuery")) {
                all.retain(|v| queries.iter().all(|q| matches_query(v, q)));
            }
            if let Some(field) = i.sort_by.as_deref() {
                all.sort_by(|a, b| {
                    let (x, y) = (&a[field], &b[field]);
                    match (x.as_f64(), y.as_f64()) {
                        (Some(x), Some(y)) => x.total_cmp(&y),
                        _ => x.as_str().unwrap_or("").cmp(y.as_str().unwrap_or("")),
                    }
                });
            }
            if i.sort_order.as_deref() == Some("DESCENDING") {
                all.reverse();
            }
            let total = all.len();
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(
                json!({"ProvisionedProducts": items, "TotalResultsCount": total}),
                next,
            )
        }
        "ScanProvisionedProducts" => {
            let i: ScanInput = decode(operation, input)?;
            let all: Vec<Value> = provisioned
                .all_provisioned()
                .await?
                .iter()
                .map(ProvisionedProduct::detail)
                .collect();
            let (items, next) = page(all, i.page_token.as_deref(), i.page_size)?;
            with_next(json!({"ProvisionedProducts": items}), next)
        }
        "DescribeRecord" => {
            let i: DescribeRecordInput = decode(operation, input)?;
            let r = provisioned.record(&i.id).await?;
            json!({"RecordDetail": r.detail(), "RecordOutputs": r.record_outputs})
        }
        other => return Err(unsupported(other)),
    })
}

/// Every provisioned product as `SearchProvisionedProducts` lists it (with its product's
/// and artifact's names).
async fn attributes(provisioned: &ProvisionedProducts) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    for pp in provisioned.all_provisioned().await? {
        let product = provisioned.catalog().product(&pp.product_id).await.ok();
        let artifact_name = product
            .as_ref()
            .and_then(|p| p.artifact(&pp.provisioning_artifact_id))
            .map(|a| a.name.clone());
        out.push(pp.attribute(
            product.as_ref().map(|p| p.name.as_str()),
            artifact_name.as_deref(),
        ));
    }
    Ok(out)
}

/// `SearchQuery` terms: `field:value` (exact, case-insensitive) or free text matched
/// against the name, id and status.
fn matches_query(v: &Value, query: &str) -> bool {
    let q = query.to_lowercase();
    if let Some((field, value)) = q.split_once(':') {
        let key = match field {
            "name" => "Name",
            "id" => "Id",
            "status" => "Status",
            "productid" => "ProductId",
            "provisioningartifactid" => "ProvisioningArtifactId",
            "arn" => "Arn",
            "type" => "Type",
            _ => return false,
        };
        return v[key].as_str().is_some_and(|s| s.to_lowercase() == value);
    }
    ["Name", "Id", "Status"].iter().any(|k| {
        v[*k]
            .as_str()
            .is_some_and(|s| s.to_lowercase().contains(&q))
    })
}
