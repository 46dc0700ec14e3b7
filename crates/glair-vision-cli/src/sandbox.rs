//! `glair-vision sandbox`, and the client every command builds (real API or, only
//! when `--sandbox` is given, an in-process sandbox).

use std::io::Write;
use std::time::Duration;

use glair_vision::{Credentials, Error, Field, Vision, VisionBuilder};
use glair_vision_sandbox::{Sandbox, SandboxConfig, TlsSettings};

use crate::args::{ClientArgs, SandboxArgs};
use crate::output::{EXIT_API, EXIT_INPUT, EXIT_OK};
use crate::signals::Shutdown;

/// A configured client, and the in-process sandbox it talks to (if any).
pub struct Client {
    pub vision: Vision,
    sandbox: Option<Sandbox>,
}

impl Client {
    pub fn sandbox_url(&self) -> Option<&str> {
        self.sandbox.as_ref().map(|s| s.url())
    }

    pub async fn shutdown(self) {
        if let Some(sb) = self.sandbox {
            sb.stop().await;
        }
    }
}

/// Builds the client from flags, then the GLAIR_* environment. Without credentials
/// this is a configuration error: it never falls back to the sandbox.
pub async fn client(args: &ClientArgs) -> Result<Client, Error> {
    let (builder, sandbox) = if args.sandbox {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .map_err(|e| Error::Configuration(format!("cannot start the in-process sandbox: {e}")))?;
        (sandbox.vision_builder(), Some(sandbox))
    } else {
        let mut b = Vision::builder().read_env(true);
        if let Some(v) = &args.api_key {
            b = b.api_key(v);
        }
        if let Some(v) = &args.username {
            b = b.username(v);
        }
        if let Some(v) = &args.password {
            b = b.password(v);
        }
        if let Some(v) = &args.base_url {
            b = b.base_url(v);
        }
        (b, None)
    };
    let vision = apply(builder, args).build().map_err(|e| match e {
        Error::Configuration(msg) if !args.sandbox => Error::Configuration(format!(
            "{msg} (flags: --api-key, --username, --password; or --sandbox to use a local sandbox)"
        )),
        e => e,
    })?;
    Ok(Client { vision, sandbox })
}

fn apply(mut b: VisionBuilder, args: &ClientArgs) -> VisionBuilder {
    b = b.client_name("cli").api_version(&args.api_version);
    if let Some(t) = args.timeout {
        b = b.timeout(t);
    }
    if let Some(t) = args.connect_timeout {
        b = b.connect_timeout(t);
    }
    if let Some(n) = args.max_retries {
        b = b.max_retries(n);
    }
    if let Some(url) = &args.pacing_url {
        b = b.pacing_url(url);
    }
    if let Some(d) = args.deadline {
        b = b.deadline(d);
    }
    if args.retry_unanswered {
        b = b.retry_unanswered(true);
    }
    let network = &args.network;
    for bundle in &network.ca_bundle {
        b = b.ca_bundle(bundle.clone());
    }
    b = b.ca_bundle_only(network.ca_bundle_only);
    if let Some(proxy) = &network.proxy {
        b = b.proxy(proxy);
    } else if network.no_proxy {
        b = b.no_proxy();
    }
    if let (Some(certificate), Some(key)) = (&network.client_cert, &network.client_key) {
        b = b.client_certificate(certificate.clone(), key.clone());
    }
    b
}

