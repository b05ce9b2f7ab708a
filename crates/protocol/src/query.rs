//! The AWS Query protocol (CloudFormation, API version `2010-05-15`): form-encoded
//! requests in, XML documents out.
//!
//! A request is `POST /` with `Content-Type: application/x-www-form-urlencoded` and a
//! body such as
//!
//! ```text
//! Action=CreateStack&Version=2010-05-15&StackName=web
//!   &Parameters.member.1.ParameterKey=Env&Parameters.member.1.ParameterValue=dev
//!   &Capabilities.member.1=CAPABILITY_IAM
//! ```
//!
//! (or a `GET /?Action=...`). [`parse_request`] turns the flattened names back into a
//! tree, the same JSON shape a JSON 1.1 service receives: `a.b` nests structures and
//! `a.member.N` / `a.entry.N` become arrays ordered by `N`. Leaves stay strings: the
//! Query protocol has no types, the service reads numbers and booleans where its model
//! says so. An empty value for a list member (`Capabilities=`) is how clients send an
//! empty list; it arrives as `""`.
//!
//! A service answers an [`Xml`] tree (element names from its model). [`ok_response`]
//! wraps it as
//!
//! ```text
//! <CreateStackResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
//!   <CreateStackResult>...</CreateStackResult>
//!   <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
//! </CreateStackResponse>
//! ```
//!
//! and [`error_response`] writes the Query error shape (`<ErrorResponse>` with `Type`
//! `Sender` or `Receiver`, `Code`, `Message` and `RequestId`). Text is escaped by
//! quick-xml's writer, so values are never spliced into markup by hand.

use std::collections::BTreeMap;
use std::io::Cursor;

use async_trait::async_trait;
use bytes::Bytes;
use http::{Response, StatusCode};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde_json::{Map, Value};

use crate::{AwsError, ErrorKind, RequestContext};

/// Content type of Query responses.
pub const CONTENT_TYPE: &str = "text/xml";

/// Largest form body accepted, in bytes (1 MiB). A 51,200-byte `TemplateBody` can triple
/// in size once percent-encoded, so this is well above what a valid request needs.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Most parameters one request may carry (query string and body together). The largest
/// legitimate CloudFormation requests stay far below it: `CreateStack` with its 200
/// parameters (3 names each), 50 tags and every list filled is under 1,000 names.
/// Refusing at the 10,001st name, before it is stored, keeps a 1 MiB body of `a=&a=&...`
/// from becoming half a million tree nodes.
pub const MAX_PARAMETERS: usize = 10_000;

/// Most dotted segments in one parameter name. The deepest name a CloudFormation model
/// produces, `ResourcesToImport.member.N.ResourceIdentifier.entry.N.value`, has 6. The
/// bound is what makes the tree (built, turned into JSON and dropped recursively) safe:
/// without it, `a.a.a...` with thousands of segments overflowed a worker's stack.
pub const MAX_NAME_SEGMENTS: usize = 32;

/// Largest list index (`X.member.N`). Clients number members 1..n, and n cannot exceed
/// the number of parameters, so a larger index is never part of a valid list. (Too
/// many members in one list is a model constraint, reported by the service's validator
/// as AWS does: `Member must have length less than or equal to ...`.)
pub const MAX_LIST_INDEX: u64 = MAX_PARAMETERS as u64;

/// How much of an offending name an error message repeats.
const MAX_NAME_IN_MESSAGE: usize = 128;

/// Errors of the Query framing itself, before a service sees the request.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("Missing Action")]
    MissingAction,
    /// No service (or no operation) answers this action at this version.
    #[error("Could not find operation {action} for version {version}")]
    InvalidAction { action: String, version: String },
    /// A parameter name that cannot be turned into a tree (`a=1&a.b=2`).
    #[error("{0}")]
    MalformedQueryString(String),
    /// A request beyond this server's bounds on the Query form: too many parameters, a
    /// name with too many segments, a list index too large. AWS's common errors list
    /// `InvalidQueryParameter` (400) for "the AWS query string is malformed or does not
    /// adhere to AWS standards", which is what such a request is; `MalformedQueryString`
    /// is kept for names that do not parse at all.
    #[error("{0}")]
    InvalidQueryParameter(String),
}

impl AwsError for QueryError {
    fn code(&self) -> &str {
        match self {
            Self::MissingAction => "MissingAction",
            Self::InvalidAction { .. } => "InvalidAction",
            Self::MalformedQueryString(_) => "MalformedQueryString",
            Self::InvalidQueryParameter(_) => "InvalidQueryParameter",
        }
    }
}

