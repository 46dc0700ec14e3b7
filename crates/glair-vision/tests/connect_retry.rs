//! A connect failure is retried: nothing listens at the first attempt, and the
//! server appears exactly between two attempts, bound when the client logs its
//! retry. This test has a binary of its own because it watches the client's
//! `tracing` events: `tracing` caches per call site whether anyone listens, across
//! threads, so a scoped subscriber beside other tests running in parallel can miss
//! an event (it did, about one run in fifteen). Here the subscriber is the global
//! one and no other test runs.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glair_vision::{ErrorKind, RequestOptions, RetryPolicy, VerificationRequest, Vision};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const OK_BODY: &str =
    r#"{"verification_status":true,"reason":"Verification Success","result":{"nik":true,"name":null}}"#;

fn request() -> VerificationRequest {
    VerificationRequest::new("3171014508900001").name("SITI RAHAYU")
}

/// A `tracing` writer that, when the client logs that it is retrying, starts
/// listening on an address (once): the server appears exactly between the attempts.
#[derive(Clone)]
struct ListenOnRetry {
    addr: SocketAddr,
    listener: Arc<Mutex<Option<std::net::TcpListener>>>,
    retries: Arc<AtomicUsize>,
}

impl std::io::Write for ListenOnRetry {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if String::from_utf8_lossy(buf).contains("retrying") {
            self.retries.fetch_add(1, Ordering::SeqCst);
            let mut listener = self.listener.lock().unwrap();
            if listener.is_none() {
                *listener = Some(std::net::TcpListener::bind(self.addr).expect("the address is free"));
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn connect_failures_are_retried() {
    // Nothing listens at first; the server appears between the attempts: when the
    // client logs its retry, before it waits its backoff.
    let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let on_retry = ListenOnRetry { addr, listener: Arc::default(), retries: Arc::new(AtomicUsize::new(0)) };
    let writer = on_retry.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    let vision = Vision::builder()
        .read_env(false)
        .api_key("key")
        .username("user")
        .password("pass")
        .base_url(format!("http://{addr}"))
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let refused = vision
        .identity()
        .verification_with(&request(), &RequestOptions { max_retries: Some(0), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Connection);
    assert!(!refused.transport().unwrap().request_sent, "{refused}");
    assert!(on_retry.listener.lock().unwrap().is_none(), "no retry without retries");
    let listener = on_retry.listener.clone();
    let late = tokio::spawn(async move {
        let listener = loop {
            if let Some(l) = listener.lock().unwrap().take() {
                break l;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = Vec::new();
        // The multipart body ends with the closing boundary.
        while !got.ends_with(b"--\r\n") {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before sending its request");
            got.extend_from_slice(&buf[..n]);
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{OK_BODY}",
            OK_BODY.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
    });
    let v = vision.identity().verification(&request()).await.unwrap();
    assert!(v.verification_status);
    assert_eq!(on_retry.retries.load(Ordering::SeqCst), 1, "refused once, then answered");
    tokio::time::timeout(Duration::from_secs(60), late).await.unwrap().unwrap();
}
