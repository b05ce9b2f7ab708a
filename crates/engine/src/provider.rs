//! The resource-provider contract: how the stack engine reaches the world.
//!
//! The engine never creates a bucket or a role itself. For each resource of a stack it
//! hands the *resolved* properties (every intrinsic already evaluated, so plain JSON) to a
//! [`ResourceProvider`] chosen by resource type, and stores what comes back: the physical
//! id and the attributes that `Fn::GetAtt` reads. Providers are async because real ones do
//! I/O (the embedded S3 store, the SSM parameter table, a custom-resource webhook).
//!
//! Providers are looked up through a [`ProviderRegistry`]: native providers (backed by
//! state the server keeps) are registered per type; anything else falls through to the
//! fallback provider (the schema-driven one, `sagestack-providers`).

mod computed;
pub mod kit;
mod native;
mod other_store;
mod record_only;

pub use computed::Computed;
pub use native::{Native, Outcome};
pub use other_store::InOtherStore;
pub use record_only::RecordOnlyProvider;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What [`computed_provider!`](crate::computed_provider) expands to needs, whether or
/// not the crate using it depends on these itself.
#[doc(hidden)]
pub mod __private {
    pub use async_trait::async_trait;
    pub use serde_json::Value;
}

/// Where a resource lives: everything a provider needs to build ARNs and names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ResourceContext {
    pub region: String,
    pub account_id: String,
    /// `aws`, `aws-cn` or `aws-us-gov`, derived from the region.
    pub partition: String,
    pub stack_name: String,
    /// The stack ARN.
    pub stack_id: String,
    pub logical_id: String,
    /// E.g. `AWS::S3::Bucket`.
    pub resource_type: String,
    /// Tags the stack propagates to every taggable resource (stack tags, `sagemaker:*`).
    #[serde(default)]
    pub stack_tags: Vec<(String, String)>,
    /// When the action was recorded as started (the in-progress record's `last_updated`,
    /// epoch milliseconds). With the stack and logical ids it names one create attempt,
    /// so a name drawn from [`attempt_chars`] comes out the same when recovery looks for
    /// what an interrupted create made.
    #[serde(default)]
    pub started: crate::model::EpochMillis,
}

/// What a provider returns after create, update or read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ResourceState {
    /// What `Ref` returns for this resource.
    pub physical_id: String,
    /// Attribute name -> value, as read by `Fn::GetAtt` (e.g. `Arn`, `DomainName`).
    pub attributes: Map<String, Value>,
}

/// Whether changing a property replaces the resource (from the schema's `createOnlyProperties`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UpdateBehavior {
    /// Updated in place.
    NoInterruption,
    /// A new physical resource is created and the old one deleted in cleanup.
    Replacement,
    /// Replacement depends on the value (e.g. only some property changes replace).
    Conditional,
}

/// Static facts about a resource type, used to plan updates before any provider runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TypeInfo {
    pub type_name: String,
    /// Top-level property names whose change forces replacement.
    pub create_only_properties: Vec<String>,
    /// Attribute names `Fn::GetAtt` may read.
    pub attributes: Vec<String>,
    /// Whether the type takes a `Tags` property.
    pub taggable: bool,
    /// The property that names the resource (`BucketName`, `RoleName`, ...), when it has
    /// one: a resource given that name cannot be replaced under the same name, so an
    /// update that would replace it fails first, as in CloudFormation.
    #[serde(default)]
    pub name_property: Option<String>,
    /// Other resources' list attributes that this type's resources add to (see
    /// [`crate::amend`]).
    #[serde(default)]
    pub amends: Vec<crate::amend::Amend>,
}

impl TypeInfo {
    /// The same facts, with `property` as the naming property.
    pub fn named(mut self, property: &str) -> TypeInfo {
        self.name_property = Some(property.to_string());
        self
    }
}

