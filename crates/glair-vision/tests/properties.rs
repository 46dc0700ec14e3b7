//! Property tests: no input to validation, NIK parsing or answer decoding panics
//! or fails with anything but the typed error, plus the semantic rules those
//! parts promise. Case counts are bounded so `cargo test` stays fast; the fuzz
//! targets in `fuzz/` explore the same entry points for longer.

use glair_vision::fuzzing::{decode_error, decode_success};
use glair_vision::nik::PROVINCE_CODES;
use glair_vision::normalize::max_len;
use glair_vision::{
    mask_nik, Date, Error, ErrorKind, Field, FieldResults, Gender, Nik, VerificationRequest,
    BODY_EXCERPT_LIMIT,
};
use proptest::prelude::*;
use proptest::test_runner::Config;
use serde_json::{json, Value};

const CASES: u32 = 256;

fn config(cases: u32) -> Config {
    // No persistence files in the tree: a failure prints its minimal input.
    Config { cases, failure_persistence: None, ..Config::default() }
}

// ---- generators ----------------------------------------------------------------

/// Text meant to break things: control characters, separators, other scripts,
/// combining marks, lone replacement characters, huge repetitions.
fn hostile_text() -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        any::<char>(),
        prop::char::range('\u{0}', '\u{1f}'),
        Just('\u{7f}'),
        Just('\u{85}'),
        Just('\u{a0}'),
        Just('\u{2028}'),
        Just('\u{200b}'),
        Just('\u{feff}'),
        Just('\u{fffd}'),
        Just('\u{301}'),
        prop::sample::select(vec![' ', '\t', '\n', '\r', '-', '.', '/', '0', '1', '9', 'é', 'ß', '😀', '中']),
    ];
    prop_oneof![
        2 => prop::collection::vec(chars, 0..64).prop_map(|c| c.into_iter().collect()),
        1 => any::<String>(),
    ]
}

/// Huge values: a repeated arbitrary string, or a NIK followed by a long tail of
/// the separators that lenient parsing removes.
fn huge_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<String>(), 100usize..5_000).prop_map(|(s, n)| s.repeat(n)),
        ("[0-9 .-]{0,4}", 1_000usize..50_000).prop_map(|(s, n)| format!("3171014508900001{}", s.repeat(n))),
    ]
}

/// A structurally valid NIK with what it encodes.
#[derive(Clone, Debug)]
struct GeneratedNik {
    text: String,
    province: u8,
    regency: u8,
    district: u8,
    birth: Date,
    gender: Gender,
    serial: u16,
}

fn valid_nik() -> impl Strategy<Value = GeneratedNik> {
    (
        prop::sample::select(PROVINCE_CODES.to_vec()),
        1u8..=99,
        1u8..=99,
        (1900i32..=2099, 1u8..=12, 1u8..=31).prop_filter_map("a real date", |(y, m, d)| Date::new(y, m, d)),
        prop::bool::ANY.prop_map(|f| if f { Gender::Female } else { Gender::Male }),
        1u16..=9999,
    )
        .prop_map(|(province, regency, district, birth, gender, serial)| {
            let day = birth.day() + if gender == Gender::Female { 40 } else { 0 };
            let text = format!(
                "{province:02}{regency:02}{district:02}{day:02}{:02}{:02}{serial:04}",
                birth.month(),
                birth.year() % 100
            );
            GeneratedNik { text, province, regency, district, birth, gender, serial }
        })
}

/// A NIK as a user might paste it: separators between the digit groups, spaces around.
fn pasted(nik: &str, sep: &str, pad: &str) -> String {
    format!("{pad}{}{sep}{}{sep}{}{sep}{}{pad}", &nik[..4], &nik[4..8], &nik[8..12], &nik[12..])
}

