//! HTTPS for the sandbox, so that TLS settings (a private CA, mutual TLS) can be
//! tried locally. At start it makes a certificate authority of its own, signs a
//! server certificate for the names it answers on and, when mutual TLS is asked
//! for, a client certificate, and refuses handshakes without one. The CA and the
//! client's certificate and key are written as PEM files for clients to use.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::SandboxError;

/// How the sandbox serves HTTPS.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Refuse clients that show no certificate signed by the sandbox's CA.
    pub require_client_certificate: bool,
    /// Where the PEM files go (made if missing); a private temporary directory,
    /// removed when the sandbox stops, if `None`.
    pub directory: Option<PathBuf>,
    /// Host names the server certificate covers besides `localhost`, `127.0.0.1`,
    /// `::1` and the address the sandbox listens on (e.g. a container's name).
    pub names: Vec<String>,
}

/// What a client needs to reach a sandbox over TLS: every file is PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SandboxTls {
    /// The sandbox's certificate authority: the bundle to trust.
    pub ca_file: PathBuf,
    pub ca_certificate: String,
    /// The client certificate and key the sandbox accepts, when it requires one.
    pub client_certificate_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

/// The server side: the acceptor and the files it made.
pub(crate) struct Tls {
    pub acceptor: tokio_rustls::TlsAcceptor,
    pub files: SandboxTls,
    /// The temporary directory to remove when the sandbox stops.
    pub owned_directory: Option<PathBuf>,
}

impl Drop for Tls {
    fn drop(&mut self) {
        if let Some(directory) = &self.owned_directory {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}

pub(crate) fn start(settings: &TlsSettings, host: IpAddr) -> Result<Tls, SandboxError> {
    let failed = |what: &str, e: &dyn std::fmt::Display| SandboxError::Tls(format!("{what}: {e}"));
    let (directory, owned_directory) = match &settings.directory {
        Some(d) => (d.clone(), None),
        None => {
            let d = std::env::temp_dir().join(format!(
                "glair-vision-sandbox-tls-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            (d.clone(), Some(d))
        }
    };
    std::fs::create_dir_all(&directory)
        .map_err(|e| failed(&format!("cannot make {}", directory.display()), &e))?;

    let (ca_certificate, issuer) = authority().map_err(|e| failed("cannot make the CA", &e))?;

    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let host = (!host.is_unspecified()).then(|| host.to_string());
    for name in host.into_iter().chain(settings.names.iter().cloned()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let (server_certificate, server_key) =
        leaf(&issuer, names, "glair-vision sandbox", ExtendedKeyUsagePurpose::ServerAuth)
            .map_err(|e| failed("cannot make the server certificate", &e))?;

    let ca_file = directory.join("ca.pem");
    write(&ca_file, ca_certificate.pem().as_bytes(), false).map_err(|e| failed("cannot write the CA", &e))?;
    let mut files = SandboxTls {
        ca_file,
        ca_certificate: ca_certificate.pem(),
        client_certificate_file: None,
        client_key_file: None,
    };

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("TLS", &e))?;
    let builder = if settings.require_client_certificate {
        let (client_certificate, client_key) =
            leaf(&issuer, Vec::new(), "glair-vision sandbox client", ExtendedKeyUsagePurpose::ClientAuth)
                .map_err(|e| failed("cannot make the client certificate", &e))?;
        let (certificate_file, key_file) = (directory.join("client.pem"), directory.join("client-key.pem"));
        write(&certificate_file, client_certificate.pem().as_bytes(), false)
            .and_then(|()| write(&key_file, client_key.serialize_pem().as_bytes(), true))
            .map_err(|e| failed("cannot write the client certificate", &e))?;
        files.client_certificate_file = Some(certificate_file);
        files.client_key_file = Some(key_file);
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_certificate.der().clone()).map_err(|e| failed("CA", &e))?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| failed("client verifier", &e))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let key = PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    let chain: Vec<CertificateDer<'static>> = vec![server_certificate.der().clone()];
    let mut config = builder.with_single_cert(chain, key).map_err(|e| failed("server certificate", &e))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)), files, owned_directory })
}

/// A new certificate authority, and its issuer to sign with.
fn authority() -> Result<(rcgen::Certificate, Issuer<'static, KeyPair>), rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own: a client that trusts another sandbox's CA must not take
    // this one's certificates for that CA's (it would fail on the signature).
    let name = format!("glair-vision sandbox CA {:08x}", fastrand::u32(..));
    ca.distinguished_name.push(DnType::CommonName, name);
    ca.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let certificate = ca.self_signed(&ca_key)?;
    Ok((certificate, Issuer::new(ca, ca_key)))
}

/// A new CA and a server certificate it signs for `names`, as PEM: the CA's
/// certificate, the server's certificate and the server's key (for test servers
/// other than the sandbox, e.g. a redis-server over TLS).
pub(crate) fn server_pems(names: Vec<String>) -> Result<(String, String, String), rcgen::Error> {
    let (ca, issuer) = authority()?;
    let (certificate, key) =
        leaf(&issuer, names, "glair-vision test server", ExtendedKeyUsagePurpose::ServerAuth)?;
    Ok((ca.pem(), certificate.pem(), key.serialize_pem()))
}

/// A certificate the CA signs for `names`, with its new key: a server's or a client's (`usage`).
fn leaf(
    issuer: &Issuer<'_, KeyPair>,
    names: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
) -> Result<(rcgen::Certificate, KeyPair), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names)?;
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![usage];
    Ok((params.signed_by(&key, issuer)?, key))
}

/// Writes a file; a `private` one (a key) is made readable by its owner only.
fn write(path: &Path, data: &[u8], private: bool) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path); // a new file gets the mode below
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    #[cfg(not(unix))]
    let _ = private;
    std::io::Write::write_all(&mut options.open(path)?, data)
}
