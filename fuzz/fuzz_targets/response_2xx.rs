//! Any body of a 2xx answer decodes to a verification or to a Decode error that
//! keeps the status, the Request-Id and a bounded excerpt: never a panic.
#![no_main]

use glair_vision::fuzzing::decode_success;
use glair_vision::{Error, BODY_EXCERPT_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    match decode_success(200, body, Some("rid".to_owned())) {
        Ok(v) => {
            assert_eq!(v.request_id.as_deref(), Some("rid"));
            let _ = serde_json::to_string(&v).expect("a verification serialises");
        }
        Err(Error::Decode(api)) => {
            assert_eq!(api.status, 200);
            assert_eq!(api.request_id.as_deref(), Some("rid"));
            assert!(api.body.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
            let _ = Error::Decode(api).to_string();
        }
        Err(other) => panic!("a 2xx body gave {:?}, not a Decode error", other.kind()),
    }
});
