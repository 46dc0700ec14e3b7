//! The `verify`, `nik` and `sandbox` commands, run as the real binary against a
//! sandbox on 127.0.0.1.

mod common;

use std::process::Command;

use common::*;
use glair_vision_sandbox::SandboxConfig;
use serde_json::Value;

const SITI: &str = "3171014508900001";

fn assert_request_id(v: &Value) {
    let id = v["request_id"].as_str().unwrap_or_default();
    assert!(!id.is_empty(), "a Request-Id is shown: {v}");
}

#[test]
fn verify_sandbox_reproduces_every_documented_response() {
    struct Case {
        args: &'static [&'static str],
        exit: i32,
        status: Option<bool>,
        reason: &'static str,
        result: &'static [(&'static str, Value)],
    }
    let cases = [
        Case {
            args: &["--nik", SITI, "--name", "SITI RAHAYU", "--date-of-birth", "05-08-1990"],
            exit: 0,
            status: Some(true),
            reason: "Verification Success",
            result: &[
                ("nik", Value::Bool(true)),
                ("name", Value::Bool(true)),
                ("date_of_birth", Value::Bool(true)),
            ],
        },
        Case {
            args: &["--nik", "3171011001909999", "--name", "SITI RAHAYU"],
            exit: 1,
            status: Some(false),
            reason: "NIK not found on Dukcapil database",
            result: &[("nik", Value::Bool(false)), ("name", Value::Null)],
        },
        Case {
            args: &["--nik", SITI, "--name", "BUDI SANTOSO", "--date-of-birth", "05-08-1990"],
            exit: 1,
            status: Some(false),
            reason: "Name does not match",
            result: &[
                ("nik", Value::Bool(true)),
                ("name", Value::Bool(false)),
                ("date_of_birth", Value::Bool(true)),
            ],
        },
        Case {
            args: &["--nik", SITI, "--name", "SITI RAHAYU", "--date-of-birth", "1990-08-06"],
            exit: 1,
            status: Some(false),
            reason: "Date of birth does not match",
            result: &[("name", Value::Bool(true)), ("date_of_birth", Value::Bool(false))],
        },
        Case {
            args: &["--nik", "3171011001909400", "--name", "X"],
            exit: 3,
            status: None,
            reason: "Invalid NIK number format",
            result: &[],
        },
        Case {
            args: &["--nik", "3171011001909503", "--name", "X", "--max-retries", "0"],
            exit: 3,
            status: None,
            reason: "Something wrong in Dukcapil server",
            result: &[],
        },
    ];
    for case in cases {
        let mut args = vec!["verify", "--sandbox"];
        args.extend_from_slice(case.args);
        let out = run(&args);
        assert_eq!(code(&out), case.exit, "{args:?}: {}", stderr(&out));
        let v = stdout_json(&out);
        match case.status {
            Some(status) => {
                assert_eq!(v["verification_status"], status, "{v}");
                assert_eq!(v["reason"], case.reason);
                assert_request_id(&v);
                let result = v["result"].as_object().unwrap();
                assert_eq!(result.len(), 16, "all 16 fields are shown");
                for (field, expected) in case.result {
                    assert_eq!(&result[*field], expected, "{field} in {v}");
                }
                assert!(result["address"].is_null(), "unsent fields are null");
            }
            None => {
                let e = &v["error"];
                assert_eq!(e["reason"], case.reason, "{v}");
                assert_request_id(e);
                let (kind, status) = if case.reason.starts_with("Invalid") {
                    ("bad_request", 400)
                } else {
                    ("service_unavailable", 503)
                };
                assert_eq!(e["kind"], kind);
                assert_eq!(e["status"], status);
                assert!(
                    stderr(&out).contains(e["request_id"].as_str().unwrap()),
                    "stderr names the Request-Id"
                );
                assert_eq!(stderr(&out).trim().lines().count(), 1, "one-line human message");
            }
        }
    }
}

