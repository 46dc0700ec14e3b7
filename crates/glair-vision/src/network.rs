//! How a client reaches GLAIR through a corporate network: the certificate
//! authorities it trusts, the proxy it goes through, and the certificate it shows
//! a gateway that asks for one (mutual TLS). Read once, when the client is built.
//!
//! Without settings the client trusts the system's roots (on Linux these honour
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`) and takes its proxy from `HTTPS_PROXY`,
//! `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY`, as curl does.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// PEM text, or the file that holds it.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Text(Vec<u8>),
}

impl Pem {
    /// A setting as the bindings and the CLI take it: PEM text if it holds a PEM
    /// header (`-----BEGIN`), else a path.
    pub fn from_setting(setting: &str) -> Pem {
        if setting.contains("-----BEGIN") {
            Pem::Text(setting.as_bytes().to_vec())
        } else {
            Pem::File(PathBuf::from(setting))
        }
    }

    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Text(text) => Ok(text.clone()),
            Pem::File(path) => std::fs::read(path)
                .map_err(|e| Error::Configuration(format!("cannot read the {what} {}: {e}", path.display()))),
        }
    }
}

impl From<&str> for Pem {
    fn from(setting: &str) -> Pem {
        Pem::from_setting(setting)
    }
}

impl From<String> for Pem {
    fn from(setting: String) -> Pem {
        Pem::from_setting(&setting)
    }
}

impl From<&Path> for Pem {
    fn from(path: &Path) -> Pem {
        Pem::File(path.to_owned())
    }
}

impl From<PathBuf> for Pem {
    fn from(path: PathBuf) -> Pem {
        Pem::File(path)
    }
}

impl From<Vec<u8>> for Pem {
    fn from(text: Vec<u8>) -> Pem {
        Pem::Text(text)
    }
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({})", path.display()),
            Pem::Text(text) => write!(f, "Text(<{} bytes>)", text.len()),
        }
    }
}

/// Where the client's connections go.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (the default).
    #[default]
    FromEnvironment,
    /// Straight to the server, whatever the environment says.
    Direct,
    /// Through this proxy (`http://`, `https://`, `socks5://` or `socks5h://`, with
    /// `user:password@` if it wants them), except for the hosts in `NO_PROXY`.
    Url(String),
}

impl fmt::Debug for ProxySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxySetting::FromEnvironment => f.write_str("FromEnvironment"),
            ProxySetting::Direct => f.write_str("Direct"),
            ProxySetting::Url(url) => write!(f, "Url({})", redact_url(url)),
        }
    }
}

/// The client certificate and its private key (PEM). `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    pub certificate: Pem,
    pub key: Pem,
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("certificate", &self.certificate)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Trust, proxy and client certificate of one client. See the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Certificate authorities trusted besides the system's roots (or instead of
    /// them, with `ca_bundle_only`).
    pub ca_bundles: Vec<Pem>,
    /// Trust only `ca_bundles`, not the system's roots.
    pub ca_bundle_only: bool,
    pub proxy: ProxySetting,
    pub client_certificate: Option<ClientCertificate>,
}

impl NetworkSettings {
    /// The CA bundles' PEM text, of settings [`NetworkSettings::apply`] resolved.
    pub(crate) fn ca_bundle_texts(&self) -> Vec<Vec<u8>> {
        self.ca_bundles
            .iter()
            .filter_map(|b| match b {
                Pem::Text(text) => Some(text.clone()),
                Pem::File(_) => None,
            })
            .collect()
    }

