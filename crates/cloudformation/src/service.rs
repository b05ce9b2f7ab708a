//! [`CloudFormationService`]: one region's stack engine, assembled.
//!
//! Resource providers are chosen per type, first match wins:
//! 1. a [`NativeProvider`] registered for the exact type (S3 buckets, SSM parameters,
//!    SageMaker and IAM resources backed by sagestack's own services);
//! 2. custom resources (`AWS::CloudFormation::CustomResource`, `Custom::*`), sent to the
//!    configured handlers;
//! 3. every type in the bundled resource schemas, by the schema-driven provider;
//! 4. types the optional inert provider accepts.
//!
//! Anything else is refused when the stack operation is submitted
//! (`Unrecognized resource types: [...]`).

use std::collections::BTreeMap;
use std::sync::Arc;

use sagestack_engine::{
    ChangeSetIds, Clock, CreateChangeSetInput, CreateStackInput, Engine, EngineConfig, EngineError,
    EngineParts, EventPublisher, ExportRecord, IdGenerator, PlanDiagnostic, ProviderRegistry,
    ResourceProvider, ResourceRecord, StackIdentity, StackRecord, StackStore, UpdateStackInput,
};
use sagestack_providers::{
    CustomResourceProvider, FallbackProvider, InertProvider, SchemaProvider,
};
use sagestack_template::{Limits, ParameterDecl, Template};

use crate::plan::{SecretsLookup, SsmLookup, TemplatePlanFactory, diag};
use crate::source::{NestedTemplates, TemplateSource};

/// Why a service could not be assembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error("resource type {0} has more than one native provider")]
    DuplicateProvider(String),
    #[error("{0} is not a resource type name (expected Organization::Service::Resource)")]
    InvalidTypeName(String),
}

/// A provider backed by one of sagestack's own services, for one resource type.
#[derive(Clone)]
pub struct NativeProvider {
    pub type_name: String,
    pub provider: Arc<dyn ResourceProvider>,
}

impl NativeProvider {
    pub fn new(type_name: impl Into<String>, provider: Arc<dyn ResourceProvider>) -> Self {
        Self {
            type_name: type_name.into(),
            provider,
        }
    }
}

/// Everything a [`CloudFormationService`] is built from. `new` takes what is required;
/// the `with_*` methods add the rest.
#[derive(Clone)]
pub struct ServiceConfig {
    pub region: String,
    pub account_id: String,
    pub store: Arc<dyn StackStore>,
    pub native_providers: Vec<NativeProvider>,
    /// Accept types with no schema as inert records (off unless set).
    pub inert: Option<InertProvider>,
    /// Custom-resource handlers (`ServiceToken` -> endpoint) and their transport. Without
    /// it, custom resources fail with the reason that no handler is configured.
    pub custom_resources: Option<CustomResourceProvider>,
    /// Where SSM-typed parameters and `{{resolve:ssm:...}}` are read.
    pub ssm: Option<Arc<dyn SsmLookup>>,
    /// Where `{{resolve:secretsmanager:...}}` is read (unresolvable without it).
    pub secrets: Option<Arc<dyn SecretsLookup>>,
    /// The schema-driven provider (e.g. seeded, for deterministic names in tests).
    pub schema_provider: Option<SchemaProvider>,
    /// How many resource actions of one stack may run at once (the engine's default if
    /// `None`).
    pub max_parallel: Option<usize>,
    /// Time and ids (the real ones if `None`); tests use fakes.
    pub clock: Option<Arc<dyn Clock>>,
    pub ids: Option<Arc<dyn IdGenerator>>,
    /// Where nested stacks' `TemplateURL`s are read (they fail without it).
    pub template_source: Option<Arc<dyn TemplateSource>>,
    /// Where the stacks' status change events go (the account's default event bus);
    /// nowhere if `None`.
    pub event_publisher: Option<Arc<dyn EventPublisher>>,
    /// This process's claims on stacks when replicas share the store
    /// (`sagestack_engine::claims`); none: every claim granted.
    pub claims: Option<Arc<dyn sagestack_engine::claims::Claims>>,
}

