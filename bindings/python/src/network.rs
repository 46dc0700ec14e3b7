//! Network settings from Python arguments: conversion only (the core reads the
//! files and checks what they hold when the client is built).

use glair_vision::network::{ClientCertificate, NetworkSettings, Pem, ProxySetting};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyList, PyString, PyTuple};

use crate::convert::{boolean, type_name};
use crate::errors::to_pyerr;
use glair_vision::Error;

/// The environment's CA bundle as requests reads it (the first one set).
const PYTHON_CA_BUNDLE_VARIABLES: [&str; 2] = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"];

/// A PEM setting: a path (`str` or `os.PathLike`), PEM text (a `str` holding
/// `-----BEGIN`) or PEM bytes.
fn pem(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Pem> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Pem::from_setting(&text.to_cow()?));
    }
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Pem::Text(bytes.as_bytes().to_vec()));
    }
    if value.hasattr("__fspath__")? {
        let path = value.py().import("os")?.call_method1("fspath", (value,))?;
        if let Ok(path) = path.cast::<PyString>() {
            return Ok(Pem::File(path.to_cow()?.into_owned().into()));
        }
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a path (str or os.PathLike), PEM text (str) or PEM bytes, not {}",
        type_name(value)
    )))
}

/// `ca_bundle`, `ca_bundle_only`, `proxy`, `client_cert`, `client_key` as the
/// clients take them; `None` leaves a setting at its default.
pub fn settings<'py>(
    ca_bundle: Option<&Bound<'py, PyAny>>,
    ca_bundle_only: Option<&Bound<'py, PyAny>>,
    proxy: Option<&Bound<'py, PyAny>>,
    client_cert: Option<&Bound<'py, PyAny>>,
    client_key: Option<&Bound<'py, PyAny>>,
) -> PyResult<NetworkSettings> {
    fn given<'py>(v: Option<&Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
        v.filter(|v| !v.is_none()).cloned()
    }
    let mut settings = NetworkSettings::default();
    if let Some(bundle) = given(ca_bundle) {
        if bundle.is_instance_of::<PyList>() || bundle.is_instance_of::<PyTuple>() {
            for item in bundle.try_iter()? {
                settings.ca_bundles.push(pem("each ca_bundle", &item?)?);
            }
        } else {
            settings.ca_bundles.push(pem("ca_bundle", &bundle)?);
        }
    }
    if let Some(only) = given(ca_bundle_only) {
        settings.ca_bundle_only = boolean("ca_bundle_only", &only)?;
    }
    if settings.ca_bundles.is_empty() {
        // What Python's HTTP clients (requests, and so most SDKs and pip's
        // users) read, when no bundle is given: trusted besides the system's roots.
        settings.trust_environment_bundle(&PYTHON_CA_BUNDLE_VARIABLES);
    }
    if let Some(proxy) = given(proxy) {
        settings.proxy = match proxy.cast::<PyBool>() {
            Ok(b) if !b.is_true() => ProxySetting::Direct,
            _ => match proxy.cast::<PyString>() {
                Ok(url) => ProxySetting::Url(url.to_cow()?.into_owned()),
                Err(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "proxy must be a URL (str), False (connect directly) or None (HTTPS_PROXY and \
                         the like), not {}",
                        type_name(&proxy)
                    )))
                }
            },
        };
    }
    settings.client_certificate = match (given(client_cert), given(client_key)) {
        (Some(certificate), Some(key)) => Some(ClientCertificate {
            certificate: pem("client_cert", &certificate)?,
            key: pem("client_key", &key)?,
        }),
        (None, None) => None,
        (Some(one), None) | (None, Some(one)) => {
            let why = "client_cert and client_key go together: a certificate (chain) and its private key";
            return Err(to_pyerr(one.py(), &Error::Configuration(why.to_owned())));
        }
    };
    Ok(settings)
}

/// The settings as keyword arguments of `Client` again (PEM text: the core has
/// read every file), for `config()`.
pub fn arguments<'py>(
    py: Python<'py>,
    settings: &NetworkSettings,
    into: &Bound<'py, pyo3::types::PyDict>,
) -> PyResult<()> {
    let text = |pem: &Pem| match pem {
        Pem::Text(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Pem::File(path) => path.to_string_lossy().into_owned(),
    };
    let bundles: Vec<String> = settings.ca_bundles.iter().map(text).collect();
    into.set_item("ca_bundle", if bundles.is_empty() { None } else { Some(bundles) })?;
    into.set_item("ca_bundle_only", settings.ca_bundle_only)?;
    match &settings.proxy {
        ProxySetting::FromEnvironment => into.set_item("proxy", py.None())?,
        ProxySetting::Direct => into.set_item("proxy", false)?,
        ProxySetting::Url(url) => into.set_item("proxy", url)?,
    }
    let certificate = settings.client_certificate.as_ref();
    into.set_item("client_cert", certificate.map(|c| text(&c.certificate)))?;
    into.set_item("client_key", certificate.map(|c| text(&c.key)))?;
    Ok(())
}
