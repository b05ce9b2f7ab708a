//! Test support shared by the integration tests and the benchmark: a tiny template
//! language with its plan, a configurable provider, and a harness around the engine.
//!
//! Template (JSON):
//! `{"Resources": {"A": {"Type": "Test::R", "DependsOn": [..], "Properties": {..},
//!   "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}},
//!   "Outputs": {"O": {"Value": "..", "Export": ".."}}, "NoEcho": ["P"]}`
//! Inside strings, `{{Ref:A}}`, `{{GetAtt:A.Arn}}`, `{{Param:P}}` and `{{Import:N}}` are
//! substituted; `Ref`/`GetAtt` also make the resource a dependency.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use sagestack_engine::*;

// ---------------------------------------------------------------------------------
// Plan

pub struct TestPlan {
    resources: Vec<PlannedResource>,
    properties: HashMap<String, Value>,
    outputs: Vec<(String, Value, Option<String>)>,
    parameters: BTreeMap<String, String>,
    no_echo: HashSet<String>,
    description: Option<String>,
}

fn policy(v: Option<&Value>) -> Policy {
    match v.and_then(Value::as_str) {
        Some("Retain") => Policy::Retain,
        Some("RetainExceptOnCreate") => Policy::RetainExceptOnCreate,
        Some("Snapshot") => Policy::Snapshot,
        _ => Policy::Delete,
    }
}

/// Every `{{kind:arg}}` in the strings of `v`.
fn tokens(v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(a) = rest.find("{{") {
                let Some(b) = rest[a..].find("}}") else { break };
                let inner = &rest[a + 2..a + b];
                if let Some((k, arg)) = inner.split_once(':') {
                    out.push((k.to_string(), arg.to_string()));
                }
                rest = &rest[a + b + 2..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| tokens(x, out)),
        Value::Object(o) => o.values().for_each(|x| tokens(x, out)),
        _ => {}
    }
}

impl TestPlan {
    fn substitute(&self, v: &Value, lookup: &dyn ResourceLookup) -> Result<Value, ResolveError> {
        Ok(match v {
            Value::String(s) => {
                let mut toks = Vec::new();
                tokens(v, &mut toks);
                let mut out = s.clone();
                for (k, arg) in toks {
                    let val = match k.as_str() {
                        "Ref" => lookup.physical_id(&arg),
                        "GetAtt" => {
                            let (r, a) = arg.split_once('.').unwrap_or((&arg, ""));
                            lookup.attribute(r, a).map(|v| match v {
                                Value::String(s) => s,
                                other => other.to_string(),
                            })
                        }
                        "Param" => self.parameters.get(&arg).cloned(),
                        "Import" => match lookup.import_value(&arg) {
                            Some(v) => Some(v),
                            None => {
                                return Err(ResolveError {
                                    message: format!("No export named {arg} found."),
                                });
                            }
                        },
                        _ => None,
                    };
                    let val = val.ok_or_else(|| ResolveError {
                        message: format!(
                            "Unresolved resource dependencies [{arg}] in the Resources block of the template"
                        ),
                    })?;
                    out = out.replace(&format!("{{{{{k}:{arg}}}}}"), &val);
                }
                Value::String(out)
            }
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.substitute(x, lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.substitute(x, lookup)?)))
                    .collect::<Result<Map<_, _>, ResolveError>>()?,
            ),
            other => other.clone(),
        })
    }
}

impl TemplatePlan for TestPlan {
    fn resources(&self) -> &[PlannedResource] {
        &self.resources
    }

