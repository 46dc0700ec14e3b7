//! The sandbox as a long-running service: credentials checked before the body is
//! read, a request log bounded by bytes, timeouts for slow and idle connections,
//! the caller's correlation id, the OpenAPI document. Raw TCP where the test must
//! control exactly what is sent and when.

use std::time::{Duration, Instant};

use glair_vision_sandbox::{
    Sandbox, SandboxConfig, DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USERNAME, MAX_BODY_BYTES,
};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SITI: &str = "3171014508900001";
const PATH: &str = "/identity/v1/verification";

/// `Basic sandbox:sandbox-password`.
fn basic(password: &str) -> String {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{DEFAULT_USERNAME}:{password}"));
    format!("Basic {token}")
}

/// A request head for the endpoint, with the given credentials and declared length.
fn head(password: &str, api_key: &str, content_length: usize) -> String {
    format!(
        "POST {PATH} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: {}\r\nx-api-key: {api_key}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {content_length}\r\n\r\n",
        basic(password)
    )
}

/// Reads one answer's head (status line and headers) within `within`.
async fn read_head(stream: &mut TcpStream, within: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(n > 0, "connection closed before an answer: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no answer within {within:?}; got {:?}", String::from_utf8_lossy(&got)));
    String::from_utf8_lossy(&got).into_owned()
}

/// Waits for the server to close the connection (reads to EOF, discarding), and
/// says how long that took; panics after `within`.
async fn closed_after(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server kept the connection open for {within:?}"));
    started.elapsed()
}

