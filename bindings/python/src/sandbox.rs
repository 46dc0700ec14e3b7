//! `SandboxServer`: the Rust sandbox, in-process, on the binding's runtime.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;

use glair_vision::{Credentials, Field};
use glair_vision_sandbox::{self as sandbox, Record, Sandbox, SandboxConfig, SandboxError};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::convert::number_of_seconds;
use crate::panics::guard;
use crate::runtime::block_on;

fn record_dict<'py>(py: Python<'py>, record: &Record) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for field in Field::ALL {
        if let Some(v) = record.get(field) {
            d.set_item(field.wire_name(), v)?;
        }
    }
    Ok(d)
}

/// A running sandbox server (see `glair_vision.Sandbox`).
#[pyclass(frozen, module = "glair_vision._native", name = "SandboxServer")]
pub struct PySandbox {
    server: Mutex<Option<Sandbox>>,
    url: String,
    credentials: Credentials,
    tls: Option<sandbox::SandboxTls>,
}

impl PySandbox {
    fn with<T>(&self, f: impl FnOnce(&Sandbox) -> T) -> PyResult<T> {
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner());
        server.as_ref().map(f).ok_or_else(|| PyRuntimeError::new_err("the sandbox is stopped"))
    }
}

#[pymethods]
impl PySandbox {
    #[new]
    #[pyo3(signature = (*, records_json=None, records_path=None, synthetic=None, seed=None, api_key=None,
        username=None, password=None, latency=None, latency_spread=None, rate_limit=None, burst=None,
        gateway=None, failure_rate=None, slow_delay=None, match_threshold=None, host=None, port=0, tls=false,
        tls_client_auth=false, tls_dir=None, tls_names=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        records_json: Option<&str>,
        records_path: Option<PathBuf>,
        synthetic: Option<usize>,
        seed: Option<u64>,
        api_key: Option<String>,
        username: Option<String>,
        password: Option<String>,
        latency: Option<&Bound<'_, PyAny>>,
        latency_spread: Option<&Bound<'_, PyAny>>,
        rate_limit: Option<f64>,
        burst: Option<u32>,
        gateway: Option<&str>,
        failure_rate: Option<f64>,
        slow_delay: Option<&Bound<'_, PyAny>>,
        match_threshold: Option<f64>,
        host: Option<&str>,
        port: u16,
        tls: bool,
        tls_client_auth: bool,
        tls_dir: Option<PathBuf>,
        tls_names: Option<Vec<String>>,
    ) -> PyResult<Self> {
        guard(|| {
            let mut config = SandboxConfig::default();
            if let Some(text) = records_json {
                config.records.extend(
                    sandbox::parse_records_json(text).map_err(|e| PyValueError::new_err(e.to_string()))?,
                );
            }
            if let Some(path) = records_path {
                config
                    .records
                    .extend(sandbox::load_records(&path).map_err(|e| PyValueError::new_err(e.to_string()))?);
            }
            if let Some(n) = synthetic {
                config.synthetic = n;
            }
            if let Some(s) = seed {
                config.seed = s;
            }
            if let Some(v) = api_key {
                config.credentials.api_key = v;
            }
            if let Some(v) = username {
                config.credentials.username = v;
            }
            if let Some(v) = password {
                config.credentials.password = v;
            }
            if let Some(v) = latency.filter(|v| !v.is_none()) {
                config.latency = zero_or_seconds("latency", v)?;
            }
            if let Some(v) = latency_spread.filter(|v| !v.is_none()) {
                config.latency_spread = zero_or_seconds("latency_spread", v)?;
            }
            if let Some(r) = rate_limit {
                if !(r.is_finite() && r >= 0.0) {
                    return Err(PyValueError::new_err(
                        "rate_limit must be a number of requests per second, 0 (no limit) or more",
                    ));
                }
                config.rate_limit = r;
            }
            if let Some(b) = burst {
                if b == 0 {
                    return Err(PyValueError::new_err("burst must be at least 1"));
                }
                config.burst = b;
            }
            if let Some(spec) = gateway {
                config.gateway = Some(spec.parse().map_err(PyValueError::new_err)?);
            }
            if let Some(v) = slow_delay.filter(|v| !v.is_none()) {
                config.slow_delay = zero_or_seconds("slow_delay", v)?;
            }
            if let Some(r) = failure_rate {
                if !(0.0..=1.0).contains(&r) {
                    return Err(PyValueError::new_err("failure_rate must be between 0 and 1"));
                }
                config.failure_rate = r;
            }
            if let Some(t) = match_threshold {
                if !(0.0..=1.0).contains(&t) {
                    return Err(PyValueError::new_err("match_threshold must be between 0 and 1"));
                }
                config.match_threshold = t;
            }
            if let Some(h) = host {
                config.host =
                    h.parse::<IpAddr>().map_err(|_| PyValueError::new_err("host must be an IP address"))?;
            }
            config.port = port;
            if tls {
                config.tls = Some(sandbox::TlsSettings {
                    require_client_certificate: tls_client_auth,
                    directory: tls_dir,
                    names: tls_names.unwrap_or_default(),
                });
            } else if tls_client_auth || tls_dir.is_some() || tls_names.is_some() {
                return Err(PyValueError::new_err("tls_client_auth, tls_dir and tls_names need tls=True"));
            }
            let server = block_on(py, Sandbox::start(config))?.map_err(|e| match e {
                // A setting outside the sandbox's ranges: the caller's value.
                SandboxError::Config(_) => PyValueError::new_err(format!("cannot start the sandbox: {e}")),
                e => PyRuntimeError::new_err(format!("cannot start the sandbox: {e}")),
            })?;
            Ok(PySandbox {
                tls: server.tls().cloned(),
                url: server.url().to_owned(),
                credentials: server.credentials().clone(),
                server: Mutex::new(Some(server)),
            })
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    #[getter]
    fn url(&self) -> &str {
        &self.url
    }
    #[getter]
    fn api_key(&self) -> &str {
        &self.credentials.api_key
    }
    #[getter]
    fn username(&self) -> &str {
        &self.credentials.username
    }
    #[getter]
    fn password(&self) -> &str {
        &self.credentials.password
    }
    /// The CA certificate file (PEM) to trust, with `tls=True`.
    #[getter]
    fn ca_file(&self) -> Option<String> {
        self.tls.as_ref().map(|t| t.ca_file.to_string_lossy().into_owned())
    }
    /// The client certificate and key files (PEM), with `tls_client_auth=True`.
    #[getter]
    fn client_cert_file(&self) -> Option<String> {
        self.tls
            .as_ref()
            .and_then(|t| t.client_certificate_file.as_ref())
            .map(|p| p.to_string_lossy().into_owned())
    }
    #[getter]
    fn client_key_file(&self) -> Option<String> {
        self.tls.as_ref().and_then(|t| t.client_key_file.as_ref()).map(|p| p.to_string_lossy().into_owned())
    }
    #[getter]
    fn running(&self) -> bool {
        self.server.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// Requests answered 429 by `rate_limit` so far.
    #[getter]
    fn throttled(&self) -> PyResult<u64> {
        guard(|| self.with(|s| s.throttled()))
    }

    /// Every person in the registry, as dicts of wire field names.
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let records = self.with(|s| s.records())?;
            let list = PyList::empty(py);
            for r in &records {
                list.append(record_dict(py, r)?)?;
            }
            Ok(list)
        })
    }

    /// The requests the endpoint received (latest 10,000), oldest first.
    fn requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let received = self.with(|s| s.received())?;
            let list = PyList::empty(py);
            for r in &received {
                let d = PyDict::new(py);
                let fields = PyDict::new(py);
                for (k, v) in &r.fields {
                    fields.set_item(k, v)?;
                }
                d.set_item("fields", fields)?;
                d.set_item("content_type", &r.content_type)?;
                d.set_item("user_agent", r.user_agent.as_deref())?;
                d.set_item("request_id", &r.request_id)?;
                d.set_item("client_request_id", r.client_request_id.as_deref())?;
                d.set_item("traceparent", r.traceparent.as_deref())?;
                d.set_item("tracestate", r.tracestate.as_deref())?;
                d.set_item("status", r.status)?;
                list.append(d)?;
            }
            Ok(list)
        })
    }

    /// Empties the received-request log.
    fn clear_requests(&self) -> PyResult<()> {
        guard(|| self.with(|s| s.clear_received()))
    }

    /// Shuts the server down (idempotent).
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        guard(|| {
            let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(server) = server {
                block_on(py, server.stop())?;
            }
            Ok(())
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "SandboxServer(url='{}', running={})",
            self.url,
            if self.running() { "True" } else { "False" }
        )
    }
}

/// Seconds, 0 or more (the sandbox's own check bounds them above).
fn zero_or_seconds(name: &str, v: &Bound<'_, PyAny>) -> PyResult<std::time::Duration> {
    let secs = number_of_seconds(name, v)?;
    let bad = || PyValueError::new_err(format!("{name} must be a number of seconds, 0 or more"));
    if !(secs.is_finite() && secs >= 0.0) {
        return Err(bad());
    }
    std::time::Duration::try_from_secs_f64(secs).map_err(|_| bad())
}
