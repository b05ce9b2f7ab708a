//! [`TemplateJobs`]: where template work (parsing, validation, binding) runs, so that one
//! heavy template cannot starve the request handling that shares its threads.
//!
//! The engine asks for plans synchronously from async code, and a 1 MB template (or a
//! refused bomb) takes real CPU to parse, validate and bind. Run on a tokio worker, that
//! work holds the worker: eight at once on a two-core machine left health checks waiting
//! for seconds. A job therefore
//! - leaves the async workers with [`tokio::task::block_in_place`] (the worker's other
//!   tasks move to a fresh worker while this thread blocks), and
//! - waits for one of a fixed number of permits (one per core by default), so template
//!   work never has more threads running than there are cores and the rest of the
//!   server always gets CPU;
//! - then runs on the calling thread with at least [`MIN_STACK_BYTES`] of stack left
//!   (`stacker` moves it onto a fresh stack of that size when the thread's own has less
//!   left): a worker's 2 MiB is not enough for evaluation at the template crate's depth
//!   limits in a debug build.
//!
//! Why on the calling thread: a thread started per job (with a stack that size) cost
//! 0.1-0.25 ms a job on a quiet two-core machine and about 2 ms with a build running on
//! both cores, as much as the rest of a 10-resource `CreateStack` (measured through the
//! API); a standing pool of job threads (rayon's) was as fast, but its idle threads spin
//! on `sched_yield` after each job (about 8% of `perf`'s samples in a run of small stack
//! operations).
//!
//! Outside a multi-threaded runtime (unit tests on a current-thread runtime, the CLI),
//! `block_in_place` is not available and there is nothing to protect: jobs run inline,
//! with the same stack.

use std::sync::Arc;

use sagestack_template::MIN_STACK_BYTES;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::Semaphore;

/// Runs template work off the async workers, a bounded number at a time. Clones share the
/// permits.
#[derive(Clone, Debug)]
pub struct TemplateJobs {
    permits: Arc<Semaphore>,
}

impl TemplateJobs {
    /// At most `concurrency` jobs at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// One job per core.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, usize::from))
    }

    /// Runs `f` as a template job. Must not be nested: a job that started another would
    /// hold one permit while waiting for a second.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| {
                    // Inside `block_in_place` this thread may block, here on the permit.
                    // The semaphore is never closed, so `acquire` only fails if it were.
                    let _permit = handle.block_on(self.permits.acquire());
                    with_stack(f)
                })
            }
            _ => with_stack(f),
        }
    }
}

/// `f` with at least [`MIN_STACK_BYTES`] of stack (see the module documentation).
fn with_stack<T>(f: impl FnOnce() -> T) -> T {
    stacker::maybe_grow(MIN_STACK_BYTES, MIN_STACK_BYTES, f)
}

impl Default for TemplateJobs {
    fn default() -> Self {
        Self::per_core()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_leave_the_workers_free_and_run_a_bounded_number_at_once() {
        let jobs = TemplateJobs::new(1);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (jobs, running, most) = (jobs.clone(), running.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                jobs.run(|| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Busy, as parsing is: without block_in_place this would hold a worker.
                    let until = Instant::now() + Duration::from_millis(150);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            }));
        }
        // While four jobs occupy (or wait for) the single permit, a plain task on the
        // workers still gets to run promptly.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let asked = Instant::now();
        tokio::spawn(async {}).await.unwrap();
        assert!(
            asked.elapsed() < Duration::from_millis(50),
            "{:?}",
            asked.elapsed()
        );
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }

    /// Recursion as deep as the template crate allows, with a debug build's frames.
    fn nest(n: usize) -> usize {
        let pad = std::hint::black_box([0u8; 16 * 1024]);
        if n == 0 {
            0
        } else {
            1 + nest(n - 1) + usize::from(pad[0])
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_have_the_stack_template_work_needs_and_the_runtime() {
        let (depth, runtime) = TemplateJobs::new(1).run(|| {
            (
                nest(sagestack_template::MAX_EVAL_DEPTH),
                Handle::try_current().is_ok(),
            )
        });
        assert_eq!(depth, sagestack_template::MAX_EVAL_DEPTH);
        assert!(runtime);
    }

    #[tokio::test]
    async fn a_current_thread_runtime_runs_jobs_inline_with_the_stack_they_need() {
        let caller = std::thread::current().id();
        let (depth, thread) = TemplateJobs::new(1).run(|| {
            (
                nest(sagestack_template::MAX_EVAL_DEPTH),
                std::thread::current().id(),
            )
        });
        assert_eq!(depth, sagestack_template::MAX_EVAL_DEPTH);
        assert_eq!(thread, caller);
    }
}
