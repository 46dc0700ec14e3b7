//! A pacer that shares its account through a pacing store (`store.rs`): how it
//! draws its sends from the account's one schedule and rate without a round
//! trip per call.
//!
//! The pacer keeps the account's state as it last read it, and applies its own
//! events (sends, answers, refusals) to it at once, so it reacts to a 429 at
//! once; it also keeps them in a journal. Now and then it exchanges with the
//! store: it reads the account's record as the other processes left it,
//! applies its journal to it, takes a *lease* of the next few send slots of the
//! account's schedule (about a tenth of a second of its share, at least two),
//! and writes the record back over the version it read (one script, one round
//! trip; a second when another process wrote in between). Between exchanges it
//! sends in its leased slots. It exchanges when its lease is spent, and at
//! once after a refusal. So every process's estimate acts on the account's
//! counts, and the slots of all processes follow one rate.
//!
//! Times are on the store's clock: each exchange reads it (`TIME`), and the
//! pacer keeps the offset from its own wall clock measured over the fastest
//! round trip, so hosts' clocks need not agree.
//!
//! A process joins the account's state at its first 429 (as with the file),
//! or earlier when a look at the store (on its first call, then at most once a
//! second) finds the account already paced. Cut off from the store, the pacer
//! goes on alone, at most its share of the last rate it knew (that rate over
//! the processes then sharing it), and rejoins when the store answers again.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use super::events::{apply, send_rate, Event, Meters};
use super::meter::RateMeter;
use super::shared::Record;
use super::store::{Reply, StoreAccount};
use super::waits::Waits;
use super::{Pacer, State};

/// A lease covers about this long of the process's share of the rate, and at
/// least [`LEASE_MIN`] slots (at most [`LEASE_MAX`]).
const LEASE_MS: f64 = 100.0;
const LEASE_MIN: usize = 2;
const LEASE_MAX: usize = 64;
/// A leased slot this far past is dropped rather than sent late in a burst.
const SLOT_LATE_MS: f64 = 250.0;
/// Tries of one exchange when other processes keep writing between read and write.
const EXCHANGE_TRIES: usize = 4;
/// An unjoined pacer looks at the store at most this often.
const LOOK_EVERY_MS: f64 = 1000.0;

/// The store side of a pacer: its journal, its lease, and what it knows of the store.
pub(super) struct StoreSync {
    pub(super) account: StoreAccount,
    journal: Mutex<Vec<Event>>,
    lease: Mutex<VecDeque<f64>>,
    /// The version and record of the account as last read or written.
    base: Mutex<(u64, Option<Record>)>,
    /// One exchange at a time per process.
    exchanging: tokio::sync::Mutex<()>,
    /// Set by a refusal: the next call exchanges before it takes a slot.
    due: AtomicBool,
    /// Whether this pacer has joined the account's state in the store.
    joined: AtomicBool,
    /// Processes that exchanged with the store lately (this one included).
    members: AtomicU32,
    /// The store's clock less this host's wall clock, and the round trip it
    /// was measured over (f64 bits; `u64::MAX`: not measured yet).
    offset_ms: AtomicU64,
    offset_rtt_ms: AtomicU64,
    /// When this pacer last looked at the store while unjoined.
    looked_ms: AtomicU64,
    /// Cut off from the store: the most this process sends per second.
    alone_cap: Mutex<Option<f64>>,
    /// What each attempt waited on the store before it took its slot.
    pub(super) waits: Waits,
}

impl StoreSync {
    pub(super) fn new(account: StoreAccount) -> StoreSync {
        StoreSync {
            account,
            journal: Mutex::default(),
            lease: Mutex::default(),
            base: Mutex::new((0, None)),
            exchanging: tokio::sync::Mutex::new(()),
            due: AtomicBool::new(false),
            joined: AtomicBool::new(false),
            members: AtomicU32::new(0),
            offset_ms: AtomicU64::new(0f64.to_bits()),
            offset_rtt_ms: AtomicU64::new(u64::MAX),
            looked_ms: AtomicU64::new(0),
            alone_cap: Mutex::new(None),
            waits: Waits::default(),
        }
    }

