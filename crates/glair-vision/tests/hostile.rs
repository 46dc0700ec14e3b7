//! The client against small misbehaving servers written by hand on a TCP socket
//! (so every byte is under the test's control): redirects, huge and endless
//! bodies, long Retry-After, answers cut off after the status line, half answers,
//! and the caller's correlation id.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use glair_vision::{
    BatchOptions, BatchRequest, Error, ErrorKind, RequestOptions, RetryPolicy, VerificationRequest, Vision,
    VisionBuilder,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SITI: &str = "3171014508900001";
const OK_BODY: &str =
    r#"{"verification_status":true,"reason":"Verification Success","result":{"nik":true,"name":null}}"#;

/// What the server does after reading a whole request (the n-th, from 0).
#[derive(Clone)]
enum Answer {
    /// Writes these bytes, then closes the connection.
    Bytes(Vec<u8>),
    /// Writes these bytes, then keeps the connection open without a word more.
    BytesThenHang(Vec<u8>),
    /// Writes this head, then body bytes until the client goes away (or 200 MB);
    /// chunked encoding when `chunked`, else the head declares the length.
    Endless { head: Vec<u8>, chunked: bool },
}

/// A listener on 127.0.0.1:0 that records every request head it receives and
/// answers by a script.
struct Server {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
    /// Body bytes written by `Answer::Endless` before the client went away.
    written: Arc<AtomicU64>,
    /// `Answer::Endless` writers that have stopped.
    finished: Arc<AtomicUsize>,
}

impl Server {
    async fn start(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let written = Arc::new(AtomicU64::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(script);
        let (h, w, f) = (heads.clone(), written.clone(), finished.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (heads, written, finished, script) = (h.clone(), w.clone(), f.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, heads, written, finished, script).await;
                });
            }
        });
        Server { addr, heads, written, finished }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> usize {
        self.heads.lock().unwrap().len()
    }

    fn head(&self, i: usize) -> String {
        self.heads.lock().unwrap()[i].clone()
    }

    /// Waits (up to 10 s) for the endless writers to stop; the bytes they wrote.
    async fn endless_written(&self, writers: usize) -> u64 {
        let started = Instant::now();
        while self.finished.load(Ordering::SeqCst) < writers {
            assert!(started.elapsed() < Duration::from_secs(10), "the server is still writing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.written.load(Ordering::SeqCst)
    }
}

async fn serve(
    mut stream: TcpStream,
    heads: Arc<Mutex<Vec<String>>>,
    written: Arc<AtomicU64>,
    finished: Arc<AtomicUsize>,
    script: Arc<dyn Fn(usize) -> Answer + Send + Sync>,
) -> std::io::Result<()> {
    // The head, then as many body bytes as it announces.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let n = {
        let mut heads = heads.lock().unwrap();
        heads.push(head);
        heads.len() - 1
    };
    match script(n) {
        Answer::Bytes(bytes) => {
            stream.write_all(&bytes).await?;
            stream.shutdown().await?;
        }
        Answer::BytesThenHang(bytes) => {
            stream.write_all(&bytes).await?;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Answer::Endless { head, chunked } => {
            let result = async {
                stream.write_all(&head).await?;
                let block = vec![b'x'; 64 * 1024];
                while written.load(Ordering::SeqCst) < 200 * 1024 * 1024 {
                    if chunked {
                        stream.write_all(format!("{:x}\r\n", block.len()).as_bytes()).await?;
                    }
                    stream.write_all(&block).await?;
                    if chunked {
                        stream.write_all(b"\r\n").await?;
                    }
                    written.fetch_add(block.len() as u64, Ordering::SeqCst);
                }
                Ok::<(), std::io::Error>(())
            }
            .await;
            finished.fetch_add(1, Ordering::SeqCst);
            result?;
        }
    }
    Ok(())
}

/// A whole response with `Content-Length` and `Connection: close`.
fn response(status: &str, headers: &[(&str, &str)], body: &str) -> Answer {
    let mut text = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    Answer::Bytes(text.into_bytes())
}

/// A client of `server` with fast retries (so retry counts are cheap to observe).
fn client(server: &Server) -> VisionBuilder {
    Vision::builder()
        .read_env(false)
        .api_key("key")
        .username("user")
        .password("pass")
        .base_url(server.url())
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        })
}