/// Runs the sandbox server until SIGINT/SIGTERM.
#[allow(clippy::needless_update)]
pub async fn run(args: SandboxArgs) -> u8 {
    let mut shutdown = Shutdown::install();
    let loaded = match &args.records {
        Some(path) => match glair_vision_sandbox::load_records(path) {
            Ok(records) => records,
            Err(e) => {
                say!("error: cannot load records: {e}");
                return EXIT_INPUT;
            }
        },
        None => Vec::new(),
    };
    let loaded_count = loaded.len();
    let config = SandboxConfig {
        host: args.host,
        port: args.port,
        credentials: Credentials { api_key: args.api_key, username: args.username, password: args.password },
        synthetic: args.synthetic,
        seed: args.seed,
        records: loaded,
        match_threshold: args.match_threshold,
        latency: Duration::from_millis(args.latency_ms),
        latency_spread: Duration::from_millis(args.latency_spread_ms),
        rate_limit: args.rate_limit,
        burst: args.burst,
        gateway: args.gateway,
        failure_rate: args.failure_rate,
        slow_delay: Duration::from_millis(args.slow_delay_ms),
        tls: args.tls.then(|| TlsSettings {
            require_client_certificate: args.tls_client_auth,
            directory: args.tls_dir.clone(),
            names: args.tls_name.clone(),
        }),
        // Settings added later keep their defaults.
        ..SandboxConfig::default()
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            say!("error: cannot start the sandbox: {e}");
            return EXIT_API;
        }
    };
    let creds = sandbox.credentials().clone();
    let fixtures = glair_vision_sandbox::fixtures();
    let mut out = String::new();
    // The first line is meant for scripts and tests: `listening on <url>`.
    out.push_str(&format!("listening on {}\n", sandbox.url()));
    out.push_str(&format!("api key:  {}\n", creds.api_key));
    out.push_str(&format!("username: {}\n", creds.username));
    out.push_str(&format!("password: {}\n", creds.password));
    out.push_str(&format!(
        "registry: {} people ({} fixtures, {} synthetic, {} loaded)\n",
        sandbox.records().len(),
        fixtures.len(),
        args.synthetic,
        loaded_count
    ));
    let gateway = sandbox.gateway().map_or_else(|| "no rate limit".to_owned(), |g| g.to_string());
    out.push_str(&format!("gateway:  {gateway}\n"));
    if let Some(tls) = sandbox.tls() {
        out.push_str(&format!("ca file:  {}\n", tls.ca_file.display()));
        if let (Some(certificate), Some(key)) = (&tls.client_certificate_file, &tls.client_key_file) {
            out.push_str(&format!("client certificate: {}\n", certificate.display()));
            out.push_str(&format!("client key:         {}\n", key.display()));
        }
    }
    out.push_str("fixture NIKs:\n");
    for r in fixtures {
        out.push_str(&format!(
            "  {}  {} ({}, {})\n",
            r.nik(),
            r.get(Field::Name).unwrap_or("-"),
            r.get(Field::DateOfBirth).unwrap_or("-"),
            r.get(Field::Gender).unwrap_or("-")
        ));
    }
    out.push_str("fault NIKs (scripted answers; any valid NIK whose last four digits are one of these):\n");
    for (serial, _, what) in glair_vision_sandbox::faults::FAULTS {
        out.push_str(&format!("  317101100190{serial}  {what}\n"));
    }
    let mut tls_flags = String::new();
    if let Some(tls) = sandbox.tls() {
        tls_flags = format!(" --ca-bundle {}", tls.ca_file.display());
        if let (Some(certificate), Some(key)) = (&tls.client_certificate_file, &tls.client_key_file) {
            tls_flags.push_str(&format!(
                " --client-cert {} --client-key {}",
                certificate.display(),
                key.display()
            ));
        }
    }
    out.push_str(&format!(
        "try: GLAIR_BASE_URL={} GLAIR_API_KEY={} GLAIR_USERNAME={} GLAIR_PASSWORD={} \
         glair-vision verify --nik 3171014508900001 --name \"SITI RAHAYU\"{tls_flags}\n",
        sandbox.url(),
        creds.api_key,
        creds.username,
        creds.password
    ));
    out.push_str("press Ctrl-C to stop\n");
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
    drop(stdout);
    let signal = shutdown.recv().await;
    say!("{signal}: stopping the sandbox");
    sandbox.stop().await;
    EXIT_OK
}