/// Values that are valid or nearly so for each field, so that generated requests
/// reach the success path as well as every rejection.
fn plausible(field: Field) -> BoxedStrategy<String> {
    match field {
        Field::Nik => (valid_nik(), prop::sample::select(vec!["", " ", "-", "."]), "[ ]{0,2}")
            .prop_map(|(n, sep, pad)| pasted(&n.text, sep, &pad))
            .boxed(),
        Field::NoKk => {
            prop_oneof![6 => "[0-9]{16}|[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{4}", 1 => "[0-9]{15,17}"].boxed()
        }
        Field::DateOfBirth => (1850i32..=2025, 1u8..=12, 1u8..=31, 0..4usize)
            .prop_map(|(y, m, d, style)| match style {
                0 => format!("{d:02}-{m:02}-{y:04}"),
                1 => format!("{y:04}-{m:02}-{d:02}"),
                2 => format!(" {d:02}/{m:02}/{y:04} "),
                _ => format!("{d:02}.{m:02}.{y:04}"),
            })
            .boxed(),
        Field::Gender => prop::sample::select(vec![
            "LAKI-LAKI",
            "perempuan",
            " l ",
            "P",
            "male",
            "Female",
            "pria",
            "wanita",
            "x",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        Field::MaritalStatus => prop::sample::select(vec![
            "BELUM KAWIN",
            "belum_kawin",
            "kawin",
            "Cerai-Hidup",
            "widowed",
            "single",
            "complicated",
        ])
        .prop_map(str::to_owned)
        .boxed(),
        Field::Rt | Field::Rw => prop_oneof![6 => "[ ]?[0-9]{1,3}[ ]?", 1 => "[0-9]{4}"].boxed(),
        Field::Address => "[A-Za-z][A-Za-z0-9 .,/'\t\n-]{0,260}".boxed(),
        _ => "[A-Za-z][A-Za-z .,'\t\n-]{0,105}".boxed(),
    }
}

/// Each field unset, plausible or hostile.
fn request() -> impl Strategy<Value = VerificationRequest> {
    request_of(|f| {
        prop_oneof![1 => Just(None), 3 => plausible(f).prop_map(Some), 1 => hostile_text().prop_map(Some)]
            .boxed()
    })
}

/// Each field unset or plausible: mostly requests that pass.
fn plausible_request() -> impl Strategy<Value = VerificationRequest> {
    request_of(|f| prop_oneof![1 => Just(None), 4 => plausible(f).prop_map(Some)].boxed())
}

fn request_of(
    value: impl Fn(Field) -> BoxedStrategy<Option<String>>,
) -> impl Strategy<Value = VerificationRequest> {
    let fields: Vec<_> = Field::ALL.into_iter().map(value).collect();
    fields.prop_map(|values| {
        let mut request = VerificationRequest::default();
        for (field, value) in Field::ALL.into_iter().zip(values) {
            if let Some(v) = value {
                request.set(field, v);
            }
        }
        request
    })
}

/// Any JSON value, biased towards the keys and shapes of the endpoint's answers.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "verification_status",
            "reason",
            "result",
            "data",
            "message",
            "error",
            "detail",
            "nik",
            "name",
            "date_of_birth",
        ])
        .prop_map(str::to_owned),
        ".{0,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_results() -> impl Strategy<Value = FieldResults> {
    prop::collection::vec(any::<Option<bool>>(), 16).prop_map(|values| {
        let mut results = FieldResults::default();
        for (field, value) in Field::ALL.into_iter().zip(values) {
            results.set(field, value);
        }
        results
    })
}

// ---- validation ------------------------------------------------------------------

