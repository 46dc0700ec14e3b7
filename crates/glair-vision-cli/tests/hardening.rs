//! Issue 12 in the CLI: correlation ids (`verify --request-id`, `batch
//! --request-id-column`), `retry_after` and `client_request_id` in error JSON,
//! `--deadline`, `--retry-unanswered`, and logs without colour codes off a terminal.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use glair_vision_sandbox::SandboxConfig;
use serde_json::Value;

const SITI: &str = "3171014508900001";
const OK_BODY: &str =
    r#"{"verification_status":true,"reason":"Verification Success","result":{"nik":true,"name":null}}"#;

/// A server on 127.0.0.1 that keeps every request head (lowercased) and answers
/// each with a documented 200.
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let heads: Arc<Mutex<Vec<String>>> = Arc::default();
        let keep = heads.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let head_end = loop {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break Some(i + 4);
                    }
                };
                let Some(head_end) = head_end else { continue };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while buf.len() < head_end + length {
                    let n = stream.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                keep.lock().unwrap().push(head);
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{OK_BODY}",
                    OK_BODY.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        Recorder { url, heads }
    }

    fn flags(&self) -> Vec<String> {
        ["--base-url", &self.url, "--api-key", "k", "--username", "u", "--password", "p"]
            .map(str::to_owned)
            .to_vec()
    }

    /// The `x-request-id` of every request received, in order (None when absent).
    fn request_ids(&self) -> Vec<Option<String>> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .map(|h| h.lines().find_map(|l| l.strip_prefix("x-request-id: ")).map(str::to_owned))
            .collect()
    }
}

#[test]
fn verify_sends_the_request_id_and_prints_it() {
    let server = Recorder::start();
    let out = cli()
        .args(["verify", "--nik", SITI, "--request-id", "order-17"])
        .args(server.flags())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["client_request_id"], "order-17");
    assert_eq!(server.request_ids(), [Some("order-17".to_owned())]);

    // Without one: no header, and the output has no such key.
    let out = cli().args(["verify", "--nik", SITI]).args(server.flags()).output().unwrap();
    assert_eq!(code(&out), 0);
    assert!(stdout_json(&out).get("client_request_id").is_none());
    assert_eq!(server.request_ids()[1], None);
}

#[test]
fn verify_refuses_a_bad_request_id_before_sending() {
    let server = Recorder::start();
    for bad in ["has space", "", &"x".repeat(129)] {
        let out =
            cli().args(["verify", "--nik", SITI, "--request-id", bad]).args(server.flags()).output().unwrap();
        assert_eq!(code(&out), 2, "{bad:?}: {}", stderr(&out));
        let e = &stdout_json(&out)["error"];
        assert_eq!((e["kind"].as_str(), e["field"].as_str()), (Some("validation"), Some("request_id")));
    }
    assert!(server.request_ids().is_empty());
}