#[test]
fn verify_sends_every_field_as_multipart_with_the_cli_user_agent() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let mut args: Vec<String> = ["verify", "--nik", SITI].map(String::from).to_vec();
    let fields = [
        ("--name", "Siti  Rahayu"),
        ("--date-of-birth", "05/08/1990"),
        ("--no-kk", "3171010101100001"),
        ("--mother-maiden-name", "AMINAH"),
        ("--place-of-birth", "JAKARTA"),
        ("--address", "JL. MERDEKA NO. 1"),
        ("--gender", "P"),
        ("--marital-status", "married"),
        ("--job-type", "KARYAWAN SWASTA"),
        ("--province", "DKI JAKARTA"),
        ("--city", "JAKARTA PUSAT"),
        ("--district", "GAMBIR"),
        ("--subdistrict", "GAMBIR"),
        ("--rt", "1"),
        ("--rw", "2"),
    ];
    for (flag, value) in fields {
        args.push(flag.into());
        args.push(value.into());
    }
    args.extend(ts.flags());
    let out = cli().args(&args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v = stdout_json(&out);
    assert_eq!(v["reason"], "Verification Success");
    assert!(v["result"].as_object().unwrap().values().all(|b| b == true), "{v}");
    let received = ts.sb().received();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert!(r.content_type.starts_with("multipart/form-data"), "{}", r.content_type);
    assert!(r.user_agent.as_deref().unwrap_or_default().contains("(cli)"), "{:?}", r.user_agent);
    assert_eq!(r.fields.len(), 16);
    assert_eq!(r.field("date_of_birth"), Some("05-08-1990"));
    assert_eq!(r.field("rt"), Some("001"));
    assert_eq!(r.field("gender"), Some("PEREMPUAN"));
    assert_eq!(r.field("marital_status"), Some("KAWIN"));
}

#[test]
fn verify_takes_credentials_from_the_environment_and_sends_only_the_fields_set() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let c = ts.sb().credentials().clone();
    let out = cli()
        .args(["verify", "--nik", "3273012305850002", "--name", "BUDI SANTOSO"])
        .env("GLAIR_BASE_URL", ts.url())
        .env("GLAIR_API_KEY", &c.api_key)
        .env("GLAIR_USERNAME", &c.username)
        .env("GLAIR_PASSWORD", &c.password)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let received = ts.sb().received();
    assert_eq!(received.len(), 1);
    let names: Vec<&str> = received[0].fields.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["nik", "name"]);
    // Wrong password: a typed authentication error, exit 3.
    let out = cli()
        .args(["verify", "--nik", SITI, "--base-url", &ts.url(), "--api-key", &c.api_key])
        .args(["--username", &c.username, "--password", "wrong-password"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 3);
    assert_eq!(stdout_json(&out)["error"]["kind"], "authentication");
    assert_eq!(stdout_json(&out)["error"]["status"], 401);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(!all.contains("wrong-password") && !all.contains(&c.api_key) && !all.contains(SITI));
}

#[test]
fn verify_refuses_without_credentials_and_never_falls_back_to_the_sandbox() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let out = run(&["verify", "--nik", SITI, "--name", "SITI RAHAYU", "--base-url", &ts.url()]);
    assert_eq!(code(&out), 4, "{}", stderr(&out));
    let e = &stdout_json(&out)["error"];
    assert_eq!(e["kind"], "configuration");
    assert!(e["message"].as_str().unwrap().contains("GLAIR_API_KEY"), "{e}");
    assert!(stderr(&out).contains("--sandbox"), "the message says how to fix it");
    // Only some credentials: still refused.
    let out = run(&["verify", "--nik", SITI, "--base-url", &ts.url(), "--api-key", "k", "--username", "u"]);
    assert_eq!(code(&out), 4);
    assert!(ts.sb().received().is_empty(), "nothing was sent");
}

