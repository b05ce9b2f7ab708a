//! The `sagestack` binary: parses the command line and runs the chosen command.

use clap::Parser;

/// mimalloc rather than glibc's malloc: in a 500-resource stack delete, glibc's `malloc`,
/// `free` and `malloc_consolidate` were about a fifth of the server's CPU (the engine's
/// records and events are many small JSON maps and strings), and the delete takes about
/// a sixth less time with mimalloc (docs/benchmarks/stacks.md). See [`tune_allocator`]
/// for how it is kept from holding freed memory.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    #[cfg(not(target_os = "linux"))]
    tune_allocator();
    sagestack_server::cli::Cli::parse().run()
}

/// `mi_option_e` numbers of the mimalloc (3.3) that libmimalloc-sys 0.1.49 bundles, for
/// the options its Rust bindings do not name (the test below reads them back by name).
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS at once (no purge delay), and arenas are committed
/// as they are used rather than up front (measured to matter, see below; why, inside
/// mimalloc, was not traced: its purges decommit either way). Large S3 bodies (and the
/// store's copies of them) are allocated and freed whole: with mimalloc's defaults, four
/// sequential 32 MiB GETs on PostgreSQL left the peak 228 MiB above the start, far over
/// the S3 body budget (`tests/py/test_s3_memory.py`); with the purge delay alone, 124 MiB
/// (too close to the test's 128 MiB); with both, 101-103 MiB, as with glibc (97-99 MiB).
/// Neither changed the stack benchmarks.
fn tune_allocator() {
    // SAFETY: mi_option_set only stores an option's value; both numbers are options of
    // the bundled mimalloc (see the test below).
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        libmimalloc_sys::mi_option_set(MI_OPTION_ARENA_EAGER_COMMIT, 0);
    }
}

/// Run before `main`, from the ELF initialisers: the eager-commit option is read when an
/// arena is reserved, and the runtime's first allocation (before `main`) reserves the
/// first one, which then holds everything a small server allocates.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = {
    extern "C" fn tune() {
        tune_allocator();
    }
    tune
};

#[cfg(test)]
mod tests {
    use std::ffi::{CStr, c_char, c_void};

    unsafe extern "C" {
        /// Exported by the bundled mimalloc, not declared by libmimalloc-sys.
        fn mi_options_print_out(out: libmimalloc_sys::mi_output_fun, arg: *mut c_void);
    }

    unsafe extern "C" fn collect(msg: *const c_char, arg: *mut c_void) {
        // SAFETY: `arg` is the String passed below, `msg` a C string from mimalloc.
        unsafe {
            let out = &mut *(arg as *mut String);
            out.push_str(&CStr::from_ptr(msg).to_string_lossy());
        }
    }

    /// The options are set before the test's own code runs (by the initialiser, as
    /// before the server's `main`), and the numbers name the options meant: mimalloc
    /// lists them by name.
    #[test]
    fn the_allocator_is_tuned_before_main() {
        let mut out = String::new();
        // SAFETY: `collect` writes into `out`, which outlives the call.
        unsafe { mi_options_print_out(Some(collect), &mut out as *mut String as *mut c_void) };
        assert!(out.contains("option 'purge_delay': 0 "), "{out}");
        assert!(out.contains("option 'arena_eager_commit': 0 "), "{out}");
    }
}
