//! Bundle load time and `create()` throughput of the schema-driven provider.
//!
//! `cargo bench -p sagestack-providers`; numbers go to docs/benchmarks/providers.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use sagestack_engine::provider::{ResourceContext, ResourceProvider};
use sagestack_providers::{Bundle, SchemaProvider, bundle};

/// A realistic mix: named and generated names, nested properties, tags.
fn resources() -> Vec<(&'static str, Value)> {
    vec![
        (
            "AWS::S3::Bucket",
            json!({"VersioningConfiguration": {"Status": "Enabled"},
            "Tags": [{"Key": "team", "Value": "ml"}]}),
        ),
        ("AWS::SQS::Queue", json!({"VisibilityTimeout": 60})),
        ("AWS::SNS::Topic", json!({"TopicName": "alerts"})),
        (
            "AWS::IAM::Role",
            json!({"AssumeRolePolicyDocument": {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}, "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"]}),
        ),
        (
            "AWS::Lambda::Function",
            json!({"Role": "arn:aws:iam::123456789012:role/r", "Runtime": "python3.12",
            "Handler": "index.handler", "Code": {"ZipFile": "def handler(e, c): pass"}, "Timeout": 30}),
        ),
        (
            "AWS::EC2::VPC",
            json!({"CidrBlock": "10.0.0.0/16", "EnableDnsSupport": true}),
        ),
        (
            "AWS::SSM::Parameter",
            json!({"Type": "String", "Value": "v"}),
        ),
        (
            "AWS::SageMaker::ModelPackageGroup",
            json!({"ModelPackageGroupName": "churn"}),
        ),
        (
            "AWS::Events::Rule",
            json!({"ScheduleExpression": "rate(1 day)", "State": "ENABLED"}),
        ),
        ("AWS::Logs::LogGroup", json!({"RetentionInDays": 7})),
    ]
}

fn ctx(type_name: &str, i: usize) -> ResourceContext {
    ResourceContext {
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        stack_name: "bench".into(),
        stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/bench/x".into(),
        logical_id: format!("Resource{i}"),
        resource_type: type_name.into(),
        stack_tags: vec![],
        started: 0,
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("bundle_load (inflate + index, no type compiled)", |b| {
        b.iter(|| black_box(Bundle::load_embedded()))
    });
    c.bench_function("bundle_load + compile AWS::S3::Bucket", |b| {
        b.iter(|| black_box(Bundle::load_embedded().get("AWS::S3::Bucket")))
    });

    let provider = SchemaProvider::new();
    let mix = resources();
    let contexts: Vec<ResourceContext> = (0..500).map(|i| ctx(mix[i % mix.len()].0, i)).collect();
    // Compile the types once, as a running server would have.
    for (t, _) in &mix {
        bundle().get(t);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("create x500 (10-type mix, validated)", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (i, c) in contexts.iter().enumerate() {
                    let props = &mix[i % mix.len()].1;
                    black_box(provider.create(c, props).await.unwrap());
                }
            })
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
