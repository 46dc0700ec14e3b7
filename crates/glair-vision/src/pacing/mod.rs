//! Adaptive pacing: one per client, shared by every call made through it (single
//! calls from many tasks, batches, streams), so that a client finds the account's
//! rate limit by itself and holds it.
//!
//! Until the first 429 the pacer costs three atomic counters per attempt and
//! never waits. A 429 engages it: the send rate drops to a fraction of the rate
//! at which throttling happened (what the account accepted over the last
//! second, which a burst allowance inflates less than the rate sent), calls
//! start evenly spaced, and a `Retry-After` pauses every call of the client
//! (with a little jitter, so that clients throttled together do not come back
//! together). The first 429 says little of the limit (a burst hit it), so the
//! rate then grows by half every second until the next 429. From then on it
//! climbs back CUBIC-style (as the AWS SDKs' adaptive retry mode): quickly at
//! first, flat just below the rate that was throttled, then probing above it,
//! and searching again (by half every second) once the probe is well past it.
//!
//! Probing that finds the same limit again and again makes the client hold
//! just below it for longer (up to 30 s). A 429 while holding or climbing means
//! the account's room shrank (other processes of the account grew), so the
//! client probes again soon instead: clients of one account keep competing for
//! it, and when the others finish the last one reclaims it in seconds. That
//! is for clients on separate hosts: the processes of one user on one host
//! that use the same account share one pacer state (`shared.rs`), so they
//! pace as one client. Once engaged, calls take send slots one at a time.
//!
//! A fixed [`RateLimit`] is a hard ceiling: the pacer then starts engaged at
//! that rate and never exceeds it. The pacer's behaviour against a simulated
//! account (one client; four clients sharing it, apart or on one host) is tested in virtual time in
//! `simulation.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) use accounts::AccountPacers;
use meter::RateMeter;
use shared::{Record, SharedAccount};

mod accounts;
mod meter;
mod shared;

/// How fast a client (or a batch) may send.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum RateLimit {
    /// Find the account's pace: no limit until the server throttles (429), then
    /// the adaptive rate. The default.
    #[default]
    Auto,
    /// At most this many calls started per second (a hard ceiling); adaptive below it.
    Fixed(f64),
}

impl RateLimit {
    /// The ceiling, if it is a usable one (positive and finite).
    pub fn ceiling(self) -> Option<f64> {
        match self {
            RateLimit::Fixed(r) if r.is_finite() && r > 0.0 => Some(r),
            _ => None,
        }
    }
}

impl From<f64> for RateLimit {
    fn from(per_second: f64) -> RateLimit {
        RateLimit::Fixed(per_second)
    }
}

impl From<Option<f64>> for RateLimit {
    /// `None` is [`RateLimit::Auto`].
    fn from(per_second: Option<f64>) -> RateLimit {
        per_second.map_or(RateLimit::Auto, RateLimit::Fixed)
    }
}

/// The pacer's state, for progress displays and logs ([`crate::Vision::pacing`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacingSnapshot {
    /// Calls started per second now; `None` while unlimited (no 429 seen, no ceiling).
    pub rate: Option<f64>,
    /// The configured ceiling ([`RateLimit::Fixed`]).
    pub ceiling: Option<f64>,
    /// Attempts sent (first attempts and retries).
    pub sent: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Attempts answered 429.
    pub throttled: u64,
    /// Attempts answered with a verification (2xx): the calls billed.
    pub succeeded: u64,
    /// Whether a `Retry-After` holds every call back now.
    pub paused: bool,
}

