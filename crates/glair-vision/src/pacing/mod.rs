//! Adaptive pacing: one per client, shared by every call made through it (single
//! calls from many tasks, batches, streams), so that a client finds the pace of
//! its account by itself and holds it, whatever the gateway in front of the API.
//!
//! GLAIR does not document its rate limit, so the pacer assumes only what every
//! gateway does: it refuses calls past the account's limit with a 429 (with a
//! `Retry-After` or not, in whole seconds or as a date), before doing any work;
//! what it accepts while a client sends faster than the limit is the limit (a
//! token bucket's rate once its burst is spent, a fixed or sliding window's
//! quota per window, a queue's drain rate); the limit may move at any time
//! (another client of the account starts or stops); and rate-limit headers,
//! when a gateway sends them, tell the truth about the quota.
//!
//! The parts, each in its own module and tested alone:
//! - `slowstart.rs`: before anything is known, calls in flight grow from two,
//!   doubling every round trip, so a small account is not hit by a wall of calls;
//! - `estimate.rs`: the estimate of what the account accepts, measured at the
//!   limit after a refusal (or read from rate-limit headers, `headers.rs`), and
//!   the send rate that follows: just below it, probing above it now and then;
//! - `schedule.rs`: send slots evenly spaced at that rate, and the pauses of a
//!   closed gateway (refusals in a row); a single refusal pauses only its call,
//!   for its `Retry-After`;
//! - `shared.rs`: where the state lives when the processes of one host share
//!   an account (a small locked file), so that they pace as one client;
//! - `store.rs` and `sync.rs`: where it lives when processes on many hosts
//!   share it (Redis or Valkey), and how a process draws leases of send slots
//!   from it; `events.rs`: the events both apply to the account's state.
//!
//! A fixed [`RateLimit`] is a hard ceiling: the pacer starts engaged at that
//! rate and never exceeds it. The pacer against every gateway model (token
//! bucket, fixed and sliding windows, a leaky queue; with or without
//! `Retry-After` and rate-limit headers; limits that move; one process and
//! four) is tested in virtual time in `simulation.rs`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) use accounts::AccountPacers;
use estimate::{Estimate, Phase, Totals};
use events::{apply, send_rate, Event, Meters};
pub(crate) use headers::{quota, Quota};
use meter::RateMeter;
use schedule::Schedule;
use shared::{Record, SharedAccount};
use slowstart::SlowStart;
pub use store::PacingUrl;
use store::StoreAccount;
use sync::StoreSync;

mod accounts;
mod estimate;
mod events;
mod headers;
mod meter;
mod schedule;
mod shared;
mod slowstart;
mod store;
mod sync;
mod waits;

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

/// What the pacer believes of the account, for progress displays and logs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PacingModel {
    /// Nothing refused, no quota announced: calls are not paced (their number
    /// in flight grows from a few at the start).
    #[default]
    Unpaced,
    /// After the first 429: growing until the next one finds the limit.
    Searching,
    /// Sending just above the last good rate to measure what the account accepts.
    Measuring,
    /// Holding just below the measured limit (probing above it now and then).
    Holding,
    /// Pacing from the quota the gateway announces in its rate-limit headers.
    Announced,
    /// Held at the caller's fixed [`RateLimit`] (below it after 429s).
    Ceiling,
}

impl PacingModel {
    /// A short name: `unpaced`, `searching`, `measuring`, `holding`, `announced`, `ceiling`.
    pub fn as_str(self) -> &'static str {
        match self {
            PacingModel::Unpaced => "unpaced",
            PacingModel::Searching => "searching",
            PacingModel::Measuring => "measuring",
            PacingModel::Holding => "holding",
            PacingModel::Announced => "announced",
            PacingModel::Ceiling => "ceiling",
        }
    }
}

