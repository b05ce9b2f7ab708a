//! `Invoke`: `RequestResponse` (the function's answer, `X-Amz-Function-Error` when it
//! failed, the log's last 4 KB in `X-Amz-Log-Result` with `LogType: Tail`), `Event`
//! (202 at once; the invocation runs in the background and its log is written as usual)
//! and `DryRun` (204 once the function and qualifier resolve).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use sagestack_protocol::rest_json::{RestOutput, RestRequest};

use super::LambdaApi;
use crate::error::{LambdaError, Result};

/// `LogType: Tail` returns at most this much of the invocation's log.
const TAIL_BYTES: usize = 4096;

impl LambdaApi {
    pub(super) async fn invoke(&self, request: RestRequest) -> Result<RestOutput> {
        let input = request.input;
        sagestack_protocol::json11::decode::<Value, LambdaError>(
            &super::MODEL,
            "Invoke",
            input.clone(),
        )?;
        let text = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_string);
        let function = text("FunctionName").unwrap_or_default();
        let invocation_type = text("InvocationType").unwrap_or_else(|| "RequestResponse".into());
        let payload = request.payload.unwrap_or_default();
        if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err()
        {
            return Err(LambdaError::InvalidRequestContent(
                "Could not parse request body into json: Could not parse payload into json".into(),
            ));
        }
        let spec = self
            .invoker
            .spec(&function, text("Qualifier").as_deref())
            .await?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let client_context = text("ClientContext").and_then(|cc| {
            base64::engine::general_purpose::STANDARD
                .decode(cc)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        });
        let mut members = Map::new();
        match invocation_type.as_str() {
            "DryRun" => {
                members.insert("StatusCode".into(), json!(204));
                return Ok(RestOutput {
                    members,
                    payload: None,
                });
            }
            "Event" => {
                self.invoker
                    .start_event(spec, request_id, payload, client_context)?;
                members.insert("StatusCode".into(), json!(202));
                return Ok(RestOutput {
                    members,
                    payload: None,
                });
            }
            _ => {}
        }
        let done = self
            .invoker
            .run(&spec, &request_id, payload, client_context)
            .await;
        let tail = text("LogType").is_some_and(|t| t == "Tail");
        members.insert("StatusCode".into(), json!(200));
        members.insert("ExecutedVersion".into(), json!(spec.version));
        if let Some(error) = &done.function_error {
            members.insert("FunctionError".into(), json!(error));
        }
        if tail {
            members.insert("LogResult".into(), json!(log_tail(&done.log_lines)));
        }
        Ok(RestOutput {
            members,
            payload: Some(done.payload),
        })
    }
}

/// Base64 of the last 4 KB of the log (cut on a character boundary).
pub(crate) fn log_tail(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    let mut start = text.len().saturating_sub(TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[start..])
}
