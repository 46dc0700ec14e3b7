//! A real `redis-server` for tests of the pacing store (ours and users'): started
//! on 127.0.0.1 with an ephemeral port, a password and no persistence, killed
//! (`SIGKILL`) on drop. Needs `redis-server` (and `redis-cli` for [`RedisServer::cli`])
//! on the PATH: Debian's `redis-server` package, or Valkey's binaries under those names.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    port: u16,
    password: String,
    dir: PathBuf,
    /// Over TLS only (`rediss://`): the CA that signed its certificate.
    ca_file: Option<PathBuf>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server asking for `password`; panics with what to install when
    /// `redis-server` is missing.
    pub fn start(password: &str) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("glair-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer { port, password: password.to_owned(), dir, ca_file: None, child: None };
        server.restart();
        server
    }

    /// Starts a server that speaks TLS only, with a certificate for 127.0.0.1 and
    /// `localhost` from a CA of its own ([`RedisServer::ca_file`]).
    pub fn start_tls(password: &str) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("glair-redis-tls-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let names = vec!["127.0.0.1".to_owned(), "localhost".to_owned()];
        let (ca, certificate, key) = crate::tls::server_pems(names).expect("a test CA");
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca).unwrap();
        std::fs::write(dir.join("server.pem"), certificate).unwrap();
        std::fs::write(dir.join("server-key.pem"), key).unwrap();
        let mut server =
            RedisServer { port, password: password.to_owned(), dir, ca_file: Some(ca_file), child: None };
        server.restart();
        server
    }

    /// The CA to trust for a server started with [`RedisServer::start_tls`].
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// Starts it again on the same port (after [`RedisServer::kill`]), empty.
    pub fn restart(&mut self) {
        let mut command = Command::new("redis-server");
        command.args([
            "--bind",
            "127.0.0.1",
            "--requirepass",
            &self.password,
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if self.ca_file.is_some() {
            command.args(["--port", "0", "--tls-port", &self.port.to_string(), "--tls-auth-clients", "no"]);
            command.args(["--tls-cert-file", "server.pem", "--tls-key-file", "server-key.pem"]);
            command.args(["--tls-ca-cert-file", "ca.pem"]);
        } else {
            command.args(["--port", &self.port.to_string()]);
        }
        let child = command
            .arg("--dir")
            .arg(&self.dir)
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH (scripts/ensure-redis.sh installs Debian's redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it at once (`SIGKILL`), as a crash or a lost node would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://:<password>@127.0.0.1:<port>/<db>` (`rediss://` over TLS).
    pub fn url(&self, db: u32) -> String {
        let scheme = if self.ca_file.is_some() { "rediss" } else { "redis" };
        format!("{scheme}://:{}@127.0.0.1:{}/{db}", self.password, self.port)
    }

    /// `redis-cli` on database `db` with `args`; its standard output.
    pub fn cli(&self, db: u32, args: &[&str]) -> String {
        let mut command = Command::new("redis-cli");
        if let Some(ca) = &self.ca_file {
            command.arg("--tls").arg("--cacert").arg(ca);
        }
        let out = command
            .args(["-p", &self.port.to_string(), "-a", &self.password, "--no-auth-warning"])
            .args(["-n", &db.to_string()])
            .args(args)
            .output()
            .expect("redis-cli on the PATH");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
