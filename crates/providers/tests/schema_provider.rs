//! The schema-driven provider end to end through the `ResourceProvider` trait.

mod common;

use serde_json::{Value, json};

use common::{create_failure, ctx, ctx_in};
use sagestack_engine::provider::{ProviderError, ResourceProvider, ResourceState};
use sagestack_providers::SchemaProvider;

async fn create(p: &SchemaProvider, t: &str, logical: &str, props: Value) -> ResourceState {
    p.create(&ctx(t, logical), &props)
        .await
        .unwrap_or_else(|e| panic!("{t}: {e}"))
}

fn attr<'a>(s: &'a ResourceState, name: &str) -> &'a str {
    s.attributes
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string attribute {name} in {:?}", s.attributes))
}

fn is_suffix(s: &str, upper: bool) -> bool {
    s.len() == 13
        && s.chars().all(|c| {
            c.is_ascii_digit()
                || if upper {
                    c.is_ascii_uppercase()
                } else {
                    c.is_ascii_lowercase()
                }
        })
}

#[tokio::test]
async fn s3_bucket_names_and_attributes() {
    let p = SchemaProvider::new();
    let named = create(
        &p,
        "AWS::S3::Bucket",
        "Data",
        json!({"BucketName": "my-data"}),
    )
    .await;
    assert_eq!(named.physical_id, "my-data");
    assert_eq!(attr(&named, "Arn"), "arn:aws:s3:::my-data");
    assert_eq!(attr(&named, "DomainName"), "my-data.s3.amazonaws.com");
    assert_eq!(
        attr(&named, "RegionalDomainName"),
        "my-data.s3.us-east-1.amazonaws.com"
    );
    assert_eq!(
        attr(&named, "WebsiteURL"),
        "http://my-data.s3-website-us-east-1.amazonaws.com"
    );

    let generated = create(&p, "AWS::S3::Bucket", "LogsBucket", json!({})).await;
    let id = &generated.physical_id;
    let suffix = id.strip_prefix("demo-logsbucket-").expect(id);
    assert!(is_suffix(suffix, false), "{id}");
    assert_eq!(attr(&generated, "Arn"), format!("arn:aws:s3:::{id}"));
}

#[tokio::test]
async fn generated_names_fit_the_type_limit() {
    let p = SchemaProvider::new();
    let long = "L".repeat(200);
    let s = create(&p, "AWS::S3::Bucket", &long, json!({})).await;
    assert_eq!(s.physical_id.len(), 63, "{}", s.physical_id);
    let r = create(
        &p,
        "AWS::IAM::Role",
        &long,
        json!({"AssumeRolePolicyDocument": {}}),
    )
    .await;
    assert!(r.physical_id.len() <= 64, "{}", r.physical_id);
    assert!(r.physical_id.starts_with("demo-LLL"));
    assert!(is_suffix(&r.physical_id[r.physical_id.len() - 13..], true));
}