impl ServiceConfig {
    pub fn new(
        region: impl Into<String>,
        account_id: impl Into<String>,
        store: Arc<dyn StackStore>,
    ) -> Self {
        Self {
            region: region.into(),
            account_id: account_id.into(),
            store,
            native_providers: Vec::new(),
            inert: None,
            custom_resources: None,
            ssm: None,
            secrets: None,
            schema_provider: None,
            max_parallel: None,
            clock: None,
            ids: None,
            template_source: None,
            event_publisher: None,
            claims: None,
        }
    }

    /// Serve `type_name` with `provider` instead of the schema-driven one.
    pub fn with_native_provider(
        mut self,
        type_name: impl Into<String>,
        provider: Arc<dyn ResourceProvider>,
    ) -> Self {
        self.native_providers
            .push(NativeProvider::new(type_name, provider));
        self
    }

    pub fn with_inert(mut self, inert: InertProvider) -> Self {
        self.inert = Some(inert);
        self
    }

    pub fn with_custom_resources(mut self, custom: CustomResourceProvider) -> Self {
        self.custom_resources = Some(custom);
        self
    }

    pub fn with_ssm(mut self, ssm: Arc<dyn SsmLookup>) -> Self {
        self.ssm = Some(ssm);
        self
    }

    pub fn with_secrets(mut self, secrets: Arc<dyn SecretsLookup>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    pub fn with_schema_provider(mut self, schema: SchemaProvider) -> Self {
        self.schema_provider = Some(schema);
        self
    }

    pub fn with_max_parallel(mut self, n: usize) -> Self {
        self.max_parallel = Some(n);
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn with_ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = Some(ids);
        self
    }

    pub fn with_template_source(mut self, source: Arc<dyn TemplateSource>) -> Self {
        self.template_source = Some(source);
        self
    }

    /// Publish "CloudFormation Stack Status Change" and "CloudFormation Resource Status
    /// Change" events through `publisher` (those it wants).
    pub fn with_event_publisher(mut self, publisher: Arc<dyn EventPublisher>) -> Self {
        self.event_publisher = Some(publisher);
        self
    }

    /// Claim each stack through `claims` before driving it (replicas sharing a store).
    pub fn with_claims(mut self, claims: Arc<dyn sagestack_engine::claims::Claims>) -> Self {
        self.claims = Some(claims);
        self
    }
}

/// What `ValidateTemplate` reports about a valid template.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSummary {
    pub description: Option<String>,
    /// Declared parameters, in template order.
    pub parameters: Vec<ParameterDecl>,
    /// Declared transforms (only `AWS::LanguageExtensions` is accepted).
    pub transforms: Vec<String>,
}

/// One region's CloudFormation: the stack engine over a store, with real templates and
/// the native, custom, schema-driven and inert providers.
///
/// Mutating calls return once the operation is durably started; await
/// [`CloudFormationService::wait_for_terminal`] for the outcome. Must be built and used
/// inside a tokio runtime (operations run as tasks). After a restart, call
/// [`CloudFormationService::recover`] once before serving.
pub struct CloudFormationService {
    engine: Engine,
    plans: TemplatePlanFactory,
}

