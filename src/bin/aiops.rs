//! The `aiops` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aiops::cli::Cli::parse();
    cli.init_logging();
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt.block_on(aiops::cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}