    /// The store's clock less this host's, in milliseconds (0 until measured).
    pub(super) fn offset_ms(&self) -> f64 {
        f64::from_bits(self.offset_ms.load(Ordering::Acquire))
    }

    pub(super) fn joined(&self) -> bool {
        self.joined.load(Ordering::Acquire)
    }

    /// Processes sharing the account, as the store last said.
    pub(super) fn members(&self) -> u32 {
        self.members.load(Ordering::Relaxed)
    }

    pub(super) fn connected(&self) -> bool {
        !self.account.is_cut_off()
    }

    /// Keeps `event` (already applied here) for the next exchange.
    pub(super) fn journal(&self, event: Event) {
        if !self.connected() {
            // Cut off, the pacer paces alone; on its return it reads the account anew.
            return;
        }
        lock(&self.journal).push(event);
        if matches!(event, Event::Refused { .. } | Event::Announced { .. }) {
            self.due.store(true, Ordering::Release);
        }
    }

    /// The next leased slot at `now_ms` (`None`: none left, or an exchange is due).
    pub(super) fn next_slot(&self, now_ms: f64) -> Option<f64> {
        if self.due.load(Ordering::Acquire) {
            return None;
        }
        let mut lease = lock(&self.lease);
        while let Some(slot) = lease.pop_front() {
            if slot >= now_ms - SLOT_LATE_MS {
                return Some(slot);
            }
        }
        None
    }

    /// Gives back a slot not used (its call's deadline came first).
    pub(super) fn give_back(&self, slot_ms: f64) {
        lock(&self.lease).push_front(slot_ms);
    }

    /// Drops the lease (a pause began: its slots are void).
    pub(super) fn drop_lease(&self) {
        lock(&self.lease).clear();
    }

    /// Cut off from the store: the most this process sends per second.
    pub(super) fn alone_cap(&self) -> Option<f64> {
        *lock(&self.alone_cap)
    }

