//! Shared helpers: a sandbox served from a background runtime, the real binary,
//! scratch directories.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use glair_vision_sandbox::{Sandbox, SandboxConfig};
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_glair-vision");

/// A sandbox kept serving by its own multi-thread runtime while the test blocks on
/// child processes.
pub struct TestSandbox {
    pub sandbox: Option<Sandbox>,
    pub runtime: tokio::runtime::Runtime,
}

impl TestSandbox {
    pub fn start(config: SandboxConfig) -> TestSandbox {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sandbox = runtime.block_on(Sandbox::start(config)).expect("sandbox starts");
        TestSandbox { sandbox: Some(sandbox), runtime }
    }

    pub fn sb(&self) -> &Sandbox {
        self.sandbox.as_ref().unwrap()
    }

    pub fn url(&self) -> String {
        self.sb().url().to_owned()
    }

    /// `--base-url URL --api-key K --username U --password P`.
    pub fn flags(&self) -> Vec<String> {
        let c = self.sb().credentials();
        vec![
            "--base-url".into(),
            self.url(),
            "--api-key".into(),
            c.api_key.clone(),
            "--username".into(),
            c.username.clone(),
            "--password".into(),
            c.password.clone(),
        ]
    }

    /// `batch --quiet --input IN --output OUT` against this sandbox, then `extra`.
    pub fn batch(&self, input: &Path, output: &Path, extra: &[&str]) -> Command {
        let mut cmd = batch_command(input, output);
        cmd.arg("--quiet").args(self.flags()).args(extra);
        cmd
    }
}

impl Drop for TestSandbox {
    fn drop(&mut self) {
        if let Some(sb) = self.sandbox.take() {
            self.runtime.block_on(sb.stop());
        }
    }
}

/// The binary with no GLAIR_* settings inherited from the environment.
pub fn cli() -> Command {
    let mut cmd = Command::new(BIN);
    for var in
        ["GLAIR_API_KEY", "GLAIR_USERNAME", "GLAIR_PASSWORD", "GLAIR_BASE_URL", "GLAIR_LOG", "RUST_LOG"]
    {
        cmd.env_remove(var);
    }
    cmd
}

/// `batch --input IN --output OUT`; the caller adds the connection flags and its own.
pub fn batch_command(input: &Path, output: &Path) -> Command {
    let mut cmd = cli();
    cmd.arg("batch").arg("--input").arg(input).arg("--output").arg(output);
    cmd
}

pub fn run(args: &[&str]) -> Output {
    cli().args(args).output().expect("the binary runs")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A fresh scratch directory under cargo's per-target temp dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `glair-vision sandbox --port 0 ARGS` started: the process, the URL its first
/// line names, and the rest of its stdout (the caller must keep reading it).
pub fn spawn_sandbox(args: &[&str]) -> (Child, String, Lines<BufReader<ChildStdout>>) {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--port", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("listening on ").expect("first line names the URL").to_owned();
    (child, url, lines)
}

/// A sandbox process; terminated when dropped.
pub struct SandboxProcess {
    pub child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub fn start(extra: &[&str]) -> SandboxProcess {
        let args: Vec<&str> =
            ["--synthetic", "50", "--seed", "3"].into_iter().chain(extra.iter().copied()).collect();
        let (child, url, lines) = spawn_sandbox(&args);
        // Keep reading stdout so the sandbox never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        SandboxProcess { child, url }
    }

    pub fn flags(&self) -> Vec<String> {
        let c = glair_vision_sandbox::DEFAULT_API_KEY;
        ["--base-url", &self.url, "--api-key", c, "--username", glair_vision_sandbox::DEFAULT_USERNAME]
            .into_iter()
            .chain(["--password", glair_vision_sandbox::DEFAULT_PASSWORD])
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

/// How long a test waits for a condition before it fails: a bound on a hang,
/// never the mechanism (nothing waits for it to pass).
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `done` until it holds; panics (naming `what`) after [`PATIENCE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "{what}: not within {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `cmd` (a `batch`) until it reaches the test pause point `point`
/// (`GLAIR_VISION_TEST_PAUSE_AT`, see the CLI's `batch/testpause.rs`), where it
/// blocks, and SIGKILLs it there: the kill lands at that moment, not at a
/// guessed delay. Panics if it ends before reaching the point.
pub fn kill_at(mut cmd: Command, point: &str, marker: &Path) {
    let _ = std::fs::remove_file(marker);
    let mut child = cmd
        .env("GLAIR_VISION_TEST_PAUSE_AT", point)
        .env("GLAIR_VISION_TEST_PAUSE_MARKER", marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_until(&format!("batch reaching {point}"), || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("batch ended ({status}) before reaching {point}");
        }
        marker.exists()
    });
    assert_eq!(std::fs::read_to_string(marker).unwrap(), format!("{point}\n"));
    assert!(child.try_wait().unwrap().is_none(), "paused at {point}, still running");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9), "killed at {point}, not ended otherwise: {status}");
    }
    let _ = std::fs::remove_file(marker);
}

/// A child's stderr, read line by line on a thread, so a test can wait for a
/// line the process writes when it reached a moment.
pub struct StderrLines {
    rx: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl StderrLines {
    pub fn take(child: &mut Child) -> StderrLines {
        let stderr: ChildStderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        StderrLines { rx, seen: Vec::new() }
    }

    /// Waits for a line containing `text` (panics after [`PATIENCE`] or at EOF).
    pub fn wait_for(&mut self, text: &str) {
        let start = Instant::now();
        while !self.seen.iter().any(|l| l.contains(text)) {
            let left = PATIENCE.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(e) => panic!("no stderr line with {text:?} ({e:?}); got:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything written, once the process has ended.
    pub fn rest(mut self) -> String {
        while let Ok(line) = self.rx.recv_timeout(PATIENCE) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }
}
