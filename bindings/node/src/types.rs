//! Results as JSON for the JS layer: a verification with its wire keys plus
//! `requestId`
//! and `clientRequestId`. No personal data (statuses, the reason and the request id only).

use glair_vision::Verification;
use serde_json::{json, Value};

/// `{verification_status, reason, result: {...}, requestId}`.
pub fn verification_json(v: &Verification) -> Value {
    json!({
        "verification_status": v.verification_status,
        "reason": v.reason,
        "result": v.result,
        "requestId": v.request_id,
        "clientRequestId": v.client_request_id,
    })
}
