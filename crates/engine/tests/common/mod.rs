//! Test support shared by the integration tests and the benchmark: a tiny template
//! language with its plan ([`plan`]), a configurable provider ([`provider`]), a store that
//! can freeze mid-operation ([`store`]), and a harness around the engine (here).
//!
//! Template (JSON):
//! `{"Resources": {"A": {"Type": "Test::R", "DependsOn": [..], "Properties": {..},
//!   "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}},
//!   "Outputs": {"O": {"Value": "..", "Export": ".."}}, "NoEcho": ["P"]}`
//! Inside strings, `{{Ref:A}}`, `{{GetAtt:A.Arn}}`, `{{Param:P}}` and `{{Import:N}}` are
//! substituted; `Ref`/`GetAtt` also make the resource a dependency.
#![allow(dead_code)]

mod plan;
mod provider;
mod store;

// Each test binary uses its own part of the support.
#[allow(unused_imports)]
pub use {plan::*, provider::*, store::*};

use std::sync::Arc;

use serde_json::{Map, Value, json};

use sagestack_engine::*;

pub struct Harness {
    pub store: Arc<MemoryStore>,
    pub provider: Arc<TestProvider>,
    pub engine: Engine,
}

/// An engine over `store` and `provider` with the test plans and a ticking fake clock.
/// Calls answer as soon as their operation has started (`settle_within` zero): these tests
/// drive operations step by step; `settle.rs` tests the waiting.
fn engine_with(
    store: Arc<dyn StackStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
    ids: Arc<dyn IdGenerator>,
) -> Engine {
    engine_settling(store, provider, parallel, ids, std::time::Duration::ZERO)
}

/// [`engine_with`], the calls waiting up to `settle_within` for local operations.
pub fn engine_settling(
    store: Arc<dyn StackStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
    ids: Arc<dyn IdGenerator>,
    settle_within: std::time::Duration,
) -> Engine {
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(provider);
    let mut config = EngineConfig::new("us-east-1", "123456789012");
    config.max_parallel = parallel;
    config.settle_within = settle_within;
    let mut parts = EngineParts::new(config, store, providers, Arc::new(TestPlans));
    parts.clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 1));
    parts.ids = ids;
    Engine::new(parts)
}

/// An engine over `store` whose stack claims are `claims` (another process's claims
/// are simulated by the test); calls answer as soon as their operation has started.
pub fn engine_claiming(
    store: Arc<dyn StackStore>,
    provider: Arc<TestProvider>,
    claims: Arc<dyn claims::Claims>,
) -> Engine {
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(provider);
    let mut config = EngineConfig::new("us-east-1", "123456789012");
    config.settle_within = std::time::Duration::ZERO;
    let mut parts = EngineParts::new(config, store, providers, Arc::new(TestPlans));
    parts.clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 1));
    parts.ids = Arc::new(RandomIds);
    parts.claims = claims;
    Engine::new(parts)
}

/// An engine with sequential ids, each engine its own range: a test that restarts the
/// engine over the same store must not reuse event or stack ids.
pub fn engine_over(
    store: Arc<MemoryStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
) -> Engine {
    static ENGINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = ENGINES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let ids = Arc::new(SequentialIds::starting_at(nth << 32));
    engine_with(store, provider, parallel, ids)
}

/// An engine over any store, with random ids.
pub fn engine_over_store(
    store: Arc<dyn StackStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
) -> Engine {
    engine_with(store, provider, parallel, Arc::new(RandomIds))
}

impl Harness {
    pub fn new() -> Self {
        Self::with_parallel(1)
    }

    pub fn with_parallel(parallel: usize) -> Self {
        let store = Arc::new(MemoryStore::new());
        let provider = TestProvider::new();
        let engine = engine_over(store.clone(), provider.clone(), parallel);
        Self {
            store,
            provider,
            engine,
        }
    }

    pub fn input(name: &str, template: &Value) -> CreateStackInput {
        CreateStackInput {
            stack_name: name.into(),
            template_body: template.to_string(),
            ..Default::default()
        }
    }

