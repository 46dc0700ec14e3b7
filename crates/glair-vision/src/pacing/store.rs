//! The pacing store: one account's pacing state in Redis or Valkey, so that the
//! processes of many hosts (Spark or Dask executors, CLI machines, a fleet of
//! service pods) pace as one client, as the processes of one host do through
//! a file (`shared.rs`).
//!
//! The store holds one record per account (the same words as the file), a
//! version, and the set of processes seen lately; keys are named by a hash of
//! endpoint and API key (`glair-vision:pacing:{<hash>}`, one hash slot, so a
//! Redis Cluster takes them too), never the key, and expire when unused. Rates,
//! counts and times only: no key, password or personal data.
//!
//! One Lua script is the only operation: it stamps the store's clock (`TIME`),
//! marks this process as seen, and writes a record only over the version its
//! writer read (else it returns the current one). This module only moves
//! records; what a process does with them is `sync.rs`. Every operation runs
//! under a short timeout; a store that cannot be reached, refuses the password
//! or answers slowly is reported once (`tracing` warning) and tried again with
//! backoff, while the pacer goes on per process. Connections are made in the
//! background: no call ever waits for one (an exchange without a connection
//! fails at once, and the call is paced by the process alone).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::time::Instant;

use super::shared::{account_hash, Record};
use crate::{Error, Result};

/// How long one store operation may take, and a connection attempt.
const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Reconnection backoff while the store is cut off: from the first to the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(10);
/// An account's record expires when no process wrote it for this long.
const RECORD_TTL_MS: u64 = 60_000;
/// A process counts as sharing the account when it exchanged within this long.
const MEMBER_TTL_MS: u64 = 10_000;

const EXCHANGE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
redis.call('PEXPIRE', KEYS[2], ARGV[4])
local members = redis.call('ZCARD', KEYS[2])
local current = redis.call('HMGET', KEYS[1], 'version', 'record')
local version = tonumber(current[1]) or 0
if ARGV[2] ~= '' and tonumber(ARGV[1]) == version then
  version = version + 1
  redis.call('HSET', KEYS[1], 'version', version, 'record', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {1, version, now, members, ''}
end
return {0, version, now, members, current[2] or ''}
";

/// A pacing store's URL, checked: `redis://` or `rediss://` (TLS), with user
/// and password (ACL) and database number as Redis URLs have them. Its `Debug`
/// and `Display` never show the password.
#[derive(Clone)]
pub struct PacingUrl {
    url: String,
    /// For `rediss://`: the roots to trust as PEM when the client was given CA
    /// bundles (the system's and the bundles, or the bundles only); `None`:
    /// the system's roots (SSL_CERT_FILE and SSL_CERT_DIR honoured).
    roots: Option<std::sync::Arc<Vec<u8>>>,
}

impl PacingUrl {
    pub fn parse(url: &str) -> Result<PacingUrl> {
        let bad = |why: &str| {
            Error::Configuration(format!("pacing_url {}: {why}", crate::network::redact_url(url)))
        };
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(parsed.scheme(), "redis" | "rediss") {
            return Err(bad("must start with redis:// or rediss:// (TLS)"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("has no host"));
        }
        redis::Client::open(url.trim()).map_err(|e| bad(&scrub(&e.to_string(), url)))?;
        Ok(PacingUrl { url: url.trim().to_owned(), roots: None })
    }

    /// Trusts the client's CA bundles (PEM) for a `rediss://` store too, as its
    /// HTTPS does: besides the system's roots, or instead of them (`only`).
    pub(crate) fn trusting(mut self, bundles: &[Vec<u8>], only: bool) -> PacingUrl {
        if bundles.is_empty() || !self.url.starts_with("rediss:") {
            return self;
        }
        let mut pem = Vec::new();
        if !only {
            for der in rustls_native_certs::load_native_certs().certs {
                pem.extend_from_slice(&pem_certificate(&der));
            }
        }
        for bundle in bundles {
            pem.extend_from_slice(bundle);
            pem.push(b'\n');
        }
        self.roots = Some(std::sync::Arc::new(pem));
        self
    }

    fn client(&self) -> redis::Client {
        let made = match &self.roots {
            Some(roots) => redis::Client::build_with_tls(
                self.url.as_str(),
                redis::TlsCertificates { client_tls: None, root_cert: Some(roots.to_vec()) },
            ),
            None => redis::Client::open(self.url.as_str()),
        };
        made.expect("checked by PacingUrl::parse")
    }

    /// The URL as given, password included: to hand the client's configuration
    /// to another process (a worker), never to show.
    pub fn expose_secret(&self) -> &str {
        &self.url
    }

    /// The URL with its credentials replaced by `<redacted>`.
    pub fn redacted(&self) -> String {
        crate::network::redact_url(&self.url)
    }
}

impl std::fmt::Debug for PacingUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PacingUrl").field(&self.redacted()).finish()
    }
}

