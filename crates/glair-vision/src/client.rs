//! The HTTP client: configuration, credentials, one verification call with retries.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{
    HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER, USER_AGENT,
};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::error::{ApiError, Error, Result, TransportError, ValidationError};
use crate::limits;
use crate::network::{ClientCertificate, NetworkSettings, Pem, ProxySetting};
use crate::nik::mask_nik;
use crate::pacing::{AccountPacers, Pacer, PacingSnapshot, PacingUrl, Quota, RateLimit};
use crate::request::VerificationRequest;
use crate::response::Verification;
use crate::retry::{parse_retry_after, RetryPolicy};
use crate::telemetry::{CallReport, TraceContext};
use crate::wire;

/// GLAIR Vision's production API.
pub const DEFAULT_BASE_URL: &str = "https://api.vision.glair.ai";
pub const DEFAULT_API_VERSION: &str = "v1";
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a whole call may take: every attempt and every wait between them.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);
/// The most of a response body read (the documented answers are under 1 KiB).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// The longest correlation id accepted for `x-request-id`.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// The environment variables read when a setting is not given.
pub const ENV_API_KEY: &str = "GLAIR_API_KEY";
pub const ENV_USERNAME: &str = "GLAIR_USERNAME";
pub const ENV_PASSWORD: &str = "GLAIR_PASSWORD";
pub const ENV_BASE_URL: &str = "GLAIR_BASE_URL";
/// A pacing store (Redis or Valkey) to share the account's pace across hosts.
pub const ENV_PACING_URL: &str = "GLAIR_VISION_PACING_URL";

/// The three secrets every call needs. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub api_key: String,
    pub username: String,
    pub password: String,
}

impl Credentials {
    fn authorization(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials { api_key: <redacted>, username: <redacted>, password: <redacted> }")
    }
}

/// Settings that may change for a single call (GLAIR's Node SDK's second argument).
/// `None` keeps the client's setting. Another `api_key`, `base_url` or
/// `api_version` is another account: its calls are paced apart from the client's own.
#[derive(Clone, Default, PartialEq)]
pub struct RequestOptions {
    pub api_key: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub base_url: Option<String>,
    pub api_version: Option<String>,
    pub timeout: Option<Duration>,
    pub max_retries: Option<u32>,
    /// The whole call's deadline (attempts and waits).
    pub deadline: Option<Duration>,
    /// Whether to retry failures that leave it unknown if the call was processed
    /// ([`RetryPolicy::retry_unanswered`]).
    pub retry_unanswered: Option<bool>,
    /// A correlation id of the caller's, sent as `x-request-id` and kept on the
    /// result and errors: 1-128 visible ASCII characters (`!` to `~`).
    pub request_id: Option<String>,
    /// The caller's W3C trace context, sent as `traceparent` (and `tracestate`)
    /// on every attempt ([`crate::telemetry`]).
    pub trace_context: Option<TraceContext>,
}

impl RequestOptions {
    pub fn is_empty(&self) -> bool {
        *self == RequestOptions::default()
    }

    /// Checks `timeout`, `deadline` and `max_retries` against their ranges
    /// ([`crate::limits`]): an [`Error::Validation`] naming the setting. Every
    /// call (and every batch, before it starts) does this itself.
    pub fn check(&self) -> Result<()> {
        let validation = crate::limits::OutOfRange::validation;
        if let Some(t) = self.timeout {
            limits::TIMEOUT.check(t).map_err(validation)?;
        }
        if let Some(d) = self.deadline {
            limits::DEADLINE.check(d).map_err(validation)?;
        }
        if let Some(n) = self.max_retries {
            limits::check_max_retries(n).map_err(validation)?;
        }
        Ok(())
    }
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("RequestOptions")
            .field("api_key", &set(&self.api_key))
            .field("username", &set(&self.username))
            .field("password", &set(&self.password))
            .field("base_url", &self.base_url)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .field("deadline", &self.deadline)
            .field("retry_unanswered", &self.retry_unanswered)
            .field("request_id", &self.request_id)
            .field("trace_context", &self.trace_context)
            .finish()
    }
}

/// Checks a caller's correlation id and makes it a header value: 1-128 visible
/// ASCII characters. A bad one is a [`Error::Validation`] for `request_id`.
pub fn request_id_header(id: &str) -> Result<HeaderValue> {
    let bad = |why: &str| Error::Validation(ValidationError::for_key("request_id", why));
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN {
        return Err(bad("must be 1 to 128 characters"));
    }
    if !id.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(bad("must be visible ASCII characters (no spaces or control characters)"));
    }
    HeaderValue::from_str(id).map_err(|_| bad("is not a valid header value"))
}