/// The growth constant of the cubic (calls/s per s³), as the AWS SDKs use it.
const C: f64 = 0.4;
/// The share of the throttled rate kept after a 429.
const BETA: f64 = 0.8;
/// The rate held is this much below the throttled one.
const PLATEAU: f64 = 0.93;
/// The lowest adaptive rate.
const MIN_RATE: f64 = 0.5;
/// How long the plateau is held once the same rate was throttled twice, and at most.
const FIRST_HOLD: f64 = 5.0;
const MAX_HOLD: f64 = 30.0;
/// Throttled rates within this share of each other count as the same limit.
const SAME_LIMIT: f64 = 0.15;
/// Growth per second while searching (between the first 429 and the second, and
/// once a probe is this share above the plateau).
const SEARCH_GROWTH: f64 = 1.5;
const SEARCH_AFTER: f64 = 0.5;
/// The window over which the account's accepted rate is measured at a 429.
const ACCEPTED_WINDOW: f64 = 1.0;
/// Added to a `Retry-After` pause, at random, as a share of it.
const PAUSE_JITTER: f64 = 0.1;

/// A slot taken from the pacer: which rate it was sent under.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Permit {
    epoch: u64,
}

pub(crate) struct Pacer {
    ceiling: Option<f64>,
    /// False until the first 429 (with no ceiling): calls do not wait or lock.
    engaged: AtomicBool,
    state: Mutex<State>,
    /// Held by the call taking the next slot (first come, first served).
    turn: tokio::sync::Mutex<()>,
    /// Attempts sent, and calls answered (not throttled).
    sent_meter: RateMeter,
    accepted_meter: RateMeter,
    /// Milliseconds on the timeline until which every call waits (0: none).
    paused_until_ms: AtomicU64,
    timeline: Timeline,
    /// The account's state shared with this user's other processes, if it is.
    shared: Option<SharedAccount>,
    sent: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    succeeded: AtomicU64,
}

/// Where the pacer's instants sit in milliseconds: the wall clock, which every
/// process of the host reads alike (read afresh at each step when the state is
/// shared, so that clocks drifting apart over a long run do not skew it), or
/// for a pacer of its own, a fixed offset from its monotonic clock.
struct Timeline {
    origin: Instant,
    origin_ms: f64,
    follow_wall: bool,
}

/// One reading of the timeline: `now` and where it sits.
#[derive(Clone, Copy)]
struct Clock {
    now: Instant,
    now_ms: f64,
}

impl Timeline {
    /// Milliseconds since the pacer was made.
    fn own() -> Timeline {
        Timeline { origin: Instant::now(), origin_ms: 0.0, follow_wall: false }
    }

    fn wall() -> Timeline {
        Timeline { origin: Instant::now(), origin_ms: wall_ms(), follow_wall: true }
    }

    /// Pacers that share a state in a test in paused time: one fixed origin.
    #[cfg(test)]
    fn anchored(origin_ms: f64) -> Timeline {
        Timeline { origin: Instant::now(), origin_ms, follow_wall: false }
    }

    fn read(&self, now: Instant) -> Clock {
        let now_ms = if self.follow_wall { wall_ms() } else { self.origin_ms + signed_ms(now, self.origin) };
        Clock { now, now_ms }
    }
}

impl Clock {
    fn ms(&self, at: Instant) -> f64 {
        self.now_ms + signed_ms(at, self.now)
    }

    fn millis(&self, at: Instant) -> u64 {
        self.ms(at).max(0.0) as u64
    }

    /// The instant at `ms` (within a day of now: anything further is not a time
    /// this pacer would have written).
    fn at(&self, ms: f64) -> Instant {
        const DAY_MS: f64 = 86_400_000.0;
        let offset = (ms - self.now_ms).clamp(-DAY_MS, DAY_MS);
        let d = Duration::from_secs_f64(offset.abs() / 1000.0);
        if offset >= 0.0 {
            self.now + d
        } else {
            self.now.checked_sub(d).unwrap_or(self.now)
        }
    }
}

fn signed_ms(a: Instant, b: Instant) -> f64 {
    if a >= b {
        (a - b).as_secs_f64() * 1000.0
    } else {
        -((b - a).as_secs_f64() * 1000.0)
    }
}

fn wall_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

