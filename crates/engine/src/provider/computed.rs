//! [`Computed`]: a resource type whose resources are nothing but what their provider
//! computes from the request (the schema-driven provider's attributes, an inert record's
//! generated id). The engine's record is the whole resource, so the rest of
//! [`ResourceProvider`] has one answer for every such type, given once by
//! [`computed_provider!`](crate::computed_provider): a delete has nothing to remove, a
//! read finds the record, and the engine may take its stateless fast path
//! (`keeps_state` is false).
//!
//! A macro rather than a blanket `impl<C: Computed> ResourceProvider for C`, which would
//! overlap the one for [`super::Native`] types.

use serde_json::Value;

use super::{Outcome, ResourceContext, ResourceState, TypeInfo};

/// See the module documentation.
pub trait Computed: Send + Sync {
    /// Facts about `type_name`, or `None` when this provider does not know the type.
    fn type_info(&self, type_name: &str) -> Option<TypeInfo>;

    /// Whether this provider knows `type_name` (see [`super::ResourceProvider::handles`]).
    fn handles(&self, type_name: &str) -> bool {
        self.type_info(type_name).is_some()
    }

    /// The state a create of `properties` by `ctx` gives its resource.
    fn created(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<ResourceState>;

    /// The state an in-place update from `old` to `new` properties gives `current`.
    fn updated(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old: &Value,
        new: &Value,
    ) -> Outcome<ResourceState>;
}

/// Implements [`ResourceProvider`](crate::provider::ResourceProvider) for the
/// [`Computed`](crate::provider::Computed) type `$provider` (see the module documentation).
#[macro_export]
macro_rules! computed_provider {
    ($provider:ty) => {
        #[$crate::provider::__private::async_trait]
        impl $crate::provider::ResourceProvider for $provider {
            fn type_info(&self, type_name: &str) -> Option<$crate::provider::TypeInfo> {
                $crate::provider::Computed::type_info(self, type_name)
            }

            fn handles(&self, type_name: &str) -> bool {
                $crate::provider::Computed::handles(self, type_name)
            }

            fn keeps_state(&self, _: &str) -> bool {
                false
            }

            async fn create(
                &self,
                ctx: &$crate::provider::ResourceContext,
                properties: &$crate::provider::__private::Value,
            ) -> $crate::provider::Outcome<$crate::provider::ResourceState> {
                $crate::provider::Computed::created(self, ctx, properties)
            }

            async fn update(
                &self,
                ctx: &$crate::provider::ResourceContext,
                current: &$crate::provider::ResourceState,
                old: &$crate::provider::__private::Value,
                new: &$crate::provider::__private::Value,
            ) -> $crate::provider::Outcome<$crate::provider::ResourceState> {
                $crate::provider::Computed::updated(self, ctx, current, old, new)
            }

            async fn delete(
                &self,
                _: &$crate::provider::ResourceContext,
                _: &$crate::provider::ResourceState,
                _: &$crate::provider::__private::Value,
            ) -> $crate::provider::Outcome<()> {
                Ok(())
            }

            async fn read(
                &self,
                _: &$crate::provider::ResourceContext,
                current: &$crate::provider::ResourceState,
                _: &$crate::provider::__private::Value,
            ) -> $crate::provider::Outcome<Option<$crate::provider::ResourceState>> {
                Ok(Some(current.clone()))
            }
        }
    };
}