/// Configures a [`Vision`] client. Unset credentials and base URL are read from
/// `GLAIR_API_KEY`, `GLAIR_USERNAME`, `GLAIR_PASSWORD` and `GLAIR_BASE_URL`.
#[derive(Clone)]
pub struct VisionBuilder {
    api_key: Option<String>,
    username: Option<String>,
    password: Option<String>,
    base_url: Option<String>,
    api_version: String,
    timeout: Duration,
    connect_timeout: Duration,
    deadline: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    rate_limit: RateLimit,
    pacing_url: Option<String>,
    client_name: String,
    read_env: bool,
    network: NetworkSettings,
}

impl Default for VisionBuilder {
    fn default() -> Self {
        VisionBuilder {
            api_key: None,
            username: None,
            password: None,
            base_url: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::Auto,
            pacing_url: None,
            client_name: "rust".to_owned(),
            read_env: true,
            network: NetworkSettings::default(),
        }
    }
}

impl VisionBuilder {
    pub fn api_key(mut self, v: impl Into<String>) -> Self {
        self.api_key = Some(v.into());
        self
    }
    pub fn username(mut self, v: impl Into<String>) -> Self {
        self.username = Some(v.into());
        self
    }
    pub fn password(mut self, v: impl Into<String>) -> Self {
        self.password = Some(v.into());
        self
    }
    pub fn credentials(self, c: Credentials) -> Self {
        self.api_key(c.api_key).username(c.username).password(c.password)
    }
    /// Default `https://api.vision.glair.ai`.
    pub fn base_url(mut self, v: impl Into<String>) -> Self {
        self.base_url = Some(v.into());
        self
    }
    /// Default `v1`.
    pub fn api_version(mut self, v: impl Into<String>) -> Self {
        self.api_version = v.into();
        self
    }
    /// Deadline for a whole attempt, from connect to the last body byte. Default
    /// 30 s; 1 ms to 1 day ([`limits::TIMEOUT`]).
    pub fn timeout(mut self, v: Duration) -> Self {
        self.timeout = v;
        self
    }
    /// Deadline for a whole call: every attempt and every wait between attempts.
    /// Each attempt gets at most the time left; a `Retry-After` or backoff longer
    /// than the time left ends the call at once with the error that asked for it.
    /// Default 60 s; 1 ms to 1 day ([`limits::DEADLINE`]).
    pub fn deadline(mut self, v: Duration) -> Self {
        self.deadline = v;
        self
    }
    /// The most bytes of a response body read; a longer (or longer announced)
    /// body is a [`Error::Decode`] and is not read further. Default 256 KiB; 1 KiB
    /// to 16 MiB ([`limits::RESPONSE_BYTES`]).
    pub fn max_response_bytes(mut self, v: usize) -> Self {
        self.max_response_bytes = v;
        self
    }
    /// Whether to retry failures that leave it unknown whether the server
    /// processed (and billed) the call: a timeout or reset after sending and
    /// before any answer byte, a 500. Default false.
    pub fn retry_unanswered(mut self, v: bool) -> Self {
        self.retry.retry_unanswered = v;
        self
    }
    /// Deadline for establishing a connection. Default 10 s; 1 ms to 1 day
    /// ([`limits::CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, v: Duration) -> Self {
        self.connect_timeout = v;
        self
    }
    /// Retries after the first attempt on retryable errors. Default 2; 0 to 100
    /// ([`limits::RETRIES`]).
    pub fn max_retries(mut self, v: u32) -> Self {
        self.retry.max_retries = v;
        self
    }
    /// The whole retry policy; its counts and durations have the ranges of
    /// [`limits::check_retry_policy`].
    pub fn retry_policy(mut self, v: RetryPolicy) -> Self {
        self.retry = v;
        self
    }
    /// How fast every call of this client may start, together: [`RateLimit::Auto`]
    /// (the default) finds the account's pace after the first 429;
    /// [`RateLimit::Fixed`] (or a number) is a hard ceiling of calls per second,
    /// from 0.001 to 1,000,000 ([`limits::RATE_LIMIT`]). See [`crate::pacing`].
    pub fn rate_limit(mut self, v: impl Into<RateLimit>) -> Self {
        self.rate_limit = v.into();
        self
    }
    /// A pacing store, `redis://` or `rediss://` (TLS) with user, password and
    /// database as Redis URLs have them: every process that names the same
    /// store and account paces as one client, on any host ([`crate::pacing`]).
    /// Without it ([`ENV_PACING_URL`] is read when this is not set), processes
    /// share their pace per host. An empty string turns the environment's off.
    pub fn pacing_url(mut self, v: impl Into<String>) -> Self {
        self.pacing_url = Some(v.into());
        self
    }
    /// Which front door is calling, for the User-Agent (`rust`, `python`, `node`, `cli`).
    pub fn client_name(mut self, v: impl Into<String>) -> Self {
        self.client_name = v.into();
        self
    }
    /// Whether unset settings are read from the GLAIR_* environment. Default true.
    pub fn read_env(mut self, v: bool) -> Self {
        self.read_env = v;
        self
    }
    /// Trusts the certificate authorities in this PEM bundle (a path, or PEM text)
    /// besides the system's roots; each call adds one. See [`crate::network`].
    pub fn ca_bundle(mut self, v: impl Into<Pem>) -> Self {
        self.network.ca_bundles.push(v.into());
        self
    }
    /// Trusts only the [`ca_bundle`](Self::ca_bundle)s, not the system's roots
    /// (nor `SSL_CERT_FILE`). Default false.
    pub fn ca_bundle_only(mut self, v: bool) -> Self {
        self.network.ca_bundle_only = v;
        self
    }
    /// Connects through this proxy (`http://`, `https://`, `socks5://`,
    /// `socks5h://`; `user:password@` in the URL if it asks for them) rather
    /// than one from `HTTPS_PROXY`; hosts in `NO_PROXY` are still reached directly.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.network.proxy = ProxySetting::Url(url.into());
        self
    }
    /// Connects directly, ignoring `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY`.
    pub fn no_proxy(mut self) -> Self {
        self.network.proxy = ProxySetting::Direct;
        self
    }
    /// Shows this certificate (chain) and proves its private key, both PEM, to a
    /// server that asks for one (mutual TLS).
    pub fn client_certificate(mut self, certificate: impl Into<Pem>, key: impl Into<Pem>) -> Self {
        self.network.client_certificate =
            Some(ClientCertificate { certificate: certificate.into(), key: key.into() });
        self
    }
    /// Every network setting at once.
    pub fn network(mut self, v: NetworkSettings) -> Self {
        self.network = v;
        self
    }

    /// The client. Refused with [`Error::Configuration`] when credentials are
    /// missing, the base URL or API version is not usable, or a setting is
    /// outside its range ([`crate::limits`]; the message names it).
    pub fn build(self) -> Result<Vision> {
        self.check_limits().map_err(limits::OutOfRange::configuration)?;
        let env = |set: Option<String>, var: &str| {
            set.or_else(|| self.read_env.then(|| std::env::var(var).ok()).flatten()).filter(|v| !v.is_empty())
        };
        let missing = |what: &str, var: &str| {
            Error::Configuration(format!("missing {what}: pass it to the client or set {var}"))
        };
        let credentials = Credentials {
            api_key: env(self.api_key.clone(), ENV_API_KEY).ok_or_else(|| missing("API key", ENV_API_KEY))?,
            username: env(self.username.clone(), ENV_USERNAME)
                .ok_or_else(|| missing("username", ENV_USERNAME))?,
            password: env(self.password.clone(), ENV_PASSWORD)
                .ok_or_else(|| missing("password", ENV_PASSWORD))?,
        };
        let base_url =
            env(self.base_url.clone(), ENV_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let endpoint = endpoint_url(&base_url, &self.api_version)?;
        let http = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            // A redirect would carry the credentials and the personal data to
            // another origin: a 3xx is an error of its own (`Error::Redirect`).
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(60));
        let (http, network) = self.network.apply(http)?;
        let http =
            http.build().map_err(|e| Error::Configuration(format!("cannot build the HTTP client: {e}")))?;
        let user_agent = format!("glair-vision/{} ({})", env!("CARGO_PKG_VERSION"), self.client_name);
        let pacing_url = match &self.pacing_url {
            Some(set) => Some(set.clone()),
            None => self.read_env.then(|| std::env::var(ENV_PACING_URL).ok()).flatten(),
        };
        let pacing_url =
            pacing_url.filter(|u| !u.trim().is_empty()).map(|u| PacingUrl::parse(&u)).transpose()?;
        // A rediss:// store trusts what the client's HTTPS trusts.
        let pacing_url = pacing_url.map(|u| u.trusting(&network.ca_bundle_texts(), network.ca_bundle_only));
        let pacers = AccountPacers::new(
            self.rate_limit,
            endpoint.as_str(),
            credentials.api_key.as_bytes(),
            pacing_url.clone(),
        );
        Ok(Vision {
            inner: Arc::new(Inner {
                headers: AuthHeaders::new(&credentials, &user_agent)?,
                credentials,
                base_url,
                api_version: self.api_version,
                endpoint,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                deadline: self.deadline,
                max_response_bytes: self.max_response_bytes,
                retry: self.retry,
                pacers,
                pacing_url,
                user_agent,
                secrets: network.secrets(),
                network,
                http,
            }),
        })
    }
}

