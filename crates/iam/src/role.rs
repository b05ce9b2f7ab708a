//! The native `AWS::IAM::Role` provider.
//!
//! * Ref is the role name; `Fn::GetAtt` reads `Arn`
//!   (`arn:{partition}:iam::{account}:role{path}{name}`) and `RoleId` (`AROA` and 17
//!   uppercase letters and digits).
//! * Without `RoleName` the name is generated as CloudFormation does,
//!   `{stack}-{logical}-{suffix}`, shortened to IAM's 64 characters (the stack name and
//!   logical id lose characters, never the suffix).
//! * `AssumeRolePolicyDocument` is required; a `RoleName` that is taken (ignoring case,
//!   as IAM compares names) fails the resource with CloudFormation's "already exists".
//! * `RoleName` and `Path` are create-only; other properties update the stored role.
//! * The role's tags are the template's `Tags`, then the stack's tags it does not name
//!   (as CloudFormation propagates them; IAM refuses `aws:` keys, so CloudFormation's
//!   own `aws:cloudformation:*` tags are not put on roles). An update replaces them, so
//!   new stack tags alone (an update of scope `Tags`) retag the role, and a rollback,
//!   which updates with the old properties and the old stack tags, puts the old back.
//! * The role is stored in the document layout the IAM API reads ([`crate::document`]),
//!   and updated by compare-and-swap as the API's changes are ([`crate::state::modify`]);
//!   drift compares a policy document the API stored as text with the template's object
//!   as JSON.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use regex::Regex;
use sagestack_engine::model::EpochMillis;
use sagestack_engine::provider::kit::{
    self, already_exists, created_since_micros, internal as backend, invalid, missing, name_or,
    not_found, type_info,
};
use sagestack_engine::provider::{Native, Outcome};
use sagestack_engine::{
    ProviderError, ResourceContext, ResourceState, TypeInfo, UPPER_ALNUM, partition_for_region,
    random_chars,
};
use sagestack_store::{RoleRecord, Store, StoreError};
use serde_json::{Value, json};

use crate::document::RoleDocument;
use crate::state::{Modify, modify};

/// The resource type this provider serves.
pub const TYPE_NAME: &str = "AWS::IAM::Role";
/// IAM's limit on role names.
const MAX_NAME: usize = 64;
/// Length of CloudFormation's random name suffix.
const SUFFIX_LEN: usize = 13;

static ROLE_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\w+=,.@-]{1,64}$").expect("valid regex"));
static PATH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(/|/[\x21-\x7E]+/)$").expect("valid regex"));

/// A role id: `AROA` and 17 uppercase letters and digits.
pub fn new_role_id() -> String {
    format!("AROA{}", random_chars(UPPER_ALNUM, 17))
}

/// `{stack}-{logical}-{suffix}` within 64 characters.
pub fn generated_role_name(stack: &str, logical: &str, suffix: &str) -> String {
    let budget = MAX_NAME.saturating_sub(suffix.len() + 2);
    let (s, l) = kit::shortened(stack.chars().count(), logical.chars().count(), budget);
    let take = |x: &str, n: usize| x.chars().take(n).collect::<String>();
    format!("{}-{}-{}", take(stack, s), take(logical, l), suffix)
}

/// See the module documentation.
pub struct RoleProvider {
    store: Arc<dyn Store>,
}

