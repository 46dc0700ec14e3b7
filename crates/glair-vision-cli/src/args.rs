//! Command-line arguments (clap derive).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use glair_vision::limits::{self, Count, DurationRange};
use glair_vision::{Field, RateLimit, VerificationRequest};

pub const VERIFY_EXIT_CODES: &str = "\
Exit codes:
  0  verified (verification_status true)
  1  not verified (a 200 answer with verification_status false)
  2  bad input: a field failed validation (nothing was sent) or bad usage
  3  API or transport error (3xx, 4xx/5xx, undecodable or incomplete answer,
     timeout, connection)
  4  configuration: missing credentials (pass --api-key/--username/--password,
     set GLAIR_API_KEY/GLAIR_USERNAME/GLAIR_PASSWORD, or use --sandbox)";

pub const BATCH_EXIT_CODES: &str = "\
Output (JSONL, the default): one JSON object per line, {\"row\": N, \"outcome\": \"verified\" |
\"not_verified\" | \"error\", ...}, with N the 1-based data row of the input; --keep values in a
\"keep\": {...} object; with --dedupe a duplicate row's line has \"duplicate_of\": M (the row whose
result it carries). CSV (a .csv --output or --output-format csv): kept columns, row,
duplicate_of (with --dedupe), outcome, verification_status, reason, result_nik ... result_rw,
error_kind, error_message, request_id. Lines appear as calls complete (sort by row to join).
Re-running with the same arguments resumes: rows already in the output are skipped.
--retry-errors: see its flag; --dry-run prints a JSON report on stdout.

Exit codes:
  0  every input row has an outcome line in the output
  2  unreadable input or output, bad usage
  4  configuration: missing credentials
  5  interrupted (SIGINT/SIGTERM) before every row had an outcome: run again to resume";

#[derive(Parser, Debug)]
#[command(
    name = "glair-vision",
    version,
    about = "Verify Indonesian ID cards (KTP) with GLAIR Vision: single calls, bulk files, offline NIK checks, a local sandbox",
    long_about = None,
    after_help = "Logging: set GLAIR_LOG (or RUST_LOG) to a filter such as `debug` or `glair_vision=trace`; \
                  logs go to stderr and never show NIKs, names or credentials."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once
pub enum Command {
    /// Verify one KTP and print the result as JSON.
    #[command(after_help = VERIFY_EXIT_CODES)]
    Verify(VerifyArgs),
    /// Verify every row of a CSV or JSONL file into a JSONL or CSV file (resumable).
    #[command(after_help = BATCH_EXIT_CODES)]
    Batch(BatchArgs),
    /// Parse and check a NIK offline (no request is sent).
    #[command(
        after_help = "Exit codes:\n  0  the NIK is structurally valid\n  2  invalid NIK (or bad --date-of-birth/--gender)"
    )]
    Nik(NikArgs),
    /// Run the local sandbox server until SIGINT/SIGTERM.
    #[command(after_help = "The first line of stdout is `listening on http://HOST:PORT`.\n\n\
                            Exit codes:\n  0  stopped by SIGINT/SIGTERM\n  2  bad --records file or usage\n  \
                            3  could not start (address in use, ...)")]
    Sandbox(SandboxArgs),
}

