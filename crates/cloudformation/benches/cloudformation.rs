//! Create / update / delete of stacks with 10, 100 and 500 resources of types moto also
//! supports, through the whole service: template parse/validate/bind, the engine, the
//! schema-driven providers (schema validation, names, attributes) and the MemoryStore.
//! `cargo bench -p sagestack-cloudformation`; results in docs/benchmarks/cloudformation.md,
//! next to moto's for the same templates (scripts/bench-cfn-moto.py generates the same
//! shape; `SAGESTACK_BENCH_TEMPLATES=<dir>` makes this bench write its templates there so
//! the script can use them verbatim).
//!
//! Each iteration gets a fresh service and store; only the operation is timed, from the
//! call to the terminal status.

#[path = "../../engine/benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

use sagestack_cloudformation::*;
use sagestack_engine::MemoryStore;

/// `n` resources cycling through S3 bucket, SQS queue, SNS topic, IAM role and SSM
/// parameter; every parameter reads the four resources before it (`Ref`, `Fn::GetAtt`,
/// `Fn::Sub`), so there is dependency structure. `version` 2 changes a property of every
/// queue, topic and parameter in place (none of them is create-only).
pub fn template(n: usize, version: u32) -> String {
    let mut resources = Map::new();
    for i in 0..n {
        let (ty, props): (&str, Value) = match i % 5 {
            0 => ("AWS::S3::Bucket", json!({})),
            1 => (
                "AWS::SQS::Queue",
                json!({"VisibilityTimeout": 30 * version}),
            ),
            2 => (
                "AWS::SNS::Topic",
                json!({"DisplayName": format!("topic {i} v{version}")}),
            ),
            3 => (
                "AWS::IAM::Role",
                json!({"AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]
                }}),
            ),
            _ => (
                "AWS::SSM::Parameter",
                json!({
                    "Type": "String",
                    "Name": {"Fn::Sub": format!("/${{AWS::StackName}}/p{i}")},
                    "Value": {"Fn::Sub": format!(
                        "v{version}|${{R{}}}|${{R{}.Arn}}|${{R{}}}|${{R{}.Arn}}",
                        i - 4, i - 3, i - 2, i - 1
                    )},
                }),
            ),
        };
        resources.insert(format!("R{i}"), json!({"Type": ty, "Properties": props}));
    }
    serde_json::to_string_pretty(&json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("sagestack benchmark stack, {n} resources"),
        "Resources": resources,
    }))
    .unwrap()
}

fn service() -> CloudFormationService {
    CloudFormationService::new(ServiceConfig::new(
        "us-east-1",
        "123456789012",
        Arc::new(MemoryStore::new()),
    ))
    .unwrap()
}

fn caps() -> Vec<String> {
    vec!["CAPABILITY_IAM".into()]
}

async fn create(s: &CloudFormationService, body: &str) -> String {
    let st = s
        .create_stack_and_wait(CreateStackInput {
            stack_name: "bench".into(),
            template_body: body.into(),
            capabilities: caps(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(st.status, StackStatus::CreateComplete);
    st.stack_id
}

async fn update(s: &CloudFormationService, id: &str, body: &str) {
    let st = s
        .update_stack_and_wait(UpdateStackInput {
            stack_name: id.into(),
            template_body: Some(body.into()),
            capabilities: caps(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(st.status, StackStatus::UpdateComplete);
}

async fn delete(s: &CloudFormationService, id: &str) {
    let st = s.delete_stack_and_wait(id).await.unwrap().unwrap();
    assert_eq!(st.status, StackStatus::DeleteComplete);
}

/// The time of `op` alone over `iters` fresh services, each first readied by `setup`
/// (not timed): the create, update and delete benchmarks differ only in those two steps.
async fn timed<T>(
    iters: u64,
    setup: impl AsyncFn(&CloudFormationService) -> T,
    op: impl AsyncFn(&CloudFormationService, T),
) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let s = service();
        let ready = setup(&s).await;
        let start = Instant::now();
        op(&s, ready).await;
        total += start.elapsed();
    }
    total
}

fn bench(c: &mut Criterion) {
    if let Ok(dir) = std::env::var("SAGESTACK_BENCH_TEMPLATES") {
        std::fs::create_dir_all(&dir).unwrap();
        for n in support::SIZES {
            for v in [1, 2] {
                std::fs::write(format!("{dir}/stack-{n}-v{v}.json"), template(n, v)).unwrap();
            }
        }
    }
    let rt = support::runtime();
    let mut group = support::group(c, "cfn");
    for n in support::SIZES {
        let v1 = Arc::new(template(n, 1));
        let v2 = Arc::new(template(n, 2));
        group.bench_with_input(BenchmarkId::new("create", n), &n, |b, _| {
            let v1 = v1.clone();
            b.to_async(&rt).iter_custom(move |iters| {
                let v1 = v1.clone();
                async move {
                    let op = async |s: &CloudFormationService, ()| {
                        create(s, &v1).await;
                    };
                    timed(iters, async |_| {}, op).await
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("update", n), &n, |b, _| {
            let (v1, v2) = (v1.clone(), v2.clone());
            b.to_async(&rt).iter_custom(move |iters| {
                let (v1, v2) = (v1.clone(), v2.clone());
                async move {
                    let setup = async |s: &CloudFormationService| create(s, &v1).await;
                    let op =
                        async |s: &CloudFormationService, id: String| update(s, &id, &v2).await;
                    timed(iters, setup, op).await
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("delete", n), &n, |b, _| {
            let v1 = v1.clone();
            b.to_async(&rt).iter_custom(move |iters| {
                let v1 = v1.clone();
                async move {
                    let setup = async |s: &CloudFormationService| create(s, &v1).await;
                    let op = async |s: &CloudFormationService, id: String| delete(s, &id).await;
                    timed(iters, setup, op).await
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
