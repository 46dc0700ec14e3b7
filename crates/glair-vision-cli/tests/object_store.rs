//! `batch` reading and writing an S3-compatible object store: one object and a
//! prefix of part files in, an object out (written only when complete), a kill
//! mid-run resumed from the staging copy, a complete output not called again,
//! credentials from a profile, and the usage errors. Run as the real binary
//! against a sandbox and a real S3 server (moto, in a venv this test makes under
//! target/ on first use), both on 127.0.0.1 with ephemeral ports.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt64Type};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field as ArrowField, Schema};
use common::*;
use glair_vision_sandbox::SandboxConfig;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

const SITI: &str = "3171014508900001";
const BUDI: &str = "3273012305850002";

/// The moto server of this test binary, shared by its tests (each has a bucket of
/// its own). It exits when this process does: it watches its stdin.
struct S3 {
    endpoint: String,
    _process: Mutex<(Child, ChildStdin)>,
}

const LAUNCHER: &str = r#"
import sys, threading, os
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server._server.server_port, flush=True)
sys.stdin.read()  # until the test process is gone
os._exit(0)
"#;

/// A venv with moto's server under target/, made once.
fn moto_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("moto-venv");
    let python = venv.join("bin").join("python");
    let ready = venv.join(".installed");
    if ready.exists() {
        return python;
    }
    let ok = |cmd: &mut Command| cmd.status().is_ok_and(|s| s.success());
    assert!(
        ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)),
        "python3 -m venv {}",
        venv.display()
    );
    assert!(
        ok(Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "moto[server]>=5,<6"
        ])),
        "pip install moto[server] into {}",
        venv.display()
    );
    std::fs::write(&ready, b"").unwrap();
    python
}

fn s3() -> &'static S3 {
    static SERVER: OnceLock<S3> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut child = Command::new(moto_python())
            .args(["-c", LAUNCHER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut port).unwrap();
        let port: u16 = port.trim().parse().unwrap_or_else(|_| panic!("moto printed its port, not {port:?}"));
        let stdin = child.stdin.take().unwrap();
        S3 { endpoint: format!("http://127.0.0.1:{port}"), _process: Mutex::new((child, stdin)) }
    })
}

impl S3 {
    /// A new bucket (moto takes an unsigned CreateBucket).
    fn bucket(&self, name: &str) -> Bucket {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = TcpStream::connect(address).unwrap();
        write!(
            stream,
            "PUT /{name} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "create bucket {name}: {answer}");
        let store = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_bucket_name(name)
            .with_region("us-east-1")
            .with_access_key_id("testing")
            .with_secret_access_key("testing")
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        Bucket { name: name.to_owned(), store: Arc::new(store), runtime }
    }
}

struct Bucket {
    name: String,
    store: Arc<AmazonS3>,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    fn url(&self, key: &str) -> PathBuf {
        PathBuf::from(format!("s3://{}/{key}", self.name))
    }

    fn put(&self, key: &str, bytes: Vec<u8>) {
        self.runtime.block_on(self.store.put(&ObjectPath::from(key), PutPayload::from(bytes))).unwrap();
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.runtime.block_on(self.store.get(&ObjectPath::from(key))) {
            Ok(got) => Some(self.runtime.block_on(got.bytes()).unwrap().to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("get {key}: {e}"),
        }
    }
}

/// The binary with the S3 settings of the AWS convention: endpoint and keys.
fn with_s3(mut cmd: Command) -> Command {
    cmd.env("AWS_ENDPOINT_URL", &s3().endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE");
    cmd
}

/// A Parquet file of `ids` (customer_id) with SITI's NIK and name on even ids and
/// BUDI's NIK with a name that does not match on odd ones.
fn parquet(ids: std::ops::Range<i64>) -> Vec<u8> {
    let schema = Arc::new(Schema::new(vec![
        ArrowField::new("customer_id", DataType::Int64, false),
        ArrowField::new("nik", DataType::Utf8, false),
        ArrowField::new("name", DataType::Utf8, false),
    ]));
    let nik: Vec<&str> = ids.clone().map(|i| if i % 2 == 0 { SITI } else { BUDI }).collect();
    let name: Vec<&str> = ids.clone().map(|i| if i % 2 == 0 { "SITI RAHAYU" } else { "BUDI" }).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(ids)),
        Arc::new(StringArray::from(nik)),
        Arc::new(StringArray::from(name)),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, schema, None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

/// (row, customer_id, outcome) of a Parquet output.
fn rows(bytes: Vec<u8>) -> Vec<(u64, i64, String)> {
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes)).unwrap().build().unwrap();
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let id = batch.column_by_name("customer_id").unwrap().as_primitive::<Int64Type>().clone();
        let row = batch.column_by_name("row").unwrap().as_primitive::<UInt64Type>().clone();
        let outcome = batch.column_by_name("outcome").unwrap().as_string::<i32>().clone();
        for i in 0..batch.num_rows() {
            out.push((row.value(i), id.value(i), outcome.value(i).to_owned()));
        }
    }
    out
}