impl std::fmt::Display for PacingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pacer's state, for progress displays and logs ([`crate::Vision::pacing`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PacingSnapshot {
    /// Calls started per second now; `None` while unpaced (no 429, no quota, no ceiling).
    pub rate: Option<f64>,
    /// The configured ceiling ([`RateLimit::Fixed`]).
    pub ceiling: Option<f64>,
    /// What the pacer believes the account accepts, calls per second: measured
    /// at the limit, or announced by the gateway; `None` while unknown.
    pub limit: Option<f64>,
    /// The window of the quota the gateway announced (e.g. 60 s for 600 a minute).
    pub window: Option<Duration>,
    /// Where the pacer stands: unpaced, searching, measuring, holding, announced.
    pub model: PacingModel,
    /// Whether the limit comes from the gateway's rate-limit headers.
    pub from_headers: bool,
    /// Attempts sent (first attempts and retries).
    pub sent: u64,
    /// Of those, retries.
    pub retries: u64,
    /// Attempts answered 429.
    pub throttled: u64,
    /// Attempts answered with a verification (2xx): the calls billed.
    pub succeeded: u64,
    /// Whether a pause (refusals in a row, or an announced quota spent) holds every call back now.
    pub paused: bool,
    /// The pacing store this pace is shared through, if one was given.
    pub store: Option<StorePace>,
}

/// How a pace shared through a pacing store stands ([`PacingSnapshot::store`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorePace {
    /// Whether this process paces from the store's state now (it joins at its
    /// first 429, or when the account is already paced there).
    pub joined: bool,
    /// False while the store cannot be reached: pacing is per process meanwhile.
    pub connected: bool,
    /// Processes that shared the account's pace lately, this one included.
    pub processes: u32,
    /// Round trips to the store so far (reads and exchanges of leases).
    pub round_trips: u64,
    /// What the store added to this process's attempts at the 99th
    /// percentile (within a fifth; zero when fewer than 1% were delayed): how
    /// much later an attempt went out for waiting on the store, past the send
    /// slot it would have had anyway.
    pub wait_p99: Duration,
}

/// A slot taken from the pacer: under which rate it was sent, and whether it
/// holds a place in the slow-start window (given back when the permit ends,
/// answered or not: a call dropped or lost on the network frees its place too).
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    epoch: u64,
    /// When it was sent, on the pacer's timeline.
    sent_ms: f64,
    windowed: bool,
}

impl Permit<'_> {
    fn finish(mut self, answered: bool) -> u64 {
        if std::mem::take(&mut self.windowed) {
            self.pacer.window.leave(answered);
        }
        self.epoch
    }
}

impl std::fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit").field("epoch", &self.epoch).field("windowed", &self.windowed).finish()
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.windowed {
            self.pacer.window.leave(false);
        }
    }
}

/// The account's state: what the pacer believes, its schedule, the totals it reads.
#[derive(Default)]
struct State {
    estimate: Estimate,
    schedule: Schedule,
    totals: Totals,
}

pub(crate) struct Pacer {
    ceiling: Option<f64>,
    /// False until the first 429 or announced quota (with no ceiling): calls
    /// take no lock and wait for nothing but the slow-start window.
    engaged: AtomicBool,
    state: Mutex<State>,
    window: SlowStart,
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
    /// The account's state shared through a pacing store (across hosts), if it is.
    store: Option<StoreSync>,
    /// The estimate's epoch before the first 429, which the calls sent
    /// unpaced carry. With a store it is drawn at random: this process's
    /// epochs before it joins must not be mistaken for the account's.
    open_epoch: u64,
    /// When this pacer's current run of sends began: its first call, or its
    /// first after a second or more of sending nothing (a long-lived client's
    /// next burst); ms on the timeline, 0: none yet.
    run_started_ms: AtomicU64,
    /// Calls answered before the current run began.
    answered_before_run: AtomicU64,
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

impl Pacer {
    /// A pacer of this process's own.
    #[cfg(test)]
    pub(crate) fn new(limit: RateLimit) -> Pacer {
        Pacer::with_shared(limit, None, Timeline::own())
    }

