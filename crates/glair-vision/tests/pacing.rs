//! Adaptive pacing against a sandbox that limits the account as a gateway does
//! (token bucket per API key, 429 with Retry-After) and answers with a latency
//! spread: batches and streams finish without failed rows, with no rate given.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use glair_vision::{BatchOptions, ErrorKind, RateLimit, RequestOptions, VerificationRequest, Vision};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

/// 200 requests/s, burst 20, 30 ms mean latency (10 ms spread).
async fn limited() -> Sandbox {
    Sandbox::start(SandboxConfig {
        rate_limit: 200.0,
        burst: 20,
        latency: Duration::from_millis(30),
        latency_spread: Duration::from_millis(10),
        seed: 7,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// `n` requests over the registry's people (found or not, all answered 200).
fn rows(sb: &Sandbox, n: usize) -> Vec<VerificationRequest> {
    let people = sb.records();
    (0..n).map(|i| VerificationRequest::new(people[i % people.len()].nik())).collect()
}

fn client(sb: &Sandbox) -> Vision {
    sb.vision_builder().build().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_larger_than_the_burst_finishes_with_no_failed_rows() {
    let sb = limited().await;
    let vision = client(&sb);
    let n = 2000;
    let started = Instant::now();
    let outcomes =
        vision.identity().verification_batch(rows(&sb, n), BatchOptions::default().concurrency(64)).await;
    eprintln!("{n} rows in {:?}: {:?}", started.elapsed(), vision.pacing());
    let failed: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(failed.is_empty(), "{} failed rows, first: {:?}", failed.len(), failed.first());
    let pacing = vision.pacing();
    let throttled = sb.throttled();
    assert!(throttled > 0, "64 calls at once into a burst of 20 are throttled");
    assert_eq!(pacing.throttled, throttled, "the client saw every 429 the server sent");
    assert_eq!(pacing.sent, n as u64 + throttled, "each 429 was retried once more, nothing else");
    assert_eq!(pacing.retries, throttled);
    assert_eq!(pacing.succeeded, n as u64);
    assert!(pacing.rate.is_some(), "pacing engaged after the first 429");
    // A small fraction of attempts: the pace was found, not hammered.
    assert!(throttled * 10 < n as u64, "{throttled} of {} attempts were 429s", pacing.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_sharing_one_key_both_finish_with_no_failed_rows() {
    let sb = limited().await;
    let (a, b) = (client(&sb), client(&sb));
    let n = 1000;
    let identity = a.identity();
    let batch = identity.verification_batch(rows(&sb, n), BatchOptions::default().concurrency(32));
    let stream = b
        .identity()
        .verification_stream(
            futures_util::stream::iter(rows(&sb, n)),
            BatchOptions::default().concurrency(32),
        )
        .collect::<Vec<_>>();
    let (batch, stream) = tokio::join!(batch, stream);
    let failed_a = batch.iter().filter(|o| o.is_err()).count();
    let failed_b = stream.iter().filter(|i| i.outcome.is_err()).count();
    assert_eq!((failed_a, failed_b), (0, 0));
    assert_eq!(stream.len(), n);
    let throttled = a.pacing().throttled + b.pacing().throttled;
    assert_eq!(throttled, sb.throttled());
    assert!(throttled * 10 < 2 * n as u64, "{throttled} 429s for {} rows", 2 * n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_rate_limit_is_a_ceiling() {
    let sb = limited().await;
    let vision = sb.vision_builder().rate_limit(RateLimit::Fixed(100.0)).build().unwrap();
    assert_eq!(vision.pacing().rate, Some(100.0));
    let started = Instant::now();
    let outcomes =
        vision.identity().verification_batch(rows(&sb, 300), BatchOptions::default().concurrency(64)).await;
    let took = started.elapsed();
    assert!(outcomes.iter().all(|o| o.is_ok()));
    // 300 starts at most 100 a second: at least 2.99 s; under the server's limit, no 429.
    assert!(took >= Duration::from_millis(2900), "{took:?}");
    assert_eq!(sb.throttled(), 0);
    let pacing = vision.pacing();
    assert_eq!((pacing.rate, pacing.ceiling, pacing.throttled), (Some(100.0), Some(100.0), 0));

    // A batch's own fixed rate is a ceiling too, under an automatic client.
    let vision = client(&sb);
    let started = Instant::now();
    let outcomes = vision
        .identity()
        .verification_batch(rows(&sb, 50), BatchOptions::default().concurrency(64).rate_limit(25.0))
        .await;
    assert!(outcomes.iter().all(|o| o.is_ok()));
    assert!(started.elapsed() >= Duration::from_millis(1900), "{:?}", started.elapsed());
    assert_eq!(vision.pacing().rate, None, "no 429, so the client's own pacer never engaged");
}

#[tokio::test]
async fn one_429_holds_back_its_own_call_and_refusals_in_a_row_every_call() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().max_retries(0).build().unwrap();
    // Fault NIK 9429: 429 with Retry-After: 1, not retried (max_retries 0).
    let throttled = VerificationRequest::new("3171011001909429");
    let err = vision.identity().verification(&throttled).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    // One refusal is a gateway at its limit, not closed: the next call goes at once.
    assert!(!vision.pacing().paused);
    let started = Instant::now();
    vision.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    // Refusals in a row with nothing accepted between: closed; every call waits.
    for _ in 0..5 {
        vision.identity().verification(&throttled).await.unwrap_err();
    }
    assert!(vision.pacing().paused);
    let other = vision.clone();
    let started = Instant::now();
    tokio::spawn(async move {
        other.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap()
    })
    .await
    .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert!(!vision.pacing().paused);
    // A client of its own is not held back.
    let fresh = sb.vision_builder().build().unwrap();
    fresh.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap();
    assert_eq!(fresh.pacing().throttled, 0);
}

#[tokio::test]
async fn another_accounts_429s_neither_pause_nor_slow_the_clients_own_calls() {
    // The client's own account, and another one that per-call options reach (a
    // platform calling for a merchant's account): its 429s are its own.
    let own = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let other = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = own.vision_builder().max_retries(0).build().unwrap();
    let there = RequestOptions { base_url: Some(other.url().to_owned()), ..Default::default() };
    let err = vision
        .identity()
        .verification_with(&VerificationRequest::new("3171011001909429"), &there)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(other.received().len(), 1);
    let p = vision.pacing();
    assert_eq!((p.throttled, p.paused, p.rate), (0, false, None), "the client's own account is untouched");
    // A third account, paused for 1000 s (0.001 requests/s, burst 1: its second
    // call is a 429 with Retry-After 1000). Held by that pause, the own account's
    // call would fail at once (the wait outlasts its 60 s deadline); it is not.
    let far =
        Sandbox::start(SandboxConfig { rate_limit: 0.001, burst: 1, ..Default::default() }).await.unwrap();
    let there_far = RequestOptions { base_url: Some(far.url().to_owned()), ..Default::default() };
    let siti = VerificationRequest::new("3171014508900001");
    vision.identity().verification_with(&siti, &there_far).await.unwrap();
    let err = vision.identity().verification_with(&siti, &there_far).await.unwrap_err();
    assert!(err.retry_after().is_some_and(|d| d >= Duration::from_secs(900)), "{err}");
    vision.identity().verification(&siti).await.unwrap();
    assert!(!vision.pacing().paused, "the own account is not paused");
    // The other account took one 429: its next call is not held for it either.
    let started = Instant::now();
    vision.identity().verification_with(&VerificationRequest::new("3171014508900001"), &there).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
    // Another API key is another account too.
    let key = RequestOptions { api_key: Some("another-key".into()), ..Default::default() };
    let err = vision.identity().verification_with(&VerificationRequest::new("3171014508900001"), &key).await;
    assert_eq!(err.unwrap_err().status(), Some(403));
    assert_eq!(vision.pacing().sent, 1, "only the call to the own account counts there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_calls_pay_nothing_until_a_429() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = client(&sb);
    for _ in 0..20 {
        vision.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap();
    }
    let p = vision.pacing();
    assert_eq!((p.rate, p.sent, p.retries, p.throttled, p.succeeded, p.paused), (None, 20, 0, 0, 20, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_batch_item_says_how_many_attempts_it_took_and_how_many_were_throttled() {
    let sb = limited().await;
    let vision = client(&sb);
    let mut requests = rows(&sb, 400);
    requests.push(VerificationRequest::new("not a nik"));
    let items =
        vision.identity().verification_batch_items(requests, BatchOptions::default().concurrency(64)).await;
    assert_eq!(items.len(), 401);
    assert!(items.iter().enumerate().all(|(i, item)| item.index == i), "in input order");
    let refused = &items[400];
    assert_eq!(refused.outcome.as_ref().unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!((refused.attempts, refused.throttled), (0, 0), "a row refused before sending sent nothing");
    let ok = &items[..400];
    assert!(
        ok.iter().all(|i| i.outcome.is_ok() && i.attempts == i.throttled + 1),
        "one 2xx each, after its 429s"
    );
    let (sent, throttled) =
        ok.iter().fold((0u64, 0u64), |(s, t), i| (s + u64::from(i.attempts), t + u64::from(i.throttled)));
    let pacing = vision.pacing();
    assert!(throttled > 0, "64 calls at once into a burst of 20 are throttled");
    assert_eq!((sent, throttled), (pacing.sent, pacing.throttled), "the items add up to the client's counts");
    // The stream reports the same.
    let stream: Vec<_> = vision
        .identity()
        .verification_stream(
            futures_util::stream::iter(rows(&sb, 50)),
            BatchOptions::default().concurrency(8),
        )
        .collect()
        .await;
    assert!(stream.iter().all(|i| i.outcome.is_ok() && i.attempts >= 1 && i.attempts == i.throttled + 1));
}
