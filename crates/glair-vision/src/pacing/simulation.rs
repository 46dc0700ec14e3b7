//! The pacer against a simulated gateway, in paused (virtual) time: clients with
//! their own pacers share one account's token bucket, as separate processes do,
//! and send rows the way a patient batch does (a 429 is retried after the
//! pacer's pause, never given up). Virtual time makes a 100-second run take
//! milliseconds and come out the same every time, so the pacer's behaviour
//! (pace, fairness, 429s) can be asserted, which a wall-clock bench cannot.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Pacer, RateLimit};

/// One account's limit, as the sandbox enforces it: `rate` tokens a second,
/// at most `burst` saved; an empty bucket is a 429 with a whole-second `Retry-After`.
struct Gateway {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Gateway {
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        Err(Duration::from_secs(((1.0 - self.tokens) / self.rate).ceil().max(1.0) as u64))
    }
}

/// The account and the network between it and the clients.
#[derive(Clone, Copy)]
pub(super) struct Account {
    pub limit: f64,
    pub burst: f64,
    /// Latency of an answered call: uniform in mean ± spread.
    pub latency_ms: f64,
    pub spread_ms: f64,
}

impl Account {
    /// The bench account: 200/s, burst 20, 50 ms (±15 ms).
    pub(super) const BENCH: Account =
        Account { limit: 200.0, burst: 20.0, latency_ms: 50.0, spread_ms: 15.0 };
}

/// What one client (one process) saw.
#[derive(Debug)]
pub(super) struct ClientRun {
    pub attempts: u64,
    pub throttled: u64,
    /// Seconds from the start until its last row was done.
    pub finished: f64,
    /// When each row was done, in seconds from the start.
    done_at: Vec<f64>,
}

#[derive(Debug)]
pub(super) struct Run {
    pub limit: f64,
    pub clients: Vec<ClientRun>,
}

impl Run {
    pub(super) fn elapsed(&self) -> f64 {
        self.clients.iter().map(|c| c.finished).fold(0.0, f64::max)
    }

    /// Rows done per second after the first `warmup` seconds, all clients together,
    /// as a share of the limit.
    pub(super) fn pace_after(&self, warmup: f64) -> f64 {
        let rows = self.clients.iter().flat_map(|c| &c.done_at).filter(|&&t| t >= warmup).count();
        rows as f64 / (self.elapsed() - warmup) / self.limit
    }

    /// Rows done per second between `from` and `to`, as a share of the limit.
    pub(super) fn pace_between(&self, from: f64, to: f64) -> f64 {
        let rows = self.clients.iter().flat_map(|c| &c.done_at).filter(|&&t| t >= from && t < to).count();
        rows as f64 / (to - from) / self.limit
    }

    /// When the first client finished.
    pub(super) fn first_finished(&self) -> f64 {
        self.clients.iter().map(|c| c.finished).fold(f64::INFINITY, f64::min)
    }

    pub(super) fn throttled_share(&self) -> f64 {
        let (t, a) = self.clients.iter().fold((0, 0), |(t, a), c| (t + c.throttled, a + c.attempts));
        t as f64 / a as f64
    }
}

/// Where the clients run: as processes on separate hosts (each paces alone), or
/// on one host, sharing the account's pacing through a state in this directory.
#[derive(Clone, Copy)]
pub(super) enum Hosts<'a> {
    Separate,
    One(&'a std::path::Path),
}