fn is_type_name(t: &str) -> bool {
    let parts: Vec<&str> = t.split("::").collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl CloudFormationService {
    pub fn new(config: ServiceConfig) -> Result<Self, ServiceError> {
        let mut registry = ProviderRegistry::new();
        let mut seen = std::collections::HashSet::new();
        for n in &config.native_providers {
            if !is_type_name(&n.type_name) {
                return Err(ServiceError::InvalidTypeName(n.type_name.clone()));
            }
            if !seen.insert(n.type_name.clone()) {
                return Err(ServiceError::DuplicateProvider(n.type_name.clone()));
            }
            registry.register(n.type_name.clone(), n.provider.clone());
        }
        let mut fallback = FallbackProvider::new()
            .with_schema_provider(config.schema_provider.unwrap_or_default());
        if let Some(custom) = config.custom_resources {
            fallback = fallback.with_custom_resources(custom);
        }
        if let Some(inert) = config.inert {
            fallback = fallback.with_inert(inert);
        }
        fallback.install(&mut registry);

        let plans =
            TemplatePlanFactory::new(config.ssm, config.secrets).with_stacks(config.store.clone());
        let mut engine_config = EngineConfig::new(config.region, config.account_id);
        if let Some(n) = config.max_parallel {
            engine_config.max_parallel = n.max(1);
        }
        let mut parts = EngineParts::new(
            engine_config,
            config.store,
            registry,
            Arc::new(plans.clone()),
        );
        if let Some(clock) = config.clock {
            parts.clock = clock;
        }
        if let Some(ids) = config.ids {
            parts.ids = ids;
        }
        if let Some(events) = config.event_publisher {
            parts.events = events;
        }
        if let Some(claims) = config.claims {
            parts.claims = claims;
        }
        parts.templates = config
            .template_source
            .map(|s| Arc::new(NestedTemplates(s)) as Arc<dyn sagestack_engine::plan::TemplateUrls>);
        Ok(Self {
            engine: Engine::new(parts),
            plans,
        })
    }

    /// The engine, for the calls not wrapped here (change sets, `ContinueUpdateRollback`,
    /// `ListImports`...).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn region(&self) -> &str {
        &self.engine.config().region
    }

    pub fn account_id(&self) -> &str {
        &self.engine.config().account_id
    }

    /// Resumes or rolls back whatever a previous process left in progress; the ids of the
    /// stacks picked up.
    pub async fn recover(&self) -> Result<Vec<String>, EngineError> {
        self.engine.recover().await
    }

    /// The stack once no operation drives it anywhere: [`Self::wait_for_terminal`] while a
    /// task of this process drives it; while another process does (replicas), polled
    /// until it settles, taking it over (`recover_stack`) if its holder stops renewing its
    /// claim. A stack nobody can drive (the store fails) is answered as it is.
    pub async fn wait_for_settled(&self, stack_id: &str) -> Result<StackRecord, EngineError> {
        loop {
            let stack = self.wait_for_terminal(stack_id).await?;
            if !stack.status.is_operation_in_progress() {
                return Ok(stack);
            }
            match self.engine.recover_stack(&stack).await {
                Ok(true) => {}
                Ok(false) => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
                Err(_) => return Ok(stack),
            }
        }
    }

    /// Resumes the stack `stack_id` if it is in progress, undriven here and claimable
    /// (see `Engine::recover_stack`): `true` when a task now drives it.
    pub async fn recover_stack(&self, stack_id: &str) -> Result<bool, EngineError> {
        match self.engine.describe_stack(stack_id).await {
            Ok(stack) => self.engine.recover_stack(&stack).await,
            Err(EngineError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `ValidateTemplate`. `inline` applies the `TemplateBody` size limit (51,200 bytes)
    /// rather than the S3 one.
    pub fn validate_template(
        &self,
        body: &str,
        inline: bool,
    ) -> Result<TemplateSummary, Vec<PlanDiagnostic>> {
        self.checked_template(body, inline)
            .map(|(summary, _)| summary)
    }

    /// [`CloudFormationService::validate_template`], with the parsed template for callers
    /// that look further into it. Runs as a template job (see [`crate::jobs`]).
    pub fn checked_template(
        &self,
        body: &str,
        inline: bool,
    ) -> Result<(TemplateSummary, Template), Vec<PlanDiagnostic>> {
        self.plans.jobs().run(|| {
            let limits = if inline {
                Limits::inline()
            } else {
                Limits::s3()
            };
            let template = Template::parse_with(body, &limits).map_err(|e| vec![diag(&e)])?;
            template
                .validate()
                .map_err(|es| es.iter().map(diag).collect::<Vec<_>>())?;
            let summary = TemplateSummary {
                description: template
                    .root()
                    .get("Description")
                    .and_then(sagestack_template::Node::scalar_text),
                parameters: template.parameters(),
                transforms: template
                    .transforms()
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
            };
            Ok((summary, template))
        })
    }

    /// A template parsed with the S3 limits (not validated), as a template job.
    pub fn parse_template(&self, body: &str) -> Result<Template, PlanDiagnostic> {
        self.plans
            .jobs()
            .run(|| Template::parse_with(body, &Limits::s3()).map_err(|e| diag(&e)))
    }

    /// Binds a template exactly as a stack operation would (parameters checked, `Rules`
    /// run, conditions evaluated), without creating anything: what `GetTemplateSummary`
    /// and a dry run need.
    pub fn plan(
        &self,
        stack_name: &str,
        body: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<crate::plan::TemplateStackPlan, Vec<PlanDiagnostic>> {
        let identity = StackIdentity {
            stack_name: stack_name.to_string(),
            stack_id: format!(
                "arn:{}:cloudformation:{}:{}:stack/{stack_name}/00000000-0000-0000-0000-000000000000",
                sagestack_engine::partition_for_region(self.region()),
                self.region(),
                self.account_id()
            ),
            region: self.region().to_string(),
            account_id: self.account_id().to_string(),
            notification_arns: Vec::new(),
        };
        self.plans.bind(body, parameters, &identity)
    }

    /// `CreateStack`: the new stack's id.
    pub async fn create_stack(&self, input: CreateStackInput) -> Result<String, EngineError> {
        self.engine.create_stack(input).await
    }

    /// `UpdateStack`: the stack's id.
    pub async fn update_stack(&self, input: UpdateStackInput) -> Result<String, EngineError> {
        self.engine.update_stack(input).await
    }

    /// `DeleteStack`: the stack's id, `None` when no such stack exists (success for AWS).
    pub async fn delete_stack(
        &self,
        name_or_id: &str,
        retain_resources: Vec<String>,
    ) -> Result<Option<String>, EngineError> {
        self.engine.delete_stack(name_or_id, retain_resources).await
    }

    pub async fn create_change_set(
        &self,
        input: CreateChangeSetInput,
    ) -> Result<ChangeSetIds, EngineError> {
        self.engine.create_change_set(input).await
    }

    /// The stack a name (live stacks only) or id (deleted ones included) names.
    pub async fn describe_stack(&self, name_or_id: &str) -> Result<StackRecord, EngineError> {
        self.engine.describe_stack(name_or_id).await
    }

    pub async fn list_stacks(&self) -> Result<Vec<StackRecord>, EngineError> {
        self.engine.list_stacks().await
    }

    pub async fn list_stack_resources(
        &self,
        name_or_id: &str,
    ) -> Result<Vec<ResourceRecord>, EngineError> {
        self.engine.list_stack_resources(name_or_id).await
    }

    pub async fn list_exports(&self) -> Result<Vec<ExportRecord>, EngineError> {
        self.engine.list_exports().await
    }

    /// Flushes every write made so far to stable storage (see
    /// [`sagestack_engine::durability`]).
    pub async fn flush(&self) -> Result<(), EngineError> {
        self.engine.flush().await
    }

    /// Waits until no operation drives the stack, and returns it.
    pub async fn wait_for_terminal(&self, stack_id: &str) -> Result<StackRecord, EngineError> {
        self.engine.wait_for_terminal(stack_id).await
    }

    /// Creates a stack and waits for the outcome (`CREATE_COMPLETE`, or a failed or
    /// rolled-back status with its reason): what a provisioning worker does.
    pub async fn create_stack_and_wait(
        &self,
        input: CreateStackInput,
    ) -> Result<StackRecord, EngineError> {
        let id = self.create_stack(input).await?;
        self.wait_for_terminal(&id).await
    }

    /// Updates a stack and waits for the outcome.
    pub async fn update_stack_and_wait(
        &self,
        input: UpdateStackInput,
    ) -> Result<StackRecord, EngineError> {
        let id = self.update_stack(input).await?;
        self.wait_for_terminal(&id).await
    }

    /// Deletes a stack and waits; `None` when there was no such stack.
    pub async fn delete_stack_and_wait(
        &self,
        name_or_id: &str,
    ) -> Result<Option<StackRecord>, EngineError> {
        match self.delete_stack(name_or_id, Vec::new()).await? {
            Some(id) => Ok(Some(self.wait_for_terminal(&id).await?)),
            None => Ok(None),
        }
    }
}
