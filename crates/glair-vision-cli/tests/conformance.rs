//! Runs every shared conformance vector (`tests/conformance/*.json`) through the
//! `verify` command against a sandbox: request fields become flags, per-call options
//! become client flags, and the JSON printed is checked against the expectation.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use glair_vision_sandbox::SandboxConfig;
use serde_json::Value;

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

fn sandbox_for(file: &Value) -> TestSandbox {
    let mut config = SandboxConfig::default();
    if let Some(sb) = file.get("sandbox") {
        if let Some(records) = sb.get("records") {
            config.records = glair_vision_sandbox::parse_records_json(&records.to_string()).expect("records");
        }
        if let Some(ms) = sb.get("slow_delay_ms").and_then(Value::as_u64) {
            config.slow_delay = Duration::from_millis(ms);
        }
        if let Some(t) = sb.get("match_threshold").and_then(Value::as_f64) {
            config.match_threshold = t;
        }
    }
    TestSandbox::start(config)
}

/// The `verify` arguments for a case.
fn args_for(ts: &TestSandbox, case: &Value) -> Vec<String> {
    let mut args = vec!["verify".to_owned()];
    for (key, value) in case["request"].as_object().expect("request object") {
        args.push(format!("--{}", key.replace('_', "-")));
        args.push(value.as_str().expect("request values are strings").to_owned());
    }
    let creds = ts.sb().credentials();
    let options = case.get("options").cloned().unwrap_or(Value::Null);
    let opt = |k: &str| options.get(k).and_then(Value::as_str).map(str::to_owned);
    let mut flag = |name: &str, value: String| {
        args.push(format!("--{name}"));
        args.push(value);
    };
    flag("base-url", opt("base_url").unwrap_or_else(|| ts.url()));
    flag("api-key", opt("api_key").unwrap_or_else(|| creds.api_key.clone()));
    flag("username", opt("username").unwrap_or_else(|| creds.username.clone()));
    flag("password", opt("password").unwrap_or_else(|| creds.password.clone()));
    if let Some(v) = opt("api_version") {
        flag("api-version", v);
    }
    if let Some(n) = options.get("max_retries").and_then(Value::as_u64) {
        flag("max-retries", n.to_string());
    }
    if let Some(ms) = options.get("timeout_ms").and_then(Value::as_u64) {
        flag("timeout", format!("{}", ms as f64 / 1000.0));
    }
    args
}

fn check_case(ts: &TestSandbox, file: &str, case: &Value) -> Result<(), String> {
    let name = format!("{file}: {}", case["name"].as_str().unwrap_or("?"));
    let before = ts.sb().received().len();
    let out = cli().args(args_for(ts, case)).output().unwrap();
    let printed: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{name}: stdout is not JSON ({e}); stderr: {}", stderr(&out)))?;
    let expect = &case["expect"];
    let exit = code(&out);
    let fail = |what: String| Err(format!("{name}: {what}\nprinted: {printed}\nstderr: {}", stderr(&out)));
    if let Some(kind) = expect.get("error") {
        let e = &printed["error"];
        if &e["kind"] != kind {
            return fail(format!("expected error {kind}"));
        }
        let want_exit = if kind == "validation" { 2 } else { 3 };
        if exit != want_exit {
            return fail(format!("exit code {exit}, expected {want_exit}"));
        }
        for key in ["status", "reason", "field"] {
            if let Some(v) = expect.get(key) {
                if &e[key] != v {
                    return fail(format!("{key} is {}, expected {v}", e[key]));
                }
            }
        }
        if !e["status"].is_null() && !e["request_id"].is_string() {
            return fail("an API error without a Request-Id".into());
        }
    } else {
        let want_exit = if expect["verification_status"] == true { 0 } else { 1 };
        if exit != want_exit {
            return fail(format!("exit code {exit}, expected {want_exit}"));
        }
        for key in ["verification_status", "reason"] {
            if let Some(v) = expect.get(key) {
                if &printed[key] != v {
                    return fail(format!("{key} is {}, expected {v}", printed[key]));
                }
            }
        }
        if let Some(expected) = expect.get("result").and_then(Value::as_object) {
            for (field, got) in printed["result"].as_object().expect("result") {
                let want = expected.get(field).unwrap_or(&Value::Null);
                if got != want {
                    return fail(format!("result.{field} is {got}, expected {want}"));
                }
            }
        }
        if !printed["request_id"].is_string() {
            return fail("a result without a Request-Id".into());
        }
    }
    if let Some(sent) = case.get("sent") {
        let received = ts.sb().received();
        let attempts = received.len() - before;
        if let Some(want) = sent.get("attempts").and_then(Value::as_u64) {
            if attempts as u64 != want {
                return fail(format!("{attempts} requests reached the sandbox, expected {want}"));
            }
        }
        if let Some(fields) = sent.get("fields").and_then(Value::as_object) {
            let last = received.last().ok_or_else(|| format!("{name}: nothing was sent"))?;
            let got: serde_json::Map<String, Value> =
                last.fields.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            if &got != fields {
                return fail(format!("sent fields {got:?}, expected {fields:?}"));
            }
            if !last.user_agent.as_deref().unwrap_or_default().contains("(cli)") {
                return fail(format!("user agent {:?}", last.user_agent));
            }
        }
    }
    Ok(())
}

#[test]
fn every_conformance_vector_passes_through_the_cli() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(vectors_dir())
        .expect("tests/conformance exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    let mut count = 0;
    for path in files {
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let ts = sandbox_for(&file);
        let fname = path.file_name().unwrap().to_string_lossy().into_owned();
        for case in file["cases"].as_array().expect("cases") {
            count += 1;
            if let Err(e) = check_case(&ts, &fname, case) {
                failures.push(e);
            }
        }
    }
    assert!(count >= 40, "only {count} cases");
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n\n"));
}
