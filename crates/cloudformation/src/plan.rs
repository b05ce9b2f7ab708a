//! [`TemplatePlanFactory`]: the engine's `PlanFactory` on top of `sagestack-template`.
//!
//! The engine stores a template body and raw parameter values and asks for a plan whenever
//! it starts (or resumes) an operation. Planning here is: parse (S3-sized limit: the API
//! layer has already refused inline bodies over 51,200 bytes), validate, bind the parameter
//! values, then the checks CloudFormation makes at submission time that are about stacks
//! rather than templates (the `Snapshot` policy). Every [`TemplateError`] becomes a
//! [`PlanDiagnostic`] that keeps its code and line:column.
//!
//! Values that depend on the world are read through two paths, and the difference matters:
//! - at bind time, through the [`Environment`] built from the service's [`SsmLookup`] and
//!   [`SecretsLookup`] (`AWS::SSM::Parameter::Value<...>` parameters, `{{resolve:...}}`
//!   references, `Fn::GetAZs`);
//! - at resolution time, through the engine's `ResourceLookup`, bridged here: `Ref`,
//!   `Fn::GetAtt` and `Fn::ImportValue` (the exports the engine serves, read when each
//!   operation starts, so a plan never holds stale exports).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::jobs::TemplateJobs;
use sagestack_engine::StackStore;
use sagestack_engine::plan::{
    PlanDiagnostic, PlanFactory, PlannedResource, Policy, ResolveError, ResolvedOutput,
    ResourceLookup, StackIdentity, TemplatePlan,
};
use sagestack_template::{
    self as tpl, BoundTemplate, DynamicReference, Environment, Limits, Node, Pos, StackContext,
    StackOutputRef, Template, TemplateError,
};
use serde_json::Value;

/// Resource types that accept `DeletionPolicy` / `UpdateReplacePolicy` `Snapshot`, as
/// listed by the CloudFormation user guide (DeletionPolicy attribute).
pub const SNAPSHOT_TYPES: &[&str] = &[
    "AWS::DocDB::DBCluster",
    "AWS::EC2::Volume",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::Neptune::DBCluster",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::Redshift::Cluster",
];

/// Diagnostic code of a refused `Snapshot` policy (the template crate's structure code).
const SNAPSHOT_CODE: &str = "E1003";

/// SSM Parameter Store as templates read it: the values behind
/// `AWS::SSM::Parameter::Value<...>` parameters and `{{resolve:ssm:...}}` /
/// `{{resolve:ssm-secure:...}}` references. The SSM service implements it.
///
/// Planning is synchronous (it runs inside the engine's request path), so this trait is
/// too: an implementation backed by an async store keeps what it needs in memory.
pub trait SsmLookup: Send + Sync {
    /// The value of `name` at `version` (the latest when `None`); `None` when the
    /// parameter (or that version) does not exist. `SecureString` values are only
    /// returned through [`SsmLookup::secure_parameter`].
    fn parameter(&self, name: &str, version: Option<u64>) -> Option<String>;

    /// The decrypted value of a `SecureString` parameter (`{{resolve:ssm-secure:...}}`).
    fn secure_parameter(&self, name: &str, version: Option<u64>) -> Option<String> {
        let _ = (name, version);
        None
    }
}

/// Secrets as `{{resolve:secretsmanager:...}}` references read them. sagestack has no
/// Secrets Manager service yet; whoever supplies secrets (a future service, or an
/// embedding application) implements this. Synchronous for the same reason as
/// [`SsmLookup`].
pub trait SecretsLookup: Send + Sync {
    /// The `SecretString` of `secret_id` (a name or an ARN) at `version_id`, else at
    /// `version_stage`, else at `AWSCURRENT`; `None` when there is no such secret.
    fn secret_string(
        &self,
        secret_id: &str,
        version_stage: Option<&str>,
        version_id: Option<&str>,
    ) -> Option<String>;
}

/// Availability zones of a region, for `Fn::GetAZs`: the zone letters AWS offers to a
/// new account in the region (six in us-east-1, three elsewhere by default).
pub fn availability_zones(region: &str) -> Vec<String> {
    let letters: &[&str] = match region {
        "us-east-1" => &["a", "b", "c", "d", "e", "f"],
        "us-west-2" | "ap-northeast-1" | "ap-northeast-2" | "ca-central-1" => &["a", "b", "c", "d"],
        _ => &["a", "b", "c"],
    };
    letters.iter().map(|l| format!("{region}{l}")).collect()
}