#[tokio::test]
async fn bad_credentials_are_answered_before_the_body_is_read() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    for (password, api_key, status) in
        [("wrong", DEFAULT_API_KEY, "401"), (DEFAULT_PASSWORD, "wrong-key", "403")]
    {
        let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
        // 50 MB declared; only the head and the first bytes of the body are sent.
        stream.write_all(head(password, api_key, 50_000_000).as_bytes()).await.unwrap();
        stream.write_all(format!("nik={SITI}&name=").as_bytes()).await.unwrap();
        let answer = read_head(&mut stream, Duration::from_secs(3)).await;
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
        assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
        // The server does not wait for the remaining 50 MB.
        closed_after(&mut stream, Duration::from_secs(3)).await;
    }
    let received = sb.received();
    assert_eq!(received.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 403]);
    assert!(received.iter().all(|r| r.fields.is_empty()), "no body was read or kept");
    assert!(sb.log_stats().bytes < 2 * 1024, "{:?}", sb.log_stats());
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_refused_unread() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    stream.write_all(head(DEFAULT_PASSWORD, DEFAULT_API_KEY, MAX_BODY_BYTES + 1).as_bytes()).await.unwrap();
    let answer = read_head(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    closed_after(&mut stream, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_and_the_connection_closes() {
    let config = SandboxConfig { body_read_timeout: Duration::from_millis(300), ..Default::default() };
    let sb = Sandbox::start(config).await.unwrap();
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    stream.write_all(head(DEFAULT_PASSWORD, DEFAULT_API_KEY, 100).as_bytes()).await.unwrap();
    stream.write_all(b"nik=317").await.unwrap();
    let answer = read_head(&mut stream, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    closed_after(&mut stream, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn the_request_log_stays_within_its_byte_bound() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    let padding = "A".repeat(60 * 1024);
    let body = format!("nik={SITI}&address={padding}");
    let bound = sb.log_stats().max_bytes;
    let mut sent = 0;
    // 200 x 60 KiB = 12 MiB, past the 8 MiB default.
    for _ in 0..200 {
        let response = client
            .post(format!("{}{PATH}", sb.url()))
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .header("x-api-key", DEFAULT_API_KEY)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "the address is too long, but the body was read and logged");
        sent += body.len();
    }
    assert!(sent > bound);
    let stats: Value =
        client.get(format!("{}/_sandbox/stats", sb.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["max_bytes"], glair_vision_sandbox::DEFAULT_REQUEST_LOG_BYTES);
    let bytes = stats["bytes"].as_u64().unwrap() as usize;
    assert!(bytes <= bound, "{stats}");
    assert!(bytes > bound / 2, "the log keeps what fits: {stats}");
    let held = stats["requests"].as_u64().unwrap() as usize;
    assert!(held < 200, "the oldest bodies were dropped: {stats}");
    assert_eq!(sb.received().len(), held);
    assert!(sb.received().iter().all(|r| r.field("address").is_some_and(|a| a.len() == padding.len())));
}

#[tokio::test]
async fn a_request_log_bound_below_the_minimum_is_refused() {
    let config = SandboxConfig { request_log_bytes: 1000, ..Default::default() };
    let err = Sandbox::start(config).await.unwrap_err();
    assert!(err.to_string().contains("request_log_bytes"), "{err}");
}

#[tokio::test]
async fn a_half_sent_head_is_closed_after_the_header_timeout() {
    let config = SandboxConfig {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let sb = Sandbox::start(config).await.unwrap();
    // Slowloris: part of a head, then nothing. Timed from before connecting: the
    // server's clock starts later, so no stall on this side can shorten it.
    let opened = Instant::now();
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    stream
        .write_all(format!("POST {PATH} HTTP/1.1\r\nHost: sandbox\r\nx-api-key: ").as_bytes())
        .await
        .unwrap();
    closed_after(&mut stream, Duration::from_secs(5)).await;
    assert!(opened.elapsed() >= Duration::from_millis(300), "{:?}", opened.elapsed());
    // A connection that sends nothing at all.
    let mut silent = TcpStream::connect(sb.addr()).await.unwrap();
    closed_after(&mut silent, Duration::from_secs(5)).await;
    // A head trickled a byte at a time is closed too, at the same deadline.
    let mut trickle = TcpStream::connect(sb.addr()).await.unwrap();
    let started = Instant::now();
    let closed = async {
        for byte in head(DEFAULT_PASSWORD, DEFAULT_API_KEY, 0).bytes() {
            if trickle.write_all(&[byte]).await.is_err() {
                return started.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the whole head was accepted over {:?}", started.elapsed());
    };
    let took = tokio::time::timeout(Duration::from_secs(10), closed).await.unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let config = SandboxConfig {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(2),
        ..Default::default()
    };
    let sb = Sandbox::start(config).await.unwrap();
    let body = format!("nik={SITI}");
    let request = format!("{}{body}", head(DEFAULT_PASSWORD, DEFAULT_API_KEY, body.len()));
    let mut stream = TcpStream::connect(sb.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    assert!(read_head(&mut stream, Duration::from_secs(3)).await.starts_with("HTTP/1.1 200 "));
    // Idle a while (far less than the idle timeout), the connection is reused.
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Timed from before the request: the server's idle clock starts after its answer.
    let sent = Instant::now();
    stream.write_all(request.as_bytes()).await.unwrap();
    let second = read_head(&mut stream, Duration::from_secs(3)).await;
    assert!(second.contains("HTTP/1.1 200 "), "{second}");
    // Closed by the idle timeout, not the 30 s header timeout.
    closed_after(&mut stream, Duration::from_secs(15)).await;
    assert!(sent.elapsed() >= Duration::from_secs(2), "{:?}", sent.elapsed());
    assert_eq!(sb.received().len(), 2);
}

#[tokio::test]
async fn records_the_callers_correlation_id() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = reqwest::Client::new();
    for id in [Some("order-42/attempt-1"), None] {
        let mut request = client
            .post(format!("{}{PATH}", sb.url()))
            .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
            .header("x-api-key", DEFAULT_API_KEY)
            .form(&[("nik", SITI)]);
        if let Some(id) = id {
            request = request.header("x-request-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-request-id").is_none(), "nothing is echoed");
    }
    let received = sb.received();
    assert_eq!(received[0].client_request_id.as_deref(), Some("order-42/attempt-1"));
    assert_eq!(received[1].client_request_id, None);
    let log: Value =
        client.get(format!("{}/_sandbox/requests", sb.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(log[0]["client_request_id"], "order-42/attempt-1");
    assert_eq!(log[1]["client_request_id"], Value::Null);
}

#[tokio::test]
async fn serves_its_openapi_document() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let response = reqwest::get(format!("{}/openapi.json", sb.url())).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    assert_eq!(served, glair_vision_sandbox::OPENAPI_JSON);
    let doc: Value = serde_json::from_str(&served).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
    let responses = &doc["paths"][PATH]["post"]["responses"];
    for status in ["200", "400", "401", "403", "404", "408", "413", "415", "429", "500", "502", "503", "504"]
    {
        assert!(responses.get(status).is_some(), "{status} is documented");
    }
    // Every scripted fault is listed, with a status the document describes.
    let listed = doc["paths"][PATH]["post"]["x-sandbox-faults"].as_array().unwrap();
    let serials: Vec<&str> = listed.iter().map(|f| f["serial"].as_str().unwrap()).collect();
    let wired: Vec<&str> = glair_vision_sandbox::faults::FAULTS.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(serials, wired);
    for fault in listed {
        assert!(responses.get(fault["status"].to_string()).is_some(), "{fault}");
    }
    let fields = &doc["components"]["schemas"]["VerificationFields"]["properties"];
    for field in glair_vision::Field::ALL {
        assert!(fields.get(field.wire_name()).is_some(), "{} is documented", field.wire_name());
    }
}