impl VisionBuilder {
    fn check_limits(&self) -> std::result::Result<(), limits::OutOfRange> {
        limits::TIMEOUT.check(self.timeout)?;
        limits::CONNECT_TIMEOUT.check(self.connect_timeout)?;
        limits::DEADLINE.check(self.deadline)?;
        limits::check_max_response_bytes(self.max_response_bytes)?;
        limits::check_retry_policy(&self.retry)?;
        limits::check_rate_limit(self.rate_limit)?;
        Ok(())
    }
}

struct Inner {
    credentials: Credentials,
    pacing_url: Option<PacingUrl>,
    base_url: String,
    api_version: String,
    endpoint: reqwest::Url,
    timeout: Duration,
    connect_timeout: Duration,
    deadline: Duration,
    max_response_bytes: usize,
    retry: RetryPolicy,
    /// Shared by every call of this client and its clones (one per account
    /// the calls reach: per-call options may name another).
    pacers: AccountPacers,
    user_agent: String,
    /// Trust, proxy and client certificate, files read (see `NetworkSettings::apply`).
    network: NetworkSettings,
    /// What a transport error's message must not show (a proxy's credentials).
    secrets: Vec<String>,
    /// Authorization, x-api-key and User-Agent, computed once.
    headers: AuthHeaders,
    /// One connection pool for every call of this client.
    http: reqwest::Client,
}