impl RoleProvider {
    pub fn new(store: Arc<dyn Store>) -> Self {
        RoleProvider { store }
    }
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// A live policy document in the form the template wrote it: the API stores the text
/// it was given, a template an object, and drift compares like with like.
fn shaped(live: Value, expected: Option<&Value>) -> Value {
    match (&live, expected) {
        (Value::String(text), Some(e)) if !e.is_string() => {
            serde_json::from_str(text).unwrap_or(live)
        }
        _ => live,
    }
}

/// The inline policies, each document shaped as the template's policy of that name.
fn shaped_policies(live: Value, expected: Option<&Value>) -> Value {
    let Value::Array(items) = live else {
        return live;
    };
    let expected_doc = |name: Option<&Value>| {
        expected?
            .as_array()?
            .iter()
            .find(|e| e.get("PolicyName") == name)?
            .get("PolicyDocument")
    };
    Value::Array(
        items
            .into_iter()
            .map(|mut item| {
                if let Some(doc) = item.get("PolicyDocument").cloned() {
                    let shape = expected_doc(item.get("PolicyName")).cloned();
                    item["PolicyDocument"] = shaped(doc, shape.as_ref());
                }
                item
            })
            .collect(),
    )
}

fn check(ctx: &ResourceContext, properties: &Value) -> Result<(), ProviderError> {
    match properties.get("AssumeRolePolicyDocument") {
        None | Some(Value::Null) => {
            return Err(missing(ctx, "AssumeRolePolicyDocument"));
        }
        Some(Value::Object(_) | Value::String(_)) => {}
        Some(_) => {
            return Err(invalid(
                ctx,
                "#/AssumeRolePolicyDocument: expected type: JSONObject, found: JSONArray",
            ));
        }
    }
    if let Some(d) = properties.get("MaxSessionDuration").and_then(Value::as_i64)
        && !(3600..=43200).contains(&d)
    {
        return Err(invalid(
            ctx,
            format_args!("#/MaxSessionDuration: {d} is not in the range 3600..43200"),
        ));
    }
    Ok(())
}

/// `properties` with `Tags` as the role holds them: the template's, then the stack's
/// tags it does not name (absent when there are none).
fn with_stack_tags(ctx: &ResourceContext, properties: &Value) -> Value {
    let mut tags: Vec<Value> = match properties.get("Tags") {
        Some(Value::Array(items)) => items
            .iter()
            .filter(|t| t.get("Key").is_some_and(|k| !k.is_null()))
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    // IAM compares tag keys ignoring case: a template key in another case is the same.
    for (k, v) in &ctx.stack_tags {
        let named = |t: &Value| t["Key"].as_str().is_some_and(|n| n.eq_ignore_ascii_case(k));
        if !tags.iter().any(named) {
            tags.push(json!({"Key": k, "Value": v}));
        }
    }
    let mut out = properties.clone();
    if let Value::Object(map) = &mut out {
        if tags.is_empty() {
            map.remove("Tags");
        } else {
            map.insert("Tags".into(), Value::Array(tags));
        }
    }
    out
}

/// The generated name of the role the create attempt `ctx` makes.
fn attempt_name(ctx: &ResourceContext) -> String {
    kit::attempt_name(ctx, UPPER_ALNUM, SUFFIX_LEN, generated_role_name)
}

#[async_trait]
impl Native for RoleProvider {
    type Record = RoleRecord;
    const TYPE_NAME: &'static str = TYPE_NAME;

    fn info(&self) -> TypeInfo {
        type_info(TYPE_NAME, &["RoleName", "Path"], &["Arn", "RoleId"], true).named("RoleName")
    }

    fn state_of(record: &RoleRecord) -> ResourceState {
        kit::state(
            &*record.name,
            [
                ("Arn", record.arn.clone().into()),
                ("RoleId", record.role_id.clone().into()),
            ],
        )
    }

    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String> {
        Some(name_or(properties, "RoleName", || attempt_name(ctx)))
    }

    fn made_since(record: &RoleRecord, started: EpochMillis) -> bool {
        created_since_micros(record.creation_micros, started)
    }

    /// Drift: the role's trust policy, inline and managed policies, settings and tags as
    /// the role holds them (its name and path cannot change without a replacement).
    fn live_properties(
        record: &RoleRecord,
        expected: &Value,
    ) -> Option<serde_json::Map<String, Value>> {
        let doc = RoleDocument::of(record);
        let get = |k: &str| doc.raw(k);
        Some(kit::live(
            expected,
            [
                (
                    "AssumeRolePolicyDocument",
                    shaped(
                        get("AssumeRolePolicyDocument"),
                        expected.get("AssumeRolePolicyDocument"),
                    ),
                    Value::Null,
                ),
                ("Description", get("Description"), Value::Null),
                ("ManagedPolicyArns", get("ManagedPolicyArns"), json!([])),
                ("MaxSessionDuration", get("MaxSessionDuration"), json!(3600)),
                (
                    "PermissionsBoundary",
                    get("PermissionsBoundary"),
                    Value::Null,
                ),
                (
                    "Policies",
                    shaped_policies(get("Policies"), expected.get("Policies")),
                    json!([]),
                ),
                ("Tags", get("Tags"), json!([])),
            ],
        ))
    }

    async fn create_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Outcome<RoleRecord> {
        check(ctx, properties)?;
        let name = match properties.get("RoleName") {
            Some(Value::String(n)) => {
                if !ROLE_NAME.is_match(n) {
                    return Err(invalid(
                        ctx,
                        format_args!(
                            "#/RoleName: string [{n}] does not match pattern ^[\\w+=,.@-]{{1,64}}$"
                        ),
                    ));
                }
                n.clone()
            }
            _ => attempt_name(ctx),
        };
        let path = properties
            .get("Path")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_string();
        if path.len() > 512 || !PATH.is_match(&path) {
            return Err(invalid(
                ctx,
                format_args!(
                    "#/Path: string [{path}] does not match pattern (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
                ),
            ));
        }
        let id = new_role_id();
        let arn = format!(
            "arn:{}:iam::{}:role{path}{name}",
            partition_for_region(&ctx.region),
            ctx.account_id
        );
        let micros = now_micros();
        let properties = with_stack_tags(ctx, properties);
        let doc =
            RoleDocument::from_properties((&name, &id, &arn, &path), &properties, micros, None);
        let record = RoleRecord {
            name: name.clone(),
            role_id: id,
            arn,
            creation_micros: micros,
            document: Arc::from(doc.text()),
        };
        match self.store.create_role(&record).await {
            Ok(()) => Ok(record),
            Err(StoreError::AlreadyExists) => Err(already_exists(TYPE_NAME, &name)),
            Err(e) => Err(backend(e)),
        }
    }

    async fn update_record(
        &self,
        ctx: &ResourceContext,
        id: &str,
        properties: &Value,
    ) -> Outcome<RoleRecord> {
        check(ctx, properties)?;
        let properties = &with_stack_tags(ctx, properties);
        // A compare-and-swap, as every change of a role: an API call changing the role
        // meanwhile makes this read the role again rather than be overwritten unseen.
        let changed = modify(&*self.store, id, |record, doc| {
            let identity = (&*record.name, &*record.role_id, &*record.arn, doc.path());
            let previous = doc.clone();
            *doc = RoleDocument::from_properties(
                identity,
                properties,
                record.creation_micros,
                Some(&previous),
            );
            Ok::<(), ProviderError>(())
        })
        .await;
        match changed {
            Ok((record, ())) => Ok(record),
            Err(Modify::Missing) => Err(not_found(TYPE_NAME, id)),
            Err(Modify::Rejected(e)) => Err(e),
            Err(Modify::Store(e)) => Err(backend(e)),
            Err(Modify::Contended) => Err(backend(format_args!(
                "role {id} kept changing while it was updated"
            ))),
        }
    }

    async fn get_record(&self, _: &ResourceContext, id: &str) -> Outcome<Option<RoleRecord>> {
        self.store.get_role(id).await.map_err(backend)
    }

    async fn delete_record(&self, _: &ResourceContext, id: &str) -> Outcome<()> {
        self.store
            .delete_role(id)
            .await
            .map(|_| ())
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sagestack_engine::ResourceProvider;
    use sagestack_store::SqliteStore;

    fn ctx(stack: &str, logical: &str) -> ResourceContext {
        ResourceContext {
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
            stack_name: stack.into(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/x"),
            logical_id: logical.into(),
            resource_type: TYPE_NAME.into(),
            stack_tags: vec![],
            started: 0,
        }
    }

    fn trust() -> Value {
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    }

    /// A role provider over a fresh store (kept while the directory lives).
    async fn provider() -> (tempfile::TempDir, Arc<dyn Store>, RoleProvider) {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let provider = RoleProvider::new(store.clone());
        (dir, store, provider)
    }

    #[test]
    fn generated_names_fit_and_keep_the_suffix() {
        let n = generated_role_name(&"s".repeat(80), &"L".repeat(80), "ABCDEFGHIJKLM");
        assert_eq!(n.chars().count(), 64);
        assert!(n.ends_with("-ABCDEFGHIJKLM"));
        assert_eq!(generated_role_name("st", "Role", "X"), "st-Role-X");
        let re = Regex::new("^AROA[A-Z0-9]{17}$").unwrap();
        assert!(re.is_match(&new_role_id()));
    }

    #[tokio::test]
    async fn drift_reads_the_roles_live_policies() {
        // The change is made to the stored role directly, as an out-of-band edit of
        // the document would (the API's own changes are checked in api/tests.rs).
        let (_dir, store, p) = provider().await;
        let c = ctx("s", "Role");
        let policy = json!([{"PolicyName": "read", "PolicyDocument": {"Statement": []}}]);
        let props = json!({"AssumeRolePolicyDocument": trust(), "Policies": policy});
        let state = p.create(&c, &props).await.unwrap();
        let sagestack_engine::Live::Properties(before) = p.live(&c, &state, &props).await.unwrap()
        else {
            panic!("a role is checked")
        };
        assert!(sagestack_engine::drift::differences(&props, &before, &[]).is_empty());
        let mut role = store.get_role(&state.physical_id).await.unwrap().unwrap();
        let mut doc: Value = serde_json::from_str(&role.document).unwrap();
        doc["Policies"][0]["PolicyName"] = json!("write");
        doc["MaxSessionDuration"] = json!(7200);
        role.document = Arc::from(doc.to_string());
        store.replace_role(&role).await.unwrap();
        let sagestack_engine::Live::Properties(after) = p.live(&c, &state, &props).await.unwrap()
        else {
            panic!("a role is checked")
        };
        let d = sagestack_engine::drift::differences(&props, &after, &[]);
        let paths: Vec<_> = d
            .iter()
            .map(|d| (d.path.as_str(), d.kind.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("/Policies/0/PolicyName", "NOT_EQUAL"),
                ("/MaxSessionDuration", "ADD")
            ]
        );
        store.delete_role(&state.physical_id).await.unwrap();
        let gone = p.live(&c, &state, &props).await.unwrap();
        assert_eq!(gone, sagestack_engine::Live::Gone);
    }

    #[tokio::test]
    async fn create_read_update_delete_and_duplicates() {
        let (_dir, store, p) = provider().await;
        let c = ctx("my-stack", "ExecRole");
        let s = p
            .create(&c, &json!({"AssumeRolePolicyDocument": trust()}))
            .await
            .unwrap();
        assert!(
            Regex::new("^my-stack-ExecRole-[A-Z0-9]{13}$")
                .unwrap()
                .is_match(&s.physical_id),
            "{}",
            s.physical_id
        );
        assert_eq!(
            s.attributes["Arn"],
            format!("arn:aws:iam::123456789012:role/{}", s.physical_id)
        );
        assert!(s.attributes["RoleId"].as_str().unwrap().starts_with("AROA"));
        let named = p
            .create(
                &c,
                &json!({"AssumeRolePolicyDocument": trust(), "RoleName": "Exec", "Path": "/svc/"}),
            )
            .await
            .unwrap();
        assert_eq!(named.physical_id, "Exec");
        assert_eq!(
            named.attributes["Arn"],
            "arn:aws:iam::123456789012:role/svc/Exec"
        );
        let refused = async |properties: Value| p.create(&c, &properties).await.unwrap_err();
        let e = refused(json!({"AssumeRolePolicyDocument": trust(), "RoleName": "exec"})).await;
        assert_eq!(
            e,
            ProviderError::AlreadyExists(
                "Resource of type 'AWS::IAM::Role' with identifier 'exec' already exists.".into()
            )
        );
        let e = refused(json!({"RoleName": "NoTrust"})).await;
        assert!(
            matches!(e, ProviderError::InvalidRequest(m) if m.contains("AssumeRolePolicyDocument"))
        );
        let e = refused(json!({"AssumeRolePolicyDocument": trust(), "RoleName": "bad name"})).await;
        assert!(matches!(e, ProviderError::InvalidRequest(_)));
        let updated = p
            .update(
                &c,
                &named,
                &json!({}),
                &json!({"AssumeRolePolicyDocument": trust(), "Description": "d"}),
            )
            .await
            .unwrap();
        assert_eq!(updated, named, "identity survives an in-place update");
        let doc: Value =
            serde_json::from_str(&store.get_role("Exec").await.unwrap().unwrap().document).unwrap();
        assert_eq!(doc["Description"], "d");
        assert_eq!(doc["Path"], "/svc/");
        assert_eq!(
            p.read(&c, &named, &json!({})).await.unwrap(),
            Some(named.clone())
        );
        p.delete(&c, &named, &json!({})).await.unwrap();
        assert_eq!(p.read(&c, &named, &json!({})).await.unwrap(), None);
        p.delete(&c, &named, &json!({})).await.unwrap();
    }

    /// The role's tags as stored, `key=value`.
    async fn stored_tags(store: &Arc<dyn Store>, name: &str) -> Vec<String> {
        let role = store.get_role(name).await.unwrap().unwrap();
        let doc = RoleDocument::of(&role);
        doc.tags()
            .into_iter()
            .map(|t| format!("{}={}", t.key, t.value))
            .collect()
    }

    #[tokio::test]
    async fn tags_are_the_templates_and_the_stacks_and_an_update_replaces_them() {
        let (_dir, store, p) = provider().await;
        let mut c = ctx("s", "Role");
        c.stack_tags = vec![("env".into(), "stack".into()), ("team".into(), "ml".into())];
        let old = json!({"AssumeRolePolicyDocument": trust(), "RoleName": "Tagged",
            "Tags": [{"Key": "env", "Value": "template"}, {"Key": "TEAM", "Value": "ds"}]});
        let s = p.create(&c, &old).await.unwrap();
        assert_eq!(
            stored_tags(&store, "Tagged").await,
            ["env=template", "TEAM=ds"],
            "the template's value wins over the stack's, keys compared ignoring case"
        );
        // New stack tags alone (an update of scope Tags): same properties.
        let mut retagged = c.clone();
        retagged.stack_tags = vec![("owner".into(), "me".into())];
        p.update(&retagged, &s, &old, &old).await.unwrap();
        assert_eq!(
            stored_tags(&store, "Tagged").await,
            ["env=template", "TEAM=ds", "owner=me"]
        );
        // A template change of Tags.
        let new = json!({"AssumeRolePolicyDocument": trust(), "RoleName": "Tagged",
            "Tags": [{"Key": "cost", "Value": "1"}]});
        p.update(&retagged, &s, &old, &new).await.unwrap();
        assert_eq!(stored_tags(&store, "Tagged").await, ["cost=1", "owner=me"]);
        // Rollback: the old properties and the old stack tags.
        p.update(&c, &s, &new, &old).await.unwrap();
        assert_eq!(
            stored_tags(&store, "Tagged").await,
            ["env=template", "TEAM=ds"]
        );
        // No tags at all leaves none.
        let bare = json!({"AssumeRolePolicyDocument": trust(), "RoleName": "Tagged"});
        p.update(&ctx("s", "Role"), &s, &old, &bare).await.unwrap();
        assert!(stored_tags(&store, "Tagged").await.is_empty());
        let doc = RoleDocument::of(&store.get_role("Tagged").await.unwrap().unwrap());
        assert_eq!(doc.raw("Tags"), Value::Null);
    }
}
