//! [`FallbackProvider`]: the schema, custom-resource and inert providers behind one
//! `ResourceProvider`, for `ProviderRegistry::set_fallback`.
//!
//! Routing, first match wins:
//! 1. custom resource types -> [`CustomResourceProvider`];
//! 2. bundled types -> [`SchemaProvider`];
//! 3. types the optional [`InertProvider`] accepts -> it;
//! 4. anything else: `type_info` is `None` (so the registry reports the type unknown), and
//!    a direct call fails with [`unsupported_type_message`].

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use sagestack_engine::provider::{
    ProviderError, ProviderRegistry, ResourceContext, ResourceProvider, ResourceState, TypeInfo,
};

use crate::custom::{CustomResourceProvider, is_custom_resource_type};
use crate::inert::InertProvider;
use crate::schema_provider::{SchemaProvider, unsupported_type_message};

/// The schema-driven, custom-resource and (opt-in) inert providers as one.
#[derive(Clone, Default)]
pub struct FallbackProvider {
    schema: SchemaProvider,
    custom: CustomResourceProvider,
    inert: Option<InertProvider>,
}

impl FallbackProvider {
    /// Bundled types and custom resources (with no handlers: they fail with a clear reason).
    pub fn new() -> FallbackProvider {
        FallbackProvider::default()
    }

    pub fn with_schema_provider(mut self, schema: SchemaProvider) -> FallbackProvider {
        self.schema = schema;
        self
    }

    pub fn with_custom_resources(mut self, custom: CustomResourceProvider) -> FallbackProvider {
        self.custom = custom;
        self
    }

    /// Accept what `inert` accepts (after bundled and custom types) as inert records.
    pub fn with_inert(mut self, inert: InertProvider) -> FallbackProvider {
        self.inert = Some(inert);
        self
    }

    /// Make this the registry's fallback.
    pub fn install(self, registry: &mut ProviderRegistry) {
        registry.set_fallback(Arc::new(self));
    }

    fn route(&self, type_name: &str) -> Option<&dyn ResourceProvider> {
        if is_custom_resource_type(type_name) {
            Some(&self.custom)
        } else if self.schema.knows(type_name) {
            Some(&self.schema)
        } else {
            self.inert
                .as_ref()
                .filter(|i| i.accepts(type_name))
                .map(|i| i as &dyn ResourceProvider)
        }
    }

    fn provider(&self, ctx: &ResourceContext) -> Result<&dyn ResourceProvider, ProviderError> {
        self.route(&ctx.resource_type).ok_or_else(|| {
            ProviderError::UnsupportedType(unsupported_type_message(&ctx.resource_type))
        })
    }
}

#[async_trait]
impl ResourceProvider for FallbackProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        self.route(type_name)?.type_info(type_name)
    }

    fn handles(&self, type_name: &str) -> bool {
        self.route(type_name).is_some_and(|p| p.handles(type_name))
    }

    fn effects_outside_store(&self, type_name: &str) -> bool {
        self.route(type_name)
            .is_some_and(|p| p.effects_outside_store(type_name))
    }

    fn keeps_state(&self, type_name: &str) -> bool {
        self.route(type_name)
            .is_none_or(|p| p.keeps_state(type_name))
    }

    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        self.provider(ctx)?.create(ctx, properties).await
    }

    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError> {
        self.provider(ctx)?
            .update(ctx, current, old_properties, new_properties)
            .await
    }

    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<(), ProviderError> {
        self.provider(ctx)?.delete(ctx, current, properties).await
    }

    async fn read(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.provider(ctx)?.read(ctx, current, properties).await
    }

    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: sagestack_engine::EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        self.provider(ctx)?
            .find_interrupted_create(ctx, properties, started)
            .await
    }
}