fn lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

#[test]
fn a_prefix_of_part_files_is_one_table_and_the_output_one_object() {
    let bucket = s3().bucket("parts");
    // Spark's layout: part files in name order, a marker and a checksum that are not data.
    bucket.put("in/part-00000.snappy.parquet", parquet(0..5));
    bucket.put("in/part-00001.snappy.parquet", parquet(5..7));
    bucket.put("in/part-00002.snappy.parquet", parquet(7..12));
    bucket.put("in/_SUCCESS", Vec::new());
    bucket.put("in/.part-00000.snappy.parquet.crc", b"not parquet".to_vec());
    let ts = TestSandbox::start(SandboxConfig::default());
    let staging = scratch("s3-parts");
    let args = ["--keep", "customer_id", "--staging-dir", staging.to_str().unwrap()];
    let out =
        with_s3(ts.batch(&bucket.url("in/"), &bucket.url("out/result.parquet"), &args)).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("uploaded s3://parts/out/result.parquet"), "{}", stderr(&out));
    let got = rows(bucket.get("out/result.parquet").expect("the output object exists"));
    let expected: Vec<(u64, i64)> = (0..12).map(|i| (i as u64 + 1, i)).collect();
    assert_eq!(
        got.iter().map(|(r, id, _)| (*r, *id)).collect::<Vec<_>>(),
        expected,
        "rows numbered across parts"
    );
    assert!(
        got.iter().all(|(_, id, o)| o == if id % 2 == 0 { "verified" } else { "not_verified" }),
        "{got:?}"
    );
    assert_eq!(ts.sb().received().len(), 12);
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0, "the staging copy and the spool are gone");

    // The same without the trailing slash, and one object as the input; CSV out.
    let out = with_s3(ts.batch(&bucket.url("in"), &bucket.url("out/again.csv"), &args)).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(lines(&bucket.get("out/again.csv").unwrap()), 13, "a header and 12 rows");
    let one = bucket.url("in/part-00001.snappy.parquet");
    let out = with_s3(ts.batch(&one, &bucket.url("out/one.jsonl"), &args)).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = String::from_utf8(bucket.get("out/one.jsonl").unwrap()).unwrap();
    assert_eq!(lines(text.as_bytes()), 2);
    assert!(text.contains(r#""customer_id":5"#) && text.contains(r#""customer_id":6"#), "{text}");
}

#[test]
fn an_interrupted_output_stays_staged_then_resumes_and_a_complete_one_is_not_called_again() {
    let bucket = s3().bucket("resume");
    let n = 120;
    let mut csv = String::from("customer_id,nik,name\n");
    for i in 0..n {
        let (nik, name) = if i % 2 == 0 { (SITI, "SITI RAHAYU") } else { (BUDI, "BUDI SANTOSO") };
        csv.push_str(&format!("{i},{nik},{name}\n"));
    }
    bucket.put("in.csv", csv.into_bytes());
    let staging = scratch("s3-resume");
    let args = ["--keep", "customer_id", "--concurrency", "2", "--staging-dir", staging.to_str().unwrap()];
    let (input, output) = (bucket.url("in.csv"), bucket.url("out.jsonl"));

    let killed = TestSandbox::start(SandboxConfig::default());
    kill_at(with_s3(killed.batch(&input, &output, &args)), "line:30", &staging.join("paused"));
    assert_eq!(bucket.get("out.jsonl"), None, "no object before every row has an outcome");
    let staged: Vec<PathBuf> = walk(&staging).into_iter().filter(|p| p.ends_with("out.jsonl")).collect();
    assert_eq!(staged.len(), 1, "{staged:?}");
    assert_eq!(lines(&std::fs::read(&staged[0]).unwrap()), 30);

    // The next run resumes from the staging copy, against a sandbox of its own (the
    // killed run's calls in flight may still reach the first).
    let ts = TestSandbox::start(SandboxConfig::default());
    let out = with_s3(ts.batch(&input, &output, &args)).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stderr(&out).contains("resuming"), "{}", stderr(&out));
    let resent = ts.sb().received().len();
    assert!((n - 30..=n - 30 + 2).contains(&resent), "{resent} calls after 30 of {n} rows were done");
    let text = String::from_utf8(bucket.get("out.jsonl").unwrap()).unwrap();
    let mut seen: Vec<u64> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["row"].as_u64().unwrap())
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (1..=n as u64).collect::<Vec<_>>(), "every row once");
    assert!(walk(&staging).is_empty(), "staging removed once uploaded: {:?}", walk(&staging));

    // Elsewhere (a fresh staging dir): the complete object is fetched, nothing is called.
    let elsewhere = scratch("s3-resume-elsewhere");
    let args = ["--keep", "customer_id", "--staging-dir", elsewhere.to_str().unwrap()];
    let again = TestSandbox::start(SandboxConfig::default());
    let out = with_s3(again.batch(&input, &output, &args)).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(again.sb().received().len(), 0, "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("uploaded"),
        "an unchanged output is not uploaded again: {}",
        stderr(&out)
    );
    assert_eq!(bucket.get("out.jsonl").unwrap(), text.as_bytes());
    assert!(walk(&elsewhere).is_empty());

    // A dry run counts the rows done in the object and leaves nothing behind.
    let mut dry = with_s3(cli());
    dry.args(["batch", "--dry-run", "--keep", "customer_id", "--staging-dir", elsewhere.to_str().unwrap()]);
    dry.arg("--input").arg(&input).arg("--output").arg(&output);
    let out = dry.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["already_done"], n, "{}", String::from_utf8_lossy(&out.stdout));
    assert!(walk(&elsewhere).is_empty());
}

