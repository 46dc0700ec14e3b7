//! `--dry-run`: every row checked offline, nothing sent, nothing written. The
//! report (a JSON object on stdout, a summary on stderr) says what a real run would
//! do: valid and invalid rows (invalid by field and reason), duplicate records, and
//! the calls it would make (each call answered with a verification is billed).

use serde::Serialize;

use glair_vision::survey::Survey;

#[derive(Serialize)]
struct Report<'a> {
    rows: u64,
    valid: u64,
    invalid: u64,
    invalid_by: Vec<Invalid<'a>>,
    duplicate_rows: u64,
    already_done: u64,
    dedupe: bool,
    calls: u64,
}

#[derive(Serialize)]
struct Invalid<'a> {
    field: &'a str,
    reason: &'a str,
    rows: u64,
}

pub fn report(s: &Survey, already_done: u64, dedupe: bool) {
    let invalid_by: Vec<Invalid<'_>> =
        s.invalid_by().into_iter().map(|(field, reason, rows)| Invalid { field, reason, rows }).collect();
    let report = Report {
        rows: s.rows,
        valid: s.valid,
        invalid: s.invalid_count(),
        invalid_by,
        duplicate_rows: s.duplicates,
        already_done,
        dedupe,
        calls: s.to_send,
    };
    show!("{}", serde_json::to_string_pretty(&report).expect("serialisable"));
    let mut text = format!(
        "dry run: nothing was sent\n  \
         rows          {}\n  \
         valid         {}\n  \
         invalid       {}\n",
        s.rows, s.valid, report.invalid
    );
    for i in &report.invalid_by {
        text.push_str(&format!("    {:>8}  {}: {}\n", i.rows, i.field, i.reason));
    }
    let dup_note = if dedupe { "sent once with --dedupe" } else { "each sent without --dedupe" };
    text.push_str(&format!(
        "  duplicates    {} rows repeat an earlier record ({dup_note})\n  \
         already done  {already_done} rows have an outcome in the output\n  \
         calls         {} a real run would make (each answered with a verification is billed)",
        s.duplicates, s.to_send
    ));
    say!("{text}");
}
