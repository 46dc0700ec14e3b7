//! The estimate of what the account accepts, in calls per second, and the send
//! rate that follows from it. Pure: times are milliseconds on the pacer's
//! timeline, counts are the account's running totals, so the state can be
//! tested alone and shared between processes as plain numbers.
//!
//! The one thing every gateway has in common is that, while a client sends
//! faster than the account allows, what gets accepted is what the account
//! allows: a token bucket's rate once its burst is spent, a window's quota per
//! window, a queue's drain rate. So the estimate is a measurement: after a
//! refusal the client keeps sending a little above the last good rate, and
//! counts what was accepted from one reopening (the first call accepted after
//! a refusal) to a later one. Both ends are the same point of the gateway's
//! cycle (a window's start, a bucket's next token), so the count over the time
//! between is the limit, whatever the gateway counts in and however long its
//! window: a window of 10 s is measured over 10 s, a token bucket over about a
//! second. The client then sends at [`MARGIN`] of it, holds, and probes above
//! it now and then (gently, so a probe costs a refusal or two), to find out
//! whether the limit grew. A rate sent without a refusal for two of the longest
//! closings seen (a window's quota may last a whole window) is a lower bound;
//! steps up from it stop halfway (geometrically) to the lowest rate refused
//! since, so a search overshoots a limit by less each time. Quotas that the
//! gateway announces in rate-limit headers replace the measurement (see `headers.rs`).

/// The share of the estimated limit sent at while holding.
pub(super) const MARGIN: f64 = 0.97;
/// The lowest send rate, calls per second.
pub(super) const MIN_RATE: f64 = 0.2;
/// Growth per second while searching for a first limit (after the first 429).
const SEARCH_GROWTH: f64 = 2.0;
/// The shortest measurement: a second, and at least this many calls.
const MEASURE_MS: f64 = 1000.0;
const MEASURE_CALLS: f64 = 10.0;
/// A measurement that has not seen its cycle close ends after this many of
/// its shortest length, or of the gateway's window, whichever is longer.
const MEASURE_GIVE_UP: f64 = 3.0;
/// A measurement sends this much above the last good rate; one that the
/// account took whole is followed by one [`MEASURE_STEPS`] above it (the
/// first, then the second for each one after in a row).
const MEASURE_ABOVE: f64 = 1.03;
/// After a hold, the measurement that looks for a higher limit sends this much above it.
const CONFIRM_ABOVE: f64 = 1.05;
const MEASURE_STEPS: (f64, f64) = (1.15, 1.3);
/// Holds between probes: the first, and the longest once probes keep finding
/// the same limit. Small accounts hold longer: each probe costs about one
/// refusal, which is a larger share of their calls.
const MIN_HOLD_S: f64 = 1.5;
const MAX_HOLD_S: f64 = 5.0;
/// Small accounts hold for at least this many calls, up to the longest hold.
const HOLD_CALLS: f64 = 300.0;
const LONGEST_HOLD_S: f64 = 12.0;
/// Probes that find a limit within this share of the estimate found the same one.
const SAME_LIMIT: f64 = 0.08;
/// Refusals in a cycle, more than it accepted, that mean the rate is far above the limit.
const FAR_ABOVE_REFUSED: u64 = 5;
/// The longest gateway window believed, in seconds.
const MAX_WINDOW_S: f64 = 120.0;

/// Where the estimate stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Phase {
    /// No refusal yet: nothing is known, nothing is paced.
    Open,
    /// After the first refusal: growing from what was accepted until the next one.
    Searching,
    /// Sending at `measure_rate` to measure what the account accepts.
    Measuring,
    /// Sending at [`MARGIN`] of the limit, probing above it once the hold is over.
    Holding,
    /// Pacing from the quota the gateway announces (no probing).
    Announced,
}