/// Runs `clients` (rows, concurrency) against `account` until every row is done.
/// Call from a `#[tokio::test(start_paused = true)]` (current-thread) test.
pub(super) async fn run(account: Account, clients: &[(usize, usize)], hosts: Hosts<'_>, seed: u64) -> Run {
    fastrand::seed(seed);
    let start = Instant::now();
    let gateway = Arc::new(Mutex::new(Gateway {
        rate: account.limit,
        burst: account.burst,
        tokens: account.burst,
        at: start,
    }));
    let mut handles = Vec::new();
    for &(rows, concurrency) in clients {
        let pacer = Arc::new(match hosts {
            Hosts::Separate => Pacer::new(RateLimit::Auto),
            Hosts::One(dir) => Pacer::shared_for_test(dir, "https://sim.example/identity/v1/verification"),
        });
        let next_row = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (pacer, next_row, gateway) = (pacer.clone(), next_row.clone(), gateway.clone());
                tokio::spawn(async move {
                    let far = start + Duration::from_secs(1 << 20);
                    let (mut attempts, mut throttled, mut done_at) = (0u64, 0u64, Vec::new());
                    while next_row.fetch_add(1, Ordering::Relaxed) < rows {
                        let mut retry = false;
                        loop {
                            let permit = pacer.acquire(far, retry).await.expect("no deadline");
                            attempts += 1;
                            let answer = gateway.lock().unwrap().take(Instant::now());
                            match answer {
                                Ok(()) => {
                                    let spread = account.spread_ms * (2.0 * fastrand::f64() - 1.0);
                                    let latency =
                                        Duration::from_secs_f64((account.latency_ms + spread) / 1000.0);
                                    tokio::time::sleep(latency).await;
                                    pacer.succeeded();
                                    done_at.push((Instant::now() - start).as_secs_f64());
                                    break;
                                }
                                Err(retry_after) => {
                                    // A gateway's 429 comes back at once: a round trip.
                                    tokio::time::sleep(Duration::from_millis(1)).await;
                                    throttled += 1;
                                    pacer.throttled(permit, Some(retry_after), Duration::from_secs(60));
                                    retry = true;
                                }
                            }
                        }
                    }
                    (attempts, throttled, done_at)
                })
            })
            .collect();
        handles.push(workers);
    }
    let mut runs = Vec::new();
    for workers in handles {
        let mut client = ClientRun { attempts: 0, throttled: 0, finished: 0.0, done_at: Vec::new() };
        for worker in workers {
            let (attempts, throttled, done_at) = worker.await.expect("worker");
            client.attempts += attempts;
            client.throttled += throttled;
            client.done_at.extend(done_at);
        }
        client.finished = client.done_at.iter().copied().fold(0.0, f64::max);
        runs.push(client);
    }
    Run { limit: account.limit, clients: runs }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(name: &str, run: &Run) {
        let finished: Vec<String> = run.clients.iter().map(|c| format!("{:.1}", c.finished)).collect();
        eprintln!(
            "{name}: elapsed {:.1} s, pace after 5 s {:.1}%, while all ran {:.1}%, 429s {:.2}%, finished at [{}]",
            run.elapsed(),
            100.0 * run.pace_after(5.0),
            100.0 * run.pace_between(5.0, run.first_finished()),
            100.0 * run.throttled_share(),
            finished.join(", ")
        );
    }

    /// The single-process target: 20,000 rows at 64, no rate given.
    #[tokio::test(start_paused = true)]
    async fn one_client_finds_the_limit_and_holds_it() {
        for seed in 1..=4 {
            let run = run(Account::BENCH, &[(20_000, 64)], Hosts::Separate, seed).await;
            report(&format!("one client, seed {seed}"), &run);
            assert!(run.pace_after(5.0) >= 0.92, "seed {seed}");
            assert!(run.throttled_share() <= 0.01, "seed {seed}");
        }
    }

    /// Four processes at 32 sharing the account, 5,000 rows each. Their shares
    /// wander (a 429 lands on whoever sends while the bucket is empty), so they
    /// finish apart; the whole run counts the time the last one runs alone.
    #[tokio::test(start_paused = true)]
    async fn four_clients_share_the_account() {
        for seed in 1..=4 {
            let run = run(Account::BENCH, &[(5_000, 32); 4], Hosts::Separate, seed).await;
            report(&format!("four clients, seed {seed}"), &run);
            assert!(run.pace_between(5.0, run.first_finished()) >= 0.88, "seed {seed}");
            assert!(run.pace_after(5.0) >= 0.85, "seed {seed}");
            assert!(run.throttled_share() <= 0.02, "seed {seed}");
        }
    }

    /// The same four processes on one host, sharing the account's pacing: they
    /// send as one client would, so they finish together, near its pace.
    #[tokio::test(start_paused = true)]
    async fn four_processes_of_one_host_pace_as_one() {
        let dir = super::super::shared::tests::TempDir::new();
        for seed in 1..=4 {
            let run = run(Account::BENCH, &[(5_000, 32); 4], Hosts::One(&dir.0), seed).await;
            report(&format!("one host, seed {seed}"), &run);
            assert!(run.pace_after(5.0) >= 0.90, "seed {seed}");
            assert!(run.elapsed() - run.first_finished() <= 2.0, "seed {seed}: they finish together");
            assert!(run.throttled_share() <= 0.01, "seed {seed}");
        }
    }

    /// Three clients finish early; the fourth, squeezed to a quarter of the
    /// account until then, must take over the whole of it quickly.
    #[tokio::test(start_paused = true)]
    async fn the_last_client_reclaims_the_account() {
        for seed in 1..=4 {
            let run = run(
                Account::BENCH,
                &[(1_500, 32), (1_500, 32), (1_500, 32), (8_000, 32)],
                Hosts::Separate,
                seed,
            )
            .await;
            report(&format!("last client, seed {seed}"), &run);
            let others_done = run.clients[..3].iter().map(|c| c.finished).fold(0.0, f64::max);
            let alone = run.pace_between(others_done + 10.0, run.elapsed());
            eprintln!("  alone from {others_done:.1} s: {:.1}% after 10 s", 100.0 * alone);
            assert!(run.elapsed() > others_done + 20.0, "seed {seed}: too little left to measure");
            assert!(alone >= 0.80, "seed {seed}");
        }
    }
}