/// The template [`Environment`] of the service: SSM through the [`SsmLookup`], zones from
/// [`availability_zones`]. Exports are deliberately absent here: they are read at
/// resolution time through the engine's lookup (see the module docs).
struct ServiceEnvironment {
    ssm: Option<Arc<dyn SsmLookup>>,
    secrets: Option<Arc<dyn SecretsLookup>>,
    /// This account's stacks, whose outputs `Fn::GetStackOutput` reads.
    stacks: Option<Arc<dyn StackStore>>,
    /// Where the stack being planned lives: `Fn::GetStackOutput` reads stacks of the
    /// same region and account (the only ones this store holds).
    region: String,
    account_id: String,
    /// Set when binding read an SSM parameter or another stack's output: such a plan
    /// depends on more than its inputs and is not cached.
    read_ssm: AtomicBool,
}

fn version_of(v: Option<&String>) -> Option<u64> {
    v.and_then(|v| v.parse().ok())
}

impl Environment for ServiceEnvironment {
    fn ssm_parameter(&self, name: &str) -> Option<String> {
        self.read_ssm.store(true, Ordering::Relaxed);
        self.ssm.as_ref()?.parameter(name, None)
    }

    fn availability_zones(&self, region: &str) -> Vec<String> {
        availability_zones(region)
    }

    /// The output of a live stack of this account and region, by stack name or id.
    /// A `RoleArn` of another account, or another `Region`, names stacks this store
    /// does not hold: not found.
    fn stack_output(&self, at: &StackOutputRef<'_>) -> Option<String> {
        if at.region.is_some_and(|r| r != self.region) {
            return None;
        }
        let role_account = at.role_arn.and_then(|arn| arn.split(':').nth(4));
        if role_account.is_some_and(|a| a != self.account_id) {
            return None;
        }
        self.read_ssm.store(true, Ordering::Relaxed);
        let store = self.stacks.clone()?;
        let (stack, output) = (at.stack.to_owned(), at.output.to_owned());
        let read = async move {
            let found = if stack.starts_with("arn:") {
                store.get_stack(&stack).await?
            } else {
                store.find_live_stack(&stack).await?
            };
            Ok::<_, sagestack_engine::StoreError>(found.and_then(|s| {
                s.outputs
                    .into_iter()
                    .find(|o| o.key == output)
                    .map(|o| o.value)
            }))
        };
        crate::blocking::read("Fn::GetStackOutput", read)?
    }

    fn dynamic_reference(&self, r: &DynamicReference) -> Option<String> {
        match r {
            DynamicReference::Ssm { name, version } => self
                .ssm
                .as_ref()?
                .parameter(name, version_of(version.as_ref())),
            DynamicReference::SsmSecure { name, version } => self
                .ssm
                .as_ref()?
                .secure_parameter(name, version_of(version.as_ref())),
            // Without a secrets lookup the reference stays unresolved and the template
            // error names it.
            DynamicReference::SecretsManager {
                secret_id,
                json_key,
                version_stage,
                version_id,
            } => {
                let secret = self.secrets.as_ref()?.secret_string(
                    secret_id,
                    version_stage.as_deref(),
                    version_id.as_deref(),
                )?;
                match json_key {
                    None => Some(secret),
                    // A key reads one member of a JSON secret; a missing key, or a secret
                    // that is not a JSON object, does not resolve.
                    Some(key) => match serde_json::from_str::<Value>(&secret).ok()?.get(key)? {
                        Value::String(s) => Some(s.clone()),
                        Value::Object(_) | Value::Array(_) | Value::Null => None,
                        other => Some(other.to_string()),
                    },
                }
            }
        }
    }
}

/// How many recent plans [`TemplatePlanFactory`] keeps. Small on purpose: a plan holds
/// its template's whole tree (several times the body's size for a 1 MB template), and one
/// operation re-plans only its own one or two templates.
const PLAN_CACHE_SIZE: usize = 8;

/// What a plan is a function of: the template, the raw parameter values and the stack.
struct PlanKey {
    body: String,
    parameters: BTreeMap<String, String>,
    identity: StackIdentity,
}

