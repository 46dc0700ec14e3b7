//! The HTTP server: the endpoint as documented, plus `/_sandbox/*` introspection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body, HttpBody as _};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use glair_vision::normalize::normalize_field;
use glair_vision::{Date, Field, Nik};
use serde::ser::SerializeMap;
use serde::Serialize;

use crate::body::{self, BodyError};
use crate::faults::{fault_for, Fault};
use crate::gateway::Admission;
use crate::headers::header_str;
use crate::hold::Hold;
use crate::latency::Latency;
use crate::log::{Entry, LogStats, RequestLog};
use crate::matching::{compare, reason};
use crate::ratelimit::RateLimits;
use crate::record::Record;
use crate::{ReceivedRequest, SandboxConfig};

/// Largest request body accepted (the 16 fields fit in a few hundred bytes).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const HTML_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
/// Verbatim from the endpoint's documentation, trailing comma included.
const MALFORMED_400: &str = "{ \"verification_status\": false, \"reason\": \"Invalid NIK number format\", }";

pub(crate) struct AppState {
    config: SandboxConfig,
    people: Vec<Record>,
    by_nik: HashMap<String, usize>,
    authorization: String,
    attempts: Mutex<HashMap<String, u64>>,
    log: RequestLog,
    rng: Mutex<fastrand::Rng>,
    latency: Latency,
    limits: Option<RateLimits>,
    hold: Hold,
    /// Requests to the endpoint being handled now (received, not yet answered).
    in_flight: AtomicUsize,
}

impl AppState {
    pub(crate) fn new(config: SandboxConfig, people: Vec<Record>) -> AppState {
        // Later entries win: a user's records replace synthetic or fixture people with the same NIK.
        let by_nik = people.iter().enumerate().map(|(i, p)| (p.nik().to_owned(), i)).collect();
        let c = &config.credentials;
        let authorization = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.password))
        );
        let rng = Mutex::new(fastrand::Rng::with_seed(config.seed));
        let latency = Latency::new(config.latency, config.latency_spread, config.seed);
        let limits = config.gateway().map(RateLimits::new);
        AppState {
            latency,
            limits,
            log: RequestLog::new(config.request_log_bytes),
            config,
            people,
            by_nik,
            authorization,
            attempts: Mutex::default(),
            rng,
            hold: Hold::default(),
            in_flight: AtomicUsize::new(0),
        }
    }

    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.config
    }

    pub(crate) fn hold(&self) -> &Hold {
        &self.hold
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn records(&self) -> Vec<Record> {
        let mut seen = vec![false; self.people.len()];
        for &i in self.by_nik.values() {
            seen[i] = true;
        }
        self.people.iter().zip(seen).filter(|(_, s)| *s).map(|(p, _)| p.clone()).collect()
    }

    pub(crate) fn received(&self) -> Vec<ReceivedRequest> {
        self.log.snapshot()
    }

    pub(crate) fn log_stats(&self) -> LogStats {
        self.log.stats()
    }

    pub(crate) fn throttled(&self) -> u64 {
        self.limits.as_ref().map_or(0, RateLimits::throttled)
    }

    pub(crate) fn clear_received(&self) {
        self.log.clear();
    }
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    // The endpoint stamps its own answers: a middleware costs an allocation and a
    // boxed future per request on the path every benchmark and test exercises.
    let endpoint =
        post(verify).fallback(|| async { stamped(StatusCode::METHOD_NOT_ALLOWED.into_response()) });
    let rest = Router::new()
        .route("/_sandbox/records", get(list_records))
        .route("/_sandbox/requests", get(list_requests).delete(clear_requests))
        .route(
            "/_sandbox/stats",
            get(|State(state): State<Arc<AppState>>| async move {
                let mut stats = serde_json::to_value(state.log_stats()).expect("plain numbers");
                stats["throttled"] = state.throttled().into();
                stats["in_flight"] = state.in_flight().into();
                stats["held"] = state.hold.held().into();
                Json(stats)
            }),
        )
        .route("/_sandbox/gateway", get(gateway_timeline))
        .route("/_sandbox/hold", post(hold))
        .route(
            "/_sandbox/release",
            post(|State(state): State<Arc<AppState>>| async move {
                state.hold.release();
                StatusCode::NO_CONTENT
            }),
        )
        .route("/openapi.json", get(openapi))
        .route("/_sandbox/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(serde_json::json!({"message": "Not Found"}))) })
        .layer(middleware::map_response(|response: Response| async { stamped(response) }));
    Router::new().route("/identity/v1/verification", endpoint).merge(rest).with_state(state)
}

/// A fresh id, shaped like the ones GLAIR sends. A header value, so that the
/// answer and the request log share one allocation.
fn new_request_id() -> HeaderValue {
    let id = format!(
        "sbx-{:08x}-{:04x}-{:012x}",
        fastrand::u32(..),
        fastrand::u16(..),
        fastrand::u64(..) & 0xFFFF_FFFF_FFFF
    );
    HeaderValue::from_maybe_shared(axum::body::Bytes::from(id)).expect("hex id")
}

/// Gives an answer its `Request-Id` and marks it as coming from the sandbox.
fn stamped(response: Response) -> Response {
    with_request_id(response, new_request_id())
}

fn with_request_id(mut response: Response, id: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert("request-id", id);
    headers.insert("x-glair-sandbox", HeaderValue::from_static("true"));
    response
}

/// Counts a request in flight while it lives (also when the client goes away).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn verify(State(state): State<Arc<AppState>>, request: Request) -> Response {
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight(&state.in_flight);
    let request_id = new_request_id();
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    // The account's rate limit is a gateway's: a refused request waits for
    // nothing; a queue (a leaky one) holds an accepted one back first.
    let admission = admit(&state, headers);
    let throttled = admission.as_ref().and_then(too_many);
    if throttled.is_none() {
        let queued = admission.as_ref().map_or(std::time::Duration::ZERO, |a| a.delay);
        let latency =
            if state.latency.is_zero() { std::time::Duration::ZERO } else { state.latency.sample() };
        if !(queued + latency).is_zero() {
            tokio::time::sleep(queued + latency).await;
        }
    }
    let content_type = headers.get(header::CONTENT_TYPE);
    // Credentials come first: a caller that fails them is answered without a byte
    // of its body being read, so it cannot make the sandbox read or keep anything.
    let (response, received) = match refusal(&state, headers).or(throttled) {
        Some(response) => (unread(response, body), None),
        None => match read_body(&state, body).await {
            Err(response) => (response, None),
            Ok(bytes) => (answer(&state, header_str(content_type), &bytes).await, Some(bytes)),
        },
    };
    let mut response = with_request_id(response, request_id.clone());
    if let Some(a) = admission.as_ref().filter(|a| a.accepted) {
        announce(&mut response, &a.headers);
    }
    state.log.push(Entry::new(
        received.as_deref().unwrap_or_default(),
        headers,
        request_id,
        response.status().as_u16(),
    ));
    state
        .hold
        .pass(|| {
            let fields = body::fields(header_str(content_type), received.as_deref()?).ok()?;
            fields.into_iter().find(|(name, _)| name == "nik").map(|(_, nik)| nik)
        })
        .await;
    response
}

