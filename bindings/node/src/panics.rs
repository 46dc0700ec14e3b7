//! A panic in native code never ends the Node process: it becomes an error of
//! the call that caused it (the package's `InternalError`), or is logged when no
//! call waits for it, and the process goes on.
//!
//! Why the shipped addon aborted: a sync `#[napi]` function's body runs on
//! Node's main thread, called from V8's C++ frames. napi-rs wraps it in
//! `catch_unwind` only when it is declared `#[napi(catch_unwind)]`; without it a
//! panic unwinds towards C++, the unwinder's search phase finds no handler
//! (`_URC_END_OF_STACK`, 5) and Rust aborts with "failed to initiate panic,
//! error 5". The unwinder itself works in the zig-linked release addon (zig's
//! static libunwind replaces libgcc_s): a panic caught with `catch_unwind` is
//! caught there, on the main thread and on a tokio worker thread alike (the
//! install test proves it against the artifacts of `scripts/dist.sh`).
//!
//! The boundaries:
//! - every sync `#[napi]` function, method, getter, constructor and factory is
//!   `#[napi(catch_unwind)]`: a panic is thrown as an error whose message is the
//!   panic's text (napi's `panic_to_error`);
//! - every `#[napi] async fn`'s future is polled by napi inside `catch_unwind`
//!   (`AsyncRuntimeTask::poll`): a panic rejects its promise the same way (the
//!   `catch_unwind` attribute covers their synchronous part);
//! - a streaming batch's driver and feeder, which run detached: their panic is
//!   handed to the next `BatchStream.next` as an `internal` error payload;
//! - any other detached task ([`crate::runtime::spawn`]): logged, with no
//!   caller to tell (a `tracing` error, target `glair_vision::panic`, to
//!   `setLogger`'s logger and `GLAIR_LOG`).
//!
//! `node/lib/errors.js` turns both the napi panic errors and the `internal`
//! payload into `InternalError`. Rust's default panic hook still prints each
//! panic and its location to stderr.

pub use glair_vision::panics::{catch, log};

use napi::Status;
use napi_derive::napi;
use serde_json::json;

use crate::client::BatchStream;
use crate::errors::{config_error, to_napi, ERROR_PREFIX};

/// The napi error (an `InternalError` in JS) for a panic that said `text`.
pub fn internal_error(text: &str) -> napi::Error {
    let payload = json!({ "code": "internal", "message": text, "detail": text });
    napi::Error::new(Status::GenericFailure, format!("{ERROR_PREFIX}{payload}"))
}

const TEST_PANICS_ENV: &str = "GLAIR_VISION_TEST_PANICS";

fn test_panics_allowed() -> napi::Result<()> {
    if std::env::var(TEST_PANICS_ENV).as_deref() == Ok("1") {
        Ok(())
    } else {
        Err(to_napi(&config_error(format!(
            "_testPanic is a test-only trigger: it runs only when {TEST_PANICS_ENV}=1 is set"
        ))))
    }
}

/// Test-only: panics on purpose, to prove a panic reaches the caller as an
/// error and the process goes on. Refuses (a `ConfigurationError`, nothing
/// panics) unless the environment has `GLAIR_VISION_TEST_PANICS=1`. `place`:
/// `"sync"` panics here, on the calling (main) thread; `"background"` in a
/// detached task on a runtime worker thread (logged); `"stream"` returns a
/// `BatchStream` whose driver panics there (its `next` rejects). The
/// `"async"` place is [`test_panic_async`].
#[napi(js_name = "_testPanic", catch_unwind)]
pub fn test_panic(place: String) -> napi::Result<Option<BatchStream>> {
    test_panics_allowed()?;
    let message = format!("test panic ({place}) from _testPanic");
    match place.as_str() {
        "sync" => panic!("{message}"),
        "background" => {
            crate::runtime::spawn(async move { panic!("{message}") });
            Ok(None)
        }
        "stream" => Ok(Some(BatchStream::start_with(1, move |_requests| {
            futures_util::stream::once(async move { panic!("{message}") })
        }))),
        other => Err(to_napi(&config_error(format!(
            "_testPanic: unknown place {other:?} (sync, background, stream; async is _testPanicAsync)"
        )))),
    }
}

/// Test-only, as [`test_panic`]: an `async` function whose future panics on a
/// runtime worker thread (its promise rejects).
#[napi(js_name = "_testPanicAsync", catch_unwind)]
pub async fn test_panic_async() -> napi::Result<()> {
    test_panics_allowed()?;
    panic!("test panic (async) from _testPanicAsync")
}
