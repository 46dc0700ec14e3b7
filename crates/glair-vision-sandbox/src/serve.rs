//! Serving connections with the timeouts a long-running server needs and
//! `axum::serve` does not offer: a request head must arrive within
//! `header_read_timeout` (from the connection's opening, or from the first byte of
//! a later request), and a keep-alive connection waiting for its next request is
//! closed after `idle_timeout`. hyper's own `header_read_timeout` is not used: it
//! also starts as soon as a connection goes idle, so it cannot tell the two apart.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long a connection may go without progress, by what it is waiting for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

/// Accepts until `stop` fires (or its sender is dropped), then asks every
/// connection to finish its answer and close, and waits for them. Aborting the
/// task that runs this ends every connection at once (they live in its `JoinSet`).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    timeouts: Timeouts,
    stop: oneshot::Receiver<()>,
) {
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Answers are small and sent whole: do not wait to coalesce them.
                    let _ = stream.set_nodelay(true);
                    let (app, closing) = (app.clone(), closing.clone());
                    match tls.clone() {
                        None => connections.spawn(connection(stream, app, timeouts, closing)),
                        Some(tls) => connections.spawn(async move {
                            // The handshake is part of the request head's time.
                            match tokio::time::timeout(timeouts.header_read, tls.accept(stream)).await {
                                Ok(Ok(stream)) => connection(stream, app, timeouts, closing).await,
                                Ok(Err(e)) => tracing::debug!(error = %e, "sandbox: TLS handshake failed"),
                                Err(_) => tracing::debug!("sandbox: TLS handshake timed out"),
                            }
                        }),
                    };
                }
                // Out of file descriptors and the like: wait for connections to end rather than spin.
                Err(e) => {
                    tracing::debug!(error = %e, "sandbox: accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = &mut stop => break,
        }
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// What a connection is waiting for.
const HEAD: u8 = 0; // the rest of a request head (or its first byte, on a new connection)
const BUSY: u8 = 1; // its answer: no timeout here (the handler bounds reading the body)
const IDLE: u8 = 2; // the first byte of its next request

/// A connection's phase and when it began, updated from inside the connection's
/// own task (by its reads and its service), read by its watchdog.
struct Activity {
    opened: Instant,
    phase: AtomicU8,
    since_ms: AtomicU64,
}

impl Activity {
    fn set(&self, phase: u8) {
        self.since_ms.store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
        self.phase.store(phase, Ordering::Relaxed);
    }

    /// When the connection is closed unless its phase changes first.
    fn deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        let limit = match self.phase.load(Ordering::Relaxed) {
            HEAD => timeouts.header_read,
            IDLE => timeouts.idle,
            _ => return None,
        };
        Some(self.opened + Duration::from_millis(self.since_ms.load(Ordering::Relaxed)) + limit)
    }
}

async fn connection<S>(stream: S, app: Router, timeouts: Timeouts, mut closing: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity {
        opened: Instant::now(),
        phase: AtomicU8::new(HEAD),
        since_ms: AtomicU64::new(0),
    });
    let on_request = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        on_request.set(BUSY);
        let answered = on_request.clone();
        let mut app = app.clone();
        async move {
            let response = tower_service::Service::call(&mut app, request).await;
            answered.set(IDLE);
            response
        }
    });
    let io = TokioIo::new(Tracked { stream, activity: activity.clone() });
    let conn =
        hyper::server::conn::http1::Builder::new().header_read_timeout(None).serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = Box::pin(async move {
        let _ = closing.wait_for(|c| *c).await;
    });
    let mut shutting_down = false;
    let watchdog = tokio::time::sleep_until(activity.opened + timeouts.header_read);
    tokio::pin!(watchdog);
    // One future, not `select!`: the phase changes while the connection is polled,
    // so the watchdog's deadline is brought up to date after every poll.
    poll_fn(|cx: &mut Context<'_>| {
        if !shutting_down && closing.as_mut().poll(cx).is_ready() {
            shutting_down = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            if let Err(e) = result {
                tracing::debug!(error = %e, "sandbox: connection ended with an error");
            }
            return Poll::Ready(());
        }
        let Some(deadline) = activity.deadline(timeouts) else { return Poll::Pending };
        if watchdog.deadline() != deadline {
            watchdog.as_mut().reset(deadline);
        }
        match watchdog.as_mut().poll(cx) {
            // Dropping the connection closes the socket.
            Poll::Ready(()) => {
                tracing::debug!("sandbox: closing a connection that timed out");
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
}

/// The TCP (or TLS) stream, noting when bytes arrive on an idle connection (a
/// new request has begun).
struct Tracked<S> {
    stream: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before && this.activity.phase.load(Ordering::Relaxed) == IDLE {
            this.activity.set(HEAD);
        }
        read
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
