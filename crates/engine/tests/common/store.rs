//! A store that can freeze at its n-th write, to crash an operation between any two steps.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use sagestack_engine::*;

pub struct FreezingStore {
    pub inner: MemoryStore,
    writes: std::sync::atomic::AtomicUsize,
    freeze_at: std::sync::atomic::AtomicUsize,
    pub frozen: tokio::sync::Notify,
    /// Every write ("write" or "write deferred", see `durability`) and "sync", in order.
    pub log: Mutex<Vec<&'static str>>,
    /// How many times a stack's resource records were listed.
    pub resource_reads: std::sync::atomic::AtomicUsize,
    /// The writes (1-based, counted as `writes`) that fail, from the first up to but not
    /// including the second, and whether as they do while the database is unreachable
    /// (else as a value the database refuses).
    down: Mutex<(usize, usize, bool)>,
}

impl FreezingStore {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(),
            writes: 0.into(),
            freeze_at: usize::MAX.into(),
            frozen: tokio::sync::Notify::new(),
            log: Mutex::new(Vec::new()),
            resource_reads: 0.into(),
            down: Mutex::new((usize::MAX, usize::MAX, true)),
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
    /// The `n`-th write from now (1-based) and the `len - 1` after it fail, unapplied,
    /// with the words of an unreachable database (a brief database outage).
    pub fn outage_at(&self, n: usize, len: usize) {
        let first = self.writes.load(std::sync::atomic::Ordering::SeqCst) + n;
        *self.down.lock().unwrap() = (first, first + len, true);
    }
    /// The `n`-th write from now fails, unapplied, as a value the database refuses does.
    pub fn refuse_at(&self, n: usize) {
        let first = self.writes.load(std::sync::atomic::Ordering::SeqCst) + n;
        *self.down.lock().unwrap() = (first, first + 1, false);
    }
    pub fn writes(&self) -> usize {
        self.writes.load(std::sync::atomic::Ordering::SeqCst)
    }
    async fn write(&self) -> Result<(), StoreError> {
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
        let (first, end, unreachable) = *self.down.lock().unwrap();
        if (first..end).contains(&n) {
            return Err(StoreError(if unreachable {
                format!(
                    "{}: connection refused",
                    sagestack_engine::store::UNREACHABLE
                )
            } else {
                "unsupported Unicode escape sequence".to_string()
            }));
        }
        Ok(())
    }
}

#[async_trait]
impl StackStore for FreezingStore {
    async fn sync(&self) -> Result<(), StoreError> {
        self.log.lock().unwrap().push("sync");
        Ok(())
    }
    async fn put_stack(&self, s: &StackRecord, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await?;
        self.inner.put_stack(s, e).await
    }
    async fn put_stack_if(
        &self,
        s: &StackRecord,
        e: &[StackEvent],
        expected: u64,
    ) -> Result<bool, StoreError> {
        self.write().await?;
        self.inner.put_stack_if(s, e, expected).await
    }
    async fn get_stack(&self, id: &str) -> Result<Option<StackRecord>, StoreError> {
        self.inner.get_stack(id).await
    }
    async fn list_stacks(&self) -> Result<Vec<StackRecord>, StoreError> {
        self.inner.list_stacks().await
    }
    async fn put_resource(&self, r: &ResourceRecord, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await?;
        self.inner.put_resource(r, e).await
    }
    async fn delete_resource(&self, s: &str, l: &str) -> Result<(), StoreError> {
        self.write().await?;
        self.inner.delete_resource(s, l).await
    }
    async fn list_resources(&self, s: &str) -> Result<Vec<ResourceRecord>, StoreError> {
        self.resource_reads
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.list_resources(s).await
    }
    async fn append_events(&self, e: &[StackEvent]) -> Result<(), StoreError> {
        self.write().await?;
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
        self.write().await?;
        self.inner.put_change_set(c).await
    }
    async fn get_change_set(&self, id: &str) -> Result<Option<ChangeSetRecord>, StoreError> {
        self.inner.get_change_set(id).await
    }
    async fn list_change_sets(&self, s: &str) -> Result<Vec<ChangeSetRecord>, StoreError> {
        self.inner.list_change_sets(s).await
    }
    async fn delete_change_set(&self, id: &str) -> Result<(), StoreError> {
        self.write().await?;
        self.inner.delete_change_set(id).await
    }
    async fn put_exports(&self, s: &str, e: &[ExportRecord]) -> Result<(), StoreError> {
        self.write().await?;
        self.inner.put_exports(s, e).await
    }
    async fn list_exports(&self) -> Result<Vec<ExportRecord>, StoreError> {
        self.inner.list_exports().await
    }
}
