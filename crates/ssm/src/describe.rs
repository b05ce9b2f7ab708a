//! The parameters' metadata and history: `DescribeParameters` (filters, pages),
//! `GetParameterHistory` and `DeleteParameters`.
//!
//! `DescribeParameters` answers in name order (bytewise). A `Name` `Equals` filter (what
//! Terraform sends for each `aws_ssm_parameter` it reads) reads only the names it gives;
//! a `Path` or a single `Name` `BeginsWith` filter scans only the names under its prefix;
//! anything else scans every name. Its page token is the last name answered, as
//! `GetParametersByPath`'s is. Nothing is shared with this account, so `Shared` lists
//! nothing.
//!
//! No HTTP and no SQL here: the state is [`Parameters`]'.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::SsmError;
use crate::filters::{Api, Filter, Filters, LegacyFilter};
use crate::parameters::{
    MAX_VERSIONS, Parameters, Result, Scope, StoredParameter, decode_token, encode_token,
    parameter_arn, parameters_page, parse, sealed,
};

/// `DescribeParameters` page size when `MaxResults` is absent.
pub const DESCRIBE_PAGE: usize = 50;
/// `GetParameterHistory` page size when `MaxResults` is absent.
pub const HISTORY_PAGE: usize = 50;
/// How many names a scan reads from the store at a time.
const SCAN_BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DescribeParametersInput {
    filters: Option<Vec<LegacyFilter>>,
    parameter_filters: Option<Vec<Filter>>,
    max_results: Option<u32>,
    next_token: Option<String>,
    shared: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetParameterHistoryInput {
    name: String,
    with_decryption: Option<bool>,
    max_results: Option<u32>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct DeleteParametersInput {
    names: Vec<String>,
}

fn invalid_token() -> SsmError {
    SsmError::InvalidNextToken("The specified token is not valid.".into())
}

/// `Policies` as the API lists them: each policy of the stored JSON array, pending.
fn policies(p: &StoredParameter) -> Value {
    let Some(text) = &p.policies else {
        return json!([]);
    };
    let list: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => return json!([]),
    };
    Value::Array(
        list.iter()
            .map(|policy| {
                json!({
                    "PolicyText": policy.to_string(),
                    "PolicyType": policy.get("Type").and_then(Value::as_str).unwrap_or(""),
                    "PolicyStatus": "Pending",
                })
            })
            .collect(),
    )
}

/// What `ParameterMetadata` and `ParameterHistory` share.
fn described(scope: &Scope, version: i64, p: &StoredParameter) -> Value {
    let mut out = json!({
        "Name": p.name,
        "Type": p.kind,
        "LastModifiedDate": p.last_modified_date,
        "LastModifiedUser": p.last_modified_user.clone().unwrap_or_else(|| {
            format!("arn:{}:iam::{}:root", sagestack_engine::partition_for_region(&scope.region), scope.account_id)
        }),
        "Version": version,
        "Tier": p.tier,
        "Policies": policies(p),
        "DataType": p.data_type,
    });
    if let Some(k) = p.effective_key_id() {
        out["KeyId"] = k.into();
    }
    if let Some(d) = &p.description {
        out["Description"] = d.clone().into();
    }
    if let Some(a) = &p.allowed_pattern {
        out["AllowedPattern"] = a.clone().into();
    }
    out
}

/// `ParameterMetadata`.
pub(crate) fn metadata(scope: &Scope, version: i64, p: &StoredParameter) -> Value {
    let mut out = described(scope, version, p);
    out["ARN"] = parameter_arn(scope, &p.name).into();
    out
}

impl Parameters {
    pub(crate) async fn describe(
        &self,
        scope: &Scope,
        input: DescribeParametersInput,
    ) -> Result<Value> {
        let legacy = input.filters.as_deref().unwrap_or_default();
        let string_filters = input.parameter_filters.as_deref().unwrap_or_default();
        if !legacy.is_empty() && !string_filters.is_empty() {
            return Err(SsmError::Validation(
                "You can use either Filters or ParameterFilters in a single request.".into(),
            ));
        }
        let filters = if legacy.is_empty() {
            Filters::parse(string_filters, Api::DescribeParameters)?
        } else {
            Filters::legacy(legacy)?
        };
        let limit = input.max_results.map_or(DESCRIBE_PAGE, |n| n as usize);
        let after = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => Some(decode_token(t).ok_or_else(invalid_token)?),
            None => None,
        };
        if input.shared.unwrap_or(false) {
            return Ok(json!({"Parameters": []}));
        }
        let mut page: Vec<(String, Value)> = Vec::new();
        let mut more = false;
        // One more match than the page holds says whether there is a next page.
        let mut take = |name: &str, version: i64, p: &StoredParameter| {
            if !filters.matches(p) {
                return true;
            }
            if page.len() == limit {
                more = true;
                return false;
            }
            page.push((name.to_string(), metadata(scope, version, p)));
            true
        };
        if let Some(names) = filters.exact_names() {
            for name in names
                .iter()
                .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
            {
                if let Some(r) = self.store.get_parameter(name, None).await?
                    && !take(name, r.version, &parse(&r)?)
                {
                    break;
                }
            }
        } else {
            let prefix = filters.scan_prefix();
            let mut cursor = after.clone();
            'scan: loop {
                let batch = self
                    .store
                    .list_parameters(&prefix, cursor.as_deref(), SCAN_BATCH)
                    .await?;
                for record in &batch {
                    cursor = Some(record.name.clone());
                    if !take(&record.name, record.version, &parse(record)?) {
                        break 'scan;
                    }
                }
                if batch.len() < SCAN_BATCH {
                    break;
                }
            }
        }
        Ok(parameters_page(page, more))
    }

    /// Every version kept of a parameter, oldest first (`GetParameterHistory`).
    pub(crate) async fn history(
        &self,
        scope: &Scope,
        input: GetParameterHistoryInput,
    ) -> Result<Value> {
        let Some(latest) = self.store.get_parameter(&input.name, None).await? else {
            return Err(SsmError::ParameterNotFound);
        };
        let decrypt = input.with_decryption.unwrap_or(false);
        let limit = input.max_results.map_or(HISTORY_PAGE, |n| n as usize) as i64;
        let oldest = (latest.version - MAX_VERSIONS + 1).max(1);
        let start = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => decode_token(t)
                .and_then(|v| v.strip_prefix("v").and_then(|v| v.parse::<i64>().ok()))
                .ok_or_else(invalid_token)?
                .max(oldest),
            None => oldest,
        };
        let end = (start + limit - 1).min(latest.version);
        let mut items = Vec::new();
        for version in start..=end {
            let record = if version == latest.version {
                Some(latest.clone())
            } else {
                self.store.get_parameter(&input.name, Some(version)).await?
            };
            let Some(record) = record else { continue };
            let p = parse(&record)?;
            let mut item = described(scope, version, &p);
            item["Value"] = if p.kind == "SecureString" && !decrypt {
                sealed(&p.value)
            } else {
                p.value.clone()
            }
            .into();
            item["Labels"] = json!([]);
            items.push(item);
        }
        let mut out = json!({"Parameters": items});
        if end < latest.version {
            out["NextToken"] = encode_token(&format!("v{}", end + 1)).into();
        }
        Ok(out)
    }

    /// `DeleteParameters`: the names deleted and those that were not there.
    pub(crate) async fn delete_many(&self, input: DeleteParametersInput) -> Result<Value> {
        let mut deleted: Vec<String> = Vec::new();
        let mut invalid: Vec<String> = Vec::new();
        for name in input.names {
            if deleted.contains(&name) || invalid.contains(&name) {
                continue;
            }
            if self.store.delete_parameter(&name).await? {
                deleted.push(name);
            } else {
                invalid.push(name);
            }
        }
        Ok(json!({"DeletedParameters": deleted, "InvalidParameters": invalid}))
    }
}
