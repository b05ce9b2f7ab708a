//! What the engine and the CloudFormation benchmarks share (the CloudFormation one
//! includes this file by path): the runtime stacks run on and the criterion settings of
//! a group of stack sizes, so that their numbers compare.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion};

/// The stack sizes (resources) every benchmark measures.
pub const SIZES: [usize; 3] = [10, 100, 500];

/// A two-worker multi-threaded runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The group `name`: ten samples over five seconds (a stack operation is slow).
pub fn group<'a>(c: &'a mut Criterion, name: &str) -> BenchmarkGroup<'a, WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    group
}
