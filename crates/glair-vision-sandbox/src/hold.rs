//! Answers held until a test releases them ([`crate::Sandbox::hold_after`],
//! `POST /_sandbox/hold`): a test that must act while calls are in flight (kill
//! or signal a client mid-batch, cancel a call, exit with calls pending) waits for
//! the calls to be held instead of guessing how long they take.
//!
//! A held request has been read, answered and logged like any other; only its
//! answer waits. Off (the default), a request pays one uncontended lock.

use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub(crate) struct Hold {
    state: Mutex<State>,
    released: Notify,
}

#[derive(Default)]
struct State {
    /// What is held: `None` when nothing is.
    rule: Option<Rule>,
    /// Answers waiting now.
    held: usize,
    /// Bumped by every release: a waiter goes once it changes.
    generation: u64,
}

struct Rule {
    /// Answers (of `nik`, if given) still let through before holding starts.
    pass: u64,
    /// Only answers for this NIK count and are held.
    nik: Option<String>,
    /// A held answer goes after this long even if not released.
    at_most: Option<Duration>,
}

impl Hold {
    /// From now, lets the next `after` answers through (of `nik` only, if given)
    /// and holds every later one until [`Hold::release`] (or for `at_most`).
    pub(crate) fn hold(&self, after: u64, nik: Option<String>, at_most: Option<Duration>) {
        self.lock().rule = Some(Rule { pass: after, nik, at_most });
    }

    /// Stops holding and lets every held answer go.
    pub(crate) fn release(&self) {
        let mut s = self.lock();
        s.rule = None;
        s.generation += 1;
        drop(s);
        self.released.notify_waiters();
    }

    pub(crate) fn held(&self) -> usize {
        self.lock().held
    }

    /// Waits, if this answer is to be held, until released. `nik` gives the
    /// request's NIK; it is only asked for when a hold names one.
    pub(crate) async fn pass(&self, nik: impl FnOnce() -> Option<String>) {
        let (generation, at_most) = {
            let mut s = self.lock();
            let Some(rule) = s.rule.as_mut() else { return };
            if rule.nik.is_some() && rule.nik != nik() {
                return;
            }
            if rule.pass > 0 {
                rule.pass -= 1;
                return;
            }
            let at_most = rule.at_most;
            s.held += 1;
            (s.generation, at_most)
        };
        // Counted while waiting, also when the wait is dropped (the client went away).
        struct Waiting<'a>(&'a Hold);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.lock().held -= 1;
            }
        }
        let _waiting = Waiting(self);
        let released = async {
            loop {
                // Created before the check: a release in between still wakes it.
                let released = self.released.notified();
                if self.lock().generation != generation {
                    return;
                }
                released.await;
            }
        };
        match at_most {
            Some(limit) => {
                let _ = tokio::time::timeout(limit, released).await;
            }
            None => released.await,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn holds_after_the_first_answers_until_released() {
        let hold = Arc::new(Hold::default());
        hold.pass(|| None).await; // not holding: goes at once
        hold.hold(1, None, None);
        hold.pass(|| None).await; // the one let through
        let waiting = {
            let h = hold.clone();
            tokio::spawn(async move { h.pass(|| None).await })
        };
        while hold.held() == 0 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished());
        hold.release();
        tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
        assert_eq!(hold.held(), 0);
        hold.pass(|| None).await; // released: goes at once
    }

    #[tokio::test]
    async fn a_nik_hold_holds_only_that_nik_and_a_dropped_wait_is_uncounted() {
        let hold = Arc::new(Hold::default());
        hold.hold(0, Some("1".into()), None);
        hold.pass(|| Some("2".into())).await;
        hold.pass(|| None).await;
        let h = hold.clone();
        let waiting = tokio::spawn(async move { h.pass(|| Some("1".into())).await });
        while hold.held() == 0 {
            tokio::task::yield_now().await;
        }
        waiting.abort();
        let _ = waiting.await;
        assert_eq!(hold.held(), 0);
        hold.release();
    }

    #[tokio::test]
    async fn a_bounded_hold_lets_the_answer_go_after_its_bound() {
        let hold = Hold::default();
        hold.hold(0, None, Some(Duration::from_millis(50)));
        let started = std::time::Instant::now();
        hold.pass(|| None).await;
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert_eq!(hold.held(), 0);
    }
}
