//! `glair-vision batch`, run as the real binary against a sandbox: mixed rows,
//! both input formats, resume after SIGKILL and SIGTERM, torn-line repair.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use glair_vision::{BatchOptions, Field, VerificationRequest};
use glair_vision_sandbox::SandboxConfig;
use serde_json::{json, Value};

const COLUMNS: [&str; 4] = ["nik", "name", "date_of_birth", "gender"];

/// Good, mismatched, not found, malformed and fault-triggering rows.
fn mixed_rows() -> Vec<[&'static str; 4]> {
    vec![
        ["3171014508900001", "SITI RAHAYU", "05-08-1990", "P"],
        ["3273012305850002", "BUDI SANTOSO", "23-05-1985", ""],
        ["5171031212920003", "I MADE WIRAWAN", "", "LAKI-LAKI"],
        ["3171014508900001", "BUDI SANTOSO", "", ""],
        ["3273012305850002", "BUDI SANTOSO", "24-05-1985", ""],
        ["3171011001909999", "NOBODY", "", ""],
        ["317101450890", "SITI RAHAYU", "", ""],
        ["5171031212920004", "SHOULD NOT BE SENT", "31-02-1992", ""],
        ["3171014508900001", "", "", "X"],
        ["3171011001909503", "A", "", ""],
        ["3171011001909400", "", "", ""],
        ["3171011001909001", "B", "", ""],
        ["3171011001909200", "", "", ""],
        ["3171011001909403", "", "", ""],
        ["5171031212920003", "I MADE WIRAWAN", "12-12-1992", "P"],
    ]
}

fn write_csv(path: &Path, rows: &[[&str; 4]]) {
    let mut text = COLUMNS.join(",") + "\n";
    for r in rows {
        text.push_str(&r.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn write_jsonl(path: &Path, rows: &[[&str; 4]]) {
    let mut text = String::new();
    for r in rows {
        let obj: serde_json::Map<String, Value> = COLUMNS
            .iter()
            .zip(r)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        text.push_str(&Value::Object(obj).to_string());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn request(r: &[&str; 4]) -> VerificationRequest {
    let mut req = VerificationRequest::default();
    for (name, value) in COLUMNS.iter().zip(r) {
        if !value.is_empty() {
            req.set(Field::from_wire_name(name).unwrap(), *value);
        }
    }
    req
}

/// The output file as row -> line, asserting each row appears exactly once.
fn read_output(path: &Path) -> BTreeMap<u64, Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "output ends with a complete line");
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
        let row = v["row"].as_u64().expect("row number");
        assert!(rows.insert(row, v).is_none(), "row {row} appears twice");
    }
    rows
}

/// What matters of an outcome, without the per-call request id.
fn essence(v: &Value) -> Value {
    match v["outcome"].as_str().unwrap() {
        "error" => {
            let e = &v["error"];
            json!({"outcome": "error", "kind": e["kind"], "status": e["status"], "reason": e["reason"], "field": e["field"]})
        }
        outcome => {
            json!({"outcome": outcome, "status": v["verification_status"], "reason": v["reason"], "result": v["result"]})
        }
    }
}

/// What single calls through the core return for each row, in the same shape.
fn single_call_outcomes(ts: &TestSandbox, rows: &[[&str; 4]], max_retries: u32) -> Vec<Value> {
    let vision = ts.sb().vision_builder().max_retries(max_retries).build().unwrap();
    let identity = vision.identity();
    ts.runtime.block_on(async {
        let mut out = Vec::new();
        for r in rows {
            let line = match identity.verification(&request(r)).await {
                Ok(v) => json!({
                    "outcome": if v.verification_status { "verified" } else { "not_verified" },
                    "verification_status": v.verification_status,
                    "reason": v.reason,
                    "result": v.result,
                }),
                Err(e) => json!({"outcome": "error", "error": {
                    "kind": e.kind().code(),
                    "status": e.status(),
                    "reason": e.reason(),
                    "field": e.validation().map(|v| v.field().to_owned()),
                }}),
            };
            out.push(essence(&line));
        }
        out
    })
}

fn batch_cmd(ts: &TestSandbox, input: &Path, output: &Path, extra: &[&str]) -> Command {
    let mut cmd = cli();
    cmd.args(["batch", "--input"]).arg(input).arg("--output").arg(output).args(ts.flags()).args(extra);
    cmd
}

fn assert_no_personal_data(output: &Path, rows: &[[&str; 4]]) {
    let text = std::fs::read_to_string(output).unwrap();
    for r in rows {
        if r[0].len() == 16 {
            assert!(!text.contains(r[0]), "the output holds a full NIK");
        }
        if r[1].len() > 3 {
            assert!(!text.contains(r[1]), "the output holds a name");
        }
    }
    for secret in ["sandbox-password", "sandbox-api-key"] {
        assert!(!text.contains(secret), "the output holds a credential");
    }
}

#[test]
fn batch_mixed_rows_match_single_calls_in_both_formats() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let rows = mixed_rows();
    let dir = scratch("mixed");
    let csv = dir.join("in.csv");
    let jsonl = dir.join("in.jsonl");
    write_csv(&csv, &rows);
    write_jsonl(&jsonl, &rows);
    let expected = single_call_outcomes(&ts, &rows, 0);
    ts.sb().clear_received();

    for input in [&csv, &jsonl] {
        let output = dir.join(format!("{}.out.jsonl", input.extension().unwrap().to_str().unwrap()));
        let out =
            batch_cmd(&ts, input, &output, &["--max-retries", "0", "--concurrency", "4"]).output().unwrap();
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("summary:") && err.contains("verified") && err.contains("validation"), "{err}");
        let got = read_output(&output);
        assert_eq!(got.keys().copied().collect::<Vec<_>>(), (1..=rows.len() as u64).collect::<Vec<_>>());
        for (i, exp) in expected.iter().enumerate() {
            let line = &got[&(i as u64 + 1)];
            // The alternating fault NIK (...9001) depends on the attempt count: with
            // no retries it alternates, so only its kind of outcome is compared.
            if rows[i][0] == "3171011001909001" {
                continue;
            }
            assert_eq!(&essence(line), exp, "row {}: {line}", i + 1);
            if line["outcome"] == "error" && line["error"]["kind"] != "validation" {
                assert!(line["error"]["request_id"].is_string(), "API errors carry the Request-Id: {line}");
                assert!(line["error"]["status"].is_u64());
            }
            if line["outcome"] != "error" {
                assert!(line["request_id"].is_string());
                assert_eq!(line["result"].as_object().unwrap().len(), 16);
            }
        }
        assert_eq!(got[&1]["outcome"], "verified");
        assert_eq!(got[&4]["outcome"], "not_verified");
        assert_eq!(got[&7]["error"]["field"], "nik");
        assert_eq!(got[&8]["error"]["field"], "date_of_birth");
        assert_eq!(got[&9]["error"]["field"], "gender");
        assert_eq!(got[&10]["error"]["kind"], "service_unavailable");
        assert_eq!(got[&11]["error"]["kind"], "bad_request");
        assert_eq!(got[&13]["error"]["kind"], "decode");
        assert_no_personal_data(&output, &rows);
    }
    // Malformed rows never reached the sandbox.
    for r in ts.sb().received() {
        let nik = r.field("nik").unwrap_or_default();
        assert!(nik != "5171031212920004" && nik != "317101450890", "a malformed row was sent");
        assert!(r.user_agent.as_deref().unwrap_or_default().contains("(cli)"));
    }
}

