//! # glair-vision-sandbox
//!
//! A local server that implements GLAIR Vision's `POST /identity/v1/verification`
//! as documented, over a synthetic registry, with scripted faults, so that tests
//! (ours and our users') run against real HTTP without a GLAIR account.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use glair_vision::VerificationRequest;
//! use glair_vision_sandbox::{Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let vision = sandbox.vision_builder().build()?;
//! let request = VerificationRequest::new("3171014508900001").name("SITI RAHAYU");
//! let verification = vision.identity().verification(&request).await?;
//! assert!(verification.verification_status);
//! sandbox.stop().await;
//! # Ok(()) }
//! ```
//!
//! Reserved NIKs (serial 9000-9999) trigger faults: see [`faults::FAULTS`].

mod body;
pub mod faults;
#[doc(hidden)]
pub mod fuzzing;
pub mod gateway;
mod headers;
mod hold;
mod latency;
mod log;
pub mod matching;
pub mod proxy;
mod ratelimit;
mod record;
pub mod redis;
mod serve;
mod server;
mod synthetic;
mod tls;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use glair_vision::{Credentials, VisionBuilder};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use log::{LogStats, DEFAULT_REQUEST_LOG_BYTES, MIN_REQUEST_LOG_BYTES, REQUEST_LOG_CAPACITY};
pub use record::{fixtures, load_records, parse_records_json, Record};
pub use server::MAX_BODY_BYTES;
pub use synthetic::generate as synthetic_people;
pub use tls::{SandboxTls, TlsSettings};

/// The most synthetic people a sandbox generates (each holds about 1 KiB).
pub const MAX_SYNTHETIC: usize = 100_000;
/// The largest request log ([`SandboxConfig::request_log_bytes`]).
pub const MAX_REQUEST_LOG_BYTES: usize = 1024 * 1024 * 1024;
/// The largest `burst` and `rate_limit` (requests per second) a sandbox takes.
pub const MAX_BURST: u32 = 1_000_000;
pub const MAX_RATE_LIMIT: f64 = 1_000_000.0;
/// The longest latency, spread, slow delay and read or idle timeout.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 60 * 60);

pub const DEFAULT_API_KEY: &str = "sandbox-api-key";
pub const DEFAULT_USERNAME: &str = "sandbox";
pub const DEFAULT_PASSWORD: &str = "sandbox-password";

