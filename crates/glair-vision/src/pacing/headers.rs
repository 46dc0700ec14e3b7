//! The quota a gateway announces in rate-limit headers, in any of the forms in
//! use: the IETF structured fields (`RateLimit-Policy: "p";q=100;w=60` with
//! `RateLimit: "p";r=40;t=12`), the earlier IETF drafts and Kong
//! (`RateLimit-Limit` / `-Remaining` / `-Reset`, `X-RateLimit-Limit-Second`
//! and the other units), and the common `X-RateLimit-Limit` / `-Remaining` /
//! `-Reset` (the reset in seconds from now, or as a Unix time).

use reqwest::header::HeaderMap;

/// One announced quota: `limit` calls per window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Quota {
    pub limit: f64,
    /// The window's length in seconds, when the gateway says it.
    pub window_s: Option<f64>,
    /// Calls left in the current window, and seconds until it resets.
    pub remaining: Option<f64>,
    pub reset_s: Option<f64>,
}

impl Quota {
    /// Calls per second this quota allows, given the window when it is not announced.
    pub(crate) fn rate(&self, inferred_window_s: f64) -> f64 {
        self.limit / self.window_s.unwrap_or(inferred_window_s).max(1e-3)
    }
}

/// Resets above this are Unix times, not seconds from now.
const UNIX_TIME_FROM: f64 = 1e9;
/// The longest window believed (a day); longer ones pace nothing useful.
const MAX_WINDOW_S: f64 = 86_400.0;

/// The tightest quota the answer's headers announce, if any. `now_unix_s` turns
/// a reset given as a Unix time into seconds from now.
pub(crate) fn quota(headers: &HeaderMap, now_unix_s: f64) -> Option<Quota> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let number =
        |name: &str| text(name).and_then(|v| v.parse::<f64>().ok()).filter(|n| n.is_finite() && *n >= 0.0);
    let reset = |v: f64| if v >= UNIX_TIME_FROM { (v - now_unix_s).max(0.0) } else { v };

    let mut found: Vec<Quota> = Vec::new();
    if headers.is_empty() {
        return None;
    }
    if let Some(policy) = text("ratelimit-policy") {
        found.extend(structured(policy, text("ratelimit")));
    }
    const UNITS: [(&str, &str, f64); 4] = [
        ("x-ratelimit-limit-second", "x-ratelimit-remaining-second", 1.0),
        ("x-ratelimit-limit-minute", "x-ratelimit-remaining-minute", 60.0),
        ("x-ratelimit-limit-hour", "x-ratelimit-remaining-hour", 3600.0),
        ("x-ratelimit-limit-day", "x-ratelimit-remaining-day", 86_400.0),
    ];
    for (limit, remaining, seconds) in UNITS {
        if let Some(limit) = number(limit) {
            found.push(Quota { limit, window_s: Some(seconds), remaining: number(remaining), reset_s: None });
        }
    }
    const GENERIC: [[&str; 3]; 2] = [
        ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"],
        ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"],
    ];
    for [limit, remaining, reset_name] in GENERIC {
        if let Some(limit) = number(limit) {
            let reset_s = number(reset_name).map(reset);
            found.push(Quota { limit, window_s: None, remaining: number(remaining), reset_s });
        }
    }
    // The generic fields of a gateway that also names units describe the same
    // limit; the tightest rate is the one that binds.
    found
        .into_iter()
        .filter(|q| q.limit >= 1.0 && q.window_s.is_none_or(|w| w > 0.0 && w <= MAX_WINDOW_S))
        .min_by(|a, b| a.rate(1.0).total_cmp(&b.rate(1.0)))
}

/// The IETF structured fields: every policy `"name";q=..;w=..`, with the
/// remaining calls and reset of the same name from `RateLimit` when given.
fn structured(policy: &str, current: Option<&str>) -> Vec<Quota> {
    let params = |item: &str| -> (String, Vec<(String, f64)>) {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or("").trim_matches('"').to_owned();
        let values = parts
            .filter_map(|p| p.split_once('='))
            .filter_map(|(k, v)| v.trim().parse::<f64>().ok().map(|v| (k.trim().to_ascii_lowercase(), v)))
            .filter(|(_, v)| v.is_finite() && *v >= 0.0)
            .collect();
        (name, values)
    };
    let get = |values: &[(String, f64)], key: &str| values.iter().find(|(k, _)| k == key).map(|(_, v)| *v);
    let now: Vec<_> = current.map(|c| c.split(',').map(params).collect()).unwrap_or_default();
    policy
        .split(',')
        .map(params)
        .filter_map(|(name, values)| {
            let limit = get(&values, "q")?;
            let of_name = now.iter().find(|(n, _)| *n == name);
            Some(Quota {
                limit,
                window_s: get(&values, "w"),
                remaining: of_name.and_then(|(_, v)| get(v, "r")),
                reset_s: of_name.and_then(|(_, v)| get(v, "t")),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn ietf_structured_fields() {
        let h = headers(&[
            ("ratelimit-policy", "\"burst\";q=100;w=1, \"daily\";q=1000;w=86400"),
            ("ratelimit", "\"burst\";r=40;t=1, \"daily\";r=900;t=3600"),
        ]);
        let q = quota(&h, 0.0).unwrap();
        assert_eq!(
            q,
            Quota { limit: 1000.0, window_s: Some(86_400.0), remaining: Some(900.0), reset_s: Some(3600.0) }
        );
    }

    #[test]
    fn kong_units_and_its_generic_fields() {
        let h = headers(&[
            ("x-ratelimit-limit-second", "5"),
            ("x-ratelimit-remaining-second", "4"),
            ("x-ratelimit-limit-minute", "200"),
            ("x-ratelimit-remaining-minute", "150"),
            ("ratelimit-limit", "5"),
            ("ratelimit-remaining", "4"),
            ("ratelimit-reset", "1"),
        ]);
        let q = quota(&h, 0.0).unwrap();
        assert_eq!(q.rate(1.0), 200.0 / 60.0);
        assert_eq!(q.remaining, Some(150.0));
    }

    #[test]
    fn x_ratelimit_with_a_delta_or_a_unix_reset() {
        let h = headers(&[
            ("x-ratelimit-limit", "60"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "12"),
        ]);
        assert_eq!(
            quota(&h, 0.0).unwrap(),
            Quota { limit: 60.0, window_s: None, remaining: Some(0.0), reset_s: Some(12.0) }
        );
        let h = headers(&[("x-ratelimit-limit", "60"), ("x-ratelimit-reset", "1800000030")]);
        assert_eq!(quota(&h, 1_800_000_000.0).unwrap().reset_s, Some(30.0));
    }

    #[test]
    fn nothing_or_nonsense_is_no_quota() {
        assert_eq!(quota(&HeaderMap::new(), 0.0), None);
        assert_eq!(quota(&headers(&[("x-ratelimit-limit", "lots")]), 0.0), None);
        assert_eq!(quota(&headers(&[("x-ratelimit-limit", "0")]), 0.0), None);
        assert_eq!(quota(&headers(&[("ratelimit-policy", "\"p\";w=60")]), 0.0), None);
    }
}
