//! The sandbox's gateway over HTTP: each model refuses as configured, every
//! answer carries the chosen rate-limit headers, a leaky queue answers late
//! before it refuses, and `GET /_sandbox/gateway` says what it counted.

use std::time::{Duration, Instant};

use glair_vision_sandbox::gateway::GatewayConfig;
use glair_vision_sandbox::{Sandbox, SandboxConfig, SandboxError};

async fn sandbox(spec: &str) -> Sandbox {
    let gateway: GatewayConfig = spec.parse().unwrap();
    Sandbox::start(SandboxConfig { gateway: Some(gateway), ..Default::default() }).await.unwrap()
}

async fn call(sb: &Sandbox) -> reqwest::Response {
    post(sb.url().to_owned(), sb.credentials().clone()).await
}

/// One verification with the sandbox's credentials; owned, so it can run in a task of its own.
async fn post(url: String, c: glair_vision::Credentials) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/identity/v1/verification"))
        .header("x-api-key", &c.api_key)
        .basic_auth(&c.username, Some(&c.password))
        .form(&[("nik", "3171014508900001")])
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_fixed_window_refuses_its_excess_with_kong_headers_on_every_answer() {
    // An hour: the window does not turn between these calls.
    let sb = sandbox("model=fixed-window,limit=3,window=1h,headers=kong").await;
    for left in ["2", "1", "0"] {
        let r = call(&sb).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-ratelimit-limit-hour").as_deref(), Some("3"));
        assert_eq!(header(&r, "x-ratelimit-remaining-hour").as_deref(), Some(left));
        assert!(header(&r, "retry-after").is_none());
    }
    let r = call(&sb).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&wait), "the seconds left in the hour: {wait}");
    assert_eq!(header(&r, "ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(sb.throttled(), 1);
    let timeline: serde_json::Value =
        reqwest::get(format!("{}/_sandbox/gateway", sb.url())).await.unwrap().json().await.unwrap();
    assert!(timeline["gateway"].as_str().unwrap().starts_with("fixed window of 3 per 3600 s"), "{timeline}");
    let seconds = timeline["seconds"].as_array().unwrap();
    let (accepted, refused) =
        seconds.iter().fold((0, 0), |(a, r), s| (a + s[1].as_u64().unwrap(), r + s[2].as_u64().unwrap()));
    assert_eq!((accepted, refused), (3, 1));
    assert_eq!(seconds[0][0].as_f64(), Some(3.0 / 3600.0));
}

#[tokio::test]
async fn each_refusal_form_and_header_family() {
    let sb = sandbox("model=token-bucket,rate=0.5,burst=1,retry-after=date,headers=ietf").await;
    let r = call(&sb).await;
    assert_eq!(header(&r, "ratelimit-policy").as_deref(), Some("\"default\";q=1;w=2"));
    let r = call(&sb).await;
    assert_eq!(r.status(), 429);
    let date = header(&r, "retry-after").unwrap();
    assert!(date.ends_with(" GMT"), "{date}");
    assert!(header(&r, "ratelimit").unwrap().starts_with("\"default\";r=0;t="));

    let sb = sandbox("model=sliding-window,limit=1,window=10s,retry-after=absent,headers=x-ratelimit").await;
    assert_eq!(call(&sb).await.status(), 200);
    let r = call(&sb).await;
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").is_none());
    assert_eq!(header(&r, "x-ratelimit-limit").as_deref(), Some("1"));

    let sb = sandbox("model=fixed-window,limit=1,window=1h,retry-after=7").await;
    call(&sb).await;
    assert_eq!(header(&call(&sb).await, "retry-after").as_deref(), Some("7"));
}

#[tokio::test]
async fn a_leaky_queue_answers_late_then_refuses() {
    let sb = sandbox("model=leaky-queue,rate=10,depth=2").await;
    let started = Instant::now();
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let call = post(sb.url().to_owned(), sb.credentials().clone());
            tokio::spawn(async move { call.await.status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for call in calls {
        statuses.push(call.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 1, "{statuses:?}");
    // The last accepted waited two places in the queue.
    assert!(started.elapsed() >= Duration::from_millis(190), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_gateway_and_a_rate_limit_together_are_refused() {
    let config = SandboxConfig {
        gateway: Some("model=token-bucket,rate=5".parse().unwrap()),
        rate_limit: 5.0,
        ..Default::default()
    };
    match Sandbox::start(config).await {
        Err(SandboxError::Config(why)) => assert!(why.contains("not both"), "{why}"),
        other => panic!("{:?}", other.map(|s| s.url().to_owned())),
    }
    // Without either, there is no gateway to report.
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    assert!(sb.gateway().is_none());
    let body: serde_json::Value =
        reqwest::get(format!("{}/_sandbox/gateway", sb.url())).await.unwrap().json().await.unwrap();
    assert_eq!(body, serde_json::json!({"gateway": null}));
}