    fn measured_offset(&self, sent_wall_ms: f64, back_wall_ms: f64, store_ms: f64) {
        let rtt = (back_wall_ms - sent_wall_ms).max(0.0);
        let best = self.offset_rtt_ms.load(Ordering::Acquire);
        // A round trip no slower than the best by more than a millisecond is as good a reading.
        if best == u64::MAX || rtt <= f64::from_bits(best) + 1.0 {
            let offset = store_ms - (sent_wall_ms + back_wall_ms) / 2.0;
            self.offset_ms.store(offset.to_bits(), Ordering::Release);
            let best = if best == u64::MAX { rtt } else { rtt.min(f64::from_bits(best)) };
            self.offset_rtt_ms.store(best.to_bits(), Ordering::Release);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The account's state as the record holds it, with its meters.
fn state_of(record: &Record) -> (State, RateMeter, RateMeter) {
    let (sent, accepted) = (RateMeter::default(), RateMeter::default());
    sent.set_raw(record.sent);
    accepted.set_raw(record.accepted);
    let st =
        State { estimate: record.estimate.clone(), schedule: record.schedule.clone(), totals: record.totals };
    (st, sent, accepted)
}

/// Slots a lease takes at `rate` (the account's) shared by `members`.
fn lease_size(rate: Option<f64>, members: u32) -> usize {
    let share = rate.unwrap_or(0.0) / f64::from(members.max(1));
    ((share * LEASE_MS / 1000.0).ceil() as usize).clamp(LEASE_MIN, LEASE_MAX)
}

impl Pacer {
    /// Unjoined, looks at the store (at most once a second, never making a
    /// call wait for another's look): if the account is already paced there,
    /// this pacer joins it now rather than at its own first 429.
    pub(super) async fn look(&self) {
        let Some(store) = &self.store else { return };
        if store.joined() {
            return;
        }
        let clock = self.clock();
        let now_ms = clock.ms(clock.now);
        let last = f64::from_bits(store.looked_ms.load(Ordering::Acquire));
        if last != 0.0 && now_ms - last < LOOK_EVERY_MS {
            return;
        }
        let Ok(_one) = store.exchanging.try_lock() else { return };
        let Some(record) = self.read(store).await else {
            // Not connected yet (the connection is made in the background):
            // the next call looks again, so that this process is seen early.
            return;
        };
        store.looked_ms.store(now_ms.to_bits(), Ordering::Release);
        if let Some(record) = record.filter(|r| r.engaged) {
            self.load(record);
            store.joined.store(true, Ordering::Release);
            tracing::debug!(
                members = store.members(),
                "pacing joins the account's shared state in the store"
            );
        }
    }

    /// Reads the account's record (a round trip that writes nothing but marks
    /// this process as seen), and with it the store's clock and the processes
    /// sharing the account. `None`: the store did not answer.
    async fn read(&self, store: &StoreSync) -> Option<Option<Record>> {
        let sent_wall = super::wall_ms();
        let Ok(Reply::Stale { version, store_ms, members, record }) =
            store.account.exchange(0, None, 0).await
        else {
            return None;
        };
        store.measured_offset(sent_wall, super::wall_ms(), store_ms);
        store.members.store(members, Ordering::Relaxed);
        let record = record.map(|r| *r);
        *lock(&store.base) = (version, record.clone());
        Some(record)
    }

    /// Exchanges with the store: applies this pacer's journal to the account's
    /// record, takes a lease, writes it back. False when cut off (or when
    /// other processes kept writing first): the caller then paces alone.
    pub(super) async fn exchange(&self, store: &StoreSync) -> bool {
        let _one = store.exchanging.lock().await;
        let joining = !store.joined();
        if joining {
            // The processes sharing the account now, not as of this pacer's last look.
            self.read(store).await;
        }
        for _ in 0..EXCHANGE_TRIES {
            let (version, base) = lock(&store.base).clone();
            let replayed = lock(&store.journal).clone();
            // What this pacer saw before it joined was its share of the account's.
            let share_of = if joining { store.members() } else { 1 };
            let replay = |st: &mut State, meters: &Meters<'_>| {
                for event in &replayed {
                    apply(st, meters, self.ceiling, true, &event.for_account(share_of));
                }
            };
            let clock = self.clock();
            let now_ms = clock.ms(clock.now);
            // The account's state with this pacer's events; with none in the
            // store (the first process, or the record expired), this pacer's own.
            let (mut st, sent, accepted) = match &base {
                Some(record) => {
                    let (mut st, sent, accepted) = state_of(record);
                    replay(&mut st, &Meters { sent: &sent, accepted: &accepted });
                    (st, sent, accepted)
                }
                // The account's first record: this pacer's meters, and its
                // events since it engaged, as the account's, on the state it
                // had before (open: a store pacer has no ceiling).
                None if joining => {
                    let (_, sent, accepted) = state_of(&self.save());
                    let mut st = State::default();
                    st.estimate.epoch = self.open_epoch;
                    let (scratch_sent, scratch_accepted) = (RateMeter::default(), RateMeter::default());
                    replay(&mut st, &Meters { sent: &scratch_sent, accepted: &scratch_accepted });
                    (st, sent, accepted)
                }
                None => state_of(&self.save()),
            };
            st.estimate.advance(now_ms, st.totals);
            let rate = send_rate(&st, &sent, self.ceiling, now_ms);
            let size = lease_size(rate, store.members().max(1));
            let slots: VecDeque<f64> =
                (0..size).map(|_| st.schedule.take(now_ms, rate, f64::INFINITY)).collect();
            let record = Record {
                engaged: true,
                estimate: st.estimate.clone(),
                schedule: st.schedule.clone(),
                totals: st.totals,
                sent: sent.raw(),
                accepted: accepted.raw(),
            };
            let sent_wall = super::wall_ms();
            let reply = store.account.exchange(version, Some(&record), now_ms.max(0.0) as u64).await;
            let back_wall = super::wall_ms();
            match reply {
                Ok(Reply::Written { version, store_ms, members }) => {
                    store.measured_offset(sent_wall, back_wall, store_ms);
                    store.members.store(members, Ordering::Relaxed);
                    *lock(&store.base) = (version, Some(record.clone()));
                    *lock(&store.alone_cap) = None;
                    // Events that came while the exchange was on the wire stay
                    // journaled for the next one, and apply to the new state here.
                    let later: Vec<Event> = {
                        let mut journal = lock(&store.journal);
                        let done = replayed.len().min(journal.len());
                        journal.drain(..done);
                        journal.clone()
                    };
                    self.load(record);
                    {
                        let mut st = self.lock();
                        for event in &later {
                            apply(&mut st, &self.meters(), self.ceiling, true, event);
                        }
                        self.publish_pause(&st);
                    }
                    *lock(&store.lease) = slots;
                    store.due.store(false, Ordering::Release);
                    if !store.joined.swap(true, Ordering::AcqRel) {
                        tracing::debug!(
                            members,
                            rate = rate.map(|r| format!("{r:.1}")),
                            "pacing shares the account's state through the store"
                        );
                    }
                    return true;
                }
                Ok(Reply::Stale { version, store_ms, members, record }) => {
                    store.measured_offset(sent_wall, back_wall, store_ms);
                    store.members.store(members, Ordering::Relaxed);
                    *lock(&store.base) = (version, record.map(|r| *r));
                }
                Err(_) => {
                    self.go_alone(store, rate);
                    return false;
                }
            }
        }
        false
    }

    /// Cut off: pace alone at no more than this process's share of the last rate known.
    fn go_alone(&self, store: &StoreSync, rate: Option<f64>) {
        store.drop_lease();
        lock(&store.journal).clear();
        store.due.store(false, Ordering::Release);
        // Never joined, no account's rate is known: the pacer's own finds its pace.
        let mut cap = lock(&store.alone_cap);
        if cap.is_none() && store.joined() {
            *cap = rate.map(|r| r / f64::from(store.members().max(1)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_cover_a_tenth_of_a_second_of_the_share() {
        assert_eq!(lease_size(Some(1000.0), 8), 13);
        assert_eq!(lease_size(Some(1000.0), 1), 64);
        assert_eq!(lease_size(Some(5.0), 4), LEASE_MIN);
        assert_eq!(lease_size(None, 0), LEASE_MIN);
    }

    #[test]
    fn late_slots_are_dropped_and_refusals_make_an_exchange_due() {
        let url = super::super::store::PacingUrl::parse("redis://127.0.0.1:1").unwrap();
        let sync = StoreSync::new(StoreAccount::new(&url, "e", b"k"));
        *lock(&sync.lease) = VecDeque::from([100.0, 900.0, 1000.0]);
        assert_eq!(sync.next_slot(1000.0), Some(900.0), "100 is 900 ms late: dropped");
        sync.journal(Event::Answered { at_ms: 1.0, sent_ms: 0.5 });
        assert_eq!(sync.next_slot(1000.0), Some(1000.0));
        sync.give_back(1000.0);
        sync.journal(Event::Refused {
            at_ms: 2.0,
            epoch: 0,
            accepted_rate: 1.0,
            early_rate: None,
            retry_after_ms: None,
            max_pause_ms: 1.0,
            jitter: 0.0,
        });
        assert_eq!(sync.next_slot(1000.0), None, "an exchange is due first");
        assert_eq!(lock(&sync.journal).len(), 2);
    }
}