fn request() -> VerificationRequest {
    VerificationRequest::new(SITI).name("SITI RAHAYU")
}

async fn verify(vision: &Vision) -> Result<glair_vision::Verification, Error> {
    vision.identity().verification(&request()).await
}

#[tokio::test]
async fn redirects_are_errors_and_nothing_is_sent_onwards() {
    let elsewhere = Server::start(|_| response("200 OK", &[], OK_BODY)).await;
    let target = format!("{}/identity/v1/verification", elsewhere.url());
    for status in ["302 Found", "307 Temporary Redirect", "308 Permanent Redirect"] {
        let location = target.clone();
        let server = Server::start(move |_| response(status, &[("Location", &location)], "")).await;
        let err = verify(&client(&server).build().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Redirect, "{status}: {err}");
        let api = err.api().unwrap();
        assert_eq!(api.status.to_string(), status[..3]);
        assert_eq!(api.location.as_deref(), Some(target.as_str()));
        assert!(err.to_string().contains(&target), "the message names the Location: {err}");
        assert_eq!(server.requests(), 1, "a redirect is not retried");
    }
    // A followed redirect would have been sent, and answered, before the call returned.
    assert_eq!(elsewhere.requests(), 0, "the other origin received nothing");
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_cap_without_being_buffered() {
    let server = Server::start(|_| Answer::Endless {
        head: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nRequest-Id: rid-big\r\n\r\n"
            .to_vec(),
        chunked: true,
    })
    .await;
    let started = Instant::now();
    let err = verify(&client(&server).build().unwrap()).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    let api = err.api().unwrap();
    assert_eq!(api.reason.as_deref(), Some("response body exceeds 262144 bytes"));
    assert_eq!((api.status, api.request_id.as_deref()), (200, Some("rid-big")));
    assert!(api.body.len() <= glair_vision::BODY_EXCERPT_LIMIT + 3);
    let written = server.endless_written(1).await;
    assert!(written < 32 * 1024 * 1024, "the server wrote {written} bytes before the client closed");
    assert_eq!(server.requests(), 1, "not retried");
}

#[tokio::test]
async fn a_huge_declared_body_fails_before_reading_even_on_an_error_status() {
    let head = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 209715200\r\n\r\n";
    let server =
        Server::start(move |_| Answer::Endless { head: head.as_bytes().to_vec(), chunked: false }).await;
    let vision = client(&server).max_response_bytes(4096).build().unwrap();
    let started = Instant::now();
    let err = verify(&vision).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.reason(), Some("response body exceeds 4096 bytes"));
    let written = server.endless_written(1).await;
    assert!(written < 32 * 1024 * 1024, "the server wrote {written} bytes");
    assert_eq!(server.requests(), 1, "a body past the cap is not retried");
}

#[tokio::test]
async fn a_retry_after_longer_than_the_time_left_ends_the_call_at_once() {
    let server = Server::start(|_| response("429 Too Many Requests", &[("Retry-After", "120")], "{}")).await;
    let vision = client(&server).deadline(Duration::from_secs(2)).build().unwrap();
    let started = Instant::now();
    let err = verify(&vision).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(120)));
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn the_deadline_bounds_every_attempt_and_wait() {
    // Answers nothing at all: each attempt would wait the full 30 s timeout.
    let server = Server::start(|_| Answer::BytesThenHang(Vec::new())).await;
    let vision = client(&server).retry_unanswered(true).build().unwrap();
    let options = RequestOptions { deadline: Some(Duration::from_millis(800)), ..Default::default() };
    let started = Instant::now();
    let err = vision.identity().verification_with(&request(), &options).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(750) && took < Duration::from_secs(5), "{took:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().contains("call deadline of 0.8s passed"), "{err}");
}