impl From<QueryError> for Box<dyn AwsError> {
    fn from(e: QueryError) -> Self {
        Box::new(e)
    }
}

/// A decoded Query request.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    pub action: String,
    /// `Version`, empty when the client sent none.
    pub version: String,
    /// Every other parameter, as a tree (a JSON object).
    pub params: Value,
}

/// A service spoken over the Query protocol, routed by its API version.
/// What a Query service's call answers: its result element (`None`: only
/// `ResponseMetadata`), or its error in AWS's terms.
pub type CallResult = Result<Option<Xml>, Box<dyn AwsError>>;

#[async_trait]
pub trait QueryService: Send + Sync + 'static {
    /// The `Version` parameter this service answers, e.g. `2010-05-15`.
    fn version(&self) -> &'static str;
    /// The `xmlns` of its responses.
    fn xml_namespace(&self) -> &'static str;
    /// Runs `action`. `Ok(None)` is an operation without output (only
    /// `ResponseMetadata` is sent). Unknown actions should answer
    /// [`QueryError::InvalidAction`].
    async fn call(&self, ctx: &RequestContext, action: &str, params: Value) -> CallResult;
}

/// Decodes a Query request from its form body and, for `GET`, its URI query string
/// (body parameters win over query-string ones with the same name).
///
/// Every bound ([`MAX_PARAMETERS`], [`MAX_NAME_SEGMENTS`], [`MAX_LIST_INDEX`]) is checked
/// before the name is stored, so the work done for any input is linear in its size and
/// the tree is never deeper than [`MAX_NAME_SEGMENTS`].
pub fn parse_request(uri_query: Option<&str>, body: &[u8]) -> Result<QueryRequest, QueryError> {
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    let query_pairs = uri_query.map(|q| form_urlencoded::parse(q.as_bytes()));
    let mut count = 0usize;
    for (name, value) in query_pairs
        .into_iter()
        .flatten()
        .chain(form_urlencoded::parse(body))
    {
        count += 1;
        if count > MAX_PARAMETERS {
            return Err(QueryError::InvalidQueryParameter(format!(
                "The request has more than {MAX_PARAMETERS} parameters"
            )));
        }
        check_name(&name)?;
        pairs.insert(name.into_owned(), value.into_owned());
    }
    let action = pairs.remove("Action").filter(|a| !a.is_empty());
    let version = pairs.remove("Version").unwrap_or_default();
    let Some(action) = action else {
        return Err(QueryError::MissingAction);
    };
    let mut root = Node::Struct(BTreeMap::new());
    for (name, value) in pairs {
        insert(&mut root, &name, value)?;
    }
    Ok(QueryRequest {
        action,
        version,
        params: root.into_value(),
    })
}

/// The start of a name, for messages (a refused name may be a megabyte long).
fn shown(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_IN_MESSAGE) {
        Some((at, _)) => format!("{}...", &name[..at]),
        None => name.to_owned(),
    }
}

/// Refuses a name beyond the bounds: too many segments, or a list index too large.
fn check_name(name: &str) -> Result<(), QueryError> {
    let mut previous: Option<&str> = None;
    for (i, seg) in name.split('.').enumerate() {
        if i >= MAX_NAME_SEGMENTS {
            return Err(QueryError::InvalidQueryParameter(format!(
                "The parameter name {} has more than {MAX_NAME_SEGMENTS} segments",
                shown(name)
            )));
        }
        let after_list = matches!(previous, Some("member" | "entry"));
        if after_list && is_index(seg) && !seg.parse::<u64>().is_ok_and(|n| n <= MAX_LIST_INDEX) {
            return Err(QueryError::InvalidQueryParameter(format!(
                "The list index {} in parameter {} is larger than {MAX_LIST_INDEX}",
                shown(seg),
                shown(name)
            )));
        }
        previous = Some(seg);
    }
    Ok(())
}

/// The intermediate tree: every dotted segment is a struct key until [`Node::into_value`]
/// turns `member`/`entry` children with numeric keys into arrays. Its depth is at most
/// [`MAX_NAME_SEGMENTS`] ([`check_name`]), which bounds the recursion of `into_value`
/// and of the drops of both this tree and the JSON value made from it.
enum Node {
    Leaf(String),
    Struct(BTreeMap<String, Node>),
}

