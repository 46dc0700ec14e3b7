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
//! backoff, while the pacer goes on per process.

use std::sync::Mutex;
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
        Ok(PacingUrl { url: url.trim().to_owned() })
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
struct Link {
    conn: Option<ConnectionManager>,
    retry_at: Option<Instant>,
    backoff: Duration,
    warned: bool,
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
    link: tokio::sync::Mutex<Link>,
    /// Whether the last exchange failed (for snapshots, without the async lock).
    cut_off: Mutex<bool>,
}

impl StoreAccount {
    pub(super) fn new(url: &PacingUrl, endpoint: &str, api_key: &[u8]) -> StoreAccount {
        let hash = account_hash(endpoint, api_key);
        StoreAccount {
            url: url.clone(),
            client: redis::Client::open(url.url.as_str()).expect("checked by PacingUrl::parse"),
            script: redis::Script::new(EXCHANGE),
            record_key: format!("glair-vision:pacing:{{{hash}}}"),
            members_key: format!("glair-vision:pacing:{{{hash}}}:processes"),
            member: format!("{:016x}", fastrand::u64(..)),
            link: tokio::sync::Mutex::new(Link {
                conn: None,
                retry_at: None,
                backoff: FIRST_BACKOFF,
                warned: false,
            }),
            cut_off: Mutex::new(false),
        }
    }

    pub(super) fn is_cut_off(&self) -> bool {
        *self.cut_off.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the account's record (`record: None`), or writes `record` over
    /// `version`. `updated_ms` stamps the record for readers' sanity checks.
    pub(super) async fn exchange(
        &self,
        version: u64,
        record: Option<&Record>,
        updated_ms: u64,
    ) -> std::result::Result<Reply, CutOff> {
        let mut link = self.link.lock().await;
        if link.retry_at.is_some_and(|at| Instant::now() < at) {
            return Err(CutOff);
        }
        let out = self.exchange_on(&mut link, version, record, updated_ms).await;
        match &out {
            Ok(_) => {
                if link.retry_at.take().is_some() {
                    tracing::warn!(store = %self.url, "pacing store reachable again: the account's pace is shared again");
                }
                link.backoff = FIRST_BACKOFF;
                link.warned = false;
            }
            Err(why) => {
                if !link.warned {
                    tracing::warn!(
                        store = %self.url,
                        error = %scrub(why, &self.url.url),
                        "pacing store cut off: pacing per process, at most its share of the last known rate, until it is back"
                    );
                    link.warned = true;
                }
                link.retry_at = Some(Instant::now() + link.backoff);
                link.backoff = (link.backoff * 2).min(LONGEST_BACKOFF);
            }
        }
        *self.cut_off.lock().unwrap_or_else(|e| e.into_inner()) = out.is_err();
        out.map_err(|_| CutOff)
    }

    async fn exchange_on(
        &self,
        link: &mut Link,
        version: u64,
        record: Option<&Record>,
        updated_ms: u64,
    ) -> std::result::Result<Reply, String> {
        if link.conn.is_none() {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(CONNECT_TIMEOUT)
                .set_response_timeout(OPERATION_TIMEOUT)
                .set_number_of_retries(1);
            let made = tokio::time::timeout(
                CONNECT_TIMEOUT * 2,
                ConnectionManager::new_with_config(self.client.clone(), config),
            )
            .await;
            link.conn = Some(match made {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("connection timed out".into()),
            });
        }
        let conn = link.conn.as_mut().expect("made above");
        let bytes = record.map(|r| r.encode(updated_ms).to_vec()).unwrap_or_default();
        let mut invocation = self.script.key(&self.record_key);
        let call = invocation
            .key(&self.members_key)
            .arg(version)
            .arg(bytes)
            .arg(&self.member)
            .arg(RECORD_TTL_MS)
            .arg(MEMBER_TTL_MS)
            .invoke_async::<(u8, u64, u64, u32, Vec<u8>)>(conn);
        let (written, version, store_ms, members, current) =
            match tokio::time::timeout(OPERATION_TIMEOUT, call).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(e)) => {
                    if e.is_unrecoverable_error() || e.kind() == redis::ErrorKind::AuthenticationFailed {
                        link.conn = None;
                    }
                    return Err(e.to_string());
                }
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
