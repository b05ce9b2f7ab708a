//! [`SchemaProvider`]: every bundled type as an inert but schema-faithful record.

use std::hash::Hasher;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use sagestack_engine::provider::{
    Computed, Outcome, ProviderError, ResourceContext, ResourceState, TypeInfo,
};

use crate::bundle::{Bundle, bundle};
use crate::identity::{Generator, name_property, resource_name};
use crate::naming::{Fnv, Rng, rfc3339};
use crate::schema::ResourceSchema;
use crate::validate::{Violation, or_empty, validate, validated};

/// The time a seeded provider stamps on every timestamp attribute (2024-01-01T00:00:00Z).
const SEEDED_EPOCH_SECS: u64 = 1_704_067_200;

/// The stack-event reason for a type no provider handles, at provisioning time.
pub fn unsupported_type_message(type_name: &str) -> String {
    format!(
        "Resource type {type_name} is not supported by sagestack (enable inert types to accept it)"
    )
}

/// What CloudFormation says when a template names types it does not know (at validation).
pub fn unrecognized_types_message<S: AsRef<str>>(type_names: &[S]) -> String {
    let names: Vec<&str> = type_names.iter().map(AsRef::as_ref).collect();
    format!(
        "Template format error: Unrecognized resource types: [{}]",
        names.join(", ")
    )
}

/// The schema-driven provider for every type in the bundle.
///
/// It validates properties against the type's schema, derives the physical id and every
/// read-only attribute, and keeps no state of its own: the engine stores the returned
/// [`ResourceState`], and `read` hands it back.
#[derive(Clone)]
pub struct SchemaProvider {
    bundle: &'static Bundle,
    seed: Option<u64>,
}

impl Default for SchemaProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaProvider {
    /// A provider over the bundled schemas with random names and ids.
    pub fn new() -> SchemaProvider {
        SchemaProvider {
            bundle: bundle(),
            seed: None,
        }
    }

    /// A deterministic provider: the same seed, resource and properties always give the
    /// same name, ids and timestamps (for tests and reproducible demos).
    pub fn with_seed(seed: u64) -> SchemaProvider {
        SchemaProvider {
            bundle: bundle(),
            seed: Some(seed),
        }
    }

    /// The compiled schema of `type_name`, if bundled.
    pub fn schema(&self, type_name: &str) -> Option<Arc<ResourceSchema>> {
        self.bundle.get(type_name)
    }

    /// Whether `type_name` is a bundled type.
    pub fn knows(&self, type_name: &str) -> bool {
        self.bundle.contains(type_name)
    }

    /// Validate `properties` for `type_name`: `Ok` or every violation.
    pub fn check(&self, type_name: &str, properties: &Value) -> Result<(), Vec<Violation>> {
        let Some(schema) = self.schema(type_name) else {
            return Ok(());
        };
        let v = validate(&schema, or_empty(properties));
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    fn schema_for(&self, ctx: &ResourceContext) -> Result<Arc<ResourceSchema>, ProviderError> {
        self.schema(&ctx.resource_type).ok_or_else(|| {
            ProviderError::UnsupportedType(unsupported_type_message(&ctx.resource_type))
        })
    }

    /// The random source for a new resource.
    fn create_rng(&self, ctx: &ResourceContext, properties: &Value) -> Rng {
        match self.seed {
            Some(seed) => {
                let mut h = Fnv::new();
                h.write_u64(seed);
                for part in [&ctx.stack_id, &ctx.logical_id, &ctx.resource_type] {
                    h.write(part.as_bytes());
                    h.write_u8(0);
                }
                // The properties take part so that a replacement (new create-only values)
                // gets a new name, as CloudFormation's replacement does.
                h.write(properties.to_string().as_bytes());
                Rng::new(h.finish())
            }
            None => Rng::from_entropy(),
        }
    }

    /// The random source for regenerating an existing resource's attributes.
    fn existing_rng(&self, physical_id: &str) -> Rng {
        let mut h = Fnv::new();
        h.write_u64(self.seed.unwrap_or(0));
        h.write(physical_id.as_bytes());
        Rng::new(h.finish())
    }

    fn now(&self) -> String {
        match self.seed {
            Some(_) => rfc3339(SEEDED_EPOCH_SECS),
            None => rfc3339(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(SEEDED_EPOCH_SECS),
            ),
        }
    }
}

// Nothing exists outside the record the engine keeps.
sagestack_engine::computed_provider!(SchemaProvider);

impl Computed for SchemaProvider {
    fn handles(&self, type_name: &str) -> bool {
        self.knows(type_name)
    }

