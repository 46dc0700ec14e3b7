//! The gateways that stand in front of real APIs, as one pure model: how an
//! account's calls are counted (a token bucket, a fixed or sliding window, a
//! leaky queue that delays before it refuses), how a refusal looks (`Retry-After`
//! absent, fixed seconds, the seconds left, an HTTP date), which rate-limit
//! headers each answer carries, and a schedule that moves the limit mid-run.
//!
//! Time is passed in (`now`: time since the gateway started), so the same model
//! serves the sandbox on the wall clock and the pacer's simulation on a virtual
//! one. Fixed windows are aligned to the wall clock, as Kong and most counters
//! align them, so a window's reset is the same instant for every caller.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, SystemTime};

/// How an account's calls are counted. Rates are calls per second.
#[derive(Clone, Debug, PartialEq)]
pub enum Algorithm {
    /// `rate` tokens a second, at most `burst` saved up; a call takes one.
    TokenBucket { rate: f64, burst: u32 },
    /// At most `limit` calls in each window, the count starting over at each
    /// window's start (Kong's, and most API gateways', default).
    FixedWindow { limit: u32, window: Duration },
    /// At most `limit` calls in any `window`, as the weighted two-window counter
    /// of Cloudflare, Kong's `sliding` strategy and Envoy count it.
    SlidingWindow { limit: u32, window: Duration },
    /// nginx `limit_req` without `nodelay`: calls beyond `rate` wait in a queue
    /// (answered late) up to `depth` calls deep, and are refused beyond it.
    LeakyQueue { rate: f64, depth: u32 },
}

impl Algorithm {
    /// The same algorithm with its limit scaled by `factor` (a burst or a
    /// queue's depth stays as configured: accounts are resized by their rate).
    fn scaled(&self, factor: f64) -> Algorithm {
        let count = |n: u32| ((f64::from(n) * factor).round() as u32).max(1);
        match *self {
            Algorithm::TokenBucket { rate, burst } => Algorithm::TokenBucket { rate: rate * factor, burst },
            Algorithm::FixedWindow { limit, window } => {
                Algorithm::FixedWindow { limit: count(limit), window }
            }
            Algorithm::SlidingWindow { limit, window } => {
                Algorithm::SlidingWindow { limit: count(limit), window }
            }
            Algorithm::LeakyQueue { rate, depth } => Algorithm::LeakyQueue { rate: rate * factor, depth },
        }
    }

    /// Calls a second this algorithm allows in the long run.
    pub fn rate(&self) -> f64 {
        match *self {
            Algorithm::TokenBucket { rate, .. } | Algorithm::LeakyQueue { rate, .. } => rate,
            Algorithm::FixedWindow { limit, window } | Algorithm::SlidingWindow { limit, window } => {
                f64::from(limit) / window.as_secs_f64()
            }
        }
    }

