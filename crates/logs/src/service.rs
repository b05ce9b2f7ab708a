//! The CloudWatch Logs API: the JSON 1.1 operations (target prefix `Logs_20140328`),
//! validated against the embedded botocore model and run on the [`Logs`] state. It owns
//! no state and no rules: it decodes, calls the state, and shapes the answer.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use sagestack_protocol::validate::Model;
use sagestack_protocol::{JsonOutput, RequestContext};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::{LogsError, invalid};
use crate::groups::{Result, name_from_identifier};
use crate::state::{EventsQuery, FilterQuery, GroupFilter, LogEvent, Logs, NewGroup, StreamOrder};

/// The embedded model (`model/logs.json`). CloudWatch Logs prints patterns as the
/// model spells them.
pub static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::parse(include_str!("../model/logs.json"))
        .expect("embedded Logs model is valid (tested)")
        .with_verbatim_patterns()
});

fn decode<T: DeserializeOwned>(operation: &str, input: Value) -> Result<T> {
    sagestack_protocol::json11::decode(&MODEL, operation, input)
}

/// DescribeLogGroups' and DescribeLogStreams' page size when `limit` is absent.
const DEFAULT_DESCRIBE_LIMIT: usize = 50;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupName {
    log_group_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateLogGroup {
    log_group_name: String,
    kms_key_id: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    log_group_class: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeLogGroups {
    log_group_name_prefix: Option<String>,
    log_group_name_pattern: Option<String>,
    log_group_class: Option<String>,
    log_group_identifiers: Option<Vec<String>>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StreamName {
    log_group_name: String,
    log_stream_name: String,
}

/// The group of a read: `logGroupName` or `logGroupIdentifier`, exactly one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRef {
    log_group_name: Option<String>,
    log_group_identifier: Option<String>,
}

impl GroupRef {
    fn name(self) -> Result<String> {
        match (self.log_group_name, self.log_group_identifier) {
            (Some(name), None) => Ok(name),
            (None, Some(id)) => name_from_identifier(&id),
            (Some(_), Some(_)) => Err(invalid(
                "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
            )),
            (None, None) => Err(invalid(
                "Should provide either name or ARN of the log group (logGroupName or logGroupIdentifier).",
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeLogStreams {
    #[serde(flatten)]
    group: GroupRef,
    log_stream_name_prefix: Option<String>,
    order_by: Option<String>,
    descending: Option<bool>,
    next_token: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputEvent {
    timestamp: i64,
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutLogEvents {
    log_group_name: String,
    log_stream_name: String,
    log_events: Vec<InputEvent>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetLogEvents {
    #[serde(flatten)]
    group: GroupRef,
    log_stream_name: String,
    #[serde(flatten)]
    query: EventsQuery,
}

#[derive(Deserialize)]
struct FilterLogEvents {
    #[serde(flatten)]
    group: GroupRef,
    #[serde(flatten)]
    query: FilterQuery,
}

/// AssociateKmsKey's and DisassociateKmsKey's input: a log group by name or by ARN
/// (`resourceIdentifier`), exactly one.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KmsKey {
    log_group_name: Option<String>,
    resource_identifier: Option<String>,
    kms_key_id: Option<String>,
}

impl KmsKey {
    fn group(&self) -> Result<String> {
        match (&self.log_group_name, &self.resource_identifier) {
            (Some(name), None) => Ok(name.clone()),
            (None, Some(id)) if id.contains(":query-result:") => Err(invalid(
                "sagestack has no Logs Insights queries: a KMS key can be associated with a log group only.",
            )),
            (None, Some(id)) => name_from_identifier(id),
            (Some(_), Some(_)) => Err(invalid(
                "LogGroup name and resource identifier are mutually exclusive parameters.",
            )),
            (None, None) => Err(invalid(
                "Should provide either LogGroup name or resource identifier.",
            )),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PutRetentionPolicy {
    log_group_name: String,
    retention_in_days: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagResource {
    resource_arn: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagResource {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceArn {
    resource_arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagLogGroup {
    log_group_name: String,
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagLogGroup {
    log_group_name: String,
    tags: Vec<String>,
}

/// The CloudWatch Logs API over the [`Logs`] state. Cheap to share.
pub struct LogsService {
    logs: Arc<Logs>,
}

impl LogsService {
    pub fn new(logs: Arc<Logs>) -> Self {
        LogsService { logs }
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, _: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        let logs = &self.logs;
        let out = match op {
            "CreateLogGroup" => {
                let i: CreateLogGroup = decode(op, input)?;
                let new = NewGroup {
                    name: i.log_group_name,
                    tags: i.tags.unwrap_or_default(),
                    class: i.log_group_class,
                    kms_key_id: i.kms_key_id,
                    retention_in_days: None,
                };
                logs.create_group(new).await?;
                json!({})
            }
            "DeleteLogGroup" => {
                let i: GroupName = decode(op, input)?;
                logs.delete_group(&i.log_group_name).await?;
                json!({})
            }
            "DescribeLogGroups" => self.describe_groups(decode(op, input)?).await?,
            "CreateLogStream" => {
                let i: StreamName = decode(op, input)?;
                logs.create_stream(&i.log_group_name, &i.log_stream_name)
                    .await?;
                json!({})
            }
            "DeleteLogStream" => {
                let i: StreamName = decode(op, input)?;
                logs.delete_stream(&i.log_group_name, &i.log_stream_name)
                    .await?;
                json!({})
            }
            "DescribeLogStreams" => self.describe_streams(decode(op, input)?).await?,
            "PutLogEvents" => {
                let i: PutLogEvents = decode(op, input)?;
                let events = i
                    .log_events
                    .into_iter()
                    .map(|e| LogEvent {
                        timestamp_ms: e.timestamp,
                        message: e.message,
                    })
                    .collect();
                let rejected = logs
                    .put_events(&i.log_group_name, &i.log_stream_name, events)
                    .await?;
                let mut out = json!({ "nextSequenceToken": next_sequence_token() });
                if rejected != Default::default() {
                    out["rejectedLogEventsInfo"] = to_value(&rejected)?;
                }
                out
            }
            "GetLogEvents" => {
                let i: GetLogEvents = decode(op, input)?;
                let page = logs
                    .get_events(&i.group.name()?, &i.log_stream_name, i.query)
                    .await?;
                json!({
                    "events": to_value(&page.events)?,
                    "nextForwardToken": page.next_forward_token,
                    "nextBackwardToken": page.next_backward_token,
                })
            }
            "FilterLogEvents" => {
                let i: FilterLogEvents = decode(op, input)?;
                let page = logs.filter_events(&i.group.name()?, i.query).await?;
                let searched: Vec<Value> = page
                    .searched
                    .iter()
                    .map(|s| json!({"logStreamName": s, "searchedCompletely": true}))
                    .collect();
                let mut out = json!({
                    "events": to_value(&page.events)?,
                    "searchedLogStreams": searched,
                });
                if let Some(t) = page.next_token {
                    out["nextToken"] = t.into();
                }
                out
            }
            "PutRetentionPolicy" => {
                let i: PutRetentionPolicy = decode(op, input)?;
                logs.set_retention(&i.log_group_name, Some(i.retention_in_days))
                    .await?;
                json!({})
            }
            "AssociateKmsKey" | "DisassociateKmsKey" => {
                let i: KmsKey = decode(op, input)?;
                let key = i.kms_key_id.clone().filter(|_| op == "AssociateKmsKey");
                logs.set_kms_key(&i.group()?, key).await?;
                json!({})
            }
            "DeleteRetentionPolicy" => {
                let i: GroupName = decode(op, input)?;
                logs.set_retention(&i.log_group_name, None).await?;
                json!({})
            }
            "TagResource" => {
                let i: TagResource = decode(op, input)?;
                logs.tag(&logs.group_of_arn(&i.resource_arn)?, i.tags)
                    .await?;
                json!({})
            }
            "UntagResource" => {
                let i: UntagResource = decode(op, input)?;
                logs.untag(&logs.group_of_arn(&i.resource_arn)?, &i.tag_keys)
                    .await?;
                json!({})
            }
            "ListTagsForResource" => {
                let i: ResourceArn = decode(op, input)?;
                json!({ "tags": logs.tags(&logs.group_of_arn(&i.resource_arn)?).await? })
            }
            "TagLogGroup" => {
                let i: TagLogGroup = decode(op, input)?;
                logs.tag(&i.log_group_name, i.tags).await?;
                json!({})
            }
            "UntagLogGroup" => {
                let i: UntagLogGroup = decode(op, input)?;
                logs.untag(&i.log_group_name, &i.tags).await?;
                json!({})
            }
            "ListTagsLogGroup" => {
                let i: GroupName = decode(op, input)?;
                json!({ "tags": logs.tags(&i.log_group_name).await? })
            }
            other => {
                return Err(LogsError::UnknownOperation(format!(
                    "Operation Logs_20140328.{other} is not supported by this server"
                )));
            }
        };
        Ok(JsonOutput::Value(out))
    }

    async fn describe_groups(&self, i: DescribeLogGroups) -> Result<Value> {
        // With a name pattern AWS answers only these three fields.
        let brief = i.log_group_name_pattern.is_some();
        let filter = GroupFilter {
            prefix: i.log_group_name_prefix,
            pattern: i.log_group_name_pattern,
            class: i.log_group_class,
            names: i
                .log_group_identifiers
                .map(|ids| ids.iter().map(|id| name_from_identifier(id)).collect())
                .transpose()?,
        };
        let limit = i.limit.unwrap_or(DEFAULT_DESCRIBE_LIMIT);
        let page = self
            .logs
            .describe_groups(&filter, limit, i.next_token.as_deref())
            .await?;
        let scope = self.logs.scope();
        let groups: Vec<Value> = page
            .items
            .into_iter()
            .map(|(g, stored_bytes)| {
                let mut v = json!({
                    "logGroupName": g.log_group_name,
                    "creationTime": g.creation_time,
                    "arn": g.arn,
                });
                if brief {
                    return v;
                }
                v["metricFilterCount"] = 0.into();
                v["storedBytes"] = stored_bytes.into();
                v["logGroupClass"] = g.log_group_class.into();
                v["logGroupArn"] = scope.group_arn_bare(&g.log_group_name).into();
                if let Some(days) = g.retention_in_days {
                    v["retentionInDays"] = days.into();
                }
                if let Some(k) = g.kms_key_id {
                    v["kmsKeyId"] = k.into();
                }
                v
            })
            .collect();
        let mut out = json!({ "logGroups": groups });
        if let Some(t) = page.next_token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }

    async fn describe_streams(&self, i: DescribeLogStreams) -> Result<Value> {
        let order = match i.order_by.as_deref() {
            Some("LastEventTime") => StreamOrder::LastEventTime,
            _ => StreamOrder::Name,
        };
        let page = self
            .logs
            .describe_streams(
                &i.group.name()?,
                i.log_stream_name_prefix.as_deref(),
                order,
                i.descending.unwrap_or(false),
                i.limit.unwrap_or(DEFAULT_DESCRIBE_LIMIT),
                i.next_token.as_deref(),
            )
            .await?;
        let mut out = json!({ "logStreams": to_value(&page.items)? });
        if let Some(t) = page.next_token {
            out["nextToken"] = t.into();
        }
        Ok(out)
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| LogsError::Internal(e.to_string()))
}

/// PutLogEvents' `nextSequenceToken`: AWS ignores sequence tokens since 2023 but still
/// returns one; clients written before then pass it back, and it is never checked.
fn next_sequence_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{:056}", NEXT.fetch_add(1, Ordering::Relaxed))
}

sagestack_protocol::json11_service!(LogsService, "Logs_20140328");

#[cfg(test)]
mod tests;