    /// The pacer of the account at `endpoint` with `api_key`: with no ceiling,
    /// shared with this user's other processes where it can be ([`shared`]). A
    /// ceiling stays per process: it is a cap the caller set on this client.
    /// With a pacing store (`store`), the account's state is shared through it,
    /// across hosts, instead of through the host's file.
    pub(crate) fn for_account(
        limit: RateLimit,
        endpoint: &str,
        api_key: &[u8],
        store: Option<&PacingUrl>,
    ) -> Pacer {
        if limit.ceiling().is_some() {
            return Pacer::with_shared(limit, None, Timeline::own());
        }
        if let Some(url) = store {
            let mut pacer = Pacer::with_shared(limit, None, Timeline::wall());
            pacer.store = Some(StoreSync::new(StoreAccount::new(url, endpoint, api_key)));
            pacer.open_epoch = fastrand::u64(1 << 32..1 << 62);
            pacer.lock().estimate.epoch = pacer.open_epoch;
            return pacer;
        }
        let shared = SharedAccount::for_account(endpoint, api_key);
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
        let estimate = ceiling.map_or_else(Estimate::default, Estimate::at_ceiling);
        let window = SlowStart::default();
        if ceiling.is_some() {
            window.open();
        }
        Pacer {
            ceiling,
            engaged: AtomicBool::new(ceiling.is_some()),
            state: Mutex::new(State { estimate, ..State::default() }),
            window,
            turn: tokio::sync::Mutex::new(()),
            sent_meter: RateMeter::default(),
            accepted_meter: RateMeter::default(),
            paused_until_ms: AtomicU64::new(0),
            timeline,
            shared,
            store: None,
            open_epoch: 0,
            run_started_ms: AtomicU64::new(0),
            answered_before_run: AtomicU64::new(0),
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
        let mut clock = self.timeline.read(Instant::now());
        if let Some(store) = &self.store {
            // Shared across hosts, times are on the store's clock.
            clock.now_ms += store.offset_ms();
        }
        clock
    }

    fn engaged(&self) -> bool {
        self.engaged.load(Ordering::Acquire)
    }

    fn engage(&self) {
        self.engaged.store(true, Ordering::Release);
        self.window.open();
    }

    /// Runs `step` on the account's state: with shared pacing, on the state as
    /// the account's processes left it (read before, written back after, under
    /// the account's lock); otherwise on this pacer's own. A pacer joins the
    /// shared state when it engages (`joining`: at its first 429, or when it
    /// finds another process pacing the account now), not before: a client that
    /// is never throttled is not slowed by what other clients of the account did
    /// a while ago (an earlier test's scripted 429 on the same sandbox, say).
    fn step<R>(&self, clock: Clock, joining: bool, step: impl FnOnce(&mut State) -> R) -> R {
        let Some(shared) = &self.shared else { return step(&mut self.lock()) };
        if !joining && !self.engaged() {
            return step(&mut self.lock());
        }
        shared.transact(clock.millis(clock.now), |current| {
            if let Some(record) = current {
                // Joining, this process's calls so far are in its own meters
                // only, which loading the account's replaces: read them first.
                let own = (joining && !self.engaged())
                    .then(|| (self.accepted_rate(clock), self.sent_meter.raw(), self.accepted_meter.raw()));
                self.load(record);
                if let Some((rate, sent, accepted)) = own {
                    self.sent_meter.add_raw(sent);
                    self.accepted_meter.add_raw(accepted);
                    let mut st = self.lock();
                    let totals = st.totals;
                    st.estimate.joined(rate, clock.ms(clock.now), totals);
                    drop(st);
                    tracing::debug!(
                        own_rate = format!("{rate:.1}"),
                        "pacing joins the account's shared state in the host's file"
                    );
                }
            }
            let out = step(&mut self.lock());
            let record = self.engaged().then(|| self.save());
            (out, record)
        })
    }

    fn load(&self, r: Record) {
        self.sent_meter.set_raw(r.sent);
        self.accepted_meter.set_raw(r.accepted);
        self.paused_until_ms.store(r.schedule.paused_until_ms as u64, Ordering::Release);
        let mut st = self.lock();
        st.estimate = r.estimate;
        st.schedule = r.schedule;
        st.totals = r.totals;
        drop(st);
        if r.engaged && !self.engaged() {
            self.engage();
        }
    }

    fn save(&self) -> Record {
        let st = self.lock();
        Record {
            engaged: true,
            estimate: st.estimate.clone(),
            schedule: st.schedule.clone(),
            totals: st.totals,
            sent: self.sent_meter.raw(),
            accepted: self.accepted_meter.raw(),
        }
    }

    /// The send rate now: the estimate's, under the ceiling (and, cut off
    /// from the pacing store, under this process's share).
    fn rate(&self, st: &State, now_ms: f64) -> Option<f64> {
        let alone = self.store.as_ref().and_then(StoreSync::alone_cap);
        let ceiling = match (self.ceiling, alone) {
            (Some(c), Some(a)) => Some(c.min(a)),
            (c, a) => c.or(a),
        };
        send_rate(st, &self.sent_meter, ceiling, now_ms)
    }

    /// Publishes the schedule's pause for the calls that check it without the lock.
    fn publish_pause(&self, st: &State) {
        self.paused_until_ms.store(st.schedule.paused_until_ms.max(0.0) as u64, Ordering::Release);
    }

    fn meters(&self) -> Meters<'_> {
        Meters { sent: &self.sent_meter, accepted: &self.accepted_meter }
    }