#[tokio::test]
async fn sqs_ref_is_the_queue_url() {
    let p = SchemaProvider::new();
    let q = create(
        &p,
        "AWS::SQS::Queue",
        "Jobs",
        json!({"QueueName": "jobs", "DelaySeconds": "5"}),
    )
    .await;
    assert_eq!(
        q.physical_id,
        "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    );
    assert_eq!(attr(&q, "QueueUrl"), q.physical_id);
    assert_eq!(attr(&q, "Arn"), "arn:aws:sqs:us-east-1:123456789012:jobs");

    let g = create(&p, "AWS::SQS::Queue", "Jobs", json!({})).await;
    let name = g.physical_id.rsplit('/').next().unwrap();
    assert!(name.starts_with("demo-Jobs-"), "{name}");
    assert_eq!(
        attr(&g, "Arn"),
        format!("arn:aws:sqs:us-east-1:123456789012:{name}")
    );
}

#[tokio::test]
async fn common_types_have_service_shaped_values() {
    let p = SchemaProvider::with_seed(1);
    let topic = create(&p, "AWS::SNS::Topic", "T", json!({"TopicName": "alerts"})).await;
    assert_eq!(
        topic.physical_id,
        "arn:aws:sns:us-east-1:123456789012:alerts"
    );

    let role = create(
        &p,
        "AWS::IAM::Role",
        "R",
        json!({"RoleName": "app", "Path": "/svc/", "AssumeRolePolicyDocument": {"Version": "2012-10-17"}}),
    )
    .await;
    assert_eq!(role.physical_id, "app");
    assert_eq!(attr(&role, "Arn"), "arn:aws:iam::123456789012:role/svc/app");
    assert!(attr(&role, "RoleId").starts_with("AROA"));

    let f = create(
        &p,
        "AWS::Lambda::Function",
        "Fn",
        json!({"FunctionName": "handler", "Role": "arn:aws:iam::123456789012:role/app",
               "Code": {"ZipFile": "x"}, "Runtime": "python3.12", "Handler": "index.h"}),
    )
    .await;
    assert_eq!(
        attr(&f, "Arn"),
        "arn:aws:lambda:us-east-1:123456789012:function:handler"
    );

    let vpc = create(
        &p,
        "AWS::EC2::VPC",
        "Vpc",
        json!({"CidrBlock": "10.1.0.0/16"}),
    )
    .await;
    let id = vpc
        .physical_id
        .strip_prefix("vpc-")
        .expect(&vpc.physical_id);
    assert!(id.len() == 17 && id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(attr(&vpc, "VpcId"), vpc.physical_id);
    assert!(attr(&vpc, "DefaultSecurityGroup").starts_with("sg-"));
    assert!(attr(&vpc, "DefaultNetworkAcl").starts_with("acl-"));

    let sg = create(
        &p,
        "AWS::EC2::SecurityGroup",
        "Sg",
        json!({"GroupDescription": "d"}),
    )
    .await;
    assert!(sg.physical_id.starts_with("sg-"));
    assert_eq!(attr(&sg, "GroupId"), sg.physical_id);

    let key = create(&p, "AWS::KMS::Key", "K", json!({})).await;
    assert_eq!(key.physical_id.len(), 36);
    assert_eq!(
        attr(&key, "Arn"),
        format!("arn:aws:kms:us-east-1:123456789012:key/{}", key.physical_id)
    );

    let table = create(
        &p,
        "AWS::DynamoDB::Table",
        "Tbl",
        json!({"TableName": "orders", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}),
    )
    .await;
    assert_eq!(
        attr(&table, "Arn"),
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    );
    assert!(
        attr(&table, "StreamArn")
            .starts_with("arn:aws:dynamodb:us-east-1:123456789012:table/orders/stream/2024-01-01T")
    );

    let repo = create(
        &p,
        "AWS::ECR::Repository",
        "Repo",
        json!({"RepositoryName": "web"}),
    )
    .await;
    assert_eq!(
        attr(&repo, "RepositoryUri"),
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/web"
    );

    let logs = create(
        &p,
        "AWS::Logs::LogGroup",
        "Lg",
        json!({"LogGroupName": "/app"}),
    )
    .await;
    assert_eq!(logs.physical_id, "/app");
    assert_eq!(
        attr(&logs, "Arn"),
        "arn:aws:logs:us-east-1:123456789012:log-group:/app:*"
    );

    let model = create(
        &p,
        "AWS::SageMaker::ModelPackageGroup",
        "Mpg",
        json!({"ModelPackageGroupName": "Churn"}),
    )
    .await;
    assert_eq!(
        model.physical_id,
        "arn:aws:sagemaker:us-east-1:123456789012:model-package-group/churn"
    );
    assert_eq!(attr(&model, "CreationTime"), "2024-01-01T00:00:00.000Z");

    let rule = create(
        &p,
        "AWS::Events::Rule",
        "Rule",
        json!({"Name": "nightly", "ScheduleExpression": "rate(1 day)"}),
    )
    .await;
    assert_eq!(
        rule.physical_id, "nightly",
        "Ref of an EventBridge rule is its name"
    );
    assert_eq!(
        attr(&rule, "Arn"),
        "arn:aws:events:us-east-1:123456789012:rule/nightly"
    );

    let build = create(
        &p,
        "AWS::CodeBuild::Project",
        "Build",
        json!({"Name": "ci", "Artifacts": {"Type": "NO_ARTIFACTS"}, "ServiceRole": "r",
               "Source": {"Type": "NO_SOURCE"}, "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": "i"}}),
    )
    .await;
    assert_eq!(build.physical_id, "ci");
    assert_eq!(
        attr(&build, "Arn"),
        "arn:aws:codebuild:us-east-1:123456789012:project/ci"
    );

    let param = create(
        &p,
        "AWS::SSM::Parameter",
        "P",
        json!({"Name": "/app/x", "Type": "String", "Value": "v"}),
    )
    .await;
    assert_eq!(param.physical_id, "/app/x");

    let db = create(
        &p,
        "AWS::RDS::DBInstance",
        "Db",
        json!({"Engine": "postgres", "DBInstanceClass": "db.t3.micro"}),
    )
    .await;
    assert!(attr(&db, "Endpoint.Address").ends_with(".us-east-1.rds.amazonaws.com"));
    assert_eq!(attr(&db, "Endpoint.Port"), "5432");
    assert!(db.attributes["Endpoint"].is_object());
}

#[tokio::test]
async fn partition_and_region_shape_arns_and_hosts() {
    let p = SchemaProvider::new();
    let c = ctx_in("cn-north-1", "AWS::SQS::Queue", "Q");
    let q = p.create(&c, &json!({"QueueName": "q"})).await.unwrap();
    assert_eq!(
        q.physical_id,
        "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q"
    );
    assert_eq!(attr(&q, "Arn"), "arn:aws-cn:sqs:cn-north-1:123456789012:q");
}

#[tokio::test]
async fn every_read_only_attribute_gets_a_value() {
    let p = SchemaProvider::with_seed(3);
    let err = p
        .create(
            &ctx("AWS::SageMaker::Project", "X"),
            &json!({"ProjectName": "p1"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Properties validation failed for resource X with message: \
         #: #: 0 subschemas matched instead of one"
    );
    for (t, props) in [
        (
            "AWS::SageMaker::Project",
            json!({"ProjectName": "p1", "ServiceCatalogProvisioningDetails": {"ProductId": "prod-abc"}}),
        ),
        ("AWS::EC2::Instance", json!({})),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", json!({})),
        (
            "AWS::CodeCommit::Repository",
            json!({"RepositoryName": "code"}),
        ),
    ] {
        let s = create(&p, t, "X", props).await;
        let info = p.type_info(t).unwrap();
        for a in &info.attributes {
            let v = s
                .attributes
                .get(a)
                .unwrap_or_else(|| panic!("{t} lacks {a}"));
            assert!(!v.is_null(), "{t}.{a} is null");
        }
        assert!(!s.physical_id.is_empty());
    }
}

#[tokio::test]
async fn seeded_providers_are_deterministic_and_unseeded_ones_are_not() {
    let a = SchemaProvider::with_seed(42);
    let b = SchemaProvider::with_seed(42);
    let one = create(&a, "AWS::SQS::Queue", "Q", json!({})).await;
    assert_eq!(one, create(&b, "AWS::SQS::Queue", "Q", json!({})).await);
    let other = create(
        &SchemaProvider::with_seed(43),
        "AWS::SQS::Queue",
        "Q",
        json!({}),
    )
    .await;
    assert_ne!(one.physical_id, other.physical_id);
    // A replacement (different create-only properties) gets a new name.
    let replaced = create(&a, "AWS::SQS::Queue", "Q", json!({"FifoQueue": false})).await;
    assert_ne!(one.physical_id, replaced.physical_id);

    let r = SchemaProvider::new();
    let x = create(&r, "AWS::SQS::Queue", "Q", json!({})).await;
    let y = create(&r, "AWS::SQS::Queue", "Q", json!({})).await;
    assert_ne!(x.physical_id, y.physical_id);
}

#[tokio::test]
async fn validation_errors_use_cloudformation_wording() {
    let p = SchemaProvider::new();
    let err = p
        .create(
            &ctx("AWS::KMS::Key", "Key"),
            &json!({"RotationPeriodInDays": 3000, "KeyPolicyy": {}, "Tags": [{"Key": "k"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::InvalidRequest(
            "Properties validation failed for resource Key with message: \
             #: extraneous key [KeyPolicyy] is not permitted \
             #/RotationPeriodInDays: 3000 is not less or equal to 2560 \
             #/Tags/0: required key [Value] not found"
                .into()
        )
    );

    assert_eq!(
        create_failure(&p, "AWS::IAM::Role", "Role").await,
        "Properties validation failed for resource Role with message: \
         #: required key [AssumeRolePolicyDocument] not found"
    );

    let err = p
        .create(
            &ctx("AWS::S3::Bucket", "B"),
            &json!({"VersioningConfiguration": {"Status": "Sometimes"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Properties validation failed for resource B with message: \
         #/VersioningConfiguration/Status: Sometimes is not a valid enum value"
    );
}

#[tokio::test]
async fn unknown_types_are_unsupported() {
    let p = SchemaProvider::new();
    let err = p
        .create(&ctx("AWS::Nope::Thing", "X"), &json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ProviderError::UnsupportedType(
            "Resource type AWS::Nope::Thing is not supported by sagestack (enable inert types to accept it)"
                .into()
        )
    );
}

#[tokio::test]
async fn update_keeps_identity_and_recomputes_property_derived_attributes() {
    let p = SchemaProvider::with_seed(9);
    let c = ctx("AWS::RDS::DBInstance", "Db");
    let old = json!({"Engine": "mysql", "DBInstanceClass": "db.t3.micro"});
    let created = p.create(&c, &old).await.unwrap();
    assert_eq!(attr(&created, "Endpoint.Port"), "3306");

    let new = json!({"Engine": "mysql", "DBInstanceClass": "db.t3.small", "Port": "3307"});
    let updated = p.update(&c, &created, &old, &new).await.unwrap();
    assert_eq!(updated.physical_id, created.physical_id);
    assert_eq!(attr(&updated, "Endpoint.Port"), "3307");
    for keep in [
        "DBInstanceArn",
        "Endpoint.Address",
        "DbiResourceId",
        "InstanceCreateTime",
    ] {
        assert_eq!(updated.attributes[keep], created.attributes[keep], "{keep}");
    }

    let bad = p
        .update(&c, &created, &old, &json!({"Engine": 5, "Nope": 1}))
        .await
        .unwrap_err();
    assert!(matches!(bad, ProviderError::InvalidRequest(_)), "{bad}");

    // Unseeded: identity attributes survive an update untouched too.
    let r = SchemaProvider::new();
    let c = ctx("AWS::SQS::Queue", "Q");
    let q = r.create(&c, &json!({})).await.unwrap();
    let u = r
        .update(&c, &q, &json!({}), &json!({"VisibilityTimeout": 60}))
        .await
        .unwrap();
    assert_eq!(u.physical_id, q.physical_id);
    for (k, v) in &q.attributes {
        assert_eq!(&u.attributes[k], v, "{k}");
    }
    // The property just set is readable with Fn::GetAtt, at its new value.
    assert_eq!(u.attributes["VisibilityTimeout"], json!(60));
}

#[tokio::test]
async fn delete_and_read_need_no_state() {
    let p = SchemaProvider::new();
    let c = ctx("AWS::SNS::Topic", "T");
    let s = p.create(&c, &json!({})).await.unwrap();
    assert_eq!(p.read(&c, &s, &json!({})).await.unwrap(), Some(s.clone()));
    p.delete(&c, &s, &json!({})).await.unwrap();
}

#[tokio::test]
async fn settable_properties_are_readable_with_getatt() {
    let p = SchemaProvider::with_seed(3);
    // Documented return values that the schemas list as plain properties.
    let q = create(&p, "AWS::SQS::Queue", "Jobs", json!({})).await;
    assert_eq!(
        attr(&q, "QueueName"),
        q.physical_id.rsplit('/').next().unwrap()
    );
    let named = create(
        &p,
        "AWS::SNS::Topic",
        "T",
        json!({"TopicName": "alerts", "DisplayName": "Alerts"}),
    )
    .await;
    assert_eq!(attr(&named, "TopicName"), "alerts");
    assert_eq!(attr(&named, "DisplayName"), "Alerts");
    let subnet = create(
        &p,
        "AWS::EC2::Subnet",
        "S",
        json!({"VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"}),
    )
    .await;
    assert_eq!(attr(&subnet, "AvailabilityZone"), "us-east-1a");
    assert_eq!(attr(&subnet, "VpcId"), "vpc-1");
    // Object-valued properties are not attributes; unset ones stay absent.
    let b = create(
        &p,
        "AWS::S3::Bucket",
        "B",
        json!({"VersioningConfiguration": {"Status": "Enabled"}}),
    )
    .await;
    assert!(!b.attributes.contains_key("VersioningConfiguration"));
    assert!(!b.attributes.contains_key("ObjectLockEnabled"));
}

#[tokio::test]
async fn network_interface_secondary_addresses() {
    let p = SchemaProvider::with_seed(5);
    let counted = create(
        &p,
        "AWS::EC2::NetworkInterface",
        "Eni",
        json!({"SubnetId": "subnet-1", "SecondaryPrivateIpAddressCount": 2}),
    )
    .await;
    let ips = counted.attributes["SecondaryPrivateIpAddresses"]
        .as_array()
        .unwrap();
    assert_eq!(ips.len(), 2);
    assert_ne!(ips[0], ips[1]);
    let explicit = create(
        &p,
        "AWS::EC2::NetworkInterface",
        "Eni2",
        json!({"SubnetId": "subnet-1", "PrivateIpAddresses": [
            {"PrivateIpAddress": "10.0.0.5", "Primary": true},
            {"PrivateIpAddress": "10.0.0.6", "Primary": false}
        ]}),
    )
    .await;
    assert_eq!(
        explicit.attributes["SecondaryPrivateIpAddresses"],
        json!(["10.0.0.6"])
    );
    let none = create(
        &p,
        "AWS::EC2::NetworkInterface",
        "Eni3",
        json!({"SubnetId": "subnet-1"}),
    )
    .await;
    assert_eq!(none.attributes["SecondaryPrivateIpAddresses"], json!([]));
}

#[tokio::test]
async fn directories_have_two_dns_addresses() {
    let p = SchemaProvider::with_seed(7);
    for (t, size) in [
        ("AWS::DirectoryService::MicrosoftAD", None),
        ("AWS::DirectoryService::SimpleAD", Some("Small")),
    ] {
        let mut props = json!({
            "Name": "corp.example.com",
            "Password": "Passw0rd-123",
            "VpcSettings": {"SubnetIds": ["subnet-1", "subnet-2"], "VpcId": "vpc-1"}
        });
        if let Some(size) = size {
            props["Size"] = json!(size);
        }
        let d = create(&p, t, "Dir", props).await;
        let ips = d.attributes["DnsIpAddresses"].as_array().unwrap();
        assert_eq!(ips.len(), 2, "{t}");
        assert_ne!(ips[0], ips[1]);
    }
}
