//! The `sagestack` binary: parses the command line and runs the chosen command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    fixed_mmap_threshold();
    sagestack_server::cli::Cli::parse().run()
}

/// Allocations of 1 MiB and more (S3 bodies and the store's copies of them) are mapped
/// on their own, and unmapped when freed. glibc would otherwise raise its mmap threshold
/// to the size of the first large block freed (up to 32 MiB) and serve the next ones
/// from its heaps, which keep freed memory resident: on PostgreSQL, whose connections
/// read a body into a buffer of exactly its size, four sequential 32 MiB GETs left the
/// peak 70 MiB above the S3 body budget (`tests/py/test_s3_memory.py`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fixed_mmap_threshold() {
    // SAFETY: mallopt only changes a malloc parameter; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fixed_mmap_threshold() {}