    /// Applies `event` to the account's state (see `events.rs`); engaged
    /// with a pacing store, keeps it for the next exchange too.
    fn apply(&self, st: &mut State, event: &Event) {
        let shared = self.shared.is_some() || self.store.is_some();
        apply(st, &self.meters(), self.ceiling, shared, event);
        if let Some(store) = &self.store {
            if self.engaged() {
                store.journal(*event);
            }
        }
    }

    /// Waits for this attempt's slot. `Err(start)` when the slot would start
    /// after `deadline`: at once and without taking a slot once it is this
    /// call's turn, or at the deadline if the calls ahead hold it that long.
    pub(crate) async fn acquire(&self, deadline: Instant, retry: bool) -> Result<Permit<'_>, Instant> {
        // How much later than otherwise this call goes out for waiting on the
        // pacing store: a look's whole wait, an exchange's as far as it ended
        // past the slot it leased (a slot still ahead cost nothing).
        let mut store_wait = Duration::ZERO;
        if self.store.is_some() && !self.engaged() {
            let asked = Instant::now();
            self.look().await;
            store_wait += asked.elapsed();
        }
        if !self.engaged() {
            if let Some(shared) = &self.shared {
                let clock = self.clock();
                if shared.paced_elsewhere(clock.millis(clock.now)) {
                    // Join the account's pace now, not at this process's own first 429.
                    self.step(clock, true, |_| ());
                }
            }
        }
        if !self.engaged() {
            let windowed = self.window.enter(deadline).await.map_err(|()| deadline)?;
            if !self.engaged() {
                let clock = self.clock();
                let now_ms = clock.millis(clock.now);
                if self.sent_meter.last_second(now_ms) == 0 {
                    // A new run: what this pacer saw before it says nothing of the account now.
                    self.answered_before_run.store(self.succeeded.load(Ordering::Relaxed), Ordering::Relaxed);
                    self.run_started_ms.store(now_ms.max(1), Ordering::Release);
                }
                self.sent_meter.tick(now_ms);
                self.count_sent(retry);
                self.waited_on_store(store_wait);
                return Ok(Permit {
                    pacer: self,
                    epoch: self.open_epoch,
                    sent_ms: clock.ms(clock.now),
                    windowed,
                });
            }
            // Engaged while this call waited for the window: the schedule rules.
            if windowed {
                self.window.leave(false);
            }
        }
        // One call at a time takes the next slot, and only once the one before
        // is used: slots taken far ahead (a thousand calls waiting at 10/s)
        // would keep the rate they were taken at long after it has grown.
        let Ok(_turn) = tokio::time::timeout_at(deadline, self.turn.lock()).await else {
            return Err(deadline);
        };
        loop {
            let (leased, exchanged) = match &self.store {
                Some(store) => {
                    let asked = Instant::now();
                    let slot = self.leased_slot(store).await;
                    (slot, asked.elapsed())
                }
                None => (None, Duration::ZERO),
            };
            let clock = self.clock();
            let deadline_ms = clock.ms(deadline);
            let start_ms = match leased {
                Some(slot) => slot,
                None => self.step(clock, false, |st| {
                    let now_ms = clock.ms(clock.now);
                    st.estimate.advance(now_ms, st.totals);
                    let rate = self.rate(st, now_ms);
                    st.schedule.take(now_ms, rate, deadline_ms)
                }),
            };
            let late_ms = (clock.ms(clock.now) - start_ms).max(0.0);
            store_wait += exchanged.min(Duration::from_secs_f64(late_ms / 1000.0));
            let start = clock.at(start_ms);
            if start > deadline {
                if let (Some(store), Some(slot)) = (&self.store, leased) {
                    store.give_back(slot);
                }
                return Err(start);
            }
            if start > clock.now {
                tokio::time::sleep_until(start).await;
            }
            // A pause that began while this call waited holds it back too.
            let clock = self.clock();
            let sending = self.step(clock, false, |st| {
                let now_ms = clock.ms(clock.now);
                let free = !st.schedule.paused(now_ms);
                if free {
                    self.apply(st, &Event::Sent { at_ms: now_ms });
                }
                (free, st.estimate.epoch, now_ms)
            });
            if let (true, epoch, sent_ms) = sending {
                self.count_sent(retry);
                self.waited_on_store(store_wait);
                return Ok(Permit { pacer: self, epoch, sent_ms, windowed: false });
            }
            if let Some(store) = &self.store {
                // Slots leased before the pause are void: the next exchange leases after it.
                store.drop_lease();
            }
        }
    }