/// The OpenAPI 3.1 document of the endpoint as the sandbox serves it (also at
/// `GET /openapi.json`): fields, encodings, every answer and header, both
/// credentials, the scripted fault NIKs.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// How a sandbox starts.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Address to listen on. Default 127.0.0.1.
    pub host: IpAddr,
    /// Port; 0 picks a free one. Default 0.
    pub port: u16,
    /// What callers must send. Default [`DEFAULT_API_KEY`], [`DEFAULT_USERNAME`], [`DEFAULT_PASSWORD`].
    pub credentials: Credentials,
    /// How many synthetic people to generate: 0 to [`MAX_SYNTHETIC`] (100,000).
    /// Default 100.
    pub synthetic: usize,
    /// Seed of the synthetic population (and of `failure_rate`'s draws). Default 0.
    pub seed: u64,
    /// Extra people; they replace fixture or synthetic people with the same NIK.
    pub records: Vec<Record>,
    /// Similarity (0-1) at which free-text fields match. Default 0.85.
    pub match_threshold: f64,
    /// Mean time added before every answer of the endpoint (not before a 429 of
    /// `rate_limit`, which a gateway answers at once). Default 0.
    pub latency: Duration,
    /// Standard deviation of that time: with a spread, each answer waits a
    /// log-normal draw of mean `latency` (never negative, skewed to the right),
    /// from a generator seeded by `seed`. Default 0 (a constant).
    pub latency_spread: Duration,
    /// Requests per second allowed per API key, as a gateway's token bucket;
    /// past it: 429 with a JSON body and `Retry-After` (whole seconds, rounded
    /// up). 0 for no limit. Default 0.
    pub rate_limit: f64,
    /// Requests an idle API key may send at once before `rate_limit` applies: 1
    /// to [`MAX_BURST`]. Default 20.
    pub burst: u32,
    /// The gateway in front of the endpoint, when it is not `rate_limit`'s token
    /// bucket: fixed and sliding windows, a leaky queue, how a refusal says when
    /// to come back, which rate-limit headers every answer carries, and limits
    /// that move on a schedule ([`gateway::GatewayConfig`], also written as
    /// text: `"model=fixed-window,limit=100,window=1s,headers=kong"`). Either
    /// this or `rate_limit`, not both. Default none.
    pub gateway: Option<gateway::GatewayConfig>,
    /// Share (0-1) of requests answered 503, at random. Default 0.
    pub failure_rate: f64,
    /// How long NIKs ending in 9408 wait before answering. Default 3 s.
    pub slow_delay: Duration,
    /// Bound of the request log in bytes (bodies, logged headers, bookkeeping),
    /// besides its [`REQUEST_LOG_CAPACITY`] entries; the oldest go first. At least
    /// [`MIN_REQUEST_LOG_BYTES`], at most [`MAX_REQUEST_LOG_BYTES`] (1 GiB).
    /// Default [`DEFAULT_REQUEST_LOG_BYTES`] (8 MiB).
    pub request_log_bytes: usize,
    /// A request head must arrive within this, counted from the connection's
    /// opening or from the first byte of a later request; else the connection is
    /// closed (slow or stalled clients cannot hold connections). Default 10 s.
    pub header_read_timeout: Duration,
    /// A request body must arrive within this once its head is in; else 408 and
    /// the connection closes. Default 10 s.
    pub body_read_timeout: Duration,
    /// A keep-alive connection waiting for its next request is closed after this.
    /// Default 60 s.
    pub idle_timeout: Duration,
    /// Serve HTTPS with a certificate from a CA the sandbox makes (and, if asked,
    /// require a client certificate): see [`Sandbox::tls`]. Default `None` (HTTP).
    pub tls: Option<TlsSettings>,
}

impl SandboxConfig {
    /// The gateway the sandbox applies: `gateway`, or `rate_limit`'s token
    /// bucket (`Retry-After` in whole seconds), or none.
    pub fn gateway(&self) -> Option<gateway::GatewayConfig> {
        self.gateway.clone().or_else(|| {
            (self.rate_limit > 0.0).then(|| gateway::GatewayConfig::token_bucket(self.rate_limit, self.burst))
        })
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            credentials: Credentials {
                api_key: DEFAULT_API_KEY.to_owned(),
                username: DEFAULT_USERNAME.to_owned(),
                password: DEFAULT_PASSWORD.to_owned(),
            },
            synthetic: 100,
            seed: 0,
            records: Vec::new(),
            match_threshold: 0.85,
            latency: Duration::ZERO,
            latency_spread: Duration::ZERO,
            rate_limit: 0.0,
            burst: 20,
            gateway: None,
            failure_rate: 0.0,
            slow_delay: Duration::from_secs(3),
            request_log_bytes: DEFAULT_REQUEST_LOG_BYTES,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            tls: None,
        }
    }
}

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("invalid records: {0}")]
    Records(String),
    #[error("invalid sandbox setting: {0}")]
    Config(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// One request the endpoint received, as `/_sandbox/requests` lists it. Holds the
/// values sent: this is a test double's log, for asserting what a client sent.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// Field name and value, in the order received.
    pub fields: Vec<(String, String)>,
    pub content_type: String,
    pub user_agent: Option<String>,
    /// The sandbox's `Request-Id` for this request.
    pub request_id: String,
    /// The caller's correlation id (`x-request-id`), if it sent one.
    pub client_request_id: Option<String>,
    /// The W3C trace context it sent (`traceparent`, `tracestate`), if any.
    pub traceparent: Option<String>,
    pub tracestate: Option<String>,
    pub status: u16,
}

