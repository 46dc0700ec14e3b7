//! Results as Python objects: `Verification` and its per-field `FieldResults`.
//! Neither holds personal data (statuses, the reason and the request id only).

use glair_vision::{Field, FieldResults, PacingSnapshot, Verification};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::IntoPyObjectExt;

/// Per-field verification status: `True` matches, `False` does not, `None` was
/// not sent or could not be checked.
#[pyclass(frozen, eq, get_all, module = "glair_vision._native", name = "FieldResults")]
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PyFieldResults {
    pub nik: Option<bool>,
    pub name: Option<bool>,
    pub date_of_birth: Option<bool>,
    pub no_kk: Option<bool>,
    pub mother_maiden_name: Option<bool>,
    pub place_of_birth: Option<bool>,
    pub address: Option<bool>,
    pub gender: Option<bool>,
    pub marital_status: Option<bool>,
    pub job_type: Option<bool>,
    pub province: Option<bool>,
    pub city: Option<bool>,
    pub district: Option<bool>,
    pub subdistrict: Option<bool>,
    pub rt: Option<bool>,
    pub rw: Option<bool>,
}

impl From<FieldResults> for PyFieldResults {
    fn from(r: FieldResults) -> Self {
        PyFieldResults {
            nik: r.nik,
            name: r.name,
            date_of_birth: r.date_of_birth,
            no_kk: r.no_kk,
            mother_maiden_name: r.mother_maiden_name,
            place_of_birth: r.place_of_birth,
            address: r.address,
            gender: r.gender,
            marital_status: r.marital_status,
            job_type: r.job_type,
            province: r.province,
            city: r.city,
            district: r.district,
            subdistrict: r.subdistrict,
            rt: r.rt,
            rw: r.rw,
        }
    }
}

impl From<PyFieldResults> for FieldResults {
    fn from(r: PyFieldResults) -> Self {
        FieldResults {
            nik: r.nik,
            name: r.name,
            date_of_birth: r.date_of_birth,
            no_kk: r.no_kk,
            mother_maiden_name: r.mother_maiden_name,
            place_of_birth: r.place_of_birth,
            address: r.address,
            gender: r.gender,
            marital_status: r.marital_status,
            job_type: r.job_type,
            province: r.province,
            city: r.city,
            district: r.district,
            subdistrict: r.subdistrict,
            rt: r.rt,
            rw: r.rw,
        }
    }
}

impl PyFieldResults {
    fn core(&self) -> FieldResults {
        self.clone().into()
    }
}

#[pymethods]
impl PyFieldResults {
    #[new]
    #[pyo3(signature = (nik=None, name=None, date_of_birth=None, no_kk=None, mother_maiden_name=None,
        place_of_birth=None, address=None, gender=None, marital_status=None, job_type=None,
        province=None, city=None, district=None, subdistrict=None, rt=None, rw=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        nik: Option<bool>,
        name: Option<bool>,
        date_of_birth: Option<bool>,
        no_kk: Option<bool>,
        mother_maiden_name: Option<bool>,
        place_of_birth: Option<bool>,
        address: Option<bool>,
        gender: Option<bool>,
        marital_status: Option<bool>,
        job_type: Option<bool>,
        province: Option<bool>,
        city: Option<bool>,
        district: Option<bool>,
        subdistrict: Option<bool>,
        rt: Option<bool>,
        rw: Option<bool>,
    ) -> Self {
        PyFieldResults {
            nik,
            name,
            date_of_birth,
            no_kk,
            mother_maiden_name,
            place_of_birth,
            address,
            gender,
            marital_status,
            job_type,
            province,
            city,
            district,
            subdistrict,
            rt,
            rw,
        }
    }

    /// `{wire field name: True | False | None}` for all 16 fields.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (field, value) in self.core().iter() {
            d.set_item(field.wire_name(), value)?;
        }
        Ok(d)
    }

    /// The wire names of the fields that were checked and did not match.
    fn mismatched(&self) -> Vec<&'static str> {
        self.core().mismatched().map(Field::wire_name).collect()
    }

    /// The status of one field by its wire name.
    fn __getitem__(&self, key: &str) -> PyResult<Option<bool>> {
        Field::from_wire_name(key)
            .map(|f| self.core().get(f))
            .ok_or_else(|| PyKeyError::new_err(key.to_owned()))
    }

    fn __repr__(&self) -> String {
        let set: Vec<String> = self
            .core()
            .iter()
            .filter_map(|(f, v)| v.map(|b| format!("{}={}", f.wire_name(), if b { "True" } else { "False" })))
            .collect();
        format!("FieldResults({})", set.join(", "))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let values: Vec<Option<bool>> = slf.get().core().iter().map(|(_, v)| v).collect();
        Ok((slf.get_type().into_any(), PyTuple::new(slf.py(), values)?))
    }
}