/// The running totals a decision reads (the account's, when shared).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Totals {
    pub sent: u64,
    pub accepted: u64,
    pub refused: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Estimate {
    pub phase: Phase,
    /// Calls per second the account accepts (infinite while unknown).
    pub limit: f64,
    /// Whether `limit` is only a lower bound (the last measurement was not refused).
    pub lower_bound: bool,
    /// When the phase began, and the totals then.
    pub since_ms: f64,
    pub at_start: Totals,
    /// The rate a search starts from, or a measurement sends at.
    pub base_rate: f64,
    pub hold_s: f64,
    /// Raised at every change of rate: refusals of attempts sent before the
    /// latest change are already accounted for.
    pub epoch: u64,
    /// The window of an announced quota, in seconds (0: none announced).
    pub window_s: f64,
    /// When the refusals since the last reopening began (`None`: open). A
    /// call sent after that and accepted is the reopening (calls sent before
    /// it and answered after it passed before the gateway closed).
    pub closed_since_ms: Option<f64>,
    /// The longest the gateway stayed closed, in seconds: at least its window.
    pub closed_for_s: f64,
    /// The measurement's first reopening, and the accepted total before it.
    pub cycle_start: Option<(f64, u64)>,
    /// Refusals of attempts sent in this phase (of its epoch): refusals of
    /// calls sent before it say nothing of its rate.
    pub refused_now: u64,
    /// Whether this measurement checks a held limit (after a hold): it
    /// confirms it or raises it, and lowers it only when far below. A
    /// window that slides weighs in the client's own held rate for a whole
    /// window, so a short measurement just above it reads a little low.
    pub confirming: bool,
    /// The limit held before the confirming measurement began.
    pub held: f64,
    /// The lowest rate refused since the limit was last measured (infinite:
    /// none): steps up from a lower bound stop short of it.
    pub above: f64,
}

impl Default for Estimate {
    fn default() -> Self {
        Estimate {
            phase: Phase::Open,
            limit: f64::INFINITY,
            lower_bound: false,
            since_ms: 0.0,
            at_start: Totals::default(),
            base_rate: f64::INFINITY,
            hold_s: MIN_HOLD_S,
            epoch: 0,
            window_s: 0.0,
            closed_since_ms: None,
            closed_for_s: 0.0,
            cycle_start: None,
            refused_now: 0,
            confirming: false,
            held: f64::INFINITY,
            above: f64::INFINITY,
        }
    }
}

impl Estimate {
    /// Starts from a fixed ceiling: held at it, never probed above.
    pub(super) fn at_ceiling(ceiling: f64) -> Estimate {
        Estimate {
            phase: Phase::Holding,
            limit: ceiling / MARGIN,
            hold_s: f64::INFINITY,
            ..Estimate::default()
        }
    }

    fn elapsed_s(&self, now_ms: f64) -> f64 {
        ((now_ms - self.since_ms) / 1000.0).max(0.0)
    }

    /// The send rate at `now_ms` (`None`: unpaced). `demand` is the rate the
    /// caller actually sends at: growth stops at twice it, so an idle client
    /// does not grow a rate it never tried.
    pub(super) fn rate(&self, now_ms: f64, demand: f64) -> Option<f64> {
        let t = self.elapsed_s(now_ms);
        let grown = |from: f64, growth: f64, after: f64| {
            let r = from * growth.powf((t - after).clamp(0.0, 60.0));
            r.min(from.max(2.0 * demand))
        };
        let r = match self.phase {
            Phase::Open => return None,
            Phase::Searching => grown(self.base_rate, SEARCH_GROWTH, 0.0),
            Phase::Measuring => self.base_rate,
            Phase::Holding => MARGIN * self.limit,
            Phase::Announced => MARGIN * self.limit,
        };
        Some(r.max(MIN_RATE))
    }

    fn enter(&mut self, phase: Phase, now_ms: f64, totals: Totals) {
        self.phase = phase;
        self.since_ms = now_ms;
        self.at_start = totals;
        self.epoch += 1;
        self.cycle_start = None;
        self.refused_now = 0;
    }

    /// Whether the account still climbs to its first limit: none measured
    /// (a lower bound is not one) and none held.
    fn first_climb(&self) -> bool {
        !self.held.is_finite() && (!self.limit.is_finite() || self.lower_bound)
    }

    /// The shortest a measurement at the current rate lasts.
    fn measure_ms(&self) -> f64 {
        MEASURE_MS.max(1000.0 * MEASURE_CALLS / self.base_rate.max(MIN_RATE))
    }