    /// Applies the settings to an HTTP client being built, reading each file once.
    /// A bundle, proxy or certificate that cannot be used is an
    /// [`Error::Configuration`] naming it. Also returns the same settings with
    /// every file's PEM in place of its path: what a client keeps, so that a copy
    /// of it (after `fork`, on a Dask or Spark worker) needs none of the files.
    pub(crate) fn apply(
        &self,
        mut http: reqwest::ClientBuilder,
    ) -> Result<(reqwest::ClientBuilder, NetworkSettings)> {
        let mut resolved = NetworkSettings {
            ca_bundle_only: self.ca_bundle_only,
            proxy: self.proxy.clone(),
            ..Default::default()
        };
        let mut roots = Vec::new();
        for bundle in &self.ca_bundles {
            let pem = bundle.read("CA bundle")?;
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| Error::Configuration(format!("the CA bundle {bundle:?} is not PEM: {e}")))?;
            if certificates.is_empty() {
                return Err(Error::Configuration(format!("the CA bundle {bundle:?} holds no certificate")));
            }
            roots.extend(certificates);
            resolved.ca_bundles.push(Pem::Text(pem));
        }
        if self.ca_bundle_only {
            if roots.is_empty() {
                return Err(Error::Configuration(
                    "ca_bundle_only needs a CA bundle: without one no server could be trusted".to_owned(),
                ));
            }
            http = http.tls_certs_only(roots);
        } else if !roots.is_empty() {
            http = http.tls_certs_merge(roots);
        }
        if let Some(client) = &self.client_certificate {
            let (certificate, key) =
                (client.certificate.read("client certificate")?, client.key.read("client key")?);
            let mut pem = certificate.clone();
            pem.push(b'\n');
            pem.extend_from_slice(&key);
            // reqwest's message may quote what it could not parse: not the key.
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                Error::Configuration(
                    "the client certificate and key are not a PEM certificate chain and a PEM private key"
                        .to_owned(),
                )
            })?;
            http = http.identity(identity);
            resolved.client_certificate =
                Some(ClientCertificate { certificate: Pem::Text(certificate), key: Pem::Text(key) });
        }
        match &self.proxy {
            ProxySetting::FromEnvironment => {}
            ProxySetting::Direct => http = http.no_proxy(),
            ProxySetting::Url(url) => {
                let invalid =
                    |why: &str| Error::Configuration(format!("invalid proxy {}: {why}", redact_url(url)));
                let parsed = reqwest::Url::parse(url).map_err(|e| invalid(&e.to_string()))?;
                if !matches!(parsed.scheme(), "http" | "https" | "socks5" | "socks5h") {
                    return Err(invalid("the scheme must be http, https, socks5 or socks5h"));
                }
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(invalid("no host"));
                }
                let proxy = reqwest::Proxy::all(parsed).map_err(|_| invalid("not usable"))?;
                http = http.proxy(proxy.no_proxy(reqwest::NoProxy::from_env()));
            }
        }
        Ok((http, resolved))
    }

    /// Trusts, besides the system's roots, the bundle that a language's own
    /// environment convention names, as that language's HTTP clients read it:
    /// the first of `variables` set to a non-empty path (Node's
    /// `NODE_EXTRA_CA_CERTS`; Python's `REQUESTS_CA_BUNDLE`, then
    /// `CURL_CA_BUNDLE`). A file that cannot be read is skipped with a warning
    /// (a stale variable must not stop a service that needs no private CA);
    /// nothing is added when the caller trusts its own bundles only.
    pub fn trust_environment_bundle(&mut self, variables: &[&str]) {
        if self.ca_bundle_only {
            return;
        }
        let Some((variable, path)) =
            variables.iter().find_map(|v| std::env::var_os(v).filter(|p| !p.is_empty()).map(|p| (*v, p)))
        else {
            return;
        };
        match std::fs::read(&path) {
            Ok(text) => self.ca_bundles.push(Pem::Text(text)),
            Err(e) => tracing::warn!(
                path = %Path::new(&path).display(), error = %e,
                "ignoring {variable}: the file cannot be read"
            ),
        }
    }

    /// What error messages must not show: the proxy's credentials, as a URL
    /// holds them, then each alone unless so short that taking it out of a
    /// message would take out ordinary words.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let ProxySetting::Url(url) = &self.proxy else { return Vec::new() };
        let Ok(parsed) = reqwest::Url::parse(url) else { return Vec::new() };
        let (user, password) = (parsed.username(), parsed.password().unwrap_or(""));
        if user.is_empty() && password.is_empty() {
            return Vec::new();
        }
        let mut secrets = vec![format!("{user}:{password}@"), format!("{user}@")];
        secrets.extend([password, user].into_iter().filter(|s| s.len() >= 4).map(str::to_owned));
        secrets
    }
}

/// A URL with its user and password replaced by `<redacted>`.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("redacted");
            let _ = parsed.set_password(None);
            parsed.to_string().replacen("redacted@", "<redacted>@", 1)
        }
        Ok(parsed) => parsed.to_string(),
        // Unparsable: show no part of it that could be a credential.
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("<redacted>@{host}"),
            None => url.to_owned(),
        },
    }
}

/// A TLS failure found in an error's chain: what to do about it, and whether it
/// ended the handshake (so the server cannot have read the request).
pub(crate) struct TlsFailure {
    pub advice: &'static str,
    pub in_handshake: bool,
}

