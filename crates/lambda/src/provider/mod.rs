//! The native CloudFormation providers of Lambda, over the [`Functions`] state.

mod function;
mod related;

use std::sync::Arc;

use sagestack_engine::ResourceProvider;

pub use function::{FunctionProvider, TYPE_NAME as FUNCTION};
pub use related::{ALIAS, PERMISSION, RelatedProvider, VERSION};

use crate::functions::Functions;

/// `(resource type, provider)` pairs for `ServiceConfig::with_native_provider`.
pub fn providers(functions: Arc<Functions>) -> Vec<(String, Arc<dyn ResourceProvider>)> {
    let related: Arc<dyn ResourceProvider> = Arc::new(RelatedProvider::new(functions.clone()));
    vec![
        (
            FUNCTION.to_string(),
            Arc::new(FunctionProvider::new(functions)) as Arc<dyn ResourceProvider>,
        ),
        (PERMISSION.to_string(), related.clone()),
        (VERSION.to_string(), related.clone()),
        (ALIAS.to_string(), related),
    ]
}