    /// An attempt sent at `sent_ms` was accepted at `now_ms` (`totals` counts
    /// it): a reopening closes a measurement's cycle, or starts it.
    pub(super) fn accepted(&mut self, now_ms: f64, sent_ms: f64, totals: Totals) {
        let closed_since = self.closed_since_ms.filter(|&since| sent_ms >= since);
        if let Some(since) = closed_since {
            self.closed_since_ms = None;
            self.closed_for_s = self.closed_for_s.max(((sent_ms - since) / 1000.0).min(MAX_WINDOW_S));
            if self.phase == Phase::Measuring {
                let before = totals.accepted.saturating_sub(1);
                match self.cycle_start {
                    None => {
                        // Refusals before it were the closing; the cycle counts its own.
                        self.cycle_start = Some((now_ms, before));
                        self.refused_now = 0;
                    }
                    Some((start_ms, at)) if now_ms - start_ms >= self.measure_ms() => {
                        let count = before.saturating_sub(at) as f64;
                        self.measured(now_ms, totals, count * 1000.0 / (now_ms - start_ms), true);
                        return;
                    }
                    Some(_) => {}
                }
            }
        }
        self.advance(now_ms, totals);
    }

    /// Ends the measurement with `limit`; `refused`: whether the account
    /// refused any of it (else the limit is only a lower bound).
    fn measured(&mut self, now_ms: f64, totals: Totals, limit: f64, refused: bool) {
        let before = self.limit;
        self.lower_bound = !refused;
        self.limit = if refused { limit.max(MIN_RATE) } else { limit.max(self.base_rate) };
        // A measurement that checks a held limit confirms it when it finds about the same.
        let before = if self.confirming { self.held } else { before };
        let same = before.is_finite() && (self.limit - before).abs() <= SAME_LIMIT * before;
        if same && self.confirming {
            self.limit = before;
        }
        self.confirming = false;
        self.above = f64::INFINITY;
        self.hold_s = if refused && same {
            let max = (HOLD_CALLS / self.limit).clamp(MAX_HOLD_S, LONGEST_HOLD_S);
            (self.hold_s * 2.0).clamp(MIN_HOLD_S, max)
        } else {
            MIN_HOLD_S
        };
        self.enter(Phase::Holding, now_ms, totals);
    }

    /// Measures at `factor` above the held limit: `confirming` it (a check
    /// after a hold), or anew (the limit moved down under it).
    fn measure_above_held(&mut self, factor: f64, confirming: bool, now_ms: f64, totals: Totals) {
        self.lower_bound = false;
        self.confirming = confirming;
        self.held = self.limit;
        self.base_rate = (self.limit * factor).max(MIN_RATE);
        self.enter(Phase::Measuring, now_ms, totals);
    }

    /// The next rate to measure at, up from the lower bound `limit` by `step`:
    /// no further than halfway (geometrically) to a rate already refused, and
    /// close under that rate, the rate itself (refused, it measures the limit).
    fn step_up(&mut self, step: f64) {
        self.lower_bound = true;
        self.base_rate = self.limit * step;
        if self.above <= self.limit {
            // Refused once, accepted since: it was no bound.
            self.above = f64::INFINITY;
        }
        if self.above.is_finite() {
            if self.above <= self.limit * (1.0 + SAME_LIMIT) {
                self.lower_bound = false;
                self.base_rate = self.above;
            } else {
                self.base_rate = self.base_rate.min((self.limit * self.above).sqrt());
            }
        }
        self.base_rate = self.base_rate.max(MIN_RATE);
    }

