//! Shared helpers: a sandbox served from a background runtime, the real binary,
//! scratch directories.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

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

/// A sandbox process; terminated when dropped.
pub struct SandboxProcess {
    pub child: Child,
    pub url: String,
}

impl SandboxProcess {
    pub fn start(extra: &[&str]) -> SandboxProcess {
        let mut child = Command::new(BIN)
            .args(["sandbox", "--port", "0", "--synthetic", "50", "--seed", "3"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first.strip_prefix("listening on ").expect("first line names the URL").to_owned();
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