pub(crate) fn tls_failure(error: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    use rustls::{AlertDescription as Alert, CertificateError};
    let mut source = Some(error);
    while let Some(e) = source {
        // io::Error's source() skips the error it wraps: look at that one too.
        let wrapped = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| wrapped.and_then(|w| w.downcast_ref()));
        if let Some(tls) = tls {
            let (advice, in_handshake) = match tls {
                rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => (
                    "the server's certificate was issued by an authority this client does not trust: \
                     set a CA bundle (ca_bundle, caBundle, --ca-bundle) or SSL_CERT_FILE",
                    true,
                ),
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                ) => ("the server's certificate is not for this host name: check the base URL", true),
                rustls::Error::InvalidCertificate(
                    CertificateError::Expired | CertificateError::ExpiredContext { .. },
                ) => ("the server's certificate has expired (or this machine's clock is wrong)", true),
                rustls::Error::InvalidCertificate(_) => {
                    ("the server's certificate could not be verified: check the CA bundle and the base URL", true)
                }
                // With TLS 1.3 a server refuses a client's certificate (or its
                // absence) after the client thinks the handshake done, before
                // reading any request.
                rustls::Error::AlertReceived(
                    Alert::CertificateRequired
                    | Alert::BadCertificate
                    | Alert::UnknownCA
                    | Alert::UnsupportedCertificate
                    | Alert::CertificateRevoked
                    | Alert::CertificateExpired
                    | Alert::CertificateUnknown
                    | Alert::HandshakeFailure,
                ) => (
                    "the server refused the TLS handshake, as gateways that require a client certificate do: \
                     set a client certificate and key the server trusts",
                    true,
                ),
                _ => ("the TLS connection failed", false),
            };
            return Some(TlsFailure { advice, in_handshake });
        }
        source = e.source().or(wrapped.map(|w| w as &(dyn std::error::Error + 'static)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_tell_pem_text_from_a_path() {
        assert_eq!(Pem::from_setting("/etc/ssl/corp.pem"), Pem::File("/etc/ssl/corp.pem".into()));
        let text = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert_eq!(Pem::from_setting(text), Pem::Text(text.as_bytes().to_vec()));
    }

    #[test]
    fn debug_shows_no_credential_or_key() {
        let settings = NetworkSettings {
            proxy: ProxySetting::Url("http://alice:s3cret@proxy.corp:3128".into()),
            client_certificate: Some(ClientCertificate {
                certificate: Pem::File("client.pem".into()),
                key: Pem::Text(b"-----BEGIN PRIVATE KEY-----\nKEYBYTES\n".to_vec()),
            }),
            ..NetworkSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("alice") && !shown.contains("KEYBYTES"),
            "{shown}"
        );
        assert!(shown.contains("proxy.corp:3128") && shown.contains("<redacted>"), "{shown}");
        assert_eq!(settings.secrets(), ["alice:s3cret@", "alice@", "s3cret", "alice"]);
    }

    #[test]
    fn redacted_urls_keep_the_host() {
        assert_eq!(redact_url("http://u:p@proxy:3128"), "http://<redacted>@proxy:3128/");
        assert_eq!(redact_url("http://proxy:3128"), "http://proxy:3128/");
        assert_eq!(redact_url("not a url u:p@host"), "<redacted>@host");
    }

    #[test]
    fn unusable_settings_are_configuration_errors() {
        let build =
            |s: NetworkSettings| s.apply(reqwest::Client::builder()).map(|_| ()).unwrap_err().to_string();
        let proxy =
            |url: &str| NetworkSettings { proxy: ProxySetting::Url(url.into()), ..Default::default() };
        assert!(build(proxy("ftp://u:pw@proxy:21")).contains("scheme"));
        assert!(!build(proxy("ftp://u:pw@proxy:21")).contains("pw"));
        assert!(build(proxy("not a url")).contains("invalid proxy"));
        let bundle = |pem: Pem| NetworkSettings { ca_bundles: vec![pem], ..Default::default() };
        assert!(build(bundle(Pem::File("/nonexistent/ca.pem".into()))).contains("cannot read the CA bundle"));
        assert!(build(bundle(Pem::Text(b"no certificate here".to_vec()))).contains("holds no certificate"));
        let only = NetworkSettings { ca_bundle_only: true, ..Default::default() };
        assert!(build(only).contains("needs a CA bundle"));
        let key = NetworkSettings {
            client_certificate: Some(ClientCertificate {
                certificate: Pem::Text(b"junk".to_vec()),
                key: Pem::Text(b"SECRETKEY".to_vec()),
            }),
            ..Default::default()
        };
        let message = build(key);
        assert!(message.contains("client certificate") && !message.contains("SECRETKEY"), "{message}");
    }
}
