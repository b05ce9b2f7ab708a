//! The project and tag operations, through `SageMakerService::handle`.

#[path = "../../../../tests/support/requests.rs"]
mod support;

use super::*;
use crate::ProvisioningUpdate;
use crate::projects::new_project_id;
use crate::provision::NoProvisioner;
use crate::testing::api;
use sagestack_engine::partition_for_region as partition;
use sagestack_store::SqliteStore;
use std::sync::Mutex;

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);
impl Provisioner for Recorder {
    fn project_changed(&self, event: ProjectEvent) {
        let s = match event {
            ProjectEvent::Created(p) => format!("created {}", p.project_name),
            ProjectEvent::Updated { after, .. } => format!("updated {}", after.project_name),
            ProjectEvent::Deleted(p) => format!("deleted {}", p.project_name),
        };
        self.0.lock().unwrap().push(s);
    }
}

fn ctx() -> RequestContext {
    RequestContext::new("eu-west-1", "123456789012").with_caller(
        sagestack_protocol::auth::Caller::root("AKIDTEST", "123456789012"),
    )
}

async fn service(dir: &std::path::Path, p: Arc<dyn Provisioner>) -> SageMakerService {
    api(Arc::new(SqliteStore::open(dir).await.unwrap()), p)
}

fn value(out: JsonOutput) -> Value {
    out.into_value().unwrap()
}

async fn create(s: &SageMakerService, name: &str) -> Value {
    value(
        s.handle(
            &ctx(),
            "CreateProject",
            json!({"ProjectName": name, "ServiceCatalogProvisioningDetails": {"ProductId": "prod-1"}}),
        )
        .await
        .unwrap(),
    )
}

#[test]
fn project_ids_have_the_documented_form() {
    let re = regex::Regex::new("^p-[a-z0-9]{12}$").unwrap();
    for _ in 0..1000 {
        assert!(re.is_match(&new_project_id()));
    }
    assert_ne!(new_project_id(), new_project_id());
    assert_eq!(partition("cn-north-1"), "aws-cn");
    assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    assert_eq!(partition("eu-west-1"), "aws");
}

