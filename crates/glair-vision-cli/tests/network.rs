//! Corporate networks from the command line: the sandbox over TLS (and mutual
//! TLS), --ca-bundle and SSL_CERT_FILE, --proxy, HTTPS_PROXY, NO_PROXY and
//! --no-proxy, against the sandbox's forward proxy.

mod common;

use std::process::{Command, Output};

use common::*;
use glair_vision_sandbox::proxy::ForwardProxy;
use glair_vision_sandbox::{SandboxConfig, TlsSettings};

/// The binary with none of the network variables of the environment it runs in.
fn network_cli() -> Command {
    let mut cmd = cli();
    for var in ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"] {
        cmd.env_remove(var);
    }
    for var in ["NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR"] {
        cmd.env_remove(var);
    }
    cmd
}

fn verify(flags: &[String], extra: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = network_cli();
    cmd.args(["verify", "--nik", "3171014508900001", "--name", "SITI RAHAYU"]).args(flags).args(extra);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn said(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(out))
}

fn tls_sandbox(settings: TlsSettings) -> TestSandbox {
    TestSandbox::start(SandboxConfig { tls: Some(settings), ..Default::default() })
}

#[test]
fn ca_bundle_and_ssl_cert_file_trust_the_sandboxs_ca() {
    let ts = tls_sandbox(TlsSettings::default());
    let ca = ts.sb().tls().unwrap().ca_file.to_str().unwrap().to_owned();
    let flags = ts.flags();

    let untrusted = verify(&flags, &[], &[]);
    assert_eq!(code(&untrusted), 3, "{}", said(&untrusted));
    assert!(said(&untrusted).contains("--ca-bundle") && said(&untrusted).contains("SSL_CERT_FILE"));

    for (extra, env) in [
        (vec!["--ca-bundle", ca.as_str()], vec![]),
        (vec!["--ca-bundle", ca.as_str(), "--ca-bundle-only"], vec![]),
        (vec![], vec![("SSL_CERT_FILE", ca.as_str())]),
    ] {
        let out = verify(&flags, &extra, &env);
        assert_eq!(code(&out), 0, "{extra:?} {env:?}: {}", said(&out));
    }
    // Only the bundle: SSL_CERT_FILE no longer counts.
    let other = tls_sandbox(TlsSettings::default());
    let other_ca = other.sb().tls().unwrap().ca_file.to_str().unwrap().to_owned();
    let out = verify(&flags, &["--ca-bundle", &other_ca, "--ca-bundle-only"], &[("SSL_CERT_FILE", &ca)]);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert_eq!(ts.sb().received().len(), 3);

    let usage = verify(&flags, &["--ca-bundle-only"], &[]);
    assert_eq!(code(&usage), 2, "{}", said(&usage));
    let missing = verify(&flags, &["--ca-bundle", "/nonexistent/corp.pem"], &[]);
    assert_eq!(code(&missing), 4, "{}", said(&missing));
    assert!(said(&missing).contains("/nonexistent/corp.pem"), "{}", said(&missing));
}

#[test]
fn the_sandbox_command_serves_mutual_tls_and_writes_its_files() {
    let dir = scratch("sandbox-tls");
    let dir_arg = dir.to_str().unwrap();
    let (mut child, url, mut lines) = spawn_sandbox(&["--tls", "--tls-client-auth", "--tls-dir", dir_arg]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let end = line.starts_with("press Ctrl-C");
        printed.push(line);
        if end {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    let file = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let (ca, certificate, key) = (file("ca.pem"), file("client.pem"), file("client-key.pem"));
    assert!(printed.contains(&format!("ca file:  {ca}")), "{printed:?}");
    let try_line = printed.iter().find(|l| l.starts_with("try:")).unwrap();
    assert!(try_line.contains(&format!("--ca-bundle {ca} --client-cert {certificate} --client-key {key}")));

    let flags: Vec<String> = ["--base-url", &url, "--api-key", glair_vision_sandbox::DEFAULT_API_KEY]
        .into_iter()
        .chain(["--username", glair_vision_sandbox::DEFAULT_USERNAME])
        .chain(["--password", glair_vision_sandbox::DEFAULT_PASSWORD])
        .map(str::to_owned)
        .collect();
    let out = verify(&flags, &["--ca-bundle", &ca, "--client-cert", &certificate, "--client-key", &key], &[]);
    assert_eq!(code(&out), 0, "{}", said(&out));
    let refused = verify(&flags, &["--ca-bundle", &ca], &[]);
    assert_eq!(code(&refused), 3, "{}", said(&refused));
    assert!(said(&refused).contains("client certificate"), "{}", said(&refused));
    let half = verify(&flags, &["--ca-bundle", &ca, "--client-cert", &certificate], &[]);
    assert_eq!(code(&half), 2, "--client-cert needs --client-key: {}", said(&half));

    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    assert!(dir.join("ca.pem").exists(), "a --tls-dir is the user's: kept");
}

#[test]
fn proxies_from_flags_and_the_environment() {
    let ts = tls_sandbox(TlsSettings::default());
    let proxy = ts.runtime.block_on(ForwardProxy::start(Some("corp:pa55-w0rd"))).unwrap();
    let ca = ts.sb().tls().unwrap().ca_file.to_str().unwrap().to_owned();
    let mut flags = ts.flags();
    flags.extend(["--ca-bundle".to_owned(), ca]);
    let good = proxy.url("corp:pa55-w0rd@");
    let used = |before: usize| proxy.received().len() > before;

    // Flags, environment, whether the call goes through the proxy.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, bool);
    let cases: Vec<Case> = vec![
        (vec!["--proxy", &good], vec![], true),
        (vec![], vec![("HTTPS_PROXY", &good)], true),
        (vec![], vec![("https_proxy", &good)], true),
        (vec![], vec![("ALL_PROXY", &good)], true),
        (vec!["--no-proxy"], vec![("HTTPS_PROXY", &good)], false),
        (vec![], vec![("HTTPS_PROXY", &good), ("NO_PROXY", "127.0.0.1")], false),
        (vec!["--proxy", &good], vec![("NO_PROXY", "127.0.0.1")], false),
    ];
    for (extra, env, through_proxy) in cases {
        let before = proxy.received().len();
        let out = verify(&flags, &extra, &env);
        assert_eq!(code(&out), 0, "{extra:?} {env:?}: {}", said(&out));
        assert_eq!(used(before), through_proxy, "{extra:?} {env:?}");
    }
    assert!(proxy.received().iter().all(|r| r.method == "CONNECT" && r.authorized));

    let wrong = proxy.url("corp:not-the-pa55@");
    let out = verify(&flags, &["--proxy", &wrong, "--max-retries", "0"], &[]);
    assert_eq!(code(&out), 3, "{}", said(&out));
    assert!(said(&out).contains("proxy authorization required"), "{}", said(&out));
    assert!(!said(&out).contains("not-the-pa55"), "{}", said(&out));
    let bad = verify(&flags, &["--proxy", "ftp://corp:secret-ftp@proxy:21"], &[]);
    assert_eq!(code(&bad), 4, "{}", said(&bad));
    assert!(!said(&bad).contains("secret-ftp"), "{}", said(&bad));
    let both = verify(&flags, &["--proxy", &good, "--no-proxy"], &[]);
    assert_eq!(code(&both), 2, "{}", said(&both));
}