impl std::fmt::Display for PacingUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl PartialEq for PacingUrl {
    fn eq(&self, other: &PacingUrl) -> bool {
        self.url == other.url
    }
}

/// A DER certificate as PEM text.
fn pem_certificate(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.into_bytes()
}

/// Removes the URL's password (and user) from a message, by value.
fn scrub(message: &str, url: &str) -> String {
    let Ok(parsed) = reqwest::Url::parse(url.trim()) else { return message.to_owned() };
    let mut out = message.replace(url.trim(), &crate::network::redact_url(url));
    for secret in [parsed.password().unwrap_or(""), parsed.username()] {
        if secret.len() >= 3 {
            out = out.replace(secret, "<redacted>");
        }
    }
    out
}

/// What an exchange found: the store's clock, and how many processes share the
/// account; the record was written (`Written`) or another process wrote since
/// the version given (`Stale`, with the current record, if any).
#[derive(Debug)]
pub(super) enum Reply {
    Written { version: u64, store_ms: f64, members: u32 },
    Stale { version: u64, store_ms: f64, members: u32, record: Option<Box<Record>> },
}

/// Why an exchange did not happen (the pacer goes on per process).
#[derive(Debug)]
pub(super) struct CutOff;

/// The connection, and whether the store is cut off (with the next try).
#[derive(Default)]
struct Link {
    conn: Option<ConnectionManager>,
    /// A connection attempt runs in the background (no call waits for one).
    connecting: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    /// Whether the cut-off was reported (once per outage).
    warned: bool,
    /// Whether the store answered since the last report (for the "back" message).
    lost: bool,
}

impl Link {
    /// An exchange or connection failed: report it (once per outage), back off.
    fn failed(&mut self, url: &PacingUrl, why: &str) {
        self.lost = true;
        if !self.warned {
            tracing::warn!(
                store = %url,
                error = %scrub(why, &url.url),
                "pacing store cut off: pacing per process, at most its share of the last known rate, until it is back"
            );
            self.warned = true;
        }
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(LONGEST_BACKOFF);
    }
}

/// One account's keys in one store.
pub(super) struct StoreAccount {
    url: PacingUrl,
    client: redis::Client,
    script: redis::Script,
    record_key: String,
    members_key: String,
    /// This process's id among the account's processes (random, not the pid:
    /// pods of a fleet often all run as pid 1).
    member: String,
    link: Arc<Mutex<Link>>,
    /// Exchanges sent to the store (each one round trip).
    round_trips: AtomicU64,
}

impl StoreAccount {
    pub(super) fn new(url: &PacingUrl, endpoint: &str, api_key: &[u8]) -> StoreAccount {
        let hash = account_hash(endpoint, api_key);
        StoreAccount {
            url: url.clone(),
            client: url.client(),
            script: redis::Script::new(EXCHANGE),
            record_key: format!("glair-vision:pacing:{{{hash}}}"),
            members_key: format!("glair-vision:pacing:{{{hash}}}:processes"),
            member: format!("{:016x}", fastrand::u64(..)),
            link: Arc::new(Mutex::new(Link { backoff: FIRST_BACKOFF, ..Link::default() })),
            round_trips: AtomicU64::new(0),
        }
    }

    /// Exchanges sent to the store so far.
    pub(super) fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the store was found unreachable (and not reached since).
    pub(super) fn is_cut_off(&self) -> bool {
        self.link().lost
    }

