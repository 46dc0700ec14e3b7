//! Progress on stderr: an indicatif bar on a terminal, plain periodic lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    interval: Duration,
    last_line: Instant,
    started: Instant,
    /// Data rows in the input.
    total: u64,
    /// Rows with an outcome before this run.
    before: u64,
    /// Outcomes written this run.
    pub done: u64,
    /// Errors so far (before and this run).
    pub errors: u64,
    /// The client's pacing (429s seen, pace), appended to each line.
    pub pacing: String,
}

impl Progress {
    pub fn new(total: u64, before: u64, errors: u64, quiet: bool, interval: Duration) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (terminal && !quiet).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {per_sec} ETA {eta} {msg}",
                )
                .expect("valid template"),
            );
            bar.set_position(before);
            bar.reset_eta();
            bar.set_message(format!("errors {errors}"));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            bar,
            plain: !terminal && !quiet,
            interval,
            last_line: now,
            started: now,
            total,
            before,
            done: 0,
            errors,
            pacing: String::new(),
        }
    }

    /// How often [`Progress::tick`] wants to run.
    pub fn tick_every(&self) -> Duration {
        if self.bar.is_some() {
            Duration::from_millis(200)
        } else {
            self.interval.min(Duration::from_secs(1))
        }
    }

    pub fn record(&mut self, is_error: bool) {
        self.done += 1;
        self.errors += u64::from(is_error);
        if let Some(bar) = &self.bar {
            bar.inc(1);
            if is_error {
                bar.set_message(format!("errors {}", self.errors));
            }
        }
    }

    pub fn tick(&mut self) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("errors {}{}", self.errors, self.pacing));
        }
        if self.plain && self.last_line.elapsed() >= self.interval {
            self.last_line = Instant::now();
            say!("{}", self.line());
        }
    }

    fn line(&self) -> String {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 { self.done as f64 / elapsed } else { 0.0 };
        let position = self.before + self.done;
        let left = self.total.saturating_sub(position);
        let eta = if rate > 0.0 { format_duration(left as f64 / rate) } else { "?".into() };
        let pct = if self.total > 0 { 100.0 * position as f64 / self.total as f64 } else { 100.0 };
        format!(
            "progress: {position}/{} rows ({pct:.1}%), {rate:.1} rows/s, ETA {eta}, errors {}{}",
            self.total, self.errors, self.pacing
        )
    }

    /// Prints a message without breaking the bar.
    pub fn message(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| say!("{msg}")),
            None => say!("{msg}"),
        }
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

pub fn format_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
