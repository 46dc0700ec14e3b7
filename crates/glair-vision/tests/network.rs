//! Corporate networks: a private CA (the sandbox over TLS), mutual TLS, and an
//! HTTP proxy the test starts. Its own test binary: it clears the proxy
//! variables of the environment it runs in, before any client reads them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Once};

use base64::Engine as _;
use glair_vision::{ErrorKind, VerificationRequest, Vision};
use glair_vision_sandbox::{Sandbox, SandboxConfig, TlsSettings};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

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

/// What the proxy was asked.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    target: String,
    authorization: Option<String>,
}

/// A small HTTP proxy: CONNECT tunnels (for https://) and absolute-form requests
/// (for http://), answering 407 unless the client sends `credentials`.
struct TestProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestProxy {
    async fn start(credentials: Option<&str>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let expected =
            credentials.map(|c| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c)));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(proxy_connection(stream, expected.clone(), log.clone()));
            }
        });
        TestProxy { addr, seen }
    }

    fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn proxy_connection(stream: TcpStream, expected: Option<String>, log: Arc<Mutex<Vec<Seen>>>) {
    let mut client = BufReader::new(stream);
    let mut head = String::new();
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
    log.lock().unwrap().push(Seen {
        method: method.clone(),
        target: target.clone(),
        authorization: authorization.clone(),
    });
    if expected.is_some() && authorization != expected {
        let refusal =
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"corp\"\r\n\
                       Content-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = client.get_mut().write_all(refusal.as_bytes()).await;
        return;
    }
    let authority = if method == "CONNECT" {
        target.clone()
    } else {
        let rest = target.split_once("://").map_or(target.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or("").to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = client.get_mut().write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    if method == "CONNECT" {
        if client.get_mut().write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await.is_err() {
            return;
        }
    } else if upstream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    // What the reader holds beyond the head (a body, a TLS hello) goes first.
    let buffered = client.buffer().to_vec();
    if upstream.write_all(&buffered).await.is_err() {
        return;
    }
    let mut client = client.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test]
async fn calls_go_through_the_proxy_with_its_credentials() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let proxy = TestProxy::start(Some("alice:s3cret-pw")).await;
    let vision = sb.vision_builder().proxy(proxy.url("alice:s3cret-pw@")).build().unwrap();
    assert!(vision.identity().verification(&request()).await.unwrap().verification_status);
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, sb.addr().to_string());
    assert_eq!(sb.received().len(), 1);

    // Plain HTTP is forwarded in absolute form.
    let plain = sandbox(None).await;
    let vision = plain.vision_builder().proxy(proxy.url("alice:s3cret-pw@")).build().unwrap();
    assert!(vision.identity().verification(&request()).await.is_ok());
    let last = proxy.seen().pop().unwrap();
    assert_eq!((last.method.as_str(), last.target.starts_with(plain.url())), ("POST", true), "{last:?}");
    assert!(last.authorization.is_some());
}

#[tokio::test]
async fn a_proxy_that_refuses_is_an_error_without_its_credentials() {
    let sb = sandbox(Some(TlsSettings::default())).await;
    let proxy = TestProxy::start(Some("alice:right-password")).await;
    let url = proxy.url("alice:wrong-password@");
    let vision = sb.vision_builder().proxy(url.as_str()).max_retries(0).build().unwrap();
    let err = vision.identity().verification(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connection, "{err}");
    let message = err.to_string();
    assert!(!message.contains("wrong-password"), "{message}");
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
}
