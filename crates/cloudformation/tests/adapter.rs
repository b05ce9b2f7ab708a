//! The template adapter through the assembled service: intrinsics across resources,
//! exports across stacks, NoEcho, SSM parameters, the Snapshot policy, diagnostics, and
//! the routing of native providers.

mod common;
#[path = "../../../tests/support/stacks.rs"]
mod stacks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::memory_config;
use sagestack_cloudformation::*;
use sagestack_engine::provider::{RecordOnlyProvider, kit};
use sagestack_engine::{ResourceRecord, StackRecord};
use serde_json::{Value, json};
use stacks::{event_reason, output};

fn service() -> CloudFormationService {
    service_with(|c| c)
}

fn service_with(f: impl FnOnce(ServiceConfig) -> ServiceConfig) -> CloudFormationService {
    CloudFormationService::new(f(memory_config("us-east-1", "123456789012"))).unwrap()
}

async fn create(
    s: &CloudFormationService,
    name: &str,
    body: &str,
    params: &[(&str, &str)],
) -> StackRecord {
    s.create_stack_and_wait(CreateStackInput {
        stack_name: name.into(),
        template_body: body.into(),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap()
}

async fn resource(s: &CloudFormationService, stack: &str, id: &str) -> ResourceRecord {
    s.list_stack_resources(stack)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.logical_id == id)
        .unwrap()
}

/// Every failure reason of a stack's events, oldest first (for assertion messages).
async fn reasons(s: &CloudFormationService, stack_id: &str) -> Vec<String> {
    let mut events = s.engine().stack_events(stack_id, None, 1000).await.unwrap();
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.resource_status.ends_with("FAILED"))
        .map(|e| {
            format!(
                "{} {}: {}",
                e.logical_resource_id,
                e.resource_status,
                e.resource_status_reason.unwrap_or_default()
            )
        })
        .collect()
}

/// CreateStack of `body` as `name`, which must be refused.
async fn refused(s: &CloudFormationService, name: &str, body: &str) -> EngineError {
    s.create_stack(CreateStackInput {
        stack_name: name.into(),
        template_body: body.into(),
        ..Default::default()
    })
    .await
    .unwrap_err()
}

fn template_diagnostics(e: EngineError) -> Vec<PlanDiagnostic> {
    match e {
        EngineError::Template(d) => d,
        other => panic!("expected a template error, got {other:?}"),
    }
}

#[tokio::test]
async fn ref_getatt_and_sub_read_other_resources() {
    let s = service();
    let body = r#"
Parameters:
  Env: {Type: String}
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${Env}-events'
  Queue:
    Type: AWS::SQS::Queue
  Link:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Name: !Sub '/${AWS::StackName}/link'
      Value: !Sub '${Topic}|${Queue.Arn}|${Queue}'
      Description: !GetAtt Queue.QueueUrl
Outputs:
  TopicArn: {Value: !Ref Topic}
  QueueArn: {Value: !GetAtt Queue.Arn}
  Link: {Value: !Ref Link}
"#;
    let stack = create(&s, "wiring", body, &[("Env", "prod")]).await;
    assert_eq!(
        stack.status,
        StackStatus::CreateComplete,
        "{:?}",
        reasons(&s, &stack.stack_id).await
    );
    let topic = resource(&s, "wiring", "Topic").await;
    let queue = resource(&s, "wiring", "Queue").await;
    let link = resource(&s, "wiring", "Link").await;
    let topic_arn = topic.physical_id.clone().unwrap();
    assert_eq!(
        topic_arn, "arn:aws:sns:us-east-1:123456789012:prod-events",
        "Ref of a topic is its ARN"
    );
    let queue_arn = queue.attributes["Arn"].as_str().unwrap().to_string();
    let queue_url = queue.physical_id.clone().unwrap();
    assert!(
        queue_url.starts_with("https://sqs.us-east-1.amazonaws.com/123456789012/wiring-Queue-")
    );
    assert_eq!(
        link.properties["Value"],
        json!(format!("{topic_arn}|{queue_arn}|{queue_url}"))
    );
    assert_eq!(link.properties["Name"], json!("/wiring/link"));
    assert_eq!(
        link.properties["Description"], queue.attributes["QueueUrl"],
        "GetAtt QueueUrl"
    );
    assert_eq!(output(&stack, "TopicArn"), topic_arn);
    assert_eq!(output(&stack, "QueueArn"), queue_arn);
    assert_eq!(output(&stack, "Link"), "/wiring/link");
    // Order follows the references: the parameter is created after what it reads.
    let events = s.engine().stack_events("wiring", None, 100).await.unwrap();
    let pos = |id: &str, st: &str| {
        events
            .iter()
            .rposition(|e| e.logical_resource_id == id && e.resource_status == st)
            .unwrap()
    };
    // Events are newest first.
    assert!(pos("Link", "CREATE_IN_PROGRESS") < pos("Queue", "CREATE_COMPLETE"));
    assert!(pos("Link", "CREATE_IN_PROGRESS") < pos("Topic", "CREATE_COMPLETE"));
}