#[test]
fn error_json_has_retry_after_and_client_request_id() {
    let out = run(&[
        "verify",
        "--sandbox",
        "--nik",
        "3171011001909429",
        "--max-retries",
        "0",
        "--request-id",
        "o-18",
    ]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let e = &stdout_json(&out)["error"];
    assert_eq!(e["kind"], "rate_limited");
    assert_eq!(e["retry_after"].as_f64(), Some(1.0), "{e}");
    assert_eq!(e["client_request_id"], "o-18");
    assert!(e["message"].as_str().unwrap().contains("client request id o-18"), "{e}");

    let out = run(&["verify", "--sandbox", "--nik", "3171011001909503", "--max-retries", "0"]);
    let e = &stdout_json(&out)["error"];
    assert_eq!(e["kind"], "service_unavailable");
    assert!(e.get("retry_after").is_some_and(Value::is_null), "the key is always there: {e}");
    assert!(e.get("client_request_id").is_some_and(Value::is_null), "{e}");
}

#[test]
fn deadline_and_retry_unanswered_flags() {
    let ts = TestSandbox::start(SandboxConfig { slow_delay: Duration::from_secs(3), ..Default::default() });
    // The answer comes after 3 s: only the 0.5 s deadline can end the call before
    // it (a timeout naming the deadline, not a verification), however slow the machine.
    let out = cli()
        .args(["verify", "--nik", "3171011001909408", "--deadline", "0.5"])
        .args(ts.flags())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    let e = &stdout_json(&out)["error"];
    assert_eq!(e["kind"], "timeout");
    assert!(e["message"].as_str().unwrap().contains("call deadline of 0.5s passed"), "{e}");

    // A 500 may have been processed: retried only with --retry-unanswered.
    ts.sb().clear_received();
    let out = cli()
        .args(["verify", "--nik", "3171011001909500", "--max-retries", "1"])
        .args(ts.flags())
        .output()
        .unwrap();
    assert_eq!(stdout_json(&out)["error"]["kind"], "server");
    assert_eq!(ts.sb().received().len(), 1);
    let out = cli()
        .args(["verify", "--nik", "3171011001909500", "--max-retries", "1", "--retry-unanswered"])
        .args(ts.flags())
        .output()
        .unwrap();
    assert_eq!(stdout_json(&out)["error"]["kind"], "server");
    assert_eq!(ts.sb().received().len(), 1 + 2);
}

#[test]
fn logs_have_no_colour_codes_off_a_terminal() {
    let out = cli().args(["verify", "--sandbox", "--nik", SITI]).env("GLAIR_LOG", "debug").output().unwrap();
    assert_eq!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("verified"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI escape codes in piped stderr: {err:?}");
}

fn read_lines(path: &std::path::Path) -> Vec<Value> {
    let mut lines: Vec<Value> =
        std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines.sort_by_key(|v| v["row"].as_u64());
    lines
}

#[test]
fn batch_sends_each_rows_request_id_and_prints_it() {
    let server = Recorder::start();
    let dir = scratch("request-id-column");
    let csv = dir.join("in.csv");
    std::fs::write(
        &csv,
        format!("ref,nik,name\nr-1,{SITI},SITI RAHAYU\n,{SITI},\nr-3,{SITI},\nbad id,{SITI},\nr-5,123,\n"),
    )
    .unwrap();
    let output = dir.join("out.jsonl");
    let out = batch_command(&csv, &output)
        .args(["--quiet", "--request-id-column", "ref"])
        .args(server.flags())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let lines = read_lines(&output);
    let ids: Vec<Option<&str>> =
        lines.iter().map(|v| v.get("client_request_id").and_then(Value::as_str)).collect();
    assert_eq!(ids, [Some("r-1"), None, Some("r-3"), Some("bad id"), Some("r-5")]);
    assert_eq!(lines[0]["outcome"], "verified");
    assert_eq!(lines[0]["reason"], "Verification Success");
    assert_eq!(
        (lines[3]["outcome"].as_str(), lines[3]["error"]["field"].as_str()),
        (Some("error"), Some("request_id"))
    );
    assert_eq!(lines[4]["error"]["field"], "nik");
    let mut sent = server.request_ids();
    sent.sort();
    assert_eq!(sent, [None, Some("r-1".to_owned()), Some("r-3".to_owned())]);

    // JSONL: the same flag names a key.
    let jsonl = dir.join("in.jsonl");
    std::fs::write(&jsonl, format!("{{\"ref\":\"j-1\",\"nik\":\"{SITI}\"}}\n")).unwrap();
    let output = dir.join("out2.jsonl");
    let out = batch_command(&jsonl, &output)
        .args(["--quiet", "--request-id-column", "ref"])
        .args(server.flags())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(read_lines(&output)[0]["client_request_id"], "j-1");
    assert_eq!(server.request_ids().last().unwrap().as_deref(), Some("j-1"));

    // A CSV without the named column is a usage error before anything is sent.
    let before = server.request_ids().len();
    let plain = dir.join("plain.csv");
    std::fs::write(&plain, format!("nik\n{SITI}\n")).unwrap();
    let out = batch_command(&plain, &dir.join("out3.jsonl"))
        .args(["--request-id-column", "order"])
        .args(server.flags())
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("`order`"), "{}", stderr(&out));
    assert_eq!(server.request_ids().len(), before);
}
