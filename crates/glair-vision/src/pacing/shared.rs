//! One account's pacing shared by the processes of one user on one host (four
//! CLI batches, a multiprocessing pool, a local Dask or Spark cluster), so that
//! they draw their sends from one schedule and one rate, as the threads of one
//! process do. Paced apart, each process lowers its own rate at its own 429s;
//! their shares of the account then drift, they finish apart, and the last ones
//! must grow back into the room the others left: about 5% of the account lost.
//!
//! The state lives in a small file per account, `pacing-<hash>.bin`, where the
//! hash is SHA-256 over the endpoint and the API key (the key itself is never
//! written). The directory is `$GLAIR_VISION_PACING_DIR`, else
//! `$XDG_RUNTIME_DIR/glair-vision`, else `<temp dir>/glair-vision-<uid>`, made
//! 0700 and used only when the user owns it and nobody else can write to it;
//! files are 0600. Each read-modify-write of the state holds an advisory lock
//! (`flock`), which the kernel releases if a process dies. A process joins the
//! state at its own first 429, or earlier when it finds (looking once a second)
//! that another process paces the account now; a file is made only at a 429 (a
//! client of an account nobody is throttled on never writes it); it brings what it counted
//! alone until then (so the account's first search starts from the account's
//! rate, not from the share of the process that was refused first),
//! state older than a minute is ignored, and files untouched for a day are
//! removed. `GLAIR_VISION_SHARED_PACING=0` keeps pacing per process. Unix
//! only; elsewhere pacing stays per process.

// Off Unix the state is never read or written: only its types remain.
#![cfg_attr(not(unix), allow(dead_code))]

use std::path::{Path, PathBuf};

use super::estimate::{Estimate, Phase, Totals};
use super::schedule::Schedule;

/// The state of one account's pacer, on the hosts' shared timeline (wall-clock
/// milliseconds, which every process of the host reads alike).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Record {
    pub engaged: bool,
    pub estimate: Estimate,
    pub schedule: Schedule,
    pub totals: Totals,
    pub sent: [u64; 8],
    pub accepted: [u64; 8],
}

const MAGIC: u64 = u64::from_le_bytes(*b"GLVPACE4");
const WORDS: usize = 43;
const RECORD_BYTES: usize = WORDS * 8;
/// State not written for this long belongs to processes gone (or idle): ignored.
const STALE_MS: u64 = 60_000;
/// A process not yet throttled looks this often whether another paces the account,
const LOOK_EVERY_MS: u64 = 1000;
/// and finds it paced when its state was written this recently (an engaged
/// process writes it at every call it sends or is answered).
const PACED_NOW_MS: u64 = 2000;
/// Files of accounts untouched for this long are removed when a new one is made.
const PRUNE_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

fn phase_word(phase: Phase) -> u64 {
    match phase {
        Phase::Open => 0,
        Phase::Searching => 1,
        Phase::Measuring => 2,
        Phase::Holding => 3,
        Phase::Announced => 4,
    }
}

fn word_phase(word: u64) -> Option<Phase> {
    Some(match word {
        0 => Phase::Open,
        1 => Phase::Searching,
        2 => Phase::Measuring,
        3 => Phase::Holding,
        4 => Phase::Announced,
        _ => return None,
    })
}

