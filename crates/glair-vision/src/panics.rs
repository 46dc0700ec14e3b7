//! What the bindings need to turn a panic (a bug in this SDK) into an error for
//! the caller instead of an aborted process: the panic's text, a future's panic
//! caught as that text, and the log line for a panic no caller can receive.
//! Each binding wraps its own boundaries and maps the text to its
//! `InternalError`.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};

use futures_util::FutureExt as _;

/// The text of a panic's payload (what `panic!` was given); the payload is
/// dropped here, where a panic of its own `Drop` cannot escape.
pub fn panic_text(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not text".to_owned()
    };
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
    text
}

/// Runs `fut`; a panic while polling it is returned as its text.
pub async fn catch<F: Future>(fut: F) -> Result<F::Output, String> {
    AssertUnwindSafe(fut).catch_unwind().await.map_err(panic_text)
}

/// Logs a panic no caller can receive (target `glair_vision::panic`).
pub fn log(what: &str, text: &str) {
    tracing::error!(
        target: "glair_vision::panic",
        "internal error in glair-vision (a bug: please report it): {what} panicked: {text}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_of_str_string_and_other_payloads() {
        assert_eq!(panic_text(Box::new("static")), "static");
        assert_eq!(panic_text(Box::new(String::from("owned"))), "owned");
        assert_eq!(panic_text(Box::new(7_u8)), "a panic with a payload that is not text");
    }

    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("dropped");
        }
    }

    #[test]
    fn a_payload_whose_drop_panics_is_contained() {
        assert_eq!(panic_text(Box::new(PanicsOnDrop)), "a panic with a payload that is not text");
    }

    #[tokio::test]
    async fn a_future_that_panics_is_its_text() {
        assert_eq!(catch(async { 1 }).await, Ok(1));
        let caught = catch(async { panic!("polled") }).await;
        assert_eq!(caught, Err::<(), _>("polled".to_owned()));
    }
}
