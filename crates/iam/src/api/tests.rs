//! The API called in process over a fresh embedded store: each operation's result
//! elements and its errors' codes and statuses.

use std::sync::Arc;

use sagestack_engine::FakeClock;
use sagestack_protocol::RequestContext;
use sagestack_protocol::query::Xml;
use sagestack_store::{SqliteStore, Store};
use serde_json::{Value, json};

use super::*;

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sagemaker.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    api: Arc<IamApi>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
    let clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 0));
    let roles = Roles::new(store.clone(), clock, "123456789012", "us-east-1");
    Harness {
        _dir: dir,
        store,
        api: Arc::new(IamApi::new(Arc::new(roles))),
    }
}

impl Harness {
    async fn call(&self, action: &str, params: Value) -> CallResult {
        let ctx = RequestContext::new("us-east-1", "123456789012");
        self.api.call(&ctx, action, params).await
    }

    async fn ok(&self, action: &str, params: Value) -> Xml {
        match self.call(action, params).await {
            Ok(xml) => xml.unwrap_or_default(),
            Err(e) => panic!("{action}: {} {}", e.code(), e.message()),
        }
    }

    /// The error's code, HTTP status and message.
    async fn err(&self, action: &str, params: Value) -> (String, u16, String) {
        match self.call(action, params).await {
            Ok(_) => panic!("{action} succeeded"),
            Err(e) => (e.code().to_owned(), e.status().as_u16(), e.message()),
        }
    }

    async fn create(&self, name: &str, extra: Value) -> Xml {
        let mut params = json!({"RoleName": name, "AssumeRolePolicyDocument": TRUST});
        for (k, v) in extra.as_object().unwrap() {
            params[k] = v.clone();
        }
        self.ok("CreateRole", params).await
    }
}

/// The result as the wire carries it.
fn rendered(xml: &Xml) -> String {
    let response = sagestack_protocol::query::ok_response("A", XML_NAMESPACE, Some(xml), "r");
    String::from_utf8(response.body().to_vec()).unwrap()
}

