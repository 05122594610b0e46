//! The `aiops` binary.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = aiops::cli::Cli::parse();
    let mut telemetry = cli.init_logging();
    let code = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt.block_on(aiops::cli::run(cli)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    };
    // One-shot commands end here, and `serve` after its graceful shutdown: export the last spans.
    telemetry.shutdown();
    code
}