/// A GLAIR Vision client. Cheap to clone and share across threads and tasks:
/// clones share one connection pool.
#[derive(Clone)]
pub struct Vision {
    inner: Arc<Inner>,
}

impl fmt::Debug for Vision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vision")
            .field("base_url", &self.inner.base_url)
            .field("api_version", &self.inner.api_version)
            .field("timeout", &self.inner.timeout)
            .field("deadline", &self.inner.deadline)
            .field("max_retries", &self.inner.retry.max_retries)
            .field("pacing_url", &self.inner.pacing_url)
            .field("credentials", &self.inner.credentials)
            .finish()
    }
}

impl Vision {
    pub fn builder() -> VisionBuilder {
        VisionBuilder::default()
    }

    /// A client configured entirely from the GLAIR_* environment variables.
    pub fn from_env() -> Result<Vision> {
        Vision::builder().build()
    }

    /// The Identity product: KTP verification.
    pub fn identity(&self) -> Identity {
        Identity { vision: self.clone() }
    }

    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }
    pub fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }
    /// Trust, proxy and client certificate, with every file read (PEM text):
    /// what a copy of this client elsewhere needs.
    pub fn network(&self) -> &NetworkSettings {
        &self.inner.network
    }
    pub fn deadline(&self) -> Duration {
        self.inner.deadline
    }
    pub fn max_response_bytes(&self) -> usize {
        self.inner.max_response_bytes
    }
    pub fn retry_policy(&self) -> RetryPolicy {
        self.inner.retry
    }
    /// The pacer's state now: its rate (`None` while unlimited), ceiling, and the
    /// attempts sent, retried, throttled (429) and answered so far by this client.
    pub fn pacing(&self) -> PacingSnapshot {
        self.inner.pacers.own().snapshot()
    }
    /// The pacing store this client shares its account's pace through, if any.
    pub fn pacing_url(&self) -> Option<&PacingUrl> {
        self.inner.pacing_url.as_ref()
    }
    pub fn user_agent(&self) -> &str {
        &self.inner.user_agent
    }
    /// The configured credentials (for re-creating the client elsewhere, e.g. after
    /// pickling). Secrets: do not log them.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }
}

/// `vision.identity()`: the KTP verification endpoint.
#[derive(Clone, Debug)]
pub struct Identity {
    pub(crate) vision: Vision,
}

/// What one call sent: its attempts (the first and every retry) and how many of
/// them were answered 429; how long it waited for the pacer; its last status. A
/// call refused before sending has none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attempts {
    pub(crate) sent: u32,
    pub(crate) throttled: u32,
    pub(crate) pacer_wait: Duration,
    pub(crate) status: Option<u16>,
}

impl From<Attempts> for CallReport {
    fn from(a: Attempts) -> CallReport {
        CallReport { attempts: a.sent, throttled: a.throttled, pacer_wait: a.pacer_wait, status: a.status }
    }
}

/// Headers and URL for one call, after per-call overrides.
struct CallTarget {
    endpoint: reqwest::Url,
    headers: AuthHeaders,
    timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    /// The caller's correlation id: as given, and as the `x-request-id` value.
    request_id: Option<(String, HeaderValue)>,
    /// The pacer of the account the call goes to.
    pacer: Arc<Pacer>,
    trace_context: Option<TraceContext>,
    /// 429s are retried while the deadline allows, not counted as retries.
    patient: bool,
}

impl CallTarget {
    fn client_request_id(&self) -> Option<&str> {
        self.request_id.as_ref().map(|(id, _)| id.as_str())
    }
}

