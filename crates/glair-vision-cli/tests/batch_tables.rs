//! `batch` over a file as customers have them (their own id and other columns,
//! Indonesian headers, duplicates, flaky rows): `--map`/`--keep`/`--ignore-unknown`,
//! CSV output, `--dedupe`, `--dry-run` and `--retry-errors` (with a SIGKILL), run as
//! the real binary against a sandbox on 127.0.0.1.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::*;
use glair_vision::tables::RESULT_COLUMNS;
use glair_vision::{Field, VerificationRequest};
use glair_vision_sandbox::SandboxConfig;
use serde_json::{json, Value};

const SITI: &str = "3171014508900001";
const BUDI: &str = "3273012305850002";
const MADE: &str = "5171031212920003";
const FLAKY: &str = "3171011001909001"; // 503 on odd attempts, 200 on even ones
const DOWN: &str = "3171011001909503"; // always 503

/// customer_id, NIK, nama, tanggal_lahir, kota: duplicates (after normalisation),
/// fault rows, an invalid row.
fn held_out_rows() -> Vec<[&'static str; 5]> {
    vec![
        ["C001", SITI, "SITI RAHAYU", "05-08-1990", "Jakarta"],
        ["C002", BUDI, "BUDI SANTOSO", "23-05-1985", "Bandung"],
        ["C003", SITI, " SITI  RAHAYU ", "05/08/1990", "Jakarta"], // the same record as C001
        ["C004", FLAKY, "B", "", ""],
        ["C005", DOWN, "A", "", "Surabaya"],
        ["C006", "317101450890", "SITI RAHAYU", "", ""], // a short NIK
        ["C007", BUDI, "BUDI SANTOSO", "1985-05-23", ""], // the same record as C002
        ["C008", MADE, "I MADE WIRAWAN", "12-12-1992", "Denpasar"],
        ["C009", DOWN, "A", "", ""],                      // the same record as C005
        ["C010", BUDI, "BUDI SANTOSO", "24-05-1985", ""], // not a duplicate: another date
    ]
}

const HEADER: &str = "customer_id,NIK,nama,tanggal_lahir,kota";
const MAP: &str = "nama=name,tanggal_lahir=date_of_birth";

fn write_held_out(path: &Path, rows: &[[&str; 5]]) {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn request(r: &[&str; 5]) -> VerificationRequest {
    let mut req = VerificationRequest::default();
    for (field, value) in [(Field::Nik, r[1]), (Field::Name, r[2]), (Field::DateOfBirth, r[3])] {
        if !value.is_empty() {
            req.set(field, value);
        }
    }
    req
}

/// The CSV output as row -> column -> cell, asserting its header and one line per row.
fn read_csv(path: &Path, kept: &[&str], dedupe: bool) -> BTreeMap<u64, BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let mut expected: Vec<&str> = kept.to_vec();
    expected.push("row");
    if dedupe {
        expected.push("duplicate_of");
    }
    expected.extend(RESULT_COLUMNS);
    assert_eq!(header, expected);
    let mut rows = BTreeMap::new();
    for record in reader.records() {
        let record = record.unwrap();
        let map: BTreeMap<String, String> =
            header.iter().cloned().zip(record.iter().map(str::to_owned)).collect();
        let row: u64 = map["row"].parse().unwrap();
        assert!(rows.insert(row, map).is_none(), "row {row} appears twice");
    }
    rows
}

/// The JSONL output as row -> line, asserting one line per row.
fn read_jsonl(path: &Path) -> BTreeMap<u64, Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'));
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(rows.insert(v["row"].as_u64().unwrap(), v).is_none(), "a row appears twice");
    }
    rows
}

/// Outcome, status, reason and field results of single calls, as the CSV shows them.
fn single_calls(ts: &TestSandbox, rows: &[[&str; 5]]) -> Vec<(String, String, String)> {
    let vision = ts.sb().vision_builder().max_retries(2).build().unwrap();
    ts.runtime.block_on(async {
        let mut out = Vec::new();
        for r in rows {
            out.push(match vision.identity().verification(&request(r)).await {
                Ok(v) => (
                    if v.verification_status { "verified" } else { "not_verified" }.to_owned(),
                    v.reason.clone(),
                    String::new(),
                ),
                Err(e) => {
                    ("error".to_owned(), e.reason().unwrap_or_default().to_owned(), e.kind().code().into())
                }
            });
        }
        out
    })
}