/// Why a provider refused or failed. The message is what the stack event's
/// `ResourceStatusReason` shows, so it must say what went wrong in AWS's words.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderError {
    /// Properties do not satisfy the type's schema or the service's rules.
    #[error("{0}")]
    InvalidRequest(String),
    /// A resource with this name or identifier already exists.
    #[error("{0}")]
    AlreadyExists(String),
    /// The physical resource is gone (read/update/delete).
    #[error("{0}")]
    NotFound(String),
    /// The service refused the operation in its current state (e.g. a non-empty bucket).
    #[error("{0}")]
    Conflict(String),
    /// No provider handles this type.
    #[error("{0}")]
    UnsupportedType(String),
    /// Anything else (I/O, a custom-resource endpoint that failed).
    #[error("{0}")]
    Internal(String),
}

impl ProviderError {
    /// Whether the service behind the provider could not reach its database: an
    /// internal failure whose text is a store's unreachable error, starting with
    /// [`crate::store::UNREACHABLE`] (a message that merely *mentions* those words, say
    /// a custom resource handler's own failure reason, does not count). The action was
    /// interrupted, not refused, and the engine pauses the operation rather than failing
    /// the resource (see `ops/calls.rs`, `Run::outage`).
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Internal(m) if m.starts_with(crate::store::UNREACHABLE))
    }
}

/// What a provider reads of a resource for drift detection.
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// Every property the provider checks, by its CloudFormation name: the live value, or
    /// `null` where the resource has none (or, for a property the template leaves unset,
    /// only the default). Properties not listed are not compared.
    Properties(Map<String, Value>),
    /// The resource no longer exists.
    Gone,
    /// This type's live configuration cannot be read here.
    NotChecked,
}

/// One resource type's create / read / update / delete.
#[async_trait]
pub trait ResourceProvider: Send + Sync {
    /// Facts about `type_name`, or `None` when this provider does not know the type.
    fn type_info(&self, type_name: &str) -> Option<TypeInfo>;

    /// Whether this provider knows `type_name` (`type_info(type_name).is_some()`, which
    /// a provider whose `TypeInfo` costs allocations should answer without building one:
    /// the registry asks it for every resource).
    fn handles(&self, type_name: &str) -> bool {
        self.type_info(type_name).is_some()
    }

    /// Whether this provider's actions on `type_name` reach anything outside the engine's store (a
    /// webhook, another service). The engine then flushes its records to stable storage
    /// before each create, update or delete (see [`crate::durability`]). Providers that
    /// keep their resources in the same store as the stacks (or nowhere) say `false`.
    fn effects_outside_store(&self, type_name: &str) -> bool {
        let _ = type_name;
        false
    }

    /// Whether a *delete* of `type_name` needs what [`Self::effects_outside_store`] gets
    /// (its `DELETE_IN_PROGRESS` recorded and flushed before the call). It does not when
    /// the provider flushes its delete to stable storage before returning and a repeated
    /// delete finds nothing to do: then a crash before the outcome is recorded leaves
    /// the record as it was, and the resumed delete succeeds, as for a delete inside the
    /// store. [`crate::provider::InOtherStore`] says `false`; everyone else, by default,
    /// what `effects_outside_store` says.
    fn deletes_outside_store(&self, type_name: &str) -> bool {
        self.effects_outside_store(type_name)
    }

    /// Whether creating or deleting `type_name` leaves anything behind (a record in a
    /// store, an effect elsewhere) that recovery after a crash would have to find. A
    /// provider that only computes (ids, attributes) from the request says `false`, and
    /// the engine then writes the resource's "started" record together with its outcome
    /// instead of before the call: one store write instead of two.
    fn keeps_state(&self, type_name: &str) -> bool {
        let _ = type_name;
        true
    }