impl PlanKey {
    fn matches(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> bool {
        self.body == body && &self.parameters == parameters && &self.identity == identity
    }
}

/// The engine's `PlanFactory` for real templates.
///
/// The engine plans the same stored template several times in one operation (when the
/// call is accepted, when its task starts, for cleanup and rollback); binding is pure
/// given the body, the parameter values and the stack identity, so the last few plans are
/// kept and shared. A plan whose binding read SSM parameters is never reused: AWS reads
/// them again on every operation. Dynamic references and exports are read at resolution
/// time, so a shared plan still sees their current values.
///
/// Many stacks run the same template with other parameters or under other names (every
/// project of one template): the parsed template, which does not depend on either, is
/// kept too, for the last [`PARSED_CACHE_SIZE`] bodies, and only binding runs per stack.
///
/// Parsing and binding run as [`TemplateJobs`]: off the async workers, one per core at a
/// time, however many operations plan at once.
#[derive(Clone, Default)]
pub struct TemplatePlanFactory {
    ssm: Option<Arc<dyn SsmLookup>>,
    secrets: Option<Arc<dyn SecretsLookup>>,
    stacks: Option<Arc<dyn StackStore>>,
    cache: Arc<Mutex<PlanCache>>,
    parsed: Arc<Mutex<ParsedCache>>,
    jobs: TemplateJobs,
}

/// Recent plans, oldest first.
type PlanCache = VecDeque<(PlanKey, Arc<TemplateStackPlan>)>;

/// How many recently parsed template bodies [`TemplatePlanFactory`] keeps.
const PARSED_CACHE_SIZE: usize = 8;

/// Recently parsed bodies, least recently used first.
type ParsedCache = VecDeque<(Arc<str>, Arc<Template>)>;

impl TemplatePlanFactory {
    /// A factory that resolves SSM parameter types and `{{resolve:ssm:...}}` through
    /// `ssm`, and `{{resolve:secretsmanager:...}}` through `secrets`. Without one, what
    /// it would resolve fails with the template's message.
    pub fn new(ssm: Option<Arc<dyn SsmLookup>>, secrets: Option<Arc<dyn SecretsLookup>>) -> Self {
        Self {
            ssm,
            secrets,
            ..Self::default()
        }
    }

    /// Reads `Fn::GetStackOutput` from the outputs of the stacks in `stacks`.
    pub fn with_stacks(mut self, stacks: Arc<dyn StackStore>) -> Self {
        self.stacks = Some(stacks);
        self
    }

    /// Where this factory's template work runs; other template work of the same service
    /// (`ValidateTemplate`) shares it.
    pub fn jobs(&self) -> &TemplateJobs {
        &self.jobs
    }