    /// Moves on with time: a measurement the account took whole (since it
    /// began, or since the gateway reopened) ends after its shortest length, and
    /// the next one sends above it; one whose cycle never closed (a client
    /// sending too little, a gateway closed longer than ever seen) ends at its
    /// longest, with what was accepted.
    pub(super) fn advance(&mut self, now_ms: f64, totals: Totals) {
        if self.phase == Phase::Holding && now_ms - self.since_ms >= 1000.0 * self.hold_s {
            // The hold is over: measure again, a little above, to see whether the limit grew.
            self.measure_above_held(CONFIRM_ABOVE, true, now_ms, totals);
            return;
        }
        if self.phase != Phase::Measuring || self.closed_since_ms.is_some() {
            // While the gateway is closed, its reopening is what the measurement
            // waits for (the schedule keeps the calls back meanwhile).
            return;
        }
        let (from_ms, from_accepted) = self.cycle_start.unwrap_or((self.since_ms, self.at_start.accepted));
        let elapsed = now_ms - from_ms;
        let accepted = totals.accepted.saturating_sub(from_accepted) as f64;
        let shortest = self.measure_ms();
        // Calls all accepted before the limit is believed higher: sending a
        // share e above a limit costs a refusal about every 1/e calls (after a
        // token bucket's saved tokens, which is why a step up is undone cheaply).
        let known = self.limit.is_finite() && !self.lower_bound;
        let (unrefused_calls, unrefused_ms) = if known {
            let above = (self.base_rate / self.limit - 1.0).max(0.01);
            ((2.0 / above).max(20.0), 2.0 * MEASURE_MS)
        } else {
            // At a rate too low to send 5 calls in 2 s, what 2 s allow.
            ((2.0 * self.base_rate).clamp(1.0, 5.0), MEASURE_MS)
        };
        // Time enough to send those calls, too, and two of the gateway's
        // windows: a rate above a window's quota is refused only once the
        // quota is spent, which a measurement begun mid-window may not reach in one.
        let unrefused_ms = unrefused_ms
            .max(1100.0 * unrefused_calls / self.base_rate.max(MIN_RATE))
            .max(2000.0 * self.closed_for_s.max(1.0));
        let sent_at_rate = accepted * 1000.0 >= 0.5 * elapsed * self.base_rate;
        if self.refused_now == 0 && elapsed >= unrefused_ms && accepted >= unrefused_calls && sent_at_rate {
            // All of it accepted: the limit is higher. Measure again, above,
            // by more each time in a row.
            // Never measured yet (a first search from almost nothing, say):
            // double; else step up, by more each time in a row.
            let step = if self.first_climb() {
                2.0
            } else if self.lower_bound {
                MEASURE_STEPS.1
            } else {
                MEASURE_STEPS.0
            };
            self.limit = (accepted * 1000.0 / elapsed).max(self.base_rate);
            self.step_up(step);
            self.enter(Phase::Measuring, now_ms, totals);
            return;
        }
        let longest =
            (MEASURE_GIVE_UP * shortest.max(1000.0 * self.closed_for_s)).max(unrefused_ms + shortest);
        if now_ms - self.since_ms >= longest {
            // Refused or not, what was accepted is what the account gave;
            // unrefused, the last good rate stands at least.
            let rate = accepted * 1000.0 / elapsed.max(1.0);
            let limit = if self.refused_now > 0 { rate } else { rate.max(self.base_rate / MEASURE_ABOVE) };
            self.measured(now_ms, totals, limit, true);
        }
    }