/// The registry's answer to one verification.
#[pyclass(frozen, eq, module = "glair_vision._native", name = "Verification")]
#[derive(Clone)]
pub struct PyVerification {
    pub inner: Verification,
    /// A batch outcome's attempts sent and 429s among them (None for a single call).
    pub attempts: Option<u32>,
    pub throttled: Option<u32>,
}

/// Equal answers are equal, however many attempts each took.
impl PartialEq for PyVerification {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl From<Verification> for PyVerification {
    fn from(inner: Verification) -> Self {
        PyVerification { inner, attempts: None, throttled: None }
    }
}

#[pymethods]
impl PyVerification {
    #[new]
    #[pyo3(signature = (verification_status, reason, result=None, request_id=None, client_request_id=None,
        attempts=None, throttled=None))]
    fn new(
        verification_status: bool,
        reason: String,
        result: Option<&Bound<'_, PyAny>>,
        request_id: Option<String>,
        client_request_id: Option<String>,
        attempts: Option<u32>,
        throttled: Option<u32>,
    ) -> PyResult<Self> {
        let result = match result {
            None => FieldResults::default(),
            Some(r) if r.is_none() => FieldResults::default(),
            Some(r) => {
                if let Ok(fr) = r.cast::<PyFieldResults>() {
                    fr.get().core()
                } else if let Ok(d) = r.cast::<PyDict>() {
                    let mut out = FieldResults::default();
                    for (k, v) in d.iter() {
                        let key: String = k.extract()?;
                        let field = Field::from_wire_name(&key)
                            .ok_or_else(|| PyKeyError::new_err(format!("unknown field {key:?}")))?;
                        out.set(field, v.extract::<Option<bool>>()?);
                    }
                    out
                } else {
                    return Err(PyTypeError::new_err("result must be a FieldResults, a dict or None"));
                }
            }
        };
        Ok(PyVerification {
            inner: Verification { verification_status, reason, result, request_id, client_request_id },
            attempts,
            throttled,
        })
    }

    /// True when every field sent matched the registry.
    #[getter]
    fn verification_status(&self) -> bool {
        self.inner.verification_status
    }

    /// The API's human-readable explanation.
    #[getter]
    fn reason(&self) -> &str {
        &self.inner.reason
    }

    /// Status per field; fields not sent are None.
    #[getter]
    fn result(&self) -> PyFieldResults {
        self.inner.result.into()
    }

    /// The `Request-Id` response header, for GLAIR support.
    #[getter]
    fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The caller's correlation id, sent as `x-request-id` (`request_id=`), if any.
    #[getter]
    fn client_request_id(&self) -> Option<&str> {
        self.inner.client_request_id.as_deref()
    }

    /// Batch outcomes: the attempts sent for this record (the first and every
    /// retry). None for a single call.
    #[getter]
    fn attempts(&self) -> Option<u32> {
        self.attempts
    }

    /// Batch outcomes: how many of those attempts were answered 429 (throttled)
    /// before this answer. None for a single call.
    #[getter]
    fn throttled(&self) -> Option<u32> {
        self.throttled
    }

    /// `{"verification_status", "reason", "result": {...16 fields}, "request_id",
    /// "client_request_id"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("verification_status", self.inner.verification_status)?;
        d.set_item("reason", &self.inner.reason)?;
        d.set_item("result", PyFieldResults::from(self.inner.result).to_dict(py)?)?;
        d.set_item("request_id", self.inner.request_id.as_deref())?;
        d.set_item("client_request_id", self.inner.client_request_id.as_deref())?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let client = match &self.inner.client_request_id {
            Some(id) => format!(", client_request_id={}", py_repr(Some(id))),
            None => String::new(),
        };
        format!(
            "Verification(verification_status={}, reason={}, result={}, request_id={}{client})",
            if self.inner.verification_status { "True" } else { "False" },
            py_repr(Some(&self.inner.reason)),
            PyFieldResults::from(self.inner.result).__repr__(),
            py_repr(self.inner.request_id.as_deref()),
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let py = slf.py();
        let v = &slf.get().inner;
        let result = Py::new(py, PyFieldResults::from(v.result))?;
        let args = (
            v.verification_status,
            v.reason.clone(),
            result,
            v.request_id.clone(),
            v.client_request_id.clone(),
            slf.get().attempts,
            slf.get().throttled,
        )
            .into_pyobject(py)?;
        Ok((slf.get_type().into_any(), args))
    }
}

