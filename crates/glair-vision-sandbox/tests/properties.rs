//! Property tests of the sandbox's request-body reader: no content type or body
//! makes it panic, and each encoding reads back what a client wrote, including
//! the exact multipart body the glair-vision client sends.

use glair_vision::fuzzing::{multipart_body, new_boundary};
use glair_vision::{Field, VerificationRequest};
use glair_vision_sandbox::fuzzing::{body_fields, BodyError};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    Config { cases: 256, failure_persistence: None, ..Config::default() }
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("multipart/form-data; boundary=XyZ".to_owned()),
        "multipart/form-data(; ?boundary=\"?[A-Za-z0-9'()+_,./:=?-]{0,12}\"?)?(; charset=utf-8)?",
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        "(?i:application/json|multipart/form-data|application/x-www-form-urlencoded)[; =a-z\"]{0,20}",
        ".{0,40}",
    ]
}

/// Bodies near each encoding's grammar, and bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"--XyZ".to_vec()),
        Just(b"--XyZ--".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r\n\r\n".to_vec()),
        Just(b"Content-Disposition: form-data; name=\"nik\"".to_vec()),
        Just(b"content-disposition:form-data;name=".to_vec()),
        Just(b"nik=3171014508900001&name=SITI+RAHAYU%".to_vec()),
        Just(br#"{"nik":"3171014508900001","rt":7,"x":null,"#.to_vec()),
        prop::collection::vec(any::<u8>(), 0..16),
        ".{0,16}".prop_map(String::into_bytes),
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
        prop::collection::vec(any::<u8>(), 0..512),
    ]
}

/// Field names a form can carry in a quoted Content-Disposition parameter.
fn name() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_ .:-]{0,20}"
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_body_reads_or_is_refused(content_type in content_type(), body in body()) {
        match body_fields(&content_type, &body) {
            Ok(_) | Err(BodyError::Malformed(_)) | Err(BodyError::UnsupportedType) | Err(BodyError::NotText(_)) => {}
        }
    }

    #[test]
    fn the_clients_multipart_body_reads_back(request in any::<[Option<String>; 16]>()) {
        let mut given = VerificationRequest::default();
        for (field, value) in Field::ALL.into_iter().zip(request) {
            if let Some(v) = value {
                given.set(field, v);
            }
        }
        // The client sends only normalised requests; most arbitrary ones fail, so
        // also send one with every field set from a fixed valid request.
        for request in [given.normalized().ok(), Some(valid_request())].into_iter().flatten() {
            let boundary = new_boundary();
            let body = multipart_body(&request, &boundary);
            let read = body_fields(&format!("multipart/form-data; boundary={boundary}"), &body);
            let sent: Vec<(String, String)> =
                request.fields().map(|(f, v)| (f.wire_name().to_owned(), v.to_owned())).collect();
            prop_assert_eq!(read, Ok(sent));
        }
    }

    #[test]
    fn any_multipart_fields_read_back(
        fields in prop::collection::vec((name(), any::<String>()), 0..6),
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,70}",
        quoted in any::<bool>(),
        preamble in "([ -~]{0,20}\r\n)?",
        padding in "[ \t]{0,3}",
    ) {
        let delimiter = format!("\r\n--{boundary}");
        prop_assume!(fields.iter().all(|(_, v)| !v.contains(&delimiter)));
        // A preamble that itself opens with the delimiter would be a part.
        prop_assume!(!preamble.starts_with(&delimiter[2..]));
        let mut body = preamble.clone().into_bytes();
        for (name, value) in &fields {
            body.extend_from_slice(
                format!("--{boundary}{padding}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        let header = if quoted {
            format!("multipart/form-data; boundary=\"{boundary}\"")
        } else {
            format!("multipart/form-data; boundary={boundary}")
        };
        prop_assert_eq!(body_fields(&header, &body), Ok(fields));
    }

    #[test]
    fn any_urlencoded_fields_read_back(fields in prop::collection::vec((any::<String>(), any::<String>()), 0..6)) {
        let body = serde_urlencoded::to_string(&fields).expect("text pairs encode");
        prop_assert_eq!(body_fields("application/x-www-form-urlencoded", body.as_bytes()), Ok(fields));
    }

    #[test]
    fn any_json_text_fields_read_back(fields in prop::collection::btree_map(any::<String>(), any::<String>(), 0..6)) {
        let body = serde_json::to_vec(&fields).expect("a map encodes");
        let read = body_fields("application/json", &body);
        prop_assert_eq!(read, Ok(fields.into_iter().collect::<Vec<_>>()));
    }
}

fn valid_request() -> VerificationRequest {
    VerificationRequest::new("3171014508900001")
        .name("Siti Rahayu")
        .date_of_birth("05-08-1990")
        .no_kk("3171012345678901")
        .mother_maiden_name("Aminah")
        .place_of_birth("Jakarta")
        .address("Jl. Merdeka No. 1\nRT 1")
        .gender("P")
        .marital_status("kawin")
        .job_type("Karyawan Swasta")
        .province("DKI Jakarta")
        .city("Jakarta Pusat")
        .district("Gambir")
        .subdistrict("Gambir")
        .rt("1")
        .rw("2")
        .normalized()
        .expect("a valid request")
}
