//! The EventBridge API (`X-Amz-Target: AWSEvents.<Operation>`, JSON 1.1). Today:
//! `TestEventPattern`. Other operations answer `UnknownOperationException` until buses,
//! rules and targets land (issue #15).

use sagestack_protocol::{JsonOutput, RequestContext};
use serde_json::{Value, json};

use crate::{EventsError, Pattern};

type Result<T> = std::result::Result<T, EventsError>;

/// The fields `TestEventPattern`'s event must have (AWS's documented list).
pub const REQUIRED_EVENT_FIELDS: [&str; 7] = [
    "id",
    "account",
    "source",
    "time",
    "region",
    "resources",
    "detail-type",
];

/// Largest `EventPattern` accepted, in characters (PutRule's limit).
pub const MAX_PATTERN_CHARS: usize = 4096;

/// The EventBridge API; stateless for now.
#[derive(Debug, Default)]
pub struct EventsService;

impl EventsService {
    pub fn new() -> Self {
        EventsService
    }

    /// Runs one operation on a decoded JSON input.
    pub async fn handle(&self, _: &RequestContext, op: &str, input: Value) -> Result<JsonOutput> {
        match op {
            "TestEventPattern" => test_event_pattern(&input).map(JsonOutput::Value),
            other => Err(EventsError::UnknownOperation(format!(
                "Operation {other} is not supported by this server's EventBridge yet"
            ))),
        }
    }
}

fn required<'a>(input: &'a Value, name: &str, member: &str) -> Result<&'a str> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(EventsError::Validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy \
             constraint: Member must not be null"
        ))),
        Some(_) => Err(EventsError::Serialization(format!(
            "{name} must be a string"
        ))),
    }
}

fn test_event_pattern(input: &Value) -> Result<Value> {
    let pattern = required(input, "EventPattern", "eventPattern")?;
    let event = required(input, "Event", "event")?;
    if pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(EventsError::Validation(format!(
            "1 validation error detected: Value at 'eventPattern' failed to satisfy \
             constraint: Member must have length less than or equal to {MAX_PATTERN_CHARS}"
        )));
    }
    let pattern = Pattern::parse(pattern)?;
    let event: Value = serde_json::from_str(event).map_err(|_| {
        EventsError::Validation("Parameter Event is not valid. Reason: not valid JSON".into())
    })?;
    let Value::Object(fields) = &event else {
        return Err(EventsError::Validation(
            "Parameter Event is not valid. Reason: not a JSON object".into(),
        ));
    };
    if let Some(missing) = REQUIRED_EVENT_FIELDS
        .iter()
        .find(|f| !fields.contains_key(**f))
    {
        return Err(EventsError::Validation(format!(
            "Parameter Event is not valid. Reason: Provided Event is missing required field {missing}"
        )));
    }
    Ok(json!({ "Result": pattern.matches(&event) }))
}

sagestack_protocol::json11_service!(EventsService, "AWSEvents");

#[cfg(test)]
mod tests {
    use super::*;

    fn call(input: Value) -> Result<Value> {
        test_event_pattern(&input)
    }

    const EVENT: &str = r#"{"id":"1","account":"123456789012","source":"aws.sagemaker","time":"2026-12-06T00:00:00Z","region":"us-east-1","resources":[],"detail-type":"SageMaker Model Package State Change","detail":{"ModelApprovalStatus":"Approved"}}"#;

    #[test]
    fn answers_whether_the_event_matches() {
        let yes = call(json!({"EventPattern": r#"{"source":["aws.sagemaker"]}"#, "Event": EVENT}));
        assert_eq!(yes.unwrap(), json!({"Result": true}));
        let no = call(
            json!({"EventPattern": r#"{"detail":{"ModelApprovalStatus":["Rejected"]}}"#, "Event": EVENT}),
        );
        assert_eq!(no.unwrap(), json!({"Result": false}));
    }

    #[test]
    fn refuses_bad_patterns_events_and_missing_members() {
        assert!(matches!(
            call(json!({"EventPattern": "{\"a\": 1}", "Event": EVENT})),
            Err(EventsError::InvalidEventPattern(_))
        ));
        assert!(
            matches!(call(json!({"Event": EVENT})), Err(EventsError::Validation(m)) if m.contains("eventPattern"))
        );
        let partial = r#"{"id":"1","source":"s"}"#;
        assert!(matches!(
            call(json!({"EventPattern": "{}", "Event": partial})),
            Err(EventsError::Validation(m)) if m.contains("missing required field account")
        ));
        let long = format!("{{\"a\": [\"{}\"]}}", "x".repeat(5000));
        assert!(matches!(
            call(json!({"EventPattern": long, "Event": EVENT})),
            Err(EventsError::Validation(_))
        ));
    }
}
