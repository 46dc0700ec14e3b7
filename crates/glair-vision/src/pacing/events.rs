//! What happens to an account's pacing state, as events: an attempt sent, one
//! answered, one refused, a quota announced. Each is applied to the state the
//! moment it happens; a pacer that shares its account through a store also
//! keeps them until its next exchange with the store, and applies them again
//! there on the account's state as the other processes left it (`sync.rs`).
//! One function applies them, so both paths read and change the state alike.

use super::estimate::Phase;
use super::meter::RateMeter;
use super::{model_of, Quota, State};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Event {
    /// An attempt went out at `at_ms`.
    Sent { at_ms: f64 },
    /// An attempt sent at `sent_ms` was answered (not throttled) at `at_ms`.
    Answered { at_ms: f64, sent_ms: f64 },
    /// An attempt sent under `epoch` was refused (429) at `at_ms`.
    Refused {
        at_ms: f64,
        epoch: u64,
        /// What the account accepted over the last second, as the refusing process saw it.
        accepted_rate: f64,
        /// Half of what was being sent, when too few calls were answered to
        /// say what was accepted (a first refusal can come before any answer).
        early_rate: Option<f64>,
        retry_after_ms: Option<f64>,
        max_pause_ms: f64,
        /// Draws in 0-1 for the pause's jitter.
        jitter: f64,
    },
    /// The gateway announced its quota at `at_ms`.
    Announced { at_ms: f64, quota: Quota },
}

/// The meters of attempts sent and answers, which travel with the state.
pub(super) struct Meters<'a> {
    pub sent: &'a RateMeter,
    pub accepted: &'a RateMeter,
}

/// The send rate now: the estimate's, under the ceiling.
pub(super) fn send_rate(st: &State, sent: &RateMeter, ceiling: Option<f64>, now_ms: f64) -> Option<f64> {
    let demand = sent.peak(now_ms.max(0.0) as u64);
    let rate = st.estimate.rate(now_ms, demand);
    match (rate, ceiling) {
        (Some(r), Some(c)) => Some(r.min(c)),
        (r, _) => r,
    }
}

/// Applies `event` to the account's state `st` and its meters.
pub(super) fn apply(st: &mut State, meters: &Meters<'_>, ceiling: Option<f64>, shared: bool, event: &Event) {
    match *event {
        Event::Sent { at_ms } => {
            meters.sent.tick(at_ms.max(0.0) as u64);
            st.totals.sent += 1;
        }
        Event::Answered { at_ms, sent_ms } => {
            meters.accepted.tick(at_ms.max(0.0) as u64);
            st.totals.accepted += 1;
            st.estimate.accepted(at_ms, sent_ms, st.totals);
        }
        Event::Refused { at_ms, epoch, accepted_rate, early_rate, retry_after_ms, max_pause_ms, jitter } => {
            st.totals.refused += 1;
            let before = (st.estimate.phase, st.estimate.limit);
            let accepted_rate = match early_rate {
                Some(early) if st.estimate.phase == Phase::Open => accepted_rate.max(early),
                _ => accepted_rate,
            };
            st.estimate.refused(at_ms, epoch, st.totals, accepted_rate);
            let rate = send_rate(st, meters.sent, ceiling, at_ms);
            st.schedule.refused(at_ms, st.totals.accepted, retry_after_ms, rate, max_pause_ms, jitter);
            if before != (st.estimate.phase, st.estimate.limit) {
                tracing::debug!(
                    model = %model_of(&st.estimate, ceiling),
                    limit = format!("{:.1}", st.estimate.limit),
                    rate = rate.map(|r| format!("{r:.1}")),
                    streak = st.schedule.streak,
                    shared,
                    "throttled: pacing changed"
                );
            }
        }
        Event::Announced { at_ms, quota } => {
            // A window not announced is at least the longest reset seen.
            let window_s = match quota.window_s {
                Some(w) => w,
                None => st.estimate.window_s.max(quota.reset_s.map_or(1.0, f64::ceil)).max(1.0),
            };
            let rate = quota.rate(window_s);
            let first = st.estimate.phase != Phase::Announced;
            st.estimate.announced(at_ms, rate, window_s, st.totals);
            if let (Some(left), Some(reset_s)) = (quota.remaining, quota.reset_s) {
                // A reset comes in whole seconds, rounded up: waiting all of it
                // could lose the next window of a short one.
                if left < 1.0 && reset_s > 1.0 {
                    st.schedule.closed_until(at_ms + (reset_s - 1.0) * 1000.0);
                }
            }
            if first {
                tracing::debug!(
                    quota = quota.limit,
                    window_s,
                    limit = format!("{rate:.2}"),
                    shared,
                    "pacing from the gateway's rate-limit headers"
                );
            }
        }
    }
}