#[test]
fn batch_reports_unreadable_rows_as_validation_errors() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("unreadable");
    let jsonl = dir.join("in.jsonl");
    std::fs::write(
        &jsonl,
        "{\"nik\":\"3171014508900001\",\"name\":\"SITI RAHAYU\"}\n\
         {not json\n\
         \n\
         [1,2]\n\
         {\"nik\":\"3171014508900001\",\"nama\":\"SITI\"}\n\
         {\"nik\":\"3171014508900001\",\"name\":true}\n\
         {\"nik\":3171014508900001,\"rt\":1}",
    )
    .unwrap();
    let output = dir.join("out.jsonl");
    let out = batch_cmd(&ts, &jsonl, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let got = read_output(&output);
    assert_eq!(got.len(), 6, "blank lines are not rows: {got:?}");
    assert_eq!(got[&1]["outcome"], "verified");
    for row in 2..=5 {
        assert_eq!(got[&row]["error"]["kind"], "validation", "{}", got[&row]);
    }
    assert!(got[&4]["error"]["message"].as_str().unwrap().contains("`nama`"), "{}", got[&4]);
    assert_eq!(got[&5]["error"]["field"], "name");
    assert_eq!(got[&6]["outcome"], "verified", "numbers are taken as digits");
    assert_eq!(ts.sb().received().len(), 2);

    // A CSV row with the wrong number of cells, and a header that is not wire names.
    let csv = dir.join("in.csv");
    std::fs::write(&csv, "nik,name\n3171014508900001,SITI RAHAYU\n3171014508900001\n").unwrap();
    let output = dir.join("out2.jsonl");
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0);
    let got = read_output(&output);
    assert_eq!(got[&2]["error"]["kind"], "validation");

    std::fs::write(&csv, "nik,nama\n3171014508900001,SITI RAHAYU\n").unwrap();
    let output = dir.join("out3.jsonl");
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("nama"), "{}", stderr(&out));
    let out = batch_cmd(&ts, &dir.join("missing.csv"), &output, &[]).output().unwrap();
    assert_eq!(code(&out), 2);
    let out = batch_cmd(&ts, &dir.join("in.txt"), &output, &[]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(ts.sb().received().len(), 3);
}

