//! [`RecordOnlyProvider`]: a provider whose resources are nothing but the engine's
//! records, for tests and benches that need a native provider without a service behind
//! it (as [`crate::MemoryStore`] stands in for a durable store).
//!
//! Only what differs between such providers is given (which types it serves, what a
//! create returns); the rest is the one answer a record-only resource has: an update
//! keeps the state, a delete has nothing to remove, a read finds the record.

use async_trait::async_trait;
use serde_json::Value;

use super::{ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};

type Info = dyn Fn(&str) -> Option<TypeInfo> + Send + Sync;
type Create = dyn Fn(&ResourceContext, &Value) -> ResourceState + Send + Sync;

/// See the module documentation.
pub struct RecordOnlyProvider {
    info: Box<Info>,
    create: Box<Create>,
}

impl RecordOnlyProvider {
    /// A provider that answers `type_info` with `info` and creates with `create`.
    pub fn new(
        info: impl Fn(&str) -> Option<TypeInfo> + Send + Sync + 'static,
        create: impl Fn(&ResourceContext, &Value) -> ResourceState + Send + Sync + 'static,
    ) -> Self {
        RecordOnlyProvider {
            info: Box::new(info),
            create: Box::new(create),
        }
    }
}

#[async_trait]
impl ResourceProvider for RecordOnlyProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        (self.info)(type_name)
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        Ok((self.create)(ctx, properties))
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
}
