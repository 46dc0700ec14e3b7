//! The log of received requests behind `Sandbox::received` and
//! `/_sandbox/requests`. Cheap on the hot path: an entry keeps the raw body
//! (already in memory) and is parsed only when read; entries go to one of a few
//! shards chosen per thread, so server workers do not contend on one lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use axum::body::Bytes;
use axum::http::HeaderValue;

use crate::body;
use crate::server::header_str;
use crate::ReceivedRequest;

/// How many received requests are remembered.
pub const REQUEST_LOG_CAPACITY: usize = 10_000;
const SHARDS: usize = 8;

/// One request as received, before its body is parsed.
pub(crate) struct Entry {
    pub body: Bytes,
    pub content_type: Option<HeaderValue>,
    pub user_agent: Option<HeaderValue>,
    pub request_id: HeaderValue,
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct RequestLog {
    next_seq: AtomicU64,
    shards: [Mutex<VecDeque<(u64, Entry)>>; SHARDS],
}

fn shard_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|s| *s)
}

impl RequestLog {
    pub fn push(&self, entry: Entry) {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let mut shard = self.shards[shard_of_this_thread()].lock().expect("log lock");
        if shard.len() == REQUEST_LOG_CAPACITY {
            shard.pop_front();
        }
        shard.push_back((seq, entry));
    }

    /// The last [`REQUEST_LOG_CAPACITY`] requests, oldest first.
    pub fn snapshot(&self) -> Vec<ReceivedRequest> {
        let mut all: Vec<(u64, ReceivedRequest)> = Vec::new();
        for shard in &self.shards {
            let shard = shard.lock().expect("log lock");
            all.extend(shard.iter().map(|(seq, e)| (*seq, received(e))));
        }
        all.sort_by_key(|(seq, _)| *seq);
        let skip = all.len().saturating_sub(REQUEST_LOG_CAPACITY);
        all.into_iter().skip(skip).map(|(_, r)| r).collect()
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            shard.lock().expect("log lock").clear();
        }
    }
}

fn received(e: &Entry) -> ReceivedRequest {
    let content_type = header_str(e.content_type.as_ref());
    ReceivedRequest {
        // A body that cannot be read was answered 4xx; its fields are unknown.
        fields: body::fields(content_type, &e.body).unwrap_or_default(),
        content_type: content_type.to_owned(),
        user_agent: e.user_agent.as_ref().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        request_id: header_str(Some(&e.request_id)).to_owned(),
        status: e.status,
    }
}