#[tokio::test]
async fn import_value_reads_another_stacks_export() {
    let s = service();
    let producer = r#"
Resources:
  Queue: {Type: AWS::SQS::Queue}
Outputs:
  QueueArn:
    Value: !GetAtt Queue.Arn
    Export: {Name: !Sub '${AWS::StackName}-queue-arn'}
"#;
    let consumer = r#"
Resources:
  P:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !ImportValue shared-queue-arn
Outputs:
  Seen: {Value: !ImportValue shared-queue-arn}
"#;
    let a = create(&s, "shared", producer, &[]).await;
    assert_eq!(a.status, StackStatus::CreateComplete);
    let arn = output(&a, "QueueArn");
    assert!(arn.starts_with("arn:aws:sqs:us-east-1:123456789012:shared-Queue-"));
    let b = create(&s, "consumer", consumer, &[]).await;
    assert_eq!(b.status, StackStatus::CreateComplete, "{b:?}");
    assert_eq!(
        resource(&s, "consumer", "P").await.properties["Value"],
        json!(arn)
    );
    assert_eq!(output(&b, "Seen"), arn);
    assert_eq!(b.imports, vec!["shared-queue-arn".to_string()]);
    // The exporter cannot go while the export is imported.
    let deleted = s.delete_stack_and_wait("shared").await.unwrap().unwrap();
    assert_eq!(deleted.status, StackStatus::DeleteFailed, "{deleted:?}");
    assert!(
        deleted
            .status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("shared-queue-arn"),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn a_missing_export_fails_the_importing_resource() {
    let s = service();
    let body = "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !ImportValue nobody-exports-this}\n";
    let stack = create(&s, "orphan", body, &[]).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
    // Like AWS, the stack fails before any resource is touched.
    assert_eq!(
        event_reason(&s, &stack.stack_id, "orphan", "ROLLBACK_IN_PROGRESS").await,
        "No export named nobody-exports-this found. Rollback requested by user."
    );
    let events = s.engine().stack_events(&stack.stack_id, None, 100);
    assert!(
        events
            .await
            .unwrap()
            .iter()
            .all(|e| e.logical_resource_id != "P")
    );
}

#[tokio::test]
async fn no_echo_parameters_are_masked_but_applied() {
    let s = service();
    let body = r#"
Parameters:
  Secret: {Type: String, NoEcho: true}
  Plain: {Type: String}
Resources:
  P:
    Type: AWS::SSM::Parameter
    Properties: {Type: String, Value: !Ref Secret, Description: !Ref Plain}
"#;
    let stack = create(
        &s,
        "secret",
        body,
        &[("Secret", "hunter2"), ("Plain", "visible")],
    )
    .await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    assert_eq!(
        stack.displayed_parameters,
        BTreeMap::from([
            ("Plain".to_string(), "visible".to_string()),
            ("Secret".to_string(), "****".to_string()),
        ])
    );
    assert_eq!(
        resource(&s, "secret", "P").await.properties["Value"],
        json!("hunter2")
    );
}

/// An in-memory SSM with versions and one secure parameter.
struct FakeSsm;
impl SsmLookup for FakeSsm {
    fn parameter(&self, name: &str, version: Option<u64>) -> Option<String> {
        match (name, version) {
            ("/ami/latest", None | Some(2)) => Some("ami-0abc".into()),
            ("/ami/latest", Some(1)) => Some("ami-0old".into()),
            ("/subnets", None) => Some("subnet-1,subnet-2".into()),
            _ => None,
        }
    }
    fn secure_parameter(&self, name: &str, _: Option<u64>) -> Option<String> {
        (name == "/db/password").then(|| "s3cret".into())
    }
}

#[tokio::test]
async fn ssm_parameters_and_references_resolve_through_the_service_lookup() {
    let s = service_with(|c| c.with_ssm(Arc::new(FakeSsm)));
    let body = r#"
Parameters:
  Ami: {Type: 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>', Default: /ami/latest}
  Subnets: {Type: 'AWS::SSM::Parameter::Value<List<String>>', Default: /subnets}
Resources:
  P:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: !Join [' ', [!Ref Ami, !Select [1, !Ref Subnets], '{{resolve:ssm:/ami/latest:1}}', '{{resolve:ssm-secure:/db/password}}']]
"#;
    let stack = create(&s, "ssm", body, &[]).await;
    assert_eq!(stack.status, StackStatus::CreateComplete, "{stack:?}");
    assert_eq!(
        resource(&s, "ssm", "P").await.properties["Value"],
        json!("ami-0abc subnet-2 ami-0old s3cret")
    );
    // SSM-typed parameters show the parameter name, as DescribeStacks does, and what it
    // resolved to (`ResolvedValue`; a list joined with commas).
    assert_eq!(stack.displayed_parameters["Ami"], "/ami/latest");
    assert_eq!(stack.resolved_parameters["Ami"], "ami-0abc");
    assert_eq!(stack.resolved_parameters.len(), 2);
    assert!(stack.resolved_parameters["Subnets"].contains("subnet-2"));

    // A parameter SSM does not have is refused when the stack is submitted.
    let e = s
        .create_stack(CreateStackInput {
            stack_name: "ssm2".into(),
            template_body: body.into(),
            parameters: BTreeMap::from([("Ami".into(), "/missing".into())]),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let d = template_diagnostics(e);
    assert!(d[0].message.contains("/missing"), "{d:?}");
}

#[tokio::test]
async fn snapshot_is_refused_on_types_that_cannot_snapshot() {
    let s = service();
    let body = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    DeletionPolicy: Snapshot\n";
    let e = refused(&s, "snap", body).await;
    let d = template_diagnostics(e);
    assert_eq!(d.len(), 1);
    assert!(
        d[0].message
            .contains("B of type AWS::S3::Bucket does not support the DeletionPolicy Snapshot"),
        "{d:?}"
    );
    assert_eq!((d[0].line, d[0].column), (Some(4), Some(21)));
    // Nothing was created.
    assert!(s.list_stacks().await.unwrap().is_empty());

    let replace =
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    UpdateReplacePolicy: Snapshot\n";
    let d = s.plan("x", replace, &BTreeMap::new()).unwrap_err();
    assert!(
        d[0].message.contains("UpdateReplacePolicy Snapshot"),
        "{d:?}"
    );

    // Types that support it plan; a cluster member instance does not.
    let ok = "Resources:\n  V:\n    Type: AWS::EC2::Volume\n    DeletionPolicy: Snapshot\n    Properties: {AvailabilityZone: us-east-1a, Size: 1}\n  C:\n    Type: AWS::RDS::DBCluster\n    DeletionPolicy: Snapshot\n    Properties: {Engine: aurora-mysql}\n";
    s.plan("x", ok, &BTreeMap::new()).unwrap();
    let member = "Resources:\n  I:\n    Type: AWS::RDS::DBInstance\n    DeletionPolicy: Snapshot\n    Properties: {DBClusterIdentifier: c1, DBInstanceClass: db.r5.large, Engine: aurora-mysql}\n";
    let d = s.plan("x", member, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        d[0].message,
        "DeletionPolicy:Snapshot cannot be specified for a cluster instance, use deletion policy on the cluster instead."
    );
}

#[tokio::test]
async fn diagnostics_carry_code_line_and_column() {
    let s = service();
    let body = "Resources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Ref Missing\n";
    let e = refused(&s, "bad", body).await;
    let d = template_diagnostics(e.clone());
    assert_eq!(d[0].code, "E1012");
    assert_eq!((d[0].line, d[0].column), (Some(5), Some(18)));
    assert!(d[0].message.contains("Missing"), "{d:?}");
    // The engine error shows the first message, as ValidationError does.
    assert_eq!(e.to_string(), d[0].message);

    let syntax = s.validate_template("{\"Resources\": {", true).unwrap_err();
    assert_eq!(syntax[0].code, "E0001");
    assert_eq!(syntax[0].line, Some(1));

    let summary = s
        .validate_template(
            "Description: demo\nParameters:\n  N: {Type: Number, Default: 3}\nResources:\n  T: {Type: AWS::SNS::Topic}\n",
            true,
        )
        .unwrap();
    assert_eq!(summary.description.as_deref(), Some("demo"));
    assert_eq!(summary.parameters[0].name, "N");
}

#[tokio::test]
async fn description_and_unknown_types() {
    let s = service();
    let stack = create(
        &s,
        "described",
        "Description: my stack\nResources:\n  T: {Type: AWS::SNS::Topic}\n",
        &[],
    )
    .await;
    assert_eq!(stack.description.as_deref(), Some("my stack"));
    let e = refused(
        &s,
        "unknown",
        "Resources:\n  T: {Type: 'AWS::Nope::Thing'}\n",
    )
    .await;
    assert_eq!(
        e.to_string(),
        "Template format error: Unrecognized resource types: [AWS::Nope::Thing]"
    );
}

/// The `(logical id, properties)` of every create a [`recording`] provider was asked for.
type Creates = Arc<Mutex<Vec<(String, Value)>>>;

/// A native provider of buckets (named by `BucketName`) and what it was asked to create.
fn recording() -> (Arc<RecordOnlyProvider>, Creates) {
    let created = Arc::new(Mutex::new(Vec::new()));
    let log = created.clone();
    let provider = RecordOnlyProvider::new(
        |type_name| Some(kit::type_info(type_name, &["BucketName"], &["Arn"], true)),
        move |ctx, properties| {
            log.lock()
                .unwrap()
                .push((ctx.logical_id.clone(), properties.clone()));
            let name = properties["BucketName"].as_str().unwrap_or("native");
            kit::state(name, [("Arn", json!(format!("arn:aws:s3:::{name}")))])
        },
    );
    (Arc::new(provider), created)
}

#[tokio::test]
async fn native_providers_take_their_type_and_the_schema_serves_the_rest() {
    let (native, created) = recording();
    let s = service_with(|c| c.with_native_provider("AWS::S3::Bucket", native.clone()));
    let body = "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties: {BucketName: mine}\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !GetAtt B.Arn}\n";
    let stack = create(&s, "native", body, &[]).await;
    assert_eq!(stack.status, StackStatus::CreateComplete, "{stack:?}");
    assert_eq!(
        created.lock().unwrap().clone(),
        vec![("B".to_string(), json!({"BucketName": "mine"}))]
    );
    assert_eq!(
        resource(&s, "native", "Q").await.properties["QueueName"],
        json!("arn:aws:s3:::mine")
    );

    let dup = memory_config("us-east-1", "123456789012")
        .with_native_provider("AWS::S3::Bucket", native.clone())
        .with_native_provider("AWS::S3::Bucket", native.clone());
    assert_eq!(
        CloudFormationService::new(dup).err(),
        Some(ServiceError::DuplicateProvider("AWS::S3::Bucket".into()))
    );
    let bad = memory_config("us-east-1", "123456789012").with_native_provider("S3Bucket", native);
    assert_eq!(
        CloudFormationService::new(bad).err(),
        Some(ServiceError::InvalidTypeName("S3Bucket".into()))
    );
}

#[tokio::test]
async fn inert_and_custom_types_follow_the_configuration() {
    use sagestack_providers::InertProvider;
    let body = "Resources:\n  W:\n    Type: MyOrg::Widgets::Gear\n";
    let plain = service();
    let e = refused(&plain, "w", body).await;
    assert!(e.to_string().contains("MyOrg::Widgets::Gear"), "{e}");
    let inert = service_with(|c| c.with_inert(InertProvider::only(["MyOrg::Widgets::*"])));
    let stack = create(&inert, "w", body, &[]).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);

    // A custom resource with no handler configured fails with a reason, not a panic.
    let custom = "Resources:\n  C:\n    Type: Custom::Seed\n    Properties: {ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:seed'}\n";
    let stack = create(&plain, "c", custom, &[]).await;
    assert_eq!(stack.status, StackStatus::RollbackComplete);
}

/// Two secrets: a JSON one and a plain one, with a previous version of the plain one.
struct FakeSecrets;
impl SecretsLookup for FakeSecrets {
    fn secret_string(
        &self,
        id: &str,
        stage: Option<&str>,
        _version_id: Option<&str>,
    ) -> Option<String> {
        match (id, stage) {
            ("db", None | Some("AWSCURRENT")) => {
                Some(r#"{"username": "admin", "password": "pw1", "port": 5432}"#.into())
            }
            ("token", None | Some("AWSCURRENT")) => Some("tok-2".into()),
            ("token", Some("AWSPREVIOUS")) => Some("tok-1".into()),
            _ => None,
        }
    }
}

#[tokio::test]
async fn secrets_manager_references_resolve_through_the_secrets_lookup() {
    let s = service_with(|c| c.with_secrets(Arc::new(FakeSecrets)));
    let body = "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties:\n      Type: String\n      Value: '{{resolve:secretsmanager:db:SecretString:password}}/{{resolve:secretsmanager:db:SecretString:port}}/{{resolve:secretsmanager:token}}/{{resolve:secretsmanager:token:SecretString::AWSPREVIOUS}}'\n";
    let stack = create(&s, "secrets", body, &[]).await;
    assert_eq!(
        stack.status,
        StackStatus::CreateComplete,
        "{:?}",
        reasons(&s, &stack.stack_id).await
    );
    assert_eq!(
        resource(&s, "secrets", "P").await.properties["Value"],
        json!("pw1/5432/tok-2/tok-1")
    );
    // A key the secret does not have, and no lookup at all, leave the reference unresolved.
    for (svc, value) in [
        (&s, "{{resolve:secretsmanager:db:SecretString:nope}}"),
        (
            &service(),
            "{{resolve:secretsmanager:db:SecretString:password}}",
        ),
    ] {
        let body = format!(
            "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {{Type: String, Value: '{value}'}}\n"
        );
        let stack = create(svc, "secrets-missing", &body, &[]).await;
        assert_eq!(stack.status, StackStatus::RollbackComplete);
        let r = reasons(svc, &stack.stack_id).await;
        assert!(
            r.iter()
                .any(|m| m.contains(&format!("dynamic reference {value} could not be resolved"))),
            "{r:?}"
        );
        svc.delete_stack_and_wait("secrets-missing").await.unwrap();
    }
}

/// SSM whose one parameter can change between operations.
struct ChangingSsm(Mutex<String>);
impl SsmLookup for ChangingSsm {
    fn parameter(&self, name: &str, _: Option<u64>) -> Option<String> {
        (name == "/app/version").then(|| self.0.lock().unwrap().clone())
    }
}

#[tokio::test]
async fn plans_are_shared_unless_binding_read_ssm() {
    let ssm = Arc::new(ChangingSsm(Mutex::new("1.0".into())));
    let factory = TemplatePlanFactory::new(Some(ssm.clone()), None);
    let identity = sagestack_engine::StackIdentity {
        stack_name: "s".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        notification_arns: vec![],
    };
    let plain = "Resources:\n  T: {Type: AWS::SNS::Topic}\n";
    let none = BTreeMap::new();
    let a = factory.bind_shared(plain, &none, &identity).unwrap();
    let b = factory.bind_shared(plain, &none, &identity).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "identical inputs share one plan");
    let other = sagestack_engine::StackIdentity {
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/2".into(),
        ..identity.clone()
    };
    let c = factory.bind_shared(plain, &none, &other).unwrap();
    assert!(!Arc::ptr_eq(&a, &c), "another stack gets its own plan");

    // Through the service: an update with the same template and parameters picks up a
    // new SSM value, as CloudFormation does.
    let s = service_with(|c| c.with_ssm(ssm.clone()));
    let body = "Parameters:\n  V: {Type: 'AWS::SSM::Parameter::Value<String>', Default: /app/version}\nResources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: !Ref V}\n";
    let stack = create(&s, "ssm-live", body, &[]).await;
    assert_eq!(stack.status, StackStatus::CreateComplete);
    *ssm.0.lock().unwrap() = "2.0".into();
    let updated = s
        .update_stack_and_wait(UpdateStackInput {
            stack_name: "ssm-live".into(),
            template_body: Some(body.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.status, StackStatus::UpdateComplete);
    assert_eq!(
        resource(&s, "ssm-live", "P").await.properties["Value"],
        json!("2.0")
    );
}