#[tokio::test]
async fn create_describe_and_provisioner_events() {
    let dir = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let s = service(dir.path(), rec.clone()).await;
    let out = create(&s, "alpha").await;
    assert_eq!(
        out["ProjectArn"],
        "arn:aws:sagemaker:eu-west-1:123456789012:project/alpha"
    );
    let d = value(
        s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "alpha"}))
            .await
            .unwrap(),
    );
    assert_eq!(d["ProjectStatus"], "Pending");
    assert_eq!(d["ProjectId"], out["ProjectId"]);
    assert_eq!(d["CreationTime"], 1_700_000_000.0);
    assert_eq!(
        d["CreatedBy"]["IamIdentity"],
        json!({"Arn": "arn:aws:iam::123456789012:root", "PrincipalId": "AKIDTEST"})
    );
    assert_eq!(
        d["ServiceCatalogProvisioningDetails"],
        json!({"ProductId": "prod-1"})
    );
    // An active provisioner owns the lifecycle: no update while Pending.
    let e = s
        .handle(
            &ctx(),
            "UpdateProject",
            json!({"ProjectName": "alpha", "ProjectDescription": "new"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ConflictException");
    assert_eq!(
        e.to_string(),
        "Project alpha cannot be updated while its status is Pending; retry once the current operation has finished."
    );
    let id = out["ProjectId"].as_str().unwrap();
    s.projects()
        .record_provisioning(
            "alpha",
            ProvisioningUpdate::new(
                id,
                &[ProjectStatus::Pending],
                ProjectStatus::CreateCompleted,
            ),
        )
        .await
        .unwrap()
        .unwrap();
    s.handle(
        &ctx(),
        "UpdateProject",
        json!({"ProjectName": "alpha", "ProjectDescription": "new"}),
    )
    .await
    .unwrap();
    s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "alpha"}))
        .await
        .unwrap();
    assert_eq!(
        *rec.0.lock().unwrap(),
        ["created alpha", "updated alpha", "deleted alpha"]
    );
    // The record stays, DeleteInProgress, for the provisioner to finish.
    let d = value(
        s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "alpha"}))
            .await
            .unwrap(),
    );
    assert_eq!(d["ProjectStatus"], "DeleteInProgress");
    let e = s
        .handle(&ctx(), "DeleteProject", json!({"ProjectName": "alpha"}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ConflictException");
}

#[tokio::test]
async fn rules_beyond_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::new(NoProvisioner)).await;
    let e = s
        .handle(&ctx(), "CreateProject", json!({"ProjectName": "x"}))
        .await
        .unwrap_err();
    assert!(e.to_string().starts_with("Exactly one of"));
    create(&s, "x").await;
    let e = s
        .handle(
            &ctx(),
            "CreateProject",
            json!({"ProjectName": "x", "ServiceCatalogProvisioningDetails": {"ProductId": "p"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Project x already exists.");
    let e = s
        .handle(&ctx(), "DescribeProject", json!({"ProjectName": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "Project nope does not exist.");
    let e = s
        .handle(&ctx(), "CreateModel", json!({}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "UnknownOperationException");
}

#[tokio::test]
async fn record_provisioning_updates_status() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::new(NoProvisioner)).await;
    create(&s, "p1").await;
    let id = value(
        s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "p1"}))
            .await
            .unwrap(),
    )["ProjectId"]
        .as_str()
        .unwrap()
        .to_string();
    let report = |expected: &[ProjectStatus], id: &str| {
        ProvisioningUpdate::new(id, expected, ProjectStatus::CreateInProgress)
            .with_service_catalog_details(json!({"ProvisionedProductId": "pp-1"}))
    };
    // Another project's report, or one expecting another status, is dropped.
    assert!(
        s.projects()
            .record_provisioning("p1", report(&[ProjectStatus::Pending], "p-other"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.projects()
            .record_provisioning("p1", report(&[ProjectStatus::UpdateInProgress], &id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.projects()
            .record_provisioning("nope", report(&[], &id))
            .await
            .unwrap()
            .is_none()
    );
    let p = s
        .projects()
        .record_provisioning("p1", report(&[ProjectStatus::Pending], &id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.project_status, ProjectStatus::CreateInProgress);
    let d = value(
        s.handle(&ctx(), "DescribeProject", json!({"ProjectName": "p1"}))
            .await
            .unwrap(),
    );
    assert_eq!(d["ProjectStatus"], "CreateInProgress");
    assert_eq!(
        d["ServiceCatalogProvisionedProductDetails"]["ProvisionedProductId"],
        "pp-1"
    );
}

#[tokio::test]
async fn list_pages_follow_the_keyset() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::new(NoProvisioner)).await;
    for i in 0..7 {
        create(&s, &format!("p{i}")).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"MaxResults": 3, "SortBy": "Name", "SortOrder": "Ascending"});
        if let Some(t) = &token {
            input["NextToken"] = t.clone().into();
        }
        let out = value(s.handle(&ctx(), "ListProjects", input).await.unwrap());
        for p in out["ProjectSummaryList"].as_array().unwrap() {
            seen.push(p["ProjectName"].as_str().unwrap().to_string());
        }
        // Delete one already-listed and one not-yet-listed project mid-way.
        if token.is_none() {
            s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "p0"}))
                .await
                .unwrap();
            s.handle(&ctx(), "DeleteProject", json!({"ProjectName": "p4"}))
                .await
                .unwrap();
        }
        match out.get("NextToken") {
            Some(t) => token = Some(t.as_str().unwrap().to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p5", "p6"]);
    // Default order: newest first.
    let out = value(s.handle(&ctx(), "ListProjects", json!({})).await.unwrap());
    let names = support::strings(&out["ProjectSummaryList"], "ProjectName");
    assert_eq!(names, ["p6", "p5", "p3", "p2", "p1"]);
    // A token is refused with another order.
    let first = value(
        s.handle(&ctx(), "ListProjects", json!({"MaxResults": 1}))
            .await
            .unwrap(),
    );
    let e = s
        .handle(
            &ctx(),
            "ListProjects",
            json!({"MaxResults": 1, "SortBy": "Name", "NextToken": first["NextToken"]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "ValidationException");
}

#[tokio::test]
async fn tag_limits_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let s = service(dir.path(), Arc::new(NoProvisioner)).await;
    let arn = create(&s, "t").await["ProjectArn"].clone();
    let tags: Vec<Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i:02}"), "Value": "v"}))
        .collect();
    s.handle(&ctx(), "AddTags", json!({"ResourceArn": arn, "Tags": tags}))
        .await
        .unwrap();
    let e = s
        .handle(
            &ctx(),
            "AddTags",
            json!({"ResourceArn": arn, "Tags": [{"Key": "one-more", "Value": "v"}]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("limit of 50"), "{e}");
    // Overwriting an existing key is not a new tag.
    s.handle(
        &ctx(),
        "AddTags",
        json!({"ResourceArn": arn, "Tags": [{"Key": "k00", "Value": "w"}]}),
    )
    .await
    .unwrap();
    let page = value(
        s.handle(&ctx(), "ListTags", json!({"ResourceArn": arn}))
            .await
            .unwrap(),
    );
    assert_eq!(page["Tags"].as_array().unwrap().len(), 50);
    assert!(page.get("NextToken").is_none());
    assert_eq!(page["Tags"][0], json!({"Key": "k00", "Value": "w"}));
    let e = s
        .handle(
            &ctx(),
            "AddTags",
            json!({"ResourceArn": arn, "Tags": [{"Key": "aws:x", "Value": "v"}]}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("reserved"));
    let e = s
        .handle(
            &ctx(),
            "ListTags",
            json!({"ResourceArn": "arn:aws:sagemaker:eu-west-1:123456789012:project/none"}),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().ends_with("does not exist."));
}
