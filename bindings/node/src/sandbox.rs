//! `NativeSandbox`: the Rust sandbox, in-process, on napi-rs' runtime (behind
//! the package's `Sandbox` class).

use std::sync::{Arc, Mutex};

use glair_vision::{Credentials, Error};
use glair_vision_sandbox::{Sandbox, SandboxConfig};
use napi_derive::napi;

use crate::convert::{
    opt_bool, opt_count, opt_duration_ms, opt_number, opt_string, options_object, reject_unknown,
};
use crate::errors::{config_error, to_napi};
use crate::runtime::init_logging;

const SANDBOX_KEYS: [&str; 21] = [
    "records",
    "recordsPath",
    "synthetic",
    "seed",
    "username",
    "password",
    "apiKey",
    "latencyMs",
    "latencySpreadMs",
    "rateLimit",
    "burst",
    "gateway",
    "failureRate",
    "slowDelayMs",
    "matchThreshold",
    "host",
    "port",
    "tls",
    "tlsClientAuth",
    "tlsDir",
    "tlsNames",
];

fn sandbox_config(options: Option<String>) -> Result<SandboxConfig, Error> {
    let obj = options_object(options, "Sandbox options")?;
    reject_unknown(&obj, &[&SANDBOX_KEYS], "Sandbox")?;
    let mut config = SandboxConfig::default();
    if let Some(v) = obj.get("records").filter(|v| !v.is_null()) {
        let text = v.to_string();
        config.records = glair_vision_sandbox::parse_records_json(&text)
            .map_err(|e| config_error(format!("Sandbox records: {e}")))?;
    }
    if let Some(path) = opt_string(&obj, "recordsPath")? {
        let more = glair_vision_sandbox::load_records(std::path::Path::new(&path))
            .map_err(|e| config_error(format!("Sandbox records file: {e}")))?;
        config.records.extend(more);
    }
    if let Some(n) = opt_count(&obj, "synthetic")? {
        config.synthetic = n as usize;
    }
    if let Some(n) = opt_count(&obj, "seed")? {
        config.seed = n;
    }
    if let Some(v) = opt_string(&obj, "apiKey")? {
        config.credentials.api_key = v;
    }
    if let Some(v) = opt_string(&obj, "username")? {
        config.credentials.username = v;
    }
    if let Some(v) = opt_string(&obj, "password")? {
        config.credentials.password = v;
    }
    if let Some(d) = opt_duration_ms(&obj, "latencyMs")? {
        config.latency = d;
    }
    if let Some(d) = opt_duration_ms(&obj, "latencySpreadMs")? {
        config.latency_spread = d;
    }
    if let Some(r) = opt_number(&obj, "rateLimit")? {
        if !(r.is_finite() && r >= 0.0) {
            return Err(config_error(
                "option `rateLimit` must be a number of requests per second, 0 (no limit) or more",
            ));
        }
        config.rate_limit = r;
    }
    if let Some(n) = opt_count(&obj, "burst")? {
        if n == 0 {
            return Err(config_error("option `burst` must be at least 1"));
        }
        config.burst = u32::try_from(n).map_err(|_| config_error("option `burst` is too large"))?;
    }
    if let Some(v) = obj.get("gateway").filter(|v| !v.is_null()) {
        config.gateway = Some(gateway_spec(v)?.parse().map_err(config_error)?);
    }
    if let Some(d) = opt_duration_ms(&obj, "slowDelayMs")? {
        config.slow_delay = d;
    }
    if let Some(r) = opt_number(&obj, "failureRate")? {
        if !(0.0..=1.0).contains(&r) {
            return Err(config_error("option `failureRate` must be between 0 and 1"));
        }
        config.failure_rate = r;
    }
    if let Some(t) = opt_number(&obj, "matchThreshold")? {
        if !(0.0..=1.0).contains(&t) {
            return Err(config_error("option `matchThreshold` must be between 0 and 1"));
        }
        config.match_threshold = t;
    }
    if let Some(h) = opt_string(&obj, "host")? {
        config.host = h.parse().map_err(|_| config_error("option `host` must be an IP address"))?;
    }
    if let Some(p) = opt_count(&obj, "port")? {
        config.port = u16::try_from(p).map_err(|_| config_error("option `port` must be at most 65535"))?;
    }
    let names = match obj.get("tlsNames") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(items)) => Some(
            items
                .iter()
                .map(|n| n.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| config_error("option `tlsNames` must be an array of host names"))?,
        ),
        Some(_) => return Err(config_error("option `tlsNames` must be an array of host names")),
    };
    let client_auth = opt_bool(&obj, "tlsClientAuth")?;
    let directory = opt_string(&obj, "tlsDir")?;
    if opt_bool(&obj, "tls")?.unwrap_or(false) {
        config.tls = Some(glair_vision_sandbox::TlsSettings {
            require_client_certificate: client_auth.unwrap_or(false),
            directory: directory.map(Into::into),
            names: names.unwrap_or_default(),
        });
    } else if client_auth.is_some() || directory.is_some() || names.is_some() {
        return Err(config_error("options `tlsClientAuth`, `tlsDir` and `tlsNames` need `tls: true`"));
    }
    Ok(config)
}

/// The sandbox's OpenAPI 3.1 document (JSON text), shipped with the package.
#[napi(catch_unwind)]
pub fn openapi_document() -> &'static str {
    glair_vision_sandbox::OPENAPI_JSON
}

