//! SIGINT / SIGTERM as a stream of events, so commands can stop cleanly.

use tokio::signal::unix::{signal, Signal, SignalKind};

pub struct Shutdown {
    interrupt: Option<Signal>,
    terminate: Option<Signal>,
}

impl Shutdown {
    /// Installs the handlers (from then on the signals no longer kill the process).
    pub fn install() -> Shutdown {
        Shutdown {
            interrupt: signal(SignalKind::interrupt()).ok(),
            terminate: signal(SignalKind::terminate()).ok(),
        }
    }

    /// Waits for the next SIGINT or SIGTERM and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        async fn next(s: &mut Option<Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(&mut self.interrupt) => "SIGINT",
            _ = next(&mut self.terminate) => "SIGTERM",
        }
    }
}
