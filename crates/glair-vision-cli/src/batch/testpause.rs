//! Test-only pause points, so that a test kills `batch` at a known moment instead
//! of guessing a delay. With `GLAIR_VISION_TEST_PAUSE_AT=<point>`, a run that
//! reaches the point writes the point's name to the file named by
//! `GLAIR_VISION_TEST_PAUSE_MARKER` (whole, by a rename), says so on stderr, and
//! blocks until it is killed; never killed, it exits 86 after two minutes.
//!
//! Points: `calls` (the output is open, nothing sent yet), `line:N` (the Nth
//! line of this run was written to the output or the `--retry-errors` journal),
//! `merge:written` (`--retry-errors`: the new output is written and synced
//! beside the old one, not renamed yet), `merge:renamed` (renamed over the old
//! one, the journal not removed yet).
//!
//! For this repository's tests only: not in `--help`, never set otherwise. Unset,
//! it costs one environment lookup per run and one atomic load per line.

use std::sync::OnceLock;
use std::time::Duration;

pub const PAUSE_AT: &str = "GLAIR_VISION_TEST_PAUSE_AT";
pub const MARKER: &str = "GLAIR_VISION_TEST_PAUSE_MARKER";
/// How a paused run ends if nobody kills it.
const EXIT_NEVER_KILLED: i32 = 86;

#[derive(Debug, PartialEq, Eq)]
pub enum Point {
    Calls,
    Line(u64),
    MergeWritten,
    MergeRenamed,
}

impl Point {
    fn parse(s: &str) -> Option<Point> {
        match s {
            "calls" => Some(Point::Calls),
            "merge:written" => Some(Point::MergeWritten),
            "merge:renamed" => Some(Point::MergeRenamed),
            _ => s.strip_prefix("line:")?.parse().ok().filter(|n| *n > 0).map(Point::Line),
        }
    }
}

static POINT: OnceLock<Option<Point>> = OnceLock::new();

/// Reads the point from the environment (once); an unknown one is an error.
pub fn init() -> Result<(), String> {
    let value = std::env::var(PAUSE_AT).ok();
    let point = match value.as_deref() {
        None => None,
        Some(v) => Some(Point::parse(v).ok_or_else(|| {
            format!("{PAUSE_AT}={v:?} is not a pause point (calls, line:N, merge:written, merge:renamed)")
        })?),
    };
    let _ = POINT.set(point);
    Ok(())
}

/// Pauses here if `point` is the one asked for.
pub fn reached(point: Point) {
    if POINT.get().and_then(Option::as_ref) == Some(&point) {
        pause(&point);
    }
}

/// The `n`th line of this run was written.
pub fn line(n: u64) {
    if let Some(Some(Point::Line(at))) = POINT.get() {
        if *at == n {
            pause(&Point::Line(n));
        }
    }
}

#[cold]
fn pause(point: &Point) -> ! {
    let name = match point {
        Point::Calls => "calls".to_owned(),
        Point::Line(n) => format!("line:{n}"),
        Point::MergeWritten => "merge:written".to_owned(),
        Point::MergeRenamed => "merge:renamed".to_owned(),
    };
    if let Some(marker) = std::env::var_os(MARKER) {
        let marker = std::path::PathBuf::from(marker);
        let mut tmp = marker.clone().into_os_string();
        tmp.push(".tmp");
        let written = std::fs::write(&tmp, format!("{name}\n")).and_then(|()| std::fs::rename(&tmp, &marker));
        if let Err(e) = written {
            eprintln!("{PAUSE_AT}: cannot write {}: {e}", marker.display());
        }
    }
    eprintln!("{PAUSE_AT}: paused at {name} (pid {}) until killed", std::process::id());
    // Blocks this thread (and with it the batch's loop, which writes every line).
    std::thread::sleep(Duration::from_secs(120));
    eprintln!("{PAUSE_AT}: never killed; exiting");
    std::process::exit(EXIT_NEVER_KILLED);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_point_and_nothing_else() {
        assert_eq!(Point::parse("calls"), Some(Point::Calls));
        assert_eq!(Point::parse("line:30"), Some(Point::Line(30)));
        assert_eq!(Point::parse("merge:written"), Some(Point::MergeWritten));
        assert_eq!(Point::parse("merge:renamed"), Some(Point::MergeRenamed));
        for bad in ["", "line:", "line:0", "line:-1", "lines:3", "merge", "Calls"] {
            assert_eq!(Point::parse(bad), None, "{bad:?}");
        }
    }
}
