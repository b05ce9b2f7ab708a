//! AWS REST-JSON (Lambda): the operation is the HTTP method and path, members travel in
//! the path, the query string, headers, the status code, a raw payload or a JSON body.
//!
//! Routing and binding are driven by the service's HTTP bindings, generated from the
//! botocore model (`scripts/gen-lambda-model.py` writes `lambda-http.json`): each
//! operation's method, URI template (`/2015-03-31/functions/{FunctionName}/invocations`)
//! and success status, and the location of every input and output member. A service
//! then sees one JSON object of input members and returns one JSON object of output
//! members; this module moves each member to and from its place on the wire, so no
//! service knows where `X-Amz-Log-Result` or `?Qualifier=` live.
//!
//! Errors: the status of the error, `x-amzn-ErrorType: <code>` and a body
//! `{"Type": "User"|"Server", "message": ...}`, the shape Lambda answers in and botocore
//! reads.

use std::collections::HashMap;

use async_trait::async_trait;
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderName, HeaderValue, Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::validate::Model;
use crate::{AwsError, ErrorKind, ProtocolError, RequestContext};

/// Content type of REST-JSON bodies.
pub const CONTENT_TYPE: &str = "application/json";

/// Where a member travels.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Location {
    Uri(String),
    Query(String),
    Header(String),
    StatusCode,
}

/// One piece of a URI template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{Name}` (one segment) or `{Name+}` (the rest of the path).
    Label {
        name: String,
        greedy: bool,
    },
}

#[derive(Debug, Clone)]
struct Route {
    operation: String,
    method: Method,
    segments: Vec<Segment>,
    /// The success status (`responseCode`: 201 for CreateFunction, 204 for deletes).
    status: StatusCode,
    input: Vec<(String, Location)>,
    input_payload: Option<String>,
    output: Vec<(String, Location)>,
    output_payload: Option<String>,
}

/// A service's operations as HTTP routes, parsed from its bindings file.
#[derive(Debug, Clone)]
pub struct Routes {
    routes: Vec<Route>,
}

#[derive(Deserialize)]
struct BindingsFile {
    operations: HashMap<String, OperationBindings>,
}

#[derive(Deserialize)]
struct OperationBindings {
    method: String,
    uri: String,
    code: u16,
    input: HashMap<String, (String, String)>,
    input_payload: Option<String>,
    output: HashMap<String, (String, String)>,
    output_payload: Option<String>,
}

fn location(kind: &str, name: String) -> Result<Location, String> {
    Ok(match kind {
        "uri" => Location::Uri(name),
        "querystring" => Location::Query(name),
        "header" => Location::Header(name.to_ascii_lowercase()),
        "statusCode" => Location::StatusCode,
        other => return Err(format!("unknown member location {other}")),
    })
}

