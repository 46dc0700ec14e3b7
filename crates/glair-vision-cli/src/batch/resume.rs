//! Reading back an existing output file so a re-run resumes: which rows are done
//! (a bitset), their tally, and the repair of a torn last line.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::path::Path;

use crate::args::OutputFormat;
use crate::batch::record::{is_retryable_kind, Layout, RowResult};

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

    /// The rows of `self` that are not in `other`.
    pub fn without(&self, other: &RowSet) -> RowSet {
        let words: Vec<u64> = self
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| w & !other.words.get(i).copied().unwrap_or(0))
            .collect();
        let len = words.iter().map(|w| u64::from(w.count_ones())).sum();
        RowSet { words, len }
    }

    /// Adds every row of `other`.
    pub fn union(&mut self, other: &RowSet) {
        if other.words.len() > self.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        for (w, o) in self.words.iter_mut().zip(&other.words) {
            *w |= o;
        }
        self.len = self.words.iter().map(|w| u64::from(w.count_ones())).sum();
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
    /// Rows whose outcome is a retryable error (what `--retry-errors` calls again).
    pub retryable: RowSet,
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

/// Reads `path` (missing is fine: nothing done yet), streaming, and with `repair`
/// repairs a torn last line in place. A bad line anywhere but at the end is
/// refused: the file is not ours, and appending to it would hide that. `each` sees
/// every good line: its row, its result, and the line's bytes (with the newline).
pub fn scan(
    path: &Path,
    layout: &Layout,
    repair: bool,
    mut each: impl FnMut(u64, &RowResult, &[u8]),
) -> Result<Existing, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Existing::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut existing = Existing::default();
    let mut record = |row: u64, result: &RowResult, raw: &[u8]| {
        if existing.done.insert(row) {
            existing.tally.add(result.outcome.as_str(), result.error_kind());
            if result.error_kind().is_some_and(is_retryable_kind) {
                existing.retryable.insert(row);
            }
        } else {
            existing.duplicates += 1;
        }
        each(row, result, raw);
    };
    let end = match layout.format {
        OutputFormat::Jsonl | OutputFormat::Parquet => scan_jsonl(path, file, &mut record)?,
        OutputFormat::Csv => scan_csv(path, file, layout, &mut record)?,
    };
    let len = std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    if !repair {
        return Ok(existing);
    }
    let write_err = |e: std::io::Error| format!("cannot repair {}: {e}", path.display());
    if end.good < len {
        // A torn (or otherwise unreadable) last line: cut it off; its row is redone.
        let file = OpenOptions::new().write(true).open(path).map_err(write_err)?;
        file.set_len(end.good).map_err(write_err)?;
        file.sync_all().map_err(write_err)?;
        existing.repair = Some(Repair::Truncated { bytes: len - end.good });
    } else if end.missing_newline {
        let mut file = OpenOptions::new().append(true).open(path).map_err(write_err)?;
        file.write_all(b"\n").map_err(write_err)?;
        existing.repair = Some(Repair::NewlineAdded);
    }
    Ok(existing)
}

/// Where the good part of a file ends.
struct End {
    /// Byte offset after the last good line.
    good: u64,
    /// The last good line lacks its newline (JSONL only: a complete JSON object).
    missing_newline: bool,
}

fn refuse(path: &Path, line: u64) -> String {
    format!(
        "{} line {line} is not a batch result line; refusing to append to it \
         (use another --output or move the file away)",
        path.display()
    )
}

fn scan_jsonl(
    path: &Path,
    file: File,
    record: &mut impl FnMut(u64, &RowResult, &[u8]),
) -> Result<End, String> {
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut buf = Vec::new();
    let mut end = End { good: 0, missing_newline: false };
    let mut line_no = 0u64;
    // A bad complete line is only acceptable as the very last one.
    let mut bad: Option<u64> = None;
    loop {
        buf.clear();
        let n =
            reader.read_until(b'\n', &mut buf).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(bad_line) = bad {
            return Err(refuse(path, bad_line));
        }
        let complete = buf.last() == Some(&b'\n');
        let text = buf.trim_ascii();
        if text.is_empty() {
            if complete {
                end.good += n as u64;
            }
            continue;
        }
        match Layout::parse_json(text) {
            Some((row, result)) => {
                if !complete {
                    buf.push(b'\n');
                }
                record(row, &result, &buf);
                end.good += n as u64;
                end.missing_newline = !complete;
            }
            None => bad = Some(line_no),
        }
    }
    Ok(end)
}