    /// An update of `stack` (name or id) to `template`.
    pub fn update_input(stack: &str, template: &Value) -> UpdateStackInput {
        UpdateStackInput {
            stack_name: stack.into(),
            template_body: Some(template.to_string()),
            ..Default::default()
        }
    }

    /// A change set of `kind` to `template`, with nothing else set.
    pub fn change_set_input(
        stack: &str,
        name: &str,
        kind: ChangeSetType,
        template: &Value,
    ) -> CreateChangeSetInput {
        CreateChangeSetInput {
            stack_name: stack.into(),
            change_set_name: name.into(),
            change_set_type: kind,
            template_body: Some(template.to_string()),
            parameters: Default::default(),
            capabilities: vec![],
            tags: None,
            notification_arns: vec![],
            description: None,
            role_arn: None,
        }
    }

    /// Starts a create (that must be accepted) and returns the stack id without waiting.
    pub async fn start_create(&self, name: &str, template: &Value) -> String {
        start_create_on(&self.engine, name, template).await
    }

    /// Creates and waits for the stack to settle.
    pub async fn create(&self, name: &str, template: &Value) -> StackRecord {
        create_on(&self.engine, name, template).await
    }

    /// Why a create is refused (it must be).
    pub async fn create_refused(&self, name: &str, template: &Value) -> EngineError {
        self.engine
            .create_stack(Self::input(name, template))
            .await
            .unwrap_err()
    }

    /// Creates a change set of `kind` to `template`.
    pub async fn create_change_set(
        &self,
        stack: &str,
        name: &str,
        kind: ChangeSetType,
        template: &Value,
    ) -> Result<ChangeSetIds, EngineError> {
        self.engine
            .create_change_set(Self::change_set_input(stack, name, kind, template))
            .await
    }

    /// The change set (by ARN, or by name within `stack`), which must exist.
    pub async fn change_set(&self, change_set: &str, stack: Option<&str>) -> ChangeSetRecord {
        self.engine
            .describe_change_set(change_set, stack)
            .await
            .unwrap()
    }

    /// Starts an update and returns the stack id without waiting.
    pub async fn start_update(&self, stack: &str, template: &Value) -> Result<String, EngineError> {
        self.engine
            .update_stack(Self::update_input(stack, template))
            .await
    }

    pub async fn update(&self, stack: &str, template: &Value) -> Result<StackRecord, EngineError> {
        let id = self.start_update(stack, template).await?;
        Ok(self.engine.wait_for_terminal(&id).await.unwrap())
    }

    pub async fn delete(&self, stack: &str) -> StackRecord {
        delete_on(&self.engine, stack).await
    }

    /// The stack's current status (by id, so deleted stacks too).
    pub async fn status(&self, stack: &str) -> StackStatus {
        self.engine.describe_stack(stack).await.unwrap().status
    }

    /// Events oldest first as `"<logical id> <status>"`, with ` (<reason>)` when present.
    pub async fn events(&self, stack_id: &str) -> Vec<String> {
        events_of(&self.engine, stack_id).await
    }

    /// Asserts that the events of `stack_id` include `line`.
    pub async fn assert_event(&self, stack_id: &str, line: &str) {
        let ev = self.events(stack_id).await;
        assert!(ev.iter().any(|e| e == line), "{line} not in {ev:#?}");
    }

    /// Events from the `n`-th (0-based) onward.
    pub async fn events_since(&self, stack_id: &str, n: usize) -> Vec<String> {
        self.events(stack_id).await.split_off(n)
    }

    pub async fn resource(&self, stack_id: &str, logical_id: &str) -> ResourceRecord {
        self.engine
            .list_stack_resources(stack_id)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.logical_id == logical_id)
            .expect("resource")
    }

    /// The logical ids of the stack's resources, in order.
    pub async fn logical_ids(&self, stack: &str) -> Vec<String> {
        self.engine
            .list_stack_resources(stack)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.logical_id)
            .collect()
    }

    /// The physical ids that exist at the provider for `logical_id`.
    pub fn physical(&self, logical_id: &str) -> Vec<String> {
        self.provider
            .live()
            .into_iter()
            .filter(|(_, l)| l == logical_id)
            .map(|(p, _)| p)
            .collect()
    }
}

