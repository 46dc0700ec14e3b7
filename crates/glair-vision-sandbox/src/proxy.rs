//! A forward proxy to test proxy settings against, as a corporate network's
//! would be: it tunnels `CONNECT` (what `https://` goes through), forwards
//! absolute-form requests (what `http://` sends a proxy), answers 407 to a
//! client without the Basic credentials it was given, and records every request
//! it received (never the credentials themselves).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest request head the proxy reads.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `CONNECT`, or the forwarded request's method.
    pub method: String,
    /// `host:port` for `CONNECT`, else the absolute URL.
    pub target: String,
    /// Whether it sent `Proxy-Authorization`, and whether that was the one expected.
    pub authorized: bool,
    pub sent_credentials: bool,
}

/// A running proxy on 127.0.0.1; stops when dropped.
pub struct ForwardProxy {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: JoinHandle<()>,
}

impl ForwardProxy {
    /// Starts on an ephemeral port of 127.0.0.1. With `credentials`
    /// (`user:password`), requests without them are answered 407.
    pub async fn start(credentials: Option<&str>) -> std::io::Result<ForwardProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let expected =
            credentials.map(|c| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c)));
        let log = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(relay(stream, expected.clone(), log.clone()));
            }
        });
        Ok(ForwardProxy { addr, received, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy's URL, with `userinfo` (e.g. `user:password@`) in it.
    pub fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}{}", self.addr)
    }

    /// The requests received so far, oldest first.
    pub fn received(&self) -> Vec<ProxiedRequest> {
        self.received.lock().expect("proxy log").clone()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(stream: TcpStream, expected: Option<String>, log: Arc<Mutex<Vec<ProxiedRequest>>>) {
    let mut client = BufReader::new(stream);
    let mut head = String::new();
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await.unwrap_or(0) == 0 || head.len() > MAX_HEAD_BYTES {
            return;
        }
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("proxy-authorization") => {
                authorization = Some(value.trim().to_owned());
                continue; // not forwarded
            }
            _ => {}
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or("").to_owned(), words.next().unwrap_or("").to_owned());
    let authorized = expected.is_none() || authorization == expected;
    log.lock().expect("proxy log").push(ProxiedRequest {
        method: method.clone(),
        target: target.clone(),
        authorized,
        sent_credentials: authorization.is_some(),
    });
    if !authorized {
        let refusal =
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"proxy\"\r\n\
                       Content-Length: 0\r\nConnection: close\r\n\r\n";
        let _ = client.get_mut().write_all(refusal.as_bytes()).await;
        return;
    }
    let authority = if method == "CONNECT" {
        target
    } else {
        let rest = target.split_once("://").map_or(target.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or("").to_owned()
    };
    let Ok(mut upstream) = TcpStream::connect(&authority).await else {
        let _ = client.get_mut().write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n").await;
        return;
    };
    let opened = if method == "CONNECT" {
        client.get_mut().write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await
    } else {
        upstream.write_all(head.as_bytes()).await
    };
    // What the reader holds beyond the head (a body, a TLS hello) goes first.
    let buffered = client.buffer().to_vec();
    if opened.is_err() || upstream.write_all(&buffered).await.is_err() {
        return;
    }
    let mut client = client.into_inner();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}
