//! The sandbox's request-body reader over any content type and body: never a
//! panic, and what it reads back it reads the same once re-encoded.
//!
//! Input: the Content-Type header, a newline, then the body.
#![no_main]

use glair_vision_sandbox::fuzzing::body_fields;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let content_type = String::from_utf8_lossy(header);
    let Ok(fields) = body_fields(&content_type, body) else { return };

    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/x-www-form-urlencoded" => {
            let again = serde_urlencoded::to_string(&fields).expect("text pairs encode");
            assert_eq!(body_fields(&content_type, again.as_bytes()).as_ref(), Ok(&fields));
        }
        "multipart/form-data" => {
            let boundary = "fuzz-boundary-7f3a";
            if fields.iter().any(|(n, v)| n.contains(['"', '\r', '\n']) || v.contains(boundary)) {
                return;
            }
            let mut again = Vec::new();
            for (name, value) in &fields {
                again.extend_from_slice(
                    format!(
                        "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                    )
                    .as_bytes(),
                );
            }
            again.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            let header = format!("multipart/form-data; boundary={boundary}");
            assert_eq!(body_fields(&header, &again).as_ref(), Ok(&fields));
        }
        _ => {}
    }
});