fn assert_no_personal_data(output: &Path) {
    let text = std::fs::read_to_string(output).unwrap();
    for secret in [SITI, BUDI, MADE, "SITI RAHAYU", "BUDI SANTOSO", "I MADE WIRAWAN", "sandbox-password"] {
        assert!(!text.contains(secret), "the output holds {secret:?}");
    }
}

#[test]
fn a_customer_file_with_indonesian_headers_goes_through_with_its_ids() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("tables-held-out");
    let rows = held_out_rows();
    let input = dir.join("pelanggan.csv");
    write_held_out(&input, &rows);
    let output = dir.join("hasil.csv");

    // Unknown columns are refused, every one named, before anything is sent.
    let out = ts.batch(&input, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    for name in ["`customer_id`", "`nama`", "`tanggal_lahir`", "`kota`"] {
        assert!(stderr(&out).contains(name), "{name} in {}", stderr(&out));
    }
    let out = ts.batch(&input, &output, &["--map", MAP, "--keep", "customer_id"]).output().unwrap();
    assert_eq!(code(&out), 2, "kota is still unknown: {}", stderr(&out));
    assert!(stderr(&out).contains("`kota`") && !stderr(&out).contains("`nama`"), "{}", stderr(&out));
    let out = ts.batch(&input, &output, &["--map", "nama=nama"]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("not a field"), "{}", stderr(&out));
    assert!(ts.sb().received().is_empty());
    assert!(!output.exists() || std::fs::read_to_string(&output).unwrap().is_empty());

    let args = [
        "--map",
        MAP,
        "--keep",
        "customer_id,kota",
        "--ignore-unknown",
        "--request-id-column",
        "customer_id",
    ];
    let out = ts.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = read_csv(&output, &["customer_id", "kota"], false);
    assert_eq!(got.len(), rows.len());
    let expected = single_calls(&ts, &rows);
    for (i, r) in rows.iter().enumerate() {
        let line = &got[&(i as u64 + 1)];
        assert_eq!(line["customer_id"], r[0], "kept values join the row back");
        assert_eq!(line["kota"], r[4]);
        let (outcome, reason, kind) = &expected[i];
        assert_eq!(&line["outcome"], outcome, "row {}", i + 1);
        assert_eq!(&line["error_kind"], kind, "row {}", i + 1);
        if outcome != "error" {
            assert_eq!(&line["reason"], reason, "row {}", i + 1);
            assert_eq!(line["result_nik"], "true");
            assert!(!line["request_id"].is_empty());
        }
    }
    assert_eq!(got[&6]["error_kind"], "validation");
    assert!(got[&6]["error_message"].contains("nik"));
    assert_eq!(got[&5]["error_kind"], "service_unavailable");
    // Every call carried its row's customer id.
    let ids: Vec<String> = ts.sb().received().iter().filter_map(|r| r.client_request_id.clone()).collect();
    assert!(ids.contains(&"C008".to_owned()), "{ids:?}");
    assert_no_personal_data(&output);
}