impl Record {
    pub(super) fn encode(&self, updated_ms: u64) -> [u8; RECORD_BYTES] {
        let (e, s, t) = (&self.estimate, &self.schedule, &self.totals);
        let flags = u64::from(self.engaged)
            | (u64::from(e.lower_bound) << 1)
            | (u64::from(e.closed_since_ms.is_some()) << 2)
            | (u64::from(e.cycle_start.is_some()) << 3)
            | (u64::from(e.confirming) << 4);
        let (cycle_ms, cycle_accepted) = e.cycle_start.unwrap_or_default();
        let mut words = vec![
            MAGIC,
            updated_ms,
            flags,
            phase_word(e.phase),
            e.limit.to_bits(),
            e.since_ms.to_bits(),
            e.at_start.sent,
            e.at_start.accepted,
            e.at_start.refused,
            e.base_rate.to_bits(),
            e.hold_s.to_bits(),
            e.epoch,
            e.window_s.to_bits(),
            s.next_slot_ms.to_bits(),
            s.paused_until_ms.to_bits(),
            u64::from(s.streak),
            s.accepted_at_refusal,
            t.sent,
            t.accepted,
            t.refused,
            e.refused_now,
            e.closed_since_ms.unwrap_or_default().to_bits(),
            e.closed_for_s.to_bits(),
            cycle_ms.to_bits(),
            cycle_accepted,
            e.held.to_bits(),
            e.above.to_bits(),
        ];
        words.extend_from_slice(&self.sent);
        words.extend_from_slice(&self.accepted);
        let mut bytes = [0u8; RECORD_BYTES];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// The record and when it was written; `None` for anything else (a short,
    /// foreign or torn file, or times and rates no pacer writes).
    pub(super) fn decode(bytes: &[u8]) -> Option<(Record, u64)> {
        if bytes.len() != RECORD_BYTES {
            return None;
        }
        let w: Vec<u64> = bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        if w[0] != MAGIC || w[2] > 31 || w[15] > u64::from(u32::MAX) {
            return None;
        }
        let f = |i: usize| f64::from_bits(w[i]);
        let estimate = Estimate {
            phase: word_phase(w[3])?,
            limit: f(4),
            lower_bound: w[2] & 2 != 0,
            since_ms: f(5),
            at_start: Totals { sent: w[6], accepted: w[7], refused: w[8] },
            base_rate: f(9),
            hold_s: f(10),
            epoch: w[11],
            window_s: f(12),
            refused_now: w[20],
            confirming: w[2] & 16 != 0,
            held: f(25),
            above: f(26),
            closed_since_ms: (w[2] & 4 != 0).then(|| f(21)),
            closed_for_s: f(22),
            cycle_start: (w[2] & 8 != 0).then(|| (f(23), w[24])),
        };
        let schedule = Schedule {
            next_slot_ms: f(13),
            paused_until_ms: f(14),
            streak: w[15] as u32,
            accepted_at_refusal: w[16],
        };
        let record = Record {
            engaged: w[2] & 1 != 0,
            estimate,
            schedule,
            totals: Totals { sent: w[17], accepted: w[18], refused: w[19] },
            sent: w[27..35].try_into().unwrap(),
            accepted: w[35..43].try_into().unwrap(),
        };
        let (e, s) = (&record.estimate, &record.schedule);
        let times = [
            e.since_ms,
            e.window_s,
            e.closed_since_ms.unwrap_or_default(),
            e.closed_for_s,
            e.cycle_start.unwrap_or_default().0,
            s.next_slot_ms,
            s.paused_until_ms,
        ];
        // Rates are positive; infinite while unknown (a limit before the first
        // measurement, a hold at a ceiling).
        let rates = [e.limit, e.base_rate, e.hold_s, e.held, e.above];
        let ok =
            times.iter().all(|t| t.is_finite() && *t >= 0.0) && rates.iter().all(|r| !r.is_nan() && *r > 0.0);
        ok.then_some((record, w[1]))
    }
}

/// The shared state of one account, or nothing where it cannot be shared.
pub(super) struct SharedAccount {
    path: PathBuf,
    /// Opened once the file exists, with the id of the process that opened it.
    /// The mutex keeps this process's tasks apart (an `flock` belongs to an open
    /// file, not a thread); a forked child opens its own, or it would share the
    /// parent's lock instead of waiting for it.
    #[cfg(unix)]
    file: std::sync::Mutex<Option<(u32, std::fs::File)>>,
    /// When this process last looked whether another paces the account (0: never).
    looked_ms: std::sync::atomic::AtomicU64,
}

impl SharedAccount {
    /// The account at `endpoint` with `api_key`, in the directory the
    /// environment names; `None` when sharing is off or no safe directory exists.
    pub(super) fn for_account(endpoint: &str, api_key: &[u8]) -> Option<SharedAccount> {
        let off = std::env::var("GLAIR_VISION_SHARED_PACING")
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "0" | "off" | "false" | "no"));
        if off {
            return None;
        }
        SharedAccount::in_dir(&default_dir()?, endpoint, api_key)
    }

    pub(super) fn in_dir(dir: &Path, endpoint: &str, api_key: &[u8]) -> Option<SharedAccount> {
        if !cfg!(unix) {
            return None;
        }
        if let Err(why) = private_dir(dir) {
            tracing::debug!(dir = %dir.display(), why, "pacing stays per process: no private directory to share it in");
            return None;
        }
        Some(SharedAccount {
            path: dir.join(format!("pacing-{}.bin", account_hash(endpoint, api_key))),
            #[cfg(unix)]
            file: std::sync::Mutex::new(None),
            looked_ms: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// Whether another process paces the account now: its state is engaged
    /// and was written in the last [`PACED_NOW_MS`]. Looks at most once per
    /// [`LOOK_EVERY_MS`] (false between looks). A process that has not been
    /// throttled itself joins such an account rather than send unpaced beside
    /// it: its calls would take the room the account's pace counts on, and the
    /// account's measurements, which count only the calls of processes that
    /// joined, would read its share as the gateway's refusal.
    pub(super) fn paced_elsewhere(&self, now_ms: u64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.looked_ms.load(Ordering::Acquire);
        if last != 0 && now_ms.saturating_sub(last) < LOOK_EVERY_MS {
            return false;
        }
        if self.looked_ms.compare_exchange(last, now_ms.max(1), Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            return false; // another task of this process is looking
        }
        #[cfg(unix)]
        {
            let Ok(file) = std::fs::File::open(&self.path) else { return false };
            let Ok(_lock) = Flock::take(&file, libc::LOCK_SH) else { return false };
            read_record(&file, now_ms).is_some_and(|(record, updated_ms)| {
                record.engaged && now_ms.abs_diff(updated_ms) <= PACED_NOW_MS
            })
        }
        #[cfg(not(unix))]
        false
    }

    /// Runs `body` with the account's current record (if there is a fresh one)
    /// under the account's lock, and writes back what it returns (if anything).
    /// Any I/O failure degrades to per-process pacing for this step.
    pub(super) fn transact<R>(
        &self,
        now_ms: u64,
        body: impl FnOnce(Option<Record>) -> (R, Option<Record>),
    ) -> R {
        #[cfg(unix)]
        {
            let pid = std::process::id();
            let mut slot = self.file.lock().unwrap_or_else(|e| e.into_inner());
            if slot.as_ref().is_none_or(|(opener, _)| *opener != pid) {
                *slot = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&self.path)
                    .ok()
                    .map(|f| (pid, f));
            }
            let Some((_, file)) = slot.as_ref() else {
                let (out, record) = body(None);
                if let Some(record) = record {
                    *slot = self.create(&record, now_ms).map(|f| (pid, f));
                }
                return out;
            };
            let _lock = match Flock::exclusive(file) {
                Ok(lock) => lock,
                Err(_) => return body(None).0,
            };
            let current = read_record(file, now_ms).map(|(record, _)| record);
            let (out, record) = body(current);
            if let Some(record) = record {
                use std::os::unix::fs::FileExt;
                if let Err(e) = file.write_all_at(&record.encode(now_ms), 0) {
                    tracing::debug!(error = %e, "cannot write the shared pacing state");
                }
            }
            out
        }
        #[cfg(not(unix))]
        {
            let _ = now_ms;
            body(None).0
        }
    }

    #[cfg(unix)]
    fn create(&self, record: &Record, now_ms: u64) -> Option<std::fs::File> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        if let Some(dir) = self.path.parent() {
            prune(dir);
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&self.path)
            .map_err(|e| tracing::debug!(error = %e, "cannot make the shared pacing state"))
            .ok()?;
        // Another process may have made it meanwhile: its state wins if fresh.
        let lock = Flock::exclusive(&file).ok()?;
        if read_record(&file, now_ms).is_none() {
            file.write_all_at(&record.encode(now_ms), 0).ok()?;
        }
        drop(lock);
        Some(file)
    }
}