impl ReceivedRequest {
    /// The value sent for `name`, if any.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A running sandbox. Stops when dropped (or, gracefully, with [`Sandbox::stop`]).
pub struct Sandbox {
    url: String,
    addr: SocketAddr,
    credentials: Credentials,
    state: Arc<server::AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    tls: Option<tls::Tls>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("url", &self.url).finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Builds the registry (fixtures, then synthetic people, then `config.records`)
    /// and starts serving on the current tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        check(&config)?;
        let mut people = fixtures().to_vec();
        people.extend(synthetic::generate(config.synthetic, config.seed));
        people.extend(config.records.iter().cloned());
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind { addr, source })?;
        let credentials = config.credentials.clone();
        let timeouts = serve::Timeouts { header_read: config.header_read_timeout, idle: config.idle_timeout };
        let tls = config.tls.as_ref().map(|settings| tls::start(settings, addr.ip())).transpose()?;
        let state = Arc::new(server::AppState::new(config, people));
        let app = server::router(state.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let task = tokio::spawn(serve::serve(listener, app, acceptor, timeouts, stopped));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = match addr {
            SocketAddr::V6(a) => format!("{scheme}://[{}]:{}", a.ip(), a.port()),
            SocketAddr::V4(a) => format!("{scheme}://{a}"),
        };
        tracing::info!(%url, "sandbox listening");
        Ok(Sandbox { url, addr, credentials, state, shutdown: Some(shutdown), task: Some(task), tls })
    }

    /// The base URL to give a client, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The CA to trust (and the client certificate to show) when the sandbox
    /// serves HTTPS ([`SandboxConfig::tls`]); its files last as long as the sandbox.
    pub fn tls(&self) -> Option<&SandboxTls> {
        self.tls.as_ref().map(|t| &t.files)
    }

    /// The gateway this sandbox applies to the endpoint, if any.
    pub fn gateway(&self) -> Option<gateway::GatewayConfig> {
        self.state.config().gateway()
    }

    /// A client builder aimed at this sandbox, ignoring the GLAIR_* environment;
    /// over TLS it trusts the sandbox's CA and shows its client certificate.
    pub fn vision_builder(&self) -> VisionBuilder {
        let builder = glair_vision::Vision::builder()
            .read_env(false)
            .credentials(self.credentials.clone())
            .base_url(&self.url);
        let Some(tls) = self.tls() else { return builder };
        let builder = builder.ca_bundle(tls.ca_certificate.clone());
        match (&tls.client_certificate_file, &tls.client_key_file) {
            (Some(certificate), Some(key)) => builder.client_certificate(certificate.clone(), key.clone()),
            _ => builder,
        }
    }

    /// Everyone in the registry.
    pub fn records(&self) -> Vec<Record> {
        self.state.records()
    }