impl Identity {
    /// Validates `request`, sends it, and returns the registry's answer. Retries
    /// what the client's [`RetryPolicy`] says, within the call's deadline.
    pub async fn verification(&self, request: &VerificationRequest) -> Result<Verification> {
        self.verification_with(request, &RequestOptions::default()).await
    }

    /// Like [`Identity::verification`], with settings overridden for this call.
    pub async fn verification_with(
        &self,
        request: &VerificationRequest,
        options: &RequestOptions,
    ) -> Result<Verification> {
        self.verification_with_report(request, options).await.0
    }

    /// Like [`Identity::verification_with`], with a report of what the call did
    /// (attempts, 429s, time waiting for the pacer, the last status): what a
    /// span or a metric of the call needs ([`crate::telemetry`]).
    pub async fn verification_with_report(
        &self,
        request: &VerificationRequest,
        options: &RequestOptions,
    ) -> (Result<Verification>, CallReport) {
        let mut attempts = Attempts::default();
        let result = match request.normalized() {
            Ok(normalized) => self.send_normalized(&normalized, options, None, false, &mut attempts).await,
            Err(e) => Err(e.into()),
        };
        (result, attempts.into())
    }

    /// Sends a request that is already in wire form ([`VerificationRequest::normalized`]).
    /// `request_id`, when given, replaces `options.request_id` (a batch row's own id).
    /// `patient` (batch rows): 429s do not use up retries; they are retried behind
    /// the pacer for as long as the call's deadline allows. `attempts` counts
    /// what this call sent.
    pub(crate) async fn send_normalized(
        &self,
        request: &VerificationRequest,
        options: &RequestOptions,
        request_id: Option<&str>,
        patient: bool,
        attempts: &mut Attempts,
    ) -> Result<Verification> {
        let mut target = self.target(options, request_id)?;
        target.patient = patient;
        // An HTTP client span as OpenTelemetry names its fields (what
        // tracing-opentelemetry exports); the outcome is recorded when the call ends.
        let url = &target.endpoint;
        let span = tracing::info_span!(
            "glair_vision.verification",
            otel.name = "POST",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = "POST",
            server.address = url.host_str().unwrap_or(""),
            server.port = url.port_or_known_default().unwrap_or(0),
            url.full = url.as_str(),
            http.response.status_code = tracing::field::Empty,
            error.type = tracing::field::Empty,
            glair.request_id = tracing::field::Empty,
            glair.client_request_id = target.client_request_id(),
            glair.attempts = tracing::field::Empty,
            glair.pacer_wait_ms = tracing::field::Empty,
            nik = %mask_nik(request.nik()),
        );
        let result = self.send_with_retries(request, &target, attempts).instrument(span.clone()).await;
        if !span.is_disabled() {
            span.record("glair.attempts", attempts.sent);
            span.record("glair.pacer_wait_ms", attempts.pacer_wait.as_millis() as u64);
            if let Some(status) = attempts.status {
                span.record("http.response.status_code", status);
            }
            match &result {
                Ok(v) => span.record("glair.request_id", v.request_id.as_deref()),
                Err(e) => span
                    .record("error.type", e.kind().to_string())
                    .record("otel.status_code", "ERROR")
                    .record("glair.request_id", e.request_id()),
            };
        }
        result
    }

    fn target(&self, options: &RequestOptions, request_id: Option<&str>) -> Result<CallTarget> {
        options.check()?;
        let inner = &self.vision.inner;
        let request_id = match request_id.or(options.request_id.as_deref()) {
            Some(id) => Some((id.to_owned(), request_id_header(id)?)),
            None => None,
        };
        let mut retry = inner.retry;
        if let Some(n) = options.max_retries {
            retry.max_retries = n;
        }
        if let Some(v) = options.retry_unanswered {
            retry.retry_unanswered = v;
        }
        let timeout = options.timeout.unwrap_or(inner.timeout);
        let deadline = options.deadline.unwrap_or(inner.deadline);
        let endpoint = if options.base_url.is_some() || options.api_version.is_some() {
            endpoint_url(
                options.base_url.as_deref().unwrap_or(&inner.base_url),
                options.api_version.as_deref().unwrap_or(&inner.api_version),
            )?
        } else {
            inner.endpoint.clone()
        };
        let other_account =
            options.api_key.is_some() || options.base_url.is_some() || options.api_version.is_some();
        let pacer = if other_account {
            let api_key = options.api_key.as_deref().unwrap_or(&inner.credentials.api_key);
            inner.pacers.account(endpoint.as_str(), api_key.as_bytes())
        } else {
            inner.pacers.own().clone()
        };
        let headers = if options.api_key.is_some() || options.username.is_some() || options.password.is_some()
        {
            let c = &inner.credentials;
            let credentials = Credentials {
                api_key: options.api_key.clone().unwrap_or_else(|| c.api_key.clone()),
                username: options.username.clone().unwrap_or_else(|| c.username.clone()),
                password: options.password.clone().unwrap_or_else(|| c.password.clone()),
            };
            AuthHeaders::new(&credentials, &inner.user_agent)?
        } else {
            inner.headers.clone()
        };
        let trace_context = options.trace_context.clone();
        Ok(CallTarget {
            endpoint,
            headers,
            timeout,
            deadline,
            retry,
            request_id,
            pacer,
            trace_context,
            patient: false,
        })
    }

