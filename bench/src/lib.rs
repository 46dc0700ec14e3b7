//! Shared pieces of the Rust contenders: the benchmark's fixed request, argument
//! parsing, CPU accounting and the one-line JSON report every contender prints.
//!
//! The protocol (the same for the Python and Node contenders): the harness runs
//! `CONTENDER --mode M --url U --duration S --max N --concurrency C --warmup W`
//! and reads one JSON object from the last line of stdout.

use std::time::{Duration, Instant};

/// The request every contender sends (fixture person 1 of the sandbox).
pub const NIK: &str = "3171014508900001";
pub const NAME: &str = "SITI RAHAYU";
pub const DATE_OF_BIRTH: &str = "05-08-1990";
/// The sandbox's default credentials.
pub const API_KEY: &str = "sandbox-api-key";
pub const USERNAME: &str = "sandbox";
pub const PASSWORD: &str = "sandbox-password";
pub const PATH: &str = "/identity/v1/verification";

#[derive(Clone, Debug)]
pub struct Args {
    pub mode: String,
    pub url: String,
    /// Measured time budget.
    pub duration: Duration,
    /// Measured request budget (whichever of the two ends first).
    pub max: usize,
    pub concurrency: usize,
    /// Requests sent before measuring (connection set-up, JIT, caches).
    pub warmup: usize,
}

impl Args {
    pub fn from_env() -> Args {
        let mut a = Args {
            mode: String::new(),
            url: String::new(),
            duration: Duration::from_secs(2),
            max: 1_000_000,
            concurrency: 64,
            warmup: 200,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut it = argv.chunks(2);
        for pair in &mut it {
            let [k, v] = pair else { panic!("arguments come in --key value pairs") };
            match k.as_str() {
                "--mode" => a.mode = v.clone(),
                "--url" => a.url = v.trim_end_matches('/').to_string(),
                "--duration" => a.duration = Duration::from_secs_f64(v.parse().expect("--duration seconds")),
                "--max" => a.max = v.parse().expect("--max count"),
                "--concurrency" => a.concurrency = v.parse().expect("--concurrency count"),
                "--warmup" => a.warmup = v.parse().expect("--warmup count"),
                other => panic!("unknown argument {other}"),
            }
        }
        assert!(!a.mode.is_empty() && !a.url.is_empty(), "--mode and --url are required");
        assert!(
            a.url.starts_with("http://127.0.0.1:"),
            "load is only ever sent to 127.0.0.1 (got a different URL)"
        );
        a
    }
}

/// User + system CPU time of this whole process (all threads), in seconds.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes into the struct we hand it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The measured phase: wall clock and CPU at its start.
pub struct Meter {
    start: Instant,
    cpu: f64,
}

impl Meter {
    pub fn start() -> Meter {
        Meter { cpu: cpu_seconds(), start: Instant::now() }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Prints the report line. `latencies` (seconds) only for sequential modes.
    pub fn report(
        self,
        args: &Args,
        requests: usize,
        errors: usize,
        latencies: Option<&mut Vec<f64>>,
        versions: serde_json::Value,
    ) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - self.cpu;
        let (p50, p99) = match latencies {
            Some(l) if !l.is_empty() => {
                l.sort_by(|a, b| a.total_cmp(b));
                (Some(percentile(l, 0.50) * 1e3), Some(percentile(l, 0.99) * 1e3))
            }
            _ => (None, None),
        };
        let line = serde_json::json!({
            "mode": args.mode,
            "concurrency": args.concurrency,
            "requests": requests,
            "errors": errors,
            "elapsed_s": elapsed,
            "cpu_s": cpu,
            "p50_ms": p50,
            "p99_ms": p99,
            "versions": versions,
        });
        println!("{line}");
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[3.0], 0.99), 3.0);
    }
}