/// How to reach the API: credentials, base URL, timeouts, retries, or the sandbox.
#[derive(Args, Debug, Clone)]
pub struct ClientArgs {
    /// API key (x-api-key) [env: GLAIR_API_KEY]
    #[arg(long, value_name = "KEY", conflicts_with = "sandbox")]
    pub api_key: Option<String>,
    /// Basic-auth username [env: GLAIR_USERNAME]
    #[arg(long, value_name = "USER", conflicts_with = "sandbox")]
    pub username: Option<String>,
    /// Basic-auth password [env: GLAIR_PASSWORD]
    #[arg(long, value_name = "PASSWORD", conflicts_with = "sandbox")]
    pub password: Option<String>,
    /// API base URL [env: GLAIR_BASE_URL] [default: https://api.vision.glair.ai]
    #[arg(long, value_name = "URL", conflicts_with = "sandbox")]
    pub base_url: Option<String>,
    /// API version in the path
    #[arg(long, value_name = "VERSION", default_value = glair_vision::DEFAULT_API_VERSION)]
    pub api_version: String,
    /// Deadline for each attempt, in seconds, 0.001 to 86400 [default: 30]
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
    /// Deadline for connecting, in seconds, 0.001 to 86400 [default: 10]
    #[arg(long, value_name = "SECONDS", value_parser = parse_connect_timeout)]
    pub connect_timeout: Option<Duration>,
    /// Deadline for the whole call (every attempt and every wait between them), in
    /// seconds, 0.001 to 86400 [default: 60]
    #[arg(long, value_name = "SECONDS", value_parser = parse_deadline)]
    pub deadline: Option<Duration>,
    /// Retries on 429, 502, 503, 504 and failures to connect, 0 to 100 [default: 2]
    #[arg(long, value_name = "N", value_parser = parse_max_retries)]
    pub max_retries: Option<u32>,
    /// Also retry failures that leave it unknown whether the call was processed
    /// (and billed): a timeout or reset after sending, before any answer; a 500
    #[arg(long)]
    pub retry_unanswered: bool,
    /// Start an in-process sandbox on 127.0.0.1 (fixture people, 100 synthetic ones,
    /// scripted fault NIKs) and send to it instead of GLAIR. Never implied.
    #[arg(long)]
    pub sandbox: bool,
    /// Share the account's pace with every process, on any host, that names this
    /// pacing store: redis:// or rediss:// (TLS), USER:PASSWORD@ and /DB as Redis
    /// URLs have them (prefer the environment for a password)
    #[arg(long, value_name = "URL", env = "GLAIR_VISION_PACING_URL", hide_env_values = true)]
    pub pacing_url: Option<String>,
    #[command(flatten)]
    pub network: NetworkArgs,
}

