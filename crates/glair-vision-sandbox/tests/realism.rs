//! The sandbox standing in for a remote, rate-limited API: a token bucket per API
//! key answered like a gateway (429, JSON body, Retry-After in whole seconds) and
//! a latency that varies from answer to answer.

use std::time::{Duration, Instant};

use glair_vision_sandbox::{Sandbox, SandboxConfig, DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_USERNAME};
use serde_json::Value;

async fn post(http: &reqwest::Client, sb: &Sandbox, api_key: &str) -> reqwest::Response {
    http.post(format!("{}/identity/v1/verification", sb.url()))
        .header("x-api-key", api_key)
        .basic_auth(DEFAULT_USERNAME, Some(DEFAULT_PASSWORD))
        .form(&[("nik", "3171014508900001")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn past_the_burst_the_account_is_answered_429_with_retry_after() {
    // 0.5 requests/s: the bucket cannot refill during the test.
    let sb = Sandbox::start(SandboxConfig { rate_limit: 0.5, burst: 5, ..Default::default() }).await.unwrap();
    let http = reqwest::Client::new();
    for _ in 0..5 {
        assert_eq!(post(&http, &sb, DEFAULT_API_KEY).await.status(), 200);
    }
    let throttled = post(&http, &sb, DEFAULT_API_KEY).await;
    assert_eq!(throttled.status(), 429);
    let headers = throttled.headers();
    // A token every 2 s, rounded up to whole seconds.
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(headers["x-glair-sandbox"], "true");
    assert!(headers.contains_key("request-id"));
    let body: Value = throttled.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"message": "Too Many Requests"}));
    // Another key is not the account's: refused for its credentials, not throttled.
    assert_eq!(post(&http, &sb, "someone-else").await.status(), 403);
    assert_eq!(sb.throttled(), 1);
    let stats: Value =
        http.get(format!("{}/_sandbox/stats", sb.url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["throttled"], 1);
    // The 429 is in the request log like any answer.
    assert_eq!(sb.received().iter().filter(|r| r.status == 429).count(), 1);
}

#[tokio::test]
async fn the_bucket_refills_at_the_rate() {
    let sb =
        Sandbox::start(SandboxConfig { rate_limit: 20.0, burst: 1, ..Default::default() }).await.unwrap();
    let http = reqwest::Client::new();
    assert_eq!(post(&http, &sb, DEFAULT_API_KEY).await.status(), 200);
    let second = post(&http, &sb, DEFAULT_API_KEY).await;
    if second.status() == 429 {
        assert_eq!(second.headers()["retry-after"], "1", "a 50 ms wait is rounded up to 1 s");
    }
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(post(&http, &sb, DEFAULT_API_KEY).await.status(), 200, "refilled after 1/rate");
}

#[tokio::test]
async fn no_rate_limit_by_default_and_nonsense_is_refused() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let http = reqwest::Client::new();
    for _ in 0..50 {
        assert_eq!(post(&http, &sb, DEFAULT_API_KEY).await.status(), 200);
    }
    assert_eq!(sb.throttled(), 0);
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        let err = Sandbox::start(SandboxConfig { rate_limit: bad, ..Default::default() }).await.unwrap_err();
        assert!(err.to_string().contains("rate_limit"), "{err}");
    }
}

#[tokio::test]
async fn latency_varies_around_its_mean() {
    let sb = Sandbox::start(SandboxConfig {
        latency: Duration::from_millis(40),
        latency_spread: Duration::from_millis(15),
        ..Default::default()
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let mut took = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        assert_eq!(post(&http, &sb, DEFAULT_API_KEY).await.status(), 200);
        took.push(started.elapsed());
    }
    let (min, max) = (took.iter().min().unwrap(), took.iter().max().unwrap());
    // A spread of 15 ms: 30 draws do not all land within 5 ms of each other.
    assert!(*max - *min > Duration::from_millis(5), "{min:?}..{max:?}");
    let mean = took.iter().sum::<Duration>() / took.len() as u32;
    assert!(mean > Duration::from_millis(20) && mean < Duration::from_millis(500), "{mean:?}");
}