fn insert(root: &mut Node, name: &str, value: String) -> Result<(), QueryError> {
    let malformed =
        || QueryError::MalformedQueryString(format!("Malformed parameter name {}", shown(name)));
    let segments: Vec<&str> = name.split('.').collect();
    if segments.iter().any(|s| s.is_empty()) {
        return Err(malformed());
    }
    let mut node = root;
    for (i, seg) in segments.iter().enumerate() {
        let Node::Struct(map) = node else {
            return Err(malformed());
        };
        let last = i + 1 == segments.len();
        if last {
            if map.contains_key(*seg) {
                return Err(malformed());
            }
            map.insert((*seg).to_owned(), Node::Leaf(value));
            return Ok(());
        }
        node = map
            .entry((*seg).to_owned())
            .or_insert_with(|| Node::Struct(BTreeMap::new()));
    }
    Ok(())
}

impl Node {
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::String(s),
            Node::Struct(mut map) => {
                // `X.member.N` / `X.entry.N`: a list when `member` (or `entry`) is the only
                // key and every key under it is a positive index.
                if map.len() == 1 {
                    let key = map.keys().next().cloned().unwrap_or_default();
                    let is_list = (key == "member" || key == "entry")
                        && matches!(map.get(&key), Some(Node::Struct(items)) if items.keys().all(|k| is_index(k)));
                    if is_list && let Some(Node::Struct(items)) = map.remove(&key) {
                        let mut items: Vec<(u64, Node)> = items
                            .into_iter()
                            .map(|(k, v)| (k.parse().unwrap_or(0), v))
                            .collect();
                        items.sort_by_key(|(k, _)| *k);
                        return Value::Array(
                            items.into_iter().map(|(_, v)| v.into_value()).collect(),
                        );
                    }
                }
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, v.into_value()))
                        .collect::<Map<_, _>>(),
                )
            }
        }
    }
}

fn is_index(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) && !k.starts_with('0')
}

/// An XML result tree: an ordered list of child elements, each text or a nested tree.
/// Element names are `'static` because they come from the service model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Xml {
    children: Vec<(&'static str, XmlNode)>,
}

#[derive(Debug, Clone, PartialEq)]
enum XmlNode {
    Text(String),
    Element(Xml),
}

impl Xml {
    pub fn new() -> Self {
        Self::default()
    }

    /// `<name>value</name>`.
    pub fn text(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.push_text(name, value);
        self
    }

    /// `<name>value</name>` when `value` is `Some`.
    pub fn opt_text<S: Into<String>>(mut self, name: &'static str, value: Option<S>) -> Self {
        if let Some(v) = value {
            self.push_text(name, v);
        }
        self
    }

    /// `<name>...</name>`.
    pub fn element(mut self, name: &'static str, child: Xml) -> Self {
        self.children.push((name, XmlNode::Element(child)));
        self
    }

    /// A Query list: `<name><member>...</member>...</name>` (an empty `<name/>` when
    /// there are no items, which clients read as an empty list).
    pub fn list(mut self, name: &'static str, items: impl IntoIterator<Item = Xml>) -> Self {
        let mut wrapper = Xml::new();
        for item in items {
            wrapper.children.push(("member", XmlNode::Element(item)));
        }
        self.children.push((name, XmlNode::Element(wrapper)));
        self
    }

    /// A Query list of strings: `<name><member>a</member>...</name>`.
    pub fn text_list<S: Into<String>>(
        mut self,
        name: &'static str,
        items: impl IntoIterator<Item = S>,
    ) -> Self {
        let mut wrapper = Xml::new();
        for item in items {
            wrapper.push_text("member", item);
        }
        self.children.push((name, XmlNode::Element(wrapper)));
        self
    }

