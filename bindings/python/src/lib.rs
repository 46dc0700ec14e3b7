//! `glair_vision._native`: the pyo3 binding of the glair-vision Rust core. Thin:
//! it converts Python values to core types and core errors to the exception
//! classes of `glair_vision.errors`; the behaviour is the core's.

mod client;
mod convert;
mod errors;
mod log_sink;
mod network;
mod panics;
mod runtime;
mod sandbox;
mod tables;
mod types;

use pyo3::prelude::*;

#[pymodule]
mod _native {
    #[pymodule_export]
    use super::client::{check_options, mask_nik, PyBatchSession, PyClient};
    #[pymodule_export]
    use super::convert::{check_checkpoint_rows, check_rate_limit};
    #[pymodule_export]
    use super::log_sink::_set_log_level;
    #[pymodule_export]
    use super::panics::test_panic;
    #[pymodule_export]
    use super::sandbox::PySandbox;
    #[pymodule_export]
    use super::tables::{survey_arrow, verify_arrow, verify_arrow_async, PyArrowResults};
    #[pymodule_export]
    use super::types::{PyFieldResults, PyPacingState, PyVerification};

    use pyo3::prelude::*;

    /// Stops the binding's runtime; `glair_vision` registers it with `atexit`.
    #[pyfunction]
    fn _shutdown(py: Python<'_>) -> PyResult<()> {
        crate::panics::guard(|| {
            crate::runtime::shutdown(py);
            crate::log_sink::stop();
            Ok(())
        })
    }

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        // GLAIR_LOG / RUST_LOG to stderr; off by default.
        glair_vision::logging::init_from_env();
        m.add("__version__", glair_vision::VERSION)?;
        m.add("DEFAULT_BASE_URL", glair_vision::DEFAULT_BASE_URL)?;
        // The sandbox's OpenAPI 3.1 document, shipped with the package.
        m.add("OPENAPI_DOCUMENT", glair_vision_sandbox::OPENAPI_JSON)?;
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