    /// An attempt sent under `epoch` was refused. `accepted_rate` is what the
    /// account accepted over the last second; `ceiling` the caller's cap.
    pub(super) fn refused(&mut self, now_ms: f64, epoch: u64, totals: Totals, accepted_rate: f64) {
        // Refusals while the gateway stays closed from before this phase began
        // (a window spent) are that closing's, whatever this phase sends at.
        let closed_before = self.closed_since_ms.is_some_and(|since| since <= self.since_ms);
        self.closed_since_ms.get_or_insert(now_ms);
        if epoch == self.epoch {
            let measuring = self.phase == Phase::Measuring;
            if measuring && self.lower_bound && closed_before {
                // The step's own rate has not been refused yet.
                return;
            }
            self.refused_now += 1;
            let first = measuring && self.refused_now == 1;
            if first && self.confirming && (!self.lower_bound || self.limit <= self.held * (1.0 + SAME_LIMIT))
            {
                // A check just above the held limit was refused, at once or
                // after steps up no further than a token bucket's saved burst
                // explains: the limit has not grown by more than the step, so it
                // stands, and the check ends here (a whole cycle above it would
                // cost a refusal per window for nothing).
                let held = self.held;
                self.measured(now_ms, totals, held, true);
                return;
            }
            if first && self.lower_bound {
                // A step above an unrefused rate was too far: no longer a check
                // of the held limit, a measurement of a new one, which lies
                // between the bound and this rate.
                self.confirming = false;
                self.above = self.above.min(self.base_rate);
                self.step_up(f64::INFINITY);
                self.enter(Phase::Measuring, now_ms, totals);
                return;
            }
            if let (Phase::Measuring, Some((start_ms, at))) = (self.phase, self.cycle_start) {
                // Most of a cycle refused: far above the limit, where what is
                // accepted is the limit. Measure again just above that.
                let accepted = totals.accepted.saturating_sub(at);
                if self.refused_now >= FAR_ABOVE_REFUSED
                    && self.refused_now > accepted
                    && now_ms - start_ms >= 250.0
                {
                    let rate = accepted as f64 * 1000.0 / (now_ms - start_ms);
                    self.base_rate = (rate * MEASURE_ABOVE).clamp(MIN_RATE, self.base_rate);
                    self.enter(Phase::Measuring, now_ms, totals);
                    return;
                }
            }
        }
        self.advance(now_ms, totals);
        if matches!(self.phase, Phase::Announced | Phase::Measuring) {
            // An announced quota rules (the schedule waits for its reset); a
            // measurement counts refusals as they come.
            return;
        }
        if epoch != self.epoch {
            return;
        }
        let nominal = self.rate(now_ms, f64::INFINITY).unwrap_or(f64::INFINITY);
        match self.phase {
            Phase::Open => {
                self.base_rate = accepted_rate.max(MIN_RATE);
                self.enter(Phase::Searching, now_ms, totals);
            }
            Phase::Searching => {
                self.base_rate = nominal.min(accepted_rate.max(self.base_rate)) * MEASURE_ABOVE;
                self.enter(Phase::Measuring, now_ms, totals);
            }
            Phase::Holding => {
                // The limit moved down under the held rate (or others of the
                // account took more): measure it again.
                self.measure_above_held(MEASURE_ABOVE, false, now_ms, totals);
            }
            Phase::Measuring | Phase::Announced => {}
        }
    }

    /// A process joins the account's state with `own_rate`, the rate the
    /// account accepted of its calls while it paced alone (they are in none
    /// of the account's counts). While the account climbs to its first limit
    /// (the first search, and the measurements stepping up from it), its rates
    /// were the shares of the processes that had joined: the climb goes on
    /// from the account's rate, the sum of its processes' shares, and a
    /// measurement begins anew so that it counts the joined process's calls
    /// from its start.
    pub(super) fn joined(&mut self, own_rate: f64, now_ms: f64, totals: Totals) {
        if !own_rate.is_finite() || own_rate <= 0.0 {
            return;
        }
        match self.phase {
            Phase::Searching => self.base_rate += own_rate,
            Phase::Measuring if self.first_climb() => {
                self.base_rate += own_rate;
                if self.limit.is_finite() {
                    self.limit += own_rate;
                }
                if self.above.is_finite() {
                    self.above += own_rate;
                }
                self.enter(Phase::Measuring, now_ms, totals);
            }
            _ => {}
        }
    }