    /// Attempts until a result, an error the policy does not retry, no retries
    /// left, or no time left before the call's deadline for the wait. Every
    /// attempt first takes a slot from the client's pacer.
    async fn send_with_retries(
        &self,
        request: &VerificationRequest,
        target: &CallTarget,
        attempts: &mut Attempts,
    ) -> Result<Verification> {
        let pacer = &target.pacer;
        let deadline = Instant::now() + target.deadline;
        let client_request_id = target.client_request_id();
        let mut retry = 0;
        let mut last: Option<Error> = None;
        loop {
            let waiting = Instant::now();
            let acquired = pacer.acquire(deadline, last.is_some()).await;
            attempts.pacer_wait += waiting.elapsed();
            let permit = match acquired {
                Ok(permit) => permit,
                Err(start) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    tracing::debug!(
                        client_request_id,
                        wait_ms = start.saturating_duration_since(Instant::now()).as_millis() as u64,
                        left_ms = left.as_millis() as u64,
                        "failed: the wait for a send slot would pass the call deadline"
                    );
                    // The error that asked for the wait; or, before any attempt,
                    // a timeout of a call that was never sent.
                    return Err(last.unwrap_or_else(|| {
                        Error::Timeout(TransportError::new(
                            format!(
                                "call deadline of {}s would pass while waiting for a send slot \
                                 (the client is pacing after 429s)",
                                target.deadline.as_secs_f64()
                            ),
                            false,
                        ))
                        .with_client_request_id(client_request_id)
                    }));
                }
            };
            attempts.sent += 1;
            let mut announced = None;
            let sent = self.send_once(request, target, deadline, &mut announced).await;
            if let Some(quota) = announced {
                pacer.announced(quota);
            }
            attempts.status = match &sent {
                Ok(_) => Some(200),
                Err(e) => e.status().or(attempts.status),
            };
            let err = match sent {
                Ok(mut v) => {
                    pacer.succeeded(permit);
                    v.client_request_id = client_request_id.map(str::to_owned);
                    tracing::debug!(
                        request_id = v.request_id.as_deref(),
                        client_request_id,
                        status = v.verification_status,
                        "verified"
                    );
                    return Ok(v);
                }
                Err(e) => e.with_client_request_id(client_request_id),
            };
            let throttled = err.kind() == crate::ErrorKind::RateLimited;
            // How long a throttled call waits before its retry: its Retry-After.
            let mut throttled_wait = Duration::ZERO;
            if throttled {
                attempts.throttled += 1;
                throttled_wait = pacer.throttled(permit, err.retry_after(), target.retry.max_retry_after);
            } else if err.status().is_some() {
                pacer.answered(permit);
            } else {
                drop(permit); // unanswered: its place in the slow-start window is freed
            }
            // A patient call's 429s are the pacer's business, not a retry of its own.
            let counted = !(throttled && target.patient);
            if !target.retry.retries(&err) || (counted && retry >= target.retry.max_retries) {
                tracing::debug!(
                    kind = %err.kind(),
                    status = err.status(),
                    request_id = err.request_id(),
                    client_request_id,
                    "failed"
                );
                return Err(err);
            }
            // After a 429 the call waits its Retry-After, then the pacer's
            // schedule; a patient call waits for nothing else. Other errors back off.
            let delay = match (throttled, target.patient, err.retry_after()) {
                (true, true, _) | (true, false, Some(_)) => throttled_wait,
                (_, _, retry_after) => target.retry.delay(retry, retry_after),
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if delay >= left {
                // Sleeping past the deadline only to fail later helps no one.
                tracing::debug!(
                    kind = %err.kind(),
                    status = err.status(),
                    request_id = err.request_id(),
                    client_request_id,
                    delay_ms = delay.as_millis() as u64,
                    left_ms = left.as_millis() as u64,
                    "failed: the wait before a retry would pass the call deadline"
                );
                return Err(err);
            }
            tracing::debug!(
                kind = %err.kind(),
                status = err.status(),
                request_id = err.request_id(),
                client_request_id,
                retry = retry + 1,
                delay_ms = delay.as_millis() as u64,
                "retrying"
            );
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if counted {
                retry += 1;
            }
            last = Some(err);
        }
    }

