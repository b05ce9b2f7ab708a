//! The `sagestack` binary: parses the command line and runs the chosen command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    sagestack_server::cli::Cli::parse().run()
}