#[test]
fn credentials_from_a_profile_and_the_default_staging_dir() {
    let bucket = s3().bucket("profile");
    bucket.put("in.jsonl", format!("{{\"nik\":\"{SITI}\",\"name\":\"SITI RAHAYU\"}}\n").into_bytes());
    let home = scratch("s3-profile");
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::write(
        home.join(".aws/credentials"),
        "[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[kyc]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    std::fs::write(home.join(".aws/config"), "[profile kyc]\nregion = us-east-1\n").unwrap();
    let ts = TestSandbox::start(SandboxConfig::default());
    let mut cmd = ts.batch(&bucket.url("in.jsonl"), &bucket.url("out.jsonl"), &[]);
    cmd.env("AWS_ENDPOINT_URL", &s3().endpoint)
        .env("HOME", &home)
        .env("AWS_PROFILE", "kyc")
        .env_remove("XDG_STATE_HOME")
        .env_remove("GLAIR_VISION_STAGING_DIR")
        .env_remove("AWS_SHARED_CREDENTIALS_FILE")
        .env_remove("AWS_CONFIG_FILE");
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(lines(&bucket.get("out.jsonl").unwrap()), 1);
    let staging = home.join(".local/state/glair-vision/staging");
    assert!(staging.is_dir() && walk(&staging).is_empty(), "the default staging dir, emptied");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&staging).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

#[test]
fn bad_urls_and_missing_objects_are_usage_errors_before_any_call() {
    let bucket = s3().bucket("errors");
    bucket.put("in/_SUCCESS", Vec::new());
    bucket.put("one.csv", format!("nik\n{SITI}\n").into_bytes());
    let ts = TestSandbox::start(SandboxConfig::default());
    let staging = scratch("s3-errors");
    let args = ["--staging-dir", staging.to_str().unwrap()];
    let cases: [(PathBuf, PathBuf, &str); 5] = [
        (bucket.url("in/"), bucket.url("out.jsonl"), "no part files"),
        (bucket.url("nothing/here.csv"), bucket.url("out.jsonl"), "no part files"),
        (PathBuf::from("ftp://user:hunter2@host/in.csv"), bucket.url("out.jsonl"), "s3://"),
        (bucket.url("one.csv"), bucket.url("out/"), "names one object"),
        (PathBuf::from("s3://no-such-bucket/in.csv"), bucket.url("out.jsonl"), "no-such-bucket"),
    ];
    for (input, output, says) in cases {
        let out = with_s3(ts.batch(&input, &output, &args)).output().unwrap();
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{}: {err}", input.display());
        assert!(err.contains(says), "{}: expected {says:?} in {err}", input.display());
        assert!(!err.contains("hunter2"), "{err}");
    }
    assert_eq!(ts.sb().received().len(), 0);
    assert_eq!(bucket.get("out.jsonl"), None);
}

/// Every file under `dir` (the staging dir holds folders of files).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else if !path.ends_with("paused") {
            found.push(path);
        }
    }
    found
}