fn bindings(members: HashMap<String, (String, String)>) -> Result<Vec<(String, Location)>, String> {
    let mut out = members
        .into_iter()
        .map(|(member, (kind, name))| Ok((member, location(&kind, name)?)))
        .collect::<Result<Vec<_>, String>>()?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn parse_template(uri: &str) -> Vec<Segment> {
    let path = uri.split_once('?').map_or(uri, |(p, _)| p);
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(label) => match label.strip_suffix('+') {
                    Some(name) => Segment::Label {
                        name: name.to_owned(),
                        greedy: true,
                    },
                    None => Segment::Label {
                        name: label.to_owned(),
                        greedy: false,
                    },
                },
                None => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// Percent-decodes one path segment or query value; `None` for invalid UTF-8.
fn decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

impl Routes {
    /// Parses a bindings file (`{"operations": {Op: {method, uri, code, input, ...}}}`).
    pub fn parse(text: &str) -> Result<Routes, String> {
        let file: BindingsFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut routes = file
            .operations
            .into_iter()
            .map(|(operation, b)| {
                Ok(Route {
                    method: b
                        .method
                        .parse()
                        .map_err(|_| format!("bad method {}", b.method))?,
                    segments: parse_template(&b.uri),
                    status: StatusCode::from_u16(b.code).map_err(|e| e.to_string())?,
                    input: bindings(b.input)?,
                    input_payload: b.input_payload,
                    output: bindings(b.output)?,
                    output_payload: b.output_payload,
                    operation,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        // Literal segments win over labels: more literals first.
        routes.sort_by_key(|r| {
            std::cmp::Reverse(
                r.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count(),
            )
        });
        Ok(Routes { routes })
    }

    /// The operation a method and path name, with the path's labels (decoded).
    fn find(&self, method: &Method, path: &str) -> Option<(&Route, Labels)> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        'routes: for route in &self.routes {
            if route.method != *method {
                continue;
            }
            let mut labels = Vec::new();
            let mut i = 0;
            for segment in &route.segments {
                match segment {
                    Segment::Literal(lit) => {
                        if parts.get(i) != Some(&lit.as_str()) {
                            continue 'routes;
                        }
                        i += 1;
                    }
                    Segment::Label { name, greedy } => {
                        let raw = if *greedy {
                            let rest = parts[i.min(parts.len())..].join("/");
                            i = parts.len();
                            rest
                        } else {
                            let Some(p) = parts.get(i) else {
                                continue 'routes;
                            };
                            i += 1;
                            (*p).to_owned()
                        };
                        let Some(value) = decode(&raw).filter(|v| !v.is_empty()) else {
                            continue 'routes;
                        };
                        labels.push((name.clone(), value));
                    }
                }
            }
            if i == parts.len() {
                return Some((route, labels));
            }
        }
        None
    }

    /// The route of `operation`, which [`route`] found.
    fn of(&self, operation: &str) -> &Route {
        self.routes
            .iter()
            .find(|r| r.operation == operation)
            .expect("route() found this operation")
    }

    /// Whether some operation has this method and path (for telling an unsigned
    /// request apart from an S3 request with the same look).
    pub fn matches(&self, method: &Method, path: &str) -> bool {
        self.find(method, path).is_some()
    }
}

/// A decoded request: the operation and its input members.
#[derive(Debug, Clone)]
pub struct RestRequest {
    pub operation: String,
    /// Every input member bound from the path, query, headers and JSON body, typed by
    /// the model (numbers and booleans from strings).
    pub input: Value,
    /// The raw payload of an operation whose input payload is a blob (Invoke).
    pub payload: Option<Bytes>,
}

/// An operation's result: its output members (the framing moves header and status
/// members out of the body), and the raw payload for blob-payload outputs.
#[derive(Debug, Clone, Default)]
pub struct RestOutput {
    pub members: Map<String, Value>,
    pub payload: Option<Bytes>,
}

/// What a REST-JSON service's call answers: its output, or its error in AWS's terms.
pub type CallResult = Result<RestOutput, Box<dyn AwsError>>;

/// A service spoken over REST-JSON, routed by its SigV4 signing name.
#[async_trait]
pub trait RestJsonService: Send + Sync + 'static {
    /// The SigV4 credential scope's service name, e.g. `lambda`.
    fn signing_name(&self) -> &'static str;
    fn routes(&self) -> &Routes;
    fn model(&self) -> &Model;
    /// Largest request body accepted for `operation`.
    fn max_body_bytes(&self, operation: &str) -> usize;
    async fn call(&self, ctx: &RequestContext, request: RestRequest) -> CallResult;
}

/// A path's labels and their decoded values.
pub(crate) type Labels = Vec<(String, String)>;

/// The operation a request names, or the refusal AWS gives for an unknown path.
pub(crate) fn route<'r>(
    service: &'r dyn RestJsonService,
    parts: &Parts,
) -> Result<(&'r str, Labels), ProtocolError> {
    match service.routes().find(&parts.method, parts.uri.path()) {
        Some((route, labels)) => Ok((route.operation.as_str(), labels)),
        None => Err(ProtocolError::UnknownOperation(format!(
            "No operation of this service matches {} {}",
            parts.method,
            parts.uri.path()
        ))),
    }
}

/// Binds a request's members for `operation` (see [`RestRequest::input`]).
pub(crate) fn bind(
    service: &dyn RestJsonService,
    operation: &str,
    labels: Labels,
    parts: &Parts,
    body: Bytes,
) -> Result<RestRequest, ProtocolError> {
    let route = service.routes().of(operation);
    let (mut input, payload) = if route.input_payload.is_some() {
        (Map::new(), Some(body))
    } else if body.iter().all(u8::is_ascii_whitespace) {
        (Map::new(), None)
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(map)) => (map, None),
            Ok(_) => {
                return Err(ProtocolError::Serialization(
                    "Request body must be a JSON object".into(),
                ));
            }
            Err(e) => {
                return Err(ProtocolError::Serialization(format!(
                    "Malformed JSON request body: {e}"
                )));
            }
        }
    };
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let mut bound = Map::new();
    for (member, location) in &route.input {
        let value = match location {
            Location::Uri(name) => labels
                .iter()
                .find(|(l, _)| l == name)
                .map(|(_, v)| v.clone()),
            Location::Query(name) => query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone()),
            Location::Header(name) => parts
                .headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            Location::StatusCode => None,
        };
        if let Some(value) = value {
            bound.insert(member.clone(), Value::String(value));
        }
    }
    // Path, query and header values are strings on the wire; the model types them.
    let mut bound = Value::Object(bound);
    service.model().coerce_query(operation, &mut bound);
    if let Value::Object(bound) = bound {
        input.extend(bound);
    }
    Ok(RestRequest {
        operation: operation.to_owned(),
        input: Value::Object(input),
        payload,
    })
}

