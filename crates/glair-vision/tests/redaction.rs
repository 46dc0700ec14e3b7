//! No NIK, name, date of birth or secret reaches Debug output or the client's
//! logs. A binary of its own because it reads the client's `tracing` events:
//! `tracing` caches per call site, across threads, whether anyone listens, so a
//! scoped subscriber beside tests running in parallel can miss events. Here the
//! subscriber is the global one and no other test runs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use glair_vision::{Credentials, RequestOptions, VerificationRequest};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

const SITI: &str = "3171014508900001";

fn fault(serial: &str) -> VerificationRequest {
    VerificationRequest::new(format!("317101100190{serial}"))
}

/// A `tracing` writer that keeps everything written, to search it afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn no_nik_name_or_secret_in_debug_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber of this binary");
    let debug_output = runtime.block_on(async {
        let credentials = Credentials {
            api_key: "key-SECRET-1".into(),
            username: "user-SECRET-3".into(),
            password: "pw-SECRET-4".into(),
        };
        let sb = Sandbox::start(SandboxConfig { credentials, ..Default::default() }).await.unwrap();
        let vision = sb.vision_builder().max_retries(1).build().unwrap();
        let identity = vision.identity();
        let req = VerificationRequest::new(SITI).name("SITI RAHAYU").date_of_birth("05-08-1990");
        let ok = identity.verification(&req).await;
        let wrong = RequestOptions { password: Some("pw-SECRET-2".into()), ..Default::default() };
        let err = identity.verification_with(&req, &wrong).await;
        let invalid =
            identity.verification(&VerificationRequest::new(SITI).name("SITI RAHAYU").rt("x")).await;
        let retried = identity.verification(&fault("9503").name("SITI RAHAYU")).await;
        format!("{vision:?} {req:?} {ok:?} {err:?} {invalid:?} {retried:?} {wrong:?}")
    });
    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("317101******0001"), "logs name the call by its masked NIK:\n{logs}");
    assert!(logs.contains("retrying"), "{logs}");
    for (what, text) in [("Debug", &debug_output), ("logs", &logs)] {
        for secret in [SITI, "SITI RAHAYU", "05-08-1990", "SECRET"] {
            assert!(!text.contains(secret), "{what} shows {secret:?}:\n{text}");
        }
    }
}