/// Corporate networks: trust, proxy, client certificate.
#[derive(Args, Debug, Clone, Default)]
pub struct NetworkArgs {
    /// Also trust the certificate authorities in this PEM file (repeatable); the
    /// system's roots, and SSL_CERT_FILE / SSL_CERT_DIR, stay trusted
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Vec<PathBuf>,
    /// Trust only the --ca-bundle files, not the system's roots
    #[arg(long, requires = "ca_bundle")]
    pub ca_bundle_only: bool,
    /// Connect through this proxy: http://, https://, socks5:// or socks5h://, with
    /// USER:PASSWORD@ if it asks for them; hosts in NO_PROXY are still reached
    /// directly [default: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY]
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    pub proxy: Option<String>,
    /// Connect directly, ignoring HTTPS_PROXY, HTTP_PROXY and ALL_PROXY
    #[arg(long)]
    pub no_proxy: bool,
    /// A client certificate (PEM, with its chain) for gateways that require mutual TLS
    #[arg(long, value_name = "FILE", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

/// The fifteen optional fields (the NIK is separate).
#[derive(Args, Debug, Clone, Default)]
pub struct FieldArgs {
    /// Full name
    #[arg(long)]
    pub name: Option<String>,
    /// Date of birth: dd-mm-yyyy, dd/mm/yyyy or yyyy-mm-dd
    #[arg(long, value_name = "DATE")]
    pub date_of_birth: Option<String>,
    /// Family card (KK) number, 16 digits
    #[arg(long, value_name = "NO_KK")]
    pub no_kk: Option<String>,
    /// Mother's maiden name
    #[arg(long, value_name = "NAME")]
    pub mother_maiden_name: Option<String>,
    /// Place of birth
    #[arg(long, value_name = "PLACE")]
    pub place_of_birth: Option<String>,
    /// Address
    #[arg(long)]
    pub address: Option<String>,
    /// LAKI-LAKI / PEREMPUAN (also L/P, M/F, male/female)
    #[arg(long)]
    pub gender: Option<String>,
    /// BELUM KAWIN, KAWIN, CERAI HIDUP, CERAI MATI (also single, married, divorced, widowed)
    #[arg(long, value_name = "STATUS")]
    pub marital_status: Option<String>,
    /// Occupation
    #[arg(long, value_name = "JOB")]
    pub job_type: Option<String>,
    /// Province
    #[arg(long)]
    pub province: Option<String>,
    /// City / regency
    #[arg(long)]
    pub city: Option<String>,
    /// District (kecamatan)
    #[arg(long)]
    pub district: Option<String>,
    /// Subdistrict (kelurahan / desa)
    #[arg(long)]
    pub subdistrict: Option<String>,
    /// RT, 1-3 digits
    #[arg(long)]
    pub rt: Option<String>,
    /// RW, 1-3 digits
    #[arg(long)]
    pub rw: Option<String>,
}

impl FieldArgs {
    /// The request for `nik` with every field given on the command line. A missing
    /// NIK is left unset for the core's validation to report.
    pub fn to_request(&self, nik: Option<&str>) -> VerificationRequest {
        let mut request = VerificationRequest::default();
        if let Some(nik) = nik {
            request.set(Field::Nik, nik);
        }
        let pairs = [
            (Field::Name, &self.name),
            (Field::DateOfBirth, &self.date_of_birth),
            (Field::NoKk, &self.no_kk),
            (Field::MotherMaidenName, &self.mother_maiden_name),
            (Field::PlaceOfBirth, &self.place_of_birth),
            (Field::Address, &self.address),
            (Field::Gender, &self.gender),
            (Field::MaritalStatus, &self.marital_status),
            (Field::JobType, &self.job_type),
            (Field::Province, &self.province),
            (Field::City, &self.city),
            (Field::District, &self.district),
            (Field::Subdistrict, &self.subdistrict),
            (Field::Rt, &self.rt),
            (Field::Rw, &self.rw),
        ];
        for (field, value) in pairs {
            if let Some(v) = value {
                request.set(field, v.clone());
            }
        }
        request
    }
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The 16-digit NIK, required (spaces and dashes are stripped)
    #[arg(long)]
    pub nik: Option<String>,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Your correlation id for this call, sent as `x-request-id` and printed with the
    /// result or error (1-128 visible ASCII characters)
    #[arg(long, value_name = "ID")]
    pub request_id: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Args, Debug)]