/// A CSV output: its header must be this run's; a last record without its newline
/// is torn (cut off, even if it happens to parse: its last cell may be short).
fn scan_csv(
    path: &Path,
    file: File,
    layout: &Layout,
    record: &mut impl FnMut(u64, &RowResult, &[u8]),
) -> Result<End, String> {
    let len = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?.len();
    let ends_with_newline = len > 0 && {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = &file;
        let mut last = [0u8];
        f.seek(SeekFrom::End(-1)).and_then(|_| f.read_exact(&mut last)).is_ok() && last[0] == b'\n'
    };
    std::io::Seek::rewind(&mut &file).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(64 * 1024, file));
    let mut raw = csv::ByteRecord::new();
    let mut end = End { good: 0, missing_newline: false };
    let expected = layout.csv_header();
    let read_err = |e: csv::Error| format!("cannot read {}: {e}", path.display());
    if !reader.read_byte_record(&mut raw).map_err(read_err)? {
        return Ok(end);
    }
    let header_ok = raw.iter().eq(expected.iter().map(|h| h.as_bytes()));
    if header_ok && (reader.position().byte() < len || ends_with_newline) {
        end.good = reader.position().byte();
    } else if !std::fs::read(path).unwrap_or_default().contains(&b'\n') {
        // A header torn before its newline: nothing else was written yet.
        return Ok(end);
    } else {
        return Err(format!(
            "{}: its header is not this run's ({}); use another --output or the same --keep/--dedupe",
            path.display(),
            expected.join(",")
        ));
    }
    let mut line = Vec::new();
    let mut line_no = 1u64;
    let mut bad: Option<u64> = None;
    while reader.read_byte_record(&mut raw).map_err(read_err)? {
        line_no += 1;
        if let Some(bad_line) = bad {
            return Err(refuse(path, bad_line));
        }
        let after = reader.position().byte();
        let torn = after >= len && !ends_with_newline;
        let parsed = csv::StringRecord::from_byte_record(raw.clone()).ok().and_then(|r| {
            let parsed = layout.parse_csv(&r)?;
            Some((r, parsed))
        });
        match parsed {
            Some((rec, (row, result))) if !torn => {
                line.clear();
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::Any(b'\n'))
                    .buffer_capacity(1024)
                    .from_writer(&mut line);
                writer.write_record(&rec).expect("writes to memory");
                writer.flush().expect("writes to memory");
                drop(writer);
                record(row, &result, &line);
                end.good = after;
            }
            _ => bad = Some(line_no),
        }
    }
    Ok(end)
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

    fn jsonl() -> Layout {
        Layout { format: OutputFormat::Jsonl, keep: vec![], dedupe: false }
    }

    fn scan(path: &Path) -> Result<Existing, String> {
        super::scan(path, &jsonl(), true, |_, _, _| {})
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
        let mut t = RowSet::default();
        t.insert(1);
        t.insert(70);
        let d = s.without(&t);
        assert_eq!(d.len(), 1);
        assert!(d.contains(1_000_000) && !d.contains(1));
        t.union(&s);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn truncates_a_torn_last_line() {
        let good = "{\"row\":2,\"outcome\":\"verified\"}\n{\"row\":1,\"outcome\":\"error\",\"error\":{\"kind\":\"validation\"}}\n{\"row\":4,\"outcome\":\"error\",\"error\":{\"kind\":\"timeout\"}}\n";
        let path = tmp("torn", &format!("{good}{{\"row\":3,\"outc"));
        let e = scan(&path).unwrap();
        assert_eq!(e.done.len(), 3);
        assert!(e.done.contains(1) && e.done.contains(2) && !e.done.contains(3));
        assert!(e.retryable.contains(4) && !e.retryable.contains(1), "timeouts are retried, validation not");
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

    #[test]
    fn csv_outputs_check_the_header_and_cut_a_torn_last_row() {
        let layout = Layout { format: OutputFormat::Csv, keep: vec!["cid".into()], dedupe: false };
        let header = layout.csv_header().join(",");
        let blanks = ",".repeat(16);
        let ok = format!("{header}\nC1,1,verified,true,Data valid,{blanks},,r-1\nC2,2,error,,{blanks},timeout,timed out,\n");
        let path = tmp("csv", &format!("{ok}C3,3,verified,true,Data valid,{blanks},,r-"));
        let mut seen = Vec::new();
        let e = super::scan(&path, &layout, true, |row, _, raw| seen.push((row, raw.to_vec()))).unwrap();
        assert_eq!(e.done.len(), 2);
        assert!(e.retryable.contains(2) && !e.done.contains(3));
        assert!(matches!(e.repair, Some(Repair::Truncated { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ok);
        assert_eq!(seen[0].1, format!("C1,1,verified,true,Data valid,{blanks},,r-1\n").into_bytes());
        // Another run's header is refused; a torn header is started over.
        let other = Layout { keep: vec![], ..layout.clone() };
        assert!(super::scan(&path, &other, true, |_, _, _| {}).unwrap_err().contains("header"));
        let path = tmp("csvhead", &header[..10]);
        assert_eq!(super::scan(&path, &layout, true, |_, _, _| {}).unwrap().done.len(), 0);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }
}
