//! How a resource action reaches its provider: the lookup (a nested stack's made for
//! the action), whether the provider keeps state or acts outside the store (which
//! decides the records written and flushed before the call), and what a provider's
//! database outage means to the operation.

use std::sync::Arc;

use crate::error::EngineError;
use crate::provider::{ProviderError, ResourceProvider};

use super::run::Run;

impl Run {
    pub fn provider(
        &self,
        resource_type: &str,
    ) -> Result<Arc<dyn ResourceProvider>, ProviderError> {
        // A nested stack runs a child stack in this engine: its provider is made over the
        // engine's state for this action only (see `crate::nested`).
        if resource_type == crate::nested::TYPE_NAME {
            return Ok(Arc::new(crate::nested::NestedStacks::new(
                self.inner.clone(),
            )));
        }
        self.inner
            .providers
            .get(resource_type)
            .cloned()
            .ok_or_else(|| {
                ProviderError::UnsupportedType(format!(
                    "Resource type {resource_type} is not supported"
                ))
            })
    }

    /// Whether `provider` keeps no state for `resource_type`: nothing is left to recover
    /// from its calls, so an action's opening record is written with its outcome.
    pub fn stateless(
        provider: &Result<Arc<dyn ResourceProvider>, ProviderError>,
        resource_type: &str,
    ) -> bool {
        provider
            .as_ref()
            .is_ok_and(|p| !p.keeps_state(resource_type))
    }

    /// Whether `provider`'s deletes of `resource_type` act as deletes of rows of the
    /// engine's own store (see [`ResourceProvider::deletes_outside_store`]); never for a
    /// nested stack, whose child runs an operation of its own.
    pub fn deletes_in_store(
        provider: &Result<Arc<dyn ResourceProvider>, ProviderError>,
        resource_type: &str,
    ) -> bool {
        resource_type != crate::nested::TYPE_NAME
            && provider
                .as_ref()
                .is_ok_and(|p| !p.deletes_outside_store(resource_type))
    }

    /// `provider` (the lookup of `resource_type`'s provider), ready to create or update.
    /// When its effects live outside the store, everything recorded so far (the
    /// resource's in-progress record above all) is flushed first, so that no power loss
    /// can forget an action the outside world has seen (see [`crate::durability`]). A
    /// flush that fails is a storage error (which pauses the operation when the database
    /// is unreachable, see [`Run::settle`]); a provider that cannot be found is the
    /// resource's failure.
    pub async fn ready(
        &self,
        provider: Result<Arc<dyn ResourceProvider>, ProviderError>,
        resource_type: &str,
    ) -> Result<Result<Arc<dyn ResourceProvider>, ProviderError>, EngineError> {
        self.ready_when(provider, resource_type, |p, t| p.effects_outside_store(t))
            .await
    }

    /// [`Run::ready`] for a delete: flushed first only when the provider's deletes act
    /// outside the store ([`ResourceProvider::deletes_outside_store`]).
    pub async fn ready_to_delete(
        &self,
        provider: Result<Arc<dyn ResourceProvider>, ProviderError>,
        resource_type: &str,
    ) -> Result<Result<Arc<dyn ResourceProvider>, ProviderError>, EngineError> {
        self.ready_when(provider, resource_type, |p, t| p.deletes_outside_store(t))
            .await
    }

    /// `provider`, after a flush when `outside` says its action acts outside the store.
    async fn ready_when(
        &self,
        provider: Result<Arc<dyn ResourceProvider>, ProviderError>,
        resource_type: &str,
        outside: fn(&dyn ResourceProvider, &str) -> bool,
    ) -> Result<Result<Arc<dyn ResourceProvider>, ProviderError>, EngineError> {
        if let Ok(p) = &provider
            && outside(&**p, resource_type)
        {
            self.inner.store.sync().await?;
        }
        Ok(provider)
    }

    /// A provider's `result`, unless it says the service behind the provider could not
    /// reach its database ([`ProviderError::is_outage`]): that is a storage error, which
    /// pauses the operation with the resource's record left as it was before the call
    /// (see [`Run::settle`]).
    pub fn outage<T>(
        result: Result<T, ProviderError>,
    ) -> Result<Result<T, ProviderError>, EngineError> {
        match result {
            Err(e) if e.is_outage() => Err(EngineError::Store(crate::StoreError(e.to_string()))),
            other => Ok(other),
        }
    }
}
