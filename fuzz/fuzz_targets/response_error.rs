//! Any body of an error answer (broken JSON like the docs' 400, HTML from a
//! gateway, binary) gives the typed error for its status, with a bounded excerpt:
//! never a panic.
#![no_main]

use glair_vision::fuzzing::decode_error;
use glair_vision::{ErrorKind, BODY_EXCERPT_LIMIT};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for (status, kind) in
        [(400, ErrorKind::BadRequest), (429, ErrorKind::RateLimited), (503, ErrorKind::ServiceUnavailable)]
    {
        let err = decode_error(status, body, Some("rid".to_owned()));
        assert_eq!(err.kind(), kind);
        let api = err.api().expect("an HTTP error carries its answer");
        assert_eq!(api.status, status);
        assert_eq!(api.request_id.as_deref(), Some("rid"));
        assert!(api.body.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
        let _ = err.to_string();
    }
});