    /// Parses, validates and binds; the bound template, or every problem found.
    pub fn bind(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<TemplateStackPlan, Vec<PlanDiagnostic>> {
        self.jobs.run(|| {
            self.bind_uncached(body, parameters, identity)
                .map(|(plan, _)| plan)
        })
    }

    /// [`TemplatePlanFactory::bind`], shared with recent identical requests. A plan found
    /// in the cache is answered without a job: a lookup is a few comparisons, and a job
    /// costs a permit and the worker's hand-off (`block_in_place`), which (with a thread
    /// started per job, as then) was most of the planning cost of the phases that
    /// re-plan a stack just planned (the forward and cleanup phases after the API call).
    pub fn bind_shared(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<Arc<TemplateStackPlan>, Vec<PlanDiagnostic>> {
        if let Some(plan) = self.cached(body, parameters, identity) {
            return Ok(plan);
        }
        self.jobs
            .run(|| self.bind_and_cache(body, parameters, identity))
    }

    fn cached(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Option<Arc<TemplateStackPlan>> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(k, _)| k.matches(body, parameters, identity))
            .map(|(_, plan)| plan.clone())
    }

    /// Binds `body` and keeps the plan for the next identical request, unless binding
    /// read SSM parameters (their values may change between requests).
    fn bind_and_cache(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<Arc<TemplateStackPlan>, Vec<PlanDiagnostic>> {
        // Another job may have bound the same request while this one waited for a permit.
        if let Some(plan) = self.cached(body, parameters, identity) {
            return Ok(plan);
        }
        let (plan, read_ssm) = self.bind_uncached(body, parameters, identity)?;
        let plan = Arc::new(plan);
        if !read_ssm {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() == PLAN_CACHE_SIZE {
                cache.pop_front();
            }
            cache.push_back((
                PlanKey {
                    body: body.to_string(),
                    parameters: parameters.clone(),
                    identity: identity.clone(),
                },
                plan.clone(),
            ));
        }
        Ok(plan)
    }

    /// `body` parsed, from the cache of recent bodies when it is there. Parsing does not
    /// depend on parameters or stack, so one parse serves every stack of a template.
    fn parsed(&self, body: &str) -> Result<Arc<Template>, Vec<PlanDiagnostic>> {
        let lock = || self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut cache = lock();
            if let Some(i) = cache.iter().position(|(b, _)| &**b == body) {
                let hit = cache.remove(i).expect("the position just found");
                let template = hit.1.clone();
                cache.push_back(hit);
                return Ok(template);
            }
        }
        let template =
            Arc::new(Template::parse_with(body, &Limits::s3()).map_err(|e| vec![diag(&e)])?);
        let mut cache = lock();
        if cache.len() == PARSED_CACHE_SIZE {
            cache.pop_front();
        }
        cache.push_back((Arc::from(body), template.clone()));
        Ok(template)
    }

    /// The plan, and whether binding read SSM parameters.
    fn bind_uncached(
        &self,
        body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<(TemplateStackPlan, bool), Vec<PlanDiagnostic>> {
        let template = self.parsed(body)?;
        // `bind` validates the template as it will run (after `Fn::ForEach` expansion with
        // the real parameter values) and reports template problems with parameter ones.
        let ctx = StackContext {
            stack_name: identity.stack_name.clone(),
            stack_id: identity.stack_id.clone(),
            region: identity.region.clone(),
            account_id: identity.account_id.clone(),
            notification_arns: identity.notification_arns.clone(),
        };
        let env = Arc::new(ServiceEnvironment {
            ssm: self.ssm.clone(),
            secrets: self.secrets.clone(),
            stacks: self.stacks.clone(),
            region: identity.region.clone(),
            account_id: identity.account_id.clone(),
            read_ssm: AtomicBool::new(false),
        });
        let bound = template
            .bind(parameters, &ctx, env.clone())
            .map_err(diags)?;
        let read_ssm = env.read_ssm.load(Ordering::Relaxed);
        let snapshot = snapshot_policy_errors(&bound);
        if !snapshot.is_empty() {
            return Err(snapshot);
        }
        let description = template
            .root()
            .get("Description")
            .and_then(Node::scalar_text);
        Ok((TemplateStackPlan::new(bound, description), read_ssm))
    }
}

impl PlanFactory for TemplatePlanFactory {
    fn plan(
        &self,
        template_body: &str,
        parameters: &BTreeMap<String, String>,
        identity: &StackIdentity,
    ) -> Result<Arc<dyn TemplatePlan>, Vec<PlanDiagnostic>> {
        Ok(self.bind_shared(template_body, parameters, identity)?)
    }
}

/// A [`BoundTemplate`] as the engine's [`TemplatePlan`]. Resources are converted once.
pub struct TemplateStackPlan {
    bound: BoundTemplate,
    resources: Vec<PlannedResource>,
    description: Option<String>,
}

impl std::fmt::Debug for TemplateStackPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateStackPlan")
            .field("resources", &self.resources)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl TemplateStackPlan {
    fn new(bound: BoundTemplate, description: Option<String>) -> Self {
        let resources = bound
            .resources()
            .iter()
            .map(|r| PlannedResource {
                logical_id: r.logical_id.clone(),
                resource_type: r.resource_type.clone(),
                depends_on: r.depends_on.clone(),
                deletion_policy: policy(r.deletion_policy),
                update_replace_policy: policy(r.update_replace_policy),
            })
            .collect();
        Self {
            bound,
            resources,
            description,
        }
    }

    /// The bound template (conditions, parameter values, levels).
    pub fn bound(&self) -> &BoundTemplate {
        &self.bound
    }
}

impl TemplatePlan for TemplateStackPlan {
    fn resources(&self) -> &[PlannedResource] {
        &self.resources
    }

    fn resolve_properties(
        &self,
        logical_id: &str,
        lookup: &dyn ResourceLookup,
    ) -> Result<Value, ResolveError> {
        self.bound
            .resolve_properties(logical_id, &Bridge(lookup))
            .map_err(resolve_error)
    }

    fn resolve_outputs(
        &self,
        lookup: &dyn ResourceLookup,
    ) -> Result<Vec<ResolvedOutput>, ResolveError> {
        let outputs = self
            .bound
            .resolve_outputs(&Bridge(lookup))
            .map_err(resolve_error)?;
        Ok(outputs
            .into_iter()
            .map(|o| ResolvedOutput {
                key: o.key,
                value: o.value,
                description: o.description,
                export_name: o.export_name,
            })
            .collect())
    }

    fn imports(&self) -> Vec<String> {
        self.bound.imports()
    }

    fn displayed_parameters(&self) -> BTreeMap<String, String> {
        self.bound.displayed_parameters()
    }

    fn resolved_parameters(&self) -> BTreeMap<String, String> {
        self.bound.resolved_parameters()
    }

    fn description(&self) -> Option<String> {
        self.description.clone()
    }
}

/// The engine's lookup seen as the template crate's.
struct Bridge<'a>(&'a dyn ResourceLookup);

impl tpl::ResourceLookup for Bridge<'_> {
    fn physical_id(&self, logical_id: &str) -> Option<String> {
        self.0.physical_id(logical_id)
    }
    fn attribute(&self, logical_id: &str, attribute: &str) -> Option<Value> {
        self.0.attribute(logical_id, attribute)
    }
    fn import_value(&self, export_name: &str) -> Option<String> {
        self.0.import_value(export_name)
    }
}

fn policy(p: tpl::Policy) -> Policy {
    match p {
        tpl::Policy::Delete => Policy::Delete,
        tpl::Policy::Retain => Policy::Retain,
        tpl::Policy::RetainExceptOnCreate => Policy::RetainExceptOnCreate,
        tpl::Policy::Snapshot => Policy::Snapshot,
    }
}

/// A template problem as the engine reports it.
pub fn diag(e: &TemplateError) -> PlanDiagnostic {
    PlanDiagnostic {
        code: e.code.as_str().to_string(),
        message: e.message.clone(),
        line: e.location.map(|p| p.line),
        column: e.location.map(|p| p.col),
    }
}

fn diags(errors: Vec<TemplateError>) -> Vec<PlanDiagnostic> {
    errors.iter().map(diag).collect()
}

fn resolve_error(e: TemplateError) -> ResolveError {
    ResolveError { message: e.message }
}

fn at(code: &str, message: String, pos: Option<Pos>) -> PlanDiagnostic {
    PlanDiagnostic {
        code: code.to_string(),
        message,
        line: pos.map(|p| p.line),
        column: pos.map(|p| p.col),
    }
}

/// `Snapshot` on a type that cannot be snapshotted is refused when the stack operation is
/// submitted, located at the policy attribute. An `AWS::RDS::DBInstance` that belongs to a
/// cluster (`DBClusterIdentifier`) is refused with the message AWS gives for it.
fn snapshot_policy_errors(bound: &BoundTemplate) -> Vec<PlanDiagnostic> {
    let resources = bound.processed_template().get("Resources");
    let mut out = Vec::new();
    for r in bound.resources() {
        let node = resources.and_then(|rs| rs.get(&r.logical_id));
        for (attr, p) in [
            ("DeletionPolicy", r.deletion_policy),
            ("UpdateReplacePolicy", r.update_replace_policy),
        ] {
            if p != tpl::Policy::Snapshot {
                continue;
            }
            let pos = node
                .and_then(|n| n.get(attr))
                .map(|n| n.pos)
                .or(Some(r.pos));
            if !SNAPSHOT_TYPES.contains(&r.resource_type.as_str()) {
                out.push(at(
                    SNAPSHOT_CODE,
                    format!(
                        "Template error: resource {} of type {} does not support the {attr} Snapshot; only {} support it",
                        r.logical_id,
                        r.resource_type,
                        SNAPSHOT_TYPES.join(", ")
                    ),
                    pos,
                ));
            } else if r.resource_type == "AWS::RDS::DBInstance"
                && node
                    .and_then(|n| n.get("Properties"))
                    .and_then(|p| p.get("DBClusterIdentifier"))
                    .is_some()
            {
                out.push(at(
                    SNAPSHOT_CODE,
                    format!(
                        "{attr}:Snapshot cannot be specified for a cluster instance, use deletion policy on the cluster instead."
                    ),
                    pos,
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(name: &str) -> StackIdentity {
        StackIdentity {
            stack_name: name.into(),
            stack_id: format!("arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/x"),
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            notification_arns: vec![],
        }
    }

    #[test]
    fn one_parse_serves_every_stack_of_a_template() {
        let f = TemplatePlanFactory::new(None, None);
        let body = "Parameters:\n  P: {Type: String}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {QueueName: !Sub '${AWS::StackName}-${P}'}\n";
        let params = |v: &str| BTreeMap::from([("P".to_string(), v.to_string())]);
        let a = f.bind_shared(body, &params("1"), &identity("a")).unwrap();
        let b = f.bind_shared(body, &params("2"), &identity("b")).unwrap();
        assert!(!Arc::ptr_eq(&a, &b), "each stack gets its own binding");
        assert_eq!(f.parsed.lock().unwrap().len(), 1, "but one parse");
        // A broken body is reported every time and never kept.
        for _ in 0..2 {
            assert!(
                f.bind_shared("Resources: [", &params("1"), &identity("c"))
                    .is_err()
            );
        }
        assert_eq!(f.parsed.lock().unwrap().len(), 1);
        // Least recently used bodies leave first.
        for i in 0..PARSED_CACHE_SIZE {
            let other = format!("{body}Description: d{i}\n");
            f.bind_shared(&other, &params("1"), &identity("d")).unwrap();
        }
        assert!(f.parsed.lock().unwrap().iter().all(|(b, _)| &**b != body));
    }
}
