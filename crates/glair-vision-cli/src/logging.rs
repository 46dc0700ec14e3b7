//! Diagnostics through `tracing`, to stderr, off unless `GLAIR_LOG` (or `RUST_LOG`)
//! asks for them. The core never logs NIKs, names or credentials in clear.

use tracing_subscriber::EnvFilter;

/// The environment variable read first; `RUST_LOG` is the fallback.
pub const ENV_LOG: &str = "GLAIR_LOG";

pub fn init() {
    let Some(filter) = [ENV_LOG, "RUST_LOG"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.trim().is_empty())
    else {
        return;
    };
    let filter = match EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("warning: ignoring invalid {ENV_LOG}/RUST_LOG filter: {e}");
            return;
        }
    };
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