/// The in-process sandbox behind the package's `Sandbox` class.
#[napi]
pub struct NativeSandbox {
    inner: Arc<Mutex<Option<Sandbox>>>,
    url: String,
    credentials: Credentials,
    tls: Option<glair_vision_sandbox::SandboxTls>,
}

#[napi]
impl NativeSandbox {
    /// Starts a sandbox on an ephemeral port (unless `port` is given).
    #[napi(factory, catch_unwind)]
    pub async fn start(options: Option<String>) -> napi::Result<NativeSandbox> {
        init_logging();
        let config = sandbox_config(options).map_err(|e| to_napi(&e))?;
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| to_napi(&config_error(format!("cannot start the sandbox: {e}"))))?;
        Ok(NativeSandbox {
            tls: sandbox.tls().cloned(),
            url: sandbox.url().to_owned(),
            credentials: sandbox.credentials().clone(),
            inner: Arc::new(Mutex::new(Some(sandbox))),
        })
    }

    #[napi(getter, catch_unwind)]
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// With `tls: true`, the sandbox's CA certificate file (PEM), to trust.
    #[napi(getter, catch_unwind)]
    pub fn ca_file(&self) -> Option<String> {
        self.tls.as_ref().map(|t| t.ca_file.to_string_lossy().into_owned())
    }

    /// With `tlsClientAuth: true`, the client certificate file (PEM) it requires.
    #[napi(getter, catch_unwind)]
    pub fn client_cert_file(&self) -> Option<String> {
        self.tls
            .as_ref()
            .and_then(|t| t.client_certificate_file.as_ref())
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// That certificate's private key file (PEM).
    #[napi(getter, catch_unwind)]
    pub fn client_key_file(&self) -> Option<String> {
        self.tls.as_ref().and_then(|t| t.client_key_file.as_ref()).map(|p| p.to_string_lossy().into_owned())
    }

    #[napi(getter, catch_unwind)]
    pub fn api_key(&self) -> String {
        self.credentials.api_key.clone()
    }

    #[napi(getter, catch_unwind)]
    pub fn username(&self) -> String {
        self.credentials.username.clone()
    }

    #[napi(getter, catch_unwind)]
    pub fn password(&self) -> String {
        self.credentials.password.clone()
    }

    fn with<T>(&self, f: impl FnOnce(&Sandbox) -> T) -> napi::Result<T> {
        let guard = self.inner.lock().expect("sandbox lock");
        match guard.as_ref() {
            Some(sb) => Ok(f(sb)),
            None => Err(to_napi(&config_error("the sandbox has been stopped"))),
        }
    }

    /// Requests answered 429 by `rateLimit` so far.
    #[napi(getter, catch_unwind)]
    pub fn throttled(&self) -> napi::Result<f64> {
        self.with(|sb| sb.throttled() as f64)
    }

    /// Every person in the registry, as a JSON array of records.
    #[napi(catch_unwind)]
    pub async fn records(&self) -> napi::Result<String> {
        let records = self.with(|sb| sb.records())?;
        serde_json::to_string(&records).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    /// The log of requests received on the endpoint, as JSON.
    #[napi(catch_unwind)]
    pub async fn requests(&self) -> napi::Result<String> {
        let received = self.with(|sb| sb.received())?;
        serde_json::to_string(&received).map_err(|e| napi::Error::from_reason(e.to_string()))
    }

    #[napi(catch_unwind)]
    pub fn clear_requests(&self) -> napi::Result<()> {
        self.with(|sb| sb.clear_received())
    }

    /// Stops the server gracefully. Stopping twice is fine.
    #[napi(catch_unwind)]
    pub async fn stop(&self) -> napi::Result<()> {
        let sandbox = self.inner.lock().expect("sandbox lock").take();
        if let Some(sb) = sandbox {
            sb.stop().await;
        }
        Ok(())
    }
}

/// The `gateway` option as the sandbox's text form: a string as it is, or an
/// object (`{model, rate, burst, limit, window, depth, retryAfter, headers,
/// changes: [[seconds, factor], ...]}`) written out key by key.
fn gateway_spec(value: &serde_json::Value) -> Result<String, Error> {
    let bad = || config_error("option `gateway` must be a string or an object of settings");
    let object = match value {
        serde_json::Value::String(s) => return Ok(s.clone()),
        serde_json::Value::Object(o) => o,
        _ => return Err(bad()),
    };
    let mut parts = Vec::new();
    for (key, v) in object {
        let name = match key.as_str() {
            "retryAfter" => "retry-after",
            "changes" => {
                let pairs = v.as_array().ok_or_else(bad)?;
                for pair in pairs {
                    match pair.as_array().map(Vec::as_slice) {
                        Some([at, factor]) if at.is_number() && factor.is_number() => {
                            parts.push(format!("change={at}s:{factor}"));
                        }
                        _ => {
                            return Err(config_error(
                                "option `gateway.changes` must be [seconds, factor] pairs",
                            ))
                        }
                    }
                }
                continue;
            }
            other => other,
        };
        let text = match v {
            serde_json::Value::String(s) if !s.contains(',') => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return Err(config_error(format!("option `gateway.{key}` must be a string or a number"))),
        };
        parts.push(format!("{name}={text}"));
    }
    Ok(parts.join(","))
}
