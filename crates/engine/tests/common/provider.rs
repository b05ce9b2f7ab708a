//! A configurable provider that remembers what exists and can fail, block or delay calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use sagestack_engine::provider::kit;
use sagestack_engine::*;

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
    /// Calls failing once as a service does whose database is unreachable.
    outage_once: HashSet<(String, Op)>,
    block: HashSet<(String, Op)>,
    delays: HashMap<String, u64>,
    running: usize,
    max_running: usize,
    starts: Vec<(String, Op, Duration)>,
    ends: Vec<(String, Op, Duration)>,
    /// The stack tags each create and update was given, per logical id, latest last.
    tags: Vec<(String, Vec<(String, String)>)>,
}

/// When the `op` call for `logical_id` is in `times` (starts or ends).
fn time_of(times: &[(String, Op, Duration)], logical_id: &str, op: Op) -> Option<Duration> {
    times
        .iter()
        .find(|(l, o, _)| l == logical_id && *o == op)
        .map(|x| x.2)
}

/// A provider for `Test::*` and `AWS::IAM::*` types that remembers what exists.
/// `Test::R` has the create-only property `Name`; `Test::Tagged` is taggable.
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
    /// Fails the next such call as a service whose database cannot be reached does.
    pub fn outage_once_on(&self, logical_id: &str, op: Op) {
        self.state
            .lock()
            .unwrap()
            .outage_once
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
        time_of(&self.state.lock().unwrap().starts, logical_id, op).expect("started")
    }
    pub fn end_of(&self, logical_id: &str, op: Op) -> Duration {
        time_of(&self.state.lock().unwrap().ends, logical_id, op).expect("ended")
    }
    /// The stack tags the latest create or update of `logical_id` was given.
    pub fn tags_of(&self, logical_id: &str) -> Option<Vec<(String, String)>> {
        let s = self.state.lock().unwrap();
        s.tags
            .iter()
            .rev()
            .find(|(l, _)| l == logical_id)
            .map(|(_, t)| t.clone())
    }
    pub fn reset_concurrency(&self) {
        self.state.lock().unwrap().max_running = 0;
    }

    /// Common prologue: record the call, honour blocks, delays and failures.
    async fn enter(&self, op: Op, lid: &str, physical: &str) -> Result<(), ProviderError> {
        let (block, delay, fail, outage) = {
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
                s.outage_once.remove(&key),
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
        if outage {
            return Err(kit::internal(format!(
                "{}: connection refused",
                sagestack_engine::store::UNREACHABLE
            )));
        }
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
        (type_name.starts_with("Test::") || type_name.starts_with("AWS::IAM::"))
            .then(|| kit::type_info(type_name, &["Name"], &["Arn"], type_name == "Test::Tagged"))
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        self.enter(Op::Create, &ctx.logical_id, "").await?;
        let mut s = self.state.lock().unwrap();
        s.tags
            .push((ctx.logical_id.clone(), ctx.stack_tags.clone()));
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
        s.tags
            .push((ctx.logical_id.clone(), ctx.stack_tags.clone()));
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