#[test]
fn verify_validates_before_sending() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let bad: [(&[&str], &str); 6] = [
        (&["--nik", "317101450890000"], "nik"),
        (&["--nik", "9971014508900001"], "nik"),
        (&["--nik", SITI, "--date-of-birth", "31-02-1990"], "date_of_birth"),
        (&["--nik", SITI, "--date-of-birth", "01-01-2999"], "date_of_birth"),
        (&["--nik", SITI, "--rt", "1234"], "rt"),
        (&["--nik", SITI, "--gender", "X"], "gender"),
    ];
    for (args, field) in bad {
        let out = cli().arg("verify").args(args).args(ts.flags()).output().unwrap();
        assert_eq!(code(&out), 2, "{args:?}");
        let e = &stdout_json(&out)["error"];
        assert_eq!(e["kind"], "validation");
        assert_eq!(e["field"], field, "{e}");
        assert!(e["status"].is_null() && e["request_id"].is_null());
    }
    // Bad input is reported as such even without credentials.
    let out = run(&["verify", "--nik", "123"]);
    assert_eq!(code(&out), 2);
    assert!(ts.sb().received().is_empty(), "no request reached the sandbox");
}

#[test]
fn verify_reports_fault_kinds_and_retries() {
    let cases: [(&str, &[&str], i32, &str); 5] = [
        ("3171011001909001", &[], 0, ""),
        ("3171011001909429", &["--max-retries", "0"], 3, "rate_limited"),
        ("3171011001909502", &["--max-retries", "0"], 3, "server"),
        ("3171011001909403", &[], 3, "permission_denied"),
        ("3171011001909200", &[], 3, "decode"),
    ];
    for (nik, extra, exit, kind) in cases {
        let out = cli().args(["verify", "--sandbox", "--nik", nik]).args(extra).output().unwrap();
        assert_eq!(code(&out), exit, "{nik}: {}", stderr(&out));
        let v = stdout_json(&out);
        if exit == 0 {
            assert_eq!(v["reason"], "Verification Success");
        } else {
            assert_eq!(v["error"]["kind"], kind, "{v}");
            assert!(v["error"]["status"].is_u64());
        }
    }
}

#[test]
fn verify_shows_nik_consistency_only_when_it_disagrees() {
    let out = run(&["verify", "--sandbox", "--nik", SITI, "--date-of-birth", "05-08-1990", "--gender", "P"]);
    assert_eq!(code(&out), 0);
    assert!(stdout_json(&out).get("nik_consistency").is_none());
    let out = run(&["verify", "--sandbox", "--nik", SITI, "--gender", "LAKI-LAKI"]);
    assert_eq!(code(&out), 1, "the sandbox checks the gender");
    let v = stdout_json(&out);
    assert_eq!(v["nik_consistency"]["gender"], false, "{v}");
    assert!(v["nik_consistency"]["date_of_birth"].is_null());
}

