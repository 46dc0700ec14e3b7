//! `setLogger`: the core's log records (already redacted at source: masked NIK,
//! never names or credentials) handed to a JS function, as JSON text
//! `{level, target, message, fields}` that `node/index.js` parses.

use std::sync::Arc;

use glair_vision::logging::{self, LogRecord, Sink};
use napi::bindgen_prelude::Unknown;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use serde_json::{json, Map, Value};
use tracing::level_filters::LevelFilter;

use crate::errors::{config_error, to_napi};

/// The JS logger, called on the main thread. Weak: a logger set does not keep
/// the process alive.
type JsLogger = ThreadsafeFunction<String, Unknown<'static>, String, Status, false, true>;

fn level_filter(level: &str) -> napi::Result<LevelFilter> {
    Ok(match level.to_ascii_lowercase().as_str() {
        "trace" => LevelFilter::TRACE,
        "debug" => LevelFilter::DEBUG,
        "info" => LevelFilter::INFO,
        "warn" | "warning" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        "silent" | "off" => LevelFilter::OFF,
        _ => {
            return Err(to_napi(&config_error(
                "log level must be one of trace, debug, info, warn, error, silent",
            )))
        }
    })
}

fn record_json(r: &LogRecord) -> String {
    let fields: Map<String, Value> = r.fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "level": r.level.as_str().to_ascii_lowercase(),
        "target": r.target,
        "message": r.message,
        "fields": fields,
    })
    .to_string()
}

/// Sends every record at `level` or above (default: the level set before,
/// `debug` at first) to `callback`; `null` turns the logger off.
#[napi(catch_unwind)]
pub fn set_logger(callback: Option<JsLogger>, level: Option<String>) -> napi::Result<()> {
    let level = level.as_deref().map(level_filter).transpose()?;
    let sink = callback.map(|f| {
        let sink: Sink = Arc::new(move |r: &LogRecord| {
            // NonBlocking: a log call never waits for the JS thread.
            f.call(record_json(r), ThreadsafeFunctionCallMode::NonBlocking);
        });
        sink
    });
    logging::set_sink(level, sink);
    Ok(())
}

/// Changes the level of the logger set with `setLogger` (kept for the next one).
#[napi(catch_unwind)]
pub fn set_log_level(level: String) -> napi::Result<()> {
    logging::set_sink_level(level_filter(&level)?);
    Ok(())
}
