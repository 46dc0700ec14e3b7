//! One pacer per account a client reaches. A call's options may send it to
//! another account (another API key or base URL, as a platform calling for its
//! merchants does); that account's 429s say nothing of the client's own limit,
//! so they must neither pause nor slow the client's other calls.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use super::{Pacer, PacingUrl, RateLimit};

/// Accounts remembered besides the client's own; past this, idle ones are forgotten.
const MAX_OTHER_ACCOUNTS: usize = 1024;

pub(crate) struct AccountPacers {
    limit: RateLimit,
    store: Option<PacingUrl>,
    own: Arc<Pacer>,
    /// Keyed by a keyed hash of (endpoint, API key): no copy of the key is kept.
    others: Mutex<HashMap<u64, Arc<Pacer>>>,
    hasher: RandomState,
}

impl AccountPacers {
    /// The pacers of a client whose own account is at `endpoint` with
    /// `api_key`, shared through the pacing `store` when one is given.
    pub(crate) fn new(
        limit: RateLimit,
        endpoint: &str,
        api_key: &[u8],
        store: Option<PacingUrl>,
    ) -> AccountPacers {
        AccountPacers {
            limit,
            own: Arc::new(Pacer::for_account(limit, endpoint, api_key, store.as_ref())),
            store,
            others: Mutex::default(),
            hasher: RandomState::new(),
        }
    }

    /// The client's own account's pacer.
    pub(crate) fn own(&self) -> &Arc<Pacer> {
        &self.own
    }

    /// The pacer of the account at `endpoint` with `api_key`, made on first use
    /// with the client's rate limit.
    pub(crate) fn account(&self, endpoint: &str, api_key: &[u8]) -> Arc<Pacer> {
        let key = self.hasher.hash_one((endpoint, api_key));
        let mut others = self.others.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pacer) = others.get(&key) {
            return pacer.clone();
        }
        if others.len() >= MAX_OTHER_ACCOUNTS {
            // Only pacers no call holds now; their state is a few seconds' worth.
            others.retain(|_, pacer| Arc::strong_count(pacer) > 1);
        }
        others
            .entry(key)
            .or_insert_with(|| {
                Arc::new(Pacer::for_account(self.limit, endpoint, api_key, self.store.as_ref()))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pacer_per_account() {
        let pacers =
            AccountPacers::new(RateLimit::Auto, "https://own.example/identity/v1/verification", b"own", None);
        let a = pacers.account("https://a.example/identity/v1/verification", b"key-1");
        let again = pacers.account("https://a.example/identity/v1/verification", b"key-1");
        let other_key = pacers.account("https://a.example/identity/v1/verification", b"key-2");
        let other_url = pacers.account("https://b.example/identity/v1/verification", b"key-1");
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &other_key) && !Arc::ptr_eq(&a, &other_url));
        assert!(!Arc::ptr_eq(&a, pacers.own()));
    }

    #[test]
    fn idle_accounts_are_forgotten_past_the_cap() {
        let pacers = AccountPacers::new(RateLimit::Fixed(5.0), "u", b"own", None);
        let held = pacers.account("u", b"held");
        for i in 0..MAX_OTHER_ACCOUNTS + 10 {
            pacers.account("u", format!("k{i}").as_bytes());
        }
        let remembered = pacers.others.lock().unwrap().len();
        assert!(remembered <= MAX_OTHER_ACCOUNTS, "{remembered}");
        assert!(Arc::ptr_eq(&held, &pacers.account("u", b"held")), "a pacer in use is kept");
        assert_eq!(held.snapshot().ceiling, Some(5.0), "the client's rate limit applies");
    }
}