fn texts(xml: &Xml, list: &str, member: &str) -> Vec<String> {
    xml.members(list)
        .iter()
        .map(|m| m.text_of(member).unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn create_get_update_and_delete_a_role() {
    let h = harness().await;
    let created = h
        .create(
            "Deployer",
            json!({"Path": "/svc/", "Description": "d", "MaxSessionDuration": "7200",
                "Tags": [{"Key": "team", "Value": "ml"}]}),
        )
        .await;
    let role = created.child("Role").unwrap();
    assert_eq!(
        role.text_of("Arn"),
        Some("arn:aws:iam::123456789012:role/svc/Deployer")
    );
    assert_eq!(role.text_of("Path"), Some("/svc/"));
    assert_eq!(role.text_of("CreateDate"), Some("2023-11-14T22:13:20Z"));
    assert_eq!(role.text_of("MaxSessionDuration"), Some("7200"));
    assert_eq!(
        role.text_of("AssumeRolePolicyDocument"),
        Some(xml::url_encode(TRUST).as_str())
    );
    assert_eq!(texts(role, "Tags", "Key"), ["team"]);
    let id = role.text_of("RoleId").unwrap().to_owned();
    assert!(id.starts_with("AROA") && id.len() == 21, "{id}");

    let got = h.ok("GetRole", json!({"RoleName": "deployer"})).await;
    let role = got.child("Role").unwrap();
    assert_eq!(
        role.text_of("RoleName"),
        Some("Deployer"),
        "names ignore case"
    );
    assert_eq!(role.text_of("RoleId"), Some(id.as_str()));
    assert!(rendered(&got).contains("<RoleLastUsed></RoleLastUsed>"));

    assert_eq!(
        h.err(
            "CreateRole",
            json!({"RoleName": "DEPLOYER", "AssumeRolePolicyDocument": TRUST})
        )
        .await,
        (
            "EntityAlreadyExists".into(),
            409,
            "Role with name DEPLOYER already exists.".into()
        )
    );
    assert_eq!(
        h.err("GetRole", json!({"RoleName": "nobody"})).await,
        (
            "NoSuchEntity".into(),
            404,
            "The role with name nobody cannot be found.".into()
        )
    );

    let updated = h
        .ok(
            "UpdateRoleDescription",
            json!({"RoleName": "Deployer", "Description": "new"}),
        )
        .await;
    assert_eq!(
        updated.child("Role").unwrap().text_of("Description"),
        Some("new")
    );
    h.ok(
        "UpdateRole",
        json!({"RoleName": "Deployer", "MaxSessionDuration": "43200"}),
    )
    .await;
    let (code, status, message) = h
        .err(
            "UpdateRole",
            json!({"RoleName": "Deployer", "MaxSessionDuration": "43201"}),
        )
        .await;
    assert_eq!((code.as_str(), status), ("ValidationError", 400));
    assert!(
        message.contains("Member must have value less than or equal to 43200"),
        "{message}"
    );
    let other = TRUST.replace("sagemaker", "lambda");
    h.ok(
        "UpdateAssumeRolePolicy",
        json!({"RoleName": "Deployer", "PolicyDocument": other}),
    )
    .await;
    let role = h.ok("GetRole", json!({"RoleName": "Deployer"})).await;
    let role = role.child("Role").unwrap();
    assert_eq!(role.text_of("MaxSessionDuration"), Some("43200"));
    assert_eq!(role.text_of("Description"), Some("new"));
    assert_eq!(
        role.text_of("AssumeRolePolicyDocument"),
        Some(xml::url_encode(&other).as_str())
    );
    assert_eq!(
        h.err(
            "UpdateAssumeRolePolicy",
            json!({"RoleName": "Deployer", "PolicyDocument": "{"})
        )
        .await
        .0,
        "MalformedPolicyDocument"
    );

    h.ok("DeleteRole", json!({"RoleName": "Deployer"})).await;
    assert_eq!(
        h.err("DeleteRole", json!({"RoleName": "Deployer"})).await.0,
        "NoSuchEntity"
    );
}

#[tokio::test]
async fn list_roles_by_path_in_pages() {
    let h = harness().await;
    for (name, path) in [("c", "/a/"), ("B", "/"), ("a", "/a/b/"), ("d", "/ab/")] {
        h.create(name, json!({"Path": path})).await;
    }
    let all = h.ok("ListRoles", json!({})).await;
    assert_eq!(texts(&all, "Roles", "RoleName"), ["a", "B", "c", "d"]);
    assert_eq!(all.text_of("IsTruncated"), Some("false"));
    assert!(all.members("Roles")[0].child("Tags").is_none());
    let first = h.ok("ListRoles", json!({"MaxItems": "2"})).await;
    assert_eq!(texts(&first, "Roles", "RoleName"), ["a", "B"]);
    assert_eq!(first.text_of("IsTruncated"), Some("true"));
    let marker = first.text_of("Marker").unwrap().to_owned();
    let next = h
        .ok("ListRoles", json!({"MaxItems": "2", "Marker": marker}))
        .await;
    assert_eq!(texts(&next, "Roles", "RoleName"), ["c", "d"]);
    assert_eq!(next.text_of("Marker"), None);
    let under_a = h.ok("ListRoles", json!({"PathPrefix": "/a/"})).await;
    assert_eq!(texts(&under_a, "Roles", "RoleName"), ["a", "c"]);
    let one = h
        .ok("ListRoles", json!({"PathPrefix": "/a", "MaxItems": "1"}))
        .await;
    assert_eq!(texts(&one, "Roles", "RoleName"), ["a"]);
    let rest = h
        .ok(
            "ListRoles",
            json!({"PathPrefix": "/a", "Marker": one.text_of("Marker").unwrap()}),
        )
        .await;
    assert_eq!(texts(&rest, "Roles", "RoleName"), ["c", "d"]);
    let (code, _, _) = h.err("ListRoles", json!({"MaxItems": "0"})).await;
    assert_eq!(code, "ValidationError");
}

#[tokio::test]
async fn tags_merge_ignoring_case_within_the_limit() {
    let h = harness().await;
    h.create("r", json!({"Tags": [{"Key": "Env", "Value": "dev"}]}))
        .await;
    h.ok(
        "TagRole",
        json!({"RoleName": "r", "Tags": [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": ""}]}),
    )
    .await;
    let tags = h.ok("ListRoleTags", json!({"RoleName": "r"})).await;
    assert_eq!(texts(&tags, "Tags", "Key"), ["env", "team"]);
    assert_eq!(texts(&tags, "Tags", "Value"), ["prod", ""]);
    let dup = h
        .err(
            "TagRole",
            json!({"RoleName": "r", "Tags": [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}]}),
        )
        .await;
    assert_eq!(
        dup,
        (
            "InvalidInput".into(),
            400,
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into()
        )
    );
    let many: Vec<Value> = (0..49)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    let (code, status, _) = h
        .err("TagRole", json!({"RoleName": "r", "Tags": many}))
        .await;
    assert_eq!((code.as_str(), status), ("LimitExceeded", 409));
    h.ok(
        "UntagRole",
        json!({"RoleName": "r", "TagKeys": ["ENV", "missing"]}),
    )
    .await;
    let page = h
        .ok("ListRoleTags", json!({"RoleName": "r", "MaxItems": "1"}))
        .await;
    assert_eq!(texts(&page, "Tags", "Key"), ["team"]);
    assert_eq!(page.text_of("IsTruncated"), Some("false"));
    assert_eq!(
        h.err("ListRoleTags", json!({"RoleName": "x"})).await.0,
        "NoSuchEntity"
    );
}

#[tokio::test]
async fn inline_and_attached_policies_block_deletion() {
    let h = harness().await;
    h.create("r", json!({})).await;
    h.ok(
        "PutRolePolicy",
        json!({"RoleName": "r", "PolicyName": "read", "PolicyDocument": READ}),
    )
    .await;
    let got = h
        .ok(
            "GetRolePolicy",
            json!({"RoleName": "R", "PolicyName": "read"}),
        )
        .await;
    assert_eq!(got.text_of("RoleName"), Some("r"));
    assert_eq!(
        got.text_of("PolicyDocument"),
        Some(xml::url_encode(READ).as_str())
    );
    let names = h.ok("ListRolePolicies", json!({"RoleName": "r"})).await;
    assert!(
        rendered(&names).contains(
            "<PolicyNames><member>read</member></PolicyNames><IsTruncated>false</IsTruncated>"
        ),
        "{}",
        rendered(&names)
    );
    assert_eq!(
        h.err(
            "PutRolePolicy",
            json!({"RoleName": "r", "PolicyName": "p", "PolicyDocument": TRUST})
        )
        .await
        .2,
        "Policy document should not specify a principal."
    );
    assert_eq!(
        h.err(
            "GetRolePolicy",
            json!({"RoleName": "r", "PolicyName": "nope"})
        )
        .await,
        (
            "NoSuchEntity".into(),
            404,
            "The role policy with name nope cannot be found.".into()
        )
    );
    let managed = "arn:aws:iam::aws:policy/service-role/AmazonSageMakerFullAccess";
    h.ok(
        "AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": managed}),
    )
    .await;
    h.ok(
        "AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": managed}),
    )
    .await;
    let attached = h
        .ok("ListAttachedRolePolicies", json!({"RoleName": "r"}))
        .await;
    assert_eq!(
        texts(&attached, "AttachedPolicies", "PolicyName"),
        ["AmazonSageMakerFullAccess"]
    );
    let filtered = h
        .ok(
            "ListAttachedRolePolicies",
            json!({"RoleName": "r", "PathPrefix": "/other/"}),
        )
        .await;
    assert!(filtered.members("AttachedPolicies").is_empty());
    let mine = "arn:aws:iam::123456789012:policy/mine";
    assert_eq!(
        h.err(
            "AttachRolePolicy",
            json!({"RoleName": "r", "PolicyArn": mine})
        )
        .await,
        (
            "NoSuchEntity".into(),
            404,
            format!("Policy {mine} does not exist or is not attachable.")
        )
    );
    assert_eq!(
        h.err(
            "AttachRolePolicy",
            json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:role/nope"})
        )
        .await
        .0,
        "InvalidInput"
    );

    assert_eq!(
        h.err("DeleteRole", json!({"RoleName": "r"})).await,
        (
            "DeleteConflict".into(),
            409,
            "Cannot delete entity, must delete policies first.".into()
        )
    );
    h.ok(
        "DeleteRolePolicy",
        json!({"RoleName": "r", "PolicyName": "read"}),
    )
    .await;
    assert_eq!(
        h.err("DeleteRole", json!({"RoleName": "r"})).await.2,
        "Cannot delete entity, must detach all policies first."
    );
    h.ok(
        "DetachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": managed}),
    )
    .await;
    assert_eq!(
        h.err(
            "DetachRolePolicy",
            json!({"RoleName": "r", "PolicyArn": managed})
        )
        .await,
        (
            "NoSuchEntity".into(),
            404,
            format!("Policy {managed} was not found.")
        )
    );
    let profiles = h
        .ok("ListInstanceProfilesForRole", json!({"RoleName": "r"}))
        .await;
    assert!(profiles.members("InstanceProfiles").is_empty());
    h.ok("DeleteRole", json!({"RoleName": "r"})).await;
}

