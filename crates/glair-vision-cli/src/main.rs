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

fn main() -> ExitCode {
    let cli = Cli::parse();
    glair_vision::logging::init_from_env();
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