#[tokio::test]
async fn a_connection_dropped_after_the_status_line_is_incomplete_and_never_retried() {
    for status in ["200 OK", "503 Service Unavailable"] {
        let server = Server::start(move |_| {
            Answer::Bytes(
                format!("HTTP/1.1 {status}\r\nContent-Length: 100\r\nRequest-Id: rid-cut\r\n\r\n{{\"verif")
                    .into_bytes(),
            )
        })
        .await;
        // Even the switch for ambiguous failures does not retry a call that was answered.
        let vision = client(&server).max_retries(3).retry_unanswered(true).build().unwrap();
        let err = verify(&vision).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::IncompleteResponse, "{err}");
        let api = err.api().unwrap();
        assert_eq!(api.status.to_string(), status[..3]);
        assert_eq!(api.request_id.as_deref(), Some("rid-cut"));
        assert_eq!(api.body, "{\"verif");
        assert_eq!(server.requests(), 1, "{status}: the server saw exactly one request");
    }
}

#[tokio::test]
async fn a_timeout_after_the_status_line_is_incomplete_and_never_retried() {
    let server = Server::start(|_| {
        Answer::BytesThenHang(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nRequest-Id: rid-slow\r\n\r\n{".to_vec(),
        )
    })
    .await;
    let vision = client(&server)
        .timeout(Duration::from_millis(300))
        .max_retries(3)
        .retry_unanswered(true)
        .build()
        .unwrap();
    let err = verify(&vision).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::IncompleteResponse, "{err}");
    assert_eq!(err.request_id(), Some("rid-slow"));
    assert!(err.reason().unwrap().contains("timeout of 0.3s passed while reading the body"), "{err}");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn ambiguous_failures_are_retried_only_when_asked() {
    // No answer byte before the timeout: the server may have processed the call.
    let silent = Server::start(|_| Answer::BytesThenHang(Vec::new())).await;
    let vision = client(&silent).timeout(Duration::from_millis(200)).build().unwrap();
    let err = verify(&vision).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.transport().unwrap().request_sent);
    assert_eq!(silent.requests(), 1, "a timeout after sending is not retried by default");
    let vision = client(&silent).timeout(Duration::from_millis(200)).retry_unanswered(true).build().unwrap();
    verify(&vision).await.unwrap_err();
    assert_eq!(silent.requests(), 1 + 3, "retried when asked");

    // A 500 is ambiguous too; 502, 503 and 504 say the call was not processed.
    for (status, default_attempts) in [
        ("500 Internal Server Error", 1),
        ("502 Bad Gateway", 3),
        ("503 Service Unavailable", 3),
        ("504 Gateway Timeout", 3),
    ] {
        let server = Server::start(move |_| response(status, &[], "{}")).await;
        verify(&client(&server).build().unwrap()).await.unwrap_err();
        assert_eq!(server.requests(), default_attempts, "{status}");
        let options = RequestOptions { retry_unanswered: Some(true), ..Default::default() };
        let vision = client(&server).build().unwrap();
        vision.identity().verification_with(&request(), &options).await.unwrap_err();
        assert_eq!(server.requests(), default_attempts + 3, "{status} with retry_unanswered");
    }

    // A reset before any answer byte (the server closes without a word).
    let rude = Server::start(|_| Answer::Bytes(Vec::new())).await;
    let err = verify(&client(&rude).build().unwrap()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert_eq!(rude.requests(), 1);
}

#[tokio::test]
async fn half_answers_are_decode_errors_with_the_body() {
    let bodies = [
        r#"{"verification_status":true,"reason":"Verification Success"}"#,
        r#"{"verification_status":true,"reason":"Verification Success","result":{"nik":null,"name":null}}"#,
        r#"{"verification_status":true,"reason":"Verification Success","data":{"nik":true,"name":false}}"#,
        r#"{"verification_status":true,"result":{"nik":true}}"#,
        r#"{"verification_status":true,"reason":"ok","result":{"nik":"true"}}"#,
    ];
    for body in bodies {
        let server = Server::start(move |_| response("200 OK", &[("Request-Id", "rid-half")], body)).await;
        let err = verify(&client(&server).build().unwrap()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{body}");
        assert_eq!(err.api().unwrap().body, body);
        assert_eq!(err.request_id(), Some("rid-half"));
        assert_eq!(server.requests(), 1);
    }
    // The documented answers still pass.
    let server = Server::start(|_| response("200 OK", &[], OK_BODY)).await;
    assert!(verify(&client(&server).build().unwrap()).await.unwrap().verification_status);
}

#[tokio::test]
async fn the_callers_request_id_is_sent_and_kept_on_results_and_errors() {
    let server = Server::start(|n| match n {
        0 => response("200 OK", &[("Request-Id", "glair-1")], OK_BODY),
        _ => response(
            "400 Bad Request",
            &[("Request-Id", "glair-2")],
            r#"{"reason":"Invalid NIK number format"}"#,
        ),
    })
    .await;
    let vision = client(&server).build().unwrap();
    let options = RequestOptions { request_id: Some("order-17".into()), ..Default::default() };
    let v = vision.identity().verification_with(&request(), &options).await.unwrap();
    assert_eq!(v.client_request_id.as_deref(), Some("order-17"));
    assert_eq!(v.request_id.as_deref(), Some("glair-1"));
    assert!(server.head(0).contains("\r\nx-request-id: order-17\r\n"), "{}", server.head(0));

    let options = RequestOptions { request_id: Some("order-18".into()), ..Default::default() };
    let err = vision.identity().verification_with(&request(), &options).await.unwrap_err();
    assert_eq!(err.client_request_id(), Some("order-18"));
    assert!(err.to_string().contains("[request id glair-2, client request id order-18]"), "{err}");
    assert!(server.head(1).contains("\r\nx-request-id: order-18\r\n"));

    // Without one, no header is sent.
    verify(&vision).await.unwrap_err();
    assert!(!server.head(2).contains("x-request-id"));

    // Transport errors carry it too.
    let silent = Server::start(|_| Answer::BytesThenHang(Vec::new())).await;
    let options = RequestOptions {
        request_id: Some("order-19".into()),
        timeout: Some(Duration::from_millis(100)),
        ..Default::default()
    };
    let err = client(&silent)
        .build()
        .unwrap()
        .identity()
        .verification_with(&request(), &options)
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.client_request_id()), (ErrorKind::Timeout, Some("order-19")));
    assert!(err.to_string().contains("client request id order-19"), "{err}");
}

