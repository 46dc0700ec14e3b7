//! Configuration from the environment (its own test binary: it sets variables).

use glair_vision::{ErrorKind, VerificationRequest, Vision};
use glair_vision_sandbox::{Sandbox, SandboxConfig};

#[tokio::test]
async fn from_env_reads_credentials_and_base_url_and_never_falls_back_to_the_sandbox() {
    for var in ["GLAIR_API_KEY", "GLAIR_USERNAME", "GLAIR_PASSWORD", "GLAIR_BASE_URL"] {
        std::env::remove_var(var);
    }
    let err = Vision::from_env().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("GLAIR_API_KEY"), "{err}");

    let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let c = sb.credentials().clone();
    std::env::set_var("GLAIR_API_KEY", &c.api_key);
    std::env::set_var("GLAIR_USERNAME", &c.username);
    std::env::set_var("GLAIR_PASSWORD", &c.password);
    let production = Vision::from_env().unwrap();
    assert_eq!(production.base_url(), glair_vision::DEFAULT_BASE_URL, "sandbox only when asked");

    std::env::set_var("GLAIR_BASE_URL", sb.url());
    let vision = Vision::from_env().unwrap();
    let v = vision.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap();
    assert!(v.verification_status);
    // Explicit arguments win over the environment.
    let explicit = Vision::builder().api_key("other").build().unwrap();
    let err =
        explicit.identity().verification(&VerificationRequest::new("3171014508900001")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}