#[tokio::test]
async fn quotas_and_boundaries() {
    let h = harness().await;
    h.create("r", json!({})).await;
    for i in 0..10 {
        let arn = format!("arn:aws:iam::aws:policy/P{i}");
        h.ok(
            "AttachRolePolicy",
            json!({"RoleName": "r", "PolicyArn": arn}),
        )
        .await;
    }
    assert_eq!(
        h.err(
            "AttachRolePolicy",
            json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/P10"})
        )
        .await,
        (
            "LimitExceeded".into(),
            409,
            "Cannot exceed quota for PoliciesPerRole: 10".into()
        )
    );
    let big = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:GetObject","Resource":"{}"}}]}}"#,
        "x".repeat(10_200)
    );
    assert_eq!(
        h.err(
            "PutRolePolicy",
            json!({"RoleName": "r", "PolicyName": "big", "PolicyDocument": big})
        )
        .await
        .2,
        "Maximum policy size of 10240 bytes exceeded for role r"
    );
    let boundary = "arn:aws:iam::aws:policy/PowerUserAccess";
    h.ok(
        "PutRolePermissionsBoundary",
        json!({"RoleName": "r", "PermissionsBoundary": boundary}),
    )
    .await;
    let role = h.ok("GetRole", json!({"RoleName": "r"})).await;
    let pb = role
        .child("Role")
        .unwrap()
        .child("PermissionsBoundary")
        .unwrap();
    assert_eq!(pb.text_of("PermissionsBoundaryArn"), Some(boundary));
    assert_eq!(
        pb.text_of("PermissionsBoundaryType"),
        Some("PermissionsBoundaryPolicy")
    );
    h.ok("DeleteRolePermissionsBoundary", json!({"RoleName": "r"}))
        .await;
    let role = h.ok("GetRole", json!({"RoleName": "r"})).await;
    assert!(
        role.child("Role")
            .unwrap()
            .child("PermissionsBoundary")
            .is_none()
    );
    let (code, _, message) = h
        .err(
            "CreateRole",
            json!({"RoleName": "b", "AssumeRolePolicyDocument": TRUST,
                "PermissionsBoundary": "arn:aws:iam::123456789012:policy/none"}),
        )
        .await;
    assert_eq!(code, "InvalidInput");
    assert!(message.starts_with("Scope ARN: "), "{message}");
    let (code, _, _) = h.err("CreateUser", json!({"UserName": "u"})).await;
    assert_eq!(code, "InvalidAction");
}

