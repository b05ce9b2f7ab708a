//! Stack create / update / delete throughput with an in-memory store and a provider that
//! does nothing, so what is measured is the engine itself: scheduling, plan resolution,
//! record writes and events. Each iteration gets a fresh engine and store; only the
//! operation (from the call to its terminal status) is timed.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

use sagestack_engine::*;

/// Creates, updates and deletes instantly.
#[derive(Default)]
struct NullProvider(AtomicU64);

#[async_trait]
impl ResourceProvider for NullProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        Some(TypeInfo {
            type_name: type_name.to_string(),
            create_only_properties: vec!["Name".into()],
            ..TypeInfo::default()
        })
    }
    async fn create(
        &self,
        ctx: &ResourceContext,
        _: &Value,
    ) -> Result<ResourceState, ProviderError> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), json!(format!("arn:bench:{n}")));
        Ok(ResourceState {
            physical_id: format!("{}-{n}", ctx.logical_id),
            attributes,
        })
    }
    async fn update(
        &self,
        _: &ResourceContext,
        current: &ResourceState,
        _: &Value,
        _: &Value,
    ) -> Result<ResourceState, ProviderError> {
        Ok(current.clone())
    }
    async fn delete(
        &self,
        _: &ResourceContext,
        _: &ResourceState,
        _: &Value,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn read(
        &self,
        _: &ResourceContext,
        current: &ResourceState,
        _: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        Ok(Some(current.clone()))
    }
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
    providers.set_fallback(Arc::new(NullProvider::default()));
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("stack");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for n in [10usize, 100, 500] {
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
