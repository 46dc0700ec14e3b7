//! The client against a real sandbox over HTTP: wire format, retries, errors,
//! batch, and that no personal data or secret reaches Debug output (logs: `redaction.rs`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use glair_vision::telemetry::TraceContext;
use glair_vision::{
    BatchOptions, BatchRequest, ErrorKind, FieldResults, RequestOptions, VerificationRequest,
};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

const SITI: &str = "3171014508900001";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { slow_delay: Duration::from_millis(600), ..Default::default() })
        .await
        .unwrap()
}

fn fault(serial: &str) -> VerificationRequest {
    VerificationRequest::new(format!("317101100190{serial}"))
}

#[tokio::test]
async fn sends_multipart_with_auth_and_user_agent() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let v =
        vision.identity().verification(&VerificationRequest::new(SITI).name("SITI RAHAYU")).await.unwrap();
    assert!(v.verification_status);
    let received = sb.received();
    assert_eq!(received.len(), 1);
    assert!(received[0].content_type.starts_with("multipart/form-data; boundary="));
    assert_eq!(
        received[0].user_agent.as_deref(),
        Some(format!("glair-vision/{} (rust)", glair_vision::VERSION).as_str())
    );
    assert_eq!(v.request_id.as_deref(), Some(received[0].request_id.as_str()));
}

#[tokio::test]
async fn honours_retry_after_then_reports_rate_limited() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().max_retries(1).build().unwrap();
    let started = Instant::now();
    let err = vision.identity().verification(&fault("9429")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.api().unwrap().retry_after, Some(Duration::from_secs(1)));
    assert_eq!(sb.received().len(), 2);
    // Behaviour, not speed: the retry waited for the server's Retry-After.
    assert!(started.elapsed() >= Duration::from_millis(950), "{:?}", started.elapsed());
}

#[tokio::test]
async fn retries_a_transient_503_and_succeeds() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let v = vision.identity().verification(&fault("9001")).await.unwrap();
    assert!(v.verification_status);
    assert_eq!(sb.received().iter().map(|r| r.status).collect::<Vec<_>>(), vec![503, 200]);
}

#[tokio::test]
async fn errors_keep_status_reason_request_id_and_body() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().max_retries(0).build().unwrap();
    let err = vision.identity().verification(&fault("9502")).await.unwrap_err();
    let api = err.api().unwrap();
    assert_eq!((api.status, api.reason.as_deref()), (502, Some("502 Bad Gateway")));
    assert!(api.body.contains("<html>"));
    assert_eq!(api.request_id.as_deref(), Some(sb.received()[0].request_id.as_str()));

    let err = vision.identity().verification(&fault("9503").name("X")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ServiceUnavailable);
    assert_eq!(err.api().unwrap().result, Some(FieldResults::default()), "partial result kept");
    assert!(err.to_string().contains("Something wrong in Dukcapil server"));
}

#[tokio::test]
async fn validation_errors_send_nothing() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let err = vision.identity().verification(&VerificationRequest::new(SITI).rt("12345")).await.unwrap_err();
    assert_eq!(err.validation().unwrap().field(), "rt");
    assert!(sb.received().is_empty());
}

#[tokio::test]
async fn per_call_overrides_apply_to_one_call_only() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let wrong = RequestOptions { api_key: Some("nope".into()), ..Default::default() };
    let req = VerificationRequest::new(SITI);
    let err = vision.identity().verification_with(&req, &wrong).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
    assert!(vision.identity().verification(&req).await.is_ok());
    let slow = RequestOptions {
        timeout: Some(Duration::from_millis(100)),
        max_retries: Some(0),
        ..Default::default()
    };
    let err = vision.identity().verification_with(&fault("9408"), &slow).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn batch_returns_every_outcome_in_input_order() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().max_retries(0).build().unwrap();
    let requests = vec![
        VerificationRequest::new(SITI).name("SITI RAHAYU"),
        VerificationRequest::new(SITI).name("BUDI SANTOSO"),
        VerificationRequest::new("123"),
        fault("9503"),
        VerificationRequest::new("3273012305850002"),
    ];
    let outcomes =
        vision.identity().verification_batch(requests, BatchOptions::default().concurrency(3)).await;
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes[0].as_ref().unwrap().verification_status);
    assert_eq!(outcomes[1].as_ref().unwrap().reason, "Name does not match");
    assert_eq!(outcomes[2].as_ref().unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!(outcomes[3].as_ref().unwrap_err().kind(), ErrorKind::ServiceUnavailable);
    assert!(outcomes[4].as_ref().unwrap().verification_status);
    assert_eq!(sb.received().len(), 4, "the invalid row was not sent");
}