#[test]
fn jsonl_keeps_go_in_a_keep_object_and_dedupe_sends_each_record_once() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("tables-dedupe");
    let rows = held_out_rows();
    let input = dir.join("in.jsonl");
    let mut text = String::new();
    for r in &rows {
        // JSONL: the same columns as keys, the id as a number for one row.
        let id: Value = if r[0] == "C008" { json!(8) } else { json!(r[0]) };
        let line = json!({"customer_id": id, "NIK": r[1], "nama": r[2], "tanggal_lahir": r[3], "kota": r[4]});
        text.push_str(&format!("{line}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.join("out.jsonl");
    let args = ["--map", MAP, "--keep", "customer_id", "--ignore-unknown", "--dedupe", "--concurrency", "4"];
    let out = ts.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("duplicates    3 rows"), "{}", stderr(&out));
    let got = read_jsonl(&output);
    assert_eq!(got.len(), rows.len());
    assert_eq!(got[&8]["keep"], json!({"customer_id": 8}));
    assert_eq!(got[&1]["keep"]["customer_id"], "C001");
    for (dup, first) in [(3u64, 1u64), (7, 2), (9, 5)] {
        assert_eq!(got[&dup]["duplicate_of"], first, "{}", got[&dup]);
        assert_eq!(got[&dup]["keep"]["customer_id"], rows[dup as usize - 1][0], "its own kept values");
        let strip = |v: &Value| {
            let mut v = v.clone();
            for k in ["row", "duplicate_of", "keep"] {
                v.as_object_mut().unwrap().remove(k);
            }
            v
        };
        assert_eq!(strip(&got[&dup]), strip(&got[&first]), "row {dup} carries row {first}'s result");
    }
    assert!(got[&10].get("duplicate_of").is_none());
    // Each distinct valid record sent once (the flaky one twice: its first attempt is a 503,
    // the always-down one three times: its retries).
    let received = ts.sb().received();
    let distinct_valid = 6;
    assert_eq!(
        received.len(),
        distinct_valid + 1 + 2,
        "{:?}",
        received.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(received.iter().filter(|r| r.field("nik") == Some(SITI)).count(), 1);
    assert_eq!(received.iter().filter(|r| r.field("nik") == Some(BUDI)).count(), 2, "C002 and C010");

    // Resume: drop a first row's line and two duplicates' lines; the first row is sent
    // again, one duplicate follows it, the other copies its (kept) first row's result.
    let kept: String = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            ![2, 7, 3].contains(&v["row"].as_u64().unwrap())
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&output, kept).unwrap();
    ts.sb().clear_received();
    let out = ts.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let again = read_jsonl(&output);
    assert_eq!(again.len(), rows.len());
    assert_eq!(ts.sb().received().len(), 1, "only row 2 is sent again");
    assert_eq!(again[&7]["duplicate_of"], 2);
    assert_eq!(again[&7]["request_id"], again[&2]["request_id"]);
    assert_eq!(again[&3]["duplicate_of"], 1);
    assert_eq!(again[&3]["request_id"], got[&1]["request_id"], "copied from the line already in the output");
}

#[test]
fn dry_run_reports_and_sends_nothing() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("tables-dry");
    let rows = held_out_rows();
    let input = dir.join("in.csv");
    write_held_out(&input, &rows);
    let mut with_bad = std::fs::read_to_string(&input).unwrap();
    with_bad.push_str("C011,3171014508900001,SITI,31-02-1990,\nC012,3171014508900001,SITI,\n");
    std::fs::write(&input, with_bad).unwrap();
    let report = |extra: &[&str]| {
        let out = cli()
            .args(["batch", "--dry-run", "--input"])
            .arg(&input)
            .args(["--map", MAP, "--keep", "customer_id", "--ignore-unknown"])
            .args(ts.flags())
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stderr(&out).contains("nothing was sent"));
        stdout_json(&out)
    };
    let r = report(&[]);
    assert_eq!(r["rows"], 12);
    assert_eq!(r["valid"], 9);
    assert_eq!(r["invalid"], 3);
    let by: Vec<(String, u64)> = r["invalid_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["field"].as_str().unwrap().to_owned(), i["rows"].as_u64().unwrap()))
        .collect();
    assert!(by.contains(&("nik".into(), 1)) && by.contains(&("date_of_birth".into(), 1)), "{by:?}");
    assert!(by.contains(&("(row)".into(), 1)), "the short row: {by:?}");
    assert_eq!(r["duplicate_rows"], 3);
    assert_eq!(r["calls"], 9);
    assert_eq!(report(&["--dedupe"])["calls"], 6);
    // With an output holding some rows, those are not counted again.
    let output = dir.join("out.jsonl");
    std::fs::write(&output, "{\"row\":1,\"outcome\":\"verified\"}\n{\"row\":6,\"outcome\":\"error\",\"error\":{\"kind\":\"validation\"}}\n").unwrap();
    let r = report(&["--output", output.to_str().unwrap()]);
    assert_eq!(r["already_done"], 2);
    assert_eq!(r["calls"], 8);
    assert!(!dir.join("out.jsonl.retry").exists());
    assert!(ts.sb().received().is_empty(), "a dry run sends nothing");
    // No credentials needed either.
    let out = cli().args(["batch", "--dry-run", "--ignore-unknown", "--input"]).arg(&input).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

/// A run against a sandbox that answers a share of calls with 503 and no retries:
/// rows end as `service_unavailable` errors.
fn flaky_run(input: &Path, output: &Path) -> usize {
    let flaky = TestSandbox::start(SandboxConfig { failure_rate: 0.4, seed: 7, ..SandboxConfig::default() });
    let out = flaky
        .batch(
            input,
            output,
            &["--map", MAP, "--keep", "customer_id", "--ignore-unknown", "--max-retries", "0"],
        )
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = std::fs::read_to_string(output).unwrap();
    text.matches("service_unavailable").count()
}

fn many_rows(n: usize) -> Vec<[&'static str; 5]> {
    let base = [
        ["C", SITI, "SITI RAHAYU", "05-08-1990", "x"],
        ["C", BUDI, "BUDI SANTOSO", "", "y"],
        ["C", MADE, "I MADE WIRAWAN", "", ""],
        ["C", BUDI, "BUDI SANTOSO", "24-05-1985", ""],
    ];
    (0..n).map(|i| base[i % base.len()]).collect()
}

#[test]
fn retry_errors_leaves_one_line_per_row_and_no_retryable_errors() {
    let dir = scratch("tables-retry");
    let rows = many_rows(60);
    let input = dir.join("in.csv");
    write_held_out(&input, &rows);
    for name in ["out.csv", "out.jsonl"] {
        let output = dir.join(name);
        let failed = flaky_run(&input, &output);
        assert!(failed > 5, "the flaky sandbox failed {failed} rows");
        let healthy = TestSandbox::start(SandboxConfig::default());
        let args = ["--map", MAP, "--keep", "customer_id", "--ignore-unknown", "--retry-errors"];
        let out = healthy.batch(&input, &output, &args).output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert_eq!(healthy.sb().received().len(), failed, "only the failed rows are called again");
        let outcomes: Vec<String> = if name.ends_with(".csv") {
            let got = read_csv(&output, &["customer_id"], false);
            assert_eq!(got.len(), rows.len());
            got.values().map(|l| l["outcome"].clone()).collect()
        } else {
            let got = read_jsonl(&output);
            assert_eq!(got.len(), rows.len());
            assert!(got.values().all(|l| l["keep"]["customer_id"] == "C"));
            got.values().map(|l| l["outcome"].as_str().unwrap().to_owned()).collect()
        };
        assert!(outcomes.iter().all(|o| o != "error"), "{outcomes:?}");
        assert!(!dir.join(format!("{name}.retry")).exists() && !dir.join(format!("{name}.tmp")).exists());
        // Nothing left to retry: nothing sent.
        healthy.sb().clear_received();
        let out = healthy.batch(&input, &output, &args).output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(healthy.sb().received().is_empty());
    }
}

fn count_lines(path: &Path) -> usize {
    std::fs::read(path).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
}

#[test]
fn a_sigkill_during_retry_errors_loses_nothing_and_bills_nothing_twice() {
    let dir = scratch("tables-retry-kill");
    let rows = many_rows(120);
    let input = dir.join("in.csv");
    write_held_out(&input, &rows);
    let output = dir.join("out.jsonl");
    // Every row fails: the sandbox is down.
    let down = TestSandbox::start(SandboxConfig { failure_rate: 1.0, ..SandboxConfig::default() });
    let out = down
        .batch(&input, &output, &["--map", MAP, "--ignore-unknown", "--max-retries", "0"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    drop(down);
    let old = std::fs::read(&output).unwrap();
    assert_eq!(count_lines(&output), rows.len());

    let args = ["--map", MAP, "--ignore-unknown", "--retry-errors", "--concurrency", "2"];
    let journal = dir.join("out.jsonl.retry");
    // Killed once the 30th new outcome is in the journal.
    let killed = TestSandbox::start(SandboxConfig::default());
    kill_at(killed.batch(&input, &output, &args), "line:30", &dir.join("paused"));
    assert_eq!(std::fs::read(&output).unwrap(), old, "the old output is whole");
    assert_eq!(count_lines(&journal), 30);
    // Each journaled row was answered, and so logged, before it was written.
    let sent_before = killed.sb().received().len();

    // The next run against a sandbox of its own: the calls the killed run had in
    // flight may still reach the first one, at any time, and are not this run's.
    let healthy = TestSandbox::start(SandboxConfig::default());
    let out = healthy.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("not calling them again"), "{}", stderr(&out));
    assert_eq!(healthy.sb().received().len(), rows.len() - 30, "journaled rows are not called again");
    assert!(sent_before >= 30);
    let got = read_jsonl(&output);
    assert_eq!(got.len(), rows.len());
    assert!(got.values().all(|l| l["outcome"] != "error"));
    assert!(!journal.exists());
}

/// `n` rows with their own customer ids (`C001`...), sent as each call's request id.
fn rows_with_ids(n: usize) -> Vec<[String; 5]> {
    many_rows(n)
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.map(str::to_owned);
            r[0] = format!("C{:03}", i + 1);
            r
        })
        .collect()
}

