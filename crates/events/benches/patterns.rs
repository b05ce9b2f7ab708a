//! The pattern matcher alone: one SageMaker model-package event against 1,000 parsed
//! rules' patterns, scanned one by one and through the rule index (with this mix, where
//! three patterns in five name no `source`, and with a mix where nine rules in ten are
//! keyed by a `source` of their own), and the parse of one pattern.

use criterion::{Criterion, criterion_group, criterion_main};
use sagestack_events::Pattern;
use sagestack_events::index::Index;
use serde_json::{Value, json};

fn patterns(n: usize) -> Vec<Pattern> {
    (0..n)
        .map(|i| {
            let p = match i % 5 {
                0 => json!({"source": [format!("aws.service{i}")]}),
                1 => json!({"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
                            "detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}],
                                       "ModelPackageGroupName": [format!("group-{i}")]}}),
                2 => json!({"detail": {"ModelPackageGroupName": [{"prefix": format!("g{i}")}]}}),
                3 => json!({"detail": {"Score": [{"numeric": [">", i as f64 / 1000.0, "<=", 1]}]}}),
                _ => json!({"$or": [{"account": [format!("{i:012}")]}, {"detail": {"Missing": [{"exists": true}]}}]}),
            };
            Pattern::from_value(&p).expect("valid")
        })
        .collect()
}

fn event() -> Value {
    json!({
        "version": "0", "id": "6a7e8feb", "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker", "account": "123456789012", "time": "2026-12-06T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:sagemaker:us-east-1:123456789012:model-package/group-1/3"],
        "detail": {"ModelPackageGroupName": "group-1", "ModelPackageVersion": 3,
                   "ModelApprovalStatus": "Approved", "Score": 0.5}
    })
}

fn bench(c: &mut Criterion) {
    let rules = patterns(1000);
    let e = event();
    c.bench_function("one event against 1,000 patterns", |b| {
        b.iter(|| {
            rules
                .iter()
                .filter(|p| p.matches(std::hint::black_box(&e)))
                .count()
        })
    });
    let mut index = Index::default();
    for (i, p) in rules.iter().enumerate() {
        index.insert("default", &format!("r{i}"), p.clone());
    }
    c.bench_function("one event through the index of the same 1,000 rules", |b| {
        b.iter(|| index.matching("default", std::hint::black_box(&e)).len())
    });
    let mut keyed = Index::default();
    for i in 0..1000 {
        let p = if i % 10 == 0 {
            json!({"detail": {"Score": [{"numeric": [">", 2]}]}})
        } else if i == 1 {
            json!({"source": ["aws.sagemaker"], "detail-type": ["SageMaker Model Package State Change"],
                   "detail": {"ModelApprovalStatus": [{"anything-but": "PendingManualApproval"}]}})
        } else {
            json!({"source": [format!("app.service{i}")], "detail-type": ["Order Placed"]})
        };
        keyed.insert(
            "default",
            &format!("r{i}"),
            Pattern::from_value(&p).unwrap(),
        );
    }
    c.bench_function(
        "one event through an index of 1,000 rules, 90% keyed by source",
        |b| b.iter(|| keyed.matching("default", std::hint::black_box(&e)).len()),
    );
    let text = r#"{"source":["aws.sagemaker"],"detail-type":["SageMaker Model Package State Change"],"detail":{"ModelApprovalStatus":[{"anything-but":"PendingManualApproval"}]}}"#;
    c.bench_function("parse one pattern", |b| {
        b.iter(|| Pattern::parse(std::hint::black_box(text)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
