//! The settings that size a sandbox's memory or its waits have bounds, checked
//! before the registry is built or a port is bound.

use std::time::Duration;

use glair_vision_sandbox::{
    Sandbox, SandboxConfig, SandboxError, MAX_BURST, MAX_DELAY, MAX_REQUEST_LOG_BYTES, MAX_SYNTHETIC,
};

async fn refused(config: SandboxConfig, setting: &str) {
    match Sandbox::start(config).await {
        Err(SandboxError::Config(why)) => assert!(why.starts_with(setting), "{setting}: {why}"),
        Err(e) => panic!("{setting}: {e}"),
        Ok(_) => panic!("{setting}: accepted"),
    }
}

#[tokio::test]
async fn settings_past_their_bounds_are_refused_before_anything_is_built() {
    let d = SandboxConfig::default;
    let too_long = MAX_DELAY + Duration::from_millis(1);
    // Once generated before any check: 2^40 people would not fit in memory.
    refused(SandboxConfig { synthetic: 1 << 40, ..d() }, "synthetic").await;
    refused(SandboxConfig { synthetic: MAX_SYNTHETIC + 1, ..d() }, "synthetic").await;
    refused(SandboxConfig { synthetic: usize::MAX, ..d() }, "synthetic").await;
    refused(SandboxConfig { burst: 0, ..d() }, "burst").await;
    refused(SandboxConfig { burst: MAX_BURST + 1, ..d() }, "burst").await;
    refused(SandboxConfig { request_log_bytes: MAX_REQUEST_LOG_BYTES + 1, ..d() }, "request_log_bytes").await;
    refused(SandboxConfig { request_log_bytes: usize::MAX, ..d() }, "request_log_bytes").await;
    refused(SandboxConfig { rate_limit: 1e7, ..d() }, "rate_limit").await;
    refused(SandboxConfig { rate_limit: f64::NAN, ..d() }, "rate_limit").await;
    refused(SandboxConfig { latency: too_long, ..d() }, "latency").await;
    refused(SandboxConfig { latency_spread: Duration::MAX, ..d() }, "latency_spread").await;
    refused(SandboxConfig { slow_delay: too_long, ..d() }, "slow_delay").await;
    refused(SandboxConfig { idle_timeout: Duration::MAX, ..d() }, "idle_timeout").await;
    refused(SandboxConfig { header_read_timeout: Duration::ZERO, ..d() }, "header_read_timeout").await;
}

#[tokio::test]
async fn the_bounds_themselves_are_accepted() {
    let sb = Sandbox::start(SandboxConfig {
        synthetic: 0,
        burst: MAX_BURST,
        slow_delay: MAX_DELAY,
        idle_timeout: MAX_DELAY,
        ..Default::default()
    })
    .await
    .unwrap();
    sb.stop().await;
}
