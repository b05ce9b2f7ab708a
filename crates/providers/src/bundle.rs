//! The bundled CloudFormation resource schemas: loaded once, compiled per type on demand.
//!
//! `data/schemas.json.gz` is written by `scripts/gen-provider-schemas.py` (see
//! `data/README.md` for its source and licence). Loading inflates it and splits it into one
//! raw JSON text per type (no per-type parsing); a type is parsed and compiled the first
//! time someone asks for it, and the result is kept for the life of the process. So the
//! first stack pays a few milliseconds for the whole index and a fraction of a millisecond
//! per type it uses, never the cost of all ~1,600 types.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, LazyLock, OnceLock};

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::schema::{self, ResourceSchema};

static BUNDLE_GZ: &[u8] = include_bytes!("../data/schemas.json.gz");

static BUNDLE: LazyLock<Bundle> =
    LazyLock::new(|| Bundle::from_gzip(BUNDLE_GZ).expect("the bundled schemas are valid"));

/// The process-wide bundle, loaded on first use.
pub fn bundle() -> &'static Bundle {
    &BUNDLE
}

/// An index of resource schemas by type name.
pub struct Bundle {
    source: String,
    /// Sorted type names.
    names: Vec<String>,
    index: HashMap<String, usize>,
    raw: Vec<Box<RawValue>>,
    compiled: Vec<OnceLock<Arc<ResourceSchema>>>,
    uncompressed_len: usize,
}

#[derive(Deserialize)]
struct RawBundle {
    source: String,
    types: std::collections::BTreeMap<String, Box<RawValue>>,
}

/// Why a bundle could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot inflate the schema bundle: {0}")]
    Inflate(#[from] std::io::Error),
    #[error("the schema bundle is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Bundle {
    /// Read a gzip-compressed bundle (the format `gen-provider-schemas.py` writes).
    pub fn from_gzip(bytes: &[u8]) -> Result<Bundle, BundleError> {
        let mut text = String::with_capacity(bytes.len() * 10);
        flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?;
        Self::from_json(&text)
    }

    /// Read an uncompressed bundle.
    pub fn from_json(text: &str) -> Result<Bundle, BundleError> {
        let parsed: RawBundle = serde_json::from_str(text)?;
        let mut names = Vec::with_capacity(parsed.types.len());
        let mut raw = Vec::with_capacity(parsed.types.len());
        for (name, value) in parsed.types {
            names.push(name);
            raw.push(value);
        }
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let compiled = (0..names.len()).map(|_| OnceLock::new()).collect();
        Ok(Bundle {
            source: parsed.source,
            names,
            index,
            raw,
            compiled,
            uncompressed_len: text.len(),
        })
    }

    /// Load a fresh copy of the bundled data (the shared one is [`bundle`]); for benchmarks.
    pub fn load_embedded() -> Bundle {
        Self::from_gzip(BUNDLE_GZ).expect("the bundled schemas are valid")
    }

    /// Where the schemas came from, e.g. `cfn-lint 1.51.0, us-east-1 provider schemas`.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Sizes of the bundle: (uncompressed JSON bytes, compressed bytes embedded).
    pub fn sizes(&self) -> (usize, usize) {
        (self.uncompressed_len, BUNDLE_GZ.len())
    }

    /// Every type name, sorted.
    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn contains(&self, type_name: &str) -> bool {
        self.index.contains_key(type_name)
    }

    /// The compiled schema of `type_name`, compiling it on first use.
    pub fn get(&self, type_name: &str) -> Option<Arc<ResourceSchema>> {
        let i = *self.index.get(type_name)?;
        Some(
            self.compiled[i]
                .get_or_init(|| {
                    // The raw text came out of a successful parse, so it is valid JSON.
                    let value: serde_json::Value =
                        serde_json::from_str(self.raw[i].get()).unwrap_or_default();
                    Arc::new(schema::compile(&self.names[i], &value))
                })
                .clone(),
        )
    }

    /// Compile every type (tests and reports; a server never needs this).
    pub fn compile_all(&self) -> Vec<Arc<ResourceSchema>> {
        self.names.iter().filter_map(|n| self.get(n)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundle_loads_and_indexes_types() {
        let b = bundle();
        assert!(b.len() > 1000, "only {} types", b.len());
        assert!(b.contains("AWS::S3::Bucket"));
        assert!(!b.contains("AWS::S3::Nope"));
        let s = b.get("AWS::SQS::Queue").unwrap();
        assert_eq!(s.primary_identifier(), ["/properties/QueueUrl"]);
        let (raw, gz) = b.sizes();
        assert!(gz < 2 << 20 && raw > gz, "raw {raw} gz {gz}");
        assert!(b.source().starts_with("cfn-lint"));
    }

    #[test]
    fn a_bad_bundle_is_an_error_not_a_panic() {
        assert!(Bundle::from_gzip(b"not gzip").is_err());
        assert!(Bundle::from_json("{\"source\": 1}").is_err());
    }
}
