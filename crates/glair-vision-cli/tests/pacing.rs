//! `glair-vision batch` against a `glair-vision sandbox` process that limits the
//! account (200 requests/s, burst 20) with a latency spread: no rate given, two
//! batch processes sharing the account both finish with no failed row, whether
//! they share its pacing (the default on one host) or pace apart.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::*;
use serde_json::Value;

/// `n` rows of fixture people (all answered 200: verified or not).
fn write_rows(path: &Path, n: usize) {
    let people = glair_vision_sandbox::fixtures();
    let mut text = String::from("nik,name\n");
    for i in 0..n {
        let p = &people[i % people.len()];
        text.push_str(&format!("{},{}\n", p.nik(), p.get(glair_vision::Field::Name).unwrap_or("")));
    }
    std::fs::write(path, text).unwrap();
}

/// The number after `label` in the summary.
fn figure(summary: &str, label: &str) -> u64 {
    let line = summary.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| {
        panic!("no {label:?} in {summary}");
    });
    line.trim_start()[label.len()..].split_whitespace().next().unwrap().parse().unwrap()
}

/// Two batch processes on one account, with `env` set for both; returns the
/// directory they were told to share pacing state in.
fn two_batch_processes(name: &str, env: &[(&str, &str)]) -> std::path::PathBuf {
    let sandbox = SandboxProcess::start(&[
        "--rate-limit",
        "200",
        "--burst",
        "20",
        "--latency-ms",
        "30",
        "--latency-spread-ms",
        "10",
    ]);
    let dir = scratch(name);
    let state_dir = dir.join("pacing-state");
    let n = 1000;
    let spawn = |name: &str| {
        let input = dir.join(format!("{name}.csv"));
        write_rows(&input, n);
        let output = dir.join(format!("{name}.jsonl"));
        let child = cli()
            .args(["batch", "--quiet", "--concurrency", "32", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&output)
            .args(sandbox.flags())
            .env("GLAIR_VISION_PACING_DIR", &state_dir)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (child, output)
    };
    let runs = [spawn("a"), spawn("b")];
    let mut throttled = 0;
    for (child, output) in runs {
        let out = child.wait_with_output().unwrap();
        let summary = stderr(&out);
        assert_eq!(code(&out), 0, "{summary}");
        eprintln!("{summary}");
        let lines: Vec<Value> = std::fs::read_to_string(&output)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), n);
        let failed: Vec<&Value> = lines.iter().filter(|l| l["outcome"] == "error").collect();
        assert!(failed.is_empty(), "{} failed rows, first {}", failed.len(), failed[0]);
        assert_eq!(figure(&summary, "calls billed"), n as u64, "{summary}");
        let seen = figure(&summary, "429s seen");
        assert_eq!(figure(&summary, "attempts"), n as u64 + seen, "only 429s were retried: {summary}");
        assert!(summary.contains("rate limit: auto"), "{summary}");
        throttled += seen;
    }
    // A small fraction of the attempts: the processes found the account's pace.
    assert!(throttled * 10 < 2 * n as u64, "{throttled} 429s for {} rows", 2 * n);
    state_dir
}