/// A string as Python's `repr` would show it (close enough for display).
pub fn py_repr(s: Option<&str>) -> String {
    match s {
        None => "None".to_owned(),
        Some(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

/// The client's pacer now (`vision.pacing()`), for progress displays and logs.
#[pyclass(frozen, eq, get_all, module = "glair_vision._native", name = "PacingState")]
#[derive(Clone, PartialEq)]
pub struct PyPacingState {
    /// Calls started per second now; None while unlimited (no 429 seen, no ceiling).
    pub rate: Option<f64>,
    /// The configured ceiling (`rate_limit=` a number), or None.
    pub ceiling: Option<f64>,
    /// Attempts sent (first attempts and retries).
    pub sent: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Attempts answered 429.
    pub throttled: u64,
    /// Attempts answered with a verification (the calls billed).
    pub succeeded: u64,
    /// Whether a pause (refusals in a row, or an announced quota spent) holds every call back now.
    pub paused: bool,
    /// What the pacer believes the account accepts, calls per second (None while unknown).
    pub limit: Option<f64>,
    /// The window of the quota the gateway announced, in seconds (None: none announced).
    pub window: Option<f64>,
    /// Where the pacer stands: "unpaced", "searching", "measuring", "holding", "announced", "ceiling".
    pub model: String,
    /// Whether the limit comes from the gateway's rate-limit headers.
    pub from_headers: bool,
    /// With a pacing store (else None): how many processes share the pace,
    /// whether this one has joined it, and whether the store is reachable now;
    /// its round trips so far, and what it added to this process's attempts at
    /// the 99th percentile, in seconds.
    pub store_processes: Option<u32>,
    pub store_joined: Option<bool>,
    pub store_connected: Option<bool>,
    pub store_round_trips: Option<u64>,
    pub store_wait_p99: Option<f64>,
}

impl From<PacingSnapshot> for PyPacingState {
    fn from(s: PacingSnapshot) -> Self {
        PyPacingState {
            rate: s.rate,
            ceiling: s.ceiling,
            sent: s.sent,
            retries: s.retries,
            throttled: s.throttled,
            succeeded: s.succeeded,
            paused: s.paused,
            limit: s.limit,
            window: s.window.map(|w| w.as_secs_f64()),
            model: s.model.as_str().to_owned(),
            from_headers: s.from_headers,
            store_processes: s.store.map(|p| p.processes),
            store_joined: s.store.map(|p| p.joined),
            store_connected: s.store.map(|p| p.connected),
            store_round_trips: s.store.map(|p| p.round_trips),
            store_wait_p99: s.store.map(|p| p.wait_p99.as_secs_f64()),
        }
    }
}

#[pymethods]
impl PyPacingState {
    #[new]
    #[pyo3(signature = (rate, ceiling, sent, retries, throttled, succeeded, paused, limit=None, window=None, model=None,
        from_headers=false, store_processes=None, store_joined=None, store_connected=None,
        store_round_trips=None, store_wait_p99=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        rate: Option<f64>,
        ceiling: Option<f64>,
        sent: u64,
        retries: u64,
        throttled: u64,
        succeeded: u64,
        paused: bool,
        limit: Option<f64>,
        window: Option<f64>,
        model: Option<String>,
        from_headers: bool,
        store_processes: Option<u32>,
        store_joined: Option<bool>,
        store_connected: Option<bool>,
        store_round_trips: Option<u64>,
        store_wait_p99: Option<f64>,
    ) -> Self {
        let model = model.unwrap_or_else(|| "unpaced".to_owned());
        PyPacingState {
            rate,
            ceiling,
            sent,
            retries,
            throttled,
            succeeded,
            paused,
            limit,
            window,
            model,
            from_headers,
            store_processes,
            store_joined,
            store_connected,
            store_round_trips,
            store_wait_p99,
        }
    }

    /// `{"rate", "ceiling", "sent", "retries", "throttled", "succeeded", "paused",
    /// "limit", "window", "model", "from_headers", "store_processes", "store_joined",
    /// "store_connected", "store_round_trips", "store_wait_p99"}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rate", self.rate)?;
        d.set_item("ceiling", self.ceiling)?;
        d.set_item("sent", self.sent)?;
        d.set_item("retries", self.retries)?;
        d.set_item("throttled", self.throttled)?;
        d.set_item("succeeded", self.succeeded)?;
        d.set_item("paused", self.paused)?;
        d.set_item("limit", self.limit)?;
        d.set_item("window", self.window)?;
        d.set_item("model", &self.model)?;
        d.set_item("from_headers", self.from_headers)?;
        d.set_item("store_processes", self.store_processes)?;
        d.set_item("store_joined", self.store_joined)?;
        d.set_item("store_connected", self.store_connected)?;
        d.set_item("store_round_trips", self.store_round_trips)?;
        d.set_item("store_wait_p99", self.store_wait_p99)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let rate = |r: Option<f64>| r.map_or_else(|| "None".to_owned(), |r| format!("{r:.1}"));
        format!(
            "PacingState(model='{}', rate={}, limit={}, ceiling={}, sent={}, retries={}, throttled={}, succeeded={}, paused={})",
            self.model,
            rate(self.rate),
            rate(self.limit),
            rate(self.ceiling),
            self.sent,
            self.retries,
            self.throttled,
            self.succeeded,
            if self.paused { "True" } else { "False" }
        )
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyTuple>)> {
        let (s, py) = (slf.get(), slf.py());
        // More fields than a Rust tuple converts at once: one by one.
        let args = PyTuple::new(
            py,
            [
                s.rate.into_bound_py_any(py)?,
                s.ceiling.into_bound_py_any(py)?,
                s.sent.into_bound_py_any(py)?,
                s.retries.into_bound_py_any(py)?,
                s.throttled.into_bound_py_any(py)?,
                s.succeeded.into_bound_py_any(py)?,
                s.paused.into_bound_py_any(py)?,
                s.limit.into_bound_py_any(py)?,
                s.window.into_bound_py_any(py)?,
                s.model.clone().into_bound_py_any(py)?,
                s.from_headers.into_bound_py_any(py)?,
                s.store_processes.into_bound_py_any(py)?,
                s.store_joined.into_bound_py_any(py)?,
                s.store_connected.into_bound_py_any(py)?,
                s.store_round_trips.into_bound_py_any(py)?,
                s.store_wait_p99.into_bound_py_any(py)?,
            ],
        )?;
        Ok((slf.get_type().into_any(), args))
    }
}