#[tokio::test]
async fn a_bad_request_id_is_a_validation_error_and_nothing_is_sent() {
    let server = Server::start(|_| response("200 OK", &[], OK_BODY)).await;
    let vision = client(&server).build().unwrap();
    for bad in ["", "has space", "tab\there", "é", &"x".repeat(129)] {
        let options = RequestOptions { request_id: Some(bad.to_owned()), ..Default::default() };
        let err = vision.identity().verification_with(&request(), &options).await.unwrap_err();
        assert_eq!(err.validation().map(|v| v.field()), Some("request_id"), "{bad:?}");
    }
    let ok = "x".repeat(128);
    let options = RequestOptions { request_id: Some(ok.clone()), ..Default::default() };
    assert!(vision.identity().verification_with(&request(), &options).await.is_ok());
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn batch_rows_carry_their_own_request_ids() {
    let server = Server::start(|_| response("200 OK", &[], OK_BODY)).await;
    let vision = client(&server).build().unwrap();
    let items = vec![
        BatchRequest::new(request(), Some("row-1".into())),
        BatchRequest::new(request(), None),
        BatchRequest::new(request(), Some("bad id".into())),
        BatchRequest::new(request(), Some("row-4".into())),
    ];
    let options = BatchOptions {
        request_options: RequestOptions { request_id: Some("batch-default".into()), ..Default::default() },
        ..BatchOptions::default()
    };
    let outcomes = vision.identity().verification_batch(items, options).await;
    let ids: Vec<Option<&str>> =
        outcomes.iter().map(|o| o.as_ref().ok().and_then(|v| v.client_request_id.as_deref())).collect();
    assert_eq!(ids, [Some("row-1"), Some("batch-default"), None, Some("row-4")]);
    assert_eq!(outcomes[2].as_ref().unwrap_err().validation().unwrap().field(), "request_id");
    let mut sent: Vec<String> = (0..server.requests())
        .map(|i| {
            let head = server.head(i);
            head.lines().find_map(|l| l.strip_prefix("x-request-id: ")).unwrap().to_owned()
        })
        .collect();
    sent.sort();
    assert_eq!(sent, ["batch-default", "row-1", "row-4"]);
}
