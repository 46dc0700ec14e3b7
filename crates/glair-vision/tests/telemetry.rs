//! What tracing gets of a call: the W3C trace context sent on every attempt, the
//! call's report, and the `glair_vision.verification` span's OpenTelemetry
//! fields. Its own test binary: it installs the global `tracing` subscriber (a
//! scoped one can miss events of call sites other tests' threads registered).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use glair_vision::telemetry::TraceContext;
use glair_vision::{ErrorKind, RequestOptions, VerificationRequest};
use glair_vision_sandbox::{Sandbox, SandboxConfig};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const SITI: &str = "3171014508900001";

/// Every `glair_vision.verification` span's fields, as strings, when it closes.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<HashMap<String, String>>>>);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}").trim_matches('"').to_owned());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        ctx.span(id).expect("span").extensions_mut().insert(fields);
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("span");
        let mut extensions = span.extensions_mut();
        values.record(&mut Fields(extensions.get_mut::<HashMap<String, String>>().expect("fields")));
    }
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("span");
        if span.name() == "glair_vision.verification" {
            let fields = span.extensions().get::<HashMap<String, String>>().cloned().unwrap_or_default();
            self.0.lock().unwrap().push(fields);
        }
    }
}

#[tokio::test]
async fn trace_context_report_and_span() {
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let sb = Sandbox::start(SandboxConfig { slow_delay: Duration::from_millis(1), ..Default::default() })
        .await
        .unwrap();
    let vision = sb.vision_builder().build().unwrap();
    let identity = vision.identity();
    let traced = RequestOptions {
        trace_context: Some(TraceContext::new(PARENT, Some("vendor=abc")).unwrap()),
        request_id: Some("order-77".into()),
        ..Default::default()
    };

    // Sent on every attempt: the first fails (503) and is retried.
    let flaky = VerificationRequest::new("3171011001909001");
    let (result, report) = identity.verification_with_report(&flaky, &traced).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!((report.attempts, report.throttled, report.status), (2, 0, Some(200)));
    let received = sb.received();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(r.traceparent.as_deref(), Some(PARENT));
        assert_eq!(r.tracestate.as_deref(), Some("vendor=abc"));
    }

    // Without one, none is sent.
    let siti = VerificationRequest::new(SITI).name("SITI RAHAYU");
    let (result, report) = identity.verification_with_report(&siti, &RequestOptions::default()).await;
    let verification = result.unwrap();
    assert_eq!((report.attempts, report.status), (1, Some(200)));
    assert_eq!(sb.received().last().unwrap().traceparent, None);

    // A throttled call, an error answer, and one refused before sending.
    let (result, report) = identity
        .verification_with_report(&VerificationRequest::new("3171011001909429"), &RequestOptions::default())
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::RateLimited);
    assert_eq!((report.attempts, report.throttled, report.status), (3, 3, Some(429)));
    let (result, report) = identity
        .verification_with_report(&VerificationRequest::new("3171011001909404"), &RequestOptions::default())
        .await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(report.status, Some(404));
    let (result, report) =
        identity.verification_with_report(&VerificationRequest::new("123"), &RequestOptions::default()).await;
    assert_eq!(result.unwrap_err().kind(), ErrorKind::Validation);
    assert_eq!((report.attempts, report.status), (0, None));

    let spans = spans.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 4, "a call refused before sending has no span: {spans:?}");
    let first = &spans[0];
    let port = sb.addr().port().to_string();
    for (key, value) in [
        ("otel.kind", "client"),
        ("otel.name", "POST"),
        ("http.request.method", "POST"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("http.response.status_code", "200"),
        ("glair.attempts", "2"),
        ("glair.client_request_id", "order-77"),
    ] {
        assert_eq!(first.get(key).map(String::as_str), Some(value), "{key}: {first:?}");
    }
    assert_eq!(first["url.full"], format!("{}/identity/v1/verification", sb.url()));
    assert!(first["glair.request_id"].starts_with("sbx-"), "{first:?}");
    assert!(first.contains_key("glair.pacer_wait_ms") && !first.contains_key("error.type"), "{first:?}");
    assert_eq!(spans[1]["glair.request_id"], verification.request_id.unwrap());
    let throttled = &spans[2];
    assert_eq!(throttled["error.type"], "rate_limited", "{throttled:?}");
    assert_eq!(throttled["otel.status_code"], "ERROR");
    assert_eq!(throttled["http.response.status_code"], "429");
    assert_eq!(spans[3]["error.type"], "not_found");
    // No personal data: the NIK only masked, no name.
    let all = format!("{spans:?}");
    assert!(!all.contains(SITI) && !all.contains("SITI RAHAYU"), "{all}");
}