#[test]
fn sandbox_flag_conflicts_with_credentials_flags() {
    let out = run(&["verify", "--sandbox", "--nik", SITI, "--api-key", "k"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn logging_is_off_by_default_and_never_shows_personal_data() {
    let out = run(&["verify", "--sandbox", "--nik", SITI, "--name", "SITI RAHAYU"]);
    assert_eq!(code(&out), 0);
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    let out = cli()
        .args(["verify", "--sandbox", "--nik", SITI, "--name", "SITI RAHAYU"])
        .env("GLAIR_LOG", "debug")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0);
    let err = stderr(&out);
    assert!(err.contains("317101******0001"), "debug logs reach stderr: {err}");
    for secret in [SITI, "SITI RAHAYU", "sandbox-password", "sandbox-api-key"] {
        assert!(!err.contains(secret), "logs leak {secret}: {err}");
    }
}

#[test]
fn nik_parses_offline() {
    let out = run(&["nik", "3171-0145-0890-0001", "--date-of-birth", "05-08-1990", "--gender", "L"]);
    assert_eq!(code(&out), 0);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("province code  31"), "{text}");
    assert!(text.contains("regency code   71"));
    assert!(text.contains("district code  01"));
    assert!(text.contains("region code    317101"));
    assert!(text.contains("birth date     1990-08-05"));
    assert!(text.contains("gender         PEREMPUAN"));
    assert!(text.contains("serial         0001"));
    assert!(text.contains("gender check   DOES NOT match"));
    assert!(text.contains("consistent     no"));
    assert!(!text.contains(SITI), "the NIK is shown masked");

    let out = run(&["nik", "3273012305850002", "--json"]);
    assert_eq!(code(&out), 0);
    let v = stdout_json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["nik"], "327301******0002");
    assert_eq!(v["birth_date"], "1985-05-23");
    assert_eq!(v["gender"], "LAKI-LAKI");
    assert_eq!(v["serial"], "0002");
    assert_eq!(v["consistency"]["consistent"], true);

    for bad in ["123", "3171013208900001", "9971014508900001", "3171014508900000"] {
        let out = run(&["nik", bad]);
        assert_eq!(code(&out), 2, "{bad}");
        assert!(stderr(&out).contains("invalid nik"), "{}", stderr(&out));
    }
    let out = run(&["nik", "123", "--json"]);
    assert_eq!(code(&out), 2);
    assert_eq!(stdout_json(&out)["error"]["field"], "nik");
    let out = run(&["nik", SITI, "--date-of-birth", "31-02-1990"]);
    assert_eq!(code(&out), 2);
}

#[test]
fn every_command_has_help_with_exit_codes() {
    for cmd in ["verify", "batch", "nik", "sandbox"] {
        let out = run(&[cmd, "--help"]);
        assert_eq!(code(&out), 0, "{cmd}");
        assert!(!out.stdout.is_empty());
    }
    let help = String::from_utf8_lossy(&run(&["verify", "--help"]).stdout).into_owned();
    assert!(
        help.contains("Exit codes") && help.contains("not verified") && help.contains("--mother-maiden-name")
    );
    let help = String::from_utf8_lossy(&run(&["batch", "--help"]).stdout).into_owned();
    assert!(help.contains("Exit codes") && help.contains("interrupted") && help.contains("--rate-limit"));
}

#[test]
fn sandbox_command_serves_until_terminated() {
    let (mut child, url, mut lines) =
        spawn_sandbox(&["--synthetic", "5", "--api-key", "k1", "--username", "u1", "--password", "p1"]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let rest: Vec<String> = lines
        .by_ref()
        .take_while(|l| l.as_ref().is_ok_and(|l| !l.starts_with("press")))
        .map(Result::unwrap)
        .collect();
    let rest = rest.join("\n");
    assert!(rest.contains("k1") && rest.contains("u1") && rest.contains("p1"), "{rest}");
    assert!(rest.contains(SITI) && rest.contains("3273012305850002") && rest.contains("5171031212920003"));

    let out = cli()
        .args(["verify", "--nik", SITI, "--name", "SITI RAHAYU", "--base-url", &url])
        .args(["--api-key", "k1", "--username", "u1", "--password", "p1"])
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["reason"], "Verification Success");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "stops cleanly on SIGTERM");
}