/// Starts a create on `engine` (it must be accepted); the stack id, without waiting.
pub async fn start_create_on(engine: &Engine, name: &str, template: &Value) -> String {
    engine
        .create_stack(Harness::input(name, template))
        .await
        .expect("create_stack accepted")
}

/// Creates on `engine` and waits for the stack to settle.
pub async fn create_on(engine: &Engine, name: &str, template: &Value) -> StackRecord {
    let id = start_create_on(engine, name, template).await;
    engine.wait_for_terminal(&id).await.unwrap()
}

/// Deletes `stack` (it must exist) on `engine` and waits for it to settle.
pub async fn delete_on(engine: &Engine, stack: &str) -> StackRecord {
    let id = engine
        .delete_stack(stack, vec![])
        .await
        .unwrap()
        .expect("stack exists");
    engine.wait_for_terminal(&id).await.unwrap()
}

pub async fn events_of(engine: &Engine, stack_id: &str) -> Vec<String> {
    let mut all = engine.stack_events(stack_id, None, 100_000).await.unwrap();
    all.reverse();
    all.into_iter()
        .map(|e| match e.resource_status_reason {
            Some(r) => format!("{} {} ({})", e.logical_resource_id, e.resource_status, r),
            None => format!("{} {}", e.logical_resource_id, e.resource_status),
        })
        .collect()
}

/// Asserts that every resource of `stack` is settled (no update pending) with property
/// `key` at `value`, in its record and at the provider: what a rollback restores.
pub async fn assert_settled_at(
    engine: &Engine,
    provider: &TestProvider,
    stack: &str,
    key: &str,
    value: &Value,
) {
    for r in engine.list_stack_resources(stack).await.unwrap() {
        assert_eq!(&r.properties[key], value, "{} recorded", r.logical_id);
        assert_eq!(r.prior, None, "{} settled", r.logical_id);
        let live = provider
            .live_properties(r.physical_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(&live[key], value, "{} at the provider", r.logical_id);
    }
}

/// A chain `A <- B <- C ...`: each resource references the previous one.
pub fn chain(ids: &[&str]) -> Value {
    let mut resources = Map::new();
    let mut prev: Option<&str> = None;
    for id in ids {
        let props = match prev {
            Some(p) => json!({"Parent": format!("{{{{Ref:{p}}}}}")}),
            None => json!({}),
        };
        resources.insert(
            id.to_string(),
            json!({"Type": "Test::R", "Properties": props}),
        );
        prev = Some(id);
    }
    json!({ "Resources": resources })
}

/// `A <- B` with A's create-only `Name` set: changing `name` replaces A.
pub fn named_chain(name: &str) -> Value {
    let mut t = chain(&["A", "B"]);
    t["Resources"]["A"]["Properties"] = json!({ "Name": name });
    t
}

/// The events of `id`'s create.
pub fn created(id: &str) -> Vec<String> {
    vec![
        format!("{id} CREATE_IN_PROGRESS"),
        format!("{id} CREATE_IN_PROGRESS (Resource creation Initiated)"),
        format!("{id} CREATE_COMPLETE"),
    ]
}

/// The events of `id`'s update in place (or its restore in a rollback).
pub fn updated(id: &str) -> Vec<String> {
    vec![
        format!("{id} UPDATE_IN_PROGRESS"),
        format!("{id} UPDATE_COMPLETE"),
    ]
}

/// The events of `id`'s replacement by an update.
pub fn replaced(id: &str) -> Vec<String> {
    vec![
        format!(
            "{id} UPDATE_IN_PROGRESS (Requested update requires the creation of a new physical resource; hence creating one.)"
        ),
        format!("{id} UPDATE_IN_PROGRESS (Resource creation Initiated)"),
        format!("{id} UPDATE_COMPLETE"),
    ]
}

/// The events of `id`'s delete.
pub fn deleted(id: &str) -> Vec<String> {
    vec![
        format!("{id} DELETE_IN_PROGRESS"),
        format!("{id} DELETE_COMPLETE"),
    ]
}

/// Convenience to build `["A CREATE_IN_PROGRESS", ...]` expectations.
pub fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}
