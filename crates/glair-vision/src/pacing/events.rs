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

impl Event {
    /// The event as the account's: before it joined their state, one of
    /// `processes` sharing the account saw about its share of the account's
    /// answers and sends, so its rates are that share of the account's.
    pub(super) fn for_account(self, processes: u32) -> Event {
        let n = f64::from(processes.max(1));
        match self {
            Event::Refused {
                at_ms,
                epoch,
                accepted_rate,
                early_rate,
                retry_after_ms,
                max_pause_ms,
                jitter,
            } => Event::Refused {
                at_ms,
                epoch,
                accepted_rate: accepted_rate * n,
                early_rate: early_rate.map(|r| r * n),
                retry_after_ms,
                max_pause_ms,
                jitter,
            },
            other => other,
        }
    }
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
            let epoch = st.estimate.epoch;
            st.estimate.accepted(at_ms, sent_ms, st.totals);
            if st.estimate.epoch != epoch {
                // A measurement ended, or the next began: the climb and the holds, step by step.
                log_change(st, meters, ceiling, shared, at_ms, "answered: pacing changed");
            }
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
                log_change(st, meters, ceiling, shared, at_ms, "throttled: pacing changed");
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

fn log_change(
    st: &State,
    meters: &Meters<'_>,
    ceiling: Option<f64>,
    shared: bool,
    at_ms: f64,
    what: &'static str,
) {
    tracing::debug!(
        model = %model_of(&st.estimate, ceiling),
        limit = format!("{:.1}", st.estimate.limit),
        rate = send_rate(st, meters.sent, ceiling, at_ms).map(|r| format!("{r:.1}")),
        lower_bound = st.estimate.lower_bound,
        closed_for_s = format!("{:.2}", st.estimate.closed_for_s),
        streak = st.schedule.streak,
        shared,
        pid = std::process::id(),
        "{what}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_share_of_a_refusal_is_scaled_to_the_account() {
        let refused = Event::Refused {
            at_ms: 1.0,
            epoch: 7,
            accepted_rate: 12.0,
            early_rate: Some(5.0),
            retry_after_ms: Some(1000.0),
            max_pause_ms: 9.0,
            jitter: 0.5,
        };
        let Event::Refused { accepted_rate, early_rate, retry_after_ms, epoch, .. } = refused.for_account(4)
        else {
            unreachable!()
        };
        assert_eq!((accepted_rate, early_rate, retry_after_ms, epoch), (48.0, Some(20.0), Some(1000.0), 7));
        assert_eq!(refused.for_account(0), refused, "no count: one process");
        let sent = Event::Sent { at_ms: 3.0 };
        assert_eq!(sent.for_account(4), sent);
    }
}
