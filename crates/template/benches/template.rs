//! Parse + validate + bind + resolve: the whole corpus, its largest template, and a
//! generated 500-resource template. Run with `cargo bench -p sagestack-template`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use sagestack_template::*;
use support::*;

/// Everything a deploy does with a template body, short of provisioning. Parameter
/// values are chosen outside the measurement.
fn full_pipeline(body: &str, params: &BTreeMap<String, String>) -> usize {
    let t = Template::parse(body).expect("parses");
    t.validate().expect("valid");
    let b = t
        .bind(params, &StackContext::example(), Arc::new(FakeEnv))
        .expect("binds");
    let mut n = 0;
    for r in b.resources() {
        n += b
            .resolve_properties(&r.logical_id, &FakeLookup)
            .map(|v| v.as_object().map_or(0, |o| o.len()))
            .unwrap_or(0);
    }
    n + b.resolve_outputs(&FakeLookup).map(|o| o.len()).unwrap_or(0)
}

/// The deployable corpus templates (those the conformance test resolves), each with the
/// parameter set that deploys it.
pub fn deployable_bodies() -> Vec<(String, String, BTreeMap<String, String>)> {
    let Some(root) = corpus_dir() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for sub in ["aws-cloudformation-templates", "cfn-lint-templates/good"] {
        for path in template_files(&root.join(sub)) {
            let body = std::fs::read_to_string(&path).unwrap();
            if let Class::Template(t) = classify(&body)
                && t.validate().is_ok()
                && let Some(p) = parameter_sets(&t)
                    .into_iter()
                    .find(|p| deploy_with(&t, p).is_ok())
            {
                out.push((path.display().to_string(), body, p));
            }
        }
    }
    out
}

/// 500 resources in chains of ten, with `Ref`, `Fn::GetAtt`, `Fn::Sub`, `DependsOn`,
/// conditions and outputs.
pub fn generated_500() -> String {
    let mut s = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Env: {Type: String, Default: prod, AllowedValues: [prod, dev]}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\nResources:\n",
    );
    for i in 0..500 {
        s.push_str(&format!("  R{i}:\n    Type: AWS::SNS::Topic\n    Properties:\n      TopicName: !Sub '${{AWS::StackName}}-${{Env}}-{i}'\n"));
        if i % 10 != 0 {
            let p = i - 1;
            s.push_str(&format!(
                "      Parent: !Ref R{p}\n      ParentArn: !GetAtt R{p}.TopicArn\n      Label: !If [IsProd, !Sub '${{R{p}.TopicName}}-x', !Ref 'AWS::NoValue']\n      Tags: [{{Key: k, Value: !Join ['-', [a, !Select [0, !Split [',', 'x,y']]]]}}]\n"
            ));
        }
        if i >= 10 && i % 10 == 0 {
            s.push_str(&format!("    DependsOn: [R{}]\n", i - 10));
        }
    }
    s.push_str("Outputs:\n");
    for i in (0..500).step_by(10) {
        s.push_str(&format!("  O{i}:\n    Value: !GetAtt R{i}.TopicArn\n    Export: {{Name: !Sub '${{AWS::StackName}}-{i}'}}\n"));
    }
    s
}

fn benches(c: &mut Criterion) {
    let corpus = deployable_bodies();
    if !corpus.is_empty() {
        let total: usize = corpus.iter().map(|(_, b, _)| b.len()).sum();
        eprintln!(
            "corpus: {} deployable templates, {total} bytes",
            corpus.len()
        );
        c.bench_function("corpus_all_deployable", |b| {
            b.iter(|| {
                corpus
                    .iter()
                    .map(|(_, body, p)| full_pipeline(black_box(body), p))
                    .sum::<usize>()
            })
        });
        let (name, largest, lp) = corpus.iter().max_by_key(|(_, b, _)| b.len()).unwrap();
        eprintln!("largest: {name} ({} bytes)", largest.len());
        c.bench_function("corpus_largest", |b| {
            b.iter(|| full_pipeline(black_box(largest), lp))
        });
    }
    let g = generated_500();
    let t = Template::parse(&g).unwrap();
    let b = t
        .bind(
            &Default::default(),
            &StackContext::example(),
            Arc::new(FakeEnv),
        )
        .unwrap();
    assert_eq!(b.resources().len(), 500);
    eprintln!(
        "generated: 500 resources, {} levels, {} bytes",
        b.levels().len(),
        g.len()
    );
    let none = BTreeMap::new();
    c.bench_function("generated_500_resources", |bch| {
        bch.iter(|| full_pipeline(black_box(&g), &none))
    });
}

criterion_group!(template, benches);
criterion_main!(template);