    pub fn push_text(&mut self, name: &'static str, value: impl Into<String>) {
        self.children.push((name, XmlNode::Text(value.into())));
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The text of the first child element `name`.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.children.iter().find_map(|(n, node)| match node {
            XmlNode::Text(t) if *n == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// The first child element `name` that has children of its own.
    pub fn child(&self, name: &str) -> Option<&Xml> {
        self.children.iter().find_map(|(n, node)| match node {
            XmlNode::Element(x) if *n == name => Some(x),
            _ => None,
        })
    }

    /// The `member` items of the list child `name` (empty when absent).
    pub fn members(&self, name: &str) -> Vec<&Xml> {
        self.child(name)
            .map(|l| {
                l.children
                    .iter()
                    .filter_map(|(n, node)| match node {
                        XmlNode::Element(x) if *n == "member" => Some(x),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn write(&self, w: &mut Writer<Cursor<Vec<u8>>>) -> std::io::Result<()> {
        for (name, node) in &self.children {
            match node {
                XmlNode::Text(t) => {
                    w.write_event(Event::Start(BytesStart::new(*name)))?;
                    w.write_event(Event::Text(BytesText::new(t)))?;
                    w.write_event(Event::End(BytesEnd::new(*name)))?;
                }
                XmlNode::Element(child) => {
                    w.write_event(Event::Start(BytesStart::new(*name)))?;
                    child.write(w)?;
                    w.write_event(Event::End(BytesEnd::new(*name)))?;
                }
            }
        }
        Ok(())
    }
}

fn document(
    root: &str,
    namespace: Option<&str>,
    body: impl FnOnce(&mut Writer<Cursor<Vec<u8>>>) -> std::io::Result<()>,
) -> Bytes {
    let mut w = Writer::new(Cursor::new(Vec::with_capacity(1024)));
    let mut start = BytesStart::new(root);
    if let Some(ns) = namespace {
        start.push_attribute(("xmlns", ns));
    }
    // Writing into a Vec cannot fail.
    let _ = (|| -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        w.write_event(Event::Start(start))?;
        body(&mut w)?;
        w.write_event(Event::End(BytesEnd::new(root)))
    })();
    Bytes::from(w.into_inner().into_inner())
}

fn request_id_element(w: &mut Writer<Cursor<Vec<u8>>>, request_id: &str) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new("RequestId")))?;
    w.write_event(Event::Text(BytesText::new(request_id)))?;
    w.write_event(Event::End(BytesEnd::new("RequestId")))
}

fn xml_response(status: StatusCode, body: Bytes, request_id: &str) -> Response<Bytes> {
    crate::frame::response(status, body, CONTENT_TYPE, request_id)
}

/// `200 OK` with `<{action}Response xmlns=namespace>`, the `<{action}Result>` (when the
/// operation has output) and `ResponseMetadata`.
pub fn ok_response(
    action: &str,
    namespace: &str,
    result: Option<&Xml>,
    request_id: &str,
) -> Response<Bytes> {
    let root = format!("{action}Response");
    let body = document(&root, Some(namespace), |w| {
        if let Some(result) = result {
            let name = format!("{action}Result");
            w.write_event(Event::Start(BytesStart::new(name.as_str())))?;
            result.write(w)?;
            w.write_event(Event::End(BytesEnd::new(name.as_str())))?;
        }
        w.write_event(Event::Start(BytesStart::new("ResponseMetadata")))?;
        request_id_element(w, request_id)?;
        w.write_event(Event::End(BytesEnd::new("ResponseMetadata")))
    });
    xml_response(StatusCode::OK, body, request_id)
}

/// The Query error shape, with the error's HTTP status:
/// `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>`.
pub fn error_response(
    err: &dyn AwsError,
    namespace: Option<&str>,
    request_id: &str,
) -> Response<Bytes> {
    if let Some(outage) = crate::error::outage(err) {
        return error_response(&outage, namespace, request_id);
    }
    let fault = match err.kind() {
        ErrorKind::Client => "Sender",
        ErrorKind::Server => "Receiver",
    };
    let error = Xml::new()
        .text("Type", fault)
        .text("Code", err.code())
        .text("Message", err.message());
    let body = document("ErrorResponse", namespace, |w| {
        w.write_event(Event::Start(BytesStart::new("Error")))?;
        error.write(w)?;
        w.write_event(Event::End(BytesEnd::new("Error")))?;
        request_id_element(w, request_id)
    });
    xml_response(err.status(), body, request_id)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ProtocolError;

    fn body(resp: &Response<Bytes>) -> String {
        String::from_utf8(resp.body().to_vec()).unwrap()
    }

    #[test]
    fn nested_members_become_lists_and_structures() {
        let form = "Action=CreateStack&Version=2010-05-15&StackName=web\
            &Parameters.member.2.ParameterKey=B&Parameters.member.2.UsePreviousValue=true\
            &Parameters.member.1.ParameterKey=A&Parameters.member.1.ParameterValue=x%26y%3D1\
            &Capabilities.member.1=CAPABILITY_IAM&Capabilities.member.10=Z&Capabilities.member.2=CAPABILITY_NAMED_IAM\
            &Tags.member.1.Key=team&Tags.member.1.Value=ml+ops\
            &RollbackConfiguration.MonitoringTimeInMinutes=5";
        let r = parse_request(None, form.as_bytes()).unwrap();
        assert_eq!(r.action, "CreateStack");
        assert_eq!(r.version, "2010-05-15");
        assert_eq!(
            r.params,
            json!({
                "StackName": "web",
                "Parameters": [
                    {"ParameterKey": "A", "ParameterValue": "x&y=1"},
                    {"ParameterKey": "B", "UsePreviousValue": "true"}
                ],
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "Z"],
                "Tags": [{"Key": "team", "Value": "ml ops"}],
                "RollbackConfiguration": {"MonitoringTimeInMinutes": "5"}
            })
        );
    }

    #[test]
    fn empty_lists_maps_and_query_strings() {
        let r = parse_request(
            Some("Action=ListStacks&Version=2010-05-15&StackStatusFilter.member.1=CREATE_COMPLETE"),
            b"",
        )
        .unwrap();
        assert_eq!(r.params, json!({"StackStatusFilter": ["CREATE_COMPLETE"]}));
        let r = parse_request(
            None,
            b"Action=UpdateStack&Tags=&X.entry.1.key=k&X.entry.1.value=v",
        )
        .unwrap();
        assert_eq!(r.version, "");
        assert_eq!(
            r.params,
            json!({"Tags": "", "X": [{"key": "k", "value": "v"}]})
        );
        // A member key that is not an index stays a structure.
        let r = parse_request(None, b"Action=A&X.member.name=1").unwrap();
        assert_eq!(r.params, json!({"X": {"member": {"name": "1"}}}));
    }

    #[test]
    fn malformed_requests() {
        assert!(matches!(
            parse_request(None, b"Version=2010-05-15"),
            Err(QueryError::MissingAction)
        ));
        assert!(matches!(
            parse_request(None, b"Action=A&a=1&a.b=2"),
            Err(QueryError::MalformedQueryString(_))
        ));
        assert!(matches!(
            parse_request(None, b"Action=A&a..b=1"),
            Err(QueryError::MalformedQueryString(_))
        ));
    }

    #[test]
    fn responses_are_escaped_and_wrapped() {
        let result = Xml::new()
            .text(
                "StackId",
                "arn:aws:cloudformation:us-east-1:1:stack/a&b/<x>",
            )
            .list("Tags", [Xml::new().text("Key", "k").text("Value", "\"v'")])
            .text_list("Capabilities", Vec::<String>::new())
            .opt_text("Description", None::<String>);
        assert_eq!(
            result.text_of("StackId"),
            Some("arn:aws:cloudformation:us-east-1:1:stack/a&b/<x>")
        );
        assert_eq!(result.members("Tags")[0].text_of("Value"), Some("\"v'"));
        assert!(result.members("Capabilities").is_empty());
        assert_eq!(result.text_of("Description"), None);
        let resp = ok_response("CreateStack", "http://ns/", Some(&result), "rid-1");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/xml");
        assert_eq!(resp.headers()["x-amzn-requestid"], "rid-1");
        assert_eq!(
            body(&resp),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <CreateStackResponse xmlns=\"http://ns/\"><CreateStackResult>\
             <StackId>arn:aws:cloudformation:us-east-1:1:stack/a&amp;b/&lt;x&gt;</StackId>\
             <Tags><member><Key>k</Key><Value>&quot;v&apos;</Value></member></Tags>\
             <Capabilities></Capabilities>\
             </CreateStackResult><ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata>\
             </CreateStackResponse>"
        );
        let resp = ok_response("DeleteStack", "http://ns/", None, "rid-2");
        assert_eq!(
            body(&resp),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <DeleteStackResponse xmlns=\"http://ns/\"><ResponseMetadata><RequestId>rid-2</RequestId>\
             </ResponseMetadata></DeleteStackResponse>"
        );
    }

    #[test]
    fn error_shape() {
        let err = QueryError::InvalidAction {
            action: "Nope".into(),
            version: "2010-05-15".into(),
        };
        let resp = error_response(&err, Some("http://ns/"), "rid");
        assert_eq!(resp.status(), 400);
        assert_eq!(
            body(&resp),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <ErrorResponse xmlns=\"http://ns/\"><Error><Type>Sender</Type><Code>InvalidAction</Code>\
             <Message>Could not find operation Nope for version 2010-05-15</Message></Error>\
             <RequestId>rid</RequestId></ErrorResponse>"
        );
        let err = ProtocolError::InternalFailure("x < y".into());
        let resp = error_response(&err, None, "rid");
        assert_eq!(resp.status(), 500);
        assert!(body(&resp).contains(
            "<Type>Receiver</Type><Code>InternalFailure</Code><Message>x &lt; y</Message>"
        ));
    }
}
