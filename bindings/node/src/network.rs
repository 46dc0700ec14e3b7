//! Network settings from a `Vision`'s options: conversion only (the core reads
//! the files and checks what they hold), plus Node's own `NODE_EXTRA_CA_CERTS`.

use glair_vision::network::{ClientCertificate, NetworkSettings, Pem, ProxySetting};
use glair_vision::Error;
use serde_json::{Map, Value};

use crate::convert::{js_type, opt_bool};
use crate::errors::config_error;

/// The options this module reads.
pub const NETWORK_KEYS: [&str; 5] = ["caBundle", "caBundleOnly", "proxy", "clientCert", "clientKey"];

/// Node's setting for more trusted CAs, read as Node reads it: besides the
/// system's roots, and a file that cannot be read is skipped with a warning.
const NODE_EXTRA_CA_CERTS: &str = "NODE_EXTRA_CA_CERTS";

/// A PEM setting: a path or PEM text (a string), or a `Buffer` (which arrives
/// as JSON's `{ type: 'Buffer', data: [...] }`).
fn pem(key: &str, value: &Value) -> Result<Pem, Error> {
    let bad = || {
        config_error(format!("option `{key}` must be a path, PEM text or a Buffer, not {}", js_type(value)))
    };
    match value {
        Value::String(s) => Ok(Pem::from_setting(s)),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("Buffer") => {
            let bytes = o.get("data").and_then(Value::as_array).ok_or_else(bad)?;
            let bytes: Option<Vec<u8>> =
                bytes.iter().map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect();
            Ok(Pem::Text(bytes.ok_or_else(bad)?))
        }
        _ => Err(bad()),
    }
}

pub fn settings(obj: &Map<String, Value>) -> Result<NetworkSettings, Error> {
    let given = |key: &str| obj.get(key).filter(|v| !v.is_null());
    let mut settings = NetworkSettings::default();
    match given("caBundle") {
        Some(Value::Array(items)) => {
            for item in items {
                settings.ca_bundles.push(pem("caBundle", item)?);
            }
        }
        Some(one) => settings.ca_bundles.push(pem("caBundle", one)?),
        None => {}
    }
    settings.ca_bundle_only = opt_bool(obj, "caBundleOnly")?.unwrap_or(false);
    settings.trust_environment_bundle(&[NODE_EXTRA_CA_CERTS]);
    settings.proxy = match given("proxy") {
        None => ProxySetting::FromEnvironment,
        Some(Value::Bool(false)) => ProxySetting::Direct,
        Some(Value::String(url)) => ProxySetting::Url(url.clone()),
        Some(other) => {
            return Err(config_error(format!(
                "option `proxy` must be a URL, false (connect directly) or unset (HTTPS_PROXY and the like), not {}",
                js_type(other)
            )))
        }
    };
    settings.client_certificate =
        match (given("clientCert"), given("clientKey")) {
            (Some(certificate), Some(key)) => Some(ClientCertificate {
                certificate: pem("clientCert", certificate)?,
                key: pem("clientKey", key)?,
            }),
            (None, None) => None,
            _ => return Err(config_error(
                "options `clientCert` and `clientKey` go together: a certificate (chain) and its private key",
            )),
        };
    Ok(settings)
}