#[test]
fn two_batch_processes_sharing_one_account_and_its_pacing_both_finish_with_no_failed_rows() {
    let state_dir = two_batch_processes("pacing-two-shared", &[]);
    if cfg!(unix) {
        use std::os::unix::fs::PermissionsExt;
        // One private file for the account, named by a hash: no API key in it.
        let files: Vec<_> = std::fs::read_dir(&state_dir).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(std::fs::metadata(&state_dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777, 0o600);
        let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&files[0]).unwrap();
        for secret in [glair_vision_sandbox::DEFAULT_API_KEY, glair_vision_sandbox::DEFAULT_PASSWORD] {
            assert!(!name.contains(secret) && !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
        }
    }
}

#[test]
fn two_batch_processes_pacing_apart_both_finish_with_no_failed_rows() {
    let state_dir = two_batch_processes("pacing-two-apart", &[("GLAIR_VISION_SHARED_PACING", "0")]);
    assert!(!state_dir.exists(), "nothing written when sharing is off");
}

#[test]
fn a_fixed_rate_limit_is_a_ceiling_and_nonsense_is_refused() {
    let sandbox = SandboxProcess::start(&["--rate-limit", "200", "--burst", "20"]);
    let dir = scratch("pacing-fixed");
    let input = dir.join("in.csv");
    write_rows(&input, 100);
    let started = std::time::Instant::now();
    let out = cli()
        .args(["batch", "--quiet", "--concurrency", "64", "--rate-limit", "50", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(dir.join("out.jsonl"))
        .args(sandbox.flags())
        .output()
        .unwrap();
    let summary = stderr(&out);
    assert_eq!(code(&out), 0, "{summary}");
    // 100 starts at most 50 a second: at least 1.98 s; under the limit, no 429.
    assert!(started.elapsed().as_secs_f64() >= 1.9, "{:?}", started.elapsed());
    assert_eq!(figure(&summary, "429s seen"), 0, "{summary}");
    assert!(summary.contains("rate limit: at most 50 calls/s"), "{summary}");

    for bad in ["0", "-3", "fast", "NaN"] {
        let out = cli()
            .args(["batch", "--sandbox", &format!("--rate-limit={bad}"), "--input"])
            .arg(&input)
            .arg("--output")
            .arg(dir.join("never.jsonl"))
            .output()
            .unwrap();
        assert_eq!(code(&out), 2, "--rate-limit {bad}: {}", stderr(&out));
        assert!(stderr(&out).contains("auto"), "{}", stderr(&out));
    }
}

/// One batch, no rate given, against a sandbox whose gateway is `spec`: every
/// row done, and the summary's share of 429s and what it says of the account.
fn batch_against_gateway(name: &str, spec: &str, rows: usize) -> (String, f64) {
    let sandbox =
        SandboxProcess::start(&["--gateway", spec, "--latency-ms", "20", "--latency-spread-ms", "5"]);
    let dir = scratch(name);
    let input = dir.join("in.csv");
    write_rows(&input, rows);
    let output = dir.join("out.jsonl");
    let out = cli()
        .args(["batch", "--quiet", "--concurrency", "32", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(sandbox.flags())
        // A state of its own: no other test's account.
        .env("GLAIR_VISION_PACING_DIR", dir.join("pacing-state"))
        .output()
        .unwrap();
    let summary = stderr(&out);
    assert_eq!(code(&out), 0, "{spec}: {summary}");
    let lines = std::fs::read_to_string(&output).unwrap();
    assert_eq!(lines.lines().count(), rows, "{spec}: every row has its line");
    assert!(lines.lines().all(|l| !l.contains("\"error\"")), "{spec}: no failed row");
    let share = figure(&summary, "429s seen") as f64 / figure(&summary, "attempts") as f64;
    (summary, share)
}

#[test]
fn every_gateway_model_is_paced_with_no_failed_rows() {
    // Small limits, so the pacer meets each model's refusals within seconds.
    for (name, spec) in [
        ("gw-fixed", "model=fixed-window,limit=40,window=1s"),
        ("gw-sliding", "model=sliding-window,limit=40,window=1s,retry-after=absent"),
        ("gw-queue", "model=leaky-queue,rate=40,depth=10"),
        ("gw-bucket-date", "model=token-bucket,rate=40,burst=10,retry-after=date"),
    ] {
        let (summary, share) = batch_against_gateway(name, spec, 240);
        assert!(share < 0.2, "{spec}: {share:.3} of attempts throttled\n{summary}");
        assert!(summary.contains("account"), "{summary}");
    }
}

#[test]
fn with_rate_limit_headers_the_pacer_paces_from_them() {
    for headers in ["x-ratelimit", "kong", "ietf"] {
        let spec = format!("model=fixed-window,limit=40,window=1s,headers={headers}");
        let (summary, _) = batch_against_gateway(&format!("gw-headers-{headers}"), &spec, 160);
        assert!(summary.contains("from the gateway's rate-limit headers"), "{headers}: {summary}");
        // Paced from the first answer: at most the first second's calls are refused.
        assert!(figure(&summary, "429s seen") <= 40, "{headers}: {summary}");
    }
}

#[test]
fn a_gateway_spec_that_makes_no_sense_is_refused_with_its_reason() {
    for (bad, says) in [
        ("model=gcra,rate=5", "model must be"),
        ("model=fixed-window", "needs limit"),
        ("model=token-bucket,rate=5,headers=github", "headers must be"),
    ] {
        let out = cli().args(["sandbox", "--gateway", bad]).output().unwrap();
        assert_eq!(code(&out), 2, "{bad}: {}", stderr(&out));
        assert!(stderr(&out).contains(says), "{bad}: {}", stderr(&out));
    }
    let out = cli()
        .args(["sandbox", "--gateway", "model=token-bucket,rate=5", "--rate-limit", "5"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
}

/// Two batch processes on separate state (as on two hosts) sharing the account
/// through a real redis-server; then one whose store cannot be reached.
#[test]
fn batch_processes_share_one_pace_through_a_pacing_store_and_go_on_without_it() {
    let store = glair_vision_sandbox::redis::RedisServer::start("cli-store-pass-31f");
    let sandbox = SandboxProcess::start(&["--rate-limit", "150", "--burst", "10", "--latency-ms", "20"]);
    let dir = scratch("pacing-store");
    let n = 300;
    let spawn = |name: &str, url: &str, via_env: bool| {
        let input = dir.join(format!("{name}.csv"));
        write_rows(&input, n);
        let mut cmd = cli();
        cmd.args(["batch", "--quiet", "--concurrency", "16", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(dir.join(format!("{name}.jsonl")))
            .args(sandbox.flags())
            .env("GLAIR_VISION_PACING_DIR", dir.join(format!("{name}-state")))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if via_env {
            cmd.env("GLAIR_VISION_PACING_URL", url);
        } else {
            cmd.args(["--pacing-url", url]);
        }
        cmd.spawn().unwrap()
    };
    let url = store.url(0);
    let runs = [spawn("a", &url, false), spawn("b", &url, true)];
    for child in runs {
        let out = child.wait_with_output().unwrap();
        let summary = stderr(&out);
        assert_eq!(code(&out), 0, "{summary}");
        assert_eq!(figure(&summary, "calls billed"), n as u64, "{summary}");
        assert!(summary.contains("pacing store  one pace with 2 process(es)"), "{summary}");
        assert!(!summary.contains("cli-store-pass-31f"), "{summary}");
    }
    let keys = store.cli(0, &["--scan"]);
    assert!(keys.lines().all(|k| k.starts_with("glair-vision:pacing:{")), "{keys}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cut_off = format!("redis://:cli-store-pass-31f@127.0.0.1:{closed}/0");
    let out = spawn("c", &cut_off, false).wait_with_output().unwrap();
    let summary = stderr(&out);
    assert_eq!(code(&out), 0, "{summary}");
    assert_eq!(figure(&summary, "calls billed"), n as u64, "{summary}");
    assert_eq!(summary.matches("pacing store cut off").count(), 1, "one warning: {summary}");
    assert!(summary.contains("pacing store  cut off"), "{summary}");
    assert!(!summary.contains("cli-store-pass-31f"), "{summary}");
}