    /// The next slot leased from the pacing store, exchanging for a new lease
    /// when this one is spent; `None` when cut off (the pacer paces alone).
    async fn leased_slot(&self, store: &StoreSync) -> Option<f64> {
        let clock = self.clock();
        if let Some(slot) = store.next_slot(clock.ms(clock.now)) {
            return Some(slot);
        }
        if !self.exchange(store).await {
            return None;
        }
        let clock = self.clock();
        store.next_slot(clock.ms(clock.now))
    }

    /// Counts what an attempt waited on the pacing store, if it shares through one.
    fn waited_on_store(&self, waited: Duration) {
        if let Some(store) = &self.store {
            store.waits.record(waited);
        }
    }

    fn count_sent(&self, retry: bool) {
        self.sent.fetch_add(1, Ordering::Relaxed);
        if retry {
            self.retries.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// An attempt answered with a verification: billed, and accepted by the account.
    pub(crate) fn succeeded(&self, permit: Permit<'_>) {
        self.answered(permit);
        self.succeeded.fetch_add(1, Ordering::Relaxed);
    }

    /// An attempt the server answered other than 429: it passed the account's limit.
    pub(crate) fn answered(&self, permit: Permit<'_>) {
        let sent_ms = permit.sent_ms;
        permit.finish(true);
        let clock = self.clock();
        if self.engaged() {
            let event = Event::Answered { at_ms: clock.ms(clock.now), sent_ms };
            self.step(clock, false, |st| self.apply(st, &event));
        } else {
            self.accepted_meter.tick(clock.millis(clock.now));
        }
    }

    /// What the account accepted over the last second; early in a run, what it
    /// accepted since the run began (as a rate over at least a second).
    fn accepted_rate(&self, clock: Clock) -> f64 {
        let now_ms = clock.millis(clock.now);
        let first = self.run_started_ms.load(Ordering::Acquire);
        let account = self.accepted_meter.mean_since(now_ms, 0, 1.0).unwrap_or(0.0);
        if first != 0 && now_ms.saturating_sub(first) < 1250 {
            // Shared, the meter holds the account's answers: more than this process's.
            return account.max(self.answered_in_run() as f64);
        }
        account
    }

    fn answered_in_run(&self) -> u64 {
        let before = self.answered_before_run.load(Ordering::Relaxed);
        self.succeeded.load(Ordering::Relaxed).saturating_sub(before)
    }

    /// An attempt sent under `permit` was answered 429. Returns how long this
    /// call must wait before its retry: its `Retry-After` (at most `max_pause`,
    /// with a little jitter), or zero when the gateway sent none (the schedule
    /// then spaces the retry).
    pub(crate) fn throttled(
        &self,
        permit: Permit<'_>,
        retry_after: Option<Duration>,
        max_pause: Duration,
    ) -> Duration {
        let epoch = permit.finish(false);
        self.throttled.fetch_add(1, Ordering::Relaxed);
        let clock = self.clock();
        let accepted_rate = self.accepted_rate(clock);
        let (jitter, call_jitter) = (fastrand::f64(), fastrand::f64());
        let retry_after = retry_after.map(|w| w.min(max_pause));
        // The first 429 can come before the answers (a burst of one), of a
        // new client or of one idle until this run: the search then starts
        // from half of what was being sent.
        let early_rate = (self.answered_in_run() < FEW_ANSWERS)
            .then(|| 0.5 * self.sent_meter.peak(clock.millis(clock.now)));
        let event = Event::Refused {
            at_ms: clock.ms(clock.now),
            epoch,
            accepted_rate,
            early_rate,
            retry_after_ms: retry_after.map(|d| d.as_secs_f64() * 1000.0),
            max_pause_ms: max_pause.as_secs_f64() * 1000.0,
            jitter,
        };
        self.step(clock, true, |st| {
            if !self.engaged() {
                self.engage();
            }
            self.apply(st, &event);
            self.publish_pause(st);
        });
        retry_after.map_or(Duration::ZERO, |w| w + w.mul_f64(schedule::JITTER * call_jitter))
    }

    /// The gateway announced its quota in an answer's rate-limit headers.
    pub(crate) fn announced(&self, quota: Quota) {
        let clock = self.clock();
        let event = Event::Announced { at_ms: clock.ms(clock.now), quota };
        self.step(clock, true, |st| {
            if !self.engaged() {
                self.engage();
            }
            self.apply(st, &event);
            self.publish_pause(st);
        });
    }

    pub(crate) fn snapshot(&self) -> PacingSnapshot {
        let clock = self.clock();
        let (rate, limit, window, model, paused) = self.step(clock, false, |st| {
            let now_ms = clock.ms(clock.now);
            let e = &st.estimate;
            let rate = self.rate(st, now_ms);
            let limit = (e.limit.is_finite()
                && self.ceiling.is_none_or(|c| e.limit * estimate::MARGIN < c * 0.999))
            .then_some(e.limit);
            let window = (e.phase == Phase::Announced && e.window_s > 0.0)
                .then(|| Duration::from_secs_f64(e.window_s));
            (rate, limit, window, model_of(e, self.ceiling), st.schedule.paused(now_ms))
        });
        PacingSnapshot {
            rate,
            ceiling: self.ceiling,
            limit,
            window,
            model,
            from_headers: model == PacingModel::Announced,
            sent: self.sent.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            throttled: self.throttled.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            paused,
            store: self.store.as_ref().map(|s| StorePace {
                joined: s.joined(),
                connected: s.connected(),
                processes: s.members().max(1),
                round_trips: s.account.round_trips(),
                wait_p99: s.waits.quantile(0.99),
            }),
        }
    }
}

fn model_of(e: &Estimate, ceiling: Option<f64>) -> PacingModel {
    match e.phase {
        Phase::Open => PacingModel::Unpaced,
        Phase::Searching => PacingModel::Searching,
        Phase::Measuring => PacingModel::Measuring,
        Phase::Announced => PacingModel::Announced,
        Phase::Holding if ceiling.is_some() && e.hold_s.is_infinite() => PacingModel::Ceiling,
        Phase::Holding => PacingModel::Holding,
    }
}

/// Answers too few to say what the account accepted, at the first 429.
const FEW_ANSWERS: u64 = 4;

#[cfg(test)]
mod simulation;

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test(start_paused = true)]
    async fn unpaced_until_the_first_429_in_flight_growing_from_two() {
        let pacer = Pacer::new(RateLimit::Auto);
        let start = Instant::now();
        for _ in 0..100 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        assert_eq!(Instant::now(), start, "no wait before a 429");
        let s = pacer.snapshot();
        assert_eq!(
            (s.rate, s.sent, s.throttled, s.paused, s.model),
            (None, 100, 0, false, PacingModel::Unpaced)
        );
        // Unanswered, only the window's width is in flight, until time widens it.
        let held: Vec<_> =
            futures_util::future::join_all((0..102).map(|_| pacer.acquire(far(), false))).await;
        assert_eq!(held.len(), 102);
        assert!(tokio::time::timeout(Duration::from_millis(50), pacer.acquire(far(), false)).await.is_err());
        assert!(tokio::time::timeout(Duration::from_secs(1), pacer.acquire(far(), false)).await.is_ok());
        drop(held);
        pacer.acquire(far(), false).await.unwrap();
    }

