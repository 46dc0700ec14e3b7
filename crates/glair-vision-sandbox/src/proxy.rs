//! A forward proxy to test proxy settings against, as a corporate network's
//! would be: it tunnels `CONNECT` (what `https://` goes through), forwards
//! absolute-form requests (what `http://` sends a proxy), speaks SOCKS5 on the
//! same port, refuses a client without the credentials it was given (HTTP 407,
//! or SOCKS5's username/password failure), and records every request it
//! received (never the credentials themselves).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest request head the proxy reads.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// One request the proxy received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `CONNECT`, `SOCKS5`, or the forwarded request's method.
    pub method: String,
    /// `host:port` for `CONNECT` and SOCKS5, else the absolute URL.
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
        let credentials = credentials.map(str::to_owned);
        let log = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(relay(stream, credentials.clone(), log.clone()));
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

async fn relay(stream: TcpStream, credentials: Option<String>, log: Arc<Mutex<Vec<ProxiedRequest>>>) {
    let mut client = BufReader::new(stream);
    if matches!(client.fill_buf().await, Ok([SOCKS5, ..])) {
        return socks5(client, credentials, log).await;
    }
    let expected =
        credentials.map(|c| format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(c)));
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

const SOCKS5: u8 = 5;

/// RFC 1928 `CONNECT`, with RFC 1929 username/password when `credentials` are set.
async fn socks5(
    mut client: BufReader<TcpStream>,
    credentials: Option<String>,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
) {
    let _ = socks5_session(&mut client, credentials.as_deref(), &log).await;
}

async fn socks5_session(
    client: &mut BufReader<TcpStream>,
    credentials: Option<&str>,
    log: &Mutex<Vec<ProxiedRequest>>,
) -> std::io::Result<()> {
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting).await?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods).await?;
    let wanted = if credentials.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        return client.write_all(&[SOCKS5, 0xff]).await;
    }
    client.write_all(&[SOCKS5, wanted]).await?;
    let mut sent = None;
    if let Some(expected) = credentials {
        let mut version_and_length = [0u8; 2];
        client.read_exact(&mut version_and_length).await?;
        let mut user = vec![0u8; usize::from(version_and_length[1])];
        client.read_exact(&mut user).await?;
        let mut length = [0u8; 1];
        client.read_exact(&mut length).await?;
        let mut password = vec![0u8; usize::from(length[0])];
        client.read_exact(&mut password).await?;
        sent = Some(format!("{}:{}", String::from_utf8_lossy(&user), String::from_utf8_lossy(&password)));
        let ok = sent.as_deref() == Some(expected);
        client.write_all(&[1, if ok { 0 } else { 1 }]).await?;
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            client.read_exact(&mut length).await?;
            let mut name = vec![0u8; usize::from(length[0])];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let target = format!("{host}:{}", u16::from_be_bytes(port));
    let authorized = credentials.is_none() || sent.as_deref() == credentials;
    log.lock().expect("proxy log").push(ProxiedRequest {
        method: "SOCKS5".to_owned(),
        target: target.clone(),
        authorized,
        sent_credentials: sent.is_some(),
    });
    if !authorized || request[1] != 1 {
        return Ok(()); // the failed authentication was answered; the connection closes
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        return client.write_all(&[SOCKS5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await; // connection refused
    };
    client.write_all(&[SOCKS5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(client, &mut upstream).await.map(drop)
}
