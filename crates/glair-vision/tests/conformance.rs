//! Runs every case of `tests/conformance/*.json` against an in-process sandbox.

use std::path::PathBuf;
use std::time::Duration;

use glair_vision::{Error, Field, RequestOptions, VerificationRequest, Vision};
use glair_vision_sandbox::{parse_records_json, Sandbox, SandboxConfig};
use serde_json::{json, Value};

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

fn sandbox_config(spec: Option<&Value>) -> SandboxConfig {
    let mut config = SandboxConfig::default();
    let Some(spec) = spec else { return config };
    if let Some(records) = spec.get("records") {
        config.records = parse_records_json(&records.to_string()).expect("records");
    }
    if let Some(ms) = spec.get("slow_delay_ms").and_then(Value::as_u64) {
        config.slow_delay = Duration::from_millis(ms);
    }
    if let Some(t) = spec.get("match_threshold").and_then(Value::as_f64) {
        config.match_threshold = t;
    }
    config
}

fn request_of(case: &Value) -> VerificationRequest {
    let mut request = VerificationRequest::default();
    for (key, value) in case["request"].as_object().expect("request object") {
        let field = Field::from_wire_name(key).unwrap_or_else(|| panic!("unknown field {key}"));
        request.set(field, value.as_str().expect("string values"));
    }
    request
}

fn options_of(case: &Value) -> RequestOptions {
    let o = &case["options"];
    let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    RequestOptions {
        api_key: text("api_key"),
        username: text("username"),
        password: text("password"),
        base_url: text("base_url"),
        api_version: text("api_version"),
        timeout: o.get("timeout_ms").and_then(Value::as_u64).map(Duration::from_millis),
        max_retries: o.get("max_retries").and_then(Value::as_u64).map(|n| n as u32),
        ..Default::default()
    }
}

/// The outcome in the vectors' shape, so expectations compare key by key.
fn outcome_json(outcome: &Result<glair_vision::Verification, Error>) -> Value {
    match outcome {
        Ok(v) => json!({
            "verification_status": v.verification_status,
            "reason": v.reason,
            "result": v.result,
            "request_id": v.request_id,
        }),
        Err(e) => json!({
            "error": e.kind().code(),
            "status": e.status(),
            "reason": e.reason(),
            "request_id": e.request_id(),
            "field": e.validation().map(|v| v.field()),
            "retry_after": e.api().and_then(|a| a.retry_after).map(|d| d.as_secs()),
        }),
    }
}

fn check(case: &Value, got: &Value, attempts: usize, last_fields: Option<Value>) -> Vec<String> {
    let mut problems = Vec::new();
    let expect = case["expect"].as_object().expect("expect object");
    for (key, want) in expect {
        if key == "result" {
            for field in Field::ALL {
                let want = want.get(field.wire_name()).cloned().unwrap_or(Value::Null);
                let have = &got["result"][field.wire_name()];
                if *have != want {
                    problems.push(format!("result.{field}: want {want}, got {have}"));
                }
            }
        } else if got.get(key) != Some(want) {
            problems.push(format!("{key}: want {want}, got {}", got.get(key).unwrap_or(&Value::Null)));
        }
    }
    let has_status =
        !got.get("status").unwrap_or(&Value::Null).is_null() || expect.contains_key("verification_status");
    if has_status && got["request_id"].as_str().is_none_or(str::is_empty) {
        problems.push("no Request-Id".to_owned());
    }
    if let Some(sent) = case.get("sent") {
        if let Some(want) = sent.get("attempts").and_then(Value::as_u64) {
            if want as usize != attempts {
                problems.push(format!("attempts: want {want}, got {attempts}"));
            }
        }
        if let Some(want) = sent.get("fields") {
            if last_fields.as_ref() != Some(want) {
                problems.push(format!("sent fields: want {want}, got {last_fields:?}"));
            }
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_conformance_case_passes() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(conformance_dir())
        .expect("tests/conformance exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no conformance files");
    let (mut ran, mut failures) = (0, Vec::new());
    for file in files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let sandbox = Sandbox::start(sandbox_config(doc.get("sandbox"))).await.unwrap();
        let vision: Vision = sandbox.vision_builder().build().unwrap();
        for case in doc["cases"].as_array().expect("cases") {
            let before = sandbox.received().len();
            let outcome = vision.identity().verification_with(&request_of(case), &options_of(case)).await;
            let received = sandbox.received();
            let last_fields = received[before..]
                .last()
                .map(|r| Value::Object(r.fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect()));
            let problems = check(case, &outcome_json(&outcome), received.len() - before, last_fields);
            ran += 1;
            if !problems.is_empty() {
                failures.push(format!(
                    "{} / {}: {}",
                    file.file_name().unwrap().to_string_lossy(),
                    case["name"].as_str().unwrap_or("?"),
                    problems.join("; ")
                ));
            }
        }
        sandbox.stop().await;
    }
    assert!(ran >= 40, "only {ran} cases");
    assert!(failures.is_empty(), "{} of {ran} cases failed:\n{}", failures.len(), failures.join("\n"));
}
