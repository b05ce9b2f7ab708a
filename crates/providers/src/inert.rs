//! [`InertProvider`]: opt-in acceptance of resource types sagestack does not model.
//!
//! Some users deploy templates with types that have no bundled schema (a third-party
//! registry type, a type newer than the bundle). Rather than fail the stack, they can name
//! those types (or accept every type): each becomes a bare record with a
//! CloudFormation-style generated physical id and no attributes. Nothing is validated,
//! because there is nothing to validate against.

use std::collections::BTreeSet;

use serde_json::Value;

use sagestack_engine::provider::{
    Computed, Outcome, ProviderError, ResourceContext, ResourceState, TypeInfo,
};

use crate::naming::{Rng, SUFFIX_LEN, physical_name};
use crate::schema_provider::unsupported_type_message;

/// Which types an [`InertProvider`] accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InertTypes {
    /// Every type.
    All,
    /// Exact type names, and prefixes written as `Vendor::Service::*`.
    Only(BTreeSet<String>),
}

/// Accepts the configured types as inert records.
#[derive(Debug, Clone)]
pub struct InertProvider {
    types: InertTypes,
    seed: Option<u64>,
}

/// Generated inert ids stay within this length (the common CloudFormation name limit).
const INERT_NAME_MAX: usize = 128;

impl InertProvider {
    /// Accept exactly these types (`AWS::Foo::Bar`) and prefixes (`MyOrg::Widgets::*`).
    pub fn only<I, S>(types: I) -> InertProvider
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        InertProvider {
            types: InertTypes::Only(types.into_iter().map(Into::into).collect()),
            seed: None,
        }
    }

    /// Accept every type.
    pub fn all() -> InertProvider {
        InertProvider {
            types: InertTypes::All,
            seed: None,
        }
    }

    /// Deterministic physical ids (for tests).
    pub fn with_seed(mut self, seed: u64) -> InertProvider {
        self.seed = Some(seed);
        self
    }

    pub fn types(&self) -> &InertTypes {
        &self.types
    }

    /// Whether `type_name` is accepted.
    pub fn accepts(&self, type_name: &str) -> bool {
        match &self.types {
            InertTypes::All => true,
            InertTypes::Only(set) => {
                set.contains(type_name)
                    || set.iter().any(|p| {
                        p.strip_suffix('*').is_some_and(|prefix| {
                            prefix.ends_with("::") && type_name.starts_with(prefix)
                        })
                    })
            }
        }
    }

    fn check(&self, ctx: &ResourceContext) -> Result<(), ProviderError> {
        if self.accepts(&ctx.resource_type) {
            Ok(())
        } else {
            Err(ProviderError::UnsupportedType(unsupported_type_message(
                &ctx.resource_type,
            )))
        }
    }
}

// The engine's record is the resource: nothing is kept, deleted or read elsewhere.
sagestack_engine::computed_provider!(InertProvider);

impl Computed for InertProvider {
    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        self.accepts(type_name).then(|| TypeInfo {
            type_name: type_name.to_string(),
            ..TypeInfo::default()
        })
    }

    fn created(&self, ctx: &ResourceContext, _properties: &Value) -> Outcome<ResourceState> {
        self.check(ctx)?;
        let mut rng = match self.seed {
            Some(seed) => Rng::new(seed).fork(&format!("{}\0{}", ctx.stack_id, ctx.logical_id)),
            None => Rng::from_entropy(),
        };
        let suffix = rng.upper_alnum(SUFFIX_LEN);
        Ok(ResourceState {
            physical_id: physical_name(
                &ctx.stack_name,
                &ctx.logical_id,
                &suffix,
                INERT_NAME_MAX,
                false,
            ),
            attributes: Default::default(),
        })
    }

    fn updated(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        _old: &Value,
        _new: &Value,
    ) -> Outcome<ResourceState> {
        self.check(ctx)?;
        Ok(current.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_service_prefixes() {
        let p = InertProvider::only(["AWS::New::Thing", "MyOrg::Widgets::*"]);
        assert!(p.accepts("AWS::New::Thing"));
        assert!(p.accepts("MyOrg::Widgets::Gear"));
        assert!(!p.accepts("MyOrg::Other::Gear"));
        assert!(!p.accepts("AWS::New::Thing2"));
        assert!(InertProvider::all().accepts("Anything::At::All"));
        // A bare `*` is not a prefix pattern: "accept everything" is `InertProvider::all()`.
        assert!(!InertProvider::only(["*"]).accepts("AWS::S3::Bucket"));
    }
}