#[test]
fn batch_refuses_without_credentials() {
    let dir = scratch("nocreds");
    let csv = dir.join("in.csv");
    write_csv(&csv, &mixed_rows());
    let output = dir.join("out.jsonl");
    let out = cli().args(["batch", "--input"]).arg(&csv).arg("--output").arg(&output).output().unwrap();
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    assert!(stderr(&out).contains("GLAIR_API_KEY"));
    assert!(!output.exists(), "no output is created");
}

#[test]
fn batch_with_in_process_sandbox_and_rate_limit() {
    let dir = scratch("sandboxflag");
    let csv = dir.join("in.csv");
    write_csv(&csv, &mixed_rows()[..3]);
    let output = dir.join("out.jsonl");
    let out = cli()
        .args(["batch", "--sandbox", "--rate-limit", "50", "--concurrency", "2", "--input"])
        .arg(&csv)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(read_output(&output).values().all(|v| v["outcome"] == "verified"));
}

#[test]
fn batch_repairs_a_torn_last_line_and_refuses_foreign_files() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let rows = mixed_rows();
    let dir = scratch("torn");
    let csv = dir.join("in.csv");
    write_csv(&csv, &rows);
    let output = dir.join("out.jsonl");
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0);
    let full = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = full.lines().collect();
    // Keep five lines and half of the sixth, as a SIGKILL mid-write would.
    let mut torn: String = lines[..5].iter().map(|l| format!("{l}\n")).collect();
    torn.push_str(&lines[5][..lines[5].len() / 2]);
    std::fs::write(&output, &torn).unwrap();
    ts.sb().clear_received();
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("torn"), "{}", stderr(&out));
    let got = read_output(&output);
    assert_eq!(got.len(), rows.len());
    let resent = ts.sb().received().len();
    assert!(resent < rows.len(), "done rows were skipped ({resent} requests)");
    // Run again: nothing left to do, nothing sent.
    ts.sb().clear_received();
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(ts.sb().received().is_empty());
    assert_eq!(read_output(&output).len(), rows.len());

    let foreign = dir.join("foreign.jsonl");
    std::fs::write(&foreign, "hello\n{\"row\":1,\"outcome\":\"verified\"}\n").unwrap();
    let out = batch_cmd(&ts, &csv, &foreign, &[]).output().unwrap();
    assert_eq!(code(&out), 2);
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "hello\n{\"row\":1,\"outcome\":\"verified\"}\n");
}

fn line_count(path: &Path) -> usize {
    std::fs::read(path).map(|b| b.iter().filter(|c| **c == b'\n').count()).unwrap_or(0)
}

