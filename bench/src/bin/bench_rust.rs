//! The Rust contenders: this SDK (single calls in a loop; `verification_batch` and
//! `verification_stream` at concurrency C) and a plain `reqwest` loop (sequential; C
//! concurrent tasks), the floor for any Rust client. Protocol: see the crate docs (`src/lib.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use glair_vision::{BatchOptions, VerificationRequest, Vision};
use glair_vision_bench::{Args, Meter, API_KEY, DATE_OF_BIRTH, NAME, NIK, PASSWORD, PATH, USERNAME};

/// Records per batch call in the batch modes (see `sdk-batch`).
const BATCH_CHUNK: usize = 10_000;

fn sdk(args: &Args) -> Vision {
    Vision::builder()
        .base_url(&args.url)
        .api_key(API_KEY)
        .username(USERNAME)
        .password(PASSWORD)
        .read_env(false)
        .build()
        .expect("client builds")
}

fn request() -> VerificationRequest {
    VerificationRequest::new(NIK).name(NAME).date_of_birth(DATE_OF_BIRTH)
}

fn versions() -> serde_json::Value {
    // reqwest, tokio, axum and hyper versions are read from Cargo.lock by the harness.
    serde_json::json!({ "glair-vision (Rust)": glair_vision::VERSION })
}

/// The plain-reqwest call: multipart form, the two auth headers, JSON decode,
/// read `verification_status`.
async fn plain_call(http: &reqwest::Client, endpoint: &str) -> bool {
    let form = reqwest::multipart::Form::new()
        .text("nik", NIK)
        .text("name", NAME)
        .text("date_of_birth", DATE_OF_BIRTH);
    let Ok(resp) = http
        .post(endpoint)
        .header("x-api-key", API_KEY)
        .basic_auth(USERNAME, Some(PASSWORD))
        .multipart(form)
        .send()
        .await
    else {
        return false;
    };
    let Ok(body) = resp.bytes().await else { return false };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return false };
    json.get("verification_status").and_then(|v| v.as_bool()) == Some(true)
}

/// Runs `call` sequentially: warm-up, then until the time or count budget ends.
async fn sequential<F, Fut>(args: &Args, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..args.warmup {
        call().await;
    }
    let mut latencies = Vec::with_capacity(args.max.min(1 << 20));
    let mut errors = 0;
    let meter = Meter::start();
    while latencies.len() < args.max && meter.elapsed() < args.duration {
        let t = Instant::now();
        if !call().await {
            errors += 1;
        }
        latencies.push(t.elapsed().as_secs_f64());
    }
    let n = latencies.len();
    meter.report(args, n, errors, Some(&mut latencies), versions());
}

