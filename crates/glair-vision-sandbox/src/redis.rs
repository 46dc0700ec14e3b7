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
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server asking for `password`; panics with what to install when
    /// `redis-server` is missing.
    pub fn start(password: &str) -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("glair-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = RedisServer { port, password: password.to_owned(), dir, child: None };
        server.restart();
        server
    }

    /// Starts it again on the same port (after [`RedisServer::kill`]), empty.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--requirepass", &self.password])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
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

    /// `redis://:<password>@127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://:{}@127.0.0.1:{}/{db}", self.password, self.port)
    }

    /// `redis-cli` on database `db` with `args`; its standard output.
    pub fn cli(&self, db: u32, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
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