fn check_validation(request: &VerificationRequest) -> Result<(), TestCaseError> {
    let _ = format!("{request:?}");
    let _ = request.nik_consistency();
    match request.normalized() {
        Ok(wire) => {
            prop_assert_eq!(wire.normalized(), Ok(wire.clone()), "normalising is idempotent");
            prop_assert_eq!(wire.fields().count(), request.fields().count());
            for (field, value) in wire.fields() {
                prop_assert!(request.get(field).is_some());
                prop_assert!(!value.chars().any(char::is_control), "{} kept a control character", field);
                prop_assert_eq!(value.trim(), value);
                prop_assert!(value.chars().count() <= max_len(field), "{} too long", field);
            }
            prop_assert!(Nik::parse(wire.nik()).is_ok());
        }
        Err(e) => {
            let field = Field::from_wire_name(e.field());
            prop_assert!(field.is_some(), "unknown field {}", e.field());
            let field = field.unwrap();
            let given = request.get(field);
            prop_assert!(given.is_some() || field == Field::Nik, "names {} which was not given", field);
            // Personal data: the message must not carry the value back.
            if let Some(value) = given.map(str::trim).filter(|v| v.chars().count() >= 8) {
                prop_assert!(!e.to_string().contains(value), "{} error repeats its value", field);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn validation_returns_a_request_or_a_validation_error(request in request()) {
        check_validation(&request)?;
    }

    #[test]
    fn every_field_takes_any_text(field in prop::sample::select(Field::ALL.to_vec()), value in hostile_text()) {
        let mut request = VerificationRequest::new("3171014508900001");
        request.set(field, value);
        check_validation(&request)?;
    }

    #[test]
    fn records_of_any_json_shape_read_or_fail_cleanly(value in json_value()) {
        if let Ok(request) = serde_json::from_value::<VerificationRequest>(value) {
            check_validation(&request)?;
        }
    }

    #[test]
    fn a_normalized_request_normalizes_to_itself(request in plausible_request()) {
        if let Ok(wire) = request.normalized() {
            prop_assert_eq!(wire.normalized(), Ok(wire.clone()));
        }
    }
}

proptest! {
    // Huge values are slow to build in a debug test binary: fewer cases.
    #![proptest_config(config(24))]

    #[test]
    fn every_field_takes_huge_text(field in prop::sample::select(Field::ALL.to_vec()), value in huge_text()) {
        let mut request = VerificationRequest::new("3171014508900001");
        request.set(field, value.clone());
        check_validation(&request)?;
        check_mask(&value)?;
        prop_assert!(Nik::parse_lenient(&value).is_err() || value.trim_end_matches([' ', '.', '-']).len() == 16);
    }
}

// ---- NIK -----------------------------------------------------------------------------

/// What `mask_nik` may show: the first 6 and last 4 characters of a 16-character
/// value, stars everywhere else.
fn check_mask(text: &str) -> Result<(), TestCaseError> {
    let masked = mask_nik(text);
    let chars: Vec<char> = text.chars().collect();
    let shown: Vec<char> = masked.chars().collect();
    if chars.len() == 16 {
        prop_assert_eq!(shown.len(), 16);
        prop_assert_eq!(&shown[..6], &chars[..6]);
        prop_assert!(shown[6..12].iter().all(|c| *c == '*'));
        prop_assert_eq!(&shown[12..], &chars[12..]);
    } else {
        prop_assert!(shown.iter().all(|c| *c == '*'));
        prop_assert_eq!(shown.len(), chars.len().min(16));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn nik_parsing_takes_any_text(text in hostile_text()) {
        check_mask(&text)?;
        match Nik::parse(&text) {
            Ok(nik) => prop_assert_eq!(nik.as_str(), text.as_str()),
            Err(e) => prop_assert_eq!(e.field(), "nik"),
        }
        match Nik::parse_lenient(&text) {
            Ok(nik) => {
                prop_assert_eq!(Nik::parse(nik.as_str()), Ok(nik.clone()));
                let shown = format!("{nik:?} {nik}");
                prop_assert!(!shown.contains(nik.as_str()));
            }
            Err(e) => prop_assert_eq!(e.field(), "nik"),
        }
    }

    #[test]
    fn nik_parsing_takes_any_sixteen_digits(text in "[0-9]{16}") {
        check_mask(&text)?;
        if let Ok(nik) = Nik::parse(&text) {
            let _ = nik.birth_date(None);
            prop_assert_eq!(nik.masked(), format!("{}******{}", &text[..6], &text[12..]));
        }
    }

    #[test]
    fn a_valid_nik_parses_and_its_fields_round_trip(n in valid_nik(), sep in "[ .-]?", pad in "[ ]{0,2}") {
        let nik = Nik::parse(&n.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(nik.as_str(), n.text.as_str());
        prop_assert_eq!(nik.province_code(), n.province);
        prop_assert_eq!(nik.regency_code(), n.regency);
        prop_assert_eq!(nik.district_code(), n.district);
        prop_assert_eq!(nik.region_code(), &n.text[..6]);
        prop_assert_eq!(nik.serial(), n.serial);
        prop_assert_eq!(nik.gender(), n.gender);
        let year2 = (n.birth.year() % 100) as u8;
        prop_assert_eq!(nik.birth_day_month_year2(), (n.birth.day(), n.birth.month(), year2));
        prop_assert_eq!(nik.birth_date(Some(n.birth)), Some(n.birth), "the date of birth settles the century");
        prop_assert!(nik.consistency(Some(n.birth), Some(n.gender)).is_consistent());
        prop_assert_eq!(Nik::parse_lenient(&pasted(&n.text, &sep, &pad)), Ok(nik.clone()));
        check_mask(&n.text)?;
    }

    #[test]
    fn mask_never_shows_the_birth_date(text in hostile_text()) {
        check_mask(&text)?;
    }
}

// ---- answer decoding -------------------------------------------------------------------

fn check_success(status: u16, body: &[u8]) -> Result<Option<glair_vision::Verification>, TestCaseError> {
    match decode_success(status, body, Some("req-1".to_owned())) {
        Ok(v) => {
            prop_assert_eq!(v.request_id.as_deref(), Some("req-1"));
            Ok(Some(v))
        }
        Err(Error::Decode(api)) => {
            prop_assert_eq!(api.status, status);
            prop_assert_eq!(api.request_id.as_deref(), Some("req-1"));
            prop_assert!(api.body.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
            let _ = Error::Decode(api).to_string();
            Ok(None)
        }
        Err(other) => Err(TestCaseError::fail(format!("a 2xx gave a {} error", other.kind()))),
    }
}

fn expected_kind(status: u16) -> ErrorKind {
    match status {
        401 => ErrorKind::Authentication,
        403 => ErrorKind::PermissionDenied,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited,
        503 => ErrorKind::ServiceUnavailable,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::BadRequest,
    }
}

fn check_error(status: u16, body: &[u8]) -> Result<Error, TestCaseError> {
    let err = decode_error(status, body, Some("req-1".to_owned()));
    prop_assert_eq!(err.kind(), expected_kind(status));
    let api = err.api();
    prop_assert!(api.is_some());
    let api = api.unwrap();
    prop_assert_eq!(api.status, status);
    prop_assert_eq!(api.request_id.as_deref(), Some("req-1"));
    prop_assert!(api.body.len() <= BODY_EXCERPT_LIMIT + '…'.len_utf8());
    let _ = err.to_string();
    Ok(err)
}

fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        // Cut JSON, as a dropped connection leaves it.
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, i)| {
            let text = v.to_string().into_bytes();
            let end = i.index(text.len() + 1);
            text[..end].to_vec()
        }),
        (any::<String>(), 1usize..2_000).prop_map(|(s, n)| s.repeat(n).into_bytes()),
    ]
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn a_2xx_body_decodes_or_is_a_decode_error(status in 200u16..300, body in body_bytes()) {
        check_success(status, &body)?;
    }

    #[test]
    fn an_error_body_gives_the_typed_error_for_its_status(status in 400u16..600, body in body_bytes()) {
        check_error(status, &body)?;
    }

    #[test]
    fn any_json_value_as_2xx_or_error_body(status in 400u16..600, value in json_value()) {
        let body = value.to_string().into_bytes();
        check_success(200, &body)?;
        check_error(status, &body)?;
    }

    #[test]
    fn a_documented_answer_round_trips(
        verified in any::<bool>(),
        reason in ".{0,40}",
        mut results in field_results(),
        key in prop::sample::select(vec!["result", "data"]),
    ) {
        if verified {
            // A verified answer checked the NIK, and nothing it checked failed.
            results.nik = Some(true);
            for field in Field::ALL {
                if results.get(field) == Some(false) {
                    results.set(field, Some(true));
                }
            }
        }
        let body = json!({ "verification_status": verified, "reason": reason, key: results }).to_string();
        let v = check_success(200, body.as_bytes())?;
        prop_assert!(v.is_some(), "a documented answer was rejected: {}", body);
        let v = v.unwrap();
        prop_assert_eq!(v.verification_status, verified);
        prop_assert_eq!(v.reason, reason);
        prop_assert_eq!(v.result, results);
    }

    #[test]
    fn the_docs_malformed_400_still_yields_its_reason(reason in ".{1,60}") {
        // The documentation's own 400 sample has a trailing comma.
        let body = format!("{{ \"verification_status\": false, \"reason\": {}, }}", Value::String(reason.clone()));
        let err = check_error(400, body.as_bytes())?;
        prop_assert_eq!(err.reason(), Some(reason.as_str()));
    }
}

/// The semantic properties above only bite when generated requests pass
/// validation: make sure a fair share of them do.
#[test]
fn plausible_requests_mostly_reach_the_success_path() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = plausible_request();
    let passed = (0..256)
        .filter(|_| strategy.new_tree(&mut runner).expect("a request").current().normalized().is_ok())
        .count();
    assert!(passed >= 64, "only {passed} of 256 plausible requests passed validation");
}
