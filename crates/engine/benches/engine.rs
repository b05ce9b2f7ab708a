//! Stack create / update / delete throughput with an in-memory store and a provider that
//! does nothing, so what is measured is the engine itself: scheduling, plan resolution,
//! record writes and events. Each iteration gets a fresh engine and store; only the
//! operation (from the call to its terminal status) is timed.

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, json};

use sagestack_engine::provider::{RecordOnlyProvider, kit};
use sagestack_engine::*;

/// Creates, updates and deletes instantly.
fn null_provider() -> RecordOnlyProvider {
    let created = AtomicU64::new(0);
    RecordOnlyProvider::new(
        |type_name| Some(kit::type_info(type_name, &["Name"], &[], false)),
        move |ctx, _| {
            let n = created.fetch_add(1, Ordering::Relaxed);
            kit::state(
                format!("{}-{n}", ctx.logical_id),
                [("Arn", json!(format!("arn:bench:{n}")))],
            )
        },
    )
}

/// `n` resources shaped as a binary tree: resource `i` references resource `(i - 1) / 2`,
/// so there is real dependency structure and plenty of parallelism.
fn template(n: usize, version: u32) -> String {
    let mut resources = Map::new();
    for i in 0..n {
        let mut props = json!({"V": version});
        if i > 0 {
            props["Parent"] = json!(format!("{{{{Ref:R{}}}}}", (i - 1) / 2));
        }
        resources.insert(
            format!("R{i}"),
            json!({"Type": "Bench::R", "Properties": props}),
        );
    }
    json!({ "Resources": resources }).to_string()
}

fn engine() -> Engine {
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(Arc::new(null_provider()));
    let parts = EngineParts::new(
        EngineConfig::new("us-east-1", "123456789012"),
        Arc::new(MemoryStore::new()),
        providers,
        Arc::new(common::TestPlans),
    );
    Engine::new(parts)
}

async fn create(engine: &Engine, n: usize) -> String {
    let id = engine
        .create_stack(CreateStackInput {
            stack_name: "bench".into(),
            template_body: template(n, 1),
            ..Default::default()
        })
        .await
        .unwrap();
    let s = engine.wait_for_terminal(&id).await.unwrap();
    assert_eq!(s.status, StackStatus::CreateComplete);
    id
}

async fn update(engine: &Engine, id: &str, n: usize) {
    engine
        .update_stack(UpdateStackInput {
            stack_name: id.into(),
            template_body: Some(template(n, 2)),
            ..Default::default()
        })
        .await
        .unwrap();
    let s = engine.wait_for_terminal(id).await.unwrap();
    assert_eq!(s.status, StackStatus::UpdateComplete);
}

async fn delete(engine: &Engine, id: &str) {
    engine.delete_stack(id, vec![]).await.unwrap();
    let s = engine.wait_for_terminal(id).await.unwrap();
    assert_eq!(s.status, StackStatus::DeleteComplete);
}

/// The operation a benchmark times.
#[derive(Clone, Copy)]
enum Measured {
    Create,
    Update,
    Delete,
}

impl Measured {
    fn name(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

fn bench(c: &mut Criterion) {
    let rt = support::runtime();
    let mut group = support::group(c, "stack");
    for n in support::SIZES {
        for op in [Measured::Create, Measured::Update, Measured::Delete] {
            group.bench_with_input(BenchmarkId::new(op.name(), n), &n, |b, &n| {
                b.to_async(&rt).iter_custom(|iters| async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let e = engine();
                        // Only the measured operation is timed; what it needs is set up first.
                        let id = match op {
                            Measured::Create => None,
                            _ => Some(create(&e, n).await),
                        };
                        let start = Instant::now();
                        match (op, id) {
                            (Measured::Update, Some(id)) => update(&e, &id, n).await,
                            (Measured::Delete, Some(id)) => delete(&e, &id).await,
                            _ => {
                                create(&e, n).await;
                            }
                        }
                        total += start.elapsed();
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
