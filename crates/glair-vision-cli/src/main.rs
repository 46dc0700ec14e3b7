//! `glair-vision`: verify KTPs against GLAIR Vision from the command line, in bulk
//! from files, parse NIKs offline, and run the local sandbox.

#[macro_use]
mod console;

mod args;
mod batch;
mod nik;
mod output;
mod sandbox;
mod signals;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Without GLAIR_LOG, the pacing store's warnings (cut off, back) still reach
/// stderr: a job paced per process runs slower, and the user should know why.
fn store_warnings_to_stderr() {
    use glair_vision::logging::{set_sink, LevelFilter, LogRecord};
    let sink = std::sync::Arc::new(|r: &LogRecord| {
        if r.target.starts_with("glair_vision::pacing::store") {
            let fields: Vec<String> = r.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            eprintln!("glair-vision: warning: {} ({})", r.message, fields.join(", "));
        }
    });
    set_sink(Some(LevelFilter::WARN), Some(sink));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !glair_vision::logging::init_from_env() {
        store_warnings_to_stderr();
    }
    let code = match cli.command {
        Command::Nik(args) => nik::run(args),
        command => {
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    say!("error: cannot start the async runtime: {e}");
                    return ExitCode::from(output::EXIT_API);
                }
            };
            let code = runtime.block_on(async move {
                match command {
                    Command::Verify(args) => verify::run(args).await,
                    Command::Batch(args) => batch::run(args).await,
                    Command::Sandbox(args) => sandbox::run(args).await,
                    Command::Nik(_) => unreachable!("handled above"),
                }
            });
            // Don't wait for lingering blocking tasks (a reader thread parked on a pipe).
            runtime.shutdown_timeout(std::time::Duration::from_millis(200));
            code
        }
    };
    ExitCode::from(code)
}
