//! Every count, size, duration and rate has one range (`glair_vision::limits`),
//! checked before anything is allocated or sent: a client's settings when it is
//! built, a call's options when it is made, a batch's before any worker starts.

use std::time::{Duration, Instant};

use futures_util::{stream, StreamExt};
use glair_vision::limits;
use glair_vision::{
    BatchOptions, Error, ErrorKind, RateLimit, RequestOptions, RetryPolicy, VerificationRequest, Vision,
    VisionBuilder,
};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

const SITI: &str = "3171014508900001";

async fn sandbox() -> Sandbox {
    Sandbox::start(SandboxConfig { synthetic: 0, ..Default::default() }).await.unwrap()
}

fn offline() -> VisionBuilder {
    Vision::builder().read_env(false).api_key("k").username("u").password("p").base_url("http://127.0.0.1:9")
}

fn configuration_names(result: Result<Vision, Error>, setting: &str) {
    let e = result.expect_err(setting);
    assert_eq!(e.kind(), ErrorKind::Configuration, "{setting}: {e}");
    assert!(e.to_string().contains(&format!("invalid {setting}: must be")), "{setting}: {e}");
}

fn validation_names(e: &Error, setting: &str) {
    assert_eq!(e.kind(), ErrorKind::Validation, "{setting}: {e}");
    assert_eq!(e.validation().unwrap().field(), setting, "{e}");
}

#[test]
fn the_builder_refuses_settings_outside_their_ranges() {
    let day = Duration::from_secs(86_400);
    let too_long = day + Duration::from_millis(1);
    for (setting, builder) in [
        ("timeout", offline().timeout(Duration::ZERO)),
        ("timeout", offline().timeout(too_long)),
        ("timeout", offline().timeout(Duration::MAX)),
        ("connect_timeout", offline().connect_timeout(Duration::ZERO)),
        ("connect_timeout", offline().connect_timeout(too_long)),
        ("deadline", offline().deadline(Duration::from_micros(999))),
        ("deadline", offline().deadline(Duration::MAX)),
        ("max_retries", offline().max_retries(101)),
        ("max_retries", offline().max_retries(u32::MAX)),
        ("max_response_bytes", offline().max_response_bytes(0)),
        ("max_response_bytes", offline().max_response_bytes(1023)),
        ("max_response_bytes", offline().max_response_bytes(16 * 1024 * 1024 + 1)),
        ("max_response_bytes", offline().max_response_bytes(usize::MAX)),
        ("rate_limit", offline().rate_limit(0.0)),
        ("rate_limit", offline().rate_limit(-5.0)),
        ("rate_limit", offline().rate_limit(f64::NAN)),
        ("rate_limit", offline().rate_limit(f64::INFINITY)),
        ("rate_limit", offline().rate_limit(1e-300)),
        ("rate_limit", offline().rate_limit(1_000_001.0)),
        (
            "initial_backoff",
            offline().retry_policy(RetryPolicy { initial_backoff: too_long, ..Default::default() }),
        ),
        (
            "max_backoff",
            offline().retry_policy(RetryPolicy { max_backoff: Duration::MAX, ..Default::default() }),
        ),
        (
            "max_retry_after",
            offline().retry_policy(RetryPolicy { max_retry_after: too_long, ..Default::default() }),
        ),
        ("max_retries", offline().retry_policy(RetryPolicy { max_retries: 1000, ..Default::default() })),
    ] {
        configuration_names(builder.build(), setting);
    }
}

#[test]
fn the_builder_accepts_the_ends_of_every_range() {
    let day = Duration::from_secs(86_400);
    let ms = Duration::from_millis(1);
    for builder in [
        offline().timeout(ms).connect_timeout(ms).deadline(ms),
        offline().timeout(day).connect_timeout(day).deadline(day),
        offline().max_retries(0),
        offline().max_retries(100),
        offline().max_response_bytes(1024),
        offline().max_response_bytes(16 * 1024 * 1024),
        offline().rate_limit(0.001),
        offline().rate_limit(1_000_000.0),
        offline().rate_limit(RateLimit::Auto),
        offline().retry_policy(RetryPolicy {
            initial_backoff: Duration::ZERO,
            max_backoff: day,
            max_retry_after: day,
            ..Default::default()
        }),
    ] {
        builder.build().unwrap();
    }
}

#[tokio::test]
async fn a_call_refuses_options_outside_their_ranges_and_sends_nothing() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let request = VerificationRequest::new(SITI);
    for (setting, options) in [
        ("timeout", RequestOptions { timeout: Some(Duration::ZERO), ..Default::default() }),
        ("timeout", RequestOptions { timeout: Some(Duration::MAX), ..Default::default() }),
        ("deadline", RequestOptions { deadline: Some(Duration::from_secs(86_401)), ..Default::default() }),
        ("deadline", RequestOptions { deadline: Some(Duration::MAX), ..Default::default() }),
        ("max_retries", RequestOptions { max_retries: Some(101), ..Default::default() }),
        ("max_retries", RequestOptions { max_retries: Some(u32::MAX), ..Default::default() }),
    ] {
        let e = vision.identity().verification_with(&request, &options).await.unwrap_err();
        validation_names(&e, setting);
        assert_eq!(options.check().unwrap_err().to_string(), e.to_string());
    }
    assert!(sb.received().is_empty(), "nothing was sent");
    sb.stop().await;
}

