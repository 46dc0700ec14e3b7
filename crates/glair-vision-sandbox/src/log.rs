//! The log of received requests behind `Sandbox::received` and
//! `/_sandbox/requests`, bounded by entries ([`REQUEST_LOG_CAPACITY`]) and by
//! bytes (`SandboxConfig::request_log_bytes`), so a sandbox that runs for days
//! keeps flat memory.
//!
//! Cheap on the hot path: an entry keeps the raw body and is parsed only when read.
//! Entries go round-robin (by sequence number) to a few shards with a lock each, so
//! server workers rarely contend; each shard holds an equal share of both bounds,
//! which keeps exactly the last [`REQUEST_LOG_CAPACITY`] requests when bodies are
//! small, and never more bytes than the bound in total.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};
use serde::Serialize;

use crate::body;
use crate::headers::{header_str, owned};
use crate::ReceivedRequest;

/// How many received requests are remembered, at most.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;
/// Default bound of the request log's size in bytes (bodies, logged headers and
/// bookkeeping): 8 MiB.
pub const DEFAULT_REQUEST_LOG_BYTES: usize = 8 * 1024 * 1024;
/// Smallest accepted byte bound: each shard must hold the largest entry.
pub const MIN_REQUEST_LOG_BYTES: usize = 1024 * 1024;
/// Logged header values are cut to this many bytes (a header can be far longer).
const MAX_LOGGED_HEADER: usize = 1024;
const SHARDS: usize = 8;
/// What an entry costs besides its bytes: the entry itself and its slot.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<(u64, Entry)>();

/// One request as received, before its body is parsed. Everything in it is
/// in allocations of its own (see [`Entry::new`]).
pub(crate) struct Entry {
    body: Bytes,
    content_type: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
    client_request_id: Option<HeaderValue>,
    traceparent: Option<HeaderValue>,
    tracestate: Option<HeaderValue>,
    request_id: HeaderValue,
    status: u16,
}

impl Entry {
    /// Copies what it keeps: hyper hands out the body and header values as views
    /// into its read buffers, and a kept view would pin a whole buffer (kilobytes
    /// per request) that the byte count would not see.
    /// The headers kept are `content-type`, `user-agent`, `x-request-id`,
    /// `traceparent` and `tracestate`.
    pub fn new(body: &[u8], headers: &HeaderMap, request_id: HeaderValue, status: u16) -> Entry {
        let cut = |v: &HeaderValue| {
            if v.len() <= MAX_LOGGED_HEADER {
                owned(v)
            } else {
                HeaderValue::from_bytes(&v.as_bytes()[..MAX_LOGGED_HEADER]).unwrap_or_else(|_| owned(v))
            }
        };
        let kept = |name: &str| headers.get(name).map(cut);
        Entry {
            body: Bytes::copy_from_slice(body),
            content_type: kept("content-type"),
            user_agent: kept("user-agent"),
            client_request_id: kept("x-request-id"),
            traceparent: kept("traceparent"),
            tracestate: kept("tracestate"),
            request_id,
            status,
        }
    }

    fn size(&self) -> usize {
        let len = |v: &Option<HeaderValue>| v.as_ref().map_or(0, HeaderValue::len);
        ENTRY_OVERHEAD
            + self.body.len()
            + len(&self.content_type)
            + len(&self.user_agent)
            + len(&self.client_request_id)
            + len(&self.traceparent)
            + len(&self.tracestate)
            + self.request_id.len()
    }
}

/// How full the request log is, as `GET /_sandbox/stats` reports it.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct LogStats {
    /// Requests held now.
    pub requests: usize,
    /// Bytes held now (bodies, logged headers, bookkeeping).
    pub bytes: usize,
    /// Bound on `requests`: [`REQUEST_LOG_CAPACITY`].
    pub max_requests: usize,
    /// Bound on `bytes`: `SandboxConfig::request_log_bytes`.
    pub max_bytes: usize,
}