/// Runs `call` from `concurrency` tasks sharing one budget.
async fn concurrent<F, Fut>(args: &Args, call: F)
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    async fn spawn_all<F, Fut>(
        concurrency: usize,
        budget: usize,
        deadline: Instant,
        call: F,
    ) -> (usize, usize)
    where
        F: Fn() -> Fut + Clone + Send + 'static,
        Fut: std::future::Future<Output = bool> + Send,
    {
        let taken = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (taken, failed, call) = (taken.clone(), failed.clone(), call.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline && taken.fetch_add(1, Ordering::Relaxed) < budget {
                    if !call().await {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        (taken.load(Ordering::Relaxed).min(budget), failed.load(Ordering::Relaxed))
    }
    let far = Instant::now() + Duration::from_secs(3600);
    spawn_all(args.concurrency, args.warmup, far, call.clone()).await;
    let meter = Meter::start();
    let deadline = Instant::now() + args.duration;
    let (n, errors) = spawn_all(args.concurrency, args.max, deadline, call).await;
    meter.report(args, n, errors, None, versions());
}

#[tokio::main]
async fn main() {
    let args = Args::from_env();
    match args.mode.as_str() {
        "sdk-seq" => {
            let vision = sdk(&args);
            let req = request();
            let identity = vision.identity();
            sequential(&args, || {
                let (identity, req) = (&identity, &req);
                async move { matches!(identity.verification(req).await, Ok(v) if v.verification_status) }
            })
            .await;
        }
        "sdk-conc" => {
            // Single calls from `concurrency` spawned tasks: how a Rust service
            // calls the SDK, and the same task structure as `reqwest-conc`.
            let identity = sdk(&args).identity();
            let req = Arc::new(request());
            concurrent(&args, move || {
                let (identity, req) = (identity.clone(), req.clone());
                async move { matches!(identity.verification(&req).await, Ok(v) if v.verification_status) }
            })
            .await;
        }
        "sdk-batch" | "sdk-stream" => {
            let vision = sdk(&args);
            let identity = vision.identity();
            let ordered = args.mode == "sdk-batch";
            let failed = |o: &Result<glair_vision::Verification, glair_vision::Error>| !matches!(o, Ok(v) if v.verification_status);
            let run = |n: usize| {
                let identity = identity.clone();
                async move {
                    let options = BatchOptions::default().concurrency(args.concurrency);
                    let requests = std::iter::repeat_with(request).take(n);
                    if ordered {
                        // The ordered list form, as the Python and Node batch contenders use.
                        let outcomes = identity.verification_batch(requests, options).await;
                        outcomes.iter().filter(|o| failed(o)).count()
                    } else {
                        identity
                            .verification_stream(stream::iter(requests), options)
                            .fold(0usize, |errors, item| async move {
                                errors + usize::from(failed(&item.outcome))
                            })
                            .await
                    }
                }
            };
            // One warm-up batch, then batches of BATCH_CHUNK back to back until
            // the duration (or request budget) is used up: the same shape as the
            // Python and Node batch contenders (a user paging through a file).
            run(args.warmup.max(args.concurrency * 4)).await;
            let meter = Meter::start();
            let (mut n, mut errors) = (0, 0);
            loop {
                let size = BATCH_CHUNK.min(args.max - n);
                errors += run(size).await;
                n += size;
                if meter.elapsed() >= args.duration || n >= args.max {
                    break;
                }
            }
            meter.report(&args, n, errors, None, versions());
        }
        "reqwest-seq" => {
            let http = reqwest::Client::new();
            let endpoint = format!("{}{PATH}", args.url);
            sequential(&args, || plain_call(&http, &endpoint)).await;
        }
        "reqwest-conc" => {
            let http = reqwest::Client::new();
            let endpoint: Arc<str> = format!("{}{PATH}", args.url).into();
            concurrent(&args, move || {
                let (http, endpoint) = (http.clone(), endpoint.clone());
                async move { plain_call(&http, &endpoint).await }
            })
            .await;
        }
        "sdk-pacing" | "sdk-pacing-fixed" => pacing(&args).await,
        other => panic!("unknown mode {other}"),
    }
}

/// The pacing scenario (bench/pacing.sh): one `verification_batch` of `max` rows
/// at concurrency C against a rate-limited sandbox, no rate given (`sdk-pacing`)
/// or the right fixed one from `BENCH_RATE` (`sdk-pacing-fixed`, the oracle).
/// Prints one JSON line: failed rows, attempts, 429s, elapsed, pace after 5 s.
async fn pacing(args: &Args) {
    let mut builder = Vision::builder()
        .base_url(&args.url)
        .api_key(API_KEY)
        .username(USERNAME)
        .password(PASSWORD)
        .read_env(false);
    if args.mode == "sdk-pacing-fixed" {
        let rate: f64 = std::env::var("BENCH_RATE").expect("BENCH_RATE").parse().expect("a number");
        builder = builder.rate_limit(rate);
    }
    let vision = builder.build().expect("client builds");
    let started = Instant::now();
    let at_5s = {
        let vision = vision.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            vision.pacing().succeeded
        })
    };
    let requests = std::iter::repeat_with(request).take(args.max);
    let options = BatchOptions::default().concurrency(args.concurrency);
    let outcomes = vision.identity().verification_batch(requests, options).await;
    let elapsed = started.elapsed().as_secs_f64();
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    let p = vision.pacing();
    let pace = if elapsed > 5.0 && at_5s.is_finished() {
        Some((p.succeeded - at_5s.await.unwrap_or(0)) as f64 / (elapsed - 5.0))
    } else {
        None
    };
    println!(
        "{}",
        serde_json::json!({
            "rows": args.max, "failed": failed, "attempts": p.sent, "throttled": p.throttled,
            "elapsed_s": (elapsed * 100.0).round() / 100.0, "pace_after_5s": pace.map(|r| r.round()),
            "final_rate": p.rate.map(|r| r.round()),
        })
    );
}