/// `GET /_sandbox/gateway`: the gateway applied, what it allowed (calls per
/// second) and what it accepted and refused in each second since the start.
async fn gateway_timeline(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(state.limits.as_ref().map_or(serde_json::json!({"gateway": null}), RateLimits::timeline))
}

#[derive(serde::Deserialize)]
struct HoldQuery {
    after: Option<u64>,
    nik: Option<String>,
    max_ms: Option<u64>,
}

/// `POST /_sandbox/hold?after=N&nik=NIK&max_ms=M`: see [`crate::Sandbox::hold_after`];
/// `max_ms` bounds how long an answer is held, for a test whose process could not
/// release it if the call under test blocked it.
async fn hold(State(state): State<Arc<AppState>>, Query(q): Query<HoldQuery>) -> StatusCode {
    let at_most = q.max_ms.map(std::time::Duration::from_millis);
    state.hold.hold(q.after.unwrap_or(0), q.nik, at_most);
    StatusCode::NO_CONTENT
}

/// The gateway's verdict on a request of the known API key (unknown keys are
/// answered 403 by `refusal` and counted nowhere).
fn admit(state: &AppState, headers: &HeaderMap) -> Option<Admission> {
    let limits = state.limits.as_ref()?;
    let key = headers.get("x-api-key")?.as_bytes();
    (key == state.config.credentials.api_key.as_bytes()).then(|| limits.admit(key))
}

/// The 429 of a refusal: a JSON body, the gateway's rate-limit headers and its `Retry-After`.
fn too_many(admission: &Admission) -> Option<Response> {
    if admission.accepted {
        return None;
    }
    let mut r = (StatusCode::TOO_MANY_REQUESTS, Json(serde_json::json!({"message": "Too Many Requests"})))
        .into_response();
    announce(&mut r, &admission.headers);
    Some(r)
}

