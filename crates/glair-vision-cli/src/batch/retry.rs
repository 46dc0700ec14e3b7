//! `--retry-errors`: new outcomes go to a journal beside the output (`FILE.retry`,
//! appended line by line like the output itself); when every row is done, the output
//! is rewritten with each journal line in place of the row's old line, into
//! `FILE.tmp`, synced, and renamed over the output. A kill at any moment leaves the
//! old or the new output whole; a re-run after a kill does not call the rows the
//! journal already holds again.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::batch::record::Layout;
use crate::batch::resume::{self, Existing, RowSet};
use crate::batch::testpause::{self, Point};

pub fn journal_path(output: &Path) -> PathBuf {
    with_suffix(output, ".retry")
}

fn tmp_path(output: &Path) -> PathBuf {
    with_suffix(output, ".tmp")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The journal's rows, repaired. A journal whose every line the output already
/// holds verbatim is what a kill between the rename and its removal leaves: the
/// merge is done, so it is removed (and `None` returned).
pub fn open_journal(output: &Path, layout: &Layout) -> Result<Option<Existing>, String> {
    let journal = journal_path(output);
    let mut lines: HashMap<u64, Vec<u8>> = HashMap::new();
    let existing = resume::scan(&journal, layout, true, |row, _, raw| {
        lines.insert(row, raw.to_vec());
    })?;
    if lines.is_empty() {
        return Ok(Some(existing));
    }
    let mut same = 0usize;
    resume::scan(output, layout, false, |row, _, raw| {
        if lines.get(&row).is_some_and(|l| l == raw) {
            same += 1;
        }
    })?;
    if same >= lines.len() {
        remove(&journal)?;
        return Ok(None);
    }
    Ok(Some(existing))
}

/// Rows to skip in a `--retry-errors` run: those with an outcome that is not a
/// retryable error, and those the journal holds.
pub fn skip_set(output: &Existing, journal: Option<&Existing>) -> RowSet {
    let mut skip = output.done.without(&output.retryable);
    if let Some(j) = journal {
        skip.union(&j.done);
    }
    skip
}

/// Rewrites the output with the journal's lines in place of the old ones (rows the
/// output lacked are appended in row order), atomically, then removes the journal.
pub fn merge(output: &Path, layout: &Layout) -> Result<(), String> {
    let journal = journal_path(output);
    let tmp = tmp_path(output);
    let mut new: HashMap<u64, Vec<u8>> = HashMap::new();
    resume::scan(&journal, layout, false, |row, _, raw| {
        new.insert(row, raw.to_vec());
    })?;
    let werr = |e: std::io::Error| format!("cannot write {}: {e}", tmp.display());
    let file = File::create(&tmp).map_err(werr)?;
    let mut w = BufWriter::with_capacity(256 * 1024, file);
    let mut failed: Option<std::io::Error> = None;
    let mut replaced = RowSet::default();
    let mut put = |w: &mut BufWriter<File>, bytes: &[u8]| {
        if failed.is_none() {
            if let Err(e) = w.write_all(bytes) {
                failed = Some(e);
            }
        }
    };
    put(&mut w, &layout.header_line());
    resume::scan(output, layout, false, |row, _, raw| {
        if let Some(line) = new.remove(&row) {
            replaced.insert(row);
            put(&mut w, &line);
        } else if !replaced.contains(row) {
            put(&mut w, raw);
        }
    })?;
    let mut rest: Vec<(u64, Vec<u8>)> = new.into_iter().collect();
    rest.sort_unstable_by_key(|(row, _)| *row);
    for (_, line) in &rest {
        put(&mut w, line);
    }
    if let Some(e) = failed {
        return Err(werr(e));
    }
    let file = w.into_inner().map_err(|e| werr(e.into_error()))?;
    file.sync_all().map_err(werr)?;
    drop(file);
    testpause::reached(Point::MergeWritten);
    std::fs::rename(&tmp, output).map_err(|e| format!("cannot replace {}: {e}", output.display()))?;
    sync_dir(output);
    testpause::reached(Point::MergeRenamed);
    remove(&journal)?;
    sync_dir(output);
    Ok(())
}

fn remove(path: &Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
    }
}

/// Makes a rename or removal durable (best effort: not every filesystem allows it).
pub fn sync_dir(path: &Path) {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::OutputFormat;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("glair-cli-retry-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const OLD: &str = "{\"row\":1,\"outcome\":\"verified\"}\n\
                       {\"row\":3,\"outcome\":\"error\",\"error\":{\"kind\":\"timeout\",\"message\":\"t\"}}\n\
                       {\"row\":2,\"outcome\":\"error\",\"error\":{\"kind\":\"rate_limited\",\"message\":\"r\"}}\n";

    #[test]
    fn merge_replaces_lines_in_place_and_appends_new_rows() {
        let layout = Layout { format: OutputFormat::Jsonl, keep: vec![], dedupe: false };
        let d = dir("merge");
        let out = d.join("out.jsonl");
        std::fs::write(&out, OLD).unwrap();
        std::fs::write(
            journal_path(&out),
            "{\"row\":4,\"outcome\":\"verified\"}\n{\"row\":2,\"outcome\":\"not_verified\"}\n",
        )
        .unwrap();
        let existing = resume::scan(&out, &layout, false, |_, _, _| {}).unwrap();
        let journal = open_journal(&out, &layout).unwrap().expect("a live journal");
        let skip = skip_set(&existing, Some(&journal));
        assert!(skip.contains(1) && skip.contains(2) && skip.contains(4) && !skip.contains(3));
        merge(&out, &layout).unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"row\":1,\"outcome\":\"verified\"}\n\
             {\"row\":3,\"outcome\":\"error\",\"error\":{\"kind\":\"timeout\",\"message\":\"t\"}}\n\
             {\"row\":2,\"outcome\":\"not_verified\"}\n\
             {\"row\":4,\"outcome\":\"verified\"}\n"
        );
        assert!(!journal_path(&out).exists() && !tmp_path(&out).exists());
    }

    #[test]
    fn a_journal_left_after_the_rename_is_recognised_and_removed() {
        let layout = Layout { format: OutputFormat::Jsonl, keep: vec![], dedupe: false };
        let d = dir("stale");
        let out = d.join("out.jsonl");
        std::fs::write(&out, OLD).unwrap();
        std::fs::write(journal_path(&out), "{\"row\":1,\"outcome\":\"verified\"}\n").unwrap();
        assert!(open_journal(&out, &layout).unwrap().is_none());
        assert!(!journal_path(&out).exists());
    }
}