    fn resolve_properties(
        &self,
        logical_id: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Value, ResolveError> {
        let props = self
            .properties
            .get(logical_id)
            .cloned()
            .unwrap_or_else(|| json!({}));
        self.substitute(&props, lookup)
    }

    fn resolve_outputs(
        &self,
        lookup: &dyn ResourceLookup,
    ) -> Result<Vec<ResolvedOutput>, ResolveError> {
        self.outputs
            .iter()
            .map(|(k, v, export)| {
                let value = match self.substitute(v, lookup)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                Ok(ResolvedOutput {
                    key: k.clone(),
                    value,
                    description: None,
                    export_name: export.clone(),
                })
            })
            .collect()
    }

    fn imports(&self) -> Vec<String> {
        let mut toks = Vec::new();
        for p in self.properties.values() {
            tokens(p, &mut toks);
        }
        for (_, v, _) in &self.outputs {
            tokens(v, &mut toks);
        }
        let mut out: Vec<String> = toks
            .into_iter()
            .filter(|(k, _)| k == "Import")
            .map(|(_, a)| a)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn displayed_parameters(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .map(|(k, v)| {
                let shown = if self.no_echo.contains(k) {
                    "****".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }

    fn description(&self) -> Option<String> {
        self.description.clone()
    }
}

pub struct TestPlans;

impl PlanFactory for TestPlans {
    fn plan(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        _identity: &StackIdentity,
    ) -> Result<Arc<dyn TemplatePlan>, Vec<PlanDiagnostic>> {
        let diag = |m: String| {
            vec![PlanDiagnostic {
                code: "Format".into(),
                message: m,
                line: None,
                column: None,
            }]
        };
        let t: Value =
            serde_json::from_str(body).map_err(|e| diag(format!("Template format error: {e}")))?;
        let mut resources = Vec::new();
        let mut properties = HashMap::new();
        for (id, r) in t["Resources"].as_object().cloned().unwrap_or_default() {
            let props = r.get("Properties").cloned().unwrap_or_else(|| json!({}));
            let mut deps: Vec<String> = r
                .get("DependsOn")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            let mut toks = Vec::new();
            tokens(&props, &mut toks);
            for (k, arg) in toks {
                let target = match k.as_str() {
                    "Ref" => arg,
                    "GetAtt" => arg.split('.').next().unwrap_or_default().to_string(),
                    _ => continue,
                };
                if !deps.contains(&target) {
                    deps.push(target);
                }
            }
            resources.push(PlannedResource {
                logical_id: id.clone(),
                resource_type: r["Type"].as_str().unwrap_or("Test::R").to_string(),
                depends_on: deps,
                deletion_policy: policy(r.get("DeletionPolicy")),
                update_replace_policy: policy(r.get("UpdateReplacePolicy")),
            });
            properties.insert(id, props);
        }
        let outputs = t["Outputs"]
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, o)| {
                (
                    k,
                    o["Value"].clone(),
                    o.get("Export").and_then(Value::as_str).map(String::from),
                )
            })
            .collect();
        let no_echo = t["NoEcho"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Arc::new(TestPlan {
            resources,
            properties,
            outputs,
            parameters: parameters.clone(),
            no_echo,
            description: t["Description"].as_str().map(String::from),
        }))
    }
}

// ---------------------------------------------------------------------------------
// Provider

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Create,
    Update,
    Delete,
}

#[derive(Default)]
struct ProviderState {
    counter: u64,
    /// physical id -> (logical id, properties)
    live: BTreeMap<String, (String, Value)>,
    calls: Vec<(Op, String, String)>,
    fail: HashSet<(String, Op)>,
    fail_once: HashSet<(String, Op)>,
    block: HashSet<(String, Op)>,
    delays: HashMap<String, u64>,
    running: usize,
    max_running: usize,
    starts: Vec<(String, Op, Duration)>,
    ends: Vec<(String, Op, Duration)>,
}

/// A provider for `Test::*` and `AWS::IAM::*` types that remembers what exists.
/// `Test::R` has the create-only property `Name`.
pub struct TestProvider {
    state: Mutex<ProviderState>,
    epoch: tokio::time::Instant,
    pub blocked: tokio::sync::Notify,
    /// Reported by `keeps_state` (negated): the engine's stateless fast path.
    stateless: std::sync::atomic::AtomicBool,
    /// Reported by `effects_outside_store`.
    outside: std::sync::atomic::AtomicBool,
}

impl Default for TestProvider {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            epoch: tokio::time::Instant::now(),
            blocked: tokio::sync::Notify::new(),
            stateless: false.into(),
            outside: false.into(),
        }
    }
}