#[test]
fn a_kill_at_any_moment_of_retry_errors_leaves_the_old_or_the_new_file_whole() {
    let dir = scratch("tables-retry-anytime");
    let owned = rows_with_ids(40);
    let rows: Vec<[&str; 5]> = owned.iter().map(|r| r.each_ref().map(String::as_str)).collect();
    let input = dir.join("in.csv");
    write_held_out(&input, &rows);
    let output = dir.join("out.csv");
    let down = TestSandbox::start(SandboxConfig { failure_rate: 1.0, ..SandboxConfig::default() });
    let base =
        ["--map", MAP, "--ignore-unknown", "--keep", "customer_id", "--request-id-column", "customer_id"];
    let out = down.batch(&input, &output, &[&base[..], &["--max-retries", "0"]].concat()).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    drop(down);
    let old = std::fs::read(&output).unwrap();
    assert!(read_csv(&output, &["customer_id"], false).values().all(|l| l["outcome"] == "error"));
    let args = [&base[..], &["--retry-errors", "--concurrency", "8"]].concat();
    let journal = dir.join("out.csv.retry");
    let tmp = dir.join("out.csv.tmp");
    let marker = dir.join("paused");
    // Each run against a sandbox of its own, returned to look at what the run sent:
    // calls a killed run had in flight may reach its sandbox later, at any time.
    let run_to = |point: &str| {
        let sb = TestSandbox::start(SandboxConfig::default());
        kill_at(sb.batch(&input, &output, &args), point, &marker);
        sb
    };
    // The customer ids of the rows the journal holds: they must never be sent again.
    let journaled = || -> BTreeSet<String> {
        let lines = read_csv(&journal, &["customer_id"], false);
        assert!(lines.values().all(|l| l["outcome"] != "error"), "the journal holds new outcomes only");
        lines.values().map(|l| l["customer_id"].clone()).collect()
    };
    let sent = |sb: &TestSandbox| -> Vec<String> {
        sb.sb()
            .received()
            .iter()
            .map(|r| r.client_request_id.clone().expect("every call has its id"))
            .collect()
    };
    let new_file_whole = |path: &Path| {
        let got = read_csv(path, &["customer_id"], false);
        assert_eq!(got.len(), rows.len(), "{}: every row once", path.display());
        assert!(got.values().all(|l| l["outcome"] != "error"), "{}", path.display());
        for (row, line) in &got {
            assert_eq!(line["customer_id"], rows[*row as usize - 1][0], "kept values stay with their row");
        }
    };

    // 1. Before any call: nothing sent, the old output as it was.
    let sb = run_to("calls");
    assert_eq!(std::fs::read(&output).unwrap(), old, "killed before the calls: the old file");
    assert!(sent(&sb).is_empty(), "nothing was sent before the calls");
    assert!(journaled().is_empty());

    // 2. While the journal is written: after its 10th line, then (resumed) 15 more.
    // A journaled row was answered, and so logged, before it was written.
    let sb = run_to("line:10");
    assert_eq!(std::fs::read(&output).unwrap(), old, "killed mid-journal: the old file");
    let first = journaled();
    assert_eq!(first.len(), 10);
    assert!(first.iter().all(|id| sent(&sb).contains(id)));
    let sb = run_to("line:15");
    assert_eq!(std::fs::read(&output).unwrap(), old, "killed mid-journal again: the old file");
    let second = journaled();
    assert_eq!(second.len(), 25, "the journal kept the first run's lines and got 15 more");
    assert!(second.is_superset(&first));
    assert!(sent(&sb).iter().all(|id| !first.contains(id)), "rows in the journal are not called again");

    // 3. During the rewrite: the new file written and synced beside the old one,
    // not renamed. Every call of this run ended before it (nothing in flight).
    let sb = run_to("merge:written");
    assert_eq!(std::fs::read(&output).unwrap(), old, "killed before the rename: the old file");
    new_file_whole(&tmp);
    assert_eq!(journaled().len(), rows.len());
    let called = sent(&sb);
    let left: BTreeSet<String> =
        rows.iter().map(|r| r[0].to_owned()).filter(|id| !second.contains(id)).collect();
    assert_eq!(called.len(), left.len(), "each row left called once: {called:?}");
    assert_eq!(called.into_iter().collect::<BTreeSet<_>>(), left, "only the rows the journal lacked");

    // 4. After the rename, before the journal's removal: the new file, nothing called again.
    let sb = run_to("merge:renamed");
    new_file_whole(&output);
    let new = std::fs::read(&output).unwrap();
    assert!(journal.exists());
    assert!(sent(&sb).is_empty(), "every row had its new outcome in the journal");

    // 5. A run to the end: the left journal is recognised as merged; nothing sent, nothing changed.
    let sb = TestSandbox::start(SandboxConfig::default());
    let out = sb.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(std::fs::read(&output).unwrap(), new);
    assert!(sent(&sb).is_empty());
    assert!(!journal.exists() && !tmp.exists());
}