    /// The gateway announced a quota of `limit` calls per second (its quota over
    /// its window of `window_s` seconds).
    pub(super) fn announced(&mut self, now_ms: f64, limit: f64, window_s: f64, totals: Totals) {
        let changed = self.phase != Phase::Announced || (limit - self.limit).abs() > 1e-9 * limit;
        self.limit = limit.max(MIN_RATE);
        self.window_s = window_s;
        self.lower_bound = false;
        if changed {
            self.enter(Phase::Announced, now_ms, totals);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(sent: u64, accepted: u64, refused: u64) -> Totals {
        Totals { sent, accepted, refused }
    }

    #[test]
    fn open_until_a_refusal_then_a_search_from_what_was_accepted() {
        let mut e = Estimate::default();
        assert_eq!(e.rate(0.0, 100.0), None);
        e.refused(1000.0, 0, totals(100, 99, 1), 40.0);
        assert_eq!(e.phase, Phase::Searching);
        assert_eq!(e.rate(1000.0, 100.0), Some(40.0));
        assert!((e.rate(3000.0, 100.0).unwrap() - 160.0).abs() < 1e-9, "doubles every second");
        assert_eq!(e.rate(3000.0, 10.0), Some(40.0), "not past twice the demand");
    }

    #[test]
    fn processes_joining_the_first_climb_add_their_shares() {
        let mut e = Estimate::default();
        e.joined(30.0, 900.0, totals(10, 10, 0));
        assert_eq!(e.phase, Phase::Open, "nothing to join before a refusal");
        // The first process's refusal: its quarter of the account.
        e.refused(1000.0, 0, totals(100, 99, 1), 40.0);
        for _ in 0..3 {
            e.joined(40.0, 1000.0, totals(100, 99, 1));
        }
        assert_eq!(e.rate(1000.0, 1000.0), Some(160.0), "the account's rate, the four shares");
        // Refused before the others joined, the first measurement sent at one share.
        let mut e = Estimate::default();
        e.refused(1000.0, 0, totals(100, 99, 1), 40.0);
        e.refused(1100.0, e.epoch, totals(105, 103, 2), 40.0);
        assert_eq!(e.phase, Phase::Measuring);
        let (rate, epoch) = (e.base_rate, e.epoch);
        e.joined(120.0, 1200.0, totals(110, 108, 2));
        assert_eq!(
            (e.phase, e.base_rate),
            (Phase::Measuring, rate + 120.0),
            "measures at the account's rate"
        );
        assert!(e.epoch > epoch && e.at_start == totals(110, 108, 2), "counting from the join");
        // Once a limit is measured, a share says nothing of it.
        e.measured(3000.0, totals(500, 480, 5), 150.0, true);
        let before = e.clone();
        e.joined(40.0, 3100.0, totals(520, 500, 5));
        assert_eq!(e, before);
    }

    #[test]
    fn a_measurement_counts_from_one_reopening_to_the_next() {
        let mut e = Estimate::default();
        e.refused(0.0, 0, totals(10, 9, 1), 20.0);
        let epoch = e.epoch;
        e.refused(2000.0, epoch, totals(80, 70, 2), 40.0);
        assert_eq!(e.phase, Phase::Measuring);
        assert_eq!(e.rate(2000.0, 100.0), Some(40.0 * MEASURE_ABOVE), "what was accepted, a little above");
        // The first call accepted after the refusal starts the cycle...
        e.accepted(2100.0, 2100.0 - 10.0, totals(81, 71, 2));
        assert_eq!(e.cycle_start, Some((2100.0, 70)));
        // ...acceptances without a refusal between change nothing...
        e.accepted(2500.0, 2500.0 - 10.0, totals(100, 90, 2));
        e.refused(2900.0, e.epoch, totals(125, 115, 3), 40.0);
        e.accepted(2950.0, 2950.0 - 10.0, totals(126, 116, 3));
        assert_eq!(e.phase, Phase::Measuring, "a reopening before the shortest length goes on");
        e.refused(3050.0, e.epoch, totals(130, 120, 4), 40.0);
        // ...and the reopening a second on closes it: 50 accepted in 1 s.
        e.accepted(3100.0, 3100.0 - 10.0, totals(131, 121, 4));
        assert_eq!(e.phase, Phase::Holding);
        assert!((e.limit - 50.0).abs() < 1e-9, "{}", e.limit);
        assert_eq!(e.rate(3100.0, 100.0), Some(50.0 * MARGIN));
        e.advance(3100.0 + 1000.0 * MIN_HOLD_S - 1.0, totals(131, 121, 4));
        assert_eq!(e.phase, Phase::Holding);
        // After the hold, a measurement just above the limit looks for more.
        e.advance(3100.0 + 1000.0 * MIN_HOLD_S, totals(131, 121, 4));
        assert_eq!(e.phase, Phase::Measuring);
        assert!((e.rate(3100.0 + 1000.0 * MIN_HOLD_S, 100.0).unwrap() - 50.0 * CONFIRM_ABOVE).abs() < 1e-9);
    }

    #[test]
    fn a_long_window_is_measured_over_the_whole_window() {
        // A window of 100 calls per 10 s, spent at once: closed for 9 s.
        let mut e = Estimate { phase: Phase::Measuring, base_rate: 200.0, ..Estimate::default() };
        e.refused(1000.0, e.epoch, totals(101, 100, 1), 100.0);
        e.refused(3000.0, e.epoch, totals(102, 100, 2), 100.0);
        e.advance(5000.0, totals(102, 100, 2));
        assert_eq!(e.phase, Phase::Measuring, "closed is not unrefused");
        e.accepted(10_000.0, 10_000.0 - 10.0, totals(103, 101, 2));
        assert!((e.closed_for_s - 8.99).abs() < 1e-9, "{}", e.closed_for_s);
        e.refused(10_600.0, e.epoch, totals(300, 200, 3), 100.0);
        e.accepted(20_000.0, 20_000.0 - 10.0, totals(301, 201, 3));
        assert_eq!(e.phase, Phase::Holding);
        assert!((e.limit - 10.0).abs() < 1e-9, "{}", e.limit);
    }

    #[test]
    fn probes_that_find_the_same_limit_hold_longer() {
        let mut e =
            Estimate { phase: Phase::Holding, limit: 100.0, hold_s: MIN_HOLD_S, ..Estimate::default() };
        let first_hold = e.hold_s;
        let probe_at = 1000.0 * (MIN_HOLD_S + 0.5);
        e.refused(probe_at, e.epoch, totals(0, 0, 1), 99.0);
        assert_eq!(e.phase, Phase::Measuring);
        e.accepted(probe_at + 10.0, probe_at + 10.0 - 10.0, totals(1, 1, 1));
        e.refused(probe_at + 900.0, e.epoch, totals(100, 90, 2), 99.0);
        e.accepted(probe_at + 1010.0, probe_at + 1010.0 - 10.0, totals(102, 101, 2));
        assert!((e.limit - 100.0).abs() < 1.0, "{}", e.limit);
        assert!(e.hold_s > first_hold);
    }

    #[test]
    fn a_check_above_the_held_limit_ends_at_its_first_refusal() {
        let mut e =
            Estimate { phase: Phase::Holding, limit: 100.0, hold_s: MIN_HOLD_S, ..Estimate::default() };
        let check_at = 1000.0 * MIN_HOLD_S;
        e.advance(check_at, totals(0, 0, 0));
        assert!(e.phase == Phase::Measuring && e.confirming);
        e.refused(check_at + 300.0, e.epoch, totals(30, 29, 1), 100.0);
        assert_eq!(e.phase, Phase::Holding, "one refusal: the limit has not grown");
        assert_eq!(e.limit, 100.0);
        assert!(e.hold_s > MIN_HOLD_S, "the same limit again: a longer hold");
    }

    #[test]
    fn a_check_that_climbs_past_the_held_limit_measures_the_new_one() {
        let mut e = Estimate {
            phase: Phase::Measuring,
            confirming: true,
            held: 100.0,
            limit: 300.0,
            lower_bound: true,
            base_rate: 345.0,
            ..Estimate::default()
        };
        e.refused(1000.0, e.epoch, totals(300, 299, 1), 300.0);
        assert_eq!(e.phase, Phase::Measuring);
        assert!(!e.confirming, "a new limit, no longer a check of the held one");
        e.refused(1500.0, e.epoch, totals(450, 448, 2), 300.0);
        assert_eq!(e.phase, Phase::Measuring, "its refusals are its measurement");
    }

    #[test]
    fn an_unrefused_measurement_is_a_lower_bound() {
        let mut e = Estimate { phase: Phase::Measuring, base_rate: 80.0, ..Estimate::default() };
        e.advance(MEASURE_MS, totals(80, 80, 0));
        assert!(!e.lower_bound, "one second may sit inside one window");
        e.advance(2.0 * MEASURE_MS, totals(160, 160, 0));
        assert!(e.lower_bound);
        assert_eq!(e.limit, 80.0);
        assert_eq!(e.hold_s, MIN_HOLD_S);
    }

    #[test]
    fn an_unrefused_measurement_lasts_two_of_the_longest_closings() {
        // A window once stayed closed for 4 s: its quota may last 4 s at a rate above it.
        let mut e =
            Estimate { phase: Phase::Measuring, base_rate: 80.0, closed_for_s: 4.0, ..Estimate::default() };
        e.advance(5000.0, totals(400, 400, 0));
        assert!(!e.lower_bound);
        e.advance(8000.0, totals(640, 640, 0));
        assert!(e.lower_bound);
    }

    #[test]
    fn a_refused_step_up_measures_between_the_bound_and_the_refused_rate() {
        let mut e = Estimate {
            phase: Phase::Measuring,
            limit: 25.0,
            lower_bound: true,
            base_rate: 100.0,
            ..Estimate::default()
        };
        e.refused(1000.0, e.epoch, totals(100, 99, 1), 90.0);
        assert_eq!(e.phase, Phase::Measuring);
        assert!(e.lower_bound, "still above a lower bound");
        assert!((e.base_rate - 50.0).abs() < 1e-9, "halfway, geometrically: {}", e.base_rate);
        assert_eq!(e.above, 100.0);
        // Accepted at 50: the next step stops halfway to 100...
        let epoch = e.epoch;
        e.accepted(1100.0, 1050.0, totals(101, 100, 1));
        e.advance(1100.0 + 2.0 * MEASURE_MS, totals(200, 199, 1));
        assert!(e.epoch > epoch && e.lower_bound);
        assert!((e.base_rate - (50.0f64 * 100.0).sqrt()).abs() < 1e-6, "{}", e.base_rate);
        // ...and once close under the refused rate, measures at it.
        e.refused(3500.0, e.epoch, totals(300, 298, 2), 70.0);
        assert!((e.above - 70.71).abs() < 0.01);
        e.limit = 66.0;
        e.step_up(2.0);
        assert!(!e.lower_bound && (e.base_rate - e.above).abs() < 1e-9, "{e:?}");
    }

    #[test]
    fn refusals_of_a_window_closed_before_a_step_began_are_not_the_steps() {
        let mut e = Estimate {
            phase: Phase::Measuring,
            limit: 40.0,
            lower_bound: true,
            base_rate: 46.0,
            since_ms: 1000.0,
            closed_since_ms: Some(990.0),
            ..Estimate::default()
        };
        e.refused(1010.0, e.epoch, totals(50, 40, 3), 40.0);
        assert_eq!((e.phase, e.base_rate, e.lower_bound), (Phase::Measuring, 46.0, true));
        assert_eq!(e.refused_now, 0);
    }

    #[test]
    fn a_measurement_that_sends_too_little_keeps_the_last_good_rate() {
        let mut e = Estimate { phase: Phase::Measuring, base_rate: 103.0, ..Estimate::default() };
        e.advance(2000.0, totals(5, 5, 0));
        assert_eq!(e.phase, Phase::Measuring);
        e.advance(MEASURE_GIVE_UP * MEASURE_MS, totals(5, 5, 0));
        assert_eq!(e.phase, Phase::Holding);
        assert!((e.limit - 100.0).abs() < 1e-9);
    }

    #[test]
    fn a_stale_refusal_changes_nothing() {
        let mut e = Estimate { phase: Phase::Holding, limit: 100.0, epoch: 3, ..Estimate::default() };
        e.refused(100.0, 2, totals(0, 0, 1), 50.0);
        assert_eq!(e.phase, Phase::Holding);
    }

    #[test]
    fn an_announced_quota_is_held_without_probing() {
        let mut e = Estimate::default();
        e.announced(0.0, 10.0, 60.0, Totals::default());
        assert_eq!(e.rate(600_000.0, 100.0), Some(10.0 * MARGIN));
        e.refused(1.0, e.epoch, totals(1, 0, 1), 0.0);
        assert_eq!(e.phase, Phase::Announced);
    }

    #[test]
    fn a_ceiling_holds_at_itself() {
        let mut e = Estimate::at_ceiling(25.0);
        e.advance(1e9, Totals::default());
        assert_eq!(e.phase, Phase::Holding, "never measured above");
        assert!((e.rate(1e9, 1e9).unwrap() - 25.0).abs() < 1e-9);
    }
}