    /// Reads the account's record (`record: None`), or writes `record` over
    /// `version`. `updated_ms` stamps the record for readers' sanity checks.
    /// Without a connection this fails at once, and a connection is made in
    /// the background (after the backoff, when one failed before).
    pub(super) async fn exchange(
        &self,
        version: u64,
        record: Option<&Record>,
        updated_ms: u64,
    ) -> std::result::Result<Reply, CutOff> {
        let conn = {
            let mut link = self.link();
            match link.conn.clone() {
                Some(conn) => conn,
                None => {
                    self.connect_in_background(&mut link);
                    return Err(CutOff);
                }
            }
        };
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match self.exchange_on(conn, version, record, updated_ms).await {
            Ok(reply) => {
                let mut link = self.link();
                if std::mem::take(&mut link.lost) {
                    tracing::warn!(store = %self.url, "pacing store reachable again: the account's pace is shared again");
                }
                link.backoff = FIRST_BACKOFF;
                link.warned = false;
                Ok(reply)
            }
            Err(why) => {
                let mut link = self.link();
                // A fresh connection next time, made in the background.
                link.conn = None;
                link.failed(&self.url, &why);
                Err(CutOff)
            }
        }
    }

    fn connect_in_background(&self, link: &mut Link) {
        if link.connecting || link.retry_at.is_some_and(|at| Instant::now() < at) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        link.connecting = true;
        let (client, shared, url) = (self.client.clone(), self.link.clone(), self.url.clone());
        runtime.spawn(async move {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(CONNECT_TIMEOUT)
                .set_response_timeout(OPERATION_TIMEOUT)
                .set_number_of_retries(0);
            let made =
                tokio::time::timeout(CONNECT_TIMEOUT * 2, ConnectionManager::new_with_config(client, config));
            let made = match made.await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err("connection timed out".to_owned()),
            };
            let mut link = shared.lock().unwrap_or_else(|e| e.into_inner());
            link.connecting = false;
            match made {
                Ok(conn) => link.conn = Some(conn),
                Err(why) => link.failed(&url, &why),
            }
        });
    }

    async fn exchange_on(
        &self,
        mut conn: ConnectionManager,
        version: u64,
        record: Option<&Record>,
        updated_ms: u64,
    ) -> std::result::Result<Reply, String> {
        let bytes = record.map(|r| r.encode(updated_ms).to_vec()).unwrap_or_default();
        let mut invocation = self.script.key(&self.record_key);
        let call = invocation
            .key(&self.members_key)
            .arg(version)
            .arg(bytes)
            .arg(&self.member)
            .arg(RECORD_TTL_MS)
            .arg(MEMBER_TTL_MS)
            .invoke_async::<(u8, u64, u64, u32, Vec<u8>)>(&mut conn);
        let (written, version, store_ms, members, current) =
            match tokio::time::timeout(OPERATION_TIMEOUT, call).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err(format!("no answer within {} ms", OPERATION_TIMEOUT.as_millis())),
            };
        let store_ms = store_ms as f64;
        Ok(if written == 1 {
            Reply::Written { version, store_ms, members }
        } else {
            let record = Record::decode(&current).map(|(r, _)| Box::new(r));
            Reply::Stale { version, store_ms, members, record }
        })
    }
}

impl std::fmt::Debug for StoreAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreAccount").field("url", &self.url).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_never_show_the_password() {
        let url = PacingUrl::parse("redis://pacer:s3cret-pass@cache.internal:6380/2").unwrap();
        for shown in [format!("{url:?}"), url.to_string(), url.redacted()] {
            assert!(!shown.contains("s3cret-pass"), "{shown}");
            assert!(shown.contains("cache.internal:6380/2"), "{shown}");
        }
        assert!(PacingUrl::parse("rediss://default:pw@cache.example:6379").is_ok());
        for bad in ["http://cache:6379", "cache:6379", "redis://", "", "redis://u:s3cret-pass@/0"] {
            let err = PacingUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains("pacing_url"), "{err}");
            assert!(!err.contains("s3cret-pass"), "{err}");
        }
    }

    #[test]
    fn keys_name_the_account_by_a_hash_only() {
        let url = PacingUrl::parse("redis://127.0.0.1:1").unwrap();
        let a = StoreAccount::new(&url, "https://api.example/identity/v1/verification", b"the-api-key");
        let b = StoreAccount::new(&url, "https://api.example/identity/v1/verification", b"the-api-key");
        assert_eq!((&a.record_key, &a.members_key), (&b.record_key, &b.members_key));
        assert_ne!(a.member, b.member, "each process is itself");
        assert!(!a.record_key.contains("the-api-key") && !a.record_key.contains("api.example"));
        let other = StoreAccount::new(&url, "https://api.example/identity/v1/verification", b"another-key");
        assert_ne!(a.record_key, other.record_key);
    }
}
