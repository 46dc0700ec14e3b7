//! The schedule of send slots: calls start evenly spaced at the estimate's
//! rate, and pauses that hold every call back when the gateway is closed. Pure:
//! milliseconds on the pacer's timeline.
//!
//! One refusal does not pause the client: at the limit a token bucket refuses
//! now and then and accepts the next call, and a whole client idle for a coarse
//! `Retry-After: 1` loses a second of the account (the refused call itself
//! waits its `Retry-After`; the client's `throttled` says so). Refusals in a
//! row, with nothing accepted between them, mean the gateway is closed (a window
//! spent): the pause then doubles from two send slots, up to the `Retry-After`
//! when the gateway sent one (and is at least that less a second). Not the whole `Retry-After` at once: it comes in
//! whole seconds, and a window of a second that closed 30 ms before its end
//! would cost the next window whole.
/// Bounds of one send slot as a pause unit, and of a pause with no `Retry-After`.
const MIN_GAP_MS: f64 = 10.0;
const MAX_GAP_MS: f64 = 250.0;
const MAX_BACKOFF_MS: f64 = 8000.0;
/// Added to a pause, at random, as a share of it, so that clients refused
/// together do not come back together.
pub(super) const JITTER: f64 = 0.1;

#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Schedule {
    /// The start of the next free slot.
    pub next_slot_ms: f64,
    /// Until when every call waits (a pause).
    pub paused_until_ms: f64,
    /// Refusals in a row with nothing accepted between them.
    pub streak: u32,
    /// The account's accepted total at the last refusal.
    pub accepted_at_refusal: u64,
}

impl Schedule {
    /// When a call asking at `now_ms` may start, at `rate` calls per second
    /// (`None`: unpaced), and takes that slot unless it is past `deadline_ms`.
    pub(super) fn take(&mut self, now_ms: f64, rate: Option<f64>, deadline_ms: f64) -> f64 {
        let start = now_ms.max(self.paused_until_ms);
        let Some(rate) = rate else { return start };
        let start = start.max(self.next_slot_ms);
        if start <= deadline_ms {
            self.next_slot_ms = start + 1000.0 / rate;
        }
        start
    }

    pub(super) fn paused(&self, now_ms: f64) -> bool {
        self.paused_until_ms > now_ms
    }

    /// An attempt was refused at `now_ms`, with the account's `accepted` total
    /// then; pauses every call if refusals came in a row. `jitter` is a draw in 0-1.
    pub(super) fn refused(
        &mut self,
        now_ms: f64,
        accepted: u64,
        retry_after_ms: Option<f64>,
        rate: Option<f64>,
        max_pause_ms: f64,
        jitter: f64,
    ) {
        self.streak = if accepted == self.accepted_at_refusal { self.streak.saturating_add(1) } else { 1 };
        self.accepted_at_refusal = accepted;
        if self.streak < 2 {
            return;
        }
        let gap = rate.map_or(MAX_GAP_MS, |r| (1000.0 / r).clamp(MIN_GAP_MS, MAX_GAP_MS));
        let backoff = gap * 2f64.powi(self.streak.min(20) as i32 - 1);
        // A `Retry-After` in whole seconds rounds up: the gateway stays closed
        // for at least a second less than it says, so that much is waited at once.
        let pause = retry_after_ms
            .map_or(backoff.min(MAX_BACKOFF_MS), |ra| backoff.min(ra).max(ra - 1000.0))
            .min(max_pause_ms);
        let until = now_ms + pause * (1.0 + JITTER * jitter);
        self.paused_until_ms = self.paused_until_ms.max(until);
    }

    /// The gateway announced that nothing more is accepted until `reset_ms`.
    pub(super) fn closed_until(&mut self, reset_ms: f64) {
        self.paused_until_ms = self.paused_until_ms.max(reset_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_evenly_spaced_and_not_taken_past_the_deadline() {
        let mut s = Schedule::default();
        assert_eq!(s.take(0.0, None, 1e9), 0.0);
        assert_eq!(s.take(0.0, Some(10.0), 1e9), 0.0);
        assert_eq!(s.take(0.0, Some(10.0), 1e9), 100.0);
        assert_eq!(s.take(0.0, Some(10.0), 150.0), 200.0);
        assert_eq!(s.take(0.0, Some(10.0), 1e9), 200.0, "the slot past the deadline stayed free");
    }

    #[test]
    fn one_refusal_pauses_nobody_refusals_in_a_row_do() {
        let mut s = Schedule::default();
        s.refused(0.0, 10, Some(1000.0), Some(100.0), 60_000.0, 0.0);
        assert!(!s.paused(0.0));
        // Accepted calls between: still one at a time.
        s.refused(50.0, 20, Some(1000.0), Some(100.0), 60_000.0, 0.0);
        assert!(!s.paused(50.0));
        // Then in a row: 2, 4, 8... slots of 10 ms, up to the Retry-After.
        let mut pauses = Vec::new();
        for i in 0..9 {
            let now = 100.0 + f64::from(i) * 10_000.0;
            s.refused(now, 20, Some(1000.0), Some(100.0), 60_000.0, 0.0);
            pauses.push(s.paused_until_ms - now);
        }
        assert_eq!(pauses, vec![20.0, 40.0, 80.0, 160.0, 320.0, 640.0, 1000.0, 1000.0, 1000.0]);
    }

    #[test]
    fn a_long_retry_after_is_waited_less_its_rounding_at_once() {
        let mut s = Schedule { streak: 1, accepted_at_refusal: 5, ..Schedule::default() };
        s.refused(0.0, 5, Some(9000.0), Some(100.0), 60_000.0, 0.0);
        assert_eq!(s.paused_until_ms, 8000.0);
    }

    #[test]
    fn no_retry_after_backs_off_to_a_bound() {
        let mut s = Schedule::default();
        for i in 0..30 {
            s.refused(f64::from(i) * 100_000.0, 0, None, None, 60_000.0, 0.0);
        }
        assert_eq!(s.paused_until_ms - 29.0 * 100_000.0, MAX_BACKOFF_MS);
    }

    #[test]
    fn a_pause_is_capped_and_takes_its_jitter() {
        let mut s = Schedule { streak: 10, ..Schedule::default() };
        s.refused(0.0, 0, Some(120_000.0), None, 30_000.0, 1.0);
        assert_eq!(s.paused_until_ms, 30_000.0 * (1.0 + JITTER));
    }
}
