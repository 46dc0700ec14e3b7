//! The runtime the calls run on: napi-rs' own tokio runtime (its `async`
//! feature). `#[napi] async fn`s run there and settle their JS promise when
//! done; background work (a streaming batch's driver) is put there with
//! [`spawn`]. Logging is set up once, on first use of a client or sandbox.

use std::future::Future;
use std::sync::OnceLock;

/// Runs `fut` on napi-rs' runtime, detached from any JS call. A panic in it is
/// logged (no call waits for it; a task that has a caller to tell, such as a
/// streaming batch's driver, catches its own first).
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    napi::bindgen_prelude::spawn(async move {
        if let Err(text) = crate::panics::catch(fut).await {
            crate::panics::log("a background task", &text);
        }
    })
}

/// Turns on the core's stderr logging once when `GLAIR_LOG` (or `RUST_LOG`) is set.
pub fn init_logging() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        glair_vision::logging::init_from_env();
    });
}
