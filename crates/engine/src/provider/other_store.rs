//! [`InOtherStore`]: a provider whose resources are rows of a store other than the
//! stacks' own (S3 buckets, whose names are global, live in the main store while a
//! non-default account's stacks live in that account's store).
//!
//! [`crate::durability`]'s promise, a crash comes back at a prefix of the operation's
//! steps, holds only inside one store: SQLite's WAL keeps one file's commits as a
//! prefix, not two files'. An operation's final flush covers the stacks' store alone, so
//! a deferred write into the other store could still be unflushed when the answer says
//! `CREATE_COMPLETE` (a power loss would then lose a bucket the stack reports), and the
//! other store could keep a bucket whose in-progress record the stacks' store lost (an
//! orphan that recovery cannot find, blocking its name). So such a provider is treated
//! as one with effects outside the store: the engine flushes its records before each
//! create and update, and each action's own writes are flushed before it returns. A
//! delete needs no flush before it (`deletes_outside_store` is false): it is flushed in
//! the other store before the engine records its outcome, and deleting again finds
//! nothing, so a crash anywhere leaves either the bucket and a record the resumed delete
//! acts on, or no bucket and a record whose delete then succeeds.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use super::{Live, ProviderError, ResourceContext, ResourceProvider, ResourceState, TypeInfo};
use crate::durability;
use crate::model::EpochMillis;

/// See the module documentation.
pub struct InOtherStore(pub Arc<dyn ResourceProvider>);

#[async_trait]
impl ResourceProvider for InOtherStore {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        self.0.type_info(type_name)
    }

    fn handles(&self, type_name: &str) -> bool {
        self.0.handles(type_name)
    }

    fn effects_outside_store(&self, type_name: &str) -> bool {
        self.0.handles(type_name)
    }

    fn deletes_outside_store(&self, _type_name: &str) -> bool {
        // Flushed before it returns and idempotent (see the module documentation).
        false
    }

    fn keeps_state(&self, type_name: &str) -> bool {
        self.0.keeps_state(type_name)
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        durability::immediate(self.0.create(ctx, properties)).await
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        durability::immediate(self.0.update(ctx, current, old_properties, new_properties)).await
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<(), ProviderError> {
        durability::immediate(self.0.delete(ctx, current, properties)).await
    }

    async fn read(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.0.read(ctx, current, properties).await
    }

    async fn live(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<Live, ProviderError> {
        self.0.live(ctx, current, properties).await
    }

    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.0
            .find_interrupted_create(ctx, properties, started)
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::provider::kit;

    /// Records, for each action, whether it ran deferred.
    #[derive(Default)]
    struct Modes(Mutex<Vec<(&'static str, bool)>>);

    #[async_trait]
    impl ResourceProvider for Modes {
        fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
            (type_name == "AWS::S3::Bucket").then(|| kit::type_info(type_name, &[], &[], false))
        }

        async fn create(
            &self,
            _: &ResourceContext,
            _: &Value,
        ) -> Result<ResourceState, ProviderError> {
            self.0
                .lock()
                .unwrap()
                .push(("create", durability::is_deferred()));
            Ok(ResourceState::default())
        }

        async fn update(
            &self,
            _: &ResourceContext,
            current: &ResourceState,
            _: &Value,
            _: &Value,
        ) -> Result<ResourceState, ProviderError> {
            self.0
                .lock()
                .unwrap()
                .push(("update", durability::is_deferred()));
            Ok(current.clone())
        }

        async fn delete(
            &self,
            _: &ResourceContext,
            _: &ResourceState,
            _: &Value,
        ) -> Result<(), ProviderError> {
            self.0
                .lock()
                .unwrap()
                .push(("delete", durability::is_deferred()));
            Ok(())
        }
    }

    #[tokio::test]
    async fn actions_flush_their_own_writes_and_the_engine_flushes_before_them() {
        let modes = Arc::new(Modes::default());
        let wrapped = InOtherStore(modes.clone());
        let ctx = ResourceContext {
            logical_id: "Bucket".into(),
            resource_type: "AWS::S3::Bucket".into(),
            ..ResourceContext::default()
        };
        assert!(!modes.effects_outside_store("AWS::S3::Bucket"));
        assert!(wrapped.effects_outside_store("AWS::S3::Bucket"));
        let state = ResourceState::default();
        durability::deferred(async {
            wrapped.create(&ctx, &Value::Null).await.unwrap();
            wrapped
                .update(&ctx, &state, &Value::Null, &Value::Null)
                .await
                .unwrap();
            wrapped.delete(&ctx, &state, &Value::Null).await.unwrap();
            // The operation's other steps stay deferred.
            assert!(durability::is_deferred());
        })
        .await;
        assert_eq!(
            *modes.0.lock().unwrap(),
            [("create", false), ("update", false), ("delete", false)]
        );
    }
}