pub struct NikArgs {
    /// The NIK to parse (spaces, dashes and dots are stripped)
    pub nik: String,
    /// Compare the NIK's embedded birth date with this date (dd-mm-yyyy or yyyy-mm-dd)
    #[arg(long, value_name = "DATE")]
    pub date_of_birth: Option<String>,
    /// Compare the NIK's embedded gender with this one (LAKI-LAKI/PEREMPUAN, L/P, M/F)
    #[arg(long)]
    pub gender: Option<String>,
    /// Print JSON instead of text
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct SandboxArgs {
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Extra people to load: .jsonl, .json or .csv keyed by wire field names
    #[arg(long, value_name = "FILE")]
    pub records: Option<PathBuf>,
    /// Synthetic people to generate, 0 to 100000
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = parse_synthetic)]
    pub synthetic: usize,
    /// Seed of the synthetic population
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Basic-auth username the sandbox accepts
    #[arg(long, default_value = glair_vision_sandbox::DEFAULT_USERNAME)]
    pub username: String,
    /// Basic-auth password the sandbox accepts
    #[arg(long, default_value = glair_vision_sandbox::DEFAULT_PASSWORD)]
    pub password: String,
    /// x-api-key the sandbox accepts
    #[arg(long, default_value = glair_vision_sandbox::DEFAULT_API_KEY)]
    pub api_key: String,
    /// Latency added to every answer, in milliseconds (the mean, with
    /// --latency-spread-ms), at most 86400000 (a day)
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = parse_delay_ms)]
    pub latency_ms: u64,
    /// Standard deviation of the latency, in milliseconds: each answer waits a
    /// log-normal draw (repeatable with --seed), at most 86400000
    #[arg(long, value_name = "MS", default_value_t = 0, value_parser = parse_delay_ms)]
    pub latency_spread_ms: u64,
    /// Requests per second allowed per API key (token bucket); past it: 429 with
    /// Retry-After. 0 for no limit, at most 1000000
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0, value_parser = parse_rate_or_zero)]
    pub rate_limit: f64,
    /// Requests an idle API key may send at once before --rate-limit applies, 1 to 1000000
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = parse_burst)]
    pub burst: u32,
    /// The gateway in front of the endpoint instead of --rate-limit's token bucket,
    /// as comma-separated key=value: model=token-bucket (rate, burst), fixed-window
    /// or sliding-window (limit, window such as 1s or 1m), leaky-queue (rate, depth);
    /// retry-after=exact|absent|date|SECONDS; headers=none|x-ratelimit|kong|ietf;
    /// change=AT:FACTOR (repeatable). E.g. model=fixed-window,limit=100,window=1s,headers=kong
    #[arg(long, value_name = "SPEC", value_parser = parse_gateway, conflicts_with = "rate_limit")]
    pub gateway: Option<glair_vision_sandbox::gateway::GatewayConfig>,
    /// Share of answers that are 503 (0.0-1.0)
    #[arg(long, value_name = "RATE", default_value_t = 0.0, value_parser = parse_fraction)]
    pub failure_rate: f64,
    /// How long NIKs ending in 9408 wait before answering, in milliseconds, at most 86400000
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = parse_delay_ms)]
    pub slow_delay_ms: u64,
    /// Similarity needed for free-text fields to match (0.0-1.0)
    #[arg(long, value_name = "SCORE", default_value_t = 0.85, value_parser = parse_fraction)]
    pub match_threshold: f64,
    /// Serve HTTPS with a certificate from a CA the sandbox makes at start; its
    /// PEM file is printed (`ca file:`) for clients to trust
    #[arg(long)]
    pub tls: bool,
    /// Where --tls writes ca.pem (and client.pem, client-key.pem) [default: a
    /// temporary directory, removed when the sandbox stops]
    #[arg(long, value_name = "DIR", requires = "tls")]
    pub tls_dir: Option<PathBuf>,
    /// With --tls, require a client certificate signed by the sandbox's CA (mutual
    /// TLS); one is written for clients to use
    #[arg(long, requires = "tls")]
    pub tls_client_auth: bool,
    /// Another host name the --tls certificate covers besides localhost, 127.0.0.1,
    /// ::1 and --host (repeatable), e.g. a container's name
    #[arg(long, value_name = "NAME", requires = "tls")]
    pub tls_name: Vec<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Args, Debug)]
