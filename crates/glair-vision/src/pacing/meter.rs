//! Lock-free counts of events (attempts sent, calls answered) per 250 ms slot
//! over the last two seconds: what a client actually sends and what the
//! account actually accepts, which the pacer's estimates start from.

use std::sync::atomic::{AtomicU64, Ordering};

const SLOT_MS: u64 = 250;
const SLOTS: usize = 8;
const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// Each slot holds `slot number << 24 | count`; a slot whose number is stale counts 0.
#[derive(Default)]
pub(super) struct RateMeter {
    slots: [AtomicU64; SLOTS],
}

impl RateMeter {
    pub(super) fn tick(&self, now_ms: u64) {
        let slot = now_ms / SLOT_MS;
        let cell = &self.slots[slot as usize % SLOTS];
        let mut seen = cell.load(Ordering::Relaxed);
        loop {
            let next = if seen >> COUNT_BITS == slot {
                (slot << COUNT_BITS) | ((seen & COUNT_MASK) + 1).min(COUNT_MASK)
            } else {
                (slot << COUNT_BITS) | 1
            };
            match cell.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => seen = now,
            }
        }
    }

    /// The slots as they are, to share them with other processes ([`super::shared`]).
    pub(super) fn raw(&self) -> [u64; SLOTS] {
        std::array::from_fn(|i| self.slots[i].load(Ordering::Relaxed))
    }

    pub(super) fn set_raw(&self, raw: [u64; SLOTS]) {
        for (slot, value) in self.slots.iter().zip(raw) {
            slot.store(value, Ordering::Relaxed);
        }
    }

    /// Adds counts made elsewhere (a process's own, before it joined the
    /// account's shared meters) slot by slot; the newer of two slots wins.
    pub(super) fn add_raw(&self, raw: [u64; SLOTS]) {
        for (cell, theirs) in self.slots.iter().zip(raw) {
            let mine = cell.load(Ordering::Relaxed);
            let merged = match (mine >> COUNT_BITS).cmp(&(theirs >> COUNT_BITS)) {
                std::cmp::Ordering::Equal => {
                    (mine & !COUNT_MASK) | ((mine & COUNT_MASK) + (theirs & COUNT_MASK)).min(COUNT_MASK)
                }
                std::cmp::Ordering::Less => theirs,
                std::cmp::Ordering::Greater => mine,
            };
            cell.store(merged, Ordering::Relaxed);
        }
    }

    fn count(&self, slot: u64) -> u64 {
        let packed = self.slots[slot as usize % SLOTS].load(Ordering::Relaxed);
        if packed >> COUNT_BITS == slot {
            packed & COUNT_MASK
        } else {
            0
        }
    }

    /// Events per second now: the fuller of this slot and the one before (a
    /// slot just begun says little on its own).
    pub(super) fn peak(&self, now_ms: u64) -> f64 {
        let slot = now_ms / SLOT_MS;
        self.count(slot).max(self.count(slot.wrapping_sub(1))) as f64 * (1000 / SLOT_MS) as f64
    }

    /// Events in this slot and the four before it (the last 1-1.25 s).
    pub(super) fn last_second(&self, now_ms: u64) -> u64 {
        let slot = now_ms / SLOT_MS;
        (0..=4).map(|back| slot.checked_sub(back).map_or(0, |s| self.count(s))).sum()
    }

    /// Events per second over the complete slots of the last `seconds` (at most
    /// 1.75) that began at or after `since_ms`; `None` when there is no such slot.
    pub(super) fn mean_since(&self, now_ms: u64, since_ms: u64, seconds: f64) -> Option<f64> {
        let slot = now_ms / SLOT_MS;
        let first = since_ms.div_ceil(SLOT_MS);
        let n = ((seconds * 1000.0 / SLOT_MS as f64).round() as u64)
            .clamp(1, SLOTS as u64 - 1)
            .min(slot.saturating_sub(first));
        let total: u64 = (1..=n).map(|back| self.count(slot - back)).sum();
        (n > 0).then(|| total as f64 * 1000.0 / (n * SLOT_MS) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_and_mean() {
        let m = RateMeter::default();
        // 10 events in each 250 ms slot for two seconds: 40/s.
        for ms in (0..2000).step_by(25) {
            m.tick(ms);
        }
        assert_eq!(m.peak(2000), 40.0);
        assert_eq!(m.mean_since(2000, 0, 1.0), Some(40.0));
        assert_eq!(m.mean_since(2100, 0, 10.0), Some(40.0));
        // Only slots that began after `since`; none yet.
        assert_eq!(m.mean_since(2000, 1250, 10.0), Some(40.0));
        assert_eq!(m.mean_since(2000, 1800, 10.0), None);
        // A quiet second later, nothing is left.
        assert_eq!((m.peak(3500), m.mean_since(3500, 0, 1.0)), (0.0, Some(0.0)));
        // Slots reused by the ring start again from 0.
        m.tick(4000);
        assert_eq!(m.peak(4000), 4.0);
    }

    #[test]
    fn counts_made_apart_add_up_slot_by_slot() {
        let (account, own) = (RateMeter::default(), RateMeter::default());
        // The account's meter has 1.0-2.0 s; this process counted 0.5-1.5 s alone.
        for ms in (1000..2000).step_by(25) {
            account.tick(ms);
        }
        for ms in (500..1500).step_by(25) {
            own.tick(ms);
        }
        account.add_raw(own.raw());
        // 1.0-1.5 s from both (20/slot), 1.5-2.0 s the account's (10/slot), 0.5-1.0 s its own.
        assert_eq!(account.mean_since(2000, 1000, 1.0), Some(60.0));
        assert_eq!(account.mean_since(1000, 500, 0.5), Some(40.0));
        // Newer slots are not replaced by older ones of the same ring place.
        let late = RateMeter::default();
        late.tick(4000);
        account.add_raw(late.raw());
        assert_eq!(account.peak(4000), 4.0);
        let early = RateMeter::default();
        early.tick(100);
        late.add_raw(early.raw());
        assert_eq!(late.peak(4000), 4.0, "slot 0 (0-250 ms) does not count into slot 16 at 4 s");
    }
}
