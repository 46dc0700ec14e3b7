//! Corporate networks: a private CA (the sandbox over TLS), mutual TLS, and an
//! HTTP proxy the test starts. Its own test binary: it clears the proxy
//! variables of the environment it runs in, before any client reads them.

use std::sync::Once;

use glair_vision::{ErrorKind, VerificationRequest, Vision};
use glair_vision_sandbox::proxy::ForwardProxy;
use glair_vision_sandbox::{Sandbox, SandboxConfig, TlsSettings};
use tokio::net::TcpListener;

fn clean_environment() {
    static CLEAN: Once = Once::new();
    CLEAN.call_once(|| {
        for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
            std::env::remove_var(var);
        }
        for var in ["NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
            std::env::remove_var(var);
        }
    });
}

async fn sandbox(tls: Option<TlsSettings>) -> Sandbox {
    clean_environment();
    Sandbox::start(SandboxConfig { tls, ..Default::default() }).await.unwrap()
}

fn request() -> VerificationRequest {
    VerificationRequest::new("3171014508900001").name("SITI RAHAYU")
}

/// A client for `sandbox` with its credentials and URL but no TLS settings.
fn bare(sandbox: &Sandbox) -> glair_vision::VisionBuilder {
    Vision::builder().read_env(false).credentials(sandbox.credentials().clone()).base_url(sandbox.url())
}

#[tokio::test]
async fn the_sandbox_serves_https_with_a_ca_it_makes() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    assert!(sb.url().starts_with("https://127.0.0.1:"), "{}", sb.url());
    let tls = sb.tls().unwrap().clone();
    assert_eq!(std::fs::read_to_string(&tls.ca_file).unwrap(), tls.ca_certificate);

    // Each way of giving the bundle: PEM text, a path, the path as a string, only it.
    for vision in [
        sb.vision_builder().build().unwrap(),
        bare(&sb).ca_bundle(tls.ca_file.clone()).build().unwrap(),
        bare(&sb).ca_bundle(tls.ca_file.to_str().unwrap()).build().unwrap(),
        bare(&sb).ca_bundle(tls.ca_file.clone()).ca_bundle_only(true).build().unwrap(),
        // The certificate covers localhost too.
        bare(&sb)
            .base_url(format!("https://localhost:{}", sb.addr().port()))
            .ca_bundle(tls.ca_file.clone())
            .build()
            .unwrap(),
    ] {
        let verification = vision.identity().verification(&request()).await.unwrap();
        assert!(verification.verification_status);
    }
    assert_eq!(sb.received().len(), 5);

    // The files are the sandbox's: gone when it stops.
    drop(sb);
    assert!(!tls.ca_file.exists());
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_connection_error_that_says_what_to_do() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let other = sandbox(Some(TlsSettings::default())).await;
    let system_roots = bare(&sb).build().unwrap();
    let wrong_ca = bare(&sb).ca_bundle(other.tls().unwrap().ca_certificate.clone()).build().unwrap();
    for vision in [system_roots, wrong_ca] {
        let err = vision.identity().verification(&request()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
        let message = err.to_string();
        assert!(message.contains("does not trust") && message.contains("ca_bundle"), "{message}");
        assert!(message.contains("UnknownIssuer"), "the cause stays in the message: {message}");
        // Refused in the handshake: the server never saw the call (it cannot have
        // been billed), and retrying cannot mend it.
        let glair_vision::Error::Connection(transport) = &err else { unreachable!() };
        assert!(!transport.request_sent && transport.permanent && !err.is_retryable(), "{err}");
    }
    assert!(sb.received().is_empty());
}