impl TestProvider {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Makes `keeps_state` answer `false`, as a provider that only computes would.
    pub fn set_stateless(&self, on: bool) {
        self.stateless
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
    /// Makes `effects_outside_store` answer `true`, as a webhook-backed provider would.
    pub fn set_outside(&self, on: bool) {
        self.outside.store(on, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn fail_on(&self, logical_id: &str, op: Op) {
        self.state
            .lock()
            .unwrap()
            .fail
            .insert((logical_id.into(), op));
    }
    /// Fails the next such call only.
    pub fn fail_once_on(&self, logical_id: &str, op: Op) {
        self.state
            .lock()
            .unwrap()
            .fail_once
            .insert((logical_id.into(), op));
    }
    pub fn clear_failures(&self) {
        self.state.lock().unwrap().fail.clear();
    }
    pub fn clear_blocks(&self) {
        self.state.lock().unwrap().block.clear();
    }
    /// The call never returns (until the engine is dropped).
    pub fn block_on(&self, logical_id: &str, op: Op) {
        self.state
            .lock()
            .unwrap()
            .block
            .insert((logical_id.into(), op));
    }
    pub fn delay(&self, logical_id: &str, ms: u64) {
        self.state
            .lock()
            .unwrap()
            .delays
            .insert(logical_id.into(), ms);
    }
    /// Physical id -> logical id of everything that exists.
    pub fn live(&self) -> BTreeMap<String, String> {
        self.state
            .lock()
            .unwrap()
            .live
            .iter()
            .map(|(p, (l, _))| (p.clone(), l.clone()))
            .collect()
    }
    pub fn live_properties(&self, physical_id: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .live
            .get(physical_id)
            .map(|(_, p)| p.clone())
    }
    /// `(op, logical id, physical id)` in call order (physical empty for creates).
    pub fn calls(&self) -> Vec<(Op, String, String)> {
        self.state.lock().unwrap().calls.clone()
    }
    pub fn max_running(&self) -> usize {
        self.state.lock().unwrap().max_running
    }
    /// When the `op` call for `logical_id` started, from the provider's creation.
    pub fn start_of(&self, logical_id: &str, op: Op) -> Duration {
        let s = self.state.lock().unwrap();
        s.starts
            .iter()
            .find(|(l, o, _)| l == logical_id && *o == op)
            .map(|x| x.2)
            .expect("started")
    }
    pub fn end_of(&self, logical_id: &str, op: Op) -> Duration {
        let s = self.state.lock().unwrap();
        s.ends
            .iter()
            .find(|(l, o, _)| l == logical_id && *o == op)
            .map(|x| x.2)
            .expect("ended")
    }
    pub fn reset_concurrency(&self) {
        self.state.lock().unwrap().max_running = 0;
    }

    /// Common prologue: record the call, honour blocks, delays and failures.
    async fn enter(&self, op: Op, lid: &str, physical: &str) -> Result<(), ProviderError> {
        let (block, delay, fail) = {
            let mut s = self.state.lock().unwrap();
            s.calls.push((op, lid.to_string(), physical.to_string()));
            s.running += 1;
            s.max_running = s.max_running.max(s.running);
            let at = self.epoch.elapsed();
            s.starts.push((lid.to_string(), op, at));
            let key = (lid.to_string(), op);
            (
                s.block.contains(&key),
                s.delays.get(lid).copied().unwrap_or(0),
                s.fail.contains(&key) || s.fail_once.remove(&key),
            )
        };
        if block {
            self.blocked.notify_one();
            std::future::pending::<()>().await;
        }
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let mut s = self.state.lock().unwrap();
        s.running -= 1;
        let at = self.epoch.elapsed();
        s.ends.push((lid.to_string(), op, at));
        if fail {
            return Err(ProviderError::InvalidRequest(format!(
                "{lid} failed on purpose"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceProvider for TestProvider {
    fn effects_outside_store(&self, _type_name: &str) -> bool {
        self.outside.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn keeps_state(&self, _type_name: &str) -> bool {
        !self.stateless.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (type_name.starts_with("Test::") || type_name.starts_with("AWS::IAM::")).then(|| TypeInfo {
            type_name: type_name.to_string(),
            create_only_properties: vec!["Name".into()],
            attributes: vec!["Arn".into()],
            taggable: false,
        })
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        self.enter(Op::Create, &ctx.logical_id, "").await?;
        let mut s = self.state.lock().unwrap();
        s.counter += 1;
        let physical = format!("{}-{}", ctx.logical_id, s.counter);
        s.live.insert(
            physical.clone(),
            (ctx.logical_id.clone(), properties.clone()),
        );
        let mut attributes = Map::new();
        attributes.insert("Arn".into(), json!(format!("arn:test:{physical}")));
        Ok(ResourceState {
            physical_id: physical,
            attributes,
        })
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old: &Value,
        new: &Value,
    ) -> Result<ResourceState, ProviderError> {
        self.enter(Op::Update, &ctx.logical_id, &current.physical_id)
            .await?;
        let mut s = self.state.lock().unwrap();
        match s.live.get_mut(&current.physical_id) {
            Some(entry) => entry.1 = new.clone(),
            None => {
                return Err(ProviderError::NotFound(format!(
                    "{} not found",
                    current.physical_id
                )));
            }
        }
        Ok(current.clone())
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<(), ProviderError> {
        self.enter(Op::Delete, &ctx.logical_id, &current.physical_id)
            .await?;
        self.state.lock().unwrap().live.remove(&current.physical_id);
        Ok(())
    }

    async fn read(
        &self,
        _ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let s = self.state.lock().unwrap();
        Ok(s.live
            .contains_key(&current.physical_id)
            .then(|| current.clone()))
    }
}

// ---------------------------------------------------------------------------------
// Harness

pub struct Harness {
    pub store: Arc<MemoryStore>,
    pub provider: Arc<TestProvider>,
    pub engine: Engine,
}

pub fn engine_over(
    store: Arc<MemoryStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
) -> Engine {
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(provider);
    let mut config = EngineConfig::new("us-east-1", "123456789012");
    config.max_parallel = parallel;
    let mut parts = EngineParts::new(config, store, providers, Arc::new(TestPlans));
    parts.clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 1));
    // Each engine gets its own id range: a test that restarts the engine over the same
    // store must not reuse event or stack ids.
    static ENGINES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nth = ENGINES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    parts.ids = Arc::new(SequentialIds::starting_at(nth << 32));
    Engine::new(parts)
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

    /// Creates and waits for the stack to settle.
    pub async fn create(&self, name: &str, template: &Value) -> StackRecord {
        let id = self
            .engine
            .create_stack(Self::input(name, template))
            .await
            .expect("create_stack accepted");
        self.engine.wait_for_terminal(&id).await.unwrap()
    }

    pub async fn update(&self, stack: &str, template: &Value) -> Result<StackRecord, EngineError> {
        let id = self
            .engine
            .update_stack(UpdateStackInput {
                stack_name: stack.into(),
                template_body: Some(template.to_string()),
                ..Default::default()
            })
            .await?;
        Ok(self.engine.wait_for_terminal(&id).await.unwrap())
    }

    pub async fn delete(&self, stack: &str) -> StackRecord {
        let id = self
            .engine
            .delete_stack(stack, vec![])
            .await
            .unwrap()
            .expect("stack exists");
        self.engine.wait_for_terminal(&id).await.unwrap()
    }

    /// Events oldest first as `"<logical id> <status>"`, with ` (<reason>)` when present.
    pub async fn events(&self, stack_id: &str) -> Vec<String> {
        events_of(&self.engine, stack_id).await
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

/// Convenience to build `["A CREATE_IN_PROGRESS", ...]` expectations.
pub fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------
// A store that can freeze at its n-th write, to crash an operation between any two steps.

pub struct FreezingStore {
    pub inner: MemoryStore,
    writes: std::sync::atomic::AtomicUsize,
    freeze_at: std::sync::atomic::AtomicUsize,
    pub frozen: tokio::sync::Notify,
    /// Every write ("write" or "write deferred", see `durability`) and "sync", in order.
    pub log: Mutex<Vec<&'static str>>,
}

impl FreezingStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(),
            writes: 0.into(),
            freeze_at: usize::MAX.into(),
            frozen: tokio::sync::Notify::new(),
            log: Mutex::new(Vec::new()),
        })
    }
    /// The `n`-th write from now (1-based) never completes (and is not applied).
    pub fn freeze_at(&self, n: usize) {
        use std::sync::atomic::Ordering::SeqCst;
        self.freeze_at.store(self.writes.load(SeqCst) + n, SeqCst);
    }
    pub fn thaw(&self) {
        self.freeze_at
            .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn writes(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }
    async fn write(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.log
            .lock()
            .unwrap()
            .push(if sagestack_engine::durability::is_deferred() {
                "write deferred"
            } else {
                "write"
            });
        let n = self.writes.fetch_add(1, SeqCst) + 1;
        if n == self.freeze_at.load(SeqCst) {
            self.frozen.notify_one();
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl StackStore for FreezingStore {
    async fn sync(&self) -> Result<(), StoreError> {
        self.log.lock().unwrap().push("sync");
        Ok(())
    }
    async fn put_stack(&self, s: &StackRecord, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await;
        self.inner.put_stack(s, e).await
    }
    async fn put_stack_if(
        &self,
        s: &StackRecord,
        e: &[StackEvent],
        expected: u64,
    ) -> Result<bool, StoreError> {
        self.write().await;
        self.inner.put_stack_if(s, e, expected).await
    }
    async fn get_stack(&self, id: &str) -> Result<Option<StackRecord>, StoreError> {
        self.inner.get_stack(id).await
    }
    async fn list_stacks(&self) -> Result<Vec<StackRecord>, StoreError> {
        self.inner.list_stacks().await
    }
    async fn put_resource(&self, r: &ResourceRecord, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await;
        self.inner.put_resource(r, e).await
    }
    async fn delete_resource(&self, s: &str, l: &str) -> Result<(), StoreError> {
        self.write().await;
        self.inner.delete_resource(s, l).await
    }
    async fn list_resources(&self, s: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        self.inner.list_resources(s).await
    }
    async fn append_events(&self, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await;
        self.inner.append_events(e).await
    }
    async fn list_events(
        &self,
        s: &str,
        b: Option<u64>,
        l: usize,
    ) -> Result<Vec<StackEvent>, StoreError> {
        self.inner.list_events(s, b, l).await
    }
    async fn put_change_set(&self, c: &ChangeSetRecord) -> Result<(), StoreError> {
        self.write().await;
        self.inner.put_change_set(c).await
    }
    async fn get_change_set(&self, id: &str) -> Result<Option<ChangeSetRecord>, StoreError> {
        self.inner.get_change_set(id).await
    }
    async fn list_change_sets(&self, s: &str) -> Result<Vec<ChangeSetRecord>, StoreError> {
        self.inner.list_change_sets(s).await
    }
    async fn delete_change_set(&self, id: &str) -> Result<(), StoreError> {
        self.write().await;
        self.inner.delete_change_set(id).await
    }
    async fn put_exports(&self, s: &str, e: &[ExportRecord]) -> Result<(), StoreError> {
        self.write().await;
        self.inner.put_exports(s, e).await
    }
    async fn list_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        self.inner.list_exports().await
    }
}

pub fn engine_over_store(
    store: Arc<dyn StackStore>,
    provider: Arc<TestProvider>,
    parallel: usize,
) -> Engine {
    let mut providers = ProviderRegistry::new();
    providers.set_fallback(provider);
    let mut config = EngineConfig::new("us-east-1", "123456789012");
    config.max_parallel = parallel;
    let mut parts = EngineParts::new(config, store, providers, Arc::new(TestPlans));
    parts.clock = Arc::new(FakeClock::ticking(1_700_000_000_000, 1));
    parts.ids = Arc::new(RandomIds);
    Engine::new(parts)
}