    /// 50 sends answered within 250 ms, then a 429.
    async fn throttled_after_50(pacer: &Pacer) -> Duration {
        for _ in 0..50 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.throttled(permit, Some(Duration::from_secs(1)), Duration::from_secs(60))
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_waits_its_own_call_and_paces_the_rest() {
        let pacer = Pacer::new(RateLimit::Auto);
        let wait = throttled_after_50(&pacer).await;
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_millis(1100), "{wait:?}");
        let s = pacer.snapshot();
        assert_eq!((s.model, s.paused, s.throttled), (PacingModel::Searching, false, 1));
        assert_eq!(s.rate, Some(50.0), "from what was accepted: 50 in the first second");
        // The others go on at once, evenly spaced.
        let before = Instant::now();
        for _ in 0..10 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        let spent = (Instant::now() - before).as_secs_f64();
        assert!(spent < 10.0 / 50.0 && spent > 8.0 / 50.0 / 1.5, "{spent}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_idle_until_a_burst_refused_before_any_answer_searches_from_what_it_sent() {
        // A long-lived client (a service's, a cluster worker's): busy once, then idle.
        let pacer = Pacer::new(RateLimit::Auto);
        for _ in 0..50 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        // Its next burst: the first 429 comes back before any 200.
        let (first, second) =
            (pacer.acquire(far(), false).await.unwrap(), pacer.acquire(far(), false).await.unwrap());
        pacer.throttled(first, Some(Duration::from_secs(1)), Duration::from_secs(60));
        let s = pacer.snapshot();
        assert_eq!(s.model, PacingModel::Searching);
        // Half of what it was sending (2 calls in a quarter second), not nothing.
        assert_eq!(s.rate, Some(4.0));
        pacer.succeeded(second);
        // Refused after a few answers of its next run: what it accepted in that run.
        let pacer = Pacer::new(RateLimit::Auto);
        for _ in 0..50 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        tokio::time::advance(Duration::from_secs(30)).await;
        for _ in 0..6 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.throttled(permit, Some(Duration::from_secs(1)), Duration::from_secs(60));
        assert_eq!(pacer.snapshot().rate, Some(6.0), "6 accepted in this run, as a rate over a second");
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_in_a_row_pause_everyone() {
        let pacer = Pacer::new(RateLimit::Auto);
        throttled_after_50(&pacer).await;
        for _ in 0..5 {
            let permit = pacer.acquire(far(), true).await.unwrap();
            pacer.throttled(permit, Some(Duration::from_secs(2)), Duration::from_secs(60));
        }
        assert!(pacer.snapshot().paused, "five in a row: the gateway is closed");
        // For at least the Retry-After less its rounding up to whole seconds.
        let start = Instant::now();
        pacer.acquire(far(), false).await.unwrap();
        assert!(Instant::now() - start >= Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn an_announced_quota_paces_at_once() {
        let pacer = Pacer::new(RateLimit::Auto);
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.announced(Quota {
            limit: 600.0,
            window_s: Some(60.0),
            remaining: Some(599.0),
            reset_s: Some(60.0),
        });
        pacer.succeeded(permit);
        let s = pacer.snapshot();
        assert_eq!(
            (s.model, s.from_headers, s.limit, s.window),
            (PacingModel::Announced, true, Some(10.0), Some(Duration::from_secs(60)))
        );
        let before = Instant::now();
        for _ in 0..11 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
        }
        let spent = (Instant::now() - before).as_secs_f64();
        assert!((spent - 10.0 / (10.0 * estimate::MARGIN)).abs() < 0.01, "{spent}");
        // Spent: nothing until the reset (less its rounding up to whole seconds).
        pacer.announced(Quota {
            limit: 600.0,
            window_s: Some(60.0),
            remaining: Some(0.0),
            reset_s: Some(30.0),
        });
        let before = Instant::now();
        pacer.acquire(far(), false).await.unwrap();
        assert!(Instant::now() - before >= Duration::from_secs(29));
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
        assert_eq!(
            (s.rate, s.ceiling, s.model, s.limit),
            (Some(10.0), Some(10.0), PacingModel::Ceiling, None)
        );
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(pacer.snapshot().rate, Some(10.0));
        // Throttled below it, the pacer measures, and never climbs past it.
        let permit = pacer.acquire(far(), false).await.unwrap();
        pacer.throttled(permit, None, Duration::from_secs(60));
        for _ in 0..200 {
            let permit = pacer.acquire(far(), false).await.unwrap();
            pacer.succeeded(permit);
            assert!(pacer.snapshot().rate.unwrap() <= 10.0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_the_deadline_fails_at_once() {
        let pacer = Pacer::new(RateLimit::Auto);
        throttled_after_50(&pacer).await;
        for _ in 0..5 {
            let permit = pacer.acquire(far(), true).await.unwrap();
            pacer.throttled(permit, Some(Duration::from_secs(30)), Duration::from_secs(60));
        }
        let sent = pacer.snapshot().sent;
        let start = Instant::now();
        let err = pacer.acquire(start + Duration::from_secs(2), false).await.unwrap_err();
        assert!(err >= start + Duration::from_secs(29));
        assert_eq!(Instant::now(), start);
        assert_eq!(pacer.snapshot().sent, sent);
    }

    /// Two processes of one host, as two pacers sharing one account's state.
    #[tokio::test(start_paused = true)]
    async fn processes_of_one_host_share_the_estimate_and_the_schedule() {
        let dir = shared::tests::TempDir::new();
        let a = Pacer::shared_for_test(&dir.0, "https://a.example/v1");
        let b = Pacer::shared_for_test(&dir.0, "https://a.example/v1");
        let elsewhere = Pacer::shared_for_test(&dir.0, "https://b.example/v1");
        throttled_after_50(&a).await;
        // B has seen no 429 of its own, and sent nothing yet: nothing slows it.
        assert_eq!((b.snapshot().rate, b.snapshot().model), (None, PacingModel::Unpaced));
        // Its first call finds A pacing the account now and joins it rather
        // than send unpaced beside it (A's first slot is free: no wait).
        let start = Instant::now();
        let permit = b.acquire(far(), false).await.unwrap();
        assert_eq!(Instant::now(), start);
        assert_eq!((b.snapshot().rate, b.snapshot().model), (a.snapshot().rate, a.snapshot().model));
        // Its refusal acts on the account's one estimate.
        b.throttled(permit, Some(Duration::from_millis(10)), Duration::from_secs(60));
        let (sa, sb) = (a.snapshot(), b.snapshot());
        assert_eq!((sa.rate, sa.model), (sb.rate, sb.model), "one estimate for the account");
        assert_eq!((sb.throttled, sb.sent), (1, 1), "counts stay per process");
        // One schedule: the sends of both together keep the account's rate.
        let rate = sa.rate.unwrap();
        let before = Instant::now();
        for _ in 0..10 {
            let p = a.acquire(far(), false).await.unwrap();
            a.succeeded(p);
            let p = b.acquire(far(), false).await.unwrap();
            b.succeeded(p);
        }
        let spent = (Instant::now() - before).as_secs_f64();
        assert!(spent >= 19.0 / (rate * 1.5), "20 sends at about {rate}/s took {spent} s");
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
            let p = a.acquire(far(), false).await.unwrap();
            a.succeeded(p);
        }
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
        throttled_after_50(&a).await;
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 1);
    }

    #[test]
    fn a_ceiling_is_never_shared() {
        // A cap the caller set on this client, not the account's pace.
        let fixed = Pacer::for_account(RateLimit::Fixed(5.0), "https://a.example/v1", b"k", None);
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