#[derive(Default)]
struct Shard {
    entries: VecDeque<(u64, Entry)>,
    bytes: usize,
}

pub(crate) struct RequestLog {
    next_seq: AtomicU64,
    max_bytes: usize,
    shards: [Mutex<Shard>; SHARDS],
}

impl RequestLog {
    /// `max_bytes` must be at least [`MIN_REQUEST_LOG_BYTES`] (checked at start).
    pub fn new(max_bytes: usize) -> RequestLog {
        RequestLog { next_seq: AtomicU64::new(0), max_bytes, shards: Default::default() }
    }

    pub fn push(&self, entry: Entry) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let size = entry.size();
        let budget = self.max_bytes / SHARDS;
        let mut evicted = Vec::new();
        {
            let mut shard = self.shards[(seq % SHARDS as u64) as usize].lock().expect("log lock");
            while !shard.entries.is_empty()
                && (shard.entries.len() >= REQUEST_LOG_CAPACITY / SHARDS || shard.bytes + size > budget)
            {
                let (_, old) = shard.entries.pop_front().expect("not empty");
                shard.bytes -= old.size();
                evicted.push(old);
            }
            shard.bytes += size;
            shard.entries.push_back((seq, entry));
        }
        // Freed outside the lock.
        drop(evicted);
    }

    /// The requests held, oldest first.
    pub fn snapshot(&self) -> Vec<ReceivedRequest> {
        let mut all: Vec<(u64, ReceivedRequest)> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().expect("log lock");
            all.extend(shard.entries.iter().map(|(seq, e)| (*seq, received(e))));
        }
        all.sort_by_key(|(seq, _)| *seq);
        all.into_iter().map(|(_, r)| r).collect()
    }

    pub fn stats(&self) -> LogStats {
        let (mut requests, mut bytes) = (0, 0);
        for shard in &self.shards {
            let shard = shard.lock().expect("log lock");
            requests += shard.entries.len();
            bytes += shard.bytes;
        }
        LogStats { requests, bytes, max_requests: REQUEST_LOG_CAPACITY, max_bytes: self.max_bytes }
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            let old = std::mem::take(&mut *shard.lock().expect("log lock"));
            drop(old);
        }
    }
}

fn received(e: &Entry) -> ReceivedRequest {
    let content_type = header_str(e.content_type.as_ref());
    let lossy =
        |v: &Option<HeaderValue>| v.as_ref().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    ReceivedRequest {
        // A body that cannot be read (or was never read) has no fields to show.
        fields: body::fields(content_type, &e.body).unwrap_or_default(),
        content_type: content_type.to_owned(),
        user_agent: lossy(&e.user_agent),
        request_id: header_str(Some(&e.request_id)).to_owned(),
        client_request_id: lossy(&e.client_request_id),
        traceparent: lossy(&e.traceparent),
        tracestate: lossy(&e.tracestate),
        status: e.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body_len: usize) -> Entry {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        Entry::new(&vec![b'a'; body_len], &headers, HeaderValue::from_static("id"), 200)
    }

    #[test]
    fn keeps_exactly_the_last_capacity_requests_when_small() {
        let log = RequestLog::new(DEFAULT_REQUEST_LOG_BYTES);
        for _ in 0..REQUEST_LOG_CAPACITY + 123 {
            log.push(entry(10));
        }
        assert_eq!(log.stats().requests, REQUEST_LOG_CAPACITY);
        assert!(log.stats().bytes <= DEFAULT_REQUEST_LOG_BYTES);
    }

    #[test]
    fn byte_bound_holds_with_big_bodies() {
        let log = RequestLog::new(MIN_REQUEST_LOG_BYTES);
        for i in 0..500 {
            log.push(entry(1000 + (i * 997) % 64_000));
            assert!(log.stats().bytes <= MIN_REQUEST_LOG_BYTES);
        }
        assert!(log.stats().requests > 8);
        log.clear();
        assert_eq!(log.stats().bytes, 0);
    }
}