/// Concurrencies that once panicked in tokio (2^62: more than a semaphore's
/// permits) or grew until the kernel killed the process (2^31), the first
/// ones past the range, and zero.
const BAD_CONCURRENCY: [usize; 6] = [1 << 62, 1 << 31, 4097, 65_537, 1_000_000, 0];

#[tokio::test]
async fn a_batch_refuses_concurrency_outside_its_range_without_starting_workers() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let requests = || vec![VerificationRequest::new(SITI); 3];
    for concurrency in BAD_CONCURRENCY.into_iter().chain([usize::MAX]) {
        let options = BatchOptions::default().concurrency(concurrency);
        validation_names(&options.check().unwrap_err(), "concurrency");
        let started = Instant::now();
        let items = vision.identity().verification_batch_items(requests(), options.clone()).await;
        assert_eq!(items.len(), 3);
        for (i, item) in items.iter().enumerate() {
            assert_eq!(item.index, i);
            assert_eq!(item.attempts, 0);
            validation_names(item.outcome.as_ref().unwrap_err(), "concurrency");
        }
        let streamed: Vec<_> =
            vision.identity().verification_stream(stream::iter(requests()), options).collect().await;
        assert_eq!(streamed.len(), 3);
        for item in &streamed {
            validation_names(item.outcome.as_ref().unwrap_err(), "concurrency");
        }
        // No worker per unit of concurrency: refused at once.
        assert!(started.elapsed() < Duration::from_secs(5), "{concurrency}: {:?}", started.elapsed());
    }
    assert!(sb.received().is_empty(), "nothing was sent");
    sb.stop().await;
}

#[tokio::test]
async fn a_batch_refuses_rates_and_call_options_outside_their_ranges() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    let cases = [
        ("rate_limit", BatchOptions::default().rate_limit(0.0)),
        ("rate_limit", BatchOptions::default().rate_limit(f64::NAN)),
        ("rate_limit", BatchOptions::default().rate_limit(f64::INFINITY)),
        ("rate_limit", BatchOptions::default().rate_limit(-1.0)),
        ("rate_limit", BatchOptions::default().rate_limit(1e-300)),
        (
            "max_retries",
            BatchOptions {
                request_options: RequestOptions { max_retries: Some(1 << 20), ..Default::default() },
                ..Default::default()
            },
        ),
        (
            "timeout",
            BatchOptions {
                request_options: RequestOptions { timeout: Some(Duration::ZERO), ..Default::default() },
                ..Default::default()
            },
        ),
    ];
    for (setting, options) in cases {
        let outcomes =
            vision.identity().verification_batch(vec![VerificationRequest::new(SITI)], options).await;
        validation_names(outcomes[0].as_ref().unwrap_err(), setting);
    }
    assert!(sb.received().is_empty(), "nothing was sent");
    sb.stop().await;
}

#[tokio::test]
async fn the_ends_of_the_concurrency_range_run() {
    let sb = sandbox().await;
    let vision = sb.vision_builder().build().unwrap();
    for concurrency in [1, limits::MAX_CONCURRENCY] {
        let outcomes = vision
            .identity()
            .verification_batch(
                vec![VerificationRequest::new(SITI); 2],
                BatchOptions::default().concurrency(concurrency),
            )
            .await;
        assert!(outcomes.iter().all(|o| o.as_ref().unwrap().verification_status), "{concurrency}");
    }
    sb.stop().await;
}

#[cfg(feature = "arrow")]
#[tokio::test]
async fn a_table_refuses_options_outside_their_ranges_before_reading_anything() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use arrow_array::{RecordBatch, StringArray};
    use glair_vision::tables::arrow::{resolve_schema, verify_batches};
    use glair_vision::tables::ColumnMapping;

    let vision = offline().build().unwrap();
    let batch = RecordBatch::try_from_iter([(
        "nik",
        Arc::new(StringArray::from(vec![SITI])) as arrow_array::ArrayRef,
    )])
    .unwrap();
    let resolved = resolve_schema(&ColumnMapping::new(), &batch.schema()).unwrap();
    for (setting, options) in [
        ("concurrency", BatchOptions::default().concurrency(1 << 62)),
        ("concurrency", BatchOptions::default().concurrency(0)),
        ("rate_limit", BatchOptions::default().rate_limit(f64::NAN)),
    ] {
        let read = Arc::new(AtomicUsize::new(0));
        let counted = {
            let read = read.clone();
            stream::iter([Ok(batch.clone())]).inspect(move |_| {
                read.fetch_add(1, Ordering::SeqCst);
            })
        };
        let e =
            verify_batches(&vision.identity(), &batch.schema(), counted, &resolved, options).err().unwrap();
        validation_names(&e, setting);
        assert_eq!(read.load(Ordering::SeqCst), 0, "no batch was read");
    }
}