/// The success response of `operation`: status, header members, and the JSON body of
/// the remaining members (or the raw payload).
pub(crate) fn ok_response(
    service: &dyn RestJsonService,
    operation: &str,
    mut output: RestOutput,
    request_id: &str,
) -> Response<Bytes> {
    let route = service.routes().of(operation);
    let mut status = route.status;
    let mut headers = Vec::new();
    for (member, location) in &route.output {
        let Some(value) = output.members.remove(member) else {
            continue;
        };
        match location {
            Location::StatusCode => {
                if let Some(code) = value
                    .as_u64()
                    .and_then(|c| StatusCode::from_u16(c as u16).ok())
                {
                    status = code;
                }
            }
            Location::Header(name) => {
                let text = match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                headers.push((name.clone(), text));
            }
            Location::Uri(_) | Location::Query(_) => {}
        }
    }
    let (body, content_type) = match (&route.output_payload, output.payload) {
        (Some(_), Some(payload)) => (payload, "application/octet-stream"),
        (Some(_), None) => (Bytes::new(), CONTENT_TYPE),
        _ if status == StatusCode::NO_CONTENT => (Bytes::new(), CONTENT_TYPE),
        _ => (
            Bytes::from(Value::Object(output.members).to_string()),
            CONTENT_TYPE,
        ),
    };
    let mut response = crate::frame::response(status, body, content_type, request_id);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

/// The REST-JSON error response: status, `x-amzn-ErrorType` and
/// `{"Type": "User"|"Server", "message": ...}`.
pub fn error_response(err: &dyn AwsError, request_id: &str) -> Response<Bytes> {
    let kind = match err.kind() {
        ErrorKind::Client => "User",
        ErrorKind::Server => "Server",
    };
    let body = serde_json::json!({ "Type": kind, "message": err.message() });
    crate::error::typed_error_response(err, body, CONTENT_TYPE, request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = r#"{"operations": {
        "Get": {"method": "GET", "uri": "/v1/things/{Name}", "code": 200,
                "input": {"Name": ["uri", "Name"], "Qualifier": ["querystring", "Qualifier"]},
                "input_payload": null, "output": {}, "output_payload": null},
        "GetConfig": {"method": "GET", "uri": "/v1/things/{Name}/config", "code": 200,
                "input": {"Name": ["uri", "Name"]}, "input_payload": null,
                "output": {}, "output_payload": null},
        "List": {"method": "GET", "uri": "/v1/things", "code": 200, "input": {},
                "input_payload": null, "output": {}, "output_payload": null},
        "Tags": {"method": "GET", "uri": "/v1/tags/{Arn+}", "code": 200,
                "input": {"Arn": ["uri", "Arn"]}, "input_payload": null,
                "output": {}, "output_payload": null}
    }}"#;

    #[test]
    fn routes_match_literals_labels_and_greedy_labels() {
        let routes = Routes::parse(BINDINGS).unwrap();
        let find = |m: &str, p: &str| {
            routes
                .find(&m.parse().unwrap(), p)
                .map(|(r, l)| (r.operation.clone(), l))
        };
        assert_eq!(find("GET", "/v1/things").unwrap().0, "List");
        assert_eq!(
            find("GET", "/v1/things/a%3Ab").unwrap(),
            (
                "Get".to_string(),
                vec![("Name".to_string(), "a:b".to_string())]
            )
        );
        assert_eq!(find("GET", "/v1/things/x/config").unwrap().0, "GetConfig");
        assert_eq!(
            find("GET", "/v1/tags/arn:aws:x/y").unwrap().1,
            vec![("Arn".to_string(), "arn:aws:x/y".to_string())]
        );
        assert!(find("POST", "/v1/things").is_none());
        assert!(find("GET", "/v1/things/x/other").is_none());
        assert!(find("GET", "/v2/things").is_none());
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(decode("100%").as_deref(), Some("100%"));
        assert_eq!(decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(decode("%ff"), None);
    }
}
