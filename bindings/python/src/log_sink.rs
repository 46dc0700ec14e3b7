//! The core's log records into Python's `logging` (`glair_vision._logging`). The
//! Python side decides the level (the `glair_vision` logger's effective level);
//! below it the core makes no record at all, so a quiet logger costs nothing.

use std::sync::Arc;

use glair_vision::logging::{self, LogRecord};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

use crate::panics::guard;
use crate::runtime::finalizing;

static EMIT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Python's number for a tracing level (TRACE is 5, below DEBUG).
fn python_level(level: Level) -> i32 {
    match level {
        Level::TRACE => 5,
        Level::DEBUG => 10,
        Level::INFO => 20,
        Level::WARN => 30,
        Level::ERROR => 40,
    }
}

/// The tracing filter that keeps what a Python logger at `level` keeps.
fn level_filter(level: i64) -> LevelFilter {
    match level {
        i64::MIN..=5 => LevelFilter::TRACE,
        6..=10 => LevelFilter::DEBUG,
        11..=20 => LevelFilter::INFO,
        21..=30 => LevelFilter::WARN,
        31..=50 => LevelFilter::ERROR,
        _ => LevelFilter::OFF,
    }
}

/// Hands one record to `glair_vision._logging._emit`, on the thread that logged.
fn forward(record: &LogRecord) {
    // Attaching to an interpreter that is shutting down would abort the process.
    if finalizing() {
        return;
    }
    Python::try_attach(|py| {
        let Ok(emit) = EMIT.import(py, "glair_vision._logging", "_emit") else { return };
        let fields: Vec<(&str, &str)> = record.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if let Err(e) = emit.call1((python_level(record.level), &record.target, &record.message, fields)) {
            e.write_unraisable(py, None);
        }
    });
}

/// Sends the core's records at Python level `level` and above to `logging`;
/// `None` turns that off.
#[pyfunction]
#[pyo3(signature = (level))]
pub fn _set_log_level(level: Option<i64>) -> PyResult<()> {
    guard(|| {
        match level.map(level_filter).filter(|f| *f != LevelFilter::OFF) {
            Some(filter) => {
                logging::set_sink(Some(filter), Some(Arc::new(forward)));
            }
            None => {
                logging::set_sink(None, None);
            }
        }
        Ok(())
    })
}

/// Stops forwarding (at interpreter exit).
pub fn stop() {
    logging::set_sink(None, None);
}