struct State {
    /// Raised at every rate reduction; 429s of attempts sent before it are
    /// already accounted for (one reduction per round, as TCP does).
    epoch: u64,
    /// The rate throttled last (with a ceiling and no 429 yet: the ceiling's plateau).
    w_max: f64,
    /// After the first 429 and before the second: growing exponentially from `floor`.
    searching: bool,
    /// The rate right after the last reduction.
    floor: f64,
    /// When the climb started (the end of the pause that came with the 429).
    climb_from: Instant,
    /// Seconds from `climb_from` to the plateau, and how long it is held.
    k: f64,
    hold: f64,
    /// The start of the next free slot.
    next_slot: Instant,
    paused_until: Instant,
}

impl State {
    fn plateau(&self, ceiling: Option<f64>) -> f64 {
        let p = self.w_max * PLATEAU;
        ceiling.map_or(p, |c| p.min(c))
    }

    /// The rate at `now`: a cubic from `floor` up to the plateau, held, then
    /// probing above it (no faster than twice what the caller actually sends).
    fn rate_at(&self, now: Instant, ceiling: Option<f64>, demand: f64) -> f64 {
        let t = now.saturating_duration_since(self.climb_from).as_secs_f64();
        let p = self.plateau(ceiling);
        let r = if self.searching {
            let grown = self.floor * SEARCH_GROWTH.powf(t.min(60.0));
            grown.min(self.floor.max(2.0 * demand)).min(p)
        } else if t < self.k {
            p - C * (self.k - t).powi(3)
        } else if t < self.k + self.hold {
            p
        } else {
            // Cubic at first; once well above the plateau the limit has clearly
            // moved (other clients of the account stopped): search as after the
            // first 429, so that a lone client reclaims the account in seconds.
            let probing_for = t - self.k - self.hold;
            let search_from = (SEARCH_AFTER * p / C).cbrt();
            let probe = if probing_for < search_from {
                p + C * probing_for.powi(3)
            } else {
                (1.0 + SEARCH_AFTER) * p * SEARCH_GROWTH.powf((probing_for - search_from).min(60.0))
            };
            probe.min(p.max(2.0 * demand))
        };
        let r = r.max(self.floor.min(p)).max(MIN_RATE);
        ceiling.map_or(r, |c| r.min(c))
    }
}

impl Pacer {
    /// A pacer of this process's own.
    #[cfg(test)]
    pub(crate) fn new(limit: RateLimit) -> Pacer {
        Pacer::with_shared(limit, None, Timeline::own())
    }

    /// The pacer of the account at `endpoint` with `api_key`: with no ceiling,
    /// shared with this user's other processes where it can be ([`shared`]). A
    /// ceiling stays per process: it is a cap the caller set on this client.
    pub(crate) fn for_account(limit: RateLimit, endpoint: &str, api_key: &[u8]) -> Pacer {
        let shared = match limit.ceiling() {
            None => SharedAccount::for_account(endpoint, api_key),
            Some(_) => None,
        };
        let timeline = if shared.is_some() { Timeline::wall() } else { Timeline::own() };
        Pacer::with_shared(limit, shared, timeline)
    }

    /// A pacer sharing the account at `endpoint` through `dir`, on a timeline
    /// every such pacer of the test shares (paused time, not the wall clock).
    #[cfg(test)]
    pub(crate) fn shared_for_test(dir: &std::path::Path, endpoint: &str) -> Pacer {
        let shared = SharedAccount::in_dir(dir, endpoint, b"test-key").expect("a private directory");
        Pacer::with_shared(RateLimit::Auto, Some(shared), Timeline::anchored(1.8e12))
    }

