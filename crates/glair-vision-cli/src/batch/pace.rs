//! The pacing part of the batch summary: what the run cost and how fast it went.

use glair_vision::{PacingSnapshot, RateLimit};

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
         pace          {sent_rate:.1} calls/s sent; {pacer} (rate limit: {limit})",
        p.succeeded, p.sent, p.retries, p.throttled
    )
}

/// For progress lines: `, 429s 12, paced at 190.3/s` (`, paused` during a
/// `Retry-After`); empty until the first 429.
pub fn progress(p: &PacingSnapshot) -> String {
    if p.throttled == 0 {
        return String::new();
    }
    let rate = p.rate.map_or(String::new(), |r| format!(", paced at {r:.1}/s"));
    let paused = if p.paused { ", paused" } else { "" };
    format!(", 429s {}{rate}{paused}", p.throttled)
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

    /// 110 attempts, 10 of them retries after 429s, paced at 190.25/s.
    fn throttled_run(paused: bool) -> PacingSnapshot {
        PacingSnapshot {
            rate: Some(190.25),
            ceiling: None,
            sent: 110,
            retries: 10,
            throttled: 10,
            succeeded: 100,
            paused,
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
        ] {
            assert!(s.contains(part), "{part} in {s}");
        }
        let s = summary(&PacingSnapshot { rate: None, ..p }, RateLimit::Fixed(50.0), 0.0);
        assert!(s.contains("never throttled") && s.contains("at most 50 calls/s"), "{s}");
    }

    #[test]
    fn progress_shows_pacing_once_throttled() {
        let p = throttled_run(true);
        assert_eq!(progress(&p), ", 429s 10, paced at 190.2/s, paused");
        assert_eq!(progress(&PacingSnapshot { throttled: 0, rate: None, ..p }), "");
    }
}