    /// Whether the numbers are ones a gateway could hold.
    pub fn validate(&self) -> Result<(), String> {
        let rate_ok = |r: f64| r.is_finite() && r > 0.0 && r <= 1_000_000.0;
        let window_ok = |w: Duration| w >= Duration::from_millis(1) && w <= Duration::from_secs(86_400);
        match *self {
            Algorithm::TokenBucket { rate, burst } if !rate_ok(rate) || burst == 0 => {
                Err("a token bucket needs a rate from above 0 to 1000000 calls a second and a burst of at least 1".into())
            }
            Algorithm::LeakyQueue { rate, .. } if !rate_ok(rate) => {
                Err("a leaky queue needs a rate from above 0 to 1000000 calls a second".into())
            }
            Algorithm::FixedWindow { limit, window } | Algorithm::SlidingWindow { limit, window }
                if limit == 0 || !window_ok(window) =>
            {
                Err("a window needs a limit of at least 1 call and a length from 1 ms to 1 day".into())
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Algorithm::TokenBucket { rate, burst } => write!(f, "token bucket of {rate}/s, burst {burst}"),
            Algorithm::FixedWindow { limit, window } => {
                write!(f, "fixed window of {limit} per {}", seconds(window))
            }
            Algorithm::SlidingWindow { limit, window } => {
                write!(f, "sliding window of {limit} per {}", seconds(window))
            }
            Algorithm::LeakyQueue { rate, depth } => write!(f, "leaky queue of {rate}/s, {depth} deep"),
        }
    }
}

fn seconds(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

/// How a refusal says when to come back.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryAfter {
    /// No `Retry-After` at all.
    Absent,
    /// Always the same whole seconds (`Retry-After: 1` is the common one).
    Seconds(u64),
    /// The seconds until a call would be accepted, rounded up (at least 1).
    Exact,
    /// The instant a call would be accepted, as an HTTP date (whole seconds, rounded up).
    HttpDate,
}

/// Which rate-limit headers every answer carries.
#[derive(Clone, Debug, PartialEq)]
pub enum RateLimitHeaders {
    None,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset` (seconds until the window resets).
    XRateLimit,
    /// Kong's: `X-RateLimit-Limit-Second` / `-Remaining-Second` (or the
    /// window's unit) with `RateLimit-Limit`, `-Remaining`, `-Reset`.
    Kong,
    /// The IETF structured fields: `RateLimit-Policy: "default";q=..;w=..` and
    /// `RateLimit: "default";r=..;t=..`.
    Ietf,
}

/// From `at` (since the gateway started) on, the limit is `factor` times the configured one.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitChange {
    pub at: Duration,
    pub factor: f64,
}

/// A whole gateway: what it counts, how it refuses, what it announces, how it moves.
#[derive(Clone, Debug, PartialEq)]
pub struct GatewayConfig {
    pub algorithm: Algorithm,
    pub retry_after: RetryAfter,
    pub headers: RateLimitHeaders,
    pub schedule: Vec<LimitChange>,
}

impl GatewayConfig {
    /// The sandbox's gateway of 0.1: a token bucket answering `Retry-After` in whole seconds.
    pub fn token_bucket(rate: f64, burst: u32) -> GatewayConfig {
        GatewayConfig {
            algorithm: Algorithm::TokenBucket { rate, burst },
            retry_after: RetryAfter::Exact,
            headers: RateLimitHeaders::None,
            schedule: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.algorithm.validate()?;
        for change in &self.schedule {
            if !(change.factor.is_finite() && change.factor > 0.0 && change.factor <= 1000.0) {
                return Err("a limit change needs a factor above 0 and at most 1000".into());
            }
            self.algorithm.scaled(change.factor).validate()?;
        }
        if let RetryAfter::Seconds(n) = self.retry_after {
            if n > 86_400 {
                return Err("retry_after seconds must be at most 86400".into());
            }
        }
        Ok(())
    }
}

impl fmt::Display for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.algorithm)?;
        match self.retry_after {
            RetryAfter::Absent => write!(f, ", no Retry-After")?,
            RetryAfter::Seconds(n) => write!(f, ", Retry-After: {n}")?,
            RetryAfter::Exact => write!(f, ", Retry-After in seconds left")?,
            RetryAfter::HttpDate => write!(f, ", Retry-After as an HTTP date")?,
        }
        match self.headers {
            RateLimitHeaders::None => {}
            RateLimitHeaders::XRateLimit => write!(f, ", X-RateLimit headers")?,
            RateLimitHeaders::Kong => write!(f, ", Kong's rate-limit headers")?,
            RateLimitHeaders::Ietf => write!(f, ", IETF RateLimit headers")?,
        }
        for change in &self.schedule {
            write!(f, ", x{} from {} s", change.factor, change.at.as_secs_f64())?;
        }
        Ok(())
    }
}

impl std::str::FromStr for GatewayConfig {
    type Err = String;

    /// A gateway written out, as `--gateway` and the `Sandbox` options of
    /// Python and Node take it: comma-separated `key=value`, the model first.
    ///
    /// - `model=token-bucket,rate=50,burst=100`
    /// - `model=fixed-window,limit=100,window=1s` (or `window=1m`, `500ms`)
    /// - `model=sliding-window,limit=6000,window=60s`
    /// - `model=leaky-queue,rate=20,depth=40`
    ///
    /// then, optionally: `retry-after=exact` (the seconds left, the default),
    /// `absent`, `date` or a fixed number of seconds; `headers=none` (the
    /// default), `x-ratelimit`, `kong` or `ietf`; and any number of
    /// `change=<at>:<factor>` (`change=30s:0.5`: half the limit from 30 s on).
    fn from_str(spec: &str) -> Result<GatewayConfig, String> {
        let mut model = None;
        let (mut rate, mut burst, mut limit, mut window, mut depth) = (None, None, None, None, None);
        let mut config = GatewayConfig::token_bucket(1.0, 1);
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) =
                part.split_once('=').ok_or_else(|| format!("gateway: `{part}` is not key=value"))?;
            let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
            let number = |what: &str| {
                value
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n > 0.0)
                    .ok_or_else(|| format!("gateway: {what} must be a number above 0, not `{value}`"))
            };
            let count =
                |what: &str| {
                    value.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("gateway: {what} must be a whole number from 1, not `{value}`")
                    })
                };
            match key.as_str() {
                "model" => model = Some(value.to_ascii_lowercase()),
                "rate" => rate = Some(number("rate")?),
                "burst" => burst = Some(count("burst")?),
                "limit" => limit = Some(count("limit")?),
                "depth" => depth = Some(count("depth")?),
                "window" => window = Some(duration(value).ok_or_else(|| format!("gateway: window `{value}` is not a length such as 1s, 500ms or 1m"))?),
                "retry-after" => {
                    config.retry_after = match value.to_ascii_lowercase().as_str() {
                        "exact" => RetryAfter::Exact,
                        "absent" | "none" => RetryAfter::Absent,
                        "date" | "http-date" => RetryAfter::HttpDate,
                        n => RetryAfter::Seconds(n.parse().map_err(|_| {
                            format!("gateway: retry-after must be exact, absent, date or whole seconds, not `{value}`")
                        })?),
                    }
                }
                "headers" => {
                    config.headers = match value.to_ascii_lowercase().as_str() {
                        "none" => RateLimitHeaders::None,
                        "x-ratelimit" => RateLimitHeaders::XRateLimit,
                        "kong" => RateLimitHeaders::Kong,
                        "ietf" => RateLimitHeaders::Ietf,
                        _ => return Err(format!("gateway: headers must be none, x-ratelimit, kong or ietf, not `{value}`")),
                    }
                }
                "change" => {
                    let bad = || format!("gateway: change must be <at>:<factor> such as 30s:0.5, not `{value}`");
                    let (at, factor) = value.split_once(':').ok_or_else(bad)?;
                    let at = duration(at.trim()).ok_or_else(bad)?;
                    let factor = factor.trim().trim_start_matches('x').parse::<f64>().map_err(|_| bad())?;
                    config.schedule.push(LimitChange { at, factor });
                }
                _ => return Err(format!("gateway: unknown setting `{key}` (model, rate, burst, limit, window, depth, retry-after, headers, change)")),
            }
        }
        let missing = |what: &str, m: &str| format!("gateway: model={m} needs {what}");
        config.algorithm = match model.as_deref() {
            Some("token-bucket") => Algorithm::TokenBucket {
                rate: rate.ok_or_else(|| missing("rate", "token-bucket"))?,
                burst: burst.unwrap_or(1),
            },
            Some(m @ ("fixed-window" | "sliding-window")) => {
                let limit = limit.ok_or_else(|| missing("limit", m))?;
                let window = window.unwrap_or(Duration::from_secs(1));
                if m == "fixed-window" {
                    Algorithm::FixedWindow { limit, window }
                } else {
                    Algorithm::SlidingWindow { limit, window }
                }
            }
            Some("leaky-queue") => Algorithm::LeakyQueue {
                rate: rate.ok_or_else(|| missing("rate", "leaky-queue"))?,
                depth: depth.unwrap_or(1),
            },
            Some(m) => {
                return Err(format!(
                "gateway: model must be token-bucket, fixed-window, sliding-window or leaky-queue, not `{m}`"
            ))
            }
            None => return Err(
                "gateway: model=... comes first (token-bucket, fixed-window, sliding-window, leaky-queue)"
                    .into(),
            ),
        };
        config.schedule.sort_by_key(|c| c.at);
        config.validate().map_err(|e| format!("gateway: {e}"))?;
        Ok(config)
    }
}

/// `1s`, `500ms`, `1m`, `1h`, or plain seconds.
fn duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: f64 = number.trim().parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let seconds = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return None,
    };
    (seconds <= 86_400.0 * 366.0).then(|| Duration::from_secs_f64(seconds))
}

/// The gateway's answer to one call.
#[derive(Clone, Debug, PartialEq)]
pub struct Admission {
    pub accepted: bool,
    /// How long an accepted call waits in the gateway's queue before it is served.
    pub delay: Duration,
    /// A refusal's `Retry-After`, as a client reads it (from now).
    pub retry_after: Option<Duration>,
    /// The headers of the answer: rate-limit headers and, on a refusal, `Retry-After`.
    pub headers: Vec<(String, String)>,
}

/// One account's counters.
#[derive(Clone, Copy, Default)]
struct Counter {
    /// Token bucket: tokens; leaky queue: calls queued (nginx's `excess`).
    level: f64,
    /// Windows: calls in the current and the previous window, and the current one's index.
    current: u64,
    previous: u64,
    window: i64,
    at: Duration,
    fresh: bool,
}

/// What the gateway counted in one second of its life.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Second {
    pub accepted: u64,
    pub refused: u64,
}

/// A gateway: every account's counters, and what it accepted and refused, second by second.
pub struct Gateway {
    config: GatewayConfig,
    /// The wall time of `now` = 0, to align windows and write HTTP dates.
    wall_start: SystemTime,
    accounts: HashMap<Vec<u8>, Counter>,
    timeline: Vec<Second>,
    throttled: u64,
}

/// The longest timeline kept (a day of seconds); later seconds are not recorded.
const TIMELINE_SECONDS: usize = 86_400;

impl Gateway {
    pub fn new(config: GatewayConfig, wall_start: SystemTime) -> Gateway {
        Gateway { config, wall_start, accounts: HashMap::new(), timeline: Vec::new(), throttled: 0 }
    }

    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The algorithm as it stands at `now`, after the schedule's changes.
    pub fn algorithm_at(&self, now: Duration) -> Algorithm {
        let factor = self
            .config
            .schedule
            .iter()
            .filter(|c| c.at <= now)
            .max_by_key(|c| c.at)
            .map_or(1.0, |c| c.factor);
        if factor == 1.0 {
            self.config.algorithm.clone()
        } else {
            self.config.algorithm.scaled(factor)
        }
    }

    /// Calls a second the gateway allows one account at `now`.
    pub fn allowed_rate(&self, now: Duration) -> f64 {
        self.algorithm_at(now).rate()
    }

    /// Refusals so far, over every account.
    pub fn throttled(&self) -> u64 {
        self.throttled
    }

    /// Accepted and refused calls in each second of the wall clock since the
    /// start: second 0 is the whole second the gateway started in (at
    /// [`Gateway::timeline_start_unix_s`]), so that a window of whole seconds,
    /// which begins at a multiple of its length from the Unix epoch (as Kong's
    /// do), begins at a second's start.
    pub fn timeline(&self) -> &[Second] {
        &self.timeline
    }

    /// The Unix time at which the timeline's second 0 begins.
    pub fn timeline_start_unix_s(&self) -> u64 {
        self.wall_start.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Calls a second the gateway allowed in the timeline's second `i` (at its middle).
    pub fn allowed_in_second(&self, i: usize) -> f64 {
        let into_first = self.wall_s(Duration::ZERO) - self.timeline_start_unix_s() as f64;
        self.allowed_rate(Duration::from_secs_f64((i as f64 + 0.5 - into_first).max(0.0)))
    }

    pub fn describe(&self) -> String {
        self.config.to_string()
    }

    /// Seconds since the Unix epoch at `now`.
    fn wall_s(&self, now: Duration) -> f64 {
        (self.wall_start + now).duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
    }

    /// Counts one call of `key` at `now` and answers it.
    pub fn admit(&mut self, key: &[u8], now: Duration) -> Admission {
        let algorithm = self.algorithm_at(now);
        let wall_s = self.wall_s(now);
        let counter = match self.accounts.get_mut(key) {
            Some(c) => c,
            None => {
                self.accounts.entry(key.to_vec()).or_insert(Counter { fresh: true, ..Counter::default() })
            }
        };
        let verdict = count(&algorithm, counter, now, wall_s);
        let second = (wall_s.floor() as u64).saturating_sub(self.timeline_start_unix_s()) as usize;
        if second < TIMELINE_SECONDS {
            if self.timeline.len() <= second {
                self.timeline.resize(second + 1, Second::default());
            }
            let s = &mut self.timeline[second];
            if verdict.accepted {
                s.accepted += 1;
            } else {
                s.refused += 1;
            }
        }
        if !verdict.accepted {
            self.throttled += 1;
        }
        let mut headers = announce(&self.config.headers, &verdict.quota);
        let retry_after = if verdict.accepted {
            None
        } else {
            match self.config.retry_after {
                RetryAfter::Absent => None,
                RetryAfter::Seconds(n) => {
                    headers.push(("retry-after".into(), n.to_string()));
                    Some(Duration::from_secs(n))
                }
                RetryAfter::Exact => {
                    let n = verdict.wait_s.ceil().max(1.0) as u64;
                    headers.push(("retry-after".into(), n.to_string()));
                    Some(Duration::from_secs(n))
                }
                RetryAfter::HttpDate => {
                    let at = (wall_s + verdict.wait_s).ceil().max(wall_s.floor() + 1.0);
                    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(at as u64);
                    headers.push(("retry-after".into(), httpdate::fmt_http_date(date)));
                    Some(Duration::from_secs_f64(at - wall_s))
                }
            }
        };
        Admission { accepted: verdict.accepted, delay: verdict.delay, retry_after, headers }
    }
}

/// What counting one call decided, and the quota to announce.
struct Verdict {
    accepted: bool,
    delay: Duration,
    /// Seconds until a call would be accepted (refusals).
    wait_s: f64,
    quota: Announced,
}

/// A quota as the headers carry it: `limit` calls per `window_s`, `remaining`
/// left, the window resetting in `reset_s`.
struct Announced {
    limit: u64,
    window_s: f64,
    remaining: u64,
    reset_s: f64,
}

fn count(algorithm: &Algorithm, c: &mut Counter, now: Duration, wall_s: f64) -> Verdict {
    let elapsed = now.saturating_sub(c.at).as_secs_f64();
    let fresh = std::mem::take(&mut c.fresh);
    c.at = now;
    match *algorithm {
        Algorithm::TokenBucket { rate, burst } => {
            let burst = f64::from(burst);
            c.level = if fresh { burst } else { (c.level + elapsed * rate).min(burst) };
            let accepted = c.level >= 1.0;
            if accepted {
                c.level -= 1.0;
            }
            let wait_s = if accepted { 0.0 } else { (1.0 - c.level) / rate };
            Verdict {
                accepted,
                delay: Duration::ZERO,
                wait_s,
                quota: per_second(rate, c.level.floor(), (burst - c.level) / rate),
            }
        }
        Algorithm::LeakyQueue { rate, depth } => {
            // nginx's `excess`: calls ahead in the queue, draining at `rate`.
            let drained = if fresh { 0.0 } else { (c.level - elapsed * rate).max(0.0) };
            let queued = if fresh { 0.0 } else { drained + 1.0 };
            let accepted = queued <= f64::from(depth) || fresh;
            let (delay, wait_s) = if accepted {
                c.level = queued;
                (Duration::from_secs_f64(queued.min(1e6) / rate), 0.0)
            } else {
                c.level = drained;
                (Duration::ZERO, (queued - f64::from(depth)) / rate)
            };
            let room = (f64::from(depth) - c.level).max(0.0);
            Verdict { accepted, delay, wait_s, quota: per_second(rate, room.floor(), c.level / rate) }
        }
        Algorithm::FixedWindow { limit, window } | Algorithm::SlidingWindow { limit, window } => {
            let w = window.as_secs_f64();
            let index = (wall_s / w).floor() as i64;
            if fresh || index > c.window + 1 {
                c.previous = 0;
                c.current = 0;
            } else if index == c.window + 1 {
                c.previous = c.current;
                c.current = 0;
            }
            c.window = index;
            let into = wall_s - index as f64 * w;
            let left_s = w - into;
            let limit_f = f64::from(limit);
            let sliding = matches!(algorithm, Algorithm::SlidingWindow { .. });
            // The sliding counter weighs the previous window by how much of it is still in view.
            let weight = |into: f64| if sliding { (1.0 - into / w).max(0.0) } else { 0.0 };
            let used = c.previous as f64 * weight(into) + c.current as f64;
            let accepted = used + 1.0 <= limit_f + 1e-9;
            if accepted {
                c.current += 1;
            }
            let wait_s = if accepted {
                0.0
            } else if sliding && limit_f - c.current as f64 - 1.0 >= 0.0 {
                // Later in this window, once the previous one weighs little enough.
                let room = limit_f - c.current as f64 - 1.0;
                (w * (1.0 - room / c.previous.max(1) as f64) - into).max(0.0)
            } else if sliding {
                // In the next window, where this window's count weighs in.
                let room = (limit_f - 1.0) / c.current.max(1) as f64;
                left_s + w * (1.0 - room).max(0.0)
            } else {
                left_s
            };
            let used = c.previous as f64 * weight(into) + c.current as f64;
            let remaining = (limit_f - used).max(0.0).floor() as u64;
            Verdict {
                accepted,
                delay: Duration::ZERO,
                wait_s,
                quota: Announced { limit: u64::from(limit), window_s: w, remaining, reset_s: left_s },
            }
        }
    }
}

/// A rate as a quota per whole seconds: `rate` a second, over the shortest
/// window of whole seconds that holds at least one call.
fn per_second(rate: f64, remaining: f64, reset_s: f64) -> Announced {
    let window_s = (1.0 / rate).ceil().max(1.0);
    Announced {
        limit: (rate * window_s).round().max(1.0) as u64,
        window_s,
        remaining: remaining.max(0.0) as u64,
        reset_s: reset_s.max(0.0),
    }
}

/// The headers that announce `quota` in the chosen family.
fn announce(family: &RateLimitHeaders, quota: &Announced) -> Vec<(String, String)> {
    let reset = (quota.reset_s.ceil() as u64).max(if quota.remaining == 0 { 1 } else { 0 });
    let (limit, remaining) = (quota.limit.to_string(), quota.remaining.to_string());
    let pair = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    match family {
        RateLimitHeaders::None => Vec::new(),
        RateLimitHeaders::XRateLimit => vec![
            pair("x-ratelimit-limit", &limit),
            pair("x-ratelimit-remaining", &remaining),
            pair("x-ratelimit-reset", &reset.to_string()),
        ],
        RateLimitHeaders::Kong => {
            let mut headers = Vec::new();
            let unit = [(1.0, "Second"), (60.0, "Minute"), (3600.0, "Hour"), (86_400.0, "Day")]
                .into_iter()
                .find(|(s, _)| (quota.window_s - s).abs() < 1e-9);
            if let Some((_, unit)) = unit {
                headers.push((format!("x-ratelimit-limit-{}", unit.to_ascii_lowercase()), limit.clone()));
                headers.push((
                    format!("x-ratelimit-remaining-{}", unit.to_ascii_lowercase()),
                    remaining.clone(),
                ));
            }
            headers.push(pair("ratelimit-limit", &limit));
            headers.push(pair("ratelimit-remaining", &remaining));
            headers.push(pair("ratelimit-reset", &reset.to_string()));
            headers
        }
        RateLimitHeaders::Ietf => vec![
            pair("ratelimit-policy", &format!("\"default\";q={limit};w={}", quota.window_s.ceil() as u64)),
            pair("ratelimit", &format!("\"default\";r={remaining};t={reset}")),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALL: u64 = 1_800_000_000;

    fn gateway(algorithm: Algorithm, retry_after: RetryAfter, headers: RateLimitHeaders) -> Gateway {
        let config = GatewayConfig { algorithm, retry_after, headers, schedule: Vec::new() };
        Gateway::new(config, SystemTime::UNIX_EPOCH + Duration::from_secs(WALL))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn accepted_in(g: &mut Gateway, calls: u64, every: Duration, from: Duration) -> u64 {
        (0..calls).filter(|&i| g.admit(b"k", from + every * i as u32).accepted).count() as u64
    }

    #[test]
    fn a_token_bucket_spends_its_burst_then_its_rate() {
        let mut g = gateway(
            Algorithm::TokenBucket { rate: 10.0, burst: 5 },
            RetryAfter::Exact,
            RateLimitHeaders::None,
        );
        assert_eq!(accepted_in(&mut g, 8, Duration::ZERO, Duration::ZERO), 5);
        let refusal = g.admit(b"k", ms(1));
        assert!(!refusal.accepted);
        assert_eq!(refusal.retry_after, Some(Duration::from_secs(1)));
        assert!(refusal.headers.contains(&("retry-after".into(), "1".into())));
        // Another account has a bucket of its own.
        assert!(g.admit(b"other", ms(1)).accepted);
        // At the rate, from an empty bucket, everything passes.
        assert_eq!(accepted_in(&mut g, 50, ms(100), ms(100)), 50);
        assert_eq!(g.throttled(), 4);
    }

    #[test]
    fn a_fixed_window_resets_at_the_wall_clocks_window() {
        let mut g = gateway(
            Algorithm::FixedWindow { limit: 3, window: Duration::from_secs(10) },
            RetryAfter::Exact,
            RateLimitHeaders::XRateLimit,
        );
        // WALL is a multiple of 10: the window starts at 0 and ends at 10 s.
        assert_eq!(accepted_in(&mut g, 5, ms(1000), Duration::ZERO), 3);
        let refusal = g.admit(b"k", ms(6500));
        assert_eq!(refusal.retry_after, Some(Duration::from_secs(4)));
        assert!(refusal.headers.contains(&("x-ratelimit-remaining".into(), "0".into())));
        assert!(refusal.headers.contains(&("x-ratelimit-reset".into(), "4".into())));
        assert!(g.admit(b"k", ms(10_000)).accepted);
        assert_eq!(g.timeline()[10], Second { accepted: 1, refused: 0 });
    }

    #[test]
    fn the_timeline_counts_whole_seconds_of_the_wall_clock() {
        // Started 0.7 s into a second: 0.2 s later is the next second's.
        let config = GatewayConfig {
            algorithm: Algorithm::FixedWindow { limit: 10, window: Duration::from_secs(1) },
            retry_after: RetryAfter::Exact,
            headers: RateLimitHeaders::None,
            schedule: Vec::new(),
        };
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(WALL) + ms(700);
        let mut g = Gateway::new(config, start);
        assert_eq!(g.timeline_start_unix_s(), WALL);
        g.admit(b"k", ms(100));
        g.admit(b"k", ms(400));
        assert_eq!(g.timeline(), &[Second { accepted: 1, refused: 0 }, Second { accepted: 1, refused: 0 }]);
        assert_eq!(g.allowed_in_second(0), 10.0);
    }

    #[test]
    fn a_sliding_window_weighs_the_window_before() {
        let w = Duration::from_secs(1);
        let mut g = gateway(
            Algorithm::SlidingWindow { limit: 10, window: w },
            RetryAfter::Exact,
            RateLimitHeaders::None,
        );
        assert_eq!(accepted_in(&mut g, 10, ms(10), ms(900)), 10);
        // Half into the next window, half of the 10 still count: 5 more pass.
        assert_eq!(accepted_in(&mut g, 10, Duration::ZERO, ms(1500)), 5);
        // A fixed window would have let all 10 through.
        let mut f = gateway(
            Algorithm::FixedWindow { limit: 10, window: w },
            RetryAfter::Exact,
            RateLimitHeaders::None,
        );
        assert_eq!(accepted_in(&mut f, 10, ms(10), ms(900)), 10);
        assert_eq!(accepted_in(&mut f, 10, Duration::ZERO, ms(1500)), 10);
    }

    #[test]
    fn a_leaky_queue_delays_then_refuses() {
        let mut g = gateway(
            Algorithm::LeakyQueue { rate: 10.0, depth: 3 },
            RetryAfter::Absent,
            RateLimitHeaders::None,
        );
        let delays: Vec<_> = (0..5).map(|_| g.admit(b"k", Duration::ZERO)).collect();
        assert!(delays[..4].iter().all(|a| a.accepted));
        assert_eq!(delays[0].delay, Duration::ZERO);
        assert_eq!(delays[3].delay, ms(300));
        assert!(!delays[4].accepted);
        assert_eq!(delays[4].retry_after, None);
        assert!(!delays[4].headers.iter().any(|(n, _)| n == "retry-after"));
        // At the rate nothing waits long.
        assert!(g.admit(b"k", Duration::from_secs(5)).delay < ms(200));
    }

    #[test]
    fn a_refusal_can_name_an_http_date() {
        let mut g = gateway(
            Algorithm::FixedWindow { limit: 1, window: Duration::from_secs(60) },
            RetryAfter::HttpDate,
            RateLimitHeaders::None,
        );
        assert!(g.admit(b"k", ms(0)).accepted);
        let refusal = g.admit(b"k", ms(20_250));
        let (_, date) = refusal.headers.iter().find(|(n, _)| n == "retry-after").unwrap();
        let at = httpdate::parse_http_date(date).unwrap();
        assert_eq!(at, SystemTime::UNIX_EPOCH + Duration::from_secs(WALL + 60));
        assert_eq!(refusal.retry_after, Some(ms(39_750)));
    }

    #[test]
    fn every_header_family_announces_the_same_quota() {
        let window = Algorithm::FixedWindow { limit: 100, window: Duration::from_secs(60) };
        let headers = |family| {
            let mut g = gateway(window.clone(), RetryAfter::Seconds(1), family);
            g.admit(b"k", ms(15_000)).headers
        };
        let kong = headers(RateLimitHeaders::Kong);
        assert!(kong.contains(&("x-ratelimit-limit-minute".into(), "100".into())));
        assert!(kong.contains(&("x-ratelimit-remaining-minute".into(), "99".into())));
        assert!(kong.contains(&("ratelimit-reset".into(), "45".into())));
        let ietf = headers(RateLimitHeaders::Ietf);
        assert_eq!(ietf[0], ("ratelimit-policy".into(), "\"default\";q=100;w=60".into()));
        assert_eq!(ietf[1], ("ratelimit".into(), "\"default\";r=99;t=45".into()));
        assert!(headers(RateLimitHeaders::None).is_empty());
        // A token bucket announces its rate per second.
        let mut g = gateway(
            Algorithm::TokenBucket { rate: 50.0, burst: 100 },
            RetryAfter::Absent,
            RateLimitHeaders::XRateLimit,
        );
        assert!(g.admit(b"k", ms(0)).headers.contains(&("x-ratelimit-limit".into(), "50".into())));
    }

    #[test]
    fn a_schedule_moves_the_limit() {
        let config = GatewayConfig {
            schedule: vec![
                LimitChange { at: Duration::from_secs(10), factor: 0.5 },
                LimitChange { at: Duration::from_secs(20), factor: 2.0 },
            ],
            ..GatewayConfig::token_bucket(100.0, 10)
        };
        let g = Gateway::new(config, SystemTime::UNIX_EPOCH);
        assert_eq!(g.allowed_rate(Duration::from_secs(5)), 100.0);
        assert_eq!(g.allowed_rate(Duration::from_secs(15)), 50.0);
        assert_eq!(g.allowed_rate(Duration::from_secs(25)), 200.0);
        assert!(g.describe().contains("x0.5 from 10 s"));
    }

    #[test]
    fn a_gateway_is_written_as_key_values() {
        let g: GatewayConfig = "model=fixed-window, limit=100, window=1m, retry-after=date, headers=kong, change=30s:0.5, change=10s:x2"
            .parse()
            .unwrap();
        assert_eq!(g.algorithm, Algorithm::FixedWindow { limit: 100, window: Duration::from_secs(60) });
        assert_eq!((g.retry_after, g.headers), (RetryAfter::HttpDate, RateLimitHeaders::Kong));
        assert_eq!(
            g.schedule,
            vec![
                LimitChange { at: Duration::from_secs(10), factor: 2.0 },
                LimitChange { at: Duration::from_secs(30), factor: 0.5 },
            ]
        );
        let tb: GatewayConfig = "model=token-bucket,rate=2.5,burst=2,retry-after=1".parse().unwrap();
        assert_eq!(
            (tb.algorithm, tb.retry_after),
            (Algorithm::TokenBucket { rate: 2.5, burst: 2 }, RetryAfter::Seconds(1))
        );
        let q: GatewayConfig = "model=leaky-queue,rate=20,depth=40,retry-after=absent".parse().unwrap();
        assert_eq!(q.algorithm, Algorithm::LeakyQueue { rate: 20.0, depth: 40 });
        for (bad, says) in [
            ("rate=5", "model=... comes first"),
            ("model=token-bucket", "needs rate"),
            ("model=fixed-window,limit=0", "whole number from 1"),
            ("model=fixed-window,limit=5,window=soon", "is not a length"),
            ("model=gcra,rate=5", "model must be"),
            ("model=token-bucket,rate=5,headers=github", "headers must be"),
            ("model=token-bucket,rate=5,colour=blue", "unknown setting"),
            ("model=token-bucket,rate=5,change=30s", "change must be"),
            ("model=token-bucket,rate=5,change=30s:-1", "factor above 0"),
        ] {
            let err = bad.parse::<GatewayConfig>().unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn impossible_numbers_are_refused() {
        assert!(GatewayConfig::token_bucket(0.0, 1).validate().is_err());
        assert!(GatewayConfig::token_bucket(10.0, 0).validate().is_err());
        let zero = GatewayConfig {
            algorithm: Algorithm::FixedWindow { limit: 0, window: Duration::from_secs(1) },
            ..GatewayConfig::token_bucket(1.0, 1)
        };
        assert!(zero.validate().is_err());
        let bad_change = GatewayConfig {
            schedule: vec![LimitChange { at: Duration::ZERO, factor: -1.0 }],
            ..GatewayConfig::token_bucket(1.0, 1)
        };
        assert!(bad_change.validate().is_err());
        assert!(GatewayConfig::token_bucket(10.0, 5).validate().is_ok());
    }
}
