//! Before the pacer knows anything of the account, calls in flight are bounded
//! by a window that starts small and grows by one with every answered call (so
//! it doubles every round trip), as TCP's slow start does. A job of 64 calls at
//! once against a trial account of a few calls a second would otherwise have
//! 60 of its first 64 refused; an account with room reaches the caller's
//! concurrency within a handful of round trips. It also doubles every
//! [`GROWTH_MS`] whatever the answers: an API that answers slowly (or a test
//! holding every answer) still gets the caller's concurrency within a second,
//! and a refusal comes back within a round trip anyway. Once the window is wide
//! open, or the pacer engages (a refusal, an announced quota), it costs one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Calls the window lets through at first, and the width at which it opens for good.
const INITIAL: u32 = 2;
const OPEN_AT: u32 = 512;
/// The window doubles at least this often, from the first call.
const GROWTH_MS: u64 = 100;

pub(super) struct SlowStart {
    open: AtomicBool,
    /// Calls in flight under the window, its width (grown by answers), and when the first call entered.
    counts: Mutex<(u32, u32, Option<Instant>)>,
    freed: Notify,
}

impl Default for SlowStart {
    fn default() -> Self {
        SlowStart {
            open: AtomicBool::new(false),
            counts: Mutex::new((0, INITIAL, None)),
            freed: Notify::new(),
        }
    }
}

impl SlowStart {
    pub(super) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Waits for room in the window until `deadline`: `Ok(true)` when the call
    /// took a place (give it back with [`SlowStart::leave`]), `Ok(false)` when
    /// the window is open, `Err(())` at the deadline.
    pub(super) async fn enter(&self, deadline: Instant) -> Result<bool, ()> {
        loop {
            if self.is_open() {
                return Ok(false);
            }
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a place freed after it wakes us.
            freed.as_mut().enable();
            let next_growth = {
                let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let started = *counts.2.get_or_insert(now);
                let doublings = (now - started).as_millis() as u64 / GROWTH_MS;
                let by_time = INITIAL.checked_shl(doublings.min(16) as u32).unwrap_or(OPEN_AT);
                if by_time >= OPEN_AT {
                    self.open.store(true, Ordering::Release);
                    return Ok(false);
                }
                if counts.0 < counts.1.max(by_time) {
                    counts.0 += 1;
                    return Ok(true);
                }
                started + Duration::from_millis(GROWTH_MS * (doublings + 1))
            };
            match tokio::time::timeout_at(deadline.min(next_growth), freed).await {
                Err(_) if deadline <= next_growth => return Err(()),
                _ => {}
            }
        }
    }

    /// A call that took a place is over: `answered` (the server took it, not a
    /// refusal or a lost connection) widens the window by one.
    pub(super) fn leave(&self, answered: bool) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        counts.0 = counts.0.saturating_sub(1);
        if answered {
            counts.1 = counts.1.saturating_add(1);
            if counts.1 >= OPEN_AT {
                self.open.store(true, Ordering::Release);
            }
        }
        drop(counts);
        self.freed.notify_waiters();
    }

    /// The pacer engaged: its schedule rules from now on.
    pub(super) fn open(&self) {
        self.open.store(true, Ordering::Release);
        self.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn the_window_doubles_with_answers_and_opens() {
        let w = Arc::new(SlowStart::default());
        let far = Instant::now() + Duration::from_secs(3600);
        assert_eq!(w.enter(far).await, Ok(true));
        assert_eq!(w.enter(far).await, Ok(true));
        // Full: the third waits until a place is freed.
        assert_eq!(w.enter(Instant::now() + Duration::from_millis(10)).await, Err(()));
        let waiter = tokio::spawn({
            let w = w.clone();
            async move { w.enter(far).await }
        });
        tokio::task::yield_now().await;
        w.leave(true);
        assert_eq!(waiter.await.unwrap(), Ok(true));
        // One answered: the window is 3, with 2 in flight.
        assert_eq!(w.enter(far).await, Ok(true));
        assert_eq!(w.enter(Instant::now() + Duration::from_millis(10)).await, Err(()));
        // A lost call frees its place without widening.
        w.leave(false);
        assert_eq!(w.enter(far).await, Ok(true));
        for _ in 0..OPEN_AT {
            w.leave(true);
        }
        assert!(w.is_open());
        assert_eq!(w.enter(far).await, Ok(false));
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_answer_at_all_the_window_still_doubles_with_time() {
        let w = SlowStart::default();
        let start = Instant::now();
        let far = start + Duration::from_secs(3600);
        for _ in 0..200 {
            assert_eq!(w.enter(far).await, Ok(true));
        }
        // 2, 4, ... 256 by the eighth 100 ms: about 0.7 s for 200 in flight.
        let waited = Instant::now() - start;
        assert!(waited >= Duration::from_millis(700) && waited < Duration::from_millis(800), "{waited:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(w.enter(far).await, Ok(false), "open for good at 512");
    }

    #[tokio::test(start_paused = true)]
    async fn opening_releases_every_waiter() {
        let w = Arc::new(SlowStart::default());
        let far = Instant::now() + Duration::from_secs(3600);
        w.enter(far).await.unwrap();
        w.enter(far).await.unwrap();
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let w = w.clone();
                tokio::spawn(async move { w.enter(far).await })
            })
            .collect();
        tokio::task::yield_now().await;
        w.open();
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), Ok(false));
        }
    }
}
