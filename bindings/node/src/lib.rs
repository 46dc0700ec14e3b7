//! Node.js binding of `glair-vision` (napi-rs). Thin: converts JS values to core
//! types and back, and maps core errors to a stable code + JSON payload that the
//! package's JS layer (`node/lib/errors.js`) turns into `Error` subclasses; the
//! behaviour is the core's.
//!
//! Values cross the boundary as JSON text: the JS layer (`node/lib/convert.js`)
//! turns `Date`s into ISO dates, drops `undefined` and marks what JSON cannot
//! carry, then `JSON.stringify`s; results come back as JSON text that the JS
//! layer parses. Type checks (a NIK given as a number, an object for a name, an
//! unknown key) happen here, before anything is sent.
//!
//! The modules match the Python binding's (`bindings/python/src`): `client`
//! (the client and the streaming batch), `convert` (JS values to core types),
//! `errors`, `sandbox`, `runtime` and `types` (results to JS); plus `logging`
//! (`setLogger`, where Python hands records to its `logging` module). `panics`:
//! a panic never ends the process (why the release addon aborted, and how
//! every boundary turns a panic into an error), and the test-only `_testPanic`.

#![deny(clippy::all)]

mod client;
mod convert;
mod errors;
mod logging;
mod network;
mod panics;
mod runtime;
mod sandbox;
mod types;

// Free functions reachable from the crate root, so `cargo test` (where napi
// registers nothing) sees them used.
pub use client::mask_nik;
pub use logging::{set_log_level, set_logger};
pub use panics::{test_panic, test_panic_async};
pub use sandbox::openapi_document;