fn announce(response: &mut Response, headers: &[(String, String)]) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str()))
        {
            response.headers_mut().append(name, value);
        }
    }
}

/// The gateway's answer when the API key or Basic auth is wrong; `None` when both are right.
fn refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    if headers.get("x-api-key").map(|v| v.as_bytes()) != Some(state.config.credentials.api_key.as_bytes()) {
        Some(forbidden())
    } else if headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()) != Some(state.authorization.as_bytes())
    {
        Some(status_reason(StatusCode::UNAUTHORIZED, "Invalid username or password"))
    } else {
        None
    }
}

/// An answer given without reading the request's body. The body is dropped
/// unread: hyper then takes what already arrived and, if more is due, stops
/// reading; `Connection: close` says so to the client, so it does not send its
/// next request on a connection that is closing.
fn unread(mut response: Response, body: Body) -> Response {
    if !body.is_end_stream() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// The whole body, at most [`MAX_BODY_BYTES`], within `body_read_timeout`.
async fn read_body(state: &AppState, body: Body) -> Result<axum::body::Bytes, Response> {
    let too_large = || status_reason(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large");
    // A declared length over the limit is refused before reading any of it.
    if body.size_hint().lower() > MAX_BODY_BYTES as u64 {
        return Err(unread(too_large(), body));
    }
    match tokio::time::timeout(state.config.body_read_timeout, to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(closing(too_large())),
        Err(_) => {
            Err(closing(status_reason(StatusCode::REQUEST_TIMEOUT, "Request body not received in time")))
        }
    }
}

/// Marks an answer given while the body was still arriving: the connection ends with it.
fn closing(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The endpoint's answer to an authorized request whose body was read.
async fn answer(state: &AppState, content_type: &str, bytes: &[u8]) -> Response {
    match body::fields(content_type, bytes) {
        Err(e) => rejection(e).into_response(),
        Ok(raw) => match validate(&raw) {
            Ok(sent) => respond(state, &sent).await,
            Err(reject) => reject.into_response(),
        },
    }
}

fn rejection(e: BodyError) -> Reject {
    match e {
        BodyError::Malformed(why) => Reject(StatusCode::BAD_REQUEST, why.to_owned()),
        BodyError::NotText(key) => Reject(StatusCode::BAD_REQUEST, format!("Invalid {key} format")),
        BodyError::UnsupportedType => {
            Reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported content type".to_owned())
        }
    }
}

/// Checks the fields as the real endpoint would. Stricter than the client: the
/// date must already be dd-mm-yyyy and the NIK bare digits.
fn validate(raw: &[(String, String)]) -> Result<Vec<(Field, String)>, Reject> {
    let bad = |why: String| Reject(StatusCode::BAD_REQUEST, why);
    let mut sent: Vec<(Field, String)> = Vec::with_capacity(raw.len());
    for (name, value) in raw {
        let field = Field::from_wire_name(name).ok_or_else(|| bad(format!("Unknown field: {name}")))?;
        if sent.iter().any(|(f, _)| *f == field) {
            return Err(bad(format!("Duplicate field: {name}")));
        }
        if value.trim().is_empty() && field != Field::Nik {
            continue; // An empty optional field is treated as not sent.
        }
        let value = match field {
            Field::Nik => {
                Nik::parse(value).map_err(|_| bad("Invalid NIK number format".to_owned()))?;
                value.clone()
            }
            Field::DateOfBirth => {
                let ok = Date::parse_dmy(value).is_some_and(|d| d <= Date::today());
                if !ok {
                    return Err(bad("Invalid date_of_birth format".to_owned()));
                }
                value.clone()
            }
            _ => normalize_field(field, value).map_err(|e| {
                if e.message().contains("at most") {
                    bad(format!("{name} is too long"))
                } else {
                    bad(format!("Invalid {name} format"))
                }
            })?,
        };
        sent.push((field, value));
    }
    if !sent.iter().any(|(f, _)| *f == Field::Nik) {
        return Err(bad("NIK is required".to_owned()));
    }
    // Documentation order, so `result` lists fields as the docs do.
    sent.sort_by_key(|(f, _)| *f);
    Ok(sent)
}

async fn respond(state: &AppState, sent: &[(Field, String)]) -> Response {
    let nik = &sent[0].1;
    let every = |value: Option<bool>| sent.iter().map(|(f, _)| (*f, value)).collect::<Vec<_>>();
    if let Some(fault) = fault_for(nik) {
        return match fault {
            Fault::ServiceUnavailable => dukcapil_down(&every(None)),
            Fault::RateLimited => {
                let mut r = status_reason(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            Fault::BadGatewayHtml => {
                (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/html")], HTML_502).into_response()
            }
            Fault::Slow => {
                tokio::time::sleep(state.config.slow_delay).await;
                verification(StatusCode::OK, true, "Verification Success", &every(Some(true)))
            }
            Fault::FailsOnceThenSucceeds => {
                let attempt = {
                    let mut attempts = state.attempts.lock().expect("attempts lock");
                    let n = attempts.entry(nik.clone()).or_default();
                    *n += 1;
                    *n
                };
                if attempt % 2 == 1 {
                    dukcapil_down(&every(None))
                } else {
                    verification(StatusCode::OK, true, "Verification Success", &every(Some(true)))
                }
            }
            Fault::MalformedBadRequest => {
                (StatusCode::BAD_REQUEST, [(header::CONTENT_TYPE, "application/json")], MALFORMED_400)
                    .into_response()
            }
            Fault::Unauthorized => status_reason(StatusCode::UNAUTHORIZED, "Invalid username or password"),
            Fault::Forbidden => forbidden(),
            Fault::NotFound => {
                (StatusCode::NOT_FOUND, Json(serde_json::json!({"message": "Not Found"}))).into_response()
            }
            Fault::InternalError => status_reason(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            Fault::GatewayTimeoutEmpty => StatusCode::GATEWAY_TIMEOUT.into_response(),
            Fault::NotJson => (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "OK").into_response(),
            Fault::WrongShape => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response(),
        };
    }
    if state.config.failure_rate > 0.0
        && state.rng.lock().expect("rng lock").f64() < state.config.failure_rate
    {
        return dukcapil_down(&every(None));
    }
    let Some(&index) = state.by_nik.get(nik.as_str()) else {
        let mut statuses = every(None);
        statuses[0].1 = Some(false);
        return verification(StatusCode::OK, false, "NIK not found on Dukcapil database", &statuses);
    };
    let results = compare(sent, &state.people[index], state.config.match_threshold);
    let statuses: Vec<(Field, Option<bool>)> = sent.iter().map(|(f, _)| (*f, results.get(*f))).collect();
    let verified = results.mismatched().next().is_none();
    verification(StatusCode::OK, verified, &reason(&results), &statuses)
}

/// `{"verification_status", "reason", "result"}` with exactly the sent fields, in order.
fn verification(
    status: StatusCode,
    verified: bool,
    reason: &str,
    statuses: &[(Field, Option<bool>)],
) -> Response {
    struct Sent<'a>(&'a [(Field, Option<bool>)]);
    impl Serialize for Sent<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (field, value) in self.0 {
                map.serialize_entry(field.wire_name(), value)?;
            }
            map.end()
        }
    }
    #[derive(Serialize)]
    struct Body<'a> {
        verification_status: bool,
        reason: &'a str,
        result: Sent<'a>,
    }
    (status, Json(Body { verification_status: verified, reason, result: Sent(statuses) })).into_response()
}

fn dukcapil_down(statuses: &[(Field, Option<bool>)]) -> Response {
    verification(StatusCode::SERVICE_UNAVAILABLE, false, "Something wrong in Dukcapil server", statuses)
}

/// A request refused before it reaches the registry: status and reason.
struct Reject(StatusCode, String);

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        status_reason(self.0, &self.1)
    }
}

fn status_reason(status: StatusCode, reason: &str) -> Response {
    (status, Json(serde_json::json!({"verification_status": false, "reason": reason}))).into_response()
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, Json(serde_json::json!({"error": "Access to this API has been disallowed"})))
        .into_response()
}

#[derive(serde::Deserialize)]
struct Page {
    offset: Option<usize>,
    limit: Option<usize>,
}

async fn list_records(State(state): State<Arc<AppState>>, Query(page): Query<Page>) -> Json<Vec<Record>> {
    let records = state.records();
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(usize::MAX);
    Json(records.into_iter().skip(offset).take(limit).collect())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::OPENAPI_JSON).into_response()
}

async fn list_requests(State(state): State<Arc<AppState>>) -> Json<Vec<ReceivedRequest>> {
    Json(state.received())
}

async fn clear_requests(State(state): State<Arc<AppState>>) -> StatusCode {
    state.clear_received();
    StatusCode::NO_CONTENT
}