#[cfg(unix)]
/// The account's record and when it was written, unless stale.
fn read_record(file: &std::fs::File, now_ms: u64) -> Option<(Record, u64)> {
    use std::os::unix::fs::FileExt;
    let mut bytes = [0u8; RECORD_BYTES];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let (record, updated_ms) = Record::decode(&bytes)?;
    (now_ms.abs_diff(updated_ms) <= STALE_MS).then_some((record, updated_ms))
}

/// An `flock` on a file, released on drop (and by the kernel if the process
/// dies holding it).
#[cfg(unix)]
struct Flock<'a>(&'a std::fs::File);

#[cfg(unix)]
impl<'a> Flock<'a> {
    fn exclusive(file: &'a std::fs::File) -> std::io::Result<Flock<'a>> {
        Flock::take(file, libc::LOCK_EX)
    }

    /// Takes the lock `operation` (`LOCK_EX`, or `LOCK_SH` to read).
    fn take(file: &'a std::fs::File, operation: libc::c_int) -> std::io::Result<Flock<'a>> {
        use std::os::fd::AsRawFd;
        loop {
            // SAFETY: flock on a descriptor this `File` owns for the guard's life.
            if unsafe { libc::flock(file.as_raw_fd(), operation) } == 0 {
                return Ok(Flock(file));
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

#[cfg(unix)]
impl Drop for Flock<'_> {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: as above; unlocking a lock this guard took.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

pub(super) fn account_hash(endpoint: &str, api_key: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"glair-vision pacing v1\0");
    h.update((endpoint.len() as u64).to_le_bytes());
    h.update(endpoint.as_bytes());
    h.update(api_key);
    h.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

fn default_dir() -> Option<PathBuf> {
    let env_dir = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = env_dir("GLAIR_VISION_PACING_DIR") {
        return Some(dir);
    }
    if let Some(runtime) = env_dir("XDG_RUNTIME_DIR") {
        return Some(runtime.join("glair-vision"));
    }
    #[cfg(unix)]
    {
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        Some(std::env::temp_dir().join(format!("glair-vision-{uid}")))
    }
    #[cfg(not(unix))]
    None
}

/// Makes `dir` (0700) if needed; it must be a directory this user owns that no
/// one else can write to, or another user could read or steer the pacing.
#[cfg(unix)]
fn private_dir(dir: &Path) -> Result<(), &'static str> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if let Err(e) = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            return Err("cannot be made");
        }
    }
    let meta = std::fs::symlink_metadata(dir).map_err(|_| "cannot be read")?;
    // SAFETY: as in `default_dir`.
    let uid = unsafe { libc::getuid() };
    if !meta.is_dir() {
        Err("not a directory")
    } else if meta.uid() != uid {
        Err("owned by another user")
    } else if meta.mode() & 0o022 != 0 {
        Err("writable by others")
    } else {
        Ok(())
    }
}

#[cfg(not(unix))]
fn private_dir(_: &Path) -> Result<(), &'static str> {
    Err("unsupported on this platform")
}

/// Removes account files nobody has touched for a day (test runs against
/// sandboxes on ephemeral ports leave one per port).
#[cfg(unix)]
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("pacing-") && name.ends_with(".bin")) {
            continue;
        }
        let old = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        if old.is_some_and(|age| age > PRUNE_AFTER) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A fresh private directory under the temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);

    impl TempDir {
        pub(crate) fn new() -> TempDir {
            let dir = std::env::temp_dir().join(format!(
                "glair-pacing-test-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn record() -> Record {
        Record {
            engaged: true,
            estimate: Estimate {
                phase: Phase::Holding,
                limit: 200.0,
                since_ms: 1.5e12,
                at_start: Totals { sent: 10, accepted: 9, refused: 1 },
                base_rate: 206.0,
                epoch: 7,
                ..Estimate::default()
            },
            schedule: Schedule {
                next_slot_ms: 1.5e12 + 10.0,
                streak: 2,
                accepted_at_refusal: 9,
                ..Schedule::default()
            },
            totals: Totals { sent: 20, accepted: 18, refused: 2 },
            sent: [1, 2, 3, 4, 5, 6, 7, 8],
            accepted: [8; 8],
        }
    }

    #[test]
    fn a_record_reads_back_and_anything_else_is_refused() {
        let bytes = record().encode(42);
        assert_eq!(Record::decode(&bytes), Some((record(), 42)));
        assert_eq!(Record::decode(&bytes[..RECORD_BYTES - 1]), None);
        let mut foreign = bytes;
        foreign[0] ^= 1;
        assert_eq!(Record::decode(&foreign), None);
        let mut nan = record();
        nan.schedule.next_slot_ms = f64::NAN;
        assert_eq!(Record::decode(&nan.encode(1)), None);
        // A searching client's limit is unknown: infinite, and valid.
        let mut searching = record();
        searching.estimate.limit = f64::INFINITY;
        assert!(Record::decode(&searching.encode(1)).is_some());
        let mut negative = record();
        negative.estimate.base_rate = -1.0;
        assert_eq!(Record::decode(&negative.encode(1)), None);
    }

    #[test]
    fn the_file_is_named_by_a_hash_and_holds_no_key() {
        let a = account_hash("https://api.example/v1", b"key-one");
        assert_eq!(a.len(), 32);
        assert_ne!(a, account_hash("https://api.example/v1", b"key-two"));
        assert_ne!(a, account_hash("https://api.example/v2", b"key-one"));
        // Length-prefixed: moving bytes between endpoint and key changes the name.
        assert_ne!(account_hash("ab", b"c"), account_hash("a", b"bc"));
    }

    #[cfg(unix)]
    #[test]
    fn written_only_once_engaged_private_and_stale_state_ignored() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        let shared = SharedAccount::in_dir(&dir.0, "https://api.example/v1", b"secret-key").unwrap();
        let now = 1_800_000_000_000;
        // Nothing to write: no file.
        assert_eq!(shared.transact(now, |r| (r, None)), None);
        assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
        shared.transact(now, |_| ((), Some(record())));
        let path = std::fs::read_dir(&dir.0).unwrap().next().unwrap().unwrap().path();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir.0).unwrap().permissions().mode() & 0o777, 0o700);
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(10).any(|w| w == b"secret-key"));
        // Another process's view of the same account.
        let other = SharedAccount::in_dir(&dir.0, "https://api.example/v1", b"secret-key").unwrap();
        assert_eq!(other.transact(now + 1000, |r| (r, None)), Some(record()));
        assert_eq!(other.transact(now + STALE_MS + 1, |r| (r, None)), None, "stale");
        // A corrupt file is ignored, then overwritten.
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(other.transact(now, |r| (r, Some(record()))), None);
        assert_eq!(shared.transact(now, |r| (r, None)), Some(record()));
    }

    #[cfg(unix)]
    #[test]
    fn an_account_is_paced_elsewhere_while_an_engaged_state_is_being_written() {
        let dir = TempDir::new();
        let look = |at: u64| {
            // A new process each time: its first look is never held back.
            SharedAccount::in_dir(&dir.0, "https://api.example/v1", b"k").unwrap().paced_elsewhere(at)
        };
        let now = 1_800_000_000_000;
        assert!(!look(now), "no file: nobody paces the account");
        let writer = SharedAccount::in_dir(&dir.0, "https://api.example/v1", b"k").unwrap();
        let mut idle = record();
        idle.engaged = false;
        writer.transact(now, |_| ((), Some(idle)));
        assert!(!look(now), "a state nobody was throttled into");
        writer.transact(now, |_| ((), Some(record())));
        assert!(look(now + PACED_NOW_MS), "written just now");
        assert!(!look(now + PACED_NOW_MS + 1), "not written lately: that process is gone or idle");
        // One process looks once a second, whatever its tasks do meanwhile.
        let one = SharedAccount::in_dir(&dir.0, "https://api.example/v1", b"k").unwrap();
        assert!(one.paced_elsewhere(now));
        assert!(!one.paced_elsewhere(now + LOOK_EVERY_MS - 1));
        assert!(one.paced_elsewhere(now + LOOK_EVERY_MS));
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_can_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let dir = TempDir::new();
        std::fs::create_dir_all(&dir.0).unwrap();
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(SharedAccount::in_dir(&dir.0, "e", b"k").is_none());
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(SharedAccount::in_dir(&dir.0, "e", b"k").is_some());
    }
}