/// Progress and summaries go to stderr, results of `verify`/`nik` to stdout;
/// a reader that goes away (`2>&1 | head`) must neither stop a batch halfway
/// nor turn a finished command into a crash (Rust's print macros panic then).
#[test]
fn a_reader_that_goes_away_stops_nothing() {
    use std::process::Stdio;
    let dir = scratch("gone-reader");
    let (input, output) = (dir.join("in.csv"), dir.join("out.jsonl"));
    let rows = 300;
    std::fs::write(&input, format!("nik,name\n{}", format!("{SITI},SITI RAHAYU\n").repeat(rows))).unwrap();
    let mut batch = batch_command(&input, &output)
        .args(["--sandbox", "--progress-interval", "0.001"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(batch.stderr.take()); // the reader is gone before the first progress line
    let status = batch.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(std::fs::read_to_string(&output).unwrap().lines().count(), rows, "every row done");

    for args in [vec!["verify", "--sandbox", "--nik", SITI], vec!["nik", SITI]] {
        let mut child = cli().args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
    }
}

/// Runs the binary, killing it if it has not exited within 20 s (a flag
/// accepted by mistake would leave `sandbox` serving).
fn run_bounded(args: &[String]) -> std::process::Output {
    use std::time::{Duration, Instant};
    let mut child = cli()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn flags_outside_their_ranges_are_usage_errors_naming_the_flag() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("ranges");
    let input = dir.join("in.csv");
    std::fs::write(&input, format!("nik\n{SITI}\n")).unwrap();
    let output = dir.join("out.jsonl");
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let verify = |flag: &str, value: &str| {
        // `--flag=value`: a negative value is then a value, not a flag.
        let mut args: Vec<String> =
            vec!["verify".into(), "--nik".into(), SITI.into(), format!("{flag}={value}")];
        args.extend(ts.flags());
        args
    };
    let batch = |flag: &str, value: &str| {
        let mut args: Vec<String> = vec!["batch".into(), "--input".into(), path(&input)];
        args.extend(["--output".into(), path(&output), format!("{flag}={value}")]);
        args.extend(ts.flags());
        args
    };
    let sandbox = |flag: &str, value: &str| -> Vec<String> {
        vec!["sandbox".into(), "--port".into(), "0".into(), format!("{flag}={value}")]
    };
    let mut cases: Vec<(Vec<String>, &str)> = Vec::new();
    for value in
        ["4097", "65537", "1000000", "2147483648", "4611686018427387904", "0", "-1", "1.5", "NaN", "inf"]
    {
        cases.push((batch("--concurrency", value), "--concurrency"));
    }
    for value in ["101", "4294967296", "-1", "1.5"] {
        cases.push((verify("--max-retries", value), "--max-retries"));
        cases.push((batch("--max-retries", value), "--max-retries"));
    }
    for flag in ["--timeout", "--connect-timeout", "--deadline"] {
        for value in ["0", "-1", "0.0009", "86400.5", "1e9", "NaN", "inf"] {
            cases.push((verify(flag, value), flag));
        }
    }
    for value in ["0", "-1", "0.0009", "0.00001", "1000001", "NaN", "inf", "fast"] {
        cases.push((batch("--rate-limit", value), "--rate-limit"));
    }
    for value in ["-1", "86401", "NaN"] {
        cases.push((batch("--grace", value), "--grace"));
    }
    for value in ["0", "86401"] {
        cases.push((batch("--progress-interval", value), "--progress-interval"));
    }
    for value in ["100001", "1099511627776", "-1"] {
        cases.push((sandbox("--synthetic", value), "--synthetic"));
    }
    for (flag, value) in [
        ("--burst", "0"),
        ("--burst", "1000001"),
        ("--latency-ms", "86400001"),
        ("--latency-spread-ms", "18446744073709551615"),
        ("--slow-delay-ms", "86400001"),
        ("--rate-limit", "1000001"),
    ] {
        cases.push((sandbox(flag, value), flag));
    }
    for (args, flag) in cases {
        let out = run_bounded(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag) && err.contains("must be"), "{args:?}: {err}");
    }
    assert!(!output.exists(), "no batch ran");
    assert!(ts.sb().received().is_empty(), "nothing was sent");
    // The ends of the ranges are accepted.
    let mut args = verify("--max-retries", "100");
    args.extend(["--timeout", "86400", "--deadline", "0.5", "--connect-timeout", "0.001"].map(String::from));
    let out = run_bounded(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut args = batch("--concurrency", "4096");
    args.extend(["--rate-limit", "1000000", "--grace", "0", "--max-retries", "0"].map(String::from));
    let out = run_bounded(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
