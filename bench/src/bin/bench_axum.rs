//! The comparison server for the sandbox's ceiling: a minimal axum handler on the
//! same route that reads the whole request body and answers a fixed body (the
//! sandbox's own answer to the benchmark request, so the response size is the
//! same) with the same headers. Runs on the same runtime kind as the sandbox CLI
//! (tokio multi-thread, one worker per core).
//!
//! `bench-axum BODY_FILE` prints `listening on http://127.0.0.1:PORT` and serves
//! until killed.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).expect("usage: bench-axum BODY_FILE");
    let body: Arc<[u8]> = std::fs::read(&path).expect("read the body file").into();
    let counter = Arc::new(AtomicU64::new(0));
    let app = Router::new().route(
        "/identity/v1/verification",
        post(move |request: Bytes| {
            let body = body.clone();
            let counter = counter.clone();
            async move {
                // Read the body (as the sandbox must) and answer the fixed bytes.
                std::hint::black_box(request.len());
                let id = counter.fetch_add(1, Ordering::Relaxed);
                (
                    [
                        (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
                        (
                            header::HeaderName::from_static("request-id"),
                            HeaderValue::from_str(&format!("{id:032x}")).expect("hex"),
                        ),
                        (
                            header::HeaderName::from_static("x-glair-sandbox"),
                            HeaderValue::from_static("true"),
                        ),
                    ],
                    Bytes::copy_from_slice(&body),
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("addr");
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{addr}").expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    axum::serve(listener, app).await.expect("serve");
}