#[tokio::test]
async fn mutual_tls_needs_the_client_certificate() {
    let settings = TlsSettings { require_client_certificate: true, ..Default::default() };
    let sb = sandbox(Some(settings)).await;
    let tls = sb.tls().unwrap().clone();
    let (certificate, key) =
        (tls.client_certificate_file.clone().unwrap(), tls.client_key_file.clone().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let with = bare(&sb).ca_bundle(tls.ca_file.clone()).client_certificate(certificate.clone(), key.clone());
    assert!(with.build().unwrap().identity().verification(&request()).await.unwrap().verification_status);
    assert!(sb.vision_builder().build().unwrap().identity().verification(&request()).await.is_ok());

    let without = bare(&sb).ca_bundle(tls.ca_file.clone()).build().unwrap();
    let err = without.identity().verification(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(err.to_string().contains("client certificate") && !err.is_retryable(), "{err}");
    assert_eq!(sb.received().len(), 2, "the call without a certificate never reached the endpoint");

    // A key that is not the certificate's is refused when the client is built.
    let other = sandbox(Some(TlsSettings { require_client_certificate: true, ..Default::default() })).await;
    let wrong_key = other.tls().unwrap().client_key_file.clone().unwrap();
    let err = bare(&sb).client_certificate(certificate, wrong_key).build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
}

#[tokio::test]
async fn calls_go_through_the_proxy_with_its_credentials() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let proxy = ForwardProxy::start(Some("alice:s3cret-pw")).await.unwrap();
    let vision = sb.vision_builder().proxy(proxy.url("alice:s3cret-pw@")).build().unwrap();
    assert!(vision.identity().verification(&request()).await.unwrap().verification_status);
    let seen = proxy.received();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!((seen[0].method.as_str(), seen[0].authorized), ("CONNECT", true));
    assert_eq!(seen[0].target, sb.addr().to_string());
    assert_eq!(sb.received().len(), 1);

    // Plain HTTP is forwarded in absolute form.
    let plain = sandbox(None).await;
    let vision = plain.vision_builder().proxy(proxy.url("alice:s3cret-pw@")).build().unwrap();
    assert!(vision.identity().verification(&request()).await.is_ok());
    let last = proxy.received().pop().unwrap();
    assert_eq!((last.method.as_str(), last.authorized), ("POST", true), "{last:?}");
    assert!(last.target.starts_with(plain.url()), "{last:?}");

    // no_proxy() goes direct.
    let direct = sb.vision_builder().no_proxy().build().unwrap();
    assert!(direct.identity().verification(&request()).await.is_ok());
    assert_eq!(proxy.received().len(), 2);
}

#[tokio::test]
async fn socks5_proxies_with_and_without_credentials() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let open = ForwardProxy::start(None).await.unwrap();
    let guarded = ForwardProxy::start(Some("carol:s0cks-pw")).await.unwrap();
    for (url, proxy) in [
        (format!("socks5://{}", open.addr()), &open),
        (format!("socks5h://{}", open.addr()), &open),
        (format!("socks5://carol:s0cks-pw@{}", guarded.addr()), &guarded),
    ] {
        let before = proxy.received().len();
        let vision = sb.vision_builder().proxy(url.as_str()).build().unwrap();
        assert!(vision.identity().verification(&request()).await.unwrap().verification_status, "{url}");
        let asked = proxy.received();
        assert_eq!(asked.len(), before + 1, "{url}: {asked:?}");
        assert_eq!((asked[before].method.as_str(), asked[before].authorized), ("SOCKS5", true), "{url}");
        assert_eq!(asked[before].target, sb.addr().to_string(), "{url}");
    }
    let wrong =
        sb.vision_builder().proxy(format!("socks5://carol:bad-s0cks@{}", guarded.addr())).max_retries(0);
    let err = wrong.build().unwrap().identity().verification(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(!err.to_string().contains("bad-s0cks"), "{err}");
    assert_eq!(sb.received().len(), 3);
}

#[tokio::test]
async fn a_proxy_that_refuses_is_an_error_without_its_credentials() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let proxy = ForwardProxy::start(Some("alice:right-password")).await.unwrap();
    let url = proxy.url("alice:wrong-password@");
    let vision = sb.vision_builder().proxy(url.as_str()).max_retries(0).build().unwrap();
    let err = vision.identity().verification(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let message = err.to_string();
    assert!(message.contains("proxy authorization required"), "{message}");
    assert!(!message.contains("wrong-password"), "{message}");
    assert!(!proxy.received()[0].authorized);
    assert!(sb.received().is_empty());
    let shown = format!("{vision:?}");
    assert!(!shown.contains("wrong-password"), "{shown}");

    // Nothing listening where the proxy should be.
    let gone = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let vision =
        sb.vision_builder().proxy(format!("http://bob:pw-9f2@{gone}")).max_retries(0).build().unwrap();
    let err = vision.identity().verification(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    assert!(!err.to_string().contains("pw-9f2"), "{err}");
}

#[tokio::test]
async fn bad_network_settings_are_refused_when_the_client_is_built() {
    clean_environment();
    let builder = || Vision::builder().read_env(false).api_key("k").username("u").password("p");
    for (builder, expected) in [
        (builder().proxy("ftp://proxy:21"), "scheme"),
        (builder().proxy("http://"), "invalid proxy"),
        (builder().ca_bundle("/nonexistent/corp-ca.pem"), "/nonexistent/corp-ca.pem"),
        (builder().ca_bundle_only(true), "needs a CA bundle"),
        (
            builder().client_certificate("/nonexistent/client.pem", "/nonexistent/key.pem"),
            "client certificate",
        ),
    ] {
        let err = builder.build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    // A file that holds no certificate: the message names the file, not its bytes.
    let junk = std::env::temp_dir().join(format!("glair-vision-not-a-bundle-{}.pem", std::process::id()));
    std::fs::write(&junk, "no certificate here").unwrap();
    let err = builder().ca_bundle(junk.clone()).build().unwrap_err();
    std::fs::remove_file(&junk).unwrap();
    assert_eq!(err.kind(), ErrorKind::Configuration, "{err}");
    assert!(err.to_string().contains("holds no certificate"), "{err}");
    assert!(err.to_string().contains(&*junk.to_string_lossy()), "{err}");
}
