//! Test support shared by this crate's unit tests.

use std::sync::Arc;

use sagestack_engine::FakeClock;
use sagestack_store::Store;

use crate::{ModelPackageGroups, Projects, Provisioner, SageMakerService};

/// A clock that starts at 2023-11-14T22:13:20Z and moves one second per read, so
/// successive records get distinct, ordered times.
pub(crate) fn clock() -> Arc<FakeClock> {
    Arc::new(FakeClock::ticking(1_700_000_000_000, 1000))
}

/// The API over fresh states on `store`, telling `provisioner`.
pub(crate) fn api(store: Arc<dyn Store>, provisioner: Arc<dyn Provisioner>) -> SageMakerService {
    let clock = clock();
    SageMakerService::new(
        Arc::new(Projects::new(store.clone(), clock.clone())),
        Arc::new(ModelPackageGroups::new(store, clock)),
        provisioner,
    )
}
