//! `batch --input FOLDER`: the part files of a folder, as Spark and Dask write them,
//! read in name order as one table; resumable across parts like one file. Run as
//! the real binary against a sandbox on 127.0.0.1.

mod common;

use std::path::Path;

use common::*;
use glair_vision_sandbox::SandboxConfig;
use serde_json::Value;

const SITI: &str = "3171014508900001";

/// `parts` CSV part files (each with its header) of `per_part` rows, ids counting
/// across them; plus the files engines leave beside data.
fn write_parts(dir: &Path, parts: usize, per_part: usize) {
    std::fs::create_dir_all(dir.join("_temporary")).unwrap();
    std::fs::write(dir.join("_SUCCESS"), b"").unwrap();
    std::fs::write(dir.join("_temporary/part-9.csv"), b"nik\nnot-a-part\n").unwrap();
    for p in 0..parts {
        let mut text = String::from("customer_id,nik,name\n");
        for i in 0..per_part {
            text.push_str(&format!("{},{SITI},SITI RAHAYU\n", p * per_part + i));
        }
        std::fs::write(dir.join(format!("part-{p:05}.csv")), text).unwrap();
        std::fs::write(dir.join(format!(".part-{p:05}.csv.crc")), b"\x00crc").unwrap();
    }
}

/// (row, customer_id) of each JSONL output line, sorted by row.
fn rows_and_ids(path: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut got: Vec<(u64, u64)> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (v["row"].as_u64().unwrap(), v["keep"]["customer_id"].as_str().unwrap().parse().unwrap())
        })
        .collect();
    got.sort_unstable();
    got
}

#[test]
fn a_folder_is_its_parts_in_name_order_and_resumes_across_them() {
    let dir = scratch("parts");
    let input = dir.join("in");
    write_parts(&input, 4, 25);
    let output = dir.join("out.jsonl");
    let args = ["--keep", "customer_id", "--concurrency", "2"];

    // Killed in the second part; the re-run starts in it, not over.
    let killed = TestSandbox::start(SandboxConfig::default());
    kill_at(killed.batch(&input, &output, &args), "line:40", &dir.join("paused"));
    let ts = TestSandbox::start(SandboxConfig::default());
    let out = ts.batch(&input, &output, &args).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming: 40 of 100 rows"), "{}", stderr(&out));
    let resent = ts.sb().received().len();
    assert!((60..=62).contains(&resent), "{resent} calls after 40 of 100 rows were done");
    let expected: Vec<(u64, u64)> = (0..100).map(|i| (i + 1, i)).collect();
    assert_eq!(rows_and_ids(&output), expected, "row N is the N-th row across the parts, each once");

    // A dry run over the folder counts what is done.
    let out = run(&[
        "batch",
        "--dry-run",
        "--keep",
        "customer_id",
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let report = stdout_json(&out);
    assert_eq!(
        (report["rows"].as_u64(), report["already_done"].as_u64()),
        (Some(100), Some(100)),
        "{report}"
    );
}

#[test]
fn a_folder_of_mixed_or_no_parts_and_a_bad_part_are_refused_before_any_call() {
    let ts = TestSandbox::start(SandboxConfig::default());
    let dir = scratch("parts-bad");
    let mixed = dir.join("mixed");
    write_parts(&mixed, 2, 3);
    std::fs::write(mixed.join("part-00009.jsonl"), format!("{{\"nik\":\"{SITI}\"}}\n")).unwrap();
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("_SUCCESS"), b"").unwrap();
    // A later part whose header the mapping refuses: refused up front, like the first.
    let bad = dir.join("bad");
    write_parts(&bad, 2, 3);
    std::fs::write(bad.join("part-00002.csv"), format!("customer_id,nik,kota\n7,{SITI},Jakarta\n")).unwrap();
    for (input, says) in [(&mixed, "more than one format"), (&empty, "no part files"), (&bad, "`kota`")] {
        let out = ts.batch(input, &dir.join("out.jsonl"), &["--keep", "customer_id"]).output().unwrap();
        assert_eq!(code(&out), 2, "{}", stderr(&out));
        assert!(stderr(&out).contains(says), "{}: expected {says:?} in {}", input.display(), stderr(&out));
    }
    assert_eq!(ts.sb().received().len(), 0);
}