pub struct BatchArgs {
    /// Input: CSV (a header row), JSONL (one object per line) or Parquet; a file, a
    /// folder of part files (read in name order as one table; names starting with
    /// `_` or `.` are skipped), or an s3://, gs://, az:// or abfss:// URL of an
    /// object or of such a prefix. Columns (keys) named like wire fields are read
    /// into them (any case); others need --map, --keep or --ignore-unknown. Empty
    /// cells and nulls are unset
    #[arg(long, value_name = "FILE|DIR|URL")]
    pub input: PathBuf,
    /// Input format [default: from the extension: .csv, .jsonl/.ndjson, .parquet]
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// Output file; appended to, so a re-run resumes where it stopped (optional with
    /// --dry-run, which then only reads it to count the rows already done). An
    /// s3://, gs://, az:// or abfss:// URL is written whole when every row has an
    /// outcome (one multipart upload); until then its lines are kept in --staging-dir
    #[arg(long, value_name = "FILE|URL", required_unless_present = "dry_run")]
    pub output: Option<PathBuf>,
    /// Where an object-store --output is built until complete (so that a re-run on
    /// this machine resumes it), and an object-store --input is copied while read
    /// [default: $XDG_STATE_HOME/glair-vision/staging, else ~/.local/state/glair-vision/staging]
    #[arg(long, value_name = "DIR", env = "GLAIR_VISION_STAGING_DIR")]
    pub staging_dir: Option<PathBuf>,
    /// Output format [default: csv for a .csv --output, parquet for .parquet, else jsonl]
    #[arg(long, value_enum)]
    pub output_format: Option<OutputFormat>,
    /// Input columns (CSV) or keys (JSONL) copied into every output line, under their
    /// own names: JSONL puts them in a `"keep": {...}` object, CSV in the first columns
    #[arg(long, value_name = "COL,...", value_delimiter = ',')]
    pub keep: Vec<String>,
    /// Read a wire field from a differently named column: `nama=name,tanggal_lahir=date_of_birth`
    #[arg(long, value_name = "SRC=FIELD,...", value_delimiter = ',')]
    pub map: Vec<String>,
    /// Skip columns that are neither fields, mapped, kept nor the --request-id-column
    /// (without it they are refused, every one named)
    #[arg(long)]
    pub ignore_unknown: bool,
    /// Call again the rows whose recorded outcome is a retryable error (rate_limited,
    /// service_unavailable, server, timeout, connection) and the rows without an
    /// outcome; the output is then rewritten with one line per row, the new outcome in
    /// place of the old (new results go to FILE.retry first; the rewrite is an atomic
    /// rename, so a kill leaves the old or the new file whole; a re-run after a kill
    /// does not call again the rows FILE.retry already holds)
    #[arg(long, conflicts_with = "dry_run")]
    pub retry_errors: bool,
    /// Check every row offline and report: valid and invalid rows (invalid by field
    /// and reason), duplicate records, and how many calls a real run would bill.
    /// Sends nothing, writes nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Send identical records (after normalisation) once: a duplicate row's line
    /// carries the first row's result and `duplicate_of` (that row's number). Costs a
    /// first pass over the input and 128-bit hashes of the records, not the records
    #[arg(long)]
    pub dedupe: bool,
    /// Calls in flight at once, 1 to 4096
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = parse_concurrency)]
    pub concurrency: u32,
    /// Calls started per second: `auto` finds the account's limit by itself (after
    /// the first 429 the pace drops, then climbs back while calls succeed; 429s are
    /// retried, not failed); a number is a hard ceiling (still lowered on 429s),
    /// from 0.001 to 1000000
    #[arg(long, value_name = "auto|PER_SECOND", default_value = "auto", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimit,
    /// After SIGINT/SIGTERM, how long in-flight calls may finish before they are
    /// abandoned (a second signal abandons them at once), in seconds, 0 to 86400
    #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = parse_grace)]
    pub grace: Duration,
    /// Seconds between progress lines when stderr is not a terminal, 0.001 to 86400
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = parse_progress_interval)]
    pub progress_interval: Duration,
    /// No progress output (the summary is still printed)
    #[arg(long, short)]
    pub quiet: bool,
    /// A column (CSV) or key (JSONL) holding each row's correlation id: sent as
    /// `x-request-id` and printed in the row's output line as `client_request_id`
    #[arg(long, value_name = "COL")]
    pub request_id_column: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

// The flags' ranges are the core's (`glair_vision::limits`), the same in every
// front door; clap names the flag in its message ("invalid value '5000' for
// '--concurrency <N>': must be an integer from 1 to 4096"), exit code 2.

/// A number of seconds within `range`.
fn seconds_in(range: &DurationRange, s: &str) -> Result<Duration, String> {
    let secs = s
        .trim()
        .parse::<f64>()
        .map_err(|_| format!("must be a number of seconds {}", range.expected_seconds()))?;
    range.check_seconds(secs).map_err(|e| e.message())
}

/// An integer within `range`.
fn count_in(range: &Count, s: &str) -> Result<u64, String> {
    let n = s.trim().parse::<i128>().map_err(|_| format!("must be {}", range.expected()))?;
    range.check(n).map_err(|e| e.message())
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    seconds_in(&limits::TIMEOUT, s)
}