    fn with_shared(limit: RateLimit, shared: Option<SharedAccount>, timeline: Timeline) -> Pacer {
        let ceiling = limit.ceiling();
        let now = Instant::now();
        // With a ceiling, start at it: the plateau is the ceiling itself.
        let w = ceiling.map_or(f64::INFINITY, |c| c / PLATEAU);
        Pacer {
            ceiling,
            engaged: AtomicBool::new(ceiling.is_some()),
            state: Mutex::new(State {
                epoch: 0,
                w_max: w,
                searching: false,
                floor: ceiling.unwrap_or(f64::INFINITY),
                climb_from: now,
                k: 0.0,
                hold: 0.0,
                next_slot: now,
                paused_until: now,
            }),
            turn: tokio::sync::Mutex::new(()),
            sent_meter: RateMeter::default(),
            accepted_meter: RateMeter::default(),
            paused_until_ms: AtomicU64::new(0),
            timeline,
            shared,
            sent: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn clock(&self) -> Clock {
        self.timeline.read(Instant::now())
    }

    /// Runs `step` on the account's state: with shared pacing, on the state as
    /// the account's processes left it (read before, written back after, under
    /// the account's lock); otherwise on this pacer's own. A pacer joins the
    /// shared state at its own first 429 (`joining`), not before: a client
    /// that is never throttled is never slowed by what other clients of the
    /// account did (an earlier test's scripted 429 on the same sandbox, say).
    fn step<R>(&self, clock: Clock, joining: bool, step: impl FnOnce() -> R) -> R {
        let Some(shared) = &self.shared else { return step() };
        if !joining && !self.engaged.load(Ordering::Acquire) {
            return step();
        }
        shared.transact(clock.millis(clock.now), |current| {
            if let Some(record) = current {
                self.load(&record, clock);
            }
            let out = step();
            let record = self.engaged.load(Ordering::Acquire).then(|| self.save(clock));
            (out, record)
        })
    }

    fn load(&self, r: &Record, clock: Clock) {
        let mut st = self.lock();
        st.epoch = r.epoch;
        st.w_max = r.w_max;
        st.searching = r.searching;
        st.floor = r.floor;
        st.climb_from = clock.at(r.climb_from_ms);
        st.k = r.k;
        st.hold = r.hold;
        st.next_slot = clock.at(r.next_slot_ms);
        st.paused_until = clock.at(r.paused_until_ms);
        drop(st);
        self.sent_meter.set_raw(r.sent);
        self.accepted_meter.set_raw(r.accepted);
        self.paused_until_ms.store(r.paused_until_ms as u64, Ordering::Release);
        if r.engaged {
            self.engaged.store(true, Ordering::Release);
        }
    }

    fn save(&self, clock: Clock) -> Record {
        let st = self.lock();
        Record {
            engaged: true,
            searching: st.searching,
            epoch: st.epoch,
            w_max: st.w_max,
            floor: st.floor,
            climb_from_ms: clock.ms(st.climb_from),
            k: st.k,
            hold: st.hold,
            next_slot_ms: clock.ms(st.next_slot),
            paused_until_ms: clock.ms(st.paused_until),
            sent: self.sent_meter.raw(),
            accepted: self.accepted_meter.raw(),
        }
    }

    /// Waits for this attempt's slot. `Err(start)` when the slot would start
    /// after `deadline`: at once and without taking a slot once it is this
    /// call's turn, or at the deadline if the calls ahead hold it that long.
    pub(crate) async fn acquire(&self, deadline: Instant, retry: bool) -> Result<Permit, Instant> {
        let clock = self.clock();
        if !self.engaged.load(Ordering::Acquire) {
            self.count_sent(retry);
            self.sent_meter.tick(clock.millis(clock.now));
            return Ok(Permit { epoch: 0 });
        }
        // One call at a time takes the next slot, and only once the one before
        // is used: slots taken far ahead (a thousand calls waiting at 10/s)
        // would keep the rate they were taken at long after it has grown.
        let Ok(_turn) = tokio::time::timeout_at(deadline, self.turn.lock()).await else {
            return Err(deadline);
        };
        loop {
            let clock = self.clock();
            let (start, epoch) = self.step(clock, false, || {
                let mut st = self.lock();
                let now = clock.now;
                let rate = st.rate_at(now, self.ceiling, self.sent_meter.peak(clock.millis(now)));
                let start = now.max(st.next_slot).max(st.paused_until);
                if start <= deadline {
                    st.next_slot = start + Duration::from_secs_f64(1.0 / rate);
                }
                (start, st.epoch)
            });
            if start > deadline {
                return Err(start);
            }
            if start > clock.now {
                tokio::time::sleep_until(start).await;
            }
            // A pause that began while this call waited holds it back too.
            let clock = self.clock();
            let sending = self.step(clock, false, || {
                let free = self.paused_until_ms.load(Ordering::Acquire) <= clock.millis(clock.now);
                if free {
                    self.sent_meter.tick(clock.millis(clock.now));
                }
                free
            });
            if sending {
                self.count_sent(retry);
                return Ok(Permit { epoch });
            }
        }
    }

    fn count_sent(&self, retry: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An attempt answered with a verification: billed, and accepted by the account.
    pub(crate) fn succeeded(&self) {
        self.answered();
        self.succeeded.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt the server answered other than 429: it passed the account's limit.
    /// Counted only once engaged: what was accepted is read at a 429, over the
    /// time since calls resumed, which is never before the pacer engaged.
    pub(crate) fn answered(&self) {
        if self.engaged.load(Ordering::Acquire) {
            let clock = self.clock();
            self.step(clock, false, || self.accepted_meter.tick(clock.millis(clock.now)));
        }
    }

    /// An attempt sent under `permit` was answered 429: pause everyone for the
    /// `Retry-After` (at most `max_pause`), and lower the rate unless this round
    /// of sends was already throttled.
    pub(crate) fn throttled(&self, permit: Permit, retry_after: Option<Duration>, max_pause: Duration) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let clock = self.clock();
        self.step(clock, true, || self.lower(clock, permit, retry_after, max_pause));
    }

    fn lower(&self, clock: Clock, permit: Permit, retry_after: Option<Duration>, max_pause: Duration) {
        let now = clock.now;
        let mut st = self.lock();
        // When calls last resumed (before this 429's own pause).
        let resumed = clock.millis(st.paused_until.max(st.climb_from));
        if let Some(wait) = retry_after.map(|w| w.min(max_pause)) {
            let until = now + wait + wait.mul_f64(PAUSE_JITTER * fastrand::f64());
            if until > st.paused_until {
                st.paused_until = until;
                self.paused_until_ms.store(clock.millis(until), Ordering::Release);
            }
        }
        if permit.epoch != st.epoch {
            return;
        }
        let first = !self.engaged.load(Ordering::Acquire);
        let demand = self.sent_meter.peak(clock.millis(now));
        // Unpaced until now: the rate actually sent is the one that was throttled.
        let throttled_at = if !first {
            let nominal = st.rate_at(now, self.ceiling, demand);
            // What the account accepted since calls resumed, which a burst inflates
            // less than the nominal rate (probing goes on while the burst drains).
            let accepted = self.accepted_meter.mean_since(clock.millis(now), resumed, ACCEPTED_WINDOW);
            accepted.map_or(nominal, |a| a.min(nominal))
        } else {
            demand
        }
        .max(MIN_RATE);
        let same = (throttled_at - st.w_max).abs() <= SAME_LIMIT * st.w_max.min(throttled_at);
        let t = now.saturating_duration_since(st.climb_from).as_secs_f64();
        let probing = !st.searching && t >= st.k + st.hold;
        // Hold longer only when probing above the plateau found the same limit
        // again. A 429 below it means the account's room shrank (another client
        // of it grew): probe again soon, or the squeezed client stays squeezed.
        st.hold = if same && probing { (st.hold * 2.0).clamp(FIRST_HOLD, MAX_HOLD) } else { 0.0 };
        st.searching = first && self.ceiling.is_none();
        st.w_max = if st.searching { f64::INFINITY } else { throttled_at };
        st.floor = throttled_at * BETA;
        let rise = (st.plateau(self.ceiling) - st.floor).max(0.0);
        st.k = if st.searching { 0.0 } else { (rise / C).cbrt() };
        st.climb_from = st.paused_until.max(now);
        st.epoch += 1;
        self.engaged.store(true, Ordering::Release);
        tracing::debug!(
            throttled_at = format!("{throttled_at:.1}"),
            new_rate = format!("{:.1}", st.floor),
            hold_s = st.hold,
            shared = self.shared.is_some(),
            "throttled: send rate lowered"
        );
    }

    pub(crate) fn snapshot(&self) -> PacingSnapshot {
        let clock = self.clock();
        let (rate, paused) = self.step(clock, false, || {
            let rate = self.engaged.load(Ordering::Acquire).then(|| {
                self.lock().rate_at(clock.now, self.ceiling, self.sent_meter.peak(clock.millis(clock.now)))
            });
            (rate, self.paused_until_ms.load(Ordering::Acquire) > clock.millis(clock.now))
        });
        PacingSnapshot {
            rate,
            ceiling: self.ceiling,
            sent: self.sent.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            paused,
        }
    }
}

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_until_the_first_429() {
        let pacer = Pacer::new(RateLimit::Auto);
        let start = Instant::now();
        for _ in 0..100 {
            pacer.acquire(far(), false).await.unwrap();
        }
        assert_eq!(Instant::now(), start, "no wait before a 429");
        let s = pacer.snapshot();
        assert_eq!((s.rate, s.sent, s.throttled, s.paused), (None, 100, 0, false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_lowers_the_rate() {
        let pacer = Pacer::new(RateLimit::Auto);
        let mut permits = Vec::new();
        for _ in 0..50 {
            permits.push(pacer.acquire(far(), false).await.unwrap());
        }
        // 50 sends in one 250 ms slot: 200/s.
        pacer.throttled(permits[0], Some(Duration::from_secs(1)), Duration::from_secs(60));
        // Another 429 of the same round lowers nothing more.
        pacer.throttled(permits[1], None, Duration::from_secs(60));
        let s = pacer.snapshot();
        assert!(s.paused);
        assert_eq!(s.throttled, 2);
        assert_eq!(s.rate, Some(200.0 * BETA));
        let start = Instant::now();
        pacer.acquire(far(), true).await.unwrap();
        let waited = Instant::now() - start;
        assert!(waited >= Duration::from_secs(1) && waited <= Duration::from_millis(1100), "{waited:?}");
        // Then calls start evenly spaced at the new rate.
        let before = Instant::now();
        for _ in 0..15 {
            pacer.acquire(far(), false).await.unwrap();
        }
        let spent = (Instant::now() - before).as_secs_f64();
        assert!((spent - 15.0 / (200.0 * BETA)).abs() < 0.01, "{spent}");
        assert_eq!(pacer.snapshot().retries, 1);
    }

    /// 50 sends in one 250 ms slot (200/s), then a 429 of that round.
    async fn throttled_at_200(pacer: &Pacer) {
        let mut permit = None;
        for _ in 0..50 {
            permit = Some(pacer.acquire(far(), false).await.unwrap());
        }
        pacer.throttled(permit.unwrap(), None, Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_first_429_the_rate_searches_upward_while_calls_are_sent() {
        let pacer = Pacer::new(RateLimit::Auto);
        throttled_at_200(&pacer).await;
        assert_eq!(pacer.snapshot().rate, Some(200.0 * BETA));
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until {
            pacer.acquire(far(), false).await.unwrap();
        }
        let rate = pacer.snapshot().rate.unwrap();
        assert!((rate - 200.0 * BETA * 2.25).abs() < 5.0, "grew by half a second: {rate}");
        // Nobody sending: the rate grows no further than twice what was sent.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(pacer.snapshot().rate, Some(200.0 * BETA));
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_second_429_the_rate_climbs_back_and_holds_below_it() {
        let pacer = Pacer::new(RateLimit::Auto);
        throttled_at_200(&pacer).await;
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.throttled(permit, None, Duration::from_secs(60));
        let low = pacer.snapshot().rate.unwrap();
        assert!((low - 200.0 * BETA * BETA).abs() < 1.0, "{low}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mid = pacer.snapshot().rate.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
        let back = pacer.snapshot().rate.unwrap();
        assert!(low < mid && mid < back, "{low} {mid} {back}");
        assert!((back - low / BETA * PLATEAU).abs() < 1.0, "holds just below the throttled rate: {back}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_ceiling_is_never_passed() {
        let pacer = Pacer::new(RateLimit::Fixed(10.0));
        let start = Instant::now();
        for _ in 0..21 {
            pacer.acquire(far(), false).await.unwrap();
        }
        assert_eq!(Instant::now() - start, Duration::from_secs(2));
        let s = pacer.snapshot();
        assert_eq!((s.rate, s.ceiling), (Some(10.0), Some(10.0)));
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(pacer.snapshot().rate, Some(10.0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_fails_at_once() {
        let pacer = Pacer::new(RateLimit::Auto);
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.throttled(permit, Some(Duration::from_secs(30)), Duration::from_secs(60));
        let start = Instant::now();
        let err = pacer.acquire(start + Duration::from_secs(2), false).await.unwrap_err();
        assert!(err >= start + Duration::from_secs(30));
        assert_eq!(Instant::now(), start);
        assert_eq!(pacer.snapshot().sent, 1);
    }

    /// Two processes of one host, as two pacers sharing one account's state.
    #[tokio::test(start_paused = true)]
    async fn processes_of_one_host_share_the_pause_the_rate_and_the_schedule() {
        let dir = shared::tests::TempDir::new();
        let a = Pacer::shared_for_test(&dir.0, "https://a.example/v1");
        let b = Pacer::shared_for_test(&dir.0, "https://a.example/v1");
        let elsewhere = Pacer::shared_for_test(&dir.0, "https://b.example/v1");
        throttled_at_200(&a).await;
        let permit = a.acquire(far(), false).await.unwrap();
        a.throttled(permit, Some(Duration::from_secs(1)), Duration::from_secs(60));
        // B has seen no 429 of its own: nothing slows it yet.
        assert_eq!((b.snapshot().rate, b.snapshot().paused), (None, false));
        let start = Instant::now();
        let permit = b.acquire(far(), false).await.unwrap();
        assert_eq!(Instant::now(), start);
        // Its first 429 joins it to the account: A's pause and rate, no second
        // reduction for the same round.
        b.throttled(permit, Some(Duration::from_millis(10)), Duration::from_secs(60));
        let (sa, sb) = (a.snapshot(), b.snapshot());
        assert!(sb.paused);
        assert_eq!(sa.rate, sb.rate, "one rate for the account");
        assert_eq!((sb.throttled, sb.sent), (1, 1), "counts stay per process");
        let start = Instant::now();
        b.acquire(far(), true).await.unwrap();
        assert!(Instant::now() - start >= Duration::from_millis(900), "B waited out A's pause");
        // One schedule: the sends of both together keep the account's rate.
        let rate = sa.rate.unwrap();
        let before = Instant::now();
        for _ in 0..10 {
            a.acquire(far(), false).await.unwrap();
            b.acquire(far(), false).await.unwrap();
        }
        let spent = (Instant::now() - before).as_secs_f64();
        assert!(spent >= 19.0 / rate * 0.95, "20 sends at {rate}/s took {spent} s");
        // Another account is untouched.
        let s = elsewhere.snapshot();
        assert_eq!((s.rate, s.paused), (None, false));
        let start = Instant::now();
        elsewhere.acquire(far(), false).await.unwrap();
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn a_process_that_never_throttles_writes_nothing() {
        let dir = shared::tests::TempDir::new();
        let a = Pacer::shared_for_test(&dir.0, "https://a.example/v1");
        for _ in 0..1000 {
            a.acquire(far(), false).await.unwrap();
            a.succeeded();
        }
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
        throttled_at_200(&a).await;
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    #[test]
    fn a_ceiling_is_never_shared() {
        // A cap the caller set on this client, not the account's pace.
        let fixed = Pacer::for_account(RateLimit::Fixed(5.0), "https://a.example/v1", b"k");
        assert!(fixed.shared.is_none());
    }

    #[test]
    fn rate_limit_conversions() {
        assert_eq!(RateLimit::from(5.0), RateLimit::Fixed(5.0));
        assert_eq!(RateLimit::from(None), RateLimit::Auto);
        assert_eq!(RateLimit::Fixed(-1.0).ceiling(), None);
        assert_eq!(RateLimit::Fixed(f64::NAN).ceiling(), None);
    }
}
