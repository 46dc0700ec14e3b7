//! `glair_vision::logging`: the sink the bindings hand records to, its level
//! changed at run time, and the same redaction as stderr. One test: the sink is
//! process-wide.

use std::sync::{Arc, Mutex};

use glair_vision::logging::{self, LogRecord};
use glair_vision::{RequestOptions, VerificationRequest};
use glair_vision_sandbox::{Sandbox, SandboxConfig};
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

const SITI: &str = "3171014508900001";

#[tokio::test]
async fn the_sink_gets_redacted_records_at_the_level_set() {
    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let vision = sb.vision_builder().max_retries(1).build().unwrap();
    let request = VerificationRequest::new(SITI).name("SITI RAHAYU").date_of_birth("05-08-1990");
    let with_id = RequestOptions { request_id: Some("order-17".into()), ..Default::default() };

    let records: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let into = records.clone();
    assert!(logging::set_sink(
        None,
        Some(Arc::new(move |r: &LogRecord| into.lock().unwrap().push(r.clone())))
    ));
    vision.identity().verification_with(&request, &with_id).await.unwrap();
    let seen = std::mem::take(&mut *records.lock().unwrap());
    let verified = seen.iter().find(|r| r.message == "verified").expect("a `verified` record at DEBUG");
    assert_eq!(verified.level, Level::DEBUG);
    assert!(verified.target.starts_with("glair_vision"), "{}", verified.target);
    let field = |name: &str| verified.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    assert_eq!(field("client_request_id"), Some("order-17"));
    assert_eq!(field("nik"), Some("317101******0001"), "the span's masked NIK: {:?}", verified.fields);
    assert!(field("request_id").is_some_and(|id| !id.is_empty()));
    let everything = format!("{seen:?}");
    for secret in [SITI, "SITI RAHAYU", "05-08-1990", "sandbox-"] {
        assert!(!everything.contains(secret), "a record shows {secret:?}: {everything}");
    }

    // Raised to INFO: the SDK's DEBUG records no longer arrive.
    assert!(logging::set_sink_level(LevelFilter::INFO));
    vision.identity().verification(&request).await.unwrap();
    assert!(records.lock().unwrap().is_empty(), "{:?}", records.lock().unwrap());

    // Back to DEBUG through set_sink, with a replacement sink: only it receives.
    let second: Arc<Mutex<Vec<LogRecord>>> = Arc::default();
    let into = second.clone();
    assert!(logging::set_sink(
        Some(LevelFilter::DEBUG),
        Some(Arc::new(move |r: &LogRecord| into.lock().unwrap().push(r.clone())))
    ));
    vision.identity().verification(&VerificationRequest::new("3171011001909503")).await.unwrap_err();
    let seen = std::mem::take(&mut *second.lock().unwrap());
    assert!(seen.iter().any(|r| r.message == "retrying"), "{seen:?}");
    assert!(seen.iter().any(|r| r.message == "failed"
        && r.fields.contains(&("kind".to_owned(), "service_unavailable".to_owned()))));
    assert!(records.lock().unwrap().is_empty(), "the replaced sink gets nothing");

    // Off.
    assert!(logging::set_sink(None, None));
    vision.identity().verification(&request).await.unwrap();
    assert!(second.lock().unwrap().is_empty());
}