    /// The requests the endpoint received, oldest first: the last
    /// [`REQUEST_LOG_CAPACITY`], fewer when their size passes
    /// [`SandboxConfig::request_log_bytes`].
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state.received()
    }

    /// Requests answered 429 by [`SandboxConfig::rate_limit`] so far (also
    /// `throttled` at `GET /_sandbox/stats`).
    pub fn throttled(&self) -> u64 {
        self.state.throttled()
    }

    /// How full the request log is (also at `GET /_sandbox/stats`).
    pub fn log_stats(&self) -> LogStats {
        self.state.log_stats()
    }

    pub fn clear_received(&self) {
        self.state.clear_received();
    }

    /// Holds answers, for tests that must act while calls are in flight (kill
    /// or signal a client mid-batch, cancel a call): the next `after` answers go
    /// as usual, every later one waits until [`Sandbox::release`]. A held
    /// request has been read, answered and logged ([`Sandbox::received`] lists
    /// it); only its answer waits. Replaces any earlier hold. Also
    /// `POST /_sandbox/hold?after=N`.
    pub fn hold_after(&self, after: u64) {
        self.state.hold().hold(after, None, None);
    }

    /// Like [`Sandbox::hold_after`] for the answers to requests for `nik` only
    /// (after its next `after` answers); other answers go as usual. Also
    /// `POST /_sandbox/hold?nik=NIK&after=N` (there, `&max_ms=M` lets a held
    /// answer go after M ms even if not released: a bound for a test whose
    /// process could not release it if the call under test blocked it).
    pub fn hold_nik(&self, nik: &str, after: u64) {
        self.state.hold().hold(after, Some(nik.to_owned()), None);
    }

    /// Stops holding and lets every held answer go. Also `POST /_sandbox/release`.
    pub fn release(&self) {
        self.state.hold().release();
    }

    /// Answers waiting at the hold now (`held` at `GET /_sandbox/stats`).
    pub fn held(&self) -> usize {
        self.state.hold().held()
    }

    /// Requests to the endpoint being handled now: received and not yet
    /// answered, held ones included (`in_flight` at `GET /_sandbox/stats`). A
    /// test waits for it instead of guessing when a call has arrived.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight()
    }

    /// Stops accepting, lets in-flight answers finish (at most 5 s; held ones
    /// are released), and returns.
    pub async fn stop(mut self) {
        self.release();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Idle keep-alive connections would hold a graceful shutdown open: a
            // dropped sandbox must free its port, so end the task outright.
            task.abort();
        }
    }
}

fn check(config: &SandboxConfig) -> Result<(), SandboxError> {
    let bad = |s: &str| Err(SandboxError::Config(s.to_owned()));
    if !(0.0..=1.0).contains(&config.match_threshold) {
        return bad("match_threshold must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&config.failure_rate) {
        return bad("failure_rate must be between 0 and 1");
    }
    if !(config.rate_limit.is_finite() && (0.0..=MAX_RATE_LIMIT).contains(&config.rate_limit)) {
        return bad("rate_limit must be a number of requests per second from 0 (no limit) to 1000000");
    }
    // What sizes the sandbox's memory: bounded before anything is allocated.
    if config.synthetic > MAX_SYNTHETIC {
        return bad("synthetic must be from 0 to 100000 people");
    }
    if !(1..=MAX_BURST).contains(&config.burst) {
        return bad("burst must be from 1 to 1000000 requests");
    }
    if let Some(gateway) = &config.gateway {
        if config.rate_limit > 0.0 {
            return bad("set either rate_limit (a token bucket) or gateway, not both");
        }
        gateway.validate().map_err(|e| SandboxError::Config(format!("gateway: {e}")))?;
    }
    if !(MIN_REQUEST_LOG_BYTES..=MAX_REQUEST_LOG_BYTES).contains(&config.request_log_bytes) {
        return bad("request_log_bytes must be from 1 MiB to 1 GiB");
    }
    for (name, d) in [
        ("latency", config.latency),
        ("latency_spread", config.latency_spread),
        ("slow_delay", config.slow_delay),
    ] {
        if d > MAX_DELAY {
            return Err(SandboxError::Config(format!("{name} must be at most 1 day")));
        }
    }
    for (name, d) in [
        ("header_read_timeout", config.header_read_timeout),
        ("body_read_timeout", config.body_read_timeout),
        ("idle_timeout", config.idle_timeout),
    ] {
        if d.is_zero() || d > MAX_DELAY {
            return Err(SandboxError::Config(format!("{name} must be more than zero and at most 1 day")));
        }
    }
    let c = &config.credentials;
    if c.api_key.is_empty() || c.username.is_empty() || c.password.is_empty() {
        return bad("credentials must not be empty");
    }
    Ok(())
}
