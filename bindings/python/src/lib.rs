//! `glair_vision._native`: the pyo3 binding of the glair-vision Rust core. Thin:
//! it converts Python values to core types and core errors to the exception
//! classes of `glair_vision.errors`; the behaviour is the core's.

mod client;
mod convert;
mod errors;
mod runtime;
mod sandbox;
mod types;

use pyo3::prelude::*;

/// Honour `GLAIR_LOG` (falling back to `RUST_LOG`): tracing to stderr. Off by default.
fn init_logging() {
    let filter = ["GLAIR_LOG", "RUST_LOG"]
        .into_iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()));
    if let Some(filter) = filter {
        if let Ok(filter) = tracing_subscriber::EnvFilter::try_new(filter) {
            let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
        }
    }
}

#[pymodule]
mod _native {
    #[pymodule_export]
    use super::client::{mask_nik, PyBatchSession, PyClient};
    #[pymodule_export]
    use super::sandbox::PySandbox;
    #[pymodule_export]
    use super::types::{PyFieldResults, PyVerification};

    use pyo3::prelude::*;

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        super::init_logging();
        m.add("__version__", glair_vision::VERSION)?;
        m.add("DEFAULT_BASE_URL", glair_vision::DEFAULT_BASE_URL)?;
        let fields: Vec<&str> = glair_vision::Field::ALL.iter().map(|f| f.wire_name()).collect();
        m.add("FIELDS", fields)?;
        m.add(
            "DEFAULT_SANDBOX_CREDENTIALS",
            (
                glair_vision_sandbox::DEFAULT_API_KEY,
                glair_vision_sandbox::DEFAULT_USERNAME,
                glair_vision_sandbox::DEFAULT_PASSWORD,
            ),
        )?;
        Ok(())
    }
}