fn parse_connect_timeout(s: &str) -> Result<Duration, String> {
    seconds_in(&limits::CONNECT_TIMEOUT, s)
}

fn parse_deadline(s: &str) -> Result<Duration, String> {
    seconds_in(&limits::DEADLINE, s)
}

fn parse_max_retries(s: &str) -> Result<u32, String> {
    count_in(&limits::RETRIES, s).map(|n| n as u32)
}

fn parse_concurrency(s: &str) -> Result<u32, String> {
    count_in(&limits::CONCURRENCY, s).map(|n| n as u32)
}

/// `--grace` (the CLI's own): 0 to a day.
const GRACE: DurationRange =
    DurationRange { setting: "grace", min: Duration::ZERO, max: limits::MAX_DURATION };
/// `--progress-interval` (the CLI's own): as a timeout, 1 ms to a day.
const PROGRESS_INTERVAL: DurationRange =
    DurationRange { setting: "progress_interval", min: limits::MIN_TIMEOUT, max: limits::MAX_DURATION };

fn parse_grace(s: &str) -> Result<Duration, String> {
    seconds_in(&GRACE, s)
}

fn parse_progress_interval(s: &str) -> Result<Duration, String> {
    seconds_in(&PROGRESS_INTERVAL, s)
}

fn parse_rate_limit(s: &str) -> Result<RateLimit, String> {
    if s.trim().eq_ignore_ascii_case("auto") {
        return Ok(RateLimit::Auto);
    }
    let bad = || format!("must be `auto` or {}", limits::RATE_LIMIT.expected());
    let rate = s.trim().parse::<f64>().map_err(|_| bad())?;
    limits::RATE_LIMIT.check(rate).map(RateLimit::Fixed).map_err(|_| bad())
}

/// The sandbox's rate limit: 0 (none) to its maximum.
fn parse_rate_or_zero(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=glair_vision_sandbox::MAX_RATE_LIMIT).contains(&v) => Ok(v),
        _ => Err("must be a number of requests per second from 0 (no limit) to 1000000".into()),
    }
}

/// `--synthetic`: 0 to the sandbox's maximum.
fn parse_synthetic(s: &str) -> Result<usize, String> {
    let range = Count { setting: "synthetic", min: 0, max: glair_vision_sandbox::MAX_SYNTHETIC as u64 };
    count_in(&range, s).map(|n| n as usize)
}

/// `--gateway`: the sandbox's own parser says what is wrong.
fn parse_gateway(s: &str) -> Result<glair_vision_sandbox::gateway::GatewayConfig, String> {
    s.parse()
}

/// `--burst`: 1 to the sandbox's maximum.
fn parse_burst(s: &str) -> Result<u32, String> {
    let range = Count { setting: "burst", min: 1, max: u64::from(glair_vision_sandbox::MAX_BURST) };
    count_in(&range, s).map(|n| n as u32)
}

/// The sandbox's delays, in milliseconds: 0 to its maximum.
fn parse_delay_ms(s: &str) -> Result<u64, String> {
    let max = glair_vision_sandbox::MAX_DELAY.as_millis() as u64;
    count_in(&Count { setting: "delay", min: 0, max }, s)
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("must be a number from 0.0 to 1.0".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn field_args_cover_the_fifteen_optional_fields() {
        let args = FieldArgs {
            name: Some("A".into()),
            date_of_birth: Some("B".into()),
            no_kk: Some("C".into()),
            mother_maiden_name: Some("D".into()),
            place_of_birth: Some("E".into()),
            address: Some("F".into()),
            gender: Some("G".into()),
            marital_status: Some("H".into()),
            job_type: Some("I".into()),
            province: Some("J".into()),
            city: Some("K".into()),
            district: Some("L".into()),
            subdistrict: Some("M".into()),
            rt: Some("N".into()),
            rw: Some("O".into()),
        };
        let request = args.to_request(Some("1"));
        assert_eq!(request.fields().count(), 16);
        assert_eq!(request.get(Field::Rw), Some("O"));
        assert_eq!(request.get(Field::Name), Some("A"));
    }
}
