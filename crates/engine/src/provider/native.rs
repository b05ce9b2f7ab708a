//! [`Native`]: a resource type whose resources are records of a service of this server
//! (an IAM role, an S3 bucket, an SSM parameter, a model package group).
//!
//! The type says what its service does (create, update, get and delete one record; the
//! id a create would give); the [`ResourceProvider`] implemented here for every
//! [`Native`] type is the engine's one reading of that: `Ref` and the attributes come
//! from the record, a read of something gone is `None`, and recovery after a crash takes
//! the record a create would have made only if it was made since that create started.
//! Deleting is the type's own (what "already gone" looks like differs by service), and
//! it has no default: a type that forgets it does not compile.

use async_trait::async_trait;
use serde_json::Value;

use super::{Live, ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use crate::model::EpochMillis;

/// What a provider call comes to.
pub type Outcome<T> = Result<T, ProviderError>;

/// See the module documentation.
#[async_trait]
pub trait Native: Send + Sync {
    /// What the service keeps of one resource.
    type Record: Send;
    /// The one resource type this provider serves.
    const TYPE_NAME: &'static str;

    /// The facts of [`Self::TYPE_NAME`].
    fn info(&self) -> TypeInfo;

    /// The engine's view of a record: its physical id and `Fn::GetAtt` attributes.
    fn state_of(record: &Self::Record) -> ResourceState;

    /// The physical id a create of `properties` by the attempt `ctx` gives its resource
    /// (a generated one is drawn from [`super::attempt_chars`], so it is computed again
    /// the same), `None` when it cannot be told.
    fn intended_id(ctx: &ResourceContext, properties: &Value) -> Option<String>;

    /// Whether `record` was made by a create that started at `started`: anything older
    /// belongs to someone else.
    fn made_since(record: &Self::Record, started: EpochMillis) -> bool;

    /// [`ResourceProvider::create`]'s work: the record made.
    async fn create_record(&self, ctx: &ResourceContext, props: &Value) -> Outcome<Self::Record>;

    /// [`ResourceProvider::update`]'s work on the resource `id`: the record as updated.
    async fn update_record(
        &self,
        ctx: &ResourceContext,
        id: &str,
        props: &Value,
    ) -> Outcome<Self::Record>;

    /// The record of `id`, `None` when it is gone.
    async fn get_record(&self, ctx: &ResourceContext, id: &str) -> Outcome<Option<Self::Record>>;

    /// Deletes `id`; one already gone is deleted.
    async fn delete_record(&self, ctx: &ResourceContext, id: &str) -> Outcome<()>;

    /// The record's configuration for drift detection (see [`Live::Properties`]; built
    /// with [`super::kit::live`]), given the properties the template applied; `None`,
    /// the default, for a type that does not compare its records.
    fn live_properties(
        record: &Self::Record,
        expected: &Value,
    ) -> Option<serde_json::Map<String, Value>> {
        let _ = (record, expected);
        None
    }

    /// [`ResourceProvider::find_interrupted_create`]'s work: the record of
    /// [`Self::intended_id`] if it was [`Self::made_since`] `started`. A type whose
    /// resources a create cannot name in advance searches instead.
    async fn find_record(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: EpochMillis,
    ) -> Outcome<Option<Self::Record>> {
        let Some(id) = Self::intended_id(ctx, properties) else {
            return Ok(None);
        };
        let record = self.get_record(ctx, &id).await?;
        Ok(record.filter(|r| Self::made_since(r, started)))
    }
}

#[async_trait]
impl<N: Native> ResourceProvider for N {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        self.handles(type_name).then(|| self.info())
    }

    fn handles(&self, type_name: &str) -> bool {
        type_name == N::TYPE_NAME
    }

    async fn create(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<ResourceState> {
        Ok(N::state_of(&self.create_record(ctx, properties).await?))
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old_properties: &Value,
        new_properties: &Value,
    ) -> Outcome<ResourceState> {
        let record = self
            .update_record(ctx, &current.physical_id, new_properties)
            .await?;
        Ok(N::state_of(&record))
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Outcome<()> {
        self.delete_record(ctx, &current.physical_id).await
    }

    async fn read(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _properties: &Value,
    ) -> Outcome<Option<ResourceState>> {
        let record = self.get_record(ctx, &current.physical_id).await?;
        Ok(record.as_ref().map(N::state_of))
    }

    async fn live(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Outcome<Live> {
        Ok(match self.get_record(ctx, &current.physical_id).await? {
            None => Live::Gone,
            Some(record) => {
                N::live_properties(&record, properties).map_or(Live::NotChecked, Live::Properties)
            }
        })
    }

    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: EpochMillis,
    ) -> Outcome<Option<ResourceState>> {
        let record = self.find_record(ctx, properties, started).await?;
        Ok(record.as_ref().map(N::state_of))
    }
}