    /// One attempt, bounded by min(timeout, time left before `deadline`).
    async fn send_once(
        &self,
        request: &VerificationRequest,
        target: &CallTarget,
        deadline: Instant,
        announced: &mut Option<Quota>,
    ) -> Result<Verification> {
        let now = Instant::now();
        let left = deadline.saturating_duration_since(now);
        let (limit, what) = if target.timeout < left {
            (target.timeout, Limit::Timeout(target.timeout))
        } else {
            (left, Limit::Deadline(target.deadline))
        };
        let ends = now + limit;
        let boundary = wire::new_boundary();
        let content_type = HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
            .expect("boundary is ASCII");
        let mut call = self
            .vision
            .inner
            .http
            .post(target.endpoint.clone())
            .header(AUTHORIZATION, target.headers.authorization.clone())
            .header("x-api-key", target.headers.api_key.clone())
            .header(USER_AGENT, target.headers.user_agent.clone())
            .header(CONTENT_TYPE, content_type);
        if let Some((_, value)) = &target.request_id {
            call = call.header("x-request-id", value.clone());
        }
        if let Some(context) = &target.trace_context {
            let (traceparent, tracestate) = context.headers();
            call = call.header("traceparent", traceparent.clone());
            if let Some(tracestate) = tracestate {
                call = call.header("tracestate", tracestate.clone());
            }
        }
        let sending = call.body(wire::multipart_body(request, &boundary)).send();
        let response = match tokio::time::timeout_at(ends, sending).await {
            Ok(sent) => sent.map_err(|e| transport_error(e, &self.vision.inner.secrets))?,
            // Whether the request went out is unknown (it may have been connecting):
            // counted as sent, so it is not retried by default.
            Err(_) => {
                return Err(Error::Timeout(TransportError::new(
                    format!("{what} passed with no answer"),
                    true,
                )))
            }
        };
        let status = response.status().as_u16();
        *announced = crate::pacing::quota(response.headers(), unix_now_s());
        let mut api = ApiError::new(status);
        api.request_id = header_str(response.headers(), "request-id")
            .or_else(|| header_str(response.headers(), "x-request-id"));
        api.retry_after =
            header_str(response.headers(), RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(&v));
        if (300..400).contains(&status) {
            api.location = header_str(response.headers(), LOCATION.as_str());
        }
        let body = read_body(response, self.vision.inner.max_response_bytes, ends, what, &mut api).await?;
        decode_answer(api, &body)
    }
}

fn unix_now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Turns a whole answer into the call's outcome: a 2xx must be a verification
/// result (else [`Error::Decode`]); anything else is the error its status names.
/// `api` holds what the headers said (status, Request-Id, Retry-After, Location).
pub(crate) fn decode_answer(mut api: ApiError, body: &[u8]) -> Result<Verification> {
    if (200..300).contains(&api.status) {
        return Verification::from_body(body, api.request_id.clone()).map_err(|why| {
            api.reason = Some(why.to_owned());
            api.body = wire::excerpt(&String::from_utf8_lossy(body));
            api.retry_after = None;
            Error::Decode(api)
        });
    }
    let mut read = wire::read_error_body(api.status, body, api.request_id.take());
    read.retry_after = api.retry_after;
    read.location = api.location;
    Err(Error::from_status(read))
}

/// Reads the body in chunks, never more than `cap` bytes, until `ends`. Past the
/// cap (or a `Content-Length` above it): Decode. A failure after the status line:
/// IncompleteResponse, with what was read so far.
async fn read_body(
    mut response: reqwest::Response,
    cap: usize,
    ends: Instant,
    what: Limit,
    api: &mut ApiError,
) -> Result<Vec<u8>> {
    let too_long = |api: &mut ApiError, body: &[u8]| {
        let mut api = std::mem::replace(api, ApiError::new(0));
        api.reason = Some(format!("response body exceeds {cap} bytes"));
        api.body = wire::excerpt(&String::from_utf8_lossy(body));
        api.retry_after = None;
        Error::Decode(api)
    };
    let announced = response.content_length();
    if announced.is_some_and(|n| n > cap as u64) {
        return Err(too_long(api, &[]));
    }
    let mut body = Vec::with_capacity(announced.map_or(1024, |n| n as usize).min(cap));
    loop {
        let failed = match tokio::time::timeout_at(ends, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                if body.len() + chunk.len() > cap {
                    let room = cap - body.len();
                    body.extend_from_slice(&chunk[..room.min(crate::BODY_EXCERPT_LIMIT)]);
                    return Err(too_long(api, &body));
                }
                body.extend_from_slice(&chunk);
                continue;
            }
            Ok(Ok(None)) => return Ok(body),
            Ok(Err(e)) => format!("the body was cut off: {}", error_chain(&e)),
            Err(_) => format!("{what} passed while reading the body"),
        };
        let mut api = std::mem::replace(api, ApiError::new(0));
        api.reason = Some(failed);
        api.body = wire::excerpt(&String::from_utf8_lossy(&body));
        return Err(Error::IncompleteResponse(api));
    }
}