#[test]
fn batch_resumes_after_sigkill_and_sigterm_with_every_row_exactly_once() {
    let ts = TestSandbox::start(SandboxConfig {
        slow_delay: Duration::from_millis(300),
        ..SandboxConfig::default()
    });
    let base = mixed_rows();
    let mut rows: Vec<[&str; 4]> = Vec::new();
    for i in 0..160 {
        let mut r = base[i % base.len()];
        if i % 40 == 39 {
            r = ["3171011001909408", "SLOW", "", ""];
        }
        // Single calls below use the default retries, which would wait out 503s:
        // keep only a few of them.
        if r[0] == "3171011001909503" && i > 20 {
            r = ["3171011001909999", "", "", ""];
        }
        // The fails-once NIK alternates per NIK: concurrent rows of it would steal
        // each other's successful attempts, so it appears once.
        if r[0] == "3171011001909001" && i > 20 {
            r = ["3273012305850002", "BUDI SANTOSO", "", "L"];
        }
        rows.push(r);
    }
    let dir = scratch("resume");
    let csv = dir.join("in.csv");
    write_csv(&csv, &rows);
    let output = dir.join("out.jsonl");
    let args = ["--concurrency", "4", "--progress-interval", "0.2"];

    // Run 1: SIGKILL once its 20th line is written, then tear its last line as a
    // kill mid-write would. Against a sandbox of its own: the calls it had in
    // flight may reach it later, at any time (and would count against run 2's hold).
    let first = TestSandbox::start(SandboxConfig {
        slow_delay: Duration::from_millis(300),
        ..SandboxConfig::default()
    });
    kill_at(batch_cmd(&first, &csv, &output, &args), "line:20", &dir.join("paused"));
    let after_kill = line_count(&output);
    assert_eq!(after_kill, 20, "killed mid-run");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&output)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"row\":1000,\"outcome\":\"verif"))
        .unwrap();

    // Run 2: SIGTERM mid-run, with 4 calls in flight (held by the sandbox after 20
    // answers): it stops taking rows, lets those finish once released, exits 5.
    ts.sb().hold_after(20);
    let mut child = batch_cmd(&ts, &csv, &output, &args).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = StderrLines::take(&mut child);
    wait_until("4 calls held", || ts.sb().held() == 4);
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    err.wait_for("SIGTERM: taking no new rows; letting 4 calls in flight finish");
    // Nothing is written while the 4 calls are held.
    let at_signal = line_count(&output);
    ts.sb().release();
    let status = child.wait().unwrap();
    let err = err.rest();
    assert_eq!(status.code(), Some(5), "{err}");
    assert!(err.contains("torn") && err.contains("resuming"), "{err}");
    let after_term = read_output(&output).len();
    assert_eq!(line_count(&output), at_signal + 4, "the 4 calls in flight finished, no row was started");
    assert!(after_term < rows.len(), "terminated mid-run");

    // Run 3: completes.
    let out = batch_cmd(&ts, &csv, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("{} of {} rows have an outcome", rows.len(), rows.len())));

    // The union: every row exactly once, each outcome what a single call returns.
    let got = read_output(&output);
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), (1..=rows.len() as u64).collect::<Vec<_>>());
    let expected = single_call_outcomes(&ts, &rows, 2);
    for (i, exp) in expected.iter().enumerate() {
        assert_eq!(&essence(&got[&(i as u64 + 1)]), exp, "row {}", i + 1);
    }
    assert_no_personal_data(&output, &rows);
}

#[test]
fn core_batch_and_cli_agree_on_a_plain_run() {
    // The CLI drives the core's verification_stream: same outcomes as verification_batch.
    let ts = TestSandbox::start(SandboxConfig::default());
    let rows: Vec<[&str; 4]> =
        mixed_rows().into_iter().filter(|r| !r[0].starts_with("317101100190")).collect();
    let dir = scratch("agree");
    let csv = dir.join("in.csv");
    write_csv(&csv, &rows);
    let output = dir.join("out.jsonl");
    let out = batch_cmd(&ts, &csv, &output, &[]).output().unwrap();
    assert_eq!(code(&out), 0);
    let got = read_output(&output);
    let vision = ts.sb().vision_builder().build().unwrap();
    let results = ts.runtime.block_on(
        vision
            .identity()
            .verification_batch(rows.iter().map(request).collect::<Vec<_>>(), BatchOptions::default()),
    );
    for (i, r) in results.iter().enumerate() {
        let line = &got[&(i as u64 + 1)];
        match r {
            Ok(v) => assert_eq!(line["reason"], v.reason.as_str()),
            Err(e) => assert_eq!(line["error"]["kind"], e.kind().code()),
        }
    }
}

#[test]
fn batch_stops_on_sigint_with_more_rows_queued_than_the_channel_holds() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let rows = vec![["3171014508900001", "SITI RAHAYU", "", ""]; 3000];
    let dir = scratch("bigstop");
    let csv = dir.join("in.csv");
    write_csv(&csv, &rows);
    let output = dir.join("out.jsonl");
    // After 10 answers the sandbox holds the 2 calls in flight: the batch stands
    // still with the rest of the 3000 rows queued behind them.
    ts.sb().hold_after(10);
    let mut child =
        batch_cmd(&ts, &csv, &output, &["--concurrency", "2"]).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = StderrLines::take(&mut child);
    wait_until("2 calls held", || ts.sb().held() == 2);
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    err.wait_for("SIGINT: taking no new rows; letting 2 calls in flight finish");
    ts.sb().release();
    wait_until("the batch stopping after SIGINT", || child.try_wait().unwrap().is_some());
    let status = child.wait().unwrap();
    let err = err.rest();
    assert_eq!(status.code(), Some(5), "{err}");
    let done = read_output(&output);
    assert_eq!(done.len(), 12, "the 10 answered rows and the 2 in flight: {err}");
    assert_eq!(ts.sb().received().len(), 12, "no row was sent after SIGINT");
}