#[tokio::test]
async fn a_batch_item_sends_its_own_trace_context_instead_of_the_batchs() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let batch_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let row_parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01";
    let requests = vec![
        BatchRequest::new(VerificationRequest::new(SITI), Some("row-0".into()))
            .trace_context(TraceContext::new(row_parent, Some("row=1")).unwrap()),
        BatchRequest::new(VerificationRequest::new("3273012305850002"), Some("row-1".into())),
    ];
    let options = BatchOptions {
        request_options: RequestOptions {
            trace_context: Some(TraceContext::new(batch_parent, None).unwrap()),
            ..Default::default()
        },
        ..Default::default()
    };
    let outcomes = vision.identity().verification_batch(requests, options).await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    let mut received = sb.received();
    received.sort_by(|a, b| a.client_request_id.cmp(&b.client_request_id));
    let sent: Vec<_> = received.iter().map(|r| (r.traceparent.as_deref(), r.tracestate.as_deref())).collect();
    assert_eq!(sent, [(Some(row_parent), Some("row=1")), (Some(batch_parent), None)]);
}

#[tokio::test]
async fn batch_stream_bounds_concurrency_and_rate() {
    let sb = Sandbox::start(SandboxConfig { latency: Duration::from_millis(200), ..Default::default() })
        .await
        .unwrap();
    let vision = sb.vision_builder().build().unwrap();
    let requests = futures_util::stream::iter((0..8).map(|_| VerificationRequest::new(SITI)));
    let started = Instant::now();
    let mut seen: Vec<usize> = vision
        .identity()
        .verification_stream(requests, BatchOptions::default().concurrency(4))
        .map(|item| {
            assert!(item.outcome.unwrap().verification_status);
            item.index
        })
        .collect()
        .await;
    // 8 calls of 200 ms, 4 at a time: at least two rounds.
    assert!(started.elapsed() >= Duration::from_millis(390), "{:?}", started.elapsed());
    seen.sort();
    assert_eq!(seen, (0..8).collect::<Vec<_>>());

    let requests = (0..6).map(|_| VerificationRequest::new(SITI)).collect::<Vec<_>>();
    let started = Instant::now();
    let options = BatchOptions::default().concurrency(64).rate_limit(20.0);
    let sb_fast = sandbox().await;
    let fast = sb_fast.vision_builder().build().unwrap();
    let outcomes = fast.identity().verification_batch(requests, options).await;
    assert!(outcomes.iter().all(Result::is_ok));
    // 6 starts at 20/s are spaced 50 ms apart: the last starts 250 ms in.
    assert!(started.elapsed() >= Duration::from_millis(240), "{:?}", started.elapsed());
}

/// Polls `done` until it holds; panics (naming `what`) after 60 s: a bound on a
/// hang, never the mechanism.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(60), "{what}: not within 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn batch_pulls_input_lazily_and_stops_when_dropped() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().build().unwrap();
    // After 10 answers the sandbox holds the rest: what is in flight when the
    // stream is dropped stays in flight.
    sb.hold_after(10);
    /// Set when the input is dropped: no request can be pulled (or sent) after.
    struct Dropped(Arc<AtomicBool>);
    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (pulled, dropped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let (counter, guard) = (pulled.clone(), Dropped(dropped.clone()));
    // An endless input: only as much is pulled as the consumer asks for plus what is in flight.
    let endless = futures_util::stream::repeat_with(move || {
        let _ = &guard;
        counter.fetch_add(1, Ordering::SeqCst);
        VerificationRequest::new(SITI)
    });
    let first: Vec<_> = vision
        .identity()
        .verification_stream(endless, BatchOptions::default().concurrency(4))
        .take(10)
        .collect()
        .await;
    assert_eq!(first.len(), 10);
    // Dropping the stream ends its workers, and with the last of them the input.
    wait_until("the input dropped", || dropped.load(Ordering::SeqCst)).await;
    let pulled = pulled.load(Ordering::SeqCst);
    // Besides the 10 taken: at most 4 in flight and 4 finished, waiting in the channel.
    assert!((10..=18).contains(&pulled), "{pulled} requests pulled for 10 results at concurrency 4");
    sb.release();
    wait_until("the sandbox idle", || sb.in_flight() == 0).await;
    let sent = sb.received().len();
    assert!((10..=pulled).contains(&sent), "{sent} requests sent, {pulled} pulled: each sent at most once");
}