    fn type_info(&self, type_name: &str) -> Option<TypeInfo> {
        let schema = self.schema(type_name)?;
        Some(TypeInfo {
            type_name: type_name.to_string(),
            create_only_properties: schema.create_only_top_level(),
            attributes: schema.attribute_names(),
            taggable: schema.taggable(),
            name_property: name_property(&schema),
            amends: crate::identity::amends(type_name),
        })
    }

    fn created(&self, ctx: &ResourceContext, properties: &Value) -> Outcome<ResourceState> {
        let schema = self.schema_for(ctx)?;
        let props = validated(&schema, &ctx.logical_id, properties)?;
        let mut rng = self.create_rng(ctx, props);
        let name = resource_name(&schema, ctx, props, &mut rng);
        let generator = Generator {
            ctx,
            schema: &schema,
            properties: props,
            name,
            rng: rng.fork("attributes"),
            now: self.now(),
        };
        let attributes = generator.attributes();
        let physical_id = generator.physical_id(&attributes);
        Ok(ResourceState {
            physical_id,
            attributes,
        })
    }

    fn updated(
        &self,
        ctx: &ResourceContext,
        current: &ResourceState,
        old_properties: &Value,
        new_properties: &Value,
    ) -> Outcome<ResourceState> {
        let schema = self.schema_for(ctx)?;
        let new_props = validated(&schema, &ctx.logical_id, new_properties)?;
        let old_props = or_empty(old_properties);

        // Regenerate the attributes from the old and the new properties with the same name
        // and random source: whatever differs depends on a property that changed and takes
        // its new value; everything else keeps the value the resource already has (ids,
        // ARNs, creation times stay put, as they do in AWS).
        let name = name_property(&schema)
            .and_then(|p| {
                new_props
                    .get(p.as_str())
                    .or_else(|| old_props.get(p.as_str()))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_else(|| current.physical_id.clone());
        let rng = self.existing_rng(&current.physical_id);
        let now = self.now();
        let generate = |props: &Value| {
            Generator {
                ctx,
                schema: &schema,
                properties: props,
                name: name.clone(),
                rng: rng.clone(),
                now: now.clone(),
            }
            .attributes()
        };
        let before = generate(old_props);
        let after = generate(new_props);
        let mut attributes = Map::new();
        for (key, new_value) in after {
            let changed = before.get(&key) != Some(&new_value);
            let value = match current.attributes.get(&key) {
                Some(existing) if !changed => existing.clone(),
                _ => new_value,
            };
            attributes.insert(key, value);
        }
        Ok(ResourceState {
            physical_id: current.physical_id.clone(),
            attributes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(type_name: &str) -> ResourceContext {
        ResourceContext {
            region: "eu-west-1".into(),
            account_id: "123456789012".into(),
            partition: "aws".into(),
            stack_name: "st".into(),
            stack_id: "arn:aws:cloudformation:eu-west-1:123456789012:stack/st/x".into(),
            logical_id: "Res".into(),
            resource_type: type_name.into(),
            stack_tags: vec![],
            started: 0,
        }
    }

    /// Naming, attributes and the physical id for every bundled type, validation aside
    /// (most types require properties that only a real template provides).
    #[test]
    fn every_bundled_type_gets_an_id_and_all_its_attributes() {
        let p = SchemaProvider::with_seed(11);
        let empty = Value::Object(Map::new());
        let mut problems = Vec::new();
        for type_name in p.bundle.type_names() {
            let schema = p.schema(type_name).unwrap();
            let c = ctx(type_name);
            let mut rng = p.create_rng(&c, &empty);
            let name = resource_name(&schema, &c, &empty, &mut rng);
            let g = Generator {
                ctx: &c,
                schema: &schema,
                properties: &empty,
                name,
                rng,
                now: p.now(),
            };
            let attrs = g.attributes();
            let id = g.physical_id(&attrs);
            if id.is_empty() {
                problems.push(format!("{type_name}: empty physical id"));
            }
            for a in schema.attribute_names() {
                match attrs.get(&a) {
                    None | Some(Value::Null) => problems.push(format!("{type_name}: no {a}")),
                    Some(Value::String(s)) if s.is_empty() => {
                        problems.push(format!("{type_name}: empty {a}"))
                    }
                    Some(Value::String(s))
                        if (a.ends_with("Arn") || a.ends_with("ARN"))
                            && !s.starts_with("arn:aws:") =>
                    {
                        problems.push(format!("{type_name}: {a} = {s}"))
                    }
                    _ => {}
                }
            }
        }
        assert!(problems.is_empty(), "{problems:#?}");
    }
}
