//! Validation of any request: never a panic; the error names a field that was
//! given and never repeats its value; what passes is in wire form and stays put
//! when normalised again.
//!
//! Input: a JSON object of wire names (as the CLI and the bindings read records),
//! or else up to 16 values separated by 0xFF bytes, in documentation order.
#![no_main]

use glair_vision::normalize::max_len;
use glair_vision::{Field, VerificationRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let request = match serde_json::from_slice::<VerificationRequest>(data) {
        Ok(request) => request,
        Err(_) => {
            let mut request = VerificationRequest::default();
            for (field, value) in Field::ALL.into_iter().zip(data.split(|b| *b == 0xFF)) {
                request.set(field, String::from_utf8_lossy(value));
            }
            request
        }
    };
    let _ = format!("{request:?}");
    let _ = request.nik_consistency();

    match request.normalized() {
        Ok(wire) => {
            assert_eq!(wire.normalized().as_ref(), Ok(&wire), "normalising is idempotent");
            for (field, value) in wire.fields() {
                assert!(request.get(field).is_some());
                assert!(!value.chars().any(char::is_control), "{field}: control character passed");
                assert_eq!(value.trim(), value, "{field}: untrimmed");
                assert!(value.chars().count() <= max_len(field), "{field}: too long");
            }
            assert_eq!(wire.fields().count(), request.fields().count());
        }
        Err(e) => {
            let field = Field::ALL.into_iter().find(|f| f.wire_name() == e.field()).expect("a known field");
            let given = request.get(field);
            assert!(given.is_some() || field == Field::Nik, "error names a field not given");
            // Messages are written from a fixed vocabulary, and the fuzzer finds
            // values that spell part of one (": must be exactly 16 digit"): look
            // for a value only when it has a character no message uses.
            let telling = |v: &&str| {
                v.len() >= 8 && v.chars().any(|c| !c.is_ascii_alphanumeric() && !" ,.()/:'-".contains(c))
            };
            if let Some(value) = given.map(str::trim).filter(telling) {
                assert!(!e.to_string().contains(value), "error repeats the value");
            }
        }
    }
});