/// Many requests changing one role at once: every change lands (compare-and-swap).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_of_one_role_are_all_kept() {
    let h = Arc::new(harness().await);
    h.create("busy", json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                h.ok(
                    "PutRolePolicy",
                    json!({"RoleName": "busy", "PolicyName": format!("p{i}"), "PolicyDocument": READ}),
                )
                .await;
            } else {
                h.ok(
                    "TagRole",
                    json!({"RoleName": "busy", "Tags": [{"Key": format!("t{i}"), "Value": "v"}]}),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let role = h.store.get_role("busy").await.unwrap().unwrap();
    let doc = RoleDocument::of(&role);
    assert_eq!(doc.policies().len(), 12);
    assert_eq!(doc.tags().len(), 12);
}

/// A role a stack made (the provider's document, policies as objects) is read by the
/// API: its trust policy, inline policies and managed policies.
#[tokio::test]
async fn a_role_made_by_a_stack_reads_through_the_api() {
    use sagestack_engine::{ResourceContext, ResourceProvider};
    let h = harness().await;
    let provider = crate::RoleProvider::new(h.store.clone());
    let ctx = ResourceContext {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "s".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/x".into(),
        logical_id: "Role".into(),
        resource_type: crate::TYPE_NAME.into(),
        stack_tags: vec![],
        started: 0,
    };
    let trust: Value = serde_json::from_str(TRUST).unwrap();
    let read: Value = serde_json::from_str(READ).unwrap();
    let props = json!({"RoleName": "FromStack", "AssumeRolePolicyDocument": trust,
        "Policies": [{"PolicyName": "read", "PolicyDocument": read}],
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "MaxSessionDuration": 7200});
    let state = provider.create(&ctx, &props).await.unwrap();
    let got = h.ok("GetRole", json!({"RoleName": "FromStack"})).await;
    let role = got.child("Role").unwrap();
    assert_eq!(role.text_of("RoleId"), state.attributes["RoleId"].as_str());
    assert_eq!(role.text_of("MaxSessionDuration"), Some("7200"));
    assert_eq!(
        role.text_of("AssumeRolePolicyDocument"),
        Some(xml::url_encode(&trust.to_string()).as_str())
    );
    let policy = h
        .ok(
            "GetRolePolicy",
            json!({"RoleName": "FromStack", "PolicyName": "read"}),
        )
        .await;
    assert_eq!(
        policy.text_of("PolicyDocument"),
        Some(xml::url_encode(&read.to_string()).as_str())
    );
    let attached = h
        .ok("ListAttachedRolePolicies", json!({"RoleName": "FromStack"}))
        .await;
    assert_eq!(
        texts(&attached, "AttachedPolicies", "PolicyArn"),
        ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    let listed = h.ok("ListRoles", json!({})).await;
    assert_eq!(texts(&listed, "Roles", "RoleName"), ["FromStack"]);
    // The API's change, then the stack's drift check sees it as a difference of the
    // same shape (an object), and the stack's update keeps the role's identity.
    h.ok(
        "PutRolePolicy",
        json!({"RoleName": "FromStack", "PolicyName": "read",
            "PolicyDocument": READ.replace("GetObject", "PutObject")}),
    )
    .await;
    let sagestack_engine::Live::Properties(live) =
        provider.live(&ctx, &state, &props).await.unwrap()
    else {
        panic!("a role is checked")
    };
    let d = sagestack_engine::drift::differences(&props, &live, &[]);
    let paths: Vec<_> = d.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(paths, ["/Policies/0/PolicyDocument/Statement/0/Action"]);
    let updated = provider.update(&ctx, &state, &props, &props).await.unwrap();
    assert_eq!(updated, state);
}