/// What bounds an attempt, for the message when it runs out: `timeout of 2s`,
/// `call deadline of 0.5s`.
#[derive(Copy, Clone)]
enum Limit {
    Timeout(Duration),
    Deadline(Duration),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Timeout(d) => write!(f, "timeout of {}s", d.as_secs_f64()),
            Limit::Deadline(d) => write!(f, "call deadline of {}s", d.as_secs_f64()),
        }
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The full source chain says why ("connection refused"), reqwest's top level rarely does.
fn error_chain(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// A failure before any answer byte. Connect errors (DNS, refused, TLS
/// handshake, connect timeout) mean the server never saw the request. A TLS
/// failure leads with what to do about it; `secrets` (a proxy's credentials) are
/// taken out of the message.
fn transport_error(e: reqwest::Error, secrets: &[String]) -> Error {
    let mut message = error_chain(&e);
    let mut request_sent = !e.is_connect();
    let tls = crate::network::tls_failure(&e);
    if let Some(tls) = &tls {
        message = format!("{} ({message})", tls.advice);
        request_sent &= !tls.in_handshake;
    }
    for secret in secrets {
        message = message.replace(secret.as_str(), "<redacted>");
    }
    let mut error = TransportError::new(message, request_sent);
    error.permanent = tls.is_some_and(|t| t.in_handshake);
    if e.is_timeout() {
        Error::Timeout(error)
    } else {
        Error::Connection(error)
    }
}

fn endpoint_url(base_url: &str, api_version: &str) -> Result<reqwest::Url> {
    let bad = |why: &str| Error::Configuration(format!("invalid base URL: {why}"));
    let url = reqwest::Url::parse(base_url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if api_version.is_empty() || !api_version.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return Err(Error::Configuration("invalid API version".to_owned()));
    }
    let joined = format!("{}/identity/{api_version}/verification", base_url.trim_end_matches('/'));
    reqwest::Url::parse(&joined).map_err(|e| bad(&e.to_string()))
}

/// The headers every call carries. Cloning shares the bytes (no allocation), so a
/// call copies three pointers rather than building a header map.
#[derive(Clone)]
struct AuthHeaders {
    authorization: HeaderValue,
    api_key: HeaderValue,
    user_agent: HeaderValue,
}

impl AuthHeaders {
    fn new(credentials: &Credentials, user_agent: &str) -> Result<AuthHeaders> {
        let invalid = |what: &str| {
            Error::Configuration(format!("the {what} contains characters not allowed in an HTTP header"))
        };
        let mut authorization = HeaderValue::from_str(&credentials.authorization())
            .map_err(|_| invalid("username or password"))?;
        authorization.set_sensitive(true);
        let mut api_key = HeaderValue::from_str(&credentials.api_key).map_err(|_| invalid("API key"))?;
        api_key.set_sensitive(true);
        let user_agent = HeaderValue::from_str(user_agent).map_err(|_| invalid("client name"))?;
        Ok(AuthHeaders { authorization, api_key, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Vision {
        Vision::builder()
            .read_env(false)
            .api_key("key-123")
            .username("user")
            .password("s3cret")
            .build()
            .unwrap()
    }

    #[test]
    fn defaults_to_production_and_joins_the_endpoint() {
        let v = client();
        assert_eq!(v.base_url(), DEFAULT_BASE_URL);
        assert_eq!(v.inner.endpoint.as_str(), "https://api.vision.glair.ai/identity/v1/verification");
        let e = endpoint_url("http://127.0.0.1:9/", "v2").unwrap();
        assert_eq!(e.as_str(), "http://127.0.0.1:9/identity/v2/verification");
        assert!(endpoint_url("ftp://x", "v1").is_err());
        assert!(endpoint_url("http://x", "../v1").is_err());
    }

    #[test]
    fn missing_credentials_are_a_configuration_error() {
        let err = Vision::builder().read_env(false).api_key("k").username("u").build().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Configuration);
        assert!(err.to_string().contains("GLAIR_PASSWORD"));
    }

    #[test]
    fn debug_hides_secrets() {
        let shown = format!(
            "{:?} {:?}",
            client(),
            RequestOptions { password: Some("p4ss".into()), ..Default::default() }
        );
        for secret in ["key-123", "user\"", "s3cret", "p4ss"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("api.vision.glair.ai"));
    }

    #[test]
    fn user_agent_names_the_front_door() {
        let v = Vision::builder()
            .read_env(false)
            .api_key("k")
            .username("u")
            .password("p")
            .client_name("python")
            .build()
            .unwrap();
        assert_eq!(v.user_agent(), format!("glair-vision/{} (python)", env!("CARGO_PKG_VERSION")));
    }
}
