//! The pacing part of the batch summary: what the run cost and how fast it went.

use glair_vision::{PacingModel, PacingSnapshot, RateLimit};

/// `calls billed`, `retries`, `429s seen` and the pace, as summary lines.
pub fn summary(p: &PacingSnapshot, limit: RateLimit, elapsed: f64) -> String {
    let sent_rate = if elapsed > 0.0 { p.sent as f64 / elapsed } else { 0.0 };
    let share = if p.sent > 0 { 100.0 * p.throttled as f64 / p.sent as f64 } else { 0.0 };
    let limit = match limit.ceiling() {
        Some(r) => format!("at most {} calls/s", trim(r)),
        None => "auto".to_owned(),
    };
    let pacer = match p.rate {
        Some(r) => format!("pacer at {r:.1} calls/s at the end"),
        None => "never throttled, never paced".to_owned(),
    };
    format!(
        "  calls billed  {} (answered with a verification)\n  \
         attempts      {} ({} retries)\n  \
         429s seen     {} ({share:.1}% of attempts)\n  \
         pace          {sent_rate:.1} calls/s sent; {pacer} (rate limit: {limit})\n  \
         account       {}{}",
        p.succeeded,
        p.sent,
        p.retries,
        p.throttled,
        account(p),
        store(p)
    )
}

/// How the pace was shared through a pacing store, as a summary line (or nothing).
fn store(p: &PacingSnapshot) -> String {
    let Some(s) = p.store else { return String::new() };
    let how = match (s.connected, s.joined) {
        (false, _) => "cut off at the end: paced per process (see the warning above)".to_owned(),
        (true, true) => format!("one pace with {} process(es) of the account", s.processes),
        (true, false) => "reachable; not needed (never throttled)".to_owned(),
    };
    // What sharing cost: round trips, and the wait it added to an attempt.
    let per_attempt = if p.sent > 0 { s.round_trips as f64 / p.sent as f64 } else { 0.0 };
    let cost = format!(
        "{} round trips ({per_attempt:.2} per attempt), {:.2} ms added per attempt at p99",
        s.round_trips,
        s.wait_p99.as_secs_f64() * 1000.0
    );
    format!("\n  pacing store  {how}\n                {cost}")
}

/// What the pacer believes of the account: `limit about 196.2 calls/s, measured
/// at 429s (holding)`, `600 calls per 60 s, from the gateway's rate-limit headers`.
pub fn account(p: &PacingSnapshot) -> String {
    match (p.model, p.limit) {
        (PacingModel::Announced, Some(limit)) => match p.window {
            Some(w) if w.as_secs_f64() > 1.0 => format!(
                "{} calls per {} s ({limit:.1}/s), from the gateway's rate-limit headers",
                trim((limit * w.as_secs_f64()).round()),
                trim(w.as_secs_f64())
            ),
            _ => format!("{limit:.1} calls/s, from the gateway's rate-limit headers"),
        },
        (model, Some(limit)) => format!("limit about {limit:.1} calls/s, measured at 429s ({model})"),
        (PacingModel::Ceiling, None) => "held at the rate limit given".to_owned(),
        (PacingModel::Unpaced, None) => "limit not met".to_owned(),
        (model, None) => format!("limit not known yet ({model})"),
    }
}

/// For progress lines: `, 429s 12, paced at 190.3/s (holding, limit ~196.2/s)`
/// (`, paused` while the gateway is closed); empty until the first 429 or
/// announced quota.
pub fn progress(p: &PacingSnapshot) -> String {
    if p.throttled == 0 && p.model != PacingModel::Announced {
        return String::new();
    }
    let rate = p.rate.map_or(String::new(), |r| format!(", paced at {r:.1}/s"));
    let model = match (p.model, p.limit) {
        (PacingModel::Announced, Some(l)) => format!(" (from headers, limit {l:.1}/s)"),
        (PacingModel::Ceiling, _) | (_, None) => format!(" ({})", p.model),
        (m, Some(l)) => format!(" ({m}, limit ~{l:.1}/s)"),
    };
    let paused = if p.paused { ", paused" } else { "" };
    format!(", 429s {}{rate}{model}{paused}", p.throttled)
}

/// `50`, `12.5`.
fn trim(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glair_vision::StorePace;

    /// 110 attempts, 10 of them retries after 429s, paced at 190.25/s.
    fn throttled_run(paused: bool) -> PacingSnapshot {
        PacingSnapshot {
            rate: Some(190.25),
            ceiling: None,
            limit: Some(196.2),
            window: None,
            model: PacingModel::Holding,
            from_headers: false,
            sent: 110,
            retries: 10,
            throttled: 10,
            succeeded: 100,
            paused,
            store: None,
        }
    }

    #[test]
    fn names_every_figure() {
        let p = throttled_run(false);
        let s = summary(&p, RateLimit::Auto, 2.0);
        for part in [
            "calls billed  100",
            "attempts      110 (10 retries)",
            "429s seen     10 (9.1%",
            "55.0 calls/s sent",
            "190.2",
            "rate limit: auto",
            "limit about 196.2 calls/s, measured at 429s (holding)",
        ] {
            assert!(s.contains(part), "{part} in {s}");
        }
        let s = summary(&PacingSnapshot { rate: None, ..p }, RateLimit::Fixed(50.0), 0.0);
        assert!(s.contains("never throttled") && s.contains("at most 50 calls/s"), "{s}");
        assert!(!s.contains("pacing store"), "{s}");
        let shared = StorePace {
            joined: true,
            connected: true,
            processes: 4,
            round_trips: 44,
            wait_p99: std::time::Duration::from_micros(420),
        };
        let s = summary(&PacingSnapshot { store: Some(shared), ..p }, RateLimit::Auto, 2.0);
        assert!(s.contains("pacing store  one pace with 4 process(es)"), "{s}");
        assert!(s.contains("44 round trips (0.40 per attempt), 0.42 ms added per attempt at p99"), "{s}");
        let cut = StorePace { connected: false, ..shared };
        let s = summary(&PacingSnapshot { store: Some(cut), ..p }, RateLimit::Auto, 2.0);
        assert!(s.contains("pacing store  cut off"), "{s}");
    }

    #[test]
    fn progress_shows_pacing_once_throttled() {
        let p = throttled_run(true);
        assert_eq!(progress(&p), ", 429s 10, paced at 190.2/s (holding, limit ~196.2/s), paused");
        let unpaced =
            PacingSnapshot { throttled: 0, rate: None, limit: None, model: PacingModel::Unpaced, ..p };
        assert_eq!(progress(&unpaced), "");
    }

    #[test]
    fn an_announced_quota_is_named() {
        let p = PacingSnapshot {
            throttled: 0,
            paused: false,
            rate: Some(9.7),
            limit: Some(10.0),
            window: Some(std::time::Duration::from_secs(60)),
            model: PacingModel::Announced,
            from_headers: true,
            ..throttled_run(false)
        };
        assert_eq!(account(&p), "600 calls per 60 s (10.0/s), from the gateway's rate-limit headers");
        assert_eq!(progress(&p), ", 429s 0, paced at 9.7/s (from headers, limit 10.0/s)");
    }
}