    /// Create the resource from its resolved properties (a JSON object, `{}` when absent).
    async fn create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
    ) -> Result<ResourceState, ProviderError>;

    /// Update in place. Only called when no changed property is create-only; the engine
    /// handles replacement as create-new + delete-old.
    async fn update(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Result<ResourceState, ProviderError>;

    /// Delete the physical resource. Deleting something already gone is success.
    async fn delete(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<(), ProviderError>;

    /// Read the physical resource back, `None` when it no longer exists. The default,
    /// for providers with nothing to read from (a custom resource's protocol has no Read,
    /// a record-only type lives only in the stack), trusts what was last recorded.
    async fn read(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let _ = (ctx, properties);
        Ok(Some(current.clone()))
    }

    /// The resource read back for drift detection (see [`crate::drift`]). The default,
    /// for types whose live configuration this server does not hold (schema-recorded
    /// ones, custom resources), is [`Live::NotChecked`], as AWS reports types it cannot
    /// check.
    async fn live(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        properties: &Value,
    ) -> Result<Live, ProviderError> {
        let _ = (ctx, current, properties);
        Ok(Live::NotChecked)
    }

    /// After a restart, for a create whose result was never recorded (its record was
    /// left `CREATE_IN_PROGRESS`, so no physical id is known): the resource that create
    /// made, if it made one. Recovery records it so the rollback deletes it; otherwise
    /// an explicitly named resource would be orphaned and block every later create of
    /// the same name. `started` (epoch milliseconds) is when the create was recorded as
    /// started: a resource that existed before then belongs to someone else and must
    /// not be returned. The default, for providers that cannot tell, is `None`.
    async fn find_interrupted_create(
        &self,
        ctx: &ResourceContext,
        properties: &Value,
        started: crate::model::EpochMillis,
    ) -> Result<Option<ResourceState>, ProviderError> {
        let _ = (ctx, properties, started);
        Ok(None)
    }
}

/// `len` characters from `alphabet`, fixed by the create attempt `ctx` names (stack id,
/// logical id, start time): the random-looking part of a generated physical name, which
/// [`ResourceProvider::find_interrupted_create`] can compute again after a crash and look
/// up. Distinct attempts (another stack, a replacement, a retry after a rollback) get
/// distinct characters. The mixing (FNV-1a, then splitmix64) is fixed here rather than
/// taken from `std`'s hasher so that the next build computes the same name.
pub fn attempt_chars(ctx: &ResourceContext, alphabet: &[u8], len: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let started = ctx.started.to_le_bytes();
    for part in [ctx.stack_id.as_bytes(), ctx.logical_id.as_bytes(), &started] {
        for b in part.iter().chain(std::iter::once(&0xff)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let base = alphabet.len().max(1) as u64;
    (0..len)
        .map(|_| {
            h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = h;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            alphabet[(z % base) as usize] as char
        })
        .collect()
}

/// Lowercase letters and digits, for [`random_chars`].
pub const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Uppercase letters and digits, for [`random_chars`].
pub const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Letters of both cases and digits, for [`random_chars`].
pub const MIXED_ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` characters drawn at random from `alphabet` (from version 4 UUIDs): the random
/// part of generated physical names and service ids (`p-…`, `port-…`, `AROA…`). Not for
/// secrets; reproducible names come from the schema provider's seeded generator instead.
pub fn random_chars(alphabet: &[u8], len: usize) -> String {
    let base = alphabet.len() as u128;
    // Draw while a UUID's 122 random bits still cover a full character.
    let per_uuid = (122.0 / (base as f64).log2()).floor().max(1.0) as usize;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut n = uuid::Uuid::new_v4().as_u128();
        for _ in 0..per_uuid.min(len - out.len()) {
            out.push(alphabet[(n % base) as usize] as char);
            n /= base;
        }
    }
    out
}

#[cfg(test)]
mod random_tests {
    use super::*;

    #[test]
    fn random_chars_has_the_length_and_alphabet_asked() {
        for len in [0, 1, 12, 13, 40] {
            let s = random_chars(LOWER_ALNUM, len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| LOWER_ALNUM.contains(&b)), "{s}");
        }
        assert_ne!(random_chars(MIXED_ALNUM, 20), random_chars(MIXED_ALNUM, 20));
    }
}

/// Chooses the provider for a resource type: an exact registration first, then the fallback.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    by_type: HashMap<String, Arc<dyn ResourceProvider>>,
    fallback: Option<Arc<dyn ResourceProvider>>,
}

impl ProviderRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Route `type_name` to `provider`, replacing any earlier registration.
    pub fn register(&mut self, type_name: impl Into<String>, provider: Arc<dyn ResourceProvider>) {
        self.by_type.insert(type_name.into(), provider);
    }

    /// The provider asked for every type nobody registered.
    pub fn set_fallback(&mut self, provider: Arc<dyn ResourceProvider>) {
        self.fallback = Some(provider);
    }

    /// The provider for `type_name`, or `None` when neither a registration nor the fallback
    /// knows it.
    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn ResourceProvider>> {
        if let Some(p) = self.by_type.get(type_name) {
            return Some(p);
        }
        self.fallback.as_ref().filter(|p| p.handles(type_name))
    }

    /// Type facts from whichever provider handles `type_name`.
    pub fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        self.get(type_name).and_then(|p| p.type_info(type_name))
    }
}

/// The AWS partition of a region name (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso`,
/// `aws-iso-b`): the one place every service builds ARNs from.
pub fn partition_for_region(region: &str) -> &'static str {
    const PARTITIONS: [(&str, &str); 4] = [
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ];
    PARTITIONS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}

/// `arn:{partition}:{service}:{region}:{account_id}:{resource}`, the partition the
/// region's: the ARN of every resource a service here keeps.
pub fn arn(
    region: &str,
    account_id: &str,
    service: &str,
    resource: impl std::fmt::Display,
) -> String {
    let partition = partition_for_region(region);
    format!("arn:{partition}:{service}:{region}:{account_id}:{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_chars_are_fixed_by_the_attempt() {
        let ctx = ResourceContext {
            stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/1".into(),
            logical_id: "Bucket".into(),
            started: 1_700_000_000_123,
            ..ResourceContext::default()
        };
        let a = attempt_chars(&ctx, LOWER_ALNUM, 12);
        assert_eq!(a, attempt_chars(&ctx.clone(), LOWER_ALNUM, 12));
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| LOWER_ALNUM.contains(&b)));
        // Pinned: a name must come out the same from the next build (recovery recomputes it).
        assert_eq!(a, "5enn03o464hq");
        for other in [
            ResourceContext {
                started: ctx.started + 1,
                ..ctx.clone()
            },
            ResourceContext {
                logical_id: "Bucket2".into(),
                ..ctx.clone()
            },
            ResourceContext {
                stack_id: format!("{}x", ctx.stack_id),
                ..ctx.clone()
            },
        ] {
            assert_ne!(attempt_chars(&other, LOWER_ALNUM, 12), a);
        }
    }

    /// A provider of the one type `type_name`.
    fn only(type_name: &'static str) -> Arc<RecordOnlyProvider> {
        Arc::new(RecordOnlyProvider::new(
            move |t| (t == type_name).then(|| kit::type_info(t, &[], &[], false)),
            |_, _| ResourceState::default(),
        ))
    }

    #[test]
    fn registration_wins_over_fallback_and_unknown_types_are_none() {
        let mut reg = ProviderRegistry::new();
        reg.set_fallback(only("AWS::SQS::Queue"));
        reg.register("AWS::S3::Bucket", only("AWS::S3::Bucket"));
        assert_eq!(
            reg.type_info("AWS::S3::Bucket").unwrap().type_name,
            "AWS::S3::Bucket"
        );
        assert_eq!(
            reg.type_info("AWS::SQS::Queue").unwrap().type_name,
            "AWS::SQS::Queue"
        );
        assert!(reg.get("AWS::Nope::Nope").is_none());
    }

    #[test]
    fn partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-isob-east-1", "aws-iso-b"),
            ("us-iso-east-1", "aws-iso"),
        ] {
            assert_eq!(partition_for_region(region), partition, "{region}");
        }
        assert_eq!(
            arn("cn-north-1", "123456789012", "logs", "log-group:g"),
            "arn:aws-cn:logs:cn-north-1:123456789012:log-group:g"
        );
    }

    #[test]
    fn only_a_stores_unreachable_error_is_an_outage() {
        let down =
            ProviderError::Internal(format!("{}: connection refused", crate::store::UNREACHABLE));
        assert!(down.is_outage());
        // A handler's own failure that mentions the words is the resource's failure.
        let handler = ProviderError::Internal(format!(
            "Received response status [FAILED] from custom resource. Message returned: {}: x",
            crate::store::UNREACHABLE
        ));
        assert!(!handler.is_outage());
        let refused = ProviderError::InvalidRequest(format!("{}: x", crate::store::UNREACHABLE));
        assert!(!refused.is_outage());
    }
}
