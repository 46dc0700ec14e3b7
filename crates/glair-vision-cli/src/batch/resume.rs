//! Reading back an existing output file so a re-run resumes: which rows are done
//! (a bitset), their tally, and the repair of a torn last line.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::Path;

use serde::Deserialize;

/// Row numbers (1-based) as bits: 1,000,000 rows take 125 KB.
#[derive(Default, Debug, Clone)]
pub struct RowSet {
    words: Vec<u64>,
    len: u64,
}

impl RowSet {
    /// Adds `row`; false if it was already there.
    pub fn insert(&mut self, row: u64) -> bool {
        let (w, b) = ((row / 64) as usize, row % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        self.len += u64::from(fresh);
        fresh
    }

    pub fn contains(&self, row: u64) -> bool {
        self.words.get((row / 64) as usize).is_some_and(|w| w & (1 << (row % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// How many rows above `max` are present (an output written for a longer input).
    pub fn count_above(&self, max: u64) -> u64 {
        (max + 1..(self.words.len() as u64) * 64).filter(|r| self.contains(*r)).count() as u64
    }
}

/// Outcomes counted: verified, not verified, errors by kind.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct Tally {
    pub verified: u64,
    pub not_verified: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, outcome: &str, error_kind: Option<&str>) {
        match outcome {
            "verified" => self.verified += 1,
            "not_verified" => self.not_verified += 1,
            _ => *self.errors.entry(error_kind.unwrap_or("unknown").to_owned()).or_default() += 1,
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    pub fn merge(&mut self, other: &Tally) {
        self.verified += other.verified;
        self.not_verified += other.not_verified;
        for (k, v) in &other.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
    }
}

/// What was found in the output file.
#[derive(Default, Debug)]
pub struct Existing {
    pub done: RowSet,
    pub tally: Tally,
    /// Lines naming a row already seen (kept, counted once).
    pub duplicates: u64,
    pub repair: Option<Repair>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Repair {
    /// A torn last line was cut off (its row is done again).
    Truncated { bytes: u64 },
    /// The last line was complete but lacked its newline; one was added.
    NewlineAdded,
}

#[derive(Deserialize)]
struct SeenLine {
    row: u64,
    outcome: String,
    error: Option<SeenError>,
}

#[derive(Deserialize)]
struct SeenError {
    kind: Option<String>,
}

fn parse_line(line: &[u8]) -> Option<SeenLine> {
    let seen: SeenLine = serde_json::from_slice(line).ok()?;
    let known = matches!(seen.outcome.as_str(), "verified" | "not_verified" | "error");
    (seen.row >= 1 && known).then_some(seen)
}

/// Reads `path` (missing is fine: nothing done yet), streaming, and repairs a torn
/// last line in place. A bad line anywhere but at the end is refused: the file is
/// not ours, and appending to it would hide that.
pub fn scan(path: &Path) -> Result<Existing, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Existing::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut existing = Existing::default();
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut buf = Vec::new();
    let mut offset = 0u64; // end of the last good line
    let mut line_no = 0u64;
    // A bad complete line is only acceptable as the very last one.
    let mut bad: Option<u64> = None;
    let mut missing_newline = false;
    loop {
        buf.clear();
        let n =
            reader.read_until(b'\n', &mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(bad_line) = bad {
            return Err(format!(
                "{} line {bad_line} is not a batch result line; refusing to append to it \
                 (use another --output or move the file away)",
                path.display()
            ));
        }
        let complete = buf.last() == Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            if complete {
                offset += n as u64;
            }
            continue;
        }
        match parse_line(text) {
            Some(seen) => {
                if existing.done.insert(seen.row) {
                    existing.tally.add(&seen.outcome, seen.error.as_ref().and_then(|e| e.kind.as_deref()));
                } else {
                    existing.duplicates += 1;
                }
                offset += n as u64;
                missing_newline = !complete;
            }
            None => bad = Some(line_no),
        }
    }
    let len = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    let write_err = |e: std::io::Error| format!("cannot repair {}: {e}", path.display());
    if offset < len {
        // A torn (or otherwise unreadable) last line: cut it off; its row is redone.
        let file = OpenOptions::new().write(true).open(path).map_err(write_err)?;
        file.set_len(offset).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        existing.repair = Some(Repair::Truncated { bytes: len - offset });
    } else if missing_newline {
        let mut file = OpenOptions::new().append(true).open(path).map_err(write_err)?;
        file.write_all(b"\n").map_err(write_err)?;
        existing.repair = Some(Repair::NewlineAdded);
    }
    Ok(existing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str, content: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("glair-cli-resume-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.jsonl");
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn rowset_counts_and_grows() {
        let mut s = RowSet::default();
        assert!(s.insert(1));
        assert!(s.insert(1_000_000));
        assert!(!s.insert(1));
        assert_eq!(s.len(), 2);
        assert!(s.contains(1_000_000) && !s.contains(2) && !s.contains(5_000_000));
        assert_eq!(s.count_above(10), 1);
    }

    #[test]
    fn truncates_a_torn_last_line() {
        let good = "{\"row\":2,\"outcome\":\"verified\"}\n{\"row\":1,\"outcome\":\"error\",\"error\":{\"kind\":\"validation\"}}\n";
        let path = tmp("torn", &format!("{good}{{\"row\":3,\"outc"));
        let e = scan(&path).unwrap();
        assert_eq!(e.done.len(), 2);
        assert!(e.done.contains(1) && e.done.contains(2) && !e.done.contains(3));
        assert_eq!(e.tally.errors.get("validation"), Some(&1));
        assert!(matches!(e.repair, Some(Repair::Truncated { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
    }

    #[test]
    fn completes_a_last_line_without_newline_and_refuses_garbage_in_the_middle() {
        let path = tmp("newline", "{\"row\":1,\"outcome\":\"verified\"}");
        let e = scan(&path).unwrap();
        assert_eq!(e.repair, Some(Repair::NewlineAdded));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"row\":1,\"outcome\":\"verified\"}\n");
        let path = tmp(
            "garbage",
            "{\"row\":1,\"outcome\":\"verified\"}\nhello\n{\"row\":2,\"outcome\":\"verified\"}\n",
        );
        assert!(scan(&path).unwrap_err().contains("line 2"));
        assert!(scan(Path::new("/nonexistent/glair/out.jsonl")).unwrap().done.len() == 0);
    }
}
