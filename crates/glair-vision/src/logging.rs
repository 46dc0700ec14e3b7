//! Opt-in diagnostics for the front doors (CLI, Python, Node): `tracing` to
//! stderr, off unless `GLAIR_LOG` (or, as a fallback, `RUST_LOG`) sets a filter.
//! Library users who have their own subscriber never need this.

use tracing_subscriber::EnvFilter;

/// The environment variable read first; `RUST_LOG` is the fallback.
pub const ENV_LOG: &str = "GLAIR_LOG";

/// Installs a stderr subscriber filtered by `GLAIR_LOG`/`RUST_LOG`, once per
/// process. Returns whether logging is now on. Does nothing when neither is set,
/// or when the process already has a global subscriber.
pub fn init_from_env() -> bool {
    let Some(filter) = [ENV_LOG, "RUST_LOG"]
        .into_iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|v| !v.trim().is_empty())
    else {
        return false;
    };
    let filter = match EnvFilter::try_new(&filter) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("glair-vision: ignoring invalid {ENV_LOG}/RUST_LOG filter: {e}");
            return false;
        }
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init().is_ok()
}
